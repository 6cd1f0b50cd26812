/*
 * qvm_clone.c - qvm-clone: copy a qube under a new name (clone.c does the
 * work), with Qubes' options.
 *
 * Runs as the administrator.  Untrusted input: the daemon's replies,
 * parsed by admin_client.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/tools.h"

enum {
	OPT_IGNORE_ERRORS = CLI_OPT_FIRST_TOOL,
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-clone [options] VMNAME NEWVM\n"
	    "\n"
	    "Copy the qube VMNAME to a new qube NEWVM: the same class (unless "
	    "--class),\n"
	    "template, label and storage pools, the properties that are not at "
	    "their\n"
	    "defaults, the tags (but created-by-*), the features, the "
	    "firewall, and the\n"
	    "data of every persistent volume (private; root too for templates "
	    "and\n"
	    "standalone qubes).  If a step fails, NEWVM is removed again.\n"
	    "\n"
	    "Options:\n"
	    "  -C, --class CLASS    the class of NEWVM (default: that of "
	    "VMNAME)\n"
	    "      --ignore-errors  report errors while copying properties, "
	    "tags,\n"
	    "                       features and firewall, and go on\n"
	    "  -P POOL              put every volume of NEWVM in POOL\n"
	    "  -p, --pool VOLUME=POOL\n"
	    "                       put VOLUME of NEWVM in POOL (may be "
	    "repeated; not with\n"
	    "                       -P); without either, VMNAME's pools are "
	    "kept\n" CLI_COMMON_HELP "\n"
	    "Exit status: 0 cloned, 1 failed (nothing is left behind), 2 usage "
	    "error (also\n"
	    "an unknown qube).\n"
	    "\n" CLI_ENV_HELP);
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"class", required_argument, NULL, 'C'},
	    {"ignore-errors", no_argument, NULL, OPT_IGNORE_ERRORS},
	    {"pool", required_argument, NULL, 'p'},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts = cli_longopts(tool_opts, 0);
	struct cli_common co = {0, 0};
	struct admin_vm_list list = {NULL, 0};
	struct admin_strv pools = {NULL, 0};
	struct clone_opts o;
	const struct admin_vm *src;
	char *tail = NULL;
	int c, rc;

	memset(&o, 0, sizeof(o));
	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "C:P:p:" CLI_COMMON_SHORTOPTS,
	            longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			o.klass = optarg;
			break;
		case OPT_IGNORE_ERRORS:
			o.ignore_errors = true;
			break;
		case 'P':
			o.pool = optarg;
			break;
		case 'p':
			if (admin_strv_add(&pools, optarg) < 0)
				cli_usage_fail("too many --pool");
			break;
		default:
			if (!cli_common_opt(c, &co, usage))
				cli_usage_fail("unknown option");
			break;
		}
	}
	if (argc - optind != 2)
		cli_usage_fail("expected VMNAME NEWVM");
	if (o.pool != NULL && pools.n > 0)
		cli_usage_fail("-P and --pool exclude each other");
	if (pools.n > 0) {
		tail = clone_pools_payload(&pools);
		o.pools = tail;
	}
	src = cli_resolve_one(argv[optind], &list);
	if (src == NULL)
		return CLI_EXIT_FAIL;
	o.src = src->name;
	o.dst = argv[optind + 1];
	if (o.klass == NULL)
		o.klass = src->klass;
	o.verbosity = cli_verbosity(&co);
	rc = clone_qube(&o) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	free(tail);
	admin_strv_free(&pools);
	admin_vm_list_free(&list);
	return rc;
}
