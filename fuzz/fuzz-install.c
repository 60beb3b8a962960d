/* SPDX-License-Identifier: MIT */
/*
 * Filling a partition from an archive (fs_install(), the tar path of
 * `partboot install --from`): the input is the archive (tar, gnutar or
 * cpio, any compression libarchive reads), the target partition 'g' of the
 * guest disk (fuzz-gdisk.h) holding a complete, empty ext4, so each run
 * takes the path of an install over an existing guest: marker, entries,
 * after-install steps, marker removed. Invariants: nothing outside the
 * partition changes; a filesystem an install finished opens and reads as a
 * complete guest.
 */
#include <errno.h>

#include "fuzz-gdisk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_gdisk g;
	static struct fuzz_file src;
	static int ready;
	struct pb_err err = PB_ERR_INIT;
	struct fs_target t;
	struct fs_install_opts o = { .setup = true, .hostname = "fuzz", .seed = "fuzz" };
	int r;

	if (!ready) {
		fuzz_gdisk_make(&g);
		fuzz_file_init(&src, "source.tar");
		ready = 1;
	}
	fuzz_gdisk_reset(&g);
	fuzz_file_set(&src, data, size, 0);
	t = fuzz_gdisk_target(&g);
	o.source = src.path;
	r = fs_install(&t, &o, &err);
	fuzz_assert(r == 0 || (r < 0 && pb_err_msg(&err)[0]));
	pb_err_clear(&err);
	fuzz_gdisk_check_outside(&g);
	if (r == 0) {
		struct fs *fs = NULL;
		struct fs_guest_info gi;

		fuzz_assert(fs_open(&t, &fs, &err) == 0);
		fuzz_assert(fs_guest_info(fs, &gi, &err) == 0 && gi.complete);
		fs_guest_info_release(&gi);
		fs_free(fs);
	}
	pb_err_clear(&err);
	return 0;
}
