/* SPDX-License-Identifier: MIT */
/*
 * fs — filesystems inside partitions, without mounting: make them (ext4,
 * vfat, swap), fill them from a tar stream or a directory (libarchive +
 * libext2fs, in-process), and read files back out.
 *
 * Everything addresses a struct fs_target: a disk path plus the byte range of
 * one partition. Every write goes through one I/O layer that refuses writes
 * outside that range.
 */
#ifndef PARTBOOT_FS_H
#define PARTBOOT_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

/* One partition of one disk. Strings are borrowed; the caller keeps them alive. */
struct fs_target {
	const char *path;  /* image file or block device */
	uint64_t offset;   /* bytes */
	uint64_t size;     /* bytes */
	const char *where; /* for messages, e.g. "disk.img: partition 'deb12'" */
};

enum fs_kind {
	FS_KIND_NONE = 0,
	FS_KIND_EXT4,
	FS_KIND_VFAT,
	FS_KIND_SWAP,
};

int fs_kind_from_string(const char *s, enum fs_kind *ret);
const char *fs_kind_to_string(enum fs_kind k);

struct fs_mkfs_opts {
	enum fs_kind kind;
	const char *label; /* NULL = none */
	const char *seed;  /* NULL = random UUIDs; else UUID, hash seed and times derive from seed */
};

/* Make an empty filesystem in the target. */
int fs_mkfs(const struct fs_target *t, const struct fs_mkfs_opts *opts, struct pb_err *err);

/* Progress of a long fill: done and total bytes (total 0 when unknown). */
typedef void (*fs_progress_fn)(uint64_t done, uint64_t total, void *userdata);

struct fs_install_opts {
	const char *source;  /* tar archive (plain/gz/xz/zst), "-" for stdin, or a directory */
	bool wipe;           /* make a new filesystem even when one exists */
	const char *label;   /* for a new filesystem */
	const char *seed;    /* see fs_mkfs_opts */
	fs_progress_fn progress;
	void *userdata;
	/* Called for a warning (a socket skipped, ...); may be NULL. */
	void (*warn)(const char *msg, void *userdata);
};

/*
 * Fill the target's ext4 filesystem from a source (making it first when there
 * is none or wipe is set). The guest is marked incomplete before the first
 * file and complete only at the very end; see fs_guest_info().
 */
int fs_install(const struct fs_target *t, const struct fs_install_opts *opts, struct pb_err *err);

/* A filesystem open for reading (ext4 through libext2fs). */
struct fs;

int fs_open(const struct fs_target *t, struct fs **ret, struct pb_err *err);
void fs_free(struct fs *fs);

/*
 * Read a whole regular file; symlinks are followed inside the guest (an
 * absolute link resolves against the guest's root, never the host's).
 * *ret_data is malloc'ed, owned by the caller, NUL-terminated beyond len.
 */
int fs_read_file(struct fs *fs, const char *path, char **ret_data, size_t *ret_len, struct pb_err *err);

struct fs_dirent {
	const char *name;
	char type; /* 'f' file, 'd' dir, 'l' symlink, 'c', 'b', 'p', 's', '?' */
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t mtime;
	const char *link; /* symlink target, or NULL */
};
typedef int (*fs_dir_fn)(const struct fs_dirent *e, void *userdata);
/* Call fn for each entry of a directory (no "." or ".."); fn returning <0 stops. */
int fs_list_dir(struct fs *fs, const char *path, fs_dir_fn fn, void *userdata, struct pb_err *err);

/* What a guest filesystem holds, for list, the boot menu and the VM runner. */
struct fs_kernel {
	char version[128];   /* "6.1.0-28-amd64" */
	char kernel[256];    /* "/boot/vmlinuz-6.1.0-28-amd64" */
	char initrd[256];    /* "/boot/initrd.img-6.1.0-28-amd64" or "" */
};
struct fs_guest_info {
	bool complete;          /* false while an install is under way or was interrupted */
	char pretty_name[128];  /* PRETTY_NAME from os-release, "" when none */
	char cmdline[512];      /* /etc/kernel/cmdline, "" when none */
	size_t n_kernels;
	struct fs_kernel kernels[8]; /* newest first; /vmlinuz and /initrd.img links win */
};
int fs_guest_info(struct fs *fs, struct fs_guest_info *ret, struct pb_err *err);

/* The smallest size the filesystem can live in (for refusing a shrink). */
int fs_min_size(struct fs *fs, uint64_t *ret, struct pb_err *err);

#endif
