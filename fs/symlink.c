/* SPDX-License-Identifier: MIT */
/* fs_symlink(): a symlink in the guest, new or replacing a file or link (edit.c says how). */
#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "fs-private.h"

int fs_symlink(struct fs *fs, const char *path, const char *target, const struct fs_meta *meta,
	       struct pb_err *err)
{
	_cleanup_(strbuf_release) struct strbuf scratch = STRBUF_INIT;
	_cleanup_free_ char *copy = NULL;
	struct fs_meta m = *meta;
	const char *name;
	ext2_ino_t dir, ino = 0;
	errcode_t rc;
	int r;

	r = fs_edit_check_rw(fs, path, err);
	if (r < 0)
		return r;
	if (!*target || strlen(target) >= fs->e2->blocksize)
		return pb_err_set(err, -EINVAL, "%s: %s: a symlink target of 1 to %u bytes", fs->where, path,
				  fs->e2->blocksize - 1);
	r = fs_edit_parent(fs, path, &scratch, &dir, &name, err);
	if (r < 0)
		return r;
	copy = xstrdup(target); /* ext2fs_symlink() takes a char * */
	/* Unlinked first (no name): fs_edit_install() puts it in place. */
	rc = ext2fs_new_inode(fs->e2, dir, LINUX_S_IFLNK | 0777, NULL, &ino);
	if (!rc)
		rc = ext2fs_symlink(fs->e2, dir, ino, NULL, copy);
	if (!rc) {
		m.mode = 0777;
		rc = fs_edit_set_meta(fs, ino, &m);
	}
	if (rc) {
		if (fs_errno_from_ext2(rc) == -ENOSPC)
			return pb_err_set(err, -ENOSPC, "%s: no space left for %s", fs->where, path);
		return fs_err_ext2(err, rc, "%s: cannot make the symlink %s", fs->where, path);
	}
	return fs_edit_install(fs, dir, name, ino, EXT2_FT_SYMLINK, path, err);
}
