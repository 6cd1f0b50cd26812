/*
 * bench-sink.c - read stdin to EOF in 64 KiB chunks and print the byte
 * count.
 *
 * The consumer of bench/run's throughput figures, used unchanged for the
 * qrexec call and for the plain-pipe baseline.  Runs as the benchmarking
 * user (or as a qrexec service in a test qube); the bytes it reads are
 * only counted.
 *
 * usage: bench-sink
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64u * 1024u)

static unsigned char buf[CHUNK];

int
main(void)
{
	unsigned long long total = 0;

	for (;;) {
		ssize_t n = read(0, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			(void)fprintf(
			    stderr, "bench-sink: read: %s\n", strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		total += (unsigned long long)n;
	}
	(void)printf("%llu\n", total);
	return fflush(stdout) == 0 ? 0 : 1;
}
