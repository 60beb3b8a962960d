/* SPDX-License-Identifier: MIT */
/* Parsing and formatting helpers shared by the libraries and the CLI. */
#ifndef PARTBOOT_UTIL_H
#define PARTBOOT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parse a size: a decimal number with an optional K, M, G or T suffix
 * (powers of 1024; "KiB"/"MiB"/... and "B" accepted too). A bare number is
 * bytes. Returns 0 or -EINVAL / -ERANGE; *ret written only on success.
 */
int pb_parse_size(const char *s, uint64_t *ret);

/* Human-readable size into buf ("812 MiB", "1.5 GiB"). Returns buf. */
char *pb_format_size(uint64_t bytes, char *buf, size_t len);

/*
 * Parse a partition number ("3"): true and *ret set when s is all digits and
 * in 1..max; false otherwise.
 */
bool pb_parse_partno(const char *s, unsigned max, unsigned *ret);

/* SOURCE_DATE_EPOCH when set and valid, else fallback. */
int64_t pb_source_date_epoch(int64_t fallback);

/* 2000-01-01T00:00:00Z: the time a seeded run stamps when SOURCE_DATE_EPOCH is unset. */
#define PB_SEED_EPOCH INT64_C(946684800)

/*
 * The fixed time to stamp, if any: SOURCE_DATE_EPOCH when set; else, for a
 * seeded (reproducible) run, PB_SEED_EPOCH. Returns true and *ret set when
 * the time is fixed, false (the current time is used) otherwise.
 */
bool pb_fixed_time(bool seeded, int64_t *ret);

/*
 * "SOURCE_DATE_EPOCH=N" for a child's environment (pb_run_opts.envp_extra)
 * into buf, so tools that stamp times (mtools, mkfs.fat, mmdebstrap) stamp
 * the fixed one; returns buf.
 */
char *pb_source_date_env(int64_t t, char *buf, size_t len);

#endif
