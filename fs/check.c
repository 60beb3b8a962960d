/* SPDX-License-Identifier: MIT */
/*
 * e2fsprogs' own tools on one partition: the "PATH?offset=N" name they take
 * for a filesystem inside an image or a disk (e2fsck, resize2fs and tune2fs
 * split it at the '?' and hand "offset=N" to unix_io), the fixed time of a
 * seeded run in E2FSPROGS_FAKE_TIME, and e2fsck -fp for the tools that want
 * "a freshly checked filesystem" (resize2fs, tune2fs -U and -O on a
 * metadata_csum filesystem), run only when they would ask for it.
 *
 * Touches the disk: e2fsck writes inside the target only (the offset and
 * the filesystem's own size bound it); the caller holds the partition.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "common/run.h"
#include "common/util.h"
#include "fs-private.h"

int fs_tool_device(const struct fs_target *t, struct strbuf *ret, struct pb_err *err)
{
	/* The tools cut the name at its first '?': a path holding one would be misread. */
	if (strchr(t->path, '?'))
		return pb_err_set(err, -EINVAL, "%s: %s: a path with '?' in it cannot be given to e2fsprogs", t->where,
				  t->path);
	strbuf_addf(ret, "%s?offset=%" PRIu64, t->path, t->offset);
	return 0;
}

const char *fs_tool_time_env(const char *seed, char *buf, size_t len)
{
	int64_t stamp;

	if (!pb_fixed_time(seed != NULL, &stamp))
		return NULL;
	snprintf(buf, len, "E2FSPROGS_FAKE_TIME=%" PRId64, stamp);
	return buf;
}

bool fs_e2_needs_check(ext2_filsys e2)
{
	struct ext2_super_block *sb = e2->super;

	/* The test resize2fs and tune2fs make before they change anything (resize/main.c, tune2fs.c). */
	return !(sb->s_state & EXT2_VALID_FS) || (sb->s_state & EXT2_ERROR_FS) || sb->s_lastcheck < sb->s_mtime ||
	       ext2fs_has_feature_journal_needs_recovery(sb);
}

int fs_e2fsck_preen(const struct fs_target *t, const char *seed, bool only_if_needed, struct pb_err *err)
{
	struct strbuf dev = STRBUF_INIT;
	char timeenv[64];
	const char *envp[2] = { NULL, NULL };
	struct pb_run_opts ro = { .accept_exit = 1u << 1 }; /* 1: errors corrected */
	ext2_filsys e2 = NULL;
	int r;

	if (only_if_needed) {
		bool needed;

		r = fs_ext2_open(t, false, &e2, err);
		if (r < 0)
			return r;
		needed = fs_e2_needs_check(e2);
		ext2fs_close_free(&e2);
		if (!needed)
			return 0;
	}
	r = fs_tool_device(t, &dev, err);
	if (r < 0)
		goto out;
	envp[0] = fs_tool_time_env(seed, timeenv, sizeof(timeenv));
	ro.envp_extra = envp[0] ? envp : NULL;
	/* -p: what e2fsck fixes without asking (the journal replayed, counts); anything else fails. */
	r = pb_run((const char *const[]){ "e2fsck", "-f", "-p", dev.buf, NULL }, &ro, err);
	if (r < 0)
		pb_err_prefix(err, r, "%s: the filesystem needs a check that e2fsck -p cannot do alone "
			      "(run e2fsck -f '%s' and try again): ", t->where, dev.buf);
out:
	strbuf_release(&dev);
	return r;
}
