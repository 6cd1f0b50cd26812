/*
 * test_core_gid.c - the core's window ids (gd_gid_next in core.c; issue
 * #8).  Outputs and the prompt find a window again by its gid, so two
 * live windows must never share one, and 0 means "none".  A qube that
 * creates and destroys windows without end wraps the 32-bit counter;
 * after the wrap the next id must skip 0 and every id a live window
 * still has.  (Before gd_gid_next, the core's ++counter gave 0 and then
 * the ids of live windows again.)  The core runs without outputs; its one
 * live window is the GUI domain's own (gd_local_window_new).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gui/guid/core.h"
#include "gui/guid/guid.h"
#include "lib/proto/gui.h"

static struct gd *
core_new(void)
{
	struct gd_core_opts o = {0};
	struct gd *g = NULL;
	char err[256];

	o.width = 640;
	o.height = 480;
	o.clipboard_limit = GUI_CLIPBOARD_DEFAULT;
	o.connector_fd = -1;
	o.ask_fd = -1;
	assert_int_equal(gd_new(&o, &g, err, sizeof(err)), 0);
	return g;
}

static void
test_gid_first(void **state)
{
	struct gd *g = core_new();
	uint32_t last = 0, *px = NULL;
	bool wrapped = false;
	struct gd_window *w;

	(void)state;
	/* before a wrap: 1, 2, ... */
	assert_int_equal(gd_gid_next(g, &last, &wrapped), 1);
	assert_int_equal(gd_gid_next(g, &last, &wrapped), 2);
	assert_false(wrapped);
	/* the core's own counter starts at 1 too */
	w = gd_local_window_new(g, 16, 16, "t", &px);
	assert_non_null(w);
	assert_int_equal(w->gid, 1);
	assert_ptr_equal(gd_window_by_gid(g, 1), w);
	gd_local_window_free(g, w);
	gd_free(g);
}

static void
test_gid_wrap(void **state)
{
	struct gd *g = core_new();
	uint32_t last = UINT32_MAX - 1, *px = NULL;
	bool wrapped = false;
	struct gd_window *w;

	(void)state;
	w = gd_local_window_new(g, 16, 16, "t", &px);
	assert_non_null(w);
	assert_int_equal(w->gid, 1); /* live from here on */
	assert_int_equal(gd_gid_next(g, &last, &wrapped), UINT32_MAX);
	assert_false(wrapped);
	/* the wrap: not 0 ("none"), not 1 (w's) */
	assert_int_equal(gd_gid_next(g, &last, &wrapped), 2);
	assert_true(wrapped);
	assert_int_equal(last, 2);
	/* after it, every id is checked: 1 is skipped again */
	last = 0;
	assert_int_equal(gd_gid_next(g, &last, &wrapped), 2);
	/* once w is gone, its id is free again */
	gd_local_window_free(g, w);
	last = 0;
	assert_int_equal(gd_gid_next(g, &last, &wrapped), 1);
	gd_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gid_first),
	    cmocka_unit_test(test_gid_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
