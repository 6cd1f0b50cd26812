/*
 * vnc_demo_server.c - the VNC output with a fake core and two coloured
 * windows, forever (issue #8): for browser (noVNC) tests and a look by
 * hand.  Not a test.
 *
 *   vnc_demo_server --port N [--http-dir DIR] [--ws-port N] [-d]
 *
 * Listens on 127.0.0.1:N (RFB, and RFB over WebSockets on the same
 * port); with --http-dir also serves DIR over HTTP on --ws-port (default
 * N - 100).  Input from viewers is printed on stdout, one line an event,
 * so a test can check it.
 */
#include <sys/mman.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gui/guid/guid.h"
#include "lib/gui_pool.h"
#include "lib/log.h"
#include "vnc_fake_core.h"

#define DEMO_W    1024u
#define DEMO_H    768u
#define POOL_SIZE (4u << 20)

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
fill(
    uint8_t *pool, uint32_t off, uint32_t w, uint32_t h, uint32_t a, uint32_t b)
{
	uint32_t x, y;

	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			uint32_t v = ((x / 16 + y / 16) & 1) ? a : b;

			memcpy(pool + off + ((size_t)y * w + x) * 4u, &v, 4);
		}
}

static const char *const ev_names[FAKE_EV_MAX] = {
    "key", "button", "motion", "crossing", "focus", "configure", "close"};

int
main(int argc, char **argv)
{
	struct gd_output_opts o = {.width = DEMO_W, .height = DEMO_H};
	static struct gd_qube qa, qb;
	const struct gd_output_ops *ops;
	struct gd_window *w;
	struct pollfd pfd[64];
	struct gd *g;
	uint8_t *pool;
	unsigned int seen = 0;
	char err[256];
	int i, fd, n;

	log_init("vnc-demo", 1);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			o.vnc_port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--http-dir") == 0 && i + 1 < argc)
			o.vnc_http_dir = argv[++i];
		else if (strcmp(argv[i], "--ws-port") == 0 && i + 1 < argc)
			o.vnc_ws_port = atoi(argv[++i]);
		else if (strcmp(argv[i], "-d") == 0)
			log_set_level(LOG_LEVEL_DEBUG);
		else {
			(void)fprintf(stderr,
			    "usage: vnc_demo_server --port N [--http-dir DIR] "
			    "[--ws-port N] [-d]\n");
			return 2;
		}
	}
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGINT, on_signal);
	(void)signal(SIGTERM, on_signal);
	if (gui_pool_make(POOL_SIZE, &fd) < 0)
		return 1;
	pool = mmap(NULL, POOL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pool == MAP_FAILED)
		return 1;
	(void)strcpy(qa.name, "work");
	qa.label_rgb = 0xcc0000;
	qa.pool = pool;
	qa.pool_fd = -1;
	(void)strcpy(qb.name, "personal");
	qb.label_rgb = 0x73d216;
	qb.pool = pool;
	qb.pool_fd = -1;

	g = fake_gd_new();
	if (g == NULL)
		return 1;
	if (gd_output_vnc_new(g, &o, &ops, &g->out, err, sizeof(err)) < 0) {
		(void)fprintf(stderr, "vnc_demo_server: %s\n", err);
		return 1;
	}
	g->ops = ops;
	fill(pool, 0, 400, 300, 0x336699, 0xdddddd);
	w = fake_window_new(g, &qa, 100, 100, 400, 300, false, "Document");
	fake_window_buffer(w, 0, 400 * 4, 400, 300);
	ops->window_damage(g->out, w, 0, 0, 400, 300);
	fill(pool, 1u << 20, 360, 260, 0xffcc00, 0x222222);
	w = fake_window_new(g, &qb, 350, 250, 360, 260, false, "Mail");
	fake_window_buffer(w, 1u << 20, 360 * 4, 360, 260);
	ops->window_damage(g->out, w, 0, 0, 360, 260);
	ops->flush(g->out);
	(void)printf("ready %d\n", o.vnc_port);
	(void)fflush(stdout);

	while (!stop) {
		n = ops->fill_pollfds(g->out, pfd, 64);
		if (poll(pfd, (nfds_t)n, 200) < 0 && errno != EINTR)
			break;
		ops->dispatch(g->out);
		for (; seen < g->nev; seen++) {
			const struct fake_ev *e = &g->ev[seen];

			(void)printf("%s gid=%u x=%d y=%d code=%u press=%d "
			             "state=0x%x\n",
			    ev_names[e->type], e->gid, e->x, e->y, e->code,
			    e->press, e->state);
		}
		if (g->nev == FAKE_MAX_EVENTS)
			g->nev = seen = 0;
		(void)fflush(stdout);
	}
	ops->free(g->out);
	fake_gd_free(g);
	return 0;
}
