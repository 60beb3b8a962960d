/* SPDX-License-Identifier: MIT */
/*
 * fs/ on plain image files: a filesystem at an offset inside a bigger file,
 * with a pattern before and after it that must survive every operation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "fs/fs-private.h"
#include "fs/fs.h"

#define IMG_SIZE (96 * MiB)
#define PART_OFF (3 * MiB)
#define PART_SIZE (64 * MiB)

struct fixture {
	char dir[64];
	char img[128];
	char tar[128];
	struct fs_target t;
};

static void fill_pattern(int fd, uint64_t off, uint64_t len)
{
	char buf[65536];

	memset(buf, 0xa5, sizeof(buf));
	while (len) {
		size_t n = len > sizeof(buf) ? sizeof(buf) : len;

		assert_int_equal(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
		off += n;
		len -= n;
	}
}

static bool pattern_intact(const char *img, uint64_t off, uint64_t len)
{
	char buf[65536];
	int fd = open(img, O_RDONLY);
	bool ok = true;

	assert_true(fd >= 0);
	while (len && ok) {
		size_t n = len > sizeof(buf) ? sizeof(buf) : len;

		assert_int_equal(pread(fd, buf, n, (off_t)off), (ssize_t)n);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)buf[i] != 0xa5)
				ok = false;
		off += n;
		len -= n;
	}
	close(fd);
	return ok;
}

static void check_outside(struct fixture *f)
{
	assert_true(pattern_intact(f->img, 0, PART_OFF));
	assert_true(pattern_intact(f->img, PART_OFF + PART_SIZE, IMG_SIZE - PART_OFF - PART_SIZE));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int fd;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-fs.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->img, sizeof(f->img), "%s/disk.img", f->dir);
	snprintf(f->tar, sizeof(f->tar), "%s/src.tar", f->dir);
	fd = open(f->img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IMG_SIZE), 0);
	fill_pattern(fd, 0, PART_OFF);
	fill_pattern(fd, PART_OFF + PART_SIZE, IMG_SIZE - PART_OFF - PART_SIZE);
	close(fd);
	f->t.path = f->img;
	f->t.offset = PART_OFF;
	f->t.size = PART_SIZE;
	f->t.where = "disk.img: partition 'guest'";
	f->t.name = "guest";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (!getenv("PB_TEST_KEEP"))
		assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* --- a tar built with libarchive's writer ---------------------------------------- */

static void add(struct archive *a, const char *path, mode_t type, mode_t perm, const char *data, size_t len,
		void (*tweak)(struct archive_entry *))
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, 1000);
	archive_entry_set_gid(e, 100);
	archive_entry_set_mtime(e, 1600000000, 0);
	archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)len : 0);
	if (tweak)
		tweak(e);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (type == AE_IFREG && len)
		assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

static void t_symlink(struct archive_entry *e)
{
	archive_entry_set_symlink(e, "../usr/lib/os-release");
}
static void t_vmlinuz(struct archive_entry *e)
{
	archive_entry_set_symlink(e, "boot/vmlinuz-6.1.0-9-amd64");
}
static void t_hardlink(struct archive_entry *e)
{
	archive_entry_set_hardlink(e, "usr/bin/ping");
	archive_entry_set_size(e, 0);
}
static void t_chr(struct archive_entry *e)
{
	archive_entry_set_rdevmajor(e, 1);
	archive_entry_set_rdevminor(e, 3);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
}
static void t_cap(struct archive_entry *e)
{
	/* vfs_cap_data v2: cap_net_raw (13) permitted, effective. */
	static const unsigned char cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00 };

	archive_entry_xattr_add_entry(e, "security.capability", cap, sizeof(cap));
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
}
static void t_acl(struct archive_entry *e)
{
	archive_entry_acl_add_entry(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, ARCHIVE_ENTRY_ACL_READ, ARCHIVE_ENTRY_ACL_USER,
				    4242, "");
	archive_entry_acl_add_entry(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS,
				    ARCHIVE_ENTRY_ACL_READ | ARCHIVE_ENTRY_ACL_WRITE, ARCHIVE_ENTRY_ACL_MASK, -1, "");
}
static const char os_release[] = "NAME=\"Test\"\nPRETTY_NAME=\"Test Linux 12 (\\\"quoted\\\")\"\nID=test\n";

static void write_tar(const char *path, size_t big, bool truncate_it)
{
	struct archive *a = archive_write_new();
	static char data[1 << 16];
	char longname[300];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + 1);
	archive_write_set_format_pax(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	add(a, "./", AE_IFDIR, 0755, NULL, 0, NULL);
	add(a, "./usr/", AE_IFDIR, 0755, NULL, 0, NULL);
	add(a, "./usr/lib/", AE_IFDIR, 0755, NULL, 0, NULL);
	add(a, "./usr/lib/os-release", AE_IFREG, 0644, os_release, strlen(os_release), NULL);
	add(a, "./etc/os-release", AE_IFLNK, 0777, NULL, 0, t_symlink); /* etc/ comes implicitly */
	add(a, "./usr/bin/ping", AE_IFREG, 04755, data, sizeof(data), t_cap);
	add(a, "./usr/bin/ping4", AE_IFREG, 04755, NULL, 0, t_hardlink);
	add(a, "./tmp/", AE_IFDIR, 01777, NULL, 0, NULL);
	add(a, "./dev/null", AE_IFCHR, 0666, NULL, 0, t_chr);
	add(a, "./run/fifo", AE_IFIFO, 0600, NULL, 0, NULL);
	add(a, "./srv/acl-file", AE_IFREG, 0640, "acl\n", 4, t_acl);
	add(a, "../../escape", AE_IFREG, 0644, "inside\n", 7, NULL);
	add(a, "/abs/file", AE_IFREG, 0644, "abs\n", 4, NULL);
	add(a, "./boot/vmlinuz-6.1.0-10-amd64", AE_IFREG, 0644, "k10", 3, NULL);
	add(a, "./boot/initrd.img-6.1.0-10-amd64", AE_IFREG, 0644, "i10", 3, NULL);
	add(a, "./boot/vmlinuz-6.1.0-9-amd64", AE_IFREG, 0644, "k9", 2, NULL);
	add(a, "./boot/initrd.img-6.1.0-9-amd64", AE_IFREG, 0644, "i9", 2, NULL);
	add(a, "./vmlinuz", AE_IFLNK, 0777, NULL, 0, t_vmlinuz);
	add(a, "./etc/kernel/cmdline", AE_IFREG, 0644, "quiet console=ttyS0\n", 20, NULL);
	memset(longname, 'n', 255);
	memcpy(longname, "./", 2);
	longname[255] = '\0';
	add(a, longname, AE_IFREG, 0644, "long\n", 5, NULL);
	if (big) {
		char *b = malloc(big);

		for (size_t i = 0; i < big; i++)
			b[i] = (char)(i * 13 + (i >> 12));
		add(a, "./var/big", AE_IFREG, 0644, b, big, NULL);
		free(b);
	}
	add(a, "./zz-last", AE_IFREG, 0644, "last\n", 5, NULL);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	if (truncate_it) {
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(truncate(path, st.st_size / 2), 0);
	}
}

static int warnings;
static void count_warn(const char *msg, void *u)
{
	(void)u;
	if (strstr(msg, "socket"))
		warnings++;
}

static int install(struct fixture *f, const char *seed, struct pb_err *err)
{
	struct fs_install_opts o = { .source = f->tar, .seed = seed, .warn = count_warn, .label = "guest" };

	return fs_install(&f->t, &o, err);
}

#define DBG(cmd, pat)                                                                                     \
	assert_int_equal(sh("debugfs -R '%s' '%s?offset=%llu' 2>/dev/null | grep -q -- '%s'", cmd, f->img,   \
			    (unsigned long long)PART_OFF, pat),                                              \
			 0)

/* --- tests ---------------------------------------------------------------------- */
/* --- in-place edits (fs_open_rw and the edit functions) ------------------------------ */

static void fsck_clean(struct fixture *f)
{
	assert_int_equal(sh("e2fsck -fn '%s?offset=%llu' >/dev/null 2>&1", f->img, (unsigned long long)PART_OFF), 0);
}

static void test_fs_edit_replaces_keeping_owner(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs_meta root = { 0, 0, 0644 }, shadow = { 0, 42, 0640 };
	struct fs *fs = NULL;
	struct fs_dirent st;
	char *data = NULL;
	size_t len;

	write_tar(f->tar, 0, false);
	assert_int_equal(install(f, NULL, &err), 0);
	assert_int_equal(fs_open_rw(&f->t, NULL, &fs, &err), 0);
	/* a new file with its owner and mode, in a directory that exists */
	assert_int_equal(fs_write_file(fs, "/etc/shadow", "root:*:1:0:99999:7:::\n", 22, &shadow, 0, &err), 0);
	/* replaced: the old owner and mode stay with FS_WRITE_KEEP_META */
	assert_int_equal(fs_write_file(fs, "/etc/shadow", "root:$y$x:2:0:99999:7:::\n", 25, &root,
				       FS_WRITE_KEEP_META, &err),
			 0);
	assert_int_equal(fs_stat(fs, "/etc/shadow", false, &st, &err), 0);
	assert_int_equal(st.type, 'f');
	assert_int_equal(st.mode, 0640);
	assert_int_equal(st.gid, 42);
	assert_int_equal(st.size, 25);
	/* a symlink at the end is replaced, never written through */
	assert_int_equal(fs_write_file(fs, "/etc/os-release", "ID=new\n", 7, &root, 0, &err), 0);
	assert_int_equal(fs_read_file(fs, "/usr/lib/os-release", &data, &len, &err), 0);
	assert_non_null(strstr(data, "ID=test"));
	free(data);
	assert_int_equal(fs_read_file(fs, "/etc/os-release", &data, &len, &err), 0);
	assert_string_equal(data, "ID=new\n");
	free(data);
	/* a large file, in extents */
	{
		size_t big = 3 * 1024 * 1024 + 17;
		char *b = malloc(big);

		for (size_t i = 0; i < big; i++)
			b[i] = (char)(i * 31);
		assert_int_equal(fs_write_file(fs, "/var-big", b, big, &root, 0, &err), 0);
		assert_int_equal(fs_read_file(fs, "/var-big", &data, &len, &err), 0);
		assert_int_equal(len, big);
		assert_memory_equal(data, b, big);
		free(data);
		free(b);
	}
	/* refusals: a directory there, a missing directory */
	assert_int_equal(fs_write_file(fs, "/etc", "x", 1, &root, 0, &err), -EISDIR);
	assert_int_equal(fs_write_file(fs, "/no/such/file", "x", 1, &root, 0, &err), -ENOENT);
	assert_non_null(strstr(pb_err_msg(&err), "disk.img: partition 'guest'"));
	assert_int_equal(fs_flush(fs, &err), 0);
	fs_free(fs);
	fsck_clean(f);
	check_outside(f);
	pb_err_clear(&err);
}

static void test_fs_edit_dirs_links_and_tree(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs_meta root = { 0, 0, 0755 }, user = { 1000, 1000, 0700 };
	struct fs *fs = NULL;
	struct fs_dirent st;
	char *data = NULL;
	size_t len;
	char path[64];

	write_tar(f->tar, 0, false);
	assert_int_equal(install(f, "seed", &err), 0);
	assert_int_equal(fs_open_rw(&f->t, "seed", &fs, &err), 0);
	assert_int_equal(fs_mkdir(fs, "/etc/skel", &root, 0, &err), 0);
	assert_int_equal(fs_mkdir(fs, "/etc/skel", &root, 0, &err), -EEXIST);
	assert_int_equal(fs_mkdir(fs, "/etc/skel", &root, FS_MKDIR_EXIST_OK, &err), 0);
	assert_int_equal(fs_mkdir(fs, "/etc/skel/.config", &root, 0, &err), 0);
	assert_int_equal(fs_write_file(fs, "/etc/skel/.profile", "p\n", 2, &(struct fs_meta){ 0, 0, 0644 }, 0, &err),
			 0);
	assert_int_equal(fs_write_file(fs, "/etc/skel/.bashrc.dpkg-old", "o\n", 2, &(struct fs_meta){ 0, 0, 0644 },
				       0, &err),
			 0);
	assert_int_equal(fs_symlink(fs, "/etc/skel/.config/link", "../.profile", &root, &err), 0);
	/* many names: the directory grows */
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/etc/skel/.config/file-with-a-long-name-%03d", i);
		assert_int_equal(fs_write_file(fs, path, "x", 1, &(struct fs_meta){ 0, 0, 0600 }, 0, &err), 0);
	}
	/* a symlink replaced in place */
	assert_int_equal(fs_symlink(fs, "/etc/skel/.config/link", "/etc/skel/.profile", &root, &err), 0);

	assert_int_equal(fs_mkdir(fs, "/home", &root, FS_MKDIR_EXIST_OK, &err), 0);
	assert_int_equal(fs_mkdir(fs, "/home/alice", &user, 0, &err), 0);
	/* what is already in the home stays */
	assert_int_equal(fs_write_file(fs, "/home/alice/.profile", "mine\n", 5, &user, 0, &err), 0);
	assert_int_equal(fs_copy_tree(fs, "/etc/skel", "/home/alice", 1000, 1000, &err), 0);
	assert_int_equal(fs_read_file(fs, "/home/alice/.profile", &data, &len, &err), 0);
	assert_string_equal(data, "mine\n");
	free(data);
	assert_int_equal(fs_stat(fs, "/home/alice/.config", false, &st, &err), 0);
	assert_int_equal(st.type, 'd');
	assert_int_equal(st.uid, 1000);
	assert_int_equal(st.gid, 1000);
	assert_int_equal(fs_stat(fs, "/home/alice/.config/link", false, &st, &err), 0);
	assert_int_equal(st.type, 'l');
	assert_int_equal(st.uid, 1000);
	assert_int_equal(fs_stat(fs, "/home/alice/.config/file-with-a-long-name-299", false, &st, &err), 0);
	assert_int_equal(st.mode, 0600);
	assert_int_equal(st.uid, 1000);
	assert_int_equal(fs_stat(fs, "/home/alice/.bashrc.dpkg-old", false, &st, &err), -ENOENT);
	assert_int_equal(fs_stat(fs, "/home/alice", false, &st, &err), 0);
	assert_int_equal(st.mode, 0700);
	assert_int_equal(st.mtime, 946684800); /* seeded: the fixed time */
	assert_int_equal(fs_flush(fs, &err), 0);
	fs_free(fs);
	fsck_clean(f);
	check_outside(f);
	DBG("stat /home/alice/.config/link", "Fast link dest: \"/etc/skel/.profile\"");
	pb_err_clear(&err);
}

static void test_fs_edit_refuses_dirty_journal_and_readonly(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs *fs = NULL;

	write_tar(f->tar, 0, false);
	assert_int_equal(install(f, NULL, &err), 0);
	/* read-only: no edits */
	assert_int_equal(fs_open(&f->t, &fs, &err), 0);
	assert_int_equal(fs_write_file(fs, "/x", "x", 1, &(struct fs_meta){ 0, 0, 0644 }, 0, &err), -EROFS);
	fs_free(fs);
	fs = NULL;
	/* a journal left to replay: refused */
	assert_int_equal(sh("debugfs -w -R 'feature needs_recovery' '%s?offset=%llu' >/dev/null 2>&1", f->img,
			    (unsigned long long)PART_OFF),
			 0);
	assert_int_equal(fs_open_rw(&f->t, NULL, &fs, &err), -EUCLEAN);
	assert_null(fs);
	assert_non_null(strstr(pb_err_msg(&err), "not shut down cleanly"));
	pb_err_clear(&err);
}


static void test_fs_mkfs_ext4_stays_in_range(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs_mkfs_opts o = { .kind = FS_KIND_EXT4, .label = "root1" };
	enum fs_kind k;

	assert_int_equal(fs_mkfs(&f->t, &o, &err), 0);
	check_outside(f);
	assert_int_equal(fs_probe(&f->t, &k, &err), 0);
	assert_int_equal(k, FS_KIND_EXT4);
	assert_int_equal(sh("e2fsck -fn '%s?offset=%llu' >/dev/null 2>&1", f->img, (unsigned long long)PART_OFF), 0);
	assert_int_equal(sh("blkid -p -O %llu -S %llu '%s' | grep -q 'LABEL=\"root1\".*TYPE=\"ext4\"'",
			    (unsigned long long)PART_OFF, (unsigned long long)PART_SIZE, f->img),
			 0);
	pb_err_clear(&err);
}

static void test_fs_mkfs_vfat_and_swap(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs_mkfs_opts o = { .kind = FS_KIND_VFAT, .label = "ESP", .seed = "s" };
	enum fs_kind k;

	assert_int_equal(fs_mkfs(&f->t, &o, &err), 0);
	check_outside(f);
	assert_int_equal(fs_probe(&f->t, &k, &err), 0);
	assert_int_equal(k, FS_KIND_VFAT);
	assert_int_equal(sh("mdir -i '%s@@%llu' ::/ >/dev/null 2>&1", f->img, (unsigned long long)PART_OFF), 0);
	o.kind = FS_KIND_SWAP;
	o.label = "sw";
	assert_int_equal(fs_mkfs(&f->t, &o, &err), 0);
	check_outside(f);
	assert_int_equal(fs_probe(&f->t, &k, &err), 0);
	assert_int_equal(k, FS_KIND_SWAP);
	pb_err_clear(&err);
}

static void test_fs_range_io_refuses_outside(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs_mkfs_opts o = { .kind = FS_KIND_EXT4 };
	char block[4096] = { 0 };
	ext2_filsys e2;

	assert_int_equal(fs_mkfs(&f->t, &o, &err), 0);
	assert_int_equal(fs_ext2_open(&f->t, true, &e2, &err), 0);
	/* The block just past the partition, one far away, and one straddling the end. */
	assert_int_equal(io_channel_write_blk64(e2->io, PART_SIZE / 4096, 1, block), ERANGE);
	assert_int_equal(io_channel_write_blk64(e2->io, 1ULL << 40, 1, block), ERANGE);
	assert_int_equal(io_channel_write_blk64(e2->io, PART_SIZE / 4096 - 1, 2, block), ERANGE);
	assert_int_equal(io_channel_read_blk64(e2->io, PART_SIZE / 4096, 1, block), ERANGE);
	assert_int_equal(io_channel_write_blk64(e2->io, PART_SIZE / 4096 - 1, 1, block), 0);
	ext2fs_close_free(&e2);
	assert_int_equal(fs_io_pwrite(&f->t, PART_SIZE - 1, "xx", 2, &err), -ERANGE);
	assert_int_equal(fs_io_zero(&f->t, PART_SIZE, 1, &err), -ERANGE);
	check_outside(f);
	pb_err_clear(&err);
}

static void test_fs_mkfs_seed_is_deterministic(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs_mkfs_opts o = { .kind = FS_KIND_EXT4, .label = "r", .seed = "seed1" };

	assert_int_equal(fs_mkfs(&f->t, &o, &err), 0);
	assert_int_equal(sh("cp --sparse=always '%s' '%s.1'", f->img, f->img), 0);
	sleep(1);
	assert_int_equal(fs_mkfs(&f->t, &o, &err), 0);
	assert_int_equal(sh("cmp -s '%s' '%s.1'", f->img, f->img), 0);
	/* And the install on top of it too. */
	write_tar(f->tar, 0, false);
	{
		struct fs_install_opts io = { .source = f->tar, .seed = "seed1", .wipe = true, .label = "guest" };

		assert_int_equal(fs_install(&f->t, &io, &err), 0);
		assert_int_equal(sh("cp --sparse=always '%s' '%s.1'", f->img, f->img), 0);
		sleep(1);
		assert_int_equal(fs_install(&f->t, &io, &err), 0);
	}
	assert_int_equal(sh("cmp '%s' '%s.1'", f->img, f->img), 0);
	pb_err_clear(&err);
}

struct listing {
	char names[64][300];
	char types[64];
	int n;
};

static int collect(const struct fs_dirent *e, void *u)
{
	struct listing *l = u;

	if (l->n < 64) {
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", e->name);
		l->types[l->n++] = e->type;
	}
	return 0;
}

static void test_fs_install_tar_holds_everything(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs_guest_info gi;
	struct listing l = { 0 };
	struct fs *fs;
	char *data;
	size_t len;

	write_tar(f->tar, 3 * MiB + 123, false);
	warnings = 0;
	assert_int_equal(install(f, NULL, &err), 0);
	assert_int_equal(warnings, 0);
	check_outside(f);
	assert_int_equal(sh("e2fsck -fn '%s?offset=%llu' >/dev/null 2>&1", f->img, (unsigned long long)PART_OFF), 0);

	assert_int_equal(fs_open(&f->t, &fs, &err), 0);
	assert_int_equal(fs_read_file(fs, "/etc/os-release", &data, &len, &err), 0);
	assert_int_equal(len, strlen(os_release));
	assert_string_equal(data, os_release);
	free(data);
	assert_int_equal(fs_read_file(fs, "escape", &data, &len, &err), 0);
	assert_string_equal(data, "inside\n");
	free(data);
	assert_int_equal(fs_read_file(fs, "abs/file", &data, &len, &err), 0);
	free(data);
	assert_int_equal(fs_read_file(fs, "var/big", &data, &len, &err), 0);
	assert_int_equal(len, 3 * MiB + 123);
	for (size_t i = 0; i < len; i++)
		if (data[i] != (char)(i * 13 + (i >> 12)))
			fail_msg("var/big differs at %zu", i);
	free(data);
	assert_int_equal(fs_read_file(fs, "nope", &data, &len, &err), -ENOENT);
	assert_int_equal(fs_read_file(fs, "/usr", &data, &len, &err), -EISDIR);

	assert_int_equal(fs_list_dir(fs, "/", collect, &l, &err), 0);
	for (int i = 0; i < l.n; i++)
		assert_false(!strcmp(l.names[i], FS_MARKER_NAME));

	assert_int_equal(fs_guest_info(fs, &gi, &err), 0);
	assert_true(gi.complete);
	assert_string_equal(gi.pretty_name, "Test Linux 12 (\"quoted\")");
	assert_string_equal(gi.cmdline, "quiet console=ttyS0");
	assert_int_equal(gi.n_kernels, 2);
	/* /vmlinuz names -9, which wins over the newer -10. */
	assert_string_equal(gi.kernels[0].version, "6.1.0-9-amd64");
	assert_string_equal(gi.kernels[0].initrd, "/boot/initrd.img-6.1.0-9-amd64");
	assert_string_equal(gi.kernels[1].kernel, "/boot/vmlinuz-6.1.0-10-amd64");
	fs_free(fs);

	/* What debugfs sees: owners, modes, links, devices, xattrs. */
	DBG("stat /usr/bin/ping", "Mode:  04755");
	DBG("stat /usr/bin/ping", "Links: 2");
	DBG("ea_list /usr/bin/ping", "security.capability");
	DBG("stat /srv/acl-file", "User:  1000   Group:   100");
	DBG("ea_list /srv/acl-file", "system.posix_acl_access");
	DBG("stat /tmp", "Mode:  01777");
	DBG("stat /dev/null", "Device major/minor number: 01:03");
	DBG("stat /run/fifo", "Type: FIFO");
	DBG("stat /usr/lib/os-release", "mtime: 0x5f5e1000");
	pb_err_clear(&err);
}

/* GNU tar's sparse format, a file larger than 4 GiB, added to an existing guest. */
static void test_fs_install_sparse_large_file(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs *fs;
	char *data;
	size_t len;

	write_tar(f->tar, 0, false);
	assert_int_equal(install(f, NULL, &err), 0);
	assert_int_equal(sh("cd '%s' && truncate -s 5G big && printf tail >>big && printf head | dd of=big conv=notrunc "
			    "status=none && tar --format=pax -S -cf sparse.tar big && rm big",
			    f->dir),
			 0);
	snprintf(f->tar, sizeof(f->tar), "%s/sparse.tar", f->dir);
	assert_int_equal(install(f, NULL, &err), 0);
	DBG("stat /big", "Size: 5368709124");
	DBG("stat /big", "Blockcount: 16$");
	assert_int_equal(sh("debugfs -R 'dump_extents /big' '%s?offset=%llu' 2>/dev/null | grep -q 1310720", f->img,
			    (unsigned long long)PART_OFF),
			 0);
	assert_int_equal(fs_open(&f->t, &fs, &err), 0);
	assert_int_equal(fs_read_file(fs, "usr/lib/os-release", &data, &len, &err), 0); /* still there */
	free(data);
	fs_free(fs);
	assert_int_equal(sh("e2fsck -fn '%s?offset=%llu' >/dev/null 2>&1", f->img, (unsigned long long)PART_OFF), 0);
	pb_err_clear(&err);
}

static void test_fs_install_truncated_is_incomplete(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs_guest_info gi;
	struct fs *fs;

	write_tar(f->tar, 2 * MiB, true);
	assert_int_equal(install(f, NULL, &err), -EIO);
	assert_non_null(strstr(pb_err_msg(&err), "var/big"));
	check_outside(f);
	assert_int_equal(fs_open(&f->t, &fs, &err), 0);
	assert_int_equal(fs_guest_info(fs, &gi, &err), 0);
	assert_false(gi.complete);
	fs_free(fs);
	assert_int_equal(sh("e2fsck -fn '%s?offset=%llu' >/dev/null 2>&1", f->img, (unsigned long long)PART_OFF), 0);

	/* A re-run replaces the incomplete guest. */
	write_tar(f->tar, 0, false);
	assert_int_equal(install(f, NULL, &err), 0);
	assert_int_equal(fs_open(&f->t, &fs, &err), 0);
	assert_int_equal(fs_guest_info(fs, &gi, &err), 0);
	assert_true(gi.complete);
	fs_free(fs);
	check_outside(f);
	pb_err_clear(&err);
}

static void test_fs_install_out_of_space_says_sizes(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs_guest_info gi;
	struct fs *fs;

	f->t.size = 8 * MiB;
	write_tar(f->tar, 12 * MiB, false);
	assert_int_equal(install(f, NULL, &err), -ENOSPC);
	assert_non_null(strstr(pb_err_msg(&err), "needed"));
	assert_non_null(strstr(pb_err_msg(&err), "free"));
	assert_true(pattern_intact(f->img, 0, PART_OFF));
	assert_int_equal(fs_open(&f->t, &fs, &err), 0);
	assert_int_equal(fs_guest_info(fs, &gi, &err), 0);
	assert_false(gi.complete);
	fs_free(fs);
	pb_err_clear(&err);
}

static void test_fs_install_missing_source(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;

	assert_int_equal(install(f, NULL, &err), -ENOENT);
	assert_non_null(strstr(pb_err_msg(&err), "src.tar"));
	check_outside(f);
	pb_err_clear(&err);
}

static void test_fs_install_from_directory(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs *fs;
	char *data;
	size_t len;

	assert_int_equal(sh("mkdir -p '%s/tree/a/b' && echo hi >'%s/tree/a/b/f' && ln '%s/tree/a/b/f' '%s/tree/hl' && "
			    "ln -s /a/b/f '%s/tree/sl' && "
			    "python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"%s/tree/sock\")'",
			    f->dir, f->dir, f->dir, f->dir, f->dir, f->dir),
			 0);
	snprintf(f->tar, sizeof(f->tar), "%s/tree/", f->dir);
	warnings = 0;
	assert_int_equal(install(f, NULL, &err), 0);
	assert_int_equal(warnings, 1); /* the socket, skipped */
	assert_int_equal(fs_open(&f->t, &fs, &err), 0);
	assert_int_equal(fs_read_file(fs, "sl", &data, &len, &err), 0);
	assert_string_equal(data, "hi\n");
	free(data);
	fs_free(fs);
	assert_int_equal(sh("debugfs -R 'stat /hl' '%s?offset=%llu' 2>/dev/null | grep -q 'Links: 2'", f->img,
			    (unsigned long long)PART_OFF),
			 0);
	assert_int_equal(sh("e2fsck -fn '%s?offset=%llu' >/dev/null 2>&1", f->img, (unsigned long long)PART_OFF), 0);
	pb_err_clear(&err);
}

/* --- streams, the after-install steps, the host's mirror ---------------------- */

static int source_end_fails(void *userdata, struct pb_err *err)
{
	(*(int *)userdata)++;
	return pb_err_set(err, -EIO, "mmdebstrap failed (exit 1): E: test");
}

static int count_marked(void *userdata, struct pb_err *err)
{
	(*(int *)userdata)++;
	return 0;
}

static void test_fs_install_fd_source_end_decides(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	struct fs_guest_info gi;
	struct fs *fs;
	int calls = 0, marked = 0, fd;
	struct fs_install_opts o = { .source = "test-stream", .source_is_fd = true, .source_end = source_end_fails,
				     .source_userdata = &calls, .marked = count_marked, .marked_userdata = &marked,
				     .setup = true, .hostname = "h1" };

	write_tar(f->tar, 0, false);
	fd = open(f->tar, O_RDONLY);
	assert_true(fd >= 0);
	o.source_fd = fd;
	/* The producer failed after a well-formed stream: the guest must stay incomplete. */
	assert_int_equal(fs_install(&f->t, &o, &err), -EIO);
	close(fd);
	assert_int_equal(calls, 1);
	assert_int_equal(marked, 0); /* no guest was there before */
	assert_non_null(strstr(pb_err_msg(&err), "mmdebstrap failed"));
	assert_int_equal(fs_open(&f->t, &fs, &err), 0);
	assert_int_equal(fs_guest_info(fs, &gi, &err), 0);
	assert_false(gi.complete);
	fs_free(fs);
	check_outside(f);

	/* The same stream with a happy producer: complete, set up. */
	o.source_end = NULL;
	fd = open(f->tar, O_RDONLY);
	o.source_fd = fd;
	assert_int_equal(fs_install(&f->t, &o, &err), 0);
	close(fd);
	assert_int_equal(marked, 0); /* the guest there was incomplete: not in any menu */
	DBG("cat /etc/hostname", "^h1$");
	DBG("cat /etc/fstab", "^UUID=");
	DBG("cat /etc/hosts", "127.0.1.1");
	assert_int_equal(fs_open(&f->t, &fs, &err), 0);
	assert_int_equal(fs_guest_info(fs, &gi, &err), 0);
	assert_true(gi.complete);
	assert_string_equal(gi.cmdline, "quiet console=ttyS0"); /* the guest's own, kept */
	fs_free(fs);

	/* Over a complete guest: marked incomplete first, and the caller told once. */
	fd = open(f->tar, O_RDONLY);
	o.source_fd = fd;
	o.cmdline = "ro console=ttyS0";
	assert_int_equal(fs_install(&f->t, &o, &err), 0);
	close(fd);
	assert_int_equal(marked, 1);
	assert_int_equal(fs_open(&f->t, &fs, &err), 0);
	assert_int_equal(fs_guest_info(fs, &gi, &err), 0);
	assert_true(gi.complete);
	assert_string_equal(gi.cmdline, "ro console=ttyS0");
	fs_free(fs);
	assert_int_equal(sh("e2fsck -fn '%s?offset=%llu' >/dev/null 2>&1", f->img, (unsigned long long)PART_OFF), 0);
	check_outside(f);
	pb_err_clear(&err);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_fs_apt_mirror_reads_host_sources(void **state)
{
	struct fixture *f = *state;
	struct pb_err err = PB_ERR_INIT;
	char dir[128], d2[160];
	char *m = NULL;

	snprintf(dir, sizeof(dir), "%s/apt", f->dir);
	snprintf(d2, sizeof(d2), "%s/sources.list.d", dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(d2, 0755), 0);

	/* Nothing at all: NULL, not an error. */
	assert_int_equal(fs_apt_mirror(dir, &m, &err), 0);
	assert_null(m);

	/* deb822: deb-src only, disabled, security, then the one. *.disabled files are not read. */
	write_text(d2, "a.sources",
		   "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
		   "Types: deb\nURIs: http://off.example/debian\nEnabled: no\n\n"
		   "Types: deb\n# comment\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\n\n"
		   "Types: deb deb-src\nURIs: http://one.example/debian/\nSuites: bookworm bookworm-updates\n");
	write_text(d2, "0.list.disabled", "deb http://never.example/debian bookworm main\n");
	assert_int_equal(fs_apt_mirror(dir, &m, &err), 0);
	assert_non_null(m);
	assert_string_equal(m, "http://one.example/debian/");
	free(m);

	/* One-line sources.list comes first; options in brackets are skipped. */
	write_text(dir, "sources.list",
		   "# deb http://comment.example/debian bookworm main\n"
		   "deb-src http://src.example/debian bookworm main\n"
		   "deb [arch=amd64 signed-by=/k.gpg] http://list.example/debian bookworm main\n");
	assert_int_equal(fs_apt_mirror(dir, &m, &err), 0);
	assert_non_null(m);
	assert_string_equal(m, "http://list.example/debian");
	free(m);
	pb_err_clear(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fs_mkfs_ext4_stays_in_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_mkfs_vfat_and_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_range_io_refuses_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_mkfs_seed_is_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_install_tar_holds_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_install_sparse_large_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_install_truncated_is_incomplete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_install_out_of_space_says_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_install_missing_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_install_from_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_install_fd_source_end_decides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_apt_mirror_reads_host_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_edit_replaces_keeping_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_edit_dirs_links_and_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fs_edit_refuses_dirty_journal_and_readonly, setup, teardown),
	};

	return cmocka_run_group_tests_name("fs", tests, NULL, NULL);
}
