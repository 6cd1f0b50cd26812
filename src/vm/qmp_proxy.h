/*
 * qmp_proxy.h - the VM launcher's QMP, spoken by a confined child.
 *
 * QEMU runs guest-facing device code, so a hostile guest may own it and
 * every QMP byte is untrusted.  The launcher is root; it does not parse
 * QMP itself.  A child of it (the QMP reader) takes the QMP socket,
 * confines itself (QEMU's own ids, no groups, no_new_privs, not dumpable,
 * a seccomp allowlist without open, exec, fork or kill; it dies with the
 * launcher) and runs the QMP client (qmp.h) there.  Launcher and reader
 * exchange struct vq_msg packets over a SOCK_SEQPACKET pair: the launcher
 * asks for a command and gets its result; the reader says, unasked, when
 * QMP broke (EOF, garbage).  The launcher checks each packet
 * (vq_msg_parse) and treats anything else as a broken QMP: it kills QEMU.
 */
#ifndef BULKHEAD_VM_QMP_PROXY_H
#define BULKHEAD_VM_QMP_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum vq_op {
	/* launcher -> reader; vm_arg: the ms it has */
	VQ_HANDSHAKE = 1,
	VQ_CONT,
	VQ_STOP,
	VQ_QUIT,
	/* reader -> launcher */
	VQ_DONE,   /* vm_arg: the command's result: 0 or -errno (qmp.h) */
	VQ_BROKEN, /* vm_arg: -EPIPE (EOF: QEMU is going) or another -errno
	              (garbage: kill QEMU); the reader then exits */
	VQ_OP_MAX
};

/* Host byte order; both ends are this machine's processes. */
struct vq_msg {
	uint32_t vm_op;
	int32_t vm_arg;
};
_Static_assert(sizeof(struct vq_msg) == 8, "vq_msg layout");

/* The most a command may take (vm_arg of a request). */
#define VQ_MAX_TIMEOUT_MS 60000

/*
 * Check one packet from the reader (len bytes): exactly a struct vq_msg,
 * an op the reader sends, a result that is 0 or an errno (-4095..0).
 * 0 with *ret filled, or -EBADMSG.  Pure.
 */
int vq_msg_parse(const void *untrusted_buf, size_t len, struct vq_msg *ret);

struct vq {
	pid_t pid;     /* the reader, or -1 once reaped */
	int fd;        /* the launcher's end of the pair, or -1 */
	int broken;    /* 0, or why every call now fails (-errno) */
	unsigned late; /* calls that timed out: their results are dropped */
};

/*
 * Fork the reader with qmp_fd (the caller closes its own copy after) and
 * nothing else of the caller's but stdio: it confines itself to uid/gid
 * (when root) and serves.  0 or -errno.
 */
int vq_start(struct vq *v, int qmp_fd, uid_t uid, gid_t gid);

/*
 * Ask the reader for op (VQ_HANDSHAKE .. VQ_QUIT) with timeout_ms
 * (<= VQ_MAX_TIMEOUT_MS) and wait a little longer than that for the
 * result.  Returns it (0, or qmp.h's -errno), -ETIMEDOUT, what VQ_BROKEN
 * said (-EPIPE: QMP ended), -ECONNRESET (the reader died without a word)
 * or -EBADMSG (garbage on QMP, or the reader broke the protocol).  After
 * any of the last three (v->broken is then set) every call fails with the
 * same.
 */
int vq_call(struct vq *v, enum vq_op op, int timeout_ms);

/*
 * v->fd is readable: take what the reader sent unasked.  0 (nothing to
 * act on), -EPIPE (QMP ended: QEMU is going), or another -errno: QMP or
 * the reader broke, or the reader died (-ECONNRESET): kill QEMU.
 */
int vq_input(struct vq *v);

/* The reader was reaped by the caller's wait loop: forget its pid. */
void vq_reaped(struct vq *v, pid_t pid);

/* End the reader (close the pair, SIGKILL, reap) if it still runs. */
void vq_stop(struct vq *v);

#endif
