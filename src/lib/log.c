/*
 * log.c - logging shared by every bulkhead process.
 *
 * Runs in every process, under whatever uid that process has.  Lines
 * written to a log file (stderr a regular file) start with UTC time.  Inputs are
 * format strings from our own code; peer data reaches here only through
 * log_quote().
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

static const char *log_role = "bulkhead";
static char log_qube[64];
static int log_to_stderr = 1;
static enum log_level log_max_level = LOG_LEVEL_INFO;
static uint64_t log_stderr_cap;

void
log_init(const char *role, int to_stderr)
{
	log_role = role;
	log_to_stderr = to_stderr;
	if (!to_stderr)
		openlog(role, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_level_from_env();
}

void
log_set_qube(const char *qube)
{
	size_t n = strlen(qube);

	if (n >= sizeof(log_qube))
		n = sizeof(log_qube) - 1;
	memcpy(log_qube, qube, n);
	log_qube[n] = '\0';
}

void
log_set_stderr_cap(uint64_t max_bytes)
{
	log_stderr_cap = max_bytes;
}

bool
log_budget_take(struct log_budget *b, uint64_t now_ms, unsigned int burst,
    uint64_t interval_ms, unsigned long *ret_left_out)
{
	*ret_left_out = 0;
	/* (a clock that went back wraps: a new interval too) */
	if (b->since == 0 || now_ms - b->since >= interval_ms) {
		*ret_left_out = b->left_out;
		b->since = now_ms ? now_ms : 1;
		b->lines = 0;
		b->left_out = 0;
	}
	if (b->lines >= burst) {
		b->left_out++;
		return false;
	}
	b->lines++;
	return true;
}

void
log_set_level(enum log_level level)
{
	log_max_level = level;
}

void
log_level_from_env(void)
{
	const char *v = getenv("BULKHEAD_LOG_LEVEL");

	if (v == NULL)
		return;
	if (strcmp(v, "err") == 0)
		log_max_level = LOG_LEVEL_ERR;
	else if (strcmp(v, "warn") == 0)
		log_max_level = LOG_LEVEL_WARN;
	else if (strcmp(v, "info") == 0)
		log_max_level = LOG_LEVEL_INFO;
	else if (strcmp(v, "debug") == 0)
		log_max_level = LOG_LEVEL_DEBUG;
}

/* the format attribute lets -Wformat-nonliteral (clang) see fmt's origin */
static void log_vemit(enum log_level level, int with_errno, int saved_errno,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
log_vemit(enum log_level level, int with_errno, int saved_errno,
    const char *fmt, va_list ap)
{
	static const int prio[LOG_LEVEL_MAX] = {
	    LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	static const char *const name[LOG_LEVEL_MAX] = {
	    "error", "warning", "info", "debug"};
	char msg[1024];
	int n;

	if (level > log_max_level)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (with_errno && (size_t)n < sizeof(msg))
		(void)snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s",
		    strerror(saved_errno));
	if (log_to_stderr) {
		struct stat st;
		char stamp[96] = "";

		/* a log file (not a terminal or a pipe) gets the time */
		if (fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
			struct timespec ts;
			struct tm tm;

			/* room for the longest line this can write */
			size_t room = sizeof(stamp) + strlen(log_role) +
			    sizeof(log_qube) + sizeof(msg) + 16;

			if (log_stderr_cap > 0 && st.st_size >= 0 &&
			    (uint64_t)st.st_size + room > log_stderr_cap &&
			    ftruncate(STDERR_FILENO, 0) == 0) {
				/* (a file not opened to append) */
				(void)lseek(STDERR_FILENO, 0, SEEK_SET);
				(void)fprintf(stderr,
				    "%s: warning: this log reached %llu "
				    "bytes: what was before is gone\n",
				    log_role,
				    (unsigned long long)log_stderr_cap);
			}

			(void)clock_gettime(CLOCK_REALTIME, &ts);
			if (gmtime_r(&ts.tv_sec, &tm) != NULL)
				(void)snprintf(stamp, sizeof(stamp),
				    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
				    tm.tm_year + 1900, tm.tm_mon + 1,
				    tm.tm_mday, tm.tm_hour, tm.tm_min,
				    tm.tm_sec, ts.tv_nsec / 1000000);
		}
		(void)fprintf(stderr, "%s%s%s%s%s: %s: %s\n", stamp, log_role,
		    log_qube[0] ? "[" : "", log_qube, log_qube[0] ? "]" : "",
		    name[level], msg);
	} else
		syslog(prio[level], "%s%s%s%s", log_qube[0] ? "[" : "",
		    log_qube, log_qube[0] ? "] " : "", msg);
}

#define LOG_BODY(level, with_errno)                                            \
	do {                                                                   \
		int saved_errno = errno;                                       \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vemit(level, with_errno, saved_errno, fmt, ap);            \
		va_end(ap);                                                    \
		errno = saved_errno;                                           \
	} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERR, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERR, 0);
	exit(1);
}

const char *
log_quote(char *out, size_t outlen, const void *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t o = 0;
	size_t i;

	if (outlen == 0)
		return out;
	for (i = 0; i < len; i++) {
		unsigned char c = p[i];
		size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;

		if (o + need + 4 > outlen) {
			if (o + 4 <= outlen) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o < outlen ? o : outlen - 1] = '\0';
	return out;
}
