/* SPDX-License-Identifier: MIT */
/*
 * A live ISO's first step (fs_install_iso(), `install --from iso:FILE`):
 * the input is the ISO, read with libarchive's ISO9660 reader to find the
 * root image (live/filesystem.squashfs, casper/...). The run stops before
 * sqfs2tar would start (PATH holds no programs here), so only the ISO is
 * parsed; it must be refused with a message or stop there, and the disk
 * is never touched.
 */
#include <errno.h>

#include "fuzz-gdisk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_gdisk g;
	static struct fuzz_file iso;
	static int ready;
	struct pb_err err = PB_ERR_INIT;
	struct fs_install_opts o = { .setup = true, .hostname = "fuzz" };
	struct fs_target t;
	int r;

	if (!ready) {
		fuzz_gdisk_make(&g); /* mke2fs runs now, while PATH still finds it */
		fuzz_file_init(&iso, "live.iso");
		/* a harness, not the library: no sqfs2tar for fs_install_iso() to start */
		setenv("PATH", "/nonexistent", 1);
		ready = 1;
	}
	fuzz_file_set(&iso, data, size, 0);
	t = fuzz_gdisk_target(&g);
	r = fs_install_iso(&t, iso.path, &o, &err);
	fuzz_assert(r < 0 && pb_err_msg(&err)[0]);
	fuzz_gdisk_check_outside(&g);
	{
		static uint8_t buf[4096];

		/* not a byte of the partition written either: its superblock is the template's */
		fuzz_assert(pread(g.disk.fd, buf, sizeof(buf), FUZZ_GPART_START) == sizeof(buf) &&
			    !memcmp(buf, g.tpl.img + FUZZ_GPART_START, sizeof(buf)));
	}
	pb_err_clear(&err);
	return 0;
}
