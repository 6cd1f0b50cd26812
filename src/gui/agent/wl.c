/*
 * wl.c - bulkhead-gui-agent's Wayland side (issue #8): the globals
 * (wl_compositor, wl_shm, xdg_wm_base, wl_seat, wl_output,
 * wl_data_device_manager), surfaces and their windows, input from the GUI
 * domain, frame callbacks and the clipboard.
 *
 * Runs in bulkhead-gui-agent as the qube's user.  Wayland clients are of
 * the same qube and trust as the agent: their requests are checked only
 * as far as needed not to crash or to send the GUI domain something its
 * validator refuses (titles are made printable ASCII, sizes capped).
 * GUI domain messages arrive here already validated (conn.c); window ids
 * in them are looked up, never trusted to exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/input-event-codes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-server.h>

#include "agent.h"
#include "keymap-us.h"
#include "lib/log.h"
#include "lib/util.h"
#include "xdg-shell-server-protocol.h"

#define MAX_MIMES 16

struct dsrc {
	struct agent *ag;
	char *mimes[MAX_MIMES];
	uint32_t nmimes;
};

struct doffer {
	struct agent *ag;
	uint32_t gen;
};

static const char *const text_mimes[] = {
    "text/plain;charset=utf-8", "text/plain", "UTF8_STRING", "TEXT", "STRING"};

static uint32_t
now_msec(void)
{
	return (uint32_t)now_ms();
}

static struct surf *
surf_from(struct wl_resource *r)
{
	return wl_resource_get_user_data(r);
}

static bool
same_client(struct wl_resource *a, struct surf *s)
{
	return s != NULL &&
	    wl_resource_get_client(a) == wl_resource_get_client(s->resource);
}

/* ---- frame callbacks ---- */

static void
frames_fire(struct wl_list *list)
{
	struct wl_resource *cb, *tmp;

	wl_resource_for_each_safe(cb, tmp, list)
	{
		wl_callback_send_done(cb, now_msec());
		wl_resource_destroy(cb);
	}
}

static void
callback_destroy(struct wl_resource *r)
{
	wl_list_remove(wl_resource_get_link(r));
}

/* ---- messages about a window ---- */

static void
sanitize(char *dst, size_t dstlen, const char *src)
{
	size_t i;

	memset(dst, 0, dstlen);
	if (src == NULL)
		return;
	/* The validator refuses, never repairs: we repair here, in the
	 * qube, where rewriting our own client's string is harmless. */
	for (i = 0; i + 1 < dstlen && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '_';
	}
}

static void
send_wmname(struct agent *ag, struct surf *s)
{
	struct gui_wmname n;

	sanitize(n.wmname_data, AGENT_MAX_TITLE + 1, s->title);
	conn_send(ag, GUI_MSG_WMNAME, s->id, &n, sizeof(n));
}

static void
send_wmclass(struct agent *ag, struct surf *s)
{
	struct gui_wmclass c;

	sanitize(c.wmclass_res_class, sizeof(c.wmclass_res_class), s->app_id);
	sanitize(c.wmclass_res_name, sizeof(c.wmclass_res_name), s->app_id);
	conn_send(ag, GUI_MSG_WMCLASS, s->id, &c, sizeof(c));
}

static void
send_dump(struct agent *ag, struct surf *s)
{
	struct gui_window_dump d = {
	    .dump_type = GUI_DUMP_POOL_RANGE,
	    .dump_width = s->w,
	    .dump_height = s->h,
	    .dump_bpp = GUI_DUMP_BPP,
	    .dump_pool_id = 0,
	    .dump_offset = s->range.first * GUI_PAGE_SIZE,
	    .dump_stride = s->w * 4,
	    .dump_format = s->format,
	};

	conn_send(ag, GUI_MSG_WINDOW_DUMP, s->id, &d, sizeof(d));
}

static void
send_image(struct agent *ag, struct surf *s, int32_t x, int32_t y, uint32_t w,
    uint32_t h)
{
	struct gui_shmimage i = {x, y, w, h};

	conn_send(ag, GUI_MSG_SHMIMAGE, s->id, &i, sizeof(i));
}

static void
send_configure(struct agent *ag, struct surf *s)
{
	struct gui_configure c = {
	    s->x, s->y, s->w, s->h, s->role == ROLE_POPUP ? 1u : 0u};

	conn_send(ag, GUI_MSG_CONFIGURE, s->id, &c, sizeof(c));
}

/* ---- the pace (agent.h, AGENT_UPDATE_RATE) ---- */

static void
pace_arm(struct agent *ag)
{
	if (ag->pace_timer != NULL)
		(void)wl_event_source_timer_update(
		    ag->pace_timer, conn_budget_wait_ms(ag));
}

/* A window's damage: sent now, or merged into what is held back. */
static void
window_damage(struct agent *ag, struct surf *s, int32_t x1, int32_t y1,
    int32_t x2, int32_t y2)
{
	if (s->image_held) {
		s->held_box.x1 = x1 < s->held_box.x1 ? x1 : s->held_box.x1;
		s->held_box.y1 = y1 < s->held_box.y1 ? y1 : s->held_box.y1;
		s->held_box.x2 = x2 > s->held_box.x2 ? x2 : s->held_box.x2;
		s->held_box.y2 = y2 > s->held_box.y2 ? y2 : s->held_box.y2;
	} else if (conn_budget_ok(ag)) {
		send_image(
		    ag, s, x1, y1, (uint32_t)(x2 - x1), (uint32_t)(y2 - y1));
		return;
	} else {
		s->held_box = (pixman_box32_t){x1, y1, x2, y2};
		s->image_held = true;
	}
	pace_arm(ag);
}

/* Whatever the window's state says is sent: nothing of it is held. */
static void
held_clear(struct surf *s)
{
	s->image_held = false;
	s->title_held = false;
}

/* What was held back goes, as far as the budget allows: titles, then
 * images, whose frame callbacks then follow the usual rule. */
static int
pace_flush(void *data)
{
	struct agent *ag = data;
	struct surf *s;
	bool more = false;

	wl_list_for_each(s, &ag->surfaces, link)
	{
		if (!conn_ready(ag) || s->id == 0) {
			held_clear(s);
			continue;
		}
		if (s->title_held) {
			if (!conn_budget_ok(ag)) {
				more = true;
				continue;
			}
			s->title_held = false;
			send_wmname(ag, s);
		}
		if (s->image_held) {
			if (!conn_budget_ok(ag)) {
				more = true;
				continue;
			}
			s->image_held = false;
			send_image(ag, s, s->held_box.x1, s->held_box.y1,
			    (uint32_t)(s->held_box.x2 - s->held_box.x1),
			    (uint32_t)(s->held_box.y2 - s->held_box.y1));
			if (!s->image_unacked) {
				s->image_unacked = true;
				frames_fire(&s->frames);
			}
		}
	}
	if (more)
		pace_arm(ag);
	return 0;
}

void
wl_announce(struct agent *ag, struct surf *s)
{
	uint32_t orr = s->role == ROLE_POPUP ? 1u : 0u;
	struct gui_create c = {s->x, s->y, s->w, s->h, 0, orr};
	struct gui_map m = {0, orr};

	if (s->role == ROLE_POPUP && s->parent != NULL && s->parent->id != 0 &&
	    s->parent->id != s->id)
		m.map_transient_for = s->parent->id;
	held_clear(s);
	conn_send(ag, GUI_MSG_CREATE, s->id, &c, sizeof(c));
	if (s->role == ROLE_TOPLEVEL) {
		send_wmname(ag, s);
		send_wmclass(ag, s);
	}
	conn_send(ag, GUI_MSG_MAP, s->id, &m, sizeof(m));
	send_dump(ag, s);
	send_image(ag, s, 0, 0, s->w, s->h);
}

/* ---- keyboard and pointer focus ---- */

static void send_selection_to(struct agent *ag, struct wl_client *client);

static void
kb_send_modifiers(struct agent *ag, struct wl_resource *kb)
{
	wl_keyboard_send_modifiers(kb, wl_display_next_serial(ag->display),
	    xkb_state_serialize_mods(ag->xkb_state, XKB_STATE_MODS_DEPRESSED),
	    xkb_state_serialize_mods(ag->xkb_state, XKB_STATE_MODS_LATCHED),
	    xkb_state_serialize_mods(ag->xkb_state, XKB_STATE_MODS_LOCKED),
	    xkb_state_serialize_layout(
	        ag->xkb_state, XKB_STATE_LAYOUT_EFFECTIVE));
}

static void
kb_leave(struct agent *ag)
{
	struct wl_resource *kb;
	struct surf *s = ag->kb_focus;

	if (s == NULL)
		return;
	ag->kb_focus = NULL;
	wl_resource_for_each(kb, &ag->keyboards)
	{
		if (same_client(kb, s))
			wl_keyboard_send_leave(kb,
			    wl_display_next_serial(ag->display), s->resource);
	}
}

static void
kb_enter(struct agent *ag, struct surf *s)
{
	struct wl_resource *kb;
	struct wl_array keys;

	if (ag->kb_focus == s)
		return;
	kb_leave(ag);
	ag->kb_focus = s;
	wl_array_init(&keys);
	wl_resource_for_each(kb, &ag->keyboards)
	{
		if (!same_client(kb, s))
			continue;
		wl_keyboard_send_enter(kb, wl_display_next_serial(ag->display),
		    s->resource, &keys);
		kb_send_modifiers(ag, kb);
	}
	wl_array_release(&keys);
	send_selection_to(ag, wl_resource_get_client(s->resource));
}

static void
ptr_frame(struct wl_resource *p)
{
	if (wl_resource_get_version(p) >= WL_POINTER_FRAME_SINCE_VERSION)
		wl_pointer_send_frame(p);
}

static void
ptr_leave(struct agent *ag)
{
	struct wl_resource *p;
	struct surf *s = ag->ptr_focus;

	if (s == NULL)
		return;
	ag->ptr_focus = NULL;
	wl_resource_for_each(p, &ag->pointers)
	{
		if (!same_client(p, s))
			continue;
		wl_pointer_send_leave(
		    p, wl_display_next_serial(ag->display), s->resource);
		ptr_frame(p);
	}
}

/* Pointer at x, y of s: enter (if it was elsewhere) or motion. */
static void
ptr_at(struct agent *ag, struct surf *s, int32_t x, int32_t y)
{
	wl_fixed_t fx = wl_fixed_from_int(x), fy = wl_fixed_from_int(y);
	struct wl_resource *p;
	bool enter = ag->ptr_focus != s;

	if (enter)
		ptr_leave(ag);
	ag->ptr_focus = s;
	wl_resource_for_each(p, &ag->pointers)
	{
		if (!same_client(p, s))
			continue;
		if (enter)
			wl_pointer_send_enter(p,
			    wl_display_next_serial(ag->display), s->resource,
			    fx, fy);
		else
			wl_pointer_send_motion(p, now_msec(), fx, fy);
		ptr_frame(p);
	}
}

/* ---- windows ---- */

static int
id_alloc(struct agent *ag, uint32_t *ret)
{
	uint32_t i, id;

	for (i = 0; i < GUI_MAX_WINDOW_ID; i++) {
		id = (ag->next_id + i) % GUI_MAX_WINDOW_ID + 1;
		if (ag->id_state[id] == 0) {
			ag->id_state[id] = 1;
			ag->next_id = id;
			*ret = id;
			return 0;
		}
	}
	return -ENOSPC;
}

static void
window_destroy(struct agent *ag, struct surf *s)
{
	uint32_t i;

	if (s->id == 0)
		return;
	if (ag->kb_focus == s)
		kb_leave(ag);
	if (ag->ptr_focus == s)
		ptr_leave(ag);
	if (conn_ready(ag)) {
		conn_send(ag, GUI_MSG_UNMAP, s->id, NULL, 0);
		conn_send(ag, GUI_MSG_DESTROY, s->id, NULL, 0);
	}
	/* conn_send may have dropped the link: then the id is free now. */
	ag->id_state[s->id] = conn_ready(ag) ? 2 : 0;
	ag->windows[s->id] = NULL;
	log_debug("window %u destroyed", s->id);
	s->id = 0;
	/* The pages may be reused at once: the GUI domain stops reading
	 * them at DESTROY, and stale pixels of this qube are this qube's. */
	pool_release(&ag->pool, &s->range);
	for (i = 0; i < s->npending_free; i++)
		pool_release(&ag->pool, &s->pending_free[i]);
	s->npending_free = 0;
	s->image_unacked = false;
	held_clear(s);
	frames_fire(&s->frames);
}

static void
copy_rect(struct agent *ag, struct surf *s, struct wl_shm_buffer *shm,
    int32_t x, int32_t y, int32_t w, int32_t h)
{
	int32_t stride = wl_shm_buffer_get_stride(shm);
	uint8_t *dst = ag->pool.map + (size_t)s->range.first * GUI_PAGE_SIZE;
	const uint8_t *src;
	int32_t row;

	wl_shm_buffer_begin_access(shm);
	src = wl_shm_buffer_get_data(shm);
	for (row = y; row < y + h; row++)
		memcpy(dst + (size_t)row * s->w * 4 + (size_t)x * 4,
		    src + (size_t)row * (size_t)stride + (size_t)x * 4,
		    (size_t)w * 4);
	wl_shm_buffer_end_access(shm);
}

static void
window_position(struct agent *ag, struct surf *s)
{
	if (s->role == ROLE_POPUP && s->parent != NULL) {
		s->x = s->parent->x + s->popup_x;
		s->y = s->parent->y + s->popup_y;
	} else {
		s->x = (int32_t)(40 + 30 * (ag->ncreated % 16));
		s->y = (int32_t)(40 + 30 * (ag->ncreated % 16));
		ag->ncreated++;
	}
	if (s->x < -(int32_t)GUI_MAX_WIDTH)
		s->x = -(int32_t)GUI_MAX_WIDTH;
	if (s->x > (int32_t)GUI_MAX_WIDTH)
		s->x = (int32_t)GUI_MAX_WIDTH;
	if (s->y < -(int32_t)GUI_MAX_HEIGHT)
		s->y = -(int32_t)GUI_MAX_HEIGHT;
	if (s->y > (int32_t)GUI_MAX_HEIGHT)
		s->y = (int32_t)GUI_MAX_HEIGHT;
}

/*
 * A buffer was committed on a surface with a role: show it.  Returns
 * true if SHMIMAGE was sent (then frame callbacks wait for FRAME_DONE).
 */
static bool
window_update(struct agent *ag, struct surf *s, struct wl_resource *buffer,
    const pixman_box32_t *dmg)
{
	struct wl_shm_buffer *shm = wl_shm_buffer_get(buffer);
	struct pool_range nr;
	int32_t w, h, x1, y1, x2, y2;
	uint32_t fmt, id;
	bool fresh;

	if (shm == NULL) {
		log_warnx("window: a non-shm buffer, ignoring");
		return false;
	}
	w = wl_shm_buffer_get_width(shm);
	h = wl_shm_buffer_get_height(shm);
	switch (wl_shm_buffer_get_format(shm)) {
	case WL_SHM_FORMAT_ARGB8888:
		fmt = GUI_FORMAT_ARGB8888;
		break;
	case WL_SHM_FORMAT_XRGB8888:
		fmt = GUI_FORMAT_XRGB8888;
		break;
	default:
		log_warnx("window: shm format 0x%x unsupported, ignoring",
		    wl_shm_buffer_get_format(shm));
		return false;
	}
	if (w < 1 || h < 1 || w > (int32_t)GUI_MAX_WIDTH ||
	    h > (int32_t)GUI_MAX_HEIGHT) {
		log_warnx("window: buffer %dx%d too large, ignoring", w, h);
		return false;
	}
	fresh = s->id == 0;
	if (fresh || (uint32_t)w != s->w || (uint32_t)h != s->h ||
	    fmt != s->format) {
		if (!fresh && s->npending_free == AGENT_MAX_PENDING) {
			log_debug("window %u: resize waits for acks", s->id);
			return false;
		}
		if (pool_alloc(&ag->pool, (size_t)w * (size_t)h * 4, &nr) < 0) {
			log_warnx(
			    "window: pool full for %dx%d, not shown", w, h);
			return false;
		}
		if (fresh) {
			if (id_alloc(ag, &id) < 0) {
				log_warnx("window: no free window id");
				pool_release(&ag->pool, &nr);
				return false;
			}
			s->id = id;
			ag->windows[id] = s;
			window_position(ag, s);
		} else if (conn_ready(ag)) {
			s->pending_free[s->npending_free++] = s->range;
		} else {
			pool_release(&ag->pool, &s->range);
		}
		s->range = nr;
		s->w = (uint32_t)w;
		s->h = (uint32_t)h;
		s->format = fmt;
		copy_rect(ag, s, shm, 0, 0, w, h);
		if (!conn_ready(ag))
			return false;
		if (fresh) {
			log_debug("window %u: %dx%d", s->id, w, h);
			wl_announce(ag, s);
		} else {
			s->image_held = false; /* all of it goes now */
			send_dump(ag, s);
			send_configure(ag, s);
			send_image(ag, s, 0, 0, s->w, s->h);
		}
		return conn_ready(ag);
	}
	x1 = dmg->x1 < 0 ? 0 : dmg->x1;
	y1 = dmg->y1 < 0 ? 0 : dmg->y1;
	x2 = dmg->x2 > w ? w : dmg->x2;
	y2 = dmg->y2 > h ? h : dmg->y2;
	if (x2 <= x1 || y2 <= y1)
		return false;
	copy_rect(ag, s, shm, x1, y1, x2 - x1, y2 - y1);
	if (!conn_ready(ag))
		return false;
	window_damage(ag, s, x1, y1, x2, y2);
	return conn_ready(ag);
}

/* ---- wl_surface ---- */

static void
surf_pending_buffer_gone(struct wl_listener *l, void *data)
{
	struct surf *s = wl_container_of(l, s, pending_buffer_destroy);

	wl_list_remove(&s->pending_buffer_destroy.link);
	wl_list_init(&s->pending_buffer_destroy.link);
	s->pending_buffer = NULL;
}

static void
surf_set_pending(struct surf *s, struct wl_resource *buffer)
{
	wl_list_remove(&s->pending_buffer_destroy.link);
	wl_list_init(&s->pending_buffer_destroy.link);
	s->pending_buffer = buffer;
	if (buffer != NULL)
		wl_resource_add_destroy_listener(
		    buffer, &s->pending_buffer_destroy);
}

static void
res_destroy(struct wl_client *c, struct wl_resource *r)
{
	wl_resource_destroy(r);
}

static void
surf_attach(struct wl_client *c, struct wl_resource *r,
    struct wl_resource *buffer, int32_t x, int32_t y)
{
	struct surf *s = surf_from(r);

	surf_set_pending(s, buffer);
	s->pending_attached = true;
}

static void
surf_damage(struct wl_client *c, struct wl_resource *r, int32_t x, int32_t y,
    int32_t w, int32_t h)
{
	struct surf *s = surf_from(r);

	/* Scale 1 and no transform: surface and buffer coordinates agree. */
	if (w <= 0 || h <= 0)
		return;
	if (w > (int32_t)GUI_MAX_WIDTH)
		w = GUI_MAX_WIDTH;
	if (h > (int32_t)GUI_MAX_HEIGHT)
		h = GUI_MAX_HEIGHT;
	if (x < 0 || x > (int32_t)GUI_MAX_WIDTH || y < 0 ||
	    y > (int32_t)GUI_MAX_HEIGHT) {
		x = 0;
		y = 0;
		w = GUI_MAX_WIDTH;
		h = GUI_MAX_HEIGHT;
	}
	pixman_region32_union_rect(&s->pending_damage, &s->pending_damage, x, y,
	    (uint32_t)w, (uint32_t)h);
}

static void
surf_frame(struct wl_client *c, struct wl_resource *r, uint32_t id)
{
	struct surf *s = surf_from(r);
	struct wl_resource *cb;

	cb = wl_resource_create(c, &wl_callback_interface, 1, id);
	if (cb == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(cb, NULL, NULL, callback_destroy);
	wl_list_insert(s->pending_frames.prev, wl_resource_get_link(cb));
}

static void
surf_set_region(
    struct wl_client *c, struct wl_resource *r, struct wl_resource *region)
{
	/* Opaque and input regions do not matter to a GUI domain that
	 * shows whole rectangles. */
}

static void
surf_send_first_configure(struct agent *ag, struct surf *s)
{
	struct wl_array states;

	if (s->configure_sent || s->xdg_surface == NULL ||
	    s->role_resource == NULL)
		return;
	s->configure_sent = true;
	if (s->role == ROLE_TOPLEVEL) {
		wl_array_init(&states);
		xdg_toplevel_send_configure(s->role_resource, 0, 0, &states);
		wl_array_release(&states);
	} else {
		xdg_popup_send_configure(
		    s->role_resource, s->popup_x, s->popup_y, 0, 0);
	}
	xdg_surface_send_configure(
	    s->xdg_surface, wl_display_next_serial(ag->display));
}

static void
surf_commit(struct wl_client *c, struct wl_resource *r)
{
	struct surf *s = surf_from(r);
	struct agent *ag = s->ag;
	struct wl_resource *buffer = NULL;
	pixman_box32_t box;
	bool shown = false;

	wl_list_insert_list(&s->frames, &s->pending_frames);
	wl_list_init(&s->pending_frames);
	box = *pixman_region32_extents(&s->pending_damage);
	pixman_region32_clear(&s->pending_damage);
	if (s->pending_attached) {
		buffer = s->pending_buffer;
		surf_set_pending(s, NULL);
		s->pending_attached = false;
		if (buffer == NULL)
			window_destroy(ag, s);
	}
	if (!s->configure_sent) {
		surf_send_first_configure(ag, s);
	} else if (buffer != NULL && s->role_resource != NULL) {
		shown = window_update(ag, s, buffer, &box);
	}
	/* The pixels were copied: the client may reuse the buffer now. */
	if (buffer != NULL)
		wl_buffer_send_release(buffer);
	/*
	 * Frame pacing, one frame ahead: with no image of this window
	 * waiting for FRAME_DONE, the client may draw its next frame at once
	 * (it draws while the GUI domain shows this one: the agent's copy of
	 * the next frame overlaps the output's copy of this one); with one
	 * waiting, its callbacks wait for the GUI domain.  So a client that
	 * follows frame callbacks has at most two images on their way.  A
	 * commit that sent nothing gets its callbacks at once; one whose
	 * image is held back for the pace waits for pace_flush.
	 */
	if (!shown) {
		frames_fire(&s->frames);
	} else if (s->image_held) {
		/* pace_flush sends it, then decides */
	} else if (!s->image_unacked) {
		s->image_unacked = true;
		frames_fire(&s->frames);
	}
}

static void
surf_set_transform(struct wl_client *c, struct wl_resource *r, int32_t t)
{
}

static void
surf_set_scale(struct wl_client *c, struct wl_resource *r, int32_t scale)
{
}

static const struct wl_surface_interface surf_impl = {
    .destroy = res_destroy,
    .attach = surf_attach,
    .damage = surf_damage,
    .frame = surf_frame,
    .set_opaque_region = surf_set_region,
    .set_input_region = surf_set_region,
    .commit = surf_commit,
    .set_buffer_transform = surf_set_transform,
    .set_buffer_scale = surf_set_scale,
    .damage_buffer = surf_damage,
};

static void
surf_free(struct wl_resource *r)
{
	struct surf *s = surf_from(r);
	struct agent *ag = s->ag;
	struct surf *o;
	struct wl_resource *cb, *tmp;

	window_destroy(ag, s);
	if (ag->kb_focus == s)
		ag->kb_focus = NULL;
	if (ag->ptr_focus == s)
		ag->ptr_focus = NULL;
	wl_list_for_each(o, &ag->surfaces, link)
	{
		if (o->parent == s)
			o->parent = NULL;
	}
	if (s->xdg_surface != NULL)
		wl_resource_set_user_data(s->xdg_surface, NULL);
	if (s->role_resource != NULL)
		wl_resource_set_user_data(s->role_resource, NULL);
	wl_resource_for_each_safe(cb, tmp, &s->pending_frames)
	    wl_resource_destroy(cb);
	wl_resource_for_each_safe(cb, tmp, &s->frames) wl_resource_destroy(cb);
	wl_list_remove(&s->pending_buffer_destroy.link);
	pixman_region32_fini(&s->pending_damage);
	wl_list_remove(&s->link);
	free(s->title);
	free(s->app_id);
	free(s);
}

/* ---- wl_region (content ignored) ---- */

static void
region_rect(struct wl_client *c, struct wl_resource *r, int32_t x, int32_t y,
    int32_t w, int32_t h)
{
}

static const struct wl_region_interface region_impl = {
    .destroy = res_destroy,
    .add = region_rect,
    .subtract = region_rect,
};

/* ---- wl_compositor ---- */

static void
comp_create_surface(struct wl_client *c, struct wl_resource *r, uint32_t id)
{
	struct agent *ag = wl_resource_get_user_data(r);
	struct surf *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	s->resource = wl_resource_create(
	    c, &wl_surface_interface, wl_resource_get_version(r), id);
	if (s->resource == NULL) {
		free(s);
		wl_client_post_no_memory(c);
		return;
	}
	s->ag = ag;
	pixman_region32_init(&s->pending_damage);
	wl_list_init(&s->pending_frames);
	wl_list_init(&s->frames);
	wl_list_init(&s->pending_buffer_destroy.link);
	s->pending_buffer_destroy.notify = surf_pending_buffer_gone;
	wl_list_insert(&ag->surfaces, &s->link);
	wl_resource_set_implementation(s->resource, &surf_impl, s, surf_free);
}

static void
comp_create_region(struct wl_client *c, struct wl_resource *r, uint32_t id)
{
	struct wl_resource *reg;

	reg = wl_resource_create(
	    c, &wl_region_interface, wl_resource_get_version(r), id);
	if (reg == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(reg, &region_impl, NULL, NULL);
}

static const struct wl_compositor_interface comp_impl = {
    .create_surface = comp_create_surface,
    .create_region = comp_create_region,
};

static void
comp_bind(struct wl_client *c, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *r;

	r = wl_resource_create(c, &wl_compositor_interface, version, id);
	if (r == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(r, &comp_impl, data, NULL);
}

/* ---- xdg_positioner ---- */

static void
pos_free(struct wl_resource *r)
{
	free(wl_resource_get_user_data(r));
}

static void
pos_set_size(struct wl_client *c, struct wl_resource *r, int32_t w, int32_t h)
{
	struct positioner *p = wl_resource_get_user_data(r);

	p->w = w;
	p->h = h;
}

static void
pos_set_anchor_rect(struct wl_client *c, struct wl_resource *r, int32_t x,
    int32_t y, int32_t w, int32_t h)
{
	struct positioner *p = wl_resource_get_user_data(r);

	p->ax = x;
	p->ay = y;
	p->aw = w;
	p->ah = h;
}

static void
pos_set_anchor(struct wl_client *c, struct wl_resource *r, uint32_t a)
{
	struct positioner *p = wl_resource_get_user_data(r);

	p->anchor = a;
}

static void
pos_set_gravity(struct wl_client *c, struct wl_resource *r, uint32_t g)
{
	struct positioner *p = wl_resource_get_user_data(r);

	p->gravity = g;
}

static void
pos_set_constraint(struct wl_client *c, struct wl_resource *r, uint32_t v)
{
}

static void
pos_set_offset(struct wl_client *c, struct wl_resource *r, int32_t x, int32_t y)
{
	struct positioner *p = wl_resource_get_user_data(r);

	p->ox = x;
	p->oy = y;
}

static void
pos_set_reactive(struct wl_client *c, struct wl_resource *r)
{
}

static void
pos_set_parent_size(
    struct wl_client *c, struct wl_resource *r, int32_t w, int32_t h)
{
}

static void
pos_set_parent_configure(
    struct wl_client *c, struct wl_resource *r, uint32_t serial)
{
}

static const struct xdg_positioner_interface pos_impl = {
    .destroy = res_destroy,
    .set_size = pos_set_size,
    .set_anchor_rect = pos_set_anchor_rect,
    .set_anchor = pos_set_anchor,
    .set_gravity = pos_set_gravity,
    .set_constraint_adjustment = pos_set_constraint,
    .set_offset = pos_set_offset,
    .set_reactive = pos_set_reactive,
    .set_parent_size = pos_set_parent_size,
    .set_parent_configure = pos_set_parent_configure,
};

/* The popup's top-left, relative to the parent (no constraint logic). */
static void
pos_place(const struct positioner *p, int32_t *ret_x, int32_t *ret_y)
{
	int32_t x = p->ax + p->aw / 2, y = p->ay + p->ah / 2;

	switch (p->anchor) {
	case XDG_POSITIONER_ANCHOR_TOP:
	case XDG_POSITIONER_ANCHOR_TOP_LEFT:
	case XDG_POSITIONER_ANCHOR_TOP_RIGHT:
		y = p->ay;
		break;
	case XDG_POSITIONER_ANCHOR_BOTTOM:
	case XDG_POSITIONER_ANCHOR_BOTTOM_LEFT:
	case XDG_POSITIONER_ANCHOR_BOTTOM_RIGHT:
		y = p->ay + p->ah;
		break;
	default:
		break;
	}
	switch (p->anchor) {
	case XDG_POSITIONER_ANCHOR_LEFT:
	case XDG_POSITIONER_ANCHOR_TOP_LEFT:
	case XDG_POSITIONER_ANCHOR_BOTTOM_LEFT:
		x = p->ax;
		break;
	case XDG_POSITIONER_ANCHOR_RIGHT:
	case XDG_POSITIONER_ANCHOR_TOP_RIGHT:
	case XDG_POSITIONER_ANCHOR_BOTTOM_RIGHT:
		x = p->ax + p->aw;
		break;
	default:
		break;
	}
	/* Gravity: which way the popup extends from the anchor point. */
	switch (p->gravity) {
	case XDG_POSITIONER_GRAVITY_TOP:
	case XDG_POSITIONER_GRAVITY_TOP_LEFT:
	case XDG_POSITIONER_GRAVITY_TOP_RIGHT:
		y -= p->h;
		break;
	case XDG_POSITIONER_GRAVITY_BOTTOM:
	case XDG_POSITIONER_GRAVITY_BOTTOM_LEFT:
	case XDG_POSITIONER_GRAVITY_BOTTOM_RIGHT:
		break;
	default:
		y -= p->h / 2;
		break;
	}
	switch (p->gravity) {
	case XDG_POSITIONER_GRAVITY_LEFT:
	case XDG_POSITIONER_GRAVITY_TOP_LEFT:
	case XDG_POSITIONER_GRAVITY_BOTTOM_LEFT:
		x -= p->w;
		break;
	case XDG_POSITIONER_GRAVITY_RIGHT:
	case XDG_POSITIONER_GRAVITY_TOP_RIGHT:
	case XDG_POSITIONER_GRAVITY_BOTTOM_RIGHT:
		break;
	default:
		x -= p->w / 2;
		break;
	}
	*ret_x = x + p->ox;
	*ret_y = y + p->oy;
}

/* ---- xdg_toplevel and xdg_popup ---- */

static void
role_free(struct wl_resource *r)
{
	struct surf *s = wl_resource_get_user_data(r);

	if (s == NULL)
		return;
	window_destroy(s->ag, s);
	s->role_resource = NULL;
	s->configure_sent = false;
}

static void
tl_set_parent(
    struct wl_client *c, struct wl_resource *r, struct wl_resource *parent)
{
}

static char *
dup_capped(const char *str)
{
	return strndup(str, AGENT_MAX_TITLE);
}

static void
tl_set_title(struct wl_client *c, struct wl_resource *r, const char *title)
{
	struct surf *s = wl_resource_get_user_data(r);
	char *t;

	if (s == NULL)
		return;
	t = dup_capped(title);
	if (t == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	free(s->title);
	s->title = t;
	if (s->id == 0 || s->title_held)
		return;
	if (conn_ready(s->ag) && !conn_budget_ok(s->ag)) {
		/* the last title goes when the pace allows */
		s->title_held = true;
		pace_arm(s->ag);
		return;
	}
	send_wmname(s->ag, s);
}

static void
tl_set_app_id(struct wl_client *c, struct wl_resource *r, const char *app_id)
{
	struct surf *s = wl_resource_get_user_data(r);
	char *t;

	if (s == NULL)
		return;
	t = dup_capped(app_id);
	if (t == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	free(s->app_id);
	s->app_id = t;
	if (s->id != 0)
		send_wmclass(s->ag, s);
}

static void
tl_show_menu(struct wl_client *c, struct wl_resource *r,
    struct wl_resource *seat, uint32_t serial, int32_t x, int32_t y)
{
}

static void
tl_move(struct wl_client *c, struct wl_resource *r, struct wl_resource *seat,
    uint32_t serial)
{
}

static void
tl_resize(struct wl_client *c, struct wl_resource *r, struct wl_resource *seat,
    uint32_t serial, uint32_t edges)
{
}

static void
tl_set_size(struct wl_client *c, struct wl_resource *r, int32_t w, int32_t h)
{
}

static void
tl_noop(struct wl_client *c, struct wl_resource *r)
{
}

static void
tl_set_fullscreen(
    struct wl_client *c, struct wl_resource *r, struct wl_resource *output)
{
}

static const struct xdg_toplevel_interface tl_impl = {
    .destroy = res_destroy,
    .set_parent = tl_set_parent,
    .set_title = tl_set_title,
    .set_app_id = tl_set_app_id,
    .show_window_menu = tl_show_menu,
    .move = tl_move,
    .resize = tl_resize,
    .set_max_size = tl_set_size,
    .set_min_size = tl_set_size,
    .set_maximized = tl_noop,
    .unset_maximized = tl_noop,
    .set_fullscreen = tl_set_fullscreen,
    .unset_fullscreen = tl_noop,
    .set_minimized = tl_noop,
};

static void
popup_grab(struct wl_client *c, struct wl_resource *r, struct wl_resource *seat,
    uint32_t serial)
{
}

static void
popup_reposition(struct wl_client *c, struct wl_resource *r,
    struct wl_resource *positioner, uint32_t token)
{
}

static const struct xdg_popup_interface popup_impl = {
    .destroy = res_destroy,
    .grab = popup_grab,
    .reposition = popup_reposition,
};

/* ---- xdg_surface ---- */

static void
xs_free(struct wl_resource *r)
{
	struct surf *s = wl_resource_get_user_data(r);

	if (s != NULL)
		s->xdg_surface = NULL;
}

static bool
xs_role_ok(struct wl_resource *r, struct surf *s)
{
	if (s == NULL)
		return false;
	if (s->role_resource != NULL) {
		wl_resource_post_error(r, XDG_SURFACE_ERROR_ALREADY_CONSTRUCTED,
		    "the surface already has a role object");
		return false;
	}
	return true;
}

static void
xs_get_toplevel(struct wl_client *c, struct wl_resource *r, uint32_t id)
{
	struct surf *s = wl_resource_get_user_data(r);
	struct wl_resource *t;

	if (!xs_role_ok(r, s))
		return;
	t = wl_resource_create(
	    c, &xdg_toplevel_interface, wl_resource_get_version(r), id);
	if (t == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(t, &tl_impl, s, role_free);
	s->role = ROLE_TOPLEVEL;
	s->role_resource = t;
}

static void
xs_get_popup(struct wl_client *c, struct wl_resource *r, uint32_t id,
    struct wl_resource *parent, struct wl_resource *positioner)
{
	struct surf *s = wl_resource_get_user_data(r);
	struct positioner *p = wl_resource_get_user_data(positioner);
	struct wl_resource *t;

	if (!xs_role_ok(r, s))
		return;
	t = wl_resource_create(
	    c, &xdg_popup_interface, wl_resource_get_version(r), id);
	if (t == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(t, &popup_impl, s, role_free);
	s->role = ROLE_POPUP;
	s->role_resource = t;
	s->parent = parent != NULL ? wl_resource_get_user_data(parent) : NULL;
	pos_place(p, &s->popup_x, &s->popup_y);
}

static void
xs_set_geometry(struct wl_client *c, struct wl_resource *r, int32_t x,
    int32_t y, int32_t w, int32_t h)
{
}

static void
xs_ack_configure(struct wl_client *c, struct wl_resource *r, uint32_t serial)
{
}

static const struct xdg_surface_interface xs_impl = {
    .destroy = res_destroy,
    .get_toplevel = xs_get_toplevel,
    .get_popup = xs_get_popup,
    .set_window_geometry = xs_set_geometry,
    .ack_configure = xs_ack_configure,
};

/* ---- xdg_wm_base ---- */

static void
wm_create_positioner(struct wl_client *c, struct wl_resource *r, uint32_t id)
{
	struct positioner *p;
	struct wl_resource *pr;

	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	pr = wl_resource_create(
	    c, &xdg_positioner_interface, wl_resource_get_version(r), id);
	if (pr == NULL) {
		free(p);
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(pr, &pos_impl, p, pos_free);
}

static void
wm_get_xdg_surface(struct wl_client *c, struct wl_resource *r, uint32_t id,
    struct wl_resource *surface)
{
	struct surf *s = surf_from(surface);
	struct wl_resource *x;

	if (s->xdg_surface != NULL || s->role_resource != NULL) {
		wl_resource_post_error(r, XDG_WM_BASE_ERROR_ROLE,
		    "the surface already has an xdg_surface");
		return;
	}
	x = wl_resource_create(
	    c, &xdg_surface_interface, wl_resource_get_version(r), id);
	if (x == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(x, &xs_impl, s, xs_free);
	s->xdg_surface = x;
}

static void
wm_pong(struct wl_client *c, struct wl_resource *r, uint32_t serial)
{
}

static const struct xdg_wm_base_interface wm_impl = {
    .destroy = res_destroy,
    .create_positioner = wm_create_positioner,
    .get_xdg_surface = wm_get_xdg_surface,
    .pong = wm_pong,
};

static void
wm_bind(struct wl_client *c, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *r;

	r = wl_resource_create(c, &xdg_wm_base_interface, version, id);
	if (r == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(r, &wm_impl, data, NULL);
}

/* ---- wl_seat ---- */

static void
link_remove(struct wl_resource *r)
{
	wl_list_remove(wl_resource_get_link(r));
}

static void
ptr_set_cursor(struct wl_client *c, struct wl_resource *r, uint32_t serial,
    struct wl_resource *surface, int32_t x, int32_t y)
{
}

static const struct wl_pointer_interface ptr_impl = {
    .set_cursor = ptr_set_cursor,
    .release = res_destroy,
};

static const struct wl_keyboard_interface kb_impl = {
    .release = res_destroy,
};

static const struct wl_touch_interface touch_impl = {
    .release = res_destroy,
};

static void
seat_get_pointer(struct wl_client *c, struct wl_resource *r, uint32_t id)
{
	struct agent *ag = wl_resource_get_user_data(r);
	struct wl_resource *p;

	p = wl_resource_create(
	    c, &wl_pointer_interface, wl_resource_get_version(r), id);
	if (p == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(p, &ptr_impl, ag, link_remove);
	wl_list_insert(&ag->pointers, wl_resource_get_link(p));
}

static void
seat_get_keyboard(struct wl_client *c, struct wl_resource *r, uint32_t id)
{
	struct agent *ag = wl_resource_get_user_data(r);
	struct wl_resource *k;

	k = wl_resource_create(
	    c, &wl_keyboard_interface, wl_resource_get_version(r), id);
	if (k == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(k, &kb_impl, ag, link_remove);
	wl_list_insert(&ag->keyboards, wl_resource_get_link(k));
	wl_keyboard_send_keymap(k, WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1,
	    ag->keymap_fd, (uint32_t)ag->keymap_size);
	if (wl_resource_get_version(k) >= WL_KEYBOARD_REPEAT_INFO_SINCE_VERSION)
		wl_keyboard_send_repeat_info(k, 25, 600);
	if (ag->kb_focus != NULL && same_client(k, ag->kb_focus)) {
		struct wl_array keys;

		wl_array_init(&keys);
		wl_keyboard_send_enter(k, wl_display_next_serial(ag->display),
		    ag->kb_focus->resource, &keys);
		wl_array_release(&keys);
		kb_send_modifiers(ag, k);
	}
}

static void
seat_get_touch(struct wl_client *c, struct wl_resource *r, uint32_t id)
{
	struct wl_resource *t;

	t = wl_resource_create(
	    c, &wl_touch_interface, wl_resource_get_version(r), id);
	if (t == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(t, &touch_impl, NULL, NULL);
}

static const struct wl_seat_interface seat_impl = {
    .get_pointer = seat_get_pointer,
    .get_keyboard = seat_get_keyboard,
    .get_touch = seat_get_touch,
    .release = res_destroy,
};

static void
seat_bind(struct wl_client *c, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *r;

	r = wl_resource_create(c, &wl_seat_interface, version, id);
	if (r == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(r, &seat_impl, data, NULL);
	wl_seat_send_capabilities(
	    r, WL_SEAT_CAPABILITY_POINTER | WL_SEAT_CAPABILITY_KEYBOARD);
	if (version >= WL_SEAT_NAME_SINCE_VERSION)
		wl_seat_send_name(r, "seat0");
}

/* ---- wl_output ---- */

static const struct wl_output_interface output_impl = {
    .release = res_destroy,
};

static void
output_bind(struct wl_client *c, void *data, uint32_t version, uint32_t id)
{
	struct agent *ag = data;
	struct wl_resource *r;

	r = wl_resource_create(c, &wl_output_interface, version, id);
	if (r == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(r, &output_impl, ag, NULL);
	wl_output_send_geometry(r, 0, 0, 0, 0, WL_OUTPUT_SUBPIXEL_UNKNOWN,
	    "bulkhead", "gui", WL_OUTPUT_TRANSFORM_NORMAL);
	wl_output_send_mode(r,
	    WL_OUTPUT_MODE_CURRENT | WL_OUTPUT_MODE_PREFERRED,
	    (int32_t)ag->screen_w, (int32_t)ag->screen_h, 60000);
	if (version >= WL_OUTPUT_SCALE_SINCE_VERSION)
		wl_output_send_scale(r, 1);
	if (version >= WL_OUTPUT_DONE_SINCE_VERSION)
		wl_output_send_done(r);
}

/* ---- the clipboard ---- */

static void
dsrc_offer(struct wl_client *c, struct wl_resource *r, const char *mime)
{
	struct dsrc *d = wl_resource_get_user_data(r);
	char *m;

	if (d->nmimes == MAX_MIMES)
		return;
	m = strdup(mime);
	if (m == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	d->mimes[d->nmimes++] = m;
}

static void
dsrc_set_actions(struct wl_client *c, struct wl_resource *r, uint32_t a)
{
}

static const struct wl_data_source_interface dsrc_impl = {
    .offer = dsrc_offer,
    .destroy = res_destroy,
    .set_actions = dsrc_set_actions,
};

static void
selection_changed(struct agent *ag)
{
	ag->sel_gen++;
	if (ag->kb_focus != NULL)
		send_selection_to(
		    ag, wl_resource_get_client(ag->kb_focus->resource));
}

static void
dsrc_free(struct wl_resource *r)
{
	struct dsrc *d = wl_resource_get_user_data(r);
	struct agent *ag = d->ag;
	uint32_t i;

	if (ag->sel_source == r) {
		ag->sel_source = NULL;
		selection_changed(ag);
	}
	for (i = 0; i < d->nmimes; i++)
		free(d->mimes[i]);
	free(d);
}

static void
ddm_create_source(struct wl_client *c, struct wl_resource *r, uint32_t id)
{
	struct dsrc *d;
	struct wl_resource *s;

	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	d->ag = wl_resource_get_user_data(r);
	s = wl_resource_create(
	    c, &wl_data_source_interface, wl_resource_get_version(r), id);
	if (s == NULL) {
		free(d);
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(s, &dsrc_impl, d, dsrc_free);
}

static void
offer_accept(struct wl_client *c, struct wl_resource *r, uint32_t serial,
    const char *mime)
{
}

static void
offer_receive(
    struct wl_client *c, struct wl_resource *r, const char *mime, int32_t fd)
{
	struct doffer *o = wl_resource_get_user_data(r);
	struct agent *ag = o->ag;
	ssize_t n;

	if (o->gen != ag->sel_gen) {
		(void)close(fd);
		return;
	}
	if (ag->sel_source != NULL) {
		wl_data_source_send_send(ag->sel_source, mime, fd);
	} else if (ag->sel_own) {
		/* Nonblocking, one write: at most the clipboard limit, which
		 * a pipe holds; a reader that is no pipe gets what fits. */
		(void)fd_set_nonblock(fd, true);
		n = write(fd, ag->sel_data, ag->sel_len);
		if (n < 0 || (size_t)n != ag->sel_len)
			log_debug("clipboard: short write to a client");
	}
	(void)close(fd);
}

static void
offer_finish(struct wl_client *c, struct wl_resource *r)
{
}

static void
offer_set_actions(
    struct wl_client *c, struct wl_resource *r, uint32_t a, uint32_t pref)
{
}

static const struct wl_data_offer_interface offer_impl = {
    .accept = offer_accept,
    .receive = offer_receive,
    .destroy = res_destroy,
    .finish = offer_finish,
    .set_actions = offer_set_actions,
};

static void
offer_free(struct wl_resource *r)
{
	free(wl_resource_get_user_data(r));
}

static void
send_selection_to(struct agent *ag, struct wl_client *client)
{
	struct wl_resource *dev, *off;
	struct dsrc *d = NULL;
	struct doffer *o;
	uint32_t i;

	if (ag->sel_source != NULL)
		d = wl_resource_get_user_data(ag->sel_source);
	wl_resource_for_each(dev, &ag->data_devices)
	{
		if (wl_resource_get_client(dev) != client)
			continue;
		if (d == NULL && !ag->sel_own) {
			wl_data_device_send_selection(dev, NULL);
			continue;
		}
		o = calloc(1, sizeof(*o));
		if (o == NULL)
			continue;
		o->ag = ag;
		o->gen = ag->sel_gen;
		off = wl_resource_create(client, &wl_data_offer_interface,
		    wl_resource_get_version(dev), 0);
		if (off == NULL) {
			free(o);
			continue;
		}
		wl_resource_set_implementation(off, &offer_impl, o, offer_free);
		wl_data_device_send_data_offer(dev, off);
		if (d != NULL) {
			for (i = 0; i < d->nmimes; i++)
				wl_data_offer_send_offer(off, d->mimes[i]);
		} else {
			wl_data_offer_send_offer(off, text_mimes[0]);
			wl_data_offer_send_offer(off, text_mimes[1]);
		}
		wl_data_device_send_selection(dev, off);
	}
}

static void
sel_clear(struct agent *ag)
{
	if (ag->sel_source != NULL)
		wl_data_source_send_cancelled(ag->sel_source);
	ag->sel_source = NULL;
	if (ag->sel_data != NULL)
		freezero(ag->sel_data, ag->sel_len);
	ag->sel_data = NULL;
	ag->sel_len = 0;
	ag->sel_own = false;
}

static void
dd_start_drag(struct wl_client *c, struct wl_resource *r,
    struct wl_resource *source, struct wl_resource *origin,
    struct wl_resource *icon, uint32_t serial)
{
	/* No drag and drop across the GUI domain. */
	if (source != NULL)
		wl_data_source_send_cancelled(source);
}

static void
dd_set_selection(struct wl_client *c, struct wl_resource *r,
    struct wl_resource *source, uint32_t serial)
{
	struct agent *ag = wl_resource_get_user_data(r);

	if (source != NULL && source == ag->sel_source)
		return;
	sel_clear(ag);
	ag->sel_source = source;
	selection_changed(ag);
}

static const struct wl_data_device_interface dd_impl = {
    .start_drag = dd_start_drag,
    .set_selection = dd_set_selection,
    .release = res_destroy,
};

static void
ddm_get_device(struct wl_client *c, struct wl_resource *r, uint32_t id,
    struct wl_resource *seat)
{
	struct agent *ag = wl_resource_get_user_data(r);
	struct wl_resource *d;

	d = wl_resource_create(
	    c, &wl_data_device_interface, wl_resource_get_version(r), id);
	if (d == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(d, &dd_impl, ag, link_remove);
	wl_list_insert(&ag->data_devices, wl_resource_get_link(d));
	if (ag->kb_focus != NULL &&
	    wl_resource_get_client(ag->kb_focus->resource) == c)
		send_selection_to(ag, c);
}

static const struct wl_data_device_manager_interface ddm_impl = {
    .create_data_source = ddm_create_source,
    .get_data_device = ddm_get_device,
};

static void
ddm_bind(struct wl_client *c, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *r;

	r = wl_resource_create(
	    c, &wl_data_device_manager_interface, version, id);
	if (r == NULL) {
		wl_client_post_no_memory(c);
		return;
	}
	wl_resource_set_implementation(r, &ddm_impl, data, NULL);
}

/* CLIPBOARD_REQ: read done (or timed out, or too big): answer. */
static void
clip_finish(struct agent *ag)
{
	if (ag->clip_src != NULL)
		wl_event_source_remove(ag->clip_src);
	if (ag->clip_timer != NULL)
		wl_event_source_remove(ag->clip_timer);
	ag->clip_src = NULL;
	ag->clip_timer = NULL;
	close_fd(&ag->clip_fd);
	conn_send(ag, GUI_MSG_CLIPBOARD_DATA, 0, ag->clip_buf, ag->clip_len);
	log_info("clipboard: sent %zu bytes to the GUI domain", ag->clip_len);
	if (ag->clip_buf != NULL)
		freezero(ag->clip_buf, ag->clip_limit + 1);
	ag->clip_buf = NULL;
	ag->clip_len = 0;
}

static int
clip_readable(int fd, uint32_t mask, void *data)
{
	struct agent *ag = data;
	ssize_t n;

	n = read(
	    fd, ag->clip_buf + ag->clip_len, ag->clip_limit + 1 - ag->clip_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n > 0)
		ag->clip_len += (size_t)n;
	/* limit + 1 bytes mean "too big": no need to read further. */
	if (n <= 0 || ag->clip_len == ag->clip_limit + 1)
		clip_finish(ag);
	return 0;
}

static int
clip_timeout(void *data)
{
	struct agent *ag = data;

	log_warnx("clipboard: the selection owner is slow, sending %zu bytes",
	    ag->clip_len);
	clip_finish(ag);
	return 0;
}

static void
clip_request(struct agent *ag)
{
	struct dsrc *d;
	const char *mime = NULL;
	uint32_t i, j;
	int p[2];

	if (ag->clip_fd >= 0)
		return; /* one at a time; the first answers */
	ag->clip_limit = GUI_CLIPBOARD_DEFAULT;
	ag->clip_len = 0;
	ag->clip_buf = calloc(ag->clip_limit + 1, 1);
	if (ag->clip_buf == NULL) {
		conn_send(ag, GUI_MSG_CLIPBOARD_DATA, 0, NULL, 0);
		return;
	}
	if (ag->sel_own) {
		memcpy(ag->clip_buf, ag->sel_data, ag->sel_len);
		ag->clip_len = ag->sel_len;
		clip_finish(ag);
		return;
	}
	if (ag->sel_source != NULL) {
		d = wl_resource_get_user_data(ag->sel_source);
		for (j = 0; j < ARRAY_SIZE(text_mimes) && mime == NULL; j++)
			for (i = 0; i < d->nmimes; i++)
				if (strcmp(d->mimes[i], text_mimes[j]) == 0) {
					mime = text_mimes[j];
					break;
				}
	}
	if (mime == NULL || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		clip_finish(ag);
		return;
	}
	wl_data_source_send_send(ag->sel_source, mime, p[1]);
	(void)close(p[1]);
	ag->clip_fd = p[0];
	ag->clip_src = wl_event_loop_add_fd(
	    ag->loop, p[0], WL_EVENT_READABLE, clip_readable, ag);
	ag->clip_timer = wl_event_loop_add_timer(ag->loop, clip_timeout, ag);
	if (ag->clip_src == NULL || ag->clip_timer == NULL) {
		clip_finish(ag);
		return;
	}
	(void)wl_event_source_timer_update(ag->clip_timer, AGENT_CLIP_TIMEOUT);
}

static void
clip_from_gui(struct agent *ag, const struct gui_clipboard *c)
{
	uint8_t *copy;

	if (c->too_big) {
		log_warnx("clipboard: the GUI domain's data is too big, "
		          "ignoring");
		return;
	}
	copy = malloc(c->len ? c->len : 1);
	if (copy == NULL)
		return;
	memcpy(copy, c->data, c->len);
	sel_clear(ag);
	ag->sel_data = copy;
	ag->sel_len = c->len;
	ag->sel_own = true;
	log_info("clipboard: %u bytes from the GUI domain", c->len);
	selection_changed(ag);
}

/* ---- GUI domain messages ---- */

static bool
key_is_down(const struct agent *ag, uint32_t keycode)
{
	return keycode < 256 &&
	    (ag->keys_down[keycode / 8] & (1u << (keycode % 8))) != 0;
}

static void
key_set_down(struct agent *ag, uint32_t keycode, bool down)
{
	if (keycode >= 256)
		return;
	if (down)
		ag->keys_down[keycode / 8] |= (uint8_t)(1u << (keycode % 8));
	else
		ag->keys_down[keycode / 8] &= (uint8_t) ~(1u << (keycode % 8));
}

/*
 * KEYMAP_NOTIFY: the keys down in the GUI domain now.  A key we hold that
 * is not down there was released while another qube had the focus: let go
 * of it (in the keymap state, and to the focused client), so that no
 * modifier stays stuck.  Keys down there and not here are not pressed:
 * their press went to another qube.
 */
static void
gui_keymap(struct agent *ag, const struct gui_keymap_notify *km)
{
	struct wl_resource *kb;
	struct surf *s = ag->kb_focus;
	bool changed = false;
	uint32_t code;

	for (code = 8; code < 256; code++) {
		if (!key_is_down(ag, code) ||
		    (km->keymap_keys[code / 8] & (1u << (code % 8))))
			continue;
		key_set_down(ag, code, false);
		if (xkb_state_update_key(ag->xkb_state, code, XKB_KEY_UP))
			changed = true;
		if (s == NULL)
			continue;
		wl_resource_for_each(kb, &ag->keyboards)
		{
			if (same_client(kb, s))
				wl_keyboard_send_key(kb,
				    wl_display_next_serial(ag->display),
				    now_msec(), code - 8,
				    WL_KEYBOARD_KEY_STATE_RELEASED);
		}
	}
	if (!changed || s == NULL)
		return;
	wl_resource_for_each(kb, &ag->keyboards)
	{
		if (same_client(kb, s))
			kb_send_modifiers(ag, kb);
	}
}

static void
gui_key(struct agent *ag, struct surf *s, const struct gui_keypress *k)
{
	bool down = k->keypress_type == GUI_KEY_PRESS;
	struct wl_resource *kb;
	enum xkb_state_component changed;

	kb_enter(ag, s);
	/* a release of a key we never pressed (pressed while another qube
	 * had the focus) means nothing here */
	if (!down && !key_is_down(ag, k->keypress_keycode))
		return;
	key_set_down(ag, k->keypress_keycode, down);
	changed = xkb_state_update_key(ag->xkb_state, k->keypress_keycode,
	    down ? XKB_KEY_DOWN : XKB_KEY_UP);
	wl_resource_for_each(kb, &ag->keyboards)
	{
		if (!same_client(kb, s))
			continue;
		wl_keyboard_send_key(kb, wl_display_next_serial(ag->display),
		    now_msec(), k->keypress_keycode - 8,
		    down ? WL_KEYBOARD_KEY_STATE_PRESSED :
		           WL_KEYBOARD_KEY_STATE_RELEASED);
		if (changed != 0)
			kb_send_modifiers(ag, kb);
	}
}

static void
gui_button(struct agent *ag, struct surf *s, const struct gui_button *b)
{
	bool down = b->button_type == GUI_BUTTON_PRESS;
	struct wl_resource *p;
	uint32_t code;

	ptr_at(ag, s, b->button_x, b->button_y);
	wl_resource_for_each(p, &ag->pointers)
	{
		if (!same_client(p, s))
			continue;
		switch (b->button_button) {
		case 1:
		case 2:
		case 3:
			code = b->button_button == 1 ? BTN_LEFT :
			    b->button_button == 2    ? BTN_MIDDLE :
			                               BTN_RIGHT;
			wl_pointer_send_button(p,
			    wl_display_next_serial(ag->display), now_msec(),
			    code,
			    down ? WL_POINTER_BUTTON_STATE_PRESSED :
			           WL_POINTER_BUTTON_STATE_RELEASED);
			break;
		case 4:
		case 5:
			if (!down)
				continue;
			wl_pointer_send_axis(p, now_msec(),
			    WL_POINTER_AXIS_VERTICAL_SCROLL,
			    wl_fixed_from_int(
			        b->button_button == 4 ? -10 : 10));
			break;
		default:
			continue;
		}
		ptr_frame(p);
	}
}

static void
gui_configure(struct agent *ag, struct surf *s, const struct gui_configure *c)
{
	struct wl_array states;

	s->x = c->configure_x;
	s->y = c->configure_y;
	if (s->role != ROLE_TOPLEVEL || s->role_resource == NULL ||
	    s->xdg_surface == NULL)
		return;
	if (c->configure_width == s->w && c->configure_height == s->h) {
		/* A move: acknowledge it, as a Qubes agent does. */
		send_configure(ag, s);
		return;
	}
	wl_array_init(&states);
	xdg_toplevel_send_configure(s->role_resource,
	    (int32_t)c->configure_width, (int32_t)c->configure_height, &states);
	wl_array_release(&states);
	xdg_surface_send_configure(
	    s->xdg_surface, wl_display_next_serial(ag->display));
}

void
wl_gui_message(struct agent *ag, const struct gui_msg *m)
{
	struct surf *s = NULL;
	uint32_t i;

	if (m->window >= 1 && m->window <= GUI_MAX_WINDOW_ID)
		s = ag->windows[m->window];
	switch (m->type) {
	case GUI_MSG_CLIPBOARD_REQ:
		clip_request(ag);
		return;
	case GUI_MSG_CLIPBOARD_DATA:
		clip_from_gui(ag, &m->u.clipboard);
		return;
	case GUI_MSG_DESTROY:
		if (ag->id_state[m->window] == 2)
			ag->id_state[m->window] = 0;
		return;
	default:
		break;
	}
	if (s == NULL) {
		log_debug("gui: %s for unknown window %u, ignoring",
		    proto_gui_type_name(m->type), m->window);
		return;
	}
	switch (m->type) {
	case GUI_MSG_KEYPRESS:
		gui_key(ag, s, &m->u.keypress);
		break;
	case GUI_MSG_KEYMAP_NOTIFY:
		gui_keymap(ag, &m->u.keymap);
		break;
	case GUI_MSG_FOCUS:
		if (m->u.focus.focus_type == GUI_FOCUS_IN)
			kb_enter(ag, s);
		else if (ag->kb_focus == s)
			kb_leave(ag);
		break;
	case GUI_MSG_BUTTON:
		gui_button(ag, s, &m->u.button);
		break;
	case GUI_MSG_MOTION:
		ptr_at(ag, s, m->u.motion.motion_x, m->u.motion.motion_y);
		break;
	case GUI_MSG_CROSSING:
		if (m->u.crossing.crossing_type == GUI_ENTER_NOTIFY)
			ptr_at(ag, s, m->u.crossing.crossing_x,
			    m->u.crossing.crossing_y);
		else if (ag->ptr_focus == s)
			ptr_leave(ag);
		break;
	case GUI_MSG_CONFIGURE:
		gui_configure(ag, s, &m->u.configure);
		break;
	case GUI_MSG_CLOSE:
		if (s->role == ROLE_TOPLEVEL && s->role_resource != NULL)
			xdg_toplevel_send_close(s->role_resource);
		else if (s->role == ROLE_POPUP && s->role_resource != NULL)
			xdg_popup_send_popup_done(s->role_resource);
		break;
	case GUI_MSG_WINDOW_DUMP_ACK:
		if (s->npending_free == 0)
			break;
		pool_release(&ag->pool, &s->pending_free[0]);
		for (i = 1; i < s->npending_free; i++)
			s->pending_free[i - 1] = s->pending_free[i];
		s->npending_free--;
		break;
	case GUI_MSG_FRAME_DONE:
		/* the window's images received so far are shown; with one
		 * held back, pace_flush lets the client go on */
		s->image_unacked = false;
		if (!s->image_held)
			frames_fire(&s->frames);
		break;
	default:
		/* MAP, WINDOW_FLAGS: nothing to do here. */
		break;
	}
}

void
wl_gui_gone(struct agent *ag)
{
	struct surf *s;
	uint32_t i;

	for (i = 1; i <= GUI_MAX_WINDOW_ID; i++)
		if (ag->id_state[i] == 2)
			ag->id_state[i] = 0;
	wl_list_for_each(s, &ag->surfaces, link)
	{
		for (i = 0; i < s->npending_free; i++)
			pool_release(&ag->pool, &s->pending_free[i]);
		s->npending_free = 0;
		/* Nobody will send FRAME_DONE: let clients draw. */
		s->image_unacked = false;
		held_clear(s);
		frames_fire(&s->frames);
	}
	if (ag->kb_focus != NULL)
		kb_leave(ag);
	if (ag->ptr_focus != NULL)
		ptr_leave(ag);
}

/* ---- setup ---- */

/*
 * The keymap: evdev/pc105/us as the build host's xkbcommon compiled it
 * (gen-keymap.c), always, rather than compiled here from names: a VM's
 * minimal root has no /usr/share/X11/xkb, and one text is the same keymap
 * in every qube whatever its xkb-data.  The context looks at no include
 * path and no environment: nothing is read from the qube's files.
 */
static int
keymap_init(struct agent *ag)
{
	char *str;
	size_t len;
	int fd, r = 0;

	ag->xkb = xkb_context_new(
	    XKB_CONTEXT_NO_DEFAULT_INCLUDES | XKB_CONTEXT_NO_ENVIRONMENT_NAMES);
	if (ag->xkb == NULL)
		return -ENOMEM;
	ag->keymap = xkb_keymap_new_from_string(ag->xkb, keymap_us_text,
	    XKB_KEYMAP_FORMAT_TEXT_V1, XKB_KEYMAP_COMPILE_NO_FLAGS);
	if (ag->keymap == NULL)
		return -EINVAL;
	ag->xkb_state = xkb_state_new(ag->keymap);
	if (ag->xkb_state == NULL)
		return -ENOMEM;
	str = xkb_keymap_get_as_string(ag->keymap, XKB_KEYMAP_FORMAT_TEXT_V1);
	if (str == NULL)
		return -ENOMEM;
	len = strlen(str) + 1;
	fd = memfd_create("bulkhead-keymap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		r = -errno;
		goto out_free;
	}
	if (write(fd, str, len) != (ssize_t)len) {
		r = -EIO;
		(void)close(fd);
		goto out_free;
	}
	/* Every client maps the same file: none may change it. */
	(void)fcntl(fd, F_ADD_SEALS,
	    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	ag->keymap_fd = fd;
	ag->keymap_size = len;
out_free:
	free(str);
	return r;
}

int
wl_init(struct agent *ag, const char *socket_name)
{
	int r;

	wl_list_init(&ag->surfaces);
	wl_list_init(&ag->keyboards);
	wl_list_init(&ag->pointers);
	wl_list_init(&ag->data_devices);
	ag->keymap_fd = -1;
	ag->clip_fd = -1;
	r = keymap_init(ag);
	if (r < 0) {
		log_warnx("xkb: cannot make the evdev/pc105/us keymap");
		return r;
	}
	ag->display = wl_display_create();
	if (ag->display == NULL)
		return -ENOMEM;
	ag->loop = wl_display_get_event_loop(ag->display);
	ag->pace_timer = wl_event_loop_add_timer(ag->loop, pace_flush, ag);
	if (ag->pace_timer == NULL)
		return -ENOMEM;
	if (wl_display_init_shm(ag->display) < 0 ||
	    wl_global_create(ag->display, &wl_compositor_interface, 4, ag,
	        comp_bind) == NULL ||
	    wl_global_create(
	        ag->display, &xdg_wm_base_interface, 3, ag, wm_bind) == NULL ||
	    wl_global_create(
	        ag->display, &wl_seat_interface, 5, ag, seat_bind) == NULL ||
	    wl_global_create(ag->display, &wl_output_interface, 3, ag,
	        output_bind) == NULL ||
	    wl_global_create(ag->display, &wl_data_device_manager_interface, 3,
	        ag, ddm_bind) == NULL)
		return -ENOMEM;
	if (wl_display_add_socket(ag->display, socket_name) < 0) {
		log_warn("wayland: cannot add socket %s", socket_name);
		return -EADDRINUSE;
	}
	return 0;
}

void
wl_fini(struct agent *ag)
{
	if (ag->clip_fd >= 0)
		clip_finish(ag);
	if (ag->pace_timer != NULL)
		wl_event_source_remove(ag->pace_timer);
	ag->pace_timer = NULL;
	if (ag->display != NULL) {
		wl_display_destroy_clients(ag->display);
		wl_display_destroy(ag->display);
	}
	ag->display = NULL;
	sel_clear(ag);
	close_fd(&ag->keymap_fd);
	xkb_state_unref(ag->xkb_state);
	xkb_keymap_unref(ag->keymap);
	xkb_context_unref(ag->xkb);
}
