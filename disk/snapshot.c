/* SPDX-License-Identifier: MIT */
/*
 * Snapshots of one guest: disk_snapshot() saves its partition to a file
 * (fs_snapshot_save(): sparse raw, or zstd), disk_snapshots() lists the
 * files of a folder that hold snapshots of it, disk_rollback() puts one
 * back, byte for byte.
 *
 * Where snapshots go unless told (--to FILE, --dir DIR): for an image file
 * DISK, the folder DISK.snapshots beside it, so they move and go with the
 * image; for a block device /var/lib/partboot/snapshots/DISK-ID/, by the
 * disk's GPT GUID or dos signature. A snapshot is named NAME-YYYYMMDD-
 * HHMMSS.img (.img.zst), and belongs to a partition by its PARTUUID.
 *
 * Reads and writes: a snapshot reads the disk only (it may be opened
 * read-only; the partition is locked, so a guest running in a VM, which
 * holds its partition's lock, is refused); a rollback writes that one
 * partition: the guest is marked incomplete and leaves the menu first, then
 * fs_snapshot_restore() writes it (incomplete until the last bytes), then
 * the menu lists it again.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/alloc.h"
#include "../common/macros.h"
#include "disk-private.h"

int disk_snapshot(struct disk *k, const char *name, const struct disk_snapshot_opts *o, struct disk_snapshot *ret,
		  struct pb_err *err)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT;
	struct fs_snapshot_opts so = { 0 };
	struct fs_snapshot_info info;
	struct disk_op c;
	time_t now = time(NULL);
	int r;

	r = disk_op_begin(k, name, &c, err);
	if (r >= 0)
		r = disk_op_need_guest(&c, false, err);
	if (r >= 0)
		r = disk_op_lock(&c, err);
	if (r < 0)
		goto out;
	if (o->to) {
		strbuf_addstr(&path, o->to);
	} else {
		struct tm tm;
		char stamp[32];

		r = disk_snapshot_dir(k, o->dir, !o->dir, &dir, err);
		if (r < 0)
			goto out;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
		for (int i = 1; i < 100; i++) {
			struct stat st;

			strbuf_reset(&path);
			strbuf_addf(&path, "%s/%s-%s", dir.buf, c.name, stamp);
			if (i > 1)
				strbuf_addf(&path, "-%d", i);
			strbuf_addstr(&path, o->zstd ? ".img.zst" : ".img");
			if (lstat(path.buf, &st) < 0)
				break;
		}
	}
	so.zstd = o->zstd;
	so.created = (int64_t)now;
	so.partition = c.name;
	so.partuuid = c.p.uuid;
	so.fs_uuid = c.g.probe.uuid;
	so.disk_id = part_disk_id(k->d);
	disk_op_progress(k, &so.progress, &so.userdata);
	r = fs_snapshot_save(&c.t, path.buf, &so, &info, err);
	if (r < 0)
		goto out;
	if (ret) {
		strbuf_reset(&ret->path);
		strbuf_add(&ret->path, path.buf, path.len);
		ret->info = info;
	}
out:
	strbuf_release(&dir);
	strbuf_release(&path);
	disk_op_end(&c);
	return r;
}

void disk_snapshot_release(struct disk_snapshot *s)
{
	if (s)
		strbuf_release(&s->path);
}

static int cmp_created(const void *a, const void *b)
{
	const struct disk_snapshot *x = a, *y = b;

	if (x->info.created != y->info.created)
		return (x->info.created > y->info.created) - (x->info.created < y->info.created);
	return strcmp(x->path.buf, y->path.buf);
}

int disk_snapshots(struct disk *k, const char *name, const char *dir, struct disk_snapshots *ret, struct pb_err *err)
{
	struct strbuf d = STRBUF_INIT;
	struct disk_snapshots l = { 0 };
	struct part_info p;
	DIR *dh = NULL;
	struct dirent *e;
	int r;

	r = part_disk_find(k->d, name, &p, err);
	if (r >= 0)
		r = disk_snapshot_dir(k, dir, false, &d, err);
	if (r < 0)
		goto out;
	dh = opendir(d.buf);
	if (!dh) {
		/* No folder yet: no snapshots. */
		if (errno == ENOENT && !dir)
			goto done;
		r = pb_err_set(err, -errno, "%s: %s", d.buf, strerror(errno));
		goto out;
	}
	while ((e = readdir(dh))) {
		struct disk_snapshot s = { .path = STRBUF_INIT };

		if (e->d_name[0] == '.')
			continue; /* also the temporary files of snapshots being written */
		strbuf_addf(&s.path, "%s/%s", d.buf, e->d_name);
		if (fs_snapshot_read_info(s.path.buf, &s.info, NULL) < 0 || strcmp(s.info.partuuid, p.uuid)) {
			strbuf_release(&s.path);
			continue;
		}
		if (l.n == l.cap) {
			l.cap = l.cap ? l.cap * 2 : 8;
			l.v = xreallocarray(l.v, l.cap, sizeof(*l.v));
		}
		l.v[l.n++] = s;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_created);
done:
	*ret = l;
	memset(&l, 0, sizeof(l));
out:
	if (dh)
		closedir(dh);
	disk_snapshots_release(&l);
	strbuf_release(&d);
	return r;
}

void disk_snapshots_release(struct disk_snapshots *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		strbuf_release(&l->v[i].path);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* fs_snapshot_restore_opts.before: the snapshot is good; the guest goes incomplete and leaves the menu. */
static int before_write(void *userdata, struct pb_err *err)
{
	struct disk_op *c = userdata;
	int r = 0;

	if (c->g.state == DISK_GUEST_COMPLETE)
		r = fs_mark_incomplete_for(&c->t, "rollback", part_disk_seed(c->k->d), err);
	if (r >= 0)
		r = disk_menu_refresh(c->k, c->p.name, err);
	return r;
}

int disk_rollback(struct disk *k, const char *name, const char *file, bool force, struct pb_err *err)
{
	struct fs_snapshot_restore_opts ro = { .before = before_write };
	struct fs_snapshot_info info;
	struct disk_op c;
	int r;

	r = disk_op_begin(k, name, &c, err);
	if (r >= 0)
		r = fs_snapshot_read_info(file, &info, err);
	if (r < 0)
		goto out;
	if (info.size != c.p.size) {
		r = pb_err_set(err, -EINVAL, "%s: %s is a snapshot of a partition of %" PRIu64 " bytes; this one has %"
			       PRIu64, c.where.buf, file, info.size, c.p.size);
		goto out;
	}
	if (!force && strcmp(info.partuuid, c.p.uuid)) {
		r = pb_err_set(err, -EINVAL, "%s: %s is a snapshot of partition '%s' (PARTUUID %s), not of this one "
			       "(%s); --force puts it here anyway", c.where.buf, file, info.partition, info.partuuid,
			       c.p.uuid);
		goto out;
	}
	r = disk_op_lock(&c, err);
	if (r < 0)
		goto out;
	ro.before_userdata = &c;
	ro.seed = part_disk_seed(k->d);
	disk_op_progress(k, &ro.progress, &ro.userdata);
	r = fs_snapshot_restore(file, &c.t, &ro, err);
	if (r < 0) {
		pb_err_prefix(err, r, "%s: rollback from %s failed: ", c.where.buf, file);
		goto out;
	}
	r = disk_menu_refresh(k, NULL, err);
	if (r < 0)
		pb_err_prefix(err, r, "%s: rolled back, but the boot menu was not refreshed: ", c.where.buf);
out:
	disk_op_end(&c);
	return r;
}
