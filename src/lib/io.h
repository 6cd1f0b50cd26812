/*
 * io.h - the one place where EINTR and short reads/writes are handled.
 */
#ifndef BULKHEAD_IO_H
#define BULKHEAD_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* "No deadline", for the _until functions. */
#define IO_NO_DEADLINE UINT64_MAX

/*
 * Read exactly len bytes (blocking fd).  Returns 0 on success, -EPIPE if the
 * peer closed before len bytes arrived (ECONNRESET counts as closed),
 * -errno otherwise.  *ret_got (if not NULL) receives the bytes read.
 */
int io_read_all(int fd, void *buf, size_t len, size_t *ret_got);

/* Write exactly len bytes (blocking fd, no SIGPIPE). 0 or -errno. */
int io_write_all(int fd, const void *buf, size_t len);

/*
 * io_write_all for a regular file (or anything else that is never a
 * socket): write(2) only, without io_write_all's send() first, which on
 * a file is one failed call each time.  0 or -errno.
 */
int io_write_file_all(int fd, const void *buf, size_t len);

/*
 * Read until EOF, at most max bytes, into a new NUL-terminated buffer.
 * Returns 0 and fills ret_buf and ret_len, -EMSGSIZE if more than max bytes came,
 * or -errno.  The caller frees *ret_buf.
 */
int io_read_to_eof(int fd, size_t max, char **ret_buf, size_t *ret_len);

/*
 * The deadline timeout_ms from now, on now_ms()'s clock (util.h); a
 * negative timeout_ms is IO_NO_DEADLINE.  One deadline passed to every
 * step of an exchange bounds the whole exchange, not each step.
 */
uint64_t io_deadline(int timeout_ms);

/*
 * io_write_all and io_read_to_eof that give up at deadline (now_ms()
 * time, or IO_NO_DEADLINE) with -ETIMEDOUT, the work unfinished.  On a
 * socket they wait only in poll() (sends are MSG_DONTWAIT), so the
 * deadline holds on a blocking socket too; any other fd must be
 * nonblocking for that.  Otherwise as io_write_all and io_read_to_eof.
 */
int io_write_all_until(int fd, const void *buf, size_t len, uint64_t deadline);
int io_read_to_eof_until(
    int fd, size_t max, uint64_t deadline, char **ret_buf, size_t *ret_len);

/*
 * Wait for events (POLLIN, POLLOUT) on fd until deadline (now_ms() time,
 * or IO_NO_DEADLINE); EINTR is retried.  0 ready (or hung up),
 * -ETIMEDOUT, or -errno.
 */
int io_wait_until(int fd, short events, uint64_t deadline);

/*
 * Wait until fd is readable (or hung up) for at most timeout_ms (-1: no
 * limit).  Returns 1 ready, 0 timeout, -errno.
 */
int io_wait_readable(int fd, int timeout_ms);

#endif
