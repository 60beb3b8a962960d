/* SPDX-License-Identifier: MIT */
/*
 * Guests written by someone else: an OS installer booted in the VM runner
 * (disk_install() with via_vm, `partboot install --via-vm`) fills the partition
 * itself, so partboot only marks the guest before and finishes it after.
 *
 *   fs_mark_incomplete()  before the installer runs: an empty ext4 (mke2fs)
 *                         holding /.partboot-incomplete, so list, the boot
 *                         menu and the VM runner see an install under way;
 *                         after a failed install: the marker into whatever
 *                         ext2/3/4 filesystem the installer left.
 *   fs_finish_install()   after it powered off with a Linux root in place:
 *                         the same after-install steps and complete marker
 *                         as every fs_install(), by running fs_install() on
 *                         the existing filesystem with an empty tar stream.
 *
 * Touches the disk: only inside the target, through fs_mkfs() and the
 * range-checked I/O layer (io.c), like every fs/ writer.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "fs-private.h"

/* Create the (empty, 0600) marker in the root directory, flushed before returning. */
static errcode_t marker_add(ext2_filsys e2)
{
	struct ext2_inode inode = { 0 };
	ext2_ino_t ino;
	errcode_t rc;

	rc = ext2fs_lookup(e2, EXT2_ROOT_INO, FS_MARKER_NAME, (int)strlen(FS_MARKER_NAME), NULL, &ino);
	if (rc == 0)
		return 0; /* already there */
	rc = ext2fs_new_inode(e2, EXT2_ROOT_INO, LINUX_S_IFREG | 0600, NULL, &ino);
	if (rc)
		return rc;
	inode.i_mode = LINUX_S_IFREG | 0600;
	inode.i_links_count = 1;
	inode.i_atime = inode.i_ctime = inode.i_mtime = (uint32_t)e2->now ? (uint32_t)e2->now : (uint32_t)time(NULL);
	if (ext2fs_has_feature_extents(e2->super)) {
		ext2_extent_handle_t h;

		rc = ext2fs_extent_open2(e2, ino, &inode, &h);
		if (rc)
			return rc;
		ext2fs_extent_free(h);
	}
	rc = ext2fs_write_new_inode(e2, ino, &inode);
	if (rc)
		return rc;
	ext2fs_inode_alloc_stats2(e2, ino, +1, 0);
	rc = ext2fs_link(e2, EXT2_ROOT_INO, FS_MARKER_NAME, ino, EXT2_FT_REG_FILE);
	if (rc == EXT2_ET_DIR_NO_SPACE) {
		rc = ext2fs_expand_dir(e2, EXT2_ROOT_INO);
		if (!rc)
			rc = ext2fs_link(e2, EXT2_ROOT_INO, FS_MARKER_NAME, ino, EXT2_FT_REG_FILE);
	}
	if (!rc)
		rc = ext2fs_flush(e2);
	return rc;
}

/* Remove the marker when present (normally empty: then only the inode is freed). */
static errcode_t marker_drop(ext2_filsys e2)
{
	struct ext2_inode inode;
	ext2_ino_t ino;
	errcode_t rc;

	rc = ext2fs_lookup(e2, EXT2_ROOT_INO, FS_MARKER_NAME, (int)strlen(FS_MARKER_NAME), NULL, &ino);
	if (rc == EXT2_ET_FILE_NOT_FOUND)
		return 0;
	if (rc)
		return rc;
	rc = ext2fs_read_inode(e2, ino, &inode);
	if (rc)
		return rc;
	rc = ext2fs_unlink(e2, EXT2_ROOT_INO, FS_MARKER_NAME, ino, 0);
	if (rc)
		return rc;
	if (inode.i_links_count > 0)
		inode.i_links_count--;
	if (inode.i_links_count == 0) {
		inode.i_dtime = (uint32_t)time(NULL);
		rc = ext2fs_write_inode(e2, ino, &inode);
		if (rc)
			return rc;
		if (ext2fs_inode_has_valid_blocks2(e2, &inode)) {
			rc = ext2fs_punch(e2, ino, &inode, NULL, 0, ~0ULL);
			if (rc)
				return rc;
		}
		ext2fs_inode_alloc_stats2(e2, ino, -1, 0);
	} else {
		rc = ext2fs_write_inode(e2, ino, &inode);
	}
	return rc;
}

/*
 * Before fs_install() on what an installer left: no marker (see
 * fs_finish_install()), and the extents feature on. partboot's writer
 * (entry.c, data.c) writes extent-mapped files only; an ext2/ext3 filesystem
 * (busybox mke2fs, an installer's choice) gets the feature turned on exactly
 * as `tune2fs -O extents` does: a superblock flag, existing files stay
 * block-mapped, new ones use extents. The guest then needs the ext4 driver,
 * which mounts ext2/3 anyway in every current distribution kernel.
 */
static errcode_t finish_prepare(ext2_filsys e2)
{
	errcode_t rc = marker_drop(e2);

	if (!rc && !ext2fs_has_feature_extents(e2->super)) {
		ext2fs_set_feature_extents(e2->super);
		ext2fs_mark_super_dirty(e2);
	}
	return rc;
}

/* Open the target read-write with its bitmaps, run fn, close (flush). */
static int with_fs(const struct fs_target *t, errcode_t (*fn)(ext2_filsys), const char *what, struct pb_err *err)
{
	ext2_filsys e2 = NULL;
	errcode_t rc;
	int r, r2;

	r = fs_ext2_open(t, true, &e2, err);
	if (r < 0)
		return r;
	rc = ext2fs_read_bitmaps(e2);
	if (!rc)
		rc = fn(e2);
	r = rc ? fs_err_ext2(err, rc, "%s: cannot %s", t->where, what) : 0;
	{
		struct pb_err cerr = PB_ERR_INIT;

		r2 = fs_ext2_close(e2, t, &cerr);
		if (r2 < 0 && r >= 0)
			r = pb_err_set(err, r2, "%s", pb_err_msg(&cerr));
		pb_err_clear(&cerr);
	}
	return r;
}

int fs_mark_incomplete(const struct fs_target *t, const struct fs_mkfs_opts *mkfs, struct pb_err *err)
{
	int r;

	if (mkfs) {
		struct fs_mkfs_opts mo = *mkfs;

		mo.kind = FS_KIND_EXT4;
		r = fs_mkfs(t, &mo, err);
		if (r < 0)
			return r;
	}
	return with_fs(t, marker_add, "mark the install as under way", err);
}

int fs_finish_install(const struct fs_target *t, const struct fs_install_opts *opts, struct pb_err *err)
{
	struct fs_install_opts io = *opts;
	static const char end_of_archive[1024]; /* an empty tar: two zero records */
	int p[2];
	int r;

	/*
	 * fs_install() replaces a filesystem that still holds the marker (an
	 * interrupted install), so ours goes first; fs_install() puts it back
	 * at once and removes it only after the after-install steps.
	 */
	r = with_fs(t, finish_prepare, "prepare the installed filesystem", err);
	if (r < 0)
		return r;
	if (pipe2(p, O_CLOEXEC) < 0)
		return pb_err_set(err, -errno, "cannot create a pipe: %s", strerror(errno));
	/* 1 KiB always fits a pipe's buffer: written before reading starts, no thread needed */
	if (write(p[1], end_of_archive, sizeof(end_of_archive)) != (ssize_t)sizeof(end_of_archive)) {
		r = pb_err_set(err, -EIO, "cannot write to a pipe: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return r;
	}
	close(p[1]);
	io.source = io.source ? io.source : "the installer";
	io.source_is_fd = true;
	io.source_fd = p[0];
	io.wipe = false;
	io.setup = true;
	io.source_end = NULL;
	r = fs_install(t, &io, err);
	close(p[0]);
	return r;
}
