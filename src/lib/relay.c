/*
 * relay.c - byte relay between two qubes' halves of a call.
 *
 * Runs on the admin side in a per-call process (qrexec-daemon's call child
 * or qrexec-client -c), as the daemon's unprivileged user.  The bytes are
 * both qubes' and untrusted, but never interpreted here: each qube speaks
 * the data protocol with the other end, exactly as over a direct channel.
 * Memory is bounded by RELAY_BUFFER_SIZE per direction.
 *
 * Each direction moves its bytes with splice(2) through a pipe of that
 * size (the kernel passes pages, no copy through this process), or, where
 * splice does not work for these fds, through a buffer with read/write.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/buffer.h"
#include "lib/relay.h"
#include "lib/util.h"

#define CHUNK 65536

struct dir {
	int from, to;
	bool splice;       /* moving by splice through pipe[] */
	int pipe[2];       /* -1 when not splicing */
	size_t in_pipe;    /* bytes in the pipe */
	struct buffer buf; /* when not splicing */
	bool eof;          /* from reached EOF */
	bool done;         /* EOF passed on to `to` */
};

static size_t
held(const struct dir *d)
{
	return d->splice ? d->in_pipe : buffer_len(&d->buf);
}

static size_t
room(const struct dir *d)
{
	return d->splice ? RELAY_BUFFER_SIZE - d->in_pipe :
	                   buffer_room(&d->buf);
}

/* The sender is done (EOF, or gone): nothing more from it. */
static int
sender_ended(struct dir *d, ssize_t n)
{
	d->eof = true;
	return n < 0 && errno != ECONNRESET ? -errno : 0;
}

static int
dir_read(struct dir *d)
{
	uint8_t *p;
	ssize_t n;

	if (d->splice) {
		do
			n = splice(d->from, NULL, d->pipe[1], NULL, room(d),
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0 && (errno == EINVAL || errno == ENOSYS) &&
		    d->in_pipe == 0) {
			/* not for these fds: the buffer from now on */
			d->splice = false;
			close_fd(&d->pipe[0]);
			close_fd(&d->pipe[1]);
			return dir_read(d);
		}
		if (n <= 0)
			return sender_ended(d, n);
		d->in_pipe += (size_t)n;
		return 0;
	}
	p = buffer_reserve(&d->buf, CHUNK);
	if (p == NULL)
		return 0;
	do
		n = read(d->from, p, CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		return sender_ended(d, n);
	buffer_commit(&d->buf, (size_t)n);
	return 0;
}

/* What is left for a receiver that went away: dropped. */
static void
receiver_gone(struct dir *d)
{
	if (d->splice) {
		uint8_t junk[4096];

		while (d->in_pipe > 0) {
			ssize_t n = read(d->pipe[0], junk,
			    d->in_pipe < sizeof(junk) ? d->in_pipe :
			                                sizeof(junk));

			if (n <= 0)
				break;
			d->in_pipe -= (size_t)n;
		}
		d->in_pipe = 0;
	} else {
		buffer_consume(&d->buf, buffer_len(&d->buf));
	}
	d->eof = d->done = true;
	(void)shutdown(d->from, SHUT_RD);
}

/*
 * Flush towards d->to.  If d->to is gone, this direction is over: its data
 * is dropped, but the other direction goes on (an exit code may still be
 * on its way back).
 */
static void
dir_write(struct dir *d)
{
	if (d->splice) {
		while (d->in_pipe > 0) {
			ssize_t n = splice(d->pipe[0], NULL, d->to, NULL,
			    d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				receiver_gone(d);
				return;
			}
			d->in_pipe -= (size_t)n;
		}
	} else if (buffer_flush(&d->buf, d->to) < 0) {
		receiver_gone(d);
		return;
	}
	if (d->eof && !d->done && held(d) == 0) {
		(void)shutdown(d->to, SHUT_WR);
		d->done = true;
	}
}

static void
dir_init(struct dir *d, int from, int to, bool try_splice)
{
	memset(d, 0, sizeof(*d));
	d->from = from;
	d->to = to;
	d->pipe[0] = d->pipe[1] = -1;
	buffer_init(&d->buf, RELAY_BUFFER_SIZE);
	/* a pipe that holds the whole bound, or no splicing */
	d->splice = try_splice && pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == 0 &&
	    fcntl(d->pipe[0], F_SETPIPE_SZ, (int)RELAY_BUFFER_SIZE) >= 0;
	if (!d->splice) {
		close_fd(&d->pipe[0]);
		close_fd(&d->pipe[1]);
	}
}

int
relay_run_opts(int a, int b, unsigned flags)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
	struct dir d[2];
	int i, r = 0;

	(void)fd_set_nonblock(a, true);
	(void)fd_set_nonblock(b, true);
	dir_init(&d[0], a, b, !(flags & RELAY_NO_SPLICE));
	dir_init(&d[1], b, a, !(flags & RELAY_NO_SPLICE));
	/* splice into a socket whose reader is gone raises SIGPIPE (it has
	 * no MSG_NOSIGNAL): EPIPE is enough */
	(void)sigaction(SIGPIPE, &ign, &old_pipe);
	while (!(d[0].done && d[1].done)) {
		struct pollfd p[2] = {{.fd = a}, {.fd = b}};

		for (i = 0; i < 2; i++) {
			struct pollfd *pf = &p[i], *pt = &p[1 - i];

			if (!d[i].eof && room(&d[i]) >= CHUNK)
				pf->events |= POLLIN;
			if (held(&d[i]) > 0)
				pt->events |= POLLOUT;
		}
		/*
		 * An fd we want nothing from right now is left out: a peer
		 * that hung up would otherwise report POLLHUP forever while
		 * we wait for the other side to drain.
		 */
		for (i = 0; i < 2; i++)
			if (p[i].events == 0)
				p[i].fd = -1;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		for (i = 0; i < 2; i++) {
			if (p[i].events & POLLIN &&
			    p[i].revents & (POLLIN | POLLHUP | POLLERR) &&
			    dir_read(&d[i]) < 0)
				r = -EIO;
		}
		for (i = 0; i < 2; i++)
			dir_write(&d[i]);
	}
	for (i = 0; i < 2; i++) {
		buffer_free(&d[i].buf);
		close_fd(&d[i].pipe[0]);
		close_fd(&d[i].pipe[1]);
	}
	(void)sigaction(SIGPIPE, &old_pipe, NULL);
	return r;
}

int
relay_run(int a, int b)
{
	return relay_run_opts(a, b, 0);
}
