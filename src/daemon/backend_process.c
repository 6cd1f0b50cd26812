/*
 * backend_process.c - the "process" backend: a qube is its qrexec-agent
 * running as a plain process (in a session of its own) with a channel
 * directory of its own.  No isolation at all: it exists so that tests
 * can drive bulkheadd end to end before (and beside) the namespace
 * sandbox.  Selected only with "bulkheadd --backend=process".
 *
 * Runs in bulkheadd's main process; forks the qube's agent.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/bulkheadd.h"
#include "lib/util.h"

int find_program(struct daemon *d, const char *name, char *out, size_t n);

static int
proc_start(struct daemon *d, const struct db_qube *q, struct running *r,
    char *err, size_t errlen)
{
	char prog[PATH_MAX], vchan[PATH_MAX], trig[PATH_MAX], log[PATH_MAX];
	char svc[3 * PATH_MAX], domid[16];
	const char *user = getenv("BULKHEAD_PROCESS_USER");
	struct passwd *pw = NULL;
	pid_t pid;

	if (find_program(d, "qrexec-agent", prog, sizeof(prog)) < 0) {
		(void)snprintf(err, errlen, "qrexec-agent not found");
		return -ENOENT;
	}
	if (user != NULL && (pw = getpwnam(user)) == NULL) {
		(void)snprintf(err, errlen, "no such user %s", user);
		return -ENOENT;
	}
	(void)str_printf(
	    vchan, sizeof(vchan), "%s/vchan/%u", d->cfg.run_dir, r->rt.domid);
	(void)str_printf(trig, sizeof(trig),
	    "--agent-socket=%s/qubes/%s/"
	    "qrexec-agent.sock",
	    d->cfg.run_dir, q->name);
	(void)str_printf(
	    log, sizeof(log), "%s/log/%s.agent.log", d->cfg.state_dir, q->name);
	(void)str_printf(svc, sizeof(svc), "%s/qubes/%s/rpc:%s/qubes-rpc",
	    d->cfg.state_dir, q->name, d->cfg.conf_dir);
	(void)str_printf(domid, sizeof(domid), "%u", r->rt.domid);
	if (pw && chown(vchan, pw->pw_uid, pw->pw_gid) < 0) {
		(void)snprintf(
		    err, errlen, "chown %s: %s", vchan, strerror(errno));
		return -errno;
	}
	{
		const char *env[] = {"VCHAN_DOMAIN", domid, "VCHAN_SOCKET_DIR",
		    vchan, "QREXEC_SERVICE_PATH", svc, NULL};
		const char *unset[] = {"BULKHEAD_VCHAN_LAYOUT", NULL};
		char *argv[] = {"qrexec-agent", trig, NULL};
		/* its own process group: killed as one */
		const struct spawn_opts o = {
		    .log = log, .env = env, .unset = unset, .fd3 = -1, .as = pw};

		pid = spawn_logged(prog, argv, &o);
	}
	if (pid < 0) {
		(void)snprintf(err, errlen, "fork: %s", strerror((int)-pid));
		return (int)pid;
	}
	r->init_pid = pid;
	return 0;
}

static int
signal_group(struct running *r, int sig)
{
	if (r->init_pid <= 1)
		return -ESRCH;
	if (kill(-r->init_pid, sig) < 0 && kill(r->init_pid, sig) < 0)
		return -errno;
	return 0;
}

static int
proc_shutdown(struct daemon *d, struct running *r)
{
	(void)d;
	return signal_group(r, SIGTERM);
}

static int
proc_kill(struct daemon *d, struct running *r)
{
	(void)d;
	return signal_group(r, SIGKILL);
}

static int
proc_pause(struct daemon *d, struct running *r)
{
	(void)d;
	return signal_group(r, SIGSTOP);
}

static int
proc_unpause(struct daemon *d, struct running *r)
{
	(void)d;
	return signal_group(r, SIGCONT);
}

static void
proc_cleanup(struct daemon *d, struct running *r)
{
	(void)d;
	/* whatever the agent left running in its group goes with it (not
	 * a group whose pid may be another's by now) */
	if (!r->init_stale)
		(void)signal_group(r, SIGKILL);
}

const struct backend_ops backend_process = {
    .name = "process",
    .start = proc_start,
    .shutdown = proc_shutdown,
    .kill = proc_kill,
    .pause = proc_pause,
    .unpause = proc_unpause,
    .cleanup = proc_cleanup,
};
