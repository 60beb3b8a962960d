/* SPDX-License-Identifier: MIT */
/*
 * Allocation that does not fail: partboot's one out-of-memory policy.
 *
 * partboot's own allocations never fail visibly. When malloc() and friends
 * return NULL, the process is out of memory and no caller can do better than
 * give up, so these wrappers write "partboot: out of memory" to standard
 * error and abort(), as git's xmalloc does. No partboot function therefore
 * returns -ENOMEM for an allocation of its own, and no caller carries an
 * -ENOMEM path that is never tested. A library partboot calls (libext2fs,
 * libarchive, libfdisk, libblkid) may still report ENOMEM; that is passed on
 * as -ENOMEM like any of its errors.
 *
 * pb_oom() is the one place a library prints besides debug output
 * (common/debug.h): there is no caller left to hand the error to.
 *
 * Private to libpartboot: no public header includes this one, so the
 * x-functions are not exported.
 */
#ifndef PARTBOOT_ALLOC_H
#define PARTBOOT_ALLOC_H

#include <stddef.h>

#include "macros.h"

/* Write "partboot: out of memory" to stderr and abort(). */
_noreturn_ void pb_oom(void);

/* malloc(n), or pb_oom(). Never NULL: malloc(0) gives a 1-byte block. */
void *xmalloc(size_t n) _malloc_;
/* calloc(nmemb, size), or pb_oom() (also when nmemb * size overflows). Never NULL. */
void *xcalloc(size_t nmemb, size_t size) _malloc_;
/* realloc(p, n), or pb_oom(); p is left alone then (the process ends anyway). */
void *xrealloc(void *p, size_t n);
/* realloc(p, nmemb * size), or pb_oom(), also when nmemb * size overflows. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
/* strdup(s), or pb_oom(). Caller frees. */
char *xstrdup(const char *s) _malloc_;
/* strndup(s, n), or pb_oom(). Caller frees. */
char *xstrndup(const char *s, size_t n) _malloc_;
/* The formatted string (asprintf()), or pb_oom(). Caller frees. */
char *xasprintf(const char *fmt, ...) _printf_(1, 2) _malloc_;

#endif
