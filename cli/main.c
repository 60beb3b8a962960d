/* SPDX-License-Identifier: MIT */
/*
 * partboot: the verb table and the few things every verb shares (logging,
 * usage errors). Verbs live in cmd-*.c beside the library they drive.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_verbosity = 1;

#define PB_VERSION "0.1"

const struct cli_verb cli_verbs[] = {
	{ "init", cmd_init, "create a disk image and write an empty partition table",
	  "partboot init DISK [--size SIZE] [--table gpt|dos] [--seed STR] [--force]\n"
	  "\n"
	  "  Create DISK as a sparse image file of SIZE when it does not exist, and\n"
	  "  write an empty partition table to it.\n"
	  "\n"
	  "  -s, --size SIZE     size of a new image (K, M, G, T suffixes); required\n"
	  "                      when DISK does not exist\n"
	  "  -t, --table TYPE    gpt (default) or dos\n"
	  "      --seed STR      derive the disk identifier from STR (reproducible)\n"
	  "  -f, --force         replace an existing table\n" },
	{ "add", cmd_add, "add a partition",
	  "partboot add DISK NAME --type TYPE --size SIZE|rest [--label LABEL] [--seed STR]\n"
	  "\n"
	  "  Add partition NAME, 1 MiB aligned, in the first free space that fits.\n"
	  "\n"
	  "  -t, --type TYPE     esp, bios-boot, root, swap or data\n"
	  "  -s, --size SIZE     size with K, M, G, T suffix, or 'rest' for the largest\n"
	  "                      free run\n"
	  "  -L, --label LABEL   filesystem label used when a filesystem is made\n"
	  "      --seed STR      derive the partition UUID from STR and NAME\n" },
	{ "remove", cmd_remove, "remove a partition",
	  "partboot remove DISK NAME|NUMBER\n"
	  "\n"
	  "  Remove a partition from the table. Its data stays on the disk.\n" },
	{ "resize", cmd_resize, "grow or shrink a partition",
	  "partboot resize DISK NAME|NUMBER SIZE\n"
	  "\n"
	  "  Grow into the free space that follows, or shrink the entry (never below\n"
	  "  the filesystem inside). SIZE takes K, M, G, T suffixes, or 'rest'.\n" },
	{ "list", cmd_list, "show the partitions and guests of a disk",
	  "partboot list DISK [--json]\n"
	  "\n"
	  "  Show number, name, type, start, size, partition UUID, filesystem type,\n"
	  "  label and UUID, and for guests the OS and kernels inside.\n"
	  "\n"
	  "  -J, --json          JSON output for scripts\n" },
	{ "apply", cmd_apply, "build a disk from a layout file",
	  "partboot apply DISK LAYOUT [--seed STR] [--force] [--dry-run]\n"
	  "\n"
	  "  Build the partition table (and what the layout asks for inside it) from\n"
	  "  a layout file; see docs/layout.md.\n"
	  "\n"
	  "      --seed STR      derive every identifier from STR (reproducible)\n"
	  "  -f, --force         replace what differs, even when it holds data\n"
	  "  -n, --dry-run       print the plan, write nothing\n" },
	{ "mkfs", cmd_mkfs, "make a filesystem in a partition",
	  "partboot mkfs DISK NAME [--fs ext4|vfat|swap] [--label LABEL] [--seed STR]\n" },
	{ "install", cmd_install, "install a guest into a partition",
	  "partboot install DISK NAME --from SOURCE [--wipe] [--seed STR]\n" },
	{ "ls", cmd_ls, "list a directory of a guest", "partboot ls DISK NAME [PATH]\n" },
	{ "cat", cmd_cat, "print a file of a guest", "partboot cat DISK NAME PATH\n" },
	{ "bootloader", cmd_bootloader, "install GRUB for BIOS and/or UEFI",
	  "partboot bootloader DISK [--bios] [--uefi]\n" },
	{ "default", cmd_default, "choose the guest booted by default", "partboot default DISK NAME\n" },
	{ "next", cmd_next, "choose the guest booted next time only", "partboot next DISK NAME\n" },
	{ "boot", cmd_boot, "boot a guest natively now", "partboot boot DISK NAME --native [--reboot|--kexec]\n" },
	{ "run", cmd_run, "boot a guest in a virtual machine", "partboot run DISK NAME [options]\n" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cli_verb *find_verb(const char *name)
{
	for (const struct cli_verb *v = cli_verbs; v->name; v++)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "partboot: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (cli_verbosity < 1)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (cli_verbosity < 2)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}

int cli_fail(const struct pb_err *err)
{
	log_error("%s", pb_err_msg(err));
	return EXIT_FAIL;
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "partboot %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'partboot %s --help'.\n", verb);
	return EXIT_USAGE;
}

int cli_help(const char *verb)
{
	const struct cli_verb *v = find_verb(verb);

	if (v)
		fputs(v->usage, stdout);
	fputs("\n  -h, --help          show this help\n"
	      "  -v, --verbose       say more\n"
	      "  -q, --quiet         say only errors and warnings\n",
	      stdout);
	return EXIT_OK;
}

bool cli_show_progress(void)
{
	return cli_verbosity >= 1 && isatty(STDERR_FILENO);
}

int cli_common_option(const char *verb, int opt)
{
	switch (opt) {
	case 'h':
		return cli_help(verb);
	case 'v':
		cli_verbosity++;
		return CLI_OPT_CONTINUE;
	case 'q':
		cli_verbosity = 0;
		return CLI_OPT_CONTINUE;
	case '?':
		fprintf(stderr, "Try 'partboot %s --help'.\n", verb);
		return EXIT_USAGE;
	default:
		return -1;
	}
}

static void usage(FILE *f)
{
	fputs("Usage: partboot [-v|-q] VERB [ARGS...]\n"
	      "       partboot VERB --help\n"
	      "\n"
	      "Manage one disk (an image file or a block device) holding several Linux\n"
	      "installs side by side: partitions, filesystems, GRUB entries, VM boots.\n"
	      "\n"
	      "Verbs:\n",
	      f);
	for (const struct cli_verb *v = cli_verbs; v->name; v++)
		fprintf(f, "  %-11s %s\n", v->name, v->summary);
	fputs("\nSee partboot(1) and docs/ for more.\n", f);
}

int main(int argc, char **argv)
{
	const struct cli_verb *v;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			cli_verbosity++;
		} else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
			cli_verbosity = 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("partboot %s\n", PB_VERSION);
			return EXIT_OK;
		} else {
			fprintf(stderr, "partboot: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	v = find_verb(argv[i]);
	if (!v) {
		fprintf(stderr, "partboot: unknown verb '%s'\n", argv[i]);
		usage(stderr);
		return EXIT_USAGE;
	}
	optind = 1;
	return v->run(argc - i, argv + i);
}
