/*
 * seccomp_util.c - an allowlist seccomp filter (seccomp_util.h).
 *
 * Not part of libbulkhead: most programs do not link libseccomp.  The
 * targets that already do (filecopy-core, guid-core, qrexec-daemon-core)
 * compile this file in, so no program gains a dependency.
 * bulkhead-sandbox's filter is another kind (allow by default, deny a
 * list, argument rules) and has its own loader (src/sandbox/seccomp.c).
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/seccomp_util.h"

/* The filter for names, in libseccomp's context (the caller releases). */
static int
build(const char *const *names, size_t n, scmp_filter_ctx *ret)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	size_t i;
	int r;

	if (ctx == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		/* a call this architecture does not have: nothing to allow */
		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0) {
			seccomp_release(ctx);
			return r;
		}
	}
	*ret = ctx;
	return 0;
}

int
seccomp_util_allow_only(const char *const *names, size_t n)
{
	scmp_filter_ctx ctx;
	int r;

	r = build(names, n, &ctx);
	if (r < 0)
		return r;
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

int
seccomp_util_compile(
    const char *const *names, size_t n, struct seccomp_util_prog *ret)
{
	scmp_filter_ctx ctx;
	struct stat st;
	ssize_t got;
	int fd, r;

	ret->insns = NULL;
	ret->len = 0;
	r = build(names, n, &ctx);
	if (r < 0)
		return r;
	/* libseccomp 2.5 exports the program only to an fd */
	fd = memfd_create("seccomp-filter", MFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		r = -EINVAL;
		goto out;
	}
	ret->insns = malloc((size_t)st.st_size);
	if (ret->insns == NULL) {
		r = -ENOMEM;
		goto out;
	}
	got = pread(fd, ret->insns, (size_t)st.st_size, 0);
	if (got != st.st_size) {
		r = got < 0 ? -errno : -EIO;
		free(ret->insns);
		ret->insns = NULL;
		goto out;
	}
	ret->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	r = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	seccomp_release(ctx);
	return r;
}

/* sized by its initializer: a count that disagrees with the header's
 * does not compile */
const char *const seccomp_util_stream_calls[] = {
    /* the relay and the stream */
    "read", "write", "writev", "readv", "splice", "pipe2", "sendto", "recvfrom",
    "sendmsg", "recvmsg", "shutdown", "close", "poll", "ppoll", "fcntl",
    /* a local service's end (SIGCHLD arrives on a signalfd) */
    "wait4", "waitid",
    /* memory (malloc) */
    "brk", "mmap", "munmap", "mremap", "madvise", "mprotect",
    /* time (deadlines), logging to stderr */
    "clock_gettime", "gettimeofday", "getpid", "fstat", "newfstatat",
    /* signals (the relay ignores SIGPIPE), stdio locks, the sanitizers'
     * alternate stack */
    "rt_sigaction", "rt_sigreturn", "rt_sigprocmask", "futex", "sigaltstack",
    "restart_syscall",
    /* leaving */
    "exit", "exit_group"};
