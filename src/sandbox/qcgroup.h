/*
 * qcgroup.h - a qube's cgroups: made by its launcher (bulkhead-sandbox
 * for a namespace qube, bulkhead-vm for a VM qube's QEMU) as children of
 * the launcher's own, named by cgroup.h's rule, with the qube's memory,
 * process and CPU limits; v1 controllers, or v2 where only that is
 * mounted.  Runs in the launcher, as root; no qube input.
 */
#ifndef BULKHEAD_SANDBOX_QCGROUP_H
#define BULKHEAD_SANDBOX_QCGROUP_H

#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define QCG_V1_MAX 4

struct qcg {
	char v1[QCG_V1_MAX][PATH_MAX]; /* memory, pids, cpu, freezer; "" */
	char v2[PATH_MAX];             /* the unified one, or "" */
	bool v2_born; /* in qcg_fork's child: made in v2 (no join there) */
};

/*
 * Make qube name's cgroups and set their limits (0: none): memory in MiB,
 * a pids limit, a CPU quota of vcpus CPUs.  Without any controller the
 * qube runs without limits, with a warning.  0 or -ENAMETOOLONG.
 */
int qcg_setup(struct qcg *c, const char *name, uint64_t memory_mib,
    uint32_t pids, uint32_t vcpus);
/*
 * fork(2) into the namespaces in flags (CLONE_NEW*): the child's pid in
 * the parent, 0 in the child, -errno.  With a cgroup v2 the child is
 * made in it (clone3, CLONE_INTO_CGROUP); the child still calls
 * qcg_join(c, 0) for the rest (v1, or v2 where that failed).  Call it
 * from a single-threaded process.
 */
pid_t qcg_fork(struct qcg *c, unsigned long flags);
/*
 * Move pid into the cgroups; failures are logged.  pid 0 is the caller,
 * which must be single-threaded: in v1 hierarchies only the calling
 * thread moves (the fast way, see qcgroup.c).
 */
void qcg_join(const struct qcg *c, pid_t pid);
void qcg_freeze(const struct qcg *c, bool freeze);
/* Kill whatever is left in them and remove them. */
void qcg_cleanup(struct qcg *c);

#endif
