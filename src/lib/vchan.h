/*
 * vchan.h - the qrexec transport: a bidirectional byte channel with a server
 * and a client end, addressed by (server domain, client domain, port).
 *
 * Implemented over UNIX sockets with the file naming of Qubes' vchan-socket
 * ("vchan.<server>.<client>.<port>.sock"), so Qubes' own test suite can
 * drive our binaries.  Two layouts:
 *
 *   flat      one directory for everything (Qubes' layout; what a process
 *             inside a qube sees: its own directory, bind-mounted);
 *   per-qube  the admin side's view: <root>/<domid>/ for each qube, so no
 *             qube can reach another's sockets.  A channel between two qubes
 *             is then relayed by the admin side (see relay.h).
 *
 * Rendezvous without the race of Qubes' vchan-socket: a server binds under
 * a temporary name and renames into place (a stale file is replaced
 * atomically), accepts exactly one connection and removes its path at once,
 * so a later call on the same port never meets a leftover listener.
 *
 * Everything above this interface deals in connected fds, which keeps it
 * ready for the virtio-serial transport of QEMU qubes (a multiplexer that
 * hands out fds per channel).
 */
#ifndef BULKHEAD_VCHAN_H
#define BULKHEAD_VCHAN_H

#include <stdbool.h>
#include <stdint.h>

#include <limits.h>

#include "config.h"
#include "lib/sock.h"

enum vchan_layout {
	VCHAN_LAYOUT_FLAT,
	VCHAN_LAYOUT_PER_QUBE,
	VCHAN_LAYOUT_MAX
};

struct vchan_env {
	uint32_t my_dom;          /* $VCHAN_DOMAIN, default 0 */
	char dir[PATH_MAX];       /* $VCHAN_SOCKET_DIR */
	enum vchan_layout layout; /* $BULKHEAD_VCHAN_LAYOUT */
};

struct vchan_addr {
	uint32_t server_dom;
	uint32_t client_dom;
	uint32_t port;
};

/* Default root of the per-qube layout. */
#define VCHAN_DEFAULT_DIR BULKHEAD_RUN_DIR "/vchan"

/*
 * Read the environment: VCHAN_DOMAIN (default 0), VCHAN_SOCKET_DIR and
 * BULKHEAD_VCHAN_LAYOUT ("flat" or "per-qube").  Without VCHAN_SOCKET_DIR
 * the directory is bulkhead's runtime default and the layout per-qube (for
 * the admin side); with it, flat unless the layout variable says otherwise.
 * Returns 0 or -EINVAL (with a bad value) / -ENAMETOOLONG.
 */
int vchan_env_init(struct vchan_env *env);

/*
 * Which qube's directory a channel lives in when this process opens it: in
 * the per-qube layout, the peer that is not the admin domain; otherwise
 * irrelevant (returns my_dom).
 */
uint32_t vchan_dir_dom(const struct vchan_env *env, const struct vchan_addr *a);

/* Socket path of a channel in the directory of dir_dom. 0 or -errno. */
int vchan_path(const struct vchan_env *env, uint32_t dir_dom,
    const struct vchan_addr *a, char *out, size_t outlen);

/* The directory channels of dir_dom live in. 0 or -errno. */
int vchan_dir_path(
    const struct vchan_env *env, uint32_t dir_dom, char *out, size_t outlen);

struct vchan_listener {
	int fd;
	char path[PATH_MAX];
	struct sock_ident id;
};

/* Server end: start listening.  0 or -errno. */
int vchan_listen(const struct vchan_env *env, uint32_t dir_dom,
    const struct vchan_addr *a, struct vchan_listener *ret);

/*
 * Wait up to timeout_ms (-1: forever) for the one client, then remove the
 * path and the listener.  Returns the connected fd (CLOEXEC, blocking) or
 * -ETIMEDOUT / -errno.  The listener is closed in every case.
 */
int vchan_accept(struct vchan_listener *l, int timeout_ms);

/* Give up on a listener that will not be accepted. */
void vchan_listener_close(struct vchan_listener *l);

/*
 * Client end: connect, retrying while the server is not there yet, for up
 * to timeout_ms.  Returns the fd (CLOEXEC, blocking) or -ETIMEDOUT/-errno.
 */
int vchan_connect(const struct vchan_env *env, uint32_t dir_dom,
    const struct vchan_addr *a, int timeout_ms);
/*
 * The same, as part of a wait that began at since_ms (now_ms()), for a
 * caller that retries in short tries: the first 200 ms of the whole wait
 * look every 0.2 ms, later tries less often.
 */
int vchan_connect_since(const struct vchan_env *env, uint32_t dir_dom,
    const struct vchan_addr *a, int timeout_ms, uint64_t since_ms);

#endif
