/*
 * vnc_fake_core.h - a stand-in for bulkhead-guid's core (issue #8) for
 * the VNC output's tests and demo: windows with real stacking and hit
 * testing, pixels from a pool, and a record of every input call the
 * output makes.  Not thread-safe by itself: callers hold fake_lock.
 */
#ifndef BULKHEAD_TESTS_VNC_FAKE_CORE_H
#define BULKHEAD_TESTS_VNC_FAKE_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gui/guid/guid.h"

#define FAKE_MAX_EVENTS 512u

enum fake_ev_type {
	FAKE_EV_KEY,
	FAKE_EV_BUTTON,
	FAKE_EV_MOTION,
	FAKE_EV_CROSSING,
	FAKE_EV_FOCUS,
	FAKE_EV_CONFIGURE,
	FAKE_EV_CLOSE,
	FAKE_EV_MAX
};

struct fake_ev {
	enum fake_ev_type type;
	uint32_t gid; /* 0: none */
	int32_t x, y;
	uint32_t code; /* keycode, button, width */
	uint32_t height;
	bool press; /* press, enter */
	uint32_t state;
};

struct gd {
	struct gd_window *bottom, *top, *focused;
	uint32_t next_gid;
	const struct gd_output_ops *ops;
	void *out;
	struct fake_ev ev[FAKE_MAX_EVENTS];
	unsigned int nev;
};

extern pthread_mutex_t fake_lock;
/* how many times a window's pixels were asked for (each window drawn) */
extern unsigned long fake_pixels_calls;

struct gd *fake_gd_new(void);
void fake_gd_free(struct gd *g);
/* A mapped window on top of the stack (ops->window_map if set). */
struct gd_window *
fake_window_new(struct gd *g, struct gd_qube *q, int32_t x, int32_t y,
    uint32_t width, uint32_t height, bool override_redirect, const char *title);
void fake_window_buffer(struct gd_window *w, uint32_t offset, uint32_t stride,
    uint32_t width, uint32_t height);

#endif
