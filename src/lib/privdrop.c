/*
 * privdrop.c - the first step of confining a process that is about to
 * read a qube's bytes (privdrop.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/privdrop.h"

int
priv_drop(uid_t uid, gid_t gid, size_t log_max, pid_t die_with)
{
	struct rlimit core = {0, 0};
	struct stat st;

	if (getuid() == 0 || geteuid() == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			return -errno;
		if (uid != 0 && setuid(0) == 0)
			return -EPERM; /* root could come back */
	}
	/* after the ids changed, which clear it */
	if (die_with != 0 &&
	    (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
	        getppid() != die_with))
		return -ESRCH;
	tzset(); /* syslog's timestamps read the time zone once, now */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &core);
	/*
	 * Its log (stderr: for the admin side's processes bulkheadd's file
	 * for the qube) is the one file it writes.  What its own code logs about the qube is budgeted, but a
	 * process the qube took over is not: it may add log_max bytes to
	 * what is there, and then gets EFBIG (not SIGXFSZ).
	 */
	if (log_max > 0 && fstat(2, &st) == 0 && S_ISREG(st.st_mode)) {
		struct rlimit fsize, now;
		rlim_t lim = (rlim_t)st.st_size + log_max;

		/* never above a cap set before (priv_log_cap): the ids have
		 * changed, raising it would fail */
		if (getrlimit(RLIMIT_FSIZE, &now) == 0 &&
		    now.rlim_max != RLIM_INFINITY && now.rlim_max < lim)
			lim = now.rlim_max;
		fsize.rlim_cur = fsize.rlim_max = lim;
		(void)signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &fsize) < 0)
			return -errno;
	}
	return 0;
}

int
priv_log_cap(size_t file_max)
{
	struct rlimit fsize;
	struct stat st;

	if (fstat(2, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	/* a log already over the cap takes no more */
	fsize.rlim_cur = fsize.rlim_max = (rlim_t)st.st_size > file_max ?
	    (rlim_t)st.st_size :
	    (rlim_t)file_max;
	(void)signal(SIGXFSZ, SIG_IGN);
	return setrlimit(RLIMIT_FSIZE, &fsize) < 0 ? -errno : 0;
}

void
priv_log_uncap(void)
{
	struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY};

	if (geteuid() == 0)
		(void)setrlimit(RLIMIT_FSIZE, &inf);
}

void
priv_nobody(uid_t *ret_uid, gid_t *ret_gid)
{
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw;

	*ret_uid = 65534;
	*ret_gid = 65534;
	if (f == NULL)
		return;
	/* fgetpwent parses the file itself: no NSS modules to load */
	while ((pw = fgetpwent(f)) != NULL)
		if (strcmp(pw->pw_name, "nobody") == 0 && pw->pw_uid != 0 &&
		    pw->pw_gid != 0) {
			*ret_uid = pw->pw_uid;
			*ret_gid = pw->pw_gid;
			break;
		}
	(void)fclose(f);
}
