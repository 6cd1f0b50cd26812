/*
 * output_x11.c - the local X11 output of the GUI domain (issue #8).
 *
 * One top-level X window per qube window.  Its content comes straight from
 * the qube's pool: the pool fd is handed to the X server once per qube with
 * MIT-SHM (xcb_shm_attach_fd, read-only) and every damage rectangle is one
 * xcb_shm_put_image out of that segment.  We cannot rely on a trusted window
 * manager, so the label-coloured frame (GD_BORDER pixels each side) is drawn
 * by us INSIDE our own window, and every put is clipped to the content area
 * so that a qube's pixels never land on the frame.  The WM title is
 * "[qube] title" with the qube name from bulkheadd.
 *
 * Runs in PROC_GUID_CORE (the GUI domain's user) inside bulkhead-guid.
 * Inputs: the core's window model (already validated; the buffer ranges are
 * re-checked here against the pool size anyway, since an error would only
 * cost an X error, but a wrong clip would put qube pixels on the frame), and
 * X events from the X server (trusted as much as the local display is: it
 * sees every pixel and key anyway).  No qube byte is parsed here.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>

#include "gui/guid/font.h"
#include "lib/util.h"
#include "gui/guid/guid.h"
#include "lib/log.h"

/* output_data slot of this output (VNC uses 0) */
#define X11_SLOT 1
/* colour of content that no buffer covers */
#define X11_BACKGROUND 0x202020u
/* the atoms we intern */
enum x11_atom {
	X11_WM_PROTOCOLS,
	X11_WM_DELETE_WINDOW,
	X11_NET_WM_NAME,
	X11_UTF8_STRING,
	X11_QUBES_VMNAME,
	X11_QUBES_LABEL_COLOR,
	X11_ATOM_MAX
};
static const char *const x11_atom_names[X11_ATOM_MAX] = {
    [X11_WM_PROTOCOLS] = "WM_PROTOCOLS",
    [X11_WM_DELETE_WINDOW] = "WM_DELETE_WINDOW",
    [X11_NET_WM_NAME] = "_NET_WM_NAME",
    [X11_UTF8_STRING] = "UTF8_STRING",
    [X11_QUBES_VMNAME] = "_QUBES_VMNAME",
    [X11_QUBES_LABEL_COLOR] = "_QUBES_LABEL_COLOR",
};

/* One MIT-SHM segment: a qube's pool as the X server sees it. */
struct x11_seg {
	struct gd_qube *qube;
	xcb_shm_seg_t seg;
	unsigned refs; /* windows using it */
	int pool_fd;   /* what it was made from, to notice a new pool */
	const uint8_t *pool;
	size_t pool_size;
	struct x11_seg *next;
};

/* Our state of one gd_window (its output_data[X11_SLOT]). */
struct x11_win {
	struct gd_window *w;
	xcb_window_t xid;
	bool mapped;
	/* the frame geometry we last asked for, and the one X reports */
	int32_t req_x, req_y;
	uint32_t req_w, req_h;
	uint32_t cur_w, cur_h;
	bool reparented;      /* a WM put us in its frame: x, y are not ours */
	unsigned int cfg_seq; /* our last ConfigureWindow of it */
	struct x11_seg *seg;  /* a reference, or NULL */
	uint32_t buttons;     /* buttons whose press went to the qube */
	struct x11_win *next;
};

/* How long a notice stays up. */
#define X11_NOTICE_MS 4000u

struct x11_out {
	struct gd *g;
	xcb_connection_t *c;
	xcb_screen_t *screen;
	xcb_gcontext_t gc;
	xcb_atom_t atom[X11_ATOM_MAX];
	struct x11_win *wins;
	struct x11_seg *segs;
	xcb_window_t focus_xid; /* the window we last gave the X focus */
	/* events xcb read while we were not dispatching (see fill_pollfds) */
	xcb_generic_event_t *stash;
	int wake_fd;
	bool dead;
	/* the notice: a window of ours along the bottom, for a while */
	xcb_window_t notice_xid; /* 0: none */
	uint64_t notice_until;   /* now_ms() */
};

/* ---- small helpers ---- */

static int16_t
x11_pos(int64_t v)
{
	if (v < INT16_MIN)
		return INT16_MIN;
	if (v > INT16_MAX)
		return INT16_MAX;
	return (int16_t)v;
}

static uint16_t
x11_size(uint64_t v)
{
	if (v < 1)
		return 1;
	if (v > UINT16_MAX)
		return UINT16_MAX;
	return (uint16_t)v;
}

static uint32_t
min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static struct x11_win *
x11_win_of(const struct gd_window *w)
{
	return w != NULL ? w->output_data[X11_SLOT] : NULL;
}

/* Map an X window back to ours.  A list: a few hundred windows at most,
 * and only input and configure events look it up. */
static struct x11_win *
x11_find(struct x11_out *o, xcb_window_t xid)
{
	struct x11_win *xw;

	for (xw = o->wins; xw != NULL; xw = xw->next)
		if (xw->xid == xid)
			return xw;
	return NULL;
}

/* ---- pool segments ---- */

static void
x11_seg_detach(struct x11_out *o, struct x11_seg *s)
{
	if (s->seg != 0)
		(void)xcb_shm_detach(o->c, s->seg);
	s->seg = 0;
}

/* Attach q's current pool (a new segment id each time). */
static int
x11_seg_attach(struct x11_out *o, struct x11_seg *s)
{
	struct gd_qube *q = s->qube;
	int fd;

	if (q->pool_fd < 0 || q->pool_size == 0)
		return -ENOENT;
	/* xcb closes the fd it sends; the core keeps its own */
	fd = fcntl(q->pool_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	s->seg = xcb_generate_id(o->c);
	/* read_only = 1: the pool is sealed against new writable maps, and
	 * the X server has no business writing into a qube's pool anyway.
	 * Unchecked: an error comes back as an event (logged in dispatch),
	 * and its puts fail harmlessly; no round trip outside dispatch. */
	(void)xcb_shm_attach_fd(o->c, s->seg, fd, 1);
	s->pool_fd = q->pool_fd;
	s->pool = q->pool;
	s->pool_size = q->pool_size;
	return 0;
}

/* The segment of xw's qube, attaching it the first time and again when
 * the core has swapped the qube's pool; NULL if there is none. */
static struct x11_seg *
x11_seg_get(struct x11_out *o, struct x11_win *xw)
{
	struct gd_qube *q = xw->w->qube;
	struct x11_seg *s = xw->seg;

	if (s == NULL) {
		for (s = o->segs; s != NULL; s = s->next)
			if (s->qube == q)
				break;
		if (s == NULL) {
			s = calloc(1, sizeof(*s));
			if (s == NULL)
				return NULL;
			s->qube = q;
			s->pool_fd = -1;
			s->next = o->segs;
			o->segs = s;
		}
		s->refs++;
		xw->seg = s;
	}
	/* XXX(#8): gd_qube has no pool generation; an fd number, mapping
	 * and size all equal after a swap would go unnoticed. */
	if (s->seg != 0 &&
	    (s->pool_fd != q->pool_fd || s->pool != q->pool ||
	        s->pool_size != q->pool_size))
		x11_seg_detach(o, s);
	if (s->seg == 0 && x11_seg_attach(o, s) < 0)
		return NULL;
	return s;
}

static void
x11_seg_put(struct x11_out *o, struct x11_win *xw)
{
	struct x11_seg *s = xw->seg, **pp;

	if (s == NULL)
		return;
	xw->seg = NULL;
	if (--s->refs > 0)
		return;
	x11_seg_detach(o, s);
	for (pp = &o->segs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s);
}

/* ---- drawing ---- */

static void
x11_fill(struct x11_out *o, struct x11_win *xw, uint32_t rgb, int32_t x,
    int32_t y, uint32_t w, uint32_t h)
{
	xcb_rectangle_t r;

	if (w == 0 || h == 0)
		return;
	r.x = x11_pos(x);
	r.y = x11_pos(y);
	r.width = x11_size(w);
	r.height = x11_size(h);
	(void)xcb_change_gc(o->c, o->gc, XCB_GC_FOREGROUND, &rgb);
	(void)xcb_poly_fill_rectangle(o->c, xw->xid, o->gc, 1, &r);
}

/* The content size: what both the window model and the real X window hold
 * (a WM may have shrunk us before the core heard of it). */
static void
x11_content(const struct x11_win *xw, uint32_t *ret_w, uint32_t *ret_h)
{
	uint32_t b2 = 2 * GD_BORDER;

	*ret_w = min_u32(xw->w->width, xw->cur_w > b2 ? xw->cur_w - b2 : 0);
	*ret_h = min_u32(xw->w->height, xw->cur_h > b2 ? xw->cur_h - b2 : 0);
}

/* The part of the buffer that may be shown (0x0 for none or a bad one). */
static void
x11_visible(const struct x11_win *xw, uint32_t *ret_w, uint32_t *ret_h)
{
	const struct gd_window *w = xw->w;
	const struct gd_qube *q = w->qube;
	uint32_t cw, ch;

	*ret_w = *ret_h = 0;
	if (!w->has_buffer || q->pool_fd < 0)
		return;
	/* The core checked these; a wrong one here would be an X error,
	 * so check again rather than trust a half-updated window. */
	if (w->buf_format != GUI_FORMAT_XRGB8888 &&
	    w->buf_format != GUI_FORMAT_ARGB8888)
		return;
	if (w->buf_stride % 4 != 0 || w->buf_stride > GUI_MAX_STRIDE ||
	    (uint64_t)w->buf_width * 4 > w->buf_stride ||
	    w->buf_height > GUI_MAX_HEIGHT ||
	    (uint64_t)w->buf_offset % 4 != 0 ||
	    (uint64_t)w->buf_offset + (uint64_t)w->buf_stride * w->buf_height >
	        q->pool_size)
		return;
	x11_content(xw, &cw, &ch);
	*ret_w = min_u32(w->buf_width, cw);
	*ret_h = min_u32(w->buf_height, ch);
}

/* Put buffer rectangle (x, y, width, height), clipped to what is visible:
 * never onto the frame, never past the buffer. */
static void
x11_put(struct x11_out *o, struct x11_win *xw, uint32_t x, uint32_t y,
    uint32_t width, uint32_t height)
{
	const struct gd_window *w = xw->w;
	struct x11_seg *s;
	uint32_t vw, vh;

	x11_visible(xw, &vw, &vh);
	if (x >= vw || y >= vh)
		return;
	width = min_u32(width, vw - x);
	height = min_u32(height, vh - y);
	if (width == 0 || height == 0)
		return;
	s = x11_seg_get(o, xw);
	if (s == NULL)
		return;
	/* All fit their X types: stride/4 <= 16384, height <= 6144, x, y
	 * below those, and GD_BORDER + x below INT16_MAX. */
	(void)xcb_shm_put_image(o->c, xw->xid, o->gc,
	    (uint16_t)(w->buf_stride / 4), (uint16_t)w->buf_height, (uint16_t)x,
	    (uint16_t)y, (uint16_t)width, (uint16_t)height,
	    (int16_t)(GD_BORDER + x), (int16_t)(GD_BORDER + y), 24,
	    XCB_IMAGE_FORMAT_Z_PIXMAP, 0, s->seg, w->buf_offset);
}

/* The frame, the uncovered content and the whole buffer. */
static void
x11_redraw(struct x11_out *o, struct x11_win *xw)
{
	uint32_t rgb = xw->w->qube->label_rgb & 0xffffffu;
	uint32_t fw = xw->cur_w, fh = xw->cur_h, b = GD_BORDER;
	uint32_t cw, ch, vw, vh;

	if (!xw->mapped)
		return;
	/* the frame, from the real window size */
	x11_fill(o, xw, rgb, 0, 0, fw, min_u32(b, fh));
	x11_fill(
	    o, xw, rgb, 0, (int32_t)(fh > b ? fh - b : 0), fw, min_u32(b, fh));
	x11_fill(o, xw, rgb, 0, 0, min_u32(b, fw), fh);
	x11_fill(
	    o, xw, rgb, (int32_t)(fw > b ? fw - b : 0), 0, min_u32(b, fw), fh);
	/* inside the frame, what the buffer does not cover: the right
	 * strip, the bottom strip (also past the model's size while a WM's
	 * resize waits for the core) */
	cw = fw > 2 * b ? fw - 2 * b : 0;
	ch = fh > 2 * b ? fh - 2 * b : 0;
	x11_visible(xw, &vw, &vh);
	x11_fill(
	    o, xw, X11_BACKGROUND, (int32_t)(b + vw), (int32_t)b, cw - vw, ch);
	x11_fill(
	    o, xw, X11_BACKGROUND, (int32_t)b, (int32_t)(b + vh), vw, ch - vh);
	x11_put(o, xw, 0, 0, vw, vh);
}

/* ---- properties and geometry ---- */

static void
x11_set_title(struct x11_out *o, struct x11_win *xw)
{
	const struct gd_window *w = xw->w;
	char buf[GD_NAME_MAX + GUI_TITLE_LEN + 4];
	size_t i, n;
	int len;

	len = snprintf(buf, sizeof(buf), "[%.*s] %.*s", (int)GD_NAME_MAX,
	    w->qube->name, (int)GUI_TITLE_LEN, w->title);
	if (len < 0)
		return;
	n = (size_t)len < sizeof(buf) ? (size_t)len : sizeof(buf) - 1;
	/* The title is validated already; still, only printable ASCII goes
	 * out, so that no WM's text renderer sees anything else and the
	 * "[qube]" prefix cannot be pushed away by control characters. */
	for (i = 0; i < n; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			buf[i] = '_';
	(void)xcb_change_property(o->c, XCB_PROP_MODE_REPLACE, xw->xid,
	    XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8, (uint32_t)n, buf);
	(void)xcb_change_property(o->c, XCB_PROP_MODE_REPLACE, xw->xid,
	    o->atom[X11_NET_WM_NAME], o->atom[X11_UTF8_STRING], 8, (uint32_t)n,
	    buf);
}

/* Properties that do not change while the window lives. */
static void
x11_set_props(struct x11_out *o, struct x11_win *xw)
{
	const struct gd_qube *q = xw->w->qube;
	char cls[2 * GD_NAME_MAX + 32];
	uint32_t rgb = q->label_rgb & 0xffffffu;
	size_t nlen = strnlen(q->name, GD_NAME_MAX - 1);
	int len;

	/* XXX(#8): the qube's own WM_CLASS is not in gd_window; both parts
	 * carry "qube:" so no qube can pass for a GUI-domain class. */
	len = snprintf(cls, sizeof(cls), "%.*s:bulkhead%c%.*s:Bulkhead",
	    (int)nlen, q->name, '\0', (int)nlen, q->name);
	if (len > 0 && (size_t)len < sizeof(cls))
		(void)xcb_change_property(o->c, XCB_PROP_MODE_REPLACE, xw->xid,
		    XCB_ATOM_WM_CLASS, XCB_ATOM_STRING, 8, (uint32_t)len + 1,
		    cls);
	(void)xcb_change_property(o->c, XCB_PROP_MODE_REPLACE, xw->xid,
	    o->atom[X11_QUBES_VMNAME], XCB_ATOM_STRING, 8, (uint32_t)nlen,
	    q->name);
	(void)xcb_change_property(o->c, XCB_PROP_MODE_REPLACE, xw->xid,
	    o->atom[X11_QUBES_LABEL_COLOR], XCB_ATOM_CARDINAL, 32, 1, &rgb);
	(void)xcb_change_property(o->c, XCB_PROP_MODE_REPLACE, xw->xid,
	    o->atom[X11_WM_PROTOCOLS], XCB_ATOM_ATOM, 32, 1,
	    &o->atom[X11_WM_DELETE_WINDOW]);
}

/* WM_TRANSIENT_FOR and WM_NORMAL_HINTS (the position is the program's). */
static void
x11_set_hints(struct x11_out *o, struct x11_win *xw)
{
	struct gd_window *w = xw->w, *parent;
	struct x11_win *pxw;
	uint32_t hints[18];

	memset(hints, 0, sizeof(hints));
	hints[0] = 1u << 2 | 1u << 3; /* PPosition | PSize */
	hints[1] = (uint32_t)xw->req_x;
	hints[2] = (uint32_t)xw->req_y;
	hints[3] = xw->req_w;
	hints[4] = xw->req_h;
	(void)xcb_change_property(o->c, XCB_PROP_MODE_REPLACE, xw->xid,
	    XCB_ATOM_WM_NORMAL_HINTS, XCB_ATOM_WM_SIZE_HINTS, 32, 18, hints);
	parent = w->transient_for != 0 ?
	    gd_window_by_gid(o->g, w->transient_for) :
	    NULL;
	pxw = x11_win_of(parent);
	if (pxw != NULL)
		(void)xcb_change_property(o->c, XCB_PROP_MODE_REPLACE, xw->xid,
		    XCB_ATOM_WM_TRANSIENT_FOR, XCB_ATOM_WINDOW, 32, 1,
		    &pxw->xid);
	else
		(void)xcb_delete_property(
		    o->c, xw->xid, XCB_ATOM_WM_TRANSIENT_FOR);
}

/* Ask X for the frame geometry of the model (x, y of the content). */
static void
x11_geometry(struct x11_out *o, struct x11_win *xw)
{
	const struct gd_window *w = xw->w;
	uint32_t v[4];

	xw->req_x = x11_pos((int64_t)w->x - GD_BORDER);
	xw->req_y = x11_pos((int64_t)w->y - GD_BORDER);
	xw->req_w = x11_size((uint64_t)w->width + 2ull * GD_BORDER);
	xw->req_h = x11_size((uint64_t)w->height + 2ull * GD_BORDER);
	v[0] = (uint32_t)xw->req_x;
	v[1] = (uint32_t)xw->req_y;
	v[2] = xw->req_w;
	v[3] = xw->req_h;
	xw->cfg_seq = xcb_configure_window(o->c, xw->xid,
	    XCB_CONFIG_WINDOW_X | XCB_CONFIG_WINDOW_Y |
	        XCB_CONFIG_WINDOW_WIDTH | XCB_CONFIG_WINDOW_HEIGHT,
	    v)
	                  .sequence;
	/* Draw for the new size now; ConfigureNotify corrects it if a WM
	 * says otherwise. */
	xw->cur_w = xw->req_w;
	xw->cur_h = xw->req_h;
}

static struct x11_win *
x11_create(struct x11_out *o, struct gd_window *w)
{
	struct x11_win *xw;
	uint32_t v[3];

	xw = calloc(1, sizeof(*xw));
	if (xw == NULL) {
		log_warnx("x11: out of memory for a window of %s, ignoring",
		    w->qube->name);
		return NULL;
	}
	xw->w = w;
	xw->xid = xcb_generate_id(o->c);
	v[0] = X11_BACKGROUND;
	v[1] = w->override_redirect;
	v[2] = XCB_EVENT_MASK_KEY_PRESS | XCB_EVENT_MASK_KEY_RELEASE |
	    XCB_EVENT_MASK_BUTTON_PRESS | XCB_EVENT_MASK_BUTTON_RELEASE |
	    XCB_EVENT_MASK_POINTER_MOTION | XCB_EVENT_MASK_ENTER_WINDOW |
	    XCB_EVENT_MASK_LEAVE_WINDOW | XCB_EVENT_MASK_FOCUS_CHANGE |
	    XCB_EVENT_MASK_STRUCTURE_NOTIFY | XCB_EVENT_MASK_EXPOSURE;
	(void)xcb_create_window(o->c, 24, xw->xid, o->screen->root, 0, 0, 1, 1,
	    0, XCB_WINDOW_CLASS_INPUT_OUTPUT, o->screen->root_visual,
	    XCB_CW_BACK_PIXEL | XCB_CW_OVERRIDE_REDIRECT | XCB_CW_EVENT_MASK,
	    v);
	xw->next = o->wins;
	o->wins = xw;
	w->output_data[X11_SLOT] = xw;
	x11_set_props(o, xw);
	return xw;
}

/* ---- the ops ---- */

static void
x11_window_map(void *out, struct gd_window *w)
{
	struct x11_out *o = out;
	struct x11_win *xw = x11_win_of(w);
	uint32_t orr = w->override_redirect;

	if (o->dead)
		return;
	if (xw == NULL && (xw = x11_create(o, w)) == NULL)
		return;
	/* takes effect at this map (it may have changed while unmapped) */
	(void)xcb_change_window_attributes(
	    o->c, xw->xid, XCB_CW_OVERRIDE_REDIRECT, &orr);
	x11_geometry(o, xw);
	x11_set_hints(o, xw);
	x11_set_title(o, xw);
	(void)xcb_map_window(o->c, xw->xid);
	xw->mapped = true;
	/* Lost if the window is not viewable yet (a WM holds the map);
	 * Expose draws it then. */
	x11_redraw(o, xw);
}

static void
x11_window_configure(void *out, struct gd_window *w)
{
	struct x11_out *o = out;
	struct x11_win *xw = x11_win_of(w);

	if (o->dead || xw == NULL)
		return;
	x11_geometry(o, xw);
	x11_set_hints(o, xw);
	x11_redraw(o, xw);
}

static void
x11_window_title(void *out, struct gd_window *w)
{
	struct x11_out *o = out;
	struct x11_win *xw = x11_win_of(w);

	if (o->dead || xw == NULL)
		return;
	x11_set_title(o, xw);
}

static void
x11_window_unmap(void *out, struct gd_window *w)
{
	struct x11_out *o = out;
	struct x11_win *xw = x11_win_of(w);

	if (o->dead || xw == NULL || !xw->mapped)
		return;
	(void)xcb_unmap_window(o->c, xw->xid);
	xw->mapped = false;
	xw->buttons = 0;
	if (o->focus_xid == xw->xid)
		o->focus_xid = XCB_NONE;
}

static void
x11_win_free(struct x11_out *o, struct x11_win *xw)
{
	struct x11_win **pp;

	for (pp = &o->wins; *pp != NULL; pp = &(*pp)->next)
		if (*pp == xw) {
			*pp = xw->next;
			break;
		}
	x11_seg_put(o, xw);
	xw->w->output_data[X11_SLOT] = NULL;
	free(xw);
}

static void
x11_window_destroy(void *out, struct gd_window *w)
{
	struct x11_out *o = out;
	struct x11_win *xw = x11_win_of(w);

	if (xw == NULL)
		return;
	if (!o->dead)
		(void)xcb_destroy_window(o->c, xw->xid);
	if (o->focus_xid == xw->xid)
		o->focus_xid = XCB_NONE;
	x11_win_free(o, xw);
}

static void
x11_window_damage(void *out, struct gd_window *w, uint32_t x, uint32_t y,
    uint32_t width, uint32_t height)
{
	struct x11_out *o = out;
	struct x11_win *xw = x11_win_of(w);

	if (o->dead || xw == NULL || !xw->mapped)
		return;
	x11_put(o, xw, x, y, width, height);
}

static void
x11_window_raise(void *out, struct gd_window *w)
{
	struct x11_out *o = out;
	struct x11_win *xw = x11_win_of(w);
	uint32_t mode = XCB_STACK_MODE_ABOVE;

	if (o->dead || xw == NULL)
		return;
	(void)xcb_configure_window(
	    o->c, xw->xid, XCB_CONFIG_WINDOW_STACK_MODE, &mode);
}

static void
x11_focus(void *out, struct gd_window *w)
{
	struct x11_out *o = out;
	struct x11_win *xw = x11_win_of(w);

	if (o->dead)
		return;
	if (xw == NULL || !xw->mapped) {
		/* Only give the focus back if it was ours to give. */
		if (o->focus_xid != XCB_NONE)
			(void)xcb_set_input_focus(o->c,
			    XCB_INPUT_FOCUS_POINTER_ROOT,
			    XCB_INPUT_FOCUS_POINTER_ROOT, XCB_CURRENT_TIME);
		o->focus_xid = XCB_NONE;
		return;
	}
	if (o->focus_xid == xw->xid)
		return;
	/* BadMatch if a WM still holds the map: logged in dispatch */
	(void)xcb_set_input_focus(
	    o->c, XCB_INPUT_FOCUS_PARENT, xw->xid, XCB_CURRENT_TIME);
	o->focus_xid = xw->xid;
}

static void
notice_hide(struct x11_out *o)
{
	if (o->notice_xid != 0)
		(void)xcb_destroy_window(o->c, o->notice_xid);
	o->notice_xid = 0;
}

/*
 * A notice (a copy, a paste, a qube's GUI stopped): an override-redirect
 * window of the GUI domain's own along the bottom of the screen, white
 * text on black in the built-in font, for X11_NOTICE_MS.  Drawn from our
 * own buffer with a plain PutImage: no X font is needed.
 */
static void
x11_notice(void *out, const char *text)
{
	struct x11_out *o = out;
	uint32_t w = o->screen->width_in_pixels, h = FONT_CELL_H + 6, x, y;
	uint32_t vals[2] = {0x000000, 1};
	size_t len = strlen(text), i, rows;
	uint32_t *px;
	char q[256];

	/* the core logged it */
	log_debug(
	    "x11: notice: %s", log_quote(q, sizeof(q), text, strlen(text)));
	if (o->dead || w == 0 || w > 8192)
		return;
	notice_hide(o);
	px = calloc((size_t)w * h, sizeof(*px));
	if (px == NULL)
		return;
	for (i = 0; i < len && (i + 1) * FONT_CELL_W + 4 <= w; i++)
		for (y = 0; y < FONT_CELL_H; y++)
			for (x = 0; x < FONT_CELL_W; x++)
				if (font_pixel((unsigned char)text[i], x, y))
					px[(y + 3) * w + 4 + i * FONT_CELL_W +
					    x] = 0xffffff;
	o->notice_xid = xcb_generate_id(o->c);
	(void)xcb_create_window(o->c, 24, o->notice_xid, o->screen->root, 0,
	    x11_pos((int64_t)o->screen->height_in_pixels - h), x11_size(w),
	    x11_size(h), 0, XCB_WINDOW_CLASS_INPUT_OUTPUT,
	    o->screen->root_visual,
	    XCB_CW_BACK_PIXEL | XCB_CW_OVERRIDE_REDIRECT, vals);
	(void)xcb_map_window(o->c, o->notice_xid);
	/* a row at a time keeps each request well under the server's max */
	for (rows = 0; rows < h; rows++)
		(void)xcb_put_image(o->c, XCB_IMAGE_FORMAT_Z_PIXMAP,
		    o->notice_xid, o->gc, x11_size(w), 1, 0, x11_pos(rows), 0,
		    24, w * 4, (const uint8_t *)(px + rows * w));
	free(px);
	o->notice_until = now_ms() + X11_NOTICE_MS;
}

static void
x11_flush(void *out)
{
	struct x11_out *o = out;

	if (!o->dead)
		(void)xcb_flush(o->c);
}

/*
 * xcb may read events off the socket while we send (a full output buffer)
 * or wait for a reply; those sit in xcb's queue and poll() would not wake
 * for them.  So: move one into our stash and make wake_fd readable, and
 * the core's poll returns at once and calls dispatch.
 */
static int
x11_fill_pollfds(void *out, struct pollfd *pfd, int max)
{
	struct x11_out *o = out;
	int n = 0;

	if (o->dead || max < 1)
		return 0;
	if (o->stash == NULL) {
		o->stash = xcb_poll_for_queued_event(o->c);
		if (o->stash != NULL)
			(void)eventfd_write(o->wake_fd, 1);
	}
	pfd[n].fd = xcb_get_file_descriptor(o->c);
	pfd[n].events = POLLIN;
	pfd[n++].revents = 0;
	if (n < max) {
		pfd[n].fd = o->wake_fd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

/* Pointer coordinates relative to the content, and whether they are on it
 * (the frame is ours: events on it are not forwarded). */
static bool
x11_in_content(
    const struct x11_win *xw, int16_t ex, int16_t ey, int32_t *rx, int32_t *ry)
{
	uint32_t cw, ch;

	*rx = (int32_t)ex - (int32_t)GD_BORDER;
	*ry = (int32_t)ey - (int32_t)GD_BORDER;
	x11_content(xw, &cw, &ch);
	return *rx >= 0 && *ry >= 0 && (uint32_t)*rx < cw && (uint32_t)*ry < ch;
}

static void
x11_on_button(struct x11_out *o, xcb_button_press_event_t *e, bool press)
{
	struct x11_win *xw = x11_find(o, e->event);
	uint32_t bit;
	int32_t x, y;
	bool in;

	if (xw == NULL || e->detail == 0 || e->detail > GUI_MAX_BUTTON)
		return;
	bit = 1u << e->detail;
	in = x11_in_content(xw, e->event_x, e->event_y, &x, &y);
	/* A press on the frame is ours; a release goes wherever its press
	 * went, so that no qube is left with a button held. */
	if (press) {
		if (!in)
			return;
		xw->buttons |= bit;
	} else {
		if (!(xw->buttons & bit))
			return;
		xw->buttons &= ~bit;
	}
	gd_button(o->g, xw->w, x, y, e->detail, press, e->state);
}

static void
x11_on_motion(struct x11_out *o, xcb_motion_notify_event_t *e)
{
	struct x11_win *xw = x11_find(o, e->event);
	int32_t x, y;

	if (xw == NULL)
		return;
	if (x11_in_content(xw, e->event_x, e->event_y, &x, &y) ||
	    xw->buttons != 0)
		gd_motion(o->g, xw->w, x, y, e->state);
}

static void
x11_on_crossing(struct x11_out *o, xcb_enter_notify_event_t *e, bool enter)
{
	struct x11_win *xw = x11_find(o, e->event);

	if (xw == NULL)
		return;
	gd_crossing(o->g, xw->w, enter,
	    (int32_t)e->event_x - (int32_t)GD_BORDER,
	    (int32_t)e->event_y - (int32_t)GD_BORDER);
}

static void
x11_on_key(struct x11_out *o, xcb_key_press_event_t *e, bool press)
{
	struct x11_win *xw = x11_find(o, e->event);

	if (xw == NULL)
		return;
	/* X delivered this key to xw, the window the user sees focused: it
	 * must not reach another qube because the core's idea of the focus
	 * lags (a FocusIn not yet seen, a VNC click). */
	if (press && gd_focused(o->g) != xw->w)
		gd_set_focus(o->g, xw->w);
	gd_key(o->g, e->detail, press, e->state);
}

static void
x11_on_focus(struct x11_out *o, xcb_focus_in_event_t *e, bool in)
{
	struct x11_win *xw = x11_find(o, e->event);

	if (xw == NULL || e->mode != XCB_NOTIFY_MODE_NORMAL ||
	    e->detail == XCB_NOTIFY_DETAIL_POINTER ||
	    e->detail == XCB_NOTIFY_DETAIL_POINTER_ROOT ||
	    e->detail == XCB_NOTIFY_DETAIL_NONE)
		return;
	if (in) {
		o->focus_xid = xw->xid;
		if (gd_focused(o->g) != xw->w)
			gd_set_focus(o->g, xw->w);
	} else if (gd_focused(o->g) == xw->w) {
		if (o->focus_xid == xw->xid)
			o->focus_xid = XCB_NONE;
		gd_set_focus(o->g, NULL);
	}
}

static void
x11_on_configure(struct x11_out *o, xcb_generic_event_t *ev)
{
	xcb_configure_notify_event_t *e = (xcb_configure_notify_event_t *)ev;
	struct x11_win *xw = x11_find(o, e->window);
	bool synthetic = (e->response_type & 0x80) != 0;
	int32_t x, y;
	bool moved;

	if (xw == NULL)
		return;
	if (!synthetic) {
		xw->cur_w = e->width;
		xw->cur_h = e->height;
	}
	if (xw->w->override_redirect)
		return; /* nobody else moves those */
	/* Made before X saw our last configure: superseded by it (else two
	 * quick configures from the core would come back as a user's). */
	if ((int32_t)(ev->full_sequence - xw->cfg_seq) < 0)
		return;
	/* A real ConfigureNotify in a WM's frame is relative to the frame;
	 * a synthetic one (ICCCM 4.1.5) is in root coordinates. */
	moved = (synthetic || !xw->reparented) &&
	    (e->x != xw->req_x || e->y != xw->req_y);
	if (!moved && e->width == xw->req_w && e->height == xw->req_h)
		return; /* ours */
	x = moved ? e->x : xw->req_x;
	y = moved ? e->y : xw->req_y;
	xw->req_x = x;
	xw->req_y = y;
	xw->req_w = e->width;
	xw->req_h = e->height;
	gd_configure(o->g, xw->w, x + (int32_t)GD_BORDER,
	    y + (int32_t)GD_BORDER,
	    e->width > 2 * GD_BORDER ? e->width - 2 * GD_BORDER : 1,
	    e->height > 2 * GD_BORDER ? e->height - 2 * GD_BORDER : 1);
}

static void
x11_event(struct x11_out *o, xcb_generic_event_t *ev)
{
	struct x11_win *xw;
	uint8_t type = ev->response_type & 0x7f;

	switch (type) {
	case 0: {
		xcb_generic_error_t *e = (xcb_generic_error_t *)ev;

		log_debug("x11: X error %u (request %u.%u, resource 0x%x), "
		          "ignoring",
		    e->error_code, e->major_code, e->minor_code,
		    e->resource_id);
		break;
	}
	case XCB_KEY_PRESS:
	case XCB_KEY_RELEASE:
		x11_on_key(
		    o, (xcb_key_press_event_t *)ev, type == XCB_KEY_PRESS);
		break;
	case XCB_BUTTON_PRESS:
	case XCB_BUTTON_RELEASE:
		x11_on_button(o, (xcb_button_press_event_t *)ev,
		    type == XCB_BUTTON_PRESS);
		break;
	case XCB_MOTION_NOTIFY:
		x11_on_motion(o, (xcb_motion_notify_event_t *)ev);
		break;
	case XCB_ENTER_NOTIFY:
	case XCB_LEAVE_NOTIFY:
		x11_on_crossing(o, (xcb_enter_notify_event_t *)ev,
		    type == XCB_ENTER_NOTIFY);
		break;
	case XCB_FOCUS_IN:
	case XCB_FOCUS_OUT:
		x11_on_focus(
		    o, (xcb_focus_in_event_t *)ev, type == XCB_FOCUS_IN);
		break;
	case XCB_EXPOSE: {
		xcb_expose_event_t *e = (xcb_expose_event_t *)ev;

		/* one redraw for a run of exposes */
		xw = x11_find(o, e->window);
		if (xw != NULL && e->count == 0)
			x11_redraw(o, xw);
		break;
	}
	case XCB_CONFIGURE_NOTIFY:
		x11_on_configure(o, ev);
		break;
	case XCB_REPARENT_NOTIFY: {
		xcb_reparent_notify_event_t *e =
		    (xcb_reparent_notify_event_t *)ev;

		xw = x11_find(o, e->window);
		if (xw != NULL)
			xw->reparented = e->parent != o->screen->root;
		break;
	}
	case XCB_CLIENT_MESSAGE: {
		xcb_client_message_event_t *e =
		    (xcb_client_message_event_t *)ev;

		xw = x11_find(o, e->window);
		if (xw != NULL && e->format == 32 &&
		    e->type == o->atom[X11_WM_PROTOCOLS] &&
		    e->data.data32[0] == o->atom[X11_WM_DELETE_WINDOW])
			gd_close(o->g, xw->w);
		break;
	}
	default:
		break;
	}
}

static void
x11_dispatch(void *out)
{
	struct x11_out *o = out;
	xcb_generic_event_t *ev;
	eventfd_t n;

	if (o->dead)
		return;
	if (o->notice_xid != 0 && now_ms() >= o->notice_until)
		notice_hide(o);
	(void)eventfd_read(o->wake_fd, &n);
	/* Gone while a gd_* call below ran: checked after each event. */
	while (!o->dead) {
		if (o->stash != NULL) {
			ev = o->stash;
			o->stash = NULL;
		} else if ((ev = xcb_poll_for_event(o->c)) == NULL)
			break;
		x11_event(o, ev);
		free(ev);
	}
	if (!o->dead && xcb_connection_has_error(o->c)) {
		log_warnx("x11: connection to the X server lost, "
		          "the X11 output stops");
		o->dead = true;
		gd_output_lost(o->g, o);
	}
}

static void
x11_free(void *out)
{
	struct x11_out *o = out;
	struct x11_seg *s;

	if (o == NULL)
		return;
	while (o->wins != NULL)
		x11_win_free(o, o->wins);
	while ((s = o->segs) != NULL) {
		o->segs = s->next;
		free(s);
	}
	free(o->stash);
	if (o->c != NULL)
		xcb_disconnect(o->c);
	if (o->wake_fd >= 0)
		(void)close(o->wake_fd);
	free(o);
}

static const struct gd_output_ops x11_ops = {
    .name = "x11",
    .window_map = x11_window_map,
    .window_configure = x11_window_configure,
    .window_title = x11_window_title,
    .window_unmap = x11_window_unmap,
    .window_destroy = x11_window_destroy,
    .window_damage = x11_window_damage,
    .window_raise = x11_window_raise,
    .focus = x11_focus,
    .notice = x11_notice,
    .flush = x11_flush,
    .fill_pollfds = x11_fill_pollfds,
    .dispatch = x11_dispatch,
    .free = x11_free,
};

/* ---- setup ---- */

/* The screen must take our pixels as they are: TrueColor 0xRRGGBB at 24
 * bits in 32-bit little-endian units. */
static int
x11_check_screen(struct x11_out *o, char *err, size_t errlen)
{
	const xcb_setup_t *setup = xcb_get_setup(o->c);
	xcb_format_iterator_t f;
	xcb_depth_iterator_t d;
	xcb_visualtype_iterator_t v;
	bool bpp32 = false;

	if (setup->image_byte_order != XCB_IMAGE_ORDER_LSB_FIRST) {
		(void)snprintf(err, errlen, "X server is big-endian");
		return -ENOTSUP;
	}
	for (f = xcb_setup_pixmap_formats_iterator(setup); f.rem;
	     xcb_format_next(&f))
		if (f.data->depth == 24 && f.data->bits_per_pixel == 32)
			bpp32 = true;
	if (o->screen->root_depth != 24 || !bpp32) {
		(void)snprintf(err, errlen,
		    "X screen is not 24-bit at 32 bits a pixel (depth %u)",
		    o->screen->root_depth);
		return -ENOTSUP;
	}
	for (d = xcb_screen_allowed_depths_iterator(o->screen); d.rem;
	     xcb_depth_next(&d))
		for (v = xcb_depth_visuals_iterator(d.data); v.rem;
		     xcb_visualtype_next(&v))
			if (v.data->visual_id == o->screen->root_visual &&
			    v.data->_class == XCB_VISUAL_CLASS_TRUE_COLOR &&
			    v.data->red_mask == 0xff0000 &&
			    v.data->green_mask == 0xff00 &&
			    v.data->blue_mask == 0xff)
				return 0;
	(void)snprintf(err, errlen, "X root visual is not TrueColor RGB888");
	return -ENOTSUP;
}

static int
x11_check_shm(struct x11_out *o, char *err, size_t errlen)
{
	const xcb_query_extension_reply_t *ext;
	xcb_shm_query_version_reply_t *r;
	bool ok;

	ext = xcb_get_extension_data(o->c, &xcb_shm_id);
	if (ext == NULL || !ext->present) {
		(void)snprintf(err, errlen, "X server has no MIT-SHM");
		return -ENOTSUP;
	}
	r = xcb_shm_query_version_reply(
	    o->c, xcb_shm_query_version(o->c), NULL);
	if (r == NULL) {
		(void)snprintf(err, errlen, "MIT-SHM QueryVersion failed");
		return -EIO;
	}
	/* 1.2 brought AttachFd: the only way we hand over a pool */
	ok = r->major_version > 1 ||
	    (r->major_version == 1 && r->minor_version >= 2);
	if (!ok)
		(void)snprintf(err, errlen,
		    "X server has MIT-SHM %u.%u, need 1.2 (fd passing)",
		    r->major_version, r->minor_version);
	free(r);
	return ok ? 0 : -ENOTSUP;
}

static int
x11_atoms(struct x11_out *o, char *err, size_t errlen)
{
	xcb_intern_atom_cookie_t ck[X11_ATOM_MAX];
	xcb_intern_atom_reply_t *r;
	int i, ret = 0;

	for (i = 0; i < X11_ATOM_MAX; i++)
		ck[i] = xcb_intern_atom(o->c, 0,
		    (uint16_t)strlen(x11_atom_names[i]), x11_atom_names[i]);
	for (i = 0; i < X11_ATOM_MAX; i++) {
		r = xcb_intern_atom_reply(o->c, ck[i], NULL);
		if (r == NULL) {
			(void)snprintf(err, errlen, "interning %s failed",
			    x11_atom_names[i]);
			ret = -EIO;
			continue; /* collect every reply */
		}
		o->atom[i] = r->atom;
		free(r);
	}
	return ret;
}

int
gd_output_x11_connect(const char *name, struct xcb_connection_t **ret_c,
    int *ret_screen, char *err, size_t errlen)
{
	xcb_connection_t *c;
	int screen_no = 0;

	c = xcb_connect(name, &screen_no);
	if (xcb_connection_has_error(c)) {
		xcb_disconnect(c);
		(void)snprintf(err, errlen, "cannot open X display %s",
		    name != NULL                  ? name :
		        getenv("DISPLAY") != NULL ? getenv("DISPLAY") :
		                                    "(no $DISPLAY)");
		return -ECONNREFUSED;
	}
	/* xcb opens its socket with close-on-exec already (libxcb 1.15) */
	*ret_c = c;
	*ret_screen = screen_no;
	return 0;
}

/*
 * Take over opts->x11_conn, or connect to o->x11_display (NULL: $DISPLAY);
 * check MIT-SHM >= 1.2 and a
 * 24-bit TrueColor screen, intern our atoms.  Returns 0 with *ret_ops and
 * *ret_out (freed by ops->free), or -errno with a message in err.  Called
 * by the core (PROC_GUID_CORE) at start; round trips happen only here.
 */
int
gd_output_x11_new(struct gd *g, const struct gd_output_opts *opts,
    const struct gd_output_ops **ret_ops, void **ret_out, char *err,
    size_t errlen)
{
	struct x11_out *o;
	const char *name = opts != NULL ? opts->x11_display : NULL;
	int screen_no = 0, ret, i;
	xcb_screen_iterator_t it;

	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->g = g;
	o->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (o->wake_fd < 0) {
		ret = -errno;
		(void)snprintf(err, errlen, "eventfd: %s", strerror(-ret));
		goto out_free;
	}
	if (opts != NULL && opts->x11_conn != NULL) {
		o->c = opts->x11_conn;
		screen_no = opts->x11_screen;
	} else if ((ret = gd_output_x11_connect(
	                name, &o->c, &screen_no, err, errlen)) < 0)
		goto out_free;
	it = xcb_setup_roots_iterator(xcb_get_setup(o->c));
	for (i = 0; i < screen_no && it.rem; i++)
		xcb_screen_next(&it);
	if (!it.rem) {
		(void)snprintf(
		    err, errlen, "X display has no screen %d", screen_no);
		ret = -ENODEV;
		goto out_free;
	}
	o->screen = it.data;
	ret = x11_check_screen(o, err, errlen);
	if (ret < 0)
		goto out_free;
	ret = x11_check_shm(o, err, errlen);
	if (ret < 0)
		goto out_free;
	ret = x11_atoms(o, err, errlen);
	if (ret < 0)
		goto out_free;
	o->gc = xcb_generate_id(o->c);
	{
		uint32_t v[2] = {0, 0}; /* foreground, no exposures */

		(void)xcb_create_gc(o->c, o->gc, o->screen->root,
		    XCB_GC_FOREGROUND | XCB_GC_GRAPHICS_EXPOSURES, v);
	}
	(void)xcb_flush(o->c);
	*ret_ops = &x11_ops;
	*ret_out = o;
	return 0;

out_free:
	x11_free(o);
	return ret;
}
