/* SPDX-License-Identifier: MIT */
/*
 * OpenSSH public keys for authorized_keys: a file is checked line by line
 * (each key "TYPE BASE64 [COMMENT]", its base64 blob starting with the same
 * TYPE as an SSH string, RFC 4253 §6.6), so a private key, a fingerprint or
 * a typo never ends up in a guest; then merged into an authorized_keys
 * without repeating a key already there.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../common/macros.h"
#include "disk-private.h"

#define KEYFILE_MAX (64 * 1024)

static const char *const key_types[] = {
	"ssh-ed25519",
	"ssh-rsa",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
	"ssh-dss",
};

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode the first bytes of a base64 word (enough for the type string); false when it is not base64. */
static bool b64_head(const char *s, size_t n, unsigned char *out, size_t out_size, size_t *ret_len)
{
	uint32_t acc = 0;
	size_t bits = 0, len = 0, i = 0;

	if (n % 4)
		return false;
	for (; i < n && s[i] != '='; i++) {
		int v = b64_value(s[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len < out_size)
				out[len] = (unsigned char)(acc >> bits);
			len++;
		}
	}
	/* at most two '=' at the very end */
	if (n - i > 2)
		return false;
	for (; i < n; i++)
		if (s[i] != '=')
			return false;
	*ret_len = len;
	return true;
}

/* One line: "TYPE BASE64 [COMMENT]". Returns the key type's index, or -1. */
static int parse_key(const char *line, size_t n)
{
	unsigned char blob[64];
	size_t tlen = strcspn(line, " \t\r\n"), blen, decoded;
	const char *b64;
	uint32_t slen;

	if (tlen >= n)
		return -1;
	b64 = line + tlen;
	while (*b64 == ' ' || *b64 == '\t')
		b64++;
	blen = strcspn(b64, " \t\r\n");
	if (blen > (size_t)(line + n - b64))
		blen = (size_t)(line + n - b64);
	if (!blen || !b64_head(b64, blen, blob, sizeof(blob), &decoded) || decoded < 4 + tlen)
		return -1;
	slen = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
	if (slen != tlen || 4 + tlen > sizeof(blob) || memcmp(blob + 4, line, tlen))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(key_types); i++)
		if (strlen(key_types[i]) == tlen && !strncmp(line, key_types[i], tlen))
			return (int)i;
	return -1;
}

int disk_sshkey_parse(const char *text, size_t len, const char *what, struct strbuf *out, size_t *ret_n,
		      struct pb_err *err)
{
	size_t n = 0;
	unsigned lineno = 0;

	if (memchr(text, '\0', len))
		return pb_err_set(err, -EINVAL, "%s: not text: not an SSH public key file", what);
	if (strstr(text, "PRIVATE KEY-----"))
		return pb_err_set(err, -EINVAL, "%s: a private key: give its public half (the .pub file)", what);
	for (const char *line = text; *line;) {
		const char *end = strchrnul(line, '\n'), *s = line;

		lineno++;
		line = *end ? end + 1 : end;
		while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		if (s == end || *s == '#')
			continue;
		if (parse_key(s, (size_t)(end - s)) < 0)
			return pb_err_set(err, -EINVAL,
					  "%s:%u: not an SSH public key (expected 'TYPE BASE64 [COMMENT]' with TYPE "
					  "ssh-ed25519, ssh-rsa, ecdsa-sha2-*, ...; options before the key are not taken)",
					  what, lineno);
		{
			size_t k = (size_t)(end - s);

			while (k && (s[k - 1] == '\r' || s[k - 1] == ' ' || s[k - 1] == '\t'))
				k--;
			strbuf_add(out, s, k);
			strbuf_addch(out, '\n');
		}
		n++;
	}
	if (!n)
		return pb_err_set(err, -EINVAL, "%s: no SSH public key in it", what);
	if (ret_n)
		*ret_n = n;
	return 0;
}

int disk_sshkey_load(const char *file, struct strbuf *out, size_t *ret_n, struct pb_err *err)
{
	struct strbuf text = STRBUF_INIT;
	int r;

	r = disk_file_read(file, KEYFILE_MAX, false, "an SSH public key file, such as id_ed25519.pub", &text, err);
	if (r >= 0)
		r = disk_sshkey_parse(text.buf, text.len, file, out, ret_n, err);
	strbuf_release(&text);
	return r;
}

/* "TYPE BASE64" of a key line (what identifies the key; the comment does not). */
static size_t key_id_len(const char *s)
{
	size_t t = strcspn(s, " \t\n");
	const char *b = s + t;

	while (*b == ' ' || *b == '\t')
		b++;
	return (size_t)(b - s) + strcspn(b, " \t\r\n");
}

static bool has_key(const char *text, const char *key, size_t klen)
{
	size_t t = strcspn(key, " \t");

	for (const char *line = text; line && *line;) {
		const char *end = strchrnul(line, '\n'), *p;

		/* The key may follow options on an authorized_keys line: look for "TYPE BASE64" in it. */
		for (p = line; p < end; p++) {
			if ((p == line || p[-1] == ' ' || p[-1] == '\t') && (size_t)(end - p) >= klen &&
			    !strncmp(p, key, t) && !strncmp(p, key, klen) &&
			    (p + klen == end || p[klen] == ' ' || p[klen] == '\t' || p[klen] == '\r'))
				return true;
		}
		line = *end ? end + 1 : end;
	}
	return false;
}

void disk_sshkey_merge(const char *old, const char *add, struct strbuf *out, size_t *ret_added)
{
	size_t added = 0;

	if (old && *old) {
		strbuf_addstr(out, old);
		if (out->buf[out->len - 1] != '\n')
			strbuf_addch(out, '\n');
	}
	for (const char *line = add; line && *line;) {
		const char *end = strchrnul(line, '\n');
		size_t id = key_id_len(line);

		if (end > line && !has_key(out->buf, line, id)) {
			strbuf_add(out, line, (size_t)(end - line));
			strbuf_addch(out, '\n');
			added++;
		}
		line = *end ? end + 1 : end;
	}
	if (ret_added)
		*ret_added = added;
}
