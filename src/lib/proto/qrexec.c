/*
 * proto/qrexec.c - validators for every qrexec message.
 *
 * Runs in qrexec-daemon (agent and client bytes), qrexec-agent (daemon and
 * trigger-client bytes), and the clients (daemon and data-channel bytes).
 * All input here is untrusted: each function checks exact lengths and
 * characters and returns a full valid copy (or a borrowed pointer into a
 * buffer it has fully checked), or an error.  Nothing is repaired.
 */
#include <errno.h>
#include <string.h>

#include "lib/proto/qrexec.h"

uint32_t
proto_max_chunk(uint32_t version)
{
	return version >= QREXEC_PROTOCOL_V3 ? QREXEC_DATA_CHUNK_V3 :
	                                       QREXEC_DATA_CHUNK_V2;
}

int
proto_hello_parse(const void *buf, size_t len, uint32_t *ret_version)
{
	struct qrexec_peer_info pi;

	if (len != sizeof(pi))
		return -EBADMSG;
	memcpy(&pi, buf, sizeof(pi));
	*ret_version = pi.pi_version;
	return 0;
}

/* A NUL-terminated string filling exactly len bytes: no interior NUL. */
static bool
exact_cstring(const char *s, size_t len)
{
	return len > 0 && s[len - 1] == '\0' &&
	    memchr(s, '\0', len) == s + len - 1;
}

int
proto_exec_parse(const void *buf, size_t len, struct qrexec_exec *ret)
{
	struct qrexec_exec_params ep;
	const char *untrusted_cmd;
	size_t cmdlen;

	if (len <= sizeof(ep) || len - sizeof(ep) > QREXEC_MAX_CMD_LEN)
		return -EBADMSG;
	memcpy(&ep, buf, sizeof(ep));
	untrusted_cmd = (const char *)buf + sizeof(ep);
	cmdlen = len - sizeof(ep);
	if (!exact_cstring(untrusted_cmd, cmdlen))
		return -EBADMSG;
	ret->domain = ep.ep_connect_domain;
	ret->port = ep.ep_connect_port;
	ret->cmdline = untrusted_cmd;
	ret->cmdline_len = cmdlen - 1;
	return 0;
}

int
proto_exec_reply_parse(
    const void *buf, size_t len, uint32_t *ret_domain, uint32_t *ret_port)
{
	struct qrexec_exec_params ep;

	if (len != sizeof(ep))
		return -EBADMSG;
	memcpy(&ep, buf, sizeof(ep));
	*ret_domain = ep.ep_connect_domain;
	*ret_port = ep.ep_connect_port;
	return 0;
}

static bool
ident_char_ok(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || c == '_' || c == '-' || c == '.' ||
	    c == ' ';
}

/* The ident rules over n bytes: allowlisted characters, a NUL, NULs. */
static int
ident_check_n(const char *untrusted_ident, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)untrusted_ident[i];

		if (c == '\0')
			break;
		if (!ident_char_ok(c))
			return -EBADMSG;
	}
	if (i == n)
		return -EBADMSG; /* no terminator */
	for (i++; i < n; i++)
		if (untrusted_ident[i] != '\0')
			return -EBADMSG;
	return 0;
}

int
proto_ident_check(const char ident[QREXEC_IDENT_LEN])
{
	return ident_check_n(ident, QREXEC_IDENT_LEN);
}

int
proto_service_connect_parse(
    const void *buf, size_t len, struct qrexec_service_connect *ret)
{
	struct qrexec_exec_params ep;
	const char *untrusted_ident;
	size_t n;

	if (len <= sizeof(ep) || len - sizeof(ep) > QREXEC_IDENT_LEN)
		return -EBADMSG;
	memcpy(&ep, buf, sizeof(ep));
	untrusted_ident = (const char *)buf + sizeof(ep);
	n = len - sizeof(ep);
	if (ident_check_n(untrusted_ident, n) < 0)
		return -EBADMSG;
	memset(ret, 0, sizeof(*ret));
	ret->domain = ep.ep_connect_domain;
	ret->port = ep.ep_connect_port;
	memcpy(ret->ident, untrusted_ident, n);
	ret->tail_len = n;
	return 0;
}

int
proto_service_refused_parse(
    const void *buf, size_t len, char ret_ident[QREXEC_IDENT_LEN])
{
	if (len != QREXEC_IDENT_LEN)
		return -EBADMSG;
	if (ident_check_n(buf, QREXEC_IDENT_LEN) < 0)
		return -EBADMSG;
	memcpy(ret_ident, buf, QREXEC_IDENT_LEN);
	return 0;
}

int
proto_conn_terminated_parse(
    const void *buf, size_t len, uint32_t *ret_domain, uint32_t *ret_port)
{
	return proto_exec_reply_parse(buf, len, ret_domain, ret_port);
}

bool
proto_name_char_ok(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || c == '_' || c == '-' || c == '.';
}

bool
proto_target_valid(const char *s, size_t len)
{
	size_t i;

	if (len >= QREXEC_DOMAIN_FIELD_LEN)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!proto_name_char_ok(c) && c != '@' && c != ':')
			return false;
	}
	return true;
}

bool
proto_service_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '+')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!proto_name_char_ok(c) && c != '+')
			return false;
	}
	return true;
}

/*
 * A fixed-size name field: a NUL within it, only NULs after, valid
 * characters before.  Copies the name to out (same size).
 */
static int
name_field(const char *untrusted_field, size_t fieldlen, char *out)
{
	const char *nul = memchr(untrusted_field, '\0', fieldlen);
	size_t n, i;

	if (nul == NULL)
		return -EINVAL;
	n = (size_t)(nul - untrusted_field);
	for (i = n; i < fieldlen; i++)
		if (untrusted_field[i] != '\0')
			return -EINVAL;
	if (!proto_target_valid(untrusted_field, n))
		return -EINVAL;
	memset(out, 0, QREXEC_DOMAIN_FIELD_LEN);
	memcpy(out, untrusted_field, n);
	return 0;
}

/* The service name tail of a v3/v4 trigger: exact C string, valid name. */
static int
service_tail(const char *untrusted_tail, size_t n, struct qrexec_trigger *ret)
{
	if (!exact_cstring(untrusted_tail, n))
		return -EINVAL;
	if (!proto_service_valid(untrusted_tail, n - 1))
		return -EINVAL;
	ret->service = untrusted_tail;
	ret->service_len = n - 1;
	return 0;
}

int
proto_trigger_parse(uint32_t type, uint32_t version, const void *buf,
    size_t len, struct qrexec_trigger *ret,
    char ret_raw_ident[QREXEC_IDENT_LEN])
{
	const char *p = buf;

	memset(ret, 0, sizeof(*ret));
	memset(ret_raw_ident, 0, QREXEC_IDENT_LEN);
	ret->type = type;
	switch (type) {
	case MSG_TRIGGER_SERVICE: {
		struct qrexec_trigger2 t;
		const char *nul;

		if (version >= QREXEC_PROTOCOL_V3)
			return -EPROTO;
		if (len != sizeof(t))
			return -EBADMSG;
		memcpy(&t, p, sizeof(t));
		memcpy(ret_raw_ident, t.t2_ident, QREXEC_IDENT_LEN);
		if (proto_ident_check(t.t2_ident) < 0)
			return -EINVAL;
		if (name_field(t.t2_target_domain, sizeof(t.t2_target_domain),
		        ret->target) < 0)
			return -EINVAL;
		nul = memchr(p, '\0', sizeof(t.t2_service_name));
		if (nul == NULL)
			return -EINVAL;
		for (const char *q = nul; q < p + sizeof(t.t2_service_name);
		     q++)
			if (*q != '\0')
				return -EINVAL;
		if (service_tail(p, (size_t)(nul - p) + 1, ret) < 0)
			return -EINVAL;
		break;
	}
	case MSG_TRIGGER_SERVICE3: {
		struct qrexec_trigger3 t;

		if (version < QREXEC_PROTOCOL_V3)
			return -EPROTO;
		if (len <= sizeof(t) ||
		    len - sizeof(t) > QREXEC_MAX_SERVICE_NAME_LEN)
			return -EBADMSG;
		memcpy(&t, p, sizeof(t));
		memcpy(ret_raw_ident, t.t3_ident, QREXEC_IDENT_LEN);
		if (proto_ident_check(t.t3_ident) < 0)
			return -EINVAL;
		if (name_field(t.t3_target_domain, sizeof(t.t3_target_domain),
		        ret->target) < 0)
			return -EINVAL;
		if (service_tail(p + sizeof(t), len - sizeof(t), ret) < 0)
			return -EINVAL;
		break;
	}
	case MSG_TRIGGER_SERVICE4: {
		struct qrexec_trigger4 t;

		if (version < QREXEC_PROTOCOL_V4)
			return -EPROTO;
		if (len <= sizeof(t) ||
		    len - sizeof(t) > QREXEC_MAX_SERVICE_NAME_LEN)
			return -EBADMSG;
		memcpy(&t, p, sizeof(t));
		memcpy(ret_raw_ident, t.t4_ident, QREXEC_IDENT_LEN);
		if (proto_ident_check(t.t4_ident) < 0)
			return -EINVAL;
		if (name_field(t.t4_source_domain, sizeof(t.t4_source_domain),
		        ret->source) < 0)
			return -EINVAL;
		if (name_field(t.t4_target_domain, sizeof(t.t4_target_domain),
		        ret->target) < 0)
			return -EINVAL;
		if (service_tail(p + sizeof(t), len - sizeof(t), ret) < 0)
			return -EINVAL;
		break;
	}
	default:
		return -EPROTO;
	}
	memcpy(ret->ident, ret_raw_ident, QREXEC_IDENT_LEN);
	return 0;
}

int
proto_data_hdr_check(uint32_t type, uint32_t len, uint32_t max_chunk)
{
	switch (type) {
	case MSG_DATA_STDIN:
	case MSG_DATA_STDOUT:
	case MSG_DATA_STDERR:
		return len <= max_chunk ? 0 : -EBADMSG;
	case MSG_DATA_EXIT_CODE:
		return len == 4 ? 0 : -EBADMSG;
	default:
		return -EBADMSG;
	}
}

bool
proto_qube_name_valid(const char *s)
{
	size_t i, n = strnlen(s, 32);

	if (n == 0 || n > 31 ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		        c == '.'))
			return false;
	}
	return true;
}
