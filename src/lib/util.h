/*
 * util.h - small helpers used everywhere: bounded string copies, integer
 * parsing, fd flags, monotonic time.  Nothing here logs or exits.
 */
#ifndef BULKHEAD_UTIL_H
#define BULKHEAD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * bulkhead's runtime directory: $BULKHEAD_RUN_DIR when it is set, else
 * the built-in one (/run/bulkhead); NULL if it is set to a relative path.
 * Every default socket path is under it, so one variable moves a whole
 * installation (tests, a second instance).
 */
const char *bulkhead_run_dir(void);

/*
 * "<run dir>/<leaf>" into out: 0, -ENAMETOOLONG, or -EINVAL for a
 * $BULKHEAD_RUN_DIR that is not an absolute path (bulkhead_run_dir()
 * returns NULL then).  Callers report either; none falls back to the
 * default, which may be another installation's.
 */
int bulkhead_run_path(char *out, size_t n, const char *leaf);

/*
 * A user a helper bulkheadd starts runs as: user, or by default dflt
 * where the host has that user.  1 with its name (in name, namelen
 * bytes), uid and gid for a user other than root; 0 for root; -ENOENT for
 * no such user (user named, or the default missing: the caller tells
 * which), -ENAMETOOLONG.
 */
int bulkhead_service_user(const char *user, const char *dflt, char *name,
    size_t namelen, uid_t *ret_uid, gid_t *ret_gid);

/*
 * bulkhead_service_user() with BULKHEAD_POLICY_USER as the default: the
 * user qrexec-policy-daemon runs as (bulkheadd starts it; the GUI
 * domain's ask socket lets its group in); 0 for root (it stays root).
 */
int bulkhead_policy_user(const char *user, char *name, size_t namelen,
    uid_t *ret_uid, gid_t *ret_gid);
#define BULKHEAD_RUN_DIR_ERROR                                                 \
	"BULKHEAD_RUN_DIR must be an absolute path short enough for a socket"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef FALLTHROUGH
#define FALLTHROUGH __attribute__((fallthrough))
#endif

/*
 * Copy the NUL-terminated src into dst of size dstlen.  Returns 0, or
 * -ENAMETOOLONG (dst untouched but for a NUL at [0]) when it does not fit:
 * truncation is an error, never silent.
 */
int str_copy(char *dst, size_t dstlen, const char *src);

/* snprintf that treats truncation as an error: 0 or -ENAMETOOLONG. */
int str_printf(char *dst, size_t dstlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Parse a decimal unsigned integer: digits only, no sign, no leading zeros
 * (except "0" itself), at most max.  Returns 0 or -EINVAL/-ERANGE.
 */
int parse_u32(const char *s, uint32_t max, uint32_t *ret_value);

/* true if s starts with prefix */
bool str_startswith(const char *s, const char *prefix);

/* A uuid's text: exactly 8-4-4-4-12 hex digits (either case), then NUL. */
#define STR_UUID_LEN 36
bool str_uuid_valid(const char *s);

/*
 * /dev/null as fd 0, kept across exec (for a child that must read nothing
 * of its parent's stdin).  Async-signal-safe.  0 or -errno.
 */
int fd_stdin_null(void);
int fd_set_nonblock(int fd, bool nonblock);
int fd_set_cloexec(int fd, bool cloexec);

/* Monotonic clock in milliseconds. */
uint64_t now_ms(void);
/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

/* Close fd if >= 0 and set it to -1; errno preserved. */
void close_fd(int *fd);

/* Free p after wiping len bytes of it. */
void freezero(void *p, size_t len);

#endif
