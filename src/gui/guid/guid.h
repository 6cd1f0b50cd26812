/*
 * guid.h - bulkhead-guid, the GUI domain (issue #8): roles, the trusted
 * window model, and the interface between the core and its outputs.
 *
 * Processes (one role each; docs/architecture.md, "GUI domain"):
 *   PROC_GUID_CONNECTOR  root; asks bulkheadd which qubes run and their
 *                        labels, connects to each qube's GUI socket and
 *                        checks the peer (SO_PEERCRED) is that qube; hands
 *                        the connected fd to the core.  Reads no qube byte.
 *   PROC_GUID_CORE       the GUI domain's user; focus, stacking, borders,
 *                        titles, clipboard, outputs (VNC, X11).  Reads
 *                        only what validators forward (already valid).
 *   PROC_GUID_VALIDATOR  one a qube, the GUI domain's user, no_new_privs,
 *                        seccomp: the only code that parses a qube's GUI
 *                        bytes (src/lib/proto/gui.c), keeps its window
 *                        table, caps and rate, checks its pool fd.
 *
 * The core trusts the label colour and qube name only from the connector
 * (which got them from bulkheadd), never from a qube.
 */
#ifndef BULKHEAD_GUID_H
#define BULKHEAD_GUID_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/proto/gui.h"

/* Frame drawn by the GUI domain around every window (outputs draw it). */
#define GD_BORDER   2u  /* label-coloured border, pixels, each side */
#define GD_TITLEBAR 18u /* title bar height above the content (VNC) */
#define GD_NAME_MAX 32u /* a qube name, with its NUL */

struct gd;
struct gd_qube;

/* A window, as the core keeps it: every field checked or trusted. */
struct gd_window {
	uint32_t gid;           /* 1.., unique while live (gd_gid_next) */
	struct gd_qube *qube;   /* owner */
	uint32_t wid;           /* the qube's own id, 1..GUI_MAX_WINDOW_ID */
	int32_t x, y;           /* content origin on the screen */
	uint32_t width, height; /* content size */
	bool override_redirect;
	bool mapped;
	uint32_t transient_for; /* gid, or 0 */
	/* the title as the qube set it (validated), without the prefix */
	char title[GUI_TITLE_LEN];
	/* the current buffer, if any: a range of the qube's pool */
	bool has_buffer;
	uint32_t buf_offset, buf_stride, buf_width, buf_height, buf_format;
	uint32_t flags; /* GUI_FLAG_* set */
	/* stacking: a doubly linked list, bottom to top */
	struct gd_window *below, *above;
	void *output_data[2]; /* one slot an output, theirs */
};

/* A qube, as the core keeps it: name and colour from bulkheadd. */
struct gd_qube {
	char name[GD_NAME_MAX];
	uint32_t label_rgb; /* 0xRRGGBB */
	char label[GD_NAME_MAX];
	const uint8_t *pool; /* read-only mapping, or NULL */
	size_t pool_size;
	int pool_fd; /* -1: none */
};

/* Pixels of w's buffer (first row), or NULL when it has none.  Rows are
 * w->buf_stride bytes apart; 32-bit XRGB/ARGB little-endian. */
const uint8_t *gd_window_pixels(const struct gd_window *w);

/* ---- what outputs are told (all optional, NULL skips) ---- */
struct gd_output_ops {
	const char *name;
	/* w became visible / changed geometry, title or flags / hidden */
	void (*window_map)(void *out, struct gd_window *w);
	void (*window_configure)(void *out, struct gd_window *w);
	void (*window_title)(void *out, struct gd_window *w);
	void (*window_unmap)(void *out, struct gd_window *w);
	/* w is destroyed after this returns: drop output_data */
	void (*window_destroy)(void *out, struct gd_window *w);
	/* pixels of w's buffer changed in this rectangle (buffer
	 * coordinates, already clipped to the buffer); also after a new
	 * buffer (whole rectangle) */
	void (*window_damage)(void *out, struct gd_window *w, uint32_t x,
	    uint32_t y, uint32_t width, uint32_t height);
	/* stacking order changed (w raised) */
	void (*window_raise)(void *out, struct gd_window *w);
	/* focus moved to w (NULL: none) */
	void (*focus)(void *out, struct gd_window *w);
	/* a short notice for the user (clipboard, a qube's GUI killed) */
	void (*notice)(void *out, const char *text);
	/* end of a batch of changes: present now */
	void (*flush)(void *out);
	/* the fds to poll for the output's own events (at most max, POLLIN
	 * set by the output): returns how many it wrote; dispatch() is called
	 * after every poll that returned one of them readable (or timed
	 * out), and does not block */
	int (*fill_pollfds)(void *out, struct pollfd *pfd, int max);
	void (*dispatch)(void *out);
	void (*free)(void *out);
};

/* ---- what outputs call (input; the core routes it) ---- */

/* Focus w (NULL: nothing).  Raises it.  Sends FOCUS out/in. */
void gd_set_focus(struct gd *g, struct gd_window *w);
struct gd_window *gd_focused(struct gd *g);
/* Stacking, bottom to top (mapped and unmapped). */
struct gd_window *gd_bottom(struct gd *g);
struct gd_window *gd_top(struct gd *g);
struct gd_window *gd_window_by_gid(struct gd *g, uint32_t gid);
/* The topmost mapped window whose frame or content contains screen point
 * (sx, sy), given the frame an output draws (border, titlebar). */
struct gd_window *gd_window_at(
    struct gd *g, int32_t sx, int32_t sy, uint32_t border, uint32_t titlebar);

/*
 * A key, as an X keycode (evdev code + 8) and X modifier state, to the
 * focused window's qube; Ctrl-Shift-C / Ctrl-Shift-V (the secure copy and
 * paste) are taken by the core and never forwarded.  A press with no
 * focused window is dropped.
 */
void gd_key(struct gd *g, uint32_t keycode, bool press, uint32_t state);
/* Pointer, window-relative coordinates, to w's qube. */
void gd_motion(
    struct gd *g, struct gd_window *w, int32_t x, int32_t y, uint32_t state);
void gd_button(struct gd *g, struct gd_window *w, int32_t x, int32_t y,
    uint32_t button, bool press, uint32_t state);
void gd_crossing(
    struct gd *g, struct gd_window *w, bool enter, int32_t x, int32_t y);
/*
 * The output out can show nothing more (its X server went away): the core
 * frees it once the current dispatch is over.  With no output left the GUI
 * domain has nothing to show and stops (gd_run returns -ENOTCONN, the
 * process exits 1); the qubes' agents wait for the next one.
 */
void gd_output_lost(struct gd *g, void *out);
/* The user asked to close w (CLOSE to its qube). */
void gd_close(struct gd *g, struct gd_window *w);
/* The user moved/resized w (an output's frame drag, an X configure):
 * CONFIGURE to the qube. */
void gd_configure(struct gd *g, struct gd_window *w, int32_t x, int32_t y,
    uint32_t width, uint32_t height);

/* X modifier bits in state (X11 values). */
#define GD_STATE_SHIFT   (1u << 0)
#define GD_STATE_LOCK    (1u << 1)
#define GD_STATE_CONTROL (1u << 2)
#define GD_STATE_MOD1    (1u << 3)
/* evdev codes of the two secure-clipboard keys (+8 for X keycodes) */
#define GD_KEY_C 46u
#define GD_KEY_V 47u

/* ---- outputs ---- */
struct gd_output_opts {
	uint32_t width, height;   /* the screen */
	const char *vnc_listen;   /* VNC: address, default 127.0.0.1 */
	int vnc_port;             /* VNC: port (5900 + display) */
	int vnc_ws_port;          /* VNC: WebSocket port, 0: off */
	const char *vnc_http_dir; /* VNC: noVNC files to serve, or NULL */
	const char *x11_display;  /* X11: display name, NULL: $DISPLAY */
	/* X11: a connection made before the core dropped its privileges
	 * (gd_output_x11_connect), taken over by gd_output_x11_new; NULL:
	 * it connects to x11_display itself */
	struct xcb_connection_t *x11_conn;
	int x11_screen;
};

/* Each returns 0 and *ret_out (the output's state), or -errno with a
 * message in err.  out is passed back to every op. */
int gd_output_vnc_new(struct gd *g, const struct gd_output_opts *o,
    const struct gd_output_ops **ret_ops, void **ret_out, char *err,
    size_t errlen);
/* Connect to display (NULL: $DISPLAY) with the caller's credentials
 * and $XAUTHORITY: 0 and the connection and screen number, or -errno
 * with a message in err. */
int gd_output_x11_connect(const char *display, struct xcb_connection_t **ret_c,
    int *ret_screen, char *err, size_t errlen);
int gd_output_x11_new(struct gd *g, const struct gd_output_opts *o,
    const struct gd_output_ops **ret_ops, void **ret_out, char *err,
    size_t errlen);

#endif
