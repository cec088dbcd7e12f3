/* curves.c - training curves from metrics logs, and the PAD table of their fourth panel
 * (see curves.h). */
#include "draw/curves.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define PAD PLOT_GAP

static int imax(int a, int b) { return a > b ? a : b; }

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
		plot_title(c, tf, 1, y, PAD, c->w - PAD, title);
		y += tf->h + PAD;
	}
	/* Log legend (colours), when several logs are overlaid. */
	if (nlogs > 1) {
		int x = PAD + 60;
		for (int l = 0; l < nlogs; l++) {
			char tb[256];
			const char *t = plot_fit_text(bf, 1, names[l], 220, tb, sizeof tb);
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
		plot_outline(c, bx0, by0, bx1, by1, plot_border);
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
			/* the reference (raw pixels) as a dotted level, named in the header below */
			double ly = iy1 - 0.5 - (pad->ref - alo[0]) / (ahi[0] - alo[0]) * (iy1 - iy0 - 1);
			double lx[2] = {ix0, ix1}, lys[2] = {ly, ly};
			int rc = plot_polyline(c, lx, lys, 2, 1.5, 3, plot_grey);
			if (rc < 0)
				return rc;
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
		if (pd->col[0] == COL_PAD && pad->has_ref) {
			/* The reference level's name, where it cannot cover a curve: in the header
			 * legend left of the metrics, or else (the last panel) at the left of the row
			 * under the x labels, left of "step"; inside the box by its line only when
			 * neither has room. */
			snprintf(buf, sizeof buf, "%.40s: %.2f", pad->ref_name, pad->ref);
			int tw = plot_text_width(bf, 1, buf);
			int tx = lx - tw, ty = hy, title_end = bx0 + plot_text_width(bf, 1, pd->title) + 16;
			int step_x = (bx0 + bx1 - plot_text_width(bf, 1, "step")) / 2;
			int under = p == npanel - 1 && bx0 + 30 + tw + 16 <= step_x;
			if (tx - 30 < title_end && under)
				tx = bx0 + 30, ty = by1 + 4 + sf->h + 4;
			if (tx - 30 >= title_end || under) {
				plot_text(c, bf, 1, tx, ty, buf, plot_grey);
				double xs[2] = {tx - 30, tx - 6}, ys[2] = {ty + bf->h / 2.0, ty + bf->h / 2.0};
				int rc = plot_polyline(c, xs, ys, 2, 1.5, 3, plot_grey);
				if (rc < 0)
					return rc;
			} else {
				double ly = iy1 - 0.5 - (pad->ref - alo[0]) / (ahi[0] - alo[0]) * (iy1 - iy0 - 1);
				int ty = ly - sf->h - 3 < by0 + 2 ? (int)ly + 3 : (int)ly - sf->h - 3;
				plot_text(c, sf, 1, ix0 + 6, ty, buf, plot_grey);
			}
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
