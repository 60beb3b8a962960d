/* SPDX-License-Identifier: MIT */
/*
 * The pieces every in-place edit of a guest shares (fs_write_file(),
 * fs_mkdir(), fs_symlink(), fs_copy_tree()): the directory a path lives in,
 * a new inode with an owner and a mode, linking a name, and replacing what
 * a name points at without the name ever going missing.
 *
 * The order of writes when a name is replaced (fs_edit_install()): the new
 * inode and everything it holds are flushed first (ext2fs_flush: blocks,
 * inode table, bitmaps, fsync); then the one directory entry is pointed at
 * it, which rewrites the single directory block holding that entry; then
 * that block is flushed and only then is the old inode released. libext2fs
 * does not write the journal, so these flushes are the only ordering there
 * is: a kill at any moment leaves the old file or the new one under the
 * name, never a missing or half-written one. What it can leave is one inode
 * no name points at (the new one when killed before the switch, the old one
 * after it): the kernel ignores it, e2fsck -fy files it in /lost+found.
 * Without writing the journal nothing can make the switch and that
 * inode's accounting one step (an orphan list entry would be a second
 * block to keep in step); tests/e2e/customize.sh kills partboot at both
 * points (PARTBOOT_TEST_PAUSE=replace|replaced).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "fs-private.h"

int fs_edit_check_rw(struct fs *fs, const char *path, struct pb_err *err)
{
	if (!fs->rw)
		return pb_err_set(err, -EROFS, "%s: %s: the guest is open read-only", fs->where, path);
	return 0;
}

int fs_edit_parent(struct fs *fs, const char *path, struct strbuf *scratch, ext2_ino_t *ret_dir,
		   const char **ret_name, struct pb_err *err)
{
	struct ext2_inode inode;
	ext2_ino_t dir;
	char *slash;
	errcode_t rc;

	fs_path_normalize(path, scratch);
	if (!scratch->len)
		return pb_err_set(err, -EINVAL, "%s: %s: not a file name", fs->where, path);
	slash = strrchr(scratch->buf, '/');
	if (strlen(slash ? slash + 1 : scratch->buf) > EXT2_NAME_LEN)
		return pb_err_set(err, -ENAMETOOLONG, "%s: %s: name longer than %d bytes", fs->where, path,
				  EXT2_NAME_LEN);
	if (slash) {
		*slash = '\0';
		rc = fs_lookup(fs->e2, scratch->buf, true, &dir);
		*slash = '/';
		*ret_name = slash + 1;
	} else {
		rc = 0;
		dir = EXT2_ROOT_INO;
		*ret_name = scratch->buf;
	}
	if (rc == EXT2_ET_FILE_NOT_FOUND)
		return pb_err_set(err, -ENOENT, "%s: %s: its directory is missing in the guest", fs->where, path);
	if (!rc)
		rc = ext2fs_read_inode(fs->e2, dir, &inode);
	if (rc)
		return fs_err_ext2(err, rc, "%s: %s: cannot look up its directory", fs->where, path);
	if (!LINUX_S_ISDIR(inode.i_mode))
		return pb_err_set(err, -ENOTDIR, "%s: %s: its parent is not a directory", fs->where, path);
	*ret_dir = dir;
	return 0;
}

static void set_times(struct ext2_inode_large *li, int64_t now)
{
	/* ext4's extra time field: 2 epoch bits above the 32-bit seconds, no nanoseconds. */
	uint32_t extra = (uint32_t)(((now - (int32_t)now) >> 32) & 3);

	li->i_atime = li->i_ctime = li->i_mtime = li->i_crtime = (uint32_t)now;
	li->i_atime_extra = li->i_ctime_extra = li->i_mtime_extra = li->i_crtime_extra = extra;
}

static void set_owner(struct ext2_inode_large *li, const struct fs_meta *m)
{
	li->i_uid = (uint16_t)m->uid;
	ext2fs_set_i_uid_high(*li, m->uid >> 16);
	li->i_gid = (uint16_t)m->gid;
	ext2fs_set_i_gid_high(*li, m->gid >> 16);
}

static errcode_t read_large(ext2_filsys e2, ext2_ino_t ino, struct ext2_inode_large *li)
{
	memset(li, 0, sizeof(*li));
	return ext2fs_read_inode_full(e2, ino, (struct ext2_inode *)li, sizeof(*li));
}

static errcode_t write_large(ext2_filsys e2, ext2_ino_t ino, struct ext2_inode_large *li)
{
	return ext2fs_write_inode_full(e2, ino, (struct ext2_inode *)li, sizeof(*li));
}

errcode_t fs_edit_new_inode(struct fs *fs, ext2_ino_t dir, unsigned type, const struct fs_meta *m,
			    ext2_ino_t *ret)
{
	ext2_filsys e2 = fs->e2;
	size_t isz = EXT2_INODE_SIZE(e2->super);
	struct ext2_inode_large li = { 0 };
	_cleanup_free_ char *buf = NULL;
	ext2_ino_t ino;
	errcode_t rc;

	rc = ext2fs_new_inode(e2, dir, (int)(type | (m->mode & 07777)), NULL, &ino);
	if (rc)
		return rc;
	li.i_mode = (uint16_t)(type | (m->mode & 07777));
	li.i_links_count = 1;
	set_owner(&li, m);
	set_times(&li, fs->now);
	if (type == LINUX_S_IFREG && ext2fs_has_feature_extents(e2->super)) {
		ext2_extent_handle_t h;

		/* An empty extent tree in i_block: ext2fs_file_write() maps the data into it. */
		rc = ext2fs_extent_open2(e2, ino, (struct ext2_inode *)&li, &h);
		if (rc)
			return rc;
		ext2fs_extent_free(h);
	}
	/* The large part we filled, zeros up to the on-disk inode size. */
	if (isz > EXT2_GOOD_OLD_INODE_SIZE) {
		buf = xcalloc(1, isz);
		li.i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
		memcpy(buf, &li, sizeof(li) < isz ? sizeof(li) : isz);
		rc = ext2fs_write_inode_full(e2, ino, (struct ext2_inode *)buf, (int)isz);
	} else {
		rc = ext2fs_write_new_inode(e2, ino, (struct ext2_inode *)&li);
	}
	if (rc)
		return rc;
	ext2fs_inode_alloc_stats2(e2, ino, +1, LINUX_S_ISDIR(type));
	*ret = ino;
	return 0;
}

errcode_t fs_edit_set_meta(struct fs *fs, ext2_ino_t ino, const struct fs_meta *m)
{
	struct ext2_inode_large li;
	errcode_t rc = read_large(fs->e2, ino, &li);

	if (rc)
		return rc;
	if (!LINUX_S_ISLNK(li.i_mode)) /* a link's mode is always 0777 */
		li.i_mode = (uint16_t)((li.i_mode & LINUX_S_IFMT) | (m->mode & 07777));
	set_owner(&li, m);
	set_times(&li, fs->now);
	return write_large(fs->e2, ino, &li);
}

errcode_t fs_edit_link(struct fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft)
{
	errcode_t rc;

	for (;;) {
		rc = ext2fs_link(fs->e2, dir, name, ino, ft);
		if (rc != EXT2_ET_DIR_NO_SPACE)
			return rc;
		rc = ext2fs_expand_dir(fs->e2, dir);
		if (rc)
			return rc;
	}
}

struct relink {
	const char *name;
	size_t len;
	ext2_ino_t ino, old;
	int ft;
	bool done;
};

static int relink_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset, int blocksize, char *buf,
			void *priv)
{
	struct relink *c = priv;

	if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE || !d->inode)
		return 0;
	if ((size_t)ext2fs_dirent_name_len(d) != c->len || memcmp(d->name, c->name, c->len))
		return 0;
	/* The name (and so its htree hash) stays: only the inode and the type change. */
	c->old = d->inode;
	d->inode = c->ino;
	ext2fs_dirent_set_file_type(d, c->ft);
	c->done = true;
	return DIRENT_CHANGED | DIRENT_ABORT;
}

errcode_t fs_edit_relink(struct fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft,
			 ext2_ino_t *ret_old)
{
	struct relink c = { .name = name, .len = strlen(name), .ino = ino, .ft = ft };
	errcode_t rc;

	if (!ext2fs_has_feature_filetype(fs->e2->super))
		c.ft = 0;
	rc = ext2fs_dir_iterate2(fs->e2, dir, 0, NULL, relink_entry, &c);
	if (rc)
		return rc;
	if (!c.done)
		return EXT2_ET_FILE_NOT_FOUND;
	*ret_old = c.old;
	return 0;
}

errcode_t fs_edit_release(struct fs *fs, ext2_ino_t ino)
{
	struct ext2_inode_large li;
	errcode_t rc;

	rc = read_large(fs->e2, ino, &li);
	if (rc)
		return rc;
	if (li.i_links_count > 1) {
		li.i_links_count--;
		return write_large(fs->e2, ino, &li);
	}
	if (ext2fs_inode_has_valid_blocks2(fs->e2, (struct ext2_inode *)&li)) {
		rc = ext2fs_punch(fs->e2, ino, (struct ext2_inode *)&li, NULL, 0, ~0ULL);
		if (!rc)
			rc = read_large(fs->e2, ino, &li);
		if (rc)
			return rc;
	}
	if (ext2fs_file_acl_block(fs->e2, (struct ext2_inode *)&li)) {
		rc = ext2fs_free_ext_attr(fs->e2, ino, &li);
		if (rc)
			return rc;
	}
	li.i_links_count = 0;
	li.i_dtime = (uint32_t)fs->now;
	rc = write_large(fs->e2, ino, &li);
	if (rc)
		return rc;
	ext2fs_inode_alloc_stats2(fs->e2, ino, -1, LINUX_S_ISDIR(li.i_mode));
	return 0;
}

int fs_edit_install(struct fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft, const char *path,
		    struct pb_err *err)
{
	struct ext2_inode inode;
	ext2_ino_t old = 0, was;
	bool named = false;
	errcode_t rc;

	rc = ext2fs_lookup(fs->e2, dir, name, (int)strlen(name), NULL, &old);
	if (rc && rc != EXT2_ET_FILE_NOT_FOUND)
		goto fail;
	if (!rc) {
		rc = ext2fs_read_inode(fs->e2, old, &inode);
		if (rc)
			goto fail;
		if (LINUX_S_ISDIR(inode.i_mode)) {
			fs_edit_release(fs, ino);
			return pb_err_set(err, -EISDIR, "%s: %s is a directory", fs->where, path);
		}
	} else {
		old = 0;
	}
	/* Everything the new inode holds is on the disk before a name points at it. */
	rc = ext2fs_flush(fs->e2);
	if (rc)
		goto fail;
	if (!old) {
		rc = fs_edit_link(fs, dir, name, ino, ft);
		if (rc)
			goto fail;
		return 0;
	}
	fs_test_pause("replace"); /* tests/e2e/customize.sh kills us here: the old file is whole */
	rc = fs_edit_relink(fs, dir, name, ino, ft, &was);
	if (rc)
		goto fail;
	named = true;
	rc = ext2fs_flush(fs->e2); /* the name points at the new inode before the old one goes */
	fs_test_pause("replaced"); /* ... and here: the new file is */
	if (!rc)
		rc = fs_edit_release(fs, was);
	if (rc)
		goto fail;
	return 0;
fail:
	if (!named)
		fs_edit_release(fs, ino); /* nothing names it: give it back */
	if (fs_errno_from_ext2(rc) == -ENOSPC)
		return pb_err_set(err, -ENOSPC, "%s: no space left for %s", fs->where, path);
	return fs_err_ext2(err, rc, "%s: cannot write %s", fs->where, path);
}
