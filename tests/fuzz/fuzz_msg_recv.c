/*
 * fuzz_msg_recv.c - the blocking framing reader msg_recv() (control
 * channels, client<->daemon requests) and msg_recv_hello(), the first
 * thing every qrexec process reads from a peer.
 *
 * Input: byte 0 picks the mode (bit 7: msg_recv_hello once, else
 * msg_recv until it fails) and the channel's maximum payload (bits 0-6:
 * 0..127 times 37 bytes); the rest is what the peer sends before it
 * closes the socket.
 *
 * Invariants beyond "no crash": the messages and the final error are
 * exactly those of a reference walk over the bytes sent (a message is an
 * 8-byte {type, len} header and len payload bytes): each payload is at
 * most the maximum and byte-identical to what was sent; a header over the
 * maximum gives -EMSGSIZE (before anything is allocated), a truncated
 * header or payload -EPROTO, a clean end -EPIPE; msg_recv_hello accepts
 * exactly a first message MSG_HELLO of 4 bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/msg.h"

static void
check_hello(int fd, const uint8_t *sent, size_t n)
{
	uint32_t v = 0x5a5a5a5a;
	int r, want;

	r = msg_recv_hello(fd, &v);
	if (n == 0)
		want = -EPIPE;
	else if (n < 8)
		want = -EPROTO;
	else if (fuzz_u32(sent + 4) > sizeof(struct qrexec_peer_info))
		want = -EMSGSIZE;
	else if (n - 8 < fuzz_u32(sent + 4))
		want = -EPROTO;
	else if (fuzz_u32(sent) != MSG_HELLO || fuzz_u32(sent + 4) != 4)
		want = -EBADMSG;
	else
		want = 0;
	FUZZ_CHECK(r == want);
	FUZZ_CHECK(v == (r == 0 ? fuzz_u32(sent + 8) : 0x5a5a5a5a));
}

static void
check_stream(int fd, const uint8_t *sent, size_t n, uint32_t max)
{
	size_t off = 0;

	for (;;) {
		struct qrexec_hdr hdr;
		uint8_t *body = NULL;
		uint32_t type = 0, len = 0;
		int r, want;

		r = msg_recv(fd, max, &hdr, &body);
		if (off == n) {
			want = -EPIPE;
		} else if (n - off < 8) {
			want = -EPROTO;
		} else {
			type = fuzz_u32(sent + off);
			len = fuzz_u32(sent + off + 4);
			if (len > max)
				want = -EMSGSIZE;
			else if (n - off - 8 < len)
				want = -EPROTO;
			else
				want = 0;
		}
		FUZZ_CHECK(r == want);
		if (r < 0)
			return;
		FUZZ_CHECK(hdr.hdr_type == type && hdr.hdr_len == len);
		FUZZ_CHECK((body == NULL) == (len == 0));
		if (len > 0)
			FUZZ_CHECK(memcmp(body, sent + off + 8, len) == 0);
		free(body);
		off += 8 + (size_t)len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t max;
	int hello, sv[2];
	size_t n;

	if (size < 1)
		return 0;
	fuzz_init_once();
	hello = data[0] & 0x80;
	max = (uint32_t)(data[0] & 0x7f) * 37u;
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	/* the peer sends what fits in the socket, then closes */
	n = fuzz_fill_socket(&sv[1], data, size, 0);
	if (hello)
		check_hello(sv[0], data, n);
	else
		check_stream(sv[0], data, n, max);
	(void)close(sv[0]);
	return 0;
}
