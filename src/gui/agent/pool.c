/*
 * pool.c - bulkhead-gui-agent's shared pool (issue #8): one sealed memfd
 * (gui_pool_make), mapped read-write here before it is sealed against new
 * writable mappings, and a first-fit page allocator over it.
 *
 * Runs in bulkhead-gui-agent as the qube's user.  No untrusted input:
 * sizes come from the agent's own windows (bounded by the wl_shm buffer
 * sizes, which libwayland checked against the client's fd).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "lib/gui_pool.h"

int
pool_init(struct pool *p, size_t size)
{
	int fd, r;
	void *map;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	r = gui_pool_make(size, &fd);
	if (r < 0)
		return r;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		goto out_close_fd;
	}
	/* From here on the GUI side can map it only read-only. */
	r = gui_pool_seal_readonly(fd);
	if (r < 0)
		goto out_unmap;
	p->used = calloc(size / GUI_PAGE_SIZE, 1);
	if (p->used == NULL) {
		r = -ENOMEM;
		goto out_unmap;
	}
	p->fd = fd;
	p->map = map;
	p->size = size;
	p->npages = (uint32_t)(size / GUI_PAGE_SIZE);
	return 0;

out_unmap:
	(void)munmap(map, size);
out_close_fd:
	(void)close(fd);
	return r;
}

int
pool_init_external(struct pool *p, int fd)
{
	struct stat st;
	void *map;
	size_t size;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* a multiple of pages, within the protocol's cap (as a POOL) */
	if (st.st_size <= 0 || (uint64_t)st.st_size > GUI_POOL_MAX ||
	    st.st_size % GUI_PAGE_SIZE != 0)
		return -EINVAL;
	size = (size_t)st.st_size;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	p->used = calloc(size / GUI_PAGE_SIZE, 1);
	if (p->used == NULL) {
		(void)munmap(map, size);
		return -ENOMEM;
	}
	p->external = true;
	p->map = map;
	p->size = size;
	p->npages = (uint32_t)(size / GUI_PAGE_SIZE);
	return 0;
}

void
pool_fini(struct pool *p)
{
	if (p->map != NULL)
		(void)munmap(p->map, p->size);
	if (p->fd >= 0)
		(void)close(p->fd);
	free(p->used);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

int
pool_alloc(struct pool *p, size_t bytes, struct pool_range *ret)
{
	uint32_t need, i, run = 0;

	if (bytes == 0 || bytes > p->size)
		return -ENOSPC;
	need = (uint32_t)((bytes + GUI_PAGE_SIZE - 1) / GUI_PAGE_SIZE);
	for (i = 0; i < p->npages; i++) {
		if (p->used[i]) {
			run = 0;
			continue;
		}
		if (++run == need) {
			ret->first = i + 1 - need;
			ret->pages = need;
			memset(p->used + ret->first, 1, need);
			return 0;
		}
	}
	return -ENOSPC;
}

void
pool_release(struct pool *p, struct pool_range *r)
{
	if (r->pages == 0)
		return;
	memset(p->used + r->first, 0, r->pages);
	r->first = 0;
	r->pages = 0;
}
