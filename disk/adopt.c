/* SPDX-License-Identifier: MIT */
/*
 * Adopting an install partboot did not make (a foreign guest): it becomes
 * partboot's, as if partboot had installed it, by the same after-install
 * steps every install ends with (fs/setup.c) and nothing else. A foreign
 * guest is booted, listed and put in the menu without this; adopt is only
 * for a user who wants partboot to set it up (fstab for the VM runner, its
 * own kernel command line, a hostname).
 *
 * Writes, inside the guest only: /etc/fstab (the root by UUID, the guest's
 * other mounts kept with nofail), /etc/kernel/cmdline (only when the guest
 * has none, or with a cmdline), /etc/hostname and /etc/hosts' 127.0.1.1 line
 * (only with a hostname), and FS_PARTBOOT_MARKER; then the boot menu.
 */
#include <errno.h>
#include <string.h>

#include "disk-private.h"

/* fs_install_opts.marked: the guest is marked incomplete for the length of the writes; the menu drops it. */
static int adopt_marked(void *userdata, struct pb_err *err)
{
	struct disk *k = userdata;

	return disk_menu_refresh(k, NULL, err);
}

int disk_guest_adopt(struct disk *k, const char *name, const struct disk_adopt_opts *o, struct pb_err *err)
{
	struct strbuf where = STRBUF_INIT;
	struct fs_install_opts io = { 0 };
	struct disk_guest g = { 0 };
	struct part_info p;
	struct fs_target t;
	bool locked = false;
	char pname[80];
	int r;

	if (o->hostname && !fs_hostname_valid(o->hostname))
		return pb_err_set(err, -EINVAL, "'%s' is not a valid hostname (letters, digits, '-', dots)", o->hostname);
	if (o->cmdline && strchr(o->cmdline, '\n'))
		return pb_err_set(err, -EINVAL, "--cmdline must be one line");
	r = part_disk_find(k->d, name, &p, err);
	if (r < 0)
		return r;
	disk_part_name(&p, pname, sizeof(pname));
	disk_part_where(k, &p, &where);
	disk_guest_probe(k, &p, &g);
	switch (g.state) {
	case DISK_GUEST_FOREIGN:
		break;
	case DISK_GUEST_COMPLETE:
		r = pb_err_set(err, -EINVAL, g.info.partboot ? "%s is partboot's already (installed or adopted)"
							      : "%s holds no Linux install to adopt (no os-release, no kernel)",
			       where.buf);
		goto out;
	case DISK_GUEST_INCOMPLETE:
		r = pb_err_set(err, -EINVAL, "%s: the guest is incomplete (an install was interrupted or is under way); "
			       "install it again", where.buf);
		goto out;
	case DISK_GUEST_UNREADABLE:
		r = pb_err_set(err, -EIO, "%s: %s", where.buf, g.why ? g.why : "cannot be read");
		goto out;
	default:
		r = pb_err_set(err, -EMEDIUMTYPE, "%s holds no ext2/3/4 filesystem with a Linux install", where.buf);
		goto out;
	}
	/* partboot's writer makes extent-mapped files: on ext2/3 that would change the filesystem's features */
	if (strcmp(g.probe.fstype, "ext4")) {
		r = pb_err_set(err, -EOPNOTSUPP, "%s holds %s; adopt writes into ext4 only (its files use extents)",
			       where.buf, g.probe.fstype);
		goto out;
	}
	r = part_disk_check_unused(k->d, &p, err);
	if (r >= 0)
		r = part_disk_lock_partition(k->d, &p, err);
	if (r < 0)
		goto out;
	locked = true;

	t = disk_target(k, &p, where.buf, pname);
	io.source = "adopt";
	io.seed = part_disk_seed(k->d);
	io.warn = k->diag.warn;
	io.userdata = k->diag.userdata;
	io.setup = true;
	io.hostname = o->hostname;
	io.cmdline = o->cmdline;
	io.marked = adopt_marked;
	io.marked_userdata = k;
	r = fs_finish_install(&t, &io, err);
	if (r < 0)
		goto out;
	r = disk_menu_refresh(k, NULL, err);
	if (r < 0)
		pb_err_prefix(err, r, "%s: adopted, but the boot menu was not refreshed: ", where.buf);
out:
	if (locked)
		part_disk_unlock_partition(k->d, &p);
	disk_guest_release(&g);
	strbuf_release(&where);
	return r;
}
