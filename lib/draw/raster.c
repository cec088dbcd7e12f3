/* raster.c - the raster library: canvas, anti-aliased primitives, bitmap text, axis ticks
 * (see raster.h). */
#include "draw/raster.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

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
	if (w <= 0 || h <= 0 || w > PLOT_CANVAS_MAX || h > PLOT_CANVAS_MAX)
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

const char *plot_fit_text(const font_t *f, int scale, const char *s, int maxw, char *buf,
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

void plot_title(plot_canvas *c, const font_t *f, int scale, int y, int x0, int x1,
                const char *title)
{
	if (!title || !*title)
		return;
	char buf[1024];
	const char *t = plot_fit_text(f, scale, title, x1 - x0, buf, sizeof buf);
	int tw = plot_text_width(f, scale, t);
	plot_text(c, f, scale, x0 + (x1 - x0 - tw) / 2, y, t, plot_ink);
}

void plot_outline(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgb col)
{
	plot_fill_rect(c, x0 - 1, y0 - 1, x1 + 1, y0, col, 1.0);
	plot_fill_rect(c, x0 - 1, y1, x1 + 1, y1 + 1, col, 1.0);
	plot_fill_rect(c, x0 - 1, y0, x0, y1, col, 1.0);
	plot_fill_rect(c, x1, y0, x1 + 1, y1, col, 1.0);
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

/* ---- text files ---------------------------------------------------------------------- */

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

char *plot_file_name(const char *path, const char *ext)
{
	const char *s = strrchr(path, '/');
	s = s ? s + 1 : path;
	char *b = strdup(s);
	if (!b)
		return NULL;
	size_t n = strlen(b), e = strlen(ext);
	if (n > e && strcmp(b + n - e, ext) == 0)
		b[n - e] = '\0';
	return b;
}
