/*
 * test_proto_qrexec.c - the qrexec message validators: exact sizes, sizes
 * one off, maximum sizes, missing or misplaced NULs, bad characters,
 * unknown types and messages of the wrong protocol version; for HELLO,
 * exec and its reply, service-connect and -refused, connection-terminated,
 * the three trigger formats, data headers, and the name checks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/proto/qrexec.h"

static void
test_hello(void **state)
{
	uint32_t v = 4, got = 0;
	uint8_t buf[5] = {0};

	(void)state;
	memcpy(buf, &v, 4);
	assert_int_equal(proto_hello_parse(buf, 4, &got), 0);
	assert_int_equal(got, 4);
	assert_int_equal(proto_hello_parse(buf, 3, &got), -EBADMSG);
	assert_int_equal(proto_hello_parse(buf, 5, &got), -EBADMSG);
	assert_int_equal(proto_hello_parse(buf, 0, &got), -EBADMSG);
}

/* Build exec params + tail into buf; returns the length. */
static size_t
mk_exec(
    uint8_t *buf, uint32_t dom, uint32_t port, const void *tail, size_t taillen)
{
	struct qrexec_exec_params ep = {
	    .ep_connect_domain = dom, .ep_connect_port = port};

	memcpy(buf, &ep, sizeof(ep));
	memcpy(buf + sizeof(ep), tail, taillen);
	return sizeof(ep) + taillen;
}

static void
test_exec(void **state)
{
	static uint8_t buf[8 + QREXEC_MAX_CMD_LEN + 2];
	struct qrexec_exec e;
	size_t n;

	(void)state;
	n = mk_exec(buf, 43, 1024, "user:true", 10);
	assert_int_equal(proto_exec_parse(buf, n, &e), 0);
	assert_int_equal(e.domain, 43);
	assert_int_equal(e.port, 1024);
	assert_string_equal(e.cmdline, "user:true");
	assert_int_equal(e.cmdline_len, 9);
	/* one byte short: the NUL is cut off */
	assert_int_equal(proto_exec_parse(buf, n - 1, &e), -EBADMSG);
	/* one byte more: a byte after the NUL */
	buf[n] = 'x';
	assert_int_equal(proto_exec_parse(buf, n + 1, &e), -EBADMSG);
	/* interior NUL */
	n = mk_exec(buf, 1, 2, "a\0b", 4);
	assert_int_equal(proto_exec_parse(buf, n, &e), -EBADMSG);
	/* only the params, or less */
	assert_int_equal(proto_exec_parse(buf, 8, &e), -EBADMSG);
	assert_int_equal(proto_exec_parse(buf, 7, &e), -EBADMSG);
	/* the maximum command length, and one over */
	memset(buf + 8, 'a', QREXEC_MAX_CMD_LEN + 1);
	buf[8 + QREXEC_MAX_CMD_LEN - 1] = '\0';
	assert_int_equal(proto_exec_parse(buf, 8 + QREXEC_MAX_CMD_LEN, &e), 0);
	buf[8 + QREXEC_MAX_CMD_LEN - 1] = 'a';
	buf[8 + QREXEC_MAX_CMD_LEN] = '\0';
	assert_int_equal(
	    proto_exec_parse(buf, 8 + QREXEC_MAX_CMD_LEN + 1, &e), -EBADMSG);
}

static void
test_service_connect(void **state)
{
	uint8_t buf[64];
	struct qrexec_service_connect sc;
	char ident[32] = "SOCKET11";
	size_t n;

	(void)state;
	/* full 32-byte ident, as Qubes' daemon sends it */
	n = mk_exec(buf, 43, 513, ident, 32);
	assert_int_equal(proto_service_connect_parse(buf, n, &sc), 0);
	assert_string_equal(sc.ident, "SOCKET11");
	assert_int_equal(sc.tail_len, 32);
	/* short ident with its NUL, as a client may send it */
	n = mk_exec(buf, 43, 513, "SOCKET11", 9);
	assert_int_equal(proto_service_connect_parse(buf, n, &sc), 0);
	assert_int_equal(sc.tail_len, 9);
	/* no NUL */
	n = mk_exec(buf, 43, 513, "SOCKET11", 8);
	assert_int_equal(proto_service_connect_parse(buf, n, &sc), -EBADMSG);
	/* 33 bytes: too long */
	memset(buf + 8, 0, 33);
	assert_int_equal(
	    proto_service_connect_parse(buf, 8 + 33, &sc), -EBADMSG);
	/* a byte after the NUL */
	n = mk_exec(buf, 43, 513, "ab\0c", 5);
	assert_int_equal(proto_service_connect_parse(buf, n, &sc), -EBADMSG);
	/* a bad character */
	n = mk_exec(buf, 43, 513, "a/b", 4);
	assert_int_equal(proto_service_connect_parse(buf, n, &sc), -EBADMSG);
}

static size_t
mk_trigger4(uint8_t *buf, const char *src, const char *tgt, const char *ident,
    const void *svc, size_t svclen)
{
	struct qrexec_trigger4 t;

	memset(&t, 0, sizeof(t));
	memcpy(t.t4_source_domain, src, strlen(src));
	memcpy(t.t4_target_domain, tgt, strlen(tgt));
	memcpy(t.t4_ident, ident, strlen(ident));
	memcpy(buf, &t, sizeof(t));
	memcpy(buf + sizeof(t), svc, svclen);
	return sizeof(t) + svclen;
}

static void
test_trigger4(void **state)
{
	static uint8_t buf[160 + QREXEC_MAX_SERVICE_NAME_LEN + 2];
	struct qrexec_trigger t;
	char raw[32];
	size_t n;

	(void)state;
	n = mk_trigger4(buf, "", "work", "SOCKET7", "qubes.Filecopy+a", 17);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf, n, &t, raw), 0);
	assert_string_equal(t.target, "work");
	assert_string_equal(t.source, "");
	assert_string_equal(t.ident, "SOCKET7");
	assert_string_equal(t.service, "qubes.Filecopy+a");
	/* wrong version: v4 triggers need v4 */
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE4, 3, buf, n, &t, raw),
	    -EPROTO);
	/* the fixed part only, or less (QSB-089) */
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf, 160, &t, raw),
	    -EBADMSG);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf, 96, &t, raw),
	    -EBADMSG);
	/* service name without NUL, empty, leading '+', interior NUL */
	n = mk_trigger4(buf, "", "work", "ab", "a", 1);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf, n, &t, raw),
	    -EINVAL);
	assert_string_equal(raw, "ab");
	n = mk_trigger4(buf, "", "work", "ab", "", 1);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf, n, &t, raw),
	    -EINVAL);
	n = mk_trigger4(buf, "", "work", "ab", "+a", 3);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf, n, &t, raw),
	    -EINVAL);
	n = mk_trigger4(buf, "", "work", "ab", "a\0a", 4);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf, n, &t, raw),
	    -EINVAL);
	/* bad characters are refused, not rewritten */
	n = mk_trigger4(buf, "", "wo/rk", "ab", "a", 2);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf, n, &t, raw),
	    -EINVAL);
	n = mk_trigger4(buf, "", "work", "ab", "a b", 4);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf, n, &t, raw),
	    -EINVAL);
	/* a bad ident is refused with the raw ident echoed */
	n = mk_trigger4(buf, "", "work", "\1\2\3", "a", 2);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf, n, &t, raw),
	    -EINVAL);
	assert_memory_equal(raw, "\1\2\3", 4);
	/* the longest service name, and one byte more */
	(void)mk_trigger4(buf, "", "work", "ab", "", 0);
	memset(buf + 160, 'a', QREXEC_MAX_SERVICE_NAME_LEN + 1);
	buf[160 + QREXEC_MAX_SERVICE_NAME_LEN - 1] = '\0';
	assert_int_equal(proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf,
	                     160 + QREXEC_MAX_SERVICE_NAME_LEN, &t, raw),
	    0);
	assert_int_equal(proto_trigger_parse(MSG_TRIGGER_SERVICE4, 4, buf,
	                     160 + QREXEC_MAX_SERVICE_NAME_LEN + 1, &t, raw),
	    -EBADMSG);
	/* an unknown type */
	assert_int_equal(
	    proto_trigger_parse(0x999, 4, buf, n, &t, raw), -EPROTO);
}

static void
test_trigger2(void **state)
{
	struct qrexec_trigger2 t2;
	struct qrexec_trigger t;
	char raw[32];

	(void)state;
	memset(&t2, 0, sizeof(t2));
	memcpy(t2.t2_service_name, "qubes.Svc", 9);
	memcpy(t2.t2_target_domain, "work", 4);
	memcpy(t2.t2_ident, "ab", 2);
	assert_int_equal(proto_trigger_parse(
	                     MSG_TRIGGER_SERVICE, 2, &t2, sizeof(t2), &t, raw),
	    0);
	assert_string_equal(t.service, "qubes.Svc");
	/* v2 triggers are not allowed once v3 is negotiated */
	assert_int_equal(proto_trigger_parse(
	                     MSG_TRIGGER_SERVICE, 3, &t2, sizeof(t2), &t, raw),
	    -EPROTO);
	assert_int_equal(proto_trigger_parse(MSG_TRIGGER_SERVICE, 2, &t2,
	                     sizeof(t2) - 1, &t, raw),
	    -EBADMSG);
	/* names Qubes' test refuses: "\0a", "+", "+a" */
	memset(t2.t2_service_name, 0, sizeof(t2.t2_service_name));
	memcpy(t2.t2_service_name, "\0a", 2);
	assert_int_equal(proto_trigger_parse(
	                     MSG_TRIGGER_SERVICE, 2, &t2, sizeof(t2), &t, raw),
	    -EINVAL);
	memset(t2.t2_service_name, 0, sizeof(t2.t2_service_name));
	memcpy(t2.t2_service_name, "+a", 2);
	assert_int_equal(proto_trigger_parse(
	                     MSG_TRIGGER_SERVICE, 2, &t2, sizeof(t2), &t, raw),
	    -EINVAL);
}

static void
test_data_hdr(void **state)
{
	(void)state;
	assert_int_equal(proto_data_hdr_check(MSG_DATA_STDIN, 4096, 4096), 0);
	assert_int_equal(
	    proto_data_hdr_check(MSG_DATA_STDIN, 4097, 4096), -EBADMSG);
	assert_int_equal(proto_data_hdr_check(MSG_DATA_STDOUT, 0, 4096), 0);
	assert_int_equal(proto_data_hdr_check(MSG_DATA_EXIT_CODE, 4, 65536), 0);
	assert_int_equal(
	    proto_data_hdr_check(MSG_DATA_EXIT_CODE, 3, 65536), -EBADMSG);
	assert_int_equal(
	    proto_data_hdr_check(MSG_DATA_EXIT_CODE, 5, 65536), -EBADMSG);
	assert_int_equal(proto_data_hdr_check(MSG_HELLO, 4, 65536), -EBADMSG);
	assert_int_equal(proto_max_chunk(2), 4096);
	assert_int_equal(proto_max_chunk(3), 65536);
	assert_int_equal(proto_max_chunk(4), 65536);
}

static void
test_exec_reply(void **state)
{
	struct qrexec_exec_params ep = {
	    .ep_connect_domain = 7, .ep_connect_port = 0x12345};
	uint8_t buf[16] = {0};
	uint32_t d = 1, p = 1;

	(void)state;
	memcpy(buf, &ep, sizeof(ep));
	assert_int_equal(proto_exec_reply_parse(buf, 8, &d, &p), 0);
	assert_int_equal(d, 7);
	assert_int_equal(p, 0x12345);
	d = p = 1;
	assert_int_equal(proto_exec_reply_parse(buf, 7, &d, &p), -EBADMSG);
	assert_int_equal(proto_exec_reply_parse(buf, 9, &d, &p), -EBADMSG);
	assert_int_equal(proto_exec_reply_parse(buf, 0, &d, &p), -EBADMSG);
	/* untouched on failure */
	assert_int_equal(d, 1);
	assert_int_equal(proto_conn_terminated_parse(buf, 8, &d, &p), 0);
	assert_int_equal(d, 7);
	assert_int_equal(proto_conn_terminated_parse(buf, 7, &d, &p), -EBADMSG);
	assert_int_equal(proto_conn_terminated_parse(buf, 9, &d, &p), -EBADMSG);
}

static void
test_service_refused(void **state)
{
	char buf[QREXEC_IDENT_LEN + 1], ident[QREXEC_IDENT_LEN];

	(void)state;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "SOCKET 12", 9);
	assert_int_equal(
	    proto_service_refused_parse(buf, QREXEC_IDENT_LEN, ident), 0);
	assert_memory_equal(ident, buf, QREXEC_IDENT_LEN);
	/* exactly 32 bytes */
	assert_int_equal(
	    proto_service_refused_parse(buf, QREXEC_IDENT_LEN - 1, ident),
	    -EBADMSG);
	assert_int_equal(
	    proto_service_refused_parse(buf, QREXEC_IDENT_LEN + 1, ident),
	    -EBADMSG);
	/* the longest ident: 31 characters and the NUL */
	memset(buf, 'i', QREXEC_IDENT_LEN - 1);
	buf[QREXEC_IDENT_LEN - 1] = '\0';
	assert_int_equal(
	    proto_service_refused_parse(buf, QREXEC_IDENT_LEN, ident), 0);
	/* no NUL at all */
	buf[QREXEC_IDENT_LEN - 1] = 'i';
	assert_int_equal(
	    proto_service_refused_parse(buf, QREXEC_IDENT_LEN, ident),
	    -EBADMSG);
	/* bytes after the NUL */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "ab\0c", 4);
	assert_int_equal(
	    proto_service_refused_parse(buf, QREXEC_IDENT_LEN, ident),
	    -EBADMSG);
	buf[2] = 'x';
	buf[3] = '\0';
	buf[QREXEC_IDENT_LEN - 1] = 'z';
	assert_int_equal(
	    proto_service_refused_parse(buf, QREXEC_IDENT_LEN, ident),
	    -EBADMSG);
}

static void
test_ident_check(void **state)
{
	char id[QREXEC_IDENT_LEN];
	int c;

	(void)state;
	/* each byte value as the only character */
	for (c = 1; c < 256; c++) {
		bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || c == '_' || c == '-' ||
		    c == '.' || c == ' ';

		memset(id, 0, sizeof(id));
		id[0] = (char)c;
		assert_int_equal(proto_ident_check(id), ok ? 0 : -EBADMSG);
	}
}

/* Build a v3 trigger: target, ident, then svclen bytes of svc. */
static size_t
mk_trigger3(uint8_t *buf, const char *tgt, const char *ident, const void *svc,
    size_t svclen)
{
	struct qrexec_trigger3 t;

	memset(&t, 0, sizeof(t));
	memcpy(t.t3_target_domain, tgt, strlen(tgt));
	memcpy(t.t3_ident, ident, strlen(ident));
	memcpy(buf, &t, sizeof(t));
	memcpy(buf + sizeof(t), svc, svclen);
	return sizeof(t) + svclen;
}

static void
test_trigger3(void **state)
{
	static uint8_t buf[96 + QREXEC_MAX_SERVICE_NAME_LEN + 2];
	struct qrexec_trigger t;
	char raw[32], tgt[65];
	size_t n;

	(void)state;
	n = mk_trigger3(buf, "@dispvm:dvm", "SOCKET3", "qubes.Svc+x", 12);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE3, 3, buf, n, &t, raw), 0);
	assert_string_equal(t.target, "@dispvm:dvm");
	assert_string_equal(t.source, "");
	assert_string_equal(t.ident, "SOCKET3");
	assert_string_equal(t.service, "qubes.Svc+x");
	assert_int_equal(t.service_len, 11);
	/* also once v4 is negotiated; never at v2 */
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE3, 4, buf, n, &t, raw), 0);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE3, 2, buf, n, &t, raw),
	    -EPROTO);
	/* the fixed part only, or one byte less */
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE3, 3, buf, 96, &t, raw),
	    -EBADMSG);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE3, 3, buf, 95, &t, raw),
	    -EBADMSG);
	/* service: no NUL, a byte after the NUL */
	n = mk_trigger3(buf, "work", "a", "svc", 3);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE3, 3, buf, n, &t, raw),
	    -EINVAL);
	n = mk_trigger3(buf, "work", "a", "svc\0x", 5);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE3, 3, buf, n, &t, raw),
	    -EINVAL);
	/* the longest service name, and one byte more */
	(void)mk_trigger3(buf, "work", "a", "", 0);
	memset(buf + 96, 's', QREXEC_MAX_SERVICE_NAME_LEN + 1);
	buf[96 + QREXEC_MAX_SERVICE_NAME_LEN - 1] = '\0';
	assert_int_equal(proto_trigger_parse(MSG_TRIGGER_SERVICE3, 3, buf,
	                     96 + QREXEC_MAX_SERVICE_NAME_LEN, &t, raw),
	    0);
	assert_int_equal(proto_trigger_parse(MSG_TRIGGER_SERVICE3, 3, buf,
	                     96 + QREXEC_MAX_SERVICE_NAME_LEN + 1, &t, raw),
	    -EBADMSG);
	/* a target of 63 characters; 64 leave no room for the NUL */
	memset(tgt, 't', sizeof(tgt));
	tgt[63] = '\0';
	n = mk_trigger3(buf, tgt, "a", "svc", 4);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE3, 3, buf, n, &t, raw), 0);
	assert_string_equal(t.target, tgt);
	tgt[63] = 't';
	tgt[64] = '\0';
	n = mk_trigger3(buf, tgt, "a", "svc", 4);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE3, 3, buf, n, &t, raw),
	    -EINVAL);
	/* bytes after the target's NUL */
	n = mk_trigger3(buf, "work", "a", "svc", 4);
	buf[10] = 'x';
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE3, 3, buf, n, &t, raw),
	    -EINVAL);
	/* a bad ident: refused, echoed raw */
	n = mk_trigger3(buf, "work", "a/b", "svc", 4);
	assert_int_equal(
	    proto_trigger_parse(MSG_TRIGGER_SERVICE3, 3, buf, n, &t, raw),
	    -EINVAL);
	assert_memory_equal(raw, "a/b", 4);
}

static void
test_names(void **state)
{
	char s[70];
	int c;

	(void)state;
	for (c = 0; c < 256; c++)
		assert_int_equal(proto_name_char_ok((unsigned char)c),
		    (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		        (c >= 'a' && c <= 'z') || c == '_' || c == '-' ||
		        c == '.');
	/* targets: 0..63 characters, '@' and ':' allowed, '+' not */
	memset(s, 'a', sizeof(s));
	assert_true(proto_target_valid(s, 0));
	assert_true(proto_target_valid(s, 63));
	assert_false(proto_target_valid(s, 64));
	assert_true(proto_target_valid("@dispvm:x", 9));
	assert_false(proto_target_valid("a+b", 3));
	assert_false(proto_target_valid("a b", 3));
	/* services: non-empty name, '+' only after it */
	assert_false(proto_service_valid("", 0));
	assert_false(proto_service_valid("+a", 2));
	assert_true(proto_service_valid("a+", 2));
	assert_true(proto_service_valid("a+b+c", 5));
	assert_false(proto_service_valid("a:b", 3));
	assert_false(proto_service_valid("a@b", 3));
	assert_false(proto_service_valid("a\0b", 3));
	assert_int_equal(proto_max_chunk(0), 4096);
}

static void
test_qube_name(void **state)
{
	static const char *const good[] = {"work", "disp1234", "a", "A-b_c.d",
	    "abcdefghijklmnopqrstuvwxyz01234"};
	static const char *const bad[] = {"", "1abc", "-a", ".a", "_a", "a b",
	    "a/b", "a@b", "@dispvm", "a:b", "a+b", "caf\xc3\xa9",
	    "abcdefghijklmnopqrstuvwxyz012345", "a\n"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(proto_qube_name_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(proto_qube_name_valid(bad[i]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello),
	    cmocka_unit_test(test_exec),
	    cmocka_unit_test(test_service_connect),
	    cmocka_unit_test(test_trigger4),
	    cmocka_unit_test(test_trigger2),
	    cmocka_unit_test(test_data_hdr),
	    cmocka_unit_test(test_exec_reply),
	    cmocka_unit_test(test_service_refused),
	    cmocka_unit_test(test_ident_check),
	    cmocka_unit_test(test_trigger3),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_qube_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
