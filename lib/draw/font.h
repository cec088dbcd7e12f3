/* font.h - embedded bitmap fonts (public-domain X11 misc-fixed cells) and UTF-8 decoding.
 *
 * Three fixed-width fonts cover ASCII, Latin-1, Greek (λ, μ, ...) and a few symbols
 * (·, –, −, ≤, ≥, arrows).  A code point a font lacks is drawn as '?'.  Text is drawn by
 * lib/draw/raster.h plot_text(); this module only holds the glyphs. */
#ifndef DN_FONT_H
#define DN_FONT_H

#include <stdint.h>

typedef struct {
	int w, h;              /* cell size in pixels; every glyph is one cell */
	int ascent;            /* baseline row from the top of the cell */
	int n;                 /* glyph count */
	const uint32_t *cp;    /* (n,) code points, ascending */
	const uint16_t *rows;  /* (n,h) one row per uint16, bit 15 = leftmost pixel */
} font_t;

extern const font_t font_small;  /* 7x13: tick labels, notes, captions */
extern const font_t font_body;   /* 8x13: legends, axis names */
extern const font_t font_title;  /* 9x18 bold: titles */

/* The h rows of code point `cp`, or of '?' when the font lacks it. */
const uint16_t *font_glyph(const font_t *f, uint32_t cp);
/* Decode the next UTF-8 code point at *s and advance *s; 0 at the end of the string.  A
 * malformed sequence yields U+FFFD (drawn as '?') and skips one byte. */
uint32_t font_utf8_next(const char **s);
/* Number of code points (= cells) in a UTF-8 string. */
int font_utf8_len(const char *s);

#endif
