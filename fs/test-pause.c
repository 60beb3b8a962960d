/* SPDX-License-Identifier: MIT */
/*
 * The test hook that stops an install at a known point, so that
 * tests/e2e/install-kill.sh can kill -9 it there: mkfs.c calls it after
 * clearing the range, install.c after the first entries and after the
 * after-install steps, edit.c around the switch of a replaced file's name. Its own file so that neither caller depends on the
 * other for it.
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
