/*
 * test_qcgroup.c - how a qube's first process gets into its cgroups
 * (src/sandbox/qcgroup.c), on this host's real hierarchies, in cgroups
 * the test makes and removes: qcg_fork's child is born in a cgroup v2
 * (clone3, CLONE_INTO_CGROUP) and knows it; in v1 the child's
 * qcg_join(c, 0) moves it (and the processes it makes after) into each
 * hierarchy; a v2 "cgroup" that is not one falls back to a plain fork
 * whose child joins by itself.  Needs root and the hierarchies: each
 * test is skipped, saying why, where they are missing.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cgroup.h"
#include "lib/util.h"
#include "sandbox/qcgroup.h"
#include "unit.h"

/* Where the cgroup2 hierarchy is mounted ("" if it is not). */
static void
cgroup2_mount(char *out, size_t n)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	out[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* "... mountpoint opts ... - fstype source superopts" */
		char *dash = strstr(line, " - "), *mp;
		int i;

		if (dash == NULL || strncmp(dash + 3, "cgroup2 ", 8) != 0)
			continue;
		mp = line;
		for (i = 0; i < 4 && mp; i++) {
			mp = strchr(mp, ' ');
			if (mp)
				mp++;
		}
		if (mp && strchr(mp, ' ')) {
			*strchr(mp, ' ') = '\0';
			(void)str_copy(out, n, mp);
			break;
		}
	}
	(void)fclose(f);
}

/* /proc/PID/cgroup's line for ctrl ("" the v2 one): its path, or "". */
static void
cgroup_of(pid_t pid, const char *ctrl, char *out, size_t n)
{
	char p[64], line[4096];
	FILE *f;

	out[0] = '\0';
	(void)snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	f = fopen(p, "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2, *nl;
		bool match;

		if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		*c2 = '\0';
		if ((nl = strchr(c2 + 1, '\n')) != NULL)
			*nl = '\0';
		match = ctrl[0] == '\0' ? c1[1] == '\0' :
		                          strstr(c1 + 1, ctrl) != NULL;
		if (match) {
			(void)str_copy(out, n, c2 + 1);
			break;
		}
	}
	(void)fclose(f);
}

static bool
ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && strcmp(s + a - b, tail) == 0;
}

/* The child's exit status (its code), after it has gone. */
static int
wait_code(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* A cgroup of our own under the v2 hierarchy, in c->v2; false if none. */
static bool
make_v2(struct qcg *c, char *name, size_t n)
{
	char mnt[PATH_MAX], own[PATH_MAX];

	memset(c, 0, sizeof(*c));
	if (geteuid() != 0)
		return false;
	cgroup2_mount(mnt, sizeof(mnt));
	if (mnt[0] == '\0' || cgroup_own("", own, sizeof(own)) < 0)
		return false;
	(void)snprintf(name, n, "/bulkhead-unit-%d", (int)getpid());
	if (str_printf(c->v2, sizeof(c->v2), "%s%s%s", mnt,
	        strcmp(own, "/") ? own : "", name) < 0 ||
	    mkdir(c->v2, 0755) < 0)
		return false;
	return true;
}

static void
test_fork_born_in_v2(void **state)
{
	struct qcg c;
	char name[64], where[PATH_MAX];
	pid_t pid;

	(void)state;
	if (!make_v2(&c, name, sizeof(name))) {
		print_message("# no writable cgroup2 hierarchy here (or not "
		              "root): skipped\n");
		skip();
	}
	/* as the launcher does: new user and pid namespaces */
	pid = qcg_fork(&c, CLONE_NEWUSER | CLONE_NEWPID);
	if (pid == 0) {
		/* born there, told so; pid 1 of its namespace; no join */
		if (!c.v2_born || getpid() != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	cgroup_of(pid, "", where, sizeof(where));
	assert_true(ends_with(where, name));
	(void)kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(rmdir(c.v2), 0);
}

static void
test_fork_falls_back(void **state)
{
	struct qcg c;
	char *dir = unit_tmpdir();
	pid_t pid;

	(void)state;
	/* a "cgroup" that is a plain directory: clone3 refuses it, the
	 * child comes from a plain fork and knows it is not in */
	memset(&c, 0, sizeof(c));
	assert_int_equal(str_copy(c.v2, sizeof(c.v2), dir), 0);
	pid = qcg_fork(&c, 0);
	if (pid == 0)
		_exit(c.v2_born ? 1 : 0);
	assert_true(pid > 0);
	assert_int_equal(wait_code(pid), 0);
	unit_rmtree(dir);
}

static void
test_v1_join_moves_the_child(void **state)
{
	static const char *const ctrl[] = {"pids", "memory"};
	struct qcg c;
	char own[PATH_MAX], where[PATH_MAX], tail[64];
	int i, made = 0, p[2];
	pid_t pid, grandchild = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	(void)snprintf(tail, sizeof(tail), "/bulkhead-unit-%d", (int)getpid());
	for (i = 0; i < 2 && geteuid() == 0; i++) {
		char root[64];

		(void)snprintf(
		    root, sizeof(root), "/sys/fs/cgroup/%s", ctrl[i]);
		if (access(root, W_OK) < 0 ||
		    cgroup_own(ctrl[i], own, sizeof(own)) < 0 ||
		    str_printf(c.v1[i], sizeof(c.v1[i]), "%s%s%s", root,
		        strcmp(own, "/") ? own : "", tail) < 0 ||
		    mkdir(c.v1[i], 0755) < 0) {
			c.v1[i][0] = '\0';
			continue;
		}
		made++;
	}
	if (made == 0) {
		print_message("# no v1 pids or memory hierarchy here (or not "
		              "root): skipped\n");
		skip();
	}
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = qcg_fork(&c, CLONE_NEWUSER);
	if (pid == 0) {
		pid_t g;

		/* as the qube's first process: join, then make one */
		qcg_join(&c, 0);
		g = fork();
		if (g == 0) {
			pause();
			_exit(0);
		}
		if (write(p[1], &g, sizeof(g)) != (ssize_t)sizeof(g))
			_exit(3);
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	(void)close(p[1]);
	assert_int_equal(read(p[0], &grandchild, sizeof(grandchild)),
	    (ssize_t)sizeof(grandchild));
	(void)close(p[0]);
	for (i = 0; i < 2; i++) {
		if (c.v1[i][0] == '\0')
			continue;
		cgroup_of(pid, ctrl[i], where, sizeof(where));
		assert_true(ends_with(where, tail));
		cgroup_of(grandchild, ctrl[i], where, sizeof(where));
		assert_true(ends_with(where, tail));
	}
	(void)kill(grandchild, SIGKILL);
	(void)kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	/* the grandchild is reparented to init: wait until the cgroup
	 * empties (it is removable then) */
	for (i = 0; i < 2; i++) {
		int tries;

		if (c.v1[i][0] == '\0')
			continue;
		for (tries = 0; tries < 200 && rmdir(c.v1[i]) < 0; tries++)
			(void)usleep(10000);
		assert_int_equal(access(c.v1[i], F_OK), -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fork_born_in_v2),
	    cmocka_unit_test(test_fork_falls_back),
	    cmocka_unit_test(test_v1_join_moves_the_child),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
