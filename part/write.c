/* SPDX-License-Identifier: MIT */
/*
 * part_disk_write(), the one function in part/ that writes to the disk. It
 * runs when a command has finished editing the table in memory (table.c,
 * edit.c, layout.c) and the caller commits: after checking that partboot's
 * record fits, it writes libfdisk's label (fdisk_write_disklabel(): the
 * protective MBR and both GPT copies, or the dos MBR), clears a stale GPT
 * header a new dos table leaves, then writes partboot's record sector, and
 * syncs. A block device's kernel view is re-read last.
 */
#include <inttypes.h>
#include <string.h>

#include "part-private.h"

int part_disk_write(struct part_disk *d, struct pb_err *err)
{
	_cleanup_free_ uint8_t *sector = NULL;
	uint64_t off = part_record_offset(d->sector_size);
	bool needed = false, room = true;
	int r;

	if (d->rdonly || !d->locked)
		return pb_err_set(err, -EBADF, "%s: opened read-only", d->display);
	if (d->table == PART_TABLE_NONE)
		return 0;
	/* Also what --force opened: a table is only written back sound. */
	r = part_table_check(d, err);
	if (r < 0)
		return r;
	if (!d->dirty)
		return 0;
	sector = xcalloc(1, d->sector_size);
	r = part_record_build(d, sector, &needed, err);
	if (r < 0)
		return r;
	/* A foreign table may use the sector (a dos partition at LBA 63). */
	for (size_t i = 0; i < d->n_parts; i++)
		if (d->parts[i].start < off + d->sector_size && off < d->parts[i].start + d->parts[i].size)
			room = false;
	if (!room && needed)
		return pb_err_set(err, -ENOSPC, "%s: partition 1 covers the sector of partboot's name record (LBA %" PRIu64 ")",
				  d->display, off / d->sector_size);

	/* Validated: the table first, then the record that describes it. */
	r = fdisk_write_disklabel(d->cxt);
	if (r < 0)
		return pb_err_set(err, r, "%s: writing the partition table failed: %s", d->display, strerror(-r));
	/* A new dos table over a GPT: libfdisk leaves both GPT headers, and a
	 * stale backup header would make the disk look like a damaged GPT. */
	if (d->new_table && d->table == PART_TABLE_DOS) {
		uint64_t last = d->size / d->sector_size - 1;
		uint64_t lbas[2] = { 1, last };
		char sig[8];

		for (int i = 0; i < 2; i++)
			if (pread(d->fd, sig, 8, (off_t)(lbas[i] * d->sector_size)) == 8 &&
			    !memcmp(sig, "EFI PART", 8)) {
				memset(sector, 0, d->sector_size);
				if (pwrite(d->fd, sector, d->sector_size, (off_t)(lbas[i] * d->sector_size)) < 0)
					return pb_err_set(err, -errno, "%s: clearing the old GPT header failed: %s",
							  d->display, strerror(errno));
			}
		r = part_record_build(d, sector, &needed, err);
		if (r < 0)
			return r;
	}
	if (room && pwrite(d->fd, sector, d->sector_size, (off_t)off) != (ssize_t)d->sector_size)
		return pb_err_set(err, -errno ? -errno : -EIO, "%s: writing partboot's record failed: %s", d->display,
				  strerror(errno ? errno : EIO));
	if (fsync(d->fd) < 0 && errno != EINVAL)
		return pb_err_set(err, -errno, "%s: sync failed: %s", d->display, strerror(errno));
	/* Tell the kernel; a busy disk keeps the old view until it is re-read. */
	if (d->blockdev)
		fdisk_reread_partition_table(d->cxt);
	d->dirty = d->new_table = d->gpt_damaged = false;
	return 0;
}
