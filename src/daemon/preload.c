/*
 * preload.c - preloaded disposables (Qubes 4.3's feature preload-dispvm-max).
 *
 * A DVM template with the feature preload-dispvm-max=N has N disposables
 * made and started ahead of time, then paused.  admin.vm.CreateDisposable
 * hands one out at once (unpaused; the caller's admin.vm.Start then
 * answers at once) and another is preloaded in the background.
 *
 * State lives in features, so that it survives a restart of bulkheadd:
 *   on a preloaded disposable: preload-dispvm-in-progress=1 while it
 *     starts, preload-dispvm-completed=1 once ready, and internal=1 (no
 *     menus, not in qvm-run --all) until it is handed out;
 *   on the DVM template: preload-dispvm, the ready ones' names separated
 *     by spaces (derived from the above, rewritten on every change).
 * Everything is reconsidered in one pass (reconcile), run from the loop
 * after any change, never from inside another handler.
 *
 * Trust: only the admin side sets preload-dispvm-max (a qube needs
 * admin.vm.feature.Set on the DVM template, under policy); its value is
 * parsed with bounds like any other input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/bulkheadd.h"
#include "lib/log.h"
#include "lib/util.h"

/* More would be a resource problem, not a latency win. */
#define PRELOAD_MAX 16
/* A DVM template whose preloads keep failing is retried ever later. */
#define BACKOFF_MIN_MS 2000
#define BACKOFF_MAX_MS (5 * 60 * 1000)
#define MAX_DVMS       64
/* after a hand-out, the refill lets the caller's next calls go first */
#define REFILL_DELAY_MS 500
/* after a preload stopped: see preload_halted() */
#define HALT_REFILL_DELAY_MS 3000

struct dvm_backoff {
	uint32_t qid;
	unsigned fails;
	uint64_t not_before;
};

static struct dvm_backoff backoff[MAX_DVMS];
static uint64_t pass_timer, pass_due;

struct qlist {
	struct db_qube *q;
	size_t n, cap;
};

static int
collect(const struct db_qube *q, void *arg)
{
	struct qlist *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct db_qube *nq = realloc(l->q, cap * sizeof(*nq));

		if (nq == NULL)
			return -ENOMEM;
		l->q = nq;
		l->cap = cap;
	}
	l->q[l->n++] = *q;
	return 0;
}

static bool
feature_on(struct daemon *d, uint32_t qid, const char *name)
{
	char *v = NULL;
	bool on = db_kv_get(&d->db, DB_FEATURES, qid, name, &v) > 0 &&
	    v[0] != '\0' && strcmp(v, "0") != 0 && strcmp(v, "False") != 0;

	free(v);
	return on;
}

static bool
prop_is(struct daemon *d, const struct db_qube *q, const char *name,
    const char *value)
{
	const struct prop_def *p = prop_find(qube_class_of(q), name);
	char *v = NULL;
	bool def, is;

	if (p == NULL || prop_get(&d->model, q, p, &v, &def) <= 0)
		return false;
	is = strcmp(v, value) == 0;
	free(v);
	return is;
}

/* The wanted number of preloads of dvm: 0 unless it is a DVM template. */
static uint32_t
wanted(struct daemon *d, const struct db_qube *dvm)
{
	char *v = NULL;
	uint32_t n = 0;

	if (qube_class_of(dvm) != QC_APPVM ||
	    !prop_is(d, dvm, "template_for_dispvms", "True"))
		return 0;
	if (db_kv_get(&d->db, DB_FEATURES, dvm->qid, "preload-dispvm-max", &v) >
	        0 &&
	    v[0] != '\0' && parse_u32(v, UINT32_MAX, &n) < 0) {
		log_warnx("%s: preload-dispvm-max is not a number: ignored",
		    dvm->name);
		n = 0;
	}
	free(v);
	if (n > PRELOAD_MAX) {
		log_warnx("%s: preload-dispvm-max %u: keeping %u", dvm->name, n,
		    PRELOAD_MAX);
		n = PRELOAD_MAX;
	}
	return n;
}

static bool
is_preload_of(struct daemon *d, const struct db_qube *q, const char *dvm)
{
	return qube_class_of(q) == QC_DISPVM &&
	    prop_is(d, q, "template", dvm) &&
	    (feature_on(d, q->qid, "preload-dispvm-in-progress") ||
	        feature_on(d, q->qid, "preload-dispvm-completed"));
}

static struct dvm_backoff *
backoff_of(uint32_t qid, bool make)
{
	size_t i, free_slot = MAX_DVMS;

	uint64_t now = now_ms();

	/* a slot is in use while it counts failures or holds off a refill */
	for (i = 0; i < MAX_DVMS; i++) {
		bool used = backoff[i].fails || backoff[i].not_before > now;

		if (backoff[i].qid == qid && used)
			return &backoff[i];
		if (!used && free_slot == MAX_DVMS)
			free_slot = i;
	}
	if (!make || free_slot == MAX_DVMS)
		return NULL;
	memset(&backoff[free_slot], 0, sizeof(backoff[free_slot]));
	backoff[free_slot].qid = qid;
	return &backoff[free_slot];
}

static void
start_one(struct daemon *d, const struct db_qube *dvm)
{
	struct db_qube q;
	char err[600];

	/*
	 * One transaction: a preload is whole (marked) or not there.  Lazy:
	 * a crash that loses it loses a disposable nobody was given yet.
	 */
	if (db_begin_lazy(&d->db) < 0) {
		log_warnx("%s: preloading: database busy", dvm->name);
		return;
	}
	if (api_new_disposable(d, dvm, &q, err, sizeof(err)) < 0) {
		db_rollback(&d->db);
		log_warnx("%s: preloading a disposable: %s", dvm->name, err);
		return;
	}
	if (db_kv_set(&d->db, DB_FEATURES, q.qid, "internal", "1") < 0 ||
	    db_kv_set(&d->db, DB_FEATURES, q.qid, "preload-dispvm-in-progress",
	        "1") < 0 ||
	    db_commit(&d->db) < 0) {
		db_rollback(&d->db);
		log_warnx("%s: preloading: database error", dvm->name);
		return;
	}
	log_info("%s: preloading %s", dvm->name, q.name);
	/* no caller to answer; a failure ends in preload_halted() */
	(void)qube_start(d, &q, NULL);
}

/* path's birth time (statx), if its filesystem keeps one. */
static bool
birth(const char *path, struct timespec *ret)
{
	struct statx sx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BTIME, &sx) < 0 ||
	    !(sx.stx_mask & STATX_BTIME))
		return false;
	ret->tv_sec = sx.stx_btime.tv_sec;
	ret->tv_nsec = sx.stx_btime.tv_nsec;
	return true;
}

static bool
later(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/*
 * A VM disposable's overlay (LEAF in its volatile area) over owner's
 * snapshot SNAP of image IMG (backend_vm.c): outdated if the snapshot
 * was made again after the overlay (birth times), or if owner halted
 * with IMG changed since the snapshot (the next start will copy it).
 */
static bool
vm_overlay_outdated(struct daemon *d, const char *qube,
    const struct db_qube *owner, const char *img, const char *snap,
    const char *leaf)
{
	char pi[PATH_MAX], ps[PATH_MAX], po[PATH_MAX];
	struct timespec bs, bo;
	struct stat si, ss;

	if (backend_qube_path(d, pi, sizeof(pi), owner->name, img) < 0 ||
	    backend_qube_path(d, ps, sizeof(ps), owner->name, snap) < 0 ||
	    str_printf(po, sizeof(po), "%s/qubes/%s/volatile/%s",
	        d->cfg.state_dir, qube, leaf) < 0 ||
	    stat(ps, &ss) < 0)
		return false;
	if (birth(ps, &bs) && birth(po, &bo) && later(&bs, &bo))
		return true;
	return qube_running(d, owner->qid) == NULL && stat(pi, &si) == 0 &&
	    !backend_snapshot_current(&si, &ss);
}

enum freshness {
	FRESH,
	OUTDATED,
	UNSURE, /* a snapshot it depends on is being taken */
};

/*
 * Is the preloaded disposable r of dvm outdated: has dvm halted since
 * with another private volume, or dvm's template with another root (a
 * newer snapshot than the one it started over, snapshot.c and
 * backend_vm.c)?  Qubes 4.3 discards such a preload when one is asked
 * for.  While a namespace template's snapshot is being taken (it has
 * just halted) nobody can say yet: the preload is neither handed out nor
 * discarded (a halt that changed nothing keeps it).
 */
static enum freshness
freshness(struct daemon *d, const struct db_qube *dvm, const struct running *r)
{
	char cur[PATH_MAX], tname[MODEL_MAX_NAME + 1];
	struct db_qube t;
	bool have_t;

	/* a disposable's root is its DVM template's template's */
	have_t = backend_prop(d, dvm, "template", tname, sizeof(tname)) == 0 &&
	    db_qube_by_name(&d->db, tname, &t) == 0;
	if (r->backend == &backend_vm) {
		if (vm_overlay_outdated(d, r->name, dvm, "private.img",
		        "private-snap.img", "private.qcow2") ||
		    (have_t &&
		        vm_overlay_outdated(d, r->name, &t, "root.img",
		            "root-snap.img", "root.qcow2")))
			return OUTDATED;
		return FRESH;
	}
	if ((r->priv_lower[0] != '\0' &&
	        snapshot_private_lower(d, dvm, cur, sizeof(cur)) == 0 &&
	        strcmp(cur, r->priv_lower) != 0) ||
	    (r->lower[0] != '\0' && have_t &&
	        snapshot_lower(d, &t, cur, sizeof(cur)) == 0 &&
	        strcmp(cur, r->lower) != 0))
		return OUTDATED;
	if (snapshot_in_progress(dvm) || (have_t && snapshot_in_progress(&t)))
		return UNSURE;
	return FRESH;
}

/* One DVM template: its list, then as many preloads as it wants. */
static void
reconcile_dvm(struct daemon *d, const struct db_qube *dvm,
    const struct qlist *all, uint64_t now)
{
	char list[PRELOAD_MAX * (MODEL_MAX_NAME + 1) + 1] = "";
	char *old = NULL;
	uint32_t want = wanted(d, dvm), have = 0;
	struct dvm_backoff *b = backoff_of(dvm->qid, false);
	size_t i, at = 0;

	for (i = 0; i < all->n; i++) {
		const struct db_qube *q = &all->q[i];
		struct running *r;

		if (!is_preload_of(d, q, dvm->name))
			continue;
		r = qube_running(d, q->qid);
		if (r == NULL || r->killing || r->rt.state == PS_HALTING)
			continue; /* on its way out */
		/* its template halted with changes since it was made: it
		 * would hand out an old state (made again below) */
		if (freshness(d, dvm, r) == OUTDATED) {
			log_warnx("%s: discarding the preloaded %s: its "
			          "volumes are outdated (a template halted "
			          "with changes since it started)",
			    dvm->name, q->name);
			(void)qube_kill(d, q, NULL);
			continue;
		}
		if (have >= want) {
			log_info("%s: %s is one preload too many", dvm->name,
			    q->name);
			(void)qube_kill(d, q, NULL);
			continue;
		}
		have++;
		if (feature_on(d, q->qid, "preload-dispvm-completed") &&
		    at + strlen(q->name) + 2 < sizeof(list))
			at += (size_t)snprintf(list + at, sizeof(list) - at,
			    "%s%s", at ? " " : "", q->name);
	}
	/* the ready ones, for people and tools (Qubes' feature) */
	if (db_kv_get(&d->db, DB_FEATURES, dvm->qid, "preload-dispvm", &old) <
	        0 ||
	    old == NULL || strcmp(old, list) != 0) {
		if (list[0] || want)
			(void)db_kv_set(&d->db, DB_FEATURES, dvm->qid,
			    "preload-dispvm", list);
		else
			(void)db_kv_del(
			    &d->db, DB_FEATURES, dvm->qid, "preload-dispvm");
	}
	free(old);
	if (have >= want)
		return;
	if (b && now < b->not_before) {
		/* come back when the back-off is over */
		preload_schedule(d, b->not_before - now);
		return;
	}
	for (; have < want; have++)
		start_one(d, dvm);
}

static void
reconcile(void *arg)
{
	struct daemon *d = arg;
	struct qlist all = {0};
	uint64_t now = now_ms();
	size_t i;

	pass_timer = 0;
	if (d->backend == NULL)
		return;
	if (db_qube_foreach(&d->db, collect, &all) < 0) {
		log_warnx("preloading: cannot list the qubes");
		free(all.q);
		return;
	}
	/* every AppVM: one that stopped being a DVM template loses its own */
	for (i = 0; i < all.n; i++)
		if (qube_class_of(&all.q[i]) == QC_APPVM)
			reconcile_dvm(d, &all.q[i], &all, now);
	free(all.q);
}

void
preload_schedule(struct daemon *d, uint64_t delay_ms)
{
	uint64_t due = now_ms() + delay_ms;

	/* one pass sees everything: keep the earliest one asked for */
	if (pass_timer && pass_due <= due)
		return;
	if (pass_timer)
		loop_timer_cancel(&d->loop, pass_timer);
	pass_timer = loop_timer_add(&d->loop, delay_ms, reconcile, d);
	pass_due = due;
}

/* No pass before delay_ms from now (a hand-out: its caller goes first). */
static void
postpone(struct daemon *d, uint64_t delay_ms)
{
	if (pass_timer)
		loop_timer_cancel(&d->loop, pass_timer);
	pass_timer = loop_timer_add(&d->loop, delay_ms, reconcile, d);
	pass_due = now_ms() + delay_ms;
}

void
preload_running(struct daemon *d, const struct db_qube *q)
{
	struct db_qube dvm;
	char tname[MODEL_MAX_NAME + 1] = "";
	struct dvm_backoff *b;
	const struct prop_def *p = prop_find(QC_DISPVM, "template");
	char *v = NULL;
	bool def;

	if (qube_class_of(q) != QC_DISPVM ||
	    !feature_on(d, q->qid, "preload-dispvm-in-progress"))
		return;
	if (p && prop_get(&d->model, q, p, &v, &def) > 0)
		(void)str_copy(tname, sizeof(tname), v);
	free(v);
	/* paused until handed out, as Qubes keeps them */
	if (qube_pause(d, q, true) < 0)
		log_warnx(
		    "%s: could not pause the preloaded disposable", q->name);
	if (db_begin(&d->db) == 0) {
		if (db_kv_del(&d->db, DB_FEATURES, q->qid,
		        "preload-dispvm-in-progress") < 0 ||
		    db_kv_set(&d->db, DB_FEATURES, q->qid,
		        "preload-dispvm-completed", "1") < 0 ||
		    db_commit(&d->db) < 0)
			db_rollback(&d->db);
	}
	if (tname[0] && db_qube_by_name(&d->db, tname, &dvm) == 0 &&
	    (b = backoff_of(dvm.qid, false)) != NULL)
		b->fails = 0;
	log_info("%s: preloaded, ready", q->name);
	preload_schedule(d, 0);
}

void
preload_halted(struct daemon *d, const struct db_qube *q, bool was_starting)
{
	struct db_qube dvm;
	const struct prop_def *p = prop_find(QC_DISPVM, "template");
	struct dvm_backoff *b;
	char *v = NULL;
	bool def;

	if (qube_class_of(q) != QC_DISPVM ||
	    !(feature_on(d, q->qid, "preload-dispvm-in-progress") ||
	        feature_on(d, q->qid, "preload-dispvm-completed")))
		return;
	if (!(p && prop_get(&d->model, q, p, &v, &def) > 0 &&
	        db_qube_by_name(&d->db, v, &dvm) == 0 &&
	        (b = backoff_of(dvm.qid, true)) != NULL)) {
		free(v);
		preload_schedule(d, 0);
		return;
	}
	/*
	 * A preload stopped (a shutdown of every qube, say): replace it, but
	 * not at once, so that "shut everything down, then stop bulkheadd"
	 * does not leave a fresh preload running behind it.
	 */
	if (b->not_before < now_ms() + HALT_REFILL_DELAY_MS)
		b->not_before = now_ms() + HALT_REFILL_DELAY_MS;
	if (was_starting) {
		uint64_t delay = BACKOFF_MIN_MS;
		unsigned i;

		b->fails++;
		for (i = 1; i < b->fails && delay < BACKOFF_MAX_MS; i++)
			delay *= 2;
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
		b->not_before = now_ms() + delay;
		log_warnx("%s: a preload failed to start (%u in a row); next "
		          "try in %llu s",
		    dvm.name, b->fails, (unsigned long long)delay / 1000);
	}
	free(v);
	preload_schedule(d, 0); /* the list now; a refill when allowed */
}

/* Remove name from dvm's preload-dispvm list (space-separated names). */
static void
drop_from_list(struct daemon *d, const struct db_qube *dvm, const char *name)
{
	char *v = NULL, *out, *tok, *save = NULL;
	size_t at = 0;

	if (db_kv_get(&d->db, DB_FEATURES, dvm->qid, "preload-dispvm", &v) <= 0)
		return;
	out = calloc(1, strlen(v) + 1);
	if (out != NULL) {
		for (tok = strtok_r(v, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save))
			if (strcmp(tok, name) != 0)
				at += (size_t)sprintf(
				    out + at, "%s%s", at ? " " : "", tok);
		(void)db_kv_set(
		    &d->db, DB_FEATURES, dvm->qid, "preload-dispvm", out);
	}
	free(out);
	free(v);
}

int
preload_take(struct daemon *d, const struct db_qube *dvm, struct db_qube *ret)
{
	struct qlist all = {0};
	size_t i;
	int rc = -ENOENT;

	if (wanted(d, dvm) == 0 && !feature_on(d, dvm->qid, "preload-dispvm"))
		return -ENOENT;
	if (db_qube_foreach(&d->db, collect, &all) < 0) {
		free(all.q);
		return -ENOMEM;
	}
	for (i = 0; i < all.n && rc < 0; i++) {
		const struct db_qube *q = &all.q[i];
		struct running *r;

		if (qube_class_of(q) != QC_DISPVM ||
		    !prop_is(d, q, "template", dvm->name) ||
		    !feature_on(d, q->qid, "preload-dispvm-completed"))
			continue;
		r = qube_running(d, q->qid);
		if (r == NULL || r->killing ||
		    (r->rt.state != PS_PAUSED && r->rt.state != PS_RUNNING))
			continue;
		/* outdated: the pass this call ends with discards it;
		 * unsure: a snapshot is being taken.  A cold one instead */
		if (freshness(d, dvm, r) != FRESH)
			continue;
		if (r->rt.state == PS_PAUSED && qube_pause(d, q, false) < 0) {
			log_warnx("%s: could not unpause it", q->name);
			continue;
		}
		(void)db_kv_del(
		    &d->db, DB_FEATURES, q->qid, "preload-dispvm-completed");
		(void)db_kv_del(&d->db, DB_FEATURES, q->qid, "internal");
		/* the caller's admin.vm.Start will answer at once */
		r->handed_out = true;
		*ret = *q;
		rc = 0;
		/* off the ready list now, not at the next pass */
		drop_from_list(d, dvm, q->name);
		log_info(
		    "%s: handing out the preloaded %s", dvm->name, q->name);
	}
	free(all.q);
	/*
	 * The refill waits a little: the caller's Start and call come
	 * next, and this loop would otherwise start the new preload (a
	 * launcher, a qrexec-daemon, database writes) before reading them.
	 */
	if (rc == 0)
		postpone(d, REFILL_DELAY_MS);
	else
		preload_schedule(d, 0);
	return rc;
}
