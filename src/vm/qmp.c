/*
 * qmp.c - QMP client: the parser of one QMP line (qmp_parse) and a client
 * that runs one command at a time on a connected fd, queueing the events
 * that arrive meanwhile.
 *
 * Runs in the VM launcher of one qube (bulkheadd's per-qube process, the
 * launcher's uid), never as root.  Every byte read from the fd is
 * untrusted: QEMU runs as an unprivileged user and emulates devices for a
 * guest that may have taken it over.  So a line is bounded before it is
 * parsed, nesting is bounded before jansson recurses, each member is
 * checked before it is copied, replies must carry the id we sent, the
 * event queue is bounded, and every wait ends at the caller's deadline.
 * Anything malformed breaks the client for good (-EBADMSG); the caller
 * then kills QEMU rather than trying to resynchronise with it.
 */
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/util.h"
#include "vm/qmp.h"

/* Reads a call of qmp_read_available makes at most, so a flood of
 * events cannot keep a poll loop from serving its other fds. */
#define QMP_READS_PER_CALL 16

/* An event in the queue: what a QMP_MSG_EVENT qmp_msg carries. */
struct qmp_event {
	char name[QMP_MAX_EVENT + 1];
	uint64_t ts_sec;
	uint32_t ts_usec;
	json_t *data;
};

struct qmp {
	int fd;
	int broken; /* 0, or the -errno every call returns from now on */
	bool ready; /* greeting read, capabilities negotiated */
	unsigned int major, minor, micro;

	/* bytes read: rbuf[rpos, rlen) are not parsed yet, and hold no '\n'
	 * before rscan (so a trickled line is scanned once, not once a byte) */
	char *rbuf;
	size_t rpos, rlen, rscan;

	/* ids [unanswered, next_id) were sent and not answered yet; QEMU
	 * answers in order, so a reply to id N answers every id before N */
	uint64_t next_id, unanswered;

	struct qmp_event events[QMP_EVENT_QUEUE_MAX];
	size_t ev_head, ev_count;
	uint64_t dropped;

	struct qmp_error err;
};

/* ---- the parser ---- */

/*
 * Reject NUL and newline bytes anywhere, and nesting deeper than
 * QMP_MAX_DEPTH, before jansson (which recurses once a level) sees them.
 */
static int
check_bytes_and_depth(const char *untrusted_buf, size_t len)
{
	bool in_str = false, esc = false;
	size_t depth = 0, i;

	for (i = 0; i < len; i++) {
		char c = untrusted_buf[i];

		if (c == '\0' || c == '\n')
			return -EBADMSG;
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			break;
		case '[':
		case '{':
			if (++depth > QMP_MAX_DEPTH)
				return -EBADMSG;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* Every key of obj is one of the n in allowed. */
static bool
only_keys(json_t *obj, const char *const *allowed, size_t n)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		size_t i;

		for (i = 0; i < n; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (i == n)
			return false;
	}
	return true;
}

/* An integer member of obj in [min, max]. */
static int
get_int(json_t *obj, const char *key, json_int_t min, json_int_t max,
    json_int_t *ret)
{
	json_t *v = json_object_get(obj, key);
	json_int_t x;

	if (!json_is_integer(v))
		return -EBADMSG;
	x = json_integer_value(v);
	if (x < min || x > max)
		return -EBADMSG;
	*ret = x;
	return 0;
}

/*
 * Copy a string member of obj into dst (max bytes + NUL) if it is 1..max
 * bytes of set (a callback) characters.
 */
static int
get_string(
    json_t *obj, const char *key, size_t max, bool (*ok)(char c), char *dst)
{
	json_t *v = json_object_get(obj, key);
	const char *untrusted_s;
	size_t len, i;

	if (!json_is_string(v))
		return -EBADMSG;
	untrusted_s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0 || len > max)
		return -EBADMSG;
	for (i = 0; i < len; i++)
		if (!ok(untrusted_s[i]))
			return -EBADMSG;
	memcpy(dst, untrusted_s, len);
	dst[len] = '\0';
	return 0;
}

static bool
event_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool
class_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/* Descriptions go into logs: UTF-8 (jansson checked it), no controls. */
static bool
desc_char(char c)
{
	return (unsigned char)c >= 0x20 && c != 0x7f;
}

static int
parse_id(json_t *root, struct qmp_msg *m)
{
	json_t *id = json_object_get(root, "id");

	if (id == NULL)
		return 0;
	/* we send only non-negative integers; anything else is not ours */
	if (!json_is_integer(id) || json_integer_value(id) < 0)
		return -EBADMSG;
	m->has_id = true;
	m->id = (uint64_t)json_integer_value(id);
	return 0;
}

static int
parse_greeting(json_t *root, struct qmp_msg *m)
{
	static const char *const keys[] = {"QMP"};
	json_t *qmp = json_object_get(root, "QMP"), *ver, *qemu;
	json_int_t major, minor, micro;

	if (!only_keys(root, keys, ARRAY_SIZE(keys)) || !json_is_object(qmp))
		return -EBADMSG;
	ver = json_object_get(qmp, "version");
	if (!json_is_object(ver))
		return -EBADMSG;
	qemu = json_object_get(ver, "qemu");
	if (!json_is_object(qemu) ||
	    get_int(qemu, "major", 0, 65535, &major) < 0 ||
	    get_int(qemu, "minor", 0, 65535, &minor) < 0 ||
	    get_int(qemu, "micro", 0, 65535, &micro) < 0)
		return -EBADMSG;
	m->type = QMP_MSG_GREETING;
	m->qemu_major = (unsigned int)major;
	m->qemu_minor = (unsigned int)minor;
	m->qemu_micro = (unsigned int)micro;
	return 0;
}

static int
parse_return(json_t *root, struct qmp_msg *m)
{
	static const char *const keys[] = {"return", "id"};

	if (!only_keys(root, keys, ARRAY_SIZE(keys)) || parse_id(root, m) < 0)
		return -EBADMSG;
	m->type = QMP_MSG_RETURN;
	m->data = json_incref(json_object_get(root, "return"));
	return 0;
}

static int
parse_error(json_t *root, struct qmp_msg *m)
{
	static const char *const keys[] = {"error", "id"};
	static const char *const ekeys[] = {"class", "desc"};
	json_t *e = json_object_get(root, "error");

	if (!only_keys(root, keys, ARRAY_SIZE(keys)) || !json_is_object(e) ||
	    !only_keys(e, ekeys, ARRAY_SIZE(ekeys)) || parse_id(root, m) < 0)
		return -EBADMSG;
	if (get_string(e, "class", QMP_MAX_CLASS, class_char, m->err_class) <
	        0 ||
	    get_string(e, "desc", QMP_MAX_DESC, desc_char, m->err_desc) < 0)
		return -EBADMSG;
	m->type = QMP_MSG_ERROR;
	return 0;
}

static int
parse_event(json_t *root, struct qmp_msg *m)
{
	static const char *const keys[] = {"event", "timestamp", "data"};
	static const char *const tkeys[] = {"seconds", "microseconds"};
	json_t *ts = json_object_get(root, "timestamp");
	json_t *data = json_object_get(root, "data");
	json_int_t sec, usec;

	if (!only_keys(root, keys, ARRAY_SIZE(keys)) || !json_is_object(ts) ||
	    !only_keys(ts, tkeys, ARRAY_SIZE(tkeys)))
		return -EBADMSG;
	if (get_string(root, "event", QMP_MAX_EVENT, event_char, m->event) <
	        0 ||
	    get_int(ts, "seconds", 0, INT64_MAX, &sec) < 0 ||
	    get_int(ts, "microseconds", 0, 999999, &usec) < 0)
		return -EBADMSG;
	if (data != NULL && !json_is_object(data))
		return -EBADMSG;
	m->type = QMP_MSG_EVENT;
	m->ts_sec = (uint64_t)sec;
	m->ts_usec = (uint32_t)usec;
	m->data = json_incref(data);
	return 0;
}

int
qmp_parse(const char *untrusted_buf, size_t len, struct qmp_msg *ret)
{
	struct qmp_msg m;
	json_error_t jerr;
	json_t *root;
	int r;

	if (len == 0 || len > QMP_MAX_LINE)
		return -EBADMSG;
	r = check_bytes_and_depth(untrusted_buf, len);
	if (r < 0)
		return r;
	root = json_loadb(untrusted_buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return json_error_code(&jerr) == json_error_out_of_memory ?
		    -ENOMEM :
		    -EBADMSG;
	memset(&m, 0, sizeof(m));
	r = -EBADMSG;
	if (!json_is_object(root))
		goto out_decref;
	/* exactly one of the type keys, checked by each only_keys() */
	if (json_object_get(root, "QMP") != NULL)
		r = parse_greeting(root, &m);
	else if (json_object_get(root, "return") != NULL)
		r = parse_return(root, &m);
	else if (json_object_get(root, "error") != NULL)
		r = parse_error(root, &m);
	else if (json_object_get(root, "event") != NULL)
		r = len <= QMP_MAX_EVENT_LINE ? parse_event(root, &m) :
		                                -EBADMSG;
	if (r == 0)
		*ret = m;
out_decref:
	json_decref(root);
	return r;
}

void
qmp_msg_clear(struct qmp_msg *m)
{
	json_decref(m->data);
	memset(m, 0, sizeof(*m));
}

static const char *const run_state_names[QMP_STATE_MAX] = {
    [QMP_STATE_DEBUG] = "debug",
    [QMP_STATE_INMIGRATE] = "inmigrate",
    [QMP_STATE_INTERNAL_ERROR] = "internal-error",
    [QMP_STATE_IO_ERROR] = "io-error",
    [QMP_STATE_PAUSED] = "paused",
    [QMP_STATE_POSTMIGRATE] = "postmigrate",
    [QMP_STATE_PRELAUNCH] = "prelaunch",
    [QMP_STATE_FINISH_MIGRATE] = "finish-migrate",
    [QMP_STATE_RESTORE_VM] = "restore-vm",
    [QMP_STATE_RUNNING] = "running",
    [QMP_STATE_SAVE_VM] = "save-vm",
    [QMP_STATE_SHUTDOWN] = "shutdown",
    [QMP_STATE_SUSPENDED] = "suspended",
    [QMP_STATE_WATCHDOG] = "watchdog",
    [QMP_STATE_GUEST_PANICKED] = "guest-panicked",
    [QMP_STATE_COLO] = "colo",
};

const char *
qmp_run_state_name(enum qmp_run_state s)
{
	if ((unsigned int)s >= QMP_STATE_MAX)
		return "?";
	return run_state_names[s];
}

/* ---- the client ---- */

struct qmp *
qmp_new(int fd)
{
	struct qmp *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	/* a whole line plus its '\n' */
	q->rbuf = malloc(QMP_MAX_LINE + 1);
	if (q->rbuf == NULL) {
		free(q);
		return NULL;
	}
	q->fd = fd;
	q->next_id = 1;
	q->unanswered = 1;
	return q;
}

void
qmp_free(struct qmp *q)
{
	if (q == NULL)
		return;
	while (q->ev_count > 0) {
		json_decref(q->events[q->ev_head].data);
		q->ev_head = (q->ev_head + 1) % QMP_EVENT_QUEUE_MAX;
		q->ev_count--;
	}
	free(q->rbuf);
	free(q);
}

int
qmp_fd(const struct qmp *q)
{
	return q->fd;
}

void
qmp_qemu_version(const struct qmp *q, unsigned int *ret_major,
    unsigned int *ret_minor, unsigned int *ret_micro)
{
	*ret_major = q->major;
	*ret_minor = q->minor;
	*ret_micro = q->micro;
}

const struct qmp_error *
qmp_last_error(const struct qmp *q)
{
	return &q->err;
}

uint64_t
qmp_events_dropped(const struct qmp *q)
{
	return q->dropped;
}

/* Queue an event (taking m's data), dropping the oldest when full. */
static void
queue_event(struct qmp *q, struct qmp_msg *m)
{
	struct qmp_event *e;

	if (q->ev_count == QMP_EVENT_QUEUE_MAX) {
		json_decref(q->events[q->ev_head].data);
		q->ev_head = (q->ev_head + 1) % QMP_EVENT_QUEUE_MAX;
		q->ev_count--;
		q->dropped++;
	}
	e = &q->events[(q->ev_head + q->ev_count) % QMP_EVENT_QUEUE_MAX];
	memcpy(e->name, m->event, sizeof(e->name));
	e->ts_sec = m->ts_sec;
	e->ts_usec = m->ts_usec;
	e->data = m->data;
	m->data = NULL;
	q->ev_count++;
}

int
qmp_pop_event(struct qmp *q, struct qmp_msg *ret)
{
	struct qmp_event *e;

	if (q->ev_count == 0)
		return -EAGAIN;
	e = &q->events[q->ev_head];
	memset(ret, 0, sizeof(*ret));
	ret->type = QMP_MSG_EVENT;
	memcpy(ret->event, e->name, sizeof(ret->event));
	ret->ts_sec = e->ts_sec;
	ret->ts_usec = e->ts_usec;
	ret->data = e->data;
	e->data = NULL;
	q->ev_head = (q->ev_head + 1) % QMP_EVENT_QUEUE_MAX;
	q->ev_count--;
	return 0;
}

/*
 * The next complete line in the buffer, parsed: 1 and *ret, 0 if no
 * complete line is buffered, or -EBADMSG (also for a line that cannot
 * end within QMP_MAX_LINE).
 */
static int
take_line(struct qmp *q, struct qmp_msg *ret)
{
	char *nl;
	size_t len;
	int r;

	nl = memchr(q->rbuf + q->rscan, '\n', q->rlen - q->rscan);
	if (nl == NULL) {
		q->rscan = q->rlen;
		if (q->rlen - q->rpos > QMP_MAX_LINE)
			return -EBADMSG;
		return 0;
	}
	len = (size_t)(nl - (q->rbuf + q->rpos));
	r = qmp_parse(q->rbuf + q->rpos, len, ret);
	q->rpos += len + 1;
	q->rscan = q->rpos;
	return r < 0 ? r : 1;
}

/*
 * One read into the buffer, waiting at most until deadline (a passed
 * deadline: only what is there).  >0 bytes read, -ETIMEDOUT, -EPIPE on
 * EOF, or -errno.
 */
static int
fill(struct qmp *q, uint64_t deadline, bool wait)
{
	ssize_t n;

	/* move the partial line to the front so a full one fits */
	if (q->rpos > 0) {
		memmove(q->rbuf, q->rbuf + q->rpos, q->rlen - q->rpos);
		q->rlen -= q->rpos;
		q->rscan -= q->rpos;
		q->rpos = 0;
	}
	for (;;) {
		if (wait) {
			uint64_t now = now_ms();
			int timeout = 0, r;

			if (deadline == IO_NO_DEADLINE)
				timeout = -1;
			else if (deadline > now)
				timeout = deadline - now > INT_MAX ?
				    INT_MAX :
				    (int)(deadline - now);
			r = io_wait_readable(q->fd, timeout);
			if (r < 0)
				return r;
			if (r == 0) {
				if (timeout == 0)
					return -ETIMEDOUT;
				continue;
			}
		}
		n = recv(q->fd, q->rbuf + q->rlen, QMP_MAX_LINE + 1 - q->rlen,
		    MSG_DONTWAIT);
		if (n < 0 && errno == ENOTSOCK)
			n = read(q->fd, q->rbuf + q->rlen,
			    QMP_MAX_LINE + 1 - q->rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!wait)
				return -EAGAIN;
			if (deadline != IO_NO_DEADLINE && now_ms() >= deadline)
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		if (n == 0)
			return -EPIPE;
		q->rlen += (size_t)n;
		return (int)n;
	}
}

/*
 * Handle one parsed message after the handshake.  An event is queued; a
 * reply is checked against the ids in flight: pending (the id a command
 * waits for, or 0) is delivered (returns 1, *m kept for the caller), an
 * older one (a command that timed out) is dropped.  Returns 0, 1, or
 * -EBADMSG for a greeting, a reply without id or with an id never sent.
 */
static int
dispatch(struct qmp *q, struct qmp_msg *m, uint64_t pending)
{
	switch (m->type) {
	case QMP_MSG_EVENT:
		queue_event(q, m);
		return 0;
	case QMP_MSG_RETURN:
	case QMP_MSG_ERROR:
		if (!m->has_id || m->id < q->unanswered || m->id >= q->next_id)
			return -EBADMSG;
		q->unanswered = m->id + 1;
		if (m->id == pending)
			return 1;
		qmp_msg_clear(m);
		return 0;
	case QMP_MSG_GREETING:
	case QMP_MSG_TYPE_MAX:
		break;
	}
	return -EBADMSG;
}

/* Mark q broken with r if r is a failure that ends the stream. */
static int
fail(struct qmp *q, int r)
{
	if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN && q->broken == 0)
		q->broken = r;
	return r;
}

/* The next message, read until deadline. 0 and *ret, or -errno. */
static int
read_msg(struct qmp *q, struct qmp_msg *ret, uint64_t deadline)
{
	for (;;) {
		int r = take_line(q, ret);

		if (r > 0)
			return 0;
		if (r < 0)
			return r;
		r = fill(q, deadline, true);
		if (r < 0)
			return r;
	}
}

static bool
command_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	    c == '-';
}

static bool
command_ok(const char *cmd)
{
	size_t i, len = strlen(cmd);

	if (len == 0 || len > QMP_MAX_COMMAND)
		return false;
	for (i = 0; i < len; i++)
		if (!command_char(cmd[i]))
			return false;
	return true;
}

/*
 * Send line (len bytes, '\n' included) with pass_fd attached to its
 * first bytes (pass_fd < 0: none).  The rest goes through
 * io_write_all_until.
 */
static int
send_line(
    struct qmp *q, const char *line, size_t len, int pass_fd, uint64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t n;
	int r;

	if (pass_fd < 0)
		return io_write_all_until(q->fd, line, len, deadline);
	memset(&u, 0, sizeof(u));
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)line;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	for (;;) {
		n = sendmsg(q->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = io_wait_until(q->fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return io_write_all_until(q->fd, line + n, len - (size_t)n, deadline);
}

static int
execute(struct qmp *q, int pass_fd, const char *cmd, json_t *args,
    json_t **ret_return, uint64_t deadline)
{
	struct qmp_msg m;
	json_t *req;
	char *line;
	size_t len;
	uint64_t id;
	int r;

	if (q->broken < 0)
		return q->broken;
	if (!command_ok(cmd) || (args != NULL && !json_is_object(args)))
		return -EINVAL;
	req = json_object();
	if (req == NULL)
		return -ENOMEM;
	id = q->next_id;
	r = -ENOMEM;
	if (json_object_set_new(req, "execute", json_string(cmd)) < 0 ||
	    (args != NULL && json_object_set(req, "arguments", args) < 0) ||
	    json_object_set_new(req, "id", json_integer((json_int_t)id)) < 0)
		goto out_decref;
	/* compact output has no newline: strings escape theirs */
	line = json_dumps(req, JSON_COMPACT);
	if (line == NULL)
		goto out_decref;
	len = strlen(line);
	/* json_dumps allocated len + 1: the NUL becomes the '\n' */
	line[len++] = '\n';
	q->next_id++;
	r = send_line(q, line, len, pass_fd, deadline);
	free(line);
	if (r < 0) {
		/* part of a line may be out: the stream is lost either way */
		q->broken = r;
		goto out_decref;
	}
	for (;;) {
		r = read_msg(q, &m, deadline);
		if (r < 0)
			goto out_fail;
		r = dispatch(q, &m, id);
		if (r < 0) {
			qmp_msg_clear(&m);
			goto out_fail;
		}
		if (r > 0)
			break;
	}
	if (m.type == QMP_MSG_ERROR) {
		memcpy(q->err.class, m.err_class, sizeof(q->err.class));
		memcpy(q->err.desc, m.err_desc, sizeof(q->err.desc));
		qmp_msg_clear(&m);
		r = -EIO;
		goto out_decref;
	}
	if (ret_return != NULL) {
		*ret_return = m.data;
		m.data = NULL;
	}
	qmp_msg_clear(&m);
	r = 0;
	goto out_decref;
out_fail:
	r = fail(q, r);
out_decref:
	json_decref(req);
	return r;
}

int
qmp_execute(struct qmp *q, const char *cmd, json_t *args, json_t **ret_return,
    uint64_t deadline)
{
	if (q->broken == 0 && !q->ready)
		return -EPROTO;
	return execute(q, -1, cmd, args, ret_return, deadline);
}

int
qmp_send_fd_execute(struct qmp *q, int fd, const char *cmd, json_t *args,
    json_t **ret_return, uint64_t deadline)
{
	if (q->broken == 0 && !q->ready)
		return -EPROTO;
	if (fd < 0)
		return -EBADF;
	return execute(q, fd, cmd, args, ret_return, deadline);
}

int
qmp_handshake(struct qmp *q, uint64_t deadline)
{
	struct qmp_msg m;
	int r;

	if (q->broken < 0)
		return q->broken;
	if (q->ready)
		return -EALREADY;
	r = read_msg(q, &m, deadline);
	if (r < 0)
		return fail(q, r);
	if (m.type != QMP_MSG_GREETING) {
		qmp_msg_clear(&m);
		return fail(q, -EBADMSG);
	}
	q->major = m.qemu_major;
	q->minor = m.qemu_minor;
	q->micro = m.qemu_micro;
	qmp_msg_clear(&m);
	r = execute(q, -1, "qmp_capabilities", NULL, NULL, deadline);
	if (r < 0)
		return r;
	q->ready = true;
	return 0;
}

int
qmp_next_event(struct qmp *q, struct qmp_msg *ret, uint64_t deadline)
{
	struct qmp_msg m;
	int r;

	for (;;) {
		if (qmp_pop_event(q, ret) == 0)
			return 0;
		if (q->broken < 0)
			return q->broken;
		if (!q->ready)
			return -EPROTO;
		r = read_msg(q, &m, deadline);
		if (r < 0)
			return fail(q, r);
		/* no command waits: every valid reply here is a late one */
		r = dispatch(q, &m, 0);
		qmp_msg_clear(&m);
		if (r < 0)
			return fail(q, r);
	}
}

int
qmp_read_available(struct qmp *q)
{
	size_t before = q->ev_count;
	uint64_t dropped = q->dropped;
	struct qmp_msg m;
	int i, r = 0;

	if (q->broken < 0)
		return q->broken;
	if (!q->ready)
		return -EPROTO;
	for (i = 0; i < QMP_READS_PER_CALL; i++) {
		int rr;

		while ((r = take_line(q, &m)) > 0) {
			r = dispatch(q, &m, 0);
			qmp_msg_clear(&m);
			if (r < 0)
				return fail(q, r);
		}
		if (r < 0)
			return fail(q, r);
		rr = fill(q, 0, false);
		if (rr == -EAGAIN)
			break;
		if (rr < 0) {
			/* queue what came before the EOF or error first */
			while ((r = take_line(q, &m)) > 0) {
				r = dispatch(q, &m, 0);
				qmp_msg_clear(&m);
				if (r < 0)
					return fail(q, r);
			}
			return fail(q, r < 0 ? r : rr);
		}
	}
	/* events queued now, counting those that pushed older ones out */
	return (int)(q->ev_count - before + (q->dropped - dropped));
}

/* ---- the launcher's commands ---- */

int
qmp_cont(struct qmp *q, uint64_t deadline)
{
	return qmp_execute(q, "cont", NULL, NULL, deadline);
}

int
qmp_stop(struct qmp *q, uint64_t deadline)
{
	return qmp_execute(q, "stop", NULL, NULL, deadline);
}

int
qmp_system_powerdown(struct qmp *q, uint64_t deadline)
{
	return qmp_execute(q, "system_powerdown", NULL, NULL, deadline);
}

int
qmp_quit(struct qmp *q, uint64_t deadline)
{
	int r = qmp_execute(q, "quit", NULL, NULL, deadline);

	/* QEMU may exit before its reply is out */
	return r == -EPIPE ? 0 : r;
}

int
qmp_query_status(
    struct qmp *q, enum qmp_run_state *ret_state, uint64_t deadline)
{
	json_t *ret = NULL, *st;
	const char *untrusted_s;
	size_t i;
	int r;

	r = qmp_execute(q, "query-status", NULL, &ret, deadline);
	if (r < 0)
		return r;
	r = -EBADMSG;
	st = json_object_get(ret, "status");
	if (!json_is_string(st))
		goto out_decref;
	untrusted_s = json_string_value(st);
	for (i = 0; i < QMP_STATE_MAX; i++)
		if (strcmp(untrusted_s, run_state_names[i]) == 0)
			break;
	if (i == QMP_STATE_MAX)
		goto out_decref;
	*ret_state = (enum qmp_run_state)i;
	r = 0;
out_decref:
	json_decref(ret);
	return fail(q, r);
}

static bool
opaque_ok(const char *s)
{
	size_t i, len = strlen(s);

	if (len >= 256)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

int
qmp_add_fd(struct qmp *q, int fd, int fdset_id, const char *opaque,
    int *ret_fdset_id, int *ret_fd, uint64_t deadline)
{
	json_t *args, *ret = NULL;
	json_int_t set, qfd;
	int r;

	if (opaque != NULL && !opaque_ok(opaque))
		return -EINVAL;
	args = json_object();
	if (args == NULL)
		return -ENOMEM;
	r = -ENOMEM;
	if (fdset_id >= 0 &&
	    json_object_set_new(args, "fdset-id", json_integer(fdset_id)) < 0)
		goto out_decref;
	if (opaque != NULL &&
	    json_object_set_new(args, "opaque", json_string(opaque)) < 0)
		goto out_decref;
	r = qmp_send_fd_execute(q, fd, "add-fd", args, &ret, deadline);
	if (r < 0)
		goto out_decref;
	r = -EBADMSG;
	if (!json_is_object(ret) ||
	    get_int(ret, "fdset-id", 0, INT_MAX, &set) < 0 ||
	    get_int(ret, "fd", 0, INT_MAX, &qfd) < 0 ||
	    (fdset_id >= 0 && set != fdset_id)) {
		r = fail(q, r);
		goto out_decref;
	}
	if (ret_fdset_id != NULL)
		*ret_fdset_id = (int)set;
	if (ret_fd != NULL)
		*ret_fd = (int)qfd;
	r = 0;
out_decref:
	json_decref(ret);
	json_decref(args);
	return r;
}
