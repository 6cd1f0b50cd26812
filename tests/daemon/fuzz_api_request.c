/*
 * fuzz_api_request.c - the Admin API request parser: whatever the bytes,
 * a parsed request has fields within their limits and made only of their
 * allowed characters, and its payload lies inside the input.
 */
#include <stdint.h>
#include <string.h>

#include "daemon/api_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_chars(const char *s, size_t max, const char *extra)
{
	size_t i, n = strlen(s);

	if (n > max)
		__builtin_trap();
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		        strchr(extra, c)))
			__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_request r;

	if (api_request_parse(data, size, &r) != 0)
		return 0;
	check_chars(r.method, API_MAX_METHOD, "");
	check_chars(r.arg, API_MAX_ARG, ":@+-");
	check_chars(r.src, API_MAX_QUBE, "-");
	check_chars(r.dest, API_MAX_QUBE, "-");
	if (r.method[0] == '\0' || r.src[0] == '\0' || r.dest[0] == '\0')
		__builtin_trap();
	if (r.payload < data || r.payload + r.payload_len != data + size)
		__builtin_trap();
	return 0;
}
