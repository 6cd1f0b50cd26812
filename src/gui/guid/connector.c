/*
 * connector.c - PROC_GUID_CONNECTOR: bulkhead-guid's privileged part
 * (issue #8).
 *
 * Runs as root (when bulkhead-guid is started as root): qubes' channel
 * directories (<run>/vchan/<xid>/) are root's.  Its closed set of jobs:
 * ask bulkheadd which qubes run and show their GUI here (guivm), with
 * their label colour; connect to each one's GUI socket, and check with
 * SO_PEERCRED that the process at the other end runs under that qube's
 * uid range (the socket file is in a directory the qube can write, so a
 * qube could put a link there to another qube's socket: the kernel's
 * answer, not the path, says whose it is); hand the connected fd to the
 * core with the qube's name and colour; answer the core's "may A paste
 * into B" from the qubes.ClipboardPaste policy.
 *
 * Untrusted input: none from qubes (it reads no byte of theirs).  The
 * core is less trusted than this process (it handles VNC viewers): its
 * questions are fixed records whose names must be qubes handed to it.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gui/guid/connector.h"
#include "gui/guid/ipc.h"
#include "lib/gui_pool.h"
#include "lib/log.h"
#include "lib/qubesd.h"
#include "lib/sock.h"
#include "lib/util.h"
#include "policy/policy.h"
#include "sandbox/sandbox.h"

#define C_SCAN_MS 1000
/*
 * How long one connect to a qube's GUI socket may wait.  The listener is
 * the qube's: its own processes can fill its backlog, and a UNIX connect
 * then waits for an accept that never comes.  Unbounded, that stopped
 * this loop: no other qube's GUI connected and no paste was answered.
 * A listener that has room answers at once (no accept is waited for).
 */
#define C_CONNECT_MS 100

/* Qubes known at once: those running (this GUI domain's and others', whose
 * guivm is remembered for their start) and the --static ones. */
#define C_MAX_TRACKED 1024

struct cqube {
	char name[GD_NAME_MAX];
	char xid[16];         /* the start we connected to */
	bool shown;           /* handed to the core */
	bool vm_warned;       /* VM qubes: said once that it is not there yet */
	char refused_xid[16]; /* said once a start that its peer was wrong */
	char other_xid[16];   /* this start's guivm is another GUI domain */
	bool fixed;           /* a --static one: never forgotten */
	bool seen;            /* running, in this pass of scan() */
};

struct connector {
	const struct gd_connector_opts *o;
	struct cqube q[C_MAX_TRACKED];
	int nq;
	bool full_warned; /* said once that it is at --max-qubes */
};

/* Is there room for one more qube shown (--max-qubes)?  Says once when
 * there is not, until a place is freed. */
static bool
room_for(struct connector *c, const char *name)
{
	int i, shown = 0;

	for (i = 0; i < c->nq; i++)
		shown += c->q[i].shown;
	if (shown < c->o->max_qubes)
		return true;
	if (!c->full_warned)
		log_warnx("at its limit of %d qubes shown (--max-qubes): qube "
		          "%s waits until one stops",
		    c->o->max_qubes, name);
	c->full_warned = true;
	return false;
}

/*
 * After a pass over the running qubes: forget those not running any more
 * (all that is kept of a qube is for its current start), so that their
 * places serve others; disposables come and go under new names all the
 * time.  The --static ones stay.
 */
static void
forget_stopped(struct connector *c)
{
	int i, n = 0;

	for (i = 0; i < c->nq; i++) {
		if (!c->q[i].seen && !c->q[i].fixed) {
			if (c->q[i].shown)
				c->full_warned = false;
			continue;
		}
		c->q[i].seen = false;
		if (n != i)
			c->q[n] = c->q[i];
		n++;
	}
	c->nq = n;
}

static struct cqube *
cq_get(struct connector *c, const char *name, bool make)
{
	int i;

	for (i = 0; i < c->nq; i++)
		if (strcmp(c->q[i].name, name) == 0)
			return &c->q[i];
	if (!make || c->nq >= C_MAX_TRACKED)
		return NULL;
	memset(&c->q[c->nq], 0, sizeof(c->q[0]));
	if (str_copy(c->q[c->nq].name, GD_NAME_MAX, name) < 0)
		return NULL;
	return &c->q[c->nq++];
}

/* A property's value from "default=.. type=.. VALUE". */
static int
prop(const char *sock, const char *qube, const char *name, char *out,
    size_t outlen)
{
	char err[256], *reply = NULL, *v;
	int r;

	r = qubesd_call(sock, "admin.vm.property.Get", name, qube, 10, &reply,
	    err, sizeof(err));
	if (r < 0)
		return r;
	v = strchr(reply, ' ');
	v = v != NULL ? strchr(v + 1, ' ') : NULL;
	r = v != NULL ? str_copy(out, outlen, v + 1) : -EBADMSG;
	free(reply);
	return r;
}

static int
send_qube(struct connector *c, const char *name, const char *label,
    uint32_t rgb, int fd, int pool_fd)
{
	int fds[2] = {fd, pool_fd};
	size_t nfd = pool_fd >= 0 ? 2 : 1;
	struct gd_ipc a;
	struct iovec iov = {&a, sizeof(a)};
	ssize_t n;

	memset(&a, 0, sizeof(a));
	a.ipc_type = GD_IPC_QUBE;
	(void)str_copy(a.ipc_name, sizeof(a.ipc_name), name);
	(void)str_copy(a.ipc_label, sizeof(a.ipc_label), label);
	a.ipc_label_rgb = rgb;
	n = sock_send_fds(c->o->core_fd, &iov, 1, 0, fds, nfd);
	if (n < 0)
		return (int)n;
	return n == (ssize_t)sizeof(a) ? 0 : -EIO;
}

/* Connect to a qube's agent and make sure it is that qube's. */
static int
connect_qube(const char *path, uint32_t qid, bool check)
{
	uid_t uid;
	int fd, r;

	fd = sock_connect_until(path, now_ms() + C_CONNECT_MS);
	if (fd < 0)
		return fd;
	if (check) {
		uint32_t base = sandbox_uid_base(qid);

		r = sock_peer_cred(fd, NULL, &uid, NULL);
		if (r < 0 || uid < base || uid - base >= SANDBOX_ID_RANGE) {
			(void)close(fd);
			return r < 0 ? r : -EPERM;
		}
	}
	return fd;
}

/*
 * A VM qube's pool: the memfd its launcher made and shares with QEMU
 * (ivshmem), named in <run>/qubes/NAME/gui-pool as "PID FD BYTES" (a
 * root-only directory, written by bulkhead-vm).  Opened through
 * /proc/PID/fd/FD read-only and checked as a POOL's fd would be.
 * Returns the fd or -errno.
 */
static int
vm_pool_file(const char *path)
{
	char text[64], proc[64];
	unsigned long pid, fdn;
	unsigned long long bytes;
	size_t size;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	(void)close(fd);
	if (n <= 0)
		return -EBADMSG;
	text[n] = '\0';
	if (sscanf(text, "%lu %lu %llu", &pid, &fdn, &bytes) != 3 || pid == 0 ||
	    pid > 4194304 || fdn > 65535)
		return -EBADMSG;
	if (str_printf(proc, sizeof(proc), "/proc/%lu/fd/%lu", pid, fdn) < 0)
		return -ENAMETOOLONG;
	fd = open(proc, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = gui_pool_check(fd, &size);
	if (r < 0 || size != bytes) {
		(void)close(fd);
		return r < 0 ? r : -EINVAL;
	}
	return fd;
}

static int
vm_pool(const struct gd_connector_opts *o, const char *name)
{
	char path[4096];

	if (str_printf(path, sizeof(path), "%s/qubes/%s/gui-pool", o->run_dir,
	        name) < 0)
		return -ENAMETOOLONG;
	return vm_pool_file(path);
}

/* One pass over bulkheadd's running qubes. */
static void
scan(struct connector *c)
{
	const struct gd_connector_opts *o = c->o;
	char err[256], *list = NULL, *line, *save = NULL;
	int r;

	r = qubesd_call(o->admin_socket, "admin.vm.List", NULL, "dom0", 10,
	    &list, err, sizeof(err));
	if (r < 0) {
		log_debug(
		    "admin.vm.List: %s", r == -EREMOTEIO ? err : strerror(-r));
		return;
	}
	for (line = strtok_r(list, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[GD_NAME_MAX], v[128], label[GD_NAME_MAX], xid[16];
		char path[4096], *reply = NULL;
		uint32_t qid, rgb;
		struct cqube *cq;
		bool is_vm;
		int pool_fd;
		size_t n = strcspn(line, " ");
		int fd;

		if (n == 0 || n >= sizeof(name) ||
		    strstr(line, " state=Running") == NULL)
			continue;
		memcpy(name, line, n);
		name[n] = '\0';
		if (strcmp(name, "dom0") == 0)
			continue;
		/* known and running: kept, even if this pass skips it */
		if ((cq = cq_get(c, name, false)) != NULL)
			cq->seen = true;
		if (prop(o->admin_socket, name, "xid", xid, sizeof(xid)) < 0)
			continue;
		cq = cq_get(c, name, true);
		if (cq != NULL)
			cq->seen = true;
		if (cq == NULL || (cq->shown && strcmp(cq->xid, xid) == 0) ||
		    strcmp(cq->other_xid, xid) == 0)
			continue;
		/* shown at an earlier start: that connection is gone */
		cq->shown = false;
		if (prop(o->admin_socket, name, "guivm", v, sizeof(v)) < 0)
			continue;
		/* another GUI domain's qube: not asked again this start (a
		 * guivm changed while it runs counts from its next start) */
		if (strcmp(v, o->name) != 0) {
			(void)str_copy(
			    cq->other_xid, sizeof(cq->other_xid), xid);
			continue;
		}
		if (!room_for(c, name))
			continue;
		is_vm = prop(o->admin_socket, name, "virt_mode", v,
		            sizeof(v)) == 0 &&
		    strcmp(v, "sandbox") != 0;
		if (prop(o->admin_socket, name, "qid", v, sizeof(v)) < 0 ||
		    parse_u32(v, 65535, &qid) < 0 ||
		    prop(o->admin_socket, name, "label", label, sizeof(label)) <
		        0)
			continue;
		rgb = 0x555753; /* gray, if the label cannot be read */
		if (qubesd_call(o->admin_socket, "admin.label.Get", label,
		        "dom0", 10, &reply, err, sizeof(err)) == 0) {
			unsigned long x = strtoul(reply, NULL, 16);

			rgb = (uint32_t)(x & 0xffffff);
		}
		free(reply);
		if (str_printf(path, sizeof(path),
		        "%s/vchan/%s/vchan.%s.0.%u.sock", o->run_dir, xid, xid,
		        GD_AGENT_PORT) < 0)
			continue;
		/* a VM's pool first: without it, no connection is made */
		pool_fd = -1;
		if (is_vm && (pool_fd = vm_pool(o, name)) < 0) {
			if (!cq->vm_warned)
				log_warnx("qube %s: its GUI pool: %s", name,
				    strerror(-pool_fd));
			cq->vm_warned = true;
			continue;
		}
		fd = connect_qube(path, qid, true);
		if (fd == -EPERM) {
			/* a link to another qube's socket, or worse */
			if (strcmp(cq->refused_xid, xid) != 0)
				log_warnx("qube %s: the process behind its GUI "
				          "socket is not in that qube: refused",
				    name);
			(void)str_copy(
			    cq->refused_xid, sizeof(cq->refused_xid), xid);
			continue;
		}
		if (fd < 0) {
			/* its agent may not listen yet: the next pass */
			log_debug("qube %s: %s", name, strerror(-fd));
			continue;
		}
		if (send_qube(c, name, label, rgb, fd, pool_fd) == 0) {
			cq->shown = true;
			(void)str_copy(cq->xid, sizeof(cq->xid), xid);
			log_info("qube %s: GUI connected", name);
		}
		(void)close(fd);
		close_fd(&pool_fd);
	}
	free(list);
	forget_stopped(c);
}

static void
scan_static(struct connector *c)
{
	int i;

	for (i = 0; i < c->o->nstatic; i++) {
		const struct gd_static_qube *s = &c->o->statics[i];
		struct cqube *cq = cq_get(c, s->name, true);
		int fd, pool_fd = -1;

		if (cq == NULL || cq->shown)
			continue;
		cq->fixed = true;
		if (!room_for(c, s->name))
			continue;
		if (s->pool_file[0] != '\0' &&
		    (pool_fd = vm_pool_file(s->pool_file)) < 0) {
			if (!cq->vm_warned)
				log_warnx("qube %s: its GUI pool: %s", s->name,
				    strerror(-pool_fd));
			cq->vm_warned = true;
			continue;
		}
		fd = connect_qube(s->socket, 0, false);
		if (fd < 0) {
			close_fd(&pool_fd);
			continue;
		}
		if (send_qube(
		        c, s->name, "static", s->label_rgb, fd, pool_fd) == 0) {
			cq->shown = true;
			log_info("qube %s: GUI connected", s->name);
		}
		(void)close(fd);
		close_fd(&pool_fd);
	}
}

/* The static qubes as system information, for the policy. */
static int
static_sysinfo(struct connector *c, struct sysinfo **ret)
{
	char json[8192], err[256];
	size_t off;
	int i;

	off = (size_t)snprintf(json, sizeof(json),
	    "{\"domains\": {\"dom0\": {\"type\": \"AdminVM\", \"tags\": []}");
	for (i = 0; i < c->o->nstatic && off < sizeof(json); i++)
		off += (size_t)snprintf(json + off, sizeof(json) - off,
		    ", \"%s\": {\"type\": \"AppVM\", \"tags\": []}",
		    c->o->statics[i].name);
	if (off + 3 >= sizeof(json))
		return -E2BIG;
	(void)snprintf(json + off, sizeof(json) - off, "}}");
	return sysinfo_parse(json, strlen(json), ret, err, sizeof(err));
}

/* qubes.ClipboardPaste from src to dst: allow, or ask (the user's key
 * press is the answer, as in Qubes); everything else denies. */
static bool
paste_allowed(struct connector *c, const char *src, const char *dst, char *why,
    size_t whylen)
{
	const char *dirs[1] = {c->o->policy_dir};
	struct policy_load_opts lo;
	struct policy_error perr;
	struct policy_decision d;
	struct policy_query pq;
	struct sysinfo *si = NULL;
	struct policy *p = NULL;
	char err[256];
	bool ok = false;
	int r;

	memset(&lo, 0, sizeof(lo));
	lo.dirs = dirs;
	lo.ndirs = 1;
	if (policy_load(&lo, &p, &perr) < 0) {
		(void)str_copy(why, whylen, "the policy has errors");
		return false;
	}
	if (c->o->admin_socket != NULL)
		r = sysinfo_fetch(
		    c->o->admin_socket, true, 10000, &si, err, sizeof(err));
	else
		r = static_sysinfo(c, &si);
	if (r < 0) {
		(void)str_copy(why, whylen, "no system information");
		policy_free(p);
		return false;
	}
	memset(&pq, 0, sizeof(pq));
	pq.untrusted_source = src;
	pq.untrusted_intended_target = dst;
	pq.untrusted_service_and_arg = "qubes.ClipboardPaste";
	if (policy_evaluate(p, si, &pq, &d) == 0) {
		ok = d.verdict == POLICY_VERDICT_ALLOW ||
		    d.verdict == POLICY_VERDICT_ASK;
		if (!ok)
			(void)str_copy(why, whylen, d.reason);
	}
	policy_decision_free(&d);
	sysinfo_unref(si);
	policy_free(p);
	return ok;
}

static int
core_read(struct connector *c)
{
	struct gd_ipc a, ans;
	ssize_t n;

	n = recv(c->o->core_fd, &a, sizeof(a), MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	if (n != (ssize_t)sizeof(a) || a.ipc_type != GD_IPC_PASTE_ASK)
		return 0;
	a.ipc_name[sizeof(a.ipc_name) - 1] = '\0';
	a.ipc_target[sizeof(a.ipc_target) - 1] = '\0';
	memset(&ans, 0, sizeof(ans));
	ans.ipc_type = GD_IPC_PASTE_ANSWER;
	ans.ipc_seq = a.ipc_seq;
	/* only qubes this GUI domain was given */
	if (cq_get(c, a.ipc_name, false) == NULL ||
	    cq_get(c, a.ipc_target, false) == NULL)
		(void)str_copy(
		    ans.ipc_reason, sizeof(ans.ipc_reason), "unknown qube");
	else
		ans.ipc_allowed = paste_allowed(c, a.ipc_name, a.ipc_target,
		    ans.ipc_reason, sizeof(ans.ipc_reason));
	log_info("qubes.ClipboardPaste %s -> %s: %s", a.ipc_name, a.ipc_target,
	    ans.ipc_allowed ? "allowed" : "denied");
	(void)send(c->o->core_fd, &ans, sizeof(ans), MSG_NOSIGNAL);
	return 0;
}

int
gd_connector_run(const struct gd_connector_opts *o)
{
	struct connector *c;
	uint64_t next = 0;
	int status = 0;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return 1;
	c->o = o;
	for (;;) {
		struct pollfd p = {o->core_fd, POLLIN, 0};
		uint64_t now = now_ms();
		pid_t w;

		if (now >= next) {
			if (o->admin_socket != NULL)
				scan(c);
			if (o->nstatic > 0)
				scan_static(c);
			next = now_ms() + C_SCAN_MS;
			now = now_ms();
		}
		if (poll(&p, 1, (int)(next > now ? next - now : 0)) < 0 &&
		    errno != EINTR)
			break;
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) &&
		    core_read(c) == -EPIPE)
			break;
		w = waitpid(o->core, &status, WNOHANG);
		if (w == o->core)
			goto out;
	}
	(void)waitpid(o->core, &status, 0);
out:
	free(c);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 1;
}
