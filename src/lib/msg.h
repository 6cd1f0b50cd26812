/*
 * msg.h - qrexec framing: an 8-byte header {type, len} and len payload
 * bytes.  A reader has a maximum payload size fixed by its channel; a
 * header announcing more is a protocol violation, detected before any
 * memory is set aside for it.
 */
#ifndef BULKHEAD_MSG_H
#define BULKHEAD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buffer.h"
#include "lib/proto/qrexec.h"

struct msg_reader {
	uint32_t max_len; /* largest payload accepted on this channel */
	struct buffer in; /* raw bytes read, not yet consumed */
	size_t pending;   /* bytes of the message last returned */
	bool eof;
};

/*
 * Prepare a reader for payloads of at most max_len bytes.  Its buffer grows
 * on demand up to max_len + header + read slack.
 */
void msg_reader_init(struct msg_reader *r, uint32_t max_len);
void msg_reader_free(struct msg_reader *r);

/*
 * One read() from a nonblocking fd into the reader.  Returns bytes read
 * (> 0), 0 at EOF (r->eof set), -EAGAIN, or -errno (ECONNRESET is EOF).
 */
long msg_reader_fill(struct msg_reader *r, int fd);

/*
 * Take the next complete message.  Returns 1 and sets *ret_hdr and
 * *ret_body (valid until the next call on r), 0 if more bytes are needed,
 * -EMSGSIZE if the header announces more than max_len, or -EPROTO if the
 * peer closed in the middle of a message.
 */
int msg_reader_next(
    struct msg_reader *r, struct qrexec_hdr *ret_hdr, const uint8_t **ret_body);

/*
 * Look at the header of the next complete message without taking it.
 * Returns 1 (and *ret_hdr), 0 if none is complete yet, or -EMSGSIZE.
 */
int msg_reader_peek(struct msg_reader *r, struct qrexec_hdr *ret_hdr);

/* true if bytes of an incomplete message are buffered */
bool msg_reader_has_partial(const struct msg_reader *r);

/* Queue a message (header + parts) on an output buffer. 0 or -errno. */
int msg_queue(struct buffer *out, uint32_t type, const void *p1, size_t l1,
    const void *p2, size_t l2);

/*
 * Blocking send of one message (header + up to two payload parts).
 * Returns 0 or -errno.
 */
int msg_send(int fd, uint32_t type, const void *p1, size_t l1, const void *p2,
    size_t l2);

/*
 * Blocking receive of one message with payload at most max_len into a new
 * buffer (freed by the caller, NULL when len is 0).  Returns 0, -EPIPE at
 * EOF before a header, -EPROTO on truncation, -EMSGSIZE, or -errno.
 */
int msg_recv(
    int fd, uint32_t max_len, struct qrexec_hdr *ret_hdr, uint8_t **ret_body);

/* HELLO helpers (blocking). */
int msg_send_hello(int fd, uint32_t version);
/* Receive a HELLO; returns 0 and the peer's version, or -errno/-EBADMSG. */
int msg_recv_hello(int fd, uint32_t *ret_version);

#endif
