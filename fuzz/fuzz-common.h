/* SPDX-License-Identifier: MIT */
/*
 * What the libFuzzer harnesses of fuzz/ share (docs/fuzzing.md): scratch
 * files in memory (memfd, named /proc/PID/fd/N so partboot opens them as
 * image files), a template image made once per process, and checks that
 * abort() on a broken invariant, which libFuzzer reports as a crash like
 * any sanitizer finding.
 */
#ifndef PARTBOOT_FUZZ_COMMON_H
#define PARTBOOT_FUZZ_COMMON_H

#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/run.h"

/* An invariant of partboot's: a violation is a finding. */
#define fuzz_assert(cond)                                                                                 \
	do {                                                                                              \
		if (!(cond)) {                                                                            \
			fprintf(stderr, "fuzz: %s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                          \
		}                                                                                         \
	} while (0)

/*
 * A scratch file in memory and the path partboot opens it by:
 * /proc/PID/fd/N, which set-up children (mke2fs, mkfs.fat, mtools) can open
 * too (the descriptor itself is close-on-exec).
 */
struct fuzz_file {
	int fd;
	char path[64];
};

static inline void fuzz_file_init(struct fuzz_file *f, const char *name)
{
	f->fd = memfd_create(name, MFD_CLOEXEC);
	if (f->fd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(f->path, sizeof(f->path), "/proc/%d/fd/%d", (int)getpid(), f->fd);
}

/* Replace the file's contents with data (len bytes), then make it size bytes (0: len). */
static inline void fuzz_file_set(struct fuzz_file *f, const void *data, size_t len, uint64_t size)
{
	if (ftruncate(f->fd, 0) < 0 || ftruncate(f->fd, (off_t)(size ? size : len)) < 0)
		abort();
	if (len && pwrite(f->fd, data, len, 0) != (ssize_t)len)
		abort();
}

static inline void fuzz_pwrite(int fd, const void *data, size_t len, uint64_t off)
{
	if (len && pwrite(fd, data, len, (off_t)off) != (ssize_t)len)
		abort();
}

/* Run a command at set-up time (mke2fs, mkfs.fat, mcopy); abort when it fails. */
static inline void fuzz_run(const char *const argv[])
{
	static const char *const env[] = { "MTOOLS_SKIP_CHECK=1", NULL };
	struct pb_run_opts o = { .envp_extra = env };
	struct pb_err err = PB_ERR_INIT;

	if (pb_run(argv, &o, &err) < 0) {
		fprintf(stderr, "fuzz: set-up: %s\n", pb_err_msg(&err));
		abort();
	}
	pb_err_clear(&err);
}

/* True when [off, off+len) of fd holds only bytes equal to c. */
static inline int fuzz_range_is(int fd, uint64_t off, uint64_t len, unsigned char c)
{
	static unsigned char buf[65536];

	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);

		if (pread(fd, buf, n, (off_t)off) != (ssize_t)n)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (buf[i] != c)
				return 0;
		off += n;
		len -= n;
	}
	return 1;
}

/* Fill [off, off+len) of fd with c. */
static inline void fuzz_fill(int fd, uint64_t off, uint64_t len, unsigned char c)
{
	static unsigned char buf[65536];

	memset(buf, c, sizeof(buf));
	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);

		fuzz_pwrite(fd, buf, n, off);
		off += n;
		len -= n;
	}
}

/*
 * An image kept in memory to put back into a scratch file before each run:
 * only its non-zero 4 KiB blocks are written again, over a file punched
 * empty (a fresh ext4 is mostly holes), so a reset costs what the template
 * holds, not its size.
 */
struct fuzz_template {
	uint8_t *img;
	uint64_t len;
	uint32_t *blocks; /* indexes of the non-zero 4 KiB blocks */
	size_t n_blocks;
};

static inline void fuzz_template_take(struct fuzz_template *t, int fd, uint64_t len)
{
	t->img = malloc(len);
	t->blocks = malloc((len / 4096 + 1) * sizeof(*t->blocks));
	if (!t->img || !t->blocks || pread(fd, t->img, len, 0) != (ssize_t)len)
		abort();
	t->len = len;
	t->n_blocks = 0;
	for (uint64_t b = 0; b < len / 4096; b++) {
		const uint8_t *p = t->img + b * 4096;

		if (p[0] || memcmp(p, p + 1, 4095))
			t->blocks[t->n_blocks++] = (uint32_t)b;
	}
}

/* Put [start, start+len) of the template back (4 KiB aligned); the rest of the file is left alone. */
static inline void fuzz_template_put(const struct fuzz_template *t, int fd, uint64_t start, uint64_t len)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)start, (off_t)len) < 0)
		abort();
	for (size_t i = 0; i < t->n_blocks; i++) {
		uint64_t off = (uint64_t)t->blocks[i] * 4096;

		if (off >= start && off < start + len)
			fuzz_pwrite(fd, t->img + off, 4096, off);
	}
}

/*
 * The guest disk of fuzz-install and fuzz-guest: 8 MiB, GPT, partition 'g'
 * (root, 6 MiB at 1 MiB) holding an empty ext4 made by mke2fs, the rest of
 * the disk filled with 0xa5 so that a write outside the partition shows.
 */
#define FUZZ_GDISK_SIZE (8ull << 20)
#define FUZZ_GPART_START (1ull << 20)
#define FUZZ_GPART_SIZE (6ull << 20)

struct fuzz_gdisk {
	struct fuzz_file disk;
	struct fuzz_template tpl;
};

#endif
