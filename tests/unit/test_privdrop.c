/*
 * test_privdrop.c - priv_drop() (src/lib/privdrop.c), in children: as
 * root, the ids change for good and the groups go; no_new_privs, not
 * dumpable; with stderr a file, the log may grow by log_max and no more
 * (EFBIG, the process goes on); log_max 0 sets no limit.  priv_log_cap:
 * the file as a whole within a cap, kept by priv_drop, lifted by
 * priv_log_uncap.  Skipped (77) when not run as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/privdrop.h"
#include "unit.h"

#define ID 65534

/* Run fn in a child; its exit status (0: every check held). */
static int
in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int
drop_ids(void *arg)
{
	gid_t groups[4];
	uid_t r, e, s;
	gid_t gr, ge, gs;

	(void)arg;
	if (priv_drop(ID, ID, 0, 0) < 0)
		return 1;
	if (getresuid(&r, &e, &s) < 0 || r != ID || e != ID || s != ID)
		return 2;
	if (getresgid(&gr, &ge, &gs) < 0 || gr != ID || ge != ID || gs != ID)
		return 3;
	if (getgroups(4, groups) != 0)
		return 4;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return 5;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 6;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 7;
	return 0;
}

static int
drop_die_with(void *arg)
{
	int sig = 0;

	(void)arg;
	/* a parent that is not ours: refused */
	if (priv_drop(ID, ID, 0, getppid() + 1) != -ESRCH)
		return 1;
	if (priv_drop(ID, ID, 0, getppid()) < 0)
		return 2;
	/* set after the ids changed (which clear it) */
	if (prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) < 0 || sig != SIGKILL)
		return 3;
	return 0;
}

static void
test_die_with(void **state)
{
	(void)state;
	assert_int_equal(in_child(drop_die_with, NULL), 0);
}

static void
test_ids(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(drop_ids, NULL), 0);
}

struct logcase {
	const char *path;
	size_t log_max;
};

static int
drop_log(void *arg)
{
	const struct logcase *lc = arg;
	char buf[100];
	struct rlimit rl;
	int fd;

	fd = open(lc->path, O_WRONLY | O_APPEND);
	if (fd < 0 || dup2(fd, 2) < 0)
		return 1;
	if (priv_drop(ID, ID, lc->log_max, 0) < 0)
		return 2;
	if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 3;
	memset(buf, 'x', sizeof(buf));
	if (lc->log_max == 0)
		return rl.rlim_cur == RLIM_INFINITY &&
		        write(2, buf, sizeof(buf)) == (ssize_t)sizeof(buf) ?
		    0 :
		    4;
	/* 10 bytes there already: 10 + log_max in all */
	if (rl.rlim_cur != 10 + lc->log_max)
		return 5;
	if (write(2, buf, lc->log_max) != (ssize_t)lc->log_max)
		return 6;
	if (write(2, buf, 1) != -1 || errno != EFBIG)
		return 7;
	return 0;
}

static void
test_log_bound(void **state)
{
	char *dir = unit_tmpdir(), *p = unit_path(dir, "log");
	struct logcase lc = {.path = p, .log_max = 50};
	struct stat st;

	(void)state;
	unit_write_file(dir, "log", "0123456789", 0644);
	assert_int_equal(in_child(drop_log, &lc), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 60);
	/* no limit asked: none set */
	lc.log_max = 0;
	assert_int_equal(in_child(drop_log, &lc), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 160);
	free(p);
	unit_rmtree(dir);
}

/*
 * priv_log_cap: the log file as a whole stays within the cap, for this
 * process and what it forks; priv_drop keeps within it; a child that
 * execs a local service lifts it (priv_log_uncap, as root).
 */
static int
cap_log(void *arg)
{
	const char *path = arg;
	char buf[100];
	struct rlimit rl;
	int fd, status;
	pid_t pid;

	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0 || dup2(fd, 2) < 0)
		return 1;
	memset(buf, 'x', sizeof(buf));
	/* 10 bytes there already: 40 in all */
	if (priv_log_cap(40) < 0)
		return 2;
	if (write(2, buf, 30) != 30 || write(2, buf, 1) != -1 || errno != EFBIG)
		return 3;
	pid = fork();
	if (pid == 0) {
		/* raising a limit takes CAP_SYS_RESOURCE, which root in some
		 * containers lacks (these machines': then it stays) */
		bool can =
		    prctl(PR_CAPBSET_READ, CAP_SYS_RESOURCE, 0, 0, 0) == 1;

		priv_log_uncap();
		if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(1);
		_exit(can ? rl.rlim_cur != RLIM_INFINITY ||
		            rl.rlim_max != RLIM_INFINITY :
		            rl.rlim_cur != 40);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return 4;
	/* more for this process's own lines: never past the cap */
	if (priv_drop(ID, ID, 1000, 0) < 0 ||
	    getrlimit(RLIMIT_FSIZE, &rl) < 0 || rl.rlim_cur != 40 ||
	    rl.rlim_max != 40)
		return 5;
	return 0;
}

/* A log already over the cap takes nothing more; a terminal, no cap. */
static int
cap_full_log(void *arg)
{
	const char *path = arg;
	struct rlimit rl;
	int fd;

	fd = open("/dev/null", O_WRONLY);
	if (fd < 0 || dup2(fd, 2) < 0)
		return 1;
	if (priv_log_cap(40) < 0 || getrlimit(RLIMIT_FSIZE, &rl) < 0 ||
	    rl.rlim_cur != RLIM_INFINITY)
		return 2;
	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0 || dup2(fd, 2) < 0)
		return 3;
	if (priv_log_cap(40) < 0 || write(2, "x", 1) != -1 || errno != EFBIG)
		return 4;
	return 0;
}

static void
test_log_cap(void **state)
{
	char *dir = unit_tmpdir(), *p = unit_path(dir, "log");
	struct stat st;

	(void)state;
	if (geteuid() != 0)
		skip();
	unit_write_file(dir, "log", "0123456789", 0644);
	assert_int_equal(in_child(cap_log, p), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 40);
	unit_write_file(dir, "log",
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "4567890123456789",
	    0644);
	assert_int_equal(in_child(cap_full_log, p), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 80);
	free(p);
	unit_rmtree(dir);
}

static void
test_nobody(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t uid = 0;
	gid_t gid = 0;

	(void)state;
	priv_nobody(&uid, &gid);
	/* this machine's files are its password database: the same ids as
	 * NSS gives (Debian: 65534/65534), never root's */
	assert_non_null(pw);
	assert_int_equal(uid, pw->pw_uid);
	assert_int_equal(gid, pw->pw_gid);
	assert_true(uid != 0 && gid != 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_die_with),
	    cmocka_unit_test(test_log_bound),
	    cmocka_unit_test(test_log_cap),
	    cmocka_unit_test(test_nobody),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
