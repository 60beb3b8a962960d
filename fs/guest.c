/* SPDX-License-Identifier: MIT */
/*
 * What a guest holds: its OS name, kernels and command line, read through
 * an open struct fs (read-only). Every path resolves inside the guest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "fs-private.h"

/*
 * Read a small file of the guest (at most 1 MiB) into a strbuf; false when
 * absent, unreadable or larger. The size is the inode's, checked before a
 * byte is read: a 3 GiB sparse os-release costs nothing.
 */
static bool read_small(struct fs *fs, const char *path, struct strbuf *sb)
{
	_cleanup_free_ char *data = NULL;
	ext2_ino_t ino;
	size_t len;

	if (fs_lookup(fs->e2, path, true, &ino) || fs_read_ino(fs->e2, ino, 1 << 20, &data, &len))
		return false;
	strbuf_add(sb, data, len);
	return true;
}

/* PRETTY_NAME="..." from os-release (shell-quoted value, see os-release(5)); NULL when absent. */
static char *parse_pretty_name(const char *text)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchrnul(line, '\n');

		if (!strncmp(line, "PRETTY_NAME=", 12)) {
			struct strbuf out = STRBUF_INIT;
			const char *v = line + 12;
			char q = 0;

			if (*v == '"' || *v == '\'')
				q = *v++;
			for (; v < end; v++) {
				if (q && *v == q)
					break;
				if (q == '"' && *v == '\\' && v + 1 < end)
					v++;
				strbuf_addch(&out, *v);
			}
			if (!out.len) {
				strbuf_release(&out);
				return NULL;
			}
			return strbuf_detach(&out, NULL);
		}
		line = *end ? end + 1 : NULL;
	}
	return NULL;
}

/* A kernel command line file on one line: newlines, CRs and tabs become spaces; NULL when blank. */
static char *one_line(struct strbuf *sb)
{
	size_t start = 0;

	for (char *p = sb->buf; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	strbuf_rtrim(sb);
	while (start < sb->len && sb->buf[start] == ' ')
		start++;
	if (start == sb->len)
		return NULL;
	return xstrdup(sb->buf + start);
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
	struct strbuf path = STRBUF_INIT;
	struct fs_kernel *k;

	if (len <= 8)
		return 0;
	if (strncmp(dirent->name, "vmlinuz-", 8) && strncmp(dirent->name, "vmlinux-", 8))
		return 0;
	if (s->n == s->alloc) {
		size_t na = s->alloc ? s->alloc * 2 : 8;
		struct fs_kernel *p = xreallocarray(s->k, na, sizeof(*p));

		s->k = p;
		s->alloc = na;
	}
	k = &s->k[s->n];
	memset(k, 0, sizeof(*k));
	k->version = xstrndup(dirent->name + 8, (size_t)len - 8);
	strbuf_addstr(&path, "/boot/");
	strbuf_add(&path, dirent->name, (size_t)len);
	k->kernel = strbuf_detach(&path, NULL);
	s->n++;
	return 0;
}

/* The base name of what /vmlinuz (or /boot/vmlinuz) links to, when it is a link; malloc'ed. */
static char *link_target(struct fs *fs, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	struct ext2_inode inode;
	ext2_ino_t ino;
	char *ret = NULL;

	if (fs_lookup(fs->e2, path, false, &ino) || ext2fs_read_inode(fs->e2, ino, &inode) ||
	    !LINUX_S_ISLNK(inode.i_mode) || fs_read_link(fs->e2, ino, &inode, &sb))
		goto out;
	/* "boot/vmlinuz-X" (from /) or "vmlinuz-X" (from /boot) or absolute. */
	{
		const char *base = strrchr(sb.buf, '/');

		base = base ? base + 1 : sb.buf;
		if (*base)
			ret = xstrdup(base);
	}
out:
	strbuf_release(&sb);
	return ret;
}

/* "/boot/" + base when that file exists in the guest (malloc'ed), else NULL. */
static char *boot_file(struct fs *fs, const char *prefix, const char *base)
{
	struct strbuf sb = STRBUF_INIT;
	ext2_ino_t ino;

	strbuf_addf(&sb, "/boot/%s%s", prefix, base);
	if (fs_lookup(fs->e2, sb.buf, true, &ino)) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

void fs_guest_info_release(struct fs_guest_info *gi)
{
	if (!gi)
		return;
	for (size_t i = 0; i < gi->n_kernels; i++) {
		free(gi->kernels[i].version);
		free(gi->kernels[i].kernel);
		free(gi->kernels[i].initrd);
	}
	free(gi->kernels);
	free(gi->pretty_name);
	free(gi->cmdline);
	memset(gi, 0, sizeof(*gi));
}

int fs_guest_info(struct fs *fs, struct fs_guest_info *ret, struct pb_err *err)
{
	struct fs_guest_info info = { 0 };
	struct strbuf sb = STRBUF_INIT;
	struct kernel_scan s = { .fs = fs };
	_cleanup_free_ char *linked = NULL, *linked_initrd = NULL;
	ext2_ino_t ino;

	info.complete = fs_lookup(fs->e2, "/" FS_MARKER_NAME, false, &ino) != 0;

	if (read_small(fs, "/etc/os-release", &sb) || read_small(fs, "/usr/lib/os-release", &sb))
		info.pretty_name = parse_pretty_name(sb.buf);
	strbuf_reset(&sb);
	if (read_small(fs, "/etc/kernel/cmdline", &sb))
		info.cmdline = one_line(&sb);
	strbuf_release(&sb);

	if (!fs_lookup(fs->e2, "/boot", true, &ino))
		ext2fs_dir_iterate(fs->e2, ino, 0, NULL, scan_boot, &s);
	if (s.n > 1)
		qsort(s.k, s.n, sizeof(*s.k), cmp_kernel);

	linked = link_target(fs, "/vmlinuz");
	if (!linked)
		linked = link_target(fs, "/boot/vmlinuz");
	linked_initrd = link_target(fs, "/initrd.img");
	if (!linked_initrd)
		linked_initrd = link_target(fs, "/boot/initrd.img");

	for (size_t i = 0; i < s.n; i++) {
		struct fs_kernel *k = &s.k[i];

		k->initrd = boot_file(fs, "initrd.img-", k->version);
		/* The kernel the /vmlinuz link names goes first, with the /initrd.img it names. */
		if (linked && !strcmp(k->kernel + 6, linked)) {
			struct fs_kernel tmp = *k;
			char *li = linked_initrd ? boot_file(fs, "", linked_initrd) : NULL;

			if (li) {
				free(tmp.initrd);
				tmp.initrd = li;
			}
			memmove(&s.k[1], &s.k[0], i * sizeof(*k));
			s.k[0] = tmp;
		}
	}
	info.kernels = s.k;
	info.n_kernels = s.n;
	*ret = info;
	return 0;
}
