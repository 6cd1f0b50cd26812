/*
 * agent_main.c - bulkhead-policy-agent: the user's side of "ask".  It
 * listens on a UNIX socket for qrexec-policy-daemon's questions (one JSON
 * line a connection), asks on its terminal which target to allow (or
 * none), and answers "allow:TARGET" or "deny"; notifications are printed.
 *
 * Runs as the desktop user, in the foreground on a terminal.  Untrusted:
 * the question's JSON until it is parsed and every name in it checked
 * (the daemon is more trusted than a qube, but the names in the question
 * are the qubes' own, and they go to a terminal, so they are checked
 * against the qube-name character set before they are shown).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/sock.h"
#include "policy/policy.h"
#include "policy/prompt.h"

#define PROG               "bulkhead-policy-agent"
#define AGENT_MAX_MSG      65536u
#define AGENT_READ_TIMEOUT 5000

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: " PROG " [--socket PATH]\n"
	    "\n"
	    "The policy agent: answers the \"ask\" questions of "
	    "qrexec-policy-daemon\n"
	    "(run it with --ask-socket PATH) on this terminal, and prints "
	    "its\n"
	    "notifications.  Each question lists the targets the policy "
	    "allows; answer\n"
	    "with a number or a name, Enter for the default, or n to "
	    "deny.\n"
	    "\n"
	    "Protocol (one connection a message): the daemon sends one JSON "
	    "line,\n"
	    "{\"source\", \"service\", \"argument\", \"targets\": [...], "
	    "\"default_target\"}\n"
	    "and reads back \"allow:TARGET\" or \"deny\"; or it sends\n"
	    "{\"notify\": {\"resolution\", \"service\", \"argument\", "
	    "\"source\", \"target\"}}.\n"
	    "\n"
	    "Options:\n"
	    "  -s, --socket PATH   where to listen "
	    "[$XDG_RUNTIME_DIR/bulkhead-policy-agent.sock]\n"
	    "  -h, --help          show this help\n"
	    "\n"
	    "Exit status: 0 after SIGINT or SIGTERM, 1 on an error, 2 on a "
	    "usage error.\n"
	    "\n"
	    "Environment:\n"
	    "  XDG_RUNTIME_DIR     where the default socket goes\n");
}

static int
read_line(int fd, char *buf, size_t cap, size_t *ret_len)
{
	size_t len = 0;

	while (len < cap) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, AGENT_READ_TIMEOUT) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL)
			break;
	}
	*ret_len = len;
	return 0;
}

static void
say(int tty, const char *s)
{
	size_t off = 0, n = strlen(s);

	while (off < n) {
		ssize_t w = write(tty, s + off, n - off);

		if (w <= 0 && errno != EINTR)
			return;
		if (w > 0)
			off += (size_t)w;
	}
}

static void
handle(int fd, int tty)
{
	char *untrusted_buf = malloc(AGENT_MAX_MSG + 1);
	char answer[POLICY_PROMPT_ANSWER_MAX + 1];
	struct policy_agent_msg m;
	size_t len = 0;
	int r;

	if (untrusted_buf == NULL)
		return;
	if (read_line(fd, untrusted_buf, AGENT_MAX_MSG, &len) < 0 || len == 0) {
		free(untrusted_buf);
		return;
	}
	r = policy_agent_msg_parse(untrusted_buf, len, &m);
	free(untrusted_buf);
	if (r < 0) {
		(void)fprintf(
		    stderr, PROG ": invalid message: %s\n", strerror(-r));
		return;
	}
	if (m.is_notify) {
		char line[1024];

		(void)snprintf(line, sizeof(line),
		    "\nqrexec: %s: %s%s from %s to %s\n",
		    strcmp(m.resolution, "allow") == 0 ? "allowed" : "denied",
		    m.service, strcmp(m.argument, "+") == 0 ? "" : m.argument,
		    m.source, m.target);
		say(tty, line);
		policy_agent_msg_clear(&m);
		return;
	}
	{
		struct policy_prompt_q q = {
		    .source = m.source,
		    .service = m.service,
		    .argument = m.argument,
		    .targets = m.targets,
		    .ntargets = m.ntargets,
		    .default_target = m.default_target,
		};

		(void)policy_prompt(tty, tty, &q, answer);
	}
	/* answer is at most POLICY_PROMPT_ANSWER_MAX - 1 long: room for \n */
	memcpy(answer + strlen(answer), "\n", 2);
	if (send(fd, answer, strlen(answer), MSG_NOSIGNAL) < 0)
		(void)fprintf(
		    stderr, PROG ": answer not sent: %s\n", strerror(errno));
	policy_agent_msg_clear(&m);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sock_ident id;
	struct sigaction sa;
	char defpath[512];
	const char *path = NULL, *rt;
	int c, lfd, tty;

	while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		(void)fprintf(
		    stderr, PROG ": unexpected argument: %s\n", argv[optind]);
		return 2;
	}
	if (path == NULL) {
		rt = getenv("XDG_RUNTIME_DIR");
		if (rt == NULL || rt[0] != '/') {
			(void)fprintf(stderr,
			    PROG ": no --socket and no XDG_RUNTIME_DIR\n");
			return 2;
		}
		if (snprintf(defpath, sizeof(defpath),
		        "%s/bulkhead-policy-agent.sock",
		        rt) >= (int)sizeof(defpath)) {
			(void)fprintf(
			    stderr, PROG ": XDG_RUNTIME_DIR too long\n");
			return 1;
		}
		path = defpath;
	}
	tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty < 0) {
		(void)fprintf(stderr, PROG ": /dev/tty: %s\n", strerror(errno));
		return 1;
	}
	/* the daemon's user must reach it: group access, nobody else */
	lfd = sock_listen(path, 0660, false, &id);
	if (lfd < 0) {
		(void)fprintf(stderr, PROG ": %s: %s\n", path, strerror(-lfd));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	(void)fprintf(stderr, PROG ": listening on %s\n", path);
	while (!quit) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			(void)fprintf(
			    stderr, PROG ": accept: %s\n", strerror(errno));
			break;
		}
		handle(fd, tty);
		(void)close(fd);
	}
	sock_unlink_if_ours(path, &id);
	(void)close(lfd);
	(void)close(tty);
	return quit ? 0 : 1;
}
