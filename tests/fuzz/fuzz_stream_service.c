/*
 * fuzz_stream_service.c - the data phase on the service side: what a
 * qrexec-agent per-call process (or a socket service's relay) does with
 * MSG_DATA_* messages that the calling qube sends on the data channel.
 * This is the parser a hostile qube reaches most directly.
 *
 * See fuzz_stream.h for the input layout and the setups fuzzed.
 *
 * Invariants beyond "no crash": stream_run() terminates (libFuzzer's
 * -timeout, see fuzz_stream_service.options), returns 0 (no local
 * process), and closes exactly the local fds it was given.
 */
#include <stdint.h>

#include "fuzz_stream.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_stream_one(data, size, true);
	return 0;
}
