/*
 * sock.c - UNIX-socket helpers used by every process.  Paths come from our
 * own configuration, never from a peer; but a qube may write in the
 * directory (its channel directory, where the admin side listens and
 * connects as root): sock_listen_owned and sock_connect_nofollow never
 * follow a symlink in a path's last name.
 *
 * sun_path holds 108 bytes; longer paths are reached through the directory:
 * we open it with O_PATH and use "/proc/self/fd/N/name", which the kernel
 * resolves for bind() and connect() alike.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/sock.h"
#include "lib/util.h"

/*
 * Fill sa for path.  If the path is too long, *ret_dirfd is an O_PATH fd of
 * its directory that the caller closes after use.
 */
static int
sock_addr(const char *path, struct sockaddr_un *sa, socklen_t *ret_len,
    int *ret_dirfd)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	*ret_dirfd = -1;
	if (n < sizeof(sa->sun_path)) {
		memcpy(sa->sun_path, path, n + 1);
	} else {
		const char *slash = strrchr(path, '/');
		char dir[PATH_MAX];
		int dfd, r;

		if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		dfd =
		    open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		r = str_printf(sa->sun_path, sizeof(sa->sun_path),
		    "/proc/self/fd/%d/%s", dfd, slash + 1);
		if (r < 0) {
			(void)close(dfd);
			return r;
		}
		*ret_dirfd = dfd;
		n = strlen(sa->sun_path);
	}
	*ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int
sock_listen(
    const char *path, mode_t mode, bool nonblock, struct sock_ident *ret_id)
{
	return sock_listen_owned(
	    path, mode, (uid_t)-1, (gid_t)-1, nonblock, ret_id);
}

int
sock_listen_owned(const char *path, mode_t mode, uid_t uid, gid_t gid,
    bool nonblock, struct sock_ident *ret_id)
{
	char tmp[PATH_MAX];
	struct sockaddr_un sa;
	socklen_t salen;
	int fd, dirfd = -1, r;

	r = str_printf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	if (r < 0)
		return r;
	fd = socket(AF_UNIX,
	    SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	r = sock_addr(tmp, &sa, &salen, &dirfd);
	if (r < 0)
		goto out_close;
	(void)unlink(tmp);
	if (bind(fd, (struct sockaddr *)&sa, salen) < 0) {
		r = -errno;
		goto out_close;
	}
	/*
	 * Owner and mode before the path appears: a peer never finds it
	 * with another owner's permissions.  By name, but never through a
	 * symlink: in a qube's directory the qube may have put one in our
	 * socket's place since bind(), and root's chown would follow it
	 * anywhere.  (glibc's fchmodat refuses a symlink with EOPNOTSUPP.)
	 */
	if (fchmodat(AT_FDCWD, tmp, mode, AT_SYMLINK_NOFOLLOW) < 0 ||
	    ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	        fchownat(AT_FDCWD, tmp, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) ||
	    listen(fd, 64) < 0) {
		r = -errno;
		(void)unlink(tmp);
		goto out_close;
	}
	if (ret_id != NULL) {
		struct stat st;

		/* (not stat: what is named there, the socket, or not ours) */
		if (lstat(tmp, &st) < 0) {
			r = -errno;
			(void)unlink(tmp);
			goto out_close;
		}
		if (!S_ISSOCK(st.st_mode)) {
			r = -ENOTSOCK;
			(void)unlink(tmp);
			goto out_close;
		}
		ret_id->dev = st.st_dev;
		ret_id->ino = st.st_ino;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		(void)unlink(tmp);
		goto out_close;
	}
	close_fd(&dirfd);
	return fd;
out_close:
	close_fd(&dirfd);
	(void)close(fd);
	return r;
}

int
sock_connect(const char *path)
{
	return sock_connect_until(path, IO_NO_DEADLINE);
}

/* SO_SNDTIMEO, which bounds a blocking UNIX connect(): 0 or -errno. */
static int
set_send_timeout(int fd, uint64_t ms)
{
	struct timeval tv = {
	    .tv_sec = (time_t)(ms / 1000u),
	    .tv_usec = (suseconds_t)(ms % 1000u) * 1000,
	};

	/* 0 would mean "no timeout": the deadline is here, wait 1 ms */
	if (ms == 0)
		tv.tv_usec = 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

int
sock_connect_nofollow(const char *path)
{
	return sock_connect_nofollow_until(path, IO_NO_DEADLINE);
}

int
sock_connect_nofollow_until(const char *path, uint64_t deadline)
{
	char proc[32];
	struct stat st;
	int pfd, r;

	/*
	 * The name itself, not what a symlink there points to; connect()
	 * through /proc/self/fd reaches that very inode.
	 */
	pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	/* a symlink or any other file: nothing listens there */
	if (!S_ISSOCK(st.st_mode)) {
		r = -ECONNREFUSED;
		goto out_close;
	}
	r = str_printf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	if (r == 0)
		r = sock_connect_until(proc, deadline);
out_close:
	(void)close(pfd);
	return r;
}

int
sock_connect_until(const char *path, uint64_t deadline)
{
	struct sockaddr_un sa;
	socklen_t salen;
	int fd, dirfd = -1, r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = sock_addr(path, &sa, &salen, &dirfd);
	if (r < 0)
		goto out_close;
	for (;;) {
		if (deadline != IO_NO_DEADLINE) {
			uint64_t now = now_ms();

			r = set_send_timeout(
			    fd, deadline > now ? deadline - now : 0);
			if (r < 0)
				goto out_close;
		}
		r = connect(fd, (struct sockaddr *)&sa, salen);
		if (r == 0 || errno != EINTR)
			break;
	}
	if (r < 0) {
		/* EAGAIN: the send timeout ran out, the backlog still full */
		r = deadline != IO_NO_DEADLINE && errno == EAGAIN ? -ETIMEDOUT :
		                                                    -errno;
		goto out_close;
	}
	if (deadline != IO_NO_DEADLINE) {
		struct timeval none = {0, 0};

		if (setsockopt(
		        fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none)) < 0) {
			r = -errno;
			goto out_close;
		}
	}
	close_fd(&dirfd);
	return fd;
out_close:
	close_fd(&dirfd);
	(void)close(fd);
	return r;
}

void
sock_unlink_if_ours(const char *path, const struct sock_ident *id)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return;
	if (st.st_ino == id->ino && st.st_dev == id->dev)
		(void)unlink(path);
}

int
sock_accept(int lfd, bool nonblock)
{
	int fd;

	do
		fd = accept4(lfd, NULL, NULL,
		    SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0));
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

int
sock_peer_cred(int fd, pid_t *ret_pid, uid_t *ret_uid, gid_t *ret_gid)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	if (ret_pid)
		*ret_pid = uc.pid;
	if (ret_uid)
		*ret_uid = uc.uid;
	if (ret_gid)
		*ret_gid = uc.gid;
	return 0;
}

/* Close every fd of SCM_RIGHTS control messages in mh. */
static void
close_cmsg_fds(struct msghdr *mh)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		size_t n, i;
		int cfd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(
			    &cfd, CMSG_DATA(c) + i * sizeof(int), sizeof(cfd));
			(void)close(cfd);
		}
	}
}

ssize_t
sock_recv_fds(int fd, void *buf, size_t len, int flags, int *fds,
    size_t max_fds, size_t *ret_nfds)
{
	/*
	 * Room for SOCK_FDS_MAX fds whatever max_fds is: more than max_fds
	 * must be seen (and closed), not silently truncated by the kernel;
	 * more than fit is MSG_CTRUNC, refused as well.
	 */
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(int) * SOCK_FDS_MAX)];
	} cm;
	struct iovec iov = {buf, len};
	struct msghdr mh;
	struct cmsghdr *c;
	size_t nfd = 0;
	ssize_t n;

	assert(max_fds >= 1 && max_fds <= SOCK_FDS_MAX);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.space;
	mh.msg_controllen = sizeof(cm.space);
	n = recvmsg(fd, &mh, flags | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	c = CMSG_FIRSTHDR(&mh);
	if (c != NULL) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len > CMSG_LEN(0))
			nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if ((mh.msg_flags & MSG_CTRUNC) || nfd == 0 || nfd > max_fds ||
		    c->cmsg_len != CMSG_LEN(nfd * sizeof(int)) ||
		    CMSG_NXTHDR(&mh, c) != NULL) {
			close_cmsg_fds(&mh);
			return -EPROTO;
		}
		memcpy(fds, CMSG_DATA(c), nfd * sizeof(int));
	} else if (mh.msg_flags & MSG_CTRUNC) {
		return -EPROTO;
	}
	*ret_nfds = nfd;
	return n;
}

ssize_t
sock_send_fds(int fd, const struct iovec *iov, size_t iovcnt, int flags,
    const int *fds, size_t nfds)
{
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(int) * SOCK_FDS_MAX)];
	} cm;
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t n;

	assert(nfds >= 1 && nfds <= SOCK_FDS_MAX);
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = iovcnt;
	mh.msg_control = cm.space;
	mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	n = sendmsg(fd, &mh, flags | MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}
