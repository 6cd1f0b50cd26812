/*
 * vcheck.h - the per-qube validator's stateful checks (vcheck.c), apart
 * from its sockets and sandbox so that tests and fuzzers can drive them:
 * untrusted bytes (and at most one fd) in, valid messages out through
 * callbacks, or a violation with its reason.
 */
#ifndef BULKHEAD_GUID_VCHECK_H
#define BULKHEAD_GUID_VCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/proto/gui.h"

struct gd_vcheck;

struct gd_vcheck_ops {
	/*
	 * A valid message for the core: m as checked (possibly adjusted:
	 * damage clipped, override-redirect or fullscreen dropped), body
	 * and len its wire body.  fd is the checked pool fd with POOL
	 * (borrowed: send or dup it before returning), else -1.  0, or a
	 * negative errno (the core is not reading: a violation).
	 */
	int (*to_core)(void *ctx, const struct gui_msg *m, const void *body,
	    size_t len, int fd);
	/*
	 * Bytes for the qube: a framed message of type with body, or with
	 * type 0 bare bytes (the handshake's answer).  0, or a negative
	 * errno (the queue is full: the agent is not reading).
	 */
	int (*to_qube)(void *ctx, uint32_t type, uint32_t window,
	    const void *body, size_t len);
};

struct gd_vcheck_opts {
	uint32_t clipboard_limit; /* GUI_CLIPBOARD_MIN..MAX */
	bool allow_utf8_titles;
};

/* A checker for one qube's stream.  0 and *ret, -EINVAL or -ENOMEM.
 * ops and ctx are kept; free with gd_vcheck_free (NULL is fine). */
int gd_vcheck_new(const struct gd_vcheck_opts *o,
    const struct gd_vcheck_ops *ops, void *ctx, struct gd_vcheck **ret);
void gd_vcheck_free(struct gd_vcheck *v);

/* The screen (the core's xconf, trusted): answered in the handshake and
 * the base of the override-redirect rule. */
/*
 * The pool is the admin side's (a VM qube's ivshmem memfd): checked as a
 * POOL's fd would be, passed to the core with a POOL, and from then on
 * the qube may send neither POOL nor any fd.  fd is borrowed.  Call once,
 * before the first gd_vcheck_feed.  0 or -EPROTO (a violation).
 */
int gd_vcheck_give_pool(struct gd_vcheck *v, int fd);
void gd_vcheck_set_xconf(struct gd_vcheck *v, const struct gui_xconf *x);
/* Whether the xconf is known (the qube is read only then). */
bool gd_vcheck_ready(const struct gd_vcheck *v);

/*
 * Take untrusted bytes of the qube's stream and fd (taken; -1 for none)
 * received with them, at now_ms (CLOCK_MONOTONIC ms, for the rate).
 * Every complete message is checked and handed on.  Returns 0 to go on,
 * -EPIPE when the agent ended the connection with an ERROR, or -EPROTO
 * on a violation (sticky; gd_vcheck_violation says why).
 */
int gd_vcheck_feed(struct gd_vcheck *v, const void *untrusted_data, size_t len,
    int fd, uint64_t now_ms);

/*
 * A message from the core (validated by the caller's reader), before it
 * is passed to the qube: 1 to pass it on, 0 to drop it (handshake words,
 * DESTROY acknowledged already, input for a window that is gone, before
 * the handshake), -EPIPE for an ERROR (pass it on, then end).
 */
int gd_vcheck_from_core(struct gd_vcheck *v, const struct gui_msg *m);

/* Record a violation found by the caller (the first one is kept);
 * returns -EPROTO. */
int gd_vcheck_fail(
    struct gd_vcheck *v, uint32_t code, uint32_t window, const char *why);

/* The violation's reason (with *ret_code and *ret_window), or NULL. */
const char *gd_vcheck_violation(
    const struct gd_vcheck *v, uint32_t *ret_code, uint32_t *ret_window);

#endif
