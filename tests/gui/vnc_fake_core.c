/*
 * vnc_fake_core.c - the gd_* functions the VNC output calls, for its
 * tests and demo (issue #8).  Runs in the test process; trusts
 * everything.
 */
#include <stdlib.h>
#include <string.h>

#include "gui/guid/guid.h"
#include "vnc_fake_core.h"

unsigned long fake_pixels_calls;
pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;

static void
record(struct gd *g, const struct fake_ev *e)
{
	if (g->nev < FAKE_MAX_EVENTS)
		g->ev[g->nev++] = *e;
}

struct gd *
fake_gd_new(void)
{
	struct gd *g = calloc(1, sizeof(*g));

	if (g != NULL)
		g->next_gid = 1;
	return g;
}

void
fake_gd_free(struct gd *g)
{
	struct gd_window *w, *n;

	if (g == NULL)
		return;
	for (w = g->bottom; w != NULL; w = n) {
		n = w->above;
		free(w);
	}
	free(g);
}

static void
unlink_window(struct gd *g, struct gd_window *w)
{
	if (w->below != NULL)
		w->below->above = w->above;
	else
		g->bottom = w->above;
	if (w->above != NULL)
		w->above->below = w->below;
	else
		g->top = w->below;
	w->above = w->below = NULL;
}

static void
push_top(struct gd *g, struct gd_window *w)
{
	w->below = g->top;
	w->above = NULL;
	if (g->top != NULL)
		g->top->above = w;
	else
		g->bottom = w;
	g->top = w;
}

struct gd_window *
fake_window_new(struct gd *g, struct gd_qube *q, int32_t x, int32_t y,
    uint32_t width, uint32_t height, bool override_redirect, const char *title)
{
	struct gd_window *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->gid = g->next_gid++;
	w->wid = w->gid;
	w->qube = q;
	w->x = x;
	w->y = y;
	w->width = width;
	w->height = height;
	w->override_redirect = override_redirect;
	w->mapped = true;
	(void)strncpy(w->title, title, sizeof(w->title) - 1);
	push_top(g, w);
	if (g->ops != NULL && g->ops->window_map != NULL)
		g->ops->window_map(g->out, w);
	return w;
}

void
fake_window_buffer(struct gd_window *w, uint32_t offset, uint32_t stride,
    uint32_t width, uint32_t height)
{
	w->has_buffer = true;
	w->buf_offset = offset;
	w->buf_stride = stride;
	w->buf_width = width;
	w->buf_height = height;
	w->buf_format = GUI_FORMAT_XRGB8888;
}

const uint8_t *
gd_window_pixels(const struct gd_window *w)
{
	fake_pixels_calls++;
	if (!w->has_buffer || w->qube->pool == NULL)
		return NULL;
	return w->qube->pool + w->buf_offset;
}

void
gd_set_focus(struct gd *g, struct gd_window *w)
{
	struct fake_ev e = {.type = FAKE_EV_FOCUS, .gid = w ? w->gid : 0};

	record(g, &e);
	g->focused = w;
	if (w != NULL && w != g->top) {
		unlink_window(g, w);
		push_top(g, w);
		if (g->ops != NULL && g->ops->window_raise != NULL)
			g->ops->window_raise(g->out, w);
	}
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
	return g->bottom;
}

struct gd_window *
gd_top(struct gd *g)
{
	return g->top;
}

struct gd_window *
gd_window_by_gid(struct gd *g, uint32_t gid)
{
	struct gd_window *w;

	for (w = g->bottom; w != NULL; w = w->above)
		if (w->gid == gid)
			return w;
	return NULL;
}

struct gd_window *
gd_window_at(
    struct gd *g, int32_t sx, int32_t sy, uint32_t border, uint32_t titlebar)
{
	struct gd_window *w;

	for (w = g->top; w != NULL; w = w->below) {
		int64_t top = w->override_redirect ? border : border + titlebar;

		if (!w->mapped)
			continue;
		if (sx >= (int64_t)w->x - border &&
		    sx < (int64_t)w->x + w->width + border &&
		    sy >= (int64_t)w->y - top &&
		    sy < (int64_t)w->y + w->height + border)
			return w;
	}
	return NULL;
}

void
gd_key(struct gd *g, uint32_t keycode, bool press, uint32_t state)
{
	struct fake_ev e = {.type = FAKE_EV_KEY,
	    .gid = g->focused ? g->focused->gid : 0,
	    .code = keycode,
	    .press = press,
	    .state = state};

	record(g, &e);
}

void
gd_motion(
    struct gd *g, struct gd_window *w, int32_t x, int32_t y, uint32_t state)
{
	struct fake_ev e = {.type = FAKE_EV_MOTION,
	    .gid = w->gid,
	    .x = x,
	    .y = y,
	    .state = state};

	record(g, &e);
}

void
gd_button(struct gd *g, struct gd_window *w, int32_t x, int32_t y,
    uint32_t button, bool press, uint32_t state)
{
	struct fake_ev e = {.type = FAKE_EV_BUTTON,
	    .gid = w->gid,
	    .x = x,
	    .y = y,
	    .code = button,
	    .press = press,
	    .state = state};

	record(g, &e);
}

void
gd_crossing(struct gd *g, struct gd_window *w, bool enter, int32_t x, int32_t y)
{
	struct fake_ev e = {.type = FAKE_EV_CROSSING,
	    .gid = w->gid,
	    .x = x,
	    .y = y,
	    .press = enter};

	record(g, &e);
}

void
gd_close(struct gd *g, struct gd_window *w)
{
	struct fake_ev e = {.type = FAKE_EV_CLOSE, .gid = w->gid};

	record(g, &e);
}

void
gd_configure(struct gd *g, struct gd_window *w, int32_t x, int32_t y,
    uint32_t width, uint32_t height)
{
	struct fake_ev e = {.type = FAKE_EV_CONFIGURE,
	    .gid = w->gid,
	    .x = x,
	    .y = y,
	    .code = width,
	    .height = height};

	record(g, &e);
	/* as the real core: the GUI domain owns the position */
	w->x = x;
	w->y = y;
	w->width = width;
	w->height = height;
	if (g->ops != NULL && g->ops->window_configure != NULL)
		g->ops->window_configure(g->out, w);
}
