/*
 * fuzz_msg_reader.c - the framing reader: arbitrary bytes arrive in
 * arbitrary pieces on a channel; every complete message must respect the
 * channel's maximum, and nothing may read outside the buffer.
 *
 * Input: byte 0 picks the channel's maximum payload (16 + 64 * byte); the
 * rest is the byte stream, written in pieces of 97 bytes.
 *
 * Invariants beyond "no crash": the messages returned are exactly those of
 * a reference walk over the bytes (8-byte {type, len} header, len payload
 * bytes), in order and byte-identical, each at most the maximum;
 * msg_reader_peek() agrees with the msg_reader_next() that follows it;
 * -EMSGSIZE comes exactly when a header announces more than the maximum,
 * -EPROTO exactly when the stream ends inside a message, and a stream
 * that ends between messages ends without error.
 */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/msg.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_reader r;
	uint32_t max;
	int sv[2], n = 0;
	size_t off = 0, ref = 0; /* bytes written; bytes taken as messages */

	if (size < 1)
		return 0;
	/* the first byte picks the channel's maximum */
	max = 16u + (uint32_t)data[0] * 64u;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	msg_reader_init(&r, max);
	data++;
	size--;
	for (;;) {
		struct qrexec_hdr hdr, peeked;
		const uint8_t *body;
		size_t piece = size - off < 97 ? size - off : 97;
		int p;

		if (piece > 0 && write(sv[1], data + off, piece) < 0)
			break;
		off += piece;
		if (off == size)
			(void)shutdown(sv[1], SHUT_WR);
		if (msg_reader_fill(&r, sv[0]) <= 0 && off == size &&
		    !msg_reader_has_partial(&r))
			break;
		for (;;) {
			p = msg_reader_peek(&r, &peeked);
			n = msg_reader_next(&r, &hdr, &body);
			if (n <= 0)
				break;
			/* the reference: the next message in the bytes sent */
			FUZZ_CHECK(p == 1 && peeked.hdr_type == hdr.hdr_type &&
			    peeked.hdr_len == hdr.hdr_len);
			FUZZ_CHECK(off - ref >= 8);
			FUZZ_CHECK(hdr.hdr_type == fuzz_u32(data + ref));
			FUZZ_CHECK(hdr.hdr_len == fuzz_u32(data + ref + 4));
			FUZZ_CHECK(hdr.hdr_len <= max);
			FUZZ_CHECK(off - ref - 8 >= hdr.hdr_len);
			FUZZ_CHECK(hdr.hdr_len == 0 ||
			    memcmp(body, data + ref + 8, hdr.hdr_len) == 0);
			ref += 8 + (size_t)hdr.hdr_len;
		}
		if (n == -EMSGSIZE) {
			FUZZ_CHECK(p == -EMSGSIZE);
			FUZZ_CHECK(
			    off - ref >= 8 && fuzz_u32(data + ref + 4) > max);
			break;
		}
		if (n < 0) {
			FUZZ_CHECK(n == -EPROTO && r.eof && off == size);
			break;
		}
		if (r.eof)
			break;
	}
	/* the whole stream was read: it ended between messages, or is bad */
	if (n == 0 && off == size && r.eof)
		FUZZ_CHECK(ref == size);
	if (n == -EPROTO) {
		FUZZ_CHECK(size - ref > 0);
		FUZZ_CHECK(size - ref < 8 ||
		    size - ref - 8 < fuzz_u32(data + ref + 4));
	}
	msg_reader_free(&r);
	(void)close(sv[0]);
	(void)close(sv[1]);
	return 0;
}
