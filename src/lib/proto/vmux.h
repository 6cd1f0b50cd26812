/*
 * proto/vmux.h - the vmux wire protocol: the frames bulkhead-vmux sends
 * over a VM qube's one virtio-serial stream to carry its vchan sockets
 * (docs/protocol/vmux.md is the specification).
 *
 * Byte order: every integer is little-endian (host order on every platform
 * bulkhead runs on; the structs below are read with memcpy).
 *
 * Each frame is a 12-byte header and hdr_len payload bytes.  Everything a
 * peer sends is untrusted until the one validator of its type accepts it:
 * proto_vmux_hdr_parse() for the header (type, channel rule, payload
 * bound of the type), then proto_vmux_<type>_parse() for the payload.
 * They are pure: buffer in, struct out, -EBADMSG for anything else.
 */
#ifndef BULKHEAD_PROTO_VMUX_H
#define BULKHEAD_PROTO_VMUX_H

#include <stddef.h>
#include <stdint.h>

/* Protocol versions (HELLO-negotiated: both use the lower). */
enum {
	VMUX_PROTOCOL_V1 = 1, /* the first */
};
#define VMUX_PROTOCOL_VERSION VMUX_PROTOCOL_V1

/* Limits (named, checked before anything is buffered). */
#define VMUX_MAX_PAYLOAD 65536u  /* any frame's payload */
#define VMUX_MAX_DATA    65536u  /* one DATA frame */
#define VMUX_WINDOW      262144u /* initial credit, a channel a direction */
#define VMUX_MAX_CHANNELS                                                      \
	256u /* live channels opened by one side (each side's own count) */
#define VMUX_MAX_LISTENERS 256u /* mirrors of one side's listeners */
/* "vchan.%u.%u.%u.sock" with three 10-digit numbers: 43 bytes */
#define VMUX_NAME_MAX  43u
#define VMUX_ERRNO_MAX 4095u /* OPEN_FAIL carries an errno 1..4095 */

/* Channel ids: the host's have bit 31 clear (and are not 0), the guest's
 * have it set. */
#define VMUX_CHAN_GUEST_BIT 0x80000000u

enum vmux_type {
	VMUX_HELLO = 1,     /* u32 version; chan 0; first frame each way */
	VMUX_LISTEN = 2,    /* name; chan 0 */
	VMUX_UNLISTEN = 3,  /* name; chan 0 */
	VMUX_OPEN = 4,      /* name; chan: the opener's new id */
	VMUX_OPEN_OK = 5,   /* empty */
	VMUX_OPEN_FAIL = 6, /* u32 errno */
	VMUX_DATA = 7,      /* 1..VMUX_MAX_DATA bytes */
	VMUX_CREDIT = 8,    /* u32 bytes, 1..VMUX_WINDOW */
	VMUX_EOF = 9,       /* empty: the sender's local end said EOF */
	VMUX_CLOSE = 10,    /* empty: the sender is done with the channel */
	VMUX_SHUTDOWN = 11, /* empty; chan 0; host to guest only */
	VMUX_TYPE_MAX
};

struct vmux_hdr {
	uint32_t hdr_type;
	uint32_t hdr_chan;
	uint32_t hdr_len; /* payload bytes that follow */
};
_Static_assert(sizeof(struct vmux_hdr) == 12, "vmux_hdr layout");

struct vmux_hello {
	uint32_t hello_version;
};
_Static_assert(sizeof(struct vmux_hello) == 4, "vmux_hello layout");

/* OPEN_FAIL and CREDIT: one u32. */
struct vmux_u32 {
	uint32_t u32_value;
};
_Static_assert(sizeof(struct vmux_u32) == 4, "vmux_u32 layout");

/* ---- validated forms ---- */

/* A socket name of the vchan pattern, NUL-terminated (a copy). */
struct vmux_name {
	char name[VMUX_NAME_MAX + 1];
};

/* DATA: the bytes, borrowed from the parsed buffer. */
struct vmux_data {
	const uint8_t *data;
	uint32_t len;
};

/*
 * Check a socket name: exactly "vchan.S.C.P.sock", S, C and P decimal
 * u32 without leading zeros ("0" itself allowed), len bytes, no NUL.
 * Returns 0 or -EBADMSG.  Used for the peer's names and our own
 * directory's entries alike.
 */
int proto_vmux_name_check(const char *untrusted_name, size_t len);

/*
 * The 12-byte header: a known type, the channel rule of the type (0 for
 * HELLO, LISTEN, UNLISTEN and SHUTDOWN; not 0 for the others) and a
 * payload length within the type's bound.  Returns 0 or -EBADMSG.
 */
int proto_vmux_hdr_parse(const void *buf, size_t len, struct vmux_hdr *ret);

/* HELLO: exactly 4 bytes, a version >= 1.  0 or -EBADMSG. */
int proto_vmux_hello_parse(const void *buf, size_t len, uint32_t *ret_version);

/* LISTEN: a name (proto_vmux_name_check), nothing else.  0 or -EBADMSG. */
int proto_vmux_listen_parse(const void *buf, size_t len, struct vmux_name *ret);

/* UNLISTEN: as LISTEN.  0 or -EBADMSG. */
int
proto_vmux_unlisten_parse(const void *buf, size_t len, struct vmux_name *ret);

/* OPEN: as LISTEN (the name of the listener to connect to). */
int proto_vmux_open_parse(const void *buf, size_t len, struct vmux_name *ret);

/* OPEN_OK: empty.  0 or -EBADMSG. */
int proto_vmux_open_ok_parse(const void *buf, size_t len);

/* OPEN_FAIL: exactly 4 bytes, an errno 1..VMUX_ERRNO_MAX. */
int proto_vmux_open_fail_parse(const void *buf, size_t len, int *ret_errno);

/* DATA: 1..VMUX_MAX_DATA bytes; ret borrows buf.  0 or -EBADMSG. */
int proto_vmux_data_parse(const void *buf, size_t len, struct vmux_data *ret);

/* CREDIT: exactly 4 bytes, 1..VMUX_WINDOW.  0 or -EBADMSG. */
int proto_vmux_credit_parse(const void *buf, size_t len, uint32_t *ret_bytes);

/* EOF: empty.  0 or -EBADMSG. */
int proto_vmux_eof_parse(const void *buf, size_t len);

/* CLOSE: empty.  0 or -EBADMSG. */
int proto_vmux_close_parse(const void *buf, size_t len);

/* SHUTDOWN: empty.  0 or -EBADMSG. */
int proto_vmux_shutdown_parse(const void *buf, size_t len);

/* The type's name for log lines ("DATA"), or "?" out of range. */
const char *proto_vmux_type_name(uint32_t type);

#endif
