/*
 * qvm_shutdown.c - qvm-shutdown: shut qubes down gracefully, all at once,
 * as Qubes' tool: admin.vm.Shutdown with "force" and "wait" as asked, a
 * halted qube is not an error, qubes still in use by others are retried
 * while that makes progress, and qubes whose shutdown timed out are tried
 * once more and then killed.
 *
 * --timeout SECONDS waits on our side instead (Qubes' manual: "timeout
 * after which domains are killed when using --wait"): the qubes are asked
 * to shut down, their domain-shutdown events (admin.Events, or their power
 * state where the daemon has no events) are awaited, and those still up
 * at the deadline are killed.
 *
 * Runs as the administrator.  Untrusted input: the daemon's replies and
 * events, parsed by admin_client.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "lib/util.h"

enum {
	OPT_WAIT = CLI_OPT_FIRST_TOOL,
	OPT_TIMEOUT,
	OPT_FORCE,
	OPT_DRY_RUN,
};

/* --timeout's upper bound (a day), and how often power states are polled
 * when the daemon sends no events. */
#define SHUTDOWN_TIMEOUT_MAX 86400
#define SHUTDOWN_POLL_MS     500

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "Usage: qvm-shutdown [options] VMNAME...\n"
	    "       qvm-shutdown [options] --all [--exclude VMNAME]...\n"
	    "\n"
	    "Shut qubes down gracefully, all at once.  A qube that is already "
	    "halted is\n"
	    "not an error.  A qube still in use by others (as their network "
	    "qube, say) is\n"
	    "refused unless --force; it is retried as long as that makes "
	    "progress, so\n"
	    "with --wait a network qube shut down with its clients goes last.  "
	    "VMNAME\n"
	    "may be a shell wildcard pattern (quote it).\n"
	    "\n"
	    "Options:\n"
	    "      --wait           wait until the qubes are down; one whose "
	    "shutdown\n"
	    "                       times out (its shutdown_timeout) is tried "
	    "once more,\n"
	    "                       then killed\n"
	    "      --timeout SECONDS\n"
	    "                       wait (as --wait) at most SECONDS in all, "
	    "watching the\n"
	    "                       qubes' events; kill those still up "
	    "then\n"
	    "      --force          shut down even qubes that others depend on "
	    "(their\n"
	    "                       network qube, audio qube...); implied by "
	    "--all without\n"
	    "                       --exclude\n"
	    "      --dry-run        do nothing (check the names only)\n" CLI_SELECT_HELP
	        CLI_COMMON_HELP "\n"
	    "Exit status: 0 every qube is down or going down, 1 some refused "
	    "or failed\n"
	    "(each is reported), 2 usage error (also an unknown qube).\n"
	    "\n" CLI_ENV_HELP);
}

/* Qubes that failed, and why (an index into the calls of a round). */
struct outcome {
	const struct admin_vm **vm;
	char **why;
	size_t n;
};

static void
outcome_add(struct outcome *o, const struct admin_vm *vm, const char *why)
{
	o->vm[o->n] = vm;
	o->why[o->n] = cli_strdup(why);
	o->n++;
}

static void
outcome_free(struct outcome *o)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		free(o->why[i]);
	o->n = 0;
}

static char *
call_why(const struct admin_call *c)
{
	char msg[1024];

	if (c->error < 0)
		return cli_asprintf("%s: %s", c->method, strerror(-c->error));
	return cli_strdup(cli_exc_text(&c->reply, msg, sizeof(msg)));
}

/*
 * One round: Shutdown each of vms.  Those that went fine go to *ok (when
 * not NULL), those in use to *used, timed out to *timedout, the rest that
 * failed to *failed; a halted qube is fine.
 */
static void
shutdown_round(const struct admin_vm **vms, size_t n, const char *arg,
    struct outcome *ok, struct outcome *used, struct outcome *timedout,
    struct outcome *failed)
{
	struct admin_call *calls =
	    cli_call_each(vms, n, "admin.vm.Shutdown", arg);
	size_t i;

	for (i = 0; i < n; i++) {
		const struct admin_call *c = &calls[i];
		char *why;

		if (c->error == 0 && c->reply.ok) {
			if (ok != NULL)
				outcome_add(ok, vms[i], "");
			continue;
		}
		if (c->error == 0 &&
		    admin_exc_is(c->reply.exc, ADMIN_EXC_VM_NOT_STARTED))
			continue;
		why = call_why(c);
		if (c->error == 0 &&
		    admin_exc_is(c->reply.exc, ADMIN_EXC_VM_IN_USE))
			outcome_add(used, vms[i], why);
		else if (c->error == 0 &&
		    admin_exc_is(c->reply.exc, ADMIN_EXC_VM_SHUTDOWN_TIMEOUT))
			outcome_add(timedout, vms[i], why);
		else
			outcome_add(failed, vms[i], why);
		free(why);
	}
	cli_calls_free(calls, n);
}

static void
print_names(const char *what, const struct outcome *o)
{
	size_t i;

	(void)fprintf(stderr, "%s: %s: ", cli_prog(), what);
	for (i = 0; i < o->n; i++)
		(void)fprintf(stderr, "%s%s", i ? ", " : "", o->vm[i]->name);
	(void)fputc('\n', stderr);
}

/* Kill the qubes of o; those that fail go to failed. */
static void
kill_all(const struct outcome *o, struct outcome *failed)
{
	struct admin_call *calls =
	    cli_call_each(o->vm, o->n, "admin.vm.Kill", NULL);
	size_t i;

	for (i = 0; i < o->n; i++) {
		char *why;

		if (calls[i].error == 0 &&
		    (calls[i].reply.ok ||
		        admin_exc_is(
		            calls[i].reply.exc, ADMIN_EXC_VM_NOT_STARTED)))
			continue;
		why = call_why(&calls[i]);
		outcome_add(failed, o->vm[i], why);
		free(why);
	}
	cli_calls_free(calls, o->n);
}

/* Is the qube halted now?  1 yes, 0 no, -1 unknown. */
static int
is_halted(const char *vm)
{
	struct admin_reply r;
	char state[ADMIN_NAME_MAX];
	int rc = -1;

	if (admin_call(admin_socket_path(), vm, "admin.vm.CurrentState", NULL,
	        NULL, 0, &r) < 0)
		return -1;
	if (r.ok &&
	    admin_parse_power_state(r.data, r.len, state, sizeof(state)) == 0)
		rc = strcmp(state, "Halted") == 0 ? 1 : 0;
	else if (!r.ok && admin_exc_is(r.exc, ADMIN_EXC_VM_NOT_FOUND))
		rc = 1; /* removed (a disposable): down */
	admin_reply_free(&r);
	return rc;
}

/* Drop the qubes of w that are halted now. */
static void
drop_halted(struct outcome *w)
{
	size_t i = 0;

	while (i < w->n) {
		if (is_halted(w->vm[i]->name) == 1) {
			free(w->why[i]);
			w->vm[i] = w->vm[w->n - 1];
			w->why[i] = w->why[w->n - 1];
			w->n--;
		} else {
			i++;
		}
	}
}

/*
 * --timeout: wait until every qube of w is down or deadline_ms passes;
 * w keeps those still up.  es is the event stream (fd -1 without one).
 */
static void
wait_down(struct admin_events *es, struct outcome *w, uint64_t deadline_ms)
{
	uint64_t next_poll = 0;

	while (w->n > 0) {
		uint64_t now = now_ms();
		struct admin_event ev;
		int rc, wait_ms;
		size_t i;

		if (now >= next_poll) {
			/*
			 * Poll too, even with events: a qube that went down
			 * between its Shutdown call and now, or a daemon
			 * whose event has another name.
			 */
			drop_halted(w);
			next_poll = now +
			    (uint64_t)SHUTDOWN_POLL_MS *
			        (uint64_t)(es->fd >= 0 ? 4 : 1);
			continue;
		}
		if (now >= deadline_ms)
			return;
		wait_ms =
		    (int)((deadline_ms < next_poll ? deadline_ms : next_poll) -
		        now);
		if (es->fd < 0) {
			struct timespec ts = {
			    wait_ms / 1000, (long)(wait_ms % 1000) * 1000000};

			(void)nanosleep(&ts, NULL);
			continue;
		}
		rc = admin_events_next(es, wait_ms, &ev);
		if (rc < 0) {
			/* the stream broke: poll from now on */
			admin_events_close(es);
			continue;
		}
		if (rc == 0)
			continue;
		if (strcmp(ev.name, "domain-shutdown") == 0)
			for (i = 0; i < w->n; i++)
				if (strcmp(w->vm[i]->name, ev.subject) == 0) {
					free(w->why[i]);
					w->vm[i] = w->vm[w->n - 1];
					w->why[i] = w->why[w->n - 1];
					w->n--;
					break;
				}
		admin_event_free(&ev);
	}
}

static void
outcome_init(struct outcome *o, size_t n)
{
	o->vm = cli_calloc(n, sizeof(const struct admin_vm *));
	o->why = cli_calloc(n, sizeof(*o->why));
	o->n = 0;
}

static void
outcome_destroy(struct outcome *o)
{
	outcome_free(o);
	free(o->vm);
	free(o->why);
}

int
main(int argc, char **argv)
{
	static const struct option tool_opts[] = {
	    {"wait", no_argument, NULL, OPT_WAIT},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts =
	    cli_longopts(tool_opts, CLI_OPTS_SELECT);
	struct cli_common co = {0, 0};
	struct cli_select_opts so = {false, {NULL, 0}};
	struct admin_vm_list list = {NULL, 0};
	struct cli_selection sel = {NULL, 0};
	struct outcome ok, used, timedout, failed, prev_used;
	struct admin_events es;
	bool wait = false, force = false, dry = false;
	bool have_timeout = false;
	unsigned long timeout_s = 0;
	uint64_t deadline = 0;
	const char *arg;
	size_t i, tries;
	int c;

	memset(&es, 0, sizeof(es));
	es.fd = -1;
	cli_init(argv[0]);
	while ((c = getopt_long(
	            argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_WAIT:
			wait = true;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_uint(
			        optarg, SHUTDOWN_TIMEOUT_MAX, &timeout_s) < 0)
				cli_usage_fail("--timeout: not a number of "
				               "seconds up to %d: %s",
				    SHUTDOWN_TIMEOUT_MAX, optarg);
			have_timeout = true;
			break;
		case OPT_FORCE:
			force = true;
			break;
		case OPT_DRY_RUN:
			dry = true;
			break;
		default:
			cli_select_opt(c, &so, &co, usage);
			break;
		}
	}
	if (cli_select_args(
	        &argv[optind], (size_t)(argc - optind), &so, &list, &sel) < 0)
		return CLI_EXIT_FAIL;
	if (dry)
		goto out;
	/* everything: the order among them does not matter (qvm_shutdown.py) */
	force = force || (so.all && so.exclude.n == 0);
	if (have_timeout) {
		int rc = admin_events_open(admin_socket_path(), "dom0", &es);

		if (rc < 0) {
			/* no events: we poll the power states instead */
			if (cli_verbosity(&co) > 1)
				cli_errx(
				    "admin.Events: not available, polling");
			admin_events_close(&es);
			es.fd = -1;
		}
		deadline = now_ms() + timeout_s * 1000;
		wait = false; /* we wait, not the daemon */
	}
	arg = force && wait ? "force+wait" :
	    force           ? "force" :
	    wait            ? "wait" :
	                      NULL;

	outcome_init(&ok, sel.n);
	outcome_init(&used, sel.n);
	outcome_init(&timedout, sel.n);
	outcome_init(&failed, sel.n * 3);
	outcome_init(&prev_used, sel.n);
	shutdown_round(sel.vm, sel.n, arg, have_timeout ? &ok : NULL, &used,
	    &timedout, &failed);
	/* in use: retry while the number still in use goes down */
	for (tries = used.n; used.n > 0 && tries > 0; tries--) {
		size_t before = used.n;

		print_names(
		    "retrying shutdown of qubes that were in use", &used);
		outcome_free(&prev_used);
		for (i = 0; i < used.n; i++)
			outcome_add(&prev_used, used.vm[i], used.why[i]);
		outcome_free(&used);
		shutdown_round(prev_used.vm, prev_used.n, arg,
		    have_timeout ? &ok : NULL, &used, &timedout, &failed);
		if (used.n >= before)
			break;
	}
	if (timedout.n > 0) {
		/* once more: the daemon's wait is the qube's shutdown_timeout */
		struct outcome again;

		outcome_init(&again, timedout.n);
		print_names(
		    "retrying shutdown of qubes that timed out", &timedout);
		for (i = 0; i < timedout.n; i++)
			outcome_add(&again, timedout.vm[i], timedout.why[i]);
		outcome_free(&timedout);
		shutdown_round(
		    again.vm, again.n, arg, NULL, &used, &timedout, &failed);
		outcome_destroy(&again);
	}
	if (have_timeout) {
		wait_down(&es, &ok, deadline);
		for (i = 0; i < ok.n; i++)
			outcome_add(&timedout, ok.vm[i], "");
	}
	if (timedout.n > 0) {
		print_names("killing timed out qubes", &timedout);
		kill_all(&timedout, &failed);
	}
	for (i = 0; i < used.n; i++)
		outcome_add(&failed, used.vm[i], used.why[i]);
	for (i = 0; i < failed.n; i++)
		cli_errx("%s: failed to shut down: %s", failed.vm[i]->name,
		    failed.why[i]);
	c = failed.n > 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	admin_events_close(&es);
	outcome_destroy(&ok);
	outcome_destroy(&used);
	outcome_destroy(&timedout);
	outcome_destroy(&failed);
	outcome_destroy(&prev_used);
	cli_selection_free(&sel);
	admin_vm_list_free(&list);
	admin_strv_free(&so.exclude);
	return c;
out:
	cli_selection_free(&sel);
	admin_vm_list_free(&list);
	admin_strv_free(&so.exclude);
	return CLI_EXIT_OK;
}
