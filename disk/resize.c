/* SPDX-License-Identifier: MIT */
/*
 * disk_resize(): a partition grows or shrinks, and the ext2/3/4 filesystem
 * inside follows it (fs_resize(), resize2fs); other contents (swap, FAT, no
 * filesystem) keep the table change alone, as before.
 *
 * Order of writes, so that every moment is a state that reads right:
 *   the request checked whole: the new size fits the table, is at least
 *   the filesystem's minimum (resize2fs -P, the number in the refusal),
 *   the partition is unused and locked (a guest running in a VM is
 *   refused); nothing written yet;
 *   the guest marked incomplete ("resize"), the menu drops it;
 *   growing: the table first, then the filesystem into the new room;
 *   shrinking: the filesystem first, then the table;
 *   the marker removed, the menu lists it again.
 * Killed in between, the guest reads incomplete and every other byte is as
 * it was; running the same resize again finishes it (the marker names the
 * resize, so it is taken for this work and not for an interrupted install).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/macros.h"
#include "disk-private.h"

int disk_resize(struct disk *k, const char *name, uint64_t size, struct part_info *ret, struct pb_err *err)
{
	struct disk_op c;
	struct part_info np;
	struct fs_ext_info fi;
	_cleanup_free_ char *op = NULL;
	const char *seed = part_disk_seed(k->d);
	uint64_t min_size = 0;
	bool ext, marked = false;
	int r;

	r = disk_op_begin(k, name, &c, err);
	if (r < 0)
		goto out;
	/* A partition holding ext2/3/4 (a guest or not): its filesystem follows. */
	ext = (c.g.state == DISK_GUEST_COMPLETE || c.g.state == DISK_GUEST_INCOMPLETE ||
	       fs_ext_info(&c.t, &fi, NULL) == 0);
	if (c.g.state == DISK_GUEST_UNREADABLE) {
		r = pb_err_set(err, -EUCLEAN, "%s: %s", c.where.buf, c.g.why ? c.g.why : "unreadable filesystem");
		goto out;
	}
	if (ext) {
		r = fs_ext_info(&c.t, &fi, err);
		if (r >= 0)
			r = fs_mark_get(&c.t, &marked, &op, err);
		if (r >= 0 && marked && (!op || strcmp(op, "resize")))
			r = pb_err_set(err, -EINVAL, "%s: the guest is incomplete (%s was interrupted); finish that first",
				       c.where.buf, op ? op : "an install");
		if (r >= 0)
			r = fs_resize_min(&c.t, &min_size, err);
		if (r < 0)
			goto out;
	}
	r = disk_op_lock(&c, err);
	if (r < 0)
		goto out;
	/* The table in memory: checks room, alignment and the minimum. Nothing written. */
	r = part_disk_resize(k->d, name, size, min_size, err);
	if (r >= 0)
		r = part_disk_find(k->d, name, &np, err);
	if (r < 0)
		goto out;
	if (!ext || (np.size == c.p.size && fi.size == np.size / fi.block_size * fi.block_size && !marked)) {
		r = part_disk_write(k->d, err);
		goto done;
	}

	{
		struct fs_target big = c.t, fin = c.t;

		big.size = np.size > c.p.size ? np.size : c.p.size;
		fin.size = np.size;
		if (!marked) {
			r = fs_mark_incomplete_for(&c.t, "resize", seed, err);
			if (r >= 0)
				r = disk_menu_refresh(k, c.p.name, err);
			if (r < 0)
				goto out;
		}
		if (np.size >= c.p.size) {
			r = part_disk_write(k->d, err);
			if (r >= 0)
				r = fs_resize(&big, np.size, seed, err);
		} else {
			r = fs_resize(&big, np.size, seed, err);
			if (r >= 0)
				r = part_disk_write(k->d, err);
		}
		if (r >= 0)
			r = fs_mark_complete(&fin, seed, err);
		if (r < 0)
			goto out;
	}
done:
	if (r >= 0)
		r = disk_menu_refresh(k, NULL, err);
	if (r >= 0 && ret)
		*ret = np;
out:
	disk_op_end(&c);
	return r;
}
