/*
 * admin_main.c - qubes-policy: list, show, replace and remove policy
 * files, as Qubes' qubes-policy does, but locally.  A replacement or a
 * removal is first checked by loading the whole resulting policy of the
 * directory; only a policy that loads is installed, by rename(2), so the
 * policy daemon never sees a half-written or broken file from us.
 *
 * Runs as the administrator (root or the owner of the policy directory).
 * Its input is its argv and, for --replace, standard input: both the
 * administrator's own; the new text is still parsed with every limit
 * before anything is written.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/io.h"
#include "policy/policy.h"

#define PROG "qubes-policy"

enum method {
	M_LIST,
	M_GET,
	M_REPLACE,
	M_REMOVE,
	M_MAX
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: " PROG " [--policy-dir DIR] [--include] "
	    "{-l | -g NAME | -r NAME | -d NAME}\n"
	    "\n"
	    "Manage the qrexec policy files of a policy.d directory.  NAME "
	    "is a file\n"
	    "name without its .policy suffix, or include/NAME (or NAME with "
	    "--include)\n"
	    "for a file of the include/ subdirectory, which has no suffix.  "
	    "Names are\n"
	    "letters, digits, '_' and '-'.\n"
	    "\n"
	    "  -l, --list          list the policy files (the default)\n"
	    "  -g, --get NAME      print a file\n"
	    "  -r, --replace NAME  replace (or create) a file with standard "
	    "input; the\n"
	    "                      whole resulting policy is loaded first, "
	    "and nothing\n"
	    "                      is written if it has any error; then the "
	    "file is\n"
	    "                      replaced atomically (rename)\n"
	    "  -d, --remove NAME   remove a file, if the policy still loads "
	    "without it\n"
	    "  -i, --include       NAME is in include/ (as include/NAME)\n"
	    "  -p, --policy-dir DIR\n"
	    "                      the directory [" POLICY_DEFAULT_ADMIN_DIR
	    "]\n"
	    "  -c, --compat-dir DIR\n"
	    "                      the legacy directory of !compat-4.0, for "
	    "the check\n"
	    "                      [" POLICY_DEFAULT_COMPAT_DIR "]\n"
	    "  -h, --help          show this help\n"
	    "\n"
	    "Exit status: 0 done, 1 failed (the policy would not load, a file "
	    "is\n"
	    "missing, an I/O error), 2 usage error.\n"
	    "\n"
	    "Environment: none.\n");
}

static bool
name_valid(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= 128 ||
		    !((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
		        s[i] == '-'))
			return false;
	return true;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Standard output written out: 0, or 1 after a message.  Output that was
 * lost (a full disk, an I/O error) is a failure, never an exit 0.
 */
static int
stdout_done(void)
{
	int e = fflush(stdout) != 0 ? errno : 0;

	if (e != 0 || ferror(stdout)) {
		(void)fprintf(stderr, PROG ": standard output: %s\n",
		    e != 0 ? strerror(e) : "write error");
		return 1;
	}
	return 0;
}

static int
do_list(const char *dir, bool include)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (d == NULL) {
		(void)fprintf(stderr, PROG ": %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (;;) {
		char path[POLICY_PATH_MAX];
		struct stat st;
		size_t l;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				(void)fprintf(stderr, PROG ": %s: %s\n", dir,
				    strerror(errno));
				rc = 1;
			}
			break;
		}
		l = strlen(de->d_name);
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		        (int)sizeof(path) ||
		    stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!include &&
		    (l <= 7 || strcmp(de->d_name + l - 7, ".policy") != 0))
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 32;
			char **nn = reallocarray(names, c, sizeof(*nn));

			if (nn == NULL) {
				rc = -ENOMEM;
				break;
			}
			names = nn;
			cap = c;
		}
		names[n] = strndup(de->d_name, include ? l : l - 7);
		if (names[n] == NULL) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	(void)closedir(d);
	/* a partial list would look like a whole one */
	if (rc == -ENOMEM) {
		(void)fprintf(stderr, PROG ": out of memory\n");
		rc = 1;
	}
	if (rc == 0 && n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		if (rc == 0)
			(void)printf("%s\n", names[i]);
		free(names[i]);
	}
	free(names);
	return rc != 0 ? rc : stdout_done();
}

static int
do_get(const char *path)
{
	char buf[65536];
	FILE *f = fopen(path, "rb");
	size_t n, total = 0;
	char last = '\n';
	int rc = 0;

	if (f == NULL) {
		(void)fprintf(stderr, PROG ": %s: %s\n", path,
		    errno == ENOENT ? "not found" : strerror(errno));
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (fwrite(buf, 1, n, stdout) != n)
			break; /* reported by stdout_done() */
		last = buf[n - 1];
		total += n;
	}
	if (ferror(f)) {
		(void)fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		rc = 1;
	}
	(void)fclose(f);
	if (rc == 0 && total > 0 && last != '\n')
		(void)putchar('\n');
	return stdout_done() != 0 ? 1 : rc;
}

static int
read_stdin(char **ret, size_t *ret_len)
{
	char *buf = malloc(POLICY_MAX_FILE_SIZE + 1);
	size_t len;

	if (buf == NULL)
		return -ENOMEM;
	len = fread(buf, 1, POLICY_MAX_FILE_SIZE + 1, stdin);
	if (ferror(stdin) || len > POLICY_MAX_FILE_SIZE) {
		free(buf);
		return ferror(stdin) ? -EIO : -EFBIG;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Load the directory's whole policy as it would be after the change. */
static int
validate(const char *dir, const char *compat, const char *path,
    const char *text, size_t len)
{
	const char *dirs[1] = {dir};
	struct policy_load_opts o;
	struct policy_error e;
	struct policy *p = NULL;
	char msg[POLICY_ERRMSG_MAX + POLICY_PATH_MAX];
	int r;

	memset(&o, 0, sizeof(o));
	o.dirs = dirs;
	o.ndirs = 1;
	o.compat_dir = compat;
	o.override_path = path;
	o.override_text = text;
	o.override_len = len;
	r = policy_load(&o, &p, &e);
	policy_free(p);
	if (r < 0) {
		(void)fprintf(stderr,
		    PROG ": policy change validation failed: %s\n",
		    r == -ENOMEM ? "out of memory" :
		                   policy_error_str(&e, msg, sizeof(msg)));
		return 1;
	}
	return 0;
}

static int
do_replace(const char *dir, const char *compat, const char *fdir,
    const char *path, const char *base)
{
	char tmp[POLICY_PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	int fd, r, dfd;

	r = read_stdin(&text, &len);
	if (r < 0) {
		(void)fprintf(stderr, PROG ": standard input: %s\n",
		    r == -EFBIG ? "larger than a policy file may be" :
		                  strerror(-r));
		return 1;
	}
	if (validate(dir, compat, path, text, len) != 0) {
		free(text);
		return 1;
	}
	/* a dot file: the loader ignores it, so a reload meanwhile is fine */
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", fdir, base) >=
	    (int)sizeof(tmp)) {
		free(text);
		(void)fprintf(stderr, PROG ": %s: path too long\n", path);
		return 1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		(void)fprintf(stderr, PROG ": %s: %s\n", tmp, strerror(errno));
		free(text);
		return 1;
	}
	r = io_write_file_all(fd, text, len);
	free(text);
	if (r == 0 && fchmod(fd, 0644) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)fprintf(stderr, PROG ": %s: %s\n", path, strerror(-r));
		(void)unlink(tmp);
		return 1;
	}
	dfd = open(fdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		(void)close(dfd);
	}
	return 0;
}

static int
do_remove(const char *dir, const char *compat, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void)fprintf(stderr, PROG ": %s: not found\n", path);
		return 1;
	}
	if (validate(dir, compat, path, NULL, 0) != 0)
		return 1;
	if (unlink(path) < 0) {
		(void)fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"list", no_argument, NULL, 'l'},
	    {"get", no_argument, NULL, 'g'},
	    {"replace", no_argument, NULL, 'r'},
	    {"remove", no_argument, NULL, 'd'},
	    {"include", no_argument, NULL, 'i'},
	    {"policy-dir", required_argument, NULL, 'p'},
	    {"compat-dir", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	enum method m = M_LIST;
	const char *dir = POLICY_DEFAULT_ADMIN_DIR;
	const char *compat = POLICY_DEFAULT_COMPAT_DIR;
	const char *name = NULL;
	char fdir[POLICY_PATH_MAX], path[POLICY_PATH_MAX];
	bool include = false, have_m = false;
	int c, lock, r;

	while ((c = getopt_long(argc, argv, "lgrdip:c:h", opts, NULL)) != -1) {
		enum method nm = M_MAX;

		switch (c) {
		case 'l':
			nm = M_LIST;
			break;
		case 'g':
			nm = M_GET;
			break;
		case 'r':
			nm = M_REPLACE;
			break;
		case 'd':
			nm = M_REMOVE;
			break;
		case 'i':
			include = true;
			break;
		case 'p':
			dir = optarg;
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
		if (nm != M_MAX) {
			if (have_m && nm != m) {
				(void)fprintf(stderr,
				    PROG ": give one of -l, -g, -r, -d\n");
				return 2;
			}
			m = nm;
			have_m = true;
		}
	}
	if (argc - optind > 1) {
		(void)fprintf(stderr, PROG ": too many arguments\n");
		return 2;
	}
	if (optind < argc) {
		name = argv[optind];
		if (strcmp(name, "include") == 0) {
			include = true;
			name = "";
		} else if (strncmp(name, "include/", 8) == 0) {
			include = true;
			name += 8;
		}
	}
	if (m == M_LIST && name != NULL && name[0] != '\0') {
		(void)fprintf(stderr,
		    PROG ": --list doesn't work with a file "
		         "name\n");
		return 2;
	}
	if (m != M_LIST && (name == NULL || !name_valid(name))) {
		(void)fprintf(stderr,
		    PROG ": %s: a name is letters, digits, '_' and '-'\n",
		    name ? name : "you need to provide a file name");
		return 2;
	}
	if (snprintf(fdir, sizeof(fdir), "%s%s", dir,
	        include ? "/include" : "") >= (int)sizeof(fdir) ||
	    (name != NULL &&
	        snprintf(path, sizeof(path), "%s/%s%s", fdir, name,
	            include ? "" : ".policy") >= (int)sizeof(path))) {
		(void)fprintf(stderr, PROG ": %s: path too long\n", dir);
		return 1;
	}
	if (m == M_LIST)
		return do_list(fdir, include);
	if (m == M_GET)
		return do_get(path);
	/* one change at a time, as Qubes' policy admin (flock on the dir) */
	lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0 || flock(lock, LOCK_EX) < 0) {
		(void)fprintf(stderr, PROG ": %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (m == M_REPLACE)
		r = do_replace(dir, compat, fdir, path,
		    include ? name : strrchr(path, '/') + 1);
	else
		r = do_remove(dir, compat, path);
	(void)close(lock);
	return r;
}
