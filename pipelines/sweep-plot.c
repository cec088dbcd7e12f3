/* sweep-plot - the figure of a sweep (pipelines/sweep.mk): target accuracy against the swept
 * option, one PNG per recipe, drawn with the project's plotting library (lib/draw/raster.h).
 *
 *   sweep-plot [--recipe R] [--x COLUMN] [--y COLUMN] [--title T] [--size WxH] -o FILE.png
 *              RESULTS.tsv
 *
 * RESULTS.tsv is the sweep's results.tsv: a header, then a row per run; the columns before
 * `seed` are the settings (recipe first).  The x axis shows the values of COLUMN (default: the
 * first setting after recipe) in the order they first appear, evenly spaced; every other
 * setting but recipe makes a series.  Each seed is a small dot; the mean over seeds a large
 * dot with a bar of +- one sample standard deviation; a line joins the means of a series.
 * Built by the sweep, not installed: it is a helper of the pipeline, not a tool. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/err.h"
#include "draw/font.h"
#include "draw/raster.h"
#include "draw/pngio.h"

#define MAXCOL 64
#define MAXCAT 64
#define MAXSER 10

typedef struct {
	char *x, *series;
	double y;
} row;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [--recipe R] [--x COLUMN] [--y COLUMN] [--title T] [--size WxH]\n"
	        "       -o FILE.png RESULTS.tsv\n"
	        "Plot a sweep's results.tsv: COLUMN (y, default target_accuracy) against the values\n"
	        "of the swept setting COLUMN (x, default the first setting after recipe), each seed\n"
	        "a dot, mean +- sample std per value, one series per combination of the others.\n"
	        "  --recipe R     only the rows of recipe R\n"
	        "  -o FILE.png    the figure (written atomically)\n"
	        "  --size WxH     image size (default 800x500)\n"
	        "  -h, --help     this help\n",
	        cli_prog);
}

/* Split a line on tabs in place; returns the field count (at most max). */
static int split_tabs(char *s, char **f, int max)
{
	int n = 0;
	s[strcspn(s, "\r\n")] = 0;
	for (;;) {
		if (n < max)
			f[n] = s;
		n++;
		char *t = strchr(s, '\t');
		if (!t)
			break;
		*t = 0;
		s = t + 1;
	}
	return n;
}

static int find(char **names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

static int intern(char **list, int *n, int max, const char *s, const char *what)
{
	int i = find(list, *n, s);
	if (i >= 0)
		return i;
	if (*n >= max)
		cli_die("more than %d %s", max, what);
	list[*n] = strdup(s);
	return (*n)++;
}

int main(int argc, char **argv)
{
	cli_init(argc, argv);
	const char *recipe = NULL, *xcol = NULL, *ycol = "target_accuracy", *title = NULL, *out = NULL;
	int w = 800, h = 500, c;
	enum { O_RECIPE = 256, O_X, O_Y, O_TITLE, O_SIZE };
	static const struct option lo[] = {
		{"recipe", required_argument, 0, O_RECIPE}, {"x", required_argument, 0, O_X},
		{"y", required_argument, 0, O_Y},           {"title", required_argument, 0, O_TITLE},
		{"size", required_argument, 0, O_SIZE},     {"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
	while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (c) {
		case O_RECIPE: recipe = optarg; break;
		case O_X: xcol = optarg; break;
		case O_Y: ycol = optarg; break;
		case O_TITLE: title = optarg; break;
		case O_SIZE: cli_parse_size("--size", optarg, 320, 4000, &w, &h); break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: cli_usage_error("unknown option or missing value: '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		cli_usage_error("one RESULTS.tsv operand is needed");
	if (!out || !strcmp(out, "-"))
		cli_usage_error("-o FILE.png is needed");
	const char *in = argv[optind];

	/* Read the table. */
	FILE *f = cli_open_in(in);
	char *line = NULL, *hf[MAXCOL], *fl[MAXCOL];
	size_t cap = 0;
	if (getline(&line, &cap, f) < 0)
		cli_die("%s: empty file", in);
	char *header = strdup(line);
	int nh = split_tabs(header, hf, MAXCOL);
	if (nh > MAXCOL)
		cli_die("%s: more than %d columns", in, MAXCOL);
	int cseed = find(hf, nh, "seed"), cy = find(hf, nh, ycol), crec = find(hf, nh, "recipe");
	if (cseed < 1)
		cli_die("%s: no settings columns before a 'seed' column", in);
	if (cy < 0)
		cli_die("%s: no column '%s'", in, ycol);
	int cx = xcol ? find(hf, cseed, xcol) : (crec == 0 ? 1 : 0);
	if (!xcol && cx >= cseed)
		cli_die("%s: no swept setting (a column between recipe and seed)", in);
	if (cx < 0 || cx >= cseed)
		cli_die("%s: '%s' is not a settings column", in, xcol);
	char *cats[MAXCAT], *sers[MAXSER];
	int ncat = 0, nser = 0;
	row *rows = NULL;
	int nrows = 0;
	for (int ln = 2; getline(&line, &cap, f) >= 0; ln++) {
		int n = split_tabs(line, fl, MAXCOL);
		if (n == 1 && !*fl[0])
			continue;
		if (n != nh)
			cli_die("%s: line %d: %d fields, the header has %d", in, ln, n, nh);
		if (recipe && crec >= 0 && strcmp(fl[crec], recipe))
			continue;
		char *end;
		errno = 0;
		double y = strtod(fl[cy], &end);
		if (end == fl[cy] || *end || errno || !isfinite(y))
			cli_die("%s: line %d: %s '%s' is not a number", in, ln, ycol, fl[cy]);
		char sk[1024] = "";
		for (int i = 0; i < cseed; i++) {
			if (i == cx || i == crec)
				continue;
			size_t l = strlen(sk);
			snprintf(sk + l, sizeof sk - l, "%s%s %s", l ? " · " : "", hf[i], fl[i]);
		}
		rows = realloc(rows, sizeof(row) * (size_t)(nrows + 1));
		if (!rows)
			cli_die("out of memory");
		rows[nrows].x = cats[intern(cats, &ncat, MAXCAT, fl[cx], "x values")];
		rows[nrows].series = sers[intern(sers, &nser, MAXSER, sk, "series")];
		rows[nrows].y = y;
		nrows++;
	}
	cli_close_in(f);
	free(line);
	if (nrows == 0)
		cli_die("%s: no rows%s%s", in, recipe ? " for recipe " : "", recipe ? recipe : "");

	/* Mean and sample std per (series, x value). */
	double (*sum)[MAXCAT] = calloc(MAXSER, sizeof *sum), (*sq)[MAXCAT] = calloc(MAXSER, sizeof *sq);
	int (*cnt)[MAXCAT] = calloc(MAXSER, sizeof *cnt);
	if (!sum || !sq || !cnt)
		cli_die("out of memory");
	double ylo = INFINITY, yhi = -INFINITY;
	for (int r = 0; r < nrows; r++) {
		int s = find(sers, nser, rows[r].series), k = find(cats, ncat, rows[r].x);
		sum[s][k] += rows[r].y;
		sq[s][k] += rows[r].y * rows[r].y;
		cnt[s][k]++;
		ylo = fmin(ylo, rows[r].y);
		yhi = fmax(yhi, rows[r].y);
	}
	for (int s = 0; s < nser; s++)  /* the +- std bars too */
		for (int k = 0; k < ncat; k++) {
			int n = cnt[s][k];
			if (n < 2)
				continue;
			double m = sum[s][k] / n, v = (sq[s][k] - n * m * m) / (n - 1), sd = v > 0 ? sqrt(v) : 0;
			ylo = fmin(ylo, m - sd);
			yhi = fmax(yhi, m + sd);
		}

	/* Layout: title, legend (several series), plot box, x labels and axis name. */
	plot_canvas cv;
	if (plot_canvas_init(&cv, w, h) < 0)
		cli_die("%s", err_msg());
	plot_clear(&cv, plot_white);
	const font_t *tf = &font_title, *bf = &font_body, *sf = &font_small;
	int pad = 14, y = pad;
	if (title && *title) {
		plot_text(&cv, tf, 1, pad, y, title, plot_ink);
		y += tf->h + 8;
	}
	if (nser > 1) {
		int x = pad + 60;
		for (int s = 0; s < nser; s++) {
			int need = 30 + plot_text_width(bf, 1, sers[s]) + 20;
			if (x + need > w - pad && x > pad + 60) {
				x = pad + 60;
				y += bf->h + 6;
			}
			plot_disc(&cv, x + 8, y + bf->h / 2.0, 5, plot_class_rgb[s], 1.0);
			plot_text(&cv, bf, 1, x + 20, y, sers[s], plot_ink);
			x += need;
		}
		y += bf->h + 8;
	}
	plot_text(&cv, sf, 1, pad, y, ycol, plot_grey);
	const char *key = "small dots: seeds · large: mean · bar: ± 1 std";
	plot_text(&cv, sf, 1, w - pad - plot_text_width(sf, 1, key), y, key, plot_grey);
	y += sf->h + 6;
	int bx0 = pad + 52, bx1 = w - pad, by0 = y, by1 = h - pad - bf->h - 6 - sf->h - 8;
	if (by1 - by0 < 60)
		cli_die("--size %dx%d is too small for this figure", w, h);
	double span = fmax(yhi - ylo, 1e-3), alo = ylo - 0.1 * span, ahi = yhi + 0.1 * span;
	if (ylo >= 0 && alo < 0)
		alo = 0;
	if (yhi <= 1 && ahi > 1)
		ahi = 1;
	plot_ticks yt;
	plot_nice_ticks(alo, ahi, (by1 - by0) / 40 > 3 ? (by1 - by0) / 40 : 3, &yt);
	char buf[64];
	int iy0 = by0 + 6, iy1 = by1 - 6;
#define YPIX(v) (iy1 - ((v) - alo) / (ahi - alo) * (iy1 - iy0))
	for (int i = 0; i < yt.n; i++) {
		int yy = (int)floor(YPIX(yt.v[i]));
		plot_fill_rect(&cv, bx0, yy, bx1, yy + 1, plot_grid, 1.0);
		plot_tick_label(&yt, yt.v[i], buf, sizeof buf);
		plot_text(&cv, sf, 1, bx0 - 6 - plot_text_width(sf, 1, buf), yy - sf->h / 2, buf, plot_grey);
	}
	plot_fill_rect(&cv, bx0, by0, bx1, by0 + 1, plot_border, 1.0);
	plot_fill_rect(&cv, bx0, by1 - 1, bx1, by1, plot_border, 1.0);
	plot_fill_rect(&cv, bx0, by0, bx0 + 1, by1, plot_border, 1.0);
	plot_fill_rect(&cv, bx1 - 1, by0, bx1, by1, plot_border, 1.0);
	double slot = (double)(bx1 - bx0) / ncat;
	for (int k = 0; k < ncat; k++) {
		int tw = plot_text_width(sf, 1, cats[k]);
		plot_text(&cv, sf, 1, (int)(bx0 + (k + 0.5) * slot) - tw / 2, by1 + 5, cats[k], plot_ink);
	}
	int tw = plot_text_width(bf, 1, hf[cx]);
	plot_text(&cv, bf, 1, (bx0 + bx1) / 2 - tw / 2, by1 + 5 + sf->h + 6, hf[cx], plot_ink);

	/* Series: seeds, mean line, +- std bars, means. */
	plot_clip(&cv, bx0 + 1, by0 + 1, bx1 - 1, by1 - 1);
	double step = nser > 1 ? fmin(14, slot / (nser + 1)) : 0;
	for (int s = 0; s < nser; s++) {
		plot_rgb col = nser > 1 ? plot_class_rgb[s] : plot_source_rgb;
		double off = (s - (nser - 1) / 2.0) * step, px[MAXCAT], py[MAXCAT];
		int np = 0;
		for (int k = 0; k < ncat; k++)
			if (cnt[s][k]) {
				px[np] = bx0 + (k + 0.5) * slot + off;
				py[np++] = YPIX(sum[s][k] / cnt[s][k]);
			}
		if (np > 1 && plot_polyline(&cv, px, py, np, 1.5, 0, col) < 0)
			cli_die("%s", err_msg());
		for (int r = 0; r < nrows; r++)
			if (rows[r].series == sers[s])
				plot_disc(&cv, bx0 + (find(cats, ncat, rows[r].x) + 0.5) * slot + off,
				          YPIX(rows[r].y), 3, col, 0.45);
		for (int k = 0; k < ncat; k++) {
			if (!cnt[s][k])
				continue;
			int n = cnt[s][k];
			double m = sum[s][k] / n, v = n > 1 ? (sq[s][k] - n * m * m) / (n - 1) : 0;
			double sd = v > 0 ? sqrt(v) : 0, x = bx0 + (k + 0.5) * slot + off;
			if (sd > 0) {
				double bx[2] = {x, x}, by[2] = {YPIX(m - sd), YPIX(m + sd)};
				double cxs[2] = {x - 5, x + 5}, cy0[2] = {by[0], by[0]}, cy1[2] = {by[1], by[1]};
				if (plot_polyline(&cv, bx, by, 2, 2, 0, col) < 0 ||
				    plot_polyline(&cv, cxs, cy0, 2, 1.5, 0, col) < 0 ||
				    plot_polyline(&cv, cxs, cy1, 2, 1.5, 0, col) < 0)
					cli_die("%s", err_msg());
			}
			plot_disc(&cv, x, YPIX(m), 5.5, col, 1.0);
			if (nser == 1) {
				snprintf(buf, sizeof buf, "%.3f", m);
				plot_text(&cv, sf, 1, (int)x + 8, (int)YPIX(m) - sf->h - 2, buf, plot_ink);
			}
		}
	}
	plot_unclip(&cv);

	FILE *o = cli_open_out_text(out);
	if (png_write(o, cv.w, cv.h, 3, cv.px) < 0)
		cli_die("%s: %s", out, err_msg());
	cli_commit_out(o);
	plot_canvas_free(&cv);
	for (int i = 0; i < ncat; i++)
		free(cats[i]);
	for (int i = 0; i < nser; i++)
		free(sers[i]);
	free(rows);
	free(sum);
	free(sq);
	free(cnt);
	free(header);
	return 0;
}
