/*
 * seccomp_util.h - the allowlist filter of the processes that confine
 * themselves with libseccomp (filecopy's unpacker, the GUI domain's
 * validator).
 */
#ifndef BULKHEAD_SECCOMP_UTIL_H
#define BULKHEAD_SECCOMP_UTIL_H

#include <stddef.h>

/*
 * Load a seccomp filter that allows the n calls named (a name this
 * architecture does not have is skipped: nothing to allow) and kills the
 * process on any other.  The caller has set no_new_privs.  0 or -errno.
 */
int seccomp_util_allow_only(const char *const *names, size_t n);

#endif
