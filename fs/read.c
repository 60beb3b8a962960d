/* SPDX-License-Identifier: MIT */
/*
 * Reading a guest's files: fs_open() opens the ext4 filesystem read-only
 * through the range-checked I/O layer (io.c); nothing here writes. Paths
 * and symlinks resolve inside the guest: libext2fs's namei takes the guest's
 * root for absolute links, and the root's ".." is the root itself.
 */
#include <errno.h>
#include <string.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "common/util.h"
#include "fs-private.h"

int fs_open(const struct fs_target *t, struct fs **ret, struct pb_err *err)
{
	struct fs *fs;
	int r;

	fs = xcalloc(1, sizeof(*fs));
	fs->where = xstrdup(t->where ? t->where : t->path);
	r = fs_ext2_open(t, false, &fs->e2, err);
	if (r < 0) {
		fs_free(fs);
		return r;
	}
	*ret = fs;
	return 0;
}

void fs_free(struct fs *fs)
{
	if (!fs)
		return;
	if (fs->e2 && !fs->borrowed)
		ext2fs_close_free(&fs->e2); /* a filesystem open for editing is flushed here too */
	free(fs->where);
	free(fs);
}

errcode_t fs_lookup(ext2_filsys e2, const char *path, bool follow, ext2_ino_t *ret)
{
	while (*path == '/')
		path++;
	if (!*path) {
		*ret = EXT2_ROOT_INO;
		return 0;
	}
	if (follow)
		return ext2fs_namei_follow(e2, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ret);
	return ext2fs_namei(e2, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ret);
}

static errcode_t read_all(ext2_filsys e2, ext2_ino_t ino, uint64_t size, char *buf)
{
	ext2_file_t f;
	errcode_t rc, rc2;
	uint64_t done = 0;

	rc = ext2fs_file_open(e2, ino, 0, &f);
	if (rc)
		return rc;
	while (done < size) {
		unsigned int want = size - done > (1u << 30) ? (1u << 30) : (unsigned int)(size - done), got = 0;

		rc = ext2fs_file_read(f, buf + done, want, &got);
		if (rc)
			break;
		if (!got) {
			rc = EXT2_ET_SHORT_READ;
			break;
		}
		done += got;
	}
	rc2 = ext2fs_file_close(f);
	return rc ? rc : rc2;
}

errcode_t fs_read_link(ext2_filsys e2, ext2_ino_t ino, struct ext2_inode *inode, struct strbuf *sb)
{
	uint64_t size = EXT2_I_SIZE(inode);
	_cleanup_free_ char *buf = NULL;
	errcode_t rc;

	if (size > 65536)
		return EXT2_ET_FILE_TOO_BIG;
	if (ext2fs_is_fast_symlink(inode)) {
		strbuf_add(sb, (const char *)inode->i_block, strnlen((const char *)inode->i_block, size));
		return 0;
	}
	buf = xcalloc(1, size + 1);
	rc = read_all(e2, ino, size, buf);
	if (rc)
		return rc;
	strbuf_add(sb, buf, strnlen(buf, size));
	return 0;
}

errcode_t fs_read_ino(ext2_filsys e2, ext2_ino_t ino, uint64_t max, char **ret_data, size_t *ret_len)
{
	struct ext2_inode inode;
	uint64_t size;
	char *buf;
	errcode_t rc;

	rc = ext2fs_read_inode(e2, ino, &inode);
	if (rc)
		return rc;
	if (LINUX_S_ISDIR(inode.i_mode))
		return EISDIR;
	if (!LINUX_S_ISREG(inode.i_mode))
		return EINVAL;
	size = EXT2_I_SIZE(&inode);
	if (size > max || size >= SIZE_MAX)
		return EXT2_ET_FILE_TOO_BIG;
	/*
	 * Not xmalloc(): the size is the guest's (untrusted, a sparse file may
	 * claim terabytes), so a file too big to hold is refused, not a reason
	 * to abort.
	 */
	buf = malloc(size + 1);
	if (!buf)
		return EXT2_ET_FILE_TOO_BIG;
	rc = read_all(e2, ino, size, buf);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[size] = '\0';
	*ret_data = buf;
	*ret_len = size;
	return 0;
}

int fs_read_file(struct fs *fs, const char *path, char **ret_data, size_t *ret_len, struct pb_err *err)
{
	return fs_read_file_max(fs, path, UINT64_MAX, ret_data, ret_len, err);
}

int fs_read_file_max(struct fs *fs, const char *path, uint64_t max, char **ret_data, size_t *ret_len,
		     struct pb_err *err)
{
	ext2_ino_t ino;
	char *data;
	size_t len;
	errcode_t rc;

	rc = fs_lookup(fs->e2, path, true, &ino);
	if (rc == EXT2_ET_FILE_NOT_FOUND)
		return pb_err_set(err, -ENOENT, "%s: %s: no such file in the guest", fs->where, path);
	if (rc)
		return fs_err_ext2(err, rc, "%s: %s", fs->where, path);
	rc = fs_read_ino(fs->e2, ino, max, &data, &len);
	if (rc == EXT2_ET_FILE_TOO_BIG && max != UINT64_MAX) {
		char a[32];

		return pb_err_set(err, -EFBIG, "%s: %s is larger than %s, more than partboot reads of it", fs->where, path,
				  pb_format_size(max, a, sizeof(a)));
	}
	if (rc == EISDIR)
		return pb_err_set(err, -EISDIR, "%s: %s is a directory", fs->where, path);
	if (rc == EINVAL)
		return pb_err_set(err, -EINVAL, "%s: %s is not a regular file", fs->where, path);
	if (rc)
		return fs_err_ext2(err, rc, "%s: cannot read %s", fs->where, path);
	*ret_data = data;
	if (ret_len)
		*ret_len = len;
	return 0;
}

struct dir_collect {
	struct strbuf names; /* NUL-separated */
	ext2_ino_t *inos;
	size_t n, alloc;
};

static int collect_entry(struct ext2_dir_entry *dirent, int offset, int blocksize, char *buf, void *priv)
{
	struct dir_collect *c = priv;
	int len = ext2fs_dirent_name_len(dirent);

	if ((len == 1 && dirent->name[0] == '.') || (len == 2 && !memcmp(dirent->name, "..", 2)))
		return 0;
	if (c->n == c->alloc) {
		size_t na = c->alloc ? c->alloc * 2 : 64;
		ext2_ino_t *p = xreallocarray(c->inos, na, sizeof(*p));

		c->inos = p;
		c->alloc = na;
	}
	c->inos[c->n++] = dirent->inode;
	strbuf_add(&c->names, dirent->name, (size_t)len);
	strbuf_addch(&c->names, '\0');
	return 0;
}

char fs_mode_type(uint16_t mode)
{
	switch (mode & LINUX_S_IFMT) {
	case LINUX_S_IFREG:
		return 'f';
	case LINUX_S_IFDIR:
		return 'd';
	case LINUX_S_IFLNK:
		return 'l';
	case LINUX_S_IFCHR:
		return 'c';
	case LINUX_S_IFBLK:
		return 'b';
	case LINUX_S_IFIFO:
		return 'p';
	case LINUX_S_IFSOCK:
		return 's';
	default:
		return '?';
	}
}

int fs_list_dir(struct fs *fs, const char *path, fs_dir_fn fn, void *userdata, struct pb_err *err)
{
	struct dir_collect c = { .names = STRBUF_INIT };
	struct strbuf link = STRBUF_INIT;
	const char *name;
	ext2_ino_t ino;
	errcode_t rc;
	int r = 0;

	rc = fs_lookup(fs->e2, path, true, &ino);
	if (rc == EXT2_ET_FILE_NOT_FOUND)
		return pb_err_set(err, -ENOENT, "%s: %s: no such file in the guest", fs->where, path);
	if (rc)
		return fs_err_ext2(err, rc, "%s: %s", fs->where, path);
	rc = ext2fs_dir_iterate(fs->e2, ino, 0, NULL, collect_entry, &c);
	if (rc) {
		r = rc == EXT2_ET_NO_DIRECTORY ? pb_err_set(err, -ENOTDIR, "%s: %s is not a directory", fs->where, path)
					       : fs_err_ext2(err, rc, "%s: cannot list %s",
							     fs->where, path);
		goto out;
	}
	name = c.names.buf;
	for (size_t i = 0; i < c.n; i++, name += strlen(name) + 1) {
		struct ext2_inode inode;
		struct fs_dirent e = { .name = name };

		rc = ext2fs_read_inode(fs->e2, c.inos[i], &inode);
		if (rc) {
			r = fs_err_ext2(err, rc, "%s: cannot read %s/%s", fs->where, path, name);
			goto out;
		}
		e.type = fs_mode_type(inode.i_mode);
		e.mode = inode.i_mode & 07777;
		e.uid = inode_uid(inode);
		e.gid = inode_gid(inode);
		e.size = EXT2_I_SIZE(&inode);
		e.mtime = (int32_t)inode.i_mtime;
		strbuf_reset(&link);
		if (e.type == 'l' && !fs_read_link(fs->e2, c.inos[i], &inode, &link))
			e.link = link.buf;
		r = fn(&e, userdata);
		if (r < 0)
			goto out;
		r = 0;
	}
out:
	strbuf_release(&c.names);
	strbuf_release(&link);
	free(c.inos);
	return r;
}

int fs_min_size(struct fs *fs, uint64_t *ret, struct pb_err *err)
{
	/* A first cut: the filesystem as made. resize2fs -P would know better. */
	*ret = ext2fs_blocks_count(fs->e2->super) * (uint64_t)fs->e2->blocksize;
	return 0;
}
