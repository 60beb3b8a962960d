/* SPDX-License-Identifier: MIT */
/*
 * What an initramfs holds, read as the kernel reads it (init/initramfs.c,
 * Documentation/driver-api/early-userspace/buffer-format.rst): cpio "newc"
 * archives one after another, each padded with NULs to a 4-byte boundary,
 * any of them compressed. Debian's initramfs-tools and dracut put the early
 * microcode first as a plain cpio, then the compressed main archive; some
 * builders add more plain segments. libarchive reads each archive and every
 * compression; what libarchive does not say is where a plain archive ends
 * (it stops at the TRAILER!!! entry), so that is computed here from the
 * trailer's own header, whose position libarchive reports.
 *
 * Only reads memory; the guest's initramfs is untrusted, so every size is
 * bounded and every offset checked.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <string.h>

#include "common/macros.h"
#include "vm-private.h"

#define UNPACKED_MAX (1024 * MiB)  /* a compressed segment unpacks to at most this */
#define BUILTIN_MAX (4 * MiB)      /* a modules.builtin larger than this is not one */
#define NEWC_HDR 110               /* "070701" + 13 fields of 8 hex digits */

struct scan {
	const char *kver;
	struct vm_hw_facts *f;
	struct strbuf segs;
};

static void seg_add(struct scan *s, const char *what)
{
	strbuf_addf(&s->segs, "%s%s", s->segs.len ? " + " : "", what);
}

/*
 * The version directory a path lies under ("lib/modules/V/...", "usr/lib/modules/V/..."),
 * into buf; "" when it lies directly in a modules folder (the test guest's flat layout).
 */
static void module_dir_version(const char *path, char *buf, size_t size)
{
	const char *m = strstr(path, "modules/");
	const char *v, *slash;

	buf[0] = '\0';
	if (!m || (m != path && m[-1] != '/'))
		return;
	v = m + 8;
	slash = strchr(v, '/');
	if (!slash || (size_t)(slash - v) >= size)
		return;
	memcpy(buf, v, (size_t)(slash - v));
	buf[slash - v] = '\0';
}

static void entry_seen(struct scan *s, struct archive *a, struct archive_entry *e)
{
	const char *path = archive_entry_pathname(e);
	const char *base;
	char ver[128];
	enum vm_driver d;

	if (!path || archive_entry_filetype(e) != AE_IFREG)
		return;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	module_dir_version(path, ver, sizeof(ver));
	/* modules of another kernel could not be loaded by this one */
	if (ver[0] && s->kver && *s->kver && strcmp(ver, s->kver))
		return;
	if (!strcmp(base, "modules.builtin") && ver[0]) {
		la_int64_t size = archive_entry_size(e);
		struct strbuf sb = STRBUF_INIT;
		char buf[16384];
		la_ssize_t n;

		if (size <= 0 || (uint64_t)size > BUILTIN_MAX)
			return;
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0 && sb.len < BUILTIN_MAX)
			strbuf_add(&sb, buf, (size_t)n);
		if (n == 0)
			vm_hw_facts_builtin(s->f, sb.buf, sb.len);
		strbuf_release(&sb);
		return;
	}
	if (strstr(base, ".ko") && vm_driver_from_module(base, strlen(base), &d) == 0)
		vm_hw_facts_add(s->f, d, VM_DRIVER_INITRD);
}

static unsigned long hexfield(const char *p)
{
	unsigned long v = 0;

	for (int i = 0; i < 8; i++) {
		char c = p[i];

		v = v * 16 + (unsigned long)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
	}
	return v;
}

/*
 * One plain cpio archive at data[0, len): its entries, and in *ret_end the
 * offset just past its TRAILER!!! entry. -EINVAL when it is not one.
 */
static int scan_cpio(struct scan *s, const char *data, size_t len, size_t *ret_end, struct pb_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	la_int64_t pos;
	unsigned long namesize, filesize;
	int r;

	if (!a)
		return pb_err_set(err, -ENOMEM, "out of memory");
	archive_read_support_format_cpio(a);
	r = archive_read_open_memory(a, data, len);
	while (r == ARCHIVE_OK && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		entry_seen(s, a, e);
	if (r != ARCHIVE_EOF) {
		r = pb_err_set(err, -EINVAL, "%s", archive_error_string(a) ? archive_error_string(a) : "not a cpio archive");
		archive_read_free(a);
		return r;
	}
	/* libarchive stopped at the trailer, whose header starts where it says the last header did */
	pos = archive_read_header_position(a);
	archive_read_free(a);
	if (pos < 0 || (size_t)pos + NEWC_HDR > len || memcmp(data + pos, "07070", 5))
		return pb_err_set(err, -EINVAL, "no newc trailer where libarchive ended");
	filesize = hexfield(data + pos + 54);
	namesize = hexfield(data + pos + 94);
	if (namesize != 11 || (size_t)pos + NEWC_HDR + namesize > len ||
	    memcmp(data + pos + NEWC_HDR, "TRAILER!!!", 10))
		return pb_err_set(err, -EINVAL, "no newc trailer where libarchive ended");
	/* header + name padded to 4, then the data padded to 4 (the trailer has none) */
	*ret_end = (size_t)pos + ((NEWC_HDR + namesize + 3) & ~3UL) + ((filesize + 3) & ~3UL);
	if (*ret_end > len)
		*ret_end = len;
	return 0;
}

/* A compressed segment: the whole of its stream, unpacked into out; *ret_filter names the compression. */
static int unpack(const char *data, size_t len, struct strbuf *out, char *ret_filter, size_t fsize, struct pb_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char buf[65536];
	la_ssize_t n;
	int r;

	if (!a)
		return pb_err_set(err, -ENOMEM, "out of memory");
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	r = archive_read_open_memory(a, data, len);
	if (r == ARCHIVE_OK)
		r = archive_read_next_header(a, &e);
	if (r != ARCHIVE_OK) {
		r = pb_err_set(err, -EINVAL, "%s", archive_error_string(a) ? archive_error_string(a) : "cannot unpack");
		goto out;
	}
	snprintf(ret_filter, fsize, "%s", archive_filter_name(a, 0) ? archive_filter_name(a, 0) : "?");
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		if (out->len + (size_t)n > UNPACKED_MAX) {
			r = pb_err_set(err, -EFBIG, "unpacks to more than %llu MiB",
				       (unsigned long long)(UNPACKED_MAX / MiB));
			goto out;
		}
		strbuf_add(out, buf, (size_t)n);
	}
	/* a truncated stream still holds what came before the cut: the kernel unpacks as far as it can */
	r = 0;
	if (n < 0 && !out->len)
		r = pb_err_set(err, -EINVAL, "%s", archive_error_string(a) ? archive_error_string(a) : "cannot unpack");
out:
	archive_read_free(a);
	return r;
}

static bool is_cpio(const char *p, size_t left)
{
	return left >= 6 && (!memcmp(p, "070701", 6) || !memcmp(p, "070702", 6));
}

/* Segments of data[0, len), from the start; compressed ones are unpacked once (depth 0 only). */
static int scan_segments(struct scan *s, const char *data, size_t len, int depth, const char *filter,
			 struct pb_err *err)
{
	size_t off = 0;
	int r;

	while (off < len) {
		size_t end = 0;

		/* padding between archives (the kernel skips NULs in 4-byte steps) */
		while (off < len && !data[off])
			off++;
		if (off >= len)
			break;
		if (is_cpio(data + off, len - off)) {
			char what[32];

			r = scan_cpio(s, data + off, len - off, &end, err);
			if (r < 0)
				return pb_err_prefix(err, r, "at byte %zu: ", off);
			snprintf(what, sizeof(what), "%s%scpio", filter ? filter : "", filter ? " " : "");
			seg_add(s, what);
			off += end;
			continue;
		}
		if (depth == 0) {
			struct strbuf un = STRBUF_INIT;
			char name[32];
			size_t before = s->segs.len;

			r = unpack(data + off, len - off, &un, name, sizeof(name), err);
			if (r >= 0 && !strcmp(name, "none"))
				r = pb_err_set(err, -EINVAL, "neither cpio nor compressed data");
			if (r >= 0)
				r = scan_segments(s, un.buf, un.len, 1, name, err);
			strbuf_release(&un);
			if (r < 0)
				return pb_err_prefix(err, r, "at byte %zu: ", off);
			if (s->segs.len == before)
				seg_add(s, name);
			/*
			 * What follows a compressed stream is not found without
			 * unpacking it as the kernel does; libarchive's gzip reader
			 * already reads concatenated members. Builders put the
			 * compressed archive last.
			 */
			return 0;
		}
		return pb_err_set(err, -EINVAL, "at byte %zu of the unpacked %s stream: not a cpio archive", off,
				  filter ? filter : "");
	}
	return 0;
}

int vm_initramfs_scan(const char *data, size_t len, const char *kver, struct vm_hw_facts *f, struct pb_err *err)
{
	struct scan s = { .kver = kver, .f = f, .segs = STRBUF_INIT };
	int r;

	r = scan_segments(&s, data, len, 0, NULL, err);
	if (r >= 0) {
		f->initrd = true;
		snprintf(f->segments, sizeof(f->segments), "%s", s.segs.buf);
	}
	strbuf_release(&s.segs);
	if (r < 0)
		return pb_err_prefix(err, r, "initramfs: ");
	return 0;
}
