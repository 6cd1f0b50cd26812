/*
 * qvm_template.c - qvm-template: the templates that can be installed and
 * those that are (list), installing one (install) and removing one
 * (remove), as Qubes' tool of the same name.
 *
 * Two templates are on offer: debian-12, Debian 12 made on this machine by
 * debootstrap (--variant=minbase) from Debian's archive, whose signatures
 * debootstrap checks against Debian's keyring; and busybox, a minimal
 * template for VM qubes (virt_mode=vm) made by bulkhead-vm-kernel rootfs
 * from the host's static busybox.  install creates the
 * TemplateVM through the Admin API, builds the tree beside the root volume
 * that admin.vm.volume.Info names (its vid, a directory of this host),
 * adds what a bulkhead qube needs (the user "user", the group "qubes",
 * the qube's tools on PATH) and renames it into place in one step; a
 * failure or a signal removes the half-made qube and the tree again.
 * Installed templates are the TemplateVMs whose feature template-name is
 * their own name, as in Qubes; remove is qvm-remove for them.
 *
 * Runs as the administrator; install as root, on bulkheadd's host.
 * debootstrap runs in a child with new mount and pid namespaces of its
 * own, so that its mounts and every process it starts end with it.
 * Untrusted input: the daemon's replies (parsed by admin_client.c; what
 * is printed from them goes through cli_quote); debootstrap's output,
 * shown through cli_quote.  The tree is Debian's, checked by debootstrap;
 * the files edited in it are opened below its /etc without following
 * symbolic links.
 */
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/io.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"

#define TPL_MIRROR_DEFAULT  "http://deb.debian.org/debian"
#define TPL_KEYRING_DEFAULT "/usr/share/keyrings/debian-archive-keyring.gpg"
#define TPL_DEBOOTSTRAP_ENV "BULKHEAD_DEBOOTSTRAP"
#define TPL_LABEL_DEFAULT   "black"
#define TPL_REPONAME        "debian"
/* the group qubes of Qubes' templates (and of the host template) */
#define TPL_QUBES_GID 98u

/* Longest --mirror, --suite, --keyring and --include we take. */
#define TPL_ARG_MAX 512
/* Longest line of debootstrap's output shown whole. */
#define TPL_LINE_MAX 1024
/* Lines of debootstrap's output kept to show on failure with -q. */
#define TPL_TAIL_LINES 20
/* How long debootstrap has to stop after SIGTERM before SIGKILL. */
#define TPL_KILL_GRACE_MS 10000
/* Largest account file (/etc/passwd, ...) of the new tree we read. */
#define TPL_ACCOUNTS_MAX ((size_t)1024 * 1024)

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* What can be installed. */
struct tpl_def {
	const char *name;
	const char *version; /* the release, as offered */
	const char *suite;   /* debootstrap's SUITE; NULL: not debootstrap */
	const char *summary;
};

static const struct tpl_def tpl_defs[] = {
    {"debian-12", "12", "bookworm",
        "Debian 12 (bookworm), minimal: debootstrap's minbase variant"},
    /* a VM template (virt_mode=vm) of Debian's busybox-static alone,
     * made by bulkhead-vm-kernel rootfs: seconds, no download */
    {"busybox", "1", NULL,
        "minimal VM template: Debian's busybox-static (virt_mode=vm)"},
};

enum {
	OPT_YES = CLI_OPT_FIRST_TOOL,
	OPT_LABEL,
	OPT_MIRROR,
	OPT_SUITE,
	OPT_KEYRING,
	OPT_INCLUDE,
	OPT_LIST_ALL,
	OPT_INSTALLED,
	OPT_AVAILABLE,
	OPT_MACHINE,
	OPT_JSON,
};

/* The commands, as bits: which command an option belongs to. */
#define CMD_LIST    1u
#define CMD_INSTALL 2u
#define CMD_REMOVE  4u

static const struct {
	int opt;
	unsigned cmds;
	const char *name;
} opt_cmds[] = {
    {OPT_YES, CMD_LIST | CMD_INSTALL | CMD_REMOVE, "yes"},
    {OPT_LABEL, CMD_INSTALL, "label"},
    {OPT_MIRROR, CMD_INSTALL, "mirror"},
    {OPT_SUITE, CMD_INSTALL, "suite"},
    {OPT_KEYRING, CMD_INSTALL, "keyring"},
    {OPT_INCLUDE, CMD_INSTALL, "include"},
    {OPT_LIST_ALL, CMD_LIST, "all"},
    {OPT_INSTALLED, CMD_LIST, "installed"},
    {OPT_AVAILABLE, CMD_LIST, "available"},
    {OPT_MACHINE, CMD_LIST, "machine-readable"},
    {OPT_JSON, CMD_LIST, "machine-readable-json"},
};

struct opts {
	struct cli_common co;
	unsigned seen; /* bit i: opt_cmds[i] was given */
	bool yes;
	const char *label;
	const char *mirror;
	const char *suite; /* NULL: the template's own */
	const char *keyring;
	const char *include; /* NULL: none */
	bool all, installed, available, machine, json;
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-template [options] list [--installed | --available | "
	    "--all]\n"
	    "           [--machine-readable | --machine-readable-json] "
	    "[TEMPLATESPEC...]\n"
	    "       qvm-template [options] install [--label LABEL] [--mirror "
	    "URL]\n"
	    "           [--suite SUITE] [--keyring FILE] [--include PKG,...] "
	    "TEMPLATE...\n"
	    "       qvm-template [options] remove [--yes] TEMPLATE...\n"
	    "\n"
	    "Manage templates: list those that can be installed and those "
	    "that are,\n"
	    "install one, remove one.  Two templates are on offer.  debian-12: "
	    "Debian 12\n"
	    "(bookworm) made on this machine by debootstrap --variant=minbase "
	    "from\n"
	    "Debian's archive, whose signatures debootstrap checks against "
	    "Debian's\n"
	    "keyring.  Installing it downloads some 90 packages and takes up "
	    "to a few\n"
	    "minutes; the template's root takes about 200 MB.  busybox: a "
	    "minimal\n"
	    "template for VM qubes (virt_mode=vm): the host's static busybox "
	    "(Debian's\n"
	    "busybox-static) and a root and a user account, made in a second "
	    "by\n"
	    "bulkhead-vm-kernel rootfs; its qubes need a kernel in the pool\n"
	    "(bulkhead-vm-kernel install).\n"
	    "\n"
	    "Commands:\n"
	    "  list     \"Installed Templates\" (the TemplateVMs installed by "
	    "qvm-template)\n"
	    "           and \"Available Templates\", each a table of name, "
	    "epoch:version-\n"
	    "           release and repository; TEMPLATESPEC (shell "
	    "wildcards) limits\n"
	    "           the names; nothing to list is a usage error, as in "
	    "Qubes\n"
	    "  install  create the TemplateVM TEMPLATE and build its root "
	    "with\n"
	    "           debootstrap, showing debootstrap's lines with the time "
	    "taken; a\n"
	    "           failure or an interrupt (Ctrl-C) removes the half-made "
	    "template\n"
	    "           and its files.  An installed template is skipped.  "
	    "Needs root, on\n"
	    "           the host bulkheadd runs on\n"
	    "  remove   remove templates and their files (qvm-remove), after "
	    "listing\n"
	    "           them and asking \"Are you sure? [y/N]\" (a line of "
	    "standard input)\n"
	    "           unless --yes; each must be a halted TemplateVM that no "
	    "qube uses\n"
	    "\n"
	    "Options of list:\n"
	    "      --installed      only the installed templates\n"
	    "      --available      only the templates that can be installed\n"
	    "      --all            both (the default)\n"
	    "      --machine-readable\n"
	    "                       lines STATUS|NAME|EPOCH:VERSION-RELEASE|"
	    "REPOSITORY\n"
	    "      --machine-readable-json\n"
	    "                       one JSON object: {\"installed\": [{\"name\": "
	    "..., \"evr\":\n"
	    "                       ..., \"reponame\": ...}], \"available\": "
	    "[...]}\n"
	    "Options of install:\n"
	    "      --label LABEL    the template's label (default " TPL_LABEL_DEFAULT
	    ")\n"
	    "      --mirror URL     the Debian archive, http://, https:// or "
	    "file:///\n"
	    "                       (default " TPL_MIRROR_DEFAULT ")\n"
	    "      --suite SUITE    the Debian release to install (default the "
	    "template's,\n"
	    "                       bookworm for debian-12)\n"
	    "      --keyring FILE   the keyring that the archive's signature "
	    "must match\n"
	    "                       (default " TPL_KEYRING_DEFAULT ")\n"
	    "      --include PKG,...\n"
	    "                       more packages to install (debootstrap's "
	    "--include)\n"
	    "Options of remove:\n"
	    "      --yes            do not ask for confirmation\n"
	    "\n"
	    "Common options (before or after the command):\n" CLI_COMMON_HELP
	    "  (-q hides debootstrap's lines, but for the last ones of a "
	    "failure)\n"
	    "\n"
	    "Exit status: 0 success (also a template already installed), 1 "
	    "failure (an\n"
	    "install that failed or was interrupted leaves nothing behind; a "
	    "cancelled\n"
	    "remove), 2 usage error (also an unknown template or qube, or "
	    "nothing to list).\n"
	    "\n" CLI_ENV_HELP "  " TPL_DEBOOTSTRAP_ENV
	    "   the debootstrap program (default debootstrap,\n"
	    "                         looked up on PATH, then in /usr/sbin)\n");
}

/* ---- the daemon ---- */

/*
 * A feature of vm, quoted for printing, into out.  1 set, 0 not set, -1
 * after a message.
 */
static int
feature_get(const char *vm, const char *feature, char *out, size_t n)
{
	struct admin_reply r;
	char what[128];

	if (cli_call(vm, "admin.vm.feature.Get", feature, NULL, 0, &r) < 0)
		return -1;
	if (!r.ok) {
		bool unset = admin_exc_is(r.exc, ADMIN_EXC_FEATURE_NOT_FOUND);

		if (!unset) {
			(void)snprintf(
			    what, sizeof(what), "%s: %s", vm, feature);
			cli_print_exc(what, &r);
		}
		admin_reply_free(&r);
		return unset ? 0 : -1;
	}
	(void)cli_quote(r.data, out, n);
	admin_reply_free(&r);
	return 1;
}

static int
feature_set(const char *vm, const char *feature, const char *value)
{
	char what[128];

	(void)snprintf(what, sizeof(what), "%s: feature %s", vm, feature);
	return cli_call_ok(what, vm, "admin.vm.feature.Set", feature, value,
	    strlen(value), NULL);
}

/* One row of list's tables. */
struct tpl_row {
	const char *status; /* "installed", "available" */
	char name[ADMIN_NAME_MAX];
	char evr[160];
	char repo[96];
};

/* Was vm installed by qvm-template (template-name is its name)?  1, 0,
 * or -1 after a message. */
static int
is_managed(const struct admin_vm *vm)
{
	char v[ADMIN_NAME_MAX * 4];
	int r;

	if (strcmp(vm->klass, "TemplateVM") != 0)
		return 0;
	r = feature_get(vm->name, "template-name", v, sizeof(v));
	if (r <= 0)
		return r;
	return strcmp(v, vm->name) == 0;
}

/* The installed template's row, from its features. 0, or -1. */
static int
installed_row(const struct admin_vm *vm, struct tpl_row *row)
{
	char e[32] = "0", v[64] = "?", rel[64] = "?";

	memset(row, 0, sizeof(*row));
	row->status = "installed";
	(void)str_copy(row->name, sizeof(row->name), vm->name);
	(void)str_copy(row->repo, sizeof(row->repo), "?");
	if (feature_get(vm->name, "template-epoch", e, sizeof(e)) < 0 ||
	    feature_get(vm->name, "template-version", v, sizeof(v)) < 0 ||
	    feature_get(vm->name, "template-release", rel, sizeof(rel)) < 0 ||
	    feature_get(vm->name, "template-reponame", row->repo,
	        sizeof(row->repo)) < 0)
		return -1;
	(void)snprintf(row->evr, sizeof(row->evr), "%s:%s-%s", e, v, rel);
	return 0;
}

/* ---- list ---- */

static bool
spec_match(char *const *specs, size_t n, const char *name)
{
	size_t i;

	if (n == 0)
		return true;
	for (i = 0; i < n; i++)
		if (fnmatch(specs[i], name, 0) == 0)
			return true;
	return false;
}

static void
print_rows_human(const struct tpl_row *rows, size_t n)
{
	char **cells = cli_calloc(n * 3, sizeof(*cells));
	size_t i = 0, start;

	while (i < n) {
		start = i;
		while (
		    i < n && strcmp(rows[i].status, rows[start].status) == 0) {
			cells[(i - start) * 3] = (char *)rows[i].name;
			cells[(i - start) * 3 + 1] = (char *)rows[i].evr;
			cells[(i - start) * 3 + 2] = (char *)rows[i].repo;
			i++;
		}
		(void)printf("%s\n",
		    strcmp(rows[start].status, "installed") == 0 ?
		        "Installed Templates" :
		        "Available Templates");
		cli_print_table(stdout, cells, i - start, 3);
	}
	free(cells);
}

static int
print_rows_json(const struct tpl_row *rows, size_t n)
{
	json_t *top = json_object();
	char *text;
	size_t i;
	int rc = 0;

	if (top == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		json_t *arr = json_object_get(top, rows[i].status);
		json_t *o = json_pack("{s:s, s:s, s:s}", "name", rows[i].name,
		    "evr", rows[i].evr, "reponame", rows[i].repo);

		if (o == NULL) {
			rc = -1;
			break;
		}
		if (arr == NULL) {
			arr = json_array();
			if (arr == NULL ||
			    json_object_set_new(top, rows[i].status, arr) < 0) {
				json_decref(o);
				rc = -1;
				break;
			}
		}
		if (json_array_append_new(arr, o) < 0) {
			rc = -1;
			break;
		}
	}
	text = rc == 0 ? json_dumps(top, JSON_PRESERVE_ORDER) : NULL;
	if (text != NULL) {
		(void)printf("%s\n", text);
		free(text);
	} else
		rc = -1;
	json_decref(top);
	return rc;
}

static int
cmd_list(const struct opts *o, char *const *specs, size_t nspecs)
{
	struct admin_vm_list list = {NULL, 0};
	bool all = o->all || (!o->installed && !o->available);
	struct tpl_row *rows;
	size_t n = 0, i;
	int rc = CLI_EXIT_FAIL;

	if (o->machine && o->json)
		cli_usage_fail("--machine-readable and --machine-readable-json "
		               "exclude each other");
	/* what is available needs no daemon (completion asks for it) */
	if ((all || o->installed) && cli_list_qubes(&list) < 0)
		return CLI_EXIT_FAIL;
	rows = cli_calloc(list.n + ARRAY_SIZE(tpl_defs), sizeof(*rows));
	for (i = 0; (all || o->installed) && i < list.n; i++) {
		int m;

		if (!spec_match(specs, nspecs, list.vm[i].name))
			continue;
		m = is_managed(&list.vm[i]);
		if (m < 0 ||
		    (m == 1 && installed_row(&list.vm[i], &rows[n++]) < 0))
			goto out;
	}
	for (i = 0; (all || o->available) && i < ARRAY_SIZE(tpl_defs); i++) {
		if (!spec_match(specs, nspecs, tpl_defs[i].name))
			continue;
		rows[n].status = "available";
		(void)str_copy(
		    rows[n].name, sizeof(rows[n].name), tpl_defs[i].name);
		(void)snprintf(rows[n].evr, sizeof(rows[n].evr), "0:%s-%s",
		    tpl_defs[i].version,
		    tpl_defs[i].suite != NULL ? tpl_defs[i].suite : "vm");
		(void)str_copy(
		    rows[n].repo, sizeof(rows[n].repo), TPL_REPONAME);
		n++;
	}
	if (n == 0) {
		free(rows);
		admin_vm_list_free(&list);
		cli_usage_fail("No matching templates to list");
	}
	if (o->json) {
		if (print_rows_json(rows, n) < 0) {
			cli_errx("out of memory");
			goto out;
		}
	} else if (o->machine) {
		for (i = 0; i < n; i++)
			(void)printf("%s|%s|%s|%s\n", rows[i].status,
			    rows[i].name, rows[i].evr, rows[i].repo);
	} else
		print_rows_human(rows, n);
	rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	free(rows);
	admin_vm_list_free(&list);
	return rc;
}

/* ---- remove ---- */

static int
cmd_remove(const struct opts *o, char *const *names, size_t n)
{
	struct admin_vm_list list = {NULL, 0};
	char answer[64], q[256];
	size_t i;
	int rc = CLI_EXIT_FAIL;

	if (n == 0)
		cli_usage_fail("remove: expected TEMPLATE...");
	if (cli_list_qubes(&list) < 0)
		return CLI_EXIT_FAIL;
	for (i = 0; i < n; i++) {
		const struct admin_vm *vm = admin_vm_list_find(&list, names[i]);

		if (vm == NULL) {
			admin_vm_list_free(&list);
			cli_usage_fail("no such domain: '%s'",
			    cli_quote(names[i], q, sizeof(q)));
		}
		if (strcmp(vm->klass, "TemplateVM") != 0) {
			bool an = vm->klass[0] == 'A';

			(void)cli_quote(vm->klass, q, sizeof(q));
			admin_vm_list_free(&list);
			cli_usage_fail("%s is not a template but a%s %s (use "
			               "qvm-remove)",
			    names[i], an ? "n" : "", q);
		}
	}
	if (!o->yes) {
		(void)fprintf(stderr,
		    "This will completely remove the selected VM(s)...\n");
		for (i = 0; i < n; i++)
			(void)fprintf(stderr, "  %s\n", names[i]);
		if (cli_ask("Are you sure? [y/N] ", answer, sizeof(answer)) <
		        0 ||
		    strcasecmp(answer, "y") != 0) {
			(void)fprintf(stderr, "command cancelled.\n");
			goto out;
		}
	}
	/* one at a time, stopping at the first failure (as qvm-remove) */
	for (i = 0; i < n; i++)
		if (cli_call_ok(names[i], names[i], "admin.vm.Remove", NULL,
		        NULL, 0, NULL) < 0)
			goto out;
	rc = CLI_EXIT_OK;
out:
	admin_vm_list_free(&list);
	return rc;
}

/* ---- install: processes and files ---- */

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

/* SIGINT, SIGTERM and SIGHUP only set got_signal: the install checks it
 * between its steps and undoes what it did. */
static void
catch_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: poll() returns at once */
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		(void)sigaction(sigs[i], &sa, NULL);
}

/* In a child: the signals as a new program expects them. */
static void
default_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
	sigset_t none;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		(void)signal(sigs[i], SIG_DFL);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* "3m07s" */
static const char *
elapsed(uint64_t t0, char *out, size_t n)
{
	uint64_t s = (now_ms() - t0) / 1000;

	if (s < 60)
		(void)snprintf(out, n, "%us", (unsigned)s);
	else
		(void)snprintf(
		    out, n, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
	return out;
}

/*
 * rm -rf --one-file-system PATH, in a child in a process group of its
 * own (a second Ctrl-C must not stop the cleaning up).  0 or -EIO.
 */
static int
remove_tree(const char *path)
{
	int status;
	pid_t pid;

	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		(void)setpgid(0, 0);
		default_signals();
		execl("/bin/rm", "rm", "-rf", "--one-file-system", "--", path,
		    (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* The debootstrap to run: $BULKHEAD_DEBOOTSTRAP or debootstrap, looked
 * up on PATH, then in /usr/sbin (root's PATH may lack it).  0 or -ENOENT. */
static int
find_debootstrap(char *out, size_t n)
{
	const char *want = getenv(TPL_DEBOOTSTRAP_ENV);
	const char *path = getenv("PATH");
	char dirs[4096];
	char *save = NULL, *d;

	if (want == NULL || want[0] == '\0')
		want = "debootstrap";
	if (strchr(want, '/') != NULL) {
		if (access(want, X_OK) < 0)
			return -ENOENT;
		return str_copy(out, n, want);
	}
	if (str_printf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin",
	        path != NULL ? path : "/usr/bin:/bin") < 0)
		return -ENOENT;
	for (d = strtok_r(dirs, ":", &save); d != NULL;
	     d = strtok_r(NULL, ":", &save))
		if (d[0] == '/' && str_printf(out, n, "%s/%s", d, want) == 0 &&
		    access(out, X_OK) == 0)
			return 0;
	return -ENOENT;
}

/*
 * The child that runs debootstrap, in a process group of its own so that
 * it can be signalled as a whole.  It enters new mount and pid
 * namespaces and stays outside them as the waiter: debootstrap is PID 1
 * of the new pid namespace, so when it ends (or the waiter, or we, die:
 * the parent-death signals) the kernel kills whatever it left running,
 * and its mounts (proc, sys in the new tree) go with the namespace.
 * The waiter ignores SIGINT/SIGTERM/SIGHUP so that it can report how
 * debootstrap ended; it exits with debootstrap's status, 128+N for a
 * signal N, 126 if the namespaces could not be made, 127 if the program
 * could not run.
 */
static _Noreturn void
debootstrap_child(pid_t parent, const char *prog, char *const *argv, int out)
{
	int devnull, status;
	pid_t pid;

	(void)setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(126);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(out, 2) < 0)
		_exit(126);
	if (unshare(CLONE_NEWNS | CLONE_NEWPID) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		(void)dprintf(2,
		    "qvm-template: namespaces for debootstrap: %s\n",
		    strerror(errno));
		_exit(126);
	}
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGTERM, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	pid = fork();
	if (pid < 0)
		_exit(126);
	if (pid == 0) {
		default_signals();
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(126);
		execv(prog, argv);
		(void)dprintf(
		    2, "qvm-template: %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(126);
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

/* debootstrap's output: shown line by line with the time taken, the last
 * lines kept for a failure's report. */
struct out_lines {
	char part[TPL_LINE_MAX];
	size_t len;
	char tail[TPL_TAIL_LINES][TPL_LINE_MAX];
	size_t ntail; /* lines seen */
	bool show;
	uint64_t t0;
};

static void
out_line(struct out_lines *ol)
{
	char q[TPL_LINE_MAX * 4 + 8];
	uint64_t s = (now_ms() - ol->t0) / 1000;

	ol->part[ol->len] = '\0';
	ol->len = 0;
	if (ol->part[0] == '\0')
		return;
	(void)cli_quote(ol->part, q, sizeof(q));
	(void)str_copy(
	    ol->tail[ol->ntail++ % TPL_TAIL_LINES], TPL_LINE_MAX, ol->part);
	if (ol->show)
		(void)fprintf(stderr, "[%2u:%02u] %s\n", (unsigned)(s / 60),
		    (unsigned)(s % 60), q);
}

static void
out_feed(struct out_lines *ol, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n' || buf[i] == '\r')
			out_line(ol);
		else if (buf[i] != '\0') {
			ol->part[ol->len++] = buf[i];
			if (ol->len == sizeof(ol->part) - 1)
				out_line(ol);
		}
	}
}

/* The lines kept, for a failure that -q kept quiet. */
static void
out_tail(const struct out_lines *ol)
{
	char q[TPL_LINE_MAX * 4 + 8];
	size_t i = ol->ntail > TPL_TAIL_LINES ? ol->ntail - TPL_TAIL_LINES : 0;

	for (; i < ol->ntail; i++)
		(void)fprintf(stderr, "  %s\n",
		    cli_quote(ol->tail[i % TPL_TAIL_LINES], q, sizeof(q)));
}

/* The end of debootstrap's own log in the tree, if it left one: where
 * dpkg's errors are. */
static void
show_debootstrap_log(const char *root)
{
	char path[PATH_MAX], buf[4096], q[TPL_LINE_MAX * 4 + 8];
	char *line, *save = NULL;
	struct stat st;
	ssize_t got;
	int fd;

	if (str_printf(
	        path, sizeof(path), "%s/debootstrap/debootstrap.log", root) < 0)
		return;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		off_t at = st.st_size > (off_t)sizeof(buf) - 1 ?
		    st.st_size - (off_t)sizeof(buf) + 1 :
		    0;

		got = pread(fd, buf, sizeof(buf) - 1, at);
		if (got > 0) {
			buf[got] = '\0';
			/* a partial first line is left out */
			line = at > 0 ? strchr(buf, '\n') : buf;
			if (line == NULL)
				line = buf;
			(void)fprintf(stderr,
			    "The end of debootstrap's log (%s):\n", path);
			for (line = strtok_r(line, "\n", &save); line != NULL;
			     line = strtok_r(NULL, "\n", &save))
				(void)fprintf(stderr, "  %s\n",
				    cli_quote(line, q, sizeof(q)));
		}
	}
	(void)close(fd);
}

/*
 * Run debootstrap (argv) and pass its output on.  On a signal, it is sent
 * SIGTERM (debootstrap cleans up and exits), then after
 * TPL_KILL_GRACE_MS SIGKILL.  0 if it succeeded, -EINTR if a signal
 * stopped us, -EIO if it failed (the reason was printed).
 */
static int
run_debootstrap(const char *prog, char *const *argv, bool show, uint64_t t0)
{
	static struct out_lines ol;
	uint64_t kill_at = 0, drain_until = 0;
	bool killing = false, exited = false;
	int p[2], status = 0;
	char buf[4096];
	pid_t pid, parent = getpid();

	memset(&ol, 0, sizeof(ol));
	ol.show = show;
	ol.t0 = t0;
	if (pipe2(p, O_CLOEXEC) < 0) {
		cli_errx("pipe: %s", strerror(errno));
		return -EIO;
	}
	(void)fflush(stderr);
	pid = fork();
	if (pid < 0) {
		cli_errx("fork: %s", strerror(errno));
		(void)close(p[0]);
		(void)close(p[1]);
		return -EIO;
	}
	if (pid == 0) {
		(void)close(p[0]);
		debootstrap_child(parent, prog, argv, p[1]);
	}
	/* as the child does: no window in which kill(-pid) misses it */
	(void)setpgid(pid, pid);
	(void)close(p[1]);
	for (;;) {
		uint64_t now = now_ms();

		if (got_signal && !killing) {
			(void)fprintf(stderr, "%s: %s: stopping debootstrap\n",
			    cli_prog(), strsignal(got_signal));
			(void)kill(-pid, SIGTERM);
			killing = true;
			kill_at = now + TPL_KILL_GRACE_MS;
		}
		if (kill_at != 0 && now >= kill_at) {
			(void)kill(-pid, SIGKILL);
			kill_at = 0;
		}
		if (p[0] >= 0) {
			struct pollfd pfd = {p[0], POLLIN, 0};

			if (poll(&pfd, 1, 200) > 0) {
				ssize_t n = read(p[0], buf, sizeof(buf));

				if (n > 0)
					out_feed(&ol, buf, (size_t)n);
				else if (n == 0 || errno != EINTR) {
					out_line(&ol);
					close_fd(&p[0]);
				}
			}
		} else {
			struct timespec tick = {0, 50L * 1000 * 1000};

			(void)nanosleep(&tick, NULL);
		}
		if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
			exited = true;
			/* the pid namespace is gone: its writers too */
			drain_until = now_ms() + 2000;
		}
		if (exited && (p[0] < 0 || now_ms() >= drain_until))
			break;
	}
	close_fd(&p[0]);
	if (killing)
		return -EINTR;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (!show)
		out_tail(&ol);
	if (WIFEXITED(status))
		cli_errx(
		    "debootstrap failed (exit status %d)", WEXITSTATUS(status));
	else
		cli_errx(
		    "debootstrap failed (%s)", strsignal(WTERMSIG(status)));
	return -EIO;
}

/* Read a file below dirfd (no symbolic link followed) into a new buffer.
 * 0 or -errno. */
static int
read_at(int dirfd, const char *name, char **ret, size_t *ret_len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	*ret = NULL;
	*ret_len = 0;
	if (fd < 0)
		return errno > 0 ? -errno : -EIO;
	r = io_read_to_eof(fd, TPL_ACCOUNTS_MAX, ret, ret_len);
	(void)close(fd);
	if (r < 0 || *ret == NULL) {
		*ret = NULL;
		*ret_len = 0;
		return r < 0 ? r : -EIO;
	}
	return 0;
}

/* Create or replace a file below dirfd (a symbolic link there is
 * replaced, never followed).  0 or -errno. */
static int
replace_at(int dirfd, const char *name, const char *text, mode_t mode)
{
	int fd, r = 0;

	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, name,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0)
		r = io_write_all(fd, text, strlen(text));
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

/* Append lines to a file below dirfd, after a newline if its last line
 * lacks one.  0 or -errno. */
static int
append_at(int dirfd, const char *name, const char *old, size_t oldlen,
    const char *text)
{
	int fd, r = 0;

	fd = openat(dirfd, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (oldlen > 0 && old[oldlen - 1] != '\n')
		r = io_write_all(fd, "\n", 1);
	if (r == 0)
		r = io_write_all(fd, text, strlen(text));
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

/*
 * In the text of /etc/passwd or /etc/group: the id (third field) of the
 * entry called name in *ret_id (1), or 0 if there is none.  With
 * name NULL, look for an entry with id instead: 1 if there is one.
 */
static int
account_find(
    const char *text, const char *name, unsigned long id, unsigned long *ret_id)
{
	const char *line = text;

	while (line != NULL && *line != '\0') {
		const char *end = strchr(line, '\n');
		const char *c1 = strchr(line, ':');
		const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
		size_t nl = c1 != NULL ? (size_t)(c1 - line) : 0;

		if (c2 != NULL && (end == NULL || c2 < end)) {
			char *stop;
			unsigned long v = strtoul(c2 + 1, &stop, 10);

			if (name != NULL && strlen(name) == nl &&
			    strncmp(line, name, nl) == 0) {
				*ret_id = v;
				return 1;
			}
			if (name == NULL && v == id && *stop == ':')
				return 1;
		}
		line = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

/*
 * Make sure the account file etc/<file> has the entry name with id:
 * nothing to do if it is there, appended (line) if neither the name nor
 * the id is taken, an error otherwise.  0, or -1 after a message.
 */
static int
ensure_account(int etcfd, const char *file, const char *name, unsigned long id,
    const char *line)
{
	unsigned long have;
	size_t len = 0;
	char *text = NULL;
	int r;

	if ((r = read_at(etcfd, file, &text, &len)) < 0) {
		cli_errx("the new tree's /etc/%s: %s", file, strerror(-r));
		return -1;
	}
	if (account_find(text, name, 0, &have) == 1) {
		free(text);
		if (have == id)
			return 0;
		cli_errx("the new tree's /etc/%s has %s with id %lu, not %lu",
		    file, name, have, id);
		return -1;
	}
	if (account_find(text, NULL, id, &have) == 1) {
		free(text);
		cli_errx("the new tree's /etc/%s: id %lu is taken", file, id);
		return -1;
	}
	r = append_at(etcfd, file, text, len, line);
	free(text);
	if (r < 0) {
		cli_errx("the new tree's /etc/%s: %s", file, strerror(-r));
		return -1;
	}
	return 0;
}

/* An entry of shadow or gshadow (name's line), added if missing.  0 or
 * -1 after a message; a missing file is left missing. */
static int
ensure_shadow(int etcfd, const char *file, const char *name, const char *line)
{
	size_t len = 0, nl = strlen(name);
	char *text = NULL;
	const char *p;
	int r;

	r = read_at(etcfd, file, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		cli_errx("the new tree's /etc/%s: %s", file, strerror(-r));
		return -1;
	}
	for (p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
			free(text);
			return 0;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	r = append_at(etcfd, file, text, len, line);
	free(text);
	if (r < 0) {
		cli_errx("the new tree's /etc/%s: %s", file, strerror(-r));
		return -1;
	}
	return 0;
}

/* /etc/debian_version's first line, if it is a plausible version, into
 * out; else fallback. */
static void
read_debian_version(int etcfd, const char *fallback, char *out, size_t n)
{
	char *text = NULL;
	size_t len = 0, i;

	(void)str_copy(out, n, fallback);
	if (read_at(etcfd, "debian_version", &text, &len) < 0)
		return;
	for (i = 0; i < len && text[i] != '\n'; i++)
		if (text[i] == '\0' || strchr(ALNUM ".+~", text[i]) == NULL)
			break;
	if (i > 0 && i < n && i < 32 && (i == len || text[i] == '\n')) {
		memcpy(out, text, i);
		out[i] = '\0';
	}
	free(text);
}

/*
 * Make the tree debootstrap built at root a bulkhead template: the
 * accounts of a qube (user 1000 with group qubes, as in Qubes' templates
 * and bulkhead's host template), the qube's tools on login shells' PATH,
 * no copy of the host's hostname or resolver configuration, /rw (the
 * private volume's mount point), an empty /dev (each qube gets its own).
 * Writes the Debian version it finds into version.  0, or -1 after a
 * message.
 */
static int
prepare_root(const char *root, const char *name, const char *fallback,
    char *version, size_t vlen)
{
	char text[512], dev[PATH_MAX];
	unsigned long days = (unsigned long)(time(NULL) / 86400);
	int rootfd = -1, etcfd = -1, pdfd = -1, rc = -1, r;

	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rootfd < 0) {
		cli_errx("%s: %s", root, strerror(errno));
		goto out;
	}
	etcfd = openat(
	    rootfd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (etcfd < 0 ||
	    faccessat(rootfd, "usr/bin/bash", X_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		cli_errx("debootstrap made no usable tree in %s (no /etc or "
		         "/usr/bin/bash)",
		    root);
		goto out;
	}
	(void)snprintf(text, sizeof(text),
	    "user:x:%u:%u:user:/home/user:/bin/bash\n", SANDBOX_USER_UID,
	    SANDBOX_USER_UID);
	if (ensure_account(etcfd, "passwd", "user", SANDBOX_USER_UID, text) < 0)
		goto out;
	(void)snprintf(text, sizeof(text), "qubes:x:%u:user\n", TPL_QUBES_GID);
	if (ensure_account(etcfd, "group", "qubes", TPL_QUBES_GID, text) < 0)
		goto out;
	(void)snprintf(text, sizeof(text), "user:x:%u:\n", SANDBOX_USER_UID);
	if (ensure_account(etcfd, "group", "user", SANDBOX_USER_UID, text) < 0)
		goto out;
	/* no password: the qube's users are reached through qrexec */
	(void)snprintf(text, sizeof(text), "user:*:%lu:0:99999:7:::\n", days);
	if (ensure_shadow(etcfd, "shadow", "user", text) < 0 ||
	    ensure_shadow(etcfd, "gshadow", "qubes", "qubes:!::user\n") < 0 ||
	    ensure_shadow(etcfd, "gshadow", "user", "user:!::\n") < 0)
		goto out;
	/* login shells reset PATH: the qube's tools stay on it (the same
	 * snippet as the host template's) */
	if (mkdirat(etcfd, "profile.d", 0755) < 0 && errno != EEXIST) {
		cli_errx("the new tree's /etc/profile.d: %s", strerror(errno));
		goto out;
	}
	pdfd = openat(etcfd, "profile.d",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = pdfd < 0 ?
	    -errno :
	    replace_at(pdfd, "bulkhead.sh", SANDBOX_PROFILE_SNIPPET, 0644);
	/* debootstrap copied the host's hostname and resolv.conf */
	(void)snprintf(text, sizeof(text), "%s\n", name);
	if (r == 0)
		r = replace_at(etcfd, "hostname", text, 0644);
	(void)snprintf(text, sizeof(text),
	    "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n"
	    "::1\tlocalhost ip6-localhost ip6-loopback\n",
	    name);
	if (r == 0)
		r = replace_at(etcfd, "hosts", text, 0644);
	if (r == 0)
		r = replace_at(
		    etcfd, "resolv.conf", "# no network yet\n", 0644);
	if (r == 0 && mkdirat(rootfd, "rw", 0755) < 0 && errno != EEXIST)
		r = -errno;
	if (r == 0 && mkdirat(rootfd, "home", 0755) < 0 && errno != EEXIST)
		r = -errno;
	/*
	 * XXX(#5): the launcher makes its mount points in a template's own
	 * root (started read-write) through the idmapped mount, where host
	 * root has no id and mkdir fails with EOVERFLOW; those of a Debian
	 * tree exist but for /rw (above) and this one.
	 */
	if (r == 0 && mkdirat(rootfd, ".oldroot", 0700) < 0 && errno != EEXIST)
		r = -errno;
	if (r < 0) {
		cli_errx("preparing %s: %s", root, strerror(-r));
		goto out;
	}
	/* debootstrap's device nodes: a qube mounts its own /dev */
	if (str_printf(dev, sizeof(dev), "%s/dev", root) < 0 ||
	    remove_tree(dev) < 0 || mkdirat(rootfd, "dev", 0755) < 0) {
		cli_errx("%s: could not empty it", dev);
		goto out;
	}
	if (fchmod(rootfd, 0755) < 0) {
		cli_errx("%s: %s", root, strerror(errno));
		goto out;
	}
	read_debian_version(etcfd, fallback, version, vlen);
	rc = 0;
out:
	close_fd(&pdfd);
	close_fd(&etcfd);
	close_fd(&rootfd);
	return rc;
}

/* ---- install ---- */

/* A path without ".", ".." or empty components, control characters or
 * a trailing slash. */
static bool
path_clean(const char *p)
{
	const char *c;

	if (p[0] != '/' || p[1] == '\0' || p[strlen(p) - 1] == '/' ||
	    strstr(p, "//") != NULL || strstr(p, "/./") != NULL ||
	    strstr(p, "/../") != NULL)
		return false;
	for (c = p; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

/* A directory of root's, not a symbolic link? */
static bool
root_dir(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0;
}

/*
 * The root volume of the new template: admin.vm.volume.Info's vid, a
 * directory <state>/qubes/<name>/root of this host that does not exist
 * yet; its parent is made if missing.  0, or -1 after a message.
 */
static int
root_volume(const char *name, char *vid, size_t n)
{
	struct admin_reply r;
	char want[ADMIN_NAME_MAX + 8], dir[PATH_MAX], state[PATH_MAX];
	char *slash;
	int rc;

	if (cli_call_ok(
	        name, name, "admin.vm.volume.Info", "root", NULL, 0, &r) < 0)
		return -1;
	rc = admin_kv_get(r.data, r.len, "vid", vid, n);
	admin_reply_free(&r);
	(void)snprintf(want, sizeof(want), "/%s/root", name);
	if (rc != 1 || !path_clean(vid) || strlen(vid) <= strlen(want) ||
	    strcmp(vid + strlen(vid) - strlen(want), want) != 0) {
		cli_errx("%s: the daemon's root volume is no directory of a "
		         "template (vid %s)",
		    name, rc == 1 ? vid : "missing");
		return -1;
	}
	(void)str_copy(dir, sizeof(dir), vid);
	slash = strrchr(dir, '/');
	*slash = '\0'; /* <state>/qubes/<name> */
	(void)str_copy(state, sizeof(state), dir);
	slash = strrchr(state, '/');
	*slash = '\0'; /* <state>/qubes */
	if (!root_dir(state)) {
		cli_errx("%s: %s is not a directory of this machine's: run "
		         "qvm-template on bulkheadd's host",
		    name, state);
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		cli_errx("%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!root_dir(dir)) {
		cli_errx("%s: not a directory of root's", dir);
		return -1;
	}
	/* a new template has no root yet (an empty directory will do) */
	if (rmdir(vid) < 0 && errno != ENOENT) {
		cli_errx("%s: %s (a root volume is there already)", vid,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static bool
arg_ok(const char *s, const char *allowed)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > TPL_ARG_MAX)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (strchr(allowed, s[i]) == NULL)
			return false;
	return true;
}

static void
check_install_args(const struct opts *o)
{
	if (!(str_startswith(o->mirror, "http://") ||
	        str_startswith(o->mirror, "https://") ||
	        str_startswith(o->mirror, "file:///")) ||
	    !arg_ok(o->mirror, ALNUM "-._~:/?#[]@!$&'()*+,;=%"))
		cli_usage_fail("--mirror: expected an http://, https:// or "
		               "file:/// URL");
	if (o->suite != NULL && !arg_ok(o->suite, ALNUM "-._"))
		cli_usage_fail("--suite: expected a Debian release name");
	if (o->keyring[0] != '/' || !arg_ok(o->keyring, ALNUM "-._/+"))
		cli_usage_fail("--keyring: expected an absolute file name");
	if (o->include != NULL && !arg_ok(o->include, ALNUM "-.+,:"))
		cli_usage_fail("--include: expected package names separated "
		               "by commas");
	if (!arg_ok(o->label, ALNUM "-_"))
		cli_usage_fail("--label: expected a label name");
}

/* The features Qubes' qvm-template records, template-name last: it makes
 * the template an installed one.  0, or -1 after a message. */
static int
record_features(const struct tpl_def *t, const struct opts *o,
    const char *suite, const char *version)
{
	char now[32], rel[16], desc[TPL_ARG_MAX * 2 + 128];
	time_t clock = time(NULL);
	struct tm tm;
	const char *kv[][2] = {
	    {"template-epoch", "0"},
	    {"template-version", version},
	    {"template-release", rel},
	    {"template-reponame", TPL_REPONAME},
	    {"template-buildtime", now},
	    {"template-installtime", now},
	    {"template-license", "DFSG"},
	    {"template-url", o->mirror},
	    {"template-summary", t->summary},
	    {"template-description", desc},
	    {"template-name", t->name},
	};
	size_t i;

	if (gmtime_r(&clock, &tm) == NULL)
		return -1;
	(void)strftime(now, sizeof(now), "%Y-%m-%d %H:%M:%S", &tm);
	(void)strftime(rel, sizeof(rel), "%Y%m%d", &tm);
	if (t->suite == NULL)
		(void)snprintf(desc, sizeof(desc),
		    "%s: made by qvm-template with bulkhead-vm-kernel rootfs",
		    t->summary);
	else
		(void)snprintf(desc, sizeof(desc),
		    "Debian %s (%s) made by qvm-template with debootstrap "
		    "--variant=minbase from %s",
		    t->version, suite, o->mirror);
	for (i = 0; i < ARRAY_SIZE(kv); i++)
		if (feature_set(t->name, kv[i][0], kv[i][1]) < 0)
			return -1;
	return 0;
}

/* Remove what a failed install made: the tree and the qube (the daemon
 * removes the qube's directory, and with it anything left in it). */
static void
undo_install(const char *name, const char *tmp)
{
	if (tmp[0] != '\0' && remove_tree(tmp) < 0)
		cli_errx("%s: could not remove it", tmp);
	if (cli_call_ok(name, name, "admin.vm.Remove", NULL, NULL, 0, NULL) < 0)
		cli_errx("%s: could not remove the half-made template: "
		         "qvm-template remove %s",
		    name, name);
}

/* Install t.  CLI_EXIT_OK (also when it is installed already),
 * CLI_EXIT_FAIL, or CLI_EXIT_USAGE for a label the daemon does not know. */
/*
 * bulkhead-vm-kernel, beside this program in the build tree or installed
 * under libexec.  0 or -ENOENT.
 */
static int
find_vm_kernel_tool(char *out, size_t n)
{
	static const char *const rel[] = {
	    "/../vm/", "/../libexec/bulkhead/", "/../lib/bulkhead/"};
	static const char *const sys[] = {
	    "/usr/local/libexec/bulkhead/", "/usr/libexec/bulkhead/"};
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	size_t i;

	if (len > 0) {
		self[len] = '\0';
		*strrchr(self, '/') = '\0';
		for (i = 0; i < ARRAY_SIZE(rel); i++)
			if (str_printf(out, n, "%s%sbulkhead-vm-kernel", self,
			        rel[i]) == 0 &&
			    access(out, X_OK) == 0)
				return 0;
	}
	for (i = 0; i < ARRAY_SIZE(sys); i++)
		if (str_printf(out, n, "%sbulkhead-vm-kernel", sys[i]) == 0 &&
		    access(out, X_OK) == 0)
			return 0;
	return -ENOENT;
}

/*
 * The busybox template's root, in the empty directory tmp, and its
 * virt_mode: a VM template (its tree is busybox alone, without the
 * libraries a namespace qube would run bulkhead's programs with).
 * 0, or -1 after a message.
 */
static int
build_busybox_root(
    const struct tpl_def *t, const char *tmp, char *version, size_t vlen)
{
	char prog[PATH_MAX];
	struct admin_reply r;
	int status;
	pid_t pid;

	if (cli_call(
	        t->name, "admin.vm.property.Set", "virt_mode", "vm", 2, &r) < 0)
		return -1;
	if (!r.ok) {
		cli_print_exc(t->name, &r);
		admin_reply_free(&r);
		return -1;
	}
	admin_reply_free(&r);
	if (find_vm_kernel_tool(prog, sizeof(prog)) < 0) {
		cli_errx("bulkhead-vm-kernel: not found (is bulkhead "
		         "installed whole?)");
		return -1;
	}
	(void)fprintf(stderr, "Installing template '%s': %s into %s...\n",
	    t->name, t->summary, tmp);
	pid = fork();
	if (pid == 0) {
		execl(prog, "bulkhead-vm-kernel", "rootfs", tmp, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		cli_errx("bulkhead-vm-kernel: %s", strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cli_errx("bulkhead-vm-kernel rootfs failed");
		return -1;
	}
	return str_copy(version, vlen, t->version) < 0 ? -1 : 0;
}

static int
install_one(const struct tpl_def *t, const struct opts *o, const char *prog)
{
	struct admin_vm_list list = {NULL, 0};
	struct admin_reply cr;
	const struct admin_vm *vm;
	const char *suite = o->suite != NULL ? o->suite : t->suite;
	char payload[256], vid[PATH_MAX], tmp[PATH_MAX] = "", took[32];
	char a_variant[] = "--variant=minbase", a_keyring[TPL_ARG_MAX + 16];
	char a_include[TPL_ARG_MAX + 16], version[64], q[PATH_MAX];
	char *argv[10];
	size_t argc = 0;
	uint64_t t0 = now_ms();
	int rc = CLI_EXIT_FAIL, r;

	if (cli_list_qubes(&list) < 0)
		return CLI_EXIT_FAIL;
	vm = admin_vm_list_find(&list, t->name);
	if (vm != NULL) {
		r = is_managed(vm);
		if (r == 1) {
			(void)fprintf(stderr,
			    "Template '%s' already installed, skipping... "
			    "(qvm-template remove it to install it again)\n",
			    t->name);
			rc = CLI_EXIT_OK;
		} else if (r == 0)
			cli_errx("%s: a qube of that name exists and was not "
			         "installed by qvm-template (or its install is "
			         "under way, or was cut short: qvm-template "
			         "remove %s)",
			    t->name, t->name);
		goto out;
	}
	(void)snprintf(
	    payload, sizeof(payload), "name=%s label=%s", t->name, o->label);
	if (got_signal ||
	    cli_call("dom0", "admin.vm.Create.TemplateVM", NULL, payload,
	        strlen(payload), &cr) < 0)
		goto out;
	if (!cr.ok) {
		cli_print_exc(t->name, &cr);
		/* as qvm-create: an unknown label is a usage error */
		if (admin_exc_is(cr.exc, ADMIN_EXC_LABEL_NOT_FOUND))
			rc = CLI_EXIT_USAGE;
		admin_reply_free(&cr);
		goto out;
	}
	admin_reply_free(&cr);
	/* from here on, a failure removes the qube again */
	if (got_signal || root_volume(t->name, vid, sizeof(vid)) < 0 ||
	    str_printf(tmp, sizeof(tmp), "%s.new", vid) < 0)
		goto undo;
	if (remove_tree(tmp) < 0) {
		cli_errx("%s: could not remove it", tmp);
		goto undo;
	}
	if (mkdir(tmp, 0755) < 0) {
		cli_errx("%s: %s", tmp, strerror(errno));
		goto undo;
	}
	if (t->suite == NULL) {
		/* the busybox VM template: no debootstrap */
		if (build_busybox_root(t, tmp, version, sizeof(version)) < 0 ||
		    got_signal)
			goto undo;
		goto built;
	}
	(void)snprintf(
	    a_keyring, sizeof(a_keyring), "--keyring=%s", o->keyring);
	argv[argc++] = (char *)prog;
	argv[argc++] = a_variant;
	argv[argc++] = a_keyring;
	if (o->include != NULL) {
		(void)snprintf(
		    a_include, sizeof(a_include), "--include=%s", o->include);
		argv[argc++] = a_include;
	}
	argv[argc++] = (char *)suite;
	argv[argc++] = tmp;
	argv[argc++] = (char *)o->mirror;
	argv[argc] = NULL;
	(void)fprintf(stderr,
	    "Installing template '%s': Debian %s from %s into %s with "
	    "debootstrap (a few minutes)...\n",
	    t->name, suite, o->mirror, vid);
	if (cli_verbosity(&o->co) > 1) {
		size_t i;

		for (i = 0; i < argc; i++)
			(void)fprintf(stderr, "%s%s", i ? " " : "+ ",
			    cli_quote(argv[i], q, sizeof(q)));
		(void)fputc('\n', stderr);
	}
	r = run_debootstrap(prog, argv, cli_verbosity(&o->co) > 0, t0);
	if (r == -EIO)
		show_debootstrap_log(tmp);
	if (r < 0 || got_signal)
		goto undo;
	if (prepare_root(tmp, t->name, t->version, version, sizeof(version)) <
	        0 ||
	    got_signal)
		goto undo;
built:
	/* the root appears whole or not at all */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, vid, RENAME_NOREPLACE) < 0) {
		cli_errx("%s: %s", vid, strerror(errno));
		goto undo;
	}
	tmp[0] = '\0';
	if (record_features(t, o, suite, version) < 0)
		goto undo;
	if (t->suite == NULL)
		(void)fprintf(stderr, "Template '%s' installed (%s) in %s.\n",
		    t->name, version, elapsed(t0, took, sizeof(took)));
	else
		(void)fprintf(stderr,
		    "Template '%s' installed (Debian %s) in %s.\n", t->name,
		    version, elapsed(t0, took, sizeof(took)));
	rc = CLI_EXIT_OK;
	goto out;
undo:
	if (got_signal)
		(void)fprintf(stderr, "%s: %s: removing the half-made '%s'\n",
		    cli_prog(), strsignal(got_signal), t->name);
	else
		(void)fprintf(stderr, "%s: removing the half-made '%s'\n",
		    cli_prog(), t->name);
	undo_install(t->name, tmp);
out:
	admin_vm_list_free(&list);
	return rc;
}

static const struct tpl_def *
tpl_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tpl_defs); i++)
		if (strcmp(tpl_defs[i].name, name) == 0)
			return &tpl_defs[i];
	return NULL;
}

static int
cmd_install(const struct opts *o, char *const *names, size_t n)
{
	char prog[PATH_MAX], q[256];
	size_t i;

	if (n == 0)
		cli_usage_fail("install: expected TEMPLATE...");
	for (i = 0; i < n; i++)
		if (tpl_find(names[i]) == NULL)
			cli_usage_fail("Template '%s' not found (qvm-template "
			               "list --available)",
			    cli_quote(names[i], q, sizeof(q)));
	check_install_args(o);
	if (geteuid() != 0) {
		cli_errx("install: needs root (debootstrap, and the template's "
		         "files are root's)");
		return CLI_EXIT_FAIL;
	}
	for (i = 0; i < n && tpl_find(names[i])->suite == NULL; i++)
		;
	prog[0] = '\0';
	if (i < n && find_debootstrap(prog, sizeof(prog)) < 0) {
		const char *e = getenv(TPL_DEBOOTSTRAP_ENV);

		cli_errx("%s: not found (%s)",
		    e != NULL && e[0] != '\0' ? cli_quote(e, q, sizeof(q)) :
		                                "debootstrap",
		    e != NULL && e[0] != '\0' ? "$" TPL_DEBOOTSTRAP_ENV :
		                                "apt-get install debootstrap");
		return CLI_EXIT_FAIL;
	}
	umask(022);
	catch_signals();
	/* one at a time, stopping at the first failure */
	for (i = 0; i < n; i++) {
		int rc = install_one(tpl_find(names[i]), o, prog);

		if (rc != CLI_EXIT_OK)
			return rc;
	}
	return CLI_EXIT_OK;
}

/* ---- main ---- */

static unsigned
cmd_bit(const char *cmd)
{
	if (strcmp(cmd, "list") == 0)
		return CMD_LIST;
	if (strcmp(cmd, "install") == 0)
		return CMD_INSTALL;
	if (strcmp(cmd, "remove") == 0)
		return CMD_REMOVE;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"yes", no_argument, NULL, OPT_YES},
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"mirror", required_argument, NULL, OPT_MIRROR},
	    {"suite", required_argument, NULL, OPT_SUITE},
	    {"keyring", required_argument, NULL, OPT_KEYRING},
	    {"include", required_argument, NULL, OPT_INCLUDE},
	    {"all", no_argument, NULL, OPT_LIST_ALL},
	    {"installed", no_argument, NULL, OPT_INSTALLED},
	    {"available", no_argument, NULL, OPT_AVAILABLE},
	    {"machine-readable", no_argument, NULL, OPT_MACHINE},
	    {"machine-readable-json", no_argument, NULL, OPT_JSON},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts = cli_longopts(tool_opts, 0);
	struct opts o = {
	    .label = TPL_LABEL_DEFAULT,
	    .mirror = TPL_MIRROR_DEFAULT,
	    .keyring = TPL_KEYRING_DEFAULT,
	};
	unsigned cmd;
	size_t i;
	int c;

	cli_init(argv[0]);
	while ((c = getopt_long(
	            argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		for (i = 0; i < ARRAY_SIZE(opt_cmds); i++)
			if (opt_cmds[i].opt == c)
				o.seen |= 1u << i;
		switch (c) {
		case OPT_YES:
			o.yes = true;
			break;
		case OPT_LABEL:
			o.label = optarg;
			break;
		case OPT_MIRROR:
			o.mirror = optarg;
			break;
		case OPT_SUITE:
			o.suite = optarg;
			break;
		case OPT_KEYRING:
			o.keyring = optarg;
			break;
		case OPT_INCLUDE:
			o.include = optarg;
			break;
		case OPT_LIST_ALL:
			o.all = true;
			break;
		case OPT_INSTALLED:
			o.installed = true;
			break;
		case OPT_AVAILABLE:
			o.available = true;
			break;
		case OPT_MACHINE:
			o.machine = true;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		default:
			if (!cli_common_opt(c, &o.co, usage))
				cli_usage_fail("unknown option");
			break;
		}
	}
	if (optind == argc)
		cli_usage_fail("expected a command: list, install or remove");
	cmd = cmd_bit(argv[optind]);
	if (cmd == 0) {
		char q[64];

		cli_usage_fail("unknown command '%s' (list, install or remove)",
		    cli_quote(argv[optind], q, sizeof(q)));
	}
	for (i = 0; i < ARRAY_SIZE(opt_cmds); i++)
		if ((o.seen & (1u << i)) && !(opt_cmds[i].cmds & cmd))
			cli_usage_fail("--%s is not an option of %s",
			    opt_cmds[i].name, argv[optind]);
	argv += optind + 1;
	argc -= optind + 1;
	if (cmd == CMD_LIST)
		return cmd_list(&o, argv, (size_t)argc);
	if (cmd == CMD_INSTALL)
		return cmd_install(&o, argv, (size_t)argc);
	return cmd_remove(&o, argv, (size_t)argc);
}
