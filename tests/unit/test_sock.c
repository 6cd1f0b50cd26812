/*
 * test_sock.c - UNIX-socket helpers (src/lib/sock.c): listen, connect and
 * accept at short paths and at paths longer than sun_path's 108 bytes
 * (reached through /proc/self/fd), the atomic replacement of a stale file,
 * sock_unlink_if_ours leaving a re-created path alone, peer credentials,
 * and every error exit (missing directories, names too long even through
 * /proc/self/fd, socket()/accept4() failures, EINTR), each checked for
 * leaked fds and leftover temporary files; sock_connect_until giving up
 * at its deadline while a listener's backlog is full; fds passed with
 * sock_send_fds/sock_recv_fds, extras closed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/io.h"
#include "lib/sock.h"
#include "lib/util.h"
#include "unit.h"

struct fixture {
	char *dir;  /* a temp dir */
	char *deep; /* a directory inside it whose path is > 108 bytes */
	int fds;    /* open fds at the start */
};

static int
fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n - 1; /* the directory's own fd */
}

/* Entries in dir (to find leftover temporary files). */
static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	(void)closedir(d);
	return n;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char name[101];

	fault_reset();
	if (f == NULL)
		return -1;
	f->dir = unit_tmpdir();
	memset(name, 'd', 100);
	name[100] = '\0';
	f->deep = unit_path(f->dir, name);
	if (mkdir(f->deep, 0700) < 0)
		return -1;
	f->fds = fd_count();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	fault_reset();
	/* every path closes what it opened */
	assert_int_equal(fd_count(), f->fds);
	unit_rmtree(f->dir);
	free(f->deep);
	free(f);
	return 0;
}

/* A round trip over a listener: connect, accept, a byte each way. */
static void
round_trip(int lfd, const char *path)
{
	int c, s;
	char b = 0;
	pid_t pid;
	uid_t uid;
	gid_t gid;

	c = sock_connect(path);
	assert_true(c >= 0);
	assert_int_equal(fcntl(c, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	s = sock_accept(lfd, false);
	assert_true(s >= 0);
	assert_int_equal(fcntl(s, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(fcntl(s, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(write(c, "x", 1), 1);
	assert_int_equal(read(s, &b, 1), 1);
	assert_int_equal(b, 'x');
	assert_int_equal(write(s, "y", 1), 1);
	assert_int_equal(read(c, &b, 1), 1);
	assert_int_equal(b, 'y');
	/* the peer is this process */
	assert_int_equal(sock_peer_cred(s, &pid, &uid, &gid), 0);
	assert_int_equal(pid, getpid());
	assert_int_equal(uid, getuid());
	assert_int_equal(gid, getgid());
	assert_int_equal(sock_peer_cred(c, NULL, NULL, NULL), 0);
	(void)close(c);
	(void)close(s);
}

static void
test_short_path(void **state)
{
	struct fixture *f = *state;
	char *path = unit_path(f->dir, "s.sock");
	struct sock_ident id;
	struct stat st;
	int lfd;

	lfd = sock_listen(path, 0640, false, &id);
	assert_true(lfd >= 0);
	assert_int_equal(fcntl(lfd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(fcntl(lfd, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_ino, id.ino);
	assert_int_equal(st.st_dev, id.dev);
	/* only the socket: the temporary name is gone */
	assert_int_equal(entries(f->dir), 2);
	round_trip(lfd, path);
	sock_unlink_if_ours(path, &id);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	/* already gone: nothing happens */
	sock_unlink_if_ours(path, &id);
	(void)close(lfd);
	free(path);
}

static void
test_long_path(void **state)
{
	struct fixture *f = *state;
	char name[60], *path;
	struct sock_ident id;
	struct stat st;
	int lfd;

	memset(name, 'L', sizeof(name) - 6);
	(void)strcpy(name + sizeof(name) - 6, ".sock");
	path = unit_path(f->deep, name);
	assert_true(strlen(path) > 108);
	lfd = sock_listen(path, 0600, true, &id);
	assert_true(lfd >= 0);
	assert_int_equal(fcntl(lfd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_ino, id.ino);
	assert_int_equal(entries(f->deep), 1);
	/* a nonblocking listener with nobody waiting */
	assert_int_equal(sock_accept(lfd, false), -EAGAIN);
	round_trip(lfd, path);
	/* a nonblocking accepted socket, if asked */
	{
		int c = sock_connect(path), s;

		assert_true(c >= 0);
		s = sock_accept(lfd, true);
		assert_true(s >= 0);
		assert_int_equal(fcntl(s, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
		(void)close(s);
		(void)close(c);
	}
	sock_unlink_if_ours(path, &id);
	assert_int_equal(entries(f->deep), 0);
	(void)close(lfd);
	free(path);
}

static void
test_replace_stale(void **state)
{
	struct fixture *f = *state;
	char *path = unit_path(f->dir, "stale.sock");
	struct sock_ident id1, id2;
	struct stat st;
	int old, lfd, lfd2;

	/* a socket nobody listens on any more: connections are refused */
	old = unit_listen(path);
	(void)close(old);
	assert_int_equal(sock_connect(path), -ECONNREFUSED);
	lfd = sock_listen(path, 0600, false, &id1);
	assert_true(lfd >= 0);
	round_trip(lfd, path);

	/* a later listener replaces the path; the first leaves it alone */
	lfd2 = sock_listen(path, 0600, false, &id2);
	assert_true(lfd2 >= 0);
	assert_true(id1.ino != id2.ino);
	sock_unlink_if_ours(path, &id1);
	assert_int_equal(lstat(path, &st), 0);
	round_trip(lfd2, path);
	sock_unlink_if_ours(path, &id2);
	assert_int_equal(lstat(path, &st), -1);
	(void)close(lfd);
	(void)close(lfd2);

	/* a regular file in the way is replaced too */
	unit_write_file(f->dir, "stale.sock", "junk", 0644);
	assert_int_equal(sock_connect(path), -ECONNREFUSED);
	lfd = sock_listen(path, 0600, false, NULL);
	assert_true(lfd >= 0);
	round_trip(lfd, path);
	(void)close(lfd);
	assert_int_equal(entries(f->dir), 2);
	free(path);
}

static void
test_errors(void **state)
{
	struct fixture *f = *state;
	char name[200], *path;
	char rel[120];
	int fd;

	/* the directory does not exist, short and long paths */
	path = unit_path(f->dir, "nodir/x.sock");
	assert_int_equal(sock_listen(path, 0600, false, NULL), -ENOENT);
	assert_int_equal(sock_connect(path), -ENOENT);
	free(path);
	path = unit_path(f->deep, "nodir/x.sock");
	assert_int_equal(sock_listen(path, 0600, false, NULL), -ENOENT);
	assert_int_equal(sock_connect(path), -ENOENT);
	free(path);
	/* a long path without any '/' */
	memset(rel, 'r', sizeof(rel) - 1);
	rel[sizeof(rel) - 1] = '\0';
	assert_int_equal(sock_connect(rel), -ENAMETOOLONG);
	assert_int_equal(sock_listen(rel, 0600, false, NULL), -ENAMETOOLONG);
	/* a name too long even for /proc/self/fd/N/name */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	path = unit_path(f->dir, name);
	assert_int_equal(sock_connect(path), -ENAMETOOLONG);
	assert_int_equal(sock_listen(path, 0600, false, NULL), -ENAMETOOLONG);
	free(path);
	/* a whole path too long (with the temporary suffix) */
	path = malloc(PATH_MAX + 1);
	assert_non_null(path);
	memset(path, 'p', PATH_MAX);
	path[0] = '/';
	path[PATH_MAX - 5] = '\0';
	assert_int_equal(sock_listen(path, 0600, false, NULL), -ENAMETOOLONG);
	free(path);
	/* a directory in the way cannot be renamed over */
	path = unit_path(f->dir, "adir");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(sock_listen(path, 0600, false, NULL), -EISDIR);
	assert_int_equal(entries(f->dir), 2);
	free(path);
	/* not a socket */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(sock_peer_cred(fd, NULL, NULL, NULL), -ENOTSOCK);
	(void)close(fd);
	assert_int_equal(sock_accept(-1, false), -EBADF);
}

static void
test_faults(void **state)
{
	struct fixture *f = *state;
	char *path = unit_path(f->dir, "f.sock");
	int lfd, c, s;

	fault_set(F_SOCKET, -1, 0, 1, EMFILE);
	assert_int_equal(sock_listen(path, 0600, false, NULL), -EMFILE);
	fault_set(F_SOCKET, -1, 0, 1, EMFILE);
	assert_int_equal(sock_connect(path), -EMFILE);
	fault_reset();
	lfd = sock_listen(path, 0600, false, NULL);
	assert_true(lfd >= 0);
	/* EINTR is retried by connect and accept */
	fault_set(F_CONNECT, -1, 0, 1, EINTR);
	c = sock_connect(path);
	assert_true(c >= 0);
	assert_int_equal(faults[F_CONNECT].calls, 2);
	fault_set(F_ACCEPT4, lfd, 0, 1, EINTR);
	s = sock_accept(lfd, false);
	assert_true(s >= 0);
	assert_int_equal(faults[F_ACCEPT4].calls, 2);
	(void)close(s);
	(void)close(c);
	/* other errors are returned */
	fault_set(F_CONNECT, -1, 0, 1, EACCES);
	assert_int_equal(sock_connect(path), -EACCES);
	fault_set(F_ACCEPT4, lfd, 0, 1, EMFILE);
	assert_int_equal(sock_accept(lfd, false), -EMFILE);
	(void)close(lfd);
	free(path);
}

static void
test_connect_until(void **state)
{
	struct fixture *f = *state;
	char *path = unit_path(f->dir, "u.sock"), name[60], *lpath;
	int lfd, c[8], n = 0, s, r, i;
	struct timeval tv;
	socklen_t tl = sizeof(tv);
	uint64_t t0;

	lfd = unit_listen(path);
	/* the smallest backlog: a connection or two fill it */
	assert_int_equal(listen(lfd, 0), 0);
	c[n] = sock_connect_until(path, io_deadline(1000));
	assert_true(c[n] >= 0);
	/* no send timeout is left on the connected socket */
	assert_int_equal(
	    getsockopt(c[n], SOL_SOCKET, SO_SNDTIMEO, &tv, &tl), 0);
	assert_true(tv.tv_sec == 0 && tv.tv_usec == 0);
	n++;
	/* the server accepts nothing: the deadline ends the wait */
	for (;;) {
		t0 = now_ms();
		r = sock_connect_until(path, io_deadline(100));
		if (r < 0)
			break;
		assert_true(n < 8);
		c[n++] = r;
	}
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 90);
	assert_true(now_ms() - t0 < 5000);
	/* a deadline already passed: one try, at once */
	t0 = now_ms();
	assert_int_equal(sock_connect_until(path, t0), -ETIMEDOUT);
	assert_true(now_ms() - t0 < 50);
	/* the server accepts one: there is room again */
	s = sock_accept(lfd, false);
	assert_true(s >= 0);
	c[n] = sock_connect_until(path, io_deadline(1000));
	assert_true(c[n] >= 0);
	n++;
	(void)close(s);
	for (i = 0; i < n; i++)
		(void)close(c[i]);
	/* the queue emptied; EINTR is retried, as by sock_connect */
	assert_int_equal(fd_set_nonblock(lfd, true), 0);
	while ((s = sock_accept(lfd, false)) >= 0)
		(void)close(s);
	assert_int_equal(s, -EAGAIN);
	fault_set(F_CONNECT, -1, 0, 1, EINTR);
	c[0] = sock_connect_until(path, io_deadline(1000));
	assert_true(c[0] >= 0);
	assert_int_equal(faults[F_CONNECT].calls, 2);
	(void)close(c[0]);
	fault_set(F_CONNECT, -1, 0, 1, EACCES);
	assert_int_equal(sock_connect_until(path, io_deadline(1000)), -EACCES);
	(void)close(lfd);
	/* a path longer than sun_path, through /proc/self/fd */
	memset(name, 'L', sizeof(name) - 6);
	(void)strcpy(name + sizeof(name) - 6, ".sock");
	lpath = unit_path(f->deep, name);
	lfd = sock_listen(lpath, 0600, false, NULL);
	assert_true(lfd >= 0);
	c[0] = sock_connect_until(lpath, io_deadline(1000));
	assert_true(c[0] >= 0);
	(void)close(c[0]);
	(void)close(lfd);
	free(lpath);
	free(path);
}

/*
 * sock_send_fds/sock_recv_fds: up to max fds arrive CLOEXEC; more than
 * max, or two control messages, are -EPROTO with every fd closed (the
 * fixture's teardown counts them); bytes without fds are plain reads.
 */
static void
test_pass_fds(void **state)
{
	int sv[2], p[2], got[2] = {-1, -1}, three[3];
	struct iovec iov = {"x", 1};
	char buf[8];
	size_t nfd;
	ssize_t n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	/* two fds, max two: both, CLOEXEC */
	assert_int_equal(sock_send_fds(sv[0], &iov, 1, 0, p, 2), 1);
	n = sock_recv_fds(sv[1], buf, sizeof(buf), 0, got, 2, &nfd);
	assert_int_equal(n, 1);
	assert_int_equal(nfd, 2);
	assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(got[1], F_GETFD) & FD_CLOEXEC);
	(void)close(got[0]);
	(void)close(got[1]);
	/* two fds, max one: refused, both closed */
	got[0] = -1;
	assert_int_equal(sock_send_fds(sv[0], &iov, 1, 0, p, 2), 1);
	n = sock_recv_fds(sv[1], buf, sizeof(buf), 0, got, 1, &nfd);
	assert_int_equal(n, -EPROTO);
	assert_int_equal(got[0], -1);
	/* SOCK_FDS_MAX fds, max one: refused, all closed */
	three[0] = p[0];
	three[1] = p[1];
	three[2] = p[0];
	assert_int_equal(sock_send_fds(sv[0], &iov, 1, 0, three, 3), 1);
	assert_int_equal(
	    sock_recv_fds(sv[1], buf, sizeof(buf), 0, got, 1, &nfd), -EPROTO);
	/* no fds: the bytes, nfd 0 */
	assert_int_equal(write(sv[0], "yz", 2), 2);
	n = sock_recv_fds(sv[1], buf, sizeof(buf), MSG_DONTWAIT, got, 1, &nfd);
	assert_int_equal(n, 2);
	assert_int_equal(nfd, 0);
	assert_int_equal(
	    sock_recv_fds(sv[1], buf, sizeof(buf), MSG_DONTWAIT, got, 1, &nfd),
	    -EAGAIN);
	(void)close(sv[0]);
	assert_int_equal(
	    sock_recv_fds(sv[1], buf, sizeof(buf), 0, got, 1, &nfd), 0);
	(void)close(sv[1]);
	(void)close(p[0]);
	(void)close(p[1]);
}

/*
 * sock_connect_nofollow reaches a socket named by path itself, and takes
 * a symlink there (or any other file) for a socket nobody listens on,
 * where sock_connect follows it.
 */
static void
test_connect_nofollow(void **state)
{
	struct fixture *f = *state;
	char *sock = unit_path(f->dir, "real.sock");
	char *link = unit_path(f->dir, "link.sock");
	char *file = unit_path(f->dir, "file");
	char *deep = unit_path(f->deep, "real.sock");
	int lfd, dlfd, c, s, fd;

	lfd = sock_listen(sock, 0600, false, NULL);
	assert_true(lfd >= 0);
	c = sock_connect_nofollow(sock);
	assert_true(c >= 0);
	assert_int_equal(fcntl(c, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	s = sock_accept(lfd, false);
	assert_true(s >= 0);
	assert_int_equal(write(c, "x", 1), 1);
	(void)close(s);
	(void)close(c);
	/* a path longer than sun_path is reached all the same */
	dlfd = sock_listen(deep, 0600, false, NULL);
	assert_true(dlfd >= 0);
	c = sock_connect_nofollow(deep);
	assert_true(c >= 0);
	(void)close(c);
	(void)close(dlfd);
	/* a symlink to a live listener: followed by one, not the other */
	assert_int_equal(symlink(sock, link), 0);
	c = sock_connect(link);
	assert_true(c >= 0);
	(void)close(c);
	assert_int_equal(sock_connect_nofollow(link), -ECONNREFUSED);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	(void)close(fd);
	assert_int_equal(sock_connect_nofollow(file), -ECONNREFUSED);
	assert_int_equal(sock_connect_nofollow(f->dir), -ECONNREFUSED);
	assert_int_equal(unlink(sock), 0);
	assert_int_equal(sock_connect_nofollow(sock), -ENOENT);
	(void)close(lfd);
	(void)unlink(link);
	(void)unlink(file);
	(void)unlink(deep);
	free(sock);
	free(link);
	free(file);
	free(deep);
}

/*
 * A listener made in a directory someone else owns (a qube's channel
 * directory): that owner may rename the fresh socket away and put a
 * symlink in its place right after the bind.  The mode and owner the
 * listener gives must not reach what the link names (as root: any host
 * file).  The bind hook plays the directory's owner.
 */
static const char *swap_victim;

static void
swap_for_symlink(const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
	char moved[PATH_MAX];

	(void)len;
	(void)snprintf(moved, sizeof(moved), "%s.moved", un->sun_path);
	assert_int_equal(rename(un->sun_path, moved), 0);
	assert_int_equal(symlink(swap_victim, un->sun_path), 0);
}

static void
test_listen_swapped_for_symlink(void **state)
{
	struct fixture *f = *state;
	char *path = unit_path(f->dir, "q.sock");
	char *victim = unit_path(f->dir, "victim");
	struct stat st;
	int fd, lfd;

	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	(void)close(fd);
	assert_int_equal(chmod(victim, 0644), 0);
	swap_victim = victim;
	bind_hook = swap_for_symlink;
	lfd = sock_listen_owned(path, 0600, geteuid() == 0 ? 4242 : (uid_t)-1,
	    (gid_t)-1, false, NULL);
	bind_hook = NULL;
	/* the victim keeps its mode and owner */
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(st.st_uid, geteuid());
	if (lfd >= 0)
		(void)close(lfd);
	free(path);
	free(victim);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_short_path),
	    T(test_long_path),
	    T(test_replace_stale),
	    T(test_errors),
	    T(test_faults),
	    T(test_connect_until),
	    T(test_connect_nofollow),
	    T(test_pass_fds),
	    T(test_listen_swapped_for_symlink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
