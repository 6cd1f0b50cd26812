/*
 * fuzz_policy_parse.c - the policy parser: arbitrary bytes as a policy
 * file (no includes: there is no directory).  Every accepted rule must be
 * well formed, and an evaluation against it must not crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char si_json[] =
    "{\"domains\": {\"dom0\": {\"type\": \"AdminVM\", \"tags\": [\"t\"], "
    "\"uuid\": \"00000000-0000-0000-0000-000000000000\", "
    "\"power_state\": \"Running\"}, \"work\": {\"type\": \"AppVM\", "
    "\"tags\": [\"t\"], \"default_dispvm\": \"dvm\", \"power_state\": "
    "\"Running\", \"uuid\": \"11111111-1111-1111-1111-111111111111\"}, "
    "\"dvm\": {\"type\": \"AppVM\", \"template_for_dispvms\": true, "
    "\"tags\": [\"x\"]}}}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const targets[] = {
	    "", "work", "dom0", "@dispvm", "@dispvm:dvm", "@adminvm", "nosuch"};
	struct policy_error err;
	struct policy *p = NULL;
	struct sysinfo *si = NULL;
	char msg[256];
	size_t i;

	if (policy_load_text("fuzz.policy", NULL, (const char *)data, size,
	        NULL, &p, &err) != 0)
		return 0;
	for (i = 0; i < policy_rule_count(p); i++) {
		const struct policy_rule *r = policy_rule_at(p, i);

		if (r->action >= POLICY_ACTION_MAX ||
		    r->source.kind >= POLICY_TOK_MAX ||
		    r->target.kind >= POLICY_TOK_MAX ||
		    (r->argument != NULL && r->argument[0] != '+'))
			__builtin_trap();
	}
	if (sysinfo_parse(
	        si_json, sizeof(si_json) - 1, &si, msg, sizeof(msg)) == 0) {
		for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
			struct policy_query q = {
			    .untrusted_source = "work",
			    .untrusted_intended_target = targets[i],
			    .untrusted_service_and_arg = "qubes.Svc+arg",
			};
			struct policy_decision d;
			char out[POLICY_REPLY_BUF_LEN];

			if (policy_evaluate(p, si, &q, &d) != 0)
				continue;
			if (d.verdict == POLICY_VERDICT_ASK && d.ntargets > 0)
				(void)policy_decision_answer(
				    &d, true, d.targets[0]);
			(void)policy_decision_format(&d, out, sizeof(out));
			policy_decision_free(&d);
		}
		sysinfo_unref(si);
	}
	policy_free(p);
	return 0;
}
