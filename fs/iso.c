/* SPDX-License-Identifier: MIT */
/*
 * Installing a guest from a live ISO (`partboot install DISK NAME --from iso:FILE`).
 *
 * Who touches what, and when:
 *   1. The ISO (an image file or /dev/sr0) is only read, with libarchive's ISO9660 reader, no
 *      mount. Its root image is found by name (live/filesystem.squashfs, Debian live;
 *      casper/filesystem.squashfs or casper/NAME.squashfs, Ubuntu) and copied to a temporary
 *      file, because squashfs needs random access and an ISO9660 stream does not give it.
 *      Everything that can be wrong with the ISO is found here, before the disk is touched.
 *   2. `sqfs2tar` (squashfs-tools-ng) turns that image into a tar stream; a thread copies the
 *      stream into a pipe that fs_install() reads like any tar archive. So the partition is
 *      written by exactly the same code (and the same range-checked I/O layer) as a tar
 *      install, incomplete marker included.
 *   3. Live-only boot hooks in the unpacked tree are disabled (exec bits cleared) through
 *      libext2fs, inside the partition.
 *
 * Why a child program and not libsquashfs in-process: fs_install() already turns a tar
 * stream into files, xattrs and hard links through libext2fs; sqfs2tar produces exactly that
 * stream, and needs no extra library linked into partboot. The price is one copy of the data
 * through a pipe.
 *
 * The one subtle point is a sqfs2tar that fails half-way: a tar stream that simply ends at an
 * entry boundary is a valid (if short) archive to libarchive, and fs_install() would mark the
 * guest complete. The copying thread counts the bytes and, when the child failed, makes the
 * stream end in the middle of a 512-byte record, which libarchive always reports as a
 * truncated archive: the install fails and the guest stays marked incomplete.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "common/run.h"
#include "common/tmpdir.h"
#include "fs-private.h"

/* Where a root image may be, best first, for the message (casper/NAME.squashfs matches too). */
#define ISO_LOOKED_FOR "live/filesystem.squashfs, casper/*.squashfs"

/*
 * Files that live-boot (Debian) and casper (Ubuntu) install so that an initramfs built in the
 * guest boots from the live medium. Debian documents removing them with the packages
 * (`apt-get purge live-boot live-boot-initramfs-tools live-config live-config-systemd`, as
 * the Debian installer's live-installer and Calamares do). Without a running guest, partboot
 * does the part that matters for booting from disk: initramfs-tools skips hooks and scripts
 * that are not executable, so their exec bits are cleared. The packages themselves stay
 * installed; purging them on first boot is left to the user (docs/installers.md).
 */
static const char *const live_hooks[] = {
	"/usr/share/initramfs-tools/hooks/live",
	"/usr/share/initramfs-tools/scripts/live",
	"/usr/share/initramfs-tools/scripts/init-bottom/live",
	"/usr/share/initramfs-tools/scripts/init-premount/live",
	"/usr/share/initramfs-tools/hooks/casper",
	"/usr/share/initramfs-tools/scripts/casper",
};

static const char *skip_dot_slash(const char *p)
{
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	return p;
}

/* casper/NAME.squashfs, any NAME (no deeper folders). */
static bool is_casper_image(const char *path)
{
	const char *p = skip_dot_slash(path), *base;
	size_t n;

	if (strncmp(p, "casper/", 7))
		return false;
	base = p + 7;
	n = strlen(base);
	return !strchr(base, '/') && n > 9 && !strcmp(base + n - 9, ".squashfs");
}

/* The rank of an ISO member as a root image: 0 = not one, smaller is better. */
static int root_rank(const char *path)
{
	const char *p = skip_dot_slash(path);
	size_t n = strlen(p);

	if (!strcmp(p, "live/filesystem.squashfs"))
		return 1;
	if (!strcmp(p, "casper/filesystem.squashfs"))
		return 2;
	if (!is_casper_image(p))
		return 0;
	/* Ubuntu's layered images: the ".live" layer is the live session's, never installed. */
	if (n > 14 && !strcmp(p + n - 14, ".live.squashfs"))
		return 0;
	return 3;
}

static int open_iso(const char *iso, struct archive **ret, struct pb_err *err)
{
	struct archive *a = archive_read_new();

	if (!a)
		return pb_err_set(err, -ENOMEM, "out of memory");
	archive_read_support_format_iso9660(a);
	if (archive_read_open_filename(a, iso, 64 * 1024) != ARCHIVE_OK) {
		const char *msg = archive_error_string(a);
		int r = pb_err_set(err, -EINVAL, "%s: not an ISO9660 image (%s)", iso, msg ? msg : "cannot open");

		archive_read_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

/*
 * Pass 1: the name of the best root image in the ISO (caller frees), and how many
 * casper/ images there were (Ubuntu's layered images have several).
 */
static int find_root_image(const char *iso, char **ret_name, unsigned *ret_n_casper, struct pb_err *err)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	char *best = NULL;
	int best_rank = 0, ar, r;
	unsigned n_casper = 0;

	r = open_iso(iso, &a, err);
	if (r < 0)
		return r;
	for (unsigned i = 0;; i++) {
		const char *name;
		int rank;

		ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			const char *msg = archive_error_string(a);

			/* The first header failing means the volume descriptor was not ISO9660. */
			r = pb_err_set(err, -EINVAL, i ? "%s: damaged ISO9660 image (%s)" : "%s: not an ISO9660 image (%s)",
				       iso, msg ? msg : "unreadable");
			goto out;
		}
		name = archive_entry_pathname(e);
		if (!name || archive_entry_filetype(e) != AE_IFREG)
			continue;
		rank = root_rank(name);
		/* Every casper image counts, the ".live" layer too: more than one means layers. */
		if (is_casper_image(name))
			n_casper++;
		/*
		 * Ties (several casper images) go to the shortest name: Ubuntu's layers are named
		 * after their base plus a suffix (minimal.squashfs, minimal.standard.squashfs).
		 */
		if (rank && (!best_rank || rank < best_rank ||
			     (rank == best_rank && strlen(skip_dot_slash(name)) < strlen(best)))) {
			free(best);
			best = xstrdup(skip_dot_slash(name));
			best_rank = rank;
		}
	}
	if (!best) {
		r = pb_err_set(err, -ENOENT, "%s: no live root image (looked for %s)", iso, ISO_LOOKED_FOR);
		goto out;
	}
	*ret_name = TAKE_PTR(best);
	*ret_n_casper = n_casper;
	r = 0;
out:
	free(best);
	archive_read_free(a);
	return r;
}

/* Pass 2: copy the member called name out of the ISO into fd; checks the squashfs magic. */
static int extract_member(const char *iso, const char *name, int fd, const char *tmp, struct pb_err *err)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	char magic[4];
	int ar, r;

	r = open_iso(iso, &a, err);
	if (r < 0)
		return r;
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
		const char *p = archive_entry_pathname(e);

		if (p && archive_entry_filetype(e) == AE_IFREG && !strcmp(skip_dot_slash(p), name))
			break;
	}
	if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
		const char *msg = archive_error_string(a);

		r = pb_err_set(err, -EIO, "%s: cannot read %s again (%s)", iso, name, msg ? msg : "not found");
		goto out;
	}
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;

		ar = archive_read_data_block(a, &buf, &len, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			const char *msg = archive_error_string(a);

			r = pb_err_set(err, -EIO, "%s: %s: %s", iso, name, msg ? msg : "read error");
			goto out;
		}
		if (pwrite(fd, buf, len, off) != (ssize_t)len) {
			r = pb_err_set(err, errno ? -errno : -EIO, "%s: cannot write a copy of %s: %s", tmp, name,
				       strerror(errno ? errno : EIO));
			goto out;
		}
	}
	if (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) || memcmp(magic, "hsqs", 4)) {
		r = pb_err_set(err, -EINVAL, "%s: %s is not a squashfs image", iso, name);
		goto out;
	}
	r = 0;
out:
	archive_read_free(a);
	return r;
}

/* sqfs2tar, whose tar stream fs_install() reads; waited for at the stream's end. */
struct sqfs_child {
	struct pb_child *c;
};

static int sqfs_end(void *userdata, struct pb_err *err)
{
	struct sqfs_child *sc = userdata;
	struct pb_child *c = sc->c;

	sc->c = NULL;
	return pb_run_finish(c, err);
}

/* Step 3: clear the exec bits of live-only initramfs hooks; warns for each one. */
static int disable_live_hooks(const struct fs_target *t, const struct fs_install_opts *opts, struct pb_err *err)
{
	ext2_filsys e2 = NULL;
	int r;

	r = fs_ext2_open(t, true, &e2, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(live_hooks); i++) {
		struct ext2_inode inode;
		ext2_ino_t ino;
		errcode_t rc;

		if (fs_lookup(e2, live_hooks[i], false, &ino) || ext2fs_read_inode(e2, ino, &inode))
			continue;
		if (!LINUX_S_ISREG(inode.i_mode) || !(inode.i_mode & 0111))
			continue;
		inode.i_mode &= (__u16)~0111;
		rc = ext2fs_write_inode(e2, ino, &inode);
		if (rc) {
			r = fs_err_ext2(err, rc, "%s: cannot disable %s", t->where, live_hooks[i]);
			break;
		}
		if (opts->warn) {
			struct strbuf sb = STRBUF_INIT;

			strbuf_addf(&sb, "%s: disabled the live system's initramfs hook %s (exec bits cleared)",
				    t->where, live_hooks[i]);
			opts->warn(sb.buf, opts->userdata);
			strbuf_release(&sb);
		}
	}
	{
		struct pb_err cerr = PB_ERR_INIT;
		int r2 = fs_ext2_close(e2, t, &cerr);

		if (r2 < 0 && r >= 0)
			r = pb_err_set(err, r2, "%s", pb_err_msg(&cerr));
		pb_err_clear(&cerr);
	}
	return r;
}

/* A warning through opts->warn, formatted. */
static void warnf(const struct fs_install_opts *opts, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(const struct fs_install_opts *opts, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (!opts->warn)
		return;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	opts->warn(sb.buf, opts->userdata);
	strbuf_release(&sb);
}

/* A warning when the installed tree has no kernel in /boot. */
static void check_kernel(const struct fs_target *t, const struct fs_install_opts *opts, const char *iso)
{
	struct fs_guest_info gi = { 0 };
	struct fs *fs = NULL;

	if (fs_open(t, &fs, NULL) < 0)
		return;
	if (fs_guest_info(fs, &gi, NULL) == 0 && gi.n_kernels == 0)
		warnf(opts, "%s: the root image of %s has no kernel in /boot; the guest cannot boot from the menu",
		      t->where, iso);
	fs_guest_info_release(&gi);
	fs_free(fs);
}

int fs_install_iso(const struct fs_target *t, const char *iso, const struct fs_install_opts *opts,
		   struct pb_err *err)
{
	struct fs_install_opts io = *opts;
	const char *argv[] = { "sqfs2tar", "--root-becomes", ".", NULL, NULL };
	struct sqfs_child sc = { NULL };
	_cleanup_free_ char *member = NULL;
	_cleanup_free_ char *tmpdir = NULL;
	_cleanup_free_ char *image = NULL;
	_cleanup_close_ int fd = -1;
	int tar_fd = -1;
	char label[512];
	unsigned n_casper = 0;
	int r;

	/* 1. The ISO: everything about it is checked before the disk is touched. */
	if (access(iso, R_OK) < 0)
		return pb_err_set(err, -errno, "%s: %s", iso, strerror(errno));
	r = find_root_image(iso, &member, &n_casper, err);
	if (r < 0)
		return r;
	if (!pb_have_program("sqfs2tar"))
		return pb_err_set(err, -ENOENT,
				  "sqfs2tar: program not found (package squashfs-tools-ng; try 'make deps')");

	/* The squashfs copy is about a third of the installed size. */
	r = pb_mkdtemp("partboot-iso", PB_TMP_LARGE, &tmpdir, err);
	if (r < 0)
		return r;
	image = xasprintf("%s/root.squashfs", tmpdir);
	fd = open(image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = pb_err_set(err, -errno, "%s: %s", image, strerror(errno));
		goto out_rmdir;
	}
	r = extract_member(iso, member, fd, image, err);
	if (r < 0)
		goto out_unlink;
	if (n_casper > 1 && strcmp(member, "live/filesystem.squashfs") && strcmp(member, "casper/filesystem.squashfs"))
		warnf(opts, "%s: %u casper images (a layered ISO); installing only %s", iso, n_casper, member);

	/*
	 * 2. sqfs2tar's tar stream straight into fs_install(). A stream cut short
	 * by a failing sqfs2tar is caught either as a truncated archive or, when
	 * it ends on a record boundary, by sqfs_end() at the stream's end: the
	 * guest is never marked complete from half a root image.
	 */
	argv[3] = image;
	r = pb_run_start(argv, NULL, &sc.c, &tar_fd, err);
	if (r < 0)
		goto out_unlink;
	snprintf(label, sizeof(label), "%s:%s", iso, member);
	io.source = label;
	io.source_is_fd = true;
	io.source_fd = tar_fd;
	io.source_end = sqfs_end;
	io.source_userdata = &sc;
	r = fs_install(t, &io, err);
	close(tar_fd);
	if (sc.c) {
		/* The stream did not reach its end: say why sqfs2tar stopped, if it did. */
		struct pb_err cerr = PB_ERR_INIT;

		if (r == -EIO && pb_run_finish(sc.c, &cerr) < 0)
			pb_err_set(err, r, "%s: %s: %s", t->where, label, pb_err_msg(&cerr));
		else if (r != -EIO)
			pb_run_abort(sc.c);
		pb_err_clear(&cerr);
	}
	if (r < 0)
		goto out_unlink;

	/* 3. What only a live system needs. */
	r = disable_live_hooks(t, opts, err);
	if (r < 0)
		goto out_unlink;
	check_kernel(t, opts, iso);

out_unlink:
	unlink(image);
out_rmdir:
	rmdir(tmpdir);
	return r;
}
