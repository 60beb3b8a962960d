/* SPDX-License-Identifier: MIT */
/*
 * UEFI Secure Boot through Debian's signed chain, as Debian itself boots:
 *
 *   firmware --(Microsoft UEFI CA)--> shim --(Debian's key, built into shim)-->
 *   GRUB --(shim's verifier)--> the kernel
 *
 * partboot's own BOOTX64.EFI (grub-mkimage) carries no signature, so
 * firmware enforcing Secure Boot refuses it ("Access Denied"). Debian ships
 * the signed pieces as packages: shim-signed (/usr/lib/shim/shimx64.efi.signed,
 * MokManager from shim-helpers-amd64-signed) and grub-efi-amd64-signed
 * (/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed). They are copied to
 * the ESP unchanged, since any change breaks their signatures:
 *
 *   EFI/BOOT/BOOTX64.EFI   shim (the removable-media path: no NVRAM entry needed)
 *   EFI/BOOT/grubx64.efi   the signed GRUB, which shim looks for beside itself
 *   EFI/BOOT/mmx64.efi     MokManager, for enrolling the user's own keys (mokutil)
 *   EFI/debian/grub.cfg    the stub below
 *
 * The signed GRUB cannot carry partboot's embedded config; its own (Debian's
 * build-efi-images) reads grub.cfg from its prefix, /EFI/debian on the device
 * it was loaded from. The stub found there is the same three lines partboot
 * embeds in its own images, so BIOS, plain UEFI and Secure Boot all end in the
 * one /grub/grub.cfg and /grub/grubenv.
 *
 * Never copied: fbx64.efi. shim runs a fallback loader beside it instead of
 * GRUB when there is one (it then looks for BOOTX64.CSV files and writes NVRAM
 * entries), so one left in EFI/BOOT is removed.
 *
 * Under Secure Boot the signed GRUB refuses `insmod` of any module not built
 * into its image ("prohibited by secure boot policy", yet $? stays 0): the
 * menu (menu.c) uses only commands that image has.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/macros.h"
#include "boot-private.h"

#define SHIM_SIGNED "/usr/lib/shim/shimx64.efi.signed"
#define MOKMANAGER_SIGNED "/usr/lib/shim/mmx64.efi.signed"
#define GRUB_SIGNED "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"

#define ESP_GRUB "/EFI/BOOT/grubx64.efi"
#define ESP_MOKMANAGER "/EFI/BOOT/mmx64.efi"
#define ESP_FALLBACK "/EFI/BOOT/fbx64.efi"
#define ESP_STUB_DIR "/EFI/debian"
#define ESP_STUB ESP_STUB_DIR "/grub.cfg"

void boot_stub_cfg(const char *volid, struct strbuf *out)
{
	strbuf_addf(out,
		    "search --no-floppy --fs-uuid --set=root %s\n"
		    "set prefix=($root)" BOOT_GRUB_DIR "\n"
		    "configfile $prefix/grub.cfg\n",
		    volid);
}

static int file_size(const char *path, const char *package, uint64_t *ret, struct pb_err *err)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return pb_err_set(err, -ENOENT, "%s: missing: Secure Boot needs Debian's signed chain (install %s)",
					  path, package);
		return pb_err_set(err, -errno, "%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return pb_err_set(err, -EINVAL, "%s: not a regular file (reinstall %s)", path, package);
	*ret = (uint64_t)st.st_size;
	return 0;
}

int boot_sb_find(struct boot_sb_files *ret, struct pb_err *err)
{
	struct boot_sb_files f = { .shim = SHIM_SIGNED, .grub = GRUB_SIGNED };
	int r;

	r = file_size(f.shim, "shim-signed", &f.shim_size, err);
	if (r < 0)
		return r;
	r = file_size(f.grub, "grub-efi-amd64-signed", &f.grub_size, err);
	if (r < 0)
		return r;
	/* MokManager is optional: shim boots GRUB without it; it is there for enrolling keys */
	if (file_size(MOKMANAGER_SIGNED, "shim-helpers-amd64-signed", &f.mokmanager_size, NULL) == 0)
		f.mokmanager = MOKMANAGER_SIGNED;
	*ret = f;
	return 0;
}

/* Bytes a file of size takes at path, minus what the file there takes now. */
static uint64_t need_for(struct esp *e, const char *path, uint64_t size)
{
	uint32_t old = 0;

	if (!e->has_fat || esp_lookup(e, path, &old, 0, NULL, NULL, NULL) < 0)
		old = 0;
	return esp_alloc_size(e, size) > esp_alloc_size(e, old) ? esp_alloc_size(e, size) - esp_alloc_size(e, old) : 0;
}

uint64_t boot_sb_need(struct esp *e, const struct boot_sb_files *f)
{
	uint64_t need = need_for(e, BOOT_EFI_PATH, f->shim_size) + need_for(e, ESP_GRUB, f->grub_size) +
			need_for(e, ESP_STUB, 512);

	if (f->mokmanager)
		need += need_for(e, ESP_MOKMANAGER, f->mokmanager_size);
	return need;
}

int boot_sb_write(struct esp *e, const struct boot_sb_files *f, struct pb_err *err)
{
	struct strbuf stub = STRBUF_INIT;
	int r;

	r = esp_mkdir(e, "/EFI/BOOT", err);
	if (r >= 0)
		r = esp_mkdir(e, ESP_STUB_DIR, err);
	if (r < 0)
		return r;
	boot_stub_cfg(e->volid, &stub);
	r = esp_put_data(e, stub.buf, stub.len, ESP_STUB, err);
	strbuf_release(&stub);
	if (r >= 0)
		r = esp_remove(e, ESP_FALLBACK, err);
	if (r >= 0)
		r = esp_put_file(e, f->grub, ESP_GRUB, err);
	if (r >= 0 && f->mokmanager)
		r = esp_put_file(e, f->mokmanager, ESP_MOKMANAGER, err);
	/* shim last: until here the ESP still boots with what it had */
	if (r >= 0)
		r = esp_put_file(e, f->shim, BOOT_EFI_PATH, err);
	return r;
}

int boot_sb_remove(struct esp *e, struct pb_err *err)
{
	int r;

	r = esp_remove(e, ESP_STUB, err);
	if (r >= 0)
		r = esp_remove(e, ESP_GRUB, err);
	if (r >= 0)
		r = esp_remove(e, ESP_MOKMANAGER, err);
	return r;
}

bool boot_is_secure_boot(struct part_disk *d)
{
	struct esp e;

	if (esp_open(d, &e, NULL) < 0 || !e.has_fat)
		return false;
	return esp_lookup(&e, ESP_STUB, NULL, 0, NULL, NULL, NULL) == 0 &&
	       esp_lookup(&e, ESP_GRUB, NULL, 0, NULL, NULL, NULL) == 0;
}

static uint32_t get_le16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * The PE/COFF layout (Microsoft's "PE Format" specification): "MZ", the PE
 * header's offset at 0x3c, "PE\0\0", a 20-byte COFF header whose 16-bit
 * field at 16 is the optional header's size, then the optional header: magic
 * 0x20b (PE32+; 0x10b PE32), NumberOfRvaAndSizes at 108 (92), the data
 * directories from 112 (96), 8 bytes each. Directory 4, the Certificate
 * Table, holds a file offset (not an RVA) and a size; its first entry is a
 * WIN_CERTIFICATE: u32 dwLength, u16 wRevision, u16 wCertificateType, 2 being
 * WIN_CERT_TYPE_PKCS_SIGNED_DATA, an Authenticode signature.
 */
bool boot_pe_is_signed(const void *img, size_t len)
{
	const uint8_t *p = img;
	uint64_t pe, opt, opt_size, n_off, d_off, off, size, cert_len;

	if (len < 0x40 || p[0] != 'M' || p[1] != 'Z')
		return false;
	pe = get_le32(p + 0x3c);
	if (pe + 24 > len || memcmp(p + pe, "PE\0\0", 4))
		return false;
	opt_size = get_le16(p + pe + 20);
	opt = pe + 24;
	if (opt + opt_size > len || opt_size < 2)
		return false;
	switch (get_le16(p + opt)) {
	case 0x20b:
		n_off = 108;
		d_off = 112;
		break;
	case 0x10b:
		n_off = 92;
		d_off = 96;
		break;
	default:
		return false;
	}
	if (opt_size < d_off + 5 * 8 || get_le32(p + opt + n_off) < 5)
		return false;
	off = get_le32(p + opt + d_off + 4 * 8);
	size = get_le32(p + opt + d_off + 4 * 8 + 4);
	if (size < 8 || off > len || size > len - off)
		return false;
	cert_len = get_le32(p + off);
	return cert_len >= 8 && cert_len <= size && get_le16(p + off + 6) == 0x0002;
}
