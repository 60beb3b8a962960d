/* SPDX-License-Identifier: MIT */
/*
 * /.partboot-incomplete, the marker that says "an install is under way or
 * was interrupted": fs_install() creates it and flushes it to the disk
 * before any other data, and removes it as the last change before closing;
 * fs_guest_info() (guest.c) reads an install with it as incomplete.
 */
#include <string.h>

#include "fs-private.h"

int fs_marker_create(struct populate *p)
{
	struct ext2_inode_large li = { 0 };
	ext2_ino_t ino;
	errcode_t rc;

	rc = ext2fs_lookup(p->e2, EXT2_ROOT_INO, FS_MARKER_NAME, (int)strlen(FS_MARKER_NAME), NULL, &ino);
	if (rc == 0) {
		p->marker = ino;
		return 0;
	}
	rc = ext2fs_new_inode(p->e2, EXT2_ROOT_INO, LINUX_S_IFREG | 0600, NULL, &ino);
	if (rc)
		goto fail;
	li.i_mode = LINUX_S_IFREG | 0600;
	li.i_links_count = 1;
	if (ext2fs_has_feature_extents(p->e2->super)) {
		ext2_extent_handle_t h;

		rc = ext2fs_extent_open2(p->e2, ino, (struct ext2_inode *)&li, &h);
		if (rc)
			goto fail;
		ext2fs_extent_free(h);
	}
	fs_inode_set_meta(p, &li, NULL);
	li.i_mode = LINUX_S_IFREG | 0600;
	ext2fs_inode_alloc_stats2(p->e2, ino, +1, 0);
	rc = fs_inode_write_new(p, ino, &li);
	if (!rc)
		rc = fs_inode_link(p, EXT2_ROOT_INO, FS_MARKER_NAME, ino, EXT2_FT_REG_FILE);
	/* On the disk before any data: an interrupted install is always seen. */
	if (!rc)
		rc = ext2fs_flush(p->e2);
	if (rc)
		goto fail;
	p->marker = ino;
	return 0;
fail:
	return fs_err_ext2(p->err, rc, "%s: cannot mark the install as under way", p->t->where);
}

int fs_marker_remove(struct populate *p)
{
	errcode_t rc;

	rc = ext2fs_unlink(p->e2, EXT2_ROOT_INO, FS_MARKER_NAME, p->marker, 0);
	if (!rc)
		rc = fs_inode_release(p, p->marker);
	if (rc)
		return fs_err_ext2(p->err, rc, "%s: cannot mark the install complete", p->t->where);
	return 0;
}
