/*
 * vmux.c - bulkhead-vmux's engine (vmux.h): the vchan directory of a VM
 * qube mirrored over its virtio-serial stream.
 *
 * Runs in bulkhead-vmux on the host, as the qube's uid in the qube's
 * vchan directory, and in the guest, as its root in the guest's.  On the
 * host every byte of the stream is the guest's and hostile: each frame
 * passes proto_vmux_hdr_parse() and its type's validator, then this
 * file's phase and channel checks (vmux_frame); anything else is a
 * protocol violation that ends the engine.  What the peer can make us
 * hold is bounded: VMUX_WINDOW a channel it writes to (credit), channels
 * and mirrors by count, our queue to it by VMUX_OUT_GATE.  The local
 * sockets' bytes are opaque.  Names in the directory come from local
 * processes and are checked with the same name validator.
 */
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buffer.h"
#include "lib/log.h"
#include "lib/proto/vmux.h"
#include "lib/sock.h"
#include "lib/util.h"
#include "vm/vmux.h"

/* A channel: one local connection carried over the stream. */
struct vmux_chan {
	uint32_t id;
	int fd;               /* the local end: accepted (ours) or connected */
	bool ours;            /* we sent the OPEN */
	bool open;            /* OPEN_OK sent or received */
	bool rd_eof;          /* local EOF read, EOF queued to the peer */
	bool wr_shut;         /* the peer's EOF passed on (SHUT_WR) */
	bool wr_dead;         /* the local end takes no more: drop its bytes */
	bool peer_eof;        /* EOF received */
	bool close_sent;      /* we are done with it; waiting for the peer's */
	bool close_rcvd;      /* the peer is done with it */
	uint32_t send_credit; /* bytes we may still send */
	uint32_t recv_credit; /* bytes the peer may still send */
	uint32_t grant;       /* bytes passed on, not granted back yet */
	struct buffer to_local; /* the peer's bytes for the local end */
};

/* A mirror: our listener standing for one of the peer's. */
struct vmux_mirror {
	bool used;
	int fd;
	struct sock_ident id;
	char name[VMUX_NAME_MAX + 1];
};

/* One of our directory's listeners that the peer was told of. */
struct vmux_real {
	bool used;
	struct sock_ident id;
	char name[VMUX_NAME_MAX + 1];
};

/* What a poll entry stands for. */
enum vmux_slot_kind {
	VMUX_SLOT_STREAM,
	VMUX_SLOT_INOTIFY,
	VMUX_SLOT_MIRROR,
	VMUX_SLOT_CHAN,
	VMUX_SLOT_MAX
};

struct vmux_slot {
	enum vmux_slot_kind kind;
	void *ptr;
};

struct vmux {
	struct vmux_config cfg;
	int stream_fd;
	int inotify_fd;
	bool hello_rcvd;
	struct buffer in;  /* stream bytes not yet taken as frames */
	struct buffer out; /* frames for the stream */
	struct vmux_chan *chans[2 * VMUX_MAX_CHANNELS];
	size_t n_chans;
	size_t n_ours, n_theirs; /* live channels each side opened */
	uint32_t next_id;
	struct vmux_mirror mirrors[VMUX_MAX_LISTENERS];
	size_t n_mirrors;
	struct vmux_real reals[VMUX_MAX_LISTENERS];
	size_t n_reals;
	unsigned tmp_seq;
	struct vmux_slot slots[VMUX_MAX_POLLFDS];
	char error[256];
};

/* Room for the stream's input: one whole frame and a read's worth. */
#define VMUX_IN_LIMIT ((size_t)2 * (sizeof(struct vmux_hdr) + VMUX_MAX_PAYLOAD))
/* One read of the directory's events. */
#define VMUX_INOTIFY_BUF 4096u

static void vmux_vlog(const struct vmux *v, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vmux_vlog(const struct vmux *v, const char *fmt, va_list ap)
{
	char msg[512];

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (v->cfg.qube != NULL)
		(void)fprintf(
		    stderr, "bulkhead-vmux: qube %s: %s\n", v->cfg.qube, msg);
	else
		(void)fprintf(stderr, "bulkhead-vmux: %s\n", msg);
}

/* A line on stderr (the program's log). */
static void vmux_log(const struct vmux *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
vmux_log(const struct vmux *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmux_vlog(v, fmt, ap);
	va_end(ap);
}

static void vmux_debug(const struct vmux *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
vmux_debug(const struct vmux *v, const char *fmt, ...)
{
	va_list ap;

	if (!v->cfg.verbose)
		return;
	va_start(ap, fmt);
	vmux_vlog(v, fmt, ap);
	va_end(ap);
}

/* Record why the engine stops; returns err for the caller to pass up. */
static int vmux_fail(struct vmux *v, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
vmux_fail(struct vmux *v, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(v->error, sizeof(v->error), fmt, ap);
	va_end(ap);
	return err;
}

#define VIOLATION(v, ...)                                                      \
	vmux_fail((v), -EPROTO, "protocol violation: " __VA_ARGS__)

const char *
vmux_error(const struct vmux *v)
{
	return v->error;
}

size_t
vmux_output_pending(const struct vmux *v)
{
	return buffer_len(&v->out);
}

static void
put_u32(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)x;
	p[1] = (uint8_t)(x >> 8);
	p[2] = (uint8_t)(x >> 16);
	p[3] = (uint8_t)(x >> 24);
}

/*
 * Queue one frame.  The bounds above keep the queue under its limit; a
 * failure here is out of memory or a broken bound, and ends the engine.
 */
static int
vmux_queue(
    struct vmux *v, uint32_t type, uint32_t chan, const void *p, size_t len)
{
	uint8_t *dst = buffer_reserve(&v->out, sizeof(struct vmux_hdr) + len);

	if (dst == NULL)
		return vmux_fail(v, -errno, "queueing a %s frame: %s",
		    proto_vmux_type_name(type), strerror(errno));
	put_u32(dst, type);
	put_u32(dst + 4, chan);
	put_u32(dst + 8, (uint32_t)len);
	if (len > 0)
		memcpy(dst + sizeof(struct vmux_hdr), p, len);
	buffer_commit(&v->out, sizeof(struct vmux_hdr) + len);
	return 0;
}

static int
vmux_queue_u32(struct vmux *v, uint32_t type, uint32_t chan, uint32_t x)
{
	uint8_t b[4];

	put_u32(b, x);
	return vmux_queue(v, type, chan, b, sizeof(b));
}

/* ---- channels ---- */

static bool
vmux_id_is_ours(const struct vmux *v, uint32_t id)
{
	bool guest_id = (id & VMUX_CHAN_GUEST_BIT) != 0;

	return guest_id == (v->cfg.side == VMUX_SIDE_GUEST);
}

static struct vmux_chan *
vmux_chan_find(const struct vmux *v, uint32_t id)
{
	size_t i;

	for (i = 0; i < v->n_chans; i++)
		if (v->chans[i]->id == id)
			return v->chans[i];
	return NULL;
}

/* A new channel on fd (taken).  NULL on out of memory (fd closed). */
static struct vmux_chan *
vmux_chan_new(struct vmux *v, uint32_t id, int fd, bool ours)
{
	struct vmux_chan *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		(void)close(fd);
		return NULL;
	}
	c->id = id;
	c->fd = fd;
	c->ours = ours;
	c->send_credit = VMUX_WINDOW;
	c->recv_credit = VMUX_WINDOW;
	/* the peer never has more than its credit in flight */
	buffer_init(&c->to_local, VMUX_WINDOW);
	v->chans[v->n_chans++] = c;
	if (ours)
		v->n_ours++;
	else
		v->n_theirs++;
	return c;
}

/* Forget a channel: its local end is closed (EOF to the local side). */
static void
vmux_chan_free(struct vmux *v, struct vmux_chan *c)
{
	size_t i;

	for (i = 0; i < v->n_chans; i++)
		if (v->chans[i] == c)
			break;
	if (i < v->n_chans)
		v->chans[i] = v->chans[--v->n_chans];
	if (c->ours)
		v->n_ours--;
	else
		v->n_theirs--;
	close_fd(&c->fd);
	freezero(c->to_local.data, c->to_local.cap);
	free(c);
}

/* A free id of our half of the id space. */
static uint32_t
vmux_chan_alloc_id(struct vmux *v)
{
	uint32_t bit = v->cfg.side == VMUX_SIDE_GUEST ? VMUX_CHAN_GUEST_BIT : 0;

	/* at most 2 * VMUX_MAX_CHANNELS ids are in use: this ends soon */
	for (;;) {
		uint32_t id = (v->next_id++ & ~VMUX_CHAN_GUEST_BIT) | bit;

		if ((id & ~VMUX_CHAN_GUEST_BIT) == 0)
			continue;
		if (vmux_chan_find(v, id) == NULL)
			return id;
	}
}

/* Pass granted credit back once a batch has been written locally. */
static int
vmux_chan_grant(struct vmux *v, struct vmux_chan *c)
{
	uint32_t g = c->grant;
	int r;

	/* a peer that ended its direction sends no more: no credit needed */
	if (g < VMUX_CREDIT_BATCH || c->peer_eof || c->close_rcvd ||
	    c->close_sent)
		return 0;
	r = vmux_queue_u32(v, VMUX_CREDIT, c->id, g);
	if (r < 0)
		return r;
	c->grant = 0;
	c->recv_credit += g;
	return 0;
}

/* Returned by the channel functions below when the channel is gone. */
#define VMUX_CHAN_FREED 1

/*
 * Is the channel finished on our side?  Then tell the peer (CLOSE), and
 * forget it if the peer is finished too.  Returns 0, VMUX_CHAN_FREED or
 * -errno.
 */
static int
vmux_chan_check_done(struct vmux *v, struct vmux_chan *c)
{
	bool wr_done = c->wr_dead || c->wr_shut;
	int r;

	if (c->close_sent || !c->open)
		return 0;
	if (c->close_rcvd) {
		/* the peer has gone: pass on what it sent, then end */
		if (buffer_len(&c->to_local) > 0 && !c->wr_dead)
			return 0;
	} else if (!(c->rd_eof && wr_done)) {
		return 0;
	}
	r = vmux_queue(v, VMUX_CLOSE, c->id, NULL, 0);
	if (r < 0)
		return r;
	c->close_sent = true;
	close_fd(&c->fd);
	if (!c->close_rcvd)
		return 0;
	vmux_chan_free(v, c);
	return VMUX_CHAN_FREED;
}

/* The local end takes no more bytes: drop what waits for it. */
static void
vmux_chan_wr_dead(struct vmux_chan *c)
{
	c->wr_dead = true;
	/* dropped bytes are granted back so the peer can reach its EOF */
	c->grant += (uint32_t)buffer_len(&c->to_local);
	buffer_consume(&c->to_local, buffer_len(&c->to_local));
}

/*
 * Write what waits for the local end; SHUT_WR after the peer's EOF.
 * Returns 0, VMUX_CHAN_FREED or -errno.
 */
static int
vmux_chan_flush(struct vmux *v, struct vmux_chan *c)
{
	int r;

	while (buffer_len(&c->to_local) > 0 && !c->wr_dead) {
		ssize_t n = send(c->fd, buffer_data(&c->to_local),
		    buffer_len(&c->to_local), MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			vmux_debug(
			    v, "channel %u: write: %s", c->id, strerror(errno));
			vmux_chan_wr_dead(c);
			break;
		}
		buffer_consume(&c->to_local, (size_t)n);
		c->grant += (uint32_t)n;
	}
	r = vmux_chan_grant(v, c);
	if (r < 0)
		return r;
	if (c->peer_eof && !c->wr_shut && !c->wr_dead &&
	    buffer_len(&c->to_local) == 0) {
		/* half-close: the local reader sees EOF, can still write */
		if (shutdown(c->fd, SHUT_WR) < 0)
			vmux_chan_wr_dead(c);
		else
			c->wr_shut = true;
	}
	return vmux_chan_check_done(v, c);
}

/*
 * Read one DATA frame's worth (or EOF) from the local end.  Returns 0,
 * VMUX_CHAN_FREED or -errno.
 */
static int
vmux_chan_read(struct vmux *v, struct vmux_chan *c)
{
	size_t want =
	    c->send_credit < VMUX_MAX_DATA ? c->send_credit : VMUX_MAX_DATA;
	uint8_t *dst;
	ssize_t n;

	dst = buffer_reserve(&v->out, sizeof(struct vmux_hdr) + want);
	if (dst == NULL)
		return vmux_fail(
		    v, -errno, "queueing DATA: %s", strerror(errno));
	do
		n = read(c->fd, dst + sizeof(struct vmux_hdr), want);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n > 0) {
		put_u32(dst, VMUX_DATA);
		put_u32(dst + 4, c->id);
		put_u32(dst + 8, (uint32_t)n);
		buffer_commit(&v->out, sizeof(struct vmux_hdr) + (size_t)n);
		c->send_credit -= (uint32_t)n;
		return 0;
	}
	if (n < 0) {
		/* reset: the local end has gone both ways */
		vmux_debug(v, "channel %u: read: %s", c->id, strerror(errno));
		vmux_chan_wr_dead(c);
	}
	c->rd_eof = true;
	{
		int r = vmux_queue(v, VMUX_EOF, c->id, NULL, 0);

		if (r < 0)
			return r;
	}
	return vmux_chan_check_done(v, c);
}

static short
vmux_chan_events(const struct vmux *v, const struct vmux_chan *c)
{
	short ev = 0;

	if (c->fd < 0)
		return 0;
	if (c->open && !c->rd_eof && !c->close_rcvd && c->send_credit > 0 &&
	    buffer_len(&v->out) < VMUX_OUT_HIGH)
		ev |= POLLIN;
	if (buffer_len(&c->to_local) > 0 && !c->wr_dead)
		ev |= POLLOUT;
	return ev;
}

static int
vmux_chan_event(struct vmux *v, struct vmux_chan *c, short revents)
{
	short ev = vmux_chan_events(v, c);
	int r;

	/* a hang-up or error shows on whichever operation we wanted */
	if (revents & (POLLHUP | POLLERR))
		revents = (short)(revents | ev);
	if ((revents & POLLOUT) && (ev & POLLOUT)) {
		r = vmux_chan_flush(v, c);
		/* the channel may be gone now */
		if (r != 0)
			return r < 0 ? r : 0;
		ev = vmux_chan_events(v, c);
	}
	if ((revents & POLLIN) && (ev & POLLIN)) {
		r = vmux_chan_read(v, c);
		return r < 0 ? r : 0;
	}
	return 0;
}

/* ---- mirrors ---- */

static struct vmux_mirror *
vmux_mirror_find(struct vmux *v, const char *name)
{
	size_t i;

	for (i = 0; i < VMUX_MAX_LISTENERS; i++)
		if (v->mirrors[i].used && strcmp(v->mirrors[i].name, name) == 0)
			return &v->mirrors[i];
	return NULL;
}

/* Remove a mirror: its path if it is still ours, its listener. */
static void
vmux_mirror_remove(struct vmux *v, struct vmux_mirror *m, bool unlink_path)
{
	if (unlink_path)
		sock_unlink_if_ours(m->name, &m->id);
	close_fd(&m->fd);
	m->used = false;
	v->n_mirrors--;
}

/*
 * Listen on name for the peer's listener of that name: bound under a
 * temporary name, given its mode, and moved into place only if nothing
 * is there (a real listener of ours is never replaced).  0 or -errno.
 */
static int
vmux_mirror_add(struct vmux *v, const char *name)
{
	struct vmux_mirror *m = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	size_t i;
	int fd, r;

	for (i = 0; i < VMUX_MAX_LISTENERS && m == NULL; i++)
		if (!v->mirrors[i].used)
			m = &v->mirrors[i];
	if (m == NULL)
		return -ENOSPC;
	r = str_printf(sa.sun_path, sizeof(sa.sun_path), ".vmux.%d.%u.tmp",
	    (int)getpid(), v->tmp_seq++);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out_close;
	}
	/* the mode before the path appears: nobody finds it otherwise */
	if (chmod(sa.sun_path, v->cfg.mirror_mode) < 0 || listen(fd, 16) < 0 ||
	    lstat(sa.sun_path, &st) < 0) {
		r = -errno;
		goto out_unlink;
	}
	if (renameat2(AT_FDCWD, sa.sun_path, AT_FDCWD, name, RENAME_NOREPLACE) <
	    0) {
		r = -errno;
		goto out_unlink;
	}
	m->used = true;
	m->fd = fd;
	m->id.dev = st.st_dev;
	m->id.ino = st.st_ino;
	memcpy(m->name, name, strlen(name) + 1);
	v->n_mirrors++;
	return 0;
out_unlink:
	(void)unlink(sa.sun_path);
out_close:
	(void)close(fd);
	return r;
}

/* A client connected to a mirror: accept it, drop the mirror, OPEN. */
static int
vmux_mirror_event(struct vmux *v, struct vmux_mirror *m)
{
	struct vmux_chan *c;
	uint32_t id;
	int fd;

	fd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0 &&
	    (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED))
		return 0;
	/* one connection a listener, as vchan.c's: the path goes at once */
	if (fd < 0) {
		vmux_log(v, "accept on %s: %s, removing it", m->name,
		    strerror(errno));
		vmux_mirror_remove(v, m, true);
		return 0;
	}
	id = vmux_chan_alloc_id(v);
	c = vmux_chan_new(v, id, fd, true);
	if (c == NULL) {
		vmux_mirror_remove(v, m, true);
		return vmux_fail(v, -ENOMEM, "out of memory");
	}
	vmux_debug(v, "channel %u: OPEN %s", id, m->name);
	{
		int r = vmux_queue(v, VMUX_OPEN, id, m->name, strlen(m->name));

		vmux_mirror_remove(v, m, true);
		return r;
	}
}

/* ---- our directory's listeners ---- */

static struct vmux_real *
vmux_real_find(struct vmux *v, const char *name)
{
	size_t i;

	for (i = 0; i < VMUX_MAX_LISTENERS; i++)
		if (v->reals[i].used && strcmp(v->reals[i].name, name) == 0)
			return &v->reals[i];
	return NULL;
}

static int
vmux_real_gone(struct vmux *v, struct vmux_real *rl)
{
	rl->used = false;
	v->n_reals--;
	vmux_debug(v, "UNLISTEN %s", rl->name);
	return vmux_queue(v, VMUX_UNLISTEN, 0, rl->name, strlen(rl->name));
}

/*
 * name appeared (or may have) in our directory: if it is a socket that is
 * not one of our mirrors, announce it (again if it is a new file).
 */
static int
vmux_real_seen(struct vmux *v, const char *name)
{
	struct vmux_mirror *m;
	struct vmux_real *rl;
	struct stat st;
	size_t i;

	if (proto_vmux_name_check(name, strlen(name)) < 0)
		return 0;
	if (fstatat(AT_FDCWD, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISSOCK(st.st_mode))
		return 0;
	m = vmux_mirror_find(v, name);
	if (m != NULL) {
		if (m->id.dev == st.st_dev && m->id.ino == st.st_ino)
			return 0;
		/* a local server replaced our mirror: the name is its now */
		vmux_mirror_remove(v, m, false);
	}
	rl = vmux_real_find(v, name);
	if (rl != NULL && rl->id.dev == st.st_dev && rl->id.ino == st.st_ino)
		return 0;
	if (rl == NULL) {
		for (i = 0; i < VMUX_MAX_LISTENERS && rl == NULL; i++)
			if (!v->reals[i].used)
				rl = &v->reals[i];
		if (rl == NULL) {
			vmux_log(v, "more than %u listeners, not announcing %s",
			    VMUX_MAX_LISTENERS, name);
			return 0;
		}
		rl->used = true;
		memcpy(rl->name, name, strlen(name) + 1);
		v->n_reals++;
	}
	rl->id.dev = st.st_dev;
	rl->id.ino = st.st_ino;
	vmux_debug(v, "LISTEN %s", name);
	return vmux_queue(v, VMUX_LISTEN, 0, name, strlen(name));
}

/* Every listener in the directory, and those announced that went. */
static int
vmux_scan(struct vmux *v)
{
	struct dirent *de;
	DIR *d;
	size_t i;
	int r = 0;

	for (i = 0; i < VMUX_MAX_LISTENERS && r == 0; i++) {
		struct vmux_real *rl = &v->reals[i];
		struct stat st;

		if (!rl->used)
			continue;
		if (fstatat(AT_FDCWD, rl->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_dev != rl->id.dev || st.st_ino != rl->id.ino)
			r = vmux_real_gone(v, rl);
	}
	if (r < 0)
		return r;
	d = opendir(".");
	if (d == NULL)
		return vmux_fail(
		    v, -errno, "reading the directory: %s", strerror(errno));
	while (r == 0 && (de = readdir(d)) != NULL)
		r = vmux_real_seen(v, de->d_name);
	(void)closedir(d);
	return r;
}

static int
vmux_inotify_event(struct vmux *v)
{
	/* aligned for struct inotify_event, as inotify(7) shows */
	char buf[VMUX_INOTIFY_BUF]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	size_t off;
	int r = 0;

	do
		n = read(v->inotify_fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		return vmux_fail(v, n < 0 ? -errno : -EIO,
		    "watching the directory: %s",
		    n < 0 ? strerror(errno) : "end of events");
	for (off = 0;
	     off + sizeof(struct inotify_event) <= (size_t)n && r == 0;) {
		const struct inotify_event *ev = (const void *)(buf + off);
		const char *name = ev->len > 0 ? ev->name : "";

		off += sizeof(*ev) + ev->len;
		if (ev->mask & IN_Q_OVERFLOW) {
			r = vmux_scan(v);
		} else if (ev->mask &
		    (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
			return vmux_fail(v, -ENOENT,
			    "the vchan directory was removed or moved");
		} else if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
			r = vmux_real_seen(v, name);
		} else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
			struct vmux_real *rl = vmux_real_find(v, name);

			if (rl != NULL)
				r = vmux_real_gone(v, rl);
		}
	}
	return r;
}

/* ---- the peer's frames ---- */

/* OPEN from the peer: connect to our listener of that name. */
static int
vmux_open(struct vmux *v, uint32_t id, const struct vmux_name *n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vmux_chan *c;
	int fd = -1, err = 0;

	if (vmux_id_is_ours(v, id))
		return VIOLATION(
		    v, "OPEN with one of our channel ids (%u)", id);
	if (vmux_chan_find(v, id) != NULL)
		return VIOLATION(v, "OPEN of channel %u, which is open", id);
	if (v->n_theirs >= VMUX_MAX_CHANNELS)
		return VIOLATION(v, "more than %u channels", VMUX_MAX_CHANNELS);
	/*
	 * Only a name we announced: never one of our mirrors (that would
	 * loop back to the peer) nor a socket we did not offer.  It may
	 * have gone since (the peer's client raced our UNLISTEN).
	 */
	if (vmux_real_find(v, n->name) == NULL) {
		err = ENOENT;
	} else {
		memcpy(sa.sun_path, n->name, strlen(n->name) + 1);
		fd = socket(
		    AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			err = errno;
		else if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			/* EAGAIN: its backlog is full; we do not wait */
			err = errno;
			(void)close(fd);
		}
	}
	if (err != 0) {
		vmux_debug(
		    v, "channel %u: OPEN %s: %s", id, n->name, strerror(err));
		if (err <= 0 || err > (int)VMUX_ERRNO_MAX)
			err = EIO;
		return vmux_queue_u32(v, VMUX_OPEN_FAIL, id, (uint32_t)err);
	}
	c = vmux_chan_new(v, id, fd, false);
	if (c == NULL)
		return vmux_fail(v, -ENOMEM, "out of memory");
	c->open = true;
	vmux_debug(v, "channel %u: connected to %s", id, n->name);
	return vmux_queue(v, VMUX_OPEN_OK, id, NULL, 0);
}

static int
vmux_data(struct vmux *v, struct vmux_chan *c, const struct vmux_data *d)
{
	if (d->len > c->recv_credit)
		return VIOLATION(v,
		    "channel %u: %u bytes of DATA beyond its credit (%u)",
		    c->id, d->len, c->recv_credit);
	c->recv_credit -= d->len;
	if (c->wr_dead) {
		c->grant += d->len;
		return vmux_chan_grant(v, c);
	}
	/* fits: to_local + grant + recv_credit never exceed the window */
	if (buffer_append(&c->to_local, d->data, d->len) < 0)
		return vmux_fail(v, -ENOMEM, "channel %u: buffering: %s", c->id,
		    strerror(errno));
	return 0;
}

/* A frame of a channel: the phase checks of each type. */
static int
vmux_chan_frame(struct vmux *v, const struct vmux_hdr *h, const uint8_t *body)
{
	struct vmux_chan *c = vmux_chan_find(v, h->hdr_chan);
	const char *tn = proto_vmux_type_name(h->hdr_type);
	struct vmux_data d;
	uint32_t credit;
	int err, r;

	if (c == NULL)
		return VIOLATION(
		    v, "%s for unknown channel %u", tn, h->hdr_chan);
	/* what the peer sent before it saw our CLOSE: dropped */
	if (c->close_sent && h->hdr_type != VMUX_CLOSE)
		return 0;
	if (c->close_rcvd)
		return VIOLATION(
		    v, "%s for channel %u after its CLOSE", tn, c->id);
	if (!c->open && h->hdr_type != VMUX_OPEN_OK &&
	    h->hdr_type != VMUX_OPEN_FAIL)
		return VIOLATION(
		    v, "%s for channel %u before OPEN_OK", tn, c->id);
	switch ((enum vmux_type)h->hdr_type) {
	case VMUX_OPEN_OK:
		if (c->open || proto_vmux_open_ok_parse(body, h->hdr_len) < 0)
			return VIOLATION(
			    v, "bad OPEN_OK for channel %u", c->id);
		c->open = true;
		return 0;
	case VMUX_OPEN_FAIL:
		if (c->open ||
		    proto_vmux_open_fail_parse(body, h->hdr_len, &err) < 0)
			return VIOLATION(
			    v, "bad OPEN_FAIL for channel %u", c->id);
		vmux_debug(v, "channel %u: the peer could not connect: %s",
		    c->id, strerror(err));
		vmux_chan_free(v, c);
		return 0;
	case VMUX_DATA:
		if (proto_vmux_data_parse(body, h->hdr_len, &d) < 0)
			return VIOLATION(v, "empty DATA for channel %u", c->id);
		if (c->peer_eof)
			return VIOLATION(
			    v, "DATA for channel %u after EOF", c->id);
		return vmux_data(v, c, &d);
	case VMUX_CREDIT:
		if (proto_vmux_credit_parse(body, h->hdr_len, &credit) < 0)
			return VIOLATION(v, "bad CREDIT for channel %u", c->id);
		if (credit > VMUX_WINDOW - c->send_credit)
			return VIOLATION(
			    v, "channel %u: CREDIT beyond the window", c->id);
		c->send_credit += credit;
		return 0;
	case VMUX_EOF:
		if (proto_vmux_eof_parse(body, h->hdr_len) < 0 || c->peer_eof)
			return VIOLATION(v, "bad EOF for channel %u", c->id);
		c->peer_eof = true;
		r = vmux_chan_flush(v, c);
		return r < 0 ? r : 0;
	case VMUX_CLOSE:
		if (proto_vmux_close_parse(body, h->hdr_len) < 0)
			return VIOLATION(v, "bad CLOSE for channel %u", c->id);
		if (c->close_sent) {
			vmux_chan_free(v, c);
			return 0;
		}
		c->close_rcvd = true;
		/* pass on what is left, then end the local end */
		r = vmux_chan_flush(v, c);
		return r < 0 ? r : 0;
	case VMUX_HELLO:
	case VMUX_LISTEN:
	case VMUX_UNLISTEN:
	case VMUX_OPEN:
	case VMUX_SHUTDOWN:
	case VMUX_TYPE_MAX:
	default:
		break;
	}
	return VIOLATION(v, "unexpected %s", tn);
}

/* One frame from the peer, header validated; the phase table. */
static int
vmux_frame(struct vmux *v, const struct vmux_hdr *h, const uint8_t *body)
{
	const char *tn = proto_vmux_type_name(h->hdr_type);
	struct vmux_name n;
	struct vmux_mirror *m;
	uint32_t version;
	int r;

	if (!v->hello_rcvd) {
		if (h->hdr_type != VMUX_HELLO ||
		    proto_vmux_hello_parse(body, h->hdr_len, &version) < 0)
			return VIOLATION(v, "%s before HELLO", tn);
		/* both speak the lower version: ours is the first */
		v->hello_rcvd = true;
		return 0;
	}
	switch ((enum vmux_type)h->hdr_type) {
	case VMUX_HELLO:
		return VIOLATION(v, "a second HELLO");
	case VMUX_LISTEN:
		if (proto_vmux_listen_parse(body, h->hdr_len, &n) < 0)
			return VIOLATION(v, "bad name in LISTEN");
		if (vmux_mirror_find(v, n.name) != NULL)
			return 0;
		if (v->n_mirrors >= VMUX_MAX_LISTENERS)
			return VIOLATION(
			    v, "more than %u listeners", VMUX_MAX_LISTENERS);
		r = vmux_mirror_add(v, n.name);
		if (r == -EEXIST)
			vmux_debug(
			    v, "%s exists here, not mirroring it", n.name);
		else if (r < 0)
			vmux_log(v, "mirroring %s: %s, ignoring", n.name,
			    strerror(-r));
		else
			vmux_debug(v, "mirroring %s", n.name);
		return 0;
	case VMUX_UNLISTEN:
		if (proto_vmux_unlisten_parse(body, h->hdr_len, &n) < 0)
			return VIOLATION(v, "bad name in UNLISTEN");
		/* none: it was used (or never made); nothing to do */
		m = vmux_mirror_find(v, n.name);
		if (m != NULL)
			vmux_mirror_remove(v, m, true);
		return 0;
	case VMUX_OPEN:
		if (proto_vmux_open_parse(body, h->hdr_len, &n) < 0)
			return VIOLATION(v, "bad name in OPEN");
		return vmux_open(v, h->hdr_chan, &n);
	case VMUX_SHUTDOWN:
		if (v->cfg.side != VMUX_SIDE_GUEST ||
		    proto_vmux_shutdown_parse(body, h->hdr_len) < 0)
			return VIOLATION(v, "SHUTDOWN from the guest");
		vmux_log(v, "SHUTDOWN: sending SIGTERM to pid %d",
		    (int)v->cfg.shutdown_pid);
		if (kill(v->cfg.shutdown_pid, SIGTERM) < 0)
			vmux_log(v, "kill %d: %s, ignoring",
			    (int)v->cfg.shutdown_pid, strerror(errno));
		return 0;
	case VMUX_OPEN_OK:
	case VMUX_OPEN_FAIL:
	case VMUX_DATA:
	case VMUX_CREDIT:
	case VMUX_EOF:
	case VMUX_CLOSE:
		return vmux_chan_frame(v, h, body);
	case VMUX_TYPE_MAX:
	default:
		break;
	}
	return VIOLATION(v, "unknown frame type %u", h->hdr_type);
}

/* Take the complete frames in v->in, while our output has room. */
static int
vmux_input(struct vmux *v)
{
	while (buffer_len(&v->out) < VMUX_OUT_GATE) {
		size_t have = buffer_len(&v->in);
		const uint8_t *p;
		struct vmux_hdr h;
		int r;

		if (have < sizeof(h))
			return 0;
		p = buffer_data(&v->in);
		if (proto_vmux_hdr_parse(p, sizeof(h), &h) < 0) {
			uint32_t t = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
			uint32_t l = (uint32_t)p[8] | (uint32_t)p[9] << 8 |
			    (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;

			return VIOLATION(v,
			    "bad frame header (type %u %s, length %u)", t,
			    proto_vmux_type_name(t), l);
		}
		if (have - sizeof(h) < h.hdr_len)
			return 0;
		r = vmux_frame(v, &h, p + sizeof(h));
		if (r < 0)
			return r;
		buffer_consume(&v->in, sizeof(h) + h.hdr_len);
	}
	return 0;
}

/* Read the stream once.  0, VMUX_END, or a violation. */
static int
vmux_stream_read(struct vmux *v)
{
	size_t room = buffer_room(&v->in);
	uint8_t *dst;
	ssize_t n;

	if (room == 0)
		return 0;
	dst = buffer_reserve(&v->in, room);
	if (dst == NULL)
		return vmux_fail(
		    v, -errno, "reading the stream: %s", strerror(errno));
	do
		n = read(v->stream_fd, dst, room);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		if (n < 0)
			vmux_debug(
			    v, "reading the stream: %s", strerror(errno));
		return VMUX_END;
	}
	buffer_commit(&v->in, (size_t)n);
	return vmux_input(v);
}

/* ---- the engine ---- */

struct vmux *
vmux_new(const struct vmux_config *cfg, int stream_fd)
{
	struct vmux *v = calloc(1, sizeof(*v));
	size_t i;

	if (v == NULL)
		return NULL;
	v->cfg = *cfg;
	v->stream_fd = stream_fd;
	v->inotify_fd = -1;
	v->next_id = 1;
	for (i = 0; i < VMUX_MAX_LISTENERS; i++)
		v->mirrors[i].fd = -1;
	buffer_init(&v->in, VMUX_IN_LIMIT);
	buffer_init(&v->out, VMUX_OUT_LIMIT);
	return v;
}

int
vmux_start(struct vmux *v)
{
	uint8_t hello[4];
	int r;

	v->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (v->inotify_fd < 0)
		return vmux_fail(v, -errno, "inotify: %s", strerror(errno));
	if (inotify_add_watch(v->inotify_fd, ".",
	        IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM |
	            IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) < 0)
		return vmux_fail(
		    v, -errno, "watching the directory: %s", strerror(errno));
	put_u32(hello, VMUX_PROTOCOL_VERSION);
	r = vmux_queue(v, VMUX_HELLO, 0, hello, sizeof(hello));
	if (r < 0)
		return r;
	/* after the watch: a listener appearing now is seen either way */
	return vmux_scan(v);
}

void
vmux_free(struct vmux *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < VMUX_MAX_LISTENERS; i++)
		if (v->mirrors[i].used)
			vmux_mirror_remove(v, &v->mirrors[i], true);
	while (v->n_chans > 0)
		vmux_chan_free(v, v->chans[0]);
	close_fd(&v->inotify_fd);
	freezero(v->in.data, v->in.cap);
	freezero(v->out.data, v->out.cap);
	free(v);
}

int
vmux_send_shutdown(struct vmux *v)
{
	if (v->cfg.side != VMUX_SIDE_HOST)
		return -EINVAL;
	return vmux_queue(v, VMUX_SHUTDOWN, 0, NULL, 0);
}

size_t
vmux_pollfds(struct vmux *v, struct pollfd *pfd)
{
	bool local_room = buffer_len(&v->out) < VMUX_OUT_HIGH;
	size_t n = 0, i;
	short ev = 0;

	if (buffer_room(&v->in) > 0 && buffer_len(&v->out) < VMUX_OUT_GATE)
		ev |= POLLIN;
	if (buffer_len(&v->out) > 0)
		ev |= POLLOUT;
	pfd[n] = (struct pollfd){.fd = v->stream_fd, .events = ev};
	v->slots[n++] = (struct vmux_slot){VMUX_SLOT_STREAM, NULL};
	if (local_room && v->inotify_fd >= 0) {
		pfd[n] = (struct pollfd){.fd = v->inotify_fd, .events = POLLIN};
		v->slots[n++] = (struct vmux_slot){VMUX_SLOT_INOTIFY, NULL};
	}
	for (i = 0; i < VMUX_MAX_LISTENERS; i++) {
		struct vmux_mirror *m = &v->mirrors[i];

		/* at our limit of channels, clients wait in the backlog */
		if (!m->used || !local_room || v->n_ours >= VMUX_MAX_CHANNELS)
			continue;
		pfd[n] = (struct pollfd){.fd = m->fd, .events = POLLIN};
		v->slots[n++] = (struct vmux_slot){VMUX_SLOT_MIRROR, m};
	}
	for (i = 0; i < v->n_chans; i++) {
		struct vmux_chan *c = v->chans[i];

		/* nothing wanted: left out, or a hang-up would spin */
		ev = vmux_chan_events(v, c);
		if (ev == 0)
			continue;
		pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
		v->slots[n++] = (struct vmux_slot){VMUX_SLOT_CHAN, c};
	}
	return n;
}

int
vmux_dispatch(struct vmux *v, const struct pollfd *pfd, size_t n)
{
	size_t i;
	int r = 0;

	/*
	 * Channels first, then mirrors, the directory and the stream: a
	 * channel's event frees at most itself, a mirror's at most itself,
	 * so the entries not yet handled still point at live objects.  The
	 * stream's frames may change anything: they come last.
	 */
	for (i = 0; i < n && r == 0; i++)
		if (v->slots[i].kind == VMUX_SLOT_CHAN && pfd[i].revents)
			r = vmux_chan_event(v, v->slots[i].ptr, pfd[i].revents);
	for (i = 0; i < n && r == 0; i++)
		if (v->slots[i].kind == VMUX_SLOT_MIRROR &&
		    (pfd[i].revents & POLLIN) &&
		    buffer_len(&v->out) < VMUX_OUT_HIGH &&
		    v->n_ours < VMUX_MAX_CHANNELS)
			r = vmux_mirror_event(v, v->slots[i].ptr);
	for (i = 0; i < n && r == 0; i++)
		if (v->slots[i].kind == VMUX_SLOT_INOTIFY && pfd[i].revents)
			r = vmux_inotify_event(v);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		short re = pfd[i].revents;

		if (v->slots[i].kind != VMUX_SLOT_STREAM || re == 0)
			continue;
		if ((re & POLLOUT) || (re & (POLLHUP | POLLERR))) {
			long w = buffer_flush(&v->out, v->stream_fd);

			if (w < 0) {
				vmux_debug(v, "writing the stream: %s",
				    strerror((int)-w));
				return VMUX_END;
			}
		}
		if (re & (POLLIN | POLLHUP | POLLERR)) {
			if (buffer_room(&v->in) > 0 &&
			    buffer_len(&v->out) < VMUX_OUT_GATE)
				return vmux_stream_read(v);
			/* hung up while we could not take its bytes */
			if (re & (POLLHUP | POLLERR))
				return VMUX_END;
		}
		/* frames left waiting for room in our output */
		if (buffer_len(&v->out) < VMUX_OUT_GATE)
			return vmux_input(v);
	}
	return 0;
}
