/*
 * appdirs.c - the XDG application directories of a qube and the desktop
 * file ids in them (appdirs.h).
 *
 * Runs in qubes-startapp, inside a qube, as the user of the call.  The
 * only input from another qube is the id asked for (qubes.StartApp+ID),
 * already checked by desktop_id_valid: it is only ever compared with the
 * ids of files found here, never made into a path, so it cannot name a
 * file outside these directories.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/util.h"
#include "startapp/appdirs.h"

#define DEFAULT_DATA_DIRS "/usr/local/share:/usr/share"
#define DEFAULT_PATH      "/usr/local/bin:/usr/bin:/bin"

static int
add_dir(struct appdirs *d, const char *base, size_t baselen, const char *rel)
{
	char *p;

	if (d->ad_n == ARRAY_SIZE(d->ad_dir))
		return 0; /* more than APPDIRS_DIRS_MAX: ignored */
	if (asprintf(&p, "%.*s%s", (int)baselen, base, rel) < 0)
		return -ENOMEM;
	d->ad_dir[d->ad_n++] = p;
	return 0;
}

/* The absolute entries of a ':'-separated list, each + "/applications". */
static int
add_list(struct appdirs *d, const char *list)
{
	const char *p = list;
	int r = 0;

	while (r == 0 && *p != '\0') {
		size_t len = strcspn(p, ":");

		if (len > 0 && p[0] == '/')
			r = add_dir(d, p, len, "/applications");
		p += len;
		if (*p == ':')
			p++;
	}
	return r;
}

int
appdirs_new(const char *data_home, const char *home, const char *data_dirs,
    struct appdirs **ret)
{
	struct appdirs *d = calloc(1, sizeof(*d));
	size_t before;
	int r = 0;

	if (d == NULL)
		return -ENOMEM;
	if (data_home != NULL && data_home[0] == '/')
		r = add_dir(d, data_home, strlen(data_home), "/applications");
	else if (home != NULL && home[0] == '/')
		r = add_dir(
		    d, home, strlen(home), "/.local/share/applications");
	before = d->ad_n;
	if (r == 0 && data_dirs != NULL)
		r = add_list(d, data_dirs);
	/* no usable entry: the specification's default */
	if (r == 0 && d->ad_n == before)
		r = add_list(d, DEFAULT_DATA_DIRS);
	if (r < 0) {
		appdirs_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

int
appdirs_from_env(struct appdirs **ret)
{
	const char *home = getenv("HOME");

	if (home == NULL || home[0] != '/') {
		const struct passwd *pw = getpwuid(getuid());

		home = pw != NULL ? pw->pw_dir : NULL;
	}
	return appdirs_new(
	    getenv("XDG_DATA_HOME"), home, getenv("XDG_DATA_DIRS"), ret);
}

void
appdirs_free(struct appdirs *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->ad_n; i++)
		free(d->ad_dir[i]);
	free(d);
}

/*
 * The walk.  fn is called for each desktop file with its id and path; it
 * returns 1 to stop the walk, 0 to go on, or -errno (which stops it and is
 * returned).
 */
typedef int (*walk_fn)(const char *id, const char *path, void *ctx);

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/*
 * dir, whose files' ids begin with prefix ("" or "sub-dir-"), depth
 * levels below an applications directory.  It recurses into
 * subdirectories, at most APPDIRS_DEPTH_MAX deep, never through a
 * symbolic link.
 * NOLINTBEGIN(misc-no-recursion)
 */
static int
walk_dir(
    const char *dir, const char *prefix, unsigned depth, walk_fn fn, void *ctx)
{
	struct dirent **names;
	int n, i, pass, r = 0;

	n = scandir(dir, &names, NULL, by_name);
	if (n < 0)
		/* missing or unreadable: nothing there */
		return errno == ENOMEM ? -ENOMEM : 0;
	/* its own files first, then its subdirectories (os.walk's order) */
	for (pass = 0; pass < 2 && r == 0; pass++)
		for (i = 0; i < n && r == 0; i++) {
			const char *name = names[i]->d_name;
			char path[PATH_MAX], id[DESKTOP_ID_MAX + 1];
			char rel[DESKTOP_ID_MAX + sizeof(".desktop") + 1];
			struct stat st;

			if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
				continue;
			if (str_printf(path, sizeof(path), "%s/%s", dir, name) <
			        0 ||
			    lstat(path, &st) < 0)
				continue;
			if (pass == 1) {
				char sub[DESKTOP_ID_MAX + 2];

				/* not through symbolic links: no loops */
				if (!S_ISDIR(st.st_mode) ||
				    depth + 1 > APPDIRS_DEPTH_MAX ||
				    str_printf(sub, sizeof(sub), "%s%s-",
				        prefix, name) < 0)
					continue;
				r = walk_dir(path, sub, depth + 1, fn, ctx);
				continue;
			}
			if (S_ISLNK(st.st_mode) && stat(path, &st) < 0)
				continue;
			if (!S_ISREG(st.st_mode) ||
			    str_printf(rel, sizeof(rel), "%s%s", prefix, name) <
			        0 ||
			    desktop_id_from_relpath(rel, id, sizeof(id)) < 0)
				continue;
			r = fn(id, path, ctx);
		}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}
/* NOLINTEND(misc-no-recursion) */

static int
walk(const struct appdirs *d, walk_fn fn, void *ctx)
{
	size_t i;
	int r = 0;

	for (i = 0; i < d->ad_n && r == 0; i++)
		r = walk_dir(d->ad_dir[i], "", 0, fn, ctx);
	return r;
}

struct find_ctx {
	const char *id;
	char *path;
};

static int
find_fn(const char *id, const char *path, void *ctx)
{
	struct find_ctx *f = ctx;

	if (strcmp(id, f->id) != 0)
		return 0;
	f->path = strdup(path);
	return f->path == NULL ? -ENOMEM : 1;
}

int
appdirs_find(const struct appdirs *d, const char *id, char **ret_path)
{
	struct find_ctx f = {id, NULL};
	int r;

	if (!desktop_id_valid(id))
		return -ENOENT;
	r = walk(d, find_fn, &f);
	if (r < 0)
		return r;
	if (f.path == NULL)
		return -ENOENT;
	*ret_path = f.path;
	return 0;
}

struct scan_ctx {
	struct appdirs_app *a;
	size_t n;
};

static int
scan_fn(const char *id, const char *path, void *ctx)
{
	struct scan_ctx *s = ctx;
	struct appdirs_app *a;

	if (s->n == APPDIRS_FILES_MAX)
		return -E2BIG;
	if (s->n % 64 == 0) {
		a = reallocarray(s->a, s->n + 64, sizeof(*a));
		if (a == NULL)
			return -ENOMEM;
		s->a = a;
	}
	a = &s->a[s->n];
	(void)str_copy(a->aa_id, sizeof(a->aa_id), id);
	a->aa_path = strdup(path);
	if (a->aa_path == NULL)
		return -ENOMEM;
	s->n++;
	return 0;
}

/* Indices into the walk's array: by id, then in walk order. */
static int
by_id_then_rank(const void *x, const void *y, void *ctx)
{
	const struct appdirs_app *a = ctx;
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	int c = strcmp(a[i].aa_id, a[j].aa_id);

	if (c != 0)
		return c;
	return i < j ? -1 : i > j;
}

int
appdirs_scan(const struct appdirs *d, struct appdirs_app **ret, size_t *ret_n)
{
	struct scan_ctx s = {NULL, 0};
	struct appdirs_app *out;
	size_t *idx, i, k;
	int r;

	r = walk(d, scan_fn, &s);
	if (r < 0)
		goto out_free_walk;
	idx = calloc(s.n + 1, sizeof(*idx));
	out = calloc(s.n + 1, sizeof(*out));
	if (idx == NULL || out == NULL) {
		free(idx);
		free(out);
		r = -ENOMEM;
		goto out_free_walk;
	}
	for (i = 0; i < s.n; i++)
		idx[i] = i;
	qsort_r(idx, s.n, sizeof(*idx), by_id_then_rank, s.a);
	/* the first of each id in walk order wins; the others go */
	for (i = 0, k = 0; i < s.n; i++) {
		const struct appdirs_app *a = &s.a[idx[i]];

		if (k > 0 && strcmp(out[k - 1].aa_id, a->aa_id) == 0) {
			free(a->aa_path);
			continue;
		}
		out[k++] = *a;
	}
	free(idx);
	free(s.a);
	*ret = out;
	*ret_n = k;
	return 0;

out_free_walk:
	appdirs_apps_free(s.a, s.n);
	return r;
}

void
appdirs_apps_free(struct appdirs_app *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		free(a[i].aa_path);
	free(a);
}

int
appdirs_read(const char *path, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	int fd, r;

	/* O_NONBLOCK: a FIFO put there does not hang the open */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out_close_fd;
	}
	if (st.st_size > (off_t)DESKTOP_FILE_MAX) {
		r = -EFBIG;
		goto out_close_fd;
	}
	/* the size may change under us: the read has its own bound */
	r = io_read_to_eof(fd, DESKTOP_FILE_MAX, ret_buf, ret_len);
	if (r == -EMSGSIZE)
		r = -EFBIG;
out_close_fd:
	(void)close(fd);
	return r;
}

static bool
executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(path, X_OK) == 0;
}

bool
appdirs_tryexec_ok(const char *value)
{
	const char *path = getenv("PATH"), *p;

	if (value[0] == '\0')
		return false;
	if (strchr(value, '/') != NULL)
		return executable_file(value);
	if (path == NULL || path[0] == '\0')
		path = DEFAULT_PATH;
	for (p = path; *p != '\0';) {
		size_t len = strcspn(p, ":");
		char file[PATH_MAX];

		/* an empty entry (the working directory) is not searched */
		if (len > 0 &&
		    str_printf(file, sizeof(file), "%.*s/%s", (int)len, p,
		        value) == 0 &&
		    executable_file(file))
			return true;
		p += len;
		if (*p == ':')
			p++;
	}
	return false;
}

int
appdirs_load(
    const char *path, struct desktop_entry **ret_entry, char ***ret_argv)
{
	struct desktop_entry *e;
	const char *tryexec;
	char *buf = NULL, **argv;
	size_t len = 0;
	int r;

	r = appdirs_read(path, &buf, &len);
	if (r < 0)
		return r;
	r = desktop_entry_parse(buf, len, &e);
	free(buf);
	if (r < 0)
		return r;
	r = desktop_entry_command(e, path, &argv);
	if (r < 0)
		goto out_free_entry;
	tryexec = desktop_entry_get(e, "TryExec");
	if (tryexec != NULL) {
		char *prog;
		bool ok;

		r = desktop_value_unescape(tryexec, &prog);
		if (r < 0)
			goto out_free_argv;
		ok = appdirs_tryexec_ok(prog);
		free(prog);
		if (!ok) {
			r = -ENOENT;
			goto out_free_argv;
		}
	}
	if (ret_argv != NULL)
		*ret_argv = argv;
	else
		desktop_argv_free(argv);
	if (ret_entry != NULL)
		*ret_entry = e;
	else
		desktop_entry_free(e);
	return 0;

out_free_argv:
	desktop_argv_free(argv);
out_free_entry:
	desktop_entry_free(e);
	return r;
}
