/* SPDX-License-Identifier: MIT */
/*
 * Snapshot files: one guest's partition saved whole, to be put back byte
 * for byte (rollback).
 *
 * Two forms, both readable without partboot:
 *   raw   the partition's bytes as a sparse file of the partition's size
 *         (zeros and the blocks fs_copy() does not read are holes), then a
 *         4096-byte trailer; e2fsck, debugfs, mount -o loop take the file
 *         as it is (the trailer lies beyond the filesystem);
 *   zstd  a zstd skippable frame holding the same 4096 bytes, then one zstd
 *         frame with the partition's bytes: `zstd -d` gives the raw image
 *         (without the trailer).
 * The 4096 bytes are text, "partboot-snapshot 1" and KEY=VALUE lines
 * (size, partition, partuuid, fs_uuid, disk_id, created, data, format, and
 * note for the snapshots partboot takes for itself: "move START"),
 * padded with NUL bytes. A reader checks the first line and bounds every
 * value; sizes must agree with the file.
 *
 * What is saved: fs_copy()'s plan, that is the blocks in use and, from an
 * image file, every range the file holds data in (so free blocks that are
 * not zeros come back too: a rollback gives the same sha256). From a block
 * device only the blocks in use are read; free space comes back as zeros.
 *
 * Touches: the snapshot file only (written as an unnamed file in its
 * folder, O_TMPFILE, and given its name when complete, never over another
 * file: a snapshot cut short leaves nothing);
 * a rollback writes the guest's partition through fs_copy().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "common/alloc.h"
#include "common/endian.h"
#include "common/macros.h"
#include "common/tmpdir.h"
#include "common/util.h"
#include "fs-private.h"

#define SNAP_TRAILER 4096u
#define SNAP_MAGIC "partboot-snapshot 1\n"
#define ZSTD_SKIPPABLE 0x184D2A50u
#define IO_CHUNK (1u << 20)

static void trailer_build(const struct fs_snapshot_info *info, char out[SNAP_TRAILER])
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, SNAP_MAGIC);
	strbuf_addf(&sb, "size=%" PRIu64 "\n", info->size);
	strbuf_addf(&sb, "format=%s\n", info->zstd ? "zstd" : "raw");
	strbuf_addf(&sb, "partition=%s\n", info->partition);
	strbuf_addf(&sb, "partuuid=%s\n", info->partuuid);
	strbuf_addf(&sb, "fs_uuid=%s\n", info->fs_uuid);
	strbuf_addf(&sb, "disk_id=%s\n", info->disk_id);
	strbuf_addf(&sb, "created=%" PRId64 "\n", info->created);
	strbuf_addf(&sb, "data=%" PRIu64 "\n", info->data);
	if (info->note[0])
		strbuf_addf(&sb, "note=%s\n", info->note);
	memset(out, 0, SNAP_TRAILER);
	memcpy(out, sb.buf, sb.len < SNAP_TRAILER ? sb.len : SNAP_TRAILER - 1);
	strbuf_release(&sb);
}

/* A value of printable characters only, fitting len. */
static bool copy_value(const char *v, size_t n, char *out, size_t len)
{
	if (n >= len)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return false;
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

static bool parse_u64(const char *v, size_t n, uint64_t *ret)
{
	char buf[24];
	char *end;

	if (!n || n >= sizeof(buf) || !copy_value(v, n, buf, sizeof(buf)) || buf[0] == '-')
		return false;
	errno = 0;
	*ret = strtoull(buf, &end, 10);
	return !errno && !*end;
}

static int trailer_parse(const char *path, const char in[SNAP_TRAILER], struct fs_snapshot_info *ret,
			 struct pb_err *err)
{
	struct fs_snapshot_info info = { 0 };
	const char *p = in + strlen(SNAP_MAGIC), *end = memchr(in, '\0', SNAP_TRAILER);
	bool have_size = false;

	if (!end || memcmp(in, SNAP_MAGIC, strlen(SNAP_MAGIC)))
		return pb_err_set(err, -EINVAL, "%s: not a partboot snapshot", path);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;
		size_t klen, vlen;
		uint64_t v;
		bool ok = true;

		if (!nl)
			break;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq) {
			klen = (size_t)(eq - p);
			vlen = (size_t)(nl - eq - 1);
			eq++;
			if (klen == 4 && !memcmp(p, "size", 4))
				ok = have_size = parse_u64(eq, vlen, &info.size);
			else if (klen == 4 && !memcmp(p, "data", 4))
				ok = parse_u64(eq, vlen, &info.data);
			else if (klen == 7 && !memcmp(p, "created", 7))
				ok = parse_u64(eq, vlen, &v) && v < INT64_MAX && ((info.created = (int64_t)v), true);
			else if (klen == 6 && !memcmp(p, "format", 6))
				info.zstd = vlen == 4 && !memcmp(eq, "zstd", 4);
			else if (klen == 9 && !memcmp(p, "partition", 9))
				ok = copy_value(eq, vlen, info.partition, sizeof(info.partition));
			else if (klen == 8 && !memcmp(p, "partuuid", 8))
				ok = copy_value(eq, vlen, info.partuuid, sizeof(info.partuuid));
			else if (klen == 7 && !memcmp(p, "fs_uuid", 7))
				ok = copy_value(eq, vlen, info.fs_uuid, sizeof(info.fs_uuid));
			else if (klen == 7 && !memcmp(p, "disk_id", 7))
				ok = copy_value(eq, vlen, info.disk_id, sizeof(info.disk_id));
			else if (klen == 4 && !memcmp(p, "note", 4))
				ok = copy_value(eq, vlen, info.note, sizeof(info.note));
		}
		if (!ok)
			return pb_err_set(err, -EINVAL, "%s: damaged snapshot header (line '%.*s')", path,
					  (int)(nl - p > 60 ? 60 : nl - p), p);
		p = nl + 1;
	}
	if (!have_size || !info.size || info.size % 512)
		return pb_err_set(err, -EINVAL, "%s: damaged snapshot header (no size)", path);
	*ret = info;
	return 0;
}

int fs_snapshot_read_info(const char *path, struct fs_snapshot_info *ret, struct pb_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[SNAP_TRAILER];
	uint8_t head[8];
	struct stat st;
	int r;

	if (fd < 0)
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pb_err_set(err, -EINVAL, "%s: not a file", path);
	if (pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head))
		return pb_err_set(err, -EINVAL, "%s: not a partboot snapshot", path);
	if (pb_le32(head) == ZSTD_SKIPPABLE && pb_le32(head + 4) == SNAP_TRAILER) {
		if (pread(fd, buf, sizeof(buf), 8) != (ssize_t)sizeof(buf))
			return pb_err_set(err, -EINVAL, "%s: truncated snapshot", path);
		r = trailer_parse(path, buf, ret, err);
		if (r >= 0 && !ret->zstd)
			return pb_err_set(err, -EINVAL, "%s: damaged snapshot header (format)", path);
		return r;
	}
	if ((uint64_t)st.st_size < SNAP_TRAILER + 512 ||
	    pread(fd, buf, sizeof(buf), st.st_size - SNAP_TRAILER) != (ssize_t)sizeof(buf))
		return pb_err_set(err, -EINVAL, "%s: not a partboot snapshot", path);
	r = trailer_parse(path, buf, ret, err);
	if (r < 0)
		return r;
	if (ret->zstd || ret->size != (uint64_t)st.st_size - SNAP_TRAILER)
		return pb_err_set(err, -EINVAL, "%s: truncated or damaged snapshot (%" PRIu64 " bytes of %" PRIu64 ")",
				  path, (uint64_t)st.st_size - SNAP_TRAILER, ret->size);
	return 0;
}

/* --- saving ------------------------------------------------------------------------------ */

struct zsink {
	ZSTD_CCtx *cx;
	int fd;
	char *out;
	size_t out_len;
	const char *path;
	struct pb_err *err;
};

static int zwrite_all(struct zsink *z, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(z->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return pb_err_set(z->err, -errno, "%s: cannot write: %s", z->path, strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int zfeed(struct zsink *z, const void *data, size_t len, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { data, len, 0 };
	size_t left;

	do {
		ZSTD_outBuffer out = { z->out, z->out_len, 0 };
		int r;

		left = ZSTD_compressStream2(z->cx, &out, &in, mode);
		if (ZSTD_isError(left))
			return pb_err_set(z->err, -EIO, "%s: zstd: %s", z->path, ZSTD_getErrorName(left));
		r = zwrite_all(z, z->out, out.pos);
		if (r < 0)
			return r;
	} while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

/* The partition in order, zeros between the runs, into one zstd frame. */
static int save_zstd(const struct fs_target *t, int fd, const char *path, const struct fs_snapshot_opts *o,
		     struct fs_snapshot_info *info, struct pb_err *err)
{
	static const char zeros[IO_CHUNK];
	struct fs_raw in;
	struct fs_copy_plan plan = { 0 };
	struct fs_runs all = { 0 };
	struct zsink z = { .fd = fd, .path = path, .err = err };
	char trailer[SNAP_TRAILER];
	uint8_t frame[8];
	char *buf = NULL;
	uint64_t pos = 0, done = 0, total;
	int r;

	r = fs_raw_open(t, false, &in, err);
	if (r < 0)
		return r;
	r = fs_copy_plan_make(t, &in, in.is_file ? FS_COPY_EXACT : FS_COPY_USED, &plan, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < plan.meta.n; i++)
		fs_runs_add(&all, plan.meta.v[i].start, plan.meta.v[i].len);
	for (size_t i = 0; i < plan.data.n; i++)
		fs_runs_add(&all, plan.data.v[i].start, plan.data.v[i].len);
	fs_runs_normalize(&all);
	total = fs_runs_bytes(&all);
	info->data = total;

	/* The header frame first, so a reader finds it without decompressing. */
	trailer_build(info, trailer);
	pb_put_le32(frame, ZSTD_SKIPPABLE);
	pb_put_le32(frame + 4, SNAP_TRAILER);
	r = zwrite_all(&z, (const char *)frame, sizeof(frame));
	if (r >= 0)
		r = zwrite_all(&z, trailer, sizeof(trailer));
	if (r < 0)
		goto out;

	z.cx = ZSTD_createCCtx();
	if (!z.cx)
		pb_oom();
	z.out_len = ZSTD_CStreamOutSize();
	z.out = xmalloc(z.out_len);
	buf = xmalloc(IO_CHUNK);
	ZSTD_CCtx_setParameter(z.cx, ZSTD_c_compressionLevel, o->zstd_level ? o->zstd_level : 3);
	ZSTD_CCtx_setParameter(z.cx, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setPledgedSrcSize(z.cx, t->size);
	for (size_t i = 0; i <= all.n && r >= 0; i++) {
		uint64_t s = i < all.n ? all.v[i].start : t->size, e = i < all.n ? s + all.v[i].len : t->size;

		/* zeros up to the run (zstd makes next to nothing of them) */
		while (pos < s && r >= 0) {
			size_t n = s - pos > IO_CHUNK ? IO_CHUNK : (size_t)(s - pos);

			r = zfeed(&z, zeros, n, ZSTD_e_continue);
			pos += n;
		}
		while (pos < e && r >= 0) {
			size_t n = e - pos > IO_CHUNK ? IO_CHUNK : (size_t)(e - pos);

			r = fs_raw_read(&in, pos, buf, n, err);
			if (r >= 0)
				r = zfeed(&z, buf, n, ZSTD_e_continue);
			pos += n;
			done += n;
			if (o->progress && (done % (16u << 20) < n || pos == e))
				o->progress(done, total, o->userdata);
			if (done * 2 >= total && done * 2 - n < total)
				fs_test_pause("snapshot");
		}
	}
	if (r >= 0)
		r = zfeed(&z, NULL, 0, ZSTD_e_end);
out:
	ZSTD_freeCCtx(z.cx);
	free(z.out);
	free(buf);
	fs_runs_release(&all);
	fs_copy_plan_release(&plan);
	fs_raw_close(&in);
	return r;
}

int fs_snapshot_save(const struct fs_target *t, const char *path, const struct fs_snapshot_opts *o,
		     struct fs_snapshot_info *ret, struct pb_err *err)
{
	struct fs_snapshot_info info = { 0 };
	struct pb_tmpfile tmp = { .fd = -1 };
	_cleanup_free_ char *dir = NULL;
	const char *slash;
	struct stat st;
	int r;

	if (lstat(path, &st) == 0)
		return pb_err_set(err, -EEXIST, "%s: exists; a snapshot is never written over a file", path);
	slash = strrchr(path, '/');
	dir = slash ? xstrndup(path, (size_t)(slash - path + 1)) : xstrdup(".");
	/* Without a name until it is whole: a snapshot cut short leaves nothing behind. */
	r = pb_tmpfile_open(&tmp, dir, PB_TMP_LARGE, ".partboot-snapshot", err);
	if (r < 0)
		return r;
	info.size = t->size;
	info.zstd = o->zstd;
	info.created = o->created;
	snprintf(info.partition, sizeof(info.partition), "%s", o->partition ? o->partition : "");
	snprintf(info.partuuid, sizeof(info.partuuid), "%s", o->partuuid ? o->partuuid : "");
	snprintf(info.fs_uuid, sizeof(info.fs_uuid), "%s", o->fs_uuid ? o->fs_uuid : "");
	snprintf(info.disk_id, sizeof(info.disk_id), "%s", o->disk_id ? o->disk_id : "");
	snprintf(info.note, sizeof(info.note), "%s", o->note ? o->note : "");

	if (o->zstd) {
		r = save_zstd(t, tmp.fd, path, o, &info, err);
	} else {
		struct fs_target dst = { .path = tmp.path, .offset = 0, .size = t->size, .where = path };
		struct fs_copy_opts co = { .progress = o->progress, .userdata = o->userdata };
		struct fs_copy_result res = { 0 };
		char trailer[SNAP_TRAILER];
		struct fs_raw in;

		/* The exact bytes from an image file; the blocks in use from a device. */
		r = fs_raw_open(t, false, &in, err);
		if (r >= 0) {
			co.mode = in.is_file ? FS_COPY_EXACT : FS_COPY_USED;
			fs_raw_close(&in);
			if (ftruncate(tmp.fd, (off_t)(t->size + SNAP_TRAILER)) < 0)
				r = pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
		}
		if (r >= 0)
			r = fs_copy(t, &dst, &co, &res, err);
		if (r >= 0) {
			info.data = res.bytes;
			trailer_build(&info, trailer);
			if (pwrite(tmp.fd, trailer, sizeof(trailer), (off_t)t->size) != (ssize_t)sizeof(trailer))
				r = pb_err_set(err, -errno ? -errno : -EIO, "%s: cannot write: %s", path, strerror(errno));
		}
	}
	if (r >= 0 && fsync(tmp.fd) < 0)
		r = pb_err_set(err, -errno, "%s: cannot write: %s", path, strerror(errno));
	/* Into place only when whole, and never over a file that appeared meanwhile. */
	if (r >= 0)
		r = pb_tmpfile_link(&tmp, path, err);
	pb_tmpfile_close(&tmp);
	if (r >= 0 && ret)
		*ret = info;
	return r;
}

/* --- putting one back --------------------------------------------------------------------- */

/* zstd snapshot → a sparse raw file (zero blocks left as holes). */
static int unpack_zstd(const char *path, int out_fd, uint64_t size, struct pb_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ZSTD_DCtx *dx = ZSTD_createDCtx();
	size_t in_len = ZSTD_DStreamInSize(), out_len = ZSTD_DStreamOutSize();
	char *inb = xmalloc(in_len), *outb = xmalloc(out_len);
	uint64_t pos = 0;
	size_t last = 1;
	ssize_t n;
	int r = 0;

	if (!dx)
		pb_oom();
	if (fd < 0) {
		r = pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (ftruncate(out_fd, (off_t)size) < 0 || lseek(fd, 8 + SNAP_TRAILER, SEEK_SET) < 0) {
		r = pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, inb, in_len)) > 0 && r >= 0) {
		ZSTD_inBuffer in = { inb, (size_t)n, 0 };

		while (in.pos < in.size && r >= 0) {
			ZSTD_outBuffer out = { outb, out_len, 0 };

			last = ZSTD_decompressStream(dx, &out, &in);
			if (ZSTD_isError(last)) {
				r = pb_err_set(err, -EIO, "%s: damaged snapshot: zstd: %s", path, ZSTD_getErrorName(last));
				break;
			}
			/* Never more than the partition: a snapshot that says more is refused, not obeyed. */
			if (out.pos > size - pos) {
				r = pb_err_set(err, -EINVAL, "%s: damaged snapshot: more data than the partition holds", path);
				break;
			}
			for (size_t i = 0; i < out.pos; i += 4096) {
				static const char zeros[4096];
				size_t k = out.pos - i < 4096 ? out.pos - i : 4096;

				if (memcmp(outb + i, zeros, k) && pwrite(out_fd, outb + i, k, (off_t)(pos + i)) != (ssize_t)k) {
					r = pb_err_set(err, -EIO, "%s: cannot write the unpacked snapshot: %s", path,
						       strerror(errno));
					break;
				}
			}
			pos += out.pos;
		}
	}
	if (r >= 0 && n < 0)
		r = pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (r >= 0 && (last != 0 || pos != size))
		r = pb_err_set(err, -EINVAL, "%s: truncated snapshot (%" PRIu64 " of %" PRIu64 " bytes)", path, pos, size);
out:
	ZSTD_freeDCtx(dx);
	free(inb);
	free(outb);
	return r;
}

int fs_snapshot_restore(const char *path, const struct fs_target *t, const struct fs_snapshot_restore_opts *o,
			struct pb_err *err)
{
	struct fs_snapshot_info info;
	struct pb_tmpfile scratch = { .fd = -1 };
	struct fs_copy_opts co = { .mode = FS_COPY_EXACT, .op = "rollback", .seed = o->seed, .progress = o->progress,
				   .userdata = o->userdata };
	struct fs_target src = { .path = path, .offset = 0, .where = path };
	int r;

	r = fs_snapshot_read_info(path, &info, err);
	if (r < 0)
		return r;
	if (info.size != t->size)
		return pb_err_set(err, -EINVAL, "%s: a snapshot of %" PRIu64 " bytes, the partition is %" PRIu64
				  " (resize it to the snapshot's size first)", path, info.size, t->size);
	src.size = info.size;
	if (info.zstd) {
		/* Unpacked beside the other large scratch files, nameless, before the guest is touched. */
		r = pb_tmpfile_open(&scratch, NULL, PB_TMP_LARGE, "partboot-rollback", err);
		if (r < 0)
			return r;
		r = unpack_zstd(path, scratch.fd, info.size, err);
		if (r < 0)
			goto out;
		src.path = scratch.path;
	}
	if (o->before) {
		r = o->before(o->before_userdata, err);
		if (r < 0)
			goto out;
	}
	r = fs_copy(&src, t, &co, NULL, err);
out:
	pb_tmpfile_close(&scratch);
	return r;
}
