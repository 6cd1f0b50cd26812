/*
 * fuzz_msg_reader.c - the framing reader: arbitrary bytes arrive in
 * arbitrary pieces on a channel; every complete message must respect the
 * channel's maximum, and nothing may read outside the buffer.
 */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_reader r;
	uint32_t max = 1000;
	int sv[2];
	size_t off = 0;

	if (size < 1)
		return 0;
	/* the first byte picks the channel's maximum and the piece size */
	max = 16u + (uint32_t)data[0] * 64u;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	msg_reader_init(&r, max);
	data++;
	size--;
	for (;;) {
		struct qrexec_hdr hdr;
		const uint8_t *body;
		size_t piece = size - off < 97 ? size - off : 97;
		int n;

		if (piece > 0 && write(sv[1], data + off, piece) < 0)
			break;
		off += piece;
		if (off == size)
			(void)shutdown(sv[1], SHUT_WR);
		if (msg_reader_fill(&r, sv[0]) <= 0 && off == size &&
		    !msg_reader_has_partial(&r))
			break;
		while ((n = msg_reader_next(&r, &hdr, &body)) > 0) {
			volatile uint8_t sink = 0;
			uint32_t i;

			if (hdr.hdr_len > max)
				__builtin_trap();
			for (i = 0; i < hdr.hdr_len; i++)
				sink ^= body[i];
			(void)sink;
		}
		if (n < 0 || r.eof)
			break;
	}
	msg_reader_free(&r);
	(void)close(sv[0]);
	(void)close(sv[1]);
	return 0;
}
