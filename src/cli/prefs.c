/*
 * prefs.c - qvm-prefs and qubes-prefs: list, show, set and reset the
 * properties of a qube (admin.vm.property.*) or the global ones
 * (admin.property.*), with Qubes' options and output.
 *
 * Runs in those two tools, as the administrator.  Untrusted input: the
 * daemon's replies, parsed by admin_client.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/tools.h"

enum {
	OPT_HELP_PROPERTIES = CLI_OPT_FIRST_TOOL,
	OPT_HIDE_DEFAULT,
};

/* Where the calls go: one qube's properties or the global ones. */
struct target {
	const char *dest; /* the qube, or dom0 */
	const char *list, *get, *getall, *set, *reset, *help;
};

static const struct target vm_methods = {
    NULL,
    "admin.vm.property.List",
    "admin.vm.property.Get",
    "admin.vm.property.GetAll",
    "admin.vm.property.Set",
    "admin.vm.property.Reset",
    "admin.vm.property.Help",
};

static const struct target global_methods = {
    "dom0",
    "admin.property.List",
    "admin.property.Get",
    "admin.property.GetAll",
    "admin.property.Set",
    "admin.property.Reset",
    "admin.property.Help",
};

/* --help for -D and --hide-default, the same in both tools. */
#define PREFS_OPTS_HELP                                                        \
	"  -D, --default        reset PROPERTY to its default value\n"         \
	"      --hide-default   do not list (or print) properties that have "  \
	"their\n"                                                              \
	"                       default value\n"

static void
usage_vm(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-prefs [options] VMNAME [PROPERTY [VALUE]]\n"
	    "       qvm-prefs [options] --default VMNAME PROPERTY\n"
	    "\n"
	    "List, show, set or reset the properties of a qube.\n"
	    "\n"
	    "With VMNAME alone, list every property: its name, then D if it "
	    "has its\n"
	    "default value or - if it was set, then the value (None for no "
	    "qube or\n"
	    "label); U in place of both means the property has no value.  With "
	    "PROPERTY,\n"
	    "print its value (nothing for None).  With VALUE, set it: a bool "
	    "takes\n"
	    "True/true/on/1 or False/false/off/0, a qube reference takes a name "
	    "or \"\"\n"
	    "(none; \"none\" also works for netvm, template, default_dispvm, "
	    "guivm and\n"
	    "audiovm).  A '-' in PROPERTY is read as '_'.\n"
	    "\n"
	    "Options:\n" PREFS_OPTS_HELP "      --help-properties\n"
	    "                       list the properties of VMNAME with a short "
	    "description\n"
	    "                       and exit\n"
	    "  -g, --get, -s, --set ignored, for older scripts\n" CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 done, 1 the daemon refused or failed, 2 usage error "
	    "(also an\n"
	    "unknown qube or property).\n"
	    "\n" CLI_ENV_HELP "\n"
	    "See qvm-prefs(1) for the common properties.\n");
}

static void
usage_global(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qubes-prefs [options] [PROPERTY [VALUE]]\n"
	    "       qubes-prefs [options] --default PROPERTY\n"
	    "\n"
	    "List, show, set or reset the global properties of the system "
	    "(default_netvm,\n"
	    "default_template, default_dispvm, updatevm, clockvm, "
	    "default_kernel, ...).\n"
	    "\n"
	    "Without PROPERTY, list every property: its name, then D if it has "
	    "its\n"
	    "default value or - if it was set, then the value.  With PROPERTY, "
	    "print its\n"
	    "value; with VALUE, set it (\"\" for no qube).  A '-' in PROPERTY "
	    "is read\n"
	    "as '_'.\n"
	    "\n"
	    "Options:\n" PREFS_OPTS_HELP "      --help-properties\n"
	    "                       list the properties with a short description "
	    "and exit\n"
	    "  -g, --get, -s, --set ignored, for older scripts\n" CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 done, 1 the daemon refused or failed, 2 usage error "
	    "(also an\n"
	    "unknown property).\n"
	    "\n" CLI_ENV_HELP);
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A usage error for QubesNoSuchPropertyError, else the message; exit. */
static _Noreturn void
prop_fail(const char *prop, const struct admin_reply *r)
{
	char q[256];

	if (admin_exc_is(r->exc, ADMIN_EXC_NO_SUCH_PROPERTY))
		cli_usage_fail(
		    "%s: no such property", cli_quote(prop, q, sizeof(q)));
	cli_print_exc(cli_quote(prop, q, sizeof(q)), r);
	exit(CLI_EXIT_FAIL);
}

static int
help_properties(const struct target *t)
{
	struct admin_reply r;
	struct admin_strv names = {NULL, 0};
	size_t i, width = 0;
	int rc;

	if (cli_call_lines(NULL, t->dest, t->list, &names) < 0)
		return CLI_EXIT_FAIL;
	qsort(names.v, names.n, sizeof(*names.v), cmp_strp);
	for (i = 0; i < names.n; i++)
		if (strlen(names.v[i]) > width)
			width = strlen(names.v[i]);
	for (i = 0; i < names.n; i++) {
		char *line;
		char q[1024];
		const char *help = "";

		if (cli_call(t->dest, t->help, names.v[i], NULL, 0, &r) < 0)
			break;
		if (r.ok)
			help = cli_quote(r.data, q, sizeof(q));
		line = cli_asprintf("%-*s  %s", (int)width, names.v[i], help);
		cli_wrap(stdout, line, 80, 2, width + 6);
		free(line);
		admin_reply_free(&r);
	}
	rc = i == names.n ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	admin_strv_free(&names);
	return rc;
}

/*
 * Every property: property.List, then GetAll for the values.  Should GetAll
 * be missing (an empty reply, as Qubes' client allows, or a ProtocolError
 * from a daemon without it) each value is fetched with Get.
 */
static int
list_properties(const struct target *t, bool hide_default)
{
	struct admin_reply r;
	struct admin_strv names = {NULL, 0};
	struct admin_prop_list all = {NULL, 0};
	size_t i, width = 0;
	int rc;

	if (cli_call_lines(NULL, t->dest, t->list, &names) < 0)
		return CLI_EXIT_FAIL;
	rc = admin_call(
	    admin_socket_path(), t->dest, t->getall, NULL, NULL, 0, &r);
	if (rc == 0 && r.ok) {
		rc = admin_parse_property_all(r.data, r.len, &all);
		if (rc < 0) {
			cli_print_call_error(t->getall, rc);
			admin_reply_free(&r);
			admin_strv_free(&names);
			return CLI_EXIT_FAIL;
		}
	} else if (rc == 0 && r.exc != ADMIN_EXC_PROTOCOL) {
		cli_print_exc(NULL, &r);
		admin_reply_free(&r);
		admin_strv_free(&names);
		return CLI_EXIT_FAIL;
	} else if (rc < 0 && rc != -ENODATA) {
		cli_print_call_error(t->getall, rc);
		admin_strv_free(&names);
		return CLI_EXIT_FAIL;
	}
	if (rc == 0)
		admin_reply_free(&r);
	qsort(names.v, names.n, sizeof(*names.v), cmp_strp);
	for (i = 0; i < names.n; i++)
		if (strlen(names.v[i]) > width)
			width = strlen(names.v[i]);
	rc = CLI_EXIT_OK;
	for (i = 0; i < names.n; i++) {
		const struct admin_prop *p =
		    admin_prop_list_find(&all, names.v[i]);
		struct admin_prop one = {NULL, false, ADMIN_PROP_STR, NULL};
		const char *text;
		char buf[64];

		if (p == NULL) {
			if (cli_call(t->dest, t->get, names.v[i], NULL, 0, &r) <
			    0) {
				rc = CLI_EXIT_FAIL;
				break;
			}
			if (!r.ok ||
			    admin_parse_property(r.data, r.len, &one) < 0) {
				/* Qubes shows an unreadable property as unset */
				(void)printf(
				    "%-*s  U\n", (int)width, names.v[i]);
				admin_reply_free(&r);
				continue;
			}
			admin_reply_free(&r);
			p = &one;
		}
		text = cli_prop_text(p, buf, sizeof(buf));
		if (text == NULL && p->type != ADMIN_PROP_VM &&
		    p->type != ADMIN_PROP_LABEL)
			(void)printf("%-*s  U\n", (int)width, names.v[i]);
		else if (!p->is_default)
			(void)printf("%-*s  -  %s\n", (int)width, names.v[i],
			    text != NULL ? text : "None");
		else if (!hide_default)
			(void)printf("%-*s  D  %s\n", (int)width, names.v[i],
			    text != NULL ? text : "None");
		admin_prop_free(&one);
	}
	admin_prop_list_free(&all);
	admin_strv_free(&names);
	return rc;
}

static int
get_property(const struct target *t, const char *prop, bool hide_default)
{
	struct admin_reply r;
	struct admin_prop p;
	const char *text;
	char buf[64];
	int rc;

	if (cli_call(t->dest, t->get, prop, NULL, 0, &r) < 0)
		return CLI_EXIT_FAIL;
	if (!r.ok)
		prop_fail(prop, &r);
	rc = admin_parse_property(r.data, r.len, &p);
	admin_reply_free(&r);
	if (rc < 0) {
		cli_print_call_error(t->get, rc);
		return CLI_EXIT_FAIL;
	}
	text = cli_prop_text(&p, buf, sizeof(buf));
	if (text != NULL && !(hide_default && p.is_default))
		(void)printf("%s\n", text);
	admin_prop_free(&p);
	return CLI_EXIT_OK;
}

/* The properties whose "none" means no qube (qvm_prefs.py). */
static bool
none_means_empty(const char *prop)
{
	static const char *const props[] = {
	    "default_dispvm", "netvm", "template", "guivm", "audiovm", NULL};

	return cli_in_list(props, prop);
}

static int
write_property(const struct target *t, const char *prop, const char *value)
{
	struct admin_reply r;
	const char *method = value != NULL ? t->set : t->reset;

	if (value != NULL && strcasecmp(value, "none") == 0 &&
	    none_means_empty(prop))
		value = "";
	if (cli_call(t->dest, method, prop, value, value ? strlen(value) : 0,
	        &r) < 0)
		return CLI_EXIT_FAIL;
	if (!r.ok)
		prop_fail(prop, &r);
	admin_reply_free(&r);
	return CLI_EXIT_OK;
}

int
prefs_main(int argc, char **argv, bool global)
{
	static const struct option tool_opts[] = {
	    {"help-properties", no_argument, NULL, OPT_HELP_PROPERTIES},
	    {"hide-default", no_argument, NULL, OPT_HIDE_DEFAULT},
	    {"get", no_argument, NULL, 'g'},
	    {"set", no_argument, NULL, 's'},
	    {"default", no_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts = cli_longopts(tool_opts, 0);
	void (*usage)(FILE * f) = global ? usage_global : usage_vm;
	struct cli_common co = {0, 0};
	struct target t = global ? global_methods : vm_methods;
	bool help_props = false, hide_default = false, reset = false;
	struct admin_vm_list list = {NULL, 0};
	char *prop = NULL;
	const char *value = NULL;
	int c, npos, rc;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "gsD" CLI_COMMON_SHORTOPTS,
	            longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HELP_PROPERTIES:
			help_props = true;
			break;
		case OPT_HIDE_DEFAULT:
			hide_default = true;
			break;
		case 'g':
		case 's':
			break;
		case 'D':
			reset = true;
			break;
		default:
			if (!cli_common_opt(c, &co, usage))
				cli_usage_fail("unknown option");
			break;
		}
	}
	npos = argc - optind;
	if (!global) {
		const struct admin_vm *vm;

		if (npos < 1)
			cli_usage_fail("expected VMNAME");
		vm = cli_resolve_one(argv[optind], &list);
		if (vm == NULL)
			return CLI_EXIT_FAIL;
		t.dest = vm->name;
		optind++;
		npos--;
	}
	if (npos > 2)
		cli_usage_fail("too many arguments");
	if (npos >= 1) {
		char *dash;

		prop = cli_strdup(argv[optind]);
		/* qvm_prefs.py reads "netvm-x" as "netvm_x" */
		while ((dash = strchr(prop, '-')) != NULL)
			*dash = '_';
	}
	if (npos == 2)
		value = argv[optind + 1];
	if (help_props)
		rc = help_properties(&t);
	else if (prop == NULL && reset)
		cli_usage_fail("--default needs a PROPERTY");
	else if (prop == NULL)
		rc = list_properties(&t, hide_default);
	else if (value != NULL && reset)
		cli_usage_fail("cannot both set and reset a property");
	else if (value != NULL || reset)
		rc = write_property(&t, prop, value);
	else
		rc = get_property(&t, prop, hide_default);
	free(prop);
	admin_vm_list_free(&list);
	return rc;
}
