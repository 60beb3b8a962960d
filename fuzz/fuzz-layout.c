/* SPDX-License-Identifier: MIT */
/*
 * Layout files: part_layout_parse() on the input as a file, then the parsed
 * layout applied to an empty 256 MiB disk in memory (part_layout_apply()).
 * Invariants: a parsed layout has named partitions with a type and at most
 * one "rest"; applying it writes nothing to the disk.
 */
#include <errno.h>

#include "fuzz-common.h"
#include "part/part.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_file conf, disk;
	static int ready;
	struct pb_err err = PB_ERR_INIT;
	struct part_layout *l = NULL;
	struct part_disk *d = NULL;
	struct stat before, after;

	if (!ready) {
		fuzz_file_init(&conf, "layout.conf");
		fuzz_file_init(&disk, "disk.img");
		ready = 1;
	}
	fuzz_file_set(&conf, data, size, 0);
	if (part_layout_parse(conf.path, &l, &err) < 0) {
		fuzz_assert(err.code < 0 && pb_err_msg(&err)[0]);
		pb_err_clear(&err);
		return 0;
	}
	{
		int rest = 0;

		for (size_t i = 0; i < l->n_partitions; i++) {
			fuzz_assert(l->partitions[i].name && l->partitions[i].name[0]);
			fuzz_assert(l->partitions[i].type != PART_TYPE_UNKNOWN);
			rest += !l->partitions[i].size;
		}
		fuzz_assert(rest <= 1);
	}
	/* a disk of the layout's size when it gives one that fits in memory, else 256 MiB */
	fuzz_file_set(&disk, NULL, 0, l->size && l->size <= (1ull << 40) ? l->size : 256ull << 20);
	if (fstat(disk.fd, &before) < 0)
		abort();
	if (part_disk_open(disk.path, PART_OPEN_NOWAIT, 0, &d, &err) == 0) {
		struct part_layout_steps steps = { 0 };

		part_layout_apply(d, l, NULL, 0, &steps, &err);
		part_layout_steps_release(&steps);
		part_disk_free(d);
	}
	/* the table is applied in memory only: not a byte written */
	if (fstat(disk.fd, &after) < 0)
		abort();
	fuzz_assert(after.st_blocks == before.st_blocks);
	pb_err_clear(&err);
	part_layout_free(l);
	return 0;
}
