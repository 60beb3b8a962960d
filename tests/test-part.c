/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of part/: the library's behaviour on sparse image files made
 * here (mkdtemp + ftruncate), never the host's disks.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/endian.h"
#include "common/macros.h"
#include "part/part.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s", "/tmp/test-part.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *img_path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", tmpdir, name);
	return p[i];
}

/* A fresh disk with an empty table, opened read-write. */
static struct part_disk *new_disk(const char *name, uint64_t size, enum part_table table, const char *seed)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;
	const char *path = img_path(name);

	unlink(path);
	assert_int_equal(part_disk_open(path, PART_OPEN_CREATE, size, &d, &err), 0);
	assert_int_equal(part_disk_new_table(d, table, seed, &err), 0);
	strbuf_release(&err.msg);
	return d;
}

static void add_ok(struct part_disk *d, const char *name, enum part_type type, uint64_t size)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_spec spec = { .name = name, .type = type, .size = size };
	int r = part_disk_add(d, &spec, NULL, &err);

	if (r < 0)
		fail_msg("add %s: %s", name, pb_err_msg(&err));
	strbuf_release(&err.msg);
}

/* Expect part_disk_add to fail with code and a message containing want. */
static void add_refused(struct part_disk *d, const struct part_spec *spec, int code, const char *want)
{
	struct pb_err err = PB_ERR_INIT;
	size_t before = part_disk_count(d);

	assert_int_equal(part_disk_add(d, spec, NULL, &err), code);
	if (!strstr(pb_err_msg(&err), want))
		fail_msg("message '%s' lacks '%s'", pb_err_msg(&err), want);
	assert_int_equal(part_disk_count(d), before);
	strbuf_release(&err.msg);
}

static void test_part_refuses_overlap(void **state)
{
	struct part_disk *d = new_disk("overlap.img", 64 * MiB, PART_TABLE_GPT, NULL);
	struct part_spec spec = { .name = "b", .type = PART_TYPE_DATA, .size = 4 * MiB, .start = 8 * MiB };

	add_ok(d, "a", PART_TYPE_ROOT, 10 * MiB); /* 1 MiB .. 11 MiB */
	add_refused(d, &spec, -EEXIST, "overlaps partition 1 'a'");
	spec.start = 11 * MiB;
	add_ok(d, "c", PART_TYPE_DATA, 1 * MiB);
	/* resize into the following partition is an overlap too */
	{
		struct pb_err err = PB_ERR_INIT;

		assert_int_equal(part_disk_resize(d, "a", 20 * MiB, 0, &err), -ENOSPC);
		assert_non_null(strstr(pb_err_msg(&err), "overlap partition 2 'c'"));
		strbuf_release(&err.msg);
	}
	part_disk_free(d);
}

static void test_part_move_keeps_the_entry(void **state)
{
	struct part_disk *d = new_disk("move.img", 64 * MiB, PART_TABLE_GPT, NULL);
	struct pb_err err = PB_ERR_INIT;
	struct part_info before, after;

	add_ok(d, "a", PART_TYPE_ROOT, 10 * MiB); /* 1 MiB .. 11 MiB */
	add_ok(d, "b", PART_TYPE_DATA, 10 * MiB); /* 11 MiB .. 21 MiB */
	assert_int_equal(part_disk_find(d, "a", &before, &err), 0);
	assert_int_equal(part_disk_move(d, "a", 30 * MiB, &err), 0);
	assert_int_equal(part_disk_find(d, "a", &after, &err), 0);
	assert_int_equal(after.start, 30 * MiB);
	assert_int_equal(after.size, before.size);
	assert_int_equal(after.partno, before.partno);
	assert_string_equal(after.uuid, before.uuid);
	/* onto b, unaligned, past the end: refused, the entry stays where it is */
	assert_int_equal(part_disk_move(d, "a", 15 * MiB, &err), -EEXIST);
	assert_non_null(strstr(pb_err_msg(&err), "overlaps partition 2 'b'"));
	assert_int_equal(part_disk_move(d, "a", 30 * MiB + 4096, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "not 1 MiB aligned"));
	assert_int_equal(part_disk_move(d, "a", 60 * MiB, &err), -ENOSPC);
	assert_int_equal(part_disk_find(d, "a", &after, &err), 0);
	assert_int_equal(after.start, 30 * MiB);
	/* a move that overlaps its own old place is fine for the table */
	assert_int_equal(part_disk_move(d, "a", 25 * MiB, &err), 0);
	strbuf_release(&err.msg);
	part_disk_free(d);
}

/* On dos partboot keeps names in its record, keyed by the start: the name moves along. */
static void test_part_move_dos_keeps_the_name(void **state)
{
	struct part_disk *d = new_disk("move-dos.img", 64 * MiB, PART_TABLE_DOS, NULL);
	struct pb_err err = PB_ERR_INIT;
	struct part_info p;

	add_ok(d, "deb12", PART_TYPE_ROOT, 10 * MiB);
	assert_int_equal(part_disk_write(d, &err), 0);
	assert_int_equal(part_disk_move(d, "deb12", 40 * MiB, &err), 0);
	assert_int_equal(part_disk_write(d, &err), 0);
	part_disk_free(d);
	d = NULL;
	assert_int_equal(part_disk_open(img_path("move-dos.img"), PART_OPEN_RDONLY, 0, &d, &err), 0);
	assert_int_equal(part_disk_find(d, "deb12", &p, &err), 0);
	assert_int_equal(p.start, 40 * MiB);
	assert_int_equal(p.size, 10 * MiB);
	strbuf_release(&err.msg);
	part_disk_free(d);
}

static void test_part_resize_refusal_names_the_minimum(void **state)
{
	struct part_disk *d = new_disk("min.img", 64 * MiB, PART_TABLE_GPT, NULL);
	struct pb_err err = PB_ERR_INIT;

	add_ok(d, "a", PART_TYPE_ROOT, 20 * MiB);
	assert_int_equal(part_disk_resize(d, "a", 4 * MiB, 12 * MiB, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "4 MiB is below the smallest size its filesystem can take (12 MiB, 12582912 bytes)"));
	strbuf_release(&err.msg);
	part_disk_free(d);
}

static void test_part_refuses_too_big(void **state)
{
	struct part_disk *d = new_disk("big.img", 64 * MiB, PART_TABLE_GPT, NULL);
	struct part_spec spec = { .name = "deb12", .type = PART_TYPE_ROOT, .size = 812 * MiB };

	add_refused(d, &spec, -ENOSPC, "partition 'deb12': 812 MiB requested, largest free space is 62 MiB");
	part_disk_free(d);
}

static void test_part_refuses_zero_size(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_layout *l = NULL;
	const char *path = img_path("zero.conf");
	FILE *f = fopen(path, "w");

	fputs("[partition a]\ntype = root\nsize = 0\n", f);
	fclose(f);
	assert_int_equal(part_layout_parse(path, &l, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "zero.conf:3: size 0"));
	strbuf_release(&err.msg);
}

static void test_part_refuses_unknown_type(void **state)
{
	struct part_disk *d = new_disk("type.img", 64 * MiB, PART_TABLE_GPT, NULL);
	struct part_spec spec = { .name = "x", .type = PART_TYPE_UNKNOWN, .size = MiB };
	enum part_type t;

	assert_int_equal(part_type_from_string("ext4", &t), -EINVAL);
	assert_int_equal(part_type_from_string("bios-boot", &t), 0);
	assert_int_equal(t, PART_TYPE_BIOS_BOOT);
	assert_string_equal(part_type_to_string(PART_TYPE_ROOT), "root");
	add_refused(d, &spec, -EINVAL, "unknown type");
	part_disk_free(d);
}

static void test_part_refuses_duplicate_name(void **state)
{
	struct part_disk *d = new_disk("dup.img", 64 * MiB, PART_TABLE_GPT, NULL);
	struct part_spec spec = { .name = "deb12", .type = PART_TYPE_DATA, .size = MiB };

	add_ok(d, "deb12", PART_TYPE_ROOT, 4 * MiB);
	add_refused(d, &spec, -EEXIST, "partition 'deb12' already exists");
	spec.name = "12";
	add_refused(d, &spec, -EINVAL, "cannot be a number");
	part_disk_free(d);
}

static void test_part_refuses_second_esp(void **state)
{
	struct part_disk *d = new_disk("esp.img", 64 * MiB, PART_TABLE_GPT, NULL);
	struct part_spec spec = { .name = "esp2", .type = PART_TYPE_ESP, .size = MiB };

	add_ok(d, "esp", PART_TYPE_ESP, 8 * MiB);
	add_refused(d, &spec, -EEXIST, "already has an EFI system (esp) partition 1 'esp'");
	part_disk_free(d);

	d = new_disk("dosbios.img", 64 * MiB, PART_TABLE_DOS, NULL);
	spec.name = "bios";
	spec.type = PART_TYPE_BIOS_BOOT;
	add_refused(d, &spec, -EINVAL, "no bios-boot partition on a dos table");
	part_disk_free(d);
}

static void test_part_refuses_too_small_disk(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;
	const char *path = img_path("tiny.img");

	assert_int_equal(part_disk_open(path, PART_OPEN_CREATE, 16 * KiB, &d, &err), 0);
	assert_int_equal(part_disk_new_table(d, PART_TABLE_GPT, NULL, &err), -ENOSPC);
	assert_non_null(strstr(pb_err_msg(&err), "16 KiB is too small for a GPT table"));
	part_disk_free(d);
	strbuf_release(&err.msg);
}

/*
 * Defect 14: sizes within 1 MiB of 2^64 wrapped to 0 when aligned to 1 MiB:
 * add took the rest of the disk, resize wrote an entry ending before it
 * started.
 */
static void test_part_refuses_size_near_2_64(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = new_disk("wrap.img", 64 * MiB, PART_TABLE_GPT, NULL);
	static const uint64_t sizes[] = { UINT64_MAX, UINT64_MAX - MiB + 2, 65 * MiB };
	struct part_info p;

	add_ok(d, "a", PART_TYPE_ROOT, 8 * MiB);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct part_spec spec = { .name = "b", .type = PART_TYPE_DATA, .size = sizes[i] };

		add_refused(d, &spec, -ENOSPC, i < 2 ? "requested, the disk is 64 MiB" : "largest free space is");
		assert_int_equal(part_disk_resize(d, "a", sizes[i], 0, &err), -ENOSPC);
		assert_int_equal(part_disk_find(d, "a", &p, &err), 0);
		assert_int_equal(p.size, 8 * MiB);
	}
	assert_int_equal(part_disk_write(d, &err), 0);
	part_disk_free(d);
	strbuf_release(&err.msg);
}

/* Defect 5: only the open that made the image says so (apply removes only such a file). */
static void test_part_created_only_by_this_open(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;
	const char *path = img_path("made.img");

	unlink(path);
	assert_int_equal(part_disk_open(path, PART_OPEN_CREATE, 8 * MiB, &d, &err), 0);
	assert_true(part_disk_created(d));
	part_disk_free(d);
	assert_int_equal(part_disk_open(path, PART_OPEN_CREATE, 8 * MiB, &d, &err), 0);
	assert_false(part_disk_created(d));
	part_disk_free(d);
	strbuf_release(&err.msg);
}

/* Defect 12: a file shorter than one sector (an empty mktemp file) made libfdisk abort (SIGABRT). */
static void test_part_refuses_disk_smaller_than_a_sector(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;
	const char *path = img_path("empty.img");
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(part_disk_open(path, PART_OPEN_RDONLY, 0, &d, &err), -EINVAL);
	assert_null(d);
	assert_non_null(strstr(pb_err_msg(&err), "0 bytes, smaller than one 512-byte sector: not a disk"));
	assert_int_equal(part_disk_open(path, PART_OPEN_CREATE, 0, &d, &err), -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "give --size"));
	assert_int_equal(truncate(path, 511), 0);
	assert_int_equal(part_disk_open(path, 0, 0, &d, &err), -EINVAL);
	/* with a size to give it, an empty file becomes a disk */
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(part_disk_open(path, PART_OPEN_CREATE, 8 * MiB, &d, &err), 0);
	assert_int_equal(part_disk_size(d), 8 * MiB);
	part_disk_free(d);
	strbuf_release(&err.msg);
}

static void read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "r");
	struct stat st;

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	*ret = malloc((size_t)st.st_size);
	assert_non_null(*ret);
	assert_int_equal(fread(*ret, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	*ret_len = (size_t)st.st_size;
	fclose(f);
}

static void make_seeded(const char *name, enum part_table table, const char *seed)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = new_disk(name, 32 * MiB, table, seed);

	add_ok(d, "esp", PART_TYPE_ESP, 4 * MiB);
	add_ok(d, "deb12", PART_TYPE_ROOT, 8 * MiB);
	add_ok(d, "home", PART_TYPE_DATA, 0);
	assert_int_equal(part_disk_write(d, &err), 0);
	part_disk_free(d);
	strbuf_release(&err.msg);
}

static void test_part_seed_is_deterministic(void **state)
{
	static const enum part_table tables[] = { PART_TABLE_GPT, PART_TABLE_DOS };

	for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
		_cleanup_free_ uint8_t *a = NULL, *b = NULL, *c = NULL;
		size_t la, lb, lc;

		make_seeded("seed1.img", tables[t], "s3cret");
		read_file(img_path("seed1.img"), &a, &la);
		make_seeded("seed2.img", tables[t], "s3cret");
		read_file(img_path("seed2.img"), &b, &lb);
		make_seeded("seed3.img", tables[t], "other");
		read_file(img_path("seed3.img"), &c, &lc);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la);
		assert_memory_not_equal(a, c, la);
	}
}

static void test_part_seed_uuids_follow_names(void **state)
{
	struct part_disk *d1 = new_disk("n1.img", 32 * MiB, PART_TABLE_GPT, "s");
	struct part_disk *d2 = new_disk("n2.img", 32 * MiB, PART_TABLE_GPT, "s");
	struct part_info a, b;

	/* Different order, same names: same UUIDs. */
	add_ok(d1, "x", PART_TYPE_ROOT, MiB);
	add_ok(d1, "y", PART_TYPE_ROOT, MiB);
	add_ok(d2, "y", PART_TYPE_ROOT, MiB);
	add_ok(d2, "x", PART_TYPE_ROOT, MiB);
	assert_int_equal(part_disk_find(d1, "x", &a, NULL), 0);
	assert_int_equal(part_disk_find(d2, "x", &b, NULL), 0);
	assert_string_equal(a.uuid, b.uuid);
	assert_string_equal(part_disk_id(d1), part_disk_id(d2));
	part_disk_free(d1);
	part_disk_free(d2);
}

/* Reopen a disk read-write. */
static struct part_disk *reopen(const char *path)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;

	if (part_disk_open(path, 0, 0, &d, &err) < 0)
		fail_msg("%s", pb_err_msg(&err));
	strbuf_release(&err.msg);
	return d;
}

static void write_ok(struct part_disk *d)
{
	struct pb_err err = PB_ERR_INIT;

	if (part_disk_write(d, &err) < 0)
		fail_msg("%s", pb_err_msg(&err));
	strbuf_release(&err.msg);
}

/* The seed a table was made with stays with the disk: later opens use it. */
static void test_part_seed_is_kept_with_the_disk(void **state)
{
	char path[128], want[37];
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = new_disk("kept.img", 32 * MiB, PART_TABLE_DOS, "kept-seed");
	struct part_disk *ref = new_disk("ref.img", 32 * MiB, PART_TABLE_GPT, "kept-seed");
	struct part_info p;

	snprintf(path, sizeof(path), "%s", img_path("kept.img"));
	add_ok(d, "a", PART_TYPE_ROOT, MiB);
	write_ok(d);
	part_disk_free(d);

	/* a later open starts with the seed, and a partition added then is named from it */
	d = reopen(path);
	assert_non_null(part_disk_seed(d));
	assert_string_equal(part_disk_seed(d), "kept-seed");
	part_disk_free(d);

	/* GPT: the partition UUID of a later `add` without --seed is the seeded one */
	snprintf(path, sizeof(path), "%s", img_path("ref.img"));
	write_ok(ref);
	part_disk_free(ref);
	ref = new_disk("ref2.img", 32 * MiB, PART_TABLE_GPT, "kept-seed");
	add_ok(ref, "x", PART_TYPE_ROOT, MiB);
	assert_int_equal(part_disk_find(ref, "x", &p, NULL), 0);
	snprintf(want, sizeof(want), "%s", p.uuid);
	part_disk_free(ref);
	d = reopen(path);
	add_ok(d, "x", PART_TYPE_ROOT, MiB);
	assert_int_equal(part_disk_find(d, "x", &p, NULL), 0);
	assert_string_equal(p.uuid, want);
	/* --seed on a later command: that command only; the disk keeps its own */
	part_disk_set_seed(d, "other");
	add_ok(d, "y", PART_TYPE_ROOT, MiB);
	write_ok(d);
	part_disk_free(d);
	d = reopen(path);
	assert_string_equal(part_disk_seed(d), "kept-seed");
	part_disk_free(d);

	/* a new table without a seed: the disk has none any more */
	d = reopen(path);
	assert_int_equal(part_disk_new_table(d, PART_TABLE_GPT, NULL, &err), 0);
	write_ok(d);
	part_disk_free(d);
	d = reopen(path);
	assert_null(part_disk_seed(d));
	part_disk_free(d);

	/* a seed the record cannot keep is refused before anything changes */
	d = new_disk("long.img", 32 * MiB, PART_TABLE_GPT, NULL);
	assert_int_equal(part_disk_new_table(d, PART_TABLE_GPT,
					     "0123456789012345678901234567890123456789012345678901234567890123456789", &err),
			 -EINVAL);
	assert_non_null(strstr(pb_err_msg(&err), "cannot be kept with the disk: at most 64 bytes"));
	assert_int_equal(part_disk_new_table(d, PART_TABLE_GPT, "tab\there", &err), -EINVAL);
	part_disk_free(d);
	strbuf_release(&err.msg);
}

/* CRC-32 as zlib computes it, to forge records by hand. */
static uint32_t crc32_ieee(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Write a record block at LBA 2047 of path, fixing its CRC. */
static void put_record(const char *path, uint8_t rec[512])
{
	int fd = open(path, O_WRONLY);

	memset(rec + 16, 0, 4);
	put_le32(rec + 16, crc32_ieee(rec, 512));
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, rec, 512, 2047 * 512), 512);
	close(fd);
}

/*
 * A record as partboot wrote it before seeds were kept (bytes 20-21 zero)
 * still opens, names and labels intact; one whose seed breaks the rules is
 * ignored like a damaged one.
 */
static void test_part_record_without_seed_and_forged(void **state)
{
	char path[128];
	struct part_disk *d = new_disk("old.img", 32 * MiB, PART_TABLE_DOS, NULL);
	uint8_t rec[512] = "PARTBOOT";
	struct part_info p;

	snprintf(path, sizeof(path), "%s", img_path("old.img"));
	add_ok(d, "a", PART_TYPE_ROOT, MiB);
	write_ok(d);
	part_disk_free(d);

	/* version 1, one entry: LBA 2048, type root, name "alpha", label "AL" */
	put_le32(rec + 8, 1);
	put_le32(rec + 12, 1);
	put_le32(rec + 32, 2048);
	rec[40] = (uint8_t)PART_TYPE_ROOT;
	rec[41] = 5;
	rec[42] = 2;
	memcpy(rec + 43, "alphaAL", 7);
	put_record(path, rec);
	d = reopen(path);
	assert_int_equal(part_disk_find(d, "alpha", &p, NULL), 0);
	assert_string_equal(p.label, "AL");
	assert_int_equal(p.type, PART_TYPE_ROOT);
	assert_null(part_disk_seed(d));
	part_disk_free(d);

	/* the same with a seed at the end */
	rec[20] = 1;
	rec[21] = 4;
	memcpy(rec + 508, "abcd", 4);
	put_record(path, rec);
	d = reopen(path);
	assert_string_equal(part_disk_seed(d), "abcd");
	assert_int_equal(part_disk_find(d, "alpha", &p, NULL), 0);
	part_disk_free(d);

	/* a control character in the seed, a seed longer than 64, one over the entries: ignored */
	rec[509] = '\033';
	put_record(path, rec);
	d = reopen(path);
	assert_null(part_disk_seed(d));
	assert_int_not_equal(part_disk_find(d, "alpha", &p, NULL), 0);
	part_disk_free(d);
	rec[509] = 'b';
	rec[21] = 65;
	put_record(path, rec);
	d = reopen(path);
	assert_null(part_disk_seed(d));
	part_disk_free(d);
	/* four entries of 110 bytes end at byte 472, inside a 64-byte seed from 448 */
	memset(rec + 32, 0, 480);
	put_le32(rec + 12, 4);
	for (int i = 0; i < 4; i++) {
		uint8_t *e = rec + 32 + 110 * i;

		put_le32(e, 2048 + 2048 * (uint32_t)i);
		e[8] = (uint8_t)PART_TYPE_ROOT;
		e[9] = 36;
		e[10] = 63;
		memset(e + 11, 'n' + i, 99);
	}
	rec[21] = 64;
	memset(rec + 448, 'z', 64);
	put_record(path, rec);
	d = reopen(path);
	assert_null(part_disk_seed(d));
	assert_int_not_equal(part_disk_find(d, "alpha", &p, NULL), 0);
	part_disk_free(d);
}

static void layout_fails(const char *text, const char *want)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_layout *l = NULL;
	const char *path = img_path("bad.conf");
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	assert_int_equal(part_layout_parse(path, &l, &err), -EINVAL);
	assert_null(l);
	if (!strstr(pb_err_msg(&err), want))
		fail_msg("message '%s' lacks '%s'", pb_err_msg(&err), want);
	strbuf_release(&err.msg);
}

static void test_part_layout_errors_name_the_line(void **state)
{
	layout_fails("[disk]\nsize = 1G\n\n[partitions x]\n", "bad.conf:4: unknown section [partitions x]");
	layout_fails("[disk]\nsize = 1G\ncolour = red\n", "bad.conf:3: unknown key 'colour' in [disk]");
	layout_fails("[partition a]\ntype = root\n# c\nsize = 1M\ntype = data\n",
		     "bad.conf:5: duplicate key 'type' in [partition a] (first on line 2)");
	layout_fails("[partition a]\ntype = root\nsize = 1M\n[partition a]\ntype = root\nsize = 1M\n",
		     "bad.conf:4: duplicate section [partition a] (first on line 1)");
	layout_fails("[partition a]\ntype = rot\nsize = 1M\n", "bad.conf:2: unknown type 'rot'");
	layout_fails("[partition a]\ntype = root\nsize = lots\n", "bad.conf:3: bad size 'lots'");
	layout_fails("[disk]\ntable = gpt\nthis line is junk\n", "bad.conf:3: malformed line");
	layout_fails("[disk]\ntable = gpt\n[partition a]\ntype = ro", "bad.conf:4: truncated");
	layout_fails("[disk]\ntable = gpt\n[partit", "bad.conf:3: truncated");
	layout_fails("[disk]\ntable = gpt\n[partit\n", "bad.conf:3: malformed line");
	layout_fails("[partition a]\ntype = root\n", "bad.conf:1: [partition a] has no size");
	layout_fails("[partition a]\ntype = esp\nsize = 1M\n[partition b]\ntype = esp\nsize = 1M\n",
		     "bad.conf:5: [partition b]: a second esp partition");
	layout_fails("[disk]\ndefault = nope\n[partition a]\ntype = root\nsize = 1M\n",
		     "bad.conf:2: default 'nope' is not a partition");
	layout_fails("[disk]\ntable = dos\n[partition b]\ntype = bios-boot\nsize = 1M\n",
		     "bad.conf:4: [partition b]: no bios-boot partition on a dos table");
	/* bootloader and secure_boot */
	layout_fails("[disk]\nbootloader = grub\n", "bad.conf:2: bad bootloader 'grub' (auto, none, or bios, uefi or both)");
	layout_fails("[disk]\nbootloader = auto, bios\n", "bad.conf:2: bootloader = auto stands alone");
	layout_fails("[disk]\nbootloader = none uefi\n", "bad.conf:2: bootloader = none stands alone");
	layout_fails("[disk]\nbootloader = auto\n[partition a]\ntype = root\nsize = 1M\n",
		     "bad.conf:2: bootloader = auto needs an esp partition");
	layout_fails("[disk]\nsecure_boot = maybe\n", "bad.conf:2: bad secure_boot 'maybe' (yes or no)");
	layout_fails("[disk]\nsecure_boot = yes\nbootloader = bios\n[partition e]\ntype = esp\nsize = 64M\n",
		     "bad.conf:2: secure_boot = yes needs a UEFI bootloader");
	layout_fails("[disk]\nsecure_boot = yes\n[partition a]\ntype = root\nsize = 1M\n",
		     "bad.conf:2: secure_boot = yes needs a UEFI bootloader");
}

/* Without a bootloader key, a layout with an esp gets what `partboot bootloader` would install. */
static void test_part_layout_bootloader_auto(void **state)
{
	static const struct {
		const char *text;
		bool bios, uefi, is_auto, sb;
	} cases[] = {
		/* an esp alone: UEFI */
		{ "[partition e]\ntype = esp\nsize = 64M\n", false, true, true, false },
		/* and a bios-boot partition: both */
		{ "[partition b]\ntype = bios-boot\nsize = 1M\n[partition e]\ntype = esp\nsize = 64M\n", true, true, true,
		  false },
		/* a dos table: BIOS in the gap after the MBR, and UEFI */
		{ "[disk]\ntable = dos\n[partition e]\ntype = esp\nsize = 64M\n", true, true, true, false },
		/* written out: the same */
		{ "[disk]\nbootloader = auto\n[partition e]\ntype = esp\nsize = 64M\n", false, true, true, false },
		/* opted out */
		{ "[disk]\nbootloader = none\n[partition e]\ntype = esp\nsize = 64M\n", false, false, false, false },
		/* no esp: nothing to install */
		{ "[partition a]\ntype = root\nsize = 1M\n", false, false, false, false },
		/* explicit kinds stay as written */
		{ "[disk]\nbootloader = uefi\n[partition b]\ntype = bios-boot\nsize = 1M\n[partition e]\ntype = esp\nsize = 64M\n",
		  false, true, false, false },
		/* Secure Boot with auto, and with uefi */
		{ "[disk]\nsecure_boot = yes\n[partition e]\ntype = esp\nsize = 64M\n", false, true, true, true },
		{ "[disk]\nsecure_boot = yes\nbootloader = bios, uefi\n[partition b]\ntype = bios-boot\nsize = 1M\n"
		  "[partition e]\ntype = esp\nsize = 64M\n",
		  true, true, false, true },
		{ "[disk]\nsecure_boot = no\n[partition e]\ntype = esp\nsize = 64M\n", false, true, true, false },
	};
	const char *path = img_path("auto.conf");

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct pb_err err = PB_ERR_INIT;
		struct part_layout *l = NULL;
		FILE *f = fopen(path, "w");

		fputs(cases[i].text, f);
		fclose(f);
		if (part_layout_parse(path, &l, &err) < 0)
			fail_msg("case %zu: %s", i, pb_err_msg(&err));
		if (l->bios != cases[i].bios || l->uefi != cases[i].uefi || l->bootloader_auto != cases[i].is_auto ||
		    l->secure_boot != cases[i].sb)
			fail_msg("case %zu: bios %d uefi %d auto %d secure_boot %d", i, l->bios, l->uefi, l->bootloader_auto,
				 l->secure_boot);
		part_layout_free(l);
	}
}

/*
 * Defect 15: a line over 199 bytes was cut by inih's buffer and its tail
 * parsed as a line of its own: a long cmdline could smuggle in
 * "hostname = ...". A line that does not fit is refused; one that does is
 * read whole.
 */
static void test_part_layout_refuses_long_lines(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_layout *l = NULL;
	const char *path = img_path("long.conf");
	char text[1024], value[300];
	FILE *f;

	memset(value, 'x', 188);
	value[188] = '\0';
	snprintf(text, sizeof(text), "[partition g]\ntype = root\nsize = 16M\nsource = g.tar\n"
				     "cmdline = %s hostname = evil\n", value);
	layout_fails(text, "bad.conf:5: line longer than 198 bytes");
	/* 198 bytes and the newline: read whole */
	value[198 - strlen("cmdline = ")] = '\0';
	memset(value, 'y', strlen(value));
	snprintf(text, sizeof(text), "[partition g]\ntype = root\nsize = 16M\nsource = g.tar\ncmdline = %s\n", value);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	assert_int_equal(part_layout_parse(path, &l, &err), 0);
	assert_string_equal(l->partitions[0].cmdline, value);
	assert_null(l->partitions[0].hostname);
	part_layout_free(l);
	strbuf_release(&err.msg);
}

static void test_part_layout_parses_everything(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_layout *l = NULL;
	const char *path = img_path("good.conf");
	FILE *f = fopen(path, "w");

	fputs("; comment\n[disk]\nsize = 2G\ntable = dos\nseed = abc\nbootloader = bios,uefi\ndefault = deb12\n\n"
	      "[partition deb12]\ntype = root\nsize = 800M\nlabel = DEB\nfs = ext4\nsource = debian:bookworm\n"
	      "hostname = h\ncmdline = quiet splash\n[partition home]\ntype = data\nsize = rest\n",
	      f);
	fclose(f);
	if (part_layout_parse(path, &l, &err) < 0)
		fail_msg("%s", pb_err_msg(&err));
	assert_int_equal(l->size, 2 * GiB);
	assert_int_equal(l->table, PART_TABLE_DOS);
	assert_string_equal(l->seed, "abc");
	assert_true(l->bios && l->uefi);
	assert_string_equal(l->default_guest, "deb12");
	assert_int_equal(l->n_partitions, 2);
	assert_string_equal(l->partitions[0].cmdline, "quiet splash");
	assert_string_equal(l->partitions[0].source, "debian:bookworm");
	assert_int_equal(l->partitions[0].line, 9);
	assert_int_equal(l->partitions[1].size, 0);
	assert_null(l->partitions[1].label);
	part_layout_free(l);
}

static void test_part_find_by_name_or_number(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = new_disk("find.img", 64 * MiB, PART_TABLE_GPT, NULL);
	struct part_info p;

	add_ok(d, "esp", PART_TYPE_ESP, 4 * MiB);
	add_ok(d, "deb12", PART_TYPE_ROOT, 4 * MiB);
	assert_int_equal(part_disk_find(d, "deb12", &p, &err), 0);
	assert_int_equal(p.partno, 2);
	assert_int_equal(part_disk_find(d, "1", &p, &err), 0);
	assert_string_equal(p.name, "esp");
	assert_int_equal(part_disk_find(d, "7", &p, &err), -ENOENT);
	assert_non_null(strstr(pb_err_msg(&err), "no partition number 7"));
	assert_int_equal(part_disk_find(d, "nope", &p, &err), -ENOENT);
	assert_non_null(strstr(pb_err_msg(&err), "no partition 'nope'"));
	/* a removed number is reused by the next add */
	assert_int_equal(part_disk_remove(d, "1", &err), 0);
	add_ok(d, "new", PART_TYPE_DATA, MiB);
	assert_int_equal(part_disk_find(d, "new", &p, &err), 0);
	assert_int_equal(p.partno, 1);
	part_disk_free(d);
	strbuf_release(&err.msg);
}

static void test_part_dos_names_round_trip(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = new_disk("dos.img", 64 * MiB, PART_TABLE_DOS, "seed");
	struct part_spec spec = { .name = "deb12", .type = PART_TYPE_ROOT, .size = 8 * MiB, .label = "DEB12" };
	struct part_info p;
	uint64_t start, size;

	add_ok(d, "esp", PART_TYPE_ESP, 4 * MiB);
	assert_int_equal(part_disk_add(d, &spec, NULL, &err), 0);
	add_ok(d, "data", PART_TYPE_DATA, 8 * MiB);
	assert_int_equal(part_disk_write(d, &err), 0);
	part_disk_free(d);

	assert_int_equal(part_disk_open(img_path("dos.img"), PART_OPEN_RDONLY, 0, &d, &err), 0);
	assert_int_equal(part_disk_table(d), PART_TABLE_DOS);
	assert_int_equal(part_disk_count(d), 3);
	assert_int_equal(part_disk_find(d, "deb12", &p, &err), 0);
	assert_int_equal(p.partno, 2);
	assert_int_equal(p.type, PART_TYPE_ROOT); /* 0x83, told from data by the record */
	assert_string_equal(p.type_str, "0x83");
	assert_string_equal(p.label, "DEB12");
	assert_int_equal(part_disk_find(d, "data", &p, &err), 0);
	assert_int_equal(p.type, PART_TYPE_DATA);
	/* the MBR gap ends before the record sector (LBA 2047) */
	assert_int_equal(part_disk_embed_area(d, &start, &size, &err), 0);
	assert_int_equal(start, 512);
	assert_int_equal(start + size, 2047 * 512);
	part_disk_free(d);
	strbuf_release(&err.msg);
}

static void test_part_refuses_corrupt_gpt(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = new_disk("corrupt.img", 32 * MiB, PART_TABLE_GPT, "c");
	const char *path = img_path("corrupt.img");
	int fd;

	add_ok(d, "a", PART_TYPE_ROOT, 4 * MiB);
	assert_int_equal(part_disk_write(d, &err), 0);
	part_disk_free(d);
	/* flip a byte of the primary header's disk GUID */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 512 + 60), 1);
	close(fd);
	d = NULL;
	assert_int_equal(part_disk_open(path, 0, 0, &d, &err), -EBADMSG);
	assert_null(d);
	assert_non_null(strstr(pb_err_msg(&err), "corrupt GPT: primary header CRC mismatch"));
	/* --force: libfdisk reads the backup, the next write repairs both */
	assert_int_equal(part_disk_open(path, PART_OPEN_FORCE, 0, &d, &err), 0);
	assert_int_equal(part_disk_count(d), 1);
	assert_int_equal(part_disk_write(d, &err), 0);
	part_disk_free(d);
	assert_int_equal(part_disk_open(path, 0, 0, &d, &err), 0);
	part_disk_free(d);
	strbuf_release(&err.msg);
}

/* The test's own CRC-32 (bit by bit, as the UEFI spec writes it), not part/'s. */
static uint32_t crc32_ref(const uint8_t *p, size_t len)
{
	uint32_t crc = ~0u;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

/*
 * Edit both GPT copies of an image as a crafted disk would be: entry idx's
 * first and last LBA (when first != UINT64_MAX), and the header's entry
 * count and size (when non-zero), with every CRC made valid again.
 */
static void gpt_craft(const char *path, size_t idx, uint64_t first, uint64_t last, uint32_t count, uint32_t esize)
{
	int fd = open(path, O_RDWR);
	off_t size = lseek(fd, 0, SEEK_END);
	uint64_t lbas[2] = { 1, (uint64_t)size / 512 - 1 };

	assert_true(fd >= 0);
	for (int c = 0; c < 2; c++) {
		uint8_t h[512];
		uint64_t ent_lba;
		uint32_t n, esz;
		uint8_t *ents;

		assert_int_equal(pread(fd, h, 512, (off_t)(lbas[c] * 512)), 512);
		ent_lba = pb_le64(h + 72);
		n = pb_le32(h + 80);
		esz = pb_le32(h + 84);
		ents = NULL;
		if (first != UINT64_MAX) {
			ents = calloc(n, esz);
			assert_int_equal(pread(fd, ents, (size_t)n * esz, (off_t)(ent_lba * 512)),
					 (ssize_t)((size_t)n * esz));
			pb_put_le64(ents + idx * esz + 32, first);
			pb_put_le64(ents + idx * esz + 40, last);
			assert_int_equal(pwrite(fd, ents, (size_t)n * esz, (off_t)(ent_lba * 512)),
					 (ssize_t)((size_t)n * esz));
			pb_put_le32(h + 88, crc32_ref(ents, (size_t)n * esz));
		}
		if (count)
			pb_put_le32(h + 80, count);
		if (esize)
			pb_put_le32(h + 84, esize);
		pb_put_le32(h + 16, 0);
		pb_put_le32(h + 16, crc32_ref(h, pb_le32(h + 12)));
		assert_int_equal(pwrite(fd, h, 512, (off_t)(lbas[c] * 512)), 512);
		free(ents);
	}
	close(fd);
}

/*
 * Defect 4: GPT entries with valid CRCs were used as they were: one
 * covering LBA 0 let mkfs destroy the primary GPT, one overlapping another
 * partition let install overwrite that guest. A writer gets such a table
 * refused, naming the partitions; a reader sees it; --force may only
 * replace it.
 */
static void test_part_refuses_entries_outside_or_overlapping(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	const char *path = img_path("crafted.img");
	struct part_disk *d = new_disk("crafted.img", 64 * MiB, PART_TABLE_GPT, "craft");
	uint8_t *before, *after;
	size_t lb, la;

	add_ok(d, "a", PART_TYPE_ROOT, 8 * MiB);
	add_ok(d, "b", PART_TYPE_DATA, 8 * MiB);
	assert_int_equal(part_disk_write(d, &err), 0);
	part_disk_free(d);

	/* 'a' from LBA 0: over the protective MBR and the primary GPT */
	gpt_craft(path, 0, 0, 16383, 0, 0);
	read_file(path, &before, &lb);
	d = NULL;
	assert_int_equal(part_disk_open(path, 0, 0, &d, &err), -EUCLEAN);
	assert_null(d);
	assert_non_null(strstr(pb_err_msg(&err), "partition 1 'a' (sectors 0-16383) lies outside the usable sectors"));
	assert_int_equal(part_disk_open(path, PART_OPEN_RDONLY, 0, &d, &err), 0);
	assert_int_equal(part_disk_count(d), 2);
	part_disk_free(d);
	/* --force opens it, but only a new table is written */
	assert_int_equal(part_disk_open(path, PART_OPEN_FORCE, 0, &d, &err), 0);
	assert_int_equal(part_disk_remove(d, "b", &err), 0);
	assert_int_equal(part_disk_write(d, &err), -EUCLEAN);
	part_disk_free(d);
	read_file(path, &after, &la);
	assert_int_equal(la, lb);
	assert_memory_equal(before, after, lb);
	free(after);

	/* 'a' over 'b': both named */
	gpt_craft(path, 0, 2048, 20479, 0, 0);
	assert_int_equal(part_disk_open(path, 0, 0, &d, &err), -EUCLEAN);
	assert_non_null(strstr(pb_err_msg(&err), "partition 1 'a' (sectors 2048-20479) overlaps partition 2 'b' "
						 "(sectors 18432-34815)"));
	/* an entry ending before it starts */
	gpt_craft(path, 0, 2048, 2000, 0, 0);
	assert_int_equal(part_disk_open(path, 0, 0, &d, &err), -EUCLEAN);
	assert_non_null(strstr(pb_err_msg(&err), "partition 1 ends before it starts"));

	/* init --force: a new table replaces it */
	assert_int_equal(part_disk_open(path, PART_OPEN_FORCE, 0, &d, &err), 0);
	assert_int_equal(part_disk_new_table(d, PART_TABLE_GPT, NULL, &err), 0);
	assert_int_equal(part_disk_write(d, &err), 0);
	part_disk_free(d);
	assert_int_equal(part_disk_open(path, 0, 0, &d, &err), 0);
	part_disk_free(d);
	free(before);
	strbuf_release(&err.msg);
}

/*
 * Defect 17: the GPT entry size was unbounded: 65536 entries of 32 KiB had
 * partboot read and CRC 2 GiB (40 s) before saying anything. The sizes the
 * UEFI spec allows (128 << n, at most 4 KiB here, 8 MiB of entries) are
 * checked before a byte of the array is read.
 */
static void test_part_refuses_gpt_entry_size(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	const char *path = img_path("esize.img");
	struct part_disk *d = new_disk("esize.img", 4ull << 30, PART_TABLE_GPT, "esize");
	static const uint32_t bad[][2] = { { 65536, 32768 }, { 128, 200 }, { 128, 64 }, { 1u << 20, 128 } };

	add_ok(d, "a", PART_TYPE_ROOT, 8 * MiB);
	assert_int_equal(part_disk_write(d, &err), 0);
	part_disk_free(d);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		d = NULL;
		gpt_craft(path, 0, UINT64_MAX, 0, bad[i][0], bad[i][1]);
		assert_int_equal(part_disk_open(path, PART_OPEN_RDONLY, 0, &d, &err), -EBADMSG);
		assert_null(d);
		assert_non_null(strstr(pb_err_msg(&err), i == 3 ? "primary entry array size invalid"
								 : "primary entry size not a power of two from 128 to 4096"));
	}
	strbuf_release(&err.msg);
}

static void test_part_lock_refuses_second_writer(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = new_disk("lock.img", 32 * MiB, PART_TABLE_GPT, NULL), *d2 = NULL;
	struct part_info p;

	assert_int_equal(part_disk_write(d, &err), 0);
	assert_int_equal(part_disk_open(img_path("lock.img"), PART_OPEN_NOWAIT, 0, &d2, &err), -EBUSY);
	assert_non_null(strstr(pb_err_msg(&err), "in use by another partboot"));
	/* partition locks: a second holder of the same range is refused */
	add_ok(d, "a", PART_TYPE_ROOT, 4 * MiB);
	assert_int_equal(part_disk_write(d, &err), 0);
	assert_int_equal(part_disk_find(d, "a", &p, &err), 0);
	assert_int_equal(part_disk_lock_partition(d, &p, &err), 0);
	assert_int_equal(part_disk_unlock(d), 0);
	assert_int_equal(part_disk_open(img_path("lock.img"), PART_OPEN_NOWAIT, 0, &d2, &err), 0);
	assert_int_equal(part_disk_lock_partition(d2, &p, &err), -EBUSY);
	/* the holder is named: this process, through d */
	assert_non_null(strstr(pb_err_msg(&err), "partition 1 'a' is in use by test-part (pid "));
	part_disk_free(d2);
	part_disk_free(d);
	strbuf_release(&err.msg);
}

/*
 * Defect 7: remove, resize, init --force and apply succeeded while a VM
 * runner held the partition (it keeps only its partition lock): the VM kept
 * writing a range the table gave away. Table changes test for such locks
 * and name the holder.
 */
static void test_part_table_changes_refused_while_a_partition_is_locked(void **state)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = new_disk("held.img", 64 * MiB, PART_TABLE_GPT, NULL), *d2 = NULL;
	struct part_info p;

	add_ok(d, "a", PART_TYPE_ROOT, 8 * MiB);
	add_ok(d, "b", PART_TYPE_DATA, 8 * MiB);
	assert_int_equal(part_disk_write(d, &err), 0);
	assert_int_equal(part_disk_find(d, "a", &p, &err), 0);
	/* what vm_prepare() does: lock the partition, let go of the disk */
	assert_int_equal(part_disk_lock_partition(d, &p, &err), 0);
	assert_int_equal(part_disk_unlock(d), 0);

	assert_int_equal(part_disk_open(img_path("held.img"), PART_OPEN_NOWAIT, 0, &d2, &err), 0);
	assert_int_equal(part_disk_remove(d2, "a", &err), -EBUSY);
	assert_non_null(strstr(pb_err_msg(&err), "partition 1 'a' is in use by test-part (pid "));
	assert_int_equal(part_disk_resize(d2, "a", 4 * MiB, 0, &err), -EBUSY);
	assert_int_equal(part_disk_new_table(d2, PART_TABLE_GPT, NULL, &err), -EBUSY);
	assert_non_null(strstr(pb_err_msg(&err), "a partition of it is in use by test-part"));
	/* the other partition is free to change */
	assert_int_equal(part_disk_resize(d2, "b", 16 * MiB, 0, &err), 0);
	assert_int_equal(part_disk_count(d2), 2);
	part_disk_free(d2);

	/* the lock gone, the same changes go through */
	part_disk_unlock_partition(d, &p);
	assert_int_equal(part_disk_open(img_path("held.img"), PART_OPEN_NOWAIT, 0, &d2, &err), 0);
	assert_int_equal(part_disk_remove(d2, "a", &err), 0);
	part_disk_free(d2);
	part_disk_free(d);
	strbuf_release(&err.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_part_refuses_overlap),
		cmocka_unit_test(test_part_refuses_too_big),
		cmocka_unit_test(test_part_move_keeps_the_entry),
		cmocka_unit_test(test_part_move_dos_keeps_the_name),
		cmocka_unit_test(test_part_resize_refusal_names_the_minimum),
		cmocka_unit_test(test_part_refuses_zero_size),
		cmocka_unit_test(test_part_refuses_unknown_type),
		cmocka_unit_test(test_part_refuses_duplicate_name),
		cmocka_unit_test(test_part_refuses_second_esp),
		cmocka_unit_test(test_part_refuses_too_small_disk),
		cmocka_unit_test(test_part_created_only_by_this_open),
		cmocka_unit_test(test_part_refuses_size_near_2_64),
		cmocka_unit_test(test_part_refuses_disk_smaller_than_a_sector),
		cmocka_unit_test(test_part_seed_is_deterministic),
		cmocka_unit_test(test_part_seed_uuids_follow_names),
		cmocka_unit_test(test_part_seed_is_kept_with_the_disk),
		cmocka_unit_test(test_part_record_without_seed_and_forged),
		cmocka_unit_test(test_part_layout_errors_name_the_line),
		cmocka_unit_test(test_part_layout_refuses_long_lines),
		cmocka_unit_test(test_part_layout_bootloader_auto),
		cmocka_unit_test(test_part_layout_parses_everything),
		cmocka_unit_test(test_part_find_by_name_or_number),
		cmocka_unit_test(test_part_dos_names_round_trip),
		cmocka_unit_test(test_part_refuses_corrupt_gpt),
		cmocka_unit_test(test_part_refuses_entries_outside_or_overlapping),
		cmocka_unit_test(test_part_refuses_gpt_entry_size),
		cmocka_unit_test(test_part_lock_refuses_second_writer),
		cmocka_unit_test(test_part_table_changes_refused_while_a_partition_is_locked),
	};

	return cmocka_run_group_tests_name("part", tests, setup_dir, teardown_dir);
}
