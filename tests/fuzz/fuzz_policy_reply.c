/*
 * fuzz_policy_reply.c - proto_policy_reply_parse(), the "key=value" reply
 * of the policy daemon (or a --policy-program) that qrexec-daemon turns
 * into allow or deny.  The peer is more trusted than a qube, but a broken
 * reply must deny, never crash or allow by accident.
 *
 * Invariants beyond "no crash":
 *  - a reply longer than POLICY_REPLY_MAX_LEN or holding a NUL is refused;
 *  - on success every string is NUL-terminated within its field and passes
 *    the name check of its key (proto_service_valid() for service,
 *    proto_target_valid() for the others); an allow names a user, a
 *    target and a requested target (non-empty: a qube name is 1..63
 *    characters), a deny names none of them and has autostart false;
 *  - format -> parse round trip: printing the result as a reply and
 *    parsing that gives the same struct.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "lib/proto/policy.h"
#include "lib/proto/qrexec.h"

static bool
name_ok(const char *s, bool service)
{
	size_t n;

	if (memchr(s, '\0', POLICY_VALUE_MAX_LEN) == NULL)
		return false;
	n = strlen(s);
	return service ? proto_service_valid(s, n) : proto_target_valid(s, n);
}

/* Append "key=value\n" if value is set; returns the new length. */
static size_t
put(char *out, size_t off, size_t outlen, const char *key, const char *value)
{
	int n;

	if (value[0] == '\0')
		return off;
	n = snprintf(out + off, outlen - off, "%s=%s\n", key, value);
	FUZZ_CHECK(n > 0 && (size_t)n < outlen - off);
	return off + (size_t)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_reply p, p2;
	char out[8 * (POLICY_VALUE_MAX_LEN + 32)];
	bool allow;
	size_t off = 0;
	int r;

	r = proto_policy_reply_parse((const char *)data, size, &p);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	if (size > POLICY_REPLY_MAX_LEN || memchr(data, '\0', size) != NULL)
		FUZZ_CHECK(r < 0);
	if (r < 0)
		return 0;

	FUZZ_CHECK(p.result == POLICY_ALLOW || p.result == POLICY_DENY);
	allow = p.result == POLICY_ALLOW;
	FUZZ_CHECK(name_ok(p.user, false));
	FUZZ_CHECK(name_ok(p.target, false));
	FUZZ_CHECK(name_ok(p.target_uuid, false));
	FUZZ_CHECK(name_ok(p.requested_target, false));
	FUZZ_CHECK(name_ok(p.policy_source, false));
	FUZZ_CHECK(p.service[0] == '\0' || name_ok(p.service, true));
	if (allow) {
		FUZZ_CHECK(p.user[0] != '\0');
		FUZZ_CHECK(p.target[0] != '\0');
		FUZZ_CHECK(p.requested_target[0] != '\0');
	} else {
		FUZZ_CHECK(p.user[0] == '\0' && p.target[0] == '\0' &&
		    p.requested_target[0] == '\0' && !p.autostart);
	}

	off = put(out, off, sizeof(out), "result", allow ? "allow" : "deny");
	off = put(out, off, sizeof(out), "user", p.user);
	off = put(out, off, sizeof(out), "target", p.target);
	off = put(out, off, sizeof(out), "target_uuid", p.target_uuid);
	off =
	    put(out, off, sizeof(out), "requested_target", p.requested_target);
	if (allow)
		off = put(out, off, sizeof(out), "autostart",
		    p.autostart ? "True" : "False");
	off = put(out, off, sizeof(out), "service", p.service);
	off = put(out, off, sizeof(out), "policy_source", p.policy_source);
	r = proto_policy_reply_parse(out, off, &p2);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(memcmp(&p, &p2, sizeof(p)) == 0);
	return 0;
}
