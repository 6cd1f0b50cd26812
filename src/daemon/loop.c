/*
 * loop.c - bulkheadd's event loop (main process).  No peer data here.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/loop.h"
#include "lib/util.h"

void
loop_init(struct loop *l)
{
	memset(l, 0, sizeof(*l));
}

void
loop_free(struct loop *l)
{
	free(l->w);
	free(l->t);
	memset(l, 0, sizeof(*l));
}

int
loop_add(struct loop *l, int fd, short events, loop_fd_cb cb, void *arg)
{
	if (l->nw == l->capw) {
		size_t cap = l->capw ? l->capw * 2 : 16;
		struct loop_watch *nw = reallocarray(l->w, cap, sizeof(*nw));

		if (nw == NULL)
			return -ENOMEM;
		l->w = nw;
		l->capw = cap;
	}
	l->w[l->nw++] = (struct loop_watch){
	    .fd = fd, .events = events, .cb = cb, .arg = arg};
	return 0;
}

void
loop_set_events(struct loop *l, int fd, short events)
{
	size_t i;

	for (i = 0; i < l->nw; i++)
		if (l->w[i].fd == fd && !l->w[i].dead)
			l->w[i].events = events;
}

void
loop_del(struct loop *l, int fd)
{
	size_t i;

	for (i = 0; i < l->nw; i++)
		if (l->w[i].fd == fd)
			l->w[i].dead = true;
}

uint64_t
loop_timer_add(struct loop *l, uint64_t ms, loop_timer_cb cb, void *arg)
{
	if (l->nt == l->capt) {
		size_t cap = l->capt ? l->capt * 2 : 16;
		struct loop_timer *nt = reallocarray(l->t, cap, sizeof(*nt));

		if (nt == NULL)
			return 0;
		l->t = nt;
		l->capt = cap;
	}
	l->t[l->nt++] = (struct loop_timer){.id = ++l->next_timer_id,
	    .deadline_ms = now_ms() + ms,
	    .cb = cb,
	    .arg = arg};
	return l->next_timer_id;
}

void
loop_timer_cancel(struct loop *l, uint64_t id)
{
	size_t i;

	for (i = 0; i < l->nt; i++)
		if (l->t[i].id == id) {
			l->t[i] = l->t[--l->nt];
			return;
		}
}

void
loop_quit(struct loop *l)
{
	l->quit = true;
}

static void
compact(struct loop *l)
{
	size_t i, j = 0;

	for (i = 0; i < l->nw; i++)
		if (!l->w[i].dead)
			l->w[j++] = l->w[i];
	l->nw = j;
}

int
loop_run(struct loop *l)
{
	struct pollfd *p = NULL;
	size_t capp = 0;

	while (!l->quit) {
		uint64_t now, soonest = UINT64_MAX;
		size_t i, n;
		int timeout, r;

		compact(l);
		if (capp < l->nw) {
			struct pollfd *np =
			    reallocarray(p, l->nw + 16, sizeof(*np));

			if (np == NULL) {
				free(p);
				return -ENOMEM;
			}
			p = np;
			capp = l->nw + 16;
		}
		n = l->nw;
		for (i = 0; i < n; i++)
			p[i] = (struct pollfd){
			    .fd = l->w[i].fd, .events = l->w[i].events};
		for (i = 0; i < l->nt; i++)
			if (l->t[i].deadline_ms < soonest)
				soonest = l->t[i].deadline_ms;
		now = now_ms();
		timeout = soonest == UINT64_MAX ? -1 :
		    soonest <= now              ? 0 :
		                                  (int)(soonest - now);
		r = poll(p, (nfds_t)n, timeout);
		if (r < 0 && errno != EINTR) {
			free(p);
			return -errno;
		}
		/* timers first: they may time out what the fds would do */
		now = now_ms();
		for (i = 0; i < l->nt;) {
			if (l->t[i].deadline_ms <= now) {
				struct loop_timer t = l->t[i];

				l->t[i] = l->t[--l->nt];
				t.cb(t.arg);
				continue;
			}
			i++;
		}
		if (r <= 0)
			continue;
		for (i = 0; i < n && !l->quit; i++) {
			if (p[i].revents == 0)
				continue;
			/* watches may have been removed or added meanwhile */
			if (i < l->nw && !l->w[i].dead && l->w[i].fd == p[i].fd)
				l->w[i].cb(l->w[i].arg, p[i].fd, p[i].revents);
		}
	}
	free(p);
	return 0;
}
