/* SPDX-License-Identifier: MIT */
/*
 * The fs verbs: mkfs, install, ls, cat. Each opens the disk through part/
 * (which locks it and finds the partition), then hands fs/ a struct
 * fs_target: the disk path and the partition's byte range.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "boot/boot.h"
#include "cli.h"
#include "common/macros.h"
#include "common/util.h"
#include "fs/fs.h"
#include "part/part.h"

static inline void part_disk_freep(struct part_disk **d)
{
	part_disk_free(*d);
}
#define _cleanup_disk_ _cleanup_(part_disk_freep)

static inline void errp(struct pb_err *e)
{
	pb_err_clear(e);
}
#define _cleanup_err_ _cleanup_(errp)

static inline void fs_freep(struct fs **fs)
{
	fs_free(*fs);
}
#define _cleanup_fs_ _cleanup_(fs_freep)

/* One partition of an open disk, as fs/ wants it. */
struct target {
	struct part_info p;
	struct fs_target t;
	char where[160];
	char name[80];
};

/*
 * Open DISK, find NAME, and for a writer check the partition is not in use
 * and lock its byte range for as long as d stays open.
 */
static int open_target(const char *disk, const char *name, bool rw, struct part_disk **ret_d, struct target *tg,
		       struct pb_err *err)
{
	struct part_disk *d = NULL;
	int r;

	r = part_disk_open(disk, rw ? 0 : PART_OPEN_RDONLY, 0, &d, err);
	if (r < 0)
		return r;
	r = part_disk_find(d, name, &tg->p, err);
	if (r < 0)
		goto fail;
	if (rw) {
		r = part_disk_check_unused(d, &tg->p, err);
		if (r < 0)
			goto fail;
		r = part_disk_lock_partition(d, &tg->p, err);
		if (r < 0)
			goto fail;
	}
	if (tg->p.name[0])
		snprintf(tg->name, sizeof(tg->name), "%s", tg->p.name);
	else
		snprintf(tg->name, sizeof(tg->name), "%u", tg->p.partno);
	snprintf(tg->where, sizeof(tg->where), "%s: partition '%s'", disk, tg->name);
	tg->t.path = part_disk_path(d);
	tg->t.offset = tg->p.start;
	tg->t.size = tg->p.size;
	tg->t.where = tg->where;
	tg->t.name = tg->name;
	*ret_d = d;
	return 0;
fail:
	part_disk_free(d);
	return r;
}

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
	_cleanup_disk_ struct part_disk *d = NULL;
	struct fs_mkfs_opts mo = { 0 };
	const char *kind = NULL;
	struct target tg = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "t:L:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case 't':
			kind = optarg;
			break;
		case 'L':
			mo.label = optarg;
			break;
		case 'S':
			mo.seed = optarg;
			break;
		default:
			r = cli_common_option("mkfs", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("mkfs", "expected DISK and NAME");
	if (kind && (fs_kind_from_string(kind, &mo.kind) < 0 || mo.kind == FS_KIND_NONE))
		return cli_usage_error("mkfs", "unknown filesystem '%s' (ext4, vfat or swap)", kind);

	if (open_target(argv[optind], argv[optind + 1], true, &d, &tg, &err) < 0)
		return cli_fail(&err);
	if (!kind) {
		switch (tg.p.type) {
		case PART_TYPE_ESP:
			mo.kind = FS_KIND_VFAT;
			break;
		case PART_TYPE_SWAP:
			mo.kind = FS_KIND_SWAP;
			break;
		case PART_TYPE_BIOS_BOOT:
			pb_err_set(&err, -EINVAL, "%s is a bios-boot partition: it holds GRUB's core.img, not a filesystem",
				   tg.where);
			return cli_fail(&err);
		default:
			mo.kind = FS_KIND_EXT4;
			break;
		}
	}
	if (!mo.label && tg.p.label[0])
		mo.label = tg.p.label;
	if (fs_mkfs(&tg.t, &mo, &err) < 0)
		return cli_fail(&err);
	log_info("%s: made %s%s%s", tg.where, fs_kind_to_string(mo.kind), mo.label ? " labelled " : "",
		 mo.label ? mo.label : "");
	/* A guest that was there is gone: the menu must not offer it. */
	if (boot_menu_refresh(d, &err) < 0) {
		pb_err_prefix(&err, err.code, "%s: made, but the boot menu was not refreshed: ", tg.where);
		return cli_fail(&err);
	}
	return EXIT_OK;
}

/* --- install -------------------------------------------------------------------- */

static inline void fs_debootstrap_freep(struct fs_debootstrap **d)
{
	fs_debootstrap_free(*d);
}

int cmd_install(int argc, char **argv)
{
	enum { OPT_MIRROR = 0x100, OPT_NO_KERNEL, OPT_DEB_CACHE, OPT_CMDLINE, OPT_HOSTNAME };
	static const struct option opts[] = {
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
	_cleanup_disk_ struct part_disk *d = NULL;
	_cleanup_(fs_debootstrap_freep) struct fs_debootstrap *dbs = NULL;
	_cleanup_free_ char *spec = NULL;
	struct fs_debootstrap_opts dopt = { 0 };
	struct fs_install_opts io = { 0 };
	struct cli_progress pr = { 0 };
	struct target tg = { 0 };
	const char *from = NULL;
	char host[64];
	bool debootstrap = false;
	int c, r;

	/* --via-vm SRC [--answers FILE]: an OS installer in a VM does the install (cli/cmd-vm.c). */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--via-vm") || !strncmp(argv[i], "--via-vm=", 9))
			return cmd_install_via_vm(argc, argv);
	while ((c = getopt_long(argc, argv, "f:wL:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			io.source = from = optarg;
			break;
		case 'w':
			io.wipe = true;
			break;
		case 'L':
			io.label = optarg;
			break;
		case 'S':
			io.seed = optarg;
			break;
		case OPT_HOSTNAME:
			io.hostname = optarg;
			break;
		case OPT_CMDLINE:
			io.cmdline = optarg;
			break;
		case OPT_MIRROR:
			dopt.mirror = optarg;
			break;
		case OPT_NO_KERNEL:
			dopt.no_kernel = true;
			break;
		case OPT_DEB_CACHE:
			dopt.cache_dir = optarg;
			break;
		default:
			r = cli_common_option("install", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("install", "expected DISK and NAME");
	if (!io.source)
		return cli_usage_error("install", "--from SOURCE is required (a tar archive, '-' or a directory)");
	if (io.hostname && !fs_hostname_valid(io.hostname))
		return cli_usage_error("install", "'%s' is not a valid hostname (letters, digits, '-', dots)",
				       io.hostname);
	if (io.cmdline && strchr(io.cmdline, '\n'))
		return cli_usage_error("install", "--cmdline must be one line");
	if (!strncmp(from, "debootstrap:", 12)) {
		char *colon;

		/* debootstrap:SUITE[:VARIANT] */
		spec = strdup(from + 12);
		if (!spec)
			return cli_usage_error("install", "out of memory");
		colon = strchr(spec, ':');
		if (colon) {
			*colon = '\0';
			dopt.variant = colon + 1;
		}
		dopt.suite = spec;
		if (!*dopt.suite || (dopt.variant && (!*dopt.variant || strchr(dopt.variant, ':'))))
			return cli_usage_error("install", "expected --from debootstrap:SUITE[:VARIANT], e.g. "
							  "debootstrap:bookworm:minbase");
		debootstrap = true;
	} else if (dopt.mirror || dopt.no_kernel || dopt.cache_dir) {
		return cli_usage_error("install", "--mirror, --no-kernel and --deb-cache go with --from debootstrap:SUITE");
	}

	if (open_target(argv[optind], argv[optind + 1], true, &d, &tg, &err) < 0)
		return cli_fail(&err);
	switch (tg.p.type) {
	case PART_TYPE_ESP:
	case PART_TYPE_BIOS_BOOT:
	case PART_TYPE_SWAP:
		pb_err_set(&err, -EINVAL, "%s has type %s; a guest goes into a root or data partition", tg.where,
			   part_type_to_string(tg.p.type));
		return cli_fail(&err);
	default:
		break;
	}
	if (!io.label && tg.p.label[0])
		io.label = tg.p.label;
	io.warn = cli_progress_warn;
	io.userdata = &pr;
	if (cli_show_progress())
		io.progress = cli_progress_show;
	/* The after-install steps, whatever the source (fs/setup.c). */
	io.setup = true;
	io.marked = cli_menu_refresh_marked;
	io.marked_userdata = d;
	if (!io.hostname) {
		fs_hostname_from_name(tg.name, host, sizeof(host));
		io.hostname = host;
	}

	if (debootstrap) {
		dopt.verbose = cli_verbosity > 1;
		/* Started only now that the disk is locked and the partition fits. */
		r = fs_debootstrap_start(&dopt, &dbs, &err);
		if (r < 0)
			return cli_fail(&err);
		log_info("%s: installing Debian with %s", tg.where, fs_debootstrap_describe(dbs));
		fs_debootstrap_source(dbs, &io);
	}

	/* --from iso:FILE: a live ISO's root image (fs/iso.c). */
	if (!strncmp(io.source, "iso:", 4))
		r = fs_install_iso(&tg.t, io.source + 4, &io, &err);
	else
		r = fs_install(&tg.t, &io, &err);
	if (pr.shown)
		fputc('\n', stderr);
	if (r < 0 && dbs) {
		/* When mmdebstrap failed, its words say more than "truncated archive". */
		struct pb_err cerr = PB_ERR_INIT;

		if (fs_debootstrap_finish(dbs, &cerr) < 0)
			pb_err_set(&err, cerr.code, "%s: %s", tg.where, pb_err_msg(&cerr));
		pb_err_clear(&cerr);
	}
	if (r < 0)
		return cli_fail(&err);
	log_info("%s: installed from %s", tg.where,
		 dbs ? fs_debootstrap_describe(dbs) : strcmp(from, "-") ? from : "standard input");

	/* Still holding the disk: the menu lists the guest now that it is complete. */
	r = boot_menu_refresh(d, &err);
	if (r < 0) {
		pb_err_prefix(&err, r, "%s: installed, but the boot menu was not refreshed: ", tg.where);
		return cli_fail(&err);
	}
	return EXIT_OK;
}

/* --- ls and cat ------------------------------------------------------------------- */

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
		struct ls_entry *v = realloc(l->v, na * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->alloc = na;
	}
	x = &l->v[l->n];
	x->name = strdup(e->name);
	x->link = e->link ? strdup(e->link) : NULL;
	if (!x->name || (e->link && !x->link)) {
		free(x->name);
		free(x->link);
		return -ENOMEM;
	}
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

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "long", no_argument, NULL, 'l' },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_err_ struct pb_err err = PB_ERR_INIT;
	_cleanup_disk_ struct part_disk *d = NULL;
	_cleanup_fs_ struct fs *fs = NULL;
	struct ls_list l = { 0 };
	struct target tg = { 0 };
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
	if (open_target(argv[optind], argv[optind + 1], false, &d, &tg, &err) < 0)
		return cli_fail(&err);
	if (fs_open(&tg.t, &fs, &err) < 0)
		return cli_fail(&err);
	if (fs_list_dir(fs, path, ls_collect, &l, &err) < 0) {
		if (!err.code)
			pb_err_set(&err, -ENOMEM, "out of memory");
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
	_cleanup_disk_ struct part_disk *d = NULL;
	_cleanup_fs_ struct fs *fs = NULL;
	_cleanup_free_ char *data = NULL;
	struct target tg = { 0 };
	size_t len;
	int c, r;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		r = cli_common_option("cat", c);
		if (r != CLI_OPT_CONTINUE)
			return r < 0 ? EXIT_USAGE : r;
	}
	if (argc - optind != 3)
		return cli_usage_error("cat", "expected DISK, NAME and PATH");
	if (open_target(argv[optind], argv[optind + 1], false, &d, &tg, &err) < 0)
		return cli_fail(&err);
	if (fs_open(&tg.t, &fs, &err) < 0)
		return cli_fail(&err);
	if (fs_read_file(fs, argv[optind + 2], &data, &len, &err) < 0)
		return cli_fail(&err);
	if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
		log_error("cannot write to standard output");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
