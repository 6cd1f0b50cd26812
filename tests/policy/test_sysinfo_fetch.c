/*
 * test_sysinfo_fetch.c - sysinfo_fetch() against a slow admin daemon.
 *
 * Regression: its timeout bounded each step (connect, send, the reply)
 * on its own, not the whole exchange that policy.h promises, so a daemon
 * slow at each step held the policy daemon's loop for several timeouts;
 * and its own connect() gave a socket that was not connected when the
 * daemon's backlog was full.  Here a fake daemon (a child process) is
 * slow to accept (its backlog full) and then slow to answer.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util.h"
#include "policy/policy.h"

#define TIMEOUT_MS 1000

static const char reply[] =
    "0\0{\"domains\": {\"dom0\": {\"tags\": [], \"type\": \"AdminVM\", "
    "\"default_dispvm\": null, \"template_for_dispvms\": false, "
    "\"power_state\": \"Running\"}}}";

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The fake daemon: accept after accept_ms, answer answer_ms later. */
static void
slow_daemon(int lfd, unsigned accept_ms, unsigned answer_ms)
{
	char buf[256];
	int filler, fd;

	sleep_ms(accept_ms);
	filler = accept(lfd, NULL, NULL);
	fd = accept(lfd, NULL, NULL);
	if (filler < 0 || fd < 0)
		_exit(1);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	sleep_ms(answer_ms);
	/* the client may have given up: that is the point */
	(void)signal(SIGPIPE, SIG_IGN);
	if (write(fd, reply, sizeof(reply) - 1) < 0 && errno != EPIPE &&
	    errno != ECONNRESET)
		_exit(2);
	_exit(0);
}

/* sysinfo_fetch from a slow daemon; its result and how long it took. */
static int
fetch_slow(unsigned accept_ms, unsigned answer_ms, uint64_t *ret_ms)
{
	char dir[] = "/tmp/sysinfo-fetch.XXXXXX", err[256];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct sysinfo *si = NULL;
	int lfd, filler, r, status;
	uint64_t t0;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/q.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* a backlog of one, filled: the next connect() waits for accept() */
	assert_int_equal(listen(lfd, 0), 0);
	filler = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(
	    connect(filler, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		slow_daemon(lfd, accept_ms, answer_ms);
	(void)close(lfd);
	t0 = now_ms();
	r = sysinfo_fetch(sa.sun_path, true, TIMEOUT_MS, &si, err, sizeof(err));
	*ret_ms = now_ms() - t0;
	if (r == 0)
		sysinfo_unref(si);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	(void)close(filler);
	(void)unlink(sa.sun_path);
	(void)rmdir(dir);
	return r;
}

static void
test_slow_accept(void **state)
{
	uint64_t ms;

	(void)state;
	/* accepted late, answered at once: well within the deadline */
	assert_int_equal(fetch_slow(TIMEOUT_MS * 3 / 10, 0, &ms), 0);
	assert_true(ms >= TIMEOUT_MS * 3 / 10);
}

static void
test_whole_exchange_bounded(void **state)
{
	uint64_t ms;

	(void)state;
	/* each step under the timeout, the two together over it */
	assert_int_equal(
	    fetch_slow(TIMEOUT_MS * 6 / 10, TIMEOUT_MS * 6 / 10, &ms),
	    -ETIMEDOUT);
	assert_true(ms >= TIMEOUT_MS);
	/* given up before the answer came (at 1.2 timeouts) */
	assert_true(ms < TIMEOUT_MS * 12 / 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slow_accept),
	    cmocka_unit_test(test_whole_exchange_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
