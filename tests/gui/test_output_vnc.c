/*
 * test_output_vnc.c - the VNC output against a fake core (issue #8).
 *
 * The output runs in a server thread (poll on its fds, dispatch), as in
 * bulkhead-guid's core loop; the test drives an in-process libvncclient
 * viewer on 127.0.0.1 and checks the framebuffer it receives: exact
 * content pixels, label-coloured borders and title bars that a qube's
 * pixels never touch, stacking; and that viewer input reaches the core
 * as focus, button, key and configure calls.
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <rfb/keysym.h>
#include <rfb/rfbclient.h>

#include "gui/guid/font.h"
#include "gui/guid/guid.h"
#include "gui/guid/render.h"
#include "lib/gui_pool.h"
#include "vnc_fake_core.h"

#define SCR_W     640u
#define SCR_H     480u
#define POOL_SIZE (4u << 20)
#define RED       0xcc0000u
#define GREEN     0x73d216u
#define WAIT_MS   5000

static struct gd *g;
static const struct gd_output_ops *ops;
static void *out;
static rfbClient *cl;
static pthread_t server;
static volatile int server_stop;
static uint8_t *pool;
static struct gd_qube qa, qb;
static struct gd_window *wa, *wb, *wc;

/* Pattern of a buffer: differs by qube (salt), x and y. */
static uint32_t
pattern(uint32_t salt, uint32_t x, uint32_t y)
{
	return ((x * 7 + salt) & 0xff) << 16 | ((y * 5) & 0xff) << 8 |
	    ((x + y + salt) & 0xff);
}

static void
fill_buffer(uint32_t offset, uint32_t stride, uint32_t w, uint32_t h,
    uint32_t salt, int solid, uint32_t rgb)
{
	uint32_t x, y;

	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			uint32_t v = solid ? rgb : pattern(salt, x, y);

			memcpy(
			    pool + offset + (size_t)y * stride + x * 4u, &v, 4);
		}
}

static int
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void *
server_main(void *arg)
{
	struct pollfd pfd[64];
	int n;

	(void)arg;
	while (!server_stop) {
		(void)pthread_mutex_lock(&fake_lock);
		n = ops->fill_pollfds(out, pfd, 64);
		(void)pthread_mutex_unlock(&fake_lock);
		(void)poll(pfd, (nfds_t)n, 20);
		(void)pthread_mutex_lock(&fake_lock);
		ops->dispatch(out);
		(void)pthread_mutex_unlock(&fake_lock);
	}
	return NULL;
}

/* Handle what the server sent, for up to ms. */
static void
pump(int ms)
{
	int end = now_ms() + ms;

	while (now_ms() < end) {
		int r = WaitForMessage(cl, 10000);

		if (r < 0)
			fail_msg("WaitForMessage failed");
		if (r > 0 && !HandleRFBServerMessage(cl))
			fail_msg("HandleRFBServerMessage failed");
	}
}

static uint32_t
px(int32_t x, int32_t y)
{
	uint32_t v;

	assert_true(
	    x >= 0 && y >= 0 && (uint32_t)x < SCR_W && (uint32_t)y < SCR_H);
	memcpy(&v, cl->frameBuffer + ((size_t)y * SCR_W + (size_t)x) * 4u, 4);
	return v & 0xffffffu;
}

/* Pump until pixel (x, y) is rgb or WAIT_MS passed; returns whether. */
static int
wait_pixel(int32_t x, int32_t y, uint32_t rgb)
{
	int end = now_ms() + WAIT_MS;

	while (now_ms() < end) {
		if (px(x, y) == rgb)
			return 1;
		pump(20);
	}
	return px(x, y) == rgb;
}

/* Pump until the core has recorded at least n events. */
static int
wait_events(unsigned int n)
{
	int end = now_ms() + WAIT_MS;
	unsigned int have;

	do {
		pump(20);
		(void)pthread_mutex_lock(&fake_lock);
		have = g->nev;
		(void)pthread_mutex_unlock(&fake_lock);
	} while (have < n && now_ms() < end);
	return have >= n;
}

/* The first recorded event of type t from index from, or NULL. */
static const struct fake_ev *
find_ev(unsigned int from, enum fake_ev_type t, int press)
{
	unsigned int i;

	for (i = from; i < g->nev; i++)
		if (g->ev[i].type == t &&
		    (press < 0 || g->ev[i].press == press))
			return &g->ev[i];
	return NULL;
}

static int
free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	(void)close(fd);
	return port;
}

static int
setup(void **state)
{
	struct gd_output_opts o = {.width = SCR_W, .height = SCR_H};
	char err[256];
	int fd, r;

	(void)state;
	(void)signal(SIGPIPE, SIG_IGN);
	assert_int_equal(gui_pool_make(POOL_SIZE, &fd), 0);
	pool = mmap(NULL, POOL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(pool != MAP_FAILED);
	(void)close(fd);

	(void)strcpy(qa.name, "work");
	qa.label_rgb = RED;
	qa.pool = pool;
	qa.pool_size = POOL_SIZE;
	qa.pool_fd = -1;
	(void)strcpy(qb.name, "personal");
	qb.label_rgb = GREEN;
	qb.pool = pool;
	qb.pool_size = POOL_SIZE;
	qb.pool_fd = -1;

	g = fake_gd_new();
	assert_non_null(g);
	o.vnc_port = free_port();
	r = gd_output_vnc_new(g, &o, &ops, &out, err, sizeof(err));
	if (r < 0)
		fail_msg("gd_output_vnc_new: %s", err);
	g->ops = ops;
	g->out = out;

	/* A (red, below) at 100,100 200x150, buffer = window size */
	fill_buffer(0, 200 * 4, 200, 150, 0, 0, 0);
	wa = fake_window_new(g, &qa, 100, 100, 200, 150, false, "Doc\x01ument");
	fake_window_buffer(wa, 0, 200 * 4, 200, 150);
	ops->window_damage(out, wa, 0, 0, 200, 150);
	/* B (green, above, overlapping A) at 200,180 220x160; its buffer is
	 * larger than the window (260x200): only 220x160 may show */
	fill_buffer(1u << 20, 300 * 4, 260, 200, 77, 0, 0);
	wb = fake_window_new(g, &qb, 200, 180, 220, 160, false, "Mail");
	fake_window_buffer(wb, 1u << 20, 300 * 4, 260, 200);
	ops->window_damage(out, wb, 0, 0, 260, 200);
	/* C: an override-redirect menu of A's qube */
	fill_buffer(2u << 20, 80 * 4, 80, 60, 0, 1, 0x336699);
	wc = fake_window_new(g, &qa, 480, 360, 80, 60, true, "menu");
	fake_window_buffer(wc, 2u << 20, 80 * 4, 80, 60);
	ops->window_damage(out, wc, 0, 0, 80, 60);
	ops->flush(out);

	assert_int_equal(pthread_create(&server, NULL, server_main, NULL), 0);

	rfbEnableClientLogging = FALSE;
	cl = rfbGetClient(8, 3, 4);
	assert_non_null(cl);
	free(cl->serverHost); /* rfbGetClient's "" */
	cl->serverHost = strdup("127.0.0.1");
	cl->serverPort = o.vnc_port;
	cl->appData.encodingsString = "raw";
	cl->appData.useRemoteCursor = FALSE;
	/* ask for XRGB, the server's own format (px() reads 0xRRGGBB) */
	cl->format.redShift = 16;
	cl->format.greenShift = 8;
	cl->format.blueShift = 0;
	if (!rfbInitClient(cl, NULL, NULL)) {
		cl = NULL; /* rfbInitClient frees it on failure */
		fail_msg("cannot connect to the VNC output");
	}
	assert_int_equal(cl->width, SCR_W);
	assert_int_equal(cl->height, SCR_H);
	/* the first update may carry only pseudo-rects: wait for pixels */
	if (!wait_pixel(wc->x, wc->y, 0x336699))
		fail_msg("no framebuffer update with window C: %06x %06x",
		    px(wc->x, wc->y), px(5, 5));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (cl != NULL) {
		/* the default framebuffer is malloc'd and left to us */
		free(cl->frameBuffer);
		cl->frameBuffer = NULL;
		rfbClientCleanup(cl);
	}
	server_stop = 1;
	(void)pthread_join(server, NULL);
	ops->free(out);
	fake_gd_free(g);
	(void)munmap(pool, POOL_SIZE);
	return 0;
}

/* Whether screen point (x, y) is covered by a mapped window above w. */
static int
covered(const struct gd_window *w, int32_t x, int32_t y)
{
	const struct gd_window *u;

	for (u = w->above; u != NULL; u = u->above) {
		pixman_box32_t b;

		if (!u->mapped)
			continue;
		render_frame_box(u, &b);
		if (x >= b.x1 && x < b.x2 && y >= b.y1 && y < b.y2)
			return 1;
	}
	return 0;
}

/* Every visible content pixel of w is its buffer's pixel. */
static void
check_content(const struct gd_window *w, uint32_t salt)
{
	uint32_t x, y, n = 0;

	for (y = 0; y < w->height; y++)
		for (x = 0; x < w->width; x++) {
			int32_t sx = w->x + (int32_t)x, sy = w->y + (int32_t)y;

			if (covered(w, sx, sy))
				continue;
			if (px(sx, sy) != pattern(salt, x, y))
				fail_msg("content of %u at %u,%u: %06x, not "
				         "%06x",
				    w->gid, x, y, px(sx, sy),
				    pattern(salt, x, y));
			n++;
		}
	assert_true(n > 1000);
}

/* Every visible border pixel (all four sides, GD_BORDER wide) is exactly
 * the label colour; returns how many were checked. */
static uint32_t
check_border(const struct gd_window *w)
{
	pixman_box32_t f, c;
	int32_t x, y;
	uint32_t n = 0, sides = 0;

	render_frame_box(w, &f);
	render_content_box(w, &c);
	for (y = f.y1; y < f.y2; y++)
		for (x = f.x1; x < f.x2; x++) {
			int side = x < c.x1               ? 1 :
			    x >= c.x2                     ? 2 :
			    y >= c.y2                     ? 4 :
			    y < f.y1 + (int32_t)GD_BORDER ? 8 :
			                                    0;

			if (side == 0 || covered(w, x, y))
				continue;
			if (px(x, y) != w->qube->label_rgb)
				fail_msg("border of %u at %d,%d: %06x", w->gid,
				    x, y, px(x, y));
			sides |= (uint32_t)side;
			n++;
		}
	assert_int_equal(sides, 15); /* all four sides were visible */
	return n;
}

static void
test_font(void **state)
{
	unsigned int x, y, set = 0;

	(void)state;
	for (y = 0; y < FONT_GLYPH_H; y++)
		for (x = 0; x < FONT_GLYPH_W; x++) {
			set += font_pixel('A', x, y);
			assert_false(font_pixel(' ', x, y));
		}
	assert_true(set > 8);
	assert_false(font_pixel('A', FONT_GLYPH_W, 0));
	/* non-ASCII bytes are drawn as '?' */
	assert_ptr_equal(font_glyph(0x80), font_glyph('?'));
	assert_ptr_equal(font_glyph(0x01), font_glyph('?'));
	assert_ptr_not_equal(font_glyph('A'), font_glyph('?'));
}

/* Render-only: a fill never leaves the clip; text stays in the clip. */
static void
test_render_clip(void **state)
{
	uint32_t buf[32 * 16];
	struct render_fb fb = {buf, 32, 16, 32};
	pixman_box32_t clip = {4, 2, 20, 12};
	unsigned int i, inside = 0;

	(void)state;
	for (i = 0; i < 32 * 16; i++)
		buf[i] = 1;
	render_fill(&fb, &clip, -100, -100, 1000, 1000, 7);
	(void)render_text(&fb, &clip, 0, 0, "WWWWWW", 6, 9);
	for (i = 0; i < 32 * 16; i++) {
		int32_t x = (int32_t)(i % 32), y = (int32_t)(i / 32);
		int in = x >= 4 && x < 20 && y >= 2 && y < 12;

		if (!in)
			assert_int_equal(buf[i], 1);
		else
			inside += buf[i] == 9;
	}
	assert_true(inside > 0);
	assert_int_equal(render_text_colour(RED), 0xffffffu);
	assert_int_equal(render_text_colour(GREEN), 0x000000u);
}

static void
test_content_exact(void **state)
{
	(void)state;
	check_content(wa, 0);
	check_content(wb, 77);
}

static void
test_borders(void **state)
{
	(void)state;
	assert_true(check_border(wa) > 100);
	assert_true(check_border(wb) > 100);
	assert_true(check_border(wc) > 100);
}

/* Title bars: label colour with text in black or white, nothing else. */
static void
test_titlebar(void **state)
{
	const struct gd_window *ws[2] = {wa, wb};
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		const struct gd_window *w = ws[i];
		uint32_t fg = render_text_colour(w->qube->label_rgb);
		uint32_t nlabel = 0, ntext = 0;
		int32_t x, y;

		for (y = w->y - (int32_t)GD_TITLEBAR; y < w->y; y++)
			for (x = w->x; x < w->x + (int32_t)w->width; x++) {
				uint32_t p = px(x, y);

				if (covered(w, x, y))
					continue;
				if (p == w->qube->label_rgb)
					nlabel++;
				else if (p == fg)
					ntext++;
				else
					fail_msg("title bar of %u at %d,%d: "
					         "%06x",
					    w->gid, x, y, p);
			}
		assert_true(ntext > 30);          /* some text was drawn */
		assert_true(nlabel > ntext * 3u); /* mostly the label */
	}
}

/* Where A and B overlap, B (above) shows. */
static void
test_stacking(void **state)
{
	(void)state;
	/* 250,200 is inside both contents: B's pixel (50,20) */
	assert_int_equal(px(250, 200), pattern(77, 50, 20));
	/* B's left border over A's content */
	assert_int_equal(px(199, 250), GREEN);
}

/*
 * A qube stacking many screen-sized windows does not make every update
 * redraw each of them: a pixel is drawn by the window on top there only
 * (render_scene walks from the top and stops once the clip is covered).
 */
static void
test_scene_draws_only_what_shows(void **state)
{
	static uint32_t buf[640 * 480];
	struct render_fb fb = {buf, 640, 480, 640};
	pixman_box32_t clip = {0, 0, 640, 480};
	struct gd *g2;
	struct gd_window *w = NULL, *top;
	unsigned long before;
	int i;

	(void)state;
	g2 = fake_gd_new();
	assert_non_null(g2);
	for (i = 0; i < 256; i++) {
		w = fake_window_new(g2, &qb, 0, GD_BORDER + GD_TITLEBAR, 640,
		    480, false, "under");
		fake_window_buffer(w, 1u << 20, 300 * 4, 260, 200);
	}
	/* on top: work's, covering the whole clip with its frame */
	top = fake_window_new(g2, &qa, -10, 0, 700, 520, false, "top");
	fake_window_buffer(top, 0, 200 * 4, 200, 150);
	before = fake_pixels_calls;
	render_scene(g2, &fb, &clip, NULL);
	assert_int_equal(fake_pixels_calls - before, 1);
	/* what shows is the top window's: its content where its buffer
	 * is, grey where the window is larger than its buffer */
	assert_int_equal(buf[30 * 640 + 0], pattern(0, 10, 30));
	assert_int_equal(buf[300 * 640 + 320], RENDER_NO_BUFFER);
	/* half the clip uncovered: the next window down shows there */
	top->x = 320;
	before = fake_pixels_calls;
	render_scene(g2, &fb, &clip, NULL);
	assert_int_equal(fake_pixels_calls - before, 2);
	assert_int_equal(buf[100 * 640 + 10],
	    pattern(77, 10, 100 - GD_BORDER - GD_TITLEBAR));
	/* and the top window's left border, in work's red */
	assert_int_equal(buf[100 * 640 + 319], RED);
	fake_gd_free(g2);
}

/* C is override-redirect: border, no title bar. */
static void
test_override_redirect(void **state)
{
	int32_t x;

	(void)state;
	for (x = wc->x; x < wc->x + (int32_t)wc->width; x++) {
		assert_int_equal(px(x, wc->y - 1), RED);
		assert_int_equal(px(x, wc->y - 2), RED);
		assert_int_equal(px(x, wc->y - 3), RENDER_BACKGROUND);
		assert_int_equal(
		    px(x, wc->y - (int32_t)GD_TITLEBAR), RENDER_BACKGROUND);
	}
}

/* Damage of the whole (larger) buffer in a loud colour: the content
 * changes, no border or title pixel does, nothing leaks outside. */
static void
test_damage_never_touches_border(void **state)
{
	(void)state;
	(void)pthread_mutex_lock(&fake_lock);
	fill_buffer(1u << 20, 300 * 4, 260, 200, 0, 1, 0xff00ff);
	ops->window_damage(out, wb, 0, 0, 260, 200);
	ops->flush(out);
	(void)pthread_mutex_unlock(&fake_lock);
	assert_true(wait_pixel(wb->x + 219, wb->y + 159, 0xff00ff));
	pump(100);
	assert_int_equal(px(wb->x, wb->y), 0xff00ff);
	assert_true(check_border(wb) > 100);
	/* just outside the content's right and bottom edges: border */
	assert_int_equal(px(wb->x + 220, wb->y + 100), GREEN);
	assert_int_equal(px(wb->x + 100, wb->y + 160), GREEN);
	/* beyond the frame (where the larger buffer would reach) */
	assert_int_equal(px(wb->x + 240, wb->y + 100), RENDER_BACKGROUND);
	assert_int_equal(px(wb->x + 100, wb->y + 180), RENDER_BACKGROUND);
}

static void
test_click_focus_button(void **state)
{
	const struct fake_ev *f, *p, *r;
	unsigned int from = g->nev;
	int32_t x = wb->x + 30, y = wb->y + 40;

	(void)state;
	assert_true(SendPointerEvent(cl, x, y, 0));
	assert_true(SendPointerEvent(cl, x, y, rfbButton1Mask));
	assert_true(SendPointerEvent(cl, x, y, 0));
	assert_true(wait_events(from + 3));
	pump(100);
	(void)pthread_mutex_lock(&fake_lock);
	f = find_ev(from, FAKE_EV_FOCUS, -1);
	p = find_ev(from, FAKE_EV_BUTTON, 1);
	r = find_ev(from, FAKE_EV_BUTTON, 0);
	assert_non_null(f);
	assert_int_equal(f->gid, wb->gid);
	assert_non_null(p);
	assert_int_equal(p->gid, wb->gid);
	assert_int_equal(p->code, 1);
	assert_int_equal(p->x, 30);
	assert_int_equal(p->y, 40);
	assert_non_null(r);
	assert_int_equal(r->gid, wb->gid);
	assert_int_equal(r->state & (1u << 8), 1u << 8); /* Button1 held */
	assert_ptr_equal(g->focused, wb);
	(void)pthread_mutex_unlock(&fake_lock);
}

/* Pressing in B and releasing over A: the release still goes to B. */
static void
test_implicit_grab(void **state)
{
	const struct fake_ev *r;
	unsigned int from = g->nev, i;

	(void)state;
	assert_true(
	    SendPointerEvent(cl, wb->x + 10, wb->y + 10, rfbButton1Mask));
	assert_true(SendPointerEvent(cl, wa->x + 5, wa->y + 5, rfbButton1Mask));
	assert_true(SendPointerEvent(cl, wa->x + 5, wa->y + 5, 0));
	assert_true(wait_events(from + 3));
	pump(100);
	(void)pthread_mutex_lock(&fake_lock);
	r = find_ev(from, FAKE_EV_BUTTON, 0);
	assert_non_null(r);
	assert_int_equal(r->gid, wb->gid);
	assert_int_equal(r->x, wa->x + 5 - wb->x);
	for (i = from; i < g->nev; i++)
		assert_int_not_equal(g->ev[i].type, FAKE_EV_FOCUS);
	(void)pthread_mutex_unlock(&fake_lock);
}

static void
test_keys(void **state)
{
	const struct fake_ev *e;
	unsigned int from = g->nev;

	(void)state;
	assert_true(SendKeyEvent(cl, XK_a, TRUE));
	assert_true(SendKeyEvent(cl, XK_a, FALSE));
	assert_true(wait_events(from + 2));
	(void)pthread_mutex_lock(&fake_lock);
	e = find_ev(from, FAKE_EV_KEY, 1);
	assert_non_null(e);
	assert_int_equal(e->code, 38);
	assert_int_equal(e->state, 0);
	(void)pthread_mutex_unlock(&fake_lock);

	/* Shift_L, A: keycode 50 then 38 with Shift in the state */
	from = g->nev;
	assert_true(SendKeyEvent(cl, XK_Shift_L, TRUE));
	assert_true(SendKeyEvent(cl, XK_A, TRUE));
	assert_true(SendKeyEvent(cl, XK_A, FALSE));
	assert_true(SendKeyEvent(cl, XK_Shift_L, FALSE));
	assert_true(wait_events(from + 4));
	(void)pthread_mutex_lock(&fake_lock);
	assert_int_equal(g->ev[from].code, 50);
	assert_int_equal(g->ev[from + 1].code, 38);
	assert_true(g->ev[from + 1].press);
	assert_int_equal(
	    g->ev[from + 1].state & GD_STATE_SHIFT, GD_STATE_SHIFT);
	(void)pthread_mutex_unlock(&fake_lock);

	/* 'A' alone (no Shift press from the viewer): still shifted */
	from = g->nev;
	assert_true(SendKeyEvent(cl, XK_A, TRUE));
	assert_true(SendKeyEvent(cl, XK_A, FALSE));
	/* an unknown keysym is dropped: then 'b' arrives */
	assert_true(SendKeyEvent(cl, 0x1234567, TRUE));
	assert_true(SendKeyEvent(cl, XK_b, TRUE));
	assert_true(wait_events(from + 3));
	pump(100);
	(void)pthread_mutex_lock(&fake_lock);
	assert_int_equal(g->nev, from + 3);
	assert_int_equal(g->ev[from].code, 38);
	assert_int_equal(g->ev[from].state, GD_STATE_SHIFT);
	assert_int_equal(g->ev[from + 2].code, 56); /* b: evdev 48 + 8 */
	(void)pthread_mutex_unlock(&fake_lock);
	assert_true(SendKeyEvent(cl, XK_b, FALSE));
}

static void
test_drag_titlebar(void **state)
{
	const struct fake_ev *c = NULL;
	unsigned int from = g->nev, i;
	int32_t x0 = wb->x, y0 = wb->y, bx = wb->x + 60,
	        by = wb->y - (int32_t)GD_TITLEBAR / 2;

	(void)state;
	assert_true(SendPointerEvent(cl, bx, by, 0));
	assert_true(SendPointerEvent(cl, bx, by, rfbButton1Mask));
	assert_true(SendPointerEvent(cl, bx + 30, by + 20, rfbButton1Mask));
	assert_true(SendPointerEvent(cl, bx + 30, by + 20, 0));
	assert_true(wait_events(from + 1));
	pump(200);
	(void)pthread_mutex_lock(&fake_lock);
	for (i = from; i < g->nev; i++) {
		assert_int_not_equal(g->ev[i].type, FAKE_EV_BUTTON);
		if (g->ev[i].type == FAKE_EV_CONFIGURE)
			c = &g->ev[i];
	}
	assert_non_null(c);
	assert_int_equal(c->gid, wb->gid);
	assert_int_equal(c->x, x0 + 30);
	assert_int_equal(c->y, y0 + 20);
	assert_int_equal(c->code, 220);
	assert_int_equal(c->height, 160);
	(void)pthread_mutex_unlock(&fake_lock);
	/* the screen follows: B's frame at the new place, the old place's
	 * uncovered left border gone */
	assert_true(wait_pixel(x0 + 30 - 1, y0 + 20 + 50, GREEN));
	assert_true(wait_pixel(x0 + 30, y0 + 20, 0xff00ff));
	pump(100);
	assert_true(check_border(wb) > 100);
	assert_int_not_equal(px(x0 - 1, y0 + 150), GREEN);
}

static void
test_notice(void **state)
{
	int32_t x, y, white = 0;

	(void)state;
	(void)pthread_mutex_lock(&fake_lock);
	ops->notice(out, "clipboard copied from work");
	ops->flush(out);
	(void)pthread_mutex_unlock(&fake_lock);
	assert_true(wait_pixel(1, (int32_t)SCR_H - 1, RENDER_NOTICE_BG));
	pump(100);
	for (y = (int32_t)(SCR_H - RENDER_NOTICE_H); y < (int32_t)SCR_H; y++)
		for (x = 0; x < 200; x++)
			white += px(x, y) == RENDER_NOTICE_FG;
	assert_true(white > 30);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_font),
	    cmocka_unit_test(test_render_clip),
	    cmocka_unit_test(test_content_exact),
	    cmocka_unit_test(test_borders),
	    cmocka_unit_test(test_titlebar),
	    cmocka_unit_test(test_stacking),
	    cmocka_unit_test(test_scene_draws_only_what_shows),
	    cmocka_unit_test(test_override_redirect),
	    cmocka_unit_test(test_damage_never_touches_border),
	    cmocka_unit_test(test_click_focus_button),
	    cmocka_unit_test(test_implicit_grab),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_drag_titlebar),
	    cmocka_unit_test(test_notice),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
