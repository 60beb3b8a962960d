/* SPDX-License-Identifier: MIT */
/*
 * The whole-guest verbs: move, clone, snapshot, snapshots, rollback, export
 * (resize is cmd-part.c's, import is install --from disk:). Each parses its
 * arguments, opens the disk (read-only when the verb only reads it), calls
 * one disk_* function, and prints the outcome: a line on standard error, or
 * with --json an object (libsmartcols) on standard output.
 */
#include <getopt.h>
#include <inttypes.h>
#include <libsmartcols/libsmartcols.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "common/macros.h"
#include "common/util.h"

enum { OPT_JSON = 'J', OPT_START = 0x200, OPT_AFTER, OPT_TO, OPT_SIZE, OPT_HOSTNAME, OPT_SEED, OPT_DIR, OPT_ZSTD, OPT_FORCE };

/* A --json result: one table of rows, the columns typed as JSON numbers or strings. */
struct out {
	struct libscols_table *tb;
	bool json;
};

static int out_begin(struct out *o, const char *name, const char *const *cols, const bool *numeric, size_t n, bool json)
{
	o->json = json;
	o->tb = NULL;
	if (!json)
		return 0;
	o->tb = scols_new_table();
	if (!o->tb) {
		log_error("out of memory");
		return -1;
	}
	scols_table_enable_json(o->tb, 1);
	scols_table_set_name(o->tb, name);
	for (size_t i = 0; i < n; i++) {
		struct libscols_column *c = scols_table_new_column(o->tb, cols[i], 0, 0);

		if (c)
			scols_column_set_json_type(c, numeric[i] ? SCOLS_JSON_NUMBER : SCOLS_JSON_STRING);
	}
	return 0;
}

static void out_row(struct out *o, const char *const *vals, size_t n)
{
	struct libscols_line *ln;

	if (!o->tb)
		return;
	ln = scols_table_new_line(o->tb, NULL);
	for (size_t i = 0; ln && i < n; i++)
		scols_line_set_data(ln, i, vals[i] ? vals[i] : "");
}

static void out_end(struct out *o, const char *name)
{
	if (!o->tb)
		return;
	if (scols_table_get_nlines(o->tb))
		scols_print_table(o->tb);
	else
		printf("{\n   \"%s\": []\n}\n", name);
	scols_unref_table(o->tb);
	o->tb = NULL;
}

static char *u64(uint64_t v, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

/* One partition as a JSON row. */
static void out_partition(const char *table, const struct part_info *p, bool json)
{
	static const char *const cols[] = { "nr", "name", "start", "size", "partuuid" };
	static const bool num[] = { true, false, true, true, false };
	char nr[16], st[32], sz[32];
	const char *vals[] = { u64(p->partno, nr, sizeof(nr)), p->name, u64(p->start, st, sizeof(st)),
			       u64(p->size, sz, sizeof(sz)), p->uuid };
	struct out o;

	if (out_begin(&o, table, cols, num, ARRAY_SIZE(cols), json) < 0)
		return;
	out_row(&o, vals, ARRAY_SIZE(vals));
	out_end(&o, table);
}

static int parse_size(const char *verb, const char *s, uint64_t *ret)
{
	if (pb_parse_size(s, ret) < 0 || !*ret)
		return cli_usage_error(verb, "bad size '%s' (a number with K, M, G or T, larger than zero)", s);
	return 0;
}

/* --- move -------------------------------------------------------------------------------- */

int cmd_move(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "start", required_argument, NULL, OPT_START },
		{ "after", required_argument, NULL, OPT_AFTER },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct cli_progress pr = { 0 };
	const char *after = NULL;
	struct part_info p;
	uint64_t start = 0;
	bool json = false, have_start = false;
	char a[32];
	int c, r;

	while ((c = getopt_long(argc, argv, "J" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case OPT_START:
			if (pb_parse_size(optarg, &start) < 0)
				return cli_usage_error("move", "bad offset '%s' (a number with K, M, G or T)", optarg);
			have_start = true;
			break;
		case OPT_AFTER:
			after = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			r = cli_common_option("move", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("move", "expected DISK and NAME (or number)");
	if (have_start == !!after)
		return cli_usage_error("move", "give one of --start OFFSET and --after NAME");
	if (cli_disk_open(argv[optind], 0, &pr, &k))
		return EXIT_FAIL;
	r = disk_move(k, argv[optind + 1], start, after, &p, &err);
	cli_progress_done(&pr);
	if (r < 0)
		return cli_fail(&err);
	log_info("%s: partition %u '%s' is now at %s", argv[optind], p.partno, p.name, pb_format_size(p.start, a, sizeof(a)));
	out_partition("partition", &p, json);
	return EXIT_OK;
}

/* --- clone -------------------------------------------------------------------------------- */

static bool same_file(const char *a, const char *b)
{
	struct stat x, y;

	return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino &&
	       x.st_rdev == y.st_rdev;
}

int cmd_clone(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL, *kt = NULL;
	struct disk_clone_opts o = { 0 };
	struct cli_progress pr = { 0 };
	const char *to = NULL, *seed = NULL;
	struct part_info p;
	bool json = false;
	char a[32];
	int c, r;

	while ((c = getopt_long(argc, argv, "J" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			to = optarg;
			break;
		case OPT_SIZE:
			if (parse_size("clone", optarg, &o.size))
				return EXIT_USAGE;
			break;
		case OPT_HOSTNAME:
			o.hostname = optarg;
			break;
		case OPT_SEED:
			seed = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			r = cli_common_option("clone", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 3)
		return cli_usage_error("clone", "expected DISK, SRC (a guest's name or number) and NEW (a name)");
	if (o.hostname && !fs_hostname_valid(o.hostname))
		return cli_usage_error("clone", "'%s' is not a valid hostname (letters, digits, '-', dots)", o.hostname);
	if (to && same_file(to, argv[optind]))
		to = NULL;
	/* Another disk only reads the source: shared lock on it. */
	if (cli_disk_open(argv[optind], to ? DISK_OPEN_RDONLY : 0, &pr, &k))
		return EXIT_FAIL;
	if (to && cli_disk_open(to, 0, &pr, &kt))
		return EXIT_FAIL;
	if (seed)
		disk_set_seed(kt ? kt : k, seed);
	r = disk_clone(k, argv[optind + 1], kt, argv[optind + 2], &o, &p, &err);
	cli_progress_done(&pr);
	if (r < 0)
		return cli_fail(&err);
	log_info("%s: partition %u '%s' (%s) is a copy of '%s', with its own UUIDs", to ? to : argv[optind], p.partno,
		 p.name, pb_format_size(p.size, a, sizeof(a)), argv[optind + 1]);
	out_partition("partition", &p, json);
	return EXIT_OK;
}

/* --- snapshot, snapshots, rollback ------------------------------------------------------------ */

static void out_snapshots(const char *table, const struct disk_snapshot *v, size_t n, bool json)
{
	static const char *const cols[] = { "file", "created", "size", "data", "format", "partition", "partuuid",
					    "fs_uuid" };
	static const bool num[] = { false, true, true, true, false, false, false, false };
	struct out o;

	if (json) {
		if (out_begin(&o, table, cols, num, ARRAY_SIZE(cols), true) < 0)
			return;
		for (size_t i = 0; i < n; i++) {
			char cr[32], sz[32], da[32];
			const struct fs_snapshot_info *s = &v[i].info;
			const char *vals[] = { v[i].path.buf, u64((uint64_t)s->created, cr, sizeof(cr)),
					       u64(s->size, sz, sizeof(sz)), u64(s->data, da, sizeof(da)),
					       s->zstd ? "zstd" : "raw", s->partition, s->partuuid, s->fs_uuid };

			out_row(&o, vals, ARRAY_SIZE(vals));
		}
		out_end(&o, table);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct fs_snapshot_info *s = &v[i].info;
		time_t t = (time_t)s->created;
		char when[32], a[32], b[32];
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%s  %s UTC  %s (%s of data, %s)\n", v[i].path.buf, when, pb_format_size(s->size, a, sizeof(a)),
		       pb_format_size(s->data, b, sizeof(b)), s->zstd ? "zstd" : "raw");
	}
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "zstd", no_argument, NULL, OPT_ZSTD },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct disk_snapshot_opts o = { 0 };
	struct disk_snapshot s = { .path = STRBUF_INIT };
	struct cli_progress pr = { 0 };
	bool json = false;
	char a[32];
	int c, r;

	while ((c = getopt_long(argc, argv, "J" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			o.to = optarg;
			break;
		case OPT_DIR:
			o.dir = optarg;
			break;
		case OPT_ZSTD:
			o.zstd = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			r = cli_common_option("snapshot", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("snapshot", "expected DISK and NAME (or number)");
	if (o.to && o.dir)
		return cli_usage_error("snapshot", "--to names the file, --dir the folder: not both");
	/* A file named .zst is compressed whether or not --zstd was given. */
	if (o.to && strlen(o.to) > 4 && !strcmp(o.to + strlen(o.to) - 4, ".zst"))
		o.zstd = true;
	if (cli_disk_open(argv[optind], DISK_OPEN_RDONLY, &pr, &k))
		return EXIT_FAIL;
	r = disk_snapshot(k, argv[optind + 1], &o, &s, &err);
	cli_progress_done(&pr);
	if (r < 0) {
		disk_snapshot_release(&s);
		return cli_fail(&err);
	}
	log_info("%s: partition '%s' saved to %s (%s of data)", argv[optind], argv[optind + 1], s.path.buf,
		 pb_format_size(s.info.data, a, sizeof(a)));
	if (json)
		out_snapshots("snapshot", &s, 1, true);
	disk_snapshot_release(&s);
	return EXIT_OK;
}

int cmd_snapshots(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct disk_snapshots l = { 0 };
	const char *dir = NULL;
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "J" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case OPT_DIR:
			dir = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			r = cli_common_option("snapshots", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("snapshots", "expected DISK and NAME (or number)");
	if (cli_disk_open(argv[optind], DISK_OPEN_RDONLY, NULL, &k))
		return EXIT_FAIL;
	if (disk_snapshots(k, argv[optind + 1], dir, &l, &err) < 0)
		return cli_fail(&err);
	out_snapshots("snapshots", l.v, l.n, json);
	if (!json && !l.n)
		log_info("%s: partition '%s': no snapshots", argv[optind], argv[optind + 1]);
	disk_snapshots_release(&l);
	return EXIT_OK;
}

int cmd_rollback(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, OPT_FORCE },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct cli_progress pr = { 0 };
	bool force = false;
	int c, r;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (c == OPT_FORCE) {
			force = true;
			continue;
		}
		r = cli_common_option("rollback", c);
		if (r != CLI_OPT_CONTINUE)
			return r < 0 ? EXIT_USAGE : r;
	}
	if (argc - optind != 3)
		return cli_usage_error("rollback", "expected DISK, NAME (or number) and FILE");
	if (cli_disk_open(argv[optind], 0, &pr, &k))
		return EXIT_FAIL;
	r = disk_rollback(k, argv[optind + 1], argv[optind + 2], force, &err);
	cli_progress_done(&pr);
	if (r < 0)
		return cli_fail(&err);
	log_info("%s: partition '%s' holds %s again", argv[optind], argv[optind + 1], argv[optind + 2]);
	return EXIT_OK;
}

/* --- export -------------------------------------------------------------------------------- */

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_COMMON_LONGOPTS,
		{},
	};
	static const char *const cols[] = { "file", "format", "size" };
	static const bool num[] = { false, false, true };
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct disk_export_opts o = { 0 };
	struct cli_progress pr = { 0 };
	const char *dot;
	bool json = false;
	struct stat st;
	char a[32];
	int c, r;

	while ((c = getopt_long(argc, argv, "J" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case OPT_SIZE:
			if (parse_size("export", optarg, &o.size))
				return EXIT_USAGE;
			break;
		case OPT_SEED:
			o.seed = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			r = cli_common_option("export", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 3)
		return cli_usage_error("export", "expected DISK, NAME (or number) and OUT.img|OUT.qcow2|OUT.vmdk");
	dot = strrchr(argv[optind + 2], '.');
	if (!dot || (strcmp(dot, ".img") && strcmp(dot, ".raw") && strcmp(dot, ".qcow2") && strcmp(dot, ".vmdk")))
		return cli_usage_error("export", "OUT must end in .img, .raw, .qcow2 or .vmdk (the format)");
	if (cli_disk_open(argv[optind], DISK_OPEN_RDONLY, &pr, &k))
		return EXIT_FAIL;
	r = disk_export(k, argv[optind + 1], argv[optind + 2], &o, &err);
	cli_progress_done(&pr);
	if (r < 0)
		return cli_fail(&err);
	if (stat(argv[optind + 2], &st) < 0)
		st.st_size = 0;
	log_info("%s: partition '%s' exported to %s (%s)", argv[optind], argv[optind + 1], argv[optind + 2],
		 pb_format_size((uint64_t)st.st_size, a, sizeof(a)));
	if (json) {
		struct out out;
		char sz[32];
		const char *vals[] = { argv[optind + 2],
				       !strcmp(dot, ".img") || !strcmp(dot, ".raw") ? "raw" : dot + 1,
				       u64((uint64_t)st.st_size, sz, sizeof(sz)) };

		if (out_begin(&out, "export", cols, num, ARRAY_SIZE(cols), true) == 0) {
			out_row(&out, vals, ARRAY_SIZE(vals));
			out_end(&out, "export");
		}
	}
	return EXIT_OK;
}
