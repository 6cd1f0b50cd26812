/*
 * fuzz.h - helpers shared by the libFuzzer targets in this directory.
 *
 * Every target is one LLVMFuzzerTestOneInput() over one untrusted parser.
 * Beyond "no crash, no sanitizer report", each target checks invariants
 * of the parser's result with FUZZ_CHECK(); a failed check aborts, which
 * libFuzzer reports as a crash and saves as an artifact.  The same files
 * link with replay_main.c in gcc builds, so nothing here may depend on
 * libFuzzer or on a sanitizer runtime.
 */
#ifndef BULKHEAD_FUZZ_H
#define BULKHEAD_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the parser under test; on failure, say which and abort. */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			(void)fprintf(stderr, "%s:%d: invariant failed: %s\n", \
			    __FILE__, __LINE__, #cond);                        \
			abort();                                               \
		}                                                              \
	} while (0)

/*
 * Once per process: what the real programs do before their first
 * untrusted byte that matters here (SIGPIPE ignored, see each main.c),
 * and quiet logs: library warnings about bad input would otherwise flood
 * the fuzzer's output.
 */
static inline void
fuzz_init_once(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	(void)signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_LEVEL_ERR);
}

/* A little-endian (host order, see docs/protocol) u32 at p. */
static inline uint32_t
fuzz_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Write as much of data as a nonblocking socket takes (the rest of the
 * input is dropped: the socket's buffer bounds one input), then end the
 * direction: SHUT_WR if half, else close.  Returns bytes written.
 * fd is closed (and set to -1) unless half is set.
 */
static inline size_t
fuzz_fill_socket(int *fd, const uint8_t *data, size_t size, int half)
{
	size_t off = 0;
	int fl = fcntl(*fd, F_GETFL);

	if (fl >= 0)
		(void)fcntl(*fd, F_SETFL, fl | O_NONBLOCK);
	while (off < size) {
		ssize_t n = send(*fd, data + off, size - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (half) {
		(void)shutdown(*fd, SHUT_WR);
	} else {
		(void)close(*fd);
		*fd = -1;
	}
	return off;
}

#endif
