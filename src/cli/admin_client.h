/*
 * admin_client.h - the client side of the Admin API (qubesd's wire format,
 * served by bulkheadd): one call per connection, the reply frame, the
 * admin.Events stream, and parsers for the reply bodies the qvm-* tools
 * read.  Used by the programs of src/cli, which run as the administrator.
 *
 * Wire format (docs: reference/admin-client.md; qubes/api/__init__.py):
 *   request  "<method>+<arg> <src> name <dest>\0" payload, then SHUT_WR
 *   reply    "0\0" data                                    success
 *            "2\0" type "\0" traceback "\0" message "\0" [arg "\0"]...
 *            "1\0" subject "\0" event "\0" (key "\0" value "\0")* "\0"
 *                                                          admin.Events
 * The daemon is more trusted than we are, but every reply is still parsed
 * with exact bounds and named limits: a bug there must not become one here.
 *
 * Nothing in this module prints, logs or exits; functions return -errno.
 */
#ifndef BULKHEAD_CLI_ADMIN_CLIENT_H
#define BULKHEAD_CLI_ADMIN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Where bulkheadd listens, and the variable that overrides it. */
#define ADMIN_SOCKET_DEFAULT BULKHEAD_RUN_DIR "/qubesd.sock"
#define ADMIN_SOCKET_ENV     "BULKHEAD_ADMIN_SOCKET"

/*
 * Inside a qube there is no daemon socket: each call is a qrexec call,
 * "qrexec-client-vm DEST METHOD[+ARG]" with the payload on its stdin and
 * the reply frame on its stdout, as Qubes' admin client does in a
 * management qube (QubesRemote); the policy decides, and the admin side
 * names the calling qube as the source.  ADMIN_REMOTE as the "socket"
 * (the value of $BULKHEAD_ADMIN_SOCKET, or what admin_socket_path() gives
 * in a qube) selects this.  $BULKHEAD_QREXEC_CLIENT_VM names the program
 * (default: qrexec-client-vm in $PATH).
 */
#define ADMIN_REMOTE         "qrexec"
#define ADMIN_QREXEC_ENV     "BULKHEAD_QREXEC_CLIENT_VM"
#define ADMIN_QREXEC_TRIGGER "/var/run/qubes/qrexec-agent"

/* The source every call names; like Qubes' dom0 tools, we are dom0. */
#define ADMIN_SOURCE "dom0"

/* Largest reply we read (qvm-ls on thousands of qubes is a few MiB). */
#define ADMIN_REPLY_MAX ((size_t)64 * 1024 * 1024)
/* Largest request, header and payload: qubesd's own buffer_size. */
#define ADMIN_REQUEST_MAX 65536
/* Longest exception type name ("QubesVMNotFoundError"). */
#define ADMIN_EXC_TYPE_MAX 128
/* Longest qube name we accept in a reply (Qubes allows 31 bytes). */
#define ADMIN_NAME_MAX 64
/* Most lines (qubes, properties, features, tags) in one list reply. */
#define ADMIN_LIST_MAX 100000
/* Calls admin_call_many() keeps open at once. */
#define ADMIN_PARALLEL_MAX 16
/* Largest admin.Events frame, and most key/value pairs in one. */
#define ADMIN_EVENT_FRAME_MAX ((size_t)1024 * 1024)
#define ADMIN_EVENT_KW_MAX    64

/*
 * Exception types the tools act on, by qubesd's class name.  Each has a
 * parent (admin_exc_is), as in qubes/exc.py, because the tools catch
 * families: qvm-shutdown ignores QubesVMNotStartedError and with it
 * QubesVMNotRunningError and QubesVMNotPausedError.
 */
enum admin_exc {
	ADMIN_EXC_NONE,  /* not an exception */
	ADMIN_EXC_QUBES, /* QubesException; also unknown names */
	ADMIN_EXC_VM_NOT_FOUND,
	ADMIN_EXC_VM_ALREADY_EXISTS,
	ADMIN_EXC_VM_ERROR,
	ADMIN_EXC_VM_IN_USE,
	ADMIN_EXC_VM_NOT_STARTED,
	ADMIN_EXC_VM_NOT_RUNNING,
	ADMIN_EXC_VM_NOT_PAUSED,
	ADMIN_EXC_VM_NOT_SUSPENDED,
	ADMIN_EXC_VM_NOT_HALTED,
	ADMIN_EXC_VM_SHUTDOWN_TIMEOUT,
	ADMIN_EXC_NO_TEMPLATE,
	ADMIN_EXC_MEMORY,
	ADMIN_EXC_VALUE,
	ADMIN_EXC_PROPERTY_VALUE,
	ADMIN_EXC_NO_SUCH_PROPERTY,
	ADMIN_EXC_NOT_IMPLEMENTED,
	ADMIN_EXC_FEATURE_NOT_FOUND,
	ADMIN_EXC_TAG_NOT_FOUND,
	ADMIN_EXC_LABEL_NOT_FOUND,
	ADMIN_EXC_PROTOCOL,   /* ProtocolError: not a QubesException */
	ADMIN_EXC_PERMISSION, /* PermissionDenied: not a QubesException */
	ADMIN_EXC_MAX
};

/* Map a type name to its enum (unknown names: ADMIN_EXC_QUBES). */
enum admin_exc admin_exc_from_name(const char *name);
/* true if e is base or derives from it. */
bool admin_exc_is(enum admin_exc e, enum admin_exc base);

/* A parsed reply.  All strings are NUL-terminated. */
struct admin_reply {
	bool ok;
	char *buf; /* the raw reply (owned), NUL after buf_len */
	size_t buf_len;
	const char *data; /* ok: the body, inside buf */
	size_t len;
	const char *exc_type; /* !ok: inside buf */
	char *exc_msg; /* !ok: message with its arguments applied (owned) */
	enum admin_exc exc;
};

/*
 * Parse a whole reply to a non-event call.  untrusted_buf must have a NUL
 * at [len] (io_read_to_eof gives one); ret points into it and owns
 * nothing but exc_msg, so ret->buf is left NULL.  Returns 0, -ENODATA for
 * an empty reply (qubesd closes without one on an internal error), or
 * -EBADMSG.
 */
int admin_reply_parse(
    const char *untrusted_buf, size_t len, struct admin_reply *ret);

/* Free what a reply owns; the struct is zeroed.  NULL is a no-op. */
void admin_reply_free(struct admin_reply *r);

/*
 * Check a request's fields and write "<method>+<arg> <src> name <dest>\0"
 * into out.  method: [A-Za-z0-9_.-]; arg, src and dest: printable ASCII
 * without a space (arg may be empty or NULL).  Returns its length (with
 * the NUL) or -EINVAL, or -ENAMETOOLONG if it does not fit.
 */
int admin_request_header(char *out, size_t outlen, const char *src,
    const char *dest, const char *method, const char *arg);

/* The socket path: $BULKHEAD_ADMIN_SOCKET or the default; ADMIN_REMOTE
 * when the default is missing and this is a qube (its qrexec agent's
 * socket, ADMIN_QREXEC_TRIGGER, is there). */
const char *admin_socket_path(void);

/* The program a qube's remote calls go through: $BULKHEAD_QREXEC_CLIENT_VM
 * when set and not empty, else "qrexec-client-vm" (found on PATH). */
const char *admin_qrexec_client_vm(void);

/*
 * Connect to the Admin API socket.  With timeout_ms > 0, a missing or
 * refusing socket is retried every 100 ms until then (a daemon that is
 * starting).  Returns a CLOEXEC fd or -errno.
 */
int admin_connect(const char *sock, int timeout_ms);

/* One call, as admin_call_many() takes and fills it. */
struct admin_call {
	const char *dest;
	const char *method;
	const char *arg; /* NULL: none */
	const void *payload;
	size_t payload_len;
	/* results */
	int error; /* 0 (see reply), or -errno of the transport or framing */
	struct admin_reply reply;
};

/*
 * Make n calls to sock, up to ADMIN_PARALLEL_MAX at a time, each on its own
 * connection, and wait for every reply.  Each call's error and reply are
 * set (reply only when error is 0).  Returns 0, or -EINVAL if a request
 * is malformed (nothing is sent then).  The caller frees the replies.
 */
int admin_call_many(const char *sock, struct admin_call *calls, size_t n);

/* One call; returns the call's error (0: *ret is the reply). */
int admin_call(const char *sock, const char *dest, const char *method,
    const char *arg, const void *payload, size_t payload_len,
    struct admin_reply *ret);

/* ---- admin.Events ---- */

struct admin_event {
	char *frame; /* owned copy of the frame; the strings point into it */
	const char *subject; /* "" for the system itself */
	const char *name;
	size_t nkw;
	const char *key[ADMIN_EVENT_KW_MAX];
	const char *value[ADMIN_EVENT_KW_MAX];
};

void admin_event_free(struct admin_event *ev);

/*
 * Parse the first event frame of untrusted_buf[0..len).  Returns 0 and
 * sets *ret_used and *ret (which owns a copy), -EAGAIN if the frame is not
 * complete yet, -EBADMSG if it is malformed or over the limits,
 * -ENOMEM.  A "2\0" exception frame is -EPROTO.
 */
int admin_event_parse(const char *untrusted_buf, size_t len, size_t *ret_used,
    struct admin_event *ret);

struct admin_events {
	int fd;
	int pid; /* remote: qrexec-client-vm (pid_t), else -1 */
	char *buf;
	size_t len;
	size_t cap;
	struct admin_reply exc; /* set when the stream began with an exception */
};

/*
 * Subscribe: send admin.Events for dest ("dom0": every qube) and wait for
 * the connection-established event, so that anything that happens after
 * this returns is seen.  0 or -errno; -EPROTO means the daemon answered
 * with an exception, left in ret->exc.  Free with admin_events_close().
 */
int
admin_events_open(const char *sock, const char *dest, struct admin_events *ret);

/*
 * Next event within timeout_ms (-1: no limit).  Returns 1 and fills *ret,
 * 0 on timeout, -EPIPE when the daemon closed the stream, -EBADMSG,
 * -errno.
 */
int admin_events_next(
    struct admin_events *es, int timeout_ms, struct admin_event *ret);

void admin_events_close(struct admin_events *es);

/* ---- reply bodies ---- */

/* A list of strings (one name per line). */
struct admin_strv {
	char **v;
	size_t n;
};

void admin_strv_free(struct admin_strv *sv);
/* Append a copy of s. 0 or -ENOMEM. */
int admin_strv_add(struct admin_strv *sv, const char *s);
/* Index of s in sv, or -1. */
long admin_strv_find(const struct admin_strv *sv, const char *s);

/*
 * Parse a "one name per line" body (admin.vm.tag.List, feature.List,
 * property.List, label.List, vmclass.List, volume.List): every line ends in
 * "\n", is non-empty and has no NUL, at most ADMIN_LIST_MAX of them.
 * 0, -EBADMSG or -ENOMEM.
 */
int admin_parse_lines(
    const char *untrusted_data, size_t len, struct admin_strv *ret);

/* One qube of admin.vm.List. */
struct admin_vm {
	char name[ADMIN_NAME_MAX];
	char klass[ADMIN_NAME_MAX];
	char state[ADMIN_NAME_MAX]; /* "" if not sent */
	char uuid[ADMIN_NAME_MAX];  /* "" if not sent */
};

struct admin_vm_list {
	struct admin_vm *vm;
	size_t n;
};

/*
 * Parse admin.vm.List: "NAME class=C state=S uuid=U\n" lines.  The name is
 * a valid qube name, every further token k=v in printable ASCII, class=
 * required, names unique.  0, -EBADMSG or -ENOMEM.
 */
int admin_parse_vm_list(
    const char *untrusted_data, size_t len, struct admin_vm_list *ret);
void admin_vm_list_free(struct admin_vm_list *l);
/* The qube named name, or NULL. */
const struct admin_vm *
admin_vm_list_find(const struct admin_vm_list *l, const char *name);

/*
 * true if s is a syntactically valid qube name, [A-Za-z][A-Za-z0-9_.-]*
 * shorter than ADMIN_NAME_MAX (Qubes' validate_name allows 31 bytes; the
 * daemon decides, we only keep what we print and send sane).
 */
bool admin_vm_name_valid(const char *s);

enum admin_prop_type {
	ADMIN_PROP_STR,
	ADMIN_PROP_INT,
	ADMIN_PROP_BOOL,
	ADMIN_PROP_VM,
	ADMIN_PROP_LABEL,
	ADMIN_PROP_MAX
};

/* One property value, as property.Get or one line of GetAll gives it. */
struct admin_prop {
	char *name; /* GetAll only; NULL for Get */
	bool is_default;
	enum admin_prop_type type;
	char *value; /* as sent: "" is None (vm, label) or unset (int, bool) */
};

/* The type's wire name ("str", ...). */
const char *admin_prop_type_name(enum admin_prop_type t);

/*
 * true if the value is "no value": None for vm and label, unset for int
 * and bool (qvm-prefs shows "U" for the latter).
 */
bool admin_prop_is_empty(const struct admin_prop *p);

/*
 * Parse "default=True|False type=T VALUE" (property.Get; the space after
 * T is always there).  0, -EBADMSG or -ENOMEM.
 */
int admin_parse_property(
    const char *untrusted_data, size_t len, struct admin_prop *ret);
void admin_prop_free(struct admin_prop *p);

struct admin_prop_list {
	struct admin_prop *p;
	size_t n;
};

/*
 * Parse property.GetAll: "NAME default=.. type=.. VALUE\n" lines in which
 * "\\" and newline are escaped as "\\\\" and "\\n".  0, -EBADMSG, -ENOMEM.
 */
int admin_parse_property_all(
    const char *untrusted_data, size_t len, struct admin_prop_list *ret);
void admin_prop_list_free(struct admin_prop_list *l);
const struct admin_prop *
admin_prop_list_find(const struct admin_prop_list *l, const char *name);

/*
 * Undo GetAll's escaping of in[0..len) into out (at least len+1 bytes).
 * Returns the new length, or -EBADMSG for any other escape or a trailing
 * backslash.
 */
long admin_unescape(const char *in, size_t len, char *out);

/*
 * Find key in a body of "k=v" tokens separated by spaces or newlines
 * (admin.vm.CurrentState, admin.vm.volume.Info) and copy its value into
 * out.  Returns 1 found, 0 absent, -EBADMSG for a token without "=" or a
 * NUL in the body, -ENAMETOOLONG if it does not fit.
 */
int admin_kv_get(const char *untrusted_data, size_t len, const char *key,
    char *out, size_t outlen);

/* The power state of a CurrentState body. 0, -EBADMSG, -ENAMETOOLONG. */
int admin_parse_power_state(
    const char *untrusted_data, size_t len, char *out, size_t outlen);

/* Qubes' is_running(): any state but Halted and NA. */
bool admin_state_is_running(const char *state);

#endif
