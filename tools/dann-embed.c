/* dann-embed - run a trained model (or a snapshot) over dataset streams: embeddings,
 * predictions or accuracy.  The network is lib/net/model.c, the same code dann-train uses. */
#include <getopt.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/err.h"
#include "net/kern_cli.h"
#include "net/model.h"
#include "net/nn.h"
#include "eval/confusion.h"
#include "eval/subset.h"
#include "stream/dataset.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: dann-embed -m MODEL [options] [FILE]\n"
	        "       dann-embed -m MODEL --source FILE --target FILE [--per-domain N] [options]\n"
	        "Run a dann-train model over a dataset stream (FILE or stdin) and write an embedding\n"
	        "stream: features (N,D) float32, labels (N,) uint8, domains (N,) uint8.\n"
	        "  -m, --model MODEL    model or snapshot written by dann-train\n"
	        "  --layer L            features (default), label-hidden, logits or domain-hidden\n"
	        "  --domain D           which domain a single input is: source (0, default) or target\n"
	        "                       (1): its tag, and the BatchNorm statistics a per-domain\n"
	        "                       model uses (such a model needs this option)\n"
	        "  --source FILE --target FILE   embed both, tagged 0 and 1, in one stream\n"
	        "                       (each with its own domain's statistics)\n"
	        "  --per-domain N       a seeded random subset of N images from each input\n"
	        "  --seed N             seed of that subset (default 1)\n"
	        "  --predict            write predicted labels (N,) uint8, then the true labels\n"
	        "  --predictions FILE   with an embedding: also write the --predict stream of the\n"
	        "                       same images to FILE\n"
	        "  --images FILE        with --source/--target: also write the embedded images as\n"
	        "                       (N,H,W,3) uint8 (gray as RGB), labels, domains to FILE\n"
	        "  --accuracy           print accuracy and the 10x10 confusion matrix; no stream\n"
	        "  -o, --output FILE    output file (default stdout)\n"
	        "  --batch N            images per forward pass (default 256)\n"
	        "  --threads N          threads (default: all processors; same N, same bytes)\n"
	        "  -q, --quiet          no messages but errors\n"
	        "  -v, --verbose        more messages: which kernels run (instruction set; DANN_ISA\n"
	        "                       forces one)\n"
	        "  --progress           a progress line even when stderr is not a terminal\n"
	        "  -h, --help           this help\n");
}

enum { OUT_EMBED, OUT_PREDICT, OUT_ACCURACY };

typedef struct {
	model m;
	model_acts a;
	int layer, D, out, batch;
	FILE *o;
	FILE *po;            /* --predictions: the predict stream beside the embedding, or NULL */
	uint8_t *preds;      /* predictions so far (predict/accuracy, or --predictions) */
	int64_t done;
	cli_progress prog;
} job;

static void write_or_die(FILE *o, const void *p, size_t n, npy_dtype t)
{
	if (npy_write_data(o, p, n, t) < 0)
		cli_write_failed();
}

/* Run B images of C channels; emit features or keep predictions. */
static void run_chunk(job *j, const uint8_t *img, int B, int C, int domain)
{
	int layer = j->out == OUT_EMBED ? j->layer : MODEL_LAYER_LOGITS, D;
	const float *z = model_infer(&j->m, &j->a, img, B, C, domain, layer, &D);
	if (j->out == OUT_EMBED) {
		write_or_die(j->o, z, (size_t)B * D, NPY_F32);
		if (j->po) {   /* the label predictor on the features just computed */
			if (layer != MODEL_LAYER_LOGITS) {
				model_label_forward(&j->m, &j->a, B, 1, domain);
				z = j->a.logits;
			}
			int nc = model_layer_dim(&j->m, MODEL_LAYER_LOGITS);
			for (int k = 0; k < B; k++)
				j->preds[j->done + k] = (uint8_t)nn_argmax(z + (size_t)k * nc, nc);
		}
	} else {
		for (int k = 0; k < B; k++)
			j->preds[j->done + k] = (uint8_t)nn_argmax(z + (size_t)k * D, D);
		if (j->out == OUT_PREDICT)
			write_or_die(j->o, j->preds + j->done, (size_t)B, NPY_U8);
	}
	j->done += B;
	cli_progress_update(&j->prog, j->done);
}

static void write_header(FILE *o, npy_dtype t, int ndim, int64_t n, int64_t d)
{
	npy_header h;
	int64_t shape[2] = {n, d};
	npy_header_init(&h, t, ndim, shape);
	if (npy_write_header(o, &h) < 0)
		cli_write_failed();
}

/* Before the first image of n: room for their predictions, the first header of the output. */
static void begin_output(job *j, int64_t n)
{
	if (j->out != OUT_EMBED || j->po) {
		j->preds = malloc((size_t)(n ? n : 1));
		if (!j->preds)
			cli_die("out of memory");
	}
	if (j->out == OUT_EMBED)
		write_header(j->o, NPY_F32, 2, n, j->D);
	else if (j->out == OUT_PREDICT)
		write_header(j->o, NPY_U8, 1, n, 0);
	cli_progress_start(&j->prog, "embed", n);
}

/* --predictions: the stream --predict writes, for the images just embedded. */
static void write_predictions(job *j, const uint8_t *labels, int64_t n)
{
	int64_t shape[1] = {n};
	if (npy_write_array(j->po, NPY_U8, 1, shape, j->preds) < 0 ||
	    npy_write_array(j->po, NPY_U8, 1, shape, labels) < 0)
		cli_write_failed_on(j->po);
}

static void check_size(const job *j, const char *name, int h, int w)
{
	if (h != j->m.H || w != j->m.W)
		cli_die("%s: images are %dx%d, the model expects %dx%d", name, h, w, j->m.H, j->m.W);
}

static void report_accuracy(job *j, const uint8_t *labels, int64_t n)
{
	confusion c;
	confusion_count(&c, labels, j->preds, n);
	if (confusion_write(stdout, &c) < 0)
		cli_write_failed();
}

/* One stream from FILE or stdin, in chunks: memory does not grow with N. */
static void embed_stream(job *j, const char *path, int domain)
{
	const char *name = cli_name(path);
	FILE *f = cli_open_in(path);
	npy_header h;
	dataset d;
	if (npy_read_header(f, name, &h) < 0 || dataset_check_images(&h, name, &d) < 0)
		cli_die("%s", err_msg());
	check_size(j, name, d.h, d.w);
	int64_t n = d.n;
	begin_output(j, n);
	size_t sz = (size_t)d.h * d.w * d.c;
	uint8_t *buf = malloc(sz * (size_t)j->batch);
	if (!buf)
		cli_die("out of memory");
	for (int64_t i = 0; i < n; i += j->batch) {
		int B = (int)(n - i < j->batch ? n - i : j->batch);
		if (npy_read_data(f, name, &h, buf, (size_t)B * sz) < 0)
			cli_die("%s", err_msg());
		run_chunk(j, buf, B, d.c, domain);
	}
	cli_progress_end(&j->prog);
	/* labels, streamed */
	npy_header lh;
	if (dataset_read_labels_header(f, name, n, &lh) < 0)
		cli_die("%s", err_msg());
	int keep = j->out == OUT_ACCURACY || j->po;   /* all labels needed at the end */
	uint8_t *labels = keep ? malloc((size_t)(n ? n : 1)) : NULL;
	if (keep && !labels)
		cli_die("out of memory");
	if (j->out != OUT_ACCURACY)
		write_header(j->o, NPY_U8, 1, n, 0);
	for (int64_t i = 0; i < n; i += j->batch) {
		int B = (int)(n - i < j->batch ? n - i : j->batch);
		uint8_t *dst = labels ? labels + i : buf;
		if (dataset_read_labels(f, name, &lh, dst, B, i) < 0)
			cli_die("%s", err_msg());
		if (j->out != OUT_ACCURACY)
			write_or_die(j->o, dst, (size_t)B, NPY_U8);
	}
	/* one dataset per stream: two concatenated are refused, not half-read (the data written
	 * so far goes under a temporary name, which the error removes) */
	if (dataset_expect_end(f, name) < 0)
		cli_die("%s", err_msg());
	if (j->out == OUT_EMBED) {
		write_header(j->o, NPY_U8, 1, n, 0);
		memset(buf, domain, (size_t)j->batch);
		for (int64_t i = 0; i < n; i += j->batch)
			write_or_die(j->o, buf, (size_t)(n - i < j->batch ? n - i : j->batch), NPY_U8);
	}
	if (j->out == OUT_ACCURACY)
		report_accuracy(j, labels, n);
	if (j->po)
		write_predictions(j, labels, n);
	free(labels);
	free(buf);
	cli_close_in(f);
}

/* --images: the images embedded, in the stream's order, gray ones as RGB: (N,H,W,3) uint8,
 * then labels and domains as in the embedding stream. */
static void write_images(FILE *io, const dataset ds[2], const subset *sub, const uint8_t *labels,
                         const uint8_t *doms)
{
	int64_t n = subset_total(sub), shape[4] = {n, ds[0].h, ds[0].w, 3};
	size_t len = (size_t)ds[0].h * ds[0].w * 3;
	uint8_t *rgb = malloc(len);
	npy_header h;
	if (!rgb)
		cli_die("out of memory");
	npy_header_init(&h, NPY_U8, 4, shape);
	if (npy_write_header(io, &h) < 0)
		cli_write_failed_on(io);
	for (int d = 0; d < 2; d++)
		for (int64_t i = 0; i < sub->k[d]; i++) {
			dataset_image(&ds[d], sub->idx[d][i], 3, rgb);
			if (npy_write_data(io, rgb, len, NPY_U8) < 0)
				cli_write_failed_on(io);
		}
	free(rgb);
	if (npy_write_array(io, NPY_U8, 1, &n, labels) < 0 || npy_write_array(io, NPY_U8, 1, &n, doms) < 0)
		cli_write_failed_on(io);
}

static void read_dataset(const job *j, const char *path, dataset *d)
{
	FILE *f = cli_open_in(path);
	if (dataset_read(f, cli_name(path), d) < 0)
		cli_die("%s", err_msg());
	cli_close_in(f);
	check_size(j, cli_name(path), d->h, d->w);
}

/* --source/--target: the subset of each (subset.h), source first, each with its own domain. */
static void embed_pair(job *j, const char *spath, const char *tpath, int64_t per, uint64_t seed,
                       FILE *io)
{
	dataset ds[2];
	subset sub;
	read_dataset(j, spath, &ds[0]);
	read_dataset(j, tpath, &ds[1]);
	if (subset_pick(&sub, &ds[0], &ds[1], per, seed) < 0)
		cli_die("--per-domain: %s", err_msg());
	int64_t n = subset_total(&sub);
	begin_output(j, n);
	uint8_t *buf = malloc((size_t)ds[0].h * ds[0].w * 3 * (size_t)j->batch);
	uint8_t *labels = malloc((size_t)(n ? n : 1)), *doms = malloc((size_t)(n ? n : 1));
	if (!buf || !labels || !doms)
		cli_die("out of memory");
	int64_t w = 0;
	for (int d = 0; d < 2; d++) {
		size_t sz = (size_t)ds[d].h * ds[d].w * ds[d].c;
		for (int64_t i = 0; i < sub.k[d]; i += j->batch) {
			int B = (int)(sub.k[d] - i < j->batch ? sub.k[d] - i : j->batch);
			for (int b = 0; b < B; b++) {
				int64_t s = sub.idx[d][i + b];
				memcpy(buf + (size_t)b * sz, ds[d].images + (size_t)s * sz, sz);
				labels[w + b] = ds[d].labels[s];
				doms[w + b] = (uint8_t)d;
			}
			run_chunk(j, buf, B, ds[d].c, d);
			w += B;
		}
	}
	cli_progress_end(&j->prog);
	if (j->out == OUT_ACCURACY) {
		report_accuracy(j, labels, n);
	} else {
		write_header(j->o, NPY_U8, 1, n, 0);
		write_or_die(j->o, labels, (size_t)n, NPY_U8);
		if (j->out == OUT_EMBED) {
			write_header(j->o, NPY_U8, 1, n, 0);
			write_or_die(j->o, doms, (size_t)n, NPY_U8);
		}
		if (j->po)
			write_predictions(j, labels, n);
		if (io)
			write_images(io, ds, &sub, labels, doms);
	}
	subset_free(&sub);
	for (int d = 0; d < 2; d++)
		dataset_free(&ds[d]);
	free(buf);
	free(labels);
	free(doms);
}

typedef struct {
	const char *model, *out, *input;     /* -m, -o, the FILE operand (NULL: stdin) */
	const char *source, *target;         /* --source/--target */
	const char *predictions, *images;    /* the side outputs */
	int layer, domain;                   /* domain -1: not given */
	int predict, accuracy, batch, threads, quiet, verbose, progress;
	int64_t per;
	uint64_t seed;
} options;

static void parse_options(int argc, char **argv, options *o)
{
	enum { O_LAYER = 256, O_DOMAIN, O_SOURCE, O_TARGET, O_PER, O_SEED, O_PREDICT, O_ACC,
	       O_BATCH, O_THREADS, O_PROGRESS, O_PREDICTIONS, O_IMAGES };
	static const struct option opts[] = {
		{"model", required_argument, 0, 'm'}, {"layer", required_argument, 0, O_LAYER},
		{"domain", required_argument, 0, O_DOMAIN}, {"source", required_argument, 0, O_SOURCE},
		{"target", required_argument, 0, O_TARGET}, {"per-domain", required_argument, 0, O_PER},
		{"seed", required_argument, 0, O_SEED}, {"predict", no_argument, 0, O_PREDICT},
		{"accuracy", no_argument, 0, O_ACC}, {"predictions", required_argument, 0, O_PREDICTIONS},
		{"images", required_argument, 0, O_IMAGES}, {"output", required_argument, 0, 'o'},
		{"batch", required_argument, 0, O_BATCH}, {"threads", required_argument, 0, O_THREADS},
		{"quiet", no_argument, 0, 'q'}, {"verbose", no_argument, 0, 'v'},
		{"progress", no_argument, 0, O_PROGRESS}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	*o = (options){.layer = MODEL_LAYER_FEATURES, .domain = -1, .batch = 256,
	               .threads = omp_get_num_procs(), .seed = 1};
	int c;
	while ((c = getopt_long(argc, argv, "m:o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case O_LAYER:
			o->layer = model_layer_parse(optarg);
			if (o->layer < 0)
				cli_usage_error("--layer: expected features, label-hidden, logits or "
				                "domain-hidden, got '%s'", optarg);
			break;
		case O_DOMAIN:
			o->domain = !strcmp(optarg, "source") || !strcmp(optarg, "0")   ? 0
			            : !strcmp(optarg, "target") || !strcmp(optarg, "1") ? 1
			                                                                   : -1;
			if (o->domain < 0)
				cli_usage_error("--domain: expected source, target, 0 or 1, got '%s'", optarg);
			break;
		case O_SOURCE: o->source = optarg; break;
		case O_TARGET: o->target = optarg; break;
		case O_PER: o->per = cli_parse_int("--per-domain", optarg, 1, INT64_C(1) << 40); break;
		case O_SEED: o->seed = cli_parse_seed(optarg); break;
		case O_PREDICT: o->predict = 1; break;
		case O_ACC: o->accuracy = 1; break;
		case O_PREDICTIONS: o->predictions = optarg; break;
		case O_IMAGES: o->images = optarg; break;
		case 'o': o->out = optarg; break;
		case O_BATCH: o->batch = (int)cli_parse_int("--batch", optarg, 1, 65536); break;
		case O_THREADS: o->threads = cli_parse_threads(optarg); break;
		case O_PROGRESS: o->progress = 1; break;
		case 'q': o->quiet = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		default: cli_bad_option();
		}
	}
	if (optind + 1 < argc)
		cli_usage_error("one FILE operand at most");
	o->input = optind < argc ? argv[optind] : NULL;
}

/* The options that do not go together, and the outputs: checked before any work. */
static void check_options(const options *o)
{
	if (!o->model)
		cli_usage_error("-m MODEL is required");
	if (o->predict && o->accuracy)
		cli_usage_error("--predict and --accuracy do not go together");
	if ((o->source != NULL) != (o->target != NULL))
		cli_usage_error("--source and --target go together");
	if (o->source && o->input)
		cli_usage_error("a FILE operand does not go with --source/--target");
	if (!o->source && o->per)
		cli_usage_error("--per-domain needs --source and --target");
	if (o->source && o->domain >= 0)
		cli_usage_error("--domain is for a single input; --source/--target are tagged 0 and 1");
	if (o->accuracy && o->out)
		cli_usage_error("--accuracy prints text to stdout; -o does not apply");
	if ((o->predictions || o->images) && (o->predict || o->accuracy))
		cli_usage_error("--%s goes with an embedding, not with --predict or --accuracy",
		                o->predictions ? "predictions" : "images");
	if (o->images && !o->source)
		cli_usage_error("--images needs --source and --target");
	/* the side outputs are files of their own: not stdout, not the same file twice */
	const char *side[2] = {o->predictions, o->images};
	for (int s = 0; s < 2; s++)
		if (side[s] && (!strcmp(side[s], "-") || (o->out && !strcmp(side[s], o->out)) ||
		                (s == 1 && o->predictions && !strcmp(o->predictions, o->images))))
			cli_usage_error("--%s: '%s': name a file other than the other outputs",
			                s ? "images" : "predictions", side[s]);
	/* the outputs can be written and are none of the inputs */
	cli_declare_in(o->model);
	cli_declare_in(o->source);
	cli_declare_in(o->target);
	cli_declare_in(o->input);
	cli_check_out("-o", o->out);
	cli_check_out("--predictions", o->predictions);
	cli_check_out("--images", o->images);
}

int main(int argc, char **argv)
{
	options o;
	cli_init(argc, argv);
	parse_options(argc, argv, &o);
	check_options(&o);
	cli_set_messages(o.quiet, o.verbose, o.progress);
	kern_cli_setup(o.threads, o.verbose);

	job j;
	memset(&j, 0, sizeof j);
	j.out = o.accuracy ? OUT_ACCURACY : o.predict ? OUT_PREDICT : OUT_EMBED;
	j.layer = o.layer;
	j.batch = o.batch;
	FILE *mf = cli_open_in(o.model);
	if (model_read(mf, o.model, &j.m, NULL) < 0)
		cli_die("%s", err_msg());
	cli_close_in(mf);
	int domain = o.domain;
	if (!o.source && domain < 0 && j.m.domains == 2)
		cli_usage_error("%s keeps BatchNorm statistics for each domain (dann-train --bn-stats "
		        "per-domain): say which the input is, --domain source or --domain target",
		        o.model);
	if (domain < 0)
		domain = 0;
	j.D = model_layer_dim(&j.m, o.layer);
	if (model_acts_alloc(&j.a, &j.m, o.batch) < 0)
		cli_die("%s", err_msg());
	j.o = o.accuracy ? stdout : cli_open_out(o.out);
	j.po = o.predictions ? cli_open_out(o.predictions) : NULL;
	FILE *io = o.images ? cli_open_out(o.images) : NULL;
	if (o.source)
		embed_pair(&j, o.source, o.target, o.per, o.seed, io);
	else
		embed_stream(&j, o.input, domain);
	if (io)
		cli_commit_out(io);
	if (j.po)
		cli_commit_out(j.po);
	cli_commit_out(j.o);
	free(j.preds);
	model_acts_free(&j.a);
	model_free(&j.m);
	return 0;
}
