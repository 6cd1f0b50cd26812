/*
 * qopen-in-vm - the caller's side of qubes.OpenInVM (run by
 * qvm-open-in-vm through qrexec-client-vm): send a file, then take back
 * the edited file, if any, and put it in place of the original.
 *
 * What comes back is from another qube: bounded, written under a
 * temporary name beside the original and renamed over it only when
 * complete (an empty reply means "not changed", as in Qubes).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filecopy/open.h"
#include "lib/io.h"
#include "lib/util.h"

#define BUF_SIZE (256u * 1024u)

static void
usage(FILE *f, int code)
{
	(void)fprintf(f,
	    "usage: qopen-in-vm [--view-only] [--] FILE\n"
	    "\n"
	    "The caller's side of qubes.OpenInVM, run by qvm-open-in-vm and\n"
	    "qvm-open-in-dvm through qrexec-client-vm: sends FILE's name and\n"
	    "contents on standard output, then reads the edited file, if the\n"
	    "other qube changed it, on standard input and puts it in place of\n"
	    "FILE (with --view-only, whatever comes back is discarded).\n"
	    "\n"
	    "Exit status: 0 done; 1 failure; 2 bad usage.\n");
	exit(code);
}

/* Copy from in to out until EOF, at most max bytes: total or -errno. */
static long long
copy_fd(int out, int in, unsigned long long max, char *buf)
{
	unsigned long long total = 0;

	for (;;) {
		ssize_t n = read(in, buf, BUF_SIZE);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ECONNRESET ? (long long)total : -errno;
		if (n == 0)
			return (long long)total;
		total += (unsigned long long)n;
		if (total > max)
			return -EFBIG;
		if (out >= 0 && (r = io_write_all(out, buf, (size_t)n)) < 0)
			return r;
	}
}

static int
send_file(const char *path, int fd, bool view_only, char *buf)
{
	char field[OPEN_NAME_FIELD];
	char *copy = strdup(path);
	const char *base;
	size_t room = sizeof(field) - 1, len;
	long long n;

	if (copy == NULL)
		return -ENOMEM;
	base = basename(copy);
	memset(field, 0, sizeof(field));
	if (view_only) {
		memcpy(field, OPEN_VIEW_ONLY, strlen(OPEN_VIEW_ONLY));
		room -= strlen(OPEN_VIEW_ONLY);
	}
	len = strlen(base);
	/* too long: its tail, which holds the extension, as Qubes does */
	if (len > room)
		base += len - room;
	memcpy(field + (view_only ? strlen(OPEN_VIEW_ONLY) : 0), base,
	    strlen(base));
	free(copy);
	if (io_write_all(1, field, sizeof(field)) < 0)
		return -EPIPE;
	n = copy_fd(1, fd, OPEN_MAX_FILE_BYTES, buf);
	if (n < 0)
		return (int)n;
	/* EOF for the other side: the file is complete */
	(void)close(1);
	return 0;
}

static int
receive_edit(const char *path, const struct stat *orig, char *buf)
{
	char tmp[PATH_MAX];
	long long n;
	int fd, r = 0;

	if (str_printf(tmp, sizeof(tmp), "%s.XXXXXX", path) < 0 ||
	    (fd = mkstemp(tmp)) < 0) {
		/* not writable there: keep the edit in /tmp and say so */
		(void)str_copy(
		    tmp, sizeof(tmp), "/tmp/file_edited_in_dvm.XXXXXX");
		fd = mkstemp(tmp);
		if (fd < 0) {
			r = -errno;
			goto out;
		}
		n = copy_fd(fd, 0, OPEN_MAX_FILE_BYTES, buf);
		(void)close(fd);
		if (n <= 0) {
			(void)unlink(tmp);
			r = n < 0 ? (int)n : 0;
			goto out;
		}
		(void)fprintf(stderr,
		    "qopen-in-vm: %s was edited, but its directory is not "
		    "writable: the edit is in %s\n",
		    path, tmp);
		goto out;
	}
	n = copy_fd(fd, 0, OPEN_MAX_FILE_BYTES, buf);
	/*
	 * The original's permissions, but never its set-id bits: the content
	 * is what the disposable sent, and a set-id program it wrote must
	 * not run with the original's owner or group (as the unpacker drops
	 * them from a copied file).
	 */
	if (n > 0 && (fchmod(fd, orig->st_mode & 01777) < 0 || fsync(fd) < 0))
		n = -errno;
	(void)close(fd);
	if (n <= 0) {
		/* nothing came back (not changed), or a failure */
		(void)unlink(tmp);
		r = n < 0 ? (int)n : 0;
		goto out;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		(void)unlink(tmp);
	}
out:
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"view-only", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool view_only = false;
	const char *path;
	struct stat st;
	char *buf;
	int opt, fd, r;

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
	if (argc - optind != 1)
		usage(stderr, 2);
	path = argv[optind];
	(void)signal(SIGPIPE, SIG_IGN);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		(void)fprintf(
		    stderr, "qopen-in-vm: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)fprintf(stderr, "qopen-in-vm: %s: not a file\n", path);
		return 1;
	}
	buf = malloc(BUF_SIZE);
	if (buf == NULL) {
		(void)fprintf(stderr, "qopen-in-vm: %s\n", strerror(ENOMEM));
		return 1;
	}
	r = send_file(path, fd, view_only, buf);
	(void)close(fd);
	if (r < 0) {
		(void)fprintf(stderr, "qopen-in-vm: sending %s: %s\n", path,
		    strerror(-r));
		free(buf);
		return 1;
	}
	if (view_only) {
		long long n = copy_fd(-1, 0, OPEN_MAX_FILE_BYTES, buf);

		r = n < 0 ? (int)n : 0;
	} else {
		r = receive_edit(path, &st, buf);
	}
	free(buf);
	if (r < 0) {
		(void)fprintf(stderr,
		    "qopen-in-vm: receiving the edit of %s: %s\n", path,
		    strerror(-r));
		return 1;
	}
	return 0;
}
