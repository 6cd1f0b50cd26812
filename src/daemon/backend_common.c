/*
 * backend_common.c - what the backends (backend_sandbox.c, backend_vm.c)
 * share: reading a qube's properties and building a launcher's command
 * line.  Runs in bulkheadd's main process (root); no qube input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/bulkheadd.h"
#include "lib/util.h"

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
