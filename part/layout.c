/* SPDX-License-Identifier: MIT */
/*
 * Layout files: parsing (libinih, line by line, so every message says
 * FILE:LINE) and applying a layout to the table in memory. Nothing here
 * writes to the disk; the caller decides to part_disk_write().
 */
#include <ini.h>
#include <string.h>
#include <sys/stat.h>

#include "part-private.h"

enum {
	K_TYPE, K_SIZE, K_LABEL, K_FS, K_SOURCE, K_HOSTNAME, K_CMDLINE,
	/* what goes into the guest (disk/customize.c); strings, each with its line */
	K_ROOT_PASSWORD_FILE, K_ROOT_PASSWORD, K_USER, K_USER_PASSWORD_FILE, K_SSH_KEY, K_FIRSTBOOT, K_PACKAGES,
	K_CLOUD_INIT, K_META_DATA, K_N_PART
};
enum { K_DSIZE, K_TABLE, K_SEED, K_BOOTLOADER, K_DEFAULT, K_SECURE_BOOT, K_N_DISK };

static const char *const part_keys[K_N_PART] = {
	"type",    "size",     "label",     "fs",         "source",   "hostname",  "cmdline", "root-password-file",
	"root-password", "user", "user-password-file", "ssh-key", "firstboot", "packages", "cloud-init", "meta-data",
};
static const char *const disk_keys[K_N_DISK] = { "size", "table", "seed", "bootloader", "default", "secure_boot" };

struct parser {
	struct part_layout *l;
	const char *file;
	/* the input, fed to inih line by line so the current line is known */
	const char *buf;
	size_t len, pos;
	unsigned line;
	/* current section: -1 none, 0 [disk], 1 [partition] */
	int section;
	unsigned disk_line;
	unsigned disk_key_line[K_N_DISK];
	unsigned (*part_key_line)[K_N_PART]; /* per partition */
	unsigned default_line, rest_line;
	bool bootloader_auto, bootloader_none; /* bootloader = auto, none */
	/* the first error */
	int error;
	unsigned error_line;
	struct pb_err *err;
};

static int perror_at(struct parser *ps, unsigned line, int code, const char *fmt, ...) _printf_(4, 5);
static int perror_at(struct parser *ps, unsigned line, int code, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (ps->error)
		return 0;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	ps->error = code;
	ps->error_line = line;
	pb_err_set(ps->err, code, "%s:%u: %s", ps->file, line, sb.buf);
	strbuf_release(&sb);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

/* A [section] header line: registered here, where its line number is known. */
static void section_start(struct parser *ps, char *line)
{
	struct part_layout *l = ps->l;
	char *end = strchr(line, ']'), *name;
	struct part_layout_partition *p;
	unsigned (*kl)[K_N_PART];

	if (!end)
		return; /* inih reports the malformed header */
	*end = 0;
	name = trim(line + 1);
	if (!strcmp(name, "disk")) {
		if (ps->disk_line) {
			perror_at(ps, ps->line, -EINVAL, "duplicate section [disk] (first on line %u)", ps->disk_line);
			return;
		}
		ps->disk_line = ps->line;
		ps->section = 0;
		return;
	}
	if (strncmp(name, "partition", 9) || (name[9] != ' ' && name[9] != '\t')) {
		perror_at(ps, ps->line, -EINVAL, "unknown section [%s] (expected [disk] or [partition NAME])", name);
		return;
	}
	name = trim(name + 9);
	if (!*name) {
		perror_at(ps, ps->line, -EINVAL, "[partition] needs a name: [partition NAME]");
		return;
	}
	for (size_t i = 0; i < l->n_partitions; i++)
		if (!strcmp(l->partitions[i].name, name)) {
			perror_at(ps, ps->line, -EINVAL, "duplicate section [partition %s] (first on line %u)", name,
				  l->partitions[i].line);
			return;
		}
	p = xreallocarray(l->partitions, l->n_partitions + 1, sizeof(*p));
	l->partitions = p;
	kl = xreallocarray(ps->part_key_line, l->n_partitions + 1, sizeof(*kl));
	ps->part_key_line = kl;
	memset(&kl[l->n_partitions], 0, sizeof(*kl));
	p = &l->partitions[l->n_partitions];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	p->line = ps->line;
	l->n_partitions++;
	ps->section = 1;
}

/* ini_reader: one line of the buffer per call; notes section headers. */
static char *reader(char *str, int num, void *stream)
{
	struct parser *ps = stream;
	size_t n = 0;
	char copy[512], *s;

	if (ps->pos >= ps->len || ps->error)
		return NULL;
	while (ps->pos < ps->len && n + 1 < (size_t)num) {
		char c = ps->buf[ps->pos++];

		str[n++] = c;
		if (c == '\n')
			break;
	}
	str[n] = 0;
	ps->line++;
	/*
	 * inih reads a line into a buffer of num bytes and parses whatever did
	 * not fit as a line of its own: a long cmdline's tail could be
	 * "hostname = ...". A line that does not fit is refused instead.
	 */
	if (n && str[n - 1] != '\n' && ps->pos < ps->len) {
		perror_at(ps, ps->line, -EINVAL, "line longer than %d bytes (the longest a layout line may be)", num - 2);
		return NULL;
	}
	snprintf(copy, sizeof(copy), "%s", str);
	s = trim(copy);
	if (*s == '[')
		section_start(ps, s);
	return str;
}

static int dup_value(struct parser *ps, char **dst, const char *value)
{
	*dst = xstrdup(value);
	return 1;
}

static int disk_key(struct parser *ps, const char *name, const char *value)
{
	struct part_layout *l = ps->l;
	int k = -1;

	for (int i = 0; i < K_N_DISK; i++)
		if (!strcmp(name, disk_keys[i]))
			k = i;
	if (k < 0)
		return perror_at(ps, ps->line, -EINVAL,
				 "unknown key '%s' in [disk] (size, table, seed, bootloader, secure_boot, default)",
				 name);
	if (ps->disk_key_line[k])
		return perror_at(ps, ps->line, -EINVAL, "duplicate key '%s' in [disk] (first on line %u)", name,
				 ps->disk_key_line[k]);
	ps->disk_key_line[k] = ps->line;
	switch (k) {
	case K_DSIZE:
		if (pb_parse_size(value, &l->size) < 0 || !l->size)
			return perror_at(ps, ps->line, -EINVAL, "bad size '%s' (a number with K, M, G or T)", value);
		return 1;
	case K_TABLE:
		if (!strcmp(value, "gpt"))
			l->table = PART_TABLE_GPT;
		else if (!strcmp(value, "dos"))
			l->table = PART_TABLE_DOS;
		else
			return perror_at(ps, ps->line, -EINVAL, "bad table '%s' (gpt or dos)", value);
		return 1;
	case K_SEED:
		if (!part_seed_valid(value))
			return perror_at(ps, ps->line, -EINVAL,
					 "bad seed: at most %d bytes (it is kept in partboot's record), no control characters",
					 PART_SEED_MAX);
		return dup_value(ps, &l->seed, value);
	case K_BOOTLOADER: {
		_cleanup_free_ char *v = xstrdup(value);
		char *save = NULL;

		for (char *t = strtok_r(v, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
			if (!strcmp(t, "bios"))
				l->bios = true;
			else if (!strcmp(t, "uefi"))
				l->uefi = true;
			else if (!strcmp(t, "auto"))
				ps->bootloader_auto = true;
			else if (!strcmp(t, "none"))
				ps->bootloader_none = true;
			else
				return perror_at(ps, ps->line, -EINVAL,
						 "bad bootloader '%s' (auto, none, or bios, uefi or both)", t);
		}
		if ((ps->bootloader_auto || ps->bootloader_none) && (l->bios || l->uefi || (ps->bootloader_auto && ps->bootloader_none)))
			return perror_at(ps, ps->line, -EINVAL, "bootloader = %s stands alone (not with bios, uefi or %s)",
					 ps->bootloader_auto ? "auto" : "none", ps->bootloader_auto ? "none" : "auto");
		return 1;
	}
	case K_SECURE_BOOT:
		if (!strcmp(value, "yes"))
			l->secure_boot = true;
		else if (!strcmp(value, "no"))
			l->secure_boot = false;
		else
			return perror_at(ps, ps->line, -EINVAL, "bad secure_boot '%s' (yes or no)", value);
		return 1;
	case K_DEFAULT:
		ps->default_line = ps->line;
		return dup_value(ps, &l->default_guest, value);
	}
	return 1;
}

static int partition_key(struct parser *ps, const char *name, const char *value)
{
	struct part_layout_partition *p = &ps->l->partitions[ps->l->n_partitions - 1];
	unsigned *kl = ps->part_key_line[ps->l->n_partitions - 1];
	int k = -1;

	for (int i = 0; i < K_N_PART; i++)
		if (!strcmp(name, part_keys[i]))
			k = i;
	if (k < 0)
		return perror_at(ps, ps->line, -EINVAL,
				 "unknown key '%s' in [partition %s] (type, size, label, fs, source, hostname, cmdline, "
				 "root-password-file, root-password, user, user-password-file, ssh-key, firstboot, "
				 "packages, cloud-init, meta-data)",
				 name, p->name);
	if (kl[k])
		return perror_at(ps, ps->line, -EINVAL, "duplicate key '%s' in [partition %s] (first on line %u)", name,
				 p->name, kl[k]);
	kl[k] = ps->line;
	switch (k) {
	case K_TYPE:
		if (part_type_from_string(value, &p->type) < 0)
			return perror_at(ps, ps->line, -EINVAL, "unknown type '%s' (esp, bios-boot, root, swap, data)",
					 value);
		return 1;
	case K_SIZE:
		if (!strcmp(value, "rest")) {
			if (ps->rest_line)
				return perror_at(ps, ps->line, -EINVAL, "only one partition can take the rest (line %u does)",
						 ps->rest_line);
			ps->rest_line = ps->line;
			p->size = 0;
			return 1;
		}
		if (pb_parse_size(value, &p->size) < 0)
			return perror_at(ps, ps->line, -EINVAL, "bad size '%s' (a number with K, M, G or T, or rest)",
					 value);
		if (!p->size)
			return perror_at(ps, ps->line, -EINVAL, "size 0: a partition needs a size larger than zero");
		/* aligned to 1 MiB it would wrap to 0, "the rest" */
		if (p->size > UINT64_MAX - (PART_ALIGN - 1))
			return perror_at(ps, ps->line, -EINVAL, "size '%s' is larger than any disk", value);
		return 1;
	case K_LABEL:
		if (strlen(value) > PART_LABEL_MAX)
			return perror_at(ps, ps->line, -EINVAL, "label longer than %d characters", PART_LABEL_MAX);
		return dup_value(ps, &p->label, value);
	case K_FS:
		if (strcmp(value, "ext4") && strcmp(value, "vfat") && strcmp(value, "swap") && strcmp(value, "none"))
			return perror_at(ps, ps->line, -EINVAL, "unknown fs '%s' (ext4, vfat, swap or none)", value);
		return dup_value(ps, &p->fs, value);
	case K_SOURCE:
		return dup_value(ps, &p->source, value);
	case K_HOSTNAME:
		return dup_value(ps, &p->hostname, value);
	case K_CMDLINE:
		return dup_value(ps, &p->cmdline, value);
	case K_ROOT_PASSWORD:
		if (strcmp(value, "locked") && strcmp(value, "disabled"))
			return perror_at(ps, ps->line, -EINVAL,
					 "root-password takes locked or disabled (a password goes in root-password-file)");
		/* fall through */
	default:
		return dup_value(ps, &p->guest[k - K_ROOT_PASSWORD_FILE], value);
	}
	return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parser *ps = user;

	if (ps->error)
		return 1;
	if (!name)
		return 1;
	if (ps->section < 0)
		return perror_at(ps, ps->line, -EINVAL, "key '%s' outside any section", name);
	if (!value || !*value)
		return perror_at(ps, ps->line, -EINVAL, "key '%s' has no value", name);
	return ps->section == 0 ? disk_key(ps, name, value) : partition_key(ps, name, value);
}

/*
 * bootloader = auto, or no bootloader key with an esp in the layout: GRUB for
 * every firmware the partitions allow, as `partboot bootloader` does without
 * options: UEFI (the esp is there), BIOS on a dos table (the gap after the
 * MBR) or with a bios-boot partition. Then secure_boot needs UEFI.
 */
static void resolve_bootloader(struct parser *ps)
{
	struct part_layout *l = ps->l;
	unsigned line = ps->disk_key_line[K_BOOTLOADER];
	bool esp = false, bios_boot = false;

	for (size_t i = 0; i < l->n_partitions; i++) {
		esp |= l->partitions[i].type == PART_TYPE_ESP;
		bios_boot |= l->partitions[i].type == PART_TYPE_BIOS_BOOT;
	}
	if (ps->bootloader_auto || (!line && esp)) {
		if (!esp) {
			perror_at(ps, line, -EINVAL,
				  "bootloader = auto needs an esp partition (grub.cfg and grubenv live there; 64M is usual)");
			return;
		}
		l->bootloader_auto = true;
		l->uefi = true;
		l->bios = l->table == PART_TABLE_DOS || bios_boot;
	}
	if (l->secure_boot && !l->uefi)
		perror_at(ps, ps->disk_key_line[K_SECURE_BOOT], -EINVAL,
			  "secure_boot = yes needs a UEFI bootloader (bootloader = uefi, or auto with an esp partition)");
}

void part_layout_free(struct part_layout *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_partitions; i++) {
		struct part_layout_partition *p = &l->partitions[i];

		free(p->name);
		free(p->label);
		free(p->fs);
		free(p->source);
		free(p->hostname);
		free(p->cmdline);
		for (size_t k = 0; k < PART_LAYOUT_GUEST_KEYS; k++)
			free(p->guest[k]);
	}
	free(l->partitions);
	free(l->path);
	free(l->seed);
	free(l->default_guest);
	free(l);
}

int part_layout_parse(const char *path, struct part_layout **ret, struct pb_err *err)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	struct parser ps = { .file = path, .section = -1, .err = err };
	struct part_layout *l;
	struct stat st;
	size_t n;
	int r;

	f = fopen(path, "re");
	if (!f)
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return pb_err_set(err, -EISDIR, "%s: is a directory, not a layout file", path);
	if (st.st_size > 1024 * 1024)
		return pb_err_set(err, -EFBIG, "%s: too large for a layout file", path);
	buf = xmalloc((size_t)st.st_size + 1);
	n = fread(buf, 1, (size_t)st.st_size, f);
	buf[n] = 0;
	if (!n)
		return pb_err_set(err, -EINVAL, "%s: empty layout file", path);
	if (memchr(buf, 0, n)) {
		unsigned line = 1;

		for (const char *s = buf; *s; s++)
			line += *s == '\n';
		return pb_err_set(err, -EINVAL, "%s:%u: not a text file (NUL byte)", path, line);
	}

	l = xcalloc(1, sizeof(*l));
	l->path = xstrdup(path);
	l->table = PART_TABLE_GPT;
	ps.l = l;
	ps.buf = buf;
	ps.len = n;

	/* A file cut short mid-write usually ends without its last newline; its
	 * last line cannot be trusted, so say so before parsing it. */
	if (buf[n - 1] != '\n') {
		unsigned line = 1;

		for (size_t i = 0; i < n; i++)
			line += buf[i] == '\n';
		perror_at(&ps, line, -EINVAL, "truncated: the last line has no newline");
	}
	if (!ps.error)
		r = ini_parse_stream(reader, &ps, handler, &ps);
	else
		r = 0;
	if (r > 0 && (!ps.error || (unsigned)r < ps.error_line)) {
		pb_err_set(err, -EINVAL, "%s:%d: malformed line (expected [section], key = value, or a comment)",
			   path, r);
		ps.error = -EINVAL;
	} else if (r < 0 && !ps.error) {
		pb_err_set(err, -ENOMEM, "%s: cannot parse (out of memory)", path);
		ps.error = -ENOMEM;
	}
	if (!ps.error && !ps.disk_line && !l->n_partitions)
		perror_at(&ps, 1, -EINVAL, "no [disk] or [partition NAME] section");
	for (size_t i = 0; !ps.error && i < l->n_partitions; i++) {
		struct part_layout_partition *p = &l->partitions[i];

		if (!ps.part_key_line[i][K_TYPE])
			perror_at(&ps, p->line, -EINVAL, "[partition %s] has no type", p->name);
		else if (!ps.part_key_line[i][K_SIZE])
			perror_at(&ps, p->line, -EINVAL, "[partition %s] has no size", p->name);
		else if (p->type == PART_TYPE_BIOS_BOOT && l->table == PART_TABLE_DOS)
			perror_at(&ps, ps.part_key_line[i][K_TYPE], -EINVAL,
				  "[partition %s]: no bios-boot partition on a dos table (GRUB uses the gap after the MBR)",
				  p->name);
		for (size_t j = 0; !ps.error && j < i; j++)
			if ((p->type == PART_TYPE_ESP || p->type == PART_TYPE_BIOS_BOOT) &&
			    l->partitions[j].type == p->type)
				perror_at(&ps, ps.part_key_line[i][K_TYPE], -EINVAL,
					  "[partition %s]: a second %s partition (first: %s)", p->name,
					  part_type_to_string(p->type), l->partitions[j].name);
	}
	if (!ps.error)
		resolve_bootloader(&ps);
	if (!ps.error && l->default_guest) {
		bool found = false;

		for (size_t i = 0; i < l->n_partitions; i++)
			found |= !strcmp(l->partitions[i].name, l->default_guest);
		if (!found)
			perror_at(&ps, ps.default_line, -EINVAL, "default '%s' is not a partition of this layout",
				  l->default_guest);
	}
	for (size_t i = 0; i < l->n_partitions && ps.part_key_line; i++) {
		struct part_layout_partition *p = &l->partitions[i];
		unsigned *kl = ps.part_key_line[i];

		p->type_line = kl[K_TYPE];
		p->size_line = kl[K_SIZE];
		p->label_line = kl[K_LABEL];
		p->fs_line = kl[K_FS];
		p->source_line = kl[K_SOURCE];
		p->hostname_line = kl[K_HOSTNAME];
		p->cmdline_line = kl[K_CMDLINE];
		for (size_t k = 0; k < PART_LAYOUT_GUEST_KEYS; k++)
			p->guest_line[k] = kl[K_ROOT_PASSWORD_FILE + k];
	}
	l->size_line = ps.disk_key_line[K_DSIZE];
	l->table_line = ps.disk_key_line[K_TABLE];
	l->seed_line = ps.disk_key_line[K_SEED];
	l->bootloader_line = ps.disk_key_line[K_BOOTLOADER];
	l->default_line = ps.disk_key_line[K_DEFAULT];
	l->secure_boot_line = ps.disk_key_line[K_SECURE_BOOT];
	free(ps.part_key_line);
	if (ps.error) {
		part_layout_free(l);
		return ps.error;
	}
	*ret = l;
	return 0;
}

static uint64_t align_mib(uint64_t v)
{
	return (v + PART_ALIGN - 1) / PART_ALIGN * PART_ALIGN;
}

/* Record one step (steps may be NULL: nobody asked). */
static void step_add(struct part_layout_steps *steps, enum part_layout_step_kind kind, const struct part_info *p)
{
	struct part_layout_step *v;

	if (!steps)
		return;
	v = xreallocarray(steps->v, steps->n + 1, sizeof(*v));
	steps->v = v;
	v[steps->n].kind = kind;
	if (p)
		v[steps->n].p = *p;
	else
		memset(&v[steps->n].p, 0, sizeof(v[steps->n].p));
	steps->n++;
}

void part_layout_steps_release(struct part_layout_steps *steps)
{
	if (!steps)
		return;
	free(steps->v);
	steps->v = NULL;
	steps->n = 0;
}

int part_layout_apply(struct part_disk *d, const struct part_layout *l, const char *seed, unsigned flags,
		      struct part_layout_steps *plan, struct pb_err *err)
{
	bool force = flags & PART_APPLY_FORCE;
	char a[32], b[32];
	int r;

	if (!seed)
		seed = l->seed;
	if (l->size && l->size > d->size)
		return pb_err_set(err, -ENOSPC, "%s:%u: size %s, but %s is %s", l->path, l->size_line,
				  pb_format_size(l->size, b, sizeof(b)), d->display, pb_format_size(d->size, a, sizeof(a)));
	if (d->table != PART_TABLE_NONE && d->table != l->table && !force)
		return pb_err_set(err, -EEXIST, "%s: has a %s table, the layout asks for %s (--force replaces it)",
				  d->display, part_table_to_string(d->table), part_table_to_string(l->table));

	/* Every existing partition the layout names must match, unless --force. */
	if (d->table == l->table) {
		for (size_t i = 0; i < l->n_partitions; i++) {
			const struct part_layout_partition *lp = &l->partitions[i];
			struct part_probe pr;
			struct part_info p;

			if (part_disk_find(d, lp->name, &p, NULL) < 0)
				continue;
			/* Only a filesystem is data worth refusing for: an empty partition may change. */
			if (part_disk_probe(d, &p, &pr) == 0 && !pr.fstype[0])
				continue;
			if (p.type != lp->type && !force)
				return pb_err_set(err, -EEXIST,
						  "%s: partition '%s' is %s on the disk, the layout says %s (--force changes it)",
						  d->display, lp->name, part_type_to_string(p.type),
						  part_type_to_string(lp->type));
			if (lp->size && align_mib(lp->size) != p.size && !force)
				return pb_err_set(err, -EEXIST,
						  "%s: partition '%s' is %s on the disk, the layout says %s (--force resizes it)",
						  d->display, lp->name, pb_format_size(p.size, a, sizeof(a)),
						  pb_format_size(align_mib(lp->size), b, sizeof(b)));
		}
	}

	if (d->table != l->table) {
		r = part_disk_new_table(d, l->table, seed, err);
		if (r < 0)
			return r;
		step_add(plan, PART_LAYOUT_TABLE, NULL);
	} else if (seed) {
		/* without one, the seed kept with the disk (if any) stays in use */
		part_disk_set_seed(d, seed);
	}

	/* Changes (--force) and kept partitions first, then additions: fixed sizes
	 * in file order, the "rest" partition last so it gets what is left. */
	for (size_t i = 0; i < l->n_partitions; i++) {
		const struct part_layout_partition *lp = &l->partitions[i];
		struct part_info p;

		if (part_disk_find(d, lp->name, &p, NULL) < 0)
			continue;
		if (p.type != lp->type) {
			r = part_table_set_type(d, &p, lp->type, err);
			if (r < 0)
				return r;
		}
		if (lp->size && align_mib(lp->size) != p.size) {
			r = part_disk_resize(d, lp->name, lp->size, 0, err);
			if (r < 0)
				return pb_err_prefix(err, r, "%s:%u: ", l->path, lp->size_line ? lp->size_line : lp->line);
		}
		part_disk_find(d, lp->name, &p, NULL);
		step_add(plan, PART_LAYOUT_KEEP, &p);
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < l->n_partitions; i++) {
			const struct part_layout_partition *lp = &l->partitions[i];
			struct part_spec spec = { .name = lp->name, .type = lp->type, .size = lp->size, .label = lp->label };
			struct part_info p;

			if ((pass == 0) != (lp->size != 0) || part_disk_find(d, lp->name, NULL, NULL) == 0)
				continue;
			r = part_disk_add(d, &spec, &p, err);
			if (r < 0)
				return pb_err_prefix(err, r, "%s:%u: ", l->path, lp->size_line ? lp->size_line : lp->line);
			step_add(plan, PART_LAYOUT_ADD, &p);
		}
	for (size_t i = 0; plan && i < part_disk_count(d); i++) {
		struct part_info p;
		bool named = false;

		part_disk_get(d, i, &p);
		for (size_t j = 0; j < l->n_partitions; j++)
			named |= !strcmp(p.name, l->partitions[j].name);
		if (!named)
			step_add(plan, PART_LAYOUT_KEEP_OTHER, &p);
	}
	return 0;
}
