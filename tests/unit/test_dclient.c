/*
 * test_dclient.c - the client side of a qrexec-daemon's socket and the
 * admin-side executors (src/lib/dclient.c), against fake daemons, callers
 * and agents that this test plays in a helper thread (cmocka asserts only
 * in the main thread: the helper records the first failed check).
 *
 *   dclient_is_adminvm;
 *   dclient_connect: the HELLO exchange, no daemon, a stale socket, an
 *     old daemon, a wrong message, a daemon that hangs up;
 *   dclient_negotiate, dclient_service_connect: the request on the wire,
 *     replies of the wrong type or length, idents at and over the limit;
 *   dclient_run_local_service: an executable service, a socket service
 *     (descriptor first), a shell command, a prefix, a missing service
 *     (127, stderr EOF first), a broken config, no channel, a failed
 *     handshake;
 *   dclient_execute_vm: flat layout (no relay) and per-qube layout (the
 *     relay joins the caller's and the target's channels), and failures.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/dclient.h"
#include "lib/io.h"
#include "lib/msg.h"
#include "lib/sock.h"
#include "lib/util.h"
#include "lib/vchan.h"
#include "unit.h"

/* ---- the helper thread ---- */

/* First failed check in the helper thread (its line), 0 if none. */
static int helper_fail;

#define CHECK(x)                                                               \
	do {                                                                   \
		if (!(x)) {                                                    \
			if (helper_fail == 0)                                  \
				helper_fail = __LINE__;                        \
			goto out;                                              \
		}                                                              \
	} while (0)

struct fixture {
	char *dir;       /* daemon sockets, vchan sockets, services */
	char *svc, *cfg; /* service and config directories */
	struct vchan_env env;
	pthread_t t;
	bool running;
	void *arg;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	sigset_t mask;

	if (f == NULL)
		return -1;
	helper_fail = 0;
	fault_reset();
	/*
	 * SIGCHLD must reach the signalfd of the code under test, so no
	 * thread may take it: block it before any helper thread starts.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -1;
	f->dir = unit_tmpdir();
	f->svc = unit_path(f->dir, "svc");
	f->cfg = unit_path(f->dir, "cfg");
	if (mkdir(f->svc, 0700) < 0 || mkdir(f->cfg, 0700) < 0)
		return -1;
	(void)setenv("QREXEC_SERVICE_PATH", f->svc, 1);
	(void)setenv("QUBES_RPC_CONFIG_PATH", f->cfg, 1);
	memset(&f->env, 0, sizeof(f->env));
	f->env.my_dom = 0;
	f->env.layout = VCHAN_LAYOUT_FLAT;
	(void)snprintf(f->env.dir, sizeof(f->env.dir), "%s", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->running)
		(void)pthread_join(f->t, NULL);
	(void)unsetenv("QREXEC_SERVICE_PATH");
	(void)unsetenv("QUBES_RPC_CONFIG_PATH");
	(void)unsetenv("QREXEC_REMOTE_DOMAIN");
	unit_rmtree(f->dir);
	free(f->svc);
	free(f->cfg);
	free(f);
	return 0;
}

static void
start(struct fixture *f, void *(*fn)(void *), void *arg)
{
	f->arg = arg;
	assert_int_equal(pthread_create(&f->t, NULL, fn, arg), 0);
	f->running = true;
}

static void
join(struct fixture *f)
{
	assert_int_equal(pthread_join(f->t, NULL), 0);
	f->running = false;
	assert_int_equal(helper_fail, 0);
}

/* ---- dclient_is_adminvm ---- */

static void
test_is_adminvm(void **state)
{
	static const char *const yes[] = {
	    "dom0", "@adminvm", "uuid:00000000-0000-0000-0000-000000000000"};
	static const char *const no[] = {"", "dom", "dom00", "Dom0",
	    "@adminvm ", "adminvm", "uuid:00000000-0000-0000-0000-000000000001",
	    "00000000-0000-0000-0000-000000000000", "0"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(dclient_is_adminvm(yes[i]));
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(dclient_is_adminvm(no[i]));
}

/* ---- a fake daemon ---- */

enum daemon_mode {
	D_NORMAL,     /* HELLO v3, then the exec/connect conversation */
	D_OLD,        /* HELLO v2 */
	D_WRONG_TYPE, /* something else where HELLO is due */
	D_HANG_UP,    /* accept and close */
};

struct daemon {
	int lfd;
	enum daemon_mode mode;
	uint32_t got_version; /* the client's HELLO */
	bool client_said_hello;
	/* the conversation after HELLO (D_NORMAL) */
	uint32_t want_type;    /* 0: none */
	const char *want_tail; /* the command, with its NUL */
	size_t want_taillen;
	uint32_t want_domain;
	uint32_t reply_type; /* 0: the request's type */
	uint32_t reply_domain, reply_port;
	bool expect_service_connect; /* then MSG_SERVICE_CONNECT */
	char got_ident[QREXEC_IDENT_LEN];
	uint32_t got_sc_domain, got_sc_port;
};

static void *
daemon_main(void *arg)
{
	struct daemon *d = arg;
	struct qrexec_exec_params ep;
	struct qrexec_hdr h;
	uint8_t *body = NULL;
	int fd;

	fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(fd >= 0);
	switch (d->mode) {
	case D_HANG_UP:
		goto out;
	case D_OLD:
		CHECK(msg_send_hello(fd, 2) == 0);
		/* the client must not answer an old daemon's HELLO */
		CHECK(msg_recv(fd, 64, &h, &body) == -EPIPE);
		goto out;
	case D_WRONG_TYPE:
		CHECK(msg_send(fd, MSG_EXEC_CMDLINE, "abcd", 4, NULL, 0) == 0);
		CHECK(msg_recv(fd, 64, &h, &body) == -EPIPE);
		goto out;
	case D_NORMAL:
		break;
	}
	CHECK(msg_send_hello(fd, QREXEC_CLIENT_PROTOCOL_VERSION) == 0);
	CHECK(msg_recv_hello(fd, &d->got_version) == 0);
	d->client_said_hello = true;
	if (d->want_type == 0)
		goto service_connect;
	CHECK(msg_recv(fd, 65536 + 8, &h, &body) == 0);
	CHECK(h.hdr_type == d->want_type);
	CHECK(h.hdr_len == sizeof(ep) + d->want_taillen);
	memcpy(&ep, body, sizeof(ep));
	CHECK(ep.ep_connect_domain == d->want_domain);
	CHECK(ep.ep_connect_port == 0);
	CHECK(memcmp(body + sizeof(ep), d->want_tail, d->want_taillen) == 0);
	free(body);
	body = NULL;
	ep.ep_connect_domain = d->reply_domain;
	ep.ep_connect_port = d->reply_port;
	CHECK(msg_send(fd, d->reply_type ? d->reply_type : d->want_type, &ep,
	          sizeof(ep), NULL, 0) == 0);
service_connect:
	if (!d->expect_service_connect)
		goto out;
	CHECK(msg_recv(fd, 64, &h, &body) == 0);
	CHECK(h.hdr_type == MSG_SERVICE_CONNECT);
	CHECK(h.hdr_len == sizeof(ep) + QREXEC_IDENT_LEN);
	memcpy(&ep, body, sizeof(ep));
	d->got_sc_domain = ep.ep_connect_domain;
	d->got_sc_port = ep.ep_connect_port;
	memcpy(d->got_ident, body + sizeof(ep), QREXEC_IDENT_LEN);
out:
	free(body);
	if (fd >= 0)
		(void)close(fd);
	return NULL;
}

/* A daemon socket for qube `name` in f->dir. */
static int
daemon_socket(struct fixture *f, const char *name)
{
	char path[PATH_MAX];

	(void)snprintf(path, sizeof(path), "%s/qrexec.%s", f->dir, name);
	return unit_listen(path);
}

static void
test_connect(void **state)
{
	struct fixture *f = *state;
	struct daemon d = {.mode = D_NORMAL};
	int fd;

	d.lfd = daemon_socket(f, "work");
	start(f, daemon_main, &d);
	fd = dclient_connect(f->dir, "work");
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	join(f);
	assert_true(d.client_said_hello);
	assert_int_equal(d.got_version, QREXEC_CLIENT_PROTOCOL_VERSION);
	(void)close(fd);
	(void)close(d.lfd);
}

static void
test_connect_errors(void **state)
{
	static const struct {
		enum daemon_mode mode;
		int want;
	} cases[] = {
	    {D_OLD, -EPROTONOSUPPORT},
	    {D_WRONG_TYPE, -EBADMSG},
	    {D_HANG_UP, -EPIPE},
	};
	struct fixture *f = *state;
	char name[PATH_MAX];
	size_t i;
	int fd;

	/* no daemon: no socket, or a socket nobody listens on */
	assert_int_equal(dclient_connect(f->dir, "none"), -ENOENT);
	fd = daemon_socket(f, "stale");
	(void)close(fd);
	assert_int_equal(dclient_connect(f->dir, "stale"), -ENOENT);
	/* a name that makes the path too long */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(dclient_connect(f->dir, name), -ENAMETOOLONG);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct daemon d = {.mode = cases[i].mode};

		d.lfd = daemon_socket(f, "bad");
		start(f, daemon_main, &d);
		assert_int_equal(dclient_connect(f->dir, "bad"), cases[i].want);
		join(f);
		(void)close(d.lfd);
		(void)unlink(strcat(strcpy(name, f->dir), "/qrexec.bad"));
	}
}

static void
test_negotiate(void **state)
{
	struct fixture *f = *state;
	struct daemon d = {.mode = D_NORMAL,
	    .want_type = MSG_EXEC_CMDLINE,
	    .want_tail = "user:QUBESRPC a.b src",
	    .want_taillen = 22,
	    .want_domain = 7,
	    .reply_domain = 9,
	    .reply_port = 513,
	    .expect_service_connect = true};
	uint32_t dom = 0, port = 0;
	char ident[QREXEC_IDENT_LEN] = "SOCKET5";
	int fd;

	d.lfd = daemon_socket(f, "9");
	start(f, daemon_main, &d);
	fd = dclient_connect(f->dir, "9");
	assert_true(fd >= 0);
	assert_int_equal(dclient_negotiate(fd, MSG_EXEC_CMDLINE, 7,
	                     "user:QUBESRPC a.b src", 22, &dom, &port),
	    0);
	assert_int_equal(dom, 9);
	assert_int_equal(port, 513);
	assert_int_equal(dclient_service_connect(fd, "SOCKET5", 9, 513), 0);
	join(f);
	assert_int_equal(d.got_sc_domain, 9);
	assert_int_equal(d.got_sc_port, 513);
	/* the ident goes out as 32 bytes, NUL-padded */
	assert_memory_equal(d.got_ident, ident, QREXEC_IDENT_LEN);
	(void)close(fd);
	(void)close(d.lfd);
}

static void
test_negotiate_replies(void **state)
{
	struct qrexec_exec_params ep = {
	    .ep_connect_domain = 3, .ep_connect_port = 600};
	uint32_t dom = 77, port = 77;
	struct qrexec_hdr h;
	uint8_t *body;
	int sv[2];

	(void)state;
	/* the reply is queued before the request goes out */
	unit_socketpair(sv);
	unit_send_msg(sv[1], MSG_JUST_EXEC, &ep, sizeof(ep));
	assert_int_equal(
	    dclient_negotiate(sv[0], MSG_JUST_EXEC, 1, "c", 2, &dom, &port), 0);
	assert_int_equal(dom, 3);
	assert_int_equal(port, 600);
	unit_recv_msg(sv[1], &h, &body);
	assert_int_equal(h.hdr_type, MSG_JUST_EXEC);
	assert_int_equal(h.hdr_len, 10);
	free(body);
	/* a reply of another type */
	dom = port = 77;
	unit_send_msg(sv[1], MSG_EXEC_CMDLINE, &ep, sizeof(ep));
	assert_int_equal(
	    dclient_negotiate(sv[0], MSG_JUST_EXEC, 1, "c", 2, &dom, &port),
	    -EBADMSG);
	assert_int_equal(dom, 77);
	/* one byte short, one byte long */
	unit_send_msg(sv[1], MSG_JUST_EXEC, &ep, sizeof(ep) - 1);
	assert_int_equal(
	    dclient_negotiate(sv[0], MSG_JUST_EXEC, 1, "c", 2, &dom, &port),
	    -EBADMSG);
	unit_send_msg(sv[1], MSG_JUST_EXEC, "123456789", 9);
	assert_int_equal(
	    dclient_negotiate(sv[0], MSG_JUST_EXEC, 1, "c", 2, &dom, &port),
	    -EMSGSIZE);
	(void)close(sv[0]);
	(void)close(sv[1]);
	/* the daemon hangs up: after the request, or before it */
	unit_socketpair(sv);
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	assert_int_equal(
	    dclient_negotiate(sv[0], MSG_JUST_EXEC, 1, "c", 2, &dom, &port),
	    -EPIPE);
	(void)close(sv[1]);
	assert_int_equal(
	    dclient_negotiate(sv[0], MSG_JUST_EXEC, 1, "c", 2, &dom, &port),
	    -EPIPE);
	assert_int_equal(dclient_service_connect(sv[0], "x", 1, 2), -EPIPE);
	(void)close(sv[0]);
}

static void
test_service_connect_ident(void **state)
{
	char ident[QREXEC_IDENT_LEN + 1];
	struct qrexec_hdr h;
	uint8_t *body;
	int sv[2];

	(void)state;
	unit_socketpair(sv);
	/* 31 characters and the NUL: the longest; 32: too long */
	memset(ident, 'i', sizeof(ident));
	ident[QREXEC_IDENT_LEN - 1] = '\0';
	assert_int_equal(dclient_service_connect(sv[0], ident, 4, 5), 0);
	unit_recv_msg(sv[1], &h, &body);
	assert_int_equal(h.hdr_type, MSG_SERVICE_CONNECT);
	assert_int_equal(h.hdr_len, 8 + QREXEC_IDENT_LEN);
	assert_memory_equal(body + 8, ident, QREXEC_IDENT_LEN);
	free(body);
	ident[QREXEC_IDENT_LEN - 1] = 'i';
	ident[QREXEC_IDENT_LEN] = '\0';
	assert_int_equal(
	    dclient_service_connect(sv[0], ident, 4, 5), -ENAMETOOLONG);
	/* nothing was sent */
	assert_int_equal(unit_pending(sv[1]), 0);
	(void)close(sv[0]);
	(void)close(sv[1]);
}

/* ---- the caller's end of a VM -> admin call ---- */

struct caller {
	struct fixture *f;
	struct vchan_listener l;
	const char *input; /* sent as STDIN, then STDIN EOF */
	int sock_lfd;      /* a socket service to play too (-1: none) */
	const char *sock_reply;
	bool hang_up; /* accept and close */
	/* what came back */
	char out[4096], err[4096], sock_got[4096];
	size_t outlen, errlen, sock_gotlen;
	int32_t code;
	int n;
	uint32_t type[64], len[64];
};

static void *
caller_main(void *arg)
{
	struct caller *c = arg;
	struct qrexec_hdr h;
	uint8_t *body = NULL;
	uint32_t v;
	int fd, s = -1;

	fd = vchan_accept(&c->l, 60000);
	CHECK(fd >= 0);
	if (c->hang_up)
		goto out;
	CHECK(msg_send_hello(fd, QREXEC_PROTOCOL_VERSION) == 0);
	CHECK(msg_recv_hello(fd, &v) == 0);
	CHECK(v == QREXEC_PROTOCOL_VERSION);
	/* input; a service that failed may have hung up already */
	if (c->input != NULL && c->input[0] != '\0')
		(void)msg_send(
		    fd, MSG_DATA_STDIN, c->input, strlen(c->input), NULL, 0);
	(void)msg_send(fd, MSG_DATA_STDIN, NULL, 0, NULL, 0);
	if (c->sock_lfd >= 0) {
		/* the socket service: read all, then answer */
		s = accept4(c->sock_lfd, NULL, NULL, SOCK_CLOEXEC);
		CHECK(s >= 0);
		for (;;) {
			ssize_t n = read(s, c->sock_got + c->sock_gotlen,
			    sizeof(c->sock_got) - c->sock_gotlen);

			CHECK(n >= 0);
			if (n == 0)
				break;
			c->sock_gotlen += (size_t)n;
		}
		CHECK(
		    io_write_all(s, c->sock_reply, strlen(c->sock_reply)) == 0);
		(void)close(s);
		s = -1;
	}
	for (;;) {
		CHECK(msg_recv(fd, 65536, &h, &body) == 0);
		CHECK(c->n < 64);
		c->type[c->n] = h.hdr_type;
		c->len[c->n] = h.hdr_len;
		c->n++;
		if (h.hdr_type == MSG_DATA_STDOUT) {
			CHECK(c->outlen + h.hdr_len < sizeof(c->out));
			if (h.hdr_len > 0)
				memcpy(c->out + c->outlen, body, h.hdr_len);
			c->outlen += h.hdr_len;
		} else if (h.hdr_type == MSG_DATA_STDERR) {
			CHECK(c->errlen + h.hdr_len < sizeof(c->err));
			if (h.hdr_len > 0)
				memcpy(c->err + c->errlen, body, h.hdr_len);
			c->errlen += h.hdr_len;
		} else {
			CHECK(h.hdr_type == MSG_DATA_EXIT_CODE);
			CHECK(h.hdr_len == 4);
			memcpy(&c->code, body, 4);
			break;
		}
		free(body);
		body = NULL;
	}
out:
	free(body);
	if (s >= 0)
		(void)close(s);
	if (fd >= 0)
		(void)close(fd);
	return NULL;
}

/* Listen as the caller on (domain 5, port 513) and start the thread. */
static void
caller_start(struct fixture *f, struct caller *c)
{
	struct vchan_addr a = {.server_dom = 5, .client_dom = 0, .port = 513};

	c->f = f;
	assert_int_equal(vchan_listen(&f->env, 0, &a, &c->l), 0);
	start(f, caller_main, c);
}

static int
run_local(struct fixture *f, const char *cmdline, const char *prefix)
{
	return dclient_run_local_service(
	    &f->env, 5, 513, "work", cmdline, 5000, prefix, NULL);
}

static void
test_local_exec(void **state)
{
	struct fixture *f = *state;
	struct caller c = {.input = "ping\n", .sock_lfd = -1};

	unit_write_file(f->svc, "qubes.Echo",
	    "#!/bin/sh\n"
	    "read x; echo \"$x $1 $QREXEC_REMOTE_DOMAIN\"; exit 3\n",
	    0755);
	caller_start(f, &c);
	assert_int_equal(run_local(f, "QUBESRPC qubes.Echo+arg work", NULL), 3);
	join(f);
	assert_int_equal(c.code, 3);
	c.out[c.outlen] = '\0';
	assert_string_equal(c.out, "ping arg work\n");
	/* stderr is inherited, so it is closed at once */
	assert_int_equal(c.type[0], MSG_DATA_STDERR);
	assert_int_equal(c.len[0], 0);
	assert_int_equal(c.type[c.n - 1], MSG_DATA_EXIT_CODE);
}

static void
test_local_socket(void **state)
{
	struct fixture *f = *state;
	struct caller c = {.input = "request", .sock_reply = "answer"};
	char *p = unit_path(f->svc, "qubes.Sock");
	static const char desc[] = "qubes.Sock+x work";

	c.sock_lfd = unit_listen(p);
	free(p);
	caller_start(f, &c);
	assert_int_equal(run_local(f, "QUBESRPC qubes.Sock+x work", NULL), 0);
	join(f);
	(void)close(c.sock_lfd);
	/* the service got the descriptor and its NUL, then the data */
	assert_int_equal(c.sock_gotlen, sizeof(desc) + 7);
	assert_memory_equal(c.sock_got, desc, sizeof(desc));
	assert_memory_equal(c.sock_got + sizeof(desc), "request", 7);
	c.out[c.outlen] = '\0';
	assert_string_equal(c.out, "answer");
	assert_int_equal(c.code, 0);
}

static void
test_local_socket_no_descriptor(void **state)
{
	struct fixture *f = *state;
	struct caller c = {.input = "request", .sock_reply = "answer"};
	char *p = unit_path(f->svc, "qubes.Sock");

	unit_write_file(
	    f->cfg, "qubes.Sock", "skip-service-descriptor = true\n", 0644);
	c.sock_lfd = unit_listen(p);
	free(p);
	caller_start(f, &c);
	assert_int_equal(run_local(f, "QUBESRPC qubes.Sock+x work", NULL), 0);
	join(f);
	(void)close(c.sock_lfd);
	assert_int_equal(c.sock_gotlen, 7);
	assert_memory_equal(c.sock_got, "request", 7);
}

static void
test_local_shell(void **state)
{
	struct fixture *f = *state;
	struct caller c = {.input = "abc", .sock_lfd = -1};

	/* a plain command, with a prefix before its output */
	caller_start(f, &c);
	assert_int_equal(run_local(f, "cat; echo; exit 4", "PFX:"), 4);
	join(f);
	c.out[c.outlen] = '\0';
	assert_string_equal(c.out, "PFX:abc\n");
	assert_int_equal(c.code, 4);
}

static void
test_local_failures(void **state)
{
	struct fixture *f = *state;
	struct caller c = {.sock_lfd = -1};

	/* no such service: 127, as stderr EOF, stdout EOF, exit code */
	caller_start(f, &c);
	assert_int_equal(run_local(f, "QUBESRPC qubes.None work", NULL),
	    QREXEC_EXIT_SERVICE_NOT_FOUND);
	join(f);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.type[0], MSG_DATA_STDERR);
	assert_int_equal(c.type[1], MSG_DATA_STDOUT);
	assert_int_equal(c.len[0] + c.len[1], 0);
	assert_int_equal(c.code, QREXEC_EXIT_SERVICE_NOT_FOUND);

	/* a config that does not parse: 125 */
	memset(&c, 0, sizeof(c));
	c.sock_lfd = -1;
	unit_write_file(f->svc, "qubes.Cfg", "#!/bin/sh\n", 0755);
	unit_write_file(f->cfg, "qubes.Cfg", "wait-for-session = 01\n", 0644);
	caller_start(f, &c);
	assert_int_equal(
	    run_local(f, "QUBESRPC qubes.Cfg work", NULL), QREXEC_EXIT_PROBLEM);
	join(f);
	assert_int_equal(c.code, QREXEC_EXIT_PROBLEM);

	/* a command line that does not parse: 125 */
	memset(&c, 0, sizeof(c));
	c.sock_lfd = -1;
	caller_start(f, &c);
	assert_int_equal(
	    run_local(f, "QUBESRPC bad/name work", NULL), QREXEC_EXIT_PROBLEM);
	join(f);
	assert_int_equal(c.code, QREXEC_EXIT_PROBLEM);

	/* nobody on the channel */
	assert_int_equal(dclient_run_local_service(
	                     &f->env, 5, 999, "work", "true", 0, NULL, NULL),
	    QREXEC_EXIT_PROBLEM);

	/* the caller hangs up before the handshake */
	memset(&c, 0, sizeof(c));
	c.sock_lfd = -1;
	c.hang_up = true;
	caller_start(f, &c);
	assert_int_equal(run_local(f, "true", NULL), QREXEC_EXIT_PROBLEM);
	join(f);
}

static int
fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n - 1;
}

/*
 * Regression: when the data channel could not be connected or its
 * handshake failed, the service already started for the call kept its
 * stdin/stdout sockets (or the socket service its connection) open in
 * this process: leaked fds, and a service waiting forever for input.
 */
static void
test_regress_local_service_fd_leak(void **state)
{
	struct fixture *f = *state;
	struct caller c = {.sock_lfd = -1, .hang_up = true};
	char *p = unit_path(f->svc, "qubes.Sock");
	int fds, lfd, status;

	/* no channel: a started shell command */
	fds = fd_count();
	assert_int_equal(dclient_run_local_service(&f->env, 5, 999, "work",
	                     "exec cat", 0, NULL, NULL),
	    QREXEC_EXIT_PROBLEM);
	assert_int_equal(fd_count(), fds);
	/* the service saw its input end, so it ends */
	assert_true(waitpid(-1, &status, 0) > 0);
	assert_true(WIFEXITED(status));
	/* no channel: a socket service's connection */
	lfd = unit_listen(p);
	free(p);
	fds = fd_count();
	assert_int_equal(dclient_run_local_service(&f->env, 5, 999, "work",
	                     "QUBESRPC qubes.Sock work", 0, NULL, NULL),
	    QREXEC_EXIT_PROBLEM);
	assert_int_equal(fd_count(), fds);
	(void)close(lfd);
	/* a failed handshake (the caller's fds are gone after join) */
	fds = fd_count();
	caller_start(f, &c);
	assert_int_equal(run_local(f, "exec cat", NULL), QREXEC_EXIT_PROBLEM);
	join(f);
	assert_int_equal(fd_count(), fds);
	assert_true(waitpid(-1, &status, 0) > 0);
}

static void
test_local_wait_for_session(void **state)
{
	struct fixture *f = *state;
	struct caller c = {.sock_lfd = -1, .input = "x\n"};
	char *marker = unit_path(f->dir, "session"), script[512], *got;
	int fd;

	(void)snprintf(script, sizeof(script),
	    "#!/bin/sh\necho \"$QREXEC_REMOTE_DOMAIN\" >> %s\n", marker);
	unit_write_file(f->svc, "qubes.WaitForSession", script, 0755);
	unit_write_file(f->svc, "qubes.Echo", "#!/bin/sh\ncat\n", 0755);
	unit_write_file(f->cfg, "qubes.Echo", "wait-for-session = 1\n", 0644);
	/* the session is waited for before the service starts */
	caller_start(f, &c);
	assert_int_equal(run_local(f, "QUBESRPC qubes.Echo work", NULL), 0);
	join(f);
	c.out[c.outlen] = '\0';
	assert_string_equal(c.out, "x\n");
	/* but not for a "nogui:" call */
	memset(&c, 0, sizeof(c));
	c.sock_lfd = -1;
	caller_start(f, &c);
	assert_int_equal(
	    run_local(f, "nogui:QUBESRPC qubes.Echo work", NULL), 0);
	join(f);
	fd = open(marker, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	(void)unit_read_eof(fd, &got);
	(void)close(fd);
	assert_string_equal(got, "work\n");
	free(got);
	free(marker);
}

static void
test_local_spawn_failure(void **state)
{
	struct fixture *f = *state;
	struct caller c = {.sock_lfd = -1};

	/* the command cannot be started: 125 on the channel */
	caller_start(f, &c);
	fault_set(F_FORK, -1, 0, 1, EAGAIN);
	assert_int_equal(run_local(f, "true", NULL), QREXEC_EXIT_PROBLEM);
	fault_reset();
	join(f);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.code, QREXEC_EXIT_PROBLEM);
}

/* ---- dclient_execute_vm ---- */

#define VM_CMD "user:QUBESRPC qubes.Svc vm12"

struct vmcall {
	struct fixture *f;
	struct daemon target, source;
	bool relay;
	struct vchan_listener caller; /* the caller's end, per-qube */
	char got_by_target[16], got_by_caller[16];
};

static void *
vmcall_main(void *arg)
{
	struct vmcall *v = arg;
	struct vchan_addr a = {.server_dom = 12, .client_dom = 5, .port = 600};
	int qfd = -1, tfd = -1;

	/* the target's daemon, then the source's */
	(void)daemon_main(&v->target);
	if (v->source.lfd >= 0)
		(void)daemon_main(&v->source);
	if (!v->relay || helper_fail != 0)
		goto out;
	/* the target's agent connects in its own directory */
	tfd = vchan_connect(&v->f->env, 5, &a, 60000);
	CHECK(tfd >= 0);
	/* the relay reaches the caller in the caller's directory */
	qfd = vchan_accept(&v->caller, 60000);
	CHECK(qfd >= 0);
	CHECK(io_write_all(qfd, "from caller", 11) == 0);
	CHECK(shutdown(qfd, SHUT_WR) == 0);
	CHECK(io_write_all(tfd, "from target", 11) == 0);
	CHECK(shutdown(tfd, SHUT_WR) == 0);
	CHECK(io_read_all(tfd, v->got_by_target, 11, NULL) == 0);
	CHECK(read(tfd, v->got_by_target + 11, 1) == 0);
	CHECK(io_read_all(qfd, v->got_by_caller, 11, NULL) == 0);
	CHECK(read(qfd, v->got_by_caller + 11, 1) == 0);
out:
	if (tfd >= 0)
		(void)close(tfd);
	if (qfd >= 0)
		(void)close(qfd);
	return NULL;
}

static void
vmcall_prepare(struct fixture *f, struct vmcall *v, bool just_exec, bool relay)
{
	struct vchan_addr a = {.server_dom = 12, .client_dom = 5, .port = 600};
	char *p;

	memset(v, 0, sizeof(*v));
	v->f = f;
	v->relay = relay;
	v->caller.fd = -1;
	v->target.mode = D_NORMAL;
	v->target.lfd = daemon_socket(f, "target");
	v->target.want_type = just_exec ? MSG_JUST_EXEC : MSG_EXEC_CMDLINE;
	v->target.want_tail = VM_CMD;
	v->target.want_taillen = sizeof(VM_CMD);
	v->target.want_domain = 12;
	v->target.reply_domain = 5;
	v->target.reply_port = 600;
	/* the source's daemon hears only MSG_SERVICE_CONNECT */
	v->source.mode = D_NORMAL;
	v->source.lfd = daemon_socket(f, "12");
	v->source.expect_service_connect = true;
	if (!relay)
		return;
	f->env.layout = VCHAN_LAYOUT_PER_QUBE;
	p = unit_path(f->dir, "12");
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = unit_path(f->dir, "5");
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	/* the caller's qrexec-client-vm listens in its own directory */
	assert_int_equal(vchan_listen(&f->env, 12, &a, &v->caller), 0);
}

static void
vmcall_done(struct vmcall *v)
{
	char *p;

	vchan_listener_close(&v->caller);
	if (v->target.lfd >= 0)
		(void)close(v->target.lfd);
	if (v->source.lfd >= 0)
		(void)close(v->source.lfd);
	p = unit_path(v->f->dir, "qrexec.target");
	(void)unlink(p);
	free(p);
	p = unit_path(v->f->dir, "qrexec.12");
	(void)unlink(p);
	free(p);
}

static void
check_service_connect(struct vmcall *v)
{
	char want[QREXEC_IDENT_LEN] = "SOCKET9";

	assert_true(v->source.client_said_hello);
	assert_int_equal(v->source.got_sc_domain, 5);
	assert_int_equal(v->source.got_sc_port, 600);
	assert_memory_equal(v->source.got_ident, want, QREXEC_IDENT_LEN);
}

static void
test_execute_vm_flat(void **state)
{
	struct fixture *f = *state;
	struct vmcall v;

	/* one directory for all: the qubes meet without us */
	vmcall_prepare(f, &v, false, false);
	start(f, vmcall_main, &v);
	assert_int_equal(dclient_execute_vm(&f->env, f->dir, "target", 12,
	                     VM_CMD, "SOCKET9", false, NULL),
	    0);
	join(f);
	assert_true(v.target.client_said_hello);
	check_service_connect(&v);
	vmcall_done(&v);

	/* MSG_JUST_EXEC for a call without data */
	vmcall_prepare(f, &v, true, false);
	start(f, vmcall_main, &v);
	assert_int_equal(dclient_execute_vm(&f->env, f->dir, "target", 12,
	                     VM_CMD, "SOCKET9", true, NULL),
	    0);
	join(f);
	check_service_connect(&v);
	vmcall_done(&v);
}

static void
test_execute_vm_relay(void **state)
{
	struct fixture *f = *state;
	struct vmcall v;
	struct stat st;
	char path[PATH_MAX];
	struct vchan_addr a = {.server_dom = 12, .client_dom = 5, .port = 600};

	/* per-qube directories: this process relays between the qubes */
	vmcall_prepare(f, &v, false, true);
	start(f, vmcall_main, &v);
	assert_int_equal(dclient_execute_vm(&f->env, f->dir, "target", 12,
	                     VM_CMD, "SOCKET9", false, NULL),
	    0);
	join(f);
	check_service_connect(&v);
	assert_memory_equal(v.got_by_target, "from caller", 11);
	assert_memory_equal(v.got_by_caller, "from target", 11);
	/* the relay's listener in the target's directory is gone */
	assert_int_equal(vchan_path(&f->env, 5, &a, path, sizeof(path)), 0);
	assert_int_equal(lstat(path, &st), -1);
	vmcall_done(&v);
}

static void
test_execute_vm_failures(void **state)
{
	struct fixture *f = *state;
	struct vchan_addr a = {.server_dom = 12, .client_dom = 5, .port = 600};
	char path[PATH_MAX], *p;
	struct stat st;
	struct vmcall v;

	/* the target is not running */
	assert_int_equal(dclient_execute_vm(&f->env, f->dir, "target", 12,
	                     VM_CMD, "SOCKET9", false, NULL),
	    -ENOENT);

	/* the target's daemon answers with the wrong message */
	vmcall_prepare(f, &v, false, false);
	v.target.reply_type = MSG_JUST_EXEC;
	(void)close(v.source.lfd);
	v.source.lfd = -1;
	start(f, vmcall_main, &v);
	assert_int_equal(dclient_execute_vm(&f->env, f->dir, "target", 12,
	                     VM_CMD, "SOCKET9", false, NULL),
	    -EBADMSG);
	join(f);
	vmcall_done(&v);

	/* the source is not running: the relay's listener is removed */
	vmcall_prepare(f, &v, false, true);
	(void)close(v.source.lfd);
	v.source.lfd = -1;
	p = unit_path(f->dir, "qrexec.12");
	(void)unlink(p);
	free(p);
	v.relay = false; /* nobody to relay for */
	start(f, vmcall_main, &v);
	assert_int_equal(dclient_execute_vm(&f->env, f->dir, "target", 12,
	                     VM_CMD, "SOCKET9", false, NULL),
	    -ENOENT);
	join(f);
	assert_int_equal(vchan_path(&f->env, 5, &a, path, sizeof(path)), 0);
	assert_int_equal(lstat(path, &st), -1);
	vmcall_done(&v);

	/* the caller's directory is broken: its channel cannot be reached */
	p = unit_path(f->dir, "12");
	assert_int_equal(rename(p, strcat(strcpy(path, p), ".old")), 0);
	free(p);
	unit_write_file(f->dir, "12", "not a directory", 0644);
	vmcall_prepare(f, &v, false, false);
	f->env.layout = VCHAN_LAYOUT_PER_QUBE;
	start(f, vmcall_main, &v);
	assert_int_equal(dclient_execute_vm(&f->env, f->dir, "target", 12,
	                     VM_CMD, "SOCKET9", false, NULL),
	    -ENOTDIR);
	join(f);
	check_service_connect(&v);
	assert_int_equal(vchan_path(&f->env, 5, &a, path, sizeof(path)), 0);
	assert_int_equal(lstat(path, &st), -1);
	vmcall_done(&v);

	/* the target's directory is missing: no relay listener */
	p = unit_path(f->dir, "5");
	assert_int_equal(rmdir(p), 0);
	free(p);
	vmcall_prepare(f, &v, false, false);
	f->env.layout = VCHAN_LAYOUT_PER_QUBE;
	(void)close(v.source.lfd);
	v.source.lfd = -1;
	start(f, vmcall_main, &v);
	assert_int_equal(dclient_execute_vm(&f->env, f->dir, "target", 12,
	                     VM_CMD, "SOCKET9", false, NULL),
	    -ENOENT);
	join(f);
	vmcall_done(&v);
}

/* ---- confining the caller before the qubes' bytes ---- */

struct confine_rec {
	int calls;
	int ret;      /* what the hook returns */
	int children; /* this thread's live children at the call */
};

/* This thread's children that are not zombies (nothing is reaped). */
static int
live_children(void)
{
	char buf[4096], path[64];
	char *p, *end;
	FILE *fp;
	size_t n;
	int live = 0;

	fp = fopen("/proc/thread-self/children", "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	(void)fclose(fp);
	buf[n] = '\0';
	for (p = buf;; p = end) {
		long pid = strtol(p, &end, 10);
		char st[512];
		FILE *sf;

		if (end == p)
			break;
		(void)snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		sf = fopen(path, "r");
		if (sf == NULL)
			continue;
		if (fgets(st, sizeof(st), sf) != NULL &&
		    strstr(st, ") Z ") == NULL)
			live++;
		(void)fclose(sf);
	}
	return live;
}

static int
confine_hook(void *arg)
{
	struct confine_rec *r = arg;

	r->calls++;
	r->children = live_children();
	return r->ret;
}

static void
test_local_confine(void **state)
{
	struct fixture *f = *state;
	struct caller c = {.input = "ping\n", .sock_lfd = -1};
	struct confine_rec r = {0};
	struct dclient_confine cc = {.fn = confine_hook, .arg = &r};
	int fds, status, before;

	/* called once, with the service already running; the call goes on */
	unit_write_file(
	    f->svc, "qubes.Echo", "#!/bin/sh\nread x; echo \"$x\"\n", 0755);
	before = live_children();
	caller_start(f, &c);
	assert_int_equal(dclient_run_local_service(&f->env, 5, 513, "work",
	                     "QUBESRPC qubes.Echo work", 5000, NULL, &cc),
	    0);
	join(f);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.children, before + 1);
	c.out[c.outlen] = '\0';
	assert_string_equal(c.out, "ping\n");

	/* a hook that fails: the call is abandoned before the handshake,
	 * the service sees its input end, nothing is left open */
	memset(&c, 0, sizeof(c));
	c.sock_lfd = -1;
	c.hang_up = true;
	r = (struct confine_rec){.ret = -EPERM};
	fds = fd_count();
	before = live_children();
	caller_start(f, &c);
	assert_int_equal(dclient_run_local_service(&f->env, 5, 513, "work",
	                     "exec cat", 5000, NULL, &cc),
	    QREXEC_EXIT_PROBLEM);
	join(f);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.children, before + 1);
	assert_int_equal(fd_count(), fds);
	assert_true(waitpid(-1, &status, 0) > 0);
	assert_true(WIFEXITED(status));

	/* no channel: never called */
	r = (struct confine_rec){0};
	assert_int_equal(dclient_run_local_service(
	                     &f->env, 5, 999, "work", "true", 0, NULL, &cc),
	    QREXEC_EXIT_PROBLEM);
	assert_int_equal(r.calls, 0);
	(void)waitpid(-1, &status, 0);
}

static void
test_execute_vm_confine(void **state)
{
	struct fixture *f = *state;
	struct confine_rec r = {0};
	struct dclient_confine cc = {.fn = confine_hook, .arg = &r};
	struct vmcall v;

	/* no relay (one directory for all): no qube's data here, no call */
	vmcall_prepare(f, &v, false, false);
	start(f, vmcall_main, &v);
	assert_int_equal(dclient_execute_vm(&f->env, f->dir, "target", 12,
	                     VM_CMD, "SOCKET9", false, &cc),
	    0);
	join(f);
	assert_int_equal(r.calls, 0);
	vmcall_done(&v);

	/* relayed: called once both qubes are connected, before the data */
	vmcall_prepare(f, &v, false, true);
	start(f, vmcall_main, &v);
	assert_int_equal(dclient_execute_vm(&f->env, f->dir, "target", 12,
	                     VM_CMD, "SOCKET9", false, &cc),
	    0);
	join(f);
	assert_int_equal(r.calls, 1);
	assert_memory_equal(v.got_by_target, "from caller", 11);
	assert_memory_equal(v.got_by_caller, "from target", 11);
	vmcall_done(&v);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_is_adminvm),
	    T(test_connect),
	    T(test_connect_errors),
	    T(test_negotiate),
	    cmocka_unit_test(test_negotiate_replies),
	    cmocka_unit_test(test_service_connect_ident),
	    T(test_local_exec),
	    T(test_local_socket),
	    T(test_local_socket_no_descriptor),
	    T(test_local_shell),
	    T(test_local_failures),
	    T(test_regress_local_service_fd_leak),
	    T(test_local_wait_for_session),
	    T(test_local_spawn_failure),
	    T(test_execute_vm_flat),
	    T(test_execute_vm_relay),
	    T(test_execute_vm_failures),
	    T(test_local_confine),
	    T(test_execute_vm_confine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
