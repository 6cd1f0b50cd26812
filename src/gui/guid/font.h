/*
 * font.h - the GUI domain's built-in bitmap font (issue #8): fixed-width
 * printable ASCII, drawn by the trusted outputs for window titles and
 * notices.  A bitmap font of our own keeps every text-rendering library
 * (and its parsers) away from qube-chosen strings.
 */
#ifndef BULKHEAD_GUID_FONT_H
#define BULKHEAD_GUID_FONT_H

#include <stdbool.h>
#include <stdint.h>

#define FONT_CELL_W  6u /* advance, pixels */
#define FONT_CELL_H  10u
#define FONT_GLYPH_W 5u /* glyph bits used in each row */
#define FONT_GLYPH_H 9u /* 7 rows cap height, 2 descender rows */
#define FONT_FIRST   0x20u
#define FONT_LAST    0x7eu

/*
 * The glyph rows of character c (FONT_GLYPH_H bytes, bit 4 the leftmost
 * pixel).  Bytes outside FONT_FIRST..FONT_LAST get '?' (titles are
 * validated ASCII already; this is the last line of defence).  Never
 * NULL; the table is static.
 */
const uint8_t *font_glyph(unsigned char c);

/* Whether pixel (x, y) of character c's cell is set (false outside the
 * glyph). */
bool font_pixel(unsigned char c, unsigned int x, unsigned int y);

#endif
