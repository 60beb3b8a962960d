/* SPDX-License-Identifier: MIT */
/* Placeholder until the part verbs land. */
#include "cli.h"

int cmd_init(int argc, char **argv)
{
	log_error("init: not built yet");
	return EXIT_FAIL;
}

int cmd_add(int argc, char **argv)
{
	log_error("add: not built yet");
	return EXIT_FAIL;
}

int cmd_remove(int argc, char **argv)
{
	log_error("remove: not built yet");
	return EXIT_FAIL;
}

int cmd_resize(int argc, char **argv)
{
	log_error("resize: not built yet");
	return EXIT_FAIL;
}

int cmd_list(int argc, char **argv)
{
	log_error("list: not built yet");
	return EXIT_FAIL;
}

int cmd_apply(int argc, char **argv)
{
	log_error("apply: not built yet");
	return EXIT_FAIL;
}

