/*
 * fuzz_policy_request.c - the policy daemon's request parser: arbitrary
 * bytes from a client.  An accepted request must hold only checked names,
 * and consume no more than it was given.
 */
#include <stdint.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_daemon_request r;
	int n, eof;

	for (eof = 0; eof < 2; eof++) {
		n = policy_daemon_request_parse(
		    (const char *)data, size, eof != 0, &r);
		if (n <= 0)
			continue;
		if ((size_t)n > size || r.service_and_arg == NULL ||
		    strlen(r.source) >= POLICY_NAME_MAX ||
		    strchr(r.service_and_arg, '\n') != NULL ||
		    strchr(r.intended_target, '\n') != NULL)
			__builtin_trap();
		policy_daemon_request_clear(&r);
	}
	return 0;
}
