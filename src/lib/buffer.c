/*
 * buffer.c - bounded byte FIFO.  Used by every process that moves data;
 * the contents are opaque here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/buffer.h"

void
buffer_init(struct buffer *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

void
buffer_free(struct buffer *b)
{
	free(b->data);
	b->data = NULL;
	b->start = b->len = b->cap = 0;
}

uint8_t *
buffer_reserve(struct buffer *b, size_t len)
{
	size_t want;

	if (len > b->limit - b->len) {
		errno = ENOBUFS;
		return NULL;
	}
	if (b->len == 0)
		b->start = 0;
	if (b->start + b->len + len <= b->cap)
		return b->data + b->start + b->len;
	/* compact first: moving queued bytes down is cheaper than growing */
	if (b->start > 0) {
		memmove(b->data, b->data + b->start, b->len);
		b->start = 0;
		if (b->len + len <= b->cap)
			return b->data + b->len;
	}
	want = b->cap ? b->cap : 4096;
	while (want < b->len + len)
		want *= 2;
	if (want > b->limit)
		want = b->limit;
	{
		uint8_t *nd = realloc(b->data, want);

		if (nd == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		b->data = nd;
		b->cap = want;
	}
	return b->data + b->len;
}

void
buffer_commit(struct buffer *b, size_t len)
{
	b->len += len;
}

int
buffer_append(struct buffer *b, const void *p, size_t len)
{
	uint8_t *dst;

	if (len == 0)
		return 0;
	dst = buffer_reserve(b, len);
	if (dst == NULL)
		return -errno;
	memcpy(dst, p, len);
	b->len += len;
	return 0;
}

void
buffer_consume(struct buffer *b, size_t len)
{
	if (len >= b->len) {
		b->start = 0;
		b->len = 0;
		return;
	}
	b->start += len;
	b->len -= len;
}

long
buffer_flush(struct buffer *b, int fd)
{
	long total = 0;

	while (b->len > 0) {
		ssize_t n = send(fd, b->data + b->start, b->len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, b->data + b->start, b->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		buffer_consume(b, (size_t)n);
		total += n;
	}
	return total;
}
