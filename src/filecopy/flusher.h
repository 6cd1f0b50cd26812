/*
 * flusher.h - qfile-unpacker's helper that runs syncfs(2) of the incoming
 * directory's filesystem while the stream still comes (flusher.c).
 */
#ifndef BULKHEAD_FLUSHER_H
#define BULKHEAD_FLUSHER_H

#include <stdbool.h>
#include <stdint.h>

struct flusher {
	int fd;    /* our end of its socket, non-blocking; -1: none */
	bool busy; /* asked, and not answered yet */
	/* since the last time it was asked */
	uint64_t files, bytes;
};

/*
 * Start the helper, before the unpacker confines itself: a child that
 * keeps only dirfd and its socket, confines itself to reading, writing
 * and syncfs, and dies with us.  Best effort: without it (f->fd -1, a
 * warning) the unpacker works as before.  0 or -errno.
 */
int flusher_start(struct flusher *f, int dirfd);
/*
 * A file of bytes was written: every FLUSH_FILES files or FLUSH_BYTES
 * bytes, if it is not busy, ask it for a syncfs.  Never waits.
 */
void flusher_note(struct flusher *f, uint64_t bytes);
/* No more work: it exits once its syncfs in progress (if any) returns. */
void flusher_stop(struct flusher *f);

#endif
