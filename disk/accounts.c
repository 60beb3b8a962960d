/* SPDX-License-Identifier: MIT */
/*
 * The account files of a guest (/etc/passwd, /etc/group, /etc/shadow,
 * /etc/gshadow) as lines of colon-separated fields, edited in memory; and
 * the rules adduser follows (its NAME_REGEX, /etc/adduser.conf's ids and
 * paths). Pure functions: customize.c reads the files from the guest and
 * writes them back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/macros.h"
#include "disk-private.h"

static void add_line(struct disk_acct *a, const char *s, size_t n)
{
	if (a->n == a->alloc) {
		a->alloc = a->alloc ? a->alloc * 2 : 64;
		a->lines = xreallocarray(a->lines, a->alloc, sizeof(*a->lines));
	}
	a->lines[a->n++] = xstrndup(s, n);
}

void disk_acct_parse(const char *text, struct disk_acct *ret)
{
	memset(ret, 0, sizeof(*ret));
	while (text && *text) {
		const char *end = strchrnul(text, '\n');

		add_line(ret, text, (size_t)(end - text));
		text = *end ? end + 1 : end;
	}
}

void disk_acct_release(struct disk_acct *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->lines[i]);
	free(a->lines);
	memset(a, 0, sizeof(*a));
}

void disk_acct_text(const struct disk_acct *a, struct strbuf *out)
{
	for (size_t i = 0; i < a->n; i++) {
		strbuf_addstr(out, a->lines[i]);
		strbuf_addch(out, '\n');
	}
}

long disk_acct_find(const struct disk_acct *a, const char *name)
{
	size_t n = strlen(name);

	if (!n || strchr(name, ':'))
		return -1;
	for (size_t i = 0; i < a->n; i++)
		if (!strncmp(a->lines[i], name, n) && a->lines[i][n] == ':')
			return (long)i;
	return -1;
}

bool disk_acct_field(const struct disk_acct *a, size_t i, unsigned f, struct strbuf *out)
{
	const char *s = a->lines[i];

	strbuf_reset(out);
	for (unsigned k = 0; k < f; k++) {
		s = strchr(s, ':');
		if (!s)
			return false;
		s++;
	}
	strbuf_add(out, s, strcspn(s, ":"));
	return true;
}

void disk_acct_set_field(struct disk_acct *a, size_t i, unsigned f, const char *value)
{
	struct strbuf sb = STRBUF_INIT;
	const char *s = a->lines[i];
	unsigned k = 0;

	/* Fields before f as they are (missing ones empty), the new one, the rest as they are. */
	for (; k < f; k++) {
		size_t n = strcspn(s, ":");

		strbuf_add(&sb, s, n);
		strbuf_addch(&sb, ':');
		s += n;
		if (*s == ':')
			s++;
	}
	strbuf_addstr(&sb, value);
	s += strcspn(s, ":");
	strbuf_addstr(&sb, s);
	free(a->lines[i]);
	a->lines[i] = strbuf_detach(&sb, NULL);
}

void disk_acct_put(struct disk_acct *a, const char *name, const char *line)
{
	long i = disk_acct_find(a, name);

	if (i < 0) {
		add_line(a, line, strlen(line));
		return;
	}
	free(a->lines[i]);
	a->lines[i] = xstrdup(line);
}

void disk_acct_add_member(struct disk_acct *a, size_t i, unsigned f, const char *member)
{
	struct strbuf cur = STRBUF_INIT, next = STRBUF_INIT;
	size_t n = strlen(member);
	bool there = false;

	disk_acct_field(a, i, f, &cur);
	for (const char *p = cur.buf; *p;) {
		size_t k = strcspn(p, ",");

		there |= k == n && !strncmp(p, member, n);
		p += k;
		if (*p == ',')
			p++;
	}
	if (!there) {
		strbuf_addf(&next, "%s%s%s", cur.buf, cur.len ? "," : "", member);
		disk_acct_set_field(a, i, f, next.buf);
	}
	strbuf_release(&cur);
	strbuf_release(&next);
}

bool disk_acct_id_used(const struct disk_acct *a, unsigned f, uint32_t id)
{
	struct strbuf sb = STRBUF_INIT;
	bool used = false;

	for (size_t i = 0; i < a->n && !used; i++) {
		char *end;
		unsigned long v;

		if (!disk_acct_field(a, i, f, &sb) || !sb.len)
			continue;
		v = strtoul(sb.buf, &end, 10);
		used = !*end && v == id;
	}
	strbuf_release(&sb);
	return used;
}

bool disk_user_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > 32 || !(name[0] >= 'a' && name[0] <= 'z'))
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
			return false;
	return true;
}

bool disk_group_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > 32 || name[0] == '-')
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		      *c == '_' || *c == '.'))
			return false;
	return true;
}

static void copy_value(char *dst, size_t size, const char *v, size_t n)
{
	/* VALUE, "VALUE" or 'VALUE' (adduser.conf is read by a shell-like parser) */
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v++;
		n -= 2;
	}
	if (n && n < size && v[0] == '/' && !memchr(v, ':', n) && !memchr(v, '\n', n)) {
		memcpy(dst, v, n);
		dst[n] = '\0';
	}
}

void disk_adduser_parse(const char *text, struct disk_adduser *ret)
{
	*ret = (struct disk_adduser){
		.first_uid = 1000, .last_uid = 59999, .first_gid = 1000, .last_gid = 59999,
		.dir_mode = 0700, .dhome = "/home", .dshell = "/bin/bash", .skel = "/etc/skel",
	};
	while (text && *text) {
		const char *end = strchrnul(text, '\n'), *s = text, *eq;
		size_t klen, vlen;

		text = *end ? end + 1 : end;
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		if (s == end || *s == '#')
			continue;
		eq = memchr(s, '=', (size_t)(end - s));
		if (!eq)
			continue;
		klen = (size_t)(eq - s);
		vlen = (size_t)(end - eq - 1);
		while (vlen && (eq[vlen] == ' ' || eq[vlen] == '\t' || eq[vlen] == '\r'))
			vlen--;
#define KEY(k) (klen == strlen(k) && !strncmp(s, k, klen))
		if (KEY("DHOME"))
			copy_value(ret->dhome, sizeof(ret->dhome), eq + 1, vlen);
		else if (KEY("DSHELL"))
			copy_value(ret->dshell, sizeof(ret->dshell), eq + 1, vlen);
		else if (KEY("SKEL"))
			copy_value(ret->skel, sizeof(ret->skel), eq + 1, vlen);
		else {
			char num[16];
			unsigned long v;
			char *e;

			if (vlen >= sizeof(num))
				continue;
			memcpy(num, eq + 1, vlen);
			num[vlen] = '\0';
			v = strtoul(num, &e, KEY("DIR_MODE") ? 8 : 10);
			if (*e || e == num)
				continue;
			if (KEY("FIRST_UID") && v < UINT32_MAX)
				ret->first_uid = (uint32_t)v;
			else if (KEY("LAST_UID") && v < UINT32_MAX)
				ret->last_uid = (uint32_t)v;
			else if (KEY("FIRST_GID") && v < UINT32_MAX)
				ret->first_gid = (uint32_t)v;
			else if (KEY("LAST_GID") && v < UINT32_MAX)
				ret->last_gid = (uint32_t)v;
			else if (KEY("DIR_MODE") && v <= 07777)
				ret->dir_mode = (unsigned)v;
		}
#undef KEY
	}
	if (ret->last_uid < ret->first_uid)
		ret->last_uid = ret->first_uid;
	if (ret->last_gid < ret->first_gid)
		ret->last_gid = ret->first_gid;
}
