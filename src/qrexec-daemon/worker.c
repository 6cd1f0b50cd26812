/*
 * worker.c - PROC_QREXEC_WORKER: the part of qrexec-daemon that reads
 * what the qube and the clients say.
 *
 * Forked by the monitor (main.c) and confined before it reads anything:
 * the daemon's --uid or --user (nobody without them), never root again,
 * no_new_privs, not dumpable, no fds but its own, a seccomp allowlist.
 * Untrusted input: everything on the qube's control channel (the agent's
 * HELLO and messages, validated by proto_*; a violation closes the
 * channel) and the clients' messages on qrexec.<id> (validated; a bad
 * client loses its connection).  What it cannot do itself it asks the
 * monitor over the control pair (daemon.h, struct qd_ctl): a service
 * request goes there as the agent's bytes, to be validated again and run
 * by a PROC_QREXEC_CALL the monitor forks.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/buffer.h"
#include "lib/log.h"
#include "lib/privdrop.h"
#include "lib/msg.h"
#include "lib/seccomp_util.h"
#include "lib/sock.h"
#include "lib/util.h"
#include "qrexec-daemon/daemon.h"

#define MAX_CLIENTS ((int)QREXEC_MAX_CLIENTS)
#define MAX_PENDING QD_MAX_CALLS
#define PORT_UNUSED UINT32_MAX
/* Queued bytes for an agent that does not read before we give up on it. */
#define AGENT_OUT_LIMIT (1024u * 1024u)
/* The longest a wait for the agent's HELLO goes without looking at quit. */
#define QUIT_CHECK_MS 100
/*
 * The qube decides how often the daemon warns about it: once a request
 * it sends (an invalid one, one over MAX_PENDING), once a channel it
 * drops.  Each line costs the host disk space, so each kind has a budget
 * of QUBE_WARN_BURST lines each QUBE_WARN_INTERVAL_MS; the first line
 * after says how many were left out.
 */
#define QUBE_WARN_BURST       20u
#define QUBE_WARN_INTERVAL_MS 10000u
/* What the worker may add to its log, at most (see confine()). */
#define WORKER_LOG_MAX (16u << 20)

enum client_state {
	CLIENT_FREE,
	CLIENT_HELLO,   /* HELLO sent, waiting for theirs */
	CLIENT_CMD,     /* waiting for the request */
	CLIENT_RUNNING, /* answered; waiting for the port to be released */
	CLIENT_STATE_MAX
};

struct client {
	enum client_state state;
	int fd;
	struct msg_reader rd;
};

enum pending_state {
	PENDING_FREE,
	PENDING_WAIT,    /* policy being asked */
	PENDING_ALLOWED, /* a client connected the call */
	PENDING_DENIED,
	PENDING_STATE_MAX
};

/* A budget of warnings the qube causes (see QUBE_WARN_BURST). */
struct warn_budget {
	const char *what; /* for the "left out" line */
	struct log_budget b;
};

/* A request passed to the monitor (slot i: its call's QD_CALL_DONE). */
struct pending {
	enum pending_state state;
	char ident[QREXEC_IDENT_LEN]; /* as the agent sent it */
};

static const struct daemon_config *cfg;
static int ctl_fd = -1;
static int agent_fd = -1;
static uint32_t agent_version;
static struct msg_reader agent_rd;
static struct buffer agent_out;
static int listen_fd = -1;
static struct client clients[MAX_CLIENTS];
static struct pending pending[MAX_PENDING];
static uint32_t port_owner[MAX_CLIENTS]; /* connect_domain, or unused */
static int port_notify[MAX_CLIENTS];     /* client fd to close */
static volatile sig_atomic_t quit;
static struct warn_budget warn_requests = {.what = "about its requests"},
                          warn_channel = {.what = "about its channel"};

/* The calls the worker makes, each group with why; anything else kills. */
static const char *const w_allowed[] = {
    /* the agent's channel, the clients, the control pair (fds arrive
     * with SCM_RIGHTS) */
    "read", "write", "writev", "recvmsg", "sendmsg", "sendto", "recvfrom",
    "accept", "accept4", "close", "poll", "ppoll", "fcntl",
    /* memory (malloc) */
    "brk", "mmap", "munmap", "mremap", "madvise", "mprotect",
    /* time (budgets, deadlines), logging to stderr */
    "clock_gettime", "gettimeofday", "getpid", "fstat", "newfstatat",
    /* signals (SIGTERM from the monitor), stdio locks, the sanitizers'
     * alternate stack; a stopped poll resumes through restart_syscall */
    "rt_sigreturn", "rt_sigprocmask", "futex", "sigaltstack", "restart_syscall",
    /* leaving */
    "exit", "exit_group"};

/* Logging to syslog (without --direct): glibc reconnects its socket. */
static const char *const w_syslog[] = {"socket", "connect"};

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void qube_warnx(struct warn_budget *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* log_warnx, within the qube's budget b of lines. */
static void
qube_warnx(struct warn_budget *b, const char *fmt, ...)
{
	unsigned long left_out;
	char line[256];
	va_list ap;
	bool take = log_budget_take(
	    &b->b, now_ms(), QUBE_WARN_BURST, QUBE_WARN_INTERVAL_MS, &left_out);

	if (left_out > 0)
		log_warnx("%lu more warnings %s left out", left_out, b->what);
	if (!take)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_warnx("%s", line);
}

static void
client_close(struct client *c)
{
	uint32_t i;

	for (i = 0; i < MAX_CLIENTS; i++)
		if (port_notify[i] == c->fd)
			port_notify[i] = -1;
	close_fd(&c->fd);
	msg_reader_free(&c->rd);
	c->state = CLIENT_FREE;
}

/* ---- the agent's channel ---- */

static int
agent_queue(uint32_t type, const void *p1, size_t l1, const void *p2, size_t l2)
{
	int r = msg_queue(&agent_out, type, p1, l1, p2, l2);

	if (r < 0)
		qube_warnx(&warn_channel,
		    "the qube is not reading its control channel");
	return r;
}

static void agent_lost(const char *why);
static int ctl_send(uint32_t type, uint32_t slot, int32_t arg, uint32_t version,
    const void *body, size_t len);

/*
 * A qube whose refusals no longer fit has stopped reading: give up on its
 * channel, as for any other message (see AGENT_OUT_LIMIT), rather than
 * go on taking its requests and dropping their answers.
 */
static void
send_refused(const char ident[QREXEC_IDENT_LEN])
{
	if (agent_queue(MSG_SERVICE_REFUSED, ident, QREXEC_IDENT_LEN, NULL, 0) <
	    0)
		agent_lost("output queue full");
}

static uint32_t
allocate_port(uint32_t connect_domain)
{
	uint32_t i, step;

	/* the two daemons of a qube pair use different parities */
	if (connect_domain == 0) {
		i = 0;
		step = 1;
	} else {
		i = connect_domain > cfg->domid ? 1 : 0;
		step = 2;
	}
	for (; i < MAX_CLIENTS; i += step) {
		if (port_owner[i] == PORT_UNUSED) {
			port_owner[i] = connect_domain;
			return QREXEC_DATA_PORT_BASE + i;
		}
	}
	return 0;
}

static void
release_port(uint32_t port, uint32_t domain)
{
	uint32_t i = port - QREXEC_DATA_PORT_BASE;

	if (port_owner[i] != domain)
		return;
	port_owner[i] = PORT_UNUSED;
	if (port_notify[i] >= 0) {
		int k;

		for (k = 0; k < MAX_CLIENTS; k++)
			if (clients[k].fd == port_notify[i]) {
				client_close(&clients[k]);
				break;
			}
		port_notify[i] = -1;
	}
}

static void
start_call(const struct qrexec_trigger *req, uint32_t type, const void *body,
    size_t len)
{
	int i;

	for (i = 0; i < MAX_PENDING; i++)
		if (pending[i].state == PENDING_FREE)
			break;
	if (i == MAX_PENDING) {
		qube_warnx(
		    &warn_requests, "too many requests pending, refusing one");
		send_refused(req->ident);
		return;
	}
	/* the monitor validates the bytes again and forks the call */
	if (ctl_send(QD_CALL, (uint32_t)i, (int32_t)type, agent_version, body,
	        len) < 0) {
		qube_warnx(&warn_requests, "passing a request on: %s",
		    strerror(errno));
		send_refused(req->ident);
		return;
	}
	pending[i].state = PENDING_WAIT;
	memcpy(pending[i].ident, req->ident, QREXEC_IDENT_LEN);
}

static void
handle_agent_msg(const struct qrexec_hdr *hdr, const uint8_t *body)
{
	struct qrexec_trigger req;
	char raw_ident[QREXEC_IDENT_LEN];
	uint32_t dom, port;
	int r;

	switch (hdr->hdr_type) {
	case MSG_TRIGGER_SERVICE:
	case MSG_TRIGGER_SERVICE3:
	case MSG_TRIGGER_SERVICE4:
		r = proto_trigger_parse(hdr->hdr_type, agent_version, body,
		    hdr->hdr_len, &req, raw_ident);
		if (r == -EINVAL) {
			qube_warnx(&warn_requests,
			    "invalid service request from the qube, refused");
			send_refused(raw_ident);
			return;
		}
		if (r < 0) {
			agent_lost(r == -EPROTO ?
			        "service request of the wrong version" :
			        "malformed service request");
			return;
		}
		start_call(&req, hdr->hdr_type, body, hdr->hdr_len);
		return;
	case MSG_CONNECTION_TERMINATED:
		if (proto_conn_terminated_parse(
		        body, hdr->hdr_len, &dom, &port) < 0 ||
		    port < QREXEC_DATA_PORT_BASE ||
		    port >= QREXEC_DATA_PORT_BASE + MAX_CLIENTS) {
			agent_lost("malformed MSG_CONNECTION_TERMINATED");
			return;
		}
		release_port(port, dom);
		return;
	default:
		agent_lost("unexpected message type");
		return;
	}
}

static void
handle_agent_input(void)
{
	struct qrexec_hdr hdr;
	const uint8_t *body;
	long n;
	int r;

	n = msg_reader_fill(&agent_rd, agent_fd);
	if (n == -EAGAIN)
		return;
	if (n < 0 && n != -ENOBUFS) {
		agent_lost("read error");
		return;
	}
	while (agent_fd >= 0 &&
	    (r = msg_reader_next(&agent_rd, &hdr, &body)) != 0) {
		if (r < 0) {
			agent_lost(r == -EMSGSIZE ? "oversized message" :
			                            "truncated message");
			return;
		}
		handle_agent_msg(&hdr, body);
	}
	if (agent_fd >= 0 && agent_rd.eof)
		agent_lost("the agent closed the connection");
}

/*
 * The agent's HELLO, read from fd (nonblocking) into agent_rd, where what
 * follows it stays for the main loop (an agent sends nothing more before
 * our HELLO; one that does waits for its next bytes).  Waits until
 * deadline, looking at quit every QUIT_CHECK_MS: a qube that takes the
 * connection and then says nothing, or half a HELLO, must hold neither
 * the daemon nor its SIGTERM.  0, -EINTR (quit), -ETIMEDOUT, or -EPROTO.
 */
static int
agent_recv_hello(int fd, uint64_t deadline, uint32_t *ret_version)
{
	struct qrexec_hdr hdr;
	const uint8_t *body;
	int r;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ms();
		long n;

		r = msg_reader_next(&agent_rd, &hdr, &body);
		if (r > 0)
			break;
		if (r < 0 || agent_rd.eof)
			return -EPROTO;
		if (quit)
			return -EINTR;
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1,
		        deadline - now < QUIT_CHECK_MS ? (int)(deadline - now) :
		                                         QUIT_CHECK_MS) < 0 &&
		    errno != EINTR)
			return -errno;
		n = msg_reader_fill(&agent_rd, fd);
		if (n < 0 && n != -EAGAIN)
			return -EPROTO;
	}
	if (hdr.hdr_type != MSG_HELLO ||
	    proto_hello_parse(body, hdr.hdr_len, ret_version) < 0)
		return -EPROTO;
	return 0;
}

/*
 * The agent's connection, from the monitor: HELLO both ways, within
 * timeout_ms.  0 (agent_fd set), -EINTR,
 * -ETIMEDOUT, -EPROTO, -EPROTONOSUPPORT or -EPIPE (fd closed).
 */
static int
agent_hello(int fd, uint32_t timeout_ms)
{
	struct qrexec_peer_info pi;
	uint32_t v;
	int r;

	/* the agent speaks first; we answer with its own version, as Qubes
	 * does, so that the version the agent sees is the one it sent */
	(void)fd_set_nonblock(fd, true);
	msg_reader_init(&agent_rd, QREXEC_MAX_CTRL_MSG_LEN);
	r = agent_recv_hello(fd, now_ms() + timeout_ms, &v);
	if (r < 0) {
		if (r == -ETIMEDOUT)
			qube_warnx(&warn_channel,
			    "the agent took the connection but sent no HELLO");
		goto out_close;
	}
	agent_version =
	    v < QREXEC_PROTOCOL_VERSION ? v : QREXEC_PROTOCOL_VERSION;
	if (agent_version < QREXEC_PROTOCOL_MIN_VERSION) {
		qube_warnx(&warn_channel,
		    "the agent speaks protocol %u; at least %u is needed", v,
		    QREXEC_PROTOCOL_MIN_VERSION);
		r = -EPROTONOSUPPORT;
		goto out_close;
	}
	pi.pi_version = v;
	/* 12 bytes on a fresh connection: they fit, nonblocking or not */
	if (msg_send(fd, MSG_HELLO, &pi, sizeof(pi), NULL, 0) < 0) {
		r = -EPIPE;
		goto out_close;
	}
	agent_fd = fd;
	buffer_init(&agent_out, AGENT_OUT_LIMIT);
	log_debug("agent connected, protocol %u", agent_version);
	return 0;
out_close:
	msg_reader_free(&agent_rd);
	(void)close(fd);
	return r;
}

/*
 * The agent went away or misbehaved: close its channel, stop serving
 * clients (the monitor removes the socket), forget pending requests, and
 * wait for the monitor's next connection.
 */
static void
agent_lost(const char *why)
{
	int i;

	qube_warnx(&warn_channel, "control channel: %s", why);
	close_fd(&agent_fd);
	msg_reader_free(&agent_rd);
	buffer_free(&agent_out);
	close_fd(&listen_fd);
	for (i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].state != CLIENT_FREE)
			client_close(&clients[i]);
	/* ports stay taken: their calls may outlive this channel */
	for (i = 0; i < MAX_PENDING; i++)
		if (pending[i].state == PENDING_WAIT)
			pending[i].state = PENDING_DENIED;
	if (ctl_send(QD_AGENT_LOST, 0, 0, 0, NULL, 0) < 0)
		quit = 1; /* the monitor is gone */
}

/* ---- clients ---- */

static void
client_reply(struct client *c, uint32_t type, uint32_t port)
{
	struct qrexec_exec_params ep = {
	    .ep_connect_domain = cfg->domid, .ep_connect_port = port};
	struct qrexec_hdr hdr = {.hdr_type = type, .hdr_len = sizeof(ep)};
	uint8_t buf[sizeof(hdr) + sizeof(ep)];

	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), &ep, sizeof(ep));
	/* 16 bytes on a fresh socket never block; a full one is a bad peer */
	if (send(c->fd, buf, sizeof(buf), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(buf))
		client_close(c);
}

static void
handle_client_cmd(
    struct client *c, const struct qrexec_hdr *hdr, const uint8_t *body)
{
	uint32_t port;

	if (hdr->hdr_type == MSG_EXEC_CMDLINE ||
	    hdr->hdr_type == MSG_JUST_EXEC) {
		struct qrexec_exec req;
		const char *cmd;
		char *rewritten = NULL;
		struct qrexec_exec_params ep;
		int r;

		if (proto_exec_parse(body, hdr->hdr_len, &req) < 0 ||
		    req.port != 0) {
			log_warnx("invalid exec request from a client");
			client_close(c);
			return;
		}
		port = allocate_port(req.domain);
		if (port == 0) {
			log_warnx("no free data port");
			client_close(c);
			return;
		}
		port_notify[port - QREXEC_DATA_PORT_BASE] = c->fd;
		cmd = req.cmdline;
		/* "DEFAULT:" stands for the qube's default user */
		if (str_startswith(cmd, "DEFAULT:")) {
			if (asprintf(&rewritten, "%s:%s", cfg->default_user,
			        cmd + strlen("DEFAULT:")) < 0) {
				release_port(port, req.domain);
				client_close(c);
				return;
			}
			cmd = rewritten;
		}
		client_reply(c, hdr->hdr_type, port);
		if (c->state != CLIENT_FREE)
			c->state = CLIENT_RUNNING;
		ep.ep_connect_domain = req.domain;
		ep.ep_connect_port = port;
		r = agent_queue(
		    hdr->hdr_type, &ep, sizeof(ep), cmd, strlen(cmd) + 1);
		free(rewritten);
		if (r < 0)
			agent_lost("output queue full");
		return;
	}
	if (hdr->hdr_type == MSG_SERVICE_CONNECT) {
		struct qrexec_service_connect sc;
		struct qrexec_exec_params ep;
		int i;

		if (proto_service_connect_parse(body, hdr->hdr_len, &sc) < 0) {
			log_warnx("invalid MSG_SERVICE_CONNECT from a client");
			client_close(c);
			return;
		}
		for (i = 0; i < MAX_PENDING; i++)
			if (pending[i].state == PENDING_WAIT &&
			    strncmp(pending[i].ident, sc.ident,
			        QREXEC_IDENT_LEN) == 0)
				break;
		if (i == MAX_PENDING) {
			log_warnx("MSG_SERVICE_CONNECT for a request that is "
			          "not pending");
			client_close(c);
			return;
		}
		/* from now on the child's exit status does not refuse */
		pending[i].state = PENDING_ALLOWED;
		if (sc.port == 0) {
			port = allocate_port(sc.domain);
			if (port == 0) {
				client_close(c);
				return;
			}
			port_notify[port - QREXEC_DATA_PORT_BASE] = c->fd;
			client_reply(c, MSG_SERVICE_CONNECT, port);
		} else if (sc.port < QREXEC_DATA_PORT_BASE ||
		    sc.port >= QREXEC_DATA_PORT_BASE + MAX_CLIENTS) {
			client_close(c);
			return;
		} else {
			port = sc.port;
		}
		if (c->state != CLIENT_FREE)
			c->state = CLIENT_RUNNING;
		ep.ep_connect_domain = sc.domain;
		ep.ep_connect_port = port;
		/* forwarded as received: the ident tail keeps its length */
		if (agent_queue(MSG_SERVICE_CONNECT, &ep, sizeof(ep),
		        (const uint8_t *)body + sizeof(ep),
		        hdr->hdr_len - sizeof(ep)) < 0)
			agent_lost("output queue full");
		return;
	}
	log_warnx("unexpected message type 0x%x from a client", hdr->hdr_type);
	client_close(c);
}

static void
handle_client_input(struct client *c)
{
	struct qrexec_hdr hdr;
	const uint8_t *body;
	long n;
	int r;

	n = msg_reader_fill(&c->rd, c->fd);
	if (n == -EAGAIN)
		return;
	if (c->state == CLIENT_RUNNING || n < 0) {
		/* a running client only ever closes */
		client_close(c);
		return;
	}
	while (c->state != CLIENT_FREE &&
	    (r = msg_reader_next(&c->rd, &hdr, &body)) != 0) {
		if (r < 0) {
			client_close(c);
			return;
		}
		if (c->state == CLIENT_HELLO) {
			uint32_t v;

			if (hdr.hdr_type != MSG_HELLO ||
			    proto_hello_parse(body, hdr.hdr_len, &v) < 0 ||
			    v < QREXEC_CLIENT_PROTOCOL_VERSION) {
				client_close(c);
				return;
			}
			c->state = CLIENT_CMD;
		} else if (c->state == CLIENT_CMD) {
			handle_client_cmd(c, &hdr, body);
		} else {
			client_close(c);
			return;
		}
	}
	if (c->state != CLIENT_FREE && c->rd.eof)
		client_close(c);
}

static void
accept_client(void)
{
	struct qrexec_peer_info pi = {
	    .pi_version = QREXEC_CLIENT_PROTOCOL_VERSION};
	struct qrexec_hdr hdr = {.hdr_type = MSG_HELLO, .hdr_len = sizeof(pi)};
	uint8_t buf[sizeof(hdr) + sizeof(pi)];
	int fd, i;

	fd = sock_accept(listen_fd, true);
	if (fd < 0)
		return;
	for (i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].state == CLIENT_FREE)
			break;
	if (i == MAX_CLIENTS) {
		log_warnx("too many clients, dropping one");
		(void)close(fd);
		return;
	}
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), &pi, sizeof(pi));
	if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(buf)) {
		(void)close(fd);
		return;
	}
	clients[i].state = CLIENT_HELLO;
	clients[i].fd = fd;
	msg_reader_init(&clients[i].rd, QREXEC_MAX_CLIENT_MSG_LEN);
}

/* ---- the control pair ---- */

/* One packet to the monitor; 0 or -1 (errno set). */
static int
ctl_send(uint32_t type, uint32_t slot, int32_t arg, uint32_t version,
    const void *body, size_t len)
{
	struct qd_ctl c = {.qc_type = type,
	    .qc_slot = slot,
	    .qc_arg = arg,
	    .qc_version = version,
	    .qc_len = (uint32_t)len};
	struct iovec iov[2] = {{&c, sizeof(c)}, {(void *)body, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	ssize_t n;

	if (len > QD_CTL_MAX_BODY) {
		errno = EMSGSIZE;
		return -1;
	}
	do
		n = sendmsg(ctl_fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	return 0;
}

/* The call in slot i ended with status. */
static void
call_done(uint32_t i, int32_t status)
{
	if (pending[i].state == PENDING_WAIT && status != 0 && agent_fd >= 0)
		send_refused(pending[i].ident);
	pending[i].state = PENDING_FREE;
}

/*
 * One message from the monitor.  The monitor is trusted, but what it
 * sends is still checked: a wrong one ends the worker (the monitor then
 * ends the daemon).  0, or -1 to end.
 */
static int
ctl_input(void)
{
	struct qd_ctl c;
	int fds[1] = {-1};
	size_t nfds = 0;
	ssize_t n;

	n = sock_recv_fds(
	    ctl_fd, &c, sizeof(c), MSG_DONTWAIT, fds, ARRAY_SIZE(fds), &nfds);
	if (n == -EAGAIN || n == -EINTR)
		return 0;
	if (n <= 0)
		return -1; /* the monitor is gone */
	if ((size_t)n != sizeof(c) || c.qc_len != 0 ||
	    (nfds == 1) != (c.qc_type == QD_AGENT || c.qc_type == QD_LISTEN))
		goto bad;
	switch (c.qc_type) {
	case QD_AGENT: {
		int r;

		/* one channel at a time, and a time for its HELLO */
		if (agent_fd >= 0 || c.qc_arg <= 0)
			goto bad;
		r = agent_hello(fds[0], (uint32_t)c.qc_arg);
		if (r == 0)
			return ctl_send(QD_HELLO_OK, 0, 0, agent_version, NULL,
			           0) < 0 ?
			    -1 :
			    0;
		return ctl_send(QD_HELLO_FAIL, 0, r, 0, NULL, 0) < 0 ? -1 : 0;
	}
	case QD_LISTEN:
		if (agent_fd < 0) {
			/* lost again meanwhile: the monitor hears of it */
			(void)close(fds[0]);
			return 0;
		}
		close_fd(&listen_fd);
		listen_fd = fds[0];
		return 0;
	case QD_CALL_DONE:
		if (c.qc_slot >= (uint32_t)MAX_PENDING)
			goto bad;
		call_done(c.qc_slot, c.qc_arg);
		return 0;
	default:
		goto bad;
	}
bad:
	log_warnx(
	    "a bad message from the monitor (type %u); exiting", c.qc_type);
	if (nfds == 1)
		(void)close(fds[0]);
	return -1;
}

/* ---- the worker ---- */

static int
confine(uid_t uid, gid_t gid, bool syslog)
{
	const char *names[ARRAY_SIZE(w_allowed) + ARRAY_SIZE(w_syslog)];
	size_t n = ARRAY_SIZE(w_allowed);
	int r;

	r = priv_drop(uid, gid, WORKER_LOG_MAX, 0);
	if (r < 0)
		return r;
	memcpy(names, w_allowed, sizeof(w_allowed));
	if (syslog) {
		memcpy(names + n, w_syslog, sizeof(w_syslog));
		n += ARRAY_SIZE(w_syslog);
	}
	return seccomp_util_allow_only(names, n);
}

int
worker_main(const struct daemon_config *config, int ctl, uid_t uid, gid_t gid,
    bool syslog)
{
	struct pollfd pfd[3 + MAX_CLIENTS];
	struct sigaction sa;
	sigset_t none;
	int i, r;

	cfg = config;
	ctl_fd = ctl;
	for (i = 0; i < MAX_CLIENTS; i++) {
		clients[i].fd = -1;
		port_owner[i] = PORT_UNUSED;
		port_notify[i] = -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll sees it */
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if ((r = confine(uid, gid, syslog)) < 0) {
		errno = -r;
		log_warn("confining the worker");
		return 1;
	}
	while (!quit) {
		int n = 0;

		pfd[n++] = (struct pollfd){.fd = ctl_fd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = agent_fd,
		    .events = (short)(POLLIN |
		        (buffer_len(&agent_out) ? POLLOUT : 0))};
		pfd[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
		for (i = 0; i < MAX_CLIENTS; i++)
			pfd[n++] = (struct pollfd){
			    .fd = clients[i].fd, .events = POLLIN};
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			return 1;
		}
		if (pfd[0].revents && ctl_input() < 0)
			break;
		if (agent_fd >= 0 && pfd[1].revents & POLLOUT &&
		    buffer_flush(&agent_out, agent_fd) < 0)
			agent_lost("write error");
		if (agent_fd >= 0 &&
		    pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			handle_agent_input();
		if (agent_fd >= 0 && listen_fd >= 0 && pfd[2].revents)
			accept_client();
		for (i = 0; i < MAX_CLIENTS && agent_fd >= 0; i++)
			if (pfd[3 + i].fd >= 0 && pfd[3 + i].revents &&
			    clients[i].fd == pfd[3 + i].fd)
				handle_client_input(&clients[i]);
		if (agent_fd >= 0 && buffer_len(&agent_out) &&
		    buffer_flush(&agent_out, agent_fd) < 0)
			agent_lost("write error");
	}
	return 0;
}
