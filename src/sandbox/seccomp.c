/*
 * seccomp.c - the system calls no qube needs, denied for every process of
 * every namespace qube (loaded by PROC_SANDBOX's child just before it
 * becomes the qube's init, after no_new_privs).
 *
 * A qube shares the host kernel: each entry below removes kernel surface a
 * compromised qube could use to attack the host or break out, and that a
 * Linux userland inside a qube does not need.  Denied calls fail with
 * EPERM, or ENOSYS where software is known to fall back cleanly.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>

#include <seccomp.h>

#include "sandbox/sandbox.h"

struct deny {
	const char *name;
	int err;
};

static const struct deny deny[] = {
    /* kernel modules: loading code into the shared kernel */
    {"init_module", EPERM},
    {"finit_module", EPERM},
    {"delete_module", EPERM},
    /* replacing the running kernel */
    {"kexec_load", EPERM},
    {"kexec_file_load", EPERM},
    /* eBPF: a large verifier/JIT attack surface */
    {"bpf", EPERM},
    /* perf: information leaks and a history of privilege escalations */
    {"perf_event_open", EPERM},
    /* userfaultfd: turns kernel races into reliable exploits */
    {"userfaultfd", EPERM},
    /* the kernel keyring is not namespaced */
    {"keyctl", EPERM},
    {"add_key", EPERM},
    {"request_key", EPERM},
    /* no mounting after setup: the qube's view is fixed */
    {"mount", EPERM},
    {"umount2", EPERM},
    {"pivot_root", EPERM},
    {"fsopen", ENOSYS},
    {"fsconfig", ENOSYS},
    {"fsmount", ENOSYS},
    {"fspick", ENOSYS},
    {"move_mount", ENOSYS},
    {"open_tree", ENOSYS},
    {"mount_setattr", ENOSYS},
    /* file handles bypass the mount view (the "shocker" escape) */
    {"open_by_handle_at", EPERM},
    {"name_to_handle_at", EPERM},
    /* no joining other namespaces */
    {"setns", EPERM},
    /* debugging other processes: kernel surface, not needed to run */
    {"ptrace", EPERM},
    {"process_vm_readv", EPERM},
    {"process_vm_writev", EPERM},
    {"kcmp", EPERM},
    {"pidfd_getfd", EPERM},
    /* io_uring: a large, young attack surface; libraries fall back */
    {"io_uring_setup", ENOSYS},
    {"io_uring_enter", ENOSYS},
    {"io_uring_register", ENOSYS},
    /* host-wide state: clock, swap, accounting, quotas, reboot, console */
    {"settimeofday", EPERM},
    {"clock_settime", EPERM},
    {"clock_adjtime", EPERM},
    {"adjtimex", EPERM},
    {"swapon", EPERM},
    {"swapoff", EPERM},
    {"acct", EPERM},
    {"quotactl", EPERM},
    {"quotactl_fd", EPERM},
    {"reboot", EPERM},
    {"syslog", EPERM},
    {"vhangup", EPERM},
    /* raw I/O ports, obsolete or privileged interfaces */
    {"iopl", EPERM},
    {"ioperm", EPERM},
    {"lookup_dcookie", EPERM},
    {"nfsservctl", EPERM},
    {"uselib", EPERM},
    {"personality", EPERM},
    /* fanotify watches the whole filesystem, not just the qube's */
    {"fanotify_init", EPERM},
    /* 16-bit segments in the LDT: no modern program needs them, and the
     * code behind them has had privilege-escalation bugs */
    {"modify_ldt", EPERM},
};

/*
 * Calls newer than the libseccomp we build with (2.5.4 knows Linux 6.0's),
 * by their x86_64 numbers, where that libseccomp cannot name them: the
 * filter allows every call it does not list, so a new member of a family
 * denied above would otherwise pass.
 */
static const struct {
	const char *name;
	int err, x86_64_nr;
} deny_new[] = {
    /* Linux 6.15: open_tree and mount_setattr in one call (no mounting
     * after setup, above) */
    {"open_tree_attr", ENOSYS, 467},
};

int
sandbox_seccomp_build(void **ret)
{
	scmp_filter_ctx ctx;
	size_t i;
	int r;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (ctx == NULL)
		return -ENOMEM;
	/* a binary search over the call numbers, not a list: the rules
	 * below are many */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		goto out;
	for (i = 0; i < sizeof(deny) / sizeof(deny[0]); i++) {
		int nr = seccomp_syscall_resolve_name(deny[i].name);

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		r = seccomp_rule_add(
		    ctx, SCMP_ACT_ERRNO((unsigned)deny[i].err), nr, 0);
		if (r < 0)
			goto out;
	}
	for (i = 0; i < sizeof(deny_new) / sizeof(deny_new[0]); i++) {
		int nr = seccomp_syscall_resolve_name(deny_new[i].name);

#if defined(__x86_64__)
		if (nr == __NR_SCMP_ERROR)
			nr = deny_new[i].x86_64_nr;
#endif
		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(
		    ctx, SCMP_ACT_ERRNO((unsigned)deny_new[i].err), nr, 0);
		if (r < 0)
			goto out;
	}
	/*
	 * No new user namespaces inside a qube: they give back capabilities
	 * (mount, network admin) over new namespaces, a frequent path to
	 * kernel bugs.  clone3 passes its flags in memory, where a filter
	 * cannot look, so it reports ENOSYS and libc falls back to clone.
	 */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	if (r == 0)
		r = seccomp_rule_add(
		    ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		goto out;
#if defined(__x86_64__)
	/*
	 * The filter allows what it does not list, so a call the kernel gains
	 * later would pass unreviewed (as open_tree_attr did): those numbers
	 * report ENOSYS, as on an older kernel, which software falls back
	 * from.  Only for the native ABI (the others are killed as a whole).
	 */
	for (i = SANDBOX_SECCOMP_FIRST_UNREVIEWED;
	     i <= SANDBOX_SECCOMP_LAST_UNREVIEWED; i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), (int)i, 0);
		if (r < 0)
			goto out;
	}
#endif
	*ret = ctx;
	return 0;
out:
	seccomp_release(ctx);
	return r;
}

int
sandbox_seccomp_load(void)
{
	void *ctx;
	int r;

	if ((r = sandbox_seccomp_build(&ctx)) < 0)
		return r;
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}
