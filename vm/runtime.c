/* SPDX-License-Identifier: MIT */
/*
 * The runtime file of a VM that forwards an SSH port: how `partboot ssh`
 * finds (and joins) the VM already running a guest. vm_run() writes it when
 * QEMU starts and removes it when the VM ends; a file whose process is gone
 * (partboot killed) is stale and removed by the next reader.
 *
 * Where: $XDG_RUNTIME_DIR/partboot/ (the user's, 0700, gone at logout), else
 * /run/partboot/ for root, else /tmp/partboot-UID/ (made 0700, and used only
 * when it is the user's own). Name: vm-DEV-INO-START, the disk's device and
 * inode numbers and the partition's start in bytes, so every path to the
 * same disk (a symlink, a relative path) finds the same file. Content:
 * "pid=N\nssh_port=N\n".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macros.h"
#include "vm-private.h"

static int runtime_dir(struct strbuf *out)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (xdg && *xdg == '/')
		strbuf_addf(out, "%s/partboot", xdg);
	else if (geteuid() == 0)
		strbuf_addstr(out, "/run/partboot");
	else
		strbuf_addf(out, "/tmp/partboot-%u", (unsigned)geteuid());
	if (mkdir(out->buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* someone else's folder of that name is not ours to trust */
	if (lstat(out->buf, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return -EPERM;
	return 0;
}

static int runtime_path(const struct part_disk *d, const struct part_info *p, struct strbuf *out)
{
	struct stat st;
	int r;

	if (fstat(part_disk_fd(d), &st) < 0)
		return -errno;
	r = runtime_dir(out);
	if (r < 0)
		return r;
	strbuf_addf(out, "/vm-%jx-%jx-%" PRIu64, (uintmax_t)st.st_dev, (uintmax_t)st.st_ino, p->start);
	return 0;
}

char *vm_runtime_write(const struct vm *vm, unsigned ssh_port)
{
	struct strbuf path = STRBUF_INIT, tmp = STRBUF_INIT;
	FILE *f;

	if (runtime_path(vm_disk(vm), vm_part(vm), &path) < 0)
		goto fail;
	/* written aside and renamed: a reader sees all of it or nothing */
	strbuf_addf(&tmp, "%s.%d", path.buf, (int)getpid());
	f = fopen(tmp.buf, "wxe");
	if (!f)
		goto fail;
	fprintf(f, "pid=%d\nssh_port=%u\n", (int)getpid(), ssh_port);
	if (fclose(f) != 0 || rename(tmp.buf, path.buf) < 0) {
		unlink(tmp.buf);
		goto fail;
	}
	strbuf_release(&tmp);
	return strbuf_detach(&path, NULL);
fail:
	/* best effort: a VM that others cannot find still runs */
	strbuf_release(&path);
	strbuf_release(&tmp);
	return NULL;
}

void vm_runtime_remove(char *path)
{
	if (!path)
		return;
	unlink(path);
	free(path);
}

int vm_runtime_read(const struct part_disk *d, const struct part_info *p, struct vm_runtime *ret)
{
	struct strbuf path = STRBUF_INIT;
	_cleanup_fclose_ FILE *f = NULL;
	int pid = 0, r;
	unsigned port = 0;
	char line[64];

	r = runtime_path(d, p, &path);
	if (r < 0)
		goto out;
	f = fopen(path.buf, "re");
	if (!f) {
		r = -ENOENT;
		goto out;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "pid=%d", &pid) == 1 || sscanf(line, "ssh_port=%u", &port) == 1)
			continue;
	}
	if (pid <= 0 || !port || port > 65535 || (kill(pid, 0) < 0 && errno == ESRCH)) {
		unlink(path.buf); /* stale: its partboot is gone */
		r = -ENOENT;
		goto out;
	}
	ret->pid = pid;
	ret->ssh_port = port;
	r = 0;
out:
	strbuf_release(&path);
	return r;
}
