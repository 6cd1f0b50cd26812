/*
 * qvm-sync-appmenus - ask a qube for its applications (qubes.GetAppmenus)
 * and make the admin side's menu entries for them, as Qubes' tool: one
 * file a application in ~/.local/share/qubes-appmenus/QUBE/apps/, whose
 * Exec starts it with qubes.StartApp+ID.
 *
 * Runs on the admin side as the invoking user (the owner of the menus,
 * often root), with qrexec-client for the call.  Untrusted: everything
 * the qube sends on the call's standard output.  This process reads it
 * with a size bound and a deadline but never parses it: a child does,
 * after it has confined itself (nobody if it was root, no_new_privs, not
 * dumpable, a seccomp allowlist of memory and writing its result), with
 * menus_parse (menus.c), which takes only checked lines of a few keys.
 * It hands over a fixed layout (menus_encode), which this process checks
 * again as hostile (menus_decode: the same checks of ids, keys and
 * values, on fixed fields) before the menu files are written from it.
 * The qube's standard error reaches ours through qrexec-client -T, which
 * replaces its control characters.
 */
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/privdrop.h"
#include "lib/proto/qrexec.h"
#include "lib/seccomp_util.h"
#include "lib/util.h"
#include "startapp/menus.h"

#define PROG "qvm-sync-appmenus"

#define QREXEC_CLIENT_ENV     "BULKHEAD_QREXEC_CLIENT"
#define QREXEC_SOCKET_DIR_ENV "BULKHEAD_QREXEC_SOCKET_DIR"
#define QREXEC_CLIENT_NAME    "qrexec-client"
/* The whole call, qube start of the service to its last byte. */
#define SYNC_TIMEOUT_DEFAULT 60u
#define SYNC_TIMEOUT_MAX     3600u
/* The confined reader's parse of at most 1 MiB (milliseconds here). */
#define READER_TIMEOUT_S 30

enum {
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

enum {
	OPT_TIMEOUT = 0x100,
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: " PROG " [options] QUBE\n"
	    "\n"
	    "Ask QUBE for its applications with the service qubes.GetAppmenus "
	    "(QUBE\n"
	    "must be running) and make a menu entry for each: the file\n"
	    "QUBE-ID.desktop in ~/.local/share/qubes-appmenus/QUBE/apps/, "
	    "named\n"
	    "\"QUBE: NAME\", which starts the application with\n"
	    "\"qvm-run -q -a --service -- QUBE qubes.StartApp+ID\".  The "
	    "directory is\n"
	    "replaced as a whole: applications QUBE no longer lists go.\n"
	    "\n"
	    "The qube's answer is not trusted.  At most 1 MiB is read; lines "
	    "longer than\n"
	    "4096 bytes are dropped; only lines ID.desktop:KEY=VALUE with an "
	    "ID of\n"
	    "[A-Za-z0-9._+-] (at most 128) are taken, of the keys Name, "
	    "GenericName,\n"
	    "Comment, Keywords (also translated), Categories and Icon (an "
	    "icon name,\n"
	    "not a path), whose values are UTF-8 text without control or\n"
	    "bidirectional formatting characters.  The qube's Exec is never "
	    "used.\n"
	    "The answer is parsed by a confined child (nobody when run as "
	    "root, no_new_privs,\n"
	    "seccomp) and its result checked again before anything is "
	    "written.\n"
	    "\n"
	    "Options:\n"
	    "  -q, --quiet            do not report ignored lines\n"
	    "  -v, --verbose          list the applications written\n"
	    "      --timeout SECONDS  give up on the call after SECONDS "
	    "(default %u)\n"
	    "  -h, --help             show this help\n"
	    "\n"
	    "Environment:\n"
	    "  XDG_DATA_HOME, HOME    where the menus go "
	    "($XDG_DATA_HOME/qubes-appmenus,\n"
	    "                         else ~/.local/share/qubes-appmenus)\n"
	    "  " QREXEC_CLIENT_ENV
	    "  the qrexec-client program (default: the one\n"
	    "                          next to " PROG ", else from PATH)\n"
	    "  " QREXEC_SOCKET_DIR_ENV
	    "  the qrexec daemons' sockets, given to\n"
	    "                          qrexec-client as --socket-dir\n"
	    "\n"
	    "Exit status: 0 done; 1 the call failed (the qube is not running, "
	    "the\n"
	    "service failed or was refused, its answer was too big or too "
	    "late) or the\n"
	    "menus could not be written (the old ones are then kept); 2 bad "
	    "usage.\n",
	    SYNC_TIMEOUT_DEFAULT);
}

/*
 * The qrexec-client to run: $BULKHEAD_QREXEC_CLIENT, next to us, one
 * directory up (the build tree), else from PATH.
 */
static void
qrexec_client_path(char *out, size_t n)
{
	const char *env = getenv(QREXEC_CLIENT_ENV);
	static const char *const rel[] = {"", "/.."};
	char self[PATH_MAX];
	ssize_t len;
	size_t i;

	if (env != NULL && env[0] != '\0' && str_copy(out, n, env) == 0)
		return;
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len > 0) {
		char *slash;

		self[len] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			for (i = 0; i < ARRAY_SIZE(rel); i++)
				if (str_printf(out, n,
				        "%s%s/" QREXEC_CLIENT_NAME, self,
				        rel[i]) == 0 &&
				    access(out, X_OK) == 0)
					return;
		}
	}
	(void)str_copy(out, n, QREXEC_CLIENT_NAME);
}

/*
 * Fork a child that runs child(arg, wfd), wfd the write end of a pipe
 * (it must not return: it execs or _exits); read what it writes there,
 * at most max bytes within timeout_s seconds, into *ret_buf and *ret_len
 * (*ret_read: 0, or the read's -errno, after which the child is killed:
 * it may be stuck on a qube that never ends); reap it (*ret_status: its
 * wait status, -1 if it could not be had).  Returns 0, or 1 after
 * printing why there is no child.
 */
static int
run_reading(void (*child)(void *arg, int wfd), void *arg, size_t max,
    unsigned timeout_s, char **ret_buf, size_t *ret_len, int *ret_read,
    int *ret_status)
{
	int fd[2], status, r;
	pid_t pid;

	*ret_buf = NULL;
	*ret_len = 0;
	if (pipe2(fd, O_CLOEXEC) < 0) {
		(void)fprintf(stderr, PROG ": pipe: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	(void)fflush(stdout);
	(void)fflush(stderr);
	pid = fork();
	if (pid < 0) {
		(void)fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
		(void)close(fd[0]);
		(void)close(fd[1]);
		return EXIT_FAIL;
	}
	if (pid == 0) {
		(void)close(fd[0]);
		child(arg, fd[1]);
		_exit(127);
	}
	(void)close(fd[1]);
	r = fd_set_nonblock(fd[0], true);
	if (r == 0)
		r = io_read_to_eof_until(fd[0], max,
		    io_deadline((int)timeout_s * 1000), ret_buf, ret_len);
	(void)close(fd[0]);
	if (r < 0)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	*ret_read = r;
	*ret_status = status;
	return 0;
}

struct client_args {
	const char *client;
	const char **argv;
};

/* The child of call_getappmenus: qrexec-client, its stdout the pipe. */
static void
client_child(void *arg, int wfd)
{
	const struct client_args *a = arg;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    dup2(wfd, STDOUT_FILENO) < 0)
		_exit(127);
	if (strchr(a->client, '/') != NULL)
		(void)execv(a->client, (char *const *)a->argv);
	else
		(void)execvp(a->client, (char *const *)a->argv);
	(void)fprintf(stderr, PROG ": %s: %s\n", a->client, strerror(errno));
	_exit(127);
}

/*
 * Run qubes.GetAppmenus in qube: its standard output, at most
 * MENUS_INPUT_MAX bytes within timeout seconds, in *ret_buf and *ret_len.
 * Returns 0, or 1 after printing why not.
 */
static int
call_getappmenus(
    const char *qube, unsigned timeout, char **ret_buf, size_t *ret_len)
{
	char client[PATH_MAX], sockdir[PATH_MAX + 16], *buf = NULL;
	const char *sd = getenv(QREXEC_SOCKET_DIR_ENV);
	const char *argv[8];
	struct client_args ca = {client, argv};
	int n = 0, status, r;
	size_t len = 0;

	qrexec_client_path(client, sizeof(client));
	argv[n++] = client;
	if (sd != NULL && sd[0] != '\0') {
		if (str_printf(
		        sockdir, sizeof(sockdir), "--socket-dir=%s", sd) < 0) {
			(void)fprintf(stderr,
			    PROG ": " QREXEC_SOCKET_DIR_ENV " too long\n");
			return EXIT_FAIL;
		}
		argv[n++] = sockdir;
	}
	argv[n++] = "-d";
	argv[n++] = qube;
	argv[n++] = "-T"; /* the qube's stderr, control characters replaced */
	argv[n++] = "DEFAULT:QUBESRPC qubes.GetAppmenus+ dom0";
	argv[n] = NULL;

	if (run_reading(client_child, &ca, MENUS_INPUT_MAX, timeout, &buf, &len,
	        &r, &status) != 0)
		return EXIT_FAIL;
	if (r < 0) {
		(void)fprintf(stderr, PROG ": %s: qubes.GetAppmenus: %s\n",
		    qube,
		    r == -EMSGSIZE      ? "the answer is over 1 MiB" :
		        r == -ETIMEDOUT ? "no complete answer in time" :
		                          strerror(-r));
		return EXIT_FAIL;
	}
	if (status != 0) {
		free(buf);
		if (WIFEXITED(status))
			(void)fprintf(stderr,
			    PROG
			    ": %s: qubes.GetAppmenus failed (qrexec-client "
			    "exit status %d)\n",
			    qube, WEXITSTATUS(status));
		else
			(void)fprintf(stderr,
			    PROG ": %s: qubes.GetAppmenus failed\n", qube);
		return EXIT_FAIL;
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

/*
 * What the reader may do once confined: memory (malloc; sysinfo: glibc's
 * qsort asks for the machine's memory before it sorts a large array),
 * write its result (io_write_all tries send first, for sockets, then
 * write), leave.  No open, exec, fork, kill or ptrace.
 */
static const char *const reader_allowed[] = {"write", "sendto", "brk", "mmap",
    "munmap", "mremap", "madvise", "mprotect", "sysinfo", "rt_sigreturn",
    "rt_sigprocmask", "sigaltstack", "futex", "getpid", "exit", "exit_group"};

struct reader_args {
	const char *untrusted_buf;
	size_t len;
	uid_t uid;
	gid_t gid;
	pid_t parent;
};

/*
 * The reader (a child): confine, parse, write the encoding to wfd.  Exit
 * status 0 sent, 1 failed (out of memory), 2 could not confine itself.
 * _exit: no atexit work (nor a sanitizer's leak check, which the seccomp
 * program would stop) in the confined child.
 */
static void
reader(void *arg, int wfd)
{
	const struct reader_args *a = arg;
	struct menus *m;
	char *enc;
	size_t enc_len;
	int r;

	r = priv_drop(a->uid, a->gid, 0, a->parent);
	if (r == 0)
		r = seccomp_util_allow_only(
		    reader_allowed, ARRAY_SIZE(reader_allowed));
	if (r < 0) {
		(void)fprintf(
		    stderr, PROG ": confining the reader: %s\n", strerror(-r));
		_exit(2);
	}
	if (menus_parse(a->untrusted_buf, a->len, &m) < 0 ||
	    menus_encode(m, &enc, &enc_len) < 0)
		_exit(1);
	_exit(io_write_all(wfd, enc, enc_len) < 0 ? 1 : 0);
}

/*
 * The qube's answer (untrusted_buf, len bytes), parsed by a confined
 * child and checked again here.  0 and *ret, or 1 after printing why
 * not.
 */
static int
parse_confined(
    const char *qube, const char *untrusted_buf, size_t len, struct menus **ret)
{
	struct reader_args a = {
	    untrusted_buf, len, getuid(), getgid(), getpid()};
	char *untrusted_enc = NULL;
	size_t enc_len = 0;
	int status, r;

	/* root reads the qube's bytes as nobody; anyone else as itself */
	if (a.uid == 0 || geteuid() == 0)
		priv_nobody(&a.uid, &a.gid);
	if (run_reading(reader, &a, MENUS_WIRE_MAX, READER_TIMEOUT_S,
	        &untrusted_enc, &enc_len, &r, &status) != 0)
		return EXIT_FAIL;
	if (r == 0 && status == 0)
		r = menus_decode(untrusted_enc, enc_len, ret);
	free(untrusted_enc);
	if (r == 0 && status == 0)
		return 0;
	if (r == -ENOMEM ||
	    (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1))
		(void)fprintf(stderr,
		    PROG ": %s: reading the answer: out of memory\n", qube);
	else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 2)
		; /* it said why */
	else if (status != -1 && WIFSIGNALED(status))
		(void)fprintf(stderr,
		    PROG ": %s: the answer's reader was killed (%s), "
		         "refused\n",
		    qube, strsignal(WTERMSIG(status)));
	else if (r < 0)
		(void)fprintf(stderr,
		    PROG ": %s: the answer's reader handed over a bad result "
		         "(%s), refused\n",
		    qube, strerror(-r));
	else
		(void)fprintf(stderr,
		    PROG ": %s: the answer's reader failed (status %d), "
		         "refused\n",
		    qube, status);
	return EXIT_FAIL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char data_dir[PATH_MAX], err[PATH_MAX + 256], *untrusted_buf = NULL;
	unsigned timeout = SYNC_TIMEOUT_DEFAULT;
	bool quiet = false, verbose = false;
	const char *qube;
	struct menus *m;
	size_t untrusted_len = 0, i;
	int c, r;

	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'v':
			verbose = true;
			break;
		case OPT_TIMEOUT: {
			uint32_t t;

			if (parse_u32(optarg, SYNC_TIMEOUT_MAX, &t) < 0 ||
			    t == 0) {
				(void)fprintf(stderr,
				    PROG ": --timeout takes 1 to %u seconds\n",
				    SYNC_TIMEOUT_MAX);
				return EXIT_USAGE;
			}
			timeout = t;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		(void)fprintf(stderr, PROG ": %s\n",
		    argc == optind ? "no qube named" : "one qube only");
		usage(stderr);
		return EXIT_USAGE;
	}
	qube = argv[optind];
	if (!proto_qube_name_valid(qube) || strcmp(qube, "dom0") == 0) {
		(void)fprintf(stderr, PROG ": not the name of a qube\n");
		return EXIT_USAGE;
	}
	r = menus_data_dir(data_dir, sizeof(data_dir));
	if (r < 0) {
		(void)fprintf(stderr, PROG ": where the menus go: %s\n",
		    r == -ENOENT ? "no home directory" : strerror(-r));
		return EXIT_FAIL;
	}
	if (call_getappmenus(qube, timeout, &untrusted_buf, &untrusted_len) !=
	    0)
		return EXIT_FAIL;
	r = parse_confined(qube, untrusted_buf, untrusted_len, &m);
	free(untrusted_buf);
	if (r != 0)
		return EXIT_FAIL;
	if (!quiet && m->m_bad > 0)
		(void)fprintf(stderr,
		    PROG ": %s: %zu line%s of the answer ignored (malformed, "
		         "over a limit, or a value refused)\n",
		    qube, m->m_bad, m->m_bad == 1 ? "" : "s");
	if (!quiet && m->m_unnamed > 0)
		(void)fprintf(stderr,
		    PROG ": %s: %zu application%s without a Name ignored\n",
		    qube, m->m_unnamed, m->m_unnamed == 1 ? "" : "s");
	r = menus_store(data_dir, qube, m, err, sizeof(err));
	if (r < 0) {
		(void)fprintf(stderr, PROG ": %s: %s\n", qube, err);
		menus_free(m);
		return EXIT_FAIL;
	}
	if (verbose)
		for (i = 0; i < m->m_napps; i++)
			(void)printf("%s: %s\n", qube, m->m_apps[i].ma_id);
	menus_free(m);
	return 0;
}
