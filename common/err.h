/* SPDX-License-Identifier: MIT */
/*
 * Error detail that travels from a library to the program.
 *
 * Library functions return 0 or -errno and, on failure, may fill a caller-owned
 * struct pb_err with one human sentence naming the disk, partition, file and
 * cause ("disk.img: partition 'deb12': 812 MiB needed, 700 MiB free").
 * Libraries never print; the CLI prints err.msg once, where it handles the
 * error. Every function taking a struct pb_err * accepts NULL.
 */
#ifndef PARTBOOT_ERR_H
#define PARTBOOT_ERR_H

#include "strbuf.h"

struct pb_err {
	int code;          /* the -errno that was returned, 0 when unset */
	struct strbuf msg; /* the sentence, without "partboot: " or newline */
};

#define PB_ERR_INIT { 0, STRBUF_INIT }

/*
 * Record an error: replaces any earlier message. code is a negative errno
 * (a positive one is negated). Returns the negative code so callers can write
 * "return pb_err_set(err, -ENOSPC, ...);".
 */
int pb_err_set(struct pb_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Put context in front of an existing message ("disk.img: " + msg); sets a
 * generic strerror() message first if none was recorded. Returns err->code
 * (or code when err is NULL).
 */
int pb_err_prefix(struct pb_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void pb_err_clear(struct pb_err *err);
/* The message, or strerror(-code) when none was recorded. Never NULL. */
const char *pb_err_msg(const struct pb_err *err);

#endif
