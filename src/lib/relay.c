/*
 * relay.c - byte relay between two qubes' halves of a call.
 *
 * Runs on the admin side in a per-call process (qrexec-daemon's call child
 * or qrexec-client -c), as the daemon's unprivileged user.  The bytes are
 * both qubes' and untrusted, but never interpreted here: each qube speaks
 * the data protocol with the other end, exactly as over a direct channel.
 * Memory is bounded by RELAY_BUFFER_SIZE per direction.
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/buffer.h"
#include "lib/relay.h"
#include "lib/util.h"

struct dir {
	int from, to;
	struct buffer buf;
	bool eof;  /* from reached EOF */
	bool done; /* EOF passed on to `to` */
};

static int
dir_read(struct dir *d)
{
	uint8_t *p = buffer_reserve(&d->buf, 65536);
	ssize_t n;

	if (p == NULL)
		return 0;
	do
		n = read(d->from, p, 65536);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		/* EOF, or the sender is gone: either way, nothing more */
		d->eof = true;
		return n < 0 && errno != ECONNRESET ? -errno : 0;
	}
	buffer_commit(&d->buf, (size_t)n);
	return 0;
}

/*
 * Flush towards d->to.  If d->to is gone, this direction is over: its data
 * is dropped, but the other direction goes on (an exit code may still be
 * on its way back).
 */
static void
dir_write(struct dir *d)
{
	long n = buffer_flush(&d->buf, d->to);

	if (n < 0) {
		buffer_consume(&d->buf, buffer_len(&d->buf));
		d->eof = d->done = true;
		(void)shutdown(d->from, SHUT_RD);
		return;
	}
	if (d->eof && !d->done && buffer_len(&d->buf) == 0) {
		(void)shutdown(d->to, SHUT_WR);
		d->done = true;
	}
}

int
relay_run(int a, int b)
{
	struct dir d[2] = {{.from = a, .to = b}, {.from = b, .to = a}};
	int i, r = 0;

	(void)fd_set_nonblock(a, true);
	(void)fd_set_nonblock(b, true);
	for (i = 0; i < 2; i++)
		buffer_init(&d[i].buf, RELAY_BUFFER_SIZE);
	while (!(d[0].done && d[1].done)) {
		struct pollfd p[2] = {{.fd = a}, {.fd = b}};

		for (i = 0; i < 2; i++) {
			struct pollfd *pf = &p[i], *pt = &p[1 - i];

			if (!d[i].eof && buffer_room(&d[i].buf) >= 65536)
				pf->events |= POLLIN;
			if (buffer_len(&d[i].buf) > 0)
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
	for (i = 0; i < 2; i++)
		buffer_free(&d[i].buf);
	return r;
}
