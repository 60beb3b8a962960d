/* SPDX-License-Identifier: MIT */
/*
 * The held-back head: a libext2fs io_manager for a filesystem that is being
 * copied into a target and must not look like one yet (copy.c).
 *
 * The first bytes of the target (the primary superblock, and block 0 with
 * it) are kept in memory, in struct fs_overlay, and the target itself reads
 * as zeros there, so libblkid and libext2fs find no filesystem in it. Through
 * this manager libext2fs sees the filesystem whole: reads of the head come
 * from memory, writes to it go to memory; everything else goes to the disk
 * through pb_range_io_manager (io.c), and every range written there is
 * recorded, so the copy can skip those blocks later (they are newer than
 * the source's) or put the source's bytes back (rollback). copy.c writes the
 * head to the disk when the filesystem may be seen.
 *
 * One overlay at a time (fs_overlay_open() hands it to the channel through
 * a file-static pointer, as io managers take only a name and options); the
 * libraries are single-threaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "fs-private.h"

struct overlay_private {
	io_channel child;
	struct fs_overlay *ov;
};

static struct fs_overlay *opening;

static void record(struct fs_overlay *ov, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	if (ov->n_written == ov->cap_written) {
		ov->cap_written = ov->cap_written ? ov->cap_written * 2 : 64;
		ov->written = xreallocarray(ov->written, ov->cap_written, sizeof(*ov->written));
	}
	ov->written[ov->n_written++] = (struct fs_byte_run){ off, len };
}

static uint64_t byte_len(io_channel ch, int count)
{
	return count < 0 ? (uint64_t)(-(int64_t)count) : (uint64_t)count * (uint64_t)ch->block_size;
}

static errcode_t ov_open(const char *name, int flags, io_channel *channel)
{
	struct overlay_private *p;
	io_channel ch;
	errcode_t rc;

	if (!opening)
		return EXT2_ET_INVALID_ARGUMENT;
	p = xcalloc(1, sizeof(*p));
	ch = xcalloc(1, sizeof(*ch));
	ch->name = xstrdup(name);
	rc = pb_range_io_manager->open(name, flags, &p->child);
	if (rc) {
		free(ch->name);
		free(ch);
		free(p);
		return rc;
	}
	p->ov = opening;
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = pb_overlay_io_manager;
	ch->block_size = p->child->block_size;
	ch->refcount = 1;
	ch->flags = p->child->flags;
	ch->align = p->child->align;
	ch->private_data = p;
	*channel = ch;
	return 0;
}

static errcode_t ov_close(io_channel ch)
{
	struct overlay_private *p = ch->private_data;
	errcode_t rc;

	if (--ch->refcount > 0)
		return 0;
	rc = io_channel_close(p->child);
	free(p);
	free(ch->name);
	free(ch);
	return rc;
}

static errcode_t ov_set_blksize(io_channel ch, int blksize)
{
	struct overlay_private *p = ch->private_data;
	errcode_t rc = io_channel_set_blksize(p->child, blksize);

	if (!rc)
		ch->block_size = blksize;
	return rc;
}

static errcode_t ov_read_blk64(io_channel ch, unsigned long long block, int count, void *data)
{
	struct overlay_private *p = ch->private_data;
	uint64_t off = block * (uint64_t)ch->block_size, len = byte_len(ch, count);
	errcode_t rc = io_channel_read_blk64(p->child, block, count, data);

	if (rc)
		return rc;
	if (off < p->ov->head_len) {
		uint64_t n = p->ov->head_len - off < len ? p->ov->head_len - off : len;

		memcpy(data, p->ov->head + off, n);
	}
	return 0;
}

static errcode_t ov_write_blk64(io_channel ch, unsigned long long block, int count, const void *data)
{
	struct overlay_private *p = ch->private_data;
	uint64_t off = block * (uint64_t)ch->block_size, len = byte_len(ch, count), n = 0;
	errcode_t rc;

	if (off < p->ov->head_len) {
		n = p->ov->head_len - off < len ? p->ov->head_len - off : len;
		memcpy(p->ov->head + off, data, n);
		if (n == len)
			return 0;
		/* the head is whole blocks of every block size the channel takes (see copy.c) */
		if (n % (uint64_t)ch->block_size)
			return EXT2_ET_UNIMPLEMENTED;
	}
	rc = io_channel_write_blk64(p->child, block + n / (uint64_t)ch->block_size,
				    count < 0 ? -(int)(len - n) : (int)((len - n) / (uint64_t)ch->block_size),
				    (const char *)data + n);
	if (!rc)
		record(p->ov, off + n, len - n);
	return rc;
}

static errcode_t ov_read_blk(io_channel ch, unsigned long block, int count, void *data)
{
	return ov_read_blk64(ch, block, count, data);
}

static errcode_t ov_write_blk(io_channel ch, unsigned long block, int count, const void *data)
{
	return ov_write_blk64(ch, block, count, data);
}

static errcode_t ov_write_byte(io_channel ch, unsigned long offset, int count, const void *data)
{
	struct overlay_private *p = ch->private_data;
	uint64_t n = 0;
	errcode_t rc;

	if (count < 0)
		return EXT2_ET_INVALID_ARGUMENT;
	if (offset < p->ov->head_len) {
		n = p->ov->head_len - offset < (uint64_t)count ? p->ov->head_len - offset : (uint64_t)count;
		memcpy(p->ov->head + offset, data, n);
		if (n == (uint64_t)count)
			return 0;
	}
	rc = io_channel_write_byte(p->child, offset + n, count - (int)n, (const char *)data + n);
	if (!rc)
		record(p->ov, offset + n, (uint64_t)count - n);
	return rc;
}

static errcode_t ov_flush(io_channel ch)
{
	struct overlay_private *p = ch->private_data;

	return io_channel_flush(p->child);
}

static errcode_t ov_set_option(io_channel ch, const char *option, const char *arg)
{
	struct overlay_private *p = ch->private_data;

	return p->child->manager->set_option(p->child, option, arg);
}

static errcode_t ov_unsupported(io_channel ch, unsigned long long block, unsigned long long count)
{
	/* zeroout and discard: libext2fs falls back to writing zeros, which are recorded */
	return EXT2_ET_UNIMPLEMENTED;
}

static struct struct_io_manager overlay_io_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "partboot held-back head",
	.open = ov_open,
	.close = ov_close,
	.set_blksize = ov_set_blksize,
	.read_blk = ov_read_blk,
	.write_blk = ov_write_blk,
	.flush = ov_flush,
	.write_byte = ov_write_byte,
	.set_option = ov_set_option,
	.read_blk64 = ov_read_blk64,
	.write_blk64 = ov_write_blk64,
	.discard = ov_unsupported,
	.cache_readahead = ov_unsupported,
	.zeroout = ov_unsupported,
};

io_manager pb_overlay_io_manager = &overlay_io_manager;

int fs_overlay_open(const struct fs_target *t, struct fs_overlay *ov, ext2_filsys *ret, struct pb_err *err)
{
	char opts[96];
	errcode_t rc;

	snprintf(opts, sizeof(opts), "offset=%" PRIu64 "&pb_size=%" PRIu64, t->offset, t->size);
	opening = ov;
	rc = ext2fs_open2(t->path, opts, EXT2_FLAG_RW | EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP, 0, 0,
			  pb_overlay_io_manager, ret);
	opening = NULL;
	if (rc)
		return fs_err_ext2(err, rc, "%s: cannot open the copy", t->where);
	return 0;
}

void fs_overlay_release(struct fs_overlay *ov)
{
	free(ov->head);
	free(ov->written);
	memset(ov, 0, sizeof(*ov));
}
