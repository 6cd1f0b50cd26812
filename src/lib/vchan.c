/*
 * vchan.c - the UNIX-socket implementation of the qrexec transport.
 *
 * Runs in every qrexec process.  Domain ids and ports come from validated
 * protocol messages or our own arguments; paths from our configuration.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "lib/io.h"
#include "lib/sock.h"
#include "lib/util.h"
#include "lib/vchan.h"

int
vchan_env_init(struct vchan_env *env)
{
	const char *dom = getenv("VCHAN_DOMAIN");
	const char *dir = getenv("VCHAN_SOCKET_DIR");
	const char *layout = getenv("BULKHEAD_VCHAN_LAYOUT");
	int r;

	memset(env, 0, sizeof(*env));
	if (dom != NULL && dom[0] != '\0') {
		r = parse_u32(dom, INT32_MAX, &env->my_dom);
		if (r < 0)
			return -EINVAL;
	}
	env->layout = dir ? VCHAN_LAYOUT_FLAT : VCHAN_LAYOUT_PER_QUBE;
	r = dir ? str_copy(env->dir, sizeof(env->dir), dir) :
	          bulkhead_run_path(env->dir, sizeof(env->dir), "vchan");
	if (r < 0)
		return r;
	if (layout != NULL && layout[0] != '\0') {
		if (strcmp(layout, "flat") == 0)
			env->layout = VCHAN_LAYOUT_FLAT;
		else if (strcmp(layout, "per-qube") == 0)
			env->layout = VCHAN_LAYOUT_PER_QUBE;
		else
			return -EINVAL;
	}
	return 0;
}

uint32_t
vchan_dir_dom(const struct vchan_env *env, const struct vchan_addr *a)
{
	if (env->layout != VCHAN_LAYOUT_PER_QUBE)
		return env->my_dom;
	if (a->server_dom != env->my_dom)
		return a->server_dom;
	return a->client_dom;
}

int
vchan_path(const struct vchan_env *env, uint32_t dir_dom,
    const struct vchan_addr *a, char *out, size_t outlen)
{
	if (env->layout == VCHAN_LAYOUT_PER_QUBE)
		return str_printf(out, outlen, "%s/%u/vchan.%u.%u.%u.sock",
		    env->dir, dir_dom, a->server_dom, a->client_dom, a->port);
	return str_printf(out, outlen, "%s/vchan.%u.%u.%u.sock", env->dir,
	    a->server_dom, a->client_dom, a->port);
}

int
vchan_dir_path(
    const struct vchan_env *env, uint32_t dir_dom, char *out, size_t outlen)
{
	if (env->layout == VCHAN_LAYOUT_PER_QUBE)
		return str_printf(out, outlen, "%s/%u", env->dir, dir_dom);
	return str_copy(out, outlen, env->dir);
}

int
vchan_listen(const struct vchan_env *env, uint32_t dir_dom,
    const struct vchan_addr *a, struct vchan_listener *ret)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int r;

	ret->fd = -1;
	r = vchan_path(env, dir_dom, a, ret->path, sizeof(ret->path));
	if (r < 0)
		return r;
	/*
	 * Only the channel's two ends may connect.  A qube's directory is
	 * writable by all its users (any of them may make a call), so the
	 * socket is its owner's alone (0600); the admin side (root) reaches
	 * any.  A listener the admin side makes in a qube's directory (the
	 * relay's, for the qube's agent) is given to the directory's owner,
	 * the qube's root: not to the qube's other users.
	 */
	if (geteuid() == 0) {
		char dir[PATH_MAX];
		struct stat st;

		r = vchan_dir_path(env, dir_dom, dir, sizeof(dir));
		if (r == 0 && stat(dir, &st) < 0)
			r = -errno;
		if (r < 0)
			return r;
		/*
		 * Given away before it appears: the qube's agent may be
		 * connecting already (it retries while the path is missing,
		 * not while it is root's).
		 */
		if (st.st_uid != 0) {
			uid = st.st_uid;
			gid = st.st_gid;
		}
	}
	r = sock_listen_owned(ret->path, 0600, uid, gid, true, &ret->id);
	if (r < 0)
		return r;
	ret->fd = r;
	return 0;
}

void
vchan_listener_close(struct vchan_listener *l)
{
	if (l->fd >= 0) {
		sock_unlink_if_ours(l->path, &l->id);
		close_fd(&l->fd);
	}
}

int
vchan_accept(struct vchan_listener *l, int timeout_ms)
{
	uint64_t deadline =
	    timeout_ms >= 0 ? now_ms() + (uint64_t)timeout_ms : 0;
	int fd = -ETIMEDOUT;

	for (;;) {
		struct pollfd p = {.fd = l->fd, .events = POLLIN};
		int wait = -1, r;

		if (timeout_ms >= 0) {
			uint64_t now = now_ms();

			if (now >= deadline)
				break;
			wait = (int)(deadline - now);
		}
		r = poll(&p, 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fd = -errno;
			break;
		}
		if (r == 0)
			continue;
		fd = sock_accept(l->fd, false);
		if (fd == -EAGAIN)
			continue;
		break;
	}
	/* the path serves exactly one connection: remove it right away */
	vchan_listener_close(l);
	return fd;
}

int
vchan_connect(const struct vchan_env *env, uint32_t dir_dom,
    const struct vchan_addr *a, int timeout_ms)
{
	return vchan_connect_since(env, dir_dom, a, timeout_ms, now_ms());
}

int
vchan_connect_since(const struct vchan_env *env, uint32_t dir_dom,
    const struct vchan_addr *a, int timeout_ms, uint64_t since_ms)
{
	char path[PATH_MAX];
	uint64_t deadline =
	    now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	long backoff_us = 50;
	int r;

	r = vchan_path(env, dir_dom, a, path, sizeof(path));
	if (r < 0)
		return r;
	for (;;) {
		/*
		 * A qube writes in its channel directory, and the admin side
		 * connects there as root: a symlink the qube put in place of
		 * a channel's socket must not take us to another socket on
		 * the host (say another qube's agent, then served as this
		 * qube).  It is a socket nobody listens on.
		 */
		/*
		 * A listener that does not accept (its backlog full) holds
		 * a connect() until the deadline, not for ever: the caller
		 * (a qrexec-daemon's monitor, root) must see its SIGTERM.
		 */
		r = sock_connect_nofollow_until(
		    path, timeout_ms >= 0 ? deadline : IO_NO_DEADLINE);
		if (r >= 0)
			return r;
		if (r != -ENOENT && r != -ECONNREFUSED)
			return r;
		if (timeout_ms >= 0 && now_ms() >= deadline)
			return -ETIMEDOUT;
		{
			struct timespec ts = {
			    .tv_sec = 0, .tv_nsec = backoff_us * 1000};

			(void)nanosleep(&ts, NULL);
		}
		/*
		 * A peer that is starting comes within milliseconds: look
		 * often (a connect to a missing socket costs microseconds),
		 * every 0.2 ms for the first 200 ms (a qube's agent comes
		 * 10-40 ms after its qrexec-daemon starts to look; a longer
		 * step made each start up to 3 ms later), then less often.
		 * Not inotify: closing a watch waits for an SRCU grace period
		 * (5-15 ms here), longer than it saves.
		 */
		if (now_ms() - since_ms < 200)
			backoff_us = backoff_us < 200 ? backoff_us * 2 : 200;
		else if (backoff_us < 2000)
			backoff_us *= 2;
	}
}
