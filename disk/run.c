/* SPDX-License-Identifier: MIT */
/*
 * Booting a guest in the VM runner: the guest model says whether the
 * partition holds a guest (complete or foreign), which kernel and arguments
 * it boots with (the newest, or vm_opts.kernel) and where its /boot is; vm/
 * does the rest. Reads only (QEMU then writes inside the guest's
 * partition).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk-private.h"

int disk_vm_prepare(struct disk *k, const char *name, const struct vm_opts *o, struct vm **ret,
		    struct pb_err *err)
{
	struct strbuf where = STRBUF_INIT;
	struct disk_guest g;
	const struct fs_kernel *kernel = NULL;
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
	/* the newest kernel, or the one asked for (direct mode: firmware boots what the guest's GRUB says) */
	if (o->kernel) {
		const struct fs_kernel *want = NULL;
		struct strbuf have = STRBUF_INIT;

		for (size_t i = 0; i < g.info.n_kernels; i++) {
			if (!strcmp(g.info.kernels[i].version, o->kernel))
				want = &g.info.kernels[i];
			strbuf_addf(&have, "%s%s", i ? ", " : "", g.info.kernels[i].version);
		}
		if (!want)
			r = pb_err_set(err, -ENOENT, "%s: no kernel %s (the guest has: %s)", where.buf, o->kernel,
				       have.len ? have.buf : "none");
		strbuf_release(&have);
		if (!want)
			goto out;
		kernel = want;
	} else if (g.info.n_kernels) {
		kernel = &g.info.kernels[0];
	}
	if (kernel) {
		b.kernel = kernel->kernel;
		b.initrd = kernel->initrd;
		b.version = kernel->version;
		b.config = kernel->config;
	}
	/* a separate /boot: kernel, initrd and config are read there, and the VM sees it too */
	if (g.has_boot)
		b.boot_part = &g.boot_part;
	b.cmdline = g.info.cmdline;
	r = vm_prepare(k->d, &p, &b, o, ret, err);
	if (r >= 0) {
		const char *cl = vm_guest(*ret)->cmdline;

		if (cl && strlen(cl) > DISK_CMDLINE_MAX)
			disk_warn(k, "%s: the kernel command line is %zu bytes; Linux keeps the first %d", where.buf,
				  strlen(cl), DISK_CMDLINE_MAX);
	}
	/*
	 * Firmware mode boots what GRUB's menu chooses. The VM's ESP is a private
	 * copy (the view's shadow): its next_entry is set to NAME there, so the
	 * VM's GRUB boots the guest it was started for (and that the machine was
	 * chosen for), and the disk's own default and next stay as they are.
	 */
	if (r >= 0 && g.bootable && o->mode != VM_MODE_DIRECT && boot_is_installed(k->d)) {
		struct pb_err nerr = PB_ERR_INIT;
		const char *shadow = NULL;
		uint64_t base = 0;
		int fd = -1;

		for (size_t i = 0; i < part_disk_count(k->d) && !shadow; i++) {
			struct part_info e;

			if (part_disk_get(k->d, i, &e) == 0 && e.type == PART_TYPE_ESP)
				shadow = vm_view_shadow_at(*ret, e.start, &base);
		}
		if (shadow)
			fd = open(shadow, O_RDWR | O_CLOEXEC);
		if (fd < 0 || boot_set_next_in(k->d, fd, base, g.part.name, &nerr) < 0)
			disk_warn(k, "%s: GRUB in the VM boots its menu's default, not necessarily this guest: %s", where.buf,
				  !shadow ? "no private copy of the ESP" : fd < 0 ? strerror(errno) : pb_err_msg(&nerr));
		if (fd >= 0)
			close(fd);
		pb_err_clear(&nerr);
	}
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
