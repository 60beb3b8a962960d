/* SPDX-License-Identifier: MIT */
/*
 * Which machine and disk controller a guest can boot from, as data: the
 * facts found inside the guest (inspect.c, initramfs.c) go in, a machine, a
 * controller, a network card and the reason come out (vm_hw_choose() is
 * pure; tests/test-vm.c checks it case by case).
 *
 * Why it matters: a distribution kernel builds its disk drivers as modules
 * and the initramfs carries the ones the install needs. Debian's default
 * (MODULES=most) carries them all; a host-only initramfs (MODULES=dep,
 * dracut --hostonly) carries only the real machine's (ahci + sd_mod on a
 * PC), and such a guest never finds its root on a virtio disk. The order of
 * preference is speed under TCG (docs/vm.md): microvm's virtio-mmio, then
 * q35 with virtio-blk-pci, NVMe, AHCI, and last pc's PIIX IDE.
 */
#include <errno.h>
#include <string.h>

#include "common/macros.h"
#include "vm-private.h"

static const struct {
	const char *module; /* as modules.dep and modprobe name it, '-' as '_' */
	const char *config; /* its Kconfig symbol, without CONFIG_ */
} drivers[VM_DRIVER_COUNT] = {
	[VM_DRIVER_VIRTIO_MMIO] = { "virtio_mmio", "VIRTIO_MMIO" },
	[VM_DRIVER_VIRTIO_PCI] = { "virtio_pci", "VIRTIO_PCI" },
	[VM_DRIVER_VIRTIO_BLK] = { "virtio_blk", "VIRTIO_BLK" },
	[VM_DRIVER_NVME] = { "nvme", "BLK_DEV_NVME" },
	[VM_DRIVER_AHCI] = { "ahci", "SATA_AHCI" },
	[VM_DRIVER_ATA_PIIX] = { "ata_piix", "ATA_PIIX" },
	[VM_DRIVER_SD_MOD] = { "sd_mod", "BLK_DEV_SD" },
	[VM_DRIVER_VIRTIO_NET] = { "virtio_net", "VIRTIO_NET" },
	[VM_DRIVER_E1000] = { "e1000", "E1000" },
};

const char *vm_driver_name(enum vm_driver d)
{
	return d < VM_DRIVER_COUNT ? drivers[d].module : "?";
}

int vm_driver_from_module(const char *name, size_t len, enum vm_driver *ret)
{
	static const char *const ext[] = { ".ko.zst", ".ko.xz", ".ko.gz", ".ko" };
	char buf[32];

	for (size_t i = 0; i < ARRAY_SIZE(ext); i++) {
		size_t n = strlen(ext[i]);

		if (len > n && !memcmp(name + len - n, ext[i], n)) {
			len -= n;
			break;
		}
	}
	if (len >= sizeof(buf))
		return -ENOENT;
	for (size_t i = 0; i < len; i++)
		buf[i] = name[i] == '-' ? '_' : name[i];
	buf[len] = '\0';
	for (size_t i = 0; i < VM_DRIVER_COUNT; i++)
		if (!strcmp(buf, drivers[i].module)) {
			*ret = (enum vm_driver)i;
			return 0;
		}
	return -ENOENT;
}

void vm_hw_facts_add(struct vm_hw_facts *f, enum vm_driver d, enum vm_driver_src src)
{
	if (d < VM_DRIVER_COUNT && src > f->drivers[d])
		f->drivers[d] = src;
}

/* Call fn for each line of text (without its newline). */
static void each_line(const char *text, size_t len, void (*fn)(struct vm_hw_facts *, const char *, size_t),
		      struct vm_hw_facts *f)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		fn(f, p, n);
		p += n + 1;
	}
}

static void config_line(struct vm_hw_facts *f, const char *line, size_t n)
{
	if (n < 9 || memcmp(line, "CONFIG_", 7) || line[n - 2] != '=' || line[n - 1] != 'y')
		return;
	for (size_t i = 0; i < VM_DRIVER_COUNT; i++)
		if (strlen(drivers[i].config) == n - 9 && !memcmp(line + 7, drivers[i].config, n - 9))
			vm_hw_facts_add(f, (enum vm_driver)i, VM_DRIVER_BUILTIN);
}

void vm_hw_facts_config(struct vm_hw_facts *f, const char *text, size_t len)
{
	f->builtin_known = true;
	each_line(text, len, config_line, f);
}

static void builtin_line(struct vm_hw_facts *f, const char *line, size_t n)
{
	const char *slash = memrchr(line, '/', n);
	enum vm_driver d;

	if (slash) {
		n -= (size_t)(slash + 1 - line);
		line = slash + 1;
	}
	if (vm_driver_from_module(line, n, &d) == 0)
		vm_hw_facts_add(f, d, VM_DRIVER_BUILTIN);
}

void vm_hw_facts_builtin(struct vm_hw_facts *f, const char *text, size_t len)
{
	f->builtin_known = true;
	each_line(text, len, builtin_line, f);
}

void vm_hw_choice_release(struct vm_hw_choice *c)
{
	strbuf_release(&c->why);
	strbuf_release(&c->warning);
}

/* The machine/controller pairs, in the order of preference; a pc with virtio or NVMe only when asked for. */
static const struct candidate {
	enum vm_machine machine;
	enum vm_disk_bus bus;
	enum vm_driver need[2]; /* VM_DRIVER_COUNT = nothing */
	const char *what;       /* the choice, in the message */
	const char *short_name; /* the same, when it was passed over */
	bool asked_only;
} candidates[] = {
	{ VM_MACHINE_MICROVM, VM_DISK_BUS_VIRTIO, { VM_DRIVER_VIRTIO_MMIO, VM_DRIVER_VIRTIO_BLK },
	  "microvm, virtio-mmio disk", "microvm", false },
	{ VM_MACHINE_Q35, VM_DISK_BUS_VIRTIO, { VM_DRIVER_VIRTIO_PCI, VM_DRIVER_VIRTIO_BLK },
	  "q35, virtio-blk-pci disk", "virtio-blk-pci", false },
	{ VM_MACHINE_PC, VM_DISK_BUS_VIRTIO, { VM_DRIVER_VIRTIO_PCI, VM_DRIVER_VIRTIO_BLK },
	  "pc, virtio-blk-pci disk", "virtio-blk-pci", true },
	{ VM_MACHINE_Q35, VM_DISK_BUS_NVME, { VM_DRIVER_NVME, VM_DRIVER_COUNT }, "q35, NVMe disk", "NVMe", false },
	{ VM_MACHINE_PC, VM_DISK_BUS_NVME, { VM_DRIVER_NVME, VM_DRIVER_COUNT }, "pc, NVMe disk", "NVMe", true },
	{ VM_MACHINE_Q35, VM_DISK_BUS_AHCI, { VM_DRIVER_AHCI, VM_DRIVER_SD_MOD }, "q35, AHCI (SATA) disk", "AHCI", false },
	{ VM_MACHINE_PC, VM_DISK_BUS_IDE, { VM_DRIVER_ATA_PIIX, VM_DRIVER_SD_MOD }, "pc, PIIX IDE disk", "IDE", false },
};

/* Is driver d there before the root is mounted? */
static bool early(const struct vm_hw_facts *f, enum vm_driver d)
{
	return d == VM_DRIVER_COUNT || f->drivers[d] >= VM_DRIVER_INITRD;
}

static bool fits(const struct vm_hw_facts *f, const struct candidate *c)
{
	return early(f, c->need[0]) && early(f, c->need[1]);
}

/* "virtio_mmio" or "virtio_mmio, virtio_blk": what c needs and f lacks, appended to out. */
static void missing(const struct vm_hw_facts *f, const struct candidate *c, struct strbuf *out)
{
	bool first = true;

	for (size_t i = 0; i < 2; i++)
		if (!early(f, c->need[i])) {
			strbuf_addf(out, "%s%s", first ? "" : ", ", vm_driver_name(c->need[i]));
			first = false;
		}
}

/* "built in: a, b; initramfs (cpio + gzip cpio): c; root: d; none: e, f" */
static void describe(const struct vm_hw_facts *f, const char *kernel, struct strbuf *out)
{
	static const struct {
		enum vm_driver_src src;
		const char *what;
	} groups[] = {
		{ VM_DRIVER_BUILTIN, "built in" },
		{ VM_DRIVER_INITRD, "in the initramfs" },
		{ VM_DRIVER_ROOTFS, "in the root's /lib/modules" },
		{ VM_DRIVER_ABSENT, "found nowhere" },
	};

	strbuf_addf(out, "kernel %s", kernel && *kernel ? kernel : "?");
	if (!f->builtin_known)
		strbuf_addstr(out, " (no config or modules.builtin: built-in drivers unknown)");
	if (!f->initrd)
		strbuf_addstr(out, " (no initramfs)");
	for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
		size_t n = 0;

		for (size_t i = 0; i < VM_DRIVER_COUNT; i++) {
			if (f->drivers[i] != groups[g].src)
				continue;
			if (!n++) {
				strbuf_addf(out, "; %s", groups[g].what);
				if (groups[g].src == VM_DRIVER_INITRD && f->segments[0])
					strbuf_addf(out, " (%s)", f->segments);
				strbuf_addstr(out, ": ");
			} else {
				strbuf_addstr(out, ", ");
			}
			strbuf_addstr(out, vm_driver_name((enum vm_driver)i));
		}
	}
}

int vm_hw_choose(const struct vm_hw_facts *f, const struct vm_hw_want *w, struct vm_hw_choice *ret,
		 struct pb_err *err)
{
	const struct candidate *pick = NULL, *first = NULL;
	struct strbuf skipped = STRBUF_INIT;
	bool forced = w->machine != VM_MACHINE_AUTO || w->bus != VM_DISK_BUS_AUTO;
	int r = 0;

	if (w->machine == VM_MACHINE_MICROVM && (w->mode != VM_MODE_DIRECT || w->libvirt))
		return pb_err_set(err, -EINVAL, "the microvm machine has no firmware to boot a disk%s; use q35",
				  w->libvirt ? " and libvirt has none" : "");
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		const struct candidate *c = &candidates[i];

		if (c->machine == VM_MACHINE_MICROVM && (w->mode != VM_MODE_DIRECT || w->libvirt))
			continue;
		if (c->bus == VM_DISK_BUS_NVME && w->libvirt)
			continue; /* libvirt 9 (Debian 12) has no NVMe disk bus */
		if (w->machine != VM_MACHINE_AUTO ? c->machine != w->machine : c->asked_only)
			continue;
		if (w->bus != VM_DISK_BUS_AUTO && c->bus != w->bus)
			continue;
		/* microvm has no PCI for an e1000: a guest without virtio_net needs a PC for its network */
		if (c->machine == VM_MACHINE_MICROVM && w->net && f->inspected &&
		    f->drivers[VM_DRIVER_VIRTIO_NET] == VM_DRIVER_ABSENT && w->machine == VM_MACHINE_AUTO) {
			strbuf_addf(&skipped, "%snot microvm: no virtio_net for its network", skipped.len ? "; " : "");
			continue;
		}
		if (!first)
			first = c;
		if (f->inspected && fits(f, c)) {
			pick = c;
			break;
		}
		if (f->inspected) {
			strbuf_addf(&skipped, "%snot %s: no ", skipped.len ? "; " : "", c->short_name);
			missing(f, c, &skipped);
		}
	}
	if (!first) {
		if (w->machine == VM_MACHINE_AUTO)
			r = pb_err_set(err, -EINVAL, "libvirt (9, Debian 12) has no %s disks", vm_disk_bus_to_string(w->bus));
		else
			r = pb_err_set(err, -EINVAL, "the %s machine has no %s disk controller (microvm: virtio; q35: "
				       "virtio, nvme, ahci; pc: virtio, nvme, ide)", vm_machine_to_string(w->machine),
				       vm_disk_bus_to_string(w->bus));
		goto out;
	}

	if (f->inspected)
		describe(f, w->kernel, &ret->why);
	else
		strbuf_addf(&ret->why, "not inspected (%s)", w->why_not ? w->why_not : "nothing to look at");
	if (!pick) {
		if (forced) {
			pick = first;
			if (f->inspected) {
				strbuf_addf(&ret->warning, "%s as asked, but the guest's kernel shows no ", pick->what);
				missing(f, pick, &ret->warning);
				strbuf_addstr(&ret->warning, ": it may not find its root");
			}
		} else if (!f->inspected || !f->builtin_known) {
			/* no way to know what is built in: try the fastest, and say so */
			pick = first;
			strbuf_addf(&ret->warning, "cannot tell which disk drivers kernel %s has (%s): trying %s",
				    w->kernel && *w->kernel ? w->kernel : "?",
				    f->inspected ? "no config or modules.builtin, none in its initramfs"
						 : w->why_not ? w->why_not : "not inspected",
				    pick->what);
		} else {
			r = pb_err_set(err, -ENODEV, "kernel %s can reach no disk %s: it has none of virtio_mmio, virtio_pci "
				       "+ virtio_blk, nvme, ahci + sd_mod, ata_piix + sd_mod built in or in its initramfs "
				       "(%s)", w->kernel && *w->kernel ? w->kernel : "?",
				       w->libvirt ? "a libvirt domain can give (q35 or pc: virtio, SATA, IDE)"
						  : "the VM can give (virtio, NVMe, AHCI, IDE)",
				       ret->why.buf);
			goto out;
		}
	}
	ret->machine = pick->machine;
	ret->bus = pick->bus;
	strbuf_addf(&ret->why, " -> %s", pick->what);
	if (forced)
		strbuf_addstr(&ret->why, " (as asked)");
	else if (skipped.len)
		strbuf_addf(&ret->why, " (%s)", skipped.buf);

	ret->nic = VM_NIC_AUTO;
	if (w->net) {
		bool virtio_net = f->drivers[VM_DRIVER_VIRTIO_NET] != VM_DRIVER_ABSENT;

		ret->nic = pick->machine == VM_MACHINE_MICROVM || virtio_net || !f->inspected ? VM_NIC_VIRTIO : VM_NIC_E1000;
		strbuf_addf(&ret->why, "; network: %s", ret->nic == VM_NIC_VIRTIO ? "virtio-net" : "e1000");
		if (f->inspected && ret->nic == VM_NIC_E1000 && f->drivers[VM_DRIVER_E1000] == VM_DRIVER_ABSENT)
			strbuf_addstr(&ret->why, " (no virtio_net or e1000 found: the network may not come up)");
		else if (ret->nic == VM_NIC_E1000)
			strbuf_addstr(&ret->why, " (no virtio_net)");
	}
out:
	strbuf_release(&skipped);
	return r;
}
