/* SPDX-License-Identifier: MIT */
/*
 * The kernel and initrd of direct mode, as files QEMU can load.
 *
 * They come out of the guest through fs/ (no mount) and are kept in a cache
 * directory under a name derived from their content (a fast 64-bit hash plus
 * the length; a hit is confirmed byte for byte, so the hash needs no
 * cryptographic strength). A second run of the same guest writes nothing.
 *
 * PVH: a bzImage starts with a decompressor that, under TCG, takes ~2.5 s of a
 * ~4.5 s boot. When the kernel has a PVH entry (CONFIG_PVH, Debian's has), the
 * unpacked ELF can be loaded by QEMU directly. The payload's place is in the
 * boot protocol header (Documentation/x86/boot.rst: setup_sects at 0x1f1,
 * "HdrS" at 0x202, payload_offset/payload_length at 0x248/0x24c, protocol
 * 2.08+); it is unpacked once with xz/zstd/gzip and cached. Anything unusual
 * (old protocol, unknown compression, no PVH note) falls back to the bzImage.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/endian.h"
#include "common/macros.h"
#include "common/run.h"
#include "vm-private.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

uint64_t vm_hash64(const char *data, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, data + i, 8);
		h ^= w;
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	for (; i < len; i++) {
		h ^= (unsigned char)data[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

char *vm_cache_dir_default(void)
{
	const char *x = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	struct strbuf sb = STRBUF_INIT;

	if (x && *x == '/')
		strbuf_addf(&sb, "%s/partboot", x);
	else if (home && *home)
		strbuf_addf(&sb, "%s/.cache/partboot", home);
	else
		return NULL;
	return strbuf_detach(&sb, NULL);
}

int vm_mkdir_p(const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* True when path holds exactly data. */
static bool file_equals(const char *path, const char *data, size_t len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *m;
	bool eq;

	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size != len)
		return false;
	if (len == 0)
		return true;
	m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return false;
	eq = !memcmp(m, data, len);
	munmap(m, len);
	return eq;
}

/* Write data to path through a temporary file and rename(): readers never see half a file. */
int vm_write_atomic(const char *path, const char *data, size_t len, struct pb_err *err)
{
	_cleanup_(strbuf_release) struct strbuf tmp = STRBUF_INIT;
	_cleanup_close_ int fd = -1;

	strbuf_addf(&tmp, "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return pb_err_set(err, -errno, "%s: cannot create: %s", tmp.buf, strerror(errno));
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			unlink(tmp.buf);
			return pb_err_set(err, -e, "%s: cannot write: %s", tmp.buf, strerror(e));
		}
		data += n;
		len -= (size_t)n;
	}
	if (rename(tmp.buf, path) < 0) {
		int e = errno;

		unlink(tmp.buf);
		return pb_err_set(err, -e, "%s: cannot rename: %s", path, strerror(e));
	}
	return 0;
}

/* Does this ELF have a Xen PVH entry note (what QEMU's PVH loader looks for)? */
static bool elf_has_pvh(const char *data, size_t len)
{
	const Elf64_Ehdr *eh = (const void *)data;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return false;
	if (eh->e_phoff > len || eh->e_phnum > (len - eh->e_phoff) / sizeof(Elf64_Phdr))
		return false;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t off, end;

		memcpy(&ph, data + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE || ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			continue;
		off = ph.p_offset;
		end = off + ph.p_filesz;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			Elf64_Nhdr nh;
			uint64_t name_off = off + sizeof(nh);

			memcpy(&nh, data + off, sizeof(nh));
			if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 && name_off + 4 <= end &&
			    !memcmp(data + name_off, "Xen", 4))
				return true;
			off = name_off + ((nh.n_namesz + 3) & ~3u) + ((nh.n_descsz + 3) & ~3u);
		}
	}
	return false;
}

/* Unpack a bzImage's payload into *ret (an ELF with a PVH note). -ENOTSUP when it cannot. */
static int unpack_pvh(const char *cache, const char *k, size_t len, struct strbuf *ret)
{
	_cleanup_(strbuf_release) struct strbuf tmp = STRBUF_INIT;
	struct pb_err err = PB_ERR_INIT;
	const char *xz[] = { "xz", "-dc", "--single-stream", NULL };
	const char *zstd[] = { "zstd", "-dcq", NULL };
	const char *gz[] = { "gzip", "-dc", NULL };
	const char *const *argv;
	uint32_t setup, off, plen, start;
	struct pb_run_opts ro = { 0 };
	const unsigned char *p;
	int r;

	if (len < 0x250 || memcmp(k + 0x202, "HdrS", 4) || (pb_le32(k + 0x206) & 0xffff) < 0x208)
		return -ENOTSUP;
	setup = (unsigned char)k[0x1f1];
	if (!setup)
		setup = 4;
	off = pb_le32(k + 0x248);
	plen = pb_le32(k + 0x24c);
	start = (setup + 1) * 512 + off;
	if (start >= len || plen > len - start || plen < 8)
		return -ENOTSUP;
	p = (const unsigned char *)k + start;
	if (!memcmp(p, "\xfd" "7zXZ\0", 6))
		argv = xz;
	else if (!memcmp(p, "\x28\xb5\x2f\xfd", 4))
		argv = zstd, plen -= 4; /* the kernel appends the unpacked size (4 bytes) */
	else if (p[0] == 0x1f && p[1] == 0x8b)
		argv = gz;
	else
		return -ENOTSUP;

	strbuf_addf(&tmp, "%s/payload.%d", cache, (int)getpid());
	r = vm_write_atomic(tmp.buf, (const char *)p, plen, &err);
	if (r >= 0) {
		ro.stdin_path = tmp.buf;
		ro.out = ret;
		r = pb_run(argv, &ro, &err);
		unlink(tmp.buf);
	}
	pb_err_clear(&err);
	if (r < 0 || !elf_has_pvh(ret->buf, ret->len))
		return -ENOTSUP;
	return 0;
}

int vm_boot_files_store(const char *cache_dir, const char *kernel, size_t kernel_len, const char *initrd,
			size_t initrd_len, bool pvh, char **ret_kernel, bool *ret_pvh, char **ret_initrd,
			struct pb_err *err)
{
	_cleanup_(strbuf_release) struct strbuf dir = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf kz = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf kx = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf nopvh = STRBUF_INIT;
	_cleanup_(strbuf_release) struct strbuf ird = STRBUF_INIT;
	bool use_pvh = false;
	int r;

	strbuf_addf(&dir, "%s/vm", cache_dir);
	r = vm_mkdir_p(dir.buf);
	if (r < 0)
		return pb_err_set(err, r, "%s: cannot create the cache directory: %s", dir.buf, strerror(-r));

	strbuf_addf(&kz, "%s/%016" PRIx64 "-%zu.vmlinuz", dir.buf, vm_hash64(kernel, kernel_len), kernel_len);
	if (!file_equals(kz.buf, kernel, kernel_len)) {
		r = vm_write_atomic(kz.buf, kernel, kernel_len, err);
		if (r < 0)
			return r;
		/* a stale unpacked kernel of a colliding name must not survive */
		strbuf_addf(&kx, "%.*s.vmlinux", (int)(kz.len - 8), kz.buf);
		unlink(kx.buf);
		strbuf_reset(&kx);
	}
	if (pvh) {
		struct stat st;

		strbuf_addf(&kx, "%.*s.vmlinux", (int)(kz.len - 8), kz.buf);
		strbuf_addf(&nopvh, "%.*s.nopvh", (int)(kz.len - 8), kz.buf);
		if (stat(kx.buf, &st) == 0) {
			use_pvh = true;
		} else if (stat(nopvh.buf, &st) < 0) {
			_cleanup_(strbuf_release) struct strbuf elf = STRBUF_INIT;

			if (unpack_pvh(dir.buf, kernel, kernel_len, &elf) >= 0 &&
			    vm_write_atomic(kx.buf, elf.buf, elf.len, NULL) >= 0)
				use_pvh = true;
			else
				vm_write_atomic(nopvh.buf, "", 0, NULL); /* remember: do not try again */
		}
	}

	if (initrd) {
		strbuf_addf(&ird, "%s/%016" PRIx64 "-%zu.initrd", dir.buf, vm_hash64(initrd, initrd_len), initrd_len);
		if (!file_equals(ird.buf, initrd, initrd_len)) {
			r = vm_write_atomic(ird.buf, initrd, initrd_len, err);
			if (r < 0)
				return r;
		}
	}

	*ret_kernel = strbuf_detach(use_pvh ? &kx : &kz, NULL);
	*ret_pvh = use_pvh;
	*ret_initrd = initrd ? strbuf_detach(&ird, NULL) : NULL;
	return 0;
}

/*
 * The fast path of a second run: an index entry, named by the hash of a key
 * that identifies the boot files without reading them (filesystem UUID, paths,
 * sizes, modification times — see prepare.c), pointing at the cached files.
 * The key is stored in full on the first line and compared, so a hash
 * collision is a miss, never a wrong kernel.
 */
static char *index_path(const char *cache_dir, const char *key)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%s/vm/%016" PRIx64 ".idx", cache_dir, vm_hash64(key, strlen(key)));
	return strbuf_detach(&sb, NULL);
}

int vm_boot_files_lookup(const char *cache_dir, const char *key, char **ret_kernel, bool *ret_pvh,
			 char **ret_initrd)
{
	_cleanup_free_ char *idx = index_path(cache_dir, key);
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *k = NULL;
	_cleanup_free_ char *i = NULL;
	char line[4096];
	size_t n;
	int pvh = 0;

	if (!idx || !(f = fopen(idx, "re")))
		return -ENOENT;
	/* key, kernel, pvh flag, initrd ("-" = none) */
	if (!fgets(line, sizeof(line), f) || strcspn(line, "\n") != strlen(key) || strncmp(line, key, strlen(key)))
		return -ENOENT;
	if (!fgets(line, sizeof(line), f))
		return -ENOENT;
	n = strcspn(line, "\n");
	line[n] = '\0';
	k = xstrdup(line);
	if (!fgets(line, sizeof(line), f) || sscanf(line, "%d", &pvh) != 1)
		return -ENOENT;
	if (!fgets(line, sizeof(line), f))
		return -ENOENT;
	line[strcspn(line, "\n")] = '\0';
	i = strcmp(line, "-") ? xstrdup(line) : NULL;
	if (access(k, R_OK) < 0 || (i && access(i, R_OK) < 0))
		return -ENOENT;
	*ret_kernel = TAKE_PTR(k);
	*ret_pvh = pvh;
	*ret_initrd = TAKE_PTR(i);
	return 0;
}

void vm_boot_files_remember(const char *cache_dir, const char *key, const char *kernel, bool pvh,
			    const char *initrd)
{
	_cleanup_free_ char *idx = index_path(cache_dir, key);
	struct strbuf sb = STRBUF_INIT;

	if (!idx || strchr(key, '\n'))
		return;
	strbuf_addf(&sb, "%s\n%s\n%d\n%s\n", key, kernel, pvh, initrd ? initrd : "-");
	vm_write_atomic(idx, sb.buf, sb.len, NULL); /* best effort: a miss next time costs a read */
	strbuf_release(&sb);
}
