/* SPDX-License-Identifier: MIT */
/*
 * vm_run(): start QEMU and supervise it until the VM ends.
 *
 * QEMU is the one child partboot does not run through pb_run(): it lives as
 * long as the VM, inherits one end of a socketpair as its QMP channel (fd 3,
 * no socket path to race on), and must be stopped cleanly on Ctrl-C/SIGTERM.
 * Outside an interactive console it runs in its own process group, so a
 * Ctrl-C on the terminal reaches partboot only; partboot then presses the
 * ACPI power button (system_powerdown) and quits QEMU after a grace period.
 * The verdict comes from QMP events (SHUTDOWN reason, GUEST_PANICKED) and
 * QEMU's exit status.
 *
 * In firmware mode what the guest writes outside its partition lands in the
 * sparse shadow file (disk-view.c); a guest could fill the host's temporary
 * folder that way. The shadow's allocated size is looked at every 250 ms and
 * a VM that wrote more than its copies and VM_SHADOW_SLACK is stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macros.h"
#include "common/debug.h"
#include "common/util.h"
#include "vm-private.h"

extern char **environ;

#define QMP_FD 3
#define SHADOW_CHECK_MS 250
/* How often the console is read for progress (vm_opts.status). */
#define STATUS_TICK_MS 1000

/*
 * The console file, read as QEMU writes it (progress, and the last line for
 * messages). Only a regular file (or one not there yet) is followed: it is
 * emptied first, so nothing of an earlier run is read; a FIFO or a terminal
 * named with --console is left alone.
 */
static int console_follow(const char *path)
{
	struct stat st;
	int fd;

	if (!path || (stat(path, &st) == 0 && !S_ISREG(st.st_mode)))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	return fd;
}

static void console_read(int fd, struct vm_console_screen *scr)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		vm_console_feed(scr, buf, (size_t)n);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int spawn_qemu(char **argv, int qmp_child, bool own_pgrp, bool null_stdin, const sigset_t *mask,
		      pid_t *ret_pid, struct pb_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t def;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if (null_stdin)
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, qmp_child, QMP_FD); /* dup2 clears close-on-exec */
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, mask);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
					      (own_pgrp ? POSIX_SPAWN_SETPGROUP : 0));
	posix_spawnattr_setpgroup(&at, 0);
	r = posix_spawnp(ret_pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r)
		return pb_err_set(err, -r, "%s: cannot start: %s", argv[0], strerror(r));
	return 0;
}

int vm_run(struct vm *vm, int *ret_status, struct pb_err *err)
{
	const struct vm_guest *g = vm_guest(vm);
	struct vm_run_ctx c = { .accel = vm_accel(vm), .qmp_fd = QMP_FD };
	struct vm_opts o;
	struct vm_qmp q;
	sigset_t block, old;
	char **argv = NULL;
	int sp[2] = { -1, -1 };
	int sfd = -1, cfd = -1, status = 0, r;
	struct vm_console_screen scr = { 0 };
	int64_t t_start, t_tick = -1;
	bool exited = false, interrupted = false, timed_out = false, quit_sent = false;
	int64_t t_deadline = -1, t_hard = -1, t_kill = -1, t_shadow = -1;
	uint64_t shadow_max = 0, shadow_over = 0;
	const char *shadow = vm_shadow(vm, &shadow_max);
	char *runtime = NULL;
	pid_t pid;

	vm_opts_get(vm, &o);
	r = vm_argv_build(&o, g, &c, &argv, err);
	if (r < 0)
		return r;
	if (pb_debug_mask() & PB_DEBUG_VM) {
		struct strbuf line = STRBUF_INIT;

		vm_argv_quote(argv, &line);
		pb_debug_print(PB_DEBUG_VM, "%s", line.buf);
		strbuf_release(&line);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		vm_strv_free(argv);
		return pb_err_set(err, -errno, "cannot create the QMP socket: %s", strerror(errno));
	}

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	sfd = signalfd(-1, &block, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		r = pb_err_set(err, -errno, "cannot watch signals: %s", strerror(errno));
		goto out;
	}

	cfd = console_follow(o.console_path);
	r = spawn_qemu(argv, sp[1], !(o.interactive && !o.console_path), !o.interactive || o.console_path, &old,
		       &pid, err);
	close(sp[1]);
	sp[1] = -1;
	if (r < 0)
		goto out;
	vm_qmp_init(&q, sp[0]);
	sp[0] = -1;
	/* others (partboot ssh) find this VM and its SSH port while it runs */
	if (o.ssh_port)
		runtime = vm_runtime_write(vm, o.ssh_port);
	t_start = now_ms();
	if (o.timeout)
		t_deadline = t_start + (int64_t)o.timeout * 1000;
	if (shadow)
		t_shadow = t_start;
	if (o.status)
		t_tick = t_start;

	while (!exited) {
		struct pollfd p[2] = { { sfd, POLLIN, 0 }, { q.fd, POLLIN, 0 } };
		int64_t now = now_ms(), next = -1;
		int timeout_ms;

		if (t_deadline >= 0 && now >= t_deadline && !timed_out) {
			/* out of time: no grace, the guest had its chance */
			timed_out = true;
			vm_qmp_command(&q, "quit");
			quit_sent = true;
			t_kill = now + 3000;
		}
		if (t_hard >= 0 && now >= t_hard && !quit_sent) {
			vm_qmp_command(&q, "quit");
			quit_sent = true;
			t_kill = now + 3000;
		}
		if (t_kill >= 0 && now >= t_kill) {
			kill(pid, SIGKILL);
			t_kill = -1;
		}
		if (t_shadow >= 0 && now >= t_shadow) {
			struct stat st;

			t_shadow = now + SHADOW_CHECK_MS;
			if (stat(shadow, &st) == 0 && (uint64_t)st.st_blocks * 512 > shadow_max) {
				/* the guest wrote past what it may outside its partition: stop it now */
				shadow_over = (uint64_t)st.st_blocks * 512;
				t_shadow = -1;
				if (!quit_sent) {
					vm_qmp_command(&q, "quit");
					quit_sent = true;
					t_kill = now + 3000;
				}
			}
		}
		if (t_tick >= 0 && now >= t_tick) {
			if (cfd >= 0)
				console_read(cfd, &scr);
			o.status(vm_console_line(&scr), (unsigned)((now - t_start) / 1000), o.status_userdata);
			t_tick = now + STATUS_TICK_MS;
		}
		/* wake up for the nearest pending deadline */
		{
			int64_t pending[5] = { timed_out ? -1 : t_deadline, quit_sent ? -1 : t_hard, t_kill, t_shadow,
						t_tick };

			for (size_t i = 0; i < ARRAY_SIZE(pending); i++)
				if (pending[i] >= 0 && (next < 0 || pending[i] < next))
					next = pending[i];
		}
		timeout_ms = next < 0 ? -1 : (int)(next > now ? next - now : 0);
		if (poll(p, q.fd >= 0 ? 2 : 1, timeout_ms) < 0 && errno != EINTR)
			break;
		if (q.fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (vm_qmp_read(&q) < 0) {
				close(q.fd);
				q.fd = -1;
			}
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				if (!interrupted) {
					/* first Ctrl-C/SIGTERM: the power button, then a grace period */
					interrupted = true;
					vm_qmp_command(&q, "system_powerdown");
					t_hard = now_ms() + VM_GRACE_SECONDS * 1000;
				} else if (!quit_sent) {
					vm_qmp_command(&q, "quit"); /* asked twice: stop now */
					quit_sent = true;
					t_kill = now_ms() + 3000;
				}
			}
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			exited = true;
	}
	/* the last events may still be in the socket */
	while (q.fd >= 0 && vm_qmp_read(&q) >= 0) {
	}

	vm_runtime_remove(runtime);
	if (cfd >= 0) {
		console_read(cfd, &scr);
		vm_set_console_last(vm, vm_console_line(&scr));
	}
	vm_set_interrupted(vm, interrupted);
	if (shadow_over) {
		char a[32], b[32];

		*ret_status = VM_EXIT_ERROR;
		pb_err_set(err, -ENOSPC, "%s: the guest wrote %s outside its partition, more than firmware mode keeps "
			   "(%s: the copies of the tables, ESP and BIOS boot partition, and %llu MiB): the VM was stopped",
			   vm_where(vm), pb_format_size(shadow_over, a, sizeof(a)), pb_format_size(shadow_max, b, sizeof(b)),
			   (unsigned long long)(VM_SHADOW_SLACK >> 20));
	} else if (timed_out)
		*ret_status = VM_EXIT_TIMEOUT;
	else if (q.panicked || (WIFEXITED(status) && WEXITSTATUS(status) == 1 && !q.shutdown_seen))
		*ret_status = q.panicked ? VM_EXIT_PANIC : VM_EXIT_ERROR;
	else if (q.guest_shutdown)
		*ret_status = VM_EXIT_POWEROFF;
	else if (interrupted)
		*ret_status = VM_EXIT_INTERRUPTED;
	else if (q.guest_reset)
		*ret_status = VM_EXIT_RESET;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		*ret_status = VM_EXIT_POWEROFF;
	else
		*ret_status = VM_EXIT_ERROR;
	if (*ret_status == VM_EXIT_ERROR && !shadow_over)
		pb_err_set(err, -EIO, "%s %s %d", argv[0], WIFEXITED(status) ? "exited with status" : "was killed by signal",
			   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	vm_qmp_release(&q);
	r = 0;
out:
	if (sfd >= 0)
		close(sfd);
	if (cfd >= 0)
		close(cfd);
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	vm_strv_free(argv);
	return r;
}
