/*
 * qvm_create.c - qvm-create: create a qube (admin.vm.Create.CLASS, or
 * CreateInPool with pools), then set the properties given with --prop, as
 * Qubes' tool.  A template-based StandaloneVM is a copy of its template
 * (clone.c).
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
	OPT_STANDALONE = CLI_OPT_FIRST_TOOL,
	OPT_DISP,
	OPT_PROPERTY,
	OPT_HELP_CLASSES,
	OPT_NO_ROOT,
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-create [options] --label LABEL VMNAME\n"
	    "       qvm-create --help-classes\n"
	    "\n"
	    "Create a new qube.  The label is required; an AppVM is based on "
	    "the default\n"
	    "template unless --template.  The daemon tags the qube "
	    "created-by-dom0.\n"
	    "\n"
	    "Options:\n"
	    "  -C, --class CLASS    the class of the qube: AppVM (the "
	    "default),\n"
	    "                       TemplateVM, StandaloneVM, DispVM\n"
	    "      --standalone     same as --class StandaloneVM; with "
	    "--template, the qube\n"
	    "                       starts as a copy of the template's root "
	    "volume\n"
	    "      --disp           same as --class DispVM, and --label red "
	    "unless given\n"
	    "  -t, --template VMNAME\n"
	    "                       the template (an AppVM's: a TemplateVM; a "
	    "DispVM's:\n"
	    "                       an AppVM with template_for_dispvms)\n"
	    "  -l, --label LABEL    the label: red, orange, yellow, green, "
	    "gray, blue,\n"
	    "                       purple, black (or its number)\n"
	    "      --prop, --property NAME=VALUE\n"
	    "                       set a property once the qube exists (may "
	    "be\n"
	    "                       repeated): memory, vcpus, netvm, "
	    "virt_mode, ...\n"
	    "  -P POOL              put every volume in POOL\n"
	    "  -p, --pool VOLUME=POOL\n"
	    "                       put VOLUME (root, private, volatile, "
	    "kernel) in POOL\n"
	    "                       (may be repeated)\n"
	    "      --help-classes   list the classes the daemon knows and "
	    "exit\n"
	    "  -r, --root-copy-from FILE, -R, --root-move-from FILE\n"
	    "                       Qubes' import of a root image: not "
	    "supported by\n"
	    "                       bulkhead yet (an error)\n" CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 created, 1 failed (or created but a --prop could "
	    "not be set,\n"
	    "which is reported), 2 usage error (also an unknown label).\n"
	    "\n" CLI_ENV_HELP);
}

/* --prop, --label, --template and VMNAME, in the order given (Qubes keeps
 * them in one dict: a later one replaces the value, not the position). */
struct props {
	char *name[64];
	char *value[64];
	size_t n;
};

static void
props_set(struct props *p, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->name[i], name) == 0) {
			free(p->value[i]);
			p->value[i] = cli_strdup(value);
			return;
		}
	if (p->n == sizeof(p->name) / sizeof(p->name[0]))
		cli_usage_fail("too many properties");
	p->name[p->n] = cli_strdup(name);
	p->value[p->n] = cli_strdup(value);
	p->n++;
}

/* Remove name; its value (the caller frees it) or NULL. */
static char *
props_pop(struct props *p, const char *name)
{
	size_t i;
	char *v;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->name[i], name) == 0) {
			v = p->value[i];
			free(p->name[i]);
			memmove(&p->name[i], &p->name[i + 1],
			    (p->n - i - 1) * sizeof(p->name[0]));
			memmove(&p->value[i], &p->value[i + 1],
			    (p->n - i - 1) * sizeof(p->value[0]));
			p->n--;
			return v;
		}
	return NULL;
}

static const char *
props_get(const struct props *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->name[i], name) == 0)
			return p->value[i];
	return NULL;
}

static void
props_free(struct props *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->name[i]);
		free(p->value[i]);
	}
	p->n = 0;
}

static int
help_classes(void)
{
	struct admin_strv cls = {NULL, 0};
	size_t i;

	if (cli_call_lines(NULL, "dom0", "admin.vmclass.List", &cls) < 0)
		return CLI_EXIT_FAIL;
	for (i = 0; i < cls.n; i++)
		(void)printf("%s\n", cls.v[i]);
	admin_strv_free(&cls);
	return CLI_EXIT_OK;
}

/*
 * The label's name: label as given if the daemon has it, else the label
 * whose index it is (Qubes' get_label).  A usage error if neither.
 */
static char *
resolve_label(const char *label)
{
	struct admin_reply r;
	struct admin_strv labels = {NULL, 0};
	char *found = NULL, q[128];
	size_t i;

	if (cli_call_lines(NULL, "dom0", "admin.label.List", &labels) < 0)
		exit(CLI_EXIT_FAIL);
	if (admin_strv_find(&labels, label) >= 0)
		found = cli_strdup(label);
	else if (label[0] != '\0' &&
	    strspn(label, "0123456789") == strlen(label)) {
		for (i = 0; i < labels.n && found == NULL; i++) {
			if (cli_call("dom0", "admin.label.Index", labels.v[i],
			        NULL, 0, &r) < 0)
				exit(CLI_EXIT_FAIL);
			if (r.ok && strcmp(r.data, label) == 0)
				found = cli_strdup(labels.v[i]);
			admin_reply_free(&r);
		}
	}
	if (found == NULL) {
		char *avail = cli_strdup("");

		for (i = 0; i < labels.n; i++) {
			char *t = cli_asprintf(
			    "%s%s%s", avail, i ? ", " : "", labels.v[i]);

			free(avail);
			avail = t;
		}
		cli_usage_fail("no such label: %s; available: %s",
		    cli_quote(label, q, sizeof(q)), avail);
	}
	admin_strv_free(&labels);
	return found;
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"class", required_argument, NULL, 'C'},
	    {"standalone", no_argument, NULL, OPT_STANDALONE},
	    {"disp", no_argument, NULL, OPT_DISP},
	    {"property", required_argument, NULL, OPT_PROPERTY},
	    {"prop", required_argument, NULL, OPT_PROPERTY},
	    {"pool", required_argument, NULL, 'p'},
	    {"template", required_argument, NULL, 't'},
	    {"label", required_argument, NULL, 'l'},
	    {"help-classes", no_argument, NULL, OPT_HELP_CLASSES},
	    {"root-copy-from", required_argument, NULL, 'r'},
	    {"root-move-from", required_argument, NULL, 'R'},
	    {"no-root", no_argument, NULL, OPT_NO_ROOT},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts = cli_longopts(tool_opts, 0);
	struct cli_common co = {0, 0};
	struct admin_vm_list list = {NULL, 0};
	struct admin_strv pools = {NULL, 0};
	struct props props = {{NULL}, {NULL}, 0};
	const char *klass = "AppVM", *one_pool = NULL, *root = NULL;
	bool standalone = false, disp = false, help_cls = false;
	char *name = NULL, *label = NULL, *template = NULL, *tail = NULL;
	char *method = NULL, *payload = NULL;
	int c, rc = CLI_EXIT_OK;
	size_t i;

	cli_init(argv[0]);
	while (
	    (c = getopt_long(argc, argv, "C:p:P:t:l:r:R:" CLI_COMMON_SHORTOPTS,
	         longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			klass = optarg;
			break;
		case OPT_STANDALONE:
			standalone = true;
			break;
		case OPT_DISP:
			disp = true;
			break;
		case OPT_PROPERTY: {
			char *eq = strchr(optarg, '=');
			char *k;

			if (eq == NULL) {
				char q[128];

				cli_usage_fail("invalid property token: %s",
				    cli_quote(optarg, q, sizeof(q)));
			}
			k = cli_asprintf("%.*s", (int)(eq - optarg), optarg);
			props_set(&props, k, eq + 1);
			free(k);
			break;
		}
		case 'p':
			if (admin_strv_add(&pools, optarg) < 0)
				cli_usage_fail("too many --pool");
			break;
		case 'P':
			one_pool = optarg;
			break;
		case 't':
			props_set(&props, "template", optarg);
			break;
		case 'l':
			props_set(&props, "label", optarg);
			break;
		case OPT_HELP_CLASSES:
			help_cls = true;
			break;
		case 'r':
		case 'R':
			root = optarg;
			break;
		case OPT_NO_ROOT:
			/* ignored, as in Qubes */
			break;
		default:
			if (!cli_common_opt(c, &co, usage))
				cli_usage_fail("unknown option");
			break;
		}
	}
	if (argc - optind > 1)
		cli_usage_fail("too many arguments");
	if (argc - optind == 1)
		props_set(&props, "name", argv[optind]);
	if (help_cls)
		return help_classes();
	if (pools.n > 0)
		tail = clone_pools_payload(&pools);
	if (disp) {
		if (props_get(&props, "label") == NULL)
			props_set(&props, "label", "red");
		klass = "DispVM";
	}
	if (standalone)
		klass = "StandaloneVM";
	if (props_get(&props, "label") == NULL)
		cli_usage_fail("--label option is mandatory");
	if (props_get(&props, "name") == NULL)
		cli_usage_fail("VMNAME is mandatory");
	if (one_pool != NULL && tail != NULL)
		cli_usage_fail("-P and --pool exclude each other");
	if (strchr(props_get(&props, "name"), ' ') != NULL)
		cli_usage_fail("qube name cannot contain a space");
	if (root != NULL) {
		cli_errx("--root-copy-from/--root-move-from: importing a root "
		         "image is not supported yet");
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	label = resolve_label(props_get(&props, "label"));
	name = props_pop(&props, "name");

	if (strcmp(klass, "StandaloneVM") == 0 &&
	    props_get(&props, "template") != NULL) {
		/* a copy of the template, but its private volume */
		static const char *const ignore[] = {"private", NULL};
		struct clone_opts o;
		const struct admin_vm *src;

		template = props_pop(&props, "template");
		src = cli_resolve_one(template, &list);
		if (src == NULL) {
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		admin_vm_list_free(&list);
		memset(&o, 0, sizeof(o));
		o.src = template;
		o.dst = name;
		o.klass = klass;
		o.pool = one_pool;
		o.pools = tail;
		o.ignore_volumes = ignore;
		o.verbosity = cli_verbosity(&co);
		if (clone_qube(&o) < 0) {
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		/* the label given is set below, as a property */
		free(props_pop(&props, "label"));
		props_set(&props, "label", label);
	} else {
		const char *prefix = one_pool != NULL || tail != NULL ?
		    "admin.vm.CreateInPool." :
		    "admin.vm.Create.";

		free(props_pop(&props, "label"));
		template = props_pop(&props, "template");
		method = cli_asprintf("%s%s", prefix, klass);
		payload = cli_asprintf("name=%s label=%s%s%s%s", name, label,
		    one_pool != NULL ? " pool=" : "",
		    one_pool != NULL ? one_pool : "", tail != NULL ? tail : "");
		if (cli_call_ok(name, "dom0", method, template, payload,
		        strlen(payload), NULL) < 0) {
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		/* as Qubes' client, check the new qube is listed */
		if (cli_list_qubes(&list) < 0) {
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		if (admin_vm_list_find(&list, name) == NULL) {
			cli_errx("%s: not listed after its creation", name);
			rc = CLI_EXIT_FAIL;
			goto out;
		}
	}
	for (i = 0; i < props.n; i++) {
		struct admin_reply r;
		char msg[1024];

		if (cli_call(name, "admin.vm.property.Set", props.name[i],
		        props.value[i], strlen(props.value[i]), &r) < 0) {
			rc = CLI_EXIT_FAIL;
			continue;
		}
		if (!r.ok) {
			cli_errx(
			    "%s: error setting property %s (but the qube was "
			    "created): %s",
			    name, props.name[i],
			    cli_exc_text(&r, msg, sizeof(msg)));
			rc = CLI_EXIT_FAIL;
		}
		admin_reply_free(&r);
	}
out:
	free(method);
	free(payload);
	free(name);
	free(label);
	free(template);
	free(tail);
	props_free(&props);
	admin_strv_free(&pools);
	admin_vm_list_free(&list);
	return rc;
}
