/*
 * gui_pool.h - the one shared-memory pool of a qube's window buffers
 * (issue #8; docs/protocol/gui.md, "The pool").
 *
 * A pool is a memfd sealed against shrinking and growing, so that a
 * range checked once against its size stays inside it: the GUI domain
 * maps it once, read-only, and reads buffers out of it without the qube
 * being able to make those reads fault (a shrunk file would SIGBUS).
 */
#ifndef BULKHEAD_GUI_POOL_H
#define BULKHEAD_GUI_POOL_H

#include <stddef.h>

/*
 * Check a pool fd from a less trusted side: F_GET_SEALS works (a shmem or
 * hugetlbfs file: no pipe, device, FUSE or disk file that could block or
 * fault the reader) and includes F_SEAL_SHRINK and F_SEAL_GROW; fstat
 * says a regular file on tmpfs (shmem: a memfd; not hugetlbfs, whose
 * holes fault with SIGBUS when huge pages run out) of 1..GUI_POOL_MAX
 * bytes, a multiple of GUI_PAGE_SIZE.  Returns 0 and *ret_size, or -EINVAL (not a
 * sealable shmem file, or a bad size), -EPERM (seals missing), -EFBIG
 * (over the cap), or another -errno of fcntl/fstat.  Does not take fd.
 * Run by the GUI validator on the fd it was given.
 */
int gui_pool_check(int fd, size_t *ret_size);

/*
 * gui_pool_check, for a pool a qube hands over itself (POOL), plus: a
 * write seal (F_SEAL_FUTURE_WRITE or F_SEAL_WRITE: without one its owner
 * can punch holes, and no seal but those forbids it) and every page
 * allocated (st_blocks).  A hole, there from the start or punched later,
 * is filled by the first read of the GUI domain's mapping (or the X
 * server's) with a new page charged to the reader's memory cgroup: a
 * qube could make the GUI domain allocate its whole pool, 1 GiB, and not
 * pay for it.  With both, the pages stay allocated, and the qube's, as
 * long as the fd lives.  0 and *ret_size, gui_pool_check's errors,
 * -EPERM (no write seal) or -ENODATA (pages not allocated).
 */
int gui_pool_check_qube(int fd, size_t *ret_size);

/*
 * Make a pool of size bytes (1..GUI_POOL_MAX, a multiple of
 * GUI_PAGE_SIZE): memfd_create(MFD_ALLOW_SEALING | MFD_CLOEXEC),
 * ftruncate, fallocate (so its pages are charged now, to the caller's
 * memory cgroup: the qube's, not the GUI domain's), then F_SEAL_SHRINK |
 * F_SEAL_GROW.  The caller maps it read-write first and may then add
 * gui_pool_seal_readonly().  Returns 0 and *ret_fd (the caller's), or
 * -EINVAL or -errno.  Run by the agent side (or its launcher) and tests.
 */
int gui_pool_make(size_t size, int *ret_fd);

/*
 * gui_pool_make without the fallocate: a page is allocated when it is
 * first written, and charged to the memory cgroup of the process that
 * writes it.  For a pool made by one process and filled by another: a VM
 * qube's, made by its launcher (root) and written by the guest through
 * QEMU, which runs in the qube's cgroup.
 */
int gui_pool_make_lazy(size_t size, int *ret_fd);

/*
 * After the producer's own read-write mapping exists: add
 * F_SEAL_FUTURE_WRITE (no new writable mapping: the GUI side can map
 * only read-only) and F_SEAL_SEAL.  0 or -errno.
 */
int gui_pool_seal_readonly(int fd);

#endif
