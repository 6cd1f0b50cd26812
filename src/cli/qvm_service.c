/*
 * qvm_service.c - qvm-service: the services of a qube, which are features
 * named service.NAME ("1" on, "" off; unset: the qube's own default), as
 * Qubes' tool.
 *
 * Runs as the administrator.  Untrusted input: the daemon's replies,
 * parsed by admin_client.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

#define SERVICE_PREFIX "service."

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-service [options] VMNAME [SERVICE [on|off]]\n"
	    "       qvm-service [options] --enable|--disable|--unset VMNAME "
	    "SERVICE\n"
	    "\n"
	    "Enable or disable services in a qube (qubes-firewall, "
	    "network-manager, cups,\n"
	    "crond, clocksync, qubes-update-check, ...).  A service is the "
	    "feature\n"
	    "service.SERVICE: \"1\" when on, \"\" when off; unset, the qube "
	    "decides.\n"
	    "\n"
	    "With VMNAME alone, list the services that are set and on or off.  "
	    "With\n"
	    "SERVICE, print on or off (exit status 1 if it is not set).  A "
	    "value turns it\n"
	    "on (on, 1, yes, true, enable) or off (off, 0, no, false, "
	    "disable).\n"
	    "\n"
	    "Options:\n"
	    "  -l, --list           list the services (the default)\n"
	    "  -e, --enable         turn SERVICE on (as the value on)\n"
	    "  -d, --disable        turn SERVICE off (as the value off)\n"
	    "  -D, --unset, --default, --delete\n"
	    "                       unset SERVICE: the qube's default "
	    "applies\n" CLI_COMMON_HELP "\n"
	    "Exit status: 0 done, 1 the service is not set (when printing it) "
	    "or the\n"
	    "daemon refused, 2 usage error (also an unknown qube or value).\n"
	    "\n" CLI_ENV_HELP);
}

/* The feature value for a service value: "1", "" or NULL if invalid. */
static const char *
service_value(const char *s)
{
	static const char *const on[] = {"1", "yes", "true", "on", "enable"};
	static const char *const off[] = {"0", "no", "false", "off", "disable"};
	size_t i;

	for (i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		if (strcasecmp(s, on[i]) == 0)
			return "1";
		if (strcasecmp(s, off[i]) == 0)
			return "";
	}
	return NULL;
}

static int
list_services(const char *vm)
{
	struct cli_feature_list fl;
	char **cells;
	size_t i, plen = strlen(SERVICE_PREFIX);

	if (cli_get_features(vm, SERVICE_PREFIX, &fl) < 0)
		return CLI_EXIT_FAIL;
	cells = cli_calloc(fl.n * 2, sizeof(*cells));
	for (i = 0; i < fl.n; i++) {
		cells[2 * i] = fl.f[i].name + plen;
		cells[2 * i + 1] = fl.f[i].value.len > 0 ? "on" : "off";
	}
	cli_print_table(stdout, cells, fl.n, 2);
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
	    {"list", no_argument, NULL, 'l'},
	    {"enable", no_argument, NULL, 'e'},
	    {"disable", no_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts = cli_longopts(tool_opts, 0);
	struct cli_common co = {0, 0};
	struct admin_vm_list list = {NULL, 0};
	const struct admin_vm *vm;
	const char *service = NULL, *value = NULL;
	char *feature = NULL;
	struct admin_reply r;
	bool unset = false;
	int c, npos, rc = CLI_EXIT_OK;

	memset(&r, 0, sizeof(r));
	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "Dled" CLI_COMMON_SHORTOPTS,
	            longopts, NULL)) != -1) {
		switch (c) {
		case 'D':
			unset = true;
			break;
		case 'l':
			break;
		case 'e':
			value = "1";
			break;
		case 'd':
			value = "";
			break;
		default:
			if (!cli_common_opt(c, &co, usage))
				cli_usage_fail("unknown option");
			break;
		}
	}
	npos = argc - optind;
	if (npos < 1)
		cli_usage_fail("expected VMNAME");
	if (npos > 3)
		cli_usage_fail("too many arguments");
	if (npos >= 2)
		service = argv[optind + 1];
	if (npos == 3) {
		value = service_value(argv[optind + 2]);
		if (value == NULL) {
			char q[128];

			cli_usage_fail("invalid literal for boolean value: %s",
			    cli_quote(argv[optind + 2], q, sizeof(q)));
		}
	}
	if (unset && service == NULL)
		cli_usage_fail("--unset requires a service");
	if (unset && value != NULL)
		cli_usage_fail("cannot both set and unset a value");
	if (service == NULL && value != NULL)
		cli_usage_fail("--enable and --disable need a SERVICE");
	vm = cli_resolve_one(argv[optind], &list);
	if (vm == NULL)
		return CLI_EXIT_FAIL;
	if (service != NULL)
		feature = cli_asprintf(SERVICE_PREFIX "%s", service);

	if (service == NULL) {
		rc = list_services(vm->name);
	} else if (unset || value == NULL) {
		const char *method =
		    unset ? "admin.vm.feature.Remove" : "admin.vm.feature.Get";

		if (cli_call(vm->name, method, feature, NULL, 0, &r) < 0)
			rc = CLI_EXIT_FAIL;
		else if (!r.ok) {
			/* not set: fine to unset, exit 1 quietly to print */
			if (!admin_exc_is(r.exc, ADMIN_EXC_FEATURE_NOT_FOUND)) {
				cli_print_exc(vm->name, &r);
				rc = CLI_EXIT_FAIL;
			} else if (!unset) {
				rc = CLI_EXIT_FAIL;
			}
		} else if (!unset) {
			(void)printf("%s\n", r.len > 0 ? "on" : "off");
		}
		admin_reply_free(&r);
	} else if (cli_call_ok(vm->name, vm->name, "admin.vm.feature.Set",
	               feature, value, strlen(value), NULL) < 0) {
		rc = CLI_EXIT_FAIL;
	}
	free(feature);
	admin_vm_list_free(&list);
	return rc;
}
