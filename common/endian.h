/* SPDX-License-Identifier: MIT */
/*
 * Little-endian fields of on-disk and in-file structures (GPT headers, FAT
 * boot sectors and directory entries, GRUB's boot blocks, the Linux boot
 * protocol header, POSIX ACL xattrs, partboot's record). Read and written
 * a byte at a time: any alignment, any host byte order, no casts of a
 * buffer to a struct. p points at the field's first byte.
 */
#ifndef PARTBOOT_ENDIAN_H
#define PARTBOOT_ENDIAN_H

#include <stdint.h>

static inline uint16_t pb_le16(const void *p)
{
	const uint8_t *b = p;

	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t pb_le32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t pb_le64(const void *p)
{
	const uint8_t *b = p;

	return (uint64_t)pb_le32(b) | (uint64_t)pb_le32(b + 4) << 32;
}

static inline void pb_put_le16(void *p, uint16_t v)
{
	uint8_t *b = p;

	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static inline void pb_put_le32(void *p, uint32_t v)
{
	uint8_t *b = p;

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static inline void pb_put_le64(void *p, uint64_t v)
{
	uint8_t *b = p;

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

#endif
