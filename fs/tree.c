/* SPDX-License-Identifier: MIT */
/*
 * A folder of a guest's filesystem as a tar archive (libarchive, pax):
 * directories, regular files (streamed, never whole in memory), symbolic
 * links, with owners, modes and times from the inodes. Import merges a
 * separate /boot partition into the root this way: the archive goes
 * through fs_adopt() like any install source, so what lands in the root is
 * what an install would write. Reads only (the target through libext2fs,
 * read-only); writes the archive file.
 *
 * Bounded, as everything read from a guest: 32 levels of folders, 100000
 * entries; other file types (devices, sockets) are skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/alloc.h"
#include "fs-private.h"

#define TREE_DEPTH 32
#define TREE_ENTRIES 100000

struct tree {
	ext2_filsys e2;
	struct archive *a;
	const struct fs_target *t;
	struct pb_err *err;
	size_t entries;
	char *buf;
};

struct names {
	struct strbuf names; /* NUL-separated */
	ext2_ino_t *inos;
	size_t n, cap;
};

static int collect(struct ext2_dir_entry *d, int offset, int blocksize, char *buf, void *priv)
{
	struct names *c = priv;
	size_t len = ext2fs_dirent_name_len(d);

	if ((len == 1 && d->name[0] == '.') || (len == 2 && d->name[0] == '.' && d->name[1] == '.'))
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->inos = xreallocarray(c->inos, c->cap, sizeof(*c->inos));
	}
	c->inos[c->n++] = d->inode;
	strbuf_add(&c->names, d->name, len);
	strbuf_addch(&c->names, '\0');
	return 0;
}

static int fail(struct tree *w, const char *path, const char *why)
{
	return pb_err_set(w->err, -EIO, "%s: %s: %s", w->t->where, path, why);
}

static int put_file(struct tree *w, ext2_ino_t ino, uint64_t size, const char *path)
{
	ext2_file_t f;
	uint64_t done = 0;
	errcode_t rc;
	int r = 0;

	rc = ext2fs_file_open(w->e2, ino, 0, &f);
	if (rc)
		return fs_err_ext2(w->err, rc, "%s: %s", w->t->where, path);
	while (done < size) {
		unsigned got = 0, want = size - done > (1u << 20) ? (1u << 20) : (unsigned)(size - done);

		rc = ext2fs_file_read(f, w->buf, want, &got);
		if (rc || !got) {
			r = rc ? fs_err_ext2(w->err, rc, "%s: %s", w->t->where, path) : fail(w, path, "shorter than its size");
			break;
		}
		if (archive_write_data(w->a, w->buf, got) != (la_ssize_t)got) {
			r = fail(w, path, archive_error_string(w->a));
			break;
		}
		done += got;
	}
	ext2fs_file_close(f);
	return r;
}

static int walk(struct tree *w, ext2_ino_t dir, struct strbuf *path, int depth)
{
	struct names c = { .names = STRBUF_INIT };
	const char *name;
	errcode_t rc;
	int r = 0;

	if (depth > TREE_DEPTH)
		return fail(w, path->buf, "folders nested too deep");
	rc = ext2fs_dir_iterate(w->e2, dir, 0, NULL, collect, &c);
	if (rc) {
		r = fs_err_ext2(w->err, rc, "%s: %s", w->t->where, path->buf);
		goto out;
	}
	name = c.names.buf;
	for (size_t i = 0; i < c.n && r >= 0; i++, name += strlen(name) + 1) {
		struct ext2_inode_large inode;
		struct archive_entry *e;
		size_t keep = path->len;
		uint16_t mode;

		if (++w->entries > TREE_ENTRIES) {
			r = fail(w, path->buf, "more than 100000 entries");
			break;
		}
		rc = ext2fs_read_inode_full(w->e2, c.inos[i], (struct ext2_inode *)&inode, sizeof(inode));
		if (rc) {
			r = fs_err_ext2(w->err, rc, "%s: %s/%s", w->t->where, path->buf, name);
			break;
		}
		strbuf_addf(path, "/%s", name);
		mode = inode.i_mode;
		if (!LINUX_S_ISDIR(mode) && !LINUX_S_ISREG(mode) && !LINUX_S_ISLNK(mode)) {
			path->len = keep; /* devices, sockets, fifos: nothing a /boot needs */
			path->buf[keep] = '\0';
			continue;
		}
		e = archive_entry_new();
		if (!e) {
			r = pb_err_set(w->err, -ENOMEM, "libarchive: out of memory");
			break;
		}
		archive_entry_set_pathname(e, path->buf);
		archive_entry_set_perm(e, mode & 07777);
		archive_entry_set_uid(e, inode_uid(*(struct ext2_inode *)&inode));
		archive_entry_set_gid(e, inode_gid(*(struct ext2_inode *)&inode));
		archive_entry_set_mtime(e, (time_t)(int32_t)inode.i_mtime, 0);
		if (LINUX_S_ISDIR(mode)) {
			archive_entry_set_filetype(e, AE_IFDIR);
		} else if (LINUX_S_ISLNK(mode)) {
			struct strbuf target = STRBUF_INIT;

			rc = fs_read_link(w->e2, c.inos[i], (struct ext2_inode *)&inode, &target);
			if (rc)
				r = fs_err_ext2(w->err, rc, "%s: %s", w->t->where, path->buf);
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, target.buf);
			strbuf_release(&target);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, (la_int64_t)EXT2_I_SIZE(&inode));
		}
		if (r >= 0 && archive_write_header(w->a, e) != ARCHIVE_OK)
			r = fail(w, path->buf, archive_error_string(w->a));
		archive_entry_free(e);
		if (r >= 0 && LINUX_S_ISREG(mode))
			r = put_file(w, c.inos[i], EXT2_I_SIZE(&inode), path->buf);
		if (r >= 0 && LINUX_S_ISDIR(mode))
			r = walk(w, c.inos[i], path, depth + 1);
		path->len = keep;
		path->buf[keep] = '\0';
	}
out:
	strbuf_release(&c.names);
	free(c.inos);
	return r;
}

int fs_tree_tar(const struct fs_target *t, const char *dir, const char *prefix, const char *out,
		struct pb_err *err)
{
	struct tree w = { .t = t, .err = err };
	struct strbuf path = STRBUF_INIT;
	struct archive_entry *e;
	ext2_ino_t ino;
	errcode_t rc;
	int r;

	r = fs_ext2_open(t, false, &w.e2, err);
	if (r < 0)
		return r;
	rc = fs_lookup(w.e2, dir, true, &ino);
	if (rc) {
		r = fs_err_ext2(err, rc, "%s: %s", t->where, dir);
		goto out;
	}
	w.buf = xmalloc(1u << 20);
	w.a = archive_write_new();
	if (!w.a) {
		r = pb_err_set(err, -ENOMEM, "libarchive: out of memory");
		goto out;
	}
	if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
	    archive_write_open_filename(w.a, out) != ARCHIVE_OK) {
		r = pb_err_set(err, -EIO, "%s: %s", out, archive_error_string(w.a));
		goto out;
	}
	/* The folder itself first, so its owner and mode come along. */
	e = archive_entry_new();
	if (!e) {
		r = pb_err_set(err, -ENOMEM, "libarchive: out of memory");
		goto out;
	}
	archive_entry_set_pathname(e, prefix);
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, 0755);
	if (archive_write_header(w.a, e) != ARCHIVE_OK)
		r = pb_err_set(err, -EIO, "%s: %s", out, archive_error_string(w.a));
	archive_entry_free(e);
	strbuf_addstr(&path, prefix);
	if (r >= 0)
		r = walk(&w, ino, &path, 0);
	if (archive_write_close(w.a) != ARCHIVE_OK && r >= 0)
		r = pb_err_set(err, -EIO, "%s: %s", out, archive_error_string(w.a));
out:
	if (w.a)
		archive_write_free(w.a);
	free(w.buf);
	strbuf_release(&path);
	ext2fs_close_free(&w.e2);
	return r;
}
