/*
 * api_request.h - the Admin API request, as qubesd frames it:
 *
 *     "<method>[+<arg>] <source> name|keyword <destination>\0" payload
 *
 * read whole (the client shuts down its write side), one per connection.
 */
#ifndef BULKHEAD_API_REQUEST_H
#define BULKHEAD_API_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#define API_MAX_METHOD 127
#define API_MAX_ARG    255
#define API_MAX_QUBE   31

struct api_request {
	char method[API_MAX_METHOD + 1];
	char arg[API_MAX_ARG + 1];
	char src[API_MAX_QUBE + 1];
	char dest[API_MAX_QUBE + 1];
	const uint8_t *payload; /* into the parsed buffer */
	size_t payload_len;
};

/*
 * Parse and validate a request.  Checks: a NUL ends the header; the header
 * has exactly four space-separated fields; the method is [A-Za-z0-9_.]
 * (1..127), the argument [A-Za-z0-9_.:@+-] (0..255), source and
 * destination are qube names (or the keyword adminvm, meaning dom0).
 * Returns 0 or -EBADMSG.  ret->payload borrows buf.
 */
int api_request_parse(const uint8_t *buf, size_t len, struct api_request *ret);

#endif
