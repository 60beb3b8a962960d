/* SPDX-License-Identifier: MIT */
/*
 * What a guest holds: its OS name, kernels, command line, whether partboot
 * made it, and where its /boot is, read through an open struct fs
 * (read-only). Every path resolves inside the guest.
 *
 * Real installs name things in more than one way, and each is read as the
 * distribution's own tools write it: Debian's vmlinuz-V + initrd.img-V with
 * /vmlinuz and /initrd.img links, Fedora's and Arch's initramfs-V.img,
 * SUSE's initrd-V; the command line from /etc/kernel/cmdline (what partboot
 * and kernel-install use) or from /etc/default/grub (what grub-mkconfig
 * uses); a separate /boot from /etc/fstab.
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

/* ---- kernels ------------------------------------------------------------------------------- */

struct kernel_scan {
	struct fs_kernel *k;
	size_t n, alloc;
};

static int cmp_kernel(const void *a, const void *b)
{
	/* Newest first: what grub-mkconfig puts at the top, whatever /vmlinuz names. */
	return -strverscmp(((const struct fs_kernel *)a)->version, ((const struct fs_kernel *)b)->version);
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !memcmp(s + len - n, suffix, n);
}

/* A backup, a signature or a compressed copy next to a kernel, not a kernel to boot. */
static bool not_a_kernel(const char *name, size_t len)
{
	static const char *const suffixes[] = { ".old", ".bak", ".sig", ".hmac", ".gz", ".xz", ".zst", ".bz2",
						".dpkg-old", ".dpkg-new", ".dpkg-tmp", ".dpkg-bak", ".dpkg-dist",
						".rpmnew", ".rpmsave", ".signed", "~" };

	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (ends_with(name, len, suffixes[i]))
			return true;
	return false;
}

static int scan_boot(struct ext2_dir_entry *dirent, int offset, int blocksize, char *buf, void *priv)
{
	struct kernel_scan *s = priv;
	int len = ext2fs_dirent_name_len(dirent);
	struct fs_kernel *k;

	if (len <= 8)
		return 0;
	if (strncmp(dirent->name, "vmlinuz-", 8) && strncmp(dirent->name, "vmlinux-", 8))
		return 0;
	if (not_a_kernel(dirent->name, (size_t)len) || ext2fs_dirent_file_type(dirent) == EXT2_FT_DIR)
		return 0;
	if (s->n == s->alloc) {
		s->alloc = s->alloc ? s->alloc * 2 : 8;
		s->k = xreallocarray(s->k, s->alloc, sizeof(*s->k));
	}
	k = &s->k[s->n];
	memset(k, 0, sizeof(*k));
	/* the name alone for now; the directory is prefixed once the scan is done */
	k->kernel = xstrndup(dirent->name, (size_t)len);
	k->version = xstrndup(dirent->name + 8, (size_t)len - 8);
	s->n++;
	return 0;
}

/* The base name of what path links to, when it is a symlink; malloc'ed, else NULL. */
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

/* dir + "/" + prefix + base + suffix when that file exists in the guest (malloc'ed), else NULL. */
static char *dir_file(struct fs *fs, const char *dir, const char *prefix, const char *base, const char *suffix)
{
	struct strbuf sb = STRBUF_INIT;
	ext2_ino_t ino;

	strbuf_addf(&sb, "%s/%s%s%s", strcmp(dir, "/") ? dir : "", prefix, base, suffix);
	if (fs_lookup(fs->e2, sb.buf, true, &ino)) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

void fs_kernels_free(struct fs_kernel *k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(k[i].version);
		free(k[i].kernel);
		free(k[i].initrd);
		free(k[i].config);
	}
	free(k);
}

int fs_boot_kernels(struct fs *fs, const char *dir, struct fs_kernel **ret, size_t *ret_n, struct pb_err *err)
{
	/* Links that pair a kernel with its initrd, as Debian's linux-update-symlinks makes them. */
	static const char *const links[][2] = { { "vmlinuz", "initrd.img" }, { "vmlinuz.old", "initrd.img.old" } };
	/* The initrd names distributions give, in the order they are tried. */
	static const char *const initrds[][2] = { { "initrd.img-", "" }, { "initramfs-", ".img" }, { "initrd-", "" },
						  { "initrd-", ".img" } };
	struct kernel_scan s = { 0 };
	ext2_ino_t ino;

	*ret = NULL;
	*ret_n = 0;
	if (fs_lookup(fs->e2, dir, true, &ino))
		return 0;
	ext2fs_dir_iterate(fs->e2, ino, 0, NULL, scan_boot, &s);
	for (size_t i = 0; i < s.n; i++) {
		struct fs_kernel *k = &s.k[i];
		char *name = k->kernel;

		k->kernel = dir_file(fs, dir, "", name, "");
		for (size_t j = 0; j < ARRAY_SIZE(initrds) && !k->initrd; j++)
			k->initrd = dir_file(fs, dir, initrds[j][0], k->version, initrds[j][1]);
		k->config = dir_file(fs, dir, "config-", k->version, "");
		/* the kernel a link names takes the initrd its partner link names, when that exists */
		for (size_t j = 0; j < ARRAY_SIZE(links); j++) {
			const char *where[2] = { dir, !strcmp(dir, "/boot") ? "/" : NULL };

			for (size_t w = 0; w < 2 && where[w]; w++) {
				_cleanup_free_ char *kl = dir_file(fs, where[w], "", links[j][0], "");
				_cleanup_free_ char *kt = kl ? link_target(fs, kl) : NULL;
				_cleanup_free_ char *il = NULL, *it = NULL;
				char *initrd;

				if (!kt || strcmp(kt, name))
					continue;
				il = dir_file(fs, where[w], "", links[j][1], "");
				it = il ? link_target(fs, il) : NULL;
				initrd = it ? dir_file(fs, dir, "", it, "") : NULL;
				if (initrd) {
					free(k->initrd);
					k->initrd = initrd;
				}
			}
		}
		free(name);
		if (!k->kernel) { /* listed but not found by name: a broken entry */
			free(k->version);
			free(k->initrd);
			free(k->config);
			memmove(k, k + 1, (s.n - i - 1) * sizeof(*k));
			s.n--;
			i--;
		}
	}
	if (s.n > 1)
		qsort(s.k, s.n, sizeof(*s.k), cmp_kernel);
	*ret = s.k;
	*ret_n = s.n;
	return 0;
}

/* ---- /etc/fstab, the command line, the markers --------------------------------------------------- */

/* fstab's /boot line: its source and type (malloc'ed), when /boot is a filesystem of its own. */
static void fstab_boot(const char *text, char **ret_source, char **ret_type)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchrnul(line, '\n');
		_cleanup_free_ char *l = xstrndup(line, (size_t)(end - line));
		char *f[3] = { NULL }, *save = NULL;
		size_t n = 0;

		line = *end ? end + 1 : NULL;
		for (char *tok = strtok_r(l, " \t", &save); tok && n < 3; tok = strtok_r(NULL, " \t", &save))
			f[n++] = tok;
		if (n < 2 || f[0][0] == '#')
			continue;
		/* the mount point, as fstab(5) escapes it (\040 for a space); "/boot/" is "/boot" too */
		if (!strcmp(f[1], "/boot") || !strcmp(f[1], "/boot/")) {
			free(*ret_source);
			free(*ret_type);
			*ret_source = xstrdup(f[0]);
			*ret_type = n > 2 ? xstrdup(f[2]) : NULL;
		}
	}
}

/* The files grub-mkconfig reads for the command line: /etc/default/grub, then grub.d's *.cfg in name order. */
struct grub_snippets {
	char *names[64];
	size_t n;
};

static int collect_snippet(const struct fs_dirent *e, void *userdata)
{
	struct grub_snippets *g = userdata;
	size_t len = strlen(e->name);

	if (g->n < ARRAY_SIZE(g->names) && len > 4 && !strcmp(e->name + len - 4, ".cfg") && e->type != 'd')
		g->names[g->n++] = xstrdup(e->name);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *fs_grub_default_cmdline(struct fs *fs)
{
	struct grub_snippets g = { 0 };
	struct strbuf texts[ARRAY_SIZE(g.names) + 1];
	const char *v[ARRAY_SIZE(g.names) + 1];
	size_t n = 0;
	char *ret;

	strbuf_init(&texts[0]);
	if (!read_small(fs, "/etc/default/grub", &texts[0])) {
		strbuf_release(&texts[0]);
		return NULL;
	}
	v[n++] = texts[0].buf;
	fs_list_dir(fs, "/etc/default/grub.d", collect_snippet, &g, NULL);
	qsort(g.names, g.n, sizeof(*g.names), cmp_str);
	for (size_t i = 0; i < g.n; i++) {
		struct strbuf path = STRBUF_INIT;

		strbuf_init(&texts[n]);
		strbuf_addf(&path, "/etc/default/grub.d/%s", g.names[i]);
		if (read_small(fs, path.buf, &texts[n])) {
			v[n] = texts[n].buf;
			n++;
		} else {
			strbuf_release(&texts[n]);
		}
		strbuf_release(&path);
		free(g.names[i]);
	}
	ret = fs_grub_cmdline(v, n);
	for (size_t i = 0; i < n; i++)
		strbuf_release(&texts[i]);
	return ret;
}

void fs_guest_info_release(struct fs_guest_info *gi)
{
	if (!gi)
		return;
	fs_kernels_free(gi->kernels, gi->n_kernels);
	free(gi->pretty_name);
	free(gi->cmdline);
	free(gi->boot_source);
	free(gi->boot_fstype);
	memset(gi, 0, sizeof(*gi));
}

int fs_guest_info(struct fs *fs, struct fs_guest_info *ret, struct pb_err *err)
{
	struct fs_guest_info info = { 0 };
	struct strbuf sb = STRBUF_INIT;
	ext2_ino_t ino;
	int r;

	info.complete = fs_lookup(fs->e2, "/" FS_MARKER_NAME, false, &ino) != 0;

	if (read_small(fs, "/etc/os-release", &sb) || read_small(fs, "/usr/lib/os-release", &sb))
		info.pretty_name = parse_pretty_name(sb.buf);
	strbuf_reset(&sb);
	if (read_small(fs, "/etc/kernel/cmdline", &sb))
		info.cmdline = one_line(&sb);
	if (info.cmdline) {
		info.cmdline_from = "/etc/kernel/cmdline";
	} else {
		info.cmdline = fs_grub_default_cmdline(fs);
		if (info.cmdline)
			info.cmdline_from = "/etc/default/grub";
	}
	strbuf_reset(&sb);
	if (read_small(fs, "/etc/fstab", &sb)) {
		fstab_boot(sb.buf, &info.boot_source, &info.boot_fstype);
		/* installs made before the marker: their fstab is partboot's */
		info.partboot = !strncmp(sb.buf, FS_FSTAB_HEADER "\n", strlen(FS_FSTAB_HEADER) + 1);
	}
	strbuf_release(&sb);
	if (!info.partboot)
		info.partboot = fs_lookup(fs->e2, FS_PARTBOOT_MARKER, true, &ino) == 0;

	r = fs_boot_kernels(fs, "/boot", &info.kernels, &info.n_kernels, err);
	if (r < 0) {
		fs_guest_info_release(&info);
		return r;
	}
	*ret = info;
	return 0;
}
