/*
 * testclient.c - bulkhead-gui-testclient (issue #8): a small Wayland
 * client (wl_shm + xdg-shell) that the GUI tests run under
 * bulkhead-gui-agent.  It draws known pixels and prints one line per
 * event on stdout, so that a test can check what reached it.
 *
 * Runs as the qube's user, a client of the agent; its only input is the
 * compositor's events and the command line (both trusted: it is a test
 * tool).  Clipboard text it prints is escaped (\xNN for control bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <wayland-client.h>

#include "lib/util.h"
#include "xdg-shell-client-protocol.h"

#define PROG      "bulkhead-gui-testclient"
#define MAX_PASTE 262144

static const char *arg_title = "bulkhead test";
static int32_t arg_w = 200, arg_h = 150;
static uint32_t arg_color = 0x336699;
static bool arg_quadrants;
static const char *arg_copy;
static long arg_exit_ms = -1;
static long arg_frames;
static long arg_retitle;
static long arg_windows;
static bool arg_popup;

/* The four colours of --pattern quadrants: TL, TR, BL, BR. */
static const uint32_t quad[4] = {0xff0000, 0x00ff00, 0x0000ff, 0xffffff};

struct offer {
	struct wl_data_offer *offer;
	bool text;
};

static struct {
	struct wl_display *display;
	struct wl_registry *registry;
	struct wl_compositor *compositor;
	struct wl_shm *shm;
	struct xdg_wm_base *wm;
	struct wl_seat *seat;
	struct wl_data_device_manager *ddm;
	struct wl_data_device *dd;
	struct wl_keyboard *kb;
	struct wl_pointer *ptr;
	struct wl_surface *surface;
	struct xdg_surface *xs;
	struct xdg_toplevel *tl;
	struct wl_data_source *source;
	struct offer *sel;
	int32_t w, h, next_w, next_h;
	bool ready, copied, running;
	long frame;
	int paste_fd;
	char *paste;
	size_t paste_len;
	int32_t px, py;
	struct wl_surface *psurface;
	struct xdg_surface *pxs;
	struct xdg_popup *popup;
	bool popup_ready;
	bool extra_configured, windows_done;
} c = {.paste_fd = -1, .running = true};

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* ---- drawing ---- */

static void
buffer_release(void *data, struct wl_buffer *b)
{
	wl_buffer_destroy(b);
}

static const struct wl_buffer_listener buffer_listener = {buffer_release};

/*
 * A w x h buffer of format (WL_SHM_FORMAT_*, 4 bytes a pixel) whose pixels
 * fill() sets, in a memfd of its own (released by the compositor, then
 * destroyed).
 */
static struct wl_buffer *
new_buffer(int32_t w, int32_t h, uint32_t format,
    void (*fill)(uint32_t *px, int32_t w, int32_t h))
{
	size_t size = (size_t)w * (size_t)h * 4;
	struct wl_shm_pool *pool;
	struct wl_buffer *b;
	uint32_t *px;
	int fd;

	fd = memfd_create("testclient", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		perror(PROG ": memfd");
		exit(1);
	}
	px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (px == MAP_FAILED) {
		perror(PROG ": mmap");
		exit(1);
	}
	fill(px, w, h);
	pool = wl_shm_create_pool(c.shm, fd, (int32_t)size);
	b = wl_shm_pool_create_buffer(pool, 0, w, h, w * 4, format);
	wl_shm_pool_destroy(pool);
	(void)munmap(px, size);
	(void)close(fd);
	wl_buffer_add_listener(b, &buffer_listener, NULL);
	return b;
}

/* The window's pixels: the colour or the quadrants, and the counter. */
static void
fill_window(uint32_t *px, int32_t w, int32_t h)
{
	int32_t x, y;

	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			uint32_t v = arg_color;

			if (arg_quadrants)
				v = quad[(y >= h / 2) * 2 + (x >= w / 2)];
			px[(size_t)y * (size_t)w + (size_t)x] = v;
		}
	/* The counter pixel: frame n shows n in (0, 0). */
	if (arg_frames > 0)
		px[0] = (uint32_t)c.frame;
}

static void
draw(void)
{
	wl_surface_attach(c.surface,
	    new_buffer(c.w, c.h, WL_SHM_FORMAT_XRGB8888, fill_window), 0, 0);
}

static void frame_done(void *data, struct wl_callback *cb, uint32_t t);
static const struct wl_callback_listener frame_listener = {frame_done};

static void
request_frame(void)
{
	struct wl_callback *cb;

	if (c.frame >= arg_frames)
		return;
	cb = wl_surface_frame(c.surface);
	wl_callback_add_listener(cb, &frame_listener, NULL);
}

static void
frame_done(void *data, struct wl_callback *cb, uint32_t t)
{
	wl_callback_destroy(cb);
	c.frame++;
	draw();
	wl_surface_damage_buffer(c.surface, 0, 0, 1, 1);
	request_frame();
	wl_surface_commit(c.surface);
	out("frame %ld", c.frame);
}

/* ---- xdg-shell ---- */

static void
wm_ping(void *data, struct xdg_wm_base *wm, uint32_t serial)
{
	xdg_wm_base_pong(wm, serial);
}

static const struct xdg_wm_base_listener wm_listener = {wm_ping};

/* --popup: a 40x30 cyan popup whose top-left is at (10, 10) of the
 * toplevel (anchor rect 10,10 1x1, anchor and gravity to the bottom right:
 * the popup hangs from that point). */
/* The popup's pixels: cyan, with an alpha channel of 0 (ARGB8888). */
static void
fill_popup(uint32_t *px, int32_t w, int32_t h)
{
	size_t i;

	for (i = 0; i < (size_t)w * (size_t)h; i++)
		px[i] = 0x00ffff;
}

static void
popup_xs_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	struct wl_buffer *b;

	xdg_surface_ack_configure(xs, serial);
	if (c.popup_ready)
		return;
	b = new_buffer(40, 30, WL_SHM_FORMAT_ARGB8888, fill_popup);
	wl_surface_attach(c.psurface, b, 0, 0);
	wl_surface_damage_buffer(c.psurface, 0, 0, 40, 30);
	wl_surface_commit(c.psurface);
	c.popup_ready = true;
	out("popup ready");
}

static const struct xdg_surface_listener popup_xs_listener = {
    popup_xs_configure};

static void
popup_configure(
    void *data, struct xdg_popup *p, int32_t x, int32_t y, int32_t w, int32_t h)
{
	out("popup at %d %d", x, y);
}

static void
popup_done(void *data, struct xdg_popup *p)
{
	out("popup done");
}

static void
popup_repositioned(void *data, struct xdg_popup *p, uint32_t token)
{
}

static const struct xdg_popup_listener popup_listener = {
    .configure = popup_configure,
    .popup_done = popup_done,
    .repositioned = popup_repositioned,
};

static void
popup_open(void)
{
	struct xdg_positioner *pos;

	pos = xdg_wm_base_create_positioner(c.wm);
	xdg_positioner_set_size(pos, 40, 30);
	xdg_positioner_set_anchor_rect(pos, 10, 10, 1, 1);
	xdg_positioner_set_anchor(pos, XDG_POSITIONER_ANCHOR_TOP_LEFT);
	xdg_positioner_set_gravity(pos, XDG_POSITIONER_GRAVITY_BOTTOM_RIGHT);
	c.psurface = wl_compositor_create_surface(c.compositor);
	c.pxs = xdg_wm_base_get_xdg_surface(c.wm, c.psurface);
	xdg_surface_add_listener(c.pxs, &popup_xs_listener, NULL);
	c.popup = xdg_surface_get_popup(c.pxs, c.xs, pos);
	xdg_popup_add_listener(c.popup, &popup_listener, NULL);
	xdg_positioner_destroy(pos);
	wl_surface_commit(c.psurface);
}

static void
xs_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	bool resized = false;

	xdg_surface_ack_configure(xs, serial);
	if (c.next_w > 0 && c.next_h > 0 &&
	    (c.next_w != c.w || c.next_h != c.h)) {
		c.w = c.next_w;
		c.h = c.next_h;
		resized = true;
	}
	if (c.ready && !resized)
		return;
	draw();
	wl_surface_damage_buffer(c.surface, 0, 0, c.w, c.h);
	if (!c.ready)
		request_frame();
	wl_surface_commit(c.surface);
	if (!c.ready)
		out("ready %dx%d", c.w, c.h);
	else
		out("resized %dx%d", c.w, c.h);
	if (!c.ready && arg_popup)
		popup_open();
	if (!c.ready && arg_retitle > 0) {
		char t[32];
		long i;

		for (i = 1; i <= arg_retitle; i++) {
			(void)snprintf(t, sizeof(t), "title %ld", i);
			xdg_toplevel_set_title(c.tl, t);
		}
		out("retitled %ld", arg_retitle);
	}
	c.ready = true;
}

static const struct xdg_surface_listener xs_listener = {xs_configure};

static void
tl_configure(void *data, struct xdg_toplevel *tl, int32_t w, int32_t h,
    struct wl_array *states)
{
	c.next_w = w;
	c.next_h = h;
}

static void
tl_close(void *data, struct xdg_toplevel *tl)
{
	out("close");
	c.running = false;
}

static void
tl_configure_bounds(void *data, struct xdg_toplevel *tl, int32_t w, int32_t h)
{
}

static void
tl_wm_capabilities(void *data, struct xdg_toplevel *tl, struct wl_array *a)
{
}

static const struct xdg_toplevel_listener tl_listener = {
    .configure = tl_configure,
    .close = tl_close,
    .configure_bounds = tl_configure_bounds,
    .wm_capabilities = tl_wm_capabilities,
};

/* ---- clipboard ---- */

static void
source_target(void *data, struct wl_data_source *s, const char *mime)
{
}

static void
source_send(void *data, struct wl_data_source *s, const char *mime, int fd)
{
	if (write(fd, arg_copy, strlen(arg_copy)) < 0)
		perror(PROG ": clipboard write");
	(void)close(fd);
}

static void
source_cancelled(void *data, struct wl_data_source *s)
{
	wl_data_source_destroy(s);
	if (s == c.source)
		c.source = NULL;
}

static void
source_noop(void *data, struct wl_data_source *s)
{
}

static void
source_action(void *data, struct wl_data_source *s, uint32_t a)
{
}

static const struct wl_data_source_listener source_listener = {
    .target = source_target,
    .send = source_send,
    .cancelled = source_cancelled,
    .dnd_drop_performed = source_noop,
    .dnd_finished = source_noop,
    .action = source_action,
};

static void
offer_offer(void *data, struct wl_data_offer *o, const char *mime)
{
	struct offer *of = data;

	if (strcmp(mime, "text/plain;charset=utf-8") == 0 ||
	    strcmp(mime, "text/plain") == 0)
		of->text = true;
}

static void
offer_actions(void *data, struct wl_data_offer *o, uint32_t a)
{
}

static const struct wl_data_offer_listener offer_listener = {
    .offer = offer_offer,
    .source_actions = offer_actions,
    .action = offer_actions,
};

static void
dd_data_offer(void *data, struct wl_data_device *dd, struct wl_data_offer *o)
{
	struct offer *of = calloc(1, sizeof(*of));

	if (of == NULL)
		exit(1);
	of->offer = o;
	wl_data_offer_add_listener(o, &offer_listener, of);
}

static void
offer_free(struct offer *of)
{
	if (of == NULL)
		return;
	wl_data_offer_destroy(of->offer);
	free(of);
}

static void
paste_done(void)
{
	size_t i;

	printf("paste ");
	for (i = 0; i < c.paste_len; i++) {
		unsigned char ch = (unsigned char)c.paste[i];

		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			printf("\\x%02x", ch);
		else
			putchar(ch);
	}
	putchar('\n');
	fflush(stdout);
	(void)close(c.paste_fd);
	c.paste_fd = -1;
	free(c.paste);
	c.paste = NULL;
	c.paste_len = 0;
}

static void
dd_selection(void *data, struct wl_data_device *dd, struct wl_data_offer *o)
{
	struct offer *of = o != NULL ? wl_data_offer_get_user_data(o) : NULL;
	int p[2];

	offer_free(c.sel);
	c.sel = of;
	if (of == NULL || !of->text)
		return;
	if (c.paste_fd >= 0)
		paste_done(); /* the earlier one ends here */
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return;
	wl_data_offer_receive(o, "text/plain", p[1]);
	(void)close(p[1]);
	c.paste_fd = p[0];
	c.paste = malloc(MAX_PASTE);
	if (c.paste == NULL)
		exit(1);
}

static void
dd_enter(void *data, struct wl_data_device *dd, uint32_t serial,
    struct wl_surface *s, wl_fixed_t x, wl_fixed_t y, struct wl_data_offer *o)
{
}

static void
dd_leave(void *data, struct wl_data_device *dd)
{
}

static void
dd_motion(void *data, struct wl_data_device *dd, uint32_t t, wl_fixed_t x,
    wl_fixed_t y)
{
}

static const struct wl_data_device_listener dd_listener = {
    .data_offer = dd_data_offer,
    .enter = dd_enter,
    .leave = dd_leave,
    .motion = dd_motion,
    .drop = dd_leave,
    .selection = dd_selection,
};

/* ---- seat ---- */

static void
kb_keymap(
    void *data, struct wl_keyboard *k, uint32_t fmt, int fd, uint32_t size)
{
	out("keymap %u", size);
	(void)close(fd);
}

static void
kb_enter(void *data, struct wl_keyboard *k, uint32_t serial,
    struct wl_surface *s, struct wl_array *keys)
{
	out("focus in");
	if (arg_copy != NULL && !c.copied && c.ddm != NULL) {
		c.source = wl_data_device_manager_create_data_source(c.ddm);
		wl_data_source_add_listener(c.source, &source_listener, NULL);
		wl_data_source_offer(c.source, "text/plain;charset=utf-8");
		wl_data_source_offer(c.source, "text/plain");
		wl_data_device_set_selection(c.dd, c.source, serial);
		c.copied = true;
		out("copied");
	}
}

static void
kb_leave(
    void *data, struct wl_keyboard *k, uint32_t serial, struct wl_surface *s)
{
	out("focus out");
}

static void
kb_key(void *data, struct wl_keyboard *k, uint32_t serial, uint32_t t,
    uint32_t key, uint32_t state)
{
	out("key %u %s", key, state ? "press" : "release");
}

static void
kb_modifiers(void *data, struct wl_keyboard *k, uint32_t serial, uint32_t dep,
    uint32_t lat, uint32_t lock, uint32_t group)
{
	out("modifiers %u %u %u %u", dep, lat, lock, group);
}

static void
kb_repeat(void *data, struct wl_keyboard *k, int32_t rate, int32_t delay)
{
}

static const struct wl_keyboard_listener kb_listener = {
    .keymap = kb_keymap,
    .enter = kb_enter,
    .leave = kb_leave,
    .key = kb_key,
    .modifiers = kb_modifiers,
    .repeat_info = kb_repeat,
};

static void
ptr_enter(void *data, struct wl_pointer *p, uint32_t serial,
    struct wl_surface *s, wl_fixed_t x, wl_fixed_t y)
{
	c.px = wl_fixed_to_int(x);
	c.py = wl_fixed_to_int(y);
	out("enter %d %d", c.px, c.py);
}

static void
ptr_leave(
    void *data, struct wl_pointer *p, uint32_t serial, struct wl_surface *s)
{
	out("leave");
}

static void
ptr_motion(
    void *data, struct wl_pointer *p, uint32_t t, wl_fixed_t x, wl_fixed_t y)
{
	c.px = wl_fixed_to_int(x);
	c.py = wl_fixed_to_int(y);
	out("motion %d %d", c.px, c.py);
}

static void
ptr_button(void *data, struct wl_pointer *p, uint32_t serial, uint32_t t,
    uint32_t button, uint32_t state)
{
	out("button %u %s %d %d", button, state ? "press" : "release", c.px,
	    c.py);
}

static void
ptr_axis(
    void *data, struct wl_pointer *p, uint32_t t, uint32_t axis, wl_fixed_t v)
{
	out("axis %u %d", axis, wl_fixed_to_int(v));
}

static void
ptr_frame(void *data, struct wl_pointer *p)
{
}

static void
ptr_axis_source(void *data, struct wl_pointer *p, uint32_t s)
{
}

static void
ptr_axis_stop(void *data, struct wl_pointer *p, uint32_t t, uint32_t a)
{
}

static void
ptr_axis_discrete(void *data, struct wl_pointer *p, uint32_t a, int32_t d)
{
}

static const struct wl_pointer_listener ptr_listener = {
    .enter = ptr_enter,
    .leave = ptr_leave,
    .motion = ptr_motion,
    .button = ptr_button,
    .axis = ptr_axis,
    .frame = ptr_frame,
    .axis_source = ptr_axis_source,
    .axis_stop = ptr_axis_stop,
    .axis_discrete = ptr_axis_discrete,
};

static void
seat_caps(void *data, struct wl_seat *s, uint32_t caps)
{
	if ((caps & WL_SEAT_CAPABILITY_KEYBOARD) && c.kb == NULL) {
		c.kb = wl_seat_get_keyboard(s);
		wl_keyboard_add_listener(c.kb, &kb_listener, NULL);
	}
	if ((caps & WL_SEAT_CAPABILITY_POINTER) && c.ptr == NULL) {
		c.ptr = wl_seat_get_pointer(s);
		wl_pointer_add_listener(c.ptr, &ptr_listener, NULL);
	}
}

static void
seat_name(void *data, struct wl_seat *s, const char *name)
{
}

static const struct wl_seat_listener seat_listener = {seat_caps, seat_name};

static void
reg_global(void *data, struct wl_registry *r, uint32_t name, const char *iface,
    uint32_t version)
{
	if (strcmp(iface, wl_compositor_interface.name) == 0)
		c.compositor =
		    wl_registry_bind(r, name, &wl_compositor_interface, 4);
	else if (strcmp(iface, wl_shm_interface.name) == 0)
		c.shm = wl_registry_bind(r, name, &wl_shm_interface, 1);
	else if (strcmp(iface, xdg_wm_base_interface.name) == 0)
		c.wm = wl_registry_bind(r, name, &xdg_wm_base_interface, 1);
	else if (strcmp(iface, wl_seat_interface.name) == 0)
		c.seat = wl_registry_bind(
		    r, name, &wl_seat_interface, version < 5 ? version : 5);
	else if (strcmp(iface, wl_data_device_manager_interface.name) == 0)
		c.ddm = wl_registry_bind(
		    r, name, &wl_data_device_manager_interface, 3);
}

static void
reg_remove(void *data, struct wl_registry *r, uint32_t name)
{
}

static const struct wl_registry_listener reg_listener = {
    reg_global, reg_remove};

/* ---- --windows: more toplevels, one at a time, shown then gone ---- */

static void
extra_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	xdg_surface_ack_configure(xs, serial);
	c.extra_configured = true;
}

static const struct xdg_surface_listener extra_listener = {extra_configure};

/* --windows' pixels: the colour. */
static void
fill_color(uint32_t *px, int32_t w, int32_t h)
{
	size_t i;

	for (i = 0; i < (size_t)w * (size_t)h; i++)
		px[i] = arg_color;
}

/*
 * Make arg_windows toplevels one after the other as fast as the agent
 * lets it: each configured, shown with a 4x4 buffer, then destroyed.
 * Prints "windows N".  0, or -1 if the connection was lost.
 */
static int
windows_run(void)
{
	long i;

	for (i = 1; i <= arg_windows; i++) {
		struct wl_surface *s =
		    wl_compositor_create_surface(c.compositor);
		struct xdg_surface *xs = xdg_wm_base_get_xdg_surface(c.wm, s);
		struct xdg_toplevel *tl;
		char t[32];

		xdg_surface_add_listener(xs, &extra_listener, NULL);
		tl = xdg_surface_get_toplevel(xs);
		(void)snprintf(t, sizeof(t), "extra %ld", i);
		xdg_toplevel_set_title(tl, t);
		c.extra_configured = false;
		wl_surface_commit(s);
		while (!c.extra_configured)
			if (wl_display_dispatch(c.display) < 0)
				return -1;
		wl_surface_attach(s,
		    new_buffer(4, 4, WL_SHM_FORMAT_XRGB8888, fill_color), 0, 0);
		wl_surface_damage_buffer(s, 0, 0, 4, 4);
		wl_surface_commit(s);
		if (wl_display_roundtrip(c.display) < 0)
			return -1;
		xdg_toplevel_destroy(tl);
		xdg_surface_destroy(xs);
		wl_surface_destroy(s);
	}
	if (wl_display_roundtrip(c.display) < 0)
		return -1;
	out("windows %ld", arg_windows);
	return 0;
}

/* ---- main ---- */

static void
usage(FILE *f)
{
	fprintf(f,
	    "Usage: " PROG " [--title T] [--size WxH] [--color 0xRRGGBB]\n"
	    "       [--pattern solid|quadrants] [--copy TEXT]\n"
	    "       [--exit-after-ms N] [--frames N] [--retitle N] [--popup]\n"
	    "       [--windows N]\n"
	    "\n"
	    "A Wayland test client: one xdg toplevel filled with a colour or\n"
	    "four quadrants (red, green / blue, white).  Prints one line per\n"
	    "event: ready WxH, focus in|out, key CODE press|release,\n"
	    "enter|motion X Y, button CODE press|release X Y, axis A V,\n"
	    "copied, paste TEXT, frame N, close.  --copy sets the selection\n"
	    "when the keyboard focus first arrives; --frames redraws N times\n"
	    "on frame callbacks, with the frame number in pixel (0, 0);\n"
	    "--retitle sets the title to \"title 1\" .. \"title N\" at once\n"
	    "after the first frame (prints retitled N).\n"
	    "--popup opens a 40x30 cyan ARGB popup at (10, 10) of the window\n"
	    "(prints popup at X Y, popup ready, popup done).\n"
	    "--windows makes N more toplevels after the first frame, one\n"
	    "after the other, each shown (4x4) then destroyed (prints\n"
	    "windows N).\n"
	    "Exits 0 on close or after --exit-after-ms, 1 on failure, 2 on\n"
	    "a usage error.\n");
}

/* Destroy every proxy, so that the sanitizer's leak check stays quiet. */
static void
cleanup(void)
{
	offer_free(c.sel);
	if (c.paste_fd >= 0)
		paste_done();
	if (c.source != NULL)
		wl_data_source_destroy(c.source);
	if (c.dd != NULL)
		wl_data_device_destroy(c.dd);
	if (c.kb != NULL)
		wl_keyboard_destroy(c.kb);
	if (c.ptr != NULL)
		wl_pointer_destroy(c.ptr);
	if (c.popup != NULL) {
		xdg_popup_destroy(c.popup);
		xdg_surface_destroy(c.pxs);
		wl_surface_destroy(c.psurface);
	}
	xdg_toplevel_destroy(c.tl);
	xdg_surface_destroy(c.xs);
	wl_surface_destroy(c.surface);
	if (c.ddm != NULL)
		wl_data_device_manager_destroy(c.ddm);
	if (c.seat != NULL)
		wl_seat_destroy(c.seat);
	xdg_wm_base_destroy(c.wm);
	wl_shm_destroy(c.shm);
	wl_compositor_destroy(c.compositor);
	wl_registry_destroy(c.registry);
	wl_display_disconnect(c.display);
}

static long
now_msec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A decimal count 0..max into *ret: 0, or -1 (*ret unchanged). */
static int
parse_count(const char *s, uint32_t max, long *ret)
{
	uint32_t v;

	if (parse_u32(s, max, &v) < 0)
		return -1;
	*ret = (long)v;
	return 0;
}

static int
parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"title", required_argument, NULL, 't'},
	    {"size", required_argument, NULL, 's'},
	    {"color", required_argument, NULL, 'c'},
	    {"pattern", required_argument, NULL, 'p'},
	    {"copy", required_argument, NULL, 'y'},
	    {"exit-after-ms", required_argument, NULL, 'e'},
	    {"frames", required_argument, NULL, 'f'},
	    {"retitle", required_argument, NULL, 'r'},
	    {"popup", no_argument, NULL, 'P'},
	    {"windows", required_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	int o;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 't':
			arg_title = optarg;
			break;
		case 's':
			if (sscanf(optarg, "%dx%d", &arg_w, &arg_h) != 2 ||
			    arg_w < 1 || arg_h < 1 || arg_w > 16384 ||
			    arg_h > 6144)
				return -1;
			break;
		case 'c':
			errno = 0;
			arg_color = (uint32_t)strtoul(optarg, &end, 0);
			if (errno != 0 || *end != '\0')
				return -1;
			break;
		case 'p':
			if (strcmp(optarg, "quadrants") == 0)
				arg_quadrants = true;
			else if (strcmp(optarg, "solid") != 0)
				return -1;
			break;
		case 'y':
			arg_copy = optarg;
			break;
		case 'e':
			arg_exit_ms = strtol(optarg, &end, 10);
			if (*end != '\0' || arg_exit_ms < 0)
				return -1;
			break;
		case 'f':
			if (parse_count(optarg, UINT32_MAX, &arg_frames) < 0)
				return -1;
			break;
		case 'r':
			if (parse_count(optarg, 100000, &arg_retitle) < 0)
				return -1;
			break;
		case 'P':
			arg_popup = true;
			break;
		case 'W':
			if (parse_count(optarg, 100000, &arg_windows) < 0)
				return -1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct pollfd pfd[2];
	long deadline = -1, t;
	ssize_t n;
	int timeout;

	if (parse_args(argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	c.display = wl_display_connect(NULL);
	if (c.display == NULL) {
		fprintf(stderr, PROG ": cannot connect to the compositor\n");
		return 1;
	}
	c.registry = wl_display_get_registry(c.display);
	wl_registry_add_listener(c.registry, &reg_listener, NULL);
	if (wl_display_roundtrip(c.display) < 0 || c.compositor == NULL ||
	    c.shm == NULL || c.wm == NULL) {
		fprintf(stderr, PROG ": compositor lacks globals\n");
		return 1;
	}
	xdg_wm_base_add_listener(c.wm, &wm_listener, NULL);
	if (c.seat != NULL)
		wl_seat_add_listener(c.seat, &seat_listener, NULL);
	if (c.seat != NULL && c.ddm != NULL) {
		c.dd = wl_data_device_manager_get_data_device(c.ddm, c.seat);
		wl_data_device_add_listener(c.dd, &dd_listener, NULL);
	}
	c.w = arg_w;
	c.h = arg_h;
	c.surface = wl_compositor_create_surface(c.compositor);
	c.xs = xdg_wm_base_get_xdg_surface(c.wm, c.surface);
	xdg_surface_add_listener(c.xs, &xs_listener, NULL);
	c.tl = xdg_surface_get_toplevel(c.xs);
	xdg_toplevel_add_listener(c.tl, &tl_listener, NULL);
	xdg_toplevel_set_title(c.tl, arg_title);
	xdg_toplevel_set_app_id(c.tl, "bulkhead-testclient");
	wl_surface_commit(c.surface);
	if (arg_exit_ms >= 0)
		deadline = now_msec() + arg_exit_ms;

	while (c.running) {
		while (wl_display_prepare_read(c.display) != 0)
			if (wl_display_dispatch_pending(c.display) < 0)
				goto out_lost;
		if (wl_display_flush(c.display) < 0 && errno != EAGAIN) {
			wl_display_cancel_read(c.display);
			goto out_lost;
		}
		pfd[0].fd = wl_display_get_fd(c.display);
		pfd[0].events = POLLIN;
		pfd[1].fd = c.paste_fd;
		pfd[1].events = POLLIN;
		timeout = -1;
		if (deadline >= 0) {
			t = deadline - now_msec();
			timeout = t < 0 ? 0 : (int)t;
		}
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
			wl_display_cancel_read(c.display);
			return 1;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (wl_display_read_events(c.display) < 0)
				goto out_lost;
		} else {
			wl_display_cancel_read(c.display);
		}
		if (wl_display_dispatch_pending(c.display) < 0)
			goto out_lost;
		if (c.ready && arg_windows > 0 && !c.windows_done) {
			c.windows_done = true;
			if (windows_run() < 0)
				goto out_lost;
		}
		if (c.paste_fd >= 0 && pfd[1].revents) {
			n = read(c.paste_fd, c.paste + c.paste_len,
			    MAX_PASTE - c.paste_len);
			if (n > 0)
				c.paste_len += (size_t)n;
			if (n == 0 || c.paste_len == MAX_PASTE ||
			    (n < 0 && errno != EAGAIN && errno != EINTR))
				paste_done();
		}
		if (deadline >= 0 && now_msec() >= deadline) {
			out("timeout");
			break;
		}
	}
	cleanup();
	return 0;

out_lost:
	fprintf(stderr, PROG ": connection to the compositor lost\n");
	return 1;
}
