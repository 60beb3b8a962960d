/* SPDX-License-Identifier: MIT */
/* The boot verbs: bootloader, default, next, boot (boot/ does the work). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Parse the common options only; returns <0 to go on, else the exit status. */
static int parse_plain(int argc, char **argv, int nargs, const char *what)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		r = cli_common_option(argv[0], opt);
		if (r == CLI_OPT_CONTINUE)
			continue;
		if (r >= 0)
			return r;
		return cli_usage_error(argv[0], "unknown option");
	}
	if (argc - optind != nargs)
		return cli_usage_error(argv[0], "expected %s", what);
	return -1;
}

int cmd_bootloader(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bios", no_argument, NULL, 'B' },
		{ "uefi", no_argument, NULL, 'U' },
		{ "secure-boot", no_argument, NULL, 'S' },
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct pb_err err = PB_ERR_INIT;
	struct disk *k = NULL;
	unsigned flags = 0;
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		switch (opt) {
		case 'B':
			flags |= BOOT_INSTALL_BIOS;
			break;
		case 'U':
			flags |= BOOT_INSTALL_UEFI;
			break;
		case 'S':
			flags |= BOOT_INSTALL_SECURE_BOOT;
			break;
		default:
			r = cli_common_option(argv[0], opt);
			if (r == CLI_OPT_CONTINUE)
				continue;
			if (r >= 0)
				return r;
			return cli_usage_error(argv[0], "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(argv[0], "expected DISK");
	if (cli_disk_open(argv[optind], 0, NULL, &k))
		return EXIT_FAIL;
	r = disk_bootloader_install(k, flags, &err);
	disk_free(k);
	if (r < 0)
		cli_fail(&err);
	else if (flags & BOOT_INSTALL_SECURE_BOOT)
		log_info("%s: GRUB installed (UEFI through Debian's signed shim and GRUB, for Secure Boot)", argv[optind]);
	else
		log_info("%s: GRUB installed", argv[optind]);
	pb_err_clear(&err);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

static int set_entry(int argc, char **argv, bool next)
{
	struct pb_err err = PB_ERR_INIT;
	struct disk *k = NULL;
	int r;

	r = parse_plain(argc, argv, 2, "DISK NAME");
	if (r >= 0)
		return r;
	if (cli_disk_open(argv[optind], 0, NULL, &k))
		return EXIT_FAIL;
	r = next ? boot_set_next(disk_part(k), argv[optind + 1], &err)
		 : boot_set_default(disk_part(k), argv[optind + 1], &err);
	disk_free(k);
	if (r < 0)
		cli_fail(&err);
	pb_err_clear(&err);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

int cmd_default(int argc, char **argv)
{
	return set_entry(argc, argv, false);
}

int cmd_next(int argc, char **argv)
{
	return set_entry(argc, argv, true);
}

int cmd_boot(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "native", no_argument, NULL, 'N' },
		{ "reboot", no_argument, NULL, 'R' },
		{ "kexec", no_argument, NULL, 'K' },
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	enum boot_native_action action = BOOT_NATIVE_NONE;
	struct pb_err err = PB_ERR_INIT;
	struct disk *k = NULL;
	bool native = false;
	int opt, r;

	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		switch (opt) {
		case 'N':
			native = true;
			break;
		case 'R':
		case 'K':
			if (action != BOOT_NATIVE_NONE)
				return cli_usage_error(argv[0], "--reboot and --kexec exclude each other");
			action = opt == 'R' ? BOOT_NATIVE_REBOOT : BOOT_NATIVE_KEXEC;
			break;
		default:
			r = cli_common_option(argv[0], opt);
			if (r == CLI_OPT_CONTINUE)
				continue;
			if (r >= 0)
				return r;
			return cli_usage_error(argv[0], "unknown option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(argv[0], "expected DISK NAME");
	if (!native)
		return cli_usage_error(argv[0], "only --native is supported (for a VM: partboot run)");
	if (action == BOOT_NATIVE_NONE)
		action = BOOT_NATIVE_REBOOT;
	if (geteuid() != 0) {
		pb_err_set(&err, -EPERM, "%s: booting a guest natively needs root", argv[optind]);
		cli_fail(&err);
		pb_err_clear(&err);
		return EXIT_FAIL;
	}
	/* read-only: the running system's disk has mounted partitions (boot/native.c) */
	if (cli_disk_open(argv[optind], DISK_OPEN_RDONLY, NULL, &k))
		return EXIT_FAIL;
	r = disk_boot_native(k, argv[optind + 1], action, &err);
	disk_free(k);
	if (r < 0)
		cli_fail(&err);
	pb_err_clear(&err);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}
