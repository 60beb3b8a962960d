/* SPDX-License-Identifier: MIT */
/* fs_stat(): what is at a path of the guest, from its inode (nothing read beyond it). */
#include <errno.h>
#include <string.h>

#include "fs-private.h"

int fs_stat(struct fs *fs, const char *path, bool follow, struct fs_dirent *ret, struct pb_err *err)
{
	struct ext2_inode inode;
	ext2_ino_t ino;
	errcode_t rc;

	rc = fs_lookup(fs->e2, path, follow, &ino);
	if (rc == EXT2_ET_FILE_NOT_FOUND || rc == EXT2_ET_NO_DIRECTORY)
		return pb_err_set(err, -ENOENT, "%s: %s: no such file in the guest", fs->where, path);
	if (!rc)
		rc = ext2fs_read_inode(fs->e2, ino, &inode);
	if (rc)
		return fs_err_ext2(err, rc, "%s: %s", fs->where, path);
	memset(ret, 0, sizeof(*ret));
	ret->type = fs_mode_type(inode.i_mode);
	ret->mode = inode.i_mode & 07777;
	ret->uid = inode_uid(inode);
	ret->gid = inode_gid(inode);
	ret->size = EXT2_I_SIZE(&inode);
	ret->mtime = (int32_t)inode.i_mtime;
	return 0;
}
