/* SPDX-License-Identifier: MIT */
/* Reading small files, bounded: the host's a request names (scripts, seeds), and the guest's. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/macros.h"
#include "disk-private.h"

int disk_file_read(const char *path, size_t max, bool text, const char *what, struct strbuf *out, struct pb_err *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	char buf[65536];
	size_t start = out->len;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pb_err_set(err, -EINVAL, "%s: not a regular file (%s)", path, what);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (out->len - start + (size_t)n > max)
			return pb_err_set(err, -EFBIG, "%s: larger than %zu KiB (%s)", path, max / 1024, what);
		strbuf_add(out, buf, (size_t)n);
	}
	if (n < 0)
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (text && memchr(out->buf + start, '\0', out->len - start))
		return pb_err_set(err, -EINVAL, "%s: not text (it holds NUL bytes): not %s", path, what);
	return 0;
}

int disk_guest_read(struct fs *fs, const char *where, const char *path, size_t max, struct strbuf *out,
		    bool *ret_there, struct pb_err *err)
{
	_cleanup_free_ char *data = NULL;
	struct fs_dirent st;
	size_t len;
	int r;

	*ret_there = false;
	if (fs_stat(fs, path, true, &st, NULL) < 0)
		return 0;
	if (st.type != 'f')
		return pb_err_set(err, -EINVAL, "%s: %s in the guest is not a regular file", where, path);
	/* a guest is untrusted: its size is checked before anything is read */
	if (st.size > max)
		return pb_err_set(err, -EFBIG, "%s: %s in the guest is larger than %zu KiB", where, path, max / 1024);
	r = fs_read_file(fs, path, &data, &len, err);
	if (r < 0)
		return r;
	strbuf_add(out, data, len);
	*ret_there = true;
	return 0;
}
