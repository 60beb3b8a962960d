/* SPDX-License-Identifier: MIT */
/*
 * fs_source_peek(): a few small files of an install source, read before the
 * install writes anything, so that a request the guest's own files refuse
 * (disk/customize.c: a user the source already has, no /etc/shadow) is
 * refused with the disk untouched. A directory is read path by path from
 * its root, one component at a time, never following a symlink; an archive
 * file is scanned to its end, because a later entry of the same name
 * replaces an earlier one when it is unpacked (appended archives do that).
 * Whatever the unpacking could make differently from a plain read (a
 * symlink, a hard link, a folder that is not one, an archive that does not
 * read to its end) is FS_PEEK_UNKNOWN: the caller checks again once the
 * guest is filled.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/macros.h"
#include "fs-private.h"

/* path (relative, normalized) from the folder root_fd, no symlink followed anywhere. */
static enum fs_peek peek_dir_file(int root_fd, const char *path, size_t max, struct strbuf *out)
{
	_cleanup_free_ char *copy = strdup(path);
	enum fs_peek st = FS_PEEK_UNKNOWN;
	char *c = copy, *slash;
	int fd = root_fd, next;
	struct stat sb;

	if (!copy)
		return FS_PEEK_UNKNOWN;
	while ((slash = strchr(c, '/'))) {
		*slash = '\0';
		next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != root_fd)
			close(fd);
		if (next < 0)
			return errno == ENOENT ? FS_PEEK_MISSING : FS_PEEK_UNKNOWN;
		fd = next;
		c = slash + 1;
	}
	next = openat(fd, c, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (next < 0) {
		st = errno == ENOENT ? FS_PEEK_MISSING : FS_PEEK_UNKNOWN;
		goto out;
	}
	if (fstat(next, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size <= max) {
		char buf[65536];
		ssize_t n;

		strbuf_reset(out);
		while ((n = read(next, buf, sizeof(buf))) > 0 && out->len + (size_t)n <= max)
			strbuf_add(out, buf, (size_t)n);
		if (n == 0)
			st = FS_PEEK_FOUND;
	}
	close(next);
out:
	if (fd != root_fd)
		close(fd);
	return st;
}

/* Does the normalized entry name dir lie above path ("etc" above "etc/passwd")? */
static bool is_parent(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	return !n || (!strncmp(dir, path, n) && path[n] == '/');
}

static void peek_archive(const char *source, const char *const *paths, size_t n, size_t max, struct strbuf *out,
			 enum fs_peek *state)
{
	struct strbuf name = STRBUF_INIT;
	struct archive_entry *e;
	struct archive *a = archive_read_new();
	bool sticky[FS_PEEK_MAX] = { false };
	int ar;

	for (size_t i = 0; i < n; i++)
		state[i] = FS_PEEK_MISSING;
	if (!a)
		goto unknown;
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_format_cpio(a);
	if (archive_read_open_filename(a, source, 1 << 20) != ARCHIVE_OK)
		goto unknown;
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
		const char *raw = archive_entry_pathname(e);

		fs_path_normalize(raw ? raw : "", &name);
		for (size_t i = 0; i < n; i++) {
			if (sticky[i])
				continue;
			if (is_parent(name.buf, paths[i])) {
				/* a folder above it that would not be a plain folder: unpacking decides */
				if (archive_entry_filetype(e) != AE_IFDIR)
					state[i] = FS_PEEK_UNKNOWN, sticky[i] = true;
				continue;
			}
			if (strcmp(name.buf, paths[i]))
				continue;
			if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) ||
			    (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > max)) {
				state[i] = FS_PEEK_UNKNOWN, sticky[i] = true;
				continue;
			}
			strbuf_reset(&out[i]);
			for (;;) {
				char buf[65536];
				la_ssize_t got = archive_read_data(a, buf, sizeof(buf));

				if (got <= 0 || out[i].len + (size_t)got > max) {
					state[i] = got == 0 ? FS_PEEK_FOUND : FS_PEEK_UNKNOWN;
					sticky[i] = got != 0;
					break;
				}
				strbuf_add(&out[i], buf, (size_t)got);
			}
			break; /* its data is read: no other path can have this name */
		}
	}
	if (ar != ARCHIVE_EOF)
		goto unknown; /* the install will say what is wrong with it, in its own words */
	archive_read_free(a);
	strbuf_release(&name);
	return;
unknown:
	for (size_t i = 0; i < n; i++)
		state[i] = FS_PEEK_UNKNOWN;
	archive_read_free(a);
	strbuf_release(&name);
}

void fs_source_peek(const char *source, const char *const *paths, size_t n, size_t max, struct strbuf *out,
		    enum fs_peek *state)
{
	struct strbuf rel = STRBUF_INIT;
	struct stat st;
	int root;

	for (size_t i = 0; i < n; i++)
		state[i] = FS_PEEK_UNKNOWN;
	if (n > FS_PEEK_MAX || !source || !strcmp(source, "-") || stat(source, &st) < 0)
		return;
	if (S_ISREG(st.st_mode)) {
		peek_archive(source, paths, n, max, out, state);
		return;
	}
	if (!S_ISDIR(st.st_mode))
		return;
	root = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		fs_path_normalize(paths[i], &rel);
		state[i] = rel.len ? peek_dir_file(root, rel.buf, max, &out[i]) : FS_PEEK_UNKNOWN;
	}
	close(root);
	strbuf_release(&rel);
}
