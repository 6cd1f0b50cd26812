/*
 * proto/features.c - parse a qube's qubes.FeaturesRequest /
 * qubes.NotifyTools request (proto/features.h).  The only code that reads
 * those bytes; what it returns is checked further, name by name, by
 * bulkhead-features-request.
 */
#include <errno.h>
#include <string.h>

#include "lib/proto/features.h"

bool
proto_features_chars_ok(const char *s, const char *extra)
{
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9')) &&
		    strchr(extra, c) == NULL)
			return false;
	}
	return true;
}

int
proto_features_parse(bool notify_tools, const char *untrusted_buf, size_t len,
    struct features_request *ret, size_t *ret_badline)
{
	const char *vset = notify_tools ? "" : "-.,_= ";
	size_t at = 0, lines = 0, i;

	ret->n = 0;
	*ret_badline = 0;
	if (len > FEATURES_MAX_TOTAL)
		return -EMSGSIZE;
	if (memchr(untrusted_buf, '\0', len) != NULL)
		return -EBADMSG;
	while (at < len) {
		const char *untrusted_line = untrusted_buf + at, *nl, *eq;
		struct features_pair *p;
		size_t ll, nlen;

		nl = memchr(untrusted_line, '\n', len - at);
		ll = nl ? (size_t)(nl - untrusted_line) : len - at;
		at += ll + (nl ? 1 : 0);
		*ret_badline = ++lines;
		if (lines > FEATURES_MAX_LINES || ll > FEATURES_MAX_LINE)
			return -EMSGSIZE;
		if (ll == 0)
			continue;
		eq = memchr(untrusted_line, '=', ll);
		if (eq == NULL || eq == untrusted_line)
			return -EBADMSG;
		nlen = (size_t)(eq - untrusted_line);
		p = &ret->pair[ret->n];
		memcpy(p->name, untrusted_line, nlen);
		p->name[nlen] = '\0';
		memcpy(p->value, eq + 1, ll - nlen - 1);
		p->value[ll - nlen - 1] = '\0';
		if (!proto_features_chars_ok(p->name, "_.-") ||
		    !proto_features_chars_ok(p->value, vset))
			return -EBADMSG;
		for (i = 0; i < ret->n; i++)
			if (strcmp(ret->pair[i].name, p->name) == 0)
				return -EBADMSG;
		ret->n++;
	}
	*ret_badline = 0;
	return 0;
}

int
proto_features_check(
    bool notify_tools, const struct features_request *untrusted_req)
{
	const char *vset = notify_tools ? "" : "-.,_= ";
	size_t n = untrusted_req->n, i, j;

	if (n > FEATURES_MAX_LINES)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		const struct features_pair *p = &untrusted_req->pair[i];
		const char *ne = memchr(p->name, '\0', sizeof(p->name));
		const char *ve = memchr(p->value, '\0', sizeof(p->value));

		if (ne == NULL || ve == NULL || ne == p->name ||
		    (size_t)(ne - p->name) + (size_t)(ve - p->value) + 1 >
		        FEATURES_MAX_LINE ||
		    !proto_features_chars_ok(p->name, "_.-") ||
		    !proto_features_chars_ok(p->value, vset))
			return -EBADMSG;
		for (j = 0; j < i; j++)
			if (strcmp(untrusted_req->pair[j].name, p->name) == 0)
				return -EBADMSG;
	}
	return 0;
}
