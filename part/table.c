/* SPDX-License-Identifier: MIT */
/*
 * The partition table in memory (libfdisk's label + partboot's record) and
 * part_disk_write(), the one function that writes it. Every other function
 * here validates a request completely, then edits memory.
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

/* CRC-32 (IEEE 802.3, reflected, as zlib and the UEFI spec use). */
uint32_t part_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

uint64_t part_record_offset(unsigned sector_size)
{
	return PART_ALIGN - sector_size;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int part_record_encode(const struct part_meta *m, size_t n, uint8_t out[PART_RECORD_SIZE])
{
	size_t pos = PART_RECORD_HEADER;

	memset(out, 0, PART_RECORD_SIZE);
	memcpy(out, PART_RECORD_MAGIC, 8);
	put32(out + 8, PART_RECORD_VERSION);
	put32(out + 12, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(m[i].name), ll = strlen(m[i].label);

		if (pos + 11 + nl + ll > PART_RECORD_SIZE)
			return -ENOSPC;
		for (int k = 0; k < 8; k++)
			out[pos + k] = (uint8_t)(m[i].start_lba >> (8 * k));
		out[pos + 8] = (uint8_t)m[i].type;
		out[pos + 9] = (uint8_t)nl;
		out[pos + 10] = (uint8_t)ll;
		memcpy(out + pos + 11, m[i].name, nl);
		memcpy(out + pos + 11 + nl, m[i].label, ll);
		pos += 11 + nl + ll;
	}
	put32(out + 16, part_crc32(0, out, PART_RECORD_SIZE));
	return 0;
}

int part_record_decode(const uint8_t in[PART_RECORD_SIZE], struct part_meta **ret, size_t *ret_n)
{
	uint8_t buf[PART_RECORD_SIZE];
	struct part_meta *m;
	size_t pos = PART_RECORD_HEADER;
	uint32_t n;

	if (memcmp(in, PART_RECORD_MAGIC, 8))
		return -ENOENT;
	memcpy(buf, in, sizeof(buf));
	memset(buf + 16, 0, 4);
	if (get32(in + 8) != PART_RECORD_VERSION || part_crc32(0, buf, sizeof(buf)) != get32(in + 16))
		return -EBADMSG;
	n = get32(in + 12);
	if (n > PART_RECORD_SIZE / 11)
		return -EBADMSG;
	m = calloc(n ? n : 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		size_t nl, ll;

		if (pos + 11 > PART_RECORD_SIZE)
			goto bad;
		nl = in[pos + 9];
		ll = in[pos + 10];
		if (nl > PART_NAME_MAX || ll > PART_LABEL_MAX || pos + 11 + nl + ll > PART_RECORD_SIZE)
			goto bad;
		for (int k = 0; k < 8; k++)
			m[i].start_lba |= (uint64_t)in[pos + k] << (8 * k);
		m[i].type = (enum part_type)in[pos + 8];
		memcpy(m[i].name, in + pos + 11, nl);
		memcpy(m[i].label, in + pos + 11 + nl, ll);
		pos += 11 + nl + ll;
	}
	*ret = m;
	*ret_n = n;
	return 0;
bad:
	free(m);
	return -EBADMSG;
}

static struct part_meta *meta_find(struct part_disk *d, uint64_t lba)
{
	for (size_t i = 0; i < d->n_meta; i++)
		if (d->meta[i].start_lba == lba)
			return &d->meta[i];
	return NULL;
}

static void meta_remove(struct part_disk *d, uint64_t lba)
{
	struct part_meta *m = meta_find(d, lba);

	if (!m)
		return;
	*m = d->meta[--d->n_meta];
}

static int meta_add(struct part_disk *d, const struct part_meta *src)
{
	struct part_meta *m;

	meta_remove(d, src->start_lba);
	m = realloc(d->meta, (d->n_meta + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	d->meta = m;
	d->meta[d->n_meta++] = *src;
	return 0;
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
	v = calloc(fdisk_table_get_nents(tb) + 1, sizeof(*v));
	if (!it || !v) {
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
		m = meta_find(d, p->start / d->sector_size);
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
	/* A missing or damaged record only loses names (dos) and labels. */
	if (d->table != PART_TABLE_NONE && d->size >= off + PART_RECORD_SIZE &&
	    pread(d->fd, rec, sizeof(rec), (off_t)off) == (ssize_t)sizeof(rec))
		part_record_decode(rec, &d->meta, &d->n_meta);
	return part_table_refresh(d, err);
}

/* Name-based identifier: SHA-1 UUID of "SEED/WHAT" in partboot's namespace. */
static void seed_uuid(const char *seed, const char *what, const char *name, char out[37])
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

	seed_uuid(d->seed, "disk", NULL, u);
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
	d->seed = seed && *seed ? strdup(seed) : NULL;
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
	_cleanup_free_ const struct part_info **v = calloc(d->n_parts + 1, sizeof(*v));
	uint64_t cursor = part_table_first_usable(d), end = part_table_end_usable(d);
	uint64_t best = 0, best_start = 0;
	bool found = false;

	if (!v)
		return -ENOMEM;
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

static struct fdisk_parttype *fdisk_type(const struct part_disk *d, enum part_type t)
{
	struct fdisk_label *lb = fdisk_get_label(d->cxt, NULL);

	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (types[i].type == t)
			return d->table == PART_TABLE_GPT ? fdisk_label_get_parttype_from_string(lb, types[i].gpt)
							  : fdisk_label_get_parttype_from_code(lb, types[i].dos);
	return NULL;
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
		if (r == -ENOMEM)
			return pb_err_set(err, r, "out of memory");
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
	ft = fdisk_type(d, spec->type);
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

			seed_uuid(d->seed, "partition", spec->name, u);
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
	if (d->table == PART_TABLE_DOS || m.label[0]) {
		r = meta_add(d, &m);
		if (r < 0)
			return pb_err_set(err, r, "out of memory");
	}
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
	if (r < 0)
		return r;
	r = fdisk_delete_partition(d->cxt, p.partno - 1);
	if (r < 0)
		return pb_err_set(err, r, "%s: partition %u: cannot remove: %s", d->display, p.partno, strerror(-r));
	meta_remove(d, p.start / d->sector_size);
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
		m = meta_find(d, p.start / d->sector_size);
		if (m) {
			snprintf(m->name, sizeof(m->name), "%s", new_name);
		} else {
			struct part_meta nm = { .start_lba = p.start / d->sector_size, .type = p.type };

			snprintf(nm.name, sizeof(nm.name), "%s", new_name);
			if (meta_add(d, &nm) < 0)
				return pb_err_set(err, -ENOMEM, "out of memory");
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
	if (r < 0)
		return r;
	lim = part_table_end_usable(d);
	for (size_t i = 0; i < d->n_parts; i++)
		if (d->parts[i].start > p.start && d->parts[i].start < lim) {
			lim = d->parts[i].start;
			next = &d->parts[i];
		}
	max = lim > p.start ? lim - p.start : 0;
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
		return pb_err_set(err, -EINVAL, "%s: partition %s: %s is smaller than the filesystem inside (%s)",
				  d->display, pname(&p, c, sizeof(c)), pb_format_size(size, a, sizeof(a)),
				  pb_format_size(min_size, b, sizeof(b)));
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

int part_table_set_type(struct part_disk *d, const struct part_info *p, enum part_type type, struct pb_err *err)
{
	struct fdisk_parttype *ft = fdisk_type(d, type);
	struct fdisk_partition *pa;
	struct part_meta m = { .start_lba = p->start / d->sector_size, .type = type }, *old;
	int r;

	if (!ft || (type == PART_TYPE_BIOS_BOOT && d->table == PART_TABLE_DOS))
		return pb_err_set(err, -EINVAL, "%s: partition %u: type %s not possible on a %s table", d->display,
				  p->partno, part_type_to_string(type), part_table_to_string(d->table));
	pa = fdisk_new_partition();
	if (!pa)
		return pb_err_set(err, -ENOMEM, "out of memory");
	fdisk_partition_set_type(pa, ft);
	r = fdisk_set_partition(d->cxt, p->partno - 1, pa);
	fdisk_unref_partition(pa);
	if (r < 0)
		return pb_err_set(err, r, "%s: partition %u: cannot change type: %s", d->display, p->partno,
				  strerror(-r));
	old = meta_find(d, m.start_lba);
	if (old) {
		old->type = type;
	} else if (d->table == PART_TABLE_DOS) {
		snprintf(m.name, sizeof(m.name), "%.*s", PART_NAME_MAX, p->name);
		r = meta_add(d, &m);
		if (r < 0)
			return pb_err_set(err, r, "out of memory");
	}
	d->dirty = true;
	return part_table_refresh(d, err);
}

/* The record as it must be written: one entry per partition that needs one. */
static int build_record(struct part_disk *d, uint8_t out[PART_RECORD_SIZE], bool *ret_needed, struct pb_err *err)
{
	_cleanup_free_ struct part_meta *v = calloc(d->n_parts + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return pb_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < d->n_parts; i++) {
		const struct part_info *p = &d->parts[i];
		struct part_meta *m = &v[n];

		if (d->table == PART_TABLE_GPT && !p->label[0])
			continue;
		if (d->table == PART_TABLE_DOS && !p->name[0] && !p->label[0])
			continue;
		m->start_lba = p->start / d->sector_size;
		m->type = p->type;
		if (d->table == PART_TABLE_DOS)
			snprintf(m->name, sizeof(m->name), "%.*s", PART_NAME_MAX, p->name);
		snprintf(m->label, sizeof(m->label), "%.*s", PART_LABEL_MAX, p->label);
		n++;
	}
	*ret_needed = n > 0;
	if (part_record_encode(v, n, out) < 0)
		return pb_err_set(err, -ENOSPC, "%s: names and labels do not fit in partboot's %d-byte record",
				  d->display, PART_RECORD_SIZE);
	return 0;
}

int part_disk_write(struct part_disk *d, struct pb_err *err)
{
	_cleanup_free_ uint8_t *sector = NULL;
	uint64_t off = part_record_offset(d->sector_size);
	bool needed = false, room = true;
	int r;

	if (d->rdonly || !d->locked)
		return pb_err_set(err, -EBADF, "%s: opened read-only", d->display);
	if (d->table == PART_TABLE_NONE || !d->dirty)
		return 0;
	sector = calloc(1, d->sector_size);
	if (!sector)
		return pb_err_set(err, -ENOMEM, "out of memory");
	r = build_record(d, sector, &needed, err);
	if (r < 0)
		return r;
	/* A foreign table may use the sector (a dos partition at LBA 63). */
	for (size_t i = 0; i < d->n_parts; i++)
		if (d->parts[i].start < off + d->sector_size && off < d->parts[i].start + d->parts[i].size)
			room = false;
	if (!room && needed)
		return pb_err_set(err, -ENOSPC, "%s: partition 1 covers the sector of partboot's name record (LBA %" PRIu64 ")",
				  d->display, off / d->sector_size);

	/* Validated: the table first, then the record that describes it. */
	r = fdisk_write_disklabel(d->cxt);
	if (r < 0)
		return pb_err_set(err, r, "%s: writing the partition table failed: %s", d->display, strerror(-r));
	/* A new dos table over a GPT: libfdisk leaves both GPT headers, and a
	 * stale backup header would make the disk look like a damaged GPT. */
	if (d->new_table && d->table == PART_TABLE_DOS) {
		uint64_t last = d->size / d->sector_size - 1;
		uint64_t lbas[2] = { 1, last };
		char sig[8];

		for (int i = 0; i < 2; i++)
			if (pread(d->fd, sig, 8, (off_t)(lbas[i] * d->sector_size)) == 8 &&
			    !memcmp(sig, "EFI PART", 8)) {
				memset(sector, 0, d->sector_size);
				if (pwrite(d->fd, sector, d->sector_size, (off_t)(lbas[i] * d->sector_size)) < 0)
					return pb_err_set(err, -errno, "%s: clearing the old GPT header failed: %s",
							  d->display, strerror(errno));
			}
		r = build_record(d, sector, &needed, err);
		if (r < 0)
			return r;
	}
	if (room && pwrite(d->fd, sector, d->sector_size, (off_t)off) != (ssize_t)d->sector_size)
		return pb_err_set(err, -errno ? -errno : -EIO, "%s: writing partboot's record failed: %s", d->display,
				  strerror(errno ? errno : EIO));
	if (fsync(d->fd) < 0 && errno != EINVAL)
		return pb_err_set(err, -errno, "%s: sync failed: %s", d->display, strerror(errno));
	/* Tell the kernel; a busy disk keeps the old view until it is re-read. */
	if (d->blockdev)
		fdisk_reread_partition_table(d->cxt);
	d->dirty = d->new_table = d->gpt_damaged = false;
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
