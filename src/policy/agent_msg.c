/*
 * agent_msg.c - the policy agent's side of the ask protocol: parse what
 * qrexec-policy-daemon sends an agent (a question or a notification).
 *
 * Run by bulkhead-policy-agent (the user's terminal) and bulkhead-guid
 * (the GUI domain's prompt), each as the user who answers.  The daemon is
 * on the admin side, but the names in its messages came from qubes: each
 * is checked against the characters of a qube, service or argument name
 * before it is copied out, so what is shown cannot carry control bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/util.h"
#include "policy/policy.h"

static bool
agent_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= POLICY_NAME_MAX - 1 ||
		    !((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
		        s[i] == '-' || s[i] == '.' || s[i] == '@' ||
		        s[i] == ':' || s[i] == '+'))
			return false;
	return true;
}

/* Copy a string member whose characters are a name's; -EBADMSG if not. */
static int
get_name(
    json_t *o, const char *key, bool may_be_empty, char out[POLICY_NAME_MAX])
{
	json_t *v = json_object_get(o, key);
	const char *s;

	if (!json_is_string(v))
		return -EBADMSG;
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v) || !agent_name_ok(s) ||
	    (!may_be_empty && s[0] == '\0'))
		return -EBADMSG;
	return str_copy(out, POLICY_NAME_MAX, s) < 0 ? -EBADMSG : 0;
}

int
policy_agent_msg_parse(
    const char *untrusted_buf, size_t len, struct policy_agent_msg *ret)
{
	struct policy_agent_msg m;
	json_error_t jerr;
	json_t *o, *n, *targets;
	size_t i;
	int r = -EBADMSG;

	memset(&m, 0, sizeof(m));
	if (len > POLICY_AGENT_MSG_MAX)
		return -EMSGSIZE;
	o = json_loadb(untrusted_buf, len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (!json_is_object(o))
		goto out;
	n = json_object_get(o, "notify");
	if (n != NULL) {
		m.is_notify = true;
		if (!json_is_object(n) ||
		    get_name(n, "resolution", false, m.resolution) < 0 ||
		    (strcmp(m.resolution, "allow") != 0 &&
		        strcmp(m.resolution, "deny") != 0) ||
		    get_name(n, "service", false, m.service) < 0 ||
		    get_name(n, "argument", true, m.argument) < 0 ||
		    get_name(n, "source", false, m.source) < 0 ||
		    get_name(n, "target", true, m.target) < 0)
			goto out;
		r = 0;
		goto out;
	}
	targets = json_object_get(o, "targets");
	if (get_name(o, "source", false, m.source) < 0 ||
	    get_name(o, "service", false, m.service) < 0 ||
	    get_name(o, "argument", false, m.argument) < 0 ||
	    get_name(o, "default_target", true, m.default_target) < 0 ||
	    !json_is_array(targets) || json_array_size(targets) == 0 ||
	    json_array_size(targets) > POLICY_AGENT_TARGETS_MAX)
		goto out;
	m.targets = calloc(json_array_size(targets), sizeof(*m.targets));
	if (m.targets == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < json_array_size(targets); i++) {
		json_t *t = json_array_get(targets, i);

		if (!json_is_string(t) ||
		    !agent_name_ok(json_string_value(t)) ||
		    json_string_value(t)[0] == '\0' ||
		    strlen(json_string_value(t)) != json_string_length(t))
			goto out;
		m.targets[i] = strdup(json_string_value(t));
		if (m.targets[i] == NULL) {
			r = -ENOMEM;
			goto out;
		}
		m.ntargets = i + 1;
	}
	r = 0;
out:
	json_decref(o);
	if (r < 0) {
		policy_agent_msg_clear(&m);
		return r;
	}
	*ret = m;
	return 0;
}

void
policy_agent_msg_clear(struct policy_agent_msg *m)
{
	size_t i;

	for (i = 0; i < m->ntargets; i++)
		free(m->targets[i]);
	free(m->targets);
	m->targets = NULL;
	m->ntargets = 0;
}
