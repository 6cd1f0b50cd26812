/*
 * test_proto_policy.c - the policy daemon's reply parser and request
 * formatter (src/lib/proto/policy.c).  The reply rules are Qubes'
 * (parse_policy_response in qrexec-daemon.c): no NUL, one trailing newline
 * stripped, result exactly once, allow needs user, target,
 * requested_target and autostart, deny has none of them, no key twice,
 * unknown keys ignored; plus our limits: the reply size (exact, one over),
 * value lengths and characters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/proto/policy.h"

#define ALLOW                                                                  \
	"result=allow\nuser=alice\ntarget=work\nrequested_target=@default\n"   \
	"autostart=True\n"

static int
parse(const char *s, struct policy_reply *r)
{
	return proto_policy_reply_parse(s, strlen(s), r);
}

static void
test_allow(void **state)
{
	struct policy_reply r;

	(void)state;
	memset(&r, 'x', sizeof(r));
	assert_int_equal(parse(ALLOW, &r), 0);
	assert_int_equal(r.result, POLICY_ALLOW);
	assert_true(r.autostart);
	assert_string_equal(r.user, "alice");
	assert_string_equal(r.target, "work");
	assert_string_equal(r.requested_target, "@default");
	/* absent optional keys read as empty */
	assert_string_equal(r.target_uuid, "");
	assert_string_equal(r.service, "");
	assert_string_equal(r.policy_source, "");

	assert_int_equal(parse("autostart=False\nservice=qubes.Filecopy+a.b\n"
	                       "target_uuid=uuid:1234-ab\npolicy_source=50-"
	                       "config.policy\nrequested_target=@dispvm:dvm\n"
	                       "target=disp12\nuser=root\nresult=allow",
	                     &r),
	    0);
	assert_false(r.autostart);
	assert_string_equal(r.service, "qubes.Filecopy+a.b");
	assert_string_equal(r.target_uuid, "uuid:1234-ab");
	assert_string_equal(r.policy_source, "50-config.policy");
	assert_string_equal(r.requested_target, "@dispvm:dvm");
	assert_string_equal(r.target, "disp12");
}

static void
test_deny(void **state)
{
	struct policy_reply r;

	(void)state;
	assert_int_equal(parse("result=deny", &r), 0);
	assert_int_equal(r.result, POLICY_DENY);
	assert_int_equal(parse("result=deny\n", &r), 0);
	/* the optional keys may come with a deny */
	assert_int_equal(parse("result=deny\nservice=a\npolicy_source=b\n"
	                       "target_uuid=c\n",
	                     &r),
	    0);
	/* but none of the allow keys */
	assert_int_equal(parse("result=deny\nuser=a\n", &r), -EBADMSG);
	assert_int_equal(parse("result=deny\ntarget=a\n", &r), -EBADMSG);
	assert_int_equal(
	    parse("result=deny\nrequested_target=a\n", &r), -EBADMSG);
	assert_int_equal(parse("result=deny\nautostart=False\n", &r), -EBADMSG);
}

static void
test_result(void **state)
{
	static const char *const bad[] = {
	    "",
	    "result=",
	    "result=Allow",
	    "result=allowed",
	    "result=deny\r\n",
	    "result=maybe",
	    "results=deny",
	    "result =deny",
	    "result=deny\nresult=deny",
	    "result=allow\nresult=deny",
	    "user=a\ntarget=b\nrequested_target=c\nautostart=True",
	};
	struct policy_reply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i], &r), -EBADMSG);
}

static void
test_allow_missing(void **state)
{
	static const char *const keys[] = {"user=alice\n", "target=work\n",
	    "requested_target=@default\n", "autostart=True\n"};
	struct policy_reply r;
	char buf[256];
	size_t i, j;

	(void)state;
	/* each of the four left out in turn */
	for (i = 0; i < 4; i++) {
		(void)snprintf(buf, sizeof(buf), "result=allow\n");
		for (j = 0; j < 4; j++)
			if (j != i)
				(void)strcat(buf, keys[j]);
		assert_int_equal(parse(buf, &r), -EBADMSG);
	}
}

static void
test_duplicates(void **state)
{
	static const char *const keys[] = {"user=alice", "target=work",
	    "requested_target=@default", "autostart=True", "target_uuid=u",
	    "service=s", "policy_source=p"};
	struct policy_reply r;
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		(void)snprintf(buf, sizeof(buf), "%s%s\n", ALLOW, keys[i]);
		if (i >= 4)
			assert_int_equal(parse(buf, &r), 0);
		(void)snprintf(
		    buf, sizeof(buf), "%s%s\n%s\n", ALLOW, keys[i], keys[i]);
		assert_int_equal(parse(buf, &r), -EBADMSG);
	}
	/* autostart twice with different values */
	assert_int_equal(parse(ALLOW "autostart=False\n", &r), -EBADMSG);
}

static void
test_unknown_keys(void **state)
{
	struct policy_reply r;

	(void)state;
	assert_int_equal(
	    parse("future=1\n" ALLOW "other=x y z\nempty=", &r), 0);
	assert_string_equal(r.user, "alice");
	/* an unknown key twice is still just ignored */
	assert_int_equal(parse("result=deny\nfoo=1\nfoo=2", &r), 0);
	/* but every line needs a '=' */
	assert_int_equal(parse(ALLOW "garbage\n", &r), -EBADMSG);
	assert_int_equal(parse("result=deny\n\nfoo=1", &r), -EBADMSG);
}

static void
test_newlines_and_nul(void **state)
{
	struct policy_reply r;

	(void)state;
	/* only one trailing newline is stripped */
	assert_int_equal(parse(ALLOW, &r), 0);
	assert_int_equal(parse(ALLOW "\n", &r), -EBADMSG);
	assert_int_equal(parse("\nresult=deny", &r), -EBADMSG);
	assert_int_equal(parse("\n", &r), -EBADMSG);
	/* a NUL anywhere, even at the very end */
	assert_int_equal(
	    proto_policy_reply_parse("result=deny\0", 12, &r), -EBADMSG);
	assert_int_equal(
	    proto_policy_reply_parse("result=deny\n\0", 13, &r), -EBADMSG);
	assert_int_equal(
	    proto_policy_reply_parse("result=deny\0x=y", 15, &r), -EBADMSG);
	/* a length that ends mid-line is what is parsed */
	assert_int_equal(proto_policy_reply_parse("result=denyXYZ", 11, &r), 0);
}

static void
test_values(void **state)
{
	struct policy_reply r;
	char buf[1024], v[300];

	(void)state;
	assert_int_equal(parse("result=deny\nservice=a b", &r), -EBADMSG);
	assert_int_equal(parse(ALLOW "service=+a", &r), -EBADMSG);
	assert_int_equal(parse(ALLOW "service=", &r), -EBADMSG);
	/* no value may be empty */
	assert_int_equal(parse("result=allow\nuser=\ntarget=work\n"
	                       "requested_target=work\nautostart=True",
	                     &r),
	    -EBADMSG);
	assert_int_equal(parse("result=allow\nuser=alice\ntarget=\n"
	                       "requested_target=work\nautostart=True",
	                     &r),
	    -EBADMSG);
	assert_int_equal(parse(ALLOW "target_uuid=", &r), -EBADMSG);
	assert_int_equal(parse(ALLOW "policy_source=", &r), -EBADMSG);
	assert_int_equal(parse("result=allow\nuser=a/b\ntarget=work\n"
	                       "requested_target=work\nautostart=True",
	                     &r),
	    -EBADMSG);
	assert_int_equal(parse("result=allow\nuser=alice\ntarget=wo+rk\n"
	                       "requested_target=work\nautostart=True",
	                     &r),
	    -EBADMSG);
	assert_int_equal(parse(ALLOW "policy_source=a\tb", &r), -EBADMSG);
	assert_int_equal(parse(ALLOW "target_uuid=\xc3\xa9", &r), -EBADMSG);
	assert_int_equal(parse("result=allow\nuser=alice\ntarget=work\n"
	                       "requested_target=work\nautostart=true",
	                     &r),
	    -EBADMSG);
	assert_int_equal(parse("result=allow\nuser=alice\ntarget=work\n"
	                       "requested_target=work\nautostart=",
	                     &r),
	    -EBADMSG);

	/* a name of 63 characters, and of 64 */
	memset(v, 'n', sizeof(v));
	v[63] = '\0';
	(void)snprintf(buf, sizeof(buf),
	    "result=allow\nuser=a\ntarget=%s\nrequested_target=b\n"
	    "autostart=True",
	    v);
	assert_int_equal(parse(buf, &r), 0);
	assert_string_equal(r.target, v);
	v[63] = 'n';
	v[64] = '\0';
	(void)snprintf(buf, sizeof(buf),
	    "result=allow\nuser=a\ntarget=%s\nrequested_target=b\n"
	    "autostart=True",
	    v);
	assert_int_equal(parse(buf, &r), -EBADMSG);

	/* a service of the longest value, and one more */
	memset(v, 's', sizeof(v));
	v[POLICY_VALUE_MAX_LEN - 1] = '\0';
	(void)snprintf(buf, sizeof(buf), "result=deny\nservice=%s", v);
	assert_int_equal(parse(buf, &r), 0);
	assert_string_equal(r.service, v);
	v[POLICY_VALUE_MAX_LEN - 1] = 's';
	v[POLICY_VALUE_MAX_LEN] = '\0';
	(void)snprintf(buf, sizeof(buf), "result=deny\nservice=%s", v);
	assert_int_equal(parse(buf, &r), -EBADMSG);
}

static void
test_size(void **state)
{
	static char buf[POLICY_REPLY_MAX_LEN + 2];
	struct policy_reply r;
	size_t n;

	(void)state;
	/* padded with an unknown key to exactly the maximum, and one more */
	n = (size_t)snprintf(buf, sizeof(buf), "result=deny\npad=");
	memset(buf + n, 'p', sizeof(buf) - n);
	assert_int_equal(
	    proto_policy_reply_parse(buf, POLICY_REPLY_MAX_LEN, &r), 0);
	assert_int_equal(
	    proto_policy_reply_parse(buf, POLICY_REPLY_MAX_LEN + 1, &r),
	    -EBADMSG);
	/* the maximum including the trailing newline */
	buf[POLICY_REPLY_MAX_LEN - 1] = '\n';
	assert_int_equal(
	    proto_policy_reply_parse(buf, POLICY_REPLY_MAX_LEN, &r), 0);
	assert_int_equal(proto_policy_reply_parse(buf, 0, &r), -EBADMSG);
}

static void
test_request_format(void **state)
{
	static const char want1[] = "source=work\nintended_target=@default\n"
	                            "service_and_arg=qubes.Svc+arg\n\n";
	static const char want2[] = "source=work\nrequested_source=vault\n"
	                            "intended_target=@default\n"
	                            "service_and_arg=qubes.Svc+arg\n\n";
	char out[256];

	(void)state;
	assert_int_equal(proto_policy_request_format(out, sizeof(out), "work",
	                     NULL, "@default", "qubes.Svc+arg"),
	    (int)strlen(want1));
	assert_string_equal(out, want1);
	assert_int_equal(proto_policy_request_format(out, sizeof(out), "work",
	                     "vault", "@default", "qubes.Svc+arg"),
	    (int)strlen(want2));
	assert_string_equal(out, want2);
	/* exactly fits (with its NUL), and one byte short */
	assert_int_equal(proto_policy_request_format(out, sizeof(want1), "work",
	                     NULL, "@default", "qubes.Svc+arg"),
	    (int)strlen(want1));
	assert_int_equal(proto_policy_request_format(out, sizeof(want1) - 1,
	                     "work", NULL, "@default", "qubes.Svc+arg"),
	    -ENAMETOOLONG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allow),
	    cmocka_unit_test(test_deny),
	    cmocka_unit_test(test_result),
	    cmocka_unit_test(test_allow_missing),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_newlines_and_nul),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_size),
	    cmocka_unit_test(test_request_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
