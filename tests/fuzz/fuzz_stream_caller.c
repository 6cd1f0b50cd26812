/*
 * fuzz_stream_caller.c - the data phase on the caller side: what
 * qrexec-client-vm (in a qube) and qrexec-client / the admin-side
 * executors do with MSG_DATA_STDOUT/STDERR/EXIT_CODE from the service's
 * qube, including the -t/-T character filters.
 *
 * See fuzz_stream.h for the input layout and the setups fuzzed.  Remote
 * stderr is written to our fd 2; fuzz_stream_caller.options sets
 * close_fd_mask=2 so that it does not flood the fuzzer's output.
 *
 * Invariants beyond "no crash": stream_run() terminates (libFuzzer's
 * -timeout), returns a status in -1..255 (a negative remote exit code is
 * 255), and closes exactly the local fds it was given.
 */
#include <stdint.h>

#include "fuzz_stream.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_stream_one(data, size, false);
	return 0;
}
