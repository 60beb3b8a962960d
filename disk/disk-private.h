/* SPDX-License-Identifier: MIT */
/* Inside disk/: the context object and helpers shared by its files. Other folders include disk.h. */
#ifndef PARTBOOT_DISK_PRIVATE_H
#define PARTBOOT_DISK_PRIVATE_H

#include "disk.h"

struct disk {
	struct part_disk *d;
	char *path;            /* as the caller gave it, for messages */
	struct disk_diag diag;
};

/*
 * The longest kernel command line Linux on x86 keeps: COMMAND_LINE_SIZE
 * (2048, arch/x86/include/asm/setup.h) less its NUL. GRUB cuts a longer one
 * silently, the kernel keeps its start; partboot says so.
 */
#define DISK_CMDLINE_MAX 2047

/* A warning or a step note through the context's callbacks (formatted; dropped when unset). */
void disk_warn(const struct disk *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void disk_note(const struct disk *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The name partition p goes by ("deb12", or "3" when it has none) into buf,
 * and "DISK: partition 'NAME'" for messages into where (appended).
 */
void disk_part_name(const struct part_info *p, char *buf, size_t len);
void disk_part_where(const struct disk *k, const struct part_info *p, struct strbuf *where);

/* The fs/ view of partition p of k (strings borrowed from k, p and where). */
struct fs_target disk_target(const struct disk *k, const struct part_info *p, const char *where,
			     const char *name);

/* Wrap an existing part_disk in a context (apply's planner opened it itself); takes d. */
int disk_adopt(struct part_disk *d, const char *path, const struct disk_diag *diag, struct disk **ret,
	       struct pb_err *err);

/* guest.c: the guest of one partition (what disk_guest_scan() does for each). */
int disk_guest_probe(struct disk *k, const struct part_info *p, struct disk_guest *ret);
void disk_guest_release(struct disk_guest *g);

/* part.c: disk_mkfs() on a partition already found; refresh false leaves the menu to the caller. */
int disk_mkfs_part(struct disk *k, const struct part_info *p, enum fs_kind kind, const char *label, bool refresh,
		   enum fs_kind *ret_kind, struct pb_err *err);

/*
 * install-check.c: "debootstrap:SUITE[:VARIANT]" split (a malloc'ed copy in
 * *ret_spec that suite and variant point into); -EINVAL with a message.
 */
int disk_debootstrap_parse(const char *source, char **ret_spec, const char **ret_suite, const char **ret_variant,
			   struct pb_err *err);

/* install-check.c: one install's state, shared by install.c and install-vm.c. */
struct disk_install_ctx {
	struct disk *k;
	struct part_info p;
	char name[80];          /* the partition's name (or number) */
	struct strbuf where;    /* "DISK: partition 'NAME'" */
	struct fs_target t;
	const char *label;      /* for a new filesystem */
	char hostname[64];
	bool locked;            /* the partition lock is ours */
};
/* Check o, find NAME, refuse a partition that cannot hold a guest; fill c. Writes nothing. */
int disk_install_begin(struct disk *k, const char *name, const struct disk_install_opts *o,
		       struct disk_install_ctx *c, struct pb_err *err);
/* Check the partition is unused and lock it. */
int disk_install_lock(struct disk_install_ctx *c, struct pb_err *err);
void disk_install_end(struct disk_install_ctx *c);

/* import.c: disk_install() from disk:IMAGE[:PARTITION]. */
int disk_install_image(struct disk *k, const char *name, const struct disk_install_opts *o,
		       struct disk_install_result *ret, struct pb_err *err);

/* install-vm.c: disk_install() with o->via_vm. */
int disk_install_via_vm(struct disk *k, const char *name, const struct disk_install_opts *o,
			struct disk_install_result *ret, struct pb_err *err);

/*
 * op.c: one whole-guest operation's state (resize, move, clone, snapshot,
 * rollback, export, import): the partition, its name and "DISK: partition
 * 'NAME'", its fs/ target and its guest as the model sees it.
 */
struct disk_op {
	struct disk *k;
	struct part_info p;
	char name[80];
	struct strbuf where;
	struct fs_target t;     /* strings borrowed from k and where */
	struct disk_guest g;
	bool probed, locked;
};
/* Find NAME and probe its guest; nothing written. disk_op_end() it whatever this returns. */
int disk_op_begin(struct disk *k, const char *name, struct disk_op *c, struct pb_err *err);
/* Refuse anything but a guest (complete: a complete one), with a message naming the partition. */
int disk_op_need_guest(struct disk_op *c, bool complete, struct pb_err *err);
/* Check the partition is unused and lock its range (refuses a guest running in a VM). */
int disk_op_lock(struct disk_op *c, struct pb_err *err);
void disk_op_end(struct disk_op *c);
/*
 * The folder snapshots of k go to: dir when given; else DISK.snapshots for
 * an image file, /var/lib/partboot/snapshots/DISK-ID for a block device
 * (made, with its parents, when make). Appended to ret.
 */
int disk_snapshot_dir(struct disk *k, const char *dir, bool make, struct strbuf *ret, struct pb_err *err);
/* The context's progress callback for fs/. */
void disk_op_progress(const struct disk *k, fs_progress_fn *ret_fn, void **ret_userdata);

#endif
