/* SPDX-License-Identifier: MIT */
/*
 * partboot's record (layout in part-private.h): its CRC32, encoding and
 * decoding, the in-memory copy keyed by start LBA that the edits change,
 * and the record as it must be written, built from the table. Nothing here
 * reads or writes the disk: table.c reads the sector, write.c writes it.
 */
#include <string.h>

#include "../common/endian.h"
#include "part-private.h"

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

bool part_seed_valid(const char *seed)
{
	size_t len = strlen(seed);

	if (!len || len > PART_SEED_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)seed; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

int part_record_encode(const struct part_meta *m, size_t n, const char *seed, uint8_t out[PART_RECORD_SIZE])
{
	size_t pos = PART_RECORD_HEADER, sl = seed ? strlen(seed) : 0;

	if (seed && !part_seed_valid(seed))
		return -EINVAL;
	memset(out, 0, PART_RECORD_SIZE);
	memcpy(out, PART_RECORD_MAGIC, 8);
	pb_put_le32(out + 8, PART_RECORD_VERSION);
	pb_put_le32(out + 12, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(m[i].name), ll = strlen(m[i].label);

		if (pos + 11 + nl + ll > PART_RECORD_SIZE - sl)
			return -ENOSPC;
		pb_put_le64(out + pos, m[i].start_lba);
		out[pos + 8] = (uint8_t)m[i].type;
		out[pos + 9] = (uint8_t)nl;
		out[pos + 10] = (uint8_t)ll;
		memcpy(out + pos + 11, m[i].name, nl);
		memcpy(out + pos + 11 + nl, m[i].label, ll);
		pos += 11 + nl + ll;
	}
	if (seed) {
		out[20] = PART_RECORD_COMPAT_SEED;
		out[21] = (uint8_t)sl;
		memcpy(out + PART_RECORD_SIZE - sl, seed, sl);
	}
	pb_put_le32(out + 16, part_crc32(0, out, PART_RECORD_SIZE));
	return 0;
}

int part_record_decode(const uint8_t in[PART_RECORD_SIZE], struct part_meta **ret, size_t *ret_n, char **ret_seed)
{
	uint8_t buf[PART_RECORD_SIZE];
	_cleanup_free_ char *seed = NULL;
	struct part_meta *m;
	size_t pos = PART_RECORD_HEADER, sl = 0;
	uint32_t n;

	if (memcmp(in, PART_RECORD_MAGIC, 8))
		return -ENOENT;
	memcpy(buf, in, sizeof(buf));
	memset(buf + 16, 0, 4);
	if (pb_le32(in + 8) != PART_RECORD_VERSION || part_crc32(0, buf, sizeof(buf)) != pb_le32(in + 16))
		return -EBADMSG;
	if (in[20] & PART_RECORD_COMPAT_SEED) {
		sl = in[21];
		if (sl < 1 || sl > PART_SEED_MAX)
			return -EBADMSG;
		/* the disk's bytes become identifiers and message text: the rules of part_seed_valid() */
		seed = xstrndup((const char *)in + PART_RECORD_SIZE - sl, sl);
		if (strlen(seed) != sl || !part_seed_valid(seed))
			return -EBADMSG;
	}
	n = pb_le32(in + 12);
	if (n > PART_RECORD_SIZE / 11)
		return -EBADMSG;
	m = xcalloc(n ? n : 1, sizeof(*m));
	for (uint32_t i = 0; i < n; i++) {
		size_t nl, ll;

		if (pos + 11 > PART_RECORD_SIZE - sl)
			goto bad;
		nl = in[pos + 9];
		ll = in[pos + 10];
		if (nl > PART_NAME_MAX || ll > PART_LABEL_MAX || pos + 11 + nl + ll > PART_RECORD_SIZE - sl)
			goto bad;
		m[i].start_lba = pb_le64(in + pos);
		m[i].type = (enum part_type)in[pos + 8];
		memcpy(m[i].name, in + pos + 11, nl);
		memcpy(m[i].label, in + pos + 11 + nl, ll);
		pos += 11 + nl + ll;
	}
	*ret = m;
	*ret_n = n;
	*ret_seed = TAKE_PTR(seed);
	return 0;
bad:
	free(m);
	return -EBADMSG;
}

struct part_meta *part_meta_find(struct part_disk *d, uint64_t lba)
{
	for (size_t i = 0; i < d->n_meta; i++)
		if (d->meta[i].start_lba == lba)
			return &d->meta[i];
	return NULL;
}

void part_meta_remove(struct part_disk *d, uint64_t lba)
{
	struct part_meta *m = part_meta_find(d, lba);

	if (!m)
		return;
	*m = d->meta[--d->n_meta];
}

void part_meta_add(struct part_disk *d, const struct part_meta *src)
{
	struct part_meta *m;

	part_meta_remove(d, src->start_lba);
	m = xreallocarray(d->meta, d->n_meta + 1, sizeof(*m));
	d->meta = m;
	d->meta[d->n_meta++] = *src;
}

/* The record as it must be written: the disk's seed, one entry per partition that needs one. */
int part_record_build(struct part_disk *d, uint8_t out[PART_RECORD_SIZE], bool *ret_needed, struct pb_err *err)
{
	_cleanup_free_ struct part_meta *v = xcalloc(d->n_parts + 1, sizeof(*v));
	size_t n = 0;

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
	*ret_needed = n > 0 || d->record_seed;
	if (part_record_encode(v, n, d->record_seed, out) < 0)
		return pb_err_set(err, -ENOSPC, "%s: names, labels and the seed do not fit in partboot's %d-byte record",
				  d->display, PART_RECORD_SIZE);
	return 0;
}
