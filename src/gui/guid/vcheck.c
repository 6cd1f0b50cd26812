/*
 * vcheck.c - the stateful checks of PROC_GUID_VALIDATOR (issue #8), the
 * per-qube process of the GUI domain that reads a qube's GUI bytes.
 *
 * Runs inside that process (the GUI domain's user, no_new_privs, seccomp;
 * see validator.c, which owns the sockets) and in tests and fuzzers.
 * Untrusted input: every byte and the fd given to gd_vcheck_feed().  The
 * bytes go through the gui_reader (src/lib/proto/gui.c: framing, exact
 * lengths, bodies, phases); this file adds the checks that need state:
 * which window ids exist, the window cap, the message rate, that damage
 * lies inside the current buffer, that the pool fd is a sealed memfd of
 * the size announced and comes alone with POOL, that clipboard data was
 * asked for.  What passes goes to ops->to_core; answers to the qube (the
 * handshake, DESTROY acknowledgements) to ops->to_qube.  The first
 * violation is kept with its reason; nothing is taken after it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gui/guid/vcheck.h"
#include "lib/gui_pool.h"
#include "lib/log.h"
#include "lib/util.h"

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

struct gd_vcheck {
	const struct gd_vcheck_ops *ops;
	void *ctx;
	struct gui_reader *reader; /* the qube's stream */
	struct gui_xconf xconf;
	bool handshake_done;
	struct vwin *win; /* indexed by id, 1..GUI_MAX_WINDOW_ID */
	uint32_t nwin;
	bool clipboard_requested;
	/* benign oddities are logged once a connection: the qube repeats
	 * them at the message rate, which would flood the log */
	bool said_or, said_clipboard;
	uint64_t rate_start;
	uint32_t rate_count;
	int fd_in;     /* the fd that came with the bytes, not yet claimed */
	bool fd_taken; /* one fd a stream, ever: the pool */
	char why[GUI_ERROR_REASON_LEN];
	uint32_t why_code;
	uint32_t why_window;
};

int
gd_vcheck_new(const struct gd_vcheck_opts *o, const struct gd_vcheck_ops *ops,
    void *ctx, struct gd_vcheck **ret)
{
	struct gui_params qp = {o->clipboard_limit, 0, o->allow_utf8_titles};
	struct gd_vcheck *v;
	int r;

	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	v->ops = ops;
	v->ctx = ctx;
	v->fd_in = -1;
	v->win = calloc(GUI_MAX_WINDOW_ID + 1, sizeof(*v->win));
	if (v->win == NULL) {
		r = -ENOMEM;
		goto out_free;
	}
	r = gui_reader_new(GUI_DIR_TO_GUI, &qp, &v->reader);
	if (r < 0)
		goto out_free_win;
	*ret = v;
	return 0;
out_free_win:
	free(v->win);
out_free:
	free(v);
	return r;
}

void
gd_vcheck_free(struct gd_vcheck *v)
{
	if (v == NULL)
		return;
	close_fd(&v->fd_in);
	gui_reader_free(v->reader);
	free(v->win);
	free(v);
}

void
gd_vcheck_set_xconf(struct gd_vcheck *v, const struct gui_xconf *x)
{
	v->xconf = *x;
}

bool
gd_vcheck_ready(const struct gd_vcheck *v)
{
	return v->xconf.xconf_width != 0;
}

int
gd_vcheck_fail(
    struct gd_vcheck *v, uint32_t code, uint32_t window, const char *why)
{
	if (v->why[0] == '\0') {
		(void)str_copy(v->why, sizeof(v->why), why);
		v->why_code = code;
		v->why_window = window;
	}
	return -EPROTO;
}

const char *
gd_vcheck_violation(
    const struct gd_vcheck *v, uint32_t *ret_code, uint32_t *ret_window)
{
	if (v->why[0] == '\0')
		return NULL;
	if (ret_code != NULL)
		*ret_code = v->why_code;
	if (ret_window != NULL)
		*ret_window = v->why_window;
	return v->why;
}

static struct vwin *
win_get(struct gd_vcheck *v, uint32_t id)
{
	if (id == 0 || id > GUI_MAX_WINDOW_ID || !v->win[id].used)
		return NULL;
	return &v->win[id];
}

/* Qubes' rule for override-redirect windows: at most 90 % of the
 * screen, else it gets a frame like any other window. */
static uint32_t
or_allowed(struct gd_vcheck *v, uint32_t o_r, uint32_t w, uint32_t h)
{
	uint64_t area = (uint64_t)w * h;
	uint64_t screen =
	    (uint64_t)v->xconf.xconf_width * v->xconf.xconf_height;

	if (o_r && area * 100 > screen * V_OR_MAX_PERCENT) {
		if (!v->said_or)
			log_info("override-redirect %ux%u covers over %u%% of "
			         "the screen: framed, ignoring (not logged "
			         "again)",
			    w, h, V_OR_MAX_PERCENT);
		v->said_or = true;
		return 0;
	}
	return o_r;
}

static int
to_core(
    struct gd_vcheck *v, const struct gui_msg *m, const void *body, size_t len)
{
	if (v->ops->to_core(v->ctx, m, body, len, -1) < 0)
		return gd_vcheck_fail(
		    v, GUI_ERR_LIMIT, 0, "GUI domain not reading");
	return 0;
}

static int
to_qube(struct gd_vcheck *v, uint32_t type, uint32_t window, const void *body,
    size_t len)
{
	if (v->ops->to_qube(v->ctx, type, window, body, len) < 0)
		return gd_vcheck_fail(v, GUI_ERR_LIMIT, 0, "agent not reading");
	return 0;
}

int
gd_vcheck_give_pool(struct gd_vcheck *v, int fd)
{
	struct gui_msg m;
	size_t size;
	int r;

	r = gui_pool_check(fd, &size);
	if (r < 0)
		return gd_vcheck_fail(v, GUI_ERR_POOL, 0,
		    "the admin side's pool is not a sealed memfd");
	/* the qube may send no pool (POOL is refused) and no fd at all */
	v->fd_taken = true;
	r = gui_reader_set_pool(v->reader, size);
	if (r < 0)
		return gd_vcheck_fail(v, GUI_ERR_POOL, 0, "pool size");
	memset(&m, 0, sizeof(m));
	m.type = GUI_MSG_POOL;
	m.u.pool.pool_id = 0;
	m.u.pool.pool_pages = (uint32_t)(size / GUI_PAGE_SIZE);
	r = v->ops->to_core(v->ctx, &m, &m.u.pool, sizeof(m.u.pool), fd);
	if (r < 0)
		return gd_vcheck_fail(
		    v, GUI_ERR_INTERNAL, 0, "pool not passed on");
	return 0;
}

static int
qube_pool(struct gd_vcheck *v, const struct gui_msg *m)
{
	int fd = v->fd_in;
	size_t size;
	int r;

	v->fd_in = -1;
	if (fd < 0)
		return gd_vcheck_fail(
		    v, GUI_ERR_POOL, 0, "POOL without its fd");
	/* the qube's own pool: sealed against holes, every page its own */
	r = gui_pool_check_qube(fd, &size);
	if (r < 0 || size != (uint64_t)m->u.pool.pool_pages * GUI_PAGE_SIZE) {
		(void)close(fd);
		return gd_vcheck_fail(v, GUI_ERR_POOL, 0,
		    r == -ENODATA ? "pool pages not all allocated" :
		        r < 0     ? "pool fd is not a sealed memfd" :
		                    "pool size is not the size announced");
	}
	r = gui_reader_set_pool(v->reader, size);
	if (r == 0)
		r = v->ops->to_core(
		    v->ctx, m, &m->u.pool, sizeof(m->u.pool), fd);
	(void)close(fd);
	if (r < 0)
		return gd_vcheck_fail(
		    v, GUI_ERR_INTERNAL, 0, "pool not passed on");
	return 0;
}

static int
qube_handshake(struct gd_vcheck *v, const struct gui_msg *m)
{
	uint32_t ver = GUI_PROTOCOL_VERSION;
	int r;

	/* the lower minor; both are 1 today */
	if ((m->u.version & 0xffffu) < GUI_VERSION_MINOR)
		ver = m->u.version;
	if ((r = to_qube(v, 0, 0, &ver, sizeof(ver))) < 0 ||
	    (r = to_qube(v, 0, 0, &v->xconf, sizeof(v->xconf))) < 0)
		return r;
	v->handshake_done = true;
	log_info("agent connected (version 0x%08x)", m->u.version);
	return 0;
}

/* One valid message from the qube: the stateful checks, then on. */
static int
qube_msg(struct gd_vcheck *v, const struct gui_msg *m, uint64_t now_ms)
{
	struct gui_msg c = *m;
	struct vwin *w = NULL;
	int r;

	if (now_ms - v->rate_start >= 1000) {
		v->rate_start = now_ms;
		v->rate_count = 0;
	}
	if (++v->rate_count > GUI_MAX_MSGS_PER_SEC)
		return gd_vcheck_fail(v, GUI_ERR_LIMIT, 0, "too many messages");

	if (m->type == GUI_HS_VERSION)
		return qube_handshake(v, m);
	if (m->type != GUI_MSG_CREATE && m->type != GUI_MSG_POOL &&
	    m->type != GUI_MSG_CLIPBOARD_DATA && m->type != GUI_MSG_ERROR) {
		w = win_get(v, m->window);
		if (w == NULL)
			return gd_vcheck_fail(
			    v, GUI_ERR_PROTOCOL, m->window, "no such window");
	}
	switch ((enum gui_type)m->type) {
	case GUI_MSG_POOL:
		return qube_pool(v, m);
	case GUI_MSG_CREATE:
		if (win_get(v, m->window) != NULL)
			return gd_vcheck_fail(v, GUI_ERR_PROTOCOL, m->window,
			    "CREATE of an existing window");
		if (v->nwin >= GUI_MAX_WINDOWS)
			return gd_vcheck_fail(
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
	case GUI_MSG_DESTROY:
		r = to_core(v, m, NULL, 0);
		/* acknowledged at once: nothing of the window stays here,
		 * and the core drops input for ids it does not know */
		memset(w, 0, sizeof(*w));
		v->nwin--;
		if (r == 0)
			r = to_qube(v, GUI_MSG_DESTROY, m->window, NULL, 0);
		return r;
	case GUI_MSG_MAP:
		if (m->u.map.map_transient_for != 0 &&
		    win_get(v, m->u.map.map_transient_for) == NULL)
			return gd_vcheck_fail(v, GUI_ERR_PROTOCOL, m->window,
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
			if (!v->said_clipboard)
				log_info("clipboard data nobody asked for, "
				         "ignoring (not logged again)");
			v->said_clipboard = true;
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
	return gd_vcheck_fail(
	    v, GUI_ERR_PROTOCOL, m->window, "unexpected type");
}

int
gd_vcheck_feed(struct gd_vcheck *v, const void *untrusted_data, size_t len,
    int fd, uint64_t now_ms)
{
	const uint8_t *p = untrusted_data;
	size_t off = 0, used;
	bool partial = false;
	int r;

	if (v->why[0] != '\0') {
		if (fd >= 0)
			(void)close(fd);
		return -EPROTO;
	}
	if (fd >= 0) {
		/* one fd, once: the pool, with its POOL */
		if (v->fd_taken) {
			(void)close(fd);
			return gd_vcheck_fail(
			    v, GUI_ERR_POOL, 0, "a second fd from the agent");
		}
		v->fd_in = fd;
		v->fd_taken = true;
	}
	while (off < len) {
		struct gui_msg m;

		r = gui_reader_feed(v->reader, p + off, len - off, &used, &m);
		if (r < 0) {
			const char *why = gui_reader_error(v->reader);

			return gd_vcheck_fail(v, GUI_ERR_PROTOCOL, 0,
			    why != NULL ? why : "protocol violation");
		}
		off += used;
		if (r == 0) {
			partial = true;
			break;
		}
		r = qube_msg(v, &m, now_ms);
		if (r < 0)
			return r;
	}
	/*
	 * The kernel hands an fd over with the read that ends with the
	 * bytes it was sent with, earlier messages glued before them: a
	 * POOL of these bytes (or the message still in progress) must
	 * have claimed it.
	 */
	if (v->fd_in >= 0 && !partial)
		return gd_vcheck_fail(
		    v, GUI_ERR_POOL, 0, "an fd without its POOL");
	return 0;
}

int
gd_vcheck_from_core(struct gd_vcheck *v, const struct gui_msg *m)
{
	switch (m->type) {
	case GUI_HS_VERSION:
		return 0;
	case GUI_HS_XCONF:
		v->xconf = m->u.xconf;
		return 0;
	case GUI_MSG_CLIPBOARD_REQ:
		/* asked only if the agent is told */
		if (!v->handshake_done)
			return 0;
		v->clipboard_requested = true;
		return 1;
	case GUI_MSG_DESTROY:
		return 0; /* acknowledged here already */
	case GUI_MSG_ERROR:
		return -EPIPE;
	case GUI_MSG_CONFIGURE: {
		/*
		 * A size the user or the window manager gave the window (a
		 * maximise): the override-redirect rule measures the window
		 * as it is shown, not as the qube last asked for it.
		 */
		struct vwin *w = m->window != 0 ? win_get(v, m->window) : NULL;

		if (w != NULL) {
			w->width = m->u.configure.configure_width;
			w->height = m->u.configure.configure_height;
		}
		break;
	}
	default:
		break;
	}
	/* input for a window that is gone (or going) is dropped */
	if (m->window != 0 && m->type != GUI_MSG_CLIPBOARD_REQ &&
	    win_get(v, m->window) == NULL)
		return 0;
	if (!v->handshake_done)
		return 0;
	return 1;
}
