/* SPDX-License-Identifier: MIT */
/*
 * Booting a guest in the VM runner: the guest model says whether the
 * partition holds a complete guest and which kernel and arguments it boots
 * with; vm/ does the rest. Reads only (QEMU then writes inside the guest's
 * partition).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "disk-private.h"

int disk_vm_prepare(struct disk *k, const char *name, const struct vm_opts *o, struct vm **ret,
		    struct pb_err *err)
{
	struct strbuf where = STRBUF_INIT;
	struct disk_guest g;
	struct vm_boot b = { 0 };
	struct part_info p;
	int r;

	r = part_disk_find(k->d, name, &p, err);
	if (r < 0)
		return r;
	disk_guest_probe(k, &p, &g);
	disk_part_where(k, &p, &where);
	/*
	 * Firmware mode boots whatever the guest's bootloader finds: a
	 * filesystem fs/ cannot read is no reason to refuse, only an install
	 * partboot knows to be incomplete is. Direct mode needs a guest fs/ reads
	 * (vm_prepare() says why when it cannot).
	 */
	if (g.state == DISK_GUEST_INCOMPLETE) {
		r = pb_err_set(err, -EINVAL, "%s: the guest is incomplete (its install was interrupted or is under way); "
			       "install it again", where.buf);
		goto out;
	}
	if (g.info.n_kernels) {
		b.kernel = g.info.kernels[0].kernel;
		b.initrd = g.info.kernels[0].initrd;
	}
	b.cmdline = g.info.cmdline;
	r = vm_prepare(k->d, &p, &b, o, ret, err);
out:
	disk_guest_release(&g);
	strbuf_release(&where);
	return r;
}

int disk_vm_cloud_init(struct disk *k, const char *name, struct vm *vm, const char *user_data, const char *meta_data,
		       struct pb_err *err)
{
	struct strbuf ud = STRBUF_INIT, md = STRBUF_INIT, host = STRBUF_INIT;
	struct part_info p;
	struct fs *fs = NULL;
	char pname[80];
	int r;

	r = part_disk_find(k->d, name, &p, err);
	if (r < 0)
		return r;
	disk_part_name(&p, pname, sizeof(pname));
	r = disk_cloud_init_load(user_data, meta_data, &ud, &md, err);
	if (r < 0)
		goto out;
	if (!meta_data) {
		bool there = false;

		/* the guest's own name (checked: it goes into YAML), when it can be read */
		if (disk_fs_open(k, name, &fs, NULL) == 0 &&
		    disk_guest_read(fs, disk_path(k), "/etc/hostname", 256, &host, &there, NULL) == 0 && there) {
			host.len = strcspn(host.buf, " \t\r\n");
			host.buf[host.len] = '\0';
		}
		if (!fs_hostname_valid(host.buf))
			strbuf_reset(&host);
		disk_cloud_init_meta(pname, host.len ? host.buf : NULL, &ud, &md);
	}
	r = vm_attach_cloud_init(vm, ud.buf, ud.len, md.buf, md.len, err);
out:
	fs_free(fs);
	strbuf_release(&ud);
	strbuf_release(&md);
	strbuf_release(&host);
	return r;
}
