/*
 * sandbox.h - the namespace sandbox of a qube.
 *
 * Roles:
 *   PROC_SANDBOX  bulkhead-sandbox, root, started by bulkheadd for one
 *                 qube: checks its arguments again, creates the qube's
 *                 cgroup, builds its root filesystem in a private mount
 *                 namespace (idmapped so the qube's uid range owns it),
 *                 clones the qube into new user, pid, mount, net, ipc, uts
 *                 and cgroup namespaces, then only supervises it: it
 *                 passes on shutdown, kill, pause and resume, copies what
 *                 the qube writes to its stdout and stderr into its log
 *                 (bounded, never parsed: logcap.h), and removes the
 *                 cgroup when the qube is gone.
 *   PROC_QUBE_INIT bulkhead-init, PID 1 of the qube (its root, in the
 *                 qube's user namespace, seccomp-confined): starts and
 *                 restarts qrexec-agent, reaps, and on SIGTERM stops
 *                 everything in the qube.
 */
#ifndef BULKHEAD_SANDBOX_H
#define BULKHEAD_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

/* Each qube's ids: a range of this size from uid_base. */
#define SANDBOX_ID_RANGE 65536u
#define SANDBOX_UID_BASE 1000000u
/* The default user inside a qube. */
#define SANDBOX_USER_UID     1000u
#define SANDBOX_DEFAULT_PIDS 4096u

/* Where bulkhead's programs and services appear inside a qube. */
/*
 * /etc/profile.d/bulkhead.sh of the templates bulkhead makes (the host
 * template, qvm-template's): login shells reset PATH, and the qube's tools
 * must stay on it.
 */
#define SANDBOX_PROFILE_SNIPPET                                                \
	"# bulkhead: the qube's tools (qrexec-client-vm, ...)\n"               \
	"case \":$PATH:\" in\n"                                                \
	"*:" SANDBOX_TOOLS_DIR ":*) ;;\n"                                      \
	"*) PATH=\"$PATH:" SANDBOX_TOOLS_DIR "\" ;;\n"                         \
	"esac\n"

#define SANDBOX_TOOLS_DIR "/run/bulkhead/bin"
#define SANDBOX_RPC_DIR   "/run/bulkhead/qubes-rpc"
/* bulkhead's own qube services (qubes.VMShell, ...): looked up last */
#define SANDBOX_AGENT_RPC_DIR "/run/bulkhead/agent-rpc"
#define SANDBOX_VCHAN_DIR     "/run/qubes-vchan"
#define SANDBOX_AGENT_SOCK    "/run/qubes/qrexec-agent"
/* The GUI agent's vchan port (Qubes' GUI port): it listens as
 * vchan.DOMID.0.6000.sock in the channel directory. */
#define SANDBOX_GUI_PORT 6000u

/*
 * Signals PROC_SANDBOX understands (from bulkheadd): SIGTERM shut the
 * qube down, SIGINT kill it, SIGRTMIN+1 freeze it, SIGRTMIN+2 thaw it.
 */
#define SANDBOX_SIG_FREEZE (SIGRTMIN + 1)
#define SANDBOX_SIG_THAW   (SIGRTMIN + 2)

/* The uid base of a qube, from its qid. */
static inline uint32_t
sandbox_uid_base(uint32_t qid)
{
	return SANDBOX_UID_BASE + qid * SANDBOX_ID_RANGE;
}

/* The seccomp filter every process of a qube runs under.  0 or -errno. */
int sandbox_seccomp_load(void);
/*
 * The same filter, built but not loaded, into *ret (the caller releases
 * it with seccomp_release; a void * so this header needs no libseccomp):
 * for tests, which export it.  0 or -errno.
 */
int sandbox_seccomp_build(void **ret);
/* x86_64 calls from this number up (none exist in Linux 6.18, whose last
 * is 469) report ENOSYS in a qube until someone reviews them. */
#define SANDBOX_SECCOMP_FIRST_UNREVIEWED 470
#define SANDBOX_SECCOMP_LAST_UNREVIEWED  599

#endif
