/* SPDX-License-Identifier: MIT */
/*
 * Looking inside a guest before QEMU starts: which disk and network drivers
 * its kernel has built in (config-VERSION, modules.builtin) and which its
 * initramfs carries (initramfs.c), for vm_hw_choose() (hw.c).
 *
 * Reads the guest's files through fs/ (read-only) and writes only the cache:
 *  - an index entry per guest kernel, named by the hash of what identifies
 *    its files without reading them (filesystem UUIDs, version, paths, sizes,
 *    modification times), holding the facts: a second run reads one small
 *    file (the key is stored and compared, so a hash collision is a miss);
 *  - an entry per initramfs content (hash and length; the scan's result), so
 *    the same initramfs in another guest, or after a reinstall that changed
 *    its mtime, is not unpacked again. Unpacking is what costs (tens to
 *    hundreds of ms); reading a kernel config, a few ms.
 * Network drivers in the root's /lib/modules are looked up every time (a
 * handful of directory lookups): they are not part of any file's content.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "fs/fs.h"
#include "vm-private.h"

#define FACTS_MAGIC "partboot-hw-facts-v1"
/* The guest's files are untrusted: none of these is read when larger (an initramfs is tens of MB). */
#define INITRD_MAX (1024 * MiB)
#define CONFIG_MAX (16 * MiB)
#define BUILTIN_FILE_MAX (4 * MiB)

struct stat_find {
	const char *name;
	uint64_t size;
	int64_t mtime;
	bool found;
};

static int stat_find_fn(const struct fs_dirent *e, void *userdata)
{
	struct stat_find *sf = userdata;

	if (strcmp(e->name, sf->name) || e->type != 'f')
		return 0;
	sf->size = e->size;
	sf->mtime = e->mtime;
	sf->found = true;
	return -1; /* found: stop */
}

bool vm_guest_stat(struct fs *fs, const char *path, uint64_t *ret_size, int64_t *ret_mtime)
{
	_cleanup_free_ char *dir = xstrdup(path);
	struct stat_find sf = { 0 };
	char *slash = strrchr(dir, '/');

	if (!slash)
		return false;
	sf.name = slash + 1;
	*slash = '\0';
	fs_list_dir(fs, *dir ? dir : "/", stat_find_fn, &sf, NULL);
	*ret_size = sf.size;
	*ret_mtime = sf.mtime;
	return sf.found;
}

static const char *const src_names[] = {
	[VM_DRIVER_ABSENT] = "absent",
	[VM_DRIVER_ROOTFS] = "rootfs",
	[VM_DRIVER_INITRD] = "initrd",
	[VM_DRIVER_BUILTIN] = "builtin",
};

static void facts_format(const struct vm_hw_facts *f, struct strbuf *out)
{
	strbuf_addf(out, "%s\nbuiltin_known=%d\ninitrd=%d\nsegments=%s\n", FACTS_MAGIC, f->builtin_known, f->initrd,
		    f->segments);
	for (size_t i = 0; i < VM_DRIVER_COUNT; i++)
		strbuf_addf(out, "%s=%s\n", vm_driver_name((enum vm_driver)i), src_names[f->drivers[i]]);
}

/* The facts of a cache file whose first line must be key (NULL: any). false when it is not one. */
static bool facts_parse(const char *text, const char *key, struct vm_hw_facts *ret)
{
	struct vm_hw_facts f = { .inspected = true };
	const char *p = text;
	size_t n;

	if (key) {
		n = strlen(key);
		if (strncmp(p, key, n) || p[n] != '\n')
			return false;
		p += n + 1;
	}
	if (strncmp(p, FACTS_MAGIC "\n", strlen(FACTS_MAGIC) + 1))
		return false;
	p += strlen(FACTS_MAGIC) + 1;
	while (*p) {
		const char *nl = strchrnul(p, '\n'), *eq = memchr(p, '=', (size_t)(nl - p));
		size_t klen, vlen;

		if (!eq)
			return false;
		klen = (size_t)(eq - p);
		vlen = (size_t)(nl - eq - 1);
		if (klen == 13 && !memcmp(p, "builtin_known", 13)) {
			f.builtin_known = vlen && eq[1] == '1';
		} else if (klen == 6 && !memcmp(p, "initrd", 6)) {
			f.initrd = vlen && eq[1] == '1';
		} else if (klen == 8 && !memcmp(p, "segments", 8)) {
			snprintf(f.segments, sizeof(f.segments), "%.*s", (int)vlen, eq + 1);
		} else {
			enum vm_driver d;
			bool known = false;

			if (vm_driver_from_module(p, klen, &d) < 0)
				return false;
			for (size_t s = 0; s < ARRAY_SIZE(src_names); s++)
				if (strlen(src_names[s]) == vlen && !memcmp(eq + 1, src_names[s], vlen)) {
					f.drivers[d] = (enum vm_driver_src)s;
					known = true;
				}
			if (!known)
				return false;
		}
		p = *nl ? nl + 1 : nl;
	}
	*ret = f;
	return true;
}

static bool read_host_file(const char *path, struct strbuf *out)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char buf[4096];
	size_t n;

	if (!f)
		return false;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && out->len < 65536)
		strbuf_add(out, buf, n);
	return !ferror(f);
}

/* $cache/vm/PREFIX-HASH.facts */
static void cache_path(const char *cache_dir, const char *prefix, uint64_t hash, size_t len, struct strbuf *out)
{
	strbuf_addf(out, "%s/vm/%s-%016" PRIx64 "-%zu.facts", cache_dir, prefix, hash, len);
}

/* The network drivers of the root's /lib/modules/VERSION, loaded after the root is mounted. */
static void rootfs_net(struct fs *root, const char *version, struct vm_hw_facts *f)
{
	static const struct {
		enum vm_driver d;
		const char *path;
	} net[] = {
		{ VM_DRIVER_VIRTIO_NET, "kernel/drivers/net/virtio_net" },
		{ VM_DRIVER_E1000, "kernel/drivers/net/ethernet/intel/e1000/e1000" },
	};
	static const char *const ext[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz" };

	for (size_t i = 0; i < ARRAY_SIZE(net); i++)
		for (size_t j = 0; j < ARRAY_SIZE(ext); j++) {
			struct strbuf p = STRBUF_INIT;
			uint64_t size;
			int64_t mtime;

			strbuf_addf(&p, "/lib/modules/%s/%s%s", version, net[i].path, ext[j]);
			if (vm_guest_stat(root, p.buf, &size, &mtime))
				vm_hw_facts_add(f, net[i].d, VM_DRIVER_ROOTFS);
			strbuf_release(&p);
		}
}

int vm_hw_inspect(const struct vm_hw_source *src, struct vm_hw_facts *ret, bool *ret_cached, char **ret_initrd,
		  size_t *ret_initrd_len, struct pb_err *err)
{
	const struct vm_boot *b = src->b;
	const char *initrd = b->initrd && *b->initrd ? b->initrd : NULL;
	const char *version = b->version ? b->version : "";
	_cleanup_(strbuf_release) struct strbuf key = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf path = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf text = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf builtin = STRBUF_INIT;
	_cleanup_free_ char *idata = NULL, *cdata = NULL, *bdata = NULL;
	struct vm_hw_facts f = { .inspected = true };
	uint64_t isize = 0, csize = 0, bsize = 0;
	int64_t imtime = 0, cmtime = 0, bmtime = 0;
	size_t ilen = 0, clen = 0, blen = 0;
	bool have_i, have_c, have_b;
	int r;

	*ret_cached = false;
	strbuf_addf(&builtin, "/lib/modules/%s/modules.builtin", version);
	have_i = initrd && vm_guest_stat(src->boot_fs, initrd, &isize, &imtime);
	have_c = b->config && vm_guest_stat(src->boot_fs, b->config, &csize, &cmtime) && csize <= CONFIG_MAX;
	have_b = *version && vm_guest_stat(src->root_fs, builtin.buf, &bsize, &bmtime) && bsize <= BUILTIN_FILE_MAX;
	if (initrd && !have_i)
		return pb_err_set(err, -ENOENT, "%s: no such file in the guest", initrd);
	if (isize > INITRD_MAX)
		return pb_err_set(err, -EFBIG, "%s: larger than %llu MiB, not read", initrd,
				  (unsigned long long)(INITRD_MAX / MiB));

	/* the fast path: nothing of the guest read but three directory entries */
	strbuf_addf(&key, "partboot-hw-v1 %s version=%s initrd=%s:%" PRIu64 ":%" PRId64 " config=%s:%" PRIu64
		    ":%" PRId64 " builtin=%d:%" PRIu64 ":%" PRId64, src->id ? src->id : "", version, initrd ? initrd : "",
		    isize, imtime, have_c ? b->config : "", csize, cmtime, have_b, bsize, bmtime);
	if (src->cache_dir && !strchr(key.buf, '\n')) {
		cache_path(src->cache_dir, "hw", vm_hash64(key.buf, key.len), key.len, &path);
		if (read_host_file(path.buf, &text) && facts_parse(text.buf, key.buf, &f)) {
			*ret_cached = true;
			goto net;
		}
		f = (struct vm_hw_facts){ .inspected = true };
	}

	if (src->cache_dir) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/vm", src->cache_dir);
		vm_mkdir_p(path.buf); /* best effort, as every cache write */
	}
	if (initrd) {
		r = fs_read_file(src->boot_fs, initrd, &idata, &ilen, err);
		if (r < 0)
			return r;
		strbuf_reset(&path);
		strbuf_reset(&text);
		if (src->cache_dir)
			cache_path(src->cache_dir, "initrd", vm_hash64(idata, ilen), ilen, &path);
		if (!src->cache_dir || !read_host_file(path.buf, &text) || !facts_parse(text.buf, NULL, &f)) {
			struct pb_err serr = PB_ERR_INIT;

			f = (struct vm_hw_facts){ .inspected = true };
			r = vm_initramfs_scan(idata, ilen, version, &f, &serr);
			if (r < 0) {
				/* not an initramfs partboot can read: the kernel may still (say so, choose blind) */
				r = pb_err_set(err, r, "%s: %s", initrd, pb_err_msg(&serr));
				pb_err_clear(&serr);
				return r;
			}
			pb_err_clear(&serr);
			if (src->cache_dir) {
				strbuf_reset(&text);
				facts_format(&f, &text);
				vm_write_atomic(path.buf, text.buf, text.len, NULL); /* best effort */
			}
		}
	}
	if (have_c && fs_read_file(src->boot_fs, b->config, &cdata, &clen, NULL) >= 0)
		vm_hw_facts_config(&f, cdata, clen);
	if (have_b && fs_read_file(src->root_fs, builtin.buf, &bdata, &blen, NULL) >= 0)
		vm_hw_facts_builtin(&f, bdata, blen);

	if (src->cache_dir && !strchr(key.buf, '\n')) {
		strbuf_reset(&path);
		strbuf_reset(&text);
		cache_path(src->cache_dir, "hw", vm_hash64(key.buf, key.len), key.len, &path);
		strbuf_addf(&text, "%s\n", key.buf);
		facts_format(&f, &text);
		vm_write_atomic(path.buf, text.buf, text.len, NULL); /* best effort: a miss next time costs a read */
	}
net:
	if (*version)
		rootfs_net(src->root_fs, version, &f);
	*ret = f;
	if (ret_initrd) {
		*ret_initrd = TAKE_PTR(idata);
		*ret_initrd_len = ilen;
	}
	return 0;
}
