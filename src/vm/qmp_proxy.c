/*
 * qmp_proxy.c - the VM launcher's QMP through a confined reader
 * (qmp_proxy.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/io.h"
#include "lib/log.h"
#include "lib/privdrop.h"
#include "lib/seccomp_util.h"
#include "lib/util.h"
#include "vm/qmp.h"
#include "vm/qmp_proxy.h"

/* The reader's fds: its end of the pair, the QMP socket. */
#define VQ_CTL_FD 3
#define VQ_QMP_FD 4
/* What the reader may add to the launcher's log, at most. */
#define VQ_LOG_MAX (1024 * 1024)
/* How much longer than a command's own time the launcher waits. */
#define VQ_GRACE_MS 2000

/*
 * What the reader does once confined: QMP and the pair (send/recv with
 * their flags), waiting with deadlines, memory, logging to stderr.
 */
static const char *const vq_allowed[] = {"read", "write", "sendto", "recvfrom",
    "sendmsg", "recvmsg", "poll", "ppoll", "close", "clock_gettime",
    "gettimeofday", "getpid", "fstat", "newfstatat", "brk", "mmap", "munmap",
    "mremap", "madvise", "mprotect", "rt_sigreturn", "rt_sigprocmask",
    "sigaltstack", "futex", "restart_syscall", "exit", "exit_group"};

int
vq_msg_parse(const void *untrusted_buf, size_t len, struct vq_msg *ret)
{
	struct vq_msg m;

	if (len != sizeof(m))
		return -EBADMSG;
	memcpy(&m, untrusted_buf, sizeof(m));
	if (m.vm_op != VQ_DONE && m.vm_op != VQ_BROKEN)
		return -EBADMSG;
	if (m.vm_arg > 0 || m.vm_arg < -4095 ||
	    (m.vm_op == VQ_BROKEN && m.vm_arg == 0))
		return -EBADMSG;
	*ret = m;
	return 0;
}

/* ---- the reader ---- */

static int
reader_send(uint32_t op, int arg)
{
	struct vq_msg m = {.vm_op = op, .vm_arg = arg};

	return send(VQ_CTL_FD, &m, sizeof(m), MSG_NOSIGNAL) ==
	        (ssize_t)sizeof(m) ?
	    0 :
	    -1;
}

static int
reader_command(struct qmp *q, const struct vq_msg *m)
{
	uint64_t dl = now_ms() + (uint64_t)m->vm_arg;

	switch (m->vm_op) {
	case VQ_HANDSHAKE:
		return qmp_handshake(q, dl);
	case VQ_CONT:
		return qmp_cont(q, dl);
	case VQ_STOP:
		return qmp_stop(q, dl);
	case VQ_QUIT:
		return qmp_quit(q, dl);
	default:
		return -EINVAL;
	}
}

static int
reader_main(uid_t uid, gid_t gid, pid_t launcher)
{
	struct qmp *q;
	bool up = false;
	int r;

	/*
	 * jansson seeds its hash tables from /dev/urandom on first use: do
	 * it now, before the filter denies open.
	 */
	json_object_seed(0);
	r = priv_drop(uid, gid, VQ_LOG_MAX, launcher);
	if (r == 0)
		r = seccomp_util_allow_only(vq_allowed, ARRAY_SIZE(vq_allowed));
	if (r < 0) {
		log_warnx("confining the QMP reader: %s", strerror(-r));
		return 1;
	}
	q = qmp_new(VQ_QMP_FD);
	if (q == NULL)
		return 1;
	for (;;) {
		struct pollfd p[2] = {{VQ_CTL_FD, POLLIN, 0}, {-1, POLLIN, 0}};
		struct vq_msg m;
		ssize_t n;

		/* before the handshake, the greeting is the handshake's */
		if (up)
			p[1].fd = VQ_QMP_FD;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p[1].revents != 0) {
			struct qmp_msg e;

			r = qmp_read_available(q);
			while (qmp_pop_event(q, &e) == 0) {
				log_debug("QMP event %s", e.event);
				qmp_msg_clear(&e);
			}
			if (r < 0) {
				(void)reader_send(VQ_BROKEN, r);
				return 0;
			}
		}
		if (p[0].revents == 0)
			continue;
		/* the launcher's requests: trusted, checked all the same */
		n = recv(VQ_CTL_FD, &m, sizeof(m), 0);
		if (n <= 0)
			return 0; /* the launcher is done with us */
		if (n != (ssize_t)sizeof(m) || m.vm_op < VQ_HANDSHAKE ||
		    m.vm_op > VQ_QUIT || m.vm_arg < 0 ||
		    m.vm_arg > VQ_MAX_TIMEOUT_MS)
			return 1;
		r = reader_command(q, &m);
		if (m.vm_op == VQ_HANDSHAKE && r == 0)
			up = true;
		if (reader_send(VQ_DONE, r) < 0)
			return 0;
		/* garbage or EOF during the command: QMP is over */
		if (r == -EBADMSG || r == -EPIPE) {
			(void)reader_send(VQ_BROKEN, r);
			return 0;
		}
	}
}

int
vq_start(struct vq *v, int qmp_fd, uid_t uid, gid_t gid)
{
	pid_t launcher = getpid();
	int sv[2];

	v->pid = -1;
	v->fd = -1;
	v->broken = 0;
	v->late = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	v->pid = fork();
	if (v->pid < 0) {
		int r = -errno;

		(void)close(sv[0]);
		(void)close(sv[1]);
		return r;
	}
	if (v->pid == 0) {
		sigset_t none;

		int qfd, cfd;

		/* only the pair and QMP above stdio (each first moved above
		 * both places, so neither dup2 clobbers the other's fd) */
		qfd = fcntl(qmp_fd, F_DUPFD_CLOEXEC, VQ_QMP_FD + 1);
		cfd = fcntl(sv[1], F_DUPFD_CLOEXEC, VQ_QMP_FD + 1);
		if (qfd < 0 || cfd < 0 || dup2(cfd, VQ_CTL_FD) < 0 ||
		    dup2(qfd, VQ_QMP_FD) < 0 ||
		    syscall(SYS_close_range, (unsigned)VQ_QMP_FD + 1, ~0U, 0U) <
		        0)
			_exit(1);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGTERM, SIG_DFL);
		(void)signal(SIGINT, SIG_DFL);
		(void)signal(SIGPIPE, SIG_IGN);
		_exit(reader_main(uid, gid, launcher));
	}
	(void)close(sv[1]);
	v->fd = sv[0];
	return 0;
}

/*
 * One packet from the reader, checked; -ECONNRESET when it is gone
 * without saying why (it died: QMP is out of our hands, kill QEMU).
 */
static int
take(struct vq *v, struct vq_msg *m)
{
	char untrusted_buf[sizeof(*m) + 1];
	ssize_t n;

	n = recv(v->fd, untrusted_buf, sizeof(untrusted_buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -EAGAIN;
	if (n <= 0)
		return v->broken = -ECONNRESET;
	if (vq_msg_parse(untrusted_buf, (size_t)n, m) < 0) {
		log_warnx("QMP reader: a bad message");
		return v->broken = -EBADMSG;
	}
	if (m->vm_op == VQ_BROKEN)
		v->broken = m->vm_arg;
	return 0;
}

int
vq_call(struct vq *v, enum vq_op op, int timeout_ms)
{
	struct vq_msg m = {.vm_op = op, .vm_arg = timeout_ms};
	uint64_t dl;

	if (v->broken)
		return v->broken;
	if (op < VQ_HANDSHAKE || op > VQ_QUIT || timeout_ms < 0 ||
	    timeout_ms > VQ_MAX_TIMEOUT_MS)
		return -EINVAL;
	if (send(v->fd, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		return v->broken = -ECONNRESET;
	dl = now_ms() + (uint64_t)timeout_ms + VQ_GRACE_MS;
	for (;;) {
		int r = io_wait_until(v->fd, POLLIN, dl);

		if (r == -ETIMEDOUT)
			v->late++; /* its result may still come: dropped */
		if (r < 0)
			return r;
		r = take(v, &m);
		if (r == -EAGAIN)
			continue;
		if (r < 0)
			return r;
		if (m.vm_op == VQ_DONE && v->late > 0) {
			v->late--; /* an earlier call's */
			continue;
		}
		/*
		 * After these the reader says VQ_BROKEN and ends: take it as
		 * said now.  (A request sent to it meanwhile would stay
		 * unread in its socket, and a unix socket closed with unread
		 * data resets its peer before that peer has read what was
		 * sent to it: the VQ_BROKEN would be lost.)
		 */
		if (m.vm_op == VQ_DONE &&
		    (m.vm_arg == -EBADMSG || m.vm_arg == -EPIPE))
			v->broken = m.vm_arg;
		return m.vm_arg; /* VQ_DONE's result, or VQ_BROKEN's why */
	}
}

int
vq_input(struct vq *v)
{
	struct vq_msg m;
	int r;

	if (v->broken)
		return v->broken;
	r = take(v, &m);
	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		return r;
	if (m.vm_op == VQ_DONE) {
		/* the late result of a call that timed out, or one nobody
		 * asked for: the reader broke the protocol */
		if (v->late == 0) {
			log_warnx("QMP reader: a result nobody asked for");
			return v->broken = -EBADMSG;
		}
		v->late--;
		return 0;
	}
	return m.vm_arg;
}

void
vq_reaped(struct vq *v, pid_t pid)
{
	if (pid == v->pid)
		v->pid = -1;
}

void
vq_stop(struct vq *v)
{
	close_fd(&v->fd);
	if (v->pid > 0) {
		(void)kill(v->pid, SIGKILL);
		while (waitpid(v->pid, NULL, 0) < 0 && errno == EINTR)
			;
		v->pid = -1;
	}
	if (!v->broken)
		v->broken = -EPIPE;
}
