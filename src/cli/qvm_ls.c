/*
 * qvm_ls.c - qvm-ls: list qubes with chosen columns, as Qubes' tool: the
 * same formats, columns, filters, sorting, network tree and raw output,
 * plus --format json (a JSON array of objects, one a qube).
 *
 * It asks the daemon only for what the columns and filters need:
 * admin.vm.List always (name, class, state), property.GetAll for property
 * columns (all qubes at once, ADMIN_PARALLEL_MAX connections), and
 * CurrentState, volume.List/Info, tag.List or feature.Get only for the
 * columns or filters that use them.
 *
 * Runs as the administrator.  Untrusted input: the daemon's replies,
 * parsed by admin_client.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cli/cli.h"

enum {
	OPT_RAW_DATA = CLI_OPT_FIRST_TOOL,
	OPT_RAW_LIST,
	OPT_HELP_FORMATS,
	OPT_HELP_COLUMNS,
	OPT_CLASS,
	OPT_LABEL,
	OPT_TAGS,
	OPT_EXCLUDE_TAGS,
	OPT_RUNNING,
	OPT_PAUSED,
	OPT_HALTED,
	OPT_TEMPLATE_SOURCE,
	OPT_NETVM_IS,
	OPT_INTERNAL,
	OPT_SERVICEVM,
	OPT_PENDING_UPDATE,
	OPT_FEATURES,
	OPT_PREFS,
	OPT_SORT,
	OPT_REVERSE,
	OPT_IGNORE_CASE,
	OPT_SPINNER,
	OPT_NO_SPINNER,
};

/* ---- columns ---- */

enum col_kind {
	COL_NAME,
	COL_STATE,
	COL_CLASS,
	COL_GATEWAY,
	COL_MEMORY,
	COL_DISK,
	COL_PRIV_CURR,
	COL_PRIV_MAX,
	COL_PRIV_POOL,
	COL_PRIV_USED,
	COL_ROOT_CURR,
	COL_ROOT_MAX,
	COL_ROOT_POOL,
	COL_ROOT_USED,
	COL_FLAGS,
	COL_PROP, /* any property of the qube */
	COL_MAX
};

/* The columns that are not plain properties (qvm_ls.py's Column()s). */
static const struct {
	const char *head;
	enum col_kind kind;
	const char *doc;
} builtin_cols[] = {
    {"CLASS", COL_CLASS, "Class of the qube."},
    {"DISK", COL_DISK, "Total disk utilisation."},
    {"FLAGS", COL_FLAGS,
        "Various flags: type, power state, updateable, provides_network, "
        "installed_by_rpm, internal, debug, autostart."},
    {"GATEWAY", COL_GATEWAY, "Network gateway."},
    {"MEMORY", COL_MEMORY, "Memory currently used by VM"},
    {"PRIV-CURR", COL_PRIV_CURR,
        "Disk utilisation by private image (/home, /usr/local)."},
    {"PRIV-MAX", COL_PRIV_MAX, "Maximum available space for private image."},
    {"PRIV-POOL", COL_PRIV_POOL, "Storage pool of private volume."},
    {"PRIV-USED", COL_PRIV_USED,
        "Disk utilisation by private image as a percentage of available "
        "space."},
    {"ROOT-CURR", COL_ROOT_CURR,
        "Disk utilisation by root image (/usr, /lib, /etc, ...)."},
    {"ROOT-MAX", COL_ROOT_MAX, "Maximum available space for root image."},
    {"ROOT-POOL", COL_ROOT_POOL, "Storage pool of root volume."},
    {"ROOT-USED", COL_ROOT_USED,
        "Disk utilisation by root image as a percentage of available "
        "space."},
    {"STATE", COL_STATE, "Current power state."},
};

/* Sorted numerically with --sort (qvm_ls.py's SORT_NUMERIC). */
static const char *const numeric_cols[] = {"MEMORY", "DISK", "PRIV-CURR",
    "PRIV-MAX", "ROOT-CURR", "XID", "ROOT-MAX", "MAXMEM", "QREXEC-TIMEOUT",
    "SHUTDOWN-TIMEOUT", "VCPUS", "PRIV-USED", "ROOT-USED", NULL};

/* The preset formats, and ours, json. */
static const struct {
	const char *name;
	const char *fields;
} formats[] = {
    {"disk",
        "name,state,disk,priv-curr,priv-max,priv-used,root-curr,root-max,"
        "root-used"},
    {"full", "name,state,class,label,qid,xid,uuid"},
    {"kernel", "name,state,class,template,kernel,kernelopts"},
    {"network", "name,state,netvm,ip,ipback,gateway"},
    {"prefs", "name,label,template,netvm,vcpus,initialmem,maxmem,virt_mode"},
    {"simple", "name,state,class,label,template,netvm"},
};

struct column {
	enum col_kind kind;
	char *head; /* as printed: "NETVM", "PRIV-CURR" */
	char *prop; /* COL_PROP: the property, "netvm" */
	char *key;  /* the JSON key: "netvm", "priv_curr" */
	bool numeric;
};

/* ---- what is known of each qube ---- */

struct volume {
	char *name;
	char *pool;
	unsigned long long size;
	unsigned long long usage;
};

struct lsvm {
	const struct admin_vm *vm;
	bool gone; /* vanished while we listed (QubesVMNotFoundError) */
	bool props_tried;
	struct admin_prop_list props;
	bool mem_tried;
	long long mem; /* KiB, -1 unknown */
	bool vols_tried;
	bool vols_ok;
	struct volume *vols;
	size_t nvols;
	bool tags_tried;
	struct admin_strv tags;
};

struct ls {
	struct admin_vm_list list;
	struct lsvm *v; /* parallel to list.vm */
};

static struct lsvm *
ls_find(struct ls *ls, const char *name)
{
	size_t i;

	for (i = 0; i < ls->list.n; i++)
		if (strcmp(ls->list.vm[i].name, name) == 0)
			return &ls->v[i];
	return NULL;
}

/* GetAll for every qube of vms that has not been asked yet, in parallel. */
static void
load_props(struct lsvm **vms, size_t n)
{
	struct admin_call *calls = cli_calloc(n, sizeof(*calls));
	struct lsvm **who = cli_calloc(n, sizeof(struct lsvm *));
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		if (vms[i]->props_tried)
			continue;
		vms[i]->props_tried = true;
		who[m] = vms[i];
		calls[m].dest = vms[i]->vm->name;
		calls[m].method = "admin.vm.property.GetAll";
		m++;
	}
	if (m > 0 && admin_call_many(admin_socket_path(), calls, m) < 0)
		for (i = 0; i < m; i++)
			calls[i].error = -EINVAL;
	for (i = 0; i < m; i++) {
		struct admin_call *c = &calls[i];

		if (c->error == 0 && c->reply.ok) {
			if (admin_parse_property_all(c->reply.data,
			        c->reply.len, &who[i]->props) < 0)
				cli_print_call_error(c->method, -EBADMSG);
		} else if (c->error == 0 &&
		    admin_exc_is(c->reply.exc, ADMIN_EXC_VM_NOT_FOUND)) {
			who[i]->gone = true;
		} else if ((c->error == 0 &&
		               c->reply.exc == ADMIN_EXC_PROTOCOL) ||
		    c->error == -ENODATA) {
			/* no GetAll: one Get a property */
			(void)cli_fetch_props(
			    who[i]->vm->name, false, &who[i]->props);
		} else {
			cli_print_call_failure(who[i]->vm->name, c);
		}
	}
	cli_calls_free(calls, m);
	free(who);
}

static const struct admin_prop *
get_prop(struct lsvm *v, const char *name)
{
	if (!v->props_tried)
		load_props(&v, 1);
	return admin_prop_list_find(&v->props, name);
}

/* A property's text (Python str()), or NULL for none, unset or missing. */
static const char *
prop_text(struct lsvm *v, const char *name, char *buf, size_t len)
{
	const struct admin_prop *p = get_prop(v, name);

	return p != NULL ? cli_prop_text(p, buf, len) : NULL;
}

static bool
prop_true(struct lsvm *v, const char *name)
{
	const struct admin_prop *p = get_prop(v, name);

	return p != NULL && p->type == ADMIN_PROP_BOOL &&
	    strcmp(p->value, "True") == 0;
}

static long long
get_mem(struct lsvm *v)
{
	struct admin_reply r;
	char mem[32];

	if (v->mem_tried)
		return v->mem;
	v->mem_tried = true;
	v->mem = -1;
	if (admin_call(admin_socket_path(), v->vm->name,
	        "admin.vm.CurrentState", NULL, NULL, 0, &r) < 0)
		return -1;
	if (r.ok && admin_kv_get(r.data, r.len, "mem", mem, sizeof(mem)) == 1) {
		char *end;

		errno = 0;
		v->mem = strtoll(mem, &end, 10);
		if (errno != 0 || *end != '\0' || v->mem < 0)
			v->mem = -1;
	}
	admin_reply_free(&r);
	return v->mem;
}

static unsigned long long
kv_ull(const struct admin_reply *r, const char *key)
{
	char buf[32], *end;
	unsigned long long x;

	if (admin_kv_get(r->data, r->len, key, buf, sizeof(buf)) != 1)
		return 0;
	errno = 0;
	x = strtoull(buf, &end, 10);
	return errno != 0 || *end != '\0' || buf[0] == '-' ? 0 : x;
}

static void
load_volumes(struct lsvm *v)
{
	struct admin_reply r;
	struct admin_strv names = {NULL, 0};
	size_t i;

	if (v->vols_tried)
		return;
	v->vols_tried = true;
	if (admin_call(admin_socket_path(), v->vm->name, "admin.vm.volume.List",
	        NULL, NULL, 0, &r) < 0)
		return;
	if (!r.ok || admin_parse_lines(r.data, r.len, &names) < 0) {
		admin_reply_free(&r);
		return;
	}
	admin_reply_free(&r);
	v->vols = cli_calloc(names.n, sizeof(*v->vols));
	for (i = 0; i < names.n; i++) {
		struct volume *vol = &v->vols[v->nvols];
		char pool[256];

		if (admin_call(admin_socket_path(), v->vm->name,
		        "admin.vm.volume.Info", names.v[i], NULL, 0, &r) < 0)
			continue;
		if (r.ok) {
			vol->name = cli_strdup(names.v[i]);
			vol->size = kv_ull(&r, "size");
			vol->usage = kv_ull(&r, "usage");
			if (admin_kv_get(
			        r.data, r.len, "pool", pool, sizeof(pool)) == 1)
				vol->pool = cli_strdup(pool);
			v->nvols++;
		}
		admin_reply_free(&r);
	}
	v->vols_ok = true;
	admin_strv_free(&names);
}

static const struct volume *
get_volume(struct lsvm *v, const char *name)
{
	size_t i;

	load_volumes(v);
	for (i = 0; i < v->nvols; i++)
		if (strcmp(v->vols[i].name, name) == 0)
			return &v->vols[i];
	return NULL;
}

static const struct admin_strv *
get_tags(struct lsvm *v)
{
	struct admin_reply r;

	if (v->tags_tried)
		return &v->tags;
	v->tags_tried = true;
	if (admin_call(admin_socket_path(), v->vm->name, "admin.vm.tag.List",
	        NULL, NULL, 0, &r) < 0)
		return &v->tags;
	if (r.ok)
		(void)admin_parse_lines(r.data, r.len, &v->tags);
	admin_reply_free(&r);
	return &v->tags;
}

/* A feature's value (malloc'd), or NULL if it is not set. */
static char *
get_feature(struct lsvm *v, const char *name)
{
	struct admin_reply r;
	char *value = NULL;

	if (admin_call(admin_socket_path(), v->vm->name, "admin.vm.feature.Get",
	        name, NULL, 0, &r) < 0)
		return NULL;
	if (r.ok)
		value = cli_strdup(r.data);
	admin_reply_free(&r);
	return value;
}

static void
lsvm_free(struct lsvm *v)
{
	size_t i;

	admin_prop_list_free(&v->props);
	for (i = 0; i < v->nvols; i++) {
		free(v->vols[i].name);
		free(v->vols[i].pool);
	}
	free(v->vols);
	admin_strv_free(&v->tags);
}

/* ---- cells ---- */

/* A cell: NULL text prints as "-" (Qubes: "value or '-'"). */
struct cell {
	char *text;
	enum admin_prop_type type; /* for JSON: STR, INT or BOOL */
};

static char *
num_text(unsigned long long x)
{
	return cli_asprintf("%llu", x);
}

static char *
flags_text(struct lsvm *v)
{
	static const struct {
		const char *klass;
		char letter;
	} types[] = {
	    {"AdminVM", '0'},
	    {"TemplateVM", 't'},
	    {"AppVM", 'a'},
	    {"StandaloneVM", 's'},
	    {"DispVM", 'd'},
	};
	static const struct {
		const char *prop;
		char letter;
	} bools[] = {
	    {"updateable", 'U'},
	    {"provides_network", 'N'},
	    {"installed_by_rpm", 'R'},
	    {"internal", 'i'},
	    {"debug", 'D'},
	    {"autostart", 'A'},
	};
	/* the power state's letter: its first, in lower case */
	static const struct {
		const char *state;
		char letter;
	} states[] = {
	    {"Running", 'r'},
	    {"Transient", 't'},
	    {"Paused", 'p'},
	    {"Suspended", 's'},
	    {"Halting", 'h'},
	    {"Dying", 'd'},
	    {"Crashed", 'c'},
	};
	char f[9], buf[16];
	const char *vmode, *st = v->vm->state;
	size_t i;

	f[0] = '-';
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(v->vm->klass, types[i].klass) == 0)
			f[0] = types[i].letter;
	vmode = prop_text(v, "virt_mode", buf, sizeof(buf));
	if (f[0] != '0' && f[0] != '-' && vmode != NULL &&
	    strcmp(vmode, "hvm") == 0)
		f[0] = (char)(f[0] - 'a' + 'A');
	f[1] = '-';
	if (strcasecmp(st, "unknown") == 0)
		f[1] = '?';
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(st, states[i].state) == 0)
			f[1] = states[i].letter;
	for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		f[2 + i] = '-';
		if (prop_true(v, bools[i].prop))
			f[2 + i] = bools[i].letter;
	}
	f[8] = '\0';
	return cli_strdup(f);
}

/* "private" or "root" volume columns, as calc_size/usage/used. */
static struct cell
volume_cell(struct lsvm *v, const char *name, enum col_kind what)
{
	const struct volume *vol = get_volume(v, name);
	struct cell c = {NULL, ADMIN_PROP_INT};
	unsigned long long size = vol ? vol->size >> 20 : 0;
	unsigned long long usage = vol ? vol->usage >> 20 : 0;

	if (!v->vols_ok)
		return c;
	switch (what) {
	case COL_PRIV_CURR:
	case COL_ROOT_CURR:
		c.text = num_text(usage);
		break;
	case COL_PRIV_MAX:
	case COL_ROOT_MAX:
		c.text = num_text(size);
		break;
	case COL_PRIV_POOL:
	case COL_ROOT_POOL:
		c.type = ADMIN_PROP_STR;
		if (vol != NULL && vol->pool != NULL)
			c.text = cli_strdup(vol->pool);
		break;
	case COL_PRIV_USED:
	case COL_ROOT_USED:
		if (size == 0) {
			c.text = num_text(0);
		} else {
			c.type = ADMIN_PROP_STR;
			c.text = cli_asprintf("%llu%%", usage * 100 / size);
		}
		break;
	case COL_NAME:
	case COL_STATE:
	case COL_CLASS:
	case COL_GATEWAY:
	case COL_MEMORY:
	case COL_DISK:
	case COL_FLAGS:
	case COL_PROP:
	case COL_MAX:
	default:
		break;
	}
	return c;
}

static struct cell
make_cell(struct ls *ls, struct lsvm *v, const struct column *col)
{
	struct cell c = {NULL, ADMIN_PROP_STR};
	const struct admin_prop *p;
	const char *t;
	char buf[64];
	size_t i;

	switch (col->kind) {
	case COL_NAME:
		c.text = cli_strdup(v->vm->name);
		break;
	case COL_STATE:
		if (v->vm->state[0] != '\0')
			c.text = cli_strdup(v->vm->state);
		break;
	case COL_CLASS:
		c.text = cli_strdup(v->vm->klass);
		break;
	case COL_GATEWAY: {
		/* netvm.gateway: a property of the network qube */
		struct lsvm *n;

		t = prop_text(v, "netvm", buf, sizeof(buf));
		n = t != NULL ? ls_find(ls, t) : NULL;
		if (n != NULL &&
		    (t = prop_text(n, "gateway", buf, sizeof(buf))) &&
		    t[0] != '\0')
			c.text = cli_strdup(t);
		break;
	}
	case COL_MEMORY:
		c.type = ADMIN_PROP_INT;
		if (admin_state_is_running(v->vm->state) && get_mem(v) >= 0)
			c.text =
			    num_text((unsigned long long)get_mem(v) / 1024);
		break;
	case COL_DISK:
		c.type = ADMIN_PROP_INT;
		load_volumes(v);
		if (v->vols_ok) {
			unsigned long long sum = 0;

			for (i = 0; i < v->nvols; i++)
				sum += v->vols[i].usage;
			c.text = num_text(sum >> 20);
		}
		break;
	case COL_PRIV_CURR:
	case COL_PRIV_MAX:
	case COL_PRIV_POOL:
	case COL_PRIV_USED:
		return volume_cell(v, "private", col->kind);
	case COL_ROOT_CURR:
	case COL_ROOT_MAX:
	case COL_ROOT_POOL:
	case COL_ROOT_USED:
		return volume_cell(v, "root", col->kind);
	case COL_FLAGS:
		c.text = flags_text(v);
		break;
	case COL_PROP:
		p = get_prop(v, col->prop);
		if (p == NULL)
			break;
		t = cli_prop_text(p, buf, sizeof(buf));
		if (t != NULL && t[0] != '\0')
			c.text = cli_strdup(t);
		if (p->type == ADMIN_PROP_INT || p->type == ADMIN_PROP_BOOL)
			c.type = p->type;
		break;
	case COL_MAX:
	default:
		break;
	}
	return c;
}

/* ---- the table ---- */

struct row {
	struct lsvm *v;
	int depth; /* --tree */
	struct cell *cells;
};

static bool
in_strv(const struct admin_strv *sv, const char *s)
{
	return admin_strv_find(sv, s) >= 0;
}

static void
add_column(struct column **cols, size_t *n, const char *field)
{
	struct column c;
	char *upper = cli_strdup(field), *p;
	size_t i;

	memset(&c, 0, sizeof(c));
	for (p = upper; *p != '\0'; p++) {
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
		if (*p == '_')
			*p = '-';
	}
	c.kind = COL_PROP;
	for (i = 0; i < sizeof(builtin_cols) / sizeof(builtin_cols[0]); i++)
		if (strcmp(upper, builtin_cols[i].head) == 0)
			c.kind = builtin_cols[i].kind;
	if (strcmp(upper, "NAME") == 0)
		c.kind = COL_NAME;
	c.head = upper;
	/* any other column is a property: "DEFAULT-USER" is default_user */
	c.prop = cli_strdup(upper);
	c.key = cli_strdup(upper);
	for (p = c.prop; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		if (*p == '-')
			*p = '_';
	}
	memcpy(c.key, c.prop, strlen(c.prop) + 1);
	for (i = 0; numeric_cols[i] != NULL; i++)
		if (strcmp(upper, numeric_cols[i]) == 0)
			c.numeric = true;
	*cols = reallocarray(*cols, *n + 1, sizeof(**cols));
	if (*cols == NULL) {
		cli_errx("out of memory");
		exit(CLI_EXIT_FAIL);
	}
	(*cols)[(*n)++] = c;
}

static void
parse_fields(const char *fields, struct column **cols, size_t *n)
{
	char *copy = cli_strdup(fields), *save = NULL, *tok;

	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		while (tok[0] != '\0' && tok[strlen(tok) - 1] == ' ')
			tok[strlen(tok) - 1] = '\0';
		if (tok[0] != '\0')
			add_column(cols, n, tok);
	}
	free(copy);
	if (*n == 0)
		cli_usage_fail("--fields: no column given");
}

/* How rows are sorted (qsort_r's context). */
struct sort_ctx {
	const struct column *col;
	size_t idx;
	bool reverse;
	bool icase;
};

static long long
numeric_key(const char *s)
{
	char *end;
	long long x;
	size_t l;

	if (s == NULL)
		return 0;
	l = strlen(s);
	errno = 0;
	x = strtoll(s, &end, 10);
	/* int(field[:-1] if field.endswith('%') else field), else 0 */
	if (errno != 0 || end == s ||
	    !(*end == '\0' || (*end == '%' && end == s + l - 1)))
		return 0;
	return x;
}

struct sortrow {
	struct row *r;
	size_t pos;
};

static int
cmp_rows(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *sc = arg;
	const struct sortrow *x = a, *y = b;
	const char *s = x->r->cells[sc->idx].text;
	const char *t = y->r->cells[sc->idx].text;
	int c;

	if (s == NULL)
		s = "-";
	if (t == NULL)
		t = "-";
	if (sc->col->numeric) {
		long long p = numeric_key(s), q = numeric_key(t);

		c = p < q ? -1 : p > q;
	} else {
		c = sc->icase ? strcasecmp(s, t) : strcmp(s, t);
	}
	if (sc->reverse)
		c = -c;
	/* Python's sort is stable, reverse=True included */
	if (c == 0)
		c = x->pos < y->pos ? -1 : (x->pos > y->pos);
	return c;
}

static int
cmp_lsvm_name(const void *a, const void *b)
{
	return strcmp((*(struct lsvm *const *)a)->vm->name,
	    (*(struct lsvm *const *)b)->vm->name);
}

/* ---- --tree ---- */

/* The qube's netvm: 1 and its name, 0 None, -1 no such property (dom0). */
static int
netvm_of(struct lsvm *v, const char **ret)
{
	const struct admin_prop *p = get_prop(v, "netvm");

	if (p == NULL)
		return -1;
	if (p->value[0] == '\0')
		return 0;
	*ret = p->value;
	return 1;
}

static bool
selected(struct lsvm **doms, size_t n, const struct lsvm *v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (doms[i] == v)
			return true;
	return false;
}

/*
 * Append the clients of parent, depth first, as qvm_ls.py's
 * tree_append_child: every qube of the system in its order, those that
 * use parent as netvm, each network qube followed by its own clients.  An
 * explicit stack rather than recursion; every qube has one netvm, so from
 * a root each is reached once at most, and cap bounds the rows anyway.
 */
static void
tree_children(struct ls *ls, struct lsvm **doms, size_t ndoms,
    struct lsvm *root, struct row *rows, size_t *nrows, size_t cap)
{
	struct lsvm **parent =
	    cli_calloc(ls->list.n + 1, sizeof(struct lsvm *));
	size_t *next = cli_calloc(ls->list.n + 1, sizeof(*next));
	size_t depth = 1;

	parent[0] = root;
	while (depth > 0 && *nrows < cap) {
		size_t top = depth - 1, i = next[top];
		struct lsvm *child;
		const char *nv;

		if (i >= ls->list.n) {
			depth--;
			continue;
		}
		next[top]++;
		child = &ls->v[i];
		if (child == parent[top] || netvm_of(child, &nv) != 1 ||
		    strcmp(nv, parent[top]->vm->name) != 0 ||
		    !selected(doms, ndoms, child))
			continue;
		rows[*nrows].v = child;
		rows[(*nrows)++].depth = (int)depth;
		if (prop_true(child, "provides_network") &&
		    depth <= ls->list.n) {
			parent[depth] = child;
			next[depth] = 0;
			depth++;
		}
	}
	free(next);
	free(parent);
}

/* qvm_ls.py's sort_to_tree: roots, then each network provider's tree. */
static size_t
sort_to_tree(struct ls *ls, struct lsvm **doms, size_t n, struct row *rows)
{
	bool *placed = cli_calloc(n, sizeof(*placed));
	size_t i, nrows = 0;

	{
		/* children are found among all qubes: their netvms too */
		struct lsvm **all =
		    cli_calloc(ls->list.n, sizeof(struct lsvm *));

		for (i = 0; i < ls->list.n; i++)
			all[i] = &ls->v[i];
		load_props(all, ls->list.n);
		free(all);
	}
	for (i = 0; i < n; i++) {
		const char *nv;
		int r = netvm_of(doms[i], &nv);

		if (r < 0 ||
		    (r == 0 && !prop_true(doms[i], "provides_network"))) {
			rows[nrows].v = doms[i];
			rows[nrows++].depth = 0;
			placed[i] = true;
		}
	}
	for (i = 0; i < n; i++) {
		const char *nv;

		if (placed[i] || netvm_of(doms[i], &nv) != 0 ||
		    !prop_true(doms[i], "provides_network"))
			continue;
		rows[nrows].v = doms[i];
		rows[nrows++].depth = 0;
		tree_children(ls, doms, n, doms[i], rows, &nrows, n * 4);
	}
	free(placed);
	return nrows;
}

/* ---- help ---- */

static void
usage(FILE *f)
{
	size_t i;

	(void)fprintf(f,
	    "Usage: qvm-ls [options] [VMNAME...]\n"
	    "\n"
	    "List qubes and their properties: all of them, those named "
	    "(shell wildcard\n"
	    "patterns work; quote them), or those that pass the filters.  A "
	    "cell without\n"
	    "a value shows -.\n"
	    "\n"
	    "Formatting options:\n"
	    "  -o, --format FORMAT  a preset set of columns (see "
	    "--help-formats; default\n"
	    "                       simple), or json: the columns (of "
	    "--fields, or\n"
	    "                       simple) as a JSON array of objects, null "
	    "for no value\n"
	    "  -O, --fields FIELD,...\n"
	    "                       these columns (see --help-columns; any "
	    "property of the\n"
	    "                       qubes is one too)\n"
	    "  -t, --tree           sort as the network tree (network qubes "
	    "with their\n"
	    "                       clients under them)\n"
	    "      --raw-data       no header, no alignment: cells separated "
	    "by |, for\n"
	    "                       scripts\n"
	    "      --raw-list       same as --raw-data --fields name\n"
	    "  -d, --disk           same as --format disk\n"
	    "  -n, --network        same as --format network\n"
	    "  -k, --kernel         same as --format kernel\n"
	    "      --help-formats   list the formats and exit\n"
	    "      --help-columns   list the columns and exit\n"
	    "\n"
	    "Filtering options (the values of one option are alternatives):\n"
	    "      --class CLASS... only qubes of these classes\n"
	    "      --label LABEL... only qubes with these labels\n"
	    "      --tags TAG...    only qubes with one of these tags\n"
	    "      --exclude-tags TAG...\n"
	    "                       no qubes with one of these tags\n"
	    "      --running, --paused, --halted\n"
	    "                       only qubes in one of these states\n"
	    "      --template-source TEMPLATE...\n"
	    "                       only qubes based on these templates (\"\" "
	    "for none)\n"
	    "      --netvm-is NETVM...\n"
	    "                       only qubes that use these network qubes\n"
	    "      --internal y|n   only (or no) internal qubes\n"
	    "      --servicevm y|n  only (or no) service qubes\n"
	    "      --pending-update only qubes with updates available\n"
	    "      --features FEATURE=VALUE...\n"
	    "                       only qubes with these feature values "
	    "(FEATURE= for\n"
	    "                       unset, FEATURE='' for empty)\n"
	    "      --prefs PROPERTY=VALUE...\n"
	    "                       only qubes with these property values "
	    "(PROPERTY= for\n"
	    "                       none)\n"
	    "      --all            every qube (dom0 included), but "
	    "--exclude\n"
	    "      --exclude VMNAME with --all, leave this qube out (may be "
	    "repeated)\n"
	    "\n"
	    "Sorting options:\n"
	    "      --sort COLUMN    sort by this column (it must be shown) "
	    "rather than\n"
	    "                       NAME\n"
	    "      --reverse        reverse the order\n"
	    "      --ignore-case    ignore case when sorting\n"
	    "\n"
	    "Other options:\n"
	    "      --spinner, --no-spinner\n"
	    "                       accepted (qvm-ls shows no progress "
	    "spinner)\n" CLI_COMMON_HELP "\n"
	    "Exit status: 0 listed, 1 the daemon failed, 2 usage error (also an "
	    "unknown\n"
	    "qube).\n"
	    "\n" CLI_ENV_HELP "\n"
	    "Formats: json");
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		(void)fprintf(f, ", %s", formats[i].name);
	(void)fprintf(f, "\nColumns: NAME");
	for (i = 0; i < sizeof(builtin_cols) / sizeof(builtin_cols[0]); i++)
		(void)fprintf(f, ", %s", builtin_cols[i].head);
	(void)fprintf(f, ", and any property\n");
}

static void
help_formats(void)
{
	size_t i;
	char *p, *up;

	(void)printf("Available formats:\n");
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		up = cli_strdup(formats[i].fields);
		for (p = up; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		(void)printf("  %-7s  %s\n", formats[i].name, up);
		free(up);
	}
	(void)printf("  %-7s  %s\n\n", "json",
	    "the columns of --fields (or simple) as a JSON array of objects");
}

static void
help_columns(void)
{
	size_t i, width = 0;

	for (i = 0; i < sizeof(builtin_cols) / sizeof(builtin_cols[0]); i++)
		if (strlen(builtin_cols[i].head) > width)
			width = strlen(builtin_cols[i].head);
	(void)printf("Available columns:\n");
	for (i = 0; i < sizeof(builtin_cols) / sizeof(builtin_cols[0]); i++) {
		char *line = cli_asprintf("%-*s  %s", (int)width,
		    builtin_cols[i].head, builtin_cols[i].doc);

		cli_wrap(stdout, line, 80, 2, width + 6);
		free(line);
	}
	(void)printf(
	    "\nAdditionally any VM property may be used as a column, "
	    "see qvm-prefs --help-properties for available values\n\n");
}

/* Consume the values that follow an option of nargs '+' (argparse). */
static void
take_values(int argc, char **argv, struct admin_strv *sv)
{
	if (admin_strv_add(sv, optarg) < 0)
		cli_usage_fail("too many values");
	while (optind < argc && argv[optind][0] != '-') {
		if (admin_strv_add(sv, argv[optind]) < 0)
			cli_usage_fail("too many values");
		optind++;
	}
}

/* "y"/"yes" 1, "n"/"no" 0 (Qubes' choices), else a usage error. */
static int
yes_no(const char *opt, const char *s)
{
	if (strcmp(s, "y") == 0 || strcmp(s, "yes") == 0)
		return 1;
	if (strcmp(s, "n") == 0 || strcmp(s, "no") == 0)
		return 0;
	cli_usage_fail("%s: invalid choice (choose from y, yes, n, no)", opt);
}

static bool
feature_true(struct lsvm *v, const char *name)
{
	char *f = get_feature(v, name);
	bool yes = f != NULL &&
	    (strcmp(f, "1") == 0 || strcmp(f, "true") == 0 ||
	        strcmp(f, "True") == 0);

	free(f);
	return yes;
}

/* --features and --prefs: "KEY=VALUE"; KEY= is no value, KEY='' empty. */
static void
split_kv(const char *opt, const char *s, char **key, const char **value)
{
	const char *eq = strchr(s, '=');

	if (eq == NULL || eq == s)
		cli_usage_fail("invalid argument: %s %s", opt, s);
	*key = cli_asprintf("%.*s", (int)(eq - s), s);
	*value = eq + 1;
	if ((*value)[0] == '\0')
		*value = NULL;
	else if (strcmp(*value, "''") == 0 || strcmp(*value, "\"\"") == 0)
		*value = "";
}

struct filters {
	struct admin_strv klass, label, tags, exclude_tags, template_source,
	    netvm_is, features, prefs;
	int internal, servicevm; /* -1 both */
	bool pending_update, running, paused, halted;
};

static bool
passes(struct lsvm *v, const struct filters *fl)
{
	char buf[64];
	const char *t;
	size_t i;

	if (fl->klass.n > 0 && !in_strv(&fl->klass, v->vm->klass))
		return false;
	if (fl->label.n > 0 &&
	    ((t = prop_text(v, "label", buf, sizeof(buf))) == NULL ||
	        !in_strv(&fl->label, t)))
		return false;
	if (fl->tags.n > 0 || fl->exclude_tags.n > 0) {
		const struct admin_strv *tags = get_tags(v);
		bool any = false, excl = false;

		for (i = 0; i < tags->n; i++) {
			any = any || in_strv(&fl->tags, tags->v[i]);
			excl = excl || in_strv(&fl->exclude_tags, tags->v[i]);
		}
		if ((fl->tags.n > 0 && !any) || excl)
			return false;
	}
	if (fl->template_source.n > 0) {
		const struct admin_prop *p = get_prop(v, "template");

		/* getattr(dom, 'template', ''): no template is "" */
		if (!in_strv(&fl->template_source, p != NULL ? p->value : ""))
			return false;
	}
	if (fl->netvm_is.n > 0) {
		const struct admin_prop *p = get_prop(v, "netvm");

		/* None (an empty value) matches nothing */
		if (p != NULL && p->value[0] == '\0')
			return false;
		if (!in_strv(&fl->netvm_is, p != NULL ? p->value : ""))
			return false;
	}
	if (fl->internal >= 0 && feature_true(v, "internal") != fl->internal)
		return false;
	if (fl->servicevm >= 0 && feature_true(v, "servicevm") != fl->servicevm)
		return false;
	if (fl->pending_update) {
		char *f = get_feature(v, "updates-available");
		bool yes = f != NULL && f[0] != '\0';

		free(f);
		if (!yes)
			return false;
	}
	for (i = 0; i < fl->features.n; i++) {
		const char *want;
		char *key, *have;
		bool ok;

		split_kv("--features", fl->features.v[i], &key, &want);
		have = get_feature(v, key);
		ok = (want == NULL && have == NULL) ||
		    (want != NULL && have != NULL && strcmp(want, have) == 0);
		free(key);
		free(have);
		if (!ok)
			return false;
	}
	for (i = 0; i < fl->prefs.n; i++) {
		const struct admin_prop *p;
		const char *want, *have = NULL;
		char *key;
		bool ok;

		split_kv("--prefs", fl->prefs.v[i], &key, &want);
		p = get_prop(v, key);
		if (p != NULL)
			have = cli_prop_text(p, buf, sizeof(buf));
		free(key);
		ok = (want == NULL && have == NULL) ||
		    (want != NULL && have != NULL && strcmp(want, have) == 0) ||
		    (want != NULL && have == NULL && strcmp(want, "None") == 0);
		if (!ok)
			return false;
	}
	if (fl->running || fl->paused || fl->halted) {
		const char *st = v->vm->state;

		if (!((fl->running && strcmp(st, "Running") == 0) ||
		        (fl->paused && strcmp(st, "Paused") == 0) ||
		        (fl->halted && strcmp(st, "Halted") == 0)))
			return false;
	}
	return true;
}

static bool
needs_props(
    const struct column *cols, size_t n, const struct filters *fl, bool tree)
{
	size_t i;

	if (tree || fl->label.n > 0 || fl->template_source.n > 0 ||
	    fl->netvm_is.n > 0 || fl->prefs.n > 0)
		return true;
	for (i = 0; i < n; i++)
		if (cols[i].kind == COL_PROP || cols[i].kind == COL_GATEWAY ||
		    cols[i].kind == COL_FLAGS)
			return true;
	return false;
}

static json_t *
cell_json(const struct cell *c)
{
	if (c->text == NULL)
		return json_null();
	if (c->type == ADMIN_PROP_BOOL)
		return json_boolean(strcmp(c->text, "True") == 0);
	if (c->type == ADMIN_PROP_INT) {
		char *end;
		long long x;

		errno = 0;
		x = strtoll(c->text, &end, 10);
		if (errno == 0 && *end == '\0')
			return json_integer(x);
	}
	return json_string(c->text);
}

static int
print_json(
    const struct row *rows, size_t n, const struct column *cols, size_t ncols)
{
	json_t *arr = json_array();
	char *s;
	size_t i, j;

	if (arr == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		json_t *obj = json_object();

		if (obj == NULL)
			break;
		for (j = 0; j < ncols; j++)
			(void)json_object_set_new(
			    obj, cols[j].key, cell_json(&rows[i].cells[j]));
		(void)json_array_append_new(arr, obj);
	}
	s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(arr);
	if (s == NULL)
		return -1;
	(void)printf("%s\n", s);
	free(s);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"format", required_argument, NULL, 'o'},
	    {"fields", required_argument, NULL, 'O'},
	    {"tree", no_argument, NULL, 't'},
	    {"raw-data", no_argument, NULL, OPT_RAW_DATA},
	    {"raw-list", no_argument, NULL, OPT_RAW_LIST},
	    {"disk", no_argument, NULL, 'd'},
	    {"network", no_argument, NULL, 'n'},
	    {"kernel", no_argument, NULL, 'k'},
	    {"help-formats", no_argument, NULL, OPT_HELP_FORMATS},
	    {"help-columns", no_argument, NULL, OPT_HELP_COLUMNS},
	    {"class", required_argument, NULL, OPT_CLASS},
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"tags", required_argument, NULL, OPT_TAGS},
	    {"exclude-tags", required_argument, NULL, OPT_EXCLUDE_TAGS},
	    {"running", no_argument, NULL, OPT_RUNNING},
	    {"paused", no_argument, NULL, OPT_PAUSED},
	    {"halted", no_argument, NULL, OPT_HALTED},
	    {"template-source", required_argument, NULL, OPT_TEMPLATE_SOURCE},
	    {"netvm-is", required_argument, NULL, OPT_NETVM_IS},
	    {"internal", required_argument, NULL, OPT_INTERNAL},
	    {"servicevm", required_argument, NULL, OPT_SERVICEVM},
	    {"pending-update", no_argument, NULL, OPT_PENDING_UPDATE},
	    {"features", required_argument, NULL, OPT_FEATURES},
	    {"prefs", required_argument, NULL, OPT_PREFS},
	    {"sort", required_argument, NULL, OPT_SORT},
	    {"reverse", no_argument, NULL, OPT_REVERSE},
	    {"ignore-case", no_argument, NULL, OPT_IGNORE_CASE},
	    {"spinner", no_argument, NULL, OPT_SPINNER},
	    {"no-spinner", no_argument, NULL, OPT_NO_SPINNER},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts =
	    cli_longopts(tool_opts, CLI_OPTS_SELECT);
	struct cli_common co = {0, 0};
	struct filters fl;
	struct sort_ctx sc = {NULL, 0, false, false};
	struct cli_select_opts so = {false, {NULL, 0}};
	struct admin_strv names = {NULL, 0};
	struct ls ls;
	struct cli_selection sel = {NULL, 0};
	struct column *cols = NULL;
	struct row *rows = NULL;
	struct lsvm **doms;
	const char *format = NULL, *fields = NULL, *sort = "NAME";
	bool raw = false, tree = false, json = false;
	int nexcl = 0, c, rc = CLI_EXIT_OK;
	size_t ncols = 0, ndoms = 0, nrows = 0, i, j;
	char *sort_upper, *p;

	memset(&fl, 0, sizeof(fl));
	fl.internal = fl.servicevm = -1;
	memset(&ls, 0, sizeof(ls));
	cli_init(argv[0]);
	/*
	 * "+" and a loop: options and names may mix, and an option of
	 * argparse's nargs '+' takes the words after it (take_values).
	 */
	while (optind < argc) {
		c = getopt_long(argc, argv, "+o:O:tdnk" CLI_COMMON_SHORTOPTS,
		    longopts, NULL);
		if (c == -1) {
			if (strcmp(argv[optind - 1], "--") == 0) {
				while (optind < argc)
					(void)admin_strv_add(
					    &names, argv[optind++]);
				break;
			}
			if (optind < argc &&
			    admin_strv_add(&names, argv[optind++]) < 0)
				cli_usage_fail("too many names");
			continue;
		}
		switch (c) {
		case 'o':
			/* json is ours, and goes with --fields */
			if (strcmp(optarg, "json") == 0) {
				json = true;
				break;
			}
			format = optarg;
			nexcl++;
			break;
		case 'O':
			fields = optarg;
			nexcl++;
			break;
		case 't':
			tree = true;
			break;
		case OPT_RAW_DATA:
			raw = true;
			break;
		case OPT_RAW_LIST:
			raw = true;
			fields = "name";
			break;
		case 'd':
			format = "disk";
			nexcl++;
			break;
		case 'n':
			format = "network";
			nexcl++;
			break;
		case 'k':
			format = "kernel";
			nexcl++;
			break;
		case OPT_HELP_FORMATS:
			help_formats();
			return CLI_EXIT_OK;
		case OPT_HELP_COLUMNS:
			help_columns();
			return CLI_EXIT_OK;
		case OPT_CLASS:
			take_values(argc, argv, &fl.klass);
			break;
		case OPT_LABEL:
			take_values(argc, argv, &fl.label);
			break;
		case OPT_TAGS:
			take_values(argc, argv, &fl.tags);
			break;
		case OPT_EXCLUDE_TAGS:
			take_values(argc, argv, &fl.exclude_tags);
			break;
		case OPT_RUNNING:
			fl.running = true;
			break;
		case OPT_PAUSED:
			fl.paused = true;
			break;
		case OPT_HALTED:
			fl.halted = true;
			break;
		case OPT_TEMPLATE_SOURCE:
			take_values(argc, argv, &fl.template_source);
			break;
		case OPT_NETVM_IS:
			take_values(argc, argv, &fl.netvm_is);
			break;
		case OPT_INTERNAL:
			fl.internal = yes_no("--internal", optarg);
			break;
		case OPT_SERVICEVM:
			fl.servicevm = yes_no("--servicevm", optarg);
			break;
		case OPT_PENDING_UPDATE:
			fl.pending_update = true;
			break;
		case OPT_FEATURES:
			take_values(argc, argv, &fl.features);
			break;
		case OPT_PREFS:
			take_values(argc, argv, &fl.prefs);
			break;
		case OPT_SORT:
			sort = optarg;
			break;
		case OPT_REVERSE:
			sc.reverse = true;
			break;
		case OPT_IGNORE_CASE:
			sc.icase = true;
			break;
		case OPT_SPINNER:
		case OPT_NO_SPINNER:
			break;
		default:
			cli_select_opt(c, &so, &co, usage);
			break;
		}
	}
	if (nexcl > 1)
		cli_usage_fail("--format, --fields, --disk, --network and "
		               "--kernel exclude each other");
	/* the values are checked now, before any call */
	for (i = 0; i < fl.features.n; i++) {
		const char *v;
		char *k;

		split_kv("--features", fl.features.v[i], &k, &v);
		free(k);
	}
	for (i = 0; i < fl.prefs.n; i++) {
		const char *v;
		char *k;

		split_kv("--prefs", fl.prefs.v[i], &k, &v);
		free(k);
	}
	if (fields == NULL) {
		const char *name = format != NULL ? format : "simple";

		for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
			if (strcmp(formats[i].name, name) == 0)
				fields = formats[i].fields;
		if (fields == NULL)
			cli_usage_fail("--format: invalid choice: %s (see "
			               "--help-formats)",
			    name);
	}
	parse_fields(fields, &cols, &ncols);

	if (cli_list_qubes(&ls.list) < 0)
		return CLI_EXIT_FAIL;
	ls.v = cli_calloc(ls.list.n, sizeof(*ls.v));
	for (i = 0; i < ls.list.n; i++)
		ls.v[i].vm = &ls.list.vm[i];
	if (cli_select(&ls.list, names.v, names.n, so.all, &so.exclude, true,
	        &sel) < 0)
		return CLI_EXIT_FAIL;
	doms = cli_calloc(ls.list.n + 1, sizeof(struct lsvm *));
	if (names.n == 0 && !so.all) {
		for (i = 0; i < ls.list.n; i++)
			doms[ndoms++] = &ls.v[i];
	} else {
		for (i = 0; i < sel.n; i++)
			doms[ndoms++] = &ls.v[sel.vm[i] - ls.list.vm];
	}
	/* one GetAll each, all at once, when anything needs properties */
	if (needs_props(cols, ncols, &fl, tree))
		load_props(doms, ndoms);
	for (i = j = 0; i < ndoms; i++)
		if (!doms[i]->gone && passes(doms[i], &fl))
			doms[j++] = doms[i];
	ndoms = j;
	qsort(doms, ndoms, sizeof(struct lsvm *), cmp_lsvm_name);

	rows = cli_calloc(ndoms * 4 + 1, sizeof(*rows));
	if (tree && !raw) {
		nrows = sort_to_tree(&ls, doms, ndoms, rows);
	} else {
		for (i = 0; i < ndoms; i++)
			rows[nrows++].v = doms[i];
	}
	for (i = 0; i < nrows; i++) {
		rows[i].cells = cli_calloc(ncols, sizeof(*rows[i].cells));
		for (j = 0; j < ncols; j++)
			rows[i].cells[j] = make_cell(&ls, rows[i].v, &cols[j]);
		if (tree && !raw && rows[i].depth > 0) {
			for (j = 0; j < ncols; j++) {
				char *t;

				if (cols[j].kind != COL_NAME)
					continue;
				/* '  ' * (depth - 1) + '└─' + name */
				t = cli_asprintf(
				    "%*s\xe2\x94\x94\xe2\x94\x80%s",
				    2 * (rows[i].depth - 1), "",
				    rows[i].cells[j].text ?
				        rows[i].cells[j].text :
				        "-");
				free(rows[i].cells[j].text);
				rows[i].cells[j].text = t;
			}
		}
	}
	/* --sort, when its column is shown (not in raw output or a tree) */
	sort_upper = cli_strdup(sort);
	for (p = sort_upper; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	for (j = 0; j < ncols && !raw && !tree; j++) {
		struct sortrow *sr;
		struct row *sorted;

		if (strcmp(cols[j].head, sort_upper) != 0)
			continue;
		sc.col = &cols[j];
		sc.idx = j;
		sr = cli_calloc(nrows, sizeof(*sr));
		sorted = cli_calloc(nrows + 1, sizeof(*sorted));
		for (i = 0; i < nrows; i++) {
			sr[i].r = &rows[i];
			sr[i].pos = i;
		}
		qsort_r(sr, nrows, sizeof(*sr), cmp_rows, &sc);
		for (i = 0; i < nrows; i++)
			sorted[i] = *sr[i].r;
		memcpy(rows, sorted, nrows * sizeof(*rows));
		free(sorted);
		free(sr);
		break;
	}
	free(sort_upper);

	if (json) {
		if (print_json(rows, nrows, cols, ncols) < 0) {
			cli_errx("JSON output failed");
			rc = CLI_EXIT_FAIL;
		}
	} else if (raw) {
		for (i = 0; i < nrows; i++)
			for (j = 0; j < ncols; j++)
				(void)printf("%s%s",
				    rows[i].cells[j].text ?
				        rows[i].cells[j].text :
				        "-",
				    j + 1 < ncols ? "|" : "\n");
	} else {
		char **cells = cli_calloc((nrows + 1) * ncols, sizeof(*cells));

		for (j = 0; j < ncols; j++)
			cells[j] = cols[j].head;
		for (i = 0; i < nrows; i++)
			for (j = 0; j < ncols; j++)
				cells[(i + 1) * ncols + j] =
				    rows[i].cells[j].text ?
				    rows[i].cells[j].text :
				    "-";
		cli_print_table(stdout, cells, nrows + 1, ncols);
		free(cells);
	}
	if (fflush(stdout) != 0) {
		cli_errx("standard output: %s", strerror(errno));
		rc = CLI_EXIT_FAIL;
	}

	for (i = 0; i < nrows; i++) {
		for (j = 0; j < ncols; j++)
			free(rows[i].cells[j].text);
		free(rows[i].cells);
	}
	free(rows);
	for (j = 0; j < ncols; j++) {
		free(cols[j].head);
		free(cols[j].prop);
		free(cols[j].key);
	}
	free(cols);
	free(doms);
	for (i = 0; i < ls.list.n; i++)
		lsvm_free(&ls.v[i]);
	free(ls.v);
	cli_selection_free(&sel);
	admin_vm_list_free(&ls.list);
	admin_strv_free(&names);
	admin_strv_free(&so.exclude);
	admin_strv_free(&fl.klass);
	admin_strv_free(&fl.label);
	admin_strv_free(&fl.tags);
	admin_strv_free(&fl.exclude_tags);
	admin_strv_free(&fl.template_source);
	admin_strv_free(&fl.netvm_is);
	admin_strv_free(&fl.features);
	admin_strv_free(&fl.prefs);
	return rc;
}
