/*
 * test_qemu_qmp.c - the QMP client and the command-line builder against a
 * real QEMU (src/vm): for microvm and q35 under TCG, build a command line
 * with every file passed as an inherited fd (QMP and a virtio-serial port
 * on socketpairs, a qcow2 overlay on a read-only raw backing, a raw disk,
 * the kernel, the console log), start QEMU paused, and over QMP: the
 * handshake, query-status (prelaunch), the block nodes and chardevs QEMU
 * made of them, cont (RESUME, running), stop (STOP, paused), add-fd with
 * a passed fd, quit (SHUTDOWN, QEMU exits).
 *
 * No guest kernel is needed: the "kernel" is a file of zeros, which
 * the guest runs as harmless instructions until it is stopped.  Every QEMU started is killed by pid
 * on every exit path.  Exits 77 (Meson's skip) with the reason when
 * qemu-system-x86_64 is missing; $QEMU names another binary.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/util.h"
#include "vm/qemu_cmd.h"
#include "vm/qmp.h"

#define SKIP 77
/* one QMP command; TCG startup of QEMU itself takes ~50 ms here */
#define STEP_MS 10000

static pid_t qemu_pid = -1;
static char tmpdir[] = "/tmp/bulkhead-qemu-qmp.XXXXXX";
static int failures;

static void
kill_qemu(void)
{
	if (qemu_pid > 0) {
		(void)kill(qemu_pid, SIGKILL);
		(void)waitpid(qemu_pid, NULL, 0);
		qemu_pid = -1;
	}
}

static void
cleanup(void)
{
	static const char *const files[] = {"kernel", "base.img",
	    "overlay.qcow2", "private.img", "console.log"};
	char p[PATH_MAX];
	size_t i;

	kill_qemu();
	for (i = 0; i < ARRAY_SIZE(files); i++)
		if (str_printf(p, sizeof(p), "%s/%s", tmpdir, files[i]) == 0)
			(void)unlink(p);
	(void)rmdir(tmpdir);
}

static void
on_alarm(int sig)
{
	(void)sig;
	/* async-signal-safe: kill, and let _exit skip atexit */
	if (qemu_pid > 0)
		(void)kill(qemu_pid, SIGKILL);
	if (write(2, "test_qemu_qmp: timed out\n", 25) < 0)
		_exit(2);
	_exit(1);
}

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			(void)fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, \
			    __LINE__, #cond);                                  \
			failures++;                                            \
			return -1;                                             \
		}                                                              \
	} while (0)

/* The first qemu-system-x86_64 on $PATH, or $QEMU. */
static int
find_qemu(char *out, size_t n)
{
	const char *env = getenv("QEMU"), *path = getenv("PATH");
	char *dirs, *dir, *save = NULL;
	int r = -ENOENT;

	if (env != NULL && env[0] != '\0') {
		if (access(env, X_OK) != 0)
			return -ENOENT;
		return str_copy(out, n, env);
	}
	dirs = strdup(path != NULL ? path : "/usr/bin:/bin");
	if (dirs == NULL)
		return -ENOMEM;
	for (dir = strtok_r(dirs, ":", &save); dir != NULL;
	     dir = strtok_r(NULL, ":", &save)) {
		if (dir[0] != '/' ||
		    str_printf(out, n, "%s/qemu-system-x86_64", dir) < 0)
			continue;
		if (access(out, X_OK) == 0) {
			r = 0;
			break;
		}
	}
	free(dirs);
	return r;
}

/* Run argv (a NULL-terminated list) and wait: 0 if it exited 0. */
static int
run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			(void)dup2(null, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

static int
open_tmp(const char *name, int flags)
{
	char p[PATH_MAX];

	if (str_printf(p, sizeof(p), "%s/%s", tmpdir, name) < 0)
		return -1;
	return open(p, flags | O_CLOEXEC, 0600);
}

/* A "kernel" of zeros: QEMU's loader takes it for an old zImage without
 * header, and the guest adds zeros to memory until it is stopped (a
 * file of "jmp ." loops fails the loader's header checks). */
static int
make_files(const char *qemu_img)
{
	static const unsigned char zeros[65536];
	char base[PATH_MAX], ovl[PATH_MAX];
	int fd, r;

	fd = open_tmp("kernel", O_WRONLY | O_CREAT | O_TRUNC);
	if (fd < 0 || io_write_all(fd, zeros, sizeof(zeros)) < 0)
		return -1;
	(void)close(fd);
	fd = open_tmp("base.img", O_WRONLY | O_CREAT | O_TRUNC);
	if (fd < 0 || ftruncate(fd, 16 << 20) < 0)
		return -1;
	(void)close(fd);
	fd = open_tmp("private.img", O_WRONLY | O_CREAT | O_TRUNC);
	if (fd < 0 || ftruncate(fd, 8 << 20) < 0)
		return -1;
	(void)close(fd);
	if (qemu_img == NULL)
		return 0;
	if (str_printf(base, sizeof(base), "%s/base.img", tmpdir) < 0 ||
	    str_printf(ovl, sizeof(ovl), "%s/overlay.qcow2", tmpdir) < 0)
		return -1;
	{
		char *argv[] = {(char *)qemu_img, "create", "-q", "-f", "qcow2",
		    "-b", base, "-F", "raw", ovl, NULL};

		r = run(argv);
	}
	return r;
}

/* The named node in a query-named-block-nodes reply; NULL if absent. */
static json_t *
node(json_t *nodes, const char *name)
{
	size_t i;
	json_t *n;

	json_array_foreach(nodes, i, n)
	{
		const char *nn =
		    json_string_value(json_object_get(n, "node-name"));

		if (nn != NULL && strcmp(nn, name) == 0)
			return n;
	}
	return NULL;
}

static bool
node_ro(json_t *nodes, const char *name)
{
	return json_is_true(json_object_get(node(nodes, name), "ro"));
}

/* The next event of that name (others are skipped), within deadline. */
static int
wait_event(struct qmp *q, const char *name, uint64_t deadline)
{
	struct qmp_msg m;

	for (;;) {
		int r = qmp_next_event(q, &m, deadline);

		if (r < 0)
			return r;
		r = strcmp(m.event, name);
		qmp_msg_clear(&m);
		if (r == 0)
			return 0;
	}
}

/* Wait for QEMU to exit by itself, at most ms; its exit status. */
static int
wait_exit(int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	int st;

	while (now_ms() < end) {
		pid_t p = waitpid(qemu_pid, &st, WNOHANG);

		if (p == qemu_pid) {
			qemu_pid = -1;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		}
		(void)usleep(10000);
	}
	return -ETIMEDOUT;
}

static int
one_machine(const char *qemu, enum qemu_machine machine, bool qcow2)
{
	int qmp_sv[2] = {-1, -1}, port_sv[2] = {-1, -1}, pfd[2] = {-1, -1};
	int kernel, base = -1, ovl = -1, priv, log;
	struct qemu_config c;
	struct qemu_argv a = {NULL, 0};
	enum qmp_run_state st;
	struct qmp *q = NULL;
	json_t *ret = NULL;
	int set = -1, qfd = -1, r = -1, i;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp_sv) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, port_sv) == 0);
	kernel = open_tmp("kernel", O_RDONLY);
	priv = open_tmp("private.img", O_RDWR);
	log = open_tmp("console.log", O_WRONLY | O_CREAT | O_APPEND);
	CHECK(kernel >= 0 && priv >= 0 && log >= 0);
	if (qcow2) {
		base = open_tmp("base.img", O_RDONLY);
		ovl = open_tmp("overlay.qcow2", O_RDWR);
		CHECK(base >= 0 && ovl >= 0);
	}

	qemu_config_init(&c);
	c.binary = qemu;
	c.name = "test-vm";
	c.machine = machine;
	c.memory_mb = 64;
	c.kernel.fd = kernel;
	c.kernelopts = "quiet";
	c.tsc_khz = 2100000;
	c.qmp_fd = qmp_sv[1];
	c.ports[0].fd = port_sv[1];
	c.ports[0].name = "org.bulkhead.qrexec";
	c.n_ports = 1;
	c.console_log.fd = log;
	if (qcow2) {
		c.disks[c.n_disks].file.fd = ovl;
		c.disks[c.n_disks].format = QEMU_DISK_QCOW2;
		c.disks[c.n_disks].serial = "root";
		c.disks[c.n_disks].backing.fd = base;
		c.disks[c.n_disks].backing_format = QEMU_DISK_RAW;
		c.n_disks++;
	}
	c.disks[c.n_disks].file.fd = priv;
	c.disks[c.n_disks].format = QEMU_DISK_RAW;
	c.disks[c.n_disks].serial = "private";
	c.n_disks++;
	CHECK(qemu_cmd_build(&c, &a) == 0);

	qemu_pid = fork();
	CHECK(qemu_pid >= 0);
	if (qemu_pid == 0) {
		/* the fds the command line names are inherited, nothing
		 * else: every other fd of ours is CLOEXEC */
		int keep[] = {
		    kernel, priv, log, qmp_sv[1], port_sv[1], base, ovl};
		size_t k;

		for (k = 0; k < ARRAY_SIZE(keep); k++)
			if (keep[k] >= 0 && fd_set_cloexec(keep[k], false) < 0)
				_exit(126);
		execv(a.argv[0], a.argv);
		_exit(127);
	}
	(void)close(qmp_sv[1]);
	(void)close(port_sv[1]);
	(void)close(kernel);
	(void)close(priv);
	(void)close(log);
	if (base >= 0)
		(void)close(base);
	if (ovl >= 0)
		(void)close(ovl);

	q = qmp_new(qmp_sv[0]);
	CHECK(q != NULL);
	r = qmp_handshake(q, io_deadline(STEP_MS));
	if (r < 0)
		(void)fprintf(stderr, "handshake: %s\n", strerror(-r));
	CHECK(r == 0);
	{
		unsigned int maj, min, mic;

		qmp_qemu_version(q, &maj, &min, &mic);
		(void)printf("# QEMU %u.%u.%u, %s\n", maj, min, mic,
		    machine == QEMU_MACHINE_MICROVM ? "microvm" : "q35");
	}
	CHECK(qmp_query_status(q, &st, io_deadline(STEP_MS)) == 0);
	CHECK(st == QMP_STATE_PRELAUNCH);

	/* what QEMU made of the disks: writable overlay, read-only backing
	 * from the fd set, not from the path in the qcow2 header */
	CHECK(qmp_execute(q, "query-named-block-nodes", NULL, &ret,
	          io_deadline(STEP_MS)) == 0);
	CHECK(json_is_array(ret));
	if (qcow2) {
		CHECK(node(ret, "disk0") != NULL && !node_ro(ret, "disk0"));
		CHECK(node_ro(ret, "disk0-backing"));
		CHECK(node(ret, "disk1") != NULL && !node_ro(ret, "disk1"));
	} else {
		CHECK(node(ret, "disk0") != NULL && !node_ro(ret, "disk0"));
	}
	json_decref(ret);
	ret = NULL;
	CHECK(qmp_execute(
	          q, "query-chardev", NULL, &ret, io_deadline(STEP_MS)) == 0);
	{
		bool port = false, console = false;
		size_t k;
		json_t *ch;

		json_array_foreach(ret, k, ch)
		{
			const char *l =
			    json_string_value(json_object_get(ch, "label"));

			port = port || (l != NULL && strcmp(l, "port0") == 0);
			console =
			    console || (l != NULL && strcmp(l, "console") == 0);
		}
		CHECK(port && console);
	}
	json_decref(ret);
	ret = NULL;

	/* a bad command: an error reply, the client goes on */
	CHECK(qmp_execute(q, "no-such-command", NULL, NULL,
	          io_deadline(STEP_MS)) == -EIO);
	CHECK(strcmp(qmp_last_error(q)->class, "CommandNotFound") == 0);

	CHECK(qmp_cont(q, io_deadline(STEP_MS)) == 0);
	CHECK(wait_event(q, "RESUME", io_deadline(STEP_MS)) == 0);
	CHECK(qmp_query_status(q, &st, io_deadline(STEP_MS)) == 0);
	CHECK(st == QMP_STATE_RUNNING);
	CHECK(qmp_stop(q, io_deadline(STEP_MS)) == 0);
	CHECK(wait_event(q, "STOP", io_deadline(STEP_MS)) == 0);
	CHECK(qmp_query_status(q, &st, io_deadline(STEP_MS)) == 0);
	CHECK(st == QMP_STATE_PAUSED);

	/* add-fd: QEMU takes a passed fd into a new set */
	CHECK(pipe2(pfd, O_CLOEXEC) == 0);
	CHECK(qmp_add_fd(q, pfd[1], -1, "test", &set, &qfd,
	          io_deadline(STEP_MS)) == 0);
	CHECK(set >= 0 && qfd >= 0);
	(void)close(pfd[0]);
	(void)close(pfd[1]);

	/* nothing is left unread: a poll loop's read finds no events */
	i = qmp_read_available(q);
	CHECK(i >= 0);

	CHECK(qmp_quit(q, io_deadline(STEP_MS)) == 0);
	CHECK(wait_exit(STEP_MS) == 0);
	qmp_free(q);
	(void)close(qmp_sv[0]);
	(void)close(port_sv[0]);
	qemu_argv_free(&a);
	return 0;
}

int
main(void)
{
	char qemu[PATH_MAX], img[PATH_MAX], *slash;
	bool qcow2;
	int r;

	(void)setvbuf(stdout, NULL, _IONBF, 0);
	if (find_qemu(qemu, sizeof(qemu)) < 0) {
		const char *env = getenv("QEMU");

		if (env != NULL && env[0] != '\0')
			(void)printf(
			    "SKIP: $QEMU (%s) is not executable\n", env);
		else
			(void)printf(
			    "SKIP: qemu-system-x86_64 not found on "
			    "$PATH (apt-get install qemu-system-x86)\n");
		return SKIP;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGALRM, on_alarm);
	(void)alarm(120);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	(void)atexit(cleanup);

	/* qemu-img beside QEMU (qemu-utils) for the overlay, if there */
	(void)str_copy(img, sizeof(img), qemu);
	slash = strrchr(img, '/');
	qcow2 = slash != NULL &&
	    str_copy(slash + 1, sizeof(img) - (size_t)(slash + 1 - img),
	        "qemu-img") == 0 &&
	    access(img, X_OK) == 0;
	if (!qcow2)
		(void)printf("# qemu-img not found: no qcow2 overlay\n");
	if (make_files(qcow2 ? img : NULL) < 0) {
		(void)fprintf(stderr, "test_qemu_qmp: cannot make files\n");
		return 1;
	}

	r = one_machine(qemu, QEMU_MACHINE_MICROVM, qcow2);
	kill_qemu();
	(void)printf("%s - microvm\n", r == 0 ? "ok" : "not ok");
	r = one_machine(qemu, QEMU_MACHINE_Q35, qcow2);
	kill_qemu();
	(void)printf("%s - q35\n", r == 0 ? "ok" : "not ok");
	return failures == 0 ? 0 : 1;
}
