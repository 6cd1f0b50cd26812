/*
 * qvm_run.c - qvm-run: run a command in qubes, as Qubes' tool: start the
 * qube unless --no-autostart (admin.vm.Start), then call a service in it
 * with qrexec-client: qubes.VMShell with the command on its standard input
 * by default, qubes.VMExec+<encoded argv> for a command with arguments or
 * --no-shell where the qube supports it, or the service named by COMMAND
 * with --service.  --dispvm runs it in a new disposable
 * (admin.vm.CreateDisposable) that is killed afterwards.  Like Qubes'
 * tool, it waits for the command and exits with its exit code; without
 * --pass-io the command's input and output are /dev/null.
 *
 * Runs as the administrator.  Untrusted input: the daemon's replies
 * (parsed by admin_client.c), and with --pass-io the command's output,
 * which qrexec-client copies (filtering escape sequences when asked).
 */
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define QREXEC_CLIENT_ENV "BULKHEAD_QREXEC_CLIENT"
/* The qrexec daemons' sockets, for a bulkheadd with another run dir. */
#define QREXEC_SOCKET_DIR_ENV "BULKHEAD_QREXEC_SOCKET_DIR"
#define QREXEC_CLIENT_NAME    "qrexec-client"
/* Exit code for a failure before the command ran (Qubes returns -1). */
#define RUN_EXIT_ERROR 255
/* Most qubes --all runs the command in at once. */
#define RUN_QUBES_MAX 1024

enum {
	OPT_LOCALCMD = CLI_OPT_FIRST_TOOL,
	OPT_GUI,
	OPT_NO_GUI,
	OPT_COLOR_OUTPUT,
	OPT_COLOR_STDERR,
	OPT_NO_COLOR_OUTPUT,
	OPT_NO_COLOR_STDERR,
	OPT_FILTER_ESC,
	OPT_NO_FILTER_ESC,
	OPT_SERVICE,
	OPT_NO_SHELL,
	OPT_DISPVM,
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-run [options] VMNAME COMMAND [ARG...]\n"
	    "       qvm-run [options] --all [--exclude VMNAME]... COMMAND "
	    "[ARG...]\n"
	    "       qvm-run [options] --dispvm[=DISPOSABLE_TEMPLATE] COMMAND "
	    "[ARG...]\n"
	    "\n"
	    "Run a command in a qube, starting the qube first if it is halted, "
	    "and wait\n"
	    "for it to end.  With ARGs (or --no-shell) COMMAND is run directly "
	    "with its\n"
	    "arguments (qubes.VMExec); alone it is a shell command line "
	    "(qubes.VMShell).\n"
	    "Write -- before COMMAND when it or its arguments start with '-'.\n"
	    "\n"
	    "Options:\n"
	    "  -u, --user USER      run the command as USER (default: the "
	    "qube's\n"
	    "                       default_user)\n"
	    "  -p, --pass-io        connect the command's standard input, "
	    "output and error\n"
	    "                       to ours, and exit with its exit code; "
	    "without it they\n"
	    "                       are /dev/null\n"
	    "      --localcmd COMMAND\n"
	    "                       with --pass-io, connect the command's input "
	    "and output\n"
	    "                       to this local shell command instead\n"
	    "  -a, --autostart, --auto\n"
	    "                       ignored: a halted qube is started anyway\n"
	    "  -n, --no-autostart, --no-auto\n"
	    "                       fail rather than start (or unpause) the "
	    "qube\n"
	    "      --service        COMMAND is a qrexec service (with an "
	    "optional +ARG)\n"
	    "                       rather than a command\n"
	    "      --no-shell       COMMAND is an executable, not a shell "
	    "command line\n"
	    "      --dispvm[=DISPOSABLE_TEMPLATE]\n"
	    "                       run in a new disposable of this template "
	    "(default: the\n"
	    "                       default_dispvm property), killed when the "
	    "command ends\n"
	    "      --all            run in every running qube (but dom0, "
	    "paused and\n"
	    "                       internal qubes)\n"
	    "      --exclude VMNAME with --all, leave this qube out (may be "
	    "repeated)\n"
	    "      --gui, --no-gui, --nogui\n"
	    "                       wait (or not) for the qube's GUI session "
	    "first; the\n"
	    "                       default is to wait if $DISPLAY is set, the "
	    "qube has a\n"
	    "                       guivm and its gui feature is not off\n"
	    "      --filter-escape-chars, --no-filter-escape-chars\n"
	    "                       replace (or not) terminal control "
	    "characters in the\n"
	    "                       command's output (default: when it is a "
	    "terminal)\n"
	    "      --colour-output COLOUR, --color-output COLOUR\n"
	    "      --colour-stderr COLOUR, --color-stderr COLOUR\n"
	    "                       mark the command's output (or error) with "
	    "this ANSI\n"
	    "                       colour (31 is red, the default with "
	    "--pass-io on a\n"
	    "                       terminal)\n"
	    "      --no-colour-output, --no-color-output, --no-colour-stderr, "
	    "--no-color-stderr\n"
	    "                       do not colour them\n" CLI_COMMON_HELP "\n"
	    "Exit status: the command's (the largest of them with --all); 1 if "
	    "a qube was\n"
	    "not started (--no-autostart) or is paused; 2 usage error (also an "
	    "unknown\n"
	    "qube); 255 if the call could not be made; qrexec-client's codes "
	    "for qrexec\n"
	    "failures (125 problem, 126 refused, 127 no such service).\n"
	    "\n" CLI_ENV_HELP "  " QREXEC_CLIENT_ENV
	    "  the qrexec-client program (default: the one\n"
	    "                          next to qvm-run, else from PATH)\n"
	    "  " QREXEC_SOCKET_DIR_ENV
	    "  the qrexec daemons' sockets, given to\n"
	    "                          qrexec-client as --socket-dir\n"
	    "  DISPLAY                 whether to wait for the GUI session\n");
}

/* What the command line asked for. */
struct run_opts {
	const char *user;
	bool autostart;
	bool passio;
	const char *localcmd;
	int gui;                  /* -1 default, 0, 1 */
	const char *color_output; /* NULL none */
	const char *color_stderr;
	bool filter_esc;
	bool service;
	bool no_shell;
	bool dispvm;
	const char *dispvm_template; /* NULL: the default */
	bool all;
	const char *cmd;
	char **cmd_args;
	int ncmd_args;
	int verbose;
};

/* The children to pass SIGINT/SIGTERM to (what Qubes' tool does). */
static pid_t children[RUN_QUBES_MAX + 1];
static size_t nchildren;

static void
forward_signal(int sig)
{
	size_t i;
	int saved = errno;

	for (i = 0; i < nchildren; i++)
		if (children[i] > 0)
			(void)kill(children[i], sig);
	errno = saved;
}

static void print_no_color(const struct run_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A message on stderr, outside of the command's colour (print_no_color). */
static void
print_no_color(const struct run_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o->color_stderr != NULL)
		(void)fputs("\033[0m", stderr);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (o->color_stderr != NULL)
		(void)fprintf(stderr, "\033[0;%sm", o->color_stderr);
	(void)fputc('\n', stderr);
}

/* qubesadmin.utils.encode_for_vmexec: [A-Za-z0-9_.] kept, '-' "--", the
 * other bytes "-XX"; arguments joined by '+'. */
static char *
encode_for_vmexec(const char *cmd, char **args, int nargs)
{
	size_t cap = 1, i;
	char *out, *o;
	int a;

	for (a = -1; a < nargs; a++)
		cap += 3 * strlen(a < 0 ? cmd : args[a]) + 1;
	out = cli_calloc(cap, 1);
	o = out;
	for (a = -1; a < nargs; a++) {
		const unsigned char *s =
		    (const unsigned char *)(a < 0 ? cmd : args[a]);

		if (a >= 0)
			*o++ = '+';
		for (i = 0; s[i] != '\0'; i++) {
			unsigned char ch = s[i];

			if ((ch >= 'a' && ch <= 'z') ||
			    (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '_' ||
			    ch == '.') {
				*o++ = (char)ch;
			} else if (ch == '-') {
				*o++ = '-';
				*o++ = '-';
			} else {
				(void)snprintf(o, 4, "-%02X", ch);
				o += 3;
			}
		}
	}
	*o = '\0';
	return out;
}

/* Python's shlex.quote. */
static char *
shell_quote(const char *s)
{
	const char *safe = "@%+=:,./-_";
	size_t i, n = 0;
	bool plain = s[0] != '\0';
	char *out, *o;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') ||
		        strchr(safe, s[i]) != NULL))
			plain = false;
	if (plain)
		return cli_strdup(s);
	for (i = 0; s[i] != '\0'; i++)
		n += s[i] == '\'' ? 5 : 1;
	out = cli_calloc(n + 3, 1);
	o = out;
	*o++ = '\'';
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\'') {
			/* close, an escaped quote, reopen: '"'"' */
			*o++ = '\'';
			*o++ = '"';
			*o++ = '\'';
			*o++ = '"';
			*o++ = '\'';
		} else {
			*o++ = s[i];
		}
	}
	*o++ = '\'';
	return out;
}

/*
 * The qube's feature, as features.check_with_template (the qube's or its
 * template's): malloc'd, or NULL if neither has it (or it cannot be read).
 */
static char *
feature_with_template(const char *vm, const char *feature)
{
	struct admin_reply r;
	char *v = NULL;

	if (admin_call(admin_socket_path(), vm,
	        "admin.vm.feature.CheckWithTemplate", feature, NULL, 0, &r) < 0)
		return NULL;
	if (r.ok)
		v = cli_strdup(r.data);
	admin_reply_free(&r);
	return v;
}

/* A property's raw value (malloc'd), NULL if it has none or fails. */
static char *
property(const char *vm, const char *prop)
{
	struct admin_reply r;
	struct admin_prop p;
	char *v = NULL;

	if (admin_call(admin_socket_path(), vm, "admin.vm.property.Get", prop,
	        NULL, 0, &r) < 0)
		return NULL;
	if (r.ok && admin_parse_property(r.data, r.len, &p) == 0) {
		if (!admin_prop_is_empty(&p))
			v = cli_strdup(p.value);
		admin_prop_free(&p);
	}
	admin_reply_free(&r);
	return v;
}

/* qvm_run.py's has_gui(): $DISPLAY, a guivm, and the gui feature not off. */
static bool
has_gui(const char *vm)
{
	char *guivm, *gui;
	bool yes;

	if (getenv("DISPLAY") == NULL)
		return false;
	guivm = property(vm, "guivm");
	if (guivm == NULL)
		return false;
	free(guivm);
	gui = feature_with_template(vm, "gui");
	yes = gui == NULL || gui[0] != '\0';
	free(gui);
	return yes;
}

/* The qrexec-client to run: $BULKHEAD_QREXEC_CLIENT, next to us, PATH. */
static char *
qrexec_client_path(void)
{
	const char *env = getenv(QREXEC_CLIENT_ENV);
	char self[4096];
	ssize_t n;

	if (env != NULL && env[0] != '\0')
		return cli_strdup(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash, *path;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			path = cli_asprintf("%s/" QREXEC_CLIENT_NAME, self);
			if (access(path, X_OK) == 0)
				return path;
			free(path);
		}
	}
	return cli_strdup(QREXEC_CLIENT_NAME);
}

/*
 * Start qrexec-client for service in vm.  stdin_data, if not NULL, is
 * written to its standard input (which is then closed); null_io connects
 * its stdio to /dev/null.  Returns its pid, or -1 (printed).
 */
static pid_t
spawn_qrexec(const struct run_opts *o, const char *vm, const char *service,
    const char *user, const char *prefix, bool null_io, bool filter_esc,
    bool nowait, long timeout, const char *stdin_data)
{
	char *argv[24], *target, *client, tbuf[32], *sockdir = NULL;
	const char *sd = getenv(QREXEC_SOCKET_DIR_ENV);
	int n = 0, in[2] = {-1, -1};
	pid_t pid;

	client = qrexec_client_path();
	target = cli_asprintf("%s:QUBESRPC %s%s dom0", user ? user : "DEFAULT",
	    service, strchr(service, '+') != NULL ? "" : "+");
	argv[n++] = client;
	if (sd != NULL && sd[0] != '\0') {
		sockdir = cli_asprintf("--socket-dir=%s", sd);
		argv[n++] = sockdir;
	}
	argv[n++] = "-d";
	argv[n++] = (char *)vm;
	if (filter_esc)
		argv[n++] = "-t";
	if (filter_esc || isatty(STDERR_FILENO))
		argv[n++] = "-T";
	if (o->localcmd != NULL && !null_io && stdin_data == NULL) {
		argv[n++] = "-l";
		argv[n++] = (char *)o->localcmd;
	}
	if (nowait)
		argv[n++] = "-e";
	if (prefix != NULL) {
		argv[n++] = "-p";
		argv[n++] = (char *)prefix;
	}
	if (timeout >= 0) {
		(void)snprintf(tbuf, sizeof(tbuf), "%ld", timeout);
		argv[n++] = "-w";
		argv[n++] = tbuf;
	}
	argv[n++] = target;
	argv[n] = NULL;
	if (strcmp(admin_socket_path(), ADMIN_REMOTE) == 0) {
		/*
		 * In a (management) qube: the call is the qube's own,
		 * qrexec-client-vm TARGET SERVICE, as Qubes' qvm-run makes it
		 * there; the policy chooses the user, and it waits for the
		 * service's end (qrexec-client-vm has neither -e nor -w).
		 */
		if (user != NULL) {
			cli_errx("--user: in a qube, the qrexec policy chooses "
			         "the user");
			free(target);
			free(client);
			free(sockdir);
			return -1;
		}
		free(client);
		client = cli_strdup(admin_qrexec_client_vm());
		n = 0;
		argv[n++] = client;
		if (filter_esc)
			argv[n++] = "-t";
		if (filter_esc || isatty(STDERR_FILENO))
			argv[n++] = "-T";
		if (prefix != NULL) {
			argv[n++] = "-p";
			argv[n++] = (char *)prefix;
		}
		argv[n++] = (char *)vm;
		argv[n++] = (char *)service;
		if (o->localcmd != NULL && !null_io && stdin_data == NULL) {
			argv[n++] = "/bin/sh";
			argv[n++] = "-c";
			argv[n++] = (char *)o->localcmd;
		}
		argv[n] = NULL;
	}
	if (stdin_data != NULL && pipe2(in, O_CLOEXEC) < 0) {
		cli_errx("pipe: %s", strerror(errno));
		free(target);
		free(client);
		free(sockdir);
		return -1;
	}
	(void)fflush(stdout);
	(void)fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int null = -1;

		if (null_io || stdin_data != NULL)
			null = open("/dev/null", O_RDWR);
		if (stdin_data != NULL)
			(void)dup2(in[0], STDIN_FILENO);
		else if (null_io && null >= 0)
			(void)dup2(null, STDIN_FILENO);
		if (null_io && null >= 0) {
			(void)dup2(null, STDOUT_FILENO);
			(void)dup2(null, STDERR_FILENO);
		}
		(void)signal(SIGINT, SIG_DFL);
		(void)signal(SIGTERM, SIG_DFL);
		if (strchr(argv[0], '/') != NULL)
			(void)execv(argv[0], argv);
		else
			(void)execvp(argv[0], argv);
		(void)fprintf(stderr, "%s: %s: %s\n", cli_prog(), argv[0],
		    strerror(errno));
		_exit(127);
	}
	if (pid < 0)
		cli_errx("fork: %s", strerror(errno));
	if (stdin_data != NULL) {
		(void)close(in[0]);
		if (pid > 0) {
			/* a small write: the pipe holds it, no deadlock */
			ssize_t w =
			    write(in[1], stdin_data, strlen(stdin_data));

			(void)w;
		}
		(void)close(in[1]);
	}
	free(target);
	free(client);
	free(sockdir);
	return pid;
}

static int
wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return RUN_EXIT_ERROR;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return RUN_EXIT_ERROR;
}

/* Start the qube (a running one is fine), or check it runs. */
static int
ensure_running(const struct run_opts *o, const char *vm)
{
	struct admin_reply r;
	char state[ADMIN_NAME_MAX];

	if (!o->autostart) {
		cli_power_state(vm, state, sizeof(state));
		if (!admin_state_is_running(state)) {
			cli_errx("%s: domain is not running", vm);
			return -1;
		}
		return 0;
	}
	if (cli_call(vm, "admin.vm.Start", NULL, NULL, 0, &r) < 0)
		return -1;
	if (!r.ok && !admin_exc_is(r.exc, ADMIN_EXC_VM_NOT_HALTED)) {
		cli_print_exc(vm, &r);
		admin_reply_free(&r);
		return -1;
	}
	admin_reply_free(&r);
	return 0;
}

/*
 * The service and input for the command in vm (feature_vm: where to look
 * the qube's features up: the qube, or a disposable's template).
 */
static void
choose_service(const struct run_opts *o, const char *feature_vm,
    char **ret_service, char **ret_prefix, const char **ret_user)
{
	char *shell_cmd = NULL, *f;
	bool root_exec = false;
	bool gui_disp = o->gui > 0 && o->dispvm;

	*ret_user = o->user;
	*ret_prefix = NULL;
	if (o->user != NULL && strcmp(o->user, "root") == 0) {
		f = feature_with_template(
		    feature_vm, "supported-rpc.qubes.VMRootExec");
		root_exec = f != NULL && f[0] != '\0';
		free(f);
	}
	if (o->service) {
		*ret_service = cli_strdup(o->cmd);
		return;
	}
	if (o->ncmd_args > 0 || o->no_shell) {
		f = feature_with_template(feature_vm, "vmexec");
		if (f != NULL && f[0] != '\0') {
			char *enc = encode_for_vmexec(
			    o->cmd, o->cmd_args, o->ncmd_args);
			const char *svc = "qubes.VMExec";

			if (gui_disp) {
				svc = "qubes.VMExecGUI";
			} else if (root_exec) {
				svc = "qubes.VMRootExec";
				*ret_user = NULL;
			}
			*ret_service = cli_asprintf("%s+%s", svc, enc);
			free(enc);
			free(f);
			return;
		}
		free(f);
		/* no VMExec: the arguments quoted for the shell */
		shell_cmd = shell_quote(o->cmd);
		for (int i = 0; i < o->ncmd_args; i++) {
			char *q = shell_quote(o->cmd_args[i]);
			char *t = cli_asprintf("%s %s", shell_cmd, q);

			free(q);
			free(shell_cmd);
			shell_cmd = t;
		}
		*ret_service =
		    cli_strdup(gui_disp ? "qubes.VMShell+WaitForSession" :
		                          "qubes.VMShell");
	} else {
		if (gui_disp) {
			*ret_service =
			    cli_strdup("qubes.VMShell+WaitForSession");
		} else if (root_exec) {
			/* VMRootExec came with VMRootShell's force-user=root */
			*ret_service = cli_strdup("qubes.VMRootShell");
			*ret_user = NULL;
		} else {
			*ret_service = cli_strdup("qubes.VMShell");
		}
		shell_cmd = cli_strdup(o->cmd);
	}
	/* prepare_input_for_vmshell: the line, then "exit" */
	{
		size_t l = strlen(shell_cmd);
		bool windows;

		while (l > 0 && shell_cmd[l - 1] == '\n')
			shell_cmd[--l] = '\0';
		f = feature_with_template(feature_vm, "os");
		windows = f != NULL && strcmp(f, "Windows") == 0;
		free(f);
		*ret_prefix = cli_asprintf(
		    "%s%s", shell_cmd, windows ? "& exit\n" : "; exit\n");
		free(shell_cmd);
	}
}

static int
run_main(struct run_opts *o, char *vmname, struct admin_strv *exclude)
{
	struct admin_vm_list list = {NULL, 0};
	const char **names;
	bool *gui_of;
	pid_t *pids;
	char *disp = NULL, *disp_label = NULL, *disp_template = NULL;
	size_t n = 0, i, npids = 0;
	int rc = CLI_EXIT_OK, verbose = o->verbose - (o->passio ? 1 : 0);

	/* a disposable is named by its creation: no list to read */
	if (!o->dispvm && cli_list_qubes(&list) < 0)
		return RUN_EXIT_ERROR;
	names = cli_calloc(list.n + 1, sizeof(*names));
	gui_of = cli_calloc(list.n + 1, sizeof(*gui_of));
	pids = cli_calloc(list.n + 1, sizeof(*pids));
	if (o->dispvm) {
		/* a wrapper until created: "@dispvm[:TEMPLATE]" */
		disp_label = o->dispvm_template ?
		    cli_asprintf("@dispvm:%s", o->dispvm_template) :
		    cli_strdup("@dispvm");
		names[n++] = disp_label;
	} else if (o->all) {
		struct cli_selection sel;

		if (cli_select(&list, NULL, 0, true, exclude, false, &sel) < 0)
			return RUN_EXIT_ERROR;
		/* only running, not paused, not internal qubes */
		for (i = 0; i < sel.n && n < RUN_QUBES_MAX; i++) {
			const struct admin_vm *vm = sel.vm[i];
			struct admin_reply r;
			bool internal = false;

			if (!admin_state_is_running(vm->state) ||
			    strcmp(vm->state, "Paused") == 0)
				continue;
			if (admin_call(admin_socket_path(), vm->name,
			        "admin.vm.feature.Get", "internal", NULL, 0,
			        &r) == 0) {
				internal = r.ok && r.data[0] != '\0';
				admin_reply_free(&r);
			}
			if (internal)
				continue;
			gui_of[n] = o->gui < 0 ? has_gui(vm->name) : o->gui > 0;
			names[n++] = vm->name;
		}
		cli_selection_free(&sel);
	} else {
		const struct admin_vm *vm;
		char q[256];

		if (vmname == NULL)
			cli_usage_fail("expected VMNAME COMMAND");
		vm = admin_vm_list_find(&list, vmname);
		if (vm == NULL)
			cli_usage_fail("%s: no such domain",
			    cli_quote(vmname, q, sizeof(q)));
		names[n++] = vm->name;
		if (o->gui < 0)
			o->gui = has_gui(vm->name);
		gui_of[0] = o->gui > 0;
	}
	if (o->dispvm) {
		/*
		 * Until it exists, a disposable's properties and features are
		 * its template's (Qubes' redirected calls): the one named, or
		 * dom0's default_dispvm.
		 */
		disp_template = o->dispvm_template ?
		    cli_strdup(o->dispvm_template) :
		    property("dom0", "default_dispvm");
		if (o->gui < 0)
			o->gui =
			    disp_template != NULL && has_gui(disp_template);
	}
	if (n > 1 && o->passio && o->localcmd == NULL)
		cli_usage_fail("--pass-io cannot be used when more than 1 qube "
		               "is chosen and no --localcmd is used");
	if (o->color_output != NULL)
		(void)fprintf(stdout, "\033[0;%sm", o->color_output);
	if (o->color_stderr != NULL)
		(void)fprintf(stderr, "\033[0;%sm", o->color_stderr);
	(void)fflush(stdout);
	(void)fflush(stderr);

	for (i = 0; i < n; i++) {
		const char *vm = names[i];
		char state[ADMIN_NAME_MAX];
		char *service = NULL, *prefix = NULL;
		const char *user;
		long timeout = -1;
		pid_t pid;

		if (!o->dispvm) {
			if (!o->autostart) {
				cli_power_state(vm, state, sizeof(state));
				if (!admin_state_is_running(state)) {
					if (verbose > 0)
						print_no_color(o,
						    "Qube '%s' not started",
						    vm);
					rc = rc > 1 ? rc : 1;
					continue;
				}
			}
			cli_power_state(vm, state, sizeof(state));
			if (strcmp(state, "Paused") == 0) {
				struct admin_reply r;
				bool ok = false;

				if (!o->autostart) {
					if (verbose > 0)
						print_no_color(o,
						    "Qube '%s' is paused", vm);
					rc = rc > 1 ? rc : 1;
					continue;
				}
				if (admin_call(admin_socket_path(), vm,
				        "admin.vm.Unpause", NULL, NULL, 0,
				        &r) == 0) {
					ok = r.ok;
					admin_reply_free(&r);
				}
				if (!ok) {
					if (verbose > 0)
						print_no_color(o,
						    "Qube '%s' cannot be unpaused",
						    vm);
					rc = rc > 1 ? rc : 1;
					continue;
				}
			}
		}
		if (verbose > 0)
			print_no_color(o, "Running '%s' on %s", o->cmd, vm);
		if (!o->dispvm && gui_of[i]) {
			char *du = property(vm, "default_user");
			char *in = cli_asprintf("%s", du ? du : "user");

			if (ensure_running(o, vm) == 0) {
				pid =
				    spawn_qrexec(o, vm, "qubes.WaitForSession",
				        NULL, NULL, true, false, false, -1, in);
				if (pid > 0) {
					children[nchildren++] = pid;
					(void)wait_child(pid);
					nchildren--;
				}
			}
			free(in);
			free(du);
		}
		choose_service(o, disp_template ? disp_template : vm, &service,
		    &prefix, &user);
		if (o->dispvm) {
			struct admin_reply r;
			char *to;

			if (cli_call_ok(disp_label,
			        o->dispvm_template ? o->dispvm_template :
			                             "dom0",
			        "admin.vm.CreateDisposable", NULL, NULL, 0,
			        &r) < 0) {
				free(service);
				free(prefix);
				rc = RUN_EXIT_ERROR;
				break;
			}
			disp = cli_strdup(r.data);
			admin_reply_free(&r);
			if (!admin_vm_name_valid(disp)) {
				cli_errx("admin.vm.CreateDisposable: malformed "
				         "reply");
				free(disp);
				disp = NULL;
				free(service);
				free(prefix);
				rc = RUN_EXIT_ERROR;
				break;
			}
			vm = disp;
			/* it may wait for its session: the qube's timeout */
			to = property(vm, "qrexec_timeout");
			if (to != NULL)
				timeout = strtol(to, NULL, 10);
			free(to);
		}
		if (ensure_running(o, vm) < 0) {
			free(service);
			free(prefix);
			rc = RUN_EXIT_ERROR;
			break;
		}
		pid = spawn_qrexec(o, vm, service, user, prefix, !o->passio,
		    o->passio && o->localcmd == NULL && o->filter_esc,
		    !o->passio && o->localcmd == NULL && o->service &&
		        !o->dispvm,
		    timeout, NULL);
		free(service);
		free(prefix);
		if (pid < 0) {
			rc = RUN_EXIT_ERROR;
			break;
		}
		pids[npids] = pid;
		names[npids] = vm;
		children[nchildren++] = pid;
		npids++;
	}
	for (i = 0; i < npids; i++) {
		int code = wait_child(pids[i]);

		if (code != 0 && verbose > 0)
			print_no_color(o, "%s: command failed with code: %d",
			    names[i], code);
		if (code > rc)
			rc = code;
	}
	nchildren = 0;
	if (disp != NULL) {
		/* the daemon removes the disposable once it is down */
		struct admin_reply r;

		if (cli_call(disp, "admin.vm.Kill", NULL, NULL, 0, &r) == 0) {
			if (!r.ok &&
			    !admin_exc_is(r.exc, ADMIN_EXC_VM_NOT_STARTED) &&
			    !admin_exc_is(r.exc, ADMIN_EXC_VM_NOT_FOUND))
				cli_print_exc(disp, &r);
			admin_reply_free(&r);
		}
	}
	if (o->color_output != NULL)
		(void)fputs("\033[0m", stdout);
	if (o->color_stderr != NULL)
		(void)fputs("\033[0m", stderr);
	free(disp);
	free(disp_label);
	free(disp_template);
	free(pids);
	free(gui_of);
	free(names);
	admin_vm_list_free(&list);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"user", required_argument, NULL, 'u'},
	    {"autostart", no_argument, NULL, 'a'},
	    {"auto", no_argument, NULL, 'a'},
	    {"no-autostart", no_argument, NULL, 'n'},
	    {"no-auto", no_argument, NULL, 'n'},
	    {"pass-io", no_argument, NULL, 'p'},
	    {"localcmd", required_argument, NULL, OPT_LOCALCMD},
	    {"gui", no_argument, NULL, OPT_GUI},
	    {"no-gui", no_argument, NULL, OPT_NO_GUI},
	    {"nogui", no_argument, NULL, OPT_NO_GUI},
	    {"colour-output", required_argument, NULL, OPT_COLOR_OUTPUT},
	    {"color-output", required_argument, NULL, OPT_COLOR_OUTPUT},
	    {"colour-stderr", required_argument, NULL, OPT_COLOR_STDERR},
	    {"color-stderr", required_argument, NULL, OPT_COLOR_STDERR},
	    {"no-colour-output", no_argument, NULL, OPT_NO_COLOR_OUTPUT},
	    {"no-color-output", no_argument, NULL, OPT_NO_COLOR_OUTPUT},
	    {"no-colour-stderr", no_argument, NULL, OPT_NO_COLOR_STDERR},
	    {"no-color-stderr", no_argument, NULL, OPT_NO_COLOR_STDERR},
	    {"filter-escape-chars", no_argument, NULL, OPT_FILTER_ESC},
	    {"no-filter-escape-chars", no_argument, NULL, OPT_NO_FILTER_ESC},
	    {"service", no_argument, NULL, OPT_SERVICE},
	    {"no-shell", no_argument, NULL, OPT_NO_SHELL},
	    {"dispvm", optional_argument, NULL, OPT_DISPVM},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts =
	    cli_longopts(tool_opts, CLI_OPTS_SELECT);
	struct cli_common co = {0, 0};
	struct cli_select_opts so = {false, {NULL, 0}};
	struct run_opts o;
	struct sigaction sa;
	char *vmname = NULL;
	bool no_color_output = false, no_color_stderr = false;
	bool dashdash = false;
	int c, rc;

	memset(&o, 0, sizeof(o));
	o.autostart = true;
	o.gui = -1;
	o.filter_esc = isatty(STDOUT_FILENO);
	cli_init(argv[0]);
	/*
	 * Options up to COMMAND (and between VMNAME and COMMAND); everything
	 * after COMMAND is its arguments.  "+": stop at each word.
	 */
	while (o.cmd == NULL) {
		int before = optind;

		c = dashdash ?
		    -1 :
		    getopt_long(argc, argv, "+u:anp" CLI_COMMON_SHORTOPTS,
		        longopts, NULL);
		if (c == -1) {
			if (!dashdash && optind == before + 1 &&
			    strcmp(argv[before], "--") == 0)
				dashdash = true;
			if (optind >= argc)
				break;
			if (vmname == NULL && !so.all && !o.dispvm) {
				vmname = argv[optind++];
				continue;
			}
			o.cmd = argv[optind++];
			break;
		}
		switch (c) {
		case 'u':
			o.user = optarg;
			break;
		case 'a':
			o.autostart = true;
			break;
		case 'n':
			o.autostart = false;
			break;
		case 'p':
			o.passio = true;
			break;
		case OPT_LOCALCMD:
			o.localcmd = optarg;
			break;
		case OPT_GUI:
			o.gui = 1;
			break;
		case OPT_NO_GUI:
			o.gui = 0;
			break;
		case OPT_COLOR_OUTPUT:
			o.color_output = optarg;
			no_color_output = false;
			break;
		case OPT_COLOR_STDERR:
			o.color_stderr = optarg;
			no_color_stderr = false;
			break;
		case OPT_NO_COLOR_OUTPUT:
			o.color_output = NULL;
			no_color_output = true;
			break;
		case OPT_NO_COLOR_STDERR:
			o.color_stderr = NULL;
			no_color_stderr = true;
			break;
		case OPT_FILTER_ESC:
			o.filter_esc = true;
			break;
		case OPT_NO_FILTER_ESC:
			o.filter_esc = false;
			break;
		case OPT_SERVICE:
			o.service = true;
			break;
		case OPT_NO_SHELL:
			o.no_shell = true;
			break;
		case OPT_DISPVM:
			o.dispvm = true;
			/* argparse's nargs '?': "--dispvm DVM" takes the word */
			if (optarg != NULL)
				o.dispvm_template = optarg;
			else if (optind < argc && argv[optind][0] != '-')
				o.dispvm_template = argv[optind++];
			break;
		default:
			cli_select_opt(c, &so, &co, usage);
			break;
		}
	}
	o.all = so.all;
	if (o.cmd == NULL)
		cli_usage_fail("expected COMMAND");
	o.cmd_args = &argv[optind];
	o.ncmd_args = argc - optind;
	if (vmname != NULL && (o.all || o.dispvm))
		cli_usage_fail("VMNAME cannot be given with --all or --dispvm");
	if (o.all && o.dispvm)
		cli_usage_fail("--all and --dispvm exclude each other");
	if (!o.all && so.exclude.n > 0)
		cli_usage_fail(o.dispvm ?
		        "cannot use --exclude with --dispvm" :
		        "--exclude can only be used with --all");
	if (o.passio) {
		if (o.color_output == NULL && !no_color_output && o.filter_esc)
			o.color_output = "31";
		if (o.color_stderr == NULL && !no_color_stderr &&
		    isatty(STDERR_FILENO))
			o.color_stderr = "31";
	}
	if (o.localcmd != NULL && !o.passio)
		cli_usage_fail("--localcmd has no effect without --pass-io");
	if (o.color_output != NULL && !o.filter_esc)
		cli_usage_fail("--color-output must be used with "
		               "--filter-escape-chars");
	if (o.service && o.no_shell)
		cli_usage_fail("--no-shell does not apply to --service");
	o.verbose = cli_verbosity(&co);

	/* pass ^C and kill(1) on to the commands, then clean up */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	rc = run_main(&o, vmname, &so.exclude);
	admin_strv_free(&so.exclude);
	return rc;
}
