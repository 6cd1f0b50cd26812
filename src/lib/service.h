/*
 * service.h - finding and starting qrexec services.
 *
 * A service "name+arg" is looked up in QREXEC_SERVICE_PATH (':'-separated
 * directories), "name+arg" first, then "name".  What is found decides the
 * kind: an executable file, a UNIX socket (socket service), or a symlink
 * to "/dev/tcp[/HOST[/PORT]]" (TCP service).
 */
#ifndef BULKHEAD_SERVICE_H
#define BULKHEAD_SERVICE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "lib/qcmd.h"

#define SVC_DEFAULT_PATH                                                       \
	"/run/qubes-rpc:/usr/local/etc/qubes-rpc:/etc/qubes-rpc:"              \
	"/etc/bulkhead/qubes-rpc"
#define SVC_DEFAULT_CONFIG_PATH                                                \
	"/run/qubes/rpc-config:/usr/local/etc/qubes/rpc-config:"               \
	"/etc/qubes/rpc-config"

/* $QREXEC_SERVICE_PATH or the default */
const char *svc_path(void);
/* $QUBES_RPC_CONFIG_PATH or the default */
const char *svc_config_path(void);

/*
 * Find name in the ':'-separated path_list.  Returns 0 with the full path
 * (and, if ret_st, its stat), -ENOENT if absent everywhere, or another
 * -errno for a broken entry (a dangling symlink into a non-directory, a path
 * too long, an I/O error: the call fails rather than falling through).
 * If ret_link is not NULL, a symlink to /dev/tcp... is not followed: *ret_st
 * is the symlink's own stat and ret_link its target.
 */
int svc_find_file(const char *path_list, const char *name, char *ret_path,
    size_t pathlen, struct stat *ret_st, size_t linklen, char *ret_link);

enum svc_kind {
	SVC_EXEC,
	SVC_SOCKET,
	SVC_TCP,
	SVC_KIND_MAX
};

struct svc_target {
	enum svc_kind kind;
	char path[PATH_MAX];
	char host[256]; /* SVC_TCP */
	char port[8];   /* SVC_TCP */
};

/*
 * Look up the service of an RPC command.  Returns 0, -ENOENT (not found:
 * exit 127) or another -errno with a reason in err (exit 125).  For an
 * executable, the config options that only make sense for sockets are
 * cleared (with a warning in err, return still 0).
 */
int svc_lookup(const char *path_list, struct qcmd *c, struct svc_target *ret,
    char *err, size_t errlen);

/*
 * Connect to a socket or TCP service.  Returns a connected fd or -errno
 * (reason in err).
 */
int svc_connect(const struct svc_target *t, char *err, size_t errlen);

/* A started process and our ends of its standard streams. */
struct svc_proc {
	pid_t pid;
	int in_fd;  /* we write its stdin (socket, so it may shut down) */
	int out_fd; /* we read its stdout (socket) */
	int err_fd; /* we read its stderr (pipe), or -1 */
};

enum svc_stdio {
	SVC_STDIO_PIPES,       /* stdin/stdout sockets, stderr captured */
	SVC_STDIO_PIPES_NOERR, /* stdin/stdout sockets, stderr inherited */
	SVC_STDIO_NULL,        /* everything /dev/null (MSG_JUST_EXEC) */
	SVC_STDIO_MAX
};

/*
 * Start prog (an RPC service executable) or, with prog NULL, the command
 * as a shell command.  user: run as this user when we are root (ignored
 * with NULL); when not root it must be our own user name.  extra_env
 * (NULL-terminated "K=V" list, may be NULL) is added for the child.
 * Returns 0 with *ret filled, or -errno.
 */
int svc_spawn(const char *prog, const struct qcmd *c, const char *user,
    enum svc_stdio stdio, char *const *extra_env, struct svc_proc *ret);

/*
 * Look up a user and its groups once, so that the name service's modules
 * (nsswitch.conf's "systemd" and the libraries it loads) are loaded in
 * this process: a long-lived process that forks a child for each call,
 * which then looks up the call's user, calls this once and its children
 * find them loaded instead of loading them each.  Nothing is kept but
 * what glibc keeps itself; failures are ignored.
 */
void svc_preload_user_db(void);

/*
 * In a child about to become an RPC service: exec prog with Qubes' argv
 * and environment (QREXEC_SERVICE_FULL_NAME, QREXEC_REMOTE_DOMAIN,
 * QREXEC_SERVICE_ARGUMENT, QREXEC_REQUESTED_TARGET[_TYPE|_KEYWORD]; other
 * inherited QREXEC* variables removed).  Exits 127 if prog is missing,
 * 125 on any other problem.
 */
_Noreturn void svc_exec_rpc(const char *prog, const struct qcmd *c);

/*
 * Run qubes.WaitForSession from the service path (if present) and wait for
 * it.  user (may be NULL) is written to its stdin.  Returns its exit
 * status, or -ENOENT.
 */
int svc_wait_for_session(
    const char *path_list, const char *source, const char *user);

#endif
