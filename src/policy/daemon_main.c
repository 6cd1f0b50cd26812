/*
 * daemon_main.c - qrexec-policy-daemon: answers qrexec-daemons' policy
 * questions on a UNIX socket, one request a connection, many connections
 * at once in one poll loop; reloads the policy when its files change.
 *
 * Runs as an unprivileged user (--user: started as root, it drops to that
 * user right after binding its socket, and sets no_new_privs).  Untrusted:
 * everything read from a connection (qrexec-daemons relay names chosen by
 * qubes) until policy_daemon_request_parse() and policy_evaluate() accept
 * it, and the policy agent's answers until policy_agent_answer_parse().
 * A slow or silent peer costs one connection slot until its deadline,
 * never the loop.
 *
 * Reload is atomic: a new policy is parsed whole into a new rule set and
 * swapped in; a policy with any error (a half-written file included)
 * replaces it with "deny everything", as Qubes does, and the error is
 * logged with its file:line.  Nothing half-loaded is ever used.
 */
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sock.h"
#include "policy/cli.h"
#include "policy/policy.h"
#include "policy/prompt.h"

#define PROG "qrexec-policy-daemon"

/* per-connection limits */
#define DAEMON_MAX_CONNS 512u
/*
 * Questions one source qube may have waiting for the user at once.  Each
 * holds a connection (for up to --ask-timeout) and a place in the GUI's
 * queue: a qube that asks more is denied at once, so that it can neither
 * take every connection nor bury other qubes' questions.
 */
#define DAEMON_ASKS_PER_SOURCE   4u
#define DAEMON_READ_TIMEOUT_MS   10000u
#define DAEMON_WRITE_TIMEOUT_MS  10000u
#define DAEMON_AGENT_ANSWER_MAX  256u
#define DAEMON_QUBESD_TIMEOUT_MS 5000
#define DAEMON_MAX_WATCHES       1024u
/* coalesce a burst of file events (an editor's save) into one reload */
#define DAEMON_RELOAD_DELAY_MS 20u
/* while the policy is broken, try again at most this often on demand */
#define DAEMON_RETRY_MS 1000u

enum conn_state {
	C_READ,       /* reading the request */
	C_ASK_QUEUED, /* waiting for the terminal */
	C_ASK,        /* waiting for the agent or the prompt child */
	C_WRITE,      /* writing the reply */
	C_MAX
};

struct conn {
	int fd;
	enum conn_state state;
	char *untrusted_buf; /* the request, until it is parsed */
	size_t len;
	size_t scanned; /* bytes of it searched for its end (an empty line) */
	uint64_t deadline;
	struct policy_decision dec;
	bool have_dec;
	bool just_evaluate;
	int ask_fd; /* agent socket or the prompt child's pipe */
	pid_t ask_pid;
	char *ask_out; /* what is still to be sent to the agent */
	size_t ask_out_len, ask_out_off;
	char untrusted_ask_in[DAEMON_AGENT_ANSWER_MAX];
	size_t untrusted_ask_in_len;
	char reply[POLICY_REPLY_BUF_LEN];
	size_t reply_len, reply_off;
	struct conn *next;
};

struct daemon {
	const char *socket_path;
	struct sock_ident sock_id;
	int lfd;
	struct policy_dirs dirs;
	const char *compat_dir;
	const char *sysinfo_file;
	const char *qubesd_socket;
	bool qubesd_qubes_format;
	const char *ask_socket;
	unsigned ask_timeout_s;
	bool tty_ok;
	bool tty_busy;
	/* the policy in force: NULL means "deny everything" */
	struct policy *policy;
	char policy_err[POLICY_ERRMSG_MAX + POLICY_PATH_MAX];
	bool dirty;
	uint64_t reload_at;
	uint64_t last_attempt;
	int ifd;
	/*
	 * Watches held: new descriptors added, minus IN_IGNORED (a watched
	 * directory removed).  The kernel gives an already watched directory
	 * its old descriptor back, and never reuses a number, so a
	 * descriptor above max_wd is a new watch and one at or below it is
	 * not.
	 */
	unsigned nwatches;
	int max_wd;
	/* system information from a file, reloaded when it changes */
	struct sysinfo *si_file;
	struct stat si_stat;
	struct conn *conns;
	unsigned nconns;
	volatile sig_atomic_t quit;
};

static struct daemon *the_daemon;

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
on_signal(int sig)
{
	(void)sig;
	if (the_daemon != NULL)
		the_daemon->quit = 1;
}

/* ---- policy and its watches ---- */

static void
watch_dir(struct daemon *D, const char *dir)
{
	const uint32_t mask = IN_CREATE | IN_DELETE | IN_MODIFY |
	    IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB |
	    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

	int wd;

	if (D->ifd < 0 || D->nwatches >= DAEMON_MAX_WATCHES)
		return;
	/* the same directory twice gives the same watch: not counted */
	wd = inotify_add_watch(D->ifd, dir, mask);
	if (wd > D->max_wd) {
		D->max_wd = wd;
		D->nwatches++;
	}
}

static void
watch_policy(struct daemon *D)
{
	char *prev = NULL;
	size_t i;

	for (i = 0; i < D->dirs.n; i++)
		watch_dir(D, D->dirs.dirs[i]);
	if (D->compat_dir != NULL)
		watch_dir(D, D->compat_dir);
	if (D->policy == NULL)
		return;
	/*
	 * A directory's files follow it in the source list: skip a parent
	 * watched just before (one syscall each instead of one a file).
	 */
	for (i = 0; i < policy_source_count(D->policy); i++) {
		const char *src = policy_source_at(D->policy, i);
		char *copy = strdup(src);
		const char *dir = src;
		struct stat st;

		if (copy == NULL)
			continue;
		if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode))
			dir = dirname(copy);
		if (prev != NULL && strcmp(prev, dir) == 0) {
			free(copy);
			continue;
		}
		watch_dir(D, dir);
		free(prev);
		prev = strdup(dir);
		free(copy);
	}
	free(prev);
}

static void
reload(struct daemon *D)
{
	struct policy_load_opts o;
	struct policy_error err;
	struct policy *p = NULL;
	int r;

	D->dirty = false;
	D->last_attempt = mono_ms();
	memset(&o, 0, sizeof(o));
	o.dirs = (const char *const *)D->dirs.dirs;
	o.ndirs = D->dirs.n;
	o.compat_dir = D->compat_dir;
	r = policy_load(&o, &p, &err);
	/* the swap: the old rules stay whole until the new ones are */
	policy_free(D->policy);
	D->policy = p;
	if (r < 0) {
		if (r == -ENOMEM)
			(void)snprintf(D->policy_err, sizeof(D->policy_err),
			    "out of memory");
		else
			(void)policy_error_str(
			    &err, D->policy_err, sizeof(D->policy_err));
		log_warnx(
		    "policy error, denying everything: %s", D->policy_err);
	} else {
		D->policy_err[0] = '\0';
		log_info("policy loaded: %zu rules", policy_rule_count(p));
	}
	watch_policy(D);
}

static void
drain_inotify(struct daemon *D)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(D->ifd, buf, sizeof(buf));
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		D->dirty = true;
		/* the kernel writes whole events only */
		while (off + sizeof(struct inotify_event) <= (size_t)n) {
			const struct inotify_event *ev =
			    (const struct inotify_event *)(buf + off);

			if ((ev->mask & IN_IGNORED) && D->nwatches > 0)
				D->nwatches--;
			off += sizeof(*ev) + ev->len;
		}
	}
	if (D->dirty)
		D->reload_at = mono_ms() + DAEMON_RELOAD_DELAY_MS;
}

static void
policy_current(struct daemon *D)
{
	if (D->dirty ||
	    (D->policy == NULL &&
	        mono_ms() - D->last_attempt >= DAEMON_RETRY_MS))
		reload(D);
}

/* ---- system information ---- */

static struct sysinfo *
get_sysinfo(struct daemon *D)
{
	char err[POLICY_ERRMSG_MAX];
	struct sysinfo *si = NULL;
	struct stat st;

	if (D->sysinfo_file != NULL) {
		if (stat(D->sysinfo_file, &st) < 0) {
			log_warn("system information %s", D->sysinfo_file);
			return NULL;
		}
		if (D->si_file == NULL || st.st_ino != D->si_stat.st_ino ||
		    st.st_size != D->si_stat.st_size ||
		    st.st_mtim.tv_sec != D->si_stat.st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != D->si_stat.st_mtim.tv_nsec) {
			sysinfo_unref(D->si_file);
			D->si_file = NULL;
			D->si_stat = st;
			if (sysinfo_load_file(D->sysinfo_file, &D->si_file, err,
			        sizeof(err)) < 0)
				log_warnx("system information: %s", err);
		}
		return sysinfo_ref(D->si_file);
	}
	/*
	 * Per request, as Qubes: power states and tags change all the time.
	 * XXX #3: this call blocks the loop for up to its timeout; the admin
	 * daemon is more trusted than any client, and local.
	 */
	if (sysinfo_fetch(D->qubesd_socket, D->qubesd_qubes_format,
	        DAEMON_QUBESD_TIMEOUT_MS, &si, err, sizeof(err)) < 0) {
		log_warnx("system information: %s", err);
		return NULL;
	}
	return si;
}

/* ---- connections ---- */

static void
conn_close(struct daemon *D, struct conn *c)
{
	struct conn **pp;

	for (pp = &D->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->ask_pid > 0) {
		(void)kill(c->ask_pid, SIGTERM);
		(void)waitpid(c->ask_pid, NULL, 0);
		D->tty_busy = false;
	}
	if (c->ask_fd >= 0)
		(void)close(c->ask_fd);
	if (c->fd >= 0)
		(void)close(c->fd);
	if (c->have_dec)
		policy_decision_free(&c->dec);
	free(c->ask_out);
	free(c->untrusted_buf);
	free(c);
	D->nconns--;
}

static void
reply_str(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	if (n >= sizeof(c->reply))
		n = 0;
	memcpy(c->reply, s, n);
	c->reply_len = n;
	c->reply_off = 0;
	c->state = C_WRITE;
	c->deadline = mono_ms() + DAEMON_WRITE_TIMEOUT_MS;
}

/*
 * What one source qube's calls may make us write: the line of each
 * decision (and its notification, for a rule with notify=yes) for at most
 * DECISION_LOG_BURST calls every DECISION_LOG_INTERVAL_MS, then a count.
 * A qube can make hundreds of calls a second, each denied in microseconds:
 * without a bound it would fill this log (in /run, a tmpfs: memory) and
 * flood the notifications.  The decisions themselves are not affected.
 * Budgets for DECISION_BUDGETS sources at once; a new source takes the
 * one whose interval began longest ago (a source that keeps calling
 * renews its interval every DECISION_LOG_INTERVAL_MS, so that is one
 * that has been quiet), after logging what that one left out.
 */
#define DECISION_LOG_BURST       20u
#define DECISION_LOG_INTERVAL_MS 10000u
#define DECISION_BUDGETS         64
/* this daemon's log file, at most */
#define LOG_CAP_BYTES (16u << 20)

static struct source_budget {
	char name[64];
	struct log_budget b;
} budgets[DECISION_BUDGETS];

/* May a decision for a call from source be logged (and notified)? */
static bool
decision_budget(const char *source)
{
	struct source_budget *sb = NULL, *oldest = &budgets[0];
	unsigned long left_out;
	size_t i;
	bool take;

	for (i = 0; i < DECISION_BUDGETS; i++) {
		if (strcmp(budgets[i].name, source) == 0) {
			sb = &budgets[i];
			break;
		}
		if (budgets[i].b.since < oldest->b.since)
			oldest = &budgets[i];
	}
	if (sb == NULL) {
		sb = oldest;
		if (sb->name[0] != '\0' && sb->b.left_out > 0)
			log_info("qrexec: %lu more decisions for calls from %s "
			         "not logged",
			    sb->b.left_out, sb->name);
		memset(sb, 0, sizeof(*sb));
		(void)snprintf(sb->name, sizeof(sb->name), "%s", source);
	}
	take = log_budget_take(&sb->b, mono_ms(), DECISION_LOG_BURST,
	    DECISION_LOG_INTERVAL_MS, &left_out);
	if (left_out > 0)
		log_info("qrexec: %lu more decisions for calls from %s not "
		         "logged (at most %u each %u s)",
		    left_out, source, DECISION_LOG_BURST,
		    DECISION_LOG_INTERVAL_MS / 1000);
	return take;
}

/* Fire and forget: tell the agent (if any) and the log. */
static void
notify(struct daemon *D, struct policy_decision *d, const char *target)
{
	struct sockaddr_un sa;
	char *msg;
	int fd;

	log_info("notify: %s %s%s from %s to %s",
	    d->verdict == POLICY_VERDICT_ALLOW ? "allowed" : "denied",
	    d->service, d->argument ? d->argument : "+", d->source, target);
	if (D->ask_socket == NULL ||
	    strlen(D->ask_socket) >= sizeof(sa.sun_path))
		return;
	msg = policy_agent_notify_json(d, target);
	if (msg == NULL)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, D->ask_socket, strlen(D->ask_socket) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		(void)send(fd, msg, strlen(msg), MSG_NOSIGNAL);
	else
		log_debug("notify: agent %s unreachable", D->ask_socket);
	if (fd >= 0)
		(void)close(fd);
	free(msg);
}

/* Finish with a decision that is allow or deny now. */
static void
conclude(struct daemon *D, struct conn *c)
{
	struct policy_decision *d = &c->dec;
	const char *tgt = d->requested_target;
	bool logged;

	if (d->verdict == POLICY_VERDICT_ALLOW) {
		if (c->just_evaluate) {
			/* Qubes' JustEvaluateAllowResolution: just this */
			reply_str(c, "result=allow");
			return;
		}
		if (policy_decision_format(d, c->reply, sizeof(c->reply)) < 0)
			d->verdict = POLICY_VERDICT_DENY;
	}
	logged = decision_budget(d->source[0] ? d->source : "?");
	if (d->verdict == POLICY_VERDICT_ALLOW) {
		c->reply_len = strlen(c->reply);
		c->reply_off = 0;
		c->state = C_WRITE;
		c->deadline = mono_ms() + DAEMON_WRITE_TIMEOUT_MS;
		if (logged)
			log_info("qrexec: %s%s: %s -> %s: allowed to %s",
			    d->service, d->argument, d->source, tgt, d->target);
		if (d->notify && logged)
			notify(D, d, d->target);
		return;
	}
	if (logged)
		log_info("qrexec: %s%s: %s -> %s: denied: %s", d->service,
		    d->argument ? d->argument : "+",
		    d->source[0] ? d->source : "?", tgt[0] ? tgt : "?",
		    d->reason);
	if (d->notify && !c->just_evaluate && logged)
		notify(D, d, tgt);
	reply_str(c, "result=deny");
}

static int
connect_agent(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		int e = -errno;

		(void)close(fd);
		return e;
	}
	return fd;
}

/* Run the terminal prompt in a child; its answer comes on a pipe. */
static int
start_tty_prompt(struct daemon *D, struct conn *c)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		(void)close(p[0]);
		(void)close(p[1]);
		return e;
	}
	if (pid == 0) {
		struct policy_prompt_q q = {
		    .source = c->dec.source,
		    .service = c->dec.service,
		    .argument = c->dec.argument,
		    .targets = c->dec.targets,
		    .ntargets = c->dec.ntargets,
		    .default_target = c->dec.default_target,
		};
		char ans[POLICY_PROMPT_ANSWER_MAX];
		int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

		(void)signal(SIGTERM, SIG_DFL);
		(void)signal(SIGINT, SIG_DFL);
		if (tty < 0)
			_exit(1);
		(void)policy_prompt(tty, tty, &q, ans);
		/* one short line: a pipe takes it whole */
		if (write(p[1], ans, strlen(ans)) < 0 ||
		    write(p[1], "\n", 1) < 0)
			_exit(1);
		_exit(0);
	}
	(void)close(p[1]);
	c->ask_fd = p[0];
	c->ask_pid = pid;
	c->state = C_ASK;
	c->deadline = mono_ms() + (uint64_t)D->ask_timeout_s * 1000u;
	D->tty_busy = true;
	return 0;
}

/* Questions from source waiting now (at the agent, the terminal or its
 * queue). */
static unsigned
asks_waiting(const struct daemon *D, const char *source)
{
	const struct conn *x;
	unsigned n = 0;

	for (x = D->conns; x != NULL; x = x->next)
		if ((x->state == C_ASK || x->state == C_ASK_QUEUED) &&
		    x->have_dec && strcmp(x->dec.source, source) == 0)
			n++;
	return n;
}

static void
start_ask(struct daemon *D, struct conn *c)
{
	if (asks_waiting(D, c->dec.source) >= DAEMON_ASKS_PER_SOURCE) {
		if (decision_budget(c->dec.source))
			log_warnx("ask: %u questions from %s wait already, "
			          "denying",
			    DAEMON_ASKS_PER_SOURCE, c->dec.source);
		(void)policy_decision_answer(&c->dec, false, "");
		conclude(D, c);
		return;
	}
	if (D->ask_socket != NULL) {
		int fd = connect_agent(D->ask_socket);

		if (fd < 0) {
			log_warnx("ask: agent %s: %s, denying", D->ask_socket,
			    strerror(-fd));
			(void)policy_decision_answer(&c->dec, false, "");
			conclude(D, c);
			return;
		}
		c->ask_out = policy_agent_ask_json(&c->dec);
		if (c->ask_out == NULL) {
			(void)close(fd);
			(void)policy_decision_answer(&c->dec, false, "");
			conclude(D, c);
			return;
		}
		c->ask_out_len = strlen(c->ask_out);
		c->ask_fd = fd;
		c->state = C_ASK;
		c->deadline = mono_ms() + (uint64_t)D->ask_timeout_s * 1000u;
		return;
	}
	if (D->tty_ok) {
		if (D->tty_busy) {
			c->state = C_ASK_QUEUED;
			c->deadline =
			    mono_ms() + (uint64_t)D->ask_timeout_s * 1000u;
			return;
		}
		if (start_tty_prompt(D, c) == 0)
			return;
	}
	log_warnx("ask: no agent socket and no terminal to ask on");
	(void)policy_decision_answer(&c->dec, false, "");
	conclude(D, c);
}

/* The agent (or the prompt child) answered, or went away. */
static void
finish_ask(struct daemon *D, struct conn *c)
{
	char target[POLICY_NAME_MAX];
	bool allowed = false;

	if (c->ask_pid > 0) {
		(void)waitpid(c->ask_pid, NULL, 0);
		c->ask_pid = -1;
		D->tty_busy = false;
	}
	(void)close(c->ask_fd);
	c->ask_fd = -1;
	if (policy_agent_answer_parse(c->untrusted_ask_in,
	        c->untrusted_ask_in_len, &allowed, target) < 0) {
		log_warnx("ask: invalid answer from the agent, denying");
		allowed = false;
	}
	(void)policy_decision_answer(&c->dec, allowed, allowed ? target : "");
	conclude(D, c);
}

static void
handle_request(
    struct daemon *D, struct conn *c, struct policy_daemon_request *req)
{
	struct policy_query q;
	struct sysinfo *si;
	int r;

	policy_current(D);
	si = get_sysinfo(D);
	memset(&q, 0, sizeof(q));
	q.untrusted_source = req->source;
	q.untrusted_intended_target = req->intended_target;
	q.untrusted_service_and_arg = req->service_and_arg;
	q.untrusted_requested_source = req->requested_source;
	c->just_evaluate = req->just_evaluate;
	r = policy_evaluate(D->policy, si, &q, &c->dec);
	/* a failed evaluation holds references too: conn_close frees them */
	c->have_dec = true;
	sysinfo_unref(si);
	if (r < 0) {
		log_warnx("out of memory, denying");
		reply_str(c, "result=deny");
		return;
	}
	if (D->policy == NULL)
		log_warnx("policy error, denying: %s", D->policy_err);
	if (c->dec.verdict == POLICY_VERDICT_ASK) {
		if (req->assume_yes_for_ask) {
			(void)policy_decision_assume_yes(&c->dec);
		} else if (req->just_evaluate) {
			/* Qubes' JustEvaluateAskResolution: a deny */
			reply_str(c, "result=deny");
			return;
		} else {
			start_ask(D, c);
			return;
		}
	}
	conclude(D, c);
}

static void
conn_write(struct daemon *D, struct conn *c)
{
	while (c->reply_off < c->reply_len) {
		ssize_t n = send(c->fd, c->reply + c->reply_off,
		    c->reply_len - c->reply_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			break;
		c->reply_off += (size_t)n;
	}
	conn_close(D, c);
}

/*
 * Whether the bytes read so far hold the request's end, the empty line
 * policy_daemon_request_parse() looks for: a '\n' first or after another.
 */
static bool
request_end_seen(struct conn *c)
{
	size_t i;

	for (i = c->scanned; i < c->len; i++)
		if (c->untrusted_buf[i] == '\n' &&
		    (i == 0 || c->untrusted_buf[i - 1] == '\n'))
			return true;
	c->scanned = c->len;
	return false;
}

static void
conn_read(struct daemon *D, struct conn *c)
{
	struct policy_daemon_request req;
	bool eof = false;
	int r;

	/* a full buffer is parsed first: a request of exactly the limit fits */
	while (c->len < POLICY_REQUEST_MAX_LEN) {
		ssize_t n;

		n = read(c->fd, c->untrusted_buf + c->len,
		    POLICY_REQUEST_MAX_LEN - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			conn_close(D, c);
			return;
		}
		if (n == 0) {
			eof = true;
			break;
		}
		c->len += (size_t)n;
	}
	/*
	 * Parse once, when the end has come: searching only the new bytes
	 * keeps a client that sends a byte at a time linear, not quadratic.
	 */
	if (!eof && c->len < POLICY_REQUEST_MAX_LEN && !request_end_seen(c))
		return;
	r = policy_daemon_request_parse(c->untrusted_buf, c->len, eof, &req);
	if (r == -EAGAIN && !eof && c->len < POLICY_REQUEST_MAX_LEN)
		return;
	if (r == -EAGAIN)
		r = -EMSGSIZE; /* full, and still no end: too long */
	if (r < 0) {
		char q[96];

		/* as Qubes: no answer to a request it cannot parse */
		log_warnx("invalid policy request %s, closing",
		    log_quote(q, sizeof(q), c->untrusted_buf,
		        c->len < 64 ? c->len : 64));
		conn_close(D, c);
		return;
	}
	handle_request(D, c, &req);
	policy_daemon_request_clear(&req);
	/* the reply almost always fits the socket buffer: no extra poll */
	if (c->state == C_WRITE)
		conn_write(D, c);
}

static void
conn_ask_io(struct daemon *D, struct conn *c, short revents)
{
	if (c->ask_pid <= 0 && c->ask_out_off < c->ask_out_len &&
	    (revents & POLLOUT)) {
		ssize_t n = send(c->ask_fd, c->ask_out + c->ask_out_off,
		    c->ask_out_len - c->ask_out_off, MSG_NOSIGNAL);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			log_warnx("ask: agent: %s, denying", strerror(errno));
			c->untrusted_ask_in_len = 0;
			finish_ask(D, c);
			return;
		}
		if (n > 0)
			c->ask_out_off += (size_t)n;
		return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		ssize_t n = read(c->ask_fd,
		    c->untrusted_ask_in + c->untrusted_ask_in_len,
		    sizeof(c->untrusted_ask_in) - c->untrusted_ask_in_len);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n > 0) {
			c->untrusted_ask_in_len += (size_t)n;
			if (memchr(c->untrusted_ask_in, '\n',
			        c->untrusted_ask_in_len) == NULL &&
			    c->untrusted_ask_in_len <
			        sizeof(c->untrusted_ask_in))
				return;
		}
		finish_ask(D, c);
	}
}

static void
accept_conns(struct daemon *D)
{
	for (;;) {
		struct conn *c;
		int fd = sock_accept(D->lfd, true);

		if (fd < 0)
			return;
		if (D->nconns >= DAEMON_MAX_CONNS) {
			log_warnx("too many connections, closing one");
			(void)close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c != NULL)
			c->untrusted_buf = malloc(POLICY_REQUEST_MAX_LEN + 1);
		if (c == NULL || c->untrusted_buf == NULL) {
			free(c);
			(void)close(fd);
			log_warnx("out of memory, closing a connection");
			continue;
		}
		c->fd = fd;
		c->ask_fd = -1;
		c->ask_pid = -1;
		c->state = C_READ;
		c->deadline = mono_ms() + DAEMON_READ_TIMEOUT_MS;
		c->next = D->conns;
		D->conns = c;
		D->nconns++;
	}
}

static void
expire(struct daemon *D, uint64_t now)
{
	struct conn *c, *next;

	for (c = D->conns; c != NULL; c = next) {
		next = c->next;
		if (c->deadline > now)
			continue;
		switch (c->state) {
		case C_ASK:
		case C_ASK_QUEUED:
			log_warnx(
			    "ask: no answer in %us, denying", D->ask_timeout_s);
			if (c->ask_pid > 0) {
				(void)kill(c->ask_pid, SIGTERM);
				(void)waitpid(c->ask_pid, NULL, 0);
				c->ask_pid = -1;
				D->tty_busy = false;
			}
			if (c->ask_fd >= 0) {
				(void)close(c->ask_fd);
				c->ask_fd = -1;
			}
			(void)policy_decision_answer(&c->dec, false, "");
			conclude(D, c);
			break;
		case C_READ:
		case C_WRITE:
		case C_MAX:
			log_warnx("a client timed out, closing");
			conn_close(D, c);
			break;
		}
	}
	/* the terminal is free again: start the oldest waiting question */
	if (!D->tty_busy) {
		struct conn *oldest = NULL;

		for (c = D->conns; c != NULL; c = c->next)
			if (c->state == C_ASK_QUEUED)
				oldest = c;
		if (oldest != NULL && start_tty_prompt(D, oldest) < 0) {
			(void)policy_decision_answer(&oldest->dec, false, "");
			conclude(D, oldest);
		}
	}
}

static int
run(struct daemon *D)
{
	struct pollfd *pfd;
	struct conn **who;
	size_t cap = DAEMON_MAX_CONNS + 4;

	pfd = calloc(cap, sizeof(*pfd));
	who = calloc(cap, sizeof(struct conn *));
	if (pfd == NULL || who == NULL)
		fatalx("out of memory");
	while (!D->quit) {
		uint64_t now = mono_ms(), next = now + 60000u;
		size_t n = 0, i;
		struct conn *c;
		int timeout, r;

		pfd[n].fd = D->lfd;
		pfd[n].events = D->nconns < DAEMON_MAX_CONNS ? POLLIN : 0;
		who[n++] = NULL;
		pfd[n].fd = D->ifd;
		pfd[n].events = POLLIN;
		who[n++] = NULL;
		for (c = D->conns; c != NULL && n < cap; c = c->next) {
			if (c->deadline < next)
				next = c->deadline;
			if (c->state == C_ASK_QUEUED)
				continue;
			if (c->state == C_ASK) {
				pfd[n].fd = c->ask_fd;
				pfd[n].events = POLLIN;
				if (c->ask_out_off < c->ask_out_len)
					pfd[n].events = POLLOUT;
			} else {
				pfd[n].fd = c->fd;
				pfd[n].events =
				    c->state == C_READ ? POLLIN : POLLOUT;
			}
			who[n++] = c;
		}
		if (D->dirty && D->reload_at < next)
			next = D->reload_at;
		timeout = next > now ? (int)(next - now) : 0;
		r = poll(pfd, n, timeout);
		if (r < 0 && errno != EINTR)
			fatal("poll");
		if (r > 0) {
			if (pfd[1].revents & POLLIN)
				drain_inotify(D);
			for (i = 2; i < n; i++) {
				c = who[i];
				if (pfd[i].revents == 0)
					continue;
				if (c->state == C_READ)
					conn_read(D, c);
				else if (c->state == C_WRITE)
					conn_write(D, c);
				else if (c->state == C_ASK)
					conn_ask_io(D, c, pfd[i].revents);
			}
			if (pfd[0].revents & POLLIN)
				accept_conns(D);
		}
		if (D->dirty && mono_ms() >= D->reload_at)
			reload(D);
		expire(D, mono_ms());
	}
	free(pfd);
	free(who);
	return 0;
}

/* ---- setup ---- */

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: " PROG " [OPTIONS]\n"
	    "\n"
	    "Answer qrexec policy requests on a UNIX socket, in Qubes' "
	    "qrexec-policy-daemon\n"
	    "protocol: a request is key=value lines (source, "
	    "intended_target,\n"
	    "service_and_arg, and optionally requested_source, "
	    "assume_yes_for_ask=yes|no,\n"
	    "just_evaluate=yes|no) ended by an empty line; the reply is "
	    "result=allow\n"
	    "with user=, target=, target_uuid=, autostart=, "
	    "requested_target=, or\n"
	    "result=deny.  A request it cannot parse is closed without "
	    "an answer.\n"
	    "\n"
	    "The policy is reloaded when its files change; a policy with an "
	    "error\n"
	    "anywhere denies everything until it is fixed (the error is "
	    "logged with\n"
	    "its file:line).  An \"ask\" goes to the agent socket, or else "
	    "to a prompt\n"
	    "on the daemon's controlling terminal; no answer in time is "
	    "a deny.\n"
	    "\n"
	    "Options:\n"
	    "  -S, --socket PATH        the socket to serve [" POLICY_DEFAULT_SOCKET
	    "]\n"
	    "  -p, --policy-dir DIR     a policy.d directory (repeatable, "
	    "or DIR1:DIR2;\n"
	    "                           earlier ones shadow later ones)\n"
	    "                           [" POLICY_DEFAULT_DIRS "]\n"
	    "  -c, --compat-dir DIR     the legacy directory of "
	    "!compat-4.0\n"
	    "                           [" POLICY_DEFAULT_COMPAT_DIR "]\n"
	    "  -s, --system-info FILE   read system information from FILE "
	    "(re-read\n"
	    "                           when it changes) instead of the admin "
	    "daemon\n"
	    "  -q, --qubesd-socket PATH ask the admin daemon's internal "
	    "socket for\n"
	    "                           internal.GetSystemInfo on every "
	    "request\n"
	    "                           [" POLICY_DEFAULT_QUBESD_SOCKET "]\n"
	    "      --qubesd-format qubes|nul\n"
	    "                           the call's wire format: Qubes 4.2's\n"
	    "                           \"method+arg src name dest\\0\" "
	    "(qubes, the\n"
	    "                           default, as bulkheadd serves it) or\n"
	    "                           \"method\\0src\\0dest\\0arg\\0\" "
	    "(nul)\n"
	    "  -a, --ask-socket PATH    the policy agent's socket "
	    "(bulkhead-policy-agent)\n"
	    "  -t, --ask-timeout SECS   how long an ask may wait [60]\n"
	    "  -u, --user USER          started as root: drop to USER after "
	    "binding\n"
	    "                           the socket (which is given to USER)\n"
	    "  -d, --debug              log to stderr instead of syslog\n"
	    "  -h, --help               show this help\n"
	    "\n"
	    "Exit status: 0 after SIGTERM or SIGINT, 1 on a fatal error, 2 "
	    "on a usage error.\n"
	    "\n"
	    "Environment:\n"
	    "  BULKHEAD_LOG_LEVEL       err, warn, info (default) or debug\n");
}

static void
drop_privileges(const char *user, const char *socket_path)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		fatalx("--user %s: no such user", user);
	if (getuid() != 0) {
		if (getuid() != pw->pw_uid)
			fatalx("--user %s: not root, cannot change user", user);
		return;
	}
	if (chown(socket_path, pw->pw_uid, pw->pw_gid) < 0)
		fatal("chown %s", socket_path);
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		fatal("dropping to %s", user);
	if (setuid(0) == 0)
		fatalx("could still regain root after dropping it");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 'S'},
	    {"policy-dir", required_argument, NULL, 'p'},
	    {"compat-dir", required_argument, NULL, 'c'},
	    {"system-info", required_argument, NULL, 's'},
	    {"qubesd-socket", required_argument, NULL, 'q'},
	    {"qubesd-format", required_argument, NULL, 'F'},
	    {"ask-socket", required_argument, NULL, 'a'},
	    {"ask-timeout", required_argument, NULL, 't'},
	    {"user", required_argument, NULL, 'u'},
	    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct daemon D;
	struct sigaction sa;
	const char *user = NULL;
	bool debug = false;
	int c, r, tty;

	memset(&D, 0, sizeof(D));
	D.socket_path = POLICY_DEFAULT_SOCKET;
	D.compat_dir = POLICY_DEFAULT_COMPAT_DIR;
	D.ask_timeout_s = 60;
	D.qubesd_qubes_format = true;
	D.lfd = -1;
	D.ifd = -1;
	while ((c = getopt_long(
	            argc, argv, "S:p:c:s:q:a:t:u:dh", opts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (c) {
		case 'S':
			D.socket_path = optarg;
			break;
		case 'p':
			r = policy_dirs_add(&D.dirs, optarg);
			if (r < 0) {
				(void)fprintf(stderr,
				    PROG ": --policy-dir %s: %s\n", optarg,
				    r == -E2BIG ? "too many directories" :
				                  "invalid directory list");
				return 2;
			}
			break;
		case 'c':
			D.compat_dir = optarg;
			break;
		case 's':
			D.sysinfo_file = optarg;
			break;
		case 'q':
			D.qubesd_socket = optarg;
			break;
		case 'F':
			if (strcmp(optarg, "qubes") == 0)
				D.qubesd_qubes_format = true;
			else if (strcmp(optarg, "nul") == 0)
				D.qubesd_qubes_format = false;
			else {
				(void)fprintf(stderr,
				    PROG ": --qubesd-format: qubes or "
				         "nul\n");
				return 2;
			}
			break;
		case 'a':
			D.ask_socket = optarg;
			break;
		case 't':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v == 0 || v > 3600 ||
			    optarg[0] < '0' || optarg[0] > '9') {
				(void)fprintf(stderr,
				    PROG ": --ask-timeout: 1..3600 seconds\n");
				return 2;
			}
			D.ask_timeout_s = (unsigned)v;
			break;
		case 'u':
			user = optarg;
			break;
		case 'd':
			debug = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		(void)fprintf(
		    stderr, PROG ": unexpected argument: %s\n", argv[optind]);
		return 2;
	}
	if (D.sysinfo_file != NULL && D.qubesd_socket != NULL) {
		(void)fprintf(stderr,
		    PROG ": --system-info and "
		         "--qubesd-socket exclude each other\n");
		return 2;
	}
	if (D.sysinfo_file == NULL && D.qubesd_socket == NULL)
		D.qubesd_socket = POLICY_DEFAULT_QUBESD_SOCKET;
	if (D.dirs.n == 0 && policy_dirs_add(&D.dirs, POLICY_DEFAULT_DIRS) < 0)
		return 1;
	log_init(PROG, debug);
	/*
	 * A log file on stderr (bulkheadd's, in /run: memory) stays under
	 * LOG_CAP_BYTES, whatever the qubes' calls make us write.
	 */
	log_set_stderr_cap(LOG_CAP_BYTES);

	/* a terminal to prompt on, if no agent is configured */
	tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty >= 0) {
		D.tty_ok = D.ask_socket == NULL;
		(void)close(tty);
	}
	D.lfd = sock_listen(D.socket_path, 0660, true, &D.sock_id);
	if (D.lfd < 0) {
		errno = -D.lfd;
		fatal("listen on %s", D.socket_path);
	}
	if (user != NULL)
		drop_privileges(user, D.socket_path);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("PR_SET_NO_NEW_PRIVS");
	D.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (D.ifd < 0)
		log_warn("inotify: the policy will not be reloaded");

	the_daemon = &D;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);

	reload(&D);
	log_info("serving %s", D.socket_path);
	r = run(&D);
	while (D.conns != NULL)
		conn_close(&D, D.conns);
	sock_unlink_if_ours(D.socket_path, &D.sock_id);
	(void)close(D.lfd);
	if (D.ifd >= 0)
		(void)close(D.ifd);
	policy_free(D.policy);
	sysinfo_unref(D.si_file);
	policy_dirs_free(&D.dirs);
	log_info("exiting");
	return r;
}
