/*
 * fuzz_features.c - proto_features_parse(), what a qube sends to
 * qubes.FeaturesRequest / qubes.NotifyTools (byte 0 picks the mode).
 *
 * Invariants beyond "no crash": an accepted request has at most
 * FEATURES_MAX_LINES pairs, each name non-empty, unique and of the name
 * set, each value of the mode's set (and proto_features_check agrees);
 * written back as NAME=VALUE lines it parses to the same pairs.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "lib/proto/features.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct features_request req, again;
	static char out[FEATURES_MAX_TOTAL + FEATURES_MAX_LINES * 2 + 16];
	size_t bad = 0, o = 0, i, j;
	bool nt;

	if (size < 1)
		return 0;
	nt = data[0] & 1;
	if (proto_features_parse(
	        nt, (const char *)data + 1, size - 1, &req, &bad) < 0)
		return 0;
	FUZZ_CHECK(bad == 0);
	/* what the admin side checks of the parsing child's result */
	FUZZ_CHECK(proto_features_check(nt, &req) == 0);
	FUZZ_CHECK(req.n <= FEATURES_MAX_LINES);
	for (i = 0; i < req.n; i++) {
		size_t nl = strlen(req.pair[i].name),
		       vl = strlen(req.pair[i].value);

		FUZZ_CHECK(nl > 0 && nl + vl + 1 <= FEATURES_MAX_LINE);
		FUZZ_CHECK(proto_features_chars_ok(req.pair[i].name, "_.-"));
		FUZZ_CHECK(proto_features_chars_ok(
		    req.pair[i].value, nt ? "" : "-.,_= "));
		for (j = 0; j < i; j++)
			FUZZ_CHECK(
			    strcmp(req.pair[i].name, req.pair[j].name) != 0);
		memcpy(out + o, req.pair[i].name, nl);
		o += nl;
		out[o++] = '=';
		memcpy(out + o, req.pair[i].value, vl);
		o += vl;
		out[o++] = '\n';
	}
	FUZZ_CHECK(proto_features_parse(nt, out, o, &again, &bad) == 0);
	FUZZ_CHECK(again.n == req.n);
	for (i = 0; i < req.n; i++) {
		FUZZ_CHECK(strcmp(again.pair[i].name, req.pair[i].name) == 0);
		FUZZ_CHECK(strcmp(again.pair[i].value, req.pair[i].value) == 0);
	}
	return 0;
}
