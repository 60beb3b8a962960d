/* SPDX-License-Identifier: MIT */
/*
 * boot — GRUB for the whole disk, installed by partboot itself (no loop
 * device, no grub-install): BIOS GRUB's boot.img in the MBR and core.img in
 * the BIOS boot partition (GPT) or the gap after the MBR (dos); UEFI GRUB as
 * EFI/BOOT/BOOTX64.EFI on the ESP, or for Secure Boot Debian's signed shim
 * and GRUB in its place. All of them read one grub.cfg and one grubenv kept
 * on the ESP (/grub/), see docs/bootloader.md.
 *
 * The menu is data (struct boot_entry): the caller (disk/, which knows the
 * guests) hands boot the entries, one per bootable guest with the partition
 * name as its id; `default` and `next` edit grubenv's 1024 bytes in place,
 * at the clusters the file already has.
 */
#ifndef PARTBOOT_BOOT_H
#define PARTBOOT_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../common/strbuf.h"

struct part_disk;

/* Where grub.cfg and grubenv live on the ESP, and their size rules. */
#define BOOT_GRUB_DIR "/grub"
#define BOOT_GRUB_CFG "/grub/grub.cfg"
#define BOOT_GRUBENV "/grub/grubenv"
#define BOOT_EFI_PATH "/EFI/BOOT/BOOTX64.EFI"
#define BOOT_GRUBENV_SIZE 1024

/* ---- installing ------------------------------------------------------- */

enum {
	BOOT_INSTALL_BIOS = 1 << 0,
	BOOT_INSTALL_UEFI = 1 << 1,
	/*
	 * UEFI (implied) through Debian's signed chain, for firmware enforcing
	 * Secure Boot: shim (package shim-signed, /usr/lib/shim/shimx64.efi.signed)
	 * as EFI/BOOT/BOOTX64.EFI, the signed GRUB (grub-efi-amd64-signed,
	 * /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed) as
	 * EFI/BOOT/grubx64.efi, MokManager (mmx64.efi) when installed, and a
	 * stub EFI/debian/grub.cfg leading to the shared menu. It boots with
	 * Secure Boot off too. Refused with the package to install when a file
	 * is missing.
	 */
	BOOT_INSTALL_SECURE_BOOT = 1 << 2,
};

/* True when d's ESP holds partboot's grub.cfg (a bootloader is installed). */
bool boot_is_installed(struct part_disk *d);
/* True when d's UEFI loader is the signed chain (BOOT_INSTALL_SECURE_BOOT). */
bool boot_is_secure_boot(struct part_disk *d);

/*
 * True when the PE image (a kernel's bzImage, an EFI binary) carries an
 * Authenticode signature (a PKCS#7 entry in its Certificate Table). Says
 * nothing about who signed it: a kernel signed by a key neither shim nor
 * the firmware trusts is refused at boot all the same. Pure.
 */
bool boot_pe_is_signed(const void *img, size_t len);

/* ---- the menu --------------------------------------------------------- */

/* One kernel of a guest, for the submenu that lists them all (strings borrowed). */
struct boot_kernel {
	const char *version; /* "6.1.0-28-amd64" */
	const char *kernel;  /* path inside the filesystem holding it */
	const char *initrd;  /* "" or NULL = none */
};

/* One menu entry, as data (all strings borrowed). */
struct boot_entry {
	const char *id;       /* partition name: menuentry --id, saved_entry */
	const char *title;    /* shown in the menu; NULL = id */
	const char *fs_uuid;  /* the guest filesystem's UUID, for search --fs-uuid */
	const char *partuuid; /* for root=PARTUUID= */
	const char *kernel;   /* path inside the guest, e.g. /boot/vmlinuz-6.1.0-28-amd64 */
	const char *initrd;   /* "" or NULL = none */
	const char *cmdline;  /* the guest's own arguments; "" or NULL = "ro quiet" */
	/*
	 * The filesystem kernel and initrd are read from when it is not the
	 * guest's own: a separate /boot partition (paths are then inside it,
	 * "/vmlinuz-6.1.0-28-amd64"). NULL = fs_uuid.
	 */
	const char *boot_fs_uuid;
	/*
	 * Every kernel of the guest, newest first (may be NULL). With two or
	 * more, a submenu "NAME: all kernels" (id NAME-kernels) follows the
	 * entry, one entry per kernel (id NAME-VERSION), as Debian's "Advanced
	 * options" submenu does.
	 */
	const struct boot_kernel *kernels;
	size_t n_kernels;
};

/*
 * Render grub.cfg for these entries into out (appended): serial + console
 * terminals, a 1 s timeout, the one-shot next_entry logic, one menuentry
 * each, and a firmware-setup entry on UEFI. Pure function (tested as data).
 */
void boot_menu_render(const struct boot_entry *entries, size_t n, struct strbuf *out);

/*
 * Write grub.cfg for these entries to d's ESP (through mtools). A no-op
 * returning 0 when no bootloader is installed on d.
 */
int boot_menu_write(struct part_disk *d, const struct boot_entry *entries, size_t n, struct pb_err *err);

/*
 * Install GRUB on d with a menu of these entries (n may be 0). flags without
 * BIOS or UEFI means "every kind the disk has partitions for": BIOS when
 * there is a BIOS boot partition (GPT) or a dos table, UEFI when there is an
 * ESP; SECURE_BOOT makes the UEFI one the signed chain. A plain UEFI install
 * removes what a Secure Boot one added. The ESP is
 * needed in any case (it holds grub.cfg and grubenv) and is made FAT when it
 * has no filesystem. Everything is checked before the first write (ESP
 * present, embedding area big enough); the message says what to add and how
 * big. Writes the menu and a fresh grubenv (keeping saved_entry/next_entry
 * of an existing one). Returns 0 or -errno.
 */
int boot_install(struct part_disk *d, unsigned flags, const struct boot_entry *entries, size_t n,
		 struct pb_err *err);

/* ---- grubenv ------------------------------------------------------------ */

/*
 * GRUB's environment block, as data: "# GRUB Environment Block\n", then
 * "name=value\n" lines, padded with '#' to exactly 1024 bytes
 * (grub-core/lib/envblk.c). Values escape '\' and newline with '\'.
 */

/* Make an empty block. */
void boot_grubenv_init(char block[BOOT_GRUBENV_SIZE]);
/* -EINVAL when block is not an environment block. */
int boot_grubenv_check(const char block[BOOT_GRUBENV_SIZE]);
/* Look up name: 0 and *ret (malloc'ed, caller frees) or -ENOENT. */
int boot_grubenv_get(const char block[BOOT_GRUBENV_SIZE], const char *name, char **ret);
/*
 * Set name=value (value NULL removes it), keeping the block at 1024 bytes
 * and every other variable in place. -ENOSPC when it does not fit; the block
 * is then unchanged.
 */
int boot_grubenv_set(char block[BOOT_GRUBENV_SIZE], const char *name, const char *value);

/*
 * Read saved_entry and next_entry from d's grubenv. Each *ret is malloc'ed
 * (caller frees) or NULL when unset; both NULL and 0 when no bootloader is
 * installed. Either ret may be NULL.
 */
int boot_env_read(struct part_disk *d, char **ret_default, char **ret_next, struct pb_err *err);

/*
 * Set saved_entry (boot_set_default) or next_entry (boot_set_next) to the
 * guest NAME (a menu entry id; -ENOENT with a message for an unknown one).
 * Writes only grubenv's own bytes on the disk, in place.
 */
int boot_set_default(struct part_disk *d, const char *name, struct pb_err *err);
int boot_set_next(struct part_disk *d, const char *name, struct pb_err *err);
/*
 * boot_set_next() into a copy of d: grubenv is read from d, and the edited
 * 1024 bytes are written through fd at the offsets they have on d less
 * base (fd holds d's ESP from disk offset base on: the VM runner's private
 * whole-disk shadow has base 0, a shadow file per extent its extent's
 * start). d is not written.
 */
int boot_set_next_in(struct part_disk *d, int fd, uint64_t base, const char *name, struct pb_err *err);

/*
 * A guest is gone for good (removed): drop saved_entry and next_entry when
 * they name it, so GRUB does not look for it. 0 when neither does, or when
 * no bootloader is installed. Writes only grubenv's own bytes.
 */
int boot_forget_guest(struct part_disk *d, const char *name, struct pb_err *err);

/* ---- BIOS boot code, as data (grub-bios.c) ------------------------------ */

/*
 * Turn GRUB's boot.img into the MBR's boot code the way grub-bios-setup does
 * (util/setup.c, boot.S): start from the current sector mbr, take boot.img's
 * code except the BPB area (0x03-0x59) and everything from 0x1b8 on, store
 * core.img's first LBA at 0x5c (64-bit LE), boot drive 0xff at 0x64, and two
 * NOPs at 0x66 (the hard-disk drive-check workaround). mbr is edited in
 * place; only bytes below 0x1b8 change.
 */
void boot_bios_patch_mbr(uint8_t mbr[512], const uint8_t boot_img[512], uint64_t core_lba);

/*
 * Patch diskboot's first blocklist (the last 12 bytes of core.img's first
 * sector: start LBA 64-bit at 0x1f4, sector count 16-bit at 0x1fc, segment
 * 16-bit at 0x1fe) for core.img embedded contiguously at core_lba, and zero
 * the entry below it (the terminator). -EINVAL when core is not a diskboot
 * image (no blocklist) or too large.
 */
int boot_bios_patch_core(uint8_t *core, size_t core_size, uint64_t core_lba);

/* ---- native boot ---------------------------------------------------------- */

enum boot_native_action {
	BOOT_NATIVE_NONE = 0, /* only set next_entry */
	BOOT_NATIVE_REBOOT,
	BOOT_NATIVE_KEXEC,
};

/*
 * Boot guest e (e->id is its partition name; kernel, initrd and cmdline are
 * used for kexec) of d on this machine: refuse image files, a disk that is
 * not the one this machine booted from (holding / or the mounted ESP), and
 * non-root callers; then set next_entry and reboot, or load NAME's kernel,
 * initrd and command line with kexec_file_load and jump into it. d may be
 * open read-only (the running system's partitions are mounted): grubenv is
 * then edited through the mounted ESP, or through a second read-write
 * descriptor when the ESP is not mounted. Returns only on failure (or with
 * BOOT_NATIVE_NONE).
 */
int boot_native(struct part_disk *d, const struct boot_entry *e, enum boot_native_action action,
		struct pb_err *err);

#endif
