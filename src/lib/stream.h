/*
 * stream.h - the data phase of one qrexec call: moving a local process's
 * (or our own) standard streams over a data channel as MSG_DATA_* messages,
 * with EOF propagation and exit codes, as Qubes' process_io does.
 *
 * Two roles: the service side (sends STDOUT/STDERR/EXIT_CODE, receives
 * STDIN) and the caller side (sends STDIN, receives STDOUT/STDERR and the
 * exit code).  Names used here: remote data is written to the "sink" fd;
 * local data read from the "src" fd (and "err" fd) is sent.
 *
 * Flow control: at most one chunk is read from a local fd when the channel
 * has room, and the channel is read only while the bytes waiting for the
 * sink stay under STREAM_SINK_LIMIT, so a peer that stops reading stalls
 * only this call and nothing buffers without bound.
 */
#ifndef BULKHEAD_STREAM_H
#define BULKHEAD_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buffer.h"
#include "lib/msg.h"

/* Bytes of remote data we hold for a slow local reader before we stop
 * reading the channel. */
#define STREAM_SINK_LIMIT (1024u * 1024u)

struct stream {
	int chan;
	bool is_service;
	uint32_t max_chunk;

	int sink, src, err; /* -1 once closed */
	int sink_orig, src_orig, err_orig;
	bool single;    /* sink and src are one socket */
	int saved_sink; /* for the SIGUSR1 switch; -1 once closed */

	pid_t pid; /* local process, 0 if none */
	int local_status;
	int remote_status;

	bool exit_on_client_eof;
	bool exit_on_service_eof;
	bool replace_stdout; /* caller: filter remote stdout */
	bool replace_stderr; /* caller: filter remote stderr */

	const uint8_t *prefix; /* sent before src data */
	size_t prefix_len;

	bool child_event; /* SIGCHLD seen */
	bool sigusr1;     /* SIGUSR1 seen: use the sink socket as src too */
	bool terminated;  /* SIGTERM with no local process to pass it to */

	struct msg_reader rd;
	struct buffer to_chan;
	struct buffer to_sink;
	bool chan_eof;
	bool chan_broken;
};

struct stream_params {
	int chan;
	bool is_service;
	uint32_t version; /* negotiated data protocol version */
	int sink, src, err;
	pid_t pid;
	bool exit_on_client_eof, exit_on_service_eof;
	bool replace_stdout, replace_stderr;
	const void *prefix;
	size_t prefix_len;
};

void stream_init(struct stream *s, const struct stream_params *p);

/*
 * Run the data phase to its end.  sigfd is a signalfd for SIGCHLD and
 * SIGUSR1, and SIGTERM if it should be passed on to the local process
 * (or -1).  Returns, for the service side, the local exit status
 * (0 for socket services); for the caller side, the remote exit code if
 * non-zero, else the local process's status (or 0); -1 if the channel
 * broke before an exit code arrived.
 */
int stream_run(struct stream *s, int sigfd);

void stream_free(struct stream *s);

/*
 * Handshake on a data channel: send our HELLO, read the peer's, return the
 * negotiated version (>= 2) or -errno.  Blocking, bounded by timeout_ms.
 */
int stream_handshake(int chan, int timeout_ms);

/* Replace non-printable bytes with '_' (what -t/-T of the clients do). */
void stream_replace_chars(uint8_t *p, size_t len);

/*
 * Send the messages of a service that failed to start: EOF on stdout and
 * stderr (stderr first if asked: the admin-side executor's order), then the
 * exit code.
 */
int stream_send_failure(int chan, int exit_code, bool stderr_first);

#endif
