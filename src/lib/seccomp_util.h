/*
 * seccomp_util.h - the allowlist filter of the processes that confine
 * themselves with libseccomp (filecopy's unpacker, the GUI domain's
 * validator, qrexec-daemon's worker and call processes).
 */
#ifndef BULKHEAD_SECCOMP_UTIL_H
#define BULKHEAD_SECCOMP_UTIL_H

#include <stddef.h>

struct sock_filter;

/*
 * Load a seccomp filter that allows the n calls named (a name this
 * architecture does not have is skipped: nothing to allow) and kills the
 * process on any other.  The caller has set no_new_privs.  0 or -errno.
 */
int seccomp_util_allow_only(const char *const *names, size_t n);

/*
 * The same filter as a BPF program, built once and applied in many
 * processes (each call process of a daemon): building it costs ~0.3 ms,
 * applying it a system call.
 */
struct seccomp_util_prog {
	struct sock_filter *insns;
	unsigned short len;
};

/* Build the program; 0 or -errno (*ret then empty). */
int seccomp_util_compile(
    const char *const *names, size_t n, struct seccomp_util_prog *ret);

/* Load p into this process; no_new_privs must be set.  0 or -errno. */
int seccomp_util_apply(const struct seccomp_util_prog *p);

void seccomp_util_prog_free(struct seccomp_util_prog *p);

#endif
