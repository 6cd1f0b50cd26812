/*
 * qubes-startapp - the qrexec services qubes.StartApp+APP and
 * qubes.GetAppmenus inside a qube (Qubes' services, our code).
 *
 *   qubes-startapp [--] APP   start the application whose desktop file id
 *                             is APP (qubes.StartApp+APP)
 *   qubes-startapp --appmenus list the applications (qubes.GetAppmenus)
 *
 * Runs inside a qube as the user the call runs as (bound into namespace
 * qubes at /run/bulkhead/bin).  Untrusted: APP, chosen by the calling
 * qube, which may only pick one of this qube's desktop entries by its id;
 * it never becomes a path, a command or part of one.  The command comes
 * from the desktop file's Exec key, split into arguments here
 * (desktop_exec_parse) and run with execvp: no shell is involved unless
 * the file's own Exec names one.  The desktop files are this qube's own.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "startapp/appdirs.h"
#include "startapp/desktop.h"

#define PROG "qubes-startapp"

enum {
	EXIT_NOT_STARTED = 1, /* not found, invalid, exec failed */
	EXIT_USAGE = 2,
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: " PROG " [--] APP\n"
	    "       " PROG " --appmenus\n"
	    "\n"
	    "Start the application whose desktop file id is APP (the service\n"
	    "qubes.StartApp+APP), or list the applications (the service\n"
	    "qubes.GetAppmenus).\n"
	    "\n"
	    "APP is looked up in the applications directories in XDG order:\n"
	    "$XDG_DATA_HOME/applications (~/.local/share/applications), then\n"
	    "DIR/applications for each DIR of $XDG_DATA_DIRS\n"
	    "(/usr/local/share:/usr/share); a file in a subdirectory has the\n"
	    "id SUBDIR-NAME.  The first file of that id counts: Hidden=true\n"
	    "there means there is no such application.  It must be\n"
	    "Type=Application, its TryExec program (if named) must exist, and\n"
	    "its Exec key is split into arguments as the Desktop Entry\n"
	    "Specification says (no files given: %%f %%F %%u %%U expand to\n"
	    "nothing) and run directly, without a shell.\n"
	    "\n"
	    "--appmenus prints, for each application that is not NoDisplay,\n"
	    "lines ID.desktop:KEY=VALUE of its [Desktop Entry] group, its Exec\n"
	    "as \"qubes-desktop-run ID.desktop\".\n"
	    "\n"
	    "Options:\n"
	    "      --appmenus  list the applications (qubes.GetAppmenus)\n"
	    "  -h, --help      show this help\n"
	    "\n"
	    "Exit status: the application's (once it started); 1 no such\n"
	    "application, an invalid one, or it could not be started; 2 bad\n"
	    "usage.\n");
}

static const char *
errstr(int r)
{
	switch (r) {
	case -ENOENT:
		return "not found (or hidden, or its TryExec program is "
		       "missing)";
	case -EINVAL:
		return "not a valid application entry";
	case -EFBIG:
		return "desktop file too big";
	case -E2BIG:
		return "desktop file over a limit";
	default:
		return strerror(-r);
	}
}

static int
start_app(const char *untrusted_app)
{
	const char *app, *path_key;
	struct desktop_entry *e;
	struct appdirs *d;
	char *file, **argv;
	int r;

	/* the caller's: only characters of a qrexec argument, bounded */
	if (!desktop_id_valid(untrusted_app)) {
		(void)fprintf(stderr,
		    PROG ": the argument is not a desktop "
		         "file id\n");
		return EXIT_NOT_STARTED;
	}
	app = untrusted_app;
	r = appdirs_from_env(&d);
	if (r < 0) {
		(void)fprintf(stderr, PROG ": %s\n", strerror(-r));
		return EXIT_NOT_STARTED;
	}
	r = appdirs_find(d, app, &file);
	if (r < 0) {
		(void)fprintf(stderr, PROG ": %s: %s\n", app, errstr(r));
		appdirs_free(d);
		return EXIT_NOT_STARTED;
	}
	appdirs_free(d);
	r = appdirs_load(file, &e, &argv);
	if (r < 0) {
		(void)fprintf(
		    stderr, PROG ": %s: %s: %s\n", app, file, errstr(r));
		free(file);
		return EXIT_NOT_STARTED;
	}
	path_key = desktop_entry_get(e, "Path");
	if (path_key != NULL && path_key[0] != '\0') {
		char *dir;

		if ((r = desktop_value_unescape(path_key, &dir)) < 0 ||
		    chdir(dir) < 0) {
			(void)fprintf(stderr, PROG ": %s: Path: %s\n", app,
			    r < 0 ? errstr(r) : strerror(errno));
			if (r == 0)
				free(dir);
			goto out_fail;
		}
		free(dir);
	}
	(void)fflush(stdout);
	execvp(argv[0], argv);
	(void)fprintf(
	    stderr, PROG ": %s: %s: %s\n", app, argv[0], strerror(errno));
out_fail:
	desktop_argv_free(argv);
	desktop_entry_free(e);
	free(file);
	return EXIT_NOT_STARTED;
}

/* The lines of one application for qubes.GetAppmenus. */
static void
print_app(const struct appdirs_app *a, const struct desktop_entry *e)
{
	size_t i;

	for (i = 0; i < e->de_nkv; i++) {
		const struct desktop_kv *kv = &e->de_kv[i];

		/* as Qubes: the admin side never runs the qube's Exec */
		if (strcmp(kv->kv_key, "Exec") == 0)
			(void)printf("%s.desktop:Exec=qubes-desktop-run "
			             "%s.desktop\n",
			    a->aa_id, a->aa_id);
		else
			(void)printf("%s.desktop:%s=%s\n", a->aa_id, kv->kv_key,
			    kv->kv_value);
	}
}

static int
list_apps(void)
{
	struct appdirs_app *apps;
	struct appdirs *d;
	size_t n, i;
	int r;

	r = appdirs_from_env(&d);
	if (r < 0) {
		(void)fprintf(stderr, PROG ": %s\n", strerror(-r));
		return EXIT_NOT_STARTED;
	}
	r = appdirs_scan(d, &apps, &n);
	appdirs_free(d);
	if (r < 0) {
		(void)fprintf(stderr, PROG ": listing applications: %s\n",
		    r == -E2BIG ? "too many desktop files" : strerror(-r));
		return EXIT_NOT_STARTED;
	}
	for (i = 0; i < n; i++) {
		struct desktop_entry *e;
		bool nodisplay;

		/* what qubes.StartApp would refuse is not listed */
		if (appdirs_load(apps[i].aa_path, &e, NULL) < 0)
			continue;
		if (desktop_entry_get_bool(e, "NoDisplay", false, &nodisplay) !=
		        -EINVAL &&
		    !nodisplay)
			print_app(&apps[i], e);
		desktop_entry_free(e);
	}
	appdirs_apps_free(apps, n);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		(void)fprintf(
		    stderr, PROG ": writing the list: %s\n", strerror(errno));
		return EXIT_NOT_STARTED;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"appmenus", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool appmenus = false;
	int c;

	/* '+': the first operand ends the options */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			appmenus = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (appmenus) {
		if (optind != argc) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return list_apps();
	}
	if (argc - optind != 1) {
		(void)fprintf(stderr, PROG ": %s\n",
		    argc == optind ? "no application named (qubes.StartApp "
		                     "needs an argument: qubes.StartApp+APP)" :
		                     "one application only");
		return EXIT_USAGE;
	}
	return start_app(argv[optind]);
}
