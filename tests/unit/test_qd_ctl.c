/*
 * test_qd_ctl.c - qd_ctl_parse() (src/qrexec-daemon/ctl.c): the check
 * qrexec-daemon's root monitor makes of every packet from its worker,
 * which reads the qube's channel and is as untrusted as the qube.  Exact
 * size and size +-1, the largest request, each type in each phase,
 * padding, stray lengths, slots, and requests whose bytes the trigger
 * validator refuses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qrexec-daemon/daemon.h"

#define BUF_MAX (sizeof(struct qd_ctl) + QD_CTL_MAX_BODY + 1)

/* A packet: the header, then len body bytes (a v4 trigger if body). */
static size_t
packet(uint8_t *buf, uint32_t type, uint32_t slot, int32_t arg,
    uint32_t version, const void *body, size_t len)
{
	struct qd_ctl c = {.qc_type = type,
	    .qc_slot = slot,
	    .qc_arg = arg,
	    .qc_version = version,
	    .qc_len = (uint32_t)len};

	memcpy(buf, &c, sizeof(c));
	if (len)
		memcpy(buf + sizeof(c), body, len);
	return sizeof(c) + len;
}

/* A MSG_TRIGGER_SERVICE4 body for service (its NUL included). */
static size_t
trigger4(uint8_t *out, const char *source, const char *target,
    const char *ident, const char *service)
{
	struct qrexec_trigger4 t;

	memset(&t, 0, sizeof(t));
	strcpy(t.t4_source_domain, source);
	strcpy(t.t4_target_domain, target);
	strcpy(t.t4_ident, ident);
	memcpy(out, &t, sizeof(t));
	strcpy((char *)out + sizeof(t), service);
	return sizeof(t) + strlen(service) + 1;
}

static void
test_hello_and_lost(void **state)
{
	uint8_t buf[BUF_MAX];
	struct qd_ctl c;
	struct qrexec_trigger req;
	size_t n;

	(void)state;
	n = packet(buf, QD_HELLO_OK, 0, 0, 4, NULL, 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_HELLO, buf, n, &c, &req), QD_HELLO_OK);
	assert_int_equal(c.qc_version, 4);
	/* the exact size only */
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_HELLO, buf, n - 1, &c, &req), -EBADMSG);
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_HELLO, buf, n + 1, &c, &req), -EBADMSG);
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_HELLO, buf, 0, &c, &req), -EBADMSG);
	/* HELLO replies only while the HELLO is under way */
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_DIAL, buf, n, &c, &req), -EBADMSG);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	n = packet(buf, QD_HELLO_FAIL, 0, -ETIMEDOUT, 0, NULL, 0);
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_HELLO, buf, n, &c, &req), QD_HELLO_FAIL);
	assert_int_equal(c.qc_arg, -ETIMEDOUT);
	/* a lost channel: not while there is none */
	n = packet(buf, QD_AGENT_LOST, 0, 0, 0, NULL, 0);
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), QD_AGENT_LOST);
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_HELLO, buf, n, &c, &req), QD_AGENT_LOST);
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_DIAL, buf, n, &c, &req), -EBADMSG);
	/* fields a type does not have are zero */
	n = packet(buf, QD_AGENT_LOST, 1, 0, 0, NULL, 0);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	n = packet(buf, QD_AGENT_LOST, 0, 5, 0, NULL, 0);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	n = packet(buf, QD_HELLO_OK, 3, 0, 4, NULL, 0);
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_HELLO, buf, n, &c, &req), -EBADMSG);
	n = packet(buf, QD_HELLO_OK, 0, 1, 4, NULL, 0);
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_HELLO, buf, n, &c, &req), -EBADMSG);
	n = packet(buf, QD_HELLO_FAIL, 0, -ETIMEDOUT, 4, NULL, 0);
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_HELLO, buf, n, &c, &req), -EBADMSG);
	n = packet(buf, QD_AGENT_LOST, 0, 0, 4, NULL, 0);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
}

static void
test_header_fields(void **state)
{
	uint8_t buf[BUF_MAX];
	struct qd_ctl c, *h = (struct qd_ctl *)buf;
	struct qrexec_trigger req;
	size_t n;

	(void)state;
	/* padding is zero */
	n = packet(buf, QD_AGENT_LOST, 0, 0, 0, NULL, 0);
	h->qc_pad = 1;
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	/* the length says what follows, exactly; only QD_CALL has a body */
	n = packet(buf, QD_AGENT_LOST, 0, 0, 0, "x", 1);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	n = packet(buf, QD_AGENT_LOST, 0, 0, 0, NULL, 0);
	h->qc_len = 1;
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	/* the monitor's own types, and others, never come from the worker */
	for (uint32_t t = 0; t < QD_CTL_MAX + 2; t++) {
		if (t == QD_HELLO_OK || t == QD_HELLO_FAIL ||
		    t == QD_AGENT_LOST || t == QD_CALL)
			continue;
		n = packet(buf, t, 0, 0, 0, NULL, 0);
		for (int p = 0; p < QD_PHASE_MAX; p++)
			assert_int_equal(
			    qd_ctl_parse((enum qd_phase)p, buf, n, &c, &req),
			    -EBADMSG);
	}
}

static void
test_call(void **state)
{
	uint8_t body[sizeof(struct qrexec_trigger4) + 64];
	uint8_t *buf = malloc(BUF_MAX);
	struct qd_ctl c;
	struct qrexec_trigger req;
	size_t bl, n;

	(void)state;
	assert_non_null(buf);
	bl = trigger4(body, "work", "personal", "SOCKET7", "qubes.Filecopy");
	n = packet(buf, QD_CALL, 5, MSG_TRIGGER_SERVICE4, 4, body, bl);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), QD_CALL);
	assert_int_equal(c.qc_slot, 5);
	assert_string_equal(req.source, "work");
	assert_string_equal(req.target, "personal");
	assert_string_equal(req.ident, "SOCKET7");
	assert_string_equal(req.service, "qubes.Filecopy");
	/* the service points into the packet */
	assert_ptr_equal(req.service,
	    (const char *)buf + sizeof(struct qd_ctl) +
	        sizeof(struct qrexec_trigger4));
	/* requests only while serving */
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_HELLO, buf, n, &c, &req), -EBADMSG);
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_DIAL, buf, n, &c, &req), -EBADMSG);
	/* one byte short or over */
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_UP, buf, n - 1, &c, &req), -EBADMSG);
	assert_int_equal(
	    qd_ctl_parse(QD_PHASE_UP, buf, n + 1, &c, &req), -EBADMSG);
	/* slots: the last one, and one past */
	n = packet(
	    buf, QD_CALL, QD_MAX_CALLS - 1, MSG_TRIGGER_SERVICE4, 4, body, bl);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), QD_CALL);
	n = packet(
	    buf, QD_CALL, QD_MAX_CALLS, MSG_TRIGGER_SERVICE4, 4, body, bl);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	/* the trigger validator decides: a type the version does not have,
	 * a type that is no trigger, a negative one, a bad service */
	n = packet(buf, QD_CALL, 0, MSG_TRIGGER_SERVICE4, 3, body, bl);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	n = packet(buf, QD_CALL, 0, MSG_HELLO, 4, body, bl);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	n = packet(buf, QD_CALL, 0, -MSG_TRIGGER_SERVICE4, 4, body, bl);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	bl = trigger4(body, "work", "personal", "SOCKET7", "qubes.File/copy");
	n = packet(buf, QD_CALL, 0, MSG_TRIGGER_SERVICE4, 4, body, bl);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	bl = trigger4(body, "work", "per/sonal", "SOCKET7", "qubes.Filecopy");
	n = packet(buf, QD_CALL, 0, MSG_TRIGGER_SERVICE4, 4, body, bl);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	/* a request without its body */
	n = packet(buf, QD_CALL, 0, MSG_TRIGGER_SERVICE4, 4, NULL, 0);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	free(buf);
}

static void
test_largest_call(void **state)
{
	size_t bl =
	    sizeof(struct qrexec_trigger4) + QREXEC_MAX_SERVICE_NAME_LEN;
	uint8_t *body = calloc(1, bl + 1), *buf = malloc(BUF_MAX + 1);
	struct qd_ctl c;
	struct qrexec_trigger req;
	size_t n;

	(void)state;
	assert_non_null(body);
	assert_non_null(buf);
	assert_true(bl <= QD_CTL_MAX_BODY);
	/* the longest service name the agent may send */
	(void)trigger4(body, "a", "b", "1", "");
	memset(body + sizeof(struct qrexec_trigger4), 's',
	    QREXEC_MAX_SERVICE_NAME_LEN - 1);
	n = packet(buf, QD_CALL, 0, MSG_TRIGGER_SERVICE4, 4, body, bl);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), QD_CALL);
	assert_int_equal(req.service_len, QREXEC_MAX_SERVICE_NAME_LEN - 1);
	/* one more byte is over every limit */
	n = packet(buf, QD_CALL, 0, MSG_TRIGGER_SERVICE4, 4, body, bl + 1);
	assert_int_equal(qd_ctl_parse(QD_PHASE_UP, buf, n, &c, &req), -EBADMSG);
	free(body);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello_and_lost),
	    cmocka_unit_test(test_header_fields),
	    cmocka_unit_test(test_call),
	    cmocka_unit_test(test_largest_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
