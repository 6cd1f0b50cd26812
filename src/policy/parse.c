/*
 * parse.c - the policy parser and loader: Qubes 4.1+ policy.d files,
 * their directives (!include, !include-dir, !include-service, !compat-4.0)
 * and the legacy 4.0 format, into a flat list of rules.
 *
 * Runs in qrexec-policy-daemon (its unprivileged user), qrexec-policy-eval,
 * qubes-policy-lint and qubes-policy (the caller's uid).  Policy files are
 * the administrator's configuration: trusted in intent, but parsed with
 * limits on every size, and any error anywhere rejects the whole policy so
 * that the caller denies everything, as Qubes does.  No qube byte reaches
 * this file.
 *
 * Faithful to qrexec/policy/parser.py: lines are split on Python's
 * whitespace (str.split()), "\r\n" and "\r" end lines as in Python's text
 * mode, the checks of a rule happen in Qubes' order so the first error of a
 * line is the one Qubes reports.  Stricter than Qubes: NUL bytes and
 * invalid UTF-8 are errors (Python raised an unhandled exception there),
 * include loops are errors (Python recursed until it crashed).
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/internal.h"

#define MAX_FIELDS 32u /* a rule has at most 10 valid fields */

struct field {
	char *s; /* NUL-terminated inside the scratch line */
	size_t len;
	unsigned col;
};

enum file_format {
	FMT_POLICY,  /* SERVICE ARG SOURCE TARGET ACTION [PARAMS] */
	FMT_SERVICE, /* SOURCE TARGET ACTION[,PARAMS] (4.0, include-service) */
};

struct loader {
	struct policy *p;
	const struct policy_load_opts *o;
	const char *policy_path; /* directory of the top-level file */
	bool in_compat;          /* resolve includes in the legacy dir */
	unsigned depth;
	const char *stack[POLICY_MAX_INCLUDE_DEPTH + 1];
	unsigned nerr;
	struct policy_error first;
	bool fatal; /* out of memory or over a global limit: stop */
	char *scratch;
	size_t scratch_cap;
};

static const char *const pos_name[POLICY_POS_MAX] = {
    [POLICY_POS_SOURCE] = "source",
    [POLICY_POS_TARGET] = "target",
    [POLICY_POS_REDIRECT] = "redirect",
    [POLICY_POS_INTENDED] = "intendedtarget",
};

static int lerr(struct loader *L, const char *file, unsigned line, unsigned col,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
lerr(struct loader *L, const char *file, unsigned line, unsigned col,
    const char *fmt, ...)
{
	struct policy_error e;
	va_list ap;

	memset(&e, 0, sizeof(e));
	policy_fmt(e.file, sizeof(e.file), "%s", file ? file : "<unknown>");
	e.line = line;
	e.col = col;
	va_start(ap, fmt);
	policy_vfmt(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	if (L->nerr == 0)
		L->first = e;
	L->nerr++;
	if (L->o->keep_going && L->o->on_error != NULL)
		L->o->on_error(L->o->on_error_ctx, &e);
	return -EINVAL;
}

/* Should the loader stop after this result? */
static bool
must_stop(const struct loader *L, int r)
{
	if (r >= 0)
		return false;
	return r != -EINVAL || L->fatal || !L->o->keep_going;
}

static int
add_source(struct loader *L, const char *path)
{
	struct policy *p = L->p;
	size_t i;

	for (i = 0; i < p->nsources; i++)
		if (strcmp(p->sources[i], path) == 0)
			return 0;
	if (p->nsources == p->srccap) {
		size_t cap = p->srccap ? p->srccap * 2 : 16;
		char **n = reallocarray(p->sources, cap, sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		p->sources = n;
		p->srccap = cap;
	}
	p->sources[p->nsources] = strdup(path);
	if (p->sources[p->nsources] == NULL)
		return -ENOMEM;
	p->nsources++;
	return 0;
}

/* ---- tokens ---- */

struct tok_exact {
	const char *text;
	enum policy_token_kind kind;
	unsigned positions; /* bit per enum policy_token_pos */
};

#define P_S (1u << POLICY_POS_SOURCE)
#define P_T (1u << POLICY_POS_TARGET)
#define P_R (1u << POLICY_POS_REDIRECT)
#define P_I (1u << POLICY_POS_INTENDED)

/* Qubes' token classes, in their definition order (it decides errors). */
static const struct tok_exact tok_exacts[] = {
    {"*", POLICY_TOK_ANY, P_S | P_T},
    {"@adminvm", POLICY_TOK_ADMINVM, P_S | P_T | P_R | P_I},
    {"@anyvm", POLICY_TOK_ANYVM, P_S | P_T},
    {"@default", POLICY_TOK_DEFAULT, P_T | P_I},
    {"@dispvm", POLICY_TOK_DISPVM, P_T | P_R | P_I},
};

static const struct tok_exact tok_prefixes[] = {
    {"@type:", POLICY_TOK_TYPE, P_S | P_T},
    {"@tag:", POLICY_TOK_TAG, P_S | P_T},
    {"@dispvm:", POLICY_TOK_DISPVM_NAME, P_S | P_T | P_R | P_I},
    {"@dispvm:@tag:", POLICY_TOK_DISPVM_TAG, P_S | P_T},
};

int
policy_token_parse(const char *s, enum policy_token_pos pos,
    struct policy_token *ret, char *err, size_t errlen)
{
	char q[128];
	size_t i;

	if (s[0] == '\0') {
		policy_fmt(
		    err, errlen, "invalid empty %s token", pos_name[pos]);
		return -EINVAL;
	}
	/* a qube name or uuid:UUID is taken as it is, in any position */
	if (s[0] != '@' && strcmp(s, "*") != 0) {
		ret->kind = POLICY_TOK_NAME;
		ret->text = s;
		ret->value = s;
		return 0;
	}
	for (i = 0; i < sizeof(tok_exacts) / sizeof(tok_exacts[0]); i++) {
		if (!(tok_exacts[i].positions & (1u << pos)))
			continue;
		if (strcmp(s, tok_exacts[i].text) == 0) {
			ret->kind = tok_exacts[i].kind;
			ret->text = s;
			ret->value = s;
			return 0;
		}
	}
	for (i = 0; i < sizeof(tok_prefixes) / sizeof(tok_prefixes[0]); i++) {
		size_t pl = strlen(tok_prefixes[i].text);

		if (!(tok_prefixes[i].positions & (1u << pos)))
			continue;
		if (strncmp(s, tok_prefixes[i].text, pl) != 0)
			continue;
		if (s[pl] == '\0') {
			policy_fmt(err, errlen, "invalid empty %s token: '%s'",
			    tok_prefixes[i].text,
			    policy_quote(q, sizeof(q), s));
			return -EINVAL;
		}
		/* part of a longer prefix (@dispvm:@tag:), or invalid */
		if (s[pl] == '@')
			continue;
		ret->kind = tok_prefixes[i].kind;
		ret->text = s;
		ret->value = s + pl;
		return 0;
	}
	policy_fmt(err, errlen, "invalid %s token: '%s'", pos_name[pos],
	    policy_quote(q, sizeof(q), s));
	return -EINVAL;
}

/* ---- rules ---- */

static bool
rpcname_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || c == '+' || c == '-' || c == '.' ||
	    c == '_';
}

/* The invalid characters of s, each once, in byte order, quoted. */
static const char *
invalid_chars(const char *s, bool allow_plus, char *out, size_t outlen)
{
	bool seen[256];
	char one[2] = {0, 0}, q[8];
	const char *t;
	size_t o = 0;
	unsigned c;

	out[0] = '\0';
	/* the common case first: nothing to report */
	for (t = s; *t != '\0'; t++)
		if (!rpcname_char((unsigned char)*t) ||
		    (!allow_plus && *t == '+'))
			break;
	if (*t == '\0')
		return out;
	memset(seen, 0, sizeof(seen));
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (!rpcname_char(ch) || (!allow_plus && ch == '+'))
			seen[ch] = true;
	}
	out[0] = '\0';
	for (c = 1; c < 256; c++) {
		if (!seen[c])
			continue;
		one[0] = (char)c;
		policy_quote(q, sizeof(q), one);
		if (o + strlen(q) + 1 >= outlen)
			break;
		memcpy(out + o, q, strlen(q) + 1);
		o += strlen(q);
	}
	return out;
}

/*
 * Qubes' validate_service_and_argument(): "*" becomes NULL; a service has
 * no '+', an argument starts with '+'; only "*" goes with a "*" service.
 */
static int
check_service_arg(struct loader *L, const char *file, unsigned line,
    const char *svc, unsigned svc_col, const char *arg, unsigned arg_col,
    const char **ret_svc, const char **ret_arg)
{
	char bad[128], q[128];

	if (strcmp(svc, "*") == 0)
		svc = NULL;
	if (svc != NULL) {
		invalid_chars(svc, false, bad, sizeof(bad));
		if (bad[0] != '\0')
			return lerr(L, file, line, svc_col,
			    "service '%s' contains invalid characters: '%s'",
			    policy_quote(q, sizeof(q), svc), bad);
	}
	if (strcmp(arg, "*") == 0)
		arg = NULL;
	if (arg != NULL) {
		invalid_chars(arg, true, bad, sizeof(bad));
		if (bad[0] != '\0')
			return lerr(L, file, line, arg_col,
			    "argument '%s' contains invalid characters: '%s'",
			    policy_quote(q, sizeof(q), arg), bad);
		if (arg[0] != '+')
			return lerr(L, file, line, arg_col,
			    "argument '%s' does not start with +",
			    policy_quote(q, sizeof(q), arg));
		if (svc == NULL)
			return lerr(L, file, line, arg_col,
			    "only * argument allowed for * service");
	}
	*ret_svc = svc;
	*ret_arg = arg;
	return 0;
}

static char *
intern(struct loader *L, const char *s)
{
	char *r = arena_strndup(&L->p->arena, s, strlen(s));

	if (r == NULL)
		L->fatal = true;
	return r;
}

/* Copy a parsed token's strings into the arena. */
static int
intern_token(struct loader *L, struct policy_token *t)
{
	size_t off = (size_t)(t->value - t->text);
	char *s = intern(L, t->text);

	if (s == NULL)
		return -ENOMEM;
	t->text = s;
	t->value = s + off;
	return 0;
}

static int
parse_token(struct loader *L, const char *file, unsigned line,
    const struct field *f, const char *s, enum policy_token_pos pos,
    struct policy_token *ret)
{
	char err[POLICY_ERRMSG_MAX];

	if (policy_token_parse(s, pos, ret, err, sizeof(err)) < 0)
		return lerr(L, file, line, f ? f->col : 0, "%s", err);
	return intern_token(L, ret);
}

struct param {
	const char *key; /* NUL-terminated (the '=' was overwritten) */
	const char *value;
	unsigned col;
};

static const char *const action_name[POLICY_ACTION_MAX] = {
    [POLICY_ACTION_ALLOW] = "allow",
    [POLICY_ACTION_DENY] = "deny",
    [POLICY_ACTION_ASK] = "ask",
};

static bool
param_allowed(enum policy_action a, const char *key)
{
	if (strcmp(key, "notify") == 0)
		return true;
	if (a == POLICY_ACTION_DENY)
		return false;
	if (strcmp(key, "target") == 0 || strcmp(key, "user") == 0 ||
	    strcmp(key, "autostart") == 0)
		return true;
	return a == POLICY_ACTION_ASK && strcmp(key, "default_target") == 0;
}

static int
add_rule(struct loader *L, const struct policy_rule *r, const char *file,
    unsigned line)
{
	struct policy *p = L->p;

	if (p->nrules >= POLICY_MAX_RULES) {
		L->fatal = true;
		return lerr(L, file, line, 0, "too many rules (limit %u)",
		    POLICY_MAX_RULES);
	}
	if (p->nrules == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct policy_rule *n;

		if (cap > POLICY_MAX_RULES)
			cap = POLICY_MAX_RULES;
		n = reallocarray(p->rules, cap, sizeof(*n));
		if (n == NULL) {
			L->fatal = true;
			return -ENOMEM;
		}
		p->rules = n;
		p->cap = cap;
	}
	p->rules[p->nrules++] = *r;
	return 0;
}

/*
 * One rule, checked in Qubes' order (Rule.__init__): service and
 * argument, source, target, action, parameter syntax and repeats, the
 * booleans, unknown parameters, target= and default_target=, then the
 * "@default allow needs target=" rule.  `file` is interned.
 */
static int
build_rule(struct loader *L, const char *file, unsigned line,
    const char *svc_in, unsigned svc_col, const char *arg_in, unsigned arg_col,
    struct field *fields, size_t nfields)
{
	struct policy_rule r;
	struct param params[MAX_FIELDS] POLICY_NOINIT; /* written first */
	const char *svc = NULL, *arg = NULL;
	char q[128];
	size_t np = 0, i, j;
	int e;

	memset(&r, 0, sizeof(r));
	r.file = file;
	r.line = line;
	e = check_service_arg(
	    L, file, line, svc_in, svc_col, arg_in, arg_col, &svc, &arg);
	if (e < 0)
		return e;
	if (parse_token(L, file, line, &fields[0], fields[0].s,
	        POLICY_POS_SOURCE, &r.source) < 0 ||
	    parse_token(L, file, line, &fields[1], fields[1].s,
	        POLICY_POS_TARGET, &r.target) < 0)
		return L->fatal ? -ENOMEM : -EINVAL;
	if (strcmp(fields[2].s, "allow") == 0)
		r.action = POLICY_ACTION_ALLOW;
	else if (strcmp(fields[2].s, "deny") == 0)
		r.action = POLICY_ACTION_DENY;
	else if (strcmp(fields[2].s, "ask") == 0)
		r.action = POLICY_ACTION_ASK;
	else
		return lerr(L, file, line, fields[2].col, "invalid action: %s",
		    policy_quote(q, sizeof(q), fields[2].s));

	for (i = 3; i < nfields; i++) {
		char *eq = strchr(fields[i].s, '=');

		if (eq == NULL)
			return lerr(L, file, line, fields[i].col,
			    "invalid action parameter syntax: '%s'",
			    policy_quote(q, sizeof(q), fields[i].s));
		*eq = '\0';
		for (j = 0; j < np; j++)
			if (strcmp(params[j].key, fields[i].s) == 0)
				return lerr(L, file, line, fields[i].col,
				    "parameter given twice: '%s'",
				    policy_quote(q, sizeof(q), fields[i].s));
		params[np].key = fields[i].s;
		params[np].value = eq + 1;
		params[np].col = fields[i].col;
		np++;
	}
	r.notify = r.action == POLICY_ACTION_DENY;
	r.autostart = true;
	/* booleans first (notify, then autostart), whatever the action */
	for (i = 0; i < 2; i++) {
		const char *k = i == 0 ? "notify" : "autostart";

		for (j = 0; j < np; j++) {
			bool yes;

			if (strcmp(params[j].key, k) != 0)
				continue;
			yes = strcmp(params[j].value, "yes") == 0;
			if (!yes && strcmp(params[j].value, "no") != 0)
				return lerr(L, file, line, params[j].col,
				    "'%s' is '%s', but can be only 'yes' or "
				    "'no'",
				    k,
				    policy_quote(
				        q, sizeof(q), params[j].value));
			if (i == 0)
				r.notify = yes;
			else
				r.autostart = yes;
		}
	}
	for (j = 0; j < np; j++)
		if (!param_allowed(r.action, params[j].key))
			return lerr(L, file, line, params[j].col,
			    "invalid parameter '%s' for action %s",
			    policy_quote(q, sizeof(q), params[j].key),
			    action_name[r.action]);
	/* target= before default_target=, as Ask.__init__ builds them */
	for (i = 0; i < 2; i++) {
		const char *k = i == 0 ? "target" : "default_target";

		for (j = 0; j < np; j++) {
			struct field f = {.col = params[j].col};
			struct policy_token *t =
			    i == 0 ? &r.redirect : &r.default_target;

			if (strcmp(params[j].key, k) != 0)
				continue;
			if (parse_token(L, file, line, &f, params[j].value,
			        POLICY_POS_REDIRECT, t) < 0)
				return L->fatal ? -ENOMEM : -EINVAL;
			if (i == 0)
				r.has_redirect = true;
			else
				r.has_default_target = true;
		}
	}
	for (j = 0; j < np; j++) {
		if (strcmp(params[j].key, "user") != 0)
			continue;
		r.user = intern(L, params[j].value);
		if (r.user == NULL)
			return -ENOMEM;
	}
	if (r.target.kind == POLICY_TOK_DEFAULT &&
	    r.action == POLICY_ACTION_ALLOW && !r.has_redirect)
		return lerr(L, file, line, fields[1].col,
		    "allow action for @default rule must specify target= "
		    "option");
	if (svc != NULL && (r.service = intern(L, svc)) == NULL)
		return -ENOMEM;
	if (arg != NULL && (r.argument = intern(L, arg)) == NULL)
		return -ENOMEM;
	return add_rule(L, &r, file, line);
}

/* ---- files ---- */

static int load_text(struct loader *L, const char *path, const char *text,
    size_t len, enum file_format fmt, const char *svc, const char *arg);

static bool
is_override(const struct loader *L, const char *path)
{
	return L->o->override_path != NULL &&
	    strcmp(L->o->override_path, path) == 0;
}

/* 1 regular file, 2 directory, 0 anything else or nothing, -1 removed */
static int
path_kind(const struct loader *L, const char *path)
{
	struct stat st;

	if (is_override(L, path))
		return L->o->override_text != NULL ? 1 : -1;
	if (stat(path, &st) < 0)
		return 0;
	if (S_ISREG(st.st_mode))
		return 1;
	return S_ISDIR(st.st_mode) ? 2 : 0;
}

static int
account(struct loader *L, const char *path, size_t size, const char *from,
    unsigned line)
{
	struct policy *p = L->p;

	if (size > POLICY_MAX_FILE_SIZE)
		return lerr(L, from ? from : path, from ? line : 0, 0,
		    "%s: file too large (%zu bytes, limit %u)", path, size,
		    POLICY_MAX_FILE_SIZE);
	if (++p->nfiles > POLICY_MAX_FILES) {
		L->fatal = true;
		return lerr(L, path, 0, 0,
		    "too many policy files read "
		    "(limit %u)",
		    POLICY_MAX_FILES);
	}
	if (p->total_bytes + size > POLICY_MAX_TOTAL_SIZE) {
		L->fatal = true;
		return lerr(L, path, 0, 0, "policy too large (limit %u bytes)",
		    POLICY_MAX_TOTAL_SIZE);
	}
	p->total_bytes += size;
	return 0;
}

/* Read a policy file (or the override) whole, within the limits. */
static int
read_text(struct loader *L, const char *path, const char *from, unsigned line,
    unsigned col, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, r;

	if (is_override(L, path)) {
		if (L->o->override_text == NULL)
			return lerr(L, from, line, col,
			    "including a file that will be removed: %s", path);
		r = account(L, path, L->o->override_len, from, line);
		if (r < 0)
			return r;
		buf = malloc(L->o->override_len + 1);
		if (buf == NULL)
			return -ENOMEM;
		memcpy(buf, L->o->override_text, L->o->override_len);
		buf[L->o->override_len] = '\0';
		*ret = buf;
		*ret_len = L->o->override_len;
		return 0;
	}
	/* O_NONBLOCK: a FIFO named x.policy must not hang the daemon */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return lerr(L, from ? from : path, from ? line : 0, col,
		    "failed to load %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return lerr(L, from ? from : path, from ? line : 0, col,
		    "not a file: %s", path);
	}
	r = account(L, path, (size_t)st.st_size, from, line);
	if (r < 0) {
		(void)close(fd);
		return r;
	}
	buf = malloc((size_t)st.st_size + 2);
	if (buf == NULL) {
		(void)close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			(void)close(fd);
			free(buf);
			return lerr(L, path, 0, 0, "failed to read %s: %s",
			    path, strerror(-r));
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)st.st_size) {
			/* it grew while we read: someone is writing it */
			(void)close(fd);
			free(buf);
			return lerr(L, path, 0, 0,
			    "%s changed while it was read", path);
		}
	}
	(void)close(fd);
	buf[got] = '\0';
	r = add_source(L, path);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = got;
	return 0;
}

static int
resolve(struct loader *L, const char *rel, char *out, const char *from,
    unsigned line, unsigned col)
{
	const char *base = L->in_compat ? L->o->compat_dir : L->policy_path;
	int n;

	if (rel[0] == '/')
		n = snprintf(out, POLICY_PATH_MAX, "%s", rel);
	else if (base == NULL)
		return lerr(L, from, line, col,
		    "includes are not available here: %s", rel);
	else
		n = snprintf(out, POLICY_PATH_MAX, "%s/%s", base, rel);
	if (n < 0 || (size_t)n >= POLICY_PATH_MAX)
		return lerr(L, from, line, col, "path too long: %s", rel);
	return 0;
}

/*
 * Includes recurse through these functions, bounded by
 * POLICY_MAX_INCLUDE_DEPTH and the include-loop check.
 * NOLINTBEGIN(misc-no-recursion)
 */
/* Load the file at path (already resolved) in a format. */
static int
include_path(struct loader *L, const char *path, const char *from,
    unsigned line, unsigned col, enum file_format fmt, const char *svc,
    const char *arg)
{
	const char *ipath;
	char *text = NULL;
	size_t len = 0, i;
	int r;

	if (L->depth >= POLICY_MAX_INCLUDE_DEPTH)
		return lerr(L, from, line, col,
		    "includes nested too deeply (limit %u): %s",
		    POLICY_MAX_INCLUDE_DEPTH, path);
	for (i = 0; i < L->depth; i++)
		if (strcmp(L->stack[i], path) == 0)
			return lerr(
			    L, from, line, col, "include loop: %s", path);
	ipath = intern(L, path);
	if (ipath == NULL)
		return -ENOMEM;
	r = read_text(L, path, from, line, col, &text, &len);
	if (r < 0)
		return r;
	L->stack[L->depth++] = ipath;
	r = load_text(L, ipath, text, len, fmt, svc, arg);
	L->depth--;
	free(text);
	return r;
}

static int
include_file(struct loader *L, const char *rel, const char *from, unsigned line,
    unsigned col, enum file_format fmt, const char *svc, const char *arg)
{
	char path[POLICY_PATH_MAX];
	int r, k;

	r = resolve(L, rel, path, from, line, col);
	if (r < 0)
		return r;
	k = path_kind(L, path);
	if (k < 0)
		return lerr(L, from, line, col,
		    "including a file that will be removed: %s", path);
	if (k != 1)
		return lerr(L, from, line, col, "not a file: %s", path);
	return include_path(L, path, from, line, col, fmt, svc, arg);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
policy_name_ok(const char *name)
{
	size_t n = strlen(name);

	/* pathlib: suffix ".policy" after a dot that is not the first char */
	return n > 7 && strcmp(name + n - 7, ".policy") == 0 && name[0] != '.';
}

static bool
filename_chars_ok(const char *name)
{
	for (; *name != '\0'; name++)
		if (!((*name >= '0' && *name <= '9') ||
		        (*name >= 'a' && *name <= 'z') || *name == '_' ||
		        *name == '.' || *name == '-'))
			return false;
	return true;
}

static void
free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int
push_name(char ***names, size_t *n, size_t *cap, const char *name)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		char **nn = reallocarray(*names, c, sizeof(*nn));

		if (nn == NULL)
			return -ENOMEM;
		*names = nn;
		*cap = c;
	}
	(*names)[*n] = strdup(name);
	if ((*names)[*n] == NULL)
		return -ENOMEM;
	(*n)++;
	return 0;
}

/*
 * The *.policy files of a directory (Qubes' filter_filepaths): regular
 * files (after symlinks) named *.policy, not starting with a dot.  Any
 * such name outside [0-9a-z_.-] rejects the whole directory.  Sorted.
 */
static int
list_policy_dir(struct loader *L, const char *dir, const char *from,
    unsigned line, char ***ret, size_t *ret_n)
{
	char **names = NULL;
	size_t n = 0, cap = 0, dl = strlen(dir);
	const char *ov = L->o->override_path;
	bool bad = false, ov_seen = false;
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = opendir(dir);
	if (d == NULL)
		return lerr(L, from ? from : dir, from ? line : 0, 0,
		    "failed to load %s: %s", dir, strerror(errno));
	r = add_source(L, dir);
	while (r == 0 && (de = readdir(d)) != NULL) {
		char path[POLICY_PATH_MAX];
		struct stat st;

		if (!policy_name_ok(de->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (is_override(L, path)) {
			ov_seen = true;
			if (L->o->override_text == NULL)
				continue;
		} else if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			continue;
		}
		if (!filename_chars_ok(de->d_name)) {
			bad = true;
			r = lerr(L, path, 0, 0, "invalid filename: %s", path);
			if (must_stop(L, r))
				break;
			r = 0;
			continue;
		}
		if (n >= POLICY_MAX_FILES) {
			L->fatal = true;
			r = lerr(L, dir, 0, 0, "too many files (limit %u)",
			    POLICY_MAX_FILES);
			break;
		}
		r = push_name(&names, &n, &cap, de->d_name);
	}
	(void)closedir(d);
	/* a new file qubes-policy is about to install */
	if (r == 0 && !ov_seen && ov != NULL && L->o->override_text != NULL &&
	    strncmp(ov, dir, dl) == 0 && ov[dl] == '/' &&
	    strchr(ov + dl + 1, '/') == NULL && policy_name_ok(ov + dl + 1)) {
		if (!filename_chars_ok(ov + dl + 1)) {
			bad = true;
			r = lerr(L, ov, 0, 0, "invalid filename: %s", ov);
		} else {
			r = push_name(&names, &n, &cap, ov + dl + 1);
		}
	}
	/* all or nothing, as Qubes; lint goes on with the valid names */
	if (r == 0 && bad && !L->o->keep_going)
		r = -EINVAL;
	if (r < 0) {
		free_names(names, n);
		return r;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	*ret = names;
	*ret_n = n;
	return 0;
}

static int
include_dir(struct loader *L, const char *rel, const char *from, unsigned line,
    unsigned col)
{
	char path[POLICY_PATH_MAX];
	char **names = NULL;
	size_t n = 0, i;
	int r;

	r = resolve(L, rel, path, from, line, col);
	if (r < 0)
		return r;
	if (path_kind(L, path) != 2)
		return lerr(L, from, line, col, "not a directory: %s", path);
	r = list_policy_dir(L, path, from, line, &names, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		char fpath[POLICY_PATH_MAX];
		int e;

		/* list_policy_dir() skipped names that do not fit */
		policy_fmt(fpath, sizeof(fpath), "%s/%s", path, names[i]);
		e = include_path(
		    L, fpath, from, line, col, FMT_POLICY, NULL, NULL);
		if (e < 0 && r == 0)
			r = e;
		if (must_stop(L, e))
			break;
	}
	free_names(names, n);
	return r;
}

static int
include_service(struct loader *L, const char *svc, unsigned svc_col,
    const char *arg, unsigned arg_col, const char *rel, const char *from,
    unsigned line, unsigned col)
{
	const char *s = NULL, *a = NULL;
	int r;

	r = check_service_arg(
	    L, from, line, svc, svc_col, arg, arg_col, &s, &a);
	if (r < 0)
		return r;
	/*
	 * Keep "*" for the rules, which check it again.  The strings may
	 * live in the scratch line, which the included file's lines reuse:
	 * copy them first.
	 */
	s = intern(L, s ? s : "*");
	a = intern(L, a ? a : "*");
	if (s == NULL || a == NULL)
		return -ENOMEM;
	return include_file(L, rel, from, line, col, FMT_SERVICE, s, a);
}

/* ---- !compat-4.0 ---- */

struct compat_file {
	char *name;
	char *service;
	char *argument; /* "+..." or "*" */
};

static int
cmp_compat(const void *a, const void *b)
{
	const struct compat_file *x = a, *y = b;
	int c = strcmp(x->service, y->service);

	if (c != 0)
		return c;
	/* the catch-all ("*", no '+' in the name) after every argument */
	if (strcmp(x->argument, "*") == 0)
		return strcmp(y->argument, "*") == 0 ? 0 : 1;
	if (strcmp(y->argument, "*") == 0)
		return -1;
	return strcmp(x->argument, y->argument);
}

static bool
compat_name_ok(const char *name)
{
	const char *dot = strrchr(name, '.');
	const char *c;

	if (name[0] == '.')
		return false;
	/* pathlib's suffix: from the last dot, if not first and not last */
	if (dot != NULL && dot != name && dot[1] != '\0' &&
	    (strcmp(dot, ".rpmsave") == 0 || strcmp(dot, ".rpmnew") == 0 ||
	        strcmp(dot, ".swp") == 0))
		return false;
	for (c = name; *c != '\0'; c++)
		if (!rpcname_char((unsigned char)*c))
			return false;
	return true;
}

static void
free_compat(struct compat_file *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].service);
		free(f[i].argument);
	}
	free(f);
}

static int
implicit_deny(struct loader *L, const char *svc, const char *arg,
    const char *file, const char *target)
{
	char src[] = "@anyvm", act[] = "deny";
	char tgt[16];
	struct field f[3] = {
	    {src, 6, 0},
	    {tgt, strlen(target), 0},
	    {act, 4, 0},
	};

	(void)snprintf(tgt, sizeof(tgt), "%s", target);
	return build_rule(L, file, 0, svc, 0, arg, 0, f, 3);
}

static int
compat40(struct loader *L, const char *from, unsigned line)
{
	const char *dir = L->o->compat_dir;
	struct compat_file *files = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (L->in_compat)
		return lerr(L, from, line, 1, "!compat-4.0 is not recursive");
	if (dir == NULL)
		return lerr(L, from, line, 1,
		    "!compat-4.0: no legacy policy directory");
	d = opendir(dir);
	if (d == NULL)
		return lerr(L, from, line, 1, "failed to load %s: %s", dir,
		    strerror(errno));
	r = add_source(L, dir);
	while (r == 0 && (de = readdir(d)) != NULL) {
		char path[POLICY_PATH_MAX];
		struct stat st;
		const char *plus;

		if (!compat_name_ok(de->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n >= POLICY_MAX_FILES) {
			L->fatal = true;
			r = lerr(L, dir, 0, 0, "too many files (limit %u)",
			    POLICY_MAX_FILES);
			break;
		}
		if (n == cap) {
			size_t c = cap ? cap * 2 : 16;
			struct compat_file *nf =
			    reallocarray(files, c, sizeof(*nf));

			if (nf == NULL) {
				r = -ENOMEM;
				break;
			}
			files = nf;
			cap = c;
		}
		plus = strchr(de->d_name, '+');
		files[n].name = strdup(de->d_name);
		files[n].service = plus ?
		    strndup(de->d_name, (size_t)(plus - de->d_name)) :
		    strdup(de->d_name);
		files[n].argument = strdup(plus ? plus : "*");
		n++;
		if (files[n - 1].name == NULL || files[n - 1].service == NULL ||
		    files[n - 1].argument == NULL)
			r = -ENOMEM;
	}
	(void)closedir(d);
	if (r < 0) {
		free_compat(files, n);
		return r;
	}
	if (n > 0)
		qsort(files, n, sizeof(*files), cmp_compat);
	L->in_compat = true;
	for (i = 0; i < n; i++) {
		char path[POLICY_PATH_MAX];
		const char *ipath;
		int e;

		policy_fmt(path, sizeof(path), "%s/%s", dir, files[i].name);
		/* in_compat: the name resolves in the legacy directory */
		e = include_service(L, files[i].service, 0, files[i].argument,
		    0, files[i].name, from, line, 1);
		/*
		 * After a file for one argument, the deny rules that 4.0 had
		 * implicitly; not after the catch-all, so that later default
		 * rules are not shadowed.
		 */
		if (e == 0 && strcmp(files[i].argument, "*") != 0) {
			ipath = intern(L, path);
			e = ipath == NULL ?
			    -ENOMEM :
			    implicit_deny(L, files[i].service,
			        files[i].argument, ipath, "@anyvm");
			if (e == 0)
				e = implicit_deny(L, files[i].service,
				    files[i].argument, ipath, "@adminvm");
		}
		if (e < 0 && r == 0)
			r = e;
		if (must_stop(L, e))
			break;
	}
	L->in_compat = false;
	free_compat(files, n);
	return r;
}

/* ---- lines ---- */

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c;
		size_t k, need;
		uint32_t v;

		/* ASCII, the common case, a word at a time */
		while (n - i >= 8) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			v = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			v = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			v = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= need)
			return false;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			v = (v << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && v < 0x800) || (need == 3 && v < 0x10000) ||
		    v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

static int
scratch_reserve(struct loader *L, size_t n)
{
	char *s;

	if (n <= L->scratch_cap)
		return 0;
	s = realloc(L->scratch, n);
	if (s == NULL) {
		L->fatal = true;
		return -ENOMEM;
	}
	L->scratch = s;
	L->scratch_cap = n;
	return 0;
}

/* Printable ASCII but space: never whitespace, the common case. */
static inline bool
word_byte(char c)
{
	return c > ' ' && c < 0x7f;
}

static int
directive(struct loader *L, const char *path, unsigned line, struct field *f,
    size_t nf, enum file_format fmt, const char *svc, const char *arg)
{
	const char *d = f[0].s;
	size_t np = nf - 1;

	if (fmt == FMT_SERVICE) {
		if (strcmp(d, "!include") != 0)
			return lerr(
			    L, path, line, f[0].col, "invalid directive");
		if (np != 1)
			return lerr(L, path, line, f[0].col,
			    "invalid number of params");
		return include_file(
		    L, f[1].s, path, line, f[1].col, FMT_SERVICE, svc, arg);
	}
	if (strcmp(d, "!include") == 0) {
		if (np != 1)
			return lerr(L, path, line, f[0].col,
			    "invalid number of params");
		return include_file(
		    L, f[1].s, path, line, f[1].col, FMT_POLICY, NULL, NULL);
	}
	if (strcmp(d, "!include-dir") == 0) {
		if (np != 1)
			return lerr(L, path, line, f[0].col,
			    "invalid number of params");
		return include_dir(L, f[1].s, path, line, f[1].col);
	}
	if (strcmp(d, "!include-service") == 0) {
		if (np != 3)
			return lerr(L, path, line, f[0].col,
			    "invalid number of params");
		return include_service(L, f[1].s, f[1].col, f[2].s, f[2].col,
		    f[3].s, path, line, f[3].col);
	}
	if (strcmp(d, "!compat-4.0") == 0) {
		if (np != 0)
			return lerr(L, path, line, f[0].col,
			    "invalid number of params");
		return compat40(L, path, line);
	}
	return lerr(L, path, line, f[0].col, "invalid directive");
}

static int
do_line(struct loader *L, const char *path, unsigned line, const char *s,
    size_t len, enum file_format fmt, const char *svc, const char *arg)
{
	/* written before read: not worth -ftrivial-auto-var-init's memset */
	struct field f[MAX_FIELDS] POLICY_NOINIT;
	size_t nf = 0, i = 0, o = 0;
	char *buf;
	int r;

	if (len > POLICY_MAX_LINE_LEN)
		return lerr(L, path, line, 0, "line too long (limit %u bytes)",
		    POLICY_MAX_LINE_LEN);
	if (memchr(s, '\0', len) != NULL)
		return lerr(L, path, line, 0, "NUL byte in line");
	if (!utf8_valid((const unsigned char *)s, len))
		return lerr(L, path, line, 0, "invalid UTF-8");
	r = scratch_reserve(L, len + 1);
	if (r < 0)
		return r;
	buf = L->scratch;
	if (fmt == FMT_POLICY) {
		memcpy(buf, s, len);
		i = o = len;
	}
	/* the 4.0 substitutions keep lengths, so columns stay right */
	while (i < len) {
		if (fmt == FMT_SERVICE && len - i >= 9 &&
		    memcmp(s + i, "$include:", 9) == 0) {
			memcpy(buf + o, "!include ", 9);
			i += 9;
			o += 9;
			continue;
		}
		if (fmt == FMT_SERVICE && s[i] == '$')
			buf[o] = '@';
		else if (fmt == FMT_SERVICE && s[i] == ',')
			buf[o] = ' ';
		else
			buf[o] = s[i];
		i++;
		o++;
	}
	buf[len] = '\0';
	/* Python's str.split(): runs of whitespace separate fields */
	i = 0;
	while (i < len) {
		size_t w = policy_space_len((unsigned char *)buf + i, len - i);
		size_t start;

		if (w > 0) {
			i += w;
			continue;
		}
		start = i;
		while (i < len &&
		    (word_byte(buf[i]) ||
		        policy_space_len((unsigned char *)buf + i, len - i) ==
		            0))
			i++;
		if (nf == 0 && buf[start] == '#')
			return 0; /* a comment */
		if (nf >= MAX_FIELDS)
			return lerr(L, path, line, (unsigned)start + 1,
			    "too many fields (limit %u)", MAX_FIELDS);
		if (i - start > POLICY_MAX_TOKEN_LEN)
			return lerr(L, path, line, (unsigned)start + 1,
			    "token too long (limit %u bytes)",
			    POLICY_MAX_TOKEN_LEN);
		f[nf].s = buf + start;
		f[nf].len = i - start;
		f[nf].col = (unsigned)start + 1;
		nf++;
		if (i < len) {
			/* end the field; the separator is at least a byte */
			w = policy_space_len((unsigned char *)buf + i, len - i);
			buf[i] = '\0';
			i += w;
		}
	}
	if (nf == 0)
		return 0;
	if (f[0].s[0] == '!')
		return directive(L, path, line, f, nf, fmt, svc, arg);
	if (fmt == FMT_SERVICE) {
		if (nf < 3)
			return lerr(L, path, line, 1, "wrong number of fields");
		return build_rule(L, path, line, svc, 0, arg, 0, f, nf);
	}
	if (nf < 5)
		return lerr(L, path, line, 1, "wrong number of fields");
	return build_rule(
	    L, path, line, f[0].s, f[0].col, f[1].s, f[1].col, f + 2, nf - 2);
}

static int
load_text(struct loader *L, const char *path, const char *text, size_t len,
    enum file_format fmt, const char *svc, const char *arg)
{
	size_t pos = 0;
	unsigned line = 0;
	int ret = 0;

	while (pos < len) {
		size_t start = pos, end;
		int r;

		line++;
		{
			/* "\n", "\r\n" and a lone "\r" end lines (Python) */
			const char *nl = memchr(text + pos, '\n', len - pos);
			size_t seg = nl ? (size_t)(nl - text) : len;
			const char *cr = memchr(text + pos, '\r', seg - pos);

			pos = cr ? (size_t)(cr - text) : seg;
		}
		end = pos;
		if (pos < len) {
			if (text[pos] == '\r' && pos + 1 < len &&
			    text[pos + 1] == '\n')
				pos++;
			pos++;
		}
		r = do_line(
		    L, path, line, text + start, end - start, fmt, svc, arg);
		if (r < 0 && ret == 0)
			ret = r;
		if (must_stop(L, r))
			return r;
	}
	return ret;
}

/* NOLINTEND(misc-no-recursion) */

/* ---- the service index ---- */

static int
index_add(struct policy *p, const char *svc, uint32_t idx)
{
	uint32_t h = policy_hash(svc);
	size_t mask = p->index_cap - 1, i = h & mask;
	struct svc_entry *e;

	while (p->index[i].service != NULL &&
	    (p->index[i].hash != h || strcmp(p->index[i].service, svc) != 0))
		i = (i + 1) & mask;
	e = &p->index[i];
	if (e->service == NULL) {
		e->service = svc;
		e->hash = h;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 4;
		uint32_t *n = reallocarray(e->idx, cap, sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		e->idx = n;
		e->cap = cap;
	}
	e->idx[e->n++] = idx;
	return 0;
}

static int
build_index(struct policy *p)
{
	size_t i, cap = 16;

	while (cap < p->nrules * 2 + 2)
		cap *= 2;
	p->index = calloc(cap, sizeof(*p->index));
	if (p->index == NULL)
		return -ENOMEM;
	p->index_cap = cap;
	for (i = 0; i < p->nrules; i++) {
		const char *svc = p->rules[i].service;

		if (svc == NULL) {
			if (p->nwild == p->wildcap) {
				size_t c = p->wildcap ? p->wildcap * 2 : 16;
				uint32_t *n =
				    reallocarray(p->wild, c, sizeof(*n));

				if (n == NULL)
					return -ENOMEM;
				p->wild = n;
				p->wildcap = c;
			}
			p->wild[p->nwild++] = (uint32_t)i;
		} else if (index_add(p, svc, (uint32_t)i) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

const struct svc_entry *
policy_index_find(const struct policy *p, const char *service)
{
	uint32_t h = policy_hash(service);
	size_t mask = p->index_cap - 1, i = h & mask;

	while (p->index[i].service != NULL) {
		if (p->index[i].hash == h &&
		    strcmp(p->index[i].service, service) == 0)
			return &p->index[i];
		i = (i + 1) & mask;
	}
	return NULL;
}

/* ---- entry points ---- */

void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	free(p->rules);
	arena_free(&p->arena);
	for (i = 0; i < p->nsources; i++)
		free(p->sources[i]);
	free(p->sources);
	if (p->index != NULL)
		for (i = 0; i < p->index_cap; i++)
			free(p->index[i].idx);
	free(p->index);
	free(p->wild);
	free(p);
}

static int
finish(
    struct loader *L, int r, struct policy **ret, struct policy_error *ret_err)
{
	free(L->scratch);
	if (r == 0 && L->nerr > 0)
		r = -EINVAL;
	if (r == 0 && L->fatal)
		r = -ENOMEM;
	if (r == 0)
		r = build_index(L->p);
	if (r < 0) {
		if (ret_err != NULL) {
			if (L->nerr > 0) {
				*ret_err = L->first;
			} else {
				memset(ret_err, 0, sizeof(*ret_err));
				policy_fmt(ret_err->msg, sizeof(ret_err->msg),
				    "%s", strerror(-r));
			}
		}
		policy_free(L->p);
		return r == -ENOMEM ? r : -EINVAL;
	}
	*ret = L->p;
	return 0;
}

struct toplevel {
	const char *dir;
	char *name;
};

static int
cmp_top(const void *a, const void *b)
{
	return strcmp(((const struct toplevel *)a)->name,
	    ((const struct toplevel *)b)->name);
}

int
policy_load(const struct policy_load_opts *opts, struct policy **ret,
    struct policy_error *ret_err)
{
	struct loader L;
	struct toplevel *top = NULL;
	size_t ntop = 0, cap = 0, i, j, k;
	int r = 0;

	memset(&L, 0, sizeof(L));
	L.o = opts;
	L.p = calloc(1, sizeof(*L.p));
	if (L.p == NULL)
		return -ENOMEM;
	if (opts->ndirs == 0)
		r = lerr(&L, "<policy>", 0, 0, "no policy directory");
	for (i = 0; i < opts->ndirs && !must_stop(&L, r); i++) {
		char **names = NULL;
		size_t n = 0;
		int e;

		e = list_policy_dir(&L, opts->dirs[i], NULL, 0, &names, &n);
		if (e < 0) {
			if (r == 0)
				r = e;
			continue;
		}
		/* a basename in an earlier directory shadows later ones */
		for (j = 0; j < n && r != -ENOMEM && !L.fatal; j++) {
			bool seen = false;

			for (k = 0; k < ntop && !seen; k++)
				seen = strcmp(top[k].name, names[j]) == 0;
			if (seen)
				continue;
			if (ntop >= POLICY_MAX_FILES) {
				L.fatal = true;
				r = lerr(&L, opts->dirs[i], 0, 0,
				    "too many files (limit %u)",
				    POLICY_MAX_FILES);
				break;
			}
			if (ntop == cap) {
				size_t c = cap ? cap * 2 : 32;
				struct toplevel *nt =
				    reallocarray(top, c, sizeof(*nt));

				if (nt == NULL) {
					r = -ENOMEM;
					break;
				}
				top = nt;
				cap = c;
			}
			top[ntop].dir = opts->dirs[i];
			top[ntop].name = names[j];
			names[j] = NULL;
			ntop++;
		}
		free_names(names, n);
	}
	if (ntop > 0)
		qsort(top, ntop, sizeof(*top), cmp_top);
	for (i = 0; i < ntop && !must_stop(&L, r); i++) {
		char path[POLICY_PATH_MAX];
		int e;

		policy_fmt(
		    path, sizeof(path), "%s/%s", top[i].dir, top[i].name);
		L.policy_path = top[i].dir;
		e = include_path(&L, path, NULL, 0, 0, FMT_POLICY, NULL, NULL);
		if (e < 0 && r == 0)
			r = e;
	}
	for (i = 0; i < ntop; i++)
		free(top[i].name);
	free(top);
	return finish(&L, r, ret, ret_err);
}

int
policy_load_text(const char *name, const char *dir, const char *text,
    size_t len, const struct policy_load_opts *opts, struct policy **ret,
    struct policy_error *ret_err)
{
	struct policy_load_opts o;
	struct loader L;
	const char *path;
	int r;

	memset(&o, 0, sizeof(o));
	if (opts != NULL) {
		o.compat_dir = opts->compat_dir;
		o.keep_going = opts->keep_going;
		o.on_error = opts->on_error;
		o.on_error_ctx = opts->on_error_ctx;
	}
	memset(&L, 0, sizeof(L));
	L.o = &o;
	L.policy_path = dir;
	L.p = calloc(1, sizeof(*L.p));
	if (L.p == NULL)
		return -ENOMEM;
	path = intern(&L, name);
	if (path == NULL)
		r = -ENOMEM;
	else
		r = account(&L, name, len, NULL, 0);
	if (r == 0) {
		L.stack[L.depth++] = path;
		r = load_text(&L, path, text, len, FMT_POLICY, NULL, NULL);
	}
	return finish(&L, r, ret, ret_err);
}

size_t
policy_rule_count(const struct policy *p)
{
	return p->nrules;
}

const struct policy_rule *
policy_rule_at(const struct policy *p, size_t i)
{
	return i < p->nrules ? &p->rules[i] : NULL;
}

size_t
policy_source_count(const struct policy *p)
{
	return p->nsources;
}

const char *
policy_source_at(const struct policy *p, size_t i)
{
	return i < p->nsources ? p->sources[i] : NULL;
}
