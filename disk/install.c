/* SPDX-License-Identifier: MIT */
/*
 * Installing a guest, whatever the source: an archive, a directory, a
 * stream, a live ISO, mmdebstrap (this file) or an OS installer in a VM
 * (install-vm.c). The sequence is the same for each and written once:
 * validate the whole request, lock the partition, mark the guest incomplete
 * (the menu drops it), fill, the after-install steps, the complete marker,
 * and the menu refresh that lists it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/macros.h"
#include "../common/run.h"
#include "disk-private.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct fs_debootstrap *, fs_debootstrap_free);

/* fs_install_opts.marked: the guest just went incomplete on the disk, so the menu drops it (quietly). */
static int marked(void *userdata, struct pb_err *err)
{
	struct disk_install_ctx *c = userdata;

	return disk_menu_refresh(c->k, c->name, err);
}

int disk_install(struct disk *k, const char *name, const struct disk_install_opts *o,
		 struct disk_install_result *ret, struct pb_err *err)
{
	_cleanup_(fs_debootstrap_freep) struct fs_debootstrap *dbs = NULL;
	_cleanup_free_ char *spec = NULL;
	struct disk_install_ctx c;
	struct fs_install_opts io = { 0 };
	bool fresh = true; /* --wipe */
	int r;

	if (o->via_vm)
		return disk_install_via_vm(k, name, o, ret, err);
	if (o->source && !strncmp(o->source, "disk:", 5))
		return disk_install_image(k, name, o, ret, err);
	r = disk_install_begin(k, name, o, &c, err);
	if (r >= 0)
		r = disk_install_lock(&c, err);
	if (r >= 0 && !o->wipe) {
		/*
		 * An install partboot did not make is the user's: filling over it
		 * would mix two systems. Replacing it is asked for with --wipe;
		 * keeping it as it is, with adopt.
		 */
		struct disk_guest g;

		disk_guest_probe(k, &c.p, &g);
		if (g.state == DISK_GUEST_FOREIGN)
			r = pb_err_set(err, -EEXIST, "%s holds an install partboot did not make (%s); --wipe replaces it, "
				       "'partboot adopt' keeps it", c.where.buf,
				       g.info.pretty_name ? g.info.pretty_name : "an OS");
		/* a complete guest is filled over (its files stay where the source has none); anything else starts empty */
		fresh = g.state != DISK_GUEST_COMPLETE && g.state != DISK_GUEST_UNREADABLE;
		disk_guest_release(&g);
	}
	/*
	 * The account files of an archive or a folder, read ahead: a request
	 * they refuse (a user the source has, no /etc/shadow) is refused now,
	 * before the first write, rather than after the unpacking. A stream,
	 * mmdebstrap and an ISO are read once only; theirs are checked when the
	 * guest is filled (disk_custom_apply()).
	 */
	if (r >= 0 && c.customize && strcmp(o->source, "-") && strncmp(o->source, "debootstrap:", 12) &&
	    strncmp(o->source, "iso:", 4))
		r = disk_custom_precheck(&c.custom, c.where.buf, o->source, fresh, err);
	if (r < 0)
		goto out;

	io.source = o->source;
	io.wipe = o->wipe;
	io.label = c.label;
	io.seed = part_disk_seed(k->d);
	io.warn = k->diag.warn;
	io.progress = k->diag.progress;
	io.userdata = k->diag.userdata;
	/* The after-install steps, whatever the source (fs/setup.c). */
	io.setup = true;
	io.hostname = c.hostname;
	io.cmdline = o->cmdline;
	io.marked = marked;
	io.marked_userdata = &c;
	if (c.customize) {
		io.customize = disk_install_customize;
		io.customize_userdata = &c;
	}
	if (!strcmp(o->source, "-")) {
		io.source_is_fd = true;
		io.source_fd = o->source_fd;
	}

	if (!strncmp(o->source, "debootstrap:", 12)) {
		struct fs_debootstrap_opts dopt = {
			.mirror = o->mirror,
			.cache_dir = o->deb_cache,
			.no_kernel = o->no_kernel,
			.packages = o->packages,
			.verbose = o->verbose,
			.seeded = io.seed != NULL,
		};

		r = disk_debootstrap_parse(o->source, &spec, &dopt.suite, &dopt.variant, err);
		if (r < 0)
			goto out;
		/* Started only now that the disk is locked and the partition fits. */
		r = fs_debootstrap_start(&dopt, &dbs, err);
		if (r < 0)
			goto out;
		disk_note(k, "%s: installing Debian with %s", c.where.buf, fs_debootstrap_describe(dbs));
		fs_debootstrap_source(dbs, &io);
	}

	/* iso:FILE: a live ISO's root image (fs/iso.c). */
	if (!strncmp(o->source, "iso:", 4))
		r = fs_install_iso(&c.t, o->source + 4, &io, err);
	else
		r = fs_install(&c.t, &io, err);
	if (r < 0 && dbs) {
		/* When mmdebstrap failed, its words say more than "truncated archive". */
		struct pb_err cerr = PB_ERR_INIT;

		if (fs_debootstrap_finish(dbs, &cerr) < 0)
			pb_err_set(err, cerr.code, "%s: %s", c.where.buf, pb_err_msg(&cerr));
		pb_err_clear(&cerr);
	}
	if (r < 0)
		goto out;
	if (ret) {
		strbuf_reset(&ret->from);
		strbuf_addstr(&ret->from, dbs ? fs_debootstrap_describe(dbs) : strcmp(o->source, "-") ? o->source
												      : "standard input");
	}

	/* Still holding the disk: the menu lists the guest now that it is complete. */
	r = disk_menu_refresh(k, NULL, err);
	if (r < 0)
		pb_err_prefix(err, r, "%s: installed, but the boot menu was not refreshed: ", c.where.buf);
out:
	disk_install_end(&c);
	return r;
}
