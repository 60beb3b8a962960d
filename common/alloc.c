/* SPDX-License-Identifier: MIT */
#include "alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pb_oom(void)
{
	static const char msg[] = "partboot: out of memory\n";

	/* write(2), not stdio: stdio may need the memory that just ran out. */
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing left to tell anyone */
	}
	abort();
}

/*
 * glibc refuses more than PTRDIFF_MAX bytes anyway; refusing it here makes an
 * impossible size end the same way under every allocator (ASan's would report
 * it as its own error instead of returning NULL).
 */
void *xmalloc(size_t n)
{
	void *p = n > (size_t)PTRDIFF_MAX ? NULL : malloc(n ? n : 1);

	if (!p)
		pb_oom();
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = NULL;

	if (!size || nmemb <= (size_t)PTRDIFF_MAX / size)
		p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		pb_oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *r = n > (size_t)PTRDIFF_MAX ? NULL : realloc(p, n ? n : 1);

	if (!r)
		pb_oom();
	return r;
}

void *xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size && nmemb > (size_t)PTRDIFF_MAX / size)
		pb_oom();
	return xrealloc(p, nmemb * size);
}

char *xstrdup(const char *s)
{
	char *r = strdup(s);

	if (!r)
		pb_oom();
	return r;
}

char *xstrndup(const char *s, size_t n)
{
	char *r = strndup(s, n);

	if (!r)
		pb_oom();
	return r;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *r;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&r, fmt, ap);
	va_end(ap);
	if (n < 0)
		pb_oom();
	return r;
}
