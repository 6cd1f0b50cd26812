/*
 * fuzz_stream.h - the data phase (stream_run()) under fuzzed channel
 * bytes, shared by fuzz_stream_service.c and fuzz_stream_caller.c.
 *
 * The channel is one end of a socketpair; the fuzzed bytes are written
 * into the other end (as much as the socket holds), which is then closed
 * or only shut for writing, and stream_run() runs to its end with no
 * child process (pid 0) and no signalfd.  Local fds are /dev/null, a
 * socket whose peer is closed, a socket whose peer a thread drains (with
 * a small send buffer, so writes to the sink also meet EAGAIN and the
 * sink-side flow control runs), a socket whose peer stays silent, or
 * none; none of them can stall forever, so stream_run() must return.
 *
 * Input: byte 0 and byte 1 pick the setup (see the bits below), the rest
 * is what the peer sends on the channel.
 *
 * Invariants beyond "no crash": stream_run() returns (libFuzzer's
 * -timeout catches a hang) with a status in -1..255; every fd it was
 * given is closed by it exactly once (the fd numbers are free again
 * afterwards, so a leak or a double close shows), and the channel fd is
 * left open for its owner; what it sent on the channel is well-formed
 * (see fs_check_sent()).
 */
#ifndef BULKHEAD_FUZZ_STREAM_H
#define BULKHEAD_FUZZ_STREAM_H

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/stream.h"

/* byte 0 */
#define FS_VERSION(b) ((b)&3u)          /* 2, 3, 4, 3 */
#define FS_HALF_CLOSE 0x04u             /* peer shuts down, else closes */
#define FS_SINK(b)    (((b) >> 3) & 3u) /* enum fs_local */
#define FS_SRC(b)     (((b) >> 5) & 3u) /* 0 null, 1 silent, 2 sink, 3 none */
#define FS_ERR        0x80u             /* flip the side's usual stderr */
/* byte 1 */
#define FS_EXIT_CLIENT  0x01u
#define FS_EXIT_SERVICE 0x02u
#define FS_REPLACE_OUT  0x04u
#define FS_REPLACE_ERR  0x08u
#define FS_PREFIX       0x10u
#define FS_SIGUSR1      0x20u

enum fs_local {
	FS_NULL,
	FS_SOCK_CLOSED,
	FS_SOCK_DRAINED,
	FS_NONE,
};

/* longer than a v2 chunk, so it is sent in pieces */
#define FS_PREFIX_LEN 5000u

struct fs_drain {
	pthread_t thread;
	int fd;
	bool running;
};

static void *
fs_drain_main(void *arg)
{
	struct fs_drain *d = arg;
	char buf[4096];

	/* until stream_run() closes or shuts down its end */
	for (;;) {
		ssize_t n = read(d->fd, buf, sizeof(buf));

		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	return NULL;
}

static int
fs_open_null(int flags)
{
	return open("/dev/null", flags | O_CLOEXEC);
}

/*
 * A local socket for stream_run(); *ret_peer is our end (-1 if closed at
 * once).  Returns stream_run()'s end or -1.
 */
static int
fs_local_socket(enum fs_local kind, int *ret_peer, struct fs_drain *d)
{
	int sv[2];

	*ret_peer = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (kind == FS_SOCK_CLOSED) {
		(void)close(sv[1]);
		return sv[0];
	}
	if (kind == FS_SOCK_DRAINED && d != NULL) {
		int small = 4096;

		(void)setsockopt(
		    sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		d->fd = sv[1];
		if (pthread_create(&d->thread, NULL, fs_drain_main, d) == 0)
			d->running = true;
	}
	*ret_peer = sv[1];
	return sv[0];
}

/* Is fd a valid descriptor?  After stream_run() it must not be. */
static bool
fs_fd_open(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

/*
 * What stream_run() sent to the peer (readable when the peer only shut
 * its side down) must be well-formed: complete messages of our side's
 * types that pass proto_data_hdr_check(), nothing on a stream after its
 * EOF, nothing after an exit code, and a service's exit code 0 (no local
 * process).
 */
static void
fs_check_sent(int fd, bool is_service, uint32_t max_chunk)
{
	static uint8_t buf[4u << 20];
	bool eof_out = false, eof_err = false, exited = false;
	size_t len = 0, off = 0;

	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		FUZZ_CHECK(len < sizeof(buf));
	}
	while (len - off >= 8) {
		uint32_t type = fuzz_u32(buf + off);
		uint32_t mlen = fuzz_u32(buf + off + 4);
		bool *eof;

		FUZZ_CHECK(proto_data_hdr_check(type, mlen, max_chunk) == 0);
		FUZZ_CHECK(len - off - 8 >= mlen);
		FUZZ_CHECK(!exited);
		switch (type) {
		case MSG_DATA_STDOUT:
			FUZZ_CHECK(is_service);
			eof = &eof_out;
			break;
		case MSG_DATA_STDIN:
			FUZZ_CHECK(!is_service);
			eof = &eof_out;
			break;
		case MSG_DATA_STDERR:
			eof = &eof_err;
			break;
		default:
			FUZZ_CHECK(type == MSG_DATA_EXIT_CODE && is_service);
			FUZZ_CHECK(fuzz_u32(buf + off + 8) == 0);
			exited = true;
			eof = NULL;
			break;
		}
		if (eof != NULL) {
			FUZZ_CHECK(!*eof);
			*eof = mlen == 0;
		}
		off += 8 + (size_t)mlen;
	}
	FUZZ_CHECK(off == len);
}

static void
fuzz_stream_one(const uint8_t *data, size_t size, bool is_service)
{
	static const uint32_t versions[4] = {2, 3, 4, 3};
	static uint8_t prefix[FS_PREFIX_LEN];
	struct stream_params p;
	struct stream s;
	struct fs_drain drain = {.fd = -1};
	int chan[2], sink_peer = -1, src_peer = -1;
	int given[3] = {-1, -1, -1};
	uint8_t a, b;
	bool want_err;
	size_t i;
	int r;

	if (size < 2)
		return;
	fuzz_init_once();
	a = data[0];
	b = data[1];
	data += 2;
	size -= 2;
	if (prefix[0] == 0)
		memset(prefix, 'p', sizeof(prefix));

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) < 0)
		return;
	(void)fuzz_fill_socket(&chan[1], data, size, (a & FS_HALF_CLOSE) != 0);

	memset(&p, 0, sizeof(p));
	p.chan = chan[0];
	p.is_service = is_service;
	p.version = versions[FS_VERSION(a)];
	p.pid = 0;
	p.sink = p.src = p.err = -1;

	/* sink: where remote data goes (service: its stdin) */
	switch (FS_SINK(a)) {
	case FS_NULL:
		p.sink = fs_open_null(O_WRONLY);
		break;
	case FS_SOCK_CLOSED:
	case FS_SOCK_DRAINED:
		p.sink = fs_local_socket(FS_SINK(a), &sink_peer, &drain);
		break;
	default:
		break;
	}
	/* src: what we send (service: its stdout) */
	switch (FS_SRC(a)) {
	case 0:
		p.src = fs_open_null(O_RDONLY);
		break;
	case 1:
		p.src = fs_local_socket(FS_NONE, &src_peer, NULL);
		break;
	case 2:
		/* one socket both ways, as for a socket service */
		if (sink_peer >= 0 || FS_SINK(a) == FS_SOCK_CLOSED)
			p.src = p.sink;
		else
			p.src = fs_open_null(O_RDONLY);
		break;
	default:
		break;
	}
	/* a service usually has its stderr, a caller usually has none */
	want_err = is_service != ((a & FS_ERR) != 0);
	if (want_err)
		p.err = fs_open_null(O_RDONLY);
	p.exit_on_client_eof = (b & FS_EXIT_CLIENT) != 0;
	p.exit_on_service_eof = (b & FS_EXIT_SERVICE) != 0;
	p.replace_stdout = (b & FS_REPLACE_OUT) != 0;
	p.replace_stderr = (b & FS_REPLACE_ERR) != 0;
	if (!is_service && (b & FS_PREFIX)) {
		p.prefix = prefix;
		p.prefix_len = sizeof(prefix);
	}
	given[0] = p.sink;
	given[1] = p.src;
	given[2] = p.err;

	stream_init(&s, &p);
	/* a SIGUSR1 before the first poll: use the sink socket as src too */
	if ((b & FS_SIGUSR1) && FS_SINK(a) != FS_NULL && FS_SINK(a) != FS_NONE)
		s.sigusr1 = true;
	r = stream_run(&s, -1);
	stream_free(&s);
	FUZZ_CHECK(r >= -1 && r <= 255);
	/* a service side without a local process reports 0 */
	FUZZ_CHECK(!is_service || r == 0);

	/* every local fd is stream_run()'s to close, the channel is not */
	for (i = 0; i < 3; i++)
		FUZZ_CHECK(!fs_fd_open(given[i]));
	FUZZ_CHECK(fs_fd_open(chan[0]));

	if (chan[1] >= 0)
		fs_check_sent(chan[1], is_service, s.max_chunk);

	if (drain.running)
		(void)pthread_join(drain.thread, NULL);
	if (sink_peer >= 0)
		(void)close(sink_peer);
	if (src_peer >= 0)
		(void)close(src_peer);
	(void)close(chan[0]);
	if (chan[1] >= 0)
		(void)close(chan[1]);
}

#endif
