/*
 * policy.h - the qrexec policy engine (issue #3): Qubes 4.1+ policy.d
 * parser, evaluator, system information and the policy daemon's socket
 * protocol (server side).
 *
 * The engine is pure: text in, rules out; a request and system information
 * in, a decision out.  It has no globals, never exits and never logs:
 * every error comes back as a value with a message naming file:line.
 *
 * Roles (one table, STYLE 2.1):
 *   name                   uid             input it does not trust
 *   qrexec-policy-daemon   unprivileged    policy requests (from
 *                          (--user)        qrexec-daemons), agent answers
 *   qrexec-policy-eval     the caller      nothing (its own argv)
 *   qubes-policy-lint      the caller      nothing
 *   qubes-policy           root/admin      nothing (stdin is the admin's)
 *   bulkhead-policy-agent  the desktop     requests from the policy daemon
 *                          user
 * Policy files and system information are trusted configuration, but are
 * still parsed with limits, and any error in them denies everything.
 */
#ifndef BULKHEAD_POLICY_H
#define BULKHEAD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits (checked before anything is allocated) ---- */

/* one policy file, and all files of one policy together */
#define POLICY_MAX_FILE_SIZE  (1u << 20)
#define POLICY_MAX_TOTAL_SIZE (16u << 20)
/* one line of a policy file, in bytes, without its newline */
#define POLICY_MAX_LINE_LEN 65536u
/* one token (service, argument, qube, parameter) */
#define POLICY_MAX_TOKEN_LEN 65000u
#define POLICY_MAX_RULES     100000u
#define POLICY_MAX_FILES     4096u
/* !include nesting; an include loop is reported before this is reached */
#define POLICY_MAX_INCLUDE_DEPTH 16u
#define POLICY_MAX_DIRS          16u
#define POLICY_PATH_MAX          4096u
#define POLICY_ERRMSG_MAX        512u
#define POLICY_REASON_MAX        512u
/* qube names, "uuid:..." and "@dispvm:name" forms, with the NUL */
#define POLICY_NAME_MAX 64u
/* "service+argument" in a request, without the NUL */
#define POLICY_MAX_SERVICE_ARG_LEN 64999u
/* a daemon request: 6 keys and their values */
#define POLICY_REQUEST_MAX_LEN (POLICY_MAX_SERVICE_ARG_LEN + 1024u)
#define POLICY_REPLY_BUF_LEN   4096u

/* system information (internal.GetSystemInfo) */
#define SYSINFO_MAX_JSON_LEN (8u << 20)
#define SYSINFO_MAX_DOMAINS  4096u
#define SYSINFO_MAX_TAGS     256u
#define SYSINFO_MAX_TAG_LEN  255u
#define SYSINFO_MAX_STR_LEN  255u
#define SYSINFO_UUID_LEN     36u

/* defaults (overridable on every command line) */
#define POLICY_DEFAULT_DIRS          "/run/bulkhead/policy.d:/etc/bulkhead/policy.d"
#define POLICY_DEFAULT_COMPAT_DIR    "/etc/bulkhead/policy"
#define POLICY_DEFAULT_SOCKET        "/run/bulkhead/policy.sock"
#define POLICY_DEFAULT_QUBESD_SOCKET "/run/bulkhead/qubesd.internal.sock"
#define POLICY_DEFAULT_ADMIN_DIR     "/etc/bulkhead/policy.d"
#define POLICY_DOM0_UUID             "uuid:00000000-0000-0000-0000-000000000000"

/* ---- errors ---- */

/* One error in a policy: where, and what was expected. */
struct policy_error {
	char file[POLICY_PATH_MAX];
	unsigned line; /* 0: the file as a whole */
	unsigned col;  /* 1-based byte column, 0: the line as a whole */
	char msg[POLICY_ERRMSG_MAX];
};

/* "file:line: msg" into out (truncated with "..." if it must be). */
const char *
policy_error_str(const struct policy_error *e, char *out, size_t outlen);

/* ---- tokens and rules ---- */

enum policy_token_kind {
	POLICY_TOK_NAME,        /* a qube name or "uuid:UUID" */
	POLICY_TOK_ANY,         /* "*" */
	POLICY_TOK_ADMINVM,     /* "@adminvm" */
	POLICY_TOK_ANYVM,       /* "@anyvm" */
	POLICY_TOK_DEFAULT,     /* "@default" */
	POLICY_TOK_TYPE,        /* "@type:CLASS" */
	POLICY_TOK_TAG,         /* "@tag:TAG" */
	POLICY_TOK_DISPVM,      /* "@dispvm" */
	POLICY_TOK_DISPVM_NAME, /* "@dispvm:NAME" (or uuid) */
	POLICY_TOK_DISPVM_TAG,  /* "@dispvm:@tag:TAG" */
	POLICY_TOK_MAX
};

/* The four positions a token can take (Qubes' class names). */
enum policy_token_pos {
	POLICY_POS_SOURCE,
	POLICY_POS_TARGET,
	POLICY_POS_REDIRECT, /* target= and default_target= */
	POLICY_POS_INTENDED, /* what the caller asked for */
	POLICY_POS_MAX
};

struct policy_token {
	enum policy_token_kind kind;
	const char *text;  /* the whole token */
	const char *value; /* after the prefix (@type:, @tag:, @dispvm:...) */
};

enum policy_action {
	POLICY_ACTION_ALLOW,
	POLICY_ACTION_DENY,
	POLICY_ACTION_ASK,
	POLICY_ACTION_MAX
};

struct policy_rule {
	const char *service;  /* NULL: "*" */
	const char *argument; /* NULL: "*", else "+..." */
	struct policy_token source;
	struct policy_token target;
	enum policy_action action;
	bool has_redirect;       /* target= */
	bool has_default_target; /* default_target= (ask only) */
	struct policy_token redirect;
	struct policy_token default_target;
	const char *user; /* NULL: not given */
	bool notify;
	bool autostart;
	const char *file; /* where the rule was read */
	unsigned line;    /* 0 for the implicit rules of !compat-4.0 */
};

struct policy; /* opaque: rules, strings and a service index */

/*
 * Parse one token for a position.  Returns 0 and fills ret (text/value
 * borrow s), or -EINVAL with a message in err (Qubes' wording: "invalid
 * source token: '@x'", "invalid empty @tag: token: '@tag:'").
 */
int policy_token_parse(const char *s, enum policy_token_pos pos,
    struct policy_token *ret, char *err, size_t errlen);

/* ---- loading ---- */

/* Called once for each error when keep_going is set (lint). */
typedef void (*policy_error_fn)(void *ctx, const struct policy_error *e);

struct policy_load_opts {
	const char *const *dirs; /* policy.d directories, earlier shadows */
	size_t ndirs;
	const char *compat_dir; /* !compat-4.0 legacy directory */
	/*
	 * Loading as if one file had other content (or were gone): what
	 * qubes-policy validates before it installs anything.  NULL: none.
	 */
	const char *override_path;
	const char *override_text; /* NULL with override_path: removed */
	size_t override_len;
	/* lint: report every error through on_error and go on */
	bool keep_going;
	policy_error_fn on_error;
	void *on_error_ctx;
};

/*
 * Load a whole policy (every *.policy file of the directories, in C-locale
 * basename order, with their includes).  Returns 0 and a new policy in
 * *ret, or -EINVAL (a policy error: the first one in *ret_err; with
 * keep_going all of them went to on_error), or -ENOMEM.  A policy with
 * any error is never returned: the caller denies everything.
 */
int policy_load(const struct policy_load_opts *opts, struct policy **ret,
    struct policy_error *ret_err);

/*
 * Parse one file's text as if it were the only policy file `name` of a
 * directory `dir` (includes resolve against dir; NULL dir: includes are
 * errors).  opts (may be NULL) gives compat_dir and keep_going/on_error;
 * its dirs are ignored.  Pure but for the includes.  Used by lint, tests
 * and the fuzzer.
 */
int policy_load_text(const char *name, const char *dir, const char *text,
    size_t len, const struct policy_load_opts *opts, struct policy **ret,
    struct policy_error *ret_err);

void policy_free(struct policy *p);

size_t policy_rule_count(const struct policy *p);
const struct policy_rule *policy_rule_at(const struct policy *p, size_t i);

/*
 * Files and directories the policy was read from (for the daemon's
 * inotify watches).  Index i < count; strings owned by p.
 */
size_t policy_source_count(const struct policy *p);
const char *policy_source_at(const struct policy *p, size_t i);

/* ---- names ---- */

/* A qube name: 1..31 characters of [A-Za-z0-9_.-], starting with a letter */
bool policy_qube_name_valid(const char *s);
/* "uuid:" and a UUID in 8-4-4-4-12 hex form */
bool policy_uuid_ref_valid(const char *s);
/* Service name (no '+') and argument ("+" and [A-Za-z0-9_.+-]) */
bool policy_service_name_valid(const char *s, size_t len);
bool policy_argument_valid(const char *s, size_t len);

/* ---- system information ---- */

struct sysinfo_domain {
	char *name;
	char *uuid; /* without "uuid:"; NULL if unknown */
	char *type;
	char **tags;
	size_t ntags;
	bool template_for_dispvms;
	bool internal;
	bool is_dom0;         /* named "dom0" */
	char *default_dispvm; /* NULL: none */
	char *power_state;    /* "" if unknown */
	char *guivm;          /* NULL: none */
	char *relayvm;        /* RemoteVM: NULL if unset */
	char *transport_rpc;  /* RemoteVM: NULL if unset */
};

struct sysinfo; /* opaque, reference counted */

/*
 * Parse internal.GetSystemInfo JSON ({"domains": {NAME: {...}}}).  Every
 * name, tag, class and UUID is checked against limits and character sets;
 * anything invalid rejects the whole document (-EBADMSG, message in err).
 * Unknown keys are ignored.  Returns 0 and a new sysinfo (one reference).
 */
int sysinfo_parse(const char *untrusted_json, size_t len, struct sysinfo **ret,
    char *err, size_t errlen);
/* sysinfo_parse() of a file (at most SYSINFO_MAX_JSON_LEN bytes). */
int sysinfo_load_file(
    const char *path, struct sysinfo **ret, char *err, size_t errlen);
/*
 * Ask a qubesd-style daemon at socket_path for internal.GetSystemInfo:
 * qubes_format sends Qubes 4.2's "internal.GetSystemInfo+ dom0 name
 * dom0\0" (what bulkheadd serves), otherwise the NUL-separated
 * "internal.GetSystemInfo\0dom0\0dom0\0\0"; then shuts down writing and
 * reads "0\0" + JSON ("2\0..." is the daemon's exception).  timeout_ms
 * bounds the whole exchange.  Returns 0 or -errno/-EBADMSG/-ETIMEDOUT.
 */
int sysinfo_fetch(const char *socket_path, bool qubes_format, int timeout_ms,
    struct sysinfo **ret, char *err, size_t errlen);

struct sysinfo *sysinfo_ref(struct sysinfo *si);
void sysinfo_unref(struct sysinfo *si);

size_t sysinfo_count(const struct sysinfo *si);
const struct sysinfo_domain *sysinfo_at(const struct sysinfo *si, size_t i);
/* The index of the i-th domain in C-locale order of names. */
size_t sysinfo_sorted_index(const struct sysinfo *si, size_t i);
/* By name, or by "uuid:UUID".  NULL if unknown. */
const struct sysinfo_domain *
sysinfo_find(const struct sysinfo *si, const char *key);
bool sysinfo_has_tag(const struct sysinfo_domain *d, const char *tag);

/* ---- evaluation ---- */

enum policy_verdict {
	POLICY_VERDICT_DENY,
	POLICY_VERDICT_ALLOW,
	POLICY_VERDICT_ASK,
	POLICY_VERDICT_MAX
};

/*
 * A decision.  It carries a copy of the request, so that an ask can be
 * answered (and an allow formatted) after the policy was reloaded; the
 * system information it needs is held by reference.
 */
struct policy_decision {
	enum policy_verdict verdict;
	bool notify;
	bool autostart;
	bool has_rule;
	char rule_file[1024]; /* for messages only: may be truncated */
	unsigned rule_line;
	char reason[POLICY_REASON_MAX]; /* deny: why */
	/* allow: the resolved target ("dom0", "@dispvm:NAME", a name, uuid) */
	char target[POLICY_NAME_MAX];
	char user[POLICY_NAME_MAX]; /* "" : DEFAULT */
	bool user_set;
	/* ask: the choices (sorted), and the default ("" : none) */
	char **targets;
	size_t ntargets;
	char default_target[POLICY_NAME_MAX];
	/* the request, as evaluated */
	char source[POLICY_NAME_MAX];           /* after requested_source */
	char relay[POLICY_NAME_MAX];            /* "" unless requested_source */
	char requested_target[POLICY_NAME_MAX]; /* verified intended target */
	char service[POLICY_NAME_MAX * 2];
	char *argument; /* "+..." (may be long) */
	struct sysinfo *si;
};

struct policy_query {
	const char *untrusted_source;
	const char *untrusted_intended_target; /* "" : @default */
	const char *untrusted_service_and_arg;
	const char *untrusted_requested_source; /* NULL or "" : none */
};

/*
 * Evaluate a request against a policy (NULL: a broken policy, which
 * denies) with system information si.  The request is validated first.
 * Always fills *ret and returns 0, or -ENOMEM; free *ret with
 * policy_decision_free either way (after -ENOMEM it can hold references).
 * A deny carries a reason; an ask carries the choices.
 */
int policy_evaluate(const struct policy *p, struct sysinfo *si,
    const struct policy_query *q, struct policy_decision *ret);

void policy_decision_free(struct policy_decision *d);

/*
 * Turn an ask into an allow to `target` the user chose (Qubes'
 * handle_user_response): target must be one of the choices.  allowed false
 * is a "no".  Returns 0 (d is now ALLOW, or DENY with a reason).
 */
int policy_decision_answer(
    struct policy_decision *d, bool allowed, const char *untrusted_target);

/*
 * assume_yes_for_ask: allow to the caller's intended target, if that is
 * one of the choices; otherwise deny.
 */
int policy_decision_assume_yes(struct policy_decision *d);

/*
 * Format an allow for qrexec-daemon (Qubes' AllowResolution.execute):
 * "user=..\nresult=allow\ntarget=..\n[target_uuid=..]\nautostart=..\n
 * requested_target=..[\nservice=..][\npolicy_source=..]".  It can still
 * deny (a loopback call, a RemoteVM without relay): then d becomes DENY
 * with a reason and out holds "result=deny".  Returns the length or
 * -ENAMETOOLONG.
 */
int policy_decision_format(struct policy_decision *d, char *out, size_t outlen);

/* ---- the policy daemon's socket protocol (server side) ---- */

struct policy_daemon_request {
	char source[POLICY_NAME_MAX];
	char intended_target[POLICY_NAME_MAX];
	char requested_source[POLICY_NAME_MAX]; /* "" if not given */
	char *service_and_arg;                  /* owned; free with _clear */
	bool assume_yes_for_ask;
	bool just_evaluate;
};

/*
 * Parse a request: "key=value" lines ended by an empty line (or by EOF
 * when at_eof).  Keys: source, intended_target, service_and_arg
 * (required), assume_yes_for_ask=yes|no, just_evaluate=yes|no,
 * requested_source (optional).  Returns the bytes consumed (> 0), -EAGAIN
 * if more input is needed, -EBADMSG for anything else (an unknown or
 * repeated key, a missing key, a bad value: close without an answer, as
 * Qubes does), -EMSGSIZE if len exceeds POLICY_REQUEST_MAX_LEN, -ENOMEM.
 */
int policy_daemon_request_parse(const char *untrusted_buf, size_t len,
    bool at_eof, struct policy_daemon_request *ret);
void policy_daemon_request_clear(struct policy_daemon_request *r);

/* ---- the policy agent protocol (ask and notify) ---- */

/*
 * The JSON line the daemon sends to an agent for an ask:
 * {"source":..,"service":..,"argument":..,"targets":[..],
 * "default_target":..}\n.  Returns a new string or NULL (ENOMEM).
 */
char *policy_agent_ask_json(const struct policy_decision *d);
/* {"notify":{"resolution":"allow|deny","service":..,"argument":..,
 * "source":..,"target":..}}\n */
char *
policy_agent_notify_json(const struct policy_decision *d, const char *target);
/*
 * An agent's answer: "allow:TARGET" or "deny", one optional newline.
 * Returns 0 (*ret_allowed, target copied) or -EBADMSG.
 */
int policy_agent_answer_parse(const char *untrusted_buf, size_t len,
    bool *ret_allowed, char ret_target[POLICY_NAME_MAX]);

/* What the daemon sends an agent, parsed (agent_msg.c). */
#define POLICY_AGENT_MSG_MAX     65536u
#define POLICY_AGENT_TARGETS_MAX (2 * SYSINFO_MAX_DOMAINS + 2)
struct policy_agent_msg {
	bool is_notify;
	/* notify: resolution "allow" or "deny", and target ("" allowed) */
	char resolution[POLICY_NAME_MAX];
	char target[POLICY_NAME_MAX];
	/* both */
	char source[POLICY_NAME_MAX];
	char service[POLICY_NAME_MAX];
	char argument[POLICY_NAME_MAX]; /* "+..." ("" in a notify) */
	/* a question: the choices (1..POLICY_AGENT_TARGETS_MAX, owned) */
	char default_target[POLICY_NAME_MAX]; /* "" : none */
	char **targets;
	size_t ntargets;
};

/*
 * Parse one message the daemon sent an agent (one JSON object, a
 * trailing newline allowed): {"notify": {...}} or a question (above).
 * Every name is checked (the characters of qube, service and argument
 * names, shorter than POLICY_NAME_MAX); anything else is -EBADMSG;
 * -EMSGSIZE over POLICY_AGENT_MSG_MAX; -ENOMEM.  On success *ret owns its
 * targets: free with policy_agent_msg_clear().
 */
int policy_agent_msg_parse(
    const char *untrusted_buf, size_t len, struct policy_agent_msg *ret);
void policy_agent_msg_clear(struct policy_agent_msg *m);

#endif
