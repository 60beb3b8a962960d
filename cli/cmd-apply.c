/* SPDX-License-Identifier: MIT */
/*
 * partboot apply DISK LAYOUT: a whole disk from a layout file (docs/layout.md)
 * in one go: table, filesystems, guests, bootloader, default.
 *
 * The order is what keeps a refused request harmless:
 *  1. parse the layout and check everything that needs no disk (types, fs
 *     kinds, sources present, hostnames, default is a guest, bootloader
 *     partitions present), each refusal naming FILE:LINE;
 *  2. open (lock) the disk and build the table in memory
 *     (part_layout_apply), then decide each partition's steps from what is
 *     on the disk (probing only reads), refusing what would destroy data;
 *  3. only then write: the table (part_disk_write), mkfs, installs, GRUB,
 *     the default. A --dry-run stops after 2 and prints the plan.
 * A re-run finishes what an interrupted one left: complete guests are kept,
 * incomplete ones installed again.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot.h"
#include "cli.h"
#include "common/macros.h"
#include "common/run.h"
#include "common/util.h"
#include "fs/fs.h"
#include "part/part.h"

/* The time a seeded run stamps when SOURCE_DATE_EPOCH is unset (as fs/ does). */
#define APPLY_SEED_EPOCH "946684800"
/* Smallest FAT32 fs_mkfs() makes (65525 clusters of 512 bytes, plus the FATs). */
#define APPLY_FAT32_MIN (33 * MiB)

enum step_kind {
	STEP_MKFS,      /* fs_mkfs(): a new filesystem */
	STEP_INSTALL,   /* fs_install(): a guest */
	STEP_BOOT,      /* boot_install() */
	STEP_MENU,      /* boot_menu_refresh(): a bootloader already there, not asked for */
	STEP_DEFAULT,   /* boot_set_default() */
	STEP_NOTE,      /* nothing to do; the line says why */
};

struct step {
	enum step_kind kind;
	size_t part;         /* index in the layout (MKFS, INSTALL, NOTE about a partition) */
	enum fs_kind fs;     /* MKFS */
	bool wipe;           /* INSTALL: a new filesystem even when one is there */
	char text[256];      /* the plan line */
};

/* What apply knows about one partition of the layout. */
struct apply_part {
	const struct part_layout_partition *lp;
	char *source;        /* resolved: absolute path, "iso:PATH" or "debootstrap:..."; NULL = none */
	enum fs_kind want;   /* the filesystem to make (FS_KIND_NONE: none, or the install's ext4) */
	bool was_there;      /* on the disk before, same start, size and type */
	struct part_info p;  /* after part_layout_apply */
	char where[200];
};

struct apply {
	const char *disk;    /* as the user wrote it */
	struct part_layout *l;
	const char *seed;
	bool force;
	struct part_disk *d;
	struct apply_part *parts;
	struct step *steps;
	size_t n_steps;
	bool changed;        /* something will be written besides the default */
};

static void part_disk_freep(struct part_disk **d)
{
	part_disk_free(*d);
}

static void errp(struct pb_err *e)
{
	pb_err_clear(e);
}

static void fs_freep(struct fs **fs)
{
	fs_free(*fs);
}

static void fs_debootstrap_freep(struct fs_debootstrap **d)
{
	fs_debootstrap_free(*d);
}

/* A path from the layout: relative paths are relative to the layout file's folder. */
static char *resolve_path(const struct part_layout *l, const char *path)
{
	const char *slash = strrchr(l->path, '/');
	struct strbuf sb = STRBUF_INIT;

	if (path[0] == '/' || !slash)
		strbuf_addstr(&sb, path);
	else
		strbuf_addf(&sb, "%.*s/%s", (int)(slash - l->path), l->path, path);
	return strbuf_detach(&sb, NULL);
}

/* Check one source= and resolve it into *ret (malloc'ed). */
static int check_source(const struct part_layout *l, const struct part_layout_partition *lp, char **ret,
			struct pb_err *err)
{
	const char *s = lp->source;
	_cleanup_free_ char *path = NULL;
	struct strbuf sb = STRBUF_INIT;
	struct stat st;

	if (!strcmp(s, "-"))
		return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: source '-' (standard input) cannot be used in a layout",
				  l->path, lp->source_line, lp->name);
	if (!strncmp(s, "debootstrap:", 12)) {
		const char *suite = s + 12, *colon = strchr(suite, ':');

		if (!*suite || colon == suite || (colon && (!colon[1] || strchr(colon + 1, ':'))))
			return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: expected debootstrap:SUITE[:VARIANT], e.g. debootstrap:bookworm:minbase",
					  l->path, lp->source_line, lp->name);
		if (!pb_have_program("mmdebstrap") && !pb_have_program("debootstrap"))
			return pb_err_set(err, -ENOENT, "%s:%u: [partition %s]: %s needs mmdebstrap or debootstrap, neither is installed",
					  l->path, lp->source_line, lp->name, s);
		*ret = strdup(s);
		return *ret ? 0 : pb_err_set(err, -ENOMEM, "out of memory");
	}
	if (!strncmp(s, "iso:", 4)) {
		path = resolve_path(l, s + 4);
		if (stat(path, &st) < 0)
			return pb_err_set(err, -errno, "%s:%u: [partition %s]: source %s: %s", l->path, lp->source_line,
					  lp->name, path, strerror(errno));
		strbuf_addf(&sb, "iso:%s", path);
		*ret = strbuf_detach(&sb, NULL);
		return 0;
	}
	path = resolve_path(l, s);
	if (stat(path, &st) < 0)
		return pb_err_set(err, -errno, "%s:%u: [partition %s]: source %s: %s", l->path, lp->source_line, lp->name,
				  path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: source %s is neither a tar archive nor a folder",
				  l->path, lp->source_line, lp->name, path);
	*ret = TAKE_PTR(path);
	return 0;
}

/*
 * Step 1: everything that can be checked without the disk. Fills each
 * partition's resolved source and the filesystem it should get.
 */
static int validate_layout(struct apply *a, struct pb_err *err)
{
	struct part_layout *l = a->l;
	bool esp = false, bios_boot = false;
	int r;

	for (size_t i = 0; i < l->n_partitions; i++) {
		const struct part_layout_partition *lp = &l->partitions[i];
		struct apply_part *ap = &a->parts[i];
		enum fs_kind kind = FS_KIND_NONE;
		const char *type = part_type_to_string(lp->type);

		ap->lp = lp;
		esp |= lp->type == PART_TYPE_ESP;
		bios_boot |= lp->type == PART_TYPE_BIOS_BOOT;
		if (lp->fs && fs_kind_from_string(lp->fs, &kind) < 0)
			return pb_err_set(err, -EINVAL, "%s:%u: unknown fs '%s'", l->path, lp->fs_line, lp->fs);

		/* Which filesystem each type can hold. */
		switch (lp->type) {
		case PART_TYPE_BIOS_BOOT:
			if (kind != FS_KIND_NONE)
				return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: a bios-boot partition holds GRUB's core.img, not a filesystem (fs = %s)",
						  l->path, lp->fs_line, lp->name, lp->fs);
			break;
		case PART_TYPE_ESP:
			if (kind != FS_KIND_NONE && kind != FS_KIND_VFAT)
				return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: an esp partition holds vfat, not %s",
						  l->path, lp->fs_line, lp->name, lp->fs);
			break;
		case PART_TYPE_SWAP:
			if (kind != FS_KIND_NONE && kind != FS_KIND_SWAP)
				return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: a swap partition holds swap, not %s",
						  l->path, lp->fs_line, lp->name, lp->fs);
			/* swap partitions get their signature unless fs = none */
			if (!lp->fs)
				kind = FS_KIND_SWAP;
			break;
		default:
			if (kind == FS_KIND_SWAP)
				return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: swap goes on a partition of type swap, not %s",
						  l->path, lp->fs_line, lp->name, type);
			break;
		}
		if (kind == FS_KIND_VFAT && lp->size && lp->size < APPLY_FAT32_MIN)
			return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: fs = vfat needs at least 33 MiB (FAT32)%s",
					  l->path, lp->size_line, lp->name,
					  lp->type == PART_TYPE_ESP ? "; leave fs out and the bootloader makes a FAT16 ESP" : "");

		if (lp->source) {
			if (lp->type != PART_TYPE_ROOT && lp->type != PART_TYPE_DATA)
				return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: a guest (source =) goes into a root or data partition, not %s",
						  l->path, lp->source_line, lp->name, type);
			if (kind != FS_KIND_NONE && kind != FS_KIND_EXT4)
				return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: a guest lives in ext4, not %s", l->path,
						  lp->fs_line, lp->name, lp->fs);
			if (lp->size && lp->size < 8 * MiB)
				return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: %" PRIu64 " KiB is too small for a guest",
						  l->path, lp->size_line, lp->name, lp->size / KiB);
			r = check_source(l, lp, &ap->source, err);
			if (r < 0)
				return r;
			kind = FS_KIND_NONE; /* the install makes its ext4 */
		} else {
			if (lp->hostname)
				return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: hostname without source (only guests have one)",
						  l->path, lp->hostname_line, lp->name);
			if (lp->cmdline)
				return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: cmdline without source (only guests have one)",
						  l->path, lp->cmdline_line, lp->name);
		}
		if (lp->hostname && !fs_hostname_valid(lp->hostname))
			return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: '%s' is not a valid hostname (letters, digits, '-', dots)",
					  l->path, lp->hostname_line, lp->name, lp->hostname);
		ap->want = kind;
	}

	if (l->default_guest) {
		const struct part_layout_partition *dp = NULL;

		for (size_t i = 0; i < l->n_partitions; i++)
			if (!strcmp(l->partitions[i].name, l->default_guest))
				dp = &l->partitions[i];
		if (!dp || !dp->source)
			return pb_err_set(err, -EINVAL, "%s:%u: default '%s' is not a guest (a partition with source =)",
					  l->path, l->default_line, l->default_guest);
		if (!l->bios && !l->uefi)
			return pb_err_set(err, -EINVAL, "%s:%u: default needs a bootloader (bootloader = bios, uefi)",
					  l->path, l->default_line);
	}
	/* What boot_install() would refuse after the table is written: say it now. */
	if ((l->bios || l->uefi) && !esp)
		return pb_err_set(err, -EINVAL, "%s:%u: the bootloader needs an esp partition (grub.cfg and grubenv live there; 64M is usual)",
				  l->path, l->bootloader_line);
	if (l->bios && l->table == PART_TABLE_GPT && !bios_boot)
		return pb_err_set(err, -EINVAL, "%s:%u: bootloader = bios on gpt needs a bios-boot partition (1M) for GRUB's core.img",
				  l->path, l->bootloader_line);
	return 0;
}

static struct step *add_step(struct apply *a, enum step_kind kind, size_t part, const char *fmt, ...) _printf_(4, 5);
static struct step *add_step(struct apply *a, enum step_kind kind, size_t part, const char *fmt, ...)
{
	struct step *s = &a->steps[a->n_steps++];
	va_list ap;

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->part = part;
	va_start(ap, fmt);
	vsnprintf(s->text, sizeof(s->text), fmt, ap);
	va_end(ap);
	if (kind != STEP_NOTE && kind != STEP_DEFAULT)
		a->changed = true;
	return s;
}

static struct fs_target target_of(const struct apply_part *ap, const struct part_disk *d)
{
	return (struct fs_target){
		.path = part_disk_path(d),
		.offset = ap->p.start,
		.size = ap->p.size,
		.where = ap->where,
		.name = ap->lp->name,
	};
}

/* Is the guest in the target complete? (false when there is no ext4 or it cannot be read) */
static bool guest_complete(const struct fs_target *t)
{
	_cleanup_(fs_freep) struct fs *fs = NULL;
	struct fs_guest_info info;

	if (fs_open(t, &fs, NULL) < 0)
		return false;
	if (fs_guest_info(fs, &info, NULL) < 0)
		return false;
	return info.complete;
}

/*
 * Step 2, after part_layout_apply(): decide each partition's steps from what
 * the disk holds, refusing (before anything is written) a filesystem that
 * would be replaced by another unless --force.
 */
static int plan_steps(struct apply *a, bool table_new, struct pb_err *err)
{
	struct part_layout *l = a->l;
	char sz[32];

	for (size_t i = 0; i < l->n_partitions; i++) {
		struct apply_part *ap = &a->parts[i];
		const struct part_layout_partition *lp = ap->lp;
		struct fs_target t;
		enum fs_kind have = FS_KIND_NONE;

		if (part_disk_find(a->d, lp->name, &ap->p, err) < 0)
			return -ENOENT;
		snprintf(ap->where, sizeof(ap->where), "%s: partition '%s'", a->disk, lp->name);
		t = target_of(ap, a->d);
		ap->was_there = ap->was_there && !table_new;
		/* Stale bytes in a new partition are not a filesystem to keep. */
		if (ap->was_there && fs_probe(&t, &have, NULL) < 0)
			have = FS_KIND_NONE;

		if (ap->source) {
			const char *host = lp->hostname ? lp->hostname : NULL;
			char hbuf[64];
			struct step *s;

			if (!host) {
				fs_hostname_from_name(lp->name, hbuf, sizeof(hbuf));
				host = hbuf;
			}
			if (have == FS_KIND_EXT4 && guest_complete(&t) && !a->force) {
				add_step(a, STEP_NOTE, i, "skip '%s': guest complete (--force installs it again)", lp->name);
				continue;
			}
			if (have != FS_KIND_NONE && have != FS_KIND_EXT4 && !a->force)
				return pb_err_set(err, -EEXIST, "%s holds %s; installing guest '%s' would replace it (--force does)",
						  ap->where, fs_kind_to_string(have), lp->name);
			s = add_step(a, STEP_INSTALL, i, "install '%s' from %s (hostname %s%s%s)", lp->name, lp->source, host,
				     lp->cmdline ? ", cmdline " : "", lp->cmdline ? lp->cmdline : "");
			s->wipe = have != FS_KIND_EXT4 || a->force || !ap->was_there;
			continue;
		}
		if (ap->want != FS_KIND_NONE) {
			struct step *s;

			if (have == ap->want) {
				add_step(a, STEP_NOTE, i, "keep %s on '%s'", fs_kind_to_string(have), lp->name);
				continue;
			}
			if (have != FS_KIND_NONE && !a->force)
				return pb_err_set(err, -EEXIST, "%s holds %s; the layout asks for %s (--force replaces it)",
						  ap->where, fs_kind_to_string(have), fs_kind_to_string(ap->want));
			s = add_step(a, STEP_MKFS, i, "mkfs %s on '%s' (%s)", fs_kind_to_string(ap->want), lp->name,
				     pb_format_size(ap->p.size, sz, sizeof(sz)));
			s->fs = ap->want;
			continue;
		}
		if (lp->type == PART_TYPE_ESP && (l->bios || l->uefi) && have == FS_KIND_NONE)
			add_step(a, STEP_NOTE, i, "vfat on '%s' made by the bootloader step", lp->name);
	}

	if (l->bios || l->uefi) {
		if (!a->changed && !a->force && boot_is_installed(a->d))
			add_step(a, STEP_NOTE, 0, "keep bootloader (--force installs it again)");
		else
			add_step(a, STEP_BOOT, 0, "bootloader %s%s%s", l->bios ? "bios" : "", l->bios && l->uefi ? ", " : "",
				 l->uefi ? "uefi" : "");
	} else if (a->changed && boot_is_installed(a->d)) {
		add_step(a, STEP_MENU, 0, "refresh the boot menu");
	}
	if (l->default_guest) {
		_cleanup_free_ char *cur = NULL;

		if (!a->changed && boot_env_read(a->d, &cur, NULL, NULL) == 0 && cur && !strcmp(cur, l->default_guest))
			add_step(a, STEP_NOTE, 0, "keep default %s", l->default_guest);
		else
			add_step(a, STEP_DEFAULT, 0, "default %s", l->default_guest);
	}
	return 0;
}

static int run_install(struct apply *a, const struct step *s, struct pb_err *err)
{
	struct apply_part *ap = &a->parts[s->part];
	const struct part_layout_partition *lp = ap->lp;
	_cleanup_(fs_debootstrap_freep) struct fs_debootstrap *dbs = NULL;
	_cleanup_free_ char *spec = NULL;
	struct fs_target t = target_of(ap, a->d);
	struct fs_install_opts io = { 0 };
	struct cli_progress pr = { 0 };
	char host[64];
	int r;

	io.source = ap->source;
	io.wipe = s->wipe;
	io.label = lp->label ? lp->label : ap->p.label[0] ? ap->p.label : NULL;
	io.seed = a->seed;
	io.warn = cli_progress_warn;
	io.userdata = &pr;
	if (cli_show_progress())
		io.progress = cli_progress_show;
	io.setup = true;
	io.cmdline = lp->cmdline;
	if (lp->hostname) {
		io.hostname = lp->hostname;
	} else {
		fs_hostname_from_name(lp->name, host, sizeof(host));
		io.hostname = host;
	}
	io.marked = cli_menu_refresh_marked;
	io.marked_userdata = a->d;

	if (!strncmp(ap->source, "debootstrap:", 12)) {
		struct fs_debootstrap_opts dopt = { 0 };
		char *colon;

		spec = strdup(ap->source + 12);
		if (!spec)
			return pb_err_set(err, -ENOMEM, "out of memory");
		colon = strchr(spec, ':');
		if (colon) {
			*colon = '\0';
			dopt.variant = colon + 1;
		}
		dopt.suite = spec;
		dopt.verbose = cli_verbosity > 1;
		r = fs_debootstrap_start(&dopt, &dbs, err);
		if (r < 0)
			return r;
		fs_debootstrap_source(dbs, &io);
	}
	if (!strncmp(ap->source, "iso:", 4))
		r = fs_install_iso(&t, ap->source + 4, &io, err);
	else
		r = fs_install(&t, &io, err);
	if (pr.shown)
		fputc('\n', stderr);
	if (r < 0 && dbs) {
		struct pb_err cerr = PB_ERR_INIT;

		if (fs_debootstrap_finish(dbs, &cerr) < 0)
			pb_err_set(err, cerr.code, "%s: %s", ap->where, pb_err_msg(&cerr));
		pb_err_clear(&cerr);
	}
	return r;
}

static int run_step(struct apply *a, const struct step *s, struct pb_err *err)
{
	struct part_layout *l = a->l;

	switch (s->kind) {
	case STEP_MKFS: {
		struct apply_part *ap = &a->parts[s->part];
		struct fs_target t = target_of(ap, a->d);
		struct fs_mkfs_opts mo = {
			.kind = s->fs,
			.label = ap->lp->label ? ap->lp->label : ap->p.label[0] ? ap->p.label : NULL,
			.seed = a->seed,
		};

		return fs_mkfs(&t, &mo, err);
	}
	case STEP_INSTALL:
		return run_install(a, s, err);
	case STEP_BOOT:
		return boot_install(a->d, (l->bios ? BOOT_INSTALL_BIOS : 0) | (l->uefi ? BOOT_INSTALL_UEFI : 0), err);
	case STEP_MENU:
		return boot_menu_refresh(a->d, err);
	case STEP_DEFAULT:
		return boot_set_default(a->d, l->default_guest, err);
	case STEP_NOTE:
		return 0;
	}
	return 0;
}

int cmd_apply(int argc, char **argv)
{
	enum { OPT_SEED = 0x100 };
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "force", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		CLI_COMMON_LONGOPTS,
		{},
	};
	_cleanup_(errp) struct pb_err err = PB_ERR_INIT;
	_cleanup_(part_disk_freep) struct part_disk *d = NULL;
	struct strbuf plan = STRBUF_INIT;
	struct apply a = { 0 };
	const char *path, *seed = NULL;
	char tmpdir[] = "/tmp/partboot-dry-run.XXXXXX", tmppath[4200];
	bool dry = false, existed, table_new, written = false;
	struct stat st;
	int c, r, ret = EXIT_FAIL;

	while ((c = getopt_long(argc, argv, "fn" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case OPT_SEED:
			seed = optarg;
			break;
		case 'f':
			a.force = true;
			break;
		case 'n':
			dry = true;
			break;
		default:
			r = cli_common_option("apply", c);
			if (r != CLI_OPT_CONTINUE)
				return r < 0 ? EXIT_USAGE : r;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("apply", "expected DISK and LAYOUT");
	path = a.disk = argv[optind];
	if (part_layout_parse(argv[optind + 1], &a.l, &err) < 0)
		return cli_fail(&err);
	a.seed = seed ? seed : a.l->seed;
	a.parts = calloc(a.l->n_partitions ? a.l->n_partitions : 1, sizeof(*a.parts));
	/* per partition at most one step, plus bootloader and default */
	a.steps = calloc(a.l->n_partitions + 2, sizeof(*a.steps));
	if (!a.parts || !a.steps) {
		pb_err_set(&err, -ENOMEM, "out of memory");
		goto out;
	}

	/* 1. The layout alone. */
	if (validate_layout(&a, &err) < 0)
		goto out;
	/*
	 * Seeded means reproducible: children that stamp the clock (mtools for
	 * the ESP's directory entries, mke2fs) read SOURCE_DATE_EPOCH; give them
	 * the same fixed time fs/ uses when it is unset.
	 */
	if (a.seed && !getenv("SOURCE_DATE_EPOCH"))
		setenv("SOURCE_DATE_EPOCH", APPLY_SEED_EPOCH, 1);

	/* 2. The table in memory, and the plan. */
	existed = stat(path, &st) == 0;
	if (!existed && !a.l->size) {
		pb_err_set(&err, -ENOENT, "%s: does not exist and %s has no [disk] size", path, a.l->path);
		goto out;
	}
	if (!existed && dry) {
		/* Plan against a scratch image of the same size: nothing is created. */
		if (!mkdtemp(tmpdir)) {
			pb_err_set(&err, -errno, "cannot make a scratch folder: %s", strerror(errno));
			goto out;
		}
		snprintf(tmppath, sizeof(tmppath), "%s/%s", tmpdir, strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
		r = part_disk_open(tmppath, PART_OPEN_CREATE, a.l->size, &d, &err);
		unlink(tmppath);
		rmdir(tmpdir);
		if (r < 0)
			goto out;
		strbuf_addf(&plan, "create %s\n", path);
	} else {
		r = part_disk_open(path, (existed ? 0 : PART_OPEN_CREATE) | (a.force ? PART_OPEN_FORCE : 0), a.l->size,
				   &d, &err);
		if (r < 0)
			goto out;
		if (!existed)
			strbuf_addf(&plan, "create %s\n", path);
	}
	a.d = d;
	table_new = part_disk_table(d) != a.l->table;
	for (size_t i = 0; i < a.l->n_partitions; i++) {
		struct part_info p = { 0 };

		a.parts[i].was_there = part_disk_find(d, a.l->partitions[i].name, &p, NULL) == 0;
		a.parts[i].p = p;
	}
	r = part_layout_apply(d, a.l, a.seed, a.force ? PART_APPLY_FORCE : 0, &plan, &err);
	if (r < 0)
		goto out_new;
	for (size_t i = 0; i < a.l->n_partitions; i++) {
		struct part_info p;

		/* Moved, resized or retyped (--force): whatever was inside is not kept. */
		if (a.parts[i].was_there && part_disk_find(d, a.l->partitions[i].name, &p, NULL) == 0 &&
		    (p.start != a.parts[i].p.start || p.size != a.parts[i].p.size || p.type != a.parts[i].p.type))
			a.parts[i].was_there = false;
	}
	r = plan_steps(&a, table_new, &err);
	if (r < 0)
		goto out_new;

	if (dry) {
		fputs(plan.buf, stdout);
		for (size_t i = 0; i < a.n_steps; i++)
			printf("%s\n", a.steps[i].text);
		ret = EXIT_OK;
		goto out;
	}

	/* 3. Writes, in this order. */
	for (char *line = plan.buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		log_info("%s: %.*s", path, nl ? (int)(nl - line) : (int)strlen(line), line);
	}
	r = part_disk_write(d, &err);
	if (r < 0)
		goto out_new;
	written = true;
	for (size_t i = 0; i < a.n_steps; i++) {
		log_info("%s: %s", path, a.steps[i].text);
		r = run_step(&a, &a.steps[i], &err);
		if (r < 0)
			goto out; /* the message names disk and partition; a re-run finishes the job */
	}
	log_info("%s: done", path);
	ret = EXIT_OK;
	goto out;

out_new:
	/* Refused before any write: a disk this run created goes away again. */
	if (!existed && !dry && !written)
		unlink(path);
out:
	if (ret != EXIT_OK)
		cli_fail(&err);
	for (size_t i = 0; a.parts && i < a.l->n_partitions; i++)
		free(a.parts[i].source);
	free(a.parts);
	free(a.steps);
	strbuf_release(&plan);
	part_layout_free(a.l);
	return ret;
}
