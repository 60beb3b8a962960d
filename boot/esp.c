/* SPDX-License-Identifier: MIT */
/*
 * The ESP: the one FAT filesystem partboot writes to, holding BOOTX64.EFI,
 * grub.cfg and grubenv.
 *
 * Files are copied in with mtools (through pb_run), addressing the FAT at its
 * offset inside the disk ("DISK@@BYTES"), so no loop device or mount is ever
 * needed. mtools cannot edit a file in place, though, and grubenv must be
 * edited in place: GRUB's own save_env writes the block through the sectors
 * the file already has (grub-core/commands/loadenv.c) and never allocates, so
 * a grubenv that moved would be one GRUB cannot write any more. Hence the
 * small read-only FAT16/FAT32 walker below (Microsoft's FAT specification,
 * "fatgen103": BPB fields, cluster chains, 8.3 directory entries): it finds
 * the clusters of a file, and grubenv.c writes the 1024 bytes there with
 * pwrite on the disk's descriptor. The walker never writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/alloc.h"
#include "../common/endian.h"
#include "../common/macros.h"
#include "../common/debug.h"
#include "../common/run.h"
#include "../common/tmpdir.h"
#include "../common/util.h"
#include "../fs/fs.h"
#include "boot-private.h"

static int read_at(struct esp *e, uint64_t off, void *buf, size_t len, struct pb_err *err)
{
	ssize_t n = pread(part_disk_fd(e->d), buf, len, (off_t)off);

	if (n < 0)
		return pb_err_set(err, -errno, "%s: cannot read: %s", e->where, strerror(errno));
	if ((size_t)n != len)
		return pb_err_set(err, -EIO, "%s: short read at byte %" PRIu64, e->where, off);
	return 0;
}

/* Parse the boot sector (fatgen103 §3); has_fat stays false for anything else. */
static int parse_bpb(struct esp *e, struct pb_err *err)
{
	uint8_t b[512];
	uint32_t fatsz, total, root_entries, data_sectors;
	int r;

	e->has_fat = false;
	if (e->part.size < sizeof(b))
		return 0;
	r = read_at(e, e->part.start, b, sizeof(b), err);
	if (r < 0)
		return r;
	if (b[510] != 0x55 || b[511] != 0xaa)
		return 0;
	e->bps = pb_le16(b + 0x0b);
	e->spc = b[0x0d];
	e->reserved = pb_le16(b + 0x0e);
	e->nfats = b[0x10];
	root_entries = pb_le16(b + 0x11);
	total = pb_le16(b + 0x13) ? pb_le16(b + 0x13) : pb_le32(b + 0x20);
	fatsz = pb_le16(b + 0x16) ? pb_le16(b + 0x16) : pb_le32(b + 0x24);
	if ((e->bps != 512 && e->bps != 1024 && e->bps != 2048 && e->bps != 4096) || !e->spc ||
	    (e->spc & (e->spc - 1)) || !e->reserved || !e->nfats || !fatsz || !total)
		return 0;
	/*
	 * Every field below decides where the walker reads and grubenv.c
	 * writes: a crafted ESP must not send either outside its partition.
	 * fatgen103 §3.5: at most 32 KiB per cluster (64 KiB taken), FATs
	 * holding an entry for every cluster, FAT16 with a root directory,
	 * FAT32 without one but with a root cluster.
	 */
	if ((uint32_t)e->spc * e->bps > 64 * 1024 || e->nfats > 4)
		return pb_err_set(err, -EUCLEAN, "%s: FAT geometry invalid (cluster size or number of FATs)", e->where);
	e->fat_sectors = fatsz;
	e->root_sectors = (root_entries * 32 + e->bps - 1) / e->bps;
	e->data_sector = (uint64_t)e->reserved + (uint64_t)e->nfats * fatsz + e->root_sectors;
	if (e->data_sector >= total)
		return 0;
	data_sectors = total - (uint32_t)e->data_sector;
	e->n_clusters = data_sectors / e->spc;
	if ((uint64_t)total * e->bps > e->part.size)
		return pb_err_set(err, -EUCLEAN, "%s: FAT filesystem larger than its partition", e->where);
	if (e->n_clusters < 4085) {
		/* FAT12: GRUB reads it, but partboot makes FAT16/32 only */
		return pb_err_set(err, -EMEDIUMTYPE, "%s: FAT12 filesystem: make it FAT32 (partboot mkfs --fs vfat)",
				  e->where);
	} else if (e->n_clusters < 65525) {
		e->fat_bits = 16;
		e->root_cluster = 0;
		if (!root_entries)
			return pb_err_set(err, -EUCLEAN, "%s: FAT16 filesystem without a root directory", e->where);
		snprintf(e->volid, sizeof(e->volid), "%04X-%04X", pb_le16(b + 0x29), pb_le16(b + 0x27));
	} else {
		e->fat_bits = 32;
		e->root_cluster = pb_le32(b + 0x2c);
		if (root_entries || e->root_cluster < 2 || e->root_cluster >= e->n_clusters + 2)
			return pb_err_set(err, -EUCLEAN, "%s: FAT32 root directory cluster %u outside the filesystem",
					  e->where, e->root_cluster);
		snprintf(e->volid, sizeof(e->volid), "%04X-%04X", pb_le16(b + 0x45), pb_le16(b + 0x43));
	}
	if ((uint64_t)fatsz * e->bps * 8 / e->fat_bits < (uint64_t)e->n_clusters + 2)
		return pb_err_set(err, -EUCLEAN, "%s: FAT too small for the clusters the filesystem claims", e->where);
	e->has_fat = true;
	return 0;
}

int esp_open(struct part_disk *d, struct esp *ret, struct pb_err *err)
{
	size_t n = part_disk_count(d);

	memset(ret, 0, sizeof(*ret));
	ret->d = d;
	for (size_t i = 0; i < n; i++) {
		if (part_disk_get(d, i, &ret->part) < 0)
			continue;
		if (ret->part.type != PART_TYPE_ESP)
			continue;
		snprintf(ret->where, sizeof(ret->where), "%s: ESP '%s'", part_disk_path(d),
			 ret->part.name[0] ? ret->part.name : "?");
		return parse_bpb(ret, err);
	}
	return pb_err_set(err, -ENOENT,
			  "%s: no ESP: add one for grub.cfg and grubenv (partboot add %s esp --type esp --size 64M)",
			  part_disk_path(d), part_disk_path(d));
}

/* A cluster number that names a data cluster of this FAT (2 .. n_clusters + 1). */
static bool cluster_valid(const struct esp *e, uint32_t c)
{
	return c >= 2 && c < e->n_clusters + 2;
}

static uint64_t cluster_offset(const struct esp *e, uint32_t c)
{
	return e->part.start + (e->data_sector + (uint64_t)(c - 2) * e->spc) * e->bps;
}

static uint32_t cluster_bytes(const struct esp *e)
{
	return e->spc * e->bps;
}

/* Next cluster in the chain; 0 at the end of the chain or on a bad value. */
static int fat_next(struct esp *e, uint32_t c, uint32_t *ret, struct pb_err *err)
{
	uint64_t off = e->part.start + (uint64_t)e->reserved * e->bps + (uint64_t)c * (e->fat_bits / 8);
	uint8_t b[4];
	uint32_t v;
	int r;

	r = read_at(e, off, b, e->fat_bits / 8, err);
	if (r < 0)
		return r;
	if (e->fat_bits == 16) {
		v = pb_le16(b);
		*ret = (v >= 2 && v < 0xfff0 && v < e->n_clusters + 2) ? v : 0;
	} else {
		v = pb_le32(b) & 0x0fffffff;
		*ret = (v >= 2 && v < 0x0ffffff0 && v < e->n_clusters + 2) ? v : 0;
	}
	return 0;
}

/* "grubenv" -> "GRUBENV    "; false when it is not a valid 8.3 name. */
static bool to_short_name(const char *s, size_t len, char out[11])
{
	size_t i = 0, j = 0;

	memset(out, ' ', 11);
	for (; i < len && s[i] != '.'; i++, j++) {
		if (j >= 8)
			return false;
		out[j] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
	}
	if (i < len) {
		i++;
		for (j = 8; i < len; i++, j++) {
			if (j >= 11 || s[i] == '.')
				return false;
			out[j] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
		}
	}
	return len > 0;
}

struct dirent_hit {
	uint32_t cluster;
	uint32_t size;
	bool is_dir;
};

/* Scan one directory buffer; 1 when found, 0 not here, 2 at the end marker. */
static int scan_entries(const uint8_t *buf, size_t len, const char name[11], struct dirent_hit *hit)
{
	for (size_t i = 0; i + 32 <= len; i += 32) {
		const uint8_t *d = buf + i;

		if (d[0] == 0)
			return 2;
		if (d[0] == 0xe5 || d[11] == 0x0f || (d[11] & 0x08))
			continue; /* deleted, long-name part, volume label */
		if (memcmp(d, name, 11))
			continue;
		hit->cluster = (uint32_t)pb_le16(d + 0x14) << 16 | pb_le16(d + 0x1a);
		hit->size = pb_le32(d + 0x1c);
		hit->is_dir = d[11] & 0x10;
		return 1;
	}
	return 0;
}

static int find_in_dir(struct esp *e, uint32_t dir_cluster, const char name[11], struct dirent_hit *hit,
		       struct pb_err *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint32_t c = dir_cluster, steps = 0;
	int r;

	if (dir_cluster == 0) {
		/* FAT16 root: a fixed run of sectors after the FATs */
		size_t len = (size_t)e->root_sectors * e->bps;
		uint64_t off = e->part.start + ((uint64_t)e->reserved + (uint64_t)e->nfats * e->fat_sectors) * e->bps;

		buf = xmalloc(len);
		r = read_at(e, off, buf, len, err);
		if (r < 0)
			return r;
		return scan_entries(buf, len, name, hit) == 1 ? 0 : -ENOENT;
	}
	buf = xmalloc(cluster_bytes(e));
	while (c) {
		/* a directory entry's first cluster is the disk's word: bounded like the chain */
		if (!cluster_valid(e, c))
			return pb_err_set(err, -EUCLEAN, "%s: directory cluster %u outside the filesystem", e->where, c);
		if (++steps > e->n_clusters)
			return pb_err_set(err, -EUCLEAN, "%s: FAT cluster chain loops", e->where);
		r = read_at(e, cluster_offset(e, c), buf, cluster_bytes(e), err);
		if (r < 0)
			return r;
		r = scan_entries(buf, cluster_bytes(e), name, hit);
		if (r == 1)
			return 0;
		if (r == 2)
			return -ENOENT;
		r = fat_next(e, c, &c, err);
		if (r < 0)
			return r;
	}
	return -ENOENT;
}

int esp_lookup(struct esp *e, const char *path, uint32_t *ret_size, uint64_t max, struct esp_extent **ret_ext,
	       size_t *ret_n, struct pb_err *err)
{
	struct dirent_hit hit = { .cluster = e->fat_bits == 32 ? e->root_cluster : 0, .is_dir = true };
	_cleanup_free_ struct esp_extent *ext = NULL;
	const char *p = path;
	size_t n = 0;
	uint64_t want;
	uint32_t c, steps = 0;
	int r;

	if (!e->has_fat)
		return pb_err_set(err, -EMEDIUMTYPE, "%s: no FAT filesystem", e->where);
	while (*p) {
		char name[11];
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		len = strcspn(p, "/");
		if (!hit.is_dir)
			return -ENOENT;
		if (!to_short_name(p, len, name))
			return pb_err_set(err, -EINVAL, "%s: '%s' is not an 8.3 name", e->where, path);
		r = find_in_dir(e, hit.cluster, name, &hit, err);
		if (r < 0)
			return r;
		p += len;
	}
	if (hit.is_dir)
		return pb_err_set(err, -EISDIR, "%s: %s is a directory", e->where, path);

	want = hit.size < max ? hit.size : max;
	c = hit.cluster;
	while (want > 0) {
		uint64_t len = want < cluster_bytes(e) ? want : cluster_bytes(e);
		uint64_t off;

		if (!cluster_valid(e, c) || ++steps > e->n_clusters)
			return pb_err_set(err, -EUCLEAN, "%s: %s: broken cluster chain (cluster %u)", e->where, path, c);
		off = cluster_offset(e, c);
		if (n && ext[n - 1].offset + ext[n - 1].len == off) {
			ext[n - 1].len += len;
		} else {
			struct esp_extent *t = xreallocarray(ext, n + 1, sizeof(*ext));

			ext = t;
			ext[n++] = (struct esp_extent){ off, len };
		}
		want -= len;
		if (want) {
			r = fat_next(e, c, &c, err);
			if (r < 0)
				return r;
		}
	}
	if (ret_size)
		*ret_size = hit.size;
	if (ret_ext)
		*ret_ext = TAKE_PTR(ext);
	if (ret_n)
		*ret_n = n;
	return 0;
}

int esp_read_file(struct esp *e, const char *path, char **ret, size_t *ret_len, struct pb_err *err)
{
	_cleanup_free_ struct esp_extent *ext = NULL;
	_cleanup_free_ char *buf = NULL;
	uint32_t size;
	size_t n, done = 0;
	int r;

	r = esp_lookup(e, path, &size, 1 * MiB, &ext, &n, err);
	if (r < 0)
		return r;
	if (size > 1 * MiB)
		return pb_err_set(err, -EFBIG, "%s: %s is too large", e->where, path);
	buf = xmalloc((size_t)size + 1);
	for (size_t i = 0; i < n; i++) {
		r = read_at(e, ext[i].offset, buf + done, ext[i].len, err);
		if (r < 0)
			return r;
		done += ext[i].len;
	}
	buf[done] = 0;
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = done;
	return 0;
}

int esp_free_bytes(struct esp *e, uint64_t *ret, struct pb_err *err)
{
	size_t entry = e->fat_bits / 8, chunk = 64 * 1024;
	uint64_t fat = e->part.start + (uint64_t)e->reserved * e->bps;
	uint64_t total = (uint64_t)(e->n_clusters + 2) * entry, free_clusters = 0;
	_cleanup_free_ uint8_t *buf = xmalloc(chunk);
	int r;

	for (uint64_t pos = 0; pos < total; pos += chunk) {
		size_t len = total - pos < chunk ? (size_t)(total - pos) : chunk;

		r = read_at(e, fat + pos, buf, len, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i + entry <= len; i += entry) {
			uint64_t idx = (pos + i) / entry;
			uint32_t v = entry == 2 ? pb_le16(buf + i) : pb_le32(buf + i) & 0x0fffffff;

			if (idx >= 2 && v == 0)
				free_clusters++;
		}
	}
	*ret = free_clusters * cluster_bytes(e);
	return 0;
}

uint64_t esp_alloc_size(const struct esp *e, uint64_t size)
{
	/* no FAT yet: esp_mkfs() makes 512-byte clusters */
	uint64_t cb = e->has_fat ? cluster_bytes(e) : 512;

	return (size + cb - 1) / cb * cb;
}

static int mtools(struct esp *e, const char *const *args, struct pb_err *err)
{
	char stamp[48];
	const char *env[] = { "MTOOLS_SKIP_CHECK=1", NULL, NULL };
	struct pb_run_opts opts = { .envp_extra = env };
	int64_t t;
	struct strbuf img = STRBUF_INIT;
	const char *argv[12];
	size_t n = 0;
	int r;

	/* a seeded disk stamps the same time into every directory entry mtools writes */
	if (pb_fixed_time(part_disk_seed(e->d) != NULL, &t))
		env[1] = pb_source_date_env(t, stamp, sizeof(stamp));
	strbuf_addf(&img, "%s@@%" PRIu64, part_disk_path(e->d), e->part.start);
	argv[n++] = args[0];
	argv[n++] = "-i";
	argv[n++] = img.buf;
	for (size_t i = 1; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	r = pb_run(argv, &opts, err);
	if (r < 0)
		pb_err_prefix(err, r, "%s: ", e->where);
	strbuf_release(&img);
	return r;
}

int esp_mkdir(struct esp *e, const char *path, struct pb_err *err)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = path;
	int r = 0;

	/* one level at a time: an existing directory is fine, a new one is made */
	while (*p && r >= 0) {
		char name[11];
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		len = strcspn(p, "/");
		strbuf_addch(&sb, '/');
		strbuf_add(&sb, p, len);
		p += len;
		if (!to_short_name(sb.buf + sb.len - len, len, name)) {
			r = pb_err_set(err, -EINVAL, "%s: '%s' is not an 8.3 name", e->where, sb.buf);
			break;
		}
		r = esp_lookup(e, sb.buf, NULL, 0, NULL, NULL, NULL);
		if (r == -EISDIR) {
			r = 0;
			continue;
		}
		if (r == 0) {
			r = pb_err_set(err, -ENOTDIR, "%s: %s is a file, not a directory", e->where, sb.buf);
			break;
		}
		{
			struct strbuf dst = STRBUF_INIT;
			const char *args[] = { "mmd", NULL, NULL };

			strbuf_addf(&dst, "::%s", sb.buf);
			args[1] = dst.buf;
			r = mtools(e, args, err);
			strbuf_release(&dst);
		}
	}
	strbuf_release(&sb);
	return r;
}

int esp_put_file(struct esp *e, const char *host_path, const char *path, struct pb_err *err)
{
	struct strbuf dst = STRBUF_INIT;
	const char *args[] = { "mcopy", "-o", "-Q", host_path, NULL, NULL };
	int r;

	strbuf_addf(&dst, "::%s", path);
	args[4] = dst.buf;
	r = mtools(e, args, err);
	strbuf_release(&dst);
	return r;
}

int esp_remove(struct esp *e, const char *path, struct pb_err *err)
{
	struct strbuf dst = STRBUF_INIT;
	const char *args[] = { "mdel", NULL, NULL };
	int r;

	r = esp_lookup(e, path, NULL, 0, NULL, NULL, NULL);
	if (r == -ENOENT)
		return 0;
	if (r == -EISDIR)
		return pb_err_set(err, r, "%s: %s is a directory, not a file", e->where, path);
	if (r < 0)
		return pb_err_set(err, r, "%s: cannot look up %s", e->where, path);
	PB_DEBUG(PB_DEBUG_BOOT, "%s: remove %s", e->where, path);
	strbuf_addf(&dst, "::%s", path);
	args[1] = dst.buf;
	r = mtools(e, args, err);
	strbuf_release(&dst);
	return r;
}

int esp_put_data(struct esp *e, const void *data, size_t len, const char *path, struct pb_err *err)
{
	_cleanup_free_ char *name = NULL;
	int fd, r = 0;

	PB_DEBUG(PB_DEBUG_BOOT, "%s: write %s (%zu bytes)", e->where, path, len);
	fd = pb_mkstemp("partboot-esp", PB_TMP_SMALL, &name, err);
	if (fd < 0)
		return fd;
	if (write(fd, data, len) != (ssize_t)len) {
		r = pb_err_set(err, -EIO, "%s: cannot write: %s", name, strerror(errno));
		close(fd);
		goto out_unlink;
	}
	close(fd);
	r = esp_put_file(e, name, path, err);
out_unlink:
	unlink(name);
	return r;
}

int esp_mkfs(struct esp *e, struct pb_err *err)
{
	char offset[32], kib[32], volid[16];
	const char *argv[] = { "mkfs.fat", "-F", "16", "-s", "1", "-S", "512", "-n", "ESP", "-i", volid, "--offset",
			       offset, part_disk_path(e->d), kib, NULL, NULL };
	int64_t when;
	struct pb_err sub = PB_ERR_INIT;
	unsigned v = 0;
	int r;

	if (e->part.size < 3 * MiB)
		return pb_err_set(err, -ENOSPC, "%s: %" PRIu64 " KiB is too small for a FAT ESP (at least 3 MiB, 64 MiB is usual)",
				  e->where, e->part.size / KiB);
	if (e->part.size >= 33 * MiB) {
		/* FAT32, made by fs/ like any vfat; the partition UUID seeds the volume id */
		struct fs_target t = { .path = part_disk_path(e->d), .offset = e->part.start, .size = e->part.size,
					.where = e->where, .name = e->part.name };
		struct fs_mkfs_opts o = { .kind = FS_KIND_VFAT, .label = "ESP", .seed = e->part.uuid };

		r = fs_mkfs(&t, &o, err);
		if (r < 0)
			return r;
	} else {
		/*
		 * Below 33 MiB FAT32 cannot have its 65525 clusters: FAT16, with one
		 * 512-byte sector per cluster as fs/ makes FAT32 (mtools mis-reads
		 * the larger clusters mkfs.fat would otherwise pick).
		 */
		sscanf(e->part.uuid, "%8x", &v);
		snprintf(volid, sizeof(volid), "%08X", v);
		snprintf(offset, sizeof(offset), "%" PRIu64, e->part.start / 512);
		snprintf(kib, sizeof(kib), "%" PRIu64, e->part.size / KiB);
		/*
		 * A seeded disk gets the same bytes every time: mkfs.fat 4.2 stamps
		 * the creation time into the boot sector and the volume label's
		 * entry, and takes no SOURCE_DATE_EPOCH; --invariant fixes them
		 * (the volume id given with -i stays).
		 */
		if (pb_fixed_time(part_disk_seed(e->d) != NULL, &when)) {
			/* options first: shift everything after "mkfs.fat" up by one */
			memmove(argv + 2, argv + 1, (ARRAY_SIZE(argv) - 2) * sizeof(*argv));
			argv[1] = "--invariant";
		}
		r = pb_run(argv, NULL, &sub);
		if (r < 0) {
			pb_err_set(err, r, "%s: %s", e->where, pb_err_msg(&sub));
			pb_err_clear(&sub);
			return r;
		}
		pb_err_clear(&sub);
	}
	r = parse_bpb(e, err);
	if (r < 0)
		return r;
	if (!e->has_fat)
		return pb_err_set(err, -EIO, "%s: mkfs.fat made no FAT filesystem", e->where);
	return 0;
}
