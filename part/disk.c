/* SPDX-License-Identifier: MIT */
/*
 * part — which object touches the disk, and when:
 *
 *  - part_disk_open() (this file) opens and locks the disk, refuses it when it
 *    is in use, reads the GPT headers itself to detect corruption (gpt.c), and
 *    hands the same file descriptor to libfdisk, which reads the table into
 *    memory (table.c, which also reads partboot's record sector).
 *  - Every change (table.c: new table; edit.c: add, remove, rename, resize,
 *    type; layout.c: apply) edits libfdisk's in-memory label and partboot's
 *    record in memory.
 *  - part_disk_write() (write.c) is the only function that writes: the label
 *    through fdisk_write_disklabel(), then partboot's record sector.
 *  - probe.c reads filesystem superblocks through libblkid on the same fd.
 *
 * Locking: an flock on image files (exclusive, shared for RDONLY), O_EXCL
 * on block devices, both held until part_disk_free() (or part_disk_unlock()).
 * Partition locks are OFD byte-range locks, which do not conflict with flock.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "part-private.h"
#include "../common/debug.h"

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

/* Seconds to wait for another partboot: PARTBOOT_LOCK_TIMEOUT or 3. */
static double lock_timeout(unsigned flags)
{
	const char *e = getenv("PARTBOOT_LOCK_TIMEOUT");
	char *end;
	double v;

	if (flags & PART_OPEN_NOWAIT)
		return 0;
	if (e && *e) {
		v = strtod(e, &end);
		if (!*end && v >= 0 && v < 3600)
			return v;
	}
	return 3.0;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* Retry fn(fd) while it fails with EWOULDBLOCK/EBUSY, up to timeout seconds. */
static int take_flock(int fd, bool shared, double timeout)
{
	double deadline = now_sec() + timeout;

	for (;;) {
		if (flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (now_sec() >= deadline)
			return -EBUSY;
		nap();
	}
}

static int open_blockdev(const char *path, bool rdonly, double timeout)
{
	double deadline = now_sec() + timeout;
	int fd;

	for (;;) {
		fd = open(path, (rdonly ? O_RDONLY : O_RDWR | O_EXCL) | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != EBUSY || now_sec() >= deadline)
			return -errno;
		nap();
	}
}

/* "maj:min" of every mounted filesystem is field 3 of /proc/self/mountinfo. */
static bool dev_is_mounted(dev_t dev, char *ret_where, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	unsigned ma, mi;
	char where[2048];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*u %*u %u:%u %*s %2047s", &ma, &mi, where) != 3)
			continue;
		if (makedev(ma, mi) == dev) {
			if (ret_where)
				snprintf(ret_where, len, "%s", where);
			return true;
		}
	}
	return false;
}

/* True when /sys/dev/block/MAJ:MIN/holders lists anything (dm, md, ...). */
static bool dev_has_holders(dev_t dev)
{
	char p[128];
	DIR *dir;
	struct dirent *e;
	bool any = false;

	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/holders", major(dev), minor(dev));
	dir = opendir(p);
	if (!dir)
		return false;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.') {
			any = true;
			break;
		}
	closedir(dir);
	return any;
}

static int read_sys_u64(const char *path, uint64_t *ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	unsigned long long v;

	if (!f || fscanf(f, "%llu", &v) != 1)
		return -ENOENT;
	*ret = v;
	return 0;
}

/*
 * Is the byte range [start, start+size) of the image (size 0 = all of it)
 * backing a loop device? Compares /sys/block/loopN/loop/backing_file by
 * device and inode (the path may have moved) and the loop's offset range.
 */
static bool image_loop_user(const struct part_disk *d, uint64_t start, uint64_t size, char *ret_loop,
			    size_t len)
{
	DIR *dir = opendir("/sys/block");
	struct dirent *e;
	bool found = false;

	if (!dir)
		return false;
	while (!found && (e = readdir(dir))) {
		char p[512], backing[4096];
		uint64_t off = 0, limit = 0;
		struct stat st;
		FILE *f;
		size_t n;

		if (strncmp(e->d_name, "loop", 4))
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", e->d_name);
		f = fopen(p, "re");
		if (!f)
			continue;
		n = fread(backing, 1, sizeof(backing) - 1, f);
		fclose(f);
		backing[n] = 0;
		while (n && backing[n - 1] == '\n')
			backing[--n] = 0;
		if (stat(backing, &st) < 0 || st.st_dev != d->dev || st.st_ino != d->ino)
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/offset", e->d_name);
		read_sys_u64(p, &off);
		snprintf(p, sizeof(p), "/sys/block/%s/loop/sizelimit", e->d_name);
		read_sys_u64(p, &limit);
		if (size) {
			uint64_t lend = limit ? off + limit : UINT64_MAX;

			if (lend <= start || off >= start + size)
				continue;
		}
		snprintf(ret_loop, len, "/dev/%s", e->d_name);
		found = true;
	}
	closedir(dir);
	return found;
}

/*
 * Partition nodes of a block device: /sys/dev/block/MAJ:MIN/<child>/partition.
 * Calls back with each partition's number and dev_t; stops on non-zero.
 */
static int for_each_partition_node(dev_t disk, int (*fn)(unsigned partno, dev_t dev, const char *name, void *u),
				   void *u)
{
	char p[512];
	DIR *dir;
	struct dirent *e;
	int r = 0;

	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(disk), minor(disk));
	dir = opendir(p);
	if (!dir)
		return 0;
	while (!r && (e = readdir(dir))) {
		char q[1024];
		uint64_t partno;
		unsigned ma, mi;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(q, sizeof(q), "%s/%s/partition", p, e->d_name);
		if (read_sys_u64(q, &partno) < 0)
			continue;
		snprintf(q, sizeof(q), "%s/%s/dev", p, e->d_name);
		f = fopen(q, "re");
		if (!f)
			continue;
		if (fscanf(f, "%u:%u", &ma, &mi) == 2)
			r = fn((unsigned)partno, makedev(ma, mi), e->d_name, u);
		fclose(f);
	}
	closedir(dir);
	return r;
}

struct busy_ctx {
	unsigned only; /* 0 = any partition */
	char what[2200];
};

static int partition_busy_cb(unsigned partno, dev_t dev, const char *name, void *u)
{
	struct busy_ctx *c = u;
	char where[2048];

	if (c->only && partno != c->only)
		return 0;
	if (dev_is_mounted(dev, where, sizeof(where))) {
		snprintf(c->what, sizeof(c->what), "/dev/%s is mounted on %s", name, where);
		return 1;
	}
	if (dev_has_holders(dev)) {
		snprintf(c->what, sizeof(c->what), "/dev/%s is held by another device (see its holders/)", name);
		return 1;
	}
	return 0;
}

/* The whole-disk "in use" refusal of part_disk_open(). */
static int check_disk_unused(struct part_disk *d, struct pb_err *err)
{
	char what[2048];

	if (d->blockdev) {
		struct busy_ctx c = { 0 };

		if (dev_is_mounted(d->rdev, what, sizeof(what)))
			return pb_err_set(err, -EBUSY, "%s: in use: mounted on %s", d->display, what);
		if (dev_has_holders(d->rdev))
			return pb_err_set(err, -EBUSY, "%s: in use: held by another device", d->display);
		if (for_each_partition_node(d->rdev, partition_busy_cb, &c))
			return pb_err_set(err, -EBUSY, "%s: in use: %s", d->display, c.what);
		return 0;
	}
	if (image_loop_user(d, 0, 0, what, sizeof(what)))
		return pb_err_set(err, -EBUSY, "%s: in use: it backs loop device %s (detach it with losetup -d)",
				  d->display, what);
	return 0;
}

int part_disk_check_unused(const struct part_disk *d, const struct part_info *p, struct pb_err *err)
{
	char what[2048];

	if (!d || !p)
		return -EINVAL;
	if (d->blockdev) {
		struct busy_ctx c = { .only = p->partno };

		if (for_each_partition_node(d->rdev, partition_busy_cb, &c))
			return pb_err_set(err, -EBUSY, "%s: partition '%s': in use: %s", d->display,
					  p->name[0] ? p->name : "?", c.what);
		return 0;
	}
	if (image_loop_user(d, p->start, p->size, what, sizeof(what)))
		return pb_err_set(err, -EBUSY, "%s: partition %u '%s': in use by loop device %s", d->display,
				  p->partno, p->name, what);
	return 0;
}

static int ask_cb(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data)
{
	/* Libraries never print: libfdisk's warnings and questions are ignored
	 * (every question partboot could cause was answered before asking). */
	return 0;
}

static int set_open_error(struct part_disk *d, int r, struct pb_err *err)
{
	if (r == -EACCES || r == -EROFS || r == -EPERM)
		return pb_err_set(err, r, "%s: read-only (%s)", d->display, strerror(-r));
	return pb_err_set(err, r, "%s: cannot open: %s", d->display, strerror(-r));
}

int part_disk_open(const char *path, unsigned flags, uint64_t create_size, struct part_disk **ret,
		   struct pb_err *err)
{
	return part_disk_open_as(path, NULL, flags, create_size, ret, err);
}

int part_disk_open_as(const char *path, const char *display, unsigned flags, uint64_t create_size,
		      struct part_disk **ret, struct pb_err *err)
{
	struct part_disk *d;
	bool rdonly = flags & PART_OPEN_RDONLY, created = false;
	double timeout = lock_timeout(flags);
	struct stat st;
	int r;

	if (!path || !*path || !ret)
		return pb_err_set(err, -EINVAL, "no disk given");
	d = xcalloc(1, sizeof(*d));
	d->fd = -1;
	d->rdonly = rdonly;
	d->path = xstrdup(path);
	d->display = xstrdup(base_name(path));
	/* Messages name the disk as the user typed it when short, else its base name. */
	if (display || strlen(path) < 40) {
		free(d->display);
		d->display = xstrdup(display ? display : path);
	}

	if (stat(path, &st) < 0) {
		if (errno != ENOENT || !(flags & PART_OPEN_CREATE) || rdonly) {
			r = pb_err_set(err, -errno, "%s: %s", d->display, strerror(errno));
			goto out_free;
		}
		if (!create_size) {
			r = pb_err_set(err, -EINVAL, "%s: does not exist (give --size to create it)", d->display);
			goto out_free;
		}
		d->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (d->fd < 0 && errno == EEXIST)
			d->fd = open(path, O_RDWR | O_CLOEXEC);
		else if (d->fd >= 0)
			created = true;
		if (d->fd < 0) {
			r = pb_err_set(err, -errno, "%s: cannot create: %s", d->display, strerror(errno));
			goto out_free;
		}
		if (fstat(d->fd, &st) < 0) {
			r = pb_err_set(err, -errno, "%s: %s", d->display, strerror(errno));
			goto out_free;
		}
	}

	if (S_ISDIR(st.st_mode)) {
		r = pb_err_set(err, -EISDIR, "%s: is a directory, not a disk image or block device", d->display);
		goto out_free;
	}
	if (S_ISBLK(st.st_mode)) {
		d->blockdev = true;
		d->rdev = st.st_rdev;
		/* A mount does not go away by waiting: say where it is, at once. */
		if (!rdonly) {
			r = check_disk_unused(d, err);
			if (r < 0)
				goto out_free;
		}
		r = open_blockdev(path, rdonly, timeout);
		if (r == -EBUSY) {
			r = pb_err_set(err, r, "%s: in use (mounted, or opened exclusively by another program)",
				       d->display);
			goto out_free;
		}
		if (r < 0) {
			r = set_open_error(d, r, err);
			goto out_free;
		}
		d->fd = r;
	} else if (S_ISREG(st.st_mode)) {
		d->dev = st.st_dev;
		d->ino = st.st_ino;
		/* Root may write any file: a file without any write bit is read-only
		 * on purpose, and partboot honours that as rm and vi do. */
		if (!rdonly && !(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))) {
			r = pb_err_set(err, -EROFS, "%s: read-only file (mode %04o); make it writable first",
				       d->display, (unsigned)(st.st_mode & 07777));
			goto out_free;
		}
		if (d->fd < 0) {
			d->fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
			if (d->fd < 0) {
				r = set_open_error(d, -errno, err);
				goto out_free;
			}
		}
	} else {
		r = pb_err_set(err, -EINVAL, "%s: not an image file or a block device", d->display);
		goto out_free;
	}

	r = take_flock(d->fd, rdonly, timeout);
	if (r == -EBUSY) {
		r = pb_err_set(err, r, "%s: in use by another partboot (waited %.0f s)", d->display, timeout);
		goto out_free;
	}
	if (r < 0) {
		r = pb_err_set(err, r, "%s: cannot lock: %s", d->display, strerror(-r));
		goto out_free;
	}
	d->locked = true;

	if (!rdonly) {
		r = check_disk_unused(d, err);
		if (r < 0)
			goto out_free;
	}

	d->created = created;
	if (created || (flags & PART_OPEN_CREATE && S_ISREG(st.st_mode) && st.st_size == 0 && create_size)) {
		/* Sparse: ftruncate allocates nothing. */
		if (ftruncate(d->fd, (off_t)create_size) < 0) {
			r = pb_err_set(err, -errno, "%s: cannot set size: %s", d->display, strerror(errno));
			goto out_free;
		}
	}

	if (d->blockdev) {
		uint64_t sz = 0;
		int ss = 512;

		if (ioctl(d->fd, BLKGETSIZE64, &sz) < 0 || ioctl(d->fd, BLKSSZGET, &ss) < 0) {
			r = pb_err_set(err, -errno, "%s: cannot read size: %s", d->display, strerror(errno));
			goto out_free;
		}
		d->size = sz;
		d->sector_size = (unsigned)ss;
	} else {
		if (fstat(d->fd, &st) < 0) {
			r = pb_err_set(err, -errno, "%s: %s", d->display, strerror(errno));
			goto out_free;
		}
		d->size = (uint64_t)st.st_size;
		d->sector_size = 512;
	}

	/* libfdisk aborts on a device shorter than one sector (an empty mktemp file): say so here. */
	if (d->size < d->sector_size) {
		r = pb_err_set(err, -EINVAL, "%s: %" PRIu64 " bytes, smaller than one %u-byte sector: not a disk%s",
			       d->display, d->size, d->sector_size,
			       flags & PART_OPEN_CREATE ? " (give --size to make an image of it)" : "");
		goto out_free;
	}

	r = part_gpt_check(d, err);
	if (r < 0 && !(flags & PART_OPEN_FORCE))
		goto out_free;
	pb_err_clear(err);

	d->cxt = fdisk_new_context();
	if (!d->cxt) {
		r = pb_err_set(err, -ENOMEM, "out of memory");
		goto out_free;
	}
	fdisk_set_ask(d->cxt, ask_cb, NULL);
	r = fdisk_assign_device_by_fd(d->cxt, d->fd, path, rdonly);
	d->assigned = r >= 0;
	if (r < 0) {
		r = pb_err_set(err, r, "%s: cannot read: %s", d->display, strerror(-r));
		goto out_free;
	}
	r = part_table_load(d, err);
	if (r < 0)
		goto out_free;
	/* Readers may look at a broken table (list shows it); writers only with --force, to replace it. */
	if (!rdonly && !(flags & PART_OPEN_FORCE)) {
		r = part_table_check(d, err);
		if (r < 0)
			goto out_free;
	}
	/* A damaged copy taken with --force is repaired by the next write. */
	if (d->gpt_damaged && d->table == PART_TABLE_GPT)
		d->dirty = true;

	PB_DEBUG(PB_DEBUG_PART, "%s: %s, %" PRIu64 " bytes, %u-byte sectors, %s table, %zu partitions%s", d->display,
		 d->blockdev ? "block device" : "image file", d->size, d->sector_size, part_table_to_string(d->table),
		 d->n_parts, rdonly ? ", read-only" : "");
	*ret = d;
	return 0;

out_free:
	part_disk_free(d);
	return r;
}

void part_disk_free(struct part_disk *d)
{
	if (!d)
		return;
	if (d->cxt) {
		/* nosync: nothing left to flush, part_disk_write() synced. libfdisk asserts on a device it never took. */
		if (d->assigned)
			fdisk_deassign_device(d->cxt, 1);
		fdisk_unref_context(d->cxt);
	}
	if (d->fd >= 0)
		close(d->fd); /* drops the flock and every OFD lock */
	free(d->parts);
	free(d->meta);
	free(d->seed);
	free(d->record_seed);
	free(d->path);
	free(d->display);
	free(d);
}

bool part_disk_created(const struct part_disk *d)
{
	return d->created;
}

const char *part_disk_path(const struct part_disk *d)
{
	return d->path;
}

uint64_t part_disk_size(const struct part_disk *d)
{
	return d->size;
}

unsigned part_disk_sector_size(const struct part_disk *d)
{
	return d->sector_size;
}

bool part_disk_is_blockdev(const struct part_disk *d)
{
	return d->blockdev;
}

enum part_table part_disk_table(const struct part_disk *d)
{
	return d->table;
}

const char *part_disk_id(const struct part_disk *d)
{
	return d->id;
}

int part_disk_fd(const struct part_disk *d)
{
	return d->fd;
}

int part_disk_unlock(struct part_disk *d)
{
	if (!d->locked)
		return 0;
	/* Block devices keep O_EXCL: reopening would drop the OFD locks. */
	if (!d->blockdev && flock(d->fd, LOCK_UN) < 0)
		return -errno;
	d->locked = false;
	return 0;
}

const char *part_disk_seed(const struct part_disk *d)
{
	return d->seed;
}

const char *part_disk_display(const struct part_disk *d)
{
	return d->display;
}

void part_disk_set_display(struct part_disk *d, const char *name)
{
	char *s = xstrdup(name);

	free(d->display);
	d->display = s;
}
