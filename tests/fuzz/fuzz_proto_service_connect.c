/*
 * fuzz_proto_service_connect.c - proto_service_connect_parse(), the
 * MSG_SERVICE_CONNECT payload (params + an ident of 1..32 bytes) that a
 * daemon sends an agent to answer one of its triggers.
 *
 * Invariants beyond "no crash":
 *  - acceptance matches a reference written from the spec: 9..40 bytes,
 *    the ident bytes allowlisted ([0-9A-Za-z_.- ]) up to a NUL, only NULs
 *    after it;
 *  - on success tail_len is the ident's wire length, the params are the
 *    input's, and the 32-byte copy passes proto_ident_check() and
 *    proto_service_refused_parse() (the same ident can be refused);
 *  - round trip: re-encoding with tail_len bytes gives the input.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "lib/proto/qrexec.h"

static int
reference_ok(const uint8_t *data, size_t size)
{
	size_t n, i;

	if (size < 9 || size > 8 + QREXEC_IDENT_LEN)
		return 0;
	n = size - 8;
	for (i = 0; i < n && data[8 + i] != 0; i++) {
		uint8_t c = data[8 + i];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		        (c >= 'a' && c <= 'z') || c == '_' || c == '.' ||
		        c == '-' || c == ' '))
			return 0;
	}
	if (i == n)
		return 0;
	for (; i < n; i++)
		if (data[8 + i] != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qrexec_service_connect sc, sc2;
	struct qrexec_exec_params ep;
	char ident[QREXEC_IDENT_LEN];
	uint8_t buf[8 + QREXEC_IDENT_LEN];
	int r;

	r = proto_service_connect_parse(data, size, &sc);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK((r == 0) == reference_ok(data, size));
	if (r < 0)
		return 0;

	memcpy(&ep, data, sizeof(ep));
	FUZZ_CHECK(sc.domain == ep.ep_connect_domain);
	FUZZ_CHECK(sc.port == ep.ep_connect_port);
	FUZZ_CHECK(sc.tail_len >= 1 && sc.tail_len <= QREXEC_IDENT_LEN);
	FUZZ_CHECK(sc.tail_len == size - sizeof(ep));
	FUZZ_CHECK(memchr(sc.ident, '\0', sizeof(sc.ident)) != NULL);
	FUZZ_CHECK(proto_ident_check(sc.ident) == 0);
	FUZZ_CHECK(proto_service_refused_parse(
	               sc.ident, sizeof(sc.ident), ident) == 0);
	FUZZ_CHECK(memcmp(ident, sc.ident, sizeof(ident)) == 0);

	ep.ep_connect_domain = sc.domain;
	ep.ep_connect_port = sc.port;
	memcpy(buf, &ep, sizeof(ep));
	memcpy(buf + sizeof(ep), sc.ident, sc.tail_len);
	FUZZ_CHECK(memcmp(buf, data, size) == 0);
	r = proto_service_connect_parse(buf, sizeof(ep) + sc.tail_len, &sc2);
	FUZZ_CHECK(r == 0 && memcmp(&sc, &sc2, sizeof(sc)) == 0);
	return 0;
}
