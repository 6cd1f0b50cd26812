/*
 * qubesd.c - see qubesd.h.  The wire format is qubesd's: the request
 * "method+arg dom0 name dest\0" and EOF; the answer "0\0body" or
 * "2\0type\0traceback\0message\0".
 */
#include "qubesd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "io.h"
#include "sock.h"
#include "util.h"

int
qubesd_call(const char *sock, const char *method, const char *arg,
    const char *dest, int timeout_s, char **ret, char *err, size_t errlen)
{
	return qubesd_call_payload(
	    sock, method, arg, dest, NULL, timeout_s, ret, err, errlen);
}

int
qubesd_call_payload(const char *sock, const char *method, const char *arg,
    const char *dest, const char *payload, int timeout_s, char **ret, char *err,
    size_t errlen)
{
	struct timeval tv = {.tv_sec = timeout_s};
	char req[512], *buf = NULL;
	size_t len = 0, at;
	int fd, r;

	if (ret)
		*ret = NULL;
	r = str_printf(req, sizeof(req), "%s+%s dom0 name %s", method,
	    arg ? arg : "", dest);
	if (r < 0) {
		(void)snprintf(err, errlen, "request too long");
		return r;
	}
	fd = sock_connect(sock);
	if (fd < 0) {
		(void)snprintf(err, errlen, "%s: %s", sock, strerror(-fd));
		return fd;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r = io_write_all(fd, req, strlen(req) + 1);
	if (r == 0 && payload != NULL)
		r = io_write_all(fd, payload, strlen(payload));
	if (r == 0 && shutdown(fd, SHUT_WR) < 0)
		r = -errno;
	if (r == 0)
		r = io_read_to_eof(fd, QUBESD_REPLY_MAX, &buf, &len);
	(void)close(fd);
	if (r < 0) {
		(void)snprintf(err, errlen, "%s %s: %s", method, dest,
		    r == -EAGAIN ? "no answer in time" : strerror(-r));
		return r;
	}
	if (len >= 2 && buf[0] == '0' && buf[1] == '\0') {
		if (ret) {
			memmove(buf, buf + 2, len - 2);
			buf[len - 2] = '\0';
			*ret = buf;
			buf = NULL;
		}
		free(buf);
		return 0;
	}
	r = -EPROTO;
	(void)snprintf(err, errlen, "%s %s: malformed answer", method, dest);
	if (len >= 2 && buf[0] == '2' && buf[1] == '\0') {
		/* type, traceback, message: each NUL-terminated */
		const char *type = buf + 2, *tb, *msg;

		at = 2 + strnlen(type, len - 2);
		if (at < len) {
			tb = buf + at + 1;
			at += 1 + strnlen(tb, len - at - 1);
			if (at < len) {
				msg = buf + at + 1;
				if (memchr(msg, '\0', len - at - 1) != NULL) {
					(void)snprintf(
					    err, errlen, "%s: %s", type, msg);
					r = -EREMOTEIO;
				}
			}
		}
	}
	free(buf);
	return r;
}
