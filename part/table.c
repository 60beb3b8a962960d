/* SPDX-License-Identifier: MIT */
/*
 * The partition table in memory: partboot's types and libfdisk's, a new
 * table, the table loaded from libfdisk's label and partboot's record (the
 * record's sector is the one read here), and the snapshot in partition
 * order that every query reads (find, count, the usable range, GRUB's
 * embedding area), rebuilt after each change. Edits are edit.c's; the one
 * writer is write.c's part_disk_write().
 */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <uuid/uuid.h>

#include "part-private.h"

static const struct {
	enum part_type type;
	const char *name;
	const char *gpt; /* type GUID */
	unsigned dos;    /* MBR type byte; 0 = not allowed on dos */
} types[] = {
	{ PART_TYPE_ESP, "esp", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", 0xef },
	{ PART_TYPE_BIOS_BOOT, "bios-boot", "21686148-6449-6E6F-744E-656564454649", 0 },
	{ PART_TYPE_ROOT, "root", "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", 0x83 },
	{ PART_TYPE_SWAP, "swap", "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", 0x82 },
	{ PART_TYPE_DATA, "data", "0FC63DAF-8483-4772-8E79-3D69D8477DE4", 0x83 },
};

/* Namespace of partboot's name-based (SHA-1, RFC 4122 §4.3) identifiers. */
static const char seed_namespace[] = "6a1f3c52-8e0b-4d7a-9c35-2b9e4f7d1a60";

int part_type_from_string(const char *s, enum part_type *ret)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(types); i++)
		if (!strcmp(s, types[i].name)) {
			*ret = types[i].type;
			return 0;
		}
	return -EINVAL;
}

const char *part_type_to_string(enum part_type t)
{
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (types[i].type == t)
			return types[i].name;
	return "unknown";
}

const char *part_table_to_string(enum part_table t)
{
	return t == PART_TABLE_GPT ? "gpt" : t == PART_TABLE_DOS ? "dos" : "none";
}

uint64_t part_table_min_disk_size(enum part_table table, unsigned ss)
{
	/* The 1 MiB lead-in, room for one 1 MiB partition, and on GPT the
	 * backup entries + header (33 sectors with 128 entries). */
	return 2 * PART_ALIGN + (table == PART_TABLE_GPT ? 33 * (uint64_t)ss : 0);
}

uint64_t part_table_first_usable(const struct part_disk *d)
{
	uint64_t first = (uint64_t)fdisk_get_first_lba(d->cxt) * d->sector_size;

	return first < PART_ALIGN ? PART_ALIGN : (first + PART_ALIGN - 1) / PART_ALIGN * PART_ALIGN;
}

/* One past the last usable byte. */
uint64_t part_table_end_usable(const struct part_disk *d)
{
	return ((uint64_t)fdisk_get_last_lba(d->cxt) + 1) * d->sector_size;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static enum part_type type_from_fdisk(const struct part_disk *d, struct fdisk_parttype *t, char *ret_str,
				      size_t len)
{
	if (!t) {
		snprintf(ret_str, len, "?");
		return PART_TYPE_UNKNOWN;
	}
	if (d->table == PART_TABLE_GPT) {
		const char *s = fdisk_parttype_get_string(t);

		snprintf(ret_str, len, "%s", s ? s : "?");
		for (size_t i = 0; s && i < ARRAY_SIZE(types); i++)
			if (!strcasecmp(s, types[i].gpt))
				return types[i].type;
		return PART_TYPE_UNKNOWN;
	}
	snprintf(ret_str, len, "0x%02x", fdisk_parttype_get_code(t));
	switch (fdisk_parttype_get_code(t)) {
	case 0xef:
		return PART_TYPE_ESP;
	case 0x82:
		return PART_TYPE_SWAP;
	case 0x83:
		return PART_TYPE_DATA; /* root vs data: partboot's record decides */
	default:
		return PART_TYPE_UNKNOWN;
	}
}

struct fdisk_parttype *part_type_to_fdisk(const struct part_disk *d, enum part_type t)
{
	struct fdisk_label *lb = fdisk_get_label(d->cxt, NULL);

	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (types[i].type == t)
			return d->table == PART_TABLE_GPT ? fdisk_label_get_parttype_from_string(lb, types[i].gpt)
							  : fdisk_label_get_parttype_from_code(lb, types[i].dos);
	return NULL;
}

static int cmp_partno(const void *a, const void *b)
{
	const struct part_info *x = a, *y = b;

	return (x->partno > y->partno) - (x->partno < y->partno);
}

int part_table_refresh(struct part_disk *d, struct pb_err *err)
{
	struct fdisk_table *tb = NULL;
	struct fdisk_iter *it = NULL;
	struct fdisk_partition *pa;
	struct part_info *v = NULL;
	size_t n = 0;
	int r = 0;

	free(d->parts);
	d->parts = NULL;
	d->n_parts = 0;
	if (d->table == PART_TABLE_NONE)
		return 0;
	r = fdisk_get_partitions(d->cxt, &tb);
	if (r < 0)
		return pb_err_set(err, r, "%s: cannot read the partition table: %s", d->display, strerror(-r));
	it = fdisk_new_iter(0);
	v = xcalloc(fdisk_table_get_nents(tb) + 1, sizeof(*v));
	if (!it) {
		r = pb_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	while (fdisk_table_next_partition(tb, it, &pa) == 0) {
		struct part_info *p = &v[n];
		struct part_meta *m;
		const char *s;

		if (!fdisk_partition_has_partno(pa) || fdisk_partition_is_container(pa) ||
		    !fdisk_partition_is_used(pa))
			continue;
		p->partno = (unsigned)fdisk_partition_get_partno(pa) + 1;
		p->start = (uint64_t)fdisk_partition_get_start(pa) * d->sector_size;
		p->size = (uint64_t)fdisk_partition_get_size(pa) * d->sector_size;
		p->type = type_from_fdisk(d, fdisk_partition_get_type(pa), p->type_str, sizeof(p->type_str));
		m = part_meta_find(d, p->start / d->sector_size);
		if (d->table == PART_TABLE_GPT) {
			s = fdisk_partition_get_name(pa);
			snprintf(p->name, sizeof(p->name), "%s", s ? s : "");
			s = fdisk_partition_get_uuid(pa);
			snprintf(p->uuid, sizeof(p->uuid), "%s", s ? s : "");
			lower(p->uuid);
		} else {
			/* The kernel's PARTUUID for MBR: signature-partno. */
			snprintf(p->uuid, sizeof(p->uuid), "%s-%02x", d->id + 2, p->partno);
			if (m) {
				snprintf(p->name, sizeof(p->name), "%s", m->name);
				if (p->type == PART_TYPE_DATA && m->type == PART_TYPE_ROOT)
					p->type = PART_TYPE_ROOT;
			}
		}
		if (m)
			snprintf(p->label, sizeof(p->label), "%s", m->label);
		n++;
	}
	qsort(v, n, sizeof(*v), cmp_partno);
	d->parts = v;
	d->n_parts = n;
	v = NULL;
out:
	free(v);
	fdisk_free_iter(it);
	fdisk_unref_table(tb);
	return r;
}

static void read_id(struct part_disk *d)
{
	char *id = NULL;

	d->id[0] = 0;
	if (d->table != PART_TABLE_NONE && fdisk_get_disklabel_id(d->cxt, &id) == 0 && id) {
		snprintf(d->id, sizeof(d->id), "%s", id);
		lower(d->id);
	}
	free(id);
}

int part_table_load(struct part_disk *d, struct pb_err *err)
{
	uint8_t rec[PART_RECORD_SIZE];
	uint64_t off = part_record_offset(d->sector_size);

	d->table = PART_TABLE_NONE;
	if (fdisk_has_label(d->cxt)) {
		if (fdisk_is_label(d->cxt, GPT))
			d->table = PART_TABLE_GPT;
		else if (fdisk_is_label(d->cxt, DOS))
			d->table = PART_TABLE_DOS;
		else
			return pb_err_set(err, -EOPNOTSUPP, "%s: has a '%s' partition table; partboot handles gpt and dos",
					  d->display, fdisk_label_get_name(fdisk_get_label(d->cxt, NULL)));
	}
	read_id(d);
	free(d->meta);
	d->meta = NULL;
	d->n_meta = 0;
	free(d->record_seed);
	d->record_seed = NULL;
	/* A missing or damaged record only loses names (dos), labels and the seed. */
	if (d->table != PART_TABLE_NONE && d->size >= off + PART_RECORD_SIZE &&
	    pread(d->fd, rec, sizeof(rec), (off_t)off) == (ssize_t)sizeof(rec) &&
	    part_record_decode(rec, &d->meta, &d->n_meta, &d->record_seed) < 0) {
		d->meta = NULL;
		d->n_meta = 0;
		d->record_seed = NULL;
	}
	/* The disk's seed goes on deriving identifiers until the caller sets another. */
	if (d->record_seed && !d->seed) {
		d->seed = xstrdup(d->record_seed);
	}
	return part_table_refresh(d, err);
}

/* Name-based identifier: SHA-1 UUID of "SEED/WHAT" in partboot's namespace. */
void part_seed_uuid(const char *seed, const char *what, const char *name, char out[37])
{
	uuid_t ns, u;
	struct strbuf sb = STRBUF_INIT;

	uuid_parse(seed_namespace, ns);
	strbuf_addf(&sb, "%s/%s%s%s", seed, what, name ? "/" : "", name ? name : "");
	uuid_generate_sha1(u, ns, sb.buf, sb.len);
	uuid_unparse_lower(u, out);
	strbuf_release(&sb);
}

static int set_seeded_disk_id(struct part_disk *d, struct pb_err *err)
{
	char u[37], s[16];
	uuid_t raw;
	uint32_t sig;
	int r;

	part_seed_uuid(d->seed, "disk", NULL, u);
	if (d->table == PART_TABLE_GPT) {
		r = fdisk_set_disklabel_id_from_string(d->cxt, u);
	} else {
		uuid_parse(u, raw);
		sig = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
		snprintf(s, sizeof(s), "0x%08x", sig ? sig : 1);
		r = fdisk_set_disklabel_id_from_string(d->cxt, s);
	}
	if (r < 0)
		return pb_err_set(err, r, "%s: cannot set the disk identifier: %s", d->display, strerror(-r));
	read_id(d);
	return 0;
}

void part_disk_set_seed(struct part_disk *d, const char *seed)
{
	free(d->seed);
	d->seed = seed && *seed ? xstrdup(seed) : NULL;
}

int part_disk_new_table(struct part_disk *d, enum part_table table, const char *seed, struct pb_err *err)
{
	uint64_t need = part_table_min_disk_size(table, d->sector_size);
	char a[32], b[32];
	int r;

	if (table != PART_TABLE_GPT && table != PART_TABLE_DOS)
		return pb_err_set(err, -EINVAL, "%s: unknown table type", d->display);
	if (d->rdonly)
		return pb_err_set(err, -EBADF, "%s: opened read-only", d->display);
	if (d->size < need)
		return pb_err_set(err, -ENOSPC, "%s: %s is too small for a %s table (needs at least %s)", d->display,
				  pb_format_size(d->size, a, sizeof(a)), table == PART_TABLE_GPT ? "GPT" : "dos",
				  pb_format_size(need, b, sizeof(b)));
	/* A new table gives away every partition: none may be in use by a VM meanwhile. */
	if (d->table != PART_TABLE_NONE) {
		r = part_disk_check_unlocked(d, NULL, err);
		if (r < 0)
			return r;
	}
	if (seed && *seed && !part_seed_valid(seed))
		return pb_err_set(err, -EINVAL, "%s: seed '%.*s%s' cannot be kept with the disk: at most %d bytes, "
				  "no control characters", d->display, 20, seed, strlen(seed) > 20 ? "..." : "",
				  PART_SEED_MAX);
	if (table == PART_TABLE_DOS && d->size / d->sector_size > UINT32_MAX)
		return pb_err_set(err, -EFBIG, "%s: %s is too large for a dos table (2 TiB at most); use gpt",
				  d->display, pb_format_size(d->size, a, sizeof(a)));
	r = fdisk_create_disklabel(d->cxt, table == PART_TABLE_GPT ? "gpt" : "dos");
	if (r < 0)
		return pb_err_set(err, r, "%s: cannot create a %s table: %s", d->display,
				  part_table_to_string(table), strerror(-r));
	d->table = table;
	d->new_table = d->dirty = true;
	free(d->meta);
	d->meta = NULL;
	d->n_meta = 0;
	part_disk_set_seed(d, seed);
	/* kept in the record, so later opens derive identifiers from it too */
	free(d->record_seed);
	d->record_seed = d->seed ? xstrdup(d->seed) : NULL;
	read_id(d);
	if (d->seed) {
		r = set_seeded_disk_id(d, err);
		if (r < 0)
			return r;
	}
	return part_table_refresh(d, err);
}

size_t part_disk_count(const struct part_disk *d)
{
	return d->n_parts;
}

int part_disk_get(const struct part_disk *d, size_t index, struct part_info *ret)
{
	if (index >= d->n_parts)
		return -ENOENT;
	*ret = d->parts[index];
	return 0;
}

static const struct part_info *find_info(const struct part_disk *d, const char *s)
{
	unsigned n;

	if (!s || !*s)
		return NULL;
	for (size_t i = 0; i < d->n_parts; i++)
		if (!strcmp(d->parts[i].name, s))
			return &d->parts[i];
	if (pb_parse_partno(s, 256, &n))
		for (size_t i = 0; i < d->n_parts; i++)
			if (d->parts[i].partno == n)
				return &d->parts[i];
	return NULL;
}

int part_disk_find(const struct part_disk *d, const char *name_or_number, struct part_info *ret,
		   struct pb_err *err)
{
	const struct part_info *p = find_info(d, name_or_number);
	unsigned n;

	if (!p) {
		if (d->table == PART_TABLE_NONE)
			return pb_err_set(err, -ENOENT, "%s: no partition table (run partboot init first)", d->display);
		if (pb_parse_partno(name_or_number, 256, &n))
			return pb_err_set(err, -ENOENT, "%s: no partition number %u", d->display, n);
		return pb_err_set(err, -ENOENT, "%s: no partition '%s'", d->display, name_or_number);
	}
	if (ret)
		*ret = *p;
	return 0;
}

static void describe(const struct part_disk *d, const struct part_info *p, char *buf, size_t len)
{
	uint64_t first = p->start / d->sector_size, sectors = p->size / d->sector_size;

	if (p->name[0])
		snprintf(buf, len, "partition %u '%s' (sectors %" PRIu64 "-%" PRIu64 ")", p->partno, p->name, first,
			 first + sectors - 1);
	else
		snprintf(buf, len, "partition %u (sectors %" PRIu64 "-%" PRIu64 ")", p->partno, first,
			 first + sectors - 1);
}

int part_table_check(const struct part_disk *d, struct pb_err *err)
{
	uint64_t first, end; /* usable bytes [first, end) */
	char a[128], b[128];

	if (d->table == PART_TABLE_NONE)
		return 0;
	/* GPT: the header's usable range (gpt.c checked that it leaves out the tables); dos: after the MBR */
	if (d->table == PART_TABLE_GPT) {
		first = (uint64_t)fdisk_get_first_lba(d->cxt) * d->sector_size;
		end = part_table_end_usable(d);
	} else {
		first = d->sector_size;
		end = d->size / d->sector_size * d->sector_size;
	}
	for (size_t i = 0; i < d->n_parts; i++) {
		const struct part_info *p = &d->parts[i];

		describe(d, p, a, sizeof(a));
		/* libfdisk gives an entry that ends before it starts a size of 0 */
		if (!p->size)
			return pb_err_set(err, -EUCLEAN, "%s: partition %u ends before it starts; the table is broken "
					  "(partboot init --force replaces it)", d->display, p->partno);
		if (p->start < first || p->start + p->size > end || p->start + p->size < p->start)
			return pb_err_set(err, -EUCLEAN, "%s: %s lies outside the usable sectors %" PRIu64 "-%" PRIu64
					  " (the partition tables live there); the table is broken (partboot init "
					  "--force replaces it)", d->display, a, first / d->sector_size,
					  end / d->sector_size - 1);
		for (size_t j = 0; j < i; j++) {
			const struct part_info *q = &d->parts[j];

			if (p->start < q->start + q->size && q->start < p->start + p->size) {
				describe(d, q, b, sizeof(b));
				return pb_err_set(err, -EUCLEAN, "%s: %s overlaps %s; the table is broken (partboot "
						  "init --force replaces it)", d->display, b, a);
			}
		}
	}
	return 0;
}

int part_disk_embed_area(const struct part_disk *d, uint64_t *ret_start, uint64_t *ret_size, struct pb_err *err)
{
	uint64_t start, end;

	if (d->table == PART_TABLE_GPT) {
		for (size_t i = 0; i < d->n_parts; i++)
			if (d->parts[i].type == PART_TYPE_BIOS_BOOT) {
				*ret_start = d->parts[i].start;
				*ret_size = d->parts[i].size;
				return 0;
			}
		return pb_err_set(err, -ENOENT,
				  "%s: no bios-boot partition for GRUB (add one: partboot add %s bios --type bios-boot --size 1M)",
				  d->display, d->display);
	}
	if (d->table != PART_TABLE_DOS)
		return pb_err_set(err, -ENOENT, "%s: no partition table", d->display);
	/* The MBR gap: after sector 0, up to partboot's record or the first partition. */
	start = d->sector_size;
	end = part_record_offset(d->sector_size);
	for (size_t i = 0; i < d->n_parts; i++)
		if (d->parts[i].start < end)
			end = d->parts[i].start;
	if (end <= start)
		return pb_err_set(err, -ENOSPC, "%s: no gap after the MBR (partition 1 starts at sector 1)", d->display);
	*ret_start = start;
	*ret_size = end - start;
	return 0;
}
