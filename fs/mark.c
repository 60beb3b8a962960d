/* SPDX-License-Identifier: MIT */
/*
 * The incomplete marker around an operation on a whole guest (resize,
 * clone's and import's last steps): /.partboot-incomplete, as an install
 * leaves it (fs_guest_info() reads the guest as incomplete while it
 * exists), holding one line that names the operation ("resize\n"). An
 * install's marker is empty; the line lets a later run of the same
 * operation tell its own interrupted work from an install's and finish it
 * (fs_mark_get()).
 *
 * Touches the disk: one libext2fs session per call, through the
 * range-checked I/O layer; the marker is flushed before returning.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/macros.h"
#include "common/util.h"
#include "fs-private.h"

static errcode_t marker_lookup(ext2_filsys e2, ext2_ino_t *ret)
{
	return ext2fs_lookup(e2, EXT2_ROOT_INO, FS_MARKER_NAME, (int)strlen(FS_MARKER_NAME), NULL, ret);
}

static errcode_t marker_make(ext2_filsys e2, const char *why)
{
	struct ext2_inode inode = { 0 };
	uint32_t now = e2->now ? (uint32_t)e2->now : (uint32_t)time(NULL);
	ext2_file_t f;
	ext2_ino_t ino;
	unsigned got;
	errcode_t rc, rc2;

	rc = ext2fs_new_inode(e2, EXT2_ROOT_INO, LINUX_S_IFREG | 0600, NULL, &ino);
	if (rc)
		return rc;
	inode.i_mode = LINUX_S_IFREG | 0600;
	inode.i_links_count = 1;
	inode.i_atime = inode.i_ctime = inode.i_mtime = now;
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
	if (rc)
		return rc;
	rc = ext2fs_file_open(e2, ino, EXT2_FILE_WRITE, &f);
	if (rc)
		return rc;
	rc = ext2fs_file_write(f, why, (unsigned)strlen(why), &got);
	if (!rc && got != strlen(why))
		rc = EXT2_ET_SHORT_WRITE;
	rc2 = ext2fs_file_close(f);
	if (!rc)
		rc = rc2;
	/* On the disk before the operation it guards writes anything. */
	if (!rc)
		rc = ext2fs_flush(e2);
	return rc;
}

errcode_t fs_mark_add(ext2_filsys e2, const char *op)
{
	struct strbuf why = STRBUF_INIT;
	ext2_ino_t ino;
	errcode_t rc;

	if (marker_lookup(e2, &ino) == 0)
		return 0; /* already incomplete: whoever marked it, it stays so */
	strbuf_addf(&why, "%s\n", op);
	rc = marker_make(e2, why.buf);
	strbuf_release(&why);
	return rc;
}

errcode_t fs_mark_drop(ext2_filsys e2)
{
	struct ext2_inode inode;
	ext2_ino_t ino;
	errcode_t rc;

	rc = marker_lookup(e2, &ino);
	if (rc == EXT2_ET_FILE_NOT_FOUND)
		return 0;
	if (!rc)
		rc = ext2fs_read_inode(e2, ino, &inode);
	if (!rc)
		rc = ext2fs_unlink(e2, EXT2_ROOT_INO, FS_MARKER_NAME, ino, 0);
	if (rc)
		return rc;
	if (inode.i_links_count > 1) {
		inode.i_links_count--;
		return ext2fs_write_inode(e2, ino, &inode);
	}
	inode.i_links_count = 0;
	inode.i_dtime = e2->now ? (uint32_t)e2->now : (uint32_t)time(NULL);
	rc = ext2fs_write_inode(e2, ino, &inode);
	if (!rc && ext2fs_inode_has_valid_blocks2(e2, &inode))
		rc = ext2fs_punch(e2, ino, &inode, NULL, 0, ~0ULL);
	if (!rc)
		ext2fs_inode_alloc_stats2(e2, ino, -1, 0);
	return rc;
}

/* Open t read-write with its bitmaps (fixed time when seeded), run fn, close (flush). */
static int session(const struct fs_target *t, const char *seed, errcode_t (*fn)(ext2_filsys, const char *),
		   const char *arg, const char *what, struct pb_err *err)
{
	ext2_filsys e2 = NULL;
	int64_t stamp;
	errcode_t rc;
	int r;

	r = fs_ext2_open(t, true, &e2, err);
	if (r < 0)
		return r;
	if (pb_fixed_time(seed != NULL, &stamp))
		e2->now = (time_t)stamp;
	rc = ext2fs_read_bitmaps(e2);
	if (!rc)
		rc = fn(e2, arg);
	r = rc ? fs_err_ext2(err, rc, "%s: cannot %s", t->where, what) : 0;
	rc = ext2fs_close_free(&e2);
	if (rc && r >= 0)
		r = fs_err_ext2(err, rc, "%s: cannot %s", t->where, what);
	return r;
}

static errcode_t add_fn(ext2_filsys e2, const char *op)
{
	return fs_mark_add(e2, op);
}

static errcode_t drop_fn(ext2_filsys e2, const char *unused)
{
	return fs_mark_drop(e2);
}

int fs_mark_incomplete_for(const struct fs_target *t, const char *op, const char *seed, struct pb_err *err)
{
	return session(t, seed, add_fn, op, "mark the guest incomplete", err);
}

int fs_mark_complete(const struct fs_target *t, const char *seed, struct pb_err *err)
{
	return session(t, seed, drop_fn, NULL, "mark the guest complete", err);
}

int fs_mark_get(const struct fs_target *t, bool *ret_marked, char **ret_op, struct pb_err *err)
{
	ext2_filsys e2 = NULL;
	ext2_ino_t ino;
	char *data = NULL;
	size_t len = 0;
	errcode_t rc;
	int r;

	*ret_marked = false;
	if (ret_op)
		*ret_op = NULL;
	r = fs_ext2_open(t, false, &e2, err);
	if (r < 0)
		return r;
	rc = marker_lookup(e2, &ino);
	if (rc == 0) {
		struct ext2_inode inode;

		*ret_marked = true;
		/* At most a line: a marker that says more is not one of ours (and is not read). */
		if (ret_op && ext2fs_read_inode(e2, ino, &inode) == 0 && EXT2_I_SIZE(&inode) < 64 &&
		    fs_read_ino(e2, ino, 64, &data, &len) == 0) {
			data[strcspn(data, "\n")] = '\0';
			if (*data) {
				*ret_op = data;
				data = NULL;
			}
		}
	} else if (rc != EXT2_ET_FILE_NOT_FOUND) {
		r = fs_err_ext2(err, rc, "%s: cannot read the root directory", t->where);
	}
	free(data);
	ext2fs_close_free(&e2);
	return r;
}
