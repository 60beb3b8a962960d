/* SPDX-License-Identifier: MIT */
/*
 * Growing and shrinking a partition's ext2/3/4 filesystem, and the smallest
 * size it can be shrunk to, with resize2fs on the partition's byte range
 * ("PATH?offset=N", fs/check.c).
 *
 * Why resize2fs and not libext2fs in process: the resize logic (moving
 * blocks and inode tables out of the part that goes, adding groups and
 * their descriptors, the reserved GDT blocks) is resize2fs's own code, not
 * part of libext2fs, and the minimum (calculate_minimum_resize_size()) is
 * too: asking resize2fs -P gives the number resize2fs itself will hold a
 * shrink to.
 *
 * What makes it safe on an image file: resize2fs truncates a regular file
 * to the new filesystem size after resizing (resize/main.c, whatever the
 * offset), which would cut off every partition behind this one and the
 * backup GPT. It runs with truncate(2)/ftruncate(2) denied (common/run.h,
 * deny_truncate): it then reports the failed truncate and exits 0 with the
 * image whole. It is given the new size in blocks, never "fill the device"
 * (it takes the device to be the whole image). It writes only inside
 * [offset, offset + the larger of the two sizes): blocks move into the
 * part that stays, groups are added inside the new size.
 *
 * Limits: on a block device resize2fs opens the disk with O_EXCL, which
 * collides with partboot's own exclusive open (as mke2fs does, docs/fs.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/run.h"
#include "common/util.h"
#include "fs-private.h"

int fs_resize_min(const struct fs_target *t, uint64_t *ret, struct pb_err *err)
{
	struct strbuf dev = STRBUF_INIT, out = STRBUF_INIT;
	struct pb_run_opts ro = { .out = &out, .deny_truncate = true };
	ext2_filsys e2 = NULL;
	unsigned long long blocks;
	unsigned bs;
	const char *p;
	int r;

	r = fs_ext2_open(t, false, &e2, err);
	if (r < 0)
		return r;
	bs = e2->blocksize;
	ext2fs_close_free(&e2);
	r = fs_tool_device(t, &dev, err);
	if (r < 0)
		goto out;
	/*
	 * -f: an estimate even for a filesystem resize2fs would want checked
	 * first; the resize itself checks it (fs_resize()) and holds to its
	 * own minimum again.
	 */
	r = pb_run((const char *const[]){ "resize2fs", "-f", "-P", dev.buf, NULL }, &ro, err);
	if (r < 0) {
		pb_err_prefix(err, r, "%s: ", t->where);
		goto out;
	}
	p = strstr(out.buf, "minimum size of the filesystem: ");
	if (!p || sscanf(p + 32, "%llu", &blocks) != 1 || blocks > UINT64_MAX / bs) {
		r = pb_err_set(err, -EIO, "%s: resize2fs -P gave no minimum size ('%s')", t->where, out.buf);
		goto out;
	}
	*ret = (uint64_t)blocks * bs;
out:
	strbuf_release(&dev);
	strbuf_release(&out);
	return r;
}

int fs_resize(const struct fs_target *t, uint64_t new_size, const char *seed, struct pb_err *err)
{
	struct strbuf dev = STRBUF_INIT, blocks = STRBUF_INIT;
	char timeenv[64], a[32];
	const char *envp[2] = { NULL, NULL };
	struct pb_run_opts ro = { .deny_truncate = true };
	ext2_filsys e2 = NULL;
	uint64_t want, have, rem;
	unsigned bs;
	int r;

	if (new_size > t->size)
		return pb_err_set(err, -ERANGE, "%s: %s does not fit in the partition (%s)", t->where,
				  pb_format_size(new_size, a, sizeof(a)), pb_format_size(t->size, (char[32]){ 0 }, 32));
	r = fs_ext2_open(t, false, &e2, err);
	if (r < 0)
		return r;
	bs = e2->blocksize;
	have = ext2fs_blocks_count(e2->super);
	ext2fs_close_free(&e2);
	want = new_size / bs;
	if (want == have)
		return 0;

	/* resize2fs refuses a filesystem that was mounted since its last check: check it first. */
	r = fs_e2fsck_preen(t, seed, true, err);
	if (r < 0)
		return r;
	r = fs_tool_device(t, &dev, err);
	if (r < 0)
		goto out;
	strbuf_addf(&blocks, "%" PRIu64, want); /* a bare number counts blocks */
	envp[0] = fs_tool_time_env(seed, timeenv, sizeof(timeenv));
	ro.envp_extra = envp[0] ? envp : NULL;
	fs_test_pause("resize");
	/* No -f: resize2fs keeps its own checks (the minimum size above all). */
	r = pb_run((const char *const[]){ "resize2fs", dev.buf, blocks.buf, NULL }, &ro, err);
	if (r < 0) {
		pb_err_prefix(err, r, "%s: ", t->where);
		goto out;
	}
	r = fs_ext2_open(t, false, &e2, err);
	if (r < 0)
		goto out;
	have = ext2fs_blocks_count(e2->super);
	/*
	 * resize2fs drops a last block group too small for its own bitmaps,
	 * inode table and superblock backup (fewer than that overhead + 50
	 * blocks: adjust_fs_info() in resize/resize2fs.c), as mke2fs does:
	 * 120 MiB grown to 130 MiB in 4 KiB blocks stops at 128 MiB. That
	 * partial group, and only it, may be missing.
	 */
	rem = (want - e2->super->s_first_data_block) % e2->super->s_blocks_per_group;
	ext2fs_close_free(&e2);
	if (have != want && !(rem && have == want - rem))
		r = pb_err_set(err, -EIO, "%s: resize2fs left %" PRIu64 " blocks, not %" PRIu64, t->where, have, want);
out:
	strbuf_release(&dev);
	strbuf_release(&blocks);
	return r;
}
