/* SPDX-License-Identifier: MIT */
/*
 * What a block copy of a guest reads (copy.c, snapshot.c): the byte runs of
 * the source, in two sets.
 *
 *   meta  the filesystem's own structures, group by group: superblock and
 *         descriptor copies with the reserved GDT blocks, both bitmaps, the
 *         inode table; and the root directory's blocks. With these alone
 *         libext2fs opens the filesystem, reads its bitmaps and finds (or
 *         adds) /.partboot-incomplete, which is what a copy needs before the
 *         file data arrives; the marker's own block, when it has one.
 *   data  everything else there is to copy: the blocks the bitmaps mark in
 *         use (as e2image -ra copies); for an exact copy of an image file,
 *         every range the file holds data in, used or free, so the copy has
 *         the same bytes; for a source without a filesystem (raw), all of it.
 *
 * On an image file, ranges the file does not hold (holes, found with
 * SEEK_DATA) are never read: they are zeros. Reads only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "fs-private.h"

void fs_runs_add(struct fs_runs *r, uint64_t start, uint64_t len)
{
	if (!len)
		return;
	/* appended in order most of the time: extend the last run */
	if (r->n && r->v[r->n - 1].start + r->v[r->n - 1].len == start) {
		r->v[r->n - 1].len += len;
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	r->v[r->n++] = (struct fs_byte_run){ start, len };
}

static int cmp_run(const void *a, const void *b)
{
	const struct fs_byte_run *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

void fs_runs_normalize(struct fs_runs *r)
{
	size_t k = 0;

	if (r->n < 2)
		return;
	qsort(r->v, r->n, sizeof(*r->v), cmp_run);
	for (size_t i = 1; i < r->n; i++) {
		struct fs_byte_run *last = &r->v[k];

		if (r->v[i].start <= last->start + last->len) {
			uint64_t end = r->v[i].start + r->v[i].len;

			if (end > last->start + last->len)
				last->len = end - last->start;
		} else {
			r->v[++k] = r->v[i];
		}
	}
	r->n = k + 1;
}

void fs_runs_subtract(const struct fs_runs *a, const struct fs_runs *b, struct fs_runs *ret)
{
	size_t j = 0;

	for (size_t i = 0; i < a->n; i++) {
		uint64_t s = a->v[i].start, e = s + a->v[i].len;

		while (j < b->n && b->v[j].start + b->v[j].len <= s)
			j++;
		for (size_t k = j; k < b->n && b->v[k].start < e; k++) {
			if (b->v[k].start > s)
				fs_runs_add(ret, s, b->v[k].start - s);
			if (b->v[k].start + b->v[k].len > s)
				s = b->v[k].start + b->v[k].len;
		}
		if (s < e)
			fs_runs_add(ret, s, e - s);
	}
}

void fs_runs_intersect(const struct fs_runs *a, const struct fs_runs *b, struct fs_runs *ret)
{
	size_t j = 0;

	for (size_t i = 0; i < a->n; i++) {
		uint64_t s = a->v[i].start, e = s + a->v[i].len;

		while (j < b->n && b->v[j].start + b->v[j].len <= s)
			j++;
		for (size_t k = j; k < b->n && b->v[k].start < e; k++) {
			uint64_t ks = b->v[k].start > s ? b->v[k].start : s;
			uint64_t ke = b->v[k].start + b->v[k].len < e ? b->v[k].start + b->v[k].len : e;

			if (ke > ks)
				fs_runs_add(ret, ks, ke - ks);
		}
	}
}

uint64_t fs_runs_bytes(const struct fs_runs *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->v[i].len;
	return n;
}

void fs_runs_release(struct fs_runs *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

void fs_copy_plan_release(struct fs_copy_plan *p)
{
	fs_runs_release(&p->meta);
	fs_runs_release(&p->data);
	fs_runs_release(&p->rootdir);
}

struct root_walk {
	struct fs_runs *r;
	uint64_t bs;
};

static int root_block(ext2_filsys e2, blk64_t *blk, e2_blkcnt_t cnt, blk64_t ref, int ref_off, void *priv)
{
	struct root_walk *w = priv;

	if (*blk)
		fs_runs_add(w->r, *blk * w->bs, w->bs);
	return 0;
}

/* The file's data ranges within [0, size), whole blocks (a device: all of it). */
static void file_extents(struct fs_raw *in, uint64_t bs, struct fs_runs *r)
{
	uint64_t off = 0;

	while (off < in->size) {
		uint64_t d = fs_raw_next_data(in, off), h;

		if (d >= in->size)
			break;
		h = fs_raw_next_hole(in, d);
		if (h <= d)
			h = in->size;
		d = d / bs * bs;
		h = (h + bs - 1) / bs * bs;
		if (h > in->size)
			h = in->size;
		fs_runs_add(r, d, h - d);
		off = h;
	}
}

static void group_meta(ext2_filsys e2, struct fs_runs *m)
{
	const uint64_t bs = e2->blocksize;
	blk64_t old_desc_blocks;

	if (ext2fs_has_feature_meta_bg(e2->super))
		old_desc_blocks = e2->super->s_first_meta_bg;
	else
		old_desc_blocks = e2->desc_blocks + e2->super->s_reserved_gdt_blocks;
	fs_runs_add(m, 0, bs * (e2->super->s_first_data_block + 1)); /* block 0 (and the 1 KiB superblock's) */
	for (dgrp_t g = 0; g < e2->group_desc_count; g++) {
		blk64_t super = 0, old_desc = 0, new_desc = 0, loc;
		blk_t used = 0;

		ext2fs_super_and_bgd_loc2(e2, g, &super, &old_desc, &new_desc, &used);
		if (super || g == 0)
			fs_runs_add(m, super * bs, bs);
		if (old_desc)
			fs_runs_add(m, old_desc * bs, old_desc_blocks * bs);
		if (new_desc)
			fs_runs_add(m, new_desc * bs, bs);
		if ((loc = ext2fs_block_bitmap_loc(e2, g)))
			fs_runs_add(m, loc * bs, bs);
		if ((loc = ext2fs_inode_bitmap_loc(e2, g)))
			fs_runs_add(m, loc * bs, bs);
		if ((loc = ext2fs_inode_table_loc(e2, g)))
			fs_runs_add(m, loc * bs, (uint64_t)e2->inode_blocks_per_group * bs);
	}
}

static void used_blocks(ext2_filsys e2, struct fs_runs *u)
{
	const uint64_t bs = e2->blocksize;
	blk64_t start = e2->super->s_first_data_block, end = ext2fs_blocks_count(e2->super) - 1;

	while (start <= end) {
		blk64_t s, z;

		if (ext2fs_find_first_set_block_bitmap2(e2->block_map, start, end, &s))
			break;
		if (ext2fs_find_first_zero_block_bitmap2(e2->block_map, s, end, &z))
			z = end + 1;
		fs_runs_add(u, s * bs, (z - s) * bs);
		start = z;
	}
}

int fs_copy_plan_make(const struct fs_target *src, struct fs_raw *in, enum fs_copy_mode mode, struct fs_copy_plan *ret,
		      struct pb_err *err)
{
	struct fs_copy_plan p = { 0 };
	struct fs_runs all = { 0 };
	ext2_filsys e2 = NULL;
	errcode_t rc;
	int r;

	if (mode == FS_COPY_RAW) {
		/* No filesystem to read: every byte the source holds, the head last like any copy. */
		p.bs = 4096;
		p.fs_bytes = src->size;
		p.head_len = src->size < 4096 ? src->size : 4096;
		file_extents(in, 1, &all);
		fs_runs_normalize(&all);
		p.data = all;
		*ret = p;
		return 0;
	}
	r = fs_ext2_open(src, false, &e2, err);
	if (r < 0)
		return r;
	rc = ext2fs_read_bitmaps(e2);
	if (rc) {
		r = fs_err_ext2(err, rc, "%s: cannot read the bitmaps", src->where);
		goto out;
	}
	p.bs = e2->blocksize;
	p.fs_bytes = ext2fs_blocks_count(e2->super) * (uint64_t)e2->blocksize;
	/*
	 * The head: whole blocks of every block size libext2fs uses on the way
	 * (1 KiB while it looks for the superblock at byte 1024, then the
	 * filesystem's), holding the primary superblock.
	 */
	p.head_len = e2->blocksize > 2048 ? e2->blocksize : 2048;
	p.journal_dirty = ext2fs_has_feature_journal_needs_recovery(e2->super);
	group_meta(e2, &p.meta);
	{
		struct root_walk w = { &p.rootdir, p.bs };

		rc = ext2fs_block_iterate3(e2, EXT2_ROOT_INO, BLOCK_FLAG_READ_ONLY, NULL, root_block, &w);
		if (rc) {
			r = fs_err_ext2(err, rc, "%s: cannot read the root directory", src->where);
			goto out;
		}
	}
	fs_runs_normalize(&p.rootdir);
	for (size_t i = 0; i < p.rootdir.n; i++)
		fs_runs_add(&p.meta, p.rootdir.v[i].start, p.rootdir.v[i].len);
	/* The incomplete marker's line too: a copy cut short still says whose marker it is. */
	{
		struct fs_runs mk = { 0 };
		struct root_walk w = { &mk, p.bs };
		ext2_ino_t ino;

		if (!ext2fs_lookup(e2, EXT2_ROOT_INO, FS_MARKER_NAME, (int)strlen(FS_MARKER_NAME), NULL, &ino))
			ext2fs_block_iterate3(e2, ino, BLOCK_FLAG_READ_ONLY, NULL, root_block, &w);
		for (size_t i = 0; i < mk.n; i++)
			fs_runs_add(&p.meta, mk.v[i].start, mk.v[i].len);
		fs_runs_release(&mk);
	}
	fs_runs_normalize(&p.meta);
	/* Nothing past the partition, whatever the descriptors claim. */
	{
		struct fs_runs lim = { 0 }, m = { 0 };

		fs_runs_add(&lim, 0, src->size);
		fs_runs_intersect(&p.meta, &lim, &m);
		fs_runs_release(&p.meta);
		p.meta = m;
		fs_runs_release(&lim);
	}

	if (mode == FS_COPY_EXACT && in->is_file)
		file_extents(in, p.bs, &all);
	else
		used_blocks(e2, &all);
	fs_runs_normalize(&all);
	fs_runs_subtract(&all, &p.meta, &p.data);
	*ret = p;
	memset(&p, 0, sizeof(p));
out:
	fs_runs_release(&all);
	fs_copy_plan_release(&p);
	ext2fs_close_free(&e2);
	return r;
}
