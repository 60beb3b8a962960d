/* SPDX-License-Identifier: MIT */
/*
 * Directories during fs_install(): the path map (every path written this
 * session → its inode, so entries find their parent without a lookup on the
 * disk, and hard links find their target), archive paths normalised, and
 * the parent directories an archive names only through its entries made on
 * the way (0755 root:root, time "now"), as tar does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "fs-private.h"

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct fs_path_slot *fs_path_map_find(struct fs_path_map *m, const char *path)
{
	uint32_t h;
	size_t i;

	if (!m->cap)
		return NULL;
	h = hash_str(path);
	for (i = h & (m->cap - 1); m->slots[i].path; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].hash == h && !strcmp(m->slots[i].path, path))
			return &m->slots[i];
	return NULL;
}

void fs_path_map_put(struct fs_path_map *m, const char *path, ext2_ino_t ino, bool fresh_dir)
{
	struct fs_path_slot *s = fs_path_map_find(m, path);
	uint32_t h;
	size_t i;

	if (s) {
		s->ino = ino;
		s->fresh_dir = fresh_dir;
		return;
	}
	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 1024;
		struct fs_path_slot *ns = xcalloc(ncap, sizeof(*ns));

		for (size_t j = 0; j < m->cap; j++) {
			if (!m->slots[j].path)
				continue;
			for (i = m->slots[j].hash & (ncap - 1); ns[i].path; i = (i + 1) & (ncap - 1))
				;
			ns[i] = m->slots[j];
		}
		free(m->slots);
		m->slots = ns;
		m->cap = ncap;
	}
	h = hash_str(path);
	for (i = h & (m->cap - 1); m->slots[i].path; i = (i + 1) & (m->cap - 1))
		;
	m->slots[i].path = xstrdup(path);
	m->slots[i].hash = h;
	m->slots[i].ino = ino;
	m->slots[i].fresh_dir = fresh_dir;
	m->n++;
}

void fs_path_map_free(struct fs_path_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].path);
	free(m->slots);
}

/*
 * Normalise an archive path into sb: no leading '/', no "." or empty
 * components, ".." pops a component but never above the guest's root.
 */
void fs_path_normalize(const char *in, struct strbuf *sb)
{
	strbuf_reset(sb);
	while (*in) {
		const char *end = strchrnul(in, '/');
		size_t n = (size_t)(end - in);

		if (n == 0 || (n == 1 && in[0] == '.')) {
			/* skip */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			char *slash = strrchr(sb->buf, '/');

			sb->len = slash ? (size_t)(slash - sb->buf) : 0;
			sb->buf[sb->len] = '\0';
		} else {
			if (sb->len)
				strbuf_addch(sb, '/');
			strbuf_add(sb, in, n);
		}
		in = *end ? end + 1 : end;
	}
}

/* Set the directory's parent link count etc. is done by ext2fs_mkdir; we add metadata. */
errcode_t fs_dir_make(struct populate *p, ext2_ino_t parent, const char *name, ext2_ino_t *ret)
{
	ext2_ino_t ino;
	errcode_t rc;

	rc = ext2fs_new_inode(p->e2, parent, LINUX_S_IFDIR | 0755, NULL, &ino);
	if (rc)
		return rc;
	for (;;) {
		rc = ext2fs_mkdir(p->e2, parent, ino, name);
		if (rc != EXT2_ET_DIR_NO_SPACE)
			break;
		/* ext2fs_mkdir accounts for nothing before the link, so a retry is clean. */
		rc = ext2fs_expand_dir(p->e2, parent);
		if (rc)
			return rc;
	}
	if (rc)
		return rc;
	*ret = ino;
	return 0;
}

/* Look name up in dir: the path map for directories made this session, else the disk. */
errcode_t fs_dir_lookup_child(struct populate *p, ext2_ino_t dir, bool dir_fresh, const char *path,
			      const char *name, ext2_ino_t *ret)
{
	if (dir_fresh) {
		struct fs_path_slot *s = fs_path_map_find(&p->map, path);

		if (!s)
			return EXT2_ET_FILE_NOT_FOUND;
		*ret = s->ino;
		return 0;
	}
	return ext2fs_lookup(p->e2, dir, name, (int)strlen(name), NULL, ret);
}

/*
 * The inode of directory `path` (normalised), making it and its missing
 * parents (0755 root:root, time "now"), as tar does for entries whose
 * parent came later or never.
 */
int fs_dir_ensure(struct populate *p, const char *path, ext2_ino_t *ret, bool *ret_fresh)
{
	_cleanup_free_ char *copy = NULL;
	struct ext2_inode_large li;
	struct fs_path_slot *s;
	ext2_ino_t parent, ino;
	bool pfresh;
	const char *name;
	char *slash;
	errcode_t rc;
	int r;

	if (!*path) {
		*ret = EXT2_ROOT_INO;
		*ret_fresh = false;
		return 0;
	}
	s = fs_path_map_find(&p->map, path);
	if (s) {
		*ret = s->ino;
		*ret_fresh = s->fresh_dir;
		return 0;
	}
	copy = xstrdup(path);
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		name = slash + 1;
		r = fs_dir_ensure(p, copy, &parent, &pfresh);
	} else {
		name = copy;
		r = fs_dir_ensure(p, "", &parent, &pfresh);
	}
	if (r < 0)
		return r;
	if (slash)
		*slash = '/';
	rc = fs_dir_lookup_child(p, parent, pfresh, copy, name, &ino);
	if (rc == 0) {
		rc = fs_inode_read(p, ino, &li);
		if (rc)
			return fs_populate_fail(p, rc, "cannot read a parent directory");
		if (!LINUX_S_ISDIR(li.i_mode))
			return pb_err_set(p->err, -ENOTDIR, "%s: '%s': parent '%s' is not a directory", p->t->where,
					  p->entry, path);
		fs_path_map_put(&p->map, path, ino, false);
		*ret = ino;
		*ret_fresh = false;
		return 0;
	}
	if (rc != EXT2_ET_FILE_NOT_FOUND)
		return fs_populate_fail(p, rc, "cannot look up a parent directory");
	rc = fs_dir_make(p, parent, name, &ino);
	if (rc)
		return fs_populate_fail(p, rc, "cannot make a parent directory");
	rc = fs_inode_read(p, ino, &li);
	if (!rc) {
		li.i_mode = LINUX_S_IFDIR | 0755;
		fs_inode_set_meta(p, &li, NULL);
		rc = fs_inode_write(p, ino, &li);
	}
	if (rc)
		return fs_populate_fail(p, rc, "cannot make a parent directory");
	fs_path_map_put(&p->map, path, ino, true);
	*ret = ino;
	*ret_fresh = true;
	return 0;
}
