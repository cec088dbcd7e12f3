/* plot.c - raster canvas, anti-aliased primitives, text, and the plot-frames figures
 * (see plot.h). */
#include "draw/plot.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "stream/npy.h"
#include "base/rng.h"

/* House colours.  Markers: the Okabe & Ito (2008) colour-blind-safe set, which separates
 * blue from vermillion for every common kind of colour blindness. */
const plot_rgb plot_white = {255, 255, 255};
const plot_rgb plot_ink = {34, 34, 34};
const plot_rgb plot_grey = {100, 100, 100};
const plot_rgb plot_grid = {234, 234, 234};
const plot_rgb plot_border = {190, 190, 190};
const plot_rgb plot_source_rgb = {0, 114, 178};  /* Okabe-Ito blue */
const plot_rgb plot_target_rgb = {213, 94, 0};   /* Okabe-Ito vermillion */
/* Ten classes: the seven Okabe-Ito hues (yellow darkened so it reads on white), then black,
 * and two of Paul Tol's "muted" colours (wine, olive), which stay apart from the others
 * under deuteranopia and protanopia simulation. */
const plot_rgb plot_class_rgb[10] = {
	{0, 114, 178},   /* 0 blue */
	{230, 159, 0},   /* 1 orange */
	{0, 158, 115},   /* 2 bluish green */
	{213, 94, 0},    /* 3 vermillion */
	{204, 121, 167}, /* 4 reddish purple */
	{86, 180, 233},  /* 5 sky blue */
	{204, 187, 34},  /* 6 yellow (darkened) */
	{40, 40, 40},    /* 7 black */
	{136, 34, 85},   /* 8 wine */
	{153, 153, 51},  /* 9 olive */
};

/* ---- canvas ----------------------------------------------------------------------------- */

int plot_canvas_init(plot_canvas *c, int w, int h)
{
	memset(c, 0, sizeof *c);
	if (w <= 0 || h <= 0 || w > 32768 || h > 32768)
		return err_set(DN_EARG, "canvas size %dx%d out of range", w, h);
	c->px = malloc((size_t)w * (size_t)h * 3);
	if (!c->px)
		return err_set(DN_ENOMEM, "canvas %dx%d: out of memory", w, h);
	c->w = w;
	c->h = h;
	plot_unclip(c);
	return 0;
}

void plot_canvas_free(plot_canvas *c)
{
	free(c->px);
	free(c->cov);
	memset(c, 0, sizeof *c);
}

void plot_clear(plot_canvas *c, plot_rgb bg)
{
	size_t n = (size_t)c->w * (size_t)c->h;
	uint8_t *p = c->px;
	if (bg.r == bg.g && bg.g == bg.b) {
		memset(p, bg.r, n * 3);
		return;
	}
	for (size_t i = 0; i < n; i++, p += 3) {
		p[0] = bg.r;
		p[1] = bg.g;
		p[2] = bg.b;
	}
}

void plot_unclip(plot_canvas *c)
{
	c->cx0 = 0;
	c->cy0 = 0;
	c->cx1 = c->w;
	c->cy1 = c->h;
}

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }
static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

void plot_clip(plot_canvas *c, int x0, int y0, int x1, int y1)
{
	c->cx0 = imax(0, x0);
	c->cy0 = imax(0, y0);
	c->cx1 = imin(c->w, x1);
	c->cy1 = imin(c->h, y1);
}

/* Blend with weight a in 0..256 (256 = opaque); exact at both ends. */
static inline void blend(uint8_t *p, plot_rgb col, int a)
{
	int b = 256 - a;
	p[0] = (uint8_t)((col.r * a + p[0] * b + 128) >> 8);
	p[1] = (uint8_t)((col.g * a + p[1] * b + 128) >> 8);
	p[2] = (uint8_t)((col.b * a + p[2] * b + 128) >> 8);
}

static inline int alpha256(double a)
{
	return (int)lrint(clamp01(a) * 256.0);
}

void plot_fill_rect(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgb col, double alpha)
{
	x0 = imax(x0, c->cx0);
	y0 = imax(y0, c->cy0);
	x1 = imin(x1, c->cx1);
	y1 = imin(y1, c->cy1);
	int a = alpha256(alpha);
	if (a == 0)
		return;
	for (int y = y0; y < y1; y++) {
		uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x0) * 3;
		for (int x = x0; x < x1; x++, p += 3)
			blend(p, col, a);
	}
}

/* Shared body of discs and rings: coverage of a pixel whose centre is at distance d is
 * (r_out + 0.5 - d) clamped to [0,1], minus the same for the inner radius (rings). */
static void disc_or_ring(plot_canvas *c, double cx, double cy, double r, double ri, plot_rgb col,
                         double alpha)
{
	if (!(r > 0) || !isfinite(cx) || !isfinite(cy))
		return;
	double reach = r + 0.5;
	double fx0 = floor(cx - reach), fy0 = floor(cy - reach);
	double fx1 = ceil(cx + reach), fy1 = ceil(cy + reach);
	if (fx1 <= c->cx0 || fy1 <= c->cy0 || fx0 >= c->cx1 || fy0 >= c->cy1)
		return;
	int x0 = imax((int)fx0, c->cx0), y0 = imax((int)fy0, c->cy0);
	int x1 = imin((int)fx1, c->cx1), y1 = imin((int)fy1, c->cy1);
	float a = (float)clamp01(alpha) * 256.0f;
	float ro = (float)(r + 0.5), rin = (float)(ri + 0.5);
	float rfull = ro - 1.0f; /* inside this radius coverage is 1 */
	for (int y = y0; y < y1; y++) {
		float dy = (float)(y + 0.5 - cy);
		uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x0) * 3;
		for (int x = x0; x < x1; x++, p += 3) {
			float dx = (float)(x + 0.5 - cx);
			float d2 = dx * dx + dy * dy;
			if (d2 >= ro * ro)
				continue;
			float cov;
			if (d2 <= rfull * rfull && rfull > 0)
				cov = 1.0f;
			else
				cov = ro - sqrtf(d2);
			if (ri > -0.5) {
				float d = sqrtf(d2);
				float inner = rin - d;
				inner = inner < 0 ? 0 : inner > 1 ? 1 : inner;
				cov -= inner;
			}
			if (cov <= 0)
				continue;
			if (cov > 1)
				cov = 1;
			int ai = (int)(a * cov + 0.5f);
			if (ai > 0)
				blend(p, col, ai);
		}
	}
}

void plot_disc(plot_canvas *c, double cx, double cy, double r, plot_rgb col, double alpha)
{
	disc_or_ring(c, cx, cy, r, -1.0, col, alpha);
}

void plot_ring(plot_canvas *c, double cx, double cy, double r, double width, plot_rgb col,
               double alpha)
{
	double ri = r - width;
	disc_or_ring(c, cx, cy, r, ri > 0 ? ri : -1.0, col, alpha);
}

int plot_polyline(plot_canvas *c, const double *x, const double *y, int n, double width,
                  double dash, plot_rgb col)
{
	if (n <= 0)
		return 0;
	if (!c->cov) {
		c->cov = calloc((size_t)c->w * (size_t)c->h, sizeof(float));
		if (!c->cov)
			return err_set(DN_ENOMEM, "line coverage %dx%d: out of memory", c->w, c->h);
	}
	double hw = width / 2 + 0.5;
	int bx0 = c->cx1, by0 = c->cy1, bx1 = c->cx0, by1 = c->cy0;
	double along = 0;
	for (int i = 0; i < n; i++) {
		double ax = x[i], ay = y[i];
		double bx = i + 1 < n ? x[i + 1] : ax, by = i + 1 < n ? y[i + 1] : ay;
		if (n > 1 && i + 1 == n)
			break;
		if (!isfinite(ax) || !isfinite(ay) || !isfinite(bx) || !isfinite(by))
			continue;
		double dx = bx - ax, dy = by - ay;
		double len2 = dx * dx + dy * dy, len = sqrt(len2);
		double fx0 = floor(fmin(ax, bx) - hw), fx1 = ceil(fmax(ax, bx) + hw);
		double fy0 = floor(fmin(ay, by) - hw), fy1 = ceil(fmax(ay, by) + hw);
		if (fx1 <= c->cx0 || fy1 <= c->cy0 || fx0 >= c->cx1 || fy0 >= c->cy1) {
			along += len;
			continue;
		}
		int x0 = imax((int)fx0, c->cx0), y0 = imax((int)fy0, c->cy0);
		int x1 = imin((int)fx1, c->cx1), y1 = imin((int)fy1, c->cy1);
		bx0 = imin(bx0, x0);
		by0 = imin(by0, y0);
		bx1 = imax(bx1, x1);
		by1 = imax(by1, y1);
		for (int py = y0; py < y1; py++) {
			float *cv = c->cov + (size_t)py * (size_t)c->w;
			for (int px = x0; px < x1; px++) {
				double qx = px + 0.5 - ax, qy = py + 0.5 - ay;
				double t = len2 > 0 ? (qx * dx + qy * dy) / len2 : 0;
				t = clamp01(t);
				if (dash > 0 && fmod(along + t * len, 2 * dash) >= dash)
					continue;
				double ex = qx - t * dx, ey = qy - t * dy;
				double cov = hw - sqrt(ex * ex + ey * ey);
				if (cov <= 0)
					continue;
				float cf = (float)(cov > 1 ? 1 : cov);
				if (cf > cv[px])
					cv[px] = cf;
			}
		}
		along += len;
	}
	for (int py = by0; py < by1; py++) {
		float *cv = c->cov + (size_t)py * (size_t)c->w;
		uint8_t *p = c->px + ((size_t)py * (size_t)c->w + (size_t)bx0) * 3;
		for (int px = bx0; px < bx1; px++, p += 3) {
			if (cv[px] > 0) {
				blend(p, col, (int)(cv[px] * 256.0f + 0.5f));
				cv[px] = 0;
			}
		}
	}
	return 0;
}

/* ---- text ------------------------------------------------------------------------------- */

int plot_text_width(const font_t *f, int scale, const char *s)
{
	return font_utf8_len(s) * f->w * scale;
}

int plot_text(plot_canvas *c, const font_t *f, int scale, int x, int y, const char *s,
              plot_rgb col)
{
	int x0 = x;
	uint32_t cp;
	while ((cp = font_utf8_next(&s)) != 0) {
		const uint16_t *g = font_glyph(f, cp);
		for (int r = 0; r < f->h; r++) {
			uint16_t bits = g[r];
			for (int b = 0; bits && b < f->w; b++) {
				if (!(bits & (0x8000u >> b)))
					continue;
				int px = x + b * scale, py = y + r * scale;
				plot_fill_rect(c, px, py, px + scale, py + scale, col, 1.0);
			}
		}
		x += f->w * scale;
	}
	return x - x0;
}

/* Copy s into buf, cut to at most maxw pixels with "…" at the end if it had to be cut. */
static const char *fit_text(const font_t *f, int scale, const char *s, int maxw, char *buf,
                            size_t len)
{
	int cells = maxw / (f->w * scale);
	if (font_utf8_len(s) <= cells)
		return s;
	if (cells < 1) {
		buf[0] = '\0';
		return buf;
	}
	const char *p = s;
	for (int i = 0; i < cells - 1 && font_utf8_next(&p);)
		i++;
	size_t n = (size_t)(p - s);
	if (n + 4 > len)
		n = len - 4;
	memcpy(buf, s, n);
	memcpy(buf + n, "\xe2\x80\xa6", 4); /* U+2026 horizontal ellipsis */
	return buf;
}

void plot_blit(plot_canvas *dst, const plot_canvas *src, int x, int y)
{
	int x0 = imax(0, x), x1 = imin(dst->w, x + src->w);
	int y0 = imax(0, y), y1 = imin(dst->h, y + src->h);
	if (x1 <= x0)
		return;
	for (int yy = y0; yy < y1; yy++)
		memcpy(dst->px + ((size_t)yy * (size_t)dst->w + (size_t)x0) * 3,
		       src->px + ((size_t)(yy - y) * (size_t)src->w + (size_t)(x0 - x)) * 3,
		       (size_t)(x1 - x0) * 3);
}

/* ---- ticks ------------------------------------------------------------------------------ */

void plot_nice_ticks(double lo, double hi, int maxn, plot_ticks *t)
{
	memset(t, 0, sizeof *t);
	if (!isfinite(lo) || !isfinite(hi))
		return;
	if (maxn < 2)
		maxn = 2;
	if (maxn > 20)
		maxn = 20;
	if (hi < lo) {
		double s = lo;
		lo = hi;
		hi = s;
	}
	double range = hi - lo;
	if (!(range > 0))
		range = fabs(lo) > 0 ? fabs(lo) * 0.2 : 1.0, lo -= range / 2, hi += range / 2;
	double raw = range / maxn;
	double mag = pow(10, floor(log10(raw)));
	double norm = raw / mag;
	double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
	double first = ceil(lo / step - 1e-9) * step;
	for (double v = first; v <= hi + step * 1e-9 && t->n < 24; v = first + step * t->n) {
		t->v[t->n++] = fabs(v) < step * 1e-9 ? 0.0 : v;
	}
	t->step = step;
	int dec = (int)-floor(log10(step) + 1e-9);
	t->decimals = dec > 0 ? dec : 0;
	double amax = fmax(fabs(lo), fabs(hi));
	if (step >= 1000 && amax >= 10000) {
		t->kilo = 1;
		int dk = (int)-floor(log10(step / 1000) + 1e-9);
		t->decimals = dk > 0 ? dk : 0;
	}
}

void plot_tick_label(const plot_ticks *t, double v, char *buf, size_t len)
{
	/* Extreme axes (values from 1e6 up to 3e38, or steps below 1e-4) in e-notation with the
	 * digits the step needs ("2.5e+30", "0"), so labels stay short whatever the data. */
	double amax = t->n ? fmax(fabs(t->v[0]), fabs(t->v[t->n - 1])) : fabs(v);
	int sci = amax >= 1e6 || t->step >= 1e6 || t->decimals > 4;
	if (v == 0 && sci)
		snprintf(buf, len, "0");
	else if (sci)
		snprintf(buf, len, "%.*e", imax(0, imin(16, (int)(floor(log10(fabs(v)) + 1e-9) -
		                                               floor(log10(t->step) + 1e-9)))), v);
	else if (t->kilo)
		snprintf(buf, len, "%.*fk", t->decimals, v / 1000);
	else
		snprintf(buf, len, "%.*f", t->decimals, v);
	if (strcmp(buf, "-0") == 0)
		snprintf(buf, len, "0");
}

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

#define PAD 10

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

/* A 1-pixel rectangle outline just outside [x0,x1) x [y0,y1). */
static void outline(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgb col)
{
	plot_fill_rect(c, x0 - 1, y0 - 1, x1 + 1, y0, col, 1.0);
	plot_fill_rect(c, x0 - 1, y1, x1 + 1, y1 + 1, col, 1.0);
	plot_fill_rect(c, x0 - 1, y0, x0, y1, col, 1.0);
	plot_fill_rect(c, x1, y0, x1 + 1, y1, col, 1.0);
}

static void draw_title(plot_canvas *c, const font_t *f, int scale, int y, int x0, int x1,
                       const char *title)
{
	if (!title || !*title)
		return;
	char buf[1024];
	const char *t = fit_text(f, scale, title, x1 - x0, buf, sizeof buf);
	int tw = plot_text_width(f, scale, t);
	plot_text(c, f, scale, x0 + (x1 - x0 - tw) / 2, y, t, plot_ink);
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
		outline(c, s->px0, s->py0, s->px1, s->py1, plot_border);
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
		draw_title(c, s->tfont, s->tscale, s->title_y, PAD, s->w - PAD, title);
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
			const char *t = fit_text(s->lfont, 1, rows[i].text, maxw, tb, sizeof tb);
			plot_text(c, s->lfont, 1, x + 22, y, t, plot_ink);
		}
		ly += (ndig ? per_col * rowh + rowh / 2 : 0) + (nr - ndig) * rowh;
		if (o->ticks) {
			snprintf(buf, sizeof buf, "%lld points", (long long)n);
			plot_text(c, s->sfont, 1, lx + 22, ly + 4, buf, plot_grey);
		}
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

/* ---- contact sheet ---------------------------------------------------------------------- */

int plot_sheet_prepare(plot_sheet *sh, int n, int cols, int tw, int th, int has_title)
{
	memset(sh, 0, sizeof *sh);
	if (n <= 0)
		return err_set(DN_EARG, "contact sheet: no frames");
	if (cols <= 0)
		cols = (int)ceil(sqrt((double)n * th / tw * 1.3));
	cols = imax(1, imin(cols, n));
	sh->cols = cols;
	sh->rows = (n + cols - 1) / cols;
	sh->tw = tw;
	sh->th = th;
	sh->pad = PAD;
	sh->header = PAD + (has_title ? font_title.h + PAD : 0) + font_body.h + PAD + 4;
	int64_t w = (int64_t)PAD + (int64_t)cols * (tw + PAD);
	int64_t h = (int64_t)sh->header + (int64_t)sh->rows * (th + PAD);
	if (w > 32768 || h > 32768)
		return err_set(DN_EARG, "contact sheet of %d frames would be %lldx%lld pixels (at most 32768)",
		               n, (long long)w, (long long)h);
	sh->w = (int)w;
	sh->h = (int)h;
	return 0;
}

void plot_sheet_header(const plot_sheet *sh, plot_canvas *c, const plot_scatter_opts *o,
                       const char *title)
{
	plot_unclip(c);
	plot_clear(c, plot_white);
	int y = PAD;
	if (title && *title) {
		draw_title(c, &font_title, 1, y, PAD, sh->w - PAD, title);
		y += font_title.h + PAD;
	}
	legend_row rows[12];
	int nr = legend_rows(o, rows);
	int total = 0;
	for (int i = 0; i < nr; i++)
		total += 18 + plot_text_width(&font_body, 1, rows[i].text) + 14;
	int x = imax(PAD, (sh->w - total) / 2);
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

void plot_sheet_cell(const plot_sheet *sh, int i, int *x, int *y)
{
	*x = sh->pad + (i % sh->cols) * (sh->tw + sh->pad);
	*y = sh->header + (i / sh->cols) * (sh->th + sh->pad);
}

/* ---- training curves -------------------------------------------------------------------- */

/* Colours of overlaid logs (Okabe-Ito order), and of the two metrics of a panel when there
 * is a single log. */
static const plot_rgb log_rgb[6] = {
	{0, 114, 178}, {213, 94, 0}, {0, 158, 115}, {230, 159, 0}, {204, 121, 167}, {86, 180, 233}};

typedef struct {
	const char *title;
	int col[2];            /* metric columns */
	const char *name[2];
	int right_axis;        /* second metric on its own right-hand axis */
	int zero_floor;        /* include 0 in the range */
} panel_def;

/* COL_PAD: the series of a plot_pad_table instead of a metrics column */
enum { COL_PAD = -1 };

static const panel_def panels[4] = {
	{"Losses", {MET_LABEL_LOSS, MET_DOMAIN_LOSS}, {"label loss", "domain loss"}, 0, 1},
	{"Schedules", {MET_LAMBDA, MET_LR}, {"\xce\xbb (adaptation weight)", "learning rate (right axis)"}, 1, 1},
	{"Accuracy", {MET_SOURCE_ACC, MET_TARGET_ACC}, {"source accuracy", "target accuracy"}, 0, 0},
	{"Alignment", {COL_PAD, MET_DOMAIN_ACC}, {"PAD (0 alike, 2 apart)", "domain acc. (right)"}, 1, 1},
};

/* Log l's values of `col` and their steps: a metrics column, or the PAD series of layer j. */
static int64_t series(const metrics_log *logs, const plot_pad_table *pad, int l, int col, int j,
                      const double **xs, const double **ys)
{
	if (col == COL_PAD) {
		*xs = pad->step[l * PLOT_PAD_LAYERS + j];
		*ys = pad->pad[l * PLOT_PAD_LAYERS + j];
		return pad->n[l * PLOT_PAD_LAYERS + j];
	}
	*xs = logs[l].col[MET_STEP];
	*ys = logs[l].col[col];
	return logs[l].n;
}

/* Series in column `col` (1, or one per layer for the PAD). */
static int nseries(const plot_pad_table *pad, int col)
{
	return col == COL_PAD ? pad->nlayers : 1;
}

static int64_t series_count(const metrics_log *logs, const plot_pad_table *pad, int l, int col,
                            int j)
{
	return col == COL_PAD ? pad->n[l * PLOT_PAD_LAYERS + j] : metrics_count(&logs[l], col);
}

/* Range of column `col` over all logs; returns 0 if it has no finite value. */
static int col_range(const metrics_log *logs, const plot_pad_table *pad, int nlogs, int col,
                     double *lo, double *hi)
{
	int any = 0;
	for (int l = 0; l < nlogs; l++)
		for (int j = 0; j < nseries(pad, col); j++) {
			const double *xs, *ys;
			int64_t n = series(logs, pad, l, col, j, &xs, &ys);
			for (int64_t i = 0; i < n; i++) {
				double v = ys[i];
				if (!isfinite(v))
					continue;
				if (!any || v < *lo)
					*lo = v;
				if (!any || v > *hi)
					*hi = v;
				any = 1;
			}
		}
	return any;
}

/* Ticks and limits snapped outward to whole steps. */
static void axis_range(double lo, double hi, int zero_floor, int cap_one, int maxn, plot_ticks *t,
                       double *alo, double *ahi)
{
	if (zero_floor && lo > 0)
		lo = 0;
	int at_most_one = hi <= 1;
	if (!(hi > lo)) {
		double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 0.5;
		lo -= d;
		hi += d;
		if (zero_floor && lo < 0 && hi - d >= 0)
			lo = 0;
	}
	plot_nice_ticks(lo, hi, maxn, t);
	double s = t->step;
	double nlo = floor(lo / s + 1e-9) * s, nhi = ceil(hi / s - 1e-9) * s;
	if (cap_one && at_most_one && nhi > 1)
		nhi = 1;
	plot_nice_ticks(nlo, nhi, maxn, t);
	*alo = nlo;
	*ahi = nhi;
}

/* The step axis range over all logs (and PAD series: snapshot 0 is at step 0). */
static void step_range(const metrics_log *logs, const plot_pad_table *pad, int nlogs, double *lo,
                       double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (int l = 0; l < nlogs; l++)
		for (int k = 0; k < (pad ? 1 + pad->nlayers : 1); k++) {
			const double *xs, *ys;
			int64_t n = series(logs, pad, l, k ? COL_PAD : MET_STEP, k - 1, &xs, &ys);
			for (int64_t i = 0; i < n; i++) {
				*lo = fmin(*lo, xs[i]);
				*hi = fmax(*hi, xs[i]);
			}
		}
	if (!(*hi > *lo)) {
		*lo -= 1;
		*hi += 1;
	}
}

/* Draw n points (steps sx, values sy) into the box, mapping with the given limits. */
static int draw_series(plot_canvas *c, int64_t n, const double *sx, const double *sy, double x0,
                       double x1, double y0, double y1, int bx0, int by0, int bx1, int by1,
                       plot_rgb rgb, double dash)
{
	double *xs = malloc((size_t)(n ? n : 1) * sizeof *xs);
	double *ys = malloc((size_t)(n ? n : 1) * sizeof *ys);
	if (!xs || !ys) {
		free(xs);
		free(ys);
		return err_set(DN_ENOMEM, "curves: out of memory");
	}
	int k = 0;
	for (int64_t i = 0; i < n; i++) {
		double v = sy[i];
		if (!isfinite(v))
			continue; /* nan: not measured at this step; the line joins its neighbours */
		xs[k] = bx0 + (sx[i] - x0) / (x1 - x0) * (bx1 - bx0 - 1) + 0.5;
		ys[k] = by1 - 0.5 - (v - y0) / (y1 - y0) * (by1 - by0 - 1);
		k++;
	}
	int rc = plot_polyline(c, xs, ys, k, 2.0, dash, rgb);
	if (rc == 0 && k <= 40)
		for (int i = 0; i < k; i++)
			plot_disc(c, xs[i], ys[i], 2.6, rgb, 1.0);
	free(xs);
	free(ys);
	return rc;
}

/* A short line sample for a legend, at (x, y centre), 24 px long. */
static int legend_line(plot_canvas *c, int x, double y, plot_rgb col, double dash)
{
	double xs[2] = {x, x + 24}, ys[2] = {y, y};
	return plot_polyline(c, xs, ys, 2, 2.0, dash, col);
}

int plot_curves(plot_canvas *c, const metrics_log *logs, const char *const *names, int nlogs,
                const char *title, const plot_pad_table *pad)
{
	if (pad && pad->nlogs != nlogs)
		return err_set(DN_EARG, "curves: a PAD table for %d logs, %d logs", pad->nlogs, nlogs);
	if (nlogs <= 0)
		return err_set(DN_EARG, "curves: no metrics log");
	if (c->w < 300 || c->h < 300)
		return err_set(DN_EARG, "curves: size %dx%d too small (at least 300x300)", c->w, c->h);
	plot_unclip(c);
	plot_clear(c, plot_white);
	const font_t *tf = &font_title, *bf = &font_body, *sf = &font_small;
	const double dashes[2] = {0, 7};
	const double layer_dash[PLOT_PAD_LAYERS] = {0, 2.5, 14};
	int y = PAD;
	if (title && *title) {
		draw_title(c, tf, 1, y, PAD, c->w - PAD, title);
		y += tf->h + PAD;
	}
	/* Log legend (colours), when several logs are overlaid. */
	if (nlogs > 1) {
		int x = PAD + 60;
		for (int l = 0; l < nlogs; l++) {
			char tb[256];
			const char *t = fit_text(bf, 1, names[l], 220, tb, sizeof tb);
			int need = 30 + plot_text_width(bf, 1, t) + 20;
			if (x + need > c->w - PAD && x > PAD + 60) {
				x = PAD + 60;
				y += bf->h + 6;
			}
			plot_fill_rect(c, x, y + bf->h / 2 - 1, x + 24, y + bf->h / 2 + 2,
			               log_rgb[l % 6], 1.0);
			plot_text(c, bf, 1, x + 30, y, t, plot_ink);
			x += need;
		}
		y += bf->h + PAD;
	}
	double sx0, sx1;
	step_range(logs, pad, nlogs, &sx0, &sx1);
	int bottom_note = sf->h + 4 + bf->h + PAD; /* x tick labels + "step" on the last panel */
	int avail = c->h - y - bottom_note;
	int npanel = pad ? 4 : 3;
	int ph = avail / npanel;
	int left = PAD + 56, right = PAD + 64;
	int bx0 = left, bx1 = c->w - right;
	plot_ticks xt;
	plot_nice_ticks(sx0, sx1, imax(2, (bx1 - bx0) / 100), &xt);
	char buf[64];
	for (int p = 0; p < npanel; p++) {
		const panel_def *pd = &panels[p];
		int top = y + p * ph;
		int hy = top + 2;                 /* panel header row */
		int by0 = hy + bf->h + 8, by1 = top + ph - sf->h - 8 - 14; /* 14: gap to the next panel */
		if (p == npanel - 1)
			by1 = top + ph - 4;
		/* Data map into a box inset from the frame, so lines at the limits stay whole. */
		int ix0 = bx0 + 4, ix1 = bx1 - 4, iy0 = by0 + 5, iy1 = by1 - 5;
		/* Axis ranges. */
		double lo[2] = {0, 0}, hi[2] = {0, 0};
		int have[2];
		for (int k = 0; k < 2; k++)
			have[k] = col_range(logs, pad, nlogs, pd->col[k], &lo[k], &hi[k]);
		if (pd->col[0] == COL_PAD) {
			/* the whole scale, 0 (alike) to 2 (told apart); the domain accuracy a on the right
			 * is drawn on the same scale, 2 (2a - 1): chance (0.5) level with PAD 0 */
			lo[0] = fmin(have[0] ? lo[0] : 0, 0);
			if (have[1])
				lo[0] = fmin(lo[0], 2 * (2 * lo[1] - 1));
			hi[0] = 2;
			have[0] = 1;
		}
		plot_ticks yt[2];
		double alo[2], ahi[2];
		int nax = pd->right_axis ? 2 : 1;
		if (!pd->right_axis && have[1]) {
			if (!have[0]) {
				lo[0] = lo[1];
				hi[0] = hi[1];
			} else {
				lo[0] = fmin(lo[0], lo[1]);
				hi[0] = fmax(hi[0], hi[1]);
			}
			have[0] = 1;
		}
		int maxn = imax(3, (by1 - by0) / 32);
		for (int k = 0; k < nax; k++) {
			if (!have[k]) {
				lo[k] = 0;
				hi[k] = 1;
			}
			int cap = p == 2 || pd->col[k] == MET_LAMBDA || pd->col[k] == MET_DOMAIN_ACC;
			axis_range(lo[k], hi[k], pd->zero_floor, cap, maxn, &yt[k], &alo[k], &ahi[k]);
		}
		if (pd->col[0] == COL_PAD) {
			alo[1] = 0.5 + alo[0] / 4;
			ahi[1] = 0.5 + ahi[0] / 4;
			plot_nice_ticks(alo[1], ahi[1], maxn, &yt[1]);
		}
		if (!pd->right_axis) {
			yt[1] = yt[0];
			alo[1] = alo[0];
			ahi[1] = ahi[0];
		}
		/* Grid, frame, tick labels. */
		for (int i = 0; i < xt.n; i++) {
			int x = ix0 + (int)floor((xt.v[i] - sx0) / (sx1 - sx0) * (ix1 - ix0 - 1));
			if (x > bx0 && x < bx1 - 1)
				plot_fill_rect(c, x, by0, x + 1, by1, plot_grid, 1.0);
			if (x < bx0 || x > bx1 - 1)
				continue;
			plot_tick_label(&xt, xt.v[i], buf, sizeof buf);
			int tw = plot_text_width(sf, 1, buf);
			plot_text(c, sf, 1, x - tw / 2, by1 + 4, buf, plot_grey);
		}
		for (int k = 0; k < nax; k++) {
			for (int i = 0; i < yt[k].n; i++) {
				double fy = (yt[k].v[i] - alo[k]) / (ahi[k] - alo[k]);
				int yy = iy1 - 1 - (int)floor(fy * (iy1 - iy0 - 1) + 0.5);
				if (k == 0 && yy > by0 && yy < by1 - 1)
					plot_fill_rect(c, bx0, yy, bx1, yy + 1, plot_grid, 1.0);
				plot_tick_label(&yt[k], yt[k].v[i], buf, sizeof buf);
				int tw = plot_text_width(sf, 1, buf);
				int tx = k == 0 ? bx0 - 6 - tw : bx1 + 6;
				plot_text(c, sf, 1, tx, yy - sf->h / 2, buf, plot_grey);
			}
		}
		outline(c, bx0, by0, bx1, by1, plot_border);
		plot_text(c, bf, 1, bx0, hy, pd->title, plot_ink);
		/* Series, clipped to the box. */
		plot_clip(c, bx0, by0, bx1, by1);
		for (int l = 0; l < nlogs; l++)
			for (int k = 0; k < 2; k++)
				for (int j = 0; j < nseries(pad, pd->col[k]); j++) {
					if (series_count(logs, pad, l, pd->col[k], j) == 0)
						continue;
					plot_rgb rgb = nlogs > 1 ? log_rgb[l % 6] : log_rgb[k];
					int ax = pd->right_axis ? k : 0;
					const double *xs, *ys;
					int64_t n = series(logs, pad, l, pd->col[k], j, &xs, &ys);
					int rc = draw_series(c, n, xs, ys, sx0, sx1, alo[ax], ahi[ax], ix0, iy0, ix1,
					                     iy1, rgb, pd->col[k] == COL_PAD ? layer_dash[j] : dashes[k]);
					if (rc < 0)
						return rc;
				}
		if (pd->col[0] == COL_PAD && pad->has_ref) {
			/* the reference (raw pixels) as a dotted level, named at its left end */
			double ly = iy1 - 0.5 - (pad->ref - alo[0]) / (ahi[0] - alo[0]) * (iy1 - iy0 - 1);
			double lx[2] = {ix0, ix1}, lys[2] = {ly, ly};
			int rc = plot_polyline(c, lx, lys, 2, 1.5, 3, plot_grey);
			if (rc < 0)
				return rc;
			snprintf(buf, sizeof buf, "%.40s: %.2f", pad->ref_name, pad->ref);
			int ty = ly - sf->h - 3 < by0 + 2 ? (int)ly + 3 : (int)ly - sf->h - 3;
			plot_text(c, sf, 1, ix0 + 6, ty, buf, plot_grey);
		}
		plot_unclip(c);
		/* Metric legend in the header row, right-aligned. */
		int lx = bx1;
		for (int k = 1; k >= 0; k--)
			for (int j = nseries(pad, pd->col[k]) - 1; j >= 0; j--) {
				char nm[64];
				/* one entry per PAD layer, named after it when there are several */
				if (pd->col[k] == COL_PAD && pad->nlayers > 1)
					snprintf(nm, sizeof nm, "PAD %.40s", pad->layer[j]);
				else
					snprintf(nm, sizeof nm, "%s", pd->name[k]);
				int present = 0;
				for (int l = 0; l < nlogs; l++)
					present |= series_count(logs, pad, l, pd->col[k], j) > 0;
				if (!present)
					continue;
				int tw = plot_text_width(bf, 1, nm);
				lx -= tw;
				plot_text(c, bf, 1, lx, hy, nm, plot_ink);
				lx -= 30;
				int rc = legend_line(c, lx, hy + bf->h / 2.0, nlogs > 1 ? plot_ink : log_rgb[k],
				                     pd->col[k] == COL_PAD ? layer_dash[j] : dashes[k]);
				if (rc < 0)
					return rc;
				lx -= 20;
			}
		if (!have[0] && !(pd->right_axis && have[1])) {
			const char *nd = "no values in the log";
			int tw = plot_text_width(bf, 1, nd);
			plot_text(c, bf, 1, (bx0 + bx1 - tw) / 2, (by0 + by1 - bf->h) / 2, nd, plot_grey);
		}
		if (p == npanel - 1) {
			int tw = plot_text_width(bf, 1, "step");
			plot_text(c, bf, 1, (bx0 + bx1 - tw) / 2, by1 + 4 + sf->h + 4, "step", plot_ink);
		}
	}
	return 0;
}

/* ---- PAD table ---------------------------------------------------------------------------- */

void plot_pad_free(plot_pad_table *t)
{
	for (int l = 0; l < t->nlogs * PLOT_PAD_LAYERS; l++) {
		if (t->step)
			free(t->step[l]);
		if (t->pad)
			free(t->pad[l]);
	}
	free(t->step);
	free(t->pad);
	free(t->n);
	memset(t, 0, sizeof *t);
}

/* Split `line` in place at tabs; stores the first max fields, returns how many there are. */
static int split_tabs(char *line, char **f, int max)
{
	int n = 0;
	for (char *p = line;;) {
		if (n < max)
			f[n] = p;
		n++;
		char *tab = strchr(p, '\t');
		if (!tab)
			return n;
		*tab = '\0';
		p = tab + 1;
	}
}

static int finite_number(const char *s, double *v)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	return *s && !*end && errno != ERANGE && isfinite(*v);
}

int plot_pad_read(FILE *f, const char *name, const char *const *names, int nlogs,
                  plot_pad_table *t)
{
	enum { MAXF = 64 };
	memset(t, 0, sizeof *t);
	char **lines;
	int nl, rc;
	if ((rc = plot_read_lines(f, name, &lines, &nl)) < 0)
		return rc;
	int ns = nlogs * PLOT_PAD_LAYERS, ok;
	t->nlogs = nlogs;
	t->n = calloc((size_t)ns, sizeof *t->n);
	t->step = calloc((size_t)ns, sizeof *t->step);
	t->pad = calloc((size_t)ns, sizeof *t->pad);
	ok = t->n && t->step && t->pad;
	for (int l = 0; ok && l < ns; l++) {
		t->step[l] = malloc(sizeof(double) * (size_t)(nl ? nl : 1));
		t->pad[l] = malloc(sizeof(double) * (size_t)(nl ? nl : 1));
		ok = t->step[l] && t->pad[l];
	}
	if (!ok) {
		rc = err_set(DN_ENOMEM, "%s: out of memory", name);
		goto fail;
	}
	char *fl[MAXF];
	int hdr = -1, nf = 0, cm = -1, cs = -1, cp = -1, cl = -1;
	for (int i = 0; i < nl; i++) {
		if (!lines[i][0] || lines[i][0] == '#')
			continue;
		int k = split_tabs(lines[i], fl, MAXF);
		if (hdr < 0) {
			hdr = i;
			nf = k;
			for (int j = 0; j < k && j < MAXF; j++) {
				int *col = !strcmp(fl[j], "model") ? &cm : !strcmp(fl[j], "step") ? &cs
				           : !strcmp(fl[j], "pad")  ? &cp : !strcmp(fl[j], "layer") ? &cl : NULL;
				if (col && *col >= 0) {
					rc = err_set(DN_EFORMAT, "%s: line %d: column '%.40s' twice", name, i + 1,
					             fl[j]);
					goto fail;
				}
				if (col)
					*col = j;
			}
			if (k > MAXF || cm < 0 || cs < 0 || cp < 0) {
				rc = err_set(DN_EFORMAT, "%s: line %d: expected a header with the columns model, "
				             "step and pad", name, i + 1);
				goto fail;
			}
			continue;
		}
		if (k != nf) {
			rc = err_set(DN_EFORMAT, "%s: line %d: %d fields, the header has %d", name, i + 1, k, nf);
			goto fail;
		}
		double step, v;
		if (!finite_number(fl[cp], &v)) {
			rc = err_set(DN_EFORMAT, "%s: line %d: pad '%.40s' is not a finite number", name,
			             i + 1, fl[cp]);
			goto fail;
		}
		if (!strcmp(fl[cs], "-")) {
			if (t->has_ref) {
				rc = err_set(DN_EFORMAT, "%s: line %d: a second reference row (step '-')", name, i + 1);
				goto fail;
			}
			t->has_ref = 1;
			t->ref = v;
			snprintf(t->ref_name, sizeof t->ref_name, "%s", fl[cm]);
			continue;
		}
		if (!finite_number(fl[cs], &step)) {
			rc = err_set(DN_EFORMAT, "%s: line %d: step '%.40s' is not a finite number", name,
			             i + 1, fl[cs]);
			goto fail;
		}
		int l = 0;
		while (l < nlogs && strcmp(fl[cm], names[l]))
			l++;
		if (l == nlogs) {
			rc = err_set(DN_EFORMAT, "%s: line %d: model '%.40s' is none of the logs' names", name,
			             i + 1, fl[cm]);
			goto fail;
		}
		const char *ly = cl >= 0 ? fl[cl] : "";
		int j = 0;
		while (j < t->nlayers && strncmp(ly, t->layer[j], sizeof t->layer[j] - 1))
			j++;
		if (j == t->nlayers) {
			if (j == PLOT_PAD_LAYERS) {
				rc = err_set(DN_EFORMAT, "%s: line %d: more than %d layers", name, i + 1,
				             PLOT_PAD_LAYERS);
				goto fail;
			}
			snprintf(t->layer[j], sizeof t->layer[j], "%s", ly);
			t->nlayers++;
		}
		int si = l * PLOT_PAD_LAYERS + j;
		t->step[si][t->n[si]] = step;
		t->pad[si][t->n[si]++] = v;
	}
	if (hdr < 0) {
		rc = err_set(DN_EFORMAT, "%s: no header line", name);
		goto fail;
	}
	plot_free_lines(lines, nl);
	return 0;
fail:
	plot_free_lines(lines, nl);
	plot_pad_free(t);
	return rc;
}

/* ---- titles file ------------------------------------------------------------------------ */

void plot_free_lines(char **lines, int n)
{
	for (int i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

int plot_read_lines(FILE *f, const char *name, char ***lines, int *n)
{
	char **v = NULL;
	int cnt = 0, cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	errno = 0;
	while ((len = getline(&line, &lcap, f)) >= 0) {
		if (memchr(line, '\0', (size_t)len)) {
			plot_free_lines(v, cnt);
			free(line);
			return err_set(DN_EFORMAT, "%s: line %d: binary data (NUL byte)", name, cnt + 1);
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (cnt == cap) {
			int nc = cap ? cap * 2 : 64;
			char **nv = cnt < (1 << 24) ? realloc(v, (size_t)nc * sizeof *nv) : NULL;
			if (!nv) {
				plot_free_lines(v, cnt);
				free(line);
				return err_set(DN_ENOMEM, "%s: too many lines", name);
			}
			v = nv;
			cap = nc;
		}
		v[cnt] = strdup(line);
		if (!v[cnt]) {
			plot_free_lines(v, cnt);
			free(line);
			return err_set(DN_ENOMEM, "%s: out of memory", name);
		}
		cnt++;
	}
	free(line);
	if (ferror(f)) {
		plot_free_lines(v, cnt);
		return err_set(DN_EIO, "%s: read error: %s", name, strerror(errno ? errno : EIO));
	}
	*lines = v;
	*n = cnt;
	return 0;
}
