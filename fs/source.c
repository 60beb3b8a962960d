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
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

		/* The root as the user named it (a symlink to it is theirs); below it nothing is followed. */
		p->src_root_fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p->src_root_fd < 0)
			return pb_err_set(p->err, -errno, "%s: %s", src, strerror(errno));
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

/*
 * libarchive's disk reader lstat()s an entry and reads its data, or walks
 * into a directory, later and by name: swapped in between for a symlink to
 * a host file or folder, that host file would be copied into the guest.
 * So each entry is looked at again here, on the disk now.
 */
static int changed(struct populate *p, const char *why)
{
	return pb_err_set(p->err, -ESTALE, "%s: '%s' changed while it was read (%s); nothing of it was copied",
			  p->t->where, p->path.buf, why);
}

/* The parent directory of p->path, opened from the root one component at a time, never following a symlink. */
static int open_parent(struct populate *p)
{
	const char *slash = strrchr(p->path.buf, '/');
	size_t plen = slash ? (size_t)(slash - p->path.buf) : 0;
	const char *c = p->path.buf;
	int fd;

	if (p->src_dir_fd >= 0 && p->src_dir.len == plen && !memcmp(p->src_dir.buf, p->path.buf, plen))
		return p->src_dir_fd; /* the same parent as the entry before (the walk goes folder by folder) */
	if (p->src_dir_fd >= 0 && p->src_dir_fd != p->src_root_fd)
		close(p->src_dir_fd);
	p->src_dir_fd = -1;
	strbuf_reset(&p->src_dir);
	fd = p->src_root_fd;
	while (c < p->path.buf + plen) {
		size_t n = strcspn(c, "/");
		char name[256];
		int next;

		snprintf(name, sizeof(name), "%.*s", (int)n, c);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != p->src_root_fd)
			close(fd);
		if (next < 0)
			return changed(p, "a folder above it is not a folder any more");
		fd = next;
		c += n + (c[n] == '/');
	}
	strbuf_add(&p->src_dir, p->path.buf, plen);
	p->src_dir_fd = fd;
	return fd;
}

int fs_source_check_entry(struct populate *p, struct archive_entry *e)
{
	const char *name = strrchr(p->path.buf, '/') ? strrchr(p->path.buf, '/') + 1 : p->path.buf;
	struct stat st;
	int dfd;

	fs_source_close_entry(p);
	if (!p->path.len) {
		/* the root itself */
		if (fstat(p->src_root_fd, &st) < 0 || st.st_dev != archive_entry_dev(e) ||
		    (int64_t)st.st_ino != archive_entry_ino64(e))
			return changed(p, "the source folder is another one now");
		return 0;
	}
	dfd = open_parent(p);
	if (dfd < 0)
		return dfd;
	if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e)) {
		p->data_fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (p->data_fd < 0 || fstat(p->data_fd, &st) < 0)
			return changed(p, "it is not a file any more");
	} else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		return changed(p, "it is gone");
	}
	if (st.st_dev != archive_entry_dev(e) || (int64_t)st.st_ino != archive_entry_ino64(e) ||
	    (st.st_mode & S_IFMT) != (archive_entry_filetype(e) & S_IFMT))
		return changed(p, "it is another file now");
	return 0;
}

void fs_source_close_entry(struct populate *p)
{
	if (p->data_fd >= 0)
		close(p->data_fd);
	p->data_fd = -1;
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
	fs_source_close_entry(p);
	if (p->src_dir_fd >= 0 && p->src_dir_fd != p->src_root_fd)
		close(p->src_dir_fd);
	if (p->src_root_fd >= 0)
		close(p->src_root_fd);
	strbuf_release(&p->src_dir);
}
