/*
 * unit.h - helpers shared by the unit tests: temporary directories, files,
 * socket pairs, framed messages (unit.c), and the fault injection behind
 * the linker's --wrap mocks (wrap.c, linked only into the tests that ask
 * for it in meson.build).
 *
 * Every helper asserts its own success with cmocka, so a broken test
 * environment fails the test instead of testing something else.
 */
#ifndef BULKHEAD_TESTS_UNIT_H
#define BULKHEAD_TESTS_UNIT_H

#include <sys/socket.h>
#include <sys/types.h>

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/proto/qrexec.h"

/* ---- unit.c ---- */

/* A new empty directory under $TMPDIR (or /tmp); free with unit_rmtree. */
char *unit_tmpdir(void);
/* Remove the tree at path (if any) and free path. */
void unit_rmtree(char *path);
/* dir/name as a new string. */
char *unit_path(const char *dir, const char *name);
/* Create dir/name with the given text and mode. */
void unit_write_file(
    const char *dir, const char *name, const char *text, mode_t mode);
/* A connected AF_UNIX stream socket pair (CLOEXEC). */
void unit_socketpair(int sv[2]);
/* Close *fd if open and set it to -1. */
void unit_close(int *fd);
/* Send one framed message (blocking). */
void unit_send_msg(int fd, uint32_t type, const void *p, size_t len);
/* Receive one framed message (blocking); the body is malloc'd, NUL-ended. */
void unit_recv_msg(int fd, struct qrexec_hdr *ret_hdr, uint8_t **ret_body);
/* Read fd to EOF; returns the bytes in a malloc'd NUL-ended buffer. */
size_t unit_read_eof(int fd, char **ret);
/* Bytes queued for reading on a socket. */
size_t unit_pending(int fd);
/* Create a listening UNIX socket at path (not through the code under test). */
int unit_listen(const char *path);

/* ---- wrap.c: fault injection ---- */

enum fault_fn {
	F_READ,
	F_WRITE,
	F_SEND,
	F_SENDMSG,
	F_ALLOC, /* malloc, calloc, realloc, strdup, strndup together */
	F_POLL,  /* poll and __poll_chk */
	F_ACCEPT4,
	F_SOCKET,
	F_CONNECT,
	F_FORK,
	F_SOCKETPAIR,
	F_PIPE2,
	F_FN_MAX
};

/*
 * How a wrapped function misbehaves.  Only calls on fd count (-1: any fd;
 * ignored for functions without one): the first `skip` are let through,
 * then `fail` of them (-1: all) fail with errno `err`.  With cap > 0 every
 * matching read/write/send/sendmsg moves at most cap bytes.
 */
struct fault {
	int fd;
	int skip;
	int fail;
	int err;
	size_t cap;
	int calls; /* matching calls seen */
};

extern struct fault faults[F_FN_MAX];

/* Called before each real poll (after fault injection), if set. */
extern void (*poll_hook)(struct pollfd *fds, nfds_t nfds, int timeout);
/* Called instead of each nanosleep, if set. */
extern void (*nanosleep_hook)(void);
/* Called after each successful real bind, if set. */
extern void (*bind_hook)(const struct sockaddr *sa, socklen_t len);

/* Everything back to pass-through; hooks cleared.  Use in setup. */
void fault_reset(void);
/* Shorthand for filling faults[fn]. */
void fault_set(enum fault_fn fn, int fd, int skip, int fail, int err);

#endif
