/*
 * admin_client.c - Admin API calls, reply frames, the admin.Events stream
 * and the parsers of reply bodies (see admin_client.h for the formats).
 *
 * Runs inside the qvm-* tools, as the administrator who runs them.  Its
 * untrusted input is every byte the daemon sends: the daemon is more
 * trusted than the tools, but a reply is still checked for exact framing,
 * character sets and the named limits before anything uses it, so that a
 * daemon bug cannot become an overflow or a terminal escape here.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/admin_client.h"
#include "lib/io.h"
#include "lib/sock.h"
#include "lib/util.h"

/* ---- exception types ---- */

static const struct {
	const char *name;
	enum admin_exc parent;
} exc_table[ADMIN_EXC_MAX] = {
    [ADMIN_EXC_NONE] = {"", ADMIN_EXC_NONE},
    [ADMIN_EXC_QUBES] = {"QubesException", ADMIN_EXC_NONE},
    [ADMIN_EXC_VM_NOT_FOUND] = {"QubesVMNotFoundError", ADMIN_EXC_QUBES},
    [ADMIN_EXC_VM_ALREADY_EXISTS] = {"QubesVMAlreadyExistsError",
        ADMIN_EXC_QUBES},
    [ADMIN_EXC_VM_ERROR] = {"QubesVMError", ADMIN_EXC_QUBES},
    [ADMIN_EXC_VM_IN_USE] = {"QubesVMInUseError", ADMIN_EXC_VM_ERROR},
    [ADMIN_EXC_VM_NOT_STARTED] = {"QubesVMNotStartedError", ADMIN_EXC_VM_ERROR},
    [ADMIN_EXC_VM_NOT_RUNNING] = {"QubesVMNotRunningError",
        ADMIN_EXC_VM_NOT_STARTED},
    [ADMIN_EXC_VM_NOT_PAUSED] = {"QubesVMNotPausedError",
        ADMIN_EXC_VM_NOT_STARTED},
    [ADMIN_EXC_VM_NOT_SUSPENDED] = {"QubesVMNotSuspendedError",
        ADMIN_EXC_VM_ERROR},
    [ADMIN_EXC_VM_NOT_HALTED] = {"QubesVMNotHaltedError", ADMIN_EXC_VM_ERROR},
    [ADMIN_EXC_VM_SHUTDOWN_TIMEOUT] = {"QubesVMShutdownTimeoutError",
        ADMIN_EXC_VM_ERROR},
    [ADMIN_EXC_NO_TEMPLATE] = {"QubesNoTemplateError", ADMIN_EXC_VM_ERROR},
    [ADMIN_EXC_MEMORY] = {"QubesMemoryError", ADMIN_EXC_VM_ERROR},
    [ADMIN_EXC_VALUE] = {"QubesValueError", ADMIN_EXC_QUBES},
    [ADMIN_EXC_PROPERTY_VALUE] = {"QubesPropertyValueError", ADMIN_EXC_VALUE},
    [ADMIN_EXC_NO_SUCH_PROPERTY] = {"QubesNoSuchPropertyError",
        ADMIN_EXC_QUBES},
    [ADMIN_EXC_NOT_IMPLEMENTED] = {"QubesNotImplementedError", ADMIN_EXC_QUBES},
    [ADMIN_EXC_FEATURE_NOT_FOUND] = {"QubesFeatureNotFoundError",
        ADMIN_EXC_QUBES},
    [ADMIN_EXC_TAG_NOT_FOUND] = {"QubesTagNotFoundError", ADMIN_EXC_QUBES},
    [ADMIN_EXC_LABEL_NOT_FOUND] = {"QubesLabelNotFoundError", ADMIN_EXC_QUBES},
    [ADMIN_EXC_PROTOCOL] = {"ProtocolError", ADMIN_EXC_NONE},
    [ADMIN_EXC_PERMISSION] = {"PermissionDenied", ADMIN_EXC_NONE},
};

enum admin_exc
admin_exc_from_name(const char *name)
{
	size_t i;

	for (i = ADMIN_EXC_QUBES; i < ADMIN_EXC_MAX; i++)
		if (strcmp(exc_table[i].name, name) == 0)
			return (enum admin_exc)i;
	/*
	 * Qubes' client maps other names to QubesException too (or to a
	 * Python builtin, which its tools then treat like one).
	 */
	return ADMIN_EXC_QUBES;
}

bool
admin_exc_is(enum admin_exc e, enum admin_exc base)
{
	unsigned depth;

	/* the table is a tree of depth < 5; the bound guards a bad edit */
	for (depth = 0; depth < ADMIN_EXC_MAX && e != ADMIN_EXC_NONE; depth++) {
		if (e == base)
			return true;
		if ((unsigned)e >= ADMIN_EXC_MAX)
			return false;
		e = exc_table[e].parent;
	}
	return false;
}

/* ---- reply frames ---- */

/*
 * [A-Za-z0-9_.-]: the characters of method, qube and property names
 * (without isalnum(), which depends on the locale).
 */
static bool
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static bool
exc_type_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > ADMIN_EXC_TYPE_MAX)
		return false;
	/* a (dotted) Python class name: no '-' */
	for (i = 0; i < len; i++)
		if (s[i] == '-' || !name_char(s[i]))
			return false;
	return true;
}

/*
 * qubesd sends a message and, in principle, %-arguments for it (Qubes'
 * client does "message % args").  qubesd itself sends none; should a
 * daemon send some, apply them for %s, %r and %d (and %% when there are
 * arguments, as Python does); anything else stays as it is.
 */
static char *
exc_format(const char *fmt, const char *const *args, size_t nargs)
{
	size_t cap = strlen(fmt) + 1, len = 0, i, a = 0;
	char *out;

	for (i = 0; i < nargs; i++)
		cap += strlen(args[i]) + 2;
	out = malloc(cap);
	if (out == NULL)
		return NULL;
	for (i = 0; fmt[i] != '\0'; i++) {
		if (nargs > 0 && fmt[i] == '%' && fmt[i + 1] == '%') {
			out[len++] = '%';
			i++;
		} else if (fmt[i] == '%' && a < nargs &&
		    (fmt[i + 1] == 's' || fmt[i + 1] == 'r' ||
		        fmt[i + 1] == 'd')) {
			size_t l = strlen(args[a]);
			bool quote = fmt[i + 1] == 'r';

			if (quote)
				out[len++] = '\'';
			memcpy(out + len, args[a], l);
			len += l;
			if (quote)
				out[len++] = '\'';
			a++;
			i++;
		} else {
			out[len++] = fmt[i];
		}
	}
	out[len] = '\0';
	return out;
}

/* Maximum %-arguments we apply; more are a malformed frame. */
#define EXC_ARGS_MAX 16

static int
parse_exception(const char *untrusted_buf, size_t len, struct admin_reply *ret)
{
	const char *field[3 + EXC_ARGS_MAX];
	size_t nfield = 0, pos = 2;
	char *msg;

	/* NUL-terminated fields: type, traceback, message, arguments... */
	while (pos < len) {
		const char *end = memchr(untrusted_buf + pos, '\0', len - pos);

		if (end == NULL || nfield == ARRAY_SIZE(field))
			return -EBADMSG;
		field[nfield++] = untrusted_buf + pos;
		pos = (size_t)(end - untrusted_buf) + 1;
	}
	if (nfield < 3 || !exc_type_valid(field[0], strlen(field[0])))
		return -EBADMSG;
	msg = exc_format(field[2], field + 3, nfield - 3);
	if (msg == NULL)
		return -ENOMEM;
	ret->ok = false;
	ret->exc_type = field[0];
	ret->exc_msg = msg;
	ret->exc = admin_exc_from_name(field[0]);
	return 0;
}

int
admin_reply_parse(
    const char *untrusted_buf, size_t len, struct admin_reply *ret)
{
	struct admin_reply r;
	int rc;

	memset(&r, 0, sizeof(r));
	if (len == 0)
		return -ENODATA;
	if (len < 2 || untrusted_buf[1] != '\0')
		return -EBADMSG;
	switch (untrusted_buf[0]) {
	case '0':
		r.ok = true;
		r.data = untrusted_buf + 2;
		r.len = len - 2;
		break;
	case '2':
		rc = parse_exception(untrusted_buf, len, &r);
		if (rc < 0)
			return rc;
		break;
	default:
		/* "1" (an event) is only valid on admin.Events */
		return -EBADMSG;
	}
	*ret = r;
	return 0;
}

void
admin_reply_free(struct admin_reply *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r->exc_msg);
	memset(r, 0, sizeof(*r));
}

/* ---- requests ---- */

static bool
method_valid(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

/* The request line is split on spaces by the daemon: none in a field. */
static bool
field_valid(const char *s, bool may_be_empty)
{
	size_t i;

	if (s[0] == '\0')
		return may_be_empty;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int
admin_request_header(char *out, size_t outlen, const char *src,
    const char *dest, const char *method, const char *arg)
{
	int n;

	if (arg == NULL)
		arg = "";
	if (!method_valid(method) || !field_valid(arg, true) ||
	    !field_valid(src, false) || !field_valid(dest, false))
		return -EINVAL;
	n = snprintf(out, outlen, "%s+%s %s name %s", method, arg, src, dest);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= outlen)
		return -ENAMETOOLONG;
	/* the NUL snprintf wrote is the separator before the payload */
	return n + 1;
}

const char *
admin_socket_path(void)
{
	static char path[4096];
	const char *s = getenv(ADMIN_SOCKET_ENV);

	if (s != NULL && s[0] != '\0')
		return s;
	/* under $BULKHEAD_RUN_DIR when that is set */
	if (path[0] == '\0' &&
	    bulkhead_run_path(path, sizeof(path), "qubesd.sock") < 0) {
		/* never the default: it may be another installation's */
		(void)fprintf(stderr, "%s: " BULKHEAD_RUN_DIR_ERROR "\n",
		    program_invocation_short_name);
		exit(2);
	}
	/* a qube: no daemon here, but a qrexec agent (Qubes' rule) */
	if (access(path, F_OK) < 0 && access(ADMIN_QREXEC_TRIGGER, F_OK) == 0)
		return ADMIN_REMOTE;
	return path;
}

static bool
admin_remote(const char *sock)
{
	return strcmp(sock, ADMIN_REMOTE) == 0;
}

const char *
admin_qrexec_client_vm(void)
{
	const char *prog = getenv(ADMIN_QREXEC_ENV);

	return prog != NULL && prog[0] != '\0' ? prog : "qrexec-client-vm";
}

/*
 * One remote call: qrexec-client-vm DEST METHOD[+ARG] with its stdin and
 * stdout on the other end of a socketpair; our end (nonblocking) in *ret_fd
 * and the child in *ret_pid.  0 or -errno.
 */
static int
admin_spawn_remote(const char *dest, const char *method, const char *arg,
    int *ret_fd, pid_t *ret_pid)
{
	const char *prog = admin_qrexec_client_vm();
	char svc[512];
	int sv[2], rc;
	pid_t pid;

	if (str_printf(svc, sizeof(svc), "%s%s%s", method,
	        arg != NULL && arg[0] != '\0' ? "+" : "", arg ? arg : "") < 0)
		return -ENAMETOOLONG;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		(void)close(sv[0]);
		(void)close(sv[1]);
		return rc;
	}
	if (pid == 0) {
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
			_exit(125);
		(void)execlp(prog, prog, dest, svc, (char *)NULL);
		(void)fprintf(stderr, "%s: %s: %s\n",
		    program_invocation_short_name, prog, strerror(errno));
		_exit(127);
	}
	(void)close(sv[1]);
	*ret_fd = sv[0];
	*ret_pid = pid;
	return 0;
}

int
admin_connect(const char *sock, int timeout_ms)
{
	uint64_t deadline =
	    now_ms() + (timeout_ms > 0 ? (uint64_t)timeout_ms : 0);

	for (;;) {
		int fd = sock_connect(sock);
		struct timespec ts = {0, 100000000L}; /* 100 ms */

		if (fd >= 0 || timeout_ms <= 0 || now_ms() >= deadline ||
		    (fd != -ENOENT && fd != -ECONNREFUSED && fd != -EAGAIN))
			return fd;
		(void)nanosleep(&ts, NULL);
	}
}

/* One connection of admin_call_many(). */
struct conn {
	struct admin_call *call;
	char *req;
	size_t req_len;
	size_t sent;
	char *rbuf;
	size_t rlen;
	size_t rcap;
	int fd;
	pid_t pid; /* remote: qrexec-client-vm, else -1 */
	bool wr_done;
};

static void
conn_finish(struct conn *c, int error)
{
	struct admin_reply r;

	if (c->pid > 0) {
		/* its stdout is our socket: done when we read EOF */
		close_fd(&c->fd);
		(void)waitpid(c->pid, NULL, 0);
		c->pid = -1;
		/* a refused call (policy) runs no service: nothing comes
		 * back, as Qubes' admin client sees it */
		if (error == 0 && c->rlen == 0)
			error = -EACCES;
	}
	if (error == 0) {
		error = admin_reply_parse(c->rbuf, c->rlen, &r);
		if (error == 0) {
			/* the parsed pointers point into rbuf: hand it over */
			r.buf = c->rbuf;
			r.buf_len = c->rlen;
			c->rbuf = NULL;
			c->call->reply = r;
		}
	}
	c->call->error = error;
	close_fd(&c->fd);
	free(c->req);
	c->req = NULL;
	free(c->rbuf);
	c->rbuf = NULL;
}

static int
conn_start(struct conn *c, const char *sock, struct admin_call *call)
{
	char hdr[1024];
	int hlen, fd;

	memset(c, 0, sizeof(*c));
	c->call = call;
	c->fd = -1;
	c->pid = -1;
	hlen = admin_request_header(hdr, sizeof(hdr), ADMIN_SOURCE, call->dest,
	    call->method, call->arg);
	if (hlen < 0)
		return hlen;
	/* remote: the request is the command line; only the payload goes */
	if (admin_remote(sock))
		hlen = 0;
	if ((size_t)hlen + call->payload_len > ADMIN_REQUEST_MAX)
		return -E2BIG;
	c->req_len = (size_t)hlen + call->payload_len;
	c->req = malloc(c->req_len);
	c->rcap = 4096;
	c->rbuf = malloc(c->rcap + 1);
	if (c->req == NULL || c->rbuf == NULL)
		return -ENOMEM;
	memcpy(c->req, hdr, (size_t)hlen);
	if (call->payload_len > 0)
		memcpy(c->req + hlen, call->payload, call->payload_len);
	if (admin_remote(sock)) {
		int rc = admin_spawn_remote(
		    call->dest, call->method, call->arg, &fd, &c->pid);

		if (rc < 0)
			return rc;
	} else if ((fd = admin_connect(sock, 0)) < 0)
		return fd;
	c->fd = fd;
	return fd_set_nonblock(fd, true);
}

/* Write what the socket takes.  0, or -errno. */
static int
conn_write(struct conn *c)
{
	while (c->sent < c->req_len) {
		ssize_t n = send(c->fd, c->req + c->sent, c->req_len - c->sent,
		    MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		c->sent += (size_t)n;
	}
	/* one request per connection: EOF ends it (no length field) */
	if (shutdown(c->fd, SHUT_WR) < 0)
		return -errno;
	c->wr_done = true;
	return 0;
}

/* Read what is there.  1 at EOF, 0 for more, -errno. */
static int
conn_read(struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->rlen == c->rcap) {
			size_t ncap = c->rcap * 2;
			char *nb;

			if (c->rcap > ADMIN_REPLY_MAX)
				return -EMSGSIZE;
			nb = realloc(c->rbuf, ncap + 1);
			if (nb == NULL)
				return -ENOMEM;
			c->rbuf = nb;
			c->rcap = ncap;
		}
		n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			if (errno == ECONNRESET)
				n = 0;
			else
				return -errno;
		}
		if (n == 0) {
			c->rbuf[c->rlen] = '\0';
			return 1;
		}
		c->rlen += (size_t)n;
		if (c->rlen > ADMIN_REPLY_MAX)
			return -EMSGSIZE;
	}
}

int
admin_call_many(const char *sock, struct admin_call *calls, size_t n)
{
	struct conn conns[ADMIN_PARALLEL_MAX];
	struct pollfd pfd[ADMIN_PARALLEL_MAX];
	size_t next = 0, active = 0, i;
	char hdr[1024];

	for (i = 0; i < n; i++) {
		memset(&calls[i].reply, 0, sizeof(calls[i].reply));
		calls[i].error = 0;
		if (admin_request_header(hdr, sizeof(hdr), ADMIN_SOURCE,
		        calls[i].dest, calls[i].method, calls[i].arg) < 0)
			return -EINVAL;
	}
	while (next < n || active > 0) {
		int rc;

		while (active < ADMIN_PARALLEL_MAX && next < n) {
			rc = conn_start(&conns[active], sock, &calls[next++]);
			if (rc < 0) {
				conn_finish(&conns[active], rc);
				continue;
			}
			active++;
		}
		if (active == 0)
			break;
		for (i = 0; i < active; i++) {
			pfd[i].fd = conns[i].fd;
			pfd[i].events =
			    POLLIN | (conns[i].wr_done ? 0 : POLLOUT);
			pfd[i].revents = 0;
		}
		rc = poll(pfd, active, -1);
		if (rc < 0 && errno != EINTR) {
			rc = -errno;
			for (i = 0; i < active; i++)
				conn_finish(&conns[i], rc);
			active = 0;
			continue;
		}
		for (i = active; i-- > 0;) {
			struct conn *c = &conns[i];
			int r = 0;

			if (pfd[i].revents == 0)
				continue;
			if (!c->wr_done && (pfd[i].revents & POLLOUT)) {
				r = conn_write(c);
				/*
				 * A daemon that answers (an exception) and
				 * closes before reading all of a request:
				 * keep the reply rather than the EPIPE.
				 */
				if (r == -EPIPE || r == -ECONNRESET) {
					c->wr_done = true;
					r = 0;
				}
			}
			if (r == 0 &&
			    (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				r = conn_read(c);
			if (r == 0)
				continue;
			conn_finish(c, r > 0 ? 0 : r);
			conns[i] = conns[--active];
			pfd[i] = pfd[active];
		}
	}
	return 0;
}

int
admin_call(const char *sock, const char *dest, const char *method,
    const char *arg, const void *payload, size_t payload_len,
    struct admin_reply *ret)
{
	struct admin_call c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.dest = dest;
	c.method = method;
	c.arg = arg;
	c.payload = payload;
	c.payload_len = payload_len;
	rc = admin_call_many(sock, &c, 1);
	if (rc < 0)
		return rc;
	if (c.error < 0)
		return c.error;
	*ret = c.reply;
	return 0;
}

/* ---- admin.Events ---- */

void
admin_event_free(struct admin_event *ev)
{
	if (ev == NULL)
		return;
	free(ev->frame);
	memset(ev, 0, sizeof(*ev));
}

static bool
event_field_valid(const char *s)
{
	size_t i;

	/* qubesd encodes every field as ASCII; no control characters */
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

int
admin_event_parse(const char *untrusted_buf, size_t len, size_t *ret_used,
    struct admin_event *ret)
{
	size_t pos = 2, nfield = 0;
	size_t off[2 + 2 * ADMIN_EVENT_KW_MAX];
	struct admin_event ev;
	size_t i;

	if (len < 2)
		return -EAGAIN;
	if (untrusted_buf[1] != '\0')
		return -EBADMSG;
	if (untrusted_buf[0] == '2')
		return -EPROTO;
	if (untrusted_buf[0] != '1')
		return -EBADMSG;
	/* subject, event, then key/value pairs until an empty key */
	for (;;) {
		const char *end;
		size_t flen;

		if (pos >= len)
			return len > ADMIN_EVENT_FRAME_MAX ? -EBADMSG : -EAGAIN;
		end = memchr(untrusted_buf + pos, '\0', len - pos);
		if (end == NULL)
			return len > ADMIN_EVENT_FRAME_MAX ? -EBADMSG : -EAGAIN;
		flen = (size_t)(end - (untrusted_buf + pos));
		if (flen == 0 && nfield >= 2 && nfield % 2 == 0) {
			pos++;
			break;
		}
		if (nfield == ARRAY_SIZE(off))
			return -EBADMSG;
		off[nfield++] = pos;
		pos += flen + 1;
		if (pos > ADMIN_EVENT_FRAME_MAX)
			return -EBADMSG;
	}
	memset(&ev, 0, sizeof(ev));
	ev.frame = malloc(pos);
	if (ev.frame == NULL)
		return -ENOMEM;
	memcpy(ev.frame, untrusted_buf, pos);
	ev.subject = ev.frame + off[0];
	ev.name = ev.frame + off[1];
	ev.nkw = (nfield - 2) / 2;
	for (i = 0; i < ev.nkw; i++) {
		ev.key[i] = ev.frame + off[2 + 2 * i];
		ev.value[i] = ev.frame + off[3 + 2 * i];
	}
	if (ev.name[0] == '\0' || !event_field_valid(ev.subject) ||
	    !event_field_valid(ev.name)) {
		free(ev.frame);
		return -EBADMSG;
	}
	for (i = 0; i < ev.nkw; i++)
		if (!event_field_valid(ev.key[i]) ||
		    !event_field_valid(ev.value[i])) {
			free(ev.frame);
			return -EBADMSG;
		}
	*ret_used = pos;
	*ret = ev;
	return 0;
}

/* Read more of the stream into es->buf within timeout_ms. */
static int
events_fill(struct admin_events *es, int timeout_ms)
{
	ssize_t n;
	int rc;

	if (es->len == es->cap) {
		size_t ncap = es->cap ? es->cap * 2 : 4096;
		char *nb;

		if (es->cap > ADMIN_EVENT_FRAME_MAX)
			return -EBADMSG;
		nb = realloc(es->buf, ncap + 1);
		if (nb == NULL)
			return -ENOMEM;
		es->buf = nb;
		es->cap = ncap;
	}
	rc = io_wait_readable(es->fd, timeout_ms);
	if (rc <= 0)
		return rc;
	do
		n = read(es->fd, es->buf + es->len, es->cap - es->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	es->len += (size_t)n;
	es->buf[es->len] = '\0';
	return 1;
}

int
admin_events_next(
    struct admin_events *es, int timeout_ms, struct admin_event *ret)
{
	uint64_t deadline =
	    now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		size_t used;
		int rc, wait_ms = timeout_ms;

		rc = admin_event_parse(es->buf, es->len, &used, ret);
		if (rc == 0) {
			memmove(es->buf, es->buf + used, es->len - used);
			es->len -= used;
			return 1;
		}
		if (rc == -EPROTO) {
			/* an exception instead of events: it is the whole reply */
			for (;;) {
				rc = events_fill(es, -1);
				if (rc == -EPIPE)
					break;
				if (rc < 0)
					return rc;
			}
			if (admin_reply_parse(es->buf, es->len, &es->exc) < 0)
				return -EBADMSG;
			/* the reply points into buf: it owns it from now on */
			es->exc.buf = es->buf;
			es->exc.buf_len = es->len;
			es->buf = NULL;
			es->len = 0;
			es->cap = 0;
			return -EPROTO;
		}
		if (rc != -EAGAIN)
			return rc;
		if (timeout_ms >= 0) {
			uint64_t now = now_ms();

			if (now >= deadline)
				return 0;
			wait_ms = (int)(deadline - now);
		}
		rc = events_fill(es, wait_ms);
		if (rc <= 0)
			return rc;
	}
}

int
admin_events_open(const char *sock, const char *dest, struct admin_events *ret)
{
	struct admin_events es;
	struct admin_event ev;
	char hdr[1024];
	int hlen, rc;

	memset(&es, 0, sizeof(es));
	es.fd = -1;
	es.pid = -1;
	hlen = admin_request_header(
	    hdr, sizeof(hdr), ADMIN_SOURCE, dest, "admin.Events", NULL);
	if (hlen < 0)
		return hlen;
	if (admin_remote(sock)) {
		hlen = 0;
		rc = admin_spawn_remote(
		    dest, "admin.Events", NULL, &es.fd, &es.pid);
		if (rc < 0)
			return rc;
		if ((rc = fd_set_nonblock(es.fd, false)) < 0)
			goto out_close;
	} else {
		es.fd = admin_connect(sock, 0);
		if (es.fd < 0)
			return es.fd;
	}
	rc = io_write_all(es.fd, hdr, (size_t)hlen);
	if (rc == 0 && shutdown(es.fd, SHUT_WR) < 0)
		rc = -errno;
	if (rc < 0)
		goto out_close;
	/* the first frame confirms the subscription */
	rc = admin_events_next(&es, -1, &ev);
	if (rc == 0)
		rc = -EPIPE;
	if (rc == -EPROTO) {
		/* the caller reads ret->exc and calls admin_events_close() */
		close_fd(&es.fd);
		*ret = es;
		return rc;
	}
	/* remote: a refused call ends at once, with nothing */
	if (rc == -EPIPE && es.pid > 0 && es.len == 0)
		rc = -EACCES;
	if (rc < 0)
		goto out_close;
	rc = strcmp(ev.name, "connection-established") == 0 ? 0 : -EBADMSG;
	admin_event_free(&ev);
	if (rc < 0)
		goto out_close;
	*ret = es;
	return 0;
out_close:
	close_fd(&es.fd);
	if (es.pid > 0) {
		(void)kill(es.pid, SIGTERM);
		(void)waitpid(es.pid, NULL, 0);
	}
	free(es.buf);
	admin_reply_free(&es.exc);
	return rc;
}

void
admin_events_close(struct admin_events *es)
{
	if (es == NULL)
		return;
	close_fd(&es->fd);
	/* remote: the stream runs until its caller goes */
	if (es->pid > 0) {
		(void)kill(es->pid, SIGTERM);
		(void)waitpid(es->pid, NULL, 0);
	}
	free(es->buf);
	admin_reply_free(&es->exc);
	memset(es, 0, sizeof(*es));
	es->fd = -1;
	es->pid = -1;
}

/* ---- reply bodies ---- */

void
admin_strv_free(struct admin_strv *sv)
{
	size_t i;

	if (sv == NULL)
		return;
	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

int
admin_strv_add(struct admin_strv *sv, const char *s)
{
	char **nv;
	char *copy;

	if (sv->n >= ADMIN_LIST_MAX)
		return -E2BIG;
	copy = strdup(s);
	if (copy == NULL)
		return -ENOMEM;
	nv = reallocarray(sv->v, sv->n + 1, sizeof(*nv));
	if (nv == NULL) {
		free(copy);
		return -ENOMEM;
	}
	nv[sv->n++] = copy;
	sv->v = nv;
	return 0;
}

long
admin_strv_find(const struct admin_strv *sv, const char *s)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return (long)i;
	return -1;
}

int
admin_parse_lines(
    const char *untrusted_data, size_t len, struct admin_strv *ret)
{
	struct admin_strv sv = {NULL, 0};
	size_t pos = 0;

	if (memchr(untrusted_data, '\0', len) != NULL)
		return -EBADMSG;
	while (pos < len) {
		const char *nl = memchr(untrusted_data + pos, '\n', len - pos);
		size_t l;
		char *line;
		int rc;

		if (nl == NULL)
			goto out_bad;
		l = (size_t)(nl - (untrusted_data + pos));
		if (l == 0)
			goto out_bad;
		line = strndup(untrusted_data + pos, l);
		if (line == NULL) {
			admin_strv_free(&sv);
			return -ENOMEM;
		}
		rc = admin_strv_add(&sv, line);
		free(line);
		if (rc < 0) {
			admin_strv_free(&sv);
			return rc == -E2BIG ? -EBADMSG : rc;
		}
		pos += l + 1;
	}
	*ret = sv;
	return 0;
out_bad:
	admin_strv_free(&sv);
	return -EBADMSG;
}

bool
admin_vm_name_valid(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= ADMIN_NAME_MAX - 1)
			return false;
		if (!name_char(s[i]))
			return false;
	}
	return true;
}

/* Printable ASCII without a space, shorter than ADMIN_NAME_MAX. */
static bool
token_value_valid(const char *s, size_t len)
{
	size_t i;

	if (len >= ADMIN_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* One line of admin.vm.List (without its newline). */
static int
parse_vm_line(char *untrusted_line, struct admin_vm *ret)
{
	struct admin_vm vm;
	char *save = NULL, *tok;
	bool have_class = false;

	memset(&vm, 0, sizeof(vm));
	/* single spaces only: strtok_r would also accept runs of them */
	if (untrusted_line[0] == ' ' || strstr(untrusted_line, "  ") != NULL ||
	    (untrusted_line[0] != '\0' &&
	        untrusted_line[strlen(untrusted_line) - 1] == ' '))
		return -EBADMSG;
	tok = strtok_r(untrusted_line, " ", &save);
	if (tok == NULL || !admin_vm_name_valid(tok))
		return -EBADMSG;
	(void)str_copy(vm.name, sizeof(vm.name), tok);
	while ((tok = strtok_r(NULL, " ", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		char *dst = NULL;

		if (eq == NULL || eq == tok ||
		    !token_value_valid(eq + 1, strlen(eq + 1)) ||
		    !token_value_valid(tok, (size_t)(eq - tok)))
			return -EBADMSG;
		*eq = '\0';
		if (strcmp(tok, "class") == 0) {
			dst = vm.klass;
			have_class = true;
		} else if (strcmp(tok, "state") == 0) {
			dst = vm.state;
		} else if (strcmp(tok, "uuid") == 0) {
			dst = vm.uuid;
		}
		if (dst != NULL)
			(void)str_copy(dst, ADMIN_NAME_MAX, eq + 1);
	}
	if (!have_class || vm.klass[0] == '\0')
		return -EBADMSG;
	*ret = vm;
	return 0;
}

int
admin_parse_vm_list(
    const char *untrusted_data, size_t len, struct admin_vm_list *ret)
{
	struct admin_strv lines = {NULL, 0};
	struct admin_vm_list l = {NULL, 0};
	size_t i, j;
	int rc;

	rc = admin_parse_lines(untrusted_data, len, &lines);
	if (rc < 0)
		return rc;
	if (lines.n > 0) {
		l.vm = calloc(lines.n, sizeof(*l.vm));
		if (l.vm == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < lines.n; i++) {
		rc = parse_vm_line(lines.v[i], &l.vm[i]);
		if (rc < 0)
			goto out;
		for (j = 0; j < i; j++)
			if (strcmp(l.vm[j].name, l.vm[i].name) == 0) {
				rc = -EBADMSG;
				goto out;
			}
		l.n = i + 1;
	}
	*ret = l;
	l.vm = NULL;
	rc = 0;
out:
	free(l.vm);
	admin_strv_free(&lines);
	return rc;
}

void
admin_vm_list_free(struct admin_vm_list *l)
{
	if (l == NULL)
		return;
	free(l->vm);
	l->vm = NULL;
	l->n = 0;
}

const struct admin_vm *
admin_vm_list_find(const struct admin_vm_list *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->vm[i].name, name) == 0)
			return &l->vm[i];
	return NULL;
}

static const char *const prop_type_names[ADMIN_PROP_MAX] = {
    [ADMIN_PROP_STR] = "str",
    [ADMIN_PROP_INT] = "int",
    [ADMIN_PROP_BOOL] = "bool",
    [ADMIN_PROP_VM] = "vm",
    [ADMIN_PROP_LABEL] = "label",
};

const char *
admin_prop_type_name(enum admin_prop_type t)
{
	return (unsigned)t < ADMIN_PROP_MAX ? prop_type_names[t] : "?";
}

bool
admin_prop_is_empty(const struct admin_prop *p)
{
	return p->type != ADMIN_PROP_STR && p->value[0] == '\0';
}

int
admin_parse_property(
    const char *untrusted_data, size_t len, struct admin_prop *ret)
{
	static const char type[] = "type=";
	const char *p = untrusted_data, *end = untrusted_data + len, *sp;
	struct admin_prop prop;
	size_t i, tl;

	memset(&prop, 0, sizeof(prop));
	if (memchr(untrusted_data, '\0', len) != NULL)
		return -EBADMSG;
	if (len >= 13 && memcmp(p, "default=True ", 13) == 0) {
		prop.is_default = true;
		p += 13;
	} else if (len >= 14 && memcmp(p, "default=False ", 14) == 0) {
		p += 14;
	} else {
		return -EBADMSG;
	}
	if ((size_t)(end - p) < sizeof(type) - 1 ||
	    memcmp(p, type, sizeof(type) - 1) != 0)
		return -EBADMSG;
	p += sizeof(type) - 1;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (sp == NULL)
		return -EBADMSG;
	tl = (size_t)(sp - p);
	for (i = 0; i < ADMIN_PROP_MAX; i++)
		if (strlen(prop_type_names[i]) == tl &&
		    memcmp(p, prop_type_names[i], tl) == 0)
			break;
	if (i == ADMIN_PROP_MAX)
		return -EBADMSG;
	prop.type = (enum admin_prop_type)i;
	p = sp + 1;
	prop.value = strndup(p, (size_t)(end - p));
	if (prop.value == NULL)
		return -ENOMEM;
	*ret = prop;
	return 0;
}

void
admin_prop_free(struct admin_prop *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->value);
	p->name = NULL;
	p->value = NULL;
}

long
admin_unescape(const char *in, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (in[i] != '\\') {
			out[o++] = in[i];
			continue;
		}
		if (i + 1 == len)
			return -EBADMSG;
		i++;
		if (in[i] == 'n')
			out[o++] = '\n';
		else if (in[i] == '\\')
			out[o++] = '\\';
		else
			return -EBADMSG;
	}
	out[o] = '\0';
	return (long)o;
}

/* Property names: [a-z0-9_] as Qubes' (and a few capitals to be lenient). */
static bool
prop_name_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= 256)
		return false;
	for (i = 0; i < len; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

int
admin_parse_property_all(
    const char *untrusted_data, size_t len, struct admin_prop_list *ret)
{
	struct admin_prop_list l = {NULL, 0};
	size_t pos = 0, cap = 0;
	char *line = NULL;
	int rc = 0;

	if (memchr(untrusted_data, '\0', len) != NULL)
		return -EBADMSG;
	while (pos < len) {
		const char *nl = memchr(untrusted_data + pos, '\n', len - pos);
		const char *sp;
		size_t ll;
		long ul;
		struct admin_prop prop;

		if (nl == NULL || l.n >= ADMIN_LIST_MAX) {
			rc = -EBADMSG;
			goto out;
		}
		ll = (size_t)(nl - (untrusted_data + pos));
		sp = memchr(untrusted_data + pos, ' ', ll);
		if (sp == NULL ||
		    !prop_name_valid(untrusted_data + pos,
		        (size_t)(sp - (untrusted_data + pos)))) {
			rc = -EBADMSG;
			goto out;
		}
		free(line);
		line = malloc(ll + 1);
		if (line == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		ul = admin_unescape(sp + 1, (size_t)(nl - sp - 1), line);
		if (ul < 0) {
			rc = -EBADMSG;
			goto out;
		}
		rc = admin_parse_property(line, (size_t)ul, &prop);
		if (rc < 0)
			goto out;
		prop.name = strndup(untrusted_data + pos,
		    (size_t)(sp - (untrusted_data + pos)));
		if (prop.name == NULL) {
			admin_prop_free(&prop);
			rc = -ENOMEM;
			goto out;
		}
		if (admin_prop_list_find(&l, prop.name) != NULL) {
			admin_prop_free(&prop);
			rc = -EBADMSG;
			goto out;
		}
		if (l.n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct admin_prop *np =
			    reallocarray(l.p, ncap, sizeof(*np));

			if (np == NULL) {
				admin_prop_free(&prop);
				rc = -ENOMEM;
				goto out;
			}
			l.p = np;
			cap = ncap;
		}
		l.p[l.n++] = prop;
		pos += ll + 1;
	}
	*ret = l;
	l.p = NULL;
	l.n = 0;
out:
	free(line);
	admin_prop_list_free(&l);
	return rc;
}

void
admin_prop_list_free(struct admin_prop_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		admin_prop_free(&l->p[i]);
	free(l->p);
	l->p = NULL;
	l->n = 0;
}

const struct admin_prop *
admin_prop_list_find(const struct admin_prop_list *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->p[i].name, name) == 0)
			return &l->p[i];
	return NULL;
}

int
admin_kv_get(const char *untrusted_data, size_t len, const char *key, char *out,
    size_t outlen)
{
	size_t pos = 0, klen = strlen(key);

	if (memchr(untrusted_data, '\0', len) != NULL)
		return -EBADMSG;
	while (pos < len) {
		size_t tl = 0, vl;
		const char *tok = untrusted_data + pos, *eq;

		while (pos + tl < len && tok[tl] != ' ' && tok[tl] != '\n')
			tl++;
		if (tl > 0) {
			eq = memchr(tok, '=', tl);
			if (eq == NULL || eq == tok)
				return -EBADMSG;
			vl = tl - (size_t)(eq + 1 - tok);
			if ((size_t)(eq - tok) == klen &&
			    memcmp(tok, key, klen) == 0) {
				if (vl >= outlen)
					return -ENAMETOOLONG;
				memcpy(out, eq + 1, vl);
				out[vl] = '\0';
				return 1;
			}
		}
		pos += tl + 1;
	}
	return 0;
}

int
admin_parse_power_state(
    const char *untrusted_data, size_t len, char *out, size_t outlen)
{
	int rc = admin_kv_get(untrusted_data, len, "power_state", out, outlen);

	if (rc == 0 || (rc > 0 && !token_value_valid(out, strlen(out))) ||
	    (rc > 0 && out[0] == '\0'))
		return -EBADMSG;
	return rc < 0 ? rc : 0;
}

bool
admin_state_is_running(const char *state)
{
	return strcmp(state, "Halted") != 0 && strcmp(state, "NA") != 0 &&
	    state[0] != '\0';
}
