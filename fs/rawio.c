/* SPDX-License-Identifier: MIT */
/*
 * Raw, range-checked access to one target for the block copies (copy.c,
 * snapshot.c): an open descriptor kept for the whole copy, every read and
 * write checked against [0, size) of the target as io.c checks libext2fs's
 * (io.c's fs_io_pwrite() opens and syncs per call, too slow for a copy of
 * a few hundred thousand runs). Holes: punched in an image file, found with
 * SEEK_DATA/SEEK_HOLE so that a copy reads only what the file holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "fs-private.h"

int fs_raw_open(const struct fs_target *t, bool rw, struct fs_raw *ret, struct pb_err *err)
{
	struct stat st;
	int fd;

	memset(ret, 0, sizeof(*ret));
	ret->fd = -1;
	if (t->offset > UINT64_MAX - t->size)
		return pb_err_set(err, -ERANGE, "%s: partition beyond the largest offset", t->where);
	fd = open(t->path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return pb_err_set(err, -errno, "%s: cannot open %s: %s", t->where, t->path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int r = pb_err_set(err, -errno, "%s: %s: %s", t->where, t->path, strerror(errno));

		close(fd);
		return r;
	}
	ret->fd = fd;
	ret->offset = t->offset;
	ret->size = t->size;
	ret->where = t->where;
	ret->is_file = S_ISREG(st.st_mode);
	ret->file_size = ret->is_file ? (uint64_t)st.st_size : UINT64_MAX;
	return 0;
}

void fs_raw_close(struct fs_raw *io)
{
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
}

static int check(const struct fs_raw *io, uint64_t off, uint64_t len, struct pb_err *err)
{
	if (off > io->size || len > io->size - off)
		return pb_err_set(err, -ERANGE, "%s: refused to access outside the partition", io->where);
	return 0;
}

int fs_raw_read(struct fs_raw *io, uint64_t off, void *buf, size_t len, struct pb_err *err)
{
	char *p = buf;
	int r = check(io, off, len, err);

	if (r < 0)
		return r;
	while (len > 0) {
		ssize_t n = pread(io->fd, p, len, (off_t)(io->offset + off));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return pb_err_set(err, -errno, "%s: cannot read: %s", io->where, strerror(errno));
		}
		if (n == 0) {
			/* An image file shorter than its table says: the rest reads as zeros. */
			memset(p, 0, len);
			break;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_raw_write(struct fs_raw *io, uint64_t off, const void *buf, size_t len, struct pb_err *err)
{
	const char *p = buf;
	int r = check(io, off, len, err);

	if (r < 0)
		return r;
	while (len > 0) {
		ssize_t n = pwrite(io->fd, p, len, (off_t)(io->offset + off));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return pb_err_set(err, -errno, "%s: cannot write: %s", io->where, strerror(errno));
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_raw_zero(struct fs_raw *io, uint64_t off, uint64_t len, struct pb_err *err)
{
	_cleanup_free_ char *zeros = NULL;
	int r = check(io, off, len, err);

	if (r < 0 || !len)
		return r;
	if (io->is_file) {
		uint64_t end = io->offset + off + len;

		/* Beyond the file's end it reads as zeros already. */
		if (io->file_size <= io->offset + off)
			return 0;
		if (end > io->file_size)
			end = io->file_size;
		if (fallocate(io->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(io->offset + off),
			      (off_t)(end - io->offset - off)) == 0)
			return 0;
		if (errno != EOPNOTSUPP)
			return pb_err_set(err, -errno, "%s: cannot clear: %s", io->where, strerror(errno));
	} else {
		uint64_t range[2] = { io->offset + off, len };

		/* The device zeroes it itself when it can (WRITE ZEROES), else the kernel writes zeros. */
		if (ioctl(io->fd, BLKZEROOUT, range) == 0)
			return 0;
	}
	zeros = xcalloc(1, MiB);
	while (len > 0) {
		size_t n = len > MiB ? MiB : (size_t)len;

		r = fs_raw_write(io, off, zeros, n, err);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

int fs_raw_sync(struct fs_raw *io, struct pb_err *err)
{
	if (fsync(io->fd) < 0)
		return pb_err_set(err, -errno, "%s: cannot write: %s", io->where, strerror(errno));
	return 0;
}

uint64_t fs_raw_next_data(struct fs_raw *io, uint64_t off)
{
	off_t r;

	if (!io->is_file)
		return off;
	if (io->offset + off >= io->file_size)
		return io->size;
	r = lseek(io->fd, (off_t)(io->offset + off), SEEK_DATA);
	if (r < 0)
		return errno == ENXIO ? io->size : off; /* ENXIO: only a hole up to the end */
	if ((uint64_t)r >= io->offset + io->size)
		return io->size;
	return (uint64_t)r - io->offset;
}

uint64_t fs_raw_next_hole(struct fs_raw *io, uint64_t off)
{
	off_t r;

	if (!io->is_file)
		return io->size;
	if (io->offset + off >= io->file_size)
		return off;
	r = lseek(io->fd, (off_t)(io->offset + off), SEEK_HOLE);
	if (r < 0 || (uint64_t)r >= io->offset + io->size)
		return io->size;
	return (uint64_t)r - io->offset;
}
