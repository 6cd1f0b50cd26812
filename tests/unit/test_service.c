/*
 * test_service.c - finding, connecting to and starting services
 * (src/lib/service.c), in a temp dir of real files, sockets and symlinks.
 *
 *   svc_find_file: the path list (empty entries, earlier directories
 *     first), names over NAME_MAX, the buffer at its exact size and one
 *     short, dangling symlinks (skipped, as in Qubes) and symlinks through
 *     a file (an error, no fall-through), /dev/tcp links;
 *   svc_lookup: NAME+ARG before NAME, executables (socket-only options
 *     cleared), sockets, non-executable files, /dev/tcp links with host
 *     and port from the link or the argument, every malformed variant;
 *   svc_connect: socket and TCP services, refused connections, bad hosts;
 *   svc_spawn/svc_exec_rpc: Qubes' argv and environment, exit codes 127
 *     and 125, shell commands, users, stdio modes, fds and signal state
 *     of the child, socketpair/pipe2/fork failures;
 *   svc_wait_for_session: input, environment and status.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/io.h"
#include "lib/qcmd.h"
#include "lib/service.h"
#include "unit.h"

struct fixture {
	char *a, *b; /* two service directories */
	char *list;  /* "a::b:" */
	struct qcmd *c;
	int fds; /* open at the start */
};

static int
fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n - 1;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	fault_reset();
	if (f == NULL)
		return -1;
	f->a = unit_tmpdir();
	f->b = unit_tmpdir();
	if (asprintf(&f->list, "%s::%s:", f->a, f->b) < 0)
		return -1;
	f->fds = fd_count();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	fault_reset();
	/* every path closes what it opened, in parent and tests alike */
	assert_int_equal(fd_count(), f->fds);
	qcmd_free(f->c);
	unit_rmtree(f->a);
	unit_rmtree(f->b);
	free(f->list);
	free(f);
	return 0;
}

static void
link_at(const char *dir, const char *name, const char *target)
{
	char *p = unit_path(dir, name);

	assert_int_equal(symlink(target, p), 0);
	free(p);
}

static void
sock_at(const char *dir, const char *name, int *ret_fd)
{
	char *p = unit_path(dir, name);

	*ret_fd = unit_listen(p);
	free(p);
}

/* Parse "QUBESRPC words" into f->c. */
static struct qcmd *
cmd(struct fixture *f, const char *words)
{
	char line[512], err[128];

	qcmd_free(f->c);
	f->c = NULL;
	(void)snprintf(line, sizeof(line), "QUBESRPC %s", words);
	assert_int_equal(qcmd_parse(line, false, &f->c, err, sizeof(err)), 0);
	return f->c;
}

static void
test_paths_from_env(void **state)
{
	(void)state;
	(void)unsetenv("QREXEC_SERVICE_PATH");
	(void)unsetenv("QUBES_RPC_CONFIG_PATH");
	assert_string_equal(svc_path(), SVC_DEFAULT_PATH);
	assert_string_equal(svc_config_path(), SVC_DEFAULT_CONFIG_PATH);
	(void)setenv("QREXEC_SERVICE_PATH", "/x:/y", 1);
	(void)setenv("QUBES_RPC_CONFIG_PATH", "/z", 1);
	assert_string_equal(svc_path(), "/x:/y");
	assert_string_equal(svc_config_path(), "/z");
	(void)unsetenv("QREXEC_SERVICE_PATH");
	(void)unsetenv("QUBES_RPC_CONFIG_PATH");
}

static void
test_find_file(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], *want, name[NAME_MAX + 2];
	struct stat st;

	/* absent everywhere */
	assert_int_equal(
	    svc_find_file(f->list, "svc", path, sizeof(path), NULL, 0, NULL),
	    -ENOENT);
	assert_int_equal(
	    svc_find_file("", "svc", path, sizeof(path), NULL, 0, NULL),
	    -ENOENT);
	/* in the later directory only, then shadowed by the earlier one */
	unit_write_file(f->b, "svc", "b", 0644);
	assert_int_equal(
	    svc_find_file(f->list, "svc", path, sizeof(path), &st, 0, NULL), 0);
	want = unit_path(f->b, "svc");
	assert_string_equal(path, want);
	free(want);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 1);
	unit_write_file(f->a, "svc", "aa", 0644);
	assert_int_equal(
	    svc_find_file(f->list, "svc", path, sizeof(path), &st, 0, NULL), 0);
	want = unit_path(f->a, "svc");
	assert_string_equal(path, want);
	assert_int_equal(st.st_size, 2);
	/* the buffer at exactly the size needed, and one byte short */
	assert_int_equal(
	    svc_find_file(f->a, "svc", path, strlen(want) + 1, NULL, 0, NULL),
	    0);
	assert_int_equal(
	    svc_find_file(f->a, "svc", path, strlen(want), NULL, 0, NULL),
	    -ENAMETOOLONG);
	free(want);
	/* a name longer than NAME_MAX cannot exist */
	memset(name, 'n', NAME_MAX + 1);
	name[NAME_MAX + 1] = '\0';
	assert_int_equal(
	    svc_find_file(f->list, name, path, sizeof(path), NULL, 0, NULL),
	    -ENOENT);
	/* a symlink to a file is followed */
	link_at(f->a, "alias", "svc");
	assert_int_equal(
	    svc_find_file(f->list, "alias", path, sizeof(path), &st, 0, NULL),
	    0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 2);
}

static void
test_find_file_broken(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], link[64], *want;
	struct stat st;

	/* a dangling symlink is skipped, as in Qubes: the next one counts */
	link_at(f->a, "svc", "does-not-exist");
	assert_int_equal(svc_find_file(f->list, "svc", path, sizeof(path), &st,
	                     sizeof(link), link),
	    -ENOENT);
	unit_write_file(f->b, "svc", "b", 0755);
	assert_int_equal(svc_find_file(f->list, "svc", path, sizeof(path), &st,
	                     sizeof(link), link),
	    0);
	want = unit_path(f->b, "svc");
	assert_string_equal(path, want);
	free(want);
	/* a symlink through a file is an error, not "try the next" */
	link_at(f->a, "bad", "/etc/passwd/x");
	unit_write_file(f->b, "bad", "b", 0755);
	assert_int_equal(svc_find_file(f->list, "bad", path, sizeof(path), &st,
	                     sizeof(link), link),
	    -ENOTDIR);
	/* a symlink loop too */
	link_at(f->a, "loop", "loop");
	assert_int_equal(svc_find_file(f->list, "loop", path, sizeof(path), &st,
	                     sizeof(link), link),
	    -ELOOP);
}

static void
test_find_file_tcp(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], link[64];
	struct stat st;
	size_t n = strlen("/dev/tcp/127.0.0.1/22");

	link_at(f->b, "tcp", "/dev/tcp/127.0.0.1/22");
	/* with ret_link: the link itself, not followed */
	assert_int_equal(svc_find_file(f->list, "tcp", path, sizeof(path), &st,
	                     sizeof(link), link),
	    0);
	assert_true(S_ISLNK(st.st_mode));
	assert_string_equal(link, "/dev/tcp/127.0.0.1/22");
	/* the link buffer: room for the text and its NUL, and one less */
	assert_int_equal(
	    svc_find_file(f->list, "tcp", path, sizeof(path), &st, n + 2, link),
	    0);
	assert_int_equal(
	    svc_find_file(f->list, "tcp", path, sizeof(path), &st, n + 1, link),
	    -ENAMETOOLONG);
	/* without ret_link it is followed, and does not exist */
	assert_int_equal(
	    svc_find_file(f->list, "tcp", path, sizeof(path), &st, 0, NULL),
	    -ENOENT);
	/* "/dev/tcp" alone is one; "/dev/tcpx" and "/dev/tc" are not */
	link_at(f->a, "bare", "/dev/tcp");
	assert_int_equal(svc_find_file(f->list, "bare", path, sizeof(path), &st,
	                     sizeof(link), link),
	    0);
	assert_string_equal(link, "/dev/tcp");
	link_at(f->a, "x", "/dev/tcpx");
	assert_int_equal(svc_find_file(f->list, "x", path, sizeof(path), &st,
	                     sizeof(link), link),
	    -ENOENT);
	link_at(f->a, "y", "/dev/tc");
	assert_int_equal(svc_find_file(f->list, "y", path, sizeof(path), &st,
	                     sizeof(link), link),
	    -ENOENT);
}

static void
test_lookup_exec(void **state)
{
	struct fixture *f = *state;
	struct svc_target t;
	struct qcmd *c;
	char err[256], *want;

	unit_write_file(f->b, "qubes.Svc", "#!/bin/sh\n", 0755);
	c = cmd(f, "qubes.Svc+arg dom0");
	/* options for socket services make no sense for executables */
	c->exit_on_client_eof = c->exit_on_service_eof = true;
	c->send_descriptor = false;
	assert_int_equal(svc_lookup(f->list, c, &t, err, sizeof(err)), 0);
	assert_int_equal(t.kind, SVC_EXEC);
	want = unit_path(f->b, "qubes.Svc");
	assert_string_equal(t.path, want);
	free(want);
	assert_false(c->exit_on_client_eof);
	assert_false(c->exit_on_service_eof);
	assert_true(c->send_descriptor);
	/* NAME+ARG before NAME, wherever they are */
	unit_write_file(f->b, "qubes.Svc+arg", "#!/bin/sh\n", 0755);
	unit_write_file(f->a, "qubes.Svc", "#!/bin/sh\n", 0755);
	assert_int_equal(svc_lookup(f->list, c, &t, err, sizeof(err)), 0);
	want = unit_path(f->b, "qubes.Svc+arg");
	assert_string_equal(t.path, want);
	free(want);
	c = cmd(f, "qubes.Svc+other dom0");
	assert_int_equal(svc_lookup(f->list, c, &t, err, sizeof(err)), 0);
	want = unit_path(f->a, "qubes.Svc");
	assert_string_equal(t.path, want);
	free(want);
	/* no argument: "qubes.Svc+" is looked up first */
	unit_write_file(f->b, "qubes.Svc+", "#!/bin/sh\n", 0755);
	c = cmd(f, "qubes.Svc dom0");
	assert_int_equal(svc_lookup(f->list, c, &t, err, sizeof(err)), 0);
	want = unit_path(f->b, "qubes.Svc+");
	assert_string_equal(t.path, want);
	free(want);
	/* a dangling NAME+ARG falls back to NAME */
	link_at(f->a, "qubes.Svc+dangling", "nowhere");
	c = cmd(f, "qubes.Svc+dangling dom0");
	assert_int_equal(svc_lookup(f->list, c, &t, err, sizeof(err)), 0);
	want = unit_path(f->a, "qubes.Svc");
	assert_string_equal(t.path, want);
	free(want);
}

static void
test_lookup_errors(void **state)
{
	struct fixture *f = *state;
	struct svc_target t;
	char err[256], *p;

	assert_int_equal(
	    svc_lookup(f->list, cmd(f, "none+x dom0"), &t, err, sizeof(err)),
	    -ENOENT);
	assert_string_equal(err, "service not found: none+x");
	/* neither executable nor a socket */
	unit_write_file(f->a, "plain", "data", 0644);
	assert_int_equal(
	    svc_lookup(f->list, cmd(f, "plain dom0"), &t, err, sizeof(err)),
	    -EACCES);
	assert_non_null(strstr(err, "not executable and not a socket"));
	p = unit_path(f->a, "dir");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	assert_int_equal(
	    svc_lookup(f->list, cmd(f, "dir dom0"), &t, err, sizeof(err)),
	    -EACCES);
	/* a broken entry: an error, not a fall-through to the next */
	link_at(f->a, "broken+x", "/etc/passwd/x");
	unit_write_file(f->a, "broken", "#!/bin/sh\n", 0755);
	assert_int_equal(
	    svc_lookup(f->list, cmd(f, "broken+x dom0"), &t, err, sizeof(err)),
	    -ENOTDIR);
	assert_non_null(strstr(err, "looking up broken+x"));
}

static void
test_lookup_socket(void **state)
{
	struct fixture *f = *state;
	struct svc_target t;
	char err[256];
	int lfd, fd, s;

	sock_at(f->b, "qubes.Sock", &lfd);
	assert_int_equal(svc_lookup(f->list, cmd(f, "qubes.Sock+a dom0"), &t,
	                     err, sizeof(err)),
	    0);
	assert_int_equal(t.kind, SVC_SOCKET);
	fd = svc_connect(&t, err, sizeof(err));
	assert_true(fd >= 0);
	s = accept(lfd, NULL, NULL);
	assert_true(s >= 0);
	assert_int_equal(write(fd, "q", 1), 1);
	assert_int_equal(read(s, err, 1), 1);
	assert_int_equal(err[0], 'q');
	(void)close(s);
	(void)close(fd);
	/* nobody listening any more */
	(void)close(lfd);
	err[0] = '\0';
	assert_int_equal(svc_connect(&t, err, sizeof(err)), -ECONNREFUSED);
	assert_non_null(strstr(err, "connect "));
}

/* TCP lookup of `words` with the symlink `target` as qubes.Tcp. */
static int
tcp(struct fixture *f, const char *target, const char *words,
    struct svc_target *t, char *err, size_t errlen)
{
	char *p = unit_path(f->a, "qubes.Tcp");

	(void)unlink(p);
	assert_int_equal(symlink(target, p), 0);
	free(p);
	err[0] = '\0';
	return svc_lookup(f->list, cmd(f, words), t, err, errlen);
}

static void
test_lookup_tcp(void **state)
{
	struct fixture *f = *state;
	struct svc_target t;
	char err[256];

	/* host and port in the link; no argument allowed */
	assert_int_equal(tcp(f, "/dev/tcp/127.0.0.1/22", "qubes.Tcp dom0", &t,
	                     err, sizeof(err)),
	    0);
	assert_int_equal(t.kind, SVC_TCP);
	assert_string_equal(t.host, "127.0.0.1");
	assert_string_equal(t.port, "22");
	assert_int_equal(tcp(f, "/dev/tcp/127.0.0.1/22", "qubes.Tcp+80 dom0",
	                     &t, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "unexpected argument"));
	/* host in the link, port from the argument */
	assert_int_equal(tcp(f, "/dev/tcp/localhost", "qubes.Tcp+8080 dom0", &t,
	                     err, sizeof(err)),
	    0);
	assert_string_equal(t.host, "localhost");
	assert_string_equal(t.port, "8080");
	assert_int_equal(tcp(f, "/dev/tcp/localhost", "qubes.Tcp dom0", &t, err,
	                     sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "no argument"));
	/* both from the argument, '+' in the host standing for ':' */
	assert_int_equal(tcp(f, "/dev/tcp", "qubes.Tcp+10.0.0.1+443 dom0", &t,
	                     err, sizeof(err)),
	    0);
	assert_string_equal(t.host, "10.0.0.1");
	assert_string_equal(t.port, "443");
	assert_int_equal(tcp(f, "/dev/tcp", "qubes.Tcp+fe80+1+22 dom0", &t, err,
	                     sizeof(err)),
	    0);
	assert_string_equal(t.host, "fe80:1");
	assert_string_equal(t.port, "22");
	assert_int_equal(tcp(f, "/dev/tcp", "qubes.Tcp+my_host+22 dom0", &t,
	                     err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "underscore"));
	assert_int_equal(
	    tcp(f, "/dev/tcp", "qubes.Tcp+host dom0", &t, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "no port"));
	assert_int_equal(
	    tcp(f, "/dev/tcp", "qubes.Tcp dom0", &t, err, sizeof(err)),
	    -EINVAL);
	/* "/dev/tcp/" without a host */
	assert_int_equal(
	    tcp(f, "/dev/tcp/", "qubes.Tcp+22 dom0", &t, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "not followed by a host"));
}

static void
test_lookup_tcp_ports(void **state)
{
	static const char *const good[] = {"1", "65535", "80"};
	static const char *const bad[] = {
	    "0", "65536", "080", "-1", "8a", "99999999999"};
	struct fixture *f = *state;
	struct svc_target t;
	char err[256], link[64], words[64], host[300], *lnk, *w;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		(void)snprintf(link, sizeof(link), "/dev/tcp/h/%s", good[i]);
		assert_int_equal(
		    tcp(f, link, "qubes.Tcp dom0", &t, err, sizeof(err)), 0);
		assert_string_equal(t.port, good[i]);
		(void)snprintf(
		    words, sizeof(words), "qubes.Tcp+h+%s dom0", good[i]);
		assert_int_equal(
		    tcp(f, "/dev/tcp", words, &t, err, sizeof(err)), 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(link, sizeof(link), "/dev/tcp/h/%s", bad[i]);
		assert_int_equal(
		    tcp(f, link, "qubes.Tcp dom0", &t, err, sizeof(err)),
		    -EINVAL);
		assert_non_null(strstr(err, "invalid port"));
	}
	/* a host of 255 bytes fits; 256 does not (link or argument) */
	memset(host, 'h', sizeof(host));
	host[255] = '\0';
	assert_true(asprintf(&lnk, "/dev/tcp/%s/1", host) > 0);
	assert_int_equal(
	    tcp(f, lnk, "qubes.Tcp dom0", &t, err, sizeof(err)), 0);
	assert_string_equal(t.host, host);
	free(lnk);
	assert_true(asprintf(&w, "qubes.Tcp+%s+1 dom0", host) > 0);
	assert_int_equal(tcp(f, "/dev/tcp", w, &t, err, sizeof(err)), 0);
	assert_string_equal(t.host, host);
	free(w);
	host[255] = 'h';
	host[256] = '\0';
	assert_true(asprintf(&lnk, "/dev/tcp/%s/1", host) > 0);
	assert_int_equal(
	    tcp(f, lnk, "qubes.Tcp dom0", &t, err, sizeof(err)), -ENAMETOOLONG);
	free(lnk);
	assert_true(asprintf(&w, "qubes.Tcp+%s+1 dom0", host) > 0);
	assert_int_equal(
	    tcp(f, "/dev/tcp", w, &t, err, sizeof(err)), -ENAMETOOLONG);
	free(w);
	/* a port string too long to be any port, in the link or argument */
	memset(host, '1', 70);
	host[70] = '\0';
	assert_true(asprintf(&lnk, "/dev/tcp/h/%s", host) > 0);
	assert_int_equal(
	    tcp(f, lnk, "qubes.Tcp dom0", &t, err, sizeof(err)), -ENAMETOOLONG);
	free(lnk);
	assert_true(asprintf(&w, "qubes.Tcp+%s dom0", host) > 0);
	assert_int_equal(
	    tcp(f, "/dev/tcp/h", w, &t, err, sizeof(err)), -ENAMETOOLONG);
	free(w);
}

static void
test_connect_tcp(void **state)
{
	struct svc_target t = {.kind = SVC_TCP};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	char err[256];
	int lfd, fd, s;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
	(void)snprintf(t.host, sizeof(t.host), "127.0.0.1");
	(void)snprintf(t.port, sizeof(t.port), "%u", ntohs(sa.sin_port));
	/* bound but not listening: refused */
	assert_int_equal(svc_connect(&t, err, sizeof(err)), -ECONNREFUSED);
	assert_non_null(strstr(err, "connect 127.0.0.1 port"));
	assert_int_equal(listen(lfd, 4), 0);
	fd = svc_connect(&t, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	s = accept(lfd, NULL, NULL);
	assert_true(s >= 0);
	assert_int_equal(write(s, "t", 1), 1);
	assert_int_equal(read(fd, err, 1), 1);
	assert_int_equal(err[0], 't');
	(void)close(s);
	(void)close(fd);
	/* no socket */
	fault_set(F_SOCKET, -1, 0, 1, EMFILE);
	assert_int_equal(svc_connect(&t, err, sizeof(err)), -EMFILE);
	fault_reset();
	(void)close(lfd);
	/* only numeric hosts: no name lookups */
	(void)snprintf(t.host, sizeof(t.host), "localhost");
	assert_int_equal(svc_connect(&t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "address localhost port"));
	(void)snprintf(t.host, sizeof(t.host), "999.1.1.1");
	assert_int_equal(svc_connect(&t, err, sizeof(err)), -EINVAL);
	/* an IPv6 literal (':' or '%' in it) is looked up as IPv6 only */
	(void)snprintf(t.host, sizeof(t.host), "1.2.3.4%%lo");
	assert_int_equal(svc_connect(&t, err, sizeof(err)), -EINVAL);
}

/* Run a service to its end: read its stdout (and stderr), return status. */
static int
finish(struct svc_proc *p, const char *input, char **ret_out, char **ret_err)
{
	int status;

	if (p->in_fd >= 0) {
		if (input != NULL)
			assert_int_equal(
			    io_write_all(p->in_fd, input, strlen(input)), 0);
		(void)close(p->in_fd);
	}
	if (p->out_fd >= 0) {
		(void)unit_read_eof(p->out_fd, ret_out);
		(void)close(p->out_fd);
	} else if (ret_out != NULL) {
		*ret_out = NULL;
	}
	if (p->err_fd >= 0) {
		if (ret_err != NULL)
			(void)unit_read_eof(p->err_fd, ret_err);
		(void)close(p->err_fd);
	}
	assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static const char env_script[] =
    "#!/bin/sh\n"
    "printf '%s|' \"$#\" \"$@\"; echo\n"
    "env | grep -E '^(QREXEC|EXTRA)' | LC_ALL=C sort\n"
    "cat\n"
    "echo to-stderr >&2\n"
    "exit 7\n";

static void
test_spawn_rpc(void **state)
{
	struct fixture *f = *state;
	char *const extra[] = {"EXTRA=1", NULL};
	char *prog = unit_path(f->a, "qubes.Env"), *out, *errs;
	struct svc_proc p;

	unit_write_file(f->a, "qubes.Env", env_script, 0755);
	(void)setenv("QREXEC_INHERITED", "x", 1);
	(void)setenv("QREXEC_SERVICE_PATH", "/kept", 1);
	(void)setenv("QREXEC_AGENT_PID", "42", 1);
	assert_int_equal(svc_spawn(prog, cmd(f, "qubes.Env+a.b src"), NULL,
	                     SVC_STDIO_PIPES, extra, &p),
	    0);
	assert_true(p.pid > 0);
	assert_int_equal(finish(&p, "in\n", &out, &errs), 7);
	assert_string_equal(out,
	    "1|a.b|\n"
	    "EXTRA=1\n"
	    "QREXEC_AGENT_PID=42\n"
	    "QREXEC_REMOTE_DOMAIN=src\n"
	    "QREXEC_REQUESTED_TARGET_TYPE=\n"
	    "QREXEC_SERVICE_ARGUMENT=a.b\n"
	    "QREXEC_SERVICE_FULL_NAME=qubes.Env+a.b\n"
	    "QREXEC_SERVICE_PATH=/kept\n"
	    "in\n");
	assert_string_equal(errs, "to-stderr\n");
	free(out);
	free(errs);
	/* the parent's environment is unchanged */
	assert_null(getenv("EXTRA"));
	(void)unsetenv("QREXEC_INHERITED");
	(void)unsetenv("QREXEC_SERVICE_PATH");
	(void)unsetenv("QREXEC_AGENT_PID");

	/* a requested target by name; stderr not captured */
	assert_int_equal(svc_spawn(prog, cmd(f, "qubes.Env src name work"),
	                     NULL, SVC_STDIO_PIPES_NOERR, NULL, &p),
	    0);
	assert_int_equal(p.err_fd, -1);
	assert_int_equal(finish(&p, NULL, &out, NULL), 7);
	assert_non_null(strstr(out, "0|\n"));
	assert_non_null(strstr(out, "QREXEC_REQUESTED_TARGET=work\n"));
	assert_non_null(strstr(out, "QREXEC_REQUESTED_TARGET_TYPE=name\n"));
	assert_null(strstr(out, "QREXEC_SERVICE_ARGUMENT"));
	free(out);
	/* by keyword; an empty argument is no argv[1] */
	assert_int_equal(
	    svc_spawn(prog, cmd(f, "qubes.Env+ src keyword @default"), NULL,
	        SVC_STDIO_PIPES_NOERR, NULL, &p),
	    0);
	assert_int_equal(finish(&p, NULL, &out, NULL), 7);
	assert_non_null(strstr(out, "0|\n"));
	assert_non_null(
	    strstr(out, "QREXEC_REQUESTED_TARGET_KEYWORD=@default\n"));
	assert_non_null(strstr(out, "QREXEC_SERVICE_ARGUMENT=\n"));
	free(out);
	free(prog);
}

static void
test_spawn_rpc_failures(void **state)
{
	struct fixture *f = *state;
	char *prog = unit_path(f->a, "missing"), *out;
	struct svc_proc p;

	/* the program is gone: 127 */
	assert_int_equal(svc_spawn(prog, cmd(f, "svc src"), NULL,
	                     SVC_STDIO_PIPES_NOERR, NULL, &p),
	    0);
	assert_int_equal(finish(&p, NULL, &out, NULL), 127);
	free(out);
	free(prog);
	/* not executable: 125 */
	unit_write_file(f->a, "noexec", "#!/bin/sh\n", 0644);
	prog = unit_path(f->a, "noexec");
	assert_int_equal(svc_spawn(prog, cmd(f, "svc src"), NULL,
	                     SVC_STDIO_PIPES_NOERR, NULL, &p),
	    0);
	assert_int_equal(finish(&p, NULL, &out, NULL), 125);
	free(out);
	/* a wrong number of words: 3, and more than 8 */
	assert_int_equal(svc_spawn(prog, cmd(f, "svc src name"), NULL,
	                     SVC_STDIO_PIPES, NULL, &p),
	    0);
	assert_int_equal(finish(&p, NULL, &out, NULL), 125);
	free(out);
	assert_int_equal(svc_spawn(prog, cmd(f, "svc src 1 2 3 4 5 6 7"), NULL,
	                     SVC_STDIO_PIPES, NULL, &p),
	    0);
	assert_int_equal(finish(&p, NULL, &out, NULL), 125);
	free(out);
	free(prog);
}

static void
test_spawn_shell(void **state)
{
	struct fixture *f = *state;
	char line[256], err[64], *out, *errs;
	struct svc_proc p;
	struct qcmd *c;

	(void)snprintf(
	    line, sizeof(line), "read x; echo \"got $x\"; echo e >&2; exit 4");
	assert_int_equal(qcmd_parse(line, false, &c, err, sizeof(err)), 0);
	f->c = c;
	assert_int_equal(
	    svc_spawn(NULL, c, NULL, SVC_STDIO_PIPES, NULL, &p), 0);
	assert_int_equal(finish(&p, "hi\n", &out, &errs), 4);
	assert_string_equal(out, "got hi\n");
	assert_string_equal(errs, "e\n");
	free(out);
	free(errs);
	qcmd_free(c);
	f->c = NULL;

	/* everything /dev/null (MSG_JUST_EXEC) */
	(void)snprintf(
	    line, sizeof(line), "cat > %s/copied; echo x; echo y >&2", f->a);
	assert_int_equal(qcmd_parse(line, false, &c, err, sizeof(err)), 0);
	f->c = c;
	assert_int_equal(svc_spawn(NULL, c, NULL, SVC_STDIO_NULL, NULL, &p), 0);
	assert_int_equal(p.in_fd, -1);
	assert_int_equal(p.out_fd, -1);
	assert_int_equal(p.err_fd, -1);
	assert_int_equal(finish(&p, NULL, NULL, NULL), 0);
	{
		char *copied = unit_path(f->a, "copied");
		struct stat st;

		assert_int_equal(stat(copied, &st), 0);
		assert_int_equal(st.st_size, 0);
		free(copied);
	}
}

/* Run shell command line with SVC_STDIO_PIPES_NOERR; return stdout. */
static char *
shell_out(struct fixture *f, const char *line)
{
	struct svc_proc p;
	char err[64], *out;

	qcmd_free(f->c);
	assert_int_equal(qcmd_parse(line, false, &f->c, err, sizeof(err)), 0);
	assert_int_equal(
	    svc_spawn(NULL, f->c, NULL, SVC_STDIO_PIPES_NOERR, NULL, &p), 0);
	assert_int_equal(finish(&p, NULL, &out, NULL), 0);
	return out;
}

static void
test_spawn_child_state(void **state)
{
	struct fixture *f = *state;
	char *out, num[16];
	sigset_t mask, old;
	int leak;

	/*
	 * The child gets no fd beyond 0..2 (even one without CLOEXEC) and
	 * default signal dispositions and mask, whatever the parent had.
	 * "exec" keeps the shell from forking: the tool reads its own state,
	 * which is what the service starts with.
	 */
	leak = fcntl(0, F_DUPFD, 200);
	assert_true(leak >= 200);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &mask, &old), 0);
	assert_true(signal(SIGUSR2, SIG_IGN) != SIG_ERR);
	out = shell_out(f, "exec ls /proc/self/fd");
	(void)snprintf(num, sizeof(num), "\n%d\n", leak);
	assert_true(strncmp(out, "0\n1\n2\n", 6) == 0);
	assert_null(strstr(out, num));
	free(out);
	out = shell_out(f, "exec grep -E '^Sig(Blk|Ign)' /proc/self/status");
	assert_string_equal(out,
	    "SigBlk:\t0000000000000000\n"
	    "SigIgn:\t0000000000000000\n");
	free(out);
	(void)close(leak);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	assert_true(signal(SIGUSR2, SIG_DFL) != SIG_ERR);
}

/* out ends with the line want (a login shell may print before it) */
static void
assert_ends_with(const char *out, const char *want)
{
	size_t o = strlen(out), w = strlen(want);

	assert_true(o >= w);
	assert_string_equal(out + o - w, want);
	assert_true(o == w || out[o - w - 1] == '\n');
}

static void
test_spawn_user(void **state)
{
	struct fixture *f = *state;
	char line[256], err[64], want[512], *out, *prog;
	struct passwd *pw;
	struct svc_proc p;
	struct qcmd *c;

	(void)snprintf(line, sizeof(line), "echo \"$(id -un) $HOME $USER\"");
	assert_int_equal(qcmd_parse(line, false, &c, err, sizeof(err)), 0);
	f->c = c;
	pw = getpwuid(geteuid());
	assert_non_null(pw);
	/* our own user (as root: its login shell) */
	(void)snprintf(want, sizeof(want), "%s %s %s\n", pw->pw_name,
	    pw->pw_dir, pw->pw_name);
	assert_int_equal(
	    svc_spawn(NULL, c, pw->pw_name, SVC_STDIO_PIPES_NOERR, NULL, &p),
	    0);
	assert_int_equal(finish(&p, NULL, &out, NULL), 0);
	assert_ends_with(out, want);
	free(out);
	/* a user that does not exist: 125, the command never runs */
	assert_int_equal(svc_spawn(NULL, c, "no-such-user-bulkhead",
	                     SVC_STDIO_PIPES_NOERR, NULL, &p),
	    0);
	assert_int_equal(finish(&p, NULL, &out, NULL), 125);
	assert_string_equal(out, "");
	free(out);
	/* another user: only root may switch (a service, not its shell) */
	pw = getpwnam("nobody");
	if (pw == NULL)
		return;
	assert_int_equal(chmod(f->a, 0755), 0);
	unit_write_file(f->a, "qubes.Who",
	    "#!/bin/sh\necho \"$(id -un) $(id -u) $HOME $USER\"\n", 0755);
	prog = unit_path(f->a, "qubes.Who");
	assert_int_equal(svc_spawn(prog, cmd(f, "qubes.Who dom0"), "nobody",
	                     SVC_STDIO_PIPES_NOERR, NULL, &p),
	    0);
	free(prog);
	if (geteuid() != 0) {
		assert_int_equal(finish(&p, NULL, &out, NULL), 125);
	} else {
		(void)snprintf(want, sizeof(want), "nobody %u %s nobody\n",
		    (unsigned)pw->pw_uid, pw->pw_dir);
		assert_int_equal(finish(&p, NULL, &out, NULL), 0);
		assert_string_equal(out, want);
	}
	free(out);
}

static void
test_spawn_faults(void **state)
{
	struct fixture *f = *state;
	struct svc_proc p;
	struct qcmd *c;
	char err[64];

	assert_int_equal(qcmd_parse("true", false, &c, err, sizeof(err)), 0);
	f->c = c;
	fault_set(F_SOCKETPAIR, -1, 0, 1, EMFILE);
	assert_int_equal(
	    svc_spawn(NULL, c, NULL, SVC_STDIO_PIPES, NULL, &p), -EMFILE);
	assert_int_equal(p.pid, -1);
	fault_set(F_SOCKETPAIR, -1, 1, 1, EMFILE);
	assert_int_equal(
	    svc_spawn(NULL, c, NULL, SVC_STDIO_PIPES, NULL, &p), -EMFILE);
	fault_reset();
	fault_set(F_PIPE2, -1, 0, 1, ENFILE);
	assert_int_equal(
	    svc_spawn(NULL, c, NULL, SVC_STDIO_PIPES, NULL, &p), -ENFILE);
	fault_reset();
	fault_set(F_FORK, -1, 0, 1, EAGAIN);
	assert_int_equal(
	    svc_spawn(NULL, c, NULL, SVC_STDIO_PIPES, NULL, &p), -EAGAIN);
	assert_int_equal(p.in_fd, -1);
	fault_set(F_FORK, -1, 0, 1, EAGAIN);
	assert_int_equal(
	    svc_spawn(NULL, c, NULL, SVC_STDIO_NULL, NULL, &p), -EAGAIN);
	fault_reset();
}

static void
test_wait_for_session(void **state)
{
	struct fixture *f = *state;
	char script[512], *log, *got;
	int fd;

	assert_int_equal(
	    svc_wait_for_session(f->list, "src", "alice"), -ENOENT);
	log = unit_path(f->a, "log");
	(void)snprintf(script, sizeof(script),
	    "#!/bin/sh\n"
	    "{ echo \"$# $QREXEC_REMOTE_DOMAIN\"; cat; } > %s\n"
	    "exit 3\n",
	    log);
	unit_write_file(f->b, "qubes.WaitForSession", script, 0755);
	assert_int_equal(svc_wait_for_session(f->list, "src", "alice"), 3);
	fd = open(log, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	(void)unit_read_eof(fd, &got);
	(void)close(fd);
	assert_string_equal(got, "0 src\nalice\n");
	free(got);
	/* no user: nothing on its stdin */
	assert_int_equal(svc_wait_for_session(f->list, "dom0", NULL), 3);
	fd = open(log, O_RDONLY | O_CLOEXEC);
	(void)unit_read_eof(fd, &got);
	(void)close(fd);
	assert_string_equal(got, "0 dom0\n");
	free(got);
	free(log);
	/* killed by a signal */
	unit_write_file(
	    f->b, "qubes.WaitForSession", "#!/bin/sh\nkill -TERM $$\n", 0755);
	assert_int_equal(
	    svc_wait_for_session(f->list, "src", NULL), 128 + SIGTERM);
	/* failures to start it */
	fault_set(F_PIPE2, -1, 0, 1, EMFILE);
	assert_int_equal(svc_wait_for_session(f->list, "src", NULL), -EMFILE);
	fault_set(F_FORK, -1, 0, 1, EAGAIN);
	assert_int_equal(svc_wait_for_session(f->list, "src", NULL), -EAGAIN);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_paths_from_env),
	    T(test_find_file),
	    T(test_find_file_broken),
	    T(test_find_file_tcp),
	    T(test_lookup_exec),
	    T(test_lookup_errors),
	    T(test_lookup_socket),
	    T(test_lookup_tcp),
	    T(test_lookup_tcp_ports),
	    T(test_connect_tcp),
	    T(test_spawn_rpc),
	    T(test_spawn_rpc_failures),
	    T(test_spawn_shell),
	    T(test_spawn_child_state),
	    T(test_spawn_user),
	    T(test_spawn_faults),
	    T(test_wait_for_session),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
