/* SPDX-License-Identifier: MIT */
/*
 * The QEMU command line, built as data from the guest's facts and the user's
 * options (vm_argv_build() is pure, so tests check it without a VM).
 *
 * Choices for speed under TCG (measured, see docs/vm.md and bench/vm.sh):
 *  - direct mode uses the microvm machine (no PCI, no firmware to speak of:
 *    qboot), virtio-mmio devices described by ACPI (Debian's kernel lacks
 *    virtio_mmio.device= support) and tsc_early_khz= (microvm has no PIT
 *    calibration source; without it TCG hangs calibrating the TSC);
 *  - the kernel is handed over as an unpacked ELF with a PVH entry when
 *    possible (boot-files.c): the bzImage decompressor alone costs ~2.5 s
 *    under TCG;
 *  - firmware mode needs a PC: q35 with SeaBIOS or OVMF.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "vm-private.h"

void vm_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

unsigned vm_cpus_for(const struct vm_opts *o, enum vm_accel accel)
{
	if (o->cpus)
		return o->cpus;
	return accel == VM_ACCEL_KVM ? VM_DEFAULT_CPUS_KVM : VM_DEFAULT_CPUS_TCG;
}

enum vm_machine vm_machine_for(const struct vm_opts *o)
{
	if (o->machine != VM_MACHINE_AUTO)
		return o->machine;
	return o->mode == VM_MODE_DIRECT ? VM_MACHINE_MICROVM : VM_MACHINE_Q35;
}

const char *vm_machine_to_string(enum vm_machine m)
{
	switch (m) {
	case VM_MACHINE_MICROVM:
		return "microvm";
	case VM_MACHINE_Q35:
		return "q35";
	case VM_MACHINE_PC:
		return "pc";
	default:
		return "auto";
	}
}

int vm_machine_from_string(const char *s, enum vm_machine *ret)
{
	for (enum vm_machine m = VM_MACHINE_AUTO; m <= VM_MACHINE_PC; m++)
		if (!strcmp(s, vm_machine_to_string(m))) {
			*ret = m;
			return 0;
		}
	return -EINVAL;
}

const char *vm_disk_bus_to_string(enum vm_disk_bus b)
{
	switch (b) {
	case VM_DISK_BUS_VIRTIO:
		return "virtio";
	case VM_DISK_BUS_NVME:
		return "nvme";
	case VM_DISK_BUS_AHCI:
		return "ahci";
	case VM_DISK_BUS_IDE:
		return "ide";
	default:
		return "auto";
	}
}

int vm_disk_bus_from_string(const char *s, enum vm_disk_bus *ret)
{
	for (enum vm_disk_bus b = VM_DISK_BUS_AUTO; b <= VM_DISK_BUS_IDE; b++)
		if (!strcmp(s, vm_disk_bus_to_string(b))) {
			*ret = b;
			return 0;
		}
	return -EINVAL;
}

int vm_cpu_model_check(const char *s, bool libvirt, struct pb_err *err)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n = strlen(s);

	if (!n || n > 200)
		return pb_err_set(err, -EINVAL, "a CPU model has 1 to 200 characters, not %zu", n);
	if (!strchr(alnum, s[0]))
		return pb_err_set(err, -EINVAL, "a CPU model starts with a letter or digit");
	for (const char *p = s; *p; p++)
		if (!strchr(alnum, *p) && !strchr(libvirt ? "_.-" : "_.-,=+", *p))
			return pb_err_set(err, -EINVAL,
					  libvirt ? "libvirt takes a CPU model by its name (letters, digits, '_.-'), "
						    "without properties: character 0x%02x"
						  : "a CPU model is letters, digits and '_.-,=+': character 0x%02x",
					  (unsigned char)*p);
	return 0;
}

/* A comma in a QEMU option value is written twice. */
static void add_qemu_escaped(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == ',')
			strbuf_addch(sb, ',');
		strbuf_addch(sb, *s);
	}
}

static bool is_word(const char *arg, const char *key)
{
	size_t n = strlen(key);

	return !strncmp(arg, key, n) && (arg[n] == '=' || arg[n] == '\0');
}

void vm_cmdline_build(const char *guest_cmdline, const char *root, const char *extra, const char *append,
		      struct strbuf *out)
{
	const char *p = guest_cmdline && *guest_cmdline ? guest_cmdline : "ro quiet";

	/* Words of the guest's own line, minus root= and resume= (no swap in the VM). */
	while (*p) {
		const char *start, *end;
		bool quoted = false;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n'))) {
			if (*p == '"')
				quoted = !quoted;
			p++;
		}
		end = p;
		{
			char word[16] = "";
			size_t n = (size_t)(end - start) < sizeof(word) - 1 ? (size_t)(end - start) : sizeof(word) - 1;

			memcpy(word, start, n);
			word[n] = '\0';
			if (is_word(word, "root") || is_word(word, "resume"))
				continue;
			/* console=ttyS0 comes last anyway (the last console= is /dev/console) */
			if (!strncmp(start, "console=ttyS0", 13) && (end - start == 13 || start[13] == ','))
				continue;
		}
		if (out->len)
			strbuf_addch(out, ' ');
		strbuf_add(out, start, (size_t)(end - start));
	}
	if (root)
		strbuf_addf(out, "%sroot=%s", out->len ? " " : "", root);
	strbuf_addf(out, "%sconsole=ttyS0", out->len ? " " : "");
	if (extra && *extra)
		strbuf_addf(out, " %s", extra);
	if (append && *append)
		strbuf_addf(out, " %s", append);
}

static void add_drive_file_opts(struct strbuf *sb, const char *path, bool blockdev)
{
	strbuf_addf(sb, ",file.driver=%s,file.filename=", blockdev ? "host_device" : "file");
	add_qemu_escaped(sb, path);
	/*
	 * Several runners may use different partitions of one disk file, which
	 * QEMU's whole-file image locks would refuse; partboot's own partition
	 * lock (part_disk_lock_partition) protects the guest's range instead.
	 */
	strbuf_addstr(sb, ",file.locking=off");
}

/*
 * The device of disk N (drive diskN) on controller bus. q35's ICH9 AHCI has
 * six ports (ide.0-ide.5), pc's PIIX two IDE channels (ide.0, ide.1); NVMe
 * needs a serial. The first disk is booted first (bootindex=1; SeaBIOS and
 * OVMF both honour it).
 */
static void add_disk_device(struct strv *a, enum vm_disk_bus bus, const char *dev, unsigned n, bool bootindex)
{
	const char *boot = bootindex ? ",bootindex=1" : "";

	strv_add(a, "-device");
	switch (bus) {
	case VM_DISK_BUS_NVME:
		strv_addf(a, "nvme,drive=disk%u,serial=partboot%u%s", n, n, boot);
		break;
	case VM_DISK_BUS_AHCI:
	case VM_DISK_BUS_IDE:
		strv_addf(a, "ide-hd,drive=disk%u,bus=ide.%u%s", n, n, boot);
		break;
	default:
		strv_addf(a, "virtio-blk-%s,drive=disk%u%s", dev, n, boot);
		break;
	}
}

int vm_argv_build(const struct vm_opts *o, const struct vm_guest *g, const struct vm_run_ctx *c,
		  char ***ret_argv, struct pb_err *err)
{
	_cleanup_(strbuf_release) struct strbuf sb = STRBUF_INIT;
	/* what vm_hw_choose() picked for this guest, else what the options say */
	enum vm_machine m = g->machine != VM_MACHINE_AUTO ? g->machine : vm_machine_for(o);
	enum vm_disk_bus bus = g->bus != VM_DISK_BUS_AUTO ? g->bus : VM_DISK_BUS_VIRTIO;
	bool microvm = m == VM_MACHINE_MICROVM;
	const char *dev = microvm ? "device" : "pci"; /* virtio transport suffix */
	uint64_t mem = o->mem ? o->mem : VM_DEFAULT_MEM;
	struct strv a = { 0 };

	if (o->mode != VM_MODE_DIRECT && microvm)
		return pb_err_set(err, -EINVAL, "the microvm machine has no firmware to boot a disk; use q35");
	if ((microvm && bus != VM_DISK_BUS_VIRTIO) || (m == VM_MACHINE_Q35 && bus == VM_DISK_BUS_IDE) ||
	    (m == VM_MACHINE_PC && bus == VM_DISK_BUS_AHCI))
		return pb_err_set(err, -EINVAL, "the %s machine has no %s disk controller", vm_machine_to_string(m),
				  vm_disk_bus_to_string(bus));
	if (o->secure_boot && m != VM_MACHINE_Q35)
		return pb_err_set(err, -EINVAL, "Secure Boot needs the q35 machine (OVMF's SMM), not %s",
				  vm_machine_to_string(m));
	if (g->boot_size && o->mode != VM_MODE_DIRECT)
		return pb_err_set(err, -EINVAL, "a second disk for /boot is direct mode's (the view holds it otherwise)");
	if (o->mode == VM_MODE_DIRECT && (!g->kernel || !g->cmdline))
		return pb_err_set(err, -EINVAL, "direct mode needs a kernel and a command line");
	if (o->mode != VM_MODE_DIRECT && !g->view_path)
		return pb_err_set(err, -EINVAL, "firmware mode needs a disk view");
	if (o->mode == VM_MODE_UEFI && (!g->ovmf_code || !g->ovmf_vars))
		return pb_err_set(err, -EINVAL, "uefi mode needs OVMF code and variables");
	if (o->secure_boot && o->mode != VM_MODE_UEFI)
		return pb_err_set(err, -EINVAL, "Secure Boot needs UEFI firmware (--firmware uefi)");
	if (c->accel != VM_ACCEL_KVM && c->accel != VM_ACCEL_TCG)
		return pb_err_set(err, -EINVAL, "the accelerator must be resolved (kvm or tcg)");
	if (o->mode == VM_MODE_DIRECT && (o->cdrom || o->tftp_dir || o->tftp_bootfile))
		return pb_err_set(err, -EINVAL, "booting a CD-ROM or the network needs firmware mode (bios or uefi)");
	if (o->cdrom && (o->tftp_dir || o->tftp_bootfile))
		return pb_err_set(err, -EINVAL, "boot from a CD-ROM or from the network, not both");
	if (o->tftp_dir && !o->tftp_bootfile)
		return pb_err_set(err, -EINVAL, "network boot needs a boot file");
	if (o->cpu_model && vm_cpu_model_check(o->cpu_model, false, err) < 0)
		return -EINVAL;

	strv_add(&a, o->qemu ? o->qemu : VM_DEFAULT_QEMU);
	/*
	 * The partition's name is the disk's word: QEMU parses -name as options
	 * (guest=, process=, debug-threads=), so the key is given and its
	 * commas doubled, as in every option value below.
	 */
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "guest=partboot-");
	add_qemu_escaped(&sb, g->name ? g->name : "guest");
	strv_add(&a, "-name");
	strv_add(&a, sb.buf);
	/* Nothing QEMU would add by itself: every device below is chosen. */
	strv_add(&a, "-nodefaults");
	strv_add(&a, "-no-user-config");
	strv_add(&a, "-display");
	strv_add(&a, "none");
	/* A reboot ends the VM (its verdict says so): no loop after a panic. */
	strv_add(&a, "-no-reboot");
	strv_add(&a, "-action");
	strv_add(&a, "panic=exit-failure");

	strv_add(&a, "-machine");
	if (microvm)
		/* no option ROMs to scan; ACPI on, it describes the virtio-mmio devices */
		strv_add(&a, "microvm,x-option-roms=off,isa-serial=on,acpi=on");
	else
		strv_add(&a, m == VM_MACHINE_Q35 && o->secure_boot ? "q35,smm=on" : vm_machine_to_string(m));
	strv_add(&a, "-accel");
	strv_add(&a, c->accel == VM_ACCEL_KVM ? "kvm" : "tcg");
	strv_add(&a, "-cpu");
	if (o->cpu_model || c->accel == VM_ACCEL_KVM) {
		strv_add(&a, o->cpu_model ? o->cpu_model : "host");
	} else {
		static const char *const features[] = VM_TCG_CPU_FEATURES;

		strbuf_reset(&sb);
		strbuf_addstr(&sb, VM_TCG_CPU_MODEL);
		for (size_t i = 0; i < ARRAY_SIZE(features); i++)
			strbuf_addf(&sb, ",%s=on", features[i]);
		strv_add(&a, sb.buf);
	}
	strv_add(&a, "-m");
	strv_addf(&a, "%" PRIu64 "M", mem / (1024 * 1024));
	strv_add(&a, "-smp");
	strv_addf(&a, "%u", vm_cpus_for(o, c->accel));

	if (o->secure_boot)
		vm_secure_boot_args(&a);
	if (o->mode == VM_MODE_UEFI) {
		strbuf_reset(&sb);
		strbuf_addstr(&sb, "if=pflash,format=raw,unit=0,readonly=on,file=");
		add_qemu_escaped(&sb, g->ovmf_code);
		strv_add(&a, "-drive");
		strv_add(&a, sb.buf);
		strbuf_reset(&sb);
		strbuf_addstr(&sb, "if=pflash,format=raw,unit=1,file=");
		add_qemu_escaped(&sb, g->ovmf_vars);
		strv_add(&a, "-drive");
		strv_add(&a, sb.buf);
	}

	if (o->mode == VM_MODE_DIRECT) {
		strv_add(&a, "-kernel");
		strv_add(&a, g->kernel);
		if (g->initrd) {
			strv_add(&a, "-initrd");
			strv_add(&a, g->initrd);
		}
		strv_add(&a, "-append");
		strv_add(&a, g->cmdline);
	}

	/* The disk: the partition alone (direct), or the whole-disk view. */
	strbuf_reset(&sb);
	if (o->mode == VM_MODE_DIRECT) {
		strbuf_addf(&sb, "if=none,id=disk0,format=raw,offset=%" PRIu64 ",size=%" PRIu64, g->part_start,
			    g->part_size);
		add_drive_file_opts(&sb, g->disk_path, g->blockdev);
	} else {
		strbuf_addstr(&sb, "if=none,id=disk0,format=vmdk,file.driver=file,file.filename=");
		add_qemu_escaped(&sb, g->view_path);
		for (size_t i = 0; i < g->view_extents; i++)
			strbuf_addf(&sb, ",extents.%zu.locking=off", i);
	}
	strbuf_addstr(&sb, ",cache=writeback");
	if (o->snapshot)
		strbuf_addstr(&sb, ",snapshot=on");
	strv_add(&a, "-drive");
	strv_add(&a, sb.buf);
	add_disk_device(&a, bus, dev, 0, !microvm);
	/* A separate /boot partition: the guest's second disk, on the same controller (its fstab mounts it). */
	if (g->boot_size) {
		strbuf_reset(&sb);
		strbuf_addf(&sb, "if=none,id=disk1,format=raw,offset=%" PRIu64 ",size=%" PRIu64, g->boot_start,
			    g->boot_size);
		add_drive_file_opts(&sb, g->disk_path, g->blockdev);
		strbuf_addstr(&sb, ",cache=writeback");
		if (o->snapshot)
			strbuf_addstr(&sb, ",snapshot=on");
		strv_add(&a, "-drive");
		strv_add(&a, sb.buf);
		add_disk_device(&a, bus, dev, 1, false);
	}

	/*
	 * Installer media: the CD-ROM on q35's built-in AHCI controller, booted
	 * before the disk (bootindex 0: SeaBIOS and OVMF both honour it, like
	 * -boot d); QEMU opens it read-only, so not even the installer's
	 * "eject" reaches the image.
	 */
	if (o->cdrom) {
		strbuf_reset(&sb);
		strbuf_addf(&sb, "if=none,id=cd0,media=cdrom,readonly=on,format=raw,file.driver=%s,file.filename=",
			    g->cdrom_blockdev ? "host_cdrom" : "file");
		add_qemu_escaped(&sb, o->cdrom);
		strv_add(&a, "-drive");
		strv_add(&a, sb.buf);
		strv_add(&a, "-device");
		/* AHCI ports 0 and 1 may hold the disks */
		strv_add(&a, bus == VM_DISK_BUS_AHCI ? "ide-cd,drive=cd0,bus=ide.2,bootindex=0"
						     : "ide-cd,drive=cd0,bus=ide.0,bootindex=0");
	}
	/* The answers file: a read-only raw disk after the view (the guest's last virtio disk). */
	if (o->answers_disk) {
		strbuf_reset(&sb);
		strbuf_addstr(&sb, "if=none,id=answers,format=raw,readonly=on,file.driver=file,file.filename=");
		add_qemu_escaped(&sb, o->answers_disk);
		strv_add(&a, "-drive");
		strv_add(&a, sb.buf);
		strv_add(&a, "-device");
		strv_addf(&a, "virtio-blk-%s,drive=answers", dev);
	}

	/* A cloud-init NoCloud seed: read-only, found by its label (cidata), not by its place. */
	if (o->cidata_disk) {
		strbuf_reset(&sb);
		strbuf_addstr(&sb, "if=none,id=cidata,format=raw,readonly=on,file.driver=file,file.filename=");
		add_qemu_escaped(&sb, o->cidata_disk);
		strv_add(&a, "-drive");
		strv_add(&a, sb.buf);
		/* on the guest's own controller: it can drive that one */
		strv_add(&a, "-device");
		if (bus == VM_DISK_BUS_NVME)
			strv_add(&a, "nvme,drive=cidata,serial=cidata");
		else if (bus == VM_DISK_BUS_AHCI)
			strv_add(&a, "ide-hd,drive=cidata,bus=ide.3");
		else if (bus == VM_DISK_BUS_IDE)
			strv_add(&a, "ide-hd,drive=cidata,bus=ide.1,unit=1");
		else
			strv_addf(&a, "virtio-blk-%s,drive=cidata", dev);
	}

	/* Entropy early, so guests do not stall waiting for the crng. */
	strv_add(&a, "-object");
	strv_add(&a, "rng-random,id=rng0,filename=/dev/urandom");
	strv_add(&a, "-device");
	strv_addf(&a, "virtio-rng-%s,rng=rng0", dev);

	if (o->net == VM_NET_USER || o->tftp_dir || o->tftp_bootfile) {
		strbuf_reset(&sb);
		strbuf_addstr(&sb, "user,id=net0");
		if (o->ssh_port)
			strbuf_addf(&sb, ",hostfwd=tcp:127.0.0.1:%u-:22", o->ssh_port);
		if (o->tftp_dir) {
			/* PXE: slirp's DHCP hands out bootfile, its TFTP server serves tftp_dir */
			strbuf_addstr(&sb, ",tftp=");
			add_qemu_escaped(&sb, o->tftp_dir);
		}
		if (o->tftp_bootfile) {
			/* without tftp=, a URL: iPXE fetches http:// and tftp:// bootfiles itself */
			strbuf_addstr(&sb, ",bootfile=");
			add_qemu_escaped(&sb, o->tftp_bootfile);
		}
		strv_add(&a, "-netdev");
		strv_add(&a, sb.buf);
		strv_add(&a, "-device");
		/* the card's option ROM (iPXE, Debian's ipxe-qemu) boots first, like -boot n */
		if (g->nic == VM_NIC_E1000)
			/* a guest without virtio_net (vm_hw_choose()); never microvm, which has no PCI */
			strv_addf(&a, "e1000,netdev=net0%s", o->tftp_dir || o->tftp_bootfile ? ",bootindex=0" : "");
		else
			strv_addf(&a, "virtio-net-%s,netdev=net0%s", dev,
				  o->tftp_dir || o->tftp_bootfile ? ",bootindex=0" : "");
	}
	if (!microvm) {
		/* the guest reports a panic (with its pvpanic driver): QEMU exits failing */
		strv_add(&a, "-device");
		strv_add(&a, "pvpanic");
	}

	vm_console_args(o, &a);

	if (c->qmp_fd >= 0 && !c->for_display) {
		strv_add(&a, "-chardev");
		strv_addf(&a, "socket,id=qmp0,fd=%d", c->qmp_fd);
		strv_add(&a, "-mon");
		strv_add(&a, "chardev=qmp0,mode=control");
	}

	*ret_argv = a.v;
	return 0;
}

/* Quote one word for a POSIX shell, only when needed. */
static void quote_word(const char *w, struct strbuf *out)
{
	bool plain = *w != '\0';

	for (const char *p = w; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%", *p))
			plain = false;
	if (plain) {
		strbuf_addstr(out, w);
		return;
	}
	strbuf_addch(out, '\'');
	for (const char *p = w; *p; p++) {
		if (*p == '\'')
			strbuf_addstr(out, "'\\''");
		else
			strbuf_addch(out, *p);
	}
	strbuf_addch(out, '\'');
}

void vm_argv_quote(char *const *argv, struct strbuf *out)
{
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			strbuf_addch(out, ' ');
		quote_word(argv[i], out);
	}
}
