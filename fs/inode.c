/* SPDX-License-Identifier: MIT */
/*
 * Inodes during fs_install(): reading and writing them whole (the large
 * inode, extra time fields included), a new inode's first write, owner,
 * mode and times from the archive entry (ext4's nanosecond and post-2038
 * time encoding), linking a name in, and freeing an inode whose last link
 * went. Extended attributes and ACLs are xattr.c's.
 */
#include <string.h>

#include <archive_entry.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "fs-private.h"

static uint32_t time_extra(int64_t sec, long nsec)
{
	/* ext4 extra time: 30 bits of nanoseconds, 2 epoch bits extending the 32-bit seconds. */
	return ((uint32_t)nsec << 2) | (uint32_t)(((sec - (int32_t)sec) >> 32) & 3);
}

/* Write a whole new inode: the large part we fill, zeros up to the on-disk inode size. */
errcode_t fs_inode_write_new(struct populate *p, ext2_ino_t ino, struct ext2_inode_large *li)
{
	size_t isz = EXT2_INODE_SIZE(p->e2->super);
	_cleanup_free_ char *buf = NULL;

	if (isz <= EXT2_GOOD_OLD_INODE_SIZE)
		return ext2fs_write_new_inode(p->e2, ino, (struct ext2_inode *)li);
	buf = xcalloc(1, isz);
	li->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	memcpy(buf, li, sizeof(*li) < isz ? sizeof(*li) : isz);
	return ext2fs_write_inode_full(p->e2, ino, (struct ext2_inode *)buf, (int)isz);
}

/* Owner, mode bits and times from the entry (or "now", root:root for made-up parents). */
void fs_inode_set_meta(struct populate *p, struct ext2_inode_large *li, struct archive_entry *e)
{
	int64_t mt = p->now, at, ct;
	long mn = 0, an = 0, cn = 0;
	uint32_t uid = 0, gid = 0;

	if (e) {
		uid = (uint32_t)archive_entry_uid(e);
		gid = (uint32_t)archive_entry_gid(e);
		int mask = fs_acl_mask(e);

		li->i_mode = (uint16_t)((li->i_mode & LINUX_S_IFMT) | (archive_entry_mode(e) & 07777));
		if (mask >= 0)
			li->i_mode = (uint16_t)((li->i_mode & ~070) | (mask << 3));
		if (archive_entry_mtime_is_set(e)) {
			mt = archive_entry_mtime(e);
			mn = archive_entry_mtime_nsec(e);
		}
	}
	/* atime and ctime: the archive's when it has them, else the mtime (deterministic). */
	at = mt, an = mn, ct = mt, cn = mn;
	if (e && archive_entry_atime_is_set(e)) {
		at = archive_entry_atime(e);
		an = archive_entry_atime_nsec(e);
	}
	if (e && archive_entry_ctime_is_set(e)) {
		ct = archive_entry_ctime(e);
		cn = archive_entry_ctime_nsec(e);
	}
	li->i_uid = (uint16_t)uid;
	ext2fs_set_i_uid_high(*li, uid >> 16);
	li->i_gid = (uint16_t)gid;
	ext2fs_set_i_gid_high(*li, gid >> 16);
	li->i_mtime = (uint32_t)mt;
	li->i_atime = (uint32_t)at;
	li->i_ctime = (uint32_t)ct;
	li->i_crtime = (uint32_t)mt;
	li->i_mtime_extra = time_extra(mt, mn);
	li->i_atime_extra = time_extra(at, an);
	li->i_ctime_extra = time_extra(ct, cn);
	li->i_crtime_extra = time_extra(mt, mn);
}

errcode_t fs_inode_read(struct populate *p, ext2_ino_t ino, struct ext2_inode_large *li)
{
	memset(li, 0, sizeof(*li));
	return ext2fs_read_inode_full(p->e2, ino, (struct ext2_inode *)li, sizeof(*li));
}

errcode_t fs_inode_write(struct populate *p, ext2_ino_t ino, struct ext2_inode_large *li)
{
	return ext2fs_write_inode_full(p->e2, ino, (struct ext2_inode *)li, sizeof(*li));
}

/* Link name into dir, growing the directory when its blocks are full. */
errcode_t fs_inode_link(struct populate *p, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft)
{
	errcode_t rc;

	for (;;) {
		rc = ext2fs_link(p->e2, dir, name, ino, ft);
		if (rc != EXT2_ET_DIR_NO_SPACE)
			return rc;
		rc = ext2fs_expand_dir(p->e2, dir);
		if (rc)
			return rc;
	}
}

/* Free an inode that lost its last link: blocks, xattr block, bitmap. */
errcode_t fs_inode_release(struct populate *p, ext2_ino_t ino)
{
	struct ext2_inode_large li;
	errcode_t rc;

	rc = fs_inode_read(p, ino, &li);
	if (rc)
		return rc;
	if (li.i_links_count > 1) {
		li.i_links_count--;
		return fs_inode_write(p, ino, &li);
	}
	if (ext2fs_inode_has_valid_blocks2(p->e2, (struct ext2_inode *)&li)) {
		rc = ext2fs_punch(p->e2, ino, (struct ext2_inode *)&li, NULL, 0, ~0ULL);
		if (rc)
			return rc;
		rc = fs_inode_read(p, ino, &li);
		if (rc)
			return rc;
	}
	if (ext2fs_file_acl_block(p->e2, (struct ext2_inode *)&li)) {
		rc = ext2fs_free_ext_attr(p->e2, ino, &li);
		if (rc)
			return rc;
	}
	li.i_links_count = 0;
	li.i_dtime = (uint32_t)p->now;
	rc = fs_inode_write(p, ino, &li);
	if (rc)
		return rc;
	ext2fs_inode_alloc_stats2(p->e2, ino, -1, LINUX_S_ISDIR(li.i_mode));
	return 0;
}
