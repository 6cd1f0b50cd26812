/*
 * eval.c - policy evaluation: a request and system information in, a
 * decision out (allow, deny or ask), then the allow formatted for
 * qrexec-daemon.  The semantics are Qubes' parser.py, token by token:
 * Request, Rule.is_match, Allow/Ask/Deny.evaluate,
 * collect_targets_for_ask, handle_user_response and
 * AllowResolution.execute.
 *
 * Runs in qrexec-policy-daemon (unprivileged) and qrexec-policy-eval.  The
 * request strings come from qrexec-daemons, which took them from qubes:
 * they are untrusted_ until checked here against their character sets
 * and limits, and nothing of them is used before.
 *
 * Deliberate differences from Qubes (each denies where Qubes crashed or
 * rewrote): a source that system information does not know is denied
 * (Qubes could allow it, then crashed on ask or notify); a reply value
 * outside the name character set (user=) is denied; a missing UUID omits
 * target_uuid instead of crashing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/internal.h"

/* The request as Qubes' Request object holds it, after verification. */
struct req {
	const struct sysinfo *si;
	const char *service;
	const char *argument;
	const char *source;
	const struct sysinfo_domain *src;
	/* the intended target: NAME, DEFAULT, ADMINVM, DISPVM, DISPVM_NAME */
	enum policy_token_kind tkind;
	const char *ttext;
	const char *tvalue;
};

static void deny(struct policy_decision *d, bool notify, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
deny(struct policy_decision *d, bool notify, const char *fmt, ...)
{
	va_list ap;

	d->verdict = POLICY_VERDICT_DENY;
	d->notify = notify;
	va_start(ap, fmt);
	policy_vfmt(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	free(d->targets); /* one block: the pointers, then the strings */
	d->targets = NULL;
	d->ntargets = 0;
}

/* Copy src into dst (size n), truncating: for messages and file names. */
static size_t
copy_trunc(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);

	if (l >= n)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
	return l;
}

/*
 * The most common deny, "denied by policy FILE:LINE", without printf: it
 * is on the hot path of every denied call.
 */
static void
deny_by_rule(struct policy_decision *d, const struct policy_rule *rule)
{
	static const char pfx[] = "denied by policy ";
	char num[16];
	size_t o = sizeof(pfx) - 1, k = sizeof(num);
	unsigned v = rule->line;

	deny(d, rule->notify, "%s", "");
	memcpy(d->reason, pfx, o);
	o += copy_trunc(
	    d->reason + o, sizeof(d->reason) - o - sizeof(num), rule->file);
	num[--k] = '\0';
	do {
		num[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	num[--k] = ':';
	memcpy(d->reason + o, num + k, sizeof(num) - k);
}

/* Qubes' match_strings(): names and uuid:UUID refer to the same qube. */
static bool
match_strings(const struct sysinfo *si, const char *self, const char *other)
{
	const struct sysinfo_domain *d;

	if (strncmp(self, "uuid:", 5) == 0) {
		if (strncmp(other, "uuid:", 5) == 0)
			return strcmp(self, other) == 0;
		d = sysinfo_find(si, other);
		return d != NULL && d->uuid != NULL &&
		    strcmp(self + 5, d->uuid) == 0;
	}
	if (strncmp(other, "uuid:", 5) == 0) {
		d = sysinfo_find(si, self);
		return d != NULL && d->uuid != NULL &&
		    strcmp(other + 5, d->uuid) == 0;
	}
	return strcmp(self, other) == 0;
}

/* A source-column token against the (plain) source name. */
static bool
match_source(const struct policy_token *t, const struct req *r)
{
	const struct sysinfo_domain *d;

	switch (t->kind) {
	case POLICY_TOK_NAME:
		if (policy_is_dom0(t->text))
			return policy_is_dom0(r->source);
		return match_strings(r->si, t->text, r->source);
	case POLICY_TOK_ANY:
		return true;
	case POLICY_TOK_ADMINVM:
		return policy_is_dom0(r->source);
	case POLICY_TOK_ANYVM:
		return !policy_is_dom0(r->source);
	case POLICY_TOK_TYPE:
		d = sysinfo_find(r->si, r->source);
		return d != NULL && strcmp(d->type, t->value) == 0;
	case POLICY_TOK_TAG:
		d = sysinfo_find(r->si, r->source);
		return d != NULL && sysinfo_has_tag(d, t->value);
	case POLICY_TOK_DEFAULT:
	case POLICY_TOK_DISPVM:
	case POLICY_TOK_DISPVM_NAME:
	case POLICY_TOK_DISPVM_TAG:
	case POLICY_TOK_MAX:
		/* @dispvm:... parse in the source column but never match */
		return false;
	}
	return false;
}

/* The template a caller's "@dispvm" means: its default_dispvm, or NULL. */
static const char *
dispvm_template(const struct req *r)
{
	return r->src != NULL ? r->src->default_dispvm : NULL;
}

/* A target-column token against the verified intended target. */
static bool
match_target(const struct policy_token *t, const struct req *r)
{
	const struct sysinfo_domain *d;
	const char *tmpl;

	switch (t->kind) {
	case POLICY_TOK_NAME:
		if (policy_is_dom0(t->text))
			return policy_is_dom0(r->ttext);
		return match_strings(r->si, t->text, r->ttext);
	case POLICY_TOK_ANY:
		return true;
	case POLICY_TOK_ADMINVM:
		return policy_is_dom0(r->ttext);
	case POLICY_TOK_ANYVM:
		/* includes @default and @dispvm...: anything but dom0 */
		return !policy_is_dom0(r->ttext);
	case POLICY_TOK_DEFAULT:
		return r->tkind == POLICY_TOK_DEFAULT;
	case POLICY_TOK_TYPE:
		d = r->tkind == POLICY_TOK_NAME ?
		    sysinfo_find(r->si, r->ttext) :
		    NULL;
		return d != NULL && strcmp(d->type, t->value) == 0;
	case POLICY_TOK_TAG:
		d = r->tkind == POLICY_TOK_NAME ?
		    sysinfo_find(r->si, r->ttext) :
		    NULL;
		return d != NULL && sysinfo_has_tag(d, t->value);
	case POLICY_TOK_DISPVM:
		return r->tkind == POLICY_TOK_DISPVM;
	case POLICY_TOK_DISPVM_NAME:
		if (r->tkind == POLICY_TOK_DISPVM) {
			/* compared as whole "@dispvm:X" strings: no uuid */
			tmpl = dispvm_template(r);
			return tmpl != NULL && strcmp(t->value, tmpl) == 0;
		}
		if (r->tkind != POLICY_TOK_DISPVM_NAME)
			return false;
		return match_strings(r->si, t->value, r->tvalue);
	case POLICY_TOK_DISPVM_TAG:
		if (r->tkind == POLICY_TOK_DISPVM)
			tmpl = dispvm_template(r);
		else if (r->tkind == POLICY_TOK_DISPVM_NAME)
			tmpl = r->tvalue;
		else
			return false;
		d = tmpl != NULL ? sysinfo_find(r->si, tmpl) : NULL;
		return d != NULL && d->template_for_dispvms &&
		    sysinfo_has_tag(d, t->value);
	case POLICY_TOK_MAX:
		return false;
	}
	return false;
}

static bool
match_but_target(const struct policy_rule *rule, const struct req *r)
{
	return (rule->service == NULL ||
	           strcmp(rule->service, r->service) == 0) &&
	    (rule->argument == NULL ||
	        strcmp(rule->argument, r->argument) == 0) &&
	    match_source(&rule->source, r);
}

/*
 * The rules that can match r's service, in policy order: the service's
 * own list merged with the "*" rules.  Returns a new array (NULL and
 * *ret_n 0 if there are none, or on ENOMEM with *ret_oom set).
 */
static uint32_t *
candidates(
    const struct policy *p, const char *service, size_t *ret_n, bool *ret_oom)
{
	const struct svc_entry *e = policy_index_find(p, service);
	size_t a = 0, b = 0, na = e ? e->n : 0, nb = p->nwild, n = 0;
	uint32_t *out;

	*ret_n = 0;
	*ret_oom = false;
	if (na + nb == 0)
		return NULL;
	out = calloc(na + nb, sizeof(*out));
	if (out == NULL) {
		*ret_oom = true;
		return NULL;
	}
	while (a < na || b < nb) {
		if (b >= nb || (a < na && e->idx[a] < p->wild[b]))
			out[n++] = e->idx[a++];
		else
			out[n++] = p->wild[b++];
	}
	*ret_n = n;
	return out;
}

static const struct policy_rule *
find_rule(const struct policy *p, const struct req *r)
{
	const struct svc_entry *e = policy_index_find(p, r->service);
	size_t a = 0, b = 0, na = e ? e->n : 0, nb = p->nwild;

	/* merge on the fly: no allocation on the hot path */
	while (a < na || b < nb) {
		const struct policy_rule *rule;

		if (b >= nb || (a < na && e->idx[a] < p->wild[b]))
			rule = &p->rules[e->idx[a++]];
		else
			rule = &p->rules[p->wild[b++]];
		if (match_but_target(rule, r) && match_target(&rule->target, r))
			return rule;
	}
	return NULL;
}

/* ---- ask: the choices ---- */

enum {
	SLOT_DISPVM,
	SLOT_ADMINVM,
	SLOT_EXTRA
};

/* slots: 2i the qube i, 2i+1 "@dispvm:" qube i, then the two keywords */
static void
expand(
    const struct policy_token *t, const struct req *r, uint8_t *slot, uint8_t v)
{
	const struct sysinfo *si = r->si;
	size_t n = sysinfo_count(si), i;
	const struct sysinfo_domain *d;

	switch (t->kind) {
	case POLICY_TOK_NAME:
		d = sysinfo_find(si, t->text);
		if (d != NULL)
			slot[2 * (size_t)(d - sysinfo_at(si, 0))] = v;
		break;
	case POLICY_TOK_ANY:
	case POLICY_TOK_ANYVM:
		for (i = 0; i < n; i++) {
			d = sysinfo_at(si, i);
			if (t->kind == POLICY_TOK_ANY || !d->is_dom0)
				slot[2 * i] = v;
			if (d->template_for_dispvms)
				slot[2 * i + 1] = v;
		}
		slot[2 * n + SLOT_DISPVM] = v;
		break;
	case POLICY_TOK_ADMINVM:
		slot[2 * n + SLOT_ADMINVM] = v;
		break;
	case POLICY_TOK_DEFAULT:
	case POLICY_TOK_MAX:
		break;
	case POLICY_TOK_TYPE:
	case POLICY_TOK_TAG:
		for (i = 0; i < n; i++) {
			d = sysinfo_at(si, i);
			if (t->kind == POLICY_TOK_TYPE ?
			        strcmp(d->type, t->value) == 0 :
			        sysinfo_has_tag(d, t->value))
				slot[2 * i] = v;
		}
		break;
	case POLICY_TOK_DISPVM:
		slot[2 * n + SLOT_DISPVM] = v;
		break;
	case POLICY_TOK_DISPVM_NAME:
		d = sysinfo_find(si, t->value);
		if (d != NULL && d->template_for_dispvms)
			slot[2 * (size_t)(d - sysinfo_at(si, 0)) + 1] = v;
		break;
	case POLICY_TOK_DISPVM_TAG:
		for (i = 0; i < n; i++) {
			d = sysinfo_at(si, i);
			if (d->template_for_dispvms &&
			    sysinfo_has_tag(d, t->value))
				slot[2 * i + 1] = v;
		}
		break;
	}
}

/*
 * The choices of an ask, as one allocation: n pointers, then the strings
 * they point to.  prefix[i] ("" or "@dispvm:") and name[i] make choice i.
 */
static int
set_targets(struct policy_decision *d, const char *const *prefix,
    const char *const *name, size_t n)
{
	size_t bytes = n * sizeof(char *), i;
	char **t, *p;

	for (i = 0; i < n; i++)
		bytes += strlen(prefix[i]) + strlen(name[i]) + 1;
	t = malloc(bytes ? bytes : 1);
	if (t == NULL)
		return -ENOMEM;
	p = (char *)(t + n);
	for (i = 0; i < n; i++) {
		size_t pl = strlen(prefix[i]), nl = strlen(name[i]);

		t[i] = p;
		memcpy(p, prefix[i], pl);
		memcpy(p + pl, name[i], nl + 1);
		p += pl + nl + 1;
	}
	free(d->targets);
	d->targets = t;
	d->ntargets = n;
	return 0;
}

/*
 * Qubes' collect_targets_for_ask(): walk the rules that match but for the
 * target, last to first, adding what allow/ask rules name and removing
 * what deny rules name, so that earlier rules win.  Then @dispvm becomes
 * the source's default disposable template, @adminvm dom0, and the source
 * and internal qubes go.
 */
static int
collect_targets(
    const struct policy *p, const struct req *r, struct policy_decision *d)
{
	const struct sysinfo *si = r->si;
	size_t n = sysinfo_count(si), nc, c;
	uint32_t *cand;
	uint8_t *slot;
	bool oom;
	int ret = 0;

	if (n == 0)
		return 0; /* no qubes, no choices */
	slot = calloc(2 * n + SLOT_EXTRA, 1);
	if (slot == NULL)
		return -ENOMEM;
	cand = candidates(p, r->service, &nc, &oom);
	if (oom) {
		free(slot);
		return -ENOMEM;
	}
	for (c = nc; c-- > 0;) {
		const struct policy_rule *rule = &p->rules[cand[c]];

		if (!match_but_target(rule, r))
			continue;
		expand(rule->has_redirect ? &rule->redirect : &rule->target, r,
		    slot, rule->action == POLICY_ACTION_DENY ? 0 : 1);
	}
	free(cand);
	if (slot[2 * n + SLOT_DISPVM]) {
		const char *tmpl = dispvm_template(r);
		const struct sysinfo_domain *t =
		    tmpl ? sysinfo_find(si, tmpl) : NULL;

		slot[2 * n + SLOT_DISPVM] = 0;
		/* as Qubes: not checked for template_for_dispvms here */
		if (t != NULL)
			slot[2 * (size_t)(t - sysinfo_at(si, 0)) + 1] = 1;
	}
	if (slot[2 * n + SLOT_ADMINVM]) {
		const struct sysinfo_domain *t = sysinfo_find(si, "dom0");

		slot[2 * n + SLOT_ADMINVM] = 0;
		if (t != NULL)
			slot[2 * (size_t)(t - sysinfo_at(si, 0))] = 1;
	}
	/* XXX #3: Qubes #951, no loopback calls: drop the source itself */
	if (r->src != NULL)
		slot[2 * (size_t)(r->src - sysinfo_at(si, 0))] = 0;
	/*
	 * In C-locale order without sorting: names start with a letter, so
	 * every "@dispvm:" choice sorts before every name, and both lists
	 * follow the order of the names.
	 */
	{
		const char **pfx = calloc(2 * n + 1, sizeof(*pfx));
		const char **nm = calloc(2 * n + 1, sizeof(*nm));
		size_t m = 0;

		for (c = 0; c < 2 * n && pfx != NULL && nm != NULL; c++) {
			size_t k = sysinfo_sorted_index(si, c % n);
			const struct sysinfo_domain *dom = sysinfo_at(si, k);

			if (dom->internal || !slot[2 * k + (c < n ? 1 : 0)])
				continue;
			pfx[m] = c < n ? "@dispvm:" : "";
			nm[m++] = dom->name;
		}
		ret = pfx != NULL && nm != NULL ? set_targets(d, pfx, nm, m) :
		                                  -ENOMEM;
		free(pfx);
		free(nm);
	}
	free(slot);
	return ret;
}

/* Qubes' allow_no_autostart(): may a call go there without a start? */
static bool
no_autostart_ok(const struct sysinfo *si, const char *target)
{
	const struct sysinfo_domain *d;

	if (policy_is_dom0(target))
		return true;
	if (strncmp(target, "@dispvm", 7) == 0)
		return false;
	d = sysinfo_find(si, target);
	return d != NULL && strcmp(d->power_state, "Running") == 0;
}

static int
copy_name(char *dst, const char *src)
{
	size_t n = strlen(src);

	if (n >= POLICY_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Verify a redirect as Qubes' IntendedTarget.verify() does. */
static int
verify_redirect(const struct policy_token *t, const struct req *r,
    struct policy_decision *d, enum policy_token_kind *ret_kind)
{
	const struct sysinfo_domain *dom;

	*ret_kind = t->kind;
	if (t->kind == POLICY_TOK_NAME && sysinfo_find(r->si, t->text) == NULL)
		*ret_kind = POLICY_TOK_DEFAULT;
	if (t->kind == POLICY_TOK_DISPVM_NAME) {
		dom = sysinfo_find(r->si, t->value);
		if (dom == NULL || !dom->template_for_dispvms) {
			char q[80];

			deny(d, true, "not a template for dispvm: %s",
			    policy_quote(q, sizeof(q), t->value));
			return -EACCES;
		}
	}
	return 0;
}

static void
set_rule(struct policy_decision *d, const struct policy_rule *rule)
{
	d->has_rule = true;
	(void)copy_trunc(d->rule_file, sizeof(d->rule_file), rule->file);
	d->rule_line = rule->line;
	d->autostart = rule->autostart;
	d->notify = rule->notify;
	if (rule->user != NULL) {
		d->user_set = true;
		policy_fmt(d->user, sizeof(d->user), "%s", rule->user);
		if (strlen(rule->user) >= sizeof(d->user))
			d->user[0] = '\1'; /* rejected when formatted */
	}
}

static void
eval_allow(const struct policy_rule *rule, const struct req *r,
    struct policy_decision *d)
{
	enum policy_token_kind kind = r->tkind;
	const char *text = r->ttext;
	char target[POLICY_NAME_MAX];
	char q[80];

	if (rule->has_redirect) {
		if (verify_redirect(&rule->redirect, r, d, &kind) < 0)
			return;
		text = rule->redirect.text;
	}
	if (kind == POLICY_TOK_DEFAULT) {
		deny(d, true,
		    "policy define 'allow' action at %s:%u but no target is "
		    "specified by caller or policy",
		    rule->file, rule->line);
		return;
	}
	if (kind == POLICY_TOK_DISPVM) {
		const char *tmpl = dispvm_template(r);

		if (tmpl == NULL) {
			deny(d, true,
			    "policy define 'allow' action to @dispvm at %s:%u "
			    "but no DispVM base is set for this VM",
			    rule->file, rule->line);
			return;
		}
		policy_fmt(target, sizeof(target), "@dispvm:%s", tmpl);
	} else if (strcmp(text, "@adminvm") == 0) {
		policy_fmt(target, sizeof(target), "dom0");
	} else if (copy_name(target, text) < 0) {
		deny(d, true, "target name too long");
		return;
	}
	if (!rule->autostart && !no_autostart_ok(r->si, target)) {
		deny(d, rule->notify,
		    "target %s is denied because it would require autostart",
		    policy_quote(q, sizeof(q), target));
		return;
	}
	d->verdict = POLICY_VERDICT_ALLOW;
	memcpy(d->target, target, sizeof(d->target));
}

static int
eval_ask(const struct policy *p, const struct policy_rule *rule,
    const struct req *r, struct policy_decision *d)
{
	const char *dt = NULL;
	char dbuf[POLICY_NAME_MAX];
	size_t i, o;
	int ret;

	if (rule->has_redirect) {
		/* as Qubes: the redirect as written, not expanded */
		const char *pfx = "";
		const char *nm = policy_is_dom0(rule->redirect.text) ?
		    "dom0" :
		    rule->redirect.text;

		ret = set_targets(d, &pfx, &nm, 1);
	} else {
		ret = collect_targets(p, r, d);
	}
	if (ret < 0)
		return ret;
	if (!rule->autostart) {
		for (i = 0, o = 0; i < d->ntargets; i++) {
			if (no_autostart_ok(r->si, d->targets[i]))
				d->targets[o++] = d->targets[i];
		}
		d->ntargets = o;
	}
	if (d->ntargets == 0) {
		deny(d, true,
		    "policy define 'ask' action at %s:%u but no target is "
		    "available to choose from",
		    rule->file, rule->line);
		return 0;
	}
	if (rule->has_default_target) {
		const struct policy_token *t = &rule->default_target;

		if (t->kind == POLICY_TOK_DISPVM) {
			const char *tmpl = dispvm_template(r);

			if (tmpl != NULL) {
				policy_fmt(
				    dbuf, sizeof(dbuf), "@dispvm:%s", tmpl);
				dt = dbuf;
			}
		} else if (policy_is_dom0(t->text)) {
			dt = "dom0";
		} else {
			dt = t->text;
		}
	}
	/* a default that is not a choice is dropped (Qubes warns) */
	if (dt != NULL)
		for (i = 0; i < d->ntargets; i++)
			if (strcmp(d->targets[i], dt) == 0 &&
			    strlen(dt) < sizeof(d->default_target)) {
				memcpy(d->default_target, dt, strlen(dt) + 1);
				break;
			}
	d->verdict = POLICY_VERDICT_ASK;
	return 0;
}

static bool
intended_target_chars_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= POLICY_NAME_MAX - 1)
			return false;
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		        (c >= 'a' && c <= 'z') || c == '_' || c == '-' ||
		        c == '.' || c == '@' || c == ':'))
			return false;
	}
	return true;
}

static bool
source_valid(const char *s)
{
	return policy_qube_name_valid(s) || policy_uuid_ref_valid(s);
}

/*
 * Check the request strings and copy them into d.  Returns 0, or -EINVAL
 * after deny() for a malformed request.
 */
static int
take_request(const struct policy_query *q, struct policy_decision *d,
    const char **ret_target)
{
	const char *sa = q->untrusted_service_and_arg;
	const char *t = q->untrusted_intended_target;
	const char *rs = q->untrusted_requested_source;
	size_t salen, svclen;
	const char *plus;

	if (sa == NULL ||
	    (salen = strnlen(sa, POLICY_MAX_SERVICE_ARG_LEN + 1)) >
	        POLICY_MAX_SERVICE_ARG_LEN) {
		deny(d, false, "invalid service: too long");
		return -EINVAL;
	}
	plus = memchr(sa, '+', salen);
	svclen = plus ? (size_t)(plus - sa) : salen;
	if (!policy_service_name_valid(sa, svclen) ||
	    svclen >= sizeof(d->service) ||
	    (plus != NULL && !policy_argument_valid(plus, salen - svclen))) {
		deny(d, false, "invalid service name or argument");
		return -EINVAL;
	}
	memcpy(d->service, sa, svclen);
	d->service[svclen] = '\0';
	d->argument = strdup(plus ? plus : "+");
	if (d->argument == NULL)
		return -ENOMEM;
	if (q->untrusted_source == NULL || !source_valid(q->untrusted_source)) {
		deny(d, false, "invalid source qube name");
		return -EINVAL;
	}
	(void)copy_name(d->source, q->untrusted_source);
	if (t == NULL || !intended_target_chars_ok(t)) {
		deny(d, false, "invalid target name");
		return -EINVAL;
	}
	if (rs != NULL && rs[0] != '\0' && !policy_qube_name_valid(rs)) {
		deny(d, false, "invalid requested source qube name");
		return -EINVAL;
	}
	*ret_target = t[0] == '\0' ? "@default" : t;
	return 0;
}

int
policy_evaluate(const struct policy *p, struct sysinfo *si,
    const struct policy_query *q, struct policy_decision *d)
{
	const struct policy_rule *rule;
	const char *rs = q->untrusted_requested_source;
	const char *target;
	char err[POLICY_ERRMSG_MAX], qb[80];
	struct policy_token tok;
	struct req r;
	int ret;

	memset(d, 0, sizeof(*d));
	d->verdict = POLICY_VERDICT_DENY;
	d->si = sysinfo_ref(si);
	memset(&r, 0, sizeof(r));
	ret = take_request(q, d, &target);
	if (ret < 0)
		return ret == -ENOMEM ? ret : 0;
	if (si == NULL) {
		deny(d, false, "no system information");
		return 0;
	}
	if (p == NULL) {
		deny(d, false, "the policy could not be loaded");
		return 0;
	}
	r.si = si;
	r.service = d->service;
	r.argument = d->argument;
	r.source = d->source;
	/* requested_source: only a RemoteVM's relay may name another source */
	if (rs != NULL && rs[0] != '\0') {
		const struct sysinfo_domain *rd = sysinfo_find(si, rs);

		if (rd == NULL) {
			deny(d, true, "unknown requested source qube '%s'", rs);
			return 0;
		}
		if (strcmp(rd->type, "RemoteVM") != 0) {
			deny(d, true,
			    "%s: requested source is only authorized for "
			    "RemoteVM",
			    rs);
			return 0;
		}
		if (rd->relayvm == NULL ||
		    strcmp(rd->relayvm, d->source) != 0) {
			deny(
			    d, true, "%s is not a relay for %s", d->source, rs);
			return 0;
		}
		memcpy(d->relay, d->source, sizeof(d->relay));
		(void)copy_name(d->source, rs);
	}
	r.src = sysinfo_find(si, d->source);
	if (r.src == NULL) {
		deny(d, false, "unknown source qube '%s'", d->source);
		return 0;
	}
	/* the intended target, verified as Qubes' IntendedTarget */
	if (target[0] == '@') {
		if (policy_token_parse(target, POLICY_POS_INTENDED, &tok, err,
		        sizeof(err)) < 0) {
			deny(d, false, "%s", err);
			return 0;
		}
		if (tok.kind == POLICY_TOK_DISPVM_NAME) {
			const struct sysinfo_domain *dom =
			    sysinfo_find(si, tok.value);

			if (dom == NULL || !dom->template_for_dispvms) {
				deny(d, true, "not a template for dispvm: %s",
				    policy_quote(qb, sizeof(qb), tok.value));
				return 0;
			}
		}
		r.tkind = tok.kind;
	} else if (sysinfo_find(si, target) == NULL) {
		/* an unknown name is @default (Qubes logs a warning) */
		target = "@default";
		r.tkind = POLICY_TOK_DEFAULT;
	} else {
		r.tkind = POLICY_TOK_NAME;
	}
	(void)copy_name(d->requested_target, target);
	r.ttext = d->requested_target;
	r.tvalue = r.tkind == POLICY_TOK_DISPVM_NAME ? r.ttext + 8 : r.ttext;

	rule = find_rule(p, &r);
	if (rule == NULL) {
		deny(d, true, "no matching rule found");
		return 0;
	}
	set_rule(d, rule);
	switch (rule->action) {
	case POLICY_ACTION_DENY:
		deny_by_rule(d, rule);
		return 0;
	case POLICY_ACTION_ALLOW:
		eval_allow(rule, &r, d);
		return 0;
	case POLICY_ACTION_ASK:
		return eval_ask(p, rule, &r, d);
	case POLICY_ACTION_MAX:
		break;
	}
	deny(d, true, "invalid rule");
	return 0;
}

void
policy_decision_free(struct policy_decision *d)
{
	if (d == NULL)
		return;
	free(d->targets);
	d->targets = NULL;
	d->ntargets = 0;
	free(d->argument);
	d->argument = NULL;
	sysinfo_unref(d->si);
	d->si = NULL;
}

int
policy_decision_answer(
    struct policy_decision *d, bool allowed, const char *untrusted_target)
{
	char q[80];
	size_t i;

	if (d->verdict != POLICY_VERDICT_ASK)
		return -EINVAL;
	if (!allowed) {
		deny(d, d->notify, "denied by the user %s:%u", d->rule_file,
		    d->rule_line);
		return 0;
	}
	for (i = 0; i < d->ntargets; i++)
		if (strcmp(d->targets[i], untrusted_target) == 0)
			break;
	if (i == d->ntargets) {
		deny(d, true, "target %s is not a valid choice",
		    policy_quote(q, sizeof(q), untrusted_target));
		return 0;
	}
	/* the choices are names we made: they fit */
	(void)copy_name(d->target, d->targets[i]);
	free(d->targets);
	d->targets = NULL;
	d->ntargets = 0;
	d->verdict = POLICY_VERDICT_ALLOW;
	return 0;
}

int
policy_decision_assume_yes(struct policy_decision *d)
{
	return policy_decision_answer(d, true, d->requested_target);
}

static bool
value_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') ||
		        (*s >= 'a' && *s <= 'z') || *s == '_' || *s == '-' ||
		        *s == '.'))
			return false;
	return true;
}

int
policy_decision_format(struct policy_decision *d, char *out, size_t outlen)
{
	const struct sysinfo_domain *dom;
	const char *user = d->user[0] != '\0' ? d->user : "DEFAULT";
	const char *auto_s = d->autostart ? "True" : "False";
	char tail[POLICY_NAME_MAX + 32];
	char q[80];
	int n;

	if (d->verdict != POLICY_VERDICT_ALLOW)
		goto out_deny;
	/*
	 * XXX #3: Qubes #951, loopback calls are not supported.  The same
	 * qube named twice ways (name and uuid:) is a loopback too.
	 */
	if (strcmp(d->source, d->target) == 0 ||
	    ((dom = sysinfo_find(d->si, d->target)) != NULL &&
	        dom == sysinfo_find(d->si, d->source))) {
		deny(d, true, "loopback qrexec connection not supported");
		goto out_deny;
	}
	if (!value_ok(user)) {
		deny(d, true, "invalid user name in policy: %s",
		    policy_quote(q, sizeof(q), d->user));
		goto out_deny;
	}
	tail[0] = '\0';
	if (d->relay[0] != '\0')
		policy_fmt(tail, sizeof(tail), "\npolicy_source=%s", d->source);
	if (policy_is_dom0(d->target)) {
		n = snprintf(out, outlen,
		    "user=%s\nresult=allow\ntarget=dom0\nautostart=%s\n"
		    "requested_target=%s%s",
		    user, auto_s, d->requested_target, tail);
	} else if (strncmp(d->target, "@dispvm:", 8) == 0) {
		dom = sysinfo_find(d->si, d->target + 8);
		if (dom == NULL) {
			deny(d, true, "unknown disposable template %s",
			    policy_quote(q, sizeof(q), d->target + 8));
			goto out_deny;
		}
		n = snprintf(out, outlen,
		    "user=%s\nresult=allow\ntarget=%s\n%s%s%sautostart=%s\n"
		    "requested_target=%s%s",
		    user, d->target,
		    dom->uuid ? "target_uuid=@dispvm:uuid:" : "",
		    dom->uuid ? dom->uuid : "", dom->uuid ? "\n" : "", auto_s,
		    d->requested_target, tail);
	} else {
		dom = sysinfo_find(d->si, d->target);
		if (dom == NULL) {
			deny(d, true, "unknown target %s",
			    policy_quote(q, sizeof(q), d->target));
			goto out_deny;
		}
		if (strcmp(dom->type, "RemoteVM") == 0) {
			const struct sysinfo_domain *relay;

			/* the user is the remote side's business */
			if (dom->relayvm == NULL) {
				deny(d, true, "%s: relayvm is not set",
				    d->target);
				goto out_deny;
			}
			if (dom->transport_rpc == NULL) {
				deny(d, true, "%s: transport RPC is not set",
				    d->target);
				goto out_deny;
			}
			relay = sysinfo_find(d->si, dom->relayvm);
			if (relay == NULL) {
				deny(d, true, "%s: unknown relayvm %s",
				    d->target, dom->relayvm);
				goto out_deny;
			}
			n = snprintf(out, outlen,
			    "user=DEFAULT\nresult=allow\ntarget=%s\n%s%s%s"
			    "autostart=%s\nrequested_target=%s\n"
			    "service=%s+%s+%s%s%s",
			    relay->name, relay->uuid ? "target_uuid=uuid:" : "",
			    relay->uuid ? relay->uuid : "",
			    relay->uuid ? "\n" : "", auto_s,
			    d->requested_target, dom->transport_rpc, dom->name,
			    d->service, d->argument, tail);
		} else {
			n = snprintf(out, outlen,
			    "user=%s\nresult=allow\ntarget=%s\n%s%s%s"
			    "autostart=%s\nrequested_target=%s%s",
			    user, d->target,
			    dom->uuid ? "target_uuid=uuid:" : "",
			    dom->uuid ? dom->uuid : "", dom->uuid ? "\n" : "",
			    auto_s, d->requested_target, tail);
		}
	}
	if (n < 0 || (size_t)n >= outlen) {
		deny(d, true, "reply too long");
		goto out_deny;
	}
	return n;

out_deny:
	n = snprintf(out, outlen, "result=deny");
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : n;
}

/* ---- the agent protocol ---- */

static char *
dump_line(json_t *o)
{
	char *s, *line = NULL;

	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (s == NULL)
		return NULL;
	if (asprintf(&line, "%s\n", s) < 0)
		line = NULL;
	free(s);
	return line;
}

char *
policy_agent_ask_json(const struct policy_decision *d)
{
	json_t *o, *targets;
	size_t i;

	targets = json_array();
	if (targets == NULL)
		return NULL;
	for (i = 0; i < d->ntargets; i++)
		if (json_array_append_new(targets, json_string(d->targets[i])) <
		    0) {
			json_decref(targets);
			return NULL;
		}
	o = json_pack("{s:s, s:s, s:s, s:o, s:s}", "source", d->source,
	    "service", d->service, "argument", d->argument, "targets", targets,
	    "default_target", d->default_target);
	return dump_line(o);
}

char *
policy_agent_notify_json(const struct policy_decision *d, const char *target)
{
	json_t *o;

	o = json_pack("{s:{s:s, s:s, s:s, s:s, s:s}}", "notify", "resolution",
	    d->verdict == POLICY_VERDICT_ALLOW ? "allow" : "deny", "service",
	    d->service, "argument", d->argument ? d->argument : "+", "source",
	    d->source, "target", target);
	return dump_line(o);
}

int
policy_agent_answer_parse(const char *untrusted_buf, size_t len,
    bool *ret_allowed, char ret_target[POLICY_NAME_MAX])
{
	char t[POLICY_NAME_MAX];
	size_t tl;

	if (len > 0 && untrusted_buf[len - 1] == '\n')
		len--;
	if (memchr(untrusted_buf, '\0', len) != NULL)
		return -EBADMSG;
	if (len == 4 && memcmp(untrusted_buf, "deny", 4) == 0) {
		*ret_allowed = false;
		ret_target[0] = '\0';
		return 0;
	}
	if (len < 7 || memcmp(untrusted_buf, "allow:", 6) != 0)
		return -EBADMSG;
	tl = len - 6;
	if (tl >= sizeof(t))
		return -EBADMSG;
	memcpy(t, untrusted_buf + 6, tl);
	t[tl] = '\0';
	if (!intended_target_chars_ok(t))
		return -EBADMSG;
	memcpy(ret_target, t, tl + 1);
	*ret_allowed = true;
	return 0;
}
