/*
 * util.c - small helpers used by every process (any uid).  Inputs may be
 * untrusted strings; every function bounds what it reads and writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lib/util.h"

int
str_copy(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (dstlen == 0)
		return -ENAMETOOLONG;
	if (n >= dstlen) {
		dst[0] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int
str_printf(char *dst, size_t dstlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, dstlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= dstlen) {
		if (dstlen > 0)
			dst[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int
parse_u32(const char *s, uint32_t max, uint32_t *ret_value)
{
	uint64_t v = 0;
	size_t i;

	if (s[0] == '\0')
		return -EINVAL;
	if (s[0] == '0' && s[1] != '\0')
		return -EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return -ERANGE;
	}
	*ret_value = (uint32_t)v;
	return 0;
}

bool
str_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool
str_uuid_valid(const char *s)
{
	size_t i;

	/* a shorter s stops at its NUL, which is neither '-' nor hex */
	for (i = 0; i < STR_UUID_LEN; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		               (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return s[STR_UUID_LEN] == '\0';
}

int
fd_stdin_null(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), e;

	if (fd < 0)
		return -errno;
	/* dup2 onto itself would keep close-on-exec */
	if (fd == 0)
		return fcntl(0, F_SETFD, 0) < 0 ? -errno : 0;
	e = dup2(fd, 0) < 0 ? -errno : 0;
	(void)close(fd);
	return e;
}

int
fd_set_nonblock(int fd, bool nonblock)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = nonblock ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	if (fcntl(fd, F_SETFL, fl) < 0)
		return -errno;
	return 0;
}

int
fd_set_cloexec(int fd, bool cloexec)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -errno;
	fl = cloexec ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
	if (fcntl(fd, F_SETFD, fl) < 0)
		return -errno;
	return 0;
}

uint64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t
now_ms(void)
{
	return now_ns() / 1000000ULL;
}

void
close_fd(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
	errno = saved;
}

void
freezero(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

const char *
bulkhead_run_dir(void)
{
	const char *e = getenv("BULKHEAD_RUN_DIR");

	if (e == NULL || e[0] == '\0')
		return BULKHEAD_RUN_DIR;
	/* a relative one is refused, never replaced by the default (which
	 * may be another, real installation's) */
	return e[0] == '/' ? e : NULL;
}

int
bulkhead_service_user(const char *user, const char *dflt, char *name,
    size_t namelen, uid_t *ret_uid, gid_t *ret_gid)
{
	struct passwd *pw = getpwnam(user != NULL ? user : dflt);

	if (pw == NULL)
		return -ENOENT;
	if (pw->pw_uid == 0)
		return 0;
	if (str_copy(name, namelen, pw->pw_name) < 0)
		return -ENAMETOOLONG;
	*ret_uid = pw->pw_uid;
	*ret_gid = pw->pw_gid;
	return 1;
}

int
bulkhead_policy_user(const char *user, char *name, size_t namelen,
    uid_t *ret_uid, gid_t *ret_gid)
{
	return bulkhead_service_user(
	    user, BULKHEAD_POLICY_USER, name, namelen, ret_uid, ret_gid);
}

int
bulkhead_run_path(char *out, size_t n, const char *leaf)
{
	const char *dir = bulkhead_run_dir();

	if (dir == NULL)
		return -EINVAL;
	return str_printf(out, n, "%s/%s", dir, leaf);
}
