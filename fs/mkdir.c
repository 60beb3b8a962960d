/* SPDX-License-Identifier: MIT */
/* fs_mkdir(): a directory in the guest, with its owner and mode. */
#include <errno.h>
#include <string.h>

#include "common/macros.h"
#include "fs-private.h"

int fs_mkdir(struct fs *fs, const char *path, const struct fs_meta *meta, unsigned flags, struct pb_err *err)
{
	_cleanup_(strbuf_release) struct strbuf scratch = STRBUF_INIT;
	struct ext2_inode inode;
	const char *name;
	ext2_ino_t dir, ino;
	errcode_t rc;
	int r;

	r = fs_edit_check_rw(fs, path, err);
	if (r < 0)
		return r;
	r = fs_edit_parent(fs, path, &scratch, &dir, &name, err);
	if (r < 0)
		return r;
	rc = ext2fs_lookup(fs->e2, dir, name, (int)strlen(name), NULL, &ino);
	if (!rc) {
		rc = ext2fs_read_inode(fs->e2, ino, &inode);
		if (rc)
			return fs_err_ext2(err, rc, "%s: %s", fs->where, path);
		if ((flags & FS_MKDIR_EXIST_OK) && LINUX_S_ISDIR(inode.i_mode))
			return 0;
		return pb_err_set(err, -EEXIST, "%s: %s already exists in the guest", fs->where, path);
	}
	if (rc != EXT2_ET_FILE_NOT_FOUND)
		return fs_err_ext2(err, rc, "%s: %s", fs->where, path);
	rc = ext2fs_new_inode(fs->e2, dir, LINUX_S_IFDIR | 0755, NULL, &ino);
	while (!rc) {
		/* ext2fs_mkdir accounts for nothing before its link succeeds, so a retry is clean. */
		rc = ext2fs_mkdir(fs->e2, dir, ino, name);
		if (rc != EXT2_ET_DIR_NO_SPACE)
			break;
		rc = ext2fs_expand_dir(fs->e2, dir);
	}
	if (!rc)
		rc = fs_edit_set_meta(fs, ino, meta);
	if (rc) {
		if (fs_errno_from_ext2(rc) == -ENOSPC)
			return pb_err_set(err, -ENOSPC, "%s: no space left for %s", fs->where, path);
		return fs_err_ext2(err, rc, "%s: cannot make %s", fs->where, path);
	}
	return 0;
}
