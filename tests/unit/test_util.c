/*
 * test_util.c - the small helpers (src/lib/util.c): bounded string copies
 * and formatting at the exact size, one over and with no room at all;
 * strict decimal parsing (leading zeros, signs, blanks, the maximum and one
 * over, 64-bit overflow); fd flags; the monotonic clock; close_fd and
 * freezero; the run directory; the policy daemon's user.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "lib/util.h"

static void
test_str_copy(void **state)
{
	char dst[6];

	(void)state;
	/* exactly fits: 5 characters and the NUL */
	assert_int_equal(str_copy(dst, sizeof(dst), "abcde"), 0);
	assert_string_equal(dst, "abcde");
	assert_int_equal(str_copy(dst, sizeof(dst), ""), 0);
	assert_string_equal(dst, "");
	/* one over: an error, and dst is an empty string, not a prefix */
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(str_copy(dst, sizeof(dst), "abcdef"), -ENAMETOOLONG);
	assert_int_equal(dst[0], '\0');
	assert_int_equal(dst[1], 'x');
	/* no room at all: dst is not touched */
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(str_copy(dst, 0, ""), -ENAMETOOLONG);
	assert_int_equal(dst[0], 'x');
}

static void
test_str_printf(void **state)
{
	char dst[6];

	(void)state;
	assert_int_equal(str_printf(dst, sizeof(dst), "%s-%d", "ab", 12), 0);
	assert_string_equal(dst, "ab-12");
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(
	    str_printf(dst, sizeof(dst), "%s-%d", "ab", 123), -ENAMETOOLONG);
	assert_int_equal(dst[0], '\0');
	memset(dst, 'x', sizeof(dst));
	assert_int_equal(str_printf(dst, 0, "%s", ""), -ENAMETOOLONG);
	assert_int_equal(dst[0], 'x');
}

static void
test_parse_u32(void **state)
{
	static const char *const bad[] = {"", "00", "01", "-1", "+1", " 1",
	    "1 ", "1a", "0x10", "1.0", "\xd9\xa1"};
	uint32_t v;
	size_t i;

	(void)state;
	assert_int_equal(parse_u32("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u32("10", 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_u32("9", 10, &v), 0);
	assert_int_equal(v, 9);
	v = 77;
	assert_int_equal(parse_u32("11", 10, &v), -ERANGE);
	assert_int_equal(v, 77);
	assert_int_equal(parse_u32("4294967295", UINT32_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(parse_u32("4294967296", UINT32_MAX, &v), -ERANGE);
	/* far too many digits must not wrap the accumulator */
	assert_int_equal(
	    parse_u32("18446744073709551616000", UINT32_MAX, &v), -ERANGE);
	assert_int_equal(parse_u32("65535", 65535, &v), 0);
	assert_int_equal(parse_u32("65536", 65535, &v), -ERANGE);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 77;
		assert_int_equal(parse_u32(bad[i], UINT32_MAX, &v), -EINVAL);
		assert_int_equal(v, 77);
	}
}

static void
test_startswith(void **state)
{
	(void)state;
	assert_true(str_startswith("QUBESRPC x", "QUBESRPC"));
	assert_true(str_startswith("abc", ""));
	assert_true(str_startswith("abc", "abc"));
	assert_false(str_startswith("ab", "abc"));
	assert_false(str_startswith("xabc", "abc"));
}

static void
test_uuid_valid(void **state)
{
	static const char *const good[] = {
	    "00000000-0000-0000-0000-000000000000",
	    "6a61030b-78c1-4691-8b58-994c4318b34a",
	    "6A61030B-78C1-4691-8B58-994C4318B34A",
	};
	static const char *const bad[] = {
	    "",
	    "6a61030b-78c1-4691-8b58-994c4318b34",   /* one short */
	    "6a61030b-78c1-4691-8b58-994c4318b34aa", /* one more */
	    "6a61030b-78c1-4691-8b58-994c4318b34g",  /* not hex */
	    "6a61030b_78c1-4691-8b58-994c4318b34a",  /* not a dash */
	    "6a61030b-78c1-4691-8b58994c-4318b34a",  /* a dash moved */
	    "6a61030b-78c1-4691-8b58-994c4318b34 ",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(str_uuid_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(str_uuid_valid(bad[i]));
}

static void
test_fd_flags(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(fd_set_nonblock(p[0], true), 0);
	assert_int_equal(fcntl(p[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	assert_int_equal(fd_set_nonblock(p[0], false), 0);
	assert_int_equal(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(fcntl(p[1], F_GETFD) & FD_CLOEXEC, 0);
	assert_int_equal(fd_set_cloexec(p[1], true), 0);
	assert_int_equal(fcntl(p[1], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(fd_set_cloexec(p[1], false), 0);
	assert_int_equal(fcntl(p[1], F_GETFD) & FD_CLOEXEC, 0);
	assert_int_equal(fd_set_nonblock(-1, true), -EBADF);
	assert_int_equal(fd_set_cloexec(-1, true), -EBADF);
	(void)close(p[0]);
	(void)close(p[1]);
}

static void
test_clock(void **state)
{
	uint64_t ns1, ms, ns2;

	(void)state;
	ns1 = now_ns();
	ms = now_ms();
	ns2 = now_ns();
	assert_true(ns1 > 0);
	assert_true(ns2 >= ns1);
	assert_true(ms >= ns1 / 1000000u);
	assert_true(ms <= ns2 / 1000000u);
}

static void
test_close_fd(void **state)
{
	int fd, saved;

	(void)state;
	fd = dup(0);
	assert_true(fd >= 0);
	saved = fd;
	errno = ERANGE;
	close_fd(&fd);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(fcntl(saved, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	/* already closed: nothing happens */
	errno = ERANGE;
	close_fd(&fd);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, ERANGE);
}

static void
test_freezero(void **state)
{
	char *p = malloc(32);

	(void)state;
	assert_non_null(p);
	memset(p, 'S', 32);
	/* LeakSanitizer fails the program if p is not freed */
	freezero(p, 32);
	freezero(NULL, 32);
}

/* $BULKHEAD_RUN_DIR moves every default socket; only an absolute path */
/* the policy daemon's user: named, root, missing, a name that does not
 * fit */
static void
test_policy_user(void **state)
{
	struct passwd *nobody = getpwnam("nobody");
	char name[64];
	uid_t uid = 7;
	gid_t gid = 7;

	(void)state;
	assert_int_equal(
	    bulkhead_policy_user("root", name, sizeof(name), &uid, &gid), 0);
	assert_int_equal(uid, 7); /* untouched */
	assert_int_equal(bulkhead_policy_user(
	                     "no-such-user-bh", name, sizeof(name), &uid, &gid),
	    -ENOENT);
	if (nobody == NULL)
		return; /* a host without it: the rest needs a user */
	assert_int_equal(
	    bulkhead_policy_user("nobody", name, sizeof(name), &uid, &gid), 1);
	assert_string_equal(name, "nobody");
	assert_int_equal(uid, nobody->pw_uid);
	assert_int_equal(gid, nobody->pw_gid);
	assert_int_equal(
	    bulkhead_policy_user("nobody", name, 3, &uid, &gid), -ENAMETOOLONG);
}

static void
test_run_dir(void **state)
{
	char p[64];

	(void)state;
	assert_int_equal(unsetenv("BULKHEAD_RUN_DIR"), 0);
	assert_string_equal(bulkhead_run_dir(), BULKHEAD_RUN_DIR);
	assert_int_equal(bulkhead_run_path(p, sizeof(p), "qubesd.sock"), 0);
	assert_string_equal(p, BULKHEAD_RUN_DIR "/qubesd.sock");
	assert_int_equal(setenv("BULKHEAD_RUN_DIR", "/tmp/x", 1), 0);
	assert_int_equal(bulkhead_run_path(p, sizeof(p), "vchan"), 0);
	assert_string_equal(p, "/tmp/x/vchan");
	/* relative: refused, never the default (another installation's) */
	assert_int_equal(setenv("BULKHEAD_RUN_DIR", "relative", 1), 0);
	assert_null(bulkhead_run_dir());
	assert_int_equal(bulkhead_run_path(p, sizeof(p), "vchan"), -EINVAL);
	assert_int_equal(setenv("BULKHEAD_RUN_DIR", "", 1), 0);
	assert_string_equal(bulkhead_run_dir(), BULKHEAD_RUN_DIR);
	/* too long for the buffer: an error, never a truncated path */
	assert_int_equal(
	    setenv("BULKHEAD_RUN_DIR",
	        "/a/very/long/directory/name/that/does/not/fit", 1),
	    0);
	assert_int_equal(
	    bulkhead_run_path(p, sizeof(p), "qubesd.internal.sock.longer"),
	    -ENAMETOOLONG);
	assert_int_equal(unsetenv("BULKHEAD_RUN_DIR"), 0);
}

/* In a child: fd 0 is /dev/null, open across exec (close_0: fd 0 was
 * closed before, so /dev/null lands on 0 itself). */
static int
stdin_null_child(bool close_0)
{
	struct stat st, null;
	int p[2];

	if (pipe(p) < 0 || dup2(p[0], 0) < 0)
		return 1;
	if (close_0)
		(void)close(0);
	if (fd_stdin_null() < 0 || fstat(0, &st) < 0 ||
	    stat("/dev/null", &null) < 0)
		return 2;
	if (!S_ISCHR(st.st_mode) || st.st_rdev != null.st_rdev)
		return 3;
	return (fcntl(0, F_GETFD) & FD_CLOEXEC) ? 4 : 0;
}

static void
test_stdin_null(void **state)
{
	int i, status;

	(void)state;
	for (i = 0; i < 2; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(stdin_null_child(i == 1));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_str_copy),
	    cmocka_unit_test(test_str_printf),
	    cmocka_unit_test(test_parse_u32),
	    cmocka_unit_test(test_startswith),
	    cmocka_unit_test(test_uuid_valid),
	    cmocka_unit_test(test_stdin_null),
	    cmocka_unit_test(test_fd_flags),
	    cmocka_unit_test(test_clock),
	    cmocka_unit_test(test_close_fd),
	    cmocka_unit_test(test_freezero),
	    cmocka_unit_test(test_run_dir),
	    cmocka_unit_test(test_policy_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
