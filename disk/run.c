/* SPDX-License-Identifier: MIT */
/*
 * Booting a guest in the VM runner: the guest model says whether the
 * partition holds a complete guest and which kernel and arguments it boots
 * with; vm/ does the rest. Reads only (QEMU then writes inside the guest's
 * partition).
 */
#include <errno.h>
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
	if (r >= 0) {
		const char *cl = vm_guest(*ret)->cmdline;

		if (cl && strlen(cl) > DISK_CMDLINE_MAX)
			disk_warn(k, "%s: the kernel command line is %zu bytes; Linux keeps the first %d", where.buf,
				  strlen(cl), DISK_CMDLINE_MAX);
	}
out:
	disk_guest_release(&g);
	strbuf_release(&where);
	return r;
}
