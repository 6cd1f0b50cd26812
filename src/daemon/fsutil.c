/*
 * fsutil.c - what bulkheadd does with files and processes: removing the
 * trees it owns (a qube's volatile and runtime directories, a removed
 * qube's volumes), and starting its helper programs with their logs.
 *
 * The trees hold files a qube made (symlinks, deep nesting, mounts left by
 * a crash): a child runs rm -rf --one-file-system, which follows no
 * symlink, crosses no mount and handles any depth, so none of that can
 * hurt the daemon itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/bulkheadd.h"
#include "lib/util.h"

void
daemon_child_init(int keep)
{
	sigset_t none;

	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	/* close_range may be missing (ENOSYS): then every fd stays, as
	 * before; most are close-on-exec */
	if (keep < 3) {
		(void)syscall(SYS_close_range, 3U, ~0U, 0U);
	} else {
		if (keep > 3)
			(void)syscall(
			    SYS_close_range, 3U, (unsigned)keep - 1, 0U);
		(void)syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U);
	}
}

int
fs_copy_tree_in_child(pid_t daemon, const char *from, const char *to)
{
	pid_t self = getpid(), cp;
	int st = 1;

	/*
	 * The copy ends with bulkheadd: this child when bulkheadd dies, cp
	 * when this child does.  A restarted bulkheadd removes what it left
	 * (VOL.snap-N.new, a clone's volume) and copies again, with no cp of
	 * before still writing into the same place.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	    getppid() != daemon)
		return 1;
	cp = fork();
	if (cp == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
		    getppid() != self)
			_exit(127);
		execl("/bin/cp", "cp", "-a", "--reflink=auto", "--", from, to,
		    (char *)NULL);
		_exit(127);
	}
	while (cp > 0 && waitpid(cp, &st, 0) < 0 && errno == EINTR)
		;
	return cp > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

int
fs_remove_tree(const char *path)
{
	struct stat st;
	pid_t pid;
	int status;

	/* nothing there (a first start): no rm to start and wait for */
	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		daemon_child_init(-1);
		execl("/bin/rm", "rm", "-rf", "--one-file-system", "--", path,
		    (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

void
fs_remove_tree_async(const char *path)
{
	pid_t pid = fork();

	/* the loop's SIGCHLD handler reaps it */
	if (pid == 0) {
		daemon_child_init(-1);
		execl("/bin/rm", "rm", "-rf", "--one-file-system", "--", path,
		    (char *)NULL);
		_exit(127);
	}
}

int
fs_move_into(const char *path, const char *dir, const char *name)
{
	char to[PATH_MAX];
	struct stat st;

	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	if (dir == NULL || dir[0] == '\0')
		return -ENOENT;
	if (str_printf(to, sizeof(to), "%s/%s", dir, name) < 0)
		return -ENAMETOOLONG;
	return rename(path, to) < 0 ? -errno : 0;
}

int
fs_remove_tree_aside(const char *path, const char *dir, const char *tag)
{
	char trash[PATH_MAX];
	struct stat st;

	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	if (str_printf(trash, sizeof(trash), "%s/.removed-%s-%llu", dir, tag,
	        (unsigned long long)now_ns()) < 0 ||
	    rename(path, trash) < 0)
		return fs_remove_tree(path);
	fs_remove_tree_async(trash);
	return 0;
}

pid_t
spawn_logged(const char *prog, char *const argv[], const struct spawn_opts *o)
{
	pid_t pid = fork();
	size_t i;

	if (pid != 0)
		return pid < 0 ? -errno : pid;
	/* the child: only system calls and exec from here (and
	 * o->before_exec, whose caller vouches for it) */
	{
		sigset_t none;
		int lfd;

		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		/*
		 * Nothing of bulkheadd's but what the child is given: its
		 * stdin (the admin's terminal when run by hand) would reach a
		 * qube's init and, through it, the qube.
		 */
		if (fd_stdin_null() < 0)
			_exit(127);
		lfd = o->log ?
		    open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		        0600) :
		    -1;
		if (lfd >= 0) {
			(void)dup2(lfd, 1);
			(void)dup2(lfd, 2);
		}
		/* dup2 onto itself keeps close-on-exec: clear it then */
		if (o->fd3 >= 0 &&
		    (o->fd3 == 3 ? fcntl(3, F_SETFD, 0) : dup2(o->fd3, 3)) < 0)
			_exit(127);
		/* every other fd: close-on-exec already, closed here too */
		(void)syscall(SYS_close_range, o->fd3 >= 0 ? 4U : 3U, ~0U, 0U);
		(void)setsid(); /* its own session and process group */
		if (o->as != NULL &&
		    (setgroups(0, NULL) < 0 || setgid(o->as->pw_gid) < 0 ||
		        setuid(o->as->pw_uid) < 0))
			_exit(126);
		for (i = 0; o->unset && o->unset[i]; i++)
			(void)unsetenv(o->unset[i]);
		for (i = 0; o->env && o->env[i]; i += 2)
			(void)setenv(o->env[i], o->env[i + 1], 1);
		if (o->before_exec != NULL &&
		    o->before_exec(o->before_exec_arg) < 0)
			_exit(1);
		execv(prog, argv);
		_exit(127);
	}
}
