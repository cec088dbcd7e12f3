/* domain-distance - the proxy A-distance (PAD) of embedding streams, or of raw images: how well a
 * fresh linear SVM tells source from target (Ganin et al. 2016, section 5.1.5).
 * One TSV row per input; the numerics are lib/eval/pad.c (liblinear's SVMs). */
#include <getopt.h>
#include <linear.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/err.h"
#include "stream/npy.h"
#include "eval/pad.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: domain-distance [options] [FILE...]\n"
	        "       domain-distance [options] --source FILE --target FILE [--per-domain N]\n"
	        "Proxy A-distance between the source (domain 0) and target (domain 1) rows of each\n"
	        "embedding stream (features (N,D) float32, labels, domains (N,) uint8, as dann-embed\n"
	        "writes them; '-' or no FILE reads stdin), or between the pixels of two dataset\n"
	        "streams.  One TSV row per input, after a header line:\n"
	        "  input protocol pad epsilon C flipped source_train target_train source_val\n"
	        "  target_val source_test target_test\n"
	        "  --held-out           choose C on a validation quarter and report the error of that\n"
	        "                       one classifier on the last quarter (default: the paper's way,\n"
	        "                       the lowest test error over C; optimistic)\n"
	        "  --source FILE --target FILE   raw inputs: the images of two dataset streams\n"
	        "  --per-domain N       a seeded subset of N images of each (as dann-embed picks it)\n"
	        "  --seed N             seed of that subset and of the SVM solver's order (default 1)\n"
	        "  --solver S           the liblinear solver: squared-hinge (default; -s 2), hinge\n"
	        "                       (-s 3, the loss of the paper's SVM; slower) or logistic (-s 0)\n"
	        "  --no-scale           use the features as they are (default: standardise each\n"
	        "                       feature with the training rows' mean and standard deviation)\n"
	        "  -o, --output FILE    write the table to FILE (atomically) instead of stdout\n"
	        "  -v, --verbose        the error of every C on stderr\n"
	        "  -q, --quiet          no progress      --progress  force progress\n"
	        "  -h, --help           this help\n");
}

static const struct {
	const char *name;
	int type;
	double tol;
} solvers[] = {
	{"squared-hinge", L2R_L2LOSS_SVC, 0.01},
	{"hinge", L2R_L1LOSS_SVC_DUAL, 0.1},
	{"logistic", L2R_LR, 0.01},
};

static void report(FILE *o, const char *name, const pad_opts *po, const pad_result *r, int verbose)
{
	if (verbose)
		for (int c = 0; c < po->nc; c++) {
			if (po->protocol == PAD_HELD_OUT)
				cli_info("%s: C %g: validation error %.4f, test error %.4f", name, po->C[c],
				         r->val_err[c], r->test_err[c]);
			else
				cli_info("%s: C %g: test error %.4f", name, po->C[c], r->test_err[c]);
		}
	if (fprintf(o, "%s\t%s\t%.4f\t%.4f\t%g\t%d\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\n", name,
	            po->protocol == PAD_HELD_OUT ? "held-out" : "paper", r->pad, r->eps, r->C, r->flipped,
	            (long long)r->n_train[0], (long long)r->n_train[1], (long long)r->n_val[0],
	            (long long)r->n_val[1], (long long)r->n_test[0], (long long)r->n_test[1]) < 0)
		cli_write_failed();
}

static void read_dataset(const char *path, npy_dataset *d)
{
	FILE *f = cli_open_in(path);
	if (npy_dataset_read(f, strcmp(path, "-") ? path : "stdin", d) < 0)
		cli_die("%s", err_msg());
	cli_close_in(f);
}

enum { O_SOURCE = 256, O_TARGET, O_PER, O_SEED, O_SOLVER, O_NOSCALE, O_HELD, O_PROGRESS };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"held-out", no_argument, 0, O_HELD}, {"source", required_argument, 0, O_SOURCE},
		{"target", required_argument, 0, O_TARGET}, {"per-domain", required_argument, 0, O_PER},
		{"seed", required_argument, 0, O_SEED}, {"solver", required_argument, 0, O_SOLVER},
		{"no-scale", no_argument, 0, O_NOSCALE}, {"output", required_argument, 0, 'o'},
		{"verbose", no_argument, 0, 'v'}, {"quiet", no_argument, 0, 'q'},
		{"progress", no_argument, 0, O_PROGRESS}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *out = NULL, *spath = NULL, *tpath = NULL;
	int quiet = 0, progress = 0, verbose = 0, c;
	int64_t per = 0;
	uint64_t seed = 1;
	pad_opts po;
	pad_opts_default(&po);
	cli_init(argc, argv);
	while ((c = getopt_long(argc, argv, "o:vqh", opts, NULL)) != -1) {
		switch (c) {
		case O_HELD: po.protocol = PAD_HELD_OUT; break;
		case O_SOURCE: spath = optarg; break;
		case O_TARGET: tpath = optarg; break;
		case O_PER: per = cli_parse_int("--per-domain", optarg, 1, INT64_C(1) << 40); break;
		case O_SEED: seed = (uint64_t)cli_parse_int("--seed", optarg, 0, UINT32_MAX); break;
		case O_SOLVER: {
			size_t k = 0, ns = sizeof solvers / sizeof solvers[0];
			while (k < ns && strcmp(optarg, solvers[k].name))
				k++;
			if (k == ns)
				cli_usage_error("--solver: expected squared-hinge, hinge or logistic, got '%s'",
				                optarg);
			po.solver = solvers[k].type;
			po.tol = solvers[k].tol;
			break;
		}
		case O_NOSCALE: po.scale = 0; break;
		case 'o': out = optarg; break;
		case 'v': verbose = 1; break;
		case 'q': quiet = 1; break;
		case O_PROGRESS: progress = 1; break;
		case 'h': usage(stdout); return 0;
		default: cli_usage_error("unknown option or missing value: '%s'", argv[optind - 1]);
		}
	}
	if ((spath != NULL) != (tpath != NULL))
		cli_usage_error("--source and --target go together");
	if (spath && optind < argc)
		cli_usage_error("a FILE operand does not go with --source/--target");
	if (!spath && per)
		cli_usage_error("--per-domain needs --source and --target");
	if (verbose && quiet)
		cli_usage_error("-v and -q do not go together");
	cli_set_progress(progress, quiet);
	po.seed = (unsigned)seed;

	/* Read and compute everything before the first byte of output, so an error leaves an empty
	 * stdout; the rows are kept as text until then. */
	int nin = spath ? 1 : argc - optind > 0 ? argc - optind : 1;
	char **lines = calloc((size_t)nin, sizeof *lines);
	size_t *lens = calloc((size_t)nin, sizeof *lens);
	if (!lines || !lens)
		cli_die("out of memory");
	cli_progress p;
	cli_progress_start(&p, "pad", nin);
	for (int k = 0; k < nin; k++) {
		pad_input in;
		char name[4096];
		if (spath) {
			npy_dataset ds[2];
			read_dataset(spath, &ds[0]);
			read_dataset(tpath, &ds[1]);
			if (pad_from_datasets(&ds[0], &ds[1], per, seed, &in) < 0)
				cli_die("%s", err_msg());
			npy_dataset_free(&ds[0]);
			npy_dataset_free(&ds[1]);
			snprintf(name, sizeof name, "%s+%s", spath, tpath);
		} else {
			const char *path = optind < argc ? argv[optind + k] : "-";
			snprintf(name, sizeof name, "%s", strcmp(path, "-") ? path : "stdin");
			FILE *f = cli_open_in(path);
			if (pad_read_embedding(f, name, &in) < 0)
				cli_die("%s", err_msg());
			cli_close_in(f);
		}
		pad_result r;
		if (pad_compute(in.x, in.dom, in.n, in.d, &po, &r) < 0)
			cli_die("%s: %s", name, err_msg());
		pad_input_free(&in);
		FILE *m = open_memstream(&lines[k], &lens[k]);
		if (!m)
			cli_die("out of memory");
		report(m, name, &po, &r, verbose);
		if (fclose(m) != 0)
			cli_die("out of memory");
		cli_progress_update(&p, k + 1);
	}
	cli_progress_end(&p);

	FILE *o = cli_open_out_text(out);
	if (fputs("input\tprotocol\tpad\tepsilon\tC\tflipped\tsource_train\ttarget_train\t"
	          "source_val\ttarget_val\tsource_test\ttarget_test\n", o) < 0)
		cli_write_failed();
	for (int k = 0; k < nin; k++) {
		if (fwrite(lines[k], 1, lens[k], o) != lens[k])
			cli_write_failed();
		free(lines[k]);
	}
	free(lines);
	free(lens);
	cli_commit_out(o);
	return 0;
}
