/*
 * seccomp_util.c - an allowlist seccomp filter (seccomp_util.h).
 *
 * Not part of libbulkhead: most programs do not link libseccomp.  The
 * targets that already do (filecopy-core, guid-core) compile this file
 * in, so no program gains a dependency.  bulkhead-sandbox's filter is
 * another kind (allow by default, deny a list, argument rules) and has
 * its own loader (src/sandbox/seccomp.c).
 */
#include <errno.h>
#include <seccomp.h>

#include "lib/seccomp_util.h"

int
seccomp_util_allow_only(const char *const *names, size_t n)
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
		if (r < 0)
			goto out;
	}
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r;
}
