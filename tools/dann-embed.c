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
#include "stream/npy.h"
#include "base/rng.h"

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
	        "  --threads N          threads (default: all processors)\n"
	        "  -q, --quiet          no progress      --progress  force progress\n"
	        "  -v, --verbose        say which kernels run (instruction set; DANN_ISA forces one)\n"
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
	int64_t conf[10][10] = {{0}}, ok = 0;
	for (int64_t i = 0; i < n; i++) {
		conf[labels[i]][j->preds[i]]++;
		ok += labels[i] == j->preds[i];
	}
	if (printf("accuracy: %.4f (%lld/%lld)\n", n ? (double)ok / (double)n : 0.0, (long long)ok,
	           (long long)n) < 0)
		cli_write_failed();
	for (int a = 0; a < 10; a++)
		for (int b = 0; b < 10; b++)
			if (printf("%lld%c", (long long)conf[a][b], b == 9 ? '\n' : ' ') < 0)
				cli_write_failed();
}

/* One stream from FILE or stdin, in chunks: memory does not grow with N. */
static void embed_stream(job *j, const char *path, int domain)
{
	const char *name = !path || !strcmp(path, "-") ? "stdin" : path;
	FILE *f = cli_open_in(path);
	npy_header h;
	npy_dataset d;
	if (npy_read_header(f, name, &h) < 0 || npy_dataset_check_images(&h, name, &d) < 0)
		cli_die("%s", err_msg());
	check_size(j, name, d.h, d.w);
	int64_t n = d.n;
	if (j->out != OUT_EMBED || j->po) {
		j->preds = malloc((size_t)(n ? n : 1));
		if (!j->preds)
			cli_die("out of memory");
	}
	if (j->out == OUT_EMBED)
		write_header(j->o, NPY_F32, 2, n, j->D);
	else if (j->out == OUT_PREDICT)
		write_header(j->o, NPY_U8, 1, n, 0);
	size_t sz = (size_t)d.h * d.w * d.c;
	uint8_t *buf = malloc(sz * (size_t)j->batch);
	if (!buf)
		cli_die("out of memory");
	cli_progress_start(&j->prog, "embed", n);
	for (int64_t i = 0; i < n; i += j->batch) {
		int B = (int)(n - i < j->batch ? n - i : j->batch);
		if (npy_read_data(f, name, &h, buf, (size_t)B * sz) < 0)
			cli_die("%s", err_msg());
		run_chunk(j, buf, B, d.c, domain);
	}
	cli_progress_end(&j->prog);
	/* labels, streamed */
	npy_header lh;
	int rc = npy_read_header(f, name, &lh);
	if (rc == DN_EEOF)
		cli_die("%s: labels: stream ended after the images, expected labels (N,) uint8", name);
	if (rc < 0)
		cli_die("%s", err_msg());
	if (lh.dtype != NPY_U8 || lh.ndim != 1 || lh.shape[0] != n) {
		char s[128];
		cli_die("%s: labels: expected (%lld,) uint8, got %s", name, (long long)n,
		        npy_header_str(&lh, s, sizeof s));
	}
	int keep = j->out == OUT_ACCURACY || j->po;   /* all labels needed at the end */
	uint8_t *labels = keep ? malloc((size_t)(n ? n : 1)) : NULL;
	if (keep && !labels)
		cli_die("out of memory");
	if (j->out != OUT_ACCURACY)
		write_header(j->o, NPY_U8, 1, n, 0);
	for (int64_t i = 0; i < n; i += j->batch) {
		int B = (int)(n - i < j->batch ? n - i : j->batch);
		uint8_t *dst = labels ? labels + i : buf;
		if (npy_read_data(f, name, &lh, dst, (size_t)B) < 0)
			cli_die("%s", err_msg());
		for (int k = 0; k < B; k++)
			if (dst[k] > 9)
				cli_die("%s: labels: label %d at index %lld is out of range 0..9", name, dst[k],
				        (long long)(i + k));
		if (j->out != OUT_ACCURACY)
			write_or_die(j->o, dst, (size_t)B, NPY_U8);
	}
	/* one dataset per stream: two concatenated are refused, not half-read (the data written
	 * so far goes under a temporary name, which the error removes) */
	if (npy_expect_end(f, name, "labels") < 0)
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
static void write_images(FILE *io, const npy_dataset ds[2], int64_t *const idx[2],
                         const int64_t k[2], const uint8_t *labels, const uint8_t *doms)
{
	int64_t n = k[0] + k[1], shape[4] = {n, ds[0].h, ds[0].w, 3};
	size_t px = (size_t)ds[0].h * ds[0].w;
	uint8_t *rgb = malloc(px * 3);
	npy_header h;
	if (!rgb)
		cli_die("out of memory");
	npy_header_init(&h, NPY_U8, 4, shape);
	if (npy_write_header(io, &h) < 0)
		cli_write_failed_on(io);
	for (int d = 0; d < 2; d++) {
		int c = ds[d].c;
		for (int64_t i = 0; i < k[d]; i++) {
			const uint8_t *im = ds[d].images + (size_t)idx[d][i] * px * (size_t)c;
			for (size_t p = 0; p < px; p++)
				for (int ch = 0; ch < 3; ch++)
					rgb[p * 3 + ch] = im[p * (size_t)c + (c == 3 ? (size_t)ch : 0)];
			if (npy_write_data(io, rgb, px * 3, NPY_U8) < 0)
				cli_write_failed_on(io);
		}
	}
	free(rgb);
	if (npy_write_array(io, NPY_U8, 1, &n, labels) < 0 || npy_write_array(io, NPY_U8, 1, &n, doms) < 0)
		cli_write_failed_on(io);
}

static void embed_pair(job *j, const char *spath, const char *tpath, int64_t per, uint64_t seed,
                       FILE *io)
{
	npy_dataset ds[2];
	const char *paths[2] = {spath, tpath};
	int64_t *idx[2], k[2];
	for (int d = 0; d < 2; d++) {
		FILE *f = cli_open_in(paths[d]);
		const char *name = strcmp(paths[d], "-") ? paths[d] : "stdin";
		if (npy_dataset_read(f, name, &ds[d]) < 0)
			cli_die("%s", err_msg());
		cli_close_in(f);
		check_size(j, name, ds[d].h, ds[d].w);
		if (per > ds[d].n)
			cli_die("%s: --per-domain %lld is larger than its %lld images", name, (long long)per,
			        (long long)ds[d].n);
		k[d] = per > 0 ? per : ds[d].n;
		idx[d] = rng_subset(ds[d].n, k[d], seed, 0x7000000 + (uint64_t)d);
		if (!idx[d])
			cli_die("out of memory");
	}
	int64_t n = k[0] + k[1];
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
	uint8_t *buf = malloc((size_t)ds[0].h * ds[0].w * 3 * (size_t)j->batch);
	uint8_t *labels = malloc((size_t)n), *doms = malloc((size_t)n);
	if (!buf || !labels || !doms)
		cli_die("out of memory");
	int64_t w = 0;
	for (int d = 0; d < 2; d++) {
		size_t sz = (size_t)ds[d].h * ds[d].w * ds[d].c;
		for (int64_t i = 0; i < k[d]; i += j->batch) {
			int B = (int)(k[d] - i < j->batch ? k[d] - i : j->batch);
			for (int b = 0; b < B; b++) {
				int64_t s = idx[d][i + b];
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
			write_images(io, ds, idx, k, labels, doms);
	}
	for (int d = 0; d < 2; d++) {
		free(idx[d]);
		npy_dataset_free(&ds[d]);
	}
	free(buf);
	free(labels);
	free(doms);
}

int main(int argc, char **argv)
{
	enum { O_LAYER = 256, O_DOMAIN, O_SOURCE, O_TARGET, O_PER, O_SEED, O_PREDICT, O_ACC,
	       O_BATCH, O_THREADS, O_PROGRESS, O_PREDICTIONS, O_IMAGES };
	static const struct option opts[] = {
		{"model", required_argument, 0, 'm'}, {"layer", required_argument, 0, O_LAYER},
		{"domain", required_argument, 0, O_DOMAIN}, {"source", required_argument, 0, O_SOURCE},
		{"target", required_argument, 0, O_TARGET}, {"per-domain", required_argument, 0, O_PER},
		{"seed", required_argument, 0, O_SEED}, {"predict", no_argument, 0, O_PREDICT},
		{"accuracy", no_argument, 0, O_ACC},
		{"predictions", required_argument, 0, O_PREDICTIONS}, {"images", required_argument, 0, O_IMAGES}, {"output", required_argument, 0, 'o'},
		{"batch", required_argument, 0, O_BATCH}, {"threads", required_argument, 0, O_THREADS},
		{"quiet", no_argument, 0, 'q'}, {"verbose", no_argument, 0, 'v'}, {"progress", no_argument, 0, O_PROGRESS},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *model_path = NULL, *out = NULL, *spath = NULL, *tpath = NULL, *pout = NULL, *iout = NULL;
	int layer = MODEL_LAYER_FEATURES, domain = -1, quiet = 0, verbose = 0, progress = 0, c, predict = 0, acc = 0;
	int threads = omp_get_num_procs(), batch = 256;
	int64_t per = 0;
	uint64_t seed = 1;
	cli_init(argc, argv);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "m:o:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model_path = optarg; break;
		case O_LAYER:
			layer = model_layer_parse(optarg);
			if (layer < 0)
				cli_usage_error("--layer: expected features, label-hidden, logits or "
				                "domain-hidden, got '%s'", optarg);
			break;
		case O_DOMAIN:
			domain = !strcmp(optarg, "source") || !strcmp(optarg, "0")   ? 0
			         : !strcmp(optarg, "target") || !strcmp(optarg, "1") ? 1
			                                                                : -1;
			if (domain < 0)
				cli_usage_error("--domain: expected source, target, 0 or 1, got '%s'", optarg);
			break;
		case O_SOURCE: spath = optarg; break;
		case O_TARGET: tpath = optarg; break;
		case O_PER: per = cli_parse_int("--per-domain", optarg, 1, INT64_C(1) << 40); break;
		case O_SEED: seed = (uint64_t)cli_parse_int("--seed", optarg, 0, INT64_MAX); break;
		case O_PREDICT: predict = 1; break;
		case O_ACC: acc = 1; break;
		case O_PREDICTIONS: pout = optarg; break;
		case O_IMAGES: iout = optarg; break;
		case 'o': out = optarg; break;
		case O_BATCH: batch = (int)cli_parse_int("--batch", optarg, 1, 65536); break;
		case O_THREADS: threads = (int)cli_parse_int("--threads", optarg, 1, 1024); break;
		case O_PROGRESS: progress = 1; break;
		case 'q': quiet = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: cli_usage_error("unknown option or missing argument: %s", argv[optind - 1]);
		}
	}
	if (!model_path)
		cli_usage_error("-m MODEL is required");
	if (predict && acc)
		cli_usage_error("--predict and --accuracy do not go together");
	if ((spath != NULL) != (tpath != NULL))
		cli_usage_error("--source and --target go together");
	if (spath && optind < argc)
		cli_usage_error("a FILE operand does not go with --source/--target");
	if (!spath && per)
		cli_usage_error("--per-domain needs --source and --target");
	if (spath && domain >= 0)
		cli_usage_error("--domain is for a single input; --source/--target are tagged 0 and 1");
	if (optind + 1 < argc)
		cli_usage_error("one FILE operand at most");
	if (acc && out)
		cli_usage_error("--accuracy prints text to stdout; -o does not apply");
	if ((pout || iout) && (predict || acc))
		cli_usage_error("--%s goes with an embedding, not with --predict or --accuracy",
		                pout ? "predictions" : "images");
	if (iout && !spath)
		cli_usage_error("--images needs --source and --target");
	/* the side outputs are files of their own: not stdout, not the same file twice */
	const char *side[2] = {pout, iout};
	for (int s = 0; s < 2; s++)
		if (side[s] && (!strcmp(side[s], "-") || (out && !strcmp(side[s], out)) ||
		                (s == 1 && pout && !strcmp(pout, iout))))
			cli_usage_error("--%s: '%s': name a file other than the other outputs",
			                s ? "images" : "predictions", side[s]);
	/* the output can be written and is none of the inputs: checked before any work */
	cli_declare_in(model_path);
	cli_declare_in(spath);
	cli_declare_in(tpath);
	cli_declare_in(optind < argc ? argv[optind] : NULL);
	cli_check_out("-o", out);
	cli_check_out("--predictions", pout);
	cli_check_out("--images", iout);
	cli_set_progress(progress, quiet);
	kern_cli_setup(threads, verbose);

	job j;
	memset(&j, 0, sizeof j);
	j.out = acc ? OUT_ACCURACY : predict ? OUT_PREDICT : OUT_EMBED;
	j.layer = layer;
	j.batch = batch;
	FILE *mf = cli_open_in(model_path);
	if (model_read(mf, model_path, &j.m, NULL) < 0)
		cli_die("%s", err_msg());
	cli_close_in(mf);
	if (!spath && domain < 0 && j.m.domains == 2)
		cli_usage_error("%s keeps BatchNorm statistics for each domain (dann-train --bn-stats "
		        "per-domain): say which the input is, --domain source or --domain target",
		        model_path);
	if (domain < 0)
		domain = 0;
	j.D = model_layer_dim(&j.m, layer);
	if (model_acts_alloc(&j.a, &j.m, batch) < 0)
		cli_die("%s", err_msg());
	j.o = acc ? stdout : cli_open_out(out);
	j.po = pout ? cli_open_out(pout) : NULL;
	FILE *io = iout ? cli_open_out(iout) : NULL;
	if (spath)
		embed_pair(&j, spath, tpath, per, seed, io);
	else
		embed_stream(&j, optind < argc ? argv[optind] : NULL, domain);
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
