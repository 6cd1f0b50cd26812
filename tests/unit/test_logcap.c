/*
 * test_logcap.c - a qube's output into its log with a limit a run
 * (src/sandbox/logcap.c): exactly the limit kept and one note, whatever
 * the sizes of the reads; nothing written past it across calls; EAGAIN
 * returns with the input open, EOF closes it; an over-size log moved to
 * .old, never a symlink; the limit's variable checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/logcap.h"
#include "unit.h"

struct fixture {
	char *dir, *log;
	int p[2];
	struct logcap lc;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = unit_tmpdir();
	f->log = unit_path(f->dir, "q.log");
	assert_int_equal(pipe2(f->p, O_CLOEXEC | O_NONBLOCK), 0);
	f->lc.in = f->p[0];
	f->lc.out =
	    open(f->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	assert_true(f->lc.out >= 0);
	f->lc.max = 4096;
	f->lc.what = "output";
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[4200];

	if (f->lc.in >= 0)
		(void)close(f->lc.in);
	if (f->p[1] >= 0)
		(void)close(f->p[1]);
	if (f->lc.out >= 0)
		(void)close(f->lc.out);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->log);
	free(f->dir);
	free(f);
	return 0;
}

static void
put(int fd, char c, size_t n)
{
	char buf[1000];

	memset(buf, c, sizeof(buf));
	while (n > 0) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);

		assert_int_equal(write(fd, buf, k), (ssize_t)k);
		n -= k;
	}
}

/* The log's bytes, NUL-terminated; *len its size. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *b;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	b = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(b);
	assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
	(void)close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static size_t
count(const char *b, size_t len, char c)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += b[i] == c;
	return n;
}

static void
limit_and_one_note(struct fixture *f)
{
	size_t len;
	char *b, *note;

	/* (fill bytes the note does not hold) under the limit: all of it, the input still open (EAGAIN) */
	put(f->p[1], '#', 3000);
	logcap_pump(&f->lc);
	assert_true(f->lc.in >= 0);
	assert_false(f->lc.dropped);
	b = slurp(f->log, &len);
	assert_int_equal(len, 3000);
	free(b);
	/* across the limit in one read: the rest of the limit, one note */
	put(f->p[1], '%', 3000);
	logcap_pump(&f->lc);
	assert_true(f->lc.dropped);
	/* more: nothing more written, no second note */
	put(f->p[1], '&', 20000);
	logcap_pump(&f->lc);
	put(f->p[1], '*', 10);
	(void)close(f->p[1]);
	f->p[1] = -1;
	logcap_pump(&f->lc);
	assert_int_equal(f->lc.in, -1); /* EOF closed it */
	f->p[0] = -1;
	b = slurp(f->log, &len);
	assert_int_equal(count(b, len, '#'), 3000);
	assert_int_equal(count(b, len, '%'), 4096 - 3000);
	assert_int_equal(count(b, len, '&'), 0);
	assert_int_equal(count(b, len, '*'), 0);
	note = strstr(b, "[bulkhead: this run's output is over its limit");
	assert_non_null(note);
	assert_int_equal(note - b, 4096 + 1); /* after its newline */
	assert_null(strstr(note + 1, "[bulkhead:"));
	assert_int_equal(f->lc.kept, 4096);
	free(b);
}

static void
test_limit_and_one_note(void **state)
{
	limit_and_one_note(*state);
}

/* the same with the log marked as a file of the caller's (write(2) only:
 * the VM launcher's console log) */
static void
test_limit_and_one_note_file(void **state)
{
	struct fixture *f = *state;

	f->lc.out_file = true;
	limit_and_one_note(f);
}

static void
test_no_log_still_drains(void **state)
{
	struct fixture *f = *state;

	(void)close(f->lc.out);
	f->lc.out = -1;
	put(f->p[1], 'a', 60000);
	logcap_pump(&f->lc);
	/* read all the same: the writer never waits on a missing log */
	put(f->p[1], 'a', 60000);
	logcap_pump(&f->lc);
	assert_true(f->lc.in >= 0);
	assert_true(f->lc.dropped);
}

static void
test_rotate(void **state)
{
	struct fixture *f = *state;
	char *old = unit_path(f->dir, "q.log.old");
	char *link = unit_path(f->dir, "l.log");
	struct stat st;

	/* missing: nothing to do */
	assert_int_equal(logcap_rotate(old, 10), 0);
	/* at the limit: kept */
	put(f->lc.out, 'x', 100);
	assert_int_equal(logcap_rotate(f->log, 100), 0);
	assert_int_equal(stat(f->log, &st), 0);
	assert_int_equal(st.st_size, 100);
	/* over: moved to .old, replacing the one there */
	assert_int_equal(logcap_rotate(f->log, 99), 0);
	assert_int_equal(stat(f->log, &st), -1);
	assert_int_equal(stat(old, &st), 0);
	assert_int_equal(st.st_size, 100);
	/* a symlink (to a big file) is not followed nor moved */
	assert_int_equal(symlink(old, link), 0);
	assert_int_equal(logcap_rotate(link, 1), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	free(old);
	free(link);
}

static void
test_limit_variable(void **state)
{
	(void)state;
	assert_int_equal(unsetenv("BULKHEAD_QUBE_LOG_MAX"), 0);
	assert_int_equal(logcap_limit(), LOGCAP_RUN_MAX);
	assert_int_equal(setenv("BULKHEAD_QUBE_LOG_MAX", "65536", 1), 0);
	assert_int_equal(logcap_limit(), 65536);
	assert_int_equal(setenv("BULKHEAD_QUBE_LOG_MAX", "4096", 1), 0);
	assert_int_equal(logcap_limit(), LOGCAP_MIN);
	/* out of range or not a number: the default */
	assert_int_equal(setenv("BULKHEAD_QUBE_LOG_MAX", "4095", 1), 0);
	assert_int_equal(logcap_limit(), LOGCAP_RUN_MAX);
	assert_int_equal(setenv("BULKHEAD_QUBE_LOG_MAX", "1073741825", 1), 0);
	assert_int_equal(logcap_limit(), LOGCAP_RUN_MAX);
	assert_int_equal(setenv("BULKHEAD_QUBE_LOG_MAX", "64k", 1), 0);
	assert_int_equal(logcap_limit(), LOGCAP_RUN_MAX);
	assert_int_equal(setenv("BULKHEAD_QUBE_LOG_MAX", "-1", 1), 0);
	assert_int_equal(logcap_limit(), LOGCAP_RUN_MAX);
	assert_int_equal(unsetenv("BULKHEAD_QUBE_LOG_MAX"), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_limit_and_one_note),
	    T(test_limit_and_one_note_file),
	    T(test_no_log_still_drains),
	    T(test_rotate),
	    T(test_limit_variable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
