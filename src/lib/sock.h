/*
 * sock.h - UNIX-socket helpers: paths of any length, listen, connect.
 */
#ifndef BULKHEAD_SOCK_H
#define BULKHEAD_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Which file a socket path was (a socket fd's own fstat is not it). */
struct sock_ident {
	dev_t dev;
	ino_t ino;
};

/*
 * Listen on a new UNIX stream socket at path, replacing a stale socket
 * there atomically (bound under a temporary name, then renamed), with the
 * given mode.  Returns the listening fd (CLOEXEC, nonblocking if asked) or
 * -errno; *ret_id (if not NULL) identifies the file at path.
 */
int sock_listen(
    const char *path, mode_t mode, bool nonblock, struct sock_ident *ret_id);

/*
 * sock_listen, with the socket given to uid:gid ((uid_t)-1, (gid_t)-1:
 * left alone) before it appears at path.
 */
int sock_listen_owned(const char *path, mode_t mode, uid_t uid, gid_t gid,
    bool nonblock, struct sock_ident *ret_id);

/* Connect to the UNIX stream socket at path (blocking). fd or -errno. */
int sock_connect(const char *path);

/*
 * sock_connect, giving up at deadline (io.h: io_deadline(), or
 * IO_NO_DEADLINE) with -ETIMEDOUT: a UNIX connect() waits while the
 * listener's backlog is full, that is while its server is not accepting.
 * The fd returned is blocking, with no send timeout left on it.
 */
int sock_connect_until(const char *path, uint64_t deadline);

/*
 * Remove path if it is still the socket sock_listen() made (so that a path
 * re-created by someone else is left alone).
 */
void sock_unlink_if_ours(const char *path, const struct sock_ident *id);

/* Accept one connection (CLOEXEC); fd or -errno. */
int sock_accept(int lfd, bool nonblock);

/* Credentials of the peer of a connected UNIX socket. 0 or -errno. */
int sock_peer_cred(int fd, pid_t *ret_pid, uid_t *ret_uid, gid_t *ret_gid);

#endif
