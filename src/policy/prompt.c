/*
 * prompt.c - the terminal question of an "ask": which target, or no.
 *
 * Runs in bulkhead-policy-agent (the desktop user) and in the policy
 * daemon's prompt child (the daemon's user), on a terminal.  The choices
 * were computed by the policy engine; the names in them are checked
 * names.  The user's answer is read from the terminal and checked against
 * the choices.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/prompt.h"

static void
put(int fd, const char *s)
{
	size_t off = 0, n = strlen(s);

	while (off < n) {
		ssize_t w = write(fd, s + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

/* Read one line (without its newline) of at most outlen - 1 bytes. */
static int
get_line(int fd, char *out, size_t outlen)
{
	size_t n = 0;
	bool over = false;

	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			out[n] = '\0';
			return n == 0 ? -EPIPE : 0;
		}
		if (c == '\n')
			break;
		if (n + 1 < outlen)
			out[n++] = c;
		else
			over = true;
	}
	out[n] = '\0';
	return over ? -EMSGSIZE : 0;
}

int
policy_prompt(int infd, int outfd, const struct policy_prompt_q *q,
    char ret_answer[POLICY_PROMPT_ANSWER_MAX])
{
	char line[256] = "", buf[512];
	size_t i, def = 0;

	(void)snprintf(buf, sizeof(buf),
	    "\nqrexec: %s wants to call %s%s.\nAllowed targets:\n", q->source,
	    q->service, strcmp(q->argument, "+") == 0 ? "" : q->argument);
	put(outfd, buf);
	for (i = 0; i < q->ntargets; i++) {
		bool is_def = strcmp(q->targets[i], q->default_target) == 0;

		if (is_def)
			def = i + 1;
		(void)snprintf(buf, sizeof(buf), "  %2zu) %s%s\n", i + 1,
		    q->targets[i], is_def ? "  (default)" : "");
		put(outfd, buf);
	}
	for (;;) {
		char *end;
		unsigned long k;

		if (def > 0)
			(void)snprintf(buf, sizeof(buf),
			    "Target number or name [%zu], n to deny: ", def);
		else
			(void)snprintf(buf, sizeof(buf),
			    "Target number or name, n to deny: ");
		put(outfd, buf);
		int r = get_line(infd, line, sizeof(line));

		if (r == -EMSGSIZE) {
			put(outfd, "Too long.\n");
			continue;
		}
		if (r < 0)
			break; /* end of input or an error: no */
		if (strcmp(line, "n") == 0 || strcmp(line, "no") == 0)
			break;
		if (line[0] == '\0' && def > 0) {
			(void)snprintf(ret_answer, POLICY_PROMPT_ANSWER_MAX,
			    "allow:%s", q->targets[def - 1]);
			return 1;
		}
		errno = 0;
		k = strtoul(line, &end, 10);
		if (line[0] >= '1' && line[0] <= '9' && *end == '\0' &&
		    errno == 0 && k >= 1 && k <= q->ntargets) {
			(void)snprintf(ret_answer, POLICY_PROMPT_ANSWER_MAX,
			    "allow:%s", q->targets[k - 1]);
			return 1;
		}
		for (i = 0; i < q->ntargets; i++)
			if (strcmp(line, q->targets[i]) == 0) {
				(void)snprintf(ret_answer,
				    POLICY_PROMPT_ANSWER_MAX, "allow:%s",
				    q->targets[i]);
				return 1;
			}
		put(outfd, "Not one of the targets.\n");
	}
	(void)snprintf(ret_answer, POLICY_PROMPT_ANSWER_MAX, "deny");
	return 0;
}
