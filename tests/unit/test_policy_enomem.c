/*
 * test_policy_enomem.c - the policy engine out of memory (linked with
 * tests/unit/wrap.c, whose malloc family fails on demand).
 *
 * Regression (qrexec-policy-daemon leaked a sysinfo reference a request
 * on -ENOMEM): policy_evaluate() fills the decision before it can fail,
 * so a caller must free it whatever it returns.  Each allocation of an
 * evaluation is failed in turn; every -ENOMEM exit must leave a decision
 * that policy_decision_free() releases whole (LeakSanitizer checks at
 * exit that nothing, the system information included, is left).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"
#include "unit.h"

static const char sysinfo_json[] =
    "{\"domains\": {"
    "\"dom0\": {\"tags\": [], \"type\": \"AdminVM\", \"default_dispvm\": "
    "\"dvm\", \"template_for_dispvms\": false, \"power_state\": "
    "\"Running\"},"
    "\"work\": {\"tags\": [\"t1\"], \"type\": \"AppVM\", "
    "\"default_dispvm\": \"dvm\", \"template_for_dispvms\": false, "
    "\"power_state\": \"Running\"},"
    "\"vault\": {\"tags\": [\"t1\"], \"type\": \"AppVM\", "
    "\"default_dispvm\": null, \"template_for_dispvms\": false, "
    "\"power_state\": \"Halted\"},"
    "\"dvm\": {\"tags\": [\"t1\"], \"type\": \"AppVM\", "
    "\"default_dispvm\": \"dvm\", \"template_for_dispvms\": true, "
    "\"power_state\": \"Halted\"}"
    "}}";

/* an ask with several choices: the most allocations an evaluation makes */
static const char policy_text[] =
    "test.Ask +arg work @tag:t1 ask default_target=vault\n"
    "test.Ask * work @dispvm ask\n"
    "test.Ask * work @anyvm deny\n";

static void
evaluate_until_done(const char *target, enum policy_verdict want)
{
	struct sysinfo *si = NULL;
	struct policy *p = NULL;
	struct policy_error e;
	struct policy_query q;
	char err[256];
	int skip, nomem = 0;

	assert_int_equal(sysinfo_parse(sysinfo_json, strlen(sysinfo_json), &si,
	                     err, sizeof(err)),
	    0);
	assert_int_equal(policy_load_text("t.policy", NULL, policy_text,
	                     strlen(policy_text), NULL, &p, &e),
	    0);
	memset(&q, 0, sizeof(q));
	q.untrusted_source = "work";
	q.untrusted_intended_target = target;
	q.untrusted_service_and_arg = "test.Ask+arg";
	for (skip = 0; skip < 1000; skip++) {
		struct policy_decision d;
		int r;

		fault_set(F_ALLOC, -1, skip, 1, ENOMEM);
		r = policy_evaluate(p, si, &q, &d);
		fault_reset();
		if (r == -ENOMEM) {
			/* what the daemon must free: not just an empty shell */
			assert_ptr_equal(d.si, si);
			policy_decision_free(&d);
			nomem++;
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(d.verdict, want);
		policy_decision_free(&d);
		break;
	}
	assert_true(skip < 1000);
	/* every allocation failed once, and each was reported */
	assert_int_equal(nomem, skip);
	assert_true(nomem > 0);
	policy_free(p);
	sysinfo_unref(si);
}

static void
test_evaluate_enomem_ask(void **state)
{
	(void)state;
	evaluate_until_done("vault", POLICY_VERDICT_ASK);
}

static void
test_evaluate_enomem_dispvm(void **state)
{
	(void)state;
	evaluate_until_done("@dispvm", POLICY_VERDICT_ASK);
}

static int
setup(void **state)
{
	(void)state;
	fault_reset();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_evaluate_enomem_ask, setup),
	    cmocka_unit_test_setup(test_evaluate_enomem_dispvm, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
