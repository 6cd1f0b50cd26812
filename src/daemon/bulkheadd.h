/*
 * bulkheadd.h - the admin daemon: it owns every qube's definition (the
 * database) and state, serves the Admin API, and starts, supervises and
 * stops qubes through a backend, with their qrexec daemons and the policy
 * daemon.
 *
 * Roles:
 *   PROC_BULKHEADD  the main process (root): database, Admin API
 *                   dispatch, lifecycle, supervision.  Reads Admin API
 *                   requests: from local admin tools (root or the
 *                   "bulkhead" group, checked with SO_PEERCRED) and, via
 *                   the qrexec admin.* services, from qubes allowed by
 *                   the policy.  Each request is parsed by one function
 *                   (api_request_parse) with explicit limits.
 *   children        per running qube: its backend process(es) and its
 *                   qrexec-daemon; one qrexec-policy-daemon.
 */
#ifndef BULKHEAD_BULKHEADD_H
#define BULKHEAD_BULKHEADD_H

#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "daemon/db.h"
#include "daemon/idclaim.h"
#include "daemon/loop.h"
#include "daemon/model.h"
#include "lib/buffer.h"

/* An Admin API request is read whole before it is parsed: at most this. */
#define API_MAX_REQUEST (64u * 1024u)
/* A reply larger than this is a bug; the call fails instead. */
#define API_MAX_REPLY (16u * 1024u * 1024u)
/*
 * Connections served at once (including event streams): on the public
 * socket API_MAX_CONNS - API_INTERNAL_CONNS, on the internal one (the
 * policy daemon's system information, asked at every call) its own
 * API_INTERNAL_CONNS, so that callers holding the public socket's slots
 * (a qube's calls to @dispvm, each waiting for its disposable's start)
 * cannot keep the policy daemon out, and with it every qube's calls.
 */
#define API_MAX_CONNS         256
#define API_INTERNAL_CONNS    32
#define API_MAX_EVENT_STREAMS 64
/* streams a qube (not dom0) may hold; qubes' streams together stay
 * below API_MAX_EVENT_STREAMS - API_EVENT_STREAMS_ADMIN */
#define API_EVENT_STREAMS_PER_QUBE 8
#define API_EVENT_STREAMS_ADMIN    16

struct daemon;
struct conn;

/* A running (or starting/stopping) qube. */
struct running {
	struct daemon *d;
	struct qube_rt rt;
	char name[MODEL_MAX_NAME + 1];
	const struct backend_ops *backend; /* what runs it (virt_mode) */
	pid_t init_pid;                    /* the backend's main process */
	/* init_pid ended while bulkheadd was away (found at its restart):
	 * it only names what the qube held (its cgroups), never signalled */
	bool init_stale;
	int init_pidfd;
	pid_t qrexec_pid; /* its qrexec-daemon */
	int qrexec_pidfd;
	int ready_fd; /* read end: qrexec-daemon says "agent up" */
	uint64_t start_timer;
	uint64_t stop_timer;
	struct conn *waiting_start[8]; /* admin.vm.Start calls to answer */
	struct conn *waiting_stop[8];  /* admin.vm.Shutdown+wait */
	bool auto_cleanup;
	bool killing;
	bool handed_out; /* a preloaded disposable given out, not yet Started */
	char lower[PATH_MAX]; /* the template snapshot it runs on, or "" */
	/* a disposable's: the snapshot of its DVM template's private it
	 * runs over, or "" */
	char priv_lower[PATH_MAX];
	struct running *next;
};

/* A backend runs qubes (processes, namespace sandboxes, QEMU VMs). */
struct backend_ops {
	const char *name;
	/*
	 * Start q's init (with its qrexec agent); fill r->init_pid.  The
	 * qube's channel directory exists.  0 or -errno (reason in err).
	 */
	int (*start)(struct daemon *d, const struct db_qube *q,
	    struct running *r, char *err, size_t errlen);
	/* Ask for a clean stop (the init exits when done). */
	int (*shutdown)(struct daemon *d, struct running *r);
	int (*kill)(struct daemon *d, struct running *r);
	int (*pause)(struct daemon *d, struct running *r);
	int (*unpause)(struct daemon *d, struct running *r);
	/* After the init exited: release what the qube held. */
	void (*cleanup)(struct daemon *d, struct running *r);
};

struct daemon_config {
	char state_dir[PATH_MAX];
	char run_dir[PATH_MAX];
	char conf_dir[PATH_MAX];
	char socket[PATH_MAX];
	char internal_socket[PATH_MAX];
	char bin_dir[PATH_MAX]; /* where qrexec-daemon etc. are */
	char backend[32];
	bool start_policy_daemon;
	bool debug;
	/* the user qrexec-policy-daemon drops to (--policy-user; empty:
	 * it stays root) and that user's group, which the internal socket
	 * is given */
	char policy_user[64];
	uid_t policy_uid;
	gid_t policy_gid;
	/* the user of the qrexec-daemons' workers (--qrexec-user): "" for
	 * an id of each qube's own */
	char qrexec_user[64];
	/* the host-wide registry of qids (--id-registry; idclaim.h) */
	char id_registry[PATH_MAX];
	/* the host users' subordinate ids: ':'-separated files
	 * (BULKHEAD_SUBID_FILES, default IDCLAIM_SUBID_FILES) */
	char subid_files[PATH_MAX];
};

struct daemon {
	struct daemon_config cfg;
	struct db db;
	struct model model;
	struct loop loop;
	const struct backend_ops *backend;
	struct running *running;
	/* the next domain id to try (qubes.c: domid_alloc) */
	uint32_t next_domid;
	int api_fd, internal_fd;
	struct conn *conns;
	unsigned nconns, nstreams;
	unsigned nconns_internal; /* of nconns, on the internal socket */
	pid_t policy_pid;
	int policy_pidfd;
	unsigned policy_restarts;
	/* the policy the Admin API's filter evaluates (api.c), kept while
	 * its files do not change */
	struct api_policy_cache *apc;
	/* our claims on qids, host-wide (idclaim.c) */
	struct idclaim ids;
};

/* ---- api.c ---- */
int api_listen(struct daemon *d);
void api_close_all(struct daemon *d);
/* Send an event to every subscriber interested in subject. */
void api_event(struct daemon *d, const char *subject, const char *event,
    const char *const *kv);
/* Finish a deferred call with "0\0" (data may be NULL) or an exception. */
void api_reply_ok(struct daemon *d, struct conn *c, const char *data);
void api_reply_exc(struct daemon *d, struct conn *c, const char *type,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- qubes.c: lifecycle ---- */
struct running *qube_running(struct daemon *d, uint32_t qid);
struct qube_rt *qube_rt_lookup(void *ctx, uint32_t qid);
/*
 * Start q.  On success the start is under way and c (if not NULL) gets
 * its reply when the agent is up or the start failed.  Returns 0, or
 * -errno with a reply already sent to c.
 */
int qube_start(struct daemon *d, const struct db_qube *q, struct conn *c);
/*
 * A Start for a qube already starting: c is answered with that start's
 * outcome.  0, -ESRCH (not starting), -EBUSY (too many waiting).
 */
int qube_join_start(struct daemon *d, uint32_t qid, struct conn *c);
/* force: kill after shutdown_timeout; c waits if not NULL. */
int qube_shutdown(
    struct daemon *d, const struct db_qube *q, bool force, struct conn *c);
/*
 * Kill q's qube; c (if not NULL) is answered when it has halted.  0: c
 * will be answered, 1: killed but c must be answered now, <0: -errno.
 */
int qube_kill(struct daemon *d, const struct db_qube *q, struct conn *c);
int qube_pause(struct daemon *d, const struct db_qube *q, bool pause);
/* A connection went away: forget any deferred reply to it. */
void qube_forget_conn(struct daemon *d, struct conn *c);
/* At startup: adopt qubes still running from a previous bulkheadd. */
void qube_reconcile(struct daemon *d);
/* Remove a qube's files (private volume etc.) and give up its qid's
 * host-wide claim. */
int qube_remove_files(struct daemon *d, const struct db_qube *q);
/*
 * A qid for a new qube with this uuid: free in our database, whose host
 * ids no host user has as subordinate ids, and claimed host-wide
 * (idclaim.c), so that no qube of another bulkheadd has its host ids.  0,
 * -ENOSPC (none left), or -errno.
 */
int qube_new_qid(struct daemon *d, const char *uuid, uint32_t *ret_qid);
/*
 * Make sure q's qid is claimed host-wide for q (it is, unless q was made
 * before the registry existed or another registry was used) and that its
 * host ids are no host user's subordinate ids.  0; -EBUSY if a qube of
 * another bulkheadd holds the qid or a user's subordinate ids meet its
 * range, -errno if that cannot be told; then why ends "its host ids ..."
 * with the reason.
 */
int
qube_claim_ids(struct daemon *d, const struct db_qube *q, char *why, size_t n);
/* At startup: our stale claims removed, every qube's claim checked. */
void qube_claims_check(struct daemon *d);
int qube_policy_start(struct daemon *d);

/* ---- backends ---- */
extern const struct backend_ops backend_process;
extern const struct backend_ops backend_sandbox;
extern const struct backend_ops backend_vm;
/*
 * The backend that runs q: backend_vm for virt_mode=vm, else the daemon's
 * (--backend).  NULL if there is none.
 */
const struct backend_ops *
qube_backend(struct daemon *d, const struct db_qube *q);
/*
 * For the backends: a property's value (its own, inherited or default)
 * as a string into out.  0, -ENOENT (no such property), -ENAMETOOLONG.
 */
int backend_prop(struct daemon *d, const struct db_qube *q, const char *name,
    char *out, size_t n);
/* Whether q's feature name is set to a true value (Qubes: "1"/"True"). */
bool
backend_feature_on(struct daemon *d, const struct db_qube *q, const char *name);
/* A launcher's command line, built in place. */
struct argv {
	char *a[96];
	size_t n;
	char buf[16384];
	size_t used;
};
/* Append a printf-formatted argument.  0 or -E2BIG. */
int argv_push(struct argv *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * A VM qube's volumes (backend_vm.c).  backend_vm_volume_image: the
 * image file of q's volume vol (private.img, a template's root.img), or
 * -ENOENT when that volume is no image of q's own.  backend_vm_revisions:
 * the revisions kept of vol, oldest first, at most max; their count or
 * -errno.  backend_vm_revert: make revision rev vol's content (q halted);
 * 0, -EINVAL (no such name), -ENOENT, -errno.
 */
int backend_vm_volume_image(struct daemon *d, const struct db_qube *q,
    const char *vol, char *out, size_t n);
int backend_vm_revisions(struct daemon *d, const struct db_qube *q,
    const char *vol, char (*ret)[24], size_t max);
int backend_vm_revert(struct daemon *d, const struct db_qube *q,
    const char *vol, const char *rev);
/*
 * Remove the cgroups named name (cgroup_qube_name's) that a launcher
 * killed with SIGKILL left, killing what is still in them.
 */
void backend_remove_cgroups(const char *name);
/*
 * Whether a VM image's snapshot (image_snapshot in backend_vm.c: a copy
 * given the image's mtime) is still what the image holds: same size and
 * mtime.  The one test of staleness, for the copy and for preloads.
 */
static inline bool
backend_snapshot_current(const struct stat *img, const struct stat *snap)
{
	return img->st_size == snap->st_size &&
	    img->st_mtim.tv_sec == snap->st_mtim.tv_sec &&
	    img->st_mtim.tv_nsec == snap->st_mtim.tv_nsec;
}
/* <state>/qubes/<name>/<leaf> into out.  0 or -ENAMETOOLONG. */
int backend_qube_path(
    struct daemon *d, char *out, size_t n, const char *name, const char *leaf);
/*
 * The cleanup op of both launcher backends: the qube's volatile data,
 * and the cgroups a launcher killed with SIGKILL left.
 */
void backend_cleanup(struct daemon *d, struct running *r);
/*
 * Backend ops that signal the launcher (both launchers take the same
 * signals): SIGTERM shut down, SIGINT kill, SANDBOX_SIG_FREEZE/THAW.
 */
int backend_sig_shutdown(struct daemon *d, struct running *r);
int backend_sig_kill(struct daemon *d, struct running *r);
int backend_sig_freeze(struct daemon *d, struct running *r);
int backend_sig_thaw(struct daemon *d, struct running *r);
/* Whether QEMU can run VM qubes here: 0, or -ENOENT with why in err. */
int backend_vm_available(struct daemon *d, char *err, size_t errlen);
/* (Re)build the host template's /etc from the host's, minus secrets. */
/*
 * Preloaded disposables (preload.c).  preload_schedule: reconsider every
 * DVM template's preloads from the loop, after delay_ms.  preload_take:
 * admin.vm.CreateDisposable's fast path, 0 with *ret a ready disposable of
 * dvm (unpaused), or -ENOENT.  The hooks: q came up / went down.
 */
void preload_schedule(struct daemon *d, uint64_t delay_ms);
int
preload_take(struct daemon *d, const struct db_qube *dvm, struct db_qube *ret);
void preload_running(struct daemon *d, const struct db_qube *q);
void
preload_halted(struct daemon *d, const struct db_qube *q, bool was_starting);
/* A connection went away: a volume copy in progress tells nobody. */
void api_volume_forget_conn(struct conn *c);
/* Is a volume of qube qid being copied (CloneTo) now? */
bool api_volume_copying_from(uint32_t qid);
/*
 * Remove a tree bulkheadd owns, safely against what a qube put in it
 * (fsutil.c).  0, or -errno / -EIO.
 */
int fs_remove_tree(const char *path);

/*
 * In a child bulkheadd forks for a helper (rm, cp): no signal blocked (the
 * daemon blocks them for its signalfd, and an exec keeps the mask), and
 * no descriptor of the daemon's but 0-2 and keep (-1: none) — not its
 * state directory lock, not its listening sockets, which would outlive
 * it while the helper runs.
 */
void daemon_child_init(int keep);

/*
 * In such a child (it waits): copy the tree from to to with
 * cp -a --reflink=auto.  0 if the copy succeeded, else 1.  The child and
 * its cp die with bulkheadd (PR_SET_PDEATHSIG; daemon: bulkheadd's pid,
 * this child's parent, which may be gone already: then 1).
 */
int fs_copy_tree_in_child(pid_t daemon, const char *from, const char *to);

/* How spawn_logged() starts a program. */
struct spawn_opts {
	const char *log;          /* stdout and stderr appended here */
	const char *const *env;   /* NAME, value, NAME, value, ..., NULL */
	const char *const *unset; /* names to remove, NULL-terminated */
	int fd3;                  /* becomes fd 3 if >= 0 (-1: none) */
	const struct passwd *as;  /* the user to run as (NULL: ours) */
	/* in the child, last before the exec (NULL: none); a return < 0
	 * ends the child with status 1 (the function said why, on stderr) */
	int (*before_exec)(void *arg);
	void *before_exec_arg;
};

/*
 * Start prog in its own session with signals unblocked, as o says.  The
 * pid, or -errno.  The child exits 126 if it cannot become o->as, 127 if
 * prog cannot run.
 */
pid_t
spawn_logged(const char *prog, char *const argv[], const struct spawn_opts *o);
/*
 * Template snapshots (snapshot.c): what AppVMs of a template with a root
 * of its own start on.  snapshot_lower: that directory for template t.
 * snapshot_defers_start:
 * 1 if t's start must wait for a copy (it is then started, and c
 * answered, when the copy ends), -EBUSY if a start already waits, 0 if
 * it may start now.  The hooks: a conn went away; q halted
 * (lower, priv_lower: the snapshots it ran on).
 *
 * A DVM template's private volume likewise (namespace backend), for its
 * disposables: snapshot_private_lower gives the newest snapshot of dvm's
 * private (its live private if it has none), taken when it halts and
 * before its first start; snapshot_defers_start covers a DVM template's
 * own start too.
 */
int
snapshot_lower(struct daemon *d, const struct db_qube *t, char *out, size_t n);
int snapshot_defers_start(
    struct daemon *d, const struct db_qube *t, struct conn *c);
/*
 * The same for q, an AppVM or disposable whose root comes from template
 * t: 1 if q's start waits for a copy of t's root (t never snapshotted, or
 * a copy under way), and happens when the copy ends; -EBUSY if it waits
 * already or too many do; 0 if it may start now.
 */
#define SNAPSHOT_MAX_WAITERS 16
int snapshot_defers_appvm_start(struct daemon *d, const struct db_qube *t,
    const struct db_qube *q, struct conn *c);
int snapshot_private_lower(
    struct daemon *d, const struct db_qube *dvm, char *out, size_t n);
/* Is a snapshot of t's (its root, or its private) being taken? */
bool snapshot_in_progress(const struct db_qube *t);
/* q's private's snapshots: all that no running disposable uses if q is
 * no DVM template (any more), else all but the newest. */
void snapshot_private_gc(struct daemon *d, const struct db_qube *q);
/* At start-up: copies the previous bulkheadd left unfinished are taken
 * again (halted qubes) and their leftovers removed. */
void snapshot_resume(struct daemon *d);
/*
 * The same for q, a disposable of dvm: 1 if q's start waits for a copy
 * of dvm's private (never snapshotted, or a copy under way), -EBUSY if it
 * waits already or too many do, -EAGAIN if dvm runs and was never
 * snapshotted (nothing to start over until it halts), 0 if it may start
 * now.
 */
int snapshot_defers_dispvm_start(struct daemon *d, const struct db_qube *dvm,
    const struct db_qube *q, struct conn *c);
void snapshot_forget_conn(struct conn *c);
void snapshot_qube_halted(struct daemon *d, const struct db_qube *q,
    const char *lower, const char *priv_lower);
/* fs_remove_tree without waiting for it (big trees, off the loop). */
void fs_remove_tree_async(const char *path);
/*
 * Rename path into dir (on the same filesystem) as ".removed-TAG-<time>"
 * and remove it there without waiting: the name is free at once and the
 * loop does not wait for rm.  If it cannot be renamed, it is removed in
 * place (waiting).  What a crash leaves is found by its prefix at the
 * next start (qube_reconcile).  0 if path is gone or going.
 */
int fs_remove_tree_aside(const char *path, const char *dir, const char *tag);
/*
 * Rename path to dir/name (a trash directory made for it, removed as a
 * whole later).  0 if it was moved or is not there, else -errno (dir ""
 * or NULL: -ENOENT), and the caller removes it in place.
 */
int fs_move_into(const char *path, const char *dir, const char *name);
/* A new disposable of dvm (auto_cleanup), as CreateDisposable makes. */
int api_new_disposable(struct daemon *d, const struct db_qube *dvm,
    struct db_qube *ret, char *err, size_t errlen);

int backend_sandbox_make_host_template(struct daemon *d, const char *name);
/* q's private volume (a namespace qube's), made if missing.  0 or -errno. */
int backend_sandbox_ensure_private(struct daemon *d, const struct db_qube *q);

#endif
