/*
 * proto/gui.c - the validators of GUI messages, the phase/permit table
 * and the stream reader (proto/gui.h; docs/protocol/gui.md).
 *
 * Run by the per-qube GUI validator in the GUI domain, as that qube's
 * unprivileged GUI uid: there every byte of the stream is the qube's and
 * hostile (GUI_DIR_TO_GUI), and this is the only code that reads it
 * before it is trusted.  The qube's agent runs the same code on the
 * other direction (GUI_DIR_TO_AGENT), whose bytes come from the more
 * trusted GUI domain but are checked all the same.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/proto/gui.h"

/* Which directions a type flows in, and its window-field rule. */
#define D_GUI   (1u << GUI_DIR_TO_GUI)
#define D_AGENT (1u << GUI_DIR_TO_AGENT)
enum win_rule {
	W_ID,   /* 1..GUI_MAX_WINDOW_ID */
	W_ZERO, /* 0: the message is about the connection */
	W_ANY,  /* 0 or an id (ERROR may name the window at fault) */
};

struct type_info {
	const char *name;
	int size;     /* fixed body size; -1: CLIPBOARD_DATA's variable one */
	uint8_t dirs; /* D_*: 0 for Qubes types bulkhead does not use */
	uint8_t win;  /* enum win_rule */
};

static const struct type_info gui_types[GUI_MSG_TYPE_MAX] = {
    [GUI_MSG_KEYPRESS] = {"KEYPRESS", 20, D_AGENT, W_ID},
    [GUI_MSG_BUTTON] = {"BUTTON", 20, D_AGENT, W_ID},
    [GUI_MSG_MOTION] = {"MOTION", 16, D_AGENT, W_ID},
    [GUI_MSG_CROSSING] = {"CROSSING", 28, D_AGENT, W_ID},
    [GUI_MSG_FOCUS] = {"FOCUS", 12, D_AGENT, W_ID},
    [GUI_MSG_RESIZE] = {"RESIZE", 8, 0, W_ID},
    [GUI_MSG_CREATE] = {"CREATE", 24, D_GUI, W_ID},
    [GUI_MSG_DESTROY] = {"DESTROY", 0, D_GUI | D_AGENT, W_ID},
    [GUI_MSG_MAP] = {"MAP", 8, D_GUI | D_AGENT, W_ID},
    [GUI_MSG_UNMAP] = {"UNMAP", 0, D_GUI, W_ID},
    [GUI_MSG_CONFIGURE] = {"CONFIGURE", 20, D_GUI | D_AGENT, W_ID},
    [GUI_MSG_MFNDUMP] = {"MFNDUMP", -1, 0, W_ID},
    [GUI_MSG_SHMIMAGE] = {"SHMIMAGE", 16, D_GUI, W_ID},
    [GUI_MSG_CLOSE] = {"CLOSE", 0, D_AGENT, W_ID},
    [GUI_MSG_EXECUTE] = {"EXECUTE", 255, 0, W_ID},
    [GUI_MSG_CLIPBOARD_REQ] = {"CLIPBOARD_REQ", 0, D_AGENT, W_ZERO},
    [GUI_MSG_CLIPBOARD_DATA] = {"CLIPBOARD_DATA", -1, D_GUI | D_AGENT, W_ZERO},
    [GUI_MSG_WMNAME] = {"WMNAME", 128, D_GUI, W_ID},
    [GUI_MSG_KEYMAP_NOTIFY] = {"KEYMAP_NOTIFY", 32, D_AGENT, W_ID},
    [GUI_MSG_DOCK] = {"DOCK", 0, 0, W_ID},
    [GUI_MSG_WINDOW_HINTS] = {"WINDOW_HINTS", 36, D_GUI, W_ID},
    [GUI_MSG_WINDOW_FLAGS] = {"WINDOW_FLAGS", 8, D_GUI | D_AGENT, W_ID},
    [GUI_MSG_WMCLASS] = {"WMCLASS", 128, D_GUI, W_ID},
    [GUI_MSG_WINDOW_DUMP] = {"WINDOW_DUMP", 32, D_GUI, W_ID},
    [GUI_MSG_CURSOR] = {"CURSOR", 4, D_GUI, W_ID},
    [GUI_MSG_WINDOW_DUMP_ACK] = {"WINDOW_DUMP_ACK", 0, D_AGENT, W_ID},
    [GUI_MSG_FRAME_DONE] = {"FRAME_DONE", 4, D_AGENT, W_ID},
    [GUI_MSG_ERROR] = {"ERROR", 128, D_GUI | D_AGENT, W_ANY},
    [GUI_MSG_POOL] = {"POOL", 8, D_GUI, W_ZERO},
};
_Static_assert(GUI_MAX_FIXED_BODY == sizeof(struct gui_wmname) &&
        GUI_MAX_FIXED_BODY == sizeof(struct gui_wmclass) &&
        GUI_MAX_FIXED_BODY == sizeof(struct gui_error),
    "the largest fixed body");

static const struct type_info *
type_info(uint32_t type)
{
	if (type <= GUI_MSG_MIN || type >= GUI_MSG_TYPE_MAX)
		return NULL;
	if (gui_types[type].name == NULL)
		return NULL;
	return &gui_types[type];
}

const char *
proto_gui_type_name(uint32_t type)
{
	const struct type_info *ti = type_info(type);

	if (type == GUI_HS_VERSION)
		return "VERSION";
	if (type == GUI_HS_XCONF)
		return "XCONF";
	return ti != NULL ? ti->name : "?";
}

int
proto_gui_type_size(uint32_t type)
{
	const struct type_info *ti = type_info(type);

	return ti != NULL ? ti->size : -1;
}

/* ---- helpers ---- */

static bool
in_range_i32(int32_t v, uint32_t cap)
{
	return v >= -(int64_t)cap && v <= (int64_t)cap;
}

static bool
is_bool(uint32_t v)
{
	return v == 0 || v == 1;
}

static bool
is_window_id(uint32_t v)
{
	return v >= 1 && v <= GUI_MAX_WINDOW_ID;
}

static bool
size_ok(uint32_t w, uint32_t h)
{
	return w >= 1 && w <= GUI_MAX_WIDTH && h >= 1 && h <= GUI_MAX_HEIGHT;
}

/*
 * One UTF-8 character at s[0..n): its length (1..4) and code point, or 0
 * if it is not the shortest encoding of a scalar value (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF).
 */
static size_t
utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1fu;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0fu;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07u;
	} else {
		return 0; /* a continuation byte or 0xf8..0xff */
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3fu);
	}
	if (c < min_cp[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * Characters a title may show.  No C0/C1 controls or DEL (a terminal or
 * a renderer might act on them), and no bidirectional controls: they
 * could reorder what the user reads around the trusted "[qube]" prefix.
 */
static bool
title_char_ok(uint32_t c)
{
	if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
		return false;
	if (c == 0x061c || c == 0x200e || c == 0x200f)
		return false;
	if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
		return false;
	return true;
}

/*
 * A fixed-size string field: a NUL, only NULs after it, and before it
 * printable ASCII (or with utf8, checked UTF-8 of title characters).
 * Returns true if valid; rejects rather than rewrites (the caller
 * decides whether to show a replacement).
 */
static bool
field_ok(const char *untrusted_field, size_t n, bool utf8)
{
	const unsigned char *s = (const unsigned char *)untrusted_field;
	const unsigned char *nul = memchr(s, '\0', n);
	size_t end, i, k;
	uint32_t cp;

	if (nul == NULL)
		return false;
	end = (size_t)(nul - s);
	for (i = end; i < n; i++)
		if (s[i] != '\0')
			return false;
	for (i = 0; i < end; i += k) {
		if (!utf8 || s[i] < 0x80) {
			if (s[i] < 0x20 || s[i] > 0x7e)
				return false;
			k = 1;
			continue;
		}
		k = utf8_char(s + i, end - i, &cp);
		if (k == 0 || !title_char_ok(cp))
			return false;
	}
	return true;
}

/* ---- header and handshake ---- */

int
proto_gui_hdr_parse(const void *buf, size_t len, enum gui_dir dir,
    uint32_t clipboard_limit, struct gui_hdr *ret)
{
	const struct type_info *ti;
	struct gui_hdr h;

	if (len != sizeof(h) || (unsigned)dir >= GUI_DIR_MAX)
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	ti = type_info(h.hdr_type);
	if (ti == NULL || !(ti->dirs & (1u << dir)))
		return -EBADMSG;
	switch ((enum win_rule)ti->win) {
	case W_ID:
		if (!is_window_id(h.hdr_window))
			return -EBADMSG;
		break;
	case W_ZERO:
		if (h.hdr_window != 0)
			return -EBADMSG;
		break;
	case W_ANY:
		if (h.hdr_window != 0 && !is_window_id(h.hdr_window))
			return -EBADMSG;
		break;
	default:
		return -EBADMSG;
	}
	if (ti->size >= 0) {
		/* Qubes >= 1.6: a length other than the type's is fatal */
		if (h.hdr_untrusted_len != (uint32_t)ti->size)
			return -EBADMSG;
	} else {
		/* CLIPBOARD_DATA: limit + 1 is "too big", more is malformed */
		if (clipboard_limit < GUI_CLIPBOARD_MIN ||
		    clipboard_limit > GUI_CLIPBOARD_MAX ||
		    h.hdr_untrusted_len > clipboard_limit + 1)
			return -EBADMSG;
	}
	*ret = h;
	return 0;
}

int
proto_gui_version_parse(const void *buf, size_t len, uint32_t *ret)
{
	struct gui_version v;

	if (len != sizeof(v))
		return -EBADMSG;
	memcpy(&v, buf, sizeof(v));
	if (v.version_word >> 16 != GUI_VERSION_MAJOR ||
	    (v.version_word & 0xffffu) < 1)
		return -EBADMSG;
	*ret = v.version_word;
	return 0;
}

bool
proto_gui_version_is_qubes(uint32_t v)
{
	return v >> 16 == GUI_QUBES_MAJOR;
}

int
proto_gui_xconf_parse(const void *buf, size_t len, struct gui_xconf *ret)
{
	struct gui_xconf x;

	if (len != sizeof(x))
		return -EBADMSG;
	memcpy(&x, buf, sizeof(x));
	if (!size_ok(x.xconf_width, x.xconf_height) || x.xconf_width % 8 != 0)
		return -EBADMSG;
	if (x.xconf_depth != 24 && x.xconf_depth != 32)
		return -EBADMSG;
	/* both factors are capped: no overflow in 64 bits (nor in 32) */
	if (x.xconf_mem !=
	    (uint64_t)x.xconf_width * x.xconf_height * 4 / 1024 + 1)
		return -EBADMSG;
	*ret = x;
	return 0;
}

/* ---- GUI domain -> agent ---- */

int
proto_gui_keypress_parse(const void *buf, size_t len, struct gui_keypress *ret)
{
	struct gui_keypress k;

	if (len != sizeof(k))
		return -EBADMSG;
	memcpy(&k, buf, sizeof(k));
	if (k.keypress_type != GUI_KEY_PRESS &&
	    k.keypress_type != GUI_KEY_RELEASE)
		return -EBADMSG;
	if (!in_range_i32(k.keypress_x, GUI_MAX_WIDTH) ||
	    !in_range_i32(k.keypress_y, GUI_MAX_HEIGHT))
		return -EBADMSG;
	if (k.keypress_state & ~GUI_STATE_MASK)
		return -EBADMSG;
	if (k.keypress_keycode < GUI_KEYCODE_MIN ||
	    k.keypress_keycode > GUI_KEYCODE_MAX)
		return -EBADMSG;
	*ret = k;
	return 0;
}

int
proto_gui_button_parse(const void *buf, size_t len, struct gui_button *ret)
{
	struct gui_button b;

	if (len != sizeof(b))
		return -EBADMSG;
	memcpy(&b, buf, sizeof(b));
	if (b.button_type != GUI_BUTTON_PRESS &&
	    b.button_type != GUI_BUTTON_RELEASE)
		return -EBADMSG;
	if (!in_range_i32(b.button_x, GUI_MAX_WIDTH) ||
	    !in_range_i32(b.button_y, GUI_MAX_HEIGHT))
		return -EBADMSG;
	if (b.button_state & ~GUI_STATE_MASK)
		return -EBADMSG;
	if (b.button_button < 1 || b.button_button > GUI_MAX_BUTTON)
		return -EBADMSG;
	*ret = b;
	return 0;
}

int
proto_gui_motion_parse(const void *buf, size_t len, struct gui_motion *ret)
{
	struct gui_motion m;

	if (len != sizeof(m))
		return -EBADMSG;
	memcpy(&m, buf, sizeof(m));
	if (!in_range_i32(m.motion_x, GUI_MAX_WIDTH) ||
	    !in_range_i32(m.motion_y, GUI_MAX_HEIGHT))
		return -EBADMSG;
	if ((m.motion_state & ~GUI_STATE_MASK) || !is_bool(m.motion_is_hint))
		return -EBADMSG;
	*ret = m;
	return 0;
}

int
proto_gui_crossing_parse(const void *buf, size_t len, struct gui_crossing *ret)
{
	struct gui_crossing c;

	if (len != sizeof(c))
		return -EBADMSG;
	memcpy(&c, buf, sizeof(c));
	if (c.crossing_type != GUI_ENTER_NOTIFY &&
	    c.crossing_type != GUI_LEAVE_NOTIFY)
		return -EBADMSG;
	if (!in_range_i32(c.crossing_x, GUI_MAX_WIDTH) ||
	    !in_range_i32(c.crossing_y, GUI_MAX_HEIGHT))
		return -EBADMSG;
	if (c.crossing_state & ~GUI_STATE_MASK)
		return -EBADMSG;
	if (c.crossing_mode > GUI_CROSSING_MODE_MAX ||
	    c.crossing_detail > GUI_CROSSING_DETAIL_MAX ||
	    !is_bool(c.crossing_focus))
		return -EBADMSG;
	*ret = c;
	return 0;
}

int
proto_gui_focus_parse(const void *buf, size_t len, struct gui_focus *ret)
{
	struct gui_focus f;

	if (len != sizeof(f))
		return -EBADMSG;
	memcpy(&f, buf, sizeof(f));
	if (f.focus_type != GUI_FOCUS_IN && f.focus_type != GUI_FOCUS_OUT)
		return -EBADMSG;
	if (f.focus_mode > GUI_FOCUS_MODE_MAX ||
	    f.focus_detail > GUI_FOCUS_DETAIL_MAX)
		return -EBADMSG;
	*ret = f;
	return 0;
}

int
proto_gui_keymap_notify_parse(
    const void *buf, size_t len, struct gui_keymap_notify *ret)
{
	if (len != sizeof(*ret))
		return -EBADMSG;
	/* every bit pattern is a key state */
	memcpy(ret, buf, sizeof(*ret));
	return 0;
}

int
proto_gui_frame_done_parse(
    const void *buf, size_t len, struct gui_frame_done *ret)
{
	if (len != sizeof(*ret))
		return -EBADMSG;
	/* a wrapping timestamp: any value */
	memcpy(ret, buf, sizeof(*ret));
	return 0;
}

/* ---- agent -> GUI domain ---- */

int
proto_gui_create_parse(const void *buf, size_t len, struct gui_create *ret)
{
	struct gui_create c;

	if (len != sizeof(c))
		return -EBADMSG;
	memcpy(&c, buf, sizeof(c));
	if (!in_range_i32(c.create_x, GUI_MAX_WIDTH) ||
	    !in_range_i32(c.create_y, GUI_MAX_HEIGHT))
		return -EBADMSG;
	if (!size_ok(c.create_width, c.create_height))
		return -EBADMSG;
	/*
	 * Qubes ignores parent (no subwindows since QSB-072).  bulkhead's
	 * agent never sets it, so a parent can only come from a confused
	 * or hostile agent: refused, not silently dropped.
	 */
	if (c.create_parent != 0)
		return -EBADMSG;
	if (!is_bool(c.create_override_redirect))
		return -EBADMSG;
	*ret = c;
	return 0;
}

int
proto_gui_map_parse(const void *buf, size_t len, struct gui_map *ret)
{
	struct gui_map m;

	if (len != sizeof(m))
		return -EBADMSG;
	memcpy(&m, buf, sizeof(m));
	if (m.map_transient_for != 0 && !is_window_id(m.map_transient_for))
		return -EBADMSG;
	if (!is_bool(m.map_override_redirect))
		return -EBADMSG;
	*ret = m;
	return 0;
}

int
proto_gui_configure_parse(
    const void *buf, size_t len, struct gui_configure *ret)
{
	struct gui_configure c;

	if (len != sizeof(c))
		return -EBADMSG;
	memcpy(&c, buf, sizeof(c));
	if (!in_range_i32(c.configure_x, GUI_MAX_WIDTH) ||
	    !in_range_i32(c.configure_y, GUI_MAX_HEIGHT))
		return -EBADMSG;
	if (!size_ok(c.configure_width, c.configure_height))
		return -EBADMSG;
	if (!is_bool(c.configure_override_redirect))
		return -EBADMSG;
	*ret = c;
	return 0;
}

int
proto_gui_shmimage_parse(const void *buf, size_t len, struct gui_shmimage *ret)
{
	struct gui_shmimage s;

	if (len != sizeof(s))
		return -EBADMSG;
	memcpy(&s, buf, sizeof(s));
	if (s.shmimage_x < 0 || s.shmimage_y < 0)
		return -EBADMSG;
	if (!size_ok(s.shmimage_width, s.shmimage_height))
		return -EBADMSG;
	/* each term is capped, so the sums cannot wrap */
	if ((uint64_t)s.shmimage_x + s.shmimage_width > GUI_MAX_WIDTH ||
	    (uint64_t)s.shmimage_y + s.shmimage_height > GUI_MAX_HEIGHT)
		return -EBADMSG;
	*ret = s;
	return 0;
}

int
proto_gui_wmname_parse(
    const void *buf, size_t len, bool utf8, struct gui_wmname *ret)
{
	const char *untrusted_name = buf;

	if (len != sizeof(*ret))
		return -EBADMSG;
	if (!field_ok(untrusted_name, GUI_TITLE_LEN, utf8))
		return -EBADMSG;
	memcpy(ret->wmname_data, untrusted_name, GUI_TITLE_LEN);
	return 0;
}

/* A size hint pair: within the caps if its flag is set, else zero. */
static bool
hint_pair_ok(
    uint32_t flags, uint32_t flag, uint32_t w, uint32_t h, uint32_t min)
{
	if (!(flags & flag))
		return w == 0 && h == 0;
	return w >= min && w <= GUI_MAX_WIDTH && h >= min &&
	    h <= GUI_MAX_HEIGHT;
}

int
proto_gui_window_hints_parse(
    const void *buf, size_t len, struct gui_window_hints *ret)
{
	struct gui_window_hints h;
	uint32_t f;

	if (len != sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	f = h.hints_flags;
	if (f & ~GUI_HINT_ALL)
		return -EBADMSG;
	if (!hint_pair_ok(f, GUI_HINT_MIN_SIZE, h.hints_min_width,
	        h.hints_min_height, 0) ||
	    !hint_pair_ok(f, GUI_HINT_MAX_SIZE, h.hints_max_width,
	        h.hints_max_height, 1) ||
	    !hint_pair_ok(f, GUI_HINT_RESIZE_INC, h.hints_width_inc,
	        h.hints_height_inc, 1) ||
	    !hint_pair_ok(f, GUI_HINT_BASE_SIZE, h.hints_base_width,
	        h.hints_base_height, 0))
		return -EBADMSG;
	if ((f & GUI_HINT_MIN_SIZE) && (f & GUI_HINT_MAX_SIZE) &&
	    (h.hints_min_width > h.hints_max_width ||
	        h.hints_min_height > h.hints_max_height))
		return -EBADMSG;
	*ret = h;
	return 0;
}

int
proto_gui_window_flags_parse(
    const void *buf, size_t len, struct gui_window_flags *ret)
{
	struct gui_window_flags f;

	if (len != sizeof(f))
		return -EBADMSG;
	memcpy(&f, buf, sizeof(f));
	/* Qubes drops unknown bits; we refuse them (reject, not repair) */
	if ((f.flags_set | f.flags_unset) & ~GUI_FLAG_ALL)
		return -EBADMSG;
	if (f.flags_set & f.flags_unset)
		return -EBADMSG;
	*ret = f;
	return 0;
}

int
proto_gui_wmclass_parse(const void *buf, size_t len, struct gui_wmclass *ret)
{
	struct gui_wmclass c;

	if (len != sizeof(c))
		return -EBADMSG;
	memcpy(&c, buf, sizeof(c));
	if (!field_ok(c.wmclass_res_class, GUI_CLASS_LEN, false) ||
	    !field_ok(c.wmclass_res_name, GUI_CLASS_LEN, false))
		return -EBADMSG;
	*ret = c;
	return 0;
}

int
proto_gui_range_check(uint64_t pool_size, uint32_t offset, uint32_t stride,
    uint32_t width, uint32_t height, uint32_t format)
{
	if (format != GUI_FORMAT_XRGB8888 && format != GUI_FORMAT_ARGB8888)
		return -EBADMSG;
	if (!size_ok(width, height))
		return -EBADMSG;
	if (offset % GUI_PAGE_SIZE != 0)
		return -EBADMSG;
	if (stride % 4 != 0 || stride < width * 4u || stride > GUI_MAX_STRIDE)
		return -EBADMSG;
	/*
	 * The whole stride of the last row too, as Qubes sizes a buffer.
	 * offset < 2^32, stride * height < 2^16 * 2^13: no 64-bit wrap.
	 */
	if ((uint64_t)offset + (uint64_t)stride * height > pool_size)
		return -EBADMSG;
	return 0;
}

int
proto_gui_window_dump_parse(const void *buf, size_t len, uint64_t pool_size,
    struct gui_window_dump *ret)
{
	struct gui_window_dump d;

	if (len != sizeof(d))
		return -EBADMSG;
	memcpy(&d, buf, sizeof(d));
	if (d.dump_type != GUI_DUMP_POOL_RANGE || d.dump_bpp != GUI_DUMP_BPP ||
	    d.dump_pool_id != 0)
		return -EBADMSG;
	if (proto_gui_range_check(pool_size, d.dump_offset, d.dump_stride,
	        d.dump_width, d.dump_height, d.dump_format) < 0)
		return -EBADMSG;
	*ret = d;
	return 0;
}

int
proto_gui_cursor_parse(const void *buf, size_t len, struct gui_cursor *ret)
{
	struct gui_cursor c;

	if (len != sizeof(c))
		return -EBADMSG;
	memcpy(&c, buf, sizeof(c));
	if (c.cursor_id != GUI_CURSOR_DEFAULT &&
	    (c.cursor_id < GUI_CURSOR_X11 ||
	        c.cursor_id >= GUI_CURSOR_X11_MAX || c.cursor_id % 2 != 0))
		return -EBADMSG;
	*ret = c;
	return 0;
}

int
proto_gui_pool_parse(const void *buf, size_t len, struct gui_pool *ret)
{
	struct gui_pool p;

	if (len != sizeof(p))
		return -EBADMSG;
	memcpy(&p, buf, sizeof(p));
	if (p.pool_id != 0 || p.pool_pages < 1 ||
	    p.pool_pages > GUI_POOL_MAX / GUI_PAGE_SIZE)
		return -EBADMSG;
	*ret = p;
	return 0;
}

/* ---- both ways ---- */

int
proto_gui_clipboard_data_parse(
    const void *buf, size_t len, uint32_t limit, struct gui_clipboard *ret)
{
	if (limit < GUI_CLIPBOARD_MIN || limit > GUI_CLIPBOARD_MAX)
		return -EBADMSG;
	if (len > (size_t)limit + 1)
		return -EBADMSG;
	/* the bytes are never parsed here: they are the user's data */
	ret->data = buf;
	ret->len = (uint32_t)len;
	ret->too_big = len == (size_t)limit + 1;
	return 0;
}

int
proto_gui_error_parse(const void *buf, size_t len, struct gui_error *ret)
{
	struct gui_error e;

	if (len != sizeof(e))
		return -EBADMSG;
	memcpy(&e, buf, sizeof(e));
	if (e.error_code < GUI_ERR_PROTOCOL || e.error_code >= GUI_ERR_MAX)
		return -EBADMSG;
	if (e.error_reason[0] == '\0' ||
	    !field_ok(e.error_reason, GUI_ERROR_REASON_LEN, false))
		return -EBADMSG;
	*ret = e;
	return 0;
}

int
proto_gui_empty_parse(const void *buf, size_t len)
{
	(void)buf;
	return len == 0 ? 0 : -EBADMSG;
}

/* ---- one message, by type ---- */

int
proto_gui_msg_parse(const struct gui_hdr *hdr, const void *body, size_t len,
    enum gui_dir dir, const struct gui_params *params, struct gui_msg *ret)
{
	const struct type_info *ti = type_info(hdr->hdr_type);
	struct gui_msg m;
	int r;

	/* re-checked, so a header from elsewhere cannot skip them */
	if (ti == NULL || (unsigned)dir >= GUI_DIR_MAX ||
	    !(ti->dirs & (1u << dir)) || len != hdr->hdr_untrusted_len)
		return -EBADMSG;
	memset(&m, 0, sizeof(m));
	m.type = hdr->hdr_type;
	m.window = hdr->hdr_window;
	switch ((enum gui_type)hdr->hdr_type) {
	case GUI_MSG_KEYPRESS:
		r = proto_gui_keypress_parse(body, len, &m.u.keypress);
		break;
	case GUI_MSG_BUTTON:
		r = proto_gui_button_parse(body, len, &m.u.button);
		break;
	case GUI_MSG_MOTION:
		r = proto_gui_motion_parse(body, len, &m.u.motion);
		break;
	case GUI_MSG_CROSSING:
		r = proto_gui_crossing_parse(body, len, &m.u.crossing);
		break;
	case GUI_MSG_FOCUS:
		r = proto_gui_focus_parse(body, len, &m.u.focus);
		break;
	case GUI_MSG_CREATE:
		r = proto_gui_create_parse(body, len, &m.u.create);
		break;
	case GUI_MSG_MAP:
		r = proto_gui_map_parse(body, len, &m.u.map);
		/* a window cannot be transient for itself */
		if (r == 0 && m.u.map.map_transient_for == m.window)
			r = -EBADMSG;
		break;
	case GUI_MSG_CONFIGURE:
		r = proto_gui_configure_parse(body, len, &m.u.configure);
		break;
	case GUI_MSG_SHMIMAGE:
		r = proto_gui_shmimage_parse(body, len, &m.u.shmimage);
		break;
	case GUI_MSG_CLIPBOARD_DATA:
		r = proto_gui_clipboard_data_parse(
		    body, len, params->clipboard_limit, &m.u.clipboard);
		break;
	case GUI_MSG_WMNAME:
		r = proto_gui_wmname_parse(
		    body, len, params->allow_utf8_titles, &m.u.wmname);
		break;
	case GUI_MSG_KEYMAP_NOTIFY:
		r = proto_gui_keymap_notify_parse(body, len, &m.u.keymap);
		break;
	case GUI_MSG_WINDOW_HINTS:
		r = proto_gui_window_hints_parse(body, len, &m.u.hints);
		break;
	case GUI_MSG_WINDOW_FLAGS:
		r = proto_gui_window_flags_parse(body, len, &m.u.flags);
		break;
	case GUI_MSG_WMCLASS:
		r = proto_gui_wmclass_parse(body, len, &m.u.wmclass);
		break;
	case GUI_MSG_WINDOW_DUMP:
		r = proto_gui_window_dump_parse(
		    body, len, params->pool_size, &m.u.dump);
		break;
	case GUI_MSG_CURSOR:
		r = proto_gui_cursor_parse(body, len, &m.u.cursor);
		break;
	case GUI_MSG_FRAME_DONE:
		r = proto_gui_frame_done_parse(body, len, &m.u.frame_done);
		break;
	case GUI_MSG_ERROR:
		r = proto_gui_error_parse(body, len, &m.u.error);
		break;
	case GUI_MSG_POOL:
		r = proto_gui_pool_parse(body, len, &m.u.pool);
		break;
	case GUI_MSG_DESTROY:
	case GUI_MSG_UNMAP:
	case GUI_MSG_CLOSE:
	case GUI_MSG_CLIPBOARD_REQ:
	case GUI_MSG_WINDOW_DUMP_ACK:
		r = proto_gui_empty_parse(body, len);
		break;
	case GUI_HS_VERSION:
	case GUI_HS_XCONF:
	case GUI_MSG_MIN:
	case GUI_MSG_RESIZE:
	case GUI_MSG_MFNDUMP:
	case GUI_MSG_EXECUTE:
	case GUI_MSG_DOCK:
	case GUI_MSG_TYPE_MAX:
	default:
		r = -EBADMSG;
		break;
	}
	if (r < 0)
		return -EBADMSG;
	*ret = m;
	return 0;
}

/* ---- phases and permits ---- */

int
proto_gui_permit(const struct gui_conn *conn, enum gui_dir dir, uint32_t type)
{
	const struct type_info *ti;

	if ((unsigned)dir >= GUI_DIR_MAX)
		return -EPROTO;
	switch (conn->phase) {
	case GUI_PHASE_VERSION:
		if (type == GUI_HS_VERSION)
			return 0;
		/* the GUI domain may refuse an agent instead of answering */
		if (type == GUI_MSG_ERROR && dir == GUI_DIR_TO_AGENT)
			return 0;
		return -EPROTO;
	case GUI_PHASE_XCONF:
		if (type == GUI_HS_XCONF && dir == GUI_DIR_TO_AGENT)
			return 0;
		if (type == GUI_MSG_ERROR && dir == GUI_DIR_TO_AGENT)
			return 0;
		return -EPROTO;
	case GUI_PHASE_READY:
		ti = type_info(type);
		if (ti == NULL || !(ti->dirs & (1u << dir)))
			return -EPROTO;
		/* once, and only if the admin side gave no pool */
		if (type == GUI_MSG_POOL &&
		    (conn->pool || conn->pool_announced))
			return -EPROTO;
		if (type == GUI_MSG_WINDOW_DUMP && !conn->pool)
			return -EPROTO;
		return 0;
	case GUI_PHASE_DEAD:
	case GUI_PHASE_MAX:
	default:
		return -EPROTO;
	}
}

void
proto_gui_permit_note(struct gui_conn *conn, enum gui_dir dir, uint32_t type)
{
	switch (type) {
	case GUI_HS_VERSION:
		conn->phase =
		    dir == GUI_DIR_TO_AGENT ? GUI_PHASE_XCONF : GUI_PHASE_READY;
		break;
	case GUI_HS_XCONF:
		conn->phase = GUI_PHASE_READY;
		break;
	case GUI_MSG_POOL:
		conn->pool_announced = true;
		break;
	case GUI_MSG_ERROR:
		conn->phase = GUI_PHASE_DEAD;
		break;
	default:
		break;
	}
}

/* ---- the stream reader ---- */

enum reader_state {
	RS_WORD,  /* the 4-byte version word */
	RS_XCONF, /* the 16-byte xconf (towards the agent) */
	RS_HDR,   /* a 12-byte header */
	RS_BODY,  /* hdr.hdr_untrusted_len body bytes after the header */
};

struct gui_reader {
	enum gui_dir dir;
	struct gui_params params;
	struct gui_conn conn;
	enum reader_state state;
	struct gui_hdr hdr; /* valid in RS_BODY */
	uint8_t *buf;       /* header + the largest body: cap bytes */
	size_t cap;
	size_t have;
	const char *err;
	uint32_t err_type;
	int err_code;
};

int
gui_reader_new(
    enum gui_dir dir, const struct gui_params *params, struct gui_reader **ret)
{
	struct gui_reader *r;
	size_t body;

	if ((unsigned)dir >= GUI_DIR_MAX ||
	    params->clipboard_limit < GUI_CLIPBOARD_MIN ||
	    params->clipboard_limit > GUI_CLIPBOARD_MAX ||
	    params->pool_size > GUI_POOL_MAX ||
	    params->pool_size % GUI_PAGE_SIZE != 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	/* sized from our own limit, once: a peer's length never sizes it */
	body = (size_t)params->clipboard_limit + 1;
	if (body < GUI_MAX_FIXED_BODY)
		body = GUI_MAX_FIXED_BODY;
	r->cap = sizeof(struct gui_hdr) + body;
	r->buf = calloc(r->cap, 1);
	if (r->buf == NULL) {
		free(r);
		return -ENOMEM;
	}
	r->dir = dir;
	r->params = *params;
	r->conn.phase = GUI_PHASE_VERSION;
	r->conn.pool = params->pool_size != 0;
	r->state = RS_WORD;
	*ret = r;
	return 0;
}

void
gui_reader_free(struct gui_reader *r)
{
	if (r == NULL)
		return;
	/* may hold clipboard bytes */
	explicit_bzero(r->buf, r->cap);
	free(r->buf);
	free(r);
}

int
gui_reader_set_pool(struct gui_reader *r, uint64_t size)
{
	if (size == 0 || size > GUI_POOL_MAX || size % GUI_PAGE_SIZE != 0)
		return -EINVAL;
	r->params.pool_size = size;
	r->conn.pool = true;
	return 0;
}

const char *
gui_reader_error(const struct gui_reader *r)
{
	return r->err;
}

uint32_t
gui_reader_error_type(const struct gui_reader *r)
{
	return r->err_type;
}

const struct gui_conn *
gui_reader_conn(const struct gui_reader *r)
{
	return &r->conn;
}

static int
reader_fail(struct gui_reader *r, int code, uint32_t type, const char *why)
{
	r->err = why;
	r->err_type = type;
	r->err_code = code;
	return code;
}

static size_t
reader_need(const struct gui_reader *r)
{
	switch (r->state) {
	case RS_WORD:
		return sizeof(struct gui_version);
	case RS_XCONF:
		return sizeof(struct gui_xconf);
	case RS_HDR:
		return sizeof(struct gui_hdr);
	case RS_BODY:
		return sizeof(struct gui_hdr) + r->hdr.hdr_untrusted_len;
	default:
		return 0;
	}
}

/* Why a header was refused, for the log line and the ERROR reason. */
static const char *
hdr_reason(const struct gui_reader *r, const struct gui_hdr *untrusted_h)
{
	const struct type_info *ti = type_info(untrusted_h->hdr_type);

	if (ti == NULL)
		return "unknown message type";
	if (!(ti->dirs & (1u << r->dir)))
		return "message type not used in this direction";
	if (ti->size < 0 &&
	    untrusted_h->hdr_untrusted_len > r->params.clipboard_limit + 1)
		return "clipboard data over the limit";
	if (ti->size >= 0 &&
	    untrusted_h->hdr_untrusted_len != (uint32_t)ti->size)
		return "wrong length for the message type";
	return "bad window id for the message type";
}

/* A complete version word in buf[0..4). */
static int
reader_word(struct gui_reader *r, struct gui_msg *ret_msg)
{
	uint32_t untrusted_word, v;

	memcpy(&untrusted_word, r->buf, sizeof(untrusted_word));
	/* towards the agent, an ERROR frame may stand for the answer */
	if (r->dir == GUI_DIR_TO_AGENT && untrusted_word == GUI_MSG_ERROR) {
		r->state = RS_HDR;
		return 0;
	}
	if (proto_gui_version_parse(r->buf, sizeof(v), &v) < 0) {
		if (proto_gui_version_is_qubes(untrusted_word))
			return reader_fail(r, -EBADMSG, GUI_HS_VERSION,
			    "Qubes GUI protocol version: a Qubes agent, not "
			    "a bulkhead one");
		return reader_fail(
		    r, -EBADMSG, GUI_HS_VERSION, "bad version word");
	}
	memset(ret_msg, 0, sizeof(*ret_msg));
	ret_msg->type = GUI_HS_VERSION;
	ret_msg->u.version = v;
	proto_gui_permit_note(&r->conn, r->dir, GUI_HS_VERSION);
	r->state = r->dir == GUI_DIR_TO_AGENT ? RS_XCONF : RS_HDR;
	r->have = 0;
	return 1;
}

int
gui_reader_feed(struct gui_reader *r, const void *untrusted_data, size_t len,
    size_t *ret_used, struct gui_msg *ret_msg)
{
	const uint8_t *p = untrusted_data;
	struct gui_msg m;
	size_t used = 0, need, take;
	int rc;

	if (r->err != NULL)
		return r->err_code;
	for (;;) {
		need = reader_need(r);
		take = need - r->have;
		if (take > len - used)
			take = len - used;
		/* need <= cap: the header, and a body its type bounds */
		if (take > 0)
			memcpy(r->buf + r->have, p + used, take);
		r->have += take;
		used += take;
		if (r->have < need) {
			*ret_used = used;
			return 0;
		}
		switch (r->state) {
		case RS_WORD:
			rc = reader_word(r, &m);
			if (rc < 0)
				return rc;
			if (rc > 0)
				goto out_msg;
			continue;
		case RS_XCONF:
			if (proto_gui_permit(&r->conn, r->dir, GUI_HS_XCONF) <
			    0)
				return reader_fail(r, -EPROTO, GUI_HS_XCONF,
				    "xconf not allowed now");
			memset(&m, 0, sizeof(m));
			m.type = GUI_HS_XCONF;
			if (proto_gui_xconf_parse(r->buf, need, &m.u.xconf) < 0)
				return reader_fail(
				    r, -EBADMSG, GUI_HS_XCONF, "invalid xconf");
			proto_gui_permit_note(&r->conn, r->dir, GUI_HS_XCONF);
			r->state = RS_HDR;
			r->have = 0;
			goto out_msg;
		case RS_HDR: {
			struct gui_hdr untrusted_h;

			memcpy(&untrusted_h, r->buf, sizeof(untrusted_h));
			if (proto_gui_hdr_parse(r->buf, need, r->dir,
			        r->params.clipboard_limit, &r->hdr) < 0)
				return reader_fail(r, -EBADMSG,
				    untrusted_h.hdr_type,
				    hdr_reason(r, &untrusted_h));
			if (proto_gui_permit(
			        &r->conn, r->dir, r->hdr.hdr_type) < 0)
				return reader_fail(r, -EPROTO, r->hdr.hdr_type,
				    "message not allowed now");
			r->state = RS_BODY;
			continue;
		}
		case RS_BODY:
			if (proto_gui_msg_parse(&r->hdr,
			        r->buf + sizeof(struct gui_hdr),
			        r->hdr.hdr_untrusted_len, r->dir, &r->params,
			        &m) < 0)
				return reader_fail(r, -EBADMSG, r->hdr.hdr_type,
				    "invalid message body");
			proto_gui_permit_note(
			    &r->conn, r->dir, r->hdr.hdr_type);
			r->state = RS_HDR;
			r->have = 0;
			goto out_msg;
		default:
			return reader_fail(r, -EBADMSG, 0, "reader state");
		}
	}
out_msg:
	*ret_used = used;
	*ret_msg = m;
	return 1;
}
