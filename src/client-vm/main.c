/*
 * main.c - qrexec-client-vm: call a qrexec service from inside a qube.
 *
 * Runs in a qube as any user.  It sends one MSG_TRIGGER_SERVICE4 to the
 * local qrexec-agent, waits for the connection details (or a refusal: the
 * agent closes the socket), then serves the data channel as its server
 * end.  Untrusted input: the data channel (the called service, possibly in
 * another qube), parsed by stream.c; the agent's 8-byte reply.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/log.h"
#include "lib/msg.h"
#include "lib/sock.h"
#include "lib/stream.h"
#include "lib/util.h"
#include "lib/vchan.h"

#define DEFAULT_AGENT_SOCKET    "/var/run/qubes/qrexec-agent"
#define DATA_CONNECT_TIMEOUT_MS (120 * 1000)

static void
usage(FILE *f, int code)
{
	(void)fprintf(f,
	    "usage: qrexec-client-vm [options] TARGET SERVICE[+ARG] "
	    "[LOCAL_PROGRAM [ARGS...]]\n"
	    "\n"
	    "Call SERVICE in the qube TARGET (a name, @default, @dispvm, ...),\n"
	    "as the policy allows.  Without LOCAL_PROGRAM the service's\n"
	    "output goes to stdout and stdin goes to the service; with it,\n"
	    "the program's stdin and stdout are connected to the service.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help                   show this help\n"
	    "  --agent-socket=PATH          the agent's socket (default %s)\n"
	    "  -t, --filter-escape-chars-stdout\n"
	    "                               replace non-printable bytes in the\n"
	    "                               service's output with '_' (default\n"
	    "                               when stdout is a terminal)\n"
	    "  -T, --filter-escape-chars-stderr  the same for stderr\n"
	    "  --no-filter-escape-chars-stdout, --no-filter-escape-chars-stderr\n"
	    "  -p, --prefix-data=DATA       send DATA before the input\n"
	    "  --use-stdin-socket           fd 0 is a socket used for both\n"
	    "                               directions\n"
	    "  -s, --source-qube=NAME       the original caller, for relays\n"
	    "  --buffer-size=N              accepted for compatibility\n"
	    "\n"
	    "Exit status: the service's exit code; 126 if the call was\n"
	    "refused; 125 on a qrexec problem; 255 if the connection broke;\n"
	    "1 if the local program failed; 2 on bad usage.\n",
	    DEFAULT_AGENT_SOCKET);
	exit(code);
}

int
main(int argc, char **argv)
{
	enum {
		OPT_NO_FILTER_STDOUT = 0x100,
		OPT_NO_FILTER_STDERR,
		OPT_USE_STDIN_SOCKET,
		OPT_BUFFER_SIZE,
	};
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"agent-socket", required_argument, NULL, 'a'},
	    {"filter-escape-chars-stdout", no_argument, NULL, 't'},
	    {"filter-escape-chars-stderr", no_argument, NULL, 'T'},
	    {"no-filter-escape-chars-stdout", no_argument, NULL,
	        OPT_NO_FILTER_STDOUT},
	    {"no-filter-escape-chars-stderr", no_argument, NULL,
	        OPT_NO_FILTER_STDERR},
	    {"prefix-data", required_argument, NULL, 'p'},
	    {"use-stdin-socket", no_argument, NULL, OPT_USE_STDIN_SOCKET},
	    {"source-qube", required_argument, NULL, 's'},
	    {"buffer-size", required_argument, NULL, OPT_BUFFER_SIZE},
	    {NULL, 0, NULL, 0},
	};
	const char *agent_socket = DEFAULT_AGENT_SOCKET, *prefix = NULL,
	           *source = NULL;
	int replace_out = -1, replace_err = -1;
	bool stdin_socket = false;
	struct qrexec_trigger4 t4;
	struct qrexec_exec_params ep;
	struct vchan_env env;
	struct vchan_listener l;
	struct vchan_addr a;
	struct stream_params sp;
	struct stream s;
	char target[QREXEC_DOMAIN_FIELD_LEN];
	const char *service;
	sigset_t mask;
	pid_t child = 0;
	int opt, fd, chan, version, sigfd, r, code;
	size_t got = 0, i;

	log_init("qrexec-client-vm", 1);
	while ((opt = getopt_long(argc, argv, "+htTa:p:s:", longopts, NULL)) !=
	    -1) {
		switch (opt) {
		case 'h':
			usage(stdout, 0);
			break;
		case 'a':
			agent_socket = optarg;
			break;
		case 't':
			replace_out = 1;
			break;
		case 'T':
			replace_err = 1;
			break;
		case OPT_NO_FILTER_STDOUT:
			replace_out = 0;
			break;
		case OPT_NO_FILTER_STDERR:
			replace_err = 0;
			break;
		case 'p':
			if (prefix != NULL)
				usage(stderr, 2);
			prefix = optarg;
			break;
		case 's':
			if (source != NULL)
				usage(stderr, 2);
			source = optarg;
			break;
		case OPT_USE_STDIN_SOCKET: {
			int type;
			socklen_t len = sizeof(type);

			if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) <
			        0 ||
			    type != SOCK_STREAM) {
				(void)fprintf(stderr,
				    "qrexec-client-vm: "
				    "--use-stdin-socket: stdin is not a stream "
				    "socket\n");
				return 2;
			}
			stdin_socket = true;
			break;
		}
		case OPT_BUFFER_SIZE:
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (argc - optind < 2)
		usage(stderr, 2);
	if (argc - optind > 2 && stdin_socket) {
		(void)fprintf(stderr,
		    "qrexec-client-vm: a local program cannot "
		    "be combined with --use-stdin-socket\n");
		return 2;
	}
	if (argc - optind == 2 && replace_out < 0)
		replace_out = isatty(1);
	if (replace_err < 0)
		replace_err = isatty(2);

	/* "$dispvm" is the old spelling of "@dispvm" */
	if (str_copy(target, sizeof(target), argv[optind]) < 0) {
		(void)fprintf(
		    stderr, "qrexec-client-vm: target name too long\n");
		return 2;
	}
	for (i = 0; target[i]; i++)
		if (target[i] == '$')
			target[i] = '@';
	service = argv[optind + 1];
	if (strlen(service) + 1 > QREXEC_MAX_SERVICE_NAME_LEN ||
	    (source && strlen(source) >= sizeof(t4.t4_source_domain))) {
		(void)fprintf(stderr, "qrexec-client-vm: name too long\n");
		return 2;
	}
	if (vchan_env_init(&env) < 0) {
		(void)fprintf(stderr,
		    "qrexec-client-vm: invalid VCHAN_* "
		    "environment\n");
		return 2;
	}
	(void)signal(SIGPIPE, SIG_IGN);

	fd = sock_connect(agent_socket);
	if (fd < 0) {
		(void)fprintf(stderr, "qrexec-client-vm: connect %s: %s\n",
		    agent_socket, strerror(-fd));
		return 1;
	}
	memset(&t4, 0, sizeof(t4));
	if (source)
		memcpy(t4.t4_source_domain, source, strlen(source));
	memcpy(t4.t4_target_domain, target, strlen(target));
	memcpy(t4.t4_ident, "SOCKET", 6);
	r = msg_send(fd, MSG_TRIGGER_SERVICE4, &t4, sizeof(t4), service,
	    strlen(service) + 1);
	if (r < 0) {
		(void)fprintf(stderr, "qrexec-client-vm: sending request: %s\n",
		    strerror(-r));
		return 1;
	}
	/* the agent answers with the raw connection details, or closes */
	r = io_read_all(fd, &ep, sizeof(ep), &got);
	if (r < 0 && got == 0) {
		(void)fprintf(stderr, "Request refused\n");
		return QREXEC_EXIT_REQUEST_REFUSED;
	}
	if (r < 0) {
		(void)fprintf(stderr,
		    "qrexec-client-vm: short reply from the "
		    "agent\n");
		return 1;
	}

	a.server_dom = env.my_dom;
	a.client_dom = ep.ep_connect_domain;
	a.port = ep.ep_connect_port;
	r = vchan_listen(&env, vchan_dir_dom(&env, &a), &a, &l);
	if (r < 0) {
		(void)fprintf(stderr, "qrexec-client-vm: data channel: %s\n",
		    strerror(-r));
		return QREXEC_EXIT_PROBLEM;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGUSR1);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0)
		fatal("signalfd");

	memset(&sp, 0, sizeof(sp));
	sp.is_service = false;
	sp.err = -1;
	if (argc - optind > 2) {
		int in[2], out[2];
		char pidenv[32];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) <
		        0 ||
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) < 0)
			fatal("socketpair");
		(void)snprintf(pidenv, sizeof(pidenv), "%d", (int)getpid());
		(void)setenv("QREXEC_AGENT_PID", pidenv, 1);
		child = fork();
		if (child < 0)
			fatal("fork");
		if (child == 0) {
			char **pargv = argv + optind + 2;
			sigset_t none;
			int k;

			sigemptyset(&none);
			(void)sigprocmask(SIG_SETMASK, &none, NULL);
			(void)signal(SIGPIPE, SIG_DFL);
			/* keep our own stdio reachable as SAVED_FD_n */
			for (k = 0; k < 3; k++) {
				char var[32];
				int d;

				if (k == 2 && !getenv("PASS_LOCAL_STDERR"))
					continue;
				d = dup(k);
				if (d < 0)
					_exit(1);
				(void)snprintf(var, sizeof(var), "%d", d);
				(void)setenv(k == 0 ? "SAVED_FD_0" :
				        k == 1      ? "SAVED_FD_1" :
				                      "SAVED_FD_2",
				    var, 1);
			}
			if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
				_exit(1);
			execv(pargv[0], pargv);
			(void)fprintf(stderr, "qrexec-client-vm: exec %s: %s\n",
			    pargv[0], strerror(errno));
			_exit(1);
		}
		(void)close(in[0]);
		(void)close(out[1]);
		sp.sink = in[1];
		sp.src = out[0];
		sp.pid = child;
	} else if (stdin_socket) {
		sp.sink = sp.src = 0;
	} else {
		sp.sink = 1;
		sp.src = 0;
	}

	chan = vchan_accept(&l, DATA_CONNECT_TIMEOUT_MS);
	if (chan < 0) {
		(void)fprintf(stderr, "qrexec-client-vm: data channel: %s\n",
		    strerror(-chan));
		return QREXEC_EXIT_PROBLEM;
	}
	version = stream_handshake(chan, DATA_CONNECT_TIMEOUT_MS);
	if (version < 0) {
		(void)fprintf(stderr, "qrexec-client-vm: handshake: %s\n",
		    strerror(-version));
		return QREXEC_EXIT_PROBLEM;
	}
	sp.chan = chan;
	sp.version = (uint32_t)version;
	sp.replace_stdout = replace_out > 0;
	sp.replace_stderr = replace_err > 0;
	if (prefix) {
		sp.prefix = prefix;
		sp.prefix_len = strlen(prefix);
	}
	stream_init(&s, &sp);
	code = stream_run(&s, sigfd);
	stream_free(&s);
	(void)close(chan);
	(void)close(fd);
	return code < 0 ? 255 : code;
}
