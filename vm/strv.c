/* SPDX-License-Identifier: MIT */
/*
 * struct strv (vm-private.h), the growable argument vector that qemu.c and
 * console.c build QEMU's command line in. Out of memory aborts
 * (common/alloc.h), so building it cannot fail.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "vm-private.h"

void strv_add(struct strv *s, const char *str)
{
	char *dup;

	if (s->n + 2 > s->alloc) {
		size_t na = s->alloc ? s->alloc * 2 : 32;
		char **nv = xreallocarray(s->v, na, sizeof(*nv));

		s->v = nv;
		s->alloc = na;
	}
	dup = xstrdup(str);
	s->v[s->n++] = dup;
	s->v[s->n] = NULL;
}

void strv_addf(struct strv *s, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strv_add(s, sb.buf);
	strbuf_release(&sb);
}
