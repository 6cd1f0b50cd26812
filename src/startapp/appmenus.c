/*
 * qvm-appmenus - the admin side's menu entries of a qube, as Qubes' tool;
 * bulkhead has the listing: --get-available (Qubes' name) or --list
 * prints "ID.desktop - NAME" for each application qvm-sync-appmenus
 * stored for the qube.
 *
 * Runs on the admin side as the invoking user.  It reads only the menu
 * files qvm-sync-appmenus wrote, in that user's home; they are read with
 * the same bounds as any desktop file all the same, and what is printed
 * has its control characters replaced, since the names came from a qube.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/proto/qrexec.h"
#include "lib/util.h"
#include "startapp/appdirs.h"
#include "startapp/desktop.h"
#include "startapp/menus.h"

#define PROG "qvm-appmenus"

enum {
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

enum {
	OPT_LIST = 0x100,
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: " PROG " --get-available QUBE...\n"
	    "       " PROG " --list QUBE...\n"
	    "\n"
	    "List the applications of each QUBE that have a menu entry "
	    "(made by\n"
	    "qvm-sync-appmenus in ~/.local/share/qubes-appmenus/QUBE/apps/), "
	    "one a line:\n"
	    "\"ID.desktop - NAME\", by ID.  ID is the desktop file id in the "
	    "qube\n"
	    "(what qubes.StartApp+ID starts), NAME its name there.\n"
	    "\n"
	    "Options:\n"
	    "      --get-available, --list\n"
	    "                 list the applications (the only action "
	    "bulkhead has)\n"
	    "  -h, --help     show this help\n"
	    "\n"
	    "Environment:\n"
	    "  XDG_DATA_HOME, HOME  where the menus are "
	    "($XDG_DATA_HOME/qubes-appmenus,\n"
	    "                       else ~/.local/share/qubes-appmenus)\n"
	    "\n"
	    "Exit status: 0 listed (a qube without menus lists nothing); 1 a "
	    "menu\n"
	    "directory could not be read; 2 bad usage.\n");
}

/* Print s with control characters as '?' (the text came from a qube). */
static void
print_clean(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		(void)putchar(c < 0x20 || c == 0x7f ? '?' : c);
	}
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* One menu file: "ID.desktop - NAME", or nothing if it is not ours. */
static void
list_file(const char *qube, const char *path)
{
	const char *id, *raw_name;
	struct desktop_entry *e;
	char prefix[64], *name;
	size_t len;
	char *buf;

	if (appdirs_read(path, &buf, &len) < 0)
		return;
	if (desktop_entry_parse(buf, len, &e) < 0) {
		free(buf);
		return;
	}
	free(buf);
	id = desktop_entry_get(e, "X-Qubes-AppName");
	raw_name = desktop_entry_get(e, "Name");
	if (id == NULL || !desktop_id_valid(id) || raw_name == NULL)
		goto out_free_entry;
	/* the name as the qube gave it, without our "QUBE: " */
	(void)snprintf(prefix, sizeof(prefix), "%s: ", qube);
	if (str_startswith(raw_name, prefix))
		raw_name += strlen(prefix);
	if (desktop_value_unescape(raw_name, &name) < 0)
		goto out_free_entry;
	(void)printf("%s.desktop - ", id);
	print_clean(name);
	(void)putchar('\n');
	free(name);
out_free_entry:
	desktop_entry_free(e);
}

static int
list_qube(const char *data_dir, const char *qube)
{
	char dir[PATH_MAX];
	struct dirent **names;
	int n, i;

	if (str_printf(dir, sizeof(dir), "%s/%s/apps", data_dir, qube) < 0) {
		(void)fprintf(stderr, PROG ": %s: path too long\n", data_dir);
		return EXIT_FAIL;
	}
	/* QUBE-ID.desktop: by file name is by id */
	n = scandir(dir, &names, NULL, by_name);
	if (n < 0) {
		if (errno == ENOENT)
			return 0; /* never synced: no applications */
		(void)fprintf(stderr, PROG ": %s: %s\n", dir, strerror(errno));
		return EXIT_FAIL;
	}
	for (i = 0; i < n; i++) {
		const char *f = names[i]->d_name;
		size_t fl = strlen(f);
		char path[PATH_MAX];
		struct stat st;

		if (fl > strlen(".desktop") &&
		    strcmp(f + fl - strlen(".desktop"), ".desktop") == 0 &&
		    str_printf(path, sizeof(path), "%s/%s", dir, f) == 0 &&
		    lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			list_file(qube, path);
		free(names[i]);
	}
	free(names);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"get-available", no_argument, NULL, OPT_LIST},
	    {"list", no_argument, NULL, OPT_LIST},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char data_dir[PATH_MAX];
	bool list = false;
	int c, r, rc = 0, i;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_LIST:
			list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!list || optind == argc) {
		(void)fprintf(stderr, PROG ": %s\n",
		    !list ? "no action (--get-available or --list)" :
		            "no qube named");
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = optind; i < argc; i++)
		if (!proto_qube_name_valid(argv[i])) {
			(void)fprintf(
			    stderr, PROG ": not the name of a qube\n");
			return EXIT_USAGE;
		}
	r = menus_data_dir(data_dir, sizeof(data_dir));
	if (r < 0) {
		(void)fprintf(stderr, PROG ": where the menus are: %s\n",
		    r == -ENOENT ? "no home directory" : strerror(-r));
		return EXIT_FAIL;
	}
	for (i = optind; i < argc; i++)
		if (list_qube(data_dir, argv[i]) != 0)
			rc = EXIT_FAIL;
	if (fflush(stdout) != 0) {
		(void)fprintf(stderr, PROG ": %s\n", strerror(errno));
		rc = EXIT_FAIL;
	}
	return rc;
}
