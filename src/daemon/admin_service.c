/*
 * admin_service.c - bulkhead-admin-service: the admin.* qrexec services.
 *
 * Runs on the admin side as the qrexec service a qube's admin.* call
 * reaches (after the policy allowed it), as the qrexec daemon's user.  It
 * relays the call to bulkheadd's Admin API socket, naming the calling qube
 * (QREXEC_REMOTE_DOMAIN, set by the admin side, never by the qube) as the
 * source and the qube it asked about as the destination, and copies the
 * reply frame back.  The payload (stdin) is the qube's, untrusted: it is
 * bounded here and validated by bulkheadd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "lib/io.h"
#include "lib/sock.h"
#include "lib/util.h"

#define MAX_PAYLOAD (60u * 1024u)

int
main(int argc, char **argv)
{
	const char *sock = getenv("BULKHEAD_ADMIN_SOCKET");
	const char *svc = getenv("QREXEC_SERVICE_FULL_NAME");
	const char *src = getenv("QREXEC_REMOTE_DOMAIN");
	const char *type = getenv("QREXEC_REQUESTED_TARGET_TYPE");
	const char *target = getenv("QREXEC_REQUESTED_TARGET");
	const char *kw = getenv("QREXEC_REQUESTED_TARGET_KEYWORD");
	char hdr[512], path[4096], buf[65536];
	char *payload = NULL;
	size_t plen = 0;
	int fd, r;
	ssize_t n;

	(void)argc;
	(void)argv;
	if (svc == NULL || src == NULL) {
		(void)fprintf(stderr,
		    "bulkhead-admin-service: run me as a "
		    "qrexec service (admin.*)\n");
		return 2;
	}
	if (sock == NULL) {
		if (bulkhead_run_path(path, sizeof(path), "qubesd.sock") < 0) {
			(void)fprintf(stderr,
			    "bulkhead-admin-service: " BULKHEAD_RUN_DIR_ERROR
			    "\n");
			return 1;
		}
		sock = path;
	}
	if (type != NULL && strcmp(type, "keyword") == 0 && kw != NULL)
		r = str_printf(
		    hdr, sizeof(hdr), "%s %s keyword %s", svc, src, kw);
	else
		r = str_printf(hdr, sizeof(hdr), "%s %s name %s", svc, src,
		    target && target[0] ? target : "dom0");
	if (r < 0)
		return 1;
	r = io_read_to_eof(0, MAX_PAYLOAD, &payload, &plen);
	if (r < 0) {
		(void)fprintf(stderr, "bulkhead-admin-service: payload: %s\n",
		    strerror(-r));
		return 1;
	}
	fd = sock_connect(sock);
	if (fd < 0) {
		(void)fprintf(stderr, "bulkhead-admin-service: %s: %s\n", sock,
		    strerror(-fd));
		return 1;
	}
	if (io_write_all(fd, hdr, strlen(hdr) + 1) < 0 ||
	    io_write_all(fd, payload, plen) < 0 || shutdown(fd, SHUT_WR) < 0) {
		(void)fprintf(stderr,
		    "bulkhead-admin-service: sending the "
		    "call failed\n");
		return 1;
	}
	free(payload);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (io_write_all(1, buf, (size_t)n) < 0)
			return 1;
	(void)close(fd);
	return n < 0 ? 1 : 0;
}
