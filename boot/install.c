/* SPDX-License-Identifier: MIT */
/*
 * boot_install(): GRUB for BIOS and UEFI on one disk, from Debian's GRUB
 * images (grub-pc-bin, grub-efi-amd64-bin) with grub-mkimage.
 *
 * With BOOT_INSTALL_SECURE_BOOT the UEFI loader is Debian's signed chain
 * instead of a grub-mkimage image (secure-boot.c).
 *
 * What touches the disk, in this order, only after every check passed (ESP
 * present and FAT or empty, room on it, BIOS embedding area large enough,
 * the signed files there):
 *   1. the ESP: mkfs.fat when it has no filesystem, then mtools copies
 *      EFI/BOOT/BOOTX64.EFI (or the signed chain), grub/grub.cfg and (when
 *      absent) grub/grubenv;
 *   2. BIOS: core.img into the BIOS boot partition (GPT) or the gap after
 *      the MBR (dos), with pwrite;
 *   3. BIOS: the MBR's boot code, bytes 0x000-0x1b7 only (never the disk
 *      signature or the partition table), last, so that a disk whose
 *      install failed midway never points at a half-written core.img.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/macros.h"
#include "../common/run.h"
#include "../common/tmpdir.h"
#include "../common/util.h"
#include "boot-private.h"

#define GRUB_LIB "/usr/lib/grub"

/* Modules both images carry: what grub.cfg and the menu entries use. */
#define COMMON_MODULES                                                                     \
	"part_gpt", "part_msdos", "fat", "ext2", "search", "search_fs_uuid", "configfile", "normal", \
		"linux", "loadenv", "serial", "terminal", "test", "echo", "sleep", "reboot", "halt"

static const char *const bios_modules[] = { "biosdisk", COMMON_MODULES, NULL };
static const char *const efi_modules[] = { "efifwsetup", "efi_gop", COMMON_MODULES, NULL };

/* Read a whole host file. */
static int slurp(const char *path, uint8_t **ret, size_t *ret_len, struct pb_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ uint8_t *buf = NULL;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	buf = xmalloc((size_t)st.st_size + 1);
	if (read(fd, buf, (size_t)st.st_size) != st.st_size)
		return pb_err_set(err, -EIO, "%s: short read", path);
	*ret = TAKE_PTR(buf);
	*ret_len = (size_t)st.st_size;
	return 0;
}

/*
 * grub-mkimage with an embedded early config that finds the ESP by its FAT
 * volume id and points $prefix at /grub there; normal mode then reads
 * $prefix/grub.cfg and load_env finds $prefix/grubenv.
 */
static int mkimage(const char *format, const char *platform, const char *const *modules, const char *volid,
		   uint8_t **ret, size_t *ret_len, struct pb_err *err)
{
	struct strbuf cfg = STRBUF_INIT, out = STRBUF_INIT, libdir = STRBUF_INIT;
	char *dir = NULL;
	const char *argv[64];
	size_t n = 0;
	FILE *f;
	int r;

	strbuf_addf(&libdir, GRUB_LIB "/%s", platform);
	if (access(libdir.buf, R_OK) < 0) {
		r = pb_err_set(err, -ENOENT, "%s: missing: install %s", libdir.buf,
			       !strcmp(platform, "i386-pc") ? "grub-pc-bin" : "grub-efi-amd64-bin");
		goto out;
	}
	r = pb_mkdtemp("partboot-grub", PB_TMP_SMALL, &dir, err);
	if (r < 0)
		goto out;
	strbuf_addf(&cfg, "%s/early.cfg", dir);
	strbuf_addf(&out, "%s/image", dir);
	f = fopen(cfg.buf, "we");
	if (!f) {
		r = pb_err_set(err, -errno, "%s: %s", cfg.buf, strerror(errno));
		goto out_rmdir;
	}
	{
		struct strbuf stub = STRBUF_INIT;

		boot_stub_cfg(volid, &stub);
		fputs(stub.buf, f);
		strbuf_release(&stub);
	}
	fclose(f);

	argv[n++] = "grub-mkimage";
	argv[n++] = "-O";
	argv[n++] = format;
	argv[n++] = "-d";
	argv[n++] = libdir.buf;
	argv[n++] = "-c";
	argv[n++] = cfg.buf;
	argv[n++] = "-p";
	argv[n++] = BOOT_GRUB_DIR;
	argv[n++] = "-o";
	argv[n++] = out.buf;
	for (size_t i = 0; modules[i] && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = modules[i];
	argv[n] = NULL;
	r = pb_run(argv, NULL, err);
	if (r >= 0)
		r = slurp(out.buf, ret, ret_len, err);
	unlink(out.buf);
	unlink(cfg.buf);
out_rmdir:
	rmdir(dir);
out:
	free(dir);
	strbuf_release(&cfg);
	strbuf_release(&out);
	strbuf_release(&libdir);
	return r;
}

static int find_type(struct part_disk *d, enum part_type type, struct part_info *ret)
{
	for (size_t i = 0; i < part_disk_count(d); i++)
		if (part_disk_get(d, i, ret) == 0 && ret->type == type)
			return 0;
	return -ENOENT;
}

static int pwrite_all(struct part_disk *d, const void *buf, size_t len, uint64_t off, struct pb_err *err)
{
	ssize_t n = pwrite(part_disk_fd(d), buf, len, (off_t)off);

	if (n != (ssize_t)len)
		return pb_err_set(err, n < 0 ? -errno : -EIO, "%s: cannot write at byte %" PRIu64 ": %s",
				  part_disk_path(d), off, strerror(n < 0 ? errno : EIO));
	return 0;
}

struct bios_plan {
	uint64_t start, size;
	uint8_t *core; /* padded to whole sectors */
	size_t core_len;
	uint8_t mbr[512];
};

/* Check the embedding area, build and patch core.img and the MBR (memory only). */
static int bios_prepare(struct part_disk *d, const char *volid, struct bios_plan *p, struct pb_err *err)
{
	const char *disk = part_disk_path(d);
	_cleanup_free_ uint8_t *boot_img = NULL;
	uint8_t *core = NULL;
	size_t boot_len, core_len;
	char need[32], have[32];
	struct part_info bb;
	ssize_t n;
	int r;

	if (part_disk_sector_size(d) != 512)
		return pb_err_set(err, -EOPNOTSUPP, "%s: BIOS boot needs 512-byte sectors, the disk has %u", disk,
				  part_disk_sector_size(d));
	if (part_disk_table(d) == PART_TABLE_GPT && find_type(d, PART_TYPE_BIOS_BOOT, &bb) < 0)
		return pb_err_set(err, -ENOENT,
				  "%s: no BIOS boot partition for BIOS GRUB: add one of 1 MiB "
				  "(partboot add %s bios --type bios-boot --size 1M), or install with --uefi only",
				  disk, disk);
	if (part_disk_table(d) == PART_TABLE_NONE)
		return pb_err_set(err, -ENOENT, "%s: no partition table", disk);

	r = mkimage("i386-pc", "i386-pc", bios_modules, volid, &core, &core_len, err);
	if (r < 0)
		return r;
	p->core_len = (core_len + 511) / 512 * 512;
	p->core = xrealloc(core, p->core_len);
	memset(p->core + core_len, 0, p->core_len - core_len);

	r = part_disk_embed_area(d, &p->start, &p->size, err);
	if (r < 0)
		return r;
	if (p->size < p->core_len) {
		pb_format_size(p->core_len, need, sizeof(need));
		pb_format_size(p->size, have, sizeof(have));
		if (part_disk_table(d) == PART_TABLE_GPT)
			return pb_err_set(err, -ENOSPC,
					  "%s: BIOS boot partition '%s' is %s, GRUB's core.img needs %s (%zu bytes): "
					  "make it at least 1 MiB",
					  disk, bb.name, have, need, p->core_len);
		return pb_err_set(err, -ENOSPC,
				  "%s: the gap after the MBR is %s, GRUB's core.img needs %s (%zu bytes): "
				  "the first partition must start at 1 MiB or later",
				  disk, have, need, p->core_len);
	}
	r = boot_bios_patch_core(p->core, p->core_len, p->start / 512);
	if (r < 0)
		return pb_err_set(err, r, "%s: unexpected core.img from grub-mkimage (no diskboot blocklist)", disk);

	r = slurp(GRUB_LIB "/i386-pc/boot.img", &boot_img, &boot_len, err);
	if (r < 0)
		return r;
	if (boot_len != 512)
		return pb_err_set(err, -EINVAL, GRUB_LIB "/i386-pc/boot.img is %zu bytes, not 512", boot_len);
	n = pread(part_disk_fd(d), p->mbr, 512, 0);
	if (n != 512)
		return pb_err_set(err, n < 0 ? -errno : -EIO, "%s: cannot read the MBR", disk);
	boot_bios_patch_mbr(p->mbr, boot_img, p->start / 512);
	return 0;
}

static int bios_write(struct part_disk *d, struct bios_plan *p, struct pb_err *err)
{
	int r;

	r = pwrite_all(d, p->core, p->core_len, p->start, err);
	if (r < 0)
		return r;
	if (fdatasync(part_disk_fd(d)) < 0)
		return pb_err_set(err, -errno, "%s: cannot sync: %s", part_disk_path(d), strerror(errno));
	/* boot code only: 0x1b8 on is the disk signature and the partition table */
	r = pwrite_all(d, p->mbr, 0x1b8, 0, err);
	if (r < 0)
		return r;
	if (fdatasync(part_disk_fd(d)) < 0)
		return pb_err_set(err, -errno, "%s: cannot sync: %s", part_disk_path(d), strerror(errno));
	return 0;
}

/* Size bytes an ESP file will take, minus what the file it replaces takes. */
static uint64_t esp_need(struct esp *e, const char *path, uint64_t size)
{
	uint32_t old = 0;

	if (!e->has_fat)
		return esp_alloc_size(e, size);
	if (esp_lookup(e, path, &old, 0, NULL, NULL, NULL) < 0)
		old = 0;
	return esp_alloc_size(e, size) > esp_alloc_size(e, old) ? esp_alloc_size(e, size) - esp_alloc_size(e, old)
								 : 0;
}

int boot_install(struct part_disk *d, unsigned flags, const struct boot_entry *entries, size_t n,
		 struct pb_err *err)
{
	const char *disk = part_disk_path(d);
	struct bios_plan bios = { 0 };
	struct boot_sb_files sb = { 0 };
	bool secure = flags & BOOT_INSTALL_SECURE_BOOT;
	struct strbuf cfg = STRBUF_INIT;
	_cleanup_free_ uint8_t *efi = NULL;
	size_t efi_len = 0;
	struct part_probe probe;
	struct part_info bb;
	char volid[16];
	struct esp e;
	int r;

	if (part_disk_table(d) == PART_TABLE_NONE)
		return pb_err_set(err, -ENOENT, "%s: no partition table (partboot init %s)", disk, disk);
	r = esp_open(d, &e, err);
	if (r == -ENOENT) {
		if (part_disk_table(d) == PART_TABLE_GPT && find_type(d, PART_TYPE_BIOS_BOOT, &bb) < 0)
			return pb_err_set(err, -ENOENT,
					  "%s: no ESP and no BIOS boot partition: add an ESP of 64 MiB for UEFI and "
					  "grub.cfg (partboot add %s esp --type esp --size 64M), and for BIOS a BIOS "
					  "boot partition of 1 MiB (partboot add %s bios --type bios-boot --size 1M)",
					  disk, disk, disk);
		return r; /* esp_open's message says what to add */
	}
	if (r < 0)
		return r;
	if (!(flags & (BOOT_INSTALL_BIOS | BOOT_INSTALL_UEFI))) {
		flags |= BOOT_INSTALL_UEFI;
		if (part_disk_table(d) == PART_TABLE_DOS ||
		    find_type(d, PART_TYPE_BIOS_BOOT, &bb) == 0)
			flags |= BOOT_INSTALL_BIOS;
	}
	if (secure) {
		flags |= BOOT_INSTALL_UEFI;
		r = boot_sb_find(&sb, err);
		if (r < 0)
			return r;
	}
	if (!e.has_fat && part_disk_probe(d, &e.part, &probe) == 0 && probe.fstype[0])
		return pb_err_set(err, -EMEDIUMTYPE, "%s: holds a %s filesystem, not FAT: make it FAT (partboot mkfs %s %s --fs vfat)",
				  e.where, probe.fstype, disk, e.part.name);
	/*
	 * The images embed the ESP's volume id. Without a FAT yet, build them
	 * with a stand-in of the same length for the checks (sizes do not
	 * change), then again after the ESP was made.
	 */
	snprintf(volid, sizeof(volid), "%s", e.has_fat ? e.volid : "0000-0000");
	if (!e.has_fat && e.part.size < 3 * MiB)
		return pb_err_set(err, -ENOSPC, "%s: %" PRIu64 " KiB is too small for a FAT ESP: make it 64 MiB",
				  e.where, e.part.size / KiB);

	/* everything in memory first */
	if (flags & BOOT_INSTALL_BIOS) {
		r = bios_prepare(d, volid, &bios, err);
		if (r < 0)
			goto out;
	}
	if ((flags & BOOT_INSTALL_UEFI) && !secure) {
		r = mkimage("x86_64-efi", "x86_64-efi", efi_modules, volid, &efi, &efi_len, err);
		if (r < 0)
			goto out;
	}
	boot_menu_render(entries, n, &cfg);
	{
		uint64_t need = esp_need(&e, BOOT_GRUB_CFG, cfg.len) + esp_need(&e, BOOT_GRUBENV, BOOT_GRUBENV_SIZE) +
				(efi ? esp_need(&e, BOOT_EFI_PATH, efi_len) : 0) + (secure ? boot_sb_need(&e, &sb) : 0) +
				8 * 4096 /* directories */;
		uint64_t avail = e.part.size * 9 / 10; /* an empty FAT: minus FATs and reserved sectors */
		char a[32], b[32];

		if (e.has_fat) {
			r = esp_free_bytes(&e, &avail, err);
			if (r < 0)
				goto out;
		}
		if (avail < need) {
			r = pb_err_set(err, -ENOSPC, "%s: %s free, GRUB needs %s: make the ESP larger or free room on it",
				       e.where, pb_format_size(avail, a, sizeof(a)), pb_format_size(need, b, sizeof(b)));
			goto out;
		}
	}

	/* 1. the ESP */
	if (!e.has_fat) {
		r = esp_mkfs(&e, err);
		if (r < 0)
			goto out;
		snprintf(volid, sizeof(volid), "%s", e.volid);
		if (flags & BOOT_INSTALL_BIOS) {
			free(bios.core);
			bios.core = NULL;
			r = bios_prepare(d, volid, &bios, err);
			if (r < 0)
				goto out;
		}
		if (efi) {
			free(efi);
			efi = NULL;
			r = mkimage("x86_64-efi", "x86_64-efi", efi_modules, volid, &efi, &efi_len, err);
			if (r < 0)
				goto out;
		}
	}
	r = esp_mkdir(&e, BOOT_GRUB_DIR, err);
	if (r < 0)
		goto out;
	if (efi) {
		r = esp_mkdir(&e, "/EFI/BOOT", err);
		if (r >= 0)
			r = esp_put_data(&e, efi, efi_len, BOOT_EFI_PATH, err);
		/* a Secure Boot install before: its GRUB and stub would only mislead */
		if (r >= 0)
			r = boot_sb_remove(&e, err);
		if (r < 0)
			goto out;
	}
	if (secure) {
		r = boot_sb_write(&e, &sb, err);
		if (r < 0)
			goto out;
	}
	{
		/* keep an existing grubenv (and its clusters): save_env and default/next keep working */
		_cleanup_free_ char *old = NULL;
		size_t len = 0;

		if (esp_read_file(&e, BOOT_GRUBENV, &old, &len, NULL) < 0 || len != BOOT_GRUBENV_SIZE ||
		    boot_grubenv_check(old) < 0) {
			char block[BOOT_GRUBENV_SIZE];

			boot_grubenv_init(block);
			r = esp_put_data(&e, block, sizeof(block), BOOT_GRUBENV, err);
			if (r < 0)
				goto out;
		}
	}
	r = esp_put_data(&e, cfg.buf, cfg.len, BOOT_GRUB_CFG, err);
	if (r < 0)
		goto out;

	/* 2.+3. BIOS */
	if (flags & BOOT_INSTALL_BIOS)
		r = bios_write(d, &bios, err);
out:
	free(bios.core);
	strbuf_release(&cfg);
	return r;
}
