/*
 * test_io.c - the blocking I/O loops (src/lib/io.c): io_read_all,
 * io_write_all, io_write_file_all, io_read_to_eof and io_wait_readable,
 * and the variants bounded by one deadline (io_write_all_until,
 * io_read_to_eof_until: a silent, a full and a trickling peer), with
 * short reads and writes, EINTR, EAGAIN, ECONNRESET, other errors and
 * ENOMEM injected through the --wrap mocks; exact, one-under and
 * one-over sizes for the io_read_to_eof limit.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/io.h"
#include "lib/util.h"
#include "unit.h"

struct fds {
	int sv[2];
};

static int
setup(void **state)
{
	struct fds *f = calloc(1, sizeof(*f));

	fault_reset();
	if (f == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fds *f = *state;

	fault_reset();
	unit_close(&f->sv[0]);
	unit_close(&f->sv[1]);
	free(f);
	return 0;
}

/* Queue len bytes of a known pattern on fd, optionally followed by EOF. */
static void
feed(int fd, size_t len, bool eof)
{
	uint8_t *p = malloc(len + 1);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)('a' + i % 26);
	assert_int_equal(io_write_all(fd, p, len), 0);
	free(p);
	if (eof)
		assert_int_equal(shutdown(fd, SHUT_WR), 0);
}

static void
check_pattern(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		assert_int_equal(p[i], 'a' + i % 26);
}

static void
test_read_all(void **state)
{
	struct fds *f = *state;
	char buf[64];
	size_t got = 99;

	feed(f->sv[1], 40, false);
	/* one byte per read(), an EINTR in between: still all 10 bytes */
	faults[F_READ].cap = 1;
	fault_set(F_READ, f->sv[0], 3, 1, EINTR);
	assert_int_equal(io_read_all(f->sv[0], buf, 10, &got), 0);
	assert_int_equal(got, 10);
	assert_int_equal(faults[F_READ].calls, 11);
	check_pattern(buf, 10);
	/* no length, no read */
	fault_reset();
	assert_int_equal(io_read_all(f->sv[0], buf, 0, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(faults[F_READ].calls, 0);
	/* without ret_got */
	assert_int_equal(io_read_all(f->sv[0], buf, 30, NULL), 0);
	assert_memory_equal(buf, "klmnopqrstuvwxyzabcdefghijklmn", 30);
}

static void
test_read_all_eof(void **state)
{
	struct fds *f = *state;
	char buf[64];
	size_t got = 99;

	feed(f->sv[1], 5, true);
	/* the peer closed after 5 of 8 bytes: -EPIPE, 5 reported */
	assert_int_equal(io_read_all(f->sv[0], buf, 8, &got), -EPIPE);
	assert_int_equal(got, 5);
	check_pattern(buf, 5);
	assert_int_equal(io_read_all(f->sv[0], buf, 1, &got), -EPIPE);
	assert_int_equal(got, 0);
}

static void
test_read_all_errors(void **state)
{
	struct fds *f = *state;
	char buf[64];
	size_t got = 99;

	feed(f->sv[1], 4, false);
	/* a reset connection counts as closed */
	fault_set(F_READ, f->sv[0], 1, 1, ECONNRESET);
	faults[F_READ].cap = 2;
	assert_int_equal(io_read_all(f->sv[0], buf, 4, &got), -EPIPE);
	assert_int_equal(got, 2);
	/* any other error is returned as it is */
	fault_set(F_READ, f->sv[0], 0, 1, EIO);
	assert_int_equal(io_read_all(f->sv[0], buf, 2, &got), -EIO);
	assert_int_equal(got, 0);
	assert_int_equal(io_read_all(-1, buf, 2, &got), -EBADF);
}

static void
test_read_all_eagain(void **state)
{
	struct fds *f = *state;
	char buf[8];

	/* a nonblocking fd: wait for it to become readable, then go on */
	assert_int_equal(fd_set_nonblock(f->sv[0], true), 0);
	feed(f->sv[1], 3, false);
	fault_set(F_READ, f->sv[0], 0, 1, EAGAIN);
	assert_int_equal(io_read_all(f->sv[0], buf, 3, NULL), 0);
	assert_int_equal(faults[F_READ].calls, 2);
	assert_int_equal(faults[F_POLL].calls, 1);
	check_pattern(buf, 3);
}

static void
test_write_all(void **state)
{
	struct fds *f = *state;
	char buf[64];

	/* short sends and an EINTR */
	faults[F_SEND].cap = 3;
	fault_set(F_SEND, f->sv[0], 1, 1, EINTR);
	assert_int_equal(io_write_all(f->sv[0], "0123456789", 10), 0);
	assert_int_equal(faults[F_SEND].calls, 5);
	assert_int_equal(io_read_all(f->sv[1], buf, 10, NULL), 0);
	assert_memory_equal(buf, "0123456789", 10);
	/* EAGAIN: wait for room, then go on */
	fault_reset();
	fault_set(F_SEND, f->sv[0], 0, 1, EAGAIN);
	assert_int_equal(io_write_all(f->sv[0], "ab", 2), 0);
	assert_int_equal(faults[F_POLL].calls, 1);
	assert_int_equal(io_read_all(f->sv[1], buf, 2, NULL), 0);
	assert_memory_equal(buf, "ab", 2);
	/* errors: injected, and a closed peer (EPIPE, no SIGPIPE) */
	fault_set(F_SEND, f->sv[0], 0, 1, EIO);
	assert_int_equal(io_write_all(f->sv[0], "ab", 2), -EIO);
	unit_close(&f->sv[1]);
	assert_int_equal(io_write_all(f->sv[0], "ab", 2), -EPIPE);
	/* nothing to write: no system call */
	fault_reset();
	assert_int_equal(io_write_all(-1, "", 0), 0);
	assert_int_equal(faults[F_SEND].calls, 0);
}

/*
 * A write loop on a pipe (not a socket): short writes of 2 bytes with an
 * EINTR among them, the bytes in order, an error passed up.  The send()
 * calls it made are returned (io_write_all tries one before each write).
 */
static int
pipe_writes(int (*fn)(int, const void *, size_t))
{
	char buf[16];
	int p[2], sends;

	fault_reset();
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	faults[F_WRITE].cap = 2;
	fault_set(F_WRITE, p[1], 1, 1, EINTR);
	assert_int_equal(fn(p[1], "pipedata", 8), 0);
	assert_int_equal(faults[F_WRITE].calls, 5); /* 2 + EINTR + 2+2+2 */
	sends = faults[F_SEND].calls;
	assert_int_equal(io_read_all(p[0], buf, 8, NULL), 0);
	assert_memory_equal(buf, "pipedata", 8);
	fault_set(F_WRITE, p[1], 0, 1, ENOSPC);
	assert_int_equal(fn(p[1], "x", 1), -ENOSPC);
	(void)close(p[0]);
	(void)close(p[1]);
	return sends;
}

static void
test_write_all_pipe(void **state)
{
	(void)state;
	/* not a socket: a send() each time, then write() */
	assert_int_equal(pipe_writes(io_write_all), 5);
}

/* io_write_file_all: write() alone, never a send() first */
static void
test_write_file_all(void **state)
{
	(void)state;
	assert_int_equal(pipe_writes(io_write_file_all), 0);
	fault_reset();
	assert_int_equal(io_write_file_all(-1, "", 0), 0);
	assert_int_equal(faults[F_WRITE].calls, 0);
	assert_int_equal(io_write_file_all(-1, "x", 1), -EBADF);
}

static void
test_read_to_eof_sizes(void **state)
{
	struct fds *f = *state;
	char *buf = NULL;
	size_t len = 99;

	/* exactly max bytes */
	feed(f->sv[1], 1000, true);
	assert_int_equal(io_read_to_eof(f->sv[0], 1000, &buf, &len), 0);
	assert_int_equal(len, 1000);
	check_pattern(buf, 1000);
	assert_int_equal(buf[1000], '\0');
	free(buf);
	teardown(state);

	/* one byte under */
	assert_int_equal(setup(state), 0);
	f = *state;
	feed(f->sv[1], 999, true);
	assert_int_equal(io_read_to_eof(f->sv[0], 1000, &buf, &len), 0);
	assert_int_equal(len, 999);
	free(buf);
	teardown(state);

	/* one byte over */
	assert_int_equal(setup(state), 0);
	f = *state;
	feed(f->sv[1], 1001, true);
	buf = NULL;
	assert_int_equal(io_read_to_eof(f->sv[0], 1000, &buf, &len), -EMSGSIZE);
	assert_null(buf);
	teardown(state);

	/* far over, with the peer still writing: stops at the limit */
	assert_int_equal(setup(state), 0);
	f = *state;
	feed(f->sv[1], 20000, false);
	assert_int_equal(io_read_to_eof(f->sv[0], 300, &buf, &len), -EMSGSIZE);
	teardown(state);

	/* empty input; and a zero limit */
	assert_int_equal(setup(state), 0);
	f = *state;
	feed(f->sv[1], 0, true);
	assert_int_equal(io_read_to_eof(f->sv[0], 0, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
	teardown(state);

	assert_int_equal(setup(state), 0);
	f = *state;
	feed(f->sv[1], 1, true);
	assert_int_equal(io_read_to_eof(f->sv[0], 0, &buf, &len), -EMSGSIZE);
}

static void
test_read_to_eof_faults(void **state)
{
	struct fds *f = *state;
	char *buf = NULL;
	size_t len = 0;

	/* short reads and EINTR on the way */
	feed(f->sv[1], 600, true);
	faults[F_READ].cap = 7;
	fault_set(F_READ, f->sv[0], 5, 2, EINTR);
	assert_int_equal(io_read_to_eof(f->sv[0], 4096, &buf, &len), 0);
	assert_int_equal(len, 600);
	check_pattern(buf, 600);
	free(buf);
	teardown(state);

	/* a reset connection ends the input like EOF */
	assert_int_equal(setup(state), 0);
	f = *state;
	feed(f->sv[1], 10, false);
	fault_set(F_READ, f->sv[0], 1, 1, ECONNRESET);
	assert_int_equal(io_read_to_eof(f->sv[0], 4096, &buf, &len), 0);
	assert_int_equal(len, 10);
	free(buf);

	/* EAGAIN: wait, then read on */
	assert_int_equal(fd_set_nonblock(f->sv[0], true), 0);
	feed(f->sv[1], 3, true);
	fault_set(F_READ, f->sv[0], 0, 1, EAGAIN);
	assert_int_equal(io_read_to_eof(f->sv[0], 4096, &buf, &len), 0);
	assert_int_equal(faults[F_POLL].calls, 1);
	assert_int_equal(len, 3);
	free(buf);
	teardown(state);

	/* other errors, after some data (no leak of the buffer) */
	assert_int_equal(setup(state), 0);
	f = *state;
	feed(f->sv[1], 300, false);
	fault_set(F_READ, f->sv[0], 2, 1, EIO);
	buf = NULL;
	assert_int_equal(io_read_to_eof(f->sv[0], 4096, &buf, &len), -EIO);
	assert_null(buf);
}

static void
test_read_to_eof_enomem(void **state)
{
	struct fds *f = *state;
	char *buf = NULL;
	size_t len = 0;

	feed(f->sv[1], 1000, true);
	/* the first buffer */
	fault_set(F_ALLOC, -1, 0, 1, ENOMEM);
	assert_int_equal(io_read_to_eof(f->sv[0], 4096, &buf, &len), -ENOMEM);
	assert_null(buf);
	teardown(state);
	/* growing it (the buffer read so far is freed) */
	assert_int_equal(setup(state), 0);
	f = *state;
	feed(f->sv[1], 1000, true);
	fault_set(F_ALLOC, -1, 1, 1, ENOMEM);
	assert_int_equal(io_read_to_eof(f->sv[0], 4096, &buf, &len), -ENOMEM);
	assert_int_equal(faults[F_ALLOC].calls, 2);
	assert_null(buf);
}

static void
test_wait_readable(void **state)
{
	struct fds *f = *state;

	/* nothing there: a zero timeout returns at once */
	assert_int_equal(io_wait_readable(f->sv[0], 0), 0);
	feed(f->sv[1], 1, false);
	assert_int_equal(io_wait_readable(f->sv[0], -1), 1);
	/* EINTR is retried */
	fault_set(F_POLL, -1, 0, 1, EINTR);
	assert_int_equal(io_wait_readable(f->sv[0], -1), 1);
	assert_int_equal(faults[F_POLL].calls, 2);
	/* other errors are returned */
	fault_set(F_POLL, -1, 0, 1, ENOMEM);
	assert_int_equal(io_wait_readable(f->sv[0], -1), -ENOMEM);
	/* a hang-up counts as ready (the read then sees EOF) */
	fault_reset();
	assert_int_equal(io_wait_readable(f->sv[1], 0), 0);
	unit_close(&f->sv[0]);
	assert_int_equal(io_wait_readable(f->sv[1], -1), 1);
}

static void
test_deadline(void **state)
{
	uint64_t now = now_ms(), d;

	(void)state;
	assert_int_equal(io_deadline(-1), IO_NO_DEADLINE);
	d = io_deadline(0);
	assert_true(d >= now && d <= now_ms());
	d = io_deadline(5000);
	assert_true(d >= now + 5000 && d <= now_ms() + 5000);
}

static void
test_write_all_until(void **state)
{
	struct fds *f = *state;
	static char big[1 << 16];
	char buf[8];
	uint64_t t0;
	int r;

	/* room enough: as io_write_all, with MSG_DONTWAIT on a blocking fd */
	assert_int_equal(
	    io_write_all_until(f->sv[0], "abc", 3, io_deadline(1000)), 0);
	assert_int_equal(io_read_all(f->sv[1], buf, 3, NULL), 0);
	assert_memory_equal(buf, "abc", 3);
	/* short sends and EINTR on the way */
	faults[F_SEND].cap = 2;
	fault_set(F_SEND, f->sv[0], 1, 1, EINTR);
	assert_int_equal(
	    io_write_all_until(f->sv[0], "defgh", 5, io_deadline(1000)), 0);
	assert_int_equal(faults[F_SEND].calls, 4);
	assert_int_equal(io_read_all(f->sv[1], buf, 5, NULL), 0);
	assert_memory_equal(buf, "defgh", 5);
	fault_reset();
	/*
	 * A peer that reads nothing: the blocking socket fills up, and the
	 * deadline ends the write instead of a send() that never returns.
	 */
	t0 = now_ms();
	do
		r = io_write_all_until(
		    f->sv[0], big, sizeof(big), io_deadline(100));
	while (r == 0 && now_ms() - t0 < 10000);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(faults[F_POLL].calls > 0);
	/* an expired deadline with no room: at once */
	t0 = now_ms();
	assert_int_equal(
	    io_write_all_until(f->sv[0], big, sizeof(big), t0), -ETIMEDOUT);
	assert_true(now_ms() - t0 < 50);
	/* a poll error is returned */
	fault_set(F_POLL, -1, 0, 1, ENOMEM);
	assert_int_equal(
	    io_write_all_until(f->sv[0], big, sizeof(big), io_deadline(1000)),
	    -ENOMEM);
}

/* poll_hook for test_read_to_eof_until_trickle: one byte before each poll */
static int trickle_fd = -1;

static void
trickle(struct pollfd *fds, nfds_t nfds, int timeout)
{
	(void)fds;
	(void)nfds;
	(void)timeout;
	assert_int_equal(write(trickle_fd, "x", 1), 1);
}

static void
test_read_to_eof_until(void **state)
{
	struct fds *f = *state;
	char *buf = NULL;
	size_t len = 0;
	uint64_t t0;

	/* everything before the deadline, with short reads and EINTR */
	feed(f->sv[1], 600, true);
	faults[F_READ].cap = 7;
	fault_set(F_READ, f->sv[0], 5, 2, EINTR);
	assert_int_equal(
	    io_read_to_eof_until(f->sv[0], 4096, io_deadline(1000), &buf, &len),
	    0);
	assert_int_equal(len, 600);
	check_pattern(buf, 600);
	free(buf);
	teardown(state);

	/* the limits hold as in io_read_to_eof */
	assert_int_equal(setup(state), 0);
	f = *state;
	feed(f->sv[1], 1001, true);
	buf = NULL;
	assert_int_equal(
	    io_read_to_eof_until(f->sv[0], 1000, io_deadline(1000), &buf, &len),
	    -EMSGSIZE);
	assert_null(buf);
	teardown(state);

	/* a silent peer on a blocking socket: -ETIMEDOUT at the deadline */
	assert_int_equal(setup(state), 0);
	f = *state;
	feed(f->sv[1], 10, false);
	t0 = now_ms();
	assert_int_equal(
	    io_read_to_eof_until(f->sv[0], 4096, io_deadline(100), &buf, &len),
	    -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 100);
	assert_true(now_ms() - t0 < 5000);
	assert_null(buf);
	/* a poll error is returned, the buffer freed */
	fault_set(F_POLL, -1, 0, 1, EIO);
	assert_int_equal(
	    io_read_to_eof_until(f->sv[0], 4096, io_deadline(100), &buf, &len),
	    -EIO);
	assert_null(buf);
}

static void
test_read_to_eof_until_trickle(void **state)
{
	struct fds *f = *state;
	char *buf = NULL;
	size_t len = 0;
	uint64_t t0;

	/*
	 * A peer that sends a byte whenever asked and never ends: every
	 * read succeeds at once, so only a deadline for the whole read,
	 * not one for each step, ends it.
	 */
	trickle_fd = f->sv[1];
	poll_hook = trickle;
	t0 = now_ms();
	assert_int_equal(io_read_to_eof_until(
	                     f->sv[0], 1u << 24, io_deadline(100), &buf, &len),
	    -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 100);
	assert_true(now_ms() - t0 < 5000);
	assert_true(faults[F_POLL].calls > 1);
	assert_null(buf);
	trickle_fd = -1;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_read_all),
	    T(test_read_all_eof),
	    T(test_read_all_errors),
	    T(test_read_all_eagain),
	    T(test_write_all),
	    T(test_write_all_pipe),
	    T(test_write_file_all),
	    T(test_read_to_eof_sizes),
	    T(test_read_to_eof_faults),
	    T(test_read_to_eof_enomem),
	    T(test_wait_readable),
	    T(test_deadline),
	    T(test_write_all_until),
	    T(test_read_to_eof_until),
	    T(test_read_to_eof_until_trickle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
