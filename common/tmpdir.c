/* SPDX-License-Identifier: MIT */
/* The temporary folder rule (tmpdir.h) and the two helpers that make names in it. */
#include "tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

const char *pb_tmpdir(enum pb_tmp size)
{
	const char *t = getenv("TMPDIR");

	if (t && *t)
		return t;
	return size == PB_TMP_LARGE ? "/var/tmp" : "/tmp";
}

int pb_mkdtemp(const char *prefix, enum pb_tmp size, char **ret_path, struct pb_err *err)
{
	const char *dir = pb_tmpdir(size);
	struct strbuf sb = STRBUF_INIT;
	int r;

	strbuf_addf(&sb, "%s/%s.XXXXXX", dir, prefix);
	if (!mkdtemp(sb.buf)) {
		int e = errno;

		r = pb_err_set(err, -e, "%s: cannot make a temporary folder: %s", dir, strerror(e));
		strbuf_release(&sb);
		return r;
	}
	*ret_path = strbuf_detach(&sb, NULL);
	return 0;
}

int pb_mkstemp(const char *prefix, enum pb_tmp size, char **ret_path, struct pb_err *err)
{
	const char *dir = pb_tmpdir(size);
	struct strbuf sb = STRBUF_INIT;
	int fd, r;

	strbuf_addf(&sb, "%s/%s.XXXXXX", dir, prefix);
	fd = mkostemp(sb.buf, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		r = pb_err_set(err, -e, "%s: cannot make a temporary file: %s", dir, strerror(e));
		strbuf_release(&sb);
		return r;
	}
	*ret_path = strbuf_detach(&sb, NULL);
	return fd;
}

int pb_tmpfile_open(struct pb_tmpfile *t, const char *dir, enum pb_tmp size, const char *prefix, struct pb_err *err)
{
	int fd;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->dir = xstrdup(dir && *dir ? dir : pb_tmpdir(size));
	fd = open(t->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		/* no O_TMPFILE there (an older or a network filesystem): a named stand-in */
		t->named = xasprintf("%s/%s.XXXXXX", t->dir, prefix);
		fd = mkostemp(t->named, O_CLOEXEC);
	}
	if (fd < 0) {
		int e = errno;

		free(t->named);
		t->named = NULL;
		return pb_err_set(err, -e, "%s: cannot make a file there: %s", t->dir, strerror(e));
	}
	t->fd = fd;
	snprintf(t->path, sizeof(t->path), "/proc/%d/fd/%d", (int)getpid(), fd);
	return 0;
}

int pb_tmpfile_link(struct pb_tmpfile *t, const char *path, struct pb_err *err)
{
	if (t->named) {
		if (renameat2(AT_FDCWD, t->named, AT_FDCWD, path, RENAME_NOREPLACE) < 0)
			return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
		free(t->named);
		t->named = NULL;
		return 0;
	}
	/* linkat() through /proc names an O_TMPFILE file without CAP_DAC_READ_SEARCH; never replaces. */
	if (linkat(AT_FDCWD, t->path, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0)
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	return 0;
}

void pb_tmpfile_close(struct pb_tmpfile *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->named)
		unlink(t->named);
	free(t->named);
	t->named = NULL;
	free(t->dir);
	t->dir = NULL;
}
