/*
 * wrap.c - linker --wrap mocks for the unit tests that need to reach error
 * exits: EINTR, EAGAIN, short reads and writes, ENOMEM, and failures of
 * socket(), fork() (and clone(), which F_FORK fails too) and friends.  Every wrapper passes through to the real
 * function unless faults[] (unit.h) says otherwise.
 *
 * The test programs that link this file get -Wl,--wrap=<fn> for every
 * function here (tests/unit/meson.build), which redirects the calls made by
 * the static libbulkhead objects and by the test itself.  poll() appears
 * as __poll_chk in _FORTIFY_SOURCE builds; both are wrapped.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

struct fault faults[F_FN_MAX];
void (*poll_hook)(struct pollfd *fds, nfds_t nfds, int timeout);
void (*nanosleep_hook)(void);
void (*bind_hook)(const struct sockaddr *sa, socklen_t len);

ssize_t __real_read(int fd, void *buf, size_t len);
ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __real_sendmsg(int fd, const struct msghdr *mh, int flags);
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_poll(struct pollfd *fds, nfds_t nfds, int timeout);
int
__real___poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);
int __real_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
int __real_socket(int domain, int type, int proto);
int __real_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __real_bind(int fd, const struct sockaddr *sa, socklen_t len);
pid_t __real_fork(void);
int __real_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
int __real_socketpair(int domain, int type, int proto, int sv[2]);
int __real_pipe2(int fds[2], int flags);
int __real_nanosleep(const struct timespec *req, struct timespec *rem);

ssize_t __wrap_read(int fd, void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *mh, int flags);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout);
int
__wrap___poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);
int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
int __wrap_socket(int domain, int type, int proto);
int __wrap_connect(int fd, const struct sockaddr *sa, socklen_t len);
int __wrap_bind(int fd, const struct sockaddr *sa, socklen_t len);
pid_t __wrap_fork(void);
int __wrap_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
int __wrap_socketpair(int domain, int type, int proto, int sv[2]);
int __wrap_pipe2(int fds[2], int flags);
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem);

void
fault_reset(void)
{
	int i;

	memset(faults, 0, sizeof(faults));
	for (i = 0; i < F_FN_MAX; i++)
		faults[i].fd = -1;
	poll_hook = NULL;
	nanosleep_hook = NULL;
	bind_hook = NULL;
}

void
fault_set(enum fault_fn fn, int fd, int skip, int fail, int err)
{
	faults[fn].fd = fd;
	faults[fn].skip = skip;
	faults[fn].fail = fail;
	faults[fn].err = err;
	faults[fn].calls = 0;
}

static bool
matches(const struct fault *f, int fd)
{
	return f->fd < 0 || f->fd == fd;
}

/* Count a call; true if it is to fail (errno is then set). */
static bool
hit(struct fault *f, int fd)
{
	if (!matches(f, fd))
		return false;
	f->calls++;
	if (f->skip > 0) {
		f->skip--;
		return false;
	}
	if (f->fail == 0)
		return false;
	if (f->fail > 0)
		f->fail--;
	errno = f->err;
	return true;
}

static size_t
capped(const struct fault *f, int fd, size_t len)
{
	if (f->cap > 0 && matches(f, fd) && len > f->cap)
		return f->cap;
	return len;
}

ssize_t
__wrap_read(int fd, void *buf, size_t len)
{
	if (hit(&faults[F_READ], fd))
		return -1;
	return __real_read(fd, buf, capped(&faults[F_READ], fd, len));
}

ssize_t
__wrap_write(int fd, const void *buf, size_t len)
{
	if (hit(&faults[F_WRITE], fd))
		return -1;
	return __real_write(fd, buf, capped(&faults[F_WRITE], fd, len));
}

ssize_t
__wrap_send(int fd, const void *buf, size_t len, int flags)
{
	if (hit(&faults[F_SEND], fd))
		return -1;
	return __real_send(fd, buf, capped(&faults[F_SEND], fd, len), flags);
}

ssize_t
__wrap_sendmsg(int fd, const struct msghdr *mh, int flags)
{
	struct fault *f = &faults[F_SENDMSG];
	struct iovec iov[16];
	struct msghdr m;
	size_t left, i;

	if (hit(f, fd))
		return -1;
	if (f->cap == 0 || !matches(f, fd) || mh->msg_iovlen > 16)
		return __real_sendmsg(fd, mh, flags);
	/* a short send: only the first cap bytes of the vector */
	m = *mh;
	left = f->cap;
	for (i = 0; i < mh->msg_iovlen; i++) {
		iov[i] = mh->msg_iov[i];
		if (iov[i].iov_len > left)
			iov[i].iov_len = left;
		left -= iov[i].iov_len;
	}
	m.msg_iov = iov;
	return __real_sendmsg(fd, &m, flags);
}

void *
__wrap_malloc(size_t n)
{
	if (hit(&faults[F_ALLOC], -1))
		return NULL;
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	if (hit(&faults[F_ALLOC], -1))
		return NULL;
	return __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	if (hit(&faults[F_ALLOC], -1))
		return NULL;
	return __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
	if (hit(&faults[F_ALLOC], -1))
		return NULL;
	return __real_strdup(s);
}

char *
__wrap_strndup(const char *s, size_t n)
{
	if (hit(&faults[F_ALLOC], -1))
		return NULL;
	return __real_strndup(s, n);
}

int
__wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	if (hit(&faults[F_POLL], -1))
		return -1;
	if (poll_hook != NULL)
		poll_hook(fds, nfds, timeout);
	return __real_poll(fds, nfds, timeout);
}

int
__wrap___poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	if (hit(&faults[F_POLL], -1))
		return -1;
	if (poll_hook != NULL)
		poll_hook(fds, nfds, timeout);
	return __real___poll_chk(fds, nfds, timeout, fdslen);
}

int
__wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	if (hit(&faults[F_ACCEPT4], fd))
		return -1;
	return __real_accept4(fd, sa, len, flags);
}

int
__wrap_socket(int domain, int type, int proto)
{
	if (hit(&faults[F_SOCKET], -1))
		return -1;
	return __real_socket(domain, type, proto);
}

int
__wrap_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (hit(&faults[F_CONNECT], fd))
		return -1;
	return __real_connect(fd, sa, len);
}

int
__wrap_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int r = __real_bind(fd, sa, len);

	if (r == 0 && bind_hook != NULL)
		bind_hook(sa, len);
	return r;
}

pid_t
__wrap_fork(void)
{
	if (hit(&faults[F_FORK], -1))
		return -1;
	return __real_fork();
}

/* svc_spawn starts services with clone(CLONE_VM | CLONE_VFORK): a fork
 * for the tests' purposes.  Only the four-argument form is used. */
int
__wrap_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	if (hit(&faults[F_FORK], -1))
		return -1;
	return __real_clone(fn, stack, flags, arg);
}

int
__wrap_socketpair(int domain, int type, int proto, int sv[2])
{
	if (hit(&faults[F_SOCKETPAIR], -1))
		return -1;
	return __real_socketpair(domain, type, proto, sv);
}

int
__wrap_pipe2(int fds[2], int flags)
{
	if (hit(&faults[F_PIPE2], -1))
		return -1;
	return __real_pipe2(fds, flags);
}

int
__wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (nanosleep_hook != NULL) {
		nanosleep_hook();
		return 0;
	}
	return __real_nanosleep(req, rem);
}
