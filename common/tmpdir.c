/* SPDX-License-Identifier: MIT */
/* The temporary folder rule (tmpdir.h) and the two helpers that make names in it. */
#include "tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

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
