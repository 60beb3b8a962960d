/* SPDX-License-Identifier: MIT */
/*
 * Making empty filesystems in a partition: ext4 through mke2fs -E offset=,
 * FAT32 through mkfs.fat --offset, a swap signature written here through the
 * range-checked I/O layer. Before any of them, the old contents of the range
 * are cleared (holes punched in an image file, the first and last MiB zeroed
 * on a block device) so no stale signature survives and a seeded run gives
 * the same bytes.
 *
 * With a seed, identifiers are name-based UUIDs (SHA-1, RFC 4122 §4.3) of the
 * seed and the partition, and timestamps are pb_fixed_time()'s.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <blkid.h>
#include <uuid.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "common/run.h"
#include "common/util.h"
#include "fs-private.h"

/* The namespace of partboot's name-based filesystem UUIDs (fixed, random once). */
static const uuid_t fs_uuid_namespace = { 0x3b, 0x6e, 0x0c, 0x52, 0x8f, 0x41, 0x4d, 0x2a,
					  0x9c, 0x7d, 0x55, 0x1e, 0x2f, 0x90, 0xa4, 0x18 };


static const char *const kind_names[] = {
	[FS_KIND_NONE] = "none",
	[FS_KIND_EXT4] = "ext4",
	[FS_KIND_VFAT] = "vfat",
	[FS_KIND_SWAP] = "swap",
};

int fs_kind_from_string(const char *s, enum fs_kind *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++)
		if (!strcmp(s, kind_names[i])) {
			*ret = (enum fs_kind)i;
			return 0;
		}
	if (!strcmp(s, "fat") || !strcmp(s, "fat32")) {
		*ret = FS_KIND_VFAT;
		return 0;
	}
	return -EINVAL;
}

const char *fs_kind_to_string(enum fs_kind k)
{
	if ((size_t)k < ARRAY_SIZE(kind_names))
		return kind_names[k];
	return "unknown";
}

void fs_seed_uuid(const struct fs_target *t, const char *seed, const char *what, uuid_t ret)
{
	struct strbuf sb = STRBUF_INIT;

	/* "SEED\0fs\0PARTITION\0WHAT": unambiguous whatever the strings hold. */
	strbuf_addstr(&sb, seed);
	strbuf_add(&sb, "\0fs\0", 4);
	if (t->name)
		strbuf_addstr(&sb, t->name);
	else
		strbuf_addf(&sb, "@%" PRIu64, t->offset);
	strbuf_addch(&sb, '\0');
	strbuf_addstr(&sb, what);
	uuid_generate_sha1(ret, fs_uuid_namespace, sb.buf, sb.len);
	strbuf_release(&sb);
}

int fs_probe_kind(const struct fs_target *t, enum fs_kind *ret, char *ret_type, size_t type_len,
		  struct pb_err *err)
{
	_cleanup_close_ int fd = -1;
	blkid_probe pr;
	const char *type = NULL;
	enum fs_kind k = FS_KIND_NONE;
	int r;

	fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pb_err_set(err, -errno, "%s: cannot open %s: %s", t->where, t->path, strerror(errno));
	pr = blkid_new_probe();
	if (!pr)
		return pb_err_set(err, -ENOMEM, "%s: out of memory", t->where);
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)t->offset, (blkid_loff_t)t->size) < 0) {
		blkid_free_probe(pr);
		return pb_err_set(err, -EIO, "%s: cannot probe", t->where);
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 0);
	r = blkid_do_safeprobe(pr);
	if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &type, NULL) == 0 && type) {
		if (!strcmp(type, "ext4") || !strcmp(type, "ext3") || !strcmp(type, "ext2"))
			k = FS_KIND_EXT4;
		else if (!strcmp(type, "vfat"))
			k = FS_KIND_VFAT;
		else if (!strcmp(type, "swap"))
			k = FS_KIND_SWAP;
	}
	if (ret_type && type_len)
		snprintf(ret_type, type_len, "%s", r == 0 && type ? type : (r == -2 ? "ambiguous" : ""));
	blkid_free_probe(pr);
	*ret = k;
	return 0;
}

int fs_probe(const struct fs_target *t, enum fs_kind *ret, struct pb_err *err)
{
	return fs_probe_kind(t, ret, NULL, 0, err);
}

/* Clear what an earlier filesystem left, so blkid sees only the new one. */
static int clear_range(const struct fs_target *t, struct pb_err *err)
{
	_cleanup_close_ int fd = open(t->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return pb_err_set(err, -errno, "%s: cannot open %s: %s", t->where, t->path, strerror(errno));
	if (S_ISREG(st.st_mode))
		return fs_io_zero(t, 0, t->size, err);
	r = fs_io_zero(t, 0, t->size < MiB ? t->size : MiB, err);
	if (r < 0 || t->size <= 2 * MiB)
		return r;
	return fs_io_zero(t, t->size - MiB, MiB, err);
}

static int mkfs_ext4(const struct fs_target *t, const struct fs_mkfs_opts *opts, struct pb_err *err)
{
	struct strbuf ext = STRBUF_INIT, size = STRBUF_INIT, timeenv = STRBUF_INIT;
	char uuid[37] = "", hash[37];
	const char *argv[20];
	const char *envp[2] = { NULL, NULL };
	struct pb_run_opts ro = { 0 };
	int64_t stamp;
	size_t n = 0;
	int r;

	if (t->size < 4 * MiB)
		return pb_err_set(err, -ENOSPC, "%s: too small for ext4 (at least 4 MiB)", t->where);
	strbuf_addf(&ext, "offset=%" PRIu64 ",nodiscard,root_owner=0:0", t->offset);
	if (opts->seed) {
		uuid_t u;

		fs_seed_uuid(t, opts->seed, "uuid", u);
		uuid_unparse_lower(u, uuid);
		fs_seed_uuid(t, opts->seed, "hash_seed", u);
		uuid_unparse_lower(u, hash);
		strbuf_addf(&ext, ",hash_seed=%s", hash);
	}
	if (pb_fixed_time(opts->seed != NULL, &stamp)) {
		/* mke2fs stamps every time it writes with this instead of time(NULL). */
		strbuf_addf(&timeenv, "E2FSPROGS_FAKE_TIME=%" PRId64, stamp);
		envp[0] = timeenv.buf;
		ro.envp_extra = envp;
	}
	/* A bare number counts blocks; K is unambiguous. 4 KiB blocks even when small. */
	strbuf_addf(&size, "%" PRIu64 "k", t->size / 4096 * 4);

	argv[n++] = "mke2fs";
	argv[n++] = "-q";
	argv[n++] = "-F";
	argv[n++] = "-t";
	argv[n++] = "ext4";
	argv[n++] = "-b";
	argv[n++] = "4096";
	argv[n++] = "-E";
	argv[n++] = ext.buf;
	if (*uuid) {
		argv[n++] = "-U";
		argv[n++] = uuid;
	}
	if (opts->label && *opts->label) {
		argv[n++] = "-L";
		argv[n++] = opts->label;
	}
	argv[n++] = t->path;
	argv[n++] = size.buf;
	argv[n] = NULL;

	r = pb_run(argv, &ro, err);
	if (r < 0)
		pb_err_prefix(err, r, "%s: ", t->where);
	strbuf_release(&ext);
	strbuf_release(&size);
	strbuf_release(&timeenv);
	return r;
}

static int mkfs_vfat(const struct fs_target *t, const struct fs_mkfs_opts *opts, struct pb_err *err)
{
	char offset[32], hidden[32], volid[16], size[32];
	const char *argv[24];
	uint32_t id;
	size_t n = 0;
	uuid_t u;
	int r;

	if (t->offset % 512 || t->size % 512)
		return pb_err_set(err, -EINVAL, "%s: not aligned to 512-byte sectors", t->where);
	/* FAT32 needs 65525 clusters; with one 512-byte sector per cluster that is ~33 MiB. */
	if (t->size < 33 * MiB)
		return pb_err_set(err, -ENOSPC, "%s: too small for FAT32 (at least 33 MiB)", t->where);
	if (opts->seed)
		fs_seed_uuid(t, opts->seed, "volume_id", u);
	else
		uuid_generate(u);
	memcpy(&id, u, sizeof(id));
	snprintf(volid, sizeof(volid), "%08" PRIx32, id);
	snprintf(offset, sizeof(offset), "--offset=%" PRIu64, t->offset / 512);
	snprintf(hidden, sizeof(hidden), "%" PRIu64, t->offset / 512);
	snprintf(size, sizeof(size), "%" PRIu64, t->size / 1024);

	argv[n++] = "mkfs.fat";
	argv[n++] = "-F";
	argv[n++] = "32";
	argv[n++] = "-s";
	argv[n++] = "1";
	argv[n++] = "-S";
	argv[n++] = "512";
	argv[n++] = offset;
	argv[n++] = "-h";
	argv[n++] = hidden;
	if (opts->seed)
		argv[n++] = "--invariant"; /* fixed times; -i below still sets the id */
	argv[n++] = "-i";
	argv[n++] = volid;
	if (opts->label && *opts->label) {
		argv[n++] = "-n";
		argv[n++] = opts->label;
	}
	argv[n++] = t->path;
	argv[n++] = size;
	argv[n] = NULL;
	r = pb_run(argv, NULL, err);
	if (r < 0)
		pb_err_prefix(err, r, "%s: ", t->where);
	return r;
}

/* The Linux swap header, version 1 (include/linux/swap.h, union swap_header). */
struct swap_header_v1 {
	char bootbits[1024];
	uint32_t version;
	uint32_t last_page;
	uint32_t nr_badpages;
	unsigned char uuid[16];
	char volume_name[16];
	uint32_t padding[117];
	uint32_t badpages[1];
};

static int mkfs_swap(const struct fs_target *t, const struct fs_mkfs_opts *opts, struct pb_err *err)
{
	const size_t page = 4096; /* x86-64; the magic sits at the end of the first page */
	_cleanup_free_ char *buf = NULL;
	struct swap_header_v1 *h;
	uuid_t u;

	if (t->size < 10 * page)
		return pb_err_set(err, -ENOSPC, "%s: too small for swap", t->where);
	buf = xcalloc(1, page);
	h = (struct swap_header_v1 *)buf;
	h->version = 1;
	h->last_page = (uint32_t)(t->size / page - 1);
	if (opts->seed)
		fs_seed_uuid(t, opts->seed, "uuid", u);
	else
		uuid_generate(u);
	memcpy(h->uuid, u, 16);
	if (opts->label)
		memcpy(h->volume_name, opts->label, strnlen(opts->label, sizeof(h->volume_name)));
	memcpy(buf + page - 10, "SWAPSPACE2", 10);
	return fs_io_pwrite(t, 0, buf, page, err);
}

int fs_mkfs(const struct fs_target *t, const struct fs_mkfs_opts *opts, struct pb_err *err)
{
	int r;

	if (opts->label && opts->kind == FS_KIND_VFAT && strlen(opts->label) > 11)
		return pb_err_set(err, -EINVAL, "%s: a FAT label holds at most 11 characters", t->where);
	if (opts->label && strlen(opts->label) > 16)
		return pb_err_set(err, -EINVAL, "%s: a label holds at most 16 characters", t->where);
	if (opts->kind != FS_KIND_EXT4 && opts->kind != FS_KIND_VFAT && opts->kind != FS_KIND_SWAP)
		return pb_err_set(err, -EINVAL, "%s: no filesystem kind given", t->where);

	r = clear_range(t, err);
	if (r < 0)
		return r;
	fs_test_pause("mkfs");
	switch (opts->kind) {
	case FS_KIND_EXT4:
		return mkfs_ext4(t, opts, err);
	case FS_KIND_VFAT:
		return mkfs_vfat(t, opts, err);
	default:
		return mkfs_swap(t, opts, err);
	}
}
