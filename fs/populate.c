/* SPDX-License-Identifier: MIT */
/*
 * fs_install(): fill a partition's ext4 filesystem from a tar stream or a
 * directory, in-process: libarchive reads, libext2fs writes, through the
 * range-checked I/O layer (io.c). Nothing is mounted; everything (owners,
 * modes, times, xattrs, ACLs, device numbers) comes from the archive's
 * headers, never from the user running partboot.
 *
 * Order of writes, so an interruption is always visible:
 *   0. a complete guest already there is marked incomplete first (marker
 *      created and flushed in it) and the caller told (opts->marked: the
 *      CLI drops it from the boot menu), before anything else is written;
 *   1. make the filesystem when there is none, --wipe, or an earlier
 *      install left it incomplete (fs_mkfs(), mke2fs);
 *   2. one libext2fs session: create /.partboot-incomplete and flush it to
 *      the disk before any other data;
 *   3. the entries, file data written in large contiguous runs
 *      (ext2fs_fallocate() + one write per extent), holes left as holes;
 *   4. opts->source_end (a streaming producer's exit status), then the
 *      after-install steps (setup.c: fstab, hostname, hosts, kernel/cmdline);
 *   5. remove the marker, close (flush) last.
 * A failure after 2 closes the filesystem with the marker still there, so
 * fs_guest_info() says incomplete and the next install starts over.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/macros.h"
#include "common/util.h"
#include "fs-private.h"

#define STAGE_SIZE (8u << 20) /* file data is written in runs of up to this */

/* path (normalised, no leading '/') → inode, for every entry written this session. */
struct path_map {
	struct slot {
		char *path;
		uint32_t hash;
		ext2_ino_t ino;
		bool fresh_dir; /* a directory made this session: its contents are all in the map */
	} *slots;
	size_t n, cap;
};

struct populate {
	ext2_filsys e2;
	const struct fs_target *t;
	const struct fs_install_opts *opts;
	struct pb_err *err;
	struct archive *a;
	bool from_dir;
	size_t strip_len; /* directory source: length of the prefix to drop */
	struct archive_entry_linkresolver *lr;
	struct path_map map;
	struct archive_entry *first; /* read before the disk is touched: is it an archive at all? */
	int first_ar;
	bool fixed_time;
	int64_t now;
	char *stage;
	const char *entry; /* current entry, for messages */
	uint64_t total, last_progress, data_written;
	blk64_t free_at_start, free_before_entry;
	ext2_ino_t marker;
	bool nospace; /* the last failure was libext2fs running out of space */
	struct strbuf path, parent_path;
	/* fs_populate_put_file(): a file partboot writes itself, data from memory */
	bool synthetic;
	const char *mem_data;
	size_t mem_len;
	uint64_t entries;
};

/* --- the path map ------------------------------------------------------- */

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct slot *map_find(struct path_map *m, const char *path)
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

static int map_put(struct path_map *m, const char *path, ext2_ino_t ino, bool fresh_dir)
{
	struct slot *s = map_find(m, path);
	uint32_t h;
	size_t i;

	if (s) {
		s->ino = ino;
		s->fresh_dir = fresh_dir;
		return 0;
	}
	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 1024;
		struct slot *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
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
	m->slots[i].path = strdup(path);
	if (!m->slots[i].path)
		return -ENOMEM;
	m->slots[i].hash = h;
	m->slots[i].ino = ino;
	m->slots[i].fresh_dir = fresh_dir;
	m->n++;
	return 0;
}

static void map_free(struct path_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].path);
	free(m->slots);
}

/* --- helpers --------------------------------------------------------------- */

/*
 * Normalise an archive path into sb: no leading '/', no "." or empty
 * components, ".." pops a component but never above the guest's root.
 */
static void normalize_path(const char *in, struct strbuf *sb)
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

static int fail_ext2(struct populate *p, errcode_t rc, const char *what)
{
	int r = fs_errno_from_ext2(rc);

	if (r == -ENOSPC) {
		p->nospace = true; /* reported by fill() with the sizes */
		return r;
	}
	return fs_err_ext2(p->err, rc, "%s: '%s': %s", p->t->where, p->entry, what);
}

static uint32_t time_extra(int64_t sec, long nsec)
{
	/* ext4 extra time: 30 bits of nanoseconds, 2 epoch bits extending the 32-bit seconds. */
	return ((uint32_t)nsec << 2) | (uint32_t)(((sec - (int32_t)sec) >> 32) & 3);
}

/* Write a whole new inode: the large part we fill, zeros up to the on-disk inode size. */
static errcode_t write_new_inode(struct populate *p, ext2_ino_t ino, struct ext2_inode_large *li)
{
	size_t isz = EXT2_INODE_SIZE(p->e2->super);
	_cleanup_free_ char *buf = NULL;

	if (isz <= EXT2_GOOD_OLD_INODE_SIZE)
		return ext2fs_write_new_inode(p->e2, ino, (struct ext2_inode *)li);
	buf = calloc(1, isz);
	if (!buf)
		return EXT2_ET_NO_MEMORY;
	li->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	memcpy(buf, li, sizeof(*li) < isz ? sizeof(*li) : isz);
	return ext2fs_write_inode_full(p->e2, ino, (struct ext2_inode *)buf, (int)isz);
}

/*
 * With a POSIX ACL, the mode's group bits are the ACL's mask (acl(5)).
 * libarchive folds the ACL's group:: entry into the mode instead, so put
 * the mask back. Returns the mask's permission bits, or -1 without one.
 */
static int acl_mask(struct archive_entry *e)
{
	int type, perm, tag, qual;
	const char *name;

	if (archive_entry_acl_reset(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS) <= 0)
		return -1;
	while (archive_entry_acl_next(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, &type, &perm, &tag, &qual, &name) ==
	       ARCHIVE_OK)
		if (tag == ARCHIVE_ENTRY_ACL_MASK)
			return perm & 7;
	return -1;
}

/* Owner, mode bits and times from the entry (or "now", root:root for made-up parents). */
static void set_meta(struct populate *p, struct ext2_inode_large *li, struct archive_entry *e)
{
	int64_t mt = p->now, at, ct;
	long mn = 0, an = 0, cn = 0;
	uint32_t uid = 0, gid = 0;

	if (e) {
		uid = (uint32_t)archive_entry_uid(e);
		gid = (uint32_t)archive_entry_gid(e);
		int mask = acl_mask(e);

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

static errcode_t read_large(struct populate *p, ext2_ino_t ino, struct ext2_inode_large *li)
{
	memset(li, 0, sizeof(*li));
	return ext2fs_read_inode_full(p->e2, ino, (struct ext2_inode *)li, sizeof(*li));
}

static errcode_t write_large(struct populate *p, ext2_ino_t ino, struct ext2_inode_large *li)
{
	return ext2fs_write_inode_full(p->e2, ino, (struct ext2_inode *)li, sizeof(*li));
}

/* Link name into dir, growing the directory when its blocks are full. */
static errcode_t link_expand(struct populate *p, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft)
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

/* Set the directory's parent link count etc. is done by ext2fs_mkdir; we add metadata. */
static errcode_t make_dir(struct populate *p, ext2_ino_t parent, const char *name, ext2_ino_t *ret)
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
static errcode_t lookup_child(struct populate *p, ext2_ino_t dir, bool dir_fresh, const char *path,
			      const char *name, ext2_ino_t *ret)
{
	if (dir_fresh) {
		struct slot *s = map_find(&p->map, path);

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
static int ensure_dir(struct populate *p, const char *path, ext2_ino_t *ret, bool *ret_fresh)
{
	_cleanup_free_ char *copy = NULL;
	struct ext2_inode_large li;
	struct slot *s;
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
	s = map_find(&p->map, path);
	if (s) {
		*ret = s->ino;
		*ret_fresh = s->fresh_dir;
		return 0;
	}
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		name = slash + 1;
		r = ensure_dir(p, copy, &parent, &pfresh);
	} else {
		name = copy;
		r = ensure_dir(p, "", &parent, &pfresh);
	}
	if (r < 0)
		return r;
	if (slash)
		*slash = '/';
	rc = lookup_child(p, parent, pfresh, copy, name, &ino);
	if (rc == 0) {
		rc = read_large(p, ino, &li);
		if (rc)
			return fail_ext2(p, rc, "cannot read a parent directory");
		if (!LINUX_S_ISDIR(li.i_mode))
			return pb_err_set(p->err, -ENOTDIR, "%s: '%s': parent '%s' is not a directory", p->t->where,
					  p->entry, path);
		r = map_put(&p->map, path, ino, false);
		if (r < 0)
			return r;
		*ret = ino;
		*ret_fresh = false;
		return 0;
	}
	if (rc != EXT2_ET_FILE_NOT_FOUND)
		return fail_ext2(p, rc, "cannot look up a parent directory");
	rc = make_dir(p, parent, name, &ino);
	if (rc)
		return fail_ext2(p, rc, "cannot make a parent directory");
	rc = read_large(p, ino, &li);
	if (!rc) {
		li.i_mode = LINUX_S_IFDIR | 0755;
		set_meta(p, &li, NULL);
		rc = write_large(p, ino, &li);
	}
	if (rc)
		return fail_ext2(p, rc, "cannot make a parent directory");
	r = map_put(&p->map, path, ino, true);
	if (r < 0)
		return r;
	*ret = ino;
	*ret_fresh = true;
	return 0;
}

/* Free an inode that lost its last link: blocks, xattr block, bitmap. */
static errcode_t release_inode(struct populate *p, ext2_ino_t ino)
{
	struct ext2_inode_large li;
	errcode_t rc;

	rc = read_large(p, ino, &li);
	if (rc)
		return rc;
	if (li.i_links_count > 1) {
		li.i_links_count--;
		return write_large(p, ino, &li);
	}
	if (ext2fs_inode_has_valid_blocks2(p->e2, (struct ext2_inode *)&li)) {
		rc = ext2fs_punch(p->e2, ino, (struct ext2_inode *)&li, NULL, 0, ~0ULL);
		if (rc)
			return rc;
		rc = read_large(p, ino, &li);
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
	rc = write_large(p, ino, &li);
	if (rc)
		return rc;
	ext2fs_inode_alloc_stats2(p->e2, ino, -1, LINUX_S_ISDIR(li.i_mode));
	return 0;
}

/* --- extended attributes and ACLs -------------------------------------------- */

/* POSIX ACL xattr (VFS) format: the value of system.posix_acl_{access,default}. */
#define ACL_XATTR_VERSION 2
#define ACL_UNDEFINED_ID 0xffffffffu

struct acl_ent {
	uint16_t tag, perm;
	uint32_t id;
};

static int cmp_acl(const void *a, const void *b)
{
	const struct acl_ent *x = a, *y = b;

	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Build the xattr value of one ACL type from libarchive's entries; 0 bytes when none. */
static int acl_to_xattr(struct archive_entry *e, int type, struct strbuf *out)
{
	struct acl_ent ents[64];
	size_t n = 0;
	int atype, perm, tag, qual;
	const char *name;
	bool have_mask = false, have_extra = false;

	strbuf_reset(out);
	if (archive_entry_acl_reset(e, type) <= 0)
		return 0;
	while (archive_entry_acl_next(e, type, &atype, &perm, &tag, &qual, &name) == ARCHIVE_OK) {
		struct acl_ent a = { 0, (uint16_t)(perm & 7), ACL_UNDEFINED_ID };

		switch (tag) {
		case ARCHIVE_ENTRY_ACL_USER_OBJ:
			a.tag = 0x01;
			break;
		case ARCHIVE_ENTRY_ACL_USER:
			a.tag = 0x02, a.id = (uint32_t)qual, have_extra = true;
			break;
		case ARCHIVE_ENTRY_ACL_GROUP_OBJ:
			a.tag = 0x04;
			break;
		case ARCHIVE_ENTRY_ACL_GROUP:
			a.tag = 0x08, a.id = (uint32_t)qual, have_extra = true;
			break;
		case ARCHIVE_ENTRY_ACL_MASK:
			a.tag = 0x10, have_mask = true;
			break;
		case ARCHIVE_ENTRY_ACL_OTHER:
			a.tag = 0x20;
			break;
		default:
			continue; /* NFSv4 ACLs have no place in ext4's POSIX ACLs */
		}
		/* libarchive repeats the mode-derived entries: keep one of each. */
		for (size_t i = 0; i < n; i++)
			if (ents[i].tag == a.tag && ents[i].id == a.id)
				goto next;
		if (n == ARRAY_SIZE(ents))
			return -E2BIG;
		ents[n++] = a;
	next:;
	}
	if (type == ARCHIVE_ENTRY_ACL_TYPE_ACCESS && !have_extra && !have_mask)
		return 0; /* only what the mode says already */
	if (!n)
		return 0;
	qsort(ents, n, sizeof(*ents), cmp_acl);
	{
		uint32_t v = htole32(ACL_XATTR_VERSION);

		strbuf_add(out, &v, 4);
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t t = htole16(ents[i].tag), pm = htole16(ents[i].perm);
		uint32_t id = htole32(ents[i].id);

		strbuf_add(out, &t, 2);
		strbuf_add(out, &pm, 2);
		strbuf_add(out, &id, 4);
	}
	return 0;
}

static int set_xattrs(struct populate *p, ext2_ino_t ino, struct archive_entry *e)
{
	struct ext2_xattr_handle *h = NULL;
	struct strbuf acl = STRBUF_INIT;
	const char *name;
	const void *value;
	size_t size;
	errcode_t rc = 0;
	int r = 0;
	bool any = archive_entry_xattr_reset(e) > 0 ||
		   archive_entry_acl_reset(e, ARCHIVE_ENTRY_ACL_TYPE_POSIX1E) > 0;

	if (!any)
		return 0;
	rc = ext2fs_xattrs_open(p->e2, ino, &h);
	if (!rc)
		rc = ext2fs_xattrs_read(h);
	if (rc)
		goto out;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		rc = ext2fs_xattr_set(h, name, value, size);
		if (rc) {
			if (rc == EXT2_ET_EA_BAD_NAME_LEN || rc == EXT2_ET_EA_KEY_NOT_FOUND ||
			    rc == EXT2_ET_EA_BAD_VALUE_SIZE) {
				r = pb_err_set(p->err, -EINVAL, "%s: '%s': cannot store extended attribute %s",
					       p->t->where, p->entry, name);
				goto out;
			}
			goto out;
		}
	}
	for (int i = 0; i < 2; i++) {
		int type = i ? ARCHIVE_ENTRY_ACL_TYPE_DEFAULT : ARCHIVE_ENTRY_ACL_TYPE_ACCESS;

		r = acl_to_xattr(e, type, &acl);
		if (r < 0) {
			pb_err_set(p->err, r, "%s: '%s': ACL too long", p->t->where, p->entry);
			goto out;
		}
		if (!acl.len)
			continue;
		rc = ext2fs_xattr_set(h, i ? "system.posix_acl_default" : "system.posix_acl_access", acl.buf,
				      acl.len);
		if (rc)
			goto out;
	}
out:
	if (h) {
		errcode_t rc2 = ext2fs_xattrs_close(&h);

		if (!rc)
			rc = rc2;
	}
	strbuf_release(&acl);
	if (r < 0)
		return r;
	if (rc)
		return fail_ext2(p, rc, "cannot store extended attributes");
	return 0;
}

/* --- file data ------------------------------------------------------------------- */

static bool block_is_zero(const char *b, size_t n)
{
	return b[0] == 0 && !memcmp(b, b + 1, n - 1);
}

/*
 * Write `nblocks` staged blocks at logical block lblk: all-zero blocks stay
 * holes; each run of data blocks is allocated with ext2fs_fallocate()
 * (contiguous where the allocator can) and written with one write per
 * extent.
 */
static errcode_t flush_stage(struct populate *p, ext2_ino_t ino, blk64_t lblk, blk64_t nblocks)
{
	const size_t bs = p->e2->blocksize;
	blk64_t i = 0;
	errcode_t rc;

	while (i < nblocks) {
		blk64_t run, cur;
		ext2_extent_handle_t h;

		while (i < nblocks && block_is_zero(p->stage + i * bs, bs))
			i++;
		if (i == nblocks)
			break;
		for (run = 1; i + run < nblocks && !block_is_zero(p->stage + (i + run) * bs, bs); run++)
			;
		rc = ext2fs_fallocate(p->e2, EXT2_FALLOCATE_FORCE_INIT | EXT2_FALLOCATE_INIT_BEYOND_EOF, ino, NULL,
				      ~0ULL, lblk + i, run);
		if (rc)
			return rc;
		rc = ext2fs_extent_open2(p->e2, ino, NULL, &h);
		if (rc)
			return rc;
		for (cur = lblk + i; cur < lblk + i + run;) {
			struct ext2fs_extent ext;
			blk64_t n;

			rc = ext2fs_extent_goto(h, cur);
			if (!rc)
				rc = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ext);
			if (rc)
				break;
			if (cur < ext.e_lblk || cur >= ext.e_lblk + ext.e_len) {
				rc = EXT2_ET_EXTENT_NOT_FOUND;
				break;
			}
			n = ext.e_lblk + ext.e_len - cur;
			if (n > lblk + i + run - cur)
				n = lblk + i + run - cur;
			rc = io_channel_write_blk64(p->e2->io, ext.e_pblk + (cur - ext.e_lblk), (int)n,
						    p->stage + (cur - lblk) * bs);
			if (rc)
				break;
			cur += n;
		}
		ext2fs_extent_free(h);
		if (rc)
			return rc;
		i += run;
	}
	return 0;
}

static void report_progress(struct populate *p, bool force)
{
	uint64_t done;

	if (!p->opts->progress)
		return;
	done = p->from_dir ? p->data_written : (uint64_t)archive_filter_bytes(p->a, -1);
	if (force && p->total)
		done = p->total; /* the end: the tar's trailing padding is never read */
	if (!force && done - p->last_progress < (4u << 20))
		return;
	p->last_progress = done;
	p->opts->progress(done, p->total, p->opts->userdata);
}

static int archive_fail(struct populate *p, const char *what)
{
	const char *msg = archive_error_string(p->a);

	return pb_err_set(p->err, -EIO, "%s: %s '%s': %s", p->t->where, what, p->entry,
			  msg ? msg : "truncated or corrupt archive");
}

/* Copy the entry's data into inode ino (whose size is already set). */
static int write_data(struct populate *p, ext2_ino_t ino)
{
	const size_t bs = p->e2->blocksize;
	uint64_t stage_start = 0, stage_len = 0; /* bytes; stage_start is block aligned */
	errcode_t rc;

	if (p->synthetic) {
		/* Small files partboot writes itself (fstab, hostname): one staged run. */
		size_t pad;

		if (p->mem_len > STAGE_SIZE)
			return pb_err_set(p->err, -EFBIG, "%s: '%s': too large", p->t->where, p->entry);
		if (!p->mem_len)
			return 0;
		memcpy(p->stage, p->mem_data, p->mem_len);
		pad = (bs - p->mem_len % bs) % bs;
		memset(p->stage + p->mem_len, 0, pad);
		rc = flush_stage(p, ino, 0, (p->mem_len + pad) / bs);
		return rc ? fail_ext2(p, rc, "cannot write") : 0;
	}
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int ar = archive_read_data_block(p->a, &buf, &len, &off);

		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN)
			return archive_fail(p, "cannot read");
		if (off < 0 || (uint64_t)off < stage_start + stage_len)
			return pb_err_set(p->err, -EIO, "%s: '%s': data out of order in the archive", p->t->where,
					  p->entry);
		/* A gap past the staged blocks: write what is staged, start again (the gap is a hole). */
		if (stage_len && (uint64_t)off >= (stage_start + stage_len + bs - 1) / bs * bs) {
			rc = flush_stage(p, ino, stage_start / bs, (stage_len + bs - 1) / bs);
			if (rc)
				return fail_ext2(p, rc, "cannot write");
			stage_len = 0;
		}
		if (!stage_len)
			stage_start = (uint64_t)off / bs * bs;
		/* Zeros between the staged end and this chunk (inside one block). */
		memset(p->stage + stage_len, 0, (uint64_t)off - stage_start - stage_len);
		stage_len = (uint64_t)off - stage_start;
		while (len > 0) {
			size_t n = STAGE_SIZE - stage_len < len ? STAGE_SIZE - stage_len : len;

			memcpy(p->stage + stage_len, buf, n);
			stage_len += n;
			buf = (const char *)buf + n;
			len -= n;
			p->data_written += n;
			if (stage_len == STAGE_SIZE) {
				rc = flush_stage(p, ino, stage_start / bs, STAGE_SIZE / bs);
				if (rc)
					return fail_ext2(p, rc, "cannot write");
				stage_start += STAGE_SIZE;
				stage_len = 0;
			}
		}
		report_progress(p, false);
	}
	if (stage_len) {
		size_t pad = (bs - stage_len % bs) % bs;

		memset(p->stage + stage_len, 0, pad);
		rc = flush_stage(p, ino, stage_start / bs, (stage_len + pad) / bs);
		if (rc)
			return fail_ext2(p, rc, "cannot write");
	}
	return 0;
}

/* --- one entry ----------------------------------------------------------------------- */

static int ext2_filetype(mode_t type)
{
	switch (type) {
	case AE_IFREG:
		return EXT2_FT_REG_FILE;
	case AE_IFDIR:
		return EXT2_FT_DIR;
	case AE_IFLNK:
		return EXT2_FT_SYMLINK;
	case AE_IFCHR:
		return EXT2_FT_CHRDEV;
	case AE_IFBLK:
		return EXT2_FT_BLKDEV;
	case AE_IFIFO:
		return EXT2_FT_FIFO;
	default:
		return EXT2_FT_UNKNOWN;
	}
}

static void warn(struct populate *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct populate *p, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (!p->opts->warn)
		return;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	p->opts->warn(sb.buf, p->opts->userdata);
	strbuf_release(&sb);
}

static int add_entry(struct populate *p, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e), *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	struct ext2_inode_large li;
	ext2_ino_t parent, ino, old;
	bool pfresh, exists;
	const char *name;
	char *slash;
	errcode_t rc;
	int r;

	if (!raw)
		raw = "";
	if (p->from_dir && !p->synthetic)
		raw = strlen(raw) >= p->strip_len ? raw + p->strip_len : "";
	p->entry = raw;
	normalize_path(raw, &p->path);

	if (type == AE_IFSOCK) {
		warn(p, "%s: '%s': skipped a socket (sockets cannot be stored)", p->t->where, raw);
		return 0;
	}
	if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR &&
	    type != AE_IFBLK && type != AE_IFIFO)
		return pb_err_set(p->err, -EOPNOTSUPP, "%s: '%s': file type %07o cannot be stored in ext4",
				  p->t->where, raw, (unsigned)type);

	/* The root itself ("./"): only its metadata. */
	if (!p->path.len) {
		if (type != AE_IFDIR)
			return pb_err_set(p->err, -EINVAL, "%s: '%s': the root must be a directory", p->t->where,
					  raw);
		rc = read_large(p, EXT2_ROOT_INO, &li);
		if (rc)
			return fail_ext2(p, rc, "cannot read the root directory");
		set_meta(p, &li, e);
		rc = write_large(p, EXT2_ROOT_INO, &li);
		if (rc)
			return fail_ext2(p, rc, "cannot write the root directory");
		return set_xattrs(p, EXT2_ROOT_INO, e);
	}
	if (!strcmp(p->path.buf, FS_MARKER_NAME))
		return 0; /* never let an archive fake or remove our marker */

	strbuf_reset(&p->parent_path);
	slash = strrchr(p->path.buf, '/');
	if (slash) {
		strbuf_add(&p->parent_path, p->path.buf, (size_t)(slash - p->path.buf));
		name = slash + 1;
	} else {
		name = p->path.buf;
	}
	if (strlen(name) > EXT2_NAME_LEN)
		return pb_err_set(p->err, -ENAMETOOLONG, "%s: '%s': name longer than %d bytes", p->t->where, raw,
				  EXT2_NAME_LEN);
	r = ensure_dir(p, p->parent_path.buf, &parent, &pfresh);
	if (r < 0)
		return r == -ENOMEM ? pb_err_set(p->err, r, "out of memory") : r;

	rc = lookup_child(p, parent, pfresh, p->path.buf, name, &old);
	if (rc && rc != EXT2_ET_FILE_NOT_FOUND)
		return fail_ext2(p, rc, "cannot look up");
	exists = rc == 0;
	if (exists) {
		rc = read_large(p, old, &li);
		if (rc)
			return fail_ext2(p, rc, "cannot read");
		if (LINUX_S_ISDIR(li.i_mode)) {
			if (type == AE_IFDIR && !hardlink) {
				/* A directory seen again (or made as a parent first): take its metadata. */
				set_meta(p, &li, e);
				rc = write_large(p, old, &li);
				if (rc)
					return fail_ext2(p, rc, "cannot write");
				map_put(&p->map, p->path.buf, old, false);
				return set_xattrs(p, old, e);
			}
			return pb_err_set(p->err, -EISDIR, "%s: '%s': would replace a directory", p->t->where, raw);
		}
		/* A later entry replaces an earlier file, as tar -x does. */
		rc = ext2fs_unlink(p->e2, parent, name, old, 0);
		if (!rc)
			rc = release_inode(p, old);
		if (rc)
			return fail_ext2(p, rc, "cannot replace");
	}

	if (hardlink) {
		struct slot *s;
		struct strbuf target = STRBUF_INIT;
		const char *h = hardlink;

		if (p->from_dir)
			h = strlen(h) >= p->strip_len ? h + p->strip_len : "";
		normalize_path(h, &target);
		s = map_find(&p->map, target.buf);
		if (s)
			ino = s->ino;
		else
			rc = fs_lookup(p->e2, target.buf, false, &ino);
		if (!s && rc) {
			r = pb_err_set(p->err, -ENOENT, "%s: '%s': hard link target '%s' is not in the archive before it",
				       p->t->where, raw, h);
			strbuf_release(&target);
			return r;
		}
		strbuf_release(&target);
		rc = read_large(p, ino, &li);
		if (rc)
			return fail_ext2(p, rc, "cannot read the hard link target");
		if (LINUX_S_ISDIR(li.i_mode))
			return pb_err_set(p->err, -EPERM, "%s: '%s': hard link to a directory", p->t->where, raw);
		rc = link_expand(p, parent, name, ino, ext2_filetype((mode_t)(li.i_mode & LINUX_S_IFMT)));
		if (!rc) {
			li.i_links_count++;
			rc = write_large(p, ino, &li);
		}
		if (rc)
			return fail_ext2(p, rc, "cannot link");
		r = map_put(&p->map, p->path.buf, ino, false);
		return r < 0 ? pb_err_set(p->err, r, "out of memory") : 0;
	}

	if (type == AE_IFDIR) {
		rc = make_dir(p, parent, name, &ino);
		if (rc)
			return fail_ext2(p, rc, "cannot make the directory");
		rc = read_large(p, ino, &li);
		if (!rc) {
			li.i_mode = LINUX_S_IFDIR;
			set_meta(p, &li, e);
			rc = write_large(p, ino, &li);
		}
		if (rc)
			return fail_ext2(p, rc, "cannot make the directory");
		r = map_put(&p->map, p->path.buf, ino, true);
		if (r < 0)
			return pb_err_set(p->err, r, "out of memory");
		return set_xattrs(p, ino, e);
	}

	rc = ext2fs_new_inode(p->e2, parent, LINUX_S_IFREG, NULL, &ino);
	if (rc)
		return fail_ext2(p, rc, "cannot allocate an inode");

	if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink(e);

		if (!target || !*target)
			return pb_err_set(p->err, -EINVAL, "%s: '%s': symlink without a target", p->t->where, raw);
		if (strlen(target) >= p->e2->blocksize)
			return pb_err_set(p->err, -ENAMETOOLONG, "%s: '%s': symlink target too long", p->t->where,
					  raw);
		for (;;) {
			rc = ext2fs_symlink(p->e2, parent, ino, name, target);
			if (rc != EXT2_ET_DIR_NO_SPACE)
				break;
			rc = ext2fs_expand_dir(p->e2, parent);
			if (rc)
				break;
		}
		if (!rc)
			rc = read_large(p, ino, &li);
		if (!rc) {
			li.i_mode = LINUX_S_IFLNK | 0777;
			set_meta(p, &li, e);
			li.i_mode = LINUX_S_IFLNK | 0777; /* a link's mode is always 0777 */
			rc = write_large(p, ino, &li);
		}
		if (rc)
			return fail_ext2(p, rc, "cannot make the symlink");
	} else {
		memset(&li, 0, sizeof(li));
		switch (type) {
		case AE_IFREG:
			li.i_mode = LINUX_S_IFREG;
			break;
		case AE_IFCHR:
			li.i_mode = LINUX_S_IFCHR;
			break;
		case AE_IFBLK:
			li.i_mode = LINUX_S_IFBLK;
			break;
		default:
			li.i_mode = LINUX_S_IFIFO;
			break;
		}
		set_meta(p, &li, e);
		li.i_links_count = 1;
		if (type == AE_IFCHR || type == AE_IFBLK) {
			unsigned major = archive_entry_rdevmajor(e), minor = archive_entry_rdevminor(e);

			/* The kernel's old/new device encoding in i_block (fs/ext4/inode.c). */
			if (major < 256 && minor < 256) {
				li.i_block[0] = major * 256 + minor;
				li.i_block[1] = 0;
			} else {
				li.i_block[0] = 0;
				li.i_block[1] = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
			}
		}
		if (type == AE_IFREG) {
			uint64_t size = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : 0;

			if (ext2fs_has_feature_extents(p->e2->super))
				li.i_flags |= EXT4_EXTENTS_FL;
			rc = ext2fs_inode_size_set(p->e2, (struct ext2_inode *)&li, size);
			if (rc)
				return fail_ext2(p, rc, "cannot set the size");
			if (li.i_flags & EXT4_EXTENTS_FL) {
				ext2_extent_handle_t h;

				/* An empty extent header in i_block. */
				li.i_flags &= ~EXT4_EXTENTS_FL;
				rc = ext2fs_extent_open2(p->e2, ino, (struct ext2_inode *)&li, &h);
				if (rc)
					return fail_ext2(p, rc, "cannot set up extents");
				ext2fs_extent_free(h);
			}
		}
		ext2fs_inode_alloc_stats2(p->e2, ino, +1, 0);
		rc = write_new_inode(p, ino, &li);
		if (!rc)
			rc = link_expand(p, parent, name, ino, ext2_filetype(type));
		if (rc)
			return fail_ext2(p, rc, "cannot create");
		if (type == AE_IFREG) {
			r = write_data(p, ino);
			if (r < 0)
				return r;
			/* fallocate changed i_blocks and the extent tree: re-read, then stamp. */
			rc = read_large(p, ino, &li);
			if (!rc) {
				set_meta(p, &li, e);
				rc = write_large(p, ino, &li);
			}
			if (rc)
				return fail_ext2(p, rc, "cannot write");
		}
	}
	r = map_put(&p->map, p->path.buf, ino, false);
	if (r < 0)
		return pb_err_set(p->err, r, "out of memory");
	return set_xattrs(p, ino, e);
}

/* --- the marker --------------------------------------------------------------------- */

static int marker_create(struct populate *p)
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
	set_meta(p, &li, NULL);
	li.i_mode = LINUX_S_IFREG | 0600;
	ext2fs_inode_alloc_stats2(p->e2, ino, +1, 0);
	rc = write_new_inode(p, ino, &li);
	if (!rc)
		rc = link_expand(p, EXT2_ROOT_INO, FS_MARKER_NAME, ino, EXT2_FT_REG_FILE);
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

static int marker_remove(struct populate *p)
{
	errcode_t rc;

	rc = ext2fs_unlink(p->e2, EXT2_ROOT_INO, FS_MARKER_NAME, p->marker, 0);
	if (!rc)
		rc = release_inode(p, p->marker);
	if (rc)
		return fs_err_ext2(p->err, rc, "%s: cannot mark the install complete", p->t->where);
	return 0;
}

/* --- sources ------------------------------------------------------------------------- */

static int open_source(struct populate *p)
{
	const char *src = p->opts->source;
	struct stat st;
	int ar;

	if (p->opts->source_is_fd) {
		/* a pipe from a child (mmdebstrap): never a directory, size unknown */
	} else if (strcmp(src, "-") != 0) {
		if (stat(src, &st) < 0)
			return pb_err_set(p->err, -errno, "%s: %s", src, strerror(errno));
		p->from_dir = S_ISDIR(st.st_mode);
		if (S_ISREG(st.st_mode))
			p->total = (uint64_t)st.st_size;
	}
	if (p->from_dir) {
		size_t n = strlen(src);

		p->a = archive_read_disk_new();
		if (!p->a)
			return pb_err_set(p->err, -ENOMEM, "out of memory");
		archive_read_disk_set_standard_lookup(p->a);
		archive_read_disk_set_symlink_physical(p->a);
		ar = archive_read_disk_open(p->a, src);
		while (n > 1 && src[n - 1] == '/')
			n--;
		p->strip_len = n;
		p->lr = archive_entry_linkresolver_new();
		if (!p->lr)
			return pb_err_set(p->err, -ENOMEM, "out of memory");
		archive_entry_linkresolver_set_strategy(p->lr, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	} else {
		p->a = archive_read_new();
		if (!p->a)
			return pb_err_set(p->err, -ENOMEM, "out of memory");
		archive_read_support_filter_all(p->a);
		archive_read_support_format_tar(p->a);
		archive_read_support_format_gnutar(p->a);
		archive_read_support_format_cpio(p->a);
		if (p->opts->source_is_fd)
			ar = archive_read_open_fd(p->a, p->opts->source_fd, 1 << 20);
		else
			ar = archive_read_open_filename(p->a, strcmp(src, "-") ? src : NULL, 1 << 20);
		/* The first header now: garbage is refused before anything is wiped. */
		if (ar == ARCHIVE_OK) {
			p->first_ar = archive_read_next_header(p->a, &p->first);
			if (p->first_ar < ARCHIVE_WARN)
				ar = p->first_ar;
		}
	}
	if (ar != ARCHIVE_OK) {
		const char *msg = archive_error_string(p->a);

		return pb_err_set(p->err, -EIO, "%s: %s: %s", p->t->where, strcmp(src, "-") ? src : "standard input",
				  msg ? msg : "cannot open");
	}
	return 0;
}

/* After running out of space: what the rest of the source would take. */
static uint64_t remaining_need(struct populate *p, struct archive_entry *cur)
{
	const uint64_t bs = p->e2->blocksize;
	uint64_t need = 0;
	struct archive_entry *e;

	need += ((uint64_t)archive_entry_size(cur) + bs - 1) / bs * bs;
	if (p->from_dir)
		return need; /* walking the rest of a tree is not worth it here */
	while (archive_read_next_header(p->a, &e) == ARCHIVE_OK) {
		uint64_t sz = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : 0;

		if (archive_entry_filetype(e) == AE_IFDIR)
			sz = bs;
		need += (sz + bs - 1) / bs * bs;
	}
	return need;
}

static int enospc(struct populate *p, struct archive_entry *cur)
{
	const uint64_t bs = p->e2->blocksize;
	/* What the entries before this one took; this one counts in full below. */
	blk64_t before = p->free_before_entry;
	uint64_t used = (p->free_at_start > before ? p->free_at_start - before : 0) * bs;
	uint64_t have = p->free_at_start * bs, need;
	char a[32], b[32];
	char *entry = strdup(p->entry ? p->entry : "");
	int r;

	if (!p->e2->super->s_free_inodes_count) {
		r = pb_err_set(p->err, -ENOSPC, "%s: out of inodes at '%s' (%u inodes in the filesystem)",
			       p->t->where, entry ? entry : "", p->e2->super->s_inodes_count);
		free(entry);
		return r;
	}
	need = used + remaining_need(p, cur);
	if (need <= have)
		need = have + bs; /* metadata we do not count tipped it over */
	r = pb_err_set(p->err, -ENOSPC, "%s: %s needed, %s free (ran out at '%s')", p->t->where,
		       pb_format_size(need, a, sizeof(a)), pb_format_size(have, b, sizeof(b)), entry ? entry : "");
	free(entry);
	return r;
}

static int fill(struct populate *p)
{
	struct archive_entry *e = NULL, *spare = NULL;
	struct archive_entry *disk_entry = NULL;
	int r = 0;

	if (p->from_dir) {
		disk_entry = archive_entry_new();
		if (!disk_entry)
			return pb_err_set(p->err, -ENOMEM, "out of memory");
	}
	for (;;) {
		int ar;

		if (p->from_dir) {
			archive_entry_clear(disk_entry);
			ar = archive_read_next_header2(p->a, disk_entry);
			e = disk_entry;
		} else if (p->first) {
			ar = p->first_ar;
			e = TAKE_PTR(p->first);
		} else if (p->first_ar == ARCHIVE_EOF) {
			break; /* an empty archive */
		} else {
			ar = archive_read_next_header(p->a, &e);
		}
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			const char *msg = archive_error_string(p->a);

			r = pb_err_set(p->err, -EIO, "%s: %s: %s%s%s%s", p->t->where,
				       strcmp(p->opts->source, "-") ? p->opts->source : "standard input",
				       msg ? msg : "truncated or corrupt archive", p->entry ? " (after '" : "",
				       p->entry ? p->entry : "", p->entry ? "')" : "");
			break;
		}
		if (p->from_dir) {
			archive_read_disk_descend(p->a);
			archive_entry_linkify(p->lr, &e, &spare);
			if (!e)
				continue;
		}
		p->nospace = false;
		p->free_before_entry = ext2fs_free_blocks_count(p->e2->super);
		r = add_entry(p, e);
		if (r == -ENOSPC && p->nospace)
			r = enospc(p, e);
		if (r < 0)
			break;
		report_progress(p, false);
		if (++p->entries == 64)
			fs_test_pause("fill");
	}
	if (disk_entry)
		archive_entry_free(disk_entry);
	return r;
}

/* --- files partboot writes itself ------------------------------------------------------ */

int fs_populate_put_file(struct populate *p, const char *path, const void *data, size_t len, unsigned mode)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	if (!e)
		return pb_err_set(p->err, -ENOMEM, "out of memory");
	/* Through add_entry(), as if the archive held it: replaces a file or link of that name. */
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, mode & 07777);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, p->now, 0);
	p->synthetic = true;
	p->mem_data = data;
	p->mem_len = len;
	p->nospace = false;
	r = add_entry(p, e);
	if (r == -ENOSPC && p->nospace)
		r = pb_err_set(p->err, -ENOSPC, "%s: no space left for '%s'", p->t->where, path);
	p->synthetic = false;
	p->mem_data = NULL;
	archive_entry_free(e);
	return r;
}

/* --- fs_install ---------------------------------------------------------------------- */

int fs_install(const struct fs_target *t, const struct fs_install_opts *opts, struct pb_err *err)
{
	struct pb_err local = PB_ERR_INIT;
	struct populate p = { .t = t, .opts = opts, .path = STRBUF_INIT, .parent_path = STRBUF_INIT };
	bool need_mkfs = opts->wipe;
	enum fs_kind kind;
	char type[32];
	errcode_t rc;
	int r;

	if (!err)
		err = &local;
	p.err = err;
	if (!opts->source)
		return pb_err_set(err, -EINVAL, "%s: no source given", t->where);
	/* A missing source is refused before the disk is touched. */
	if (!opts->source_is_fd && strcmp(opts->source, "-") && access(opts->source, R_OK) < 0)
		return pb_err_set(err, -errno, "%s: %s", opts->source, strerror(errno));

	p.stage = malloc(STAGE_SIZE);
	if (!p.stage) {
		r = pb_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = open_source(&p);
	if (r < 0)
		goto out;

	r = fs_probe_kind(t, &kind, type, sizeof(type), err);
	if (r < 0)
		goto out;
	if (!need_mkfs && kind != FS_KIND_EXT4) {
		if (*type) {
			r = pb_err_set(err, -EEXIST, "%s: holds a %s filesystem; use --wipe to replace it", t->where,
				       type);
			goto out;
		}
		need_mkfs = true;
	}
	p.fixed_time = opts->seed || getenv("SOURCE_DATE_EPOCH");
	p.now = p.fixed_time ? fs_seed_time() : (int64_t)time(NULL);
	if (kind == FS_KIND_EXT4) {
		/*
		 * A guest already there: an earlier install that did not finish is
		 * replaced, not continued. A complete one is marked incomplete before
		 * anything else is written (even before --wipe's mkfs), and the caller
		 * told (opts->marked: the boot menu drops it), so a kill at any later
		 * moment never leaves a menu entry pointing at a half-written guest.
		 */
		ext2_ino_t ino;
		bool had_marker;

		r = fs_ext2_open(t, true, &p.e2, err);
		if (r < 0 && !need_mkfs)
			goto out;
		if (r >= 0) {
			had_marker = fs_lookup(p.e2, "/" FS_MARKER_NAME, false, &ino) == 0;
			if (!had_marker) {
				if (p.fixed_time)
					p.e2->now = (time_t)p.now;
				rc = ext2fs_read_bitmaps(p.e2);
				r = rc ? fs_err_ext2(err, rc, "%s: cannot read the bitmaps", t->where) : marker_create(&p);
			}
			{
				struct pb_err cerr = PB_ERR_INIT;
				int r2 = fs_ext2_close(p.e2, t, &cerr);

				if (r2 < 0 && r >= 0)
					r = pb_err_set(err, r2, "%s", pb_err_msg(&cerr));
				pb_err_clear(&cerr);
			}
			p.e2 = NULL;
			if (r < 0)
				goto out;
			if (had_marker)
				need_mkfs = true;
			else if (opts->marked) {
				r = opts->marked(opts->marked_userdata, err);
				if (r < 0)
					goto out;
			}
		}
		r = 0;
	}
	if (need_mkfs) {
		struct fs_mkfs_opts mo = { .kind = FS_KIND_EXT4, .label = opts->label, .seed = opts->seed };

		r = fs_mkfs(t, &mo, err);
		if (r < 0)
			goto out;
	}

	r = fs_ext2_open(t, true, &p.e2, err);
	if (r < 0)
		goto out;
	if (p.fixed_time)
		p.e2->now = (time_t)p.now; /* every time libext2fs stamps (s_wtime, ...) */
	p.e2->umask = 022;
	rc = ext2fs_read_bitmaps(p.e2);
	if (rc) {
		r = fs_err_ext2(err, rc, "%s: cannot read the bitmaps", t->where);
		goto out_close;
	}
	r = marker_create(&p);
	if (r < 0)
		goto out_close;
	p.free_at_start = ext2fs_free_blocks_count(p.e2->super);

	r = fill(&p);
	if (r < 0)
		goto out_close;
	if (opts->source_end) {
		r = opts->source_end(opts->source_userdata, err);
		if (r < 0)
			goto out_close;
	}
	if (opts->setup) {
		r = fs_setup_guest(&p, p.e2, t, opts, err);
		if (r < 0)
			goto out_close;
	}
	fs_test_pause("setup");
	r = marker_remove(&p);
	if (r < 0)
		goto out_close;
	report_progress(&p, true);

out_close:
	{
		struct pb_err cerr = PB_ERR_INIT;
		int r2 = fs_ext2_close(p.e2, t, &cerr);

		if (r2 < 0 && r >= 0) {
			r = r2;
			pb_err_set(err, r2, "%s", pb_err_msg(&cerr));
		}
		pb_err_clear(&cerr);
	}
out:
	if (p.a) {
		if (p.from_dir)
			archive_read_close(p.a);
		archive_read_free(p.a);
	}
	if (p.lr)
		archive_entry_linkresolver_free(p.lr);
	map_free(&p.map);
	free(p.stage);
	strbuf_release(&p.path);
	strbuf_release(&p.parent_path);
	pb_err_clear(&local);
	return r;
}
