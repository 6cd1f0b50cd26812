/*
 * vnc_probe.c - a scripted VNC viewer for the GUI tests (issue #8):
 * connects to bulkhead-guid's VNC output and runs its actions in order,
 * keeping the framebuffer up to date in between.
 *
 *   vnc_probe HOST:PORT ACTION...
 *     snap:FILE              write the framebuffer as a binary PPM
 *     wait:X,Y,RRGGBB[,MS]   until that pixel has that colour (exit 3 at
 *                            the timeout, default 10000 ms)
 *     click:X,Y              move there, press and release button 1
 *     move:X,Y               move the pointer there
 *     press:KEYSYM / release:KEYSYM   a key (keysym in hex, e.g. 61 'a',
 *                            ffe3 Control_L, ffe1 Shift_L)
 *     sleep:MS               keep updating for MS milliseconds
 *
 * Exit: 0 all actions done, 1 connection failure, 2 usage, 3 a wait timed
 * out.  A test tool: it trusts the server it is pointed at.
 */
#include <rfb/rfbclient.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
quiet(const char *fmt, ...)
{
	(void)fmt;
}

static uint64_t
ms_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Handle what the server sent for up to ms milliseconds. */
static int
pump(rfbClient *cl, int ms)
{
	uint64_t end = ms_now() + (uint64_t)ms;

	do {
		int left = (int)(end - ms_now());
		int n =
		    WaitForMessage(cl, (unsigned)(left > 0 ? left : 0) * 1000);

		if (n < 0)
			return -1;
		if (n > 0 && !HandleRFBServerMessage(cl))
			return -1;
	} while (ms_now() < end);
	return 0;
}

static uint32_t
pixel(rfbClient *cl, int x, int y)
{
	const uint32_t *fb = (const uint32_t *)(void *)cl->frameBuffer;

	return fb[(size_t)y * (size_t)cl->width + (size_t)x] & 0xffffff;
}

static int
snap(rfbClient *cl, const char *path)
{
	FILE *f = fopen(path, "wb");
	int x, y;

	if (f == NULL)
		return -1;
	(void)fprintf(f, "P6\n%d %d\n255\n", cl->width, cl->height);
	for (y = 0; y < cl->height; y++)
		for (x = 0; x < cl->width; x++) {
			uint32_t p = pixel(cl, x, y);
			unsigned char rgb[3] = {(unsigned char)(p >> 16),
			    (unsigned char)(p >> 8), (unsigned char)p};

			(void)fwrite(rgb, 1, 3, f);
		}
	return fclose(f);
}

int
main(int argc, char **argv)
{
	rfbClient *cl;
	char *host, *colon;
	int i, x, y, ms;
	unsigned rgb, sym;

	if (argc < 2) {
		(void)fprintf(stderr, "usage: vnc_probe HOST:PORT ACTION...\n");
		return 2;
	}
	host = strdup(argv[1]);
	colon = host != NULL ? strrchr(host, ':') : NULL;
	if (colon == NULL)
		return 2;
	*colon = '\0';
	rfbClientLog = rfbClientErr = quiet;
	cl = rfbGetClient(8, 3, 4);
	cl->format.redShift = 16;
	cl->format.greenShift = 8;
	cl->format.blueShift = 0;
	free(cl->serverHost);
	cl->serverHost = host;
	cl->serverPort = atoi(colon + 1);
	cl->appData.encodingsString = "raw";
	if (!rfbInitClient(cl, NULL, NULL)) {
		(void)fprintf(
		    stderr, "vnc_probe: cannot connect to %s\n", argv[1]);
		return 1;
	}
	if (pump(cl, 300) < 0)
		return 1;
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "snap:", 5) == 0) {
			if (pump(cl, 100) < 0 || snap(cl, a + 5) < 0)
				return 1;
		} else if (sscanf(a, "wait:%d,%d,%x,%d", &x, &y, &rgb, &ms) >=
		    3) {
			uint64_t end;

			if (sscanf(a, "wait:%d,%d,%x,%d", &x, &y, &rgb, &ms) !=
			    4)
				ms = 10000;
			end = ms_now() + (uint64_t)ms;
			if (x < 0 || y < 0 || x >= cl->width || y >= cl->height)
				return 2;
			while (pixel(cl, x, y) != rgb) {
				if (ms_now() >= end) {
					(void)fprintf(stderr,
					    "vnc_probe: %s: pixel is %06x\n", a,
					    pixel(cl, x, y));
					return 3;
				}
				if (pump(cl, 50) < 0)
					return 1;
			}
		} else if (sscanf(a, "click:%d,%d", &x, &y) == 2) {
			if (!SendPointerEvent(cl, x, y, 0) ||
			    !SendPointerEvent(cl, x, y, rfbButton1Mask) ||
			    !SendPointerEvent(cl, x, y, 0) || pump(cl, 50) < 0)
				return 1;
		} else if (sscanf(a, "move:%d,%d", &x, &y) == 2) {
			if (!SendPointerEvent(cl, x, y, 0) || pump(cl, 20) < 0)
				return 1;
		} else if (sscanf(a, "press:%x", &sym) == 1) {
			if (!SendKeyEvent(cl, sym, TRUE) || pump(cl, 20) < 0)
				return 1;
		} else if (sscanf(a, "release:%x", &sym) == 1) {
			if (!SendKeyEvent(cl, sym, FALSE) || pump(cl, 20) < 0)
				return 1;
		} else if (sscanf(a, "sleep:%d", &ms) == 1) {
			if (pump(cl, ms) < 0)
				return 1;
		} else {
			(void)fprintf(stderr, "vnc_probe: bad action %s\n", a);
			return 2;
		}
	}
	free(cl->frameBuffer);
	cl->frameBuffer = NULL;
	rfbClientCleanup(cl);
	return 0;
}
