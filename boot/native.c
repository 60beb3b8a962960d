/* SPDX-License-Identifier: MIT */
/*
 * Native boot: make this machine boot a guest of the disk it booted from,
 * now. Sets next_entry (grubenv, in place), then reboots, or loads the
 * guest's kernel with kexec_file_load(2) and jumps into it. With systemd
 * running, `systemctl reboot`/`systemctl kexec` do the jump so services stop
 * cleanly; without it, reboot(2).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../common/macros.h"
#include "../common/run.h"
#include "../fs/fs.h"
#include "boot-private.h"

#ifndef KEXEC_FILE_NO_INITRAMFS
#define KEXEC_FILE_NO_INITRAMFS 0x00000004
#endif

/* The whole disk holding the filesystem mounted at path (0 when unknown). */
static dev_t disk_of(const char *path)
{
	char link[PATH_MAX], sys[PATH_MAX + 64], buf[32];
	unsigned maj, min;
	struct stat st;
	FILE *f;

	if (stat(path, &st) < 0 || major(st.st_dev) == 0)
		return 0;
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/partition", major(st.st_dev), minor(st.st_dev));
	if (access(sys, F_OK) < 0)
		return st.st_dev; /* a whole disk (or dm/md: compared as is) */
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
	if (!realpath(sys, link))
		return 0;
	/* .../block/sda/sda2 -> .../block/sda/dev */
	*strrchr(link, '/') = 0;
	snprintf(sys, sizeof(sys), "%s/dev", link);
	f = fopen(sys, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%u:%u", &maj, &min) != 2) {
		fclose(f);
		return 0;
	}
	fclose(f);
	return makedev(maj, min);
}

static int check_boot_disk(struct part_disk *d, struct pb_err *err)
{
	static const char *const where[] = { "/boot/efi", "/efi", "/boot", "/" };
	const char *disk = part_disk_path(d);
	struct stat st;

	if (geteuid() != 0)
		return pb_err_set(err, -EPERM, "%s: booting a guest natively needs root", disk);
	if (!part_disk_is_blockdev(d))
		return pb_err_set(err, -EINVAL,
				  "%s: an image file cannot be booted natively: use 'partboot run %s NAME' for a VM",
				  disk, disk);
	if (fstat(part_disk_fd(d), &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", disk, strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(where); i++)
		if (disk_of(where[i]) == st.st_rdev)
			return 0;
	return pb_err_set(err, -EINVAL,
			  "%s: not the disk this machine booted from (none of /, /boot, /boot/efi is on it)", disk);
}

/* Where the partition partno of disk dev is mounted: 0 and out filled, or -ENOENT. */
static int partition_mount(dev_t disk, unsigned partno, char *out, size_t len)
{
	char sys[128], path[PATH_MAX + 64], line[4096], where[2048];
	unsigned maj, min, ma, mi, n;
	struct dirent *de;
	dev_t part = 0;
	DIR *dir;
	FILE *f;

	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(disk), minor(disk));
	dir = opendir(sys);
	if (!dir)
		return -ENOENT;
	while (!part && (de = readdir(dir))) {
		snprintf(path, sizeof(path), "%s/%s/partition", sys, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%u", &n) == 1 && n == partno) {
			fclose(f);
			snprintf(path, sizeof(path), "%s/%s/dev", sys, de->d_name);
			f = fopen(path, "re");
			if (f && fscanf(f, "%u:%u", &maj, &min) == 2)
				part = makedev(maj, min);
		}
		if (f)
			fclose(f);
	}
	closedir(dir);
	if (!part)
		return -ENOENT;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*u %*u %u:%u %*s %2047s", &ma, &mi, where) == 3 && makedev(ma, mi) == part) {
			fclose(f);
			snprintf(out, len, "%s", where);
			return 0;
		}
	}
	fclose(f);
	return -ENOENT;
}

static int memfd_from(const char *name, const char *data, size_t len, struct pb_err *err)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return pb_err_set(err, -errno, "memfd_create: %s", strerror(errno));
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return pb_err_set(err, -EIO, "cannot stage %s in memory", name);
	}
	return fd;
}

static int kexec_load_guest(struct part_disk *d, const struct boot_entry *e, struct pb_err *err)
{
	struct part_info p;
	struct fs *fs = NULL;
	struct strbuf where = STRBUF_INIT, cmdline = STRBUF_INIT;
	_cleanup_free_ char *kernel = NULL, *initrd = NULL;
	size_t klen = 0, ilen = 0;
	int kfd = -1, ifd = -1, r;
	struct fs_target t;

	r = part_disk_find(d, e->id, &p, err);
	if (r < 0)
		return r;
	strbuf_addf(&where, "%s: partition '%s'", part_disk_path(d), p.name);
	t = (struct fs_target){ .path = part_disk_path(d), .offset = p.start, .size = p.size, .where = where.buf,
				.name = p.name };
	/* a separate /boot: kernel and initrd are read from the partition holding that filesystem */
	if (e->boot_fs_uuid && *e->boot_fs_uuid) {
		bool found = false;

		for (size_t i = 0; i < part_disk_count(d) && !found; i++) {
			struct part_info q;
			struct part_probe pr;

			if (part_disk_get(d, i, &q) >= 0 && part_disk_probe(d, &q, &pr) >= 0 &&
			    !strcasecmp(pr.uuid, e->boot_fs_uuid)) {
				t.offset = q.start;
				t.size = q.size;
				found = true;
			}
		}
		if (!found) {
			r = pb_err_set(err, -ENOENT, "%s: its /boot filesystem %s is not on %s", where.buf, e->boot_fs_uuid,
				       part_disk_path(d));
			goto out;
		}
	}
	r = fs_open(&t, &fs, err);
	if (r < 0)
		goto out;
	if (!e->kernel || !*e->kernel) {
		r = pb_err_set(err, -ENOENT, "%s: no kernel in /boot", where.buf);
		goto out;
	}
	r = fs_read_file_max(fs, e->kernel, FS_KERNEL_MAX, &kernel, &klen, err);
	if (r >= 0 && e->initrd && *e->initrd)
		r = fs_read_file_max(fs, e->initrd, FS_INITRD_MAX, &initrd, &ilen, err);
	if (r < 0)
		goto out;
	strbuf_addf(&cmdline, "root=PARTUUID=%s %s", p.uuid, e->cmdline && *e->cmdline ? e->cmdline : "ro quiet");
	strbuf_rtrim(&cmdline);
	kfd = memfd_from("kernel", kernel, klen, err);
	if (kfd < 0) {
		r = kfd;
		goto out;
	}
	if (initrd) {
		ifd = memfd_from("initrd", initrd, ilen, err);
		if (ifd < 0) {
			r = ifd;
			goto out;
		}
	}
	if (syscall(SYS_kexec_file_load, kfd, ifd, cmdline.len + 1, cmdline.buf,
		    initrd ? 0UL : (unsigned long)KEXEC_FILE_NO_INITRAMFS) < 0)
		r = pb_err_set(err, -errno, "%s: kexec_file_load failed: %s", where.buf, strerror(errno));
out:
	if (kfd >= 0)
		close(kfd);
	if (ifd >= 0)
		close(ifd);
	fs_free(fs);
	strbuf_release(&where);
	strbuf_release(&cmdline);
	return r;
}

int boot_native(struct part_disk *d, const struct boot_entry *be, enum boot_native_action action,
		struct pb_err *err)
{
	bool systemd = access("/run/systemd/system", F_OK) == 0;
	int r;

	char mnt[2048];
	struct stat st;
	struct esp e;

	r = check_boot_disk(d, err);
	if (r < 0)
		return r;
	r = esp_open(d, &e, err);
	if (r < 0)
		return r;
	if (fstat(part_disk_fd(d), &st) < 0)
		return pb_err_set(err, -errno, "%s: %s", part_disk_path(d), strerror(errno));
	r = boot_set_next_live(d, be->id, partition_mount(st.st_rdev, e.part.partno, mnt, sizeof(mnt)) == 0 ? mnt : NULL,
			       err);
	if (r < 0)
		return r;
	if (action == BOOT_NATIVE_KEXEC) {
		r = kexec_load_guest(d, be, err);
		if (r < 0)
			return r;
	}
	if (action == BOOT_NATIVE_NONE)
		return 0;
	sync();
	if (systemd) {
		const char *argv[] = { "systemctl", action == BOOT_NATIVE_KEXEC ? "kexec" : "reboot", NULL };

		return pb_run(argv, NULL, err);
	}
	reboot(action == BOOT_NATIVE_KEXEC ? LINUX_REBOOT_CMD_KEXEC : LINUX_REBOOT_CMD_RESTART);
	return pb_err_set(err, -errno, "reboot failed: %s", strerror(errno));
}
