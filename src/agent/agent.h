/*
 * agent.h - qrexec-agent: runs in every qube.
 *
 * Roles (one process each):
 *   PROC_AGENT       the main loop: control channel to the admin side's
 *                    qrexec-daemon, the trigger socket for qrexec-client-vm,
 *                    bookkeeping of calls.  Never runs services itself.
 *   PROC_AGENT_CALL  one per MSG_EXEC_CMDLINE / MSG_JUST_EXEC: connects the
 *                    data channel, starts the service, moves its streams
 *                    (forked from PROC_AGENT; a bad call kills only itself).
 *
 * Trust: the daemon (admin side) is more trusted than the agent; the data
 * channel peer may be another qube (less trusted); qrexec-client-vm is any
 * local user (less trusted).  Every message is validated by proto_*.
 */
#ifndef BULKHEAD_AGENT_H
#define BULKHEAD_AGENT_H

#include <stdint.h>

#include "lib/proto/qrexec.h"
#include "lib/vchan.h"

/*
 * PROC_AGENT_CALL: run one exec request to its end (in the forked child).
 * Returns the process exit status for the call process.
 */
int agent_call_run(
    const struct vchan_env *env, uint32_t type, const struct qrexec_exec *req);

#endif
