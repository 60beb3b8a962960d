/* SPDX-License-Identifier: MIT */
/*
 * BIOS GRUB without grub-bios-setup (which refuses image files): the same
 * bytes it would write, computed here as data (util/setup.c, boot/i386/pc/
 * boot.S and diskboot.S of GRUB 2.06) and written with pwrite.
 *
 * core.img = diskboot.img (one sector) + the kernel and modules. boot.img in
 * the MBR loads core.img's first sector from the LBA stored at 0x5c; that
 * sector (diskboot) then loads the rest from its blocklist, stored from the
 * end of the sector downwards. Embedded contiguously, one blocklist entry
 * covers it all. No Reed-Solomon codes are added (grub-install
 * --no-rs-codes): the redundancy field grub-mkimage leaves at 0 says so.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "../common/endian.h"
#include "boot-private.h"

/* boot.S offsets (include/grub/i386/pc/boot.h) */
#define MBR_BPB_START 0x03
#define MBR_BPB_END 0x5a
#define MBR_KERNEL_SECTOR 0x5c
#define MBR_BOOT_DRIVE 0x64
#define MBR_DRIVE_CHECK 0x66
#define MBR_NT_MAGIC 0x1b8 /* disk signature; the partition table follows */

/* diskboot.S: struct grub_boot_blocklist { u64 start; u16 len; u16 segment; } */
#define BLOCKLIST_SIZE 12
#define KERNEL_SEG 0x800 /* GRUB_BOOT_I386_PC_KERNEL_SEG */
/* setup.c caps core.img below 0x78000 (GRUB_KERNEL_I386_PC_LINK_ADDR 0x9000) */
#define CORE_MAX_SECTORS ((0x78000 - 0x9000) / 512)

void boot_bios_patch_mbr(uint8_t mbr[512], const uint8_t boot_img[512], uint64_t core_lba)
{
	/*
	 * setup.c copies the old sector's BPB area and everything from the NT
	 * magic (disk signature, partition table) over boot.img: the reverse
	 * is to take boot.img's bytes outside those ranges.
	 */
	memcpy(mbr, boot_img, MBR_BPB_START);
	memcpy(mbr + MBR_BPB_END, boot_img + MBR_BPB_END, MBR_NT_MAGIC - MBR_BPB_END);
	/* write_rootdev(): first sector of core.img, boot drive 0xff = "use DL" */
	pb_put_le64(mbr + MBR_KERNEL_SECTOR, core_lba);
	mbr[MBR_BOOT_DRIVE] = 0xff;
	/* a hard disk: replace the "jmp" of the drive check by two NOPs */
	mbr[MBR_DRIVE_CHECK] = 0x90;
	mbr[MBR_DRIVE_CHECK + 1] = 0x90;
}

int boot_bios_patch_core(uint8_t *core, size_t core_size, uint64_t core_lba)
{
	size_t nsec = (core_size + 511) / 512;
	uint8_t *first = core + 512 - BLOCKLIST_SIZE;
	uint8_t *below = first - BLOCKLIST_SIZE;

	if (core_size < 1024 || nsec > CORE_MAX_SECTORS)
		return -EINVAL;
	/* grub-mkimage leaves start=2 (LBA), len=sectors-1, segment=0x820 there */
	if (first[10] != 0x20 || first[11] != 0x08)
		return -EINVAL;
	/* save_blocklists(): the sectors after the first, loaded at 0x820:0 */
	pb_put_le64(first, core_lba + 1);
	pb_put_le16(first + 8, (uint16_t)(nsec - 1));
	pb_put_le16(first + 10, KERNEL_SEG + (512 >> 4));
	/* the terminator */
	memset(below, 0, BLOCKLIST_SIZE);
	return 0;
}
