/*
 * test_proto_vmux.c - the vmux frame validators (proto/vmux.c): for each,
 * the exact size, one byte more and less, the maximum, values out of
 * range, and the header's channel rule a type.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lib/proto/vmux.h"
#include "unit.h"

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int
hdr(uint32_t type, uint32_t chan, uint32_t len, struct vmux_hdr *ret)
{
	uint8_t b[12];

	put_u32(b, type);
	put_u32(b + 4, chan);
	put_u32(b + 8, len);
	return proto_vmux_hdr_parse(b, sizeof(b), ret);
}

static void
test_hdr(void **state)
{
	struct vmux_hdr h;
	uint8_t b[13] = {0};

	(void)state;
	assert_int_equal(hdr(VMUX_DATA, 5, 100, &h), 0);
	assert_int_equal(h.hdr_type, VMUX_DATA);
	assert_int_equal(h.hdr_chan, 5);
	assert_int_equal(h.hdr_len, 100);
	/* little-endian on the wire */
	put_u32(b, VMUX_CREDIT);
	b[4] = 0x01;
	b[7] = 0x80;
	put_u32(b + 8, 4);
	assert_int_equal(proto_vmux_hdr_parse(b, 12, &h), 0);
	assert_int_equal(h.hdr_chan, 0x80000001u);
	/* size +-1 */
	assert_int_equal(proto_vmux_hdr_parse(b, 11, &h), -EBADMSG);
	assert_int_equal(proto_vmux_hdr_parse(b, 13, &h), -EBADMSG);
	/* unknown types */
	assert_int_equal(hdr(0, 1, 0, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_TYPE_MAX, 1, 0, &h), -EBADMSG);
	assert_int_equal(hdr(0xffffffffu, 1, 0, &h), -EBADMSG);
	/* the largest payload, and one more */
	assert_int_equal(hdr(VMUX_DATA, 1, VMUX_MAX_DATA, &h), 0);
	assert_int_equal(hdr(VMUX_DATA, 1, VMUX_MAX_DATA + 1, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_DATA, 1, 0xffffffffu, &h), -EBADMSG);
	/* each type's own bound */
	assert_int_equal(hdr(VMUX_HELLO, 0, 4, &h), 0);
	assert_int_equal(hdr(VMUX_HELLO, 0, 5, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_LISTEN, 0, VMUX_NAME_MAX, &h), 0);
	assert_int_equal(hdr(VMUX_LISTEN, 0, VMUX_NAME_MAX + 1, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_OPEN, 1, VMUX_NAME_MAX + 1, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_OPEN_OK, 1, 1, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_CREDIT, 1, 5, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_EOF, 1, 1, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_CLOSE, 1, 1, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_SHUTDOWN, 0, 1, &h), -EBADMSG);
	/* channel 0 only for the directory's and the link's own frames */
	assert_int_equal(hdr(VMUX_HELLO, 1, 4, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_LISTEN, 1, 20, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_UNLISTEN, 1, 20, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_SHUTDOWN, 7, 0, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_DATA, 0, 1, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_OPEN, 0, 20, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_CLOSE, 0, 0, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_DATA, VMUX_CHAN_GUEST_BIT, 1, &h), -EBADMSG);
	assert_int_equal(hdr(VMUX_DATA, 0xffffffffu, 1, &h), 0);
}

static void
test_hello(void **state)
{
	uint8_t b[5] = {0};
	uint32_t v = 0;

	(void)state;
	put_u32(b, 1);
	assert_int_equal(proto_vmux_hello_parse(b, 4, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(proto_vmux_hello_parse(b, 3, &v), -EBADMSG);
	assert_int_equal(proto_vmux_hello_parse(b, 5, &v), -EBADMSG);
	assert_int_equal(proto_vmux_hello_parse(b, 0, &v), -EBADMSG);
	/* a later version is negotiated down by the caller */
	put_u32(b, 7);
	assert_int_equal(proto_vmux_hello_parse(b, 4, &v), 0);
	assert_int_equal(v, 7);
	put_u32(b, 0);
	v = 99;
	assert_int_equal(proto_vmux_hello_parse(b, 4, &v), -EBADMSG);
	assert_int_equal(v, 99); /* ret_ written only on success */
}

typedef int (*name_parse_fn)(const void *, size_t, struct vmux_name *);

static void
check_names(name_parse_fn fn)
{
	static const char *const good[] = {
	    "vchan.0.0.0.sock", "vchan.1.0.512.sock", "vchan.0.12.513.sock",
	    "vchan.4294967295.4294967295.4294967295.sock", /* the longest */
	};
	static const char *const bad[] = {
	    "", "vchan.1.0.512",          /* no suffix */
	    "vchan.1.0.512.sock.",        /* one byte more */
	    "vchan.1.0.512.soc",          /* one byte less */
	    "vchan.1.0.512.sockx",        /* trailing bytes */
	    "vchan.01.0.512.sock",        /* a leading zero */
	    "vchan.1.00.512.sock",        /* "00" */
	    "vchan.1..512.sock",          /* an empty number */
	    "vchan.1.0.sock",             /* two numbers */
	    "vchan.1.0.512.7.sock",       /* four numbers */
	    "vchan.-1.0.512.sock",        /* a sign */
	    "vchan.+1.0.512.sock",        /* a sign */
	    "vchan.1.0.4294967296.sock",  /* u32 + 1 */
	    "vchan.1.0.99999999999.sock", /* eleven digits */
	    "Vchan.1.0.512.sock",         /* case */
	    "vchan.1.0.512.SOCK",         /* case */
	    "../vchan.1.0.512.sock",      /* a path */
	    "vchan.1.0.512.sock/..",      /* a path */
	    "vchan.1/0.512.sock",         /* a slash */
	    "..",                         /* a path */
	    "vchan. 1.0.512.sock",        /* a space */
	    "vchan.1.0.512.sock.tmp",     /* a temporary name */
	    "vchan.4294967295.4294967295.42949672950.sock", /* too long */
	};
	struct vmux_name n;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&n, 'x', sizeof(n));
		assert_int_equal(fn(good[i], strlen(good[i]), &n), 0);
		assert_string_equal(n.name, good[i]);
	}
	assert_int_equal(strlen(good[3]), VMUX_NAME_MAX);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fn(bad[i], strlen(bad[i]), &n) != -EBADMSG)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* a NUL inside, or counted at the end, is not a name */
	assert_int_equal(fn("vchan.1.0.512.sock\0", 19, &n), -EBADMSG);
	assert_int_equal(fn("vchan.1\0.0.512.sock", 19, &n), -EBADMSG);
	/* exact length: the name with one byte less */
	assert_int_equal(fn("vchan.1.0.512.sock", 17, &n), -EBADMSG);
	/* over the maximum */
	{
		char big[VMUX_NAME_MAX + 2];

		memset(big, '1', sizeof(big));
		memcpy(big, "vchan.", 6);
		assert_int_equal(fn(big, sizeof(big), &n), -EBADMSG);
	}
}

static void
test_listen(void **state)
{
	(void)state;
	check_names(proto_vmux_listen_parse);
}

static void
test_unlisten(void **state)
{
	(void)state;
	check_names(proto_vmux_unlisten_parse);
}

static void
test_open(void **state)
{
	(void)state;
	check_names(proto_vmux_open_parse);
}

static void
test_name_check(void **state)
{
	(void)state;
	assert_int_equal(proto_vmux_name_check("vchan.3.0.512.sock", 18), 0);
	assert_int_equal(
	    proto_vmux_name_check("vchan.3.0.512.sock.9.tmp", 24), -EBADMSG);
}

static void
test_empty(void **state)
{
	static int (*const fns[])(const void *, size_t) = {
	    proto_vmux_open_ok_parse,
	    proto_vmux_eof_parse,
	    proto_vmux_close_parse,
	    proto_vmux_shutdown_parse,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		assert_int_equal(fns[i]("", 0), 0);
		assert_int_equal(fns[i]("x", 1), -EBADMSG);
		assert_int_equal(fns[i]("\0\0\0\0", 4), -EBADMSG);
	}
}

static void
test_open_fail(void **state)
{
	uint8_t b[5] = {0};
	int e = 0;

	(void)state;
	put_u32(b, ENOENT);
	assert_int_equal(proto_vmux_open_fail_parse(b, 4, &e), 0);
	assert_int_equal(e, ENOENT);
	assert_int_equal(proto_vmux_open_fail_parse(b, 3, &e), -EBADMSG);
	assert_int_equal(proto_vmux_open_fail_parse(b, 5, &e), -EBADMSG);
	put_u32(b, VMUX_ERRNO_MAX);
	assert_int_equal(proto_vmux_open_fail_parse(b, 4, &e), 0);
	assert_int_equal(e, (int)VMUX_ERRNO_MAX);
	put_u32(b, VMUX_ERRNO_MAX + 1);
	assert_int_equal(proto_vmux_open_fail_parse(b, 4, &e), -EBADMSG);
	put_u32(b, 0);
	assert_int_equal(proto_vmux_open_fail_parse(b, 4, &e), -EBADMSG);
	put_u32(b, 0x80000000u); /* negative as an int */
	assert_int_equal(proto_vmux_open_fail_parse(b, 4, &e), -EBADMSG);
}

static void
test_data(void **state)
{
	static uint8_t big[VMUX_MAX_DATA + 1];
	struct vmux_data d;

	(void)state;
	assert_int_equal(proto_vmux_data_parse(big, 1, &d), 0);
	assert_ptr_equal(d.data, big);
	assert_int_equal(d.len, 1);
	assert_int_equal(proto_vmux_data_parse(big, VMUX_MAX_DATA, &d), 0);
	assert_int_equal(d.len, VMUX_MAX_DATA);
	assert_int_equal(
	    proto_vmux_data_parse(big, VMUX_MAX_DATA + 1, &d), -EBADMSG);
	assert_int_equal(proto_vmux_data_parse(big, 0, &d), -EBADMSG);
}

static void
test_credit(void **state)
{
	uint8_t b[5] = {0};
	uint32_t c = 0;

	(void)state;
	put_u32(b, 4096);
	assert_int_equal(proto_vmux_credit_parse(b, 4, &c), 0);
	assert_int_equal(c, 4096);
	assert_int_equal(proto_vmux_credit_parse(b, 3, &c), -EBADMSG);
	assert_int_equal(proto_vmux_credit_parse(b, 5, &c), -EBADMSG);
	put_u32(b, VMUX_WINDOW);
	assert_int_equal(proto_vmux_credit_parse(b, 4, &c), 0);
	assert_int_equal(c, VMUX_WINDOW);
	put_u32(b, VMUX_WINDOW + 1);
	assert_int_equal(proto_vmux_credit_parse(b, 4, &c), -EBADMSG);
	put_u32(b, 0);
	assert_int_equal(proto_vmux_credit_parse(b, 4, &c), -EBADMSG);
}

static void
test_type_name(void **state)
{
	(void)state;
	assert_string_equal(proto_vmux_type_name(VMUX_DATA), "DATA");
	assert_string_equal(proto_vmux_type_name(VMUX_SHUTDOWN), "SHUTDOWN");
	assert_string_equal(proto_vmux_type_name(0), "?");
	assert_string_equal(proto_vmux_type_name(VMUX_TYPE_MAX), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hdr),
	    cmocka_unit_test(test_hello),
	    cmocka_unit_test(test_listen),
	    cmocka_unit_test(test_unlisten),
	    cmocka_unit_test(test_open),
	    cmocka_unit_test(test_name_check),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_open_fail),
	    cmocka_unit_test(test_data),
	    cmocka_unit_test(test_credit),
	    cmocka_unit_test(test_type_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
