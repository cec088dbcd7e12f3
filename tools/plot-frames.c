/* plot-frames - alignment frames as PNG files, their animation and their contact sheet.
 *
 *   plot-frames [options] -O DIR FRAME.npy...            DIR/frame-0000.png ...
 *   plot-frames [options] --gif anim.gif FRAME.npy...     animated GIF (also with -O, --sheet)
 *
 * Each FRAME.npy holds points (N,2) float32, labels (N,) uint8, domains (N,) uint8, as tsne
 * writes them; a file may hold several such triples back to back (one frame each).  The
 * drawing is lib/draw/frames.h; training curves are plot-curves. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/err.h"
#include "draw/frames.h"
#include "stream/layout.h"
#include "draw/pngio.h"
#include "stream/npy.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: %s [options] -O DIR FRAME.npy...\n"
	        "       %s [options] --gif FILE [--sheet FILE] FRAME.npy...\n"
	        "Draw t-SNE alignment frames (points (N,2) float32, labels (N,) uint8, domains (N,)\n"
	        "uint8 per frame) as PNG files, an animated GIF and a contact sheet.  Training\n"
	        "curves: plot-curves.\n"
	        "\n"
	        "  -O, --output-dir DIR   write frame-NNNN.png into DIR (created if missing)\n"
	        "      --gif FILE         animated GIF of all frames (with tweens)\n"
	        "      --sheet FILE       contact sheet PNG of the key frames\n"
	        "      --color MODE       domain (default: source blue, target red) or class\n"
	        "      --source-name S    legend text for domain 0 (default \"Source (MNIST)\")\n"
	        "      --target-name S    legend text for domain 1 (default \"Target (MNIST-M)\")\n"
	        "      --title TEXT       title of every frame and of the sheet\n"
	        "      --titles FILE      one title per frame, one per line (UTF-8); --title then\n"
	        "                         titles only the contact sheet\n"
	        "      --tween K          K interpolated frames between key frames (default 0)\n"
	        "      --size WxH         image size (default 800x600)\n"
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
	        "  -q, --quiet            no messages\n"
	        "      --progress         show progress even when stderr is not a terminal\n"
	        "  -h, --help             this help\n",
	        cli_prog, cli_prog);
}

typedef struct {
	const char *out_dir, *gif, *sheet, *title, *titles;
	plot_scatter_opts so;
	int tween, w, h;
	plot_frames_gif_opts g;
	int tw, th, sheet_cols;
	uint64_t seed;
	int quiet, progress;
	char **files;      /* the FRAME.npy operands */
	int nfiles;
} options;

enum {
	OPT_GIF = 256, OPT_SHEET, OPT_COLOR, OPT_SOURCE, OPT_TARGET, OPT_TITLE, OPT_TITLES, OPT_TWEEN,
	OPT_SIZE, OPT_RADIUS, OPT_ALPHA, OPT_SEED, OPT_DELAY, OPT_KEYDELAY, OPT_LASTDELAY, OPT_LOOP,
	OPT_THUMB, OPT_SHEETCOLS, OPT_PROGRESS, OPT_BARE, OPT_CURVES
};

static void parse_options(int argc, char **argv, options *o)
{
	*o = (options){
		.so = {PLOT_COLOR_DOMAIN, "Source (MNIST)", "Target (MNIST-M)", 0, 0, 0, 1, 1, 0},
		.w = 800, .h = 600,
		.g = {.delay = 10, .key_delay = -1, .last_delay = 250, .loop = 0},
		.tw = 360, .th = 270,
		.seed = 1,
	};
	static const struct option longopts[] = {
		{"output-dir", required_argument, 0, 'O'},  {"gif", required_argument, 0, OPT_GIF},
		{"sheet", required_argument, 0, OPT_SHEET},  {"color", required_argument, 0, OPT_COLOR},
		{"source-name", required_argument, 0, OPT_SOURCE},
		{"target-name", required_argument, 0, OPT_TARGET},
		{"title", required_argument, 0, OPT_TITLE},  {"titles", required_argument, 0, OPT_TITLES},
		{"tween", required_argument, 0, OPT_TWEEN},  {"size", required_argument, 0, OPT_SIZE},
		{"radius", required_argument, 0, OPT_RADIUS}, {"alpha", required_argument, 0, OPT_ALPHA},
		{"seed", required_argument, 0, OPT_SEED},    {"delay", required_argument, 0, OPT_DELAY},
		{"key-delay", required_argument, 0, OPT_KEYDELAY},
		{"last-delay", required_argument, 0, OPT_LASTDELAY},
		{"loop", required_argument, 0, OPT_LOOP},    {"thumb", required_argument, 0, OPT_THUMB},
		{"sheet-cols", required_argument, 0, OPT_SHEETCOLS},
		{"bare", no_argument, 0, OPT_BARE},
		{"curves", no_argument, 0, OPT_CURVES},
		{"quiet", no_argument, 0, 'q'},              {"progress", no_argument, 0, OPT_PROGRESS},
		{"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "O:o:qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'O': o->out_dir = optarg; break;
		case 'o': cli_usage_error("-o: the frames go to a folder: -O DIR (--output-dir)");
		case OPT_GIF: o->gif = optarg; break;
		case OPT_SHEET: o->sheet = optarg; break;
		case OPT_COLOR:
			if (strcmp(optarg, "domain") == 0)
				o->so.color = PLOT_COLOR_DOMAIN;
			else if (strcmp(optarg, "class") == 0)
				o->so.color = PLOT_COLOR_CLASS;
			else
				cli_usage_error("--color: '%s' is not 'domain' or 'class'", optarg);
			break;
		case OPT_SOURCE: o->so.source_name = optarg; break;
		case OPT_TARGET: o->so.target_name = optarg; break;
		case OPT_TITLE: o->title = optarg; break;
		case OPT_TITLES: o->titles = optarg; break;
		case OPT_TWEEN: o->tween = (int)cli_parse_int("--tween", optarg, 0, 1000); break;
		case OPT_SIZE: cli_parse_size("--size", optarg, 64, 8192, &o->w, &o->h); break;
		case OPT_RADIUS: o->so.radius = cli_parse_double("--radius", optarg, 0.3, 100); break;
		case OPT_ALPHA: o->so.alpha = cli_parse_double("--alpha", optarg, 0.01, 1); break;
		case OPT_SEED: o->seed = cli_parse_seed(optarg); break;
		case OPT_DELAY: o->g.delay = (int)cli_parse_int("--delay", optarg, 0, 65535); break;
		case OPT_KEYDELAY: o->g.key_delay = (int)cli_parse_int("--key-delay", optarg, 0, 65535); break;
		case OPT_LASTDELAY: o->g.last_delay = (int)cli_parse_int("--last-delay", optarg, 0, 65535); break;
		case OPT_LOOP: o->g.loop = (int)cli_parse_int("--loop", optarg, 0, 65535); break;
		case OPT_THUMB: cli_parse_size("--thumb", optarg, 64, 2048, &o->tw, &o->th); break;
		case OPT_SHEETCOLS: o->sheet_cols = (int)cli_parse_int("--sheet-cols", optarg, 1, 256); break;
		case OPT_BARE: o->so.bare = 1; break;
		case OPT_CURVES: cli_usage_error("--curves: training curves are drawn by plot-curves");
		case 'q': o->quiet = 1; break;
		case OPT_PROGRESS: o->progress = 1; break;
		case 'h': usage(stdout); exit(0);
		default: cli_bad_option();
		}
	}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	cli_set_messages(o->quiet, 0, o->progress);
	/* the outputs can be written and none is an input: checked before anything is read */
	for (int k = 0; k < o->nfiles; k++)
		cli_declare_in(o->files[k]);
	cli_declare_in(o->titles);
	if (o->out_dir && !*o->out_dir)
		cli_usage_error("--output-dir: empty name");
	cli_check_out("--gif", o->gif);
	cli_check_out("--sheet", o->sheet);
	if (o->g.key_delay < 0)
		o->g.key_delay = o->tween > 0 ? (o->g.delay * 4 > 65535 ? 65535 : o->g.delay * 4)
		                              : o->g.delay;
	if (o->nfiles < 1)
		cli_usage_error("no FRAME.npy operand");
	if (!o->out_dir && !o->gif && !o->sheet)
		cli_usage_error("nothing to write: give -O DIR, --gif FILE or --sheet FILE");
}

/* ---- reading ---------------------------------------------------------------------------- */

/* plot_file_name, or out of memory. */
static char *base_name(const char *path, const char *ext)
{
	char *b = plot_file_name(path, ext);
	if (!b)
		cli_die("out of memory");
	return b;
}

/* The frames read so far live here, reachable until exit even when an error stops the tool
 * half-way (so leak checkers see no lost memory). */
static plot_key_frame *volatile frames_read;

static plot_key_frame *read_frames(const options *o, int *nframes, int64_t *npts)
{
	plot_key_frame *fr = NULL;
	int n = 0, cap = 0;
	for (int k = 0; k < o->nfiles; k++) {
		const char *name = cli_name(o->files[k]);
		FILE *f = cli_open_in(o->files[k]);
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
			if (n > 0 && pf.n != *npts)
				cli_die("%s: %lld points, but the first frame has %lld (frames must agree on N)", nm,
				        (long long)pf.n, (long long)*npts);
			*npts = pf.n;
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

/* --title for every frame, or --titles: one line per frame (trailing blank lines ignored). */
static void set_titles(const options *o, plot_key_frame *fr, int nkey)
{
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
		while (nl > nkey && lines[nl - 1][0] == '\0')
			free(lines[--nl]);
		if (nl != nkey)
			cli_die("%s: %d title lines for %d frames (one line per frame)", o->titles, nl, nkey);
		for (int i = 0; i < nkey; i++) {
			free(fr[i].title);
			fr[i].title = lines[i];
		}
		free(lines);
	}
}

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct {
	const char *dir;
	char *path;
	size_t plen;
	cli_progress pr;
} png_sink;

/* Each encoded frame to DIR/frame-NNNN.png, written whole under a temporary name. */
static int put_png(void *ctx, int t, const void *png, size_t len)
{
	png_sink *s = ctx;
	snprintf(s->path, s->plen, "%s/frame-%04d.png", s->dir, t);
	FILE *f = cli_open_out(s->path);
	if (fwrite(png, 1, len, f) != len)
		cli_write_failed();
	cli_commit_out(f);
	cli_progress_update(&s->pr, t + 1);
	return 0;
}

static void write_pngs(const options *o, const plot_frames *m)
{
	/* made only now, once the frames are read and checked: a run that fails on its input
	 * leaves no empty folder behind */
	cli_make_dir(o->out_dir);
	png_sink s = {o->out_dir, NULL, strlen(o->out_dir) + 32, {0}};
	s.path = malloc(s.plen);
	if (!s.path)
		cli_die("out of memory");
	cli_progress_start(&s.pr, "frames", m->total);
	if (plot_frames_png(m, put_png, &s) < 0)
		cli_die("%s: %s", o->out_dir, err_msg());
	cli_progress_end(&s.pr);
	free(s.path);
}

static void gif_progress(void *ctx, int done)
{
	cli_progress_update(ctx, done);
}

static void write_gif(const options *o, const plot_frames *m)
{
	FILE *f = cli_open_out(o->gif);
	cli_progress pr;
	cli_progress_start(&pr, "gif", m->total);
	if (plot_frames_gif(m, f, &o->g, gif_progress, &pr) < 0)
		cli_die("%s: %s", o->gif, err_msg());
	cli_progress_end(&pr);
	cli_commit_out(f);
}

static void write_sheet(const options *o, const plot_frames *m)
{
	plot_canvas c;
	if (plot_frames_sheet(m, o->tw, o->th, o->sheet_cols, o->title, &c) < 0)
		cli_die("%s", err_msg());
	FILE *f = cli_open_out(o->sheet);
	if (png_write(f, c.w, c.h, 3, c.px) < 0) {
		if (ferror(f))
			cli_write_failed_on(f);  /* a full disk, said as every tool says it */
		cli_die("%s: %s", o->sheet, err_msg());
	}
	cli_commit_out(f);
	plot_canvas_free(&c);
}

int main(int argc, char **argv)
{
	cli_init(argc, argv);
	options o;
	parse_options(argc, argv, &o);
	int nkey = 0;
	int64_t n = 0;
	plot_key_frame *fr = read_frames(&o, &nkey, &n);
	if (n == 0)
		cli_die("%s: the frames hold no points", o.files[0]);
	set_titles(&o, fr, nkey);
	/* Shared axis limits over all frames (points were checked finite when read). */
	double lim[4];
	plot_limits_init(lim);
	for (int i = 0; i < nkey; i++)
		if (plot_limits_add(lim, fr[i].pts, n, "frame") < 0)
			cli_die("%s", err_msg());
	plot_scatter_opts so = o.so;
	so.npoints = n;
	plot_scatter ps;
	int64_t *order;
	plot_frames m;
	if (plot_draw_order(n, o.seed, &order) < 0 || plot_scatter_prepare(&ps, &so, o.w, o.h, lim) < 0 ||
	    plot_frames_init(&m, &ps, fr, nkey, o.tween, n, order) < 0)
		cli_die("%s", err_msg());
	if (o.out_dir)
		write_pngs(&o, &m);
	if (o.gif)
		write_gif(&o, &m);
	if (o.sheet)
		write_sheet(&o, &m);
	cli_info("%d frames (%d key frames) of %lld points%s%s%s%s%s%s", m.total, nkey, (long long)n,
	         o.out_dir ? " -> " : "", o.out_dir ? o.out_dir : "", o.gif ? ", gif " : "",
	         o.gif ? o.gif : "", o.sheet ? ", sheet " : "", o.sheet ? o.sheet : "");
	for (int i = 0; i < nkey; i++) {
		free(fr[i].pts);
		free(fr[i].labels);
		free(fr[i].domains);
		free(fr[i].title);
	}
	free(fr);
	free(order);
	return 0;
}
