/*
 * core.c - PROC_GUID_CORE: the GUI domain's trusted side (issue #8).
 *
 * Runs as the GUI domain's user (bulkhead-guid drops root before it
 * starts), not dumpable.  It keeps every qube's windows, the stacking
 * order and the focus; tells the outputs (VNC, X11) what to show; routes
 * input: keys only to the focused window's qube, pointer events to the
 * window under the pointer; runs the secure clipboard (Ctrl-Shift-C
 * copies the focused qube's clipboard into the GUI domain's,
 * Ctrl-Shift-V pastes it into the focused qube if the policy allows
 * qubes.ClipboardPaste, then empties it).  The name and label colour of
 * a qube come from the connector (from bulkheadd), never from the qube.
 *
 * Untrusted input: none parsed here first.  Each qube's bytes are parsed
 * by its own validator process (validator.c), which this file starts;
 * what a validator forwards is read through a gui_reader again (cheap,
 * and a broken validator is then refused the same way), and every range
 * into a pool is checked against the pool's real size before a pixel is
 * read.  Input from outputs (a VNC viewer's pointer and keys) is routed
 * only to windows that exist.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gui/guid/core.h"
#include "gui/guid/ipc.h"
#include "gui/guid/prompt.h"
#include "gui/guid/stream.h"
#include "lib/gui_pool.h"
#include "lib/log.h"
#include "lib/sock.h"
#include "lib/util.h"

#define GD_MAX_OUTPUTS 2
/* poll slots beyond one a qube: the connector, the outputs' sockets (VNC:
 * its listeners and each viewer), the prompt */
#define GD_POLL_EXTRA 64
/* Queued to one validator (input, clipboard): its qube is slow. */
#define GD_QUBE_OUT_LIMIT ((size_t)4 << 20)
/* The pool of the GUI domain's own windows (one at a time: the prompt). */
#define GD_LOCAL_POOL ((size_t)4 << 20)

/*
 * What a qube does to its windows (MAP, UNMAP, CONFIGURE, WMNAME,
 * SHMIMAGE) changes the model at once but reaches the outputs once a loop
 * turn (present_pending), not once a message: a MAP, a CONFIGURE or a
 * whole-window SHMIMAGE costs the X server a redraw of up to the screen,
 * and the validator lets GUI_MAX_MSGS_PER_SEC of them through, which kept
 * the X server (and the core, writing to it) busy for seconds and
 * stalled every other qube's windows and input.
 */
struct gd_win {
	struct gd_window pub;   /* first: outputs see this */
	bool frame_pending;     /* damaged since the last FRAME_DONE */
	bool shown;             /* the outputs were told window_map */
	bool map_pending;       /* MAP since then: tell window_map again */
	bool configure_pending; /* geometry changed, not yet told */
	bool title_pending;     /* title changed, not yet told */
	bool damage_pending;    /* dmg_* is a box not yet told */
	uint32_t dmg_x1, dmg_y1, dmg_x2, dmg_y2; /* buffer coords, half-open */
};

/* a qube asked for its clipboard (Ctrl-Shift-C) answers within this */
#define COPY_ANSWER_NS (5ull * 1000000000ull)

struct gd_q {
	struct gd_qube pub; /* first */
	struct gd *g;
	pid_t validator;
	struct gd_stream s;
	struct gd_win **wins; /* by the qube's id */
	bool copy_requested;
	uint64_t copy_deadline; /* now_ns() by which its answer must come */
	bool said_attention;    /* logged once: a qube repeats it at will */
	bool dead;
	bool local; /* the GUI domain's own windows (the prompt): no stream */
	uint8_t *local_px; /* local: the pool, writable */
	struct gd_q *next;
};

struct gd_out {
	const struct gd_output_ops *ops;
	void *out;
	bool lost; /* gd_output_lost: freed after the dispatch */
};

struct gd {
	uint32_t width, height;
	uint32_t clipboard_limit;
	bool allow_utf8_titles;
	bool debug;
	const char *exe;
	int connector_fd;
	struct gd_out outputs[GD_MAX_OUTPUTS];
	int noutputs;
	struct gd_q *qubes;
	struct gd_window *bottom, *top;
	struct gd_window *focus;
	/* the qube that had the focus last ("": none yet): only its MAP may
	 * take a focus nobody has (q_msg) */
	char focus_qube[GD_NAME_MAX];
	uint32_t last_gid; /* gd_gid_next */
	bool gid_wrapped;
	/* the GUI domain's clipboard */
	uint8_t *clip;
	uint32_t clip_len;
	bool clip_full;
	char clip_source[GD_NAME_MAX];
	/* a paste waiting for the policy's answer */
	bool paste_pending;
	uint32_t paste_seq;
	char paste_target[GD_NAME_MAX];
	/* keys whose release is not forwarded (the shortcuts') */
	uint8_t swallow[32];
	/* keys down now, as the outputs report them (X keycodes): told to a
	 * qube as its window gets the focus (KEYMAP_NOTIFY), so that a key
	 * released while another qube had the focus is not stuck in it */
	uint8_t down[32];
	/* the GUI domain's own windows, and the policy prompt */
	struct gd_q *local;
	struct gd_prompt *prompt;
};

#define OUTPUTS(g, op, ...)                                                    \
	do {                                                                   \
		int i_;                                                        \
		for (i_ = 0; i_ < (g)->noutputs; i_++)                         \
			if ((g)->outputs[i_].ops->op != NULL)                  \
				(g)->outputs[i_].ops->op(                      \
				    (g)->outputs[i_].out, __VA_ARGS__);        \
	} while (0)

static struct gd_q *
qpriv(struct gd_qube *q)
{
	return (struct gd_q *)q;
}

static void notice(struct gd *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
notice(struct gd *g, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_info("notice: %s", text);
	OUTPUTS(g, notice, text);
}

/* ---- stacking and lookup ---- */

static void
stack_unlink(struct gd *g, struct gd_window *w)
{
	if (w->below != NULL)
		w->below->above = w->above;
	else if (g->bottom == w)
		g->bottom = w->above;
	if (w->above != NULL)
		w->above->below = w->below;
	else if (g->top == w)
		g->top = w->below;
	w->above = w->below = NULL;
}

static void
stack_push_top(struct gd *g, struct gd_window *w)
{
	w->below = g->top;
	w->above = NULL;
	if (g->top != NULL)
		g->top->above = w;
	else
		g->bottom = w;
	g->top = w;
}

struct gd_window *
gd_bottom(struct gd *g)
{
	return g->bottom;
}

struct gd_window *
gd_top(struct gd *g)
{
	return g->top;
}

struct gd_window *
gd_focused(struct gd *g)
{
	return g->focus;
}

struct gd_window *
gd_window_by_gid(struct gd *g, uint32_t gid)
{
	struct gd_window *w;

	for (w = g->bottom; w != NULL; w = w->above)
		if (w->gid == gid)
			return w;
	return NULL;
}

/*
 * Outputs and the prompt find a window again by its gid (a pointer grab,
 * the window under the pointer, the focus to give back after a prompt):
 * two live windows with one gid would send one qube's pointer events, or
 * the keyboard, to another's.  A qube that creates and destroys windows
 * without end wraps the 32-bit counter (2^32 CREATEs: days at the rate
 * cap, less with several qubes); from then on each candidate is checked
 * against the live windows.  0 is never used ("none").
 */
uint32_t
gd_gid_next(struct gd *g, uint32_t *last, bool *wrapped)
{
	for (;;) {
		uint32_t gid = ++*last;

		if (gid == 0) {
			*wrapped = true;
			continue;
		}
		/* fewer live windows than ids: this ends */
		if (!*wrapped || gd_window_by_gid(g, gid) == NULL)
			return gid;
	}
}

struct gd_window *
gd_window_at(
    struct gd *g, int32_t sx, int32_t sy, uint32_t border, uint32_t titlebar)
{
	struct gd_window *w;

	for (w = g->top; w != NULL; w = w->below) {
		int64_t x0, y0, x1, y1;

		if (!w->mapped)
			continue;
		x0 = (int64_t)w->x - border;
		x1 = (int64_t)w->x + w->width + border;
		y0 = (int64_t)w->y - border -
		    (w->override_redirect ? 0 : titlebar);
		y1 = (int64_t)w->y + w->height + border;
		if (sx >= x0 && sx < x1 && sy >= y0 && sy < y1)
			return w;
	}
	return NULL;
}

const uint8_t *
gd_window_pixels(const struct gd_window *w)
{
	const struct gd_qube *q = w->qube;

	if (!w->has_buffer || q->pool == NULL)
		return NULL;
	/* checked at WINDOW_DUMP; again here, as it costs nothing */
	if (proto_gui_range_check(q->pool_size, w->buf_offset, w->buf_stride,
	        w->buf_width, w->buf_height, w->buf_format) < 0)
		return NULL;
	return q->pool + w->buf_offset;
}

/* ---- to a qube ---- */

static void
q_send(struct gd_q *q, uint32_t type, uint32_t window, const void *body,
    size_t len)
{
	if (q->dead || q->local)
		return;
	if (gd_stream_queue(&q->s, type, window, body, len) < 0) {
		log_warnx("qube %s: its GUI does not keep up, closing it",
		    q->pub.name);
		q->dead = true;
	}
}

static struct gd_q *
owner(struct gd_window *w)
{
	return qpriv(w->qube);
}

/* ---- focus and input (outputs call these) ---- */

void
gd_set_focus(struct gd *g, struct gd_window *w)
{
	struct gui_focus f;

	if (w != NULL && !w->mapped)
		w = NULL;
	if (w == g->focus) {
		if (w != NULL && g->top != w) {
			stack_unlink(g, w);
			stack_push_top(g, w);
			OUTPUTS(g, window_raise, w);
		}
		return;
	}
	memset(&f, 0, sizeof(f));
	if (g->focus != NULL) {
		f.focus_type = GUI_FOCUS_OUT;
		q_send(owner(g->focus), GUI_MSG_FOCUS, g->focus->wid, &f,
		    sizeof(f));
	}
	g->focus = w;
	if (w != NULL) {
		(void)str_copy(
		    g->focus_qube, sizeof(g->focus_qube), w->qube->name);
		/* before FOCUS_IN, as Qubes' guid does on an X FocusIn: the
		 * agent lets go of what is no longer down, then takes the
		 * focus with the right modifiers */
		q_send(owner(w), GUI_MSG_KEYMAP_NOTIFY, w->wid, g->down,
		    sizeof(g->down));
		f.focus_type = GUI_FOCUS_IN;
		q_send(owner(w), GUI_MSG_FOCUS, w->wid, &f, sizeof(f));
		if (g->top != w) {
			stack_unlink(g, w);
			stack_push_top(g, w);
			OUTPUTS(g, window_raise, w);
		}
	}
	OUTPUTS(g, focus, w);
}

static void
secure_copy(struct gd *g)
{
	struct gd_q *q;

	if (g->focus == NULL) {
		notice(g, "Secure copy: no window has the focus");
		return;
	}
	/*
	 * Only the last qube asked may answer, and only soon: an older
	 * request left unanswered must not fill the clipboard later, when
	 * the user no longer expects it (and a qube that knows the user has
	 * just copied elsewhere could replace that copy with its own).
	 */
	for (q = g->qubes; q != NULL; q = q->next)
		q->copy_requested = false;
	q = owner(g->focus);
	q->copy_requested = true;
	q->copy_deadline = now_ns() + COPY_ANSWER_NS;
	q_send(q, GUI_MSG_CLIPBOARD_REQ, 0, NULL, 0);
}

static void
secure_paste(struct gd *g)
{
	struct gd_ipc a;
	struct gd_q *q;

	if (g->focus == NULL) {
		notice(g, "Secure paste: no window has the focus");
		return;
	}
	q = owner(g->focus);
	if (!g->clip_full) {
		notice(g, "Secure paste: the GUI clipboard is empty");
		return;
	}
	if (g->paste_pending)
		return;
	memset(&a, 0, sizeof(a));
	a.ipc_type = GD_IPC_PASTE_ASK;
	a.ipc_seq = ++g->paste_seq;
	(void)str_copy(a.ipc_name, sizeof(a.ipc_name), g->clip_source);
	(void)str_copy(a.ipc_target, sizeof(a.ipc_target), q->pub.name);
	if (send(g->connector_fd, &a, sizeof(a), MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(a)) {
		notice(g, "Secure paste: no policy to ask: denied");
		return;
	}
	g->paste_pending = true;
	(void)str_copy(g->paste_target, sizeof(g->paste_target), q->pub.name);
}

static void
paste_answer(struct gd *g, const struct gd_ipc *a)
{
	struct gd_q *q;

	if (!g->paste_pending || a->ipc_seq != g->paste_seq)
		return;
	g->paste_pending = false;
	for (q = g->qubes; q != NULL; q = q->next)
		if (!q->dead && strcmp(q->pub.name, g->paste_target) == 0)
			break;
	if (!a->ipc_allowed) {
		notice(g, "Paste from %s to %s denied by policy",
		    g->clip_source, g->paste_target);
		return;
	}
	if (q == NULL || !g->clip_full) {
		notice(g, "Paste to %s: the qube is gone", g->paste_target);
		return;
	}
	q_send(q, GUI_MSG_CLIPBOARD_DATA, 0, g->clip, g->clip_len);
	notice(g,
	    "Pasted %u bytes from %s to %s; the GUI clipboard is now "
	    "empty",
	    g->clip_len, g->clip_source, q->pub.name);
	/* one copy, one paste (Qubes) */
	freezero(g->clip, g->clip_len);
	g->clip = NULL;
	g->clip_len = 0;
	g->clip_full = false;
}

void
gd_key(struct gd *g, uint32_t keycode, bool press, uint32_t state)
{
	struct gui_keypress k;
	uint32_t mods =
	    state & (GD_STATE_CONTROL | GD_STATE_SHIFT | GD_STATE_MOD1);

	if (keycode < GUI_KEYCODE_MIN || keycode > GUI_KEYCODE_MAX)
		return;
	if (press)
		g->down[keycode / 8] |= (uint8_t)(1u << (keycode % 8));
	else
		g->down[keycode / 8] &= (uint8_t) ~(1u << (keycode % 8));
	/* the prompt's keys are the GUI domain's */
	if (g->focus != NULL && owner(g->focus)->local) {
		if (g->prompt != NULL)
			gd_prompt_key(g->prompt, keycode, press);
		return;
	}
	if (!press && (g->swallow[keycode / 8] & (1u << (keycode % 8)))) {
		g->swallow[keycode / 8] &= (uint8_t) ~(1u << (keycode % 8));
		return;
	}
	/* the secure clipboard's keys are the GUI domain's alone */
	if (press && mods == (GD_STATE_CONTROL | GD_STATE_SHIFT) &&
	    (keycode == GD_KEY_C + 8 || keycode == GD_KEY_V + 8)) {
		g->swallow[keycode / 8] |= (uint8_t)(1u << (keycode % 8));
		if (keycode == GD_KEY_C + 8)
			secure_copy(g);
		else
			secure_paste(g);
		return;
	}
	if (g->focus == NULL)
		return;
	memset(&k, 0, sizeof(k));
	k.keypress_type = press ? GUI_KEY_PRESS : GUI_KEY_RELEASE;
	k.keypress_state = state & GUI_STATE_MASK;
	k.keypress_keycode = keycode;
	q_send(owner(g->focus), GUI_MSG_KEYPRESS, g->focus->wid, &k, sizeof(k));
}

static int32_t
clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void
gd_motion(
    struct gd *g, struct gd_window *w, int32_t x, int32_t y, uint32_t state)
{
	struct gui_motion m;

	if (w == NULL || !w->mapped)
		return;
	memset(&m, 0, sizeof(m));
	m.motion_x = clamp_i32(x, -(int32_t)GUI_MAX_WIDTH, GUI_MAX_WIDTH);
	m.motion_y = clamp_i32(y, -(int32_t)GUI_MAX_HEIGHT, GUI_MAX_HEIGHT);
	m.motion_state = state & GUI_STATE_MASK;
	q_send(owner(w), GUI_MSG_MOTION, w->wid, &m, sizeof(m));
}

void
gd_button(struct gd *g, struct gd_window *w, int32_t x, int32_t y,
    uint32_t button, bool press, uint32_t state)
{
	struct gui_button b;

	if (w == NULL || !w->mapped || button < 1 || button > GUI_MAX_BUTTON)
		return;
	if (owner(w)->local) {
		if (g->prompt != NULL && button == 1)
			gd_prompt_button(g->prompt, x, y, press);
		return;
	}
	memset(&b, 0, sizeof(b));
	b.button_type = press ? GUI_BUTTON_PRESS : GUI_BUTTON_RELEASE;
	b.button_x = clamp_i32(x, -(int32_t)GUI_MAX_WIDTH, GUI_MAX_WIDTH);
	b.button_y = clamp_i32(y, -(int32_t)GUI_MAX_HEIGHT, GUI_MAX_HEIGHT);
	b.button_state = state & GUI_STATE_MASK;
	b.button_button = button;
	q_send(owner(w), GUI_MSG_BUTTON, w->wid, &b, sizeof(b));
}

void
gd_crossing(struct gd *g, struct gd_window *w, bool enter, int32_t x, int32_t y)
{
	struct gui_crossing c;

	if (w == NULL || !w->mapped)
		return;
	memset(&c, 0, sizeof(c));
	c.crossing_type = enter ? GUI_ENTER_NOTIFY : GUI_LEAVE_NOTIFY;
	c.crossing_x = clamp_i32(x, -(int32_t)GUI_MAX_WIDTH, GUI_MAX_WIDTH);
	c.crossing_y = clamp_i32(y, -(int32_t)GUI_MAX_HEIGHT, GUI_MAX_HEIGHT);
	q_send(owner(w), GUI_MSG_CROSSING, w->wid, &c, sizeof(c));
}

void
gd_close(struct gd *g, struct gd_window *w)
{
	if (w != NULL && owner(w)->local && g->prompt != NULL)
		gd_prompt_close(g->prompt);
	else if (w != NULL)
		q_send(owner(w), GUI_MSG_CLOSE, w->wid, NULL, 0);
}

/* ---- the GUI domain's own windows ---- */

static void place(struct gd *g, struct gd_window *w, int32_t x, int32_t y);

void
gd_notice(struct gd *g, const char *text)
{
	notice(g, "%s", text);
}

/* The pseudo qube "dom0" that owns them, made the first time. */
static struct gd_q *
local_qube(struct gd *g)
{
	struct gd_q *q;
	void *p;
	int fd;

	if (g->local != NULL)
		return g->local;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->wins = calloc(GUI_MAX_WINDOW_ID + 1, sizeof(*q->wins));
	if (q->wins == NULL || gui_pool_make(GD_LOCAL_POOL, &fd) < 0) {
		free(q->wins);
		free(q);
		return NULL;
	}
	p = mmap(
	    NULL, GD_LOCAL_POOL, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		(void)close(fd);
		free(q->wins);
		free(q);
		return NULL;
	}
	q->g = g;
	q->local = true;
	q->s.fd = -1;
	q->local_px = p;
	q->pub.pool = p;
	q->pub.pool_size = GD_LOCAL_POOL;
	q->pub.pool_fd = fd;
	q->pub.label_rgb = 0x000000; /* dom0's label: black */
	(void)str_copy(q->pub.name, sizeof(q->pub.name), "dom0");
	(void)str_copy(q->pub.label, sizeof(q->pub.label), "black");
	g->local = q;
	return q;
}

struct gd_window *
gd_local_window_new(struct gd *g, uint32_t width, uint32_t height,
    const char *title, uint32_t **ret_px)
{
	struct gd_q *q = local_qube(g);
	struct gd_win *pw;
	struct gd_window *w;

	/* one at a time, at the start of the pool */
	if (q == NULL || q->wins[1] != NULL ||
	    (uint64_t)width * height * 4 > GD_LOCAL_POOL)
		return NULL;
	pw = calloc(1, sizeof(*pw));
	if (pw == NULL)
		return NULL;
	w = &pw->pub;
	w->gid = gd_gid_next(g, &g->last_gid, &g->gid_wrapped);
	w->qube = &q->pub;
	w->wid = 1;
	w->width = w->buf_width = width;
	w->height = w->buf_height = height;
	w->buf_stride = width * 4;
	w->buf_format = GUI_FORMAT_XRGB8888;
	w->has_buffer = true;
	(void)str_copy(w->title, sizeof(w->title), title);
	place(g, w, (int32_t)(g->width - width) / 2,
	    (int32_t)(g->height - height) / 3);
	q->wins[1] = pw;
	w->mapped = true;
	pw->shown = true; /* told here, not by present_pending */
	stack_push_top(g, w);
	*ret_px = (uint32_t *)(void *)q->local_px;
	OUTPUTS(g, window_map, w);
	OUTPUTS(g, window_damage, w, 0, 0, width, height);
	return w;
}

void
gd_local_window_damage(struct gd *g, struct gd_window *w)
{
	OUTPUTS(g, window_damage, w, 0, 0, w->buf_width, w->buf_height);
}

/* Keep a window's frame reachable: its top left on the screen. */
static void
place(struct gd *g, struct gd_window *w, int32_t x, int32_t y)
{
	int32_t top =
	    (int32_t)(GD_BORDER + (w->override_redirect ? 0 : GD_TITLEBAR));
	int32_t maxx = (int32_t)g->width - (int32_t)GD_BORDER - 16;
	int32_t maxy = (int32_t)g->height - (int32_t)GD_BORDER - 16;

	w->x = clamp_i32(x, (int32_t)GD_BORDER,
	    maxx > (int32_t)GD_BORDER ? maxx : (int32_t)GD_BORDER);
	w->y = clamp_i32(y, top, maxy > top ? maxy : top);
}

void
gd_configure(struct gd *g, struct gd_window *w, int32_t x, int32_t y,
    uint32_t width, uint32_t height)
{
	struct gui_configure c;

	if (w == NULL || width < 1 || height < 1 || width > GUI_MAX_WIDTH ||
	    height > GUI_MAX_HEIGHT)
		return;
	place(g, w, x, y);
	w->width = width;
	w->height = height;
	OUTPUTS(g, window_configure, w);
	memset(&c, 0, sizeof(c));
	c.configure_x = w->x;
	c.configure_y = w->y;
	c.configure_width = width;
	c.configure_height = height;
	c.configure_override_redirect = w->override_redirect;
	q_send(owner(w), GUI_MSG_CONFIGURE, w->wid, &c, sizeof(c));
}

/*
 * A new normal window exactly where another qube's window is (agents
 * place their first windows alike) goes beside it, or below the row when
 * the screen is full: two qubes' windows do not start on top of each
 * other.
 */
static void
cascade(struct gd *g, struct gd_window *w)
{
	struct gd_window *o;
	int tries;

	if (w->override_redirect)
		return;
	for (tries = 0; tries < 32; tries++) {
		int64_t nx, ny;

		for (o = g->bottom; o != NULL; o = o->above)
			if (o->qube != w->qube && !o->override_redirect &&
			    o->x == w->x && o->y == w->y)
				break;
		if (o == NULL)
			return;
		nx = (int64_t)o->x + o->width + 2 * GD_BORDER + 16;
		ny = o->y;
		if (nx + w->width > g->width) {
			nx = GD_BORDER;
			ny = (int64_t)o->y + o->height + 2 * GD_BORDER +
			    GD_TITLEBAR + 16;
		}
		if (ny + w->height > g->height)
			return;
		place(g, w, (int32_t)nx, (int32_t)ny);
	}
}

/* ---- from a validator ---- */

static void window_free(struct gd *g, struct gd_q *q, struct gd_window *w);

void
gd_local_window_free(struct gd *g, struct gd_window *w)
{
	window_free(g, owner(w), w);
}

static void
window_free(struct gd *g, struct gd_q *q, struct gd_window *w)
{
	if (g->focus == w) {
		g->focus = NULL;
		OUTPUTS(g, focus, (struct gd_window *)NULL);
	}
	OUTPUTS(g, window_destroy, w);
	stack_unlink(g, w);
	q->wins[w->wid] = NULL;
	free(w);
}

static void
damage(struct gd *g, struct gd_win *pw, uint32_t x, uint32_t y, uint32_t wd,
    uint32_t ht)
{
	struct gd_window *w = &pw->pub;

	if (!w->has_buffer || x >= w->buf_width || y >= w->buf_height)
		return;
	if (wd > w->buf_width - x)
		wd = w->buf_width - x;
	if (ht > w->buf_height - y)
		ht = w->buf_height - y;
	pw->frame_pending = true;
	/* told at the end of the loop turn, as one box (present_pending) */
	if (!pw->damage_pending) {
		pw->damage_pending = true;
		pw->dmg_x1 = x;
		pw->dmg_y1 = y;
		pw->dmg_x2 = x + wd;
		pw->dmg_y2 = y + ht;
		return;
	}
	if (x < pw->dmg_x1)
		pw->dmg_x1 = x;
	if (y < pw->dmg_y1)
		pw->dmg_y1 = y;
	if (x + wd > pw->dmg_x2)
		pw->dmg_x2 = x + wd;
	if (y + ht > pw->dmg_y2)
		pw->dmg_y2 = y + ht;
}

/*
 * What the qubes changed in this loop turn, to the outputs: a window
 * mapped or unmapped once (a map draws all of it), else its new geometry
 * and title once, then its damage as one box (clipped to the buffer it
 * has now), whatever number of CONFIGURE and SHMIMAGE messages came.
 */
static void
present_pending(struct gd *g)
{
	struct gd_window *w;

	for (w = g->bottom; w != NULL; w = w->above) {
		struct gd_win *pw = (struct gd_win *)w;

		if (!w->mapped && pw->shown) {
			pw->shown = false;
			OUTPUTS(g, window_unmap, w);
		}
		if (w->mapped && (!pw->shown || pw->map_pending)) {
			/* the whole window: geometry, title and pixels */
			pw->shown = true;
			pw->map_pending = pw->configure_pending = false;
			pw->title_pending = pw->damage_pending = false;
			OUTPUTS(g, window_map, w);
			/* the focus it got at MAP, now that outputs have it */
			if (g->focus == w)
				OUTPUTS(g, focus, w);
			continue;
		}
		if (pw->configure_pending) {
			pw->configure_pending = false;
			if (w->mapped)
				OUTPUTS(g, window_configure, w);
		}
		if (pw->title_pending) {
			pw->title_pending = false;
			if (w->mapped)
				OUTPUTS(g, window_title, w);
		}
		if (!pw->damage_pending)
			continue;
		pw->damage_pending = false;
		if (!w->mapped || !w->has_buffer ||
		    pw->dmg_x1 >= w->buf_width || pw->dmg_y1 >= w->buf_height)
			continue;
		if (pw->dmg_x2 > w->buf_width)
			pw->dmg_x2 = w->buf_width;
		if (pw->dmg_y2 > w->buf_height)
			pw->dmg_y2 = w->buf_height;
		OUTPUTS(g, window_damage, w, pw->dmg_x1, pw->dmg_y1,
		    pw->dmg_x2 - pw->dmg_x1, pw->dmg_y2 - pw->dmg_y1);
	}
}

static int
q_pool(struct gd *g, struct gd_q *q, const struct gui_msg *m)
{
	int fd = gd_stream_take_fd(&q->s);
	size_t size;
	void *p;
	int r;

	if (fd < 0)
		return -EPROTO;
	r = gui_pool_check(fd, &size);
	if (r < 0 || size != (uint64_t)m->u.pool.pool_pages * GUI_PAGE_SIZE) {
		(void)close(fd);
		return -EPROTO;
	}
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	q->pub.pool = p;
	q->pub.pool_size = size;
	q->pub.pool_fd = fd;
	return gui_reader_set_pool(q->s.reader, size);
}

static int
q_msg(void *ctx, const struct gui_msg *m)
{
	struct gd_q *q = ctx;
	struct gd *g = q->g;
	struct gd_win *pw = NULL;
	struct gd_window *w = NULL;

	if (m->type == GUI_HS_VERSION)
		return 0;
	if (m->window != 0 && m->window <= GUI_MAX_WINDOW_ID) {
		pw = q->wins[m->window];
		w = pw != NULL ? &pw->pub : NULL;
	}
	switch (m->type) {
	case GUI_MSG_POOL:
		return q_pool(g, q, m);
	case GUI_MSG_CREATE:
		if (w != NULL)
			return -EPROTO;
		pw = calloc(1, sizeof(*pw));
		if (pw == NULL)
			return -ENOMEM;
		w = &pw->pub;
		w->gid = gd_gid_next(g, &g->last_gid, &g->gid_wrapped);
		w->qube = &q->pub;
		w->wid = m->window;
		w->width = m->u.create.create_width;
		w->height = m->u.create.create_height;
		w->override_redirect = m->u.create.create_override_redirect;
		place(g, w, m->u.create.create_x, m->u.create.create_y);
		cascade(g, w);
		q->wins[m->window] = pw;
		stack_push_top(g, w);
		return 0;
	case GUI_MSG_ERROR:
		notice(g, "The GUI of qube %s was stopped: %.123s", q->pub.name,
		    m->u.error.error_reason);
		return -EPIPE;
	case GUI_MSG_CLIPBOARD_DATA:
		if (!q->copy_requested)
			return 0;
		q->copy_requested = false;
		if (now_ns() > q->copy_deadline) {
			notice(g, "Copy from %s ignored: it came too late",
			    q->pub.name);
			return 0;
		}
		/*
		 * The policy was asked about the clipboard as it is: while it
		 * answers, nothing replaces it (the paste would carry data
		 * the decision was not about).
		 */
		if (g->paste_pending) {
			notice(g,
			    "Copy from %s ignored: a paste waits for the policy",
			    q->pub.name);
			return 0;
		}
		if (m->u.clipboard.too_big) {
			notice(g, "Copy from %s refused: over %u bytes",
			    q->pub.name, g->clipboard_limit);
			return 0;
		}
		freezero(g->clip, g->clip_len);
		g->clip = NULL;
		g->clip_len = 0;
		g->clip_full = false;
		if (m->u.clipboard.len > 0) {
			g->clip = malloc(m->u.clipboard.len);
			if (g->clip == NULL)
				return -ENOMEM;
			memcpy(
			    g->clip, m->u.clipboard.data, m->u.clipboard.len);
		}
		g->clip_len = m->u.clipboard.len;
		g->clip_full = true;
		(void)str_copy(
		    g->clip_source, sizeof(g->clip_source), q->pub.name);
		notice(g, "Copied %u bytes from %s; Ctrl-Shift-V pastes them",
		    g->clip_len, q->pub.name);
		return 0;
	default:
		break;
	}
	if (w == NULL)
		return -EPROTO; /* the validator lets none through */
	switch (m->type) {
	case GUI_MSG_DESTROY:
		window_free(g, q, w);
		return 0;
	case GUI_MSG_MAP:
		w->override_redirect = m->u.map.map_override_redirect;
		w->transient_for = 0;
		if (m->u.map.map_transient_for != 0 &&
		    q->wins[m->u.map.map_transient_for] != NULL)
			w->transient_for =
			    q->wins[m->u.map.map_transient_for]->pub.gid;
		w->mapped = true;
		pw->map_pending = true; /* present_pending tells */
		/*
		 * On top, but the focus stays where the user put it: a qube
		 * cannot take the keyboard by mapping a window.  When no
		 * window has it (the focused one went away), only the qube
		 * that had it last (or the first qube, at the start) gets it
		 * back by mapping: else any qube mapping windows in a loop
		 * would catch the keys the user types next.
		 */
		stack_unlink(g, w);
		stack_push_top(g, w);
		if (g->focus == NULL && !w->override_redirect &&
		    (g->focus_qube[0] == '\0' ||
		        strcmp(g->focus_qube, q->pub.name) == 0))
			gd_set_focus(g, w);
		return 0;
	case GUI_MSG_UNMAP:
		if (g->focus == w)
			gd_set_focus(g, NULL);
		w->mapped = false;
		pw->map_pending = false; /* present_pending tells */
		return 0;
	case GUI_MSG_CONFIGURE:
		w->width = m->u.configure.configure_width;
		w->height = m->u.configure.configure_height;
		w->override_redirect =
		    m->u.configure.configure_override_redirect;
		place(g, w, m->u.configure.configure_x,
		    m->u.configure.configure_y);
		pw->configure_pending = true; /* present_pending tells */
		return 0;
	case GUI_MSG_SHMIMAGE:
		damage(g, pw, (uint32_t)m->u.shmimage.shmimage_x,
		    (uint32_t)m->u.shmimage.shmimage_y,
		    m->u.shmimage.shmimage_width,
		    m->u.shmimage.shmimage_height);
		return 0;
	case GUI_MSG_WINDOW_DUMP:
		if (proto_gui_range_check(q->pub.pool_size,
		        m->u.dump.dump_offset, m->u.dump.dump_stride,
		        m->u.dump.dump_width, m->u.dump.dump_height,
		        m->u.dump.dump_format) < 0)
			return -EPROTO;
		w->has_buffer = true;
		w->buf_offset = m->u.dump.dump_offset;
		w->buf_stride = m->u.dump.dump_stride;
		w->buf_width = m->u.dump.dump_width;
		w->buf_height = m->u.dump.dump_height;
		w->buf_format = m->u.dump.dump_format;
		q_send(q, GUI_MSG_WINDOW_DUMP_ACK, w->wid, NULL, 0);
		damage(g, pw, 0, 0, w->buf_width, w->buf_height);
		return 0;
	case GUI_MSG_WMNAME:
		memcpy(w->title, m->u.wmname.wmname_data, sizeof(w->title));
		w->title[sizeof(w->title) - 1] = '\0';
		pw->title_pending = true; /* present_pending tells */
		return 0;
	case GUI_MSG_WINDOW_FLAGS:
		w->flags =
		    (w->flags | m->u.flags.flags_set) & ~m->u.flags.flags_unset;
		if ((m->u.flags.flags_set & GUI_FLAG_DEMANDS_ATTENTION) &&
		    !q->said_attention) {
			log_info("qube %s: a window asks for attention (not "
			         "logged again)",
			    q->pub.name);
			q->said_attention = true;
		}
		return 0;
	case GUI_MSG_WMCLASS:
	case GUI_MSG_WINDOW_HINTS:
	case GUI_MSG_CURSOR:
		return 0; /* valid, and nothing of ours depends on them */
	default:
		return -EPROTO;
	}
}

/* ---- qubes come (from the connector) and go ---- */

static int
q_add(struct gd *g, const struct gd_ipc *a, int qfd, int pfd)
{
	/* as the validator's: it forwards what it accepted */
	struct gui_params params = {
	    g->clipboard_limit, 0, g->allow_utf8_titles};
	struct gui_xconf xc;
	uint32_t ver = GUI_PROTOCOL_VERSION;
	char lim[16];
	int sp[2] = {-1, -1};
	struct gd_q *q;
	pid_t pid;
	int r;

	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	q->wins = calloc(GUI_MAX_WINDOW_ID + 1, sizeof(*q->wins));
	if (q->wins == NULL) {
		free(q);
		return -ENOMEM;
	}
	q->g = g;
	q->pub.pool_fd = -1;
	q->s.fd = -1;
	memcpy(q->pub.name, a->ipc_name, sizeof(q->pub.name));
	q->pub.name[sizeof(q->pub.name) - 1] = '\0';
	memcpy(q->pub.label, a->ipc_label, sizeof(q->pub.label));
	q->pub.label[sizeof(q->pub.label) - 1] = '\0';
	q->pub.label_rgb = a->ipc_label_rgb & 0xffffffu;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		r = -errno;
		goto out_free;
	}
	(void)snprintf(lim, sizeof(lim), "%u", g->clipboard_limit);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out_free;
	}
	if (pid == 0) {
		/* the qube's stream on 3, ours on 4, a VM's pool on 5 */
		if (dup2(qfd, 3) < 0 || dup2(sp[1], 4) < 0 ||
		    (pfd >= 0 && dup2(pfd, 5) < 0))
			_exit(127);
		closefrom(pfd >= 0 ? 6 : 5);
		{
			char *av[10];
			int n = 0;

			av[n++] = (char *)"bulkhead-guid";
			av[n++] = (char *)"--validator";
			av[n++] = (char *)"--qube";
			av[n++] = q->pub.name;
			av[n++] = (char *)"--clipboard-limit";
			av[n++] = lim;
			if (g->allow_utf8_titles)
				av[n++] = (char *)"--allow-utf8-titles";
			if (g->debug)
				av[n++] = (char *)"-d";
			if (pfd >= 0)
				av[n++] = (char *)"--pool-fd=5";
			av[n] = NULL;
			execv(g->exe, av);
		}
		_exit(127);
	}
	close_fd(&sp[1]);
	close_fd(&qfd);
	close_fd(&pfd);
	q->validator = pid;
	r = gd_stream_init(
	    &q->s, sp[0], GUI_DIR_TO_GUI, &params, GD_QUBE_OUT_LIMIT);
	if (r < 0)
		goto out_free;
	memset(&xc, 0, sizeof(xc));
	xc.xconf_width = g->width;
	xc.xconf_height = g->height;
	xc.xconf_depth = 24;
	xc.xconf_mem =
	    (uint32_t)((uint64_t)g->width * g->height * 4 / 1024 + 1);
	if ((r = gd_stream_queue_raw(&q->s, &ver, sizeof(ver))) < 0 ||
	    (r = gd_stream_queue_raw(&q->s, &xc, sizeof(xc))) < 0)
		goto out_free;
	q->next = g->qubes;
	g->qubes = q;
	log_info("qube %s (label %s): GUI validator %d", q->pub.name,
	    q->pub.label, (int)pid);
	return 0;
out_free:
	close_fd(&sp[1]);
	if (q->s.reader != NULL)
		gd_stream_close(&q->s); /* it holds sp[0] */
	else
		close_fd(&sp[0]);
	/* a validator already started ends with its stream: reap it */
	if (q->validator > 0) {
		int status;

		(void)kill(q->validator, SIGTERM);
		(void)waitpid(q->validator, &status, 0);
	}
	close_fd(&qfd);
	close_fd(&pfd);
	free(q->wins);
	free(q);
	return r;
}

static void
q_remove(struct gd *g, struct gd_q *q)
{
	struct gd_q **pp;
	uint32_t i;
	int status;

	for (i = 1; i <= GUI_MAX_WINDOW_ID; i++)
		if (q->wins[i] != NULL)
			window_free(g, q, &q->wins[i]->pub);
	for (pp = &g->qubes; *pp != NULL; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	gd_stream_close(&q->s);
	if (q->validator > 0) {
		(void)kill(q->validator, SIGTERM);
		(void)waitpid(q->validator, &status, 0);
	}
	if (q->pub.pool != NULL)
		(void)munmap((void *)q->pub.pool, q->pub.pool_size);
	close_fd(&q->pub.pool_fd);
	log_info("qube %s: GUI connection closed", q->pub.name);
	free(q->wins);
	free(q);
}

static int
connector_read(struct gd *g)
{
	struct gd_ipc a;
	int fds[2] = {-1, -1};
	size_t nfd;
	ssize_t n;

	/* the qube's connection, and for a VM its pool */
	n = sock_recv_fds(
	    g->connector_fd, &a, sizeof(a), MSG_DONTWAIT, fds, 2, &nfd);
	if (n == -EPROTO) {
		/* fds not as the connector sends them: dropped, with them */
		log_warnx("connector: a message with bad fds dropped");
		return 0;
	}
	if (n < 0)
		return n == -EAGAIN || n == -EINTR ? 0 : (int)n;
	if (n == 0)
		return -EPIPE;
	if (n != (ssize_t)sizeof(a) || a.ipc_type != GD_IPC_QUBE ||
	    fds[0] < 0) {
		close_fd(&fds[0]);
		close_fd(&fds[1]);
		if (n != (ssize_t)sizeof(a))
			return -EBADMSG; /* the connector is ours: a bug */
		if (a.ipc_type == GD_IPC_PASTE_ANSWER)
			paste_answer(g, &a);
		return 0;
	}
	{
		int r = q_add(g, &a, fds[0], fds[1]);

		if (r < 0)
			log_warnx("qube %.31s: GUI not started: %s", a.ipc_name,
			    strerror(-r));
	}
	return 0;
}

/* ---- the loop ---- */

static void
frames_done(struct gd *g)
{
	struct gd_window *w;
	struct gui_frame_done f;

	f.frame_done_msec = (uint32_t)now_ms();
	for (w = g->bottom; w != NULL; w = w->above) {
		struct gd_win *pw = (struct gd_win *)w;

		if (!pw->frame_pending)
			continue;
		pw->frame_pending = false;
		q_send(owner(w), GUI_MSG_FRAME_DONE, w->wid, &f, sizeof(f));
	}
}

void
gd_output_lost(struct gd *g, void *out)
{
	int i;

	for (i = 0; i < g->noutputs; i++)
		if (g->outputs[i].out == out)
			g->outputs[i].lost = true;
}

/* Free the outputs that said they were lost; -ENOTCONN when none is left.
 * Windows keep no pointer into the array (each output has its own fixed
 * output_data slot), so the survivors may move down. */
static int
outputs_reap(struct gd *g)
{
	int i, n = 0;

	for (i = 0; i < g->noutputs; i++) {
		struct gd_out *o = &g->outputs[i];

		if (!o->lost) {
			g->outputs[n++] = *o;
			continue;
		}
		log_warnx("output %s lost%s", o->ops->name,
		    g->noutputs > 1 ? ", the others go on" : "");
		if (o->ops->free != NULL)
			o->ops->free(o->out);
	}
	if (n == g->noutputs)
		return 0;
	g->noutputs = n;
	if (n == 0) {
		log_warnx("no output left: the GUI domain stops");
		return -ENOTCONN;
	}
	return 0;
}

int
gd_run(struct gd *g)
{
	struct pollfd *p = NULL;
	void **owner_of = NULL;
	int *kind = NULL;
	size_t cap = 0;
	int n, i, r, timeout;

	for (;;) {
		struct gd_q *q, *next;
		size_t need = 1 + GD_POLL_EXTRA;
		int room;

		/* room for every qube: none may go unread (an array of a
		 * fixed size once left the 57th qube and the viewers out) */
		for (q = g->qubes; q != NULL; q = q->next)
			need++;
		if (need > cap) {
			struct pollfd *np = reallocarray(p, need, sizeof(*np));
			void **no;
			int *nk;

			if (np != NULL)
				p = np;
			no = np ? reallocarray(owner_of, need, sizeof(*no)) :
			          NULL;
			if (no != NULL)
				owner_of = no;
			nk = no ? reallocarray(kind, need, sizeof(*nk)) : NULL;
			if (nk != NULL) {
				kind = nk;
				cap = need;
			} else if (cap == 0) {
				r = -ENOMEM;
				goto out;
			}
			/* else: the arrays we had; some qubes wait a turn */
		}
		room = (int)cap;
		n = 0;
		p[n] = (struct pollfd){g->connector_fd, POLLIN, 0};
		kind[n++] = 0;
		for (q = g->qubes; q != NULL && n < room - GD_POLL_EXTRA;
		     q = q->next) {
			p[n] = (struct pollfd){q->s.fd, POLLIN, 0};
			if (gd_stream_pending(&q->s))
				p[n].events |= POLLOUT;
			owner_of[n] = q;
			kind[n++] = 1;
		}
		for (i = 0; i < g->noutputs; i++) {
			int k, m;

			if (g->outputs[i].ops->fill_pollfds == NULL)
				continue;
			m = g->outputs[i].ops->fill_pollfds(
			    g->outputs[i].out, p + n, room - n);
			for (k = 0; k < m; k++) {
				owner_of[n + k] = NULL;
				kind[n + k] = 2;
			}
			n += m;
		}
		if (g->prompt != NULL) {
			int k,
			    m = gd_prompt_fill_pollfds(
			        g->prompt, p + n, room - n);

			for (k = 0; k < m; k++) {
				owner_of[n + k] = NULL;
				kind[n + k] = 3;
			}
			n += m;
		}
		timeout = 1000;
		if (g->prompt != NULL) {
			int t = gd_prompt_timeout_ms(g->prompt);

			if (t >= 0 && t < timeout)
				timeout = t;
		}
		r = poll(p, (nfds_t)n, timeout);
		if (r < 0 && errno != EINTR) {
			r = -errno;
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (kind[i] == 0) {
				r = connector_read(g);
				if (r == -EPIPE) {
					log_info("connector gone: stopping");
					r = 0;
					goto out;
				}
			} else if (kind[i] == 1) {
				q = owner_of[i];
				r = gd_stream_read(&q->s, q_msg, q);
				if (r < 0 && r != -EPIPE)
					log_warnx("qube %s: validator: %s",
					    q->pub.name,
					    gui_reader_error(q->s.reader) ?
					        gui_reader_error(q->s.reader) :
					        strerror(-r));
				if (r < 0)
					q->dead = true;
			}
		}
		if (g->prompt != NULL)
			gd_prompt_dispatch(g->prompt);
		for (i = 0; i < g->noutputs; i++)
			if (g->outputs[i].ops->dispatch != NULL)
				g->outputs[i].ops->dispatch(g->outputs[i].out);
		if ((r = outputs_reap(g)) < 0)
			goto out;
		present_pending(g);
		for (i = 0; i < g->noutputs; i++)
			if (g->outputs[i].ops->flush != NULL)
				g->outputs[i].ops->flush(g->outputs[i].out);
		frames_done(g);
		for (q = g->qubes; q != NULL; q = next) {
			next = q->next;
			if (!q->dead && gd_stream_flush(&q->s) < 0)
				q->dead = true;
			if (q->dead)
				q_remove(g, q);
		}
	}
out:
	free(p);
	free(owner_of);
	free(kind);
	return r;
}

int
gd_new(const struct gd_core_opts *o, struct gd **ret, char *err, size_t errlen)
{
	struct gd_output_opts oo = o->out;
	struct gd *g;
	int r;

	oo.width = o->width;
	oo.height = o->height;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -ENOMEM;
	g->width = o->width;
	g->height = o->height;
	g->clipboard_limit = o->clipboard_limit;
	g->allow_utf8_titles = o->allow_utf8_titles;
	g->exe = o->exe;
	g->debug = o->debug;
	g->connector_fd = o->connector_fd;
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (o->vnc) {
		struct gd_out *out = &g->outputs[g->noutputs];

		r = gd_output_vnc_new(
		    g, &oo, &out->ops, &out->out, err, errlen);
		if (r < 0)
			goto out_free;
		g->noutputs++;
	}
	if (o->x11) {
		struct gd_out *out = &g->outputs[g->noutputs];

		r = gd_output_x11_new(
		    g, &oo, &out->ops, &out->out, err, errlen);
		if (r < 0)
			goto out_free;
		g->noutputs++;
	}
	if (o->ask_fd >= 0 &&
	    (r = gd_prompt_new(g, o->ask_fd, o->prompt_delay_ms, &g->prompt)) <
	        0) {
		(void)snprintf(err, errlen, "prompt: %s", strerror(-r));
		goto out_free;
	}
	*ret = g;
	return 0;
out_free:
	gd_free(g);
	return r;
}

void
gd_free(struct gd *g)
{
	int i;

	if (g == NULL)
		return;
	while (g->qubes != NULL)
		q_remove(g, g->qubes);
	gd_prompt_free(g->prompt);
	g->prompt = NULL;
	if (g->local != NULL) {
		if (g->local->wins[1] != NULL)
			window_free(g, g->local, &g->local->wins[1]->pub);
		(void)munmap(g->local->local_px, GD_LOCAL_POOL);
		close_fd(&g->local->pub.pool_fd);
		free(g->local->wins);
		free(g->local);
		g->local = NULL;
	}
	for (i = 0; i < g->noutputs; i++)
		if (g->outputs[i].ops->free != NULL)
			g->outputs[i].ops->free(g->outputs[i].out);
	freezero(g->clip, g->clip_len);
	close_fd(&g->connector_fd);
	free(g);
}
