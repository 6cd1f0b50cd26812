/*
 * cli.c - helpers shared by the qvm-* tools (see cli.h): messages, common
 * options, calls that report their errors, qube selection, tables.
 *
 * Runs in each tool, as the administrator.  Untrusted input: the daemon's
 * replies (parsed by admin_client.c; the strings printed from them go
 * through cli_quote in messages) and the command line, the
 * administrator's own.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config.h"
#include "lib/util.h"

static const char *prog_name = "qvm";

void
cli_init(const char *prog)
{
	const char *slash = strrchr(prog, '/');

	prog_name = slash != NULL ? slash + 1 : prog;
}

const char *
cli_prog(void)
{
	return prog_name;
}

int
cli_verbosity(const struct cli_common *co)
{
	return 1 + co->verbose - co->quiet;
}

const struct option *
cli_longopts(const struct option *tool, unsigned flags)
{
	static const struct option common[] = {
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, CLI_OPT_VERSION},
	    {"force-root", no_argument, NULL, CLI_OPT_FORCE_ROOT},
	};
	static const struct option select_opts[] = {
	    {"all", no_argument, NULL, CLI_OPT_ALL},
	    {"exclude", required_argument, NULL, CLI_OPT_EXCLUDE},
	};
	static struct option *table;
	size_t n = 0, i;

	if (table != NULL)
		return table;
	while (tool[n].name != NULL)
		n++;
	table = cli_calloc(n + ARRAY_SIZE(common) + ARRAY_SIZE(select_opts) + 1,
	    sizeof(*table));
	memcpy(table, tool, n * sizeof(*table));
	for (i = 0; i < ARRAY_SIZE(common); i++)
		table[n++] = common[i];
	for (i = 0; (flags & CLI_OPTS_SELECT) && i < ARRAY_SIZE(select_opts);
	     i++)
		table[n++] = select_opts[i];
	/* the last entry stays zero */
	return table;
}

bool
cli_common_opt(int c, struct cli_common *co, void (*usage)(FILE *f))
{
	switch (c) {
	case 'v':
		co->verbose++;
		return true;
	case 'q':
		co->quiet++;
		return true;
	case 'h':
		usage(stdout);
		exit(CLI_EXIT_OK);
	case CLI_OPT_VERSION:
		(void)printf("%s (bulkhead) %s\n", prog_name, BULKHEAD_VERSION);
		exit(CLI_EXIT_OK);
	case CLI_OPT_FORCE_ROOT:
		/* Qubes accepts and ignores it; so do we */
		return true;
	case '?':
	case ':':
		(void)fprintf(stderr, "Try '%s --help' for more information.\n",
		    prog_name);
		exit(CLI_EXIT_USAGE);
	default:
		return false;
	}
}

void
cli_select_opt(int c, struct cli_select_opts *so, struct cli_common *co,
    void (*usage)(FILE *f))
{
	if (c == CLI_OPT_ALL)
		so->all = true;
	else if (c == CLI_OPT_EXCLUDE) {
		if (admin_strv_add(&so->exclude, optarg) < 0)
			cli_usage_fail("too many --exclude");
	} else if (!cli_common_opt(c, co, usage))
		cli_usage_fail("unknown option");
}

void
cli_errx(const char *fmt, ...)
{
	va_list ap;

	(void)fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
}

void
cli_usage_fail(const char *fmt, ...)
{
	va_list ap;

	(void)fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fprintf(
	    stderr, "\nTry '%s --help' for more information.\n", prog_name);
	exit(CLI_EXIT_USAGE);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

const char *
cli_quote(const char *s, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (outlen == 0)
		return out;
	while (*p != '\0') {
		size_t n = utf8_len(p);
		char tmp[5];
		size_t tl;

		if (n == 1 && *p >= 0x20 && *p < 0x7f) {
			tmp[0] = (char)*p;
			tl = 1;
		} else if (n > 1) {
			memcpy(tmp, p, n);
			tl = n;
		} else {
			/* control characters, DEL, broken UTF-8 */
			(void)snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
			tl = 4;
			n = 1;
		}
		if (o + tl + 4 >= outlen) {
			(void)str_printf(out + o, outlen - o, "...");
			return out;
		}
		memcpy(out + o, tmp, tl);
		o += tl;
		p += n;
	}
	out[o] = '\0';
	return out;
}

const char *
cli_exc_text(const struct admin_reply *r, char *out, size_t outlen)
{
	if (r->exc_msg != NULL && r->exc_msg[0] != '\0')
		return cli_quote(r->exc_msg, out, outlen);
	switch (r->exc) {
	case ADMIN_EXC_PROTOCOL:
		/* qubesd sends ProtocolError without a message */
		(void)str_printf(out, outlen,
		    "request refused by the daemon (ProtocolError: unknown "
		    "method or bad argument)");
		break;
	case ADMIN_EXC_PERMISSION:
		(void)str_printf(out, outlen, "permission denied");
		break;
	case ADMIN_EXC_VM_NOT_FOUND:
		(void)str_printf(out, outlen, "no such domain");
		break;
	case ADMIN_EXC_NONE:
	case ADMIN_EXC_QUBES:
	case ADMIN_EXC_VM_ALREADY_EXISTS:
	case ADMIN_EXC_VM_ERROR:
	case ADMIN_EXC_VM_IN_USE:
	case ADMIN_EXC_VM_NOT_STARTED:
	case ADMIN_EXC_VM_NOT_RUNNING:
	case ADMIN_EXC_VM_NOT_PAUSED:
	case ADMIN_EXC_VM_NOT_SUSPENDED:
	case ADMIN_EXC_VM_NOT_HALTED:
	case ADMIN_EXC_VM_SHUTDOWN_TIMEOUT:
	case ADMIN_EXC_NO_TEMPLATE:
	case ADMIN_EXC_MEMORY:
	case ADMIN_EXC_VALUE:
	case ADMIN_EXC_PROPERTY_VALUE:
	case ADMIN_EXC_NO_SUCH_PROPERTY:
	case ADMIN_EXC_NOT_IMPLEMENTED:
	case ADMIN_EXC_FEATURE_NOT_FOUND:
	case ADMIN_EXC_TAG_NOT_FOUND:
	case ADMIN_EXC_LABEL_NOT_FOUND:
	case ADMIN_EXC_MAX:
	default:
		(void)cli_quote(
		    r->exc_type != NULL ? r->exc_type : "error", out, outlen);
		break;
	}
	return out;
}

void
cli_print_exc(const char *what, const struct admin_reply *r)
{
	char msg[1024];

	(void)cli_exc_text(r, msg, sizeof(msg));
	if (what != NULL)
		cli_errx("%s: %s", what, msg);
	else
		cli_errx("%s", msg);
}

void
cli_print_call_error(const char *method, int error)
{
	const char *sock = admin_socket_path();
	char q[512];

	switch (error) {
	case -ENOENT:
	case -ECONNREFUSED:
		cli_errx("%s: %s (is bulkheadd running?)",
		    cli_quote(sock, q, sizeof(q)), strerror(-error));
		break;
	case -ENODATA:
		/* qubesd closes without a reply on an internal error */
		cli_errx("%s: got an empty reply from the daemon (see its log)",
		    method);
		break;
	case -EBADMSG:
		cli_errx("%s: malformed reply from the daemon", method);
		break;
	case -EMSGSIZE:
		cli_errx(
		    "%s: reply larger than %zu bytes", method, ADMIN_REPLY_MAX);
		break;
	case -E2BIG:
		cli_errx("%s: request larger than %u bytes", method,
		    ADMIN_REQUEST_MAX);
		break;
	case -EINVAL:
		cli_errx("%s: invalid request (a name with a space or a "
		         "control character?)",
		    method);
		break;
	default:
		cli_errx("%s: %s: %s", cli_quote(sock, q, sizeof(q)), method,
		    strerror(-error));
		break;
	}
}

int
cli_call(const char *dest, const char *method, const char *arg,
    const void *payload, size_t payload_len, struct admin_reply *ret)
{
	int rc = admin_call(
	    admin_socket_path(), dest, method, arg, payload, payload_len, ret);

	if (rc < 0) {
		cli_print_call_error(method, rc);
		return -1;
	}
	return 0;
}

int
cli_call_ok(const char *what, const char *dest, const char *method,
    const char *arg, const void *payload, size_t payload_len,
    struct admin_reply *ret)
{
	struct admin_reply r;

	if (cli_call(dest, method, arg, payload, payload_len, &r) < 0)
		return -1;
	if (!r.ok) {
		cli_print_exc(what, &r);
		admin_reply_free(&r);
		return -1;
	}
	if (ret != NULL)
		*ret = r;
	else
		admin_reply_free(&r);
	return 0;
}

int
cli_call_lines(const char *what, const char *dest, const char *method,
    struct admin_strv *ret)
{
	struct admin_reply r;
	int rc;

	if (cli_call_ok(what, dest, method, NULL, NULL, 0, &r) < 0)
		return -1;
	rc = admin_parse_lines(r.data, r.len, ret);
	admin_reply_free(&r);
	if (rc < 0) {
		cli_print_call_error(method, rc);
		return -1;
	}
	return 0;
}

struct admin_call *
cli_call_each(const struct admin_vm *const *vms, size_t n, const char *method,
    const char *arg)
{
	struct admin_call *calls = cli_calloc(n, sizeof(*calls));
	size_t i;

	for (i = 0; i < n; i++) {
		calls[i].dest = vms[i]->name;
		calls[i].method = method;
		calls[i].arg = arg;
	}
	if (admin_call_many(admin_socket_path(), calls, n) < 0)
		for (i = 0; i < n; i++)
			calls[i].error = -EINVAL;
	return calls;
}

void
cli_calls_free(struct admin_call *calls, size_t n)
{
	size_t i;

	if (calls == NULL)
		return;
	for (i = 0; i < n; i++)
		admin_reply_free(&calls[i].reply);
	free(calls);
}

void
cli_print_call_failure(const char *what, const struct admin_call *c)
{
	char msg[1024];

	if (c->error < 0) {
		/* the transport: same text as for a single call */
		switch (c->error) {
		case -ENOENT:
		case -ECONNREFUSED:
		case -ENODATA:
		case -EBADMSG:
		case -EMSGSIZE:
			cli_print_call_error(c->method, c->error);
			break;
		default:
			cli_errx(
			    "%s: %s: %s", what, c->method, strerror(-c->error));
			break;
		}
		return;
	}
	if (!c->reply.ok)
		cli_errx(
		    "%s: %s", what, cli_exc_text(&c->reply, msg, sizeof(msg)));
}

int
cli_report_calls(
    const struct admin_call *calls, size_t n, enum admin_exc ok_exc)
{
	int rc = CLI_EXIT_OK;
	size_t i;

	for (i = 0; i < n; i++) {
		if (calls[i].error == 0 &&
		    (calls[i].reply.ok ||
		        admin_exc_is(calls[i].reply.exc, ok_exc)))
			continue;
		cli_print_call_failure(calls[i].dest, &calls[i]);
		rc = CLI_EXIT_FAIL;
	}
	return rc;
}

/* List + Get each: GetAll's stand-in. */
static int
fetch_props_one_by_one(const char *dest, const char *list_m, const char *get_m,
    struct admin_prop_list *ret)
{
	struct admin_prop_list l = {NULL, 0};
	struct admin_strv names = {NULL, 0};
	struct admin_reply r;
	size_t i;
	int rc = 0;

	if (cli_call_lines(dest, dest, list_m, &names) < 0)
		return -1;
	l.p = cli_calloc(names.n, sizeof(*l.p));
	for (i = 0; i < names.n; i++) {
		if (cli_call(dest, get_m, names.v[i], NULL, 0, &r) < 0) {
			rc = -1;
			break;
		}
		/* a property that cannot be read is left out */
		if (r.ok && admin_parse_property(r.data, r.len, &l.p[l.n]) == 0)
			l.p[l.n++].name = cli_strdup(names.v[i]);
		admin_reply_free(&r);
	}
	admin_strv_free(&names);
	if (rc < 0) {
		admin_prop_list_free(&l);
		return -1;
	}
	*ret = l;
	return 0;
}

int
cli_fetch_props(const char *dest, bool global, struct admin_prop_list *ret)
{
	const char *getall =
	    global ? "admin.property.GetAll" : "admin.vm.property.GetAll";
	struct admin_reply r;
	int rc;

	rc = admin_call(admin_socket_path(), dest, getall, NULL, NULL, 0, &r);
	if ((rc == 0 && !r.ok && r.exc == ADMIN_EXC_PROTOCOL) ||
	    rc == -ENODATA) {
		if (rc == 0)
			admin_reply_free(&r);
		return fetch_props_one_by_one(dest,
		    global ? "admin.property.List" : "admin.vm.property.List",
		    global ? "admin.property.Get" : "admin.vm.property.Get",
		    ret);
	}
	if (rc < 0) {
		cli_print_call_error(getall, rc);
		return -1;
	}
	if (!r.ok) {
		cli_print_exc(dest, &r);
		admin_reply_free(&r);
		return -1;
	}
	rc = admin_parse_property_all(r.data, r.len, ret);
	admin_reply_free(&r);
	if (rc < 0) {
		cli_print_call_error(getall, rc);
		return -1;
	}
	return 0;
}

const char *
cli_props_value(const struct admin_prop_list *l, const char *name)
{
	const struct admin_prop *p = admin_prop_list_find(l, name);

	return p != NULL && !admin_prop_is_empty(p) ? p->value : NULL;
}

int
cli_get_features(
    const char *vm, const char *prefix, struct cli_feature_list *ret)
{
	struct cli_feature_list l = {NULL, 0, {NULL, 0}};
	size_t i, plen = strlen(prefix);

	if (cli_call_lines(vm, vm, "admin.vm.feature.List", &l.names) < 0)
		return -1;
	l.f = cli_calloc(l.names.n, sizeof(*l.f));
	for (i = 0; i < l.names.n; i++) {
		struct admin_reply v;

		if (strncmp(l.names.v[i], prefix, plen) != 0)
			continue;
		if (cli_call(vm, "admin.vm.feature.Get", l.names.v[i], NULL, 0,
		        &v) < 0)
			goto out_free;
		/* removed since the list was made: skip it */
		if (!v.ok && admin_exc_is(v.exc, ADMIN_EXC_FEATURE_NOT_FOUND)) {
			admin_reply_free(&v);
			continue;
		}
		if (!v.ok) {
			cli_print_exc(vm, &v);
			admin_reply_free(&v);
			goto out_free;
		}
		l.f[l.n].name = l.names.v[i];
		l.f[l.n].value = v;
		l.n++;
	}
	*ret = l;
	return 0;
out_free:
	cli_feature_list_free(&l);
	return -1;
}

void
cli_feature_list_free(struct cli_feature_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		admin_reply_free(&l->f[i].value);
	free(l->f);
	admin_strv_free(&l->names);
	memset(l, 0, sizeof(*l));
}

int
cli_list_qubes(struct admin_vm_list *ret)
{
	struct admin_reply r;
	int rc;

	if (cli_call_ok(NULL, "dom0", "admin.vm.List", NULL, NULL, 0, &r) < 0)
		return -1;
	rc = admin_parse_vm_list(r.data, r.len, ret);
	admin_reply_free(&r);
	if (rc < 0) {
		cli_print_call_error("admin.vm.List", rc);
		return -1;
	}
	return 0;
}

void
cli_power_state(const char *vm, char *out, size_t outlen)
{
	struct admin_reply r;

	out[0] = '\0';
	if (admin_call(admin_socket_path(), vm, "admin.vm.CurrentState", NULL,
	        NULL, 0, &r) < 0)
		return;
	if (!r.ok || admin_parse_power_state(r.data, r.len, out, outlen) < 0)
		out[0] = '\0';
	admin_reply_free(&r);
}

static bool
has_wildcard(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static bool
selected(const struct cli_selection *s, const struct admin_vm *vm)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->vm[i] == vm)
			return true;
	return false;
}

int
cli_select(const struct admin_vm_list *list, char *const *names, size_t nnames,
    bool all_qubes, const struct admin_strv *exclude, bool with_admin,
    struct cli_selection *ret)
{
	struct cli_selection s = {NULL, 0};
	size_t i, j;

	if (!all_qubes && exclude != NULL && exclude->n > 0)
		cli_usage_fail("--exclude can only be used with --all");
	/* at most every qube, once */
	s.vm = calloc(list->n + 1, sizeof(const struct admin_vm *));
	if (s.vm == NULL)
		return -ENOMEM;
	if (all_qubes) {
		for (i = 0; i < list->n; i++) {
			const struct admin_vm *vm = &list->vm[i];

			if (!with_admin && strcmp(vm->klass, "AdminVM") == 0)
				continue;
			if (exclude != NULL &&
			    admin_strv_find(exclude, vm->name) >= 0)
				continue;
			s.vm[s.n++] = vm;
		}
		*ret = s;
		return 0;
	}
	for (i = 0; i < nnames; i++) {
		const struct admin_vm *vm;
		char q[256];

		if (has_wildcard(names[i])) {
			for (j = 0; j < list->n; j++)
				if (fnmatch(names[i], list->vm[j].name, 0) ==
				        0 &&
				    !selected(&s, &list->vm[j]))
					s.vm[s.n++] = &list->vm[j];
			continue;
		}
		vm = admin_vm_list_find(list, names[i]);
		if (vm == NULL) {
			free(s.vm);
			cli_usage_fail("%s: no such domain",
			    cli_quote(names[i], q, sizeof(q)));
		}
		if (!selected(&s, vm))
			s.vm[s.n++] = vm;
	}
	*ret = s;
	return 0;
}

void
cli_selection_free(struct cli_selection *s)
{
	if (s == NULL)
		return;
	free(s->vm);
	s->vm = NULL;
	s->n = 0;
}

void
cli_check_names_or_all(size_t nnames, bool all_qubes)
{
	if (nnames == 0 && !all_qubes)
		cli_usage_fail("expected VMNAME... or --all");
	if (nnames > 0 && all_qubes)
		cli_usage_fail("VMNAME and --all exclude each other");
}

int
cli_select_args(char *const *names, size_t nnames,
    const struct cli_select_opts *so, struct admin_vm_list *list,
    struct cli_selection *ret)
{
	cli_check_names_or_all(nnames, so->all);
	if (cli_list_qubes(list) < 0)
		return -1;
	if (cli_select(list, names, nnames, so->all, &so->exclude, false, ret) <
	    0)
		return -1;
	return 0;
}

const struct admin_vm *
cli_resolve_one(const char *name, struct admin_vm_list *list)
{
	const struct admin_vm *vm;
	char q[256];

	if (cli_list_qubes(list) < 0)
		return NULL;
	vm = admin_vm_list_find(list, name);
	if (vm == NULL)
		cli_usage_fail(
		    "%s: no such domain", cli_quote(name, q, sizeof(q)));
	return vm;
}

/* Display width: one column a UTF-8 character (as column(1) in C.UTF-8
 * counts most), one a byte that is not valid UTF-8. */
static size_t
text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;

	while (*p != '\0') {
		size_t n = utf8_len(p);

		p += n > 0 ? n : 1;
		w++;
	}
	return w;
}

void
cli_print_table(FILE *f, char *const *cells, size_t nrows, size_t ncols)
{
	size_t *width, r, c;

	if (nrows == 0 || ncols == 0)
		return;
	width = cli_calloc(ncols, sizeof(*width));
	for (r = 0; r < nrows; r++)
		for (c = 0; c < ncols; c++) {
			size_t w = text_width(cells[r * ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	for (r = 0; r < nrows; r++) {
		for (c = 0; c < ncols; c++) {
			const char *cell = cells[r * ncols + c];

			(void)fputs(cell, f);
			if (c + 1 < ncols)
				(void)fprintf(f, "%*s",
				    (int)(width[c] - text_width(cell) + 2), "");
		}
		(void)fputc('\n', f);
	}
	free(width);
}

void
cli_wrap(
    FILE *f, const char *text, size_t width, size_t indent1, size_t indent2)
{
	const char *p = text;
	size_t col = indent1, pend = 0;
	bool line_empty = true;

	(void)fprintf(f, "%*s", (int)indent1, "");
	while (*p != '\0') {
		size_t n;

		if (*p == ' ' || *p == '\t' || *p == '\n') {
			/* whitespace is written only when a word follows */
			for (n = 0; p[n] == ' ' || p[n] == '\t' || p[n] == '\n';
			     n++)
				;
			if (!line_empty || p == text)
				pend += n;
			p += n;
			continue;
		}
		for (n = 0; p[n] != '\0' && p[n] != ' ' && p[n] != '\t' &&
		     p[n] != '\n';
		     n++)
			;
		if (!line_empty && col + pend + n > width) {
			(void)fprintf(f, "\n%*s", (int)indent2, "");
			col = indent2;
			pend = 0;
		}
		(void)fprintf(f, "%*s%.*s", (int)pend, "", (int)n, p);
		col += pend + n;
		pend = 0;
		line_empty = false;
		p += n;
	}
	(void)fputc('\n', f);
}

const char *
cli_prop_text(const struct admin_prop *p, char *buf, size_t len)
{
	char *end;
	long long v;

	if (admin_prop_is_empty(p))
		return NULL;
	switch (p->type) {
	case ADMIN_PROP_BOOL:
		/* Qubes' client: value == "True" */
		return strcmp(p->value, "True") == 0 ? "True" : "False";
	case ADMIN_PROP_INT:
		/* Python's int() then str(): "0400" is 400 */
		errno = 0;
		v = strtoll(p->value, &end, 10);
		if (errno != 0 || *end != '\0' ||
		    str_printf(buf, len, "%lld", v) < 0)
			return p->value;
		return buf;
	case ADMIN_PROP_STR:
	case ADMIN_PROP_VM:
	case ADMIN_PROP_LABEL:
	case ADMIN_PROP_MAX:
	default:
		return p->value;
	}
}

bool
cli_in_list(const char *const *list, const char *s)
{
	size_t i;

	for (i = 0; list != NULL && list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

int
cli_parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] == '\0')
		return -EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (max - (unsigned long)(s[i] - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

static _Noreturn void
out_of_memory(void)
{
	cli_errx("out of memory");
	exit(CLI_EXIT_FAIL);
}

char *
cli_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	return s;
}

char *
cli_strdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		out_of_memory();
	return d;
}

void *
cli_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

int
cli_ask(const char *question, char *out, size_t outlen)
{
	size_t l;

	(void)fputs(question, stderr);
	(void)fflush(stderr);
	if (fgets(out, (int)outlen, stdin) == NULL) {
		(void)fputc('\n', stderr);
		return -1;
	}
	l = strlen(out);
	if (l > 0 && out[l - 1] == '\n')
		out[--l] = '\0';
	return 0;
}
