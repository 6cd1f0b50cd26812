/*
 * test_gui_pool.c - the pool fd checks (gui_pool.c): a sealed memfd made
 * by gui_pool_make() passes; pipes, sockets, /dev/zero, disk and tmpfs
 * files, hugetlbfs memfds, memfds without seals or with only one of SHRINK
 * and GROW, and sizes that are empty, unaligned or over the cap fail.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/gui_pool.h"
#include "lib/proto/gui.h"
#include "unit.h"

/* A memfd of size bytes with the given seals (flags: memfd_create's). */
static int
memfd_with(unsigned flags, off_t size, int seals)
{
	int fd = memfd_create("test-pool", MFD_CLOEXEC | flags);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	if (seals != 0)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

static int
check(int fd)
{
	size_t size = 12345;
	int r = gui_pool_check(fd, &size);

	if (r < 0)
		assert_int_equal(size, 12345); /* ret_ only on success */
	return r;
}

static void
test_sealed_memfd(void **state)
{
	size_t size = 0;
	int fd = -1;

	(void)state;
	assert_int_equal(gui_pool_make((size_t)64 * 1024, &fd), 0);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(gui_pool_check(fd, &size), 0);
	assert_int_equal(size, 64 * 1024);
	/* the seals hold: no shrinking, no growing */
	assert_int_equal(ftruncate(fd, 4096), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fd, (off_t)128 * 1024), -1);
	assert_int_equal(errno, EPERM);
	unit_close(&fd);
	/* the cap itself (sparse: ftruncate only) */
	fd = memfd_with(MFD_ALLOW_SEALING, (off_t)GUI_POOL_MAX,
	    F_SEAL_SHRINK | F_SEAL_GROW);
	assert_int_equal(gui_pool_check(fd, &size), 0);
	assert_int_equal(size, GUI_POOL_MAX);
	unit_close(&fd);
}

/* The lazy pool: the same checks pass, and no page is allocated until
 * one is written (the writer's cgroup pays); gui_pool_make's are all
 * allocated at once. */
static void
test_lazy(void **state)
{
	struct stat st;
	size_t size = 0;
	int fd = -1;

	(void)state;
	assert_int_equal(gui_pool_make_lazy((size_t)256 * 1024, &fd), 0);
	assert_int_equal(gui_pool_check(fd, &size), 0);
	assert_int_equal(size, 256 * 1024);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_blocks, 0);
	assert_int_equal(pwrite(fd, "x", 1, 8192), 1);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(st.st_blocks > 0 && st.st_blocks < 256 * 1024 / 512);
	unit_close(&fd);
	assert_int_equal(gui_pool_make((size_t)256 * 1024, &fd), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_blocks, 256 * 1024 / 512);
	unit_close(&fd);
	assert_int_equal(gui_pool_make_lazy(4095, &fd), -EINVAL);
}

static void
test_not_shmem(void **state)
{
	int p[2], s[2], fd;
	char *dir, *path;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(check(p[0]), -EINVAL);
	assert_int_equal(check(p[1]), -EINVAL);
	unit_close(&p[0]);
	unit_close(&p[1]);
	unit_socketpair(s);
	assert_int_equal(check(s[0]), -EINVAL);
	unit_close(&s[0]);
	unit_close(&s[1]);
	fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(check(fd), -EINVAL);
	unit_close(&fd);
	/* a file in the test's temporary directory (a disk, or tmpfs:
	 * either way refused) */
	dir = unit_tmpdir();
	unit_write_file(dir, "pool", "", 0600);
	path = unit_path(dir, "pool");
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	assert_true(check(fd) == -EINVAL || check(fd) == -EPERM);
	unit_close(&fd);
	free(path);
	unit_rmtree(dir);
	/* a closed fd */
	assert_int_equal(check(fd), -EBADF);
}

static void
test_tmpfs_file(void **state)
{
	char path[] = "/dev/shm/bulkhead-test-pool-XXXXXX";
	struct statfs sfs;
	int fd;

	(void)state;
	if (statfs("/dev/shm", &sfs) < 0 || sfs.f_type != TMPFS_MAGIC) {
		/* visible, not silent */
		(void)fprintf(stderr, "# skip: /dev/shm is not tmpfs\n");
		return;
	}
	fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	/* tmpfs files report only F_SEAL_SEAL and cannot gain more */
	assert_int_equal(check(fd), -EPERM);
	unit_close(&fd);
}

/*
 * A hugetlbfs memfd takes SHRINK and GROW like a shmem one, but a hole its
 * owner punches gives back the hole's reservation: reading it then needs
 * a free huge page, and without one it is SIGBUS.  Refused, by file
 * system, whether or not this host has huge pages.
 */
static void
test_hugetlbfs(void **state)
{
	int fd;

	(void)state;
	fd = memfd_create(
	    "test-pool", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);
	if (fd < 0) {
		/* visible, not silent */
		(void)fprintf(stderr, "# skip: no hugetlbfs memfd: %s\n",
		    strerror(errno));
		return;
	}
	/* one default-size huge page (2 MiB on x86-64): a size the old
	 * check took (a multiple of 4096, under the cap) */
	if (ftruncate(fd, (off_t)2 << 20) < 0) {
		(void)fprintf(stderr, "# skip: hugetlbfs ftruncate: %s\n",
		    strerror(errno));
		unit_close(&fd);
		return;
	}
	assert_int_equal(
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	assert_int_equal(fcntl(fd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW),
	    F_SEAL_SHRINK | F_SEAL_GROW);
	assert_int_equal(check(fd), -EINVAL);
	unit_close(&fd);
}

static int
check_qube(int fd)
{
	size_t size = 12345;
	int r = gui_pool_check_qube(fd, &size);

	if (r < 0)
		assert_int_equal(size, 12345); /* ret_ only on success */
	return r;
}

/*
 * A pool the qube sends itself (POOL): also a write seal (else its owner
 * punches holes) and every page allocated (else the GUI domain's reads
 * allocate them, charged to the GUI domain).  The agent's pool
 * (gui_pool_make, then gui_pool_seal_readonly) passes.
 */
static void
test_qube_pool(void **state)
{
	size_t size = 0;
	int fd;

	(void)state;
	/* the agent's: allocated, then sealed read-only */
	assert_int_equal(gui_pool_make((size_t)64 * 1024, &fd), 0);
	assert_int_equal(gui_pool_seal_readonly(fd), 0);
	assert_int_equal(gui_pool_check_qube(fd, &size), 0);
	assert_int_equal(size, 64 * 1024);
	unit_close(&fd);
	/* allocated, SHRINK | GROW only: a hole could be punched later
	 * (gui_pool_check, the admin side's rule, takes it) */
	assert_int_equal(gui_pool_make((size_t)64 * 1024, &fd), 0);
	assert_int_equal(check(fd), 0);
	assert_int_equal(check_qube(fd), -EPERM);
	/* ... and is punched */
	assert_int_equal(
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096),
	    0);
	assert_int_equal(
	    fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL), 0);
	assert_int_equal(check_qube(fd), -ENODATA);
	unit_close(&fd);
	/* sealed, never allocated (the lazy pool, or a qube's sparse one) */
	assert_int_equal(gui_pool_make_lazy((size_t)64 * 1024, &fd), 0);
	assert_int_equal(gui_pool_seal_readonly(fd), 0);
	assert_int_equal(check(fd), 0);
	assert_int_equal(check_qube(fd), -ENODATA);
	unit_close(&fd);
	/* F_SEAL_WRITE does as well as F_SEAL_FUTURE_WRITE */
	fd = memfd_with(MFD_ALLOW_SEALING, 8192, 0);
	assert_int_equal(fallocate(fd, 0, 0, 8192), 0);
	assert_int_equal(
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE),
	    0);
	assert_int_equal(check_qube(fd), 0);
	/* and with it, no hole can be punched any more */
	assert_int_equal(
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096),
	    -1);
	assert_int_equal(errno, EPERM);
	unit_close(&fd);
	/* what gui_pool_check refuses, this refuses */
	fd = memfd_with(MFD_ALLOW_SEALING, 4096, 0);
	assert_int_equal(check_qube(fd), -EPERM);
	unit_close(&fd);
	assert_int_equal(check_qube(fd), -EBADF);
}

static void
test_seals(void **state)
{
	int fd;

	(void)state;
	/* sealable but unsealed */
	fd = memfd_with(MFD_ALLOW_SEALING, 4096, 0);
	assert_int_equal(check(fd), -EPERM);
	unit_close(&fd);
	/* not sealable at all (F_SEAL_SEAL from the start) */
	fd = memfd_with(0, 4096, 0);
	assert_int_equal(check(fd), -EPERM);
	unit_close(&fd);
	/* only one of the two */
	fd = memfd_with(MFD_ALLOW_SEALING, 4096, F_SEAL_SHRINK);
	assert_int_equal(check(fd), -EPERM);
	unit_close(&fd);
	fd = memfd_with(MFD_ALLOW_SEALING, 4096, F_SEAL_GROW);
	assert_int_equal(check(fd), -EPERM);
	unit_close(&fd);
	/* F_SEAL_SEAL without the two: refused all the same */
	fd = memfd_with(MFD_ALLOW_SEALING, 4096, F_SEAL_GROW | F_SEAL_SEAL);
	assert_int_equal(check(fd), -EPERM);
	unit_close(&fd);
	/* every seal: fine */
	fd = memfd_with(MFD_ALLOW_SEALING, 4096,
	    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	assert_int_equal(check(fd), 0);
	unit_close(&fd);
}

static void
test_sizes(void **state)
{
	int fd = -1;

	(void)state;
	fd = memfd_with(MFD_ALLOW_SEALING, 0, F_SEAL_SHRINK | F_SEAL_GROW);
	assert_int_equal(check(fd), -EINVAL);
	unit_close(&fd);
	fd = memfd_with(MFD_ALLOW_SEALING, 5000, F_SEAL_SHRINK | F_SEAL_GROW);
	assert_int_equal(check(fd), -EINVAL);
	unit_close(&fd);
	fd = memfd_with(MFD_ALLOW_SEALING, (off_t)GUI_POOL_MAX + 4096,
	    F_SEAL_SHRINK | F_SEAL_GROW);
	assert_int_equal(check(fd), -EFBIG);
	unit_close(&fd);
	fd = memfd_with(
	    MFD_ALLOW_SEALING, (off_t)1 << 40, F_SEAL_SHRINK | F_SEAL_GROW);
	assert_int_equal(check(fd), -EFBIG);
	unit_close(&fd);
	/* gui_pool_make takes only valid sizes */
	fd = -1;
	assert_int_equal(gui_pool_make(0, &fd), -EINVAL);
	assert_int_equal(gui_pool_make(4097, &fd), -EINVAL);
	assert_int_equal(
	    gui_pool_make((size_t)GUI_POOL_MAX + 4096, &fd), -EINVAL);
	assert_int_equal(fd, -1);
}

static void
test_seal_readonly(void **state)
{
	uint8_t *rw, *ro;
	int fd = -1;

	(void)state;
	assert_int_equal(gui_pool_make(8192, &fd), 0);
	rw = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(rw != MAP_FAILED);
	assert_int_equal(gui_pool_seal_readonly(fd), 0);
	/* no new writable mapping; a read-only one works */
	assert_true(mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	                0) == MAP_FAILED);
	ro = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(ro != MAP_FAILED);
	/* the producer's own mapping still writes, and the reader sees it */
	rw[4096] = 0x5a;
	assert_int_equal(ro[4096], 0x5a);
	assert_int_equal(check(fd), 0);
	/* sealed for good */
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	assert_int_equal(munmap(ro, 8192), 0);
	assert_int_equal(munmap(rw, 8192), 0);
	unit_close(&fd);
	assert_int_equal(gui_pool_seal_readonly(-1), -EBADF);
}

/* The lowest free fd number (to see that a failed path closed its fd). */
static int
lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	(void)close(fd);
	return fd;
}

/* gui_pool_make's failure exit: ftruncate over RLIMIT_FSIZE fails with
 * EFBIG (SIGXFSZ ignored), and the memfd is closed. */
static void
test_make_fails(void **state)
{
	struct rlimit old, low;
	int fd = -1, before;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	low = old;
	low.rlim_cur = 4096;
	(void)signal(SIGXFSZ, SIG_IGN);
	before = lowest_free_fd();
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
	assert_int_equal(gui_pool_make((size_t)1024 * 1024, &fd), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	(void)signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(fd, -1);
	assert_int_equal(lowest_free_fd(), before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sealed_memfd),
	    cmocka_unit_test(test_lazy),
	    cmocka_unit_test(test_not_shmem),
	    cmocka_unit_test(test_tmpfs_file),
	    cmocka_unit_test(test_hugetlbfs),
	    cmocka_unit_test(test_qube_pool),
	    cmocka_unit_test(test_seals),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_seal_readonly),
	    cmocka_unit_test(test_make_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
