/*
 * bench-source.c - write N bytes to stdout in 64 KiB chunks.
 *
 * The producer of bench/run's throughput figures, used unchanged for the
 * qrexec call and for the plain-pipe baseline.  Runs as the benchmarking
 * user (or as a qrexec service in a test qube); its only input is its
 * argument.
 *
 * usage: bench-source BYTES
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64u * 1024u)

static unsigned char buf[CHUNK];

int
main(int argc, char **argv)
{
	unsigned long long left;
	char *end;
	size_t i;

	if (argc != 2 || argv[1][0] < '0' || argv[1][0] > '9') {
		(void)fprintf(stderr, "usage: bench-source BYTES\n");
		return 2;
	}
	errno = 0;
	left = strtoull(argv[1], &end, 10);
	if (errno != 0 || *end != '\0') {
		(void)fprintf(stderr, "bench-source: bad byte count\n");
		return 2;
	}
	/* not all zeros, so nothing on the way can shortcut them */
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	while (left > 0) {
		size_t want = left < CHUNK ? (size_t)left : CHUNK;
		ssize_t n = write(1, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			(void)fprintf(stderr, "bench-source: write: %s\n",
			    strerror(errno));
			return 1;
		}
		left -= (unsigned long long)n;
	}
	return 0;
}
