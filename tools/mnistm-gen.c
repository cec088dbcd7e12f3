/* mnistm-gen - MNIST-M from MNIST, as a stream filter (see man/mnistm-gen.1).
 *
 * Reads a dataset stream (images (N,H,W) uint8, labels (N,) uint8) from FILE or stdin and
 * writes images (N,S,S,3) uint8 plus the same labels.  The recipes and the determinism
 * contract live in lib/data/mnistm.c; this file parses options, loads the photos, reports. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/err.h"
#include "data/mnistm.h"
#include "stream/npy.h"
#include "draw/pngio.h"
#include "draw/sheet.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: mnistm-gen [--recipe noise|bsds] [--backgrounds DIR] [--size S] [--fit pad|resize]\n"
	        "                  [--seed N] [--offset N] [--threshold T] [--mask gray|binary] [-o FILE]\n"
	        "                  [--sheet FILE.png [--sheet-count K] [--sheet-scale Z]] [-q] [FILE]\n"
	        "Turn a stream of grayscale digits (images (N,H,W) uint8, labels (N,) uint8) from FILE\n"
	        "or stdin into MNIST-M: images (N,S,S,3) uint8 and the same labels, on stdout or FILE.\n"
	        "  --recipe R        noise (default): digit pixels v > T become 255-v, others a random\n"
	        "                    colour; bsds: Ganin et al.'s MNIST-M, |patch - 255*(v > T)| with a\n"
	        "                    random patch of a random photo; its defaults reproduce the published\n"
	        "                    images (32x32, digit unscaled and centred, mask v > 0)\n"
	        "  --backgrounds DIR folder of JPEG/PNG photos for bsds (e.g. BSDS500 train)\n"
	        "  --size S          output S x S; 0 is the input's size (default: bsds 32, noise 0)\n"
	        "  --fit F           how a digit fits an output of another size: pad (bsds default) puts\n"
	        "                    it unscaled in the centre; resize (noise default) scales it bilinearly\n"
	        "  --seed N          random seed (default 1)\n"
	        "  --offset N        dataset index of the first input image, to regenerate a slice (0)\n"
	        "  --threshold T     0..255: noise: digit pixels are v > T (default %d); bsds with\n"
	        "                    --mask binary: the mask is v > T (default %d)\n"
	        "  --mask M          bsds: binary (default) blends 255*(v>T), gray the digit value v\n"
	        "                    (the earlier bsds defaults: --mask gray --size 28 --fit resize)\n"
	        "  -o, --output FILE write to FILE (atomically) instead of stdout\n"
	        "  --sheet FILE.png  also write a contact sheet of the first K output images\n"
	        "  --sheet-count K   images on the sheet (default 100)\n"
	        "  --sheet-scale Z   pixel zoom of the sheet (default 2)\n"
	        "  --progress        show progress even when stderr is not a terminal\n"
	        "  -q, --quiet       no messages but errors\n"
	        "  -v, --verbose     report the photos loaded and the throughput on stderr\n"
	        "  -h, --help        this help\n",
	        MNISTM_THRESHOLD_DEFAULT, MNISTM_BSDS_THRESHOLD);
}

static void on_progress(void *ctx, int64_t done)
{
	cli_progress_update(ctx, done);
}

typedef struct {
	mnistm_cfg cfg;      /* recipe, seed, offset; mask, threshold, fit by check_options */
	const char *input, *bgdir, *out, *sheet;
	int mask, threshold, fit, size;  /* -1: the recipe's default */
	int quiet, verbose, progress, sheet_scale;
	int64_t sheet_count;
} options;

static void parse_options(int argc, char **argv, options *o)
{
	enum { O_RECIPE = 256, O_BG, O_SIZE, O_FIT, O_SEED, O_OFFSET, O_THRESHOLD, O_MASK, O_SHEET,
	       O_SHEET_COUNT, O_SHEET_SCALE, O_PROGRESS };
	static const struct option opts[] = {
		{"recipe", required_argument, 0, O_RECIPE},
		{"backgrounds", required_argument, 0, O_BG},
		{"size", required_argument, 0, O_SIZE},
		{"fit", required_argument, 0, O_FIT},
		{"seed", required_argument, 0, O_SEED},
		{"offset", required_argument, 0, O_OFFSET},
		{"threshold", required_argument, 0, O_THRESHOLD},
		{"mask", required_argument, 0, O_MASK},
		{"output", required_argument, 0, 'o'},
		{"sheet", required_argument, 0, O_SHEET},
		{"sheet-count", required_argument, 0, O_SHEET_COUNT},
		{"sheet-scale", required_argument, 0, O_SHEET_SCALE},
		{"progress", no_argument, 0, O_PROGRESS},
		{"quiet", no_argument, 0, 'q'},
		{"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	*o = (options){.cfg = {.recipe = MNISTM_NOISE, .seed = 1}, .mask = -1, .threshold = -1,
	               .fit = -1, .size = -1, .sheet_scale = 2, .sheet_count = 100};
	int c;
	while ((c = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case O_RECIPE:
			if (!strcmp(optarg, "noise"))
				o->cfg.recipe = MNISTM_NOISE;
			else if (!strcmp(optarg, "bsds"))
				o->cfg.recipe = MNISTM_BSDS;
			else
				cli_usage_error("--recipe: '%s' is not noise or bsds", optarg);
			break;
		case O_BG: o->bgdir = optarg; break;
		case O_SIZE: o->size = (int)cli_parse_int("--size", optarg, 0, MNISTM_MAX_SIDE); break;
		case O_SEED: o->cfg.seed = cli_parse_seed(optarg); break;
		case O_OFFSET: o->cfg.offset = cli_parse_int("--offset", optarg, 0, INT64_MAX / 4); break;
		case O_FIT:
			if (!strcmp(optarg, "pad"))
				o->fit = MNISTM_FIT_PAD;
			else if (!strcmp(optarg, "resize"))
				o->fit = MNISTM_FIT_RESIZE;
			else
				cli_usage_error("--fit: '%s' is not pad or resize", optarg);
			break;
		case O_THRESHOLD: o->threshold = (int)cli_parse_int("--threshold", optarg, 0, 255); break;
		case O_MASK:
			if (!strcmp(optarg, "gray"))
				o->mask = MNISTM_MASK_GRAY;
			else if (!strcmp(optarg, "binary"))
				o->mask = MNISTM_MASK_BINARY;
			else
				cli_usage_error("--mask: '%s' is not gray or binary", optarg);
			break;
		case 'o': o->out = optarg; break;
		case O_SHEET: o->sheet = optarg; break;
		case O_SHEET_COUNT: o->sheet_count = cli_parse_int("--sheet-count", optarg, 1, 10000); break;
		case O_SHEET_SCALE: o->sheet_scale = (int)cli_parse_int("--sheet-scale", optarg, 1, 16); break;
		case O_PROGRESS: o->progress = 1; break;
		case 'q': o->quiet = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		default: cli_bad_option();
		}
	}
	if (argc - optind > 1)
		cli_usage_error("at most one input FILE");
	o->input = optind < argc ? argv[optind] : "-";
}

/* The options that do not go together, each recipe's defaults for what was not given, and the
 * outputs: before any work. */
static void check_options(options *o)
{
	mnistm_cfg *cfg = &o->cfg;
	int bsds = cfg->recipe == MNISTM_BSDS;
	if (bsds && !o->bgdir)
		cli_usage_error("--recipe bsds needs --backgrounds DIR");
	if (o->sheet && !strcmp(o->sheet, "-"))
		cli_usage_error("--sheet needs a file name (standard output carries the data)");
	if (!bsds && (o->bgdir || o->mask >= 0))
		cli_usage_error("--backgrounds and --mask apply to --recipe bsds only");
	/* bsds: the published MNIST-M (Ganin et al. 2016), as measured on its images
	 * (man/mnistm-gen.1, "How the bsds defaults were found"). */
	cfg->mask = o->mask >= 0 ? (mnistm_mask)o->mask : bsds ? MNISTM_MASK_BINARY : MNISTM_MASK_GRAY;
	cfg->threshold = o->threshold >= 0 ? o->threshold : bsds ? MNISTM_BSDS_THRESHOLD : MNISTM_THRESHOLD_DEFAULT;
	cfg->fit = o->fit >= 0 ? (mnistm_fit)o->fit : bsds ? MNISTM_FIT_PAD : MNISTM_FIT_RESIZE;
	if (o->size < 0)
		o->size = bsds ? MNISTM_BSDS_SIZE : 0;
	/* both outputs can be written and neither is the input: known before the photos load */
	cli_declare_in(o->input);
	cli_check_out("-o", o->out);
	cli_check_out("--sheet", o->sheet);
}

int main(int argc, char **argv)
{
	options opt;
	cli_init(argc, argv);
	parse_options(argc, argv, &opt);
	check_options(&opt);
	cli_set_messages(opt.quiet, opt.verbose, opt.progress);
	mnistm_cfg cfg = opt.cfg;
	const char *bgdir = opt.bgdir, *out = opt.out, *sheet = opt.sheet;
	int size = opt.size, sheet_scale = opt.sheet_scale;
	int64_t sheet_count = opt.sheet_count;

	const char *inpath = opt.input;
	const char *name = cli_name(inpath);
	FILE *o = cli_open_out(out);
	FILE *in = cli_open_in(inpath);

	npy_header hd;
	int64_t n;
	int rc = npy_read_header(in, name, &hd);
	if (rc == DN_EEOF)
		cli_die("%s: empty stream, expected images then labels", name);
	if (rc < 0 || mnistm_check_images(&hd, name, &n, &cfg.in_h, &cfg.in_w) < 0)
		cli_die("%s", err_msg());
	cfg.out_h = size ? size : cfg.in_h;
	cfg.out_w = size ? size : cfg.in_w;
	if (mnistm_check_fit(&cfg) < 0)
		cli_usage_error("%s", err_msg());

	double t0 = cli_now();
	mnistm_bg bg = {0};
	if (cfg.recipe == MNISTM_BSDS) {
		if (mnistm_bg_load(&bg, bgdir, cfg.out_w, cfg.out_h) < 0)
			cli_die("%s", err_msg());
		cfg.bg = &bg;
		if (cli_verbosity >= 2) {
			double mb = 0;
			for (int i = 0; i < bg.n; i++)
				mb += (double)bg.photo[i].w * bg.photo[i].h * 3 / 1048576.0;
			cli_info("%d photos from %s decoded (%.1f MB) in %.2f s", bg.n, bgdir, mb, cli_now() - t0);
		}
	}

	int64_t nsheet = sheet ? (sheet_count < n ? sheet_count : n) : 0;
	if (sheet && nsheet == 0)
		cli_die("--sheet: %s has no images to show", name);
	plot_sheet grid;
	if (sheet && plot_sheet_images_layout(&grid, nsheet, cfg.out_h, cfg.out_w, 0, sheet_scale) < 0)
		cli_die("--sheet: %s", err_msg());
	size_t img_bytes = (size_t)cfg.out_h * (size_t)cfg.out_w * 3;
	uint8_t *sheet_imgs = nsheet ? malloc((size_t)nsheet * img_bytes) : NULL;
	if (nsheet && !sheet_imgs)
		cli_die("out of memory for the contact sheet");

	cli_progress prog;
	cli_progress_start(&prog, "images", n);
	mnistm_io io = {.in = in, .in_name = name, .out = o, .sheet = sheet_imgs,
	                .sheet_count = nsheet, .progress = on_progress, .progress_ctx = &prog};
	rc = mnistm_stream(&cfg, &hd, &io);
	cli_progress_end(&prog);
	if (rc < 0) {
		if (io.write_failed)
			cli_write_failed();
		cli_die("%s", err_msg());
	}
	cli_close_in(in);
	if (cli_verbosity >= 2)
		cli_info("%lld images of %dx%dx3 in %.2f s", (long long)n, cfg.out_h, cfg.out_w, cli_now() - t0);

	if (sheet) {
		plot_canvas pix;
		if (plot_sheet_images(&grid, sheet_imgs, sheet_scale, &pix) < 0)
			cli_die("--sheet: %s", err_msg());
		/* Flush the dataset before the sheet is renamed into place, so that a full disk
		 * stops the run before either file appears. */
		errno = 0;
		if (fflush(o) != 0 || ferror(o))
			cli_write_failed();
		FILE *sf = cli_open_out_text(sheet);
		if (png_write(sf, pix.w, pix.h, 3, pix.px) < 0)
			cli_die("%s: %s", sheet, err_msg());
		cli_commit_out(sf);
		cli_commit_out(o);
		plot_canvas_free(&pix);
	} else {
		cli_commit_out(o);
	}
	free(sheet_imgs);
	mnistm_bg_free(&bg);
	return 0;
}
