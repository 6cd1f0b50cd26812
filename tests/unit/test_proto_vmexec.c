/* test_proto_vmexec.c - qubes.VMExec's argument decoder, case by case. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lib/proto/vmexec.h"
#include "unit.h"

static void
expect_argv(const char *arg, const char *const *want)
{
	char **got = NULL;
	size_t i;

	assert_int_equal(proto_vmexec_decode(arg, &got), 0);
	for (i = 0; want[i] != NULL; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
	free(got);
}

static void
test_decodes(void **state)
{
	(void)state;
	expect_argv("ls", (const char *const[]){"ls", NULL});
	expect_argv("echo+hello-20world",
	    (const char *const[]){"echo", "hello world", NULL});
	/* "--" is '-', so options pass */
	expect_argv("ls+--la", (const char *const[]){"ls", "-la", NULL});
	expect_argv("a+", (const char *const[]){"a", "", NULL});
	expect_argv("a++b", (const char *const[]){"a", "", "b", NULL});
	expect_argv("x+-2B-2F-FF", (const char *const[]){"x", "+/\xff", NULL});
	expect_argv("sh_1.2", (const char *const[]){"sh_1.2", NULL});
}

static void
test_refuses(void **state)
{
	static const char *const bad[] = {
	    "",            /* no command */
	    "+ls",         /* an empty first word */
	    "ls+-",        /* a lone '-' */
	    "ls+-2",       /* a short escape */
	    "ls+-2b",      /* lower-case hex is not the encoding */
	    "ls+-GG",      /* not hex */
	    "ls+-00",      /* a NUL cannot be in an argument */
	    "ls+a b",      /* a space */
	    "ls+a/b",      /* '/' must be escaped */
	    "ls+\xc3\xa9", /* raw UTF-8 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char **got = (char **)&got;

		assert_int_equal(proto_vmexec_decode(bad[i], &got), -EINVAL);
		/* *ret untouched on failure */
		assert_ptr_equal(got, (char **)&got);
	}
}

static void
test_limits(void **state)
{
	size_t n = VMEXEC_MAX_ARG_LEN + 1, i;
	char *big = malloc(n + 1), **got = NULL;

	(void)state;
	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = '\0';
	assert_int_equal(proto_vmexec_decode(big, &got), -E2BIG);
	/* as many words as allowed, then one more */
	for (i = 0; i < 2 * VMEXEC_MAX_WORDS; i += 2) {
		big[i] = 'a';
		big[i + 1] = '+';
	}
	big[2 * VMEXEC_MAX_WORDS - 1] = '\0';
	assert_int_equal(proto_vmexec_decode(big, &got), 0);
	free(got);
	big[2 * VMEXEC_MAX_WORDS - 1] = '+';
	big[2 * VMEXEC_MAX_WORDS] = 'a';
	big[2 * VMEXEC_MAX_WORDS + 1] = '\0';
	assert_int_equal(proto_vmexec_decode(big, &got), -E2BIG);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decodes),
	    cmocka_unit_test(test_refuses),
	    cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
