/* SPDX-License-Identifier: MIT */
/*
 * The guest model: the one place that decides what a guest is. list, the
 * boot menu, the VM runner, apply and the installers all ask here.
 *
 * A guest is a root or data partition holding ext2, ext3 or ext4. It is
 * incomplete while an install left /.partboot-incomplete (fs.h); complete
 * when partboot made it (or adopted it: FS_PARTBOOT_MARKER, or partboot's
 * fstab header in installs older than the marker), or when it holds no
 * Linux install at all (an empty or data filesystem); foreign when it holds
 * a Linux install partboot did not make. It is bootable — it gets a menu
 * entry — when it is complete or foreign, has a name (the entry's id) and
 * at least one kernel, in its /boot or on the /boot partition its fstab
 * names. Only reads.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/alloc.h"
#include "../common/debug.h"
#include "../common/macros.h"
#include "disk-private.h"

static bool is_ext(const char *fstype)
{
	return !strcmp(fstype, "ext4") || !strcmp(fstype, "ext3") || !strcmp(fstype, "ext2");
}

static void set_why(struct disk_guest *g, const char *why)
{
	free((char *)g->why);
	g->why = why ? xstrdup(why) : NULL;
}

void disk_guest_release(struct disk_guest *g)
{
	fs_guest_info_release(&g->info);
	free((char *)g->why);
	free((char *)g->skipped);
	g->why = NULL;
	g->skipped = NULL;
}

/*
 * A kernel or initrd file name the boot menu may carry: letters, digits and
 * "._+~-" in its base name, what Debian's kernel and initrd names use. A
 * guest chooses these names; one holding a newline, '}' or a quote is no
 * kernel partboot offers.
 */
static bool boot_name_safe(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (!*base)
		return false;
	for (; *base; base++)
		if (!isalnum((unsigned char)*base) && !strchr("._+~-", *base))
			return false;
	return true;
}

/* path for a message: bytes outside printable ASCII as \xNN. */
static void add_shown(struct strbuf *sb, const char *path)
{
	for (; *path; path++) {
		unsigned char c = (unsigned char)*path;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			strbuf_addf(sb, "\\x%02x", c);
		else
			strbuf_addch(sb, (char)c);
	}
}

/* Drop the kernels whose file names are not boot_name_safe(); say which in g->skipped. */
static void drop_unsafe_kernels(struct disk_guest *g)
{
	struct fs_guest_info *gi = &g->info;
	struct strbuf why = STRBUF_INIT;
	size_t kept = 0;

	for (size_t i = 0; i < gi->n_kernels; i++) {
		struct fs_kernel *kn = &gi->kernels[i];
		const char *bad = !boot_name_safe(kn->kernel) ? kn->kernel
				  : kn->initrd && !boot_name_safe(kn->initrd) ? kn->initrd
									      : NULL;

		if (!bad) {
			gi->kernels[kept++] = *kn;
			continue;
		}
		strbuf_addstr(&why, why.len ? "; " : "");
		add_shown(&why, bad);
		free(kn->version);
		free(kn->kernel);
		free(kn->initrd);
	}
	gi->n_kernels = kept;
	if (why.len) {
		strbuf_addstr(&why, ": a file name with characters other than letters, digits and ._+~- cannot go "
				    "in the boot menu; that kernel is left out");
		free((char *)g->skipped);
		g->skipped = strbuf_detach(&why, NULL);
	}
	strbuf_release(&why);
}

/* Does partition p (probed as pr) match an fstab source ("UUID=...", "/dev/disk/by-label/...")? */
static bool source_matches(const char *src, const struct part_info *p, const struct part_probe *pr)
{
	static const struct {
		const char *tag, *dir;
		int what; /* 0 fs UUID, 1 PARTUUID, 2 fs label, 3 partition name */
	} forms[] = {
		{ "UUID=", "/dev/disk/by-uuid/", 0 },
		{ "PARTUUID=", "/dev/disk/by-partuuid/", 1 },
		{ "LABEL=", "/dev/disk/by-label/", 2 },
		{ "PARTLABEL=", "/dev/disk/by-partlabel/", 3 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
		const char *v = NULL, *have;

		if (!strncmp(src, forms[i].tag, strlen(forms[i].tag)))
			v = src + strlen(forms[i].tag);
		else if (!strncmp(src, forms[i].dir, strlen(forms[i].dir)))
			v = src + strlen(forms[i].dir);
		if (!v)
			continue;
		have = forms[i].what == 0 ? pr->uuid : forms[i].what == 1 ? p->uuid : forms[i].what == 2 ? pr->label : p->name;
		if (!*v || !*have)
			return false;
		/* identifiers are hex: any case; labels are exact */
		return forms[i].what < 2 ? !strcasecmp(v, have) : !strcmp(v, have);
	}
	return false;
}

/*
 * The partition of k that fstab's /boot source names, other than p itself.
 * -ENOENT when none does (a /dev/sdXN name cannot be resolved: it is the
 * real machine's).
 */
static int boot_part_find(struct disk *k, const struct part_info *p, const char *src, struct part_info *ret,
			  struct part_probe *ret_probe)
{
	size_t n = part_disk_count(k->d);

	for (size_t i = 0; i < n; i++) {
		struct part_info q;
		struct part_probe pr;

		if (part_disk_get(k->d, i, &q) < 0 || q.partno == p->partno)
			continue;
		if (part_disk_probe(k->d, &q, &pr) < 0)
			continue;
		if (source_matches(src, &q, &pr)) {
			*ret = q;
			*ret_probe = pr;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * A separate /boot: find its partition and read the kernels from there. A
 * /boot partition that is not ext2/3/4 leaves the guest without kernels and
 * says why. One that is not on this disk leaves the kernels of the root's own
 * /boot (a root copied from another machine with its /boot files, whose
 * fstab names that machine's partition, boots from them; partboot's fstab
 * makes that mount nofail), or says why when there are none.
 */
static void guest_boot_part(struct disk *k, struct disk_guest *g, struct strbuf *why)
{
	const char *src = g->info.boot_source, *type = g->info.boot_fstype;
	struct pb_err err = PB_ERR_INIT;
	struct strbuf where = STRBUF_INIT;
	struct fs *fs = NULL;
	struct fs_target t;
	struct fs_kernel *kernels = NULL;
	size_t n = 0;
	char name[80];
	int r;

	if (boot_part_find(k, &g->part, src, &g->boot_part, &g->boot_probe) < 0) {
		memset(&g->boot_part, 0, sizeof(g->boot_part));
		memset(&g->boot_probe, 0, sizeof(g->boot_probe));
		if (!g->info.n_kernels)
			strbuf_addf(why, "its /boot (%s in its fstab) is not a partition of this disk", src);
		goto out;
	}
	if (!is_ext(g->boot_probe.fstype)) {
		strbuf_addf(why, "its /boot (partition %u) holds %s; partboot reads kernels from ext2/3/4 only",
			    g->boot_part.partno, g->boot_probe.fstype[0] ? g->boot_probe.fstype : type ? type : "nothing");
		goto drop;
	}
	disk_part_name(&g->boot_part, name, sizeof(name));
	disk_part_where(k, &g->boot_part, &where);
	t = disk_target(k, &g->boot_part, where.buf, name);
	r = fs_open(&t, &fs, &err);
	if (r >= 0)
		r = fs_boot_kernels(fs, "/", &kernels, &n, &err);
	fs_free(fs);
	if (r < 0) {
		strbuf_addf(why, "its /boot (partition %u) cannot be read: %s", g->boot_part.partno, pb_err_msg(&err));
		goto drop;
	}
	g->has_boot = true;
	fs_kernels_free(g->info.kernels, g->info.n_kernels);
	g->info.kernels = kernels;
	g->info.n_kernels = n;
	if (!n)
		strbuf_addf(why, "no kernel in its /boot (partition %u)", g->boot_part.partno);
	goto out;
drop:
	/* what the root's own /boot directory holds is hidden under the mount on the real system */
	fs_kernels_free(g->info.kernels, g->info.n_kernels);
	g->info.kernels = NULL;
	g->info.n_kernels = 0;
out:
	strbuf_release(&where);
	pb_err_clear(&err);
}

int disk_guest_probe(struct disk *k, const struct part_info *p, struct disk_guest *ret)
{
	struct disk_guest g = { .part = *p };
	struct pb_err err = PB_ERR_INIT;
	struct strbuf where = STRBUF_INIT;
	struct fs *fs = NULL;
	struct fs_target t;
	char name[80];
	int r;

	if (part_disk_probe(k->d, p, &g.probe) < 0)
		memset(&g.probe, 0, sizeof(g.probe));
	if ((p->type != PART_TYPE_ROOT && p->type != PART_TYPE_DATA) || !is_ext(g.probe.fstype))
		goto out;

	disk_part_name(p, name, sizeof(name));
	disk_part_where(k, p, &where);
	t = disk_target(k, p, where.buf, name);
	r = fs_open(&t, &fs, &err);
	if (r >= 0)
		r = fs_guest_info(fs, &g.info, &err);
	fs_free(fs);
	if (r >= 0)
		drop_unsafe_kernels(&g);
	if (r < 0) {
		g.state = DISK_GUEST_UNREADABLE;
		set_why(&g, pb_err_msg(&err));
		goto out;
	}
	if (!g.info.complete) {
		g.state = DISK_GUEST_INCOMPLETE;
		set_why(&g, "guest is incomplete (install interrupted or under way)");
	} else {
		struct strbuf why = STRBUF_INIT;
		bool has_os = g.info.pretty_name || g.info.n_kernels || g.info.boot_source;

		g.state = g.info.partboot || !has_os ? DISK_GUEST_COMPLETE : DISK_GUEST_FOREIGN;
		if (g.info.boot_source)
			guest_boot_part(k, &g, &why);
		if (why.len)
			set_why(&g, why.buf);
		else if (!g.info.n_kernels)
			set_why(&g, "no kernel in /boot");
		else if (!p->name[0])
			set_why(&g, "the partition has no name to give its menu entry");
		else
			g.bootable = true;
		strbuf_release(&why);
	}
out:
	PB_DEBUG(PB_DEBUG_DISK, "%s: partition %u: %s %s%s%s%s", k->path, p->partno, g.probe.fstype[0] ? g.probe.fstype : "-",
		 disk_guest_state_to_string(g.state), g.bootable ? " bootable" : "", g.why ? ": " : "",
		 g.why ? g.why : "");
	strbuf_release(&where);
	pb_err_clear(&err);
	*ret = g;
	return 0;
}

int disk_guest_scan(struct disk *k, struct disk_guests *ret, struct pb_err *err)
{
	size_t n = part_disk_count(k->d);
	struct disk_guests gs = { 0 };

	gs.v = xcalloc(n ? n : 1, sizeof(*gs.v));
	for (size_t i = 0; i < n; i++) {
		struct part_info p;
		int r = part_disk_get(k->d, i, &p);

		if (r < 0) {
			disk_guests_release(&gs);
			return pb_err_set(err, r, "%s: cannot read partition %zu", k->path, i + 1);
		}
		disk_guest_probe(k, &p, &gs.v[gs.n++]);
	}
	*ret = gs;
	return 0;
}

void disk_guests_release(struct disk_guests *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		disk_guest_release(&g->v[i]);
	free(g->v);
	g->v = NULL;
	g->n = 0;
}

const struct disk_guest *disk_guests_find(const struct disk_guests *g, const char *name)
{
	char *end;
	unsigned long nr = strtoul(name, &end, 10);
	bool number = *name && !*end;

	for (size_t i = 0; i < g->n; i++)
		if (number ? g->v[i].part.partno == nr : !strcmp(g->v[i].part.name, name))
			return &g->v[i];
	return NULL;
}

const char *disk_guest_state_to_string(enum disk_guest_state s)
{
	switch (s) {
	case DISK_GUEST_COMPLETE:
		return "complete";
	case DISK_GUEST_INCOMPLETE:
		return "incomplete";
	case DISK_GUEST_UNREADABLE:
		return "unreadable";
	case DISK_GUEST_FOREIGN:
		return "foreign";
	default:
		return "";
	}
}
