/*
 * agent.h - bulkhead-gui-agent (issue #8): a small Wayland compositor
 * inside a qube that shows its clients' windows through the GUI domain.
 *
 * One process, run as the qube's user, single-threaded around one
 * wl_event_loop.  Two kinds of peers:
 *   - Wayland clients of the qube (same trust as the agent: a bad
 *     request ends that client, never the agent);
 *   - the GUI domain on --gui-socket (more trusted than the qube, but
 *     its bytes are still validated with proto_gui_* via gui_reader).
 *
 * Modules: wl.c (globals, surfaces, xdg-shell, seat, data device),
 * conn.c (the GUI connection: handshake, framing, dispatch), pool.c (the
 * shared pool and its page allocator), main.c (options).
 */
#ifndef BULKHEAD_GUI_AGENT_H
#define BULKHEAD_GUI_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pixman.h>
#include <wayland-server-core.h>
#include <xkbcommon/xkbcommon.h>

#include "lib/proto/gui.h"

/* Outgoing GUI bytes that may wait for the socket; more drops the link. */
#define AGENT_OUTBUF_MAX   (16u * 1024 * 1024)
#define AGENT_MAX_TITLE    127u /* WMNAME bytes before the NUL */
#define AGENT_MAX_PENDING  4u   /* ranges waiting for WINDOW_DUMP_ACK */
#define AGENT_CLIP_TIMEOUT 2000 /* ms to read a client's selection */

/*
 * The agent's pace.  The GUI domain ends a qube's connection that sends
 * more than GUI_MAX_MSGS_PER_SEC messages in a second, and frame
 * callbacks alone do not keep a fast client below that (FRAME_DONE comes
 * as fast as the GUI domain goes).  So the agent spends from a token
 * bucket for every message it sends, refilled at AGENT_UPDATE_RATE a
 * second up to AGENT_UPDATE_BURST.  While it is empty, what repeats — a
 * window's image updates (merged into one box) and title — is held back,
 * and the window's frame callbacks wait with them; any other message
 * (windows made, moved, mapped, gone, the clipboard) waits for a token,
 * the agent pausing meanwhile.  Any second then holds at most rate +
 * burst messages (16000 by default), under the GUI domain's 20000.
 */
#define AGENT_UPDATE_RATE        (GUI_MAX_MSGS_PER_SEC / 4 * 3) /* a second */
#define AGENT_UPDATE_BURST(rate) ((rate) / 15 + 1)

/* A range of pages of the pool. */
struct pool_range {
	uint32_t first; /* page index */
	uint32_t pages; /* 0: none */
};

struct pool {
	int fd;        /* -1 with an external pool */
	bool external; /* the admin side's (a VM's ivshmem): no POOL sent */
	uint8_t *map;  /* read-write, the agent's own */
	size_t size;
	uint32_t npages;
	uint8_t *used; /* one byte a page */
};

/* pool.c */
int pool_init(struct pool *p, size_t size);
/* The pool is the memory behind fd (a VM's ivshmem BAR, which the admin
 * side shares with the GUI domain): mapped read-write, all of it. */
int pool_init_external(struct pool *p, int fd);
void pool_fini(struct pool *p);
/* First fit: 0 and *ret, or -ENOSPC. */
int pool_alloc(struct pool *p, size_t bytes, struct pool_range *ret);
void pool_release(struct pool *p, struct pool_range *r);

enum surf_role {
	ROLE_NONE = 0,
	ROLE_TOPLEVEL,
	ROLE_POPUP,
	ROLE_MAX
};

struct positioner {
	int32_t w, h;
	int32_t ax, ay, aw, ah; /* anchor rectangle */
	uint32_t anchor, gravity;
	int32_t ox, oy;
};

/* One wl_surface and, once it has a role and a buffer, its window. */
struct surf {
	struct agent *ag;
	struct wl_resource *resource;
	struct wl_list link; /* agent.surfaces */

	/* pending state (wl_surface requests before commit) */
	struct wl_resource *pending_buffer;
	struct wl_listener pending_buffer_destroy;
	bool pending_attached;
	pixman_region32_t pending_damage; /* surface = buffer coordinates */
	struct wl_list pending_frames;    /* wl_callback resources */
	struct wl_list frames;            /* committed, wait for FRAME_DONE */
	/* an image sent since the last FRAME_DONE: the next frame's
	 * callbacks wait for it (a client runs one frame ahead at most) */
	bool image_unacked;
	/* held for the agent's pace (AGENT_UPDATE_RATE): damage not yet
	 * sent (held_box, window coordinates), a title not yet sent */
	bool image_held, title_held;
	pixman_box32_t held_box;

	enum surf_role role;
	struct wl_resource *xdg_surface;
	struct wl_resource *role_resource; /* xdg_toplevel or xdg_popup */
	struct surf *parent;               /* popups */
	int32_t popup_x, popup_y;          /* relative to the parent */
	bool configure_sent;
	char *title, *app_id;

	/* the protocol window: id 0 until the first buffer */
	uint32_t id;
	int32_t x, y;
	uint32_t w, h, format;
	struct pool_range range;
	struct pool_range pending_free[AGENT_MAX_PENDING];
	uint32_t npending_free;
};

struct agent {
	struct wl_display *display;
	struct wl_event_loop *loop;
	struct wl_list surfaces;
	struct wl_list keyboards, pointers, data_devices; /* resource links */
	uint32_t ncreated;                                /* cascade */

	struct xkb_context *xkb;
	struct xkb_keymap *keymap;
	struct xkb_state *xkb_state;
	/* X keycodes this agent has pressed and not released (bit n:
	 * keycode n), for KEYMAP_NOTIFY */
	uint8_t keys_down[32];
	int keymap_fd;
	size_t keymap_size;

	struct pool pool;

	/* window ids: 0 free, 1 live, 2 waiting for DESTROY's ack */
	uint8_t id_state[GUI_MAX_WINDOW_ID + 1];
	struct surf *windows[GUI_MAX_WINDOW_ID + 1];
	uint32_t next_id;

	struct surf *kb_focus, *ptr_focus;

	/* the selection: a client's source, or the GUI domain's bytes */
	struct wl_resource *sel_source;
	struct wl_listener sel_source_destroy;
	uint8_t *sel_data;
	size_t sel_len;
	bool sel_own;
	uint32_t sel_gen;

	/* a CLIPBOARD_REQ in progress */
	int clip_fd;
	struct wl_event_source *clip_src, *clip_timer;
	uint8_t *clip_buf;
	size_t clip_len;
	uint32_t clip_limit;

	/* the GUI connection */
	char listen_path[108];
	int listen_fd;
	struct wl_event_source *listen_src;
	int gui_fd;
	struct wl_event_source *gui_src;
	struct gui_reader *reader;
	bool gui_ready; /* handshake done, POOL sent */
	uint8_t *out;
	size_t out_len, out_cap;
	ssize_t out_fd_at; /* offset of the POOL frame that carries the fd */
	uint32_t screen_w, screen_h;

	/* the pace: a token bucket, in thousandths of a message */
	uint32_t update_rate; /* a second (--max-updates) */
	int64_t budget;
	uint64_t budget_ms; /* now_ms() of its last refill */
	struct wl_event_source *pace_timer;
};

/* conn.c */
int conn_listen(struct agent *ag, const char *path);
void conn_fini(struct agent *ag);
/* Queue one frame (when connected and ready); errors drop the link. */
void conn_send(struct agent *ag, uint32_t type, uint32_t window,
    const void *body, size_t len);
bool conn_ready(const struct agent *ag);
/* Whether the pace lets one more held-back kind of message go now. */
bool conn_budget_ok(struct agent *ag);
/* The milliseconds until it does (at least 1). */
int conn_budget_wait_ms(struct agent *ag);

/* wl.c */
int wl_init(struct agent *ag, const char *socket_name);
void wl_fini(struct agent *ag);
/* Send a window's whole state (CREATE .. SHMIMAGE) to a new connection. */
void wl_announce(struct agent *ag, struct surf *s);
/* GUI domain input and requests, validated. */
void wl_gui_message(struct agent *ag, const struct gui_msg *m);
/* The GUI connection is gone: ids waiting for acks are free. */
void wl_gui_gone(struct agent *ag);

#endif
