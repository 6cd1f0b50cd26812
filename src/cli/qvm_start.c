/*
 * qvm_start.c - qvm-start: start qubes (admin.vm.Start), all at once, as
 * Qubes' tool: a qube that is not halted is an error unless
 * --skip-if-running.
 *
 * Runs as the administrator.  Untrusted input: the daemon's replies,
 * parsed by admin_client.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum {
	OPT_SKIP = CLI_OPT_FIRST_TOOL,
	OPT_DRIVE,
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-start [options] [--skip-if-running] VMNAME...\n"
	    "       qvm-start [options] [--skip-if-running] --all [--exclude "
	    "VMNAME]...\n"
	    "\n"
	    "Start qubes, all at once, and wait until each has started (the "
	    "daemon starts\n"
	    "its network qube and other dependencies first).  VMNAME may be a "
	    "shell\n"
	    "wildcard pattern (quote it).\n"
	    "\n"
	    "Options:\n"
	    "      --skip-if-running\n"
	    "                       a qube that is already running is not an "
	    "error\n" CLI_SELECT_HELP
	    "      --drive, --hddisk, --cdrom, --install-windows-tools\n"
	    "                       Qubes' options to attach a drive for this "
	    "start: not\n"
	    "                       supported by bulkhead (an error)\n" CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 every qube started, 1 some did not (each is "
	    "reported), 2\n"
	    "usage error (also an unknown qube).\n"
	    "\n" CLI_ENV_HELP);
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"skip-if-running", no_argument, NULL, OPT_SKIP},
	    {"drive", required_argument, NULL, OPT_DRIVE},
	    {"hddisk", required_argument, NULL, OPT_DRIVE},
	    {"cdrom", required_argument, NULL, OPT_DRIVE},
	    {"install-windows-tools", no_argument, NULL, OPT_DRIVE},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts =
	    cli_longopts(tool_opts, CLI_OPTS_SELECT);
	struct cli_common co = {0, 0};
	struct cli_select_opts so = {false, {NULL, 0}};
	struct admin_vm_list list = {NULL, 0};
	struct cli_selection sel = {NULL, 0};
	const struct admin_vm **halted;
	struct admin_call *state, *start = NULL;
	bool skip = false;
	size_t i, nhalted = 0;
	int c, rc = CLI_EXIT_OK;

	cli_init(argv[0]);
	while ((c = getopt_long(
	            argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SKIP:
			skip = true;
			break;
		case OPT_DRIVE:
			cli_errx("attaching a drive at start is not supported");
			return CLI_EXIT_FAIL;
		default:
			cli_select_opt(c, &so, &co, usage);
			break;
		}
	}
	if (cli_select_args(
	        &argv[optind], (size_t)(argc - optind), &so, &list, &sel) < 0)
		return CLI_EXIT_FAIL;

	/* is_running() first, as Qubes' start_expert() */
	state = cli_call_each(sel.vm, sel.n, "admin.vm.CurrentState", NULL);
	halted = cli_calloc(sel.n, sizeof(const struct admin_vm *));
	for (i = 0; i < sel.n; i++) {
		char pstate[ADMIN_NAME_MAX];

		if (state[i].error < 0 || !state[i].reply.ok) {
			cli_print_call_failure(sel.vm[i]->name, &state[i]);
			rc = CLI_EXIT_FAIL;
			continue;
		}
		if (admin_parse_power_state(state[i].reply.data,
		        state[i].reply.len, pstate, sizeof(pstate)) < 0) {
			cli_print_call_error("admin.vm.CurrentState", -EBADMSG);
			rc = CLI_EXIT_FAIL;
			continue;
		}
		if (admin_state_is_running(pstate)) {
			if (!skip) {
				cli_errx("%s: domain is already running",
				    sel.vm[i]->name);
				rc = CLI_EXIT_FAIL;
			}
			continue;
		}
		halted[nhalted++] = sel.vm[i];
	}
	start = cli_call_each(halted, nhalted, "admin.vm.Start", NULL);
	for (i = 0; i < nhalted; i++) {
		if (start[i].error == 0 && start[i].reply.ok)
			continue;
		/* started by someone else since CurrentState */
		if (start[i].error == 0 &&
		    admin_exc_is(start[i].reply.exc, ADMIN_EXC_VM_NOT_HALTED)) {
			if (skip)
				continue;
			cli_errx(
			    "%s: domain is already running", halted[i]->name);
		} else {
			cli_print_call_failure(halted[i]->name, &start[i]);
		}
		rc = CLI_EXIT_FAIL;
	}
	cli_calls_free(start, nhalted);
	cli_calls_free(state, sel.n);
	free(halted);
	cli_selection_free(&sel);
	admin_vm_list_free(&list);
	admin_strv_free(&so.exclude);
	return rc;
}
