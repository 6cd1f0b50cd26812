/*
 * api.c - the Admin API: qubesd's wire format on a local socket (and the
 * internal socket for internal.GetSystemInfo), one request a connection.
 *
 * Runs in bulkheadd's main process (root).  Untrusted input: the request
 * (method, argument, source, destination, payload), from local tools
 * allowed by SO_PEERCRED (root or the "bulkhead" group) or, through the
 * qrexec admin.* services, from qubes the policy allowed.  The request
 * frame is validated by api_request_parse(); every payload is validated by
 * its method before use; every write is one database transaction, so a
 * failed call changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon/api_request.h"
#include "daemon/bulkheadd.h"
#include "lib/log.h"
#include "lib/sock.h"
#include "lib/util.h"
#include "policy/policy.h"
#include "sandbox/sandbox.h"

#define STREAM_OUT_LIMIT (1024u * 1024u)

enum conn_state {
	CONN_READING,
	CONN_DEFERRED, /* a lifecycle call waits for its outcome */
	CONN_STREAM,   /* admin.Events */
	CONN_WRITING,  /* reply queued, close when sent */
	CONN_STATE_MAX
};

struct conn {
	struct daemon *d;
	int fd;
	enum conn_state state;
	bool internal; /* the internal socket */
	uid_t uid;
	struct buffer in, out;
	struct api_request req;
	char stream_dest[API_MAX_QUBE + 1]; /* events of this qube; "" all */
	/* the qube that asked for the events ("": dom0, which sees all) */
	char stream_src[API_MAX_QUBE + 1];
	bool busy;      /* being dispatched: closing waits until it returns */
	uint64_t since; /* accepted at (now_ms) */
	bool dead;
	struct conn *next;
};

/* The outcome of a method: a body, or an exception. */
struct result {
	struct buffer body;
	const char *exc;
	char msg[512];
	bool deferred;
	bool stream;
};

typedef int (*method_fn)(struct daemon *d, struct conn *c,
    const struct api_request *r, struct db_qube *dest, struct result *res);

enum {
	M_ARG = 1,        /* an argument is required */
	M_NOARG = 2,      /* no argument allowed */
	M_PAYLOAD = 4,    /* a payload is allowed */
	M_DEST_ADMIN = 8, /* destination must be dom0 */
	M_WRITE = 16,     /* runs in a transaction */
	M_INTERNAL = 32,  /* internal socket only */
	M_PREFIX = 64,    /* method name is a prefix (Create.<class>) */
	M_LAZY = 128,     /* M_WRITE, in db_begin_lazy()'s transaction */
};

struct method {
	const char *name;
	unsigned flags;
	method_fn fn;
};

static int exc(struct result *res, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
exc(struct result *res, const char *type, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	res->exc = type;
	va_start(ap, fmt);
	(void)vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
	va_end(ap);
	/* the client formats the message with %: never send a bare % */
	for (i = 0; res->msg[i]; i++)
		if (res->msg[i] == '%')
			res->msg[i] = '_';
	return -1;
}

static int
out_str(struct result *res, const char *s)
{
	if (buffer_append(&res->body, s, strlen(s)) < 0)
		return exc(res, "QubesException", "reply too large");
	return 0;
}

static int out_fmt(struct result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
out_fmt(struct result *res, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return exc(res, "QubesException", "reply line too long");
	return out_str(res, buf);
}

/* ---- what a qube that calls the Admin API may see ---- */

/*
 * A qube's admin.vm.List and admin.Events (through the qrexec admin.*
 * services, which name it as the source) show only the qubes the policy
 * lets it ask about, as Qubes' qubesd does (its admin-permission filters):
 * a qube is kept if "admin.vm.List" with argument "+" (admin.Events:
 * "+EVENT", ':' written '_') from the caller to that qube evaluates to
 * allow.  Ask counts as deny: a listing prompts no one.  The policy is the
 * one the policy daemon uses (RUN/policy.d, CONF/policy.d); a policy with
 * an error shows nothing.  dom0's own callers (the local socket's tools)
 * see everything.
 */
struct api_view {
	const struct policy *policy; /* NULL: the policy has errors */
	struct sysinfo *si;          /* NULL: none could be made */
	const char *src;
};

/*
 * The policy is parsed once and kept while none of the files and
 * directories it was read from changed: each filtered call compares their
 * stat (device, inode, size, mode, ctime; a directory's ctime changes when
 * an entry is added, removed or renamed) with the ones taken when it was
 * loaded.  A ctime has the kernel's coarse clock, so two writes of a file
 * within one tick can leave it the same: a load is trusted only when every
 * ctime it saw is API_POLICY_RACY_S older than the load's start (git's
 * "racily clean" rule), else the next call loads again.
 */
#define API_POLICY_RACY_S 2

struct api_sig {
	char *path;
	int err; /* stat's errno, 0 if it succeeded */
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	struct timespec ctim;
};

struct api_policy_cache {
	struct policy *policy;
	struct api_sig *sig;
	size_t nsig;
	bool trusted; /* no ctime was racy at the load */
};

static void
api_sig_take(struct api_sig *s, char *path)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->path = path;
	if (stat(path, &st) < 0) {
		s->err = errno;
		return;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mode = st.st_mode;
	s->ctim = st.st_ctim;
}

static bool
api_sig_same(const struct api_sig *s)
{
	struct api_sig now;
	bool same;

	api_sig_take(&now, s->path);
	same = now.err == s->err && now.dev == s->dev && now.ino == s->ino &&
	    now.size == s->size && now.mode == s->mode &&
	    now.ctim.tv_sec == s->ctim.tv_sec &&
	    now.ctim.tv_nsec == s->ctim.tv_nsec;
	return same;
}

static void
api_policy_cache_free(struct api_policy_cache *pc)
{
	size_t i;

	if (pc == NULL)
		return;
	policy_free(pc->policy);
	for (i = 0; i < pc->nsig; i++)
		free(pc->sig[i].path);
	free(pc->sig);
	free(pc);
}

static bool
api_policy_cache_fresh(const struct api_policy_cache *pc)
{
	size_t i;

	if (pc == NULL || !pc->trusted)
		return false;
	for (i = 0; i < pc->nsig; i++)
		if (!api_sig_same(&pc->sig[i]))
			return false;
	return true;
}

/*
 * Load the policy and the stat of what it was read from.  Returns the
 * cache entry (its policy NULL if the policy has errors, which is logged)
 * or NULL when out of memory.
 */
static struct api_policy_cache *
api_policy_cache_load(struct daemon *d, const char *src)
{
	char run[PATH_MAX + 10], conf[PATH_MAX + 10];
	const char *dirs[2] = {run, conf};
	struct api_policy_cache *pc;
	struct policy_load_opts lo;
	struct policy_error perr;
	struct timespec t0;
	size_t i, n;

	pc = calloc(1, sizeof(*pc));
	if (pc == NULL)
		return NULL;
	(void)clock_gettime(CLOCK_REALTIME, &t0);
	(void)str_printf(run, sizeof(run), "%s/policy.d", d->cfg.run_dir);
	(void)str_printf(conf, sizeof(conf), "%s/policy.d", d->cfg.conf_dir);
	/* the two directories first: one made or removed later counts */
	pc->sig = calloc(2, sizeof(*pc->sig));
	if (pc->sig == NULL)
		goto out_free;
	for (i = 0; i < 2; i++) {
		char *p = strdup(dirs[i]);

		if (p == NULL)
			goto out_free;
		api_sig_take(&pc->sig[pc->nsig++], p);
	}
	memset(&lo, 0, sizeof(lo));
	lo.dirs = dirs;
	lo.ndirs = 2;
	if (policy_load(&lo, &pc->policy, &perr) < 0) {
		char e[512];

		policy_error_str(&perr, e, sizeof(e));
		log_warnx("admin filter for %s: the policy has errors (%s): "
		          "it sees no qube",
		    src, e);
		pc->policy = NULL;
		return pc; /* not trusted: loaded again at the next call */
	}
	n = policy_source_count(pc->policy);
	{
		struct api_sig *ns =
		    reallocarray(pc->sig, pc->nsig + n, sizeof(*ns));

		if (ns == NULL)
			goto out_free;
		pc->sig = ns;
	}
	for (i = 0; i < n; i++) {
		char *p = strdup(policy_source_at(pc->policy, i));

		if (p == NULL)
			goto out_free;
		api_sig_take(&pc->sig[pc->nsig++], p);
	}
	log_info("admin filter: policy loaded (%zu rules)",
	    policy_rule_count(pc->policy));
	pc->trusted = true;
	for (i = 0; i < pc->nsig; i++)
		if (pc->sig[i].err == 0 &&
		    pc->sig[i].ctim.tv_sec > t0.tv_sec - API_POLICY_RACY_S)
			pc->trusted = false;
	return pc;

out_free:
	api_policy_cache_free(pc);
	return NULL;
}

static bool
src_is_admin(const char *src)
{
	return strcmp(src, "dom0") == 0;
}

static char *system_info_json(struct daemon *d);

/* Open a view for src: the current policy (loaded again if its files
 * changed) and the system information of now.  v->policy belongs to the
 * cache: a view is closed before the next one is opened (views never
 * nest: a listing and an event's delivery each open one and close it). */
static void
view_open(struct daemon *d, const char *src, struct api_view *v)
{
	char err[256];
	char *json;

	memset(v, 0, sizeof(*v));
	v->src = src;
	if (!api_policy_cache_fresh(d->apc)) {
		api_policy_cache_free(d->apc);
		d->apc = api_policy_cache_load(d, src);
	}
	v->policy = d->apc != NULL ? d->apc->policy : NULL;
	json = system_info_json(d);
	if (json == NULL ||
	    sysinfo_parse(json, strlen(json), &v->si, err, sizeof(err)) < 0) {
		log_warnx("admin filter for %s: no system information", src);
		v->si = NULL;
	}
	free(json);
}

/* May v's caller ask service_and_arg about target? */
static bool
view_allows(
    const struct api_view *v, const char *service_and_arg, const char *target)
{
	struct policy_decision pd;
	struct policy_query pq;
	bool ok = false;

	if (v->policy == NULL || v->si == NULL)
		return false;
	memset(&pq, 0, sizeof(pq));
	pq.untrusted_source = v->src;
	pq.untrusted_intended_target = target;
	pq.untrusted_service_and_arg = service_and_arg;
	if (policy_evaluate(v->policy, v->si, &pq, &pd) == 0)
		ok = pd.verdict == POLICY_VERDICT_ALLOW;
	policy_decision_free(&pd);
	return ok;
}

/* The policy stays in the cache (d->apc). */
static void
view_close(struct api_view *v)
{
	if (v->si != NULL)
		sysinfo_unref(v->si);
	memset(v, 0, sizeof(*v));
}

/* ---- events ---- */

static void conn_close(struct daemon *d, struct conn *c);
static void conn_flush(struct daemon *d, struct conn *c);

/* The qube an event is about, for the filter: its subject, or for the
 * system's events the qube they name ("vm"), else the admin side. */
static const char *
event_target(const char *subject, const char *const *kv)
{
	size_t i;

	if (subject[0] != '\0')
		return subject;
	for (i = 0; kv && kv[i] && kv[i + 1]; i += 2)
		if (strcmp(kv[i], "vm") == 0)
			return kv[i + 1];
	return "@adminvm";
}

/* May the qube c->stream_src see this event?  v is opened on first use
 * (one policy read for all of an event's subscribers). */
static bool
event_visible(struct daemon *d, struct conn *c, struct api_view *v,
    const char *subject, const char *event, const char *const *kv)
{
	char svc[API_MAX_METHOD + 4 + 128], *p;

	if (c->stream_src[0] == '\0' ||
	    strcmp(event, "connection-established") == 0)
		return true;
	if (v->src == NULL)
		view_open(d, c->stream_src, v);
	v->src = c->stream_src;
	if (str_printf(svc, sizeof(svc), "admin.Events+%s", event) < 0)
		return false;
	for (p = svc; *p; p++)
		if (*p == ':')
			*p = '_';
	return view_allows(v, svc, event_target(subject, kv));
}

void
api_event(struct daemon *d, const char *subject, const char *event,
    const char *const *kv)
{
	struct conn *c, *next;
	struct api_view v = {0};

	for (c = d->conns; c; c = next) {
		struct buffer *b = &c->out;
		size_t i;
		int r;

		next = c->next;
		if (c->state != CONN_STREAM)
			continue;
		if (c->stream_dest[0] && strcmp(c->stream_dest, subject) != 0)
			continue;
		if (!event_visible(d, c, &v, subject, event, kv))
			continue;
		r = buffer_append(b, "1\0", 2);
		if (r == 0)
			r = buffer_append(b, subject, strlen(subject) + 1);
		if (r == 0)
			r = buffer_append(b, event, strlen(event) + 1);
		for (i = 0; kv && kv[i] && kv[i + 1] && r == 0; i += 2) {
			r = buffer_append(b, kv[i], strlen(kv[i]) + 1);
			if (r == 0)
				r = buffer_append(
				    b, kv[i + 1], strlen(kv[i + 1]) + 1);
		}
		if (r == 0)
			r = buffer_append(b, "", 1);
		if (r < 0) {
			/* a subscriber that does not read is dropped */
			log_warnx("event subscriber too slow, disconnecting");
			conn_close(d, c);
			continue;
		}
		conn_flush(d, c);
	}
	view_close(&v);
}

/* ---- helpers ---- */

static int
lookup_qube(
    struct daemon *d, const char *name, struct db_qube *q, struct result *res)
{
	if (db_qube_by_name(&d->db, name, q) < 0)
		return exc(
		    res, "QubesVMNotFoundError", "No such domain: '%s'", name);
	return 0;
}

static enum power_state
state_of(struct daemon *d, uint32_t qid)
{
	struct running *r;

	if (qid == 0)
		return PS_RUNNING;
	r = qube_running(d, qid);
	return r ? r->rt.state : PS_HALTED;
}

/* Payload as a NUL-free C string (copied), at most max bytes. */
static int
payload_str(
    const struct api_request *r, size_t max, char **ret, struct result *res)
{
	if (r->payload_len > max)
		return exc(res, "ProtocolError",
		    "payload too long (at most %zu "
		    "bytes)",
		    max);
	if (memchr(r->payload, '\0', r->payload_len))
		return exc(res, "ProtocolError", "NUL byte in payload");
	*ret = strndup((const char *)r->payload, r->payload_len);
	if (*ret == NULL)
		return exc(res, "QubesException", "out of memory");
	return 0;
}

/* ---- methods: lists ---- */

static int
m_vmclass_list(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *dest, struct result *res)
{
	int i;

	(void)d, (void)c, (void)r, (void)dest;
	for (i = 0; i < QC_MAX; i++)
		if (out_fmt(res, "%s\n", qclass_name((enum qube_class)i)) < 0)
			return -1;
	return 0;
}

struct list_ctx {
	struct daemon *d;
	struct result *res;
	int err;
	const struct api_view *view; /* a qube's call: what it may see */
};

static int
vm_list_one(const struct db_qube *q, void *arg)
{
	struct list_ctx *lc = arg;

	if (lc->view != NULL &&
	    !view_allows(lc->view, "admin.vm.List+", q->name))
		return 0;
	if (out_fmt(lc->res, "%s class=%s state=%s uuid=%s\n", q->name,
	        q->klass, power_state_name(state_of(lc->d, q->qid)),
	        q->uuid) < 0) {
		lc->err = -1;
		return -1;
	}
	return 0;
}

static int
m_vm_list(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *dest, struct result *res)
{
	struct list_ctx lc = {d, res, 0, NULL};
	struct api_view v;
	int rr;

	(void)c;
	if (!src_is_admin(r->src)) {
		view_open(d, r->src, &v);
		lc.view = &v;
	}
	if (dest->qid != 0)
		rr = vm_list_one(dest, &lc);
	else if (db_qube_foreach(&d->db, vm_list_one, &lc) < 0 && lc.err == 0)
		rr = exc(res, "QubesException", "database error");
	else
		rr = lc.err;
	if (lc.view != NULL)
		view_close(&v);
	return rr;
}

/* ---- properties ---- */

struct prop_ctx {
	struct daemon *d;
	struct result *res;
	const struct db_qube *q; /* NULL: global */
	bool all;                /* GetAll, else List */
	int err;
};

static int
serialize_prop(struct daemon *d, const struct db_qube *q,
    const struct prop_def *p, bool escape, struct result *res)
{
	char *v = NULL;
	bool def = true;
	int r;

	r = prop_get(&d->model, q, p, &v, &def);
	if (r < 0)
		return exc(
		    res, "QubesException", "cannot read %s", prop_name(p));
	if (escape) {
		const char *s;

		if (out_fmt(res, "%s default=%s type=%s ", prop_name(p),
		        def ? "True" : "False",
		        prop_type_name(prop_type(p))) < 0) {
			free(v);
			return -1;
		}
		for (s = r > 0 ? v : ""; *s; s++) {
			const char *rep = *s == '\\' ? "\\\\" :
			    *s == '\n'               ? "\\n" :
			                               NULL;
			char one[2] = {*s, 0};

			if (out_str(res, rep ? rep : one) < 0) {
				free(v);
				return -1;
			}
		}
		free(v);
		return out_str(res, "\n");
	}
	r = out_fmt(res, "default=%s type=%s %s", def ? "True" : "False",
	    prop_type_name(prop_type(p)), r > 0 ? v : "");
	free(v);
	return r;
}

static void
prop_list_one(const struct prop_def *p, void *arg)
{
	struct prop_ctx *pc = arg;

	if (pc->err)
		return;
	if (pc->all)
		pc->err = serialize_prop(pc->d, pc->q, p, true, pc->res);
	else
		pc->err = out_fmt(pc->res, "%s\n", prop_name(p));
}

static const struct prop_def *
find_prop(const struct db_qube *q, const char *name)
{
	return q ? prop_find(qube_class_of(q), name) : gprop_find(name);
}

static int
props_list(
    struct daemon *d, const struct db_qube *q, bool all, struct result *res)
{
	struct prop_ctx pc = {d, res, q, all, 0};

	if (q)
		prop_foreach(qube_class_of(q), prop_list_one, &pc);
	else
		gprop_foreach(prop_list_one, &pc);
	return pc.err;
}

static int
prop_op(struct daemon *d, const struct api_request *r, const struct db_qube *q,
    struct result *res)
{
	const char *m = strrchr(r->method, '.') + 1;
	const struct prop_def *p;
	char *v = NULL, *old = NULL, *val = NULL;
	bool def;
	int rr;

	if (strcmp(m, "List") == 0)
		return props_list(d, q, false, res);
	if (strcmp(m, "GetAll") == 0)
		return props_list(d, q, true, res);
	p = find_prop(q, r->arg);
	if (p == NULL)
		return exc(res, "QubesNoSuchPropertyError",
		    "Invalid property '%s' of %s", r->arg,
		    q ? q->name : "dom0");
	if (strcmp(m, "Get") == 0)
		return serialize_prop(d, q, p, false, res);
	if (strcmp(m, "GetDefault") == 0) {
		rr = prop_get_default(&d->model, q, p, &v);
		if (rr > 0)
			rr = out_fmt(
			    res, "type=%s %s", prop_type_name(prop_type(p)), v);
		free(v);
		return rr < 0 ? exc(res, "QubesException",
		                    "cannot compute "
		                    "default") :
		                0;
	}
	if (strcmp(m, "Help") == 0)
		return out_str(res, prop_help(p));
	if (strcmp(m, "Set") == 0 || strcmp(m, "Reset") == 0) {
		bool reset = m[0] == 'R';
		char err[256] = "";
		const char *ev_kv[7];

		if (prop_readonly(p))
			return exc(res, "QubesPropertyAccessError",
			    "property %s is read-only", prop_name(p));
		if (!reset) {
			if (payload_str(r, MODEL_MAX_VALUE, &val, res) < 0)
				return -1;
			rr = prop_check(
			    &d->model, q, p, val, &v, err, sizeof(err));
			free(val);
			if (rr == -EBUSY)
				return exc(
				    res, "QubesVMNotHaltedError", "%s", err);
			if (rr < 0)
				return exc(
				    res, "QubesPropertyValueError", "%s", err);
		} else if (strcmp(prop_name(p), "label") == 0 ||
		    (strcmp(prop_name(p), "template") == 0 && q)) {
			return exc(res, "QubesValueError",
			    "property %s cannot "
			    "be reset",
			    prop_name(p));
		}
		rr = prop_get(&d->model, q, p, &old, &def);
		if (rr < 0) {
			free(v);
			return exc(res, "QubesException", "database error");
		}
		rr = reset ? db_kv_del(&d->db, q ? DB_PROPS : DB_GLOBAL,
		                 q ? q->qid : 0, prop_name(p)) :
		             db_kv_set(&d->db, q ? DB_PROPS : DB_GLOBAL,
		                 q ? q->qid : 0, prop_name(p), v);
		if (rr < 0) {
			free(v);
			free(old);
			return exc(res, "QubesException", "database error");
		}
		{
			char evname[160];

			(void)snprintf(evname, sizeof(evname), "property-%s:%s",
			    reset ? "reset" : "set", prop_name(p));
			ev_kv[0] = "name";
			ev_kv[1] = prop_name(p);
			ev_kv[2] = "newvalue";
			ev_kv[3] = v ? v : "";
			ev_kv[4] = "oldvalue";
			ev_kv[5] = old ? old : "";
			ev_kv[6] = NULL;
			api_event(d, q ? q->name : "", evname, ev_kv);
		}
		/* a DVM template no more (or again): its preloads follow,
		 * and its private's snapshots go once nothing uses them */
		if (q && strcmp(prop_name(p), "template_for_dispvms") == 0) {
			preload_schedule(d, 0);
			snapshot_private_gc(d, q);
		}
		free(v);
		free(old);
		return 0;
	}
	return exc(res, "ProtocolError", "unknown method");
}

static int
m_property(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *dest, struct result *res)
{
	(void)c, (void)dest;
	return prop_op(d, r, NULL, res);
}

static int
m_vm_property(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *dest, struct result *res)
{
	(void)c;
	return prop_op(d, r, dest, res);
}

/* ---- features and tags ---- */

static int
feat_list_one(const char *k, const char *v, void *arg)
{
	(void)v;
	return out_fmt(arg, "%s\n", k);
}

static int
m_vm_feature(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	const char *m = strrchr(r->method, '.') + 1;
	char *v = NULL;
	int rr;

	(void)c;
	if (strcmp(m, "List") == 0)
		return db_kv_foreach(&d->db, DB_FEATURES, q->qid, feat_list_one,
		           res) < 0 ?
		    -1 :
		    0;
	if (!model_feature_valid(r->arg))
		return exc(res, "ProtocolError", "invalid feature name");
	if (strcmp(m, "Get") == 0 || strcmp(m, "CheckWithTemplate") == 0) {
		struct db_qube cur = *q;
		int depth;

		/* CheckWithTemplate: the qube's, else its template's */
		for (depth = 0; depth < 4; depth++) {
			const struct prop_def *tp;
			char *tname = NULL;
			bool def;

			rr =
			    db_kv_get(&d->db, DB_FEATURES, cur.qid, r->arg, &v);
			if (rr != 0 || m[0] == 'G')
				break;
			tp = prop_find(qube_class_of(&cur), "template");
			if (tp == NULL ||
			    prop_get(&d->model, &cur, tp, &tname, &def) <= 0) {
				rr = 0;
				break;
			}
			rr = tname[0] ? db_qube_by_name(&d->db, tname, &cur) :
			                -ENOENT;
			free(tname);
			if (rr < 0) {
				rr = 0;
				break;
			}
		}
		if (rr <= 0)
			return exc(res, "QubesFeatureNotFoundError",
			    "Feature not set for domain %s: %s", q->name,
			    r->arg);
		rr = out_str(res, v);
		free(v);
		return rr;
	}
	if (strcmp(m, "Set") == 0) {
		const char *kv[7];
		char *old = NULL;

		if (payload_str(r, MODEL_MAX_VALUE, &v, res) < 0)
			return -1;
		(void)db_kv_get(&d->db, DB_FEATURES, q->qid, r->arg, &old);
		rr = db_kv_set(&d->db, DB_FEATURES, q->qid, r->arg, v);
		if (rr == 0) {
			char ev[300];

			(void)snprintf(
			    ev, sizeof(ev), "feature-set:%s", r->arg);
			kv[0] = "feature";
			kv[1] = r->arg;
			kv[2] = "value";
			kv[3] = v;
			kv[4] = "oldvalue";
			kv[5] = old ? old : "";
			kv[6] = NULL;
			api_event(d, q->name, ev, kv);
			if (strcmp(r->arg, "preload-dispvm-max") == 0)
				preload_schedule(d, 0);
		}
		free(v);
		free(old);
		return rr < 0 ? exc(res, "QubesException", "database error") :
		                0;
	}
	if (strcmp(m, "Remove") == 0) {
		const char *kv[3] = {"feature", r->arg, NULL};
		char ev[300];

		rr = db_kv_del(&d->db, DB_FEATURES, q->qid, r->arg);
		if (rr < 0)
			return exc(res, "QubesException", "database error");
		if (rr == 0)
			return exc(res, "QubesFeatureNotFoundError",
			    "Feature not set for domain %s: %s", q->name,
			    r->arg);
		(void)snprintf(ev, sizeof(ev), "feature-delete:%s", r->arg);
		api_event(d, q->name, ev, kv);
		if (strcmp(r->arg, "preload-dispvm-max") == 0)
			preload_schedule(d, 0);
		return 0;
	}
	return exc(res, "ProtocolError", "unknown method");
}

static int
tag_list_one(const char *t, void *arg)
{
	return out_fmt(arg, "%s\n", t);
}

static int
m_vm_tag(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	const char *m = strrchr(r->method, '.') + 1;
	const char *kv[3] = {"tag", r->arg, NULL};
	char ev[300];
	int rr;

	(void)c;
	if (strcmp(m, "List") == 0)
		return db_tag_foreach(&d->db, q->qid, tag_list_one, res) < 0 ?
		    -1 :
		    0;
	if (!model_tag_valid(r->arg))
		return exc(res, "QubesInvalidTagError", "invalid tag name");
	if (strcmp(m, "Get") == 0) {
		rr = db_tag_has(&d->db, q->qid, r->arg);
		return rr < 0 ? exc(res, "QubesException", "database error") :
		                out_str(res, rr ? "1" : "0");
	}
	if (strcmp(m, "Set") == 0) {
		rr = db_tag_add(&d->db, q->qid, r->arg);
		if (rr < 0)
			return exc(res, "QubesException", "database error");
		if (rr > 0) {
			(void)snprintf(
			    ev, sizeof(ev), "domain-tag-add:%s", r->arg);
			api_event(d, q->name, ev, kv);
		}
		return 0;
	}
	if (strcmp(m, "Remove") == 0) {
		rr = db_tag_del(&d->db, q->qid, r->arg);
		if (rr < 0)
			return exc(res, "QubesException", "database error");
		if (rr == 0)
			return exc(res, "QubesTagNotFoundError",
			    "Tag not set for domain %s: %s", q->name, r->arg);
		(void)snprintf(ev, sizeof(ev), "domain-tag-delete:%s", r->arg);
		api_event(d, q->name, ev, kv);
		return 0;
	}
	return exc(res, "ProtocolError", "unknown method");
}

/* ---- labels ---- */

static int
label_list_one(const struct db_label *l, void *arg)
{
	return out_fmt(arg, "%s\n", l->name);
}

static int
m_label(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *dest, struct result *res)
{
	const char *m = strrchr(r->method, '.') + 1;
	struct db_label l;
	int rr;

	(void)c, (void)dest;
	if (strcmp(m, "List") == 0)
		return db_label_foreach(&d->db, label_list_one, res) < 0 ? -1 :
		                                                           0;
	if (!model_label_name_valid(r->arg))
		return exc(res, "QubesInvalidLabelError", "invalid label name");
	if (strcmp(m, "Create") == 0) {
		char *color = NULL;
		size_t i;

		if (payload_str(r, 16, &color, res) < 0)
			return -1;
		/* 0xRRGGBB, as Qubes */
		rr = strlen(color) == 8 && color[0] == '0' && color[1] == 'x';
		for (i = 2; rr && color[i]; i++)
			rr = strchr("0123456789abcdefABCDEF", color[i]) != NULL;
		if (!rr) {
			free(color);
			return exc(res, "QubesInvalidLabelValueError",
			    "colour must be 0xRRGGBB");
		}
		memset(&l, 0, sizeof(l));
		(void)str_copy(l.name, sizeof(l.name), r->arg);
		(void)str_copy(l.color, sizeof(l.color), color);
		free(color);
		if (db_label_get(&d->db, r->arg, &l) == 0)
			return exc(
			    res, "QubesValueError", "label %s exists", r->arg);
		if (db_label_next_index(&d->db, &l.index) < 0 ||
		    db_label_add(&d->db, &l) < 0)
			return exc(res, "QubesException", "database error");
		return 0;
	}
	if (db_label_get(&d->db, r->arg, &l) < 0)
		return exc(res, "QubesLabelNotFoundError",
		    "Label does not "
		    "exist: %s",
		    r->arg);
	if (strcmp(m, "Get") == 0)
		return out_str(res, l.color);
	if (strcmp(m, "Index") == 0)
		return out_fmt(res, "%u", l.index);
	if (strcmp(m, "Remove") == 0) {
		if (l.index <= 8)
			return exc(res, "QubesLabelInUseError",
			    "default labels cannot be removed");
		if (db_prop_refs(&d->db, "label", l.name, NULL) != 0)
			return exc(res, "QubesLabelInUseError",
			    "label %s is in use", l.name);
		return db_label_del(&d->db, l.name) < 0 ?
		    exc(res, "QubesException", "database error") :
		    0;
	}
	return exc(res, "ProtocolError", "unknown method");
}

/* ---- create and remove ---- */

/*
 * Create a qube of class klass.  tpl may be "" (none).  name and label
 * are validated here.  Fills ret.
 */
static int
create_qube(struct daemon *d, const char *src, const char *klass,
    const char *tpl, const char *name, const char *label, bool dispvm_auto,
    struct db_qube *ret, struct result *res)
{
	struct db_qube q, t, ex;
	struct db_label l;
	const char *kv[3];
	char tag[64];
	int c = qclass_parse(klass), qr;

	if (c < 0 || c == QC_ADMINVM)
		return exc(res, "ProtocolError", "no such class %s", klass);
	if (!model_name_valid(name) || strcmp(name, "dom0") == 0)
		return exc(res, "QubesValueError", "invalid name %s", name);
	if (db_qube_by_name(&d->db, name, &ex) == 0)
		return exc(
		    res, "QubesException", "qube %s already exists", name);
	if (!model_label_name_valid(label) ||
	    db_label_get(&d->db, label, &l) < 0)
		return exc(res, "QubesLabelNotFoundError",
		    "Label does not "
		    "exist: %s",
		    label);
	if (tpl[0] && c != QC_APPVM && c != QC_DISPVM)
		return exc(res, "ProtocolError",
		    "%s cannot be based on a "
		    "template",
		    klass);
	if (c == QC_APPVM || c == QC_DISPVM) {
		char *dt = NULL;
		bool def;

		if (!tpl[0]) {
			if (c == QC_DISPVM ||
			    prop_get(&d->model, NULL,
			        gprop_find("default_template"), &dt,
			        &def) <= 0 ||
			    dt[0] == '\0') {
				free(dt);
				return exc(res, "QubesNoTemplateError",
				    "a template is needed and none is set as "
				    "default_template");
			}
		}
		if (db_qube_by_name(&d->db, tpl[0] ? tpl : dt, &t) < 0) {
			free(dt);
			return exc(res, "QubesVMNotFoundError",
			    "No such "
			    "domain: '%s'",
			    tpl);
		}
		free(dt);
		if (c == QC_APPVM && qube_class_of(&t) != QC_TEMPLATEVM)
			return exc(res, "QubesValueError",
			    "%s is not a "
			    "TemplateVM",
			    t.name);
	}
	memset(&q, 0, sizeof(q));
	(void)str_copy(q.name, sizeof(q.name), name);
	(void)str_copy(q.klass, sizeof(q.klass), klass);
	if (model_uuid(q.uuid) < 0)
		return exc(res, "QubesException", "cannot make a uuid");
	/* claimed host-wide; a failure below leaves a claim that the next
	 * take of that qid (or the next start of bulkheadd) sees is stale */
	qr = qube_new_qid(d, q.uuid, &q.qid);
	if (qr == -ENOSPC)
		return exc(res, "QubesException", "too many qubes");
	if (qr < 0)
		return exc(res, "QubesException",
		    "cannot claim a qid in the host's qid registry (%s): %s",
		    d->cfg.id_registry, strerror(-qr));
	if (db_qube_add(&d->db, &q) < 0 ||
	    db_kv_set(&d->db, DB_PROPS, q.qid, "label", label) < 0)
		return exc(res, "QubesException", "database error");
	if ((c == QC_APPVM || c == QC_DISPVM) &&
	    db_kv_set(&d->db, DB_PROPS, q.qid, "template", t.name) < 0)
		return exc(res, "QubesException", "database error");
	if (c == QC_DISPVM) {
		char *flag = NULL;
		bool def;
		int rr = prop_get(&d->model, &t,
		    prop_find(qube_class_of(&t), "template_for_dispvms"), &flag,
		    &def);

		rr = rr > 0 && strcmp(flag, "True") == 0;
		free(flag);
		if (!rr)
			return exc(res, "QubesException",
			    "%s is not a DVM "
			    "template",
			    t.name);
		if (dispvm_auto &&
		    db_kv_set(&d->db, DB_PROPS, q.qid, "auto_cleanup", "True") <
		        0)
			return exc(res, "QubesException", "database error");
	}
	(void)snprintf(tag, sizeof(tag), "created-by-%s", src);
	if (db_tag_add(&d->db, q.qid, tag) < 0)
		return exc(res, "QubesException", "database error");
	kv[0] = "vm";
	kv[1] = q.name;
	kv[2] = NULL;
	api_event(d, "", "domain-add", kv);
	*ret = q;
	return 0;
}

static int
m_vm_create(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *dest, struct result *res)
{
	char *p = NULL, *tok, *save = NULL, *name = NULL, *label = NULL;
	bool in_pool = strncmp(r->method, "admin.vm.CreateInPool.", 22) == 0;
	const char *klass = r->method + (in_pool ? 22 : 16);
	struct db_qube q;
	int rr;

	(void)c, (void)dest;
	if (payload_str(r, 1024, &p, res) < 0)
		return -1;
	for (tok = strtok_r(p, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (eq == NULL)
			goto bad;
		*eq = '\0';
		if (strcmp(tok, "name") == 0 && name == NULL)
			name = eq + 1;
		else if (strcmp(tok, "label") == 0 && label == NULL)
			label = eq + 1;
		else if (in_pool &&
		    (strcmp(tok, "pool") == 0 ||
		        strncmp(tok, "pool:", 5) == 0)) {
			if (strcmp(eq + 1, "default") != 0) {
				free(p);
				return exc(res, "QubesException",
				    "no such "
				    "pool: only 'default' exists");
			}
		} else {
			goto bad;
		}
	}
	if (name == NULL || label == NULL)
		goto bad;
	rr = create_qube(d, r->src, klass, r->arg, name, label, false, &q, res);
	free(p);
	return rr;
bad:
	free(p);
	return exc(
	    res, "ProtocolError", "payload must be name=NAME label=LABEL");
}

/* A new disposable of dvm, auto_cleanup, named disp<N>. */
static int
new_disposable(struct daemon *d, const char *src, const struct db_qube *dvm,
    struct db_qube *ret, struct result *res)
{
	struct db_qube x;
	char *label = NULL, name[32];
	bool def;
	int tries, rr;

	if (prop_get(&d->model, dvm, prop_find(qube_class_of(dvm), "label"),
	        &label, &def) <= 0)
		return exc(res, "QubesException", "no label");
	for (tries = 0; tries < 100; tries++) {
		uint32_t id = (uint32_t)(now_ns() % 9000) + 1 + (uint32_t)tries;

		(void)snprintf(name, sizeof(name), "disp%u", id);
		if (db_qube_by_name(&d->db, name, &x) < 0)
			break;
	}
	rr = create_qube(
	    d, src, "DispVM", dvm->name, name, label, true, ret, res);
	free(label);
	return rr;
}

static int
m_vm_create_disposable(struct daemon *d, struct conn *c,
    const struct api_request *r, struct db_qube *dest, struct result *res)
{
	struct db_qube dvm = *dest, q;
	bool def;
	int rr;

	(void)c;
	if (r->arg[0] && strcmp(r->arg, "uuid") != 0)
		return exc(res, "ProtocolError", "invalid argument");
	if (dest->qid == 0) {
		/* dom0 as destination: the caller's default_dispvm */
		struct db_qube srcq;
		char *dd = NULL;

		if (db_qube_by_name(&d->db, r->src, &srcq) < 0 ||
		    prop_get(&d->model, &srcq,
		        prop_find(qube_class_of(&srcq), "default_dispvm"), &dd,
		        &def) <= 0 ||
		    dd[0] == '\0' || db_qube_by_name(&d->db, dd, &dvm) < 0) {
			free(dd);
			return exc(res, "QubesException",
			    "no default_dispvm "
			    "for %s",
			    r->src);
		}
		free(dd);
	}
	/* a preloaded one of this DVM template, if one is ready */
	if (preload_take(d, &dvm, &q) == 0)
		return strcmp(r->arg, "uuid") == 0 ?
		    out_fmt(res, "uuid:%s", q.uuid) :
		    out_str(res, q.name);
	rr = new_disposable(d, r->src, &dvm, &q, res);
	if (rr < 0)
		return rr;
	return strcmp(r->arg, "uuid") == 0 ? out_fmt(res, "uuid:%s", q.uuid) :
	                                     out_str(res, q.name);
}

int
api_new_disposable(struct daemon *d, const struct db_qube *dvm,
    struct db_qube *ret, char *err, size_t errlen)
{
	struct result res;
	int rr;

	memset(&res, 0, sizeof(res));
	buffer_init(&res.body, API_MAX_REPLY);
	rr = new_disposable(d, "dom0", dvm, ret, &res);
	if (rr < 0)
		(void)snprintf(err, errlen, "%s: %s", res.exc, res.msg);
	buffer_free(&res.body);
	return rr;
}

/*
 * admin.vm.Clone (a bulkhead extension; Qubes' qvm-clone makes many calls):
 * dest is the qube to copy, payload "name=NEW [label=LABEL]".  The new
 * qube gets the class, properties, features and tags (but created-by-*)
 * in one transaction, so a crash leaves either no clone or a whole one.
 */
struct clone_ctx {
	struct daemon *d;
	uint32_t to;
	int err;
};

static int
clone_prop(const char *k, const char *v, void *arg)
{
	struct clone_ctx *cc = arg;

	if (strcmp(k, "label") == 0)
		return 0; /* set by the creation */
	if (db_kv_set(&cc->d->db, DB_PROPS, cc->to, k, v) < 0)
		return cc->err = -EIO;
	return 0;
}

static int
clone_feature(const char *k, const char *v, void *arg)
{
	struct clone_ctx *cc = arg;

	if (db_kv_set(&cc->d->db, DB_FEATURES, cc->to, k, v) < 0)
		return cc->err = -EIO;
	return 0;
}

static int
clone_tag(const char *t, void *arg)
{
	struct clone_ctx *cc = arg;

	if (strncmp(t, "created-by-", 11) == 0)
		return 0;
	if (db_tag_add(&cc->d->db, cc->to, t) < 0)
		return cc->err = -EIO;
	return 0;
}

static int create_qube(struct daemon *d, const char *src, const char *klass,
    const char *tpl, const char *name, const char *label, bool dispvm_auto,
    struct db_qube *ret, struct result *res);

static int
m_vm_clone(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	char *p = NULL, *tok, *save = NULL, *name = NULL, *label = NULL;
	char *oldlabel = NULL, *tpl = NULL;
	struct clone_ctx cc = {d, 0, 0};
	struct db_qube n;
	bool def;
	int rr;

	(void)c;
	if (q->qid == 0 || qube_class_of(q) == QC_DISPVM)
		return exc(
		    res, "QubesException", "%s cannot be cloned", q->name);
	if (payload_str(r, 256, &p, res) < 0)
		return -1;
	for (tok = strtok_r(p, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (eq == NULL)
			goto bad;
		*eq = '\0';
		if (strcmp(tok, "name") == 0 && name == NULL)
			name = eq + 1;
		else if (strcmp(tok, "label") == 0 && label == NULL)
			label = eq + 1;
		else
			goto bad;
	}
	if (name == NULL)
		goto bad;
	if (label == NULL &&
	    prop_get(&d->model, q, prop_find(qube_class_of(q), "label"),
	        &oldlabel, &def) <= 0) {
		free(p);
		return exc(res, "QubesException", "no label");
	}
	if (prop_find(qube_class_of(q), "template") != NULL)
		(void)prop_get(&d->model, q,
		    prop_find(qube_class_of(q), "template"), &tpl, &def);
	rr = create_qube(d, r->src, q->klass, tpl ? tpl : "", name,
	    label ? label : oldlabel, false, &n, res);
	free(tpl);
	free(oldlabel);
	free(p);
	if (rr < 0)
		return rr;
	cc.to = n.qid;
	if (db_kv_foreach(&d->db, DB_PROPS, q->qid, clone_prop, &cc) < 0 ||
	    db_kv_foreach(&d->db, DB_FEATURES, q->qid, clone_feature, &cc) <
	        0 ||
	    db_tag_foreach(&d->db, q->qid, clone_tag, &cc) < 0 || cc.err)
		return exc(res, "QubesException", "database error");
	if (label != NULL &&
	    db_kv_set(&d->db, DB_PROPS, n.qid, "label", label) < 0)
		return exc(res, "QubesException", "database error");
	return 0;
bad:
	free(p);
	return exc(res, "ProtocolError",
	    "payload must be name=NAME "
	    "[label=LABEL]");
}

/* Property names whose values reference other qubes. */
static const char *const vm_refs[] = {"template", "default_dispvm", "netvm",
    "guivm", "audiovm", "management_dispvm"};
static const char *const global_vm_refs[] = {"default_template",
    "default_dispvm", "default_netvm", "default_guivm", "default_audiovm",
    "management_dispvm", "updatevm", "clockvm"};

static int
m_vm_remove(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	const char *kv[3];
	uint32_t user;
	size_t i;

	(void)c, (void)r;
	if (q->qid == 0)
		return exc(res, "QubesVMInUseError", "dom0 cannot be removed");
	if (state_of(d, q->qid) != PS_HALTED)
		return exc(res, "QubesVMNotHaltedError",
		    "Domain is powered "
		    "on: %s",
		    q->name);
	for (i = 0; i < ARRAY_SIZE(vm_refs); i++) {
		if (db_prop_refs(&d->db, vm_refs[i], q->name, &user) == 1) {
			struct db_qube u;

			(void)db_qube_by_qid(&d->db, user, &u);
			return exc(res, "QubesVMInUseError",
			    "Domain is in use: "
			    "%s (%s of %s)",
			    q->name, vm_refs[i], u.name);
		}
	}
	for (i = 0; i < ARRAY_SIZE(global_vm_refs); i++) {
		char *v = NULL;

		if (db_kv_get(&d->db, DB_GLOBAL, 0, global_vm_refs[i], &v) >
		        0 &&
		    strcmp(v, q->name) == 0) {
			free(v);
			return exc(res, "QubesVMInUseError",
			    "Domain is in use: "
			    "%s (global %s)",
			    q->name, global_vm_refs[i]);
		}
		free(v);
	}
	/* the copy writes into its directory: not removed under it */
	if (snapshot_in_progress(q))
		return exc(res, "QubesVMError",
		    "%s: a snapshot of its volume is being taken (it halted "
		    "moments ago); try again when it is done",
		    q->name);
	if (db_qube_remove(&d->db, q->qid) < 0)
		return exc(res, "QubesException", "database error");
	if (qube_remove_files(d, q) < 0)
		log_warnx("%s: some files could not be removed", q->name);
	kv[0] = "vm";
	kv[1] = q->name;
	kv[2] = NULL;
	api_event(d, "", "domain-delete", kv);
	return 0;
}

/* ---- lifecycle ---- */

static int
m_vm_lifecycle(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	const char *m = strrchr(r->method, '.') + 1;
	enum power_state st = state_of(d, q->qid);

	if (q->qid == 0)
		return exc(res, "QubesVMError",
		    "the admin domain cannot be "
		    "started or stopped");
	if (strcmp(m, "Start") == 0) {
		struct running *run = qube_running(d, q->qid);

		/* a preloaded disposable just handed out: it is started */
		if (run != NULL && run->handed_out) {
			run->handed_out = false;
			return 0;
		}
		/* a second Start of a qube starting waits for that start,
		 * as Qubes' startup lock makes it */
		if (st == PS_TRANSIENT && qube_join_start(d, q->qid, c) == 0) {
			res->deferred = true;
			return 0;
		}
		if (st != PS_HALTED)
			return exc(res, "QubesVMNotHaltedError",
			    "Domain is "
			    "powered on: %s",
			    q->name);
		if (qube_start(d, q, c) < 0)
			return -1; /* the reply was sent */
		res->deferred = true;
		return 0;
	}
	if (strcmp(m, "Shutdown") == 0) {
		bool force = false, wait = false;

		if (strcmp(r->arg, "force") == 0)
			force = true;
		else if (strcmp(r->arg, "wait") == 0)
			wait = true;
		else if (strcmp(r->arg, "force+wait") == 0)
			force = wait = true;
		else if (r->arg[0])
			return exc(res, "ProtocolError", "invalid argument");
		if (st == PS_HALTED)
			return exc(res, "QubesVMNotStartedError",
			    "Domain is "
			    "powered off: %s",
			    q->name);
		if (qube_shutdown(d, q, force, wait ? c : NULL) < 0)
			return exc(res, "QubesVMError", "shutdown failed");
		res->deferred = wait;
		return 0;
	}
	if (strcmp(m, "Kill") == 0) {
		if (st == PS_HALTED)
			return exc(res, "QubesVMNotStartedError",
			    "Domain is "
			    "powered off: %s",
			    q->name);
		switch (qube_kill(d, q, c)) {
		case 0:
			res->deferred = true;
			return 0;
		case 1:
			return 0;
		default:
			return exc(res, "QubesVMError", "kill failed");
		}
	}
	if (strcmp(m, "Pause") == 0 || strcmp(m, "Unpause") == 0) {
		bool pause = m[0] == 'P';

		if (pause && st != PS_RUNNING)
			return exc(res, "QubesVMNotRunningError",
			    "Domain is not "
			    "running: %s",
			    q->name);
		if (!pause && st != PS_PAUSED)
			return exc(res, "QubesVMNotPausedError",
			    "Domain is not "
			    "paused: %s",
			    q->name);
		{
			int rp = qube_pause(d, q, pause);

			if (rp == -ENOTSUP)
				return exc(res, "QubesVMError",
				    "%s cannot be paused here: no cgroup "
				    "freezer for it",
				    q->name);
			return rp < 0 ? exc(res, "QubesVMError",
			                    "%s failed: %s", m, strerror(-rp)) :
			                0;
		}
	}
	return exc(res, "ProtocolError", "unknown method");
}

static int
m_vm_current_state(struct daemon *d, struct conn *c,
    const struct api_request *r, struct db_qube *q, struct result *res)
{
	(void)c, (void)r;
	return out_fmt(res, "mem=0 mem_static_max=0 cputime=0 power_state=%s",
	    power_state_name(state_of(d, q->qid)));
}

static int
m_events(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	if (d->nstreams >= API_MAX_EVENT_STREAMS)
		return exc(res, "QubesException", "too many event streams");
	/*
	 * A qube with admin.Events (a management qube) holds a few streams,
	 * and qubes together never all of them: dom0's subscribers (the
	 * qvm-* tools waiting for a state) always find one.
	 */
	if (!src_is_admin(r->src)) {
		unsigned mine = 0, qubes = 0;
		struct conn *x;

		for (x = d->conns; x != NULL; x = x->next)
			if (x->state == CONN_STREAM && x->stream_src[0]) {
				qubes++;
				mine += strcmp(x->stream_src, r->src) == 0;
			}
		if (mine >= API_EVENT_STREAMS_PER_QUBE ||
		    qubes >= API_MAX_EVENT_STREAMS - API_EVENT_STREAMS_ADMIN)
			return exc(res, "QubesException",
			    "too many event streams for qubes");
	}
	(void)str_copy(
	    c->stream_dest, sizeof(c->stream_dest), q->qid == 0 ? "" : q->name);
	(void)str_copy(c->stream_src, sizeof(c->stream_src),
	    src_is_admin(r->src) ? "" : r->src);
	res->stream = true;
	return 0;
}

/* ---- notes (Qubes 4.3) ---- */

/* Notes are text for people: UTF-8, no control characters but \n \t. */
static bool
notes_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t len, k;
		uint32_t cp;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* shortest form only; no surrogates; at most U+10FFFF */
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += len;
	}
	return true;
}

static int
m_vm_notes(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	char *v = NULL;
	int rr;

	(void)c;
	if (strcmp(r->method, "admin.vm.notes.Get") == 0) {
		rr = db_kv_get(&d->db, DB_NOTES, q->qid, "notes", &v);
		if (rr < 0)
			return exc(res, "QubesException", "database error");
		rr = out_str(res, rr > 0 ? v : "");
		free(v);
		return rr;
	}
	if (!notes_valid(r->payload, r->payload_len))
		return exc(res, "QubesValueError",
		    "notes must be UTF-8 text without control characters");
	v = strndup((const char *)r->payload, r->payload_len);
	if (v == NULL)
		return exc(res, "QubesException", "out of memory");
	rr = r->payload_len ? db_kv_set(&d->db, DB_NOTES, q->qid, "notes", v) :
	                      db_kv_del(&d->db, DB_NOTES, q->qid, "notes");
	free(v);
	return rr < 0 ? exc(res, "QubesException", "database error") : 0;
}

/* ---- firewall ---- */

/*
 * Qubes' outbound firewall rules, one a line: "action=accept|drop" then
 * optional proto=, dsthost=, dst4=, dst6=, dstports=, icmptype=,
 * specialtarget=, expire=, and comment= last (the rest of the line).
 * Namespace qubes have no network yet (loopback only): the rules are
 * checked and kept for when networking qubes come; nothing enforces them
 * now, and nothing needs to.  Qubes' default: one "action=accept".
 */
#define FIREWALL_MAX_RULES 1000

static bool
fw_value_ok(const char *key, const char *v)
{
	size_t i;

	if (v[0] == '\0')
		return false;
	if (strcmp(key, "action") == 0)
		return strcmp(v, "accept") == 0 || strcmp(v, "drop") == 0;
	if (strcmp(key, "proto") == 0)
		return strcmp(v, "tcp") == 0 || strcmp(v, "udp") == 0 ||
		    strcmp(v, "icmp") == 0;
	if (strcmp(key, "specialtarget") == 0)
		return strcmp(v, "dns") == 0;
	for (i = 0; v[i]; i++) {
		char c = v[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || strchr(".-_:/", c)))
			return false;
	}
	return true;
}

static bool
fw_rule_ok(char *line)
{
	static const char *const keys[] = {"proto", "dsthost", "dst4", "dst6",
	    "dstports", "icmptype", "specialtarget", "expire"};
	char *tok, *save = NULL, *comment = strstr(line, " comment=");
	bool action = false;
	size_t i;

	if (comment) {
		*comment = '\0'; /* free text to the end of the line */
		for (i = 9; comment[i]; i++)
			if ((unsigned char)comment[i] < 0x20)
				return false;
	}
	for (tok = strtok_r(line, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		bool known = false;

		if (eq == NULL)
			return false;
		*eq = '\0';
		if (!action) {
			if (strcmp(tok, "action") != 0 ||
			    !fw_value_ok(tok, eq + 1))
				return false;
			action = true;
			continue;
		}
		for (i = 0; i < ARRAY_SIZE(keys) && !known; i++)
			known = strcmp(tok, keys[i]) == 0;
		if (!known || !fw_value_ok(tok, eq + 1))
			return false;
	}
	return action;
}

static int
m_vm_firewall(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	const char *m = strrchr(r->method, '.') + 1;
	char *v = NULL, *copy, *line, *save = NULL;
	size_t n = 0;
	int rr;

	(void)c;
	if (strcmp(m, "Reload") == 0)
		return 0; /* nothing enforces them yet: nothing to reload */
	if (strcmp(m, "Get") == 0) {
		rr = db_kv_get(&d->db, DB_NOTES, q->qid, "firewall", &v);
		if (rr < 0)
			return exc(res, "QubesException", "database error");
		rr = out_str(res, rr > 0 ? v : "action=accept\n");
		free(v);
		return rr;
	}
	/* Set: the whole list, checked line by line before it is kept */
	if (memchr(r->payload, '\0', r->payload_len) != NULL ||
	    (r->payload_len && r->payload[r->payload_len - 1] != '\n'))
		return exc(res, "QubesValueError", "rules are lines of text");
	v = strndup((const char *)r->payload, r->payload_len);
	copy = v ? strdup(v) : NULL;
	if (v == NULL || copy == NULL) {
		free(v);
		free(copy);
		return exc(res, "QubesException", "out of memory");
	}
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (++n > FIREWALL_MAX_RULES || !fw_rule_ok(line)) {
			free(v);
			free(copy);
			return exc(res, "QubesValueError",
			    "invalid firewall rule %zu", n);
		}
	free(copy);
	rr = db_kv_set(&d->db, DB_NOTES, q->qid, "firewall", v);
	free(v);
	return rr < 0 ? exc(res, "QubesException", "database error") : 0;
}

/* ---- volumes ---- */

/*
 * A qube's volumes are directories under <state>/qubes/<name>/ (the
 * namespace backend's storage, a "dir" pool): private (/rw, /home) and,
 * for TemplateVMs and StandaloneVMs of their own, root; volatile is
 * scratch, emptied at every stop.  An AppVM's (or disposable's) root is
 * its template's, seen through an overlay: a snapshot, as in Qubes.  The
 * host template's root is the host's own /usr: never ours to copy.
 */
static const char *const volume_names[] = {"private", "root", "volatile"};

struct clone_token {
	char token[33];
	uint32_t qid;
	char vol[16];
	char src[API_MAX_QUBE + 1]; /* who asked for it */
	uint64_t made;              /* now_ns() */
};

/* tokens one caller may hold: its own oldest goes for a new one */
#define CLONE_TOKENS_PER_SRC 4

/* CloneFrom tokens, used once (Qubes' semantics), lost at a restart */
static struct clone_token clone_tokens[16];

/* a copy in progress: CloneTo answers when it ends */
struct clone_op {
	struct daemon *d;
	struct conn *c;
	pid_t pid;
	uint32_t dst_qid;
	uint32_t src_qid; /* may not start while its volume is copied */
	int result_fd;    /* the copier writes 0 (done) or 1 (failed) here */
	char tmp[PATH_MAX], dst[PATH_MAX];
	struct clone_op *next;
};

static struct clone_op *clone_ops;

/*
 * Where a new CloneFrom token of caller src goes: its own oldest once it
 * holds CLONE_TOKENS_PER_SRC (a caller that asks again and again replaces
 * only its own), else a free slot, else the oldest of all.
 */
static struct clone_token *
clone_token_slot(const char *src)
{
	struct clone_token *own = NULL, *any = NULL, *t;
	size_t i, n = 0;

	for (i = 0; i < ARRAY_SIZE(clone_tokens); i++) {
		t = &clone_tokens[i];
		if (t->token[0] == '\0') {
			if (any == NULL || any->token[0] != '\0')
				any = t;
			continue;
		}
		if (strcmp(t->src, src) == 0) {
			n++;
			if (own == NULL || t->made < own->made)
				own = t;
		}
		if (any == NULL ||
		    (any->token[0] != '\0' && t->made < any->made))
			any = t;
	}
	return n >= CLONE_TOKENS_PER_SRC ? own : any;
}

static bool
host_template(struct daemon *d, const struct db_qube *q)
{
	char *v = NULL;
	bool yes = db_kv_get(&d->db, DB_FEATURES, q->qid,
	               "bulkhead.host-template", &v) > 0 &&
	    strcmp(v, "1") == 0;

	free(v);
	return yes;
}

/*
 * In the copier (a child): move a copied volume's files from the source
 * qube's id range to the new qube's, so that each qube's files carry its
 * own ids on disk.  chown clears set-id bits: they are put back.  (File
 * capabilities and ACL entries naming ids are not carried over.)
 */
static uint32_t shift_from, shift_to;

static int
shift_ids(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	uid_t u = st->st_uid;
	gid_t g = st->st_gid;

	(void)flag, (void)ftw;
	if (u >= shift_from && u - shift_from < SANDBOX_ID_RANGE)
		u = u - shift_from + shift_to;
	if (g >= shift_from && g - shift_from < SANDBOX_ID_RANGE)
		g = g - shift_from + shift_to;
	if (lchown(path, u, g) < 0)
		return -1;
	if (!S_ISLNK(st->st_mode) && (st->st_mode & 06000) &&
	    chmod(path, st->st_mode & 07777) < 0)
		return -1;
	return 0;
}

/* Does q keep data in volume vol (a directory of its own)? */
static bool
volume_own(struct daemon *d, const struct db_qube *q, const char *vol)
{
	enum qube_class k = qube_class_of(q);

	if (strcmp(vol, "private") == 0)
		return k != QC_ADMINVM;
	if (strcmp(vol, "root") == 0)
		return (k == QC_TEMPLATEVM || k == QC_STANDALONEVM) &&
		    !host_template(d, q);
	return false;
}

/* A VM qube (virt_mode=vm): its volumes are image files. */
static bool
is_vm(struct daemon *d, const struct db_qube *q)
{
	return qube_backend(d, q) == &backend_vm;
}

/* Where q's volume vol is: a directory, or a VM qube's image file. */
static int
volume_dir(struct daemon *d, const struct db_qube *q, const char *vol,
    char *out, size_t n)
{
	if (is_vm(d, q) && backend_vm_volume_image(d, q, vol, out, n) == 0)
		return 0;
	return str_printf(
	    out, n, "%s/qubes/%s/%s", d->cfg.state_dir, q->name, vol);
}

static void
clone_done(void *arg, int fd, short revents)
{
	struct clone_op *op = arg, **pp;
	struct daemon *d = op->d;
	char old[PATH_MAX + 8], status = 1;
	bool ok;

	(void)fd, (void)revents;
	/*
	 * The loop reaps every child (pidfds say who), so the exit status
	 * comes through a pipe from the copier, whose own child cp is.
	 */
	ok = read(op->result_fd, &status, 1) == 1 && status == 0;
	loop_del(&d->loop, op->result_fd);
	close_fd(&op->result_fd);
	for (pp = &clone_ops; *pp; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	/*
	 * The new data replaces the old in one rename; the old goes after.
	 * A qube started during the copy keeps what it has: its volume is
	 * in use (mounted), and is neither swapped nor removed under it.
	 */
	if (ok && state_of(d, op->dst_qid) != PS_HALTED) {
		log_warnx("%s: started during the copy; not swapped", op->dst);
		ok = false;
	}
	(void)str_printf(old, sizeof(old), "%s.old", op->dst);
	if (ok) {
		bool had = true;

		(void)fs_remove_tree(old);
		if (rename(op->dst, old) < 0) {
			had = false;
			ok = errno == ENOENT;
		}
		if (ok && rename(op->tmp, op->dst) < 0) {
			/* put the old data back: nothing is lost */
			if (had)
				(void)rename(old, op->dst);
			ok = false;
		}
	}
	fs_remove_tree_async(ok ? old : op->tmp);
	if (ok) {
		log_info("cloned into %s", op->dst);
		api_reply_ok(d, op->c, NULL);
	} else {
		log_warnx("cloning into %s failed", op->dst);
		api_reply_exc(d, op->c, "QubesException",
		    "copying the volume failed (see bulkheadd's log)");
	}
	free(op);
}

bool
api_volume_copying_from(uint32_t qid)
{
	struct clone_op *op;

	for (op = clone_ops; op; op = op->next)
		if (op->src_qid == qid)
			return true;
	return false;
}

void
api_volume_forget_conn(struct conn *c)
{
	struct clone_op *op;

	for (op = clone_ops; op; op = op->next)
		if (op->c == c)
			op->c = NULL; /* the copy goes on; nobody to tell */
}

static int
volume_clone_to(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	struct clone_token t = {0};
	struct db_qube src;
	struct clone_op *op;
	char from[PATH_MAX];
	int pipefd[2];
	pid_t self;
	size_t i;

	if (r->payload_len != 32)
		return exc(res, "ProtocolError", "the payload is a token");
	for (i = 0; i < ARRAY_SIZE(clone_tokens); i++)
		if (clone_tokens[i].token[0] &&
		    memcmp(clone_tokens[i].token, r->payload, 32) == 0) {
			t = clone_tokens[i];
			memset(&clone_tokens[i], 0, sizeof(clone_tokens[i]));
			break;
		}
	if (t.token[0] == '\0')
		return exc(res, "QubesException", "no such clone token");
	if (strcmp(t.vol, r->arg) != 0)
		return exc(res, "QubesException",
		    "the token is for a %s volume", t.vol);
	if (db_qube_by_qid(&d->db, t.qid, &src) < 0)
		return exc(res, "QubesVMNotFoundError", "the source is gone");
	if (!volume_own(d, q, r->arg))
		return exc(res, "QubesException",
		    "%s has no %s volume of its own", q->name, r->arg);
	if (is_vm(d, q) != is_vm(d, &src))
		return exc(res, "QubesException",
		    "%s and %s differ in virt_mode: a VM's volume is an image, "
		    "a sandbox's a directory",
		    src.name, q->name);
	if (state_of(d, q->qid) != PS_HALTED)
		return exc(res, "QubesVMNotHaltedError",
		    "Domain is powered on: %s", q->name);
	if (state_of(d, src.qid) != PS_HALTED)
		return exc(res, "QubesVMNotHaltedError",
		    "%s is running: its %s volume is a live directory; clone "
		    "it halted",
		    src.name, r->arg);
	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return exc(res, "QubesException", "out of memory");
	op->d = d;
	op->c = c;
	op->dst_qid = q->qid;
	op->src_qid = src.qid;
	op->result_fd = -1;
	if (volume_dir(d, &src, r->arg, from, sizeof(from)) < 0 ||
	    volume_dir(d, q, r->arg, op->dst, sizeof(op->dst)) < 0 ||
	    str_printf(op->tmp, sizeof(op->tmp), "%s.clone", op->dst) < 0) {
		free(op);
		return exc(res, "QubesException", "path too long");
	}
	if (access(from, F_OK) < 0) {
		/* never started: nothing to copy, and nothing to keep */
		(void)fs_remove_tree(op->dst);
		free(op);
		return 0;
	}
	(void)fs_remove_tree(op->tmp);
	{
		/* <state>/qubes/<name>: made at a first start, or here */
		char parent[PATH_MAX];

		if (str_printf(parent, sizeof(parent), "%s/qubes/%s",
		        d->cfg.state_dir, q->name) == 0 &&
		    mkdir(parent, 0700) < 0 && errno != EEXIST)
			log_warn("%s", parent);
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		free(op);
		return exc(res, "QubesException", "cannot start the copy");
	}
	self = getpid();
	op->pid = fork();
	if (op->pid == 0) {
		int st;

		(void)close(pipefd[0]);
		daemon_child_init(pipefd[1]);
		st = fs_copy_tree_in_child(self, from, op->tmp);
		/* the copy's files become the new qube's */
		shift_from = sandbox_uid_base(src.qid);
		shift_to = sandbox_uid_base(q->qid);
		if (st == 0 && shift_from != shift_to &&
		    nftw(op->tmp, shift_ids, 64, FTW_PHYS) != 0)
			st = 1;
		_exit(write(pipefd[1], st ? "\1" : "", 1) == 1 ? st : 1);
	}
	(void)close(pipefd[1]);
	op->result_fd = pipefd[0];
	if (op->pid < 0 ||
	    loop_add(&d->loop, op->result_fd, POLLIN, clone_done, op) < 0) {
		if (op->pid > 0)
			(void)kill(op->pid, SIGKILL);
		close_fd(&op->result_fd);
		free(op);
		return exc(res, "QubesException", "cannot start the copy");
	}
	op->next = clone_ops;
	clone_ops = op;
	log_info("cloning %s's %s volume into %s", src.name, r->arg, q->name);
	res->deferred = true;
	return 0;
}

static int
m_vm_volume(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	enum qube_class k = qube_class_of(q);
	const char *m = strrchr(r->method, '.') + 1;
	bool tplbased = k == QC_APPVM || k == QC_DISPVM;
	char dir[PATH_MAX];
	size_t i;

	if (k == QC_ADMINVM)
		return strcmp(m, "List") == 0 ?
		    0 :
		    exc(res, "QubesVolumeNotFoundError", "no such volume");
	if (strcmp(m, "List") == 0) {
		for (i = 0; i < ARRAY_SIZE(volume_names); i++)
			if (out_fmt(res, "%s\n", volume_names[i]) < 0)
				return -1;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(volume_names); i++)
		if (strcmp(r->arg, volume_names[i]) == 0)
			break;
	if (i == ARRAY_SIZE(volume_names))
		return exc(res, "QubesVolumeNotFoundError", "no such volume");
	if (strcmp(m, "CloneFrom") == 0) {
		struct clone_token *t = NULL;
		uint8_t raw[16];

		if (!volume_own(d, q, r->arg))
			return exc(res, "QubesException",
			    "%s's %s volume is not its own data (%s)", q->name,
			    r->arg,
			    strcmp(r->arg, "root") == 0 ? "a template's" :
			                                  "scratch");
		t = clone_token_slot(r->src);
		if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
			return exc(res, "QubesException", "no randomness");
		for (i = 0; i < sizeof(raw); i++)
			(void)snprintf(t->token + 2 * i, 3, "%02x", raw[i]);
		t->qid = q->qid;
		(void)str_copy(t->vol, sizeof(t->vol), r->arg);
		(void)str_copy(t->src, sizeof(t->src), r->src);
		t->made = now_ns();
		return out_str(res, t->token);
	}
	if (strcmp(m, "CloneTo") == 0)
		return volume_clone_to(d, c, r, q, res);
	if (strcmp(m, "ListSnapshots") == 0) {
		char revs[16][24];
		int nrev = is_vm(d, q) ?
		    backend_vm_revisions(d, q, r->arg, revs, ARRAY_SIZE(revs)) :
		    0; /* directories keep none */

		for (i = 0; nrev > 0 && i < (size_t)nrev; i++)
			if (out_fmt(res, "%s\n", revs[i]) < 0)
				return -1;
		return 0;
	}
	if (strcmp(m, "Revert") == 0) {
		char *rev = NULL;
		int rc;

		if (payload_str(r, 32, &rev, res) < 0)
			return -1;
		if (!is_vm(d, q) || strcmp(r->arg, "private") != 0 ||
		    qube_class_of(q) == QC_DISPVM) {
			free(rev);
			return exc(res, "QubesException",
			    "%s's %s volume keeps no revisions", q->name,
			    r->arg);
		}
		if (state_of(d, q->qid) != PS_HALTED) {
			free(rev);
			return exc(res, "QubesVMNotHaltedError",
			    "Domain is powered on: %s", q->name);
		}
		rc = backend_vm_revert(d, q, r->arg, rev);
		free(rev);
		if (rc == -EINVAL || rc == -ENOENT)
			return exc(res, "QubesValueError", "no such revision");
		if (rc < 0)
			return exc(res, "QubesException", "reverting: %s",
			    strerror(-rc));
		log_info("%s: %s volume reverted", q->name, r->arg);
		return 0;
	}
	/* Info */
	{
		bool root = strcmp(r->arg, "root") == 0;
		bool priv = strcmp(r->arg, "private") == 0;
		bool snap = (root && tplbased) || (priv && k == QC_DISPVM);
		bool own = volume_own(d, q, r->arg);
		bool host = root && host_template(d, q);
		char source[PATH_MAX] = "";

		if (snap) {
			/* whose root (or private, for a disposable) it shows */
			const struct prop_def *tp =
			    prop_find(qube_class_of(q), "template");
			char *tname = NULL;
			bool def;

			if (tp && prop_get(&d->model, q, tp, &tname, &def) > 0)
				(void)str_printf(source, sizeof(source),
				    "%s/%s", tname, r->arg);
			free(tname);
		}
		unsigned long long size = 0, usage = 0;
		int keep = 0;

		if (volume_dir(d, q, r->arg, dir, sizeof(dir)) < 0)
			return exc(res, "QubesException", "path too long");
		if (is_vm(d, q)) {
			/* an image file: its size and what it takes on disk */
			struct stat st;

			if (own && stat(dir, &st) == 0 && S_ISREG(st.st_mode)) {
				size = (unsigned long long)st.st_size;
				usage = (unsigned long long)st.st_blocks * 512;
			}
			keep = strcmp(r->arg, "private") == 0 &&
			    qube_class_of(q) != QC_DISPVM;
		}
		return out_fmt(res,
		    "pool=%s\nvid=%s\nsize=%llu\nusage=%llu\n"
		    "rw=%s\nsource=%s\nsave_on_stop=%s\nsnap_on_start=%s\n"
		    "revisions_to_keep=%d\nephemeral=%s\nis_outdated=False\n",
		    is_vm(d, q) ? "vm-images" : "default", host ? "/usr" : dir,
		    size, usage, host ? "False" : "True", source,
		    own ? "True" : "False", snap ? "True" : "False", keep,
		    strcmp(r->arg, "volatile") == 0 ? "True" : "False");
	}
}

/*
 * admin.vm.Console+[OFFSET]: a VM qube's serial console log, read-only
 * (bulkhead's divergence: Qubes attaches a terminal).  The reply is a
 * line "offset=START size=TOTAL" and up to CONSOLE_CHUNK bytes of the log
 * from START (default: the last CONSOLE_CHUNK bytes).  The log is the
 * guest's output: the client prints it escaped; a NUL becomes '.' here so
 * the reply stays text.
 */
#define CONSOLE_CHUNK (64 * 1024)

static int
m_vm_console(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	char path[PATH_MAX], *buf;
	unsigned long long off = 0, size;
	struct stat st;
	ssize_t n;
	int fd;

	(void)c;
	if (r->arg[0] != '\0') {
		char *end;

		errno = 0;
		off = strtoull(r->arg, &end, 10);
		if (errno != 0 || *end != '\0' || r->arg[0] == '-' ||
		    r->arg[0] < '0' || r->arg[0] > '9')
			return exc(res, "QubesValueError",
			    "the argument is a byte offset");
	}
	if (str_printf(path, sizeof(path), "%s/log/%s.console.log",
	        d->cfg.state_dir, q->name) < 0)
		return exc(res, "QubesException", "path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			(void)close(fd);
		return exc(res, "QubesException",
		    "%s has no console log (only VM qubes have one)", q->name);
	}
	size = (unsigned long long)st.st_size;
	if (r->arg[0] == '\0')
		off = size > CONSOLE_CHUNK ? size - CONSOLE_CHUNK : 0;
	if (off > size)
		off = size; /* the log was replaced: the client starts over */
	buf = malloc(CONSOLE_CHUNK);
	if (buf == NULL) {
		(void)close(fd);
		return exc(res, "QubesException", "out of memory");
	}
	n = pread(fd, buf, CONSOLE_CHUNK, (off_t)off);
	(void)close(fd);
	if (n < 0) {
		free(buf);
		return exc(res, "QubesException", "reading the console log");
	}
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = '.';
	if (out_fmt(res, "offset=%llu size=%llu\n", off, size) < 0 ||
	    buffer_append(&res->body, buf, (size_t)n) < 0) {
		free(buf);
		return exc(res, "QubesException", "reply too large");
	}
	free(buf);
	return 0;
}

/* ---- internal ---- */

struct sysinfo_ctx {
	struct daemon *d;
	json_t *domains;
};

static int
sysinfo_one(const struct db_qube *q, void *arg)
{
	struct sysinfo_ctx *sc = arg;
	struct daemon *d = sc->d;
	enum qube_class k = qube_class_of(q);
	json_t *o = json_object(), *tags = json_array();
	static const char *const strprops[] = {
	    "default_dispvm", "guivm", "icon", "relayvm"};
	const struct prop_def *p;
	char *v = NULL;
	bool def;
	size_t i;

	if (o == NULL || tags == NULL)
		return -ENOMEM;
	json_object_set_new(o, "type", json_string(q->klass));
	json_object_set_new(o, "uuid", json_string(q->uuid));
	json_object_set_new(o, "power_state",
	    json_string(power_state_name(state_of(d, q->qid))));
	p = prop_find(k, "template_for_dispvms");
	json_object_set_new(o, "template_for_dispvms",
	    json_boolean(p && prop_get(&d->model, q, p, &v, &def) > 0 &&
	        strcmp(v, "True") == 0));
	free(v);
	v = NULL;
	/*
	 * Qubes' feature "internal" (a preloaded disposable has it): the
	 * policy offers no internal qube at an ask.  Truthy as Qubes reads
	 * it, any value but the empty one.
	 */
	json_object_set_new(o, "internal",
	    json_boolean(
	        db_kv_get(&d->db, DB_FEATURES, q->qid, "internal", &v) > 0 &&
	        v[0] != '\0'));
	free(v);
	v = NULL;
	for (i = 0; i < ARRAY_SIZE(strprops); i++) {
		p = prop_find(k, strprops[i]);
		if (p == NULL)
			continue;
		if (prop_get(&d->model, q, p, &v, &def) > 0 && v[0])
			json_object_set_new(o, strprops[i], json_string(v));
		else
			json_object_set_new(o, strprops[i], json_null());
		free(v);
		v = NULL;
	}
	json_object_set_new(o, "tags", tags);
	json_object_set_new(sc->domains, q->name, o);
	return 0;
}

static int
sysinfo_tag(const char *t, void *arg)
{
	return json_array_append_new(arg, json_string(t)) == 0 ? 0 : -ENOMEM;
}

static int
sysinfo_tags(const struct db_qube *q, void *arg)
{
	struct sysinfo_ctx *sc = arg;
	json_t *o = json_object_get(sc->domains, q->name);

	if (o == NULL)
		return 0;
	return db_tag_foreach(
	    &sc->d->db, q->qid, sysinfo_tag, json_object_get(o, "tags"));
}

/* internal.GetSystemInfo's JSON (free() it), or NULL. */
static char *
system_info_json(struct daemon *d)
{
	struct sysinfo_ctx sc = {d, json_object()};
	json_t *top = json_object();
	char *s;

	if (sc.domains == NULL || top == NULL ||
	    db_qube_foreach(&d->db, sysinfo_one, &sc) < 0 ||
	    db_qube_foreach(&d->db, sysinfo_tags, &sc) < 0) {
		json_decref(sc.domains);
		json_decref(top);
		return NULL;
	}
	json_object_set_new(top, "domains", sc.domains);
	s = json_dumps(top, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(top);
	return s;
}

static int
m_system_info(struct daemon *d, struct conn *c, const struct api_request *r,
    struct db_qube *q, struct result *res)
{
	char *s;
	int rr;

	(void)c, (void)r, (void)q;
	s = system_info_json(d);
	if (s == NULL)
		return exc(res, "QubesException", "cannot build system info");
	rr = out_str(res, s);
	free(s);
	return rr;
}

static const struct method methods[] = {
    {"admin.vmclass.List", M_NOARG | M_DEST_ADMIN, m_vmclass_list},
    {"admin.vm.List", M_NOARG, m_vm_list},
    {"admin.property.List", M_NOARG | M_DEST_ADMIN, m_property},
    {"admin.property.GetAll", M_NOARG | M_DEST_ADMIN, m_property},
    {"admin.property.Get", M_ARG | M_DEST_ADMIN, m_property},
    {"admin.property.GetDefault", M_ARG | M_DEST_ADMIN, m_property},
    {"admin.property.Help", M_ARG | M_DEST_ADMIN, m_property},
    {"admin.property.Set", M_ARG | M_PAYLOAD | M_DEST_ADMIN | M_WRITE,
        m_property},
    {"admin.property.Reset", M_ARG | M_DEST_ADMIN | M_WRITE, m_property},
    {"admin.vm.property.List", M_NOARG, m_vm_property},
    {"admin.vm.property.GetAll", M_NOARG, m_vm_property},
    {"admin.vm.property.Get", M_ARG, m_vm_property},
    {"admin.vm.property.GetDefault", M_ARG, m_vm_property},
    {"admin.vm.property.Help", M_ARG, m_vm_property},
    {"admin.vm.property.Set", M_ARG | M_PAYLOAD | M_WRITE, m_vm_property},
    {"admin.vm.property.Reset", M_ARG | M_WRITE, m_vm_property},
    {"admin.vm.feature.List", M_NOARG, m_vm_feature},
    {"admin.vm.feature.Get", M_ARG, m_vm_feature},
    {"admin.vm.feature.CheckWithTemplate", M_ARG, m_vm_feature},
    {"admin.vm.feature.Set", M_ARG | M_PAYLOAD | M_WRITE, m_vm_feature},
    {"admin.vm.feature.Remove", M_ARG | M_WRITE, m_vm_feature},
    {"admin.vm.tag.List", M_NOARG, m_vm_tag},
    {"admin.vm.tag.Get", M_ARG, m_vm_tag},
    {"admin.vm.tag.Set", M_ARG | M_WRITE, m_vm_tag},
    {"admin.vm.tag.Remove", M_ARG | M_WRITE, m_vm_tag},
    {"admin.label.List", M_NOARG | M_DEST_ADMIN, m_label},
    {"admin.label.Get", M_ARG | M_DEST_ADMIN, m_label},
    {"admin.label.Index", M_ARG | M_DEST_ADMIN, m_label},
    {"admin.label.Create", M_ARG | M_PAYLOAD | M_DEST_ADMIN | M_WRITE, m_label},
    {"admin.label.Remove", M_ARG | M_DEST_ADMIN | M_WRITE, m_label},
    {"admin.vm.Create.", M_PREFIX | M_PAYLOAD | M_DEST_ADMIN | M_WRITE,
        m_vm_create},
    {"admin.vm.CreateInPool.", M_PREFIX | M_PAYLOAD | M_DEST_ADMIN | M_WRITE,
        m_vm_create},
    /* it writes only rows of auto_cleanup disposables (db_begin_lazy) */
    {"admin.vm.CreateDisposable", M_WRITE | M_LAZY, m_vm_create_disposable},
    {"admin.vm.Remove", M_NOARG | M_WRITE, m_vm_remove},
    {"admin.vm.Clone", M_NOARG | M_PAYLOAD | M_WRITE, m_vm_clone},
    {"admin.vm.Start", M_NOARG, m_vm_lifecycle},
    {"admin.vm.Shutdown", 0, m_vm_lifecycle},
    {"admin.vm.Pause", M_NOARG, m_vm_lifecycle},
    {"admin.vm.Unpause", M_NOARG, m_vm_lifecycle},
    {"admin.vm.Kill", M_NOARG, m_vm_lifecycle},
    {"admin.vm.CurrentState", M_NOARG, m_vm_current_state},
    {"admin.Events", M_NOARG, m_events},
    {"admin.vm.volume.List", M_NOARG, m_vm_volume},
    {"admin.vm.volume.Info", M_ARG, m_vm_volume},
    {"admin.vm.volume.ListSnapshots", M_ARG, m_vm_volume},
    {"admin.vm.volume.Revert", M_ARG | M_PAYLOAD | M_WRITE, m_vm_volume},
    {"admin.vm.Console", 0, m_vm_console},
    {"admin.vm.notes.Get", M_NOARG, m_vm_notes},
    {"admin.vm.firewall.Get", M_NOARG, m_vm_firewall},
    {"admin.vm.firewall.Set", M_NOARG | M_PAYLOAD | M_WRITE, m_vm_firewall},
    {"admin.vm.firewall.Reload", M_NOARG, m_vm_firewall},
    {"admin.vm.notes.Set", M_NOARG | M_PAYLOAD | M_WRITE, m_vm_notes},
    {"admin.vm.volume.CloneFrom", M_ARG | M_WRITE, m_vm_volume},
    {"admin.vm.volume.CloneTo", M_ARG | M_PAYLOAD | M_WRITE, m_vm_volume},
    {"internal.GetSystemInfo", M_NOARG | M_INTERNAL, m_system_info},
};

static const struct method *
find_method(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(methods); i++) {
		const struct method *m = &methods[i];

		if (m->flags & M_PREFIX) {
			size_t n = strlen(m->name);

			if (strncmp(name, m->name, n) == 0 && name[n] != '\0')
				return m;
		} else if (strcmp(name, m->name) == 0) {
			return m;
		}
	}
	return NULL;
}

/* ---- connections ---- */

static void
conn_close(struct daemon *d, struct conn *c)
{
	struct conn **pp;

	if (c->busy) {
		c->dead = true;
		loop_del(&d->loop, c->fd);
		return;
	}

	for (pp = &d->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->state == CONN_STREAM && d->nstreams > 0)
		d->nstreams--;
	qube_forget_conn(d, c);
	api_volume_forget_conn(c);
	snapshot_forget_conn(c);
	loop_del(&d->loop, c->fd);
	(void)close(c->fd);
	buffer_free(&c->in);
	buffer_free(&c->out);
	d->nconns--;
	if (c->internal)
		d->nconns_internal--;
	free(c);
}

static void
conn_flush(struct daemon *d, struct conn *c)
{
	long n = buffer_flush(&c->out, c->fd);

	if (n < 0) {
		conn_close(d, c);
		return;
	}
	if (buffer_len(&c->out) == 0 && c->state == CONN_WRITING) {
		(void)shutdown(c->fd, SHUT_WR);
		conn_close(d, c);
		return;
	}
	loop_set_events(
	    &d->loop, c->fd, (short)(buffer_len(&c->out) ? POLLOUT : 0));
}

static void
send_frame(struct daemon *d, struct conn *c, const char *hdr, size_t hlen,
    const void *body, size_t blen)
{
	if (c == NULL)
		return; /* an internal request (a preload): nobody to answer */
	if (buffer_append(&c->out, hdr, hlen) < 0 ||
	    buffer_append(&c->out, body, blen) < 0) {
		conn_close(d, c);
		return;
	}
	c->state = CONN_WRITING;
	conn_flush(d, c);
}

void
api_reply_ok(struct daemon *d, struct conn *c, const char *data)
{
	send_frame(d, c, "0\0", 2, data ? data : "", data ? strlen(data) : 0);
}

void
api_reply_exc(
    struct daemon *d, struct conn *c, const char *type, const char *fmt, ...)
{
	char msg[512], frame[700];
	va_list ap;
	size_t i;
	int n;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; msg[i]; i++)
		if (msg[i] == '%')
			msg[i] = '_';
	n = snprintf(frame, sizeof(frame), "%s%c%c%s", type, 0, 0, msg);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(frame))
		n = sizeof(frame) - 1;
	send_frame(d, c, "2\0", 2, frame, (size_t)n + 1);
}

static bool
write_method(const struct method *m)
{
	return (m->flags & M_WRITE) != 0;
}

static void
dispatch(struct daemon *d, struct conn *c)
{
	struct api_request *r = &c->req;
	const struct method *m;
	struct result res;
	struct db_qube dest;
	char logbuf[64];
	int rr;

	memset(&res, 0, sizeof(res));
	buffer_init(&res.body, API_MAX_REPLY);
	c->busy = true;
	if (api_request_parse(buffer_data(&c->in), buffer_len(&c->in), r) < 0) {
		log_warnx("malformed Admin API request, closing");
		conn_close(d, c);
		goto out;
	}
	m = find_method(r->method);
	if (m == NULL || ((m->flags & M_INTERNAL) && !c->internal) ||
	    (!(m->flags & M_INTERNAL) && c->internal)) {
		api_reply_exc(d, c, "ProtocolError", "unknown method %s",
		    log_quote(
		        logbuf, sizeof(logbuf), r->method, strlen(r->method)));
		goto out;
	}
	if (((m->flags & M_ARG) && r->arg[0] == '\0' &&
	        !(m->flags & M_PREFIX)) ||
	    ((m->flags & M_NOARG) && r->arg[0] != '\0') ||
	    (!(m->flags & M_PAYLOAD) && r->payload_len > 0 &&
	        !(m->flags & M_INTERNAL))) {
		api_reply_exc(d, c, "ProtocolError",
		    "invalid argument or "
		    "payload for %s",
		    r->method);
		goto out;
	}
	if (lookup_qube(d, r->dest, &dest, &res) < 0)
		goto reply;
	if ((m->flags & M_DEST_ADMIN) && dest.qid != 0) {
		exc(&res, "ProtocolError", "%s must be called on dom0",
		    r->method);
		goto reply;
	}
	if (write_method(m) &&
	    ((m->flags & M_LAZY) ? db_begin_lazy(&d->db) : db_begin(&d->db)) <
	        0) {
		exc(&res, "QubesException", "database busy");
		goto reply;
	}
	rr = m->fn(d, c, r, &dest, &res);
	if (write_method(m)) {
		if (rr < 0 || res.exc)
			db_rollback(&d->db);
		else if (db_commit(&d->db) < 0)
			exc(&res, "QubesException",
			    "database error: nothing "
			    "changed");
	}
	if (res.deferred && res.exc == NULL) {
		c->state = CONN_DEFERRED;
		loop_set_events(&d->loop, c->fd, 0);
		goto out;
	}
	if (res.stream && res.exc == NULL) {
		const char *kv[] = {NULL};

		c->state = CONN_STREAM;
		c->out.limit = STREAM_OUT_LIMIT;
		d->nstreams++;
		loop_set_events(&d->loop, c->fd, 0);
		api_event(d, c->stream_dest, "connection-established", kv);
		goto out;
	}
	if (c->state != CONN_READING || c->dead)
		goto out; /* replied already (a failed start) */
reply:
	if (res.exc)
		api_reply_exc(d, c, res.exc, "%s", res.msg);
	else
		send_frame(d, c, "0\0", 2, buffer_data(&res.body),
		    buffer_len(&res.body));
out:
	buffer_free(&res.body);
	c->busy = false;
	if (c->dead)
		conn_close(d, c);
}

static void
conn_io(void *arg, int fd, short revents)
{
	struct conn *c = arg;
	struct daemon *d = c->d;

	(void)fd;
	if (c->state == CONN_STREAM) {
		/*
		 * The subscriber shut its write side to end the request, so
		 * EOF on read means nothing; it is gone when the socket
		 * hangs up entirely.
		 */
		if (revents & (POLLHUP | POLLERR)) {
			conn_close(d, c);
			return;
		}
		if (revents & POLLOUT)
			conn_flush(d, c);
		return;
	}
	if (c->state == CONN_WRITING) {
		if (revents & (POLLOUT | POLLHUP | POLLERR))
			conn_flush(d, c);
		return;
	}
	if (c->state == CONN_DEFERRED) {
		/*
		 * Waiting for its answer, polled for nothing, but a caller
		 * that went away still hangs up: forget it (the deferred
		 * work goes on), or poll would report it for ever.
		 */
		if (revents & (POLLHUP | POLLERR))
			conn_close(d, c);
		return;
	}
	if (c->state != CONN_READING)
		return;
	for (;;) {
		uint8_t *p = buffer_reserve(&c->in, 4096);
		ssize_t n;

		if (p == NULL) {
			log_warnx("Admin API request too long, closing");
			conn_close(d, c);
			return;
		}
		n = read(c->fd, p, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		buffer_commit(&c->in, (size_t)n);
	}
	/* EOF: the request is complete */
	loop_set_events(&d->loop, c->fd, 0);
	dispatch(d, c);
}

static bool
peer_allowed(int fd, uid_t *ret_uid)
{
	static gid_t bulkhead_gid = (gid_t)-1;
	static bool looked_up;
	gid_t groups[64];
	socklen_t len = sizeof(groups);
	uid_t uid;
	gid_t gid;
	size_t i;

	if (sock_peer_cred(fd, NULL, &uid, &gid) < 0)
		return false;
	*ret_uid = uid;
	if (uid == 0)
		return true;
	if (!looked_up) {
		struct group *g = getgrnam("bulkhead");

		looked_up = true;
		if (g)
			bulkhead_gid = g->gr_gid;
	}
	if (bulkhead_gid == (gid_t)-1)
		return false;
	if (gid == bulkhead_gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		for (i = 0; i < len / sizeof(gid_t); i++)
			if (groups[i] == bulkhead_gid)
				return true;
	return false;
}

static void
accept_conn(struct daemon *d, int lfd, bool internal)
{
	struct conn *c;
	uid_t uid = 0;
	int fd;

	fd = sock_accept(lfd, true);
	if (fd < 0)
		return;
	/* the internal socket (internal.GetSystemInfo alone) also serves
	 * the policy daemon's own user (--policy-user) */
	if (!peer_allowed(fd, &uid) &&
	    !(internal && d->cfg.policy_user[0] != '\0' &&
	        uid == d->cfg.policy_uid)) {
		log_warnx("Admin API: refused a connection from uid %u",
		    (unsigned)uid);
		(void)close(fd);
		return;
	}
	if (internal ? d->nconns_internal >= API_INTERNAL_CONNS :
	               d->nconns - d->nconns_internal >=
	            API_MAX_CONNS - API_INTERNAL_CONNS) {
		/*
		 * Full (this socket's share): its oldest connection that has
		 * not finished sending its request gives way, so that idle
		 * connections cannot lock callers out.  Calls being answered,
		 * deferred replies and event streams are kept; with only
		 * those, refuse.
		 */
		struct conn *x, *oldest = NULL;

		for (x = d->conns; x; x = x->next)
			if (x->internal == internal &&
			    x->state == CONN_READING && !x->busy &&
			    (oldest == NULL || x->since < oldest->since))
				oldest = x;
		if (oldest == NULL) {
			log_warnx("Admin API: too many connections, refusing "
			          "one");
			(void)close(fd);
			return;
		}
		log_warnx("Admin API: too many connections, dropping the "
		          "oldest idle one");
		conn_close(d, oldest);
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		(void)close(fd);
		return;
	}
	c->d = d;
	c->fd = fd;
	c->internal = internal;
	c->uid = uid;
	c->since = now_ms();
	c->state = CONN_READING;
	buffer_init(&c->in, API_MAX_REQUEST);
	/* a reply, or the backlog of an event stream */
	buffer_init(&c->out, API_MAX_REPLY + 4096);
	if (loop_add(&d->loop, fd, POLLIN, conn_io, c) < 0) {
		free(c);
		(void)close(fd);
		return;
	}
	c->next = d->conns;
	d->conns = c;
	d->nconns++;
	if (internal)
		d->nconns_internal++;
}

static void
api_accept(void *arg, int fd, short revents)
{
	(void)revents;
	accept_conn(arg, fd, false);
}

static void
internal_accept(void *arg, int fd, short revents)
{
	(void)revents;
	accept_conn(arg, fd, true);
}

int
api_listen(struct daemon *d)
{
	int r;

	r = sock_listen(d->cfg.socket, 0660, true, NULL);
	if (r < 0)
		return r;
	d->api_fd = r;
	{
		struct group *g = getgrnam("bulkhead");

		if (g && chown(d->cfg.socket, 0, g->gr_gid) < 0)
			log_warn("chown %s", d->cfg.socket);
	}
	r = sock_listen(d->cfg.internal_socket, 0660, true, NULL);
	if (r < 0)
		return r;
	d->internal_fd = r;
	/* the policy daemon's user reaches it through its group */
	if (d->cfg.policy_user[0] != '\0' &&
	    chown(d->cfg.internal_socket, 0, d->cfg.policy_gid) < 0)
		log_warn("chown %s", d->cfg.internal_socket);
	if (loop_add(&d->loop, d->api_fd, POLLIN, api_accept, d) < 0 ||
	    loop_add(&d->loop, d->internal_fd, POLLIN, internal_accept, d) < 0)
		return -ENOMEM;
	return 0;
}

void
api_close_all(struct daemon *d)
{
	while (d->conns)
		conn_close(d, d->conns);
	(void)unlink(d->cfg.socket);
	(void)unlink(d->cfg.internal_socket);
	close_fd(&d->api_fd);
	close_fd(&d->internal_fd);
	api_policy_cache_free(d->apc);
	d->apc = NULL;
}
