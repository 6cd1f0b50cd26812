/*
 * stream.h - one end of a GUI byte stream in the GUI domain: a nonblocking
 * socket, the gui_reader that validates what arrives on it, an outgoing
 * buffer with a cap, and at most one fd received with the bytes (the
 * pool, which comes with POOL).  Used by the validator (its qube's stream
 * and its stream to the core) and by the core (its streams to the
 * validators).
 */
#ifndef BULKHEAD_GUID_STREAM_H
#define BULKHEAD_GUID_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buffer.h"
#include "lib/proto/gui.h"

struct gd_stream {
	int fd;
	struct gui_reader *reader;
	struct buffer out;
	int fd_in;     /* an fd that came with the bytes, not yet claimed */
	bool fd_taken; /* one fd a stream, ever */
	bool eof;
};

/* Set up s on fd (taken) reading dir with params; out capped at
 * out_limit bytes.  0 or -errno. */
int gd_stream_init(struct gd_stream *s, int fd, enum gui_dir dir,
    const struct gui_params *params, size_t out_limit);
void gd_stream_close(struct gd_stream *s);

/*
 * Read what is there (one recvmsg, up to 64 KiB) and hand every complete
 * message to cb in order; cb returns 0 to go on or a negative errno to
 * stop (returned).  A second fd on one stream, or an fd with anything but
 * POOL pending, is -EPROTO.  Returns 0 (read, maybe nothing), -EPIPE at
 * end of stream, the reader's -EBADMSG/-EPROTO (gui_reader_error says
 * why), or -errno.
 */
typedef int (*gd_stream_cb)(void *ctx, const struct gui_msg *m);
int gd_stream_read(struct gd_stream *s, gd_stream_cb cb, void *ctx);

/* The fd that came with the POOL just handed to cb (the caller's now),
 * or -1. */
int gd_stream_take_fd(struct gd_stream *s);

/* Queue a framed message (header + body).  -ENOBUFS past the cap. */
int gd_stream_queue(struct gd_stream *s, uint32_t type, uint32_t window,
    const void *body, size_t len);
/* Queue bare bytes (the handshake's words). */
int gd_stream_queue_raw(struct gd_stream *s, const void *p, size_t len);
/* Write what is queued, without blocking.  0 or -errno. */
int gd_stream_flush(struct gd_stream *s);
bool gd_stream_pending(const struct gd_stream *s);
/* Flush everything queued (blocking, bounded by timeout_ms), then send
 * one framed message with fd attached.  0 or -errno. */
int gd_stream_send_with_fd(struct gd_stream *s, uint32_t type, uint32_t window,
    const void *body, size_t len, int fd, int timeout_ms);

#endif
