/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every partboot library: cleanup attributes in the
 * style of systemd, ARRAY_SIZE, and size units. Header-only on purpose.
 */
#ifndef PARTBOOT_MACROS_H
#define PARTBOOT_MACROS_H

#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>
#include <errno.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define KiB (UINT64_C(1024))
#define MiB (UINT64_C(1024) * KiB)
#define GiB (UINT64_C(1024) * MiB)
#define TiB (UINT64_C(1024) * GiB)

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _malloc_ __attribute__((malloc))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand a cleanup-owned pointer to someone else: returns it and clears the variable. */
#define TAKE_PTR(p)                                                                        \
	({                                                                                  \
		__typeof__(p) _tp = (p);                                                    \
		(p) = NULL;                                                                 \
		_tp;                                                                        \
	})

#define TAKE_FD(fd)                                                                        \
	({                                                                                  \
		int _tfd = (fd);                                                            \
		(fd) = -1;                                                                  \
		_tfd;                                                                       \
	})

/* Define a cleanup function for a type whose free function accepts NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                            \
	static inline void func##p(type *p)                                                 \
	{                                                                                   \
		if (*p)                                                                     \
			func(*p);                                                           \
	}

#endif
