/*
 * conn.c - bulkhead-gui-agent's link to the GUI domain (issue #8;
 * docs/protocol/gui.md): a UNIX stream socket the agent listens on, one
 * connection at a time, the handshake, the POOL with its fd, a bounded
 * outgoing buffer, and the reading side through gui_reader.
 *
 * Runs in bulkhead-gui-agent as the qube's user.  Untrusted input: every
 * byte read from the GUI socket (the GUI domain is more trusted than the
 * qube, but a broken or foreign peer must only cost its connection), fed
 * to gui_reader, which returns only validated messages.  A second
 * connection while one is up is closed at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "lib/log.h"
#include "lib/util.h"

static void conn_unlisten(struct agent *ag);

static void conn_flush(struct agent *ag);
static int out_append(struct agent *ag, const void *data, size_t len);

bool
conn_ready(const struct agent *ag)
{
	return ag->gui_fd >= 0 && ag->gui_ready;
}

static void
conn_update_mask(struct agent *ag)
{
	uint32_t mask = WL_EVENT_READABLE;

	if (ag->gui_src == NULL)
		return;
	if (ag->out_len > 0)
		mask |= WL_EVENT_WRITABLE;
	(void)wl_event_source_fd_update(ag->gui_src, mask);
}

/* Close the connection; with code != 0, try to say why first. */
static void
conn_drop(struct agent *ag, uint32_t code, const char *reason)
{
	struct gui_error e;
	struct gui_hdr h;

	if (ag->gui_fd < 0)
		return;
	if (code != 0) {
		memset(&e, 0, sizeof(e));
		e.error_code = code;
		if (str_copy(e.error_reason, sizeof(e.error_reason), reason) <
		    0)
			(void)str_copy(
			    e.error_reason, sizeof(e.error_reason), "error");
		h.hdr_type = GUI_MSG_ERROR;
		h.hdr_window = 0;
		h.hdr_untrusted_len = sizeof(e);
		/* One nonblocking attempt: a stuck peer does not hold us. */
		if (out_append(ag, &h, sizeof(h)) == 0 &&
		    out_append(ag, &e, sizeof(e)) == 0)
			conn_flush(ag);
		if (ag->gui_fd < 0)
			return;
	}
	log_info("gui: connection closed (%s)", reason);
	if (ag->gui_src != NULL)
		wl_event_source_remove(ag->gui_src);
	ag->gui_src = NULL;
	close_fd(&ag->gui_fd);
	gui_reader_free(ag->reader);
	ag->reader = NULL;
	ag->gui_ready = false;
	ag->out_len = 0;
	ag->out_fd_at = -1;
	wl_gui_gone(ag);
	/* ready for the next GUI domain (see conn_accept) */
	if (ag->listen_fd < 0 && ag->listen_path[0] != '\0' &&
	    conn_listen(ag, ag->listen_path) < 0)
		log_warn("gui: listening again on %s", ag->listen_path);
}

static int
out_append(struct agent *ag, const void *data, size_t len)
{
	size_t cap;
	uint8_t *n;

	if (ag->out_len + len > AGENT_OUTBUF_MAX)
		return -ENOBUFS;
	if (ag->out_len + len > ag->out_cap) {
		cap = ag->out_cap ? ag->out_cap : 65536;
		while (cap < ag->out_len + len)
			cap *= 2;
		if (cap > AGENT_OUTBUF_MAX)
			cap = AGENT_OUTBUF_MAX;
		n = realloc(ag->out, cap);
		if (n == NULL)
			return -ENOMEM;
		ag->out = n;
		ag->out_cap = cap;
	}
	memcpy(ag->out + ag->out_len, data, len);
	ag->out_len += len;
	return 0;
}

static void
conn_flush(struct agent *ag)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh;
	struct cmsghdr *c;
	struct iovec iov;
	size_t len;
	ssize_t n;

	while (ag->gui_fd >= 0 && ag->out_len > 0) {
		len = ag->out_len;
		if (ag->out_fd_at > 0)
			len = (size_t)ag->out_fd_at;
		iov.iov_base = ag->out;
		iov.iov_len = len;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (ag->out_fd_at == 0) {
			memset(cbuf, 0, sizeof(cbuf));
			mh.msg_control = cbuf;
			mh.msg_controllen = sizeof(cbuf);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &ag->pool.fd, sizeof(int));
		}
		n = sendmsg(ag->gui_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			log_warn("gui: send");
			ag->out_len = 0;
			conn_drop(ag, 0, "send failed");
			return;
		}
		if (ag->out_fd_at == 0)
			ag->out_fd_at =
			    -1; /* the fd went with the first byte */
		else if (ag->out_fd_at > 0)
			ag->out_fd_at -= n;
		memmove(ag->out, ag->out + n, ag->out_len - (size_t)n);
		ag->out_len -= (size_t)n;
	}
	conn_update_mask(ag);
}

static void
conn_send_raw(struct agent *ag, uint32_t type, uint32_t window,
    const void *body, size_t len)
{
	struct gui_hdr h = {type, window, (uint32_t)len};

	if (ag->gui_fd < 0)
		return;
	if (out_append(ag, &h, sizeof(h)) < 0 ||
	    (len > 0 && out_append(ag, body, len) < 0)) {
		log_warnx(
		    "gui: peer does not read (%zu bytes queued)", ag->out_len);
		ag->out_len = 0;
		conn_drop(ag, 0, "output buffer full");
		return;
	}
	conn_update_mask(ag);
}

/* The bucket's tokens up to now, full at most. */
static void
budget_refill(struct agent *ag)
{
	int64_t cap = (int64_t)AGENT_UPDATE_BURST(ag->update_rate) * 1000;
	uint64_t now = now_ms();

	if (now > ag->budget_ms) {
		uint64_t dt = now - ag->budget_ms;

		/* rate a second is rate thousandths a millisecond */
		ag->budget = dt > 1000 ?
		    cap :
		    ag->budget + (int64_t)dt * ag->update_rate;
		ag->budget_ms = now;
	}
	if (ag->budget > cap)
		ag->budget = cap;
}

bool
conn_budget_ok(struct agent *ag)
{
	budget_refill(ag);
	return ag->budget >= 1000;
}

int
conn_budget_wait_ms(struct agent *ag)
{
	int64_t need;

	budget_refill(ag);
	need = 1000 - ag->budget;
	if (need <= 0)
		return 1;
	return (int)((need + ag->update_rate - 1) / ag->update_rate);
}

void
conn_send(struct agent *ag, uint32_t type, uint32_t window, const void *body,
    size_t len)
{
	if (!conn_ready(ag))
		return;
	/*
	 * The kinds held back while the bucket is empty (image updates,
	 * titles) ask conn_budget_ok first and never wait here.  The others
	 * (windows made, configured, mapped, gone; the clipboard) wait for a
	 * token: the agent pauses, and with it the clients that make them,
	 * so that a client making windows in a loop is slowed to the pace
	 * instead of sending past the GUI domain's limit, which would end
	 * the connection for every window of the qube.
	 */
	budget_refill(ag);
	while (ag->budget < 1000) {
		struct timespec ts = {
		    .tv_nsec = (long)conn_budget_wait_ms(ag) * 1000000L};

		(void)nanosleep(&ts, NULL);
		budget_refill(ag);
	}
	ag->budget -= 1000;
	conn_send_raw(ag, type, window, body, len);
}

/* The xconf arrived: the connection is up.  POOL, then every window. */
static void
conn_start(struct agent *ag, const struct gui_xconf *x)
{
	struct gui_pool p = {0, ag->pool.npages};
	struct surf *s;

	ag->screen_w = x->xconf_width;
	ag->screen_h = x->xconf_height;
	log_info("gui: connected, screen %ux%u", ag->screen_w, ag->screen_h);
	/* an external pool is the admin side's to hand over, not ours */
	if (!ag->pool.external) {
		ag->out_fd_at = (ssize_t)ag->out_len;
		conn_send_raw(ag, GUI_MSG_POOL, 0, &p, sizeof(p));
	}
	if (ag->gui_fd < 0)
		return;
	ag->gui_ready = true;
	wl_list_for_each(s, &ag->surfaces, link)
	{
		if (s->id != 0 && ag->gui_fd >= 0)
			wl_announce(ag, s);
	}
	conn_flush(ag);
}

static void
conn_message(struct agent *ag, const struct gui_msg *m)
{
	char q[160];

	switch (m->type) {
	case GUI_HS_VERSION:
		log_debug("gui: version 0x%08x", m->u.version);
		break;
	case GUI_HS_XCONF:
		conn_start(ag, &m->u.xconf);
		break;
	case GUI_MSG_ERROR:
		log_warnx("gui: the GUI domain refused: code %u, %s",
		    m->u.error.error_code,
		    log_quote(q, sizeof(q), m->u.error.error_reason,
		        strnlen(m->u.error.error_reason,
		            sizeof(m->u.error.error_reason))));
		conn_drop(ag, 0, "the GUI domain sent ERROR");
		break;
	default:
		wl_gui_message(ag, m);
		break;
	}
}

static int
conn_readable(struct agent *ag)
{
	uint8_t untrusted_buf[65536];
	struct gui_msg m;
	size_t off, used;
	ssize_t n;
	int r;

	n = recv(
	    ag->gui_fd, untrusted_buf, sizeof(untrusted_buf), MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		log_warn("gui: recv");
		conn_drop(ag, 0, "recv failed");
		return -1;
	}
	if (n == 0) {
		conn_drop(ag, 0, "end of stream");
		return -1;
	}
	off = 0;
	while (off < (size_t)n && ag->gui_fd >= 0) {
		r = gui_reader_feed(ag->reader, untrusted_buf + off,
		    (size_t)n - off, &used, &m);
		if (r < 0) {
			log_warnx("gui: bad message from the GUI domain: %s "
			          "(type %s)",
			    gui_reader_error(ag->reader),
			    proto_gui_type_name(
			        gui_reader_error_type(ag->reader)));
			conn_drop(ag,
			    gui_reader_error_type(ag->reader) ==
			            GUI_HS_VERSION ?
			        GUI_ERR_VERSION :
			        GUI_ERR_PROTOCOL,
			    gui_reader_error(ag->reader));
			return -1;
		}
		off += used;
		if (r == 1)
			conn_message(ag, &m);
	}
	return 0;
}

static int
conn_event(int fd, uint32_t mask, void *data)
{
	struct agent *ag = data;

	if (mask & WL_EVENT_WRITABLE)
		conn_flush(ag);
	if (ag->gui_fd >= 0 && (mask & WL_EVENT_READABLE)) {
		if (conn_readable(ag) < 0)
			return 0;
	}
	if (ag->gui_fd >= 0 && (mask & (WL_EVENT_HANGUP | WL_EVENT_ERROR)) &&
	    !(mask & WL_EVENT_READABLE))
		conn_drop(ag, 0, "hang-up");
	if (ag->gui_fd >= 0)
		conn_flush(ag);
	return 0;
}

static int
conn_accept(int fd, uint32_t mask, void *data)
{
	struct gui_params params = {GUI_CLIPBOARD_DEFAULT, 0, false};
	struct agent *ag = data;
	uint32_t v = GUI_PROTOCOL_VERSION;
	int c;

	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("gui: accept");
		return 0;
	}
	if (ag->gui_fd >= 0) {
		log_warnx("gui: a second GUI connection, refusing it");
		(void)close(c);
		return 0;
	}
	/*
	 * One connection a listener, as a vchan server: the name goes now
	 * and comes back when this connection ends.  A VM's vmux mirrors a
	 * listener to the host only when its name appears, and removes the
	 * mirror once it is connected to.
	 */
	conn_unlisten(ag);
	if (gui_reader_new(GUI_DIR_TO_AGENT, &params, &ag->reader) < 0) {
		log_warnx("gui: out of memory, refusing a connection");
		(void)close(c);
		return 0;
	}
	ag->gui_fd = c;
	ag->gui_ready = false;
	ag->out_len = 0;
	ag->out_fd_at = -1;
	ag->gui_src = wl_event_loop_add_fd(
	    ag->loop, c, WL_EVENT_READABLE, conn_event, ag);
	if (ag->gui_src == NULL) {
		conn_drop(ag, 0, "event loop");
		return 0;
	}
	log_info("gui: connection accepted");
	if (out_append(ag, &v, sizeof(v)) < 0) {
		conn_drop(ag, 0, "out of memory");
		return 0;
	}
	conn_flush(ag);
	return 0;
}

static void
conn_unlisten(struct agent *ag)
{
	if (ag->listen_src != NULL)
		wl_event_source_remove(ag->listen_src);
	ag->listen_src = NULL;
	if (ag->listen_fd >= 0)
		(void)unlink(ag->listen_path);
	close_fd(&ag->listen_fd);
}

int
conn_listen(struct agent *ag, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, r;

	if (ag->listen_path != path &&
	    str_copy(ag->listen_path, sizeof(ag->listen_path), path) < 0)
		return -ENAMETOOLONG;
	/* bound aside and renamed into place once listening: whoever
	 * watches the directory sees only a socket that accepts */
	if (str_printf(sa.sun_path, sizeof(sa.sun_path), "%s.tmp", path) < 0)
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(sa.sun_path);
	/* A stale socket of an earlier run is replaced; nothing else is. */
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		(void)close(fd);
		return -EEXIST;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0 || rename(sa.sun_path, path) < 0) {
		r = -errno;
		(void)unlink(sa.sun_path);
		(void)close(fd);
		return r;
	}
	ag->listen_fd = fd;
	ag->listen_src = wl_event_loop_add_fd(
	    ag->loop, fd, WL_EVENT_READABLE, conn_accept, ag);
	if (ag->listen_src == NULL) {
		conn_unlisten(ag);
		return -ENOMEM;
	}
	return 0;
}

void
conn_fini(struct agent *ag)
{
	/* no listening again: set the path aside first */
	conn_unlisten(ag);
	ag->listen_path[0] = '\0';
	conn_drop(ag, GUI_ERR_SHUTDOWN, "the agent stops");
	free(ag->out);
	ag->out = NULL;
	ag->out_cap = 0;
}
