/*
 * fuzz_vmux.c - the host side of bulkhead-vmux against a hostile guest:
 * arbitrary bytes arrive on its stream, in pieces, and go through the
 * engine the program runs (vmux.c: the frame reader, each type's
 * validator, the phase and channel checks, credit, mirrors, channels).
 *
 * Input: the guest's byte stream, written to the engine's stream socket
 * in pieces of 211 bytes while the engine's poll loop runs (poll with a
 * zero timeout).  The directory (a temp dir made once; the working
 * directory while an input runs, as the engine wants, and the old one
 * again after it, for libFuzzer's relative paths) holds one real
 * listener, vchan.1.0.512.sock, that
 * the engine announces and that OPEN can reach; its connections are
 * taken and closed after each input.
 *
 * Invariants beyond "no crash": the engine ends only with VMUX_END
 * (never here: the stream stays open), -EPROTO with a message that says
 * "protocol violation", or not at all; its queue to the guest stays under
 * VMUX_OUT_LIMIT; and once it is freed, the directory holds the real
 * listener and nothing else (every mirror and temporary name removed).
 */
#include <dirent.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fuzz.h"
#include "vm/vmux.h"

#define REAL_NAME "vchan.1.0.512.sock"
#define PIECE     211u

static int real_fd = -1, dir_fd = -1, old_cwd_fd = -1;
static char dir[] = "/tmp/fuzz_vmux.XXXXXX";

/* The temp dir goes with the process (a replay run, a fuzzing run). */
static void
cleanup(void)
{
	(void)unlinkat(dir_fd, REAL_NAME, 0);
	(void)rmdir(dir);
}

static void
setup_once(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	fuzz_init_once();
	if (real_fd >= 0)
		return;
	old_cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (old_cwd_fd < 0 || mkdtemp(dir) == NULL ||
	    (dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fchdir(dir_fd) < 0)
		abort();
	(void)atexit(cleanup);
	memcpy(sa.sun_path, REAL_NAME, sizeof(REAL_NAME));
	real_fd =
	    socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (real_fd < 0 ||
	    bind(real_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(real_fd, 1024) < 0)
		abort();
}

/* Entries of the directory other than the real listener. */
static int
stray_entries(void)
{
	struct dirent *de;
	DIR *d = opendir(".");
	int n = 0;

	if (d == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, REAL_NAME) != 0) {
			(void)fprintf(stderr, "left behind: %s\n", de->d_name);
			n++;
		}
	(void)closedir(d);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pollfd pfd[VMUX_MAX_POLLFDS];
	struct vmux_config cfg = {
	    .side = VMUX_SIDE_HOST,
	    .qube = "fuzz",
	    .mirror_mode = 0600,
	};
	struct vmux *v;
	size_t off = 0;
	int sv[2], r = 0, idle = 0, fd;

	setup_once();
	if (fchdir(dir_fd) < 0)
		abort();
	if (socketpair(
	        AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	v = vmux_new(&cfg, sv[0]);
	if (v == NULL || vmux_start(v) < 0)
		abort();
	/* until the input is in and the engine has nothing more to do */
	while (idle < 4) {
		uint8_t sink[65536];
		size_t n;
		bool moved = false;

		if (off < size) {
			ssize_t w = send(sv[1], data + off,
			    size - off < PIECE ? size - off : PIECE,
			    MSG_NOSIGNAL);

			if (w > 0) {
				off += (size_t)w;
				moved = true;
			}
		}
		/* the guest reads everything: what we test is our input */
		while (recv(sv[1], sink, sizeof(sink), 0) > 0)
			moved = true;
		n = vmux_pollfds(v, pfd);
		if (poll(pfd, n, 0) > 0) {
			moved = true;
			r = vmux_dispatch(v, pfd, n);
			if (r != 0)
				break;
		}
		FUZZ_CHECK(vmux_output_pending(v) <= VMUX_OUT_LIMIT);
		idle = moved ? 0 : idle + 1;
	}
	FUZZ_CHECK(r == 0 || r == -EPROTO);
	if (r == -EPROTO)
		FUZZ_CHECK(strstr(vmux_error(v), "protocol violation") != NULL);
	vmux_free(v);
	FUZZ_CHECK(stray_entries() == 0);
	(void)close(sv[0]);
	(void)close(sv[1]);
	/* the engine's connections to the real listener */
	while ((fd = accept4(real_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		(void)close(fd);
	if (fchdir(old_cwd_fd) < 0)
		abort();
	return 0;
}
