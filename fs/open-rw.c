/* SPDX-License-Identifier: MIT */
/*
 * A guest opened for in-place edits (fs_open_rw()): the target's ext4
 * read-write through the range-checked I/O layer (io.c), its bitmaps
 * loaded, refused when its journal needs recovery. The edits themselves
 * are write-file.c, mkdir.c, symlink.c and copy-tree.c.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/util.h"
#include "fs-private.h"

int fs_open_rw(const struct fs_target *t, const char *seed, struct fs **ret, struct pb_err *err)
{
	struct fs *fs;
	errcode_t rc;
	int r;

	fs = xcalloc(1, sizeof(*fs));
	fs->where = xstrdup(t->where ? t->where : t->path);
	r = fs_ext2_open(t, true, &fs->e2, err);
	if (r < 0)
		goto fail;
	/*
	 * libext2fs writes around the journal. A journal with transactions
	 * still to replay would, at the next mount, write its older blocks
	 * over our edits; the guest must have been shut down cleanly.
	 */
	if (ext2fs_has_feature_journal_needs_recovery(fs->e2->super)) {
		r = pb_err_set(err, -EUCLEAN,
			       "%s: the guest was not shut down cleanly (its journal needs recovery): boot it once "
			       "and power it off, or run e2fsck on it, before changing it",
			       fs->where);
		goto fail;
	}
	rc = ext2fs_read_bitmaps(fs->e2);
	if (rc) {
		r = fs_err_ext2(err, rc, "%s: cannot read the bitmaps", fs->where);
		goto fail;
	}
	if (pb_fixed_time(seed != NULL, &fs->now))
		fs->e2->now = (time_t)fs->now; /* what libext2fs stamps itself (s_wtime, ...) */
	else
		fs->now = (int64_t)time(NULL);
	fs->e2->umask = 022;
	fs->rw = true;
	*ret = fs;
	return 0;
fail:
	fs_free(fs);
	return r;
}

int fs_flush(struct fs *fs, struct pb_err *err)
{
	errcode_t rc;

	if (!fs->rw)
		return 0;
	rc = ext2fs_flush(fs->e2);
	if (rc)
		return fs_err_ext2(err, rc, "%s: cannot write the filesystem", fs->where);
	return 0;
}
