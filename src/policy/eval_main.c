/*
 * eval_main.c - qrexec-policy-eval: evaluate one request against a policy
 * and system information, print the decision, never prompt.
 *
 * Runs as whoever calls it (an administrator, a test, qrexec-daemon's
 * --policy-program with --system-info).  Its inputs are its argv and the
 * files it names; the request strings on argv are validated by the engine
 * as if they came from a qube, because through qrexec-daemon they do.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cli.h"
#include "policy/policy.h"

#define PROG "qrexec-policy-eval"

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: " PROG " [OPTIONS] [--system-info FILE] SOURCE TARGET "
	    "SERVICE[+ARG]\n"
	    "\n"
	    "Evaluate one qrexec call against the policy and print the "
	    "decision as\n"
	    "key=value lines.  It never asks anyone: an \"ask\" decision is "
	    "printed\n"
	    "with the targets the user could choose from.\n"
	    "\n"
	    "Output:\n"
	    "  result=allow   with target=, user=, autostart=, "
	    "requested_target=,\n"
	    "                 and target_uuid= when the target's UUID is "
	    "known\n"
	    "                 (the lines qrexec-policy-daemon sends)\n"
	    "  result=deny    with reason=\n"
	    "  result=ask     with targets= (comma-separated), "
	    "default_target=,\n"
	    "                 user=, autostart=\n"
	    "\n"
	    "Arguments:\n"
	    "  SOURCE                  the calling qube (name or uuid:UUID)\n"
	    "  TARGET                  the target it asked for: a name, "
	    "uuid:UUID,\n"
	    "                          @adminvm, @dispvm, @dispvm:NAME, or "
	    "\"\" / @default\n"
	    "  SERVICE[+ARG]           the service and its argument\n"
	    "\n"
	    "Options:\n"
	    "  -p, --policy-dir DIR    a policy.d directory; repeat it or "
	    "give\n"
	    "                          DIR1:DIR2 (earlier directories shadow "
	    "files\n"
	    "                          of the same name in later ones)\n"
	    "                          [" POLICY_DEFAULT_DIRS "]\n"
	    "  -c, --compat-dir DIR    the legacy directory of !compat-4.0\n"
	    "                          [" POLICY_DEFAULT_COMPAT_DIR "]\n"
	    "  -s, --system-info FILE  internal.GetSystemInfo JSON (without "
	    "it: from\n"
	    "                          --qubesd-socket)\n"
	    "  -q, --qubesd-socket PATH\n"
	    "                          without --system-info, ask the admin "
	    "daemon's\n"
	    "                          internal socket for it\n"
	    "                          [" POLICY_DEFAULT_QUBESD_SOCKET "]\n"
	    "      --qubesd-format qubes|nul\n"
	    "                          the call's wire format (see "
	    "qrexec-policy-daemon)\n"
	    "  -r, --requested-source NAME\n"
	    "                          the source a RemoteVM relay names\n"
	    "  -R, --reply             print only what qrexec-policy-daemon "
	    "would\n"
	    "                          reply (an ask, which cannot be asked "
	    "here, is\n"
	    "                          result=deny); exit 0 for allow, 1 "
	    "otherwise.\n"
	    "                          Implied when run as qrexec-policy-exec, "
	    "so that\n"
	    "                          qrexec-daemon --policy-program can "
	    "use it\n"
	    "  -h, --help              show this help\n"
	    "\n"
	    "Exit status (without --reply):\n"
	    "  0  a decision was printed (allow, deny or ask)\n"
	    "  1  an error: the policy or the system information could not "
	    "be\n"
	    "     loaded (the error, with file:line, goes to stderr, and "
	    "result=deny\n"
	    "     to stdout)\n"
	    "  2  usage error\n"
	    "\n"
	    "Environment: none.\n");
}

/* One line of output: reasons may quote file names; keep them one line */
static void
put_line(const char *key, const char *value)
{
	(void)printf("%s=", key);
	for (; *value != '\0'; value++)
		(void)putchar(*value == '\n' || *value == '\r' ? ' ' : *value);
	(void)putchar('\n');
}

/*
 * --reply (qrexec-policy-exec): the daemon's reply and nothing else, for
 * qrexec-daemon's --policy-program fallback.  Nobody can be asked here,
 * so an ask is a deny, as Qubes' program does without a GUI qube.
 */
static int
reply_main(struct policy *p, struct sysinfo *si, struct policy_dirs *dirs,
    char **args, const char *rsrc)
{
	struct policy_decision d;
	struct policy_query q;
	char out[POLICY_REPLY_BUF_LEN];
	int r, status = 1;

	memset(&q, 0, sizeof(q));
	q.untrusted_source = args[0];
	q.untrusted_intended_target = args[1];
	q.untrusted_service_and_arg = args[2];
	q.untrusted_requested_source = rsrc;
	if (policy_evaluate(p, si, &q, &d) < 0) {
		(void)printf("result=deny\n");
		goto out;
	}
	r = d.verdict == POLICY_VERDICT_ALLOW ?
	    policy_decision_format(&d, out, sizeof(out)) :
	    -EACCES;
	if (r >= 0 && d.verdict == POLICY_VERDICT_ALLOW) {
		(void)printf("%s\n", out);
		status = 0;
	} else {
		(void)fprintf(stderr, PROG ": denied: %s\n",
		    d.verdict == POLICY_VERDICT_ASK ? "ask: nobody to ask" :
		                                      d.reason);
		(void)printf("result=deny\n");
	}
	policy_decision_free(&d);
out:
	policy_free(p);
	sysinfo_unref(si);
	policy_dirs_free(dirs);
	return fflush(stdout) != 0 ? 1 : status;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"policy-dir", required_argument, NULL, 'p'},
	    {"compat-dir", required_argument, NULL, 'c'},
	    {"system-info", required_argument, NULL, 's'},
	    {"requested-source", required_argument, NULL, 'r'},
	    {"qubesd-socket", required_argument, NULL, 'q'},
	    {"qubesd-format", required_argument, NULL, 'F'},
	    {"reply", no_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct policy_dirs dirs = {.n = 0};
	struct policy_load_opts lo;
	struct policy_error perr;
	struct policy_decision d;
	struct policy_query q;
	struct policy *p = NULL;
	struct sysinfo *si = NULL;
	const char *compat = POLICY_DEFAULT_COMPAT_DIR, *sifile = NULL;
	const char *rsrc = NULL, *qsock = POLICY_DEFAULT_QUBESD_SOCKET;
	const char *slash = strrchr(argv[0], '/');
	bool qubes_fmt = true;
	bool reply =
	    strcmp(slash ? slash + 1 : argv[0], "qrexec-policy-exec") == 0;
	char err[POLICY_ERRMSG_MAX + POLICY_PATH_MAX];
	char out[POLICY_REPLY_BUF_LEN];
	int c, r, status = 0;

	while (
	    (c = getopt_long(argc, argv, "p:c:s:r:q:Rh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			r = policy_dirs_add(&dirs, optarg);
			if (r < 0) {
				(void)fprintf(stderr,
				    PROG ": --policy-dir %s: %s\n", optarg,
				    r == -E2BIG ? "too many directories" :
				                  "invalid directory list");
				return 2;
			}
			break;
		case 'c':
			compat = optarg;
			break;
		case 's':
			sifile = optarg;
			break;
		case 'r':
			rsrc = optarg;
			break;
		case 'q':
			qsock = optarg;
			break;
		case 'F':
			if (strcmp(optarg, "qubes") != 0 &&
			    strcmp(optarg, "nul") != 0) {
				(void)fprintf(stderr,
				    PROG ": --qubesd-format: qubes or nul\n");
				policy_dirs_free(&dirs);
				return 2;
			}
			qubes_fmt = strcmp(optarg, "qubes") == 0;
			break;
		case 'R':
			reply = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 3) {
		(void)fprintf(
		    stderr, PROG ": expected SOURCE TARGET SERVICE[+ARG]\n");
		usage(stderr);
		policy_dirs_free(&dirs);
		return 2;
	}
	if (dirs.n == 0 && policy_dirs_add(&dirs, POLICY_DEFAULT_DIRS) < 0) {
		(void)fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}

	if (sifile != NULL)
		r = sysinfo_load_file(sifile, &si, err, sizeof(err));
	else
		r = sysinfo_fetch(
		    qsock, qubes_fmt, 5000, &si, err, sizeof(err));
	if (r < 0) {
		(void)fprintf(stderr, PROG ": system information: %s\n", err);
		status = 1;
	}
	memset(&lo, 0, sizeof(lo));
	lo.dirs = (const char *const *)dirs.dirs;
	lo.ndirs = dirs.n;
	lo.compat_dir = compat;
	r = policy_load(&lo, &p, &perr);
	if (r < 0) {
		(void)fprintf(stderr, PROG ": policy: %s\n",
		    policy_error_str(&perr, err, sizeof(err)));
		status = 1;
	}
	if (status != 0) {
		(void)printf("result=deny\n");
		goto out;
	}
	if (reply)
		return reply_main(p, si, &dirs, argv + optind, rsrc);

	memset(&q, 0, sizeof(q));
	q.untrusted_source = argv[optind];
	q.untrusted_intended_target = argv[optind + 1];
	q.untrusted_service_and_arg = argv[optind + 2];
	q.untrusted_requested_source = rsrc;
	if (policy_evaluate(p, si, &q, &d) < 0) {
		(void)fprintf(stderr, PROG ": out of memory\n");
		(void)printf("result=deny\n");
		status = 1;
		goto out;
	}
	if (d.verdict == POLICY_VERDICT_ALLOW) {
		r = policy_decision_format(&d, out, sizeof(out));
		if (r < 0)
			d.verdict = POLICY_VERDICT_DENY;
		else if (d.verdict == POLICY_VERDICT_ALLOW)
			(void)printf("%s\n", out);
	}
	if (d.verdict == POLICY_VERDICT_ASK) {
		size_t i;

		(void)printf("result=ask\ntargets=");
		for (i = 0; i < d.ntargets; i++)
			(void)printf("%s%s", i ? "," : "", d.targets[i]);
		(void)printf("\ndefault_target=%s\nuser=%s\nautostart=%s\n",
		    d.default_target, d.user[0] ? d.user : "DEFAULT",
		    d.autostart ? "True" : "False");
	} else if (d.verdict == POLICY_VERDICT_DENY) {
		(void)printf("result=deny\n");
		put_line("reason", d.reason);
	}
	policy_decision_free(&d);
out:
	policy_free(p);
	sysinfo_unref(si);
	policy_dirs_free(&dirs);
	if (fflush(stdout) != 0) {
		(void)fprintf(stderr, PROG ": stdout: %s\n", strerror(errno));
		return 1;
	}
	return status;
}
