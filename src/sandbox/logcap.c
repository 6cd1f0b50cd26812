/*
 * logcap.c - a qube's output into a log with a limit a run (logcap.h).
 * Runs in bulkhead-sandbox and bulkhead-vm, as root.  Untrusted input:
 * the bytes read from lc->in (the qube's), copied as they are up to the
 * limit; nothing in them is interpreted.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sandbox/logcap.h"

size_t
logcap_limit(void)
{
	const char *e = getenv("BULKHEAD_QUBE_LOG_MAX");
	unsigned long long v;
	char *end;

	if (e == NULL || e[0] == '\0')
		return LOGCAP_RUN_MAX;
	errno = 0;
	v = strtoull(e, &end, 10);
	if (errno != 0 || *end != '\0' || v < LOGCAP_MIN ||
	    v > LOGCAP_MAX_MAX) {
		log_warnx("BULKHEAD_QUBE_LOG_MAX=%s: not %u to %u, ignoring", e,
		    LOGCAP_MIN, LOGCAP_MAX_MAX);
		return LOGCAP_RUN_MAX;
	}
	return (size_t)v;
}

int
logcap_rotate(const char *path, size_t max)
{
	char old[PATH_MAX];
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= (off_t)max)
		return 0;
	if (str_printf(old, sizeof(old), "%s.old", path) < 0)
		return -ENAMETOOLONG;
	return rename(path, old) < 0 ? -errno : 0;
}

static int
logcap_write(const struct logcap *lc, const void *buf, size_t len)
{
	return lc->out_file ? io_write_file_all(lc->out, buf, len) :
	                      io_write_all(lc->out, buf, len);
}

void
logcap_pump(struct logcap *lc)
{
	char buf[16384];

	while (lc->in >= 0) {
		ssize_t n = read(lc->in, buf, sizeof(buf));
		size_t keep;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			(void)close(lc->in);
			lc->in = -1;
			return;
		}
		keep = lc->kept < lc->max ? lc->max - lc->kept : 0;
		if (keep > (size_t)n)
			keep = (size_t)n;
		if (lc->out >= 0 && keep > 0 &&
		    logcap_write(lc, buf, keep) < 0) {
			log_warn("the qube's %s is dropped", lc->what);
			(void)close(lc->out);
			lc->out = -1;
		}
		lc->kept += keep;
		if (keep < (size_t)n && !lc->dropped) {
			char note[160];
			int len;

			lc->dropped = true;
			len = snprintf(note, sizeof(note),
			    "\n[bulkhead: this run's %s is over its limit (%zu "
			    "bytes); the rest is dropped]\n",
			    lc->what, lc->max);
			if (lc->out >= 0 && len > 0 &&
			    (size_t)len < sizeof(note))
				(void)logcap_write(lc, note, (size_t)len);
			log_warnx("the qube's %s went over %zu bytes: the rest "
			          "of this run's is dropped",
			    lc->what, lc->max);
		}
	}
}
