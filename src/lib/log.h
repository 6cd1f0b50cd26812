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
#include <stddef.h>

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
 * Render up to len bytes of an untrusted string for a log line: printable
 * ASCII kept, everything else as \xNN, truncated with "..." to fit out.
 * Returns out.
 */
const char *log_quote(char *out, size_t outlen, const void *in, size_t len);

#endif
