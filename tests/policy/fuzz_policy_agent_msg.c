/*
 * fuzz_policy_agent_msg.c - what an agent (bulkhead-policy-agent, the GUI
 * domain's prompt) reads from the policy daemon: a question or a
 * notification whose names came from qubes.  An accepted message must hold
 * only names of the allowed characters, NUL-terminated, with 1..max
 * targets none of them empty.
 */
#include <stdint.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *s, int may_be_empty)
{
	size_t n = strnlen(s, POLICY_NAME_MAX);

	if (n == POLICY_NAME_MAX || (n == 0 && !may_be_empty) ||
	    strspn(s,
	        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "abcdefghijklmnopqrstuvwxyz_-.@:+") != n)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_agent_msg m;
	size_t i;

	if (policy_agent_msg_parse((const char *)data, size, &m) < 0)
		return 0;
	check_name(m.source, 0);
	check_name(m.service, 0);
	if (m.is_notify) {
		if (strcmp(m.resolution, "allow") != 0 &&
		    strcmp(m.resolution, "deny") != 0)
			__builtin_trap();
		check_name(m.target, 1);
		check_name(m.argument, 1);
		if (m.ntargets != 0)
			__builtin_trap();
	} else {
		check_name(m.argument, 0);
		check_name(m.default_target, 1);
		if (m.ntargets == 0 || m.ntargets > POLICY_AGENT_TARGETS_MAX)
			__builtin_trap();
		for (i = 0; i < m.ntargets; i++)
			check_name(m.targets[i], 0);
	}
	policy_agent_msg_clear(&m);
	return 0;
}
