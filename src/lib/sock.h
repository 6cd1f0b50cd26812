/*
 * sock.h - UNIX-socket helpers: paths of any length, listen, connect,
 * fds passed with SCM_RIGHTS.
 */
#ifndef BULKHEAD_SOCK_H
#define BULKHEAD_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

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
 * sock_connect, but to a socket named path itself, never through a
 * symlink there: for paths in a directory that a less trusted peer may
 * write (a qube's channel directory).  A symlink or any other file there
 * is -ECONNREFUSED, as a socket nobody listens on.  fd or -errno.
 */
int sock_connect_nofollow(const char *path);

/* The same, giving up at deadline as sock_connect_until does. */
int sock_connect_nofollow_until(const char *path, uint64_t deadline);

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

/* The most fds sock_send_fds() sends or sock_recv_fds() takes at once. */
#define SOCK_FDS_MAX 4

/*
 * One recvmsg() of up to len bytes into buf (flags: MSG_DONTWAIT or 0;
 * the fds always arrive CLOEXEC).  Fds count only as one SCM_RIGHTS
 * control message of 1..max_fds (<= SOCK_FDS_MAX) fds and nothing else,
 * not truncated: those are stored in fds[] and their number in
 * *ret_nfds (0 without any).  Anything else is -EPROTO, every fd that
 * came with it closed, its bytes lost.  Returns the bytes read (0 at
 * EOF) or -errno (-EAGAIN and -EINTR included).
 */
ssize_t sock_recv_fds(int fd, void *buf, size_t len, int flags, int *fds,
    size_t max_fds, size_t *ret_nfds);

/*
 * One sendmsg() (MSG_NOSIGNAL, flags added) of iov[0..iovcnt) with nfds
 * (1..SOCK_FDS_MAX) fds as one SCM_RIGHTS.  Returns the bytes sent (a
 * stream socket may take fewer; the fds go with the first byte) or
 * -errno.
 */
ssize_t sock_send_fds(int fd, const struct iovec *iov, size_t iovcnt, int flags,
    const int *fds, size_t nfds);

#endif
