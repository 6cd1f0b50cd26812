/*
 * test_buffer.c - the bounded byte FIFO (src/lib/buffer.c): appends at the
 * limit, one over and far over it, compaction before growth, growth capped
 * by the limit, ENOMEM from realloc leaving the contents intact, and
 * flushing to sockets and pipes, with EINTR, EAGAIN, short writes and
 * errors injected through the --wrap mocks.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/buffer.h"
#include "lib/util.h"
#include "unit.h"

static int
setup(void **state)
{
	(void)state;
	fault_reset();
	return 0;
}

static void
test_append_consume(void **state)
{
	struct buffer b;

	(void)state;
	buffer_init(&b, 100);
	assert_int_equal(buffer_len(&b), 0);
	assert_int_equal(buffer_room(&b), 100);
	assert_int_equal(buffer_append(&b, "abc", 3), 0);
	assert_int_equal(buffer_append(&b, "de", 2), 0);
	assert_int_equal(buffer_len(&b), 5);
	assert_int_equal(buffer_room(&b), 95);
	assert_memory_equal(buffer_data(&b), "abcde", 5);
	buffer_consume(&b, 2);
	assert_int_equal(buffer_len(&b), 3);
	assert_memory_equal(buffer_data(&b), "cde", 3);
	/* consuming more than is queued empties it */
	buffer_consume(&b, 10);
	assert_int_equal(buffer_len(&b), 0);
	assert_int_equal(b.start, 0);
	/* an empty append needs no memory and changes nothing */
	assert_int_equal(buffer_append(&b, NULL, 0), 0);
	assert_int_equal(buffer_len(&b), 0);
	buffer_free(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	/* freeing twice, or a buffer that never allocated, is harmless */
	buffer_free(&b);
}

static void
test_limit(void **state)
{
	uint8_t big[20];
	struct buffer b;

	(void)state;
	memset(big, 'x', sizeof(big));
	buffer_init(&b, 10);
	/* exactly the limit fits; one byte more does not */
	assert_int_equal(buffer_append(&b, big, 11), -ENOBUFS);
	assert_int_equal(buffer_len(&b), 0);
	assert_int_equal(buffer_append(&b, big, 10), 0);
	assert_int_equal(buffer_room(&b), 0);
	assert_int_equal(buffer_append(&b, big, 1), -ENOBUFS);
	assert_null(buffer_reserve(&b, 1));
	assert_int_equal(errno, ENOBUFS);
	/* the allocation never exceeds the limit, even for a tiny limit */
	assert_int_equal(b.cap, 10);
	buffer_consume(&b, 1);
	assert_int_equal(buffer_append(&b, "y", 1), 0);
	assert_int_equal(buffer_append(&b, "y", 1), -ENOBUFS);
	assert_memory_equal(buffer_data(&b), "xxxxxxxxxy", 10);
	/* a huge request must not wrap around the limit check */
	assert_null(buffer_reserve(&b, SIZE_MAX));
	assert_int_equal(errno, ENOBUFS);
	buffer_free(&b);
}

static void
test_growth(void **state)
{
	static uint8_t data[70000];
	struct buffer b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	buffer_init(&b, 1u << 20);
	assert_int_equal(buffer_append(&b, data, 1), 0);
	assert_int_equal(b.cap, 4096);
	assert_int_equal(buffer_append(&b, data + 1, 5000), 0);
	assert_int_equal(b.cap, 8192);
	assert_int_equal(
	    buffer_append(&b, data + 5001, sizeof(data) - 5001), 0);
	assert_int_equal(b.cap, 131072);
	assert_int_equal(buffer_len(&b), sizeof(data));
	assert_memory_equal(buffer_data(&b), data, sizeof(data));
	buffer_free(&b);

	/* growth stops at the limit, not at the next power of two */
	buffer_init(&b, 5000);
	assert_int_equal(buffer_append(&b, data, 4097), 0);
	assert_int_equal(b.cap, 5000);
	buffer_free(&b);
}

static void
test_reserve_compacts(void **state)
{
	struct buffer b;
	uint8_t *p, *old;

	(void)state;
	buffer_init(&b, 8);
	assert_int_equal(buffer_append(&b, "abcdefgh", 8), 0);
	old = b.data;
	buffer_consume(&b, 5);
	/* room for 4 only after moving "fgh" down: no new allocation */
	fault_set(F_ALLOC, -1, 0, -1, ENOMEM);
	p = buffer_reserve(&b, 4);
	fault_reset();
	assert_non_null(p);
	assert_ptr_equal(b.data, old);
	assert_int_equal(b.start, 0);
	assert_ptr_equal(p, b.data + 3);
	memcpy(p, "WXYZ", 4);
	buffer_commit(&b, 4);
	assert_int_equal(buffer_len(&b), 7);
	assert_memory_equal(buffer_data(&b), "fghWXYZ", 7);
	/* space at the tail is handed out without moving anything */
	buffer_consume(&b, 1);
	p = buffer_reserve(&b, 1);
	assert_ptr_equal(p, b.data + 1 + 6);
	assert_int_equal(b.start, 1);
	/* once empty, the next data starts at the front again */
	buffer_consume(&b, buffer_len(&b));
	p = buffer_reserve(&b, 8);
	assert_ptr_equal(p, b.data);
	buffer_free(&b);
}

static void
test_enomem(void **state)
{
	uint8_t data[5000];
	struct buffer b;

	(void)state;
	memset(data, 'z', sizeof(data));
	buffer_init(&b, 1u << 20);
	/* the first allocation fails */
	fault_set(F_ALLOC, -1, 0, 1, ENOMEM);
	assert_int_equal(buffer_append(&b, "abc", 3), -ENOMEM);
	assert_int_equal(faults[F_ALLOC].calls, 1);
	assert_int_equal(buffer_len(&b), 0);
	assert_null(b.data);
	/* growing fails: what is queued stays as it was */
	assert_int_equal(buffer_append(&b, "abc", 3), 0);
	fault_set(F_ALLOC, -1, 0, 1, ENOMEM);
	assert_int_equal(buffer_append(&b, data, sizeof(data)), -ENOMEM);
	assert_int_equal(buffer_len(&b), 3);
	assert_int_equal(b.cap, 4096);
	assert_memory_equal(buffer_data(&b), "abc", 3);
	/* and works once memory is back */
	assert_int_equal(buffer_append(&b, data, sizeof(data)), 0);
	assert_int_equal(buffer_len(&b), 5003);
	buffer_free(&b);
}

static void
test_flush_socket(void **state)
{
	static uint8_t data[1u << 20];
	struct buffer b;
	int sv[2];
	long n;
	char *got;
	size_t total;

	(void)state;
	unit_socketpair(sv);
	buffer_init(&b, sizeof(data));
	assert_int_equal(buffer_append(&b, "hello", 5), 0);
	assert_int_equal(buffer_flush(&b, sv[0]), 5);
	assert_int_equal(buffer_len(&b), 0);
	/* nothing queued: nothing written */
	assert_int_equal(buffer_flush(&b, sv[0]), 0);

	/* more than the socket takes: a partial flush, the rest queued */
	memset(data, 'q', sizeof(data));
	assert_int_equal(buffer_append(&b, data, sizeof(data)), 0);
	n = buffer_flush(&b, sv[0]);
	assert_true(n > 0);
	assert_true((size_t)n < sizeof(data));
	assert_int_equal(buffer_len(&b), sizeof(data) - (size_t)n);
	/* full socket, blocking fd: returns 0 (would block), never waits */
	assert_int_equal(buffer_flush(&b, sv[0]), 0);
	assert_int_equal(buffer_len(&b), sizeof(data) - (size_t)n);

	/* the reader drains while we flush the rest */
	total = (size_t)n;
	while (buffer_len(&b) > 0) {
		char tmp[65536];
		ssize_t r = read(sv[1], tmp, sizeof(tmp));

		assert_true(r > 0);
		n = buffer_flush(&b, sv[0]);
		assert_true(n >= 0);
		total += (size_t)n;
	}
	assert_int_equal(total, sizeof(data));
	(void)close(sv[0]);
	(void)unit_read_eof(sv[1], &got);
	free(got);
	(void)close(sv[1]);
	buffer_free(&b);
}

static void
test_flush_faults(void **state)
{
	struct buffer b;
	int sv[2];
	char got[16];

	(void)state;
	unit_socketpair(sv);
	buffer_init(&b, 64);
	assert_int_equal(buffer_append(&b, "abcdef", 6), 0);

	/* EINTR is retried */
	fault_set(F_SEND, sv[0], 0, 1, EINTR);
	assert_int_equal(buffer_flush(&b, sv[0]), 6);
	assert_int_equal(faults[F_SEND].calls, 2);
	assert_int_equal(read(sv[1], got, sizeof(got)), 6);
	assert_memory_equal(got, "abcdef", 6);

	/* short sends: the loop goes on until all is written */
	fault_reset();
	faults[F_SEND].cap = 2;
	assert_int_equal(buffer_append(&b, "ghijk", 5), 0);
	assert_int_equal(buffer_flush(&b, sv[0]), 5);
	assert_int_equal(faults[F_SEND].calls, 3);
	assert_int_equal(read(sv[1], got, sizeof(got)), 5);
	assert_memory_equal(got, "ghijk", 5);

	/* an error is returned, with the data still queued */
	fault_reset();
	fault_set(F_SEND, sv[0], 0, 1, EIO);
	assert_int_equal(buffer_append(&b, "lm", 2), 0);
	assert_int_equal(buffer_flush(&b, sv[0]), -EIO);
	assert_int_equal(buffer_len(&b), 2);

	/* a peer that has gone: -EPIPE, and no SIGPIPE kills us */
	fault_reset();
	(void)close(sv[1]);
	assert_int_equal(buffer_flush(&b, sv[0]), -EPIPE);
	assert_int_equal(buffer_len(&b), 2);
	(void)close(sv[0]);
	buffer_free(&b);
}

static void
test_flush_pipe(void **state)
{
	struct buffer b;
	int p[2];
	char got[16];

	(void)state;
	/* not a socket: send() fails with ENOTSOCK and write() is used */
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	buffer_init(&b, 64);
	assert_int_equal(buffer_append(&b, "pipe!", 5), 0);
	assert_int_equal(buffer_flush(&b, p[1]), 5);
	assert_int_equal(faults[F_WRITE].calls, 1);
	assert_int_equal(read(p[0], got, sizeof(got)), 5);
	assert_memory_equal(got, "pipe!", 5);
	/* EAGAIN from write(): 0 written, data kept */
	fault_set(F_WRITE, p[1], 0, 1, EAGAIN);
	assert_int_equal(buffer_append(&b, "x", 1), 0);
	assert_int_equal(buffer_flush(&b, p[1]), 0);
	assert_int_equal(buffer_len(&b), 1);
	buffer_free(&b);
	(void)close(p[0]);
	(void)close(p[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_append_consume, setup),
	    cmocka_unit_test_setup(test_limit, setup),
	    cmocka_unit_test_setup(test_growth, setup),
	    cmocka_unit_test_setup(test_reserve_compacts, setup),
	    cmocka_unit_test_setup(test_enomem, setup),
	    cmocka_unit_test_setup(test_flush_socket, setup),
	    cmocka_unit_test_setup(test_flush_faults, setup),
	    cmocka_unit_test_setup(test_flush_pipe, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
