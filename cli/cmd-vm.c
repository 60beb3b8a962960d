/* SPDX-License-Identifier: MIT */
/* Placeholder until the vm verbs land. */
#include "cli.h"

int cmd_run(int argc, char **argv)
{
	log_error("run: not built yet");
	return EXIT_FAIL;
}

