/*
 * test_qmp.c - the QMP client (src/vm/qmp.c) against a fake QEMU on a
 * socketpair.  Most tests script the server's lines into the socket
 * before the client runs (command ids are 1 for qmp_capabilities, then 2,
 * 3, ...), then check the lines the client sent; a thread plays a server
 * that trickles bytes or answers late.
 *
 * The parser: each message type, each required member missing, bad
 * characters and sizes at and beyond their limits, duplicate keys, deep
 * nesting, NUL and newline bytes.  The client: handshake, a reply with
 * events around it, errors, wrong and missing ids, garbage and over-long
 * lines, a stalling server (-ETIMEDOUT by the deadline, the late reply
 * dropped), the bounded event queue, the poll-loop reader, EOF, fd
 * passing with add-fd, query-status; out of memory, EINTR, short and
 * failed sends injected through the --wrap mocks (wrap.c).
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/io.h"
#include "lib/util.h"
#include "unit.h"
#include "vm/qmp.h"

#define GREETING                                                               \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, "    \
	"\"major\": 7}, \"package\": \"Debian\"}, \"capabilities\": "          \
	"[\"oob\"]}}\n"
#define CAPS_OK "{\"return\": {}, \"id\": 1}\n"
#define EVENT(name)                                                            \
	"{\"timestamp\": {\"seconds\": 1795731878, \"microseconds\": 67097}, " \
	"\"event\": \"" name "\"}\n"

struct fx {
	int sv[2]; /* [0] the client's, [1] the fake QEMU's */
	struct qmp *q;
};

static int
setup(void **state)
{
	struct fx *f;

	fault_reset();
	f = calloc(1, sizeof(*f));
	if (f == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv) < 0)
		return -1;
	f->q = qmp_new(f->sv[0]);
	if (f->q == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	fault_reset();
	qmp_free(f->q);
	unit_close(&f->sv[0]);
	unit_close(&f->sv[1]);
	free(f);
	return 0;
}

/* The fake QEMU says s. */
static void
say(struct fx *f, const char *s)
{
	assert_int_equal(io_write_all(f->sv[1], s, strlen(s)), 0);
}

/* What the client sent so far (nonblocking), as a new string. */
static char *
heard(struct fx *f)
{
	char *buf = calloc(1, 65536);
	ssize_t n;

	assert_non_null(buf);
	n = recv(f->sv[1], buf, 65535, MSG_DONTWAIT);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return buf;
}

static void
expect_heard(struct fx *f, const char *want)
{
	char *got = heard(f);

	assert_string_equal(got, want);
	free(got);
}

/* Greeting and capabilities done, the client's line checked. */
static void
handshake(struct fx *f)
{
	say(f, GREETING CAPS_OK);
	assert_int_equal(qmp_handshake(f->q, io_deadline(2000)), 0);
	expect_heard(f, "{\"execute\":\"qmp_capabilities\",\"id\":1}\n");
}

static int
parse(const char *s, struct qmp_msg *m)
{
	return qmp_parse(s, strlen(s), m);
}

/* s is rejected, and the message is left untouched. */
static void
reject(const char *s)
{
	static struct qmp_msg m, before;

	memset(&m, 0x5a, sizeof(m));
	memset(&before, 0x5a, sizeof(before));
	if (parse(s, &m) != -EBADMSG)
		fail_msg("accepted: %s", s);
	assert_memory_equal(&m, &before, sizeof(m));
}

/* ---- parser ---- */

static void
test_parse_greeting(void **state)
{
	struct qmp_msg m;

	(void)state;
	assert_int_equal(qmp_parse(GREETING, strlen(GREETING) - 1, &m), 0);
	assert_int_equal(m.type, QMP_MSG_GREETING);
	assert_int_equal(m.qemu_major, 7);
	assert_int_equal(m.qemu_minor, 2);
	assert_int_equal(m.qemu_micro, 22);
	assert_null(m.data);
	qmp_msg_clear(&m);
	/* the version object is required, its numbers bounded */
	reject("{\"QMP\": {\"capabilities\": []}}");
	reject("{\"QMP\": {\"version\": {\"package\": \"x\"}}}");
	reject("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, "
	       "\"minor\": 2}}}}");
	reject("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, "
	       "\"minor\": 2, \"micro\": 65536}}}}");
	reject("{\"QMP\": {\"version\": {\"qemu\": {\"major\": \"7\", "
	       "\"minor\": 2, \"micro\": 1}}}}");
	reject("{\"QMP\": 1}");
	reject("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, "
	       "\"minor\": 2, \"micro\": 1}}}, \"id\": 1}");
}

static void
test_parse_return(void **state)
{
	struct qmp_msg m;

	(void)state;
	assert_int_equal(parse("{\"return\": {\"status\": \"running\"}, "
	                       "\"id\": 42}\r",
	                     &m),
	    0);
	assert_int_equal(m.type, QMP_MSG_RETURN);
	assert_true(m.has_id);
	assert_int_equal(m.id, 42);
	assert_string_equal(
	    json_string_value(json_object_get(m.data, "status")), "running");
	qmp_msg_clear(&m);
	assert_null(m.data);

	/* any JSON value; the id is optional here (the client wants it) */
	assert_int_equal(parse("{\"return\": [1, 2]}", &m), 0);
	assert_false(m.has_id);
	assert_true(json_is_array(m.data));
	qmp_msg_clear(&m);
	assert_int_equal(parse("{\"return\": null, \"id\": 0}", &m), 0);
	assert_true(json_is_null(m.data));
	qmp_msg_clear(&m);

	reject("{\"return\": {}, \"id\": -1}");
	reject("{\"return\": {}, \"id\": \"1\"}");
	reject("{\"return\": {}, \"id\": 1.5}");
	reject("{\"return\": {}, \"id\": 99999999999999999999}");
	reject("{\"return\": {}, \"id\": 1, \"extra\": 1}");
	reject("{\"return\": {}, \"error\": {\"class\": \"A\", "
	       "\"desc\": \"b\"}}");
}

static void
test_parse_error(void **state)
{
	char big[QMP_MAX_DESC + 100];
	struct qmp_msg m;
	size_t n;

	(void)state;
	assert_int_equal(parse("{\"error\": {\"class\": \"GenericError\", "
	                       "\"desc\": \"no, r\u00e9ally\"}, \"id\": 3}",
	                     &m),
	    0);
	assert_int_equal(m.type, QMP_MSG_ERROR);
	assert_string_equal(m.err_class, "GenericError");
	assert_string_equal(m.err_desc, "no, r\u00e9ally");
	assert_int_equal(m.id, 3);
	qmp_msg_clear(&m);

	reject("{\"error\": {\"class\": \"GenericError\"}, \"id\": 3}");
	reject("{\"error\": {\"desc\": \"x\"}, \"id\": 3}");
	reject("{\"error\": {\"class\": \"\", \"desc\": \"x\"}}");
	reject("{\"error\": {\"class\": \"Bad Class\", \"desc\": \"x\"}}");
	reject("{\"error\": {\"class\": \"A\", \"desc\": \"x\\ny\"}}");
	reject("{\"error\": {\"class\": \"A\", \"desc\": \"x\\u0001\"}}");
	reject("{\"error\": {\"class\": \"A\", \"desc\": \"x\\u0000\"}}");
	reject("{\"error\": {\"class\": \"A\", \"desc\": \"x\", \"y\": 1}}");
	reject("{\"error\": \"GenericError\"}");

	/* the description: QMP_MAX_DESC bytes, not one more */
	n = (size_t)snprintf(big, sizeof(big),
	    "{\"error\": {\"class\": \"A\", \"desc\": \"%0*d\"}}", QMP_MAX_DESC,
	    0);
	assert_int_equal(qmp_parse(big, n, &m), 0);
	assert_int_equal(strlen(m.err_desc), QMP_MAX_DESC);
	qmp_msg_clear(&m);
	n = (size_t)snprintf(big, sizeof(big),
	    "{\"error\": {\"class\": \"A\", \"desc\": \"%0*d\"}}",
	    QMP_MAX_DESC + 1, 0);
	assert_int_equal(qmp_parse(big, n, &m), -EBADMSG);
}

static void
test_parse_event(void **state)
{
	char name[QMP_MAX_EVENT + 2], line[256];
	struct qmp_msg m;

	(void)state;
	assert_int_equal(parse("{\"timestamp\": {\"seconds\": 5, "
	                       "\"microseconds\": 999999}, \"event\": "
	                       "\"SHUTDOWN\", \"data\": {\"guest\": false, "
	                       "\"reason\": \"host-qmp-quit\"}}",
	                     &m),
	    0);
	assert_int_equal(m.type, QMP_MSG_EVENT);
	assert_string_equal(m.event, "SHUTDOWN");
	assert_int_equal(m.ts_sec, 5);
	assert_int_equal(m.ts_usec, 999999);
	assert_string_equal(
	    json_string_value(json_object_get(m.data, "reason")),
	    "host-qmp-quit");
	qmp_msg_clear(&m);
	/* the line without its '\n' */
	assert_int_equal(
	    qmp_parse(EVENT("STOP"), strlen(EVENT("STOP")) - 1, &m), 0);
	assert_null(m.data);
	qmp_msg_clear(&m);

	reject("{\"event\": \"STOP\"}");
	reject("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}");
	reject("{\"timestamp\": {\"seconds\": 1}, \"event\": \"STOP\"}");
	reject("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 1000000}, "
	       "\"event\": \"STOP\"}");
	reject("{\"timestamp\": {\"seconds\": -1, \"microseconds\": 0}, "
	       "\"event\": \"STOP\"}");
	reject("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, "
	       "\"event\": \"stop\"}");
	reject("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, "
	       "\"event\": \"\"}");
	reject("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, "
	       "\"event\": \"STOP\", \"data\": [1]}");
	reject("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, "
	       "\"event\": \"STOP\", \"id\": 1}");
	reject("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0, "
	       "\"x\": 0}, \"event\": \"STOP\"}");

	/* event names: QMP_MAX_EVENT bytes, not one more */
	memset(name, 'A', sizeof(name));
	name[QMP_MAX_EVENT] = '\0';
	(void)snprintf(line, sizeof(line),
	    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, "
	    "\"event\": \"%s\"}",
	    name);
	assert_int_equal(parse(line, &m), 0);
	qmp_msg_clear(&m);
	name[QMP_MAX_EVENT] = 'A';
	name[QMP_MAX_EVENT + 1] = '\0';
	(void)snprintf(line, sizeof(line),
	    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, "
	    "\"event\": \"%s\"}",
	    name);
	reject(line);

	/* the whole line: QMP_MAX_EVENT_LINE bytes, not one more */
	{
		char *big = malloc(QMP_MAX_EVENT_LINE + 2);
		int n;

		assert_non_null(big);
		n = snprintf(big, QMP_MAX_EVENT_LINE + 2,
		    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": "
		    "0}, \"event\": \"X\", \"data\": {\"a\": \"%0*d\"}}",
		    QMP_MAX_EVENT_LINE - 81, 0);
		assert_int_equal(n, QMP_MAX_EVENT_LINE);
		assert_int_equal(qmp_parse(big, (size_t)n, &m), 0);
		qmp_msg_clear(&m);
		n = snprintf(big, QMP_MAX_EVENT_LINE + 2,
		    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": "
		    "0}, \"event\": \"X\", \"data\": {\"a\": \"%0*d\"}}",
		    QMP_MAX_EVENT_LINE - 80, 0);
		assert_int_equal(qmp_parse(big, (size_t)n, &m), -EBADMSG);
		free(big);
	}
}

/* n nested arrays inside a return value */
static char *
nested(size_t n)
{
	char *s = malloc(2 * n + 32);
	size_t o, i;

	if (s == NULL)
		abort();
	memcpy(s, "{\"return\": ", 11);
	o = 11;
	for (i = 0; i < n; i++)
		s[o++] = '[';
	for (i = 0; i < n; i++)
		s[o++] = ']';
	s[o++] = '}';
	s[o] = '\0';
	return s;
}

static void
test_parse_garbage(void **state)
{
	struct qmp_msg m;
	char *s, *big;

	(void)state;
	reject("");
	reject(" ");
	reject("garbage");
	reject("[]");
	reject("\"QMP\"");
	reject("{}");
	reject("{\"hello\": 1}");
	reject("{\"return\": {}, \"id\": 1} {}");
	reject("{\"return\": {}, \"id\": 1, \"id\": 2}");
	reject("{\"return\": {\"a\": 1, \"a\": 2}, \"id\": 1}");
	reject("{\"return\": {}, \"id\": 1");
	reject("{\"return\": \"\xff\"}");
	/* a NUL or newline byte anywhere: not one line */
	assert_int_equal(qmp_parse("{\"return\": {}}\0", 15, &m), -EBADMSG);
	reject("{\"return\":\n{}}");

	/* nesting: the whole message QMP_MAX_DEPTH levels, not one more
	 * (the outer object is one); brackets inside strings do not count */
	s = nested(QMP_MAX_DEPTH - 1);
	assert_int_equal(parse(s, &m), 0);
	qmp_msg_clear(&m);
	free(s);
	s = nested(QMP_MAX_DEPTH);
	reject(s);
	free(s);
	s = nested(100000);
	reject(s);
	free(s);
	assert_int_equal(parse("{\"return\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	                       "[[[[[[[[[[[[[[[[[[[[\\\"[[[[[[[\"}",
	                     &m),
	    0);
	qmp_msg_clear(&m);

	/* QMP_MAX_LINE bytes, not one more */
	big = malloc(QMP_MAX_LINE + 2);
	assert_non_null(big);
	memset(big, ' ', QMP_MAX_LINE + 1);
	memcpy(big, "{\"return\": {}}", 14);
	assert_int_equal(qmp_parse(big, QMP_MAX_LINE, &m), 0);
	qmp_msg_clear(&m);
	assert_int_equal(qmp_parse(big, QMP_MAX_LINE + 1, &m), -EBADMSG);
	free(big);
}

/* ---- client ---- */

static void
test_handshake(void **state)
{
	struct fx *f = *state;
	unsigned int maj, min, mic;

	assert_int_equal(qmp_fd(f->q), f->sv[0]);
	/* commands before the handshake are refused */
	assert_int_equal(qmp_cont(f->q, io_deadline(100)), -EPROTO);
	handshake(f);
	qmp_qemu_version(f->q, &maj, &min, &mic);
	assert_int_equal(maj, 7);
	assert_int_equal(min, 2);
	assert_int_equal(mic, 22);
	assert_int_equal(qmp_handshake(f->q, io_deadline(100)), -EALREADY);
}

static void
test_handshake_not_greeting(void **state)
{
	struct fx *f = *state;

	say(f, EVENT("STOP") GREETING CAPS_OK);
	assert_int_equal(qmp_handshake(f->q, io_deadline(2000)), -EBADMSG);
	/* broken for good */
	assert_int_equal(qmp_handshake(f->q, io_deadline(100)), -EBADMSG);
	assert_int_equal(qmp_cont(f->q, io_deadline(100)), -EBADMSG);
}

static void
test_handshake_refused(void **state)
{
	struct fx *f = *state;

	say(f,
	    GREETING "{\"error\": {\"class\": \"CommandNotFound\", "
	             "\"desc\": \"nope\"}, \"id\": 1}\n");
	assert_int_equal(qmp_handshake(f->q, io_deadline(2000)), -EIO);
	assert_string_equal(qmp_last_error(f->q)->class, "CommandNotFound");
	assert_int_equal(qmp_cont(f->q, io_deadline(100)), -EPROTO);
}

/* A server that sends the greeting a byte at a time. */
static void *
trickle(void *arg)
{
	struct fx *f = arg;
	const char *s = GREETING CAPS_OK;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		assert_int_equal(io_write_all(f->sv[1], s + i, 1), 0);
		if (i % 16 == 0)
			(void)usleep(1000);
	}
	return NULL;
}

static void
test_handshake_trickle(void **state)
{
	struct fx *f = *state;
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, trickle, f), 0);
	assert_int_equal(qmp_handshake(f->q, io_deadline(5000)), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

static void
test_execute_events(void **state)
{
	struct fx *f = *state;
	struct qmp_msg m;
	json_t *args, *ret = NULL;

	handshake(f);
	say(f,
	    EVENT("RESUME")
	        EVENT("STOP") "{\"return\": {\"answer\": 42}, \"id\": 2}\n" EVENT(
	            "RESET"));
	args = json_pack("{s:s, s:i}", "device", "disk0", "n", 1);
	assert_non_null(args);
	assert_int_equal(
	    qmp_execute(f->q, "device_del", args, &ret, io_deadline(2000)), 0);
	/* args are borrowed */
	assert_int_equal(args->refcount, 1);
	json_decref(args);
	assert_int_equal(
	    json_integer_value(json_object_get(ret, "answer")), 42);
	json_decref(ret);
	expect_heard(f,
	    "{\"execute\":\"device_del\",\"arguments\":"
	    "{\"device\":\"disk0\",\"n\":1},\"id\":2}\n");

	/* the two events queued before the reply, in order; the third
	 * comes from the socket */
	assert_int_equal(qmp_next_event(f->q, &m, io_deadline(100)), 0);
	assert_string_equal(m.event, "RESUME");
	qmp_msg_clear(&m);
	assert_int_equal(qmp_pop_event(f->q, &m), 0);
	assert_string_equal(m.event, "STOP");
	assert_int_equal(m.ts_sec, 1795731878);
	assert_int_equal(m.ts_usec, 67097);
	qmp_msg_clear(&m);
	assert_int_equal(qmp_pop_event(f->q, &m), -EAGAIN);
	assert_int_equal(qmp_next_event(f->q, &m, io_deadline(1000)), 0);
	assert_string_equal(m.event, "RESET");
	qmp_msg_clear(&m);
	/* nothing more: a passed deadline only looks */
	assert_int_equal(qmp_next_event(f->q, &m, 0), -ETIMEDOUT);
	assert_int_equal(qmp_events_dropped(f->q), 0);
}

static void
test_execute_error(void **state)
{
	struct fx *f = *state;
	json_t *ret = NULL;

	handshake(f);
	say(f,
	    "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": "
	    "\"Device 'x' not found\"}, \"id\": 2}\n"
	    "{\"return\": {}, \"id\": 3}\n");
	assert_int_equal(
	    qmp_execute(f->q, "device_del", NULL, &ret, io_deadline(2000)),
	    -EIO);
	assert_null(ret);
	assert_string_equal(qmp_last_error(f->q)->class, "DeviceNotFound");
	assert_string_equal(qmp_last_error(f->q)->desc, "Device 'x' not found");
	/* an error reply does not break the client */
	assert_int_equal(qmp_stop(f->q, io_deadline(2000)), 0);
	expect_heard(f,
	    "{\"execute\":\"device_del\",\"id\":2}\n"
	    "{\"execute\":\"stop\",\"id\":3}\n");
}

static void
expect_broken(struct fx *f, const char *reply)
{
	handshake(f);
	say(f, reply);
	assert_int_equal(qmp_cont(f->q, io_deadline(2000)), -EBADMSG);
	assert_int_equal(qmp_cont(f->q, io_deadline(100)), -EBADMSG);
	assert_int_equal(qmp_read_available(f->q), -EBADMSG);
}

static void
test_wrong_id(void **state)
{
	expect_broken(*state, "{\"return\": {}, \"id\": 3}\n");
}

static void
test_old_id(void **state)
{
	/* id 1 was answered already */
	expect_broken(*state, "{\"return\": {}, \"id\": 1}\n");
}

static void
test_no_id(void **state)
{
	expect_broken(*state, "{\"return\": {}}\n");
}

static void
test_garbage_line(void **state)
{
	expect_broken(*state, "{\"return\": {}, \"id\": 2\n");
}

static void
test_duplicate_keys(void **state)
{
	expect_broken(*state, "{\"return\": {}, \"id\": 2, \"id\": 2}\n");
}

static void
test_missing_fields(void **state)
{
	expect_broken(*state, "{\"error\": {\"class\": \"X\"}, \"id\": 2}\n");
}

static void
test_second_greeting(void **state)
{
	expect_broken(*state, GREETING);
}

static void
test_deep_nesting(void **state)
{
	struct fx *f = *state;
	char *s = nested(5000);
	size_t n = strlen(s);

	s[n - 1] = '\0';
	handshake(f);
	say(f, s);
	say(f, ", \"id\": 2}\n");
	free(s);
	assert_int_equal(qmp_cont(f->q, io_deadline(2000)), -EBADMSG);
}

/* A line longer than QMP_MAX_LINE, never ended: refused when the buffer
 * is full, not read forever. */
static void *
flood(void *arg)
{
	struct fx *f = arg;
	char *chunk = malloc(4096);
	size_t i;

	assert_non_null(chunk);
	memset(chunk, ' ', 4096);
	chunk[0] = '{';
	for (i = 0; i < 64; i++)
		if (io_write_all(f->sv[1], i == 0 ? chunk : chunk + 1,
		        i == 0 ? 4096 : 4095) < 0)
			break;
	free(chunk);
	return NULL;
}

static void
test_long_line(void **state)
{
	struct fx *f = *state;
	pthread_t t;

	handshake(f);
	assert_int_equal(pthread_create(&t, NULL, flood, f), 0);
	assert_int_equal(qmp_cont(f->q, io_deadline(5000)), -EBADMSG);
	/* let the writer end */
	unit_close(&f->sv[0]);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* A maximal line that is valid is accepted. */
static void
test_max_line(void **state)
{
	struct fx *f = *state;
	char *big = malloc(QMP_MAX_LINE + 1);
	int n;

	assert_non_null(big);
	memset(big, ' ', QMP_MAX_LINE);
	n = snprintf(big, QMP_MAX_LINE, "{\"return\": {}, \"id\": 2}");
	big[n] = ' ';
	big[QMP_MAX_LINE] = '\n';
	handshake(f);
	assert_int_equal(io_write_all(f->sv[1], big, QMP_MAX_LINE + 1), 0);
	say(f, "{\"return\": {}, \"id\": 3}\n");
	assert_int_equal(qmp_cont(f->q, io_deadline(2000)), 0);
	assert_int_equal(qmp_stop(f->q, io_deadline(2000)), 0);
	free(big);
}

static void
test_stall(void **state)
{
	struct fx *f = *state;
	uint64_t t0, dt;

	handshake(f);
	say(f, EVENT("STOP"));
	t0 = now_ms();
	assert_int_equal(qmp_cont(f->q, t0 + 200), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 200 && dt < 1500);
	/* a passed deadline does not wait */
	t0 = now_ms();
	assert_int_equal(qmp_stop(f->q, 0), -ETIMEDOUT);
	assert_true(now_ms() - t0 < 500);

	/* the late replies (ids 2, 3) are dropped, the next one is ours */
	say(f,
	    "{\"return\": {}, \"id\": 2}\n" EVENT(
	        "RESUME") "{\"return\": {}, \"id\": 3}\n{\"return\": {}, \"id\": 4}\n");
	assert_int_equal(qmp_system_powerdown(f->q, io_deadline(2000)), 0);
	expect_heard(f,
	    "{\"execute\":\"cont\",\"id\":2}\n"
	    "{\"execute\":\"stop\",\"id\":3}\n"
	    "{\"execute\":\"system_powerdown\",\"id\":4}\n");
	/* a reply to a dropped command cannot come twice */
	say(f, "{\"return\": {}, \"id\": 3}\n");
	assert_int_equal(qmp_read_available(f->q), -EBADMSG);
}

/* No greeting at all: the handshake ends at its deadline. */
static void
test_stall_handshake(void **state)
{
	struct fx *f = *state;
	uint64_t t0 = now_ms();

	assert_int_equal(qmp_handshake(f->q, t0 + 150), -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 150);
}

static void
test_queue_overflow(void **state)
{
	struct fx *f = *state;
	struct qmp_msg m;
	char line[256];
	int i;

	handshake(f);
	for (i = 0; i < 100; i++) {
		(void)snprintf(line, sizeof(line),
		    "{\"timestamp\": {\"seconds\": %d, \"microseconds\": 0}, "
		    "\"event\": \"E%d\"}\n",
		    i, i);
		say(f, line);
	}
	say(f, "{\"return\": {}, \"id\": 2}\n");
	assert_int_equal(qmp_cont(f->q, io_deadline(2000)), 0);
	assert_int_equal(qmp_events_dropped(f->q), 100 - QMP_EVENT_QUEUE_MAX);
	for (i = 100 - QMP_EVENT_QUEUE_MAX; i < 100; i++) {
		assert_int_equal(qmp_pop_event(f->q, &m), 0);
		assert_int_equal(m.ts_sec, i);
		qmp_msg_clear(&m);
	}
	assert_int_equal(qmp_pop_event(f->q, &m), -EAGAIN);
}

static void
test_read_available(void **state)
{
	struct fx *f = *state;
	struct qmp_msg m;

	handshake(f);
	assert_int_equal(qmp_read_available(f->q), 0);
	say(f, EVENT("STOP") EVENT("RESUME") "{\"timestamp\": {\"sec");
	assert_int_equal(qmp_read_available(f->q), 2);
	say(f, "onds\": 1, \"microseconds\": 2}, \"event\": \"POWERDOWN\"}\n");
	assert_int_equal(qmp_read_available(f->q), 1);
	assert_int_equal(qmp_pop_event(f->q, &m), 0);
	assert_string_equal(m.event, "STOP");
	qmp_msg_clear(&m);
	assert_int_equal(qmp_pop_event(f->q, &m), 0);
	qmp_msg_clear(&m);
	assert_int_equal(qmp_pop_event(f->q, &m), 0);
	assert_string_equal(m.event, "POWERDOWN");
	qmp_msg_clear(&m);
	/* the last event before EOF is queued, then EOF reported */
	say(f, EVENT("SHUTDOWN"));
	unit_close(&f->sv[1]);
	assert_int_equal(qmp_read_available(f->q), -EPIPE);
	assert_int_equal(qmp_pop_event(f->q, &m), 0);
	assert_string_equal(m.event, "SHUTDOWN");
	qmp_msg_clear(&m);
	assert_int_equal(qmp_next_event(f->q, &m, io_deadline(100)), -EPIPE);
	assert_int_equal(qmp_cont(f->q, io_deadline(100)), -EPIPE);
}

static void
test_eof_mid_command(void **state)
{
	struct fx *f = *state;

	handshake(f);
	say(f, "{\"return\": {}, ");
	unit_close(&f->sv[1]);
	assert_int_equal(qmp_cont(f->q, io_deadline(2000)), -EPIPE);
}

static void
test_quit(void **state)
{
	struct fx *f = *state;

	handshake(f);
	say(f,
	    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, "
	    "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, "
	    "\"reason\": \"host-qmp-quit\"}}\n");
	unit_close(&f->sv[1]);
	/* EOF instead of the reply: QEMU is gone, as asked */
	assert_int_equal(qmp_quit(f->q, io_deadline(2000)), 0);
}

static void
test_query_status(void **state)
{
	struct fx *f = *state;
	enum qmp_run_state st;

	handshake(f);
	say(f,
	    "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": "
	    "false, \"running\": false}, \"id\": 2}\n"
	    "{\"return\": {\"status\": \"running\"}, \"id\": 3}\n"
	    "{\"return\": {\"status\": \"dancing\"}, \"id\": 4}\n");
	assert_int_equal(qmp_query_status(f->q, &st, io_deadline(2000)), 0);
	assert_int_equal(st, QMP_STATE_PRELAUNCH);
	assert_string_equal(qmp_run_state_name(st), "prelaunch");
	assert_int_equal(qmp_query_status(f->q, &st, io_deadline(2000)), 0);
	assert_int_equal(st, QMP_STATE_RUNNING);
	assert_int_equal(
	    qmp_query_status(f->q, &st, io_deadline(2000)), -EBADMSG);
	assert_string_equal(qmp_run_state_name(QMP_STATE_MAX), "?");
}

static void
test_add_fd(void **state)
{
	struct fx *f = *state;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char line[512];
	struct iovec iov = {.iov_base = line, .iov_len = sizeof(line) - 1};
	struct msghdr mh = {.msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = u.buf,
	    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c;
	int pfd[2], got, set = -1, qfd = -1;
	ssize_t n;

	handshake(f);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	say(f,
	    "{\"return\": {\"fdset-id\": 1, \"fd\": 25}, \"id\": 2}\n"
	    "{\"return\": {\"fdset-id\": 7, \"fd\": 26}, \"id\": 3}\n");
	assert_int_equal(qmp_add_fd(f->q, pfd[1], 1, "console log", &set, &qfd,
	                     io_deadline(2000)),
	    0);
	assert_int_equal(set, 1);
	assert_int_equal(qfd, 25);

	/* the fake QEMU got the line and an fd for the pipe */
	n = recvmsg(f->sv[1], &mh, MSG_CMSG_CLOEXEC);
	assert_true(n > 0);
	line[n] = '\0';
	assert_string_equal(line,
	    "{\"execute\":\"add-fd\",\"arguments\":"
	    "{\"fdset-id\":1,\"opaque\":\"console "
	    "log\"},\"id\":2}\n");
	c = CMSG_FIRSTHDR(&mh);
	assert_non_null(c);
	assert_int_equal(c->cmsg_type, SCM_RIGHTS);
	memcpy(&got, CMSG_DATA(c), sizeof(got));
	assert_int_equal(write(got, "x", 1), 1);
	assert_int_equal(read(pfd[0], line, 1), 1);
	(void)close(got);

	/* the set QEMU chose must be the one asked for */
	assert_int_equal(
	    qmp_add_fd(f->q, pfd[1], 1, NULL, NULL, NULL, io_deadline(2000)),
	    -EBADMSG);
	assert_int_equal(qmp_add_fd(f->q, pfd[1], -1, "bad\n", NULL, NULL,
	                     io_deadline(2000)),
	    -EINVAL);
	(void)close(pfd[0]);
	(void)close(pfd[1]);
}

static void
test_bad_command(void **state)
{
	struct fx *f = *state;
	json_t *arr = json_array();

	handshake(f);
	assert_int_equal(qmp_execute(f->q, "", NULL, NULL, 0), -EINVAL);
	assert_int_equal(
	    qmp_execute(f->q, "quit\",\"x", NULL, NULL, 0), -EINVAL);
	assert_int_equal(qmp_execute(f->q, "Quit", NULL, NULL, 0), -EINVAL);
	assert_int_equal(qmp_execute(f->q, "quit", arr, NULL, 0), -EINVAL);
	assert_int_equal(
	    qmp_send_fd_execute(f->q, -1, "getfd", NULL, NULL, 0), -EBADF);
	json_decref(arr);
	expect_heard(f, "");
}

/* Out of memory in qmp_new: NULL, nothing leaked (ASan checks). */
static void
test_enomem(void **state)
{
	(void)state;
	fault_reset();
	fault_set(F_ALLOC, -1, 0, 1, ENOMEM);
	assert_null(qmp_new(3));
	fault_set(F_ALLOC, -1, 1, 1, ENOMEM);
	assert_null(qmp_new(3));
	fault_reset();
}

/* EINTR in poll and send is retried; a short sendmsg (the fd goes with
 * the first bytes) is finished by plain sends; a failed send breaks the
 * client, since part of a line may be out. */
static void
test_send_faults(void **state)
{
	struct fx *f = *state;
	char line[512];
	int pfd[2];
	ssize_t n;

	handshake(f);
	say(f,
	    "{\"return\": {}, \"id\": 2}\n"
	    "{\"return\": {\"fdset-id\": 0, \"fd\": 9}, \"id\": 3}\n");
	fault_set(F_SEND, f->sv[0], 0, 1, EINTR);
	fault_set(F_POLL, -1, 0, 1, EINTR);
	assert_int_equal(qmp_stop(f->q, io_deadline(2000)), 0);
	assert_int_equal(faults[F_SEND].calls, 2);
	assert_int_equal(faults[F_POLL].fail, 0);
	expect_heard(f, "{\"execute\":\"stop\",\"id\":2}\n");

	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	fault_set(F_SENDMSG, f->sv[0], 0, 0, 0);
	faults[F_SENDMSG].cap = 5;
	assert_int_equal(
	    qmp_add_fd(f->q, pfd[0], -1, NULL, NULL, NULL, io_deadline(2000)),
	    0);
	assert_int_equal(faults[F_SENDMSG].calls, 1);
	/* the part with the fd is a record of its own: read up to '\n' */
	n = 0;
	while (n == 0 || line[n - 1] != '\n') {
		ssize_t k = recv(f->sv[1], line + n,
		    sizeof(line) - 1 - (size_t)n, MSG_DONTWAIT);

		assert_true(k > 0);
		n += k;
	}
	line[n] = '\0';
	assert_string_equal(
	    line, "{\"execute\":\"add-fd\",\"arguments\":{},\"id\":3}\n");
	(void)close(pfd[0]);
	(void)close(pfd[1]);

	fault_set(F_SEND, f->sv[0], 0, 1, ECONNRESET);
	assert_int_equal(qmp_cont(f->q, io_deadline(2000)), -ECONNRESET);
	assert_int_equal(qmp_cont(f->q, io_deadline(2000)), -ECONNRESET);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_greeting),
	    cmocka_unit_test(test_parse_return),
	    cmocka_unit_test(test_parse_error),
	    cmocka_unit_test(test_parse_event),
	    cmocka_unit_test(test_parse_garbage),
	    cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_handshake_not_greeting, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_handshake_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_handshake_trickle, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_execute_events, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_execute_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_old_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_duplicate_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_missing_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_second_greeting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stall, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_stall_handshake, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_queue_overflow, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_read_available, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_eof_mid_command, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_query_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_fd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_command, setup, teardown),
	    cmocka_unit_test(test_enomem),
	    cmocka_unit_test_setup_teardown(test_send_faults, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
