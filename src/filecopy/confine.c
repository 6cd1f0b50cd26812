/*
 * confine.c - what qfile-unpacker does before it reads its first byte of
 * another qube's stream: no new privileges, no core dumps, file system
 * access only beneath the incoming directory (Landlock, where the kernel
 * has it), and a seccomp allowlist of the calls unpacking needs.
 *
 * The unpacker already resolves every path beneath the directory with
 * RESOLVE_BENEATH; this is the second wall, for a bug in it.
 */
#include <errno.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "filecopy/confine.h"
#include "lib/seccomp_util.h"
#include "lib/util.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* Landlock: 0, or -errno (-ENOSYS/-EOPNOTSUPP: not in this kernel). */
static int
landlock_beneath(int dirfd)
{
	struct landlock_ruleset_attr attr;
	struct landlock_path_beneath_attr pb;
	long abi, fd;
	uint64_t all = LANDLOCK_ACCESS_FS_EXECUTE |
	    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
	/* what unpacking does beneath the directory, and nothing else */
	uint64_t allow = LANDLOCK_ACCESS_FS_WRITE_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
	    LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM;
	int r;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return -errno;
	if (abi >= 2) {
		all |= LANDLOCK_ACCESS_FS_REFER;
		allow |= LANDLOCK_ACCESS_FS_REFER;
	}
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = all;
	fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0)
		return -errno;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = allow;
	pb.parent_fd = dirfd;
	if (syscall(SYS_landlock_add_rule, (int)fd, LANDLOCK_RULE_PATH_BENEATH,
	        &pb, 0) < 0 ||
	    syscall(SYS_landlock_restrict_self, (int)fd, 0) < 0) {
		r = -errno;
		(void)close((int)fd);
		return r;
	}
	(void)close((int)fd);
	return 0;
}

/*
 * The calls unpacking makes, each group with why.  Anything else kills
 * the process: a compromised unpacker can do no more than unpack.
 */
static const char *const allowed[] = {
    /* the stream in, the reply and messages out */
    "read",
    "write",
    "writev",
    "close",
    /* io_write_all tries send() first (stdout may be a socket) */
    "sendto",
    /* resolving beneath the directory; making entries there */
    "openat",
    "openat2",
    "mkdirat",
    "symlinkat",
    "linkat",
    "renameat2",
    "unlinkat",
    "fchmod",
    "utimensat",
    "newfstatat",
    "fstat",
    "statx",
    /* free space before a large file; writeback started while a large
     * file is written, and the flush at the end */
    "fstatfs",
    "sync_file_range",
    "syncfs",
    /* the flushes started behind a large file (unpack.c, FLUSH_STEP):
     * Linux AIO's fdatasync, on the files this process writes */
    "io_setup",
    "io_submit",
    "io_getevents",
    "io_destroy",
    /* memory (malloc) */
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "madvise",
    "mprotect",
    /* the temporary name's pid; time in messages */
    "getpid",
    "clock_gettime",
    "gettimeofday",
    /* signals, stdio locks, the sanitizers' alternate stack */
    "rt_sigreturn",
    "rt_sigprocmask",
    "futex",
    "sigaltstack",
    /* leaving */
    "exit",
    "exit_group",
};

int
confine_unpacker(int dirfd, bool *ret_landlocked)
{
	struct rlimit none = {0, 0};
	int r;

	*ret_landlocked = false;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	(void)setrlimit(RLIMIT_CORE, &none);
	r = landlock_beneath(dirfd);
	if (r == 0)
		*ret_landlocked = true;
	else if (r != -ENOSYS && r != -EOPNOTSUPP)
		return r;
	return seccomp_util_allow_only(allowed, ARRAY_SIZE(allowed));
}
