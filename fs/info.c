/* SPDX-License-Identifier: MIT */
/*
 * What the whole-guest operations ask of a filesystem before they write
 * anything (size, UUID, a journal that needs recovery), and the UUID a new
 * filesystem in a partition gets: name-based from the seed as mkfs would
 * make it (mkfs.c), else random. Reads only.
 */
#include <string.h>

#include <uuid.h>

#include "fs-private.h"

int fs_ext_info(const struct fs_target *t, struct fs_ext_info *ret, struct pb_err *err)
{
	ext2_filsys e2 = NULL;
	int r;

	r = fs_ext2_open(t, false, &e2, err);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	ret->block_size = e2->blocksize;
	ret->size = ext2fs_blocks_count(e2->super) * (uint64_t)e2->blocksize;
	uuid_unparse_lower(e2->super->s_uuid, ret->uuid);
	ret->journal_dirty = ext2fs_has_feature_journal_needs_recovery(e2->super);
	ext2fs_close_free(&e2);
	return 0;
}

void fs_uuid_for(const struct fs_target *t, const char *seed, char ret[37])
{
	uuid_t u;

	if (seed)
		fs_seed_uuid(t, seed, "uuid", u);
	else
		uuid_generate(u);
	uuid_unparse_lower(u, ret);
}
