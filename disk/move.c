/* SPDX-License-Identifier: MIT */
/*
 * disk_move(): a partition moves to another start with its data; number,
 * UUID, name, type and size stay, so the menu, fstab and grubenv need no
 * change.
 *
 * Into free space that does not overlap the partition: the data is copied
 * there (fs_copy(): the blocks in use for ext2/3/4, every byte otherwise),
 * then the table is switched, then the old place is cleared (holes in an
 * image file, its first and last MiB on a device: no stale copy of the
 * filesystem, with the same UUID, is left for a later partition to show).
 * Until the switch the old copy is the guest, untouched.
 *
 * Overlapping (only for ext2/3/4 guests): the new place covers part of the
 * old, so no copy can be made there while the old stays valid. The guest is
 * marked incomplete with a marker naming the new place ("move START") and
 * leaves the menu; its partition is saved to a snapshot beside the disk's
 * others (NAME-move-TIME.img, see snapshot.c); the table is switched; the
 * snapshot is written into the new place (incomplete until the end); the
 * marker goes, the snapshot is removed, the menu lists the guest again.
 * Killed before the switch, the old copy is valid (and incomplete); after
 * it, the guest at its new place is incomplete and the snapshot holds it
 * whole. Running the same move again finishes either: before the switch it
 * starts over, after it (the partition is where its marker says) it writes
 * the newest move snapshot in again. `partboot rollback DISK NAME SNAPSHOT`
 * does the same by hand.
 * bios-boot partitions are refused: GRUB's MBR code records core.img's
 * sectors (install the bootloader again instead).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/macros.h"
#include "../common/util.h"
#include "disk-private.h"

static uint64_t align_up(uint64_t v)
{
	return (v + MiB - 1) / MiB * MiB;
}

/* The snapshot an overlapping move goes through, beside the disk's other snapshots. */
static int move_snapshot(struct disk_op *c, const char *note, struct strbuf *path, struct pb_err *err)
{
	struct fs_snapshot_opts fo = { .partition = c->name, .partuuid = c->p.uuid, .fs_uuid = c->g.probe.uuid,
				       .disk_id = part_disk_id(c->k->d), .note = note };
	time_t now = time(NULL);
	char stamp[32];
	struct tm tm;
	int r;

	/* Named like a snapshot, so `partboot snapshots` lists it when a move was cut short. */
	r = disk_snapshot_dir(c->k, NULL, true, path, err);
	if (r < 0)
		return r;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	strbuf_addf(path, "/%s-move-%s.img", c->name, stamp);
	fo.created = (int64_t)now;
	disk_op_progress(c->k, &fo.progress, &fo.userdata);
	return fs_snapshot_save(&c->t, path->buf, &fo, NULL, err);
}

/*
 * An overlapping move cut short after the switch: the guest at its new place
 * holds no filesystem yet or an incomplete one, and the newest snapshot of
 * this move (its header's note: "move START") holds it whole. With find,
 * only say whether there is one. Else write it in again; then the marker
 * goes, and the move's snapshots with it.
 */
static int move_finish(struct disk_op *c, bool find, struct pb_err *err)
{
	struct disk_snapshots l = { 0 };
	const struct disk_snapshot *s = NULL;
	struct strbuf note = STRBUF_INIT;
	const char *seed = part_disk_seed(c->k->d);
	int r;

	r = disk_snapshots(c->k, c->name, NULL, &l, find ? NULL : err);
	if (r < 0)
		return find ? 0 : r;
	strbuf_addf(&note, "move %" PRIu64, c->p.start);
	for (size_t i = 0; i < l.n; i++)
		if (!strcmp(l.v[i].info.note, note.buf) && l.v[i].info.size == c->p.size)
			s = &l.v[i]; /* oldest first: the last one is the newest */
	if (find || !s) {
		r = s ? 1 : find ? 0 : pb_err_set(err, -ENOENT, "%s: an interrupted move, and no snapshot of it is left",
						   c->where.buf);
		goto out;
	}
	disk_note(c->k, "%s: finishing an interrupted move from %s", c->where.buf, s->path.buf);
	{
		struct fs_target st = { .path = s->path.buf, .offset = 0, .size = c->p.size, .where = s->path.buf };
		struct fs_copy_opts co = { .mode = FS_COPY_USED, .op = "move", .seed = seed };

		disk_op_progress(c->k, &co.progress, &co.userdata);
		r = fs_copy(&st, &c->t, &co, NULL, err);
	}
	if (r >= 0)
		r = fs_mark_complete(&c->t, seed, err);
	if (r >= 0)
		for (size_t i = 0; i < l.n; i++)
			if (!strncmp(l.v[i].info.note, "move ", 5))
				unlink(l.v[i].path.buf);
out:
	strbuf_release(&note);
	disk_snapshots_release(&l);
	return r;
}

/* "move START": the marker of an overlapping move, naming where it goes. */
static bool marker_target(const char *op, uint64_t *ret)
{
	char *end;

	if (!op || strncmp(op, "move ", 5))
		return false;
	errno = 0;
	*ret = strtoull(op + 5, &end, 10);
	return !errno && !*end && end != op + 5;
}

int disk_move(struct disk *k, const char *name, uint64_t start, const char *after, struct part_info *ret,
	      struct pb_err *err)
{
	struct strbuf snap = STRBUF_INIT, mop = STRBUF_INIT;
	const char *seed = part_disk_seed(k->d);
	_cleanup_free_ char *op = NULL;
	struct disk_op c;
	struct part_info np, a;
	struct fs_target nt;
	uint64_t marked_to = 0;
	bool ext, overlap, marked = false, ours = false;
	int r;

	r = disk_op_begin(k, name, &c, err);
	if (r < 0)
		goto out;
	if (c.p.type == PART_TYPE_BIOS_BOOT) {
		r = pb_err_set(err, -EINVAL, "%s: a bios-boot partition is not moved (GRUB's boot code records where "
			       "core.img is): remove it, add one elsewhere, and run partboot bootloader", c.where.buf);
		goto out;
	}
	if (after) {
		r = part_disk_find(k->d, after, &a, err);
		if (r < 0)
			goto out;
		start = align_up(a.start + a.size);
	}
	if (c.g.state == DISK_GUEST_UNREADABLE) {
		r = pb_err_set(err, -EUCLEAN, "%s: %s", c.where.buf, c.g.why ? c.g.why : "unreadable filesystem");
		goto out;
	}
	ext = c.g.state == DISK_GUEST_COMPLETE || c.g.state == DISK_GUEST_INCOMPLETE;
	if (ext) {
		r = fs_mark_get(&c.t, &marked, &op, err);
		if (r < 0)
			goto out;
		ours = marked && marker_target(op, &marked_to);
		if (marked && !ours) {
			r = pb_err_set(err, -EINVAL, "%s: the guest is incomplete (%s was interrupted); finish that first",
				       c.where.buf, op ? op : "an install");
			goto out;
		}
	}
	r = disk_op_lock(&c, err);
	if (r < 0)
		goto out;
	/*
	 * Cut short after the switch: the partition is at the place its marker
	 * names, or holds no filesystem yet and a snapshot of this move exists.
	 */
	if ((ours && marked_to == c.p.start) || (c.g.state == DISK_GUEST_NONE && move_finish(&c, true, NULL) > 0)) {
		if (start != c.p.start) {
			r = pb_err_set(err, -EINVAL, "%s: an interrupted move to %s: run that move again to finish it",
				       c.where.buf, pb_format_size(c.p.start, (char[32]){ 0 }, 32));
			goto out;
		}
		r = move_finish(&c, false, err);
		np = c.p;
		goto done;
	}
	/* The new place, checked in memory (alignment, room, overlaps with the others): nothing written. */
	r = part_disk_move(k->d, name, start, err);
	if (r >= 0)
		r = part_disk_find(k->d, name, &np, err);
	if (r < 0)
		goto out;
	nt = disk_target(k, &np, c.where.buf, c.name);
	if (np.start == c.p.start) {
		/* Already there; the marker of a move cut short before its switch goes. */
		if (ours)
			r = fs_mark_complete(&c.t, seed, err);
		goto done;
	}
	overlap = np.start < c.p.start + c.p.size && c.p.start < np.start + np.size;
	if ((overlap || ours) && !ext) {
		r = pb_err_set(err, -EINVAL, "%s: the new place overlaps the old one, which only an ext2/3/4 guest can "
			       "be moved into safely; move it into free space that does not overlap it", c.where.buf);
		goto out;
	}

	if (!overlap && !ours) {
		struct fs_copy_opts co = { .mode = ext ? FS_COPY_USED : FS_COPY_RAW, .seed = seed };

		disk_note(k, "%s: copying to %s", c.where.buf, pb_format_size(np.start, (char[32]){ 0 }, 32));
		disk_op_progress(k, &co.progress, &co.userdata);
		/* Free space until the switch: the copy is nobody's yet, the old one is the guest. */
		r = fs_copy(&c.t, &nt, &co, NULL, err);
		if (r >= 0)
			r = part_disk_write(k->d, err);
		if (r >= 0)
			r = fs_clear(&c.t, err);
		if (r < 0)
			goto out;
		goto done;
	}

	/* Through a snapshot. The marker names the new place (a move cut short before its switch had another). */
	strbuf_addf(&mop, "move %" PRIu64, np.start);
	if (ours)
		r = fs_mark_complete(&c.t, seed, err);
	if (r >= 0)
		r = fs_mark_incomplete_for(&c.t, mop.buf, seed, err);
	if (r >= 0)
		r = disk_menu_refresh(k, c.p.name, err);
	if (r < 0)
		goto out;
	disk_note(k, "%s: the new place overlaps the old one: through a snapshot", c.where.buf);
	r = move_snapshot(&c, mop.buf, &snap, err);
	if (r < 0)
		goto out;
	r = part_disk_write(k->d, err);
	if (r >= 0) {
		struct fs_target st = { .path = snap.buf, .offset = 0, .size = c.p.size, .where = snap.buf };
		struct fs_copy_opts co = { .mode = FS_COPY_USED, .op = "move", .seed = seed };

		disk_op_progress(k, &co.progress, &co.userdata);
		r = fs_copy(&st, &nt, &co, NULL, err);
	}
	if (r >= 0)
		r = fs_mark_complete(&nt, seed, err);
	if (r < 0) {
		pb_err_prefix(err, r, "%s: the move was cut short; %s holds the guest (run the same move again, or "
			      "partboot rollback %s %s %s): ", c.where.buf, snap.buf, k->path, c.name, snap.buf);
		goto out;
	}
	unlink(snap.buf);
done:
	if (r >= 0)
		r = disk_menu_refresh(k, NULL, err);
	if (r >= 0 && ret)
		*ret = np;
out:
	strbuf_release(&snap);
	strbuf_release(&mop);
	disk_op_end(&c);
	return r;
}
