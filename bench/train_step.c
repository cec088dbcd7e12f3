/* train_step.c - time the DANN training step of lib/train.c (the step dann-train runs) and
 * the evaluation forward of lib/model.c (what dann-embed runs), on synthetic data.
 *
 *   train_step [--threads N] [--steps S] [--reps R] [--warmup W] [--batch B] [--size 28|32]
 *              [--arch seed|paper] [--profile] [--embed]
 *
 * Prints TSV lines  impl threads images_per_s(median) min max  ("ours" for training,
 * "ours-embed" for inference).  An image is one of the 2B in a DANN batch.  With --profile it
 * also prints the time of every layer call inside one step (averaged over the timed steps):
 * the library's layer functions are wrapped at link time (-Wl,--wrap=...), so what is timed is
 * exactly the code dann-train runs. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kern.h"
#include "model.h"
#include "nn.h"
#include "rng.h"
#include "train.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* --- per-layer profile through link-time wrappers ------------------------------------------- */
#define NPROF 64
static struct {
	char name[48];
	double t;
	long calls;
} prof[NPROF];
static int nprof, profiling;

static void prof_add(const char *name, double dt)
{
	int i;
	for (i = 0; i < nprof; i++)
		if (!strcmp(prof[i].name, name))
			break;
	if (i == nprof) {
		if (nprof == NPROF)
			return;
		snprintf(prof[nprof++].name, sizeof prof[0].name, "%s", name);
	}
	prof[i].t += dt;
	prof[i].calls++;
}

#define WRAP(ret, fn, params, args, label)                                                     \
	ret __real_##fn params;                                                                    \
	ret __wrap_##fn params                                                                     \
	{                                                                                          \
		if (!profiling)                                                                        \
			return __real_##fn args;                                                           \
		double t0_ = now();                                                                    \
		ret r_ = __real_##fn args;                                                             \
		prof_add(label, now() - t0_);                                                          \
		return r_;                                                                             \
	}
#define WRAPV(fn, params, args, label)                                                         \
	void __real_##fn params;                                                                   \
	void __wrap_##fn params                                                                    \
	{                                                                                          \
		if (!profiling) {                                                                      \
			__real_##fn args;                                                                  \
			return;                                                                            \
		}                                                                                      \
		double t0_ = now();                                                                    \
		__real_##fn args;                                                                      \
		prof_add(label, now() - t0_);                                                          \
	}

static char lbl[64];
static const char *L(const char *what, int a)
{
	snprintf(lbl, sizeof lbl, "%s %d", what, a);
	return lbl;
}

WRAPV(model_features_forward, (model *m, model_acts *a, int B, int groups, int train,
                               uint64_t drop_seed, uint64_t step),
      (m, a, B, groups, train, drop_seed, step), "= features forward (total)")
WRAPV(model_label_forward, (model *m, model_acts *a, int B, int groups, int train),
      (m, a, B, groups, train), "= label forward (total)")
WRAPV(model_domain_forward, (model *m, model_acts *a, int B, int groups, int train),
      (m, a, B, groups, train), "= domain forward (total)")
WRAPV(model_label_backward, (const model *m, model_params *g, model_acts *ga,
                             const model_acts *a, int B, int groups),
      (m, g, ga, a, B, groups), "= label backward (total)")
WRAPV(model_domain_backward, (const model *m, model_params *g, model_acts *ga,
                              const model_acts *a, int B, int groups, float lambda),
      (m, g, ga, a, B, groups, lambda), "= domain backward (total)")
WRAPV(model_features_backward, (const model *m, model_params *g, model_acts *ga,
                                const model_acts *a, int B, int groups),
      (m, g, ga, a, B, groups), "= features backward (total)")
WRAPV(kern_conv2d_forward, (float *out, float *cols, const float *in, const float *w,
                          const float *b, int B, int H, int W, int C, int OC, int KS),
      (out, cols, in, w, b, B, H, W, C, OC, KS), L("conv fwd OC", OC))
WRAPV(kern_conv2d_backward, (float *din, float *dw, float *db, float *dcols, const float *dout,
                             const float *cols, const float *in, const float *w, int B, int H,
                             int W, int C, int OC, int KS),
      (din, dw, db, dcols, dout, cols, in, w, B, H, W, C, OC, KS), L("conv bwd OC", OC))
WRAPV(nn_batchnorm_forward, (float *out, float *mean, float *rstd, const float *in,
                             const float *gamma, const float *beta, float *run_mean,
                             float *run_var, int N, int C, int groups, int train, float momentum),
      (out, mean, rstd, in, gamma, beta, run_mean, run_var, N, C, groups, train, momentum),
      L("bn fwd C", C))
WRAPV(nn_batchnorm_backward, (float *din, float *dgamma, float *dbeta, const float *dout,
                              const float *in, const float *mean, const float *rstd,
                              const float *gamma, int N, int C, int groups),
      (din, dgamma, dbeta, dout, in, mean, rstd, gamma, N, C, groups), L("bn bwd C", C))
WRAPV(nn_maxpool2_forward, (float *out, uint8_t *arg, const float *in, int B, int H, int W, int C),
      (out, arg, in, B, H, W, C), L("pool fwd C", C))
WRAPV(nn_maxpool2_backward, (float *din, const float *dout, const uint8_t *arg, int B, int H,
                             int W, int C),
      (din, dout, arg, B, H, W, C), L("pool bwd C", C))
WRAPV(nn_relu_forward, (float *out, const float *in, size_t n), (out, in, n), "relu fwd")
WRAPV(nn_relu_backward, (float *din, const float *dout, const float *out, size_t n),
      (din, dout, out, n), "relu bwd")
WRAPV(nn_linear_forward, (float *out, const float *in, const float *w, const float *b, int B,
                          int In, int Out),
      (out, in, w, b, B, In, Out), L("linear fwd in", In))
WRAPV(nn_linear_backward, (float *din, float *dw, float *db, const float *dout, const float *in,
                           const float *w, int B, int In, int Out),
      (din, dw, db, dout, in, w, B, In, Out), L("linear bwd in", In))
WRAPV(nn_dropout2d_forward, (float *out, const float *in, const float *mask, int B, int S, int C),
      (out, in, mask, B, S, C), "dropout fwd")
WRAPV(nn_dropout2d_backward, (float *din, const float *dout, const float *mask, int B, int S,
                              int C),
      (din, dout, mask, B, S, C), "dropout bwd")
WRAPV(nn_input_from_u8, (float *out, const uint8_t *in, int B, int H, int W, int C),
      (out, in, B, H, W, C), "input u8->float")

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void synth(npy_dataset *d, int64_t n, int h, int w, int c, uint64_t seed)
{
	rng_t r;
	rng_seed(&r, seed, 1);
	d->n = n;
	d->h = h;
	d->w = w;
	d->c = c;
	d->images = malloc((size_t)n * h * w * c);
	d->labels = malloc((size_t)n);
	for (size_t i = 0; i < (size_t)n * h * w * c; i++)
		d->images[i] = (uint8_t)rng_below(&r, 256);
	for (int64_t i = 0; i < n; i++)
		d->labels[i] = (uint8_t)rng_below(&r, 10);
}

int main(int argc, char **argv)
{
	int threads = omp_get_num_procs(), steps = 20, reps = 5, warmup = 5, batch = 64, size = 28;
	int arch = MODEL_ARCH_SEED, do_prof = 0, do_embed = 0, do_train = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
		if (!strcmp(a, "--threads")) threads = atoi(v), i++;
		else if (!strcmp(a, "--steps")) steps = atoi(v), i++;
		else if (!strcmp(a, "--reps")) reps = atoi(v), i++;
		else if (!strcmp(a, "--warmup")) warmup = atoi(v), i++;
		else if (!strcmp(a, "--batch")) batch = atoi(v), i++;
		else if (!strcmp(a, "--size")) size = atoi(v), i++;
		else if (!strcmp(a, "--arch")) arch = !strcmp(v, "paper") ? MODEL_ARCH_PAPER : MODEL_ARCH_SEED, i++;
		else if (!strcmp(a, "--profile")) do_prof = 1;
		else if (!strcmp(a, "--embed")) do_embed = 1;
		else if (!strcmp(a, "--embed-only")) do_embed = 1, do_train = 0;
		else {
			fprintf(stderr, "usage: train_step [--threads N] [--steps S] [--reps R] [--warmup W] "
			                "[--batch B] [--size 28|32] [--arch seed|paper] [--profile] [--embed] "
			                "[--embed-only]\n");
			return 2;
		}
	}
	if (reps < 1 || steps < 1 || reps > 1000)
		return 2;
	nn_set_threads(threads);
	npy_dataset src, tgt;
	/* source grayscale as MNIST, target RGB as MNIST-M */
	synth(&src, 4096, size, size, 1, 1);
	synth(&tgt, 4096, size, size, 3, 2);
	double rate[1000];
	if (do_train) {
		train_opts o;
		train_opts_default(&o);
		o.arch = arch;
		o.batch = batch;
		o.steps = 1000000;
		trainer t;
		if (train_init(&t, &o, &src, &tgt) < 0) {
			fprintf(stderr, "train_step: train_init failed\n");
			return 1;
		}
		for (int i = 0; i < warmup; i++)
			train_step(&t);
		for (int r = 0; r < reps; r++) {
			double t0 = now();
			for (int i = 0; i < steps; i++)
				train_step(&t);
			rate[r] = (double)steps * 2 * batch / (now() - t0);
		}
		qsort(rate, (size_t)reps, sizeof rate[0], cmp_d);
		printf("ours\t%d\t%.0f\t%.0f\t%.0f\n", threads, rate[reps / 2], rate[0], rate[reps - 1]);
		fflush(stdout);
		if (do_prof) {
			profiling = 1;
			double t0 = now();
			for (int i = 0; i < steps; i++)
				train_step(&t);
			double per = (now() - t0) / steps;
			profiling = 0;
			printf("# per-layer profile of one training step, %d threads (ms, mean of %d steps)\n",
			       threads, steps);
			double inner = 0;
			for (int i = 0; i < nprof; i++) {
				printf("#   %-28s %8.3f ms  %5.1f%%\n", prof[i].name, prof[i].t / steps * 1e3,
				       100 * prof[i].t / steps / per);
				if (prof[i].name[0] == '=')
					inner += prof[i].t;
			}
			printf("#   %-28s %8.3f ms  %5.1f%%\n", "rest (data, losses, SGD)",
			       (per - inner / steps) * 1e3, 100 * (per - inner / steps) / per);
			printf("#   %-28s %8.3f ms\n", "step", per * 1e3);
		}
		train_free(&t);
	}
	if (do_embed) {
		model m;
		model_init(&m, arch, size, size);
		model_init_params(&m, 1);
		int eb = 256;
		model_acts a;
		if (model_acts_alloc(&a, &m, eb) < 0)
			return 1;
		int D;
		int64_t per = 4096;
		for (int i = 0; i < warmup; i++)
			model_infer(&m, &a, tgt.images, eb, 3, MODEL_LAYER_FEATURES, &D);
		for (int r = 0; r < reps; r++) {
			double t0 = now();
			for (int64_t i = 0; i + eb <= per; i += eb)
				model_infer(&m, &a, tgt.images + (size_t)i * size * size * 3, eb, 3,
				            MODEL_LAYER_FEATURES, &D);
			rate[r] = (double)per / (now() - t0);
		}
		qsort(rate, (size_t)reps, sizeof rate[0], cmp_d);
		printf("ours-embed\t%d\t%.0f\t%.0f\t%.0f\n", threads, rate[reps / 2], rate[0],
		       rate[reps - 1]);
		model_acts_free(&a);
		model_free(&m);
	}
	return 0;
}
