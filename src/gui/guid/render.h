/*
 * render.h - the VNC output's compositor (issue #8): draws the whole
 * desktop (background, every mapped window's label-coloured frame and
 * title bar, its content, a notice banner) into a 32-bit XRGB memory
 * framebuffer, one clip rectangle at a time.
 */
#ifndef BULKHEAD_GUID_RENDER_H
#define BULKHEAD_GUID_RENDER_H

#include <pixman.h>
#include <stddef.h>
#include <stdint.h>

#include "gui/guid/font.h"
#include "gui/guid/guid.h"

#define RENDER_BACKGROUND 0x303030u /* the desktop, flat dark grey */
#define RENDER_NO_BUFFER  0x808080u /* content without a buffer */
#define RENDER_NOTICE_BG  0x000000u
#define RENDER_NOTICE_FG  0xffffffu
#define RENDER_NOTICE_H   (FONT_CELL_H + 4u) /* banner height, pixels */
#define RENDER_TEXT_PAD   4u /* left margin of a title, pixels */

/* A framebuffer: px[y * stride + x], stride in pixels. */
struct render_fb {
	uint32_t *px;
	uint32_t width, height;
	size_t stride;
};

/* The rectangle the frame of w covers on the screen (border and title
 * bar included; half-open pixman box; may extend off screen). */
void render_frame_box(const struct gd_window *w, pixman_box32_t *ret_box);
/* The content rectangle of w (x, y, width, height). */
void render_content_box(const struct gd_window *w, pixman_box32_t *ret_box);

/* The title colour (black or white) that contrasts with label_rgb. */
uint32_t render_text_colour(uint32_t label_rgb);

/* Fill the part of rectangle (x, y, w, h) inside clip with rgb. */
void render_fill(const struct render_fb *fb, const pixman_box32_t *clip,
    int64_t x, int64_t y, int64_t w, int64_t h, uint32_t rgb);

/*
 * Draw len bytes of s with the built-in font from (x, y) (the cell's top
 * left), set pixels only, in rgb, inside clip.  Bytes outside printable
 * ASCII are drawn as '?'.  Returns the x after the last cell.
 */
int64_t render_text(const struct render_fb *fb, const pixman_box32_t *clip,
    int64_t x, int64_t y, const char *s, size_t len, uint32_t rgb);

/*
 * Recompose the screen inside clip (which must lie inside fb): the
 * background, then every mapped window of g from the bottom up, then
 * notice (NULL: none) as a banner along the bottom edge.  A window's
 * buffer pixels are copied only into its content rectangle.  Run by the
 * core, on its own state.
 */
void render_scene(struct gd *g, const struct render_fb *fb,
    const pixman_box32_t *clip, const char *notice);

#endif
