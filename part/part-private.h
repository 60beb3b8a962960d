/* SPDX-License-Identifier: MIT */
/*
 * part internals: the disk object, partboot's own record (names on dos,
 * labels everywhere) and helpers shared by the files of part/. Only part/
 * includes this file. The files, each calling only those listed after it:
 *   layout.c  layout files, applied to the table in memory
 *   probe.c   filesystems inside partitions (libblkid)
 *   write.c   part_disk_write(), the one writer
 *   edit.c    add, remove, rename, resize, set the type (in memory)
 *   disk.c    part_disk_open(): open, lock, refuse a disk in use
 *   gpt.c     both GPT headers and entry arrays checked
 *   table.c   the table in memory: load, refresh, new table, queries
 *   record.c  partboot's record: CRC32, encode/decode, the in-memory copy
 */
#ifndef PARTBOOT_PART_PRIVATE_H
#define PARTBOOT_PART_PRIVATE_H

#include <libfdisk/libfdisk.h>

#include "part.h"
#include "../common/alloc.h"
#include "../common/macros.h"
#include "../common/util.h"

/* Every partition starts on a 1 MiB boundary (and the first at 1 MiB). */
#define PART_ALIGN MiB

/*
 * partboot's record: one 512-byte block in the last sector before the first
 * 1 MiB boundary (LBA 2047 with 512-byte sectors). Layout, little endian:
 *   0  char[8]  "PARTBOOT"
 *   8  u32      version (1): bumped only for a change older readers would misread
 *  12  u32      number of entries
 *  16  u32      CRC32 (IEEE, as zlib) of the 512 bytes with this field zero
 *  20  u8       compatible features, bits a reader may ignore: bit 0
 *               (PART_RECORD_COMPAT_SEED) the disk's seed is kept at the end
 *  21  u8       the seed's length S (1..PART_SEED_MAX) with bit 0, else 0
 *  22  u8[10]   zero
 *  32  entries, packed: u64 start LBA, u8 partboot type, u8 name length,
 *      u8 label length, name bytes, label bytes (no NULs).
 *  512 - S      the seed, S bytes (no NUL, no control characters), after
 *               the entries.
 * Bytes 20-21 were zero before seeds were kept, and readers of that time
 * ignore them and the block's tail: they read a seeded disk's names and
 * labels as well (and drop the seed when they rewrite the record).
 */
#define PART_RECORD_MAGIC "PARTBOOT"
#define PART_RECORD_VERSION 1
#define PART_RECORD_COMPAT_SEED 0x01
#define PART_RECORD_SIZE 512
#define PART_RECORD_HEADER 32
#define PART_NAME_MAX 36 /* a GPT name holds 36 UTF-16 code units */
#define PART_LABEL_MAX 63
#define PART_SEED_MAX 64 /* bytes of a seed kept in the record */

struct part_meta {
	uint64_t start_lba;
	enum part_type type;
	char name[PART_NAME_MAX + 1];
	char label[PART_LABEL_MAX + 1];
};

struct part_disk {
	char *path;
	char *display; /* the path as the user gave it, for messages */
	int fd;
	bool rdonly;
	bool blockdev;
	bool locked; /* whole-disk lock held (writes allowed) */
	bool created; /* this open made the image file (O_EXCL) */
	dev_t rdev;  /* block devices */
	dev_t dev;   /* image files: st_dev and st_ino of the file */
	ino_t ino;
	uint64_t size;
	unsigned sector_size;

	struct fdisk_context *cxt;
	bool assigned;       /* cxt holds the device (fdisk_assign_device_by_fd() succeeded) */
	enum part_table table;
	bool new_table;      /* table created in memory, not yet written */
	bool dirty;          /* something to write */
	bool gpt_damaged;    /* what part_disk_open() found wrong, kept for --force */
	char *seed;          /* in use: NULL = random identifiers */
	char *record_seed;   /* kept in the record: the seed the table was made with, or NULL */
	char id[40];

	/* partboot's record, keyed by start LBA */
	struct part_meta *meta;
	size_t n_meta;

	/* snapshot of the table in partition order, rebuilt after each change */
	struct part_info *parts;
	size_t n_parts;
};

/* table.c */
int part_table_load(struct part_disk *d, struct pb_err *err);
int part_table_refresh(struct part_disk *d, struct pb_err *err);
uint64_t part_table_first_usable(const struct part_disk *d);
uint64_t part_table_end_usable(const struct part_disk *d);
uint64_t part_table_min_disk_size(enum part_table table, unsigned sector_size);
/*
 * Refuse (-EUCLEAN, naming the partitions) a table whose entries lie outside
 * the usable sectors or overlap: libfdisk takes a GPT entry with valid CRCs
 * as it is, and one covering LBA 0 or another guest would have every writer
 * write there. part_disk_open() checks before a writer gets the disk,
 * part_disk_write() before it writes.
 */
int part_table_check(const struct part_disk *d, struct pb_err *err);
/* libfdisk's type for t on d's label (GPT GUID or dos byte), or NULL. */
struct fdisk_parttype *part_type_to_fdisk(const struct part_disk *d, enum part_type t);
/* Name-based identifier: SHA-1 UUID of "SEED/WHAT[/NAME]" in partboot's namespace. */
void part_seed_uuid(const char *seed, const char *what, const char *name, char out[37]);

/* edit.c */
/* Change the type of an existing partition in memory (apply --force). */
int part_table_set_type(struct part_disk *d, const struct part_info *p, enum part_type type,
			struct pb_err *err);

/* record.c */
uint32_t part_crc32(uint32_t crc, const void *buf, size_t len);
/* A seed the record can keep: 1 to PART_SEED_MAX bytes, no control characters. */
bool part_seed_valid(const char *seed);
/* seed may be NULL (none kept). -ENOSPC when it all does not fit, -EINVAL for a bad seed. */
int part_record_encode(const struct part_meta *m, size_t n, const char *seed, uint8_t out[PART_RECORD_SIZE]);
/*
 * *ret and *ret_seed (NULL when none) are malloc'ed. -ENOENT without the
 * magic, -EBADMSG when damaged or of another version.
 */
int part_record_decode(const uint8_t in[PART_RECORD_SIZE], struct part_meta **ret, size_t *ret_n, char **ret_seed);
uint64_t part_record_offset(unsigned sector_size);
/* The in-memory record: the entry of the partition starting at lba, or NULL. */
struct part_meta *part_meta_find(struct part_disk *d, uint64_t lba);
void part_meta_remove(struct part_disk *d, uint64_t lba);
/* Add (or replace) src's entry. */
void part_meta_add(struct part_disk *d, const struct part_meta *src);
/* The record as it must be written: one entry per partition that needs one (*ret_needed: any). */
int part_record_build(struct part_disk *d, uint8_t out[PART_RECORD_SIZE], bool *ret_needed, struct pb_err *err);

/* gpt.c */
/*
 * Check both GPT headers and their entry arrays on the disk; a damaged one
 * sets d->gpt_damaged and returns -EBADMSG with what is wrong in err.
 */
int part_gpt_check(struct part_disk *d, struct pb_err *err);

#endif
