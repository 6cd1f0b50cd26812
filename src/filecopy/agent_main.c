/*
 * qfile-agent - send files and directories as a qubes.Filecopy stream on
 * standard output and check the receiver's reply on standard input.
 * Qubes' command line: qfile-agent [--ignore-symlinks] [--] PATH...
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filecopy/filecopy.h"
#include "lib/util.h"

static void
usage(FILE *f, int code)
{
	(void)fprintf(f,
	    "usage: qfile-agent [--ignore-symlinks] [--] PATH...\n"
	    "\n"
	    "Send each PATH (a file, a symlink, or a directory with all it\n"
	    "holds) as a qubes.Filecopy stream on standard output, named by\n"
	    "its last component, then read the receiver's reply on standard\n"
	    "input and check its status and checksum.  Normally run by\n"
	    "qvm-copy through qrexec-client-vm, which connects both to the\n"
	    "receiving qube's qfile-unpacker.  FIFOs, sockets and devices are\n"
	    "skipped.\n"
	    "\n"
	    "Options:\n"
	    "  --ignore-symlinks   do not send symbolic links\n"
	    "  -h, --help          show this help\n"
	    "\n"
	    "Environment:\n"
	    "  PROGRESS_TYPE=console   show progress on standard error\n"
	    "                          (bytes, rate, time left)\n"
	    "  FILECOPY_TOTAL_BYTES    the bytes to send, for the progress\n"
	    "\n"
	    "Exit status: 0 when the receiver confirmed everything; 1 on any\n"
	    "failure (a message says what); 2 on bad usage.\n");
	exit(code);
}

static void
human(char *buf, size_t len, double v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	(void)snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static uint64_t start_ms;

static void
console_progress(const struct pack_progress *p, bool last)
{
	char sent[32], total[32], rate[32], eta[32] = "";
	double secs = (double)(now_ms() - start_ms) / 1000.0;
	double r = secs > 0 ? (double)p->sent / secs : 0;

	human(sent, sizeof(sent), (double)p->sent);
	human(rate, sizeof(rate), r);
	if (p->total > 0) {
		human(total, sizeof(total), (double)p->total);
		if (r > 0 && p->total > p->sent) {
			unsigned long s =
			    (unsigned long)((double)(p->total - p->sent) / r);

			(void)snprintf(eta, sizeof(eta), ", %lu:%02lu left",
			    s / 60, s % 60);
		}
		(void)fprintf(stderr, "\rsent %s of %s (%d%%), %s/s%s   ", sent,
		    total,
		    (int)(p->sent >= p->total ? 100 : p->sent * 100 / p->total),
		    rate, eta);
	} else {
		(void)fprintf(stderr, "\rsent %s, %s/s   ", sent, rate);
	}
	if (last)
		(void)fputc('\n', stderr);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"ignore-symlinks", no_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool ignore_symlinks = false;
	pack_progress_fn prog = NULL;
	uint64_t total = 0;
	const char *pt = getenv("PROGRESS_TYPE");
	struct pack *p;
	int opt, r = 0;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'L':
			ignore_symlinks = true;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind >= argc)
		usage(stderr, 2);
	if (isatty(1)) {
		(void)fprintf(stderr,
		    "qfile-agent: standard output is a "
		    "terminal; run it through qvm-copy\n");
		return 2;
	}
	/* a receiver gone shows as EPIPE, and its reply says why */
	(void)signal(SIGPIPE, SIG_IGN);
	if (pt != NULL && strcmp(pt, "console") == 0) {
		const char *t = getenv("FILECOPY_TOTAL_BYTES");

		prog = console_progress;
		if (t != NULL)
			total = strtoull(t, NULL, 10);
	}
	start_ms = now_ms();
	p = pack_new(1, 0, ignore_symlinks, total, prog);
	if (p == NULL) {
		(void)fprintf(stderr, "qfile-agent: %s\n", strerror(ENOMEM));
		return 1;
	}
	for (int i = optind; i < argc && r == 0; i++)
		r = pack_path(p, argv[i]);
	if (r == 0)
		r = pack_finish(p);
	pack_free(p);
	return r == 0 ? 0 : 1;
}
