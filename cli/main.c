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
	  "      --seed STR      derive every identifier and timestamp from STR, now and\n"
	  "                      in every later command on this disk (the seed is kept\n"
	  "                      in partboot's record; a later --seed overrides it for\n"
	  "                      that command): the same commands give the same bytes\n"
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
	  "      --seed STR      derive the partition UUID from STR and NAME (default:\n"
	  "                      the seed kept by init --seed, if any)\n"
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
	{ "resize", cmd_resize, "grow or shrink a partition and its filesystem",
	  "partboot resize DISK NAME|NUMBER SIZE\n"
	  "\n"
	  "  Grow into the free space that follows, or shrink. An ext2/3/4 filesystem\n"
	  "  inside follows (resize2fs on the partition's bytes, e2fsck -p first when\n"
	  "  it asks for a checked filesystem); a shrink below the smallest size it can\n"
	  "  take (resize2fs -P) is refused with that size. Other contents keep the\n"
	  "  table change alone. The guest is incomplete and out of the boot menu\n"
	  "  while it changes; a guest running in a VM is refused. SIZE takes K, M,\n"
	  "  G, T suffixes, or 'rest' (up to the next partition).\n" },
	{ "move", cmd_move, "move a partition with its data",
	  "partboot move DISK NAME|NUMBER --start OFFSET|--after NAME [--json]\n"
	  "\n"
	  "  Move a partition into free space with its data: its number, UUID, name,\n"
	  "  type and size stay. The data is copied first (the blocks in use of an\n"
	  "  ext2/3/4 filesystem, every byte otherwise), then the table entry moves;\n"
	  "  until then the old copy is untouched. A new place that overlaps the old\n"
	  "  one (ext2/3/4 guests only) goes through a snapshot beside the disk's\n"
	  "  snapshots, the guest incomplete until the move is done; a move cut short\n"
	  "  names that snapshot (partboot rollback puts it back), and running it\n"
	  "  again finishes the work. bios-boot partitions are not moved.\n"
	  "\n"
	  "      --start OFFSET  the new start (1 MiB aligned; K, M, G, T suffixes)\n"
	  "      --after NAME    right behind partition NAME\n"
	  "  -J, --json          the partition afterwards as JSON\n" },
	{ "clone", cmd_clone, "copy a guest into a new partition",
	  "partboot clone DISK SRC NEW [--to OTHER-DISK] [--size SIZE] [--hostname HOST]\n"
	  "               [--seed STR] [--json]\n"
	  "\n"
	  "  Add partition NEW holding a copy of guest SRC: only the blocks in use are\n"
	  "  copied, the rest stays sparse. The copy gets a new partition UUID and\n"
	  "  filesystem UUID (tune2fs -U's way, checksums included); its /etc/fstab\n"
	  "  names the new root, the old identifiers in /etc/kernel/cmdline are\n"
	  "  replaced, its hostname comes from NEW; then the boot menu lists it. The\n"
	  "  copy is incomplete until all of that is written. SRC must be complete,\n"
	  "  cleanly shut down, and not running in a VM.\n"
	  "\n"
	  "      --to DISK       add NEW to another disk (DISK is only read)\n"
	  "      --size SIZE     NEW's size (default: SRC's); larger grows the filesystem\n"
	  "      --hostname HOST the copy's hostname (default: from NEW)\n"
	  "      --seed STR      derive NEW's identifiers from STR (reproducible)\n"
	  "  -J, --json          the new partition as JSON\n" },
	{ "snapshot", cmd_snapshot, "save a guest's partition to a file",
	  "partboot snapshot DISK NAME|NUMBER [--to FILE | --dir DIR] [--zstd] [--json]\n"
	  "\n"
	  "  Save the guest's partition to a file that rollback puts back byte for\n"
	  "  byte: a sparse raw image (only the blocks in use, and of an image file\n"
	  "  every range it holds data in; holes elsewhere) with a 4 KiB header at\n"
	  "  its end, or zstd (--zstd, or a FILE ending in .zst). By default in\n"
	  "  DISK.snapshots/NAME-YYYYMMDD-HHMMSS.img beside an image file\n"
	  "  (/var/lib/partboot/snapshots/DISK-ID/ for a block device). Reads the\n"
	  "  disk only; refused while the guest runs in a VM or the disk is locked.\n"
	  "  The file appears when complete, never over another one.\n"
	  "\n"
	  "      --to FILE       the snapshot file\n"
	  "      --dir DIR       the folder for it (named as above)\n"
	  "      --zstd          compress with zstd (zstd -d gives the raw image)\n"
	  "  -J, --json          what was written, as JSON\n" },
	{ "snapshots", cmd_snapshots, "list a guest's snapshots",
	  "partboot snapshots DISK NAME|NUMBER [--dir DIR] [--json]\n"
	  "\n"
	  "  List the snapshots of partition NAME (by its PARTUUID) in the default\n"
	  "  folder (see snapshot) or DIR, oldest first: file, time, size, data.\n"
	  "\n"
	  "      --dir DIR       look in DIR\n"
	  "  -J, --json          JSON output for scripts\n" },
	{ "rollback", cmd_rollback, "put a snapshot back",
	  "partboot rollback DISK NAME|NUMBER FILE [--force]\n"
	  "\n"
	  "  Put snapshot FILE back into partition NAME: afterwards the partition\n"
	  "  holds the bytes it held when the snapshot was taken. The snapshot is\n"
	  "  checked (and a zstd one unpacked to a scratch file) first; the guest is\n"
	  "  incomplete and out of the boot menu until it is whole. Refused: a\n"
	  "  snapshot of another size, or of another partition (unless --force), a\n"
	  "  guest running in a VM.\n"
	  "\n"
	  "      --force         take a snapshot of another partition\n" },
	{ "export", cmd_export, "write one guest as a disk of its own",
	  "partboot export DISK NAME|NUMBER OUT.img|OUT.raw|OUT.qcow2|OUT.vmdk [--size SIZE]\n"
	  "                [--seed STR] [--json]\n"
	  "\n"
	  "  Write guest NAME as a standalone disk: GPT, a BIOS boot partition, an\n"
	  "  ESP, the guest (the blocks in use; same filesystem UUID) and partboot's\n"
	  "  GRUB for BIOS and UEFI. It boots through SeaBIOS, OVMF and partboot run,\n"
	  "  and imports back with install --from disk:OUT. .qcow2 and .vmdk go\n"
	  "  through qemu-img convert. Reads DISK only; OUT appears when complete,\n"
	  "  never over an existing file.\n"
	  "\n"
	  "      --size SIZE     the guest's partition in the export (its filesystem\n"
	  "                      grows into it); default: as now\n"
	  "      --seed STR      reproducible identifiers in the new disk\n"
	  "  -J, --json          file, format and size as JSON\n" },
	{ "list", cmd_list, "show the partitions and guests of a disk",
	  "partboot list DISK [--json]\n"
	  "\n"
	  "  Show number, name, type, start, size, partition UUID, and (through\n"
	  "  libblkid) filesystem type, label and UUID. Before a filesystem is made,\n"
	  "  LABEL shows the label asked for with add --label. For guests: STATE\n"
	  "  (complete; incomplete while an install is under way or was interrupted;\n"
	  "  foreign for a Linux install partboot did not make; unreadable), OS,\n"
	  "  KERNELS (newest first) and BOOT (default, next).\n"
	  "\n"
	  "  -J, --json          JSON output for scripts (start and size in bytes)\n" },
	{ "apply", cmd_apply, "build a whole disk from a layout file",
	  "partboot apply DISK LAYOUT [--seed STR] [--force] [--dry-run [--json]]\n"
	  "\n"
	  "  Build DISK from a layout file (see docs/layout.md) in one go: the\n"
	  "  partition table, filesystems (fs =; the ESP is made FAT when a bootloader\n"
	  "  is asked for), guests (source =, with hostname and cmdline), GRUB for BIOS\n"
	  "  and/or UEFI (bootloader =; by default what the partitions allow when there\n"
	  "  is an esp; secure_boot = yes for Debian's signed chain), and the default\n"
	  "  guest. DISK is created with [disk] size when it does not exist. The whole\n"
	  "  layout is checked before the first write; errors name FILE:LINE. On an\n"
	  "  existing disk, what is missing is added, complete guests are kept, an\n"
	  "  interrupted one is installed again, and a change that would destroy a\n"
	  "  filesystem (another size or type of a partition holding one, another\n"
	  "  filesystem) is refused unless --force.\n"
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
	  "                      (SOURCE_DATE_EPOCH, else 2000-01-01): same bytes\n"
	  "                      (default: the seed kept by init --seed, if any)\n" },
	{ "install", cmd_install, "install a guest into a partition",
	  "partboot install DISK NAME --from SOURCE [--wipe] [--label LABEL] [--seed STR]\n"
	  "                [--hostname HOST] [--cmdline ARGS]\n"
	  "                [--mirror URL] [--no-kernel] [--deb-cache DIR] [--packages LIST]\n"
	  "                [--root-password-file FILE|- | --root-password locked|disabled]\n"
	  "                [--user NAME[:GROUP,...] [--user-password-file FILE|-]] [--ssh-key FILE]...\n"
	  "                [--firstboot FILE] [--cloud-init USER-DATA [--meta-data FILE]]\n"
	  "partboot install DISK NAME --via-vm FILE.iso|/dev/sr0|pxe:DIR|pxe:URL [--answers FILE]\n"
	  "                [--answers-url URL] [--firmware bios|uefi [--secure-boot]] [--console FILE]\n"
	  "                [--timeout S] [--accel A] [--mem SIZE] [--cpus N] [--cpu-model M] [--label L]\n"
	  "                [--hostname H] [--cmdline ARGS]\n"
	  "\n"
	  "  Fill partition NAME's ext4 filesystem from SOURCE, without mounting and\n"
	  "  without root: owners, modes, times, links, devices, extended attributes\n"
	  "  and ACLs come from the archive. The filesystem is made first when the\n"
	  "  partition has none, when --wipe is given, or when an earlier install did\n"
	  "  not finish. Then, whatever the source: /etc/fstab naming the root by\n"
	  "  UUID (the guest's other mounts kept, with nofail), /etc/hostname and\n"
	  "  /etc/hosts, /etc/kernel/cmdline; the boot menu is refreshed. Until all\n"
	  "  of it is written the guest is marked incomplete and left out of the\n"
	  "  menu; an interrupted install is finished by running it again. A\n"
	  "  partition holding an install partboot did not make (a foreign guest)\n"
	  "  is refused unless --wipe (see adopt to keep it instead).\n"
	  "\n"
	  "  -f, --from SOURCE   a tar archive (plain, gzip, xz, zstd), '-' for a tar\n"
	  "                      stream on standard input, or a directory;\n"
	  "                      iso:FILE for a live ISO (or iso:/dev/sr0): its\n"
	  "                      live/filesystem.squashfs or casper/*.squashfs;\n"
	  "                      debootstrap:SUITE[:VARIANT] to install Debian with\n"
	  "                      mmdebstrap (streamed, nothing extracted; debootstrap\n"
	  "                      through a temporary folder when mmdebstrap is missing)\n"
	  "                      disk:IMAGE[:PARTITION] for the root of a disk image\n"
	  "                      (raw, qcow2, vmdk): found by the DPS root type, else by\n"
	  "                      /etc/os-release; a separate ext2/3/4 /boot merged in;\n"
	  "                      copied (blocks in use) and grown to the partition, with\n"
	  "                      a new filesystem UUID; --wipe to replace a filesystem\n"
	  "                      already there\n"
	  "  -w, --wipe          make a new filesystem even when one exists\n"
	  "  -L, --label LABEL   label of a new filesystem\n"
	  "      --seed STR      reproducible identifiers and times (see mkfs; default:\n"
	  "                      the seed kept by init --seed, if any)\n"
	  "      --hostname HOST the guest's hostname (default: NAME)\n"
	  "      --cmdline ARGS  kernel arguments for the menu and the VM runner,\n"
	  "                      without root= (default: the guest's own, else\n"
	  "                      'ro quiet')\n"
	  "      --mirror URL    Debian mirror (default: the host's apt sources)\n"
	  "      --no-kernel     debootstrap without linux-image-amd64, initramfs-tools,\n"
	  "                      systemd-sysv and udev (a container, not a bootable guest)\n"
	  "      --deb-cache DIR keep downloaded .debs in DIR and reuse them\n"
	  "      --packages LIST more packages for debootstrap: installs (mmdebstrap\n"
	  "                      --include), e.g. openssh-server,sudo\n"
	  "\n"
	  "  Logging into the guest (as 'partboot customize' does, written before the\n"
	  "  guest is marked complete; see there):\n"
	  "      --root-password-file FILE, --root-password locked|disabled,\n"
	  "      --user NAME[:GROUP,...], --user-password-file FILE, --ssh-key FILE,\n"
	  "      --firstboot FILE, --cloud-init USER-DATA, --meta-data FILE\n"
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
	  "      --secure-boot   with --firmware uefi: Secure Boot enforced\n"
	  "      --console FILE  the installer's serial console to FILE (default: the\n"
	  "                      terminal, interactive when it is one and no\n"
	  "                      --answers is given)\n"
	  "      --timeout S     stop the installer after S seconds (the install fails)\n"
	  "      --mem SIZE      default 2G (at most half the host's memory): enough\n"
	  "                      for real installers; QEMU allocates it lazily\n"
	  "      --accel, --cpus, --cpu-model, --qemu  as for run\n" },
	{ "adopt", cmd_adopt, "make an install partboot did not make one of its guests",
	  "partboot adopt DISK NAME [--hostname HOST] [--cmdline ARGS]\n"
	  "\n"
	  "  NAME holds a Linux install partboot did not make ('foreign' in list). It is\n"
	  "  booted, listed and put in the boot menu as it is, and nothing writes into it;\n"
	  "  adopt makes it partboot's, as if partboot had installed it. It writes these\n"
	  "  files of the guest, and nothing else:\n"
	  "    /etc/fstab            the root named by its filesystem UUID; the guest's\n"
	  "                          other mounts kept, each with nofail added\n"
	  "    /etc/kernel/cmdline   only when the guest has none (then its\n"
	  "                          /etc/default/grub line, else 'ro quiet'), or with\n"
	  "                          --cmdline\n"
	  "    /etc/hostname, the 127.0.1.1 line of /etc/hosts   only with --hostname\n"
	  "    /var/lib/partboot/guest   the marker: partboot made or adopted this guest\n"
	  "  Then the boot menu is refreshed. ext4 only; refuses a guest that is\n"
	  "  partboot's already, incomplete, or holds no Linux install.\n"
	  "\n"
	  "      --hostname HOST the guest's hostname\n"
	  "      --cmdline ARGS  kernel arguments for the menu and the VM runner,\n"
	  "                      without root=\n" },
	{ "customize", cmd_customize, "set passwords, add a user, SSH keys, a first-boot script",
	  "partboot customize DISK NAME [--root-password-file FILE|- | --root-password locked|disabled]\n"
	  "                  [--user NAME[:GROUP,...] [--user-password-file FILE|-]] [--ssh-key FILE]...\n"
	  "                  [--firstboot FILE] [--cloud-init USER-DATA [--meta-data FILE]]\n"
	  "                  [--seed STR] [--dry-run]\n"
	  "\n"
	  "  Change the installed guest in partition NAME without mounting it: its\n"
	  "  files are rewritten in place through libext2fs, each replaced whole in\n"
	  "  one step, keeping Debian's owners and modes (/etc/shadow 0640 root:shadow).\n"
	  "  Everything is checked before the first write (the files given, and the\n"
	  "  guest: its /etc/shadow, a user not there yet, its groups, systemd for\n"
	  "  --firstboot); a refused request leaves the disk unchanged. Passwords come\n"
	  "  from the first line of a file or of standard input ('-'), never from the\n"
	  "  command line, and appear in no message. See docs/customize.md.\n"
	  "\n"
	  "      --root-password-file FILE  root's password (yescrypt, as Debian 12)\n"
	  "      --root-password locked     '!' before root's hash (passwd -l)\n"
	  "      --root-password disabled   '*': no password works for root\n"
	  "      --user NAME[:GROUP,...]    a new user as adduser makes one: the first\n"
	  "                          free id from 1000 (uid = gid), a group NAME, home\n"
	  "                          /home/NAME (0700) from /etc/skel, /bin/bash; also in\n"
	  "                          the GROUPs (which must exist in the guest)\n"
	  "      --user-password-file FILE  the user's password (default: none, keys only)\n"
	  "      --ssh-key FILE      public keys for root's authorized_keys, or the user's\n"
	  "                          with --user (.ssh 0700, authorized_keys 0600)\n"
	  "      --firstboot FILE    a script (#! text) run once at the next boot,\n"
	  "                          native or in the VM, by partboot-firstboot.service,\n"
	  "                          which then disables itself; output in the journal\n"
	  "      --cloud-init FILE   NoCloud user-data into /var/lib/cloud/seed/nocloud\n"
	  "                          (the guest needs cloud-init)\n"
	  "      --meta-data FILE    its meta-data (default: instance-id, local-hostname)\n"
	  "      --seed STR          reproducible salts and times\n"
	  "  -n, --dry-run           check everything, print what would change, write\n"
	  "                          nothing\n" },
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
	  "partboot bootloader DISK [--bios] [--uefi] [--secure-boot]\n"
	  "\n"
	  "  Install GRUB on DISK without loop devices: for BIOS, core.img in the BIOS\n"
	  "  boot partition (GPT) or the gap after the MBR (dos) and boot.img in the\n"
	  "  MBR's boot code (never its partition table); for UEFI,\n"
	  "  EFI/BOOT/BOOTX64.EFI on the ESP (made FAT when empty). One grub.cfg and\n"
	  "  one grubenv on the ESP serve both; the menu has one entry per complete or\n"
	  "  foreign guest with a kernel, in partition order (with two kernels or more,\n"
	  "  a submenu lists them all). Without --bios or --uefi, installs every\n"
	  "  kind the disk has partitions for. See docs/bootloader.md.\n"
	  "\n"
	  "      --bios          BIOS GRUB\n"
	  "      --uefi          UEFI GRUB\n"
	  "      --secure-boot   UEFI through Debian's signed shim and GRUB (packages\n"
	  "                      shim-signed, grub-efi-amd64-signed), which boots with\n"
	  "                      Secure Boot enforced, and off; warns about guests\n"
	  "                      whose kernel is not signed\n" },
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
	  "partboot run DISK NAME [--firmware bios|uefi [--secure-boot]] [--accel auto|kvm|tcg]\n"
	  "             [--mem SIZE] [--cpus N] [--cpu-model M] [--machine M] [--disk-bus B]\n"
	  "             [--kernel VERSION]\n"
	  "             [--append ARGS] [--console FILE] [--timeout S] [--snapshot]\n"
	  "             [--net user|none] [--ssh-port N] [--cloud-init USER-DATA [--meta-data FILE]]\n"
	  "             [--print-cmdline | --libvirt-xml[=DOMAIN] | --libvirt DOMAIN]\n"
	  "\n"
	  "  Boot guest NAME of DISK in a QEMU virtual machine. By default (direct mode)\n"
	  "  the kernel and initrd come out of the guest's /boot, the command line is the\n"
	  "  guest's own (/etc/kernel/cmdline, else /etc/default/grub's) with its root and\n"
	  "  console=ttyS0, and the VM sees only NAME's partition, as its whole disk (and\n"
	  "  its /boot partition when its fstab names one). With --firmware the VM sees the\n"
	  "  whole disk and boots it through SeaBIOS (bios) or OVMF (uefi): NAME's partition\n"
	  "  is live, the tables, ESP and BIOS boot partition are private copies and every\n"
	  "  other partition reads as zeros; nothing outside NAME's partition changes.\n"
	  "  Before QEMU starts, partboot looks inside the guest (its kernel's config and\n"
	  "  modules.builtin, the modules in its initramfs) and picks the first machine and\n"
	  "  disk controller it has drivers for: microvm with virtio-mmio (direct mode),\n"
	  "  q35 with virtio-blk-pci, NVMe or AHCI (SATA), pc with IDE; the network card\n"
	  "  is virtio-net, else e1000. It refuses, naming the drivers it looked for, a\n"
	  "  guest that has none. -v and --print-cmdline say what was found and why.\n"
	  "  The partition is locked while the VM runs. Ctrl-C or SIGTERM press the\n"
	  "  power button, then stop the VM after 10 s. Exit status: 0 guest powered off,\n"
	  "  1 failure, 3 guest rebooted or panicked, 4 panic reported, 124 timeout,\n"
	  "  130 interrupted and not powered off.\n"
	  "\n"
	  "      --firmware bios|uefi  boot the whole-disk view through firmware\n"
	  "      --secure-boot       with --firmware uefi: Secure Boot enforced (OVMF's\n"
	  "                          secboot build, Microsoft's keys; the disk needs\n"
	  "                          bootloader --secure-boot)\n"
	  "      --accel auto|kvm|tcg  auto (default) takes KVM only when it can run a\n"
	  "                          stock kernel, else TCG with a warning\n"
	  "      --machine auto|microvm|q35|pc\n"
	  "                          auto (default): what the guest can boot on\n"
	  "      --disk-bus auto|virtio|nvme|ahci|ide\n"
	  "                          the disk's controller; auto (default): what the\n"
	  "                          guest has drivers for (a forced one is obeyed,\n"
	  "                          with a warning when the guest lacks its drivers)\n"
	  "      --kernel VERSION    boot this kernel of the guest (direct mode; default\n"
	  "                          the newest by version)\n"
	  "      --mem SIZE          guest memory (default 512M; a bare number is MiB)\n"
	  "      --cpus N            virtual CPUs (default 2 with KVM, 1 under TCG,\n"
	  "                          which boots faster with one)\n"
	  "      --cpu-model M       QEMU's -cpu (default host with KVM; under TCG\n"
	  "                          qemu64 with x86-64-v2's SSSE3, SSE4 and POPCNT;\n"
	  "                          max for guests built for x86-64-v3)\n"
	  "      --append ARGS       more kernel arguments (direct mode)\n"
	  "      --console FILE      serial console to FILE; default: this terminal\n"
	  "                          (interactive when stdin is a terminal)\n"
	  "      --timeout S         stop the VM after S seconds (exit status 124)\n"
	  "      --snapshot          guest writes go to a throw-away overlay\n"
	  "      --net user|none     user-mode networking (default none)\n"
	  "      --ssh-port N        forward 127.0.0.1:N to the guest's port 22 (implies\n"
	  "                          --net user); partboot ssh joins such a VM\n"
	  "      --cloud-init FILE   a cloud-init NoCloud seed for this boot: FILE as\n"
	  "                          user-data in a read-only volume labelled cidata\n"
	  "      --meta-data FILE    its meta-data (default: an instance-id from NAME\n"
	  "                          and the user-data, the guest's hostname)\n"
	  "      --print-cmdline     print the QEMU command, start nothing\n"
	  "      --libvirt-xml[=DOMAIN]  print a libvirt domain XML (DOMAIN, default\n"
	  "                          partboot-NAME; virsh define FILE), start nothing;\n"
	  "                          its files go where libvirt's QEMU reads them\n"
	  "                          (root: /var/lib/libvirt/boot/partboot/DOMAIN)\n"
	  "      --libvirt DOMAIN    the same, defined as DOMAIN and started with virsh;\n"
	  "                          partboot returns once it runs (--console FILE: its\n"
	  "                          serial console to FILE, else virsh console DOMAIN)\n"
	  "      --no-pvh            hand QEMU the bzImage, not the unpacked kernel\n"
	  "      --qemu BINARY       QEMU binary (default qemu-system-x86_64)\n" },
	{ "ssh", cmd_ssh, "log into a guest with ssh, booting it in a VM",
	  "partboot ssh DISK NAME [--user USER] [--timeout S] [--console FILE] [--key-dir DIR]\n"
	  "             [--firmware bios|uefi] [--accel A] [--mem SIZE] [--cpus N] [--snapshot]\n"
	  "             [--append ARGS] [--qemu BINARY] [-- COMMAND...]\n"
	  "\n"
	  "  Log into guest NAME with ssh (as root, or USER), or run COMMAND there; the\n"
	  "  exit status is ssh's (the command's). When a VM already runs NAME with an\n"
	  "  SSH port forward (partboot run --ssh-port, another partboot ssh), it is\n"
	  "  joined and left running. Otherwise partboot boots NAME in the VM runner\n"
	  "  with 127.0.0.1:PORT (a free port) forwarded to its port 22, waits for sshd\n"
	  "  (a progress line), and powers the VM off afterwards. The first time, a\n"
	  "  key for this disk is made (KEY_DIR/DISK-ID/id_ed25519) and put into the\n"
	  "  guest's /root/.ssh/authorized_keys (and USER's), with DHCP for the VM's\n"
	  "  virtio network card (systemd-networkd), saying so. ssh checks the host key\n"
	  "  against the one read from the guest's /etc/ssh. The guest needs an SSH\n"
	  "  server (install --packages openssh-server). See docs/ssh.md.\n"
	  "\n"
	  "      --user USER         log in as USER (an existing account; default root)\n"
	  "      --timeout S         wait at most S seconds for sshd (default 600)\n"
	  "      --console FILE      the serial console of the VM partboot starts\n"
	  "                          (default KEY_DIR/DISK-ID/console-PARTUUID.log)\n"
	  "      --key-dir DIR       partboot's keys (default $XDG_DATA_HOME/partboot/ssh,\n"
	  "                          ~/.local/share/partboot/ssh)\n"
	  "      --firmware, --accel, --mem, --cpus, --cpu-model, --snapshot, --append, --qemu\n"
	  "                          for the VM partboot starts, as for run\n" },
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
