/*
 * test_msg.c - qrexec framing (src/lib/msg.c): the nonblocking reader
 * (complete, partial, zero-length and maximum-size messages; a header over
 * the maximum refused before its body arrives; truncation at EOF; a full
 * buffer; EINTR, ECONNRESET, EAGAIN, errors and ENOMEM in fill), msg_queue,
 * msg_send (fast path, short sendmsg, EAGAIN, pipes, errors), msg_recv
 * (sizes at and over the limit, truncated header or body, ENOMEM) and the
 * HELLO helpers with wrong types and lengths.
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

#include "lib/io.h"
#include "lib/msg.h"
#include "lib/util.h"
#include "unit.h"

struct fixture {
	int sv[2]; /* sv[0]: the code under test, sv[1]: the test's peer */
	struct msg_reader rd;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	fault_reset();
	if (f == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv) < 0)
		return -1;
	if (fd_set_nonblock(f->sv[0], true) < 0)
		return -1;
	msg_reader_init(&f->rd, 100);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	fault_reset();
	msg_reader_free(&f->rd);
	unit_close(&f->sv[0]);
	unit_close(&f->sv[1]);
	free(f);
	return 0;
}

static void
raw(int fd, const void *p, size_t len)
{
	assert_int_equal(io_write_all(fd, p, len), 0);
}

static void
hdr_only(int fd, uint32_t type, uint32_t len)
{
	struct qrexec_hdr h = {.hdr_type = type, .hdr_len = len};

	raw(fd, &h, sizeof(h));
}

static void
test_reader_messages(void **state)
{
	struct fixture *f = *state;
	struct qrexec_hdr h;
	const uint8_t *body;

	unit_send_msg(f->sv[1], MSG_DATA_STDIN, "hello", 5);
	unit_send_msg(f->sv[1], MSG_DATA_STDOUT, NULL, 0);
	hdr_only(f->sv[1], MSG_DATA_STDERR, 3);
	raw(f->sv[1], "ab", 2);
	/* nothing read yet */
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), 0);
	assert_false(msg_reader_has_partial(&f->rd));
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 13 + 8 + 10);
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), 1);
	assert_int_equal(h.hdr_type, MSG_DATA_STDIN);
	assert_int_equal(h.hdr_len, 5);
	assert_memory_equal(body, "hello", 5);
	/* a zero-length message */
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), 1);
	assert_int_equal(h.hdr_type, MSG_DATA_STDOUT);
	assert_int_equal(h.hdr_len, 0);
	/* the third is incomplete: wait for more */
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), 0);
	assert_true(msg_reader_has_partial(&f->rd));
	assert_int_equal(msg_reader_peek(&f->rd, &h), 0);
	/* nothing more to read yet */
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), -EAGAIN);
	raw(f->sv[1], "c", 1);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 1);
	/* peek shows the header without taking the message */
	memset(&h, 0, sizeof(h));
	assert_int_equal(msg_reader_peek(&f->rd, &h), 1);
	assert_int_equal(h.hdr_type, MSG_DATA_STDERR);
	assert_int_equal(msg_reader_peek(&f->rd, &h), 1);
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), 1);
	assert_int_equal(h.hdr_len, 3);
	assert_memory_equal(body, "abc", 3);
	/* taken: nothing partial left once the next call consumes it */
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), 0);
	assert_false(msg_reader_has_partial(&f->rd));
	/* a clean EOF */
	unit_close(&f->sv[1]);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 0);
	assert_true(f->rd.eof);
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), 0);
}

static void
test_reader_sizes(void **state)
{
	struct fixture *f = *state;
	static uint8_t big[101];
	struct qrexec_hdr h;
	const uint8_t *body;

	memset(big, 'm', sizeof(big));
	/* exactly the maximum */
	unit_send_msg(f->sv[1], MSG_DATA_STDIN, big, 100);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 108);
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), 1);
	assert_int_equal(h.hdr_len, 100);
	assert_memory_equal(body, big, 100);
	/* one over: refused on the header alone, before the body arrives */
	hdr_only(f->sv[1], MSG_DATA_STDIN, 101);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 8);
	assert_int_equal(msg_reader_peek(&f->rd, &h), -EMSGSIZE);
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), -EMSGSIZE);
	teardown(state);

	/* far over: no memory is set aside for it */
	assert_int_equal(setup(state), 0);
	f = *state;
	hdr_only(f->sv[1], MSG_DATA_STDIN, UINT32_MAX);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 8);
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), -EMSGSIZE);
	assert_true(f->rd.in.cap <= 100 + 8 + 64 * 1024);
}

static void
test_reader_truncated(void **state)
{
	struct fixture *f = *state;
	struct qrexec_hdr h;
	const uint8_t *body;

	/* EOF in the middle of a body */
	hdr_only(f->sv[1], MSG_DATA_STDIN, 10);
	raw(f->sv[1], "abc", 3);
	unit_close(&f->sv[1]);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 11);
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), 0);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 0);
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), -EPROTO);
	teardown(state);

	/* EOF in the middle of a header */
	assert_int_equal(setup(state), 0);
	f = *state;
	raw(f->sv[1], "\x90\x01\x00", 3);
	unit_close(&f->sv[1]);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 3);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 0);
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), -EPROTO);
}

static void
test_reader_full(void **state)
{
	struct fixture *f = *state;
	static uint8_t zeros[100 * 80];
	struct qrexec_hdr h;
	const uint8_t *body;
	size_t total = 0, want = 100 + 8 + 64 * 1024;
	long n;

	/* a peer that sends more than fits: fill stops at the limit */
	memset(zeros, 0, sizeof(zeros));
	while (total < want + sizeof(zeros)) {
		raw(f->sv[1], zeros, sizeof(zeros));
		total += sizeof(zeros);
	}
	total = 0;
	while ((n = msg_reader_fill(&f->rd, f->sv[0])) > 0)
		total += (size_t)n;
	assert_int_equal(n, -ENOBUFS);
	assert_int_equal(total, want);
	/* taking a message makes room again */
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), 1);
	assert_int_equal(h.hdr_len, 0);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 8);
}

static void
test_reader_fill_faults(void **state)
{
	struct fixture *f = *state;
	struct qrexec_hdr h;
	const uint8_t *body;

	unit_send_msg(f->sv[1], MSG_DATA_STDIN, "x", 1);
	fault_set(F_READ, f->sv[0], 0, 2, EINTR);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 9);
	assert_int_equal(faults[F_READ].calls, 3);
	fault_set(F_READ, f->sv[0], 0, 1, EIO);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), -EIO);
	assert_false(f->rd.eof);
	/* no memory for the read buffer */
	fault_reset();
	msg_reader_free(&f->rd);
	msg_reader_init(&f->rd, 100);
	fault_set(F_ALLOC, -1, 0, 1, ENOMEM);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), -ENOMEM);
	/* a reset connection is an EOF */
	fault_set(F_READ, f->sv[0], 0, 1, ECONNRESET);
	assert_int_equal(msg_reader_fill(&f->rd, f->sv[0]), 0);
	assert_true(f->rd.eof);
	assert_int_equal(msg_reader_next(&f->rd, &h, &body), 0);
}

static void
test_queue(void **state)
{
	struct buffer b;
	struct qrexec_hdr h;

	(void)state;
	buffer_init(&b, 8 + 5 + 8);
	assert_int_equal(msg_queue(&b, MSG_DATA_STDOUT, "ab", 2, "cde", 3), 0);
	assert_int_equal(buffer_len(&b), 13);
	memcpy(&h, buffer_data(&b), sizeof(h));
	assert_int_equal(h.hdr_type, MSG_DATA_STDOUT);
	assert_int_equal(h.hdr_len, 5);
	assert_memory_equal(buffer_data(&b) + 8, "abcde", 5);
	/* exactly the room left: a bare header */
	assert_int_equal(msg_queue(&b, MSG_DATA_STDIN, NULL, 0, NULL, 0), 0);
	assert_int_equal(buffer_len(&b), 21);
	/* one byte over the limit: nothing queued */
	buffer_consume(&b, 13);
	assert_int_equal(
	    msg_queue(&b, MSG_DATA_STDIN, "x", 6, NULL, 0), -ENOBUFS);
	assert_int_equal(buffer_len(&b), 8);
	/* a length that does not fit the header field */
	assert_int_equal(
	    msg_queue(&b, MSG_DATA_STDIN, "x", UINT32_MAX, "y", 1), -EMSGSIZE);
	assert_int_equal(buffer_len(&b), 8);
	buffer_free(&b);
}

static void
check_msg(int fd, uint32_t type, const char *body)
{
	struct qrexec_hdr h;
	uint8_t *b;

	unit_recv_msg(fd, &h, &b);
	assert_int_equal(h.hdr_type, type);
	assert_int_equal(h.hdr_len, strlen(body));
	assert_memory_equal(b, body, h.hdr_len);
	free(b);
}

static void
test_send(void **state)
{
	struct fixture *f = *state;
	size_t cap;

	assert_int_equal(fd_set_nonblock(f->sv[0], false), 0);
	assert_int_equal(
	    msg_send(f->sv[0], MSG_DATA_STDIN, "abc", 3, "de", 2), 0);
	assert_int_equal(faults[F_SENDMSG].calls, 1);
	assert_int_equal(faults[F_SEND].calls, 0);
	check_msg(f->sv[1], MSG_DATA_STDIN, "abcde");
	/* short sendmsg at every offset: the slow path finishes it */
	for (cap = 1; cap < 13; cap++) {
		fault_reset();
		faults[F_SENDMSG].cap = cap;
		assert_int_equal(
		    msg_send(f->sv[0], MSG_DATA_STDOUT, "abc", 3, "de", 2), 0);
		assert_true(faults[F_SEND].calls >= 1);
		check_msg(f->sv[1], MSG_DATA_STDOUT, "abcde");
	}
	/* EINTR is retried on the fast path */
	fault_reset();
	fault_set(F_SENDMSG, -1, 0, 1, EINTR);
	assert_int_equal(msg_send(f->sv[0], MSG_HELLO, NULL, 0, NULL, 0), 0);
	assert_int_equal(faults[F_SENDMSG].calls, 2);
	check_msg(f->sv[1], MSG_HELLO, "");
	/* EAGAIN: everything through the slow path */
	fault_set(F_SENDMSG, -1, 0, 1, EAGAIN);
	assert_int_equal(
	    msg_send(f->sv[0], MSG_DATA_STDERR, "x", 1, NULL, 0), 0);
	check_msg(f->sv[1], MSG_DATA_STDERR, "x");
	/* an error on the fast path, and one on the slow path */
	fault_set(F_SENDMSG, -1, 0, 1, EIO);
	assert_int_equal(
	    msg_send(f->sv[0], MSG_DATA_STDERR, "x", 1, NULL, 0), -EIO);
	fault_reset();
	faults[F_SENDMSG].cap = 3;
	fault_set(F_SEND, f->sv[0], 0, 1, ENOBUFS);
	assert_int_equal(
	    msg_send(f->sv[0], MSG_DATA_STDERR, "x", 1, NULL, 0), -ENOBUFS);
	assert_int_equal(io_read_all(f->sv[1], &cap, 3, NULL), 0);
	/* too long for the header: nothing sent */
	fault_reset();
	assert_int_equal(
	    msg_send(f->sv[0], MSG_DATA_STDIN, "x", UINT32_MAX, "y", 1),
	    -EMSGSIZE);
	assert_int_equal(faults[F_SENDMSG].calls, 0);
	/* the peer is gone */
	unit_close(&f->sv[1]);
	assert_int_equal(
	    msg_send(f->sv[0], MSG_DATA_STDIN, "x", 1, NULL, 0), -EPIPE);
}

static void
test_send_pipe(void **state)
{
	int p[2];

	(void)state;
	/* not a socket: the slow path with write() */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(msg_send(p[1], MSG_DATA_STDOUT, "pi", 2, "pe", 2), 0);
	assert_true(faults[F_WRITE].calls >= 2);
	check_msg(p[0], MSG_DATA_STDOUT, "pipe");
	(void)close(p[0]);
	(void)close(p[1]);
}

static void
test_recv(void **state)
{
	struct fixture *f = *state;
	static uint8_t big[101];
	struct qrexec_hdr h;
	uint8_t *body = (uint8_t *)"untouched";

	assert_int_equal(fd_set_nonblock(f->sv[0], false), 0);
	memset(big, 'r', sizeof(big));
	unit_send_msg(f->sv[1], MSG_DATA_STDIN, big, 100);
	assert_int_equal(msg_recv(f->sv[0], 100, &h, &body), 0);
	assert_int_equal(h.hdr_type, MSG_DATA_STDIN);
	assert_int_equal(h.hdr_len, 100);
	assert_memory_equal(body, big, 100);
	free(body);
	/* no payload: no buffer */
	unit_send_msg(f->sv[1], MSG_DATA_STDOUT, NULL, 0);
	assert_int_equal(msg_recv(f->sv[0], 100, &h, &body), 0);
	assert_null(body);
	/* one over the limit: refused without allocating */
	body = (uint8_t *)"untouched";
	fault_reset();
	unit_send_msg(f->sv[1], MSG_DATA_STDIN, big, 101);
	assert_int_equal(msg_recv(f->sv[0], 100, &h, &body), -EMSGSIZE);
	assert_int_equal(faults[F_ALLOC].calls, 0);
	assert_string_equal((char *)body, "untouched");
}

static void
test_recv_truncated(void **state)
{
	struct fixture *f = *state;
	struct qrexec_hdr h;
	uint8_t *body = NULL;

	assert_int_equal(fd_set_nonblock(f->sv[0], false), 0);
	/* EOF in the body (the partial body is freed) */
	hdr_only(f->sv[1], MSG_DATA_STDIN, 10);
	raw(f->sv[1], "abc", 3);
	assert_int_equal(shutdown(f->sv[1], SHUT_WR), 0);
	assert_int_equal(msg_recv(f->sv[0], 100, &h, &body), -EPROTO);
	assert_null(body);
	teardown(state);

	/* EOF in the header */
	assert_int_equal(setup(state), 0);
	f = *state;
	raw(f->sv[1], "\x90\x01", 2);
	assert_int_equal(shutdown(f->sv[1], SHUT_WR), 0);
	assert_int_equal(msg_recv(f->sv[0], 100, &h, &body), -EPROTO);
	teardown(state);

	/* EOF before anything */
	assert_int_equal(setup(state), 0);
	f = *state;
	assert_int_equal(shutdown(f->sv[1], SHUT_WR), 0);
	assert_int_equal(msg_recv(f->sv[0], 100, &h, &body), -EPIPE);
}

static void
test_recv_faults(void **state)
{
	struct fixture *f = *state;
	struct qrexec_hdr h;
	uint8_t *body = NULL;

	/* an error reading the header */
	assert_int_equal(fd_set_nonblock(f->sv[0], false), 0);
	unit_send_msg(f->sv[1], MSG_DATA_STDIN, "abcd", 4);
	fault_set(F_READ, f->sv[0], 0, 1, EIO);
	assert_int_equal(msg_recv(f->sv[0], 100, &h, &body), -EIO);
	teardown(state);

	/* an error reading the body (the partial body is freed) */
	assert_int_equal(setup(state), 0);
	f = *state;
	assert_int_equal(fd_set_nonblock(f->sv[0], false), 0);
	unit_send_msg(f->sv[1], MSG_DATA_STDIN, "abcd", 4);
	fault_set(F_READ, f->sv[0], 1, 1, EIO);
	assert_int_equal(msg_recv(f->sv[0], 100, &h, &body), -EIO);
	assert_int_equal(faults[F_READ].calls, 2);
	assert_null(body);
	teardown(state);

	/* no memory for the body */
	assert_int_equal(setup(state), 0);
	f = *state;
	assert_int_equal(fd_set_nonblock(f->sv[0], false), 0);
	unit_send_msg(f->sv[1], MSG_DATA_STDIN, "abcd", 4);
	fault_set(F_ALLOC, -1, 0, 1, ENOMEM);
	assert_int_equal(msg_recv(f->sv[0], 100, &h, &body), -ENOMEM);
	assert_null(body);
}

static void
test_hello(void **state)
{
	struct fixture *f = *state;
	uint32_t v = 0, four = 4;

	assert_int_equal(fd_set_nonblock(f->sv[0], false), 0);
	assert_int_equal(msg_send_hello(f->sv[1], 3), 0);
	assert_int_equal(msg_recv_hello(f->sv[0], &v), 0);
	assert_int_equal(v, 3);
	/* a HELLO of the wrong length, short and long */
	unit_send_msg(f->sv[1], MSG_HELLO, &four, 3);
	assert_int_equal(msg_recv_hello(f->sv[0], &v), -EBADMSG);
	unit_send_msg(f->sv[1], MSG_HELLO, "12345", 5);
	assert_int_equal(msg_recv_hello(f->sv[0], &v), -EMSGSIZE);
	teardown(state);

	/* a message of another type where HELLO is due (wrong phase) */
	assert_int_equal(setup(state), 0);
	f = *state;
	assert_int_equal(fd_set_nonblock(f->sv[0], false), 0);
	unit_send_msg(f->sv[1], MSG_DATA_STDIN, &four, 4);
	v = 0;
	assert_int_equal(msg_recv_hello(f->sv[0], &v), -EBADMSG);
	assert_int_equal(v, 0);
	unit_send_msg(f->sv[1], MSG_EXEC_CMDLINE, NULL, 0);
	assert_int_equal(msg_recv_hello(f->sv[0], &v), -EBADMSG);
	/* the peer closes instead */
	unit_close(&f->sv[1]);
	assert_int_equal(msg_recv_hello(f->sv[0], &v), -EPIPE);
	assert_int_equal(msg_send_hello(f->sv[0], 3), -EPIPE);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_reader_messages),
	    T(test_reader_sizes),
	    T(test_reader_truncated),
	    T(test_reader_full),
	    T(test_reader_fill_faults),
	    T(test_queue),
	    T(test_send),
	    T(test_send_pipe),
	    T(test_recv),
	    T(test_recv_truncated),
	    T(test_recv_faults),
	    T(test_hello),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
