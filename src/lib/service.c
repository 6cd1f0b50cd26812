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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/proto/qrexec.h"
#include "lib/service.h"
#include "lib/sock.h"
#include "lib/util.h"

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

void
svc_exec_rpc(const char *prog, const struct qcmd *c)
{
	char *words = NULL, *tok, *save = NULL;
	const char *argv_w[8];
	char **env = NULL;
	const char *argv[3];
	size_t n = 0, nenv = 0, i;
	const char *plus;

	for (i = 0; environ[i]; i++)
		nenv++;
	env = calloc(nenv + 8, sizeof(*env));
	words = strdup(c->rpc_words);
	if (env == NULL || words == NULL)
		goto problem;
	for (tok = strtok_r(words, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		if (n >= ARRAY_SIZE(argv_w)) {
			(void)fprintf(stderr,
			    "qrexec: too many words in "
			    "service command\n");
			_exit(QREXEC_EXIT_PROBLEM);
		}
		argv_w[n++] = tok;
	}
	/* "service source" or "service source name|keyword target" */
	if (n != 2 && n != 4) {
		(void)fprintf(stderr,
		    "qrexec: invalid number of words in "
		    "service command: %zu\n",
		    n);
		_exit(QREXEC_EXIT_PROBLEM);
	}
	nenv = 0;
	for (i = 0; environ[i]; i++)
		if (!strip_env(environ[i]))
			env[nenv++] = environ[i];
	if (n == 4) {
		if (asprintf(&env[nenv++], "QREXEC_REQUESTED_TARGET_TYPE=%s",
		        argv_w[2]) < 0)
			goto problem;
		if (strcmp(argv_w[2], "name") == 0) {
			if (asprintf(&env[nenv++], "QREXEC_REQUESTED_TARGET=%s",
			        argv_w[3]) < 0)
				goto problem;
		} else if (strcmp(argv_w[2], "keyword") == 0) {
			if (asprintf(&env[nenv++],
			        "QREXEC_REQUESTED_TARGET_KEYWORD=%s",
			        argv_w[3]) < 0)
				goto problem;
		}
	} else {
		env[nenv++] = (char *)"QREXEC_REQUESTED_TARGET_TYPE=";
	}
	if (asprintf(&env[nenv++], "QREXEC_SERVICE_FULL_NAME=%s", argv_w[0]) <
	    0)
		goto problem;
	if (asprintf(&env[nenv++], "QREXEC_REMOTE_DOMAIN=%s", argv_w[1]) < 0)
		goto problem;
	argv[0] = prog;
	argv[1] = NULL;
	argv[2] = NULL;
	plus = strchr(argv_w[0], '+');
	if (plus != NULL) {
		if (asprintf(&env[nenv++], "QREXEC_SERVICE_ARGUMENT=%s",
		        plus + 1) < 0)
			goto problem;
		if (plus[1] != '\0')
			argv[1] = plus + 1;
	}
	env[nenv] = NULL;
	execve(prog, (char *const *)argv, env);
	(void)fprintf(stderr, "qrexec: exec %s: %s\n", prog, strerror(errno));
	_exit(errno == ENOENT ? QREXEC_EXIT_SERVICE_NOT_FOUND :
	                        QREXEC_EXIT_PROBLEM);
problem:
	(void)fprintf(stderr, "qrexec: out of memory\n");
	_exit(QREXEC_EXIT_PROBLEM);
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

int
svc_spawn(const char *prog, const struct qcmd *c, const char *user,
    enum svc_stdio stdio, char *const *extra_env, struct svc_proc *ret)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	int nullfd = -1, r;
	pid_t pid;

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
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out_close;
	}
	if (pid == 0) {
		const char *shell;
		int e;

		reset_signals();
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
