/*
 * test_stream.c - the data phase of a call (src/lib/stream.c), run between
 * socket pairs for the channel and the local fds.
 *
 * The far end of the channel is a scripted peer driven from the poll mock
 * (each time stream_run is about to poll, the peer reads what was sent and
 * may answer), so no test depends on timing or threads.  Covered:
 *   - service side without a child (socket services, one socket or two):
 *     STDERR EOF first when there is no stderr fd, STDOUT data and EOF,
 *     EXIT_CODE last; exit-on-client-eof, exit-on-service-eof; a prefix
 *     (split at the chunk size); the SIGUSR1 switch to the stdin socket;
 *   - service side with real children (/bin/cat, exit codes, a signal);
 *   - caller side: a remote EXIT_CODE stops input and sends STDIN EOF;
 *     exit codes out of range; a local child's status; output filtering;
 *   - an invalid message on the channel (unknown type, wrong phase, too
 *     long, bad exit code length, truncated) ends the call and nothing
 *     after it is delivered; an early channel EOF;
 *   - the memory bound: a sink that never reads makes the stream stop
 *     reading the channel with at most STREAM_SINK_LIMIT buffered;
 *   - stream_handshake, stream_send_failure, stream_replace_chars.
 */
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/io.h"
#include "lib/stream.h"
#include "lib/util.h"
#include "unit.h"

/* ---- the scripted peer on the far end of the channel ---- */

#define PEER_MAX_MSGS 4096

static struct peer {
	int fd;
	uint8_t raw[4u * 65536u];
	size_t rawlen;
	size_t n;
	uint32_t type[PEER_MAX_MSGS];
	uint32_t len[PEER_MAX_MSGS];
	char *data[3]; /* STDIN, STDOUT, STDERR payloads, concatenated */
	size_t dlen[3];
	int32_t exit_code;
	int exits; /* EXIT_CODE messages seen */
	/* on STDIN EOF, send STDOUT EOF (if set) and this exit code */
	int reply_exit;
	bool reply_stdout_eof;
	bool eof;
} peer;

static void
peer_reset(int fd)
{
	int i;

	for (i = 0; i < 3; i++)
		free(peer.data[i]);
	memset(&peer, 0, sizeof(peer));
	peer.fd = fd;
	peer.reply_exit = -1;
}

static void
peer_send(uint32_t type, const void *p, size_t len)
{
	unit_send_msg(peer.fd, type, p, len);
}

static void
peer_got(uint32_t type, const uint8_t *body, uint32_t len)
{
	assert_true(peer.n < PEER_MAX_MSGS);
	peer.type[peer.n] = type;
	peer.len[peer.n] = len;
	peer.n++;
	if (type >= MSG_DATA_STDIN && type <= MSG_DATA_STDERR && len > 0) {
		int i = (int)(type - MSG_DATA_STDIN);

		peer.data[i] = realloc(peer.data[i], peer.dlen[i] + len + 1);
		assert_non_null(peer.data[i]);
		memcpy(peer.data[i] + peer.dlen[i], body, len);
		peer.dlen[i] += len;
		peer.data[i][peer.dlen[i]] = '\0';
	}
	if (type == MSG_DATA_EXIT_CODE) {
		assert_int_equal(len, 4);
		memcpy(&peer.exit_code, body, 4);
		peer.exits++;
	}
	if (type == MSG_DATA_STDIN && len == 0 && peer.reply_exit >= 0) {
		int32_t code = peer.reply_exit;

		if (peer.reply_stdout_eof)
			peer_send(MSG_DATA_STDOUT, NULL, 0);
		peer_send(MSG_DATA_EXIT_CODE, &code, sizeof(code));
	}
}

static void
peer_parse(void)
{
	struct qrexec_hdr h;
	size_t off = 0;

	while (peer.rawlen - off >= sizeof(h)) {
		memcpy(&h, peer.raw + off, sizeof(h));
		assert_true(h.hdr_len <= 65536);
		if (peer.rawlen - off - sizeof(h) < h.hdr_len)
			break;
		peer_got(h.hdr_type, peer.raw + off + sizeof(h), h.hdr_len);
		off += sizeof(h) + h.hdr_len;
	}
	memmove(peer.raw, peer.raw + off, peer.rawlen - off);
	peer.rawlen -= off;
}

/* Take in whatever the stream sent (nonblocking). */
static void
peer_pump(void)
{
	for (;;) {
		ssize_t n = recv(peer.fd, peer.raw + peer.rawlen,
		    sizeof(peer.raw) - peer.rawlen, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				peer.eof = true;
			break;
		}
		peer.rawlen += (size_t)n;
		peer_parse();
	}
}

static void
peer_hook(struct pollfd *fds, nfds_t nfds, int timeout)
{
	(void)fds;
	(void)nfds;
	(void)timeout;
	peer_pump();
}

/* Count of messages of type (and length, if len >= 0). */
static int
peer_count(uint32_t type, long len)
{
	size_t i;
	int n = 0;

	for (i = 0; i < peer.n; i++)
		if (peer.type[i] == type && (len < 0 || peer.len[i] == len))
			n++;
	return n;
}

/* Index of the first message of type and length (-1: none). */
static long
peer_find(uint32_t type, long len)
{
	size_t i;

	for (i = 0; i < peer.n; i++)
		if (peer.type[i] == type && (len < 0 || peer.len[i] == len))
			return (long)i;
	return -1;
}

static const char *
peer_text(uint32_t type)
{
	const char *d = peer.data[type - MSG_DATA_STDIN];

	return d ? d : "";
}

/* ---- fixture ---- */

struct fixture {
	int c, pc;       /* channel: the stream's end, the peer's */
	int sink, psink; /* the local process's input (we write sink) */
	int src, psrc;   /* its output (we read src) */
	int sigfd;
	struct stream_params p;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	fault_reset();
	if (f == NULL)
		return -1;
	unit_socketpair(sv);
	f->c = sv[0];
	f->pc = sv[1];
	unit_socketpair(sv);
	f->sink = sv[0];
	f->psink = sv[1];
	unit_socketpair(sv);
	f->src = sv[0];
	f->psrc = sv[1];
	f->sigfd = -1;
	peer_reset(f->pc);
	poll_hook = peer_hook;
	memset(&f->p, 0, sizeof(f->p));
	f->p.chan = f->c;
	f->p.is_service = true;
	f->p.version = QREXEC_PROTOCOL_VERSION;
	f->p.sink = f->sink;
	f->p.src = f->src;
	f->p.err = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	fault_reset();
	unit_close(&f->c);
	unit_close(&f->pc);
	unit_close(&f->sink);
	unit_close(&f->psink);
	unit_close(&f->src);
	unit_close(&f->psrc);
	unit_close(&f->sigfd);
	peer_reset(-1);
	free(f);
	return 0;
}

/*
 * Run the stream with f->p; then close our end of the channel and take in
 * the rest of what was sent.  The stream closes the local fds it was given.
 */
static int
run(struct fixture *f)
{
	struct stream s;
	int r;

	stream_init(&s, &f->p);
	r = stream_run(&s, f->sigfd);
	stream_free(&s);
	/* (our own stdio sockets are shut down, not closed) */
	if (f->p.sink > 2)
		assert_int_equal(fcntl(f->p.sink, F_GETFD), -1);
	if (f->p.src > 2)
		assert_int_equal(fcntl(f->p.src, F_GETFD), -1);
	if (f->p.err >= 0)
		assert_int_equal(fcntl(f->p.err, F_GETFD), -1);
	if (f->p.sink == f->sink || f->p.src == f->sink)
		f->sink = -1;
	if (f->p.src == f->src || f->p.sink == f->src)
		f->src = -1;
	unit_close(&f->c);
	assert_int_equal(fd_set_nonblock(f->pc, false), 0);
	while (!peer.eof) {
		ssize_t n = read(f->pc, peer.raw + peer.rawlen,
		    sizeof(peer.raw) - peer.rawlen);

		/* a reset: the stream left messages of ours unread */
		if (n < 0 && errno == ECONNRESET)
			break;
		assert_true(n >= 0);
		if (n == 0)
			break;
		peer.rawlen += (size_t)n;
		peer_parse();
	}
	/* nothing half-sent */
	assert_int_equal(peer.rawlen, 0);
	return r;
}

/* Expect text and then EOF from fd. */
static void
expect(int fd, const char *text)
{
	char *got;
	size_t n = unit_read_eof(fd, &got);

	assert_int_equal(n, strlen(text));
	assert_memory_equal(got, text, n);
	free(got);
}

static void
feed(int fd, const char *text, bool eof)
{
	assert_int_equal(io_write_all(fd, text, strlen(text)), 0);
	if (eof)
		assert_int_equal(shutdown(fd, SHUT_WR), 0);
}

static void
peer_feed(uint32_t type, const char *text)
{
	peer_send(type, text, strlen(text));
}

/*
 * The service side's frame: STDERR EOF first (no stderr fd), STDOUT EOF
 * once and after all STDOUT data, EXIT_CODE once and last, no STDIN.
 */
static void
check_service_frame(int32_t code)
{
	long eof;
	size_t i;

	assert_true(peer.n >= 3);
	assert_int_equal(peer.type[0], MSG_DATA_STDERR);
	assert_int_equal(peer.len[0], 0);
	assert_int_equal(peer.type[peer.n - 1], MSG_DATA_EXIT_CODE);
	assert_int_equal(peer.exits, 1);
	assert_int_equal(peer.exit_code, code);
	assert_int_equal(peer_count(MSG_DATA_STDOUT, 0), 1);
	eof = peer_find(MSG_DATA_STDOUT, 0);
	for (i = (size_t)eof + 1; i < peer.n; i++)
		assert_int_not_equal(peer.type[i], MSG_DATA_STDOUT);
	assert_int_equal(peer_count(MSG_DATA_STDERR, -1), 1);
	assert_int_equal(peer_count(MSG_DATA_STDIN, -1), 0);
}

static void
test_service_socket(void **state)
{
	struct fixture *f = *state;

	/* the remote sends input and EOF; the service answers and ends */
	peer_feed(MSG_DATA_STDIN, "input");
	peer_feed(MSG_DATA_STDIN, " more");
	peer_send(MSG_DATA_STDIN, NULL, 0);
	feed(f->psrc, "output", true);
	assert_int_equal(run(f), 0);
	check_service_frame(0);
	assert_string_equal(peer_text(MSG_DATA_STDOUT), "output");
	expect(f->psink, "input more");
}

static void
test_service_single_socket(void **state)
{
	struct fixture *f = *state;

	/* one socket both ways, as a socket service has */
	f->p.src = f->p.sink;
	peer_feed(MSG_DATA_STDIN, "request");
	peer_send(MSG_DATA_STDIN, NULL, 0);
	feed(f->psink, "response", true);
	assert_int_equal(run(f), 0);
	check_service_frame(0);
	assert_string_equal(peer_text(MSG_DATA_STDOUT), "response");
	/* the service saw the request and then EOF (a shutdown) */
	expect(f->psink, "request");
}

static void
test_service_large_output(void **state)
{
	struct fixture *f = *state;
	static char big[100000];
	size_t i;

	/* v2: chunks of at most 4096 bytes */
	f->p.version = QREXEC_PROTOCOL_V2;
	for (i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('A' + i % 53);
	peer_send(MSG_DATA_STDIN, NULL, 0);
	feed(f->psrc, big, true);
	assert_int_equal(run(f), 0);
	check_service_frame(0);
	assert_int_equal(peer.dlen[1], sizeof(big) - 1);
	assert_memory_equal(peer_text(MSG_DATA_STDOUT), big, sizeof(big) - 1);
	for (i = 0; i < peer.n; i++)
		assert_true(peer.len[i] <= 4096);
	assert_true(peer_count(MSG_DATA_STDOUT, -1) >= 25);
}

static void
test_service_other_messages(void **state)
{
	struct fixture *f = *state;
	int32_t code = 9;

	/*
	 * The other direction's data type is taken too (Qubes does, for
	 * VM-to-VM channels); STDERR and EXIT_CODE sent to a service are
	 * ignored.
	 */
	peer_feed(MSG_DATA_STDOUT, "a");
	peer_feed(MSG_DATA_STDERR, "ignored");
	peer_send(MSG_DATA_EXIT_CODE, &code, sizeof(code));
	peer_feed(MSG_DATA_STDIN, "b");
	peer_send(MSG_DATA_STDIN, NULL, 0);
	/* and anything after STDIN EOF is dropped */
	peer_feed(MSG_DATA_STDIN, "late");
	feed(f->psrc, "", true);
	assert_int_equal(run(f), 0);
	check_service_frame(0);
	expect(f->psink, "ab");
}

static void
test_exit_on_client_eof(void **state)
{
	struct fixture *f = *state;

	/* the service never closes its output; the client's EOF ends it */
	f->p.src = f->p.sink;
	f->p.exit_on_client_eof = true;
	peer_feed(MSG_DATA_STDIN, "x");
	peer_send(MSG_DATA_STDIN, NULL, 0);
	assert_int_equal(run(f), 0);
	check_service_frame(0);
	assert_string_equal(peer_text(MSG_DATA_STDOUT), "");
	expect(f->psink, "x");
}

static void
test_exit_on_service_eof(void **state)
{
	struct fixture *f = *state;

	/* the client never sends EOF; the service's EOF ends the call */
	f->p.src = f->p.sink;
	f->p.exit_on_service_eof = true;
	feed(f->psink, "done", true);
	assert_int_equal(run(f), 0);
	check_service_frame(0);
	assert_string_equal(peer_text(MSG_DATA_STDOUT), "done");
}

static void
test_prefix(void **state)
{
	struct fixture *f = *state;
	static char pfx[10000];
	char *want;
	size_t i;

	/* sent before the output, split at the chunk size (v2: 4096) */
	f->p.version = QREXEC_PROTOCOL_V2;
	for (i = 0; i < sizeof(pfx); i++)
		pfx[i] = (char)('a' + i % 26);
	pfx[sizeof(pfx) - 1] = '\0';
	f->p.prefix = pfx;
	f->p.prefix_len = sizeof(pfx);
	peer_send(MSG_DATA_STDIN, NULL, 0);
	feed(f->psrc, "tail", true);
	assert_int_equal(run(f), 0);
	check_service_frame(0);
	assert_int_equal(peer.dlen[1], sizeof(pfx) + 4);
	want = malloc(sizeof(pfx) + 4);
	assert_non_null(want);
	memcpy(want, pfx, sizeof(pfx));
	memcpy(want + sizeof(pfx), "tail", 4);
	assert_memory_equal(peer.data[1], want, sizeof(pfx) + 4);
	free(want);
	for (i = 0; i < peer.n; i++)
		assert_true(peer.len[i] <= 4096);
}

/* A fake signalfd: queue one siginfo for signo. */
static int
fake_sigfd(int *ret_writer, int signo)
{
	struct signalfd_siginfo si;
	int sv[2];

	unit_socketpair(sv);
	assert_int_equal(fd_set_nonblock(sv[0], true), 0);
	memset(&si, 0, sizeof(si));
	si.ssi_signo = (uint32_t)signo;
	assert_int_equal(io_write_all(sv[1], &si, sizeof(si)), 0);
	*ret_writer = sv[1];
	return sv[0];
}

static void
test_sigusr1(void **state)
{
	struct fixture *f = *state;
	int w;
	char c;

	/* SIGUSR1: the service's output now comes on its stdin socket */
	f->sigfd = fake_sigfd(&w, SIGUSR1);
	peer_send(MSG_DATA_STDIN, NULL, 0);
	feed(f->psink, "via stdin", true);
	assert_int_equal(run(f), 0);
	check_service_frame(0);
	assert_string_equal(peer_text(MSG_DATA_STDOUT), "via stdin");
	/* the old output socket is no longer read */
	assert_int_equal(send(f->psrc, "x", 1, MSG_NOSIGNAL), -1);
	assert_int_equal(read(f->psink, &c, 1), 0);
	(void)close(w);
}

/*
 * SIGTERM with no local process to pass it to (a socket service): the
 * call ends, rather than waiting on peers that may never speak.
 */
static void
test_sigterm_without_child(void **state)
{
	struct fixture *f = *state;
	int w;

	f->sigfd = fake_sigfd(&w, SIGTERM);
	(void)run(f); /* returns: before the fix it waited for ever */
	(void)close(w);
}

/* ---- real children ---- */

static int
child_sigfd(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	assert_int_equal(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/*
 * Start "sh -c cmd" with stdin from f->psink, stdout to f->psrc and
 * stderr to a new pipe (its read end in *ret_err, or stderr inherited
 * with NULL).
 */
static pid_t
spawn(struct fixture *f, const char *cmd, int *ret_err)
{
	int ep[2] = {-1, -1};
	pid_t pid;

	if (ret_err != NULL)
		assert_int_equal(pipe2(ep, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(f->psink, 0) < 0 || dup2(f->psrc, 1) < 0 ||
		    (ep[1] >= 0 && dup2(ep[1], 2) < 0))
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	unit_close(&f->psink);
	unit_close(&f->psrc);
	if (ret_err != NULL) {
		(void)close(ep[1]);
		*ret_err = ep[0];
	}
	return pid;
}

static void
test_service_child(void **state)
{
	struct fixture *f = *state;

	f->sigfd = child_sigfd();
	f->p.pid = spawn(f, "exec cat", &f->p.err);
	peer_feed(MSG_DATA_STDIN, "hello ");
	peer_feed(MSG_DATA_STDIN, "cat");
	peer_send(MSG_DATA_STDIN, NULL, 0);
	assert_int_equal(run(f), 0);
	assert_string_equal(peer_text(MSG_DATA_STDOUT), "hello cat");
	/* with its own stderr: one STDERR EOF, when that pipe closes */
	assert_int_equal(peer_count(MSG_DATA_STDERR, 0), 1);
	assert_int_equal(peer_count(MSG_DATA_STDOUT, 0), 1);
	assert_int_equal(peer.exits, 1);
	assert_int_equal(peer.type[peer.n - 1], MSG_DATA_EXIT_CODE);
	assert_int_equal(peer.exit_code, 0);
	assert_int_equal(waitpid(f->p.pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void
test_service_child_status(void **state)
{
	struct fixture *f = *state;

	/* stderr data and a non-zero status */
	f->sigfd = child_sigfd();
	f->p.pid = spawn(f, "echo oops >&2; cat >/dev/null; exit 3", &f->p.err);
	peer_send(MSG_DATA_STDIN, NULL, 0);
	assert_int_equal(run(f), 3);
	assert_string_equal(peer_text(MSG_DATA_STDERR), "oops\n");
	assert_int_equal(peer.exit_code, 3);
	assert_int_equal(peer.type[peer.n - 1], MSG_DATA_EXIT_CODE);
	teardown(state);

	/* killed by a signal: 128 + signal */
	assert_int_equal(setup(state), 0);
	f = *state;
	f->sigfd = child_sigfd();
	f->p.pid = spawn(f, "kill -KILL $$", NULL);
	assert_int_equal(run(f), 128 + SIGKILL);
	assert_int_equal(peer.exit_code, 128 + SIGKILL);
	/* no stderr fd: STDERR EOF first */
	assert_int_equal(peer.type[0], MSG_DATA_STDERR);
	assert_int_equal(peer.len[0], 0);
}

static void
test_caller_exit_code(void **state)
{
	struct fixture *f = *state;
	int32_t code = 3;

	/*
	 * The remote process exits while our input is still open: no more
	 * input is sent, STDIN EOF is, and its code is ours.
	 */
	f->p.is_service = false;
	peer_feed(MSG_DATA_STDOUT, "out");
	peer_send(MSG_DATA_STDOUT, NULL, 0);
	peer_send(MSG_DATA_EXIT_CODE, &code, sizeof(code));
	assert_int_equal(run(f), 3);
	assert_int_equal(peer.n, 1);
	assert_int_equal(peer.type[0], MSG_DATA_STDIN);
	assert_int_equal(peer.len[0], 0);
	expect(f->psink, "out");
	/* and our input is not read any more */
	assert_int_equal(send(f->psrc, "x", 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EPIPE);
}

static void
test_caller_exit_code_range(void **state)
{
	static const int32_t in[] = {0, 255, 256, -1, INT32_MIN, 1000};
	static const int out[] = {0, 255, 255, 255, 255, 255};
	struct fixture *f;
	size_t i;

	/* an exit status is 0..255; anything else is a failure (255) */
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		if (i > 0) {
			teardown(state);
			assert_int_equal(setup(state), 0);
		}
		f = *state;
		f->p.is_service = false;
		peer_send(MSG_DATA_STDOUT, NULL, 0);
		peer_send(MSG_DATA_EXIT_CODE, &in[i], sizeof(in[i]));
		assert_int_equal(run(f), out[i]);
	}
}

static void
test_caller_data(void **state)
{
	struct fixture *f = *state;

	/* all our input goes out, then STDIN EOF; the remote answers */
	f->p.is_service = false;
	peer.reply_exit = 0;
	peer.reply_stdout_eof = true;
	peer_feed(MSG_DATA_STDOUT, "reply");
	feed(f->psrc, "request", true);
	assert_int_equal(run(f), 0);
	assert_string_equal(peer_text(MSG_DATA_STDIN), "request");
	assert_int_equal(peer_count(MSG_DATA_STDIN, 0), 1);
	assert_int_equal(peer.type[peer.n - 1], MSG_DATA_STDIN);
	assert_int_equal(peer.len[peer.n - 1], 0);
	expect(f->psink, "reply");
}

static void
test_caller_child(void **state)
{
	struct fixture *f = *state;

	/* a local process: its status counts when the remote's is 0 */
	f->p.is_service = false;
	f->sigfd = child_sigfd();
	f->p.pid = spawn(f, "cat; exit 5", NULL);
	peer.reply_exit = 0;
	peer_feed(MSG_DATA_STDOUT, "data");
	peer_send(MSG_DATA_STDOUT, NULL, 0);
	assert_int_equal(run(f), 5);
	assert_string_equal(peer_text(MSG_DATA_STDIN), "data");
	teardown(state);

	/* ... and the remote's when it is not */
	assert_int_equal(setup(state), 0);
	f = *state;
	f->p.is_service = false;
	f->sigfd = child_sigfd();
	f->p.pid = spawn(f, "cat; exit 5", NULL);
	peer.reply_exit = 7;
	peer_send(MSG_DATA_STDOUT, NULL, 0);
	assert_int_equal(run(f), 7);
}

static void
test_caller_filters(void **state)
{
	struct fixture *f = *state;
	int ep[2], saved;
	int32_t code = 0;
	char *got;

	/* -t and -T: remote stdout and stderr with unprintables replaced */
	f->p.is_service = false;
	f->p.replace_stdout = true;
	f->p.replace_stderr = true;
	assert_int_equal(pipe2(ep, O_CLOEXEC), 0);
	saved = dup(2);
	assert_true(saved >= 0);
	peer_send(MSG_DATA_STDOUT, "a\x01\x1b[0m\tb\n\x7f\xff", 11);
	peer_send(MSG_DATA_STDERR, "e\x02r\r\n", 5);
	peer_send(MSG_DATA_STDOUT, NULL, 0);
	peer_send(MSG_DATA_EXIT_CODE, &code, sizeof(code));
	assert_int_equal(dup2(ep[1], 2), 2);
	assert_int_equal(run(f), 0);
	assert_int_equal(dup2(saved, 2), 2);
	(void)close(saved);
	(void)close(ep[1]);
	expect(f->psink, "a__[0m\tb\n__");
	assert_int_equal(unit_read_eof(ep[0], &got), 5);
	assert_memory_equal(got, "e_r\r\n", 5);
	free(got);
	(void)close(ep[0]);
}

static void
test_replace_chars(void **state)
{
	uint8_t b[256];
	int i;

	(void)state;
	for (i = 0; i < 256; i++)
		b[i] = (uint8_t)i;
	stream_replace_chars(b, sizeof(b));
	for (i = 0; i < 256; i++) {
		bool keep = (i >= 0x20 && i <= 0x7e) || i == '\t' ||
		    i == '\n' || i == '\r' || i == '\b' || i == '\a';

		assert_int_equal(b[i], keep ? i : '_');
	}
}

/* Run a service stream whose channel carries `bad` after "ok". */
static void
invalid_case(
    void **state, bool service, const void *bad, size_t badlen, int want)
{
	struct fixture *f;

	teardown(state);
	assert_int_equal(setup(state), 0);
	f = *state;
	f->p.is_service = service;
	peer_feed(service ? MSG_DATA_STDIN : MSG_DATA_STDOUT, "ok");
	assert_int_equal(io_write_all(f->pc, bad, badlen), 0);
	/* nothing after the bad message may be delivered */
	peer_feed(service ? MSG_DATA_STDIN : MSG_DATA_STDOUT, "after");
	assert_int_equal(run(f), want);
	expect(f->psink, "ok");
}

static void
test_invalid_messages(void **state)
{
	struct {
		struct qrexec_hdr h;
		uint8_t body[8];
	} m;

	/* an unknown type */
	m.h = (struct qrexec_hdr){.hdr_type = 0x999, .hdr_len = 0};
	invalid_case(state, true, &m, 8, 0);
	invalid_case(state, false, &m, 8, -1);
	/* a message of the control phase on a data channel */
	m.h = (struct qrexec_hdr){.hdr_type = MSG_HELLO, .hdr_len = 4};
	memset(m.body, 0, 4);
	invalid_case(state, true, &m, 12, 0);
	m.h = (struct qrexec_hdr){.hdr_type = MSG_EXEC_CMDLINE, .hdr_len = 0};
	invalid_case(state, false, &m, 8, -1);
	/* an exit code of 3 or 5 bytes */
	m.h = (struct qrexec_hdr){.hdr_type = MSG_DATA_EXIT_CODE, .hdr_len = 3};
	invalid_case(state, false, &m, 11, -1);
	m.h.hdr_len = 5;
	invalid_case(state, false, &m, 13, -1);
	/* more than a chunk: refused on the header alone */
	m.h = (struct qrexec_hdr){.hdr_type = MSG_DATA_STDIN, .hdr_len = 65537};
	invalid_case(state, true, &m, 8, 0);
	m.h = (struct qrexec_hdr){
	    .hdr_type = MSG_DATA_STDOUT, .hdr_len = UINT32_MAX};
	invalid_case(state, false, &m, 8, -1);
}

static void
test_truncated(void **state)
{
	struct fixture *f = *state;
	struct qrexec_hdr h = {.hdr_type = MSG_DATA_STDIN, .hdr_len = 10};

	/* the channel ends in the middle of a message */
	peer_feed(MSG_DATA_STDIN, "whole");
	assert_int_equal(io_write_all(f->pc, &h, sizeof(h)), 0);
	assert_int_equal(io_write_all(f->pc, "part", 4), 0);
	assert_int_equal(shutdown(f->pc, SHUT_WR), 0);
	assert_int_equal(run(f), 0);
	expect(f->psink, "whole");
	teardown(state);

	/* ... or of a header */
	assert_int_equal(setup(state), 0);
	f = *state;
	f->p.is_service = false;
	assert_int_equal(io_write_all(f->pc, "\x91\x01", 2), 0);
	assert_int_equal(shutdown(f->pc, SHUT_WR), 0);
	assert_int_equal(run(f), -1);
}

static void
test_chan_eof(void **state)
{
	struct fixture *f = *state;

	/* the channel closes before anything: the service side stops */
	assert_int_equal(shutdown(f->pc, SHUT_WR), 0);
	assert_int_equal(run(f), 0);
	expect(f->psink, "");
	teardown(state);

	/* the caller side, with no exit code: -1 */
	assert_int_equal(setup(state), 0);
	f = *state;
	f->p.is_service = false;
	peer_feed(MSG_DATA_STDOUT, "partial answer");
	assert_int_equal(shutdown(f->pc, SHUT_WR), 0);
	assert_int_equal(run(f), -1);
	expect(f->psink, "partial answer");
}

/* The memory bound, watched from inside poll. */
static struct {
	struct fixture *f;
	struct stream *s;
	uint8_t msg[8 + 65536];
	size_t off; /* of the message being written */
	size_t written;
	size_t to_sink, chan_unread, reader;
	bool stalled, done;
} mb;

static void
bound_hook(struct pollfd *fds, nfds_t nfds, int timeout)
{
	(void)timeout;
	peer_pump();
	if (nfds == 5 && !mb.stalled && !(fds[0].events & POLLIN)) {
		/* the stream stopped reading the channel */
		mb.stalled = true;
		mb.to_sink = buffer_len(&mb.s->to_sink);
		mb.reader = buffer_len(&mb.s->rd.in);
		mb.chan_unread = unit_pending(mb.f->c);
		/* end it: the local reader goes away */
		unit_close(&mb.f->psink);
	}
	if (mb.done)
		return;
	/* keep the channel full of STDIN data; finish the last message */
	assert_true(mb.written < 64u * 1024u * 1024u);
	for (;;) {
		ssize_t n;

		if (mb.off == sizeof(mb.msg)) {
			if (mb.stalled) {
				assert_int_equal(
				    shutdown(mb.f->pc, SHUT_WR), 0);
				mb.done = true;
				return;
			}
			mb.off = 0;
		}
		n = send(mb.f->pc, mb.msg + mb.off, sizeof(mb.msg) - mb.off,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			return;
		mb.off += (size_t)n;
		mb.written += (size_t)n;
	}
}

static void
test_sink_limit(void **state)
{
	struct fixture *f = *state;
	struct qrexec_hdr h = {.hdr_type = MSG_DATA_STDIN, .hdr_len = 65536};
	struct stream s;

	memset(&mb, 0, sizeof(mb));
	mb.f = f;
	mb.s = &s;
	memcpy(mb.msg, &h, sizeof(h));
	memset(mb.msg + sizeof(h), 'z', 65536);
	f->p.version = QREXEC_PROTOCOL_V3;
	poll_hook = bound_hook;
	stream_init(&s, &f->p);
	assert_int_equal(stream_run(&s, -1), 0);
	stream_free(&s);
	f->sink = f->src = -1;
	assert_true(mb.stalled);
	assert_true(mb.done);
	/* it held at most the limit, and did fill up to half of it */
	assert_true(mb.to_sink <= STREAM_SINK_LIMIT);
	assert_true(mb.to_sink >= STREAM_SINK_LIMIT / 2);
	/* the rest stayed in the channel (not in our memory) */
	assert_true(mb.chan_unread > 0);
	assert_true(mb.reader <= 65536 + 8 + 64 * 1024);
}

static void
test_handshake(void **state)
{
	struct fixture *f = *state;
	struct qrexec_hdr h;
	uint8_t *body;
	uint32_t v;

	poll_hook = NULL;
	/* we say v4; the peer's v3 is what we use */
	assert_int_equal(msg_send_hello(f->pc, 3), 0);
	assert_int_equal(stream_handshake(f->c, 1000), 3);
	unit_recv_msg(f->pc, &h, &body);
	assert_int_equal(h.hdr_type, MSG_HELLO);
	assert_int_equal(h.hdr_len, 4);
	memcpy(&v, body, 4);
	assert_int_equal(v, QREXEC_PROTOCOL_VERSION);
	free(body);
	/* a newer peer: ours; the oldest: 2; older: refused */
	assert_int_equal(msg_send_hello(f->pc, 99), 0);
	assert_int_equal(stream_handshake(f->c, 1000), QREXEC_PROTOCOL_VERSION);
	assert_int_equal(msg_send_hello(f->pc, 2), 0);
	assert_int_equal(stream_handshake(f->c, 1000), 2);
	assert_int_equal(msg_send_hello(f->pc, 1), 0);
	assert_int_equal(stream_handshake(f->c, 1000), -EPROTONOSUPPORT);
	/* no answer in time */
	assert_int_equal(stream_handshake(f->c, 0), -ETIMEDOUT);
	/* not a HELLO */
	peer_send(MSG_DATA_STDIN, "abcd", 4);
	assert_int_equal(stream_handshake(f->c, 1000), -EBADMSG);
	/* the peer hangs up */
	unit_close(&f->pc);
	assert_true(stream_handshake(f->c, 1000) < 0);
}

static void
test_send_failure(void **state)
{
	struct fixture *f = *state;

	poll_hook = NULL;
	assert_int_equal(stream_send_failure(f->c, 127, true), 0);
	assert_int_equal(stream_send_failure(f->c, 125, false), 0);
	unit_close(&f->c);
	while (!peer.eof)
		peer_pump();
	assert_int_equal(peer.n, 6);
	assert_int_equal(peer.type[0], MSG_DATA_STDERR);
	assert_int_equal(peer.type[1], MSG_DATA_STDOUT);
	assert_int_equal(peer.type[2], MSG_DATA_EXIT_CODE);
	assert_int_equal(peer.type[3], MSG_DATA_STDOUT);
	assert_int_equal(peer.type[4], MSG_DATA_STDERR);
	assert_int_equal(peer.type[5], MSG_DATA_EXIT_CODE);
	assert_int_equal(peer.len[0], 0);
	assert_int_equal(peer.len[1], 0);
	assert_int_equal(peer.exit_code, 125);
	assert_int_equal(peer.exits, 2);
	/* a closed channel */
	assert_int_equal(stream_send_failure(f->pc, 1, true), -EPIPE);
}

/* ---- local fds that are not sockets, and failures ---- */

static void
test_caller_pipes(void **state)
{
	struct fixture *f = *state;
	int in[2], out[2];
	char *got;

	/* pipes (a terminal, a shell pipeline): closed, not shut down */
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	f->p.is_service = false;
	f->p.sink = out[1];
	f->p.src = in[0];
	peer.reply_exit = 0;
	peer.reply_stdout_eof = true;
	peer_feed(MSG_DATA_STDOUT, "out");
	assert_int_equal(io_write_all(in[1], "in", 2), 0);
	(void)close(in[1]);
	assert_int_equal(run(f), 0);
	assert_string_equal(peer_text(MSG_DATA_STDIN), "in");
	assert_int_equal(peer_count(MSG_DATA_STDIN, 0), 1);
	assert_int_equal(unit_read_eof(out[0], &got), 3);
	assert_string_equal(got, "out");
	free(got);
	(void)close(out[0]);
}

static void
test_caller_stdin_restored(void **state)
{
	struct fixture *f = *state;
	int in[2], saved, keep;

	/*
	 * Our own stdin shares its file description with whoever started
	 * us: when done with it, it must be blocking again.
	 */
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	saved = dup(0);
	assert_true(saved >= 0);
	keep = dup(in[0]);
	assert_int_equal(dup2(in[0], 0), 0);
	(void)close(in[0]);
	f->p.is_service = false;
	f->p.src = 0;
	(void)close(in[1]);
	peer_send(MSG_DATA_STDOUT, NULL, 0);
	peer.reply_exit = 0;
	assert_int_equal(run(f), 0);
	assert_int_equal(dup2(saved, 0), 0);
	(void)close(saved);
	assert_int_equal(fcntl(keep, F_GETFL) & O_NONBLOCK, 0);
	(void)close(keep);
	assert_int_equal(peer_count(MSG_DATA_STDIN, 0), 1);
}

static void
test_caller_stdio_sockets(void **state)
{
	struct fixture *f = *state;
	int saved0, saved1, keep0, keep1;

	/*
	 * Our stdin and stdout are sockets (a socket service's client): they
	 * are shut down, left open, and made blocking again.
	 */
	saved0 = dup(0);
	saved1 = dup(1);
	keep0 = dup(f->src);
	keep1 = dup(f->sink);
	assert_true(saved0 >= 0 && saved1 >= 0 && keep0 >= 0 && keep1 >= 0);
	assert_int_equal(dup2(f->src, 0), 0);
	assert_int_equal(dup2(f->sink, 1), 1);
	f->p.is_service = false;
	f->p.src = 0;
	f->p.sink = 1;
	peer.reply_exit = 0;
	peer_feed(MSG_DATA_STDOUT, "out");
	peer_send(MSG_DATA_STDOUT, NULL, 0);
	feed(f->psrc, "in", true);
	assert_int_equal(run(f), 0);
	assert_true(fcntl(0, F_GETFD) >= 0);
	assert_true(fcntl(1, F_GETFD) >= 0);
	assert_int_equal(dup2(saved0, 0), 0);
	assert_int_equal(dup2(saved1, 1), 1);
	(void)close(saved0);
	(void)close(saved1);
	assert_int_equal(fcntl(keep0, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(fcntl(keep1, F_GETFL) & O_NONBLOCK, 0);
	(void)close(keep0);
	(void)close(keep1);
	assert_string_equal(peer_text(MSG_DATA_STDIN), "in");
	expect(f->psink, "out");
}

static void
test_sink_errors(void **state)
{
	struct fixture *f = *state;
	void (*old)(int);
	int out[2];

	/* the local reader is gone (EPIPE): its data is dropped */
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	(void)close(out[0]);
	old = signal(SIGPIPE, SIG_IGN);
	f->p.sink = out[1];
	peer_feed(MSG_DATA_STDIN, "lost");
	peer_feed(MSG_DATA_STDIN, "lost too");
	peer_send(MSG_DATA_STDIN, NULL, 0);
	feed(f->psrc, "still answered", true);
	assert_int_equal(run(f), 0);
	(void)signal(SIGPIPE, old);
	check_service_frame(0);
	assert_string_equal(peer_text(MSG_DATA_STDOUT), "still answered");
	teardown(state);

	/* any other write error: the same */
	assert_int_equal(setup(state), 0);
	f = *state;
	fault_set(F_WRITE, f->sink, 0, -1, EIO);
	poll_hook = peer_hook;
	peer_feed(MSG_DATA_STDIN, "lost");
	peer_send(MSG_DATA_STDIN, NULL, 0);
	feed(f->psrc, "answer", true);
	assert_int_equal(run(f), 0);
	check_service_frame(0);
	expect(f->psink, "");
}

static void
test_src_read_error(void **state)
{
	struct fixture *f = *state;

	/* a read error on the local output is its EOF */
	fault_set(F_READ, f->src, 0, 1, EIO);
	poll_hook = peer_hook;
	feed(f->psrc, "never sent", false);
	peer_send(MSG_DATA_STDIN, NULL, 0);
	assert_int_equal(run(f), 0);
	check_service_frame(0);
	assert_int_equal(peer_count(MSG_DATA_STDOUT, -1), 1);
}

static void
test_chan_errors(void **state)
{
	struct fixture *f = *state;

	/* the channel cannot be written: the service side stops */
	fault_set(F_SEND, f->c, 0, -1, EPIPE);
	poll_hook = peer_hook;
	feed(f->psrc, "x", false);
	assert_int_equal(run(f), 0);
	assert_int_equal(peer.n, 0);
	teardown(state);

	/* the channel cannot be read: the service side stops */
	assert_int_equal(setup(state), 0);
	f = *state;
	fault_set(F_READ, f->c, 0, 1, EIO);
	poll_hook = peer_hook;
	peer_feed(MSG_DATA_STDIN, "x");
	assert_int_equal(run(f), 0);
	expect(f->psink, "");
	teardown(state);

	/* the caller side: no exit code, so -1 */
	assert_int_equal(setup(state), 0);
	f = *state;
	f->p.is_service = false;
	fault_set(F_READ, f->c, 0, 1, EIO);
	poll_hook = peer_hook;
	peer_feed(MSG_DATA_STDOUT, "x");
	assert_int_equal(run(f), -1);
}

/* After the injected send failure, answer as a remote that exited. */
static void
late_exit_hook(struct pollfd *fds, nfds_t nfds, int timeout)
{
	static const int32_t code = 6;

	peer_hook(fds, nfds, timeout);
	if (faults[F_SEND].calls > 0 && faults[F_SEND].fail == 0 &&
	    peer.reply_exit == -1) {
		peer.reply_exit = -2; /* once */
		peer_send(MSG_DATA_STDOUT, "bye", 3);
		peer_send(MSG_DATA_STDOUT, NULL, 0);
		peer_send(MSG_DATA_EXIT_CODE, &code, sizeof(code));
	}
}

static void
test_caller_chan_broken(void **state)
{
	struct fixture *f = *state;

	/*
	 * The caller cannot send any more: it stops reading its input but
	 * still takes the rest of the remote's output and its exit code.
	 */
	f->p.is_service = false;
	fault_set(F_SEND, f->c, 0, 1, EPIPE);
	poll_hook = late_exit_hook;
	feed(f->psrc, "input", false);
	assert_int_equal(run(f), 6);
	expect(f->psink, "bye");
	assert_int_equal(peer_count(MSG_DATA_STDIN, -1), 0);
	assert_int_equal(send(f->psrc, "x", 1, MSG_NOSIGNAL), -1);
}

static void
test_poll_faults(void **state)
{
	struct fixture *f = *state;

	/* EINTR: go on */
	fault_set(F_POLL, -1, 0, 2, EINTR);
	peer_send(MSG_DATA_STDIN, NULL, 0);
	feed(f->psrc, "ok", true);
	assert_int_equal(run(f), 0);
	check_service_frame(0);
	assert_true(faults[F_POLL].calls > 2);
	teardown(state);

	/* any other error: stop (the caller has no exit code then) */
	assert_int_equal(setup(state), 0);
	f = *state;
	f->p.is_service = false;
	fault_set(F_POLL, -1, 0, 1, ENOMEM);
	peer_feed(MSG_DATA_STDOUT, "x");
	assert_int_equal(run(f), -1);
	expect(f->psink, "");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_service_socket),
	    T(test_service_single_socket),
	    T(test_service_large_output),
	    T(test_service_other_messages),
	    T(test_exit_on_client_eof),
	    T(test_exit_on_service_eof),
	    T(test_prefix),
	    T(test_sigusr1),
	    T(test_sigterm_without_child),
	    T(test_service_child),
	    T(test_service_child_status),
	    T(test_caller_exit_code),
	    T(test_caller_exit_code_range),
	    T(test_caller_data),
	    T(test_caller_child),
	    T(test_caller_filters),
	    T(test_replace_chars),
	    T(test_invalid_messages),
	    T(test_truncated),
	    T(test_chan_eof),
	    T(test_sink_limit),
	    T(test_handshake),
	    T(test_send_failure),
	    T(test_caller_pipes),
	    T(test_caller_stdin_restored),
	    T(test_caller_stdio_sockets),
	    T(test_sink_errors),
	    T(test_src_read_error),
	    T(test_chan_errors),
	    T(test_caller_chan_broken),
	    T(test_poll_faults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
