/*
 * io.c - blocking read/write loops; runs in every process.  Data read here
 * is untrusted; the callers validate it.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/io.h"

int
io_read_all(int fd, void *buf, size_t len, size_t *ret_got)
{
	size_t got = 0;
	int r = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				(void)io_wait_readable(fd, -1);
				continue;
			}
			r = errno == ECONNRESET ? -EPIPE : -errno;
			break;
		}
		if (n == 0) {
			r = -EPIPE;
			break;
		}
		got += (size_t)n;
	}
	if (ret_got != NULL)
		*ret_got = got;
	return r;
}

int
io_write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(
		    fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = {.fd = fd, .events = POLLOUT};

				(void)poll(&p, 1, -1);
				continue;
			}
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int
io_read_to_eof(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	size_t cap = 256, len = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > max) {
				free(buf);
				return -EMSGSIZE;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET)
				break;
			if (errno == EAGAIN) {
				(void)io_wait_readable(fd, -1);
				continue;
			}
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			free(buf);
			return -EMSGSIZE;
		}
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

int
io_wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	for (;;) {
		int r = poll(&p, 1, timeout_ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		return r > 0 ? 1 : 0;
	}
}
