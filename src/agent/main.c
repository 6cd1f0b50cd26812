/*
 * main.c - qrexec-agent (PROC_AGENT): the qube's end of qrexec.
 *
 * Runs inside a qube, as the qube's root (or as a test user).  It listens
 * on the control channel (port 512) for the admin side's qrexec-daemon and
 * on the trigger socket for qrexec-client-vm.  Untrusted inputs:
 *   - trigger clients (any user in the qube): one MSG_TRIGGER_SERVICE4,
 *     validated by proto_trigger_parse before it is forwarded;
 *   - the control channel (the daemon, more trusted, still validated).
 * Service calls run in forked PROC_AGENT_CALL processes (call.c); this
 * process only keeps the books and never reads a data channel.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "config.h"
#include "lib/log.h"
#include "lib/msg.h"
#include "lib/service.h"
#include "lib/sock.h"
#include "lib/util.h"

#define AGENT_DEFAULT_TRIGGER "/var/run/qubes/qrexec-agent"
/* Calls and trigger clients we track at once (Qubes: 256). */
#define AGENT_MAX_CALLS    256
#define AGENT_MAX_TRIGGERS 256
/* Bytes a trigger client may send: one v4 trigger. */
#define AGENT_TRIGGER_MAX_LEN                                                  \
	(sizeof(struct qrexec_trigger4) + QREXEC_MAX_SERVICE_NAME_LEN)

enum trig_state {
	TRIG_FREE,
	TRIG_READING,   /* waiting for the client's request */
	TRIG_PENDING,   /* forwarded, waiting for the daemon's verdict */
	TRIG_CONNECTED, /* connection details sent, call under way */
	TRIG_STATE_MAX
};

struct trigger {
	enum trig_state state;
	int fd;
	struct msg_reader rd;
	char ident[QREXEC_IDENT_LEN];
	uint32_t domain, port; /* TRIG_CONNECTED */
};

struct call {
	pid_t pid; /* 0: free */
	uint32_t domain, port;
};

static struct vchan_env env;
static const char *arg_trigger_path = AGENT_DEFAULT_TRIGGER;
static struct vchan_listener ctrl_listener = {.fd = -1};
static int ctrl_fd = -1;
static bool ctrl_ready; /* HELLO exchanged */
static bool nss_loaded; /* svc_preload_user_db() done */
static uint32_t ctrl_version;
static struct msg_reader ctrl_rd;
static int trigger_lfd = -1;
static struct sock_ident trigger_id;
static struct trigger triggers[AGENT_MAX_TRIGGERS];
static struct call calls[AGENT_MAX_CALLS];
static uint64_t ident_counter;
static volatile sig_atomic_t quit;

static void
usage(FILE *f, int code)
{
	(void)fprintf(f,
	    "usage: qrexec-agent [options]\n"
	    "\n"
	    "The qube's end of qrexec: serves calls from the admin side and\n"
	    "forwards service requests of qrexec-client-vm.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help                  show this help\n"
	    "  --agent-socket=PATH         trigger socket for qrexec-client-vm\n"
	    "                              (default %s)\n"
	    "  --no-fork-server            accepted for compatibility (bulkhead\n"
	    "                              has no fork server)\n"
	    "  --fork-server-socket=PATH   accepted for compatibility, ignored\n"
	    "\n"
	    "Environment:\n"
	    "  VCHAN_DOMAIN          this qube's domain id (default 0)\n"
	    "  VCHAN_SOCKET_DIR      directory of the channel sockets\n"
	    "  QREXEC_SERVICE_PATH   where services are looked up\n"
	    "  QUBES_RPC_CONFIG_PATH where per-service config is looked up\n"
	    "  BULKHEAD_LOG_LEVEL    err, warn, info (default) or debug\n"
	    "\n"
	    "Exit status: 0 after SIGTERM, 1 on a setup error, 2 on bad usage.\n",
	    AGENT_DEFAULT_TRIGGER);
	exit(code);
}

static int
ctrl_listen(void)
{
	struct vchan_addr a = {.server_dom = env.my_dom,
	    .client_dom = 0,
	    .port = QREXEC_CTRL_PORT};

	return vchan_listen(&env, vchan_dir_dom(&env, &a), &a, &ctrl_listener);
}

static void
trigger_free(struct trigger *t)
{
	close_fd(&t->fd);
	msg_reader_free(&t->rd);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->state = TRIG_FREE;
}

static void
send_conn_terminated(uint32_t domain, uint32_t port)
{
	struct qrexec_exec_params ep = {
	    .ep_connect_domain = domain, .ep_connect_port = port};

	if (ctrl_fd < 0 || !ctrl_ready)
		return;
	if (msg_send(ctrl_fd, MSG_CONNECTION_TERMINATED, &ep, sizeof(ep), NULL,
	        0) < 0)
		log_warn("sending MSG_CONNECTION_TERMINATED");
}

/* The control channel went away: drop it and listen for a new one. */
static void
ctrl_reset(const char *why)
{
	int i;

	log_warnx("control channel: %s; waiting for the daemon again", why);
	close_fd(&ctrl_fd);
	ctrl_ready = false;
	msg_reader_free(&ctrl_rd);
	/* pending requests can no longer be answered: refuse them */
	for (i = 0; i < AGENT_MAX_TRIGGERS; i++)
		if (triggers[i].state == TRIG_PENDING)
			trigger_free(&triggers[i]);
	if (ctrl_listener.fd < 0 && ctrl_listen() < 0)
		fatal("listening for the control channel");
}

static struct trigger *
trigger_by_ident(const char *ident)
{
	int i;

	for (i = 0; i < AGENT_MAX_TRIGGERS; i++)
		if (triggers[i].state == TRIG_PENDING &&
		    strncmp(triggers[i].ident, ident, QREXEC_IDENT_LEN) == 0)
			return &triggers[i];
	return NULL;
}

static void
start_call(uint32_t type, const struct qrexec_exec *req)
{
	int i;
	pid_t pid;

	for (i = 0; i < AGENT_MAX_CALLS; i++)
		if (calls[i].pid == 0)
			break;
	if (i == AGENT_MAX_CALLS) {
		/* the caller times out; the port comes back on our report */
		log_warnx("too many calls in progress, dropping one");
		send_conn_terminated(req->domain, req->port);
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_warn("fork");
		send_conn_terminated(req->domain, req->port);
		return;
	}
	if (pid == 0) {
		/* PROC_AGENT_CALL: keep nothing of the agent's but stdio */
		sigset_t none;

		if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
			_exit(1);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGTERM, SIG_DFL);
		_exit(agent_call_run(&env, type, req));
	}
	calls[i].pid = pid;
	calls[i].domain = req->domain;
	calls[i].port = req->port;
}

static void
handle_service_connect(const uint8_t *body, uint32_t len)
{
	struct qrexec_service_connect sc;
	struct qrexec_exec_params ep;
	struct trigger *t;

	if (proto_service_connect_parse(body, len, &sc) < 0) {
		log_warnx("invalid MSG_SERVICE_CONNECT, ignoring");
		return;
	}
	t = trigger_by_ident(sc.ident);
	if (t == NULL) {
		log_warnx("MSG_SERVICE_CONNECT for an unknown request, "
		          "ignoring");
		return;
	}
	ep.ep_connect_domain = sc.domain;
	ep.ep_connect_port = sc.port;
	/* qrexec-client-vm expects the raw 8 bytes, no header */
	if (send(t->fd, &ep, sizeof(ep), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(ep))
		log_debug("qrexec-client-vm went away before the connection");
	t->state = TRIG_CONNECTED;
	t->domain = sc.domain;
	t->port = sc.port;
}

static void
handle_ctrl_msg(const struct qrexec_hdr *hdr, const uint8_t *body)
{
	struct qrexec_exec req;
	char ident[QREXEC_IDENT_LEN];
	struct trigger *t;

	switch (hdr->hdr_type) {
	case MSG_EXEC_CMDLINE:
	case MSG_JUST_EXEC:
		if (proto_exec_parse(body, hdr->hdr_len, &req) < 0) {
			log_warnx("invalid exec request, ignoring");
			return;
		}
		start_call(hdr->hdr_type, &req);
		return;
	case MSG_SERVICE_CONNECT:
		handle_service_connect(body, hdr->hdr_len);
		return;
	case MSG_SERVICE_REFUSED:
		if (proto_service_refused_parse(body, hdr->hdr_len, ident) <
		    0) {
			log_warnx("invalid MSG_SERVICE_REFUSED, ignoring");
			return;
		}
		t = trigger_by_ident(ident);
		if (t != NULL)
			trigger_free(t); /* the client sees EOF: refused */
		return;
	default:
		ctrl_reset("unexpected message type");
		return;
	}
}

static void
handle_ctrl_input(void)
{
	struct qrexec_hdr hdr;
	const uint8_t *body;
	long n;
	int r;

	n = msg_reader_fill(&ctrl_rd, ctrl_fd);
	if (n == -EAGAIN)
		return;
	if (n < 0 && n != -ENOBUFS) {
		ctrl_reset("read error");
		return;
	}
	while ((r = msg_reader_next(&ctrl_rd, &hdr, &body)) > 0) {
		if (!ctrl_ready) {
			uint32_t v;

			if (hdr.hdr_type != MSG_HELLO ||
			    proto_hello_parse(body, hdr.hdr_len, &v) < 0) {
				ctrl_reset("bad HELLO");
				return;
			}
			ctrl_version = v < QREXEC_PROTOCOL_VERSION ?
			    v :
			    QREXEC_PROTOCOL_VERSION;
			if (ctrl_version < QREXEC_PROTOCOL_MIN_VERSION) {
				ctrl_reset("incompatible protocol version");
				return;
			}
			ctrl_ready = true;
			log_debug(
			    "control channel up, protocol %u", ctrl_version);
			/*
			 * Each call's process (a fork of ours) looks up its
			 * user: the name service's modules loaded once, here
			 * (about a millisecond), after our HELLO went out, so
			 * that a qube's start does not wait for it.
			 */
			if (!nss_loaded) {
				svc_preload_user_db();
				nss_loaded = true;
			}
			continue;
		}
		handle_ctrl_msg(&hdr, body);
		if (ctrl_fd < 0)
			return;
	}
	if (r < 0) {
		ctrl_reset("oversized or truncated message");
		return;
	}
	if (ctrl_rd.eof)
		ctrl_reset("closed by the daemon");
}

static void
accept_ctrl(void)
{
	int fd = sock_accept(ctrl_listener.fd, true);

	if (fd < 0)
		return;
	/* one daemon at a time: the path goes as soon as it is taken */
	vchan_listener_close(&ctrl_listener);
	ctrl_fd = fd;
	(void)fd_set_nonblock(ctrl_fd, false);
	msg_reader_init(&ctrl_rd, QREXEC_MAX_CLIENT_MSG_LEN);
	ctrl_ready = false;
	if (msg_send_hello(ctrl_fd, QREXEC_PROTOCOL_VERSION) < 0) {
		ctrl_reset("sending HELLO");
		return;
	}
	(void)fd_set_nonblock(ctrl_fd, true);
}

/* Forward a validated trigger with our ident, in the daemon's version. */
static int
forward_trigger(struct trigger *t, const struct qrexec_trigger *req)
{
	char ident[QREXEC_IDENT_LEN] = {0};
	int r;

	(void)snprintf(ident, sizeof(ident), "SOCKET%" PRIu64, ++ident_counter);
	memcpy(t->ident, ident, sizeof(ident));
	(void)fd_set_nonblock(ctrl_fd, false);
	if (ctrl_version >= QREXEC_PROTOCOL_V4) {
		struct qrexec_trigger4 t4;

		memset(&t4, 0, sizeof(t4));
		memcpy(t4.t4_source_domain, req->source, sizeof(req->source));
		memcpy(t4.t4_target_domain, req->target, sizeof(req->target));
		memcpy(t4.t4_ident, ident, sizeof(ident));
		r = msg_send(ctrl_fd, MSG_TRIGGER_SERVICE4, &t4, sizeof(t4),
		    req->service, req->service_len + 1);
	} else if (ctrl_version == QREXEC_PROTOCOL_V3) {
		struct qrexec_trigger3 t3;

		memset(&t3, 0, sizeof(t3));
		memcpy(t3.t3_target_domain, req->target, sizeof(req->target));
		memcpy(t3.t3_ident, ident, sizeof(ident));
		r = msg_send(ctrl_fd, MSG_TRIGGER_SERVICE3, &t3, sizeof(t3),
		    req->service, req->service_len + 1);
	} else {
		struct qrexec_trigger2 t2;

		memset(&t2, 0, sizeof(t2));
		if (req->service_len >= sizeof(t2.t2_service_name) ||
		    strlen(req->target) >= sizeof(t2.t2_target_domain)) {
			(void)fd_set_nonblock(ctrl_fd, true);
			return -ENAMETOOLONG;
		}
		memcpy(t2.t2_service_name, req->service, req->service_len);
		memcpy(t2.t2_target_domain, req->target, strlen(req->target));
		memcpy(t2.t2_ident, ident, sizeof(ident));
		r = msg_send(
		    ctrl_fd, MSG_TRIGGER_SERVICE, &t2, sizeof(t2), NULL, 0);
	}
	(void)fd_set_nonblock(ctrl_fd, true);
	return r;
}

static void
handle_trigger_input(struct trigger *t)
{
	struct qrexec_hdr hdr;
	struct qrexec_trigger req;
	char raw_ident[QREXEC_IDENT_LEN];
	const uint8_t *body;
	long n;
	int r;

	if (t->state != TRIG_READING) {
		char c;

		/* a pending or connected client only ever closes */
		n = recv(t->fd, &c, 1, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return;
		if (t->state == TRIG_CONNECTED)
			send_conn_terminated(t->domain, t->port);
		trigger_free(t);
		return;
	}
	n = msg_reader_fill(&t->rd, t->fd);
	if (n == -EAGAIN)
		return;
	r = msg_reader_next(&t->rd, &hdr, &body);
	if (r == 0 && !t->rd.eof && n > 0)
		return;
	if (r <= 0 || hdr.hdr_type != MSG_TRIGGER_SERVICE4 ||
	    proto_trigger_parse(hdr.hdr_type, QREXEC_PROTOCOL_V4, body,
	        hdr.hdr_len, &req, raw_ident) < 0) {
		log_warnx("invalid request from qrexec-client-vm, refused");
		trigger_free(t);
		return;
	}
	if (ctrl_fd < 0 || !ctrl_ready || forward_trigger(t, &req) < 0) {
		log_warnx("cannot forward request: no control channel");
		trigger_free(t);
		return;
	}
	msg_reader_free(&t->rd);
	t->state = TRIG_PENDING;
}

static void
accept_trigger(void)
{
	int fd = sock_accept(trigger_lfd, true), i;

	if (fd < 0)
		return;
	for (i = 0; i < AGENT_MAX_TRIGGERS; i++)
		if (triggers[i].state == TRIG_FREE)
			break;
	if (i == AGENT_MAX_TRIGGERS) {
		log_warnx("too many pending requests, refusing one");
		(void)close(fd);
		return;
	}
	triggers[i].state = TRIG_READING;
	triggers[i].fd = fd;
	msg_reader_init(&triggers[i].rd, AGENT_TRIGGER_MAX_LEN);
}

static void
reap_calls(void)
{
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < AGENT_MAX_CALLS; i++) {
			if (calls[i].pid != pid)
				continue;
			send_conn_terminated(calls[i].domain, calls[i].port);
			calls[i].pid = 0;
			break;
		}
	}
}

static void
on_sigterm(int sig)
{
	(void)sig;
	quit = 1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"agent-socket", required_argument, NULL, 'a'},
	    {"fork-server-socket", required_argument, NULL, 's'},
	    {"no-fork-server", no_argument, NULL, 'S'},
	    {NULL, 0, NULL, 0},
	};
	struct pollfd pfd[3 + AGENT_MAX_TRIGGERS];
	struct sigaction sa;
	sigset_t mask;
	int opt, sigfd, i, r;

	log_init("qrexec-agent", 1);
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout, 0);
			break;
		case 'a':
			arg_trigger_path = optarg;
			break;
		case 's':
		case 'S':
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	if (vchan_env_init(&env) < 0)
		fatalx("invalid VCHAN_DOMAIN, VCHAN_SOCKET_DIR or "
		       "BULKHEAD_VCHAN_LAYOUT");
	for (i = 0; i < AGENT_MAX_TRIGGERS; i++)
		triggers[i].fd = -1;

	(void)signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigterm;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0)
		fatal("signalfd");

	r = ctrl_listen();
	if (r < 0) {
		errno = -r;
		fatal("listening on the control channel in %s", env.dir);
	}
	trigger_lfd = sock_listen(arg_trigger_path, 0666, true, &trigger_id);
	if (trigger_lfd < 0) {
		errno = -trigger_lfd;
		fatal("listening on %s", arg_trigger_path);
	}
	log_debug("ready (domain %u)", env.my_dom);

	while (!quit) {
		int n = 0;

		pfd[n++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		pfd[n++] = (struct pollfd){
		    .fd = ctrl_fd >= 0 ? ctrl_fd : ctrl_listener.fd,
		    .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = trigger_lfd, .events = POLLIN};
		for (i = 0; i < AGENT_MAX_TRIGGERS; i++)
			pfd[n++] = (struct pollfd){
			    .fd = triggers[i].fd, .events = POLLIN};
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
			reap_calls();
		}
		if (pfd[1].revents) {
			if (ctrl_fd >= 0)
				handle_ctrl_input();
			else
				accept_ctrl();
		}
		if (pfd[2].revents)
			accept_trigger();
		for (i = 0; i < AGENT_MAX_TRIGGERS; i++)
			if (pfd[3 + i].fd >= 0 && pfd[3 + i].revents &&
			    triggers[i].fd == pfd[3 + i].fd)
				handle_trigger_input(&triggers[i]);
	}
	sock_unlink_if_ours(arg_trigger_path, &trigger_id);
	vchan_listener_close(&ctrl_listener);
	/* calls end with the agent (each passes SIGTERM to its service) */
	for (i = 0; i < AGENT_MAX_CALLS; i++)
		if (calls[i].pid > 0)
			(void)kill(calls[i].pid, SIGTERM);
	return 0;
}
