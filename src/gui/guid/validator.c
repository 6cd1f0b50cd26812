/*
 * validator.c - PROC_GUID_VALIDATOR: the one process of the GUI domain
 * that reads a qube's GUI bytes (issue #8).
 *
 * One a qube, fork+exec'd by the core ("bulkhead-guid --validator"), as
 * the GUI domain's user, under no_new_privs and a seccomp allowlist
 * loaded before the first qube byte is read.  Untrusted input: every
 * byte on the qube's stream (fd 3).  Each goes through the gui_reader
 * (src/lib/proto/gui.c: framing, exact lengths, bodies, phases); this
 * file adds the checks that need state: which window ids exist, the
 * window cap, the message rate, that damage lies inside the current
 * buffer, that the pool fd is a sealed memfd of the size announced,
 * that clipboard data was asked for.  What passes is forwarded to the
 * core (fd 4) as valid messages of the same protocol; what the core
 * sends (input, acknowledgements) goes to the qube.  A violation ends
 * this process and with it that qube's GUI only, with ERROR frames to
 * both sides saying why.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <poll.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gui/guid/guid.h"
#include "gui/guid/stream.h"
#include "gui/guid/validator.h"
#include "lib/gui_pool.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"

/* Queued to the qube (input): an agent that reads none of it is gone. */
#define V_QUBE_OUT_LIMIT ((size_t)1 << 20)
/* Queued to the core: above this, the qube is not read (back-pressure). */
#define V_CORE_OUT_LIMIT ((size_t)64 << 20)
#define V_CORE_OUT_HIGH  ((size_t)16 << 20)
/* Override-redirect windows may cover at most this share of the screen
 * (Qubes' rule); above it the flag is dropped and the window framed. */
#define V_OR_MAX_PERCENT 90u

struct vwin {
	bool used;
	bool override_redirect;
	uint32_t width, height;
	bool has_buffer;
	uint32_t buf_width, buf_height;
};

struct validator {
	const char *qube;
	struct gd_stream q;    /* the qube */
	struct gd_stream core; /* the core */
	struct gui_xconf xconf;
	bool handshake_done;
	struct vwin *win; /* indexed by id, 1..GUI_MAX_WINDOW_ID */
	uint32_t nwin;
	bool clipboard_requested;
	uint64_t rate_start;
	uint32_t rate_count;
	char why[GUI_ERROR_REASON_LEN];
	uint32_t why_code;
	uint32_t why_window;
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
    /* leaving */
    "exit", "exit_group"};

static int
v_confine(void)
{
	struct rlimit core = {0, 0};
	scmp_filter_ctx ctx;
	size_t i;
	int r;

	/* syslog's timestamps read the time zone once, now: after this
	 * no file is opened */
	tzset();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* the core's memory is not the validator's to read: not dumpable */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &core);
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(v_allowed); i++) {
		int nr = seccomp_syscall_resolve_name(v_allowed[i]);

		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0)
			goto out;
	}
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}

/* Record the first violation; the loop ends after the callback. */
static int
violation(struct validator *v, uint32_t code, uint32_t window, const char *why)
{
	if (v->why[0] == '\0') {
		(void)str_copy(v->why, sizeof(v->why), why);
		v->why_code = code;
		v->why_window = window;
	}
	return -EPROTO;
}

static struct vwin *
win_get(struct validator *v, uint32_t id)
{
	if (id == 0 || id > GUI_MAX_WINDOW_ID || !v->win[id].used)
		return NULL;
	return &v->win[id];
}

/* Qubes' rule for override-redirect windows: at most 90 % of the
 * screen, else it gets a frame like any other window. */
static uint32_t
or_allowed(const struct validator *v, uint32_t o_r, uint32_t w, uint32_t h)
{
	uint64_t area = (uint64_t)w * h;
	uint64_t screen =
	    (uint64_t)v->xconf.xconf_width * v->xconf.xconf_height;

	if (o_r && area * 100 > screen * V_OR_MAX_PERCENT) {
		log_info("override-redirect %ux%u covers over %u%% of the "
		         "screen: framed, ignoring",
		    w, h, V_OR_MAX_PERCENT);
		return 0;
	}
	return o_r;
}

static int
to_core(
    struct validator *v, const struct gui_msg *m, const void *body, size_t len)
{
	int r = gd_stream_queue(&v->core, m->type, m->window, body, len);

	if (r < 0)
		return violation(v, GUI_ERR_LIMIT, 0, "GUI domain not reading");
	return 0;
}

static int
qube_pool(struct validator *v, const struct gui_msg *m)
{
	int fd = gd_stream_take_fd(&v->q);
	size_t size;
	int r;

	if (fd < 0)
		return violation(v, GUI_ERR_POOL, 0, "POOL without its fd");
	r = gui_pool_check(fd, &size);
	if (r < 0 || size != (uint64_t)m->u.pool.pool_pages * GUI_PAGE_SIZE) {
		(void)close(fd);
		return violation(v, GUI_ERR_POOL, 0,
		    r < 0 ? "pool fd is not a sealed memfd" :
		            "pool size is not the size announced");
	}
	r = gui_reader_set_pool(v->q.reader, size);
	if (r == 0)
		r = gd_stream_send_with_fd(&v->core, GUI_MSG_POOL, 0,
		    &m->u.pool, sizeof(m->u.pool), fd, 5000);
	(void)close(fd);
	if (r < 0)
		return violation(v, GUI_ERR_INTERNAL, 0, "pool not passed on");
	return 0;
}

/* One valid message from the qube: the stateful checks, then on. */
static int
qube_msg(void *ctx, const struct gui_msg *m)
{
	struct validator *v = ctx;
	struct gui_msg c = *m;
	struct vwin *w = NULL;
	uint64_t now = now_ms();

	if (now - v->rate_start >= 1000) {
		v->rate_start = now;
		v->rate_count = 0;
	}
	if (++v->rate_count > GUI_MAX_MSGS_PER_SEC)
		return violation(v, GUI_ERR_LIMIT, 0, "too many messages");

	if (m->type == GUI_HS_VERSION) {
		uint32_t ver = GUI_PROTOCOL_VERSION;

		/* the lower minor; both are 1 today */
		if ((m->u.version & 0xffffu) < GUI_VERSION_MINOR)
			ver = m->u.version;
		if (gd_stream_queue_raw(&v->q, &ver, sizeof(ver)) < 0 ||
		    gd_stream_queue_raw(&v->q, &v->xconf, sizeof(v->xconf)) < 0)
			return violation(v, GUI_ERR_INTERNAL, 0, "queue");
		v->handshake_done = true;
		log_info("agent connected (version 0x%08x)", m->u.version);
		return 0;
	}
	if (m->type != GUI_MSG_CREATE && m->type != GUI_MSG_POOL &&
	    m->type != GUI_MSG_CLIPBOARD_DATA && m->type != GUI_MSG_ERROR) {
		w = win_get(v, m->window);
		if (w == NULL)
			return violation(
			    v, GUI_ERR_PROTOCOL, m->window, "no such window");
	}
	switch ((enum gui_type)m->type) {
	case GUI_MSG_POOL:
		return qube_pool(v, m);
	case GUI_MSG_CREATE:
		if (win_get(v, m->window) != NULL)
			return violation(v, GUI_ERR_PROTOCOL, m->window,
			    "CREATE of an existing window");
		if (v->nwin >= GUI_MAX_WINDOWS)
			return violation(
			    v, GUI_ERR_LIMIT, m->window, "too many windows");
		w = &v->win[m->window];
		memset(w, 0, sizeof(*w));
		w->used = true;
		w->width = m->u.create.create_width;
		w->height = m->u.create.create_height;
		c.u.create.create_override_redirect = or_allowed(v,
		    m->u.create.create_override_redirect, w->width, w->height);
		w->override_redirect = c.u.create.create_override_redirect;
		v->nwin++;
		return to_core(v, &c, &c.u.create, sizeof(c.u.create));
	case GUI_MSG_DESTROY: {
		int r = to_core(v, m, NULL, 0);

		/* acknowledged at once: nothing of the window stays here,
		 * and the core drops input for ids it does not know */
		memset(w, 0, sizeof(*w));
		v->nwin--;
		if (r == 0 &&
		    gd_stream_queue(
		        &v->q, GUI_MSG_DESTROY, m->window, NULL, 0) < 0)
			return violation(
			    v, GUI_ERR_LIMIT, 0, "agent not reading");
		return r;
	}
	case GUI_MSG_MAP:
		if (m->u.map.map_transient_for != 0 &&
		    win_get(v, m->u.map.map_transient_for) == NULL)
			return violation(v, GUI_ERR_PROTOCOL, m->window,
			    "MAP transient for no such window");
		c.u.map.map_override_redirect = or_allowed(
		    v, m->u.map.map_override_redirect, w->width, w->height);
		return to_core(v, &c, &c.u.map, sizeof(c.u.map));
	case GUI_MSG_UNMAP:
		return to_core(v, m, NULL, 0);
	case GUI_MSG_CONFIGURE:
		w->width = m->u.configure.configure_width;
		w->height = m->u.configure.configure_height;
		c.u.configure.configure_override_redirect =
		    or_allowed(v, m->u.configure.configure_override_redirect,
		        w->width, w->height);
		return to_core(v, &c, &c.u.configure, sizeof(c.u.configure));
	case GUI_MSG_SHMIMAGE: {
		struct gui_shmimage *s = &c.u.shmimage;
		uint32_t x = (uint32_t)s->shmimage_x;
		uint32_t y = (uint32_t)s->shmimage_y;

		/* damage outside the buffer is clipped; without one, none */
		if (!w->has_buffer || x >= w->buf_width || y >= w->buf_height)
			return 0;
		if (s->shmimage_width > w->buf_width - x)
			s->shmimage_width = w->buf_width - x;
		if (s->shmimage_height > w->buf_height - y)
			s->shmimage_height = w->buf_height - y;
		return to_core(v, &c, s, sizeof(*s));
	}
	case GUI_MSG_WINDOW_DUMP:
		/* the range was checked against the pool by the reader */
		w->has_buffer = true;
		w->buf_width = m->u.dump.dump_width;
		w->buf_height = m->u.dump.dump_height;
		return to_core(v, m, &m->u.dump, sizeof(m->u.dump));
	case GUI_MSG_WMNAME:
		return to_core(v, m, &m->u.wmname, sizeof(m->u.wmname));
	case GUI_MSG_WMCLASS:
		return to_core(v, m, &m->u.wmclass, sizeof(m->u.wmclass));
	case GUI_MSG_WINDOW_HINTS:
		return to_core(v, m, &m->u.hints, sizeof(m->u.hints));
	case GUI_MSG_WINDOW_FLAGS:
		/* fullscreen is not the qube's to take (Qubes' default) */
		c.u.flags.flags_set &= ~GUI_FLAG_FULLSCREEN;
		return to_core(v, &c, &c.u.flags, sizeof(c.u.flags));
	case GUI_MSG_CURSOR:
		return to_core(v, m, &m->u.cursor, sizeof(m->u.cursor));
	case GUI_MSG_CLIPBOARD_DATA:
		/* only an answer to the user's secure copy is taken */
		if (!v->clipboard_requested) {
			log_info("clipboard data nobody asked for, ignoring");
			return 0;
		}
		v->clipboard_requested = false;
		if (m->u.clipboard.too_big)
			log_info("clipboard data over the limit: refused");
		return to_core(v, m, m->u.clipboard.data, m->u.clipboard.len);
	case GUI_MSG_ERROR: {
		char q[2 * GUI_ERROR_REASON_LEN];

		log_warnx("agent ended the connection: %s",
		    log_quote(q, sizeof(q), m->u.error.error_reason,
		        strnlen(m->u.error.error_reason,
		            sizeof(m->u.error.error_reason))));
		return -EPIPE;
	}
	case GUI_HS_VERSION:
	case GUI_HS_XCONF:
	case GUI_MSG_MIN:
	case GUI_MSG_KEYPRESS:
	case GUI_MSG_BUTTON:
	case GUI_MSG_MOTION:
	case GUI_MSG_CROSSING:
	case GUI_MSG_FOCUS:
	case GUI_MSG_RESIZE:
	case GUI_MSG_MFNDUMP:
	case GUI_MSG_CLOSE:
	case GUI_MSG_EXECUTE:
	case GUI_MSG_CLIPBOARD_REQ:
	case GUI_MSG_KEYMAP_NOTIFY:
	case GUI_MSG_DOCK:
	case GUI_MSG_WINDOW_DUMP_ACK:
	case GUI_MSG_FRAME_DONE:
	case GUI_MSG_TYPE_MAX:
		break;
	}
	/* the reader lets no other type through in this direction */
	return violation(v, GUI_ERR_PROTOCOL, m->window, "unexpected type");
}

/* One message from the core: on to the qube (bodies are fixed size). */
static int
core_msg(void *ctx, const struct gui_msg *m)
{
	struct validator *v = ctx;
	const void *body = &m->u;
	size_t len;
	int sz;

	switch (m->type) {
	case GUI_HS_VERSION:
		return 0;
	case GUI_HS_XCONF:
		v->xconf = m->u.xconf;
		return 0;
	case GUI_MSG_CLIPBOARD_REQ:
		v->clipboard_requested = true;
		break;
	case GUI_MSG_DESTROY:
		return 0; /* acknowledged here already */
	case GUI_MSG_ERROR:
		(void)gd_stream_queue(
		    &v->q, m->type, m->window, &m->u.error, sizeof(m->u.error));
		return -EPIPE;
	default:
		break;
	}
	if (m->type == GUI_MSG_CLIPBOARD_DATA) {
		body = m->u.clipboard.data;
		len = m->u.clipboard.len;
	} else {
		sz = proto_gui_type_size(m->type);
		if (sz < 0)
			return -EPROTO;
		len = (size_t)sz;
	}
	/* input for a window that is gone (or going) is dropped */
	if (m->window != 0 && m->type != GUI_MSG_CLIPBOARD_REQ &&
	    win_get(v, m->window) == NULL)
		return 0;
	if (!v->handshake_done)
		return 0;
	if (gd_stream_queue(&v->q, m->type, m->window, body, len) < 0)
		return violation(v, GUI_ERR_LIMIT, 0, "agent not reading");
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
	struct gui_params qp = {o->clipboard_limit, 0, o->allow_utf8_titles};
	struct gui_params cp = {o->clipboard_limit, 0, false};
	struct validator v;
	uint32_t ver = GUI_PROTOCOL_VERSION;
	int r;

	memset(&v, 0, sizeof(v));
	v.qube = o->qube;
	v.q.fd = v.core.fd = -1;
	v.win = calloc(GUI_MAX_WINDOW_ID + 1, sizeof(*v.win));
	if (v.win == NULL)
		return -ENOMEM;
	if ((r = gd_stream_init(&v.q, o->qube_fd, GUI_DIR_TO_GUI, &qp,
	         V_QUBE_OUT_LIMIT)) < 0 ||
	    (r = gd_stream_init(&v.core, o->core_fd, GUI_DIR_TO_AGENT, &cp,
	         V_CORE_OUT_LIMIT)) < 0)
		goto out;
	/* the core's stream: our version word first (its reader wants it) */
	if ((r = gd_stream_queue_raw(&v.core, &ver, sizeof(ver))) < 0)
		goto out;
	r = v_confine();
	if (r < 0) {
		log_warnx("seccomp: %s", strerror(-r));
		goto out;
	}
	v.rate_start = now_ms();
	for (;;) {
		struct pollfd p[2] = {{v.q.fd, 0, 0}, {v.core.fd, POLLIN, 0}};

		/* the qube is read once the core's xconf is here, and while
		 * the core keeps up */
		if (v.xconf.xconf_width != 0 &&
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
			r = gd_stream_read(&v.q, qube_msg, &v);
			if (r < 0)
				break;
		}
		if ((r = gd_stream_flush(&v.q)) < 0 ||
		    (r = gd_stream_flush(&v.core)) < 0)
			break;
	}
	if (r == -EBADMSG || (r == -EPROTO && v.why[0] == '\0')) {
		const char *why = gui_reader_error(v.q.reader);

		(void)violation(
		    &v, GUI_ERR_PROTOCOL, 0, why ? why : "protocol violation");
	}
	if (v.why[0] != '\0') {
		log_warnx("qube's GUI stopped: %s", v.why);
		send_error(&v.q, v.why_code, v.why_window, v.why);
		send_error(&v.core, v.why_code, v.why_window, v.why);
	} else if (r == -EPIPE) {
		log_info("connection closed");
		(void)fd_set_nonblock(v.core.fd, false);
		(void)gd_stream_flush(&v.core);
	}
out:
	gd_stream_close(&v.q);
	gd_stream_close(&v.core);
	free(v.win);
	return r == -EPIPE ? 0 : r;
}
