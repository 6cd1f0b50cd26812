/*
 * core.h - PROC_GUID_CORE's entry (core.c): the trusted window model of
 * the GUI domain, its loop, and the outputs it drives.
 */
#ifndef BULKHEAD_GUID_CORE_H
#define BULKHEAD_GUID_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "gui/guid/guid.h"

struct gd_core_opts {
	uint32_t width, height;   /* the screen */
	uint32_t clipboard_limit; /* GUI_CLIPBOARD_MIN..MAX */
	bool allow_utf8_titles;
	int connector_fd;         /* SOCK_SEQPACKET to the connector (taken) */
	const char *exe;          /* this program, for the validators */
	bool debug;               /* validators log to stderr too */
	int ask_fd;               /* listening for the policy daemon, or -1 */
	uint32_t prompt_delay_ms; /* before a question's Allow is armed */
	bool vnc;
	bool x11;
	struct gd_output_opts out;
};

/*
 * Make the core and its outputs; 0 and *ret, or -errno with the reason
 * in err.  gd_run() serves until the connector goes away (0) or an
 * output fails (-errno).
 */
int
gd_new(const struct gd_core_opts *o, struct gd **ret, char *err, size_t errlen);
int gd_run(struct gd *g);
void gd_free(struct gd *g);

/*
 * A new window id (gd_window.gid) after *last: never 0, and once the
 * counter has wrapped (*wrapped, set here) none that a live window of g
 * has.  Updates *last and *wrapped.  The core keeps its own pair; tests
 * pass theirs.
 */
uint32_t gd_gid_next(struct gd *g, uint32_t *last, bool *wrapped);

/* ---- for prompt.c: the GUI domain's own windows ---- */

/* A notice to the user (every output). */
void gd_notice(struct gd *g, const char *text);
/*
 * A window of the GUI domain itself (qube "dom0", label black), mapped,
 * raised, width x height (at most 4 MiB of pixels), titled title; *ret_px
 * is its XRGB buffer (rows width * 4 bytes) to draw into, then call
 * gd_local_window_damage.  One at a time.  NULL if one exists or on
 * failure.
 */
struct gd_window *gd_local_window_new(struct gd *g, uint32_t width,
    uint32_t height, const char *title, uint32_t **ret_px);
void gd_local_window_damage(struct gd *g, struct gd_window *w);
void gd_local_window_free(struct gd *g, struct gd_window *w);

#endif
