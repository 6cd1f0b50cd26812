/*
 * loop.h - a small poll(2) event loop: fd watches and one-shot timers.
 */
#ifndef BULKHEAD_LOOP_H
#define BULKHEAD_LOOP_H

#include <stdbool.h>
#include <poll.h>
#include <stdint.h>

typedef void (*loop_fd_cb)(void *arg, int fd, short revents);
typedef void (*loop_timer_cb)(void *arg);

struct loop_watch {
	int fd;
	short events;
	loop_fd_cb cb;
	void *arg;
	bool dead;
};

struct loop_timer {
	uint64_t id;
	uint64_t deadline_ms;
	loop_timer_cb cb;
	void *arg;
};

struct loop {
	struct loop_watch *w;
	size_t nw, capw;
	struct loop_timer *t;
	size_t nt, capt;
	uint64_t next_timer_id;
	bool quit;
};

void loop_init(struct loop *l);
void loop_free(struct loop *l);
/* Watch fd for events (POLLIN/POLLOUT); 0 or -ENOMEM. */
int loop_add(struct loop *l, int fd, short events, loop_fd_cb cb, void *arg);
void loop_set_events(struct loop *l, int fd, short events);
/* Stop watching fd (safe from inside a callback). */
void loop_del(struct loop *l, int fd);
/* Call cb once after ms milliseconds; returns a timer id (> 0) or 0. */
uint64_t
loop_timer_add(struct loop *l, uint64_t ms, loop_timer_cb cb, void *arg);
void loop_timer_cancel(struct loop *l, uint64_t id);
/* Run until loop_quit() or an unrecoverable poll error (-errno). */
int loop_run(struct loop *l);
void loop_quit(struct loop *l);

#endif
