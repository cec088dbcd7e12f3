/* scatter.h - the alignment frame of plot-frames: the points of two domains (or ten digit
 * classes) laid out by tsne, on axes shared by every frame of a sequence, with a title, a
 * grid, tick labels and a legend.  Drawn on the raster of raster.h. */
#ifndef DN_SCATTER_H
#define DN_SCATTER_H

#include <stdint.h>

#include "draw/raster.h"

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
/* The legend in one row, centred in a canvas w pixels wide, its text's top at y (the header
 * of a contact sheet of frames). */
void plot_scatter_legend_row(plot_canvas *c, const plot_scatter_opts *o, int y, int w);
/* A seeded random permutation of 0..n-1 (lib/base/rng.h); *order is malloc'd. */
int plot_draw_order(int64_t n, uint64_t seed, int64_t **order);
/* out = a + (b - a) * smoothstep(t): the points of a tween frame, t in [0,1]. */
void plot_tween(float *out, const float *a, const float *b, int64_t n, double t);
/* The colours a frame can contain before blending (background, text, grid, markers), for
 * a GIF palette.  Returns the count written to out (at most max). */
int plot_key_colors(const plot_scatter_opts *o, plot_rgb *out, int max);

#endif
