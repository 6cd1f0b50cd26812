/*
 * qvm-open-in-vm, qvm-open-in-dvm - open a file or a URL in another qube
 * (qvm-open-in-dvm: in a new disposable), from inside a qube.  A file goes
 * by qubes.OpenInVM (qopen-in-vm sends it and takes back the edit), a URL
 * by qubes.OpenURL.  One program; what it does follows from its name.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filecopy/filecopy.h"
#include "lib/util.h"

static const char *prog = "qvm-open-in-vm";
static bool dvm;

static void
usage(FILE *f, int code)
{
	(void)fprintf(f,
	    "usage: %s [--view-only] %sFILE|URL\n"
	    "\n"
	    "Open FILE or URL in %s.  A file is sent there\n"
	    "(qubes.OpenInVM) and opened with that qube's handler; when the\n"
	    "handler is done, an edited file comes back in place of FILE\n"
	    "(not with --view-only).  A URL (scheme://...) goes by\n"
	    "qubes.OpenURL.  The admin side's policy decides whether the call\n"
	    "is allowed.\n"
	    "\n"
	    "Options:\n"
	    "  --view-only   open read-only; nothing comes back\n"
	    "  -h, --help    show this help\n"
	    "\n"
	    "Exit status: 0 done; 126 refused by policy; 1 on another\n"
	    "failure; 2 bad usage.\n",
	    prog, dvm ? "" : "QUBE ",
	    dvm ? "a new disposable qube (killed afterwards)" : "QUBE");
	exit(code);
}

/* scheme://...: a URL (Qubes' test) */
static bool
looks_like_url(const char *s)
{
	size_t i = 0;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
	    (s[i] >= '0' && s[i] <= '9') || s[i] == '+')
		i++;
	return strncmp(s + i, "://", 3) == 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"view-only", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *base = strrchr(argv[0], '/'), *target = "@dispvm", *what;
	char client[PATH_MAX], qopen[PATH_MAX];
	bool view_only = false;
	struct stat st;
	int opt;

	base = base ? base + 1 : argv[0];
	dvm = strcmp(base, "qvm-open-in-dvm") == 0;
	prog = dvm ? "qvm-open-in-dvm" : "qvm-open-in-vm";
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'V':
			view_only = true;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (argc - optind != (dvm ? 1 : 2))
		usage(stderr, 2);
	if (!dvm) {
		target = argv[optind++];
		if (target[0] == '\0' || target[0] == '-') {
			(void)fprintf(
			    stderr, "%s: %s: not a qube name\n", prog, target);
			return 2;
		}
	}
	what = argv[optind];
	filecopy_find_tool("qrexec-client-vm", client, sizeof(client));
	if (stat(what, &st) == 0 && S_ISDIR(st.st_mode)) {
		(void)fprintf(stderr, "%s: %s is a directory\n", prog, what);
		return 2;
	}
	if (stat(what, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (!looks_like_url(what)) {
			(void)fprintf(stderr,
			    "%s: %s: neither a file nor a URL\n", prog, what);
			return 2;
		}
		/* the URL and a newline; whatever comes back is dropped */
		execl(client, client, "--", target, "qubes.OpenURL", "/bin/sh",
		    "-c", "printf '%s\\n' \"$1\"; exec cat >/dev/null", "sh",
		    what, (char *)NULL);
	} else {
		filecopy_find_tool("qopen-in-vm", qopen, sizeof(qopen));
		if (view_only)
			execl(client, client, "--", target, "qubes.OpenInVM",
			    qopen, "--view-only", "--", what, (char *)NULL);
		else
			execl(client, client, "--", target, "qubes.OpenInVM",
			    qopen, "--", what, (char *)NULL);
	}
	(void)fprintf(stderr, "%s: %s: %s\n", prog, client, strerror(errno));
	return 1;
}
