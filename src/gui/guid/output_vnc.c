/*
 * output_vnc.c - the GUI domain's remote output: the whole desktop as
 * one VNC framebuffer (issue #8; reference/gui.md 3.4).
 *
 * Run inside bulkhead-guid's core (PROC_GUID_CORE, the GUI domain's
 * user), in the core's own poll loop: libvncserver runs without threads,
 * its sockets are polled by the core (fill_pollfds) and serviced by
 * rfbProcessEvents(screen, 0) (dispatch).
 *
 * Untrusted inputs:
 *   - a qube's pixels and title, through the core (render.c copies the
 *     pixels into the content rectangle only and draws the title with
 *     the built-in font);
 *   - everything a VNC viewer sends (libvncserver parses RFB; we get
 *     keysyms, pointer positions and button masks, and ignore its
 *     clipboard).  The viewer is the user's, but the socket is reachable
 *     by any local user unless the listener is restricted: VNC password
 *     auth is weak, so it listens on 127.0.0.1 by default and is meant to
 *     be reached through SSH.
 *
 * The desktop: the output keeps the framebuffer and a dirty region;
 * every change the core reports marks rectangles dirty, flush recomposes
 * just those (render_scene) and hands them to libvncserver.
 *
 * WebSockets: Debian's libvncserver 0.9.14 is built with
 * LIBVNCSERVER_WITH_WEBSOCKETS, and a new connection on the RFB port is
 * first peeked at: one that starts with an HTTP "GET" WebSocket upgrade
 * is served as RFB over WebSockets (noVNC connects straight to
 * ws://127.0.0.1:<vnc_port>/, no websockify), others as plain RFB.  The
 * peek waits up to ~100 ms for a client that speaks first, which plain
 * RFB clients do not, so their connect is that much slower.  With
 * vnc_http_dir set, libvncserver's small HTTP server also serves that
 * directory (noVNC's files) on vnc_ws_port (127.0.0.1 and ::1 only).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pixman.h>
#include <rfb/keysym.h>
#include <rfb/rfb.h>

#include "gui/guid/guid.h"
#include "gui/guid/render.h"
#include "gui/guid/vnc_keymap.h"
#include "lib/log.h"

#define VNC_NOTICE_LEN   160u /* banner text, bytes with the NUL */
#define VNC_NOTICE_MS    3000 /* how long a notice stays */
#define VNC_CLIENT_WAIT  2000 /* ms a half-sent RFB message may stall us */
#define VNC_BUTTONS      5u   /* RFB mask bits: 1-3, wheel 4/5 */
#define VNC_STATE_BUTTON 8u   /* X state: Button1Mask is 1 << 8 */

/* Modifier keys held, each side apart (both Shifts down, one up: still
 * shifted). */
enum vnc_mod_key {
	VNC_MOD_SHIFT_L,
	VNC_MOD_SHIFT_R,
	VNC_MOD_CONTROL_L,
	VNC_MOD_CONTROL_R,
	VNC_MOD_ALT_L,
	VNC_MOD_ALT_R,
	VNC_MOD_META_L,
	VNC_MOD_META_R,
	VNC_MOD_MAX
};

/* What a button press started (the implicit grab, until all are up). */
enum vnc_grab {
	VNC_GRAB_NONE,    /* no button held */
	VNC_GRAB_CONTENT, /* events go to the window's qube */
	VNC_GRAB_DRAG,    /* title bar drag: moves the window */
	VNC_GRAB_FRAME,   /* border, background: swallowed */
	VNC_GRAB_MAX
};

/* A window's frame as last drawn, to repaint what it leaves behind. */
struct vnc_drawn {
	uint32_t gid;
	pixman_box32_t box;
};

struct vnc_out {
	struct gd *g;
	rfbScreenInfoPtr screen;
	struct render_fb fb;
	pixman_region32_t dirty;
	struct vnc_keymap *keymap;
	struct vnc_drawn *drawn;
	size_t ndrawn, drawn_cap;
	/* input */
	uint32_t mod_keys; /* 1 << enum vnc_mod_key */
	bool caps_lock;
	uint32_t buttons; /* RFB mask last seen */
	int32_t ptr_x, ptr_y;
	enum vnc_grab grab;
	uint32_t grab_gid;
	int32_t drag_dx, drag_dy;
	uint32_t hover_gid; /* window whose content has the pointer */
	bool cut_logged;
	/* notice banner */
	char notice[VNC_NOTICE_LEN];
	bool notice_on;
	struct timespec notice_until;
	char *http_dir;
};

/* libvncserver's rfbLog (at debug level) and rfbErr, one line each. */
static void __attribute__((format(printf, 2, 0)))
vnc_vlog(bool err, const char *fmt, va_list ap)
{
	char buf[256];

	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	if (err)
		log_warnx("vnc: %s", buf);
	else
		log_debug("vnc: %s", buf);
}

static void __attribute__((format(printf, 1, 2))) vnc_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnc_vlog(false, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 1, 2))) vnc_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnc_vlog(true, fmt, ap);
	va_end(ap);
}

/* ---- dirty tracking ---- */

static void
mark_box(struct vnc_out *o, const pixman_box32_t *b)
{
	if (b->x1 >= b->x2 || b->y1 >= b->y2)
		return;
	(void)pixman_region32_union_rect(&o->dirty, &o->dirty, b->x1, b->y1,
	    (unsigned int)(b->x2 - b->x1), (unsigned int)(b->y2 - b->y1));
}

static struct vnc_drawn *
drawn_find(struct vnc_out *o, uint32_t gid)
{
	size_t i;

	for (i = 0; i < o->ndrawn; i++)
		if (o->drawn[i].gid == gid)
			return &o->drawn[i];
	return NULL;
}

/*
 * w changed (geometry, stacking, title, mapping): repaint where its
 * frame was and where it is now, and remember the new place.  On
 * allocation failure the whole screen is marked instead (correct, slow).
 */
static void
mark_window(struct vnc_out *o, struct gd_window *w, bool gone)
{
	struct vnc_drawn *d = drawn_find(o, w->gid), *n;
	pixman_box32_t box;

	if (d != NULL) {
		mark_box(o, &d->box);
		if (gone || !w->mapped) {
			*d = o->drawn[--o->ndrawn];
			return;
		}
	}
	if (gone || !w->mapped)
		return;
	render_frame_box(w, &box);
	mark_box(o, &box);
	if (d == NULL) {
		if (o->ndrawn == o->drawn_cap) {
			size_t cap = o->drawn_cap ? o->drawn_cap * 2 : 16;

			n = reallocarray(o->drawn, cap, sizeof(*n));
			if (n == NULL) {
				box.x1 = box.y1 = 0;
				box.x2 = (int32_t)o->fb.width;
				box.y2 = (int32_t)o->fb.height;
				mark_box(o, &box);
				return;
			}
			o->drawn = n;
			o->drawn_cap = cap;
		}
		d = &o->drawn[o->ndrawn++];
		d->gid = w->gid;
	}
	d->box = box;
}

static void
mark_notice(struct vnc_out *o)
{
	pixman_box32_t b = {0, (int32_t)o->fb.height - (int32_t)RENDER_NOTICE_H,
	    (int32_t)o->fb.width, (int32_t)o->fb.height};

	if (b.y1 < 0)
		b.y1 = 0;
	mark_box(o, &b);
}

static void
notice_expire(struct vnc_out *o)
{
	struct timespec now;

	if (!o->notice_on)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > o->notice_until.tv_sec ||
	    (now.tv_sec == o->notice_until.tv_sec &&
	        now.tv_nsec >= o->notice_until.tv_nsec)) {
		o->notice_on = false;
		mark_notice(o);
	}
}

/* Recompose the dirty region and send it to viewers that asked. */
static void
present(struct vnc_out *o)
{
	pixman_box32_t *boxes;
	rfbClientIteratorPtr it;
	rfbClientPtr cl;
	int i, n;

	notice_expire(o);
	(void)pixman_region32_intersect_rect(
	    &o->dirty, &o->dirty, 0, 0, o->fb.width, o->fb.height);
	boxes = pixman_region32_rectangles(&o->dirty, &n);
	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		render_scene(
		    o->g, &o->fb, &boxes[i], o->notice_on ? o->notice : NULL);
		rfbMarkRectAsModified(o->screen, boxes[i].x1, boxes[i].y1,
		    boxes[i].x2, boxes[i].y2);
	}
	pixman_region32_clear(&o->dirty);
	/* send now rather than at the next poll wakeup: updates are only
	 * written from rfbProcessEvents otherwise, and the core may sleep
	 * in poll until the viewer sends something */
	it = rfbGetClientIterator(o->screen);
	while ((cl = rfbClientIteratorNext(it)) != NULL)
		if (cl->sock != RFB_INVALID_SOCKET && cl->state == RFB_NORMAL)
			(void)rfbUpdateClient(cl);
	rfbReleaseClientIterator(it);
}

/* ---- ops from the core ---- */

static void
op_window_changed(void *out, struct gd_window *w)
{
	mark_window(out, w, false);
}

static void
op_window_destroy(void *out, struct gd_window *w)
{
	struct vnc_out *o = out;

	mark_window(o, w, true);
	if (o->grab_gid == w->gid) {
		o->grab_gid = 0;
		o->grab = o->buttons ? VNC_GRAB_FRAME : VNC_GRAB_NONE;
	}
	if (o->hover_gid == w->gid)
		o->hover_gid = 0;
}

static void
op_window_damage(void *out, struct gd_window *w, uint32_t x, uint32_t y,
    uint32_t width, uint32_t height)
{
	struct vnc_out *o = out;
	pixman_box32_t b, c;

	if (!w->mapped)
		return;
	render_content_box(w, &c);
	b.x1 = (int32_t)((int64_t)w->x + x);
	b.y1 = (int32_t)((int64_t)w->y + y);
	b.x2 = (int32_t)((int64_t)b.x1 + width);
	b.y2 = (int32_t)((int64_t)b.y1 + height);
	/* the frame needs no repaint: clip to the content rectangle */
	if (b.x1 < c.x1)
		b.x1 = c.x1;
	if (b.y1 < c.y1)
		b.y1 = c.y1;
	if (b.x2 > c.x2)
		b.x2 = c.x2;
	if (b.y2 > c.y2)
		b.y2 = c.y2;
	mark_box(o, &b);
}

static void
op_focus(void *out, struct gd_window *w)
{
	struct vnc_out *o = out;
	size_t i;

	/* every title bar may change look with focus: repaint the frames
	 * (cheap next to a content update) */
	for (i = 0; i < o->ndrawn; i++)
		mark_box(o, &o->drawn[i].box);
	if (w != NULL)
		mark_window(o, w, false);
}

static void
op_notice(void *out, const char *text)
{
	struct vnc_out *o = out;
	char q[VNC_NOTICE_LEN * 4];
	size_t len = strnlen(text, VNC_NOTICE_LEN - 1);

	memcpy(o->notice, text, len);
	o->notice[len] = '\0';
	log_debug("vnc: notice: %s",
	    log_quote(q, sizeof(q), o->notice, strlen(o->notice)));
	(void)clock_gettime(CLOCK_MONOTONIC, &o->notice_until);
	o->notice_until.tv_sec += VNC_NOTICE_MS / 1000;
	o->notice_on = true;
	mark_notice(o);
}

static void
op_flush(void *out)
{
	present(out);
}

static int
op_fill_pollfds(void *out, struct pollfd *pfd, int max)
{
	struct vnc_out *o = out;
	rfbScreenInfoPtr s = o->screen;
	rfbSocket fds[5] = {s->listenSock, s->listen6Sock, s->httpListenSock,
	    s->httpListen6Sock, s->httpSock};
	rfbClientIteratorPtr it;
	rfbClientPtr cl;
	size_t i;
	int n = 0;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]) && n < max; i++) {
		if (fds[i] == RFB_INVALID_SOCKET)
			continue;
		pfd[n].fd = fds[i];
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		n++;
	}
	it = rfbGetClientIterator(s);
	while ((cl = rfbClientIteratorNext(it)) != NULL && n < max) {
		if (cl->sock == RFB_INVALID_SOCKET)
			continue;
		pfd[n].fd = cl->sock;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		n++;
	}
	rfbReleaseClientIterator(it);
	return n;
}

static void
op_dispatch(void *out)
{
	struct vnc_out *o = out;

	/* accepts, reads one message a ready client (more stay readable
	 * for the next poll), sends pending updates; never waits except
	 * for the rest of a half-received message (VNC_CLIENT_WAIT) */
	(void)rfbProcessEvents(o->screen, 0);
	present(o);
}

static void
op_free(void *out)
{
	struct vnc_out *o = out;

	if (o == NULL)
		return;
	rfbShutdownServer(o->screen, TRUE);
	rfbScreenCleanup(o->screen);
	free(o->fb.px);
	pixman_region32_fini(&o->dirty);
	vnc_keymap_free(o->keymap);
	free(o->drawn);
	free(o->http_dir);
	free(o);
}

static const struct gd_output_ops vnc_ops = {
    .name = "vnc",
    .window_map = op_window_changed,
    .window_configure = op_window_changed,
    .window_title = op_window_changed,
    .window_unmap = op_window_changed,
    .window_destroy = op_window_destroy,
    .window_damage = op_window_damage,
    .window_raise = op_window_changed,
    .focus = op_focus,
    .notice = op_notice,
    .flush = op_flush,
    .fill_pollfds = op_fill_pollfds,
    .dispatch = op_dispatch,
    .free = op_free,
};

/* ---- input from viewers ---- */

static uint32_t
mod_state(const struct vnc_out *o)
{
	uint32_t st = 0;

	if (o->mod_keys & (1u << VNC_MOD_SHIFT_L | 1u << VNC_MOD_SHIFT_R))
		st |= GD_STATE_SHIFT;
	if (o->mod_keys & (1u << VNC_MOD_CONTROL_L | 1u << VNC_MOD_CONTROL_R))
		st |= GD_STATE_CONTROL;
	if (o->mod_keys &
	    (1u << VNC_MOD_ALT_L | 1u << VNC_MOD_ALT_R | 1u << VNC_MOD_META_L |
	        1u << VNC_MOD_META_R))
		st |= GD_STATE_MOD1;
	if (o->caps_lock)
		st |= GD_STATE_LOCK;
	return st;
}

static int
mod_key(uint32_t keysym)
{
	switch (keysym) {
	case XK_Shift_L:
		return VNC_MOD_SHIFT_L;
	case XK_Shift_R:
		return VNC_MOD_SHIFT_R;
	case XK_Control_L:
		return VNC_MOD_CONTROL_L;
	case XK_Control_R:
		return VNC_MOD_CONTROL_R;
	case XK_Alt_L:
		return VNC_MOD_ALT_L;
	case XK_Alt_R:
		return VNC_MOD_ALT_R;
	case XK_Meta_L:
		return VNC_MOD_META_L;
	case XK_Meta_R:
		return VNC_MOD_META_R;
	default:
		return -1;
	}
}

static void
vnc_kbd(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct vnc_out *o = cl->screen->screenData;
	uint32_t keycode, state = mod_state(o);
	bool shift;
	int m;

	if (vnc_keymap_lookup(o->keymap, (uint32_t)keysym, &keycode, &shift) <
	    0) {
		log_debug("vnc: keysym 0x%x not in the keymap, dropped",
		    (unsigned int)keysym);
		return;
	}
	/* a viewer may send 'A' without a Shift press of its own (noVNC on
	 * some layouts): the qube needs the state that makes keycode 38 an
	 * 'A' */
	if (shift)
		state |= GD_STATE_SHIFT;
	/* X state is the modifiers before the event */
	gd_key(o->g, keycode, down != FALSE, state);
	m = mod_key((uint32_t)keysym);
	if (m >= 0) {
		if (down)
			o->mod_keys |= 1u << m;
		else
			o->mod_keys &= ~(1u << m);
	} else if (keysym == XK_Caps_Lock && down)
		o->caps_lock = !o->caps_lock;
}

/* Where screen point (x, y) is on w. */
static bool
in_content(const struct gd_window *w, int32_t x, int32_t y)
{
	return x >= w->x && y >= w->y &&
	    (int64_t)x < (int64_t)w->x + w->width &&
	    (int64_t)y < (int64_t)w->y + w->height;
}

static bool
in_titlebar(const struct gd_window *w, int32_t x, int32_t y)
{
	return !w->override_redirect && x >= w->x &&
	    (int64_t)x < (int64_t)w->x + w->width &&
	    (int64_t)y >= (int64_t)w->y - GD_TITLEBAR && y < w->y;
}

/* Pointer not grabbed: send leave/enter when the content under it
 * changed. */
static void
update_hover(struct vnc_out *o, struct gd_window *under)
{
	uint32_t gid = under != NULL && in_content(under, o->ptr_x, o->ptr_y) ?
	    under->gid :
	    0;
	struct gd_window *old;

	if (gid == o->hover_gid)
		return;
	old = o->hover_gid ? gd_window_by_gid(o->g, o->hover_gid) : NULL;
	if (old != NULL)
		gd_crossing(
		    o->g, old, false, o->ptr_x - old->x, o->ptr_y - old->y);
	o->hover_gid = gid;
	if (gid != 0)
		gd_crossing(o->g, under, true, o->ptr_x - under->x,
		    o->ptr_y - under->y);
}

/* A first button went down at the pointer: decide the grab. */
static void
start_grab(struct vnc_out *o, unsigned int button)
{
	struct gd_window *w =
	    gd_window_at(o->g, o->ptr_x, o->ptr_y, GD_BORDER, GD_TITLEBAR);

	o->grab = VNC_GRAB_FRAME;
	o->grab_gid = 0;
	if (w == NULL)
		return;
	o->grab_gid = w->gid;
	if (w != gd_focused(o->g)) {
		gd_set_focus(o->g, w);
		/* the core may have restacked or dropped w */
		w = gd_window_by_gid(o->g, o->grab_gid);
		if (w == NULL)
			return;
	}
	if (in_content(w, o->ptr_x, o->ptr_y))
		o->grab = VNC_GRAB_CONTENT;
	else if (button == 1 && in_titlebar(w, o->ptr_x, o->ptr_y)) {
		o->grab = VNC_GRAB_DRAG;
		o->drag_dx = o->ptr_x - w->x;
		o->drag_dy = o->ptr_y - w->y;
	}
}

static void
vnc_ptr(int untrusted_mask, int untrusted_x, int untrusted_y, rfbClientPtr cl)
{
	struct vnc_out *o = cl->screen->screenData;
	uint32_t mask = (uint32_t)untrusted_mask & ((1u << VNC_BUTTONS) - 1);
	uint32_t held = o->buttons, state, i;
	int32_t x = untrusted_x, y = untrusted_y;
	struct gd_window *w;
	bool moved;

	/* RFB coordinates are u16; keep them on the screen */
	if (x < 0)
		x = 0;
	if (y < 0)
		y = 0;
	if ((uint32_t)x >= o->fb.width)
		x = (int32_t)o->fb.width - 1;
	if ((uint32_t)y >= o->fb.height)
		y = (int32_t)o->fb.height - 1;
	moved = x != o->ptr_x || y != o->ptr_y;
	o->ptr_x = x;
	o->ptr_y = y;

	if (o->grab == VNC_GRAB_NONE) {
		w = gd_window_at(o->g, x, y, GD_BORDER, GD_TITLEBAR);
		update_hover(o, w);
		if (moved && w != NULL && in_content(w, x, y))
			gd_motion(o->g, w, x - w->x, y - w->y,
			    mod_state(o) | held << VNC_STATE_BUTTON);
	} else if (moved) {
		w = o->grab_gid ? gd_window_by_gid(o->g, o->grab_gid) : NULL;
		if (w != NULL && o->grab == VNC_GRAB_DRAG)
			gd_configure(o->g, w, x - o->drag_dx, y - o->drag_dy,
			    w->width, w->height);
		else if (w != NULL && o->grab == VNC_GRAB_CONTENT)
			gd_motion(o->g, w, x - w->x, y - w->y,
			    mod_state(o) | held << VNC_STATE_BUTTON);
	}

	for (i = 0; i < VNC_BUTTONS; i++) {
		uint32_t bit = 1u << i;

		if ((mask & bit) == (held & bit))
			continue;
		if ((mask & bit) && held == 0)
			start_grab(o, i + 1);
		state = mod_state(o) | held << VNC_STATE_BUTTON;
		w = o->grab_gid ? gd_window_by_gid(o->g, o->grab_gid) : NULL;
		if (w != NULL && o->grab == VNC_GRAB_CONTENT)
			gd_button(o->g, w, x - w->x, y - w->y, i + 1,
			    (mask & bit) != 0, state);
		held ^= bit;
	}
	o->buttons = mask;
	if (mask == 0 && o->grab != VNC_GRAB_NONE) {
		o->grab = VNC_GRAB_NONE;
		o->grab_gid = 0;
		update_hover(
		    o, gd_window_at(o->g, x, y, GD_BORDER, GD_TITLEBAR));
	}
}

static void
vnc_cut(char *str, int len, rfbClientPtr cl)
{
	struct vnc_out *o = cl->screen->screenData;

	(void)str;
	(void)len;
	/* a viewer's clipboard is one more untrusted source; the secure
	 * copy and paste between qubes is the core's (Ctrl-Shift-C/V) */
	if (!o->cut_logged)
		log_info("vnc: a viewer sent its clipboard, ignoring (logged "
		         "once)");
	o->cut_logged = true;
}

/* ---- start ---- */

int
gd_output_vnc_new(struct gd *g, const struct gd_output_opts *opts,
    const struct gd_output_ops **ret_ops, void **ret_out, char *err,
    size_t errlen)
{
	const char *listen = opts->vnc_listen ? opts->vnc_listen : "127.0.0.1";
	char *argv[] = {"bulkhead-guid", NULL};
	int argc = 1, r;
	struct in_addr addr;
	struct vnc_out *o;
	rfbScreenInfoPtr s;
	pixman_box32_t all;

	if (opts->width == 0 || opts->height == 0 || opts->width > 8192 ||
	    opts->height > 8192) {
		(void)snprintf(err, errlen, "bad screen size %ux%u",
		    opts->width, opts->height);
		return -EINVAL;
	}
	if (opts->vnc_port <= 0 || opts->vnc_port > 65535 ||
	    opts->vnc_ws_port < 0 || opts->vnc_ws_port > 65535) {
		(void)snprintf(err, errlen, "bad port");
		return -EINVAL;
	}
	if (inet_pton(AF_INET, listen, &addr) != 1) {
		(void)snprintf(err, errlen,
		    "listen address %s: not an IPv4 address", listen);
		return -EINVAL;
	}
	if ((ntohl(addr.s_addr) >> 24) != 127)
		log_warnx("vnc: listening on %s, not loopback: VNC "
		          "authentication is weak, prefer SSH forwarding",
		    listen);

	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return -ENOMEM;
	o->g = g;
	o->fb.width = opts->width;
	o->fb.height = opts->height;
	o->fb.stride = opts->width;
	o->ptr_x = o->ptr_y = -1;
	pixman_region32_init(&o->dirty);
	o->fb.px = calloc((size_t)opts->width * opts->height, 4);
	if (o->fb.px == NULL) {
		r = -ENOMEM;
		goto out_free;
	}
	r = vnc_keymap_new("us", &o->keymap);
	if (r < 0) {
		(void)snprintf(err, errlen,
		    "xkbcommon keymap evdev/pc105/us: %s", strerror(-r));
		goto out_free;
	}
	if (opts->vnc_http_dir != NULL) {
		o->http_dir = strdup(opts->vnc_http_dir);
		if (o->http_dir == NULL) {
			r = -ENOMEM;
			goto out_free;
		}
	}

	rfbLog = vnc_log;
	rfbErr = vnc_err;
	rfbMaxClientWait = VNC_CLIENT_WAIT;
	s = rfbGetScreen(
	    &argc, argv, (int)opts->width, (int)opts->height, 8, 3, 4);
	if (s == NULL) {
		r = -ENOMEM;
		goto out_free;
	}
	o->screen = s;
	s->screenData = o;
	s->desktopName = "bulkhead";
	s->frameBuffer = (char *)o->fb.px;
	/* XRGB little-endian: blue in the low byte, as the pool pixels */
	s->serverFormat.redShift = 16;
	s->serverFormat.greenShift = 8;
	s->serverFormat.blueShift = 0;
	s->autoPort = FALSE;
	s->port = opts->vnc_port;
	s->listenInterface = addr.s_addr;
	/* no IPv6 RFB listener (rfbGetScreen's default is [::]:5900); any
	 * IPv6 socket libvncserver opens (HTTP) is on ::1 only */
	s->ipv6port = 0;
	s->listen6Interface = "::1";
	s->deferUpdateTime = 0;
	s->alwaysShared = TRUE;
	s->neverShared = FALSE;
	s->permitFileTransfer = FALSE;
	/* no cursor: libvncserver would paint its default one into the
	 * framebuffer for viewers without cursor encodings (at 0,0) */
	s->cursor = NULL;
	s->kbdAddEvent = vnc_kbd;
	s->ptrAddEvent = vnc_ptr;
	s->setXCutText = vnc_cut;
	s->setXCutTextUTF8 = vnc_cut;
	if (o->http_dir != NULL) {
		s->httpDir = o->http_dir;
		if (opts->vnc_ws_port != 0)
			s->httpPort = opts->vnc_ws_port;
		else
			s->httpPort = opts->vnc_port - 100;
		/* 0 would become ipv6port - 100, a wild port on [::] */
		s->http6Port = s->httpPort;
	}
	rfbInitServer(s);
	if (s->listenSock == RFB_INVALID_SOCKET) {
		(void)snprintf(err, errlen, "cannot listen on %s:%d", listen,
		    opts->vnc_port);
		r = -EADDRINUSE;
		goto out_screen;
	}
	if (o->http_dir != NULL && s->httpListenSock == RFB_INVALID_SOCKET)
		log_warnx("vnc: cannot serve %s on port %d, ignoring",
		    o->http_dir, s->httpPort);
	log_info("vnc: %ux%u desktop on %s:%d", opts->width, opts->height,
	    listen, opts->vnc_port);

	all.x1 = all.y1 = 0;
	all.x2 = (int32_t)opts->width;
	all.y2 = (int32_t)opts->height;
	mark_box(o, &all);
	present(o);
	*ret_ops = &vnc_ops;
	*ret_out = o;
	return 0;

out_screen:
	rfbShutdownServer(s, TRUE);
	rfbScreenCleanup(s);
out_free:
	free(o->fb.px);
	pixman_region32_fini(&o->dirty);
	vnc_keymap_free(o->keymap);
	free(o->http_dir);
	free(o);
	return r;
}
