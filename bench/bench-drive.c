/*
 * bench-drive.c - the timing and load driver of bench/run.
 *
 * Runs as the benchmarking user, outside every qube; it is not part of
 * qrexec.  It starts the commands it is given with posix_spawn and times
 * them with CLOCK_MONOTONIC, so that a qrexec call and its local baseline
 * are measured by exactly the same code.  What the commands print is only
 * counted and compared, never interpreted further.
 *
 * usage:
 *   bench-drive lat [-n ROUNDS] [-w WARMUP] [-c CODE] -- CMD_A... [-- CMD_B...]
 *       Run A and B alternately (ABBA order, so neither always goes
 *       first), stdin and stdout on /dev/null, WARMUP rounds unmeasured.
 *       Prints per command, in order:
 *         lat IDX MEDIAN_US P10_US P90_US MEAN_US FAILURES
 *       (a failure: the exit code is not CODE, default 0).
 *   bench-drive pipe -b BYTES -- PRODUCER... -- CONSUMER...
 *       Run PRODUCER | CONSUMER once; both must exit 0 and CONSUMER must
 *       print BYTES.  Prints: pipe SECONDS
 *   bench-drive conc [-j WORKERS] [-n CALLS] [-t TIMEOUT_MS] [-c CODE]
 *                    -- CMD...
 *       WORKERS processes each run CMD CALLS times in a row.  Each call
 *       gets one unique line on stdin and must print exactly that line
 *       back and exit with CODE (default 0) within TIMEOUT_MS (default
 *       10000), else it is a failure, or a hang (then it is killed).
 *       Prints: conc CALLS FAILURES HANGS SECONDS P50_MS P99_MS MAX_MS
 *
 * Exit status: 0 when the measurement ran (whatever it measured), 1 on a
 * setup error or a pipe run that did not deliver, 2 on bad usage.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_CMDS    2
#define MAX_WORKERS 256
/* Failures reported in detail per worker; the rest are only counted. */
#define MAX_REPORTS 3

static uint64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
usage(void)
{
	(void)fprintf(stderr,
	    "usage: bench-drive lat [-n ROUNDS] [-w WARMUP] [-c CODE] -- CMD "
	    "[-- CMD]\n"
	    "       bench-drive pipe -b BYTES -- PRODUCER -- CONSUMER\n"
	    "       bench-drive conc [-j WORKERS] [-n CALLS] [-t TIMEOUT_MS] "
	    "[-c CODE] -- CMD\n");
	exit(2);
}

static long
num_arg(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
		usage();
	return v;
}

/*
 * Split the words after the options at each "--" (replaced by NULL, so
 * each command is a NULL-terminated argv).  Returns the number found.
 */
static int
split_cmds(int argc, char **argv, int first, char **ret_cmds[], int max)
{
	int i, n = 0;

	if (first >= argc)
		return 0;
	ret_cmds[n++] = &argv[first];
	for (i = first; i < argc; i++) {
		if (strcmp(argv[i], "--") != 0)
			continue;
		argv[i] = NULL;
		if (n == max || i + 1 >= argc)
			return -1;
		ret_cmds[n++] = &argv[i + 1];
	}
	for (i = 0; i < n; i++)
		if (ret_cmds[i][0] == NULL)
			return -1;
	return n;
}

/* Start argv with the given stdin/stdout (-1: ours).  pid or -errno. */
static pid_t
spawn(char *const *argv, int in, int out)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	r = posix_spawn_file_actions_init(&fa);
	if (r != 0)
		return -r;
	if (in >= 0)
		r = posix_spawn_file_actions_adddup2(&fa, in, 0);
	if (r == 0 && out >= 0)
		r = posix_spawn_file_actions_adddup2(&fa, out, 1);
	if (r == 0)
		r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	return r != 0 ? -r : pid;
}

/* Reap pid; its exit code, 128+signal, or -1. */
static int
reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile of the sorted v[n] (nearest rank). */
static double
quantile(const double *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);

	return n == 0 ? 0.0 : v[i < n ? i : n - 1];
}

static int
cmd_lat(int argc, char **argv)
{
	char **cmds[MAX_CMDS];
	double *t[MAX_CMDS] = {NULL, NULL};
	long fails[MAX_CMDS] = {0, 0};
	long rounds = 1000, warmup = 20, r;
	int code = 0, ncmds, devnull, opt, k;

	while ((opt = getopt(argc, argv, "+n:w:c:")) != -1) {
		switch (opt) {
		case 'n':
			rounds = num_arg(optarg, 1, 10000000);
			break;
		case 'w':
			warmup = num_arg(optarg, 0, 10000000);
			break;
		case 'c':
			code = (int)num_arg(optarg, 0, 255);
			break;
		default:
			usage();
		}
	}
	ncmds = split_cmds(argc, argv, optind, cmds, MAX_CMDS);
	if (ncmds <= 0)
		usage();
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		perror("bench-drive: /dev/null");
		return 1;
	}
	for (k = 0; k < ncmds; k++) {
		t[k] = calloc((size_t)rounds, sizeof(*t[k]));
		if (t[k] == NULL) {
			perror("bench-drive");
			return 1;
		}
	}
	for (r = -warmup; r < rounds; r++) {
		for (k = 0; k < ncmds; k++) {
			/* ABBA: each command goes first every other round */
			int kk = (r & 1) ? ncmds - 1 - k : k;
			uint64_t t0 = now_ns();
			pid_t pid = spawn(cmds[kk], devnull, devnull);
			int st = pid < 0 ? -1 : reap(pid);
			uint64_t t1 = now_ns();

			if (st != code)
				fails[kk]++;
			if (r >= 0)
				t[kk][r] = (double)(t1 - t0) / 1e3;
		}
	}
	for (k = 0; k < ncmds; k++) {
		double sum = 0;

		for (r = 0; r < rounds; r++)
			sum += t[k][r];
		qsort(t[k], (size_t)rounds, sizeof(double), cmp_double);
		(void)printf("lat %d %.1f %.1f %.1f %.1f %ld\n", k,
		    quantile(t[k], (size_t)rounds, 0.5),
		    quantile(t[k], (size_t)rounds, 0.1),
		    quantile(t[k], (size_t)rounds, 0.9), sum / (double)rounds,
		    fails[k]);
		free(t[k]);
	}
	(void)close(devnull);
	return 0;
}

static int
cmd_pipe(int argc, char **argv)
{
	char **cmds[MAX_CMDS];
	unsigned long long bytes = 0, got;
	char out[64];
	size_t outlen = 0;
	int p[2], c[2], devnull, opt, st0, st1;
	pid_t prod, cons;
	uint64_t t0, t1;

	while ((opt = getopt(argc, argv, "+b:")) != -1) {
		switch (opt) {
		case 'b':
			bytes = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (bytes == 0 || split_cmds(argc, argv, optind, cmds, MAX_CMDS) != 2)
		usage();
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || pipe2(p, O_CLOEXEC) < 0 || pipe2(c, O_CLOEXEC) < 0) {
		perror("bench-drive");
		return 1;
	}
	t0 = now_ns();
	prod = spawn(cmds[0], devnull, p[1]);
	cons = spawn(cmds[1], p[0], c[1]);
	(void)close(p[0]);
	(void)close(p[1]);
	(void)close(c[1]);
	if (prod < 0 || cons < 0) {
		(void)fprintf(stderr, "bench-drive: cannot start %s\n",
		    prod < 0 ? cmds[0][0] : cmds[1][0]);
		return 1;
	}
	for (;;) {
		ssize_t n = read(c[0], out + outlen, sizeof(out) - 1 - outlen);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		outlen += (size_t)n;
		if (outlen == sizeof(out) - 1)
			break; /* too much: cannot be a count */
	}
	out[outlen] = '\0';
	st0 = reap(prod);
	st1 = reap(cons);
	t1 = now_ns();
	(void)close(c[0]);
	got = strtoull(out, NULL, 10);
	if (st0 != 0 || st1 != 0 || got != bytes) {
		(void)fprintf(stderr,
		    "bench-drive: pipe run failed: producer "
		    "exit %d, consumer exit %d, %llu of %llu bytes\n",
		    st0, st1, got, bytes);
		return 1;
	}
	(void)printf("pipe %.6f\n", (double)(t1 - t0) / 1e9);
	return 0;
}

struct conc_result {
	long calls, failures, hangs;
	long nlat;
	double lat_ms[]; /* per call */
};

/*
 * Wait until fd is readable or deadline_ns passes.  1 readable, 0 timed
 * out, -1 error.
 */
static int
wait_readable(int fd, uint64_t deadline_ns)
{
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ns();
		int r;

		if (now >= deadline_ns)
			return 0;
		r = poll(&pf, 1, (int)((deadline_ns - now) / 1000000u) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r > 0)
			return 1;
	}
}

/* One call of the concurrency test.  0 ok, 1 failure, 2 hang. */
static int
conc_call(
    char *const *cmd, int w, long i, long timeout_ms, int code, bool report)
{
	char tok[96], out[256];
	size_t toklen, outlen = 0;
	int in[2], op[2], pidfd, st, r;
	bool hung = false, overflow = false;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	pid_t pid;

	(void)snprintf(
	    tok, sizeof(tok), "call %d/%d/%ld\n", (int)getpid(), w, i);
	toklen = strlen(tok);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(op, O_CLOEXEC) < 0) {
		perror("bench-drive: pipe");
		exit(1);
	}
	pid = spawn(cmd, in[0], op[1]);
	(void)close(in[0]);
	(void)close(op[1]);
	if (pid < 0) {
		(void)close(in[1]);
		(void)close(op[0]);
		if (report)
			(void)fprintf(stderr, "bench-drive: spawn %s: %s\n",
			    cmd[0], strerror((int)-pid));
		return 1;
	}
	/* a short line always fits in the pipe; SIGPIPE is ignored */
	(void)!write(in[1], tok, toklen);
	(void)close(in[1]);
	for (;;) {
		ssize_t n;

		r = wait_readable(op[0], deadline);
		if (r <= 0) {
			hung = r == 0;
			break;
		}
		n = read(op[0], out + outlen, sizeof(out) - 1 - outlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		outlen += (size_t)n;
		if (outlen == sizeof(out) - 1) {
			overflow = true;
			outlen = 0;
		}
	}
	(void)close(op[0]);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (!hung && pidfd >= 0 && wait_readable(pidfd, deadline) == 0)
		hung = true;
	if (pidfd >= 0)
		(void)close(pidfd);
	if (hung)
		(void)kill(pid, SIGKILL);
	st = reap(pid);
	if (hung) {
		if (report)
			(void)fprintf(stderr,
			    "bench-drive: worker %d call %ld: "
			    "no answer in %ld ms, killed\n",
			    w, i, timeout_ms);
		return 2;
	}
	out[outlen] = '\0';
	if (st != code || overflow || outlen != toklen ||
	    memcmp(out, tok, toklen) != 0) {
		if (report)
			(void)fprintf(stderr,
			    "bench-drive: worker %d call %ld: "
			    "exit %d (want %d), output \"%.40s\" (want "
			    "\"%.*s\")\n",
			    w, i, st, code, out, (int)toklen - 1, tok);
		return 1;
	}
	return 0;
}

static int
cmd_conc(int argc, char **argv)
{
	char **cmds[1];
	long workers = 16, calls = 100, timeout_ms = 10000, i;
	int code = 0, opt, w;
	struct conc_result *res[MAX_WORKERS];
	size_t each;
	long total = 0, failures = 0, hangs = 0, nlat = 0;
	double *all;
	uint64_t t0, t1;
	pid_t parent;

	while ((opt = getopt(argc, argv, "+j:n:t:c:")) != -1) {
		switch (opt) {
		case 'j':
			workers = num_arg(optarg, 1, MAX_WORKERS);
			break;
		case 'n':
			calls = num_arg(optarg, 1, 10000000);
			break;
		case 't':
			timeout_ms = num_arg(optarg, 1, 3600000);
			break;
		case 'c':
			code = (int)num_arg(optarg, 0, 255);
			break;
		default:
			usage();
		}
	}
	if (split_cmds(argc, argv, optind, cmds, 1) != 1)
		usage();
	(void)signal(SIGPIPE, SIG_IGN);
	each = sizeof(struct conc_result) + (size_t)calls * sizeof(double);
	for (w = 0; w < workers; w++) {
		res[w] = mmap(NULL, each, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (res[w] == MAP_FAILED) {
			perror("bench-drive: mmap");
			return 1;
		}
	}
	t0 = now_ns();
	parent = getpid();
	for (w = 0; w < workers; w++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("bench-drive: fork");
			return 1;
		}
		if (pid == 0) {
			struct conc_result *me = res[w];
			int reports = 0;

			/* no worker outlives the driver (bench/run kills it) */
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
			    getppid() != parent)
				_exit(1);

			for (i = 0; i < calls; i++) {
				uint64_t c0 = now_ns();
				int r = conc_call(cmds[0], w, i, timeout_ms,
				    code, reports < MAX_REPORTS);

				me->lat_ms[me->nlat++] =
				    (double)(now_ns() - c0) / 1e6;
				me->calls++;
				if (r == 1)
					me->failures++;
				if (r == 2)
					me->hangs++;
				if (r != 0)
					reports++;
			}
			_exit(0);
		}
	}
	for (w = 0; w < workers; w++)
		if (wait(NULL) < 0 && errno != EINTR)
			break;
	t1 = now_ns();
	all = calloc((size_t)(workers * calls), sizeof(*all));
	if (all == NULL) {
		perror("bench-drive");
		return 1;
	}
	for (w = 0; w < workers; w++) {
		total += res[w]->calls;
		failures += res[w]->failures;
		hangs += res[w]->hangs;
		for (i = 0; i < res[w]->nlat; i++)
			all[nlat++] = res[w]->lat_ms[i];
	}
	/* calls a crashed worker never made count as failures */
	failures += workers * calls - total;
	qsort(all, (size_t)nlat, sizeof(double), cmp_double);
	(void)printf("conc %ld %ld %ld %.3f %.3f %.3f %.3f\n", workers * calls,
	    failures, hangs, (double)(t1 - t0) / 1e9,
	    quantile(all, (size_t)nlat, 0.5), quantile(all, (size_t)nlat, 0.99),
	    nlat ? all[nlat - 1] : 0.0);
	free(all);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	/* the mode's own options start after the mode word */
	if (strcmp(argv[1], "lat") == 0)
		return cmd_lat(argc - 1, argv + 1);
	if (strcmp(argv[1], "pipe") == 0)
		return cmd_pipe(argc - 1, argv + 1);
	if (strcmp(argv[1], "conc") == 0)
		return cmd_conc(argc - 1, argv + 1);
	usage();
	return 2;
}
