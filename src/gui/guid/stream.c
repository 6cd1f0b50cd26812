/*
 * stream.c - a GUI byte stream end in the GUI domain (stream.h).
 *
 * Run by bulkhead-guid's validators (the bytes from a qube: untrusted,
 * every one through the gui_reader) and by its core (the bytes from a
 * validator: already valid, validated again all the same).  Received fds
 * are accepted only as the pool that comes with POOL.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gui/guid/stream.h"
#include "lib/io.h"
#include "lib/sock.h"
#include "lib/util.h"

#define GD_READ_CHUNK 65536u

int
gd_stream_init(struct gd_stream *s, int fd, enum gui_dir dir,
    const struct gui_params *params, size_t out_limit)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->fd_in = -1;
	buffer_init(&s->out, out_limit);
	r = gui_reader_new(dir, params, &s->reader);
	if (r < 0)
		return r;
	return fd_set_nonblock(fd, true);
}

void
gd_stream_close(struct gd_stream *s)
{
	close_fd(&s->fd);
	close_fd(&s->fd_in);
	gui_reader_free(s->reader);
	s->reader = NULL;
	buffer_free(&s->out);
}

int
gd_stream_read(struct gd_stream *s, gd_stream_cb cb, void *ctx)
{
	static uint8_t untrusted_buf[GD_READ_CHUNK];
	size_t off = 0, used, nfd;
	bool partial = false;
	ssize_t n;
	int fd, r;

	/* one fd, once, as SCM_RIGHTS with nothing else */
	n = sock_recv_fds(s->fd, untrusted_buf, sizeof(untrusted_buf),
	    MSG_DONTWAIT, &fd, 1, &nfd);
	if (n == -EAGAIN || n == -EINTR)
		return 0;
	if (n < 0)
		return (int)n;
	if (nfd > 0) {
		if (s->fd_taken) {
			(void)close(fd);
			return -EPROTO;
		}
		s->fd_in = fd;
		s->fd_taken = true;
	}
	if (n == 0) {
		s->eof = true;
		return -EPIPE;
	}
	while (off < (size_t)n) {
		struct gui_msg m;

		r = gui_reader_feed(
		    s->reader, untrusted_buf + off, (size_t)n - off, &used, &m);
		if (r < 0)
			return r;
		off += used;
		if (r == 0) {
			partial = true;
			break;
		}
		r = cb(ctx, &m);
		if (r < 0)
			return r;
	}
	/*
	 * An fd is only ever the pool, with its POOL.  The kernel hands an
	 * fd over with the read that ends with the bytes it was sent with,
	 * earlier messages glued before them: so a POOL of this read (or
	 * the message still in progress) must have claimed it.
	 */
	if (s->fd_in >= 0 && !partial)
		return -EPROTO;
	return 0;
}

int
gd_stream_take_fd(struct gd_stream *s)
{
	int fd = s->fd_in;

	s->fd_in = -1;
	return fd;
}

int
gd_stream_queue(struct gd_stream *s, uint32_t type, uint32_t window,
    const void *body, size_t len)
{
	struct gui_hdr h = {type, window, (uint32_t)len};

	if (buffer_room(&s->out) < sizeof(h) + len)
		return -ENOBUFS;
	if (buffer_append(&s->out, &h, sizeof(h)) < 0 ||
	    (len > 0 && buffer_append(&s->out, body, len) < 0))
		return -ENOMEM;
	return 0;
}

int
gd_stream_queue_raw(struct gd_stream *s, const void *p, size_t len)
{
	if (buffer_room(&s->out) < len)
		return -ENOBUFS;
	return buffer_append(&s->out, p, len);
}

int
gd_stream_flush(struct gd_stream *s)
{
	long n = buffer_flush(&s->out, s->fd);

	return n < 0 ? (int)n : 0;
}

bool
gd_stream_pending(const struct gd_stream *s)
{
	return buffer_len(&s->out) > 0;
}

int
gd_stream_send_with_fd(struct gd_stream *s, uint32_t type, uint32_t window,
    const void *body, size_t len, int fd, int timeout_ms)
{
	uint64_t deadline = io_deadline(timeout_ms);
	struct gui_hdr h = {type, window, (uint32_t)len};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)body, len}};
	int r;

	while (buffer_len(&s->out) > 0) {
		r = gd_stream_flush(s);
		if (r < 0)
			return r;
		if (buffer_len(&s->out) > 0 &&
		    (r = io_wait_until(s->fd, POLLOUT, deadline)) < 0)
			return r;
	}
	for (;;) {
		ssize_t n =
		    sock_send_fds(s->fd, iov, len > 0 ? 2 : 1, 0, &fd, 1);

		if (n == (ssize_t)(sizeof(h) + len))
			return 0;
		if (n >= 0)
			return -EIO; /* 20 bytes on an empty socket: not seen */
		if (n == -EINTR)
			continue;
		if (n != -EAGAIN)
			return (int)n;
		if ((r = io_wait_until(s->fd, POLLOUT, deadline)) < 0)
			return r;
	}
}
