/*
 * logcap.h - what a qube writes where the host keeps it (a namespace
 * qube's stdout and stderr, a VM qube's serial console), moved into a log
 * file by its launcher with a limit a run: the rest is read and dropped,
 * so the qube is never held up and cannot fill the host's disk.
 * Runs in the launchers (bulkhead-sandbox, bulkhead-vm), as root.  The
 * bytes are the qube's: copied as they are, never parsed.
 */
#ifndef BULKHEAD_SANDBOX_LOGCAP_H
#define BULKHEAD_SANDBOX_LOGCAP_H

#include <stdbool.h>
#include <stddef.h>

/* A run's default limit, and the range $BULKHEAD_QUBE_LOG_MAX may set. */
#define LOGCAP_RUN_MAX (4u << 20)
#define LOGCAP_MIN     4096u
#define LOGCAP_MAX_MAX (1u << 30)

struct logcap {
	int in;       /* the qube's end's reader, nonblocking; -1 when ended */
	int out;      /* the log, appended; -1: what comes is dropped */
	size_t max;   /* the run's limit */
	size_t kept;  /* bytes of this run written to out */
	bool dropped; /* over the limit: noted once */
	const char *what; /* for the note: "console output", "output" */
	/* out is a file this process opened: written with write(2) alone
	 * (io_write_file_all; an fd it was given may be a socket) */
	bool out_file;
};

/*
 * The run's limit: $BULKHEAD_QUBE_LOG_MAX if set and within
 * LOGCAP_MIN..LOGCAP_MAX_MAX (else warned about and ignored), otherwise
 * LOGCAP_RUN_MAX.
 */
size_t logcap_limit(void);

/*
 * Before a run: a regular file at path over max bytes is renamed
 * PATH.old (replacing the one there), so the two hold at most about two
 * runs.  Never follows a symlink.  0 or -errno (nothing renamed).
 */
int logcap_rotate(const char *path, size_t max);

/*
 * Move what lc->in holds to lc->out, up to lc->max bytes in all; beyond,
 * read and drop, with one line in the log and a warning saying so.
 * Returns at EAGAIN; at EOF or a read error lc->in is closed and set to
 * -1.  A write error closes lc->out (warned) and drops from then on.
 */
void logcap_pump(struct logcap *lc);

#endif
