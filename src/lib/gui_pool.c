/*
 * gui_pool.c - check and make the sealed memfd pool of a qube's window
 * buffers (gui_pool.h).
 *
 * gui_pool_check() runs in the per-qube GUI validator (the qube's GUI uid
 * in the GUI domain) on a pool fd that came from the admin side or from
 * the qube's agent (there gui_pool_check_qube(), stricter): the fd is
 * untrusted until it passes.  gui_pool_make()
 * runs on the producing side (the agent, or the launcher that gives the
 * same memfd to QEMU's ivshmem-plain) and in tests.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <unistd.h>

#include "lib/gui_pool.h"
#include "lib/proto/gui.h"

int
gui_pool_check(int fd, size_t *ret_size)
{
	struct statfs sfs;
	struct stat st;
	int seals;

	/*
	 * F_GET_SEALS fails (EINVAL) on anything but shmem and hugetlbfs
	 * files: pipes, sockets, devices such as /dev/zero, disk and FUSE
	 * files.  Only those two can be sealed, and only sealed sizes are
	 * safe to read from without SIGBUS (hugetlbfs is refused below).
	 */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return errno == EINVAL ? -EINVAL : -errno;
	/*
	 * Seals are never removed, so these hold as long as the fd lives.
	 * A tmpfs file or a memfd made without MFD_ALLOW_SEALING reports
	 * only F_SEAL_SEAL, and is refused here.
	 */
	if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
	    (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EPERM;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	/*
	 * shmem only.  hugetlbfs files take the same seals, but neither
	 * seal stops their owner from punching a hole (fallocate), which
	 * also drops the hole's huge-page reservation: our next read there
	 * needs a free huge page, and with none left it is SIGBUS, in the
	 * core or the X server.  A shmem hole is refilled with a fresh
	 * page instead.  No pool of ours is hugetlbfs.
	 */
	if (sfs.f_type != TMPFS_MAGIC)
		return -EINVAL;
	if (st.st_size <= 0 || (uint64_t)st.st_size % GUI_PAGE_SIZE != 0)
		return -EINVAL;
	if ((uint64_t)st.st_size > GUI_POOL_MAX)
		return -EFBIG;
	*ret_size = (size_t)st.st_size;
	return 0;
}

int
gui_pool_check_qube(int fd, size_t *ret_size)
{
	struct stat st;
	size_t size;
	int seals, r;

	r = gui_pool_check(fd, &size);
	if (r < 0)
		return r;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -errno;
	if (!(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		return -EPERM;
	/* after the seal: no page can be freed from here on */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_blocks < 0 || (uint64_t)st.st_blocks * 512u < size)
		return -ENODATA;
	*ret_size = size;
	return 0;
}

static int
pool_make(size_t size, bool prefault, int *ret_fd)
{
	int fd, r;

	if (size == 0 || size % GUI_PAGE_SIZE != 0 || size > GUI_POOL_MAX)
		return -EINVAL;
	fd = memfd_create("bulkhead-gui-pool", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		goto out_close_fd;
	/* allocate now, in our cgroup, rather than at the first write */
	if (prefault && fallocate(fd, 0, 0, (off_t)size) < 0)
		goto out_close_fd;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		goto out_close_fd;
	*ret_fd = fd;
	return 0;

out_close_fd:
	r = -errno;
	(void)close(fd);
	return r;
}

int
gui_pool_make(size_t size, int *ret_fd)
{
	return pool_make(size, true, ret_fd);
}

int
gui_pool_make_lazy(size_t size, int *ret_fd)
{
	return pool_make(size, false, ret_fd);
}

int
gui_pool_seal_readonly(int fd)
{
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0)
		return -errno;
	return 0;
}
