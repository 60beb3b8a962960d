/* SPDX-License-Identifier: MIT */
/*
 * vm_install_via(): install a guest the way its vendor ships it, by booting
 * the OS installer (an installer ISO or disc, or PXE) in the VM runner's
 * firmware mode. The VM sees the whole disk (disk-view.c): the tables and
 * every other partition are private copies or zeros, only the target
 * partition is the real disk, so the installer's partitioner sees the real
 * layout and may use only the target; whatever it writes elsewhere (a
 * bootloader in the MBR, a "fixed" table) lands in the shadow file and is
 * thrown away.
 *
 * Touches the disk: opens and locks it through part/ (whole disk and the
 * partition, for the whole install, as `partboot install` does); writes only
 * the target partition, through fs/ (fs_mark_incomplete() before the VM,
 * fs_finish_install() after it) and through QEMU (the installer itself).
 * Everything that can be refused is refused before the first write (the
 * source and the answers file by vm_install_check_source(), install-source.c).
 *
 * The incomplete state: before the VM starts, the partition gets an empty
 * ext4 holding /.partboot-incomplete (list says incomplete, the boot menu
 * and the runner leave it out). An installer formats the partition itself,
 * which removes the marker; so after the VM powers off the partition is
 * checked (a kernel in /boot and an os-release) and, when the check fails,
 * the marker is put back into what the installer left (or into a new empty
 * ext4 when it left no ext2/3/4). Between the installer's mkfs and that
 * check the marker is absent: a partboot killed in that window leaves a
 * guest that looks complete (docs/installers.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "fs/fs.h"
#include "vm-private.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct vm *, vm_free);

/* Does the partition hold a Linux root now? (a kernel in /boot and an os-release) */
static bool installed_linux_root(const struct fs_target *t, const char **ret_why)
{
	struct fs_guest_info *gi = calloc(1, sizeof(*gi));
	struct pb_err err = PB_ERR_INIT;
	struct fs *fs = NULL;
	bool ok = false;

	*ret_why = "out of memory";
	if (!gi)
		return false;
	if (fs_open(t, &fs, &err) < 0)
		*ret_why = "no ext2/3/4 filesystem";
	else if (fs_guest_info(fs, gi, &err) < 0)
		*ret_why = "its filesystem cannot be read";
	else if (!gi->n_kernels)
		*ret_why = "no kernel in /boot";
	else if (!gi->pretty_name[0])
		*ret_why = "no os-release";
	else
		ok = true;
	fs_free(fs);
	free(gi);
	pb_err_clear(&err);
	return ok;
}

static const char *verdict(int status)
{
	switch (status) {
	case VM_EXIT_RESET:
		return "rebooted instead of powering off";
	case VM_EXIT_PANIC:
		return "panicked";
	case VM_EXIT_TIMEOUT:
		return "did not power off within the timeout";
	case VM_EXIT_INTERRUPTED:
		return "was interrupted";
	default:
		return "failed";
	}
}

int vm_install_via(const char *disk, const char *name, const struct vm_opts *o, const struct vm_install_opts *io,
		   int *ret_status, struct pb_err *err)
{
	_cleanup_(vm_freep) struct vm *vm = NULL;
	_cleanup_free_ char *bootfile = NULL;
	_cleanup_(strbuf_release) struct strbuf where = STRBUF_INIT;
	enum vm_install_medium medium;
	struct vm_opts vo = *o;
	struct fs_target t = { 0 };
	const struct part_info *p;
	const char *why = NULL;
	int status = VM_EXIT_ERROR, r;

	*ret_status = 0;
	if (vo.mode == VM_MODE_DIRECT)
		vo.mode = VM_MODE_BIOS;
	if (vo.machine == VM_MACHINE_MICROVM)
		return pb_err_set(err, -EINVAL, "the microvm machine has no firmware to boot an installer; use q35");

	/* 1. Everything that can be refused, before the first write. */
	r = vm_install_check_source(io->source, io->answers, vo.mode, &medium, &bootfile, err);
	if (r < 0)
		return r;
	if (medium == VM_INSTALL_PXE || medium == VM_INSTALL_PXE_URL) {
		/* a URL: no TFTP root of QEMU's own; DHCP hands iPXE the URL, which it fetches itself */
		vo.tftp_dir = medium == VM_INSTALL_PXE ? io->source + 4 : NULL;
		vo.tftp_bootfile = bootfile;
		vo.net = VM_NET_USER;
	} else {
		vo.cdrom = io->source;
	}
	r = vm_prepare_install(disk, name, &vo, &vm, err);
	if (r < 0)
		return r;
	p = vm_part(vm);
	strbuf_addf(&where, "%s: partition '%s'", disk, p->name[0] ? p->name : name);
	t.path = vm_disk_path(vm);
	t.offset = p->start;
	t.size = p->size;
	t.where = where.buf;
	t.name = p->name[0] ? p->name : NULL;
	if (io->answers) {
		r = vm_attach_answers(vm, io->answers, err);
		if (r < 0)
			return r;
	}

	/* 2. The guest is incomplete from here until fs_finish_install() ends. */
	{
		struct fs_mkfs_opts mo = { .kind = FS_KIND_EXT4, .label = io->label ? io->label : p->label[0] ? p->label : NULL };

		r = fs_mark_incomplete(&t, &mo, err);
		if (r < 0)
			return r;
	}
	if (io->menu) {
		r = io->menu(vm_disk(vm), io->userdata, err);
		if (r < 0)
			return r;
	}

	/* 3. The installer, in the whole-disk view built now (after the menu refresh: the ESP as it is). */
	r = vm_prepare_view(vm, err);
	if (r < 0)
		return r;
	r = vm_run(vm, &status, err);
	if (r < 0)
		return r;
	*ret_status = status;
	if (status == VM_EXIT_POWEROFF && vm_was_interrupted(vm))
		status = VM_EXIT_INTERRUPTED; /* it powered off because it was told to: not a finished install */
	if (status != VM_EXIT_POWEROFF) {
		/* what the installer wrote is unknown: keep (or put back) the marker */
		struct pb_err merr = PB_ERR_INIT;

		if (fs_mark_incomplete(&t, NULL, &merr) < 0) {
			struct fs_mkfs_opts mo = { .kind = FS_KIND_EXT4, .label = io->label };

			pb_err_clear(&merr);
			fs_mark_incomplete(&t, &mo, &merr);
		}
		pb_err_clear(&merr);
		if (status == VM_EXIT_ERROR)
			return pb_err_prefix(err, -EIO, "%s: the installer's VM failed; the guest is left incomplete: ",
					     where.buf);
		return pb_err_set(err, -EIO, "%s: the installer %s; the guest is left incomplete", where.buf,
				  verdict(status));
	}

	/* 4. A Linux root, or the guest stays incomplete. */
	if (!installed_linux_root(&t, &why)) {
		struct pb_err merr = PB_ERR_INIT;

		if (fs_mark_incomplete(&t, NULL, &merr) < 0) {
			/* no ext2/3/4 left: a new empty one carries the marker (nothing partboot can boot was there) */
			struct fs_mkfs_opts mo = { .kind = FS_KIND_EXT4, .label = io->label };

			pb_err_clear(&merr);
			fs_mark_incomplete(&t, &mo, &merr);
		}
		pb_err_clear(&merr);
		return pb_err_set(err, -ENOENT, "%s: the installer powered off without installing a Linux root into "
				  "partition '%s' (%s); the guest is left incomplete", disk,
				  p->name[0] ? p->name : name, why);
	}

	/* 5. Finish like any install: after-install steps, complete marker, menu. */
	{
		struct fs_install_opts fo = { .source = io->source, .label = io->label, .hostname = io->hostname,
					      .cmdline = io->cmdline, .setup = true };

		r = fs_finish_install(&t, &fo, err);
		if (r < 0)
			return r;
	}
	if (io->menu) {
		r = io->menu(vm_disk(vm), io->userdata, err);
		if (r < 0)
			return pb_err_prefix(err, r, "%s: installed, but the boot menu was not refreshed: ", where.buf);
	}
	return 0;
}
