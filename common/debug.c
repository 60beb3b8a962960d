/* SPDX-License-Identifier: MIT */
#include "debug.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	unsigned mask;
} areas[] = {
	{ "part", PB_DEBUG_PART }, { "fs", PB_DEBUG_FS },     { "boot", PB_DEBUG_BOOT }, { "vm", PB_DEBUG_VM },
	{ "disk", PB_DEBUG_DISK }, { "run", PB_DEBUG_RUN },   { "all", PB_DEBUG_ALL },
};

static unsigned parse_mask(const char *s)
{
	unsigned mask = 0;
	char *end;

	if (!s || !*s)
		return 0;
	if (s[0] >= '0' && s[0] <= '9') {
		unsigned long v = strtoul(s, &end, 0);

		return *end ? 0 : (unsigned)v;
	}
	while (*s) {
		size_t len = strcspn(s, ",");
		bool known = false;

		for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++)
			if (strlen(areas[i].name) == len && !strncmp(areas[i].name, s, len)) {
				mask |= areas[i].mask;
				known = true;
			}
		if (!known && len == 4 && !strncmp(s, "help", 4)) {
			fputs("partboot: PARTBOOT_DEBUG takes all, a number, or a list of:", stderr);
			for (size_t i = 0; i + 1 < sizeof(areas) / sizeof(areas[0]); i++)
				fprintf(stderr, " %s", areas[i].name);
			fputc('\n', stderr);
		}
		s += len;
		if (*s == ',')
			s++;
	}
	return mask;
}

unsigned pb_debug_mask(void)
{
	static unsigned mask;
	static bool parsed;

	if (!parsed) {
		mask = parse_mask(getenv("PARTBOOT_DEBUG"));
		parsed = true;
	}
	return mask;
}

void pb_debug_print(unsigned area, const char *fmt, ...)
{
	const char *name = "?";
	va_list ap;

	for (size_t i = 0; i + 1 < sizeof(areas) / sizeof(areas[0]); i++)
		if (areas[i].mask == area)
			name = areas[i].name;
	fprintf(stderr, "partboot: debug: %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
