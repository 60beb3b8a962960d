/* SPDX-License-Identifier: MIT */
/*
 * disk — which object touches the disk, and when:
 *
 *  - disk_open() (this file) opens and locks the disk through part/, and the
 *    struct disk owns that struct part_disk until disk_free().
 *  - Every operation of this library is a sequence of the lower libraries'
 *    writers, in an order that keeps the disk consistent at each step: the
 *    table through part_disk_write() (part.c, apply.c), filesystems and
 *    guests through fs/ (part.c, install.c, install-vm.c, apply.c), GRUB's
 *    files and grubenv through boot/ (menu.c), and, for the VM runner and
 *    installers, QEMU writing inside one partition (run.c, install-vm.c).
 *  - guest.c only reads: it is the one place that decides what a guest is.
 *
 * Nothing here prints: warnings and step notes go to the context's
 * struct disk_diag callbacks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/alloc.h"
#include "../common/debug.h"
#include "../common/macros.h"
#include "disk-private.h"

int disk_adopt(struct part_disk *d, const char *path, const struct disk_diag *diag, struct disk **ret,
	       struct pb_err *err)
{
	struct disk *k = xcalloc(1, sizeof(*k));

	k->path = xstrdup(path);
	k->d = d;
	if (diag)
		k->diag = *diag;
	*ret = k;
	return 0;
}

int disk_open(const char *path, unsigned flags, uint64_t create_size, const struct disk_diag *diag,
	      struct disk **ret, struct pb_err *err)
{
	struct part_disk *d = NULL;
	int r;

	r = part_disk_open(path, flags, create_size, &d, err);
	if (r < 0)
		return r;
	PB_DEBUG(PB_DEBUG_DISK, "%s: open (flags 0x%x)", path, flags);
	return disk_adopt(d, path, diag, ret, err);
}

void disk_free(struct disk *k)
{
	if (!k)
		return;
	part_disk_free(k->d);
	free(k->path);
	free(k);
}

struct part_disk *disk_part(const struct disk *k)
{
	return k->d;
}

const char *disk_path(const struct disk *k)
{
	return k->path;
}

void disk_set_seed(struct disk *k, const char *seed)
{
	part_disk_set_seed(k->d, seed);
}

static void emit(void (*fn)(const char *, void *), void *userdata, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void emit(void (*fn)(const char *, void *), void *userdata, const char *fmt, va_list ap)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_vaddf(&sb, fmt, ap);
	fn(sb.buf, userdata);
	strbuf_release(&sb);
}

void disk_warn(const struct disk *k, const char *fmt, ...)
{
	va_list ap;

	if (!k->diag.warn)
		return;
	va_start(ap, fmt);
	emit(k->diag.warn, k->diag.userdata, fmt, ap);
	va_end(ap);
}

void disk_note(const struct disk *k, const char *fmt, ...)
{
	va_list ap;

	if (!k->diag.note)
		return;
	va_start(ap, fmt);
	emit(k->diag.note, k->diag.userdata, fmt, ap);
	va_end(ap);
}

void disk_part_name(const struct part_info *p, char *buf, size_t len)
{
	if (p->name[0])
		snprintf(buf, len, "%s", p->name);
	else
		snprintf(buf, len, "%u", p->partno);
}

void disk_part_where(const struct disk *k, const struct part_info *p, struct strbuf *where)
{
	char name[80];

	disk_part_name(p, name, sizeof(name));
	strbuf_addf(where, "%s: partition '%s'", k->path, name);
}

struct fs_target disk_target(const struct disk *k, const struct part_info *p, const char *where,
			     const char *name)
{
	return (struct fs_target){
		.path = part_disk_path(k->d),
		.offset = p->start,
		.size = p->size,
		.where = where,
		.name = name,
	};
}

int disk_fs_open(struct disk *k, const char *name, struct fs **ret, struct pb_err *err)
{
	struct strbuf where = STRBUF_INIT;
	struct fs_target t;
	struct part_info p;
	char pname[80];
	int r;

	r = part_disk_find(k->d, name, &p, err);
	if (r < 0)
		return r;
	disk_part_name(&p, pname, sizeof(pname));
	disk_part_where(k, &p, &where);
	t = disk_target(k, &p, where.buf, pname);
	r = fs_open(&t, ret, err); /* t's strings are copied */
	strbuf_release(&where);
	return r;
}
