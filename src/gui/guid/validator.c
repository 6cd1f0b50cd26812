/*
 * validator.c - PROC_GUID_VALIDATOR: the one process of the GUI domain
 * that reads a qube's GUI bytes (issue #8).
 *
 * One a qube, fork+exec'd by the core ("bulkhead-guid --validator"), as
 * the GUI domain's user, under no_new_privs and a seccomp allowlist
 * loaded before the first qube byte is read.  Untrusted input: every
 * byte and fd on the qube's stream (fd 3).  This file owns the sockets
 * and the sandbox; the checks are vcheck.c's (the gui_reader, then the
 * window table, caps, rate, damage clipping, the pool fd, the
 * clipboard), which tests and fuzzers drive without either.  What passes
 * is forwarded to the core (fd 4) as valid messages of the same protocol;
 * what the core sends (input, acknowledgements) goes to the qube.  A
 * violation ends this process and with it that qube's GUI only, with
 * ERROR frames to both sides saying why.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gui/guid/guid.h"
#include "gui/guid/stream.h"
#include "gui/guid/validator.h"
#include "gui/guid/vcheck.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/seccomp_util.h"
#include "lib/sock.h"
#include "lib/util.h"

/* Queued to the qube (input): an agent that reads none of it is gone. */
#define V_QUBE_OUT_LIMIT ((size_t)1 << 20)
/* Queued to the core: above this, the qube is not read (back-pressure). */
#define V_CORE_OUT_LIMIT ((size_t)64 << 20)
#define V_CORE_OUT_HIGH  ((size_t)16 << 20)
/* One read of the qube's stream. */
#define V_READ_CHUNK 65536u

struct validator {
	struct gd_stream q;    /* the qube: its out buffer (vcheck reads) */
	struct gd_stream core; /* the core */
	struct gd_vcheck *vc;
};

/* The calls the loop makes, each group with why; anything else kills. */
static const char *const v_allowed[] = {
    /* the two streams; the pool fd comes and goes with SCM_RIGHTS */
    "read", "write", "writev", "recvmsg", "sendmsg", "sendto", "recvfrom",
    "close", "poll", "ppoll",
    /* gui_pool_check on the pool fd */
    "fcntl", "fstat", "newfstatat", "fstatfs", "statx",
    /* memory (malloc) */
    "brk", "mmap", "munmap", "mremap", "madvise", "mprotect",
    /* time (rate), logging (syslog's socket is open: LOG_NDELAY) */
    "clock_gettime", "gettimeofday", "getpid",
    /* signals, stdio locks, the sanitizers' alternate stack */
    "rt_sigreturn", "rt_sigprocmask", "futex", "sigaltstack",
    /* poll(-1) interrupted by a stop (SIGSTOP, a debugger attaching)
     * resumes through restart_syscall */
    "restart_syscall",
    /* leaving */
    "exit", "exit_group"};

static int
v_confine(void)
{
	struct rlimit core = {0, 0};

	/* syslog's timestamps read the time zone once, now: after this
	 * no file is opened */
	tzset();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* the core's memory is not the validator's to read: not dumpable */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &core);
	return seccomp_util_allow_only(v_allowed, ARRAY_SIZE(v_allowed));
}

static int
v_to_core(
    void *ctx, const struct gui_msg *m, const void *body, size_t len, int fd)
{
	struct validator *v = ctx;

	if (fd >= 0)
		return gd_stream_send_with_fd(
		    &v->core, m->type, m->window, body, len, fd, 5000);
	return gd_stream_queue(&v->core, m->type, m->window, body, len);
}

static int
v_to_qube(
    void *ctx, uint32_t type, uint32_t window, const void *body, size_t len)
{
	struct validator *v = ctx;

	if (type == 0)
		return gd_stream_queue_raw(&v->q, body, len);
	return gd_stream_queue(&v->q, type, window, body, len);
}

static const struct gd_vcheck_ops v_ops = {v_to_core, v_to_qube};

/*
 * One read of the qube's stream into vcheck: the bytes, and an fd only
 * as one SCM_RIGHTS with one fd (anything else is a violation, its fds
 * closed).  0, -EPIPE at its end, -EPROTO (a violation), or -errno.
 */
static int
qube_read(struct validator *v)
{
	static uint8_t untrusted_buf[V_READ_CHUNK];
	size_t nfd;
	int fd = -1;
	ssize_t n;

	n = sock_recv_fds(v->q.fd, untrusted_buf, sizeof(untrusted_buf),
	    MSG_DONTWAIT, &fd, 1, &nfd);
	if (n == -EPROTO)
		return gd_vcheck_fail(
		    v->vc, GUI_ERR_POOL, 0, "fds not as one pool fd");
	if (n < 0)
		return n == -EAGAIN || n == -EINTR ? 0 : (int)n;
	if (n == 0) {
		close_fd(&fd);
		return -EPIPE;
	}
	return gd_vcheck_feed(v->vc, untrusted_buf, (size_t)n, fd, now_ms());
}

/* One message from the core: on to the qube (bodies are fixed size). */
static int
core_msg(void *ctx, const struct gui_msg *m)
{
	struct validator *v = ctx;
	const void *body = &m->u;
	size_t len;
	int r, sz;

	r = gd_vcheck_from_core(v->vc, m);
	if (r == -EPIPE) {
		(void)gd_stream_queue(
		    &v->q, m->type, m->window, &m->u.error, sizeof(m->u.error));
		return r;
	}
	if (r <= 0)
		return r;
	if (m->type == GUI_MSG_CLIPBOARD_DATA) {
		body = m->u.clipboard.data;
		len = m->u.clipboard.len;
	} else {
		sz = proto_gui_type_size(m->type);
		if (sz < 0)
			return -EPROTO;
		len = (size_t)sz;
	}
	if (gd_stream_queue(&v->q, m->type, m->window, body, len) < 0)
		return gd_vcheck_fail(
		    v->vc, GUI_ERR_LIMIT, 0, "agent not reading");
	return 0;
}

static void
send_error(struct gd_stream *s, uint32_t code, uint32_t window, const char *why)
{
	struct gui_error e;

	memset(&e, 0, sizeof(e));
	e.error_code = code;
	(void)str_copy(e.error_reason, sizeof(e.error_reason), why);
	(void)gd_stream_queue(s, GUI_MSG_ERROR, window, &e, sizeof(e));
	(void)fd_set_nonblock(s->fd, false);
	(void)gd_stream_flush(s);
}

int
gd_validator_run(const struct gd_validator_opts *o)
{
	struct gd_vcheck_opts vo = {o->clipboard_limit, o->allow_utf8_titles};
	/* the qube's gd_stream is only written (vcheck reads); its reader
	 * stays unused */
	struct gui_params qp = {o->clipboard_limit, 0, o->allow_utf8_titles};
	struct gui_params cp = {o->clipboard_limit, 0, false};
	struct validator v;
	uint32_t ver = GUI_PROTOCOL_VERSION;
	uint32_t code = 0, window = 0;
	const char *why;
	int r;

	memset(&v, 0, sizeof(v));
	v.q.fd = v.core.fd = -1;
	if ((r = gd_vcheck_new(&vo, &v_ops, &v, &v.vc)) < 0) {
		(void)close(o->qube_fd);
		(void)close(o->core_fd);
		if (o->pool_fd >= 0)
			(void)close(o->pool_fd);
		return r;
	}
	if ((r = gd_stream_init(&v.q, o->qube_fd, GUI_DIR_TO_GUI, &qp,
	         V_QUBE_OUT_LIMIT)) < 0 ||
	    (r = gd_stream_init(&v.core, o->core_fd, GUI_DIR_TO_AGENT, &cp,
	         V_CORE_OUT_LIMIT)) < 0)
		goto out;
	/* the core's stream: our version word first (its reader wants it) */
	if ((r = gd_stream_queue_raw(&v.core, &ver, sizeof(ver))) < 0)
		goto out;
	/* a VM's pool comes from the admin side, not over the stream */
	if (o->pool_fd >= 0) {
		r = gd_vcheck_give_pool(v.vc, o->pool_fd);
		(void)close(o->pool_fd);
		if (r < 0)
			goto out_violation;
	}
	r = v_confine();
	if (r < 0) {
		log_warnx("seccomp: %s", strerror(-r));
		goto out;
	}
	for (;;) {
		struct pollfd p[2] = {{v.q.fd, 0, 0}, {v.core.fd, POLLIN, 0}};

		/* the qube is read once the core's xconf is here, and while
		 * the core keeps up */
		if (gd_vcheck_ready(v.vc) &&
		    buffer_len(&v.core.out) < V_CORE_OUT_HIGH)
			p[0].events |= POLLIN;
		if (gd_stream_pending(&v.q))
			p[0].events |= POLLOUT;
		if (gd_stream_pending(&v.core))
			p[1].events |= POLLOUT;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = gd_stream_read(&v.core, core_msg, &v);
			if (r < 0)
				break;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = qube_read(&v);
			if (r < 0)
				break;
		}
		if ((r = gd_stream_flush(&v.q)) < 0 ||
		    (r = gd_stream_flush(&v.core)) < 0)
			break;
	}
out_violation:
	why = gd_vcheck_violation(v.vc, &code, &window);
	if (why != NULL) {
		log_warnx("qube's GUI stopped: %s", why);
		send_error(&v.q, code, window, why);
		send_error(&v.core, code, window, why);
	} else if (r == -EPIPE) {
		log_info("connection closed");
		(void)fd_set_nonblock(v.core.fd, false);
		(void)gd_stream_flush(&v.core);
	}
out:
	gd_stream_close(&v.q);
	gd_stream_close(&v.core);
	gd_vcheck_free(v.vc);
	return r == -EPIPE ? 0 : r;
}
