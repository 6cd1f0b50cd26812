/*
 * bench-gui-client.c - the Wayland client of bench/run's gui group
 * (issue #8): one xdg toplevel of one XRGB wl_shm buffer, made and filled
 * once; every frame writes a stamp into pixel (0, 0) and commits it with
 * the damage asked for, so that what is timed is the path (agent, GUI
 * domain, output), not the client's drawing.
 *
 * usage: bench-gui-client [--size WxH] [--damage WxH] [--frames N]
 *                         [--interval-us U] [--delay-ms MS] [--hold-ms MS]
 *
 * The stamp of frame n is 0xa50000 | (n & 0xffff) (frame 0 is the first
 * buffer shown); the rest of the buffer is 0x336699.  --damage WxH damages
 * the rectangle (0, 0, W, H) every frame (default: the whole buffer).
 * Frames follow frame callbacks (FRAME_DONE of the GUI domain); with
 * --interval-us a frame is also not committed before U microseconds after
 * the one before it; frame 1 waits --delay-ms (default 0) after frame 0,
 * so that a watcher can find the window first.  Prints "ready WxH", then "commit N NS" for every
 * frame, NS being CLOCK_MONOTONIC in nanoseconds just before the commit,
 * and "done N NS" when the frame callback of frame N (the last) came;
 * then it keeps the window --hold-ms (default 2000) and exits 0.
 * Exit 1: the compositor is missing or went away; 2: usage.
 *
 * A benchmark tool: it trusts the compositor and its command line.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

#define PROG       "bench-gui-client"
#define FILL       0x336699u
#define STAMP(n)   (0xa50000u | ((uint32_t)(n)&0xffffu))
#define MAX_FRAMES 60000L

static struct {
	struct wl_display *display;
	struct wl_compositor *compositor;
	struct wl_shm *shm;
	struct xdg_wm_base *wm;
	struct wl_surface *surface;
	struct xdg_surface *xs;
	struct xdg_toplevel *tl;
	struct wl_buffer *buffer;
	uint32_t *px;
	int32_t w, h, dw, dh;
	long frames, frame;
	long interval_us, delay_ms, hold_ms;
	bool configured, busy, want, done;
	uint64_t last_commit;
} c = {.w = 1920, .h = 1080, .frames = 100, .hold_ms = 2000};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void frame_done(void *data, struct wl_callback *cb, uint32_t t);
static const struct wl_callback_listener frame_listener = {frame_done};

/* Commit frame c.frame: stamp, damage, frame callback (if more follow). */
static void
commit(void)
{
	struct wl_callback *cb;
	int32_t dw = c.frame == 0 ? c.w : c.dw, dh = c.frame == 0 ? c.h : c.dh;

	c.px[0] = STAMP(c.frame);
	wl_surface_attach(c.surface, c.buffer, 0, 0);
	wl_surface_damage_buffer(c.surface, 0, 0, dw, dh);
	cb = wl_surface_frame(c.surface);
	wl_callback_add_listener(cb, &frame_listener, NULL);
	c.busy = true;
	c.want = false;
	c.last_commit = now_ns();
	wl_surface_commit(c.surface);
	(void)wl_display_flush(c.display);
	(void)printf(
	    "commit %ld %llu\n", c.frame, (unsigned long long)c.last_commit);
}

static void
frame_done(void *data, struct wl_callback *cb, uint32_t t)
{
	(void)data;
	(void)t;
	wl_callback_destroy(cb);
	if (c.frame >= c.frames) {
		(void)printf(
		    "done %ld %llu\n", c.frame, (unsigned long long)now_ns());
		(void)fflush(stdout);
		c.done = true;
		return;
	}
	c.want = true;
}

static void
buffer_release(void *data, struct wl_buffer *b)
{
	(void)data;
	(void)b;
	c.busy = false;
}

static const struct wl_buffer_listener buffer_listener = {buffer_release};

static int
make_buffer(void)
{
	size_t size = (size_t)c.w * (size_t)c.h * 4, i;
	struct wl_shm_pool *pool;
	int fd;

	fd = memfd_create(PROG, MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return -errno;
	c.px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c.px == MAP_FAILED) {
		(void)close(fd);
		return -errno;
	}
	for (i = 0; i < (size_t)c.w * (size_t)c.h; i++)
		c.px[i] = FILL;
	pool = wl_shm_create_pool(c.shm, fd, (int32_t)size);
	c.buffer = wl_shm_pool_create_buffer(
	    pool, 0, c.w, c.h, c.w * 4, WL_SHM_FORMAT_XRGB8888);
	wl_shm_pool_destroy(pool);
	(void)close(fd);
	wl_buffer_add_listener(c.buffer, &buffer_listener, NULL);
	return 0;
}

static void
wm_ping(void *data, struct xdg_wm_base *wm, uint32_t serial)
{
	(void)data;
	xdg_wm_base_pong(wm, serial);
}

static const struct xdg_wm_base_listener wm_listener = {wm_ping};

static void
xs_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	(void)data;
	xdg_surface_ack_configure(xs, serial);
	if (c.configured)
		return;
	c.configured = true;
	(void)printf("ready %dx%d\n", c.w, c.h);
	commit();
}

static const struct xdg_surface_listener xs_listener = {xs_configure};

static void
tl_configure(void *data, struct xdg_toplevel *tl, int32_t w, int32_t h,
    struct wl_array *states)
{
	(void)data;
	(void)tl;
	(void)w;
	(void)h;
	(void)states;
}

static void
tl_close(void *data, struct xdg_toplevel *tl)
{
	(void)data;
	(void)tl;
}

static void
tl_bounds(void *data, struct xdg_toplevel *tl, int32_t w, int32_t h)
{
	(void)data;
	(void)tl;
	(void)w;
	(void)h;
}

static void
tl_caps(void *data, struct xdg_toplevel *tl, struct wl_array *a)
{
	(void)data;
	(void)tl;
	(void)a;
}

static const struct xdg_toplevel_listener tl_listener = {
    .configure = tl_configure,
    .close = tl_close,
    .configure_bounds = tl_bounds,
    .wm_capabilities = tl_caps,
};

static void
reg_global(void *data, struct wl_registry *r, uint32_t name, const char *iface,
    uint32_t version)
{
	(void)data;
	(void)version;
	if (strcmp(iface, wl_compositor_interface.name) == 0)
		c.compositor =
		    wl_registry_bind(r, name, &wl_compositor_interface, 4);
	else if (strcmp(iface, wl_shm_interface.name) == 0)
		c.shm = wl_registry_bind(r, name, &wl_shm_interface, 1);
	else if (strcmp(iface, xdg_wm_base_interface.name) == 0)
		c.wm = wl_registry_bind(r, name, &xdg_wm_base_interface, 1);
}

static void
reg_remove(void *data, struct wl_registry *r, uint32_t name)
{
	(void)data;
	(void)r;
	(void)name;
}

static const struct wl_registry_listener reg_listener = {
    reg_global, reg_remove};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: " PROG " [--size WxH] [--damage WxH] "
	    "[--frames N] [--interval-us U] [--delay-ms MS] "
	    "[--hold-ms MS]\n");
}

/* When the next frame may be committed. */
static uint64_t
next_due(void)
{
	if (c.frame == 0)
		return c.last_commit + (uint64_t)c.delay_ms * 1000000u;
	return c.last_commit + (uint64_t)c.interval_us * 1000u;
}

static int
parse_wh(const char *s, int32_t *ret_w, int32_t *ret_h)
{
	char *end;
	long a, b;

	errno = 0;
	a = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != 'x')
		return -1;
	s = end + 1;
	b = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || a < 1 || b < 1 ||
	    a > 8192 || b > 8192)
		return -1;
	*ret_w = (int32_t)a;
	*ret_h = (int32_t)b;
	return 0;
}

static int
parse_long(const char *s, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < 0 || v > max)
		return -1;
	*ret = v;
	return 0;
}

static int
parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"size", required_argument, NULL, 's'},
	    {"damage", required_argument, NULL, 'd'},
	    {"frames", required_argument, NULL, 'f'},
	    {"interval-us", required_argument, NULL, 'i'},
	    {"delay-ms", required_argument, NULL, 'D'},
	    {"hold-ms", required_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	bool damage = false;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (parse_wh(optarg, &c.w, &c.h) < 0)
				return -1;
			break;
		case 'd':
			if (parse_wh(optarg, &c.dw, &c.dh) < 0)
				return -1;
			damage = true;
			break;
		case 'f':
			if (parse_long(optarg, MAX_FRAMES, &c.frames) < 0)
				return -1;
			break;
		case 'i':
			if (parse_long(optarg, 10000000, &c.interval_us) < 0)
				return -1;
			break;
		case 'D':
			if (parse_long(optarg, 600000, &c.delay_ms) < 0)
				return -1;
			break;
		case 'H':
			if (parse_long(optarg, 600000, &c.hold_ms) < 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (!damage) {
		c.dw = c.w;
		c.dh = c.h;
	}
	if (optind != argc || c.dw > c.w || c.dh > c.h)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct wl_registry *registry;
	struct pollfd pfd;
	uint64_t hold_end = 0;
	int timeout, r;

	if (parse_args(argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	c.display = wl_display_connect(NULL);
	if (c.display == NULL) {
		(void)fprintf(
		    stderr, PROG ": cannot connect to the compositor\n");
		return 1;
	}
	registry = wl_display_get_registry(c.display);
	wl_registry_add_listener(registry, &reg_listener, NULL);
	if (wl_display_roundtrip(c.display) < 0 || c.compositor == NULL ||
	    c.shm == NULL || c.wm == NULL) {
		(void)fprintf(stderr, PROG ": compositor lacks globals\n");
		return 1;
	}
	r = make_buffer();
	if (r < 0) {
		(void)fprintf(stderr, PROG ": buffer: %s\n", strerror(-r));
		return 1;
	}
	xdg_wm_base_add_listener(c.wm, &wm_listener, NULL);
	c.surface = wl_compositor_create_surface(c.compositor);
	c.xs = xdg_wm_base_get_xdg_surface(c.wm, c.surface);
	xdg_surface_add_listener(c.xs, &xs_listener, NULL);
	c.tl = xdg_surface_get_toplevel(c.xs);
	xdg_toplevel_add_listener(c.tl, &tl_listener, NULL);
	xdg_toplevel_set_title(c.tl, "bench");
	wl_surface_commit(c.surface);

	for (;;) {
		uint64_t now = now_ns(), due = next_due();

		if (c.want && !c.busy) {
			if (now >= due) {
				c.frame++;
				commit();
				continue;
			}
		}
		if (c.done && hold_end == 0)
			hold_end = now + (uint64_t)c.hold_ms * 1000000u;
		if (hold_end != 0 && now >= hold_end)
			break;
		(void)fflush(stdout);
		while (wl_display_prepare_read(c.display) != 0)
			if (wl_display_dispatch_pending(c.display) < 0)
				goto out_lost;
		if (wl_display_flush(c.display) < 0 && errno != EAGAIN) {
			wl_display_cancel_read(c.display);
			goto out_lost;
		}
		timeout = -1;
		if (hold_end != 0)
			timeout = (int)((hold_end - now) / 1000000u) + 1;
		else if (c.want && !c.busy)
			timeout = (int)((due - now) / 1000000u);
		pfd = (struct pollfd){wl_display_get_fd(c.display), POLLIN, 0};
		if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
			wl_display_cancel_read(c.display);
			goto out_lost;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			if (wl_display_read_events(c.display) < 0)
				goto out_lost;
		} else {
			wl_display_cancel_read(c.display);
		}
		if (wl_display_dispatch_pending(c.display) < 0)
			goto out_lost;
	}
	(void)fflush(stdout);
	wl_display_disconnect(c.display);
	return 0;

out_lost:
	(void)fflush(stdout);
	(void)fprintf(stderr, PROG ": connection to the compositor lost\n");
	return 1;
}
