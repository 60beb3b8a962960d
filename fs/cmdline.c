/* SPDX-License-Identifier: MIT */
/*
 * The kernel command line of an install partboot did not make, from what
 * its own GRUB tooling reads: /etc/default/grub and the snippets in
 * /etc/default/grub.d (Debian's cloud images put theirs there). Those are
 * shell fragments that grub-mkconfig sources; partboot does not run them,
 * it reads the few forms such files use (NAME=value with quotes, export,
 * comments, $NAME of a variable set before) and nothing else, so a guest's
 * file can never make the host run anything.
 *
 * The line is what 10_linux (Debian, Fedora) puts after root=:
 * "ro ${GRUB_CMDLINE_LINUX} ${GRUB_CMDLINE_LINUX_DEFAULT}".
 */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "common/strbuf.h"
#include "fs.h"

/* The variables set so far (only GRUB_* ones are kept: nothing else is used). */
struct shvars {
	char *name[32];
	struct strbuf value[32];
	size_t n;
};

static struct strbuf *shvar(struct shvars *v, const char *name, size_t len, bool create)
{
	for (size_t i = 0; i < v->n; i++)
		if (strlen(v->name[i]) == len && !memcmp(v->name[i], name, len))
			return &v->value[i];
	if (!create || v->n == ARRAY_SIZE(v->name))
		return NULL;
	v->name[v->n] = xstrndup(name, len);
	strbuf_init(&v->value[v->n]);
	return &v->value[v->n++];
}

static bool name_char(char c, bool first)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
}

/* $NAME or ${NAME} at *p (just past the '$'): append its value, advance. */
static void expand(struct shvars *v, const char **p, const char *end, struct strbuf *out)
{
	const char *s = *p, *name;
	size_t len = 0;
	bool braced = s < end && *s == '{';
	struct strbuf *val;

	if (braced)
		s++;
	name = s;
	while (s < end && name_char(*s, s == name))
		s++;
	len = (size_t)(s - name);
	if (braced) {
		if (s >= end || *s != '}') { /* ${...} we do not understand: keep it literally */
			strbuf_addch(out, '$');
			return;
		}
		s++;
	}
	if (!len) {
		strbuf_addch(out, '$');
		return;
	}
	val = shvar(v, name, len, false);
	if (val)
		strbuf_add(out, val->buf, val->len);
	*p = s;
}

/* The value of an assignment starting at p (quotes removed, variables expanded), up to an unquoted blank. */
static const char *parse_value(struct shvars *v, const char *p, const char *end, struct strbuf *out)
{
	while (p < end && *p != ' ' && *p != '\t' && *p != ';' && *p != '\n') {
		if (*p == '\'') {
			const char *q = memchr(p + 1, '\'', (size_t)(end - p - 1));

			if (!q)
				q = end;
			strbuf_add(out, p + 1, (size_t)(q - p - 1));
			p = q < end ? q + 1 : end;
		} else if (*p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end && strchr("\"\\$`", p[1])) {
					strbuf_addch(out, *++p);
				} else if (*p == '$') {
					p++;
					expand(v, &p, end, out);
					p--;
				} else {
					strbuf_addch(out, *p);
				}
			}
			if (p < end)
				p++;
		} else if (*p == '$') {
			p++;
			expand(v, &p, end, out);
		} else if (*p == '\\' && p + 1 < end) {
			strbuf_addch(out, p[1]);
			p += 2;
		} else {
			strbuf_addch(out, *p++);
		}
	}
	return p;
}

/*
 * One file. A value in double quotes may span lines (rare, but legal), so
 * the text is walked as a whole, statement by statement.
 */
static void parse_file(struct shvars *v, const char *text)
{
	const char *p = text, *end = text + strlen(text);

	while (p < end) {
		const char *name;
		size_t len;

		while (p < end && (*p == ' ' || *p == '\t' || *p == ';' || *p == '\n'))
			p++;
		if (p >= end)
			break;
		if (*p == '#' || !name_char(*p, true))
			goto skip_line;
		if (!strncmp(p, "export", 6) && (p[6] == ' ' || p[6] == '\t')) {
			p += 6;
			continue;
		}
		name = p;
		while (p < end && name_char(*p, false))
			p++;
		len = (size_t)(p - name);
		if (p >= end || *p != '=')
			goto skip_line;
		p++;
		{
			struct strbuf val = STRBUF_INIT;
			struct strbuf *dst;

			p = parse_value(v, p, end, &val);
			/* a command after the assignment (NAME=x cmd) is not an assignment to keep */
			if (len > 5 && !strncmp(name, "GRUB_", 5) && (dst = shvar(v, name, len, true))) {
				strbuf_reset(dst);
				strbuf_add(dst, val.buf, val.len);
			}
			strbuf_release(&val);
		}
		continue;
skip_line:
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			break;
	}
}

/* Append words of s to out, one space between words. */
static void add_words(struct strbuf *out, const char *s)
{
	while (*s) {
		const char *w;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (!*s)
			break;
		w = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n')
			s++;
		if (out->len)
			strbuf_addch(out, ' ');
		strbuf_add(out, w, (size_t)(s - w));
	}
}

char *fs_grub_cmdline(const char *const *texts, size_t n)
{
	struct shvars v = { 0 };
	struct strbuf out = STRBUF_INIT;
	struct strbuf *l, *d;
	char *ret = NULL;

	for (size_t i = 0; i < n; i++)
		if (texts[i])
			parse_file(&v, texts[i]);
	l = shvar(&v, "GRUB_CMDLINE_LINUX", 18, false);
	d = shvar(&v, "GRUB_CMDLINE_LINUX_DEFAULT", 26, false);
	strbuf_addstr(&out, "ro");
	if (l)
		add_words(&out, l->buf);
	if (d)
		add_words(&out, d->buf);
	/* set, even to "": grub-mkconfig then writes "ro" alone */
	if (l || d)
		ret = strbuf_detach(&out, NULL);
	strbuf_release(&out);
	for (size_t i = 0; i < v.n; i++) {
		free(v.name[i]);
		strbuf_release(&v.value[i]);
	}
	return ret;
}
