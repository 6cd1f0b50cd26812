/*
 * fuzz_proto_small.c - the small fixed-size validators of proto/qrexec.h,
 * one target so each gets its share of a short fuzzing budget:
 * proto_hello_parse(), proto_exec_reply_parse(),
 * proto_conn_terminated_parse(), proto_service_refused_parse(),
 * proto_ident_check(), proto_data_hdr_check() with proto_max_chunk(), and
 * the name checks proto_target_valid() / proto_service_valid().
 *
 * Input: byte 0 picks the validator (modulo 7), the rest is its input.
 *
 * Invariant beyond "no crash": each validator accepts exactly what a
 * reference, written from docs/protocol without sharing code with
 * src/lib, accepts; on success the value returned is the one on the wire
 * (and a refused ident passes proto_ident_check()).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "lib/proto/qrexec.h"

static bool
ref_ident_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || c == '_' || c == '.' || c == '-' ||
	    c == ' ';
}

static bool
ref_name_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || c == '_' || c == '.' || c == '-';
}

/* 32 bytes: allowlisted characters, a NUL, only NULs after it. */
static bool
ref_ident(const uint8_t *p)
{
	size_t i;

	for (i = 0; i < QREXEC_IDENT_LEN && p[i] != 0; i++)
		if (!ref_ident_char(p[i]))
			return false;
	if (i == QREXEC_IDENT_LEN)
		return false;
	for (; i < QREXEC_IDENT_LEN; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void
fuzz_u32_pair(int which, const uint8_t *data, size_t size)
{
	uint32_t a = 0x5a5a5a5a, b = 0xa5a5a5a5;
	int r;

	if (which == 0)
		r = proto_exec_reply_parse(data, size, &a, &b);
	else
		r = proto_conn_terminated_parse(data, size, &a, &b);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK((r == 0) == (size == 8));
	if (r == 0)
		FUZZ_CHECK(a == fuzz_u32(data) && b == fuzz_u32(data + 4));
	else
		FUZZ_CHECK(a == 0x5a5a5a5a && b == 0xa5a5a5a5);
}

static void
fuzz_data_hdr(const uint8_t *data, size_t size)
{
	uint32_t type, len, version, chunk;
	bool ref;
	int r;

	if (size < 9)
		return;
	type = fuzz_u32(data);
	len = fuzz_u32(data + 4);
	version = data[8];
	chunk = proto_max_chunk(version);
	FUZZ_CHECK(chunk == (version >= 3 ? 65536u : 4096u));
	switch (type) {
	case 0x190: /* MSG_DATA_STDIN */
	case 0x191: /* MSG_DATA_STDOUT */
	case 0x192: /* MSG_DATA_STDERR */
		ref = len <= chunk;
		break;
	case 0x193: /* MSG_DATA_EXIT_CODE */
		ref = len == 4;
		break;
	default:
		ref = false;
		break;
	}
	r = proto_data_hdr_check(type, len, chunk);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK((r == 0) == ref);
}

static void
fuzz_names(const uint8_t *data, size_t size)
{
	bool target_ref = size < QREXEC_DOMAIN_FIELD_LEN;
	bool service_ref = size > 0 && data[0] != '+';
	size_t i;

	for (i = 0; i < size; i++) {
		uint8_t c = data[i];

		if (!ref_name_char(c) && c != '@' && c != ':')
			target_ref = false;
		if (!ref_name_char(c) && c != '+')
			service_ref = false;
	}
	FUZZ_CHECK(proto_target_valid((const char *)data, size) == target_ref);
	FUZZ_CHECK(
	    proto_service_valid((const char *)data, size) == service_ref);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ident[QREXEC_IDENT_LEN];
	uint32_t v = 0x5a5a5a5a;
	int r, which;

	if (size < 1)
		return 0;
	which = data[0] % 7;
	data++;
	size--;
	switch (which) {
	case 0:
		r = proto_hello_parse(data, size, &v);
		FUZZ_CHECK(r == 0 || r == -EBADMSG);
		FUZZ_CHECK((r == 0) == (size == 4));
		FUZZ_CHECK(v == (r == 0 ? fuzz_u32(data) : 0x5a5a5a5a));
		break;
	case 1:
	case 2:
		fuzz_u32_pair(which - 1, data, size);
		break;
	case 3:
		memset(ident, 'x', sizeof(ident));
		r = proto_service_refused_parse(data, size, ident);
		FUZZ_CHECK(r == 0 || r == -EBADMSG);
		FUZZ_CHECK(
		    (r == 0) == (size == QREXEC_IDENT_LEN && ref_ident(data)));
		if (r == 0) {
			FUZZ_CHECK(memcmp(ident, data, sizeof(ident)) == 0);
			FUZZ_CHECK(proto_ident_check(ident) == 0);
		}
		break;
	case 4:
		if (size < QREXEC_IDENT_LEN)
			break;
		memcpy(ident, data, sizeof(ident));
		r = proto_ident_check(ident);
		FUZZ_CHECK(r == 0 || r == -EBADMSG);
		FUZZ_CHECK((r == 0) == ref_ident(data));
		break;
	case 5:
		fuzz_data_hdr(data, size);
		break;
	default:
		fuzz_names(data, size);
		break;
	}
	return 0;
}
