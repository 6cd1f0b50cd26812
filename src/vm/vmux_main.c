/*
 * vmux_main.c - bulkhead-vmux: one VM qube's vchan directory carried over
 * its virtio-serial port (the engine is vmux.c; the wire format
 * docs/protocol/vmux.md).
 *
 * Host mode runs on the admin side as the qube's uid, one a running VM
 * qube, started by its launcher with the stream to QEMU's chardev as an
 * inherited fd: everything read from that fd is the guest's and hostile.
 * Guest mode runs inside the VM as root, started by the guest's init; it
 * opens the port itself and opens it again whenever the host side goes.
 * Arguments and signals come from the (more trusted) parent.
 */
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "vm/vmux.h"

#define PROG "bulkhead-vmux"
/* Where the guest looks up a port by name. */
#define VIRTIO_PORTS_DIR "/sys/class/virtio-ports"
/* The guest's wait between attempts to open the port, doubling. */
#define REOPEN_MIN_MS 100
#define REOPEN_MAX_MS 2000

static const char usage_text[] =
    "Usage: " PROG " --host --fd N --dir DIR [--name QUBE] [-v]\n"
    "       " PROG " --guest (--port NAME | --device PATH | --fd N) --dir DIR\n"
    "                     [--shutdown-signal-pid PID] [-v]\n"
    "\n"
    "Carry a VM qube's qrexec channels (the vchan sockets of DIR) over its\n"
    "one virtio-serial stream.  One instance runs on each side.  A socket\n"
    "named vchan.S.C.P.sock that a program listens on in one side's DIR\n"
    "appears, as a listener of the same name, in the other side's DIR; a\n"
    "connection to it is carried to the real listener, its bytes both ways\n"
    "with flow control and half-close kept.  Like every vchan listener, a\n"
    "mirror takes one connection and its name goes at once.\n"
    "\n"
    "Modes:\n"
    "  --host            the admin side: the stream is fd N, a connected\n"
    "                    stream socket to QEMU's chardev.  Every frame from\n"
    "                    the guest is checked; a protocol violation is\n"
    "                    logged and ends the program (exit 1) after its\n"
    "                    mirrors are removed.  When the stream ends, the\n"
    "                    mirrors are removed and it exits 0.  SIGUSR1 asks\n"
    "                    the guest to shut down (a SHUTDOWN frame).\n"
    "  --guest           inside the VM.  With --port or --device, the port\n"
    "                    is opened again (with a backoff) whenever the host\n"
    "                    side is not connected or goes; with --fd the\n"
    "                    program exits 0 when the stream ends.\n"
    "\n"
    "Options:\n"
    "  --fd N            the stream, an inherited file descriptor\n"
    "  --dir DIR         the vchan socket directory of this side\n"
    "  --name QUBE       the qube's name, for log lines (host)\n"
    "  --port NAME       the virtio-serial port whose\n"
    "                    " VIRTIO_PORTS_DIR "/vport*/name is NAME\n"
    "  --device PATH     the port's character device (/dev/vportNpM)\n"
    "  --shutdown-signal-pid PID\n"
    "                    who gets SIGTERM when the host asks the guest to\n"
    "                    shut down (default 1, the guest's init)\n"
    "  -v, --verbose     log every channel and listener on stderr\n"
    "  -h, --help        show this help\n"
    "\n"
    "Mirrors have mode 0600 on the host (run it as the owner of DIR: root\n"
    "reaches them) and 0666 in the guest.  SIGTERM, SIGINT and SIGHUP end\n"
    "the program cleanly (exit 0).  Log lines go to stderr as\n"
    "\"" PROG ": qube NAME: what\".\n"
    "\n"
    "Exit status: 0 the stream ended or a signal; 1 a failure or a protocol\n"
    "violation; 2 a usage error.\n";

struct args {
	enum vmux_side side;
	int fd;
	const char *dir;
	const char *name;
	const char *port;
	const char *device;
	pid_t shutdown_pid;
	bool verbose;
};

/* "PROG: what[: 'arg']", a hint, exit 2. */
static _Noreturn void
usage_error(const char *what, const char *arg)
{
	if (arg != NULL)
		(void)fprintf(stderr, "%s: %s: '%s'\n", PROG, what, arg);
	else
		(void)fprintf(stderr, "%s: %s\n", PROG, what);
	(void)fprintf(stderr, "Try '%s --help'.\n", PROG);
	exit(2);
}

static void
parse_args(int argc, char **argv, struct args *a)
{
	enum {
		OPT_HOST = 256,
		OPT_GUEST,
		OPT_FD,
		OPT_DIR,
		OPT_NAME,
		OPT_PORT,
		OPT_DEVICE,
		OPT_PID,
	};
	static const struct option opts[] = {
	    {"host", no_argument, NULL, OPT_HOST},
	    {"guest", no_argument, NULL, OPT_GUEST},
	    {"fd", required_argument, NULL, OPT_FD},
	    {"dir", required_argument, NULL, OPT_DIR},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"port", required_argument, NULL, OPT_PORT},
	    {"device", required_argument, NULL, OPT_DEVICE},
	    {"shutdown-signal-pid", required_argument, NULL, OPT_PID},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool pid_given = false;
	uint32_t u;
	int c, sources;

	memset(a, 0, sizeof(*a));
	a->side = VMUX_SIDE_MAX;
	a->fd = -1;
	a->shutdown_pid = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOST:
		case OPT_GUEST:
			if (a->side != VMUX_SIDE_MAX)
				usage_error(
				    "--host and --guest: one only", NULL);
			a->side =
			    c == OPT_HOST ? VMUX_SIDE_HOST : VMUX_SIDE_GUEST;
			break;
		case OPT_FD:
			if (parse_u32(optarg, INT_MAX, &u) < 0 || u < 3)
				usage_error(
				    "--fd: not a file descriptor above 2",
				    optarg);
			a->fd = (int)u;
			break;
		case OPT_DIR:
			a->dir = optarg;
			break;
		case OPT_NAME:
			a->name = optarg;
			break;
		case OPT_PORT:
			a->port = optarg;
			break;
		case OPT_DEVICE:
			a->device = optarg;
			break;
		case OPT_PID:
			if (parse_u32(optarg, INT_MAX, &u) < 0 || u == 0)
				usage_error(
				    "--shutdown-signal-pid: not a process id",
				    optarg);
			a->shutdown_pid = (pid_t)u;
			pid_given = true;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			(void)fputs(usage_text, stdout);
			exit(0);
		default:
			(void)fprintf(stderr, "Try '%s --help'.\n", PROG);
			exit(2);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument", argv[optind]);
	if (a->side == VMUX_SIDE_MAX)
		usage_error("--host or --guest is required", NULL);
	if (a->dir == NULL || a->dir[0] == '\0')
		usage_error("--dir is required", NULL);
	sources = (a->fd >= 0) + (a->port != NULL) + (a->device != NULL);
	if (a->side == VMUX_SIDE_HOST) {
		if (a->fd < 0 || sources != 1)
			usage_error("--host takes --fd (only)", NULL);
		if (pid_given)
			usage_error(
			    "--shutdown-signal-pid is for --guest", NULL);
	} else if (sources != 1) {
		usage_error(
		    "--guest takes one of --port, --device and --fd", NULL);
	}
}

/* "vport" N "p" M, N and M decimal: a port's entry in sysfs. */
static bool
is_port_name(const char *s)
{
	size_t n;

	if (strncmp(s, "vport", 5) != 0)
		return false;
	s += 5;
	n = strspn(s, "0123456789");
	if (n == 0 || s[n] != 'p')
		return false;
	s += n + 1;
	n = strspn(s, "0123456789");
	return n > 0 && s[n] == '\0';
}

/*
 * The character device of the port called name: the vportNpM entry of
 * VIRTIO_PORTS_DIR whose "name" file holds it.  0 or -errno (-ENOENT:
 * none yet).
 */
static int
find_port(const char *name, char *out, size_t outlen)
{
	struct dirent *de;
	DIR *d = opendir(VIRTIO_PORTS_DIR);
	int r = -ENOENT;

	if (d == NULL)
		return -errno;
	while (r == -ENOENT && (de = readdir(d)) != NULL) {
		char path[PATH_MAX], buf[256];
		ssize_t n;
		int fd;

		/* only "vport<digits>p<digits>": it becomes a /dev path */
		if (!is_port_name(de->d_name))
			continue;
		if (str_printf(path, sizeof(path), "%s/%s/name",
		        VIRTIO_PORTS_DIR, de->d_name) < 0)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		(void)close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (strcmp(buf, name) == 0)
			r = str_printf(out, outlen, "/dev/%s", de->d_name);
	}
	(void)closedir(d);
	return r;
}

static int
open_port(const struct args *a)
{
	char path[PATH_MAX];
	const char *dev = a->device;
	int fd, r;

	if (dev == NULL) {
		r = find_port(a->port, path, sizeof(path));
		if (r < 0)
			return r;
		dev = path;
	}
	fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

/* A log line: "PROG: qube NAME: what" (the engine's form). */
static void vsay(const char *qube, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vsay(const char *qube, const char *fmt, va_list ap)
{
	char msg[512];

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (qube != NULL)
		(void)fprintf(stderr, "%s: qube %s: %s\n", PROG, qube, msg);
	else
		(void)fprintf(stderr, "%s: %s\n", PROG, msg);
}

static void say(const char *qube, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(const char *qube, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(qube, fmt, ap);
	va_end(ap);
}

/* Why a session ended. */
enum session_end {
	SESSION_STREAM_END, /* the peer went */
	SESSION_SIGNAL,     /* we were asked to stop */
	SESSION_FAILED,     /* logged */
};

/* Take the pending signals: true if one asks us to stop. */
static bool
take_signals(int sfd, struct vmux *v, const char *qube)
{
	struct signalfd_siginfo si;
	bool stop = false;

	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1 && v != NULL) {
			if (vmux_send_shutdown(v) < 0)
				say(qube,
				    "SIGUSR1: only the host side sends "
				    "SHUTDOWN, ignoring");
		} else if (si.ssi_signo != SIGUSR1) {
			stop = true;
		}
	}
	return stop;
}

static enum session_end
run_session(const struct args *a, int stream_fd, int sfd)
{
	static struct pollfd pfd[VMUX_MAX_POLLFDS + 1];
	const char *qube = a->name;
	struct vmux_config cfg = {
	    .side = a->side,
	    .qube = a->name,
	    .mirror_mode = a->side == VMUX_SIDE_HOST ? 0600 : 0666,
	    .shutdown_pid = a->shutdown_pid,
	    .verbose = a->verbose,
	};
	enum session_end end = SESSION_FAILED;
	struct vmux *v = vmux_new(&cfg, stream_fd);
	int r;

	if (v == NULL) {
		say(qube, "out of memory");
		return SESSION_FAILED;
	}
	r = vmux_start(v);
	if (r < 0) {
		say(qube, "%s", vmux_error(v));
		goto out_free;
	}
	for (;;) {
		size_t n = vmux_pollfds(v, pfd);

		pfd[n] = (struct pollfd){.fd = sfd, .events = POLLIN};
		if (poll(pfd, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			say(qube, "poll: %s", strerror(errno));
			break;
		}
		if ((pfd[n].revents & POLLIN) && take_signals(sfd, v, qube)) {
			end = SESSION_SIGNAL;
			break;
		}
		r = vmux_dispatch(v, pfd, n);
		if (r == VMUX_END) {
			end = SESSION_STREAM_END;
			break;
		}
		if (r < 0) {
			say(qube, "%s", vmux_error(v));
			break;
		}
	}
out_free:
	/* the mirrors go with it: nobody may connect to a dead end */
	vmux_free(v);
	return end;
}

/* Wait ms, or until a signal asks us to stop (true then). */
static bool
backoff(int sfd, int ms)
{
	struct pollfd p = {.fd = sfd, .events = POLLIN};

	if (poll(&p, 1, ms) > 0 && (p.revents & POLLIN))
		return take_signals(sfd, NULL, NULL);
	return false;
}

static int
run_guest_port(const struct args *a, int sfd)
{
	const char *what = a->device ? a->device : a->port;
	int wait_ms = REOPEN_MIN_MS, last_err = 0;

	for (;;) {
		enum session_end end;
		uint64_t started;
		int fd = open_port(a);

		if (fd < 0) {
			/* said once a kind of failure, not at each retry */
			if (fd != last_err)
				say(a->name, "%s: %s, retrying", what,
				    strerror(-fd));
			last_err = fd;
		} else {
			last_err = 0;
			started = now_ms();
			end = run_session(a, fd, sfd);
			(void)close(fd);
			if (end == SESSION_SIGNAL)
				return 0;
			/* a session that lasted was a connected host */
			if (now_ms() - started > 1000u)
				wait_ms = REOPEN_MIN_MS;
		}
		if (backoff(sfd, wait_ms))
			return 0;
		if (wait_ms < REOPEN_MAX_MS)
			wait_ms *= 2;
	}
}

int
main(int argc, char **argv)
{
	struct args a;
	sigset_t mask;
	int sfd, fl;
	enum session_end end;

	parse_args(argc, argv, &a);
	/* nothing here needs to gain privileges, ever */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		(void)fprintf(
		    stderr, "%s: no_new_privs: %s\n", PROG, strerror(errno));
		return 1;
	}
	/* a peer that closes makes writes fail with EPIPE, not kill us */
	(void)signal(SIGPIPE, SIG_IGN);
	(void)sigemptyset(&mask);
	(void)sigaddset(&mask, SIGTERM);
	(void)sigaddset(&mask, SIGINT);
	(void)sigaddset(&mask, SIGHUP);
	(void)sigaddset(&mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		(void)fprintf(
		    stderr, "%s: signals: %s\n", PROG, strerror(errno));
		return 1;
	}
	if (chdir(a.dir) < 0) {
		(void)fprintf(
		    stderr, "%s: %s: %s\n", PROG, a.dir, strerror(errno));
		return 1;
	}
	if (a.fd < 0)
		return run_guest_port(&a, sfd);
	fl = fcntl(a.fd, F_GETFL);
	if (fl < 0 || fcntl(a.fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fd_set_cloexec(a.fd, true) < 0) {
		(void)fprintf(
		    stderr, "%s: --fd %d: %s\n", PROG, a.fd, strerror(errno));
		return 1;
	}
	end = run_session(&a, a.fd, sfd);
	(void)close(a.fd);
	return end == SESSION_FAILED ? 1 : 0;
}
