/*
 * dclient.c - talking to a qrexec-daemon's client socket, and running a
 * service in the admin domain for a qube.
 *
 * Runs on the admin side: in qrexec-client (as the calling admin user) and
 * in qrexec-daemon's call processes (the daemon's unprivileged user).  The
 * daemon is trusted; the data channel is the calling qube's and untrusted
 * (stream.c parses it).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lib/dclient.h"
#include "lib/log.h"
#include "lib/msg.h"
#include "lib/qcmd.h"
#include "lib/relay.h"
#include "lib/service.h"
#include "lib/sock.h"
#include "lib/stream.h"
#include "lib/util.h"

bool
dclient_is_adminvm(const char *t)
{
	return strcmp(t, "dom0") == 0 || strcmp(t, "@adminvm") == 0 ||
	    strcmp(t, "uuid:00000000-0000-0000-0000-000000000000") == 0;
}

int
dclient_connect(const char *socket_dir, const char *name)
{
	char path[PATH_MAX];
	uint32_t v;
	int fd, r;

	r = str_printf(path, sizeof(path), "%s/qrexec.%s", socket_dir, name);
	if (r < 0)
		return r;
	fd = sock_connect(path);
	if (fd == -ECONNREFUSED)
		return -ENOENT;
	if (fd < 0)
		return fd;
	/* the daemon speaks first */
	r = msg_recv_hello(fd, &v);
	if (r == 0 && v < QREXEC_CLIENT_PROTOCOL_VERSION)
		r = -EPROTONOSUPPORT;
	if (r == 0)
		r = msg_send_hello(fd, QREXEC_CLIENT_PROTOCOL_VERSION);
	if (r < 0) {
		(void)close(fd);
		return r;
	}
	return fd;
}

int
dclient_negotiate(int fd, uint32_t type, uint32_t connect_domain,
    const void *tail, size_t taillen, uint32_t *ret_domain, uint32_t *ret_port)
{
	struct qrexec_exec_params ep = {
	    .ep_connect_domain = connect_domain, .ep_connect_port = 0};
	struct qrexec_hdr hdr;
	uint8_t *body = NULL;
	int r;

	r = msg_send(fd, type, &ep, sizeof(ep), tail, taillen);
	if (r < 0)
		return r;
	r = msg_recv(fd, sizeof(ep), &hdr, &body);
	if (r < 0)
		return r;
	if (hdr.hdr_type != type)
		r = -EBADMSG;
	else
		r = proto_exec_reply_parse(
		    body, hdr.hdr_len, ret_domain, ret_port);
	free(body);
	return r;
}

int
dclient_service_connect(
    int fd, const char *ident, uint32_t domain, uint32_t port)
{
	struct qrexec_exec_params ep = {
	    .ep_connect_domain = domain, .ep_connect_port = port};
	struct qrexec_service_params sp;

	memset(&sp, 0, sizeof(sp));
	if (str_copy(sp.sp_ident, sizeof(sp.sp_ident), ident) < 0)
		return -ENAMETOOLONG;
	return msg_send(
	    fd, MSG_SERVICE_CONNECT, &ep, sizeof(ep), &sp, sizeof(sp));
}

int
dclient_run_local_service(const struct vchan_env *env, uint32_t domain,
    uint32_t port, const char *source, const char *cmdline,
    int connect_timeout_ms, const char *prefix,
    const struct dclient_confine *confine)
{
	struct vchan_addr a = {
	    .server_dom = domain, .client_dom = 0, .port = port};
	struct stream_params sp;
	struct svc_target t;
	struct svc_proc p = {
	    .pid = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1};
	struct stream s;
	struct qcmd *c = NULL;
	char err[512] = "";
	sigset_t mask;
	int chan, version, sigfd, code = QREXEC_EXIT_PROBLEM, r;

	(void)setenv("QREXEC_REMOTE_DOMAIN", source, 1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0)
		return QREXEC_EXIT_PROBLEM;

	/* prepare the service before the channel, as the caller waits */
	r = qcmd_parse(cmdline, false, &c, err, sizeof(err));
	if (r == 0 && !c->is_rpc) {
		/* a plain command (qrexec-client -c ... 'shell command') */
		r = svc_spawn(NULL, c, NULL, SVC_STDIO_PIPES_NOERR, NULL, &p);
		code = r < 0 ? QREXEC_EXIT_PROBLEM : 0;
	} else if (r == 0) {
		r = qcmd_load_config(c, svc_config_path(), err, sizeof(err));
		if (r == 0 && c->wait_for_session && !c->nogui)
			(void)svc_wait_for_session(svc_path(), source, NULL);
		if (r == 0)
			r = svc_lookup(svc_path(), c, &t, err, sizeof(err));
		if (r == 0 && t.kind != SVC_EXEC) {
			int fd = svc_connect(&t, err, sizeof(err));

			if (fd < 0) {
				r = fd;
			} else {
				p.in_fd = p.out_fd = fd;
				p.pid = 0;
			}
		} else if (r == 0) {
			/*
			 * The service's force-user (its rpc-config), when we
			 * are root: an admin can run an admin-side service
			 * as a user of its own, not as root.
			 */
			r = svc_spawn(t.path, c, c->force_user,
			    SVC_STDIO_PIPES_NOERR, NULL, &p);
		}
		code = r == -ENOENT ? QREXEC_EXIT_SERVICE_NOT_FOUND :
		                      (r < 0 ? QREXEC_EXIT_PROBLEM : 0);
	}
	if (r < 0 && err[0])
		log_warnx("%s", err);

	chan =
	    vchan_connect(env, vchan_dir_dom(env, &a), &a, connect_timeout_ms);
	if (chan < 0) {
		log_warnx("data channel to domain %u port %u: %s", domain, port,
		    strerror(-chan));
		code = QREXEC_EXIT_PROBLEM;
		goto out;
	}
	if (confine != NULL && (r = confine->fn(confine->arg)) < 0) {
		log_warnx("confining the call: %s", strerror(-r));
		code = QREXEC_EXIT_PROBLEM;
		(void)close(chan);
		goto out;
	}
	version = stream_handshake(chan, connect_timeout_ms);
	if (version < 0) {
		log_warnx("data channel handshake: %s", strerror(-version));
		code = QREXEC_EXIT_PROBLEM;
		(void)close(chan);
		goto out;
	}
	if (code != 0) {
		/* no process: stderr EOF, stdout EOF, exit code */
		(void)stream_send_failure(chan, code, true);
		(void)close(chan);
		goto out;
	}
	memset(&sp, 0, sizeof(sp));
	sp.chan = chan;
	sp.is_service = true;
	sp.version = (uint32_t)version;
	sp.sink = p.in_fd;
	sp.src = p.out_fd;
	sp.err = -1;
	sp.pid = p.pid > 0 ? p.pid : 0;
	if (c->is_rpc && sp.pid == 0) {
		sp.exit_on_client_eof = c->exit_on_client_eof;
		sp.exit_on_service_eof = c->exit_on_service_eof;
	}
	if (prefix) {
		sp.prefix = prefix;
		sp.prefix_len = strlen(prefix);
	}
	stream_init(&s, &sp);
	/* the stream closes the service's fds from here on */
	p.in_fd = p.out_fd = -1;
	if (c->is_rpc && sp.pid == 0 && c->send_descriptor)
		(void)buffer_append(
		    &s.to_sink, c->rpc_words, strlen(c->rpc_words) + 1);
	code = stream_run(&s, sigfd);
	stream_free(&s);
	(void)close(chan);
out:
	/* no channel: close the service's end so that it sees EOF */
	if (p.out_fd >= 0 && p.out_fd != p.in_fd)
		(void)close(p.out_fd);
	if (p.in_fd >= 0)
		(void)close(p.in_fd);
	qcmd_free(c);
	(void)close(sigfd);
	return code < 0 ? QREXEC_EXIT_PROBLEM : code;
}

/* How long a relay waits for each qube's end of the data channel. */
#define RELAY_CONNECT_TIMEOUT_MS (120 * 1000)

int
dclient_execute_vm(const struct vchan_env *env, const char *socket_dir,
    const char *target, uint32_t source_id, const char *cmdline,
    const char *ident, bool just_exec, const struct dclient_confine *confine)
{
	struct vchan_listener l = {.fd = -1};
	struct vchan_addr a;
	char src_name[16];
	uint32_t tdom, tport;
	int tfd, sfd, rfd = -1, qfd = -1, r;
	bool relay = env->layout == VCHAN_LAYOUT_PER_QUBE;

	tfd = dclient_connect(socket_dir, target);
	if (tfd < 0) {
		log_warnx("target %s: %s", target,
		    tfd == -ENOENT ? "not running" : strerror(-tfd));
		return tfd;
	}
	r = dclient_negotiate(tfd, just_exec ? MSG_JUST_EXEC : MSG_EXEC_CMDLINE,
	    source_id, cmdline, strlen(cmdline) + 1, &tdom, &tport);
	(void)close(tfd);
	if (r < 0) {
		log_warnx("target %s: negotiating the call: %s", target,
		    strerror(-r));
		return r;
	}
	a.server_dom = source_id;
	a.client_dom = tdom;
	a.port = tport;
	if (relay) {
		/* the target's agent connects here, in its own directory */
		r = vchan_listen(env, tdom, &a, &l);
		if (r < 0) {
			log_warnx("relay listener: %s", strerror(-r));
			return r;
		}
	}
	(void)snprintf(src_name, sizeof(src_name), "%u", source_id);
	sfd = dclient_connect(socket_dir, src_name);
	if (sfd < 0) {
		r = sfd;
		log_warnx("source daemon %s: %s", src_name, strerror(-r));
		goto out;
	}
	r = dclient_service_connect(sfd, ident, tdom, tport);
	(void)close(sfd);
	if (r < 0 || !relay)
		goto out;
	/* the caller's qrexec-client-vm is the server in its directory */
	qfd = vchan_connect(env, source_id, &a, RELAY_CONNECT_TIMEOUT_MS);
	if (qfd < 0) {
		r = qfd;
		log_warnx("relay: caller's channel: %s", strerror(-r));
		goto out;
	}
	rfd = vchan_accept(&l, RELAY_CONNECT_TIMEOUT_MS);
	if (rfd < 0) {
		r = rfd;
		log_warnx("relay: target's channel: %s", strerror(-r));
		goto out;
	}
	if (confine != NULL && (r = confine->fn(confine->arg)) < 0) {
		log_warnx("confining the relay: %s", strerror(-r));
		goto out;
	}
	r = relay_run(qfd, rfd);
out:
	vchan_listener_close(&l);
	close_fd(&qfd);
	close_fd(&rfd);
	return r;
}
