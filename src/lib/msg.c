/*
 * msg.c - qrexec message framing, shared by every qrexec process.
 *
 * Bytes read here are untrusted: the reader only checks the announced
 * length against the channel's maximum; the payload is validated by the
 * proto_*_parse() function for its type.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/msg.h"

/* Read slack beyond one maximal message, so bulk reads get several. */
#define MSG_READ_SLACK (64u * 1024u)
/* A message missing at least this much is read to its end (see below). */
#define MSG_READ_EXACT (4u * 1024u)

void
msg_reader_init(struct msg_reader *r, uint32_t max_len)
{
	memset(r, 0, sizeof(*r));
	r->max_len = max_len;
	buffer_init(&r->in,
	    (size_t)max_len + sizeof(struct qrexec_hdr) + MSG_READ_SLACK);
}

void
msg_reader_free(struct msg_reader *r)
{
	buffer_free(&r->in);
}

long
msg_reader_fill(struct msg_reader *r, int fd)
{
	size_t want;
	uint8_t *dst;
	ssize_t n;

	if (r->pending) {
		buffer_consume(&r->in, r->pending);
		r->pending = 0;
	}
	want = buffer_room(&r->in);
	if (want > MSG_READ_SLACK)
		want = MSG_READ_SLACK;
	/*
	 * A large message whose header is in: read what completes it and the
	 * next header, no more.  Once it is consumed no partial message is
	 * left to move down in the buffer, which in a bulk transfer was a
	 * memmove of most of 64 KiB a message.  Small ones are still read
	 * many at a time.  (The length is only a size to read here;
	 * msg_reader_next checks it.)
	 */
	if (buffer_len(&r->in) >= sizeof(struct qrexec_hdr)) {
		struct qrexec_hdr untrusted_hdr;
		size_t have = buffer_len(&r->in) - sizeof(untrusted_hdr);

		memcpy(
		    &untrusted_hdr, buffer_data(&r->in), sizeof(untrusted_hdr));
		if (untrusted_hdr.hdr_len <= r->max_len &&
		    untrusted_hdr.hdr_len > have &&
		    untrusted_hdr.hdr_len - have >= MSG_READ_EXACT) {
			want = untrusted_hdr.hdr_len - have +
			    sizeof(untrusted_hdr);
			if (want > buffer_room(&r->in))
				want = buffer_room(&r->in);
		}
	}
	if (want == 0)
		return -ENOBUFS; /* caller must drain with msg_reader_next */
	dst = buffer_reserve(&r->in, want);
	if (dst == NULL)
		return -errno;
	do
		n = read(fd, dst, want);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == ECONNRESET) {
			r->eof = true;
			return 0;
		}
		return -errno;
	}
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	buffer_commit(&r->in, (size_t)n);
	return n;
}

int
msg_reader_next(
    struct msg_reader *r, struct qrexec_hdr *ret_hdr, const uint8_t **ret_body)
{
	struct qrexec_hdr untrusted_hdr;
	size_t avail;

	if (r->pending) {
		buffer_consume(&r->in, r->pending);
		r->pending = 0;
	}
	avail = buffer_len(&r->in);
	if (avail < sizeof(untrusted_hdr))
		goto need_more;
	memcpy(&untrusted_hdr, buffer_data(&r->in), sizeof(untrusted_hdr));
	if (untrusted_hdr.hdr_len > r->max_len)
		return -EMSGSIZE;
	if (avail - sizeof(untrusted_hdr) < untrusted_hdr.hdr_len)
		goto need_more;
	*ret_hdr = untrusted_hdr;
	*ret_body = buffer_data(&r->in) + sizeof(untrusted_hdr);
	r->pending = sizeof(untrusted_hdr) + untrusted_hdr.hdr_len;
	return 1;
need_more:
	if (r->eof && avail > 0)
		return -EPROTO;
	return 0;
}

int
msg_reader_peek(struct msg_reader *r, struct qrexec_hdr *ret_hdr)
{
	struct qrexec_hdr untrusted_hdr;
	size_t avail;

	if (r->pending) {
		buffer_consume(&r->in, r->pending);
		r->pending = 0;
	}
	avail = buffer_len(&r->in);
	if (avail < sizeof(untrusted_hdr))
		return 0;
	memcpy(&untrusted_hdr, buffer_data(&r->in), sizeof(untrusted_hdr));
	if (untrusted_hdr.hdr_len > r->max_len)
		return -EMSGSIZE;
	if (avail - sizeof(untrusted_hdr) < untrusted_hdr.hdr_len)
		return 0;
	*ret_hdr = untrusted_hdr;
	return 1;
}

bool
msg_reader_has_partial(const struct msg_reader *r)
{
	return buffer_len(&r->in) > r->pending;
}

int
msg_queue(struct buffer *out, uint32_t type, const void *p1, size_t l1,
    const void *p2, size_t l2)
{
	struct qrexec_hdr hdr = {
	    .hdr_type = type, .hdr_len = (uint32_t)(l1 + l2)};
	uint8_t *dst;
	size_t total = sizeof(hdr) + l1 + l2;

	if (l1 + l2 > UINT32_MAX)
		return -EMSGSIZE;
	dst = buffer_reserve(out, total);
	if (dst == NULL)
		return -errno;
	memcpy(dst, &hdr, sizeof(hdr));
	if (l1)
		memcpy(dst + sizeof(hdr), p1, l1);
	if (l2)
		memcpy(dst + sizeof(hdr) + l1, p2, l2);
	buffer_commit(out, total);
	return 0;
}

int
msg_send(
    int fd, uint32_t type, const void *p1, size_t l1, const void *p2, size_t l2)
{
	struct qrexec_hdr hdr = {
	    .hdr_type = type, .hdr_len = (uint32_t)(l1 + l2)};
	struct iovec iov[3] = {
	    {.iov_base = &hdr, .iov_len = sizeof(hdr)},
	    {.iov_base = (void *)(uintptr_t)p1, .iov_len = l1},
	    {.iov_base = (void *)(uintptr_t)p2, .iov_len = l2},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
	size_t total = sizeof(hdr) + l1 + l2;
	ssize_t n;

	if (l1 + l2 > UINT32_MAX)
		return -EMSGSIZE;
	/* fast path: one sendmsg usually takes the whole message */
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && errno != ENOTSOCK)
		return -errno;
	if (n == (ssize_t)total)
		return 0;
	if (n < 0)
		n = 0;
	/* slow path: finish with the generic loop, part by part */
	{
		size_t skip = (size_t)n;
		int i, r;

		for (i = 0; i < 3; i++) {
			if (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				continue;
			}
			r = io_write_all(fd,
			    (const char *)iov[i].iov_base + skip,
			    iov[i].iov_len - skip);
			if (r < 0)
				return r;
			skip = 0;
		}
	}
	return 0;
}

int
msg_recv(
    int fd, uint32_t max_len, struct qrexec_hdr *ret_hdr, uint8_t **ret_body)
{
	struct qrexec_hdr untrusted_hdr;
	uint8_t *body = NULL;
	size_t got = 0;
	int r;

	r = io_read_all(fd, &untrusted_hdr, sizeof(untrusted_hdr), &got);
	if (r < 0)
		return (r == -EPIPE && got > 0) ? -EPROTO : r;
	if (untrusted_hdr.hdr_len > max_len)
		return -EMSGSIZE;
	if (untrusted_hdr.hdr_len > 0) {
		body = malloc(untrusted_hdr.hdr_len);
		if (body == NULL)
			return -ENOMEM;
		r = io_read_all(fd, body, untrusted_hdr.hdr_len, NULL);
		if (r < 0) {
			free(body);
			return r == -EPIPE ? -EPROTO : r;
		}
	}
	*ret_hdr = untrusted_hdr;
	*ret_body = body;
	return 0;
}

int
msg_send_hello(int fd, uint32_t version)
{
	struct qrexec_peer_info pi = {.pi_version = version};

	return msg_send(fd, MSG_HELLO, &pi, sizeof(pi), NULL, 0);
}

int
msg_recv_hello(int fd, uint32_t *ret_version)
{
	struct qrexec_hdr hdr;
	uint8_t *body = NULL;
	int r;

	r = msg_recv(fd, sizeof(struct qrexec_peer_info), &hdr, &body);
	if (r < 0)
		return r;
	if (hdr.hdr_type != MSG_HELLO)
		r = -EBADMSG;
	else
		r = proto_hello_parse(body, hdr.hdr_len, ret_version);
	free(body);
	return r;
}
