/*
 * render.c - the VNC output's compositor (issue #8).
 *
 * Run inside bulkhead-guid's core (PROC_GUID_CORE, the GUI domain's
 * user).  Untrusted inputs: the pixels of every qube's buffer (copied,
 * never interpreted) and its title (drawn byte by byte through the
 * built-in font).  Everything else (geometry, label colour, qube name)
 * comes from the core, which validated or was told it.
 *
 * The one security property: the frame (border and title bar) is drawn
 * from trusted state only, and a qube's pixels land only inside its
 * window's content rectangle, clipped to the buffer it gave, the window
 * size and the clip; so the label colour around a window is always
 * the one bulkheadd assigned to its qube.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gui/guid/font.h"
#include "gui/guid/guid.h"
#include "gui/guid/render.h"

void
render_frame_box(const struct gd_window *w, pixman_box32_t *ret_box)
{
	int64_t top =
	    w->override_redirect ? GD_BORDER : GD_BORDER + GD_TITLEBAR;

	ret_box->x1 = (int32_t)((int64_t)w->x - GD_BORDER);
	ret_box->y1 = (int32_t)((int64_t)w->y - top);
	ret_box->x2 = (int32_t)((int64_t)w->x + w->width + GD_BORDER);
	ret_box->y2 = (int32_t)((int64_t)w->y + w->height + GD_BORDER);
}

void
render_content_box(const struct gd_window *w, pixman_box32_t *ret_box)
{
	ret_box->x1 = w->x;
	ret_box->y1 = w->y;
	ret_box->x2 = (int32_t)((int64_t)w->x + w->width);
	ret_box->y2 = (int32_t)((int64_t)w->y + w->height);
}

uint32_t
render_text_colour(uint32_t label_rgb)
{
	uint32_t r = label_rgb >> 16 & 0xff, gr = label_rgb >> 8 & 0xff,
	         b = label_rgb & 0xff;

	/* ITU-R BT.601 luma, in thousandths */
	return 299 * r + 587 * gr + 114 * b > 128000 ? 0x000000u : 0xffffffu;
}

/* Intersect (x, y, w, h) with clip; false if empty. */
static bool
clip_rect(const pixman_box32_t *clip, int64_t x, int64_t y, int64_t w,
    int64_t h, pixman_box32_t *ret)
{
	int64_t x1 = x, y1 = y, x2 = x + w, y2 = y + h;

	if (x1 < clip->x1)
		x1 = clip->x1;
	if (y1 < clip->y1)
		y1 = clip->y1;
	if (x2 > clip->x2)
		x2 = clip->x2;
	if (y2 > clip->y2)
		y2 = clip->y2;
	if (x1 >= x2 || y1 >= y2)
		return false;
	ret->x1 = (int32_t)x1;
	ret->y1 = (int32_t)y1;
	ret->x2 = (int32_t)x2;
	ret->y2 = (int32_t)y2;
	return true;
}

void
render_fill(const struct render_fb *fb, const pixman_box32_t *clip, int64_t x,
    int64_t y, int64_t w, int64_t h, uint32_t rgb)
{
	pixman_box32_t b;
	int32_t i, j;

	if (!clip_rect(clip, x, y, w, h, &b))
		return;
	for (j = b.y1; j < b.y2; j++) {
		uint32_t *row = fb->px + (size_t)j * fb->stride;

		for (i = b.x1; i < b.x2; i++)
			row[i] = rgb;
	}
}

int64_t
render_text(const struct render_fb *fb, const pixman_box32_t *clip, int64_t x,
    int64_t y, const char *s, size_t len, uint32_t rgb)
{
	size_t k;
	unsigned int gx, gy;

	for (k = 0; k < len; k++, x += FONT_CELL_W) {
		unsigned char c = (unsigned char)s[k];

		if (x >= clip->x2)
			break;
		if (x + FONT_CELL_W <= clip->x1)
			continue;
		for (gy = 0; gy < FONT_GLYPH_H; gy++) {
			int64_t py = y + gy;

			if (py < clip->y1 || py >= clip->y2)
				continue;
			for (gx = 0; gx < FONT_GLYPH_W; gx++) {
				int64_t px = x + gx;

				if (px < clip->x1 || px >= clip->x2 ||
				    !font_pixel(c, gx, gy))
					continue;
				fb->px[(size_t)py * fb->stride + (size_t)px] =
				    rgb;
			}
		}
	}
	return x;
}

/* The title bar text of w: "[qube] title", drawn inside the bar only. */
static void
draw_title(const struct render_fb *fb, const pixman_box32_t *clip,
    const struct gd_window *w)
{
	pixman_box32_t bar;
	int64_t x, y;
	uint32_t fg = render_text_colour(w->qube->label_rgb);

	/* the bar is the content's width above it; text never leaves it */
	if (!clip_rect(clip, w->x, (int64_t)w->y - GD_TITLEBAR, w->width,
	        GD_TITLEBAR, &bar))
		return;
	x = (int64_t)w->x + RENDER_TEXT_PAD;
	y = (int64_t)w->y - GD_TITLEBAR + (GD_TITLEBAR - FONT_CELL_H) / 2 + 1;
	x = render_text(fb, &bar, x, y, "[", 1, fg);
	x = render_text(fb, &bar, x, y, w->qube->name,
	    strnlen(w->qube->name, sizeof(w->qube->name)), fg);
	x = render_text(fb, &bar, x, y, "] ", 2, fg);
	(void)render_text(
	    fb, &bar, x, y, w->title, strnlen(w->title, sizeof(w->title)), fg);
}

/* The content of w: its buffer clipped to min(buffer, window), grey
 * where the window is larger than the buffer or has none. */
static void
draw_content(const struct render_fb *fb, const pixman_box32_t *clip,
    const struct gd_window *w)
{
	const uint8_t *src = gd_window_pixels(w);
	pixman_box32_t b;
	uint32_t cw, ch;
	int32_t j;

	cw = src != NULL && w->buf_width < w->width ? w->buf_width : w->width;
	ch = src != NULL && w->buf_height < w->height ? w->buf_height :
	                                                w->height;
	if (src == NULL || cw < w->width || ch < w->height)
		render_fill(fb, clip, w->x, w->y, w->width, w->height,
		    RENDER_NO_BUFFER);
	if (src == NULL || !clip_rect(clip, w->x, w->y, cw, ch, &b))
		return;
	for (j = b.y1; j < b.y2; j++) {
		const uint8_t *row = src + (size_t)(j - w->y) * w->buf_stride +
		    (size_t)(b.x1 - w->x) * 4u;

		memcpy(fb->px + (size_t)j * fb->stride + (size_t)b.x1, row,
		    (size_t)(b.x2 - b.x1) * 4u);
	}
}

/* One window, frame (label colour), title and content, within clip. */
static void
draw_window(const struct render_fb *fb, const pixman_box32_t *clip,
    const struct gd_window *w, const pixman_box32_t *fr)
{
	/* the whole frame in the label colour, then the content over its
	 * own rectangle: the border is what is left */
	render_fill(fb, clip, fr->x1, fr->y1, (int64_t)fr->x2 - fr->x1,
	    (int64_t)fr->y2 - fr->y1, w->qube->label_rgb & 0xffffffu);
	if (!w->override_redirect)
		draw_title(fb, clip, w);
	draw_content(fb, clip, w);
}

/*
 * Every pixel of the clip is drawn once, by the window on top there: the
 * windows are taken from the top down, each drawn only where no window
 * above it covered (a frame is opaque), and the walk ends once nothing is
 * left; the background fills what remains.  Painting every window from
 * the bottom up instead let a qube with many screen-sized windows make
 * each update cost that many full redraws, for every qube's updates
 * (0.6 s a frame measured with 256).
 */
void
render_scene(struct gd *g, const struct render_fb *fb,
    const pixman_box32_t *clip, const char *notice)
{
	pixman_region32_t left, vis;
	struct gd_window *w;
	pixman_box32_t fr;
	const pixman_box32_t *b;
	int i, n;

	pixman_region32_init_rect(&left, clip->x1, clip->y1,
	    (unsigned)(clip->x2 - clip->x1), (unsigned)(clip->y2 - clip->y1));
	pixman_region32_init(&vis);
	for (w = gd_top(g); w != NULL && pixman_region32_not_empty(&left);
	     w = w->below) {
		if (!w->mapped || w->qube == NULL)
			continue;
		render_frame_box(w, &fr);
		if (fr.x2 <= fr.x1 || fr.y2 <= fr.y1)
			continue;
		pixman_region32_intersect_rect(&vis, &left, fr.x1, fr.y1,
		    (unsigned)((int64_t)fr.x2 - fr.x1),
		    (unsigned)((int64_t)fr.y2 - fr.y1));
		b = pixman_region32_rectangles(&vis, &n);
		for (i = 0; i < n; i++)
			draw_window(fb, &b[i], w, &fr);
		pixman_region32_subtract(&left, &left, &vis);
	}
	b = pixman_region32_rectangles(&left, &n);
	for (i = 0; i < n; i++)
		render_fill(fb, &b[i], b[i].x1, b[i].y1, b[i].x2 - b[i].x1,
		    b[i].y2 - b[i].y1, RENDER_BACKGROUND);
	pixman_region32_fini(&vis);
	pixman_region32_fini(&left);
	if (notice != NULL && fb->height >= RENDER_NOTICE_H) {
		int64_t y = (int64_t)fb->height - RENDER_NOTICE_H;

		render_fill(fb, clip, 0, y, fb->width, RENDER_NOTICE_H,
		    RENDER_NOTICE_BG);
		(void)render_text(fb, clip, RENDER_TEXT_PAD, y + 2, notice,
		    strlen(notice), RENDER_NOTICE_FG);
	}
}
