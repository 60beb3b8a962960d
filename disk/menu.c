/* SPDX-License-Identifier: MIT */
/*
 * The boot menu kept in step with the guests: the model (guest.c) says
 * which guests are bootable, boot/ renders and writes grub.cfg. Every
 * operation that changes a guest or a partition ends here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/macros.h"
#include "disk-private.h"

/* The entries of the bootable guests of gs, with their titles and kernel lists (owned here). */
struct menu {
	struct boot_entry *e;
	size_t n;
	struct strbuf *titles;
	struct boot_kernel **kernels;
};

static void menu_release(struct menu *m)
{
	for (size_t i = 0; i < m->n; i++) {
		strbuf_release(&m->titles[i]);
		free(m->kernels[i]);
	}
	free(m->titles);
	free(m->kernels);
	free(m->e);
}

/* The boot entry of bootable guest g: its newest kernel, and all of them for the submenu (*ret_kernels, caller frees). */
static struct boot_entry guest_entry(const struct disk_guest *g, const char *title, struct boot_kernel **ret_kernels)
{
	struct boot_kernel *kv = xcalloc(g->info.n_kernels ? g->info.n_kernels : 1, sizeof(*kv));

	for (size_t i = 0; i < g->info.n_kernels; i++)
		kv[i] = (struct boot_kernel){ g->info.kernels[i].version, g->info.kernels[i].kernel,
					      g->info.kernels[i].initrd };
	*ret_kernels = kv;
	return (struct boot_entry){
		.id = g->part.name,
		.title = title,
		.fs_uuid = g->probe.uuid,
		.partuuid = g->part.uuid,
		.kernel = g->info.n_kernels ? g->info.kernels[0].kernel : NULL,
		.initrd = g->info.n_kernels ? g->info.kernels[0].initrd : NULL,
		.cmdline = g->info.cmdline,
		.boot_fs_uuid = g->has_boot ? g->boot_probe.uuid : NULL,
		.kernels = kv,
		.n_kernels = g->info.n_kernels,
	};
}

/*
 * Secure Boot: the signed GRUB has shim check each kernel, and refuses one
 * without a signature ("bad shim signature"). Debian's kernels are signed; a
 * self-built one usually is not. The entry stays (it boots with Secure Boot
 * off, and through BIOS), with a warning. A kernel that cannot be read is
 * not warned about here: the guest model already said what is wrong.
 */
static void warn_unsigned(struct disk *k, const struct disk_guest *g, const char *where)
{
	_cleanup_free_ char *data = NULL;
	struct fs *fs = NULL;
	size_t len = 0;
	int r;

	r = disk_fs_open(k, g->part.name, &fs, NULL);
	if (r >= 0)
		r = fs_read_file(fs, g->info.kernels[0].kernel, &data, &len, NULL);
	fs_free(fs);
	if (r >= 0 && !boot_pe_is_signed(data, len))
		disk_warn(k, "%s: kernel %s is not signed: with Secure Boot enforced GRUB refuses it "
			  "(\"bad shim signature\"); sign it with a key enrolled in shim (sbsign, mokutil) or boot "
			  "this guest with Secure Boot off", where, g->info.kernels[0].kernel);
}

/*
 * Build the menu from gs; warn (except about the guest named quiet) for each
 * guest left out, and with secure_boot for each guest whose kernel is not
 * signed.
 */
static int menu_build(struct disk *k, const struct disk_guests *gs, const char *quiet, bool secure_boot,
		      struct menu *m, struct pb_err *err)
{
	m->n = 0;
	m->e = xcalloc(gs->n ? gs->n : 1, sizeof(*m->e));
	m->titles = xcalloc(gs->n ? gs->n : 1, sizeof(*m->titles));
	m->kernels = xcalloc(gs->n ? gs->n : 1, sizeof(*m->kernels));
	for (size_t i = 0; i < gs->n; i++) {
		const struct disk_guest *g = &gs->v[i];
		struct strbuf where = STRBUF_INIT;
		bool loud = !quiet || strcmp(quiet, g->part.name);

		if (g->state == DISK_GUEST_NONE)
			continue;
		disk_part_where(k, &g->part, &where);
		if (g->skipped && loud)
			disk_warn(k, "%s: %s", where.buf, g->skipped);
		if (!g->bootable) {
			if (!loud || !g->part.name[0])
				;
			else if (g->state == DISK_GUEST_UNREADABLE)
				disk_warn(k, "%s: left out of the boot menu: %s", where.buf, g->why);
			else if (g->state == DISK_GUEST_INCOMPLETE)
				disk_warn(k, "%s: guest is incomplete (install interrupted or under way), left out of "
					  "the boot menu", where.buf);
			/* a data partition is quietly not a guest; a root partition or an OS says it is one */
			else if (g->info.boot_source && g->why)
				disk_warn(k, "%s: left out of the boot menu: %s", where.buf, g->why);
			else if (!g->info.n_kernels && (g->part.type == PART_TYPE_ROOT || g->info.pretty_name))
				disk_warn(k, "%s: no kernel in /boot, left out of the boot menu", where.buf);
			strbuf_release(&where);
			continue;
		}
		{
			const char *cl = g->info.cmdline ? g->info.cmdline : "ro quiet";
			size_t len = strlen("root=PARTUUID= ") + strlen(g->part.uuid) + strlen(cl);

			if (len > DISK_CMDLINE_MAX && loud)
				disk_warn(k, "%s: the kernel command line is %zu bytes (/etc/kernel/cmdline and root=); "
					  "Linux keeps the first %d", where.buf, len, DISK_CMDLINE_MAX);
		}
		if (secure_boot)
			warn_unsigned(k, g, where.buf);
		strbuf_release(&where);
		strbuf_init(&m->titles[m->n]);
		if (g->info.pretty_name)
			strbuf_addf(&m->titles[m->n], "%s (%s)", g->part.name, g->info.pretty_name);
		else
			strbuf_addstr(&m->titles[m->n], g->part.name);
		m->e[m->n] = guest_entry(g, m->titles[m->n].buf, &m->kernels[m->n]);
		m->n++;
	}
	return 0;
}

int disk_menu_refresh(struct disk *k, const char *quiet, struct pb_err *err)
{
	struct disk_guests gs = { 0 };
	struct menu m = { 0 };
	int r;

	if (!boot_is_installed(k->d))
		return 0;
	r = disk_guest_scan(k, &gs, err);
	if (r < 0)
		return r;
	r = menu_build(k, &gs, quiet, boot_is_secure_boot(k->d), &m, err);
	if (r >= 0) {
		r = boot_menu_write(k->d, m.e, m.n, err);
		menu_release(&m);
	}
	disk_guests_release(&gs);
	return r;
}

int disk_bootloader_install(struct disk *k, unsigned flags, struct pb_err *err)
{
	struct disk_guests gs = { 0 };
	struct menu m = { 0 };
	int r;

	r = disk_guest_scan(k, &gs, err);
	if (r < 0)
		return r;
	r = menu_build(k, &gs, NULL, flags & BOOT_INSTALL_SECURE_BOOT, &m, err);
	if (r >= 0) {
		r = boot_install(k->d, flags, m.e, m.n, err);
		menu_release(&m);
	}
	disk_guests_release(&gs);
	return r;
}

int disk_boot_native(struct disk *k, const char *name, enum boot_native_action action, struct pb_err *err)
{
	struct disk_guests gs = { 0 };
	const struct disk_guest *g;
	struct boot_kernel *kv = NULL;
	struct boot_entry e;
	int r;

	r = disk_guest_scan(k, &gs, err);
	if (r < 0)
		return r;
	g = disk_guests_find(&gs, name);
	/* boot_native() refuses what cannot be booted natively first, then names an unknown guest */
	e = (struct boot_entry){ .id = name };
	if (g && g->part.name[0])
		e = guest_entry(g, NULL, &kv);
	r = boot_native(k->d, &e, action, err);
	free(kv);
	disk_guests_release(&gs);
	return r;
}
