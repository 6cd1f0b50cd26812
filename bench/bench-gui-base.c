/*
 * bench-gui-base.c - the baselines of bench/run's gui group (issue #8),
 * measured in the same run as the GUI path's figures.
 *
 * usage: bench-gui-base memcpy WxH RWxRH REPS
 *        bench-gui-base memcpy2 WxH RWxRH REPS
 *        bench-gui-base pingpong WxH RWxRH ROUNDS
 *        bench-gui-base vncserver PORT WxH RWxRH
 *
 * memcpy: copies the rectangle (0, 0, RW, RH) of one W x H XRGB buffer
 *   into another of the same size (one memcpy when RW == W, else one per
 *   row, as the GUI agent copies damage), REPS times after REPS / 10 + 1
 *   untimed; prints "ns P50 P10 P90" per copy.
 * memcpy2: the same while a child process copies the same way on buffers
 *   of its own all the time: one copy's time when two run at once, as
 *   the GUI agent's and the X server's do (the two CPUs, and the memory
 *   bandwidth, shared).
 * pingpong: a child process and a unix stream socket pair; per round the
 *   parent sends a 28-byte message (a GUI header and SHMIMAGE), the child
 *   copies the rectangle as memcpy does and answers 28 bytes; prints
 *   "ns P50 P99" of the round trips (ROUNDS after ROUNDS / 10 + 1 untimed).
 * vncserver: a minimal libvncserver (raw pixels, deferUpdateTime 0, as
 *   bulkhead-guid's VNC output) with a W x H framebuffer: a window of
 *   bench-gui-client's pixels at (40, 60), whose top-left RW x RH
 *   rectangle it rewrites from memory, with the next stamp, and marks
 *   modified in every turn of its loop; prints "listening" and runs until
 *   killed.
 * Exit 1: a system call failed; 2: usage.  Its input is its command line.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rfb/rfb.h>

#define PROG     "bench-gui-base"
#define FILL     0x336699u
#define STAMP(n) (0xa50000u | ((uint32_t)(n)&0xffffu))
#define MSG_LEN  28
#define WIN_X    40
#define WIN_Y    60

static int w, h, rw, rh;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t
pct(const uint64_t *v, long n, int p)
{
	return v[(n - 1) * p / 100];
}

static int
parse_wh(const char *s, int *ret_w, int *ret_h)
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
	*ret_w = (int)a;
	*ret_h = (int)b;
	return 0;
}

static long
parse_count(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < 1 || v > 10000000)
		return -1;
	return v;
}

static uint32_t *
frame_new(void)
{
	uint32_t *p = calloc((size_t)w * (size_t)h, sizeof(*p));
	size_t i;

	if (p == NULL) {
		perror(PROG ": calloc");
		exit(1);
	}
	for (i = 0; i < (size_t)w * (size_t)h; i++)
		p[i] = FILL;
	return p;
}

static void
copy_rect(uint32_t *dst, const uint32_t *src)
{
	int row;

	if (rw == w) {
		memcpy(dst, src, (size_t)w * (size_t)rh * 4);
		return;
	}
	for (row = 0; row < rh; row++)
		memcpy(dst + (size_t)row * (size_t)w,
		    src + (size_t)row * (size_t)w, (size_t)rw * 4);
}

static int
run_memcpy(long reps, int parallel)
{
	uint32_t *src, *dst;
	uint64_t *t = calloc((size_t)reps, sizeof(*t));
	long i, warm = reps / 10 + 1;
	pid_t pid = -1;
	int status;

	if (t == NULL)
		return 1;
	src = frame_new();
	dst = frame_new();
	if (parallel) {
		/* the second copy, on buffers of its own, until killed */
		pid = fork();
		if (pid < 0) {
			perror(PROG ": fork");
			free(t);
			free(src);
			free(dst);
			return 1;
		}
		if (pid == 0) {
			uint32_t *s2 = frame_new(), *d2 = frame_new();

			for (i = 0;; i++) {
				s2[0] = STAMP(i);
				copy_rect(d2, s2);
			}
		}
	}
	for (i = -warm; i < reps; i++) {
		uint64_t t0;

		src[0] = STAMP(i);
		t0 = now_ns();
		copy_rect(dst, src);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	if (pid > 0) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
	}
	qsort(t, (size_t)reps, sizeof(*t), cmp_u64);
	/* dst is read, so that the copies are not optimised away */
	(void)printf("ns %llu %llu %llu %x\n",
	    (unsigned long long)pct(t, reps, 50),
	    (unsigned long long)pct(t, reps, 10),
	    (unsigned long long)pct(t, reps, 90), dst[0] & 0xff);
	free(t);
	free(src);
	free(dst);
	return 0;
}

static int
io_full(int fd, void *buf, size_t len, int write_it)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write_it ?
		    write(fd, (char *)buf + done, len - done) :
		    read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int
run_pingpong(long rounds)
{
	uint8_t msg[MSG_LEN] = {136};
	uint64_t *t = calloc((size_t)rounds, sizeof(*t));
	long i, warm = rounds / 10 + 1;
	int sv[2], status;
	pid_t pid;

	if (t == NULL)
		return 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror(PROG ": socketpair");
		free(t);
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror(PROG ": fork");
		free(t);
		return 1;
	}
	if (pid == 0) {
		uint32_t *src = frame_new(), *dst = frame_new();

		(void)close(sv[0]);
		while (io_full(sv[1], msg, sizeof(msg), 0) == 0) {
			copy_rect(dst, src);
			msg[4] = (uint8_t)dst[0];
			if (io_full(sv[1], msg, sizeof(msg), 1) < 0)
				_exit(1);
		}
		_exit(0);
	}
	(void)close(sv[1]);
	for (i = -warm; i < rounds; i++) {
		uint64_t t0 = now_ns();

		if (io_full(sv[0], msg, sizeof(msg), 1) < 0 ||
		    io_full(sv[0], msg, sizeof(msg), 0) < 0) {
			(void)fprintf(stderr, PROG ": pingpong peer gone\n");
			free(t);
			return 1;
		}
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	(void)close(sv[0]);
	(void)waitpid(pid, &status, 0);
	qsort(t, (size_t)rounds, sizeof(*t), cmp_u64);
	(void)printf("ns %llu %llu\n", (unsigned long long)pct(t, rounds, 50),
	    (unsigned long long)pct(t, rounds, 99));
	free(t);
	return 0;
}

static void
quiet(const char *fmt, ...)
{
	(void)fmt;
}

static int
run_vncserver(int port)
{
	uint32_t *fb, *src;
	rfbScreenInfoPtr s;
	int argc = 1, x, y;
	char *argv[] = {PROG, NULL};
	uint32_t n = 0;

	if (WIN_X + rw > w || WIN_Y + rh > h)
		return 2;
	fb = calloc((size_t)w * (size_t)h, sizeof(*fb));
	if (fb == NULL)
		return 1;
	/* the client's buffer: its fill, copied from with the screen's
	 * stride, so that copy_rect serves */
	src = frame_new();
	for (y = WIN_Y; y < h; y++)
		for (x = WIN_X; x < w; x++)
			fb[(size_t)y * (size_t)w + (size_t)x] = FILL;
	rfbLog = rfbErr = quiet;
	s = rfbGetScreen(&argc, argv, w, h, 8, 3, 4);
	if (s == NULL)
		goto out_free;
	s->frameBuffer = (char *)fb;
	s->serverFormat.redShift = 16;
	s->serverFormat.greenShift = 8;
	s->serverFormat.blueShift = 0;
	s->autoPort = FALSE;
	s->port = port;
	s->ipv6port = 0;
	s->listenInterface = htonl(INADDR_LOOPBACK);
	s->deferUpdateTime = 0;
	s->alwaysShared = TRUE;
	s->cursor = NULL;
	rfbInitServer(s);
	if (s->listenSock == RFB_INVALID_SOCKET) {
		(void)fprintf(stderr, PROG ": cannot listen on %d\n", port);
		rfbScreenCleanup(s);
		goto out_free;
	}
	(void)printf("listening\n");
	(void)fflush(stdout);
	for (;;) {
		src[0] = STAMP(n++);
		copy_rect(fb + (size_t)WIN_Y * (size_t)w + WIN_X, src);
		rfbMarkRectAsModified(s, WIN_X, WIN_Y, WIN_X + rw, WIN_Y + rh);
		(void)rfbProcessEvents(s, 0);
	}
out_free:
	free(src);
	free(fb);
	return 1;
}

int
main(int argc, char **argv)
{
	long n;

	if (argc == 5 && strcmp(argv[1], "vncserver") == 0) {
		n = parse_count(argv[2]);
		if (n < 1 || n > 65535 || parse_wh(argv[3], &w, &h) < 0 ||
		    parse_wh(argv[4], &rw, &rh) < 0)
			goto usage;
		/* the window's stride is the screen's here */
		return run_vncserver((int)n);
	}
	if (argc != 5 || parse_wh(argv[2], &w, &h) < 0 ||
	    parse_wh(argv[3], &rw, &rh) < 0 || rw > w || rh > h)
		goto usage;
	n = parse_count(argv[4]);
	if (n < 1)
		goto usage;
	if (strcmp(argv[1], "memcpy") == 0)
		return run_memcpy(n, 0);
	if (strcmp(argv[1], "memcpy2") == 0)
		return run_memcpy(n, 1);
	if (strcmp(argv[1], "pingpong") == 0) {
		(void)signal(SIGPIPE, SIG_IGN);
		return run_pingpong(n);
	}
usage:
	(void)fprintf(stderr,
	    "usage: " PROG " memcpy|memcpy2|pingpong WxH RWxRH N\n"
	    "       " PROG " vncserver PORT WxH RWxRH\n");
	return 2;
}
