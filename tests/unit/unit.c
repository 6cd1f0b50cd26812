/*
 * unit.c - test helpers (see unit.h).  Runs only in the unit test
 * programs, as the user running the tests.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/io.h"
#include "unit.h"

char *
unit_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	assert_true(asprintf(&p, "%s/bulkhead-unit.XXXXXX", base) > 0);
	assert_non_null(mkdtemp(p));
	return p;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

void
unit_rmtree(char *path)
{
	if (path == NULL)
		return;
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

char *
unit_path(const char *dir, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

void
unit_write_file(
    const char *dir, const char *name, const char *text, mode_t mode)
{
	char *p = unit_path(dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(io_write_all(fd, text, strlen(text)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
	free(p);
}

void
unit_socketpair(int sv[2])
{
	assert_int_equal(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

void
unit_close(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

void
unit_send_msg(int fd, uint32_t type, const void *p, size_t len)
{
	struct qrexec_hdr h = {.hdr_type = type, .hdr_len = (uint32_t)len};

	assert_int_equal(io_write_all(fd, &h, sizeof(h)), 0);
	if (len > 0)
		assert_int_equal(io_write_all(fd, p, len), 0);
}

void
unit_recv_msg(int fd, struct qrexec_hdr *ret_hdr, uint8_t **ret_body)
{
	uint8_t *b;

	assert_int_equal(io_read_all(fd, ret_hdr, sizeof(*ret_hdr), NULL), 0);
	assert_true(ret_hdr->hdr_len <= 16u * 1024u * 1024u);
	b = malloc(ret_hdr->hdr_len + 1u);
	assert_non_null(b);
	if (ret_hdr->hdr_len > 0)
		assert_int_equal(io_read_all(fd, b, ret_hdr->hdr_len, NULL), 0);
	b[ret_hdr->hdr_len] = '\0';
	*ret_body = b;
}

size_t
unit_read_eof(int fd, char **ret)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);

	assert_non_null(buf);
	for (;;) {
		ssize_t n;

		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	return len;
}

size_t
unit_pending(int fd)
{
	int n = 0;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return (size_t)n;
}

int
unit_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}
