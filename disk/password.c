/* SPDX-License-Identifier: MIT */
/*
 * Passwords: read from a file or a descriptor (never from the command line),
 * hashed with yescrypt as Debian 12's passwd and chpasswd do (libcrypt's
 * crypt_gensalt("$y$") at its default cost), and wiped from memory as soon
 * as the hash is made. Nothing here puts a password or a hash in a message.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <uuid.h>

#include "../common/alloc.h"
#include "../common/macros.h"
#include "disk-private.h"

/* A password file holds one line; anything longer than this is not one. */
#define PASSWORD_MAX 1024

void disk_password_free(char *pw)
{
	if (!pw)
		return;
	explicit_bzero(pw, strlen(pw));
	free(pw);
}

int disk_password_read(const char *file, int fd, char **ret, struct pb_err *err)
{
	_cleanup_close_ int own = -1;
	const char *what = strcmp(file, "-") ? file : "standard input";
	char buf[PASSWORD_MAX + 2];
	size_t len = 0;
	int r;

	if (strcmp(file, "-")) {
		own = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (own < 0)
			return pb_err_set(err, -errno, "%s: %s", file, strerror(errno));
		fd = own;
	}
	/* One byte at a time up to the first newline: nothing after it is consumed. */
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pb_err_set(err, -errno, "%s: %s", what, strerror(errno));
			goto out;
		}
		if (n == 0 || buf[len] == '\n')
			break;
		len++;
	}
	if (len > PASSWORD_MAX) {
		r = pb_err_set(err, -EINVAL, "%s: the first line is longer than %d bytes: not a password file", what,
			       PASSWORD_MAX);
		goto out;
	}
	if (len && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	if (!len) {
		r = pb_err_set(err, -EINVAL, "%s: empty password (the password is the file's first line)", what);
		goto out;
	}
	if (memchr(buf, '\0', len)) {
		r = pb_err_set(err, -EINVAL, "%s: the password holds a NUL byte", what);
		goto out;
	}
	*ret = xstrdup(buf);
	r = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	return r;
}

int disk_password_hash(const char *pw, const char *salt_seed, char **ret, struct pb_err *err)
{
	struct crypt_data *cd;
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	unsigned char rbytes[16];
	const char *h;
	int r;

	if (salt_seed) {
		/* A seeded disk is reproducible: its salt is a name-based UUID of the seed, not random. */
		static const unsigned char ns[16] = { 0x6b, 0x1d, 0x4e, 0x0e, 0x57, 0x3f, 0x4b, 0x2a,
						      0x9c, 0x51, 0x0d, 0x7e, 0x2f, 0x90, 0x13, 0x42 };

		uuid_generate_sha1(rbytes, ns, salt_seed, strlen(salt_seed));
	}
	if (!crypt_gensalt_rn("$y$", 0, salt_seed ? (const char *)rbytes : NULL, salt_seed ? sizeof(rbytes) : 0,
			      setting, sizeof(setting)))
		return pb_err_set(err, -errno ? -errno : -EINVAL, "cannot make a yescrypt salt: %s", strerror(errno));
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_r(pw, setting, cd);
	/* libcrypt fails with a string starting with '*' rather than NULL */
	if (!h || h[0] == '*') {
		r = pb_err_set(err, -EINVAL, "cannot hash the password with yescrypt (libcrypt)");
	} else {
		*ret = xstrdup(h);
		r = 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return r;
}
