/*
 * api_request.c - the one parser of Admin API requests.  Runs in
 * bulkheadd (root); the bytes come from local admin tools or, through the
 * qrexec admin.* services, from qubes: untrusted, validated here before
 * any other code sees them.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "daemon/api_request.h"

static bool
method_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.';
}

static bool
arg_char(unsigned char c)
{
	return method_char(c) || c == ':' || c == '@' || c == '+' || c == '-';
}

static bool
name_char(unsigned char c)
{
	return method_char(c) || c == '-';
}

/* Copy field [p, p+n) into out (size cap+1) if every byte passes ok. */
static int
field(const uint8_t *p, size_t n, size_t min, size_t cap,
    bool (*ok)(unsigned char), char *out)
{
	size_t i;

	if (n < min || n > cap)
		return -EBADMSG;
	for (i = 0; i < n; i++)
		if (!ok(p[i]))
			return -EBADMSG;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
api_request_parse(const uint8_t *buf, size_t len, struct api_request *ret)
{
	const uint8_t *nul, *f[4], *end;
	size_t fl[4], hlen;
	const uint8_t *plus;
	int i;

	memset(ret, 0, sizeof(*ret));
	nul = memchr(buf, '\0', len);
	if (nul == NULL)
		return -EBADMSG;
	hlen = (size_t)(nul - buf);
	end = nul;
	/* exactly four fields, single spaces */
	f[0] = buf;
	for (i = 0; i < 3; i++) {
		const uint8_t *sp = memchr(f[i], ' ', (size_t)(end - f[i]));

		if (sp == NULL)
			return -EBADMSG;
		fl[i] = (size_t)(sp - f[i]);
		f[i + 1] = sp + 1;
	}
	fl[3] = (size_t)(end - f[3]);
	(void)hlen;

	plus = memchr(f[0], '+', fl[0]);
	if (plus != NULL) {
		if (field(f[0], (size_t)(plus - f[0]), 1, API_MAX_METHOD,
		        method_char, ret->method) < 0 ||
		    field(plus + 1, fl[0] - (size_t)(plus - f[0]) - 1, 0,
		        API_MAX_ARG, arg_char, ret->arg) < 0)
			return -EBADMSG;
	} else if (field(f[0], fl[0], 1, API_MAX_METHOD, method_char,
	               ret->method) < 0) {
		return -EBADMSG;
	}
	if (field(f[1], fl[1], 1, API_MAX_QUBE, name_char, ret->src) < 0)
		return -EBADMSG;
	if (fl[2] == 4 && memcmp(f[2], "name", 4) == 0) {
		if (field(f[3], fl[3], 1, API_MAX_QUBE, name_char, ret->dest) <
		    0)
			return -EBADMSG;
	} else if (fl[2] == 7 && memcmp(f[2], "keyword", 7) == 0 &&
	    fl[3] == 7 && memcmp(f[3], "adminvm", 7) == 0) {
		memcpy(ret->dest, "dom0", 5);
	} else {
		return -EBADMSG;
	}
	ret->payload = nul + 1;
	ret->payload_len = len - (size_t)(nul + 1 - buf);
	return 0;
}
