/*
 * test_log.c - logging (src/lib/log.c): log_quote on untrusted bytes
 * (printables kept, everything else and '\' as \xNN, never beyond the
 * output buffer at any size, truncation marked), the stderr line format
 * with role, qube, level and errno text, levels (set and from
 * BULKHEAD_LOG_LEVEL), errno preserved, over-long messages, and
 * fatal/fatalx exiting 1 (in a child process).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"
#include "unit.h"

static void
test_quote_escapes(void **state)
{
	char out[128];

	(void)state;
	assert_string_equal(
	    log_quote(out, sizeof(out), "plain text", 10), "plain text");
	assert_string_equal(log_quote(out, sizeof(out), "a\\b", 3), "a\\x5cb");
	assert_string_equal(log_quote(out, sizeof(out), "\n\t\x1b\x7f\xff", 5),
	    "\\x0a\\x09\\x1b\\x7f\\xff");
	/* a NUL is a byte like any other: only len counts */
	assert_string_equal(log_quote(out, sizeof(out), "a\0b", 3), "a\\x00b");
	assert_string_equal(log_quote(out, sizeof(out), "", 0), "");
	assert_ptr_equal(log_quote(out, sizeof(out), "x", 1), out);
}

/*
 * The full rendering of in, without truncation; at[i] is where the
 * rendering of in[i] starts (at[len]: the end).
 */
static void
render(char *out, size_t *at, const unsigned char *in, size_t len)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < len; i++) {
		at[i] = strlen(out);
		if (in[i] >= 0x20 && in[i] < 0x7f && in[i] != '\\')
			(void)sprintf(out + strlen(out), "%c", in[i]);
		else
			(void)sprintf(out + strlen(out), "\\x%02x", in[i]);
	}
	at[len] = strlen(out);
}

static void
test_quote_bounds(void **state)
{
	static const unsigned char in[] = "name\x01with\\bytes\xfe and more";
	size_t at[sizeof(in)], outlen, n, k, i;
	char full[256], out[64 + 8];

	(void)state;
	render(full, at, in, sizeof(in) - 1);
	/* no room at all: nothing is written */
	memset(out, 'Z', sizeof(out));
	(void)log_quote(out, 0, in, sizeof(in) - 1);
	assert_int_equal(out[0], 'Z');
	for (outlen = 1; outlen <= 64; outlen++) {
		memset(out, 'Z', sizeof(out));
		(void)log_quote(out, outlen, in, sizeof(in) - 1);
		n = strlen(out);
		/* within the buffer; the bytes after it untouched */
		assert_true(n < outlen);
		assert_int_equal(out[outlen], 'Z');
		if (strcmp(out, full) == 0)
			continue;
		/* else: a prefix of whole characters, then "..." (if room) */
		k = n >= 3 && strcmp(out + n - 3, "...") == 0 ? n - 3 : n;
		assert_memory_equal(out, full, k);
		for (i = 0; at[i] < k; i++)
			;
		assert_int_equal(at[i], k);
		assert_true(k == n || outlen >= 4);
	}
	/* with room to spare, everything */
	assert_string_equal(
	    log_quote(out, sizeof(out), in, 9), "name\\x01with");
}

/* Capture what the logger writes to stderr while fn runs. */
struct capture {
	int saved, pipe[2];
};

static void
capture_start(struct capture *c)
{
	assert_int_equal(pipe2(c->pipe, O_CLOEXEC), 0);
	c->saved = dup(2);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(c->pipe[1], 2), 2);
}

static char *
capture_end(struct capture *c)
{
	char *got;

	assert_int_equal(dup2(c->saved, 2), 2);
	(void)close(c->saved);
	(void)close(c->pipe[1]);
	(void)unit_read_eof(c->pipe[0], &got);
	(void)close(c->pipe[0]);
	return got;
}

static void
test_format(void **state)
{
	struct capture c;
	char *got, big[2000], *want;

	(void)state;
	log_init("unit-role", 1);
	log_set_level(LOG_LEVEL_INFO);
	log_set_qube("");
	capture_start(&c);
	log_warnx("plain %d", 1);
	log_set_qube("work");
	log_info("info %s", "line");
	errno = ENOENT;
	log_warn("with errno");
	/* errno survives a log call */
	assert_int_equal(errno, ENOENT);
	log_debug("hidden at info");
	got = capture_end(&c);
	assert_string_equal(got,
	    "unit-role: warning: plain 1\n"
	    "unit-role[work]: info: info line\n"
	    "unit-role[work]: warning: with errno: No such file or directory\n");
	free(got);

	/* a long qube name is cut to fit; a long message too */
	memset(big, 'q', sizeof(big));
	big[100] = '\0';
	log_set_qube(big);
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_start(&c);
	log_warnx("%s", big);
	errno = EIO;
	log_warn("%s", big);
	got = capture_end(&c);
	assert_true(asprintf(&want, "unit-role[%.63s]: warning: %.1023s\n", big,
	                big) > 0);
	memset(want + strlen("unit-role["), 'q', 63);
	assert_true(strncmp(got, want, strlen(want)) == 0);
	/* the second line is cut the same way (no room for the errno text) */
	assert_string_equal(got + strlen(want), want);
	free(want);
	free(got);
	log_set_qube("");
}

static void
test_levels(void **state)
{
	struct capture c;
	char *got;

	(void)state;
	log_init("r", 1);
	log_set_level(LOG_LEVEL_DEBUG);
	capture_start(&c);
	log_debug("d");
	log_set_level(LOG_LEVEL_ERR);
	log_warnx("w");
	log_info("i");
	(void)setenv("BULKHEAD_LOG_LEVEL", "warn", 1);
	log_level_from_env();
	log_warnx("w2");
	log_info("i2");
	/* an unknown value changes nothing */
	(void)setenv("BULKHEAD_LOG_LEVEL", "verbose", 1);
	log_level_from_env();
	log_info("i3");
	(void)setenv("BULKHEAD_LOG_LEVEL", "debug", 1);
	log_init("r2", 1); /* reads the variable too */
	log_debug("d2");
	(void)setenv("BULKHEAD_LOG_LEVEL", "err", 1);
	log_level_from_env();
	log_warnx("w3");
	(void)setenv("BULKHEAD_LOG_LEVEL", "info", 1);
	log_level_from_env();
	log_info("i4");
	log_debug("d3");
	got = capture_end(&c);
	assert_string_equal(got,
	    "r: debug: d\n"
	    "r: warning: w2\n"
	    "r2: debug: d2\n"
	    "r2: info: i4\n");
	free(got);
	(void)unsetenv("BULKHEAD_LOG_LEVEL");
	log_set_level(LOG_LEVEL_INFO);
}

static void
test_fatal(void **state)
{
	int i, p[2], status;
	char *got;
	pid_t pid;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			(void)dup2(p[1], 2);
			log_init("f", 1);
			errno = EPERM;
			if (i == 0)
				fatal("going %s", "down");
			fatalx("going %s", "down");
		}
		(void)close(p[1]);
		(void)unit_read_eof(p[0], &got);
		(void)close(p[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 1);
		assert_string_equal(got,
		    i == 0 ? "f: error: going down: Operation not permitted\n" :
		             "f: error: going down\n");
		free(got);
	}
}

static void
test_budget(void **state)
{
	struct log_budget b;
	unsigned long left = 99;
	int i;

	(void)state;
	memset(&b, 0, sizeof(b));
	/* three lines an interval of 1000 ms, from t=5000 */
	for (i = 0; i < 3; i++) {
		assert_true(
		    log_budget_take(&b, 5000 + (uint64_t)i, 3, 1000, &left));
		assert_int_equal(left, 0);
	}
	for (i = 0; i < 7; i++) {
		assert_false(log_budget_take(&b, 5100, 3, 1000, &left));
		assert_int_equal(left, 0);
	}
	/* the next interval: the count of what was left out, once */
	assert_true(log_budget_take(&b, 6000, 3, 1000, &left));
	assert_int_equal(left, 7);
	assert_true(log_budget_take(&b, 6001, 3, 1000, &left));
	assert_int_equal(left, 0);
	/* an interval with nothing left out says nothing */
	assert_true(log_budget_take(&b, 9000, 3, 1000, &left));
	assert_int_equal(left, 0);
	/* a clock that went back starts an interval */
	assert_true(log_budget_take(&b, 100, 3, 1000, &left));
	/* a budget of one line */
	memset(&b, 0, sizeof(b));
	assert_true(log_budget_take(&b, 20000, 1, 1000, &left));
	assert_false(log_budget_take(&b, 20000, 1, 1000, &left));
	assert_false(log_budget_take(&b, 20999, 1, 1000, &left));
	assert_true(log_budget_take(&b, 21000, 1, 1000, &left));
	assert_int_equal(left, 2);
}

static void
test_stderr_cap(void **state)
{
	char path[] = "/tmp/bulkhead-test-log-XXXXXX";
	int fd, saved, i;
	struct stat st;
	char *got;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	/* not opened to append: the cap must still start at 0 */
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	log_init("c", 1);
	log_set_level(LOG_LEVEL_INFO);
	log_set_stderr_cap(8192);
	for (i = 0; i < 400; i++)
		log_info("line %d of a log that must stay small", i);
	log_set_stderr_cap(0);
	(void)fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	(void)close(saved);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(st.st_size > 0 && st.st_size <= 8192);
	/* no hole at the start: the file is what was written since */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	(void)unit_read_eof(fd, &got);
	(void)close(fd);
	assert_true(strlen(got) == (size_t)st.st_size);
	assert_non_null(strstr(got, "c: warning: this log reached 8192 bytes"));
	assert_non_null(strstr(got, "line 399 of a log"));
	assert_null(strstr(got, "line 0 of a log"));
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quote_escapes),
	    cmocka_unit_test(test_quote_bounds),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_fatal),
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_stderr_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
