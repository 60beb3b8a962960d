/* SPDX-License-Identifier: MIT */
/*
 * Edits of the partition table in memory: add, remove, rename, resize, and
 * the type change of apply --force. Each validates the request completely
 * (names, sizes, alignment, overlaps, a partition in use), then edits
 * libfdisk's label and partboot's record in memory and marks the disk
 * dirty; nothing is written until part_disk_write() (write.c).
 */
#include <inttypes.h>
#include <string.h>

#include "part-private.h"

static const char *pname(const struct part_info *p, char *buf, size_t len)
{
	if (p->name[0])
		snprintf(buf, len, "%u '%s'", p->partno, p->name);
	else
		snprintf(buf, len, "%u", p->partno);
	return buf;
}

static int check_writable(const struct part_disk *d, struct pb_err *err)
{
	if (d->rdonly || !d->locked)
		return pb_err_set(err, -EBADF, "%s: opened read-only", d->display);
	if (d->table == PART_TABLE_NONE)
		return pb_err_set(err, -ENOENT, "%s: no partition table (run partboot init first)", d->display);
	return 0;
}

static int check_name(const struct part_disk *d, const char *name, struct pb_err *err)
{
	unsigned n;

	if (!name || !*name)
		return pb_err_set(err, -EINVAL, "%s: a partition needs a name", d->display);
	if (strlen(name) > PART_NAME_MAX)
		return pb_err_set(err, -EINVAL, "%s: partition '%s': name longer than %d characters", d->display,
				  name, PART_NAME_MAX);
	for (const char *s = name; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '/' || *s == ' ')
			return pb_err_set(err, -EINVAL,
					  "%s: partition '%s': names take no spaces, slashes or control characters",
					  d->display, name);
	/* All digits would be read back as a partition number. */
	if (pb_parse_partno(name, UINT32_MAX, &n) || strspn(name, "0123456789") == strlen(name))
		return pb_err_set(err, -EINVAL, "%s: partition '%s': a name cannot be a number", d->display, name);
	return 0;
}

/* Partitions sorted by start, for free-space walks. */
static int cmp_start(const void *a, const void *b)
{
	const struct part_info *x = *(const struct part_info *const *)a, *y = *(const struct part_info *const *)b;

	return (x->start > y->start) - (x->start < y->start);
}

static uint64_t align_up(uint64_t v)
{
	return (v + PART_ALIGN - 1) / PART_ALIGN * PART_ALIGN;
}

/*
 * First aligned start where size bytes fit (size 0: the largest run, whose
 * aligned length goes to *ret_size). *ret_largest is the largest aligned run.
 */
static int find_free(const struct part_disk *d, uint64_t size, uint64_t *ret_start, uint64_t *ret_size,
		     uint64_t *ret_largest)
{
	_cleanup_free_ const struct part_info **v = xcalloc(d->n_parts + 1, sizeof(*v));
	uint64_t cursor = part_table_first_usable(d), end = part_table_end_usable(d);
	uint64_t best = 0, best_start = 0;
	bool found = false;

	for (size_t i = 0; i < d->n_parts; i++)
		v[i] = &d->parts[i];
	qsort(v, d->n_parts, sizeof(*v), cmp_start);
	for (size_t i = 0; i <= d->n_parts; i++) {
		uint64_t gap_end = i < d->n_parts ? v[i]->start : end, s = align_up(cursor), len;

		if (gap_end > end)
			gap_end = end;
		len = gap_end > s ? (gap_end - s) / PART_ALIGN * PART_ALIGN : 0;
		if (len > best) {
			best = len;
			best_start = s;
		}
		if (size && !found && len >= size) {
			*ret_start = s;
			found = true;
		}
		if (i < d->n_parts && v[i]->start + v[i]->size > cursor)
			cursor = v[i]->start + v[i]->size;
	}
	*ret_largest = best;
	if (!size && best) {
		*ret_start = best_start;
		*ret_size = best;
		return 0;
	}
	if (size && found) {
		*ret_size = size;
		return 0;
	}
	return -ENOSPC;
}

int part_disk_add(struct part_disk *d, const struct part_spec *spec, struct part_info *ret, struct pb_err *err)
{
	char a[32], b[32], c[96];
	uint64_t size, start = 0, got = 0, largest = 0, end;
	unsigned partno = 0, max;
	struct fdisk_partition *pa = NULL;
	struct fdisk_parttype *ft;
	struct part_meta m = { 0 };
	size_t fpartno = 0;
	int r;

	r = check_writable(d, err);
	if (r < 0)
		return r;
	r = check_name(d, spec->name, err);
	if (r < 0)
		return r;
	if (spec->type == PART_TYPE_UNKNOWN || !strcmp(part_type_to_string(spec->type), "unknown"))
		return pb_err_set(err, -EINVAL, "%s: partition '%s': unknown type (esp, bios-boot, root, swap, data)",
				  d->display, spec->name);
	if (spec->type == PART_TYPE_BIOS_BOOT && d->table == PART_TABLE_DOS)
		return pb_err_set(err, -EINVAL,
				  "%s: partition '%s': no bios-boot partition on a dos table (GRUB embeds itself in the gap after the MBR)",
				  d->display, spec->name);
	if (spec->label && strlen(spec->label) > PART_LABEL_MAX)
		return pb_err_set(err, -EINVAL, "%s: partition '%s': label longer than %d characters", d->display,
				  spec->name, PART_LABEL_MAX);
	for (size_t i = 0; i < d->n_parts; i++) {
		const struct part_info *p = &d->parts[i];

		if (!strcmp(p->name, spec->name))
			return pb_err_set(err, -EEXIST, "%s: partition '%s' already exists (number %u)", d->display,
					  spec->name, p->partno);
		if ((spec->type == PART_TYPE_ESP || spec->type == PART_TYPE_BIOS_BOOT) && p->type == spec->type)
			return pb_err_set(err, -EEXIST, "%s: partition '%s': the disk already has %s partition %s",
					  d->display, spec->name,
					  spec->type == PART_TYPE_ESP ? "an EFI system (esp)" : "a bios-boot",
					  pname(p, c, sizeof(c)));
	}

	/* Lowest free number; a dos table holds 4 primary partitions. */
	max = d->table == PART_TABLE_DOS ? 4 : (unsigned)fdisk_get_npartitions(d->cxt);
	for (unsigned n = 1; n <= max && !partno; n++) {
		bool used = false;

		for (size_t i = 0; i < d->n_parts; i++)
			used |= d->parts[i].partno == n;
		if (!used)
			partno = n;
	}
	if (!partno)
		return pb_err_set(err, -ENOSPC, "%s: partition '%s': the %s table is full (%u partitions)", d->display,
				  spec->name, part_table_to_string(d->table), max);

	/* Before aligning: a size within 1 MiB of 2^64 would wrap to 0, which means "the rest". */
	if (spec->size > UINT64_MAX - (PART_ALIGN - 1))
		return pb_err_set(err, -ENOSPC, "%s: partition '%s': %s requested, the disk is %s", d->display,
				  spec->name, pb_format_size(spec->size, a, sizeof(a)), pb_format_size(d->size, b, sizeof(b)));
	size = spec->size ? align_up(spec->size) : 0;
	end = part_table_end_usable(d);
	if (spec->start) {
		if (spec->start % PART_ALIGN)
			return pb_err_set(err, -EINVAL, "%s: partition '%s': start %s is not 1 MiB aligned", d->display,
					  spec->name, pb_format_size(spec->start, a, sizeof(a)));
		if (spec->start < part_table_first_usable(d))
			return pb_err_set(err, -EINVAL, "%s: partition '%s': start %s is before the first usable byte (%s)",
					  d->display, spec->name, pb_format_size(spec->start, a, sizeof(a)),
					  pb_format_size(part_table_first_usable(d), b, sizeof(b)));
		start = spec->start;
		if (!size) {
			/* "rest" from a given start: up to the next partition or the end. */
			uint64_t lim = end;

			for (size_t i = 0; i < d->n_parts; i++)
				if (d->parts[i].start >= start && d->parts[i].start < lim)
					lim = d->parts[i].start;
			size = lim > start ? (lim - start) / PART_ALIGN * PART_ALIGN : 0;
			if (!size)
				return pb_err_set(err, -ENOSPC, "%s: partition '%s': no free space at %s", d->display,
						  spec->name, pb_format_size(start, a, sizeof(a)));
		}
		for (size_t i = 0; i < d->n_parts; i++) {
			const struct part_info *p = &d->parts[i];

			if (start < p->start + p->size && p->start < start + size)
				return pb_err_set(err, -EEXIST,
						  "%s: partition '%s': %s at %s overlaps partition %s (%s to %s)",
						  d->display, spec->name, pb_format_size(size, a, sizeof(a)),
						  pb_format_size(start, b, sizeof(b)), pname(p, c, sizeof(c)),
						  pb_format_size(p->start, (char[32]){ 0 }, 32),
						  pb_format_size(p->start + p->size, (char[32]){ 0 }, 32));
		}
		if (start + size > end)
			return pb_err_set(err, -ENOSPC, "%s: partition '%s': %s at %s runs past the end of the disk (%s)",
					  d->display, spec->name, pb_format_size(size, a, sizeof(a)),
					  pb_format_size(start, b, sizeof(b)), pb_format_size(end, c, sizeof(c)));
	} else {
		r = find_free(d, size, &start, &got, &largest);
		if (r < 0) {
			if (!size || !largest)
				return pb_err_set(err, -ENOSPC, "%s: partition '%s': no free space left", d->display,
						  spec->name);
			return pb_err_set(err, -ENOSPC, "%s: partition '%s': %s requested, largest free space is %s",
					  d->display, spec->name, pb_format_size(size, a, sizeof(a)),
					  pb_format_size(largest, b, sizeof(b)));
		}
		size = got;
	}
	ft = part_type_to_fdisk(d, spec->type);
	if (!ft)
		return pb_err_set(err, -EINVAL, "%s: partition '%s': libfdisk does not know type %s", d->display,
				  spec->name, part_type_to_string(spec->type));

	/* Validated: now edit memory. */
	pa = fdisk_new_partition();
	if (!pa)
		return pb_err_set(err, -ENOMEM, "out of memory");
	fdisk_partition_set_partno(pa, partno - 1);
	fdisk_partition_set_start(pa, start / d->sector_size);
	fdisk_partition_set_size(pa, size / d->sector_size);
	fdisk_partition_set_type(pa, ft);
	if (d->table == PART_TABLE_GPT) {
		fdisk_partition_set_name(pa, spec->name);
		if (d->seed) {
			char u[37];

			part_seed_uuid(d->seed, "partition", spec->name, u);
			fdisk_partition_set_uuid(pa, u);
		}
	}
	r = fdisk_add_partition(d->cxt, pa, &fpartno);
	fdisk_unref_partition(pa);
	if (r < 0)
		return pb_err_set(err, r, "%s: partition '%s': libfdisk refused it: %s", d->display, spec->name,
				  strerror(-r));

	m.start_lba = start / d->sector_size;
	m.type = spec->type;
	if (d->table == PART_TABLE_DOS)
		snprintf(m.name, sizeof(m.name), "%s", spec->name);
	if (spec->label)
		snprintf(m.label, sizeof(m.label), "%s", spec->label);
	if (d->table == PART_TABLE_DOS || m.label[0])
		part_meta_add(d, &m);
	d->dirty = true;
	r = part_table_refresh(d, err);
	if (r < 0)
		return r;
	if (ret)
		return part_disk_find(d, spec->name, ret, err);
	return 0;
}

int part_disk_remove(struct part_disk *d, const char *name_or_number, struct pb_err *err)
{
	struct part_info p;
	int r;

	r = check_writable(d, err);
	if (r < 0)
		return r;
	r = part_disk_find(d, name_or_number, &p, err);
	if (r < 0)
		return r;
	r = part_disk_check_unused(d, &p, err);
	if (r >= 0)
		r = part_disk_check_unlocked(d, &p, err);
	if (r < 0)
		return r;
	r = fdisk_delete_partition(d->cxt, p.partno - 1);
	if (r < 0)
		return pb_err_set(err, r, "%s: partition %u: cannot remove: %s", d->display, p.partno, strerror(-r));
	part_meta_remove(d, p.start / d->sector_size);
	d->dirty = true;
	return part_table_refresh(d, err);
}

int part_disk_rename(struct part_disk *d, const char *name_or_number, const char *new_name, struct pb_err *err)
{
	struct part_info p, other;
	struct part_meta *m;
	int r;

	r = check_writable(d, err);
	if (r < 0)
		return r;
	r = part_disk_find(d, name_or_number, &p, err);
	if (r < 0)
		return r;
	r = check_name(d, new_name, err);
	if (r < 0)
		return r;
	if (part_disk_find(d, new_name, &other, NULL) == 0 && other.partno != p.partno)
		return pb_err_set(err, -EEXIST, "%s: partition %u is already named '%s'", d->display, other.partno,
				  new_name);

	if (d->table == PART_TABLE_GPT) {
		struct fdisk_partition *pa = NULL;

		r = fdisk_get_partition(d->cxt, p.partno - 1, &pa);
		if (r >= 0) {
			r = fdisk_partition_set_name(pa, new_name);
			if (r >= 0)
				r = fdisk_set_partition(d->cxt, p.partno - 1, pa);
		}
		fdisk_unref_partition(pa);
		if (r < 0)
			return pb_err_set(err, r, "%s: partition %u: cannot rename: %s", d->display, p.partno,
					  strerror(-r));
	} else {
		m = part_meta_find(d, p.start / d->sector_size);
		if (m) {
			snprintf(m->name, sizeof(m->name), "%s", new_name);
		} else {
			struct part_meta nm = { .start_lba = p.start / d->sector_size, .type = p.type };

			snprintf(nm.name, sizeof(nm.name), "%s", new_name);
			part_meta_add(d, &nm);
		}
	}
	d->dirty = true;
	return part_table_refresh(d, err);
}

int part_disk_resize(struct part_disk *d, const char *name_or_number, uint64_t size, uint64_t min_size,
		     struct pb_err *err)
{
	char a[32], b[32], c[96];
	const struct part_info *next = NULL;
	struct fdisk_partition *pa;
	struct part_info p;
	uint64_t lim, max;
	int r;

	r = check_writable(d, err);
	if (r < 0)
		return r;
	r = part_disk_find(d, name_or_number, &p, err);
	if (r >= 0)
		r = part_disk_check_unlocked(d, &p, err);
	if (r < 0)
		return r;
	lim = part_table_end_usable(d);
	for (size_t i = 0; i < d->n_parts; i++)
		if (d->parts[i].start > p.start && d->parts[i].start < lim) {
			lim = d->parts[i].start;
			next = &d->parts[i];
		}
	max = lim > p.start ? lim - p.start : 0;
	/* Before aligning: a size within 1 MiB of 2^64 would wrap to 0 and end the entry before it starts. */
	if (size > UINT64_MAX - (PART_ALIGN - 1))
		return pb_err_set(err, -ENOSPC, "%s: partition %s: %s requested, the disk is %s", d->display,
				  pname(&p, c, sizeof(c)), pb_format_size(size, a, sizeof(a)),
				  pb_format_size(d->size, b, sizeof(b)));
	if (!size) {
		/* rest: every whole MiB up to the next partition (or the end). */
		size = max / PART_ALIGN * PART_ALIGN;
		if (size < p.size)
			size = max / d->sector_size * d->sector_size;
	} else {
		size = align_up(size);
	}
	if (size > max) {
		if (next)
			return pb_err_set(err, -ENOSPC,
					  "%s: partition %s: %s requested would overlap partition %s (at most %s fits)",
					  d->display, pname(&p, c, sizeof(c)), pb_format_size(size, a, sizeof(a)),
					  pname(next, (char[96]){ 0 }, 96), pb_format_size(max, b, sizeof(b)));
		return pb_err_set(err, -ENOSPC, "%s: partition %s: %s requested, at most %s fits before the end of the disk",
				  d->display, pname(&p, c, sizeof(c)), pb_format_size(size, a, sizeof(a)),
				  pb_format_size(max, b, sizeof(b)));
	}
	if (size < min_size)
		return pb_err_set(err, -EINVAL,
				  "%s: partition %s: %s is below the smallest size its filesystem can take (%s, %" PRIu64
				  " bytes)",
				  d->display, pname(&p, c, sizeof(c)), pb_format_size(size, a, sizeof(a)),
				  pb_format_size(min_size, b, sizeof(b)), min_size);
	if (size == p.size)
		return 0;
	r = part_disk_check_unused(d, &p, err);
	if (r < 0)
		return r;
	pa = fdisk_new_partition();
	if (!pa)
		return pb_err_set(err, -ENOMEM, "out of memory");
	fdisk_partition_set_size(pa, size / d->sector_size);
	r = fdisk_set_partition(d->cxt, p.partno - 1, pa);
	fdisk_unref_partition(pa);
	if (r < 0)
		return pb_err_set(err, r, "%s: partition %s: cannot resize: %s", d->display, pname(&p, c, sizeof(c)),
				  strerror(-r));
	d->dirty = true;
	return part_table_refresh(d, err);
}

int part_disk_move(struct part_disk *d, const char *name_or_number, uint64_t start, struct pb_err *err)
{
	char a[32], b[32], c[96];
	struct fdisk_partition *pa;
	struct part_meta *m;
	struct part_info p;
	uint64_t end;
	int r;

	r = check_writable(d, err);
	if (r < 0)
		return r;
	r = part_disk_find(d, name_or_number, &p, err);
	if (r < 0)
		return r;
	end = part_table_end_usable(d);
	if (start % PART_ALIGN)
		return pb_err_set(err, -EINVAL, "%s: partition %s: start %s is not 1 MiB aligned", d->display,
				  pname(&p, c, sizeof(c)), pb_format_size(start, a, sizeof(a)));
	if (start < part_table_first_usable(d))
		return pb_err_set(err, -EINVAL, "%s: partition %s: start %s is before the first usable byte (%s)",
				  d->display, pname(&p, c, sizeof(c)), pb_format_size(start, a, sizeof(a)),
				  pb_format_size(part_table_first_usable(d), b, sizeof(b)));
	if (start > end || p.size > end - start)
		return pb_err_set(err, -ENOSPC, "%s: partition %s: %s at %s runs past the end of the disk (%s)",
				  d->display, pname(&p, c, sizeof(c)), pb_format_size(p.size, a, sizeof(a)),
				  pb_format_size(start, b, sizeof(b)), pb_format_size(end, (char[32]){ 0 }, 32));
	for (size_t i = 0; i < d->n_parts; i++) {
		const struct part_info *q = &d->parts[i];

		if (q->partno != p.partno && start < q->start + q->size && q->start < start + p.size)
			return pb_err_set(err, -EEXIST, "%s: partition %s: %s at %s overlaps partition %s", d->display,
					  pname(&p, c, sizeof(c)), pb_format_size(p.size, a, sizeof(a)),
					  pb_format_size(start, b, sizeof(b)), pname(q, (char[96]){ 0 }, 96));
	}
	if (start == p.start)
		return 0;
	r = part_disk_check_unused(d, &p, err);
	if (r < 0)
		return r;
	pa = fdisk_new_partition();
	if (!pa)
		return pb_err_set(err, -ENOMEM, "out of memory");
	fdisk_partition_set_start(pa, start / d->sector_size);
	fdisk_partition_set_size(pa, p.size / d->sector_size);
	r = fdisk_set_partition(d->cxt, p.partno - 1, pa);
	fdisk_unref_partition(pa);
	if (r < 0)
		return pb_err_set(err, r, "%s: partition %s: cannot move: %s", d->display, pname(&p, c, sizeof(c)),
				  strerror(-r));
	/* partboot's record is keyed by the start: it follows. */
	m = part_meta_find(d, p.start / d->sector_size);
	if (m)
		m->start_lba = start / d->sector_size;
	d->dirty = true;
	return part_table_refresh(d, err);
}

int part_table_set_type(struct part_disk *d, const struct part_info *p, enum part_type type, struct pb_err *err)
{
	struct fdisk_parttype *ft = part_type_to_fdisk(d, type);
	struct fdisk_partition *pa;
	struct part_meta m = { .start_lba = p->start / d->sector_size, .type = type }, *old;
	int r;

	if (!ft || (type == PART_TYPE_BIOS_BOOT && d->table == PART_TABLE_DOS))
		return pb_err_set(err, -EINVAL, "%s: partition %u: type %s not possible on a %s table", d->display,
				  p->partno, part_type_to_string(type), part_table_to_string(d->table));
	r = part_disk_check_unlocked(d, p, err);
	if (r < 0)
		return r;
	pa = fdisk_new_partition();
	if (!pa)
		return pb_err_set(err, -ENOMEM, "out of memory");
	fdisk_partition_set_type(pa, ft);
	r = fdisk_set_partition(d->cxt, p->partno - 1, pa);
	fdisk_unref_partition(pa);
	if (r < 0)
		return pb_err_set(err, r, "%s: partition %u: cannot change type: %s", d->display, p->partno,
				  strerror(-r));
	old = part_meta_find(d, m.start_lba);
	if (old) {
		old->type = type;
	} else if (d->table == PART_TABLE_DOS) {
		snprintf(m.name, sizeof(m.name), "%.*s", PART_NAME_MAX, p->name);
		part_meta_add(d, &m);
	}
	d->dirty = true;
	return part_table_refresh(d, err);
}
