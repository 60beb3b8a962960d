/* SPDX-License-Identifier: MIT */
/*
 * A whole disk from a layout file (docs/layout.md): table, filesystems,
 * guests, bootloader, default — planned as data, then carried out.
 *
 * The order is what keeps a refused request harmless:
 *  1. parse the layout and check everything that needs no disk (types, fs
 *     kinds, sources present, hostnames, default is a guest, bootloader
 *     partitions present), each refusal naming FILE:LINE;
 *  2. open (lock) the disk and build the table in memory
 *     (part_layout_apply), then decide each partition's steps from what is
 *     on the disk (probing only reads), refusing what would destroy data;
 *     the plan is complete here (disk_plan_new());
 *  3. only then write (disk_plan_execute()): the table (part_disk_write),
 *     mkfs, installs, GRUB, the default.
 * A re-run finishes what an interrupted one left: complete guests are kept,
 * incomplete ones installed again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/debug.h"
#include "../common/macros.h"
#include "../common/run.h"
#include "../common/tmpdir.h"
#include "../common/util.h"
#include "disk-private.h"

/* Smallest FAT32 fs_mkfs() makes (65525 clusters of 512 bytes, plus the FATs). */
#define APPLY_FAT32_MIN (33 * MiB)

/* One step, and what it owns. */
struct step {
	struct disk_step pub;
	size_t part;         /* index in the layout, for steps about a partition */
	char *text;
	char *hostname;
};

/* What apply knows about one partition of the layout. */
struct apply_part {
	const struct part_layout_partition *lp;
	char *source;        /* resolved: absolute path, "iso:PATH" or "debootstrap:..."; NULL = none */
	enum fs_kind want;   /* the filesystem to make (FS_KIND_NONE: none, or the install's ext4) */
	bool was_there;      /* on the disk before, same start, size and type */
	struct part_info p;  /* after part_layout_apply */
	char where[200];
	/* what goes into the guest: the layout's keys, paths resolved (owned in paths[]) */
	struct disk_customize_opts co;
	char *paths[PART_LAYOUT_GUEST_KEYS];
	const char *key;     /* co.ssh_keys points here */
	char *packages;      /* comma-separated, checked */
};

struct disk_plan {
	char *disk;          /* as the user wrote it */
	struct part_layout *l;
	char *seed;
	unsigned flags;
	struct disk *k;
	bool created;        /* this run created the image file (removed again when the table is not written) */
	dev_t dev;           /* ... and which file that is, so that only it goes */
	ino_t ino;
	bool written;
	struct apply_part *parts;
	struct step *steps;
	size_t n_steps, alloc;
	bool changed;        /* something will be written besides the default */
};

void disk_plan_free(struct disk_plan *plan)
{
	if (!plan)
		return;
	/*
	 * Refused or failed before any write: a disk this run created goes away
	 * again, and only that file (the name may have been replaced meanwhile).
	 */
	if (plan->created && !plan->written) {
		struct stat st;

		if (stat(plan->disk, &st) == 0 && st.st_dev == plan->dev && st.st_ino == plan->ino)
			unlink(plan->disk);
	}
	disk_free(plan->k);
	for (size_t i = 0; plan->parts && i < plan->l->n_partitions; i++) {
		free(plan->parts[i].source);
		free(plan->parts[i].packages);
		for (size_t k = 0; k < PART_LAYOUT_GUEST_KEYS; k++)
			free(plan->parts[i].paths[k]);
	}
	free(plan->parts);
	for (size_t i = 0; i < plan->n_steps; i++) {
		free(plan->steps[i].text);
		free(plan->steps[i].hostname);
	}
	free(plan->steps);
	part_layout_free(plan->l);
	free(plan->seed);
	free(plan->disk);
	free(plan);
}

size_t disk_plan_count(const struct disk_plan *plan)
{
	return plan->n_steps;
}

const struct disk_step *disk_plan_step(const struct disk_plan *plan, size_t i)
{
	return i < plan->n_steps ? &plan->steps[i].pub : NULL;
}

const char *disk_step_kind_to_string(enum disk_step_kind k)
{
	static const char *const names[] = {
		[DISK_STEP_CREATE] = "create",   [DISK_STEP_TABLE] = "table",   [DISK_STEP_ADD] = "add",
		[DISK_STEP_KEEP] = "keep",       [DISK_STEP_MKFS] = "mkfs",     [DISK_STEP_INSTALL] = "install",
		[DISK_STEP_BOOTLOADER] = "bootloader", [DISK_STEP_MENU] = "menu", [DISK_STEP_DEFAULT] = "default",
		[DISK_STEP_NOTE] = "note",
	};

	return (size_t)k < ARRAY_SIZE(names) && names[k] ? names[k] : "?";
}

static struct step *add_step(struct disk_plan *a, enum disk_step_kind kind, size_t part, const char *fmt, ...)
	_printf_(4, 5);
static struct step *add_step(struct disk_plan *a, enum disk_step_kind kind, size_t part, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	struct step *s;
	va_list ap;

	if (a->n_steps == a->alloc) {
		size_t na = a->alloc ? a->alloc * 2 : 16;
		struct step *v = xreallocarray(a->steps, na, sizeof(*v));

		a->steps = v;
		a->alloc = na;
	}
	s = &a->steps[a->n_steps++];
	memset(s, 0, sizeof(*s));
	s->pub.kind = kind;
	s->part = part;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	s->text = strbuf_detach(&sb, NULL);
	s->pub.text = s->text;
	if (kind != DISK_STEP_NOTE && kind != DISK_STEP_DEFAULT && kind != DISK_STEP_CREATE &&
	    kind != DISK_STEP_TABLE && kind != DISK_STEP_ADD && kind != DISK_STEP_KEEP)
		a->changed = true;
	PB_DEBUG(PB_DEBUG_DISK, "plan: %s: %s", disk_step_kind_to_string(kind), s->text);
	return s;
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
		if (disk_source_check(s, NULL) < 0)
			return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: expected debootstrap:SUITE[:VARIANT], e.g. debootstrap:bookworm:minbase",
					  l->path, lp->source_line, lp->name);
		if (!pb_have_program("mmdebstrap") && !pb_have_program("debootstrap"))
			return pb_err_set(err, -ENOENT, "%s:%u: [partition %s]: %s needs mmdebstrap or debootstrap, neither is installed",
					  l->path, lp->source_line, lp->name, s);
		*ret = xstrdup(s);
		return 0;
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

static const char *const guest_key_names[PART_LAYOUT_GUEST_KEYS] = {
	[PART_LAYOUT_ROOT_PASSWORD_FILE] = "root-password-file", [PART_LAYOUT_ROOT_PASSWORD] = "root-password",
	[PART_LAYOUT_USER] = "user",		  [PART_LAYOUT_USER_PASSWORD_FILE] = "user-password-file",
	[PART_LAYOUT_SSH_KEY] = "ssh-key",	  [PART_LAYOUT_FIRSTBOOT] = "firstboot",
	[PART_LAYOUT_PACKAGES] = "packages",	  [PART_LAYOUT_CLOUD_INIT] = "cloud-init",
	[PART_LAYOUT_META_DATA] = "meta-data",
};

/*
 * The keys that go into a guest (root-password-file, user, ssh-key, ...):
 * files resolved against the layout's folder and present, "-" refused
 * (standard input is no part of a layout), packages only for debootstrap:.
 * The files' contents are read when the install runs (disk_install()).
 */
static int check_guest_keys(struct part_layout *l, const struct part_layout_partition *lp, struct apply_part *ap,
			    struct pb_err *err)
{
	static const enum part_layout_guest_key files[] = {
		PART_LAYOUT_ROOT_PASSWORD_FILE, PART_LAYOUT_USER_PASSWORD_FILE, PART_LAYOUT_SSH_KEY,
		PART_LAYOUT_FIRSTBOOT,		PART_LAYOUT_CLOUD_INIT,		PART_LAYOUT_META_DATA,
	};
	struct pb_err e = PB_ERR_INIT;
	struct stat st;
	int r;

	for (size_t k = 0; k < PART_LAYOUT_GUEST_KEYS; k++)
		if (lp->guest[k] && !lp->source)
			return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: %s without source (only guests have one)",
					  l->path, lp->guest_line[k], lp->name, guest_key_names[k]);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		enum part_layout_guest_key k = files[i];

		if (!lp->guest[k])
			continue;
		if (!strcmp(lp->guest[k], "-"))
			return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: %s '-' (standard input) cannot be used in a layout",
					  l->path, lp->guest_line[k], lp->name, guest_key_names[k]);
		ap->paths[k] = resolve_path(l, lp->guest[k]);
		if (stat(ap->paths[k], &st) < 0)
			return pb_err_set(err, -errno, "%s:%u: [partition %s]: %s %s: %s", l->path, lp->guest_line[k],
					  lp->name, guest_key_names[k], ap->paths[k], strerror(errno));
		if (!S_ISREG(st.st_mode))
			return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: %s %s is not a regular file", l->path,
					  lp->guest_line[k], lp->name, guest_key_names[k], ap->paths[k]);
	}
	ap->co.root_password_file = ap->paths[PART_LAYOUT_ROOT_PASSWORD_FILE];
	if (lp->guest[PART_LAYOUT_ROOT_PASSWORD])
		ap->co.root_password = !strcmp(lp->guest[PART_LAYOUT_ROOT_PASSWORD], "locked") ? DISK_ROOT_PASSWORD_LOCKED
											      : DISK_ROOT_PASSWORD_DISABLED;
	ap->co.user = lp->guest[PART_LAYOUT_USER];
	ap->co.user_password_file = ap->paths[PART_LAYOUT_USER_PASSWORD_FILE];
	if (ap->paths[PART_LAYOUT_SSH_KEY]) {
		ap->key = ap->paths[PART_LAYOUT_SSH_KEY];
		ap->co.ssh_keys = &ap->key;
		ap->co.n_ssh_keys = 1;
	}
	ap->co.firstboot = ap->paths[PART_LAYOUT_FIRSTBOOT];
	ap->co.cloud_init = ap->paths[PART_LAYOUT_CLOUD_INIT];
	ap->co.meta_data = ap->paths[PART_LAYOUT_META_DATA];
	r = disk_customize_check(&ap->co, &e);
	if (r < 0) {
		unsigned line = lp->guest_line[PART_LAYOUT_USER] ? lp->guest_line[PART_LAYOUT_USER] : lp->line;

		if (ap->co.root_password_file && ap->co.root_password)
			line = lp->guest_line[PART_LAYOUT_ROOT_PASSWORD];
		else if (ap->co.user_password_file && !ap->co.user)
			line = lp->guest_line[PART_LAYOUT_USER_PASSWORD_FILE];
		else if (ap->co.meta_data && !ap->co.cloud_init)
			line = lp->guest_line[PART_LAYOUT_META_DATA];
		r = pb_err_set(err, r, "%s:%u: [partition %s]: %s", l->path, line, lp->name, pb_err_msg(&e));
		pb_err_clear(&e);
		return r;
	}
	if (lp->guest[PART_LAYOUT_PACKAGES]) {
		struct strbuf list = STRBUF_INIT;

		if (strncmp(lp->source, "debootstrap:", 12))
			return pb_err_set(err, -EINVAL, "%s:%u: [partition %s]: packages goes with source = debootstrap:SUITE",
					  l->path, lp->guest_line[PART_LAYOUT_PACKAGES], lp->name);
		r = fs_debootstrap_packages(lp->guest[PART_LAYOUT_PACKAGES], &list, &e);
		if (r < 0) {
			strbuf_release(&list);
			r = pb_err_set(err, r, "%s:%u: [partition %s]: %s", l->path, lp->guest_line[PART_LAYOUT_PACKAGES],
				       lp->name, pb_err_msg(&e));
			pb_err_clear(&e);
			return r;
		}
		ap->packages = strbuf_detach(&list, NULL);
	}
	return 0;
}

/* What the plan line says about the guest's keys (never a password: only where it comes from). */
static void guest_keys_text(const struct apply_part *ap, struct strbuf *sb)
{
	const struct disk_customize_opts *co = &ap->co;

	if (ap->packages)
		strbuf_addf(sb, ", packages %s", ap->packages);
	if (co->root_password_file)
		strbuf_addf(sb, ", root password from %s", co->root_password_file);
	else if (co->root_password)
		strbuf_addf(sb, ", root password %s", co->root_password == DISK_ROOT_PASSWORD_LOCKED ? "locked" : "disabled");
	if (co->user)
		strbuf_addf(sb, ", user %s%s%s", co->user, co->user_password_file ? " with password from " : "",
			    co->user_password_file ? co->user_password_file : "");
	if (co->n_ssh_keys)
		strbuf_addf(sb, ", ssh key %s", co->ssh_keys[0]);
	if (co->firstboot)
		strbuf_addf(sb, ", firstboot %s", co->firstboot);
	if (co->cloud_init)
		strbuf_addf(sb, ", cloud-init %s", co->cloud_init);
}

/*
 * Step 1: everything that can be checked without the disk. Fills each
 * partition's resolved source and the filesystem it should get.
 */
static int validate_layout(struct disk_plan *a, struct pb_err *err)
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
		}
		r = check_guest_keys(l, lp, ap, err);
		if (r < 0)
			return r;
		if (!lp->source) {
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
			return pb_err_set(err, -EINVAL, "%s:%u: default needs a bootloader (bootloader = auto, bios or uefi)",
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

static struct fs_target target_of(const struct disk_plan *a, const struct apply_part *ap)
{
	return disk_target(a->k, &ap->p, ap->where, ap->lp->name);
}

/* The table steps: what part_layout_apply() did, as plan lines. */
static void table_steps(struct disk_plan *a, const struct part_layout_steps *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct part_layout_step *s = &ls->v[i];
		const struct part_info *p = &s->p;
		enum disk_step_kind kind = s->kind == PART_LAYOUT_ADD ? DISK_STEP_ADD : DISK_STEP_KEEP;
		const char *verb = s->kind == PART_LAYOUT_ADD ? "add" : s->kind == PART_LAYOUT_KEEP ? "keep"
												  : "keep (not in the layout)";
		char sz[32], at[32];
		struct step *st;

		if (s->kind == PART_LAYOUT_TABLE) {
			add_step(a, DISK_STEP_TABLE, 0, "create %s table%s%s", part_table_to_string(a->l->table),
				 a->seed ? " with seed " : "", a->seed ? a->seed : "");
			continue;
		}
		st = add_step(a, kind, 0, "%s %u '%s' %s %s at %s", verb, p->partno, p->name, part_type_to_string(p->type),
			      pb_format_size(p->size, sz, sizeof(sz)), pb_format_size(p->start, at, sizeof(at)));
		st->part = SIZE_MAX;
		for (size_t j = 0; j < a->l->n_partitions; j++)
			if (!strcmp(a->l->partitions[j].name, p->name))
				st->part = j;
		st->pub.partition = st->part != SIZE_MAX ? a->l->partitions[st->part].name : NULL;
		st->pub.start = p->start;
		st->pub.size = p->size;
		st->pub.type = p->type;
	}
}

/*
 * Step 2, after part_layout_apply(): decide each partition's steps from what
 * the disk holds, refusing (before anything is written) a filesystem that
 * would be replaced by another unless FORCE.
 */
static int plan_steps(struct disk_plan *a, bool table_new, struct pb_err *err)
{
	struct part_layout *l = a->l;
	bool force = a->flags & DISK_APPLY_FORCE;
	struct part_disk *d = disk_part(a->k);
	char sz[32];

	for (size_t i = 0; i < l->n_partitions; i++) {
		struct apply_part *ap = &a->parts[i];
		const struct part_layout_partition *lp = ap->lp;
		struct fs_target t;
		enum fs_kind have = FS_KIND_NONE;

		if (part_disk_find(d, lp->name, &ap->p, err) < 0)
			return -ENOENT;
		snprintf(ap->where, sizeof(ap->where), "%s: partition '%s'", a->disk, lp->name);
		t = target_of(a, ap);
		ap->was_there = ap->was_there && !table_new;
		/* Stale bytes in a new partition are not a filesystem to keep. */
		if (ap->was_there && fs_probe(&t, &have, NULL) < 0)
			have = FS_KIND_NONE;

		if (ap->source) {
			struct strbuf host = STRBUF_INIT;
			struct disk_guest g;
			struct step *s;
			bool complete, foreign;

			if (lp->hostname) {
				strbuf_addstr(&host, lp->hostname);
			} else {
				char hbuf[64];

				fs_hostname_from_name(lp->name, hbuf, sizeof(hbuf));
				strbuf_addstr(&host, hbuf);
			}
			disk_guest_probe(a->k, &ap->p, &g);
			complete = g.state == DISK_GUEST_COMPLETE;
			foreign = g.state == DISK_GUEST_FOREIGN;
			disk_guest_release(&g);
			if (have == FS_KIND_EXT4 && complete && !force) {
				strbuf_release(&host);
				s = add_step(a, DISK_STEP_NOTE, i, "skip '%s': guest complete (--force installs it again)",
					     lp->name);
				s->pub.partition = lp->name;
				continue;
			}
			/* an install partboot did not make is kept as it is, as a complete one is */
			if (have == FS_KIND_EXT4 && foreign && !force) {
				strbuf_release(&host);
				s = add_step(a, DISK_STEP_NOTE, i, "skip '%s': holds an install partboot did not make "
					     "(--force replaces it)", lp->name);
				s->pub.partition = lp->name;
				continue;
			}
			if (have != FS_KIND_NONE && have != FS_KIND_EXT4 && !force) {
				strbuf_release(&host);
				return pb_err_set(err, -EEXIST, "%s holds %s; installing guest '%s' would replace it (--force does)",
						  ap->where, fs_kind_to_string(have), lp->name);
			}
			{
				struct strbuf keys = STRBUF_INIT;

				guest_keys_text(ap, &keys);
				s = add_step(a, DISK_STEP_INSTALL, i, "install '%s' from %s (hostname %s%s%s%s)", lp->name,
					     ap->source, host.buf, lp->cmdline ? ", cmdline " : "", lp->cmdline ? lp->cmdline : "",
					     keys.buf);
				strbuf_release(&keys);
			}
			s->pub.partition = lp->name;
			s->pub.packages = ap->packages;
			s->pub.customize = disk_customize_empty(&ap->co) ? NULL : &ap->co;
			s->pub.source = ap->source;
			s->hostname = strbuf_detach(&host, NULL);
			s->pub.hostname = s->hostname;
			s->pub.cmdline = lp->cmdline;
			s->pub.wipe = have != FS_KIND_EXT4 || force || !ap->was_there;
			continue;
		}
		if (ap->want != FS_KIND_NONE) {
			struct step *s;

			if (have == ap->want) {
				s = add_step(a, DISK_STEP_NOTE, i, "keep %s on '%s'", fs_kind_to_string(have), lp->name);
				s->pub.partition = lp->name;
				continue;
			}
			if (have != FS_KIND_NONE && !force)
				return pb_err_set(err, -EEXIST, "%s holds %s; the layout asks for %s (--force replaces it)",
						  ap->where, fs_kind_to_string(have), fs_kind_to_string(ap->want));
			s = add_step(a, DISK_STEP_MKFS, i, "mkfs %s on '%s' (%s)", fs_kind_to_string(ap->want), lp->name,
				     pb_format_size(ap->p.size, sz, sizeof(sz)));
			s->pub.partition = lp->name;
			s->pub.fs = ap->want;
			continue;
		}
		if (lp->type == PART_TYPE_ESP && (l->bios || l->uefi) && have == FS_KIND_NONE) {
			struct step *s = add_step(a, DISK_STEP_NOTE, i, "vfat on '%s' made by the bootloader step", lp->name);

			s->pub.partition = lp->name;
		}
	}

	if (l->bios || l->uefi) {
		if (!a->changed && !force && boot_is_installed(d)) {
			add_step(a, DISK_STEP_NOTE, 0, "keep bootloader (--force installs it again)");
		} else {
			struct step *s = add_step(a, DISK_STEP_BOOTLOADER, 0, "bootloader %s%s%s%s%s", l->bios ? "bios" : "",
						  l->bios && l->uefi ? ", " : "", l->uefi ? "uefi" : "",
						  l->secure_boot ? " (Secure Boot: Debian's signed shim and GRUB)" : "",
						  l->bootloader_auto ? " (auto: what the partitions allow)" : "");

			s->pub.boot_flags = (l->bios ? BOOT_INSTALL_BIOS : 0) | (l->uefi ? BOOT_INSTALL_UEFI : 0) |
					    (l->secure_boot ? BOOT_INSTALL_SECURE_BOOT : 0);
		}
	} else if (a->changed && boot_is_installed(d)) {
		add_step(a, DISK_STEP_MENU, 0, "refresh the boot menu");
	}
	if (l->default_guest) {
		_cleanup_free_ char *cur = NULL;
		struct step *s;

		if (!a->changed && boot_env_read(d, &cur, NULL, NULL) == 0 && cur && !strcmp(cur, l->default_guest))
			s = add_step(a, DISK_STEP_NOTE, 0, "keep default %s", l->default_guest);
		else
			s = add_step(a, DISK_STEP_DEFAULT, 0, "default %s", l->default_guest);
		s->pub.guest = l->default_guest;
	}
	return 0;
}

/* Open the disk for the plan: the real one, or for a dry run on a disk that does not exist, a scratch copy. */
static int plan_open(struct disk_plan *a, const struct disk_diag *diag, struct pb_err *err)
{
	bool dry = a->flags & DISK_APPLY_DRY_RUN;
	struct part_disk *d = NULL;
	struct stat st;
	int r;

	if (stat(a->disk, &st) == 0) {
		r = part_disk_open(a->disk, (a->flags & DISK_APPLY_FORCE) ? PART_OPEN_FORCE : 0, a->l->size, &d, err);
		if (r < 0)
			return r;
		return disk_adopt(d, a->disk, diag, &a->k, err);
	}
	if (!a->l->size)
		return pb_err_set(err, -ENOENT, "%s: does not exist and %s has no [disk] size", a->disk, a->l->path);
	if (dry) {
		/* Plan against a scratch image of the same size: nothing is created; messages name the disk. */
		_cleanup_free_ char *dir = NULL;
		struct strbuf tmp = STRBUF_INIT;

		r = pb_mkdtemp("partboot-dry-run", PB_TMP_SMALL, &dir, err);
		if (r < 0)
			return r;
		strbuf_addf(&tmp, "%s/disk.img", dir);
		r = part_disk_open_as(tmp.buf, "a scratch image of its size", PART_OPEN_CREATE, a->l->size, &d, err);
		unlink(tmp.buf);
		rmdir(dir);
		strbuf_release(&tmp);
		if (r < 0)
			return pb_err_prefix(err, r, "%s: dry run: ", a->disk);
		part_disk_set_display(d, a->disk);
	} else {
		struct stat dst;

		r = part_disk_open(a->disk, PART_OPEN_CREATE | ((a->flags & DISK_APPLY_FORCE) ? PART_OPEN_FORCE : 0),
				   a->l->size, &d, err);
		if (r < 0)
			return r;
		/* Another run may have made it since the stat() above: then it is not ours to remove. */
		a->created = part_disk_created(d) && fstat(part_disk_fd(d), &dst) == 0;
		if (a->created) {
			a->dev = dst.st_dev;
			a->ino = dst.st_ino;
		}
	}
	if (dry || a->created)
		add_step(a, DISK_STEP_CREATE, 0, "create %s", a->disk);
	return disk_adopt(d, a->disk, diag, &a->k, err);
}

int disk_plan_new(const char *disk, const char *layout, const char *seed, unsigned flags,
		  const struct disk_diag *diag, struct disk_plan **ret, struct pb_err *err)
{
	struct part_layout_steps ls = { 0 };
	struct disk_plan *a;
	bool table_new;
	int r;

	a = xcalloc(1, sizeof(*a));
	a->disk = xstrdup(disk);
	a->flags = flags;
	r = part_layout_parse(layout, &a->l, err);
	if (r < 0)
		goto fail;
	seed = seed ? seed : a->l->seed;
	a->seed = seed ? xstrdup(seed) : NULL;
	a->parts = xcalloc(a->l->n_partitions ? a->l->n_partitions : 1, sizeof(*a->parts));

	/* 1. The layout alone. */
	r = validate_layout(a, err);
	if (r < 0)
		goto fail;

	/* 2. The table in memory, and the plan. */
	r = plan_open(a, diag, err);
	if (r < 0)
		goto fail;
	table_new = part_disk_table(disk_part(a->k)) != a->l->table;
	for (size_t i = 0; i < a->l->n_partitions; i++) {
		struct part_info p = { 0 };

		a->parts[i].was_there = part_disk_find(disk_part(a->k), a->l->partitions[i].name, &p, NULL) == 0;
		a->parts[i].p = p;
	}
	r = part_layout_apply(disk_part(a->k), a->l, a->seed, (flags & DISK_APPLY_FORCE) ? PART_APPLY_FORCE : 0, &ls,
			      err);
	if (r < 0)
		goto fail;
	table_steps(a, &ls);
	part_layout_steps_release(&ls);
	for (size_t i = 0; i < a->l->n_partitions; i++) {
		struct part_info p;

		/* Moved, resized or retyped (--force): whatever was inside is not kept. */
		if (a->parts[i].was_there && part_disk_find(disk_part(a->k), a->l->partitions[i].name, &p, NULL) == 0 &&
		    (p.start != a->parts[i].p.start || p.size != a->parts[i].p.size || p.type != a->parts[i].p.type))
			a->parts[i].was_there = false;
	}
	r = plan_steps(a, table_new, err);
	if (r < 0)
		goto fail;
	*ret = a;
	return 0;
fail:
	part_layout_steps_release(&ls);
	disk_plan_free(a);
	return r;
}

static int run_install(struct disk_plan *a, const struct step *s, struct pb_err *err)
{
	struct apply_part *ap = &a->parts[s->part];
	const struct part_layout_partition *lp = ap->lp;
	struct disk_install_opts io = {
		.source = ap->source,
		.wipe = s->pub.wipe,
		.label = lp->label,
		.hostname = s->hostname,
		.cmdline = lp->cmdline,
		.verbose = a->flags & DISK_APPLY_VERBOSE,
		.packages = ap->packages,
		.customize = disk_customize_empty(&ap->co) ? NULL : &ap->co,
	};

	return disk_install(a->k, lp->name, &io, NULL, err);
}

static int run_step(struct disk_plan *a, const struct step *s, struct pb_err *err)
{
	switch (s->pub.kind) {
	case DISK_STEP_MKFS: {
		const struct apply_part *ap = &a->parts[s->part];

		/* no menu refresh per filesystem: the bootloader or menu step comes after them all */
		return disk_mkfs_part(a->k, &ap->p, s->pub.fs, ap->lp->label, false, NULL, err);
	}
	case DISK_STEP_INSTALL:
		return run_install(a, s, err);
	case DISK_STEP_BOOTLOADER:
		return disk_bootloader_install(a->k, s->pub.boot_flags, err);
	case DISK_STEP_MENU:
		return disk_menu_refresh(a->k, NULL, err);
	case DISK_STEP_DEFAULT:
		return boot_set_default(disk_part(a->k), s->pub.guest, err);
	default:
		return 0;
	}
}

static bool is_table_step(enum disk_step_kind k)
{
	return k == DISK_STEP_CREATE || k == DISK_STEP_TABLE || k == DISK_STEP_ADD || k == DISK_STEP_KEEP;
}

int disk_plan_execute(struct disk_plan *a, struct pb_err *err)
{
	int r;

	if (a->flags & DISK_APPLY_DRY_RUN)
		return pb_err_set(err, -EINVAL, "%s: a dry-run plan cannot be carried out", a->disk);
	if (a->written)
		return pb_err_set(err, -EINVAL, "%s: the plan was carried out already", a->disk);

	/* 3. Writes, in this order. */
	for (size_t i = 0; i < a->n_steps; i++)
		if (is_table_step(a->steps[i].pub.kind))
			disk_note(a->k, "%s: %s", a->disk, a->steps[i].text);
	r = part_disk_write(disk_part(a->k), err);
	if (r < 0)
		return r;
	a->written = true;
	for (size_t i = 0; i < a->n_steps; i++) {
		if (is_table_step(a->steps[i].pub.kind))
			continue;
		disk_note(a->k, "%s: %s", a->disk, a->steps[i].text);
		r = run_step(a, &a->steps[i], err);
		if (r < 0)
			return r; /* the message names disk and partition; a re-run finishes the job */
	}
	disk_note(a->k, "%s: done", a->disk);
	return 0;
}
