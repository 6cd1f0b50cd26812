/*
 * dclient.h - the client side of a qrexec-daemon's socket
 * (<socket-dir>/qrexec.<id|name|uuid:UUID>, protocol v3), used by
 * qrexec-client and by the daemon's own call processes; and the executor
 * of services in the admin domain.
 */
#ifndef BULKHEAD_DCLIENT_H
#define BULKHEAD_DCLIENT_H

#include <stdbool.h>

#include "config.h"
#include <stdint.h>

#include "lib/vchan.h"

#define DCLIENT_DEFAULT_SOCKET_DIR BULKHEAD_RUN_DIR "/qrexec"

/* true for "dom0", "@adminvm" and the all-zero uuid */
bool dclient_is_adminvm(const char *target);

/*
 * Connect to the daemon of qube `name` (a domain id, a name or
 * "uuid:UUID") and do the HELLO exchange.  Returns the fd, -ENOENT if that
 * daemon is not running (no socket, or nobody listening), or -errno.
 */
int dclient_connect(const char *socket_dir, const char *name);

/*
 * Ask the daemon for a data port: send type (MSG_EXEC_CMDLINE,
 * MSG_JUST_EXEC or MSG_SERVICE_CONNECT) with {connect_domain, 0} and the
 * payload tail, read the reply {domain, port}.  0 or -errno.
 */
int dclient_negotiate(int fd, uint32_t type, uint32_t connect_domain,
    const void *tail, size_t taillen, uint32_t *ret_domain, uint32_t *ret_port);

/* Tell the source's daemon where the call's data channel is. */
int dclient_service_connect(
    int fd, const char *ident, uint32_t domain, uint32_t port);

/*
 * What a caller running as root does to itself once every connection of
 * a call is made and before the first byte of a qube's data is read
 * (qrexec-daemon's call process drops to an unprivileged id under a
 * seccomp allowlist).  fn returns 0, or -errno: the call is abandoned.
 * NULL where the caller stays as it is (qrexec-client, tests).
 */
struct dclient_confine {
	int (*fn)(void *arg);
	void *arg;
};

/*
 * The admin side's end of a VM -> admin-domain call: run the QUBESRPC
 * command locally, connected to the data channel (domain, port) where the
 * calling qube's qrexec-client-vm is the server.  The service is started
 * and the channel connected before confine (if not NULL) runs; the
 * channel's handshake and data come after.  Returns the exit code of the
 * call.
 */
int dclient_run_local_service(const struct vchan_env *env, uint32_t domain,
    uint32_t port, const char *source, const char *cmdline,
    int connect_timeout_ms, const char *prefix,
    const struct dclient_confine *confine);

#endif

/*
 * Start a service call in another qube for a caller qube (the part of the
 * flow after the policy said "allow"): ask the target's daemon for a data
 * port for cmdline, then tell the source's daemon (source_id) where it is,
 * with the caller's request ident.  In the per-qube layout the two qubes
 * cannot reach each other's channel, so this process then relays the data
 * between them until the call ends (after confine, if not NULL, once
 * both qubes' ends are connected).  Returns 0 or -errno.
 */
int dclient_execute_vm(const struct vchan_env *env, const char *socket_dir,
    const char *target, uint32_t source_id, const char *cmdline,
    const char *ident, bool just_exec, const struct dclient_confine *confine);
