/* SPDX-License-Identifier: MIT */
/*
 * A regular file's data during fs_install(): read from the archive into the
 * stage (FS_STAGE_SIZE), then each run of non-zero blocks allocated with
 * ext2fs_fallocate() (contiguous where the allocator can) and written with
 * one write per extent. All-zero blocks and the archive's holes stay holes.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/alloc.h"
#include "fs-private.h"

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

/*
 * The next run of data of a directory source's file, from the descriptor
 * its metadata was checked on (source.c): holes skipped with SEEK_DATA, at
 * most 1 MiB at a time, nothing past the size libarchive saw. Returns 1
 * with *buf, *len, *off, 0 at the end, or -errno.
 */
static int fd_data_block(struct populate *p, uint64_t size, uint64_t *pos, const void **buf, size_t *len,
			 int64_t *off)
{
	off_t d, h;
	ssize_t n;
	size_t want;

	if (*pos >= size)
		return 0;
	d = lseek(p->data_fd, (off_t)*pos, SEEK_DATA);
	if (d < 0)
		return errno == ENXIO ? 0 : -errno; /* only a hole up to the end */
	if ((uint64_t)d >= size)
		return 0;
	h = lseek(p->data_fd, d, SEEK_HOLE);
	want = 1 << 20;
	if (h > d && (uint64_t)(h - d) < want)
		want = (size_t)(h - d);
	if (size - (uint64_t)d < want)
		want = (size_t)(size - (uint64_t)d);
	if (!p->fd_buf)
		p->fd_buf = xmalloc(1 << 20);
	n = pread(p->data_fd, p->fd_buf, want, d);
	if (n < 0)
		return -errno;
	if (!n)
		return -ESTALE; /* shorter than it was: changed while read */
	*buf = p->fd_buf;
	*len = (size_t)n;
	*off = d;
	*pos = (uint64_t)d + (uint64_t)n;
	return 1;
}

static int archive_fail(struct populate *p, const char *what)
{
	const char *msg = archive_error_string(p->a);

	return pb_err_set(p->err, -EIO, "%s: %s '%s': %s", p->t->where, what, p->entry,
			  msg ? msg : "truncated or corrupt archive");
}

/* Copy the entry's data into inode ino (whose size is already set). */
int fs_data_write(struct populate *p, ext2_ino_t ino)
{
	const size_t bs = p->e2->blocksize;
	uint64_t stage_start = 0, stage_len = 0; /* bytes; stage_start is block aligned */
	uint64_t ino_size = 0;
	errcode_t rc;

	if (p->data_fd >= 0) {
		struct ext2_inode inode;

		/* the size entry.c set from what libarchive saw: no byte past it is read */
		rc = ext2fs_read_inode(p->e2, ino, &inode);
		if (rc)
			return fs_populate_fail(p, rc, "cannot read");
		ino_size = EXT2_I_SIZE(&inode);
	}
	if (p->synthetic) {
		/* Small files partboot writes itself (fstab, hostname): one staged run. */
		size_t pad;

		if (p->mem_len > FS_STAGE_SIZE)
			return pb_err_set(p->err, -EFBIG, "%s: '%s': too large", p->t->where, p->entry);
		if (!p->mem_len)
			return 0;
		memcpy(p->stage, p->mem_data, p->mem_len);
		pad = (bs - p->mem_len % bs) % bs;
		memset(p->stage + p->mem_len, 0, pad);
		rc = flush_stage(p, ino, 0, (p->mem_len + pad) / bs);
		return rc ? fs_populate_fail(p, rc, "cannot write") : 0;
	}
	for (uint64_t fd_pos = 0;;) {
		const void *buf;
		size_t len;
		la_int64_t off;

		if (p->data_fd >= 0) {
			int64_t o = 0;
			int r = fd_data_block(p, ino_size, &fd_pos, &buf, &len, &o);

			if (r == 0)
				break;
			if (r < 0)
				return pb_err_set(p->err, r, "%s: '%s': %s", p->t->where, p->entry,
						  r == -ESTALE ? "changed while it was read (shorter now)" : strerror(-r));
			off = o;
		} else {
			int ar = archive_read_data_block(p->a, &buf, &len, &off);

			if (ar == ARCHIVE_EOF)
				break;
			if (ar < ARCHIVE_WARN)
				return archive_fail(p, "cannot read");
		}
		if (off < 0 || (uint64_t)off < stage_start + stage_len)
			return pb_err_set(p->err, -EIO, "%s: '%s': data out of order in the archive", p->t->where,
					  p->entry);
		/* A gap past the staged blocks: write what is staged, start again (the gap is a hole). */
		if (stage_len && (uint64_t)off >= (stage_start + stage_len + bs - 1) / bs * bs) {
			rc = flush_stage(p, ino, stage_start / bs, (stage_len + bs - 1) / bs);
			if (rc)
				return fs_populate_fail(p, rc, "cannot write");
			stage_len = 0;
		}
		if (!stage_len)
			stage_start = (uint64_t)off / bs * bs;
		/* Zeros between the staged end and this chunk (inside one block). */
		memset(p->stage + stage_len, 0, (uint64_t)off - stage_start - stage_len);
		stage_len = (uint64_t)off - stage_start;
		while (len > 0) {
			size_t n = FS_STAGE_SIZE - stage_len < len ? FS_STAGE_SIZE - stage_len : len;

			memcpy(p->stage + stage_len, buf, n);
			stage_len += n;
			buf = (const char *)buf + n;
			len -= n;
			p->data_written += n;
			if (stage_len == FS_STAGE_SIZE) {
				rc = flush_stage(p, ino, stage_start / bs, FS_STAGE_SIZE / bs);
				if (rc)
					return fs_populate_fail(p, rc, "cannot write");
				stage_start += FS_STAGE_SIZE;
				stage_len = 0;
			}
		}
		fs_source_progress(p, false);
	}
	if (stage_len) {
		size_t pad = (bs - stage_len % bs) % bs;

		memset(p->stage + stage_len, 0, pad);
		rc = flush_stage(p, ino, stage_start / bs, (stage_len + pad) / bs);
		if (rc)
			return fs_populate_fail(p, rc, "cannot write");
	}
	return 0;
}
