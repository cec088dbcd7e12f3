/* scatter.c - the alignment frame: source and target points on shared axes (see scatter.h). */
#include "draw/scatter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/rng.h"

#define PAD PLOT_GAP

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

void plot_limits_init(double lim[4])
{
	lim[0] = INFINITY;
	lim[1] = -INFINITY;
	lim[2] = INFINITY;
	lim[3] = -INFINITY;
}

int plot_limits_add(double lim[4], const float *pts, int64_t n, const char *name)
{
	for (int64_t i = 0; i < n; i++) {
		double x = pts[2 * i], y = pts[2 * i + 1];
		if (!isfinite(x) || !isfinite(y))
			return err_set(DN_ERANGE, "%s: point %lld is not finite (%g, %g)", name, (long long)i,
			               x, y);
		lim[0] = fmin(lim[0], x);
		lim[1] = fmax(lim[1], x);
		lim[2] = fmin(lim[2], y);
		lim[3] = fmax(lim[3], y);
	}
	return 0;
}

/* Legend rows of a frame: the label and how the marker looks. */
typedef struct {
	const char *text;
	plot_rgb col;
	int ring;
} legend_row;

static int legend_rows(const plot_scatter_opts *o, legend_row *rows)
{
	static const char *digits[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
	int n = 0;
	if (o->color == PLOT_COLOR_DOMAIN) {
		rows[n++] = (legend_row){o->source_name, plot_source_rgb, 0};
		rows[n++] = (legend_row){o->target_name, plot_target_rgb, 0};
	} else {
		for (int k = 0; k < 10; k++)
			rows[n++] = (legend_row){digits[k], plot_class_rgb[k], 0};
		rows[n++] = (legend_row){o->source_name, plot_grey, 0};
		rows[n++] = (legend_row){o->target_name, plot_grey, 1};
	}
	return n;
}

static int tick_label_width(const plot_ticks *t, const font_t *f)
{
	int w = 0;
	char buf[48];
	for (int i = 0; i < t->n; i++) {
		plot_tick_label(t, t->v[i], buf, sizeof buf);
		w = imax(w, plot_text_width(f, 1, buf));
	}
	return w;
}

/* The data limits for the plot area: margin around the data, equal scales, room for the
 * marker radius at the edges. */
static void fit_limits(plot_scatter *s, const double lim[4])
{
	double cx = (lim[0] + lim[1]) / 2, cy = (lim[2] + lim[3]) / 2;
	double rx = (lim[1] - lim[0]) / 2 * 1.04, ry = (lim[3] - lim[2]) / 2 * 1.04;
	double rmax = fmax(rx, ry);
	if (!(rmax > 0))
		rmax = fabs(cx) + fabs(cy) > 0 ? (fabs(cx) + fabs(cy)) * 0.1 : 1.0;
	/* A span below what doubles resolve at this distance from 0 (points 1e-30 apart at 1e38)
	 * would give empty limits: such points are drawn as one. */
	rmax = fmax(rmax, 1e-9 * fmax(fabs(cx), fabs(cy)));
	/* A flat cloud (all y equal) would get an infinite scale: bound the aspect to 1:50. */
	rx = fmax(rx, rmax / 50);
	ry = fmax(ry, rmax / 50);
	double pw = s->px1 - s->px0, ph = s->py1 - s->py0;
	double edge = s->radius + 3;
	double uw = fmax(pw - 2 * edge, 4), uh = fmax(ph - 2 * edge, 4);
	double scale = fmin(uw / (2 * rx), uh / (2 * ry));
	s->xmin = cx - pw / (2 * scale);
	s->xmax = cx + pw / (2 * scale);
	s->ymin = cy - ph / (2 * scale);
	s->ymax = cy + ph / (2 * scale);
}

int plot_scatter_prepare(plot_scatter *s, const plot_scatter_opts *o, int w, int h,
                         const double lim[4])
{
	memset(s, 0, sizeof *s);
	if (!(lim[0] <= lim[1]) || !(lim[2] <= lim[3]))
		return err_set(DN_EARG, "no points to lay out");
	if (w < 64 || h < 48)
		return err_set(DN_EARG, "frame size %dx%d too small (at least 64x48)", w, h);
	s->o = *o;
	s->w = w;
	s->h = h;
	int big = h >= 360 && w >= 480;
	s->tfont = big ? &font_title : &font_small; /* small frames: room for long titles */
	s->lfont = big ? &font_body : &font_small;
	s->sfont = &font_small;
	s->tscale = (w >= 1600 && h >= 1000) ? 2 : 1;
	s->title_y = PAD;
	if (o->bare) {
		s->o.legend = s->o.ticks = 0;
	}
	int top = o->bare ? PAD : PAD + s->tfont->h * s->tscale + PAD;
	int right = PAD;
	if (s->o.legend) {
		legend_row rows[12];
		int nr = legend_rows(o, rows), tw = 0;
		for (int i = 0; i < nr; i++)
			tw = imax(tw, plot_text_width(s->lfont, 1, rows[i].text));
		char note[48];
		snprintf(note, sizeof note, "%s", "000000 points");
		tw = imax(tw, plot_text_width(s->sfont, 1, note) - 22);
		int lw = 22 + tw;                  /* marker column + text */
		lw = imin(lw, w / 3);
		right = PAD + lw + PAD;
	}
	int bottom = s->o.ticks ? PAD + s->sfont->h + 6 : PAD;
	int left = PAD;
	double min_side = fmin(w - right - left, h - top - bottom);
	/* Automatic markers: 3.3 px radius and 60% opacity for up to 2,000 points in a 520 px
	 * plot, smaller and lighter for more points, so big clouds still show their density. */
	double crowd = o->npoints > 2000 ? sqrt(2000.0 / (double)o->npoints) : 1.0;
	s->radius = o->radius > 0 ? o->radius
	                          : fmax(1.2, fmin(8.0, 3.3 * min_side / 520.0 * fmax(0.6, crowd)));
	s->alpha = o->alpha > 0 ? fmin(1.0, o->alpha) : fmax(0.2, 0.6 * crowd);
	/* Two passes: the width of the y tick labels depends on the limits, which depend on
	 * the plot area, which depends on that width. */
	for (int pass = 0; pass < 2; pass++) {
		s->px0 = left;
		s->px1 = w - right;
		s->py0 = top;
		s->py1 = h - bottom;
		if (s->px1 - s->px0 < 16 || s->py1 - s->py0 < 16)
			return err_set(DN_EARG, "frame size %dx%d leaves no room for the plot", w, h);
		fit_limits(s, lim);
		plot_nice_ticks(s->xmin, s->xmax, imax(3, (s->px1 - s->px0) / 80), &s->xt);
		plot_nice_ticks(s->ymin, s->ymax, imax(3, (s->py1 - s->py0) / 60), &s->yt);
		if (!s->o.ticks)
			break;
		left = PAD + tick_label_width(&s->yt, s->sfont) + 6;
	}
	/* Legend rows: one column; two columns of classes if that is too tall; then tighter. */
	s->legend_cols = 1;
	s->legend_rowh = s->lfont->h + 5;
	if (s->o.legend && o->color == PLOT_COLOR_CLASS) {
		int avail = s->py1 - s->py0 - 4;
		int note = s->o.ticks ? s->sfont->h + 4 : 0;
		if (12.5 * s->legend_rowh + note > avail)
			s->legend_cols = 2;
		if (7.5 * s->legend_rowh + note > avail)
			s->legend_rowh = s->lfont->h + 1;
	}
	return 0;
}

static double map_x(const plot_scatter *s, double x)
{
	return s->px0 + (x - s->xmin) / (s->xmax - s->xmin) * (s->px1 - s->px0);
}

static double map_y(const plot_scatter *s, double y)
{
	return s->py1 - (y - s->ymin) / (s->ymax - s->ymin) * (s->py1 - s->py0);
}

void plot_scatter_draw(const plot_scatter *s, plot_canvas *c, const float *pts,
                       const uint8_t *labels, const uint8_t *domains, const int64_t *order,
                       int64_t n, const char *title)
{
	const plot_scatter_opts *o = &s->o;
	char buf[64];
	plot_unclip(c);
	plot_clear(c, plot_white);
	/* Grid and tick labels. */
	for (int i = 0; i < s->xt.n && !o->bare; i++) {
		int x = (int)floor(map_x(s, s->xt.v[i]));
		if (x <= s->px0 || x >= s->px1 - 1)
			continue;
		plot_fill_rect(c, x, s->py0, x + 1, s->py1, plot_grid, 1.0);
		if (o->ticks) {
			plot_tick_label(&s->xt, s->xt.v[i], buf, sizeof buf);
			int tw = plot_text_width(s->sfont, 1, buf);
			plot_text(c, s->sfont, 1, x - tw / 2, s->py1 + 4, buf, plot_grey);
		}
	}
	for (int i = 0; i < s->yt.n && !o->bare; i++) {
		int y = (int)floor(map_y(s, s->yt.v[i]));
		if (y <= s->py0 || y >= s->py1 - 1)
			continue;
		plot_fill_rect(c, s->px0, y, s->px1, y + 1, plot_grid, 1.0);
		if (o->ticks) {
			plot_tick_label(&s->yt, s->yt.v[i], buf, sizeof buf);
			int tw = plot_text_width(s->sfont, 1, buf);
			plot_text(c, s->sfont, 1, s->px0 - 6 - tw, y - s->sfont->h / 2, buf, plot_grey);
		}
	}
	if (!o->bare)
		plot_outline(c, s->px0, s->py0, s->px1, s->py1, plot_border);
	/* Points. */
	plot_clip(c, s->px0, s->py0, s->px1, s->py1);
	double r = s->radius;
	double ring_w = fmax(1.0, r * 0.45);
	for (int64_t k = 0; k < n; k++) {
		int64_t i = order ? order[k] : k;
		double x = map_x(s, pts[2 * i]), y = map_y(s, pts[2 * i + 1]);
		int tgt = domains[i] != 0;
		if (o->color == PLOT_COLOR_DOMAIN) {
			plot_disc(c, x, y, r, tgt ? plot_target_rgb : plot_source_rgb, s->alpha);
		} else {
			plot_rgb col = plot_class_rgb[labels[i] % 10];
			if (tgt)
				plot_ring(c, x, y, r + 0.3, ring_w, col, fmin(1.0, s->alpha * 1.25));
			else
				plot_disc(c, x, y, r, col, s->alpha);
		}
	}
	plot_unclip(c);
	if (!o->bare)
		plot_title(c, s->tfont, s->tscale, s->title_y, PAD, s->w - PAD, title);
	/* Legend column right of the plot. */
	if (o->legend) {
		legend_row rows[12];
		int nr = legend_rows(o, rows);
		int lx = s->px1 + PAD, ly = s->py0 + 2;
		int rowh = s->legend_rowh;
		int maxw = s->w - PAD - (lx + 22);
		double mr = fmin(5.5, fmax(3.5, r * 1.3));
		if (rowh < s->lfont->h + 3)
			mr = fmin(mr, 4.0);
		int ndig = o->color == PLOT_COLOR_CLASS ? 10 : 0;
		int per_col = (ndig + s->legend_cols - 1) / s->legend_cols;
		for (int i = 0; i < nr; i++) {
			int x = lx, y;
			if (i < ndig) { /* the classes, in legend_cols columns */
				x += (i / per_col) * (s->lfont->w + 22 + 12);
				y = ly + (i % per_col) * rowh;
			} else {
				y = ly + (ndig ? per_col * rowh + rowh / 2 : 0) + (i - ndig) * rowh;
			}
			double mx = x + 8, my = y + s->lfont->h / 2.0;
			if (rows[i].ring)
				plot_ring(c, mx, my, mr, fmax(1.2, mr * 0.45), rows[i].col, 1.0);
			else
				plot_disc(c, mx, my, mr, rows[i].col, 1.0);
			char tb[256];
			const char *t = plot_fit_text(s->lfont, 1, rows[i].text, maxw, tb, sizeof tb);
			plot_text(c, s->lfont, 1, x + 22, y, t, plot_ink);
		}
		ly += (ndig ? per_col * rowh + rowh / 2 : 0) + (nr - ndig) * rowh;
		if (o->ticks) {
			snprintf(buf, sizeof buf, "%lld points", (long long)n);
			plot_text(c, s->sfont, 1, lx + 22, ly + 4, buf, plot_grey);
		}
	}
}

void plot_scatter_legend_row(plot_canvas *c, const plot_scatter_opts *o, int y, int w)
{
	legend_row rows[12];
	int nr = legend_rows(o, rows);
	int total = 0;
	for (int i = 0; i < nr; i++)
		total += 18 + plot_text_width(&font_body, 1, rows[i].text) + 14;
	int x = imax(PAD, (w - total) / 2);
	for (int i = 0; i < nr; i++) {
		double my = y + font_body.h / 2.0;
		if (rows[i].ring)
			plot_ring(c, x + 6, my, 5, 2, rows[i].col, 1.0);
		else
			plot_disc(c, x + 6, my, 5, rows[i].col, 1.0);
		x += 18;
		x += plot_text(c, &font_body, 1, x, y, rows[i].text, plot_ink) + 14;
	}
}

int plot_draw_order(int64_t n, uint64_t seed, int64_t **order)
{
	if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(int64_t))
		return err_set(DN_ENOMEM, "draw order: %lld points is too many", (long long)n);
	int64_t *o = malloc((size_t)(n ? n : 1) * sizeof *o);
	if (!o)
		return err_set(DN_ENOMEM, "draw order: out of memory");
	for (int64_t i = 0; i < n; i++)
		o[i] = i;
	rng_t r;
	rng_seed(&r, seed, 0x9107);
	rng_shuffle(&r, o, n);
	*order = o;
	return 0;
}

void plot_tween(float *out, const float *a, const float *b, int64_t n, double t)
{
	/* Smoothstep easing: points start and stop gently at the key frames. */
	double u = t * t * (3 - 2 * t);
	/* in double: b - a overflows float for points near +-3.4e38 on either side (the result,
	 * between a and b, always fits) */
	for (int64_t i = 0; i < 2 * n; i++)
		out[i] = (float)((double)a[i] + ((double)b[i] - (double)a[i]) * u);
}

int plot_key_colors(const plot_scatter_opts *o, plot_rgb *out, int max)
{
	plot_rgb all[20];
	int n = 0;
	all[n++] = plot_white;
	all[n++] = plot_ink;
	all[n++] = plot_grey;
	all[n++] = plot_grid;
	all[n++] = plot_border;
	if (o->color == PLOT_COLOR_DOMAIN) {
		all[n++] = plot_source_rgb;
		all[n++] = plot_target_rgb;
	} else {
		for (int k = 0; k < 10; k++)
			all[n++] = plot_class_rgb[k];
	}
	n = imin(n, max);
	memcpy(out, all, (size_t)n * sizeof *out);
	return n;
}
