/*
 * log.h - logging for every bulkhead process.
 *
 * Each line carries the process role and, where known, the qube it serves.
 * Output goes to stderr (foreground, "-d") or to syslog.  Functions ending in
 * "x" do not append strerror(errno); the others do.  Peer-supplied strings
 * must be passed through log_quote() first.
 */
#ifndef BULKHEAD_LOG_H
#define BULKHEAD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_MAX
};

/* Set the role (e.g. "qrexec-agent") and where lines go. */
void log_init(const char *role, int to_stderr);
/* Name of the qube this process serves, shown on every line (copied). */
void log_set_qube(const char *qube);
void log_set_level(enum log_level level);
/* Verbosity from $BULKHEAD_LOG_LEVEL (err, warn, info, debug), if set. */
void log_level_from_env(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void
fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void
fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A budget of lines that one peer (a qube) may cause: what its misbehaviour
 * can make us write is bounded, and its own lines are not drowned.  Zero
 * it to start.
 */
struct log_budget {
	uint64_t since;         /* the interval's start, ms */
	unsigned int lines;     /* logged in it */
	unsigned long left_out; /* not logged in it */
};

/*
 * May one more line be logged at now_ms, at most burst lines an interval
 * of interval_ms?  When a new interval starts after lines were left out,
 * *ret_left_out is how many (else 0): the caller says so first.
 */
bool log_budget_take(struct log_budget *b, uint64_t now_ms, unsigned int burst,
    uint64_t interval_ms, unsigned long *ret_left_out);

/*
 * Keep a log file on stderr under max_bytes (0: no limit): once a line
 * would take it past that, it is emptied, with a line saying so, before
 * the line is written (what grows in a tmpfs takes memory).
 */
void log_set_stderr_cap(uint64_t max_bytes);

/*
 * Render up to len bytes of an untrusted string for a log line: printable
 * ASCII kept, everything else as \xNN, truncated with "..." to fit out.
 * Returns out.
 */
const char *log_quote(char *out, size_t outlen, const void *in, size_t len);

#endif
