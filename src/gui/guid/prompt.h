/*
 * prompt.h - the GUI domain's policy prompt (prompt.c): qrexec "ask"
 * questions from qrexec-policy-daemon, answered in a window the GUI
 * domain draws itself.
 */
#ifndef BULKHEAD_GUID_PROMPT_H
#define BULKHEAD_GUID_PROMPT_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "gui/guid/guid.h"

struct gd_prompt;

/*
 * Serve the policy daemon's connections on listening socket lfd (taken);
 * Allow takes effect delay_ms after a question is shown (prompt.c).  0
 * and *ret, or -ENOMEM.
 */
int
gd_prompt_new(struct gd *g, int lfd, uint32_t delay_ms, struct gd_prompt **ret);
void gd_prompt_free(struct gd_prompt *p);
/* The fds to poll (POLLIN); dispatch() after every poll, never blocks. */
int gd_prompt_fill_pollfds(struct gd_prompt *p, struct pollfd *pfd, int max);
void gd_prompt_dispatch(struct gd_prompt *p);
/* Milliseconds until the shown question's Allow is armed (the caller's
 * poll timeout at most this, so that dispatch() redraws it), or -1. */
int gd_prompt_timeout_ms(const struct gd_prompt *p);
/* Input to the prompt's window: an X keycode pressed or released (Up,
 * Down choose the target; Return allows once armed; Escape denies),
 * button 1 at window-relative (x, y), the window's close. */
void gd_prompt_key(struct gd_prompt *p, uint32_t keycode, bool press);
void gd_prompt_button(struct gd_prompt *p, int32_t x, int32_t y, bool press);
void gd_prompt_close(struct gd_prompt *p);

#endif
