/*
 * proto/features.h - what a qube sends to qubes.FeaturesRequest and
 * qubes.NotifyTools on the admin side.  Qubes' qube writes NAME=VALUE
 * pairs to its qubesdb; bulkhead has no qubesdb, so the pairs come on the
 * service's standard input, one a line (a divergence: see
 * bulkhead-features-request(8)).
 */
#ifndef BULKHEAD_PROTO_FEATURES_H
#define BULKHEAD_PROTO_FEATURES_H

#include <stdbool.h>
#include <stddef.h>

/* Limits on what a qube may send; anything beyond refuses the request. */
#define FEATURES_MAX_LINES 64
#define FEATURES_MAX_LINE  256 /* bytes, without the newline */
#define FEATURES_MAX_TOTAL 8192

struct features_pair {
	char name[FEATURES_MAX_LINE + 1];
	char value[FEATURES_MAX_LINE + 1];
};

struct features_request {
	size_t n;
	struct features_pair pair[FEATURES_MAX_LINES];
};

/* Is every character of s an ASCII letter, digit or one of extra? */
bool proto_features_chars_ok(const char *s, const char *extra);

/*
 * Parse a request: untrusted_buf/len is everything the qube sent.  Lines
 * end in '\n' (the last may not); empty lines are skipped but count.
 * Each line is NAME=VALUE with NAME of [A-Za-z0-9_.-], at least one, and
 * VALUE of the mode's set (Qubes' qubes/api/misc.py: FeaturesRequest
 * letters, digits and "-.,_= ", NotifyTools letters and digits), each name
 * once (qubesdb has one value a key).  No NUL anywhere.  Returns 0 with
 * *ret filled, or -EMSGSIZE (over a limit) or -EBADMSG (malformed), with
 * *ret_badline the 1-based line at fault (0: the whole request); *ret is
 * then unspecified.
 */
int proto_features_parse(bool notify_tools, const char *untrusted_buf,
    size_t len, struct features_request *ret, size_t *ret_badline);

/*
 * Check a request that another process parsed (bulkhead-features-request
 * parses in a confined child and hands the struct over): what
 * proto_features_parse promises of *req, checked again without trusting
 * any of it.  At most FEATURES_MAX_LINES pairs, each name and value
 * NUL-terminated in its array, the name non-empty, together no longer than
 * a line, each of its set, names unique; nothing after n is read.
 * 0 or -EBADMSG.
 */
int proto_features_check(
    bool notify_tools, const struct features_request *untrusted_req);

#endif
