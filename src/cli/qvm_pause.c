/*
 * qvm_pause.c - qvm-pause: pause qubes (admin.vm.Pause) or, with
 * --suspend, suspend them to RAM (admin.vm.Suspend), all at once.
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
	    "Usage: qvm-pause [options] [--suspend] VMNAME...\n"
	    "       qvm-pause [options] [--suspend] --all [--exclude "
	    "VMNAME]...\n"
	    "\n"
	    "Pause qubes: stop running them at once, without telling them "
	    "(an emergency\n"
	    "stop that qvm-unpause undoes).  Paused qubes are killed when the "
	    "system\n"
	    "shuts down.  VMNAME may be a shell wildcard pattern (quote it).\n"
	    "\n"
	    "Options:\n"
	    "  -S, --suspend        suspend the qubes to RAM (S3) instead; a "
	    "qube that\n"
	    "                       cannot suspend is paused\n" CLI_SELECT_HELP
	        CLI_COMMON_HELP "\n"
	    "Exit status: 0 every qube is paused, 1 some could not be (each is "
	    "reported),\n"
	    "2 usage error (also an unknown qube).\n"
	    "\n" CLI_ENV_HELP);
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"suspend", no_argument, NULL, 'S'},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts =
	    cli_longopts(tool_opts, CLI_OPTS_SELECT);
	struct cli_common co = {0, 0};
	struct cli_select_opts so = {false, {NULL, 0}};
	struct admin_vm_list list = {NULL, 0};
	struct cli_selection sel = {NULL, 0};
	struct admin_call *calls;
	bool suspend = false;
	int c, rc;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "S" CLI_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		if (c == 'S')
			suspend = true;
		else
			cli_select_opt(c, &so, &co, usage);
	}
	if (cli_select_args(
	        &argv[optind], (size_t)(argc - optind), &so, &list, &sel) < 0)
		return CLI_EXIT_FAIL;
	calls = cli_call_each(sel.vm, sel.n,
	    suspend ? "admin.vm.Suspend" : "admin.vm.Pause", NULL);
	rc = cli_report_calls(calls, sel.n, ADMIN_EXC_NONE);
	cli_calls_free(calls, sel.n);
	cli_selection_free(&sel);
	admin_vm_list_free(&list);
	admin_strv_free(&so.exclude);
	return rc;
}
