/* sheet.h - a contact sheet: n pictures of one size on a grid, row by row, `gap` pixels
 * between them and around them, under an optional header band.  One layout for both sheets
 * of the toolkit: plot-frames --sheet (the key frames as thumbnails under a title and a
 * legend, lib/draw/frames.h) and mnistm-gen --sheet (a dataset's first images, zoomed, on
 * grey: plot_sheet_images below). */
#ifndef DN_SHEET_H
#define DN_SHEET_H

#include <stdint.h>

#include "draw/raster.h"

typedef struct {
	int64_t n;     /* cells */
	int cols, rows;
	int cw, ch;    /* cell size */
	int gap;       /* pixels between cells and around the grid */
	int header;    /* height of the band above the grid (0: none) */
	int w, h;      /* the sheet: gap + cols (cw + gap) wide, header + gap + rows (ch + gap) tall */
} plot_sheet;

/* Lay out n cells of cw x ch in `cols` columns (<= 0: the smallest square grid that holds
 * n; never more columns than cells).  DN_EARG if n < 1 or a side of the sheet would be
 * larger than PLOT_CANVAS_MAX. */
int plot_sheet_layout(plot_sheet *sh, int64_t n, int cols, int cw, int ch, int gap, int header);
/* Top-left corner of cell i. */
void plot_sheet_cell(const plot_sheet *sh, int64_t i, int *x, int *y);

/* The sheet of images: `count` images of h x w pixels, each pixel drawn as a scale x scale
 * block (nearest neighbour), in `cols` columns (<= 0: a square grid), with 2-pixel grey
 * gutters.  plot_sheet_images_layout checks the size before the images exist (errors as
 * plot_sheet_layout); plot_sheet_images draws them, images (count,h,w,3) RGB, into a new
 * canvas `out` of the sheet's size (free with plot_canvas_free). */
int plot_sheet_images_layout(plot_sheet *sh, int64_t count, int h, int w, int cols, int scale);
int plot_sheet_images(const plot_sheet *sh, const uint8_t *images, int scale, plot_canvas *out);

#endif
