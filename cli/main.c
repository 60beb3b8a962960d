/* SPDX-License-Identifier: MIT */
/*
 * partboot: the verb table and the few things every verb shares (logging,
 * usage errors). Verbs live in cmd-*.c beside the library they drive.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_verbosity = 1;

#define PB_VERSION "0.1"

const struct cli_verb cli_verbs[] = {
	{ "init", cmd_init, "create a disk image and write an empty partition table",
	  "partboot init DISK [--size SIZE] [--table gpt|dos] [--seed STR] [--force]\n"
	  "\n"
	  "  Create DISK as a sparse image file of SIZE when it does not exist, and\n"
	  "  write an empty partition table to it.\n"
	  "\n"
	  "  -s, --size SIZE     size of a new image (K, M, G, T suffixes); required\n"
	  "                      when DISK does not exist\n"
	  "  -t, --table TYPE    gpt (default) or dos\n"
	  "      --seed STR      derive the disk identifier from STR (reproducible)\n"
	  "  -f, --force         replace an existing table\n" },
	{ "add", cmd_add, "add a partition",
	  "partboot add DISK NAME --type TYPE --size SIZE|rest [--label LABEL] [--seed STR]\n"
	  "             [--start OFFSET]\n"
	  "\n"
	  "  Add partition NAME, 1 MiB aligned, in the first free space that fits.\n"
	  "  On GPT, NAME is the partition name; on dos it is kept in partboot's record\n"
	  "  (see docs/part.md). NAME cannot be a number: numbers name partitions too.\n"
	  "\n"
	  "  -t, --type TYPE     esp, bios-boot, root, swap or data (no bios-boot on dos)\n"
	  "  -s, --size SIZE     size with K, M, G, T suffix, or 'rest' for the largest\n"
	  "                      free run\n"
	  "  -L, --label LABEL   filesystem label used when a filesystem is made\n"
	  "      --seed STR      derive the partition UUID from STR and NAME\n"
	  "      --start OFFSET  place it at OFFSET (1 MiB aligned) instead\n" },
	{ "remove", cmd_remove, "remove a partition",
	  "partboot remove DISK NAME|NUMBER\n"
	  "\n"
	  "  Remove a partition from the table. Its data stays on the disk. A\n"
	  "  partition in use (mounted, behind a loop device) is refused.\n" },
	{ "rename", cmd_rename, "rename a partition",
	  "partboot rename DISK NAME|NUMBER NEWNAME\n"
	  "\n"
	  "  Give a partition a new name (the GPT partition name; on dos, partboot's\n"
	  "  record). The boot menu follows, and so do the default and next guest.\n" },
	{ "resize", cmd_resize, "grow or shrink a partition",
	  "partboot resize DISK NAME|NUMBER SIZE\n"
	  "\n"
	  "  Grow into the free space that follows, or shrink the entry (never below\n"
	  "  the filesystem inside). SIZE takes K, M, G, T suffixes, or 'rest'.\n" },
	{ "list", cmd_list, "show the partitions and guests of a disk",
	  "partboot list DISK [--json]\n"
	  "\n"
	  "  Show number, name, type, start, size, partition UUID, and (through\n"
	  "  libblkid) filesystem type, label and UUID. Before a filesystem is made,\n"
	  "  LABEL shows the label asked for with add --label.\n"
	  "\n"
	  "  -J, --json          JSON output for scripts (start and size in bytes)\n" },
	{ "apply", cmd_apply, "build a whole disk from a layout file",
	  "partboot apply DISK LAYOUT [--seed STR] [--force] [--dry-run [--json]]\n"
	  "\n"
	  "  Build DISK from a layout file (see docs/layout.md) in one go: the\n"
	  "  partition table, filesystems (fs =; the ESP is made FAT when a bootloader\n"
	  "  is asked for), guests (source =, with hostname and cmdline), GRUB for BIOS\n"
	  "  and/or UEFI (bootloader =), and the default guest. DISK is created with\n"
	  "  [disk] size when it does not exist. The whole layout is checked before the\n"
	  "  first write; errors name FILE:LINE. On an existing disk, what is missing\n"
	  "  is added, complete guests are kept, an interrupted one is installed again,\n"
	  "  and a change that would destroy a filesystem (another size or type of a\n"
	  "  partition holding one, another filesystem) is refused unless --force.\n"
	  "  With a seed (--seed or [disk] seed) the image is reproducible: the same\n"
	  "  layout, inputs and SOURCE_DATE_EPOCH (default 2000-01-01) give the same\n"
	  "  bytes. One line per step on standard error (-q: none).\n"
	  "\n"
	  "      --seed STR      derive every identifier from STR (overrides [disk] seed)\n"
	  "  -f, --force         change what differs even when it holds data; install\n"
	  "                      complete guests and GRUB again\n"
	  "  -n, --dry-run       print the plan (table, filesystems, installs,\n"
	  "                      bootloader, default) on standard output, write nothing\n"
	  "      --json          with --dry-run: the plan as JSON, one object per step\n" },
	{ "mkfs", cmd_mkfs, "make a filesystem in a partition",
	  "partboot mkfs DISK NAME [--fs ext4|vfat|swap] [--label LABEL] [--seed STR]\n"
	  "\n"
	  "  Make an empty filesystem inside partition NAME (or NUMBER), without\n"
	  "  mounting: ext4 for root and data partitions, FAT32 for the ESP, a swap\n"
	  "  signature for swap. Whatever the partition held is lost.\n"
	  "\n"
	  "  -t, --fs KIND       ext4, vfat or swap instead of the type's default\n"
	  "  -L, --label LABEL   filesystem label (default: the label given to add)\n"
	  "      --seed STR      derive the UUID (and ext4 hash seed) from STR and\n"
	  "                      the partition name, and fix every timestamp\n"
	  "                      (SOURCE_DATE_EPOCH, else 2000-01-01): same bytes\n" },
	{ "install", cmd_install, "install a guest into a partition",
	  "partboot install DISK NAME --from SOURCE [--wipe] [--label LABEL] [--seed STR]\n"
	  "                [--hostname HOST] [--cmdline ARGS]\n"
	  "                [--mirror URL] [--no-kernel] [--deb-cache DIR]\n"
	  "partboot install DISK NAME --via-vm FILE.iso|/dev/sr0|pxe:DIR|pxe:URL [--answers FILE]\n"
	  "                [--answers-url URL] [--firmware bios|uefi] [--console FILE] [--timeout S] [--accel A]\n"
	  "                [--mem SIZE] [--cpus N] [--label L] [--hostname H] [--cmdline ARGS]\n"
	  "\n"
	  "  Fill partition NAME's ext4 filesystem from SOURCE, without mounting and\n"
	  "  without root: owners, modes, times, links, devices, extended attributes\n"
	  "  and ACLs come from the archive. The filesystem is made first when the\n"
	  "  partition has none, when --wipe is given, or when an earlier install did\n"
	  "  not finish. Then, whatever the source: /etc/fstab naming the root by\n"
	  "  UUID (the guest's other mounts kept, with nofail), /etc/hostname and\n"
	  "  /etc/hosts, /etc/kernel/cmdline; the boot menu is refreshed. Until all\n"
	  "  of it is written the guest is marked incomplete and left out of the\n"
	  "  menu; an interrupted install is finished by running it again.\n"
	  "\n"
	  "  -f, --from SOURCE   a tar archive (plain, gzip, xz, zstd), '-' for a tar\n"
	  "                      stream on standard input, or a directory;\n"
	  "                      iso:FILE for a live ISO (or iso:/dev/sr0): its\n"
	  "                      live/filesystem.squashfs or casper/*.squashfs;\n"
	  "                      debootstrap:SUITE[:VARIANT] to install Debian with\n"
	  "                      mmdebstrap (streamed, nothing extracted; debootstrap\n"
	  "                      through a temporary folder when mmdebstrap is missing)\n"
	  "  -w, --wipe          make a new filesystem even when one exists\n"
	  "  -L, --label LABEL   label of a new filesystem\n"
	  "      --seed STR      reproducible identifiers and times (see mkfs)\n"
	  "      --hostname HOST the guest's hostname (default: NAME)\n"
	  "      --cmdline ARGS  kernel arguments for the menu and the VM runner,\n"
	  "                      without root= (default: the guest's own, else\n"
	  "                      'ro quiet')\n"
	  "      --mirror URL    Debian mirror (default: the host's apt sources)\n"
	  "      --no-kernel     debootstrap without linux-image-amd64, initramfs-tools,\n"
	  "                      systemd-sysv and udev (a container, not a bootable guest)\n"
	  "      --deb-cache DIR keep downloaded .debs in DIR and reuse them\n"
	  "\n"
	  "  With --via-vm, the OS installer does the install: it boots in a VM (the\n"
	  "  runner's firmware mode) from the ISO or disc as a read-only CD-ROM, or\n"
	  "  over PXE with QEMU's TFTP server serving DIR (boot.ipxe, else pxelinux.0\n"
	  "  or bootx64.efi), and sees the whole disk with only NAME writable. When\n"
	  "  it powers off, NAME must hold a Linux root with a kernel; then the steps\n"
	  "  above run. See docs/installers.md.\n"
	  "      --via-vm SRC    FILE.iso, /dev/sr0, pxe:DIR, or pxe:URL: an\n"
	  "                      http:// or tftp:// root holding the boot file (or\n"
	  "                      the boot file's URL), fetched by iPXE in the VM;\n"
	  "                      127.0.0.1 is the host's loopback\n"
	  "      --answers FILE  preseed/kickstart/... file: served over HTTP at the\n"
	  "                      URL the medium's boot menu names on 10.0.2.2\n"
	  "                      (url=, preseed/url=, ks=, inst.ks=), else a\n"
	  "                      read-only raw disk (the VM's last virtio disk);\n"
	  "                      the install is then unattended: the installer's\n"
	  "                      current line and the time on one line\n"
	  "      --answers-url URL  serve FILE at URL (http://10.0.2.2[:PORT]/PATH),\n"
	  "                      on 127.0.0.1:PORT, while the installer runs\n"
	  "      --firmware F    bios (default, SeaBIOS) or uefi (OVMF)\n"
	  "      --console FILE  the installer's serial console to FILE (default: the\n"
	  "                      terminal, interactive when it is one and no\n"
	  "                      --answers is given)\n"
	  "      --timeout S     stop the installer after S seconds (the install fails)\n"
	  "      --mem SIZE      default 2G (at most half the host's memory): enough\n"
	  "                      for real installers; QEMU allocates it lazily\n"
	  "      --accel, --cpus, --qemu  as for run\n" },
	{ "ls", cmd_ls, "list a directory of a guest",
	  "partboot ls DISK NAME [PATH] [-l]\n"
	  "\n"
	  "  List directory PATH (default /) of the guest in partition NAME.\n"
	  "  Symlinks resolve inside the guest.\n"
	  "\n"
	  "  -l, --long          mode, owner, group, size, mtime (UTC), link target\n" },
	{ "cat", cmd_cat, "print a file of a guest",
	  "partboot cat DISK NAME PATH\n"
	  "\n"
	  "  Write file PATH of the guest in partition NAME to standard output.\n"
	  "  Symlinks resolve inside the guest.\n" },
	{ "bootloader", cmd_bootloader, "install GRUB for BIOS and/or UEFI",
	  "partboot bootloader DISK [--bios] [--uefi]\n"
	  "\n"
	  "  Install GRUB on DISK without loop devices: for BIOS, core.img in the BIOS\n"
	  "  boot partition (GPT) or the gap after the MBR (dos) and boot.img in the\n"
	  "  MBR's boot code (never its partition table); for UEFI,\n"
	  "  EFI/BOOT/BOOTX64.EFI on the ESP (made FAT when empty). One grub.cfg and\n"
	  "  one grubenv on the ESP serve both; the menu has one entry per complete\n"
	  "  guest with a kernel, in partition order. Without options, installs every\n"
	  "  kind the disk has partitions for. See docs/bootloader.md.\n"
	  "\n"
	  "      --bios          BIOS GRUB only\n"
	  "      --uefi          UEFI GRUB only\n" },
	{ "default", cmd_default, "choose the guest booted by default",
	  "partboot default DISK NAME|NUMBER\n"
	  "\n"
	  "  Boot guest NAME whenever nothing else is asked (grubenv saved_entry).\n"
	  "  Writes only grubenv's 1024 bytes, in place.\n" },
	{ "next", cmd_next, "choose the guest booted next time only",
	  "partboot next DISK NAME|NUMBER\n"
	  "\n"
	  "  Boot guest NAME at the next boot only, then the default again (grubenv\n"
	  "  next_entry, cleared by GRUB when used, as grub-reboot does). Writes only\n"
	  "  grubenv's 1024 bytes, in place.\n" },
	{ "boot", cmd_boot, "boot a guest natively now",
	  "partboot boot DISK NAME --native [--reboot|--kexec]\n"
	  "\n"
	  "  On the machine that booted from DISK (a block device holding its /,\n"
	  "  /boot or ESP), as root: set NAME as the next boot and reboot (default),\n"
	  "  or load NAME's kernel, initrd and command line with kexec and jump into\n"
	  "  it now. Refuses image files (use 'partboot run' for a VM).\n"
	  "\n"
	  "      --native        boot on this machine (required)\n"
	  "      --reboot        reboot through the firmware and GRUB (default)\n"
	  "      --kexec         skip the firmware: kexec into NAME's kernel\n" },
	{ "run", cmd_run, "boot a guest in a virtual machine",
	  "partboot run DISK NAME [--firmware bios|uefi] [--accel auto|kvm|tcg] [--mem SIZE]\n"
	  "             [--cpus N] [--append ARGS] [--console FILE] [--timeout S] [--snapshot]\n"
	  "             [--net user|none] [--ssh-port N] [--print-cmdline | --libvirt-xml]\n"
	  "\n"
	  "  Boot guest NAME of DISK in a QEMU virtual machine. By default (direct mode)\n"
	  "  the kernel and initrd come out of the guest's /boot, the command line is the\n"
	  "  guest's own (/etc/kernel/cmdline) with its root and console=ttyS0, and the VM\n"
	  "  sees only NAME's partition, as its whole disk. With --firmware the VM sees the\n"
	  "  whole disk and boots it through SeaBIOS (bios) or OVMF (uefi): NAME's partition\n"
	  "  is live, the tables, ESP and BIOS boot partition are private copies and every\n"
	  "  other partition reads as zeros; nothing outside NAME's partition changes.\n"
	  "  The partition is locked while the VM runs. Ctrl-C or SIGTERM press the\n"
	  "  power button, then stop the VM after 10 s. Exit status: 0 guest powered off,\n"
	  "  1 failure, 3 guest rebooted or panicked, 4 panic reported, 124 timeout,\n"
	  "  130 interrupted and not powered off.\n"
	  "\n"
	  "      --firmware bios|uefi  boot the whole-disk view through firmware\n"
	  "      --accel auto|kvm|tcg  auto (default) takes KVM only when it can run a\n"
	  "                          stock kernel, else TCG with a warning\n"
	  "      --machine auto|microvm|q35\n"
	  "                          auto: microvm in direct mode, q35 with firmware\n"
	  "      --mem SIZE          guest memory (default 512M; a bare number is MiB)\n"
	  "      --cpus N            virtual CPUs (default 2 with KVM, 1 under TCG,\n"
	  "                          which boots faster with one)\n"
	  "      --append ARGS       more kernel arguments (direct mode)\n"
	  "      --console FILE      serial console to FILE; default: this terminal\n"
	  "                          (interactive when stdin is a terminal)\n"
	  "      --timeout S         stop the VM after S seconds (exit status 124)\n"
	  "      --snapshot          guest writes go to a throw-away overlay\n"
	  "      --net user|none     user-mode networking (default none)\n"
	  "      --ssh-port N        forward 127.0.0.1:N to the guest's port 22 (implies\n"
	  "                          --net user)\n"
	  "      --print-cmdline     print the QEMU command, start nothing\n"
	  "      --libvirt-xml       print a libvirt domain XML, start nothing\n"
	  "      --no-pvh            hand QEMU the bzImage, not the unpacked kernel\n"
	  "      --qemu BINARY       QEMU binary (default qemu-system-x86_64)\n" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_verb *find_verb(const char *name)
{
	for (const struct cli_verb *v = cli_verbs; v->name; v++)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

/* fmt is the caller's format, checked at log_*()'s own format attribute. */
static void vlog(const char *prefix, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "partboot: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (cli_verbosity < 1)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (cli_verbosity < 2)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}

int cli_fail(const struct pb_err *err)
{
	log_error("%s", pb_err_msg(err));
	return EXIT_FAIL;
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "partboot %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'partboot %s --help'.\n", verb);
	return EXIT_USAGE;
}

int cli_help(const char *verb)
{
	const struct cli_verb *v = find_verb(verb);

	if (v)
		fputs(v->usage, stdout);
	fputs("\n  -h, --help          show this help\n"
	      "  -v, --verbose       say more\n"
	      "  -q, --quiet         say only errors and warnings\n",
	      stdout);
	return EXIT_OK;
}

bool cli_show_progress(void)
{
	return cli_verbosity >= 1 && isatty(STDERR_FILENO);
}

int cli_common_option(const char *verb, int opt)
{
	switch (opt) {
	case 'h':
		return cli_help(verb);
	case 'v':
		cli_verbosity++;
		return CLI_OPT_CONTINUE;
	case 'q':
		cli_verbosity = 0;
		return CLI_OPT_CONTINUE;
	case '?':
		fprintf(stderr, "Try 'partboot %s --help'.\n", verb);
		return EXIT_USAGE;
	default:
		return -1;
	}
}

static void usage(FILE *f)
{
	fputs("Usage: partboot [-v|-q] VERB [ARGS...]\n"
	      "       partboot VERB --help\n"
	      "\n"
	      "Manage one disk (an image file or a block device) holding several Linux\n"
	      "installs side by side: partitions, filesystems, GRUB entries, VM boots.\n"
	      "\n"
	      "Verbs:\n",
	      f);
	for (const struct cli_verb *v = cli_verbs; v->name; v++)
		fprintf(f, "  %-11s %s\n", v->name, v->summary);
	fputs("\nSee partboot(1) and docs/ for more.\n", f);
}

int main(int argc, char **argv)
{
	const struct cli_verb *v;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			cli_verbosity++;
		} else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
			cli_verbosity = 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("partboot %s\n", PB_VERSION);
			return EXIT_OK;
		} else {
			fprintf(stderr, "partboot: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	v = find_verb(argv[i]);
	if (!v) {
		fprintf(stderr, "partboot: unknown verb '%s'\n", argv[i]);
		usage(stderr);
		return EXIT_USAGE;
	}
	optind = 1;
	return v->run(argc - i, argv + i);
}
