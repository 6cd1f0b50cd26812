/*
 * qvm_features.c - qvm-features: list, show, set and unset the features
 * of a qube (admin.vm.feature.*), as Qubes' tool.
 *
 * Runs as the administrator.  Untrusted input: the daemon's replies
 * (feature names and values), parsed by admin_client.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-features [options] VMNAME [FEATURE [VALUE]]\n"
	    "       qvm-features [options] --unset VMNAME FEATURE\n"
	    "\n"
	    "Manage the features of a qube: free-form name=value settings read "
	    "by the\n"
	    "qube's extensions and services (gui, qrexec, os, service.NAME, "
	    "x-NAME for\n"
	    "users, ...).  An empty value is false, any other value true.\n"
	    "\n"
	    "With VMNAME alone, list the features and their values.  With "
	    "FEATURE, print\n"
	    "its value (exit status 1 if it is not set).  With VALUE, set it.\n"
	    "\n"
	    "Options:\n"
	    "  -D, --unset, --default, --delete\n"
	    "                       unset FEATURE (no error if it is not "
	    "set)\n" CLI_COMMON_HELP "\n"
	    "Exit status: 0 done, 1 the feature is not set (when printing it) "
	    "or the\n"
	    "daemon refused, 2 usage error (also an unknown qube).\n"
	    "\n" CLI_ENV_HELP);
}

static int
list_features(const char *vm)
{
	struct cli_feature_list fl;
	char **cells;
	size_t i;

	if (cli_get_features(vm, "", &fl) < 0)
		return CLI_EXIT_FAIL;
	cells = cli_calloc(fl.n * 2, sizeof(*cells));
	for (i = 0; i < fl.n; i++) {
		cells[2 * i] = fl.f[i].name;
		cells[2 * i + 1] = cli_strdup(fl.f[i].value.data);
	}
	cli_print_table(stdout, cells, fl.n, 2);
	for (i = 0; i < fl.n; i++)
		free(cells[2 * i + 1]);
	free(cells);
	cli_feature_list_free(&fl);
	return CLI_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"unset", no_argument, NULL, 'D'},
	    {"default", no_argument, NULL, 'D'},
	    {"delete", no_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts = cli_longopts(tool_opts, 0);
	struct cli_common co = {0, 0};
	struct admin_vm_list list = {NULL, 0};
	const struct admin_vm *vm;
	const char *feature = NULL, *value = NULL;
	struct admin_reply r;
	bool unset = false;
	int c, npos, rc = CLI_EXIT_OK;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "D" CLI_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		if (c == 'D')
			unset = true;
		else if (!cli_common_opt(c, &co, usage))
			cli_usage_fail("unknown option");
	}
	npos = argc - optind;
	if (npos < 1)
		cli_usage_fail("expected VMNAME");
	if (npos > 3)
		cli_usage_fail("too many arguments");
	if (npos >= 2)
		feature = argv[optind + 1];
	if (npos == 3)
		value = argv[optind + 2];
	if (unset && feature == NULL)
		cli_usage_fail("--unset requires a feature");
	if (unset && value != NULL)
		cli_usage_fail("cannot both set and unset a value");
	vm = cli_resolve_one(argv[optind], &list);
	if (vm == NULL)
		return CLI_EXIT_FAIL;

	if (feature == NULL) {
		rc = list_features(vm->name);
	} else if (unset) {
		if (cli_call(vm->name, "admin.vm.feature.Remove", feature, NULL,
		        0, &r) < 0) {
			rc = CLI_EXIT_FAIL;
		} else {
			/* unsetting an unset feature is not an error */
			if (!r.ok &&
			    !admin_exc_is(r.exc, ADMIN_EXC_FEATURE_NOT_FOUND)) {
				cli_print_exc(vm->name, &r);
				rc = CLI_EXIT_FAIL;
			}
			admin_reply_free(&r);
		}
	} else if (value == NULL) {
		if (cli_call(vm->name, "admin.vm.feature.Get", feature, NULL, 0,
		        &r) < 0) {
			rc = CLI_EXIT_FAIL;
		} else {
			if (r.ok) {
				(void)printf("%s\n", r.data);
			} else {
				/* not set: exit 1 quietly, as Qubes */
				if (!admin_exc_is(
				        r.exc, ADMIN_EXC_FEATURE_NOT_FOUND))
					cli_print_exc(vm->name, &r);
				rc = CLI_EXIT_FAIL;
			}
			admin_reply_free(&r);
		}
	} else if (cli_call_ok(vm->name, vm->name, "admin.vm.feature.Set",
	               feature, value, strlen(value), NULL) < 0) {
		rc = CLI_EXIT_FAIL;
	}
	admin_vm_list_free(&list);
	return rc;
}
