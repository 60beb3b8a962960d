/* SPDX-License-Identifier: MIT */
/*
 * disk_clone(): a new partition holding a copy of a guest, with an identity
 * of its own: a new partition UUID (from the table, seeded or random) and
 * filesystem UUID, /etc/fstab naming the new root, the old identifiers
 * replaced in /etc/kernel/cmdline, the hostname from the new name; then the
 * boot menu lists it. The copy reads only the blocks in use (fs_copy(),
 * FS_COPY_USED); the rest of the new partition stays sparse.
 *
 * Order of writes: the whole request checked (a complete guest, its journal
 * clean, the new name and size fit); the free space the partition will take
 * cleared (still free space: nothing anyone sees); the table with the new
 * partition; the copy, incomplete from the moment it holds a filesystem and
 * never with the source's UUID on the disk (fs_copy()'s held-back head);
 * growing to a larger size; fs_adopt()'s last steps, the marker last; the
 * menu. Killed at any point, the new partition holds no filesystem or an
 * incomplete one, and the source and every other byte are as they were.
 */
#include <errno.h>
#include <string.h>

#include "../common/macros.h"
#include "../common/util.h"
#include "disk-private.h"

int disk_clone(struct disk *k, const char *src, struct disk *to, const char *new_name,
	       const struct disk_clone_opts *o, struct part_info *ret, struct pb_err *err)
{
	static const struct disk_clone_opts none;
	struct disk *kt = to ? to : k;
	struct strbuf where = STRBUF_INIT;
	struct disk_op c;
	struct fs_ext_info fi;
	struct fs_copy_result res = { 0 };
	struct part_spec spec = { 0 };
	struct part_info np;
	struct fs_target nt;
	const char *seed = part_disk_seed(kt->d);
	char new_uuid[37], host[64], pname[80], a[32], b[32];
	uint64_t size;
	bool locked_new = false;
	int r;

	if (!o)
		o = &none;
	r = disk_op_begin(k, src, &c, err);
	if (r >= 0)
		r = disk_op_need_guest(&c, true, err);
	if (r >= 0)
		r = fs_ext_info(&c.t, &fi, err);
	if (r < 0)
		goto out;
	if (fi.journal_dirty) {
		r = pb_err_set(err, -EBUSY, "%s: the filesystem's journal needs recovery (the guest was not shut down "
			       "cleanly): boot it and shut it down, or run e2fsck -fp on it first", c.where.buf);
		goto out;
	}
	if (o->hostname && !fs_hostname_valid(o->hostname)) {
		r = pb_err_set(err, -EINVAL, "'%s' is not a valid hostname (letters, digits, '-', dots)", o->hostname);
		goto out;
	}
	size = o->size ? (o->size + MiB - 1) / MiB * MiB : c.p.size;
	if (size < fi.size) {
		r = pb_err_set(err, -EINVAL, "%s: %s is smaller than the guest's filesystem (%s); give at least that, "
			       "or shrink the guest first", c.where.buf, pb_format_size(size, a, sizeof(a)),
			       pb_format_size(fi.size, b, sizeof(b)));
		goto out;
	}
	r = disk_op_lock(&c, err);
	if (r < 0)
		goto out;

	/* The new partition, in memory: name, room and table checked. */
	spec.name = new_name;
	spec.type = c.p.type == PART_TYPE_DATA ? PART_TYPE_DATA : PART_TYPE_ROOT;
	spec.size = size;
	spec.label = c.p.label[0] ? c.p.label : NULL;
	r = part_disk_add(kt->d, &spec, &np, err);
	if (r < 0)
		goto out;
	disk_part_name(&np, pname, sizeof(pname));
	disk_part_where(kt, &np, &where);
	nt = disk_target(kt, &np, where.buf, pname);
	r = part_disk_lock_partition(kt->d, &np, err);
	if (r < 0)
		goto out;
	locked_new = true;

	/* First write: the free space it takes, so the new entry never shows what was there. */
	r = fs_clear(&nt, err);
	if (r >= 0)
		r = part_disk_write(kt->d, err);
	if (r < 0)
		goto out;
	disk_note(k, "%s: copying %s", where.buf, c.where.buf);
	fs_uuid_for(&nt, seed, new_uuid);
	{
		struct fs_copy_opts co = { .mode = FS_COPY_USED, .op = "clone", .uuid = new_uuid, .seed = seed };

		disk_op_progress(k, &co.progress, &co.userdata);
		r = fs_copy(&c.t, &nt, &co, &res, err);
	}
	if (r >= 0 && np.size > fi.size)
		r = fs_resize(&nt, np.size, seed, err);
	if (r >= 0) {
		const char *replace[] = { fi.uuid, new_uuid, c.p.uuid, np.uuid, NULL };
		struct fs_adopt_opts ao = {
			.drop_csum_seed = res.csum_seed_added,
			.replace = replace,
			.seed = seed,
			.warn = k->diag.warn,
			.userdata = k->diag.userdata,
		};

		if (o->hostname) {
			ao.hostname = o->hostname;
		} else {
			fs_hostname_from_name(pname, host, sizeof(host));
			ao.hostname = host;
		}
		r = fs_adopt(&nt, &ao, err);
	}
	if (r < 0) {
		pb_err_prefix(err, r, "%s: the clone is incomplete: ", where.buf);
		goto out;
	}
	r = disk_menu_refresh(kt, NULL, err);
	if (r < 0)
		pb_err_prefix(err, r, "%s: cloned, but the boot menu was not refreshed: ", where.buf);
	else if (ret)
		*ret = np;
out:
	if (locked_new)
		part_disk_unlock_partition(kt->d, &np);
	strbuf_release(&where);
	disk_op_end(&c);
	return r;
}
