/*
 * proto/qrexec.h - the qrexec wire protocol: message numbers, one struct a
 * message, and one validator a message.
 *
 * Compatible with Qubes OS qrexec (agent<->daemon protocol v2..v4,
 * client<->daemon v3); docs/protocol/qrexec.md is our statement of it.  The
 * message names below keep Qubes' spelling (MSG_EXEC_CMDLINE, ...) because
 * they are the names of the wire format everyone already reads.
 *
 * Byte order: the header and integer fields are in host byte order, which is
 * little-endian on every platform Qubes and bulkhead run on; see the spec.
 *
 * Everything a peer sends is untrusted until one of the proto_*_parse()
 * functions below accepts it.  They are pure: buffer in, struct out.
 */
#ifndef BULKHEAD_PROTO_QREXEC_H
#define BULKHEAD_PROTO_QREXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol versions (HELLO-negotiated). */
enum {
	QREXEC_PROTOCOL_V2 = 2, /* separate control and data channels, 4k */
	QREXEC_PROTOCOL_V3 = 3, /* 64k data chunks, MSG_TRIGGER_SERVICE3 */
	QREXEC_PROTOCOL_V4 = 4, /* MSG_TRIGGER_SERVICE4 (source field) */
};
#define QREXEC_PROTOCOL_VERSION        QREXEC_PROTOCOL_V4
#define QREXEC_PROTOCOL_MIN_VERSION    QREXEC_PROTOCOL_V2
#define QREXEC_CLIENT_PROTOCOL_VERSION 3

/* Limits (named, checked before anything is allocated). */
#define QREXEC_DATA_CHUNK_V2        4096u
#define QREXEC_DATA_CHUNK_V3        65536u
#define QREXEC_MAX_SERVICE_NAME_LEN 65000u /* incl. NUL, tail of trigger */
#define QREXEC_MAX_CMD_LEN          65535u /* incl. NUL, tail of exec */
#define QREXEC_IDENT_LEN            32u
#define QREXEC_DOMAIN_FIELD_LEN     64u
#define QREXEC_V2_SERVICE_FIELD_LEN 64u
#define QREXEC_V2_DOMAIN_FIELD_LEN  32u
#define QREXEC_CTRL_PORT            512u
#define QREXEC_DATA_PORT_BASE       513u
#define QREXEC_MAX_CLIENTS          256u
/* Largest message on a control channel: a v4 trigger with the longest name */
#define QREXEC_MAX_CTRL_MSG_LEN (160u + QREXEC_MAX_SERVICE_NAME_LEN)
/* Largest message a client may send to a daemon: exec params + command */
#define QREXEC_MAX_CLIENT_MSG_LEN (8u + QREXEC_MAX_CMD_LEN)

/* Exit codes with a meaning of their own. */
#define QREXEC_EXIT_PROBLEM           125
#define QREXEC_EXIT_REQUEST_REFUSED   126
#define QREXEC_EXIT_SERVICE_NOT_FOUND 127

enum qrexec_msg_type {
	/* daemon -> agent (and client -> daemon) */
	MSG_EXEC_CMDLINE = 0x200,
	MSG_JUST_EXEC = 0x201,
	MSG_SERVICE_CONNECT = 0x202,
	MSG_SERVICE_REFUSED = 0x203,
	/* agent -> daemon */
	MSG_TRIGGER_SERVICE = 0x210, /* v2 only */
	MSG_CONNECTION_TERMINATED = 0x211,
	MSG_TRIGGER_SERVICE3 = 0x212, /* v3+ */
	MSG_TRIGGER_SERVICE4 = 0x213, /* v4+ */
	/* both */
	MSG_HELLO = 0x300,
	/* data channel */
	MSG_DATA_STDIN = 0x190,
	MSG_DATA_STDOUT = 0x191,
	MSG_DATA_STDERR = 0x192,
	MSG_DATA_EXIT_CODE = 0x193,
};

struct qrexec_hdr {
	uint32_t hdr_type;
	uint32_t hdr_len; /* payload bytes that follow */
};
_Static_assert(sizeof(struct qrexec_hdr) == 8, "qrexec_hdr layout");

struct qrexec_peer_info {
	uint32_t pi_version;
};
_Static_assert(sizeof(struct qrexec_peer_info) == 4, "peer_info layout");

/* Followed by a NUL-terminated command: hdr_len - 8 bytes. */
struct qrexec_exec_params {
	uint32_t ep_connect_domain;
	uint32_t ep_connect_port;
};
_Static_assert(sizeof(struct qrexec_exec_params) == 8, "exec_params layout");

struct qrexec_service_params {
	char sp_ident[QREXEC_IDENT_LEN];
};
_Static_assert(sizeof(struct qrexec_service_params) == 32, "service_params");

/* MSG_TRIGGER_SERVICE (v2): fixed size, 128 bytes. */
struct qrexec_trigger2 {
	char t2_service_name[QREXEC_V2_SERVICE_FIELD_LEN];
	char t2_target_domain[QREXEC_V2_DOMAIN_FIELD_LEN];
	char t2_ident[QREXEC_IDENT_LEN];
};
_Static_assert(sizeof(struct qrexec_trigger2) == 128, "trigger2 layout");

/* MSG_TRIGGER_SERVICE3: followed by the service name, hdr_len - 96 bytes. */
struct qrexec_trigger3 {
	char t3_target_domain[QREXEC_DOMAIN_FIELD_LEN];
	char t3_ident[QREXEC_IDENT_LEN];
};
_Static_assert(sizeof(struct qrexec_trigger3) == 96, "trigger3 layout");

/* MSG_TRIGGER_SERVICE4: followed by the service name, hdr_len - 160 bytes. */
struct qrexec_trigger4 {
	char t4_source_domain[QREXEC_DOMAIN_FIELD_LEN];
	char t4_target_domain[QREXEC_DOMAIN_FIELD_LEN];
	char t4_ident[QREXEC_IDENT_LEN];
};
_Static_assert(sizeof(struct qrexec_trigger4) == 160, "trigger4 layout");

/* ---- validated forms ---- */

/* An exec request; cmdline points into the parsed buffer (borrowed). */
struct qrexec_exec {
	uint32_t domain;
	uint32_t port;
	const char *cmdline; /* NUL-terminated, no interior NUL */
	size_t cmdline_len;  /* without the NUL */
};

/* A service-connect request; ident is a copy. */
struct qrexec_service_connect {
	uint32_t domain;
	uint32_t port;
	char ident[QREXEC_IDENT_LEN];
	size_t tail_len; /* bytes of ident on the wire, 1..32 */
};

/* A trigger request.  service points into the parsed buffer (borrowed). */
struct qrexec_trigger {
	uint32_t type;
	char source[QREXEC_DOMAIN_FIELD_LEN]; /* "" if not given */
	char target[QREXEC_DOMAIN_FIELD_LEN]; /* "" means @default */
	char ident[QREXEC_IDENT_LEN];
	const char *service; /* "name[+arg]" */
	size_t service_len;
};

/*
 * Maximum payload of one data message at a negotiated version.
 */
uint32_t proto_max_chunk(uint32_t version);

/* MSG_HELLO: exactly 4 bytes.  Returns 0 or -EBADMSG. */
int proto_hello_parse(const void *buf, size_t len, uint32_t *ret_version);

/*
 * MSG_EXEC_CMDLINE / MSG_JUST_EXEC payload: 8 bytes of params and a command
 * of 1..QREXEC_MAX_CMD_LEN bytes ending in its only NUL.  Returns 0 or
 * -EBADMSG.  ret->cmdline borrows buf.
 */
int proto_exec_parse(const void *buf, size_t len, struct qrexec_exec *ret);

/*
 * The reply a daemon sends to a client's exec/connect request: exactly 8
 * bytes of params.  Returns 0 or -EBADMSG.
 */
int proto_exec_reply_parse(
    const void *buf, size_t len, uint32_t *ret_domain, uint32_t *ret_port);

/*
 * MSG_SERVICE_CONNECT payload: 8 bytes of params and an ident of 1..32 bytes
 * that holds a NUL followed only by NULs, its characters allowlisted.
 * Returns 0 or -EBADMSG.
 */
int proto_service_connect_parse(
    const void *buf, size_t len, struct qrexec_service_connect *ret);

/* MSG_SERVICE_REFUSED payload: exactly 32 bytes, a valid ident. */
int proto_service_refused_parse(
    const void *buf, size_t len, char ret_ident[QREXEC_IDENT_LEN]);

/* MSG_CONNECTION_TERMINATED payload: exactly 8 bytes. */
int proto_conn_terminated_parse(
    const void *buf, size_t len, uint32_t *ret_domain, uint32_t *ret_port);

/*
 * Check a 32-byte ident field: characters [0-9A-Za-z_.- ], then a NUL, then
 * only NULs.  Returns 0 or -EBADMSG.
 */
int proto_ident_check(const char ident[QREXEC_IDENT_LEN]);

/*
 * Trigger messages (MSG_TRIGGER_SERVICE, ..3, ..4) from an agent that
 * negotiated `version`.
 *
 * Returns:
 *   0        a valid request in *ret;
 *   -EPROTO  a type not allowed at this version (close the channel);
 *   -EBADMSG a length that cannot be a trigger of this type (close);
 *   -EINVAL  a well-framed but invalid request: refuse it.  ret_raw_ident
 *            then holds the ident bytes as sent, to echo in the refusal.
 *
 * Qubes' daemon rewrites disallowed characters in names to '_' and goes on;
 * we refuse instead, because a rewritten name can match a policy rule the
 * caller never named.
 */
int proto_trigger_parse(uint32_t type, uint32_t version, const void *buf,
    size_t len, struct qrexec_trigger *ret,
    char ret_raw_ident[QREXEC_IDENT_LEN]);

/*
 * A data-channel message header: type one of MSG_DATA_*, len at most the
 * chunk size of the version (the exit code is exactly 4 bytes).  Returns 0
 * or -EBADMSG.
 */
int proto_data_hdr_check(uint32_t type, uint32_t len, uint32_t max_chunk);

/*
 * Name checks shared with the policy code.  A qube name: 1..63 characters
 * of [A-Za-z0-9_.-] (plus '@' and ':' where keywords are allowed).  A
 * service descriptor: "name[+arg]", name non-empty, characters
 * [A-Za-z0-9_.-] and '+' in the argument.
 */
bool proto_name_char_ok(unsigned char c);
bool proto_target_valid(const char *s, size_t len);

/*
 * A qube's name as bulkheadd gives them out: 1..31 characters, a letter
 * first, then letters, digits, '_', '-' and '.'.  For names that arrive
 * where only a plain qube name makes sense (QREXEC_REMOTE_DOMAIN, a
 * disposable's name from the admin daemon, a launcher argument).
 */
bool proto_qube_name_valid(const char *s);
bool proto_service_valid(const char *s, size_t len);

#endif
