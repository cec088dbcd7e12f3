/* tsne - 2-D t-SNE layout of an embedding stream; frame after frame with warm starts.
 *
 * Input: points (N,D) float32, then per-point arrays (labels, domains, ...).
 * Output: layout (N,2) float32, then the same per-point arrays unchanged.
 * The numerics live in lib/tsne, the streams in lib/stream/layout.c; this file parses options
 * and reports. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/cli.h"
#include "base/err.h"
#include "base/mem.h"
#include "stream/layout.h"
#include "tsne/tsne.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tsne [options] [FILE]            one layout, to stdout or -o FILE\n"
	        "       tsne [options] --sequence -O DIR FILE...   DIR/frame-0000.npy, ...\n"
	        "2-D t-SNE of an embedding stream: points (N,D) float32 then per-point arrays,\n"
	        "written as layout (N,2) float32 then the same per-point arrays.\n"
	        "  -o, --output FILE     write to FILE (atomically) instead of stdout\n"
	        "  -p, --perplexity X    perplexity (30); needs N-1 >= 3*X\n"
	        "  -n, --iter N          gradient-descent iterations (1000)\n"
	        "      --exag X          early exaggeration factor (12)\n"
	        "      --exag-iter N     iterations with exaggeration (250; 0 for warm starts)\n"
	        "      --momentum-switch N  momentum 0.5 -> 0.8 at iteration N (= --exag-iter)\n"
	        "      --lr X            learning rate (default max(N/12, 200))\n"
	        "      --method M        auto, exact, bh or fft (auto: fft while the layout is\n"
	        "                        small for N, else bh)\n"
	        "      --theta X         Barnes-Hut opening angle (0.5); 0 means exact\n"
	        "      --knn M           auto, exact or approx nearest neighbours (auto: approx\n"
	        "                        from %d points)\n"
	        "      --pca M           project the points on their first M principal components\n"
	        "      --init FILE       start from the (N,2) float32 first array of FILE\n"
	        "      --random-init     seeded Gaussian start (std 1e-4) instead of PCA\n"
	        "      --seed N          seed for --random-init and approximate neighbours (1)\n"
	        "      --sequence        each FILE is one frame, started from the previous layout\n"
	        "  -O, --output-dir DIR  --sequence output folder (created if missing)\n"
	        "      --cold            --sequence without warm starts (each frame from scratch)\n"
	        "      --threads N       threads (default: all processors); same N, same bytes\n"
	        "  -v, --verbose         report the KL divergence every --report-every iterations\n"
	        "      --report-every K  (50)\n"
	        "  -q, --quiet           no messages but errors\n"
	        "      --progress        progress line on stderr even when it is not a terminal\n"
	        "  -h, --help            this help\n"
	        "Placing new points into a finished layout (the reference points do not move):\n"
	        "  tsne --place-into LAYOUT --reference POINTS [options] [FILE]\n"
	        "      --place-into LAYOUT   the reference layout: (N,2) float32 (a tsne output)\n"
	        "      --reference POINTS    the (N,D) points LAYOUT was made from\n"
	        "      --with-reference      write the reference rows first, then the new ones\n"
	        "  here -p is 5, -n 250 and --lr 0.1 unless given (openTSNE's transform).\n",
	        TSNE_ANN_MIN_N);
}

typedef struct {
	tsne_params p;            /* the schedule; exag_iter and mom_switch_iter set in main */
	int exag_iter;            /* -1: 250 from a PCA or random start, 0 from a given layout */
	int momentum_switch;      /* -1: the end of exaggeration */
	int perplexity_given, iter_given, lr_given; /* --place-into has its own defaults */
	int pca;                  /* 0: the points as they are */
	const char *output;       /* -o; NULL: stdout */
	const char *output_dir;   /* -O, for --sequence */
	const char *init;         /* --init FILE */
	int sequence, cold;
	const char *place_into, *reference;
	int with_reference;
	int threads;              /* 0: all processors */
	int quiet, verbose, progress;
	char **inputs;            /* the FILE operands */
	int ninputs;
} options;

static void parse_options(options *o, int argc, char **argv)
{
	enum { O_EXAG = 256, O_EXAG_ITER, O_MOMSW, O_LR, O_METHOD, O_THETA, O_PCA, O_INIT,
	       O_RANDOM, O_SEED, O_SEQ, O_COLD, O_THREADS, O_REPORT, O_PROGRESS, O_PLACE, O_REF,
	       O_WITHREF, O_KNN };
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'}, {"perplexity", required_argument, 0, 'p'},
		{"iter", required_argument, 0, 'n'}, {"exag", required_argument, 0, O_EXAG},
		{"exag-iter", required_argument, 0, O_EXAG_ITER},
		{"momentum-switch", required_argument, 0, O_MOMSW}, {"lr", required_argument, 0, O_LR},
		{"method", required_argument, 0, O_METHOD}, {"theta", required_argument, 0, O_THETA},
		{"pca", required_argument, 0, O_PCA}, {"init", required_argument, 0, O_INIT},
		{"random-init", no_argument, 0, O_RANDOM}, {"seed", required_argument, 0, O_SEED},
		{"sequence", no_argument, 0, O_SEQ}, {"output-dir", required_argument, 0, 'O'},
		{"cold", no_argument, 0, O_COLD}, {"threads", required_argument, 0, O_THREADS},
		{"verbose", no_argument, 0, 'v'}, {"report-every", required_argument, 0, O_REPORT},
		{"quiet", no_argument, 0, 'q'}, {"progress", no_argument, 0, O_PROGRESS},
		{"place-into", required_argument, 0, O_PLACE}, {"reference", required_argument, 0, O_REF},
		{"with-reference", no_argument, 0, O_WITHREF}, {"knn", required_argument, 0, O_KNN},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	memset(o, 0, sizeof *o);
	tsne_params_default(&o->p);
	o->p.seed = 1;
	o->p.report_every = 50;
	o->exag_iter = o->momentum_switch = -1;
	tsne_params *p = &o->p;
	int c;
	while ((c = getopt_long(argc, argv, "o:p:n:O:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o->output = optarg; break;
		case 'p': p->perplexity = cli_parse_double("--perplexity", optarg, 1.0001, 1e6); o->perplexity_given = 1; break;
		case 'n': p->max_iter = (int)cli_parse_int("--iter", optarg, 0, 100000000); o->iter_given = 1; break;
		case O_EXAG: p->exaggeration = cli_parse_double("--exag", optarg, 1e-3, 1e6); break;
		case O_EXAG_ITER: o->exag_iter = (int)cli_parse_int("--exag-iter", optarg, 0, 100000000); break;
		case O_MOMSW: o->momentum_switch = (int)cli_parse_int("--momentum-switch", optarg, 0, 100000000); break;
		case O_LR: p->learning_rate = cli_parse_double("--lr", optarg, 1e-6, 1e9); o->lr_given = 1; break;
		case O_PLACE: o->place_into = optarg; break;
		case O_REF: o->reference = optarg; break;
		case O_WITHREF: o->with_reference = 1; break;
		case O_METHOD:
			if (!strcmp(optarg, "auto")) p->method = TSNE_AUTO;
			else if (!strcmp(optarg, "exact")) p->method = TSNE_EXACT;
			else if (!strcmp(optarg, "bh")) p->method = TSNE_BH;
			else if (!strcmp(optarg, "fft")) p->method = TSNE_FFT;
			else cli_usage_error("--method: '%s' is not auto, exact, bh or fft", optarg);
			break;
		case O_KNN:
			if (!strcmp(optarg, "auto")) p->knn = TSNE_KNN_AUTO;
			else if (!strcmp(optarg, "exact")) p->knn = TSNE_KNN_EXACT;
			else if (!strcmp(optarg, "approx")) p->knn = TSNE_KNN_APPROX;
			else cli_usage_error("--knn: '%s' is not auto, exact or approx", optarg);
			break;
		case O_THETA: p->theta = cli_parse_double("--theta", optarg, 0.0, 10.0); break;
		case O_PCA: o->pca = (int)cli_parse_int("--pca", optarg, 2, 1000000); break;
		case O_INIT: o->init = optarg; break;
		case O_RANDOM: p->init = TSNE_INIT_RANDOM; break;
		case O_SEED: p->seed = cli_parse_seed(optarg); break;
		case O_SEQ: o->sequence = 1; break;
		case 'O': o->output_dir = optarg; break;
		case O_COLD: o->cold = 1; break;
		case O_THREADS: o->threads = cli_parse_threads(optarg); break;
		case 'v': o->verbose = 1; break;
		case O_REPORT: p->report_every = (int)cli_parse_int("--report-every", optarg, 1, 100000000); break;
		case 'q': o->quiet = 1; break;
		case O_PROGRESS: o->progress = 1; break;
		case 'h': usage(stdout); exit(0);
		default: cli_bad_option();
		}
	}
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
}

/* Options that do not go together, and the outputs, checked before any work. */
static void check_options(const options *o)
{
	const tsne_params *p = &o->p;
	/* Every input is known and the output can be written (an output may not replace an
	 * input). */
	for (int i = 0; i < o->ninputs; i++)
		cli_declare_in(o->inputs[i]);
	cli_declare_in(o->init);
	cli_declare_in(o->place_into);
	cli_declare_in(o->reference);
	cli_check_out("-o", o->output);
	if (o->place_into || o->reference || o->with_reference) {
		if (!o->place_into || !o->reference)
			cli_usage_error("--place-into LAYOUT and --reference POINTS go together");
		if (o->sequence || o->output_dir || o->cold || o->init || p->init == TSNE_INIT_RANDOM ||
		    o->pca)
			cli_usage_error("--place-into does not go with --sequence, -O, --cold, --init, "
			                "--random-init or --pca");
		if (o->ninputs > 1)
			cli_usage_error("one input FILE of new points");
		return;
	}
	if (o->sequence) {
		if (!o->output_dir)
			cli_usage_error("--sequence needs -O, --output-dir DIR");
		if (o->output)
			cli_usage_error("--sequence writes to -O DIR, not -o");
		if (o->ninputs < 1)
			cli_usage_error("--sequence needs at least one input FILE");
	} else {
		if (o->output_dir || o->cold)
			cli_usage_error("-O and --cold go with --sequence");
		if (o->ninputs > 1)
			cli_usage_error("one input FILE (or --sequence for several)");
	}
	if (p->init == TSNE_INIT_RANDOM && o->init)
		cli_usage_error("--init and --random-init do not go together");
}

/* Whether folder `dir` exists and takes new files, or can be made (mkdir -p): checked before
 * the first frame's minutes of work, made only when that frame is written. */
static void check_output_dir(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			cli_die("%s: not a folder", dir);
		if (access(dir, W_OK | X_OK) != 0)
			cli_die("%s: cannot write: %s", dir, strerror(errno));
		return;
	}
	/* the nearest folder above it that exists must take new entries */
	char *a = strdup(dir);
	if (!a)
		cli_die("out of memory");
	for (;;) {
		/* a less its last component (trailing slashes ignored) */
		size_t n = strlen(a);
		while (n > 1 && a[n - 1] == '/')
			n--;
		while (n > 0 && a[n - 1] != '/')
			n--;
		while (n > 1 && a[n - 1] == '/')
			n--;
		if (n == 0)
			strcpy(a, ".");
		else
			a[n] = '\0';
		if (stat(a, &st) == 0)
			break;
		if (n == 0)
			cli_die("%s: cannot create: %s", dir, strerror(errno));
	}
	int err = !S_ISDIR(st.st_mode) ? ENOTDIR : access(a, W_OK | X_OK) != 0 ? errno : 0;
	if (err)
		cli_die("%s: cannot create: %s", dir, strerror(err));
	free(a);
}

typedef struct {
	cli_progress prog;
	const char *frame;
} ui_ctx;

static int on_report(void *c, int iter, int max_iter, double kl)
{
	ui_ctx *u = c;
	if (cli_verbosity >= 2 || iter == max_iter)
		if (cli_verbosity >= 1) {
			if (cli_progress_on && cli_verbosity >= 2)
				fputc('\n', stderr);
			cli_info("%s%siteration %d/%d: KL divergence %.5f", u->frame ? u->frame : "",
			         u->frame ? ": " : "", iter, max_iter, kl);
		}
	return 0;
}

static void on_progress(void *c, int iter, int max_iter)
{
	ui_ctx *u = c;
	cli_progress_update(&u->prog, iter);
}

/* --place-into: put the points of in_path into the layout of the reference points. */
static void run_place(const char *in_path, const char *out_path, const char *lay_path,
                      const char *ref_path, int with_ref, const tsne_place_params *pp, ui_ctx *u)
{
	const char *rname = cli_name(ref_path), *lname = cli_name(lay_path);
	const char *name = cli_name(in_path);
	layout_points ref, lay, in;
	FILE *f = cli_open_in(ref_path);
	if (layout_points_read(&ref, f, rname) < 0)
		cli_die("%s", err_msg());
	cli_close_in(f);
	f = cli_open_in(lay_path);
	if (layout_points_read(&lay, f, lname) < 0)
		cli_die("%s", err_msg());
	cli_close_in(f);
	if (lay.d != 2)
		cli_die("%s: a layout must be (N,2) float32, got (%lld,%d)", lname, (long long)lay.n,
		        lay.d);
	if (lay.n != ref.n)
		cli_die("%s: N=%lld points, the reference %s has N=%lld", lname, (long long)lay.n,
		        rname, (long long)ref.n);
	f = cli_open_in(in_path);
	if (layout_points_read(&in, f, name) < 0)
		cli_die("%s", err_msg());
	cli_close_in(f);
	if (in.d != ref.d)
		cli_die("%s: points have D=%d, the reference %s D=%d", name, in.d, rname, ref.d);
	if (with_ref && layout_joinable(&lay, &in, lname, name) < 0)
		cli_die("%s", err_msg());
	float *y = mem_alloc_big((size_t)in.n * 2 * sizeof *y);
	if (!y)
		cli_die("out of memory");
	tsne_place_params p = *pp;
	p.ctx = u;
	cli_progress_start(&u->prog, "tsne", p.max_iter);
	if (tsne_place(y, in.x, in.n, ref.x, lay.x, ref.n, ref.d, &p) < 0)
		cli_die("%s: %s", name, err_msg());
	cli_progress_end(&u->prog);
	FILE *o = cli_open_out(out_path);
	if ((with_ref ? layout_write_joined(o, lay.x, &lay, y, &in) : layout_write(o, y, &in)) < 0)
		cli_write_failed();
	cli_commit_out(o);
	free(y);
	layout_points_free(&ref), layout_points_free(&lay), layout_points_free(&in);
}

/* The -O folder of --sequence, made only when the first frame is written, so that a bad first
 * input leaves nothing behind. */
static const char *pending_dir;

/* Run one frame: read `in_path`, lay out (from `init` when non-NULL), write `out_path`. */
static void run_frame(const char *in_path, const char *out_path, float **init_y, int64_t *init_n,
                      int use_init, int keep, const tsne_params *base, int pca_dims, ui_ctx *u)
{
	const char *name = cli_name(in_path);
	FILE *f = cli_open_in(in_path);
	layout_points in;
	if (layout_points_read(&in, f, name) < 0)
		cli_die("%s", err_msg());
	cli_close_in(f);
	tsne_params p = *base;
	float *x = in.x;
	int d = in.d;
	if (pca_dims > 0) {
		if (pca_dims > in.d)
			cli_die("%s: --pca %d is more than the D=%d dimensions of the points", name,
			        pca_dims, in.d);
		if (pca_dims < in.d) {
			x = mem_alloc_big((size_t)in.n * pca_dims * sizeof *x);
			if (!x)
				cli_die("out of memory");
			if (tsne_pca_float(x, in.x, in.n, in.d, pca_dims) < 0)
				cli_die("%s", err_msg());
			d = pca_dims;
		}
	}
	float *y = mem_alloc_big((size_t)in.n * 2 * sizeof *y);
	if (!y)
		cli_die("out of memory");
	if (use_init) {
		if (*init_n != in.n)
			cli_die("%s: N=%lld points, the init layout has N=%lld", name, (long long)in.n,
			        (long long)*init_n);
		memcpy(y, *init_y, (size_t)in.n * 2 * sizeof *y);
		p.init = TSNE_INIT_GIVEN;
	}
	if ((double)(in.n - 1) < 3.0 * p.perplexity)
		cli_die("%s: N=%lld points too few for perplexity %g (need N-1 >= 3*perplexity)", name,
		        (long long)in.n, p.perplexity);
	p.ctx = u;
	cli_progress_start(&u->prog, "tsne", p.max_iter);
	double kl;
	if (tsne_run(y, x, in.n, d, &p, &kl) < 0)
		cli_die("%s: %s", name, err_msg());
	cli_progress_end(&u->prog);
	if (pending_dir) { /* --sequence: the folder appears with its first frame */
		cli_make_dir(pending_dir);
		pending_dir = NULL;
	}
	FILE *o = cli_open_out(out_path);
	if (layout_write(o, y, &in) < 0)
		cli_write_failed();
	cli_commit_out(o);
	if (x != in.x)
		free(x);
	if (keep) { /* the next frame starts here */
		free(*init_y);
		*init_y = y;
		*init_n = in.n;
	} else {
		free(y);
	}
	layout_points_free(&in);
}

int main(int argc, char **argv)
{
	cli_init(argc, argv);
	options o;
	parse_options(&o, argc, argv);
	check_options(&o);
	cli_set_messages(o.quiet, o.verbose, o.progress);
	if (o.threads > 0) {
#ifdef _OPENMP
		omp_set_num_threads(o.threads);
#endif
		openblas_set_num_threads(o.threads);
	}
	tsne_params p = o.p;
	ui_ctx u = {0};

	if (o.place_into) {
		tsne_place_params pp;
		tsne_place_params_default(&pp);
		if (o.perplexity_given)
			pp.perplexity = p.perplexity;
		if (o.iter_given)
			pp.max_iter = p.max_iter;
		if (o.lr_given)
			pp.learning_rate = p.learning_rate;
		pp.theta = p.theta;
		pp.progress = on_progress;
		run_place(o.ninputs ? o.inputs[0] : NULL, o.output, o.place_into, o.reference,
		          o.with_reference, &pp, &u);
		return 0;
	}
	if (p.method == TSNE_BH && p.theta <= 0)
		p.method = TSNE_EXACT;
	p.report = on_report;
	p.progress = on_progress;
	if (!o.verbose)
		p.report_every = 0;

	/* Schedules: a cold start has early exaggeration; a warm start (--init, or a later frame
	 * of a sequence) none unless asked. */
	tsne_params cold_p = p, warm_p = p;
	cold_p.exag_iter = o.exag_iter >= 0 ? o.exag_iter : 250;
	warm_p.exag_iter = o.exag_iter >= 0 ? o.exag_iter : 0;
	cold_p.mom_switch_iter = o.momentum_switch >= 0 ? o.momentum_switch : cold_p.exag_iter;
	warm_p.mom_switch_iter = o.momentum_switch >= 0 ? o.momentum_switch : warm_p.exag_iter;

	float *y0 = NULL;
	int64_t y0n = -1;
	if (o.init) {
		/* The layout's N is checked against the points when the first frame is read. */
		FILE *f = cli_open_in(o.init);
		char what[300];
		snprintf(what, sizeof what, "%s: init layout", cli_name(o.init));
		if (layout_read(f, cli_name(o.init), "init layout", &y0, &y0n) < 0 ||
		    tsne_layout_check(y0, y0n, what) < 0)
			cli_die("%s", err_msg());
		cli_close_in(f);
	}

	if (!o.sequence) {
		run_frame(o.ninputs ? o.inputs[0] : NULL, o.output, &y0, &y0n, y0 != NULL, 0,
		          y0 ? &warm_p : &cold_p, o.pca, &u);
		free(y0);
		return 0;
	}
	check_output_dir(o.output_dir);
	pending_dir = o.output_dir;
	for (int k = 0; k < o.ninputs; k++) {
		size_t len = strlen(o.output_dir) + 32;
		char *path = malloc(len);
		if (!path)
			cli_die("out of memory");
		snprintf(path, len, "%s/frame-%04d.npy", o.output_dir, k);
		char label[48];
		snprintf(label, sizeof label, "frame %d/%d", k + 1, o.ninputs);
		u.frame = label;
		cli_info("%s: %s -> %s", label, o.inputs[k], path);
		/* warm: from the previous frame's layout (or --init for the first) */
		int warm = y0 != NULL;
		run_frame(o.inputs[k], path, &y0, &y0n, warm, !o.cold, warm ? &warm_p : &cold_p, o.pca,
		          &u);
		free(path);
	}
	free(y0);
	return 0;
}
