/*
 * buffer.h - a byte FIFO with a hard size limit, for data queued between a
 * nonblocking reader and writer.  The limit is what keeps a slow peer from
 * making us buffer without bound.
 */
#ifndef BULKHEAD_BUFFER_H
#define BULKHEAD_BUFFER_H

#include <stddef.h>
#include <stdint.h>

struct buffer {
	uint8_t *data;
	size_t start; /* first unread byte */
	size_t len;   /* bytes queued */
	size_t cap;   /* allocated */
	size_t limit; /* never grows beyond this */
};

void buffer_init(struct buffer *b, size_t limit);
void buffer_free(struct buffer *b);
static inline size_t
buffer_len(const struct buffer *b)
{
	return b->len;
}
static inline size_t
buffer_room(const struct buffer *b)
{
	return b->limit - b->len;
}
static inline const uint8_t *
buffer_data(const struct buffer *b)
{
	return b->data + b->start;
}
/* Append len bytes.  Returns 0, -ENOBUFS over the limit, -ENOMEM. */
int buffer_append(struct buffer *b, const void *p, size_t len);
/*
 * Reserve len bytes of contiguous space at the tail; returns a pointer to
 * fill and commit with buffer_commit(), or NULL (-ENOBUFS/-ENOMEM).
 */
uint8_t *buffer_reserve(struct buffer *b, size_t len);
void buffer_commit(struct buffer *b, size_t len);
void buffer_consume(struct buffer *b, size_t len);
/*
 * Write as much as the (nonblocking) fd takes.  Returns bytes written (may
 * be 0 when it would block), or -errno.
 */
long buffer_flush(struct buffer *b, int fd);

#endif
