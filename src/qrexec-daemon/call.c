/*
 * call.c - PROC_QREXEC_CALL: one service request from a qube.
 *
 * Forked from the monitor (root under bulkheadd) with the request already
 * validated twice (proto_trigger_parse in the worker and the monitor).
 * Asks the policy daemon over its socket; if that is absent or answers
 * nonsense, runs the policy program, as Qubes' daemon does; any other
 * failure denies.  Then it connects what the call needs: the target's
 * daemon, the channel directories' sockets (each its maker's alone, so
 * root is needed here), a local service for a call to the admin side.
 * Before the first byte of a qube's data (the relay, or the stream
 * protocol with the calling qube for a local service) it confines itself
 * (call_confine): the worker's user, no_new_privs, not dumpable, a
 * seccomp allowlist.  The only bytes it reads as root are the admin side's
 * own: the policy's reply and the daemons' fixed-layout answers to a
 * negotiation.  A local service itself keeps the user it was started as
 * (Qubes runs the admin side's services as its admin user: here root).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/dclient.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/privdrop.h"
#include "lib/proto/policy.h"
#include "lib/qubesd.h"
#include "lib/seccomp_util.h"
#include "lib/sock.h"
#include "lib/util.h"
#include "qrexec-daemon/daemon.h"

/* Logging to syslog (without --direct): glibc reconnects its socket. */
static const char *const call_syslog[] = {"socket", "connect"};

/* What a confined call may add to its log (stderr), at most. */
#define CALL_LOG_MAX (1024 * 1024)

int
call_confine(void *arg)
{
	const struct call_confine_arg *a = arg;
	const struct daemon_config *c = a->cfg;
	int r;

	r = priv_drop(c->user_uid, c->user_gid, CALL_LOG_MAX, a->die_with);
	if (r < 0)
		return r;
	return seccomp_util_apply(c->call_filter);
}

int
call_filter_compile(bool syslog, struct seccomp_util_prog *ret)
{
	const char *names[SECCOMP_UTIL_STREAM_NCALLS + ARRAY_SIZE(call_syslog)];
	size_t n = SECCOMP_UTIL_STREAM_NCALLS;

	memcpy(names, seccomp_util_stream_calls,
	    sizeof(seccomp_util_stream_calls[0]) * n);
	if (syslog) {
		memcpy(names + n, call_syslog, sizeof(call_syslog));
		n += ARRAY_SIZE(call_syslog);
	}
	return seccomp_util_compile(names, n, ret);
}

static int
ask_policy_socket(const struct daemon_config *cfg,
    const struct qrexec_trigger *req, bool rs, struct policy_reply *ret)
{
	char msg[QREXEC_MAX_SERVICE_NAME_LEN + 512];
	char *reply = NULL;
	size_t len;
	int fd, n, r;

	fd = sock_connect(cfg->policy_socket);
	if (fd < 0)
		return fd;
	n = proto_policy_request_format(msg, sizeof(msg), cfg->name,
	    rs ? req->source : NULL, req->target, req->service);
	if (n < 0) {
		(void)close(fd);
		return n;
	}
	r = io_write_all(fd, msg, (size_t)n);
	if (r == 0)
		r = io_read_to_eof(fd, POLICY_REPLY_MAX_LEN, &reply, &len);
	(void)close(fd);
	if (r < 0)
		return r;
	r = proto_policy_reply_parse(reply, len, ret);
	if (r < 0)
		log_warnx("policy daemon %s sent an invalid reply",
		    cfg->policy_socket);
	free(reply);
	return r;
}

static int
ask_policy_program(const struct daemon_config *cfg,
    const struct qrexec_trigger *req, struct policy_reply *ret)
{
	char *reply = NULL;
	size_t len;
	int sv[2], status, r;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		(void)close(sv[0]);
		(void)close(sv[1]);
		return r;
	}
	if (pid == 0) {
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
			_exit(QREXEC_EXIT_PROBLEM);
		execl(cfg->policy_program, "qrexec-policy-exec", "--",
		    cfg->name, req->target, req->service, (char *)NULL);
		_exit(QREXEC_EXIT_PROBLEM);
	}
	(void)close(sv[1]);
	r = io_read_to_eof(sv[0], POLICY_REPLY_MAX_LEN, &reply, &len);
	(void)close(sv[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			break;
	if (r < 0)
		return r;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(reply);
		return -EACCES; /* the program's way of saying no (or failing) */
	}
	r = proto_policy_reply_parse(reply, len, ret);
	if (r < 0)
		log_warnx("policy program %s gave an invalid reply",
		    cfg->policy_program);
	free(reply);
	return r;
}

/*
 * bulkheadd answers admin.vm.Start when the qube is up or its own start
 * timeout (the qube's qrexec_timeout) has passed; this only guards
 * against a wedged admin daemon.
 */
#define START_WAIT_S 3600

/* Is the qube's daemon socket there (Qubes' test before autostart)? */
static bool
target_running(const struct daemon_config *cfg, const char *target)
{
	char p[PATH_MAX];

	return str_printf(p, sizeof(p), "%s/qrexec.%s", cfg->socket_dir,
	           target) == 0 &&
	    access(p, F_OK) == 0;
}

/* admin.vm.Start, which answers once the qube's agent is connected */
static int
start_qube(const struct daemon_config *cfg, const char *name)
{
	char err[256];
	int r;

	log_info("%s: starting it for a call", name);
	r = qubesd_call(cfg->admin_socket, "admin.vm.Start", NULL, name,
	    START_WAIT_S, NULL, err, sizeof(err));
	if (r < 0)
		log_warnx("%s: could not start it: %s", name, err);
	return r;
}

/*
 * The call into a disposable, in a child that confines itself before the
 * relay, while this process (root) waits to kill the disposable after.
 * 0 or -errno.
 */
static int
call_in_child(const struct daemon_config *cfg, const char *disp,
    const char *cmd, const char *ident)
{
	/* the relay dies with this process, which would kill the
	 * disposable after it */
	struct call_confine_arg ca = {.cfg = cfg, .die_with = getpid()};
	struct dclient_confine cc = {.fn = call_confine, .arg = &ca};
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(dclient_execute_vm(&cfg->env, cfg->socket_dir, disp,
		          cfg->domid, cmd, ident, false, &cc) < 0 ?
		        1 :
		        0);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status))
		log_warnx("%s: the call's relay was killed by signal %d", disp,
		    WTERMSIG(status));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPROTO;
}

/*
 * A call to "@dispvm:DVM": a new disposable of DVM, started, the call run
 * in it, and the disposable killed when the call ends (it removes itself:
 * auto_cleanup).  Knowing when the call ends needs the relay, i.e. the
 * per-qube channel layout that bulkheadd uses.
 */
static int
call_disposable(const struct daemon_config *cfg, const char *dvm,
    const char *cmd, const char *ident)
{
	char err[256], *disp = NULL;
	sigset_t term, old;
	int r;

	if (cfg->env.layout != VCHAN_LAYOUT_PER_QUBE) {
		log_warnx("@dispvm:%s: disposables need the per-qube channel "
		          "layout (BULKHEAD_VCHAN_LAYOUT=per-qube)",
		    dvm);
		return -ENOTSUP;
	}
	/*
	 * From the disposable's creation to its kill, SIGTERM (the daemon
	 * ending: the calling qube went away) waits: the call then ends as
	 * its relay sees the caller gone, and the disposable is still
	 * killed rather than left running.
	 */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	(void)sigprocmask(SIG_BLOCK, &term, &old);
	r = qubesd_call(cfg->admin_socket, "admin.vm.CreateDisposable", NULL,
	    dvm, 60, &disp, err, sizeof(err));
	if (r < 0) {
		log_warnx("@dispvm:%s: %s", dvm, err);
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		return r;
	}
	/* bulkheadd's answer, checked all the same before it names a path */
	if (!proto_qube_name_valid(disp)) {
		log_warnx("@dispvm:%s: bad name from the admin daemon", dvm);
		free(disp);
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		return -EPROTO;
	}
	log_info("@dispvm:%s: created %s", dvm, disp);
	r = start_qube(cfg, disp);
	if (r == 0)
		r = call_in_child(cfg, disp, cmd, ident);
	/* halted (or never started), bulkheadd removes it */
	if (qubesd_call(cfg->admin_socket, "admin.vm.Kill", NULL, disp, 60,
	        NULL, err, sizeof(err)) < 0 &&
	    !str_startswith(err, "QubesVMNotStartedError") &&
	    !str_startswith(err, "QubesVMNotFoundError"))
		log_warnx("%s: kill: %s", disp, err);
	free(disp);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

int
daemon_call_run(
    const struct daemon_config *cfg, const struct qrexec_trigger *req, bool rs)
{
	struct call_confine_arg ca = {.cfg = cfg};
	struct dclient_confine cc = {.fn = call_confine, .arg = &ca};
	struct policy_reply pr;
	const char *service, *source, *trailer, *target;
	char *cmd = NULL;
	int r;

	r = ask_policy_socket(cfg, req, rs, &pr);
	if (r < 0)
		r = ask_policy_program(cfg, req, &pr);
	if (r < 0 || pr.result != POLICY_ALLOW) {
		log_info("%s -> %s %s: denied", cfg->name,
		    req->target[0] ? req->target : "@default", req->service);
		return QREXEC_EXIT_REQUEST_REFUSED;
	}
	service = pr.service[0] ? pr.service : req->service;
	source = pr.policy_source[0] ? pr.policy_source : cfg->name;
	trailer = strchr(service, '+') ? "" : "+";
	log_info("%s -> %s %s: allowed", cfg->name, pr.target, service);

	if (dclient_is_adminvm(pr.target)) {
		const char *rt = pr.requested_target;
		bool kw = rt[0] == '@';
		struct qrexec_service_params sp;
		char id[16];
		uint32_t dom, port;
		int fd;

		if (asprintf(&cmd, "QUBESRPC %s%s %s %s %s", service, trailer,
		        source, kw ? "keyword" : "name", kw ? rt + 1 : rt) < 0)
			return QREXEC_EXIT_PROBLEM;
		(void)snprintf(id, sizeof(id), "%u", cfg->domid);
		fd = dclient_connect(cfg->socket_dir, id);
		if (fd < 0) {
			free(cmd);
			return QREXEC_EXIT_PROBLEM;
		}
		memset(&sp, 0, sizeof(sp));
		memcpy(sp.sp_ident, req->ident, sizeof(sp.sp_ident));
		r = dclient_negotiate(
		    fd, MSG_SERVICE_CONNECT, 0, &sp, sizeof(sp), &dom, &port);
		(void)close(fd);
		if (r == 0)
			(void)dclient_run_local_service(
			    &cfg->env, dom, port, source, cmd, 5000, NULL, &cc);
		free(cmd);
		/* the verdict was already delivered by SERVICE_CONNECT */
		return r < 0 ? QREXEC_EXIT_PROBLEM : 0;
	}

	if (asprintf(&cmd, "%s:QUBESRPC %s%s %s", pr.user, service, trailer,
	        source) < 0)
		return QREXEC_EXIT_PROBLEM;
	if (strncmp(pr.target, "@dispvm:", 8) == 0) {
		r = call_disposable(cfg, pr.target + 8, cmd, req->ident);
		free(cmd);
		return r < 0 ? QREXEC_EXIT_PROBLEM : 0;
	}
	target = pr.target_uuid[0] ? pr.target_uuid : pr.target;
	/* (another call may have started it meanwhile: look again) */
	if (pr.autostart && !target_running(cfg, target) &&
	    start_qube(cfg, pr.target) < 0 && !target_running(cfg, target)) {
		free(cmd);
		return QREXEC_EXIT_PROBLEM;
	}
	r = dclient_execute_vm(&cfg->env, cfg->socket_dir, target, cfg->domid,
	    cmd, req->ident, false, &cc);
	free(cmd);
	return r < 0 ? QREXEC_EXIT_PROBLEM : 0;
}
