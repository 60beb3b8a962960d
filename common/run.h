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
	const char *const *envp_extra; /* NULL-terminated "K=V" added to the environment, or NULL */
	const char *stdin_path;        /* file for standard input, NULL = /dev/null */
	struct strbuf *out;            /* captures standard output when non-NULL, else /dev/null */
	bool pass_stdout;              /* standard output goes to ours (overrides out) */
	bool pass_stderr;              /* standard error goes to ours (not kept) */
};

/*
 * Run argv[0] (looked up in PATH) with argv, wait for it.
 * Returns 0 when it exited 0; -ENOENT when the program is missing (message
 * names it); -EIO for any other failure, with the message
 * "PROGRAM failed (exit N): <last lines of its stderr>".
 * opts may be NULL.
 */
int pb_run(const char *const argv[], const struct pb_run_opts *opts, struct pb_err *err);

/* True when prog is found in PATH (or is an executable path). */
bool pb_have_program(const char *prog);

#endif
