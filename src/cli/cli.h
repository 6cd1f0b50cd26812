/*
 * cli.h - what every qvm-* tool shares: messages and exit codes, the
 * common options, calls that report their own errors, the choice of qubes
 * from names, wildcards or --all/--exclude, and table output.
 *
 * Conventions (STYLE.md 4, and Qubes' tools where they agree): exit 0 on
 * success, 1 on failure, 2 on a usage error (an unknown qube is one, as
 * in Qubes' argument parser); messages are "prog: what: reason" on
 * stderr.  qvm-check keeps Qubes' exit code 3 ("some matched").
 */
#ifndef BULKHEAD_CLI_CLI_H
#define BULKHEAD_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/admin_client.h"

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

/* getopt values of the long-only common options */
enum {
	CLI_OPT_VERSION = 0x1000,
	CLI_OPT_FORCE_ROOT,
	CLI_OPT_ALL,
	CLI_OPT_EXCLUDE,
	CLI_OPT_FIRST_TOOL /* tools number their own long options from here */
};

/* The short options every Qubes tool has (QubesArgumentParser). */
#define CLI_COMMON_SHORTOPTS "vqh"

/* The text of --help for the common options, to end a tool's own. */
#define CLI_COMMON_HELP                                                        \
	"  -v, --verbose        more messages (may be repeated)\n"             \
	"  -q, --quiet          fewer messages (may be repeated)\n"            \
	"  -h, --help           show this help and exit\n"                     \
	"      --version        show the version and exit\n"

/* --all and --exclude, for the tools that act on many qubes. */
#define CLI_SELECT_HELP                                                        \
	"      --all            act on every qube but dom0\n"                  \
	"      --exclude VMNAME with --all, leave this qube out (may be "      \
	"repeated)\n"

/* The environment, for the end of each tool's --help. */
#define CLI_ENV_HELP                                                           \
	"Environment:\n"                                                       \
	"  " ADMIN_SOCKET_ENV "  the Admin API socket of bulkheadd\n"          \
	"                         (default " ADMIN_SOCKET_DEFAULT "); in a\n"  \
	"                         qube, or set to \"" ADMIN_REMOTE             \
	"\": each call\n"                                                      \
	"                         through qrexec-client-vm, under policy\n"

/* cli_longopts() flags */
#define CLI_OPTS_SELECT 1u /* add --all and --exclude */

/*
 * The tool's long options (ending in an all-zero entry) followed by the
 * common ones: --verbose, --quiet, --help, --version, --force-root, and
 * with CLI_OPTS_SELECT --all and --exclude.  The table is built once and
 * kept for the life of the program.  Exits on out-of-memory.
 */
const struct option *cli_longopts(const struct option *tool, unsigned flags);

struct cli_common {
	int verbose; /* -v count */
	int quiet;   /* -q count */
};

/* Name messages after prog (argv[0] of the tool, without its path). */
void cli_init(const char *prog);
const char *cli_prog(void);

/* Verbosity as Qubes computes it: 1 + verbose - quiet. */
int cli_verbosity(const struct cli_common *co);

/*
 * Handle a common option or a getopt error: -v, -q (counted), -h (prints
 * usage to stdout, exits 0), --version (exits 0), --force-root (ignored),
 * '?' (exits 2).  Returns true if c was one of them.
 */
bool cli_common_opt(int c, struct cli_common *co, void (*usage)(FILE *f));

/* --all and --exclude (CLI_OPTS_SELECT), as cli_select_opt reads them. */
struct cli_select_opts {
	bool all;
	struct admin_strv exclude; /* free with admin_strv_free */
};

/*
 * For the tools with --all and --exclude: c (and optarg) as getopt_long
 * returned them.  --all and --exclude go to *so (too many --exclude is a
 * usage error), anything else to cli_common_opt; an option that is
 * neither is a usage error ("unknown option", exit 2).
 */
void cli_select_opt(int c, struct cli_select_opts *so, struct cli_common *co,
    void (*usage)(FILE *f));

/* "prog: <message>\n" on stderr. */
void cli_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error: "prog: <message>" and a pointer to --help; exit 2. */
_Noreturn void cli_usage_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Quote a string from the daemon or the command line for a message:
 * printable characters (and UTF-8) kept, control characters as \xNN,
 * truncated to fit.  Returns out.
 */
const char *cli_quote(const char *s, char *out, size_t outlen);

/* The message of an exception reply, quoted, or a text for its type. */
const char *cli_exc_text(const struct admin_reply *r, char *out, size_t outlen);

/* "prog: what: <exception message>" */
void cli_print_exc(const char *what, const struct admin_reply *r);

/* "prog: <socket>: <reason>" for a failed call (error from admin_call). */
void cli_print_call_error(const char *method, int error);

/*
 * One call to the daemon at admin_socket_path().  Returns 0 with the reply
 * in *ret (success or exception: the caller decides), or -1 after printing
 * why the call failed (no daemon, broken reply).
 */
int cli_call(const char *dest, const char *method, const char *arg,
    const void *payload, size_t payload_len, struct admin_reply *ret);

/*
 * Like cli_call, but an exception is printed as "prog: what: message" and
 * is a failure too.  Returns 0 (success; *ret holds the data, free it) or
 * -1.  ret may be NULL if the data is not needed.
 */
int cli_call_ok(const char *what, const char *dest, const char *method,
    const char *arg, const void *payload, size_t payload_len,
    struct admin_reply *ret);

/*
 * A call whose reply is one name a line (admin.vm.tag.List, feature.List,
 * property.List, ...): as cli_call_ok, and a malformed list is a failure
 * too.  Returns 0 with the lines in *ret (free them) or -1 after a message.
 */
int cli_call_lines(const char *what, const char *dest, const char *method,
    struct admin_strv *ret);

/*
 * Call method+arg on each of n qubes at once (admin_call_many); returns the
 * calls, each with its error or reply.  Exits on out-of-memory.  Free with
 * cli_calls_free.
 */
struct admin_call *cli_call_each(const struct admin_vm *const *vms, size_t n,
    const char *method, const char *arg);
void cli_calls_free(struct admin_call *calls, size_t n);

/*
 * Print why a call of cli_call_each failed, as "prog: what: reason": its
 * transport error or its exception.  Nothing if it succeeded.
 */
void cli_print_call_failure(const char *what, const struct admin_call *c);

/*
 * Report each of n calls on qubes that failed, as cli_print_call_failure
 * with its qube's name (the call's dest).  An exception that is ok_exc or
 * derives from it is no failure (ADMIN_EXC_NONE: every exception is
 * one).  Returns CLI_EXIT_OK if no call failed, else CLI_EXIT_FAIL.
 */
int cli_report_calls(
    const struct admin_call *calls, size_t n, enum admin_exc ok_exc);

/*
 * Every property of a qube (admin.vm.property.*, dest the qube) or, with
 * global, of the system (admin.property.*): GetAll, or where the daemon
 * has none (an empty reply, as Qubes' client allows, or a ProtocolError)
 * List and one Get each.  0, or -1 after a message.
 */
int cli_fetch_props(const char *dest, bool global, struct admin_prop_list *ret);

/* The value of a property of a fetched list, or NULL if it has none. */
const char *cli_props_value(const struct admin_prop_list *l, const char *name);

/* One feature of a qube, with its value. */
struct cli_feature {
	char *name;               /* into the list's names */
	struct admin_reply value; /* admin.vm.feature.Get's reply */
};

struct cli_feature_list {
	struct cli_feature *f;
	size_t n;
	struct admin_strv names; /* what admin.vm.feature.List gave */
};

/*
 * The features of vm whose names begin with prefix ("" for all), in the
 * daemon's order: admin.vm.feature.List, then feature.Get for each, one at
 * a time; a feature removed in between is left out.  0, or -1 after a
 * message ("prog: vm: reason" for an exception).  Free the list with
 * cli_feature_list_free.
 */
int cli_get_features(
    const char *vm, const char *prefix, struct cli_feature_list *ret);
void cli_feature_list_free(struct cli_feature_list *l);

/*
 * Fetch and parse admin.vm.List (dest dom0).  0, or -1 after a message.
 */
int cli_list_qubes(struct admin_vm_list *ret);

/*
 * The power state of vm (admin.vm.CurrentState) into out, or "" if it
 * cannot be read, without a message: the caller decides what an unknown
 * state means.
 */
void cli_power_state(const char *vm, char *out, size_t outlen);

/* Which qubes a tool acts on. */
struct cli_selection {
	const struct admin_vm **vm; /* into the list given to cli_select */
	size_t n;
};

/*
 * Select qubes as Qubes' VmNameAction does: with all_qubes, every qube but
 * AdminVMs (unless with_admin) and those in exclude; otherwise each of
 * names in order, without duplicates, a name with a wildcard (*?[) being
 * every qube that matches it.  An unknown name is a usage error ("no such
 * domain", exit 2); --exclude without --all too.  Returns 0 or -ENOMEM.
 */
int cli_select(const struct admin_vm_list *list, char *const *names,
    size_t nnames, bool all_qubes, const struct admin_strv *exclude,
    bool with_admin, struct cli_selection *ret);
void cli_selection_free(struct cli_selection *s);

/*
 * VMNAME... or --all, as the tools that act on many qubes take them: one
 * of the two is needed, and they exclude each other (usage errors, exit
 * 2).
 */
void cli_check_names_or_all(size_t nnames, bool all_qubes);

/*
 * The qubes such a tool acts on: cli_check_names_or_all, then the list
 * into *list (freed by the caller) and cli_select from it, AdminVMs left
 * out of --all.  0, or -1 after a message (none for out-of-memory).
 */
int cli_select_args(char *const *names, size_t nnames,
    const struct cli_select_opts *so, struct admin_vm_list *list,
    struct cli_selection *ret);

/*
 * For the tools that act on one qube: fetch the list into *list (freed by
 * the caller) and return the qube called name.  An unknown name is a
 * usage error (exit 2); NULL if the list could not be fetched (the error
 * was printed).
 */
const struct admin_vm *
cli_resolve_one(const char *name, struct admin_vm_list *list);

/*
 * Print rows of ncols cells as column(1) -t does for Qubes' print_table:
 * columns left-aligned, two spaces apart, the last one unpadded.  Widths
 * count UTF-8 characters.
 */
void cli_print_table(FILE *f, char *const *cells, size_t nrows, size_t ncols);

/*
 * Print text filled to width columns as Python's textwrap does for Qubes'
 * --help-properties: the first line starts with indent1 spaces, the
 * others with indent2; runs of spaces inside a line are kept.
 */
void cli_wrap(
    FILE *f, const char *text, size_t width, size_t indent1, size_t indent2);

/*
 * A property value as Qubes' tools print it (Python's str() of the value):
 * str, vm and label as sent, bool as True/False, int as a decimal number.
 * Returns NULL when there is no value: None (an empty vm or label) or
 * unset (an empty int or bool); buf holds int and bool texts.
 */
const char *cli_prop_text(const struct admin_prop *p, char *buf, size_t len);

/* true if s is a string of list (NULL-terminated; a NULL list is empty). */
bool cli_in_list(const char *const *list, const char *s);

/* Parse an unsigned decimal of at most max. 0 or -EINVAL/-ERANGE. */
int cli_parse_uint(const char *s, unsigned long max, unsigned long *ret);

/* malloc'd printf; exits on out-of-memory (the tools' x* wrapper). */
char *cli_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *cli_strdup(const char *s);
void *cli_calloc(size_t n, size_t size);

/*
 * Ask "question" on stderr and read one line of answer from stdin (a
 * terminal or not, as Qubes' input()).  Returns the answer without its
 * newline in out, or -1 at end of input.
 */
int cli_ask(const char *question, char *out, size_t outlen);

#endif
