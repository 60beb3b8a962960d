/* SPDX-License-Identifier: MIT */
/*
 * grubenv's 1024 bytes as data (boot/grubenv.c): the input's first 1024
 * bytes (padded with '#') are the block, the rest names and values to set,
 * one "name=value" per line. Invariants: a set that succeeds leaves a valid
 * block of 1024 bytes from which the value reads back; a refused set leaves
 * the block as it was; every other variable keeps its value.
 */
#include <errno.h>

#include "boot/boot.h"
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char block[BOOT_GRUBENV_SIZE], before[BOOT_GRUBENV_SIZE];
	size_t n = size < sizeof(block) ? size : sizeof(block);
	const char *p = (const char *)data + n, *end = (const char *)data + size;
	char *v = NULL;

	memset(block, '#', sizeof(block));
	memcpy(block, data, n);
	if (boot_grubenv_check(block) < 0) {
		/* not a block: start from an empty one so the sets below still run */
		boot_grubenv_init(block);
	}
	if (boot_grubenv_get(block, "saved_entry", &v) == 0)
		free(v);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = strndup(p, len), *name, *value;
		char *keep = NULL, *got = NULL;
		int r;

		p += len + (nl != NULL);
		if (!line)
			abort();
		eq = strchr(line, '=');
		name = line;
		value = eq ? line + (eq - line) + 1 : NULL;
		if (eq)
			line[eq - line] = '\0';
		/* another variable, to see it survive the set */
		if (boot_grubenv_get(block, "saved_entry", &keep) < 0)
			keep = NULL;
		memcpy(before, block, sizeof(block));
		r = boot_grubenv_set(block, name, value);
		if (r < 0) {
			fuzz_assert(!memcmp(before, block, sizeof(block)));
		} else {
			fuzz_assert(boot_grubenv_check(block) == 0);
			if (value) {
				fuzz_assert(boot_grubenv_get(block, name, &got) == 0 && !strcmp(got, value));
				free(got);
			} else {
				fuzz_assert(boot_grubenv_get(block, name, &got) == -ENOENT);
			}
			if (keep && strcmp(name, "saved_entry")) {
				fuzz_assert(boot_grubenv_get(block, "saved_entry", &got) == 0 && !strcmp(got, keep));
				free(got);
			}
		}
		free(keep);
		free(line);
	}
	return 0;
}
