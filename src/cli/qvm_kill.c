/*
 * qvm_kill.c - qvm-kill: stop qubes at once, without a shutdown sequence
 * (admin.vm.Kill), all in parallel; a halted qube is not an error.
 *
 * Runs as the administrator.  Untrusted input: the daemon's replies,
 * parsed by admin_client.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-kill [options] VMNAME...\n"
	    "       qvm-kill [options] --all [--exclude VMNAME]...\n"
	    "\n"
	    "Terminate qubes immediately, without a graceful shutdown sequence "
	    "(what\n"
	    "pulling the plug does to a computer).  A qube that is already "
	    "halted is not\n"
	    "an error.  VMNAME may be a shell wildcard pattern (quote it).\n"
	    "\n"
	    "Options:\n" CLI_SELECT_HELP CLI_COMMON_HELP "\n"
	    "Exit status: 0 every qube is halted, 1 some could not be killed "
	    "(each is\n"
	    "reported), 2 usage error (also an unknown qube).\n"
	    "\n" CLI_ENV_HELP);
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts =
	    cli_longopts(tool_opts, CLI_OPTS_SELECT);
	struct cli_common co = {0, 0};
	struct cli_select_opts so = {false, {NULL, 0}};
	struct admin_vm_list list = {NULL, 0};
	struct cli_selection sel = {NULL, 0};
	struct admin_call *calls;
	int c, rc;

	cli_init(argv[0]);
	while ((c = getopt_long(
	            argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1)
		cli_select_opt(c, &so, &co, usage);
	if (cli_select_args(
	        &argv[optind], (size_t)(argc - optind), &so, &list, &sel) < 0)
		return CLI_EXIT_FAIL;
	calls = cli_call_each(sel.vm, sel.n, "admin.vm.Kill", NULL);
	/* a halted qube is not an error */
	rc = cli_report_calls(calls, sel.n, ADMIN_EXC_VM_NOT_STARTED);
	cli_calls_free(calls, sel.n);
	cli_selection_free(&sel);
	admin_vm_list_free(&list);
	admin_strv_free(&so.exclude);
	return rc;
}
