/* SPDX-License-Identifier: MIT */
/*
 * disk_install() through an OS installer: install a guest the way its
 * vendor ships it, by booting the installer (an ISO or disc, or PXE) in the
 * VM runner's firmware mode. The VM sees the whole disk (vm/disk-view.c):
 * the tables and every other partition are private copies or zeros, only
 * the target partition is the real disk, so the installer's partitioner
 * sees the real layout and may use only the target; whatever it writes
 * elsewhere (a bootloader in the MBR, a "fixed" table) lands in the shadow
 * file and is thrown away.
 *
 * Touches the disk: holds the whole-disk lock and the partition's lock for
 * the whole install; writes only the target partition, through fs/
 * (fs_mark_incomplete() before the VM, fs_finish_install() after it),
 * through QEMU (the installer itself), and the ESP's grub.cfg (the menu
 * refresh before and after). Everything that can be refused is refused
 * before the first write.
 *
 * The incomplete state: before the VM starts, the partition gets an empty
 * ext4 holding /.partboot-incomplete (list says incomplete, the boot menu
 * and the runner leave it out). An installer formats the partition itself,
 * which removes the marker; so after the VM powers off the partition is
 * checked (a kernel in /boot and an os-release, through the guest model)
 * and, when the check fails, the marker is put back into what the installer
 * left (or into a new empty ext4 when it left no ext2/3/4). Between the
 * installer's mkfs and that check the marker is absent: a partboot killed
 * in that window leaves a guest that looks complete (docs/installers.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/macros.h"
#include "disk-private.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct vm *, vm_free);

/* Does the partition hold a Linux root now? (a kernel in /boot and an os-release) */
static bool installed_linux_root(struct disk_install_ctx *c, const char **ret_why)
{
	struct disk_guest g;
	bool ok = false;

	disk_guest_probe(c->k, &c->p, &g);
	if (g.state == DISK_GUEST_NONE)
		*ret_why = "no ext2/3/4 filesystem";
	else if (g.state == DISK_GUEST_UNREADABLE)
		*ret_why = "its filesystem cannot be read";
	else if (!g.info.n_kernels)
		*ret_why = "no kernel in /boot";
	else if (!g.info.pretty_name)
		*ret_why = "no os-release";
	else
		ok = true;
	disk_guest_release(&g);
	return ok;
}

/* Put the incomplete marker back into what the installer left, or into a new empty ext4. */
static void mark_again(struct disk_install_ctx *c)
{
	struct pb_err merr = PB_ERR_INIT;

	if (fs_mark_incomplete(&c->t, NULL, &merr) < 0) {
		/* no ext2/3/4 left: a new empty one carries the marker (nothing partboot can boot was there) */
		struct fs_mkfs_opts mo = { .kind = FS_KIND_EXT4, .label = c->label };

		pb_err_clear(&merr);
		fs_mark_incomplete(&c->t, &mo, &merr);
	}
	pb_err_clear(&merr);
}

/* The diagnostics' status callback, as vm/ calls it. */
static void status_fwd(const char *line, unsigned elapsed, void *userdata)
{
	const struct disk *k = userdata;

	k->diag.status(line, elapsed, k->diag.userdata);
}

/* "; its last line: "..."" for messages, or "" (into sb). */
static void last_line(struct vm *vm, struct strbuf *sb)
{
	const char *l = vm ? vm_console_last_line(vm) : "";

	if (*l)
		strbuf_addf(sb, "; its last line: \"%s\"", l);
}

static const char *verdict(int status)
{
	switch (status) {
	case VM_EXIT_RESET:
		return "rebooted instead of powering off";
	case VM_EXIT_PANIC:
		return "panicked";
	case VM_EXIT_INTERRUPTED:
		return "was interrupted";
	default:
		return "failed";
	}
}

int disk_install_via_vm(struct disk *k, const char *name, const struct disk_install_opts *o,
			struct disk_install_result *ret, struct pb_err *err)
{
	static const struct vm_opts none;
	_cleanup_(vm_freep) struct vm *vm = NULL;
	_cleanup_free_ char *bootfile = NULL;
	_cleanup_free_ char *auto_url = NULL;
	_cleanup_(strbuf_release) struct strbuf tail = STRBUF_INIT;
	const char *answers_url = o->answers_url;
	enum vm_install_medium medium;
	struct vm_opts vo = o->vm ? *o->vm : none;
	struct disk_install_ctx c = { .where = STRBUF_INIT };
	const char *why = NULL;
	int status = VM_EXIT_ERROR, r;

	if (ret)
		ret->vm_status = 0;
	if (vo.mode == VM_MODE_DIRECT)
		vo.mode = VM_MODE_BIOS;
	if (vo.machine == VM_MACHINE_MICROVM)
		return pb_err_set(err, -EINVAL, "the microvm machine has no firmware to boot an installer; use q35");

	/* 1. Everything that can be refused, before the first write. */
	r = vm_install_check_source(o->via_vm, o->answers, vo.mode, &medium, &bootfile, err);
	if (r < 0)
		return r;
	if (medium == VM_INSTALL_PXE || medium == VM_INSTALL_PXE_URL) {
		/* a URL: no TFTP root of QEMU's own; DHCP hands iPXE the URL, which it fetches itself */
		vo.tftp_dir = medium == VM_INSTALL_PXE ? o->via_vm + 4 : NULL;
		vo.tftp_bootfile = bootfile;
		vo.net = VM_NET_USER;
	} else {
		vo.cdrom = o->via_vm;
	}
	/* every installer gets the network: mirrors, package servers, the answers over HTTP */
	vo.net = VM_NET_USER;
	if (k->diag.status) {
		vo.status = status_fwd;
		vo.status_userdata = k;
	}
	if (answers_url) {
		r = vm_answers_url_parse(answers_url, NULL, NULL, err);
		if (r < 0)
			return r;
	} else if (o->answers) {
		r = vm_install_answers_url(o->via_vm, &auto_url, err);
		if (r < 0)
			return r;
		answers_url = auto_url;
	}
	r = disk_install_begin(k, name, o, &c, err);
	if (r < 0)
		goto out;
	r = vm_prepare_installer(k->d, &c.p, &vo, &vm, err);
	if (r < 0)
		goto out;
	if (o->answers && answers_url) {
		/* the port is bound now: a port in use is refused before the first write */
		r = vm_serve_answers(vm, o->answers, answers_url, err);
		if (r < 0)
			goto out;
		disk_note(k, "serving %s at %s (127.0.0.1 on this machine)", o->answers, answers_url);
	} else if (o->answers) {
		r = vm_attach_answers(vm, o->answers, err);
		if (r < 0)
			goto out;
	}

	/* 2. The guest is incomplete from here until fs_finish_install() ends. */
	{
		struct fs_mkfs_opts mo = { .kind = FS_KIND_EXT4, .label = c.label, .seed = part_disk_seed(k->d) };

		r = fs_mark_incomplete(&c.t, &mo, err);
		if (r < 0)
			goto out;
	}
	r = disk_menu_refresh(k, c.name, err);
	if (r < 0)
		goto out;

	/* 3. The installer, in the whole-disk view built now (after the menu refresh: the ESP as it is). */
	r = vm_prepare_view(vm, err);
	if (r < 0)
		goto out;
	r = vm_run(vm, &status, err);
	if (r < 0)
		goto out;
	if (ret)
		ret->vm_status = status;
	if (status == VM_EXIT_POWEROFF && vm_was_interrupted(vm))
		status = VM_EXIT_INTERRUPTED; /* it powered off because it was told to: not a finished install */
	last_line(vm, &tail);
	if (o->answers && answers_url && !vm_answers_fetched(vm))
		strbuf_addf(&tail, "; it never fetched its answers from %s", answers_url);
	if (status != VM_EXIT_POWEROFF) {
		/* what the installer wrote is unknown: keep (or put back) the marker */
		mark_again(&c);
		if (status == VM_EXIT_ERROR)
			r = pb_err_prefix(err, -EIO, "%s: the installer's VM failed%s; the guest is left incomplete: ",
					  c.where.buf, tail.buf);
		else if (status == VM_EXIT_TIMEOUT)
			/* the seconds, as run says them: the user sees whether --timeout or its default ran out */
			r = pb_err_set(err, -EIO, "%s: the installer did not power off within the %u s timeout%s; "
				       "the guest is left incomplete", c.where.buf, vo.timeout, tail.buf);
		else
			r = pb_err_set(err, -EIO, "%s: the installer %s%s; the guest is left incomplete", c.where.buf,
				       verdict(status), tail.buf);
		goto out;
	}

	/* 4. A Linux root, or the guest stays incomplete. */
	if (!installed_linux_root(&c, &why)) {
		mark_again(&c);
		r = pb_err_set(err, -ENOENT, "%s: the installer powered off without installing a Linux root into "
			       "partition '%s' (%s)%s; the guest is left incomplete", k->path, c.name, why, tail.buf);
		goto out;
	}

	/* 5. Finish like any install: after-install steps, complete marker, menu. */
	{
		struct fs_install_opts fo = { .source = o->via_vm, .label = c.label, .hostname = c.hostname,
					      .cmdline = o->cmdline, .setup = true, .seed = part_disk_seed(k->d),
					      .warn = k->diag.warn, .userdata = k->diag.userdata };

		if (c.customize) {
			fo.customize = disk_install_customize;
			fo.customize_userdata = &c;
		}
		r = fs_finish_install(&c.t, &fo, err);
		if (r < 0)
			goto out;
	}
	if (ret) {
		strbuf_reset(&ret->from);
		strbuf_addstr(&ret->from, o->via_vm);
	}
	r = disk_menu_refresh(k, NULL, err);
	if (r < 0)
		pb_err_prefix(err, r, "%s: installed, but the boot menu was not refreshed: ", c.where.buf);
out:
	vm_free(TAKE_PTR(vm)); /* before the context: the VM borrows the disk */
	disk_install_end(&c);
	return r;
}
