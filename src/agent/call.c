/*
 * call.c - PROC_AGENT_CALL: one service call inside a qube.
 *
 * Runs as the agent's uid (root in the qube, or the test user), forked from
 * the agent for each MSG_EXEC_CMDLINE/MSG_JUST_EXEC.  Untrusted input: the
 * data channel (the caller may be another qube), parsed by stream.c.  The
 * command line comes from the daemon and was checked by proto_exec_parse and
 * qcmd_parse.  This process must exec services and open their paths, so it
 * keeps the agent's filesystem view.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/msg.h"
#include "lib/qcmd.h"
#include "lib/service.h"
#include "lib/stream.h"
#include "lib/util.h"

/* How long a call waits for the caller's end of the data channel. */
#define CALL_CONNECT_TIMEOUT_MS (120 * 1000)

/* MSG_JUST_EXEC: start and forget; the exit code says only "started". */
static int
just_exec(struct qcmd *c, const char *user)
{
	char err[512];
	struct svc_target t;
	struct svc_proc p;
	int r;

	if (c == NULL)
		return QREXEC_EXIT_PROBLEM;
	if (c->is_rpc) {
		r = svc_lookup(svc_path(), c, &t, err, sizeof(err));
		if (r == -ENOENT)
			return QREXEC_EXIT_SERVICE_NOT_FOUND;
		if (r < 0) {
			log_warnx("%s", err);
			return QREXEC_EXIT_PROBLEM;
		}
		if (t.kind != SVC_EXEC) {
			int fd = svc_connect(&t, err, sizeof(err));

			if (fd < 0) {
				log_warnx("%s", err);
				return QREXEC_EXIT_PROBLEM;
			}
			r = 0;
			if (c->send_descriptor)
				r = io_write_all(
				    fd, c->rpc_words, strlen(c->rpc_words) + 1);
			(void)close(fd);
			return r < 0 ? QREXEC_EXIT_PROBLEM : 0;
		}
		r = svc_spawn(t.path, c, user, SVC_STDIO_NULL, NULL, &p);
	} else {
		r = svc_spawn(NULL, c, user, SVC_STDIO_NULL, NULL, &p);
	}
	if (r < 0) {
		log_warnx("cannot start %s: %s", c->command, strerror(-r));
		return QREXEC_EXIT_PROBLEM;
	}
	log_info("started (no wait): %s (pid %d)", c->command, (int)p.pid);
	return 0;
}

int
agent_call_run(
    const struct vchan_env *env, uint32_t type, const struct qrexec_exec *req)
{
	struct vchan_addr a = {.server_dom = req->domain,
	    .client_dom = env->my_dom,
	    .port = req->port};
	struct stream_params sp;
	struct svc_target t;
	struct svc_proc p;
	struct stream s;
	struct qcmd *c = NULL;
	const char *user = NULL;
	char err[512] = "";
	char pidenv[32];
	sigset_t mask;
	int chan, version, sigfd, r, code;
	bool cmd_ok = false;

	/* the service may signal us: SIGUSR1 = "use stdin for stdout too" */
	(void)snprintf(pidenv, sizeof(pidenv), "%d", (int)getpid());
	(void)setenv("QREXEC_AGENT_PID", pidenv, 1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM); /* passed on to the service */
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0)
		fatal("signalfd");

	r = qcmd_parse(req->cmdline, true, &c, err, sizeof(err));
	if (r < 0) {
		log_warnx("cannot parse command: %s", err);
		c = NULL;
	} else {
		user = c->user;
		cmd_ok = true;
		if (c->is_rpc) {
			r = qcmd_load_config(
			    c, svc_config_path(), err, sizeof(err));
			if (r < 0) {
				log_warnx("service configuration: %s", err);
				cmd_ok = false;
			} else {
				if (c->force_user)
					user = c->force_user;
				if (c->wait_for_session && !c->nogui)
					(void)svc_wait_for_session(
					    svc_path(), c->source_domain, user);
			}
		}
	}

	chan = vchan_connect(
	    env, vchan_dir_dom(env, &a), &a, CALL_CONNECT_TIMEOUT_MS);
	if (chan < 0) {
		log_warnx("data channel to %u port %u: %s", a.server_dom,
		    a.port, strerror(-chan));
		qcmd_free(c);
		return 1;
	}
	version = stream_handshake(chan, CALL_CONNECT_TIMEOUT_MS);
	if (version < 0) {
		log_warnx("data channel handshake: %s", strerror(-version));
		qcmd_free(c);
		return 1;
	}

	if (type == MSG_JUST_EXEC) {
		int32_t rc = just_exec(cmd_ok ? c : NULL, user);

		(void)msg_send(
		    chan, MSG_DATA_EXIT_CODE, &rc, sizeof(rc), NULL, 0);
		qcmd_free(c);
		return 0;
	}

	memset(&sp, 0, sizeof(sp));
	sp.chan = chan;
	sp.is_service = true;
	sp.version = (uint32_t)version;
	sp.sink = sp.src = sp.err = -1;
	if (!cmd_ok) {
		code = QREXEC_EXIT_PROBLEM;
		goto failed;
	}
	if (c->is_rpc) {
		r = svc_lookup(svc_path(), c, &t, err, sizeof(err));
		if (r < 0) {
			log_warnx("%s", err);
			code = r == -ENOENT ? QREXEC_EXIT_SERVICE_NOT_FOUND :
			                      QREXEC_EXIT_PROBLEM;
			goto failed;
		}
		if (t.kind != SVC_EXEC) {
			int fd = svc_connect(&t, err, sizeof(err));

			if (fd < 0) {
				log_warnx("%s", err);
				code = QREXEC_EXIT_PROBLEM;
				goto failed;
			}
			sp.sink = sp.src = fd;
			sp.exit_on_client_eof = c->exit_on_client_eof;
			sp.exit_on_service_eof = c->exit_on_service_eof;
		} else {
			r = svc_spawn(
			    t.path, c, user, SVC_STDIO_PIPES, NULL, &p);
			if (r < 0) {
				code = QREXEC_EXIT_PROBLEM;
				goto failed;
			}
		}
	} else {
		r = svc_spawn(NULL, c, user, SVC_STDIO_PIPES, NULL, &p);
		if (r < 0) {
			code = QREXEC_EXIT_PROBLEM;
			goto failed;
		}
	}
	if (sp.sink < 0) {
		sp.sink = p.in_fd;
		sp.src = p.out_fd;
		sp.err = p.err_fd;
		sp.pid = p.pid;
		log_debug("started: %s (pid %d)", c->command, (int)p.pid);
	}
	stream_init(&s, &sp);
	/* a socket service first gets the descriptor, as if the caller sent it */
	if (c->is_rpc && sp.pid == 0 && c->send_descriptor)
		(void)buffer_append(
		    &s.to_sink, c->rpc_words, strlen(c->rpc_words) + 1);
	code = stream_run(&s, sigfd);
	stream_free(&s);
	qcmd_free(c);
	(void)close(chan);
	return code < 0 ? 1 : code;
failed:
	(void)stream_send_failure(chan, code, false);
	qcmd_free(c);
	(void)close(chan);
	return code;
}
