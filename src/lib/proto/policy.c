/*
 * proto/policy.c - parse a policy decision, format a policy request.
 *
 * Runs in qrexec-daemon's call processes (the daemon's user).  The reply
 * comes from the policy daemon or the policy program: more trusted than a
 * qube, but a broken reply must deny, never crash or allow by accident.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/proto/policy.h"
#include "lib/proto/qrexec.h"

/*
 * Copy a value once; a second copy of the same key is an error, and so is
 * an empty value: no name is empty (proto_target_valid() accepts "" only
 * because an empty trigger target means @default).
 */
static int
take(char *dst, bool *seen, const char *v, size_t vl, bool service)
{
	if (*seen || vl == 0 || vl >= POLICY_VALUE_MAX_LEN)
		return -EBADMSG;
	if (service ? !proto_service_valid(v, vl) : !proto_target_valid(v, vl))
		return -EBADMSG;
	memcpy(dst, v, vl);
	dst[vl] = '\0';
	*seen = true;
	return 0;
}

int
proto_policy_reply_parse(const char *buf, size_t len, struct policy_reply *ret)
{
	bool seen_result = false, seen_user = false, seen_target = false,
	     seen_uuid = false, seen_req = false, seen_auto = false,
	     seen_svc = false, seen_src = false;
	size_t pos = 0;

	memset(ret, 0, sizeof(*ret));
	if (len == 0 || len > POLICY_REPLY_MAX_LEN ||
	    memchr(buf, '\0', len) != NULL)
		return -EBADMSG;
	if (buf[len - 1] == '\n')
		len--;
	while (pos <= len) {
		const char *line = buf + pos, *nl, *eq;
		size_t ll, kl, vl;
		const char *v;
		int r = 0;

		nl = memchr(line, '\n', len - pos);
		ll = nl ? (size_t)(nl - line) : len - pos;
		pos += ll + 1;
		eq = memchr(line, '=', ll);
		if (eq == NULL)
			return -EBADMSG;
		kl = (size_t)(eq - line);
		v = eq + 1;
		vl = ll - kl - 1;
#define KEY(k) (kl == strlen(k) && memcmp(line, k, kl) == 0)
		if (KEY("result")) {
			if (seen_result)
				return -EBADMSG;
			seen_result = true;
			if (vl == 5 && memcmp(v, "allow", 5) == 0)
				ret->result = POLICY_ALLOW;
			else if (vl == 4 && memcmp(v, "deny", 4) == 0)
				ret->result = POLICY_DENY;
			else
				return -EBADMSG;
		} else if (KEY("user")) {
			r = take(ret->user, &seen_user, v, vl, false);
		} else if (KEY("target")) {
			r = take(ret->target, &seen_target, v, vl, false);
		} else if (KEY("target_uuid")) {
			r = take(ret->target_uuid, &seen_uuid, v, vl, false);
		} else if (KEY("requested_target")) {
			r = take(
			    ret->requested_target, &seen_req, v, vl, false);
		} else if (KEY("service")) {
			r = take(ret->service, &seen_svc, v, vl, true);
		} else if (KEY("policy_source")) {
			r = take(ret->policy_source, &seen_src, v, vl, false);
		} else if (KEY("autostart")) {
			if (seen_auto)
				return -EBADMSG;
			seen_auto = true;
			if (vl == 4 && memcmp(v, "True", 4) == 0)
				ret->autostart = true;
			else if (vl == 5 && memcmp(v, "False", 5) == 0)
				ret->autostart = false;
			else
				return -EBADMSG;
		}
		/* any other key: ignored, as Qubes' daemon does */
#undef KEY
		if (r < 0)
			return r;
	}
	if (!seen_result)
		return -EBADMSG;
	if (ret->result == POLICY_ALLOW)
		return (seen_user && seen_target && seen_req && seen_auto) ?
		    0 :
		    -EBADMSG;
	return (seen_user || seen_target || seen_req || seen_auto) ? -EBADMSG :
	                                                             0;
}

int
proto_policy_request_format(char *out, size_t outlen, const char *source,
    const char *requested_source, const char *intended_target,
    const char *service_and_arg)
{
	int n;

	n = snprintf(out, outlen,
	    "source=%s\n%s%s%sintended_target=%s\nservice_and_arg=%s\n\n",
	    source, requested_source ? "requested_source=" : "",
	    requested_source ? requested_source : "",
	    requested_source ? "\n" : "", intended_target, service_and_arg);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return n;
}
