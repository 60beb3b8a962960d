/* SPDX-License-Identifier: MIT */
/* Placeholder until the fs verbs land. */
#include "cli.h"

int cmd_mkfs(int argc, char **argv)
{
	log_error("mkfs: not built yet");
	return EXIT_FAIL;
}

int cmd_install(int argc, char **argv)
{
	log_error("install: not built yet");
	return EXIT_FAIL;
}

int cmd_ls(int argc, char **argv)
{
	log_error("ls: not built yet");
	return EXIT_FAIL;
}

int cmd_cat(int argc, char **argv)
{
	log_error("cat: not built yet");
	return EXIT_FAIL;
}

