/*
 * test_vchan.c - the UNIX-socket transport (src/lib/vchan.c):
 * vchan_env_init from VCHAN_DOMAIN, VCHAN_SOCKET_DIR and
 * BULKHEAD_VCHAN_LAYOUT (defaults, bad values, limits); vchan_dir_dom and
 * vchan_path in the flat and per-qube layouts (exact size and one short);
 * listen, accept and connect with timeouts, the path removed right after
 * accept or on timeout (and a re-created path left alone), connect
 * retrying until a server appears (driven by the nanosleep mock, not by
 * time), and poll/accept failures injected through the --wrap mocks.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/sock.h"
#include "lib/util.h"
#include "lib/vchan.h"
#include "unit.h"

static const char *const env_vars[] = {"VCHAN_DOMAIN", "VCHAN_SOCKET_DIR",
    "BULKHEAD_VCHAN_LAYOUT", "BULKHEAD_RUN_DIR"};

struct fixture {
	char *dir;
	struct vchan_env env; /* flat, in dir, my_dom 0 */
};

static void
clear_env(void)
{
	size_t i;

	for (i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
		(void)unsetenv(env_vars[i]);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	fault_reset();
	clear_env();
	if (f == NULL)
		return -1;
	f->dir = unit_tmpdir();
	(void)setenv("VCHAN_SOCKET_DIR", f->dir, 1);
	if (vchan_env_init(&f->env) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	fault_reset();
	clear_env();
	unit_rmtree(f->dir);
	free(f);
	return 0;
}

static void
test_env(void **state)
{
	struct vchan_env env;
	char *big;

	(void)state;
	/* nothing set: the admin side's defaults */
	clear_env();
	memset(&env, 'x', sizeof(env));
	assert_int_equal(vchan_env_init(&env), 0);
	assert_int_equal(env.my_dom, 0);
	assert_string_equal(env.dir, VCHAN_DEFAULT_DIR);
	assert_int_equal(env.layout, VCHAN_LAYOUT_PER_QUBE);
	/* a socket directory: flat (a qube's view) */
	(void)setenv("VCHAN_SOCKET_DIR", "/some/dir", 1);
	(void)setenv("VCHAN_DOMAIN", "12", 1);
	assert_int_equal(vchan_env_init(&env), 0);
	assert_int_equal(env.my_dom, 12);
	assert_string_equal(env.dir, "/some/dir");
	assert_int_equal(env.layout, VCHAN_LAYOUT_FLAT);
	/* unless the layout says otherwise */
	(void)setenv("BULKHEAD_VCHAN_LAYOUT", "per-qube", 1);
	assert_int_equal(vchan_env_init(&env), 0);
	assert_int_equal(env.layout, VCHAN_LAYOUT_PER_QUBE);
	(void)unsetenv("VCHAN_SOCKET_DIR");
	(void)setenv("BULKHEAD_VCHAN_LAYOUT", "flat", 1);
	assert_int_equal(vchan_env_init(&env), 0);
	assert_int_equal(env.layout, VCHAN_LAYOUT_FLAT);
	assert_string_equal(env.dir, VCHAN_DEFAULT_DIR);
	/* empty values are as if unset */
	(void)setenv("BULKHEAD_VCHAN_LAYOUT", "", 1);
	(void)setenv("VCHAN_DOMAIN", "", 1);
	assert_int_equal(vchan_env_init(&env), 0);
	assert_int_equal(env.my_dom, 0);
	assert_int_equal(env.layout, VCHAN_LAYOUT_PER_QUBE);
	/* bad values */
	(void)setenv("BULKHEAD_VCHAN_LAYOUT", "Flat", 1);
	assert_int_equal(vchan_env_init(&env), -EINVAL);
	(void)unsetenv("BULKHEAD_VCHAN_LAYOUT");
	(void)setenv("VCHAN_DOMAIN", "2147483647", 1);
	assert_int_equal(vchan_env_init(&env), 0);
	assert_int_equal(env.my_dom, 2147483647);
	(void)setenv("VCHAN_DOMAIN", "2147483648", 1);
	assert_int_equal(vchan_env_init(&env), -EINVAL);
	(void)setenv("VCHAN_DOMAIN", "07", 1);
	assert_int_equal(vchan_env_init(&env), -EINVAL);
	(void)setenv("VCHAN_DOMAIN", "-1", 1);
	assert_int_equal(vchan_env_init(&env), -EINVAL);
	(void)setenv("VCHAN_DOMAIN", "dom0", 1);
	assert_int_equal(vchan_env_init(&env), -EINVAL);
	(void)unsetenv("VCHAN_DOMAIN");
	/* a directory of PATH_MAX - 1 bytes fits; PATH_MAX does not */
	big = malloc(PATH_MAX + 1);
	assert_non_null(big);
	memset(big, 'd', PATH_MAX);
	big[PATH_MAX - 1] = '\0';
	(void)setenv("VCHAN_SOCKET_DIR", big, 1);
	assert_int_equal(vchan_env_init(&env), 0);
	big[PATH_MAX - 1] = 'd';
	big[PATH_MAX] = '\0';
	(void)setenv("VCHAN_SOCKET_DIR", big, 1);
	assert_int_equal(vchan_env_init(&env), -ENAMETOOLONG);
	free(big);
	clear_env();
}

static void
test_paths(void **state)
{
	struct vchan_env env = {
	    .my_dom = 0, .dir = "/r", .layout = VCHAN_LAYOUT_FLAT};
	struct vchan_addr a = {.server_dom = 3, .client_dom = 0, .port = 513};
	struct vchan_addr b = {.server_dom = 0, .client_dom = 7, .port = 514};
	char out[64];

	(void)state;
	/* flat: one directory, whatever the domains */
	assert_int_equal(vchan_dir_dom(&env, &a), 0);
	assert_int_equal(vchan_path(&env, 3, &a, out, sizeof(out)), 0);
	assert_string_equal(out, "/r/vchan.3.0.513.sock");
	/* per-qube: the directory of the peer that is not us */
	env.layout = VCHAN_LAYOUT_PER_QUBE;
	assert_int_equal(vchan_dir_dom(&env, &a), 3);
	assert_int_equal(vchan_dir_dom(&env, &b), 7);
	env.my_dom = 3;
	assert_int_equal(vchan_dir_dom(&env, &a), 0);
	assert_int_equal(vchan_path(&env, 7, &b, out, sizeof(out)), 0);
	assert_string_equal(out, "/r/7/vchan.0.7.514.sock");
	/* exactly fits, and one byte short */
	assert_int_equal(vchan_path(&env, 7, &b, out, 24), 0);
	assert_int_equal(vchan_path(&env, 7, &b, out, 23), -ENAMETOOLONG);
	/* the largest numbers */
	a.server_dom = a.client_dom = a.port = UINT32_MAX;
	assert_int_equal(vchan_path(&env, UINT32_MAX, &a, out, sizeof(out)), 0);
	assert_string_equal(out,
	    "/r/4294967295/vchan.4294967295.4294967295."
	    "4294967295.sock");
}

/*
 * As root, a listener made in a directory owned by another uid (a qube's,
 * for the relay) is given to that uid: its other users cannot connect.
 */
static void
test_listen_owner(void **state)
{
	struct fixture *f = *state;
	struct vchan_env env = f->env;
	struct vchan_addr a = {.server_dom = 0, .client_dom = 7, .port = 700};
	struct vchan_listener l;
	char dir[PATH_MAX];
	struct stat st;

	if (geteuid() != 0) {
		skip();
		return;
	}
	env.layout = VCHAN_LAYOUT_PER_QUBE;
	assert_int_equal(vchan_dir_path(&env, 7, dir, sizeof(dir)), 0);
	assert_int_equal(mkdir(dir, 01777), 0);
	assert_int_equal(chown(dir, 1234567, 1234567), 0);
	assert_int_equal(vchan_listen(&env, 7, &a, &l), 0);
	assert_int_equal(lstat(l.path, &st), 0);
	assert_int_equal(st.st_uid, 1234567);
	assert_int_equal(st.st_gid, 1234567);
	assert_int_equal(st.st_mode & 0777, 0600);
	vchan_listener_close(&l);
	assert_int_equal(rmdir(dir), 0);
}

/*
 * The qube's agent connects to a data channel as soon as it hears of it,
 * possibly before the admin side's listener is there: it retries while
 * the path is missing, and must never find the socket still root's (it
 * did, between the rename into place and the chown, and the call hung).
 * A child with the qube's uid connects in a loop while the listener is
 * made and closed again and again: no connect may see EACCES.
 */
static void
test_listen_owner_before_visible(void **state)
{
	struct fixture *f = *state;
	struct vchan_env env = f->env;
	struct vchan_addr a = {.server_dom = 0, .client_dom = 8, .port = 800};
	struct vchan_listener l;
	char dir[PATH_MAX], path[PATH_MAX];
	int status, i, stop[2];
	pid_t pid;

	if (geteuid() != 0) {
		skip();
		return;
	}
	env.layout = VCHAN_LAYOUT_PER_QUBE;
	/* the child must reach dir/8, as a qube reaches its directory */
	assert_int_equal(chmod(f->dir, 0711), 0);
	assert_int_equal(vchan_dir_path(&env, 8, dir, sizeof(dir)), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chown(dir, 1234568, 1234568), 0);
	assert_int_equal(vchan_path(&env, 8, &a, path, sizeof(path)), 0);
	assert_int_equal(pipe(stop), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned denied = 0;

		(void)close(stop[1]);
		(void)fcntl(stop[0], F_SETFL, O_NONBLOCK);
		if (setgid(1234568) < 0 || setuid(1234568) < 0)
			_exit(2);
		for (;;) {
			char c;
			int fd = sock_connect(path);

			if (fd == -EACCES)
				denied++;
			if (fd >= 0)
				(void)close(fd);
			if (read(stop[0], &c, 1) == 0)
				break;
		}
		_exit(denied == 0 ? 0 : 1);
	}
	(void)close(stop[0]);
	for (i = 0; i < 3000; i++) {
		assert_int_equal(vchan_listen(&env, 8, &a, &l), 0);
		vchan_listener_close(&l);
	}
	(void)close(stop[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_listen_accept_connect(void **state)
{
	struct fixture *f = *state;
	struct vchan_addr a = {.server_dom = 0, .client_dom = 5, .port = 600};
	struct vchan_listener l;
	char path[PATH_MAX], b = 0;
	struct stat st;
	int c, s;

	assert_int_equal(vchan_listen(&f->env, 0, &a, &l), 0);
	assert_true(l.fd >= 0);
	assert_int_equal(vchan_path(&f->env, 0, &a, path, sizeof(path)), 0);
	assert_string_equal(l.path, path);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	/* the owner's alone: a qube's directory is open to all its users */
	assert_int_equal(st.st_mode & 0777, 0600);
	c = vchan_connect(&f->env, 0, &a, 1000);
	assert_true(c >= 0);
	s = vchan_accept(&l, 1000);
	assert_true(s >= 0);
	/* the listener is closed and its path removed at once */
	assert_int_equal(l.fd, -1);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	/* both ends blocking and close-on-exec */
	assert_int_equal(fcntl(s, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(fcntl(c, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(fcntl(s, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(fcntl(c, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(write(c, "c", 1), 1);
	assert_int_equal(read(s, &b, 1), 1);
	assert_int_equal(b, 'c');
	assert_int_equal(write(s, "s", 1), 1);
	assert_int_equal(read(c, &b, 1), 1);
	assert_int_equal(b, 's');
	(void)close(c);
	(void)close(s);
	/* a second call on the same port meets no leftover listener */
	assert_int_equal(vchan_connect(&f->env, 0, &a, 0), -ETIMEDOUT);
}

static void
test_accept_timeout(void **state)
{
	struct fixture *f = *state;
	struct vchan_addr a = {.server_dom = 0, .client_dom = 5, .port = 601};
	struct vchan_listener l;
	struct stat st;

	/* nobody comes: -ETIMEDOUT, listener closed, path removed */
	assert_int_equal(vchan_listen(&f->env, 0, &a, &l), 0);
	assert_int_equal(vchan_accept(&l, 0), -ETIMEDOUT);
	assert_int_equal(l.fd, -1);
	assert_int_equal(lstat(l.path, &st), -1);
	assert_int_equal(vchan_listen(&f->env, 0, &a, &l), 0);
	assert_int_equal(vchan_accept(&l, 20), -ETIMEDOUT);
	assert_int_equal(lstat(l.path, &st), -1);
	/* closing a closed listener is harmless */
	vchan_listener_close(&l);
}

static void
test_listener_close(void **state)
{
	struct fixture *f = *state;
	struct vchan_addr a = {.server_dom = 0, .client_dom = 5, .port = 602};
	struct vchan_listener l1, l2;
	struct stat st;

	assert_int_equal(vchan_listen(&f->env, 0, &a, &l1), 0);
	vchan_listener_close(&l1);
	assert_int_equal(l1.fd, -1);
	assert_int_equal(lstat(l1.path, &st), -1);
	/* a newer listener took the path: the old one leaves it alone */
	assert_int_equal(vchan_listen(&f->env, 0, &a, &l1), 0);
	assert_int_equal(vchan_listen(&f->env, 0, &a, &l2), 0);
	vchan_listener_close(&l1);
	assert_int_equal(lstat(l2.path, &st), 0);
	/* and it is l2's client that connects */
	{
		int c = vchan_connect(&f->env, 0, &a, 1000), s;

		assert_true(c >= 0);
		s = vchan_accept(&l2, 1000);
		assert_true(s >= 0);
		(void)close(s);
		(void)close(c);
	}
	assert_int_equal(lstat(l2.path, &st), -1);
}

/*
 * A listener that accepts nothing, its backlog full: a connect gives up
 * at its deadline instead of waiting for ever (a qrexec-daemon's monitor,
 * root, dials a qube's agent so, and must still see its SIGTERM).
 */
static void
test_connect_full_backlog(void **state)
{
	struct fixture *f = *state;
	struct vchan_addr a = {.server_dom = 0, .client_dom = 5, .port = 604};
	char path[PATH_MAX];
	int lfd, c[8], n = 0, r, i;

	assert_int_equal(vchan_path(&f->env, 0, &a, path, sizeof(path)), 0);
	lfd = unit_listen(path);
	/* the smallest backlog: a connection or two fill it */
	assert_int_equal(listen(lfd, 0), 0);
	for (;;) {
		r = vchan_connect(&f->env, 0, &a, 100);
		if (r < 0)
			break;
		assert_true(n < 8);
		c[n++] = r;
	}
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(n >= 1);
	for (i = 0; i < n; i++)
		(void)close(c[i]);
	(void)close(lfd);
}

static void
test_connect_timeout(void **state)
{
	struct fixture *f = *state;
	struct vchan_addr a = {.server_dom = 0, .client_dom = 5, .port = 603};
	char path[PATH_MAX];
	int fd;

	/* nothing there */
	assert_int_equal(vchan_connect(&f->env, 0, &a, 0), -ETIMEDOUT);
	assert_int_equal(vchan_connect(&f->env, 0, &a, 20), -ETIMEDOUT);
	/* a stale socket (connection refused) is retried the same way */
	assert_int_equal(vchan_path(&f->env, 0, &a, path, sizeof(path)), 0);
	fd = unit_listen(path);
	(void)close(fd);
	assert_int_equal(vchan_connect(&f->env, 0, &a, 0), -ETIMEDOUT);
	/* other errors end the wait at once, even without a timeout */
	a.port = 604;
	f->env.layout = VCHAN_LAYOUT_PER_QUBE;
	unit_write_file(f->dir, "9", "not a directory", 0644);
	assert_int_equal(vchan_connect(&f->env, 9, &a, -1), -ENOTDIR);
	/* a path that cannot be formed */
	memset(f->env.dir, 'x', sizeof(f->env.dir) - 1);
	f->env.dir[sizeof(f->env.dir) - 1] = '\0';
	assert_int_equal(vchan_connect(&f->env, 0, &a, 0), -ENAMETOOLONG);
}

static struct {
	struct fixture *f;
	struct vchan_addr a;
	struct vchan_listener l;
	int sleeps, listen_at;
} retry;

/* Instead of sleeping: count, and start the server at the chosen call. */
static void
retry_hook(void)
{
	if (++retry.sleeps == retry.listen_at)
		assert_int_equal(
		    vchan_listen(&retry.f->env, 0, &retry.a, &retry.l), 0);
}

static void
test_connect_retry(void **state)
{
	struct fixture *f = *state;
	int c, s;

	memset(&retry, 0, sizeof(retry));
	retry.f = f;
	retry.a =
	    (struct vchan_addr){.server_dom = 0, .client_dom = 5, .port = 605};
	/* the server shows up while the client waits, without a limit */
	retry.listen_at = 3;
	nanosleep_hook = retry_hook;
	c = vchan_connect(&f->env, 0, &retry.a, -1);
	nanosleep_hook = NULL;
	assert_true(c >= 0);
	assert_int_equal(retry.sleeps, 3);
	s = vchan_accept(&retry.l, 1000);
	assert_true(s >= 0);
	(void)close(s);
	(void)close(c);
}

static void
test_per_qube(void **state)
{
	struct fixture *f = *state;
	struct vchan_addr a = {.server_dom = 0, .client_dom = 4, .port = 606};
	struct vchan_listener l;
	char *sub;
	int c, s;

	f->env.layout = VCHAN_LAYOUT_PER_QUBE;
	/* the qube's directory must exist */
	assert_int_equal(vchan_listen(&f->env, 4, &a, &l), -ENOENT);
	assert_int_equal(l.fd, -1);
	sub = unit_path(f->dir, "4");
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(vchan_listen(&f->env, 4, &a, &l), 0);
	assert_true(strncmp(l.path, sub, strlen(sub)) == 0);
	assert_string_equal(l.path + strlen(sub), "/vchan.0.4.606.sock");
	/* the same channel in another qube's directory is another path */
	assert_int_equal(vchan_connect(&f->env, 5, &a, 0), -ETIMEDOUT);
	c = vchan_connect(&f->env, 4, &a, 1000);
	assert_true(c >= 0);
	s = vchan_accept(&l, -1);
	assert_true(s >= 0);
	(void)close(s);
	(void)close(c);
	free(sub);
}

static void
test_accept_faults(void **state)
{
	struct fixture *f = *state;
	struct vchan_addr a = {.server_dom = 0, .client_dom = 5, .port = 607};
	struct vchan_listener l;
	struct stat st;
	int c, s;

	/* EINTR from poll and a spurious wakeup (EAGAIN) are retried */
	assert_int_equal(vchan_listen(&f->env, 0, &a, &l), 0);
	c = vchan_connect(&f->env, 0, &a, 1000);
	assert_true(c >= 0);
	fault_set(F_POLL, -1, 0, 1, EINTR);
	fault_set(F_ACCEPT4, l.fd, 0, 1, EAGAIN);
	s = vchan_accept(&l, -1);
	assert_true(s >= 0);
	assert_int_equal(faults[F_POLL].calls, 3);
	assert_int_equal(faults[F_ACCEPT4].calls, 2);
	(void)close(s);
	(void)close(c);
	/* other errors: returned, and the listener is gone all the same */
	fault_reset();
	assert_int_equal(vchan_listen(&f->env, 0, &a, &l), 0);
	fault_set(F_POLL, -1, 0, 1, ENOMEM);
	assert_int_equal(vchan_accept(&l, -1), -ENOMEM);
	assert_int_equal(l.fd, -1);
	assert_int_equal(lstat(l.path, &st), -1);
	fault_reset();
	assert_int_equal(vchan_listen(&f->env, 0, &a, &l), 0);
	c = vchan_connect(&f->env, 0, &a, 1000);
	assert_true(c >= 0);
	fault_set(F_ACCEPT4, l.fd, 0, 1, EMFILE);
	assert_int_equal(vchan_accept(&l, 1000), -EMFILE);
	assert_int_equal(lstat(l.path, &st), -1);
	(void)close(c);
	/* a path too long to listen on */
	memset(f->env.dir, 'x', sizeof(f->env.dir) - 1);
	f->env.dir[sizeof(f->env.dir) - 1] = '\0';
	assert_int_equal(vchan_listen(&f->env, 0, &a, &l), -ENAMETOOLONG);
	assert_int_equal(l.fd, -1);
}

/*
 * A qube writes in its own channel directory, and the admin side
 * connects there as root.  A symlink the qube puts at a channel's name,
 * pointing at a socket elsewhere (another qube's agent), must not be
 * followed: it is a channel nobody listens on.
 */
static void
test_connect_not_through_symlink(void **state)
{
	struct fixture *f = *state;
	struct vchan_addr a = {.server_dom = 4, .client_dom = 0, .port = 512};
	struct vchan_addr b = {.server_dom = 5, .client_dom = 0, .port = 512};
	struct vchan_listener lb;
	char *d4 = unit_path(f->dir, "4"), *d5 = unit_path(f->dir, "5");
	char pa[PATH_MAX];
	int c;

	f->env.layout = VCHAN_LAYOUT_PER_QUBE;
	assert_int_equal(mkdir(d4, 01777), 0);
	assert_int_equal(mkdir(d5, 0700), 0);
	/* qube 5's agent listens; qube 4 links its own channel to it */
	assert_int_equal(vchan_listen(&f->env, 5, &b, &lb), 0);
	assert_int_equal(vchan_path(&f->env, 4, &a, pa, sizeof(pa)), 0);
	assert_int_equal(symlink(lb.path, pa), 0);
	c = vchan_connect(&f->env, 4, &a, 0);
	assert_int_equal(c, -ETIMEDOUT);
	/* nobody reached qube 5's agent: it still waits, path and all */
	assert_int_equal(vchan_accept(&lb, 0), -ETIMEDOUT);
	vchan_listener_close(&lb);
	assert_int_equal(unlink(pa), 0);
	assert_int_equal(rmdir(d4), 0);
	assert_int_equal(rmdir(d5), 0);
	free(d4);
	free(d5);
}

/* What the qube's race puts in place of the listener's socket. */
static struct {
	const char *victim;
	int swapped;
} swap;

/* After bind(): the bound name becomes a symlink to swap.victim. */
static void
swap_hook(const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_un *un = (const void *)sa;
	char tmp[PATH_MAX];

	(void)len;
	if (un->sun_family != AF_UNIX || un->sun_path[0] == '\0')
		return;
	assert_int_equal(
	    str_printf(tmp, sizeof(tmp), "%s.swap", un->sun_path), 0);
	assert_int_equal(symlink(swap.victim, tmp), 0);
	assert_int_equal(rename(tmp, un->sun_path), 0);
	swap.swapped++;
}

/*
 * The admin side (root) listens in a qube's directory and gives the
 * socket to the qube's root by name.  If the qube swaps a symlink in
 * between bind() and the chown/chmod, they must not follow it: the
 * listen fails and the file it points to keeps its owner and mode.
 */
static void
test_listen_not_through_symlink(void **state)
{
	struct fixture *f = *state;
	struct vchan_env env = f->env;
	struct vchan_addr a = {.server_dom = 0, .client_dom = 9, .port = 900};
	struct vchan_listener l;
	char dir[PATH_MAX], *victim = unit_path(f->dir, "victim");
	struct stat st;
	int fd, r;

	if (geteuid() != 0) {
		skip();
		return;
	}
	env.layout = VCHAN_LAYOUT_PER_QUBE;
	assert_int_equal(vchan_dir_path(&env, 9, dir, sizeof(dir)), 0);
	assert_int_equal(mkdir(dir, 01777), 0);
	assert_int_equal(chown(dir, 1234569, 1234569), 0);
	fd = open(victim, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	(void)close(fd);
	assert_int_equal(chmod(victim, 0644), 0);
	swap.victim = victim;
	swap.swapped = 0;
	bind_hook = swap_hook;
	r = vchan_listen(&env, 9, &a, &l);
	bind_hook = NULL;
	assert_int_equal(swap.swapped, 1);
	assert_true(r < 0);
	assert_int_equal(l.fd, -1);
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* nothing left behind in the qube's directory */
	assert_int_equal(rmdir(dir), 0);
	(void)unlink(victim);
	free(victim);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_env),
	    T(test_paths),
	    T(test_listen_owner),
	    T(test_listen_owner_before_visible),
	    T(test_listen_accept_connect),
	    T(test_accept_timeout),
	    T(test_listener_close),
	    T(test_connect_timeout),
	    T(test_connect_full_backlog),
	    T(test_connect_retry),
	    T(test_per_qube),
	    T(test_accept_faults),
	    T(test_connect_not_through_symlink),
	    T(test_listen_not_through_symlink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
