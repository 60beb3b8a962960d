/* SPDX-License-Identifier: MIT */
/*
 * A VM in the background (partboot ssh): vm_run() in a child process of its
 * own, so the caller can go on (wait for sshd, run ssh) while the VM runs.
 *
 * The child is put in its own process group: a Ctrl-C typed while ssh runs
 * on the terminal reaches ssh (and partboot, which ignores it meanwhile),
 * never the supervisor, which keeps QEMU and its partition lock until it is
 * told to stop. vm_bg_stop() sends it SIGTERM, which vm_run() answers as
 * for partboot run: the ACPI power button, then a hard stop after
 * VM_GRACE_SECONDS. The child gets the same SIGTERM when partboot dies
 * (PR_SET_PDEATHSIG), so a killed partboot ssh leaves no VM behind. A failure message of the child comes back through a
 * pipe (libraries do not print).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/macros.h"
#include "vm-private.h"

struct vm_bg {
	pid_t pid;
	int msg_fd;          /* read end: the child's error message */
	bool done;
	int status;
	struct strbuf msg;
};

int vm_run_background(struct vm *vm, struct vm_bg **ret, struct pb_err *err)
{
	struct vm_bg *b;
	int p[2];
	pid_t pid, parent;

	if (pipe2(p, O_CLOEXEC) < 0)
		return pb_err_set(err, -errno, "cannot create a pipe: %s", strerror(errno));
	parent = getpid();
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return pb_err_set(err, -errno, "cannot start the VM's supervisor: %s", strerror(errno));
	}
	if (pid == 0) {
		struct pb_err e = PB_ERR_INIT;
		int status = VM_EXIT_ERROR;
		const char *m;

		close(p[0]);
		setpgid(0, 0);
		/* partboot gone (killed, Ctrl-C while waiting for sshd): stop the VM as SIGTERM does */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(VM_EXIT_INTERRUPTED);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (vm_run(vm, &status, &e) < 0)
			status = VM_EXIT_ERROR;
		if (status == VM_EXIT_ERROR) {
			m = pb_err_msg(&e);
			if (write(p[1], m, strlen(m)) < 0) {
				/* nobody to tell */
			}
		}
		_exit(status);
	}
	close(p[1]);
	b = xcalloc(1, sizeof(*b));
	b->pid = pid;
	b->msg_fd = p[0];
	strbuf_init(&b->msg);
	*ret = b;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vm_bg_wait(struct vm_bg *b, int timeout_ms, int *ret_status, struct pb_err *err)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	char buf[4096];
	ssize_t n;

	while (!b->done) {
		int st;
		pid_t w = waitpid(b->pid, &st, WNOHANG);

		if (w == b->pid) {
			b->done = true;
			b->status = WIFEXITED(st) ? WEXITSTATUS(st) : VM_EXIT_ERROR;
			while ((n = read(b->msg_fd, buf, sizeof(buf))) > 0)
				strbuf_add(&b->msg, buf, (size_t)n);
			break;
		}
		if (w < 0 && errno != EINTR) {
			b->done = true;
			b->status = VM_EXIT_ERROR;
			break;
		}
		if (deadline >= 0 && now_ms() >= deadline)
			return -ETIMEDOUT;
		/* the pipe closes when the child exits: wake up then, or every 100 ms */
		{
			struct pollfd pf = { b->msg_fd, POLLIN, 0 };

			if (poll(&pf, 1, 100) > 0 && (pf.revents & POLLIN)) {
				n = read(b->msg_fd, buf, sizeof(buf));
				if (n > 0)
					strbuf_add(&b->msg, buf, (size_t)n);
			}
		}
	}
	*ret_status = b->status;
	if (b->status == VM_EXIT_ERROR)
		pb_err_set(err, -EIO, "%s", b->msg.len ? b->msg.buf : "the VM failed");
	return 0;
}

void vm_bg_stop(struct vm_bg *b)
{
	if (b && !b->done)
		kill(b->pid, SIGTERM);
}

void vm_bg_free(struct vm_bg *b)
{
	int status;

	if (!b)
		return;
	if (!b->done) {
		vm_bg_stop(b);
		/* vm_run() stops QEMU VM_GRACE_SECONDS after the power button, and kills it 3 s later */
		if (vm_bg_wait(b, (VM_GRACE_SECONDS + 10) * 1000, &status, NULL) == -ETIMEDOUT) {
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &status, 0);
		}
	}
	close(b->msg_fd);
	strbuf_release(&b->msg);
	free(b);
}
