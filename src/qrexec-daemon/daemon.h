/*
 * daemon.h - qrexec-daemon: the admin side's end of one qube's qrexec.
 *
 * Roles:
 *   PROC_QREXEC_DAEMON  main loop: the qube's control channel (agent), the
 *                       client socket qrexec.<id> (with qrexec.<name> and
 *                       qrexec.uuid:<uuid> links), port bookkeeping.
 *                       Runs as root only to create its sockets, then as
 *                       --user.
 *   PROC_QREXEC_CALL    one per service request from the qube: asks the
 *                       policy, then starts the call (and relays its data
 *                       in the per-qube layout).  Forked from the daemon;
 *                       its exit status is the verdict (0 = went ahead).
 *
 * Trust: the agent is the qube's and untrusted: every message is validated
 * by proto_*, and a malformed one closes the control channel (the qube
 * loses its calls, the daemon keeps running and waits for it again).
 * Clients of qrexec.<id> are local admin tools (peers with access to the
 * socket directory), still validated.
 */
#ifndef BULKHEAD_QREXEC_DAEMON_H
#define BULKHEAD_QREXEC_DAEMON_H

#include <stdbool.h>

#include "config.h"
#include <stdint.h>

#include "lib/proto/qrexec.h"
#include "lib/vchan.h"

#define DAEMON_DEFAULT_POLICY_SOCKET  BULKHEAD_RUN_DIR "/policy.sock"
#define DAEMON_DEFAULT_POLICY_PROGRAM "/usr/bin/qrexec-policy-exec"
#define DAEMON_DEFAULT_ADMIN_SOCKET   BULKHEAD_RUN_DIR "/qubesd.sock"

struct daemon_config {
	uint32_t domid;
	const char *name;
	const char *uuid;
	const char *default_user;
	const char *socket_dir;
	const char *policy_socket;
	const char *policy_program;
	const char *admin_socket; /* bulkheadd: autostart and disposables */
	struct vchan_env env;
};

/*
 * PROC_QREXEC_CALL: decide and start one call.  Returns the process exit
 * status: 0 when the call went ahead, QREXEC_EXIT_REQUEST_REFUSED when
 * denied, QREXEC_EXIT_PROBLEM on failure.
 */
int daemon_call_run(const struct daemon_config *cfg,
    const struct qrexec_trigger *req, bool requested_source_given);

#endif
