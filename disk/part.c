/* SPDX-License-Identifier: MIT */
/*
 * Partition changes that reach beyond the table: remove, rename and mkfs
 * each end with the boot menu and grubenv following the change (resize:
 * resize.c, with the filesystem).
 */
#include <errno.h>
#include <string.h>

#include "../common/macros.h"
#include "disk-private.h"

int disk_remove(struct disk *k, const char *name, struct part_info *ret_removed, struct pb_err *err)
{
	struct part_info p;
	int r;

	r = part_disk_find(k->d, name, &p, err);
	if (r >= 0)
		r = part_disk_remove(k->d, name, err);
	if (r >= 0)
		r = part_disk_write(k->d, err);
	if (r < 0)
		return r;
	if (ret_removed)
		*ret_removed = p;
	/* A removed guest leaves the boot menu and grubenv (no-ops without partboot's GRUB). */
	r = disk_menu_refresh(k, NULL, err);
	if (r >= 0 && p.name[0])
		r = boot_forget_guest(k->d, p.name, err);
	if (r < 0)
		return pb_err_prefix(err, r, "%s: removed, but the boot menu was not refreshed: ", k->path);
	return 0;
}

int disk_rename(struct disk *k, const char *name, const char *new_name, struct pb_err *err)
{
	_cleanup_free_ char *def = NULL, *next = NULL;
	struct part_info p;
	int r;

	r = part_disk_find(k->d, name, &p, err);
	if (r >= 0)
		r = boot_env_read(k->d, &def, &next, err);
	if (r >= 0)
		r = part_disk_rename(k->d, name, new_name, err);
	if (r >= 0)
		r = part_disk_write(k->d, err);
	if (r < 0)
		return r;

	/* The menu's ids are the names: rewrite it, and keep default and next on this guest. */
	r = disk_menu_refresh(k, NULL, err);
	if (r >= 0 && def && !strcmp(def, p.name))
		r = boot_set_default(k->d, new_name, err);
	if (r >= 0 && next && !strcmp(next, p.name))
		r = boot_set_next(k->d, new_name, err);
	if (r < 0)
		return pb_err_prefix(err, r, "%s: renamed, but the boot menu was not updated: ", k->path);
	return 0;
}

int disk_mkfs_part(struct disk *k, const struct part_info *p, enum fs_kind kind, const char *label, bool refresh,
		   enum fs_kind *ret_kind, struct pb_err *err)
{
	struct strbuf where = STRBUF_INIT;
	struct fs_mkfs_opts mo = { .kind = kind, .label = label, .seed = part_disk_seed(k->d) };
	struct fs_target t;
	char pname[80];
	int r;

	r = part_disk_check_unused(k->d, p, err);
	if (r >= 0)
		r = part_disk_lock_partition(k->d, p, err);
	if (r < 0)
		return r;
	disk_part_name(p, pname, sizeof(pname));
	disk_part_where(k, p, &where);
	if (mo.kind == FS_KIND_NONE) {
		switch (p->type) {
		case PART_TYPE_ESP:
			mo.kind = FS_KIND_VFAT;
			break;
		case PART_TYPE_SWAP:
			mo.kind = FS_KIND_SWAP;
			break;
		case PART_TYPE_BIOS_BOOT:
			r = pb_err_set(err, -EINVAL, "%s is a bios-boot partition: it holds GRUB's core.img, not a filesystem",
				       where.buf);
			goto out;
		default:
			mo.kind = FS_KIND_EXT4;
			break;
		}
	}
	if (!mo.label && p->label[0])
		mo.label = p->label;
	t = disk_target(k, p, where.buf, pname);
	r = fs_mkfs(&t, &mo, err);
	if (r < 0)
		goto out;
	if (ret_kind)
		*ret_kind = mo.kind;
	/* A guest that was there is gone: the menu must not offer it. */
	if (refresh) {
		r = disk_menu_refresh(k, NULL, err);
		if (r < 0)
			pb_err_prefix(err, r, "%s: made, but the boot menu was not refreshed: ", where.buf);
	}
out:
	part_disk_unlock_partition(k->d, p);
	strbuf_release(&where);
	return r;
}

int disk_mkfs(struct disk *k, const char *name, enum fs_kind kind, const char *label, enum fs_kind *ret_kind,
	      struct pb_err *err)
{
	struct part_info p;
	int r;

	r = part_disk_find(k->d, name, &p, err);
	if (r < 0)
		return r;
	return disk_mkfs_part(k, &p, kind, label, true, ret_kind, err);
}
