/* SPDX-License-Identifier: MIT */
/* The guest disk fuzz-install and fuzz-guest fill (fuzz-common.h): made once, put back before each run. */
#ifndef PARTBOOT_FUZZ_GDISK_H
#define PARTBOOT_FUZZ_GDISK_H

#include "fs/fs.h"
#include "fuzz-common.h"
#include "part/part.h"

static inline void fuzz_gdisk_make(struct fuzz_gdisk *g)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;
	struct part_spec spec = { .name = "g", .type = PART_TYPE_ROOT, .size = FUZZ_GPART_SIZE };
	char off[64], size[32];

	fuzz_file_init(&g->disk, "disk.img");
	fuzz_file_set(&g->disk, NULL, 0, FUZZ_GDISK_SIZE);
	/* a pattern outside the partition (so that a write there shows), then the table over it */
	fuzz_fill(g->disk.fd, 0, FUZZ_GPART_START, 0xa5);
	fuzz_fill(g->disk.fd, FUZZ_GPART_START + FUZZ_GPART_SIZE, FUZZ_GDISK_SIZE - FUZZ_GPART_START - FUZZ_GPART_SIZE,
		  0xa5);
	if (part_disk_open(g->disk.path, PART_OPEN_FORCE, 0, &d, &err) < 0 ||
	    part_disk_new_table(d, PART_TABLE_GPT, "fuzz", &err) < 0 || part_disk_add(d, &spec, NULL, &err) < 0 ||
	    part_disk_write(d, &err) < 0) {
		fprintf(stderr, "fuzz: guest disk: %s\n", pb_err_msg(&err));
		abort();
	}
	part_disk_free(d);
	snprintf(off, sizeof(off), "offset=%llu,nodiscard", FUZZ_GPART_START);
	snprintf(size, sizeof(size), "%lluk", FUZZ_GPART_SIZE / 1024);
	{
		/* what fs_mkfs() makes, minus the child at every run: mke2fs once, here */
		const char *argv[] = { "mke2fs", "-q", "-F", "-t", "ext4", "-b", "1024", "-E", off, "-U",
				       "0a0b0c0d-0000-4000-8000-000000000001", g->disk.path, size, NULL };

		fuzz_run(argv);
	}
	fuzz_template_take(&g->tpl, g->disk.fd, FUZZ_GDISK_SIZE);
}

/* The partition as the template has it (whatever the last run did there); outside is checked, not rewritten. */
static inline void fuzz_gdisk_reset(const struct fuzz_gdisk *g)
{
	fuzz_template_put(&g->tpl, g->disk.fd, FUZZ_GPART_START, FUZZ_GPART_SIZE);
}

static inline struct fs_target fuzz_gdisk_target(const struct fuzz_gdisk *g)
{
	return (struct fs_target){ .path = g->disk.path, .offset = FUZZ_GPART_START, .size = FUZZ_GPART_SIZE,
				   .where = "disk.img: partition 'g'", .name = "g" };
}

/* Every byte outside partition 'g' is the template's. */
static inline void fuzz_gdisk_check_outside(const struct fuzz_gdisk *g)
{
	static uint8_t buf[1 << 20];
	const uint64_t end = FUZZ_GPART_START + FUZZ_GPART_SIZE;

	fuzz_assert(pread(g->disk.fd, buf, FUZZ_GPART_START, 0) == (ssize_t)FUZZ_GPART_START &&
		    !memcmp(buf, g->tpl.img, FUZZ_GPART_START));
	fuzz_assert(pread(g->disk.fd, buf, FUZZ_GDISK_SIZE - end, (off_t)end) == (ssize_t)(FUZZ_GDISK_SIZE - end) &&
		    !memcmp(buf, g->tpl.img + end, FUZZ_GDISK_SIZE - end));
}

#endif
