/*
 * appdirs.h - where a qube's applications are: the XDG application
 * directories, the desktop file ids in them, reading one desktop file
 * with a bound, and TryExec.
 *
 * Used by qubes-startapp (qubes.StartApp and qubes.GetAppmenus) inside a
 * qube, as the user the call runs as.  Nothing here logs or exits.
 */
#ifndef BULKHEAD_STARTAPP_APPDIRS_H
#define BULKHEAD_STARTAPP_APPDIRS_H

#include <stdbool.h>
#include <stddef.h>

#include "startapp/desktop.h"

/* Most data directories taken from XDG_DATA_DIRS (the rest ignored). */
#define APPDIRS_DIRS_MAX 32u
/* Deepest subdirectory of an applications directory looked into. */
#define APPDIRS_DEPTH_MAX 8u
/* Most desktop files listed in all directories together. */
#define APPDIRS_FILES_MAX 8192u

/* The applications directories, most important first. */
struct appdirs {
	size_t ad_n;
	char *ad_dir[APPDIRS_DIRS_MAX + 1]; /* ".../applications" */
};

/*
 * The list for data_home (XDG_DATA_HOME, or NULL/relative/empty: then
 * home + "/.local/share", or nothing without an absolute home) and
 * data_dirs (XDG_DATA_DIRS, ':'-separated; NULL or no absolute entry:
 * "/usr/local/share:/usr/share"); relative entries are ignored, as the
 * base directory specification says.  Returns 0 and *ret (free with
 * appdirs_free), or -ENOMEM.
 */
int appdirs_new(const char *data_home, const char *home, const char *data_dirs,
    struct appdirs **ret);

/* The list from this process' environment (HOME, else the password
 * database's home). */
int appdirs_from_env(struct appdirs **ret);

void appdirs_free(struct appdirs *d);

/* One desktop file: its id and where it is. */
struct appdirs_app {
	char aa_id[DESKTOP_ID_MAX + 1];
	char *aa_path;
};

/*
 * Where the file of id is: the first in directory order, and inside a
 * directory its own files (by name) before its subdirectories' (by name).
 * Symbolic links to files count, links to directories are not followed
 * (as Qubes' os.walk), files whose id is not desktop_id_valid are passed
 * over.  Returns 0 and a new string in *ret_path (the caller frees it),
 * -ENOENT, or -ENOMEM.
 */
int appdirs_find(const struct appdirs *d, const char *id, char **ret_path);

/*
 * Every id once, with the file appdirs_find would give for it, sorted by
 * id.  Returns 0 and an array of *ret_n in *ret (free with
 * appdirs_apps_free), -E2BIG beyond APPDIRS_FILES_MAX files, or -ENOMEM.
 */
int
appdirs_scan(const struct appdirs *d, struct appdirs_app **ret, size_t *ret_n);

void appdirs_apps_free(struct appdirs_app *a, size_t n);

/*
 * Read the desktop file at path: a regular file (after symbolic links)
 * of at most DESKTOP_FILE_MAX bytes.  Returns 0 with a new buffer (NUL
 * added, not counted) in *ret_buf and its length in *ret_len, -EFBIG,
 * -EINVAL (not a regular file), or -errno.
 */
int appdirs_read(const char *path, char **ret_buf, size_t *ret_len);

/*
 * TryExec: is the program named by value (escapes undone) there?  A name
 * with a '/' is checked as it is, any other is looked up in PATH; it must
 * be an executable regular file.
 */
bool appdirs_tryexec_ok(const char *value);

/*
 * What qubes.StartApp and qubes.GetAppmenus both ask of the file at path:
 * read and parsed (desktop_entry_parse), judged (desktop_entry_command)
 * and its TryExec found.  Returns 0 with the entry and the command
 * (either pointer may be NULL if not wanted), -ENOENT if Hidden or the
 * TryExec program is missing, or the error of the step that failed.
 */
int appdirs_load(
    const char *path, struct desktop_entry **ret_entry, char ***ret_argv);

#endif
