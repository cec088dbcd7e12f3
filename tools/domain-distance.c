/* domain-distance - the proxy A-distance (PAD) of embedding streams, or of raw images: how well a
 * fresh linear SVM tells source from target (Ganin et al. 2016, section 5.1.5).
 * One TSV row per input; the numerics are lib/eval/pad.c (liblinear's SVMs). */
#include <getopt.h>
#include <linear.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/err.h"
#include "stream/dataset.h"
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

static void read_dataset(const char *path, dataset *d)
{
	FILE *f = cli_open_in(path);
	if (dataset_read(f, cli_name(path), d) < 0)
		cli_die("%s", err_msg());
	cli_close_in(f);
}

typedef struct {
	const char *out, *source, *target;
	char **inputs;          /* the FILE operands; none: stdin */
	int ninputs, quiet, verbose, progress;
	int64_t per;
	uint64_t seed;
	pad_opts pad;
} options;

static void parse_options(int argc, char **argv, options *o)
{
	enum { O_SOURCE = 256, O_TARGET, O_PER, O_SEED, O_SOLVER, O_NOSCALE, O_HELD, O_PROGRESS };
	static const struct option opts[] = {
		{"held-out", no_argument, 0, O_HELD}, {"source", required_argument, 0, O_SOURCE},
		{"target", required_argument, 0, O_TARGET}, {"per-domain", required_argument, 0, O_PER},
		{"seed", required_argument, 0, O_SEED}, {"solver", required_argument, 0, O_SOLVER},
		{"no-scale", no_argument, 0, O_NOSCALE}, {"output", required_argument, 0, 'o'},
		{"verbose", no_argument, 0, 'v'}, {"quiet", no_argument, 0, 'q'},
		{"progress", no_argument, 0, O_PROGRESS}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	*o = (options){.seed = 1};
	pad_opts_default(&o->pad);
	int c;
	while ((c = getopt_long(argc, argv, "o:vqh", opts, NULL)) != -1) {
		switch (c) {
		case O_HELD: o->pad.protocol = PAD_HELD_OUT; break;
		case O_SOURCE: o->source = optarg; break;
		case O_TARGET: o->target = optarg; break;
		case O_PER: o->per = cli_parse_int("--per-domain", optarg, 1, INT64_C(1) << 40); break;
		case O_SEED:
			/* also liblinear's srand() seed: an unsigned int */
			o->seed = (uint64_t)cli_parse_int("--seed", optarg, 0, UINT32_MAX);
			break;
		case O_SOLVER: {
			size_t k = 0, ns = sizeof solvers / sizeof solvers[0];
			while (k < ns && strcmp(optarg, solvers[k].name))
				k++;
			if (k == ns)
				cli_usage_error("--solver: expected squared-hinge, hinge or logistic, got '%s'",
				                optarg);
			o->pad.solver = solvers[k].type;
			o->pad.tol = solvers[k].tol;
			break;
		}
		case O_NOSCALE: o->pad.scale = 0; break;
		case 'o': o->out = optarg; break;
		case 'v': o->verbose = 1; break;
		case 'q': o->quiet = 1; break;
		case O_PROGRESS: o->progress = 1; break;
		case 'h': usage(stdout); exit(0);
		default: cli_bad_option();
		}
	}
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
	o->pad.seed = (unsigned)o->seed;
}

static void check_options(const options *o)
{
	if ((o->source != NULL) != (o->target != NULL))
		cli_usage_error("--source and --target go together");
	if (o->source && o->ninputs)
		cli_usage_error("a FILE operand does not go with --source/--target");
	if (!o->source && o->per)
		cli_usage_error("--per-domain needs --source and --target");
	if (o->verbose && o->quiet)
		cli_usage_error("-v and -q do not go together");
	/* the table can be written and is none of the inputs: known before the SVMs run */
	cli_declare_in(o->source);
	cli_declare_in(o->target);
	for (int k = 0; k < o->ninputs; k++)
		cli_declare_in(o->inputs[k]);
	cli_check_out("-o", o->out);
}

/* One input's PAD as its TSV row (kept as text until every input is done). */
static void measure(const options *o, int k, char **line, size_t *len)
{
	pad_input in;
	char name[4096];
	if (o->source) {
		dataset ds[2];
		read_dataset(o->source, &ds[0]);
		read_dataset(o->target, &ds[1]);
		if (pad_from_datasets(&ds[0], &ds[1], o->per, o->seed, &in) < 0)
			cli_die("%s", err_msg());
		dataset_free(&ds[0]);
		dataset_free(&ds[1]);
		snprintf(name, sizeof name, "%s+%s", o->source, o->target);
	} else {
		const char *path = o->ninputs ? o->inputs[k] : "-";
		snprintf(name, sizeof name, "%s", cli_name(path));
		FILE *f = cli_open_in(path);
		if (pad_read_embedding(f, name, &in) < 0)
			cli_die("%s", err_msg());
		cli_close_in(f);
	}
	pad_result r;
	if (pad_compute(in.x, in.dom, in.n, in.d, &o->pad, &r) < 0)
		cli_die("%s: %s", name, err_msg());
	pad_input_free(&in);
	FILE *m = open_memstream(line, len);
	if (!m)
		cli_die("out of memory");
	report(m, name, &o->pad, &r, o->verbose);
	if (fclose(m) != 0)
		cli_die("out of memory");
}

int main(int argc, char **argv)
{
	options o;
	cli_init(argc, argv);
	parse_options(argc, argv, &o);
	check_options(&o);
	cli_set_messages(o.quiet, o.verbose, o.progress);

	/* Read and compute everything before the first byte of output, so an error leaves an empty
	 * stdout. */
	int nin = o.source ? 1 : o.ninputs > 0 ? o.ninputs : 1;
	char **lines = calloc((size_t)nin, sizeof *lines);
	size_t *lens = calloc((size_t)nin, sizeof *lens);
	if (!lines || !lens)
		cli_die("out of memory");
	cli_progress p;
	cli_progress_start(&p, "pad", nin);
	for (int k = 0; k < nin; k++) {
		measure(&o, k, &lines[k], &lens[k]);
		cli_progress_update(&p, k + 1);
	}
	cli_progress_end(&p);

	FILE *out = cli_open_out_text(o.out);
	if (fputs("input\tprotocol\tpad\tepsilon\tC\tflipped\tsource_train\ttarget_train\t"
	          "source_val\ttarget_val\tsource_test\ttarget_test\n", out) < 0)
		cli_write_failed();
	for (int k = 0; k < nin; k++) {
		if (fwrite(lines[k], 1, lens[k], out) != lens[k])
			cli_write_failed();
		free(lines[k]);
	}
	free(lines);
	free(lens);
	cli_commit_out(out);
	return 0;
}
