/* SPDX-License-Identifier: MIT */
/* Placeholder until the boot verbs land. */
#include "cli.h"

int cmd_bootloader(int argc, char **argv)
{
	log_error("bootloader: not built yet");
	return EXIT_FAIL;
}

int cmd_default(int argc, char **argv)
{
	log_error("default: not built yet");
	return EXIT_FAIL;
}

int cmd_next(int argc, char **argv)
{
	log_error("next: not built yet");
	return EXIT_FAIL;
}

int cmd_boot(int argc, char **argv)
{
	log_error("boot: not built yet");
	return EXIT_FAIL;
}

