/*
 * qvm_unpause.c - qvm-unpause: resume paused qubes (admin.vm.Unpause) and
 * suspended ones (admin.vm.Resume), all at once.  With --all, qubes marked
 * internal (feature "internal") are left alone, as in Qubes.
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

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-unpause [options] VMNAME...\n"
	    "       qvm-unpause [options] --all [--exclude VMNAME]...\n"
	    "\n"
	    "Let paused qubes run again, and resume suspended ones.  With "
	    "--all, qubes\n"
	    "that have the feature internal set are left paused.  VMNAME may "
	    "be a shell\n"
	    "wildcard pattern (quote it).\n"
	    "\n"
	    "Options:\n" CLI_SELECT_HELP CLI_COMMON_HELP "\n"
	    "Exit status: 0 every qube runs, 1 some could not be unpaused "
	    "(each is\n"
	    "reported; a qube that was not paused is one), 2 usage error (also "
	    "an\n"
	    "unknown qube).\n"
	    "\n" CLI_ENV_HELP);
}

/* Feature internal set to a true value ("1", "true", "True"). */
static bool
is_internal(const char *vm)
{
	struct admin_reply r;
	bool yes = false;

	if (admin_call(admin_socket_path(), vm, "admin.vm.feature.Get",
	        "internal", NULL, 0, &r) < 0)
		return false;
	if (r.ok)
		yes = strcmp(r.data, "1") == 0 || strcmp(r.data, "true") == 0 ||
		    strcmp(r.data, "True") == 0;
	admin_reply_free(&r);
	return yes;
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
	struct admin_call *state, *calls;
	int c, rc;
	size_t i, n = 0;

	cli_init(argv[0]);
	while ((c = getopt_long(
	            argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1)
		cli_select_opt(c, &so, &co, usage);
	if (cli_select_args(
	        &argv[optind], (size_t)(argc - optind), &so, &list, &sel) < 0)
		return CLI_EXIT_FAIL;
	if (so.all) {
		for (i = 0; i < sel.n; i++)
			if (!is_internal(sel.vm[i]->name))
				sel.vm[n++] = sel.vm[i];
		sel.n = n;
	}
	/* suspended or paused decides the method (Qubes' utils.unpause) */
	state = cli_call_each(sel.vm, sel.n, "admin.vm.CurrentState", NULL);
	calls = cli_calloc(sel.n, sizeof(*calls));
	for (i = 0; i < sel.n; i++) {
		char ps[ADMIN_NAME_MAX] = "";

		if (state[i].error == 0 && state[i].reply.ok)
			(void)admin_parse_power_state(state[i].reply.data,
			    state[i].reply.len, ps, sizeof(ps));
		calls[i].dest = sel.vm[i]->name;
		calls[i].method = strcmp(ps, "Suspended") == 0 ?
		    "admin.vm.Resume" :
		    "admin.vm.Unpause";
	}
	if (admin_call_many(admin_socket_path(), calls, sel.n) < 0)
		for (i = 0; i < sel.n; i++)
			calls[i].error = -EINVAL;
	rc = cli_report_calls(calls, sel.n, ADMIN_EXC_NONE);
	cli_calls_free(calls, sel.n);
	cli_calls_free(state, sel.n);
	cli_selection_free(&sel);
	admin_vm_list_free(&list);
	admin_strv_free(&so.exclude);
	return rc;
}
