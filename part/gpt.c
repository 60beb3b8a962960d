/* SPDX-License-Identifier: MIT */
/*
 * The GPT check of part_disk_open(): both headers and their entry arrays
 * read from the disk and checked here (UEFI 2.10 §5.3.2), because libfdisk
 * silently falls back to the backup when the primary is bad. Reads only.
 */
#include <string.h>

#include "../common/endian.h"
#include "part-private.h"

/* The largest entry array partboot reads: 65536 entries of 128 bytes (a usual one is 16 KiB). */
#define GPT_ENTRIES_MAX (8u << 20)

/*
 * Check one GPT header at lba and its entry array (UEFI 2.10 §5.3.2: header
 * CRC over HeaderSize bytes with the CRC field zeroed; entries CRC over
 * NumberOfPartitionEntries * SizeOfPartitionEntry). The entry size must be
 * 128 << n as the spec says (4 KiB at most here), the array at most
 * GPT_ENTRIES_MAX and inside the disk, and the usable range must leave out
 * the headers and arrays (partition entries inside it are checked against
 * it, part_table_check()): a header with valid CRCs is still a guest's or an
 * attacker's data. Returns NULL when fine, else what is wrong. *ret_alt gets
 * AlternateLBA when the header is valid.
 */
static const char *gpt_header_problem(int fd, unsigned ss, uint64_t lba, uint64_t disk_sectors, uint64_t *ret_alt)
{
	_cleanup_free_ uint8_t *h = xmalloc(ss);
	_cleanup_free_ uint8_t *ents = NULL;
	uint32_t hsize, crc, n, esz;
	uint64_t ent_lba, len, ent_end, first, last;

	if (lba >= disk_sectors)
		return "header missing";
	if (pread(fd, h, ss, (off_t)(lba * ss)) != (ssize_t)ss)
		return "header unreadable";
	if (memcmp(h, "EFI PART", 8))
		return "header missing";
	hsize = pb_le32(h + 12);
	if (hsize < 92 || hsize > ss)
		return "header size invalid";
	crc = pb_le32(h + 16);
	memset(h + 16, 0, 4);
	if (part_crc32(0, h, hsize) != crc)
		return "header CRC mismatch";
	if (pb_le64(h + 24) != lba)
		return "header at wrong LBA";
	ent_lba = pb_le64(h + 72);
	n = pb_le32(h + 80);
	esz = pb_le32(h + 84);
	if (esz < 128 || esz > 4096 || (esz & (esz - 1)))
		return "entry size not a power of two from 128 to 4096 bytes";
	len = (uint64_t)n * esz;
	if (!n || len > GPT_ENTRIES_MAX)
		return "entry array size invalid";
	ent_end = ent_lba + (len + ss - 1) / ss; /* one past the array */
	first = pb_le64(h + 40);
	last = pb_le64(h + 48);
	if (ent_lba < 2 || ent_lba >= disk_sectors || ent_end > disk_sectors)
		return "entry array outside the disk";
	if (first < 2 || first > last || last >= disk_sectors - 1 || (lba == 1 && first < ent_end) ||
	    (lba != 1 && (last >= ent_lba || ent_end > lba)))
		return "usable range invalid";
	ents = xmalloc(len);
	if (pread(fd, ents, len, (off_t)(ent_lba * ss)) != (ssize_t)len)
		return "entry array unreadable";
	if (part_crc32(0, ents, len) != pb_le32(h + 88))
		return "entries CRC mismatch";
	if (ret_alt)
		*ret_alt = pb_le64(h + 32);
	return NULL;
}

/*
 * libfdisk silently falls back to the backup GPT when the primary is bad (and
 * writes both on the next write), so partboot checks both copies itself and
 * refuses a damaged table unless told --force.
 */
int part_gpt_check(struct part_disk *d, struct pb_err *err)
{
	uint8_t mbr[512], sig[8];
	uint64_t sectors = d->size / d->sector_size, alt = 0;
	const char *p1, *p2;
	bool gpt = false;

	if (d->size < 2 * (uint64_t)d->sector_size)
		return 0;
	if (pread(d->fd, mbr, sizeof(mbr), 0) != (ssize_t)sizeof(mbr))
		return 0;
	if (mbr[510] == 0x55 && mbr[511] == 0xaa)
		for (int i = 0; i < 4; i++)
			if (mbr[446 + 16 * i + 4] == 0xee)
				gpt = true;
	if (pread(d->fd, sig, 8, d->sector_size) == 8 && !memcmp(sig, "EFI PART", 8))
		gpt = true;
	/* Only the backup left, and an MBR without a protective entry: a dos
	 * disk that once was GPT, not a damaged GPT. */
	if (pread(d->fd, sig, 8, (off_t)((sectors - 1) * d->sector_size)) == 8 && !memcmp(sig, "EFI PART", 8) &&
	    !(mbr[510] == 0x55 && mbr[511] == 0xaa))
		gpt = true;
	if (!gpt)
		return 0;

	p1 = gpt_header_problem(d->fd, d->sector_size, 1, sectors, &alt);
	p2 = gpt_header_problem(d->fd, d->sector_size, p1 ? sectors - 1 : alt, sectors, NULL);
	if (!p1 && !p2)
		return 0;
	d->gpt_damaged = true;
	if (p1 && p2)
		return pb_err_set(err, -EBADMSG,
				  "%s: corrupt GPT: primary %s, backup %s (--force replaces the table)", d->display,
				  p1, p2);
	return pb_err_set(err, -EBADMSG, "%s: corrupt GPT: %s %s (--force rewrites both copies from the %s)",
			  d->display, p1 ? "primary" : "backup", p1 ? p1 : p2, p1 ? "backup" : "primary");
}
