/* SPDX-License-Identifier: MIT */
/*
 * The one place that runs child programs (mke2fs, mkfs.fat, mtools,
 * grub-mkimage, qemu, ...) and translates their exit status into -errno.
 * A failing child's stderr is kept for the error message.
 */
#ifndef PARTBOOT_RUN_H
#define PARTBOOT_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "strbuf.h"

struct pb_run_opts {
	const char *const *envp_extra; /* NULL-terminated "K=V" added to the environment (replacing
					* the same names), or NULL */
	const char *stdin_path;        /* file for standard input, NULL = /dev/null */
	struct strbuf *out;            /* pb_run(): captures standard output when non-NULL, else dropped */
	bool pass_stderr;              /* standard error goes to ours (not kept) */
	/*
	 * The child cannot truncate files: truncate(2) and ftruncate(2) fail
	 * with EPERM (a seccomp filter set between fork and exec). For
	 * resize2fs, which truncates a regular file to the new filesystem size
	 * whatever the offset it was given (resize/main.c), and so would cut
	 * off every partition behind the one it resizes.
	 */
	bool deny_truncate;
	/*
	 * Exit statuses besides 0 that mean success, as a bit mask (bit N: exit
	 * N): e2fsck exits 1 when it corrected errors.
	 */
	unsigned accept_exit;
};

/*
 * Run argv[0] (looked up in PATH) with argv, wait for it.
 * Returns 0 when it exited 0 (or a status in opts->accept_exit); -ENOENT when the program is missing (message
 * names it); -EIO for any other failure, with the message
 * "PROGRAM failed (exit N): <last lines of its stderr>".
 * opts may be NULL.
 */
int pb_run(const char *const argv[], const struct pb_run_opts *opts, struct pb_err *err);

/*
 * Streaming mode, for a child that produces a large stream (mmdebstrap
 * writing a tar to standard output): pb_run_start() spawns argv with its
 * standard output on a pipe and returns the pipe's read end in *ret_fd
 * (owned by the caller: close it when done); opts->out is ignored.
 * Standard error goes to an unlinked memory file (so a chatty child never
 * blocks on a full pipe while the caller reads) and is kept for the
 * message, unless opts->pass_stderr. *ret is owned by the caller and must be
 * given to pb_run_finish() or pb_run_abort(). Returns 0 or -errno (-ENOENT
 * when the program is missing), with the same messages as pb_run().
 */
struct pb_child;
int pb_run_start(const char *const argv[], const struct pb_run_opts *opts, struct pb_child **ret, int *ret_fd,
		 struct pb_err *err);

/*
 * Wait for a child started with pb_run_start() and free c. Returns 0 when
 * it exited 0, else -EIO with "PROGRAM failed (exit N): <stderr tail>" (or
 * "killed by signal N"). The caller should read its standard output to the
 * end (or close it) first, or a child blocked on a full pipe never exits.
 */
int pb_run_finish(struct pb_child *c, struct pb_err *err);

/*
 * Stop a child started with pb_run_start() (SIGTERM, then wait) and free
 * it; for a failure on the reading side. Accepts NULL.
 */
void pb_run_abort(struct pb_child *c);

/* True when prog is found in PATH (or is an executable path). */
bool pb_have_program(const char *prog);

#endif
