/* SPDX-License-Identifier: MIT */
/*
 * The part verbs: init, add, remove, rename, resize, list (apply: cmd-apply.c).
 * Each parses its arguments, validates what it can without the disk, and
 * hands the request to part/ (init, add: the table alone) or disk/ (what
 * also keeps the boot menu in step, and the guest model for list).
 */
#include <getopt.h>
#include <inttypes.h>
#include <libsmartcols/libsmartcols.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "common/macros.h"
#include "common/util.h"
#include "disk/disk.h"

static void part_disk_freep(struct part_disk **d)
{
	part_disk_free(*d);
}
#define _cleanup_part_ _cleanup_(part_disk_freep)

/* Parse SIZE or "rest" (0). Zero itself is refused by the caller, with the disk named. */
static int parse_size_arg(const char *verb, const char *s, bool rest_ok, uint64_t *ret)
{
	if (rest_ok && !strcmp(s, "rest")) {
		*ret = 0;
		return 0;
	}
	if (pb_parse_size(s, ret) < 0)
		return cli_usage_error(verb, "bad size '%s' (a number with K, M, G or T%s)", s,
				       rest_ok ? ", or rest" : "");
	return 0;
}

enum { OPT_SEED = 0x100, OPT_START };

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "table", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "force", no_argument, NULL, 'f' },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_part_ struct part_disk *d = NULL;
	enum part_table table = PART_TABLE_GPT;
	const char *seed = NULL, *path;
	uint64_t size = 0;
	bool force = false, existed;
	struct stat st;
	char a[32];
	int c, r;

	while ((c = getopt_long(argc, argv, "s:t:f" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size_arg("init", optarg, false, &size))
				return EXIT_USAGE;
			if (!size)
				return cli_usage_error("init", "--size must be larger than zero");
			break;
		case 't':
			if (!strcmp(optarg, "gpt"))
				table = PART_TABLE_GPT;
			else if (!strcmp(optarg, "dos"))
				table = PART_TABLE_DOS;
			else
				return cli_usage_error("init", "bad table '%s' (gpt or dos)", optarg);
			break;
		case OPT_SEED:
			seed = optarg;
			break;
		case 'f':
			force = true;
			break;
		default:
			r = cli_common_option("init", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("init", "expected one DISK");
	path = argv[optind];
	existed = stat(path, &st) == 0;
	if (!existed && !size)
		return cli_usage_error("init", "%s does not exist; give --size to create it", path);

	r = part_disk_open(path, PART_OPEN_CREATE | (force ? PART_OPEN_FORCE : 0), size, &d, &err);
	if (r >= 0 && part_disk_table(d) != PART_TABLE_NONE && !force)
		r = pb_err_set(&err, -EEXIST, "%s: already has a %s table with %zu partition(s) (--force replaces it)",
			       path, part_disk_table(d) == PART_TABLE_GPT ? "gpt" : "dos", part_disk_count(d));
	if (r >= 0)
		r = part_disk_new_table(d, table, seed, &err);
	if (r >= 0)
		r = part_disk_write(d, &err);
	if (r < 0) {
		/* Do not leave behind an image this call created for nothing. */
		if (!existed && d)
			unlink(path);
		return cli_fail(&err);
	}
	log_info("%s: %s table written (%s, disk id %s%s)", path, table == PART_TABLE_GPT ? "gpt" : "dos",
		 pb_format_size(part_disk_size(d), a, sizeof(a)), part_disk_id(d),
		 seed ? "; the seed is kept: later commands derive from it" : "");
	return EXIT_OK;
}

int cmd_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "label", required_argument, NULL, 'L' },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "start", required_argument, NULL, OPT_START },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_part_ struct part_disk *d = NULL;
	const char *type = NULL, *size_arg = NULL, *seed = NULL;
	struct part_spec spec = { 0 };
	struct part_info p;
	char a[32], b[32];
	int c, r;

	while ((c = getopt_long(argc, argv, "t:s:L:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case 't':
			type = optarg;
			break;
		case 's':
			size_arg = optarg;
			break;
		case 'L':
			spec.label = optarg;
			break;
		case OPT_SEED:
			seed = optarg;
			break;
		case OPT_START:
			if (parse_size_arg("add", optarg, false, &spec.start))
				return EXIT_USAGE;
			break;
		default:
			r = cli_common_option("add", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("add", "expected DISK and NAME");
	if (!type)
		return cli_usage_error("add", "--type is required (esp, bios-boot, root, swap, data)");
	if (!size_arg)
		return cli_usage_error("add", "--size is required (SIZE or rest)");
	spec.name = argv[optind + 1];
	if (parse_size_arg("add", size_arg, true, &spec.size))
		return EXIT_USAGE;
	/* Checked before the disk is opened: nothing to lock for a bad request. */
	if (part_type_from_string(type, &spec.type) < 0) {
		pb_err_set(&err, -EINVAL, "%s: partition '%s': unknown type '%s' (esp, bios-boot, root, swap, data)",
			   argv[optind], spec.name, type);
		return cli_fail(&err);
	}
	if (strcmp(size_arg, "rest") && !spec.size) {
		pb_err_set(&err, -EINVAL, "%s: partition '%s': size 0: a partition needs a size larger than zero",
			   argv[optind], spec.name);
		return cli_fail(&err);
	}

	r = part_disk_open(argv[optind], 0, 0, &d, &err);
	if (r < 0)
		return cli_fail(&err);
	if (seed)
		part_disk_set_seed(d, seed);
	if (part_disk_add(d, &spec, &p, &err) < 0 || part_disk_write(d, &err) < 0)
		return cli_fail(&err);
	log_info("%s: added partition %u '%s' (%s, %s at %s)", argv[optind], p.partno, p.name,
		 part_type_to_string(p.type), pb_format_size(p.size, a, sizeof(a)),
		 pb_format_size(p.start, b, sizeof(b)));
	return EXIT_OK;
}

/* Shared by remove and resize: only the common options. */
static int parse_plain(const char *verb, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_LONGOPTS, {} };
	int c, r;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		r = cli_common_option(verb, c);
		if (r != CLI_OPT_CONTINUE)
			return r < 0 ? EXIT_USAGE : r == EXIT_OK ? -1 : r;
	}
	return 0;
}

int cmd_remove(int argc, char **argv)
{
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct part_info p = { 0 };
	int r;

	r = parse_plain("remove", argc, argv);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (argc - optind != 2)
		return cli_usage_error("remove", "expected DISK and NAME (or number)");
	if (cli_disk_open(argv[optind], 0, NULL, &k))
		return EXIT_FAIL;
	r = disk_remove(k, argv[optind + 1], &p, &err);
	/* removed (the table is written) even when the menu could not follow */
	if (p.partno)
		log_info("%s: removed partition %u%s%s%s", argv[optind], p.partno, p.name[0] ? " '" : "", p.name,
			 p.name[0] ? "'" : "");
	return r < 0 ? cli_fail(&err) : EXIT_OK;
}

int cmd_rename(int argc, char **argv)
{
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct part_info p;
	int r;

	r = parse_plain("rename", argc, argv);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (argc - optind != 3)
		return cli_usage_error("rename", "expected DISK, NAME (or number) and NEWNAME");
	if (cli_disk_open(argv[optind], 0, NULL, &k))
		return EXIT_FAIL;
	if (part_disk_find(disk_part(k), argv[optind + 1], &p, &err) < 0)
		return cli_fail(&err);
	r = disk_rename(k, argv[optind + 1], argv[optind + 2], &err);
	/* renamed (the table is written) even when the menu could not follow */
	if (r >= 0 || part_disk_find(disk_part(k), argv[optind + 2], NULL, NULL) == 0)
		log_info("%s: partition %u '%s' is now '%s'", argv[optind], p.partno, p.name, argv[optind + 2]);
	return r < 0 ? cli_fail(&err) : EXIT_OK;
}

int cmd_resize(int argc, char **argv)
{
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct part_info p;
	uint64_t size;
	char a[32];
	int r;

	r = parse_plain("resize", argc, argv);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (argc - optind != 3)
		return cli_usage_error("resize", "expected DISK, NAME (or number) and SIZE");
	if (parse_size_arg("resize", argv[optind + 2], true, &size))
		return EXIT_USAGE;
	if (strcmp(argv[optind + 2], "rest") && !size) {
		pb_err_set(&err, -EINVAL, "%s: partition '%s': size 0: use remove to delete a partition", argv[optind],
			   argv[optind + 1]);
		return cli_fail(&err);
	}
	if (cli_disk_open(argv[optind], 0, NULL, &k))
		return EXIT_FAIL;
	if (disk_resize(k, argv[optind + 1], size, &p, &err) < 0)
		return cli_fail(&err);
	log_info("%s: partition %u '%s' is now %s", argv[optind], p.partno, p.name,
		 pb_format_size(p.size, a, sizeof(a)));
	return EXIT_OK;
}

/*
 * list: one row per partition. Columns are a table so more can be appended
 * (the lead adds OS, KERNELS, DEFAULT/NEXT from fs/ and boot/: see the
 * EXTENSION POINT markers below).
 */
enum {
	COL_NR,
	COL_NAME,
	COL_TYPE,
	COL_START,
	COL_SIZE,
	COL_PARTUUID,
	COL_FSTYPE,
	COL_LABEL,
	COL_UUID,
	COL_STATE,   /* guests: complete / incomplete (fs/) */
	COL_OS,      /* PRETTY_NAME of the guest (fs/) */
	COL_KERNELS, /* kernel versions in the guest's /boot, newest first (fs/) */
	COL_BOOT,    /* default and/or next in GRUB's environment (boot/) */
	COL_N,
};

static const struct {
	const char *name;
	double width;
	int flags;
	int json_type;
} list_columns[COL_N] = {
	[COL_NR] = { "NR", 2, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[COL_NAME] = { "NAME", 0.1, 0, SCOLS_JSON_STRING },
	[COL_TYPE] = { "TYPE", 0.1, 0, SCOLS_JSON_STRING },
	[COL_START] = { "START", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[COL_SIZE] = { "SIZE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER },
	[COL_PARTUUID] = { "PARTUUID", 36, 0, SCOLS_JSON_STRING },
	[COL_FSTYPE] = { "FSTYPE", 0.1, 0, SCOLS_JSON_STRING },
	[COL_LABEL] = { "LABEL", 0.1, 0, SCOLS_JSON_STRING },
	[COL_UUID] = { "UUID", 36, 0, SCOLS_JSON_STRING },
	[COL_STATE] = { "STATE", 0.1, 0, SCOLS_JSON_STRING },
	[COL_OS] = { "OS", 0.2, SCOLS_FL_TRUNC, SCOLS_JSON_STRING },
	[COL_KERNELS] = { "KERNELS", 0.2, SCOLS_FL_TRUNC, SCOLS_JSON_STRING },
	[COL_BOOT] = { "BOOT", 0.1, 0, SCOLS_JSON_STRING },
};

/* The guest columns, from the guest model. */
static void list_fill_guest(const struct disk_guest *g, struct libscols_line *ln)
{
	struct strbuf kernels = STRBUF_INIT;

	if (g->state == DISK_GUEST_NONE)
		return;
	scols_line_set_data(ln, COL_STATE, disk_guest_state_to_string(g->state));
	if (g->state == DISK_GUEST_UNREADABLE) {
		log_debug("%s", g->why);
		return;
	}
	scols_line_set_data(ln, COL_OS, g->info.pretty_name ? g->info.pretty_name : "");
	for (size_t i = 0; i < g->info.n_kernels; i++)
		strbuf_addf(&kernels, "%s%s", i ? "," : "", g->info.kernels[i].version);
	scols_line_set_data(ln, COL_KERNELS, kernels.buf);
	strbuf_release(&kernels);
}

/* Fill one row: raw numbers in JSON, sizes for humans otherwise. */
static int list_fill_row(const struct disk_guest *g, struct libscols_line *ln, bool json, const char *def,
			 const char *next)
{
	const struct part_info *p = &g->part;
	const struct part_probe *pr = &g->probe;
	char buf[64];
	const char *label;

	/* The filesystem's label; before mkfs, the label asked for with --label. */
	label = pr->fstype[0] ? pr->label : p->label;

	snprintf(buf, sizeof(buf), "%u", p->partno);
	scols_line_set_data(ln, COL_NR, buf);
	scols_line_set_data(ln, COL_NAME, p->name);
	scols_line_set_data(ln, COL_TYPE, p->type == PART_TYPE_UNKNOWN ? p->type_str : part_type_to_string(p->type));
	if (json)
		snprintf(buf, sizeof(buf), "%" PRIu64, p->start);
	else
		pb_format_size(p->start, buf, sizeof(buf));
	scols_line_set_data(ln, COL_START, buf);
	if (json)
		snprintf(buf, sizeof(buf), "%" PRIu64, p->size);
	else
		pb_format_size(p->size, buf, sizeof(buf));
	scols_line_set_data(ln, COL_SIZE, buf);
	scols_line_set_data(ln, COL_PARTUUID, p->uuid);
	scols_line_set_data(ln, COL_FSTYPE, pr->fstype);
	scols_line_set_data(ln, COL_LABEL, label);
	scols_line_set_data(ln, COL_UUID, pr->uuid);
	list_fill_guest(g, ln);
	if (p->name[0]) {
		bool is_def = def && !strcmp(def, p->name), is_next = next && !strcmp(next, p->name);

		scols_line_set_data(ln, COL_BOOT, is_def && is_next ? "default,next" : is_def ? "default" : is_next ? "next" : "");
	}
	return 0;
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct disk_guests gs = { 0 };
	struct part_disk *d;
	struct libscols_table *tb = NULL;
	_cleanup_free_ char *def = NULL, *next = NULL;
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "J" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (c == 'J') {
			json = true;
			continue;
		}
		r = cli_common_option("list", c);
		if (r != CLI_OPT_CONTINUE)
			return r < 0 ? EXIT_USAGE : r;
	}
	if (argc - optind != 1)
		return cli_usage_error("list", "expected one DISK");
	if (cli_disk_open(argv[optind], DISK_OPEN_RDONLY, NULL, &k))
		return EXIT_FAIL;
	d = disk_part(k);
	if (part_disk_table(d) == PART_TABLE_NONE) {
		pb_err_set(&err, -ENOENT, "%s: no partition table (run partboot init first)", argv[optind]);
		return cli_fail(&err);
	}

	/* GRUB's default and next guest; a disk without partboot's GRUB has none. */
	if (boot_env_read(d, &def, &next, &err) < 0) {
		log_debug("%s", pb_err_msg(&err));
		pb_err_clear(&err);
	}

	if (disk_guest_scan(k, &gs, &err) < 0)
		return cli_fail(&err);
	tb = scols_new_table();
	if (!tb) {
		disk_guests_release(&gs);
		pb_err_set(&err, -ENOMEM, "out of memory");
		return cli_fail(&err);
	}
	scols_table_enable_json(tb, json);
	scols_table_set_name(tb, "partitions");
	for (int i = 0; i < COL_N; i++) {
		struct libscols_column *cl = scols_table_new_column(tb, list_columns[i].name, list_columns[i].width,
								     list_columns[i].flags);

		if (cl)
			scols_column_set_json_type(cl, list_columns[i].json_type);
	}
	for (size_t i = 0; i < gs.n; i++) {
		struct libscols_line *ln = scols_table_new_line(tb, NULL);

		if (ln)
			list_fill_row(&gs.v[i], ln, json, def, next);
	}
	/* libsmartcols prints nothing at all for a table without lines. */
	if (!part_disk_count(d))
		fputs(json ? "{\n   \"partitions\": []\n}\n" : "", stdout);
	else
		scols_print_table(tb);
	if (!part_disk_count(d) && !json)
		log_info("%s: %s table, no partitions", argv[optind],
			 part_disk_table(d) == PART_TABLE_GPT ? "gpt" : "dos");
	scols_unref_table(tb);
	disk_guests_release(&gs);
	return EXIT_OK;
}
