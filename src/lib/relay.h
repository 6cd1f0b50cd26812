/*
 * relay.h - copy bytes both ways between two connected sockets until both
 * directions have ended, propagating each EOF as a shutdown.  The admin
 * side uses it to join the two halves of a call between qubes that have
 * no channel to each other (per-qube socket directories, VM qubes).
 */
#ifndef BULKHEAD_RELAY_H
#define BULKHEAD_RELAY_H

#include <stddef.h>

/* Per direction, the most bytes held while the receiver is slow. */
#define RELAY_BUFFER_SIZE (256u * 1024u)

/*
 * Relay between a and b.  Returns 0 when both directions ended cleanly,
 * -errno on an error (the other side then sees its connection close).
 * Closes neither fd.
 */
int relay_run(int a, int b);

/* relay_run, with RELAY_NO_SPLICE: always through a buffer (tests). */
#define RELAY_NO_SPLICE 1u
int relay_run_opts(int a, int b, unsigned flags);

#endif
