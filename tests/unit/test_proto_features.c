/*
 * test_proto_features.c - proto_features_check(): the admin side's check
 * of a struct features_request that a confined child parsed and handed
 * over (bulkhead-features-request).  Whatever proto_features_parse
 * accepts passes; each way a child taken over by the qube could lie about
 * the fixed layout is refused.  (The parser itself is fuzzed:
 * tests/fuzz/fuzz_features.c.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/proto/features.h"

static struct features_request req;

static void
parsed(bool nt, const char *text)
{
	size_t bad;

	assert_int_equal(
	    proto_features_parse(nt, text, strlen(text), &req, &bad), 0);
}

static void
test_parsed_requests_pass(void **state)
{
	(void)state;
	parsed(false,
	    "qrexec=1\nos=Linux\n\nos-eol=2028-06-30\n"
	    "supported-service.x=1\ngui=\n");
	assert_int_equal(req.n, 5);
	assert_int_equal(proto_features_check(false, &req), 0);
	parsed(true, "qrexec=1\ngui=1\nversion=4\n");
	assert_int_equal(proto_features_check(true, &req), 0);
	parsed(false, "");
	assert_int_equal(proto_features_check(false, &req), 0);
	/* the limits themselves */
	memset(&req, 0, sizeof(req));
	req.n = FEATURES_MAX_LINES;
	for (size_t i = 0; i < req.n; i++)
		(void)snprintf(
		    req.pair[i].name, sizeof(req.pair[i].name), "k%zu", i);
	memset(req.pair[0].value, 'a', FEATURES_MAX_LINE - 1 - 2);
	assert_int_equal(proto_features_check(false, &req), 0);
}

static void
test_lies_refused(void **state)
{
	(void)state;
	/* more pairs than a request may have */
	parsed(false, "a=1\n");
	req.n = FEATURES_MAX_LINES + 1;
	assert_int_equal(proto_features_check(false, &req), -EBADMSG);
	req.n = (size_t)-1;
	assert_int_equal(proto_features_check(false, &req), -EBADMSG);
	/* a name or a value without its NUL */
	parsed(false, "a=1\n");
	memset(req.pair[0].name, 'a', sizeof(req.pair[0].name));
	assert_int_equal(proto_features_check(false, &req), -EBADMSG);
	parsed(false, "a=1\n");
	memset(req.pair[0].value, '1', sizeof(req.pair[0].value));
	assert_int_equal(proto_features_check(false, &req), -EBADMSG);
	/* an empty name */
	parsed(false, "a=1\n");
	req.pair[0].name[0] = '\0';
	assert_int_equal(proto_features_check(false, &req), -EBADMSG);
	/* name and value longer than a line together (257 with the '=') */
	parsed(false, "a=1\n");
	memset(req.pair[0].name, 'n', 128);
	req.pair[0].name[128] = '\0';
	memset(req.pair[0].value, 'v', 128);
	req.pair[0].value[128] = '\0';
	assert_int_equal(proto_features_check(false, &req), -EBADMSG);
	req.pair[0].value[127] = '\0';
	assert_int_equal(proto_features_check(false, &req), 0);
	/* characters outside the sets: the name's, each mode's value's */
	parsed(false, "a=1\n");
	strcpy(req.pair[0].name, "a/b");
	assert_int_equal(proto_features_check(false, &req), -EBADMSG);
	parsed(false, "a=1.0\n");
	assert_int_equal(proto_features_check(false, &req), 0);
	assert_int_equal(proto_features_check(true, &req), -EBADMSG);
	strcpy(req.pair[0].value, "L\xe9");
	assert_int_equal(proto_features_check(false, &req), -EBADMSG);
	strcpy(req.pair[0].value, "x\n");
	assert_int_equal(proto_features_check(false, &req), -EBADMSG);
	/* one name twice */
	parsed(false, "a=1\nb=2\n");
	strcpy(req.pair[1].name, "a");
	assert_int_equal(proto_features_check(false, &req), -EBADMSG);
	/* what lies beyond n is never read */
	parsed(false, "a=1\n");
	memset(&req.pair[1], 0xff, sizeof(req.pair) - sizeof(req.pair[0]));
	assert_int_equal(proto_features_check(false, &req), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parsed_requests_pass),
	    cmocka_unit_test(test_lies_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
