/* gifout.h - animated GIF writer over giflib, with a palette made for plots.
 *
 * Plot frames hold few colours (background, text, grid, markers) plus the blends that
 * anti-aliasing and transparency make between them.  The palette keeps those key colours
 * exactly and spends the rest of its 256 entries by median cut on a colour histogram of the
 * frames (gif_hist_add over some or all frames first).  Frames are mapped to the nearest
 * palette colour without dithering (dither noise would flicker from frame to frame), and only
 * the rectangle that changed since the previous frame is stored.  The file loops (NETSCAPE2.0
 * application extension).  Everything is deterministic. */
#ifndef DN_GIFOUT_H
#define DN_GIFOUT_H

#include <stdint.h>
#include <stdio.h>

#define GIF_HIST_BITS 5      /* histogram bins per channel: 2^5 */
#define GIF_MAX_COLORS 255   /* palette entries; index 255 is "unchanged" (transparent) */
#define GIF_TRANSPARENT 255

typedef struct {
	/* (32768,) per 5-5-5-bit bin: pixel count and channel sums */
	uint64_t *count, *sum;  /* sum is (32768,3) */
} gif_hist;

typedef struct {
	int n;                 /* entries used (<= 256; the rest are black) */
	uint8_t rgb[256][3];
} gif_palette;

int gif_hist_init(gif_hist *h);
void gif_hist_free(gif_hist *h);
/* Count the npix RGB pixels of `rgb` (tightly packed). */
void gif_hist_add(gif_hist *h, const uint8_t *rgb, size_t npix);
/* Build a palette: the nkey `key` colours (RGB triples) first, exactly, then up to
 * GIF_MAX_COLORS-nkey median-cut colours from the histogram. */
int gif_palette_build(gif_palette *p, const gif_hist *h, const uint8_t (*key)[3], int nkey);

typedef struct gifout gifout;

/* Start a w x h GIF on `f` (opened and committed by the caller) with a global palette;
 * loop = 0 loops forever, loop > 0 plays that many extra times. */
int gifout_open(gifout **g, FILE *f, int w, int h, const gif_palette *p, int loop);
/* Append a frame of w*h RGB pixels shown for delay_cs hundredths of a second. */
int gifout_frame(gifout *g, const uint8_t *rgb, int delay_cs);
/* Write the trailer and free g (also on error).  Does not close f. */
int gifout_close(gifout *g);

#endif
