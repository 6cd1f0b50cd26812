/*
 * qvm_check.c - qvm-check: does a qube exist, and is it running, paused,
 * a template, networked?  The answer is the exit status, as in Qubes: 0
 * every qube matches, 3 some do, 1 none (or a name is unknown).
 *
 * Runs as the administrator.  Untrusted input: the daemon's replies,
 * parsed by admin_client.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum {
	OPT_RUNNING = CLI_OPT_FIRST_TOOL,
	OPT_PAUSED,
	OPT_TEMPLATE,
	OPT_NETWORKED,
};

/* Qubes' code for "some, not all, of the qubes match". */
#define CHECK_EXIT_SOME 3

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-check [options] [--running] [--paused] [--template] "
	    "[--networked]\n"
	    "                 VMNAME...\n"
	    "       qvm-check [options] [checks] --all [--exclude VMNAME]...\n"
	    "\n"
	    "Check that qubes exist and, with the options, that they are in a "
	    "given state;\n"
	    "the answer is the exit status.  Messages (\"work: running\") go "
	    "to standard\n"
	    "error unless --quiet.\n"
	    "\n"
	    "Options:\n"
	    "      --running        the qube is running (any state but halted)\n"
	    "      --paused         the qube is paused\n"
	    "      --template       the qube is a template (TemplateVM)\n"
	    "      --networked      the qube can reach a network: it provides "
	    "one or has a\n"
	    "                       network qube\n" CLI_SELECT_HELP
	        CLI_COMMON_HELP "\n"
	    "With several checks, a qube matches if it passes them all.\n"
	    "\n"
	    "Exit status: 0 every qube exists (and matches), 3 some qubes "
	    "match and some\n"
	    "do not, 1 none matches or a qube does not exist, 2 usage error.\n"
	    "\n" CLI_ENV_HELP);
}

/* A property's parsed value; false if it cannot be read. */
static bool
get_prop(const char *vm, const char *prop, struct admin_prop *ret)
{
	struct admin_reply r;
	bool ok;

	if (admin_call(admin_socket_path(), vm, "admin.vm.property.Get", prop,
	        NULL, 0, &r) < 0)
		return false;
	ok = r.ok && admin_parse_property(r.data, r.len, ret) == 0;
	admin_reply_free(&r);
	return ok;
}

/* Qubes' is_networked(): provides_network, or a netvm that is not None. */
static bool
is_networked(const char *vm)
{
	struct admin_prop p;
	bool yes = false;

	if (get_prop(vm, "provides_network", &p)) {
		yes = strcmp(p.value, "True") == 0;
		admin_prop_free(&p);
	}
	if (!yes && get_prop(vm, "netvm", &p)) {
		yes = p.value[0] != '\0';
		admin_prop_free(&p);
	}
	return yes;
}

static int
cmp_vm(const void *a, const void *b)
{
	return strcmp((*(const struct admin_vm *const *)a)->name,
	    (*(const struct admin_vm *const *)b)->name);
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"running", no_argument, NULL, OPT_RUNNING},
	    {"paused", no_argument, NULL, OPT_PAUSED},
	    {"template", no_argument, NULL, OPT_TEMPLATE},
	    {"networked", no_argument, NULL, OPT_NETWORKED},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts =
	    cli_longopts(tool_opts, CLI_OPTS_SELECT);
	struct cli_common co = {0, 0};
	struct cli_select_opts so = {false, {NULL, 0}};
	struct admin_vm_list list = {NULL, 0};
	const struct admin_vm **vms, **match;
	bool running = false, paused = false, templ = false;
	bool networked = false, any_invalid = false;
	char status[64] = "";
	size_t i, j, n = 0, nmatch = 0;
	int c, rc = CLI_EXIT_OK;
	bool say;

	cli_init(argv[0]);
	while ((c = getopt_long(
	            argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_RUNNING:
			running = true;
			break;
		case OPT_PAUSED:
			paused = true;
			break;
		case OPT_TEMPLATE:
			templ = true;
			break;
		case OPT_NETWORKED:
			networked = true;
			break;
		default:
			cli_select_opt(c, &so, &co, usage);
			break;
		}
	}
	cli_check_names_or_all((size_t)(argc - optind), so.all);
	if (!so.all && so.exclude.n > 0)
		cli_usage_fail("--exclude can only be used with --all");
	say = cli_verbosity(&co) >= 1;
	if (cli_list_qubes(&list) < 0)
		return CLI_EXIT_FAIL;
	vms = cli_calloc(list.n + 1, sizeof(const struct admin_vm *));
	match = cli_calloc(list.n + 1, sizeof(const struct admin_vm *));
	if (so.all) {
		for (i = 0; i < list.n; i++)
			if (strcmp(list.vm[i].klass, "AdminVM") != 0 &&
			    admin_strv_find(&so.exclude, list.vm[i].name) < 0)
				vms[n++] = &list.vm[i];
	} else {
		/* unknown names are an answer here, not a usage error */
		for (c = optind; c < argc; c++) {
			const struct admin_vm *vm =
			    admin_vm_list_find(&list, argv[c]);

			if (vm == NULL) {
				any_invalid = true;
				continue;
			}
			for (j = 0; j < n && vms[j] != vm; j++)
				;
			if (j == n)
				vms[n++] = vm;
		}
	}
	qsort(vms, n, sizeof(const struct admin_vm *), cmp_vm);
	if (running || paused || templ || networked) {
		(void)snprintf(status, sizeof(status), "%s%s%s%s",
		    running ? ", running" : "", paused ? ", paused" : "",
		    templ ? ", template" : "", networked ? ", networked" : "");
		for (i = 0; i < n; i++) {
			char ps[ADMIN_NAME_MAX] = "";
			bool ok = true;

			/* unknown ("") is neither running nor paused */
			if (running || paused)
				cli_power_state(vms[i]->name, ps, sizeof(ps));
			if (running && !admin_state_is_running(ps))
				ok = false;
			if (ok && paused && strcmp(ps, "Paused") != 0)
				ok = false;
			if (ok && templ &&
			    strcmp(vms[i]->klass, "TemplateVM") != 0)
				ok = false;
			if (ok && networked && !is_networked(vms[i]->name))
				ok = false;
			if (ok)
				match[nmatch++] = vms[i];
		}
		if (nmatch != n)
			rc = nmatch == 0 ? CLI_EXIT_FAIL : CHECK_EXIT_SOME;
		if (say && nmatch == 0)
			cli_errx("None of qubes: %s", status + 2);
		for (i = 0; say && i < nmatch; i++)
			cli_errx("%s: %s", match[i]->name, status + 2);
	} else {
		if (n == 0)
			rc = CLI_EXIT_FAIL;
		for (i = 0; say && i < n; i++)
			cli_errx("%s: exists", vms[i]->name);
	}
	if (any_invalid)
		rc = CLI_EXIT_FAIL;
	/* after the matches, as Qubes prints them */
	for (c = optind; say && !so.all && c < argc; c++) {
		char q[256];

		if (admin_vm_list_find(&list, argv[c]) == NULL)
			cli_errx("%s: non-existent!",
			    cli_quote(argv[c], q, sizeof(q)));
	}
	free(vms);
	free(match);
	admin_vm_list_free(&list);
	admin_strv_free(&so.exclude);
	return rc;
}
