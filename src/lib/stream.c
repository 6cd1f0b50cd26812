/*
 * stream.c - the data phase of a qrexec call.
 *
 * Runs in qrexec-agent's per-call process (service side, inside a qube),
 * qrexec-client-vm (caller side, inside a qube), qrexec-client and the
 * admin-side executors.  Every message read from the channel is untrusted:
 * each header is checked by proto_data_hdr_check() against the negotiated
 * chunk size before its payload is used, and payloads are only ever copied
 * to a local fd.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/log.h"
#include "lib/stream.h"
#include "lib/util.h"

/* Room for two full chunks plus a few small messages (EOFs, exit code). */
#define CHAN_QUEUE_LIMIT(chunk) (2u * ((chunk) + 8u) + 256u)

void
stream_init(struct stream *s, const struct stream_params *p)
{
	memset(s, 0, sizeof(*s));
	s->chan = p->chan;
	s->is_service = p->is_service;
	s->max_chunk = proto_max_chunk(p->version);
	s->sink = s->sink_orig = p->sink;
	s->src = s->src_orig = p->src;
	s->err = s->err_orig = p->err;
	s->single = p->sink >= 0 && p->sink == p->src;
	s->saved_sink = p->sink;
	s->pid = p->pid;
	s->local_status = -1;
	s->remote_status = -1;
	s->exit_on_client_eof = p->exit_on_client_eof;
	s->exit_on_service_eof = p->exit_on_service_eof;
	s->replace_stdout = p->replace_stdout;
	s->replace_stderr = p->replace_stderr;
	s->prefix = p->prefix;
	s->prefix_len = p->prefix_len;
	msg_reader_init(&s->rd, s->max_chunk);
	buffer_init(&s->to_chan, CHAN_QUEUE_LIMIT(s->max_chunk));
	buffer_init(&s->to_sink, STREAM_SINK_LIMIT);
}

void
stream_free(struct stream *s)
{
	msg_reader_free(&s->rd);
	buffer_free(&s->to_chan);
	buffer_free(&s->to_sink);
}

void
stream_replace_chars(uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t c = p[i];

		if ((c < 0x20 || c > 0x7e) && c != '\t' && c != '\n' &&
		    c != '\r' && c != '\b' && c != '\a')
			p[i] = '_';
	}
}

static uint32_t
src_type(const struct stream *s)
{
	return s->is_service ? MSG_DATA_STDOUT : MSG_DATA_STDIN;
}

/* Queue a message; the queue limit leaves room for small ones. */
static void
queue(struct stream *s, uint32_t type, const void *p, size_t len)
{
	if (msg_queue(&s->to_chan, type, p, len, NULL, 0) < 0)
		s->chan_broken = true;
}

/*
 * Stop using fd in one direction.  A socket shared by both directions (or
 * one that a SIGUSR1 may still switch to) is shut down; other fds are
 * closed at the end.  fds 0..2 of our own process get their blocking mode
 * back, since the file description is shared with whoever started us.
 */
static void
stdio_shut(struct stream *s, int fd, int how)
{
	if (fd < 0)
		return;
	if (shutdown(fd, how) < 0 && errno == ENOTSOCK && !s->single) {
		if (fd <= 2)
			(void)fd_set_nonblock(fd, false);
		(void)close(fd);
		if (fd == s->sink_orig)
			s->sink_orig = -1;
		if (fd == s->src_orig)
			s->src_orig = -1;
		if (fd == s->saved_sink)
			s->saved_sink = -1;
	}
}

static void
close_sink(struct stream *s)
{
	if (s->sink < 0)
		return;
	buffer_consume(&s->to_sink, buffer_len(&s->to_sink));
	if (s->exit_on_client_eof) {
		if (s->src >= 0) {
			s->prefix_len = 0; /* nothing may follow the EOF */
			queue(s, src_type(s), NULL, 0);
		}
		s->sink = s->src = -1;
		return;
	}
	stdio_shut(s, s->sink, SHUT_WR);
	s->sink = -1;
}

static void
close_src(struct stream *s)
{
	if (s->src < 0)
		return;
	if (s->exit_on_service_eof) {
		s->sink = s->src = -1;
		return;
	}
	stdio_shut(s, s->src, SHUT_RD);
	s->src = -1;
}

static void
close_err(struct stream *s)
{
	if (s->err >= 0) {
		(void)close(s->err);
		if (s->err == s->err_orig)
			s->err_orig = -1;
		s->err = -1;
	}
}

static void
reap_local(struct stream *s, bool block)
{
	int status;
	pid_t r;

	if (s->pid <= 0 || s->local_status >= 0)
		return;
	do
		r = waitpid(s->pid, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r != s->pid)
		return;
	s->local_status =
	    WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* Write what we can of remote data into the sink. */
static void
sink_write(struct stream *s, const uint8_t *p, size_t len)
{
	ssize_t n = 0;

	if (buffer_len(&s->to_sink) == 0) {
		do
			n = write(s->sink, p, len);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno != EAGAIN) {
				if (errno != EPIPE && errno != ECONNRESET)
					log_debug("write to local process: %s",
					    strerror(errno));
				close_sink(s);
				return;
			}
			n = 0;
		}
	}
	if ((size_t)n < len &&
	    buffer_append(&s->to_sink, p + n, len - (size_t)n) < 0)
		close_sink(s); /* cannot happen: we stop reading first */
}

static void
sink_flush(struct stream *s)
{
	long n;

	if (s->sink < 0 || buffer_len(&s->to_sink) == 0)
		return;
	n = buffer_flush(&s->to_sink, s->sink);
	if (n < 0)
		close_sink(s);
}

/* Handle one validated message from the channel.  -EPROTO on violation. */
static int
handle_msg(struct stream *s, const struct qrexec_hdr *hdr, uint8_t *body)
{
	switch (hdr->hdr_type) {
	case MSG_DATA_STDIN:
	case MSG_DATA_STDOUT:
		/* Qubes accepts both directions here (a VM-VM channel); so do
		 * we, but only the expected one is quietly taken */
		if (hdr->hdr_type !=
		    (s->is_service ? MSG_DATA_STDIN : MSG_DATA_STDOUT))
			log_debug("data message of the other direction");
		if (s->sink < 0)
			return 0;
		if (hdr->hdr_len == 0) {
			close_sink(s);
			return 0;
		}
		if (!s->is_service && s->replace_stdout)
			stream_replace_chars(body, hdr->hdr_len);
		sink_write(s, body, hdr->hdr_len);
		return 0;
	case MSG_DATA_STDERR:
		if (s->is_service)
			return 0; /* a caller has no stderr to send */
		if (s->replace_stderr)
			stream_replace_chars(body, hdr->hdr_len);
		(void)io_write_all(2, body, hdr->hdr_len);
		return 0;
	case MSG_DATA_EXIT_CODE: {
		int32_t code;

		if (s->is_service)
			return 0;
		memcpy(&code, body, sizeof(code));
		/*
		 * An exit status is 0..255.  Anything else is a failure: the
		 * callers exit with this value, and 256 would become 0.
		 */
		s->remote_status = code < 0 || code > 255 ? 255 : code;
		/* the remote process is gone: stop sending it input */
		if (s->src >= 0) {
			s->prefix_len = 0; /* nothing may follow the EOF */
			queue(s, src_type(s), NULL, 0);
			close_src(s);
		}
		return 0;
	}
	default:
		return -EPROTO;
	}
}

/* Read a chunk from a local fd and queue it as a message of type. */
static void
local_read(struct stream *s, int fd, uint32_t type, bool is_err)
{
	uint8_t *dst = buffer_reserve(&s->to_chan, 8 + s->max_chunk);
	struct qrexec_hdr hdr;
	ssize_t n;

	if (dst == NULL)
		return;
	do
		n = read(fd, dst + 8, s->max_chunk);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n < 0 && errno != ECONNRESET)
		log_debug("read from local process: %s", strerror(errno));
	if (n < 0)
		n = 0;
	hdr.hdr_type = type;
	hdr.hdr_len = (uint32_t)n;
	memcpy(dst, &hdr, sizeof(hdr));
	buffer_commit(&s->to_chan, 8 + (size_t)n);
	if (n == 0) {
		if (is_err)
			close_err(s);
		else
			close_src(s);
	}
}

static void
prefix_send(struct stream *s)
{
	size_t n = s->prefix_len < s->max_chunk ? s->prefix_len : s->max_chunk;

	queue(s, src_type(s), s->prefix, n);
	s->prefix += n;
	s->prefix_len -= n;
}

static void
chan_flush(struct stream *s)
{
	long n;

	if (buffer_len(&s->to_chan) == 0)
		return;
	n = buffer_flush(&s->to_chan, s->chan);
	if (n < 0) {
		s->chan_broken = true;
		buffer_consume(&s->to_chan, buffer_len(&s->to_chan));
	}
}

static void
read_signals(struct stream *s, int sigfd)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			s->child_event = true;
		else if (si.ssi_signo == SIGUSR1)
			s->sigusr1 = true;
		else if (si.ssi_signo == SIGTERM && s->pid > 0 &&
		    s->local_status < 0)
			(void)kill(s->pid, SIGTERM); /* pass it on */
		else if (si.ssi_signo == SIGTERM)
			s->terminated = true; /* nobody to pass it to: stop */
	}
}

static bool
all_local_closed(const struct stream *s)
{
	return s->sink < 0 && s->src < 0 && s->err < 0;
}

/* Drain queued messages to the channel before we stop (bounded wait). */
static void
chan_drain(struct stream *s)
{
	uint64_t deadline = now_ms() + 30000;

	while (buffer_len(&s->to_chan) > 0 && !s->chan_broken) {
		struct pollfd p = {.fd = s->chan, .events = POLLOUT};
		uint64_t now = now_ms();

		if (now >= deadline)
			break;
		if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		chan_flush(s);
	}
}

enum {
	PFD_CHAN,
	PFD_SINK,
	PFD_SRC,
	PFD_ERR,
	PFD_SIG,
	PFD_MAX
};

int
stream_run(struct stream *s, int sigfd)
{
	struct pollfd pfd[PFD_MAX];
	int ret;

	(void)fd_set_nonblock(s->chan, true);
	if (s->sink >= 0)
		(void)fd_set_nonblock(s->sink, true);
	if (s->src >= 0 && !s->single)
		(void)fd_set_nonblock(s->src, true);
	if (s->err >= 0)
		(void)fd_set_nonblock(s->err, true);
	/* a service without its own stderr stream says so at once */
	if (s->is_service && s->err < 0)
		queue(s, MSG_DATA_STDERR, NULL, 0);

	for (;;) {
		int i, r, timeout;

		if (s->child_event) {
			s->child_event = false;
			reap_local(s, false);
			if (s->local_status >= 0)
				close_sink(s);
		}
		if (all_local_closed(s)) {
			if (s->is_service) {
				if (s->pid <= 0 || s->local_status >= 0) {
					int32_t code =
					    s->pid > 0 ? s->local_status : 0;

					queue(s, MSG_DATA_EXIT_CODE, &code,
					    sizeof(code));
					break;
				}
			} else if ((s->pid <= 0 || s->local_status >= 0) &&
			    s->remote_status >= 0) {
				break;
			}
		}
		if (s->chan_broken) {
			if (s->is_service || s->remote_status >= 0)
				break;
			/* caller: stop sending, but keep reading the rest */
			close_src(s);
		}
		if (s->chan_eof && !msg_reader_has_partial(&s->rd) &&
		    buffer_len(&s->to_sink) == 0) {
			if (s->is_service || !all_local_closed(s) ||
			    s->remote_status < 0)
				log_debug("data channel closed early");
			break;
		}
		if (s->sigusr1) {
			s->sigusr1 = false;
			if (!s->single && s->saved_sink >= 0) {
				close_src(s);
				s->src = s->saved_sink;
				s->single = true;
			}
		}

		for (i = 0; i < PFD_MAX; i++)
			pfd[i] = (struct pollfd){.fd = -1};
		/*
		 * Read the channel only while the sink keeps up and the reader
		 * has room: with a full reader (a slow sink holds back its next
		 * message), a readable channel would wake us at once, each time
		 * to fail with -ENOBUFS, a busy loop.
		 */
		if (!s->chan_eof &&
		    buffer_len(&s->to_sink) < STREAM_SINK_LIMIT / 2 &&
		    buffer_room(&s->rd.in) > 0)
			pfd[PFD_CHAN].events |= POLLIN;
		if (buffer_len(&s->to_chan) > 0)
			pfd[PFD_CHAN].events |= POLLOUT;
		/* nothing wanted from the channel now (a slow sink): leave it
		 * out, or a hung-up peer's POLLHUP would spin us */
		pfd[PFD_CHAN].fd = pfd[PFD_CHAN].events ? s->chan : -1;
		if (s->sink >= 0) {
			pfd[PFD_SINK].fd = s->sink;
			pfd[PFD_SINK].events =
			    buffer_len(&s->to_sink) ? POLLOUT : 0;
		}
		if (buffer_room(&s->to_chan) >= 8 + s->max_chunk + 256) {
			if (s->src >= 0 && s->prefix_len == 0) {
				pfd[PFD_SRC].fd = s->src;
				pfd[PFD_SRC].events = POLLIN;
			}
			if (s->err >= 0) {
				pfd[PFD_ERR].fd = s->err;
				pfd[PFD_ERR].events = POLLIN;
			}
		}
		pfd[PFD_SIG].fd = sigfd;
		pfd[PFD_SIG].events = POLLIN;
		/* the same fd twice (single socket) is fine for poll */
		timeout = ((s->chan_eof && msg_reader_has_partial(&s->rd) &&
		               buffer_len(&s->to_sink) == 0) ||
		              (s->prefix_len > 0 &&
		                  buffer_room(&s->to_chan) >=
		                      8 + s->max_chunk + 256)) ?
		    0 :
		    -1;
		r = poll(pfd, PFD_MAX, timeout);
		if (r < 0 && errno != EINTR) {
			log_warn("poll");
			break;
		}
		if (r < 0)
			continue;
		if (pfd[PFD_SIG].revents)
			read_signals(s, sigfd);
		if (s->terminated) {
			log_debug("SIGTERM with no local process: ending");
			break;
		}
		if (pfd[PFD_CHAN].revents & POLLOUT)
			chan_flush(s);
		if (s->sink >= 0 && pfd[PFD_SINK].fd == s->sink) {
			if (pfd[PFD_SINK].revents & POLLOUT)
				sink_flush(s);
			if (pfd[PFD_SINK].revents & (POLLHUP | POLLERR) &&
			    s->sink >= 0)
				close_sink(s);
		}
		if (pfd[PFD_CHAN].events & POLLIN &&
		    pfd[PFD_CHAN].revents & (POLLIN | POLLHUP | POLLERR)) {
			long n = msg_reader_fill(&s->rd, s->chan);

			if (n < 0 && n != -EAGAIN && n != -ENOBUFS) {
				s->chan_eof = true;
				s->rd.eof = true;
			}
			if (n == 0)
				s->chan_eof = true;
		}
		/*
		 * Process complete messages while the sink keeps up.  Data may
		 * pile up (to a limit) behind a slow sink, but an EOF or exit
		 * code waits until everything before it has been written.
		 */
		for (;;) {
			struct qrexec_hdr hdr = {0, 0};
			const uint8_t *body;

			r = msg_reader_peek(&s->rd, &hdr);
			if (r == 0 && s->rd.eof &&
			    msg_reader_has_partial(&s->rd))
				r = -EPROTO; /* truncated at EOF */
			if (r == 0)
				break;
			if (r > 0 && buffer_len(&s->to_sink) > 0 &&
			    s->sink >= 0 &&
			    !(hdr.hdr_len > 0 &&
			        (hdr.hdr_type == MSG_DATA_STDIN ||
			            hdr.hdr_type == MSG_DATA_STDOUT) &&
			        buffer_len(&s->to_sink) <
			            STREAM_SINK_LIMIT / 2))
				break;
			if (r > 0)
				r = msg_reader_next(&s->rd, &hdr, &body);
			if (r < 0 ||
			    proto_data_hdr_check(
			        hdr.hdr_type, hdr.hdr_len, s->max_chunk) < 0 ||
			    handle_msg(s, &hdr, (uint8_t *)(uintptr_t)body) <
			        0) {
				log_warnx("invalid message on data channel "
				          "(type 0x%x, length %u), closing",
				    hdr.hdr_type, hdr.hdr_len);
				s->chan_broken = true;
				s->chan_eof = true;
				goto out;
			}
		}
		if (s->prefix_len > 0 &&
		    buffer_room(&s->to_chan) >= 8 + s->max_chunk + 256)
			prefix_send(s);
		if (s->src >= 0 && pfd[PFD_SRC].fd == s->src &&
		    pfd[PFD_SRC].revents)
			local_read(s, s->src, src_type(s), false);
		if (s->err >= 0 && pfd[PFD_ERR].fd == s->err &&
		    pfd[PFD_ERR].revents)
			local_read(s, s->err, MSG_DATA_STDERR, true);
		chan_flush(s);
	}
out:
	chan_drain(s);
	close_sink(s);
	close_src(s);
	close_err(s);
	if (s->sink_orig >= 0 && s->sink_orig > 2)
		(void)close(s->sink_orig);
	if (s->src_orig >= 0 && s->src_orig != s->sink_orig && s->src_orig > 2)
		(void)close(s->src_orig);
	if (s->sink_orig >= 0 && s->sink_orig <= 2)
		(void)fd_set_nonblock(s->sink_orig, false);
	if (s->src_orig >= 0 && s->src_orig <= 2)
		(void)fd_set_nonblock(s->src_orig, false);
	s->sink_orig = s->src_orig = -1;
	reap_local(s, true);
	if (s->is_service)
		ret = s->pid > 0 ? s->local_status : 0;
	else if (s->remote_status != 0)
		ret = s->remote_status;
	else
		ret = s->pid > 0 ? s->local_status : 0;
	return ret;
}

int
stream_handshake(int chan, int timeout_ms)
{
	uint32_t v;
	int r;

	r = msg_send_hello(chan, QREXEC_PROTOCOL_VERSION);
	if (r < 0)
		return r;
	r = io_wait_readable(chan, timeout_ms);
	if (r <= 0)
		return r == 0 ? -ETIMEDOUT : r;
	r = msg_recv_hello(chan, &v);
	if (r < 0)
		return r;
	if (v > QREXEC_PROTOCOL_VERSION)
		v = QREXEC_PROTOCOL_VERSION;
	if (v < QREXEC_PROTOCOL_MIN_VERSION)
		return -EPROTONOSUPPORT;
	return (int)v;
}

int
stream_send_failure(int chan, int exit_code, bool stderr_first)
{
	int32_t code = exit_code;
	int r;

	r = msg_send(chan, stderr_first ? MSG_DATA_STDERR : MSG_DATA_STDOUT,
	    NULL, 0, NULL, 0);
	if (r == 0)
		r = msg_send(chan,
		    stderr_first ? MSG_DATA_STDOUT : MSG_DATA_STDERR, NULL, 0,
		    NULL, 0);
	if (r == 0)
		r = msg_send(
		    chan, MSG_DATA_EXIT_CODE, &code, sizeof(code), NULL, 0);
	return r;
}
