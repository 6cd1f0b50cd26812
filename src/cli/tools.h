/*
 * tools.h - the parts of the qvm-* tools that more than one program shares
 * and that tests link: each is in libcli-core.a, the mains only call them.
 */
#ifndef BULKHEAD_CLI_TOOLS_H
#define BULKHEAD_CLI_TOOLS_H

#include <stdbool.h>

#include "cli/admin_client.h"

/* qvm-prefs (global false) and qubes-prefs (global true). */
int prefs_main(int argc, char **argv, bool global);

/* What clone_qube() copies where. */
struct clone_opts {
	const char *src;
	const char *dst;
	const char *klass; /* the copy's class */
	const char *pool;  /* -P: the pool of every volume, or NULL */
	const char *pools; /* -p: " pool:VOLUME=POOL"..., or NULL */
	const char *const *ignore_volumes; /* NULL-terminated, or NULL */
	bool ignore_errors;                /* report metadata errors, go on */
	int verbosity;
};

/*
 * The payload tail " pool:VOLUME=POOL"... for -p VOLUME=POOL options
 * (sorted, as Qubes sends it); a usage error (exit 2) for a malformed one.
 */
char *clone_pools_payload(struct admin_strv *pools);

/*
 * Copy a qube as Qubes' clone_vm() (see clone.c).  0, or -1 after a
 * message; nothing is left behind on failure.
 */
int clone_qube(const struct clone_opts *o);

#endif
