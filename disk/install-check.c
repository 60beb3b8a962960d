/* SPDX-License-Identifier: MIT */
/*
 * What every install shares, whatever its source: the request checked
 * without a disk (disk_install_check), then the partition found, refused
 * when it cannot hold a guest, and locked (the install context that
 * install.c and install-vm.c both use). Writes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/macros.h"
#include "disk-private.h"

/* "debootstrap:SUITE[:VARIANT]" split into suite and variant (malloc'ed copy in *ret_spec). */
int disk_debootstrap_parse(const char *source, char **ret_spec, const char **ret_suite, const char **ret_variant,
			     struct pb_err *err)
{
	char *spec, *colon;

	if (strncmp(source, "debootstrap:", 12))
		return -EINVAL;
	spec = xstrdup(source + 12);
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
		return pb_err_set(err, -EINVAL, "no source given (a tar archive, '-', a directory, iso:FILE, "
				  "debootstrap:SUITE[:VARIANT] or disk:IMAGE[:PARTITION])");
	if (!strncmp(source, "disk:", 5) && (!source[5] || source[5] == ':'))
		return pb_err_set(err, -EINVAL, "expected disk:IMAGE[:PARTITION], e.g. disk:cloud.qcow2 or disk:disk.img:2");
	if (!strncmp(source, "debootstrap:", 12))
		return disk_debootstrap_parse(source, &spec, &suite, &variant, err);
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
		if (o->answers_url && !o->answers)
			return pb_err_set(err, -EINVAL, "--answers-url needs --answers FILE (the file to serve there)");
		if (o->answers_url && (r = vm_answers_url_parse(o->answers_url, NULL, NULL, err)) < 0)
			return r;
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
	if (o->packages) {
		struct strbuf list = STRBUF_INIT;

		if (!debootstrap)
			return pb_err_set(err, -EINVAL, "--packages goes with --from debootstrap:SUITE (mmdebstrap's --include); "
					  "in an existing guest, --firstboot can run apt-get");
		r = fs_debootstrap_packages(o->packages, &list, err);
		strbuf_release(&list);
		if (r < 0)
			return r;
	}
	if (o->customize) {
		const struct disk_customize_opts *co = o->customize;

		r = disk_customize_check(co, err);
		if (r < 0)
			return r;
		if (o->source && !strcmp(o->source, "-") &&
		    ((co->root_password_file && !strcmp(co->root_password_file, "-")) ||
		     (co->user_password_file && !strcmp(co->user_password_file, "-"))))
			return pb_err_set(err, -EINVAL, "standard input carries the guest (--from -): give the password in a file");
		if (co->vm_network)
			return pb_err_set(err, -EINVAL, "vm_network is for partboot ssh on an installed guest");
	}
	return 0;
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
	/* Passwords, keys, scripts: read and checked now, before anything is written. */
	if (!disk_customize_empty(o->customize)) {
		c->customize = true;
		r = disk_custom_load(&c->custom, o->customize, part_disk_seed(k->d), c->name, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int disk_install_customize(struct fs *fs, void *userdata, struct pb_err *err)
{
	struct disk_install_ctx *c = userdata;

	return disk_custom_apply(&c->custom, c->k, fs, c->where.buf, c->hostname, false, err);
}

void disk_install_end(struct disk_install_ctx *c)
{
	if (c->locked)
		part_disk_unlock_partition(c->k->d, &c->p);
	if (c->customize)
		disk_custom_release(&c->custom);
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


void disk_install_result_release(struct disk_install_result *r)
{
	if (r)
		strbuf_release(&r->from);
}
