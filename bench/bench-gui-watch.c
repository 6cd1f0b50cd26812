/*
 * bench-gui-watch.c - watches an output of bench/run's gui group (issue
 * #8) for bench-gui-client's stamp pixel: on an X server (polling the
 * root window with 1x1 GetImage) or as a VNC viewer (libvncclient, raw
 * encoding, updates as the server pushes them).
 *
 * usage: bench-gui-watch x11 DISPLAY [--until N] [--poll-us U]
 *                        [--for-ms MS] [--timeout-ms MS]
 *        bench-gui-watch vnc HOST:PORT [--until N] [--for-ms MS]
 *                        [--timeout-ms MS]
 *
 * It first finds the stamp (a pixel 0xa5XXXX with the client's fill
 * 0x336699 to its right), printing "at X Y", then prints "seen N NS" each
 * time the stamp shows a new frame number N (NS: CLOCK_MONOTONIC in
 * nanoseconds when it saw it), until N >= --until or, with --for-ms, MS
 * after it found the stamp (exit 0 either way), or the timeout
 * (default 60000 ms; exit 3).  --poll-us sleeps between X polls (default
 * 0: the next GetImage as soon as the last one answered).
 * Exit 1: cannot connect or the connection broke; 2: usage.
 *
 * A benchmark tool: it trusts the server it watches.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rfb/rfbclient.h>
#include <xcb/xcb.h>

#define PROG         "bench-gui-watch"
#define FILL         0x336699u
#define IS_STAMP(p)  (((p)&0xff0000u) == 0xa50000u)
#define STAMP_NUM(p) ((p)&0xffffu)

static long arg_until = 0, arg_poll_us, arg_for_ms, arg_timeout_ms = 60000;
static uint64_t found_at;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The stamp in a w x h XRGB image: its position, or -1. */
static int
find_stamp(const uint32_t *px, int w, int h, int *ret_x, int *ret_y)
{
	int x, y;

	for (y = 0; y < h; y++)
		for (x = 0; x + 1 < w; x++) {
			const uint32_t *p = px + (size_t)y * (size_t)w + x;

			if (IS_STAMP(p[0] & 0xffffffu) &&
			    (p[1] & 0xffffffu) == FILL) {
				*ret_x = x;
				*ret_y = y;
				return 0;
			}
		}
	return -1;
}

/* Track the stamp value v seen now; true once --until is reached. */
static bool
seen(uint32_t v, long *last)
{
	long n;

	if (!IS_STAMP(v))
		return false;
	n = (long)STAMP_NUM(v);
	if (n != *last) {
		(void)printf(
		    "seen %ld %llu\n", n, (unsigned long long)now_ns());
		*last = n;
	}
	if (arg_for_ms > 0)
		return now_ns() >= found_at + (uint64_t)arg_for_ms * 1000000u;
	return n >= arg_until;
}

static int
watch_x11(const char *display, uint64_t deadline)
{
	xcb_connection_t *conn;
	xcb_screen_t *scr;
	xcb_get_image_reply_t *img;
	int x = -1, y = -1, rc = 3;
	long last = -1;

	conn = xcb_connect(display, NULL);
	if (xcb_connection_has_error(conn)) {
		(void)fprintf(stderr, PROG ": cannot connect to %s\n", display);
		xcb_disconnect(conn);
		return 1;
	}
	scr = xcb_setup_roots_iterator(xcb_get_setup(conn)).data;
	while (x < 0 && now_ns() < deadline) {
		img = xcb_get_image_reply(conn,
		    xcb_get_image(conn, XCB_IMAGE_FORMAT_Z_PIXMAP, scr->root, 0,
		        0, scr->width_in_pixels, scr->height_in_pixels,
		        UINT32_MAX),
		    NULL);
		if (img == NULL) {
			rc = 1;
			goto out;
		}
		if (xcb_get_image_data_length(img) ==
		        (int)scr->width_in_pixels * scr->height_in_pixels * 4 &&
		    find_stamp(
		        (const uint32_t *)(void *)xcb_get_image_data(img),
		        scr->width_in_pixels, scr->height_in_pixels, &x,
		        &y) == 0)
			(void)printf("at %d %d\n", x, y);
		found_at = now_ns();
		free(img);
		if (x < 0)
			(void)usleep(20000);
	}
	while (x >= 0 && now_ns() < deadline) {
		uint32_t v;

		img = xcb_get_image_reply(conn,
		    xcb_get_image(conn, XCB_IMAGE_FORMAT_Z_PIXMAP, scr->root,
		        (int16_t)x, (int16_t)y, 1, 1, UINT32_MAX),
		    NULL);
		if (img == NULL || xcb_get_image_data_length(img) < 4) {
			free(img);
			rc = 1;
			goto out;
		}
		memcpy(&v, xcb_get_image_data(img), sizeof(v));
		free(img);
		if (seen(v & 0xffffffu, &last)) {
			rc = 0;
			break;
		}
		if (arg_poll_us > 0)
			(void)usleep((useconds_t)arg_poll_us);
	}
out:
	if (rc == 3)
		(void)fprintf(stderr, PROG ": timeout; stamp %s, last %ld\n",
		    x < 0 ? "not found" : "found", last);
	xcb_disconnect(conn);
	return rc;
}

static void
quiet(const char *fmt, ...)
{
	(void)fmt;
}

static int
watch_vnc(const char *addr, uint64_t deadline)
{
	rfbClient *cl;
	char *host, *colon;
	int x = -1, y = -1, rc = 3;
	long last = -1;

	host = strdup(addr);
	colon = host != NULL ? strrchr(host, ':') : NULL;
	if (colon == NULL) {
		free(host);
		return 2;
	}
	*colon = '\0';
	rfbClientLog = rfbClientErr = quiet;
	cl = rfbGetClient(8, 3, 4);
	cl->format.redShift = 16;
	cl->format.greenShift = 8;
	cl->format.blueShift = 0;
	free(cl->serverHost);
	cl->serverHost = host;
	cl->serverPort = (int)strtol(colon + 1, NULL, 10);
	cl->appData.encodingsString = "raw";
	if (!rfbInitClient(cl, NULL, NULL)) {
		(void)fprintf(stderr, PROG ": cannot connect to %s\n", addr);
		return 1;
	}
	while (now_ns() < deadline) {
		const uint32_t *fb = (const uint32_t *)(void *)cl->frameBuffer;
		/* A message libvncclient has already read (into cl->buf) would
		 * not wake select(): handle it first, or both ends would wait
		 * (the next update request follows the update handled). */
		int n = cl->buffered > 0 ? 1 : WaitForMessage(cl, 100000);

		if (n < 0 || (n > 0 && !HandleRFBServerMessage(cl))) {
			rc = 1;
			break;
		}
		if (n == 0)
			continue;
		if (x < 0) {
			if (find_stamp(fb, cl->width, cl->height, &x, &y) < 0)
				continue;
			(void)printf("at %d %d\n", x, y);
			found_at = now_ns();
		}
		if (seen(fb[(size_t)y * (size_t)cl->width + (size_t)x] &
		            0xffffffu,
		        &last)) {
			rc = 0;
			break;
		}
	}
	if (rc == 3)
		(void)fprintf(stderr, PROG ": timeout; stamp %s, last %ld\n",
		    x < 0 ? "not found" : "found", last);
	free(cl->frameBuffer);
	cl->frameBuffer = NULL;
	rfbClientCleanup(cl);
	return rc;
}

static int
parse_long(const char *s, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < 0 || v > 100000000)
		return -1;
	*ret = v;
	return 0;
}

int
main(int argc, char **argv)
{
	int i, rc;

	if (argc < 3 ||
	    (strcmp(argv[1], "x11") != 0 && strcmp(argv[1], "vnc") != 0))
		goto usage;
	for (i = 3; i < argc; i += 2) {
		long *dst;

		if (strcmp(argv[i], "--until") == 0)
			dst = &arg_until;
		else if (strcmp(argv[i], "--poll-us") == 0)
			dst = &arg_poll_us;
		else if (strcmp(argv[i], "--for-ms") == 0)
			dst = &arg_for_ms;
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			dst = &arg_timeout_ms;
		else
			goto usage;
		if (i + 1 >= argc || parse_long(argv[i + 1], dst) < 0)
			goto usage;
	}
	if (argv[1][0] == 'x')
		rc = watch_x11(
		    argv[2], now_ns() + (uint64_t)arg_timeout_ms * 1000000u);
	else
		rc = watch_vnc(
		    argv[2], now_ns() + (uint64_t)arg_timeout_ms * 1000000u);
	(void)fflush(stdout);
	return rc;

usage:
	(void)fprintf(stderr,
	    "usage: " PROG " x11 DISPLAY|vnc HOST:PORT [--until N] "
	    "[--poll-us U] [--for-ms MS] [--timeout-ms MS]\n");
	return 2;
}
