/*
 * main.c - qrexec-client: start a command or service in a qube from the
 * admin side, or serve a qube's call to the admin domain.
 *
 * Runs on the admin side as the calling admin user (or the daemon's user
 * for -c).  Untrusted input: the data channel (the qube's service), parsed
 * by stream.c.  The daemon's replies are validated by dclient.c.
 *
 * Started as root (qvm-run under sudo, or a root service), it connects as
 * root and then, before the first byte of the qube's data, confines
 * itself (confine_data_phase): the user nobody, no groups, no_new_privs,
 * not dumpable, the stream's seccomp allowlist (no open, exec, fork, kill
 * or ptrace).  A stream a qube took over holds the fds of its own call and
 * nothing else.  What runs here for the call (-l's local command, -c's
 * service) is started before, as the caller's user; the confined stream
 * only moves its bytes and waits for it.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/dclient.h"
#include "lib/log.h"
#include "lib/msg.h"
#include "lib/privdrop.h"
#include "lib/qcmd.h"
#include "lib/seccomp_util.h"
#include "lib/service.h"
#include "lib/stream.h"
#include "lib/util.h"
#include "lib/vchan.h"

static void
usage(FILE *f, int code)
{
	(void)fprintf(f,
	    "usage: qrexec-client [options] -d QUBE [-l LOCAL_CMD | -e |\n"
	    "                     -c REQUEST_ID,SOURCE_NAME,SOURCE_ID] "
	    "USER:COMMAND\n"
	    "\n"
	    "Run COMMAND in QUBE as USER (\"DEFAULT\" for the qube's default\n"
	    "user).  COMMAND is a shell command, or \"QUBESRPC service+arg "
	    "source\"\n"
	    "for a service call.  QUBE is a name, a domain id, uuid:UUID or\n"
	    "dom0 (the admin domain).\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help            show this help\n"
	    "  -d QUBE               the target\n"
	    "  -l LOCAL_CMD          connect LOCAL_CMD's stdin/stdout to the "
	    "command\n"
	    "  -e                    start the command and exit at once\n"
	    "  -E, --no-exit-code    exit 0 whatever the remote exit code\n"
	    "  -c ID,NAME,DOMID      answer a qube's call (used by the daemon)\n"
	    "  -p, --prefix-data=D   send D before the input\n"
	    "  -t, -T                replace non-printable bytes of the remote\n"
	    "                        stdout (-t) / stderr (-T) with '_'\n"
	    "  -w SECONDS            data connection timeout (default 10, 0 = "
	    "none)\n"
	    "  -W                    with -c: wait until the call ends\n"
	    "  -k                    accepted for compatibility (#4)\n"
	    "  --socket-dir=DIR      daemon sockets (default %s,\n"
	    "                        or $BULKHEAD_RUN_DIR/qrexec)\n"
	    "  --use-stdin-socket    fd 0 is a socket for both directions\n"
	    "\n"
	    "Started as root, it connects as root and then, before the qube's\n"
	    "first byte, runs as nobody under a seccomp allowlist (a local\n"
	    "command or service is started before, as root).\n"
	    "\n"
	    "Exit status: the remote exit code (0 with -E); 125 on a qrexec\n"
	    "problem (also: it could not confine itself); 126 refused; 127\n"
	    "service not found; 255 if the connection broke; 1 or 2 on bad\n"
	    "usage.\n",
	    DCLIENT_DEFAULT_SOCKET_DIR);
	exit(code);
}

/* Set once the data phase is confined: leave with _exit (leave()). */
static bool confined;

/*
 * The confine hook of the data phase (see the top): when root, nobody
 * under the stream's allowlist.  Not root: the caller's own user already,
 * nothing to do.  0 or -errno; the caller then gives up the call.
 */
static int
confine_data_phase(void *arg)
{
	uid_t uid;
	gid_t gid;
	int r;

	(void)arg;
	if (geteuid() != 0 && getuid() != 0)
		return 0;
	priv_nobody(&uid, &gid);
	/* no log bound: stdout may be a file the admin redirected to */
	r = priv_drop(uid, gid, 0, 0);
	/* made when bulkhead was built: one prctl, no libseccomp here */
	if (r == 0)
		r = seccomp_util_apply(&seccomp_util_stream_prog);
	if (r < 0) {
		(void)fprintf(stderr,
		    "qrexec-client: cannot confine the data phase: %s\n",
		    strerror(-r));
		return r;
	}
	confined = true;
	return 0;
}

static const struct dclient_confine data_confine = {
    .fn = confine_data_phase, .arg = NULL};

/*
 * Leave with code.  Once confined, with _exit: what exit() runs may make
 * calls the allowlist forbids (a sanitizer's leak check: clone, ptrace),
 * and nothing is left to clean up.
 */
static int
leave(int code)
{
	if (confined) {
		(void)fflush(NULL);
		_exit(code);
	}
	return code;
}

static void
die_usage(const char *msg)
{
	(void)fprintf(stderr, "qrexec-client: %s\n", msg);
	exit(2);
}

/* dom0 -> dom0: exec the service in place. */
static int
run_dom0_to_dom0(const char *cmdline)
{
	struct svc_target t;
	struct qcmd *c = NULL;
	char err[512];
	int r;

	/* the caller names the user, but it must be the default one */
	if (!str_startswith(cmdline, "DEFAULT:")) {
		(void)fprintf(stderr,
		    "qrexec-client: admin-domain commands "
		    "must start with DEFAULT:\n");
		return QREXEC_EXIT_PROBLEM;
	}
	r = qcmd_parse(
	    cmdline + strlen("DEFAULT:"), false, &c, err, sizeof(err));
	if (r < 0 || !c->is_rpc) {
		(void)fprintf(stderr, "qrexec-client: %s\n",
		    r < 0 ? err : "only service calls can target dom0");
		qcmd_free(c);
		return QREXEC_EXIT_PROBLEM;
	}
	r = qcmd_load_config(c, svc_config_path(), err, sizeof(err));
	if (r == 0 && c->wait_for_session && !c->nogui)
		(void)svc_wait_for_session(svc_path(), c->source_domain, NULL);
	if (r == 0)
		r = svc_lookup(svc_path(), c, &t, err, sizeof(err));
	if (r == 0 && t.kind != SVC_EXEC) {
		(void)snprintf(err, sizeof(err),
		    "%.400s: socket services "
		    "cannot be called from the admin domain itself",
		    t.path);
		r = -EINVAL;
	}
	if (r < 0) {
		(void)fprintf(stderr, "qrexec-client: %s\n", err);
		qcmd_free(c);
		return r == -ENOENT ? QREXEC_EXIT_SERVICE_NOT_FOUND :
		                      QREXEC_EXIT_PROBLEM;
	}
	svc_exec_rpc(t.path, c);
}

/* A qube's call to the admin domain: serve it here. */
static int
run_vm_to_dom0(const struct vchan_env *env, const char *socket_dir,
    const char *ident, const char *src_name, const char *src_id,
    const char *cmdline, int timeout_ms, const char *prefix)
{
	struct qrexec_service_params sp;
	uint32_t dom, port;
	int fd, r;

	fd = dclient_connect(socket_dir, src_id);
	if (fd < 0) {
		(void)fprintf(stderr, "qrexec-client: daemon of %s: %s\n",
		    src_id, strerror(-fd));
		return QREXEC_EXIT_PROBLEM;
	}
	memset(&sp, 0, sizeof(sp));
	(void)str_copy(sp.sp_ident, sizeof(sp.sp_ident), ident);
	r = dclient_negotiate(
	    fd, MSG_SERVICE_CONNECT, 0, &sp, sizeof(sp), &dom, &port);
	(void)close(fd);
	if (r < 0) {
		(void)fprintf(
		    stderr, "qrexec-client: negotiating: %s\n", strerror(-r));
		return QREXEC_EXIT_PROBLEM;
	}
	return dclient_run_local_service(env, dom, port, src_name, cmdline,
	    timeout_ms, prefix, &data_confine);
}

int
main(int argc, char **argv)
{
	enum {
		OPT_SOCKET_DIR = 0x100,
		OPT_USE_STDIN_SOCKET,
	};
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"socket-dir", required_argument, NULL, OPT_SOCKET_DIR},
	    {"no-exit-code", no_argument, NULL, 'E'},
	    {"prefix-data", required_argument, NULL, 'p'},
	    {"use-stdin-socket", no_argument, NULL, OPT_USE_STDIN_SOCKET},
	    {NULL, 0, NULL, 0},
	};
	const char *domname = NULL, *local_cmd = NULL, *prefix = NULL;
	static char default_dir[PATH_MAX];
	const char *socket_dir = default_dir;
	char *req_id = NULL, *src_name = NULL, *src_id = NULL;
	bool just_exec = false, exit_with_code = true, stdin_socket = false;
	bool replace_out = false, replace_err = false;
	int timeout_s = 10, opt, r;
	const char *cmdline;
	struct vchan_env env;

	if (bulkhead_run_path(default_dir, sizeof(default_dir), "qrexec") < 0) {
		(void)fprintf(
		    stderr, "qrexec-client: " BULKHEAD_RUN_DIR_ERROR "\n");
		return QREXEC_EXIT_PROBLEM;
	}
	log_init("qrexec-client", 1);
	while ((opt = getopt_long(
	            argc, argv, "hd:l:eEc:p:tTw:Wk", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout, 0);
			break;
		case 'd':
			domname = optarg;
			break;
		case 'l':
			local_cmd = optarg;
			break;
		case 'e':
			just_exec = true;
			break;
		case 'E':
			exit_with_code = false;
			break;
		case 'c': {
			char *c1 = strchr(optarg, ','), *c2;
			uint32_t id;

			if (req_id != NULL)
				die_usage("-c given twice");
			c2 = c1 ? strchr(c1 + 1, ',') : NULL;
			if (c1 == NULL || c2 == NULL)
				die_usage("-c takes REQUEST_ID,SOURCE_NAME,"
				          "SOURCE_ID");
			*c1 = *c2 = '\0';
			req_id = optarg;
			src_name = c1 + 1;
			src_id = c2 + 1;
			if (strlen(req_id) == 0 ||
			    strlen(req_id) >= QREXEC_IDENT_LEN)
				die_usage("-c: request id empty or too long");
			if (parse_u32(src_id, INT32_MAX, &id) < 0 || id == 0 ||
			    dclient_is_adminvm(src_name))
				die_usage("-c cannot be used for calls from "
				          "the admin domain");
			break;
		}
		case 'p':
			if (prefix != NULL)
				die_usage("-p given twice");
			prefix = optarg;
			break;
		case 't':
			replace_out = true;
			break;
		case 'T':
			replace_err = true;
			break;
		case 'w': {
			uint32_t v;

			if (parse_u32(optarg, 1000000, &v) < 0)
				die_usage("-w takes a number of seconds");
			timeout_s = (int)v;
			break;
		}
		case 'W':
		case 'k':
			break;
		case OPT_SOCKET_DIR:
			socket_dir = optarg;
			break;
		case OPT_USE_STDIN_SOCKET: {
			int type;
			socklen_t len = sizeof(type);

			if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) <
			        0 ||
			    type != SOCK_STREAM)
				die_usage("--use-stdin-socket: stdin is not a "
				          "stream socket");
			stdin_socket = true;
			break;
		}
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc - 1 || domname == NULL)
		usage(stderr, 2);
	cmdline = argv[optind];
	if (just_exec + (req_id != NULL) + (local_cmd != NULL) > 1)
		die_usage("only one of -e, -l, -c can be given");
	if (local_cmd != NULL && stdin_socket)
		die_usage("-l and --use-stdin-socket exclude each other");
	if (vchan_env_init(&env) < 0)
		die_usage("invalid VCHAN_* environment");
	(void)signal(SIGPIPE, SIG_IGN);

	if (dclient_is_adminvm(domname)) {
		if (req_id != NULL) {
			r = run_vm_to_dom0(&env, socket_dir, req_id, src_name,
			    src_id, cmdline, timeout_s ? timeout_s * 1000 : -1,
			    prefix);
			return leave(exit_with_code ? r : 0);
		}
		if (local_cmd != NULL) {
			(void)fprintf(stderr,
			    "qrexec-client: -l is not "
			    "supported for admin-domain targets\n");
			return QREXEC_EXIT_PROBLEM;
		}
		return run_dom0_to_dom0(cmdline);
	}
	if (req_id != NULL) {
		uint32_t id;

		(void)parse_u32(src_id, INT32_MAX, &id);
		r = dclient_execute_vm(&env, socket_dir, domname, id, cmdline,
		    req_id, just_exec, &data_confine);
		return leave(r < 0 ? 137 : 0);
	}

	{
		struct vchan_listener l;
		struct vchan_addr a;
		struct stream_params sp;
		struct stream s;
		struct svc_proc p = {
		    .pid = 0, .in_fd = -1, .out_fd = -1, .err_fd = -1};
		uint32_t dom, port;
		sigset_t mask;
		int fd, chan, version, sigfd;

		fd = dclient_connect(socket_dir, domname);
		if (fd < 0) {
			(void)fprintf(stderr, "qrexec-client: %s: %s\n",
			    domname,
			    fd == -ENOENT ? "qrexec daemon not running" :
			                    strerror(-fd));
			return QREXEC_EXIT_PROBLEM;
		}
		r = dclient_negotiate(fd,
		    just_exec ? MSG_JUST_EXEC : MSG_EXEC_CMDLINE, env.my_dom,
		    cmdline, strlen(cmdline) + 1, &dom, &port);
		if (r < 0) {
			(void)fprintf(stderr, "qrexec-client: %s: %s\n",
			    domname, strerror(-r));
			return QREXEC_EXIT_PROBLEM;
		}
		a.server_dom = env.my_dom;
		a.client_dom = dom;
		a.port = port;
		r = vchan_listen(&env, vchan_dir_dom(&env, &a), &a, &l);
		if (r < 0) {
			(void)fprintf(stderr,
			    "qrexec-client: data channel: "
			    "%s\n",
			    strerror(-r));
			return QREXEC_EXIT_PROBLEM;
		}
		(void)setenv("QREXEC_REMOTE_DOMAIN", domname, 1);
		sigemptyset(&mask);
		sigaddset(&mask, SIGCHLD);
		(void)sigprocmask(SIG_BLOCK, &mask, NULL);
		sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
		if (sigfd < 0)
			fatal("signalfd");
		if (local_cmd != NULL) {
			struct qcmd *c = NULL;
			char err[512];
			struct svc_target t;

			r = qcmd_parse(local_cmd, false, &c, err, sizeof(err));
			if (r == 0 && c->is_rpc) {
				r = svc_lookup(
				    svc_path(), c, &t, err, sizeof(err));
				if (r == 0 && t.kind != SVC_EXEC)
					r = -EINVAL;
				if (r == 0)
					r = svc_spawn(t.path, c, NULL,
					    SVC_STDIO_PIPES_NOERR, NULL, &p);
			} else if (r == 0) {
				r = svc_spawn(NULL, c, NULL,
				    SVC_STDIO_PIPES_NOERR, NULL, &p);
			}
			qcmd_free(c);
			if (r < 0) {
				(void)fprintf(stderr,
				    "qrexec-client: local "
				    "command: %s\n",
				    strerror(-r));
				vchan_listener_close(&l);
				return QREXEC_EXIT_PROBLEM;
			}
		}
		chan = vchan_accept(&l, timeout_s ? timeout_s * 1000 : -1);
		if (chan < 0) {
			(void)fprintf(stderr,
			    "qrexec-client: data channel: "
			    "%s\n",
			    strerror(-chan));
			return QREXEC_EXIT_PROBLEM;
		}
		/* the qube's first byte comes next: confined before it */
		if (confine_data_phase(NULL) < 0)
			return QREXEC_EXIT_PROBLEM;
		version =
		    stream_handshake(chan, timeout_s ? timeout_s * 1000 : -1);
		if (version < 0) {
			(void)fprintf(stderr, "qrexec-client: handshake: %s\n",
			    strerror(-version));
			return leave(QREXEC_EXIT_PROBLEM);
		}
		memset(&sp, 0, sizeof(sp));
		sp.chan = chan;
		sp.is_service = false;
		sp.version = (uint32_t)version;
		if (local_cmd != NULL) {
			sp.sink = p.in_fd;
			sp.src = p.out_fd;
			sp.pid = p.pid;
		} else if (stdin_socket) {
			sp.sink = sp.src = 0;
		} else {
			sp.sink = 1;
			sp.src = 0;
		}
		sp.err = -1;
		sp.replace_stdout = replace_out;
		sp.replace_stderr = replace_err;
		if (prefix) {
			sp.prefix = prefix;
			sp.prefix_len = strlen(prefix);
		}
		stream_init(&s, &sp);
		r = stream_run(&s, sigfd);
		stream_free(&s);
		(void)close(chan);
		(void)close(fd);
		if (!exit_with_code)
			return leave(0);
		return leave(r < 0 ? 255 : r);
	}
}
