/* SPDX-License-Identifier: MIT */
/*
 * The partition table as part/ reads it: a 4 MiB disk in memory made by
 * partboot (GPT, three partitions, a labelled one in partboot's record)
 * with the input laid over the three areas a table lives in: the input's
 * first 17 KiB over the protective MBR, the primary header and entries
 * (LBA 0-33), the next 512 bytes over partboot's record (LBA 2047), the
 * rest over the backup entries and header (the last 33 sectors). Then
 * part_disk_open() read-only and read-write (the header and entry checks),
 * the queries, partboot's record decoded on its own, and an edit written
 * back. Invariants: what part_disk_write() wrote opens again, read-write,
 * with the partition it added.
 */
#include <errno.h>

#include "fuzz-common.h"
#include "part/part-private.h"

#define DISK_SIZE (4ull << 20)
#define HEAD_LEN (34 * 512)
#define TAIL_LEN (33 * 512)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_file disk;
static uint8_t head[HEAD_LEN], rec[512], tail[TAIL_LEN];

static void make_template(void)
{
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;
	struct part_spec a = { .name = "esp", .type = PART_TYPE_ESP, .size = 1 << 20 };
	struct part_spec b = { .name = "deb12", .type = PART_TYPE_ROOT, .size = 1 << 20, .label = "root" };

	fuzz_file_init(&disk, "disk.img");
	fuzz_file_set(&disk, NULL, 0, DISK_SIZE);
	if (part_disk_open(disk.path, 0, 0, &d, &err) < 0 || part_disk_new_table(d, PART_TABLE_GPT, "fuzz", &err) < 0 ||
	    part_disk_add(d, &a, NULL, &err) < 0 || part_disk_add(d, &b, NULL, &err) < 0 ||
	    part_disk_write(d, &err) < 0) {
		fprintf(stderr, "fuzz: template: %s\n", pb_err_msg(&err));
		abort();
	}
	part_disk_free(d);
	if (pread(disk.fd, head, sizeof(head), 0) != sizeof(head) ||
	    pread(disk.fd, rec, sizeof(rec), (off_t)part_record_offset(512)) != sizeof(rec) ||
	    pread(disk.fd, tail, sizeof(tail), (off_t)(DISK_SIZE - TAIL_LEN)) != sizeof(tail))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct pb_err err = PB_ERR_INIT;
	struct part_disk *d = NULL;
	size_t n;

	if (!ready) {
		make_template();
		ready = 1;
	}
	/* the template, then the input over its table areas */
	fuzz_file_set(&disk, NULL, 0, DISK_SIZE);
	fuzz_pwrite(disk.fd, head, sizeof(head), 0);
	fuzz_pwrite(disk.fd, rec, sizeof(rec), part_record_offset(512));
	fuzz_pwrite(disk.fd, tail, sizeof(tail), DISK_SIZE - TAIL_LEN);
	n = size < HEAD_LEN ? size : HEAD_LEN;
	fuzz_pwrite(disk.fd, data, n, 0);
	if (size > HEAD_LEN) {
		size_t m = size - HEAD_LEN < 512 ? size - HEAD_LEN : 512;
		struct part_meta *meta = NULL;
		size_t n_meta = 0;
		uint8_t r[512];

		fuzz_pwrite(disk.fd, data + HEAD_LEN, m, part_record_offset(512));
		memcpy(r, rec, sizeof(r));
		memcpy(r, data + HEAD_LEN, m);
		char *seed = NULL;

		if (part_record_decode(r, &meta, &n_meta, &seed) == 0) {
			for (size_t i = 0; i < n_meta; i++)
				fuzz_assert(strlen(meta[i].name) <= PART_NAME_MAX && strlen(meta[i].label) <= PART_LABEL_MAX);
			fuzz_assert(!seed || strlen(seed) <= PART_SEED_MAX);
			free(meta);
			free(seed);
		}
	}
	if (size > HEAD_LEN + 512) {
		size_t m = size - HEAD_LEN - 512 < TAIL_LEN ? size - HEAD_LEN - 512 : TAIL_LEN;

		fuzz_pwrite(disk.fd, data + HEAD_LEN + 512, m, DISK_SIZE - TAIL_LEN);
	}

	if (part_disk_open(disk.path, PART_OPEN_RDONLY | PART_OPEN_NOWAIT, 0, &d, &err) == 0) {
		struct part_info p;

		for (size_t i = 0; i < part_disk_count(d); i++) {
			struct part_probe pr;

			if (part_disk_get(d, i, &p) < 0)
				abort();
			fuzz_assert(p.partno >= 1 && strlen(p.name) < sizeof(p.name));
			part_disk_probe(d, &p, &pr);
		}
		part_disk_find(d, "1", &p, &err);
		part_disk_find(d, "deb12", &p, &err);
		part_disk_free(d);
		d = NULL;
	}
	pb_err_clear(&err);

	/* read-write: the entries are checked; an edit written must be read back whole */
	if (part_disk_open(disk.path, PART_OPEN_NOWAIT, 0, &d, &err) == 0) {
		struct part_spec c = { .name = "fuzzed", .type = PART_TYPE_DATA, .size = 1 << 20 };
		int added = part_disk_add(d, &c, NULL, &err) == 0;
		int wrote = part_disk_write(d, &err) == 0;

		part_disk_free(d);
		d = NULL;
		pb_err_clear(&err);
		if (added && wrote) {
			struct part_info p;

			fuzz_assert(part_disk_open(disk.path, PART_OPEN_NOWAIT, 0, &d, &err) == 0);
			fuzz_assert(part_disk_find(d, "fuzzed", &p, &err) == 0);
			part_disk_free(d);
		}
	}
	pb_err_clear(&err);
	return 0;
}
