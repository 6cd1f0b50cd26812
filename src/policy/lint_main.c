/*
 * lint_main.c - qubes-policy-lint: report every error of a policy
 * directory, or of single files, as file:line:col: message.
 *
 * Runs as whoever calls it.  Its inputs are policy files the caller
 * names; they are parsed with the engine's limits and never executed.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/cli.h"
#include "policy/policy.h"

#define PROG "qubes-policy-lint"

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: " PROG " [--policy-dir DIR]... [--compat-dir DIR] "
	    "[FILE...]\n"
	    "\n"
	    "Check qrexec policy files and report every error, one a line, "
	    "as\n"
	    "FILE:LINE:COL: MESSAGE (LINE 0: the file as a whole; COL 0: the "
	    "line).\n"
	    "The first error of a line is reported, as the policy daemon "
	    "would see\n"
	    "it; the following lines are checked too.\n"
	    "\n"
	    "With --policy-dir, the whole policy is loaded as the daemon "
	    "loads it\n"
	    "(every *.policy file, !include, !include-dir, !include-service, "
	    "!compat-4.0).\n"
	    "Each FILE is checked on its own, as a policy.d file; its "
	    "!include\n"
	    "paths resolve against its own directory.  FILE \"-\" reads "
	    "standard input.\n"
	    "With neither, the default directories are checked:\n"
	    "  " POLICY_DEFAULT_DIRS "\n"
	    "\n"
	    "Options:\n"
	    "  -p, --policy-dir DIR   a policy.d directory (repeatable, or "
	    "DIR1:DIR2)\n"
	    "  -c, --compat-dir DIR   the legacy directory of !compat-4.0\n"
	    "                         [" POLICY_DEFAULT_COMPAT_DIR "]\n"
	    "  -h, --help             show this help\n"
	    "\n"
	    "Exit status: 0 no errors, 1 errors were found (or a file could "
	    "not be\n"
	    "read), 2 usage error.\n"
	    "\n"
	    "Environment: none.\n");
}

struct lint {
	unsigned errors;
};

static void
report(void *ctx, const struct policy_error *e)
{
	struct lint *l = ctx;
	const char *m;

	l->errors++;
	(void)printf("%s:%u:%u: ", e->file, e->line, e->col);
	for (m = e->msg; *m != '\0'; m++)
		(void)putchar(*m == '\n' ? ' ' : *m);
	(void)putchar('\n');
}

/* Read a whole file (or stdin for "-"), at most the file size limit. */
static int
read_all(const char *path, char **ret, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t len;
	char *buf;
	int r = 0;

	if (f == NULL)
		return -errno;
	buf = malloc(POLICY_MAX_FILE_SIZE + 2);
	if (buf == NULL) {
		r = -ENOMEM;
		goto out;
	}
	len = fread(buf, 1, POLICY_MAX_FILE_SIZE + 1, f);
	if (ferror(f))
		r = -EIO;
	else if (len > POLICY_MAX_FILE_SIZE)
		r = -EFBIG;
	if (r < 0) {
		free(buf);
		goto out;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
out:
	if (f != stdin)
		(void)fclose(f);
	return r;
}

static int
lint_file(const char *path, const char *compat, struct lint *l)
{
	struct policy_load_opts lo;
	struct policy_error perr;
	struct policy *p = NULL;
	char *copy, *text = NULL;
	size_t len = 0;
	int r;

	r = read_all(path, &text, &len);
	if (r < 0) {
		(void)printf("%s:0:0: %s\n", path, strerror(-r));
		l->errors++;
		return r;
	}
	copy = strdup(strcmp(path, "-") == 0 ? "./-" : path);
	if (copy == NULL) {
		free(text);
		return -ENOMEM;
	}
	memset(&lo, 0, sizeof(lo));
	lo.compat_dir = compat;
	lo.keep_going = true;
	lo.on_error = report;
	lo.on_error_ctx = l;
	r = policy_load_text(strcmp(path, "-") == 0 ? "<stdin>" : path,
	    dirname(copy), text, len, &lo, &p, &perr);
	if (r == -ENOMEM) {
		(void)fprintf(stderr, PROG ": out of memory\n");
		l->errors++;
	}
	policy_free(p);
	free(text);
	free(copy);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"policy-dir", required_argument, NULL, 'p'},
	    {"compat-dir", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct policy_dirs dirs = {.n = 0};
	const char *compat = POLICY_DEFAULT_COMPAT_DIR;
	struct lint l = {0};
	int c, r, i;

	while ((c = getopt_long(argc, argv, "p:c:h", opts, NULL)) != -1) {
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
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (dirs.n == 0 && optind == argc &&
	    policy_dirs_add(&dirs, POLICY_DEFAULT_DIRS) < 0) {
		(void)fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	if (dirs.n > 0) {
		struct policy_load_opts lo;
		struct policy_error perr;
		struct policy *p = NULL;

		memset(&lo, 0, sizeof(lo));
		lo.dirs = (const char *const *)dirs.dirs;
		lo.ndirs = dirs.n;
		lo.compat_dir = compat;
		lo.keep_going = true;
		lo.on_error = report;
		lo.on_error_ctx = &l;
		r = policy_load(&lo, &p, &perr);
		if (r == -ENOMEM) {
			(void)fprintf(stderr, PROG ": out of memory\n");
			l.errors++;
		} else if (r < 0 && l.errors == 0) {
			report(&l, &perr);
		}
		policy_free(p);
	}
	for (i = optind; i < argc; i++)
		(void)lint_file(argv[i], compat, &l);
	policy_dirs_free(&dirs);
	if (fflush(stdout) != 0)
		return 1;
	return l.errors > 0 ? 1 : 0;
}
