/*
 * connector.h - PROC_GUID_CONNECTOR's entry (connector.c).
 */
#ifndef BULKHEAD_GUID_CONNECTOR_H
#define BULKHEAD_GUID_CONNECTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gui/guid/guid.h"

#define GD_MAX_STATIC 64
/* The most qubes one GUI domain shows at once (--max-qubes: 1 to this). */
#define GD_MAX_QUBES 256

/* A qube given on the command line (--static): tests and benchmarks. */
struct gd_static_qube {
	char name[GD_NAME_MAX];
	uint32_t label_rgb;
	char socket[256];
	char pool_file[256]; /* "": the agent sends its pool (POOL) */
};

struct gd_connector_opts {
	const char *name;         /* this GUI domain (qubes' guivm) */
	const char *admin_socket; /* bulkheadd; NULL with static qubes */
	const char *run_dir;      /* <run>/vchan/<xid>/ */
	const char *policy_dir;   /* qubes.ClipboardPaste is decided here */
	struct gd_static_qube statics[GD_MAX_STATIC];
	int nstatic;
	int max_qubes; /* shown at once; a stopped qube's place is freed */
	int core_fd;   /* SOCK_SEQPACKET to the core (taken) */
	pid_t core;    /* the core: when it ends, so does the connector */
};

/* The agent's socket in a qube's channel directory: a vchan server of the
 * qube (XID) for domain 0 on Qubes' GUI port, "vchan.XID.0.6000.sock". */
#define GD_AGENT_PORT 6000u

/*
 * Serve until the core ends: find the qubes to show (bulkheadd's running
 * qubes whose guivm is this GUI domain, or the static ones), connect to
 * each qube's GUI socket once a start (checking the peer is that qube),
 * hand the fd to the core; answer the core's paste questions from the
 * policy.  Returns the core's exit status as a shell would (0..255).
 */
int gd_connector_run(const struct gd_connector_opts *o);

#endif
