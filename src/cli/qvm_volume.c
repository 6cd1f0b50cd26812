/*
 * qvm_volume.c - qvm-volume: list the volumes of qubes, show a volume's
 * properties and revisions, and revert a volume to one of its revisions
 * (admin.vm.volume.*), with Qubes' commands, aliases and output.
 *
 * Runs as the administrator.  Untrusted input: the daemon's replies
 * (volume names, Info lines, revision names).  They are parsed here with
 * the same strictness as Qubes' client, which decodes them as ASCII: a
 * control character or a byte over 0x7e in them makes the reply
 * malformed, so nothing from the daemon reaches the terminal unchecked.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

/* Most key=value lines in one admin.vm.volume.Info reply. */
#define VOL_INFO_MAX 64

/* Long options of the list command. */
enum {
	OPT_FULL = CLI_OPT_FIRST_TOOL,
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-volume [options] [list [-p POOL]... [--full] "
	    "[VMNAME...]]\n"
	    "       qvm-volume [options] list [-p POOL]... [--full] --all "
	    "[--exclude VMNAME]...\n"
	    "       qvm-volume [options] info VMNAME:VOLUME [PROPERTY]\n"
	    "       qvm-volume [options] revert VMNAME:VOLUME [REVISION]\n"
	    "\n"
	    "Manage the storage volumes of qubes (root, private, volatile, "
	    "kernel).\n"
	    "\n"
	    "Commands:\n"
	    "  list, ls, l          list the volumes of the qubes (all of them "
	    "by\n"
	    "                       default) as POOL:VOLUME VMNAME VOLUME_NAME\n"
	    "                       REVERT_POSSIBLE; this is the default "
	    "command\n"
	    "  info, i VMNAME:VOLUME [PROPERTY]\n"
	    "                       show the volume's properties and "
	    "revisions, or one\n"
	    "                       property ('revisions' lists the "
	    "revisions)\n"
	    "  revert, rv, r VMNAME:VOLUME [REVISION]\n"
	    "                       revert the volume to REVISION (default: "
	    "the latest);\n"
	    "                       the qube must be halted\n"
	    "  config, c, set, s; resize, extend; import; clone; clear\n"
	    "                       Qubes' other commands: not supported by "
	    "bulkhead yet\n"
	    "\n"
	    "Options of list:\n"
	    "  -p, --pool POOL      only volumes in this pool (may be "
	    "repeated)\n"
	    "      --full           repeat POOL:VOLUME on each line of a "
	    "volume that\n"
	    "                       several qubes share (it is left out on a "
	    "terminal)\n" CLI_SELECT_HELP "\n"
	    "Options:\n" CLI_COMMON_HELP "\n"
	    "Exit status: 0 done, 1 failure (no such volume, no revision to "
	    "revert to,\n"
	    "the daemon refused), 2 usage error (also an unknown qube).\n"
	    "\n" CLI_ENV_HELP);
}

enum cmd {
	CMD_LIST,
	CMD_INFO,
	CMD_REVERT,
	CMD_UNSUPPORTED,
	CMD_MAX
};

/* The command of a word: its enum, and the name Qubes' help gives it. */
static enum cmd
parse_cmd(const char *s, const char **ret_name)
{
	static const struct {
		const char *word;
		const char *name;
		enum cmd cmd;
	} cmds[] = {
	    {"list", "list", CMD_LIST},
	    {"ls", "list", CMD_LIST},
	    {"l", "list", CMD_LIST},
	    {"info", "info", CMD_INFO},
	    {"i", "info", CMD_INFO},
	    {"revert", "revert", CMD_REVERT},
	    {"rv", "revert", CMD_REVERT},
	    {"r", "revert", CMD_REVERT},
	    {"config", "config", CMD_UNSUPPORTED},
	    {"c", "config", CMD_UNSUPPORTED},
	    {"set", "config", CMD_UNSUPPORTED},
	    {"s", "config", CMD_UNSUPPORTED},
	    {"resize", "resize", CMD_UNSUPPORTED},
	    {"extend", "resize", CMD_UNSUPPORTED},
	    {"import", "import", CMD_UNSUPPORTED},
	    {"clone", "clone", CMD_UNSUPPORTED},
	    {"clear", "clear", CMD_UNSUPPORTED},
	};
	size_t i;
	char q[128];

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(s, cmds[i].word) == 0) {
			*ret_name = cmds[i].name;
			return cmds[i].cmd;
		}
	cli_usage_fail("%s: invalid command (choose from list, info, revert, "
	               "config, resize, import, clone, clear)",
	    cli_quote(s, q, sizeof(q)));
}

/* Printable ASCII without a space: a volume or revision name. */
static bool
ascii_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	return true;
}

/*
 * A "one name per line" reply whose names are ASCII tokens (volume.List,
 * volume.ListSnapshots).  0, or -1 after a message naming what.
 */
static int
parse_names(const char *what, const char *method, const struct admin_reply *r,
    struct admin_strv *ret)
{
	struct admin_strv sv = {NULL, 0};
	size_t i;
	int rc;

	rc = admin_parse_lines(r->data, r->len, &sv);
	if (rc == -ENOMEM) {
		cli_errx("out of memory");
		return -1;
	}
	for (i = 0; rc == 0 && i < sv.n; i++)
		if (!ascii_token(sv.v[i]))
			rc = -EBADMSG;
	if (rc < 0) {
		admin_strv_free(&sv);
		cli_errx(
		    "%s: %s: malformed reply from the daemon", what, method);
		return -1;
	}
	*ret = sv;
	return 0;
}

/* The lines of admin.vm.volume.Info, split at their first '='. */
struct vol_info {
	char *buf; /* a copy of the body; key and value point into it */
	size_t n;
	const char *key[VOL_INFO_MAX];
	const char *value[VOL_INFO_MAX];
};

static void
vol_info_free(struct vol_info *vi)
{
	free(vi->buf);
	memset(vi, 0, sizeof(*vi));
}

static const char *
vol_info_get(const struct vol_info *vi, const char *key)
{
	size_t i;

	for (i = 0; i < vi->n; i++)
		if (strcmp(vi->key[i], key) == 0)
			return vi->value[i];
	return NULL;
}

/*
 * Parse an Info body: "key=value" lines of printable ASCII, the last
 * newline optional (Qubes' client splits lines and decodes ASCII), keys
 * non-empty and unique, at most VOL_INFO_MAX.  0, -EBADMSG or -ENOMEM.
 */
static int
vol_info_parse(const char *untrusted_data, size_t len, struct vol_info *ret)
{
	struct vol_info vi;
	char *line, *next;
	size_t i;

	memset(&vi, 0, sizeof(vi));
	for (i = 0; i < len; i++)
		if (untrusted_data[i] != '\n' &&
		    (untrusted_data[i] < 0x20 || untrusted_data[i] >= 0x7f))
			return -EBADMSG;
	vi.buf = malloc(len + 1);
	if (vi.buf == NULL)
		return -ENOMEM;
	memcpy(vi.buf, untrusted_data, len);
	vi.buf[len] = '\0';
	for (line = vi.buf; *line != '\0'; line = next) {
		char *eq;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		eq = strchr(line, '=');
		if (eq == NULL || eq == line || vi.n == VOL_INFO_MAX)
			goto out_bad;
		*eq = '\0';
		if (vol_info_get(&vi, line) != NULL)
			goto out_bad;
		vi.key[vi.n] = line;
		vi.value[vi.n] = eq + 1;
		vi.n++;
	}
	*ret = vi;
	return 0;
out_bad:
	free(vi.buf);
	return -EBADMSG;
}

/* Parse an Info reply, or print why it is malformed.  0 or -1. */
static int
vol_info_from_reply(
    const char *what, const struct admin_reply *r, struct vol_info *ret)
{
	int rc = vol_info_parse(r->data, r->len, ret);

	if (rc == -ENOMEM) {
		cli_errx("out of memory");
		return -1;
	}
	if (rc < 0) {
		cli_errx("%s: admin.vm.volume.Info: malformed reply from the "
		         "daemon",
		    what);
		return -1;
	}
	return 0;
}

/* ---- list ---- */

/* One line of the list: a volume of a qube. */
struct vol_row {
	const char *pool; /* into an Info reply's vol_info */
	const char *vid;
	const char *vm;
	const char *vol;
	bool revisions;
	size_t order; /* qubes in the order listed, their volumes in theirs */
};

/* Whether two rows show the same volume (pool and volume id). */
static bool
same_volume(const struct vol_row *x, const struct vol_row *y)
{
	return strcmp(x->pool, y->pool) == 0 && strcmp(x->vid, y->vid) == 0;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct vol_row *x = a, *y = b;
	int c = strcmp(x->pool, y->pool);

	if (c == 0)
		c = strcmp(x->vid, y->vid);
	if (c == 0)
		c = x->order < y->order ? -1 : x->order > y->order;
	return c;
}

static int
vm_name_cmp(const void *a, const void *b)
{
	const struct admin_vm *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/*
 * Print the rows as Qubes' prepare_table: sorted by pool and volume id; a
 * volume several qubes share is one group whose first line is the qube
 * seen last and the others follow in order (Qubes pops the last one
 * first), every line with the revisions of the volume seen last; on a
 * terminal, POOL:VOLUME only on a group's first line unless full.
 */
static void
print_rows(struct vol_row *rows, size_t n, bool full)
{
	char **cells = cli_calloc((n + 1) * 4, sizeof(*cells));
	bool blank = !full && isatty(STDOUT_FILENO);
	size_t i, j, k, r = 1;

	cells[0] = cli_strdup("POOL:VOLUME");
	cells[1] = cli_strdup("VMNAME");
	cells[2] = cli_strdup("VOLUME_NAME");
	cells[3] = cli_strdup("REVERT_POSSIBLE");
	qsort(rows, n, sizeof(*rows), row_cmp);
	for (i = 0; i < n; i = j) {
		const char *revs;

		for (j = i + 1; j < n && same_volume(&rows[j], &rows[i]); j++)
			;
		revs = rows[j - 1].revisions ? "Yes" : "No";
		for (k = 0; k < j - i; k++, r++) {
			/* the group's last row first, then the others */
			const struct vol_row *row =
			    &rows[k == 0 ? j - 1 : i + k - 1];

			cells[r * 4] = k > 0 && blank ?
			    cli_strdup("") :
			    cli_asprintf("%s:%s", row->pool, row->vid);
			cells[r * 4 + 1] = cli_strdup(row->vm);
			cells[r * 4 + 2] = cli_strdup(row->vol);
			cells[r * 4 + 3] = cli_strdup(revs);
		}
	}
	cli_print_table(stdout, cells, n + 1, 4);
	for (i = 0; i < (n + 1) * 4; i++)
		free(cells[i]);
	free(cells);
}

/* The qubes list acts on: all (sorted, as Qubes iterates them), --all
 * (sorted, without AdminVMs and --exclude), or the names given. */
static int
list_select(const struct admin_vm_list *list, char *const *names, size_t nnames,
    const struct cli_select_opts *so, struct cli_selection *ret)
{
	size_t i;

	if (nnames > 0 && so->all)
		cli_usage_fail("VMNAME and --all exclude each other");
	if (nnames == 0 && !so->all) {
		if (so->exclude.n > 0)
			cli_usage_fail("--exclude can only be used with --all");
		ret->vm = cli_calloc(list->n, sizeof(const struct admin_vm *));
		for (i = 0; i < list->n; i++)
			ret->vm[i] = &list->vm[i];
		ret->n = list->n;
	} else if (cli_select(list, names, nnames, so->all, &so->exclude, false,
	               ret) < 0) {
		cli_errx("out of memory");
		return -1;
	}
	if (nnames == 0)
		qsort(ret->vm, ret->n, sizeof(const struct admin_vm *),
		    vm_name_cmp);
	return 0;
}

static int
cmd_list(char *const *names, size_t nnames, const struct cli_select_opts *so,
    const struct admin_strv *pools, bool full)
{
	struct admin_vm_list list = {NULL, 0};
	struct cli_selection sel = {NULL, 0};
	struct admin_call *lcalls = NULL, *vcalls = NULL;
	struct admin_strv *vols = NULL;
	struct vol_info *info = NULL;
	struct vol_row *rows = NULL;
	size_t i, j, nvol = 0, nrows = 0, v;
	int rc = CLI_EXIT_FAIL;

	if (cli_list_qubes(&list) < 0)
		return CLI_EXIT_FAIL;
	if (list_select(&list, names, nnames, so, &sel) < 0)
		goto out_list;

	/* every qube's volumes, then every volume's Info and snapshots */
	lcalls = cli_call_each(sel.vm, sel.n, "admin.vm.volume.List", NULL);
	vols = cli_calloc(sel.n, sizeof(*vols));
	for (i = 0; i < sel.n; i++) {
		if (lcalls[i].error < 0 || !lcalls[i].reply.ok) {
			cli_print_call_failure(sel.vm[i]->name, &lcalls[i]);
			goto out;
		}
		if (parse_names(sel.vm[i]->name, "admin.vm.volume.List",
		        &lcalls[i].reply, &vols[i]) < 0)
			goto out;
		nvol += vols[i].n;
	}
	vcalls = cli_calloc(nvol * 2, sizeof(*vcalls));
	for (i = 0, v = 0; i < sel.n; i++)
		for (j = 0; j < vols[i].n; j++, v++) {
			vcalls[2 * v].dest = sel.vm[i]->name;
			vcalls[2 * v].method = "admin.vm.volume.Info";
			vcalls[2 * v].arg = vols[i].v[j];
			vcalls[2 * v + 1].dest = sel.vm[i]->name;
			vcalls[2 * v + 1].method =
			    "admin.vm.volume.ListSnapshots";
			vcalls[2 * v + 1].arg = vols[i].v[j];
		}
	if (admin_call_many(admin_socket_path(), vcalls, nvol * 2) < 0) {
		cli_errx("admin.vm.volume.Info: invalid request");
		goto out;
	}
	info = cli_calloc(nvol, sizeof(*info));
	rows = cli_calloc(nvol, sizeof(*rows));
	for (i = 0, v = 0; i < sel.n; i++)
		for (j = 0; j < vols[i].n; j++, v++) {
			struct admin_call *ic = &vcalls[2 * v];
			struct admin_call *sc = &vcalls[2 * v + 1];
			struct admin_strv revs = {NULL, 0};
			char *what = cli_asprintf(
			    "%s:%s", sel.vm[i]->name, vols[i].v[j]);
			int bad = 0;

			if (ic->error < 0 || !ic->reply.ok) {
				cli_print_call_failure(what, ic);
				bad = 1;
			} else if (sc->error < 0 || !sc->reply.ok) {
				cli_print_call_failure(what, sc);
				bad = 1;
			} else if (vol_info_from_reply(
			               what, &ic->reply, &info[v]) < 0 ||
			    parse_names(what, "admin.vm.volume.ListSnapshots",
			        &sc->reply, &revs) < 0) {
				bad = 1;
			} else if (vol_info_get(&info[v], "pool") == NULL ||
			    vol_info_get(&info[v], "vid") == NULL) {
				cli_errx("%s: admin.vm.volume.Info: no pool or "
				         "vid in the reply",
				    what);
				bad = 1;
			}
			free(what);
			if (bad) {
				admin_strv_free(&revs);
				goto out;
			}
			rows[nrows].pool = vol_info_get(&info[v], "pool");
			rows[nrows].vid = vol_info_get(&info[v], "vid");
			rows[nrows].vm = sel.vm[i]->name;
			rows[nrows].vol = vols[i].v[j];
			rows[nrows].revisions = revs.n > 0;
			rows[nrows].order = v;
			admin_strv_free(&revs);
			/* -p: only the pools named (none named: all) */
			if (pools->n == 0 ||
			    admin_strv_find(pools, rows[nrows].pool) >= 0)
				nrows++;
		}
	print_rows(rows, nrows, full);
	rc = CLI_EXIT_OK;
out:
	free(rows);
	for (v = 0; info != NULL && v < nvol; v++)
		vol_info_free(&info[v]);
	free(info);
	cli_calls_free(vcalls, nvol * 2);
	for (i = 0; vols != NULL && i < sel.n; i++)
		admin_strv_free(&vols[i]);
	free(vols);
	cli_calls_free(lcalls, sel.n);
	cli_selection_free(&sel);
out_list:
	admin_vm_list_free(&list);
	return rc;
}

/* ---- one volume ---- */

struct vol_ref {
	struct admin_vm_list list;
	const struct admin_vm *vm;
	char *vol;  /* the VOLUME of VMNAME:VOLUME (owned) */
	char *what; /* "VMNAME:VOLUME" for messages (owned) */
};

static void
vol_ref_free(struct vol_ref *ref)
{
	admin_vm_list_free(&ref->list);
	free(ref->vol);
	free(ref->what);
}

/*
 * Resolve VMNAME:VOLUME as Qubes' VMVolumeAction: exactly one ':' (else a
 * usage error), a known qube (else a usage error, as every tool here),
 * one of the qube's volumes (else a failure).  0 or -1 after a message.
 */
static int
vol_resolve(const char *arg, struct vol_ref *ret)
{
	const char *colon = strchr(arg, ':');
	struct admin_strv vols = {NULL, 0};
	struct admin_reply r;
	char *vmname;
	char q[256];
	int rc;

	memset(ret, 0, sizeof(*ret));
	if (colon == NULL || strchr(colon + 1, ':') != NULL)
		cli_usage_fail("%s: expected VMNAME:VOLUME, like work:private",
		    cli_quote(arg, q, sizeof(q)));
	vmname = cli_strdup(arg);
	vmname[colon - arg] = '\0';
	ret->vm = cli_resolve_one(vmname, &ret->list);
	free(vmname);
	if (ret->vm == NULL)
		return -1;
	ret->vol = cli_strdup(colon + 1);
	ret->what = cli_asprintf(
	    "%s:%s", ret->vm->name, cli_quote(ret->vol, q, sizeof(q)));
	if (cli_call_ok(ret->vm->name, ret->vm->name, "admin.vm.volume.List",
	        NULL, NULL, 0, &r) < 0)
		goto out_fail;
	rc = parse_names(ret->vm->name, "admin.vm.volume.List", &r, &vols);
	admin_reply_free(&r);
	if (rc < 0)
		goto out_fail;
	rc = admin_strv_find(&vols, ret->vol) >= 0 ? 0 : -1;
	admin_strv_free(&vols);
	if (rc < 0) {
		cli_errx("%s: no such volume", ret->what);
		goto out_fail;
	}
	return 0;
out_fail:
	vol_ref_free(ret);
	return -1;
}

/* The volume's revisions, oldest first (as the daemon lists them). */
static int
vol_revisions(const struct vol_ref *ref, struct admin_strv *ret)
{
	struct admin_reply r;
	int rc;

	if (cli_call_ok(ref->what, ref->vm->name,
	        "admin.vm.volume.ListSnapshots", ref->vol, NULL, 0, &r) < 0)
		return -1;
	rc = parse_names(ref->what, "admin.vm.volume.ListSnapshots", &r, ret);
	admin_reply_free(&r);
	return rc;
}

static int
vol_info(const struct vol_ref *ref, struct vol_info *ret)
{
	struct admin_reply r;
	int rc;

	if (cli_call_ok(ref->what, ref->vm->name, "admin.vm.volume.Info",
	        ref->vol, NULL, 0, &r) < 0)
		return -1;
	rc = vol_info_from_reply(ref->what, &r, ret);
	admin_reply_free(&r);
	return rc;
}

/* The properties info shows, in Qubes' order (then is_outdated). */
static const char *const info_items[] = {
    "pool",
    "vid",
    "rw",
    "source",
    "save_on_stop",
    "snap_on_start",
    "size",
    "usage",
    "revisions_to_keep",
    "ephemeral",
    "is_outdated",
    NULL,
};

/*
 * A property's value as Qubes' Volume object gives it: the booleans as
 * True/False (only "True" is true; ephemeral and is_outdated may be
 * missing: False), the integers as decimal numbers, the strings as sent.
 * pretty: revisions_to_keep -1 with its meaning, as info's table.
 * Returns the text (in buf or the Info body), or NULL after a message
 * when a property Qubes requires is missing or not a number.
 */
static const char *
info_value(const struct vol_ref *ref, const struct vol_info *vi,
    const char *item, bool pretty, char *buf, size_t len)
{
	static const char *const bools[] = {"rw", "save_on_stop",
	    "snap_on_start", "ephemeral", "is_outdated", NULL};
	static const char *const ints[] = {
	    "size", "usage", "revisions_to_keep", NULL};
	const char *v = vol_info_get(vi, item);
	bool optional =
	    strcmp(item, "ephemeral") == 0 || strcmp(item, "is_outdated") == 0;

	if (cli_in_list(bools, item) && (v != NULL || optional))
		return v != NULL && strcmp(v, "True") == 0 ? "True" : "False";
	if (v == NULL) {
		cli_errx("%s: admin.vm.volume.Info: no %s in the reply",
		    ref->what, item);
		return NULL;
	}
	if (cli_in_list(ints, item)) {
		const char *digits = v[0] == '-' ? v + 1 : v;
		unsigned long n;

		if (cli_parse_uint(digits, (unsigned long)1 << 62, &n) < 0) {
			cli_errx("%s: admin.vm.volume.Info: %s is not a "
			         "number",
			    ref->what, item);
			return NULL;
		}
		if (pretty && strcmp(item, "revisions_to_keep") == 0 &&
		    digits != v && n == 1)
			return "-1 (snapshot disabled)";
		(void)snprintf(
		    buf, len, "%s%lu", digits != v && n ? "-" : "", n);
		return buf;
	}
	return v;
}

static int
cmd_info(const char *arg, const char *prop)
{
	struct admin_strv revs = {NULL, 0};
	struct vol_info vi;
	struct vol_ref ref;
	char buf[32];
	size_t i;
	int rc = CLI_EXIT_FAIL;

	if (vol_resolve(arg, &ref) < 0)
		return CLI_EXIT_FAIL;
	if (prop != NULL && strcmp(prop, "revisions") == 0) {
		if (vol_revisions(&ref, &revs) < 0)
			goto out_ref;
		for (i = 0; i < revs.n; i++)
			(void)printf("%s\n", revs.v[i]);
		admin_strv_free(&revs);
		rc = CLI_EXIT_OK;
		goto out_ref;
	}
	if (prop != NULL && !cli_in_list(info_items, prop)) {
		char q[256];

		cli_errx("%s: no such property", cli_quote(prop, q, sizeof(q)));
		goto out_ref;
	}
	if (vol_info(&ref, &vi) < 0)
		goto out_ref;
	if (prop != NULL) {
		const char *v =
		    info_value(&ref, &vi, prop, false, buf, sizeof(buf));

		if (v != NULL) {
			(void)printf("%s\n", v);
			rc = CLI_EXIT_OK;
		}
	} else {
		char *cells[2 * (sizeof(info_items) / sizeof(info_items[0]))];
		size_t n = 0;
		char nbuf[3][32];
		int nb = 0;

		for (i = 0; info_items[i] != NULL; i++) {
			const char *v = info_value(&ref, &vi, info_items[i],
			    true, nbuf[nb], sizeof(nbuf[nb]));

			if (v == NULL)
				goto out_info;
			if (v == nbuf[nb])
				nb++; /* the three integers, one buffer each */
			cells[2 * n] = (char *)info_items[i];
			cells[2 * n + 1] = (char *)v;
			n++;
		}
		if (vol_revisions(&ref, &revs) < 0)
			goto out_info;
		cli_print_table(stdout, cells, n, 2);
		if (revs.n == 0) {
			(void)printf("List of available revisions (for "
			             "revert): none\n");
		} else {
			(void)printf("List of available revisions (for "
			             "revert):\n");
			for (i = 0; i < revs.n; i++)
				(void)printf("  %s\n", revs.v[i]);
		}
		admin_strv_free(&revs);
		rc = CLI_EXIT_OK;
	}
out_info:
	vol_info_free(&vi);
out_ref:
	vol_ref_free(&ref);
	return rc;
}

static int
cmd_revert(const char *arg, const char *arg_revision)
{
	struct admin_strv revs = {NULL, 0};
	const char *revision = arg_revision;
	struct vol_ref ref;
	int rc = CLI_EXIT_FAIL;

	if (vol_resolve(arg, &ref) < 0)
		return CLI_EXIT_FAIL;
	/*
	 * As Qubes: no (or an empty) REVISION is the latest one, the last
	 * that ListSnapshots names (qubesd sorts them oldest first).
	 */
	if (arg_revision == NULL || arg_revision[0] == '\0') {
		if (vol_revisions(&ref, &revs) < 0)
			goto out;
		if (revs.n == 0) {
			cli_errx("%s: no revision to revert to", ref.what);
			goto out;
		}
		revision = revs.v[revs.n - 1];
	}
	if (cli_call_ok(ref.what, ref.vm->name, "admin.vm.volume.Revert",
	        ref.vol, revision, strlen(revision), NULL) == 0)
		rc = CLI_EXIT_OK;
out:
	admin_strv_free(&revs);
	vol_ref_free(&ref);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"pool", required_argument, NULL, 'p'},
	    {"full", no_argument, NULL, OPT_FULL},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts =
	    cli_longopts(tool_opts, CLI_OPTS_SELECT);
	struct cli_common co = {0, 0};
	struct cli_select_opts so = {false, {NULL, 0}};
	struct admin_strv pools = {NULL, 0};
	const char *name = "list";
	enum cmd cmd = CMD_LIST;
	bool full = false;
	char **pos;
	int c, npos, sub_argc, rc = CLI_EXIT_FAIL;

	cli_init(argv[0]);
	/* "+": the options before the command; the command's own follow */
	while ((c = getopt_long(argc, argv, "+" CLI_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1)
		if (!cli_common_opt(c, &co, usage))
			cli_usage_fail("unknown option (the options of a "
			               "command follow it)");
	if (optind < argc)
		cmd = parse_cmd(argv[optind], &name);
	if (cmd == CMD_UNSUPPORTED) {
		cli_errx("%s: not supported by bulkhead yet%s", name,
		    strcmp(name, "clone") == 0 ?
		        " (qvm-clone copies a whole qube)" :
		        "");
		return CLI_EXIT_FAIL;
	}
	/* the command's options, from the word after it (glibc: optind 0
	 * starts getopt afresh) */
	sub_argc = optind < argc ? argc - optind : 0;
	if (sub_argc > 0) {
		char **sub_argv = &argv[optind];

		optind = 0;
		while ((c = getopt_long(sub_argc, sub_argv,
		            cmd == CMD_LIST ? "p:" CLI_COMMON_SHORTOPTS :
		                              CLI_COMMON_SHORTOPTS,
		            longopts, NULL)) != -1) {
			if (cmd != CMD_LIST &&
			    (c == 'p' || c == OPT_FULL || c == CLI_OPT_ALL ||
			        c == CLI_OPT_EXCLUDE))
				cli_usage_fail("%s: unknown option", name);
			if (c == 'p') {
				if (admin_strv_add(&pools, optarg) < 0)
					cli_usage_fail("too many --pool");
			} else if (c == OPT_FULL) {
				full = true;
			} else {
				cli_select_opt(c, &so, &co, usage);
			}
		}
		pos = &sub_argv[optind];
		npos = sub_argc - optind;
	} else {
		pos = &argv[argc];
		npos = 0;
	}

	switch (cmd) {
	case CMD_LIST:
		rc = cmd_list(pos, (size_t)npos, &so, &pools, full);
		break;
	case CMD_INFO:
		if (npos < 1)
			cli_usage_fail("info: expected VMNAME:VOLUME");
		if (npos > 2)
			cli_usage_fail("info: too many arguments");
		rc = cmd_info(pos[0], npos == 2 ? pos[1] : NULL);
		break;
	case CMD_REVERT:
		if (npos < 1)
			cli_usage_fail("revert: expected VMNAME:VOLUME");
		if (npos > 2)
			cli_usage_fail("revert: too many arguments");
		rc = cmd_revert(pos[0], npos == 2 ? pos[1] : NULL);
		break;
	case CMD_UNSUPPORTED:
	case CMD_MAX:
	default:
		break;
	}
	admin_strv_free(&pools);
	admin_strv_free(&so.exclude);
	return rc;
}
