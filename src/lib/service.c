/*
 * service.c - look up, connect to and start qrexec services.
 *
 * Runs in qrexec-agent's per-call processes (inside a qube, as the qube's
 * root or the agent's user) and in the admin-side executors (qrexec-client,
 * qrexec-daemon's call children).  The command comes from a validated
 * MSG_EXEC_CMDLINE (qcmd_parse); paths come from the local service path.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/privdrop.h"
#include "lib/proto/qrexec.h"
#include "lib/service.h"
#include "lib/sock.h"
#include "lib/util.h"

/*
 * The raw id calls of the clone path: the 32-bit-id ones where the kernel
 * has both (i386, armhf: the plain ones take 16-bit ids there).
 */
#ifdef SYS_setgroups32
#define SYS_SETGROUPS SYS_setgroups32
#define SYS_SETGID    SYS_setgid32
#define SYS_SETUID    SYS_setuid32
#else
#define SYS_SETGROUPS SYS_setgroups
#define SYS_SETGID    SYS_setgid
#define SYS_SETUID    SYS_setuid
#endif

extern char **environ;

#define TCP_PREFIX "/dev/tcp"

const char *
svc_path(void)
{
	const char *p = getenv("QREXEC_SERVICE_PATH");

	return p ? p : SVC_DEFAULT_PATH;
}

const char *
svc_config_path(void)
{
	const char *p = getenv("QUBES_RPC_CONFIG_PATH");

	return p ? p : SVC_DEFAULT_CONFIG_PATH;
}

static bool
is_tcp_link(const char *t, size_t n)
{
	return (n == strlen(TCP_PREFIX) && memcmp(t, TCP_PREFIX, n) == 0) ||
	    (n > strlen(TCP_PREFIX) &&
	        memcmp(t, TCP_PREFIX "/", strlen(TCP_PREFIX) + 1) == 0);
}

int
svc_find_file(const char *path_list, const char *name, char *ret_path,
    size_t pathlen, struct stat *ret_st, size_t linklen, char *ret_link)
{
	const char *p = path_list;
	struct stat st;

	if (strlen(name) > NAME_MAX)
		return -ENOENT; /* cannot exist */
	while (*p) {
		const char *end = strchrnul(p, ':');
		size_t dl = (size_t)(end - p);

		if (dl > 0) {
			int r;

			if (dl + 1 + strlen(name) + 1 > pathlen)
				return -ENAMETOOLONG;
			memcpy(ret_path, p, dl);
			ret_path[dl] = '/';
			strcpy(ret_path + dl + 1, name);
			r = lstat(ret_path, &st);
			if (r == 0 && S_ISLNK(st.st_mode) && ret_link != NULL) {
				ssize_t n =
				    readlink(ret_path, ret_link, linklen - 1);

				if (n < 0)
					return -errno;
				if (is_tcp_link(ret_link, (size_t)n)) {
					if ((size_t)n >= linklen - 1)
						return -ENAMETOOLONG;
					ret_link[n] = '\0';
					if (ret_st)
						*ret_st = st;
					return 0;
				}
			}
			if (r == 0 && S_ISLNK(st.st_mode))
				r = stat(ret_path, &st);
			if (r == 0) {
				if (ret_st)
					*ret_st = st;
				return 0;
			}
			if (errno != ENOENT)
				return -errno;
		}
		p = end;
		while (*p == ':')
			p++;
	}
	return -ENOENT;
}

/* "1".."65535", no leading zeros (getaddrinfo accepts too much) */
static bool
port_valid(const char *s)
{
	uint32_t v;

	return parse_u32(s, 65535, &v) == 0 && v > 0;
}

static int
tcp_target(const char *link, const struct qcmd *c, struct svc_target *t,
    char *err, size_t errlen)
{
	const char *addr = link + strlen(TCP_PREFIX);
	char host[256] = "", port[64] = "";
	bool have_host = false, have_port = false;

	if (*addr == '/') {
		const char *h = addr + 1, *slash = strchr(h, '/');
		size_t hl = slash ? (size_t)(slash - h) : strlen(h);

		if (hl == 0 && slash == NULL) {
			(void)snprintf(err, errlen,
			    "%s: /dev/tcp/ not followed by a host", t->path);
			return -EINVAL;
		}
		if (hl >= sizeof(host) ||
		    (slash && str_copy(port, sizeof(port), slash + 1) < 0))
			return -ENAMETOOLONG;
		memcpy(host, h, hl);
		host[hl] = '\0';
		have_host = true;
		have_port = slash != NULL;
	}
	if (!have_port) {
		if (c->arg[0] == '\0') {
			(void)snprintf(err, errlen,
			    "no argument given to connect to %s", link);
			return -EINVAL;
		}
		if (!have_host) {
			const char *plus = strrchr(c->arg, '+');
			size_t hl, i;

			if (plus == NULL) {
				(void)snprintf(err, errlen,
				    "no port in argument for %s", link);
				return -EINVAL;
			}
			hl = (size_t)(plus - c->arg);
			if (hl >= sizeof(host))
				return -ENAMETOOLONG;
			for (i = 0; i < hl; i++) {
				if (c->arg[i] == '_') {
					(void)snprintf(err, errlen,
					    "underscore in host name");
					return -EINVAL;
				}
				host[i] = c->arg[i] == '+' ? ':' : c->arg[i];
			}
			host[hl] = '\0';
			if (str_copy(port, sizeof(port), plus + 1) < 0)
				return -ENAMETOOLONG;
		} else if (str_copy(port, sizeof(port), c->arg) < 0) {
			return -ENAMETOOLONG;
		}
	} else if (c->arg[0] != '\0') {
		(void)snprintf(err, errlen, "unexpected argument to %s", link);
		return -EINVAL;
	}
	if (!port_valid(port)) {
		(void)snprintf(err, errlen, "invalid port for %s", link);
		return -EINVAL;
	}
	(void)str_copy(t->host, sizeof(t->host), host);
	(void)str_copy(t->port, sizeof(t->port), port);
	t->kind = SVC_TCP;
	return 0;
}

int
svc_lookup(const char *path_list, struct qcmd *c, struct svc_target *ret,
    char *err, size_t errlen)
{
	char link[PATH_MAX];
	struct stat st;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = svc_find_file(path_list, c->descriptor, ret->path,
	    sizeof(ret->path), &st, sizeof(link), link);
	if (r == -ENOENT)
		r = svc_find_file(path_list, c->service_name, ret->path,
		    sizeof(ret->path), &st, sizeof(link), link);
	if (r == -ENOENT) {
		(void)snprintf(
		    err, errlen, "service not found: %s", c->descriptor);
		return r;
	}
	if (r < 0) {
		(void)snprintf(err, errlen, "looking up %s: %s", c->descriptor,
		    strerror(-r));
		return r;
	}
	if (S_ISSOCK(st.st_mode)) {
		ret->kind = SVC_SOCKET;
		return 0;
	}
	if (S_ISLNK(st.st_mode))
		return tcp_target(link, c, ret, err, errlen);
	if (S_ISREG(st.st_mode) && euidaccess(ret->path, X_OK) == 0) {
		ret->kind = SVC_EXEC;
		/* these only make sense for socket services */
		c->exit_on_client_eof = false;
		c->exit_on_service_eof = false;
		c->send_descriptor = true;
		return 0;
	}
	(void)snprintf(
	    err, errlen, "%s: not executable and not a socket", ret->path);
	return -EACCES;
}

int
svc_connect(const struct svc_target *t, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	int fd, r;

	if (t->kind == SVC_SOCKET) {
		fd = sock_connect(t->path);
		if (fd < 0)
			(void)snprintf(err, errlen, "connect %s: %s", t->path,
			    strerror(-fd));
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_family = (strchr(t->host, ':') || strchr(t->host, '%')) ?
	    AF_INET6 :
	    AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	r = getaddrinfo(t->host, t->port, &hints, &ai);
	if (r != 0 || ai == NULL) {
		(void)snprintf(err, errlen, "address %s port %s: %s", t->host,
		    t->port, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(
	    ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		r = -errno;
		(void)snprintf(err, errlen, "connect %s port %s: %s", t->host,
		    t->port, strerror(errno));
		(void)close(fd);
		goto out;
	}
	r = fd;
out:
	freeaddrinfo(ai);
	return r;
}

static bool
strip_env(const char *e)
{
	if (!str_startswith(e, "QREXEC"))
		return false;
	return !str_startswith(e, "QREXEC_SERVICE_PATH=") &&
	    !str_startswith(e, "QREXEC_AGENT_PID=");
}

/* Qubes' argv and added environment of an RPC service (svc_exec_rpc). */
struct rpc_exec {
	const char *argv[3];
	char *vars[6]; /* "QREXEC_...=..." to add, in order */
	size_t nvars;
	char *words; /* argv points into it */
};

static void
rpc_exec_free(struct rpc_exec *x)
{
	size_t i;

	for (i = 0; i < x->nvars; i++)
		free(x->vars[i]);
	free(x->words);
	memset(x, 0, sizeof(*x));
}

static int
rpc_var(struct rpc_exec *x, const char *name, const char *value)
{
	if (asprintf(&x->vars[x->nvars], "%s=%s", name, value) < 0)
		return -ENOMEM;
	x->nvars++;
	return 0;
}

/*
 * Split the service words and build argv and the QREXEC_* variables.
 * Returns 0, -ENOMEM, or -EINVAL with the reason in err.
 */
static int
rpc_exec_prepare(const char *prog, const struct qcmd *c, struct rpc_exec *x,
    char *err, size_t errlen)
{
	char *tok, *save = NULL;
	const char *w[8];
	const char *plus;
	size_t n = 0;

	memset(x, 0, sizeof(*x));
	x->words = strdup(c->rpc_words);
	if (x->words == NULL)
		return -ENOMEM;
	for (tok = strtok_r(x->words, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		if (n >= ARRAY_SIZE(w)) {
			(void)snprintf(
			    err, errlen, "too many words in service command");
			return -EINVAL;
		}
		w[n++] = tok;
	}
	/* "service source" or "service source name|keyword target" */
	if (n != 2 && n != 4) {
		(void)snprintf(err, errlen,
		    "invalid number of words in service command: %zu", n);
		return -EINVAL;
	}
	if (rpc_var(x, "QREXEC_REQUESTED_TARGET_TYPE", n == 4 ? w[2] : "") < 0)
		return -ENOMEM;
	if (n == 4 && strcmp(w[2], "name") == 0 &&
	    rpc_var(x, "QREXEC_REQUESTED_TARGET", w[3]) < 0)
		return -ENOMEM;
	if (n == 4 && strcmp(w[2], "keyword") == 0 &&
	    rpc_var(x, "QREXEC_REQUESTED_TARGET_KEYWORD", w[3]) < 0)
		return -ENOMEM;
	if (rpc_var(x, "QREXEC_SERVICE_FULL_NAME", w[0]) < 0 ||
	    rpc_var(x, "QREXEC_REMOTE_DOMAIN", w[1]) < 0)
		return -ENOMEM;
	x->argv[0] = prog;
	plus = strchr(w[0], '+');
	if (plus != NULL) {
		if (rpc_var(x, "QREXEC_SERVICE_ARGUMENT", plus + 1) < 0)
			return -ENOMEM;
		if (plus[1] != '\0')
			x->argv[1] = plus + 1;
	}
	return 0;
}

/*
 * A child's environment: base, where each "K=V" of set (NULL-terminated,
 * may be NULL) replaces K in place or is appended, in order (as setenv
 * would do), without inherited QREXEC* variables if strip, followed by the
 * variables of x (may be NULL).  Returns a calloc'd array of pointers
 * borrowed from its arguments, or NULL.
 */
static char **
env_build(
    char *const *base, char *const *set, bool strip, const struct rpc_exec *x)
{
	size_t nbase = 0, nset = 0, n = 0, i, k;
	bool *used;
	char **env;

	while (base[nbase])
		nbase++;
	while (set && set[nset])
		nset++;
	env = calloc(nbase + nset + ARRAY_SIZE(x->vars) + 1, sizeof(*env));
	used = calloc(nset + 1, sizeof(*used));
	if (env == NULL || used == NULL) {
		free(env);
		free(used);
		return NULL;
	}
	for (i = 0; i < nbase; i++) {
		const char *e = base[i];

		for (k = 0; k < nset; k++) {
			size_t kl = strcspn(set[k], "=") + 1;

			if (!used[k] && strncmp(e, set[k], kl) == 0) {
				e = set[k];
				used[k] = true;
				break;
			}
		}
		if (!(strip && strip_env(e)))
			env[n++] = (char *)e;
	}
	for (k = 0; k < nset; k++)
		if (!used[k])
			env[n++] = set[k];
	for (i = 0; x && i < x->nvars; i++)
		env[n++] = x->vars[i];
	free(used);
	return env;
}

void
svc_exec_rpc(const char *prog, const struct qcmd *c)
{
	struct rpc_exec x;
	char err[128], **env = NULL;
	int r;

	r = rpc_exec_prepare(prog, c, &x, err, sizeof(err));
	if (r == -EINVAL) {
		(void)fprintf(stderr, "qrexec: %s\n", err);
		_exit(QREXEC_EXIT_PROBLEM);
	}
	if (r == 0)
		env = env_build(environ, NULL, true, &x);
	if (env == NULL) {
		(void)fprintf(stderr, "qrexec: out of memory\n");
		_exit(QREXEC_EXIT_PROBLEM);
	}
	execve(prog, (char *const *)x.argv, env);
	(void)fprintf(stderr, "qrexec: exec %s: %s\n", prog, strerror(errno));
	_exit(errno == ENOENT ? QREXEC_EXIT_SERVICE_NOT_FOUND :
	                        QREXEC_EXIT_PROBLEM);
}

void
svc_preload_user_db(void)
{
	struct passwd *pw = getpwnam("root");
	gid_t g[16];
	int n = 16;

	/* what spawn_plan_user and become_user ask: the same databases */
	if (pw != NULL)
		(void)getgrouplist(pw->pw_name, pw->pw_gid, g, &n);
	endpwent();
	endgrent();
}

/* In the child: become user (if root), or check that we already are. */
static int
become_user(const char *user, const char **ret_shell)
{
	struct passwd *pw;

	*ret_shell = "/bin/sh";
	if (user == NULL)
		return 0;
	if (geteuid() != 0) {
		pw = getpwuid(geteuid());
		if (pw == NULL || strcmp(pw->pw_name, user) != 0) {
			(void)fprintf(stderr,
			    "qrexec: requested user %s, but "
			    "running as %s\n",
			    user, pw ? pw->pw_name : "?");
			return -EPERM;
		}
		return 0;
	}
	pw = getpwnam(user);
	if (pw == NULL || pw->pw_dir == NULL) {
		(void)fprintf(stderr, "qrexec: user %s does not exist\n", user);
		return -ENOENT;
	}
	if (pw->pw_uid != 0 || getuid() != 0) {
		if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
		    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
			(void)fprintf(stderr, "qrexec: cannot become %s: %s\n",
			    user, strerror(errno));
			return -EPERM;
		}
	}
	if (chdir(pw->pw_dir) < 0 && chdir("/") < 0)
		return -errno;
	(void)setenv("HOME", pw->pw_dir, 1);
	(void)setenv("USER", pw->pw_name, 1);
	(void)setenv("LOGNAME", pw->pw_name, 1);
	if (pw->pw_shell && pw->pw_shell[0] == '/') {
		(void)setenv("SHELL", pw->pw_shell, 1);
		*ret_shell = pw->pw_shell;
	}
	(void)setsid();
	return 0;
}

static void
reset_signals(void)
{
	sigset_t all;
	int s;

	for (s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)signal(s, SIG_DFL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
}

/* Move fds to 0, 1, 2 and close everything else. */
static int
setup_stdio(int in, int out, int err)
{
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		return -errno;
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0) {
		int fd;

		for (fd = 3; fd < 1024; fd++)
			(void)close(fd);
	}
	return 0;
}

/*
 * The fast way to start a service: everything the child needs is prepared
 * here, in the parent, and the child makes system calls only.  It shares
 * our memory until it execs (clone with CLONE_VM | CLONE_VFORK, as
 * posix_spawn does): no copy of the page tables, and none of the
 * copy-on-write faults that a fork()ed child and its parent take (a user
 * lookup in a fork child alone faults in much of libc's data).  So the
 * child must not allocate, use stdio or NSS, or call libc's set*id()
 * (they would signal our threads): raw system calls only.  What fails in
 * it, it leaves in fail_step/fail_errno, and we print it on its stderr as
 * the fork path's child would.  Anything unusual (no such user, a wrong
 * one, bad service words, no memory) takes the fork path, whose child
 * reports it exactly as before.
 */
enum spawn_step {
	SPAWN_OK,
	SPAWN_FAIL_SILENT, /* dup2, chdir: exit 125, no message */
	SPAWN_FAIL_IDS,
	SPAWN_FAIL_EXEC,
	SPAWN_STEP_MAX
};

struct spawn_plan {
	int fd[3]; /* become 0, 1, 2 */
	const char *path;
	const char *user;
	char *const *argv;
	char **envp;
	struct rpc_exec rpc; /* an RPC service's argv and variables */
	const char *shell_argv[4];
	char shell_arg0[64];
	char *set[5]; /* HOME, USER, LOGNAME, SHELL, as become_user sets */
	bool set_ids;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	char *home; /* chdir there, else "/"; NULL: stay */
	char *shell;
	/* written by the child */
	volatile enum spawn_step fail_step;
	volatile int fail_errno;
};

static void
spawn_plan_free(struct spawn_plan *p)
{
	size_t i;

	rpc_exec_free(&p->rpc);
	for (i = 0; i < ARRAY_SIZE(p->set); i++)
		free(p->set[i]);
	free(p->envp);
	free(p->groups);
	free(p->home);
	free(p->shell);
}

/* become_user's lookups, done here.  0, or -1: take the fork path. */
static int
spawn_plan_user(struct spawn_plan *p, const char *user)
{
	struct passwd *pw;
	size_t n = 0;
	int ng = 16;

	if (user == NULL)
		return 0;
	if (geteuid() != 0) {
		pw = getpwuid(geteuid());
		return pw != NULL && strcmp(pw->pw_name, user) == 0 ? 0 : -1;
	}
	pw = getpwnam(user);
	if (pw == NULL || pw->pw_dir == NULL)
		return -1;
	p->home = strdup(pw->pw_dir);
	if (p->home == NULL ||
	    asprintf(&p->set[n++], "HOME=%s", pw->pw_dir) < 0 ||
	    asprintf(&p->set[n++], "USER=%s", pw->pw_name) < 0 ||
	    asprintf(&p->set[n++], "LOGNAME=%s", pw->pw_name) < 0)
		return -1;
	if (pw->pw_shell && pw->pw_shell[0] == '/') {
		p->shell = strdup(pw->pw_shell);
		if (p->shell == NULL ||
		    asprintf(&p->set[n++], "SHELL=%s", pw->pw_shell) < 0)
			return -1;
	}
	if (pw->pw_uid == 0 && getuid() == 0)
		return 0;
	/* initgroups(): the user's groups, at most NGROUPS_MAX of them */
	p->set_ids = true;
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	for (;;) {
		int got = ng;
		gid_t *g = reallocarray(p->groups, (size_t)ng, sizeof(*g));

		if (g == NULL)
			return -1;
		p->groups = g;
		if (getgrouplist(pw->pw_name, pw->pw_gid, g, &got) >= 0) {
			long max = sysconf(_SC_NGROUPS_MAX);

			p->ngroups = max > 0 && got > max ? (int)max : got;
			return 0;
		}
		if (got <= ng || got > 65536)
			return -1;
		ng = got;
	}
}

/* Everything but the fds.  0, or -1: take the fork path. */
static int
spawn_plan_init(struct spawn_plan *p, const char *prog, const struct qcmd *c,
    const char *user)
{
	char err[128];

	if (spawn_plan_user(p, user) < 0)
		return -1;
	if (prog != NULL) {
		if (rpc_exec_prepare(prog, c, &p->rpc, err, sizeof(err)) < 0)
			return -1;
		p->path = prog;
		p->argv = (char *const *)p->rpc.argv;
		p->envp = env_build(environ, p->set, true, &p->rpc);
	} else {
		/*
		 * As root for a user, a login shell, as su - would give; the
		 * fork path tests this after become_user, so only if we are
		 * still root then.
		 */
		bool login = geteuid() == 0 && user != NULL &&
		    (!p->set_ids || p->uid == 0);
		const char *shell = login && p->shell ? p->shell : "/bin/sh";
		const char *base = strrchr(shell, '/');

		if (login)
			(void)snprintf(p->shell_arg0, sizeof(p->shell_arg0),
			    "-%s", base ? base + 1 : shell);
		else
			(void)str_copy(
			    p->shell_arg0, sizeof(p->shell_arg0), "sh");
		p->shell_argv[0] = p->shell_arg0;
		p->shell_argv[1] = "-c";
		p->shell_argv[2] = c->command;
		p->path = shell;
		p->argv = (char *const *)p->shell_argv;
		p->envp = env_build(environ, p->set, false, NULL);
	}
	p->user = user;
	return p->envp == NULL ? -1 : 0;
}

/* Stack of the child until it execs: its few frames, with room to spare. */
#define SPAWN_STACK_SIZE (64u * 1024u)

/*
 * The child: system calls only (see above), so it is not instrumented by
 * ASan either (it runs on a stack of its own that ASan knows nothing of).
 * Never returns.
 */
__attribute__((no_sanitize_address)) static int
spawn_child(void *arg)
{
	struct spawn_plan *p = arg;
	sigset_t none;
	int s;

	for (s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)signal(s, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(p->fd[0], 0) < 0 || dup2(p->fd[1], 1) < 0 ||
	    dup2(p->fd[2], 2) < 0) {
		p->fail_step = SPAWN_FAIL_SILENT;
		_exit(QREXEC_EXIT_PROBLEM);
	}
	/* every other fd is close-on-exec: this only tidies (may be ENOSYS) */
	(void)syscall(SYS_close_range, 3U, ~0U, 0U);
	/* a service's files are not the log a qrexec-daemon caps */
	priv_log_uncap();
	if (p->set_ids &&
	    (syscall(SYS_SETGROUPS, (size_t)p->ngroups, p->groups) < 0 ||
	        syscall(SYS_SETGID, p->gid) < 0 ||
	        syscall(SYS_SETUID, p->uid) < 0)) {
		p->fail_errno = errno;
		p->fail_step = SPAWN_FAIL_IDS;
		_exit(QREXEC_EXIT_PROBLEM);
	}
	if (p->home != NULL) {
		if (chdir(p->home) < 0 && chdir("/") < 0) {
			p->fail_step = SPAWN_FAIL_SILENT;
			_exit(QREXEC_EXIT_PROBLEM);
		}
		(void)setsid();
	}
	execve(p->path, p->argv, p->envp);
	p->fail_errno = errno;
	p->fail_step = SPAWN_FAIL_EXEC;
	_exit(p->argv == (char *const *)p->rpc.argv && errno == ENOENT ?
	        QREXEC_EXIT_SERVICE_NOT_FOUND :
	        QREXEC_EXIT_PROBLEM);
}

/*
 * Start the child of a prepared plan: clone(CLONE_VM | CLONE_VFORK), as
 * posix_spawn does, on a stack of its own; we resume once it has exec'd
 * or exited.  Every signal stays blocked until the child has reset its
 * handlers, so none of ours runs in it.  pid, or -1 with errno.
 */
static pid_t
spawn_clone(struct spawn_plan *p)
{
	sigset_t all, old;
	void *stack;
	pid_t pid;
	int e;

	stack = mmap(NULL, SPAWN_STACK_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -1;
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, &old);
	pid = clone(spawn_child, (uint8_t *)stack + SPAWN_STACK_SIZE,
	    CLONE_VM | CLONE_VFORK | SIGCHLD, p);
	e = errno;
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	(void)munmap(stack, SPAWN_STACK_SIZE);
	errno = e;
	return pid;
}

/* Say on the child's stderr what went wrong in it, as the fork path does. */
static void
spawn_report(const struct spawn_plan *p)
{
	FILE *f;
	int fd;

	if (p->fail_step != SPAWN_FAIL_IDS && p->fail_step != SPAWN_FAIL_EXEC)
		return;
	fd = dup(p->fd[2]);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		if (fd >= 0)
			(void)close(fd);
		return;
	}
	if (p->fail_step == SPAWN_FAIL_IDS)
		(void)fprintf(f, "qrexec: cannot become %s: %s\n", p->user,
		    strerror(p->fail_errno));
	else if (p->argv == (char *const *)p->rpc.argv)
		(void)fprintf(f, "qrexec: exec %s: %s\n", p->path,
		    strerror(p->fail_errno));
	else
		(void)fprintf(
		    f, "qrexec: exec shell: %s\n", strerror(p->fail_errno));
	(void)fclose(f);
}

int
svc_spawn(const char *prog, const struct qcmd *c, const char *user,
    enum svc_stdio stdio, char *const *extra_env, struct svc_proc *ret)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	struct spawn_plan plan;
	int nullfd = -1, r;
	pid_t pid;

	memset(&plan, 0, sizeof(plan));
	ret->pid = -1;
	ret->in_fd = ret->out_fd = ret->err_fd = -1;
	if (stdio == SVC_STDIO_NULL) {
		nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nullfd < 0)
			return -errno;
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) <
		        0 ||
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) <
		        0) {
			r = -errno;
			goto out_close;
		}
		if (stdio == SVC_STDIO_PIPES && pipe2(errp, O_CLOEXEC) < 0) {
			r = -errno;
			goto out_close;
		}
	}
	if (extra_env == NULL && spawn_plan_init(&plan, prog, c, user) == 0) {
		if (stdio == SVC_STDIO_NULL)
			plan.fd[0] = plan.fd[1] = plan.fd[2] = nullfd;
		else {
			plan.fd[0] = in[0];
			plan.fd[1] = out[1];
			plan.fd[2] = stdio == SVC_STDIO_PIPES ? errp[1] : 2;
		}
		pid = spawn_clone(&plan);
		if (pid > 0)
			spawn_report(&plan);
		spawn_plan_free(&plan);
		if (pid < 0) {
			r = -errno;
			goto out_close;
		}
		goto started;
	}
	spawn_plan_free(&plan);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out_close;
	}
	if (pid == 0) {
		const char *shell;
		int e;

		reset_signals();
		priv_log_uncap();
		if (stdio == SVC_STDIO_NULL)
			e = setup_stdio(nullfd, nullfd, nullfd);
		else
			e = setup_stdio(in[0], out[1],
			    stdio == SVC_STDIO_PIPES ? errp[1] : 2);
		if (e < 0)
			_exit(QREXEC_EXIT_PROBLEM);
		for (; extra_env && *extra_env; extra_env++)
			(void)putenv(*extra_env);
		if (become_user(user, &shell) < 0)
			_exit(QREXEC_EXIT_PROBLEM);
		if (prog != NULL)
			svc_exec_rpc(prog, c);
		if (geteuid() == 0 && user != NULL) {
			/* a login shell, as su - would give */
			char arg0[64];
			const char *base = strrchr(shell, '/');

			(void)snprintf(
			    arg0, sizeof(arg0), "-%s", base ? base + 1 : shell);
			execl(shell, arg0, "-c", c->command, (char *)NULL);
		} else {
			execl("/bin/sh", "sh", "-c", c->command, (char *)NULL);
		}
		(void)fprintf(
		    stderr, "qrexec: exec shell: %s\n", strerror(errno));
		_exit(QREXEC_EXIT_PROBLEM);
	}
started:
	ret->pid = pid;
	if (stdio != SVC_STDIO_NULL) {
		ret->in_fd = in[1];
		ret->out_fd = out[0];
		in[1] = out[0] = -1;
		if (stdio == SVC_STDIO_PIPES) {
			ret->err_fd = errp[0];
			errp[0] = -1;
		}
	}
	r = 0;
out_close:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&nullfd);
	return r;
}

int
svc_wait_for_session(
    const char *path_list, const char *source, const char *user)
{
	char path[PATH_MAX];
	int p[2], status, r;
	pid_t pid;

	r = svc_find_file(path_list, "qubes.WaitForSession", path, sizeof(path),
	    NULL, 0, NULL);
	if (r < 0)
		return r;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		(void)close(p[0]);
		(void)close(p[1]);
		return r;
	}
	if (pid == 0) {
		int nullfd = open("/dev/null", O_RDWR);

		reset_signals();
		if (nullfd < 0 || setup_stdio(p[0], nullfd, 2) < 0)
			_exit(QREXEC_EXIT_PROBLEM);
		(void)setenv("QREXEC_REMOTE_DOMAIN", source, 1);
		execl(path, "qubes.WaitForSession", (char *)NULL);
		_exit(QREXEC_EXIT_PROBLEM);
	}
	(void)close(p[0]);
	if (user != NULL) {
		(void)!write(p[1], user, strlen(user));
		(void)!write(p[1], "\n", 1);
	}
	(void)close(p[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
