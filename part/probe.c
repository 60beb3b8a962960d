/* SPDX-License-Identifier: MIT */
/*
 * Probing what is inside a partition with libblkid: a probe on the disk's own
 * file descriptor limited to the partition's byte range. Reads only.
 */
#include <blkid/blkid.h>
#include <string.h>

#include "part-private.h"

static void copy_value(blkid_probe pr, const char *key, char *out, size_t len)
{
	const char *v = NULL;

	out[0] = 0;
	if (blkid_probe_lookup_value(pr, key, &v, NULL) == 0 && v)
		snprintf(out, len, "%s", v);
}

int part_disk_probe(const struct part_disk *d, const struct part_info *p, struct part_probe *ret)
{
	blkid_probe pr;
	int r;

	memset(ret, 0, sizeof(*ret));
	pr = blkid_new_probe();
	if (!pr)
		return -ENOMEM;
	r = blkid_probe_set_device(pr, d->fd, (blkid_loff_t)p->start, (blkid_loff_t)p->size);
	if (r < 0) {
		blkid_free_probe(pr);
		return -EIO;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID);
	blkid_probe_enable_partitions(pr, 0);
	/* 0 found, 1 nothing, -2 ambiguous (several signatures), -1 error. */
	r = blkid_do_safeprobe(pr);
	if (r == 0) {
		copy_value(pr, "TYPE", ret->fstype, sizeof(ret->fstype));
		copy_value(pr, "LABEL", ret->label, sizeof(ret->label));
		copy_value(pr, "UUID", ret->uuid, sizeof(ret->uuid));
	}
	blkid_free_probe(pr);
	return r < 0 && r != -2 ? -EIO : 0;
}
