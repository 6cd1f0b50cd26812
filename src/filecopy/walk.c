/*
 * walk.c - walk a tree as qfile-agent sends it (walk_tree), and add up
 * what qvm-copy needs to know before sending (walk_path).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filecopy/filecopy.h"
#include "lib/util.h"

struct walk {
	const char *prog;
	unsigned lazy;
	walk_fn fn;
	void *ctx;
	char name[FILECOPY_NAME_MAX + 1];
};

static int walk_entry(struct walk *w, int dirfd, const char *leaf,
    unsigned char dtype, size_t len);

static int
walk_dir(struct walk *w, int fd, size_t len)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int r = 0;

	if (d == NULL) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	for (;;) {
		size_t n;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				r = -errno;
				(void)fprintf(stderr, "%s: %s: %s\n", w->prog,
				    w->name, strerror(errno));
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n = strlen(de->d_name);
		if (len + 1 + n > FILECOPY_NAME_MAX) {
			w->name[len] = '\0';
			(void)fprintf(stderr, "%s: %s/%s: %s\n", w->prog,
			    w->name, de->d_name, strerror(ENAMETOOLONG));
			r = -ENAMETOOLONG;
			break;
		}
		w->name[len] = '/';
		memcpy(w->name + len + 1, de->d_name, n + 1);
		r = walk_entry(
		    w, dirfd(d), de->d_name, de->d_type, len + 1 + n);
		w->name[len] = '\0';
		if (r < 0)
			break;
	}
	(void)closedir(d);
	return r;
}

/* w->name holds the entry's name, len bytes long; dtype is readdir's
 * d_type (DT_UNKNOWN: not known). */
static int
walk_entry(struct walk *w, int dirfd, const char *leaf, unsigned char dtype,
    size_t len)
{
	struct stat st;
	int r, fd;

	if ((dtype == DT_REG && (w->lazy & WALK_LAZY_REG)) ||
	    (dtype == DT_LNK && (w->lazy & WALK_LAZY_LNK))) {
		memset(&st, 0, sizeof(st));
		st.st_mode = dtype == DT_REG ? S_IFREG : S_IFLNK;
		return w->fn(w->ctx, dirfd, leaf, w->name, &st, WALK_LEAF);
	}
	if (fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		(void)fprintf(
		    stderr, "%s: %s: %s\n", w->prog, w->name, strerror(errno));
		return r;
	}
	if (!S_ISDIR(st.st_mode))
		return w->fn(w->ctx, dirfd, leaf, w->name, &st, WALK_LEAF);
	r = w->fn(w->ctx, dirfd, leaf, w->name, &st, WALK_DIR_PRE);
	if (r < 0)
		return r;
	fd = openat(
	    dirfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		(void)fprintf(
		    stderr, "%s: %s: %s\n", w->prog, w->name, strerror(errno));
		return r;
	}
	r = walk_dir(w, fd, len);
	if (r < 0)
		return r;
	return w->fn(w->ctx, dirfd, leaf, w->name, &st, WALK_DIR_POST);
}

int
walk_tree(
    const char *prog, const char *path, unsigned lazy, walk_fn fn, void *ctx)
{
	struct walk *w = calloc(1, sizeof(*w));
	char *a = strdup(path), *b = strdup(path), *dir, *base;
	size_t len;
	int dfd = -1, r;

	if (w == NULL || a == NULL || b == NULL) {
		r = -ENOMEM;
		(void)fprintf(stderr, "%s: %s\n", prog, strerror(ENOMEM));
		goto out;
	}
	w->prog = prog;
	w->lazy = lazy;
	w->fn = fn;
	w->ctx = ctx;
	/* "tree/" is sent as "tree", as Qubes' sender does */
	len = strlen(b);
	while (len > 1 && b[len - 1] == '/')
		b[--len] = '\0';
	strcpy(a, b);
	dir = dirname(a);
	base = basename(b);
	len = strlen(base);
	if (len == 0 || strcmp(base, "/") == 0 || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0) {
		(void)fprintf(stderr,
		    "%s: %s: name a file or directory, not %s\n", prog, path,
		    len == 0 ? "an empty path" : base);
		r = -EINVAL;
		goto out;
	}
	if (len > FILECOPY_NAME_MAX) {
		(void)fprintf(
		    stderr, "%s: %s: %s\n", prog, path, strerror(ENAMETOOLONG));
		r = -ENAMETOOLONG;
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		(void)fprintf(
		    stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
		goto out;
	}
	memcpy(w->name, base, len + 1);
	r = walk_entry(w, dfd, base, DT_UNKNOWN, len);
out:
	close_fd(&dfd);
	free(a);
	free(b);
	free(w);
	return r;
}

struct totals_ctx {
	bool ignore_symlinks;
	struct walk_totals *t;
	const char *prog;
};

static void
note_bad(struct walk_totals *t, const char *name)
{
	if (t->first_bad[0] == '\0')
		(void)str_copy(t->first_bad, sizeof(t->first_bad), name);
}

static int
totals_fn(void *arg, int dirfd, const char *leaf, const char *name,
    const struct stat *st, enum walk_when when)
{
	struct totals_ctx *c = arg;
	struct walk_totals *t = c->t;
	static char out[FILECOPY_NAME_MAX + 1];

	if (when == WALK_DIR_POST)
		return 0;
	if (S_ISLNK(st->st_mode) && c->ignore_symlinks)
		return 0;
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) &&
	    !S_ISLNK(st->st_mode))
		return 0; /* not sent */
	t->entries++;
	if (proto_filecopy_name_parse(name, strlen(name) + 1, false, out) < 0) {
		t->unsafe_names = true;
		note_bad(t, name);
	}
	if (S_ISREG(st->st_mode))
		t->bytes += (uint64_t)st->st_size;
	if (S_ISLNK(st->st_mode)) {
		char target[FILECOPY_LINK_MAX + 1];
		ssize_t n = readlinkat(dirfd, leaf, target, sizeof(target));
		int r;

		if (n < 0 || (size_t)n > FILECOPY_LINK_MAX) {
			int e = n < 0 ? errno : ENAMETOOLONG;

			(void)fprintf(
			    stderr, "%s: %s: %s\n", c->prog, name, strerror(e));
			return -e;
		}
		r = proto_filecopy_link_parse(
		    target, (size_t)n, name, false, false, out);
		if (r == -EILSEQ) {
			t->unsafe_names = true;
			note_bad(t, name);
			r = proto_filecopy_link_parse(
			    target, (size_t)n, name, true, false, out);
		}
		if (r == -ENOLINK) {
			t->unsafe_links = true;
			note_bad(t, name);
		}
	}
	return 0;
}

int
walk_path(const char *prog, const char *path, bool ignore_symlinks,
    bool need_bytes, struct walk_totals *t)
{
	struct totals_ctx c = {
	    .ignore_symlinks = ignore_symlinks, .t = t, .prog = prog};

	/* only a file's size needs its stat; a symlink is read anyway */
	return walk_tree(prog, path,
	    need_bytes ? 0 : WALK_LAZY_REG | WALK_LAZY_LNK, totals_fn, &c);
}
