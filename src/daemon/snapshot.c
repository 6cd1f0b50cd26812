/*
 * snapshot.c - what AppVMs see of a template's root: a snapshot.
 *
 * Qubes' semantics: a template's changes reach its AppVMs at their first
 * start after the template has shut down; an AppVM never sees a running
 * template's half-done changes, and a running AppVM never sees its root
 * change under it.  A template of our own (a directory root, not the host
 * template) therefore gets a snapshot of its root, root.snap-N beside it,
 * taken when it halts (and before its first start); AppVMs start on the
 * newest one, their overlay's read-only lower layer.  An older snapshot is
 * removed once no running qube uses it.
 *
 * Copies happen in a child (cp -a --reflink=auto: cheap where the
 * filesystem shares extents); the loop goes on.  A template is not started
 * while its snapshot is being taken: its start waits for the copy.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/bulkheadd.h"
#include "lib/log.h"
#include "lib/util.h"

struct snap_op {
	struct daemon *d;
	uint32_t qid;         /* the template */
	int result_fd;        /* the copier writes 0 (done) or 1 */
	char tmp[PATH_MAX];   /* root.snap-N.new */
	char final[PATH_MAX]; /* root.snap-N */
	struct conn *start;   /* an admin.vm.Start waiting for the copy */
	bool start_pending;   /* a start with nobody to answer (autostart) */
	/* AppVMs (and disposables) of the template waiting for the copy */
	struct {
		uint32_t qid;
		struct conn *c;
	} appvms[SNAPSHOT_MAX_WAITERS];
	unsigned nappvms;
	struct snap_op *next;
};

static struct snap_op *ops;

static int
tdir(struct daemon *d, const char *name, char *out, size_t n)
{
	return str_printf(out, n, "%s/qubes/%s", d->cfg.state_dir, name);
}

/* The highest N of root.snap-N in dir, 0 if none (-errno on error). */
static long
newest(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	long best = 0;

	if (dp == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(dp)) != NULL) {
		uint32_t n;

		if (strncmp(e->d_name, "root.snap-", 10) == 0 &&
		    parse_u32(e->d_name + 10, 1000000000, &n) == 0 &&
		    (long)n > best)
			best = (long)n;
	}
	(void)closedir(dp);
	return best;
}

static struct snap_op *
op_of(uint32_t qid)
{
	struct snap_op *op;

	for (op = ops; op; op = op->next)
		if (op->qid == qid)
			return op;
	return NULL;
}

int
snapshot_lower(struct daemon *d, const struct db_qube *t, char *out, size_t n)
{
	char dir[PATH_MAX];
	long best;

	if (tdir(d, t->name, dir, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	best = newest(dir);
	if (best < 0)
		return (int)best;
	if (best == 0) /* never snapshotted: the template never ran */
		return str_printf(out, n, "%s/root", dir);
	return str_printf(out, n, "%s/root.snap-%ld", dir, best);
}

static bool
op_of_path(const char *dir, const char *leaf)
{
	struct snap_op *op;
	char p[PATH_MAX + 300];

	(void)str_printf(p, sizeof(p), "%s/%s", dir, leaf);
	for (op = ops; op; op = op->next)
		if (strcmp(op->tmp, p) == 0)
			return true;
	return false;
}

/* Remove t's snapshots but the newest and those a running qube uses. */
static void
gc(struct daemon *d, const char *tname)
{
	char dir[PATH_MAX], p[PATH_MAX + 300];
	struct dirent *e;
	long best;
	DIR *dp;

	if (tdir(d, tname, dir, sizeof(dir)) < 0 || (best = newest(dir)) <= 0 ||
	    (dp = opendir(dir)) == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		struct running *r;
		uint32_t n;
		bool used = false;

		if (strncmp(e->d_name, "root.snap-", 10) != 0)
			continue;
		if (parse_u32(e->d_name + 10, 1000000000, &n) < 0) {
			/* a copy that never finished (root.snap-N.new) */
			if (op_of_path(dir, e->d_name))
				continue;
		} else if ((long)n == best) {
			continue;
		}
		(void)str_printf(p, sizeof(p), "%s/%s", dir, e->d_name);
		for (r = d->running; r && !used; r = r->next)
			used = strcmp(r->lower, p) == 0;
		if (!used) {
			log_info("%s: removing its unused snapshot %s", tname,
			    e->d_name);
			fs_remove_tree_async(p);
		}
	}
	(void)closedir(dp);
}

static void
done(void *arg, int fd, short revents)
{
	struct snap_op *op = arg, **pp;
	struct daemon *d = op->d;
	struct db_qube t;
	char status = 1, root[PATH_MAX];
	bool ok, have = db_qube_by_qid(&d->db, op->qid, &t) == 0;
	unsigned i;

	(void)fd, (void)revents;
	ok = read(op->result_fd, &status, 1) == 1 && status == 0 &&
	    rename(op->tmp, op->final) == 0;
	loop_del(&d->loop, op->result_fd);
	close_fd(&op->result_fd);
	for (pp = &ops; *pp; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	if (ok) {
		log_info("%s: snapshot %s taken", have ? t.name : "?",
		    strrchr(op->final, '/') + 1);
	} else {
		log_warnx("%s: taking a snapshot of its root failed; its "
		          "AppVMs keep the previous one",
		    have ? t.name : "?");
		fs_remove_tree_async(op->tmp);
	}
	/*
	 * A failed copy with no snapshot before it: whoever waits is told,
	 * not started (a template would only try again, and again; an AppVM
	 * would run on the live root).
	 */
	if (!ok && have && tdir(d, t.name, root, sizeof(root)) == 0 &&
	    newest(root) == 0) {
		if (op->start)
			api_reply_exc(d, op->start, "QubesVMError",
			    "%s: taking a snapshot of its root failed (see "
			    "bulkheadd's log)",
			    t.name);
		for (i = 0; i < op->nappvms; i++)
			if (op->appvms[i].c)
				api_reply_exc(d, op->appvms[i].c,
				    "QubesVMError",
				    "%s: taking a snapshot of its template's root "
				    "failed (see bulkheadd's log)",
				    t.name);
		free(op);
		return;
	}
	if (have) {
		gc(d, t.name);
		if (op->start || op->start_pending)
			(void)qube_start(d, &t, op->start);
	}
	for (i = 0; i < op->nappvms; i++) {
		struct db_qube q;

		if (db_qube_by_qid(&d->db, op->appvms[i].qid, &q) == 0)
			(void)qube_start(d, &q, op->appvms[i].c);
		else if (op->appvms[i].c)
			api_reply_exc(d, op->appvms[i].c,
			    "QubesVMNotFoundError",
			    "the qube was removed while its template's snapshot "
			    "was taken");
	}
	free(op);
}

int
snapshot_take(struct daemon *d, const struct db_qube *t)
{
	char dir[PATH_MAX], root[PATH_MAX + 8];
	struct snap_op *op;
	int pipefd[2];
	long best;
	pid_t pid;

	if (op_of(t->qid) != NULL)
		return 0; /* one is being taken */
	if (tdir(d, t->name, dir, sizeof(dir)) < 0 ||
	    str_printf(root, sizeof(root), "%s/root", dir) < 0)
		return -ENAMETOOLONG;
	if (access(root, F_OK) < 0)
		return -ENOENT;
	best = newest(dir);
	if (best < 0)
		return (int)best;
	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return -ENOMEM;
	op->d = d;
	op->qid = t->qid;
	op->result_fd = -1;
	if (str_printf(op->final, sizeof(op->final), "%s/root.snap-%ld", dir,
	        best + 1) < 0 ||
	    str_printf(op->tmp, sizeof(op->tmp), "%s.new", op->final) < 0 ||
	    pipe2(pipefd, O_CLOEXEC) < 0) {
		free(op);
		return -ENAMETOOLONG;
	}
	(void)fs_remove_tree(op->tmp);
	pid = fork();
	if (pid == 0) {
		int st;

		(void)close(pipefd[0]);
		daemon_child_init(pipefd[1]);
		st = fs_copy_tree_in_child(root, op->tmp);
		_exit(write(pipefd[1], st ? "\1" : "", 1) == 1 ? st : 1);
	}
	(void)close(pipefd[1]);
	op->result_fd = pipefd[0];
	if (pid < 0 ||
	    loop_add(&d->loop, op->result_fd, POLLIN, done, op) < 0) {
		if (pid > 0)
			(void)kill(pid, SIGKILL);
		close_fd(&op->result_fd);
		free(op);
		return -EAGAIN;
	}
	op->next = ops;
	ops = op;
	log_info("%s: taking a snapshot of its root for its AppVMs", t->name);
	return 0;
}

int
snapshot_defers_start(struct daemon *d, const struct db_qube *t, struct conn *c)
{
	struct snap_op *op = op_of(t->qid);
	char dir[PATH_MAX];

	if (op == NULL && qube_class_of(t) == QC_TEMPLATEVM &&
	    tdir(d, t->name, dir, sizeof(dir)) == 0 && newest(dir) == 0 &&
	    snapshot_take(d, t) == 0)
		op =
		    op_of(t->qid); /* its first start: keep the pristine root */
	if (op == NULL)
		return 0;
	if (op->start || op->start_pending)
		return -EBUSY; /* a start already waits for this copy */
	op->start = c;
	op->start_pending = c == NULL;
	return 1;
}

int
snapshot_defers_appvm_start(struct daemon *d, const struct db_qube *t,
    const struct db_qube *q, struct conn *c)
{
	struct snap_op *op = op_of(t->qid);
	char dir[PATH_MAX], root[PATH_MAX + 8];
	unsigned i;

	if (op == NULL) {
		/*
		 * Only a template with a root of its own that was never
		 * snapshotted: its AppVMs would run on the live root, which
		 * the template's first start then writes to under them.
		 */
		if (qube_class_of(t) != QC_TEMPLATEVM ||
		    tdir(d, t->name, dir, sizeof(dir)) < 0 ||
		    str_printf(root, sizeof(root), "%s/root", dir) < 0 ||
		    access(root, F_OK) < 0 || newest(dir) != 0)
			return 0;
		if (snapshot_take(d, t) < 0 || (op = op_of(t->qid)) == NULL)
			return 0;
	}
	for (i = 0; i < op->nappvms; i++)
		if (op->appvms[i].qid == q->qid)
			return -EBUSY; /* it waits already */
	if (op->nappvms == SNAPSHOT_MAX_WAITERS)
		return -EBUSY;
	op->appvms[op->nappvms].qid = q->qid;
	op->appvms[op->nappvms].c = c;
	op->nappvms++;
	return 1;
}

void
snapshot_forget_conn(struct conn *c)
{
	struct snap_op *op;
	unsigned i;

	for (op = ops; op; op = op->next) {
		if (op->start == c) {
			op->start = NULL; /* the start still happens */
			op->start_pending = true;
		}
		for (i = 0; i < op->nappvms; i++)
			if (op->appvms[i].c == c)
				op->appvms[i].c =
				    NULL; /* started all the same */
	}
}

void
snapshot_qube_halted(
    struct daemon *d, const struct db_qube *q, const char *lower)
{
	if (qube_class_of(q) == QC_TEMPLATEVM)
		(void)snapshot_take(d, q);
	if (lower[0]) {
		/* lower is <state>/qubes/<template>/root.snap-N */
		char tname[MODEL_MAX_NAME + 1], *slash;
		const char *base = lower + strlen(d->cfg.state_dir) + 7;

		if (strncmp(lower, d->cfg.state_dir,
		        strlen(d->cfg.state_dir)) != 0 ||
		    str_copy(tname, sizeof(tname), base) < 0)
			return;
		slash = strchr(tname, '/');
		if (slash)
			*slash = '\0';
		gc(d, tname);
	}
}
