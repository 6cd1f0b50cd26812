/*
 * qvm_console.c - qvm-console: show the serial console log of a VM qube
 * (admin.vm.Console), once or following it as it grows.
 *
 * Qubes' qvm-console attaches a terminal to the qube's console; bulkhead's
 * admin.vm.Console is read-only (a documented divergence): arg a decimal
 * byte offset ("" for the last CONSOLE_CHUNK_MAX bytes), reply
 * "offset=START size=TOTAL\n" then at most CONSOLE_CHUNK_MAX bytes of the
 * log from START.  The log may be replaced between calls (a restarted
 * qube); a size below our offset means reading it again from 0.
 *
 * Runs as the administrator.  Untrusted input: the log's bytes, which the
 * qube wrote, and the daemon's reply around them.  The bytes reach the
 * terminal only through the escaper below, so a guest cannot send escape
 * sequences to the administrator's terminal.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

/* Most log bytes one reply carries (the daemon's chunk). */
#define CONSOLE_CHUNK_MAX ((size_t)64 * 1024)
/* Longest "offset=N size=N\n" header we accept. */
#define CONSOLE_HEADER_MAX 64
/* How often --follow asks for more. */
#define CONSOLE_POLL_NS 500000000L
/* Largest -n. */
#define CONSOLE_LINES_MAX 100000000UL

static volatile sig_atomic_t stop_following;

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-console [options] [--follow] [--lines N] VMNAME\n"
	    "\n"
	    "Show the serial console log of a VM qube (virt_mode=vm): the "
	    "kernel's and\n"
	    "the qube's boot messages.  Read-only: unlike Qubes' qvm-console, "
	    "it does not\n"
	    "attach a terminal to the console.  The qube's bytes are "
	    "untrusted: control\n"
	    "characters other than newline and tab, and invalid UTF-8, are "
	    "printed as\n"
	    "\\xNN (a CR before a newline is left out).\n"
	    "\n"
	    "Options:\n"
	    "  -f, --follow         keep printing what the qube appends "
	    "(polled every\n"
	    "                       0.5 s) until interrupted or the log goes "
	    "away\n"
	    "  -n, --lines N        print only the last N lines of the last "
	    "64 KiB\n"
	    "                       (default: all of those 64 KiB)\n" CLI_COMMON_HELP
	    "\n"
	    "Exit status: 0 done (also when interrupted while following, or "
	    "when the log\n"
	    "goes away), 1 failure (the qube has no console log, the daemon "
	    "refused),\n"
	    "2 usage error (also an unknown qube).\n"
	    "\n" CLI_ENV_HELP);
}

/* ---- escaping a stream ---- */

/*
 * The state carried from one chunk of the log to the next: an unfinished
 * UTF-8 sequence and a CR that may be the start of CR LF.
 */
struct esc {
	unsigned char pend[4];
	size_t npend; /* bytes of a sequence so far */
	size_t need;  /* its length */
	bool cr;
};

static void
esc_hex(FILE *f, unsigned char c)
{
	(void)fprintf(f, "\\x%02x", c);
}

/* Length of a UTF-8 sequence that begins with c (2..4), or 0. */
static size_t
utf8_need(unsigned char c)
{
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* Whether c may follow lead as its second byte: no overlong forms, no
 * surrogates, nothing above U+10FFFF (RFC 3629). */
static bool
utf8_second_ok(unsigned char lead, unsigned char c)
{
	switch (lead) {
	case 0xe0:
		return c >= 0xa0 && c <= 0xbf;
	case 0xed:
		return c >= 0x80 && c <= 0x9f;
	case 0xf0:
		return c >= 0x90 && c <= 0xbf;
	case 0xf4:
		return c >= 0x80 && c <= 0x8f;
	default:
		return c >= 0x80 && c <= 0xbf;
	}
}

/* An unfinished sequence is no character: its bytes are escaped. */
static void
esc_flush_pending(struct esc *e, FILE *f)
{
	size_t i;

	for (i = 0; i < e->npend; i++)
		esc_hex(f, e->pend[i]);
	e->npend = 0;
	e->need = 0;
}

static void
esc_flush_cr(struct esc *e, FILE *f)
{
	if (e->cr)
		esc_hex(f, '\r');
	e->cr = false;
}

/*
 * Write untrusted bytes to f so that a terminal shows them and does
 * nothing else: printable ASCII, tab, newline and valid UTF-8 as they
 * are; other bytes as \xNN.  The C1 controls (U+0080..U+009F) are
 * escaped too, because some terminals act on them in their UTF-8 form
 * (U+009B is CSI).  A CR right before a LF is dropped (the serial
 * console's line end); any other CR is escaped, since it could hide what
 * came before it on the line.  A backslash is printed as it is.
 */
static void
esc_write(struct esc *e, FILE *f, const unsigned char *untrusted, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = untrusted[i];
		size_t need;

		if (e->npend > 0) {
			bool ok = e->npend == 1 ?
			    utf8_second_ok(e->pend[0], c) :
			    (c & 0xc0) == 0x80;

			if (ok) {
				e->pend[e->npend++] = c;
				if (e->npend < e->need)
					continue;
				if (e->pend[0] == 0xc2 && e->pend[1] <= 0x9f)
					esc_flush_pending(e, f); /* C1 */
				else
					(void)fwrite(e->pend, 1, e->npend, f);
				e->npend = 0;
				e->need = 0;
				continue;
			}
			/* a broken sequence; c starts afresh */
			esc_flush_pending(e, f);
		}
		if (c == '\n') {
			e->cr = false;
			(void)putc('\n', f);
			continue;
		}
		esc_flush_cr(e, f);
		if (c == '\r') {
			e->cr = true;
		} else if (c == '\t' || (c >= 0x20 && c < 0x7f)) {
			(void)putc(c, f);
		} else if ((need = utf8_need(c)) > 0) {
			e->pend[0] = c;
			e->npend = 1;
			e->need = need;
		} else {
			esc_hex(f, c);
		}
	}
}

/* The end of the stream (or of a log replaced): flush what is held. */
static void
esc_end(struct esc *e, FILE *f)
{
	esc_flush_pending(e, f);
	esc_flush_cr(e, f);
}

/* ---- the reply ---- */

struct chunk {
	uint64_t offset; /* where data begins in the log */
	uint64_t size;   /* the log's size */
	const unsigned char *data;
	size_t len;
};

/* A decimal uint64 at *p, up to the stop character, which is skipped. */
static int
parse_u64(const char **p, const char *end, char stop, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s == end || *s < '0' || *s > '9')
		return -EBADMSG;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10 || s - *p > 19)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s == end || *s != stop)
		return -EBADMSG;
	*p = s + 1;
	*ret = v;
	return 0;
}

/*
 * Parse a Console reply body: "offset=START size=TOTAL\n" then at most
 * CONSOLE_CHUNK_MAX bytes.  0 or -EBADMSG; ret points into the body.
 */
static int
chunk_parse(const char *untrusted_body, size_t len, struct chunk *ret)
{
	const char *p = untrusted_body;
	const char *hend = memchr(untrusted_body, '\n',
	    len < CONSOLE_HEADER_MAX ? len : CONSOLE_HEADER_MAX);
	struct chunk ch;

	if (hend == NULL)
		return -EBADMSG;
	hend++;
	if ((size_t)(hend - p) < 7 || memcmp(p, "offset=", 7) != 0)
		return -EBADMSG;
	p += 7;
	if (parse_u64(&p, hend, ' ', &ch.offset) < 0)
		return -EBADMSG;
	if ((size_t)(hend - p) < 5 || memcmp(p, "size=", 5) != 0)
		return -EBADMSG;
	p += 5;
	if (parse_u64(&p, hend, '\n', &ch.size) < 0 || p != hend)
		return -EBADMSG;
	ch.data = (const unsigned char *)hend;
	ch.len = len - (size_t)(hend - untrusted_body);
	if (ch.len > CONSOLE_CHUNK_MAX || ch.offset > UINT64_MAX / 2)
		return -EBADMSG;
	*ret = ch;
	return 0;
}

/* Where the last n lines of data[0..len) begin (as tail -n counts). */
static size_t
last_lines(const unsigned char *data, size_t len, unsigned long n)
{
	size_t i = len;

	if (n == 0)
		return len;
	if (i > 0 && data[i - 1] == '\n')
		i--;
	while (i > 0) {
		if (data[i - 1] == '\n' && --n == 0)
			return i;
		i--;
	}
	return 0;
}

static void
on_sigint(int sig)
{
	(void)sig;
	stop_following = 1;
}

/* Sleep the poll interval, or less if interrupted. */
static void
poll_sleep(void)
{
	struct timespec ts = {0, CONSOLE_POLL_NS};

	(void)nanosleep(&ts, NULL);
}

enum call_result {
	CALL_OK,
	CALL_NO_LOG, /* an exception about the log or the qube */
	CALL_FAILED, /* printed */
};

/*
 * One admin.vm.Console call from offset (-1: the last chunk).  On CALL_OK
 * *reply holds the reply (free it) and *ret its chunk; on CALL_NO_LOG
 * *reply holds the exception.
 */
static enum call_result
console_call(const char *vm, int64_t offset, struct admin_reply *reply,
    struct chunk *ret)
{
	char arg[32] = "";

	if (offset >= 0)
		(void)snprintf(arg, sizeof(arg), "%lld", (long long)offset);
	if (cli_call(vm, "admin.vm.Console", arg, NULL, 0, reply) < 0)
		return CALL_FAILED;
	if (!reply->ok) {
		/* refused as a request: not about the log */
		if (admin_exc_is(reply->exc, ADMIN_EXC_PROTOCOL) ||
		    admin_exc_is(reply->exc, ADMIN_EXC_PERMISSION)) {
			cli_print_exc(vm, reply);
			admin_reply_free(reply);
			return CALL_FAILED;
		}
		return CALL_NO_LOG;
	}
	if (chunk_parse(reply->data, reply->len, ret) < 0) {
		cli_print_call_error("admin.vm.Console", -EBADMSG);
		admin_reply_free(reply);
		return CALL_FAILED;
	}
	return CALL_OK;
}

/* Print a chunk's data from its byte skip; return the offset after it. */
static uint64_t
print_chunk(struct esc *e, const struct chunk *ch, size_t skip)
{
	esc_write(e, stdout, ch->data + skip, ch->len - skip);
	return ch->offset + ch->len;
}

/* SIGINT ends --follow, with exit status 0. */
static void
catch_sigint(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	(void)sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: the sleep ends at once */
	(void)sigaction(SIGINT, &sa, NULL);
}

static int
follow(const char *vm, uint64_t next, struct esc *e, int verbosity)
{
	while (!stop_following) {
		struct admin_reply r;
		struct chunk ch;
		size_t skip = 0;

		switch (console_call(vm, (int64_t)next, &r, &ch)) {
		case CALL_OK:
			break;
		case CALL_NO_LOG:
			esc_end(e, stdout);
			(void)fflush(stdout);
			if (verbosity >= 1)
				cli_errx("%s: the console log is gone", vm);
			if (verbosity > 1) {
				char msg[512];

				cli_errx("%s: %s", vm,
				    cli_exc_text(&r, msg, sizeof(msg)));
			}
			admin_reply_free(&r);
			return CLI_EXIT_OK;
		case CALL_FAILED:
		default:
			esc_end(e, stdout);
			return CLI_EXIT_FAIL;
		}
		if (ch.size < next) {
			/* a new log: what is held belonged to the old one */
			admin_reply_free(&r);
			esc_end(e, stdout);
			(void)fflush(stdout);
			if (verbosity >= 1)
				cli_errx("%s: the console log was replaced, "
				         "reading it from the start",
				    vm);
			next = 0;
			continue;
		}
		/* bytes before next were printed already */
		if (ch.offset < next)
			skip = next - ch.offset < ch.len ?
			    (size_t)(next - ch.offset) :
			    ch.len;
		next = print_chunk(e, &ch, skip);
		admin_reply_free(&r);
		if (fflush(stdout) != 0)
			return CLI_EXIT_FAIL;
		/* a full chunk: there may be more at once */
		if (ch.len < CONSOLE_CHUNK_MAX)
			poll_sleep();
	}
	esc_end(e, stdout);
	return CLI_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"lines", required_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts = cli_longopts(tool_opts, 0);
	struct cli_common co = {0, 0};
	struct admin_vm_list list = {NULL, 0};
	const struct admin_vm *vm;
	struct esc e;
	struct admin_reply r;
	struct chunk ch;
	unsigned long lines = 0;
	bool follow_log = false, have_lines = false;
	size_t start = 0;
	uint64_t next;
	int c, rc = CLI_EXIT_FAIL;

	cli_init(argv[0]);
	memset(&e, 0, sizeof(e));
	while ((c = getopt_long(argc, argv, "fn:" CLI_COMMON_SHORTOPTS,
	            longopts, NULL)) != -1) {
		if (c == 'f') {
			follow_log = true;
		} else if (c == 'n') {
			char q[64];

			if (cli_parse_uint(optarg, CONSOLE_LINES_MAX, &lines) <
			    0)
				cli_usage_fail("--lines: %s: not a number of "
				               "lines",
				    cli_quote(optarg, q, sizeof(q)));
			have_lines = true;
		} else if (!cli_common_opt(c, &co, usage)) {
			cli_usage_fail("unknown option");
		}
	}
	if (optind >= argc)
		cli_usage_fail("expected VMNAME");
	if (optind + 1 < argc)
		cli_usage_fail("too many arguments");
	vm = cli_resolve_one(argv[optind], &list);
	if (vm == NULL)
		return CLI_EXIT_FAIL;
	if (follow_log)
		catch_sigint();

	switch (console_call(vm->name, -1, &r, &ch)) {
	case CALL_OK:
		break;
	case CALL_NO_LOG:
		cli_errx(
		    "%s has no console log (only VM qubes have one)", vm->name);
		if (cli_verbosity(&co) > 1) {
			char msg[512];

			cli_errx("%s: %s", vm->name,
			    cli_exc_text(&r, msg, sizeof(msg)));
		}
		admin_reply_free(&r);
		goto out;
	case CALL_FAILED:
	default:
		goto out;
	}
	if (have_lines)
		start = last_lines(ch.data, ch.len, lines);
	if (start == 0 && ch.offset > 0)
		/* the chunk may begin inside a character */
		while (start < ch.len && start < 3 &&
		    (ch.data[start] & 0xc0) == 0x80)
			start++;
	next = print_chunk(&e, &ch, start);
	admin_reply_free(&r);
	if (follow_log) {
		(void)fflush(stdout);
		rc = follow(vm->name, next, &e, cli_verbosity(&co));
	} else {
		esc_end(&e, stdout);
		rc = CLI_EXIT_OK;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_errx("standard output: write error");
		rc = CLI_EXIT_FAIL;
	}
out:
	admin_vm_list_free(&list);
	return rc;
}
