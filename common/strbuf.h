/* SPDX-License-Identifier: MIT */
/*
 * A growable string, after git's strbuf. The buffer is always NUL-terminated;
 * buf is never NULL once initialised (it points at a static "" until the first
 * growth). The strbuf owns buf; strbuf_detach() hands ownership to the caller.
 */
#ifndef PARTBOOT_STRBUF_H
#define PARTBOOT_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	size_t alloc;
	size_t len;
	char *buf;
};

extern char strbuf_slopbuf[];
#define STRBUF_INIT { 0, 0, strbuf_slopbuf }

void strbuf_init(struct strbuf *sb);
/* Frees the buffer and re-initialises sb. */
void strbuf_release(struct strbuf *sb);
/* Returns the buffer (caller frees) and re-initialises sb. */
char *strbuf_detach(struct strbuf *sb, size_t *ret_len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_reset(struct strbuf *sb);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drops trailing whitespace. */
void strbuf_rtrim(struct strbuf *sb);

/* cleanup helper: _cleanup_(strbuf_release) struct strbuf sb = STRBUF_INIT; */
#endif
