/* raster.h - the raster library under every figure: an RGB canvas with alpha blending,
 * anti-aliased discs, rings and lines, bitmap text (lib/draw/font.h) and axis ticks.  The
 * figures are built on it: scatter.h (the alignment frames), sheet.h (contact sheets),
 * curves.h (training curves), frames.h (frames as PNG files, a GIF, a sheet).
 *
 * Coordinates are pixels with (0,0) the top-left corner of the top-left pixel; pixel (x,y)
 * has its centre at (x+0.5, y+0.5).  Everything is deterministic: the same calls give the
 * same bytes.  Functions that can fail return 0 or a negative DN_E* code (lib/base/err.h). */
#ifndef DN_RASTER_H
#define DN_RASTER_H

#include <stdint.h>
#include <stdio.h>

#include "draw/font.h"

typedef struct {
	uint8_t r, g, b;
} plot_rgb;

/* The house colours. */
extern const plot_rgb plot_white, plot_ink, plot_grey, plot_grid, plot_border;
extern const plot_rgb plot_source_rgb, plot_target_rgb;   /* blue, vermillion */
extern const plot_rgb plot_class_rgb[10];                  /* colour-blind-safe palette */

typedef struct {
	int w, h;
	uint8_t *px;             /* (h,w,3) RGB, rows top to bottom */
	int cx0, cy0, cx1, cy1;  /* clip rectangle [cx0,cx1) x [cy0,cy1) for all drawing */
	float *cov;              /* (h,w) coverage scratch for lines, allocated on first use */
} plot_canvas;

/* The largest side a canvas may have (a PNG or GIF side is at most 65535). */
#define PLOT_CANVAS_MAX 65535
/* The house spacing: pixels between the parts of a figure and around its edges. */
#define PLOT_GAP 10

int plot_canvas_init(plot_canvas *c, int w, int h);
void plot_canvas_free(plot_canvas *c);
void plot_clear(plot_canvas *c, plot_rgb bg);
/* Restrict drawing to [x0,x1) x [y0,y1) (intersected with the canvas); plot_unclip resets. */
void plot_clip(plot_canvas *c, int x0, int y0, int x1, int y1);
void plot_unclip(plot_canvas *c);

/* Blend `col` over [x0,x1) x [y0,y1) with opacity alpha in [0,1]. */
void plot_fill_rect(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgb col, double alpha);
/* Anti-aliased filled disc of radius r: each pixel is blended with alpha times the fraction
 * of it the disc covers (estimated from the distance of its centre to the edge). */
void plot_disc(plot_canvas *c, double cx, double cy, double r, plot_rgb col, double alpha);
/* Anti-aliased ring: outer radius r, line width `width`. */
void plot_ring(plot_canvas *c, double cx, double cy, double r, double width, plot_rgb col,
               double alpha);
/* Anti-aliased polyline through n points (pixel coordinates) of line width `width`; with
 * dash > 0 it is dashed (dash on, dash off, measured along the line).  Overlapping segments
 * are composited once (coverage is the maximum), so joints do not show.  Returns DN_ENOMEM
 * if the coverage scratch cannot be allocated. */
int plot_polyline(plot_canvas *c, const double *x, const double *y, int n, double width,
                  double dash, plot_rgb col);

/* Draw UTF-8 text with its top-left corner at (x,y), each font pixel as a scale x scale
 * block; returns the width drawn.  plot_text_width measures without drawing. */
int plot_text(plot_canvas *c, const font_t *f, int scale, int x, int y, const char *s,
              plot_rgb col);
int plot_text_width(const font_t *f, int scale, const char *s);

/* s itself if it fits in maxw pixels, else s cut to fit with "…" at the end, copied into
 * buf (len bytes). */
const char *plot_fit_text(const font_t *f, int scale, const char *s, int maxw, char *buf,
                          size_t len);
/* A title centred between x0 and x1 at row y, cut to fit; nothing for NULL or "". */
void plot_title(plot_canvas *c, const font_t *f, int scale, int y, int x0, int x1,
                const char *title);
/* A 1-pixel rectangle outline just outside [x0,x1) x [y0,y1). */
void plot_outline(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgb col);

/* Copy all of `src` into `dst` with its top-left corner at (x,y) (clipped). */
void plot_blit(plot_canvas *dst, const plot_canvas *src, int x, int y);

/* Nice axis ticks: at most about `maxn` round values (1, 2 or 5 times a power of ten) in
 * [lo,hi], with the number of decimals that prints them exactly. */
typedef struct {
	int n;
	double v[24];
	double step;
	int decimals;   /* decimals to print; with kilo, decimals of v/1000 */
	int kilo;       /* print as thousands ("15k"): large round values */
} plot_ticks;
void plot_nice_ticks(double lo, double hi, int maxn, plot_ticks *t);
/* Format tick value v of t ("0.25", "-10", "5e-05", "15k"). */
void plot_tick_label(const plot_ticks *t, double v, char *buf, size_t len);

/* ---- text files -------------------------------------------------------------------------- */

/* Read a text file, one string per line (newline and CR stripped): frame titles, the PAD
 * table.  A NUL byte is DN_EFORMAT.  *lines and each line are malloc'd; free with
 * plot_free_lines. */
int plot_read_lines(FILE *f, const char *name, char ***lines, int *n);
void plot_free_lines(char **lines, int n);
/* The name a figure gives a file by default (a frame's title, a log's legend entry): path
 * without its folder and without the ending ext ("runs/dann.tsv", ".tsv" -> "dann");
 * malloc'd, NULL if out of memory. */
char *plot_file_name(const char *path, const char *ext);

#endif
