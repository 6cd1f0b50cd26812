/*
 * x11_fake_core.c - the gd_* functions of the core, faked for the X11
 * output's test (issue #8): each call is recorded in struct gd; focus is
 * kept and passed to the output as the real core does.  Test code only.
 */
#include <stddef.h>

#include "x11_fake_core.h"

static void
fake_record(struct gd *g, enum fake_call_kind kind, struct gd_window *w,
    int32_t x, int32_t y, uint32_t a, uint32_t b, bool press, uint32_t state)
{
	struct fake_call *c;

	if (g->ncalls >= FAKE_MAX_CALLS)
		return;
	c = &g->calls[g->ncalls++];
	c->kind = kind;
	c->w = w;
	c->x = x;
	c->y = y;
	c->a = a;
	c->b = b;
	c->press = press;
	c->state = state;
}

int
fake_find(const struct gd *g, int from, enum fake_call_kind kind,
    const struct gd_window *w)
{
	int i;

	for (i = from; i < g->ncalls; i++)
		if (g->calls[i].kind == kind &&
		    (w == NULL || g->calls[i].w == w))
			return i;
	return -1;
}

const uint8_t *
gd_window_pixels(const struct gd_window *w)
{
	if (!w->has_buffer || w->qube->pool == NULL)
		return NULL;
	return w->qube->pool + w->buf_offset;
}

void
gd_set_focus(struct gd *g, struct gd_window *w)
{
	fake_record(g, FAKE_SET_FOCUS, w, 0, 0, 0, 0, false, 0);
	if (g->focused == w)
		return;
	g->focused = w;
	/* as the core: tell the output, which must not loop back */
	if (g->ops != NULL && g->ops->focus != NULL)
		g->ops->focus(g->out, w);
}

struct gd_window *
gd_focused(struct gd *g)
{
	return g->focused;
}

struct gd_window *
gd_bottom(struct gd *g)
{
	return g->nwindows > 0 ? g->windows[0] : NULL;
}

struct gd_window *
gd_top(struct gd *g)
{
	return g->nwindows > 0 ? g->windows[g->nwindows - 1] : NULL;
}

struct gd_window *
gd_window_by_gid(struct gd *g, uint32_t gid)
{
	int i;

	for (i = 0; i < g->nwindows; i++)
		if (g->windows[i]->gid == gid)
			return g->windows[i];
	return NULL;
}

struct gd_window *
gd_window_at(
    struct gd *g, int32_t sx, int32_t sy, uint32_t border, uint32_t titlebar)
{
	struct gd_window *w;
	int i;

	for (i = g->nwindows - 1; i >= 0; i--) {
		w = g->windows[i];
		if (!w->mapped)
			continue;
		if (sx >= w->x - (int32_t)border &&
		    sx < w->x + (int32_t)(w->width + border) &&
		    sy >= w->y - (int32_t)(border + titlebar) &&
		    sy < w->y + (int32_t)(w->height + border))
			return w;
	}
	return NULL;
}

void
gd_key(struct gd *g, uint32_t keycode, bool press, uint32_t state)
{
	fake_record(g, FAKE_KEY, g->focused, 0, 0, keycode, 0, press, state);
}

void
gd_motion(
    struct gd *g, struct gd_window *w, int32_t x, int32_t y, uint32_t state)
{
	fake_record(g, FAKE_MOTION, w, x, y, 0, 0, false, state);
}

void
gd_button(struct gd *g, struct gd_window *w, int32_t x, int32_t y,
    uint32_t button, bool press, uint32_t state)
{
	fake_record(g, FAKE_BUTTON, w, x, y, button, 0, press, state);
}

void
gd_crossing(struct gd *g, struct gd_window *w, bool enter, int32_t x, int32_t y)
{
	fake_record(g, FAKE_CROSSING, w, x, y, 0, 0, enter, 0);
}

void
gd_close(struct gd *g, struct gd_window *w)
{
	fake_record(g, FAKE_CLOSE, w, 0, 0, 0, 0, false, 0);
}

void
gd_configure(struct gd *g, struct gd_window *w, int32_t x, int32_t y,
    uint32_t width, uint32_t height)
{
	fake_record(g, FAKE_CONFIGURE, w, x, y, width, height, false, 0);
}

void
gd_output_lost(struct gd *g, void *out)
{
	fake_record(g, FAKE_OUTPUT_LOST, NULL, 0, 0, 0, 0, false, 0);
	(void)out;
}
