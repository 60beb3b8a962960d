/* SPDX-License-Identifier: MIT */
/*
 * common/: the out-of-memory policy (common/alloc.h). An allocation partboot
 * cannot get ends the process with "partboot: out of memory" and SIGABRT;
 * each case runs in a child (fork + waitpid) with its stderr captured.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/alloc.h"

#define OOM_MESSAGE "partboot: out of memory\n"

/* Run fn in a child; return its wait status and what it wrote to stderr (up to len - 1 bytes). */
static int run_child(void (*fn)(void), char *out, size_t len)
{
	struct rlimit no_core = { 0, 0 };
	size_t got = 0;
	int fds[2], status;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		close(fds[1]);
		setrlimit(RLIMIT_CORE, &no_core); /* an abort on purpose: no core file */
		signal(SIGABRT, SIG_DFL);
		fn();
		_exit(0); /* fn returned: the allocation "succeeded" */
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], out + got, len - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (got += (size_t)n) == len - 1)
			break;
	}
	out[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_oom_abort(void (*fn)(void))
{
	char err[256];
	int status = run_child(fn, err, sizeof(err));

	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_string_equal(err, OOM_MESSAGE);
}

static void *volatile sink; /* keeps the calls from being optimised away */

static void do_xmalloc_max(void)
{
	sink = xmalloc(SIZE_MAX);
}

static void do_xreallocarray_overflow(void)
{
	sink = xreallocarray(NULL, SIZE_MAX / 2 + 1, 2);
}

static void do_xcalloc_overflow(void)
{
	sink = xcalloc(SIZE_MAX / 16, 32);
}

static void do_xrealloc_max(void)
{
	void *p = xmalloc(16);

	sink = xrealloc(p, SIZE_MAX);
}

static void test_xmalloc_impossible_aborts(void **state)
{
	assert_oom_abort(do_xmalloc_max);
}

static void test_xreallocarray_overflow_aborts(void **state)
{
	assert_oom_abort(do_xreallocarray_overflow);
}

static void test_xcalloc_overflow_aborts(void **state)
{
	assert_oom_abort(do_xcalloc_overflow);
}

static void test_xrealloc_impossible_aborts(void **state)
{
	assert_oom_abort(do_xrealloc_max);
}

static void test_x_functions_return_memory(void **state)
{
	char *s = xstrdup("deb12"), *t = xstrndup("deb12-root", 5), *f = xasprintf("%s/%u", "disk.img", 3u);
	unsigned char *z = xcalloc(4, 4);
	int *v = xreallocarray(NULL, 8, sizeof(*v));
	void *empty = xmalloc(0);

	assert_string_equal(s, "deb12");
	assert_string_equal(t, "deb12");
	assert_string_equal(f, "disk.img/3");
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(z[i], 0);
	v[7] = 7;
	v = xreallocarray(v, 1024, sizeof(*v));
	assert_int_equal(v[7], 7);
	assert_non_null(empty);
	free(s);
	free(t);
	free(f);
	free(z);
	free(v);
	free(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xmalloc_impossible_aborts),
		cmocka_unit_test(test_xreallocarray_overflow_aborts),
		cmocka_unit_test(test_xcalloc_overflow_aborts),
		cmocka_unit_test(test_xrealloc_impossible_aborts),
		cmocka_unit_test(test_x_functions_return_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
