/*
 * qvm_remove.c - qvm-remove: remove qubes and their volumes
 * (admin.vm.Remove), after a confirmation unless --force, as Qubes' tool.
 * A qube still in use is not removed; the places that use it are listed.
 *
 * Runs as the administrator.  Untrusted input: the daemon's replies,
 * parsed by admin_client.c; the answer to the question, the
 * administrator's own.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-remove [options] [--force] VMNAME...\n"
	    "       qvm-remove [options] [--force] --all [--exclude "
	    "VMNAME]...\n"
	    "\n"
	    "Remove qubes, with all their volumes and data.  The qubes are "
	    "listed and\n"
	    "removed only if the answer to \"Are you sure? [y/N]\" is y, read "
	    "from standard\n"
	    "input (a terminal or not), unless --force.  A qube must be halted, "
	    "and no\n"
	    "other qube or global property may use it (as template, netvm, "
	    "...): those\n"
	    "uses are listed.  dom0 cannot be removed.  VMNAME may be a shell "
	    "wildcard\n"
	    "pattern (quote it).\n"
	    "\n"
	    "Options:\n"
	    "  -f, --force          do not ask for confirmation\n" CLI_SELECT_HELP
	    "                       (--all without --force or --exclude asks "
	    "you to type\n"
	    "                       IKNOWWHATIAMDOING)\n" CLI_COMMON_HELP "\n"
	    "Exit status: 0 removed, 1 cancelled or failed (removal stops at "
	    "the first\n"
	    "qube that cannot be removed), 2 usage error (also an unknown "
	    "qube).\n"
	    "\n" CLI_ENV_HELP);
}

/* Global properties and qube properties that name a qube it depends on
 * (Qubes' utils.vm_dependencies). */
static const char *const global_refs[] = {"default_dispvm", "default_netvm",
    "default_guivm", "default_audiovm", "default_template", "clockvm",
    "updatevm", "management_dispvm", NULL};
static const char *const vm_refs[] = {"template", "netvm", "guivm", "audiovm",
    "default_dispvm", "management_dispvm", NULL};

/* Print where vm is used, to explain QubesVMInUseError. */
static void
print_dependencies(const struct admin_vm_list *list, const char *vm)
{
	struct admin_prop_list props = {NULL, 0};
	size_t i, j;

	(void)fprintf(
	    stderr, "VM %s cannot be removed. It is in use as:\n", vm);
	if (cli_fetch_props("dom0", true, &props) == 0) {
		for (j = 0; global_refs[j] != NULL; j++) {
			const char *v = cli_props_value(&props, global_refs[j]);

			if (v != NULL && strcmp(v, vm) == 0)
				(void)fprintf(stderr, " - global property %s\n",
				    global_refs[j]);
		}
		admin_prop_list_free(&props);
	}
	for (i = 0; i < list->n; i++) {
		if (strcmp(list->vm[i].name, vm) == 0 ||
		    cli_fetch_props(list->vm[i].name, false, &props) < 0)
			continue;
		for (j = 0; vm_refs[j] != NULL; j++) {
			const struct admin_prop *p =
			    admin_prop_list_find(&props, vm_refs[j]);

			if (p != NULL && !p->is_default &&
			    strcmp(p->value, vm) == 0)
				(void)fprintf(stderr, " - %s for %s\n",
				    vm_refs[j], list->vm[i].name);
		}
		admin_prop_list_free(&props);
	}
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts =
	    cli_longopts(tool_opts, CLI_OPTS_SELECT);
	struct cli_common co = {0, 0};
	struct cli_select_opts so = {false, {NULL, 0}};
	struct admin_vm_list list = {NULL, 0};
	struct cli_selection sel = {NULL, 0};
	bool force = false;
	char answer[64];
	int c, rc = CLI_EXIT_OK;
	size_t i;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "f" CLI_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		if (c == 'f')
			force = true;
		else
			cli_select_opt(c, &so, &co, usage);
	}
	if (cli_select_args(
	        &argv[optind], (size_t)(argc - optind), &so, &list, &sel) < 0)
		return CLI_EXIT_FAIL;
	for (i = 0; i < sel.n; i++)
		if (strcmp(sel.vm[i]->name, "dom0") == 0 ||
		    strcmp(sel.vm[i]->klass, "AdminVM") == 0) {
			cli_errx("%s: cannot be removed", sel.vm[i]->name);
			rc = CLI_EXIT_FAIL;
			goto out;
		}
	if (so.all && !force && so.exclude.n == 0) {
		(void)fprintf(stderr,
		    "WARNING!!! Removing all domains may leave "
		    "your system in an unrecoverable state!\n");
		if (cli_ask("Are you certain? [N/IKNOWWHATIAMDOING] ", answer,
		        sizeof(answer)) < 0 ||
		    strcmp(answer, "IKNOWWHATIAMDOING") != 0) {
			(void)fprintf(stderr, "Remove cancelled.\n");
			rc = CLI_EXIT_FAIL;
			goto out;
		}
	}
	if (!force) {
		(void)fprintf(stderr,
		    "This will completely remove the selected VM(s)...\n");
		for (i = 0; i < sel.n; i++)
			(void)fprintf(stderr, "  %s\n", sel.vm[i]->name);
		if (cli_ask("Are you sure? [y/N] ", answer, sizeof(answer)) <
		        0 ||
		    strcasecmp(answer, "y") != 0) {
			(void)fprintf(stderr, "Remove cancelled.\n");
			rc = CLI_EXIT_FAIL;
			goto out;
		}
	}
	/* one at a time, stopping at the first failure (as Qubes) */
	for (i = 0; i < sel.n; i++) {
		struct admin_reply r;

		if (cli_call(sel.vm[i]->name, "admin.vm.Remove", NULL, NULL, 0,
		        &r) < 0) {
			rc = CLI_EXIT_FAIL;
			break;
		}
		if (!r.ok) {
			if (admin_exc_is(r.exc, ADMIN_EXC_VM_IN_USE))
				print_dependencies(&list, sel.vm[i]->name);
			cli_print_exc(sel.vm[i]->name, &r);
			admin_reply_free(&r);
			rc = CLI_EXIT_FAIL;
			break;
		}
		admin_reply_free(&r);
	}
out:
	cli_selection_free(&sel);
	admin_vm_list_free(&list);
	admin_strv_free(&so.exclude);
	return rc;
}
