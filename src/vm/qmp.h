/*
 * qmp.h - a client for QEMU's machine protocol (QMP) over a connected fd,
 * used by the VM launcher that runs one qube's QEMU.
 *
 * QEMU runs unprivileged and processes guest-controlled data, so every
 * byte it sends is untrusted: one line is at most QMP_MAX_LINE bytes, is
 * parsed by the pure qmp_parse() into a struct qmp_msg or rejected with
 * -EBADMSG, and the client never waits past the caller's deadline.  A
 * client that saw garbage, EOF or an I/O error is broken for good: every
 * later call returns that error, and the caller kills QEMU.
 *
 * Deadlines are absolute now_ms() times (CLOCK_MONOTONIC milliseconds,
 * io_deadline() in lib/io.h) or IO_NO_DEADLINE.  No global state; nothing
 * here logs or exits.
 */
#ifndef BULKHEAD_VM_QMP_H
#define BULKHEAD_VM_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* One message line, without its '\n'.  QEMU's longest replies that the
 * launcher asks for (query-named-block-nodes of a few disks) are a few KiB. */
#define QMP_MAX_LINE ((size_t)64 * 1024)
/* Nesting of arrays and objects in one message (QEMU's replies: < 10). */
#define QMP_MAX_DEPTH 32
/* Event names: [A-Z0-9_], 1 to this many bytes. */
#define QMP_MAX_EVENT 64
/* Error classes: [A-Za-z0-9_], 1 to this many bytes. */
#define QMP_MAX_CLASS 64
/* Error descriptions: UTF-8 without control characters, at most this. */
#define QMP_MAX_DESC 4096
/*
 * An event's whole line.  QEMU's events are well under 1 KiB; the bound
 * keeps the queue's memory small (jansson's tree of a line of empty
 * arrays is ~20 times the line: 64 events of 4 KiB, ~5 MiB at worst).
 */
#define QMP_MAX_EVENT_LINE 4096
/* Events queued while waiting for a reply; beyond it the oldest is dropped. */
#define QMP_EVENT_QUEUE_MAX 64
/* Command names we send: [a-z0-9_-], 1 to this many bytes. */
#define QMP_MAX_COMMAND 64

enum qmp_msg_type {
	QMP_MSG_GREETING, /* {"QMP": {"version": {"qemu": ...}, ...}} */
	QMP_MSG_RETURN,   /* {"return": ..., "id": N} */
	QMP_MSG_ERROR,    /* {"error": {"class", "desc"}, "id": N} */
	QMP_MSG_EVENT,    /* {"event", "timestamp", "data"?} */
	QMP_MSG_TYPE_MAX
};

/*
 * One parsed message.  Which members are set depends on type; data is a
 * reference owned by the message (released by qmp_msg_clear).
 */
struct qmp_msg {
	enum qmp_msg_type type;
	/* RETURN and ERROR: the "id" member, if any (always a number >= 0) */
	bool has_id;
	uint64_t id;
	/* GREETING: QMP.version.qemu */
	unsigned int qemu_major, qemu_minor, qemu_micro;
	/* ERROR */
	char err_class[QMP_MAX_CLASS + 1];
	char err_desc[QMP_MAX_DESC + 1];
	/* EVENT */
	char event[QMP_MAX_EVENT + 1];
	uint64_t ts_sec;
	uint32_t ts_usec;
	/* RETURN: the "return" value (any JSON type); EVENT: "data" (an
	 * object) or NULL when the event has none; otherwise NULL */
	json_t *data;
};

/*
 * Parse one QMP message: len bytes of a line without its '\n' (a '\r'
 * before it is accepted as JSON whitespace).  The line must be one JSON
 * object of at most QMP_MAX_LINE bytes (QMP_MAX_EVENT_LINE for an event)
 * and QMP_MAX_DEPTH levels, without
 * NUL bytes, newlines or duplicate keys, whose top-level members are
 * exactly those of one message type listed above; strings are copied only
 * after their length and characters are checked.  Returns 0 and fills
 * *ret (the caller calls qmp_msg_clear), or -EBADMSG (*ret untouched), or
 * -ENOMEM.  Pure: no I/O; any process may call it.
 */
int qmp_parse(const char *untrusted_buf, size_t len, struct qmp_msg *ret);

/* Release m->data and zero m.  m may be zeroed already. */
void qmp_msg_clear(struct qmp_msg *m);

/* The error of the last command that failed with -EIO. */
struct qmp_error {
	char class[QMP_MAX_CLASS + 1];
	char desc[QMP_MAX_DESC + 1];
};

/* QEMU's RunState, as query-status reports it (QEMU 7.2's full list). */
enum qmp_run_state {
	QMP_STATE_DEBUG,
	QMP_STATE_INMIGRATE,
	QMP_STATE_INTERNAL_ERROR,
	QMP_STATE_IO_ERROR,
	QMP_STATE_PAUSED,
	QMP_STATE_POSTMIGRATE,
	QMP_STATE_PRELAUNCH,
	QMP_STATE_FINISH_MIGRATE,
	QMP_STATE_RESTORE_VM,
	QMP_STATE_RUNNING,
	QMP_STATE_SAVE_VM,
	QMP_STATE_SHUTDOWN,
	QMP_STATE_SUSPENDED,
	QMP_STATE_WATCHDOG,
	QMP_STATE_GUEST_PANICKED,
	QMP_STATE_COLO,
	QMP_STATE_MAX
};

/* The QMP name of a state ("prelaunch"), or "?" out of range. */
const char *qmp_run_state_name(enum qmp_run_state s);

struct qmp;

/*
 * A client on fd, a connected stream socket (or any readable and writable
 * fd, then without fd passing).  The client does not own fd: the caller
 * closes it after qmp_free.  Returns NULL only on out of memory.
 */
struct qmp *qmp_new(int fd);
/* Free q and every queued event (fd stays open).  NULL is a no-op. */
void qmp_free(struct qmp *q);
/* The fd, for a poll loop (POLLIN, then qmp_read_available). */
int qmp_fd(const struct qmp *q);

/*
 * Read QEMU's greeting, check it names QMP.version.qemu, and leave
 * negotiation mode with qmp_capabilities.  0, -EBADMSG (anything but a
 * greeting first, or a bad reply), -EIO (QEMU refused), -ETIMEDOUT,
 * -EPIPE (EOF) or -errno.  The version is then qmp_qemu_version()'s.
 */
int qmp_handshake(struct qmp *q, uint64_t deadline);
/* The greeting's version (zeros before the handshake). */
void qmp_qemu_version(const struct qmp *q, unsigned int *ret_major,
    unsigned int *ret_minor, unsigned int *ret_micro);

/*
 * Run one command: send {"execute": cmd, "arguments": args, "id": N} and
 * wait until deadline for the reply carrying id N, queueing the events
 * that arrive meanwhile.  args (an object or NULL) is borrowed.  On 0,
 * *ret_return (if not NULL) gets a new reference to the "return" value.
 * Returns 0; -EIO when QEMU answered with an error (qmp_last_error);
 * -ETIMEDOUT (the client stays usable: the late reply is recognised by
 * its id and dropped); -EBADMSG for garbage, a reply with another id or
 * one nobody asked for (the client is broken: kill QEMU); -EPIPE on EOF;
 * -EINVAL for a bad cmd or args; -EPROTO before the handshake; -errno.
 */
int qmp_execute(struct qmp *q, const char *cmd, json_t *args,
    json_t **ret_return, uint64_t deadline);

/*
 * qmp_execute, with fd passed to QEMU (SCM_RIGHTS) on the same message;
 * QEMU keeps it for this command (add-fd, getfd).  The caller still owns
 * and closes its copy of fd.  q's fd must be a unix socket (else -ENOTSOCK).
 */
int qmp_send_fd_execute(struct qmp *q, int fd, const char *cmd, json_t *args,
    json_t **ret_return, uint64_t deadline);

/* The error of the last command that returned -EIO. */
const struct qmp_error *qmp_last_error(const struct qmp *q);

/*
 * The next event, from the queue or read until deadline (a passed
 * deadline only reads what is already there).  0 and *ret filled (the
 * caller calls qmp_msg_clear), -ETIMEDOUT, or the errors of qmp_execute.
 */
int qmp_next_event(struct qmp *q, struct qmp_msg *ret, uint64_t deadline);

/*
 * For a poll loop, when qmp_fd() is readable: read what is there without
 * blocking, and queue the events of every complete line.  Returns the
 * number of events queued now (>= 0), -EPIPE on EOF (after queueing what
 * came before it), -EBADMSG, or -errno.
 */
int qmp_read_available(struct qmp *q);
/* Take the oldest queued event: 0 and *ret filled, or -EAGAIN if none. */
int qmp_pop_event(struct qmp *q, struct qmp_msg *ret);
/* Events dropped because the queue was full, since qmp_new. */
uint64_t qmp_events_dropped(const struct qmp *q);

/* The launcher's commands; 0 or the errors of qmp_execute. */
int qmp_cont(struct qmp *q, uint64_t deadline);
int qmp_stop(struct qmp *q, uint64_t deadline);
int qmp_system_powerdown(struct qmp *q, uint64_t deadline);
/* quit: EOF instead of the reply also counts as success (QEMU exits). */
int qmp_quit(struct qmp *q, uint64_t deadline);
/* query-status: 0 and *ret_state, -EBADMSG for an unknown status. */
int qmp_query_status(
    struct qmp *q, enum qmp_run_state *ret_state, uint64_t deadline);
/*
 * add-fd: pass fd to QEMU into fd set fdset_id (< 0: a new set), with an
 * optional opaque string (NULL: none; printable ASCII, < 256 bytes).  On
 * 0, *ret_fdset_id and *ret_fd (QEMU's number for it) if not NULL.
 */
int qmp_add_fd(struct qmp *q, int fd, int fdset_id, const char *opaque,
    int *ret_fdset_id, int *ret_fd, uint64_t deadline);

#endif
