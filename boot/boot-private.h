/* SPDX-License-Identifier: MIT */
/* Inside boot/: the ESP (esp.c) and helpers shared by the boot files. */
#ifndef PARTBOOT_BOOT_PRIVATE_H
#define PARTBOOT_BOOT_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "../part/part.h"
#include "boot.h"

/* The ESP of one disk, with the geometry of its FAT (16 or 32). */
struct esp {
	struct part_disk *d; /* borrowed */
	struct part_info part;
	char where[160];     /* "disk.img: ESP 'esp'" for messages */
	bool has_fat;        /* false: no FAT filesystem (yet) */
	char volid[10];      /* "1234-ABCD", what GRUB's search --fs-uuid matches */
	unsigned fat_bits;   /* 16 or 32 */
	unsigned bps;        /* bytes per sector */
	unsigned spc;        /* sectors per cluster */
	uint32_t reserved;   /* reserved sectors */
	uint32_t nfats;
	uint32_t fat_sectors;
	uint32_t root_cluster; /* FAT32 */
	uint32_t root_sectors; /* FAT16: fixed root directory */
	uint64_t data_sector;  /* first sector of cluster 2 */
	uint32_t n_clusters;
};

/* A run of bytes on the disk (absolute offsets). */
struct esp_extent {
	uint64_t offset;
	uint64_t len;
};

/*
 * Find d's ESP and read its FAT geometry. -ENOENT (message) when the disk has
 * no ESP. A missing filesystem is not an error: has_fat is false.
 */
int esp_open(struct part_disk *d, struct esp *ret, struct pb_err *err);
/* Make a FAT filesystem (FAT32 from 33 MiB, else FAT16; 512-byte clusters). */
int esp_mkfs(struct esp *e, struct pb_err *err);

/*
 * Look a path up ("/grub/grubenv", 8.3 names, case-insensitive). -ENOENT when
 * absent. ret_size: file size; ret_ext/ret_n (may be NULL): where the first
 * min(size, max) bytes of the file lie on the disk (malloc'ed array).
 */
int esp_lookup(struct esp *e, const char *path, uint32_t *ret_size, uint64_t max, struct esp_extent **ret_ext,
	       size_t *ret_n, struct pb_err *err);
/* Read a whole file (up to 1 MiB) through the walker; *ret NUL-terminated, caller frees. */
int esp_read_file(struct esp *e, const char *path, char **ret, size_t *ret_len, struct pb_err *err);
/* Free bytes on the FAT (counted from the FAT), in whole clusters. */
int esp_free_bytes(struct esp *e, uint64_t *ret, struct pb_err *err);
/* Bytes a file of size takes on this FAT (rounded up to clusters). */
uint64_t esp_alloc_size(const struct esp *e, uint64_t size);

/* Through mtools: make a directory (parents first; existing ones are fine). */
int esp_mkdir(struct esp *e, const char *path, struct pb_err *err);
/* Through mtools: copy a host file to path, replacing it. */
int esp_put_file(struct esp *e, const char *host_path, const char *path, struct pb_err *err);
/* Write data to a private temporary file and esp_put_file() it. */
int esp_put_data(struct esp *e, const void *data, size_t len, const char *path, struct pb_err *err);
/* Through mtools: delete a file; 0 when it is not there. */
int esp_remove(struct esp *e, const char *path, struct pb_err *err);

/*
 * The three lines that find the ESP by its FAT volume id and load the shared
 * menu: grub-mkimage's embedded config, and the EFI/debian/grub.cfg stub that
 * Debian's signed GRUB reads (secure-boot.c). Appended to out.
 */
void boot_stub_cfg(const char *volid, struct strbuf *out);

/* ---- Secure Boot: Debian's signed shim and GRUB (secure-boot.c) ---- */

/* The host files of the signed chain, found and sized by boot_sb_find(). */
struct boot_sb_files {
	const char *shim, *grub, *mokmanager; /* static paths; mokmanager NULL when absent */
	uint64_t shim_size, grub_size, mokmanager_size;
};

/*
 * Find shim and the signed GRUB where Debian installs them. -ENOENT with the
 * package to install when one is missing. Reads only.
 */
int boot_sb_find(struct boot_sb_files *ret, struct pb_err *err);
/* ESP bytes the chain needs beyond what the files it replaces take. */
uint64_t boot_sb_need(struct esp *e, const struct boot_sb_files *f);
/*
 * Put the chain on the ESP: the stub config, GRUB, MokManager, then shim as
 * EFI/BOOT/BOOTX64.EFI last (an interruption leaves the previous loader in
 * place); an EFI/BOOT/fbx64.efi is removed (shim would run it instead of
 * GRUB).
 */
int boot_sb_write(struct esp *e, const struct boot_sb_files *f, struct pb_err *err);
/* After a plain UEFI install: remove what boot_sb_write() put besides BOOTX64.EFI. */
int boot_sb_remove(struct esp *e, struct pb_err *err);

/* -ENOENT with a message when name is not an entry of the installed menu (menu.c). */
int boot_menu_has_entry(struct esp *e, const char *name, struct pb_err *err);

/* The same, reading grub.cfg through a mounted ESP. */
int boot_menu_has_entry_in(const char *esp_mount, const char *name, struct pb_err *err);
/* next_entry on the running system's disk (esp_mount: where its ESP is mounted, or NULL). */
int boot_set_next_live(struct part_disk *d, const char *name, const char *esp_mount, struct pb_err *err);

/* Single-quote s for grub.cfg (' becomes '\'') into out. */
void boot_cfg_quote(struct strbuf *out, const char *s);

#endif
