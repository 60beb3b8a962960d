/* SPDX-License-Identifier: MIT */
/*
 * fs_write_file(): a whole regular file into the guest, new or replacing
 * one, never leaving a half-written file under its name (edit.c says how).
 */
#include <errno.h>
#include <string.h>

#include "common/macros.h"
#include "fs-private.h"

static errcode_t write_data(ext2_filsys e2, ext2_ino_t ino, const void *data, size_t len)
{
	ext2_file_t f;
	errcode_t rc, rc2;
	size_t done = 0;

	rc = ext2fs_file_open(e2, ino, EXT2_FILE_WRITE, &f);
	if (rc)
		return rc;
	while (done < len) {
		unsigned int want = len - done > (1u << 30) ? (1u << 30) : (unsigned int)(len - done), got = 0;

		rc = ext2fs_file_write(f, (const char *)data + done, want, &got);
		if (rc)
			break;
		if (!got) {
			rc = EXT2_ET_SHORT_WRITE;
			break;
		}
		done += got;
	}
	if (!rc)
		rc = ext2fs_file_set_size2(f, len);
	rc2 = ext2fs_file_close(f); /* writes the last block and the inode */
	return rc ? rc : rc2;
}

int fs_write_file(struct fs *fs, const char *path, const void *data, size_t len, const struct fs_meta *meta,
		  unsigned flags, struct pb_err *err)
{
	_cleanup_(strbuf_release) struct strbuf scratch = STRBUF_INIT;
	struct fs_meta m = *meta;
	struct ext2_inode inode;
	const char *name;
	ext2_ino_t dir, old, ino = 0;
	errcode_t rc;
	int r;

	r = fs_edit_check_rw(fs, path, err);
	if (r < 0)
		return r;
	r = fs_edit_parent(fs, path, &scratch, &dir, &name, err);
	if (r < 0)
		return r;
	rc = ext2fs_lookup(fs->e2, dir, name, (int)strlen(name), NULL, &old);
	if (!rc && (flags & FS_WRITE_KEEP_META) && !ext2fs_read_inode(fs->e2, old, &inode) &&
	    LINUX_S_ISREG(inode.i_mode)) {
		m.uid = inode_uid(inode);
		m.gid = inode_gid(inode);
		m.mode = inode.i_mode & 07777;
	}
	rc = fs_edit_new_inode(fs, dir, LINUX_S_IFREG, &m, &ino);
	if (!rc)
		rc = write_data(fs->e2, ino, data, len);
	if (rc) {
		if (ino)
			fs_edit_release(fs, ino);
		if (fs_errno_from_ext2(rc) == -ENOSPC)
			return pb_err_set(err, -ENOSPC, "%s: no space left for %s", fs->where, path);
		return fs_err_ext2(err, rc, "%s: cannot write %s", fs->where, path);
	}
	return fs_edit_install(fs, dir, name, ino, EXT2_FT_REG_FILE, path, err);
}
