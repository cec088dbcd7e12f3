/* plot.h - a small raster plotting library: an RGB canvas with alpha blending, anti-aliased
 * discs, rings and lines, bitmap text (lib/draw/font.h), and the two figures of plot-frames:
 * the alignment scatter frame (source vs target points, or digit classes) and the training
 * curves of dann-train's metrics log.
 *
 * Coordinates are pixels with (0,0) the top-left corner of the top-left pixel; pixel (x,y)
 * has its centre at (x+0.5, y+0.5).  Everything is deterministic: the same calls give the
 * same bytes.  Functions that can fail return 0 or a negative DN_E* code (lib/base/err.h). */
#ifndef DN_PLOT_H
#define DN_PLOT_H

#include <stdint.h>
#include <stdio.h>

#include "draw/font.h"
#include "stream/metrics.h"

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

/* ---- the alignment frame -------------------------------------------------------------- */

enum { PLOT_COLOR_DOMAIN = 0, PLOT_COLOR_CLASS = 1 };

typedef struct {
	int color;                 /* PLOT_COLOR_DOMAIN or PLOT_COLOR_CLASS */
	const char *source_name;   /* legend text, e.g. "Source (MNIST)" */
	const char *target_name;   /* e.g. "Target (MNIST-M)" */
	double radius;             /* marker radius in pixels; <= 0 picks one from size and count */
	double alpha;              /* marker opacity, (0,1]; <= 0 picks one from the point count */
	int64_t npoints;           /* points per frame, for the automatic radius and opacity */
	int legend;                /* draw the legend column on the right */
	int ticks;                 /* draw tick labels and the point count note */
	int bare;                  /* only the points on white: no title, grid, frame, legend */
} plot_scatter_opts;

/* Data limits over all frames: init, add every frame, then plot_scatter_prepare adds the
 * margin.  Non-finite points are refused (DN_ERANGE, index in the message). */
void plot_limits_init(double lim[4]);  /* xmin, xmax, ymin, ymax */
int plot_limits_add(double lim[4], const float *pts /* (n,2) */, int64_t n, const char *name);

/* A frame layout, computed once so every frame has the same axes. */
typedef struct {
	plot_scatter_opts o;
	int w, h;
	int px0, py0, px1, py1;             /* plot area [px0,px1) x [py0,py1) */
	double xmin, xmax, ymin, ymax;      /* data limits shown (equal aspect, with margin) */
	double radius, alpha;               /* marker radius and opacity in use */
	const font_t *tfont, *lfont, *sfont; /* title, legend, small */
	int tscale;
	int title_y;
	int legend_cols, legend_rowh;       /* class legend: 1 or 2 columns; row pitch */
	plot_ticks xt, yt;
} plot_scatter;

/* Lay out a w x h frame for data limits `lim` (from plot_limits_*): title band, plot area
 * with a 4% margin around the data and equal scales on both axes, legend column. */
int plot_scatter_prepare(plot_scatter *s, const plot_scatter_opts *o, int w, int h,
                         const double lim[4]);
/* Draw one frame (clears the canvas, which must be s->w x s->h).  Points are drawn in the
 * order `order` (a permutation of 0..n-1, so neither domain always lies on top); in class
 * mode source points are discs and target points rings. */
void plot_scatter_draw(const plot_scatter *s, plot_canvas *c, const float *pts /* (n,2) */,
                       const uint8_t *labels /* (n,) */, const uint8_t *domains /* (n,) */,
                       const int64_t *order /* (n,) */, int64_t n, const char *title);
/* A seeded random permutation of 0..n-1 (lib/base/rng.h); *order is malloc'd. */
int plot_draw_order(int64_t n, uint64_t seed, int64_t **order);
/* out = a + (b - a) * smoothstep(t): the points of a tween frame, t in [0,1]. */
void plot_tween(float *out, const float *a, const float *b, int64_t n, double t);
/* The colours a frame can contain before blending (background, text, grid, markers), for
 * a GIF palette.  Returns the count written to out (at most max). */
int plot_key_colors(const plot_scatter_opts *o, plot_rgb *out, int max);

/* ---- the contact sheet ---------------------------------------------------------------- */

typedef struct {
	int cols, rows, tw, th, pad, header;
	int w, h;
} plot_sheet;
/* Grid of n thumbnails tw x th in `cols` columns (<= 0: about square), with a header band
 * for the title (if has_title) and a one-line legend. */
int plot_sheet_prepare(plot_sheet *sh, int n, int cols, int tw, int th, int has_title);
/* Clear the sheet canvas and draw the header. */
void plot_sheet_header(const plot_sheet *sh, plot_canvas *c, const plot_scatter_opts *o,
                       const char *title);
/* Top-left corner of cell i. */
void plot_sheet_cell(const plot_sheet *sh, int i, int *x, int *y);

/* ---- training curves ------------------------------------------------------------------ */

/* Proxy A-distance over training, for the curves' alignment panel: for each metrics log
 * (matched by name) one series per layer of the network (up to PLOT_PAD_LAYERS, in the order
 * they first appear), and at most one reference value drawn as a level line (raw pixels). */
#define PLOT_PAD_LAYERS 3
typedef struct {
	int nlogs, nlayers;
	char layer[PLOT_PAD_LAYERS][32];
	int64_t *n;             /* (nlogs * PLOT_PAD_LAYERS,) points of series (log l, layer j) */
	double **step, **pad;   /* (nlogs * PLOT_PAD_LAYERS,) arrays, index l * PLOT_PAD_LAYERS + j */
	int has_ref;
	double ref;
	char ref_name[64];
} plot_pad_table;

/* Read a PAD table (TSV with a header naming at least the columns model, step and pad, and
 * optionally layer, as the pipelines' pad.tsv): a row whose model is names[l] adds (step, pad)
 * to log l's series of its layer; a row whose step is "-" is the reference (one at most).
 * Errors (DN_EFORMAT with the line, DN_ENOMEM): a missing column, a row with another number
 * of fields, a model that is none of the names, a step or PAD that is not a finite number, a
 * second reference, more than PLOT_PAD_LAYERS layers.  Free with plot_pad_free. */
int plot_pad_read(FILE *f, const char *name, const char *const *names, int nlogs,
                  plot_pad_table *t);
void plot_pad_free(plot_pad_table *t);

/* Three panels stacked on a shared step axis: label and domain loss; lambda (left axis) and
 * learning rate (right axis); source and target accuracy; with `pad` (or NULL) a fourth: the
 * PAD of each log's snapshots (left axis; the first layer solid, the others dotted and
 * dash-dotted) and the domain classifier's accuracy (right axis, dashed), the reference as a
 * grey dotted level.  Several logs are overlaid, each in its own colour, named
 * in the legend by names[i].  NaN values are skipped (the line joins the values around them).
 * Clears the canvas.  DN_EARG if there is nothing to draw. */
int plot_curves(plot_canvas *c, const metrics_log *logs, const char *const *names, int nlogs,
                const char *title, const plot_pad_table *pad);

/* Read a text file of titles, one per line (newline and CR stripped).  *lines and each line
 * are malloc'd; free with plot_free_lines. */
int plot_read_lines(FILE *f, const char *name, char ***lines, int *n);
void plot_free_lines(char **lines, int n);

#endif
