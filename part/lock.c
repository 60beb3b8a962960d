/* SPDX-License-Identifier: MIT */
/*
 * Partition locks: OFD byte-range locks on the disk's own descriptor over
 * a partition's bytes. `partboot run` and installs hold one for as long as
 * they use the partition; table changes test for them first
 * (part_disk_check_unlocked()), so nothing gives away a range a VM still
 * writes. Its own file: table.c and disk.c both use it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "part-private.h"

/*
 * Who holds a lock on [start, start+len) of the file st names: OFD locks
 * carry no pid (/proc/locks says -1), so every process's open files are
 * looked at, and the locks /proc/PID/fdinfo lists for each. Fills buf with
 * "partboot run (pid 1234)"; false when none is found (another namespace).
 */
static bool lock_holder(const struct stat *st, uint64_t start, uint64_t len, char *buf, size_t size)
{
	DIR *proc = opendir("/proc");
	struct dirent *pe;
	bool found = false;

	if (!proc)
		return false;
	while (!found && (pe = readdir(proc))) {
		char path[600];
		DIR *fds;
		struct dirent *fe;

		if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", pe->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!found && (fe = readdir(fds))) {
			char line[512];
			struct stat fst;
			FILE *f;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s", pe->d_name, fe->d_name);
			if (fe->d_name[0] == '.' || stat(path, &fst) < 0 || fst.st_dev != st->st_dev ||
			    fst.st_ino != st->st_ino)
				continue;
			snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pe->d_name, fe->d_name);
			f = fopen(path, "re");
			while (f && !found && fgets(line, sizeof(line), f)) {
				unsigned long long ls, le;
				char end[32];

				/* lock:	1: OFDLCK ADVISORY  WRITE -1 fe:00:11010228 1048576 9437183 (or EOF) */
				if (strncmp(line, "lock:", 5) ||
				    sscanf(line, "lock: %*s %*s %*s %*s %*s %*s %llu %31s", &ls, end) != 2)
					continue;
				le = strcmp(end, "EOF") ? strtoull(end, NULL, 10) : UINT64_MAX;
				found = ls < start + len && start <= le;
			}
			if (f)
				fclose(f);
		}
		closedir(fds);
		if (found) {
			char cmd[256] = "";
			size_t n = 0;
			FILE *f;

			snprintf(path, sizeof(path), "/proc/%s/cmdline", pe->d_name);
			f = fopen(path, "re");
			if (f) {
				n = fread(cmd, 1, sizeof(cmd) - 1, f);
				fclose(f);
			}
			cmd[n] = '\0';
			/* argv[0]'s base name and argv[1]: "partboot run" */
			{
				const char *a0 = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
				const char *a1 = strlen(cmd) + 1 < n ? cmd + strlen(cmd) + 1 : "";

				snprintf(buf, size, "%.100s%s%.100s (pid %.20s)", *a0 ? a0 : "a process", *a1 ? " " : "",
					 a1, pe->d_name);
			}
		}
	}
	closedir(proc);
	return found;
}

int part_disk_check_unlocked(const struct part_disk *d, const struct part_info *p, struct pb_err *err)
{
	uint64_t start = p ? p->start : 0, len = p ? p->size : d->size;
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)start,
		.l_len = (off_t)len,
	};
	char who[300], what[120];
	struct stat st;

	if (!len || fcntl(d->fd, F_OFD_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
		return 0;
	if (p)
		snprintf(what, sizeof(what), "partition %u '%s'", p->partno, p->name);
	else
		snprintf(what, sizeof(what), "a partition of it");
	if (fstat(d->fd, &st) == 0 && lock_holder(&st, (uint64_t)fl.l_start, fl.l_len ? (uint64_t)fl.l_len : len, who,
						  sizeof(who)))
		return pb_err_set(err, -EBUSY, "%s: %s is in use by %s; stop it first", d->display, what, who);
	return pb_err_set(err, -EBUSY, "%s: %s is in use by another partboot (a VM or an install); stop it first",
			  d->display, what);
}

int part_disk_lock_partition(struct part_disk *d, const struct part_info *p, struct pb_err *err)
{
	struct flock fl = {
		.l_type = d->rdonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)p->start,
		.l_len = (off_t)p->size,
	};

	if (fcntl(d->fd, F_OFD_SETLK, &fl) < 0) {
		if (errno == EAGAIN || errno == EACCES) {
			/* the holder named when it can be found (a VM: "partboot run (pid N)") */
			if (part_disk_check_unlocked(d, p, err) < 0)
				return -EBUSY;
			return pb_err_set(err, -EBUSY, "%s: partition %u '%s': in use by another partboot",
					  d->display, p->partno, p->name);
		}
		return pb_err_set(err, -errno, "%s: partition %u '%s': cannot lock: %s", d->display, p->partno,
				  p->name, strerror(errno));
	}
	return 0;
}

void part_disk_unlock_partition(struct part_disk *d, const struct part_info *p)
{
	struct flock fl = {
		.l_type = F_UNLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)p->start,
		.l_len = (off_t)p->size,
	};

	fcntl(d->fd, F_OFD_SETLK, &fl);
}
