/*
 * x11_fake_core.h - a stand-in for the GUI domain's core (issue #8): the
 * gd_* functions an output calls, recording each call, so that the X11
 * output can be tested alone against Xvfb.  Test code only.
 */
#ifndef BULKHEAD_TEST_X11_FAKE_CORE_H
#define BULKHEAD_TEST_X11_FAKE_CORE_H

#include "gui/guid/guid.h"

enum fake_call_kind {
	FAKE_SET_FOCUS,
	FAKE_KEY,
	FAKE_MOTION,
	FAKE_BUTTON,
	FAKE_CROSSING,
	FAKE_CLOSE,
	FAKE_CONFIGURE,
	FAKE_OUTPUT_LOST,
	FAKE_CALL_MAX
};

struct fake_call {
	enum fake_call_kind kind;
	struct gd_window *w;
	int32_t x, y;
	uint32_t a, b; /* keycode or button; width, height */
	bool press;    /* or enter */
	uint32_t state;
};

#define FAKE_MAX_CALLS   1024
#define FAKE_MAX_WINDOWS 16

struct gd {
	struct gd_window *focused;
	struct gd_window *windows[FAKE_MAX_WINDOWS]; /* bottom to top */
	int nwindows;
	/* the output, told about focus changes as the real core does */
	const struct gd_output_ops *ops;
	void *out;
	struct fake_call calls[FAKE_MAX_CALLS];
	int ncalls;
};

/* Index of the first recorded call of kind for w (NULL: any window) at or
 * after from, or -1. */
int fake_find(const struct gd *g, int from, enum fake_call_kind kind,
    const struct gd_window *w);

#endif
