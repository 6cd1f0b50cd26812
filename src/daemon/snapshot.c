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
 *
 * A DVM template's private volume the same way, for its disposables:
 * Qubes gives a disposable the private volume its DVM template had when
 * it last shut down, never what a running DVM template is writing.  So a
 * DVM template (template_for_dispvms, namespace backend) gets
 * private.snap-N, taken when it halts and before its first start (or a
 * disposable's first start from it); a disposable's private is an
 * overlay over the newest one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

/* What a snapshot is of: a template's root, a DVM template's private. */
enum snap_vol {
	SNAP_ROOT,
	SNAP_PRIVATE,
};

static const char *const vol_dir[] = {"root", "private"};
/* "root.snap-", "private.snap-" */
static const char *const vol_prefix[] = {"root.snap-", "private.snap-"};

struct snap_op {
	struct daemon *d;
	enum snap_vol vol;
	uint32_t qid;         /* the template (or DVM template) */
	int result_fd;        /* the copier writes 0 (copied), 1 or 2 */
	char tmp[PATH_MAX];   /* root.snap-N.new */
	char final[PATH_MAX]; /* root.snap-N */
	char sum[PATH_MAX];   /* VOL.snap.sum: "N DIGEST" of the newest */
	struct conn *start;   /* an admin.vm.Start waiting for the copy */
	bool start_pending;   /* a start with nobody to answer (autostart) */
	/* AppVMs (and disposables) of the template, or disposables of the
	 * DVM template, waiting for the copy */
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

/* The highest N of VOL.snap-N in dir, 0 if none (-errno on error). */
static long
newest(const char *dir, enum snap_vol vol)
{
	size_t plen = strlen(vol_prefix[vol]);
	DIR *dp = opendir(dir);
	struct dirent *e;
	long best = 0;

	if (dp == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(dp)) != NULL) {
		uint32_t n;

		if (strncmp(e->d_name, vol_prefix[vol], plen) == 0 &&
		    parse_u32(e->d_name + plen, 1000000000, &n) == 0 &&
		    (long)n > best)
			best = (long)n;
	}
	(void)closedir(dp);
	return best;
}

static struct snap_op *
op_of(uint32_t qid, enum snap_vol vol)
{
	struct snap_op *op;

	for (op = ops; op; op = op->next)
		if (op->qid == qid && op->vol == vol)
			return op;
	return NULL;
}

/* Any copy of t's under way (a start of t waits for it). */
static struct snap_op *
op_of_any(uint32_t qid)
{
	struct snap_op *op = op_of(qid, SNAP_ROOT);

	return op != NULL ? op : op_of(qid, SNAP_PRIVATE);
}

/* The newest snapshot of t's vol, or the live volume if none. */
static int
lower_of(struct daemon *d, const struct db_qube *t, enum snap_vol vol,
    char *out, size_t n)
{
	char dir[PATH_MAX];
	long best;

	if (tdir(d, t->name, dir, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	best = newest(dir, vol);
	if (best < 0)
		return (int)best;
	if (best == 0) /* never snapshotted: the template never ran */
		return str_printf(out, n, "%s/%s", dir, vol_dir[vol]);
	return str_printf(out, n, "%s/%s%ld", dir, vol_prefix[vol], best);
}

bool
snapshot_in_progress(const struct db_qube *t)
{
	return op_of_any(t->qid) != NULL;
}

int
snapshot_lower(struct daemon *d, const struct db_qube *t, char *out, size_t n)
{
	return lower_of(d, t, SNAP_ROOT, out, n);
}

int
snapshot_private_lower(
    struct daemon *d, const struct db_qube *dvm, char *out, size_t n)
{
	return lower_of(d, dvm, SNAP_PRIVATE, out, n);
}

/* Is q a DVM template whose private volume disposables start over? */
static bool
is_dvm_template(struct daemon *d, const struct db_qube *q)
{
	const struct prop_def *p;
	char *flag = NULL;
	bool def, yes;

	/* AppVMs and StandaloneVMs have the property (model.c) */
	if ((qube_class_of(q) != QC_APPVM &&
	        qube_class_of(q) != QC_STANDALONEVM) ||
	    qube_backend(d, q) == &backend_vm ||
	    (p = prop_find(qube_class_of(q), "template_for_dispvms")) == NULL)
		return false;
	yes = prop_get(&d->model, q, p, &flag, &def) > 0 &&
	    strcmp(flag, "True") == 0;
	free(flag);
	return yes;
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

static void
gc_keep(struct daemon *d, const char *tname, enum snap_vol vol, bool newest);

/* Remove t's snapshots of vol but the newest and those a running qube
 * uses. */
static void
gc(struct daemon *d, const char *tname, enum snap_vol vol)
{
	gc_keep(d, tname, vol, true);
}

/* The same, the newest too unless keep_newest. */
static void
gc_keep(
    struct daemon *d, const char *tname, enum snap_vol vol, bool keep_newest)
{
	char dir[PATH_MAX], p[PATH_MAX + 300];
	size_t plen = strlen(vol_prefix[vol]);
	struct dirent *e;
	long best;
	DIR *dp;

	if (tdir(d, tname, dir, sizeof(dir)) < 0 ||
	    (best = newest(dir, vol)) <= 0 || (dp = opendir(dir)) == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		struct running *r;
		uint32_t n;
		bool used = false;

		if (strncmp(e->d_name, vol_prefix[vol], plen) != 0)
			continue;
		if (parse_u32(e->d_name + plen, 1000000000, &n) < 0) {
			/* a copy that never finished (VOL.snap-N.new) */
			if (op_of_path(dir, e->d_name))
				continue;
		} else if ((long)n == best && keep_newest) {
			continue;
		}
		(void)str_printf(p, sizeof(p), "%s/%s", dir, e->d_name);
		for (r = d->running; r && !used; r = r->next)
			used =
			    strcmp(vol == SNAP_ROOT ? r->lower : r->priv_lower,
			        p) == 0;
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
	const char *what = vol_dir[op->vol];
	const char *users = op->vol == SNAP_ROOT ? "AppVMs" : "disposables";
	bool ok, unchanged, have = db_qube_by_qid(&d->db, op->qid, &t) == 0;
	char sum_new[PATH_MAX + 8];
	unsigned i;

	(void)fd, (void)revents;
	if (read(op->result_fd, &status, 1) != 1)
		status = 1;
	/* unchanged since the newest snapshot: that one serves */
	unchanged = status == 2;
	ok = unchanged || (status == 0 && rename(op->tmp, op->final) == 0);
	if (status == 0 && ok &&
	    str_printf(sum_new, sizeof(sum_new), "%s.new", op->sum) == 0 &&
	    rename(sum_new, op->sum) < 0)
		(void)unlink(op->sum); /* a stale sum never matches again */
	loop_del(&d->loop, op->result_fd);
	close_fd(&op->result_fd);
	for (pp = &ops; *pp; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	if (unchanged) {
		log_info("%s: its %s is as at its last snapshot: no copy",
		    have ? t.name : "?", what);
	} else if (ok) {
		log_info("%s: snapshot %s taken", have ? t.name : "?",
		    strrchr(op->final, '/') + 1);
		/* the preloads made over the one before are outdated now */
		preload_schedule(d, 0);
	} else {
		log_warnx("%s: taking a snapshot of its %s failed; its %s keep "
		          "the previous one",
		    have ? t.name : "?", what, users);
		fs_remove_tree_async(op->tmp);
	}
	/*
	 * A failed copy with no snapshot before it: whoever waits is told,
	 * not started (a template would only try again, and again; an AppVM
	 * or a disposable would run on the live volume).
	 */
	if (!ok && have && tdir(d, t.name, root, sizeof(root)) == 0 &&
	    newest(root, op->vol) == 0) {
		if (op->start)
			api_reply_exc(d, op->start, "QubesVMError",
			    "%s: taking a snapshot of its %s failed (see "
			    "bulkheadd's log)",
			    t.name, what);
		for (i = 0; i < op->nappvms; i++)
			if (op->appvms[i].c)
				api_reply_exc(d, op->appvms[i].c,
				    "QubesVMError",
				    "%s: taking a snapshot of its %s's %s "
				    "failed (see bulkheadd's log)",
				    t.name,
				    op->vol == SNAP_ROOT ? "template" :
				                           "DVM template",
				    what);
		free(op);
		return;
	}
	if (have) {
		if (op->vol == SNAP_PRIVATE)
			snapshot_private_gc(d, &t);
		else
			gc(d, t.name, op->vol);
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

/*
 * Whether a tree changed since its last snapshot, without copying it: a
 * digest of what stat(2) says of every entry (path, inode, type and
 * mode, owner, size, link count, mtime and ctime), in the walk's order.
 * Any change to a file or its name changes its ctime or its directory's,
 * and nobody in a qube can set a ctime.  FNV-1a, 128 bits: not a
 * cryptographic hash; a qube that made a change digest the same would
 * only keep its own disposables (or AppVMs) on its own older state.
 * Computed in the copier (a child of bulkheadd's), hence the static.
 */
__extension__ typedef unsigned __int128 digest_t;

static digest_t walk_digest;
static size_t walk_skip; /* length of the tree's own path */

static void
digest_add(const void *p, size_t n)
{
	const digest_t prime = ((digest_t)0x1000000ULL << 64) | 0x13bULL;
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		walk_digest ^= b[i];
		walk_digest *= prime;
	}
}

static int
digest_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	const char *rel = path + walk_skip;
	uint64_t v[11];

	(void)f;
	v[0] = (uint64_t)flag;
	v[1] = (uint64_t)st->st_ino;
	v[2] = (uint64_t)st->st_mode;
	v[3] = (uint64_t)st->st_uid;
	v[4] = (uint64_t)st->st_gid;
	v[5] = (uint64_t)st->st_size;
	v[6] = (uint64_t)st->st_nlink;
	v[7] = (uint64_t)st->st_mtim.tv_sec;
	v[8] = (uint64_t)st->st_mtim.tv_nsec;
	v[9] = (uint64_t)st->st_ctim.tv_sec;
	v[10] = (uint64_t)st->st_ctim.tv_nsec;
	digest_add(rel, strlen(rel) + 1);
	digest_add(v, sizeof(v));
	return 0;
}

/* The digest of the tree at path, in hex (33 bytes).  0 or -1. */
static int
tree_digest(const char *path, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	walk_digest =
	    ((digest_t)0x6c62272e07bb0142ULL << 64) | 0x62b821756295c58dULL;
	walk_skip = strlen(path);
	/* FTW_PHYS: links are entries, never followed; FTW_MOUNT: one
	 * file system */
	if (nftw(path, digest_entry, 32, FTW_PHYS | FTW_MOUNT) != 0)
		return -1;
	for (i = 0; i < 32; i++)
		out[i] = hex[(unsigned)(walk_digest >> (124 - 4 * i)) & 0xf];
	out[32] = '\0';
	return 0;
}

/* Does the sum file say "N DIGEST" for snapshot n of this digest? */
static bool
sum_is(const char *sum, long n, const char *digest)
{
	char buf[64], want[64];
	ssize_t len;
	int fd = open(sum, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return false;
	len = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (len <= 0)
		return false;
	buf[len] = '\0';
	(void)snprintf(want, sizeof(want), "%ld %s\n", n, digest);
	return strcmp(buf, want) == 0;
}

/*
 * The copier (a child): the tree's digest, then nothing more if the
 * newest snapshot (best) has it, else the copy and, beside it, its sum
 * file to be (SUM.new).  Exit status (and the byte written): 0 copied,
 * 2 unchanged, 1 failed.
 */
static int
copier(pid_t daemon, const char *src, const struct snap_op *op, const char *sum,
    long best)
{
	char digest[33], line[64], tmp_sum[PATH_MAX + 8];
	bool have = tree_digest(src, digest) == 0;
	int fd, st;

	if (have && best > 0 && sum_is(sum, best, digest))
		return 2;
	/* done() renames SUM.new after a copy: never one of before */
	(void)snprintf(tmp_sum, sizeof(tmp_sum), "%s.new", sum);
	(void)unlink(tmp_sum);
	st = fs_copy_tree_in_child(daemon, src, op->tmp);
	if (st != 0 || !have)
		return st;
	(void)snprintf(line, sizeof(line), "%ld %s\n", best + 1, digest);
	fd = open(tmp_sum,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
			(void)unlink(tmp_sum);
		(void)close(fd);
	}
	return 0;
}

/* Start copying t's vol (t halted) into VOL.snap-N+1.  0 or -errno. */
static int
take(struct daemon *d, const struct db_qube *t, enum snap_vol vol)
{
	char dir[PATH_MAX], src[PATH_MAX + 8];
	struct snap_op *op;
	int pipefd[2];
	long best;
	pid_t pid, parent;

	if (op_of(t->qid, vol) != NULL)
		return 0; /* one is being taken */
	if (tdir(d, t->name, dir, sizeof(dir)) < 0 ||
	    str_printf(src, sizeof(src), "%s/%s", dir, vol_dir[vol]) < 0)
		return -ENAMETOOLONG;
	if (access(src, F_OK) < 0)
		return -ENOENT;
	best = newest(dir, vol);
	if (best < 0)
		return (int)best;
	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return -ENOMEM;
	op->d = d;
	op->vol = vol;
	op->qid = t->qid;
	op->result_fd = -1;
	if (str_printf(op->final, sizeof(op->final), "%s/%s%ld", dir,
	        vol_prefix[vol], best + 1) < 0 ||
	    str_printf(op->tmp, sizeof(op->tmp), "%s.new", op->final) < 0 ||
	    str_printf(op->sum, sizeof(op->sum), "%s/%s.snap.sum", dir,
	        vol_dir[vol]) < 0 ||
	    pipe2(pipefd, O_CLOEXEC) < 0) {
		free(op);
		return -ENAMETOOLONG;
	}
	(void)fs_remove_tree(op->tmp);
	parent = getpid();
	pid = fork();
	if (pid == 0) {
		int st;
		char b;

		(void)close(pipefd[0]);
		daemon_child_init(pipefd[1]);
		st = copier(parent, src, op, op->sum, best);
		b = (char)st; /* 0 copied, 1 failed, 2 unchanged */
		_exit(write(pipefd[1], &b, 1) == 1 ? st : 1);
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
	log_info("%s: taking a snapshot of its %s for its %s", t->name,
	    vol_dir[vol], vol == SNAP_ROOT ? "AppVMs" : "disposables");
	return 0;
}

/* Has t (a template, or a DVM template) never been snapshotted? */
static bool
never_snapshotted(struct daemon *d, const struct db_qube *t, enum snap_vol vol)
{
	char dir[PATH_MAX];

	return tdir(d, t->name, dir, sizeof(dir)) == 0 && newest(dir, vol) == 0;
}

int
snapshot_defers_start(struct daemon *d, const struct db_qube *t, struct conn *c)
{
	struct snap_op *op = op_of_any(t->qid);

	/* its first start: keep the pristine root, or the private volume
	 * its disposables start over */
	if (op == NULL && qube_class_of(t) == QC_TEMPLATEVM &&
	    never_snapshotted(d, t, SNAP_ROOT) && take(d, t, SNAP_ROOT) == 0)
		op = op_of(t->qid, SNAP_ROOT);
	if (op == NULL && is_dvm_template(d, t) &&
	    never_snapshotted(d, t, SNAP_PRIVATE) &&
	    backend_sandbox_ensure_private(d, t) == 0 &&
	    take(d, t, SNAP_PRIVATE) == 0)
		op = op_of(t->qid, SNAP_PRIVATE);
	if (op == NULL)
		return 0;
	if (op->start || op->start_pending)
		return -EBUSY; /* a start already waits for this copy */
	op->start = c;
	op->start_pending = c == NULL;
	return 1;
}

/* q waits for op: 1, or -EBUSY (it waits already, or too many do). */
static int
wait_for(struct snap_op *op, const struct db_qube *q, struct conn *c)
{
	unsigned i;

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

int
snapshot_defers_appvm_start(struct daemon *d, const struct db_qube *t,
    const struct db_qube *q, struct conn *c)
{
	struct snap_op *op = op_of(t->qid, SNAP_ROOT);
	char dir[PATH_MAX], root[PATH_MAX + 8];

	if (op == NULL) {
		/*
		 * Only a template with a root of its own that was never
		 * snapshotted: its AppVMs would run on the live root, which
		 * the template's first start then writes to under them.
		 */
		if (qube_class_of(t) != QC_TEMPLATEVM ||
		    tdir(d, t->name, dir, sizeof(dir)) < 0 ||
		    str_printf(root, sizeof(root), "%s/root", dir) < 0 ||
		    access(root, F_OK) < 0 || newest(dir, SNAP_ROOT) != 0)
			return 0;
		if (take(d, t, SNAP_ROOT) < 0 ||
		    (op = op_of(t->qid, SNAP_ROOT)) == NULL)
			return 0;
	}
	return wait_for(op, q, c);
}

int
snapshot_defers_dispvm_start(struct daemon *d, const struct db_qube *dvm,
    const struct db_qube *q, struct conn *c)
{
	struct snap_op *op = op_of(dvm->qid, SNAP_PRIVATE);

	if (op == NULL) {
		/*
		 * A DVM template never snapshotted (it never ran since it
		 * became one): its private volume is copied now, before its
		 * next start could write to it under the disposable.
		 */
		if (!never_snapshotted(d, dvm, SNAP_PRIVATE))
			return 0;
		/*
		 * One that runs (it became a DVM template while it ran) has
		 * nothing to start over until it halts, as in Qubes: its
		 * volume as it last shut down.  Copying the live tree would
		 * also have root's cp walk paths the qube can change under
		 * it, a symlink swapped in mid-copy taking the copy to host
		 * files.
		 */
		if (qube_running(d, dvm->qid) != NULL)
			return -EAGAIN;
		/* one never started has none yet: an empty one, copied */
		if (backend_sandbox_ensure_private(d, dvm) < 0)
			return 0;
		if (take(d, dvm, SNAP_PRIVATE) < 0 ||
		    (op = op_of(dvm->qid, SNAP_PRIVATE)) == NULL)
			return 0;
	}
	return wait_for(op, q, c);
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

/* gc the snapshots of vol of the template whose snapshot lower is. */
static void
gc_lower(struct daemon *d, const char *lower, enum snap_vol vol)
{
	/* lower is <state>/qubes/<template>/VOL.snap-N */
	char tname[MODEL_MAX_NAME + 1], *slash;
	const char *base = lower + strlen(d->cfg.state_dir) + 7;

	if (lower[0] == '\0' ||
	    strncmp(lower, d->cfg.state_dir, strlen(d->cfg.state_dir)) != 0 ||
	    strlen(lower) < strlen(d->cfg.state_dir) + 7 ||
	    str_copy(tname, sizeof(tname), base) < 0)
		return;
	slash = strchr(tname, '/');
	if (slash)
		*slash = '\0';
	if (vol == SNAP_PRIVATE) {
		struct db_qube t;

		/* no DVM template any more (or gone): none is kept */
		if (db_qube_by_name(&d->db, tname, &t) == 0)
			snapshot_private_gc(d, &t);
		return;
	}
	gc(d, tname, vol);
}

/*
 * A copy the previous bulkheadd was making when it died (VOL.snap-N.new
 * left; its cp died with it, fsutil.c): taken again now if the qube is
 * halted (what its qubes should start over is what it held when it
 * last halted), else its next halt takes one; the leftover goes either
 * way.
 */
static int
resume_one(const struct db_qube *q, void *arg)
{
	struct daemon *d = arg;
	char dir[PATH_MAX], p[PATH_MAX + 300];
	bool left[2] = {false, false};
	struct dirent *e;
	DIR *dp;
	int v;

	if (tdir(d, q->name, dir, sizeof(dir)) < 0 ||
	    (dp = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(dp)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n < 4 || strcmp(e->d_name + n - 4, ".new") != 0)
			continue;
		for (v = SNAP_ROOT; v <= SNAP_PRIVATE; v++) {
			if (strncmp(e->d_name, vol_prefix[v],
			        strlen(vol_prefix[v])) != 0)
				continue;
			left[v] = true;
			/* now, not in the background: a copy taken again
			 * below writes to the same name */
			(void)str_printf(p, sizeof(p), "%s/%s", dir, e->d_name);
			(void)fs_remove_tree(p);
		}
	}
	(void)closedir(dp);
	for (v = SNAP_ROOT; v <= SNAP_PRIVATE; v++) {
		if (!left[v] || qube_running(d, q->qid) != NULL)
			continue;
		if ((v == SNAP_ROOT && qube_class_of(q) == QC_TEMPLATEVM) ||
		    (v == SNAP_PRIVATE && is_dvm_template(d, q))) {
			log_info("%s: its %s snapshot was cut short (bulkheadd "
			         "stopped): taking it again",
			    q->name, vol_dir[v]);
			(void)take(d, q, (enum snap_vol)v);
		}
	}
	return 0;
}

void
snapshot_resume(struct daemon *d)
{
	(void)db_qube_foreach(&d->db, resume_one, d);
}

void
snapshot_private_gc(struct daemon *d, const struct db_qube *q)
{
	/* a copy under way finishes first (its end collects again) */
	if (op_of(q->qid, SNAP_PRIVATE) != NULL)
		return;
	gc_keep(d, q->name, SNAP_PRIVATE, is_dvm_template(d, q));
}

void
snapshot_qube_halted(struct daemon *d, const struct db_qube *q,
    const char *lower, const char *priv_lower)
{
	if (qube_class_of(q) == QC_TEMPLATEVM)
		(void)take(d, q, SNAP_ROOT);
	if (is_dvm_template(d, q))
		(void)take(d, q, SNAP_PRIVATE);
	gc_lower(d, lower, SNAP_ROOT);
	gc_lower(d, priv_lower, SNAP_PRIVATE);
}
