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

/* "debootstrap:SUITE[:VARIANT]" split into suite and variant (malloc'ed copy in *ret_spec). */
static int parse_debootstrap(const char *source, char **ret_spec, const char **ret_suite, const char **ret_variant,
			     struct pb_err *err)
{
	char *spec, *colon;

	if (strncmp(source, "debootstrap:", 12))
		return -EINVAL;
	spec = strdup(source + 12);
	if (!spec)
		return pb_err_set(err, -ENOMEM, "out of memory");
	colon = strchr(spec, ':');
	if (colon)
		*colon = '\0';
	if (!*spec || (colon && (!colon[1] || strchr(colon + 1, ':')))) {
		free(spec);
		return pb_err_set(err, -EINVAL, "expected debootstrap:SUITE[:VARIANT], e.g. debootstrap:bookworm:minbase");
	}
	*ret_spec = spec;
	*ret_suite = spec;
	*ret_variant = colon ? colon + 1 : NULL;
	return 0;
}

int disk_source_check(const char *source, struct pb_err *err)
{
	_cleanup_free_ char *spec = NULL;
	const char *suite, *variant;

	if (!source || !*source)
		return pb_err_set(err, -EINVAL, "no source given (a tar archive, '-', a directory, iso:FILE or "
				  "debootstrap:SUITE[:VARIANT])");
	if (!strncmp(source, "debootstrap:", 12))
		return parse_debootstrap(source, &spec, &suite, &variant, err);
	return 0;
}

int disk_install_check(const struct disk_install_opts *o, struct pb_err *err)
{
	bool debootstrap;
	int r;

	if (o->via_vm) {
		if (!*o->via_vm)
			return pb_err_set(err, -EINVAL, "--via-vm takes an installer ISO, a disc (/dev/sr0), pxe:DIR or pxe:URL");
		if (o->source)
			return pb_err_set(err, -EINVAL, "a guest comes from a source or through an installer, not both");
	} else {
		r = disk_source_check(o->source, err);
		if (r < 0)
			return r;
	}
	debootstrap = o->source && !strncmp(o->source, "debootstrap:", 12);
	if (!debootstrap && (o->mirror || o->no_kernel || o->deb_cache))
		return pb_err_set(err, -EINVAL, "--mirror, --no-kernel and --deb-cache go with --from debootstrap:SUITE");
	if (o->hostname && !fs_hostname_valid(o->hostname))
		return pb_err_set(err, -EINVAL, "'%s' is not a valid hostname (letters, digits, '-', dots)", o->hostname);
	if (o->cmdline && strchr(o->cmdline, '\n'))
		return pb_err_set(err, -EINVAL, "--cmdline must be one line");
	return 0;
}

/* fs_install_opts.marked: the guest just went incomplete on the disk, so the menu drops it (quietly). */
static int marked(void *userdata, struct pb_err *err)
{
	struct disk_install_ctx *c = userdata;

	return disk_menu_refresh(c->k, c->name, err);
}

int disk_install_begin(struct disk *k, const char *name, const struct disk_install_opts *o,
		       struct disk_install_ctx *c, struct pb_err *err)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->k = k;
	strbuf_init(&c->where);
	r = disk_install_check(o, err);
	if (r < 0)
		return r;
	r = part_disk_find(k->d, name, &c->p, err);
	if (r < 0)
		return r;
	disk_part_name(&c->p, c->name, sizeof(c->name));
	disk_part_where(k, &c->p, &c->where);
	switch (c->p.type) {
	case PART_TYPE_ESP:
	case PART_TYPE_BIOS_BOOT:
	case PART_TYPE_SWAP:
		return pb_err_set(err, -EINVAL, "%s has type %s; a guest goes into a root or data partition",
				  c->where.buf, part_type_to_string(c->p.type));
	default:
		break;
	}
	c->t = disk_target(k, &c->p, c->where.buf, c->name);
	c->label = o->label ? o->label : c->p.label[0] ? c->p.label : NULL;
	if (o->hostname) {
		snprintf(c->hostname, sizeof(c->hostname), "%s", o->hostname);
	} else {
		fs_hostname_from_name(c->name, c->hostname, sizeof(c->hostname));
	}
	return 0;
}

void disk_install_end(struct disk_install_ctx *c)
{
	if (c->locked)
		part_disk_unlock_partition(c->k->d, &c->p);
	strbuf_release(&c->where);
}

int disk_install_lock(struct disk_install_ctx *c, struct pb_err *err)
{
	int r = part_disk_check_unused(c->k->d, &c->p, err);

	if (r >= 0)
		r = part_disk_lock_partition(c->k->d, &c->p, err);
	if (r >= 0)
		c->locked = true;
	return r;
}

int disk_install(struct disk *k, const char *name, const struct disk_install_opts *o,
		 struct disk_install_result *ret, struct pb_err *err)
{
	_cleanup_(fs_debootstrap_freep) struct fs_debootstrap *dbs = NULL;
	_cleanup_free_ char *spec = NULL;
	struct disk_install_ctx c;
	struct fs_install_opts io = { 0 };
	int r;

	if (o->via_vm)
		return disk_install_via_vm(k, name, o, ret, err);
	r = disk_install_begin(k, name, o, &c, err);
	if (r >= 0)
		r = disk_install_lock(&c, err);
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
	if (!strcmp(o->source, "-")) {
		io.source_is_fd = true;
		io.source_fd = o->source_fd;
	}

	if (!strncmp(o->source, "debootstrap:", 12)) {
		struct fs_debootstrap_opts dopt = {
			.mirror = o->mirror,
			.cache_dir = o->deb_cache,
			.no_kernel = o->no_kernel,
			.verbose = o->verbose,
			.seeded = io.seed != NULL,
		};

		r = parse_debootstrap(o->source, &spec, &dopt.suite, &dopt.variant, err);
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

void disk_install_result_release(struct disk_install_result *r)
{
	if (r)
		strbuf_release(&r->from);
}
