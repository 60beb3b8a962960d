/* SPDX-License-Identifier: MIT */
/*
 * The test hook that stops an install at a known point, so that
 * tests/e2e/install-kill.sh can kill -9 it there: mkfs.c calls it after
 * clearing the range, install.c after the first entries and after the
 * after-install steps, entry.c between a directory source's entry read and
 * its data (tests/e2e/hostile-guest.sh swaps the file there), edit.c around
 * the switch of a replaced file's name. Its own file so that no caller
 * depends on another for it.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fs-private.h"

void fs_test_pause(const char *stage)
{
	const char *want = getenv("PARTBOOT_TEST_PAUSE");

	/* Test hook (tests/e2e/install-kill.sh): stop here so the test can kill -9 us at a known point. */
	if (want && !strcmp(want, stage))
		raise(SIGSTOP);
}

void fs_test_pause_at(const char *stage, const char *path)
{
	const char *want = getenv("PARTBOOT_TEST_PAUSE");
	size_t n = strlen(stage);

	/* PARTBOOT_TEST_PAUSE=STAGE:PATH: stop at that entry only. */
	if (want && !strncmp(want, stage, n) && want[n] == ':' && !strcmp(want + n + 1, path))
		raise(SIGSTOP);
}
