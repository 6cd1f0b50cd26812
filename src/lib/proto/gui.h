/*
 * proto/gui.h - the GUI wire protocol between a qube's GUI agent and its
 * per-qube validator in the GUI domain (issue #8; docs/protocol/gui.md is
 * the specification).
 *
 * Shape: Qubes' GUI protocol 1.8 (12-byte header {type, window,
 * untrusted_len}, message numbers 124..149, the same body layouts), with
 * our own version word, a WINDOW_DUMP type that names a range of one
 * sealed memfd pool instead of Xen grant refs, and three messages Qubes
 * lacks (FRAME_DONE, ERROR, POOL).  It is deliberately not wire
 * compatible with Qubes: a Qubes agent is recognised by its version word
 * and refused.
 *
 * Byte order: host order (both ends run on the same host, or a guest of
 * the same architecture, as in Qubes).  Structs are read with memcpy.
 *
 * Everything a peer sends is untrusted until one validator accepts it:
 * proto_gui_hdr_parse() for the header (a known type used in this
 * direction, the window rule and the exact length of the type), then
 * proto_gui_<msg>_parse() for the body.  They are pure: buffer in, a full
 * valid copy out, -EBADMSG for anything else; they reject, never repair.
 * proto_gui_permit() says whether a type is allowed in the connection's
 * phase; struct gui_reader ties the three together for a nonblocking
 * stream.
 */
#ifndef BULKHEAD_PROTO_GUI_H
#define BULKHEAD_PROTO_GUI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The version word: major << 16 | minor, as Qubes, but our major is
 * 0x4248 ("BH") so that no Qubes version (major 1) is ever mistaken for
 * ours.  Same major: the lower minor is used.  History:
 *   BH.1  the first (Qubes 1.8 messages + POOL_RANGE, FRAME_DONE, ERROR,
 *         POOL).
 */
#define GUI_VERSION_MAJOR     0x4248u
#define GUI_VERSION_MINOR     1u
#define GUI_VERSION(maj, min) ((uint32_t)(maj) << 16 | (uint32_t)(min))
#define GUI_PROTOCOL_VERSION  GUI_VERSION(GUI_VERSION_MAJOR, GUI_VERSION_MINOR)
/* Qubes' major: its agents send 0x0001xxxx first and are refused. */
#define GUI_QUBES_MAJOR 1u

/* ---- limits (named; each checked before anything is buffered) ---- */
#define GUI_MAX_WIDTH     16384u /* window and buffer width (Qubes) */
#define GUI_MAX_HEIGHT    6144u  /* window and buffer height (Qubes) */
#define GUI_MAX_WINDOW_ID 65535u /* window ids are 1..this */
/* Caps the validator enforces with its own state (not a parser's job): */
#define GUI_MAX_WINDOWS      256u   /* live windows of one qube */
#define GUI_MAX_MSGS_PER_SEC 20000u /* messages a second from one qube */
/* Fixed-size strings (each NUL-terminated, NUL-padded). */
#define GUI_TITLE_LEN        128u /* WMNAME */
#define GUI_CLASS_LEN        64u  /* WMCLASS res_class and res_name */
#define GUI_ERROR_REASON_LEN 124u /* ERROR */
/* Clipboard: the limit is per qube, configurable in [MIN, MAX]; an agent
 * sends at most limit + 1 bytes, limit + 1 meaning "too big" (Qubes 1.8). */
#define GUI_CLIPBOARD_MIN     256u
#define GUI_CLIPBOARD_MAX     256000u
#define GUI_CLIPBOARD_DEFAULT 64000u
/* The pool: one per qube, a multiple of GUI_PAGE_SIZE, at most GUI_POOL_MAX
 * (a max-size window's buffer is 384 MiB; room for two of them). */
#define GUI_PAGE_SIZE 4096u
#define GUI_POOL_MAX  ((uint64_t)1 << 30)
/* A buffer row: width * 4 <= stride <= GUI_MAX_STRIDE, stride % 4 == 0. */
#define GUI_MAX_STRIDE (GUI_MAX_WIDTH * 4u)
/* The largest fixed body (WMNAME, WMCLASS, ERROR). */
#define GUI_MAX_FIXED_BODY 128u

/* Cursor ids (CURSOR): default, or X cursor-font glyph + 0x100 (even,
 * below 0x19a: the odd glyphs are masks). */
#define GUI_CURSOR_DEFAULT 0u
#define GUI_CURSOR_X11     0x100u
#define GUI_CURSOR_X11_MAX 0x19au

/* Input (GUI domain to agent), X11 values as Qubes. */
#define GUI_KEY_PRESS           2u
#define GUI_KEY_RELEASE         3u
#define GUI_BUTTON_PRESS        4u
#define GUI_BUTTON_RELEASE      5u
#define GUI_ENTER_NOTIFY        7u
#define GUI_LEAVE_NOTIFY        8u
#define GUI_FOCUS_IN            9u
#define GUI_FOCUS_OUT           10u
#define GUI_KEYCODE_MIN         8u /* X keycode = evdev code + 8 */
#define GUI_KEYCODE_MAX         255u
#define GUI_MAX_BUTTON          31u
#define GUI_STATE_MASK          0x7fffu /* modifiers, buttons 1-5, XKB group */
#define GUI_CROSSING_MODE_MAX   2u      /* Normal, Grab, Ungrab */
#define GUI_CROSSING_DETAIL_MAX 4u      /* Ancestor .. NonlinearVirtual */
#define GUI_FOCUS_MODE_MAX      3u      /* Normal, Grab, Ungrab, WhileGrabbed */
#define GUI_FOCUS_DETAIL_MAX    7u      /* Ancestor .. DetailNone */

/* WINDOW_HINTS flags (X11 XSizeHints bits); others are refused. */
#define GUI_HINT_MIN_SIZE   (1u << 4)
#define GUI_HINT_MAX_SIZE   (1u << 5)
#define GUI_HINT_RESIZE_INC (1u << 6)
#define GUI_HINT_BASE_SIZE  (1u << 8)
#define GUI_HINT_ALL                                                           \
	(GUI_HINT_MIN_SIZE | GUI_HINT_MAX_SIZE | GUI_HINT_RESIZE_INC |         \
	    GUI_HINT_BASE_SIZE)

/* WINDOW_FLAGS bits (Qubes); others are refused. */
#define GUI_FLAG_FULLSCREEN        (1u << 0)
#define GUI_FLAG_DEMANDS_ATTENTION (1u << 1)
#define GUI_FLAG_MINIMIZE          (1u << 2)
#define GUI_FLAG_ALL                                                           \
	(GUI_FLAG_FULLSCREEN | GUI_FLAG_DEMANDS_ATTENTION | GUI_FLAG_MINIMIZE)

/* WINDOW_DUMP: the only dump type (Qubes' GRANT_REFS = 0 is refused). */
#define GUI_DUMP_POOL_RANGE 1u
#define GUI_DUMP_BPP        32u
/* Pixel formats: DRM fourcc codes, little-endian 32-bit pixels. */
#define GUI_FORMAT_XRGB8888 0x34325258u /* 'XR24' */
#define GUI_FORMAT_ARGB8888 0x34325241u /* 'AR24' */

/* Message types.  124..149 are Qubes 1.8's numbers; 150.. are ours. */
enum gui_type {
	/* pseudo types of the unframed handshake (never in a header) */
	GUI_HS_VERSION = 1, /* bare u32 version word, each way */
	GUI_HS_XCONF = 2,   /* bare struct gui_xconf, GUI domain to agent */

	GUI_MSG_MIN = 123,
	GUI_MSG_KEYPRESS = 124,        /* G->A */
	GUI_MSG_BUTTON = 125,          /* G->A */
	GUI_MSG_MOTION = 126,          /* G->A */
	GUI_MSG_CROSSING = 127,        /* G->A */
	GUI_MSG_FOCUS = 128,           /* G->A */
	GUI_MSG_RESIZE = 129,          /* Qubes: obsolete; refused */
	GUI_MSG_CREATE = 130,          /* A->G */
	GUI_MSG_DESTROY = 131,         /* A->G; G->A is the acknowledgement */
	GUI_MSG_MAP = 132,             /* A<->G */
	GUI_MSG_UNMAP = 133,           /* A->G */
	GUI_MSG_CONFIGURE = 134,       /* A<->G */
	GUI_MSG_MFNDUMP = 135,         /* Qubes: deprecated; refused */
	GUI_MSG_SHMIMAGE = 136,        /* A->G */
	GUI_MSG_CLOSE = 137,           /* G->A */
	GUI_MSG_EXECUTE = 138,         /* Qubes: obsolete; refused */
	GUI_MSG_CLIPBOARD_REQ = 139,   /* G->A */
	GUI_MSG_CLIPBOARD_DATA = 140,  /* A<->G, the one variable length */
	GUI_MSG_WMNAME = 141,          /* A->G */
	GUI_MSG_KEYMAP_NOTIFY = 142,   /* G->A */
	GUI_MSG_DOCK = 143,            /* Qubes: tray icons; refused */
	GUI_MSG_WINDOW_HINTS = 144,    /* A->G */
	GUI_MSG_WINDOW_FLAGS = 145,    /* A<->G */
	GUI_MSG_WMCLASS = 146,         /* A->G */
	GUI_MSG_WINDOW_DUMP = 147,     /* A->G, type POOL_RANGE only */
	GUI_MSG_CURSOR = 148,          /* A->G */
	GUI_MSG_WINDOW_DUMP_ACK = 149, /* G->A */
	/* bulkhead's additions */
	GUI_MSG_FRAME_DONE = 150, /* G->A: the window's updates are shown */
	GUI_MSG_ERROR = 151,      /* A<->G: fatal, with a reason; then close */
	GUI_MSG_POOL = 152,       /* A->G: the pool fd (SCM_RIGHTS), once */
	GUI_MSG_TYPE_MAX
};

/* Which way a stream flows (each direction has its own types). */
enum gui_dir {
	GUI_DIR_TO_GUI = 0,   /* agent -> GUI domain: hostile to the reader */
	GUI_DIR_TO_AGENT = 1, /* GUI domain -> agent */
	GUI_DIR_MAX
};

/* ERROR codes. */
enum gui_error_code {
	GUI_ERR_PROTOCOL = 1, /* a malformed or forbidden message */
	GUI_ERR_VERSION = 2,  /* no common version */
	GUI_ERR_LIMIT = 3,    /* a cap exceeded (windows, rate, bytes) */
	GUI_ERR_POOL = 4,     /* a bad pool fd or a range outside it */
	GUI_ERR_SHUTDOWN = 5, /* orderly end: the qube or GUI domain stops */
	GUI_ERR_INTERNAL = 6, /* the sender's own failure */
	GUI_ERR_MAX
};

/* ---- wire structs (host order, natural alignment, no padding) ---- */

struct gui_hdr {
	uint32_t hdr_type;
	uint32_t hdr_window;
	/* body bytes that follow; must equal the type's size */
	uint32_t hdr_untrusted_len;
};
_Static_assert(sizeof(struct gui_hdr) == 12, "gui_hdr layout");

/* Handshake: agent sends its version word; the GUI domain answers with
 * the version used and then an xconf (or with an ERROR frame, whose first
 * word GUI_MSG_ERROR is no valid version). */
struct gui_version {
	uint32_t version_word;
};
_Static_assert(sizeof(struct gui_version) == 4, "gui_version layout");

struct gui_xconf {
	uint32_t xconf_width;  /* screen size, a multiple of 8 */
	uint32_t xconf_height; /* screen size */
	uint32_t xconf_depth;  /* 24 or 32 */
	uint32_t xconf_mem;    /* KiB: width * height * 4 / 1024 + 1 */
};
_Static_assert(sizeof(struct gui_xconf) == 16, "gui_xconf layout");

struct gui_keypress {
	uint32_t keypress_type; /* GUI_KEY_PRESS or GUI_KEY_RELEASE */
	int32_t keypress_x;     /* window-relative */
	int32_t keypress_y;
	uint32_t keypress_state;   /* GUI_STATE_MASK bits */
	uint32_t keypress_keycode; /* GUI_KEYCODE_MIN..MAX */
};
_Static_assert(sizeof(struct gui_keypress) == 20, "gui_keypress layout");

struct gui_button {
	uint32_t button_type; /* GUI_BUTTON_PRESS or GUI_BUTTON_RELEASE */
	int32_t button_x;
	int32_t button_y;
	uint32_t button_state;
	uint32_t button_button; /* 1..GUI_MAX_BUTTON */
};
_Static_assert(sizeof(struct gui_button) == 20, "gui_button layout");

struct gui_motion {
	int32_t motion_x;
	int32_t motion_y;
	uint32_t motion_state;
	uint32_t motion_is_hint; /* 0 or 1 */
};
_Static_assert(sizeof(struct gui_motion) == 16, "gui_motion layout");

struct gui_crossing {
	uint32_t crossing_type; /* GUI_ENTER_NOTIFY or GUI_LEAVE_NOTIFY */
	int32_t crossing_x;
	int32_t crossing_y;
	uint32_t crossing_state;
	uint32_t crossing_mode;   /* 0..GUI_CROSSING_MODE_MAX */
	uint32_t crossing_detail; /* 0..GUI_CROSSING_DETAIL_MAX */
	uint32_t crossing_focus;  /* 0 or 1 */
};
_Static_assert(sizeof(struct gui_crossing) == 28, "gui_crossing layout");

struct gui_focus {
	uint32_t focus_type;   /* GUI_FOCUS_IN or GUI_FOCUS_OUT */
	uint32_t focus_mode;   /* 0..GUI_FOCUS_MODE_MAX */
	uint32_t focus_detail; /* 0..GUI_FOCUS_DETAIL_MAX */
};
_Static_assert(sizeof(struct gui_focus) == 12, "gui_focus layout");

struct gui_create {
	int32_t create_x;                  /* |x| <= GUI_MAX_WIDTH */
	int32_t create_y;                  /* |y| <= GUI_MAX_HEIGHT */
	uint32_t create_width;             /* 1..GUI_MAX_WIDTH */
	uint32_t create_height;            /* 1..GUI_MAX_HEIGHT */
	uint32_t create_parent;            /* must be 0: no subwindows */
	uint32_t create_override_redirect; /* 0 or 1 */
};
_Static_assert(sizeof(struct gui_create) == 24, "gui_create layout");

struct gui_map {
	uint32_t map_transient_for;     /* 0 or another window's id */
	uint32_t map_override_redirect; /* 0 or 1 */
};
_Static_assert(sizeof(struct gui_map) == 8, "gui_map layout");

struct gui_configure {
	int32_t configure_x;
	int32_t configure_y;
	uint32_t configure_width;
	uint32_t configure_height;
	uint32_t configure_override_redirect; /* 0 or 1 */
};
_Static_assert(sizeof(struct gui_configure) == 20, "gui_configure layout");

/* Damage: a rectangle inside [0, GUI_MAX_WIDTH] x [0, GUI_MAX_HEIGHT]. */
struct gui_shmimage {
	int32_t shmimage_x;
	int32_t shmimage_y;
	uint32_t shmimage_width;  /* >= 1 */
	uint32_t shmimage_height; /* >= 1 */
};
_Static_assert(sizeof(struct gui_shmimage) == 16, "gui_shmimage layout");

struct gui_wmname {
	char wmname_data[GUI_TITLE_LEN];
};
_Static_assert(sizeof(struct gui_wmname) == 128, "gui_wmname layout");

struct gui_keymap_notify {
	uint8_t keymap_keys[32]; /* bit n: X keycode n is down */
};
_Static_assert(sizeof(struct gui_keymap_notify) == 32, "gui_keymap layout");

struct gui_window_hints {
	uint32_t hints_flags; /* GUI_HINT_* */
	uint32_t hints_min_width;
	uint32_t hints_min_height;
	uint32_t hints_max_width;
	uint32_t hints_max_height;
	uint32_t hints_width_inc;
	uint32_t hints_height_inc;
	uint32_t hints_base_width;
	uint32_t hints_base_height;
};
_Static_assert(sizeof(struct gui_window_hints) == 36, "gui_hints layout");

struct gui_window_flags {
	uint32_t flags_set;   /* GUI_FLAG_* */
	uint32_t flags_unset; /* GUI_FLAG_*, disjoint from flags_set */
};
_Static_assert(sizeof(struct gui_window_flags) == 8, "gui_flags layout");

struct gui_wmclass {
	char wmclass_res_class[GUI_CLASS_LEN];
	char wmclass_res_name[GUI_CLASS_LEN];
};
_Static_assert(sizeof(struct gui_wmclass) == 128, "gui_wmclass layout");

/*
 * WINDOW_DUMP: Qubes' 16-byte dump header {type, width, height, bpp}
 * followed, for our one type POOL_RANGE, by a fixed 16-byte range (so
 * the message has one exact length, 32).
 */
struct gui_window_dump {
	uint32_t dump_type;    /* GUI_DUMP_POOL_RANGE */
	uint32_t dump_width;   /* 1..GUI_MAX_WIDTH */
	uint32_t dump_height;  /* 1..GUI_MAX_HEIGHT */
	uint32_t dump_bpp;     /* GUI_DUMP_BPP */
	uint32_t dump_pool_id; /* 0: the qube's one pool */
	uint32_t dump_offset;  /* multiple of GUI_PAGE_SIZE */
	uint32_t dump_stride;  /* width*4 <= stride <= GUI_MAX_STRIDE */
	uint32_t dump_format;  /* GUI_FORMAT_XRGB8888 or _ARGB8888 */
};
_Static_assert(sizeof(struct gui_window_dump) == 32, "gui_dump layout");

struct gui_cursor {
	uint32_t cursor_id;
};
_Static_assert(sizeof(struct gui_cursor) == 4, "gui_cursor layout");

struct gui_frame_done {
	uint32_t frame_done_msec; /* GUI domain's CLOCK_MONOTONIC ms, wraps */
};
_Static_assert(sizeof(struct gui_frame_done) == 4, "gui_frame_done layout");

struct gui_error {
	uint32_t error_code; /* enum gui_error_code */
	/* printable ASCII, 1..123 characters, NUL-terminated, NUL-padded */
	char error_reason[GUI_ERROR_REASON_LEN];
};
_Static_assert(sizeof(struct gui_error) == 128, "gui_error layout");

/* POOL: the agent's pool fd arrives with this message (SCM_RIGHTS). */
struct gui_pool {
	uint32_t pool_id;    /* 0 */
	uint32_t pool_pages; /* size / GUI_PAGE_SIZE, 1..GUI_POOL_MAX/page */
};
_Static_assert(sizeof(struct gui_pool) == 8, "gui_pool layout");

/* ---- validated forms ---- */

/* CLIPBOARD_DATA: the bytes, borrowed from the parsed buffer. */
struct gui_clipboard {
	const uint8_t *data;
	uint32_t len;
	bool too_big; /* len == limit + 1: refuse with a notice */
};

/* What the validators need to know about the connection (trusted). */
struct gui_params {
	uint32_t clipboard_limit; /* GUI_CLIPBOARD_MIN..MAX */
	uint64_t pool_size;       /* 0: no pool yet (WINDOW_DUMP refused) */
	bool allow_utf8_titles;   /* WMNAME: checked UTF-8, else ASCII */
};

/* One validated message (or handshake word). */
struct gui_msg {
	uint32_t type;   /* enum gui_type */
	uint32_t window; /* 0 for the handshake */
	union {
		uint32_t version;
		struct gui_xconf xconf;
		struct gui_keypress keypress;
		struct gui_button button;
		struct gui_motion motion;
		struct gui_crossing crossing;
		struct gui_focus focus;
		struct gui_create create;
		struct gui_map map;
		struct gui_configure configure;
		struct gui_shmimage shmimage;
		struct gui_clipboard clipboard;
		struct gui_wmname wmname;
		struct gui_keymap_notify keymap;
		struct gui_window_hints hints;
		struct gui_window_flags flags;
		struct gui_wmclass wmclass;
		struct gui_window_dump dump;
		struct gui_cursor cursor;
		struct gui_frame_done frame_done;
		struct gui_error error;
		struct gui_pool pool;
	} u;
};

/* ---- validators: 0 and a full copy in *ret, or -EBADMSG ---- */

/*
 * The header of a message flowing in dir: exactly 12 bytes; a type of
 * GUI_MSG_* used in that direction; the window rule of the type (0 for
 * CLIPBOARD_*, POOL and ERROR may name one, 1..GUI_MAX_WINDOW_ID for the
 * others); hdr_untrusted_len equal to the type's size (Qubes >= 1.6), or
 * for CLIPBOARD_DATA at most clipboard_limit + 1.  Called before a body
 * is waited for, so no length a peer sends is ever buffered unchecked.
 */
int proto_gui_hdr_parse(const void *buf, size_t len, enum gui_dir dir,
    uint32_t clipboard_limit, struct gui_hdr *ret);

/* Version word: exactly 4 bytes, our major, minor >= 1. */
int proto_gui_version_parse(const void *buf, size_t len, uint32_t *ret);
/* true if v is a Qubes version word (major 1): for a clear refusal. */
bool proto_gui_version_is_qubes(uint32_t v);

/* xconf: sizes within the caps, width a multiple of 8, depth 24 or 32,
 * mem exactly width * height * 4 / 1024 + 1. */
int proto_gui_xconf_parse(const void *buf, size_t len, struct gui_xconf *ret);

/* GUI domain -> agent input (the agent's validators). */
int
proto_gui_keypress_parse(const void *buf, size_t len, struct gui_keypress *ret);
int proto_gui_button_parse(const void *buf, size_t len, struct gui_button *ret);
int proto_gui_motion_parse(const void *buf, size_t len, struct gui_motion *ret);
int
proto_gui_crossing_parse(const void *buf, size_t len, struct gui_crossing *ret);
int proto_gui_focus_parse(const void *buf, size_t len, struct gui_focus *ret);
int proto_gui_keymap_notify_parse(
    const void *buf, size_t len, struct gui_keymap_notify *ret);
int proto_gui_frame_done_parse(
    const void *buf, size_t len, struct gui_frame_done *ret);

/* Agent -> GUI domain. */
/* CREATE: |x| <= GUI_MAX_WIDTH, |y| <= GUI_MAX_HEIGHT, sizes 1..caps,
 * parent 0 (a subwindow is refused, not ignored), override_redirect 0/1. */
int proto_gui_create_parse(const void *buf, size_t len, struct gui_create *ret);
/* MAP: transient_for 0 or 1..GUI_MAX_WINDOW_ID, override_redirect 0/1.
 * (That it is another, existing window is the caller's check.) */
int proto_gui_map_parse(const void *buf, size_t len, struct gui_map *ret);
/* CONFIGURE (both ways): as CREATE without parent. */
int proto_gui_configure_parse(
    const void *buf, size_t len, struct gui_configure *ret);
/* SHMIMAGE: x, y >= 0, sizes >= 1, x + w <= GUI_MAX_WIDTH,
 * y + h <= GUI_MAX_HEIGHT (clipping to the buffer is the caller's). */
int
proto_gui_shmimage_parse(const void *buf, size_t len, struct gui_shmimage *ret);
/* WMNAME: 128 bytes, a NUL followed only by NULs; before it printable
 * ASCII, or with utf8 strict UTF-8 without control or bidi-override
 * characters.  An empty title is valid. */
int proto_gui_wmname_parse(
    const void *buf, size_t len, bool utf8, struct gui_wmname *ret);
/* WINDOW_HINTS: only GUI_HINT_* flags; a field whose flag is clear is 0;
 * sizes within the caps, increments >= 1, min <= max when both given. */
int proto_gui_window_hints_parse(
    const void *buf, size_t len, struct gui_window_hints *ret);
/* WINDOW_FLAGS (both ways): only GUI_FLAG_* bits, set & unset empty. */
int proto_gui_window_flags_parse(
    const void *buf, size_t len, struct gui_window_flags *ret);
/* WMCLASS: two 64-byte fields as WMNAME's, printable ASCII only. */
int
proto_gui_wmclass_parse(const void *buf, size_t len, struct gui_wmclass *ret);
/* WINDOW_DUMP: type POOL_RANGE, bpp 32, pool 0, and the range inside a
 * pool of pool_size bytes (proto_gui_range_check). */
int proto_gui_window_dump_parse(const void *buf, size_t len, uint64_t pool_size,
    struct gui_window_dump *ret);
/* CURSOR: GUI_CURSOR_DEFAULT, or GUI_CURSOR_X11 + an even glyph below
 * GUI_CURSOR_X11_MAX. */
int proto_gui_cursor_parse(const void *buf, size_t len, struct gui_cursor *ret);
/* POOL: pool 0, 1..GUI_POOL_MAX / GUI_PAGE_SIZE pages.  The fd that came
 * with it is checked by gui_pool_check() against this size. */
int proto_gui_pool_parse(const void *buf, size_t len, struct gui_pool *ret);

/* Both ways. */
/* CLIPBOARD_DATA: at most limit + 1 bytes (limit + 1 = too big); ret
 * borrows buf. */
int proto_gui_clipboard_data_parse(
    const void *buf, size_t len, uint32_t limit, struct gui_clipboard *ret);
/* ERROR: a code of enum gui_error_code; a reason of 1..123 printable ASCII
 * characters, NUL-terminated, NUL-padded. */
int proto_gui_error_parse(const void *buf, size_t len, struct gui_error *ret);
/* DESTROY, UNMAP, CLOSE, CLIPBOARD_REQ, WINDOW_DUMP_ACK: empty. */
int proto_gui_empty_parse(const void *buf, size_t len);

/*
 * The pure range check of WINDOW_DUMP: format known, sizes 1..caps,
 * offset a multiple of GUI_PAGE_SIZE, width * 4 <= stride <=
 * GUI_MAX_STRIDE with stride % 4 == 0, and offset + stride * height <=
 * pool_size (64-bit arithmetic; pool_size 0 refuses everything).
 * Returns 0 or -EBADMSG.
 */
int proto_gui_range_check(uint64_t pool_size, uint32_t offset, uint32_t stride,
    uint32_t width, uint32_t height, uint32_t format);

/*
 * A header already accepted by proto_gui_hdr_parse() and its body: the
 * body's validator, plus the checks that need the header (MAP's
 * transient_for is not the window itself).  Fills *ret (CLIPBOARD_DATA
 * borrows body).  0 or -EBADMSG.
 */
int proto_gui_msg_parse(const struct gui_hdr *hdr, const void *body, size_t len,
    enum gui_dir dir, const struct gui_params *params, struct gui_msg *ret);

/* The type's name for log lines ("CREATE"), or "?" for an unknown one. */
const char *proto_gui_type_name(uint32_t type);
/* The fixed body size of a known type, or -1 for CLIPBOARD_DATA's
 * variable one or an unknown type. */
int proto_gui_type_size(uint32_t type);

/* ---- phases and the permit table (STYLE 2.6) ---- */

enum gui_phase {
	GUI_PHASE_VERSION = 0, /* the version word, nothing else */
	GUI_PHASE_XCONF,       /* to the agent: the xconf after the version */
	GUI_PHASE_READY,       /* messages */
	GUI_PHASE_DEAD,        /* after an ERROR: nothing */
	GUI_PHASE_MAX
};

/* One direction of one connection, as its reader sees it. */
struct gui_conn {
	enum gui_phase phase;
	bool pool;           /* a pool is attached (WINDOW_DUMP allowed) */
	bool pool_announced; /* POOL was received (once only) */
};

/*
 * Whether type may arrive now on a stream flowing in dir: 0, or -EPROTO.
 * Handshake pseudo types only in their phase; in READY the types of the
 * direction, POOL once and only without a pool, WINDOW_DUMP only with
 * one; ERROR also before READY towards the agent (a refusal); nothing
 * after an ERROR.  Pure.
 */
int
proto_gui_permit(const struct gui_conn *conn, enum gui_dir dir, uint32_t type);
/* The state after an allowed type arrived (phase steps, POOL, ERROR). */
void
proto_gui_permit_note(struct gui_conn *conn, enum gui_dir dir, uint32_t type);

/* ---- the stream reader ---- */

struct gui_reader;

/*
 * A reader for the stream flowing in dir.  params is copied (clipboard
 * limit GUI_CLIPBOARD_MIN..MAX, else -EINVAL); the one buffer is sized
 * from that trusted limit here, never from a peer's length.  0 and
 * *ret, or -EINVAL / -ENOMEM.  Free with gui_reader_free (NULL is fine).
 */
int gui_reader_new(
    enum gui_dir dir, const struct gui_params *params, struct gui_reader **ret);
void gui_reader_free(struct gui_reader *r);

/* The pool is attached (its fd checked by gui_pool_check): size bytes,
 * 1..GUI_POOL_MAX, a multiple of GUI_PAGE_SIZE.  0 or -EINVAL. */
int gui_reader_set_pool(struct gui_reader *r, uint64_t size);

/*
 * Take bytes of the stream: takes what the message in progress needs
 * (*ret_used, up to len) and returns 1 with a validated *ret_msg when
 * one is complete (a CLIPBOARD_DATA's bytes stay valid until the next
 * call), 0 when all of len was taken without completing one, or a
 * negative errno: -EBADMSG (malformed), -EPROTO (not allowed now); the
 * error is sticky and gui_reader_error() says why.  Call again with the
 * rest after a 1.
 */
int gui_reader_feed(struct gui_reader *r, const void *untrusted_data,
    size_t len, size_t *ret_used, struct gui_msg *ret_msg);

/* Why the reader failed (a static string), or NULL. */
const char *gui_reader_error(const struct gui_reader *r);
/* The type the failure concerns (0 if none). */
uint32_t gui_reader_error_type(const struct gui_reader *r);
/* The connection state the reader keeps (phase, pool). */
const struct gui_conn *gui_reader_conn(const struct gui_reader *r);

#endif
