/*
 * qubesd_query.c - qubesd-query: one raw Admin API call, as Qubes' tool of
 * the same name: the request from the command line, the payload from
 * standard input, the raw reply (header byte included) to standard output
 * as it arrives, so admin.Events streams too.
 *
 * Runs as the administrator.  The reply is copied through unparsed (that
 * is the point of the tool); only with --fail is an exception frame
 * parsed, for the message on stderr.
 */
#include <sys/socket.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/io.h"
#include "lib/util.h"

/* Qubes' MAX_PAYLOAD_SIZE, and its limit for --single-line. */
#define QUERY_PAYLOAD_MAX     65536
#define QUERY_SINGLE_LINE_MAX 1024
/* Most of a reply kept to print an exception with --fail. */
#define QUERY_EXC_KEEP 65536
/* --connect-timeout's upper bound, in seconds (a day). */
#define QUERY_TIMEOUT_MAX 86400

enum {
	OPT_FAIL = CLI_OPT_FIRST_TOOL,
	OPT_MAX_BYTES,
	OPT_SINGLE_LINE,
	OPT_NULL,
	OPT_CONNECT_TIMEOUT,
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qubesd-query [-e] [--fail] [-c PATH] [--connect-timeout "
	    "SECONDS]\n"
	    "                    [--max-bytes N] [--single-line] [--null]\n"
	    "                    SRC METHOD DEST [ARGUMENT]\n"
	    "\n"
	    "Make one raw call to the Admin API of bulkheadd, as if from qube "
	    "SRC, and\n"
	    "copy the raw reply to standard output as it arrives: \"0\\0\" and "
	    "the data on\n"
	    "success, \"2\\0\" and an exception (type, traceback, message, "
	    "each ending\n"
	    "in NUL) on failure, a stream of \"1\\0\" events for admin.Events. "
	    "The payload\n"
	    "is read from standard input.\n"
	    "\n"
	    "Options:\n"
	    "  -c, --connect PATH   the daemon's socket (default $" ADMIN_SOCKET_ENV
	    ",\n"
	    "                       else " ADMIN_SOCKET_DEFAULT ")\n"
	    "      --connect-timeout SECONDS\n"
	    "                       keep trying to connect for this long while "
	    "the\n"
	    "                       socket is missing or refuses (a starting "
	    "daemon)\n"
	    "  -e, --empty          send an empty payload; do not read standard "
	    "input\n"
	    "      --fail           exit with the reply's header digit (0 "
	    "success,\n"
	    "                       1 events, 2 exception), and print an "
	    "exception's\n"
	    "                       type and message on standard error\n"
	    "      --max-bytes N    read at most N bytes of payload (default "
	    "65536,\n"
	    "                       which is also the maximum; 1024 with "
	    "--single-line)\n"
	    "      --single-line    the payload is one line of printable ASCII "
	    "(bytes\n"
	    "                       0x20 to 0x7e), ended by a newline that is "
	    "not sent\n"
	    "      --null           print a NUL byte after the reply (for "
	    "read -d '')\n"
	    "  -h, --help           show this help and exit\n"
	    "      --version        show the version and exit\n"
	    "\n"
	    "Exit status: 0 once the request was delivered (whatever the "
	    "reply), or\n"
	    "the reply's header digit with --fail; 1 if the daemon could not "
	    "be reached\n"
	    "or gave no valid reply, if the reply could not be read whole "
	    "or written\n"
	    "to standard output; 2 on a usage error.\n");
}

/* Read the payload: everything up to max (+1 to see an overflow). */
static int
read_payload(size_t max, char **ret, size_t *ret_len)
{
	char *buf = malloc(max + 1);
	size_t len = 0;

	if (buf == NULL)
		return -ENOMEM;
	while (len <= max) {
		ssize_t n = read(STDIN_FILENO, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return -EMSGSIZE;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/*
 * --single-line: one byte at a time so that nothing after the newline is
 * consumed (Qubes reads the same way, for the same reason).
 */
static void
read_line_payload(size_t max, char **ret, size_t *ret_len)
{
	char *buf = cli_calloc(max + 1, 1);
	size_t len = 0;

	for (;;) {
		unsigned char c;
		ssize_t n = read(STDIN_FILENO, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			cli_usage_fail("end of input without a newline");
		if (c == '\n')
			break;
		if (c < 0x20 || c > 0x7e)
			cli_usage_fail("invalid byte %u in input", c);
		if (len == max)
			cli_usage_fail(
			    "no newline found in the first %zu bytes", max);
		buf[len++] = (char)c;
	}
	*ret = buf;
	*ret_len = len;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"connect", required_argument, NULL, 'c'},
	    {"empty", no_argument, NULL, 'e'},
	    {"fail", no_argument, NULL, OPT_FAIL},
	    {"max-bytes", required_argument, NULL, OPT_MAX_BYTES},
	    {"single-line", no_argument, NULL, OPT_SINGLE_LINE},
	    {"null", no_argument, NULL, OPT_NULL},
	    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, CLI_OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	struct cli_common co = {0, 0};
	const char *sock = NULL, *src, *method, *dest, *arg = "";
	bool empty = false, fail = false, single = false, nul = false;
	unsigned long max = 0, timeout_s = 0;
	bool have_max = false;
	char *payload = NULL, hdr[4096], *keep = NULL;
	size_t plen = 0, kept = 0, total = 0;
	int c, fd, hlen, rc, status = -1;
	bool lost = false;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "+c:eh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			sock = optarg;
			break;
		case 'e':
			empty = true;
			break;
		case OPT_FAIL:
			fail = true;
			break;
		case OPT_MAX_BYTES:
			if (cli_parse_uint(optarg, ~0ul, &max) < 0)
				cli_usage_fail(
				    "--max-bytes: not a number: %s", optarg);
			if (max > QUERY_PAYLOAD_MAX)
				cli_usage_fail("maximum payload too large "
				               "(max %d)",
				    QUERY_PAYLOAD_MAX);
			have_max = true;
			break;
		case OPT_SINGLE_LINE:
			single = true;
			break;
		case OPT_NULL:
			nul = true;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (cli_parse_uint(
			        optarg, QUERY_TIMEOUT_MAX, &timeout_s) < 0)
				cli_usage_fail(
				    "--connect-timeout: not a number "
				    "of seconds up to %d: %s",
				    QUERY_TIMEOUT_MAX, optarg);
			break;
		default:
			if (!cli_common_opt(c, &co, usage))
				cli_usage_fail("unknown option");
			break;
		}
	}
	if (argc - optind < 3 || argc - optind > 4)
		cli_usage_fail("expected SRC METHOD DEST [ARGUMENT]");
	src = argv[optind];
	method = argv[optind + 1];
	dest = argv[optind + 2];
	if (argc - optind == 4)
		arg = argv[optind + 3];
	hlen = admin_request_header(hdr, sizeof(hdr), src, dest, method, arg);
	if (hlen < 0)
		cli_usage_fail("invalid request: METHOD is letters, digits, "
		               "'_', '.' and '-'; SRC, DEST and ARGUMENT are "
		               "printable ASCII without spaces");
	if (!have_max)
		max = single ? QUERY_SINGLE_LINE_MAX : QUERY_PAYLOAD_MAX;
	if (!empty && single) {
		read_line_payload(max, &payload, &plen);
	} else if (!empty) {
		rc = read_payload(max, &payload, &plen);
		if (rc == -EMSGSIZE)
			cli_usage_fail("payload too long (max %lu)", max);
		if (rc < 0) {
			cli_errx("standard input: %s", strerror(-rc));
			return CLI_EXIT_FAIL;
		}
	}
	if (sock == NULL)
		sock = admin_socket_path();
	fd = admin_connect(sock, (int)timeout_s * 1000);
	if (fd < 0) {
		char q[512];

		cli_errx(
		    "%s: %s", cli_quote(sock, q, sizeof(q)), strerror(-fd));
		free(payload);
		return CLI_EXIT_FAIL;
	}
	rc = io_write_all(fd, hdr, (size_t)hlen);
	if (rc == 0 && plen > 0)
		rc = io_write_all(fd, payload, plen);
	free(payload);
	if (rc == 0 && shutdown(fd, SHUT_WR) < 0)
		rc = -errno;
	/* a daemon that answered early and closed: still print its reply */
	if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET) {
		cli_errx("%s: %s", method, strerror(-rc));
		(void)close(fd);
		return CLI_EXIT_FAIL;
	}
	if (fail)
		keep = cli_calloc(QUERY_EXC_KEEP + 1, 1);
	for (;;) {
		char buf[65536];
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET)
			n = 0;
		if (n < 0) {
			cli_errx("%s: %s", method, strerror(errno));
			lost = true;
			break;
		}
		if (n == 0)
			break;
		if (total == 0) {
			/* Qubes prints nothing unless the reply starts with a
			 * digit */
			if (buf[0] < '0' || buf[0] > '9')
				break;
			status = buf[0] - '0';
		}
		total += (size_t)n;
		rc = io_write_all(STDOUT_FILENO, buf, (size_t)n);
		if (rc < 0) {
			cli_errx("standard output: %s", strerror(-rc));
			lost = true;
			break;
		}
		if (keep != NULL && kept < QUERY_EXC_KEEP) {
			size_t k = (size_t)n < QUERY_EXC_KEEP - kept ?
			    (size_t)n :
			    QUERY_EXC_KEEP - kept;

			memcpy(keep + kept, buf, k);
			kept += k;
		}
	}
	(void)close(fd);
	/* a reply cut short is no reply: the caller must not take it whole */
	if (lost) {
		free(keep);
		return CLI_EXIT_FAIL;
	}
	if (status < 0) {
		if (total == 0)
			cli_errx(
			    "%s: got an empty reply from the daemon", method);
		else
			cli_errx("%s: malformed reply from the daemon", method);
		free(keep);
		return CLI_EXIT_FAIL;
	}
	if (nul) {
		rc = io_write_all(STDOUT_FILENO, "", 1);
		if (rc < 0) {
			cli_errx("standard output: %s", strerror(-rc));
			free(keep);
			return CLI_EXIT_FAIL;
		}
	}
	if (fail && status == 2 && keep != NULL) {
		struct admin_reply r;

		keep[kept] = '\0';
		if (admin_reply_parse(keep, kept, &r) == 0 && !r.ok) {
			char t[256];

			cli_errx("%s: %s: %s", method,
			    cli_quote(r.exc_type, t, sizeof(t)),
			    cli_exc_text(&r, hdr, sizeof(hdr)));
			admin_reply_free(&r);
		}
	}
	free(keep);
	return fail ? status : CLI_EXIT_OK;
}
