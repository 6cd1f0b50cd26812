/*
 * flusher.c - a helper process of qfile-unpacker that writes the incoming
 * files to disk while the stream still comes.
 *
 * The unpacker confirms a transfer only after syncfs(2) of the target's
 * filesystem (as Qubes' unpacker does: qvm-move deletes its source on
 * that confirmation).  For many small files that syncfs was ~0.1 s of a
 * ~0.35 s copy of 10,000 files: the kernel starts writing dirty pages
 * only after 30 s or when there are many.  A syncfs in another process
 * every few thousand files lets the disk work while the unpacker goes
 * on; the final one then finds little left (measured: 0.08 s -> 0.01 s).
 * A large file needs none of this (unpack.c starts its writeback every
 * 8 MiB).
 *
 * The helper holds no part of the stream: only the directory's fd and
 * its end of a socket, and it can make no call but read, write and
 * syncfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "filecopy/flusher.h"
#include "lib/seccomp_util.h"
#include "lib/util.h"

/* ask for a syncfs after this many files, or this many bytes, since the
 * last one (2000 files of 1-4 KiB: ~5 MiB) */
#define FLUSH_FILES 2000u
#define FLUSH_BYTES (16u << 20)

static const char *const helper_allowed[] = {
    "read", "write", "syncfs", "exit", "exit_group", "rt_sigreturn"};

/* The child: one syncfs each byte read, a byte back after it. */
static void __attribute__((noreturn)) helper_main(int sock, int dirfd)
{
	char b;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    seccomp_util_allow_only(
	        helper_allowed, ARRAY_SIZE(helper_allowed)) < 0)
		_exit(1);
	for (;;) {
		ssize_t n = read(sock, &b, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		(void)syncfs(dirfd);
		if (write(sock, &b, 1) != 1)
			_exit(0);
	}
}

int
flusher_start(struct flusher *f, int dirfd)
{
	int sv[2];
	pid_t pid;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		(void)close(sv[0]);
		(void)close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		int keep_lo, keep_hi, e;

		/*
		 * Nothing but the directory and our socket: above all not the
		 * stream (fds 0 and 1), whose end the peers wait for.
		 */
		(void)close(sv[0]);
		keep_lo = sv[1] < dirfd ? sv[1] : dirfd;
		keep_hi = sv[1] < dirfd ? dirfd : sv[1];
		e = keep_lo > 0 ? close_range(0, (unsigned)keep_lo - 1, 0) : 0;
		if (e == 0 && keep_hi > keep_lo + 1)
			e = close_range(
			    (unsigned)keep_lo + 1, (unsigned)keep_hi - 1, 0);
		if (e == 0)
			e = close_range((unsigned)keep_hi + 1, ~0u, 0);
		if (e < 0)
			_exit(1);
		helper_main(sv[1], dirfd);
	}
	(void)close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;

		(void)close(sv[0]);
		return -e;
	}
	f->fd = sv[0];
	return 0;
}

void
flusher_note(struct flusher *f, uint64_t bytes)
{
	char b = 0;

	if (f->fd < 0)
		return;
	f->files++;
	f->bytes += bytes;
	if (f->files < FLUSH_FILES && f->bytes < FLUSH_BYTES)
		return;
	if (f->busy) {
		ssize_t n = read(f->fd, &b, 1);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			/* it went: go on without it */
			(void)close(f->fd);
			f->fd = -1;
			return;
		}
		if (n < 0)
			return; /* still at it: ask again at the next file */
		f->busy = false;
	}
	if (write(f->fd, &b, 1) == 1) {
		f->busy = true;
		f->files = f->bytes = 0;
	}
}

void
flusher_stop(struct flusher *f)
{
	if (f->fd >= 0)
		(void)close(f->fd);
	f->fd = -1;
}
