/* SPDX-License-Identifier: MIT */
/*
 * The range-checked I/O layer: every byte partboot itself writes into a
 * partition goes through here.
 *
 * pb_range_io_manager is a libext2fs io_manager that wraps unix_io_manager
 * (for its block cache) and sits between libext2fs and the disk: it passes
 * the partition's byte offset to unix_io ("offset=N") and refuses, with
 * ERANGE, any read or write whose byte range does not fit in [0, size) of
 * the partition. Until the size is known (the "pb_size" option, set by
 * fs_ext2_open() right after the open) every access is refused, so a
 * forgotten option fails safe. fs_io_pwrite()/fs_io_zero() do the same for
 * the few raw writes (swap header, wiping an old signature).
 *
 * This file is also the one place that turns libext2fs's errcode_t into
 * -errno (fs_err_ext2()).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <et/com_err.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "fs-private.h"

struct range_private {
	io_channel child;
	uint64_t size;
	bool size_set;
};

static errcode_t range_check(io_channel ch, unsigned long long block, int count)
{
	struct range_private *p = ch->private_data;
	uint64_t len, start;

	if (!p->size_set)
		return ERANGE;
	len = count < 0 ? (uint64_t)(-(int64_t)count) : (uint64_t)count * (uint64_t)ch->block_size;
	if (block > UINT64_MAX / (uint64_t)ch->block_size)
		return ERANGE;
	start = block * (uint64_t)ch->block_size;
	if (start > p->size || len > p->size - start)
		return ERANGE;
	return 0;
}

static errcode_t range_open(const char *name, int flags, io_channel *channel)
{
	struct range_private *p;
	io_channel ch;
	errcode_t rc;

	p = xcalloc(1, sizeof(*p));
	ch = xcalloc(1, sizeof(*ch));
	ch->name = xstrdup(name);
	/* No O_EXCL here: the caller (part/) already holds the disk. */
	rc = unix_io_manager->open(name, flags & ~IO_FLAG_EXCLUSIVE, &p->child);
	if (rc) {
		free(ch->name);
		free(ch);
		free(p);
		return rc;
	}
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = pb_range_io_manager;
	ch->block_size = p->child->block_size;
	ch->refcount = 1;
	ch->flags = p->child->flags;
	ch->align = p->child->align;
	ch->private_data = p;
	*channel = ch;
	return 0;
}

static errcode_t range_close(io_channel ch)
{
	struct range_private *p = ch->private_data;
	errcode_t rc = 0;

	if (--ch->refcount > 0)
		return 0;
	if (p->child)
		rc = io_channel_close(p->child);
	free(p);
	free(ch->name);
	free(ch);
	return rc;
}

static errcode_t range_set_blksize(io_channel ch, int blksize)
{
	struct range_private *p = ch->private_data;
	errcode_t rc = io_channel_set_blksize(p->child, blksize);

	if (!rc)
		ch->block_size = blksize;
	return rc;
}

static errcode_t range_read_blk64(io_channel ch, unsigned long long block, int count, void *data)
{
	struct range_private *p = ch->private_data;
	errcode_t rc = range_check(ch, block, count);

	return rc ? rc : io_channel_read_blk64(p->child, block, count, data);
}

static errcode_t range_write_blk64(io_channel ch, unsigned long long block, int count, const void *data)
{
	struct range_private *p = ch->private_data;
	errcode_t rc = range_check(ch, block, count);

	return rc ? rc : io_channel_write_blk64(p->child, block, count, data);
}

static errcode_t range_read_blk(io_channel ch, unsigned long block, int count, void *data)
{
	return range_read_blk64(ch, block, count, data);
}

static errcode_t range_write_blk(io_channel ch, unsigned long block, int count, const void *data)
{
	return range_write_blk64(ch, block, count, data);
}

static errcode_t range_write_byte(io_channel ch, unsigned long offset, int count, const void *data)
{
	struct range_private *p = ch->private_data;

	if (!p->size_set || count < 0 || offset > p->size || (uint64_t)count > p->size - offset)
		return ERANGE;
	return io_channel_write_byte(p->child, offset, count, data);
}

static errcode_t range_flush(io_channel ch)
{
	struct range_private *p = ch->private_data;

	return io_channel_flush(p->child);
}

static errcode_t range_set_option(io_channel ch, const char *option, const char *arg)
{
	struct range_private *p = ch->private_data;
	unsigned long long v;
	char *end;

	if (!strcmp(option, "pb_size")) {
		if (!arg || p->size_set)
			return EXT2_ET_INVALID_ARGUMENT;
		errno = 0;
		v = strtoull(arg, &end, 10);
		if (errno || *end || end == arg)
			return EXT2_ET_INVALID_ARGUMENT;
		p->size = v;
		p->size_set = true;
		return 0;
	}
	/* "offset" and the cache options go to unix_io. */
	return p->child->manager->set_option(p->child, option, arg);
}

static errcode_t range_discard(io_channel ch, unsigned long long block, unsigned long long count)
{
	/* Never discard: the disk may be an image whose holes we do not own. */
	return EXT2_ET_UNIMPLEMENTED;
}

static errcode_t range_zeroout(io_channel ch, unsigned long long block, unsigned long long count)
{
	struct range_private *p = ch->private_data;
	errcode_t rc;

	if (count > INT32_MAX)
		return ERANGE;
	rc = range_check(ch, block, (int)count);
	if (rc)
		return rc;
	return io_channel_zeroout(p->child, block, count);
}

static errcode_t range_cache_readahead(io_channel ch, unsigned long long block, unsigned long long count)
{
	return EXT2_ET_OP_NOT_SUPPORTED;
}

static struct struct_io_manager range_io_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "partboot range-checked I/O",
	.open = range_open,
	.close = range_close,
	.set_blksize = range_set_blksize,
	.read_blk = range_read_blk,
	.write_blk = range_write_blk,
	.flush = range_flush,
	.write_byte = range_write_byte,
	.set_option = range_set_option,
	.read_blk64 = range_read_blk64,
	.write_blk64 = range_write_blk64,
	.discard = range_discard,
	.cache_readahead = range_cache_readahead,
	.zeroout = range_zeroout,
};

io_manager pb_range_io_manager = &range_io_manager;

int fs_errno_from_ext2(errcode_t code)
{
	if (code > 0 && code < 4096)
		return -(int)code; /* unix_io passes errno values through */
	switch (code) {
	case EXT2_ET_BLOCK_ALLOC_FAIL:
	case EXT2_ET_INODE_ALLOC_FAIL:
	case EXT2_ET_DIR_NO_SPACE:
	case EXT2_ET_EA_NO_SPACE:
	case EXT2_ET_INLINE_DATA_NO_SPACE:
	case EXT2_ET_TOOSMALL:
		return -ENOSPC;
	case EXT2_ET_FILE_NOT_FOUND:
	case EXT2_ET_EA_KEY_NOT_FOUND:
		return -ENOENT;
	case EXT2_ET_NO_DIRECTORY:
		return -ENOTDIR;
	case EXT2_ET_DIR_EXISTS:
		return -EEXIST;
	case EXT2_ET_FILE_TOO_BIG:
		return -EFBIG;
	case EXT2_ET_NO_MEMORY:
		return -ENOMEM;
	case EXT2_ET_RO_FILSYS:
		return -EROFS;
	case EXT2_ET_UNIMPLEMENTED:
	case EXT2_ET_OP_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	case EXT2_ET_BAD_MAGIC:
	case EXT2_ET_SB_CSUM_INVALID:
	case EXT2_ET_CORRUPT_SUPERBLOCK:
	case EXT2_ET_UNSUPP_FEATURE:
	case EXT2_ET_RO_UNSUPP_FEATURE:
		return -EUCLEAN;
	default:
		return -EIO;
	}
}

int fs_err_ext2(struct pb_err *err, errcode_t code, const char *fmt, ...)
{
	static bool table_loaded;
	struct strbuf sb = STRBUF_INIT;
	int r = fs_errno_from_ext2(code);
	va_list ap;

	if (!table_loaded) {
		initialize_ext2_error_table();
		table_loaded = true;
	}
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (code == ERANGE)
		pb_err_set(err, r, "%s: refused to access outside the partition", sb.buf);
	else
		pb_err_set(err, r, "%s: %s", sb.buf, error_message(code));
	strbuf_release(&sb);
	return r;
}

/*
 * The superblock's geometry, checked as e2fsck's check_super_block() does
 * before anything trusts it. libext2fs sizes its bitmaps and walks its
 * groups from these fields and checks only a few of them: a guest's
 * superblock with a valid checksum and s_first_data_block = 1024 made
 * ext2fs_read_bitmaps() write 4 KiB past a heap buffer. What is wrong, or
 * NULL.
 */
static const char *geometry_problem(ext2_filsys fs)
{
	struct ext2_super_block *sb = fs->super;
	uint64_t bs = fs->blocksize, ratio = EXT2FS_CLUSTER_RATIO(fs), isz = EXT2_INODE_SIZE(sb);
	uint64_t blocks = ext2fs_blocks_count(sb), bpg = sb->s_blocks_per_group, ipg = sb->s_inodes_per_group;
	uint64_t groups;

	if (sb->s_log_block_size > EXT2_MAX_BLOCK_LOG_SIZE - EXT2_MIN_BLOCK_LOG_SIZE)
		return "block size";
	if (sb->s_log_cluster_size < sb->s_log_block_size ||
	    sb->s_log_cluster_size > EXT2_MAX_CLUSTER_LOG_SIZE - EXT2_MIN_CLUSTER_LOG_SIZE)
		return "cluster size";
	/* block 1 after the boot block with 1 KiB blocks, else 0 (e2fsck: PR_0_FIRST_DATA_BLOCK) */
	if (sb->s_first_data_block != (bs == 1024 && ratio == 1 ? 1u : 0u))
		return "first data block";
	if (blocks <= sb->s_first_data_block)
		return "block count";
	/* a group's block and inode bitmaps are one block each */
	if (sb->s_clusters_per_group < 8 || sb->s_clusters_per_group > 8 * bs ||
	    bpg != (uint64_t)sb->s_clusters_per_group * ratio)
		return "blocks per group";
	if (isz < EXT2_GOOD_OLD_INODE_SIZE || isz > bs || (isz & (isz - 1)))
		return "inode size";
	if (bpg <= 4 || ipg < bs / isz || ipg > 8 * bs || ipg > (bs / isz) * (bpg - 4) ||
	    ipg > EXT2_MAX_INODES_PER_GROUP(sb))
		return "inodes per group";
	groups = (blocks - sb->s_first_data_block + bpg - 1) / bpg;
	if (groups * ipg != sb->s_inodes_count)
		return "inode count";
	if (sb->s_rev_level > EXT2_GOOD_OLD_REV &&
	    (sb->s_first_ino < EXT2_GOOD_OLD_FIRST_INO || sb->s_first_ino > sb->s_inodes_count))
		return "first inode";
	if (sb->s_reserved_gdt_blocks > bs / sizeof(uint32_t))
		return "reserved descriptor blocks";
	if (ext2fs_has_feature_64bit(sb) &&
	    (sb->s_desc_size < EXT2_MIN_DESC_SIZE_64BIT || sb->s_desc_size > EXT2_MAX_DESC_SIZE ||
	     (sb->s_desc_size & (sb->s_desc_size - 1))))
		return "descriptor size";
	return NULL;
}

int fs_ext2_open(const struct fs_target *t, bool rw, ext2_filsys *ret, struct pb_err *err)
{
	const char *bad;
	char opts[96];
	ext2_filsys fs = NULL;
	errcode_t rc;
	int flags = EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP;

	if (rw)
		flags |= EXT2_FLAG_RW;
	snprintf(opts, sizeof(opts), "offset=%" PRIu64 "&pb_size=%" PRIu64, t->offset, t->size);
	rc = ext2fs_open2(t->path, opts, flags, 0, 0, pb_range_io_manager, &fs);
	if (rc) {
		if (rc == EXT2_ET_BAD_MAGIC || rc == EXT2_ET_SHORT_READ || rc == ERANGE)
			return pb_err_set(err, -EMEDIUMTYPE, "%s: no ext4 filesystem", t->where);
		if (rc == EXT2_ET_CORRUPT_SUPERBLOCK)
			return pb_err_set(err, -EUCLEAN, "%s: the ext4 superblock is corrupt (libext2fs refuses it); "
					  "'install --wipe' or 'mkfs' makes a new filesystem", t->where);
		return fs_err_ext2(err, rc, "%s: cannot open the filesystem", t->where);
	}
	/* A filesystem claiming more blocks than the partition holds is refused here. */
	if (ext2fs_blocks_count(fs->super) * (uint64_t)fs->blocksize > t->size) {
		ext2fs_close_free(&fs);
		return pb_err_set(err, -EUCLEAN,
				  "%s: the ext4 filesystem there is larger than the partition (left from an earlier, "
				  "larger partition? 'install --wipe' or 'mkfs' makes a new one)",
				  t->where);
	}
	bad = geometry_problem(fs);
	/* Writers also need the groups' bitmaps and inode tables inside their groups. */
	if (!bad && rw && ext2fs_check_desc(fs))
		bad = "group descriptors";
	if (bad) {
		ext2fs_close_free(&fs);
		return pb_err_set(err, -EUCLEAN,
				  "%s: the ext4 superblock is corrupt (%s); 'install --wipe' or 'mkfs' makes a new "
				  "filesystem", t->where, bad);
	}
	*ret = fs;
	return 0;
}

int fs_ext2_close(ext2_filsys fs, const struct fs_target *t, struct pb_err *err)
{
	errcode_t rc;

	if (!fs)
		return 0;
	rc = ext2fs_close_free(&fs);
	if (rc)
		return fs_err_ext2(err, rc, "%s: cannot write the filesystem", t->where);
	return 0;
}

static int open_rw(const struct fs_target *t, struct pb_err *err)
{
	int fd = open(t->path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return pb_err_set(err, -errno, "%s: cannot open %s: %s", t->where, t->path, strerror(errno));
	return fd;
}

static int check_range(const struct fs_target *t, uint64_t off, uint64_t len, struct pb_err *err)
{
	if (off > t->size || len > t->size - off || t->offset > UINT64_MAX - t->size)
		return pb_err_set(err, -ERANGE, "%s: refused to write outside the partition", t->where);
	return 0;
}

int fs_io_pwrite(const struct fs_target *t, uint64_t off, const void *buf, size_t len, struct pb_err *err)
{
	_cleanup_close_ int fd = -1;
	const char *p = buf;
	int r;

	r = check_range(t, off, len, err);
	if (r < 0)
		return r;
	fd = open_rw(t, err);
	if (fd < 0)
		return fd;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)(t->offset + off));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return pb_err_set(err, -errno, "%s: cannot write: %s", t->where, strerror(errno));
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		return pb_err_set(err, -errno, "%s: cannot write: %s", t->where, strerror(errno));
	return 0;
}

int fs_io_zero(const struct fs_target *t, uint64_t off, uint64_t len, struct pb_err *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *zeros = NULL;
	struct stat st;
	int r;

	r = check_range(t, off, len, err);
	if (r < 0)
		return r;
	fd = open_rw(t, err);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", t->where, strerror(errno));
	/* An image file: punching keeps it sparse and reads back as zeros. */
	if (S_ISREG(st.st_mode)) {
		uint64_t end = t->offset + off + len;

		/* Only what exists in the file; beyond its end reads as zeros already. */
		if ((uint64_t)st.st_size <= t->offset + off)
			return 0;
		if (end > (uint64_t)st.st_size)
			end = (uint64_t)st.st_size;
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(t->offset + off),
			      (off_t)(end - t->offset - off)) == 0)
			return 0;
		if (errno != EOPNOTSUPP)
			return pb_err_set(err, -errno, "%s: cannot clear: %s", t->where, strerror(errno));
	}
	/* A block device (or a filesystem without hole punching): write zeros. */
	zeros = xcalloc(1, 1 << 20);
	while (len > 0) {
		size_t n = len > (1 << 20) ? (1 << 20) : (size_t)len;
		ssize_t w = pwrite(fd, zeros, n, (off_t)(t->offset + off));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return pb_err_set(err, -errno, "%s: cannot clear: %s", t->where, strerror(errno));
		}
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}
