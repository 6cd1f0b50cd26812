/*
 * io.c - blocking read/write loops; runs in every process.  Data read here
 * is untrusted; the callers validate it.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/util.h"

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

uint64_t
io_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? IO_NO_DEADLINE :
	                        now_ms() + (uint64_t)timeout_ms;
}

int
io_wait_until(int fd, short events, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (;;) {
		int timeout = -1, r;

		if (deadline != IO_NO_DEADLINE) {
			uint64_t now = now_ms();

			if (now >= deadline)
				return -ETIMEDOUT;
			timeout = deadline - now > INT_MAX ?
			    INT_MAX :
			    (int)(deadline - now);
		}
		r = poll(&p, 1, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r > 0)
			return 0;
		/* a timeout: the clock decides, at the top */
	}
}

int
io_write_all(int fd, const void *buf, size_t len)
{
	return io_write_all_until(fd, buf, len, IO_NO_DEADLINE);
}

int
io_write_file_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
io_write_all_until(int fd, const void *buf, size_t len, uint64_t deadline)
{
	/* with a deadline, a blocking socket must not block in send() */
	int flags =
	    MSG_NOSIGNAL | (deadline != IO_NO_DEADLINE ? MSG_DONTWAIT : 0);
	size_t done = 0;

	while (done < len) {
		ssize_t n =
		    send(fd, (const char *)buf + done, len - done, flags);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			int r;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			r = io_wait_until(fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		done += (size_t)n;
	}
	return 0;
}

int
io_read_to_eof(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	return io_read_to_eof_until(fd, max, IO_NO_DEADLINE, ret_buf, ret_len);
}

int
io_read_to_eof_until(
    int fd, size_t max, uint64_t deadline, char **ret_buf, size_t *ret_len)
{
	size_t cap = 256, len = 0;
	char *buf = malloc(cap + 1);
	int r;

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > max) {
				r = -EMSGSIZE;
				goto out_free;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				r = -ENOMEM;
				goto out_free;
			}
			buf = nb;
		}
		/* with a deadline, a blocking fd is read only when ready */
		if (deadline != IO_NO_DEADLINE) {
			r = io_wait_until(fd, POLLIN, deadline);
			if (r < 0)
				goto out_free;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNRESET)
				break;
			if (errno == EAGAIN) {
				r = io_wait_until(fd, POLLIN, deadline);
				if (r < 0)
					goto out_free;
				continue;
			}
			r = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = -EMSGSIZE;
			goto out_free;
		}
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
out_free:
	free(buf);
	return r;
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
