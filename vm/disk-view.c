/* SPDX-License-Identifier: MIT */
/*
 * The whole-disk view of firmware mode: what the VM sees as its disk.
 *
 * QEMU's vmdk driver reads a text descriptor listing extents, each a byte
 * range of some file; VirtualBox's raw-partition disks work this way. Two
 * things measured on QEMU 7.2 shape the design:
 *  - ZERO extents are skipped silently (the disk just gets shorter), and so
 *    are RDONLY and NOACCESS ones (vmdk_parse_extents() keeps only "RW"), which
 *    shifts every later extent — so every extent here is RW and FLAT.
 *  - the extents are opened as separate nodes, each with its own image lock,
 *    so each gets extents.N.locking=off (partboot holds the partition lock).
 * Hence one per-VM sparse "shadow" file as large as the disk: the guest's
 * partition maps to the real disk; everything else maps to the shadow at the
 * same offset, where the tables, GRUB's embedding area, the ESP and the BIOS
 * boot partition are copied when the VM starts and the rest is holes (reads
 * as zeros). Guest writes outside its partition land in the shadow and are
 * thrown away with it: the real table, ESP and other guests never change.
 *
 * For libvirt the shadow is split, one file per extent ("shadow-N.img"
 * beside the descriptor, named relative to it): libvirt cannot pass
 * extents.N.locking=off, and QEMU then refuses a second extent on a file
 * it has locked already ("Failed to get resize lock").
 *
 * Touches the disk: vm_disk_view_write() only reads it (pread on the disk's
 * descriptor), and writes only the shadow and descriptor files it creates.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "vm-private.h"

#define COPY_EDGE (1 * MiB)  /* copied at each end of a large free run */
#define COPY_WHOLE (4 * MiB) /* free runs up to this are copied whole */

struct plan {
	struct vm_extent *e;
	size_t n, alloc;
};

static void plan_add(struct plan *pl, uint64_t start, uint64_t size, enum vm_extent_src src, bool copy,
		     const char *what)
{
	if (!size)
		return;
	if (pl->n == pl->alloc) {
		size_t na = pl->alloc ? pl->alloc * 2 : 16;
		struct vm_extent *ne = xreallocarray(pl->e, na, sizeof(*ne));

		pl->e = ne;
		pl->alloc = na;
	}
	pl->e[pl->n++] = (struct vm_extent){ start, size, src, copy, what };
}

/* Space outside every partition: tables at the ends, alignment gaps, free space. */
static void plan_gap(struct plan *pl, uint64_t start, uint64_t end, uint64_t disk_size)
{
	const char *what = (start == 0 || end == disk_size) ? "table" : "gap";
	uint64_t size = end - start;

	if (size <= COPY_WHOLE) {
		plan_add(pl, start, size, VM_EXTENT_SHADOW, true, what);
		return;
	}
	plan_add(pl, start, COPY_EDGE, VM_EXTENT_SHADOW, true, what);
	plan_add(pl, start + COPY_EDGE, size - 2 * COPY_EDGE, VM_EXTENT_SHADOW, false, "free");
	plan_add(pl, end - COPY_EDGE, COPY_EDGE, VM_EXTENT_SHADOW, true, what);
}

static int cmp_start(const void *a, const void *b)
{
	const struct part_info *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int vm_disk_view_plan(const struct part_info *parts, size_t n, unsigned target_partno, uint64_t disk_size,
		      struct vm_extent **ret, size_t *ret_n, struct pb_err *err)
{
	return vm_disk_view_plan_live(parts, n, &target_partno, 1, disk_size, ret, ret_n, err);
}

int vm_disk_view_plan_live(const struct part_info *parts, size_t n, const unsigned *live, size_t n_live,
			   uint64_t disk_size, struct vm_extent **ret, size_t *ret_n, struct pb_err *err)
{
	_cleanup_free_ struct part_info *sorted = NULL;
	struct plan pl = { 0 };
	size_t found = 0;
	uint64_t pos = 0;

	if (disk_size % 512)
		return pb_err_set(err, -EINVAL, "disk size %" PRIu64 " is not a multiple of 512 bytes", disk_size);
	sorted = xmalloc((n ? n : 1) * sizeof(*sorted));
	if (n)
		memcpy(sorted, parts, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_start);

	for (size_t i = 0; i < n; i++) {
		const struct part_info *p = &sorted[i];
		bool target = false;

		for (size_t j = 0; j < n_live; j++)
			target |= p->partno == live[j];
		if (p->start < pos || p->start % 512 || p->size % 512 || p->start + p->size > disk_size) {
			free(pl.e);
			return pb_err_set(err, -EINVAL, "partition %u overlaps another or the disk end, or is not "
					  "sector aligned", p->partno);
		}
		if (p->start > pos)
			plan_gap(&pl, pos, p->start, disk_size);
		found += target;
		if (target)
			plan_add(&pl, p->start, p->size, VM_EXTENT_DISK, false, "guest");
		else if (p->type == PART_TYPE_ESP)
			plan_add(&pl, p->start, p->size, VM_EXTENT_SHADOW, true, "esp");
		else if (p->type == PART_TYPE_BIOS_BOOT)
			plan_add(&pl, p->start, p->size, VM_EXTENT_SHADOW, true, "bios-boot");
		else
			plan_add(&pl, p->start, p->size, VM_EXTENT_SHADOW, false, "other");
		pos = p->start + p->size;
	}
	if (pos < disk_size)
		plan_gap(&pl, pos, disk_size, disk_size);
	if (found != n_live) {
		free(pl.e);
		return pb_err_set(err, -ENOENT, "partition %u not found in the disk view", n_live ? live[0] : 0);
	}
	*ret = pl.e;
	*ret_n = pl.n;
	return 0;
}

void vm_vmdk_descriptor(const struct vm_extent *e, size_t n, const char *disk_path, const char *shadow_path,
			struct strbuf *out)
{
	/* split (shadow_path NULL): extent i in shadow-i.img from its start */
	strbuf_addstr(out, "# Disk DescriptorFile\n"
			   "# partboot whole-disk view: the guest's partition is live, the rest is a private\n"
			   "# shadow copy (see docs/vm.md). Every extent is RW: QEMU skips RDONLY ones.\n"
			   "version=1\n"
			   "CID=fffffffe\n"
			   "parentCID=ffffffff\n"
			   "createType=\"monolithicFlat\"\n"
			   "\n"
			   "# Extent description\n");
	for (size_t i = 0; i < n; i++) {
		if (e[i].src == VM_EXTENT_DISK)
			strbuf_addf(out, "RW %" PRIu64 " FLAT \"%s\" %" PRIu64 "\n", e[i].size / 512, disk_path,
				    e[i].start / 512);
		else if (shadow_path)
			strbuf_addf(out, "RW %" PRIu64 " FLAT \"%s\" %" PRIu64 "\n", e[i].size / 512, shadow_path,
				    e[i].start / 512);
		else
			strbuf_addf(out, "RW %" PRIu64 " FLAT \"shadow-%zu.img\" 0\n", e[i].size / 512, i);
	}
	strbuf_addstr(out, "\n"
			   "# The Disk Data Base\n"
			   "ddb.virtualHWVersion = \"4\"\n"
			   "ddb.adapterType = \"ide\"\n");
}

static bool all_zero(const char *buf, size_t len)
{
	return len == 0 || (buf[0] == 0 && !memcmp(buf, buf + 1, len - 1));
}

/*
 * Copy [start, start+size) of the disk to the shadow at start - base (the
 * same offset, or 0 for a split shadow's own file), leaving holes where the
 * disk has holes (SEEK_DATA, image files) or zeros.
 */
static int copy_range(int disk_fd, bool blockdev, int shadow_fd, uint64_t base, uint64_t start, uint64_t size,
		      struct pb_err *err)
{
	_cleanup_free_ char *buf = xmalloc(1 * MiB);
	uint64_t pos = start, end = start + size;

	while (pos < end) {
		uint64_t stop = end;
		if (!blockdev) {
			off_t d = lseek(disk_fd, (off_t)pos, SEEK_DATA);
			off_t h;

			if (d < 0 && errno == ENXIO)
				return 0; /* only a hole up to the end of the file */
			if (d >= 0) {
				if ((uint64_t)d >= end)
					return 0;
				pos = (uint64_t)d;
				h = lseek(disk_fd, (off_t)pos, SEEK_HOLE);
				if (h >= 0 && (uint64_t)h < stop)
					stop = (uint64_t)h;
			}
		}
		while (pos < stop) {
			size_t len = (size_t)(stop - pos < 1 * MiB ? stop - pos : 1 * MiB);
			ssize_t got = pread(disk_fd, buf, len, (off_t)pos);

			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return pb_err_set(err, -errno, "cannot read the disk at %" PRIu64 ": %s", pos,
						  strerror(errno));
			if (got == 0)
				return 0; /* short image: the rest reads as zeros anyway */
			if (!all_zero(buf, (size_t)got) && pwrite(shadow_fd, buf, (size_t)got, (off_t)(pos - base)) != got)
				return pb_err_set(err, -EIO, "cannot write the shadow file: %s", strerror(errno));
			pos += (uint64_t)got;
		}
	}
	return 0;
}

static int shadow_create(const char *path, uint64_t size, struct pb_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return pb_err_set(err, -errno, "%s: cannot create: %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;

		close(fd);
		return pb_err_set(err, -e, "%s: cannot size: %s", path, strerror(e));
	}
	return fd;
}

int vm_disk_view_write(int disk_fd, bool blockdev, uint64_t disk_size, const struct vm_extent *e, size_t n,
		       const char *disk_path, const char *shadow_path, const char *view_path, bool split,
		       struct pb_err *err)
{
	_cleanup_(strbuf_release) struct strbuf desc = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf name = STRBUF_INIT;
	_cleanup_close_ int sfd = -1;
	_cleanup_close_ int vfd = -1;
	int r;

	if (strpbrk(disk_path, "\"\n"))
		return pb_err_set(err, -EINVAL, "%s: a disk path with '\"' or a newline cannot go in a vmdk "
				  "descriptor", disk_path);
	if (!split) {
		sfd = shadow_create(shadow_path, disk_size, err);
		if (sfd < 0)
			return sfd;
	}
	for (size_t i = 0; i < n; i++) {
		if (e[i].src != VM_EXTENT_SHADOW)
			continue;
		if (split) {
			/* shadow_path is a prefix: DIR/shadow gives DIR/shadow-N.img */
			strbuf_reset(&name);
			strbuf_addf(&name, "%s-%zu.img", shadow_path, i);
			closep(&sfd);
			sfd = shadow_create(name.buf, e[i].size, err);
			if (sfd < 0)
				return sfd;
		}
		if (!e[i].copy)
			continue;
		r = copy_range(disk_fd, blockdev, sfd, split ? e[i].start : 0, e[i].start, e[i].size, err);
		if (r < 0)
			return r;
	}

	vm_vmdk_descriptor(e, n, disk_path, split ? NULL : shadow_path, &desc);
	vfd = open(view_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (vfd < 0)
		return pb_err_set(err, -errno, "%s: cannot create: %s", view_path, strerror(errno));
	if (write(vfd, desc.buf, desc.len) != (ssize_t)desc.len)
		return pb_err_set(err, -EIO, "%s: cannot write: %s", view_path, strerror(errno));
	return 0;
}
