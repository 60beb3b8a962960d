/* SPDX-License-Identifier: MIT */
/*
 * part — the partition engine: one disk (image file or block device), its
 * partition table (GPT or dos, through libfdisk), and probing (libblkid).
 *
 * A struct part_disk is an open, locked disk. Every change (new table, add,
 * remove, resize) edits memory only; part_disk_write() is the one function
 * that writes the table to the disk, after the whole request was validated.
 * Nothing is written when a request is refused.
 *
 * Partitions are named: on GPT the name is the GPT partition name; on a dos
 * table, which has no names, partboot keeps names in its own record (see
 * docs/). Every function that takes a name also takes a partition number
 * ("3").
 */
#ifndef PARTBOOT_PART_H
#define PARTBOOT_PART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../common/strbuf.h"

struct part_disk;

enum part_table {
	PART_TABLE_NONE = 0,
	PART_TABLE_GPT,
	PART_TABLE_DOS,
};

enum part_type {
	PART_TYPE_UNKNOWN = 0, /* a type partboot did not make */
	PART_TYPE_ESP,
	PART_TYPE_BIOS_BOOT,
	PART_TYPE_ROOT, /* GPT: x86-64 root (Discoverable Partitions Spec); dos: 0x83 */
	PART_TYPE_SWAP,
	PART_TYPE_DATA, /* GPT: Linux filesystem data; dos: 0x83 */
};

/* A snapshot of one partition; strings are copies, valid as long as the struct. */
struct part_info {
	unsigned partno;     /* 1-based, as the kernel names it */
	char name[73];       /* GPT name or partboot's dos record; "" when none */
	char label[64];      /* filesystem label asked for at add time ("" = none) */
	enum part_type type;
	char type_str[40];   /* GPT type GUID or dos type "0x83" */
	uint64_t start;      /* bytes from the start of the disk */
	uint64_t size;       /* bytes */
	char uuid[37];       /* GPT partition GUID, or dos "xxxxxxxx-NN"; lower case */
};

/* Flags for part_disk_open(). */
enum {
	PART_OPEN_RDONLY = 1 << 0, /* shared lock, no writes */
	PART_OPEN_CREATE = 1 << 1, /* create a sparse image of create_size when missing */
	PART_OPEN_FORCE = 1 << 2,  /* accept a corrupt table (it may then be replaced) */
	PART_OPEN_NOWAIT = 1 << 3, /* fail at once when another partboot holds the lock */
};

/*
 * Open DISK (an image file or a block device) and lock it: an flock on image
 * files (exclusive unless RDONLY), O_EXCL on block devices. Waits a few
 * seconds for another partboot to let go, then fails with -EBUSY. Refuses a
 * directory, a disk in use (mounted, or backing a loop device, or a partition
 * of it mounted), and a disk with a corrupt table unless PART_OPEN_FORCE.
 * create_size is used only with PART_OPEN_CREATE. On success *ret owns the
 * disk; free it with part_disk_free().
 */
int part_disk_open(const char *path, unsigned flags, uint64_t create_size, struct part_disk **ret,
		   struct pb_err *err);
/*
 * part_disk_open() with messages naming the disk as display instead of by
 * its path (a dry run's scratch image speaks of the user's disk); display
 * NULL is part_disk_open().
 */
int part_disk_open_as(const char *path, const char *display, unsigned flags, uint64_t create_size,
		      struct part_disk **ret, struct pb_err *err);
/*
 * True when part_disk_open() created the image file: it did not exist and
 * this open made it (O_EXCL). A file another process made in the meantime
 * is not this open's to remove.
 */
bool part_disk_created(const struct part_disk *d);
/* Closes, unlocks and frees; accepts NULL. Unwritten changes are dropped. */
void part_disk_free(struct part_disk *d);

const char *part_disk_path(const struct part_disk *d);
uint64_t part_disk_size(const struct part_disk *d);
unsigned part_disk_sector_size(const struct part_disk *d);
bool part_disk_is_blockdev(const struct part_disk *d);
enum part_table part_disk_table(const struct part_disk *d);
/* Disk GUID (GPT) or "0x" + disk signature (dos); "" without a table. */
const char *part_disk_id(const struct part_disk *d);

/*
 * Start a new, empty table in memory (replacing any). seed, when non-NULL,
 * makes the disk identifier and every partition UUID added afterwards derive
 * from it (name-based UUIDs), so the same requests give the same bytes. The
 * seed is kept with the disk (partboot's record, written by
 * part_disk_write()): every later part_disk_open() of it starts with that
 * seed in use. -EINVAL for a seed the record cannot keep (more than 64
 * bytes, a control character).
 */
int part_disk_new_table(struct part_disk *d, enum part_table table, const char *seed, struct pb_err *err);
/*
 * The seed to use from now on, for this open only (--seed on a later verb);
 * the one kept with the disk does not change. NULL: random identifiers.
 */
void part_disk_set_seed(struct part_disk *d, const char *seed);
/* The seed in use (owned by d): the disk's own unless set otherwise, or NULL: identifiers are random. */
const char *part_disk_seed(const struct part_disk *d);
/* The name messages use for the disk (the path as given; owned by d). */
const char *part_disk_display(const struct part_disk *d);
/*
 * Name the disk differently in messages: a dry run opens a scratch image
 * but speaks of the user's disk.
 */
void part_disk_set_display(struct part_disk *d, const char *name);

/* Number of partitions; part_disk_get() takes 0..count-1 in partition order. */
size_t part_disk_count(const struct part_disk *d);
int part_disk_get(const struct part_disk *d, size_t index, struct part_info *ret);
/* Find by name or number; -ENOENT with a message naming disk and partition. */
int part_disk_find(const struct part_disk *d, const char *name_or_number, struct part_info *ret,
		   struct pb_err *err);

/* What part_disk_add() is asked for. size 0 means "the largest free run". */
struct part_spec {
	const char *name;
	enum part_type type;
	uint64_t size;
	const char *label; /* may be NULL */
	uint64_t start;    /* bytes, 1 MiB aligned; 0 = the first free run that fits */
};

/*
 * Add a partition (1 MiB aligned) in memory. Refuses a duplicate name, a
 * second ESP or BIOS boot partition, a size of zero (use 0 only for "rest"),
 * a size larger than the largest free run (the message says both), a full
 * table. On success *ret (may be NULL) describes the new partition.
 */
int part_disk_add(struct part_disk *d, const struct part_spec *spec, struct part_info *ret,
		  struct pb_err *err);
int part_disk_remove(struct part_disk *d, const char *name_or_number, struct pb_err *err);
/*
 * Give a partition another name (GPT name, or partboot's record on dos).
 * Refuses a name that is taken, empty, a number, or too long.
 */
int part_disk_rename(struct part_disk *d, const char *name_or_number, const char *new_name, struct pb_err *err);
/*
 * Grow into the free space that follows, or shrink. min_size is the smallest
 * size allowed (the filesystem inside; 0 = none).
 */
int part_disk_resize(struct part_disk *d, const char *name_or_number, uint64_t size, uint64_t min_size,
		     struct pb_err *err);

/*
 * Give partition NAME another start (1 MiB aligned; its size, number, UUID,
 * name and type stay), in memory: the table entry only, never the data
 * (disk_move() moves the data). Refuses a start that is not aligned, before
 * the first usable byte, runs past the end, or overlaps another partition.
 */
int part_disk_move(struct part_disk *d, const char *name_or_number, uint64_t start, struct pb_err *err);

/* Write the table in memory to the disk: the only function that writes. */
int part_disk_write(struct part_disk *d, struct pb_err *err);

/*
 * Refuse when the partition is mounted or held by something else (a block
 * device's partition node mounted or in use); image files check loop devices.
 */
int part_disk_check_unused(const struct part_disk *d, const struct part_info *p, struct pb_err *err);

/*
 * Lock one partition's byte range (an OFD write lock on the disk) until
 * part_disk_free(): a second partboot that wants the same partition (another
 * VM runner, an install) gets -EBUSY with a message naming disk and partition.
 */
int part_disk_lock_partition(struct part_disk *d, const struct part_info *p, struct pb_err *err);

/*
 * Refuse (-EBUSY, naming the holder: "partboot run (pid 1234)") a change of
 * partition p's range, or of the whole table when p is NULL, while another
 * open of the disk holds a partition lock there (part_disk_lock_partition():
 * a VM runner keeps its partition locked after it let go of the disk).
 * Tested with F_OFD_GETLK, which does not see the caller's own locks.
 * remove, resize, the type change and a new table test it themselves.
 */
int part_disk_check_unlocked(const struct part_disk *d, const struct part_info *p, struct pb_err *err);

/* Let go of a lock part_disk_lock_partition() took on p. */
void part_disk_unlock_partition(struct part_disk *d, const struct part_info *p);

/*
 * Let go of the whole-disk lock taken by part_disk_open() while keeping the
 * disk open and any partition locks (a VM runner holds only its partition for
 * the VM's lifetime). No part_disk_write() is possible afterwards.
 */
int part_disk_unlock(struct part_disk *d);

/* The disk's file descriptor (read-write unless opened RDONLY). Owned by d. */
int part_disk_fd(const struct part_disk *d);

/*
 * Where BIOS GRUB's core.img may be embedded: the BIOS boot partition on GPT,
 * the gap after the MBR on dos (up to partboot's name record). Bytes.
 */
int part_disk_embed_area(const struct part_disk *d, uint64_t *ret_start, uint64_t *ret_size, struct pb_err *err);

/* Probe a partition with libblkid. Strings are "" when not found. */
struct part_probe {
	char fstype[32];
	char label[64];
	char uuid[64];
};
int part_disk_probe(const struct part_disk *d, const struct part_info *p, struct part_probe *ret);

/* "gpt", "dos" or "none" (static). */
const char *part_table_to_string(enum part_table t);

/* Parse and name types: "esp", "bios-boot", "root", "swap", "data". */
int part_type_from_string(const char *s, enum part_type *ret);
const char *part_type_to_string(enum part_type t);

/*
 * Layout files (docs/part.md): an INI file with one [disk] section and one
 * [partition NAME] section per partition. part_layout_parse() reads and
 * validates the whole file; every string is owned by the layout.
 */
/* Keys of struct part_layout_partition.guest, in this order. */
enum part_layout_guest_key {
	PART_LAYOUT_ROOT_PASSWORD_FILE = 0,
	PART_LAYOUT_ROOT_PASSWORD,
	PART_LAYOUT_USER,
	PART_LAYOUT_USER_PASSWORD_FILE,
	PART_LAYOUT_SSH_KEY,
	PART_LAYOUT_FIRSTBOOT,
	PART_LAYOUT_PACKAGES,
	PART_LAYOUT_CLOUD_INIT,
	PART_LAYOUT_META_DATA,
	PART_LAYOUT_GUEST_KEYS,
};

struct part_layout_partition {
	char *name;
	enum part_type type;
	uint64_t size;  /* bytes, 0 = "rest" (the largest free run) */
	char *label;    /* filesystem label; NULL when absent (so are the four below) */
	char *fs;       /* "ext4", "vfat", "swap" or "none" */
	char *source;   /* where the guest comes from (used by install) */
	char *hostname;
	char *cmdline;  /* extra kernel command line */
	unsigned line;  /* line of the [partition NAME] header, for messages */
	/* line of each key, 0 when absent (for messages about the values) */
	unsigned type_line, size_line, label_line, fs_line, source_line, hostname_line, cmdline_line;
	/*
	 * What goes into the guest (disk/customize.c), indexed by enum
	 * part_layout_guest_key: the values as written (paths not resolved),
	 * NULL when absent; root-password is checked to be locked or disabled.
	 */
	char *guest[PART_LAYOUT_GUEST_KEYS];
	unsigned guest_line[PART_LAYOUT_GUEST_KEYS];
};


struct part_layout {
	char *path;
	uint64_t size;         /* [disk] size; 0 when absent */
	enum part_table table; /* [disk] table; PART_TABLE_GPT when absent */
	char *seed;            /* [disk] seed; NULL when absent */
	/*
	 * [disk] bootloader = bios, uefi; auto (also when the key is absent and
	 * the layout has an esp) is resolved here: uefi, and bios on a dos
	 * table or with a bios-boot partition; none: both false.
	 */
	bool bios, uefi;
	bool bootloader_auto;  /* bios and uefi were chosen by auto */
	bool secure_boot;      /* [disk] secure_boot = yes: UEFI through Debian's signed shim and GRUB */
	char *default_guest;   /* [disk] default: a partition name; NULL when absent */
	struct part_layout_partition *partitions; /* in file order */
	size_t n_partitions;
	/* line of each [disk] key, 0 when absent (for messages about the values) */
	unsigned size_line, table_line, seed_line, bootloader_line, default_line, secure_boot_line;
};

/*
 * Parse LAYOUT. Refuses, with "FILE:LINE: cause" in err: unknown sections or
 * keys, bad values, duplicate sections or keys, a partition without type or
 * size, more than one "rest", a malformed line, a truncated file (no newline
 * at its end). On success *ret is owned by the caller: part_layout_free().
 */
int part_layout_parse(const char *path, struct part_layout **ret, struct pb_err *err);
void part_layout_free(struct part_layout *l);

enum {
	PART_APPLY_FORCE = 1 << 0, /* change partitions whose type or size differ, replace another table type */
};

/* What part_layout_apply() did to the table, in order. */
enum part_layout_step_kind {
	PART_LAYOUT_TABLE,      /* a new table (of the layout's kind) */
	PART_LAYOUT_KEEP,       /* a partition of the layout already there (resized or retyped with FORCE) */
	PART_LAYOUT_ADD,        /* a partition added */
	PART_LAYOUT_KEEP_OTHER, /* a partition the layout does not name, kept */
};
struct part_layout_step {
	enum part_layout_step_kind kind;
	struct part_info p; /* the partition afterwards (zeroed for TABLE) */
};
struct part_layout_steps {
	struct part_layout_step *v;
	size_t n;
};
/* Free the steps' array and zero it; accepts NULL. */
void part_layout_steps_release(struct part_layout_steps *steps);

/*
 * Make the table in memory match the layout: create the table when the disk
 * has none, add the partitions that are missing, keep those that match, and
 * refuse (before changing anything) a partition whose type or size differs
 * unless PART_APPLY_FORCE (a partition in which libblkid finds no
 * filesystem may change: nothing is lost). A partition that does not fit
 * is refused with "LAYOUT:LINE: ..." naming its section. seed (or else the
 * layout's) seeds identifiers.
 * Appends one step per action to plan (may be NULL; zero-initialised by the
 * caller, released with part_layout_steps_release()). Writes nothing: call
 * part_disk_write() afterwards (or not, for a dry run).
 */
int part_layout_apply(struct part_disk *d, const struct part_layout *l, const char *seed, unsigned flags,
		      struct part_layout_steps *plan, struct pb_err *err);

#endif
