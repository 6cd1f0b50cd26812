/*
 * qvm_tags.c - qvm-tags: list, query, add and remove the tags of a qube
 * (admin.vm.tag.*), with Qubes' commands and their aliases.
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
	    "Usage: qvm-tags [options] VMNAME [list [TAG]]\n"
	    "       qvm-tags [options] VMNAME add TAG...\n"
	    "       qvm-tags [options] VMNAME del TAG...\n"
	    "\n"
	    "Manage the tags of a qube.  Tags name groups of qubes in qrexec "
	    "policy\n"
	    "(@tag:NAME); a tag is ASCII letters, digits, '_' and '-'.\n"
	    "\n"
	    "Commands:\n"
	    "  list, ls, l [TAG]    list the tags (the default), or with TAG "
	    "print it if\n"
	    "                       the qube has it and exit 1 if not\n"
	    "  add, a, set TAG...   add the tags\n"
	    "  del, d, unset, u TAG...\n"
	    "                       remove the tags (no error for a tag the "
	    "qube does\n"
	    "                       not have)\n"
	    "\n"
	    "Options:\n" CLI_COMMON_HELP "\n"
	    "Exit status: 0 done, 1 the qube does not have TAG (list TAG) or "
	    "the daemon\n"
	    "refused, 2 usage error (also an unknown qube).\n"
	    "\n" CLI_ENV_HELP);
}

enum cmd {
	CMD_LIST,
	CMD_ADD,
	CMD_DEL,
	CMD_MAX
};

static enum cmd
parse_cmd(const char *s)
{
	static const struct {
		const char *name;
		enum cmd cmd;
	} cmds[] = {
	    {"list", CMD_LIST},
	    {"ls", CMD_LIST},
	    {"l", CMD_LIST},
	    {"add", CMD_ADD},
	    {"a", CMD_ADD},
	    {"set", CMD_ADD},
	    {"del", CMD_DEL},
	    {"d", CMD_DEL},
	    {"unset", CMD_DEL},
	    {"u", CMD_DEL},
	};
	size_t i;
	char q[128];

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(s, cmds[i].name) == 0)
			return cmds[i].cmd;
	cli_usage_fail("%s: invalid command (choose from list, add, del)",
	    cli_quote(s, q, sizeof(q)));
}

static int
list_tags(const char *vm)
{
	struct admin_strv tags = {NULL, 0};
	size_t i;

	if (cli_call_lines(vm, vm, "admin.vm.tag.List", &tags) < 0)
		return CLI_EXIT_FAIL;
	/* the daemon sorts them; Qubes' tool sorts again */
	for (i = 0; i < tags.n; i++)
		(void)printf("%s\n", tags.v[i]);
	admin_strv_free(&tags);
	return CLI_EXIT_OK;
}

static int
query_tag(const char *vm, const char *tag)
{
	struct admin_reply r;
	int rc;

	if (cli_call_ok(vm, vm, "admin.vm.tag.Get", tag, NULL, 0, &r) < 0)
		return CLI_EXIT_FAIL;
	if (r.len == 1 && r.data[0] == '1') {
		(void)printf("%s\n", tag);
		rc = CLI_EXIT_OK;
	} else if (r.len == 1 && r.data[0] == '0') {
		rc = CLI_EXIT_FAIL;
	} else {
		cli_print_call_error("admin.vm.tag.Get", -EBADMSG);
		rc = CLI_EXIT_FAIL;
	}
	admin_reply_free(&r);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts = cli_longopts(tool_opts, 0);
	struct cli_common co = {0, 0};
	struct admin_vm_list list = {NULL, 0};
	const struct admin_vm *vm;
	enum cmd cmd = CMD_LIST;
	int c, i, ntags, rc = CLI_EXIT_OK;
	char **tags;

	cli_init(argv[0]);
	/* "+": the command's words are not options */
	while ((c = getopt_long(argc, argv, "+" CLI_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1)
		if (!cli_common_opt(c, &co, usage))
			cli_usage_fail("unknown option");
	if (optind >= argc)
		cli_usage_fail("expected VMNAME");
	if (optind + 1 < argc)
		cmd = parse_cmd(argv[optind + 1]);
	tags = &argv[optind + 2 < argc ? optind + 2 : argc];
	ntags = optind + 2 < argc ? argc - optind - 2 : 0;
	if (cmd == CMD_LIST && ntags > 1)
		cli_usage_fail("list takes at most one TAG");
	if (cmd != CMD_LIST && ntags == 0)
		cli_usage_fail("%s needs at least one TAG",
		    cmd == CMD_ADD ? "add" : "del");
	vm = cli_resolve_one(argv[optind], &list);
	if (vm == NULL)
		return CLI_EXIT_FAIL;
	switch (cmd) {
	case CMD_LIST:
		rc = ntags == 0 ? list_tags(vm->name) :
		                  query_tag(vm->name, tags[0]);
		break;
	case CMD_ADD:
		for (i = 0; i < ntags && rc == CLI_EXIT_OK; i++)
			if (cli_call_ok(vm->name, vm->name, "admin.vm.tag.Set",
			        tags[i], NULL, 0, NULL) < 0)
				rc = CLI_EXIT_FAIL;
		break;
	case CMD_DEL:
		for (i = 0; i < ntags && rc == CLI_EXIT_OK; i++) {
			struct admin_reply r;

			if (cli_call(vm->name, "admin.vm.tag.Remove", tags[i],
			        NULL, 0, &r) < 0) {
				rc = CLI_EXIT_FAIL;
				break;
			}
			/* like set.discard(): a missing tag is fine */
			if (!r.ok &&
			    !admin_exc_is(r.exc, ADMIN_EXC_TAG_NOT_FOUND)) {
				cli_print_exc(vm->name, &r);
				rc = CLI_EXIT_FAIL;
			}
			admin_reply_free(&r);
		}
		break;
	case CMD_MAX:
	default:
		break;
	}
	admin_vm_list_free(&list);
	return rc;
}
