/*
 * qcgroup.c - a qube's cgroups (qcgroup.h).  Runs in bulkhead-sandbox and
 * bulkhead-vm, as root; it writes only the cgroup files of the qube it
 * makes, and reads nothing from the qube but the pids in them at cleanup.
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cgroup.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sandbox/qcgroup.h"

static const char *const cg_ctrl[QCG_V1_MAX] = {
    "memory", "pids", "cpu", "freezer"};

int
qcg_setup(struct qcg *c, const char *name, uint64_t memory_mib, uint32_t pids,
    uint32_t vcpus)
{
	char v[64], cgname[64];
	int i, made = 0;

	memset(c, 0, sizeof(*c));
	if (cgroup_qube_name(cgname, sizeof(cgname), name, (int)getpid()) < 0)
		return -ENAMETOOLONG;
	for (i = 0; i < QCG_V1_MAX; i++) {
		if (cgroup_qube_dir(
		        cg_ctrl[i], cgname, c->v1[i], sizeof(c->v1[i])) < 0) {
			c->v1[i][0] = '\0';
			continue;
		}
		if (mkdir(c->v1[i], 0755) < 0 && errno != EEXIST) {
			c->v1[i][0] = '\0';
			continue;
		}
		made++;
	}
	if (made == 0 &&
	    cgroup_qube_dir("", cgname, c->v2, sizeof(c->v2)) == 0) {
		/* pure cgroup v2 */
		if (mkdir(c->v2, 0755) == 0 || errno == EEXIST) {
			/*
			 * Refused (EBUSY) in a cgroup other than the root
			 * that holds processes (bulkheadd moved itself and so
			 * us aside into CGROUP_SELF, but a login shell may
			 * be there): then the qube's cgroup has no such
			 * controllers and the limits below say so (bulkheadd
			 * warns at its start too).
			 */
			int r = cgroup_v2_enable();

			if (r < 0) {
				errno = -r;
				log_warn("enabling memory, pids and cpu for "
				         "the qube's cgroup");
			}
			made = 1;
		} else {
			c->v2[0] = '\0';
		}
	}
	if (made == 0) {
		log_warnx("no usable cgroup controllers: the qube has no "
		          "memory, CPU or process limits");
		return 0;
	}
	/* limits, v1 */
	if (memory_mib && c->v1[0][0]) {
		(void)snprintf(v, sizeof(v), "%llu",
		    (unsigned long long)memory_mib * 1024 * 1024);
		if (cgroup_write(c->v1[0], "memory.limit_in_bytes", v) < 0)
			log_warn("memory limit");
	}
	if (c->v1[1][0]) {
		(void)snprintf(v, sizeof(v), "%u", pids);
		if (cgroup_write(c->v1[1], "pids.max", v) < 0)
			log_warn("pids limit");
	}
	if (vcpus && c->v1[2][0]) {
		(void)snprintf(v, sizeof(v), "%u", vcpus * 100000);
		if (cgroup_write(c->v1[2], "cpu.cfs_period_us", "100000") < 0 ||
		    cgroup_write(c->v1[2], "cpu.cfs_quota_us", v) < 0)
			log_warn("cpu limit");
	}
	/* limits, v2: a failure is said, as in v1 (the qube runs without) */
	if (c->v2[0]) {
		if (memory_mib) {
			(void)snprintf(v, sizeof(v), "%llu",
			    (unsigned long long)memory_mib * 1024 * 1024);
			if (cgroup_write(c->v2, "memory.max", v) < 0)
				log_warn("memory limit");
		}
		(void)snprintf(v, sizeof(v), "%u", pids);
		if (cgroup_write(c->v2, "pids.max", v) < 0)
			log_warn("pids limit");
		if (vcpus) {
			(void)snprintf(
			    v, sizeof(v), "%u 100000", vcpus * 100000);
			if (cgroup_write(c->v2, "cpu.max", v) < 0)
				log_warn("cpu limit");
		}
	}
	return 0;
}

/*
 * Moving a whole process between cgroups takes the kernel's threadgroup
 * lock for writing, and the first such move after a quiet spell waits
 * for an RCU grace period: 7-15 ms here, most of a qube's start.  So a
 * qube's first process never moves as a process: in cgroup v2 it is
 * born in its cgroup (qcg_fork), in v1 it moves itself as a thread
 * (qcg_join), which skips that lock.
 */
pid_t
qcg_fork(struct qcg *c, unsigned long flags)
{
	struct clone_args a;
	pid_t pid;
	int cfd = -1, err;

	if (c->v2[0])
		cfd = open(c->v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd >= 0) {
		memset(&a, 0, sizeof(a));
		a.flags = (uint64_t)flags | CLONE_INTO_CGROUP;
		a.exit_signal = SIGCHLD;
		a.cgroup = (uint64_t)cfd;
		pid = (pid_t)syscall(SYS_clone3, &a, sizeof(a));
		err = errno;
		(void)close(cfd);
		if (pid == 0)
			c->v2_born = true;
		if (pid >= 0)
			return pid;
		/* without clone3 or CLONE_INTO_CGROUP (Linux < 5.7), or
		 * refused: the child joins by itself, the slow way */
		log_debug("clone3 into %s: %s; the child joins it", c->v2,
		    strerror(err));
	}
	/* fork(2) with flags: the raw call (glibc's clone() wants a stack
	 * and a function) */
	pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
	return pid < 0 ? -errno : pid;
}

void
qcg_join(const struct qcg *c, pid_t pid)
{
	const char *v1_file = pid == 0 ? "tasks" : "cgroup.procs";
	char v[32];
	int i;

	(void)snprintf(v, sizeof(v), "%d", (int)pid);
	/*
	 * v1, the caller itself: "0" written to "tasks" moves the calling
	 * thread alone, which the kernel does without its threadgroup
	 * lock; cgroup.procs (a whole process) takes that lock for
	 * writing, and the first writer after a quiet spell waits for an
	 * RCU grace period (7-15 ms measured here, most of a qube's
	 * start).  The thread is the whole process: the callers are
	 * single-threaded children that have not exec'd yet.  v2 has no
	 * such file for a process that is not threaded: cgroup.procs, unless
	 * qcg_fork made the caller there.
	 */
	for (i = 0; i < QCG_V1_MAX; i++)
		if (c->v1[i][0] && cgroup_write(c->v1[i], v1_file, v) < 0)
			log_warn("joining %s", c->v1[i]);
	if (c->v2[0] && !(pid == 0 && c->v2_born) &&
	    cgroup_write(c->v2, "cgroup.procs", v) < 0)
		log_warn("joining %s", c->v2);
}

void
qcg_freeze(const struct qcg *c, bool freeze)
{
	if (c->v1[3][0])
		(void)cgroup_write(
		    c->v1[3], "freezer.state", freeze ? "FROZEN" : "THAWED");
	if (c->v2[0])
		(void)cgroup_write(c->v2, "cgroup.freeze", freeze ? "1" : "0");
}

void
qcg_cleanup(struct qcg *c)
{
	char procs[PATH_MAX], line[32];
	int i, tries;

	qcg_freeze(c, false);
	for (i = 0; i < QCG_V1_MAX + 1; i++) {
		const char *dir = i < QCG_V1_MAX ? c->v1[i] : c->v2;

		if (dir[0] == '\0')
			continue;
		for (tries = 0; tries < 50; tries++) {
			FILE *f;
			bool any = false;

			if (str_printf(procs, sizeof(procs), "%s/cgroup.procs",
			        dir) < 0)
				break;
			f = fopen(procs, "re");
			if (f == NULL)
				break;
			while (fgets(line, sizeof(line), f)) {
				(void)kill(atoi(line), SIGKILL);
				any = true;
			}
			(void)fclose(f);
			if (!any && rmdir(dir) == 0)
				break;
			(void)usleep(20000);
		}
	}
}
