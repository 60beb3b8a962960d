/* SPDX-License-Identifier: MIT */
/*
 * partboot apply DISK LAYOUT: a whole disk from a layout file (docs/layout.md).
 * disk/apply.c plans and carries it out; this verb parses the options, prints
 * the plan for --dry-run (as lines, or as JSON with --json) and maps errors
 * to the exit status.
 */
#include <getopt.h>
#include <inttypes.h>
#include <libsmartcols/libsmartcols.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/macros.h"

static void plan_freep(struct disk_plan **p)
{
	disk_plan_free(*p);
}

/* The plan as JSON: {"plan": [{"step": N, "kind": ..., "text": ..., ...}, ...]} through libsmartcols. */
static int print_plan_json(const struct disk_plan *plan)
{
	enum { C_STEP, C_KIND, C_PART, C_TEXT, C_START, C_SIZE, C_TYPE, C_FS, C_SOURCE, C_HOST, C_CMDLINE, C_WIPE,
	       C_PACKAGES, C_ROOT_PW, C_ROOT_PW_FILE, C_USER, C_USER_PW_FILE, C_SSH_KEY, C_FIRSTBOOT, C_CLOUD_INIT,
	       C_META_DATA, C_BOOT, C_GUEST, C_N };
	static const struct {
		const char *name;
		int json_type;
	} cols[C_N] = {
		[C_STEP] = { "step", SCOLS_JSON_NUMBER },     [C_KIND] = { "kind", SCOLS_JSON_STRING },
		[C_PART] = { "partition", SCOLS_JSON_STRING }, [C_TEXT] = { "text", SCOLS_JSON_STRING },
		[C_START] = { "start", SCOLS_JSON_NUMBER },   [C_SIZE] = { "size", SCOLS_JSON_NUMBER },
		[C_TYPE] = { "type", SCOLS_JSON_STRING },     [C_FS] = { "fs", SCOLS_JSON_STRING },
		[C_SOURCE] = { "source", SCOLS_JSON_STRING }, [C_HOST] = { "hostname", SCOLS_JSON_STRING },
		[C_CMDLINE] = { "cmdline", SCOLS_JSON_STRING }, [C_WIPE] = { "wipe", SCOLS_JSON_BOOLEAN },
		[C_PACKAGES] = { "packages", SCOLS_JSON_STRING }, [C_ROOT_PW] = { "root_password", SCOLS_JSON_STRING },
		[C_ROOT_PW_FILE] = { "root_password_file", SCOLS_JSON_STRING }, [C_USER] = { "user", SCOLS_JSON_STRING },
		[C_USER_PW_FILE] = { "user_password_file", SCOLS_JSON_STRING },
		[C_SSH_KEY] = { "ssh_key", SCOLS_JSON_STRING }, [C_FIRSTBOOT] = { "firstboot", SCOLS_JSON_STRING },
		[C_CLOUD_INIT] = { "cloud_init", SCOLS_JSON_STRING }, [C_META_DATA] = { "meta_data", SCOLS_JSON_STRING },
		[C_BOOT] = { "bootloader", SCOLS_JSON_STRING }, [C_GUEST] = { "guest", SCOLS_JSON_STRING },
	};
	struct libscols_table *tb = scols_new_table();
	char buf[64];

	if (!tb)
		return -1;
	scols_table_enable_json(tb, 1);
	scols_table_set_name(tb, "plan");
	for (int i = 0; i < C_N; i++) {
		struct libscols_column *cl = scols_table_new_column(tb, cols[i].name, 0, 0);

		if (cl)
			scols_column_set_json_type(cl, cols[i].json_type);
	}
	for (size_t i = 0; i < disk_plan_count(plan); i++) {
		const struct disk_step *s = disk_plan_step(plan, i);
		struct libscols_line *ln = scols_table_new_line(tb, NULL);
		bool where = s->kind == DISK_STEP_ADD || s->kind == DISK_STEP_KEEP;

		if (!ln)
			continue;
		snprintf(buf, sizeof(buf), "%zu", i + 1);
		scols_line_set_data(ln, C_STEP, buf);
		scols_line_set_data(ln, C_KIND, disk_step_kind_to_string(s->kind));
		scols_line_set_data(ln, C_PART, s->partition);
		scols_line_set_data(ln, C_TEXT, s->text);
		if (where) {
			snprintf(buf, sizeof(buf), "%" PRIu64, s->start);
			scols_line_set_data(ln, C_START, buf);
			snprintf(buf, sizeof(buf), "%" PRIu64, s->size);
			scols_line_set_data(ln, C_SIZE, buf);
			scols_line_set_data(ln, C_TYPE, part_type_to_string(s->type));
		}
		if (s->kind == DISK_STEP_MKFS)
			scols_line_set_data(ln, C_FS, fs_kind_to_string(s->fs));
		if (s->kind == DISK_STEP_INSTALL) {
			scols_line_set_data(ln, C_SOURCE, s->source);
			scols_line_set_data(ln, C_HOST, s->hostname);
			scols_line_set_data(ln, C_CMDLINE, s->cmdline);
			scols_line_set_data(ln, C_WIPE, s->wipe ? "true" : "false");
			scols_line_set_data(ln, C_PACKAGES, s->packages);
		}
		if (s->kind == DISK_STEP_INSTALL && s->customize) {
			/* where each thing comes from, never a password */
			const struct disk_customize_opts *co = s->customize;

			scols_line_set_data(ln, C_ROOT_PW, co->root_password_file ? "file"
							   : co->root_password == DISK_ROOT_PASSWORD_LOCKED ? "locked"
							   : co->root_password == DISK_ROOT_PASSWORD_DISABLED ? "disabled"
													: NULL);
			scols_line_set_data(ln, C_ROOT_PW_FILE, co->root_password_file);
			scols_line_set_data(ln, C_USER, co->user);
			scols_line_set_data(ln, C_USER_PW_FILE, co->user_password_file);
			scols_line_set_data(ln, C_SSH_KEY, co->n_ssh_keys ? co->ssh_keys[0] : NULL);
			scols_line_set_data(ln, C_FIRSTBOOT, co->firstboot);
			scols_line_set_data(ln, C_CLOUD_INIT, co->cloud_init);
			scols_line_set_data(ln, C_META_DATA, co->meta_data);
		}
		if (s->kind == DISK_STEP_BOOTLOADER) {
			snprintf(buf, sizeof(buf), "%s%s%s%s", s->boot_flags & BOOT_INSTALL_BIOS ? "bios" : "",
				 (s->boot_flags & BOOT_INSTALL_BIOS) && (s->boot_flags & BOOT_INSTALL_UEFI) ? "," : "",
				 s->boot_flags & BOOT_INSTALL_UEFI ? "uefi" : "",
				 s->boot_flags & BOOT_INSTALL_SECURE_BOOT ? ",secure-boot" : "");
			scols_line_set_data(ln, C_BOOT, buf);
		}
		if (s->guest)
			scols_line_set_data(ln, C_GUEST, s->guest);
	}
	scols_print_table(tb);
	scols_unref_table(tb);
	return 0;
}

int cmd_apply(int argc, char **argv)
{
	enum { OPT_SEED = 0x100, OPT_JSON };
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "force", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_(plan_freep) struct disk_plan *plan = NULL;
	struct cli_progress pr = { 0 };
	struct disk_diag diag;
	const char *seed = NULL;
	unsigned flags = 0;
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "fn" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case OPT_SEED:
			seed = optarg;
			break;
		case 'f':
			flags |= DISK_APPLY_FORCE;
			break;
		case 'n':
			flags |= DISK_APPLY_DRY_RUN;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			r = cli_common_option("apply", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("apply", "expected DISK and LAYOUT");
	if (json && !(flags & DISK_APPLY_DRY_RUN))
		return cli_usage_error("apply", "--json goes with --dry-run (it prints the plan)");
	if (cli_verbosity > 1)
		flags |= DISK_APPLY_VERBOSE;
	cli_diag(&diag, &pr);

	if (disk_plan_new(argv[optind], argv[optind + 1], seed, flags, &diag, &plan, &err) < 0)
		return cli_fail(&err);
	if (flags & DISK_APPLY_DRY_RUN) {
		if (json)
			return print_plan_json(plan) < 0 ? EXIT_FAIL : EXIT_OK;
		for (size_t i = 0; i < disk_plan_count(plan); i++)
			printf("%s\n", disk_plan_step(plan, i)->text);
		return EXIT_OK;
	}
	r = disk_plan_execute(plan, &err);
	cli_progress_done(&pr);
	return r < 0 ? cli_fail(&err) : EXIT_OK;
}
