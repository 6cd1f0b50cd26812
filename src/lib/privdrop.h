/*
 * privdrop.h - the first step of confining a process that is about to
 * read a qube's bytes: qrexec-daemon's worker and call processes,
 * bulkhead-features-request's reader.  Each loads its own seccomp filter
 * after it (seccomp_util.h).
 */
#ifndef BULKHEAD_PRIVDROP_H
#define BULKHEAD_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

/*
 * When root: to uid/gid with no supplementary groups, and never root
 * again (checked).  Then no_new_privs, not dumpable, no core file, and,
 * if log_max > 0 and stderr is a regular file (its log), at most log_max
 * bytes more in it (EFBIG after, not SIGXFSZ).  die_with (not 0): the
 * parent this process dies with (SIGKILL), set after the ids changed
 * (which clear it); -ESRCH if that parent is already gone.  0 or -errno.
 */
int priv_drop(uid_t uid, gid_t gid, size_t log_max, pid_t die_with);

/*
 * If stderr is a regular file (a log), let this process and its children
 * make it no larger than file_max bytes (or than it is, if larger): writes
 * past that fail with EFBIG (SIGXFSZ is ignored).  A later priv_drop
 * keeps within it.  For processes whose lines a qube can cause, so that
 * all of them together, not each, stay within the cap.  0 or -errno.
 */
int priv_log_cap(size_t file_max);

/*
 * Lift that cap again: in the child of a capped process that execs a
 * program of the admin's own (a local service), whose files are not
 * logs.  Only root with CAP_SYS_RESOURCE can (root in some containers
 * lacks it: then the cap stays, and the service's files are capped too).
 * Async-signal-safe.
 */
void priv_log_uncap(void);

/*
 * The ids of the user "nobody" (/etc/passwd, read without NSS, so static
 * programs may call it), or 65534/65534 where there is none: the user a
 * process confines itself to when nothing of its own fits.
 */
void priv_nobody(uid_t *ret_uid, gid_t *ret_gid);

#endif
