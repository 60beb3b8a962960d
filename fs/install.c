/* SPDX-License-Identifier: MIT */
/*
 * fs_install(): fill a partition's ext4 filesystem from a tar stream or a
 * directory, in-process: libarchive reads (source.c), libext2fs writes
 * (entry.c and the files it uses, see fs-private.h), through the
 * range-checked I/O layer (io.c). Nothing is mounted; everything (owners,
 * modes, times, xattrs, ACLs, device numbers) comes from the archive's
 * headers, never from the user running partboot.
 *
 * Who touches the disk, and when: this file opens the filesystem (one
 * libext2fs session per step below, through io.c), and the order of writes
 * keeps an interruption always visible:
 *   0. a complete guest already there is marked incomplete first (marker
 *      created and flushed in it; with --wipe its superblock cleared
 *      instead, never trusting its bitmaps) and the caller told
 *      (opts->marked: the CLI drops it from the boot menu), before anything
 *      else is written;
 *   1. make the filesystem when there is none, --wipe, or an earlier
 *      install left it incomplete (fs_mkfs(), mke2fs);
 *   2. one libext2fs session: create /.partboot-incomplete and flush it to
 *      the disk before any other data (marker.c);
 *   3. the entries (entry.c), file data written in large contiguous runs
 *      (data.c: ext2fs_fallocate() + one write per extent), holes left as holes;
 *   4. opts->source_end (a streaming producer's exit status), then the
 *      after-install steps (setup.c: fstab, hostname, hosts, kernel/cmdline)
 *      and the caller's edits (opts->customize: passwords, users, keys);
 *   5. remove the marker, close (flush) last.
 * A failure after 2 closes the filesystem with the marker still there, so
 * fs_guest_info() says incomplete and the next install starts over.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/util.h"
#include "fs-private.h"

static int enospc(struct populate *p, struct archive_entry *cur)
{
	const uint64_t bs = p->e2->blocksize;
	/* What the entries before this one took; this one counts in full below. */
	blk64_t before = p->free_before_entry;
	uint64_t used = (p->free_at_start > before ? p->free_at_start - before : 0) * bs;
	uint64_t have = p->free_at_start * bs, need;
	char a[32], b[32];
	char *entry = xstrdup(p->entry ? p->entry : "");
	int r;

	if (!p->e2->super->s_free_inodes_count) {
		r = pb_err_set(p->err, -ENOSPC, "%s: out of inodes at '%s' (%u inodes in the filesystem)",
			       p->t->where, entry, p->e2->super->s_inodes_count);
		free(entry);
		return r;
	}
	need = used + fs_source_remaining(p, cur);
	if (need <= have)
		need = have + bs; /* metadata we do not count tipped it over */
	r = pb_err_set(p->err, -ENOSPC, "%s: %s needed, %s free (ran out at '%s')", p->t->where,
		       pb_format_size(need, a, sizeof(a)), pb_format_size(have, b, sizeof(b)), entry);
	free(entry);
	return r;
}

static int fill(struct populate *p)
{
	struct archive_entry *e;
	int r;

	while ((r = fs_source_next(p, &e)) > 0) {
		p->nospace = false;
		p->free_before_entry = ext2fs_free_blocks_count(p->e2->super);
		r = fs_entry_add(p, e);
		if (r == -ENOSPC && p->nospace)
			r = enospc(p, e);
		if (r < 0)
			break;
		fs_source_progress(p, false);
		if (++p->entries == 64)
			fs_test_pause("fill");
	}
	return r;
}

int fs_install(const struct fs_target *t, const struct fs_install_opts *opts, struct pb_err *err)
{
	struct pb_err local = PB_ERR_INIT;
	struct populate p = { .t = t, .opts = opts, .path = STRBUF_INIT, .parent_path = STRBUF_INIT,
			      .src_root_fd = -1, .src_dir_fd = -1, .data_fd = -1, .src_dir = STRBUF_INIT,
			      .entry_name = STRBUF_INIT };
	bool need_mkfs = opts->wipe;
	enum fs_kind kind;
	char type[32];
	errcode_t rc;
	int r;

	if (!err)
		err = &local;
	p.err = err;
	if (!opts->source)
		return pb_err_set(err, -EINVAL, "%s: no source given", t->where);
	/* A missing source is refused before the disk is touched. */
	if (!opts->source_is_fd && strcmp(opts->source, "-") && access(opts->source, R_OK) < 0)
		return pb_err_set(err, -errno, "%s: %s", opts->source, strerror(errno));

	p.stage = xmalloc(FS_STAGE_SIZE);
	r = fs_source_open(&p);
	if (r < 0)
		goto out;

	r = fs_probe_kind(t, &kind, type, sizeof(type), err);
	if (r < 0)
		goto out;
	if (!need_mkfs && kind != FS_KIND_EXT4) {
		if (*type) {
			r = pb_err_set(err, -EEXIST, "%s: holds a %s filesystem; use --wipe to replace it", t->where,
				       type);
			goto out;
		}
		need_mkfs = true;
	}
	p.fixed_time = pb_fixed_time(opts->seed != NULL, &p.now);
	if (!p.fixed_time)
		p.now = (int64_t)time(NULL);
	if (kind == FS_KIND_EXT4 && opts->wipe) {
		/*
		 * --wipe: the old filesystem is not opened at all (a guest's
		 * superblock is not to be trusted with its bitmaps). Its superblock
		 * goes first, so the guest is no guest any more, and the caller is
		 * told (opts->marked: the boot menu drops it) before mkfs.
		 */
		r = fs_io_zero(t, 0, 64 * 1024, err);
		if (r >= 0 && opts->marked)
			r = opts->marked(opts->marked_userdata, err);
		if (r < 0)
			goto out;
	} else if (kind == FS_KIND_EXT4) {
		/*
		 * A guest already there: an earlier install that did not finish is
		 * replaced, not continued. A complete one is marked incomplete before
		 * anything else is written, and the caller told (opts->marked: the
		 * boot menu drops it), so a kill at any later moment never leaves a
		 * menu entry pointing at a half-written guest. fs_ext2_open() checks
		 * the superblock's geometry before the bitmaps are read.
		 */
		ext2_ino_t ino;
		bool had_marker;

		r = fs_ext2_open(t, true, &p.e2, err);
		if (r < 0)
			goto out;
		had_marker = fs_lookup(p.e2, "/" FS_MARKER_NAME, false, &ino) == 0;
		if (!had_marker) {
			if (p.fixed_time)
				p.e2->now = (time_t)p.now;
			rc = ext2fs_read_bitmaps(p.e2);
			r = rc ? fs_err_ext2(err, rc, "%s: cannot read the bitmaps", t->where) : fs_marker_create(&p);
		}
		{
			struct pb_err cerr = PB_ERR_INIT;
			int r2 = fs_ext2_close(p.e2, t, &cerr);

			if (r2 < 0 && r >= 0)
				r = pb_err_set(err, r2, "%s", pb_err_msg(&cerr));
			pb_err_clear(&cerr);
		}
		p.e2 = NULL;
		if (r < 0)
			goto out;
		if (had_marker)
			need_mkfs = true;
		else if (opts->marked) {
			r = opts->marked(opts->marked_userdata, err);
			if (r < 0)
				goto out;
		}
	}
	if (need_mkfs) {
		struct fs_mkfs_opts mo = { .kind = FS_KIND_EXT4, .label = opts->label, .seed = opts->seed };

		r = fs_mkfs(t, &mo, err);
		if (r < 0)
			goto out;
	}

	r = fs_ext2_open(t, true, &p.e2, err);
	if (r < 0)
		goto out;
	if (p.fixed_time)
		p.e2->now = (time_t)p.now; /* every time libext2fs stamps (s_wtime, ...) */
	p.e2->umask = 022;
	rc = ext2fs_read_bitmaps(p.e2);
	if (rc) {
		r = fs_err_ext2(err, rc, "%s: cannot read the bitmaps", t->where);
		goto out_close;
	}
	r = fs_marker_create(&p);
	if (r < 0)
		goto out_close;
	p.free_at_start = ext2fs_free_blocks_count(p.e2->super);

	r = fill(&p);
	if (r < 0)
		goto out_close;
	if (opts->source_end) {
		r = opts->source_end(opts->source_userdata, err);
		if (r < 0)
			goto out_close;
	}
	if (opts->setup) {
		r = fs_setup_guest(&p, p.e2, t, opts, err);
		if (r < 0)
			goto out_close;
	}
	if (opts->customize) {
		/* The same session, through the edit functions: still under the marker. */
		struct fs view = { .e2 = p.e2, .where = (char *)t->where, .rw = true, .borrowed = true, .now = p.now };

		r = opts->customize(&view, opts->customize_userdata, err);
		if (r < 0)
			goto out_close;
	}
	fs_test_pause("setup");
	r = fs_marker_remove(&p);
	if (r < 0)
		goto out_close;
	fs_source_progress(&p, true);

out_close:
	{
		struct pb_err cerr = PB_ERR_INIT;
		int r2 = fs_ext2_close(p.e2, t, &cerr);

		if (r2 < 0 && r >= 0) {
			r = r2;
			pb_err_set(err, r2, "%s", pb_err_msg(&cerr));
		}
		pb_err_clear(&cerr);
	}
out:
	fs_source_close(&p);
	fs_path_map_free(&p.map);
	free(p.stage);
	free(p.fd_buf);
	strbuf_release(&p.path);
	strbuf_release(&p.entry_name);
	strbuf_release(&p.parent_path);
	pb_err_clear(&local);
	return r;
}
