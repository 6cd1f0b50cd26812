/*
 * request.c - the policy daemon's socket protocol, server side: one
 * request of "key=value" lines ended by an empty line.
 *
 * Runs in qrexec-policy-daemon as its unprivileged user.  The bytes come
 * from whoever can connect to the policy socket (qrexec-daemons, which
 * relay names a qube chose): all of it is untrusted_ until this parser
 * accepts it.  Like Qubes' daemon, anything unexpected (an unknown or
 * repeated key, a missing key, a bad boolean) closes the connection
 * without an answer; unlike it, names are checked here already, and the
 * whole request is bounded before anything is copied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"

enum req_key {
	KEY_SOURCE,
	KEY_INTENDED_TARGET,
	KEY_SERVICE_AND_ARG,
	KEY_ASSUME_YES,
	KEY_JUST_EVALUATE,
	KEY_REQUESTED_SOURCE,
	KEY_MAX
};

static const char *const key_names[KEY_MAX] = {
    [KEY_SOURCE] = "source",
    [KEY_INTENDED_TARGET] = "intended_target",
    [KEY_SERVICE_AND_ARG] = "service_and_arg",
    [KEY_ASSUME_YES] = "assume_yes_for_ask",
    [KEY_JUST_EVALUATE] = "just_evaluate",
    [KEY_REQUESTED_SOURCE] = "requested_source",
};

void
policy_daemon_request_clear(struct policy_daemon_request *r)
{
	free(r->service_and_arg);
	memset(r, 0, sizeof(*r));
}

static bool
target_chars_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		        (c >= 'a' && c <= 'z') || c == '_' || c == '-' ||
		        c == '.' || c == '@' || c == ':'))
			return false;
	}
	return true;
}

/* A short name value: bounded, allowlisted, copied with its NUL. */
static int
take_name(char dst[POLICY_NAME_MAX], const char *v, size_t vl)
{
	if (vl >= POLICY_NAME_MAX || !target_chars_ok(v, vl))
		return -EBADMSG;
	memcpy(dst, v, vl);
	dst[vl] = '\0';
	return 0;
}

static int
take_bool(bool *dst, const char *v, size_t vl)
{
	if (vl == 3 && memcmp(v, "yes", 3) == 0)
		*dst = true;
	else if (vl == 2 && memcmp(v, "no", 2) == 0)
		*dst = false;
	else
		return -EBADMSG;
	return 0;
}

static int
take_service(struct policy_daemon_request *r, const char *v, size_t vl)
{
	const char *plus = memchr(v, '+', vl);
	size_t sl = plus ? (size_t)(plus - v) : vl;

	if (vl > POLICY_MAX_SERVICE_ARG_LEN ||
	    !policy_service_name_valid(v, sl) ||
	    (plus != NULL && !policy_argument_valid(plus, vl - sl)))
		return -EBADMSG;
	r->service_and_arg = strndup(v, vl);
	return r->service_and_arg == NULL ? -ENOMEM : 0;
}

int
policy_daemon_request_parse(const char *untrusted_buf, size_t len, bool at_eof,
    struct policy_daemon_request *ret)
{
	struct policy_daemon_request r;
	bool seen[KEY_MAX] = {false};
	size_t pos = 0, end;
	int e = 0;

	memset(ret, 0, sizeof(*ret));
	/* find the end first: nothing is copied from an unbounded request */
	for (end = 0; end < len; end++) {
		if (untrusted_buf[end] == '\n' &&
		    (end == 0 || untrusted_buf[end - 1] == '\n'))
			break;
	}
	if (end == len) {
		if (len > POLICY_REQUEST_MAX_LEN)
			return -EMSGSIZE;
		if (!at_eof)
			return -EAGAIN;
		/* Qubes reads lines until an empty one or EOF */
	} else {
		end++;
		if (end > POLICY_REQUEST_MAX_LEN)
			return -EMSGSIZE;
	}
	if (end == 0)
		return -EBADMSG;
	memset(&r, 0, sizeof(r));
	while (pos < end && e == 0) {
		const char *line = untrusted_buf + pos, *nl, *eq;
		size_t ll, kl, k;

		nl = memchr(line, '\n', end - pos);
		ll = nl ? (size_t)(nl - line) : end - pos;
		pos += ll + 1;
		if (ll == 0)
			break; /* the terminating empty line */
		eq = memchr(line, '=', ll);
		if (eq == NULL) {
			e = -EBADMSG;
			break;
		}
		kl = (size_t)(eq - line);
		for (k = 0; k < KEY_MAX; k++)
			if (strlen(key_names[k]) == kl &&
			    memcmp(key_names[k], line, kl) == 0)
				break;
		if (k == KEY_MAX || seen[k]) {
			e = -EBADMSG; /* unknown or repeated key */
			break;
		}
		seen[k] = true;
		switch ((enum req_key)k) {
		case KEY_SOURCE:
			e = take_name(r.source, eq + 1, ll - kl - 1);
			if (e == 0 && r.source[0] == '\0')
				e = -EBADMSG;
			break;
		case KEY_INTENDED_TARGET:
			e = take_name(r.intended_target, eq + 1, ll - kl - 1);
			break;
		case KEY_REQUESTED_SOURCE:
			e = take_name(r.requested_source, eq + 1, ll - kl - 1);
			break;
		case KEY_SERVICE_AND_ARG:
			e = take_service(&r, eq + 1, ll - kl - 1);
			break;
		case KEY_ASSUME_YES:
			e = take_bool(
			    &r.assume_yes_for_ask, eq + 1, ll - kl - 1);
			break;
		case KEY_JUST_EVALUATE:
			e = take_bool(&r.just_evaluate, eq + 1, ll - kl - 1);
			break;
		case KEY_MAX:
			e = -EBADMSG;
			break;
		}
	}
	if (e == 0 &&
	    !(seen[KEY_SOURCE] && seen[KEY_INTENDED_TARGET] &&
	        seen[KEY_SERVICE_AND_ARG]))
		e = -EBADMSG;
	if (e < 0) {
		policy_daemon_request_clear(&r);
		return e;
	}
	*ret = r;
	return (int)end;
}
