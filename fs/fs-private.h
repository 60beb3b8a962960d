/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the fs/ files; never included outside fs/.
 */
#ifndef PARTBOOT_FS_PRIVATE_H
#define PARTBOOT_FS_PRIVATE_H

#include <ext2fs/ext2fs.h>

#include "fs.h"

/* The marker that says "an install is under way or was interrupted". */
#define FS_MARKER_NAME ".partboot-incomplete"

struct fs {
	ext2_filsys e2;
	char *where;
};

/*
 * io.c: the range-checked I/O layer. fs_ext2_open() opens the target's
 * filesystem through pb_range_io_manager, which maps every block into
 * [offset, offset+size) of the disk and refuses anything outside.
 */
extern io_manager pb_range_io_manager;
int fs_ext2_open(const struct fs_target *t, bool rw, ext2_filsys *ret, struct pb_err *err);
/* Close; for a read-write filesystem this flushes. Returns 0 or -errno. */
int fs_ext2_close(ext2_filsys fs, const struct fs_target *t, struct pb_err *err);

/*
 * The one place libext2fs's errcode_t becomes -errno: records
 * "WHERE: what: library message" in err and returns the -errno.
 */
int fs_err_ext2(struct pb_err *err, errcode_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int fs_errno_from_ext2(errcode_t code);

/* Raw range-checked writes for what libext2fs does not write (swap header, wiping). */
int fs_io_pwrite(const struct fs_target *t, uint64_t off, const void *buf, size_t len, struct pb_err *err);
/* Make [off, off+len) of the target read as zeros (punch a hole in an image file, else write zeros). */
int fs_io_zero(const struct fs_target *t, uint64_t off, uint64_t len, struct pb_err *err);

/* mkfs.c */
/* The filesystem kind libblkid finds in the target (FS_KIND_NONE when none or another kind). */
int fs_probe_kind(const struct fs_target *t, enum fs_kind *ret, char *ret_type, size_t type_len,
		  struct pb_err *err);
/* The fixed "now" for a seeded run: SOURCE_DATE_EPOCH, else a constant. */
int64_t fs_seed_time(void);
/* A name-based UUID from the seed, the partition (name or offset) and what it is for. */
void fs_seed_uuid(const struct fs_target *t, const char *seed, const char *what, unsigned char ret[16]);

/* read.c */
/* Resolve path inside the guest (absolute links resolve against the guest's root). Returns errcode_t. */
errcode_t fs_lookup(ext2_filsys e2, const char *path, bool follow, ext2_ino_t *ret);
/* Read a symlink's target into sb. */
errcode_t fs_read_link(ext2_filsys e2, ext2_ino_t ino, struct ext2_inode *inode, struct strbuf *sb);
/* Read a whole regular file by inode; returns errcode_t, -1-ish never. */
errcode_t fs_read_ino(ext2_filsys e2, ext2_ino_t ino, char **ret_data, size_t *ret_len);

/* populate.c */
struct populate;
/*
 * Write a regular file (root:root, mode, "now") into the guest being
 * installed, replacing a file or symlink of that name; missing parents are
 * made. For the after-install steps. Returns 0 or -errno with err set.
 */
int fs_populate_put_file(struct populate *p, const char *path, const void *data, size_t len, unsigned mode);

/* test-pause.c */
/*
 * Test hook: when PARTBOOT_TEST_PAUSE equals stage ("mkfs", "fill",
 * "setup"), stop the process (SIGSTOP) so a test can kill -9 it there.
 */
void fs_test_pause(const char *stage);

/* setup.c */
/*
 * The after-install steps (see fs_install_opts.setup): fstab, hostname,
 * hosts, kernel/cmdline, through fs_populate_put_file(). Returns 0 or -errno.
 */
int fs_setup_guest(struct populate *p, ext2_filsys e2, const struct fs_target *t, const struct fs_install_opts *o,
		   struct pb_err *err);

#endif
