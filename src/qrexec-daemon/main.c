/*
 * main.c - qrexec-daemon (PROC_QREXEC_DAEMON), one per running qube: the
 * monitor.
 *
 * Runs on the admin side, as root under bulkheadd (or the test user).  It
 * reads nothing the qube sends: it connects to the qube's agent and hands
 * the connection to its worker (worker.c, PROC_QREXEC_WORKER: --user, or
 * nobody, confined), which speaks with the agent and the clients; it makes
 * the client socket qrexec.<id> and its links, and hands the socket over;
 * it forks a PROC_QREXEC_CALL (call.c) for each service request the worker
 * passes on.  Untrusted input: the worker's messages (struct qd_ctl,
 * checked against the phase; a request's bytes validated again by
 * proto_trigger_parse).  A worker that breaks the protocol or dies ends
 * the daemon (bulkheadd starts another).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lib/dclient.h"
#include "lib/log.h"
#include "lib/privdrop.h"
#include "lib/qubesd.h"
#include "lib/sock.h"
#include "lib/util.h"
#include "qrexec-daemon/daemon.h"

#define STARTUP_TIMEOUT_S 60
/* the log (stderr, a file) grows to this at most, whoever writes it */
#define QD_LOG_FILE_MAX (32u << 20)
/*
 * An agent that comes and goes (a qube that accepts our connection and
 * closes it, again and again: each round costs this process and the
 * worker a dozen calls and remakes the sockets, outside the qube's CPU
 * limit) is dialled again only after a pause, doubled each time a
 * connection lasted less than RECONNECT_STABLE_NS, from RECONNECT_MIN_MS
 * to RECONNECT_MAX_MS; one that lasted longer is redialled at once.
 */
#define RECONNECT_STABLE_NS (5ull * 1000000000ull)
#define RECONNECT_MIN_MS    100u
#define RECONNECT_MAX_MS    1000u
/* How long an agent that has taken our connection may take to say HELLO
 * when the start-up timeout is 0 (wait for ever for the connection). */
#define AGENT_HELLO_TIMEOUT_MS (STARTUP_TIMEOUT_S * 1000u)

static struct daemon_config cfg;
/* call_confine's filter, built at the start (cfg.call_filter) */
static struct seccomp_util_prog call_filter;
static const char *arg_user;
static uint32_t arg_uid; /* --uid; 0: none */
static bool arg_direct;
static int listen_fd = -1;
static struct sock_ident listen_id;
static char sock_path[PATH_MAX], link_name[PATH_MAX], link_uuid[PATH_MAX];
static volatile sig_atomic_t quit;
static int ready_fd = -1; /* tells the parent we are up (not --direct) */
static int ctl_fd = -1;   /* the worker's control pair */
static pid_t worker_pid = -1;
static pid_t call_pid[QD_MAX_CALLS]; /* by slot; 0: free */

static void worker_end(void);

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
	    "  --user=USER               the user of the process that reads\n"
	    "                            the qube's channel (default nobody)\n"
	    "  --uid=UID                 that process's uid (and gid), with\n"
	    "                            no name (bulkheadd: one a qube)\n"
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
	    "Exit status: 0 after SIGTERM, 1 if the agent never came, setup\n"
	    "failed or the worker ended, 2 on bad usage.\n",
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

/* ---- the agent's channel ---- */

/*
 * Connect to the agent (its control channel server); nothing is read.
 * Blocks until it works, SIGTERM (-EINTR), or (if timeout_s > 0) the
 * timeout; when reconnecting (the agent was lost), also until the qube's
 * channel directory is gone (-ENOENT).  The fd or -errno.
 */
static int
agent_dial(int timeout_s, bool reconnecting)
{
	struct vchan_addr a = {.server_dom = cfg.domid,
	    .client_dom = cfg.env.my_dom,
	    .port = QREXEC_CTRL_PORT};
	uint64_t since = now_ms(),
	         deadline = since + (uint64_t)timeout_s * 1000;
	int fd;

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
			return fd;
		if (fd != -ETIMEDOUT)
			return fd;
		if (timeout_s > 0 && now_ms() >= deadline)
			return -ETIMEDOUT;
	}
}

/* ---- the worker ---- */

/*
 * The user the worker runs as, and each call once its connections are
 * made: --uid (that id, and the same gid, no groups), --user, or nobody.
 * Looked up once, at the start: neither reads a file once confined.
 */
static void
worker_user(uid_t *ret_uid, gid_t *ret_gid)
{
	struct passwd *pw;

	if (arg_uid != 0) {
		*ret_uid = (uid_t)arg_uid;
		*ret_gid = (gid_t)arg_uid;
		return;
	}
	pw = getpwnam(arg_user ? arg_user : "nobody");
	if (pw == NULL && arg_user != NULL)
		fatalx("unknown user %s", arg_user);
	*ret_uid = pw ? pw->pw_uid : 65534;
	*ret_gid = pw ? pw->pw_gid : 65534;
	if (*ret_uid == 0 && getuid() == 0)
		log_warnx("the worker runs as root (--user %s)", arg_user);
}

/* Fork PROC_QREXEC_WORKER, with its end of the control pair alone. */
static void
worker_start(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		fatal("socketpair");
	worker_pid = fork();
	if (worker_pid < 0)
		fatal("fork");
	if (worker_pid == 0) {
		if (dup2(sv[1], QD_WORKER_CTL_FD) < 0 ||
		    syscall(SYS_close_range, (unsigned)QD_WORKER_CTL_FD + 1,
		        ~0U, 0U) < 0)
			_exit(1);
		_exit(worker_main(&cfg, QD_WORKER_CTL_FD, cfg.user_uid,
		    cfg.user_gid, cfg.syslog));
	}
	(void)close(sv[1]);
	ctl_fd = sv[0];
}

/*
 * Messages to the worker wait here: the monitor never blocks on it.  A
 * blocking send could deadlock: a socket pair's side holds what its send
 * buffer allows (a few requests, a few hundred small reports), and a
 * worker passing on a flood of requests blocks on its own sends while the
 * monitor's reports of ended calls fill the other side.  At most one
 * report a call slot is outstanding (the worker frees a slot on its
 * report), plus an agent and a socket.
 */
#define CTL_OUT_MAX (QD_MAX_CALLS + 4)

struct ctl_out {
	struct qd_ctl c;
	int fd; /* sent with it, then closed here; -1: none */
};

static struct ctl_out ctl_outq[CTL_OUT_MAX];
static size_t ctl_out_head, ctl_out_len;

/*
 * Send what is queued, without blocking.  0 (sent, or the worker's queue
 * is full: later, on POLLOUT) or -1: the worker is gone.
 */
static int
ctl_flush(void)
{
	while (ctl_out_len > 0) {
		struct ctl_out *o = &ctl_outq[ctl_out_head];
		struct iovec iov = {&o->c, sizeof(o->c)};
		ssize_t n;

		if (o->fd >= 0)
			n = sock_send_fds(
			    ctl_fd, &iov, 1, MSG_DONTWAIT, &o->fd, 1);
		else if ((n = send(ctl_fd, &o->c, sizeof(o->c),
		              MSG_NOSIGNAL | MSG_DONTWAIT)) < 0)
			n = -errno;
		if (n == -EAGAIN || n == -EINTR)
			return 0;
		if (n != (ssize_t)sizeof(o->c))
			return -1;
		close_fd(&o->fd);
		ctl_out_head = (ctl_out_head + 1) % CTL_OUT_MAX;
		ctl_out_len--;
	}
	return 0;
}

/*
 * Queue a message to the worker, with fd (-1: none; taken: closed once
 * sent or on failure), and send what can be.  0 or -1 (the worker is
 * gone, or the queue is full, which the protocol rules out).
 */
static int
ctl_send(uint32_t type, uint32_t slot, int32_t arg, int fd)
{
	struct ctl_out *o;

	if (ctl_out_len == CTL_OUT_MAX) {
		log_warnx("the worker's queue is full");
		if (fd >= 0)
			(void)close(fd);
		return -1;
	}
	o = &ctl_outq[(ctl_out_head + ctl_out_len) % CTL_OUT_MAX];
	*o = (struct ctl_out){
	    .c = {.qc_type = type, .qc_slot = slot, .qc_arg = arg}, .fd = fd};
	ctl_out_len++;
	return ctl_flush();
}

/*
 * PROC_QREXEC_CALL for a request the worker passed on (validated by
 * qd_ctl_parse) in slot.  0, or -EBADMSG for a slot in use (the worker
 * should never send one) or -EPIPE (the worker is gone).
 */
static int
call_start(uint32_t slot, const struct qrexec_trigger *req)
{
	pid_t pid;

	if (call_pid[slot] != 0)
		return -EBADMSG;
	pid = fork();
	if (pid < 0) {
		log_warn("fork");
		return ctl_send(QD_CALL_DONE, slot, QREXEC_EXIT_PROBLEM, -1) <
		        0 ?
		    -EPIPE :
		    0;
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
	call_pid[slot] = pid;
	return 0;
}

/*
 * One message from the worker (qd_ctl_parse: checked against the phase;
 * a request started).  Returns the message type, 0 for nothing yet, or
 * -1: the worker is gone or broke the protocol (the daemon ends;
 * bulkheadd starts another).
 */
static int
ctl_input(enum qd_phase phase, struct qd_ctl *ret)
{
	static uint8_t
	    untrusted_buf[sizeof(struct qd_ctl) + QD_CTL_MAX_BODY + 1];
	struct qrexec_trigger req;
	ssize_t n;
	int t;

	/* no control buffer: fds the worker might send are dropped */
	n = recv(ctl_fd, untrusted_buf, sizeof(untrusted_buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		worker_end();
		return -1;
	}
	t = qd_ctl_parse(phase, untrusted_buf, (size_t)n, ret, &req);
	if (t == QD_CALL && call_start(ret->qc_slot, &req) < 0)
		t = -EBADMSG;
	if (t < 0) {
		log_warnx("the worker broke the control protocol");
		worker_end();
		return -1;
	}
	return t;
}

/* The worker was reaped with status: said (not when the daemon ends). */
static void
worker_ended(int status)
{
	if (!quit)
		log_warnx("the worker ended (%s %d)",
		    WIFEXITED(status) ? "status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	worker_pid = -1;
}

/*
 * The worker is gone, or must go: it is killed if it still runs (one that
 * closed its end and went on would hold the daemon) and reaped.
 */
static void
worker_end(void)
{
	int status;

	if (worker_pid <= 0)
		return;
	(void)kill(worker_pid, SIGKILL);
	while (waitpid(worker_pid, &status, 0) < 0)
		if (errno != EINTR)
			return;
	worker_ended(status);
}

/* Children that ended: the worker (the daemon ends), calls (reported). */
static bool
reap_children(void)
{
	bool worker_alive = true;
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == worker_pid) {
			worker_ended(status);
			worker_alive = false;
			continue;
		}
		for (i = 0; i < QD_MAX_CALLS; i++) {
			if (call_pid[i] != pid)
				continue;
			call_pid[i] = 0;
			if (worker_pid > 0)
				(void)ctl_send(QD_CALL_DONE, (uint32_t)i,
				    WIFEXITED(status) ? WEXITSTATUS(status) :
				                        QREXEC_EXIT_PROBLEM,
				    -1);
			break;
		}
	}
	return worker_alive;
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

/* The pause before dialling the agent again (RECONNECT_*): 0 after a
 * connection made at connected_at that lasted, else prev doubled. */
static uint32_t
next_backoff(uint64_t connected_at, uint32_t prev)
{
	if (now_ns() - connected_at >= RECONNECT_STABLE_NS)
		return 0;
	if (prev == 0)
		return RECONNECT_MIN_MS;
	return prev * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : prev * 2;
}

int
main(int argc, char **argv)
{
	enum {
		OPT_SOCKET_DIR = 0x100,
		OPT_POLICY_SOCKET,
		OPT_USER,
		OPT_UID,
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
	    {"uid", required_argument, NULL, OPT_UID},
	    {"ready-fd", required_argument, NULL, OPT_READY_FD},
	    {"admin-socket", required_argument, NULL, OPT_ADMIN_SOCKET},
	    {NULL, 0, NULL, 0},
	};
	enum qd_phase phase = QD_PHASE_DIAL;
	struct sigaction sa;
	sigset_t mask;
	const char *to;
	int opt, sigfd, r, i, status = 0, timeout_s = STARTUP_TIMEOUT_S;
	uint32_t hello_ms;
	bool quiet = false, first = true;
	uint64_t connected_at = 0;
	uint32_t backoff_ms = 0;
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
		case OPT_UID:
			/* not root, not (uid_t)-1: a real unprivileged id */
			if (parse_u32(optarg, UINT32_MAX - 2, &arg_uid) < 0 ||
			    arg_uid == 0) {
				(void)fprintf(stderr,
				    "qrexec-daemon: --uid: a number from 1 to "
				    "%u\n",
				    UINT32_MAX - 2);
				return 2;
			}
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
	if (arg_user != NULL && arg_uid != 0) {
		(void)fprintf(stderr,
		    "qrexec-daemon: --user and --uid exclude each other\n");
		return 2;
	}
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
	/*
	 * With stderr a file (bulkheadd's log of this qube's qrexec), this
	 * process and every one it forks (the worker, each call) together
	 * make it no larger than QD_LOG_FILE_MAX: the worker's lines about
	 * the qube are budgeted, but a qube can fail calls one after
	 * another, and each call says why.  bulkheadd moves a log over
	 * 4 MiB aside at each start.  A local service lifts the cap.
	 */
	if ((r = priv_log_cap(QD_LOG_FILE_MAX)) < 0)
		log_warnx("limiting the log: %s, ignoring", strerror(-r));

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
	hello_ms = timeout_s > 0 ? (uint32_t)timeout_s * 1000u :
	                           AGENT_HELLO_TIMEOUT_MS;
	/* the worker's user, and each call's once connected */
	worker_user(&cfg.user_uid, &cfg.user_gid);
	cfg.syslog = !arg_direct;
	if ((r = call_filter_compile(cfg.syslog, &call_filter)) < 0) {
		errno = -r;
		fatal("building the calls' seccomp filter");
	}
	cfg.call_filter = &call_filter;
	worker_start();

	while (!quit) {
		struct pollfd pfd[2] = {{.fd = sigfd, .events = POLLIN},
		    {.fd = ctl_fd,
		        .events =
		            (short)(POLLIN | (ctl_out_len > 0 ? POLLOUT : 0))}};
		struct qd_ctl c;
		int t;

		if (phase == QD_PHASE_DIAL) {
			int fd;

			if (backoff_ms > 0) {
				const struct timespec pause = {
				    backoff_ms / 1000,
				    (long)(backoff_ms % 1000) * 1000000L};

				(void)nanosleep(&pause, NULL);
				if (quit)
					break;
			}
			fd = agent_dial(first ? timeout_s : 0, !first);

			if (fd == -EINTR)
				break;
			if (fd < 0 && first &&
			    !(fd == -ETIMEDOUT && timeout_s == 0)) {
				log_warnx("cannot connect to the qube's agent: "
				          "%s",
				    strerror(-fd));
				signal_ready(1);
				status = 1;
				break;
			}
			if (fd == -ENOENT) {
				/* the qube's channel directory is gone: so is
				 * the qube, and nobody will stop us */
				log_warnx("the qube's channel directory is "
				          "gone; exiting");
				break;
			}
			if (fd < 0) {
				const struct timespec pause = {0, 100000000};

				(void)nanosleep(&pause, NULL);
				continue;
			}
			r = ctl_send(QD_AGENT, 0, (int32_t)hello_ms, fd);
			if (r < 0) {
				log_warnx("the worker is gone");
				status = 1;
				break;
			}
			connected_at = now_ns();
			phase = QD_PHASE_HELLO;
			continue;
		}
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			while (read(sigfd, &si, sizeof(si)) > 0)
				;
			if (!reap_children()) {
				status = 1;
				break;
			}
		}
		if (pfd[1].revents & POLLOUT && ctl_flush() < 0) {
			log_warnx("the worker is gone");
			worker_end();
			status = 1;
			break;
		}
		if (!(pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		t = ctl_input(phase, &c);
		if (t < 0) {
			status = 1;
			break;
		}
		if (t == QD_HELLO_FAIL) {
			if (first &&
			    !(c.qc_arg == -ETIMEDOUT && timeout_s == 0)) {
				log_warnx("cannot connect to the qube's agent: "
				          "%s",
				    strerror(-c.qc_arg));
				signal_ready(1);
				status = 1;
				break;
			}
			backoff_ms = next_backoff(connected_at, backoff_ms);
			phase = QD_PHASE_DIAL;
		} else if (t == QD_HELLO_OK) {
			r = create_sockets();
			if (r < 0) {
				errno = -r;
				log_warn(
				    "creating sockets in %s", cfg.socket_dir);
				/* none half-made left to look running */
				remove_sockets();
				if (first) {
					signal_ready(1);
					status = 1;
					break;
				}
			} else if (ctl_send(QD_LISTEN, 0, 0,
			               fcntl(listen_fd, F_DUPFD_CLOEXEC, 3)) <
			    0) {
				log_warnx("the worker is gone");
				status = 1;
				break;
			}
			if (first)
				signal_ready(0);
			else
				log_info("the agent reconnected");
			first = false;
			phase = QD_PHASE_UP;
		} else if (t == QD_AGENT_LOST) {
			remove_sockets();
			backoff_ms = next_backoff(connected_at, backoff_ms);
			phase = QD_PHASE_DIAL;
		}
	}
	remove_sockets();
	if (worker_pid > 0)
		(void)kill(worker_pid, SIGTERM);
	/* calls (policy requests, relays) end with the daemon */
	for (i = 0; i < QD_MAX_CALLS; i++)
		if (call_pid[i] > 0)
			(void)kill(call_pid[i], SIGTERM);
	return status;
}
