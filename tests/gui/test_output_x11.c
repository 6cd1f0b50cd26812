/*
 * test_output_x11.c - the X11 output of bulkhead-guid (issue #8) against a
 * private Xvfb, with a fake core (x11_fake_core.c).  TAP on stdout.
 *
 * Starts "Xvfb -displayfd" (a free display of its own choosing, black
 * root), makes two qubes' pools with known patterns, maps windows through
 * the output's ops and reads the screen back with GetImage: content pixels
 * exact, a GD_BORDER frame of exactly the label colour, no qube pixel on
 * the frame even when the buffer is larger than the window, titles and
 * properties; then input through XTEST (key, click, frame click, crossing),
 * a WM-style close and configure from another client, unmap and destroy.
 * Skips (TAP "1..0 # SKIP") only when Xvfb cannot be run.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>

#include "lib/gui_pool.h"
#include "x11_fake_core.h"

#define SCREEN_W 1024
#define SCREEN_H 768
#define RED      0xcc0000u
#define GREEN    0x73d216u
#define BG       0x202020u /* the output's background */
#define POOL_SZ  ((size_t)256 * GUI_PAGE_SIZE)

static int tap_n, tap_failed;
static pid_t xvfb_pid = -1;

/* One TAP line.  A macro, not a va_list function: clang 14's analyzer
 * misreads va_start here (valist.Uninitialized). */
#define ok(cond, ...)                                                          \
	do {                                                                   \
		bool ok_c = (cond);                                            \
		printf("%s %d - ", ok_c ? "ok" : "not ok", ++tap_n);           \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
		if (!ok_c)                                                     \
			tap_failed++;                                          \
		(void)fflush(stdout);                                          \
	} while (0)

static void
kill_xvfb(void)
{
	if (xvfb_pid > 0) {
		(void)kill(xvfb_pid, SIGTERM);
		(void)waitpid(xvfb_pid, NULL, 0);
		xvfb_pid = -1;
	}
}

static void
on_signal(int sig)
{
	(void)sig;
	if (xvfb_pid > 0)
		(void)kill(xvfb_pid, SIGTERM);
	_exit(1);
}

/* Start Xvfb; 0 and the display name, or -1 (Xvfb missing or failed). */
static int
start_xvfb(char *display, size_t len)
{
	int p[2], n, status;
	char num[16];
	struct pollfd pfd;
	size_t got = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	xvfb_pid = fork();
	if (xvfb_pid < 0)
		return -1;
	if (xvfb_pid == 0) {
		char fdarg[16];
		int devnull = open("/dev/null", O_WRONLY);

		/* the pipe's write end as fd 3, not close-on-exec */
		(void)dup2(p[1], 3);
		if (devnull >= 0)
			(void)dup2(devnull, 2);
		(void)snprintf(fdarg, sizeof(fdarg), "%d", 3);
		execlp("Xvfb", "Xvfb", "-displayfd", fdarg, "-screen", "0",
		    "1024x768x24", "-nolisten", "tcp", "-br", "-noreset",
		    (char *)NULL);
		_exit(127);
	}
	(void)close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (got < sizeof(num) - 1 && poll(&pfd, 1, 10000) == 1) {
		n = (int)read(p[0], num + got, sizeof(num) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (num[got - 1] == '\n')
			break;
	}
	(void)close(p[0]);
	num[got] = '\0';
	if (got == 0 || num[got - 1] != '\n') {
		if (waitpid(xvfb_pid, &status, WNOHANG) == 0)
			kill_xvfb();
		xvfb_pid = -1;
		return -1;
	}
	num[got - 1] = '\0';
	(void)snprintf(display, len, ":%s", num);
	return 0;
}

/* ---- the scene ---- */

struct fake_qube {
	struct gd_qube q;
	uint8_t *map; /* our read-write mapping of the pool */
};

static uint32_t
quad(uint32_t bx, uint32_t by, uint32_t bw, uint32_t bh)
{
	if (by < bh / 2)
		return bx < bw / 2 ? 0x336699u : 0x993366u;
	return bx < bw / 2 ? 0x669933u : 0x123456u;
}

static void
fill_quads(struct fake_qube *fq, uint32_t off, uint32_t stride, uint32_t bw,
    uint32_t bh)
{
	uint32_t x, y, px;

	for (y = 0; y < bh; y++)
		for (x = 0; x < stride / 4; x++) {
			/* padding past the width is a colour too: it must
			 * never show */
			px = x < bw ? quad(x, y, bw, bh) : 0xff00ffu;
			memcpy(
			    fq->map + off + (size_t)y * stride + (size_t)x * 4,
			    &px, 4);
		}
}

static int
make_qube(struct fake_qube *fq, const char *name, uint32_t rgb)
{
	int fd;

	memset(fq, 0, sizeof(*fq));
	(void)snprintf(fq->q.name, sizeof(fq->q.name), "%s", name);
	(void)snprintf(fq->q.label, sizeof(fq->q.label), "%s", name);
	fq->q.label_rgb = rgb;
	if (gui_pool_make(POOL_SZ, &fd) < 0)
		return -1;
	fq->map =
	    mmap(NULL, POOL_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fq->map == MAP_FAILED)
		return -1;
	/* as a real pool: the GUI domain side can only map it read-only */
	if (gui_pool_seal_readonly(fd) < 0)
		return -1;
	fq->q.pool_fd = fd;
	fq->q.pool = fq->map;
	fq->q.pool_size = POOL_SZ;
	return 0;
}

static void
set_window(struct gd_window *w, struct gd_qube *q, uint32_t gid,
    const char *title, int32_t x, int32_t y, uint32_t cw, uint32_t ch)
{
	memset(w, 0, sizeof(*w));
	w->gid = gid;
	w->wid = gid;
	w->qube = q;
	w->x = x;
	w->y = y;
	w->width = cw;
	w->height = ch;
	w->mapped = true;
	(void)snprintf(w->title, sizeof(w->title), "%s", title);
}

static void
set_buffer(struct gd_window *w, uint32_t off, uint32_t stride, uint32_t bw,
    uint32_t bh)
{
	w->has_buffer = true;
	w->buf_offset = off;
	w->buf_stride = stride;
	w->buf_width = bw;
	w->buf_height = bh;
	w->buf_format = GUI_FORMAT_XRGB8888;
}

/* ---- the X side of the test ---- */

static xcb_connection_t *tc; /* the test's own connection */
static xcb_screen_t *tscreen;
static const struct gd_output_ops *ops;
static void *out;
static struct gd g;

/* Let the output run its event loop for ms milliseconds. */
static void
settle(int ms)
{
	struct pollfd pfd[8];
	struct timespec t0, t;
	int n, el;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ops->flush(out);
		(void)xcb_flush(tc);
		n = ops->fill_pollfds(out, pfd, 8);
		(void)poll(pfd, (nfds_t)n, 10);
		ops->dispatch(out);
		(void)clock_gettime(CLOCK_MONOTONIC, &t);
		el = (int)((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (el >= ms)
			break;
	}
	free(xcb_get_input_focus_reply(tc, xcb_get_input_focus(tc), NULL));
}

/* The whole screen, 0xRRGGBB a pixel (malloc'd), or NULL. */
static uint32_t *
screenshot(void)
{
	xcb_get_image_reply_t *r;
	uint32_t *px;
	size_t n = (size_t)SCREEN_W * SCREEN_H;
	size_t i;

	r = xcb_get_image_reply(tc,
	    xcb_get_image(tc, XCB_IMAGE_FORMAT_Z_PIXMAP, tscreen->root, 0, 0,
	        SCREEN_W, SCREEN_H, ~0u),
	    NULL);
	if (r == NULL)
		return NULL;
	if ((size_t)xcb_get_image_data_length(r) < n * 4) {
		free(r);
		return NULL;
	}
	px = malloc(n * 4);
	if (px != NULL) {
		memcpy(px, xcb_get_image_data(r), n * 4);
		for (i = 0; i < n; i++)
			px[i] &= 0xffffffu;
	}
	free(r);
	return px;
}

static uint32_t
at(const uint32_t *img, int32_t x, int32_t y)
{
	if (x < 0 || y < 0 || x >= SCREEN_W || y >= SCREEN_H)
		return 0xffffffffu;
	return img[(size_t)y * SCREEN_W + (size_t)x];
}

/* What content pixel (cx, cy) of w should be: its buffer, clipped. */
typedef uint32_t (*expect_fn)(
    const struct gd_window *w, uint32_t cx, uint32_t cy);

static uint32_t
expect_quads(const struct gd_window *w, uint32_t cx, uint32_t cy)
{
	if (!w->has_buffer || cx >= w->buf_width || cy >= w->buf_height)
		return BG;
	return quad(cx, cy, w->buf_width, w->buf_height);
}

/*
 * Check w's frame on screen: a GD_BORDER frame of exactly the label colour
 * around content of w->width x w->height, each content pixel as expect()
 * says, and a one-pixel ring outside the frame that is the black root.
 */
static void
check_frame(const uint32_t *img, const struct gd_window *w, expect_fn expect,
    const char *what)
{
	int32_t b = (int32_t)GD_BORDER, x, y;
	int32_t fx = w->x - b, fy = w->y - b;
	int32_t fw = (int32_t)w->width + 2 * b, fh = (int32_t)w->height + 2 * b;
	uint32_t label = w->qube->label_rgb, px, want;
	int bad_border = 0, bad_content = 0, bad_ring = 0;
	char first[96] = "";

	if (img == NULL) {
		ok(false, "%s: no screenshot", what);
		return;
	}
	for (y = fy - 1; y <= fy + fh; y++)
		for (x = fx - 1; x <= fx + fw; x++) {
			px = at(img, x, y);
			if (x < fx || y < fy || x >= fx + fw || y >= fy + fh) {
				if (px != 0)
					bad_ring++;
				continue;
			}
			if (x < fx + b || y < fy + b || x >= fx + fw - b ||
			    y >= fy + fh - b) {
				if (px != label) {
					if (bad_border++ == 0)
						(void)snprintf(first,
						    sizeof(first),
						    "border (%d,%d)=%06x", x, y,
						    px);
				}
				continue;
			}
			want = expect(
			    w, (uint32_t)(x - w->x), (uint32_t)(y - w->y));
			if (px != want && bad_content++ == 0)
				(void)snprintf(first, sizeof(first),
				    "content (%d,%d)=%06x want %06x", x, y, px,
				    want);
		}
	ok(bad_border == 0, "%s: %u-px frame exactly %06x (%d wrong) %s", what,
	    GD_BORDER, label, bad_border, bad_border ? first : "");
	ok(bad_content == 0, "%s: content exact (%d wrong) %s", what,
	    bad_content, bad_content ? first : "");
	ok(bad_ring == 0, "%s: nothing drawn outside the frame (%d wrong)",
	    what, bad_ring);
}

/* The top-level window at a screen point (ours, there being no WM). */
static xcb_window_t
window_at(int32_t x, int32_t y)
{
	xcb_translate_coordinates_reply_t *r;
	xcb_window_t child;

	r = xcb_translate_coordinates_reply(tc,
	    xcb_translate_coordinates(
	        tc, tscreen->root, tscreen->root, (int16_t)x, (int16_t)y),
	    NULL);
	if (r == NULL)
		return XCB_NONE;
	child = r->child;
	free(r);
	return child;
}

static xcb_atom_t
atom(const char *name)
{
	xcb_intern_atom_reply_t *r;
	xcb_atom_t a;

	r = xcb_intern_atom_reply(
	    tc, xcb_intern_atom(tc, 0, (uint16_t)strlen(name), name), NULL);
	if (r == NULL)
		return XCB_NONE;
	a = r->atom;
	free(r);
	return a;
}

/* A property as a NUL-terminated string (malloc'd), or NULL. */
static char *
prop(xcb_window_t win, xcb_atom_t name, xcb_atom_t *ret_type)
{
	xcb_get_property_reply_t *r;
	char *s;
	int len;

	r = xcb_get_property_reply(tc,
	    xcb_get_property(
	        tc, 0, win, name, XCB_GET_PROPERTY_TYPE_ANY, 0, 1024),
	    NULL);
	if (r == NULL)
		return NULL;
	if (r->type == XCB_NONE) {
		free(r);
		return NULL;
	}
	len = xcb_get_property_value_length(r);
	s = calloc(1, (size_t)len + 1);
	if (s != NULL)
		memcpy(s, xcb_get_property_value(r), (size_t)len);
	if (ret_type != NULL)
		*ret_type = r->type;
	free(r);
	return s;
}

static void
fake(uint8_t type, uint8_t detail, int16_t x, int16_t y)
{
	(void)xcb_test_fake_input(
	    tc, type, detail, XCB_CURRENT_TIME, tscreen->root, x, y, 0);
	(void)xcb_flush(tc);
}

static void
test_bad_display(void)
{
	struct gd_output_opts o = {.x11_display = ":4711"};
	const struct gd_output_ops *bops = NULL;
	void *bout = NULL;
	char err[128] = "";
	int ret;

	ret = gd_output_x11_new(&g, &o, &bops, &bout, err, sizeof(err));
	ok(ret < 0 && bout == NULL && err[0] != '\0',
	    "a display that does not exist fails with a message (%d: %s)", ret,
	    err);
}

int
main(void)
{
	struct fake_qube red, green;
	struct gd_window A, B, C;
	struct gd_output_opts opts;
	char display[32], err[256] = "", *s;
	uint32_t *img;
	xcb_window_t xa, xb, xc;
	xcb_get_window_attributes_reply_t *wa;
	xcb_get_geometry_reply_t *geo;
	xcb_atom_t type;
	int i, j, ret, from;
	uint32_t white = 0xffffffu;
	struct pollfd pfd[4];

	(void)signal(SIGTERM, on_signal);
	(void)signal(SIGINT, on_signal);
	if (start_xvfb(display, sizeof(display)) < 0) {
		printf("1..0 # SKIP Xvfb not found or did not start\n");
		return 0;
	}
	printf("# Xvfb on %s\n", display);

	memset(&opts, 0, sizeof(opts));
	opts.width = SCREEN_W;
	opts.height = SCREEN_H;
	opts.x11_display = display;
	test_bad_display();
	ret = gd_output_x11_new(&g, &opts, &ops, &out, err, sizeof(err));
	ok(ret == 0, "gd_output_x11_new on %s (%s)", display, err);
	if (ret != 0)
		goto out_kill;
	g.ops = ops;
	g.out = out;
	tc = xcb_connect(display, NULL);
	if (xcb_connection_has_error(tc)) {
		ok(false, "test connection to %s", display);
		goto out_free;
	}
	tscreen = xcb_setup_roots_iterator(xcb_get_setup(tc)).data;

	if (make_qube(&red, "red", RED) < 0 ||
	    make_qube(&green, "green", GREEN) < 0) {
		ok(false, "making the pools");
		goto out_free;
	}
	/* A: 100x80 of a 160x120 buffer (larger than the window) */
	set_window(&A, &red.q, 1, "Window A", 100, 100, 100, 80);
	set_buffer(&A, 0, 160 * 4, 160, 120);
	fill_quads(&red, 0, 160 * 4, 160, 120);
	/* B: override-redirect 120x90 of a 60x40 buffer, stride 64 px, at
	 * an offset in green's pool */
	set_window(&B, &green.q, 2, "menu", 400, 300, 120, 90);
	B.override_redirect = true;
	set_buffer(&B, 8192, 64 * 4, 60, 40);
	fill_quads(&green, 8192, 64 * 4, 60, 40);
	/* C: red's too, no buffer yet */
	set_window(&C, &red.q, 3, "empty", 700, 100, 50, 50);
	g.windows[g.nwindows++] = &A;
	g.windows[g.nwindows++] = &B;
	g.windows[g.nwindows++] = &C;

	ops->window_map(out, &A);
	ops->window_map(out, &B);
	ops->window_map(out, &C);
	/* the whole buffer, larger than the window */
	ops->window_damage(out, &A, 0, 0, 160, 120);
	ops->window_damage(out, &B, 0, 0, 60, 40);
	settle(300);
	img = screenshot();
	check_frame(img, &A, expect_quads, "A (buffer larger than window)");
	check_frame(img, &B, expect_quads, "B (o-r, buffer smaller)");
	check_frame(img, &C, expect_quads, "C (no buffer)");
	free(img);

	xa = window_at(A.x, A.y);
	xb = window_at(B.x, B.y);
	xc = window_at(C.x, C.y);
	ok(xa != XCB_NONE && xb != XCB_NONE && xa != xb && xc != xa,
	    "one X window each");
	s = prop(xa, XCB_ATOM_WM_NAME, &type);
	ok(s != NULL && strcmp(s, "[red] Window A") == 0 &&
	        type == XCB_ATOM_STRING,
	    "WM_NAME of A is \"%s\"", s != NULL ? s : "(none)");
	free(s);
	s = prop(xa, atom("_NET_WM_NAME"), NULL);
	ok(s != NULL && strcmp(s, "[red] Window A") == 0,
	    "_NET_WM_NAME of A is \"%s\"", s != NULL ? s : "(none)");
	free(s);
	s = prop(xb, atom("_QUBES_VMNAME"), NULL);
	ok(s != NULL && strcmp(s, "green") == 0, "_QUBES_VMNAME of B is %s",
	    s != NULL ? s : "(none)");
	free(s);
	s = prop(xb, atom("_QUBES_LABEL_COLOR"), &type);
	{
		uint32_t v = 0;

		if (s != NULL)
			memcpy(&v, s, 4);
		ok(s != NULL && type == XCB_ATOM_CARDINAL && v == GREEN,
		    "_QUBES_LABEL_COLOR of B is %06x", v);
	}
	free(s);
	s = prop(xa, XCB_ATOM_WM_CLASS, NULL);
	ok(s != NULL && strncmp(s, "red:", 4) == 0, "WM_CLASS of A is %s...",
	    s != NULL ? s : "(none)");
	free(s);
	s = prop(xa, atom("WM_PROTOCOLS"), NULL);
	{
		xcb_atom_t v = 0;

		if (s != NULL)
			memcpy(&v, s, 4);
		ok(v == atom("WM_DELETE_WINDOW") && v != XCB_NONE,
		    "WM_PROTOCOLS of A has WM_DELETE_WINDOW");
	}
	free(s);
	wa = xcb_get_window_attributes_reply(
	    tc, xcb_get_window_attributes(tc, xb), NULL);
	ok(wa != NULL && wa->override_redirect, "B is override-redirect");
	free(wa);
	wa = xcb_get_window_attributes_reply(
	    tc, xcb_get_window_attributes(tc, xa), NULL);
	ok(wa != NULL && !wa->override_redirect &&
	        wa->map_state == XCB_MAP_STATE_VIEWABLE,
	    "A is not override-redirect, and viewable");
	free(wa);

	/* partial damage: only the damaged rectangle is fetched */
	for (i = 0; i < 20; i++) {
		uint32_t xx;

		for (xx = 10; xx < 30; xx++)
			memcpy(
			    red.map + (size_t)(10 + i) * 640 + (size_t)xx * 4,
			    &white, 4);
		/* changed but not damaged */
		memcpy(red.map + (size_t)(50 + i) * 640 + (size_t)50 * 4,
		    &white, 4);
	}
	ops->window_damage(out, &A, 10, 10, 20, 20);
	settle(150);
	img = screenshot();
	{
		int bad = 0, x, y;

		for (y = 0; y < 80; y++)
			for (x = 0; x < 100; x++) {
				uint32_t want =
				    (x >= 10 && x < 30 && y >= 10 && y < 30) ?
				    white :
				    quad((uint32_t)x, (uint32_t)y, 160, 120);

				if (img == NULL ||
				    at(img, A.x + x, A.y + y) != want)
					bad++;
			}
		ok(bad == 0,
		    "partial damage shows the damaged rectangle only (%d "
		    "wrong)",
		    bad);
	}
	free(img);
	fill_quads(&red, 0, 160 * 4, 160, 120);
	/* the whole buffer again, with no Expose to repaint the frame
	 * after it: every put itself must stay off the frame */
	ops->window_damage(out, &A, 0, 0, 160, 120);
	settle(150);
	img = screenshot();
	check_frame(img, &A, expect_quads, "A damaged whole, no expose");
	free(img);

	/* C gets a buffer (red's pool again: the same segment) */
	set_buffer(&C, 4096 * 40, 50 * 4, 50, 50);
	fill_quads(&red, 4096 * 40, 50 * 4, 50, 50);
	ops->window_damage(out, &C, 0, 0, 50, 50);
	/* A moves and grows, still within its buffer; two configures in a
	 * row: the first one's ConfigureNotify comes after the second was
	 * asked, and is not the user's either */
	A.width = 90;
	ops->window_configure(out, &A);
	A.x = 120;
	A.y = 110;
	A.width = 140;
	A.height = 100;
	ops->window_configure(out, &A);
	ops->window_damage(out, &A, 0, 0, 160, 120);
	settle(300);
	img = screenshot();
	check_frame(img, &A, expect_quads, "A after configure");
	check_frame(img, &C, expect_quads, "C with a buffer");
	free(img);
	geo = xcb_get_geometry_reply(tc, xcb_get_geometry(tc, xa), NULL);
	ok(geo != NULL && geo->x == 118 && geo->y == 108 && geo->width == 144 &&
	        geo->height == 104,
	    "A's X window is the content plus the frame");
	free(geo);

	/* a title change */
	(void)snprintf(A.title, sizeof(A.title), "%s", "new\x01title");
	ops->window_title(out, &A);
	settle(50);
	s = prop(xa, XCB_ATOM_WM_NAME, NULL);
	ok(s != NULL && strcmp(s, "[red] new_title") == 0,
	    "WM_NAME after a title change is \"%s\"", s != NULL ? s : "(none)");
	free(s);
	ok(fake_find(&g, 0, FAKE_CONFIGURE, NULL) < 0,
	    "our own configures are not reported as the user's");

	/* focus: the core's request becomes the X focus, and FocusIn is
	 * not echoed back as a change */
	from = g.ncalls;
	g.focused = &A;
	ops->focus(out, &A);
	settle(100);
	{
		xcb_get_input_focus_reply_t *f = xcb_get_input_focus_reply(
		    tc, xcb_get_input_focus(tc), NULL);

		ok(f != NULL && f->focus == xa, "focus(A) gives A the X focus");
		free(f);
	}
	ok(fake_find(&g, from, FAKE_SET_FOCUS, NULL) < 0,
	    "the FocusIn we caused is not sent back to the core");
	/* a key to the X focus reaches the core with its keycode */
	from = g.ncalls;
	fake(XCB_KEY_PRESS, 38, 0, 0);
	fake(XCB_KEY_RELEASE, 38, 0, 0);
	settle(150);
	i = fake_find(&g, from, FAKE_KEY, NULL);
	ok(i >= 0 && g.calls[i].a == 38 && g.calls[i].press &&
	        g.calls[i].w == &A,
	    "XTEST key 38 while A is focused: gd_key(38, press)");
	i = i >= 0 ? fake_find(&g, i + 1, FAKE_KEY, NULL) : -1;
	ok(i >= 0 && g.calls[i].a == 38 && !g.calls[i].press,
	    "and gd_key(38, release)");
	/* X focus moved by someone else (a WM): the core follows */
	from = g.ncalls;
	(void)xcb_set_input_focus(
	    tc, XCB_INPUT_FOCUS_PARENT, xc, XCB_CURRENT_TIME);
	settle(150);
	i = fake_find(&g, from, FAKE_SET_FOCUS, &C);
	ok(i >= 0 && g.focused == &C,
	    "FocusIn on C from another client: gd_set_focus(C)");

	/* pointer: enter, motion, click with content coordinates */
	from = g.ncalls;
	fake(XCB_MOTION_NOTIFY, 0, (int16_t)(A.x + 10), (int16_t)(A.y + 7));
	settle(100);
	fake(XCB_BUTTON_PRESS, 1, 0, 0);
	fake(XCB_BUTTON_RELEASE, 1, 0, 0);
	settle(150);
	i = fake_find(&g, from, FAKE_CROSSING, &A);
	ok(i >= 0 && g.calls[i].press, "pointer into A: gd_crossing(enter)");
	i = fake_find(&g, from, FAKE_MOTION, &A);
	ok(i >= 0 && g.calls[i].x == 10 && g.calls[i].y == 7,
	    "gd_motion(A, 10, 7): got (%d, %d)", i >= 0 ? g.calls[i].x : -1,
	    i >= 0 ? g.calls[i].y : -1);
	i = fake_find(&g, from, FAKE_BUTTON, &A);
	ok(i >= 0 && g.calls[i].press && g.calls[i].a == 1 &&
	        g.calls[i].x == 10 && g.calls[i].y == 7,
	    "click: gd_button(A, 10, 7, 1, press): got (%d, %d)",
	    i >= 0 ? g.calls[i].x : -1, i >= 0 ? g.calls[i].y : -1);
	i = i >= 0 ? fake_find(&g, i + 1, FAKE_BUTTON, &A) : -1;
	ok(i >= 0 && !g.calls[i].press, "and the release");
	/* a click on the frame is not the qube's */
	from = g.ncalls;
	fake(XCB_MOTION_NOTIFY, 0, (int16_t)(A.x - 1), (int16_t)(A.y + 20));
	settle(100);
	fake(XCB_BUTTON_PRESS, 1, 0, 0);
	fake(XCB_BUTTON_RELEASE, 1, 0, 0);
	settle(150);
	ok(fake_find(&g, from, FAKE_BUTTON, NULL) < 0 &&
	        fake_find(&g, from, FAKE_MOTION, NULL) < 0,
	    "click and motion on the frame are not forwarded");
	/* leaving */
	from = g.ncalls;
	fake(XCB_MOTION_NOTIFY, 0, 5, 5);
	settle(100);
	i = fake_find(&g, from, FAKE_CROSSING, &A);
	ok(i >= 0 && !g.calls[i].press, "pointer out of A: gd_crossing(leave)");

	/* WM_DELETE_WINDOW from another client (a WM's close button) */
	{
		xcb_client_message_event_t cm;

		memset(&cm, 0, sizeof(cm));
		cm.response_type = XCB_CLIENT_MESSAGE;
		cm.format = 32;
		cm.window = xa;
		cm.type = atom("WM_PROTOCOLS");
		cm.data.data32[0] = atom("WM_DELETE_WINDOW");
		cm.data.data32[1] = XCB_CURRENT_TIME;
		(void)xcb_send_event(
		    tc, 0, xa, XCB_EVENT_MASK_NO_EVENT, (const char *)&cm);
	}
	from = g.ncalls;
	settle(100);
	ok(fake_find(&g, from, FAKE_CLOSE, &A) >= 0,
	    "WM_DELETE_WINDOW: gd_close(A)");

	/* a resize from another client (as a WM would) */
	{
		uint32_t v[2] = {204, 154};

		(void)xcb_configure_window(tc, xa,
		    XCB_CONFIG_WINDOW_WIDTH | XCB_CONFIG_WINDOW_HEIGHT, v);
	}
	from = g.ncalls;
	settle(150);
	i = fake_find(&g, from, FAKE_CONFIGURE, &A);
	ok(i >= 0 && g.calls[i].x == A.x && g.calls[i].y == A.y &&
	        g.calls[i].a == 200 && g.calls[i].b == 150,
	    "a WM's resize: gd_configure(A, %d, %d, 200, 150): got %d,%d "
	    "%ux%u",
	    A.x, A.y, i >= 0 ? g.calls[i].x : 0, i >= 0 ? g.calls[i].y : 0,
	    i >= 0 ? g.calls[i].a : 0, i >= 0 ? g.calls[i].b : 0);
	/* until the core agrees, the frame follows the real window and the
	 * content stays the model's 140x100 */
	img = screenshot();
	ok(img != NULL && at(img, A.x - 1, A.y + 149) == RED &&
	        at(img, A.x + 199, A.y - 1) == RED &&
	        at(img, A.x + 199, A.y + 151) == RED &&
	        at(img, A.x + 10, A.y + 149) == BG &&
	        at(img, A.x + 145, A.y + 50) == BG &&
	        at(img, A.x + 139, A.y + 99) == quad(139, 99, 160, 120),
	    "the frame is at the new edges, the rest is background");
	free(img);

	/* unmap */
	ops->window_unmap(out, &B);
	settle(50);
	wa = xcb_get_window_attributes_reply(
	    tc, xcb_get_window_attributes(tc, xb), NULL);
	ok(wa != NULL && wa->map_state == XCB_MAP_STATE_UNMAPPED,
	    "window_unmap unmaps B");
	free(wa);
	/* destroy */
	ops->window_destroy(out, &A);
	ok(A.output_data[1] == NULL, "window_destroy drops output_data");
	settle(50);
	wa = xcb_get_window_attributes_reply(
	    tc, xcb_get_window_attributes(tc, xa), NULL);
	ok(wa == NULL, "window_destroy: A's X window is gone");
	free(wa);
	ops->window_destroy(out, &B);
	ops->window_destroy(out, &C);
	settle(50);
	ok(window_at(C.x, C.y) == XCB_NONE, "no window left at C's place");

	/* the X server goes away: the output tells the core, once, and
	 * takes no more calls to X */
	ok(fake_find(&g, 0, FAKE_OUTPUT_LOST, NULL) < 0,
	    "no output loss while the X server runs");
	xcb_disconnect(tc);
	tc = NULL;
	kill_xvfb();
	for (i = 0; i < 100 && fake_find(&g, 0, FAKE_OUTPUT_LOST, NULL) < 0;
	     i++) {
		ops->dispatch(out);
		(void)usleep(10000);
	}
	j = fake_find(&g, 0, FAKE_OUTPUT_LOST, NULL);
	ok(j >= 0, "the X server gone: the output calls gd_output_lost");
	ops->window_map(out, &B);
	ops->window_damage(out, &B, 0, 0, 10, 10);
	ops->flush(out);
	ops->dispatch(out);
	ok(j >= 0 && fake_find(&g, j + 1, FAKE_OUTPUT_LOST, NULL) < 0 &&
	        ops->fill_pollfds(out, pfd, 4) == 0,
	    "after it: once only, and no fds to poll");

out_free:
	if (tc != NULL)
		xcb_disconnect(tc);
	ops->free(out);
out_kill:
	kill_xvfb();
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
