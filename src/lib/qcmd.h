/*
 * qcmd.h - the command a qrexec peer asks to run:
 *
 *     [user:][nogui:]QUBESRPC service[+arg] source [name|keyword target]
 *     [user:][nogui:]any shell command
 *
 * and the per-service configuration (Qubes' TOML subset in
 * QUBES_RPC_CONFIG_PATH) that applies to it.
 */
#ifndef BULKHEAD_QCMD_H
#define BULKHEAD_QCMD_H

#include <stdbool.h>
#include <stddef.h>

#define QCMD_RPC_PREFIX   "QUBESRPC"
#define QCMD_NOGUI_PREFIX "nogui:"
/* Largest per-service config file we read. */
#define QCMD_MAX_CONFIG_SIZE (64u * 1024u)

struct qcmd {
	char *buf;        /* owned copy of the whole command line */
	const char *user; /* NULL when parsed without a user part */
	bool nogui;
	const char *command; /* after user: and nogui: */

	/* QUBESRPC calls only (is_rpc): */
	bool is_rpc;
	const char *rpc_words; /* "service[+arg] source ..." */
	char *descriptor;      /* "service+arg", '+' added if absent */
	char *service_name;    /* "service" */
	const char *arg;       /* into descriptor, after '+' ("" if none) */
	char *source_domain;

	/* per-service configuration */
	bool wait_for_session;
	bool send_descriptor; /* !skip-service-descriptor */
	bool exit_on_service_eof;
	bool exit_on_client_eof;
	char *force_user;
};

/*
 * Parse a command line (as received in MSG_EXEC_CMDLINE/JUST_EXEC when
 * with_user, or a local one).  Returns 0 and a new qcmd, -EINVAL with a
 * reason in err, or -ENOMEM.
 */
int qcmd_parse(const char *cmdline, bool with_user, struct qcmd **ret,
    char *err, size_t errlen);
void qcmd_free(struct qcmd *c);

/*
 * Find and apply the configuration for an RPC command: the first of
 * "service+arg" then "service" in the ':'-separated config path.  No file
 * is not an error.  Returns 0, or -errno with "file:line: reason" in err
 * (a file that cannot be read or parsed refuses the call, as in Qubes).
 */
int qcmd_load_config(
    struct qcmd *c, const char *config_path, char *err, size_t errlen);

/*
 * Parse config text (the TOML subset): keys wait-for-session, force-user,
 * skip-service-descriptor, exit-on-service-eof, exit-on-client-eof.  Pure;
 * for tests and fuzzing.  name is used in error messages.
 */
int qcmd_config_parse(struct qcmd *c, const char *name, const char *text,
    size_t len, char *err, size_t errlen);

#endif
