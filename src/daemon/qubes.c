/*
 * qubes.c - qube lifecycle in bulkheadd (main process, root): start a
 * qube through the backend, start and watch its qrexec-daemon, notice
 * when it stops, clean up, remove disposables; adopt qubes that survived a
 * restart of bulkheadd; supervise the policy daemon.
 *
 * Every process is watched through a pidfd, so a qube adopted after a
 * restart (no longer our child) is watched like one we started.  Runtime
 * facts live in <run>/qubes/<name>/state, written when a qube is up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/bulkheadd.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sandbox/logcap.h"
#include "sandbox/sandbox.h"

struct running *
qube_running(struct daemon *d, uint32_t qid)
{
	struct running *r;

	for (r = d->running; r; r = r->next)
		if (r->rt.qid == qid)
			return r;
	return NULL;
}

struct qube_rt *
qube_rt_lookup(void *ctx, uint32_t qid)
{
	struct running *r = qube_running(ctx, qid);

	return r ? &r->rt : NULL;
}

/* ---- paths and small helpers ---- */

static int
qpath(struct daemon *d, char *out, size_t n, const char *name, const char *leaf)
{
	return str_printf(out, n, "%s/qubes/%s%s%s", d->cfg.run_dir, name,
	    leaf ? "/" : "", leaf ? leaf : "");
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	char *p;

	if (str_copy(tmp, sizeof(tmp), path) < 0)
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Start time of a process (field 22 of /proc/pid/stat), 0 if gone. */
static unsigned long long
proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	ssize_t n;
	int fd, i;

	(void)str_printf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	for (i = 0; i < 20 && p; i++)
		p = strchr(p + 1, ' ');
	if (p)
		st = strtoull(p + 1, NULL, 10);
	return st;
}

/* Find a program of ours: next to bulkheadd, in the build tree, on PATH. */
int find_program(struct daemon *d, const char *name, char *out, size_t n);

/*
 * Where find_program() found each program: a start looks up ~20 of them
 * (each up to 15 access() calls and a realpath()); a path remembered is
 * checked with one access() and looked up again if it no longer works.
 */
#define PROGRAM_CACHE_MAX 48
/* a qube's qrexec log over this goes aside at its next start */
#define QREXEC_LOG_KEEP (4u << 20)
static struct {
	char name[64];
	char path[PATH_MAX];
} program_cache[PROGRAM_CACHE_MAX];

static int
find_program_uncached(struct daemon *d, const char *name, char *out, size_t n);

int
find_program(struct daemon *d, const char *name, char *out, size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < PROGRAM_CACHE_MAX && program_cache[i].name[0]; i++)
		if (strcmp(program_cache[i].name, name) == 0) {
			if (access(program_cache[i].path, X_OK) == 0)
				return str_copy(out, n, program_cache[i].path);
			break;
		}
	r = find_program_uncached(d, name, out, n);
	if (r == 0 && i < PROGRAM_CACHE_MAX &&
	    str_copy(program_cache[i].path, sizeof(program_cache[i].path),
	        out) == 0 &&
	    str_copy(
	        program_cache[i].name, sizeof(program_cache[i].name), name) < 0)
		program_cache[i].name[0] = '\0';
	return r;
}

static int
find_program_uncached(struct daemon *d, const char *name, char *out, size_t n)
{
	/* beside us (installed), or elsewhere in the build tree */
	static const char *const rel[] = {"", "/..", "/../policy",
	    "/../qrexec-daemon", "/../agent", "/../client", "/../daemon",
	    "/../sandbox", "/../vm", "/../cli", "/../filecopy", "/../qubes-rpc",
	    "/../startapp", "/../gui/agent", "/../gui/guid"};
	static const char *const sys[] = {"/usr/local/bin", "/usr/bin",
	    "/usr/local/libexec/bulkhead", "/usr/libexec/bulkhead"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rel); i++) {
		char p[PATH_MAX], real[PATH_MAX];

		(void)str_printf(
		    p, sizeof(p), "%s%s/%s", d->cfg.bin_dir, rel[i], name);
		/* canonical: the sandbox launcher accepts nothing else */
		if (access(p, X_OK) == 0 && realpath(p, real) != NULL)
			return str_copy(out, n, real);
	}
	for (i = 0; i < ARRAY_SIZE(sys); i++) {
		char p[PATH_MAX];

		(void)str_printf(p, sizeof(p), "%s/%s", sys[i], name);
		if (access(p, X_OK) == 0)
			return str_copy(out, n, p);
	}
	return -ENOENT;
}

static void
events_for(struct daemon *d, const char *name, const char *event)
{
	const char *kv[] = {NULL};

	api_event(d, name, event, kv);
}

/* Write <run>/qubes/<name>/state for reconciliation after a restart. */
static void
write_state(struct daemon *d, struct running *r)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	if (qpath(d, path, sizeof(path), r->name, "state") < 0)
		return;
	(void)str_printf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (f == NULL)
		return;
	(void)fprintf(f,
	    "qid=%u\ndomid=%u\ninit_pid=%d\ninit_start=%llu\n"
	    "qrexec_pid=%d\nqrexec_start=%llu\nstart_time=%llu\n"
	    "state=%s\nlower=%s\npriv_lower=%s\n",
	    r->rt.qid, r->rt.domid, (int)r->init_pid, proc_start(r->init_pid),
	    (int)r->qrexec_pid, proc_start(r->qrexec_pid),
	    (unsigned long long)r->rt.start_time, power_state_name(r->rt.state),
	    r->lower, r->priv_lower);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		log_warn("%s: writing state", r->name);
}

/* ---- stopping ---- */

static void finish_waiters(
    struct daemon *d, struct running *r, const char *exc, const char *msg);

/*
 * Answer every admin.vm.Start waiting for r: success, or QubesVMError
 * with fmt.  Returns how many were waiting.
 */
static int starters_reply(struct daemon *d, struct running *r, bool ok,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
starters_reply(
    struct daemon *d, struct running *r, bool ok, const char *fmt, ...)
{
	char msg[512] = "";
	size_t i;
	int n = 0;

	if (fmt != NULL) {
		va_list ap;

		va_start(ap, fmt);
		(void)vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	for (i = 0; i < ARRAY_SIZE(r->waiting_start); i++) {
		if (r->waiting_start[i] == NULL)
			continue;
		if (ok)
			api_reply_ok(d, r->waiting_start[i], NULL);
		else
			api_reply_exc(
			    d, r->waiting_start[i], "QubesVMError", "%s", msg);
		r->waiting_start[i] = NULL;
		n++;
	}
	return n;
}

int
qube_join_start(struct daemon *d, uint32_t qid, struct conn *c)
{
	struct running *r = qube_running(d, qid);
	size_t i;

	if (r == NULL || r->rt.state != PS_TRANSIENT)
		return -ESRCH;
	for (i = 0; i < ARRAY_SIZE(r->waiting_start); i++)
		if (r->waiting_start[i] == NULL) {
			r->waiting_start[i] = c;
			return 0;
		}
	return -EBUSY;
}

static void
running_unlink(struct daemon *d, struct running *r)
{
	struct running **pp;

	for (pp = &d->running; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			return;
		}
}

static void
remove_disposable(struct daemon *d, uint32_t qid, const char *name)
{
	struct db_qube q;
	const char *kv[3] = {"vm", name, NULL};

	if (db_qube_by_qid(&d->db, qid, &q) < 0)
		return;
	/* a row a crash keeps is removed again at the next start */
	if (db_begin_lazy(&d->db) < 0)
		return;
	if (db_qube_remove(&d->db, qid) < 0 || db_commit(&d->db) < 0) {
		db_rollback(&d->db);
		log_warnx("%s: cannot remove the disposable", name);
		return;
	}
	(void)qube_remove_files(d, &q);
	/* nothing of a disposable stays on disk, its logs included (a
	 * regular qube's stay after its removal, as in Qubes) */
	{
		static const char *const logs[] = {"log", "qrexec.log",
		    "qrexec.log.old", "console.log", "console.log.old",
		    "agent.log"};
		char path[PATH_MAX];
		size_t i;

		for (i = 0; i < ARRAY_SIZE(logs); i++)
			if (str_printf(path, sizeof(path), "%s/log/%s.%s",
			        d->cfg.state_dir, name, logs[i]) == 0)
				(void)unlink(path);
	}
	api_event(d, "", "domain-delete", kv);
	log_info("%s: disposable removed", name);
}

/* The qube's init is gone: release everything it had. */
static void
reap(pid_t pid)
{
	int status;

	/* our child: collect it; an adopted process is not ours to reap */
	(void)waitpid(pid, &status, WNOHANG);
}

/* A helper on its way out: reaped when it exits, SIGKILLed after 2 s. */
struct exiting {
	struct daemon *d;
	pid_t pid;
	int pidfd;
	uint64_t timer;
	char name[MODEL_MAX_NAME + 1];
};

static void
exiting_done(void *arg, int fd, short revents)
{
	struct exiting *x = arg;

	(void)fd, (void)revents;
	if (x->timer)
		loop_timer_cancel(&x->d->loop, x->timer);
	loop_del(&x->d->loop, x->pidfd);
	close_fd(&x->pidfd);
	reap(x->pid);
	free(x);
}

static void
exiting_late(void *arg)
{
	struct exiting *x = arg;

	x->timer = 0;
	log_warnx("%s: qrexec-daemon ignored SIGTERM; killing it", x->name);
	(void)syscall(SYS_pidfd_send_signal, x->pidfd, SIGKILL, NULL, 0);
}

static void
watch_exit(struct daemon *d, const char *name, pid_t pid, int pidfd)
{
	struct exiting *x = calloc(1, sizeof(*x));

	if (x == NULL ||
	    loop_add(&d->loop, pidfd, POLLIN, exiting_done, x) < 0) {
		/* no memory: it exits all the same; the SIGCHLD reaper
		 * collects it */
		free(x);
		(void)close(pidfd);
		return;
	}
	x->d = d;
	x->pid = pid;
	x->pidfd = pidfd;
	(void)str_copy(x->name, sizeof(x->name), name);
	x->timer = loop_timer_add(&d->loop, 2000, exiting_late, x);
}

static void
qube_halted(struct daemon *d, struct running *r)
{
	char path[PATH_MAX], trash[PATH_MAX];
	bool was_starting = r->rt.state == PS_TRANSIENT;

	if (r->init_pidfd >= 0) {
		loop_del(&d->loop, r->init_pidfd);
		close_fd(&r->init_pidfd);
	}
	/*
	 * Nothing of the qube runs any more: answer who waits now.  The
	 * clean-up below finishes before this loop reads another request,
	 * so no caller can see a half-cleaned qube.
	 */
	r->rt.state = PS_HALTED;
	/* a backend that prepares in the launcher's process says why it
	 * gave up there (backend_vm.c: vm_prepare) */
	if (was_starting &&
	    qpath(d, path, sizeof(path), r->name, "start-error") == 0) {
		char why[1024];
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		ssize_t n = fd >= 0 ? read(fd, why, sizeof(why) - 1) : -1;

		if (fd >= 0)
			(void)close(fd);
		if (n > 0) {
			why[n] = '\0';
			starters_reply(
			    d, r, false, "%s: start failed: %s", r->name, why);
		}
	}
	starters_reply(d, r, false,
	    "%s stopped while starting (see the qube's logs)", r->name);
	finish_waiters(d, r, NULL, NULL);
	if (r->qrexec_pidfd >= 0) {
		/*
		 * Its qrexec-daemon goes (it removes its sockets, and its
		 * links only while the socket is still its own, so a daemon
		 * started for the qube meanwhile keeps them); the loop does
		 * not wait for it.
		 */
		loop_del(&d->loop, r->qrexec_pidfd);
		(void)syscall(
		    SYS_pidfd_send_signal, r->qrexec_pidfd, SIGTERM, NULL, 0);
		watch_exit(d, r->name, r->qrexec_pid, r->qrexec_pidfd);
		r->qrexec_pidfd = -1;
	}
	if (r->ready_fd >= 0) {
		loop_del(&d->loop, r->ready_fd);
		close_fd(&r->ready_fd);
	}
	if (r->start_timer)
		loop_timer_cancel(&d->loop, r->start_timer);
	if (r->stop_timer)
		loop_timer_cancel(&d->loop, r->stop_timer);
	if (r->backend && r->backend->cleanup)
		r->backend->cleanup(d, r);
	/*
	 * The channel and runtime directories, renamed into one trash
	 * directory and removed by one rm in the background (the loop
	 * answers the next request meanwhile).  It is in <run>/vchan, where
	 * only root reaches; a crash's leftovers go at the next start.
	 */
	if (str_printf(trash, sizeof(trash), "%s/vchan/.removed-%u-%llu",
	        d->cfg.run_dir, r->rt.domid,
	        (unsigned long long)now_ns()) < 0 ||
	    mkdir(trash, 0700) < 0)
		trash[0] = '\0';
	if (str_printf(path, sizeof(path), "%s/vchan/%u", d->cfg.run_dir,
	        r->rt.domid) == 0 &&
	    fs_move_into(path, trash, "vchan") < 0)
		(void)fs_remove_tree(path);
	if (qpath(d, path, sizeof(path), r->name, NULL) == 0 &&
	    fs_move_into(path, trash, "run") < 0)
		(void)fs_remove_tree(path);
	if (trash[0])
		fs_remove_tree_async(trash);
	events_for(d, r->name,
	    was_starting ? "domain-start-failed" : "domain-shutdown");
	log_info("%s: halted", r->name);
	running_unlink(d, r);
	{
		struct db_qube q;

		if (db_qube_by_qid(&d->db, r->rt.qid, &q) == 0) {
			preload_halted(d, &q, was_starting);
			if (r->backend != &backend_vm)
				snapshot_qube_halted(
				    d, &q, r->lower, r->priv_lower);
		}
	}
	if (r->auto_cleanup)
		remove_disposable(d, r->rt.qid, r->name);
	free(r);
}

static void
finish_waiters(
    struct daemon *d, struct running *r, const char *exc, const char *msg)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(r->waiting_stop); i++) {
		if (r->waiting_stop[i] == NULL)
			continue;
		if (exc)
			api_reply_exc(d, r->waiting_stop[i], exc, "%s", msg);
		else
			api_reply_ok(d, r->waiting_stop[i], NULL);
		r->waiting_stop[i] = NULL;
	}
}

static void
init_exited(void *arg, int fd, short revents)
{
	struct running *r = arg;
	struct daemon *d = r->d;

	(void)fd, (void)revents;
	reap(r->init_pid);
	qube_halted(d, r);
}

static int spawn_qrexec_daemon(
    struct daemon *d, struct running *r, const struct db_qube *q);

static void
qrexec_exited(void *arg, int fd, short revents)
{
	struct running *r = arg;
	struct daemon *d = r->d;
	struct db_qube q;

	(void)fd, (void)revents;
	reap(r->qrexec_pid);
	loop_del(&d->loop, r->qrexec_pidfd);
	close_fd(&r->qrexec_pidfd);
	if (r->rt.state != PS_RUNNING && r->rt.state != PS_PAUSED)
		return;
	/* the qube runs on: give it its qrexec back */
	log_warnx("%s: qrexec-daemon exited; starting it again", r->name);
	if (db_qube_by_qid(&d->db, r->rt.qid, &q) == 0 &&
	    spawn_qrexec_daemon(d, r, &q) == 0)
		write_state(d, r);
}

/* ---- starting ---- */

static void
start_failed(struct daemon *d, struct running *r, const char *why)
{
	log_warnx("%s: start failed: %s", r->name, why);
	starters_reply(d, r, false, "%s: start failed: %s", r->name, why);
	r->killing = true;
	if (r->backend && r->init_pid > 0)
		(void)r->backend->kill(d, r);
	/* nobody watches its process (or there is none): done now */
	if (r->init_pidfd < 0)
		qube_halted(d, r);
}

static void
ready_read(void *arg, int fd, short revents)
{
	struct running *r = arg;
	struct daemon *d = r->d;
	char c = 1;
	ssize_t n;

	(void)revents;
	n = read(fd, &c, 1);
	loop_del(&d->loop, fd);
	close_fd(&r->ready_fd);
	if (r->rt.state != PS_TRANSIENT)
		return;
	if (n != 1 || c != 0) {
		start_failed(d, r, "its qrexec agent did not connect");
		return;
	}
	if (r->start_timer) {
		loop_timer_cancel(&d->loop, r->start_timer);
		r->start_timer = 0;
	}
	r->rt.state = PS_RUNNING;
	r->rt.start_time = (uint64_t)time(NULL);
	write_state(d, r);
	log_info("%s: running (domain %u)", r->name, r->rt.domid);
	events_for(d, r->name, "domain-start");
	if (starters_reply(d, r, true, NULL) == 0) {
		struct db_qube q;

		/* nobody asked: a preload, maybe */
		if (db_qube_by_qid(&d->db, r->rt.qid, &q) == 0)
			preload_running(d, &q);
	}
}

static void
start_timeout(void *arg)
{
	struct running *r = arg;
	struct daemon *d = r->d;

	r->start_timer = 0;
	if (r->rt.state == PS_TRANSIENT)
		start_failed(d, r, "timed out waiting for its qrexec agent");
}

static int
prop_str(struct daemon *d, const struct db_qube *q, const char *name, char *out,
    size_t n)
{
	const struct prop_def *p = prop_find(qube_class_of(q), name);
	char *v = NULL;
	bool def;
	int r;

	if (p == NULL)
		return -ENOENT;
	r = prop_get(&d->model, q, p, &v, &def);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = str_copy(out, n, v);
	free(v);
	return r;
}

static int
spawn_qrexec_daemon(
    struct daemon *d, struct running *r, const struct db_qube *q)
{
	char prog[PATH_MAX], policy_prog[PATH_MAX], sockdir[PATH_MAX];
	char vchan[PATH_MAX], policy_sock[PATH_MAX], svc[2 * PATH_MAX + 2];
	char svc_config[PATH_MAX];
	char log[PATH_MAX], domid[16], timeout[16], user[64];
	char policy_opt[PATH_MAX + 20], uuid[64], name[MODEL_MAX_NAME + 1];
	char worker_user[80];
	const char *pu = getenv("BULKHEAD_PROCESS_USER");
	int p[2] = {-1, -1}, rc;
	pid_t pid;

	if (find_program(d, "qrexec-daemon", prog, sizeof(prog)) < 0) {
		log_warnx("qrexec-daemon not found");
		return -ENOENT;
	}
	if (find_program(
	        d, "qrexec-policy-exec", policy_prog, sizeof(policy_prog)) < 0)
		(void)str_copy(policy_prog, sizeof(policy_prog), "/bin/false");
	(void)str_printf(
	    sockdir, sizeof(sockdir), "--socket-dir=%s/qrexec", d->cfg.run_dir);
	(void)str_printf(vchan, sizeof(vchan), "%s/vchan", d->cfg.run_dir);
	(void)str_printf(policy_sock, sizeof(policy_sock),
	    "--policy-socket=%s/policy.sock", d->cfg.run_dir);
	/* the admin's own services first, then bulkheadd's */
	(void)str_printf(svc, sizeof(svc),
	    "%s/qubes-rpc-dom0:%s/qubes-rpc-dom0", d->cfg.conf_dir,
	    d->cfg.run_dir);
	/* their per-service settings (Qubes' rpc-config format), the
	 * admin's: never the host's /etc/qubes */
	(void)str_printf(svc_config, sizeof(svc_config), "%s/rpc-config-dom0",
	    d->cfg.conf_dir);
	(void)str_printf(domid, sizeof(domid), "%u", r->rt.domid);
	if (prop_str(d, q, "qrexec_timeout", timeout, sizeof(timeout)) < 0)
		(void)str_copy(timeout, sizeof(timeout), "60");
	/* the process backend's qubes run as the user bulkheadd names */
	if (r->backend != NULL && strcmp(r->backend->name, "process") == 0)
		(void)str_copy(user, sizeof(user), pu ? pu : "root");
	else if (prop_str(d, q, "default_user", user, sizeof(user)) < 0)
		(void)str_copy(user, sizeof(user), "user");
	/* logs outlive the qube's runtime directory, as Qubes' do */
	(void)str_printf(log, sizeof(log), "%s/log/%s.qrexec.log",
	    d->cfg.state_dir, r->name);
	/*
	 * The daemon keeps the log within 32 MiB (QD_LOG_FILE_MAX); one over
	 * 4 MiB goes aside (.old) at each start, so two at most are kept.
	 */
	if ((rc = logcap_rotate(log, QREXEC_LOG_KEEP)) < 0)
		log_warnx("%s: %s, ignoring", log, strerror(-rc));
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	(void)str_printf(
	    policy_opt, sizeof(policy_opt), "--policy-program=%s", policy_prog);
	/*
	 * What reads the qube's channel (the daemon's worker) runs as the
	 * --qrexec-user, or else as an id of its own: the last of the
	 * qube's id range, which no other qube's process or worker has (a
	 * worker a qube took over cannot signal another's).  Inside a
	 * namespace qube that id is its 65535, which no process there can
	 * reach the worker as: the worker is outside its pid namespace.
	 */
	if (d->cfg.qrexec_user[0] != '\0')
		(void)str_printf(worker_user, sizeof(worker_user), "--user=%s",
		    d->cfg.qrexec_user);
	else
		(void)str_printf(worker_user, sizeof(worker_user), "--uid=%u",
		    sandbox_uid_base(q->qid) + SANDBOX_ID_RANGE - 1);
	{
		/* autostart and @dispvm targets go through our Admin API */
		const char *env[] = {"VCHAN_DOMAIN", "0", "VCHAN_SOCKET_DIR",
		    vchan, "BULKHEAD_VCHAN_LAYOUT", "per-qube",
		    "QREXEC_SERVICE_PATH", svc, "QUBES_RPC_CONFIG_PATH",
		    svc_config, "QREXEC_STARTUP_TIMEOUT", timeout,
		    "BULKHEAD_ADMIN_SOCKET", d->cfg.socket, NULL};
		char *argv[] = {"qrexec-daemon", "--direct", "--ready-fd=3",
		    "-q", sockdir, policy_sock, policy_opt, "-u", uuid,
		    worker_user, domid, name, user, NULL};
		const struct spawn_opts o = {
		    .log = log, .env = env, .fd3 = p[1]};

		(void)str_copy(uuid, sizeof(uuid), q->uuid);
		(void)str_copy(name, sizeof(name), q->name);
		pid = spawn_logged(prog, argv, &o);
	}
	if (pid < 0) {
		(void)close(p[0]);
		(void)close(p[1]);
		return (int)pid;
	}
	(void)close(p[1]);
	r->qrexec_pid = pid;
	r->qrexec_pidfd = pidfd_open(pid, 0);
	if (r->qrexec_pidfd >= 0)
		(void)loop_add(
		    &d->loop, r->qrexec_pidfd, POLLIN, qrexec_exited, r);
	if (r->ready_fd >= 0) {
		loop_del(&d->loop, r->ready_fd);
		close_fd(&r->ready_fd);
	}
	r->ready_fd = p[0];
	if (r->rt.state == PS_TRANSIENT)
		(void)loop_add(&d->loop, r->ready_fd, POLLIN, ready_read, r);
	else
		close_fd(&r->ready_fd); /* a restart: nobody waits */
	return 0;
}

/*
 * A domain id for a qube that starts: a fresh one each start, as Xen's
 * domain ids (and unlike the qid, which a new disposable reuses at once).
 * Every piece of a stopped qube that is still going away (its
 * qrexec-daemon waiting to reconnect, its channel directory) names the
 * old id, so it can never meet the next qube.  Never one in use nor one
 * whose channel directory is still there.  0 if none is free.
 */
static uint32_t
domid_alloc(struct daemon *d)
{
	for (uint32_t tries = 0; tries < DOMID_MAX; tries++) {
		uint32_t id = d->next_domid;
		char path[PATH_MAX];
		struct running *r;
		struct stat st;

		if (id == 0 || id > DOMID_MAX)
			id = 1;
		d->next_domid = id + 1;
		for (r = d->running; r; r = r->next)
			if (r->rt.domid == id)
				break;
		if (r != NULL)
			continue;
		if (str_printf(path, sizeof(path), "%s/vchan/%u",
		        d->cfg.run_dir, id) < 0 ||
		    lstat(path, &st) == 0 || errno != ENOENT)
			continue;
		return id;
	}
	return 0;
}

static struct running *
running_new(struct daemon *d, const struct db_qube *q)
{
	struct running *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->d = d;
	r->rt.qid = q->qid;
	r->rt.state = PS_TRANSIENT;
	(void)str_copy(r->name, sizeof(r->name), q->name);
	r->backend = qube_backend(d, q);
	r->init_pidfd = r->qrexec_pidfd = r->ready_fd = -1;
	r->next = d->running;
	d->running = r;
	return r;
}

const struct backend_ops *
qube_backend(struct daemon *d, const struct db_qube *q)
{
	char vm[16];

	if (prop_str(d, q, "virt_mode", vm, sizeof(vm)) == 0 &&
	    strcmp(vm, "vm") == 0)
		return &backend_vm;
	return d->backend;
}

int
qube_start(struct daemon *d, const struct db_qube *q, struct conn *c)
{
	char path[PATH_MAX], err[256] = "", vm[16], tval[16];
	enum qube_class k = qube_class_of(q);
	struct running *r;
	uint32_t timeout = 60;
	int rc;

	if (k == QC_ADMINVM) {
		api_reply_exc(d, c, "QubesVMError", "dom0 is always running");
		return -EINVAL;
	}
	/*
	 * Never a qube whose host ids another bulkheadd's qube or a host
	 * user's own user namespaces may have too.
	 */
	rc = qube_claim_ids(d, q, path, sizeof(path));
	if (rc < 0) {
		api_reply_exc(d, c, "QubesVMError",
		    "%s: its qid %u, and so its host ids (%u-%u), %s%s",
		    q->name, q->qid, sandbox_uid_base(q->qid),
		    sandbox_uid_base(q->qid) + SANDBOX_ID_RANGE - 1, path,
		    rc == -EBUSY ? "; qvm-clone it (the copy gets a qid of its "
		                   "own) and remove it" :
		                   "");
		return rc;
	}
	if (prop_str(d, q, "virt_mode", vm, sizeof(vm)) == 0 &&
	    strcmp(vm, "vm") == 0 &&
	    backend_vm_available(d, err, sizeof(err)) < 0) {
		/* never fall back silently from a VM to a sandbox */
		api_reply_exc(d, c, "QubesVMError",
		    "%s has virt_mode=vm, but %s", q->name, err);
		return -ENOTSUP;
	}
	if (qube_backend(d, q) == NULL) {
		api_reply_exc(d, c, "QubesVMError",
		    "no backend to run qubes "
		    "(bulkheadd --backend)");
		return -ENOTSUP;
	}
	/*
	 * Its volume is being copied (qvm-clone): running, it could change
	 * the tree under root's cp, a symlink swapped in mid-copy taking the
	 * copy to host files.
	 */
	if (api_volume_copying_from(q->qid)) {
		api_reply_exc(d, c, "QubesVMError",
		    "a copy of %s's volume is being made (qvm-clone): start "
		    "it once that is done",
		    q->name);
		return -EBUSY;
	}
	if (k == QC_APPVM || k == QC_DISPVM) {
		struct db_qube t;
		char tname[64];

		if (prop_str(d, q, "template", tname, sizeof(tname)) < 0 ||
		    db_qube_by_name(&d->db, tname, &t) < 0) {
			api_reply_exc(d, c, "QubesNoTemplateError",
			    "%s has no "
			    "template",
			    q->name);
			return -ENOENT;
		}
		/* a disposable's root is its DVM template's template's */
		if (k == QC_DISPVM &&
		    (prop_str(d, &t, "template", tname, sizeof(tname)) < 0 ||
		        db_qube_by_name(&d->db, tname, &t) < 0)) {
			api_reply_exc(d, c, "QubesNoTemplateError",
			    "%s's disposable template has no template",
			    q->name);
			return -ENOENT;
		}
		/* a VM's root is an image over the template's (backend_vm.c) */
		rc = qube_backend(d, q) == &backend_vm ?
		    0 :
		    snapshot_defers_appvm_start(d, &t, q, c);
		if (rc > 0) {
			log_info("%s: starting once %s's snapshot is taken",
			    q->name, t.name);
			return 0;
		}
		if (rc < 0) {
			api_reply_exc(d, c, "QubesVMError",
			    "%s is already waiting to start", q->name);
			return rc;
		}
	}
	/* a disposable's private is over its DVM template's last snapshot */
	if (k == QC_DISPVM && qube_backend(d, q) != &backend_vm) {
		struct db_qube dvm;
		char dname[64];

		if (prop_str(d, q, "template", dname, sizeof(dname)) < 0 ||
		    db_qube_by_name(&d->db, dname, &dvm) < 0) {
			api_reply_exc(d, c, "QubesNoTemplateError",
			    "%s has no disposable template", q->name);
			return -ENOENT;
		}
		rc = snapshot_defers_dispvm_start(d, &dvm, q, c);
		if (rc > 0) {
			log_info("%s: starting once %s's private snapshot is "
			         "taken",
			    q->name, dvm.name);
			return 0;
		}
		if (rc == -EAGAIN) {
			api_reply_exc(d, c, "QubesVMError",
			    "%s runs and has no snapshot of its private volume "
			    "yet (it became a disposable template while it "
			    "ran): its disposables start over it as it last "
			    "shut down; shut it down once",
			    dvm.name);
			return rc;
		}
		if (rc < 0) {
			api_reply_exc(d, c, "QubesVMError",
			    "%s is already waiting to start", q->name);
			return rc;
		}
	}
	/*
	 * a template whose root (or a DVM template whose private) is being
	 * snapshotted starts after the copy
	 */
	if ((k == QC_TEMPLATEVM || k == QC_APPVM || k == QC_STANDALONEVM) &&
	    qube_backend(d, q) != &backend_vm) {
		rc = snapshot_defers_start(d, q, c);
		if (rc > 0) {
			log_info(
			    "%s: starting once its snapshot is taken", q->name);
			return 0;
		}
		if (rc < 0) {
			api_reply_exc(d, c, "QubesVMError",
			    "%s is already starting", q->name);
			return rc;
		}
	}
	r = running_new(d, q);
	if (r == NULL) {
		api_reply_exc(d, c, "QubesException", "out of memory");
		return -ENOMEM;
	}
	r->rt.domid = domid_alloc(d);
	if (r->rt.domid == 0) {
		running_unlink(d, r);
		free(r);
		api_reply_exc(d, c, "QubesVMError",
		    "%s: no free domain id (too many channel directories "
		    "left under %s/vchan)",
		    q->name, d->cfg.run_dir);
		return -EAGAIN;
	}
	{
		char *ac = NULL;

		r->auto_cleanup = k == QC_DISPVM &&
		    db_kv_get(&d->db, DB_PROPS, q->qid, "auto_cleanup", &ac) >
		        0 &&
		    strcmp(ac, "True") == 0;
		free(ac);
	}
	events_for(d, q->name, "domain-pre-start");
	rc = str_printf(
	    path, sizeof(path), "%s/vchan/%u", d->cfg.run_dir, r->rt.domid);
	if (rc == 0)
		rc = mkdir_p(path, 0700);
	if (rc == 0)
		rc = qpath(d, path, sizeof(path), q->name, NULL);
	if (rc == 0)
		rc = mkdir_p(path, 0755);
	if (rc < 0) {
		(void)str_printf(
		    err, sizeof(err), "runtime directories: %s", strerror(-rc));
		goto fail;
	}
	rc = r->backend->start(d, q, r, err, sizeof(err));
	if (rc < 0)
		goto fail;
	r->init_pidfd = pidfd_open(r->init_pid, 0);
	if (r->init_pidfd < 0 ||
	    loop_add(&d->loop, r->init_pidfd, POLLIN, init_exited, r) < 0) {
		rc = r->init_pidfd < 0 ? -errno : -ENOMEM;
		(void)str_printf(err, sizeof(err), "watching its process: %s",
		    strerror(-rc));
		/* unwatched: start_failed() ends it without waiting */
		close_fd(&r->init_pidfd);
		goto fail_kill;
	}
	rc = spawn_qrexec_daemon(d, r, q);
	if (rc < 0) {
		(void)str_printf(
		    err, sizeof(err), "qrexec-daemon: %s", strerror(-rc));
		goto fail_kill;
	}
	/* found again (and stopped) if bulkheadd dies before it is up */
	write_state(d, r);
	if (prop_str(d, q, "qrexec_timeout", tval, sizeof(tval)) == 0)
		(void)parse_u32(tval, 86400, &timeout);
	/* the daemon gives up at the timeout; this is the backstop */
	r->start_timer = loop_timer_add(
	    &d->loop, (uint64_t)timeout * 1000 + 5000, start_timeout, r);
	r->waiting_start[0] = c;
	log_info("%s: starting", q->name);
	return 0;
fail_kill:
	r->waiting_start[0] = c;
	start_failed(d, r, err);
	return -1;
fail:
	/* nothing ran: the same end as a qube that halted while starting */
	log_warnx("%s: start failed: %s", q->name, err);
	/* what the backend made before it failed (its volatile data) */
	if (r->backend && r->backend->cleanup)
		r->backend->cleanup(d, r);
	running_unlink(d, r);
	if (qpath(d, path, sizeof(path), q->name, NULL) == 0)
		(void)fs_remove_tree(path);
	if (str_printf(path, sizeof(path), "%s/vchan/%u", d->cfg.run_dir,
	        r->rt.domid) == 0)
		(void)fs_remove_tree(path);
	events_for(d, q->name, "domain-start-failed");
	api_reply_exc(
	    d, c, "QubesVMError", "%s: start failed: %s", q->name, err);
	preload_halted(d, q, true);
	if (r->auto_cleanup)
		remove_disposable(d, q->qid, q->name);
	free(r);
	return rc < 0 ? rc : -EIO;
}

static void
stop_timeout(void *arg)
{
	struct running *r = arg;
	struct daemon *d = r->d;

	r->stop_timer = 0;
	if (r->rt.state != PS_HALTING)
		return;
	if (r->killing) {
		(void)r->backend->kill(d, r);
		return;
	}
	finish_waiters(
	    d, r, "QubesVMShutdownTimeoutError", "shutdown timed out");
}

int
qube_shutdown(
    struct daemon *d, const struct db_qube *q, bool force, struct conn *c)
{
	struct running *r = qube_running(d, q->qid);
	uint32_t timeout = 60;
	char tval[16];
	size_t i;

	if (r == NULL)
		return -ESRCH;
	if (c != NULL) {
		for (i = 0; i < ARRAY_SIZE(r->waiting_stop); i++)
			if (r->waiting_stop[i] == NULL) {
				r->waiting_stop[i] = c;
				break;
			}
		if (i == ARRAY_SIZE(r->waiting_stop))
			return -EBUSY;
	}
	if (r->rt.state != PS_HALTING) {
		if (r->rt.state == PS_PAUSED)
			(void)r->backend->unpause(d, r);
		r->rt.state = PS_HALTING;
		events_for(d, r->name, "domain-pre-shutdown");
		(void)r->backend->shutdown(d, r);
	}
	/*
	 * Already going down (a shutdown, maybe one that timed out): this
	 * caller's force counts, and a timer answers it too.
	 */
	r->killing = r->killing || force;
	if (r->stop_timer == 0) {
		if (prop_str(d, q, "shutdown_timeout", tval, sizeof(tval)) == 0)
			(void)parse_u32(tval, 86400, &timeout);
		r->stop_timer = loop_timer_add(
		    &d->loop, (uint64_t)timeout * 1000, stop_timeout, r);
	}
	return 0;
}

int
qube_kill(struct daemon *d, const struct db_qube *q, struct conn *c)
{
	struct running *r = qube_running(d, q->qid);
	bool waited;
	size_t i;
	int rc;

	if (r == NULL)
		return -ESRCH;
	/*
	 * c is answered once the qube has halted, as libvirt's destroy
	 * returns; with every waiting slot taken, at once.
	 */
	for (i = 0; c != NULL && i < ARRAY_SIZE(r->waiting_stop); i++)
		if (r->waiting_stop[i] == NULL) {
			r->waiting_stop[i] = c;
			break;
		}
	waited = c != NULL && i < ARRAY_SIZE(r->waiting_stop);
	r->killing = true;
	if (r->rt.state == PS_TRANSIENT)
		starters_reply(
		    d, r, false, "%s was killed while starting", r->name);
	r->rt.state = PS_HALTING;
	rc = r->backend->kill(d, r);
	if (rc < 0) {
		for (i = 0; i < ARRAY_SIZE(r->waiting_stop); i++)
			if (r->waiting_stop[i] == c)
				r->waiting_stop[i] = NULL;
		return rc;
	}
	return waited ? 0 : 1;
}

int
qube_pause(struct daemon *d, const struct db_qube *q, bool pause)
{
	struct running *r = qube_running(d, q->qid);
	int rc;

	if (r == NULL)
		return -ESRCH;
	rc = pause ? r->backend->pause(d, r) : r->backend->unpause(d, r);
	if (rc < 0)
		return rc;
	r->rt.state = pause ? PS_PAUSED : PS_RUNNING;
	write_state(d, r);
	events_for(d, r->name, pause ? "domain-paused" : "domain-unpaused");
	return 0;
}

void
qube_forget_conn(struct daemon *d, struct conn *c)
{
	struct running *r;
	size_t i;

	for (r = d->running; r; r = r->next) {
		for (i = 0; i < ARRAY_SIZE(r->waiting_start); i++)
			if (r->waiting_start[i] == c)
				r->waiting_start[i] = NULL;
		for (i = 0; i < ARRAY_SIZE(r->waiting_stop); i++)
			if (r->waiting_stop[i] == c)
				r->waiting_stop[i] = NULL;
	}
}

/* ---- host-wide qid claims (idclaim.c) ---- */

/* idclaim_ours_fn: whether our qube qid is the one with uuid. */
static bool
qid_is(void *arg, uint32_t qid, const char *uuid)
{
	struct daemon *d = arg;
	struct db_qube q;

	return db_qube_by_qid(&d->db, qid, &q) == 0 &&
	    strcmp(q.uuid, uuid) == 0;
}

/*
 * Whether qid's host ids meet a host user's subordinate ids: 1 with why
 * filled, 0, or -errno.
 */
static int
qid_meets_subids(struct daemon *d, uint32_t qid, char *why, size_t n)
{
	char who[PATH_MAX];
	int r = idclaim_subid_meets(d->cfg.subid_files, sandbox_uid_base(qid),
	    SANDBOX_ID_RANGE, who, sizeof(who));

	if (r > 0)
		(void)snprintf(why, n,
		    "meet the subordinate ids of %s (ids its user may map in "
		    "user namespaces of its own)",
		    who);
	return r;
}

int
qube_new_qid(struct daemon *d, const char *uuid, uint32_t *ret_qid)
{
	char why[PATH_MAX + 128];
	uint32_t qid = 1;
	int r;

	/*
	 * The lowest qid free here, whose ids no host user has as
	 * subordinate ids, and not another bulkheadd's.
	 */
	for (;; qid++) {
		if ((r = db_qid_free(&d->db, qid, &qid)) < 0)
			return r;
		r = qid_meets_subids(d, qid, why, sizeof(why));
		if (r > 0)
			continue;
		if (r < 0)
			return r;
		r = idclaim_take(
		    &d->ids, qid, uuid, qid_is, d, why, sizeof(why));
		if (r == 0) {
			*ret_qid = qid;
			return 0;
		}
		if (r != -EBUSY)
			return r;
	}
}

int
qube_claim_ids(struct daemon *d, const struct db_qube *q, char *why, size_t n)
{
	char holder[PATH_MAX];
	int r;

	if (q->qid == 0)
		return 0; /* dom0: no host ids of its own */
	r = idclaim_take(
	    &d->ids, q->qid, q->uuid, qid_is, d, holder, sizeof(holder));
	if (r == -EBUSY && strcmp(holder, "?") == 0) {
		(void)snprintf(why, n,
		    "are held by a claim that cannot be read, %s/%u (remove it "
		    "by hand if no bulkheadd made it)",
		    d->cfg.id_registry, q->qid);
		return r;
	}
	if (r == -EBUSY) {
		(void)snprintf(why, n,
		    "belong to a qube of the bulkheadd whose state is in %s",
		    holder);
		return r;
	}
	if (r < 0) {
		(void)snprintf(why, n,
		    "cannot be claimed in the host's qid registry (%s): %s",
		    d->cfg.id_registry, strerror(-r));
		return r;
	}
	r = qid_meets_subids(d, q->qid, why, n);
	if (r > 0)
		return -EBUSY;
	if (r < 0) {
		(void)snprintf(why, n,
		    "cannot be checked against the host users' subordinate "
		    "ids (%s): %s",
		    d->cfg.subid_files, strerror(-r));
		return r;
	}
	return 0;
}

static int
claim_check_one(const struct db_qube *q, void *arg)
{
	struct daemon *d = arg;
	char why[PATH_MAX + 128] = "";

	if (qube_claim_ids(d, q, why, sizeof(why)) < 0)
		log_warnx("%s: its qid %u, and so its host ids (%u-%u), %s: "
		          "it will not start while that lasts (qvm-clone it, "
		          "which gives the copy a qid of its own, and remove "
		          "it)",
		    q->name, q->qid, sandbox_uid_base(q->qid),
		    sandbox_uid_base(q->qid) + SANDBOX_ID_RANGE - 1, why);
	return 0;
}

void
qube_claims_check(struct daemon *d)
{
	int n = idclaim_prune(&d->ids, qid_is, d);

	if (n < 0)
		log_warnx("qid registry: %s", strerror(-n));
	else if (n > 0)
		log_info("qid registry: %d stale claim(s) of ours removed", n);
	(void)db_qube_foreach(&d->db, claim_check_one, d);
}

int
qube_remove_files(struct daemon *d, const struct db_qube *q)
{
	char path[PATH_MAX], trash[PATH_MAX];

	/*
	 * The qid is free for another bulkheadd's new qube from now on: the
	 * files stay in our trash until removed, where no qube reaches them.
	 */
	idclaim_release(&d->ids, q->qid, q->uuid);
	/*
	 * Renamed aside at once (a new qube of the same name starts clean),
	 * removed in the background (a template's root is big: the loop
	 * must not wait for it).  Leftovers of a crash go at the next start.
	 */
	if (str_printf(path, sizeof(path), "%s/qubes/%s", d->cfg.state_dir,
	        q->name) < 0 ||
	    str_printf(trash, sizeof(trash), "%s/qubes/.removed-%u-%llu",
	        d->cfg.state_dir, q->qid, (unsigned long long)now_ns()) < 0)
		return -ENAMETOOLONG;
	if (rename(path, trash) < 0)
		return errno == ENOENT ? 0 : fs_remove_tree(path);
	fs_remove_tree_async(trash);
	return 0;
}

/*
 * What qube_remove_files() and fs_remove_tree_aside() left when bulkheadd
 * stopped during them: big trees of <state> in the background, the small
 * ones of <run> (a qube's runtime and channel directories) at once.
 */
static void
remove_trash_in(const char *dir, bool wait)
{
	char p[PATH_MAX + 300];
	struct dirent *e;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		if (strncmp(e->d_name, ".removed-", 9) != 0 ||
		    str_printf(p, sizeof(p), "%s/%s", dir, e->d_name) < 0)
			continue;
		if (wait)
			(void)fs_remove_tree(p);
		else
			fs_remove_tree_async(p);
	}
	(void)closedir(dp);
}

static void
remove_trash(struct daemon *d)
{
	char dir[PATH_MAX];

	if (str_printf(dir, sizeof(dir), "%s/qubes", d->cfg.state_dir) == 0)
		remove_trash_in(dir, false);
	if (str_printf(dir, sizeof(dir), "%s/qubes", d->cfg.run_dir) == 0)
		remove_trash_in(dir, true);
	if (str_printf(dir, sizeof(dir), "%s/vchan", d->cfg.run_dir) == 0)
		remove_trash_in(dir, true);
}

/* ---- reconciliation after a restart ---- */

struct state_file {
	uint32_t qid, domid;
	pid_t init_pid, qrexec_pid;
	unsigned long long init_start, qrexec_start, start_time;
	char state[16];
	char lower[PATH_MAX];
	char priv_lower[PATH_MAX];
};

static int
read_state(const char *path, struct state_file *sf)
{
	char line[PATH_MAX + 16];
	FILE *f = fopen(path, "re");

	memset(sf, 0, sizeof(*sf));
	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		int i;
		unsigned long long v;

		if (sscanf(line, "qid=%u", &sf->qid) == 1)
			continue;
		if (sscanf(line, "domid=%u", &sf->domid) == 1)
			continue;
		if (sscanf(line, "domid=%u", &sf->domid) == 1)
			continue;
		if (sscanf(line, "init_pid=%d", &i) == 1)
			sf->init_pid = i;
		else if (sscanf(line, "qrexec_pid=%d", &i) == 1)
			sf->qrexec_pid = i;
		else if (sscanf(line, "init_start=%llu", &v) == 1)
			sf->init_start = v;
		else if (sscanf(line, "qrexec_start=%llu", &v) == 1)
			sf->qrexec_start = v;
		else if (sscanf(line, "start_time=%llu", &v) == 1)
			sf->start_time = v;
		else if (strncmp(line, "lower=", 6) == 0) {
			line[strcspn(line, "\n")] = '\0';
			(void)str_copy(sf->lower, sizeof(sf->lower), line + 6);
		} else if (strncmp(line, "priv_lower=", 11) == 0) {
			line[strcspn(line, "\n")] = '\0';
			(void)str_copy(
			    sf->priv_lower, sizeof(sf->priv_lower), line + 11);
		} else
			(void)sscanf(line, "state=%15s", sf->state);
	}
	(void)fclose(f);
	/* state files of before domain ids had their own allocator */
	if (sf->domid == 0)
		sf->domid = sf->qid;
	return sf->qid > 0 && sf->domid <= DOMID_MAX ? 0 : -EINVAL;
}

static bool
same_process(pid_t pid, unsigned long long start)
{
	return pid > 1 && start != 0 && proc_start(pid) == start;
}

static void
adopt_or_clean(struct daemon *d, const char *name)
{
	char path[PATH_MAX];
	struct state_file sf;
	struct db_qube q;
	struct running *r;
	bool known;

	if (qpath(d, path, sizeof(path), name, "state") < 0)
		return;
	known = read_state(path, &sf) == 0 &&
	    db_qube_by_qid(&d->db, sf.qid, &q) == 0 &&
	    strcmp(q.name, name) == 0;
	if (!known || !same_process(sf.init_pid, sf.init_start)) {
		/* not running any more: clean what is left */
		if (sf.qrexec_pid > 1 &&
		    same_process(sf.qrexec_pid, sf.qrexec_start))
			(void)kill(sf.qrexec_pid, SIGTERM);
		if (sf.init_pid > 1 && same_process(sf.init_pid, sf.init_start))
			(void)kill(-sf.init_pid, SIGKILL);
		/* what a halt releases (its volatile area, its cgroups, a
		 * sandbox's channel tmpfs), through its backend */
		if (known && (r = running_new(d, &q)) != NULL) {
			r->rt.domid = sf.domid;
			r->init_pid = sf.init_pid;
			r->init_stale = true;
			if (r->backend && r->backend->cleanup)
				r->backend->cleanup(d, r);
			running_unlink(d, r);
			free(r);
		}
		if (sf.domid > 0 &&
		    str_printf(path, sizeof(path), "%s/vchan/%u",
		        d->cfg.run_dir, sf.domid) == 0)
			(void)fs_remove_tree(path);
		if (qpath(d, path, sizeof(path), name, NULL) == 0)
			(void)fs_remove_tree(path);
		log_info("%s: found stopped, cleaned up", name);
		return;
	}
	r = running_new(d, &q);
	if (r == NULL)
		return;
	r->rt.domid = sf.domid;
	if (sf.domid >= d->next_domid)
		d->next_domid = sf.domid + 1;
	r->init_pid = sf.init_pid;
	r->rt.start_time = sf.start_time;
	(void)str_copy(r->lower, sizeof(r->lower), sf.lower);
	(void)str_copy(r->priv_lower, sizeof(r->priv_lower), sf.priv_lower);
	r->rt.state = strcmp(sf.state, "Paused") == 0 ? PS_PAUSED : PS_RUNNING;
	{
		char *ac = NULL;

		r->auto_cleanup = qube_class_of(&q) == QC_DISPVM &&
		    db_kv_get(&d->db, DB_PROPS, q.qid, "auto_cleanup", &ac) >
		        0 &&
		    strcmp(ac, "True") == 0;
		free(ac);
	}
	r->init_pidfd = pidfd_open(r->init_pid, 0);
	if (r->init_pidfd < 0) {
		qube_halted(d, r);
		return;
	}
	(void)loop_add(&d->loop, r->init_pidfd, POLLIN, init_exited, r);
	if (same_process(sf.qrexec_pid, sf.qrexec_start)) {
		r->qrexec_pid = sf.qrexec_pid;
		r->qrexec_pidfd = pidfd_open(sf.qrexec_pid, 0);
		if (r->qrexec_pidfd >= 0)
			(void)loop_add(&d->loop, r->qrexec_pidfd, POLLIN,
			    qrexec_exited, r);
	} else if (spawn_qrexec_daemon(d, r, &q) < 0) {
		log_warnx("%s: cannot restart its qrexec-daemon", name);
	}
	write_state(d, r);
	if (strcmp(sf.state, "Running") != 0 &&
	    strcmp(sf.state, "Paused") != 0) {
		/*
		 * It was starting when the last bulkheadd went away: nobody
		 * waits for it and its readiness can no longer be told.
		 * Kill it through the backend, which releases what it holds;
		 * its exit is then handled as any other.
		 */
		log_info("%s: was %s when bulkheadd stopped: killing it", name,
		    sf.state);
		r->rt.state = PS_HALTING;
		r->killing = true;
		if (r->backend == NULL || r->backend->kill(d, r) < 0)
			(void)kill(r->init_pid, SIGKILL);
		return;
	}
	log_info("%s: still running, adopted", name);
}

struct stale {
	uint32_t qid[64];
	char name[64][MODEL_MAX_NAME + 1];
	size_t n;
	struct daemon *d;
};

static int
collect_stale(const struct db_qube *q, void *arg)
{
	struct stale *st = arg;
	char *ac = NULL;
	bool stale;

	if (qube_class_of(q) != QC_DISPVM || qube_running(st->d, q->qid))
		return 0;
	stale =
	    db_kv_get(&st->d->db, DB_PROPS, q->qid, "auto_cleanup", &ac) > 0 &&
	    strcmp(ac, "True") == 0;
	free(ac);
	if (stale && st->n < ARRAY_SIZE(st->qid)) {
		st->qid[st->n] = q->qid;
		(void)str_copy(st->name[st->n], sizeof(st->name[0]), q->name);
		st->n++;
	}
	return 0;
}

void
qube_reconcile(struct daemon *d)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dir;
	int tries;

	if (str_printf(path, sizeof(path), "%s/qubes", d->cfg.run_dir) < 0)
		return;
	dir = opendir(path);
	if (dir != NULL) {
		while ((e = readdir(dir)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			adopt_or_clean(d, e->d_name);
		}
		(void)closedir(dir);
	}
	remove_trash(d);
	/* disposables that died with the previous bulkheadd */
	for (tries = 0; tries < DB_MAX_QID / 64 + 1; tries++) {
		struct stale *st = calloc(1, sizeof(*st));
		size_t i, n;

		if (st == NULL)
			break;
		st->d = d;
		(void)db_qube_foreach(&d->db, collect_stale, st);
		for (i = 0; i < st->n; i++)
			remove_disposable(d, st->qid[i], st->name[i]);
		n = st->n;
		free(st);
		if (n < 64)
			break;
	}
	snapshot_resume(d);
}

/* ---- the policy daemon ---- */

static void policy_exited(void *arg, int fd, short revents);

static void
policy_restart(void *arg)
{
	(void)qube_policy_start(arg);
}

static void
policy_exited(void *arg, int fd, short revents)
{
	struct daemon *d = arg;

	(void)fd, (void)revents;
	reap(d->policy_pid);
	loop_del(&d->loop, d->policy_pidfd);
	close_fd(&d->policy_pidfd);
	d->policy_pid = 0;
	if (d->loop.quit)
		return;
	d->policy_restarts++;
	log_warnx("qrexec-policy-daemon exited; restarting it");
	(void)loop_timer_add(
	    &d->loop, d->policy_restarts > 5 ? 10000 : 1000, policy_restart, d);
}

int
qube_policy_start(struct daemon *d)
{
	char prog[PATH_MAX], sock[PATH_MAX], internal[PATH_MAX];
	char dirs[2 * PATH_MAX + 2], log[PATH_MAX], ask[PATH_MAX];
	pid_t pid;

	if (find_program(d, "qrexec-policy-daemon", prog, sizeof(prog)) < 0) {
		log_warnx("qrexec-policy-daemon not found: every qrexec call "
		          "between qubes will be denied");
		return -ENOENT;
	}
	(void)str_printf(sock, sizeof(sock), "%s/policy.sock", d->cfg.run_dir);
	(void)str_printf(
	    internal, sizeof(internal), "%s", d->cfg.internal_socket);
	(void)str_printf(dirs, sizeof(dirs), "%s/policy.d:%s/policy.d",
	    d->cfg.run_dir, d->cfg.conf_dir);
	(void)str_printf(
	    log, sizeof(log), "%s/policy-daemon.log", d->cfg.run_dir);
	(void)str_printf(
	    ask, sizeof(ask), "%s/policy-agent.sock", d->cfg.run_dir);
	{
		/* "ask" goes to a bulkhead-policy-agent listening there;
		 * --user: it drops to that user once it listens */
		char *argv[] = {"qrexec-policy-daemon", "--debug", "--socket",
		    sock, "--qubesd-socket", internal, "--qubesd-format",
		    "qubes", "--policy-dir", dirs, "--ask-socket", ask,
		    d->cfg.policy_user[0] != '\0' ? "--user" : NULL,
		    d->cfg.policy_user, NULL};
		const struct spawn_opts o = {.log = log, .fd3 = -1};

		pid = spawn_logged(prog, argv, &o);
	}
	if (pid < 0)
		return (int)pid;
	d->policy_pid = pid;
	d->policy_pidfd = pidfd_open(pid, 0);
	if (d->policy_pidfd >= 0)
		(void)loop_add(
		    &d->loop, d->policy_pidfd, POLLIN, policy_exited, d);
	return 0;
}
