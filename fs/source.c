/* SPDX-License-Identifier: MIT */
/*
 * fs_install()'s source: an archive (a file, standard input, or a pipe from
 * a child such as mmdebstrap; tar, gnutar or cpio, any compression
 * libarchive reads) or a folder, walked by libarchive's disk reader so that
 * it reads as one more archive (hard links paired by a link resolver). An
 * archive's first header is read when it is opened, so garbage is refused
 * before the disk is touched. Also the progress it reports, and after
 * ENOSPC what the rest of it would take.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/macros.h"
#include "fs-private.h"

int fs_source_open(struct populate *p)
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

int fs_source_next(struct populate *p, struct archive_entry **ret)
{
	for (;;) {
		struct archive_entry *e = NULL;
		int ar;

		if (p->from_dir) {
			if (!p->disk_entry) {
				p->disk_entry = archive_entry_new();
				if (!p->disk_entry)
					return pb_err_set(p->err, -ENOMEM, "out of memory");
			}
			archive_entry_clear(p->disk_entry);
			ar = archive_read_next_header2(p->a, p->disk_entry);
			e = p->disk_entry;
		} else if (p->first) {
			ar = p->first_ar;
			e = TAKE_PTR(p->first);
		} else if (p->first_ar == ARCHIVE_EOF) {
			return 0; /* an empty archive */
		} else {
			ar = archive_read_next_header(p->a, &e);
		}
		if (ar == ARCHIVE_EOF)
			return 0;
		if (ar < ARCHIVE_WARN) {
			const char *msg = archive_error_string(p->a);

			return pb_err_set(p->err, -EIO, "%s: %s: %s%s%s%s", p->t->where,
					  strcmp(p->opts->source, "-") ? p->opts->source : "standard input",
					  msg ? msg : "truncated or corrupt archive", p->entry ? " (after '" : "",
					  p->entry ? p->entry : "", p->entry ? "')" : "");
		}
		if (p->from_dir) {
			archive_read_disk_descend(p->a);
			archive_entry_linkify(p->lr, &e, &p->spare);
			if (!e)
				continue;
		}
		*ret = e;
		return 1;
	}
}

/* After running out of space: what the rest of the source would take. */
uint64_t fs_source_remaining(struct populate *p, struct archive_entry *cur)
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

void fs_source_progress(struct populate *p, bool force)
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

void fs_source_close(struct populate *p)
{
	if (p->a) {
		if (p->from_dir)
			archive_read_close(p->a);
		archive_read_free(p->a);
	}
	if (p->lr)
		archive_entry_linkresolver_free(p->lr);
	if (p->disk_entry)
		archive_entry_free(p->disk_entry);
}
