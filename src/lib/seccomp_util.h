/*
 * seccomp_util.h - the allowlist filters of the processes that confine
 * themselves (filecopy's unpacker, the GUI domain's validator,
 * qrexec-daemon's worker and call processes: built with libseccomp;
 * qrexec-client's data phase: a program libseccomp built when bulkhead
 * was built).
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

/*
 * Load p into this process; no_new_privs must be set.  0 or -errno.
 * (This and seccomp_util_prog_free are in seccomp_apply.c, in
 * libbulkhead: they need no libseccomp.)
 */
int seccomp_util_apply(const struct seccomp_util_prog *p);

void seccomp_util_prog_free(struct seccomp_util_prog *p);

/*
 * What a process that only moves a qrexec call's bytes needs once
 * confined (a daemon's call process, qrexec-client's data phase): move
 * bytes between the fds it holds, wait for them and for its local
 * service to end, log.  No open, exec, fork, kill or ptrace: one a qube
 * took over reaches only its own call's fds.
 */
#define SECCOMP_UTIL_STREAM_NCALLS 36
extern const char *const seccomp_util_stream_calls[SECCOMP_UTIL_STREAM_NCALLS];

/*
 * Those calls' program, made when bulkhead is built (seccomp-export), for
 * programs that confine themselves at each start (qrexec-client):
 * seccomp_util_apply takes it without libseccomp.
 */
extern const struct seccomp_util_prog seccomp_util_stream_prog;

#endif
