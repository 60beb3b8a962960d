/* SPDX-License-Identifier: MIT */
/*
 * disk_export(): one guest as a disk of its own, for a VM host or a cloud:
 * a GPT disk with a BIOS boot partition (1 MiB), an ESP (64 MiB, FAT32) and
 * the guest's partition (its name, root type, its size or --size), the
 * guest's filesystem copied in (the blocks in use, fs_copy(); the same
 * filesystem UUID, as a copy of an install carried elsewhere; a partition
 * UUID of its own), grown to the size asked, and partboot's GRUB for BIOS
 * and UEFI with the one menu entry. Raw (.img, .raw), or qcow2 / vmdk
 * (monolithicSparse) through qemu-img convert from a sparse raw scratch
 * file.
 *
 * Reads the source disk only (it may be opened read-only; the guest's
 * partition is locked, so a guest running in a VM is refused). Writes
 * nothing but the new file, made without a name beside it (O_TMPFILE; the
 * raw scratch of qcow2/vmdk likewise in $TMPDIR, else /var/tmp) and named
 * when whole, never over an existing file: a killed export leaves nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/macros.h"
#include "../common/run.h"
#include "../common/tmpdir.h"
#include "../common/util.h"
#include "disk-private.h"

#define EXPORT_ESP (64 * MiB)
#define EXPORT_BIOS MiB

static const char *export_format(const char *out)
{
	const char *dot = strrchr(out, '.');

	if (!dot || strchr(dot, '/'))
		return NULL;
	if (!strcmp(dot, ".img") || !strcmp(dot, ".raw"))
		return "raw";
	if (!strcmp(dot, ".qcow2"))
		return "qcow2";
	if (!strcmp(dot, ".vmdk"))
		return "vmdk";
	return NULL;
}

/* The new disk, in the raw file path: table, ESP, the copy, GRUB. */
static int build(struct disk *k, struct disk_op *c, const char *path, uint64_t size, const struct disk_export_opts *o,
		 struct pb_err *err)
{
	struct disk *x = NULL;
	struct part_spec bios = { .name = "bios-boot", .type = PART_TYPE_BIOS_BOOT, .size = EXPORT_BIOS };
	struct part_spec esp = { .name = "esp", .type = PART_TYPE_ESP, .size = EXPORT_ESP };
	struct part_spec guest = { .name = c->name, .type = PART_TYPE_ROOT, .size = size };
	struct part_info pe, pg;
	struct strbuf where = STRBUF_INIT;
	struct disk_diag diag = k->diag;
	struct fs_target gt;
	char gname[80];
	/* 1 MiB before the first partition, 1 MiB after the last for the backup GPT */
	uint64_t total = MiB + EXPORT_BIOS + EXPORT_ESP + size + MiB;
	int r;

	/* The build's own notes would name a scratch file: only warnings go through. */
	diag.note = NULL;
	r = disk_open(path, DISK_OPEN_CREATE, total, &diag, &x, err);
	if (r < 0)
		return r;
	part_disk_set_display(x->d, o->display ? o->display : path);
	free(x->path);
	x->path = xstrdup(o->display ? o->display : path);
	r = part_disk_new_table(x->d, PART_TABLE_GPT, o->seed, err);
	if (r >= 0)
		r = part_disk_add(x->d, &bios, NULL, err);
	if (r >= 0)
		r = part_disk_add(x->d, &esp, &pe, err);
	if (r >= 0)
		r = part_disk_add(x->d, &guest, &pg, err);
	if (r >= 0)
		r = part_disk_write(x->d, err);
	if (r >= 0)
		r = disk_mkfs_part(x, &pe, FS_KIND_VFAT, NULL, false, NULL, err);
	if (r < 0)
		goto out;
	disk_part_name(&pg, gname, sizeof(gname));
	disk_part_where(x, &pg, &where);
	gt = disk_target(x, &pg, where.buf, gname);
	{
		struct fs_copy_opts co = { .mode = FS_COPY_USED, .seed = o->seed };

		disk_op_progress(k, &co.progress, &co.userdata);
		r = fs_copy(&c->t, &gt, &co, NULL, err);
	}
	if (r >= 0 && size > c->p.size)
		r = fs_resize(&gt, size, o->seed, err);
	if (r >= 0)
		r = disk_bootloader_install(x, BOOT_INSTALL_BIOS | BOOT_INSTALL_UEFI, err);
out:
	strbuf_release(&where);
	disk_free(x);
	return r;
}

int disk_export(struct disk *k, const char *name, const char *out, const struct disk_export_opts *o,
		struct pb_err *err)
{
	static const struct disk_export_opts none;
	struct pb_tmpfile dst = { .fd = -1 }, scratch = { .fd = -1 };
	_cleanup_free_ char *dir = NULL;
	struct disk_export_opts bo;
	const char *fmt = export_format(out), *slash;
	struct disk_op c;
	struct fs_ext_info fi;
	struct stat st;
	uint64_t size;
	char a[32], b[32];
	int r;

	if (!o)
		o = &none;
	bo = *o;
	bo.display = out;
	if (!fmt)
		return pb_err_set(err, -EINVAL, "%s: the name must end in .img, .raw, .qcow2 or .vmdk (the format)", out);
	if (lstat(out, &st) == 0)
		return pb_err_set(err, -EEXIST, "%s: exists; an export is never written over a file", out);
	if (strcmp(fmt, "raw") && !pb_have_program("qemu-img"))
		return pb_err_set(err, -ENOENT, "qemu-img: program not found (package qemu-utils): needed for %s", fmt);
	r = disk_op_begin(k, name, &c, err);
	if (r >= 0)
		r = disk_op_need_guest(&c, true, err);
	if (r >= 0)
		r = fs_ext_info(&c.t, &fi, err);
	if (r < 0)
		goto out;
	if (!c.g.bootable) {
		r = pb_err_set(err, -EINVAL, "%s: %s: an export must boot", c.where.buf, c.g.why ? c.g.why : "not bootable");
		goto out;
	}
	size = o->size ? (o->size + MiB - 1) / MiB * MiB : c.p.size;
	if (size < c.p.size) {
		r = pb_err_set(err, -EINVAL, "%s: --size %s is smaller than the partition (%s); an export grows a "
			       "guest, it does not shrink one", c.where.buf, pb_format_size(size, a, sizeof(a)),
			       pb_format_size(c.p.size, b, sizeof(b)));
		goto out;
	}
	r = disk_op_lock(&c, err);
	if (r < 0)
		goto out;

	/*
	 * Files without names until the end (O_TMPFILE): OUT beside where it goes,
	 * and for qcow2/vmdk the raw disk as scratch in $TMPDIR (else /var/tmp). An
	 * export cut short leaves neither.
	 */
	slash = strrchr(out, '/');
	dir = slash ? xstrndup(out, (size_t)(slash - out + 1)) : xstrdup(".");
	r = pb_tmpfile_open(&dst, dir, PB_TMP_LARGE, ".partboot-export", err);
	if (r >= 0 && strcmp(fmt, "raw"))
		r = pb_tmpfile_open(&scratch, NULL, PB_TMP_LARGE, "partboot-export", err);
	if (r < 0)
		goto out;
	disk_note(k, "%s: exporting to %s (%s)", c.where.buf, out, fmt);
	r = build(k, &c, scratch.fd >= 0 ? scratch.path : dst.path, size, &bo, err);
	if (r >= 0 && scratch.fd >= 0)
		r = pb_run((const char *const[]){ "qemu-img", "convert", "-q", "-f", "raw", "-O", fmt, scratch.path,
						  dst.path, NULL },
			   NULL, err);
	if (r >= 0 && (fchmod(dst.fd, 0644) < 0 || fsync(dst.fd) < 0))
		r = pb_err_set(err, -errno, "%s: %s", out, strerror(errno));
	if (r >= 0)
		r = pb_tmpfile_link(&dst, out, err);
out:
	pb_tmpfile_close(&dst);
	pb_tmpfile_close(&scratch);
	disk_op_end(&c);
	return r;
}
