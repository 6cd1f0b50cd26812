/*
 * proto/policy.h - the policy daemon's socket protocol (Qubes'
 * qrexec-policy-daemon format) as a qrexec-daemon speaks it.
 *
 * Request: one per connection, "key=value" lines ended by an empty line:
 *   source, [requested_source], intended_target, service_and_arg,
 *   [assume_yes_for_ask], [just_evaluate].
 * Reply: up to 4096 bytes until EOF, "key=value" lines: result=allow|deny,
 *   and for allow: user, target, requested_target, autostart=True|False,
 *   optionally target_uuid, service, policy_source.  The same format is
 *   what a --policy-program prints.
 */
#ifndef BULKHEAD_PROTO_POLICY_H
#define BULKHEAD_PROTO_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#define POLICY_REPLY_MAX_LEN 4096u
#define POLICY_VALUE_MAX_LEN 256u

enum policy_result {
	POLICY_ALLOW,
	POLICY_DENY,
	POLICY_RESULT_MAX
};

struct policy_reply {
	enum policy_result result;
	bool autostart;
	char user[POLICY_VALUE_MAX_LEN];
	char target[POLICY_VALUE_MAX_LEN];
	char target_uuid[POLICY_VALUE_MAX_LEN]; /* "" if absent */
	char requested_target[POLICY_VALUE_MAX_LEN];
	char service[POLICY_VALUE_MAX_LEN];       /* "" if absent */
	char policy_source[POLICY_VALUE_MAX_LEN]; /* "" if absent */
};

/*
 * Parse a reply.  Rules (Qubes'): no NUL byte, one trailing newline
 * ignored, result exactly once; allow needs user, target,
 * requested_target and autostart; deny has none of those four; a key twice
 * is an error; unknown keys are ignored.  Values must be names (the
 * characters of proto_target_valid, plus '+' for service).  Returns 0 or
 * -EBADMSG.
 */
int
proto_policy_reply_parse(const char *buf, size_t len, struct policy_reply *ret);

/*
 * Format a request into out.  requested_source may be NULL (not sent).
 * Returns the length or -ENAMETOOLONG.
 */
int proto_policy_request_format(char *out, size_t outlen, const char *source,
    const char *requested_source, const char *intended_target,
    const char *service_and_arg);

#endif
