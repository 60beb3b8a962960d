/* SPDX-License-Identifier: MIT */
/*
 * fs_copy(): a guest's filesystem copied block by block into another
 * partition (clone, move, export, import, rollback), reading only what
 * copy-plan.c says: the blocks in use, as e2image -ra does, or for an exact
 * copy every byte the source file holds. Zero blocks are not written into an
 * image file (holes punched first stay holes); on a block device every block
 * of the plan is written.
 *
 * Who touches the disk, and when (the target only; every write through
 * rawio.c's range check, libext2fs's through copy-io.c and io.c):
 *   1. the target is cleared so it holds no filesystem: holes punched over
 *      all of it in an image file; on a block device its first MiB zeroed
 *      (all of it for an exact copy, whose free space must read as zeros);
 *   2. the filesystem's structures (plan.meta) are copied, except the head
 *      (block 0 with the primary superblock), which stays in memory: the
 *      target still reads as no filesystem;
 *   3. with opts->op (the copy must read as incomplete until the caller is
 *      done) or a new UUID, one libext2fs session on the copy through the
 *      held-back head (copy-io.c): the new UUID in the superblock, and
 *      /.partboot-incomplete naming op; its writes are recorded;
 *   4. with op: the head is written now, the target becomes a filesystem
 *      that reads as incomplete (fs_guest_info());
 *   5. the file data (plan.data), except what step 3 wrote;
 *   6. without op: the head, last, so a copy cut short never looks whole;
 *      an exact copy with op puts the source's own bytes back into the
 *      blocks step 3 changed: the others, the head, and the root
 *      directory's last (the marker's name goes with them), so it ends
 *      complete and byte for byte the source.
 * Each step is on the disk (fsync) before the next. Killed during 1–2 the
 * target holds no filesystem; during 4–5 an incomplete one (or, with op
 * unset, none); never a complete-looking half copy.
 *
 * The new UUID goes in without rewriting the checksums of every inode and
 * block: on a metadata_csum filesystem without the metadata_csum_seed
 * feature, the old UUID's checksum seed is kept in s_checksum_seed and the
 * feature turned on (what tune2fs -U does when the seed feature is already
 * there); fs_adopt() turns it off again with tune2fs, which rewrites the
 * checksums (result.csum_seed_added). Without metadata_csum only the group
 * descriptors' checksums (uninit_bg) depend on the UUID; they are recomputed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uuid.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "common/util.h"
#include "fs-private.h"

#define COPY_BUF (4u << 20)
#define ZERO_UNIT 4096u

struct copy {
	const struct fs_target *src, *dst;
	const struct fs_copy_opts *o;
	struct fs_raw in, out;
	struct fs_copy_plan plan;
	char *buf;
	uint64_t total, done, reported, pause_at;
	bool paused;
	/* test hook stages (fs_test_pause()): "OP-meta" and "OP", or "copy-meta" and "copy" */
	char stage[32], stage_meta[48];
	struct pb_err *err;
};

static bool zero_unit(const char *p, size_t n)
{
	static const char zeros[ZERO_UNIT];

	return !memcmp(p, zeros, n);
}

static void progress(struct copy *c, uint64_t n, bool force)
{
	c->done += n;
	if (c->pause_at && !c->paused && c->done >= c->pause_at) {
		c->paused = true;
		fs_test_pause(c->stage);
	}
	if (c->o->progress && (force || c->done - c->reported >= (16u << 20))) {
		c->reported = c->done;
		c->o->progress(c->done, c->total, c->o->userdata);
	}
}

/* Write buf's non-zero units (all of it with every_byte, or on a block device). */
static int put(struct copy *c, uint64_t off, const char *buf, size_t len, bool every_byte)
{
	size_t i = 0;
	int r;

	if (every_byte || !c->out.is_file)
		return fs_raw_write(&c->out, off, buf, len, c->err);
	while (i < len) {
		size_t s, n;

		while (i < len && zero_unit(buf + i, len - i < ZERO_UNIT ? len - i : ZERO_UNIT))
			i += ZERO_UNIT;
		if (i >= len)
			break;
		s = i;
		while (i < len && !zero_unit(buf + i, len - i < ZERO_UNIT ? len - i : ZERO_UNIT))
			i += ZERO_UNIT;
		n = (i < len ? i : len) - s;
		r = fs_raw_write(&c->out, off + s, buf + s, n, c->err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Copy [off, off+len) of the source to the same place in the target. Holes
 * of an image-file source are skipped (the target's are holes too, or get
 * zeros on a device); every_byte writes zeros over what the target holds.
 */
static int copy_range(struct copy *c, uint64_t off, uint64_t len, bool every_byte)
{
	const uint64_t end = off + len;
	int r;

	while (off < end) {
		uint64_t n = end - off;

		if (c->in.is_file) {
			uint64_t d = fs_raw_next_data(&c->in, off);

			if (d > off) {
				uint64_t hole = (d < end ? d : end) - off;

				/* zeros to write only where the target may hold something else */
				if (every_byte || !c->out.is_file) {
					r = fs_raw_zero(&c->out, off, hole, c->err);
					if (r < 0)
						return r;
				}
				progress(c, hole, false);
				off += hole;
				continue;
			}
			n = fs_raw_next_hole(&c->in, off) - off;
			if (n > end - off || !n)
				n = end - off;
		}
		if (n > COPY_BUF)
			n = COPY_BUF;
		r = fs_raw_read(&c->in, off, c->buf, (size_t)n, c->err);
		if (r >= 0)
			r = put(c, off, c->buf, (size_t)n, every_byte);
		if (r < 0)
			return r;
		progress(c, n, false);
		off += n;
	}
	return 0;
}

/* Copy the runs of r, except what skip holds (both normalized). */
static int copy_runs(struct copy *c, const struct fs_runs *r, const struct fs_runs *skip, bool every_byte)
{
	struct fs_runs todo = { 0 };
	int ret = 0;

	fs_runs_subtract(r, skip, &todo);
	for (size_t i = 0; i < todo.n && ret >= 0; i++)
		ret = copy_range(c, todo.v[i].start, todo.v[i].len, every_byte);
	fs_runs_release(&todo);
	return ret;
}

static int set_uuid(struct copy *c, ext2_filsys e2, bool *ret_seed_added)
{
	struct ext2_super_block *sb = e2->super;
	uuid_t u;

	if (uuid_parse(c->o->uuid, u))
		return pb_err_set(c->err, -EINVAL, "%s: '%s' is not a UUID", c->dst->where, c->o->uuid);
	if (ext2fs_has_feature_metadata_csum(sb) && !ext2fs_has_feature_csum_seed(sb)) {
		/* The checksums stay valid: they were seeded from this UUID, and now from the copy of it. */
		sb->s_checksum_seed = ext2fs_crc32c_le(~0, sb->s_uuid, sizeof(sb->s_uuid));
		ext2fs_set_feature_csum_seed(sb);
		*ret_seed_added = true;
	}
	memcpy(sb->s_uuid, u, sizeof(sb->s_uuid));
	ext2fs_init_csum_seed(e2);
	for (dgrp_t g = 0; g < e2->group_desc_count; g++)
		ext2fs_group_desc_csum_set(e2, g);
	ext2fs_mark_super_dirty(e2);
	return 0;
}

/* Step 3: the session on the copy through the held-back head. */
static int session(struct copy *c, struct fs_overlay *ov, bool *ret_seed_added)
{
	ext2_filsys e2 = NULL;
	int64_t stamp;
	errcode_t rc;
	int r;

	r = fs_overlay_open(c->dst, ov, &e2, c->err);
	if (r < 0)
		return r;
	if (pb_fixed_time(c->o->seed != NULL, &stamp))
		e2->now = (time_t)stamp;
	/* An exact copy puts the source's bytes back afterwards: write as few blocks as can be. */
	if (c->o->mode == FS_COPY_EXACT)
		e2->flags |= EXT2_FLAG_MASTER_SB_ONLY;
	rc = ext2fs_read_bitmaps(e2);
	if (rc) {
		r = fs_err_ext2(c->err, rc, "%s: the copy's bitmaps", c->dst->where);
		goto out;
	}
	if (c->o->uuid) {
		r = set_uuid(c, e2, ret_seed_added);
		if (r < 0)
			goto out;
	}
	if (c->o->op) {
		rc = fs_mark_add(e2, c->o->op);
		if (rc) {
			r = fs_err_ext2(c->err, rc, "%s: cannot mark the copy incomplete", c->dst->where);
			goto out;
		}
	}
out:
	rc = ext2fs_close_free(&e2);
	if (rc && r >= 0)
		r = fs_err_ext2(c->err, rc, "%s: cannot write the copy", c->dst->where);
	return r;
}

static int write_head(struct copy *c, const unsigned char *head, size_t len)
{
	int r = fs_raw_sync(&c->out, c->err);

	if (r >= 0)
		r = fs_raw_write(&c->out, 0, head, len, c->err);
	if (r >= 0)
		r = fs_raw_sync(&c->out, c->err);
	return r;
}

/*
 * Step 6 of an exact copy: the source's bytes into what the session changed.
 * The root directory's blocks go last, after the head: until then the
 * marker's name stays in the root directory, so the guest reads incomplete
 * until the very last write, and complete and byte for byte the source
 * after it.
 */
static int restore(struct copy *c, const struct fs_runs *written)
{
	struct fs_runs late = { 0 }, none = { 0 };
	unsigned char *src_head;
	int r;

	fs_runs_intersect(written, &c->plan.rootdir, &late);
	r = copy_runs(c, written, &late, true);
	if (r < 0)
		goto out;
	src_head = xcalloc(1, c->plan.head_len);
	r = fs_raw_read(&c->in, 0, src_head, c->plan.head_len, c->err);
	if (r >= 0)
		r = write_head(c, src_head, c->plan.head_len);
	free(src_head);
	if (r < 0)
		goto out;
	fs_test_pause("restore");
	r = copy_runs(c, &late, &none, true);
	if (r >= 0)
		r = fs_raw_sync(&c->out, c->err);
out:
	fs_runs_release(&late);
	return r;
}

int fs_copy(const struct fs_target *src, const struct fs_target *dst, const struct fs_copy_opts *o,
	    struct fs_copy_result *ret, struct pb_err *err)
{
	struct pb_err local = PB_ERR_INIT;
	struct copy c = { .src = src, .dst = dst, .o = o, .err = err ? err : &local };
	struct fs_overlay ov = { 0 };
	struct fs_runs written = { 0 }, head = { 0 };
	struct fs_copy_result res = { 0 };
	bool seed_added = false;
	char a[32], b[32];
	int r;

	c.in.fd = c.out.fd = -1;
	snprintf(c.stage, sizeof(c.stage), "%s", o->op ? o->op : "copy");
	snprintf(c.stage_meta, sizeof(c.stage_meta), "%s-meta", c.stage);
	if (o->mode == FS_COPY_RAW && (o->op || o->uuid)) {
		r = pb_err_set(c.err, -EINVAL, "%s: a raw copy has no filesystem to mark or rename", dst->where);
		goto out;
	}
	r = fs_raw_open(src, false, &c.in, c.err);
	if (r >= 0)
		r = fs_raw_open(dst, true, &c.out, c.err);
	if (r >= 0)
		r = fs_copy_plan_make(src, &c.in, o->mode, &c.plan, c.err);
	if (r < 0)
		goto out;
	/* An exact copy holds the whole source partition; any other the filesystem. */
	{
		uint64_t need = o->mode == FS_COPY_USED ? c.plan.fs_bytes : src->size;

		if (dst->size < need) {
			r = pb_err_set(c.err, -ENOSPC, "%s: %s needed, the partition is %s", dst->where,
				       pb_format_size(need, a, sizeof(a)), pb_format_size(dst->size, b, sizeof(b)));
			goto out;
		}
	}
	if ((o->op || o->uuid) && c.plan.journal_dirty) {
		r = pb_err_set(c.err, -EBUSY,
			       "%s: the filesystem's journal needs recovery (the guest was not shut down cleanly): "
			       "boot it and shut it down, or run e2fsck -fp on it first", src->where);
		goto out;
	}
	c.buf = xmalloc(COPY_BUF);
	ov.head_len = c.plan.head_len;
	ov.head = xcalloc(1, ov.head_len);
	c.total = fs_runs_bytes(&c.plan.meta) + fs_runs_bytes(&c.plan.data);
	res.bytes = c.total;

	/* 1. no filesystem in the target */
	if (c.out.is_file || o->mode == FS_COPY_EXACT)
		r = fs_raw_zero(&c.out, 0, dst->size, c.err);
	else
		r = fs_raw_zero(&c.out, 0, dst->size < MiB ? dst->size : MiB, c.err);
	if (r < 0)
		goto out;
	/* 2. the structures, without the head */
	r = fs_raw_read(&c.in, 0, ov.head, ov.head_len, c.err);
	if (r < 0)
		goto out;
	fs_runs_add(&head, 0, ov.head_len);
	r = copy_runs(&c, &c.plan.meta, &head, false);
	if (r >= 0)
		r = fs_raw_sync(&c.out, c.err);
	if (r < 0)
		goto out;
	fs_test_pause(c.stage_meta);
	/* 3. the session */
	if (o->op || o->uuid) {
		r = session(&c, &ov, &seed_added);
		if (r < 0)
			goto out;
		for (size_t i = 0; i < ov.n_written; i++)
			fs_runs_add(&written, ov.written[i].start, ov.written[i].len);
		fs_runs_normalize(&written);
	}
	/* 4. incomplete from here on */
	if (o->op) {
		r = write_head(&c, ov.head, ov.head_len);
		if (r < 0)
			goto out;
	}
	/* 5. the data */
	c.pause_at = c.done + fs_runs_bytes(&c.plan.data) / 2 + 1;
	{
		struct fs_runs skip = { 0 };

		for (size_t i = 0; i < written.n; i++)
			fs_runs_add(&skip, written.v[i].start, written.v[i].len);
		fs_runs_add(&skip, 0, ov.head_len);
		fs_runs_normalize(&skip);
		r = copy_runs(&c, &c.plan.data, &skip, false);
		fs_runs_release(&skip);
	}
	if (r < 0)
		goto out;
	if (!c.paused)
		fs_test_pause(c.stage);
	/* 6. */
	if (!o->op)
		r = write_head(&c, ov.head, ov.head_len);
	else if (o->mode == FS_COPY_EXACT)
		r = restore(&c, &written);
	else
		r = fs_raw_sync(&c.out, c.err);
	if (r < 0)
		goto out;
	progress(&c, 0, true);
	res.csum_seed_added = seed_added;
	if (ret)
		*ret = res;
out:
	fs_runs_release(&written);
	fs_runs_release(&head);
	fs_overlay_release(&ov);
	fs_copy_plan_release(&c.plan);
	free(c.buf);
	fs_raw_close(&c.in);
	fs_raw_close(&c.out);
	pb_err_clear(&local);
	return r;
}

int fs_clear(const struct fs_target *t, struct pb_err *err)
{
	struct fs_raw io;
	int r;

	r = fs_raw_open(t, true, &io, err);
	if (r < 0)
		return r;
	/* What mkfs clears first (mkfs.c): all of an image file's range, the ends of a device's. */
	if (io.is_file) {
		r = fs_raw_zero(&io, 0, t->size, err);
	} else {
		r = fs_raw_zero(&io, 0, t->size < MiB ? t->size : MiB, err);
		if (r >= 0 && t->size > 2 * MiB)
			r = fs_raw_zero(&io, t->size - MiB, MiB, err);
	}
	if (r >= 0)
		r = fs_raw_sync(&io, err);
	fs_raw_close(&io);
	return r;
}
