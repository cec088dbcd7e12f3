/* sheet.c - contact sheets (see sheet.h). */
#include "draw/sheet.h"

#include <string.h>

#include "base/err.h"

int plot_sheet_layout(plot_sheet *sh, int64_t n, int cols, int cw, int ch, int gap, int header)
{
	memset(sh, 0, sizeof *sh);
	if (n < 1 || cw < 1 || ch < 1)
		return err_set(DN_EARG, "contact sheet: no images");
	if (cols <= 0) {
		cols = 1;
		while ((int64_t)cols * cols < n)
			cols++;
	}
	if (cols > n)
		cols = (int)n;
	int64_t rows = (n + cols - 1) / cols;
	int64_t w = (int64_t)gap + (int64_t)cols * ((int64_t)cw + gap);
	int64_t h = (int64_t)header + gap + rows * ((int64_t)ch + gap);
	if (w > PLOT_CANVAS_MAX || h > PLOT_CANVAS_MAX)
		return err_set(DN_EARG, "contact sheet of %lld images would be %lldx%lld pixels: too large "
		               "(at most %d a side)", (long long)n, (long long)w, (long long)h,
		               PLOT_CANVAS_MAX);
	sh->n = n;
	sh->cols = cols;
	sh->rows = (int)rows;
	sh->cw = cw;
	sh->ch = ch;
	sh->gap = gap;
	sh->header = header;
	sh->w = (int)w;
	sh->h = (int)h;
	return 0;
}

void plot_sheet_cell(const plot_sheet *sh, int64_t i, int *x, int *y)
{
	*x = sh->gap + (int)(i % sh->cols) * (sh->cw + sh->gap);
	*y = sh->header + sh->gap + (int)(i / sh->cols) * (sh->ch + sh->gap);
}

/* ---- the sheet of images ------------------------------------------------------------------ */

/* Thin gutters on a mid grey: dark and light images both stand apart from it. */
#define SHEET_GUTTER 2
#define SHEET_GREY 96

int plot_sheet_images_layout(plot_sheet *sh, int64_t count, int h, int w, int cols, int scale)
{
	memset(sh, 0, sizeof *sh);
	if (h < 1 || w < 1 || scale < 1 || (int64_t)h * scale > PLOT_CANVAS_MAX ||
	    (int64_t)w * scale > PLOT_CANVAS_MAX)
		return err_set(DN_EARG, "contact sheet: images of %dx%d zoomed %d times do not fit", w, h,
		               scale);
	return plot_sheet_layout(sh, count, cols, w * scale, h * scale, SHEET_GUTTER, 0);
}

int plot_sheet_images(const plot_sheet *sh, const uint8_t *images, int scale, plot_canvas *out)
{
	int rc = plot_canvas_init(out, sh->w, sh->h);
	if (rc < 0)
		return rc;
	plot_clear(out, (plot_rgb){SHEET_GREY, SHEET_GREY, SHEET_GREY});
	size_t w = (size_t)(sh->cw / scale), h = (size_t)(sh->ch / scale);
	for (int64_t i = 0; i < sh->n; i++) {
		int gx, gy;
		plot_sheet_cell(sh, i, &gx, &gy);
		const uint8_t *img = images + (size_t)i * h * w * 3;
		for (int y = 0; y < sh->ch; y++)
			for (int x = 0; x < sh->cw; x++)
				memcpy(out->px + ((size_t)(gy + y) * (size_t)out->w + (size_t)(gx + x)) * 3,
				       img + ((size_t)(y / scale) * w + (size_t)(x / scale)) * 3, 3);
	}
	return 0;
}
