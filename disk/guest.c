/* SPDX-License-Identifier: MIT */
/*
 * The guest model: the one place that decides what a guest is. list, the
 * boot menu, the VM runner, apply and the installers all ask here.
 *
 * A guest is a root or data partition holding ext2, ext3 or ext4. It is
 * complete unless an install left /.partboot-incomplete (fs.h); it is
 * bootable — it gets a menu entry — when it is complete, has a name (the
 * entry's id) and at least one kernel in /boot. Only reads.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
		g.state = DISK_GUEST_COMPLETE;
		if (!g.info.n_kernels)
			set_why(&g, "no kernel in /boot");
		else if (!p->name[0])
			set_why(&g, "the partition has no name to give its menu entry");
		else
			g.bootable = true;
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
	default:
		return "";
	}
}
