/*
 * cgroup.h - where a qube's cgroups live.  bulkhead-sandbox creates them
 * as children of its own cgroup (in v2, of the one above when it is in
 * CGROUP_SELF), named bulkhead-<qube>-<its pid> (unique on the host even
 * with several bulkheadd instances sharing a hierarchy), and bulkheadd,
 * whose child it is and which shares its cgroup, finds them by the same
 * rule.
 */
#ifndef BULKHEAD_CGROUP_H
#define BULKHEAD_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The calling process's cgroup in the v1 hierarchy holding controller
 * ctrl, or in the v2 hierarchy when ctrl is "".  0 or -errno.
 */
int cgroup_own(const char *ctrl, char *out, size_t n);

/*
 * The directory of qube name's cgroup for controller ctrl (v1) or, with
 * ctrl "", the unified v2 one.  0 or -errno; -ENOENT when that hierarchy
 * is not mounted.
 */
int cgroup_qube_dir(const char *ctrl, const char *name, char *out, size_t n);

/* v2: the leaf bulkheadd moves itself into (cgroup_v2_step_aside). */
#define CGROUP_SELF "bulkheadd.self"

/*
 * On a host with only cgroup v2, when the caller's cgroup is not the root:
 * move the caller into CGROUP_SELF below it, so that its cgroup holds no
 * process of ours and the controllers can be enabled there for the qubes'
 * cgroups, which cgroup_qube_dir() then makes beside CGROUP_SELF (what a
 * systemd service with Delegate=yes is expected to do).  Others in that
 * cgroup (a login shell) stay, and cgroup_v2_enable() still fails.  0 (also
 * when there is nothing to do) or -errno.  For bulkheadd, at its start.
 */
int cgroup_v2_step_aside(void);

/*
 * On a host with only cgroup v2, make the memory, pids and cpu controllers
 * available to the cgroups made below the caller's own (the qubes').  0
 * when they are, or on a host with v1 hierarchies (each controller its
 * own); -errno when the kernel refuses: -EBUSY where the caller's cgroup
 * is not the root and holds processes (it holds the caller), so qubes run
 * there without those limits.
 */
int cgroup_v2_enable(void);

/* Write val to the cgroup file dir/file: 0 or -errno. */
int cgroup_write(const char *dir, const char *file, const char *val);

/* The name above for qube qube run by launcher pid: "<qube>-<pid>". */
int cgroup_qube_name(char *out, size_t n, const char *qube, int launcher);

/*
 * Is qube name's cgroup frozen?  1 frozen, 0 not (or still freezing),
 * -errno when neither a v1 freezer nor v2 is there.
 */
int cgroup_qube_frozen(const char *name);

#endif
