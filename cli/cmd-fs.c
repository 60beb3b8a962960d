/* SPDX-License-Identifier: MIT */
/*
 * The fs verbs: mkfs, install, adopt, ls, cat. Each parses its arguments and
 * hands the request to disk/, which keeps the boot menu in step (mkfs,
 * install, adopt) or opens the partition's filesystem read-only (ls, cat).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/alloc.h"
#include "common/macros.h"
#include "common/util.h"

/* --- mkfs ----------------------------------------------------------------------- */

int cmd_mkfs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fs", required_argument, NULL, 't' },
		{ "label", required_argument, NULL, 'L' },
		{ "seed", required_argument, NULL, 'S' },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	enum fs_kind kind = FS_KIND_NONE, made = FS_KIND_NONE;
	const char *kind_arg = NULL, *label = NULL, *seed = NULL;
	struct part_info p;
	int c, r;

	while ((c = getopt_long(argc, argv, "t:L:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case 't':
			kind_arg = optarg;
			break;
		case 'L':
			label = optarg;
			break;
		case 'S':
			seed = optarg;
			break;
		default:
			r = cli_common_option("mkfs", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("mkfs", "expected DISK and NAME");
	if (kind_arg && (fs_kind_from_string(kind_arg, &kind) < 0 || kind == FS_KIND_NONE))
		return cli_usage_error("mkfs", "unknown filesystem '%s' (ext4, vfat or swap)", kind_arg);

	if (cli_disk_open(argv[optind], 0, NULL, &k))
		return EXIT_FAIL;
	if (seed)
		disk_set_seed(k, seed);
	r = disk_mkfs(k, argv[optind + 1], kind, label, &made, &err);
	if (made != FS_KIND_NONE && part_disk_find(disk_part(k), argv[optind + 1], &p, NULL) == 0) {
		if (!label && p.label[0])
			label = p.label;
		log_info("%s: partition '%s': made %s%s%s", argv[optind], p.name[0] ? p.name : argv[optind + 1],
			 fs_kind_to_string(made), label ? " labelled " : "", label ? label : "");
	}
	return r < 0 ? cli_fail(&err) : EXIT_OK;
}

/* --- install -------------------------------------------------------------------- */

int cli_install_run(const char *disk, const char *name, const struct disk_install_opts *o, const char *seed)
{
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct disk_install_result res = DISK_INSTALL_RESULT_INIT;
	struct cli_progress pr = { .want_status = o->via_vm && o->vm && !o->vm->interactive };
	int r;

	struct cli_tty tty = { 0 };

	if (cli_disk_open(disk, 0, &pr, &k))
		return EXIT_FAIL;
	if (seed)
		disk_set_seed(k, seed);
	if (o->customize)
		cli_password_tty_begin(o->customize, &tty);
	r = disk_install(k, name, o, &res, &err);
	cli_password_tty_end(&tty);
	cli_progress_done(&pr);
	if (r >= 0) {
		struct part_info p;

		if (!o->via_vm && part_disk_find(disk_part(k), name, &p, NULL) == 0 && p.name[0])
			name = p.name;
		log_info("%s: partition '%s': installed %s %s", disk, name, o->via_vm ? "through" : "from", res.from.buf);
	}
	disk_install_result_release(&res);
	return r < 0 ? cli_fail(&err) : EXIT_OK;
}

int cmd_install(int argc, char **argv)
{
	enum { OPT_MIRROR = 0x100, OPT_NO_KERNEL, OPT_DEB_CACHE, OPT_CMDLINE, OPT_HOSTNAME, OPT_PACKAGES };
	static const struct option opts[] = {
		CLI_CUSTOMIZE_LONGOPTS,
		{ "packages", required_argument, NULL, OPT_PACKAGES },
		{ "from", required_argument, NULL, 'f' },
		{ "wipe", no_argument, NULL, 'w' },
		{ "label", required_argument, NULL, 'L' },
		{ "seed", required_argument, NULL, 'S' },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "mirror", required_argument, NULL, OPT_MIRROR },
		{ "no-kernel", no_argument, NULL, OPT_NO_KERNEL },
		{ "deb-cache", required_argument, NULL, OPT_DEB_CACHE },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	struct disk_install_opts io = { 0 };
	struct cli_customize cc = { 0 };
	const char *seed = NULL;
	int c, r;

	/* --via-vm SRC [--answers FILE]: an OS installer in a VM does the install (cli/cmd-vm.c). */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--via-vm") || !strncmp(argv[i], "--via-vm=", 9))
			return cmd_install_via_vm(argc, argv);
	while ((c = getopt_long(argc, argv, "f:wL:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			io.source = optarg;
			break;
		case 'w':
			io.wipe = true;
			break;
		case 'L':
			io.label = optarg;
			break;
		case 'S':
			seed = optarg;
			break;
		case OPT_HOSTNAME:
			io.hostname = optarg;
			break;
		case OPT_CMDLINE:
			io.cmdline = optarg;
			break;
		case OPT_MIRROR:
			io.mirror = optarg;
			break;
		case OPT_NO_KERNEL:
			io.no_kernel = true;
			break;
		case OPT_DEB_CACHE:
			io.deb_cache = optarg;
			break;
		case OPT_PACKAGES:
			io.packages = optarg;
			break;
		default:
			r = cli_customize_option("install", c, optarg, &cc);
			if (r == 1)
				break;
			if (r)
				return r;
			r = cli_common_option("install", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("install", "expected DISK and NAME");
	if (!io.source)
		return cli_usage_error("install", "--from SOURCE is required (a tar archive, '-' or a directory)");
	io.verbose = cli_verbosity > 1;
	io.source_fd = STDIN_FILENO;
	cc.o.password_fd = STDIN_FILENO;
	io.customize = &cc.o;
	/* A request that cannot work is a usage error, before the disk is opened. */
	if (disk_install_check(&io, &err) < 0)
		return cli_usage_error("install", "%s", pb_err_msg(&err));
	return cli_install_run(argv[optind], argv[optind + 1], &io, seed);
}

/* --- ls and cat ------------------------------------------------------------------- */

static inline void fs_freep(struct fs **fs)
{
	fs_free(*fs);
}
#define _cleanup_fs_ _cleanup_(fs_freep)

struct ls_entry {
	char *name, *link;
	char type;
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t mtime;
};

struct ls_list {
	struct ls_entry *v;
	size_t n, alloc;
};

static int ls_collect(const struct fs_dirent *e, void *userdata)
{
	struct ls_list *l = userdata;
	struct ls_entry *x;

	if (l->n == l->alloc) {
		size_t na = l->alloc ? l->alloc * 2 : 64;
		struct ls_entry *v = xreallocarray(l->v, na, sizeof(*v));

		l->v = v;
		l->alloc = na;
	}
	x = &l->v[l->n];
	x->name = xstrdup(e->name);
	x->link = e->link ? xstrdup(e->link) : NULL;
	x->type = e->type;
	x->mode = e->mode;
	x->uid = e->uid;
	x->gid = e->gid;
	x->size = e->size;
	x->mtime = e->mtime;
	l->n++;
	return 0;
}

static int cmp_ls(const void *a, const void *b)
{
	return strcmp(((const struct ls_entry *)a)->name, ((const struct ls_entry *)b)->name);
}

static void print_long(const struct ls_entry *e)
{
	static const char rwx[] = "rwxrwxrwx";
	char perm[11], when[32];
	time_t t = (time_t)e->mtime;
	struct tm tm;

	perm[0] = e->type == 'f' ? '-' : e->type;
	for (int i = 0; i < 9; i++)
		perm[1 + i] = e->mode & (0400u >> i) ? rwx[i] : '-';
	if (e->mode & 04000)
		perm[3] = perm[3] == 'x' ? 's' : 'S';
	if (e->mode & 02000)
		perm[6] = perm[6] == 'x' ? 's' : 'S';
	if (e->mode & 01000)
		perm[9] = perm[9] == 'x' ? 't' : 'T';
	perm[10] = '\0';
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	printf("%s %5" PRIu32 " %5" PRIu32 " %12" PRIu64 " %s %s%s%s\n", perm, e->uid, e->gid, e->size, when, e->name,
	       e->link ? " -> " : "", e->link ? e->link : "");
}

/* --- adopt: an install partboot did not make becomes partboot's (disk/adopt.c) ------ */

int cmd_adopt(int argc, char **argv)
{
	enum { OPT_HOSTNAME = 0x100, OPT_CMDLINE };
	static const struct option opts[] = {
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	struct disk_adopt_opts o = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOSTNAME:
			o.hostname = optarg;
			break;
		case OPT_CMDLINE:
			o.cmdline = optarg;
			break;
		default:
			r = cli_common_option("adopt", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("adopt", "expected DISK and NAME");
	if (o.hostname && !fs_hostname_valid(o.hostname))
		return cli_usage_error("adopt", "'%s' is not a valid hostname (letters, digits, '-', dots)", o.hostname);
	if (o.cmdline && strchr(o.cmdline, '\n'))
		return cli_usage_error("adopt", "--cmdline must be one line");
	if (cli_disk_open(argv[optind], 0, NULL, &k))
		return EXIT_FAIL;
	if (disk_guest_adopt(k, argv[optind + 1], &o, &err) < 0)
		return cli_fail(&err);
	log_info("%s: partition '%s' adopted: partboot set it up as one of its guests", argv[optind], argv[optind + 1]);
	return EXIT_OK;
}

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "long", no_argument, NULL, 'l' },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	_cleanup_fs_ struct fs *fs = NULL;
	struct ls_list l = { 0 };
	const char *path = "/";
	bool lng = false;
	int c, r, ret = EXIT_OK;

	while ((c = getopt_long(argc, argv, "l" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		if (c == 'l') {
			lng = true;
			continue;
		}
		r = cli_common_option("ls", c);
		if (r != CLI_OPT_CONTINUE)
			return r < 0 ? EXIT_USAGE : r;
	}
	if (argc - optind != 2 && argc - optind != 3)
		return cli_usage_error("ls", "expected DISK, NAME and an optional PATH");
	if (argc - optind == 3)
		path = argv[optind + 2];
	if (cli_disk_open(argv[optind], DISK_OPEN_RDONLY, NULL, &k))
		return EXIT_FAIL;
	if (disk_fs_open(k, argv[optind + 1], &fs, &err) < 0)
		return cli_fail(&err);
	if (fs_list_dir(fs, path, ls_collect, &l, &err) < 0) {
		ret = cli_fail(&err);
		goto out;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_ls);
	for (size_t i = 0; i < l.n; i++) {
		if (lng)
			print_long(&l.v[i]);
		else
			printf("%s%s\n", l.v[i].name, l.v[i].type == 'd' ? "/" : "");
	}
	if (fflush(stdout) != 0)
		ret = EXIT_FAIL;
out:
	for (size_t i = 0; i < l.n; i++) {
		free(l.v[i].name);
		free(l.v[i].link);
	}
	free(l.v);
	return ret;
}

int cmd_cat(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct disk *k = NULL;
	_cleanup_fs_ struct fs *fs = NULL;
	_cleanup_free_ char *data = NULL;
	size_t len;
	int c, r;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		r = cli_common_option("cat", c);
		if (r != CLI_OPT_CONTINUE)
			return r < 0 ? EXIT_USAGE : r;
	}
	if (argc - optind != 3)
		return cli_usage_error("cat", "expected DISK, NAME and PATH");
	if (cli_disk_open(argv[optind], DISK_OPEN_RDONLY, NULL, &k))
		return EXIT_FAIL;
	if (disk_fs_open(k, argv[optind + 1], &fs, &err) < 0)
		return cli_fail(&err);
	if (fs_read_file(fs, argv[optind + 2], &data, &len, &err) < 0)
		return cli_fail(&err);
	if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
		log_error("cannot write to standard output");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
