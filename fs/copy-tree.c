/* SPDX-License-Identifier: MIT */
/*
 * fs_copy_tree(): a directory of the guest copied into another one inside
 * it, with a new owner — what adduser does with /etc/skel for a new home.
 * Entries already there are left alone (so a second run after an
 * interrupted one only adds what is missing).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "fs-private.h"

#define COPY_DEPTH_MAX 16
#define COPY_ENTRIES_MAX 10000
#define COPY_FILE_MAX (16u << 20)

struct item {
	char *name, *link;
	char type;
	uint32_t mode;
	uint64_t size;
};

struct items {
	struct item *v;
	size_t n, alloc;
};

struct copy {
	struct fs *fs;
	uint32_t uid, gid;
	size_t entries;
	struct pb_err *err;
};

static void items_release(struct items *it)
{
	for (size_t i = 0; i < it->n; i++) {
		free(it->v[i].name);
		free(it->v[i].link);
	}
	free(it->v);
}

static int collect(const struct fs_dirent *e, void *userdata)
{
	struct items *it = userdata;
	struct item *x;

	if (it->n == it->alloc) {
		it->alloc = it->alloc ? it->alloc * 2 : 16;
		it->v = xreallocarray(it->v, it->alloc, sizeof(*it->v));
	}
	x = &it->v[it->n];
	memset(x, 0, sizeof(*x));
	x->name = xstrdup(e->name);
	x->link = e->link ? xstrdup(e->link) : NULL;
	x->type = e->type;
	x->mode = e->mode;
	x->size = e->size;
	it->n++;
	return 0;
}

/* adduser's SKEL_IGNORE_REGEX: \.(dpkg|ucf)-(old|new|dist|save)$ */
static bool ignored(const char *name)
{
	static const char *const suffixes[] = { ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".dpkg-save",
						".ucf-old",  ".ucf-new",  ".ucf-dist",  ".ucf-save" };
	size_t n = strlen(name);

	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		size_t k = strlen(suffixes[i]);

		if (n > k && !strcmp(name + n - k, suffixes[i]))
			return true;
	}
	return false;
}

static bool exists(struct fs *fs, const char *path)
{
	struct fs_dirent st;

	return fs_stat(fs, path, false, &st, NULL) == 0;
}

static int copy_dir(struct copy *c, const char *from, const char *to, unsigned depth)
{
	struct fs *fs = c->fs;
	struct items it = { 0 };
	struct strbuf src = STRBUF_INIT, dst = STRBUF_INIT;
	int r;

	if (depth > COPY_DEPTH_MAX)
		return pb_err_set(c->err, -ELOOP, "%s: %s: more than %d levels of directories", fs->where, from,
				  COPY_DEPTH_MAX);
	r = fs_list_dir(fs, from, collect, &it, c->err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < it.n; i++) {
		const struct item *x = &it.v[i];
		struct fs_meta m = { .uid = c->uid, .gid = c->gid, .mode = x->mode };

		if (ignored(x->name))
			continue;
		if (++c->entries > COPY_ENTRIES_MAX) {
			r = pb_err_set(c->err, -EFBIG, "%s: %s: more than %d entries to copy", fs->where, from,
				       COPY_ENTRIES_MAX);
			goto out;
		}
		strbuf_reset(&src);
		strbuf_addf(&src, "%s/%s", from, x->name);
		strbuf_reset(&dst);
		strbuf_addf(&dst, "%s/%s", to, x->name);
		if (x->type == 'd') {
			r = fs_mkdir(fs, dst.buf, &m, FS_MKDIR_EXIST_OK, c->err);
			if (r >= 0)
				r = copy_dir(c, src.buf, dst.buf, depth + 1);
		} else if (exists(fs, dst.buf)) {
			r = 0; /* already there: left alone */
		} else if (x->type == 'l' && x->link) {
			r = fs_symlink(fs, dst.buf, x->link, &m, c->err);
		} else if (x->type == 'f') {
			_cleanup_free_ char *data = NULL;
			size_t len = 0;

			if (x->size > COPY_FILE_MAX) {
				r = pb_err_set(c->err, -EFBIG, "%s: %s: larger than %u MiB", fs->where, src.buf,
					       COPY_FILE_MAX >> 20);
				goto out;
			}
			r = fs_read_file(fs, src.buf, &data, &len, c->err);
			if (r >= 0)
				r = fs_write_file(fs, dst.buf, data, len, &m, 0, c->err);
		} else {
			r = 0; /* devices, fifos, sockets: adduser copies none of them into a home either */
		}
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	items_release(&it);
	strbuf_release(&src);
	strbuf_release(&dst);
	return r;
}

int fs_copy_tree(struct fs *fs, const char *from, const char *to, uint32_t uid, uint32_t gid, struct pb_err *err)
{
	struct copy c = { .fs = fs, .uid = uid, .gid = gid, .err = err };
	int r;

	r = fs_edit_check_rw(fs, to, err);
	if (r < 0)
		return r;
	return copy_dir(&c, from, to, 0);
}
