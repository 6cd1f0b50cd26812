/*
 * test_proto_gui.c - the GUI message validators, the permit table and the
 * stream reader (proto/gui.c): for each validator the exact size and
 * size +-1, the maxima and one past them, a missing NUL, bytes after the
 * NUL; unknown types, types of the other direction, and messages in the
 * wrong phase; the reader fed whole, byte by byte and in random chunks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lib/proto/gui.h"
#include "unit.h"

#define MIB ((uint64_t)1 << 20)

static const struct gui_params params_default = {
    .clipboard_limit = GUI_CLIPBOARD_DEFAULT,
    .pool_size = 64 * MIB,
    .allow_utf8_titles = false,
};

/* ---- builders ---- */

struct wire {
	uint8_t b[GUI_CLIPBOARD_MAX + 64];
	size_t len;
};

static void
put(struct wire *w, const void *p, size_t n)
{
	assert_true(w->len + n <= sizeof(w->b));
	memcpy(w->b + w->len, p, n);
	w->len += n;
}

static void
put_u32(struct wire *w, uint32_t v)
{
	put(w, &v, sizeof(v));
}

static void
put_msg(
    struct wire *w, uint32_t type, uint32_t window, const void *body, size_t n)
{
	struct gui_hdr h = {type, window, (uint32_t)n};

	put(w, &h, sizeof(h));
	if (n > 0)
		put(w, body, n);
}

static struct gui_create
good_create(void)
{
	struct gui_create c = {10, -20, 640, 480, 0, 0};

	return c;
}

static struct gui_window_dump
good_dump(void)
{
	struct gui_window_dump d = {GUI_DUMP_POOL_RANGE, 640, 480, GUI_DUMP_BPP,
	    0, 4096, 640 * 4, GUI_FORMAT_XRGB8888};

	return d;
}

static struct gui_wmname
name_of(const char *s)
{
	struct gui_wmname n;

	memset(&n, 0, sizeof(n));
	memcpy(n.wmname_data, s, strlen(s));
	return n;
}

static struct gui_error
error_of(uint32_t code, const char *why)
{
	struct gui_error e;

	memset(&e, 0, sizeof(e));
	e.error_code = code;
	memcpy(e.error_reason, why, strlen(why));
	return e;
}

/* A valid body of each type that has one, for the table tests. */
struct sample {
	uint32_t type;
	enum gui_dir dir;
	uint8_t body[GUI_MAX_FIXED_BODY];
	size_t len;
};

static size_t
samples(struct sample *s)
{
	size_t n = 0;
#define ADD(t, d, v)                                                           \
	do {                                                                   \
		__typeof__(v) v_ = (v);                                        \
		s[n].type = (t);                                               \
		s[n].dir = (d);                                                \
		memcpy(s[n].body, &v_, sizeof(v_));                            \
		s[n].len = sizeof(v_);                                         \
		n++;                                                           \
	} while (0)
	ADD(GUI_MSG_KEYPRESS, GUI_DIR_TO_AGENT,
	    ((struct gui_keypress){GUI_KEY_PRESS, 1, 2, 1, 38}));
	ADD(GUI_MSG_BUTTON, GUI_DIR_TO_AGENT,
	    ((struct gui_button){GUI_BUTTON_RELEASE, 1, 2, 0, 3}));
	ADD(GUI_MSG_MOTION, GUI_DIR_TO_AGENT,
	    ((struct gui_motion){-5, 7, 0x100, 1}));
	ADD(GUI_MSG_CROSSING, GUI_DIR_TO_AGENT,
	    ((struct gui_crossing){GUI_ENTER_NOTIFY, 0, 0, 0, 2, 4, 1}));
	ADD(GUI_MSG_FOCUS, GUI_DIR_TO_AGENT,
	    ((struct gui_focus){GUI_FOCUS_OUT, 3, 7}));
	ADD(GUI_MSG_CREATE, GUI_DIR_TO_GUI, good_create());
	ADD(GUI_MSG_MAP, GUI_DIR_TO_GUI, ((struct gui_map){2, 1}));
	ADD(GUI_MSG_MAP, GUI_DIR_TO_AGENT, ((struct gui_map){0, 0}));
	ADD(GUI_MSG_CONFIGURE, GUI_DIR_TO_GUI,
	    ((struct gui_configure){0, 0, 100, 100, 0}));
	ADD(GUI_MSG_CONFIGURE, GUI_DIR_TO_AGENT,
	    ((struct gui_configure){-16384, 6144, 16384, 6144, 1}));
	ADD(GUI_MSG_SHMIMAGE, GUI_DIR_TO_GUI,
	    ((struct gui_shmimage){0, 0, 16384, 6144}));
	ADD(GUI_MSG_WMNAME, GUI_DIR_TO_GUI, name_of("xterm"));
	ADD(GUI_MSG_KEYMAP_NOTIFY, GUI_DIR_TO_AGENT,
	    ((struct gui_keymap_notify){{0xff, 0, 1}}));
	ADD(GUI_MSG_WINDOW_HINTS, GUI_DIR_TO_GUI,
	    ((struct gui_window_hints){
	        GUI_HINT_ALL, 10, 10, 800, 600, 1, 1, 2, 2}));
	ADD(GUI_MSG_WINDOW_FLAGS, GUI_DIR_TO_GUI,
	    ((struct gui_window_flags){
	        GUI_FLAG_FULLSCREEN, GUI_FLAG_MINIMIZE}));
	ADD(GUI_MSG_WINDOW_FLAGS, GUI_DIR_TO_AGENT,
	    ((struct gui_window_flags){0, GUI_FLAG_ALL}));
	ADD(GUI_MSG_WMCLASS, GUI_DIR_TO_GUI,
	    ((struct gui_wmclass){"XTerm", "xterm"}));
	ADD(GUI_MSG_WINDOW_DUMP, GUI_DIR_TO_GUI, good_dump());
	ADD(GUI_MSG_CURSOR, GUI_DIR_TO_GUI, ((struct gui_cursor){0x100 + 68}));
	ADD(GUI_MSG_FRAME_DONE, GUI_DIR_TO_AGENT,
	    ((struct gui_frame_done){0xffffffffu}));
	ADD(GUI_MSG_ERROR, GUI_DIR_TO_GUI,
	    error_of(GUI_ERR_INTERNAL, "out of memory"));
	ADD(GUI_MSG_ERROR, GUI_DIR_TO_AGENT,
	    error_of(GUI_ERR_LIMIT, "too many windows"));
	ADD(GUI_MSG_POOL, GUI_DIR_TO_GUI, ((struct gui_pool){0, 16}));
#undef ADD
	return n;
}

static int
parse_as(uint32_t type, uint32_t window, const void *body, size_t len,
    enum gui_dir dir, const struct gui_params *p, struct gui_msg *ret)
{
	struct gui_hdr h = {type, window, (uint32_t)len};

	return proto_gui_msg_parse(&h, body, len, dir, p, ret);
}

static int
hdr_of(uint32_t type, uint32_t window, uint32_t len, enum gui_dir dir)
{
	struct gui_hdr h = {type, window, len}, out;

	return proto_gui_hdr_parse(
	    &h, sizeof(h), dir, GUI_CLIPBOARD_DEFAULT, &out);
}

/* ---- sizes and names ---- */

static void
test_type_sizes(void **state)
{
	(void)state;
	assert_int_equal(proto_gui_type_size(GUI_MSG_KEYPRESS), 20);
	assert_int_equal(proto_gui_type_size(GUI_MSG_BUTTON), 20);
	assert_int_equal(proto_gui_type_size(GUI_MSG_MOTION), 16);
	assert_int_equal(proto_gui_type_size(GUI_MSG_CROSSING), 28);
	assert_int_equal(proto_gui_type_size(GUI_MSG_FOCUS), 12);
	assert_int_equal(proto_gui_type_size(GUI_MSG_CREATE), 24);
	assert_int_equal(proto_gui_type_size(GUI_MSG_DESTROY), 0);
	assert_int_equal(proto_gui_type_size(GUI_MSG_MAP), 8);
	assert_int_equal(proto_gui_type_size(GUI_MSG_UNMAP), 0);
	assert_int_equal(proto_gui_type_size(GUI_MSG_CONFIGURE), 20);
	assert_int_equal(proto_gui_type_size(GUI_MSG_SHMIMAGE), 16);
	assert_int_equal(proto_gui_type_size(GUI_MSG_CLOSE), 0);
	assert_int_equal(proto_gui_type_size(GUI_MSG_CLIPBOARD_REQ), 0);
	assert_int_equal(proto_gui_type_size(GUI_MSG_CLIPBOARD_DATA), -1);
	assert_int_equal(proto_gui_type_size(GUI_MSG_WMNAME), 128);
	assert_int_equal(proto_gui_type_size(GUI_MSG_KEYMAP_NOTIFY), 32);
	assert_int_equal(proto_gui_type_size(GUI_MSG_WINDOW_HINTS), 36);
	assert_int_equal(proto_gui_type_size(GUI_MSG_WINDOW_FLAGS), 8);
	assert_int_equal(proto_gui_type_size(GUI_MSG_WMCLASS), 128);
	assert_int_equal(proto_gui_type_size(GUI_MSG_WINDOW_DUMP), 32);
	assert_int_equal(proto_gui_type_size(GUI_MSG_CURSOR), 4);
	assert_int_equal(proto_gui_type_size(GUI_MSG_WINDOW_DUMP_ACK), 0);
	assert_int_equal(proto_gui_type_size(GUI_MSG_FRAME_DONE), 4);
	assert_int_equal(proto_gui_type_size(GUI_MSG_ERROR), 128);
	assert_int_equal(proto_gui_type_size(GUI_MSG_POOL), 8);
	assert_int_equal(proto_gui_type_size(0), -1);
	assert_int_equal(proto_gui_type_size(GUI_MSG_TYPE_MAX), -1);
	assert_string_equal(proto_gui_type_name(GUI_MSG_CREATE), "CREATE");
	assert_string_equal(proto_gui_type_name(GUI_MSG_POOL), "POOL");
	assert_string_equal(proto_gui_type_name(GUI_HS_VERSION), "VERSION");
	assert_string_equal(proto_gui_type_name(GUI_MSG_MIN), "?");
	assert_string_equal(proto_gui_type_name(GUI_MSG_TYPE_MAX), "?");
	assert_string_equal(proto_gui_type_name(0xffffffffu), "?");
	/* Qubes 1.8's numbers */
	assert_int_equal(GUI_MSG_KEYPRESS, 124);
	assert_int_equal(GUI_MSG_WINDOW_DUMP_ACK, 149);
}

/* ---- the header ---- */

static void
test_hdr(void **state)
{
	struct gui_hdr h = {GUI_MSG_CREATE, 1, 24}, out;
	uint8_t b[13] = {0};
	uint32_t t;

	(void)state;
	memcpy(b, &h, sizeof(h));
	assert_int_equal(proto_gui_hdr_parse(b, 12, GUI_DIR_TO_GUI,
	                     GUI_CLIPBOARD_DEFAULT, &out),
	    0);
	assert_int_equal(out.hdr_type, GUI_MSG_CREATE);
	assert_int_equal(out.hdr_untrusted_len, 24);
	/* size +-1 */
	assert_int_equal(proto_gui_hdr_parse(b, 11, GUI_DIR_TO_GUI,
	                     GUI_CLIPBOARD_DEFAULT, &out),
	    -EBADMSG);
	assert_int_equal(proto_gui_hdr_parse(b, 13, GUI_DIR_TO_GUI,
	                     GUI_CLIPBOARD_DEFAULT, &out),
	    -EBADMSG);
	/* unknown types, and Qubes types bulkhead does not use */
	for (t = 0; t <= GUI_MSG_MIN; t++)
		assert_int_equal(hdr_of(t, 1, 0, GUI_DIR_TO_GUI), -EBADMSG);
	assert_int_equal(
	    hdr_of(GUI_MSG_RESIZE, 1, 8, GUI_DIR_TO_AGENT), -EBADMSG);
	assert_int_equal(
	    hdr_of(GUI_MSG_MFNDUMP, 1, 28, GUI_DIR_TO_GUI), -EBADMSG);
	assert_int_equal(
	    hdr_of(GUI_MSG_EXECUTE, 1, 255, GUI_DIR_TO_AGENT), -EBADMSG);
	assert_int_equal(hdr_of(GUI_MSG_DOCK, 1, 0, GUI_DIR_TO_GUI), -EBADMSG);
	assert_int_equal(
	    hdr_of(GUI_MSG_TYPE_MAX, 1, 0, GUI_DIR_TO_GUI), -EBADMSG);
	assert_int_equal(hdr_of(0xffffffffu, 1, 0, GUI_DIR_TO_GUI), -EBADMSG);
	/* the other direction's types */
	assert_int_equal(
	    hdr_of(GUI_MSG_KEYPRESS, 1, 20, GUI_DIR_TO_GUI), -EBADMSG);
	assert_int_equal(hdr_of(GUI_MSG_CLOSE, 1, 0, GUI_DIR_TO_GUI), -EBADMSG);
	assert_int_equal(
	    hdr_of(GUI_MSG_FRAME_DONE, 1, 4, GUI_DIR_TO_GUI), -EBADMSG);
	assert_int_equal(
	    hdr_of(GUI_MSG_CREATE, 1, 24, GUI_DIR_TO_AGENT), -EBADMSG);
	assert_int_equal(
	    hdr_of(GUI_MSG_POOL, 0, 8, GUI_DIR_TO_AGENT), -EBADMSG);
	assert_int_equal(hdr_of(GUI_MSG_CREATE, 1, 24, GUI_DIR_MAX), -EBADMSG);
	/* window rules */
	assert_int_equal(
	    hdr_of(GUI_MSG_CREATE, 0, 24, GUI_DIR_TO_GUI), -EBADMSG);
	assert_int_equal(
	    hdr_of(GUI_MSG_CREATE, GUI_MAX_WINDOW_ID, 24, GUI_DIR_TO_GUI), 0);
	assert_int_equal(
	    hdr_of(GUI_MSG_CREATE, GUI_MAX_WINDOW_ID + 1, 24, GUI_DIR_TO_GUI),
	    -EBADMSG);
	assert_int_equal(
	    hdr_of(GUI_MSG_CLIPBOARD_DATA, 1, 5, GUI_DIR_TO_GUI), -EBADMSG);
	assert_int_equal(hdr_of(GUI_MSG_POOL, 3, 8, GUI_DIR_TO_GUI), -EBADMSG);
	assert_int_equal(
	    hdr_of(GUI_MSG_CLIPBOARD_REQ, 3, 0, GUI_DIR_TO_AGENT), -EBADMSG);
	assert_int_equal(hdr_of(GUI_MSG_ERROR, 0, 128, GUI_DIR_TO_GUI), 0);
	assert_int_equal(hdr_of(GUI_MSG_ERROR, 9, 128, GUI_DIR_TO_GUI), 0);
	assert_int_equal(
	    hdr_of(GUI_MSG_ERROR, GUI_MAX_WINDOW_ID + 1, 128, GUI_DIR_TO_GUI),
	    -EBADMSG);
	/* clipboard: limit + 1 is still a message ("too big"), more not */
	assert_int_equal(
	    hdr_of(GUI_MSG_CLIPBOARD_DATA, 0, 0, GUI_DIR_TO_GUI), 0);
	assert_int_equal(hdr_of(GUI_MSG_CLIPBOARD_DATA, 0,
	                     GUI_CLIPBOARD_DEFAULT + 1, GUI_DIR_TO_GUI),
	    0);
	assert_int_equal(hdr_of(GUI_MSG_CLIPBOARD_DATA, 0,
	                     GUI_CLIPBOARD_DEFAULT + 2, GUI_DIR_TO_GUI),
	    -EBADMSG);
	assert_int_equal(
	    hdr_of(GUI_MSG_CLIPBOARD_DATA, 0, 0xffffffffu, GUI_DIR_TO_AGENT),
	    -EBADMSG);
	h.hdr_type = GUI_MSG_CLIPBOARD_DATA;
	h.hdr_window = 0;
	h.hdr_untrusted_len = 10;
	assert_int_equal(proto_gui_hdr_parse(&h, 12, GUI_DIR_TO_GUI,
	                     GUI_CLIPBOARD_MIN - 1, &out),
	    -EBADMSG);
	assert_int_equal(proto_gui_hdr_parse(&h, 12, GUI_DIR_TO_GUI,
	                     GUI_CLIPBOARD_MAX + 1, &out),
	    -EBADMSG);
}

/* Every fixed type: its exact length only, in the header and the body. */
static void
test_exact_lengths(void **state)
{
	struct sample *s = calloc(64, sizeof(*s));
	struct gui_msg m;
	size_t n, i;

	(void)state;
	assert_non_null(s);
	n = samples(s);
	for (i = 0; i < n; i++) {
		uint32_t t = s[i].type;
		uint32_t win = t == GUI_MSG_POOL ? 0 : 1;
		size_t len = s[i].len;
		uint8_t big[GUI_MAX_FIXED_BODY + 1] = {0};
		struct gui_hdr h = {t, win, (uint32_t)len + 1};

		memcpy(big, s[i].body, len);
		assert_int_equal((int)len, proto_gui_type_size(t));
		assert_int_equal(hdr_of(t, win, (uint32_t)len, s[i].dir), 0);
		assert_int_equal(
		    hdr_of(t, win, (uint32_t)len + 1, s[i].dir), -EBADMSG);
		assert_int_equal(
		    hdr_of(t, win, (uint32_t)len - 1, s[i].dir), -EBADMSG);
		assert_int_equal(
		    parse_as(t, win, big, len, s[i].dir, &params_default, &m),
		    0);
		assert_int_equal(m.type, t);
		assert_int_equal(m.window, win);
		/* the per-type validators check the size themselves */
		assert_int_equal(parse_as(t, win, big, len + 1, s[i].dir,
		                     &params_default, &m),
		    -EBADMSG);
		assert_int_equal(parse_as(t, win, big, len - 1, s[i].dir,
		                     &params_default, &m),
		    -EBADMSG);
		/* and a header whose length disagrees with the body */
		assert_int_equal(proto_gui_msg_parse(&h, big, len, s[i].dir,
		                     &params_default, &m),
		    -EBADMSG);
	}
	/* the empty ones */
	assert_int_equal(proto_gui_empty_parse("", 0), 0);
	assert_int_equal(proto_gui_empty_parse("x", 1), -EBADMSG);
	assert_int_equal(parse_as(GUI_MSG_DESTROY, 1, "", 0, GUI_DIR_TO_GUI,
	                     &params_default, &m),
	    0);
	assert_int_equal(parse_as(GUI_MSG_DESTROY, 1, "x", 1, GUI_DIR_TO_AGENT,
	                     &params_default, &m),
	    -EBADMSG);
	assert_int_equal(parse_as(GUI_MSG_WINDOW_DUMP_ACK, 1, "", 0,
	                     GUI_DIR_TO_AGENT, &params_default, &m),
	    0);
	/* types refused by the dispatcher whatever the header says */
	assert_int_equal(parse_as(GUI_MSG_DOCK, 1, "", 0, GUI_DIR_TO_GUI,
	                     &params_default, &m),
	    -EBADMSG);
	assert_int_equal(parse_as(GUI_MSG_KEYPRESS, 1, s[0].body, 20,
	                     GUI_DIR_TO_GUI, &params_default, &m),
	    -EBADMSG);
	free(s);
}

/* ---- the handshake ---- */

static void
test_version(void **state)
{
	uint32_t v = GUI_PROTOCOL_VERSION, out = 0;
	uint8_t b[5] = {0};

	(void)state;
	memcpy(b, &v, 4);
	assert_int_equal(proto_gui_version_parse(b, 4, &out), 0);
	assert_int_equal(out, GUI_PROTOCOL_VERSION);
	assert_int_equal(proto_gui_version_parse(b, 3, &out), -EBADMSG);
	assert_int_equal(proto_gui_version_parse(b, 5, &out), -EBADMSG);
	/* a later minor is negotiated down by the caller */
	v = GUI_VERSION(GUI_VERSION_MAJOR, 0xffff);
	assert_int_equal(proto_gui_version_parse(&v, 4, &out), 0);
	v = GUI_VERSION(GUI_VERSION_MAJOR, 0);
	out = 7;
	assert_int_equal(proto_gui_version_parse(&v, 4, &out), -EBADMSG);
	assert_int_equal(out, 7);
	/* Qubes 1.8: recognised, refused */
	v = 0x00010008;
	assert_int_equal(proto_gui_version_parse(&v, 4, &out), -EBADMSG);
	assert_true(proto_gui_version_is_qubes(v));
	assert_false(proto_gui_version_is_qubes(GUI_PROTOCOL_VERSION));
	v = GUI_MSG_ERROR;
	assert_int_equal(proto_gui_version_parse(&v, 4, &out), -EBADMSG);
}

static void
test_xconf(void **state)
{
	struct gui_xconf x = {1920, 1080, 24, 1920 * 1080 * 4 / 1024 + 1}, o;
	struct gui_xconf bad;
	uint8_t b[17] = {0};

	(void)state;
	memcpy(b, &x, sizeof(x));
	assert_int_equal(proto_gui_xconf_parse(b, 16, &o), 0);
	assert_int_equal(o.xconf_width, 1920);
	assert_int_equal(proto_gui_xconf_parse(b, 15, &o), -EBADMSG);
	assert_int_equal(proto_gui_xconf_parse(b, 17, &o), -EBADMSG);
	bad = x;
	bad.xconf_mem++;
	assert_int_equal(proto_gui_xconf_parse(&bad, 16, &o), -EBADMSG);
	bad = x;
	bad.xconf_width = 1921;
	assert_int_equal(proto_gui_xconf_parse(&bad, 16, &o), -EBADMSG);
	bad = x;
	bad.xconf_depth = 16;
	assert_int_equal(proto_gui_xconf_parse(&bad, 16, &o), -EBADMSG);
	bad.xconf_depth = 32;
	assert_int_equal(proto_gui_xconf_parse(&bad, 16, &o), 0);
	bad = (struct gui_xconf){16384, 6144, 24, 16384u * 6144 * 4 / 1024 + 1};
	assert_int_equal(proto_gui_xconf_parse(&bad, 16, &o), 0);
	bad.xconf_height = 6145;
	assert_int_equal(proto_gui_xconf_parse(&bad, 16, &o), -EBADMSG);
	bad = (struct gui_xconf){0, 0, 24, 1};
	assert_int_equal(proto_gui_xconf_parse(&bad, 16, &o), -EBADMSG);
}

/* ---- agent -> GUI ---- */

static int
create_with(
    int32_t x, int32_t y, uint32_t w, uint32_t h, uint32_t parent, uint32_t o_r)
{
	struct gui_create c = {x, y, w, h, parent, o_r}, out;

	return proto_gui_create_parse(&c, sizeof(c), &out);
}

static void
test_create(void **state)
{
	struct gui_create c = good_create(), out;

	(void)state;
	assert_int_equal(proto_gui_create_parse(&c, 24, &out), 0);
	assert_memory_equal(&c, &out, sizeof(c));
	assert_int_equal(create_with(0, 0, 1, 1, 0, 0), 0);
	assert_int_equal(create_with(16384, 6144, 16384, 6144, 0, 1), 0);
	assert_int_equal(create_with(-16384, -6144, 1, 1, 0, 0), 0);
	assert_int_equal(create_with(16385, 0, 1, 1, 0, 0), -EBADMSG);
	assert_int_equal(create_with(-16385, 0, 1, 1, 0, 0), -EBADMSG);
	assert_int_equal(create_with(0, 6145, 1, 1, 0, 0), -EBADMSG);
	assert_int_equal(create_with(0, -6145, 1, 1, 0, 0), -EBADMSG);
	assert_int_equal(create_with(INT32_MIN, 0, 1, 1, 0, 0), -EBADMSG);
	assert_int_equal(create_with(0, 0, 0, 1, 0, 0), -EBADMSG);
	assert_int_equal(create_with(0, 0, 1, 0, 0, 0), -EBADMSG);
	assert_int_equal(create_with(0, 0, 16385, 1, 0, 0), -EBADMSG);
	assert_int_equal(create_with(0, 0, 1, 6145, 0, 0), -EBADMSG);
	assert_int_equal(create_with(0, 0, 0xffffffffu, 1, 0, 0), -EBADMSG);
	/* no subwindows: refused, not ignored */
	assert_int_equal(create_with(0, 0, 1, 1, 1, 0), -EBADMSG);
	assert_int_equal(create_with(0, 0, 1, 1, 0, 2), -EBADMSG);
	assert_int_equal(proto_gui_create_parse(&c, 23, &out), -EBADMSG);
	assert_int_equal(proto_gui_create_parse(&c, 25, &out), -EBADMSG);
}

static void
test_map_configure(void **state)
{
	struct gui_map m = {0, 0}, mo;
	struct gui_configure c = {0, 0, 1, 1, 0}, co;
	struct gui_msg msg;

	(void)state;
	assert_int_equal(proto_gui_map_parse(&m, 8, &mo), 0);
	m.map_transient_for = GUI_MAX_WINDOW_ID;
	assert_int_equal(proto_gui_map_parse(&m, 8, &mo), 0);
	m.map_transient_for = GUI_MAX_WINDOW_ID + 1;
	assert_int_equal(proto_gui_map_parse(&m, 8, &mo), -EBADMSG);
	m.map_transient_for = 0;
	m.map_override_redirect = 2;
	assert_int_equal(proto_gui_map_parse(&m, 8, &mo), -EBADMSG);
	/* a window transient for itself, seen with its header */
	m = (struct gui_map){5, 0};
	assert_int_equal(parse_as(GUI_MSG_MAP, 5, &m, 8, GUI_DIR_TO_GUI,
	                     &params_default, &msg),
	    -EBADMSG);
	assert_int_equal(parse_as(GUI_MSG_MAP, 6, &m, 8, GUI_DIR_TO_GUI,
	                     &params_default, &msg),
	    0);
	assert_int_equal(msg.u.map.map_transient_for, 5);

	assert_int_equal(proto_gui_configure_parse(&c, 20, &co), 0);
	c.configure_override_redirect = 7;
	assert_int_equal(proto_gui_configure_parse(&c, 20, &co), -EBADMSG);
	c = (struct gui_configure){16385, 0, 1, 1, 0};
	assert_int_equal(proto_gui_configure_parse(&c, 20, &co), -EBADMSG);
	c = (struct gui_configure){0, -6145, 1, 1, 0};
	assert_int_equal(proto_gui_configure_parse(&c, 20, &co), -EBADMSG);
	c = (struct gui_configure){0, 0, 16385, 1, 0};
	assert_int_equal(proto_gui_configure_parse(&c, 20, &co), -EBADMSG);
	c = (struct gui_configure){0, 0, 1, 0, 0};
	assert_int_equal(proto_gui_configure_parse(&c, 20, &co), -EBADMSG);
}

static void
test_shmimage(void **state)
{
	struct gui_shmimage s = {0, 0, 1, 1}, o;

	(void)state;
	assert_int_equal(proto_gui_shmimage_parse(&s, 16, &o), 0);
	s = (struct gui_shmimage){16383, 6143, 1, 1};
	assert_int_equal(proto_gui_shmimage_parse(&s, 16, &o), 0);
	s = (struct gui_shmimage){16383, 0, 2, 1};
	assert_int_equal(proto_gui_shmimage_parse(&s, 16, &o), -EBADMSG);
	s = (struct gui_shmimage){0, 6143, 1, 2};
	assert_int_equal(proto_gui_shmimage_parse(&s, 16, &o), -EBADMSG);
	s = (struct gui_shmimage){-1, 0, 1, 1};
	assert_int_equal(proto_gui_shmimage_parse(&s, 16, &o), -EBADMSG);
	s = (struct gui_shmimage){0, INT32_MIN, 1, 1};
	assert_int_equal(proto_gui_shmimage_parse(&s, 16, &o), -EBADMSG);
	s = (struct gui_shmimage){0, 0, 0, 1};
	assert_int_equal(proto_gui_shmimage_parse(&s, 16, &o), -EBADMSG);
	s = (struct gui_shmimage){INT32_MAX, 0, 0xffffffffu, 1};
	assert_int_equal(proto_gui_shmimage_parse(&s, 16, &o), -EBADMSG);
	assert_int_equal(proto_gui_shmimage_parse(&s, 15, &o), -EBADMSG);
}

static int
title(const void *bytes, size_t n, bool utf8)
{
	char f[GUI_TITLE_LEN + 1] = {0};
	struct gui_wmname out;

	memcpy(f, bytes, n);
	return proto_gui_wmname_parse(f, GUI_TITLE_LEN, utf8, &out);
}

static void
test_wmname(void **state)
{
	static const char rlo[] = {'\xe2', '\x80', '\xae'}; /* U+202E */
	static const char lri[] = {'\xe2', '\x81', '\xa6'}; /* U+2066 */
	char f[GUI_TITLE_LEN + 1];
	struct gui_wmname out;

	(void)state;
	assert_int_equal(title("Terminal - ~/src", 16, false), 0);
	assert_int_equal(title("", 0, false), 0);
	/* the longest title: 127 characters and the NUL */
	memset(f, 'a', sizeof(f));
	f[127] = '\0';
	assert_int_equal(proto_gui_wmname_parse(f, 128, false, &out), 0);
	assert_int_equal(strlen(out.wmname_data), 127);
	/* a missing NUL */
	f[127] = 'a';
	assert_int_equal(proto_gui_wmname_parse(f, 128, false, &out), -EBADMSG);
	/* bytes after the NUL */
	memset(f, 0, sizeof(f));
	memcpy(f, "ok", 2);
	f[100] = 'x';
	assert_int_equal(proto_gui_wmname_parse(f, 128, false, &out), -EBADMSG);
	f[100] = '\0';
	f[127] = 1;
	assert_int_equal(proto_gui_wmname_parse(f, 128, false, &out), -EBADMSG);
	f[127] = '\0';
	/* size +-1 */
	assert_int_equal(proto_gui_wmname_parse(f, 127, false, &out), -EBADMSG);
	assert_int_equal(proto_gui_wmname_parse(f, 129, false, &out), -EBADMSG);
	/* control bytes and non-ASCII, rejected, not rewritten */
	assert_int_equal(title("a\tb", 3, false), -EBADMSG);
	assert_int_equal(title("a\x1b[2Jb", 6, false), -EBADMSG);
	assert_int_equal(title("a\x7f", 2, false), -EBADMSG);
	assert_int_equal(title("caf\xc3\xa9", 5, false), -EBADMSG);
	/* with UTF-8 allowed: checked UTF-8 */
	assert_int_equal(title("caf\xc3\xa9", 5, true), 0);
	assert_int_equal(title("\xe2\x82\xac 5", 5, true), 0);
	assert_int_equal(title("\xf0\x9f\x98\x80", 4, true), 0);
	assert_int_equal(title("\xf4\x8f\xbf\xbd", 4, true), 0);
	assert_int_equal(title("a\tb", 3, true), -EBADMSG);
	assert_int_equal(title("\xc0\x80", 2, true), -EBADMSG); /* overlong */
	assert_int_equal(title("\xc1\xbf", 2, true), -EBADMSG);
	assert_int_equal(title("\xe0\x80\xaf", 3, true), -EBADMSG);
	assert_int_equal(title("\xf0\x80\x80\xaf", 4, true), -EBADMSG);
	assert_int_equal(title("\xed\xa0\x80", 3, true), -EBADMSG); /* D800 */
	assert_int_equal(title("\xf4\x90\x80\x80", 4, true), -EBADMSG);
	assert_int_equal(title("\xf8\x88\x80\x80\x80", 5, true), -EBADMSG);
	assert_int_equal(title("\x80", 1, true), -EBADMSG);
	assert_int_equal(title("\xe2\x82", 2, true), -EBADMSG); /* cut */
	assert_int_equal(title("\xe2\x82x", 3, true), -EBADMSG);
	assert_int_equal(title("\xc2\x85", 2, true), -EBADMSG); /* C1 NEL */
	/* bidirectional controls (as byte arrays: no such literal in the
	 * source) */
	assert_int_equal(title(rlo, 3, true), -EBADMSG);
	assert_int_equal(title(lri, 3, true), -EBADMSG);
	assert_int_equal(title("\xe2\x80\x8f", 3, true), -EBADMSG); /* RLM */
	/* through the dispatcher: the connection's flag decides */
	{
		struct gui_wmname n = name_of("caf\xc3\xa9");
		struct gui_params p = params_default;
		struct gui_msg m;

		assert_int_equal(parse_as(GUI_MSG_WMNAME, 1, &n, 128,
		                     GUI_DIR_TO_GUI, &p, &m),
		    -EBADMSG);
		p.allow_utf8_titles = true;
		assert_int_equal(parse_as(GUI_MSG_WMNAME, 1, &n, 128,
		                     GUI_DIR_TO_GUI, &p, &m),
		    0);
		assert_string_equal(m.u.wmname.wmname_data, "caf\xc3\xa9");
	}
}

static void
test_wmclass(void **state)
{
	struct gui_wmclass c, o;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(proto_gui_wmclass_parse(&c, 128, &o), 0);
	memcpy(c.wmclass_res_class, "Firefox", 7);
	memcpy(c.wmclass_res_name, "Navigator", 9);
	assert_int_equal(proto_gui_wmclass_parse(&c, 128, &o), 0);
	assert_string_equal(o.wmclass_res_name, "Navigator");
	assert_int_equal(proto_gui_wmclass_parse(&c, 127, &o), -EBADMSG);
	assert_int_equal(proto_gui_wmclass_parse(&c, 129, &o), -EBADMSG);
	/* each field needs its own NUL: 64 characters run into the next */
	memset(c.wmclass_res_class, 'A', GUI_CLASS_LEN);
	assert_int_equal(proto_gui_wmclass_parse(&c, 128, &o), -EBADMSG);
	c.wmclass_res_class[63] = '\0';
	assert_int_equal(proto_gui_wmclass_parse(&c, 128, &o), 0);
	memset(c.wmclass_res_name, 'n', GUI_CLASS_LEN);
	assert_int_equal(proto_gui_wmclass_parse(&c, 128, &o), -EBADMSG);
	memset(c.wmclass_res_name, 0, GUI_CLASS_LEN);
	c.wmclass_res_name[10] = 'x'; /* after the NUL */
	assert_int_equal(proto_gui_wmclass_parse(&c, 128, &o), -EBADMSG);
	memset(c.wmclass_res_name, 0, GUI_CLASS_LEN);
	memcpy(c.wmclass_res_name, "caf\xc3\xa9", 5); /* ASCII only */
	assert_int_equal(proto_gui_wmclass_parse(&c, 128, &o), -EBADMSG);
	memcpy(c.wmclass_res_name, "a\nb\0\0", 5);
	assert_int_equal(proto_gui_wmclass_parse(&c, 128, &o), -EBADMSG);
}

static int
hints(uint32_t flags, uint32_t a, uint32_t b, uint32_t c, uint32_t d,
    uint32_t e, uint32_t f, uint32_t g, uint32_t h)
{
	struct gui_window_hints x = {flags, a, b, c, d, e, f, g, h}, o;

	return proto_gui_window_hints_parse(&x, sizeof(x), &o);
}

static void
test_hints(void **state)
{
	(void)state;
	assert_int_equal(hints(0, 0, 0, 0, 0, 0, 0, 0, 0), 0);
	assert_int_equal(
	    hints(GUI_HINT_ALL, 0, 0, 16384, 6144, 16384, 6144, 16384, 6144),
	    0);
	/* unknown flags (X11's PPosition, PAspect, ...) */
	assert_int_equal(hints(1u << 2, 0, 0, 0, 0, 0, 0, 0, 0), -EBADMSG);
	assert_int_equal(hints(1u << 7, 0, 0, 0, 0, 0, 0, 0, 0), -EBADMSG);
	assert_int_equal(hints(1u << 31, 0, 0, 0, 0, 0, 0, 0, 0), -EBADMSG);
	/* a field without its flag */
	assert_int_equal(hints(0, 1, 0, 0, 0, 0, 0, 0, 0), -EBADMSG);
	assert_int_equal(
	    hints(GUI_HINT_MIN_SIZE, 0, 0, 0, 0, 0, 0, 0, 1), -EBADMSG);
	/* each pair at the cap and one past */
	assert_int_equal(
	    hints(GUI_HINT_MIN_SIZE, 16384, 6144, 0, 0, 0, 0, 0, 0), 0);
	assert_int_equal(
	    hints(GUI_HINT_MIN_SIZE, 16385, 1, 0, 0, 0, 0, 0, 0), -EBADMSG);
	assert_int_equal(
	    hints(GUI_HINT_MAX_SIZE, 0, 0, 1, 6145, 0, 0, 0, 0), -EBADMSG);
	assert_int_equal(
	    hints(GUI_HINT_MAX_SIZE, 0, 0, 0, 1, 0, 0, 0, 0), -EBADMSG);
	assert_int_equal(
	    hints(GUI_HINT_RESIZE_INC, 0, 0, 0, 0, 0, 1, 0, 0), -EBADMSG);
	assert_int_equal(
	    hints(GUI_HINT_RESIZE_INC, 0, 0, 0, 0, 16385, 1, 0, 0), -EBADMSG);
	assert_int_equal(
	    hints(GUI_HINT_BASE_SIZE, 0, 0, 0, 0, 0, 0, 0, 6145), -EBADMSG);
	/* min above max */
	assert_int_equal(hints(GUI_HINT_MIN_SIZE | GUI_HINT_MAX_SIZE, 100, 100,
	                     99, 100, 0, 0, 0, 0),
	    -EBADMSG);
	assert_int_equal(hints(GUI_HINT_MIN_SIZE | GUI_HINT_MAX_SIZE, 100, 100,
	                     100, 100, 0, 0, 0, 0),
	    0);
}

static int
flags(uint32_t set, uint32_t unset)
{
	struct gui_window_flags f = {set, unset}, o;

	return proto_gui_window_flags_parse(&f, sizeof(f), &o);
}

static void
test_flags_cursor(void **state)
{
	struct gui_cursor c, o;
	uint32_t id;

	(void)state;
	assert_int_equal(flags(0, 0), 0);
	assert_int_equal(flags(GUI_FLAG_ALL, 0), 0);
	assert_int_equal(flags(0, GUI_FLAG_ALL), 0);
	assert_int_equal(
	    flags(GUI_FLAG_FULLSCREEN, GUI_FLAG_FULLSCREEN), -EBADMSG);
	assert_int_equal(flags(1u << 3, 0), -EBADMSG);
	assert_int_equal(flags(0, 1u << 31), -EBADMSG);

	c.cursor_id = GUI_CURSOR_DEFAULT;
	assert_int_equal(proto_gui_cursor_parse(&c, 4, &o), 0);
	assert_int_equal(proto_gui_cursor_parse(&c, 3, &o), -EBADMSG);
	assert_int_equal(proto_gui_cursor_parse(&c, 5, &o), -EBADMSG);
	for (id = 1; id < 0x200; id++) {
		bool ok = id >= GUI_CURSOR_X11 && id < GUI_CURSOR_X11_MAX &&
		    id % 2 == 0;

		c.cursor_id = id;
		assert_int_equal(
		    proto_gui_cursor_parse(&c, 4, &o), ok ? 0 : -EBADMSG);
	}
	c.cursor_id = 0xffffffffu;
	assert_int_equal(proto_gui_cursor_parse(&c, 4, &o), -EBADMSG);
}

static void
test_range_check(void **state)
{
	const uint64_t pool = 64 * MIB;

	(void)state;
	assert_int_equal(
	    proto_gui_range_check(pool, 0, 2560, 640, 480, GUI_FORMAT_XRGB8888),
	    0);
	assert_int_equal(
	    proto_gui_range_check(pool, 0, 2560, 640, 480, GUI_FORMAT_ARGB8888),
	    0);
	assert_int_equal(
	    proto_gui_range_check(pool, 0, 2560, 640, 480, 0), -EBADMSG);
	assert_int_equal(proto_gui_range_check(
	                     pool, 0, 2560, 640, 480, 0x34324752 /* 'RG24' */),
	    -EBADMSG);
	/* alignment of the offset */
	assert_int_equal(proto_gui_range_check(
	                     pool, 4095, 2560, 640, 480, GUI_FORMAT_XRGB8888),
	    -EBADMSG);
	assert_int_equal(proto_gui_range_check(
	                     pool, 4096, 2560, 640, 480, GUI_FORMAT_XRGB8888),
	    0);
	/* stride */
	assert_int_equal(
	    proto_gui_range_check(pool, 0, 2559, 640, 480, GUI_FORMAT_XRGB8888),
	    -EBADMSG);
	assert_int_equal(
	    proto_gui_range_check(pool, 0, 2562, 640, 480, GUI_FORMAT_XRGB8888),
	    -EBADMSG);
	assert_int_equal(
	    proto_gui_range_check(pool, 0, 2564, 640, 480, GUI_FORMAT_XRGB8888),
	    0);
	assert_int_equal(proto_gui_range_check(pool, 0, GUI_MAX_STRIDE, 1, 1,
	                     GUI_FORMAT_XRGB8888),
	    0);
	assert_int_equal(proto_gui_range_check(pool, 0, GUI_MAX_STRIDE + 4, 1,
	                     1, GUI_FORMAT_XRGB8888),
	    -EBADMSG);
	/* the end: exactly the pool, and one page more */
	assert_int_equal(proto_gui_range_check(pool, (uint32_t)(pool - 4096),
	                     4096, 1024, 1, GUI_FORMAT_XRGB8888),
	    0);
	assert_int_equal(proto_gui_range_check(pool, (uint32_t)pool, 4096, 1024,
	                     1, GUI_FORMAT_XRGB8888),
	    -EBADMSG);
	assert_int_equal(proto_gui_range_check(pool, (uint32_t)(pool - 4096),
	                     4096, 1024, 2, GUI_FORMAT_XRGB8888),
	    -EBADMSG);
	/* the largest buffer in the largest pool; offsets near 2^32 */
	assert_int_equal(
	    proto_gui_range_check(GUI_POOL_MAX, 0, GUI_MAX_STRIDE,
	        GUI_MAX_WIDTH, GUI_MAX_HEIGHT, GUI_FORMAT_ARGB8888),
	    0);
	assert_int_equal(proto_gui_range_check(GUI_POOL_MAX, 0xfffff000u, 4, 1,
	                     1, GUI_FORMAT_ARGB8888),
	    -EBADMSG);
	assert_int_equal(
	    proto_gui_range_check(0, 0, 4, 1, 1, GUI_FORMAT_ARGB8888),
	    -EBADMSG);
	/* sizes */
	assert_int_equal(proto_gui_range_check(GUI_POOL_MAX, 0, GUI_MAX_STRIDE,
	                     GUI_MAX_WIDTH + 1, 1, GUI_FORMAT_XRGB8888),
	    -EBADMSG);
	assert_int_equal(proto_gui_range_check(GUI_POOL_MAX, 0, 4, 1,
	                     GUI_MAX_HEIGHT + 1, GUI_FORMAT_XRGB8888),
	    -EBADMSG);
	assert_int_equal(proto_gui_range_check(
	                     GUI_POOL_MAX, 0, 4, 0, 1, GUI_FORMAT_XRGB8888),
	    -EBADMSG);
}

static void
test_window_dump(void **state)
{
	struct gui_window_dump d = good_dump(), o;

	(void)state;
	assert_int_equal(proto_gui_window_dump_parse(&d, 32, 64 * MIB, &o), 0);
	assert_memory_equal(&d, &o, sizeof(d));
	assert_int_equal(
	    proto_gui_window_dump_parse(&d, 31, 64 * MIB, &o), -EBADMSG);
	assert_int_equal(
	    proto_gui_window_dump_parse(&d, 33, 64 * MIB, &o), -EBADMSG);
	/* no pool, or one too small for the range */
	assert_int_equal(proto_gui_window_dump_parse(&d, 32, 0, &o), -EBADMSG);
	assert_int_equal(
	    proto_gui_window_dump_parse(&d, 32, 4096 + 640 * 4 * 480 - 1, &o),
	    -EBADMSG);
	assert_int_equal(
	    proto_gui_window_dump_parse(&d, 32, 4096 + 640 * 4 * 480, &o), 0);
	/* Qubes' grant refs */
	d.dump_type = 0;
	assert_int_equal(
	    proto_gui_window_dump_parse(&d, 32, 64 * MIB, &o), -EBADMSG);
	d = good_dump();
	d.dump_bpp = 24;
	assert_int_equal(
	    proto_gui_window_dump_parse(&d, 32, 64 * MIB, &o), -EBADMSG);
	d = good_dump();
	d.dump_pool_id = 1;
	assert_int_equal(
	    proto_gui_window_dump_parse(&d, 32, 64 * MIB, &o), -EBADMSG);
	d = good_dump();
	d.dump_offset = 100;
	assert_int_equal(
	    proto_gui_window_dump_parse(&d, 32, 64 * MIB, &o), -EBADMSG);
}

static void
test_clipboard(void **state)
{
	static uint8_t b[GUI_CLIPBOARD_MAX + 2];
	struct gui_clipboard c;

	(void)state;
	assert_int_equal(proto_gui_clipboard_data_parse(b, 0, 64000, &c), 0);
	assert_int_equal(c.len, 0);
	assert_false(c.too_big);
	assert_int_equal(
	    proto_gui_clipboard_data_parse(b, 64000, 64000, &c), 0);
	assert_int_equal(c.len, 64000);
	assert_false(c.too_big);
	assert_ptr_equal(c.data, b);
	/* limit + 1: "too big", a message the caller refuses with a notice */
	assert_int_equal(
	    proto_gui_clipboard_data_parse(b, 64001, 64000, &c), 0);
	assert_true(c.too_big);
	/* more: a protocol error */
	assert_int_equal(
	    proto_gui_clipboard_data_parse(b, 64002, 64000, &c), -EBADMSG);
	/* the configurable range */
	assert_int_equal(proto_gui_clipboard_data_parse(
	                     b, GUI_CLIPBOARD_MAX + 1, GUI_CLIPBOARD_MAX, &c),
	    0);
	assert_true(c.too_big);
	assert_int_equal(
	    proto_gui_clipboard_data_parse(b, 10, GUI_CLIPBOARD_MAX + 1, &c),
	    -EBADMSG);
	assert_int_equal(
	    proto_gui_clipboard_data_parse(b, 10, GUI_CLIPBOARD_MIN - 1, &c),
	    -EBADMSG);
	assert_int_equal(proto_gui_clipboard_data_parse(
	                     b, GUI_CLIPBOARD_MIN + 1, GUI_CLIPBOARD_MIN, &c),
	    0);
	assert_true(c.too_big);
}

static void
test_error_pool(void **state)
{
	struct gui_error e = error_of(GUI_ERR_PROTOCOL, "bad WMNAME"), eo;
	struct gui_pool p = {0, 1}, po;
	char longest[GUI_ERROR_REASON_LEN];

	(void)state;
	assert_int_equal(proto_gui_error_parse(&e, 128, &eo), 0);
	assert_string_equal(eo.error_reason, "bad WMNAME");
	assert_int_equal(proto_gui_error_parse(&e, 127, &eo), -EBADMSG);
	assert_int_equal(proto_gui_error_parse(&e, 129, &eo), -EBADMSG);
	e.error_code = 0;
	assert_int_equal(proto_gui_error_parse(&e, 128, &eo), -EBADMSG);
	e.error_code = GUI_ERR_MAX;
	assert_int_equal(proto_gui_error_parse(&e, 128, &eo), -EBADMSG);
	e = error_of(GUI_ERR_POOL, "");
	assert_int_equal(proto_gui_error_parse(&e, 128, &eo), -EBADMSG);
	e = error_of(GUI_ERR_POOL, "a\rb");
	assert_int_equal(proto_gui_error_parse(&e, 128, &eo), -EBADMSG);
	memset(longest, 'r', sizeof(longest));
	longest[GUI_ERROR_REASON_LEN - 1] = '\0';
	e = error_of(GUI_ERR_POOL, longest);
	assert_int_equal(proto_gui_error_parse(&e, 128, &eo), 0);
	e.error_reason[GUI_ERROR_REASON_LEN - 1] = 'r'; /* no NUL */
	assert_int_equal(proto_gui_error_parse(&e, 128, &eo), -EBADMSG);
	e = error_of(GUI_ERR_POOL, "x");
	e.error_reason[50] = 'y'; /* after the NUL */
	assert_int_equal(proto_gui_error_parse(&e, 128, &eo), -EBADMSG);

	assert_int_equal(proto_gui_pool_parse(&p, 8, &po), 0);
	assert_int_equal(proto_gui_pool_parse(&p, 7, &po), -EBADMSG);
	assert_int_equal(proto_gui_pool_parse(&p, 9, &po), -EBADMSG);
	p.pool_pages = GUI_POOL_MAX / GUI_PAGE_SIZE;
	assert_int_equal(proto_gui_pool_parse(&p, 8, &po), 0);
	p.pool_pages++;
	assert_int_equal(proto_gui_pool_parse(&p, 8, &po), -EBADMSG);
	p.pool_pages = 0;
	assert_int_equal(proto_gui_pool_parse(&p, 8, &po), -EBADMSG);
	p = (struct gui_pool){1, 1};
	assert_int_equal(proto_gui_pool_parse(&p, 8, &po), -EBADMSG);
}

/* ---- GUI -> agent input ---- */

static void
test_input(void **state)
{
	struct gui_keypress k = {GUI_KEY_PRESS, 0, 0, 0, 8}, ko;
	struct gui_button b = {GUI_BUTTON_PRESS, 0, 0, 0, 1}, bo;
	struct gui_motion m = {0, 0, GUI_STATE_MASK, 0}, mo;
	struct gui_crossing c = {GUI_LEAVE_NOTIFY, 0, 0, 0, 0, 0, 0}, co;
	struct gui_focus f = {GUI_FOCUS_IN, 0, 0}, fo;

	(void)state;
	assert_int_equal(proto_gui_keypress_parse(&k, 20, &ko), 0);
	k.keypress_keycode = 7;
	assert_int_equal(proto_gui_keypress_parse(&k, 20, &ko), -EBADMSG);
	k.keypress_keycode = 255;
	assert_int_equal(proto_gui_keypress_parse(&k, 20, &ko), 0);
	k.keypress_keycode = 256;
	assert_int_equal(proto_gui_keypress_parse(&k, 20, &ko), -EBADMSG);
	k.keypress_keycode = 9;
	k.keypress_type = GUI_BUTTON_PRESS;
	assert_int_equal(proto_gui_keypress_parse(&k, 20, &ko), -EBADMSG);
	k.keypress_type = GUI_KEY_RELEASE;
	k.keypress_state = GUI_STATE_MASK + 1;
	assert_int_equal(proto_gui_keypress_parse(&k, 20, &ko), -EBADMSG);
	k.keypress_state = 0;
	k.keypress_x = 16385;
	assert_int_equal(proto_gui_keypress_parse(&k, 20, &ko), -EBADMSG);

	assert_int_equal(proto_gui_button_parse(&b, 20, &bo), 0);
	b.button_button = GUI_MAX_BUTTON;
	assert_int_equal(proto_gui_button_parse(&b, 20, &bo), 0);
	b.button_button = GUI_MAX_BUTTON + 1;
	assert_int_equal(proto_gui_button_parse(&b, 20, &bo), -EBADMSG);
	b.button_button = 0;
	assert_int_equal(proto_gui_button_parse(&b, 20, &bo), -EBADMSG);
	b.button_button = 1;
	b.button_y = -6145;
	assert_int_equal(proto_gui_button_parse(&b, 20, &bo), -EBADMSG);

	assert_int_equal(proto_gui_motion_parse(&m, 16, &mo), 0);
	m.motion_is_hint = 2;
	assert_int_equal(proto_gui_motion_parse(&m, 16, &mo), -EBADMSG);

	assert_int_equal(proto_gui_crossing_parse(&c, 28, &co), 0);
	c.crossing_mode = GUI_CROSSING_MODE_MAX + 1;
	assert_int_equal(proto_gui_crossing_parse(&c, 28, &co), -EBADMSG);
	c.crossing_mode = 0;
	c.crossing_detail = GUI_CROSSING_DETAIL_MAX + 1;
	assert_int_equal(proto_gui_crossing_parse(&c, 28, &co), -EBADMSG);
	c.crossing_detail = 0;
	c.crossing_focus = 2;
	assert_int_equal(proto_gui_crossing_parse(&c, 28, &co), -EBADMSG);
	c.crossing_focus = 0;
	c.crossing_type = GUI_FOCUS_IN;
	assert_int_equal(proto_gui_crossing_parse(&c, 28, &co), -EBADMSG);

	assert_int_equal(proto_gui_focus_parse(&f, 12, &fo), 0);
	f.focus_mode = GUI_FOCUS_MODE_MAX + 1;
	assert_int_equal(proto_gui_focus_parse(&f, 12, &fo), -EBADMSG);
	f.focus_mode = 0;
	f.focus_detail = GUI_FOCUS_DETAIL_MAX + 1;
	assert_int_equal(proto_gui_focus_parse(&f, 12, &fo), -EBADMSG);
	f.focus_detail = 0;
	f.focus_type = 11;
	assert_int_equal(proto_gui_focus_parse(&f, 12, &fo), -EBADMSG);
}

/* ---- permits ---- */

static void
test_permit(void **state)
{
	struct gui_conn c = {GUI_PHASE_VERSION, false, false};

	(void)state;
	/* handshake first */
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_HS_VERSION), 0);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_CREATE), -EPROTO);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_ERROR), -EPROTO);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_AGENT, GUI_MSG_ERROR), 0);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_AGENT, GUI_HS_XCONF), -EPROTO);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_MAX, GUI_HS_VERSION), -EPROTO);
	proto_gui_permit_note(&c, GUI_DIR_TO_GUI, GUI_HS_VERSION);
	assert_int_equal(c.phase, GUI_PHASE_READY);
	/* then messages of the direction, never a second version */
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_HS_VERSION), -EPROTO);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_CREATE), 0);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_KEYPRESS), -EPROTO);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_DOCK), -EPROTO);
	assert_int_equal(proto_gui_permit(&c, GUI_DIR_TO_GUI, 9999), -EPROTO);
	/* a dump needs a pool; POOL once, and not over a given pool */
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_WINDOW_DUMP), -EPROTO);
	assert_int_equal(proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_POOL), 0);
	proto_gui_permit_note(&c, GUI_DIR_TO_GUI, GUI_MSG_POOL);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_POOL), -EPROTO);
	c.pool = true;
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_WINDOW_DUMP), 0);
	c.pool_announced = false;
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_POOL), -EPROTO);
	/* after an ERROR, nothing */
	proto_gui_permit_note(&c, GUI_DIR_TO_GUI, GUI_MSG_ERROR);
	assert_int_equal(c.phase, GUI_PHASE_DEAD);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_CREATE), -EPROTO);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_GUI, GUI_MSG_ERROR), -EPROTO);

	/* towards the agent: version, xconf, then its types */
	c = (struct gui_conn){GUI_PHASE_VERSION, false, false};
	proto_gui_permit_note(&c, GUI_DIR_TO_AGENT, GUI_HS_VERSION);
	assert_int_equal(c.phase, GUI_PHASE_XCONF);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_AGENT, GUI_MSG_KEYPRESS), -EPROTO);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_AGENT, GUI_HS_XCONF), 0);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_AGENT, GUI_MSG_ERROR), 0);
	proto_gui_permit_note(&c, GUI_DIR_TO_AGENT, GUI_HS_XCONF);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_AGENT, GUI_MSG_KEYPRESS), 0);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_AGENT, GUI_MSG_CREATE), -EPROTO);
	assert_int_equal(
	    proto_gui_permit(&c, GUI_DIR_TO_AGENT, GUI_HS_XCONF), -EPROTO);
}

/* ---- the reader ---- */

/* A stream from an agent: version, pool, a window and its life. */
static void
agent_stream(struct wire *w, size_t clip)
{
	struct gui_create c = good_create();
	struct gui_wmname n = name_of("hello");
	struct gui_pool p = {0, (uint32_t)(64 * MIB / GUI_PAGE_SIZE)};
	struct gui_window_dump d = good_dump();
	struct gui_shmimage s = {0, 0, 640, 480};
	static uint8_t clipdata[GUI_CLIPBOARD_MAX + 1];

	memset(clipdata, 'c', sizeof(clipdata));
	put_u32(w, GUI_PROTOCOL_VERSION);
	put_msg(w, GUI_MSG_POOL, 0, &p, sizeof(p));
	put_msg(w, GUI_MSG_CREATE, 7, &c, sizeof(c));
	put_msg(w, GUI_MSG_WMNAME, 7, &n, sizeof(n));
	put_msg(w, GUI_MSG_MAP, 7, &(struct gui_map){0, 0}, 8);
	put_msg(w, GUI_MSG_WINDOW_DUMP, 7, &d, sizeof(d));
	put_msg(w, GUI_MSG_SHMIMAGE, 7, &s, sizeof(s));
	put_msg(w, GUI_MSG_CLIPBOARD_DATA, 0, clipdata, clip);
	put_msg(w, GUI_MSG_UNMAP, 7, NULL, 0);
	put_msg(w, GUI_MSG_DESTROY, 7, NULL, 0);
}

static const uint32_t agent_types[] = {GUI_HS_VERSION, GUI_MSG_POOL,
    GUI_MSG_CREATE, GUI_MSG_WMNAME, GUI_MSG_MAP, GUI_MSG_WINDOW_DUMP,
    GUI_MSG_SHMIMAGE, GUI_MSG_CLIPBOARD_DATA, GUI_MSG_UNMAP, GUI_MSG_DESTROY};

/*
 * Feed w in pieces of chunk() bytes; check the types that come out.
 * The pool is attached when POOL arrives, as the validator would after
 * checking the fd.
 */
static void
run_stream(const struct wire *w, size_t (*chunk)(void), size_t clip)
{
	struct gui_params p = params_default;
	struct gui_reader *r;
	struct gui_msg m;
	size_t off = 0, n = 0;

	p.pool_size = 0;
	assert_int_equal(gui_reader_new(GUI_DIR_TO_GUI, &p, &r), 0);
	while (off < w->len) {
		size_t want = chunk(), used = 0;
		int rc;

		if (want > w->len - off)
			want = w->len - off;
		rc = gui_reader_feed(r, w->b + off, want, &used, &m);
		assert_true(rc == 0 || rc == 1);
		assert_true(used <= want);
		if (rc == 0)
			assert_int_equal(used, want);
		off += used;
		if (rc == 1) {
			assert_true(
			    n < sizeof(agent_types) / sizeof(agent_types[0]));
			assert_int_equal(m.type, agent_types[n]);
			if (m.type == GUI_MSG_POOL)
				assert_int_equal(
				    gui_reader_set_pool(r,
				        (uint64_t)m.u.pool.pool_pages *
				            GUI_PAGE_SIZE),
				    0);
			if (m.type == GUI_MSG_WMNAME)
				assert_string_equal(
				    m.u.wmname.wmname_data, "hello");
			if (m.type == GUI_MSG_CLIPBOARD_DATA) {
				assert_int_equal(m.u.clipboard.len, clip);
				assert_int_equal(m.u.clipboard.too_big,
				    clip == GUI_CLIPBOARD_DEFAULT + 1);
				if (clip > 0)
					assert_int_equal(
					    m.u.clipboard.data[clip - 1], 'c');
			}
			if (m.type != GUI_HS_VERSION &&
			    m.type != GUI_MSG_CLIPBOARD_DATA &&
			    m.type != GUI_MSG_POOL)
				assert_int_equal(m.window, 7);
			n++;
		}
	}
	assert_int_equal(n, sizeof(agent_types) / sizeof(agent_types[0]));
	assert_null(gui_reader_error(r));
	assert_int_equal(gui_reader_conn(r)->phase, GUI_PHASE_READY);
	gui_reader_free(r);
}

static size_t
chunk_all(void)
{
	return (size_t)-1;
}

static size_t
chunk_one(void)
{
	return 1;
}

/* A deterministic sequence (an LCG), so a failure repeats. */
static uint32_t chunk_state;

static size_t
chunk_random(void)
{
	/* 0..300 (0 exercises an empty feed) */
	chunk_state = chunk_state * 1103515245u + 12345u;
	return (size_t)((chunk_state >> 16) % 301);
}

static void
test_reader_stream(void **state)
{
	static struct wire w;
	static const size_t clips[] = {
	    0, 1, 5000, GUI_CLIPBOARD_DEFAULT, GUI_CLIPBOARD_DEFAULT + 1};
	size_t i;

	(void)state;
	chunk_state = 8;
	for (i = 0; i < sizeof(clips) / sizeof(clips[0]); i++) {
		w.len = 0;
		agent_stream(&w, clips[i]);
		run_stream(&w, chunk_all, clips[i]);
		run_stream(&w, chunk_one, clips[i]);
		run_stream(&w, chunk_random, clips[i]);
	}
}

/* Feed all of w; return the first error (or 0, or 1 if a message). */
static int
feed_all(struct gui_reader *r, const struct wire *w, int *ret_msgs)
{
	size_t off = 0;
	int msgs = 0;

	while (off < w->len) {
		struct gui_msg m;
		size_t used = 0;
		int rc =
		    gui_reader_feed(r, w->b + off, w->len - off, &used, &m);

		if (rc < 0) {
			*ret_msgs = msgs;
			return rc;
		}
		off += used;
		msgs += rc;
	}
	*ret_msgs = msgs;
	return 0;
}

/* The reader's parameters in stream_error(): no pool unless a test
 * says so. */
static struct gui_params stream_params = {
    .clipboard_limit = GUI_CLIPBOARD_DEFAULT,
};

static int
stream_error(
    enum gui_dir dir, const struct wire *w, const char **why, int *msgs)
{
	struct gui_reader *r;
	int rc;

	assert_int_equal(gui_reader_new(dir, &stream_params, &r), 0);
	rc = feed_all(r, w, msgs);
	*why = gui_reader_error(r);
	if (rc < 0) {
		struct gui_msg m;
		size_t used = 99;

		/* sticky */
		assert_int_equal(gui_reader_feed(r, "x", 1, &used, &m), rc);
		assert_int_equal(used, 99);
		assert_non_null(*why);
	}
	gui_reader_free(r);
	return rc;
}

static void
test_reader_errors(void **state)
{
	static struct wire w;
	struct gui_create c = good_create();
	struct gui_window_dump d = good_dump();
	struct gui_pool p = {0, 16};
	const char *why;
	int msgs;

	(void)state;
	/* a Qubes agent: refused, and said so */
	w.len = 0;
	put_u32(&w, 0x00010008);
	assert_int_equal(
	    stream_error(GUI_DIR_TO_GUI, &w, &why, &msgs), -EBADMSG);
	assert_non_null(strstr(why, "Qubes"));
	/* a message before the version word */
	w.len = 0;
	put_msg(&w, GUI_MSG_CREATE, 1, &c, sizeof(c));
	assert_int_equal(
	    stream_error(GUI_DIR_TO_GUI, &w, &why, &msgs), -EBADMSG);
	assert_int_equal(msgs, 0);
	/* an unknown type after it */
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	put_msg(&w, 200, 1, NULL, 0);
	assert_int_equal(
	    stream_error(GUI_DIR_TO_GUI, &w, &why, &msgs), -EBADMSG);
	assert_string_equal(why, "unknown message type");
	assert_int_equal(msgs, 1);
	/* the other direction's type */
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	put_msg(&w, GUI_MSG_KEYPRESS, 1, "01234567890123456789", 20);
	assert_int_equal(
	    stream_error(GUI_DIR_TO_GUI, &w, &why, &msgs), -EBADMSG);
	/* a wrong length, refused on the header alone */
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	put_msg(&w, GUI_MSG_CREATE, 1, &c, sizeof(c));
	w.b[w.len - 24 - 4] = 25;
	assert_int_equal(
	    stream_error(GUI_DIR_TO_GUI, &w, &why, &msgs), -EBADMSG);
	assert_string_equal(why, "wrong length for the message type");
	/* clipboard over limit + 1: refused before any body byte comes */
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	{
		struct gui_hdr h = {
		    GUI_MSG_CLIPBOARD_DATA, 0, GUI_CLIPBOARD_DEFAULT + 2};

		put(&w, &h, sizeof(h));
	}
	assert_int_equal(
	    stream_error(GUI_DIR_TO_GUI, &w, &why, &msgs), -EBADMSG);
	assert_string_equal(why, "clipboard data over the limit");
	/* an invalid body */
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	c.create_parent = 3;
	put_msg(&w, GUI_MSG_CREATE, 1, &c, sizeof(c));
	c.create_parent = 0;
	assert_int_equal(
	    stream_error(GUI_DIR_TO_GUI, &w, &why, &msgs), -EBADMSG);
	assert_string_equal(why, "invalid message body");
	/* wrong phase: a dump before any pool */
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	put_msg(&w, GUI_MSG_WINDOW_DUMP, 1, &d, sizeof(d));
	assert_int_equal(
	    stream_error(GUI_DIR_TO_GUI, &w, &why, &msgs), -EPROTO);
	assert_string_equal(why, "message not allowed now");
	/* wrong phase: POOL twice */
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	put_msg(&w, GUI_MSG_POOL, 0, &p, sizeof(p));
	put_msg(&w, GUI_MSG_POOL, 0, &p, sizeof(p));
	assert_int_equal(
	    stream_error(GUI_DIR_TO_GUI, &w, &why, &msgs), -EPROTO);
	assert_int_equal(msgs, 2);
	/* POOL while the admin side gave one */
	stream_params.pool_size = 64 * MIB;
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	put_msg(&w, GUI_MSG_WINDOW_DUMP, 1, &d, sizeof(d));
	put_msg(&w, GUI_MSG_POOL, 0, &p, sizeof(p));
	assert_int_equal(
	    stream_error(GUI_DIR_TO_GUI, &w, &why, &msgs), -EPROTO);
	assert_int_equal(msgs, 2);
	stream_params.pool_size = 0;
	/* anything after an ERROR */
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	{
		struct gui_error e = error_of(GUI_ERR_SHUTDOWN, "bye");

		put_msg(&w, GUI_MSG_ERROR, 0, &e, sizeof(e));
	}
	put_msg(&w, GUI_MSG_UNMAP, 1, NULL, 0);
	assert_int_equal(
	    stream_error(GUI_DIR_TO_GUI, &w, &why, &msgs), -EPROTO);
	assert_int_equal(msgs, 2);
}

static void
test_reader_agent(void **state)
{
	static struct wire w;
	struct gui_xconf x = {1024, 768, 24, 1024 * 768 * 4 / 1024 + 1};
	struct gui_keypress k = {GUI_KEY_PRESS, 1, 1, 0, 38};
	struct gui_error e = error_of(GUI_ERR_VERSION, "agent too old");
	struct gui_reader *r;
	struct gui_msg m;
	size_t used;
	const char *why;
	int msgs;

	(void)state;
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	put(&w, &x, sizeof(x));
	put_msg(&w, GUI_MSG_KEYPRESS, 3, &k, sizeof(k));
	put_msg(&w, GUI_MSG_CLIPBOARD_REQ, 0, NULL, 0);
	assert_int_equal(
	    gui_reader_new(GUI_DIR_TO_AGENT, &params_default, &r), 0);
	assert_int_equal(gui_reader_feed(r, w.b, w.len, &used, &m), 1);
	assert_int_equal(m.type, GUI_HS_VERSION);
	assert_int_equal(used, 4);
	assert_int_equal(gui_reader_feed(r, w.b + 4, w.len - 4, &used, &m), 1);
	assert_int_equal(m.type, GUI_HS_XCONF);
	assert_int_equal(m.u.xconf.xconf_height, 768);
	assert_int_equal(
	    gui_reader_feed(r, w.b + 20, w.len - 20, &used, &m), 1);
	assert_int_equal(m.type, GUI_MSG_KEYPRESS);
	assert_int_equal(m.window, 3);
	assert_int_equal(m.u.keypress.keypress_keycode, 38);
	assert_int_equal(
	    gui_reader_feed(r, w.b + 52, w.len - 52, &used, &m), 1);
	assert_int_equal(m.type, GUI_MSG_CLIPBOARD_REQ);
	assert_int_equal(gui_reader_feed(r, w.b, 0, &used, &m), 0);
	assert_int_equal(used, 0);
	gui_reader_free(r);

	/* a refusal in place of the version answer */
	w.len = 0;
	put_msg(&w, GUI_MSG_ERROR, 0, &e, sizeof(e));
	assert_int_equal(
	    gui_reader_new(GUI_DIR_TO_AGENT, &params_default, &r), 0);
	assert_int_equal(gui_reader_feed(r, w.b, w.len, &used, &m), 1);
	assert_int_equal(m.type, GUI_MSG_ERROR);
	assert_int_equal(m.u.error.error_code, GUI_ERR_VERSION);
	assert_string_equal(m.u.error.error_reason, "agent too old");
	assert_int_equal(gui_reader_conn(r)->phase, GUI_PHASE_DEAD);
	gui_reader_free(r);

	/* the xconf is required */
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	x.xconf_mem = 0;
	put(&w, &x, sizeof(x));
	assert_int_equal(
	    stream_error(GUI_DIR_TO_AGENT, &w, &why, &msgs), -EBADMSG);
	assert_string_equal(why, "invalid xconf");
	/* an agent-bound stream does not take agent messages */
	w.len = 0;
	put_u32(&w, GUI_PROTOCOL_VERSION);
	x.xconf_mem = 1024 * 768 * 4 / 1024 + 1;
	put(&w, &x, sizeof(x));
	put_msg(&w, GUI_MSG_CREATE, 1, "012345678901234567890123", 24);
	assert_int_equal(
	    stream_error(GUI_DIR_TO_AGENT, &w, &why, &msgs), -EBADMSG);
	assert_int_equal(msgs, 2);
}

static void
test_reader_new(void **state)
{
	struct gui_params p = params_default;
	struct gui_reader *r = NULL;

	(void)state;
	p.clipboard_limit = GUI_CLIPBOARD_MIN - 1;
	assert_int_equal(gui_reader_new(GUI_DIR_TO_GUI, &p, &r), -EINVAL);
	p.clipboard_limit = GUI_CLIPBOARD_MAX + 1;
	assert_int_equal(gui_reader_new(GUI_DIR_TO_GUI, &p, &r), -EINVAL);
	p = params_default;
	p.pool_size = 5000;
	assert_int_equal(gui_reader_new(GUI_DIR_TO_GUI, &p, &r), -EINVAL);
	p.pool_size = GUI_POOL_MAX + GUI_PAGE_SIZE;
	assert_int_equal(gui_reader_new(GUI_DIR_TO_GUI, &p, &r), -EINVAL);
	p = params_default;
	assert_int_equal(gui_reader_new(GUI_DIR_MAX, &p, &r), -EINVAL);
	assert_null(r);
	p.clipboard_limit = GUI_CLIPBOARD_MIN;
	assert_int_equal(gui_reader_new(GUI_DIR_TO_GUI, &p, &r), 0);
	assert_int_equal(gui_reader_set_pool(r, 0), -EINVAL);
	assert_int_equal(gui_reader_set_pool(r, 4097), -EINVAL);
	assert_int_equal(
	    gui_reader_set_pool(r, GUI_POOL_MAX + GUI_PAGE_SIZE), -EINVAL);
	assert_int_equal(gui_reader_set_pool(r, GUI_POOL_MAX), 0);
	assert_null(gui_reader_error(r));
	assert_int_equal(gui_reader_error_type(r), 0);
	gui_reader_free(r);
	gui_reader_free(NULL);
}

/* Out of memory at each of gui_reader_new's two allocations. */
static void
test_reader_enomem(void **state)
{
	struct gui_reader *r = NULL;
	int skip;

	(void)state;
	for (skip = 0; skip < 2; skip++) {
		fault_reset();
		fault_set(F_ALLOC, -1, skip, 1, ENOMEM);
		assert_int_equal(
		    gui_reader_new(GUI_DIR_TO_GUI, &params_default, &r),
		    -ENOMEM);
		assert_null(r);
		assert_int_equal(faults[F_ALLOC].calls, skip + 1);
	}
	fault_reset();
	assert_int_equal(
	    gui_reader_new(GUI_DIR_TO_GUI, &params_default, &r), 0);
	gui_reader_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_type_sizes),
	    cmocka_unit_test(test_hdr),
	    cmocka_unit_test(test_exact_lengths),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_xconf),
	    cmocka_unit_test(test_create),
	    cmocka_unit_test(test_map_configure),
	    cmocka_unit_test(test_shmimage),
	    cmocka_unit_test(test_wmname),
	    cmocka_unit_test(test_wmclass),
	    cmocka_unit_test(test_hints),
	    cmocka_unit_test(test_flags_cursor),
	    cmocka_unit_test(test_range_check),
	    cmocka_unit_test(test_window_dump),
	    cmocka_unit_test(test_clipboard),
	    cmocka_unit_test(test_error_pool),
	    cmocka_unit_test(test_input),
	    cmocka_unit_test(test_permit),
	    cmocka_unit_test(test_reader_stream),
	    cmocka_unit_test(test_reader_errors),
	    cmocka_unit_test(test_reader_agent),
	    cmocka_unit_test(test_reader_new),
	    cmocka_unit_test(test_reader_enomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
