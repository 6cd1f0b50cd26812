/*
 * qvm-copy, qvm-move, qvm-copy-to-vm, qvm-move-to-vm - copy (or move)
 * files to another qube, from inside a qube: qfile-agent through
 * qrexec-client-vm to the qubes.Filecopy service of the target, which
 * policy picks (qvm-copy: the user is asked) or the command line names.
 * One program; what it does follows from the name it is run by.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filecopy/filecopy.h"
#include "lib/util.h"

static const char *prog = "qvm-copy";
static bool to_vm, move;

static void
usage(FILE *f, int code)
{
	if (to_vm)
		(void)fprintf(f,
		    "usage: %s [--without-progress] [--ignore-symlinks] "
		    "DEST_QUBE FILE...\n",
		    prog);
	else
		(void)fprintf(f,
		    "usage: %s [--without-progress] [--ignore-symlinks] "
		    "FILE...\n",
		    prog);
	(void)fprintf(f,
	    "\n"
	    "%s files and directories to %s, where they land in\n"
	    "~/QubesIncoming/<this qube>/.  The call is the qrexec service\n"
	    "qubes.Filecopy, allowed or refused by the admin side's policy\n"
	    "(by default the user is asked there, and picks the target).\n"
	    "%s"
	    "Names that are not plain printable text are sent with\n"
	    "qubes.Filecopy+allow-all-names; a symlink that would point\n"
	    "outside what is copied stops the copy before anything is sent.\n"
	    "\n"
	    "Options:\n"
	    "  --without-progress   no progress display (shown by default on a\n"
	    "                       terminal)\n"
	    "  --ignore-symlinks    leave symbolic links out\n"
	    "  -h, --help           show this help\n"
	    "\n"
	    "Exit status: 0 when the receiver confirmed every byte; 1 if the\n"
	    "copy failed or was refused; 2 on bad usage.\n",
	    move ? "Move" : "Copy",
	    to_vm ? "the qube DEST_QUBE" :
	            "another qube (chosen at the admin side)",
	    move ? "The originals are removed only after the receiver has\n"
	           "confirmed the copy.\n" :
	           "");
	exit(code);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0) {
		(void)fprintf(stderr, "%s: removing %s: %s\n", prog, path,
		    strerror(errno));
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	enum {
		O_NOPROG = 0x100,
		O_NOLINKS
	};
	static const struct option lo[] = {
	    {"without-progress", no_argument, NULL, O_NOPROG},
	    {"ignore-symlinks", no_argument, NULL, O_NOLINKS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char client[PATH_MAX], agent[PATH_MAX], total[32], service[64];
	const char *base = strrchr(argv[0], '/'), *target = "@default";
	bool progress = isatty(2), ignore_symlinks = false;
	struct walk_totals t;
	char **av;
	int opt, i, n, status;
	pid_t pid;

	base = base ? base + 1 : argv[0];
	if (strcmp(base, "qvm-move") == 0 ||
	    strcmp(base, "qvm-move-to-vm") == 0)
		move = true;
	if (strcmp(base, "qvm-copy-to-vm") == 0 ||
	    strcmp(base, "qvm-move-to-vm") == 0)
		to_vm = true;
	prog = move ? (to_vm ? "qvm-move-to-vm" : "qvm-move") :
	              (to_vm ? "qvm-copy-to-vm" : "qvm-copy");
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case O_NOPROG:
			progress = false;
			break;
		case O_NOLINKS:
			ignore_symlinks = true;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (to_vm) {
		if (optind >= argc)
			usage(stderr, 2);
		target = argv[optind++];
		if (target[0] == '\0' || target[0] == '-') {
			(void)fprintf(
			    stderr, "%s: %s: not a qube name\n", prog, target);
			return 2;
		}
	}
	if (optind >= argc)
		usage(stderr, 2);
	/* what goes, checked before anything is sent */
	memset(&t, 0, sizeof(t));
	for (i = optind; i < argc; i++)
		if (walk_path(prog, argv[i], ignore_symlinks, progress, &t) < 0)
			return 1;
	if (t.unsafe_links) {
		(void)fprintf(stderr,
		    "%s: %s: a symlink that would point outside what is "
		    "copied; copy its target instead, or use "
		    "--ignore-symlinks\n",
		    prog, t.first_bad);
		return 1;
	}
	(void)str_copy(service, sizeof(service),
	    t.unsafe_names ? "qubes.Filecopy+allow-all-names" :
	                     "qubes.Filecopy");
	(void)snprintf(
	    total, sizeof(total), "%llu", (unsigned long long)t.bytes);
	filecopy_find_tool("qrexec-client-vm", client, sizeof(client));
	filecopy_find_tool("qfile-agent", agent, sizeof(agent));
	/* qrexec-client-vm -T -- TARGET SERVICE qfile-agent [opts] -- FILES */
	n = argc - optind;
	av = calloc((size_t)n + 10, sizeof(*av));
	if (av == NULL) {
		(void)fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		return 1;
	}
	i = 0;
	av[i++] = client;
	av[i++] = "--filter-escape-chars-stderr";
	av[i++] = "--";
	av[i++] = (char *)target;
	av[i++] = service;
	av[i++] = agent;
	if (ignore_symlinks)
		av[i++] = "--ignore-symlinks";
	av[i++] = "--";
	for (int k = optind; k < argc; k++)
		av[i++] = argv[k];
	av[i] = NULL;
	pid = fork();
	if (pid < 0) {
		(void)fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		(void)setenv("FILECOPY_TOTAL_BYTES", total, 1);
		if (progress)
			(void)setenv("PROGRESS_TYPE", "console", 1);
		else
			(void)unsetenv("PROGRESS_TYPE");
		execv(client, av);
		execvp(av[0], av);
		(void)fprintf(
		    stderr, "%s: %s: %s\n", prog, client, strerror(errno));
		_exit(127);
	}
	free(av);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			(void)fprintf(
			    stderr, "%s: waitpid: %s\n", prog, strerror(errno));
			return 1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

		if (code == 126)
			(void)fprintf(
			    stderr, "%s: the copy was refused\n", prog);
		else
			(void)fprintf(stderr, "%s: the copy failed%s\n", prog,
			    move ? "; nothing was removed" : "");
		return 1;
	}
	if (move) {
		int bad = 0;

		for (i = optind; i < argc; i++)
			if (nftw(argv[i], rm_entry, 64, FTW_DEPTH | FTW_PHYS) !=
			    0)
				bad = 1;
		return bad;
	}
	return 0;
}
