/*
 * test_relay.c - the byte relay between two halves of a call
 * (src/lib/relay.c), run between socket pairs: data both ways (small, and
 * megabytes with peer threads), EOF propagated as a shutdown, one side
 * closing early (half-close, full close, close with unread data: a reset)
 * while the other still delivers, a read error, poll failures, and the
 * per-direction memory bound (checked from the poll mock while the
 * receiver never reads).
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/io.h"
#include "lib/relay.h"
#include "lib/util.h"
#include "unit.h"

/*
 * Every test runs twice: with splice through a pipe (the default) and
 * through the buffer (RELAY_NO_SPLICE, the fall-back); the fault
 * injection on read() (read errors, EINTR) is for the buffer only.
 */
static unsigned relay_flags;

#define RUN(f) relay_run_opts((f)->a, (f)->b, relay_flags)

/* a, b: the relay's ends; pa, pb: the peers behind them */
struct fixture {
	int a, pa, b, pb;
};

static int setup(void **state);

static int
setup_splice(void **state)
{
	relay_flags = 0;
	return setup(state);
}

static int
setup_buffer(void **state)
{
	relay_flags = RELAY_NO_SPLICE;
	return setup(state);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int s1[2], s2[2];

	fault_reset();
	if (f == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2) < 0)
		return -1;
	f->a = s1[0];
	f->pa = s1[1];
	f->b = s2[0];
	f->pb = s2[1];
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	fault_reset();
	unit_close(&f->a);
	unit_close(&f->pa);
	unit_close(&f->b);
	unit_close(&f->pb);
	free(f);
	return 0;
}

/* Expect exactly text, then EOF, on fd. */
static void
expect(int fd, const char *text)
{
	char *got;
	size_t n = unit_read_eof(fd, &got);

	assert_int_equal(n, strlen(text));
	assert_memory_equal(got, text, n);
	free(got);
}

static void
test_both_ways(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(io_write_all(f->pa, "to b", 4), 0);
	assert_int_equal(shutdown(f->pa, SHUT_WR), 0);
	assert_int_equal(io_write_all(f->pb, "to a!", 5), 0);
	assert_int_equal(shutdown(f->pb, SHUT_WR), 0);
	assert_int_equal(RUN(f), 0);
	expect(f->pb, "to b");
	expect(f->pa, "to a!");
	/* the relay closes neither fd */
	assert_true(fcntl(f->a, F_GETFD) >= 0);
	assert_true(fcntl(f->b, F_GETFD) >= 0);
}

static void
test_empty(void **state)
{
	struct fixture *f = *state;

	/* EOF both ways at once */
	assert_int_equal(shutdown(f->pa, SHUT_WR), 0);
	assert_int_equal(shutdown(f->pb, SHUT_WR), 0);
	assert_int_equal(RUN(f), 0);
	expect(f->pa, "");
	expect(f->pb, "");
}

/* A peer thread: write len pattern bytes (seeded) and shut down. */
struct writer {
	int fd;
	size_t len;
	uint8_t seed;
	pthread_t t;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	uint8_t buf[8192];
	size_t done = 0, i;

	while (done < w->len) {
		size_t n =
		    w->len - done < sizeof(buf) ? w->len - done : sizeof(buf);

		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)(w->seed + (done + i) * 13);
		if (io_write_all(w->fd, buf, n) < 0)
			break;
		done += n;
	}
	(void)shutdown(w->fd, SHUT_WR);
	return NULL;
}

/* A peer thread: read to EOF, count bytes, check the pattern. */
struct reader {
	int fd;
	uint8_t seed;
	size_t got;
	bool bad;
	pthread_t t;
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	uint8_t buf[10000];
	ssize_t n, i;

	while ((n = read(r->fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] !=
			    (uint8_t)(r->seed + (r->got + (size_t)i) * 13))
				r->bad = true;
		r->got += (size_t)n;
	}
	if (n < 0)
		r->bad = true;
	return NULL;
}

static void
test_large(void **state)
{
	struct fixture *f = *state;
	size_t len = 4u * RELAY_BUFFER_SIZE + 12345;
	struct writer wa = {.fd = f->pa, .len = len, .seed = 1};
	struct writer wb = {.fd = f->pb, .len = len + 7, .seed = 2};
	struct reader ra = {.fd = f->pa, .seed = 2};
	struct reader rb = {.fd = f->pb, .seed = 1};

	assert_int_equal(pthread_create(&wa.t, NULL, writer_main, &wa), 0);
	assert_int_equal(pthread_create(&wb.t, NULL, writer_main, &wb), 0);
	assert_int_equal(pthread_create(&ra.t, NULL, reader_main, &ra), 0);
	assert_int_equal(pthread_create(&rb.t, NULL, reader_main, &rb), 0);
	/* spliced: the relay never read()s its ends (any read would fail) */
	if (relay_flags == 0) {
		fault_set(F_READ, f->a, 0, -1, EIO);
		fault_set(F_WRITE, f->b, 0, -1, EIO);
	}
	assert_int_equal(RUN(f), 0);
	assert_int_equal(pthread_join(wa.t, NULL), 0);
	assert_int_equal(pthread_join(wb.t, NULL), 0);
	assert_int_equal(pthread_join(ra.t, NULL), 0);
	assert_int_equal(pthread_join(rb.t, NULL), 0);
	assert_int_equal(rb.got, len);
	assert_false(rb.bad);
	assert_int_equal(ra.got, len + 7);
	assert_false(ra.bad);
}

static void
test_half_close(void **state)
{
	struct fixture *f = *state;
	size_t len = 2u * RELAY_BUFFER_SIZE;
	struct writer wb = {.fd = f->pb, .len = len, .seed = 3};
	struct reader ra = {.fd = f->pa, .seed = 3};

	/* a has nothing to say; b goes on delivering, all of it arrives */
	assert_int_equal(shutdown(f->pa, SHUT_WR), 0);
	assert_int_equal(pthread_create(&wb.t, NULL, writer_main, &wb), 0);
	assert_int_equal(pthread_create(&ra.t, NULL, reader_main, &ra), 0);
	assert_int_equal(RUN(f), 0);
	assert_int_equal(pthread_join(wb.t, NULL), 0);
	assert_int_equal(pthread_join(ra.t, NULL), 0);
	assert_int_equal(ra.got, len);
	assert_false(ra.bad);
	/* and b saw a's EOF */
	expect(f->pb, "");
}

static void
test_sender_closes(void **state)
{
	struct fixture *f = *state;
	char data[10000];

	/* a writes and closes for good: what it sent still arrives */
	memset(data, 'd', sizeof(data));
	assert_int_equal(io_write_all(f->pa, data, sizeof(data)), 0);
	unit_close(&f->pa);
	assert_int_equal(io_write_all(f->pb, "late reply", 10), 0);
	assert_int_equal(shutdown(f->pb, SHUT_WR), 0);
	assert_int_equal(RUN(f), 0);
	data[sizeof(data) - 1] = '\0';
	{
		char *got;

		assert_int_equal(unit_read_eof(f->pb, &got), sizeof(data));
		assert_memory_equal(got, data, sizeof(data) - 1);
		free(got);
	}
}

static void
test_receiver_gone(void **state)
{
	struct fixture *f = *state;
	char data[50000], c;

	/*
	 * b's peer is gone while a still delivers: a's data is dropped, a
	 * sees both EOF (nothing more will come) and that its data is no
	 * longer read, and the relay ends.
	 */
	memset(data, 'e', sizeof(data));
	unit_close(&f->pb);
	assert_int_equal(io_write_all(f->pa, data, sizeof(data)), 0);
	assert_int_equal(RUN(f), 0);
	assert_int_equal(read(f->pa, &c, 1), 0);
	assert_int_equal(send(f->pa, "x", 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EPIPE);
}

static void
test_reset(void **state)
{
	struct fixture *f = *state;

	/* a's peer closes with data it never read: a reset, seen as EOF */
	assert_int_equal(io_write_all(f->a, "unread", 6), 0);
	assert_int_equal(io_write_all(f->pb, "reply", 5), 0);
	assert_int_equal(shutdown(f->pb, SHUT_WR), 0);
	unit_close(&f->pa);
	assert_int_equal(RUN(f), 0);
	expect(f->pb, "");
}

static void
test_read_error(void **state)
{
	struct fixture *f = *state;

	/* a read error ends that direction; the other completes */
	assert_int_equal(io_write_all(f->pa, "lost", 4), 0);
	assert_int_equal(io_write_all(f->pb, "kept", 4), 0);
	assert_int_equal(shutdown(f->pb, SHUT_WR), 0);
	fault_set(F_READ, f->a, 0, 1, EIO);
	assert_int_equal(RUN(f), -EIO);
	expect(f->pb, "");
	expect(f->pa, "kept");
}

static void
test_interrupted(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(io_write_all(f->pa, "abc", 3), 0);
	assert_int_equal(shutdown(f->pa, SHUT_WR), 0);
	assert_int_equal(shutdown(f->pb, SHUT_WR), 0);
	fault_set(F_POLL, -1, 0, 1, EINTR);
	fault_set(F_READ, f->a, 0, 1, EINTR);
	assert_int_equal(RUN(f), 0);
	assert_true(faults[F_POLL].calls >= 2);
	assert_true(faults[F_READ].calls >= 2);
	expect(f->pb, "abc");
}

static void
test_poll_error(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(io_write_all(f->pa, "abc", 3), 0);
	fault_set(F_POLL, -1, 1, 1, ENOMEM);
	assert_int_equal(RUN(f), -ENOMEM);
}

/* The memory bound, watched from inside poll. */
static struct {
	struct fixture *f;
	size_t written; /* by a's peer */
	size_t held;    /* by the relay when it stopped reading a */
	bool stalled;
} mb;

static void
bound_hook(struct pollfd *fds, nfds_t nfds, int timeout)
{
	static uint8_t chunk[65536];

	(void)timeout;
	if (mb.stalled || nfds != 2)
		return;
	/* a is not polled for input (or not polled at all) */
	if (fds[0].fd != mb.f->a || !(fds[0].events & POLLIN)) {
		/* read from a, minus what b's socket took, is in the relay */
		size_t read_a = mb.written - unit_pending(mb.f->a);

		mb.held = read_a - unit_pending(mb.f->pb);
		mb.stalled = true;
		/* the end: b's peer goes away, dropping everything */
		unit_close(&mb.f->pb);
		return;
	}
	/* keep a's side full; more than 64 MiB means no bound at all */
	assert_true(mb.written < 64u * 1024u * 1024u);
	for (;;) {
		ssize_t n = send(mb.f->pa, chunk, sizeof(chunk),
		    MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0)
			break;
		mb.written += (size_t)n;
	}
}

static void
test_memory_bound(void **state)
{
	struct fixture *f = *state;

	memset(&mb, 0, sizeof(mb));
	mb.f = f;
	poll_hook = bound_hook;
	assert_int_equal(shutdown(f->pb, SHUT_WR), 0);
	assert_int_equal(RUN(f), 0);
	poll_hook = NULL;
	assert_true(mb.stalled);
	assert_true(mb.held <= RELAY_BUFFER_SIZE);
	/* it did fill its buffer before stopping */
	assert_true(mb.held > RELAY_BUFFER_SIZE - 65536);
	/* a sees that nobody reads its data any more */
	assert_int_equal(send(f->pa, "x", 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EPIPE);
}

#define T(fn)                                                                  \
	cmocka_unit_test_setup_teardown(fn, setup_splice, teardown),           \
	    cmocka_unit_test_setup_teardown(fn, setup_buffer, teardown)
/* faults injected into read(): the buffer path only */
#define TB(fn) cmocka_unit_test_setup_teardown(fn, setup_buffer, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_both_ways),
	    T(test_empty),
	    T(test_large),
	    T(test_half_close),
	    T(test_sender_closes),
	    T(test_receiver_gone),
	    T(test_reset),
	    TB(test_read_error),
	    TB(test_interrupted),
	    T(test_poll_error),
	    T(test_memory_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
