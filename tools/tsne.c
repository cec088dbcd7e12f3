/* tsne - 2-D t-SNE layout of an embedding stream; frame after frame with warm starts.
 *
 * Input: points (N,D) float32, then per-point arrays (labels, domains, ...).
 * Output: layout (N,2) float32, then the same per-point arrays unchanged.
 * All the numerics live in lib/tsne/tsne.c; this file parses options and reports. */
#include <getopt.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/cli.h"
#include "base/err.h"
#include "stream/npy.h"
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
	        "  -s, --seed N          seed for --random-init and approximate neighbours (0)\n"
	        "      --sequence        each FILE is one frame, started from the previous layout\n"
	        "  -O, --outdir DIR      --sequence output folder (created if missing)\n"
	        "      --cold            --sequence without warm starts (each frame from scratch)\n"
	        "  -j, --threads N       threads (default: all cores); same N, same bytes\n"
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
	const char *rname = strcmp(ref_path, "-") ? ref_path : "stdin";
	const char *lname = strcmp(lay_path, "-") ? lay_path : "stdin";
	const char *name = (!in_path || !strcmp(in_path, "-")) ? "stdin" : in_path;
	tsne_input ref, lay, in;
	FILE *f = cli_open_in(ref_path);
	if (tsne_input_read(&ref, f, rname) < 0)
		cli_die("%s", err_msg());
	cli_close_in(f);
	f = cli_open_in(lay_path);
	if (tsne_input_read(&lay, f, lname) < 0)
		cli_die("%s", err_msg());
	cli_close_in(f);
	if (lay.d != 2)
		cli_die("%s: a layout must be (N,2) float32, got (%lld,%d)", lname, (long long)lay.n,
		        lay.d);
	if (lay.n != ref.n)
		cli_die("%s: N=%lld points, the reference %s has N=%lld", lname, (long long)lay.n,
		        rname, (long long)ref.n);
	f = cli_open_in(in_path);
	if (tsne_input_read(&in, f, name) < 0)
		cli_die("%s", err_msg());
	cli_close_in(f);
	if (in.d != ref.d)
		cli_die("%s: points have D=%d, the reference %s D=%d", name, in.d, rname, ref.d);
	if (with_ref && tsne_joinable(&lay, &in, lname, name) < 0)
		cli_die("%s", err_msg());
	float *y = malloc((size_t)in.n * 2 * sizeof *y);
	if (!y)
		cli_die("out of memory");
	tsne_place_params p = *pp;
	p.ctx = u;
	cli_progress_start(&u->prog, "tsne", p.max_iter);
	if (tsne_place(y, in.x, in.n, ref.x, lay.x, ref.n, ref.d, &p) < 0)
		cli_die("%s: %s", name, err_msg());
	cli_progress_end(&u->prog);
	FILE *o = cli_open_out(out_path);
	if ((with_ref ? tsne_output_write_joined(o, lay.x, &lay, y, &in)
	              : tsne_output_write(o, y, &in)) < 0)
		cli_write_failed();
	cli_commit_out(o);
	free(y);
	tsne_input_free(&ref), tsne_input_free(&lay), tsne_input_free(&in);
}

/* The -O folder of --sequence, made only when the first frame is written, so that a bad first
 * input leaves nothing behind. */
static const char *pending_dir;

/* Run one frame: read `in_path`, lay out (from `init` when non-NULL), write `out_path`. */
static void run_frame(const char *in_path, const char *out_path, float **init_y, int64_t *init_n,
                      int use_init, int keep, const tsne_params *base, int pca_dims, ui_ctx *u)
{
	const char *name = (!in_path || !strcmp(in_path, "-")) ? "stdin" : in_path;
	FILE *f = cli_open_in(in_path);
	tsne_input in;
	if (tsne_input_read(&in, f, name) < 0)
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
			x = malloc((size_t)in.n * pca_dims * sizeof *x);
			if (!x)
				cli_die("out of memory");
			if (tsne_pca(x, in.x, in.n, in.d, pca_dims) < 0)
				cli_die("%s", err_msg());
			d = pca_dims;
		}
	}
	float *y = malloc((size_t)in.n * 2 * sizeof *y);
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
		if (mkdir(pending_dir, 0777) != 0 && errno != EEXIST)
			cli_die("%s: cannot create: %s", pending_dir, strerror(errno));
		pending_dir = NULL;
	}
	FILE *o = cli_open_out(out_path);
	if (tsne_output_write(o, y, &in) < 0)
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
	tsne_input_free(&in);
}

int main(int argc, char **argv)
{
	enum { O_EXAG = 256, O_EXAG_ITER, O_MOMSW, O_LR, O_METHOD, O_THETA, O_PCA, O_INIT,
	       O_RANDOM, O_SEQ, O_COLD, O_REPORT, O_PROGRESS, O_PLACE, O_REF, O_WITHREF, O_KNN };
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'}, {"perplexity", required_argument, 0, 'p'},
		{"iter", required_argument, 0, 'n'}, {"exag", required_argument, 0, O_EXAG},
		{"exag-iter", required_argument, 0, O_EXAG_ITER},
		{"momentum-switch", required_argument, 0, O_MOMSW}, {"lr", required_argument, 0, O_LR},
		{"method", required_argument, 0, O_METHOD}, {"theta", required_argument, 0, O_THETA},
		{"pca", required_argument, 0, O_PCA}, {"init", required_argument, 0, O_INIT},
		{"random-init", no_argument, 0, O_RANDOM}, {"seed", required_argument, 0, 's'},
		{"sequence", no_argument, 0, O_SEQ}, {"outdir", required_argument, 0, 'O'},
		{"cold", no_argument, 0, O_COLD}, {"threads", required_argument, 0, 'j'},
		{"verbose", no_argument, 0, 'v'}, {"report-every", required_argument, 0, O_REPORT},
		{"quiet", no_argument, 0, 'q'}, {"progress", no_argument, 0, O_PROGRESS},
		{"place-into", required_argument, 0, O_PLACE}, {"reference", required_argument, 0, O_REF},
		{"with-reference", no_argument, 0, O_WITHREF}, {"knn", required_argument, 0, O_KNN},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	tsne_params p;
	tsne_params_default(&p);
	const char *out = NULL, *outdir = NULL, *init_path = NULL, *place = NULL, *refp = NULL;
	int with_ref = 0, p_given = 0, n_given = 0, lr_given = 0;
	int quiet = 0, verbose = 0, progress = 0, seq = 0, cold = 0, pca_dims = 0, threads = 0;
	int exag_iter = -1, mom_switch = -1, c;
	p.report_every = 50;
	/* OpenMP threads that spin while waiting at a barrier steal the CPU from the thread
	 * they wait for whenever the machine has more runnable threads than cores: measured 18x
	 * slower on a loaded 2-core machine.  libgomp reads its policy from the environment
	 * before main() runs, so set it and start again (once; a user's setting is kept). */
	if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
		setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
		execv("/proc/self/exe", argv); /* on failure, go on as we are */
	}
	cli_init(argc, argv);
	opterr = 0; /* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, "o:p:n:s:O:j:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'p': p.perplexity = cli_parse_double("--perplexity", optarg, 1.0001, 1e6); p_given = 1; break;
		case 'n': p.max_iter = (int)cli_parse_int("--iter", optarg, 0, 100000000); n_given = 1; break;
		case O_EXAG: p.exaggeration = cli_parse_double("--exag", optarg, 1e-3, 1e6); break;
		case O_EXAG_ITER: exag_iter = (int)cli_parse_int("--exag-iter", optarg, 0, 100000000); break;
		case O_MOMSW: mom_switch = (int)cli_parse_int("--momentum-switch", optarg, 0, 100000000); break;
		case O_LR: p.learning_rate = cli_parse_double("--lr", optarg, 1e-6, 1e9); lr_given = 1; break;
		case O_PLACE: place = optarg; break;
		case O_REF: refp = optarg; break;
		case O_WITHREF: with_ref = 1; break;
		case O_METHOD:
			if (!strcmp(optarg, "auto")) p.method = TSNE_AUTO;
			else if (!strcmp(optarg, "exact")) p.method = TSNE_EXACT;
			else if (!strcmp(optarg, "bh")) p.method = TSNE_BH;
			else if (!strcmp(optarg, "fft")) p.method = TSNE_FFT;
			else cli_usage_error("--method: '%s' is not auto, exact, bh or fft", optarg);
			break;
		case O_KNN:
			if (!strcmp(optarg, "auto")) p.knn = TSNE_KNN_AUTO;
			else if (!strcmp(optarg, "exact")) p.knn = TSNE_KNN_EXACT;
			else if (!strcmp(optarg, "approx")) p.knn = TSNE_KNN_APPROX;
			else cli_usage_error("--knn: '%s' is not auto, exact or approx", optarg);
			break;
		case O_THETA: p.theta = cli_parse_double("--theta", optarg, 0.0, 10.0); break;
		case O_PCA: pca_dims = (int)cli_parse_int("--pca", optarg, 2, 1000000); break;
		case O_INIT: init_path = optarg; break;
		case O_RANDOM: p.init = TSNE_INIT_RANDOM; break;
		case 's': p.seed = (uint64_t)cli_parse_int("--seed", optarg, 0, INT64_MAX); break;
		case O_SEQ: seq = 1; break;
		case 'O': outdir = optarg; break;
		case O_COLD: cold = 1; break;
		case 'j': threads = (int)cli_parse_int("--threads", optarg, 1, 1024); break;
		case 'v': verbose = 1; break;
		case O_REPORT: p.report_every = (int)cli_parse_int("--report-every", optarg, 1, 100000000); break;
		case 'q': quiet = 1; break;
		case O_PROGRESS: progress = 1; break;
		case 'h': usage(stdout); return 0;
		default:
			if (optopt && strchr("opnsOj", optopt))
				cli_usage_error("option -%c needs a value", optopt);
			cli_usage_error("unknown option or missing value: %s", argv[optind - 1]);
		}
	}
	cli_set_progress(progress, quiet);
	if (verbose && !quiet)
		cli_verbosity = 2;
	if (threads > 0) {
#ifdef _OPENMP
		omp_set_num_threads(threads);
#endif
		openblas_set_num_threads(threads);
	}
	int nin = argc - optind;
	/* Every input is known and the output can be written, before any work (an output may not
	 * replace an input). */
	for (int i = optind; i < argc; i++)
		cli_declare_in(argv[i]);
	cli_declare_in(init_path);
	cli_declare_in(place);
	cli_declare_in(refp);
	cli_check_out("-o", out);
	if (place || refp || with_ref) {
		if (!place || !refp)
			cli_usage_error("--place-into LAYOUT and --reference POINTS go together");
		if (seq || outdir || cold || init_path || p.init == TSNE_INIT_RANDOM || pca_dims)
			cli_usage_error("--place-into does not go with --sequence, -O, --cold, --init, "
			                "--random-init or --pca");
		if (nin > 1)
			cli_usage_error("one input FILE of new points");
		tsne_place_params pp;
		tsne_place_params_default(&pp);
		if (p_given)
			pp.perplexity = p.perplexity;
		if (n_given)
			pp.max_iter = p.max_iter;
		if (lr_given)
			pp.learning_rate = p.learning_rate;
		pp.theta = p.theta;
		pp.progress = on_progress;
		ui_ctx u = {0};
		run_place(nin ? argv[optind] : NULL, out, place, refp, with_ref, &pp, &u);
		return 0;
	}
	if (seq) {
		if (!outdir)
			cli_usage_error("--sequence needs -O DIR");
		if (out)
			cli_usage_error("--sequence writes to -O DIR, not -o");
		if (nin < 1)
			cli_usage_error("--sequence needs at least one input FILE");
		if (p.init == TSNE_INIT_RANDOM && init_path)
			cli_usage_error("--init and --random-init do not go together");
	} else {
		if (outdir || cold)
			cli_usage_error("-O and --cold go with --sequence");
		if (nin > 1)
			cli_usage_error("one input FILE (or --sequence for several)");
		if (p.init == TSNE_INIT_RANDOM && init_path)
			cli_usage_error("--init and --random-init do not go together");
	}
	if (p.method == TSNE_BH && p.theta <= 0)
		p.method = TSNE_EXACT;

	ui_ctx u = {0};
	p.report = on_report;
	p.progress = on_progress;
	if (!verbose)
		p.report_every = 0;

	/* Schedules: a cold start has early exaggeration; a warm start (--init, or a later frame
	 * of a sequence) none unless asked. */
	tsne_params cold_p = p, warm_p = p;
	cold_p.exag_iter = exag_iter >= 0 ? exag_iter : 250;
	warm_p.exag_iter = exag_iter >= 0 ? exag_iter : 0;
	cold_p.mom_switch_iter = mom_switch >= 0 ? mom_switch : cold_p.exag_iter;
	warm_p.mom_switch_iter = mom_switch >= 0 ? mom_switch : warm_p.exag_iter;

	float *y0 = NULL;
	int64_t y0n = -1;
	if (init_path) {
		/* The layout's N is checked against the points when the first frame is read. */
		FILE *f = cli_open_in(init_path);
		const char *iname = strcmp(init_path, "-") ? init_path : "stdin";
		if (tsne_layout_read(&y0, &y0n, f, iname) < 0)
			cli_die("%s", err_msg());
		cli_close_in(f);
	}

	if (!seq) {
		run_frame(nin ? argv[optind] : NULL, out, &y0, &y0n, y0 != NULL, 0,
		          y0 ? &warm_p : &cold_p, pca_dims, &u);
		free(y0);
		return 0;
	}

	/* Check the folder now (not after the first frame's minutes of work); make it later. */
	struct stat st;
	if (stat(outdir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			cli_die("%s: not a folder", outdir);
		if (access(outdir, W_OK | X_OK) != 0)
			cli_die("%s: cannot write: %s", outdir, strerror(errno));
	} else {
		/* the parent: outdir less its last component (trailing slashes ignored) */
		size_t n = strlen(outdir);
		while (n > 1 && outdir[n - 1] == '/')
			n--;
		while (n > 0 && outdir[n - 1] != '/')
			n--;
		while (n > 1 && outdir[n - 1] == '/')
			n--;
		char *parent = n ? strndup(outdir, n) : strdup(".");
		if (!parent)
			cli_die("out of memory");
		if (access(parent, W_OK | X_OK) != 0)
			cli_die("%s: cannot create: %s", outdir, strerror(errno));
		free(parent);
		pending_dir = outdir;
	}
	for (int k = 0; k < nin; k++) {
		size_t len = strlen(outdir) + 32;
		char *path = malloc(len);
		if (!path)
			cli_die("out of memory");
		snprintf(path, len, "%s/frame-%04d.npy", outdir, k);
		char label[48];
		snprintf(label, sizeof label, "frame %d/%d", k + 1, nin);
		u.frame = label;
		cli_info("%s: %s -> %s", label, argv[optind + k], path);
		/* warm: from the previous frame's layout (or --init for the first) */
		int warm = y0 != NULL;
		run_frame(argv[optind + k], path, &y0, &y0n, warm, !cold, warm ? &warm_p : &cold_p,
		          pca_dims, &u);
		free(path);
	}
	free(y0);
	return 0;
}
