/*
 * vmux.h - bulkhead-vmux's engine: a VM qube's vchan directory mirrored
 * over its one virtio-serial byte stream (docs/protocol/vmux.md).
 *
 * One engine runs on each side of the stream: on the host (as the qube's
 * uid, in the qube's vchan directory, where the guest's bytes are hostile)
 * and in the guest (as its root).  A listener that appears in one side's
 * directory is announced (LISTEN) and mirrored by a listener of the same
 * name on the other side; a connection to a mirror is carried over the
 * stream to the real listener (OPEN) and its bytes both ways with credit
 * flow control, half-close kept.
 *
 * The engine works in the current directory: its caller chdir()s into the
 * vchan directory first, so that every name it uses is a validated
 * relative name, never a path.  It never exits and never blocks; its
 * caller runs the poll loop (vmux_pollfds / vmux_dispatch), so that
 * tests and the fuzz target drive exactly the code the program runs.
 */
#ifndef BULKHEAD_VM_VMUX_H
#define BULKHEAD_VM_VMUX_H

#include <sys/types.h>

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/proto/vmux.h"

enum vmux_side {
	VMUX_SIDE_HOST,
	VMUX_SIDE_GUEST,
	VMUX_SIDE_MAX
};

struct vmux_config {
	enum vmux_side side;
	const char *qube;   /* for log lines; NULL: none */
	mode_t mirror_mode; /* the mirrors' mode (host 0600, guest 0666) */
	pid_t shutdown_pid; /* guest: who gets SIGTERM on SHUTDOWN */
	bool verbose;       /* debug lines on stderr */
};

/*
 * Output queue bounds.  Local sockets (and the directory's events) are
 * read only while fewer than VMUX_OUT_HIGH bytes wait for the stream; the
 * peer's frames are processed only while fewer than VMUX_OUT_GATE do (its
 * frames that need an answer cannot grow the queue past that while it
 * does not read).  VMUX_OUT_LIMIT is the hard limit these keep us under.
 */
#define VMUX_OUT_HIGH  ((size_t)256 * 1024)
#define VMUX_OUT_GATE  ((size_t)1024 * 1024)
#define VMUX_OUT_LIMIT (VMUX_OUT_GATE + (size_t)256 * 1024)
/* A channel grants credit back in batches of at least this many bytes. */
#define VMUX_CREDIT_BATCH (VMUX_WINDOW / 4u)
/* Poll entries: the stream, the directory, every mirror and channel. */
#define VMUX_MAX_POLLFDS (2u + VMUX_MAX_LISTENERS + 2u * VMUX_MAX_CHANNELS)

/* vmux_dispatch's return for "the stream has ended". */
#define VMUX_END 1

struct vmux;

/*
 * A new engine on stream_fd (borrowed: nonblocking, the caller closes it
 * after vmux_free).  Returns NULL on out of memory.
 */
struct vmux *vmux_new(const struct vmux_config *cfg, int stream_fd);

/*
 * Watch the current directory, queue our HELLO and a LISTEN for each
 * listener already there.  0 or -errno (the caller logs, with
 * vmux_error() as the detail).
 */
int vmux_start(struct vmux *v);

/*
 * Remove every mirror this engine made, close every channel (their local
 * ends see EOF) and the directory watch, and free v.  NULL is a no-op.
 * The stream fd is the caller's.
 */
void vmux_free(struct vmux *v);

/*
 * Fill pfd (room for VMUX_MAX_POLLFDS) with what the engine waits for.
 * Returns the number of entries; pass the same array to vmux_dispatch.
 */
size_t vmux_pollfds(struct vmux *v, struct pollfd *pfd);

/*
 * Act on poll()'s results.  Returns 0 to go on, VMUX_END when the stream
 * has ended (EOF, hang-up, a write error), -EPROTO when the peer broke
 * the protocol, or another -errno for a local failure; for the last two
 * vmux_error() says what happened, one line.
 */
int vmux_dispatch(struct vmux *v, const struct pollfd *pfd, size_t n);

/* Host: queue SHUTDOWN for the guest.  0 or -errno. */
int vmux_send_shutdown(struct vmux *v);

/* Bytes queued for the stream (to flush before exiting). */
size_t vmux_output_pending(const struct vmux *v);

/* What the last failure of vmux_start/vmux_dispatch was. */
const char *vmux_error(const struct vmux *v);

#endif
