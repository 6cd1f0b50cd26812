/*
 * fuzz_proto_trigger.c - proto_trigger_parse(), the service request an
 * agent (that is, a qube) sends its daemon: MSG_TRIGGER_SERVICE (v2,
 * fixed 128 bytes), MSG_TRIGGER_SERVICE3 and MSG_TRIGGER_SERVICE4 (fixed
 * fields and a service-name tail), at negotiated versions 0..7.
 *
 * Input: byte 0 picks the type (bits 0-1: TRIGGER_SERVICE, ..3, ..4, or
 * CONNECTION_TERMINATED as a type no trigger may have) and the version
 * (bits 2-4); the rest is the payload.
 *
 * Invariants beyond "no crash":
 *  - the error class is right: -EPROTO exactly for a type the version does
 *    not allow, else -EBADMSG exactly for an impossible length, else 0 or
 *    -EINVAL; on -EINVAL the raw ident is the ident field as sent;
 *  - on success: the service borrows the input's tail, is NUL-terminated
 *    at service_len and passes proto_service_valid(); target and source
 *    are NUL-terminated names passing proto_target_valid() (source empty
 *    below v4); the ident passes proto_ident_check();
 *  - format -> parse round trip: the wire form is canonical (NUL padding,
 *    exact tail), so re-encoding the result must give the input bytes, and
 *    parsing those gives the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/proto/qrexec.h"

static const uint32_t types[4] = {MSG_TRIGGER_SERVICE, MSG_TRIGGER_SERVICE3,
    MSG_TRIGGER_SERVICE4, MSG_CONNECTION_TERMINATED};

/* A fixed field holds a NUL-terminated string. */
static int
terminated(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

/* Encode a parsed trigger as its type's wire form; returns the length. */
static size_t
encode(const struct qrexec_trigger *t, uint8_t *out, size_t outlen)
{
	size_t fixed, need;

	switch (t->type) {
	case MSG_TRIGGER_SERVICE: {
		struct qrexec_trigger2 w;

		memset(&w, 0, sizeof(w));
		FUZZ_CHECK(t->service_len < sizeof(w.t2_service_name));
		FUZZ_CHECK(strlen(t->target) < sizeof(w.t2_target_domain));
		memcpy(w.t2_service_name, t->service, t->service_len);
		memcpy(w.t2_target_domain, t->target, strlen(t->target));
		memcpy(w.t2_ident, t->ident, sizeof(w.t2_ident));
		FUZZ_CHECK(outlen >= sizeof(w));
		memcpy(out, &w, sizeof(w));
		return sizeof(w);
	}
	case MSG_TRIGGER_SERVICE3: {
		struct qrexec_trigger3 w;

		memset(&w, 0, sizeof(w));
		memcpy(
		    w.t3_target_domain, t->target, sizeof(w.t3_target_domain));
		memcpy(w.t3_ident, t->ident, sizeof(w.t3_ident));
		fixed = sizeof(w);
		need = fixed + t->service_len + 1;
		FUZZ_CHECK(outlen >= need);
		memcpy(out, &w, fixed);
		break;
	}
	case MSG_TRIGGER_SERVICE4: {
		struct qrexec_trigger4 w;

		memset(&w, 0, sizeof(w));
		memcpy(
		    w.t4_source_domain, t->source, sizeof(w.t4_source_domain));
		memcpy(
		    w.t4_target_domain, t->target, sizeof(w.t4_target_domain));
		memcpy(w.t4_ident, t->ident, sizeof(w.t4_ident));
		fixed = sizeof(w);
		need = fixed + t->service_len + 1;
		FUZZ_CHECK(outlen >= need);
		memcpy(out, &w, fixed);
		break;
	}
	default:
		FUZZ_CHECK(!"parsed a trigger of an unknown type");
		return 0;
	}
	memcpy(out + fixed, t->service, t->service_len);
	out[fixed + t->service_len] = '\0';
	return need;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qrexec_trigger t, t2;
	char raw[QREXEC_IDENT_LEN], raw2[QREXEC_IDENT_LEN];
	uint32_t type, version;
	size_t ident_off = 0, n;
	int allowed, len_ok, r;
	uint8_t *buf;

	if (size < 1)
		return 0;
	type = types[data[0] & 3];
	version = (data[0] >> 2) & 7;
	data++;
	size--;

	switch (type) {
	case MSG_TRIGGER_SERVICE:
		allowed = version < QREXEC_PROTOCOL_V3;
		len_ok = size == sizeof(struct qrexec_trigger2);
		ident_off = offsetof(struct qrexec_trigger2, t2_ident);
		break;
	case MSG_TRIGGER_SERVICE3:
		allowed = version >= QREXEC_PROTOCOL_V3;
		len_ok = size > sizeof(struct qrexec_trigger3) &&
		    size - sizeof(struct qrexec_trigger3) <=
		        QREXEC_MAX_SERVICE_NAME_LEN;
		ident_off = offsetof(struct qrexec_trigger3, t3_ident);
		break;
	case MSG_TRIGGER_SERVICE4:
		allowed = version >= QREXEC_PROTOCOL_V4;
		len_ok = size > sizeof(struct qrexec_trigger4) &&
		    size - sizeof(struct qrexec_trigger4) <=
		        QREXEC_MAX_SERVICE_NAME_LEN;
		ident_off = offsetof(struct qrexec_trigger4, t4_ident);
		break;
	default:
		allowed = 0;
		len_ok = 0;
		break;
	}

	r = proto_trigger_parse(type, version, data, size, &t, raw);
	if (!allowed) {
		FUZZ_CHECK(r == -EPROTO);
		return 0;
	}
	if (!len_ok) {
		FUZZ_CHECK(r == -EBADMSG);
		return 0;
	}
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	/* the ident as sent, to echo in a refusal */
	FUZZ_CHECK(memcmp(raw, data + ident_off, sizeof(raw)) == 0);
	if (r < 0)
		return 0;

	FUZZ_CHECK(t.type == type);
	FUZZ_CHECK(proto_ident_check(t.ident) == 0);
	FUZZ_CHECK(memcmp(t.ident, raw, sizeof(raw)) == 0);
	FUZZ_CHECK(terminated(t.target, sizeof(t.target)));
	FUZZ_CHECK(proto_target_valid(t.target, strlen(t.target)));
	FUZZ_CHECK(terminated(t.source, sizeof(t.source)));
	FUZZ_CHECK(proto_target_valid(t.source, strlen(t.source)));
	if (type != MSG_TRIGGER_SERVICE4)
		FUZZ_CHECK(t.source[0] == '\0');
	FUZZ_CHECK(t.service >= (const char *)data &&
	    t.service + t.service_len < (const char *)data + size);
	FUZZ_CHECK(t.service[t.service_len] == '\0');
	FUZZ_CHECK(strlen(t.service) == t.service_len);
	FUZZ_CHECK(
	    t.service_len > 0 && t.service_len < QREXEC_MAX_SERVICE_NAME_LEN);
	FUZZ_CHECK(proto_service_valid(t.service, t.service_len));

	buf = malloc(size);
	if (buf == NULL)
		return 0;
	n = encode(&t, buf, size);
	FUZZ_CHECK(n == size && memcmp(buf, data, size) == 0);
	r = proto_trigger_parse(type, version, buf, n, &t2, raw2);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(memcmp(t.source, t2.source, sizeof(t.source)) == 0);
	FUZZ_CHECK(memcmp(t.target, t2.target, sizeof(t.target)) == 0);
	FUZZ_CHECK(memcmp(t.ident, t2.ident, sizeof(t.ident)) == 0);
	FUZZ_CHECK(t2.service_len == t.service_len &&
	    memcmp(t2.service, t.service, t.service_len) == 0);
	free(buf);
	return 0;
}
