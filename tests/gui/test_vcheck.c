/*
 * test_vcheck.c - the GUI validator's stateful checks (src/gui/guid/
 * vcheck.c) on sessions built here: the override-redirect rule measures a
 * window as the core last sized it (a user's maximise), not only as the
 * qube asked.  The parser and the other rules are fuzzed
 * (fuzz_gui_validator) and tested end to end (test_gui_hostile.py).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gui/guid/vcheck.h"
#include "lib/proto/gui.h"

#define SCREEN_W 1920u
#define SCREEN_H 1080u

/* the last message the validator passed to the core */
static struct gui_msg last;
static unsigned nlast;

static int
to_core(
    void *ctx, const struct gui_msg *m, const void *body, size_t len, int fd)
{
	(void)ctx, (void)body, (void)len, (void)fd;
	last = *m;
	nlast++;
	return 0;
}

static int
to_qube(void *ctx, uint32_t type, uint32_t window, const void *body, size_t len)
{
	(void)ctx, (void)type, (void)window, (void)body, (void)len;
	return 0;
}

static const struct gd_vcheck_ops ops = {to_core, to_qube};

/* One framed message from the qube. */
static void
feed(struct gd_vcheck *v, uint32_t type, uint32_t window, const void *body,
    uint32_t len)
{
	uint8_t buf[sizeof(struct gui_hdr) + 64];
	struct gui_hdr h = {type, window, len};

	assert_true(len <= 64);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), body, len);
	assert_int_equal(gd_vcheck_feed(v, buf, sizeof(h) + len, -1, 1000), 0);
}

/* A validator past the handshake, with window 1 of w x h made. */
static struct gd_vcheck *
session(uint32_t w, uint32_t h)
{
	struct gd_vcheck_opts o = {GUI_CLIPBOARD_DEFAULT, false};
	struct gui_xconf x = {
	    SCREEN_W, SCREEN_H, 24, SCREEN_W * SCREEN_H * 4 / 1024 + 1};
	struct gui_create c = {10, 10, w, h, 0, 0};
	uint32_t ver = GUI_PROTOCOL_VERSION;
	struct gd_vcheck *v;

	assert_int_equal(gd_vcheck_new(&o, &ops, NULL, &v), 0);
	gd_vcheck_set_xconf(v, &x);
	assert_int_equal(gd_vcheck_feed(v, &ver, sizeof(ver), -1, 1000), 0);
	feed(v, GUI_MSG_CREATE, 1, &c, sizeof(c));
	assert_int_equal(last.type, GUI_MSG_CREATE);
	return v;
}

/* MAP window 1 asking for override-redirect: what the core is told. */
static uint32_t
map_or(struct gd_vcheck *v)
{
	struct gui_map m = {0, 1};

	nlast = 0;
	feed(v, GUI_MSG_MAP, 1, &m, sizeof(m));
	assert_int_equal(nlast, 1);
	assert_int_equal(last.type, GUI_MSG_MAP);
	return last.u.map.map_override_redirect;
}

static void
test_small_window_may_be_override_redirect(void **state)
{
	struct gd_vcheck *v = session(200, 100);

	(void)state;
	assert_int_equal(map_or(v), 1);
	gd_vcheck_free(v);
}

static void
test_large_window_is_framed(void **state)
{
	struct gd_vcheck *v = session(SCREEN_W, SCREEN_H);

	(void)state;
	assert_int_equal(map_or(v), 0);
	gd_vcheck_free(v);
}

/* Made small, then maximised by the user: the core's size counts. */
static void
test_maximised_window_is_framed(void **state)
{
	struct gd_vcheck *v = session(200, 100);
	struct gui_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = GUI_MSG_CONFIGURE;
	m.window = 1;
	m.u.configure.configure_width = SCREEN_W;
	m.u.configure.configure_height = SCREEN_H;
	assert_int_equal(gd_vcheck_from_core(v, &m), 1);
	assert_int_equal(map_or(v), 0);
	/* and made small again by the core: allowed again */
	m.u.configure.configure_width = 200;
	m.u.configure.configure_height = 100;
	assert_int_equal(gd_vcheck_from_core(v, &m), 1);
	assert_int_equal(map_or(v), 1);
	gd_vcheck_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_window_may_be_override_redirect),
	    cmocka_unit_test(test_large_window_is_framed),
	    cmocka_unit_test(test_maximised_window_is_framed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
