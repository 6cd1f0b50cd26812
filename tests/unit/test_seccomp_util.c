/*
 * test_seccomp_util.c - src/lib/seccomp_util.c: the allowlist filter,
 * loaded at once (seccomp_util_allow_only) or built once and applied in
 * other processes (seccomp_util_compile / _apply, as qrexec-daemon's call
 * processes do).  Each filter runs in a child: a call it allows works, a
 * call it does not kills the child with SIGSYS.  Also the stream's
 * program made when bulkhead was built (seccomp_export.c, for
 * qrexec-client): it is the one libseccomp builds now, and confines.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/filter.h>

#include "lib/seccomp_util.h"

/* write (one byte, to tell the parent it got this far) and leaving (the
 * sanitizers take down their alternate signal stack on the way out) */
static const char *const allowed[] = {"write", "exit", "exit_group",
    "sigaltstack", "munmap", "no_such_call_anywhere"};

enum how {
	LOAD,
	APPLY
};

/*
 * In a child: confine (how), write a byte to the pipe, then getppid if
 * forbidden, then _exit(7).  Returns the child's wait status; *wrote:
 * whether the byte came.
 */
static int
child(enum how how, const struct seccomp_util_prog *p, bool forbidden,
    bool *wrote)
{
	int fd[2], status;
	char c;
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		(void)close(fd[0]);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(90);
		if ((how == LOAD ? seccomp_util_allow_only(allowed,
		                       sizeof(allowed) / sizeof(allowed[0])) :
		                   seccomp_util_apply(p)) < 0)
			_exit(91);
		if (write(fd[1], "x", 1) != 1)
			_exit(92);
		if (forbidden)
			(void)syscall(SYS_getppid);
		_exit(7);
	}
	(void)close(fd[1]);
	*wrote = read(fd[0], &c, 1) == 1;
	(void)close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void
check_filter(enum how how, const struct seccomp_util_prog *p)
{
	bool wrote;
	int st;

	/* only allowed calls: it runs to its end */
	st = child(how, p, false, &wrote);
	assert_true(wrote);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 7);
	/* a call it does not allow: killed, after the allowed write */
	st = child(how, p, true, &wrote);
	assert_true(wrote);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static void
test_allow_only(void **state)
{
	(void)state;
	check_filter(LOAD, NULL);
}

static void
test_compile_and_apply(void **state)
{
	struct seccomp_util_prog p;

	(void)state;
	assert_int_equal(seccomp_util_compile(
	                     allowed, sizeof(allowed) / sizeof(allowed[0]), &p),
	    0);
	assert_non_null(p.insns);
	assert_true(p.len > 0 && p.len <= BPF_MAXINSNS);
	/* the same program serves any number of processes */
	check_filter(APPLY, &p);
	check_filter(APPLY, &p);
	seccomp_util_prog_free(&p);
	assert_null(p.insns);
	assert_int_equal(p.len, 0);
}

static void
test_apply_nothing(void **state)
{
	struct seccomp_util_prog p = {0};
	bool wrote;
	int st;

	(void)state;
	/* an empty program is refused, not loaded as "allow all" */
	assert_int_equal(seccomp_util_apply(&p), -EINVAL);
	st = child(APPLY, &p, false, &wrote);
	assert_false(wrote);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 91);
}

static void
test_stream_prog_is_current(void **state)
{
	struct seccomp_util_prog p;

	(void)state;
	assert_int_equal(seccomp_util_compile(seccomp_util_stream_calls,
	                     SECCOMP_UTIL_STREAM_NCALLS, &p),
	    0);
	assert_int_equal(p.len, seccomp_util_stream_prog.len);
	assert_memory_equal(p.insns, seccomp_util_stream_prog.insns,
	    sizeof(struct sock_filter) * p.len);
	seccomp_util_prog_free(&p);
}

static void
test_stream_prog_confines(void **state)
{
	int fd[2], st;
	pid_t pid;
	char c;

	(void)state;
	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		(void)close(fd[0]);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    seccomp_util_apply(&seccomp_util_stream_prog) < 0)
			_exit(91);
		/* moving bytes: allowed */
		if (write(fd[1], "x", 1) != 1)
			_exit(92);
		/* opening a file: not */
		(void)syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
		_exit(7);
	}
	(void)close(fd[1]);
	assert_int_equal(read(fd[0], &c, 1), 1);
	(void)close(fd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allow_only),
	    cmocka_unit_test(test_compile_and_apply),
	    cmocka_unit_test(test_apply_nothing),
	    cmocka_unit_test(test_stream_prog_is_current),
	    cmocka_unit_test(test_stream_prog_confines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
