/* SPDX-License-Identifier: MIT */
/*
 * The part verbs: init, add, remove, resize, list (apply: cmd-apply.c). Each parses its
 * arguments, validates what it can without the disk, opens (and so locks)
 * the disk, asks part/ to change the table in memory, and writes once.
 */
#include <getopt.h>
#include <inttypes.h>
#include <libsmartcols/libsmartcols.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "common/macros.h"
#include "common/util.h"
#include "boot/boot.h"
#include "fs/fs.h"
#include "part/part.h"

static void part_disk_freep(struct part_disk **d)
{
	part_disk_free(*d);
}
#define _cleanup_disk_ _cleanup_(part_disk_freep)

static void errp(struct pb_err *e)
{
	strbuf_release(&e->msg);
}
#define _cleanup_err_ _cleanup_(errp)

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
	_cleanup_disk_ struct part_disk *d = NULL;
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
	log_info("%s: %s table written (%s, disk id %s)", path, table == PART_TABLE_GPT ? "gpt" : "dos",
		 pb_format_size(part_disk_size(d), a, sizeof(a)), part_disk_id(d));
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
	_cleanup_disk_ struct part_disk *d = NULL;
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
	_cleanup_disk_ struct part_disk *d = NULL;
	struct part_info p;
	int r;

	r = parse_plain("remove", argc, argv);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (argc - optind != 2)
		return cli_usage_error("remove", "expected DISK and NAME (or number)");
	if (part_disk_open(argv[optind], 0, 0, &d, &err) < 0 || part_disk_find(d, argv[optind + 1], &p, &err) < 0 ||
	    part_disk_remove(d, argv[optind + 1], &err) < 0 || part_disk_write(d, &err) < 0)
		return cli_fail(&err);
	log_info("%s: removed partition %u%s%s%s", argv[optind], p.partno, p.name[0] ? " '" : "", p.name,
		 p.name[0] ? "'" : "");
	/* A removed guest leaves the boot menu and grubenv (no-ops without partboot's GRUB). */
	if (boot_menu_refresh(d, &err) < 0 || (p.name[0] && boot_forget_guest(d, p.name, &err) < 0)) {
		pb_err_prefix(&err, err.code, "%s: removed, but the boot menu was not refreshed: ", argv[optind]);
		return cli_fail(&err);
	}
	return EXIT_OK;
}

int cmd_rename(int argc, char **argv)
{
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct part_disk *d = NULL;
	_cleanup_free_ char *def = NULL, *next = NULL;
	struct part_info p;
	int r;

	r = parse_plain("rename", argc, argv);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (argc - optind != 3)
		return cli_usage_error("rename", "expected DISK, NAME (or number) and NEWNAME");
	if (part_disk_open(argv[optind], 0, 0, &d, &err) < 0 || part_disk_find(d, argv[optind + 1], &p, &err) < 0 ||
	    boot_env_read(d, &def, &next, &err) < 0 || part_disk_rename(d, argv[optind + 1], argv[optind + 2], &err) < 0 ||
	    part_disk_write(d, &err) < 0)
		return cli_fail(&err);
	log_info("%s: partition %u '%s' is now '%s'", argv[optind], p.partno, p.name, argv[optind + 2]);

	/* The menu's ids are the names: rewrite it, and keep default and next on this guest. */
	r = boot_menu_refresh(d, &err);
	if (r >= 0 && def && !strcmp(def, p.name))
		r = boot_set_default(d, argv[optind + 2], &err);
	if (r >= 0 && next && !strcmp(next, p.name))
		r = boot_set_next(d, argv[optind + 2], &err);
	if (r < 0) {
		pb_err_prefix(&err, r, "%s: renamed, but the boot menu was not updated: ", argv[optind]);
		return cli_fail(&err);
	}
	return EXIT_OK;
}

/* The smallest size the partition's filesystem allows (0 when it holds none partboot can read). */
static int fs_size_of(struct part_disk *d, const struct part_info *p, uint64_t *ret, struct pb_err *err)
{
	struct fs_target t = { .path = part_disk_path(d), .offset = p->start, .size = p->size, .name = p->name };
	enum fs_kind kind = FS_KIND_NONE;
	struct fs *fs = NULL;
	int r;

	*ret = 0;
	if (fs_probe(&t, &kind, NULL) < 0 || kind != FS_KIND_EXT4)
		return 0;
	r = fs_open(&t, &fs, err);
	if (r >= 0)
		r = fs_min_size(fs, ret, err);
	fs_free(fs);
	return r;
}

int cmd_resize(int argc, char **argv)
{
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct part_disk *d = NULL;
	struct part_info p;
	uint64_t size, min_size = 0;
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
	if (part_disk_open(argv[optind], 0, 0, &d, &err) < 0 || part_disk_find(d, argv[optind + 1], &p, &err) < 0 ||
	    fs_size_of(d, &p, &min_size, &err) < 0 || part_disk_resize(d, argv[optind + 1], size, min_size, &err) < 0 ||
	    part_disk_write(d, &err) < 0 || part_disk_find(d, argv[optind + 1], &p, &err) < 0)
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

/* The guest columns: only ext4 filesystems on root/data partitions are guests. */
static void list_fill_guest(struct part_disk *d, const struct part_info *p, const struct part_probe *pr,
			    struct libscols_line *ln)
{
	struct pb_err err = PB_ERR_INIT;
	struct fs_target t = { .path = part_disk_path(d), .offset = p->start, .size = p->size, .name = p->name };
	struct fs_guest_info gi;
	struct strbuf kernels = STRBUF_INIT;
	struct fs *fs = NULL;

	if (strcmp(pr->fstype, "ext4") || (p->type != PART_TYPE_ROOT && p->type != PART_TYPE_DATA))
		return;
	if (fs_open(&t, &fs, &err) < 0 || fs_guest_info(fs, &gi, &err) < 0) {
		scols_line_set_data(ln, COL_STATE, "unreadable");
		log_debug("%s: partition '%s': %s", part_disk_path(d), p->name, pb_err_msg(&err));
		goto out;
	}
	scols_line_set_data(ln, COL_STATE, gi.complete ? "complete" : "incomplete");
	scols_line_set_data(ln, COL_OS, gi.pretty_name);
	for (size_t i = 0; i < gi.n_kernels; i++)
		strbuf_addf(&kernels, "%s%s", i ? "," : "", gi.kernels[i].version);
	scols_line_set_data(ln, COL_KERNELS, kernels.buf);
out:
	strbuf_release(&kernels);
	fs_free(fs);
	pb_err_clear(&err);
}

/* Fill one row: raw numbers in JSON, sizes for humans otherwise. */
static int list_fill_row(struct part_disk *d, const struct part_info *p, struct libscols_line *ln, bool json,
			 const char *def, const char *next)
{
	struct part_probe pr;
	char buf[64];
	const char *label;

	part_disk_probe(d, p, &pr);
	/* The filesystem's label; before mkfs, the label asked for with --label. */
	label = pr.fstype[0] ? pr.label : p->label;

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
	scols_line_set_data(ln, COL_FSTYPE, pr.fstype);
	scols_line_set_data(ln, COL_LABEL, label);
	scols_line_set_data(ln, COL_UUID, pr.uuid);
	list_fill_guest(d, p, &pr, ln);
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
	_cleanup_disk_ struct part_disk *d = NULL;
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
	if (part_disk_open(argv[optind], PART_OPEN_RDONLY, 0, &d, &err) < 0)
		return cli_fail(&err);
	if (part_disk_table(d) == PART_TABLE_NONE) {
		pb_err_set(&err, -ENOENT, "%s: no partition table (run partboot init first)", argv[optind]);
		return cli_fail(&err);
	}

	/* GRUB's default and next guest; a disk without partboot's GRUB has none. */
	if (boot_env_read(d, &def, &next, &err) < 0) {
		log_debug("%s", pb_err_msg(&err));
		pb_err_clear(&err);
	}

	tb = scols_new_table();
	if (!tb) {
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
	for (size_t i = 0; i < part_disk_count(d); i++) {
		struct libscols_line *ln = scols_table_new_line(tb, NULL);
		struct part_info p;

		if (!ln || part_disk_get(d, i, &p) < 0)
			continue;
		list_fill_row(d, &p, ln, json, def, next);
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
	return EXIT_OK;
}
