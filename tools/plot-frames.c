/* plot-frames - alignment frames, their animation and contact sheet, and training curves.
 *
 *   plot-frames [options] -o DIR FRAME.npy...          DIR/frame-0000.png ...
 *   plot-frames [options] --gif anim.gif FRAME.npy...   animated GIF (also with -o, --sheet)
 *   plot-frames --curves -o curves.png METRICS.tsv...   training curves
 *
 * Each FRAME.npy holds points (N,2) float32, labels (N,) uint8, domains (N,) uint8, as tsne
 * writes them; a file may hold several such triples back to back (one frame each). */
#include <errno.h>
#include <getopt.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cli.h"
#include "base/err.h"
#include "draw/gifout.h"
#include "stream/metrics.h"
#include "stream/layout.h"
#include "stream/npy.h"
#include "draw/plot.h"
#include "draw/pngio.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: %s [options] -o DIR FRAME.npy...\n"
	        "       %s [options] --gif FILE [--sheet FILE] FRAME.npy...\n"
	        "       %s --curves [options] -o FILE.png METRICS.tsv...\n"
	        "Draw t-SNE alignment frames (points (N,2) float32, labels (N,) uint8, domains (N,)\n"
	        "uint8 per frame) as PNG files, an animated GIF and a contact sheet; or training\n"
	        "curves from dann-train metrics logs.\n"
	        "\n"
	        "  -o, --output PATH      frames: folder for frame-NNNN.png; curves: the PNG file\n"
	        "      --gif FILE         animated GIF of all frames (with tweens)\n"
	        "      --sheet FILE       contact sheet PNG of the key frames\n"
	        "      --color MODE       domain (default: source blue, target red) or class\n"
	        "      --source-name S    legend text for domain 0 (default \"Source (MNIST)\")\n"
	        "      --target-name S    legend text for domain 1 (default \"Target (MNIST-M)\")\n"
	        "      --title TEXT       title of every frame, of the sheet, of the curves figure\n"
	        "      --titles FILE      one title per frame, one per line (UTF-8); --title then\n"
	        "                         titles only the contact sheet\n"
	        "      --tween K          K interpolated frames between key frames (default 0)\n"
	        "      --size WxH         image size (default 800x600; curves 800x900)\n"
	        "      --radius R         marker radius in pixels (default: from the size)\n"
	        "      --alpha A          marker opacity in (0,1] (default 0.6, less above 2000 points)\n"
	        "      --bare             only the points: no title, grid, legend or tick labels\n"
	        "      --seed S           seed of the point drawing order (default 1)\n"
	        "      --delay CS         GIF: hundredths of a second per frame (default 10)\n"
	        "      --key-delay CS     GIF: per key frame when tweening (default 4 x delay)\n"
	        "      --last-delay CS    GIF: pause on the last frame (default 250)\n"
	        "      --loop N           GIF: 0 loops forever (default), N plays N+1 times\n"
	        "      --thumb WxH        contact sheet cell size (default 360x270)\n"
	        "      --sheet-cols N     contact sheet columns (default: about square)\n"
	        "      --curves           draw training curves from METRICS.tsv operands\n"
	        "      --names A,B,...    curves: legend names of the logs (default: file names)\n"
	        "      --pad FILE         curves: a fourth panel, the proxy A-distance of the rows of\n"
	        "                         FILE (TSV: model step pad; model = a log's name, step '-'\n"
	        "                         for the reference) and the domain accuracy (default size\n"
	        "                         800x1150)\n"
	        "  -q, --quiet            no messages\n"
	        "      --progress         show progress even when stderr is not a terminal\n"
	        "  -h, --help             this help\n",
	        cli_prog, cli_prog, cli_prog);
}

enum {
	OPT_GIF = 256, OPT_SHEET, OPT_COLOR, OPT_SOURCE, OPT_TARGET, OPT_TITLE, OPT_TITLES, OPT_TWEEN,
	OPT_SIZE, OPT_RADIUS, OPT_ALPHA, OPT_SEED, OPT_DELAY, OPT_KEYDELAY, OPT_LASTDELAY, OPT_LOOP,
	OPT_THUMB, OPT_SHEETCOLS, OPT_CURVES, OPT_NAMES, OPT_PROGRESS, OPT_BARE, OPT_PAD
};

typedef struct {
	const char *out, *gif, *sheet, *title, *titles, *names, *pad;
	plot_scatter_opts so;
	int tween, w, h, size_set, delay, key_delay, last_delay, loop, tw, th, sheet_cols;
	uint64_t seed;
	int curves;
} options;

typedef struct {
	float *pts;        /* (n,2) */
	uint8_t *labels;   /* (n,) */
	uint8_t *domains;  /* (n,) */
	char *title;
} frame;

/* ---- reading ---------------------------------------------------------------------------- */

static char *base_name(const char *path, const char *ext)
{
	const char *s = strrchr(path, '/');
	s = s ? s + 1 : path;
	char *b = strdup(s);
	if (!b)
		cli_die("out of memory");
	size_t n = strlen(b), e = strlen(ext);
	if (n > e && strcmp(b + n - e, ext) == 0)
		b[n - e] = '\0';
	return b;
}

/* The frames read so far live here, reachable until exit even when an error stops the tool
 * half-way (so leak checkers see no lost memory). */
static frame *volatile frames_read;

static frame *read_frames(int nfiles, char **files, int *nframes, int64_t *npts)
{
	frame *fr = NULL;
	int n = 0, cap = 0;
	for (int k = 0; k < nfiles; k++) {
		const char *name = strcmp(files[k], "-") == 0 ? "stdin" : files[k];
		FILE *f = cli_open_in(files[k]);
		for (int j = 0;; j++) {
			if (j > 0 && npy_at_eof(f))
				break;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				fr = realloc(fr, (size_t)cap * sizeof *fr);
				if (!fr)
					cli_die("out of memory");
				frames_read = fr;
			}
			int64_t N = 0;
			char nm[1024];
			if (j == 0)
				snprintf(nm, sizeof nm, "%s", name);
			else
				snprintf(nm, sizeof nm, "%s (frame %d in the file)", name, j + 1);
			layout_frame pf;
			if (layout_frame_read(f, nm, &pf) < 0)
				cli_die("%s", err_msg());
			fr[n].pts = pf.pts;
			fr[n].labels = pf.labels;
			fr[n].domains = pf.domains;
			N = pf.n;
			if (n > 0 && N != *npts)
				cli_die("%s: %lld points, but the first frame has %lld (frames must agree on N)", nm,
				        (long long)N, (long long)*npts);
			*npts = N;
			fr[n].title = j == 0 ? base_name(name, ".npy") : NULL;
			if (j > 0) {
				char t[1100];
				snprintf(t, sizeof t, "%s #%d", fr[n - j].title, j + 1);
				fr[n].title = strdup(t);
			}
			n++;
		}
		cli_close_in(f);
	}
	*nframes = n;
	return fr;
}

/* ---- frames ----------------------------------------------------------------------------- */

typedef struct {
	const options *o;
	frame *fr;
	int nkey, total;
	int64_t n;
	int64_t *order;
	float *tw;         /* (n,2) tween scratch */
} movie;

/* Points and title of output frame t (key frames and the tweens between them). */
static const float *movie_frame(const movie *m, int t, float *tw, const char **title, int *is_key)
{
	int K = m->o->tween;
	int i = t / (K + 1), j = t % (K + 1);
	*is_key = j == 0;
	if (j == 0) {
		*title = m->fr[i].title;
		return m->fr[i].pts;
	}
	double u = (double)j / (K + 1);
	*title = u < 0.5 ? m->fr[i].title : m->fr[i + 1].title;
	plot_tween(tw, m->fr[i].pts, m->fr[i + 1].pts, m->n, u);
	return tw;
}

static void ensure_dir(const char *dir)
{
	if (mkdir(dir, 0777) == 0)
		return;
	int e = errno;
	struct stat st;
	if (e == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return;
	cli_die("%s: cannot create the output folder: %s", dir, strerror(e == EEXIST ? ENOTDIR : e));
}

static void write_png(const char *path, const plot_canvas *c)
{
	FILE *f = cli_open_out(path);
	if (png_write(f, c->w, c->h, 3, c->px) < 0)
		cli_die("%s: %s", path, err_msg());
	cli_commit_out(f);
}

/* Frames are drawn and PNG-encoded in memory by all threads, a batch at a time, then written
 * in order (PNG compression is most of the time per frame). */
static void write_frames(movie *m, const plot_scatter *ps)
{
	const options *o = m->o;
	ensure_dir(o->out);
	size_t plen = strlen(o->out) + 32;
	char *path = malloc(plen);
	int nt = omp_get_max_threads();
	int batch = 2 * nt;
	plot_canvas *cv = calloc((size_t)nt, sizeof *cv);
	float **tw = calloc((size_t)nt, sizeof *tw);
	char **buf = calloc((size_t)batch, sizeof *buf);
	size_t *len = calloc((size_t)batch, sizeof *len);
	int *bad = calloc((size_t)batch, sizeof *bad);
	char (*msg)[512] = calloc((size_t)batch, sizeof *msg);
	if (!path || !cv || !tw || !buf || !len || !bad || !msg)
		cli_die("out of memory");
	for (int k = 0; k < nt; k++) {
		if (plot_canvas_init(&cv[k], ps->w, ps->h) < 0)
			cli_die("%s", err_msg());
		tw[k] = malloc((size_t)m->n * 2 * sizeof(float));
		if (!tw[k])
			cli_die("out of memory");
	}
	cli_progress pr;
	cli_progress_start(&pr, "frames", m->total);
	for (int t0 = 0; t0 < m->total; t0 += batch) {
		int t1 = t0 + batch < m->total ? t0 + batch : m->total;
#pragma omp parallel for schedule(dynamic, 1)
		for (int t = t0; t < t1; t++) {
			int k = omp_get_thread_num(), b = t - t0;
			const char *title;
			int key;
			const float *pts = movie_frame(m, t, tw[k], &title, &key);
			int i = t / (o->tween + 1);
			plot_scatter_draw(ps, &cv[k], pts, m->fr[i].labels, m->fr[i].domains, m->order, m->n,
			                  title);
			FILE *mf = open_memstream(&buf[b], &len[b]);
			bad[b] = !mf || png_write(mf, cv[k].w, cv[k].h, 3, cv[k].px) < 0;
			if (bad[b])
				snprintf(msg[b], sizeof msg[b], "%s", mf ? err_msg() : "out of memory");
			if (mf && fclose(mf) != 0 && !bad[b]) {
				bad[b] = 1;
				snprintf(msg[b], sizeof msg[b], "out of memory");
			}
		}
		for (int t = t0; t < t1; t++) {
			int b = t - t0;
			snprintf(path, plen, "%s/frame-%04d.png", o->out, t);
			if (bad[b])
				cli_die("%s: %s", path, msg[b]);
			FILE *f = cli_open_out(path);
			if (fwrite(buf[b], 1, len[b], f) != len[b])
				cli_write_failed();
			cli_commit_out(f);
			free(buf[b]);
			buf[b] = NULL;
			cli_progress_update(&pr, t + 1);
		}
	}
	cli_progress_end(&pr);
	for (int k = 0; k < nt; k++) {
		plot_canvas_free(&cv[k]);
		free(tw[k]);
	}
	free(cv);
	free(tw);
	free(buf);
	free(len);
	free(bad);
	free(msg);
	free(path);
}

static void write_gif(movie *m, const plot_scatter *ps, plot_canvas *c)
{
	const options *o = m->o;
	/* Palette: the key colours exactly, the rest by median cut over the key frames. */
	gif_hist hist;
	if (gif_hist_init(&hist) < 0)
		cli_die("%s", err_msg());
	for (int i = 0; i < m->nkey; i++) {
		plot_scatter_draw(ps, c, m->fr[i].pts, m->fr[i].labels, m->fr[i].domains, m->order, m->n,
		                  m->fr[i].title);
		gif_hist_add(&hist, c->px, (size_t)c->w * (size_t)c->h);
	}
	plot_rgb keys[32];
	uint8_t key3[32][3];
	int nk = plot_key_colors(&o->so, keys, 32);
	for (int i = 0; i < nk; i++) {
		key3[i][0] = keys[i].r;
		key3[i][1] = keys[i].g;
		key3[i][2] = keys[i].b;
	}
	gif_palette pal;
	if (gif_palette_build(&pal, &hist, (const uint8_t(*)[3])key3, nk) < 0)
		cli_die("%s", err_msg());
	gif_hist_free(&hist);

	FILE *f = cli_open_out(o->gif);
	gifout *g;
	if (gifout_open(&g, f, c->w, c->h, &pal, o->loop) < 0)
		cli_die("%s: %s", o->gif, err_msg());
	cli_progress pr;
	cli_progress_start(&pr, "gif", m->total);
	for (int t = 0; t < m->total; t++) {
		const char *title;
		int key;
		const float *pts = movie_frame(m, t, m->tw, &title, &key);
		int i = t / (o->tween + 1);
		plot_scatter_draw(ps, c, pts, m->fr[i].labels, m->fr[i].domains, m->order, m->n, title);
		int delay = t == m->total - 1 ? o->last_delay : key ? o->key_delay : o->delay;
		if (gifout_frame(g, c->px, delay) < 0)
			cli_die("%s: %s", o->gif, err_msg());
		cli_progress_update(&pr, t + 1);
	}
	cli_progress_end(&pr);
	if (gifout_close(g) < 0)
		cli_die("%s: %s", o->gif, err_msg());
	cli_commit_out(f);
}

static void write_sheet(movie *m)
{
	const options *o = m->o;
	plot_sheet sh;
	if (plot_sheet_prepare(&sh, m->nkey, o->sheet_cols, o->tw, o->th, o->title != NULL) < 0)
		cli_die("%s", err_msg());
	plot_scatter_opts so = o->so;
	so.npoints = m->n;
	so.legend = 0;
	so.ticks = 0;
	so.radius = o->so.radius > 0 ? o->so.radius * o->th / o->h : 0;
	double lim[4];
	plot_limits_init(lim);
	for (int i = 0; i < m->nkey; i++)
		plot_limits_add(lim, m->fr[i].pts, m->n, "frame"); /* checked when read */
	plot_scatter ps;
	if (plot_scatter_prepare(&ps, &so, o->tw, o->th, lim) < 0)
		cli_die("%s", err_msg());
	plot_canvas sc, th;
	if (plot_canvas_init(&sc, sh.w, sh.h) < 0 || plot_canvas_init(&th, o->tw, o->th) < 0)
		cli_die("%s", err_msg());
	plot_sheet_header(&sh, &sc, &o->so, o->title);
	for (int i = 0; i < m->nkey; i++) {
		plot_scatter_draw(&ps, &th, m->fr[i].pts, m->fr[i].labels, m->fr[i].domains, m->order, m->n,
		                  m->fr[i].title);
		int x, y;
		plot_sheet_cell(&sh, i, &x, &y);
		plot_blit(&sc, &th, x, y);
	}
	write_png(o->sheet, &sc);
	plot_canvas_free(&sc);
	plot_canvas_free(&th);
}

static int run_frames(const options *o, int nfiles, char **files)
{
	if (nfiles < 1)
		cli_usage_error("no FRAME.npy operand");
	if (!o->out && !o->gif && !o->sheet)
		cli_usage_error("nothing to write: give -o DIR, --gif FILE or --sheet FILE");
	int nkey = 0;
	int64_t n = 0;
	frame *fr = read_frames(nfiles, files, &nkey, &n);
	if (n == 0)
		cli_die("%s: the frames hold no points", files[0]);
	/* Titles. */
	if (o->title && !o->titles) {
		for (int i = 0; i < nkey; i++) {
			free(fr[i].title);
			fr[i].title = strdup(o->title);
		}
	} else if (o->titles) {
		FILE *f = cli_open_in(o->titles);
		char **lines;
		int nl;
		if (plot_read_lines(f, o->titles, &lines, &nl) < 0)
			cli_die("%s", err_msg());
		cli_close_in(f);
		while (nl > nkey && lines[nl - 1][0] == '\0') /* trailing blank lines */
			free(lines[--nl]);
		if (nl != nkey)
			cli_die("%s: %d title lines for %d frames (one line per frame)", o->titles, nl, nkey);
		for (int i = 0; i < nkey; i++) {
			free(fr[i].title);
			fr[i].title = lines[i];
		}
		free(lines);
	}
	/* Shared axis limits over all frames (points were checked finite when read). */
	double lim[4];
	plot_limits_init(lim);
	for (int i = 0; i < nkey; i++)
		if (plot_limits_add(lim, fr[i].pts, n, "frame") < 0)
			cli_die("%s", err_msg());
	if ((int64_t)nkey - 1 > (INT32_MAX - 1) / ((int64_t)o->tween + 1))
		cli_die("too many frames with --tween %d", o->tween);
	movie m = {o, fr, nkey, nkey + (nkey - 1) * o->tween, n, NULL, NULL};
	if (plot_draw_order(n, o->seed, &m.order) < 0)
		cli_die("%s", err_msg());
	m.tw = malloc((size_t)n * 2 * sizeof(float));
	if (!m.tw)
		cli_die("out of memory");
	plot_scatter_opts so = o->so;
	so.npoints = n;
	plot_scatter ps;
	if (plot_scatter_prepare(&ps, &so, o->w, o->h, lim) < 0)
		cli_die("%s", err_msg());
	plot_canvas c;
	if (plot_canvas_init(&c, o->w, o->h) < 0)
		cli_die("%s", err_msg());
	if (o->out)
		write_frames(&m, &ps);
	if (o->gif)
		write_gif(&m, &ps, &c);
	if (o->sheet)
		write_sheet(&m);
	cli_info("%d frames (%d key frames) of %lld points%s%s%s%s%s%s", m.total, nkey, (long long)n,
	         o->out ? " -> " : "", o->out ? o->out : "", o->gif ? ", gif " : "",
	         o->gif ? o->gif : "", o->sheet ? ", sheet " : "", o->sheet ? o->sheet : "");
	plot_canvas_free(&c);
	for (int i = 0; i < nkey; i++) {
		free(fr[i].pts);
		free(fr[i].labels);
		free(fr[i].domains);
		free(fr[i].title);
	}
	free(fr);
	free(m.order);
	free(m.tw);
	return 0;
}

/* ---- curves ----------------------------------------------------------------------------- */

static int run_curves(const options *o, int nfiles, char **files)
{
	if (nfiles < 1)
		cli_usage_error("--curves: no METRICS.tsv operand");
	if (!o->out)
		cli_usage_error("--curves: give the output PNG with -o FILE");
	if (o->gif || o->sheet || o->titles || o->tween)
		cli_usage_error("--curves draws one PNG: --gif, --sheet, --titles and --tween do not apply");
	metrics_log *logs = calloc((size_t)nfiles, sizeof *logs);
	char **names = calloc((size_t)nfiles, sizeof *names);
	if (!logs || !names)
		cli_die("out of memory");
	/* Names: --names a,b,... or the file names without ".tsv". */
	if (o->names) {
		char *dup = strdup(o->names), *save = NULL;
		int k = 0;
		for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (k < nfiles)
				names[k] = strdup(t);
			k++;
		}
		free(dup);
		if (k != nfiles)
			cli_usage_error("--names: %d names for %d logs", k, nfiles);
	} else {
		for (int i = 0; i < nfiles; i++)
			names[i] = base_name(files[i], ".tsv");
	}
	for (int i = 0; i < nfiles; i++) {
		const char *name = strcmp(files[i], "-") == 0 ? "stdin" : files[i];
		FILE *f = cli_open_in(files[i]);
		if (metrics_read(f, name, &logs[i]) < 0)
			cli_die("%s", err_msg());
		cli_close_in(f);
	}
	char deftitle[512];
	const char *title = o->title;
	if (!title) {
		if (nfiles == 1)
			snprintf(deftitle, sizeof deftitle, "Training curves: %s", names[0]);
		else
			snprintf(deftitle, sizeof deftitle, "Training curves");
		title = deftitle;
	}
	plot_pad_table pad;
	if (o->pad) {
		FILE *f = cli_open_in(o->pad);
		if (plot_pad_read(f, strcmp(o->pad, "-") ? o->pad : "stdin", (const char *const *)names,
		                  nfiles, &pad) < 0)
			cli_die("%s", err_msg());
		cli_close_in(f);
	}
	plot_canvas c;
	int w = o->size_set ? o->w : 800, h = o->size_set ? o->h : o->pad ? 1150 : 900;
	if (plot_canvas_init(&c, w, h) < 0)
		cli_die("%s", err_msg());
	if (plot_curves(&c, logs, (const char *const *)names, nfiles, title, o->pad ? &pad : NULL) < 0)
		cli_die("%s", err_msg());
	if (o->pad)
		plot_pad_free(&pad);
	write_png(o->out, &c);
	plot_canvas_free(&c);
	for (int i = 0; i < nfiles; i++) {
		metrics_free(&logs[i]);
		free(names[i]);
	}
	free(logs);
	free(names);
	return 0;
}

int main(int argc, char **argv)
{
	cli_init(argc, argv);
	options o = {0};
	o.so = (plot_scatter_opts){PLOT_COLOR_DOMAIN, "Source (MNIST)", "Target (MNIST-M)", 0, 0, 0, 1, 1, 0};
	o.w = 800;
	o.h = 600;
	o.delay = 10;
	o.key_delay = -1;
	o.last_delay = 250;
	o.tw = 360;
	o.th = 270;
	o.seed = 1;
	int quiet = 0, progress = 0;
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'},     {"gif", required_argument, 0, OPT_GIF},
		{"sheet", required_argument, 0, OPT_SHEET}, {"color", required_argument, 0, OPT_COLOR},
		{"source-name", required_argument, 0, OPT_SOURCE},
		{"target-name", required_argument, 0, OPT_TARGET},
		{"title", required_argument, 0, OPT_TITLE}, {"titles", required_argument, 0, OPT_TITLES},
		{"tween", required_argument, 0, OPT_TWEEN}, {"size", required_argument, 0, OPT_SIZE},
		{"radius", required_argument, 0, OPT_RADIUS}, {"alpha", required_argument, 0, OPT_ALPHA},
		{"seed", required_argument, 0, OPT_SEED},   {"delay", required_argument, 0, OPT_DELAY},
		{"key-delay", required_argument, 0, OPT_KEYDELAY},
		{"last-delay", required_argument, 0, OPT_LASTDELAY},
		{"loop", required_argument, 0, OPT_LOOP},   {"thumb", required_argument, 0, OPT_THUMB},
		{"sheet-cols", required_argument, 0, OPT_SHEETCOLS},
		{"curves", no_argument, 0, OPT_CURVES},     {"bare", no_argument, 0, OPT_BARE},     {"names", required_argument, 0, OPT_NAMES},
		{"pad", required_argument, 0, OPT_PAD},
		{"quiet", no_argument, 0, 'q'},            {"progress", no_argument, 0, OPT_PROGRESS},
		{"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
	int ch;
	opterr = 0; /* our own one-line message */
	while ((ch = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o': o.out = optarg; break;
		case OPT_GIF: o.gif = optarg; break;
		case OPT_SHEET: o.sheet = optarg; break;
		case OPT_COLOR:
			if (strcmp(optarg, "domain") == 0)
				o.so.color = PLOT_COLOR_DOMAIN;
			else if (strcmp(optarg, "class") == 0)
				o.so.color = PLOT_COLOR_CLASS;
			else
				cli_usage_error("--color: '%s' is not 'domain' or 'class'", optarg);
			break;
		case OPT_SOURCE: o.so.source_name = optarg; break;
		case OPT_TARGET: o.so.target_name = optarg; break;
		case OPT_TITLE: o.title = optarg; break;
		case OPT_TITLES: o.titles = optarg; break;
		case OPT_TWEEN: o.tween = (int)cli_parse_int("--tween", optarg, 0, 1000); break;
		case OPT_SIZE:
			cli_parse_size("--size", optarg, 64, 8192, &o.w, &o.h);
			o.size_set = 1;
			break;
		case OPT_RADIUS: o.so.radius = cli_parse_double("--radius", optarg, 0.3, 100); break;
		case OPT_ALPHA: o.so.alpha = cli_parse_double("--alpha", optarg, 0.01, 1); break;
		case OPT_SEED: o.seed = (uint64_t)cli_parse_int("--seed", optarg, 0, INT64_MAX); break;
		case OPT_DELAY: o.delay = (int)cli_parse_int("--delay", optarg, 0, 65535); break;
		case OPT_KEYDELAY: o.key_delay = (int)cli_parse_int("--key-delay", optarg, 0, 65535); break;
		case OPT_LASTDELAY: o.last_delay = (int)cli_parse_int("--last-delay", optarg, 0, 65535); break;
		case OPT_LOOP: o.loop = (int)cli_parse_int("--loop", optarg, 0, 65535); break;
		case OPT_THUMB: cli_parse_size("--thumb", optarg, 64, 2048, &o.tw, &o.th); break;
		case OPT_SHEETCOLS: o.sheet_cols = (int)cli_parse_int("--sheet-cols", optarg, 1, 256); break;
		case OPT_CURVES: o.curves = 1; break;
		case OPT_BARE: o.so.bare = 1; break;
		case OPT_NAMES: o.names = optarg; break;
		case OPT_PAD: o.pad = optarg; break;
		case 'q': quiet = 1; break;
		case OPT_PROGRESS: progress = 1; break;
		case 'h': usage(stdout); return 0;
		default:
			if (optopt && strchr("o", optopt))
				cli_usage_error("option -%c needs a value", optopt);
			cli_usage_error("bad option '%s'", argv[optind - 1]);
		}
	}
	cli_set_progress(progress, quiet);
	/* the outputs can be written and none is an input: checked before anything is read */
	for (int k = optind; k < argc; k++)
		cli_declare_in(argv[k]);
	cli_declare_in(o.titles);
	if (o.out && !*o.out)
		cli_usage_error("-o: empty name");
	cli_check_out("--gif", o.gif);
	cli_check_out("--sheet", o.sheet);
	if (o.curves)
		cli_check_out("-o", o.out);
	if (o.key_delay < 0)
		o.key_delay = o.tween > 0 ? (o.delay * 4 > 65535 ? 65535 : o.delay * 4) : o.delay;
	if (o.pad && !o.curves)
		cli_usage_error("--pad goes with --curves");
	if (o.curves)
		return run_curves(&o, argc - optind, argv + optind);
	return run_frames(&o, argc - optind, argv + optind);
}
