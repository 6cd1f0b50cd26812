/*
 * backend_common.c - what the backends (backend_sandbox.c, backend_vm.c)
 * share: reading a qube's properties, building a launcher's command
 * line, and the signals that tell a launcher to stop, kill, pause or
 * resume its qube.  Runs in bulkheadd's main process (root); no qube input.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/bulkheadd.h"
#include "lib/cgroup.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"

int
backend_prop(struct daemon *d, const struct db_qube *q, const char *name,
    char *out, size_t n)
{
	const struct prop_def *p = prop_find(qube_class_of(q), name);
	char *v = NULL;
	bool def;
	int r;

	if (p == NULL || prop_get(&d->model, q, p, &v, &def) <= 0)
		return -ENOENT;
	r = str_copy(out, n, v);
	free(v);
	return r;
}

bool
backend_feature_on(struct daemon *d, const struct db_qube *q, const char *name)
{
	char *v = NULL;
	bool on;

	if (db_kv_get(&d->db, DB_FEATURES, q->qid, name, &v) <= 0)
		return false;
	on = v[0] != '\0' && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0;
	free(v);
	return on;
}

int
argv_push(struct argv *v, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (v->n + 2 >= ARRAY_SIZE(v->a))
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(v->buf + v->used, sizeof(v->buf) - v->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(v->buf) - v->used)
		return -E2BIG;
	v->a[v->n++] = v->buf + v->used;
	v->a[v->n] = NULL;
	v->used += (size_t)n + 1;
	return 0;
}

/* Signal the backend's main process (a launcher).  0 or -errno. */
static int
sig(struct running *r, int s)
{
	if (r->init_pid <= 1 || kill(r->init_pid, s) < 0)
		return -errno;
	return 0;
}

int
backend_sig_shutdown(struct daemon *d, struct running *r)
{
	(void)d;
	return sig(r, SIGTERM);
}

int
backend_sig_kill(struct daemon *d, struct running *r)
{
	(void)d;
	return sig(r, SIGINT);
}

int
backend_sig_freeze(struct daemon *d, struct running *r)
{
	(void)d;
	return sig(r, SANDBOX_SIG_FREEZE);
}

int
backend_sig_thaw(struct daemon *d, struct running *r)
{
	(void)d;
	return sig(r, SANDBOX_SIG_THAW);
}

int
backend_qube_path(
    struct daemon *d, char *out, size_t n, const char *name, const char *leaf)
{
	return str_printf(
	    out, n, "%s/qubes/%s/%s", d->cfg.state_dir, name, leaf);
}

void
backend_cleanup(struct daemon *d, struct running *r)
{
	char p[PATH_MAX], trash[PATH_MAX], cg[MODEL_MAX_NAME + 16];

	/*
	 * Aside at once (the next start makes a fresh one), rm later; a
	 * disposable's goes with its whole directory (remove_disposable).
	 */
	if (!r->auto_cleanup &&
	    backend_qube_path(d, p, sizeof(p), r->name, "volatile") == 0 &&
	    str_printf(trash, sizeof(trash), "%s/qubes", d->cfg.state_dir) == 0)
		(void)fs_remove_tree_aside(p, trash, "volatile");
	/* the launcher removes its cgroups; not if it was SIGKILLed */
	if (r->init_pid > 0 &&
	    cgroup_qube_name(cg, sizeof(cg), r->name, (int)r->init_pid) == 0)
		backend_remove_cgroups(cg);
}
