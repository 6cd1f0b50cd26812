/*
 * validator.h - PROC_GUID_VALIDATOR's entry (validator.c).
 */
#ifndef BULKHEAD_GUID_VALIDATOR_H
#define BULKHEAD_GUID_VALIDATOR_H

#include <stdbool.h>
#include <stdint.h>

struct gd_validator_opts {
	const char *qube;         /* for logs */
	int qube_fd;              /* the qube's GUI stream (taken) */
	int core_fd;              /* the core's stream (taken) */
	uint32_t clipboard_limit; /* GUI_CLIPBOARD_MIN..MAX */
	bool allow_utf8_titles;
	int pool_fd; /* the admin side's pool (a VM's), or -1 (taken) */
};

/*
 * Run the validator until either side ends: confines the process first
 * (no_new_privs, not dumpable, seccomp allowlist), then relays.  Returns
 * 0 at an orderly end, or a negative errno (a violation: both sides were
 * sent ERROR with the reason, which is logged).  Called by main() of
 * bulkhead-guid --validator only.
 */
int gd_validator_run(const struct gd_validator_opts *o);

#endif
