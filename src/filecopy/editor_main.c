/*
 * vm-file-editor - the service side of qubes.OpenInVM: receive a file
 * from the calling qube, open it with this qube's handler
 * (bulkhead-open), wait for the handler to finish, and send the file back
 * if it was changed.  Qubes' name and behaviour.
 *
 * Everything on standard input is the calling qube's: the name field is
 * bounded (256 bytes) and reduced to safe characters before it names a
 * file, which goes in a fresh directory of its own; the contents are
 * bounded too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filecopy/open.h"
#include "lib/io.h"
#include "lib/proto/qrexec.h"
#include "lib/util.h"

#define BUF_SIZE (256u * 1024u)

static char dir[64 + 32], file[sizeof(dir) + OPEN_NAME_FIELD + 1];

static void
cleanup(void)
{
	if (file[0])
		(void)unlink(file);
	if (dir[0])
		(void)rmdir(dir);
}

static void
fail(const char *what, int e)
{
	(void)fprintf(stderr, "vm-file-editor: %s%s%s\n", what, e ? ": " : "",
	    e ? strerror(e) : "");
	cleanup();
	exit(1);
}

/*
 * The name field: up to its first NUL, "view-only-" taken off, every
 * character but [0-9A-Za-z._+@-] made '_' (as Qubes: handlers choke on
 * some), '/' refused.  Writes the name to out (OPEN_NAME_FIELD bytes).
 */
static void
parse_name(const char *untrusted_field, char *out, bool *view_only)
{
	char f[OPEN_NAME_FIELD];
	const char *n = f;
	size_t i;

	memcpy(f, untrusted_field, sizeof(f));
	f[sizeof(f) - 1] = '\0';
	*view_only = strncmp(f, OPEN_VIEW_ONLY, strlen(OPEN_VIEW_ONLY)) == 0;
	if (*view_only)
		n += strlen(OPEN_VIEW_ONLY);
	for (i = 0; n[i]; i++) {
		char c = n[i];

		if (c == '/')
			fail("the file name has a '/'", 0);
		out[i] = ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		             (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
		             c == '-' || c == '+' || c == '@') ?
		    c :
		    '_';
	}
	out[i] = '\0';
	if (i == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		fail("no usable file name", 0);
}

static bool
changed(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_size != b->st_size ||
	    a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	    a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

int
main(void)
{
	char untrusted_field[OPEN_NAME_FIELD], name[OPEN_NAME_FIELD], *buf;
	const char *src = getenv("QREXEC_REMOTE_DOMAIN");
	unsigned long long total = 0;
	struct stat pre, post;
	bool view_only;
	int fd, status, r;
	pid_t pid;

	if (src == NULL || !proto_qube_name_valid(src))
		fail("QREXEC_REMOTE_DOMAIN is not a qube name", 0);
	r = io_read_all(0, untrusted_field, sizeof(untrusted_field), NULL);
	if (r < 0)
		fail("reading the file name", -r);
	parse_name(untrusted_field, name, &view_only);
	(void)snprintf(dir, sizeof(dir), "/tmp/%s-XXXXXX", src);
	if (mkdtemp(dir) == NULL) {
		r = errno;
		dir[0] = '\0';
		fail("mkdtemp", r);
	}
	(void)snprintf(file, sizeof(file), "%s/%s", dir, name);
	fd = open(
	    file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = errno;
		file[0] = '\0';
		fail("creating the file", r);
	}
	buf = malloc(BUF_SIZE);
	if (buf == NULL)
		fail("out of memory", 0);
	for (;;) {
		ssize_t n = read(0, buf, BUF_SIZE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("reading the file", errno);
		if (n == 0)
			break;
		total += (unsigned long long)n;
		if (total > OPEN_MAX_FILE_BYTES)
			fail("the file is too large", 0);
		if ((r = io_write_all(fd, buf, (size_t)n)) < 0)
			fail("writing the file", -r);
	}
	/* view-only: read-only, so that editors say so */
	if ((view_only && fchmod(fd, 0400) < 0) || close(fd) < 0)
		fail("the file", errno);
	if (stat(file, &pre) < 0)
		fail("stat", errno);
	pid = fork();
	if (pid < 0)
		fail("fork", errno);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		/* the handler's output is not the edited file: to stderr */
		if (null < 0 || dup2(null, 0) < 0 || dup2(2, 1) < 0)
			_exit(127);
		execlp("bulkhead-open", "bulkhead-open", file, (char *)NULL);
		(void)fprintf(stderr, "vm-file-editor: bulkhead-open: %s\n",
		    strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fail("waitpid", errno);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		(void)fprintf(stderr,
		    "vm-file-editor: the handler failed (%s %d): nothing "
		    "sent back\n",
		    WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		cleanup();
		return 1;
	}
	if (stat(file, &post) < 0)
		fail("stat after the handler", errno);
	if (!view_only && changed(&pre, &post)) {
		fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			fail("opening the edited file", errno);
		for (;;) {
			ssize_t n = read(fd, buf, BUF_SIZE);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				fail("reading the edited file", errno);
			if (n == 0)
				break;
			if ((r = io_write_all(1, buf, (size_t)n)) < 0)
				fail("sending the edited file", -r);
		}
		(void)close(fd);
	}
	free(buf);
	cleanup();
	return 0;
}
