/* SPDX-License-Identifier: MIT */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "debug.h"
#include "macros.h"

extern char **environ;

bool pb_have_program(const char *prog)
{
	const char *path = getenv("PATH");
	struct strbuf sb = STRBUF_INIT;
	bool found = false;

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
	while (*path && !found) {
		const char *colon = strchrnul(path, ':');

		strbuf_reset(&sb);
		strbuf_add(&sb, path, (size_t)(colon - path));
		strbuf_addf(&sb, "/%s", prog);
		found = access(sb.buf, X_OK) == 0;
		path = *colon ? colon + 1 : colon;
	}
	strbuf_release(&sb);
	return found;
}

/* Does "NAME=VALUE" entry e set one of the names extra sets? (extra wins) */
static bool overridden(const char *e, const char *const *extra)
{
	size_t len = strcspn(e, "=");

	for (size_t i = 0; extra && extra[i]; i++)
		if (!strncmp(extra[i], e, len) && extra[i][len] == '=')
			return true;
	return false;
}

static char **build_env(const char *const *extra)
{
	size_t n = 0, m = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	while (extra && extra[m])
		m++;
	env = xcalloc(n + m + 1, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (!overridden(environ[i], extra))
			env[k++] = environ[i];
	for (size_t i = 0; i < m; i++)
		env[k++] = (char *)extra[i];
	return env;
}

/* Keep the tail of a child's stderr: the last few lines say why it failed. */
static const char *stderr_tail(struct strbuf *sb)
{
	const char *p;
	int lines = 0;

	strbuf_rtrim(sb);
	p = sb->buf + sb->len;
	while (p > sb->buf) {
		if (p[-1] == '\n' && ++lines == 4)
			break;
		p--;
	}
	return p;
}

/* Translate a child's exit status into 0 or -EIO with its stderr's tail (the one place that does). */
static int translate_status(const char *prog, int status, unsigned accept, struct strbuf *errbuf, struct pb_err *err)
{
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || (WEXITSTATUS(status) < 32 && (accept >> WEXITSTATUS(status)) & 1)))
		return 0;
	if (WIFEXITED(status))
		return pb_err_set(err, -EIO, "%s failed (exit %d)%s%s", prog, WEXITSTATUS(status),
				  errbuf->len ? ": " : "", stderr_tail(errbuf));
	return pb_err_set(err, -EIO, "%s killed by signal %d%s%s", prog, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
			  errbuf->len ? ": " : "", stderr_tail(errbuf));
}

static int wait_pid(const char *prog, pid_t pid, int *ret_status, struct pb_err *err)
{
	while (waitpid(pid, ret_status, 0) < 0) {
		if (errno != EINTR)
			return pb_err_set(err, -errno, "%s: wait failed: %s", prog, strerror(errno));
	}
	return 0;
}

/* pb_run() is the streaming mode run to its end: one way to spawn, wait and translate. */
int pb_run(const char *const argv[], const struct pb_run_opts *opts, struct pb_err *err)
{
	struct pb_child *c;
	char buf[8192];
	ssize_t n;
	int fd, r;

	r = pb_run_start(argv, opts, &c, &fd, err);
	if (r < 0)
		return r;
	/* Standard output to its end (kept when asked); a read error ends the wait below too. */
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (opts && opts->out)
			strbuf_add(opts->out, buf, (size_t)n);
	}
	close(fd);
	return pb_run_finish(c, err);
}

/* --- children that cannot truncate (pb_run_opts.deny_truncate) ------------------- */

#if defined(__x86_64__)
#define PB_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef PB_AUDIT_ARCH
/*
 * In the child, between fork and exec: truncate(2) and ftruncate(2) fail with
 * EPERM from now on, for this process and what it executes. A system call
 * of another ABI (x32, i386 on x86-64) is refused outright, so none slips
 * past by number. NO_NEW_PRIVS is what lets an unprivileged process set a
 * filter; it also stops set-uid programs from gaining rights, which none of
 * the tools run this way needs.
 */
static int deny_truncate(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PB_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		/* x32's numbers carry bit 30 (__X32_SYSCALL_BIT); no native number does */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ftruncate, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_truncate, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { .len = (unsigned short)ARRAY_SIZE(f), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}
#endif

/*
 * fork + exec with the filter above; the same descriptors posix_spawn would
 * set up. A child that cannot set the filter exits 126 before exec (nothing
 * runs unprotected), 127 when exec fails.
 */
static int spawn_no_truncate(pid_t *ret_pid, const char *const argv[], char **env, const char *stdin_path, int outfd,
			     int errfd)
{
#ifdef PB_AUDIT_ARCH
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0) {
		int in = open(stdin_path, O_RDONLY | O_CLOEXEC);

		if (in < 0 || dup2(in, 0) < 0 || dup2(outfd, 1) < 0 || (errfd >= 0 && dup2(errfd, 2) < 0))
			_exit(127);
		if (deny_truncate() < 0) {
			static const char msg[] = "partboot: cannot forbid truncate(2) to this program (seccomp)\n";
			if (write(2, msg, sizeof(msg) - 1) < 0) {
				/* nothing more to say */
			}
			_exit(126);
		}
		execvpe(argv[0], (char *const *)argv, env);
		_exit(127);
	}
	*ret_pid = pid;
	return 0;
#else
	return EOPNOTSUPP;
#endif
}

/* --- streaming mode ------------------------------------------------------------ */

struct pb_child {
	pid_t pid;
	unsigned accept_exit;
	int errfd; /* memfd holding the child's stderr, -1 when passed through */
	char *prog;
};

int pb_run_start(const char *const argv[], const struct pb_run_opts *opts, struct pb_child **ret, int *ret_fd,
		 struct pb_err *err)
{
	static const struct pb_run_opts none;
	posix_spawn_file_actions_t fa;
	struct pb_child *c = NULL;
	int outp[2] = { -1, -1 };
	char **env = NULL;
	int r;

	if (!opts)
		opts = &none;
	if (!pb_have_program(argv[0]))
		return pb_err_set(err, -ENOENT, "%s: program not found (is its package installed? try 'make deps')",
				  argv[0]);
	c = xcalloc(1, sizeof(*c));
	c->errfd = -1;
	c->accept_exit = opts->accept_exit;
	c->prog = xstrdup(argv[0]);
	if (pipe2(outp, O_CLOEXEC) < 0) {
		r = pb_err_set(err, -errno, "%s: cannot create pipe: %s", argv[0], strerror(errno));
		goto fail;
	}
	/* A file, not a pipe: nobody reads stderr while the caller reads stdout. */
	if (!opts->pass_stderr && (c->errfd = memfd_create("pb-stderr", MFD_CLOEXEC)) < 0) {
		r = pb_err_set(err, -errno, "%s: cannot create a file for its messages: %s", argv[0], strerror(errno));
		goto fail;
	}
	env = build_env(opts->envp_extra);
	if (pb_debug_mask() & PB_DEBUG_RUN) {
		struct strbuf line = STRBUF_INIT;

		for (size_t i = 0; opts->envp_extra && opts->envp_extra[i]; i++)
			strbuf_addf(&line, "%s ", opts->envp_extra[i]);
		for (size_t i = 0; argv[i]; i++)
			strbuf_addf(&line, "%s%s", i ? " " : "", argv[i]);
		pb_debug_print(PB_DEBUG_RUN, "%s", line.buf);
		strbuf_release(&line);
	}
	if (opts->deny_truncate) {
		r = spawn_no_truncate(&c->pid, argv, env, opts->stdin_path ? opts->stdin_path : "/dev/null", outp[1],
				      c->errfd);
	} else {
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, opts->stdin_path ? opts->stdin_path : "/dev/null", O_RDONLY,
						 0);
		posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
		if (c->errfd >= 0)
			posix_spawn_file_actions_adddup2(&fa, c->errfd, 2);
		r = posix_spawnp(&c->pid, argv[0], &fa, NULL, (char *const *)argv, env);
		posix_spawn_file_actions_destroy(&fa);
	}
	free(env);
	if (r) {
		r = pb_err_set(err, -r, "%s: cannot start: %s", argv[0], strerror(r));
		goto fail;
	}
	close(outp[1]);
	*ret_fd = outp[0];
	*ret = c;
	return 0;
fail:
	if (outp[0] >= 0)
		close(outp[0]);
	if (outp[1] >= 0)
		close(outp[1]);
	if (c) {
		if (c->errfd >= 0)
			close(c->errfd);
		free(c->prog);
		free(c);
	}
	return r;
}

static void child_free(struct pb_child *c)
{
	if (c->errfd >= 0)
		close(c->errfd);
	free(c->prog);
	free(c);
}

int pb_run_finish(struct pb_child *c, struct pb_err *err)
{
	struct strbuf errbuf = STRBUF_INIT;
	char buf[8192];
	ssize_t n;
	off_t off = 0;
	int status, r;

	if (!c)
		return 0;
	r = wait_pid(c->prog, c->pid, &status, err);
	if (r >= 0) {
		if (c->errfd >= 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			while ((n = pread(c->errfd, buf, sizeof(buf), off)) > 0) {
				strbuf_add(&errbuf, buf, (size_t)n);
				off += n;
			}
		r = translate_status(c->prog, status, c->accept_exit, &errbuf, err);
	}
	strbuf_release(&errbuf);
	child_free(c);
	return r;
}

void pb_run_abort(struct pb_child *c)
{
	if (!c)
		return;
	kill(c->pid, SIGTERM);
	while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
		;
	child_free(c);
}
