/*
 * seccomp_apply.c - load a seccomp program built elsewhere (by a
 * daemon's monitor, or when bulkhead was built): seccomp_util.h.  In
 * libbulkhead, without libseccomp.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "lib/seccomp_util.h"

int
seccomp_util_apply(const struct seccomp_util_prog *p)
{
	struct sock_fprog prog = {.len = p->len, .filter = p->insns};

	if (p->insns == NULL || p->len == 0)
		return -EINVAL;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}

void
seccomp_util_prog_free(struct seccomp_util_prog *p)
{
	free(p->insns);
	p->insns = NULL;
	p->len = 0;
}
