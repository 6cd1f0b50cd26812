/*
 * fsutil.c - removing the trees bulkheadd owns (a qube's volatile and
 * runtime directories, a removed qube's volumes).
 *
 * The trees hold files a qube made (symlinks, deep nesting, mounts left by
 * a crash): a child runs rm -rf --one-file-system, which follows no
 * symlink, crosses no mount and handles any depth, so none of that can
 * hurt the daemon itself.
 */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/bulkheadd.h"

int
fs_remove_tree(const char *path)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", "--one-file-system", "--", path,
		    (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}
