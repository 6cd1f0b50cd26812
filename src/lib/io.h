/*
 * io.h - the one place where EINTR and short reads/writes are handled.
 */
#ifndef BULKHEAD_IO_H
#define BULKHEAD_IO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Read exactly len bytes (blocking fd).  Returns 0 on success, -EPIPE if the
 * peer closed before len bytes arrived (ECONNRESET counts as closed),
 * -errno otherwise.  *ret_got (if not NULL) receives the bytes read.
 */
int io_read_all(int fd, void *buf, size_t len, size_t *ret_got);

/* Write exactly len bytes (blocking fd, no SIGPIPE). 0 or -errno. */
int io_write_all(int fd, const void *buf, size_t len);

/*
 * Read until EOF, at most max bytes, into a new NUL-terminated buffer.
 * Returns 0 and fills ret_buf and ret_len, -EMSGSIZE if more than max bytes came,
 * or -errno.  The caller frees *ret_buf.
 */
int io_read_to_eof(int fd, size_t max, char **ret_buf, size_t *ret_len);

/*
 * Wait until fd is readable (or hung up) for at most timeout_ms (-1: no
 * limit).  Returns 1 ready, 0 timeout, -errno.
 */
int io_wait_readable(int fd, int timeout_ms);

#endif
