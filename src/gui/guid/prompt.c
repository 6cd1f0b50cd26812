/*
 * prompt.c - the GUI domain's policy prompt (issue #8).
 *
 * Run by PROC_GUID_CORE.  With --ask-socket, qrexec-policy-daemon
 * connects here for each "ask" decision (the protocol of
 * bulkhead-policy-agent: one JSON question a connection, answered
 * "allow:TARGET" or "deny") and for notifications.  A question is shown
 * in a window of the GUI domain's own (qube "dom0", framed in its black
 * label, drawn here: a qube can draw a look-alike only inside its own
 * coloured frame), raised and focused; the user picks a target with the
 * arrow keys or the pointer and allows (Return, "Allow") or denies
 * (Escape, "Deny", closing the window).  Questions wait their turn (a
 * few); a question the daemon withdraws (its timeout) disappears.
 *
 * A qube sees the keys typed into its windows, so it can time a question
 * to appear just before a Return the user meant for it.  So Allow takes
 * effect only once the question has been shown for the arming delay
 * (--prompt-delay, 1 s by default), and a Return held down since before
 * that counts only after it has been let go and pressed again; without a
 * default target nothing is chosen until the user picks one.  (Qubes'
 * dialogs do the same with their focus-stealing guard.)  Deny needs no
 * delay.
 *
 * Untrusted input: the question's names came from qubes; the daemon
 * checked them and policy_agent_msg_parse() checks them again (only the
 * characters of names; nothing else is drawn).
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gui/guid/core.h"
#include "gui/guid/font.h"
#include "gui/guid/prompt.h"
#include "gui/guid/render.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policy/policy.h"

#define P_QUEUE    8   /* connections waiting for their turn */
#define P_WIDTH    448 /* the window, pixels */
#define P_LINE     (FONT_CELL_H + 4)
#define P_MARGIN   8
#define P_SHOWN    10 /* target lines at once */
#define P_BG       0xeeeeecu
#define P_FG       0x000000u
#define P_SEL_BG   0x3465a4u
#define P_SEL_FG   0xffffffu
#define P_BUTTON_W (12 * FONT_CELL_W)
/* X keycodes (evdev + 8) */
#define P_KEY_ESC    9u
#define P_KEY_RETURN 36u
#define P_KEY_KPENT  104u
#define P_KEY_UP     111u
#define P_KEY_DOWN   116u
#define P_ALLOW_OFF  0xbabdb6u /* the Allow button before it is armed */

struct gd_prompt {
	struct gd *g;
	int lfd;
	int fd; /* the question being read or shown, or -1 */
	int queue[P_QUEUE];
	int nqueue;
	char *buf; /* the question, being read (untrusted) */
	size_t len;
	bool shown;
	struct policy_agent_msg m;
	size_t sel;
	bool have_sel;     /* a target is chosen (sel) */
	uint64_t arm_ns;   /* the arming delay */
	uint64_t armed_at; /* now_ns() when Allow takes effect */
	bool armed;
	bool ret_held; /* a Return pressed before arming, not yet let go */
	struct gd_window *w;
	uint32_t *px;
	uint32_t height;
	uint32_t prev_focus; /* gid */
};

int
gd_prompt_new(struct gd *g, int lfd, uint32_t delay_ms, struct gd_prompt **ret)
{
	struct gd_prompt *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	p->buf = malloc(POLICY_AGENT_MSG_MAX);
	if (p->buf == NULL) {
		free(p);
		return -ENOMEM;
	}
	p->g = g;
	p->lfd = lfd;
	p->fd = -1;
	p->arm_ns = (uint64_t)delay_ms * 1000000u;
	(void)fd_set_nonblock(lfd, true);
	*ret = p;
	return 0;
}

/* Rows: the question (2), a blank, the hint, targets, a blank, buttons. */
static uint32_t
rows_targets(const struct gd_prompt *p)
{
	return p->m.ntargets < P_SHOWN ? (uint32_t)p->m.ntargets : P_SHOWN;
}

static int32_t
row_y(uint32_t row)
{
	return (int32_t)(P_MARGIN + row * P_LINE);
}

static void
draw(struct gd_prompt *p)
{
	struct render_fb fb = {p->px, P_WIDTH, p->height, P_WIDTH};
	pixman_box32_t clip = {0, 0, P_WIDTH, (int32_t)p->height};
	char line[2 * POLICY_NAME_MAX + 32];
	uint32_t n = rows_targets(p), first = 0, i, row;

	render_fill(&fb, &clip, 0, 0, P_WIDTH, p->height, P_BG);
	(void)snprintf(
	    line, sizeof(line), "Qube %s wants to call", p->m.source);
	(void)render_text(
	    &fb, &clip, P_MARGIN, row_y(0), line, strlen(line), P_FG);
	(void)snprintf(line, sizeof(line), "  %s%s", p->m.service,
	    strcmp(p->m.argument, "+") == 0 ? "" : p->m.argument);
	(void)render_text(
	    &fb, &clip, P_MARGIN, row_y(1), line, strlen(line), P_FG);
	(void)snprintf(line, sizeof(line), "%s",
	    p->have_sel ? "Target (Up/Down). Return allows, Escape denies:" :
	                  "Choose a target (Up/Down). Escape denies:");
	(void)render_text(
	    &fb, &clip, P_MARGIN, row_y(3), line, strlen(line), P_FG);
	if (p->sel >= P_SHOWN)
		first = (uint32_t)p->sel - P_SHOWN + 1;
	for (i = 0; i < n; i++) {
		size_t t = first + i;
		bool sel = p->have_sel && t == p->sel;
		bool def = strcmp(p->m.targets[t], p->m.default_target) == 0;

		row = 4 + i;
		if (sel)
			render_fill(&fb, &clip, P_MARGIN, row_y(row) - 2,
			    P_WIDTH - 2 * P_MARGIN, P_LINE, P_SEL_BG);
		(void)snprintf(line, sizeof(line), "%s %s%s", sel ? ">" : " ",
		    p->m.targets[t], def ? "  (default)" : "");
		(void)render_text(&fb, &clip, P_MARGIN + 4, row_y(row), line,
		    strlen(line), sel ? P_SEL_FG : P_FG);
	}
	row = 5 + n;
	render_fill(&fb, &clip, P_MARGIN, row_y(row) - 3, P_BUTTON_W,
	    P_LINE + 2, p->armed && p->have_sel ? P_SEL_BG : P_ALLOW_OFF);
	(void)render_text(&fb, &clip, P_MARGIN + 3 * FONT_CELL_W, row_y(row),
	    "Allow", 5, P_SEL_FG);
	render_fill(&fb, &clip, P_WIDTH - P_MARGIN - P_BUTTON_W, row_y(row) - 3,
	    P_BUTTON_W, P_LINE + 2, 0x888a85u);
	(void)render_text(&fb, &clip,
	    P_WIDTH - P_MARGIN - P_BUTTON_W + 3 * FONT_CELL_W, row_y(row),
	    "Deny", 4, P_SEL_FG);
	gd_local_window_damage(p->g, p->w);
}

static void
next_question(struct gd_prompt *p)
{
	close_fd(&p->fd);
	p->len = 0;
	if (p->nqueue > 0) {
		p->fd = p->queue[0];
		memmove(p->queue, p->queue + 1,
		    (size_t)(p->nqueue - 1) * sizeof(int));
		p->nqueue--;
	}
}

/* Take the window down and answer (NULL: say nothing, it was withdrawn). */
static void
finish(struct gd_prompt *p, const char *answer)
{
	struct gd_window *prev;

	if (answer != NULL) {
		char line[POLICY_NAME_MAX + 16];
		size_t n = (size_t)snprintf(line, sizeof(line), "%s\n", answer);

		if (send(p->fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT) !=
		    (ssize_t)n)
			log_warnx("prompt: the answer was not sent");
		log_info("prompt: %s%s from %s: %s", p->m.service,
		    strcmp(p->m.argument, "+") == 0 ? "" : p->m.argument,
		    p->m.source, answer);
	}
	gd_local_window_free(p->g, p->w);
	p->w = NULL;
	p->shown = false;
	policy_agent_msg_clear(&p->m);
	prev = gd_window_by_gid(p->g, p->prev_focus);
	if (prev != NULL && prev->mapped)
		gd_set_focus(p->g, prev);
	next_question(p);
}

static void
allow(struct gd_prompt *p)
{
	char a[POLICY_NAME_MAX + 8];

	if (!p->armed || !p->have_sel)
		return;

	(void)snprintf(a, sizeof(a), "allow:%s", p->m.targets[p->sel]);
	finish(p, a);
}

static void
show(struct gd_prompt *p)
{
	struct gd_window *focus = gd_focused(p->g);
	size_t i;

	p->sel = 0;
	p->have_sel = false;
	for (i = 0; i < p->m.ntargets; i++)
		if (strcmp(p->m.targets[i], p->m.default_target) == 0) {
			p->sel = i;
			p->have_sel = true;
		}
	p->armed = p->arm_ns == 0;
	p->armed_at = now_ns() + p->arm_ns;
	p->ret_held = false;
	p->height = (uint32_t)(2 * P_MARGIN + (7 + rows_targets(p)) * P_LINE);
	p->prev_focus = focus != NULL ? focus->gid : 0;
	p->w = gd_local_window_new(
	    p->g, P_WIDTH, p->height, "qrexec: allow this call?", &p->px);
	if (p->w == NULL) {
		finish(p, "deny");
		return;
	}
	p->shown = true;
	draw(p);
	/* the question takes the keyboard: it is the GUI domain's */
	gd_set_focus(p->g, p->w);
}

/* A complete message from the daemon. */
static void
handle(struct gd_prompt *p)
{
	char text[5 * POLICY_NAME_MAX + 64];
	int r = policy_agent_msg_parse(p->buf, p->len, &p->m);

	if (r < 0) {
		log_warnx("prompt: a message from the policy daemon: %s",
		    strerror(-r));
		next_question(p);
		return;
	}
	if (p->m.is_notify) {
		(void)snprintf(text, sizeof(text),
		    "qrexec: %s %s%s from %s to %s",
		    strcmp(p->m.resolution, "allow") == 0 ? "allowed" :
		                                            "denied",
		    p->m.service, p->m.argument, p->m.source, p->m.target);
		gd_notice(p->g, text);
		policy_agent_msg_clear(&p->m);
		next_question(p);
		return;
	}
	show(p);
}

int
gd_prompt_timeout_ms(const struct gd_prompt *p)
{
	uint64_t now = now_ns();

	if (!p->shown || p->armed)
		return -1;
	if (now >= p->armed_at)
		return 0;
	return (int)((p->armed_at - now + 999999u) / 1000000u);
}

void
gd_prompt_dispatch(struct gd_prompt *p)
{
	if (p->shown && !p->armed && now_ns() >= p->armed_at) {
		p->armed = true;
		draw(p);
	}
	for (;;) {
		int fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			break;
		if (p->fd < 0)
			p->fd = fd;
		else if (p->nqueue < P_QUEUE)
			p->queue[p->nqueue++] = fd;
		else
			(void)close(fd); /* the daemon denies it */
	}
	while (p->fd >= 0) {
		ssize_t n;

		if (p->shown) {
			char c;

			/* nothing more may come: only the daemon's end */
			n = recv(p->fd, &c, 1, MSG_DONTWAIT);
			if (n == 0 ||
			    (n < 0 && errno != EAGAIN && errno != EINTR)) {
				gd_notice(p->g,
				    "qrexec: the question was "
				    "withdrawn (no answer in time)");
				finish(p, NULL);
				continue;
			}
			return;
		}
		n = recv(p->fd, p->buf + p->len, POLICY_AGENT_MSG_MAX - p->len,
		    MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			if (n == 0 && p->len > 0) {
				handle(p);
				continue;
			}
			next_question(p);
			continue;
		}
		p->len += (size_t)n;
		if (memchr(p->buf, '\n', p->len) != NULL ||
		    p->len == POLICY_AGENT_MSG_MAX) {
			handle(p);
			continue;
		}
		return;
	}
}

int
gd_prompt_fill_pollfds(struct gd_prompt *p, struct pollfd *pfd, int max)
{
	int n = 0;

	if (max > 0)
		pfd[n++] = (struct pollfd){p->lfd, POLLIN, 0};
	if (p->fd >= 0 && n < max)
		pfd[n++] = (struct pollfd){p->fd, POLLIN, 0};
	return n;
}

void
gd_prompt_key(struct gd_prompt *p, uint32_t keycode, bool press)
{
	if (!p->shown)
		return;
	if (!press) {
		if (keycode == P_KEY_RETURN || keycode == P_KEY_KPENT)
			p->ret_held = false;
		return;
	}
	switch (keycode) {
	case P_KEY_UP:
		if (p->have_sel && p->sel > 0)
			p->sel--;
		p->have_sel = true;
		draw(p);
		break;
	case P_KEY_DOWN:
		if (p->have_sel && p->sel + 1 < p->m.ntargets)
			p->sel++;
		p->have_sel = true;
		draw(p);
		break;
	case P_KEY_RETURN:
	case P_KEY_KPENT:
		/* one typed before Allow was armed, even if held (repeats),
		 * is not taken for an answer */
		if (!p->armed || p->ret_held)
			p->ret_held = true;
		else
			allow(p);
		break;
	case P_KEY_ESC:
		finish(p, "deny");
		break;
	default:
		break;
	}
}

void
gd_prompt_button(struct gd_prompt *p, int32_t x, int32_t y, bool press)
{
	uint32_t n, first = 0;
	int32_t row;

	if (!p->shown || !press || y < P_MARGIN)
		return;
	n = rows_targets(p);
	row = (y - P_MARGIN + 2) / (int32_t)P_LINE;
	if (p->sel >= P_SHOWN)
		first = (uint32_t)p->sel - P_SHOWN + 1;
	if (row >= 4 && row < 4 + (int32_t)n) {
		p->sel = first + (uint32_t)(row - 4);
		p->have_sel = true;
		draw(p);
	} else if (row == 5 + (int32_t)n) {
		if (x >= P_MARGIN && x < P_MARGIN + (int32_t)P_BUTTON_W)
			allow(p);
		else if (x >= P_WIDTH - P_MARGIN - (int32_t)P_BUTTON_W &&
		    x < P_WIDTH - P_MARGIN)
			finish(p, "deny");
	}
}

void
gd_prompt_close(struct gd_prompt *p)
{
	if (p->shown)
		finish(p, "deny");
}

void
gd_prompt_free(struct gd_prompt *p)
{
	int i;

	if (p == NULL)
		return;
	if (p->shown)
		finish(p, "deny");
	policy_agent_msg_clear(&p->m);
	close_fd(&p->fd);
	for (i = 0; i < p->nqueue; i++)
		(void)close(p->queue[i]);
	close_fd(&p->lfd);
	free(p->buf);
	free(p);
}
