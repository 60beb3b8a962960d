/* SPDX-License-Identifier: MIT */
/*
 * What a guest holds: its OS name, kernels and command line, read through
 * an open struct fs (read-only). Every path resolves inside the guest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macros.h"
#include "fs-private.h"

/* dst = prefix + s; false (dst untouched) when it does not fit. */
static bool set_str(char *dst, size_t len, const char *prefix, const char *s)
{
	size_t a = strlen(prefix), b = strlen(s);

	if (a + b + 1 > len)
		return false;
	memcpy(dst, prefix, a);
	memcpy(dst + a, s, b + 1);
	return true;
}

/* Read a small file of the guest into a strbuf; false when absent or unreadable. */
static bool read_small(struct fs *fs, const char *path, struct strbuf *sb)
{
	_cleanup_free_ char *data = NULL;
	ext2_ino_t ino;
	size_t len;

	if (fs_lookup(fs->e2, path, true, &ino) || fs_read_ino(fs->e2, ino, &data, &len))
		return false;
	if (len > 1 << 20)
		return false;
	strbuf_add(sb, data, len);
	return true;
}

/* PRETTY_NAME="..." from os-release (shell-quoted value, see os-release(5)). */
static void parse_pretty_name(const char *text, char *out, size_t outlen)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchrnul(line, '\n');

		if (!strncmp(line, "PRETTY_NAME=", 12)) {
			const char *v = line + 12;
			size_t n = 0;
			char q = 0;

			if (*v == '"' || *v == '\'')
				q = *v++;
			for (; v < end && n + 1 < outlen; v++) {
				if (q && *v == q)
					break;
				if (q == '"' && *v == '\\' && v + 1 < end)
					v++;
				out[n++] = *v;
			}
			out[n] = '\0';
			return;
		}
		line = *end ? end + 1 : NULL;
	}
}

struct kernel_scan {
	struct fs *fs;
	struct fs_kernel *k;
	size_t n, alloc;
};

static int cmp_kernel(const void *a, const void *b)
{
	/* Newest first. */
	return -strverscmp(((const struct fs_kernel *)a)->version, ((const struct fs_kernel *)b)->version);
}

static int scan_boot(struct ext2_dir_entry *dirent, int offset, int blocksize, char *buf, void *priv)
{
	struct kernel_scan *s = priv;
	int len = ext2fs_dirent_name_len(dirent);
	char name[256];
	struct fs_kernel *k;

	if (len <= 8 || len >= (int)sizeof(name))
		return 0;
	memcpy(name, dirent->name, (size_t)len);
	name[len] = '\0';
	if (strncmp(name, "vmlinuz-", 8) && strncmp(name, "vmlinux-", 8))
		return 0;
	if (s->n == s->alloc) {
		size_t na = s->alloc ? s->alloc * 2 : 8;
		struct fs_kernel *p = realloc(s->k, na * sizeof(*p));

		if (!p)
			return DIRENT_ABORT;
		s->k = p;
		s->alloc = na;
	}
	k = &s->k[s->n];
	memset(k, 0, sizeof(*k));
	if (set_str(k->version, sizeof(k->version), "", name + 8) && set_str(k->kernel, sizeof(k->kernel), "/boot/", name))
		s->n++;
	return 0;
}

/* The target of /vmlinuz (or /boot/vmlinuz) as a /boot path, when it is a link. */
static bool link_target(struct fs *fs, const char *path, char *out, size_t outlen)
{
	struct strbuf sb = STRBUF_INIT;
	struct ext2_inode inode;
	ext2_ino_t ino;
	bool ok = false;

	if (fs_lookup(fs->e2, path, false, &ino) || ext2fs_read_inode(fs->e2, ino, &inode) ||
	    !LINUX_S_ISLNK(inode.i_mode) || fs_read_link(fs->e2, ino, &inode, &sb))
		goto out;
	/* "boot/vmlinuz-X" (from /) or "vmlinuz-X" (from /boot) or absolute. */
	{
		const char *base = strrchr(sb.buf, '/');

		base = base ? base + 1 : sb.buf;
		ok = *base && set_str(out, outlen, "", base);
	}
out:
	strbuf_release(&sb);
	return ok;
}

int fs_guest_info(struct fs *fs, struct fs_guest_info *ret, struct pb_err *err)
{
	struct fs_guest_info info = { 0 };
	struct strbuf sb = STRBUF_INIT;
	struct kernel_scan s = { .fs = fs };
	ext2_ino_t ino;
	char linked[256] = "", linked_initrd[256] = "";

	info.complete = fs_lookup(fs->e2, "/" FS_MARKER_NAME, false, &ino) != 0;

	if (read_small(fs, "/etc/os-release", &sb) || read_small(fs, "/usr/lib/os-release", &sb))
		parse_pretty_name(sb.buf, info.pretty_name, sizeof(info.pretty_name));
	strbuf_reset(&sb);
	if (read_small(fs, "/etc/kernel/cmdline", &sb)) {
		strbuf_rtrim(&sb);
		for (char *p = sb.buf; *p; p++)
			if (*p == '\n')
				*p = ' ';
		snprintf(info.cmdline, sizeof(info.cmdline), "%s", sb.buf);
	}
	strbuf_release(&sb);

	if (!fs_lookup(fs->e2, "/boot", true, &ino))
		ext2fs_dir_iterate(fs->e2, ino, 0, NULL, scan_boot, &s);
	if (s.n > 1)
		qsort(s.k, s.n, sizeof(*s.k), cmp_kernel);

	if (!link_target(fs, "/vmlinuz", linked, sizeof(linked)))
		link_target(fs, "/boot/vmlinuz", linked, sizeof(linked));
	if (!link_target(fs, "/initrd.img", linked_initrd, sizeof(linked_initrd)))
		link_target(fs, "/boot/initrd.img", linked_initrd, sizeof(linked_initrd));

	for (size_t i = 0; i < s.n; i++) {
		struct fs_kernel *k = &s.k[i];
		char initrd[sizeof(k->initrd)];

		if (set_str(initrd, sizeof(initrd), "/boot/initrd.img-", k->version) &&
		    !fs_lookup(fs->e2, initrd, true, &ino))
			set_str(k->initrd, sizeof(k->initrd), "", initrd);
		/* The kernel the /vmlinuz link names goes first, with the /initrd.img it names. */
		if (*linked && !strcmp(k->kernel + 6, linked)) {
			struct fs_kernel tmp = *k;

			if (*linked_initrd && set_str(initrd, sizeof(initrd), "/boot/", linked_initrd) &&
			    !fs_lookup(fs->e2, initrd, true, &ino))
				set_str(tmp.initrd, sizeof(tmp.initrd), "", initrd);
			memmove(&s.k[1], &s.k[0], i * sizeof(*k));
			s.k[0] = tmp;
		}
	}
	for (size_t i = 0; i < s.n && info.n_kernels < ARRAY_SIZE(info.kernels); i++)
		info.kernels[info.n_kernels++] = s.k[i];
	free(s.k);
	*ret = info;
	return 0;
}
