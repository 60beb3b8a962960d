/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int pb_parse_size(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{ "", 0 },     { "B", 0 },    { "K", 10 },   { "KB", 10 },  { "KIB", 10 },
		{ "M", 20 },   { "MB", 20 },  { "MIB", 20 }, { "G", 30 },   { "GB", 30 },
		{ "GIB", 30 }, { "T", 40 },   { "TB", 40 },  { "TIB", 40 },
	};
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix))
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return -ERANGE;
		*ret = (uint64_t)v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

char *pb_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const names[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned i = 0;
	uint64_t unit = 1;

	while (i + 1 < sizeof(names) / sizeof(names[0]) && bytes >= unit * 1024) {
		unit *= 1024;
		i++;
	}
	if (bytes % unit == 0)
		snprintf(buf, len, "%" PRIu64 " %s", bytes / unit, names[i]);
	else
		snprintf(buf, len, "%.1f %s", (double)bytes / (double)unit, names[i]);
	return buf;
}

bool pb_parse_partno(const char *s, unsigned max, unsigned *ret)
{
	unsigned long v;
	char *end;

	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || v < 1 || v > max)
		return false;
	*ret = (unsigned)v;
	return true;
}

int64_t pb_source_date_epoch(int64_t fallback)
{
	const char *e = getenv("SOURCE_DATE_EPOCH");
	long long v;
	char *end;

	if (!e || !*e)
		return fallback;
	errno = 0;
	v = strtoll(e, &end, 10);
	if (errno || *end || v < 0)
		return fallback;
	return v;
}

bool pb_fixed_time(bool seeded, int64_t *ret)
{
	int64_t t = pb_source_date_epoch(-1);

	if (t < 0 && !seeded)
		return false;
	*ret = t < 0 ? PB_SEED_EPOCH : t;
	return true;
}

char *pb_source_date_env(int64_t t, char *buf, size_t len)
{
	snprintf(buf, len, "SOURCE_DATE_EPOCH=%" PRId64, t);
	return buf;
}
