/*
 * daemon.h - qrexec-daemon: the admin side's end of one qube's qrexec.
 *
 * Roles (privilege separation, as OpenSSH's):
 *   PROC_QREXEC_DAEMON  the monitor (main.c), the admin side's user
 *                       (root under bulkheadd): connects to the qube's
 *                       agent and hands the connection to the worker,
 *                       makes the client socket qrexec.<id> (with
 *                       qrexec.<name> and qrexec.uuid:<uuid> links) and
 *                       hands it over, forks a PROC_QREXEC_CALL for each
 *                       request the worker passes on after validating it
 *                       again, and reports how each call ended.  It
 *                       reads no byte of the qube's.
 *   PROC_QREXEC_WORKER  (worker.c) everything the qube and the clients
 *                       say: the agent's HELLO and messages, the
 *                       clients' requests, port bookkeeping.  Runs as
 *                       --user (nobody without it), no_new_privs, no
 *                       files, under a seccomp allowlist.
 *   PROC_QREXEC_CALL    one per service request from the qube: asks the
 *                       policy, then starts the call (and relays its data
 *                       in the per-qube layout).  Forked from the
 *                       monitor; its exit status is the verdict (0 = went
 *                       ahead).  Root while it connects (the channel
 *                       directories' sockets are their makers' alone);
 *                       before the first byte of a qube's data it becomes
 *                       the worker's user, under its own seccomp
 *                       allowlist (call_confine).
 *
 * Trust: the agent is the qube's and untrusted: every message is validated
 * by proto_* in the worker, and a malformed one closes the control channel
 * (the qube loses its calls, the daemon keeps running and waits for it
 * again).  The worker is then untrusted too: the monitor takes only
 * struct qd_ctl messages from it, checks each against its phase, and runs
 * a request's bytes through proto_trigger_parse() again.  Clients of
 * qrexec.<id> are local admin tools (peers with access to the socket
 * directory), still validated.
 */
#ifndef BULKHEAD_QREXEC_DAEMON_H
#define BULKHEAD_QREXEC_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

#include "lib/proto/qrexec.h"
#include "lib/seccomp_util.h"
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
	/* the id the worker runs as, and a call once its connections are
	 * made (call_confine); syslog: it logs there (not --direct) */
	uid_t user_uid;
	gid_t user_gid;
	bool syslog;
	/* call_confine's filter, built once at the start
	 * (call_filter_compile: building it costs ~0.3 ms) */
	const struct seccomp_util_prog *call_filter;
};

/*
 * Monitor <-> worker, over a SOCK_SEQPACKET pair: one message a packet, a
 * struct qd_ctl and qc_len bytes after it (QD_CALL only: the trigger's
 * body as the agent sent it, at most QD_CTL_MAX_BODY).  Host byte order.
 */
enum qd_ctl_type {
	QD_AGENT = 1,  /* M->W, 1 fd: the agent's connection; qc_arg: ms
	                  it has for its HELLO */
	QD_LISTEN,     /* M->W, 1 fd: qrexec.<id>, listening */
	QD_CALL_DONE,  /* M->W: call qc_slot ended; qc_arg: its exit status
	                  (QREXEC_EXIT_PROBLEM if it never ran or was killed) */
	QD_HELLO_OK,   /* W->M: the agent's HELLO; qc_version: what we speak */
	QD_HELLO_FAIL, /* W->M: no HELLO; qc_arg: -errno (connect again) */
	QD_AGENT_LOST, /* W->M: the channel is closed (connect again) */
	QD_CALL,       /* W->M: a request for slot qc_slot; qc_arg: its
	                  message type, qc_version: the agent's version */
	QD_CTL_MAX
};

struct qd_ctl {
	uint32_t qc_type;
	uint32_t qc_slot;
	int32_t qc_arg;
	uint32_t qc_version;
	uint32_t qc_len;
	uint32_t qc_pad; /* 0 */
};
_Static_assert(sizeof(struct qd_ctl) == 24, "qd_ctl layout");

#define QD_CTL_MAX_BODY QREXEC_MAX_CTRL_MSG_LEN
/* Calls at once: the slots of QD_CALL and QD_CALL_DONE. */
#define QD_MAX_CALLS ((int)QREXEC_MAX_CLIENTS)
/* The fd the worker finds its end of the pair on. */
#define QD_WORKER_CTL_FD 3

/* Where the monitor is with the qube's channel. */
enum qd_phase {
	QD_PHASE_DIAL,  /* connecting to the agent */
	QD_PHASE_HELLO, /* the worker has the connection, HELLO under way */
	QD_PHASE_UP,    /* serving: sockets made, calls taken */
	QD_PHASE_MAX
};

/*
 * The monitor's check of one packet from the worker (len bytes): a whole
 * struct qd_ctl and exactly qc_len bytes after it, a type the phase
 * allows, zero padding and zero in the fields the type does not use;
 * QD_CALL: a slot below QD_MAX_CALLS and a body
 * proto_trigger_parse() accepts (*ret_req then points into
 * untrusted_buf).  Returns the type, with *ret (and *ret_req) filled, or
 * -EBADMSG.  Any process may call it; it keeps nothing.
 */
int qd_ctl_parse(enum qd_phase phase, const void *untrusted_buf, size_t len,
    struct qd_ctl *ret, struct qrexec_trigger *ret_req);

/*
 * PROC_QREXEC_WORKER: confine this process (to uid/gid when root: never
 * root again; no_new_privs; not dumpable; seccomp, which lets syslog
 * reconnect only if it logs there) and serve the qube's channel and the
 * clients, driven by the monitor over ctl_fd (an fd of its own: every
 * other above stderr is closed).  Returns its exit status (0: the monitor
 * hung up or SIGTERM).
 */
int worker_main(const struct daemon_config *cfg, int ctl_fd, uid_t uid,
    gid_t gid, bool syslog);

/*
 * PROC_QREXEC_CALL: decide and start one call.  Returns the process exit
 * status: 0 when the call went ahead, QREXEC_EXIT_REQUEST_REFUSED when
 * denied, QREXEC_EXIT_PROBLEM on failure.
 */
int daemon_call_run(const struct daemon_config *cfg,
    const struct qrexec_trigger *req, bool requested_source_given);

/*
 * PROC_QREXEC_CALL, its connections made: become cfg's user (never root
 * again), no_new_privs, not dumpable, die with die_with if not 0 (its
 * parent), and load the allowlist of what a relay or a local service's
 * stream needs (no open, exec, fork, kill, connect but syslog's).  arg: a
 * struct call_confine_arg.  0 or -errno.  (struct dclient_confine's fn.)
 */
struct call_confine_arg {
	const struct daemon_config *cfg;
	pid_t die_with;
};
int call_confine(void *arg);

/* call_confine's seccomp program, for cfg->call_filter.  0 or -errno. */
int call_filter_compile(bool syslog, struct seccomp_util_prog *ret);

#endif
