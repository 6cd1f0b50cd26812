/*
 * main.c - qrexec-daemon (PROC_QREXEC_DAEMON), one per running qube.
 *
 * Runs on the admin side; started as root (or the test user) and, with
 * --user, switches to that unprivileged user once its sockets exist.
 * Untrusted input: everything on the control channel from the qube's
 * agent (validated by proto_*; a violation closes the channel and the
 * daemon waits for the agent again).  Clients of qrexec.<id> are local
 * admin tools; their messages are validated too, and a bad client loses
 * only its own connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lib/dclient.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/msg.h"
#include "lib/qubesd.h"
#include "lib/sock.h"
#include "lib/util.h"
#include "qrexec-daemon/daemon.h"

#define MAX_CLIENTS ((int)QREXEC_MAX_CLIENTS)
#define MAX_PENDING ((int)QREXEC_MAX_CLIENTS)
#define PORT_UNUSED UINT32_MAX
/* Queued bytes for an agent that does not read before we give up on it. */
#define AGENT_OUT_LIMIT   (1024u * 1024u)
#define STARTUP_TIMEOUT_S 60
/* How long an agent that has taken our connection may take to say HELLO. */
#define AGENT_HELLO_TIMEOUT_MS (STARTUP_TIMEOUT_S * 1000u)
/* The longest a wait for the agent goes without looking at quit. */
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

struct pending {
	enum pending_state state;
	pid_t pid;
	char ident[QREXEC_IDENT_LEN]; /* as the agent sent it */
};

static struct daemon_config cfg;
static const char *arg_user;
static bool arg_direct;
static int agent_fd = -1;
static uint32_t agent_version;
static struct msg_reader agent_rd;
static struct buffer agent_out;
static int listen_fd = -1;
static struct sock_ident listen_id;
static char sock_path[PATH_MAX], link_name[PATH_MAX], link_uuid[PATH_MAX];
static struct client clients[MAX_CLIENTS];
static struct pending pending[MAX_PENDING];
static uint32_t port_owner[MAX_CLIENTS]; /* connect_domain, or unused */
static int port_notify[MAX_CLIENTS];     /* client fd to close */
static volatile sig_atomic_t quit;
static int ready_fd = -1; /* tells the parent we are up (not --direct) */
static struct warn_budget warn_requests = {.what = "about its requests"},
                          warn_channel = {.what = "about its channel"};

static void
usage(FILE *f, int code)
{
	(void)fprintf(f,
	    "usage: qrexec-daemon [options] -u UUID DOMID NAME "
	    "[DEFAULT_USER]\n"
	    "\n"
	    "The admin side's end of qrexec for the qube NAME (domain DOMID):\n"
	    "connects to its agent, serves qrexec-client on\n"
	    "DIR/qrexec.DOMID (and .NAME, .uuid:UUID), and decides the\n"
	    "qube's service calls with the policy daemon.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help                show this help\n"
	    "  -u, --uuid=UUID           the qube's uuid (required)\n"
	    "  --socket-dir=DIR          client sockets (default %s)\n"
	    "  --policy-socket=PATH      policy daemon (default %s)\n"
	    "  -p, --policy-program=PATH used when the policy socket is absent\n"
	    "                            or answers badly (default %s)\n"
	    "  --admin-socket=PATH       bulkheadd's Admin API, to start targets\n"
	    "                            (autostart) and disposables (default\n"
	    "                            $BULKHEAD_ADMIN_SOCKET or %s)\n"
	    "  -D, --direct              stay in the foreground, log to "
	    "stderr\n"
	    "  --user=USER               run as USER once the sockets exist\n"
	    "  --ready-fd=FD             with --direct: write one byte to FD\n"
	    "                            once the agent is connected (0) or\n"
	    "                            could not be (1), then close it\n"
	    "  -q, --quiet               log warnings and errors only\n"
	    "\n"
	    "Environment: BULKHEAD_RUN_DIR (moves the defaults above from\n"
	    "/run/bulkhead), VCHAN_DOMAIN, VCHAN_SOCKET_DIR, BULKHEAD_VCHAN_LAYOUT,\n"
	    "QREXEC_STARTUP_TIMEOUT (seconds to wait for the agent, default "
	    "60).\n"
	    "\n"
	    "Exit status: 0 after SIGTERM, 1 if the agent never came or setup\n"
	    "failed, 2 on bad usage.\n",
	    DCLIENT_DEFAULT_SOCKET_DIR, DAEMON_DEFAULT_POLICY_SOCKET,
	    DAEMON_DEFAULT_POLICY_PROGRAM, DAEMON_DEFAULT_ADMIN_SOCKET);
	exit(code);
}

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

/* ---- the client socket ---- */

static void
remove_sockets(void)
{
	struct stat st;

	if (listen_fd < 0)
		return;
	/*
	 * A daemon started for the qube since owns the socket and the
	 * links now (they are created after the socket): leave them.
	 */
	if (lstat(sock_path, &st) == 0 && st.st_ino == listen_id.ino &&
	    st.st_dev == listen_id.dev) {
		(void)unlink(link_name);
		if (link_uuid[0])
			(void)unlink(link_uuid);
		sock_unlink_if_ours(sock_path, &listen_id);
	}
	close_fd(&listen_fd);
}

/* Point link at target, atomically replacing what was there. */
static int
symlink_replace(const char *target, const char *link)
{
	char tmp[PATH_MAX];

	if (str_printf(tmp, sizeof(tmp), "%s.%d.new", link, (int)getpid()) <
	    0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)unlink(tmp);
	if (symlink(target, tmp) < 0)
		return -1;
	if (rename(tmp, link) < 0) {
		int e = errno;

		(void)unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

static int
create_sockets(void)
{
	char target[32];
	int r;

	r = str_printf(sock_path, sizeof(sock_path), "%s/qrexec.%u",
	    cfg.socket_dir, cfg.domid);
	if (r == 0)
		r = str_printf(link_name, sizeof(link_name), "%s/qrexec.%s",
		    cfg.socket_dir, cfg.name);
	if (r == 0 && cfg.uuid)
		r = str_printf(link_uuid, sizeof(link_uuid),
		    "%s/qrexec.uuid:%s", cfg.socket_dir, cfg.uuid);
	if (r < 0)
		return r;
	/* access is governed by the directory: the admin side's only */
	r = sock_listen(sock_path, 0666, true, &listen_id);
	if (r < 0)
		return r;
	listen_fd = r;
	/* the links last: see remove_sockets() */
	(void)snprintf(target, sizeof(target), "qrexec.%u", cfg.domid);
	if (symlink_replace(target, link_name) < 0 ||
	    (link_uuid[0] && symlink_replace(target, link_uuid) < 0))
		return -errno;
	return 0;
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
		i = connect_domain > cfg.domid ? 1 : 0;
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
start_call(const struct qrexec_trigger *req)
{
	int i;
	pid_t pid;

	for (i = 0; i < MAX_PENDING; i++)
		if (pending[i].state == PENDING_FREE)
			break;
	if (i == MAX_PENDING) {
		qube_warnx(
		    &warn_requests, "too many requests pending, refusing one");
		send_refused(req->ident);
		return;
	}
	pid = fork();
	if (pid < 0) {
		qube_warnx(&warn_requests, "fork: %s", strerror(errno));
		send_refused(req->ident);
		return;
	}
	if (pid == 0) {
		/* PROC_QREXEC_CALL: nothing of the daemon's but stdio */
		sigset_t none;

		if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
			_exit(QREXEC_EXIT_PROBLEM);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGTERM, SIG_DFL);
		(void)signal(SIGINT, SIG_DFL);
		_exit(daemon_call_run(
		    &cfg, req, req->type == MSG_TRIGGER_SERVICE4));
	}
	pending[i].state = PENDING_WAIT;
	pending[i].pid = pid;
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
		start_call(&req);
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
 * Connect to the agent (its control channel server) and exchange HELLO.
 * Blocks until it works, SIGTERM, or (if timeout_s > 0) the timeout; when
 * reconnecting (the agent was lost), also until the qube's channel
 * directory is gone (-ENOENT).
 */
static int
agent_connect(int timeout_s, bool reconnecting)
{
	struct vchan_addr a = {.server_dom = cfg.domid,
	    .client_dom = cfg.env.my_dom,
	    .port = QREXEC_CTRL_PORT};
	uint64_t since = now_ms(),
	         deadline = since + (uint64_t)timeout_s * 1000;
	struct qrexec_peer_info pi;
	uint32_t v;
	int fd, r;

	for (;;) {
		char dir[PATH_MAX];
		struct stat st;

		if (quit)
			return -EINTR;
		if (reconnecting &&
		    vchan_dir_path(&cfg.env, vchan_dir_dom(&cfg.env, &a), dir,
		        sizeof(dir)) == 0 &&
		    stat(dir, &st) < 0 && errno == ENOENT)
			return -ENOENT;
		/* short tries, so that SIGTERM (quit) is seen at once */
		fd = vchan_connect_since(
		    &cfg.env, vchan_dir_dom(&cfg.env, &a), &a, 20, since);
		if (fd >= 0)
			break;
		if (fd != -ETIMEDOUT)
			return fd;
		if (timeout_s > 0 && now_ms() >= deadline)
			return -ETIMEDOUT;
	}
	/* the agent speaks first; we answer with its own version, as Qubes
	 * does, so that the version the agent sees is the one it sent */
	(void)fd_set_nonblock(fd, true);
	msg_reader_init(&agent_rd, QREXEC_MAX_CTRL_MSG_LEN);
	r = agent_recv_hello(fd,
	    now_ms() +
	        (timeout_s > 0 ? (uint64_t)timeout_s * 1000 :
	                         AGENT_HELLO_TIMEOUT_MS),
	    &v);
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
 * clients, forget pending requests, and wait for the agent again.
 */
static void
agent_lost(const char *why)
{
	int i;

	qube_warnx(&warn_channel, "control channel: %s", why);
	close_fd(&agent_fd);
	msg_reader_free(&agent_rd);
	buffer_free(&agent_out);
	remove_sockets();
	for (i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].state != CLIENT_FREE)
			client_close(&clients[i]);
	/* ports stay taken: their calls may outlive this channel */
	for (i = 0; i < MAX_PENDING; i++)
		if (pending[i].state == PENDING_WAIT)
			pending[i].state = PENDING_DENIED;
}

/* ---- clients ---- */

static void
client_reply(struct client *c, uint32_t type, uint32_t port)
{
	struct qrexec_exec_params ep = {
	    .ep_connect_domain = cfg.domid, .ep_connect_port = port};
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
			if (asprintf(&rewritten, "%s:%s", cfg.default_user,
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

static void
reap_children(void)
{
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < MAX_PENDING; i++) {
			if (pending[i].state == PENDING_FREE ||
			    pending[i].pid != pid)
				continue;
			if (pending[i].state == PENDING_WAIT &&
			    !(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
			    agent_fd >= 0)
				send_refused(pending[i].ident);
			pending[i].state = PENDING_FREE;
			break;
		}
	}
}

static void
drop_privileges(void)
{
	struct passwd *pw;

	if (arg_user == NULL)
		return;
	pw = getpwnam(arg_user);
	if (pw == NULL)
		fatalx("unknown user %s", arg_user);
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		fatal("cannot switch to user %s", arg_user);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("PR_SET_NO_NEW_PRIVS");
}

static void
signal_ready(int code)
{
	if (ready_fd >= 0) {
		char c = (char)code;

		(void)!write(ready_fd, &c, 1);
		close_fd(&ready_fd);
	}
}

/* Without --direct: the parent returns once the agent is connected. */
static void
daemonize(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		fatal("pipe");
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0) {
		(void)close(p[1]);
		if (read(p[0], &c, 1) != 1)
			exit(1);
		exit(c);
	}
	(void)close(p[0]);
	ready_fd = p[1];
	(void)setsid();
	log_init("qrexec-daemon", 0);
	log_set_qube(cfg.name);
}

int
main(int argc, char **argv)
{
	enum {
		OPT_SOCKET_DIR = 0x100,
		OPT_POLICY_SOCKET,
		OPT_USER,
		OPT_READY_FD,
		OPT_ADMIN_SOCKET,
	};
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"socket-dir", required_argument, NULL, OPT_SOCKET_DIR},
	    {"policy-program", required_argument, NULL, 'p'},
	    {"policy-socket", required_argument, NULL, OPT_POLICY_SOCKET},
	    {"direct", no_argument, NULL, 'D'},
	    {"uuid", required_argument, NULL, 'u'},
	    {"user", required_argument, NULL, OPT_USER},
	    {"ready-fd", required_argument, NULL, OPT_READY_FD},
	    {"admin-socket", required_argument, NULL, OPT_ADMIN_SOCKET},
	    {NULL, 0, NULL, 0},
	};
	struct pollfd pfd[3 + MAX_CLIENTS];
	struct sigaction sa;
	sigset_t mask;
	const char *to;
	int opt, sigfd, r, i, timeout_s = STARTUP_TIMEOUT_S;
	bool quiet = false;
	static char d_sockdir[PATH_MAX], d_policy[PATH_MAX], d_admin[PATH_MAX];

	log_init("qrexec-daemon", 1);
	/* defaults under $BULKHEAD_RUN_DIR when that is set */
	if (bulkhead_run_path(d_sockdir, sizeof(d_sockdir), "qrexec") < 0 ||
	    bulkhead_run_path(d_policy, sizeof(d_policy), "policy.sock") < 0 ||
	    bulkhead_run_path(d_admin, sizeof(d_admin), "qubesd.sock") < 0) {
		(void)fprintf(
		    stderr, "qrexec-daemon: " BULKHEAD_RUN_DIR_ERROR "\n");
		return 2;
	}
	cfg.socket_dir = d_sockdir;
	cfg.policy_socket = d_policy;
	cfg.policy_program = DAEMON_DEFAULT_POLICY_PROGRAM;
	cfg.default_user = "user";
	cfg.admin_socket = getenv(QUBESD_SOCKET_ENV);
	if (cfg.admin_socket == NULL || cfg.admin_socket[0] == '\0')
		cfg.admin_socket = d_admin;
	while (
	    (opt = getopt_long(argc, argv, "hqp:Du:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout, 0);
			break;
		case 'q':
			quiet = true;
			break;
		case OPT_SOCKET_DIR:
			cfg.socket_dir = optarg;
			break;
		case 'p':
			cfg.policy_program = optarg;
			break;
		case OPT_POLICY_SOCKET:
			cfg.policy_socket = optarg;
			break;
		case 'D':
			arg_direct = true;
			break;
		case 'u':
			cfg.uuid = optarg;
			break;
		case OPT_USER:
			arg_user = optarg;
			break;
		case OPT_ADMIN_SOCKET:
			cfg.admin_socket = optarg;
			break;
		case OPT_READY_FD: {
			uint32_t fd;

			if (parse_u32(optarg, 1024, &fd) < 0 || fd < 3 ||
			    fcntl((int)fd, F_GETFD) < 0) {
				(void)fprintf(stderr,
				    "qrexec-daemon: "
				    "--ready-fd: not an open fd\n");
				return 2;
			}
			ready_fd = (int)fd;
			(void)fd_set_cloexec(ready_fd, true);
			break;
		}
		default:
			usage(stderr, 2);
		}
	}
	if (argc - optind < 2 || argc - optind > 3 || cfg.uuid == NULL)
		usage(stderr, 2);
	if (ready_fd >= 0 && !arg_direct) {
		(void)fprintf(stderr,
		    "qrexec-daemon: --ready-fd needs --direct "
		    "(without it the daemon signals its own "
		    "parent)\n");
		return 2;
	}
	if (parse_u32(argv[optind], INT32_MAX, &cfg.domid) < 0 ||
	    cfg.domid == 0) {
		(void)fprintf(stderr, "qrexec-daemon: invalid domain id %s\n",
		    argv[optind]);
		return 2;
	}
	cfg.name = argv[optind + 1];
	if (!proto_target_valid(cfg.name, strlen(cfg.name)) ||
	    cfg.name[0] == '\0' ||
	    !proto_target_valid(cfg.uuid, strlen(cfg.uuid))) {
		(void)fprintf(stderr, "qrexec-daemon: invalid name or uuid\n");
		return 2;
	}
	if (argc - optind == 3)
		cfg.default_user = argv[optind + 2];
	if (vchan_env_init(&cfg.env) < 0) {
		(void)fprintf(stderr,
		    "qrexec-daemon: invalid VCHAN_* "
		    "environment\n");
		return 2;
	}
	to = getenv("QREXEC_STARTUP_TIMEOUT");
	if (to != NULL) {
		uint32_t v;

		if (parse_u32(to, 86400, &v) == 0)
			timeout_s = (int)v;
	}
	log_set_qube(cfg.name);
	if (quiet)
		log_set_level(LOG_LEVEL_WARN);
	if (!arg_direct)
		daemonize();

	for (i = 0; i < MAX_CLIENTS; i++) {
		clients[i].fd = -1;
		port_owner[i] = PORT_UNUSED;
		port_notify[i] = -1;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0)
		fatal("signalfd");

	/* a timeout of 0 waits for ever, for a silent agent's HELLO too */
	do
		r = agent_connect(timeout_s, false);
	while (r == -ETIMEDOUT && timeout_s == 0 && !quit);
	if (r < 0) {
		log_warnx(
		    "cannot connect to the qube's agent: %s", strerror(-r));
		signal_ready(1);
		return 1;
	}
	r = create_sockets();
	if (r < 0) {
		errno = -r;
		log_warn("creating sockets in %s", cfg.socket_dir);
		remove_sockets(); /* none half-made left to look running */
		signal_ready(1);
		return 1;
	}
	drop_privileges();
	signal_ready(0);

	while (!quit) {
		int n = 0;

		if (agent_fd < 0) {
			/* wait for the agent to come back (or SIGTERM) */
			r = agent_connect(0, true);
			if (r == -ENOENT) {
				/* the qube's channel directory is gone: so is
				 * the qube, and nobody will stop us */
				log_warnx(
				    "the qube's channel directory is gone; "
				    "exiting");
				break;
			}
			if (r < 0)
				continue;
			if (create_sockets() < 0) {
				log_warn("recreating sockets");
				remove_sockets();
			}
			log_info("the agent reconnected");
		}
		pfd[n++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = agent_fd,
		    .events = (short)(POLLIN |
		        (buffer_len(&agent_out) ? POLLOUT : 0))};
		pfd[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
		for (i = 0; i < MAX_CLIENTS; i++)
			pfd[n++] = (struct pollfd){
			    .fd = clients[i].fd, .events = POLLIN};
		r = poll(pfd, (nfds_t)n, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			while (read(sigfd, &si, sizeof(si)) > 0)
				;
			reap_children();
		}
		if (agent_fd >= 0 && pfd[1].revents & POLLOUT &&
		    buffer_flush(&agent_out, agent_fd) < 0)
			agent_lost("write error");
		if (agent_fd >= 0 &&
		    pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			handle_agent_input();
		if (agent_fd >= 0 && pfd[2].revents)
			accept_client();
		for (i = 0; i < MAX_CLIENTS && agent_fd >= 0; i++)
			if (pfd[3 + i].fd >= 0 && pfd[3 + i].revents &&
			    clients[i].fd == pfd[3 + i].fd)
				handle_client_input(&clients[i]);
		if (agent_fd >= 0 && buffer_len(&agent_out) &&
		    buffer_flush(&agent_out, agent_fd) < 0)
			agent_lost("write error");
	}
	remove_sockets();
	/* calls (policy requests, relays) end with the daemon */
	for (i = 0; i < MAX_PENDING; i++)
		if (pending[i].state != PENDING_FREE && pending[i].pid > 0)
			(void)kill(pending[i].pid, SIGTERM);
	return 0;
}
