/*
 * fuzz_proto_exec.c - proto_exec_parse(), the MSG_EXEC_CMDLINE /
 * MSG_JUST_EXEC payload a daemon sends an agent and a client sends a
 * daemon.
 *
 * Invariants beyond "no crash":
 *  - it accepts exactly what the spec allows, checked against a reference
 *    written from docs/protocol independently of the parser: 8 bytes of
 *    params, then 1..QREXEC_MAX_CMD_LEN bytes whose only NUL is the last;
 *  - on success the command borrows the input right after the params, its
 *    length is strlen() of it and below the limit, and the params are the
 *    input's;
 *  - format -> parse round trip: re-encoding the result gives the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/proto/qrexec.h"

/* The spec, spelt out without sharing code with the parser. */
static int
reference_ok(const uint8_t *data, size_t size)
{
	size_t n, i;

	if (size < 9)
		return 0;
	n = size - 8;
	if (n > QREXEC_MAX_CMD_LEN)
		return 0;
	for (i = 0; i + 1 < n; i++)
		if (data[8 + i] == 0)
			return 0;
	return data[size - 1] == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qrexec_exec_params ep;
	struct qrexec_exec e, e2;
	uint8_t *buf;
	int r;

	r = proto_exec_parse(data, size, &e);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK((r == 0) == reference_ok(data, size));
	if (r < 0)
		return 0;

	memcpy(&ep, data, sizeof(ep));
	FUZZ_CHECK(e.domain == ep.ep_connect_domain);
	FUZZ_CHECK(e.port == ep.ep_connect_port);
	FUZZ_CHECK(e.cmdline == (const char *)data + sizeof(ep));
	FUZZ_CHECK(e.cmdline_len == size - sizeof(ep) - 1);
	FUZZ_CHECK(e.cmdline_len < QREXEC_MAX_CMD_LEN);
	FUZZ_CHECK(strlen(e.cmdline) == e.cmdline_len);

	/* format the parsed request again: it must be the same bytes */
	buf = malloc(sizeof(ep) + e.cmdline_len + 1);
	if (buf == NULL)
		return 0;
	ep.ep_connect_domain = e.domain;
	ep.ep_connect_port = e.port;
	memcpy(buf, &ep, sizeof(ep));
	memcpy(buf + sizeof(ep), e.cmdline, e.cmdline_len + 1);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	r = proto_exec_parse(buf, size, &e2);
	FUZZ_CHECK(r == 0 && e2.domain == e.domain && e2.port == e.port &&
	    e2.cmdline_len == e.cmdline_len);
	free(buf);
	return 0;
}
