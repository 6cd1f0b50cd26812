/*
 * features_request.c - bulkhead-features-request: the admin-side services
 * qubes.FeaturesRequest and qubes.NotifyTools (issue #6).
 *
 * Runs on the admin side as the qrexec service a qube's call reaches after
 * the policy allowed it, as the qrexec daemon's user.  The calling qube is
 * QREXEC_REMOTE_DOMAIN (set by qrexec-daemon, never by the qube).  It
 * reads the qube's NAME=VALUE lines and sets, through bulkheadd's Admin API
 * (admin.vm.feature.*), the few features of the caller that Qubes'
 * qubesd (qubes/api/misc.py and the extensions core_features.py,
 * services.py, supported_features.py, windows.py) would set.
 *
 * Divergence from Qubes: bulkhead has no qubesdb, so the qube does not
 * write /features-request/NAME (or /qubes-tools/NAME) there; it sends the
 * same NAME=VALUE pairs on the service's standard input, one a line.
 *
 * Untrusted: everything on stdin.  It is read with explicit bounds (lines,
 * line length, total), and any framing error, a NAME or VALUE outside its
 * character set or a duplicate NAME refuses the whole request before
 * anything is set.  A VALUE that is well formed but wrong for its feature
 * (qrexec=2, os-version=abc) is ignored with a log line, as Qubes does.
 *
 * Privilege separation: this program runs as the admin side's service
 * user (root under bulkheadd) and calls the Admin API as dom0, but it
 * never reads the qube's bytes itself.  A child reads and parses them
 * after it has confined itself (nobody, no_new_privs, not dumpable, a
 * seccomp allowlist of reading, writing and memory), and hands over the
 * fixed-layout struct features_request, which this process checks again
 * (proto_features_check) before it uses any of it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "lib/io.h"
#include "lib/privdrop.h"
#include "lib/proto/features.h"
#include "lib/proto/qrexec.h"
#include "lib/qubesd.h"
#include "lib/seccomp_util.h"
#include "lib/sock.h"
#include "lib/util.h"

/* Limits on what a qube may send; anything beyond refuses the request. */
/* SERVICE in supported-service.SERVICE and the like */
#define FR_MAX_SUFFIX 64
/* os, os-distribution, ... */
#define FR_MAX_OS_VALUE 64
/* Admin API calls to bulkheadd */
#define FR_CALL_TIMEOUT_S 30
/* the whole request, from the qube */
#define FR_READ_TIMEOUT_S 30
/* what the confined reader may add to its log (stderr), at most */
#define FR_LOG_MAX (1024 * 1024)

enum fr_mode {
	FR_MODE_FEATURES_REQUEST,
	FR_MODE_NOTIFY_TOOLS,
	FR_MODE_MAX
};

static const char *const fr_service[FR_MODE_MAX] = {
    "qubes.FeaturesRequest", "qubes.NotifyTools"};

/* The caller's features as bulkheadd has them (names and values). */
struct fr_features {
	size_t n;
	char **name;
	char **value;
};

static const char *arg_service = "bulkhead-features-request";
static const char *arg_qube = "";

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: bulkhead-features-request [--mode=MODE] [--help]\n"
	    "Admin-side qubes.FeaturesRequest and qubes.NotifyTools: reads\n"
	    "NAME=VALUE lines from the calling qube ($QREXEC_REMOTE_DOMAIN)\n"
	    "on stdin and sets the features Qubes would on that qube.\n"
	    "  --mode=MODE  qubes.FeaturesRequest or qubes.NotifyTools\n"
	    "               (default: from the program's name)\n"
	    "  -h, --help   show this help\n");
}

static bool
in_set(const char *s, const char *extra)
{
	return proto_features_chars_ok(s, extra);
}

static const char *
fr_get(const struct features_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->n; i++)
		if (strcmp(req->pair[i].name, name) == 0)
			return req->pair[i].value;
	return NULL;
}

/* One Admin API call as dom0 on dest (lib/qubesd.h), bounded in time. */
static int
fr_call(const char *sock, const char *method, const char *arg, const char *dest,
    const char *payload, char **ret, char *err, size_t errlen)
{
	return qubesd_call_payload(sock, method, arg, dest, payload,
	    FR_CALL_TIMEOUT_S, ret, err, errlen);
}

static void
fr_features_free(struct fr_features *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->name[i]);
		free(f->value[i]);
	}
	free(f->name);
	free(f->value);
	f->n = 0;
	f->name = f->value = NULL;
}

/* The caller's features: admin.vm.feature.List, then Get for each. */
static int
fr_features_load(const char *sock, const char *qube, struct fr_features *f)
{
	char err[256], *list = NULL, *line, *save = NULL;
	size_t cap = 0;
	int r;

	f->n = 0;
	f->name = f->value = NULL;
	r = fr_call(sock, "admin.vm.feature.List", NULL, qube, NULL, &list, err,
	    sizeof(err));
	if (r < 0) {
		(void)fprintf(stderr, "%s: %s: listing features: %s\n",
		    arg_service, qube, err);
		return r;
	}
	for (line = strtok_r(list, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *v = NULL;

		if (f->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = reallocarray(f->name, ncap, sizeof(*nn));
			char **nv;

			if (nn == NULL)
				goto out_nomem;
			f->name = nn;
			nv = reallocarray(f->value, ncap, sizeof(*nv));
			if (nv == NULL)
				goto out_nomem;
			f->value = nv;
			cap = ncap;
		}
		r = fr_call(sock, "admin.vm.feature.Get", line, qube, NULL, &v,
		    err, sizeof(err));
		if (r < 0) {
			(void)fprintf(stderr, "%s: %s: feature %s: %s\n",
			    arg_service, qube, line, err);
			goto out_free;
		}
		f->value[f->n] = v;
		f->name[f->n] = strdup(line);
		if (f->name[f->n] == NULL) {
			free(v);
			goto out_nomem;
		}
		f->n++;
	}
	free(list);
	return 0;
out_nomem:
	r = -ENOMEM;
	(void)fprintf(stderr, "%s: out of memory\n", arg_service);
out_free:
	free(list);
	fr_features_free(f);
	return r;
}

static const char *
fr_feature(const struct fr_features *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

static int
fr_set(const char *sock, const char *qube, const char *name, const char *v)
{
	char err[256];
	int r;

	r = fr_call(sock, "admin.vm.feature.Set", name, qube, v, NULL, err,
	    sizeof(err));
	if (r < 0)
		(void)fprintf(stderr, "%s: %s: setting %s: %s\n", arg_service,
		    qube, name, err);
	return r;
}

static int
fr_remove(const char *sock, const char *qube, const char *name)
{
	char err[256];
	int r;

	r = fr_call(sock, "admin.vm.feature.Remove", name, qube, NULL, NULL,
	    err, sizeof(err));
	if (r < 0)
		(void)fprintf(stderr, "%s: %s: removing %s: %s\n", arg_service,
		    qube, name, err);
	return r;
}

/*
 * Is the qube template-based (an AppVM or a disposable)?  Qubes ignores
 * most of a request from one: its template speaks for it.  Returns 1, 0,
 * or -errno when bulkheadd cannot say.
 */
static int
fr_template_based(const char *sock, const char *qube)
{
	char err[256], *v = NULL, *tn;
	int r;

	r = fr_call(sock, "admin.vm.property.Get", "template", qube, NULL, &v,
	    err, sizeof(err));
	if (r == -EREMOTEIO && str_startswith(err, "QubesNoSuchPropertyError"))
		return 0;
	if (r < 0) {
		(void)fprintf(
		    stderr, "%s: %s: template: %s\n", arg_service, qube, err);
		return r;
	}
	/* "default=False type=vm NAME"; no template: "type=vm " or none */
	tn = strstr(v, " type=");
	if (tn != NULL)
		tn = strchr(tn + 1, ' ');
	r = tn != NULL && tn[1] != '\0';
	free(v);
	return r;
}

static bool
suffix_valid(const char *s)
{
	return s[0] != '\0' && strlen(s) <= FR_MAX_SUFFIX && in_set(s, "_.-");
}

/* os-eol: YYYY-MM-DD, a real date (Qubes: date.fromisoformat) */
static bool
date_valid(const char *s)
{
	static const int mdays[] = {
	    31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d, i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return false;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 &&
	    !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return false;
	return true;
}

/* qubes-agent-version: [0-9]{1,3}\.[0-9]{1,3} */
static bool
agent_version_valid(const char *s)
{
	size_t a = strspn(s, "0123456789"), b;

	if (a < 1 || a > 3 || s[a] != '.')
		return false;
	b = strspn(s + a + 1, "0123456789");
	return b >= 1 && b <= 3 && s[a + 1 + b] == '\0';
}

/*
 * supported-service.*, supported-feature.*, supported-rpc.* (Qubes'
 * services.py and supported_features.py): each NAME with value "1" is
 * supported; if any is, the qube's features with that prefix and a true
 * value that the request no longer lists are removed.  A request listing
 * none of a prefix leaves that prefix alone.
 */
static int
fr_apply_supported(const char *sock, const char *qube,
    const struct features_request *req, const struct fr_features *have,
    const char *prefix)
{
	size_t i, plen = strlen(prefix), nnew = 0;
	int r;

	for (i = 0; i < req->n; i++) {
		const struct features_pair *p = &req->pair[i];

		if (!str_startswith(p->name, prefix))
			continue;
		if (!suffix_valid(p->name + plen)) {
			(void)fprintf(stderr, "%s: %s: bad name %s, ignoring\n",
			    arg_service, qube, p->name);
			continue;
		}
		if (strcmp(p->value, "1") == 0)
			nnew++;
	}
	if (nnew == 0)
		return 0;
	for (i = 0; i < req->n; i++) {
		const struct features_pair *p = &req->pair[i];
		const char *old;

		if (!str_startswith(p->name, prefix) ||
		    !suffix_valid(p->name + plen) || strcmp(p->value, "1") != 0)
			continue;
		old = fr_feature(have, p->name);
		if (old != NULL && old[0] != '\0')
			continue;
		r = fr_set(sock, qube, p->name, "1");
		if (r < 0)
			return r;
		/* services.py: supported apparmor turns apparmor on once */
		if (strcmp(p->name, "supported-service.apparmor") == 0 &&
		    fr_feature(have, "apparmor") == NULL) {
			r = fr_set(sock, qube, "apparmor", "1");
			if (r < 0)
				return r;
		}
	}
	for (i = 0; i < have->n; i++) {
		const char *v;
		const char *name = have->name[i];

		if (!str_startswith(name, prefix) || have->value[i][0] == '\0')
			continue;
		v = fr_get(req, name);
		if (v != NULL && strcmp(v, "1") == 0 &&
		    suffix_valid(name + plen))
			continue;
		r = fr_remove(sock, qube, name);
		if (r < 0)
			return r;
		if (strcmp(name, "supported-service.apparmor") == 0 &&
		    (v = fr_feature(have, "apparmor")) != NULL &&
		    strcmp(v, "1") == 0) {
			r = fr_remove(sock, qube, "apparmor");
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Names handled by some rule below; any other is logged and ignored. */
static bool
fr_known(enum fr_mode mode, const char *name)
{
	static const char *const fq[] = {"os", "os-distribution",
	    "os-distribution-like", "os-version", "os-eol", "qrexec", "gui",
	    "gui-emulated", "qubes-firewall", "vmexec", "qubes-agent-version",
	    "anon-timezone", NULL};
	static const char *const nt[] = {
	    "qrexec", "gui", "gui-emulated", "default-user", "os", NULL};
	const char *const *l = mode == FR_MODE_NOTIFY_TOOLS ? nt : fq;

	for (; *l; l++)
		if (strcmp(*l, name) == 0)
			return true;
	return mode == FR_MODE_FEATURES_REQUEST &&
	    (str_startswith(name, "supported-service.") ||
	        str_startswith(name, "supported-feature.") ||
	        str_startswith(name, "supported-rpc."));
}

/*
 * Apply a parsed request to the qube, as Qubes' extensions do.  Returns 0
 * or -errno (an Admin API call failed; what was set before stays).
 */
static int
fr_apply(enum fr_mode mode, const char *sock, const char *qube,
    const struct features_request *req)
{
	static const char *const once[] = {"qrexec", "gui", "gui-emulated"};
	static const char *const freely[] = {"qubes-firewall", "vmexec"};
	static const char *const os_free[] = {
	    "os-distribution", "os-distribution-like"};
	struct fr_features have;
	const char *v;
	size_t i;
	int tb, r;

	for (i = 0; i < req->n; i++)
		if (!fr_known(mode, req->pair[i].name))
			(void)fprintf(stderr,
			    "%s: %s: unknown feature %s, ignoring\n",
			    arg_service, qube, req->pair[i].name);
	tb = fr_template_based(sock, qube);
	if (tb < 0)
		return tb;
	r = fr_features_load(sock, qube, &have);
	if (r < 0)
		return r;
	/* supported_features.py: supported-rpc.* from any qube */
	if (mode == FR_MODE_FEATURES_REQUEST) {
		r = fr_apply_supported(
		    sock, qube, req, &have, "supported-rpc.");
		if (r < 0)
			goto out;
	}
	if (tb) {
		if (req->n > 0)
			(void)fprintf(stderr,
			    "%s: %s: template-based qube: only "
			    "supported-rpc.* is taken, ignoring the rest\n",
			    arg_service, qube);
		r = 0;
		goto out;
	}
	if (mode == FR_MODE_FEATURES_REQUEST) {
		r = fr_apply_supported(
		    sock, qube, req, &have, "supported-service.");
		if (r == 0)
			r = fr_apply_supported(
			    sock, qube, req, &have, "supported-feature.");
		if (r < 0)
			goto out;
		for (i = 0; i < ARRAY_SIZE(os_free); i++) {
			v = fr_get(req, os_free[i]);
			if (v == NULL || v[0] == '\0')
				continue;
			if (strlen(v) > FR_MAX_OS_VALUE)
				(void)fprintf(stderr,
				    "%s: %s: %s too long, ignoring\n",
				    arg_service, qube, os_free[i]);
			else if ((r = fr_set(sock, qube, os_free[i], v)) < 0)
				goto out;
		}
		v = fr_get(req, "os-version");
		if (v != NULL && v[0] != '\0') {
			if (!isdigit((unsigned char)v[0]) || !in_set(v, ".-") ||
			    strlen(v) > FR_MAX_OS_VALUE ||
			    strpbrk(v,
			        "abcdefghijklmnopqrstuvwxyz"
			        "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL)
				(void)fprintf(stderr,
				    "%s: %s: invalid os-version '%s', "
				    "ignoring\n",
				    arg_service, qube, v);
			else if ((r = fr_set(sock, qube, "os-version", v)) < 0)
				goto out;
		}
		v = fr_get(req, "os-eol");
		if (v != NULL && v[0] != '\0') {
			if (!date_valid(v))
				(void)fprintf(stderr,
				    "%s: %s: invalid os-eol '%s', ignoring\n",
				    arg_service, qube, v);
			else if ((r = fr_set(sock, qube, "os-eol", v)) < 0)
				goto out;
		}
		v = fr_get(req, "qubes-agent-version");
		if (v != NULL && agent_version_valid(v) &&
		    (r = fr_set(sock, qube, "qubes-agent-version", v)) < 0)
			goto out;
		/* anon-timezone may be switched on, never off */
		v = fr_get(req, "anon-timezone");
		if (v != NULL && strcmp(v, "1") == 0 &&
		    (r = fr_set(sock, qube, "anon-timezone", "1")) < 0)
			goto out;
		for (i = 0; i < ARRAY_SIZE(freely); i++) {
			v = fr_get(req, freely[i]);
			if (v == NULL ||
			    (strcmp(v, "1") != 0 && strcmp(v, "0") != 0))
				continue;
			r = fr_set(
			    sock, qube, freely[i], v[0] == '1' ? "1" : "");
			if (r < 0)
				goto out;
		}
	}
	/*
	 * qrexec, gui, gui-emulated: "1" or "0" (Qubes' True, False; False
	 * is stored as ""), and only when not already set some other way.
	 */
	for (i = 0; i < ARRAY_SIZE(once); i++) {
		v = fr_get(req, once[i]);
		if (v == NULL || (strcmp(v, "1") != 0 && strcmp(v, "0") != 0) ||
		    fr_feature(&have, once[i]) != NULL)
			continue;
		r = fr_set(sock, qube, once[i], v[0] == '1' ? "1" : "");
		if (r < 0)
			goto out;
	}
	/* windows.py: os is "Windows" or "Linux" */
	v = fr_get(req, "os");
	if (v != NULL &&
	    (strcmp(v, "Windows") == 0 || strcmp(v, "Linux") == 0) &&
	    (r = fr_set(sock, qube, "os", v)) < 0)
		goto out;
	r = 0;
out:
	fr_features_free(&have);
	return r;
}

/* What the parsing child may do once confined: read its input, write the
 * result and its messages, memory, leave. */
static const char *const fr_child_allowed[] = {"read", "write", "sendto",
    "close", "brk", "mmap", "munmap", "mremap", "madvise", "mprotect", "fstat",
    "newfstatat", "rt_sigreturn", "rt_sigprocmask", "sigaltstack", "futex",
    "getpid", "exit", "exit_group"};

/*
 * The child: confine, read the request from stdin (bounded in size and,
 * through SIGALRM's default action, in time), parse it, write the struct
 * to fd.  Its exit status: 0 sent, 1 refused (it said why), 2 could not
 * confine itself.
 */
static int
fr_child(bool notify, int fd, uid_t uid, gid_t gid, pid_t parent)
{
	static struct features_request req;
	char *untrusted_buf = NULL;
	size_t len = 0, badline;
	int r;

	(void)alarm(FR_READ_TIMEOUT_S);
	r = priv_drop(uid, gid, FR_LOG_MAX, parent);
	if (r == 0)
		r = seccomp_util_allow_only(
		    fr_child_allowed, ARRAY_SIZE(fr_child_allowed));
	if (r < 0) {
		(void)fprintf(stderr, "%s: confining the reader: %s\n",
		    arg_service, strerror(-r));
		return 2;
	}
	r = io_read_to_eof(0, FEATURES_MAX_TOTAL, &untrusted_buf, &len);
	if (r == -EMSGSIZE) {
		(void)fprintf(stderr,
		    "%s: %s: request over %d bytes, refused\n", arg_service,
		    arg_qube, FEATURES_MAX_TOTAL);
		return 1;
	}
	if (r < 0) {
		(void)fprintf(stderr, "%s: %s: reading the request: %s\n",
		    arg_service, arg_qube, strerror(-r));
		return 1;
	}
	r = proto_features_parse(notify, untrusted_buf, len, &req, &badline);
	if (r < 0) {
		(void)fprintf(stderr, "%s: %s: %s at line %zu, refused\n",
		    arg_service, arg_qube,
		    r == -EMSGSIZE ? "request over the limits" :
		                     "malformed request",
		    badline);
		return 1;
	}
	return io_write_all(fd, &req, sizeof(req)) < 0 ? 1 : 0;
}

/*
 * The request, read and parsed by a confined child (fr_child) and checked
 * again here.  0, or -1 (refused or failed: said on stderr).
 */
static int
fr_read_request(bool notify, struct features_request *ret)
{
	uid_t uid;
	gid_t gid;
	int fd[2], status, r;
	pid_t pid, self = getpid();

	priv_nobody(&uid, &gid);
	if (pipe2(fd, O_CLOEXEC) < 0) {
		(void)fprintf(
		    stderr, "%s: pipe: %s\n", arg_service, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		(void)fprintf(
		    stderr, "%s: fork: %s\n", arg_service, strerror(errno));
		(void)close(fd[0]);
		(void)close(fd[1]);
		return -1;
	}
	if (pid == 0) {
		(void)close(fd[0]);
		_exit(fr_child(notify, fd[1], uid, gid, self));
	}
	(void)close(fd[1]);
	/*
	 * stdin is the child's: nothing of it is read here.  The child's
	 * alarm bounds an honest reader; one the qube took over could block
	 * it, so this process bounds itself too (SIGALRM's default ends it,
	 * and the child with it: its parent-death signal).
	 */
	(void)alarm(FR_READ_TIMEOUT_S + 5);
	r = io_read_all(fd[0], ret, sizeof(*ret), NULL);
	(void)close(fd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	(void)alarm(0);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
		(void)fprintf(stderr,
		    "%s: %s: no whole request within %d s, refused\n",
		    arg_service, arg_qube, FR_READ_TIMEOUT_S);
		return -1;
	}
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
			(void)fprintf(stderr,
			    "%s: %s: the request's reader failed (status "
			    "%d)\n",
			    arg_service, arg_qube, status);
		return -1;
	}
	if (r < 0 || proto_features_check(notify, ret) < 0) {
		(void)fprintf(stderr,
		    "%s: %s: the request's reader handed over a bad "
		    "request, refused\n",
		    arg_service, arg_qube);
		return -1;
	}
	return 0;
}

static int
mode_from(const char *s, enum fr_mode *ret)
{
	const char *base = strrchr(s, '/');

	base = base ? base + 1 : s;
	if (strcmp(base, "qubes.FeaturesRequest") == 0 ||
	    strcmp(base, "features-request") == 0)
		*ret = FR_MODE_FEATURES_REQUEST;
	else if (strcmp(base, "qubes.NotifyTools") == 0 ||
	    strcmp(base, "notify-tools") == 0)
		*ret = FR_MODE_NOTIFY_TOOLS;
	else
		return -EINVAL;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"mode", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct features_request *req = NULL;
	const char *sock = getenv(QUBESD_SOCKET_ENV);
	const char *qube = getenv("QREXEC_REMOTE_DOMAIN");
	char path[4096];
	enum fr_mode mode = FR_MODE_MAX;
	int opt, ret = 1;

	if (mode_from(argv[0], &mode) < 0)
		mode = FR_MODE_MAX;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (mode_from(optarg, &mode) < 0) {
				(void)fprintf(stderr,
				    "bulkhead-features-request: --mode: "
				    "unknown mode\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* a service's argument (qubes.FeaturesRequest+ARG) is ignored */
	if (mode == FR_MODE_MAX) {
		usage(stderr);
		return 2;
	}
	arg_service = fr_service[mode];
	if (qube == NULL || !proto_qube_name_valid(qube)) {
		(void)fprintf(stderr,
		    "%s: run me as a qrexec service "
		    "(QREXEC_REMOTE_DOMAIN missing or invalid)\n",
		    arg_service);
		return 2;
	}
	arg_qube = qube;
	if (sock == NULL || sock[0] == '\0') {
		if (bulkhead_run_path(path, sizeof(path), "qubesd.sock") < 0) {
			(void)fprintf(stderr, "%s: run directory too long\n",
			    arg_service);
			return 1;
		}
		sock = path;
	}
	req = calloc(1, sizeof(*req));
	if (req == NULL) {
		(void)fprintf(stderr, "%s: out of memory\n", arg_service);
		goto out;
	}
	/*
	 * A qube that never closes its end would hold the reader: SIGALRM
	 * ends it, and nothing has been set until the whole request is read.
	 */
	if (fr_read_request(mode == FR_MODE_NOTIFY_TOOLS, req) < 0)
		goto out;
	if (fr_apply(mode, sock, qube, req) < 0)
		goto out;
	ret = 0;
out:
	free(req);
	return ret;
}
