/* SPDX-License-Identifier: MIT */
/*
 * What the whole-guest operations share (resize, move, clone, snapshot,
 * rollback, export, import): the partition found, named for messages, its
 * guest as the model sees it, checked unused and locked for the time of the
 * operation. Locking takes the partition's byte range (an OFD lock, as the
 * VM runner holds it for its VM's lifetime), so a guest running in a VM is
 * refused with the runner's message. Writes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "disk-private.h"

int disk_op_begin(struct disk *k, const char *name, struct disk_op *c, struct pb_err *err)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->k = k;
	strbuf_init(&c->where);
	r = part_disk_find(k->d, name, &c->p, err);
	if (r < 0)
		return r;
	disk_part_name(&c->p, c->name, sizeof(c->name));
	disk_part_where(k, &c->p, &c->where);
	c->t = disk_target(k, &c->p, c->where.buf, c->name);
	disk_guest_probe(k, &c->p, &c->g);
	c->probed = true;
	return 0;
}

int disk_op_need_guest(struct disk_op *c, bool complete, struct pb_err *err)
{
	switch (c->g.state) {
	case DISK_GUEST_COMPLETE:
		return 0;
	case DISK_GUEST_INCOMPLETE:
		if (!complete)
			return 0;
		return pb_err_set(err, -EINVAL, "%s: the guest is incomplete (an install or another operation on it was "
				  "interrupted)", c->where.buf);
	case DISK_GUEST_UNREADABLE:
		return pb_err_set(err, -EUCLEAN, "%s: %s", c->where.buf, c->g.why ? c->g.why : "unreadable");
	default:
		return pb_err_set(err, -EMEDIUMTYPE, "%s: no guest there (a root or data partition holding ext2/3/4)",
				  c->where.buf);
	}
}

int disk_op_lock(struct disk_op *c, struct pb_err *err)
{
	int r = part_disk_check_unused(c->k->d, &c->p, err);

	if (r >= 0)
		r = part_disk_lock_partition(c->k->d, &c->p, err);
	if (r >= 0)
		c->locked = true;
	return r;
}

void disk_op_end(struct disk_op *c)
{
	if (c->locked)
		part_disk_unlock_partition(c->k->d, &c->p);
	c->locked = false;
	if (c->probed)
		disk_guest_release(&c->g);
	c->probed = false;
	strbuf_release(&c->where);
}

void disk_op_progress(const struct disk *k, fs_progress_fn *ret_fn, void **ret_userdata)
{
	*ret_fn = k->diag.progress;
	*ret_userdata = k->diag.userdata;
}

int disk_snapshot_dir(struct disk *k, const char *dir, bool make, struct strbuf *ret, struct pb_err *err)
{
	char *p;

	if (dir) {
		strbuf_addstr(ret, dir);
		return 0;
	}
	if (!part_disk_is_blockdev(k->d)) {
		strbuf_addf(ret, "%s.snapshots", part_disk_path(k->d));
	} else if (part_disk_id(k->d)[0]) {
		strbuf_addf(ret, "/var/lib/partboot/snapshots/%s", part_disk_id(k->d));
	} else {
		return pb_err_set(err, -EINVAL, "%s: no disk identifier to keep its snapshots by; give --dir or --to",
				  k->path);
	}
	if (!make)
		return 0;
	/* mkdir -p; 0755 like the folder the disk image is in, the files keep their own modes */
	p = ret->buf;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			int e = errno;

			*s = '/';
			return pb_err_set(err, -e, "%s: %s", p, strerror(e));
		}
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return pb_err_set(err, -errno, "%s: %s", p, strerror(errno));
	return 0;
}
