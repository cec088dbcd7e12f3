/* train_step.c - time the DANN training step of lib/net/train.c (the step dann-train runs) and
 * the evaluation forward of lib/net/model.c (what dann-embed runs), on synthetic data.
 *
 *   train_step [--threads N] [--steps S] [--reps R] [--warmup W] [--batch B] [--size 28|32]
 *              [--arch seed|paper] [--profile] [--embed]
 *
 * Prints TSV lines  impl threads images_per_s(median) min max images_per_cpu_s(median)
 * ("ours" for training, "ours-embed" for inference; the last column divides by the CPU time
 * of the process, which on a shared machine is steadier than the wall clock).  DANN_ISA picks
 * the kernels' instruction-set path (lib/net/kern.h); a "# kernels:" line says which ran.  An
 * image is one of the 2B in a DANN batch.  With --profile it also prints the time of every
 * layer call inside one step (averaged over the timed steps): the library's layer functions
 * are wrapped at link time (-Wl,--wrap=...), so what is timed is exactly the code dann-train
 * runs. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "net/kern.h"
#include "net/model.h"
#include "net/nn.h"
#include "base/rng.h"
#include "net/train.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds of the whole process (all threads): on a shared machine, the time we were
 * actually running; the profile uses it so per-layer numbers do not include waiting. */
static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds of the calling thread: for the calls made inside a parallel region (the two heads
 * of a DANN step run at once, one per thread), where the process's clock would count both */
static double cpu_thread(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* --- per-layer profile through link-time wrappers ------------------------------------------- */
#define NPROF 64
static struct {
	char name[48];
	double t, w;   /* CPU seconds of the process, wall seconds */
	long calls;
} prof[NPROF];
static int nprof, profiling;

/* a call inside a parallel region is recorded as "| name", its thread's CPU time (prof_time) */
static void prof_add(const char *name, double dt, double dw)
{
	char in_par[sizeof prof[0].name];
	if (omp_in_parallel()) {
		snprintf(in_par, sizeof in_par, "| %s", name);
		name = in_par;
	}
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
	prof[i].w += dw;
	prof[i].calls++;
}

static double prof_time(void)
{
	return omp_in_parallel() ? cpu_thread() : cpu();
}

#define WRAP(ret, fn, params, args, label)                                                     \
	ret __real_##fn params;                                                                    \
	ret __wrap_##fn params                                                                     \
	{                                                                                          \
		if (!profiling)                                                                        \
			return __real_##fn args;                                                           \
		double t0_ = prof_time(), w0_ = now();                                                 \
		ret r_ = __real_##fn args;                                                             \
		double t1_ = prof_time(), w1_ = now();                                                 \
		_Pragma("omp critical(prof)") prof_add(label, t1_ - t0_, w1_ - w0_);                   \
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
		double t0_ = prof_time(), w0_ = now();                                                 \
		__real_##fn args;                                                                      \
		double t1_ = prof_time(), w1_ = now();                                                 \
		_Pragma("omp critical(prof)") prof_add(label, t1_ - t0_, w1_ - w0_);                   \
	}

static char lbl[64];
#pragma omp threadprivate(lbl)
static const char *L(const char *what, int a)
{
	snprintf(lbl, sizeof lbl, "%s %d", what, a);
	return lbl;
}

WRAPV(model_features_forward, (model *m, model_acts *a, int B, int groups, int pass,
                               uint64_t drop_seed, uint64_t step),
      (m, a, B, groups, pass, drop_seed, step), "= features forward (total)")
WRAPV(model_blocks_forward, (model *m, model_acts *a, int B, int groups), (m, a, B, groups),
      "= conv blocks forward (total)")
WRAPV(model_label_forward, (model *m, model_acts *a, int B, int groups, int pass),
      (m, a, B, groups, pass), "= label forward (total)")
WRAPV(model_domain_forward, (model *m, model_acts *a, int B, int groups, int pass),
      (m, a, B, groups, pass), "= domain forward (total)")
WRAPV(model_label_backward, (const model *m, model_params *g, model_acts *ga,
                             const model_acts *a, int B, int groups),
      (m, g, ga, a, B, groups), "= label backward (total)")
WRAPV(model_domain_backward, (const model *m, model_params *g, model_acts *ga,
                              const model_acts *a, int B, int groups, float lambda),
      (m, g, ga, a, B, groups, lambda), "= domain backward (total)")
WRAPV(model_features_backward, (const model *m, model_params *g, model_acts *ga,
                                const model_acts *a, int B, int groups),
      (m, g, ga, a, B, groups), "= features backward (total)")
WRAPV(model_blocks_backward, (const model *m, model_params *g, model_acts *ga,
                              const model_acts *a, int B, int groups, void (*then)(void *),
                              void *arg),
      (m, g, ga, a, B, groups, then, arg), "= conv blocks backward + SGD (total)")
WRAPV(kern_block_forward, (const kern_block *Lb, float *r, kern_saved *s, const float *in,
                           const float *w, const float *b, const float *gamma, const float *beta,
                           float *const *rm, float *const *rv, int B, int groups, int train,
                           float mom, float *ws),
      (Lb, r, s, in, w, b, gamma, beta, rm, rv, B, groups, train, mom, ws),
      L("conv+bn+pool+relu fwd OC", Lb->OC))
WRAPV(kern_block_backward, (const kern_block *Lb, float *din, float *dw, float *db, float *dgamma,
                            float *dbeta, const kern_saved *gs, const float *dr, const float *r,
                            const kern_saved *s, const float *in, const float *w,
                            const float *gamma, int B, int groups, float *ws),
      (Lb, din, dw, db, dgamma, dbeta, gs, dr, r, s, in, w, gamma, B, groups, ws),
      L("relu+pool+bn+conv bwd OC", Lb->OC))
WRAPV(kern_blocks_backward, (const kern_block *Lb, const kern_bwd_args *a, int n, int B,
                             int groups, void (*then)(void *), void *arg),
      (Lb, a, n, B, groups, then, arg), "relu+pool+bn+conv bwd (both blocks) + SGD")
WRAPV(kern_features_eval, (const kern_block Lb[2], float *feat, float *r1, kern_saved s[2],
                           const float *x, const float *const l1[6], const float *const l2[6],
                           int B, float *ws, float *ws2),
      (Lb, feat, r1, s, x, l1, l2, B, ws, ws2), "features eval (2 blocks)")
WRAPV(nn_batchnorm_forward, (float *out, float *mean, float *rstd, const float *in,
                             const float *gamma, const float *beta, float *const *run_mean,
                             float *const *run_var, int N, int C, int groups, int train,
                             float momentum),
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
WRAPV(kern_linear_forward, (float *out, const float *in, const float *w, const float *b, int B,
                            int In, int Out),
      (out, in, w, b, B, In, Out), L("kern linear fwd in", In))
WRAPV(kern_linear_backward, (float *din, float *dw, float *db, const float *dout,
                             const float *in, const float *w, int B, int In, int Out),
      (din, dw, db, dout, in, w, B, In, Out), L("kern linear bwd in", In))
WRAPV(nn_dropout2d_forward, (float *out, const float *in, const float *mask, int B, int S, int C),
      (out, in, mask, B, S, C), "dropout fwd")
WRAPV(nn_dropout2d_backward, (float *din, const float *dout, const float *mask, int B, int S,
                              int C),
      (din, dout, mask, B, S, C), "dropout bwd")
WRAPV(nn_input_from_u8, (float *out, const uint8_t *in, int B, int H, int W, int C),
      (out, in, B, H, W, C), "input u8->float")

/* per layer: CPU ms of the process, its share of the step, wall ms, and CPU / wall (how many
 * CPUs the call kept busy: a call that runs on one thread of two shows ~1).  Calls inside a
 * parallel region ("| ...": the heads, one per thread) show their thread's CPU ms; the region
 * itself falls in "rest". */
static void prof_print(const char *what, int threads, int steps, double per, double per_w)
{
	printf("# per-layer profile of one %s, %d threads (mean of %d): CPU ms of the process, "
	       "share, wall ms, CPUs busy\n", what, threads, steps);
	double inner = 0, inner_w = 0;
	int concurrent = 0;
	for (int i = 0; i < nprof; i++) {
		concurrent |= prof[i].name[0] == '|';
		printf("#   %-28s %8.3f ms  %5.1f%%  %8.3f ms  %4.2f\n", prof[i].name,
		       prof[i].t / steps * 1e3, 100 * prof[i].t / steps / per, prof[i].w / steps * 1e3,
		       prof[i].w > 0 ? prof[i].t / prof[i].w : 0);
		if (prof[i].name[0] == '=') {
			inner += prof[i].t;
			inner_w += prof[i].w;
		}
	}
	if (inner > 0) {
		double rc = per - inner / steps, rw = per_w - inner_w / steps;
		printf("#   %-28s %8.3f ms  %5.1f%%  %8.3f ms  %4.2f\n",
		       concurrent ? "rest (heads |, data, SGD)" : "rest (data, losses, SGD)",
		       rc * 1e3, 100 * rc / per, rw * 1e3, rw > 0 ? rc / rw : 0);
	}
	printf("#   %-28s %8.3f ms  %5s   %8.3f ms  %4.2f\n", "total", per * 1e3, "", per_w * 1e3,
	       per / per_w);
	nprof = 0;
}

/* FLOPs (multiply and add counted as 2) per image of the convolutions and fully connected
 * layers; BatchNorm, ReLU, pooling and the losses are O(activations) and not counted. */
static double flops_report(const model *m, int batch, int print)
{
	double K1 = 25.0 * 3, K2 = 25.0 * MODEL_C1, F = m->F, Hd = MODEL_HIDDEN;
	double c1 = 2.0 * m->c1h * m->c1w * MODEL_C1 * K1, c2 = 2.0 * m->c2h * m->c2w * MODEL_C2 * K2;
	double l1 = 2 * F * Hd, l2 = 2 * Hd * Hd, l3 = 2 * Hd * MODEL_CLASSES, d1 = 2 * F * Hd,
	       d2 = 2 * Hd;
	/* backward: conv1 has dw only (no input gradient); others dw + din (2x forward) */
	double conv = c1 * 2 + c2 * 3, label = (l1 + l2 + l3) * 3 / 2 /* source half only */,
	       dom = (d1 + d2) * 3;
	double total = conv + label + dom;
	if (print) {
		printf("# FLOPs per training image (one of the 2x%d of a DANN batch):\n", batch);
		printf("#   conv1   fwd %.3f M  bwd %.3f M (dw)\n", c1 / 1e6, c1 / 1e6);
		printf("#   conv2   fwd %.3f M  bwd %.3f M (dw + din)\n", c2 / 1e6, 2 * c2 / 1e6);
		printf("#   label   fwd+bwd %.3f M (fc %d-100-100-10, source half: /2)\n", label / 1e6,
		       (int)F);
		printf("#   domain  fwd+bwd %.3f M (fc %d-100-1)\n", dom / 1e6, (int)F);
		printf("#   total   %.3f MFLOP per training image; %.3f MFLOP per embedded image "
		       "(conv1 + conv2 forward)\n",
		       total / 1e6, (c1 + c2) / 1e6);
	}
	return total;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void synth(dataset *d, int64_t n, int h, int w, int c, uint64_t seed)
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
	if (kern_isa_init() < 0) {
		fprintf(stderr, "train_step: %s\n", err_msg());
		return 2;
	}
	char isa[128];
	printf("# %s\n", kern_isa_describe(isa, sizeof isa));
	dataset src, tgt;
	/* source grayscale as MNIST, target RGB as MNIST-M */
	synth(&src, 4096, size, size, 1, 1);
	synth(&tgt, 4096, size, size, 3, 2);
	double rate[1000], crate[1000];
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
			double t0 = now(), c0 = cpu();
			for (int i = 0; i < steps; i++)
				train_step(&t);
			rate[r] = (double)steps * 2 * batch / (now() - t0);
			crate[r] = (double)steps * 2 * batch / (cpu() - c0);
		}
		qsort(rate, (size_t)reps, sizeof rate[0], cmp_d);
		qsort(crate, (size_t)reps, sizeof rate[0], cmp_d);
		printf("ours\t%d\t%.0f\t%.0f\t%.0f\t%.0f\n", threads, rate[reps / 2], rate[0],
		       rate[reps - 1], crate[reps / 2]);
		fflush(stdout);
		double fl = flops_report(&t.m, batch, 1);
		printf("# ours %d threads: %.1f GFLOP/s (wall), %.1f GFLOP/s per CPU-second\n", threads,
		       rate[reps / 2] * fl / 1e9, crate[reps / 2] * fl / 1e9);
		if (do_prof) {
			profiling = 1;
			double t0 = cpu(), w0 = now();
			for (int i = 0; i < steps; i++)
				train_step(&t);
			double per = (cpu() - t0) / steps, per_w = (now() - w0) / steps;
			profiling = 0;
			prof_print("training step", threads, steps, per, per_w);
		}
		train_free(&t);
	}
	if (do_embed) {
		model m;
		model_init(&m, arch, size, size, 1);
		model_init_params(&m, 1);
		int eb = 256;
		model_acts a;
		if (model_acts_alloc(&a, &m, eb) < 0)
			return 1;
		int D;
		int64_t per = 4096;
		for (int i = 0; i < warmup; i++)
			model_infer(&m, &a, tgt.images, eb, 3, 1, MODEL_LAYER_FEATURES, &D);
		for (int r = 0; r < reps; r++) {
			double t0 = now(), c0 = cpu();
			for (int64_t i = 0; i + eb <= per; i += eb)
				model_infer(&m, &a, tgt.images + (size_t)i * size * size * 3, eb, 3, 1,
				            MODEL_LAYER_FEATURES, &D);
			rate[r] = (double)per / (now() - t0);
			crate[r] = (double)per / (cpu() - c0);
		}
		qsort(rate, (size_t)reps, sizeof rate[0], cmp_d);
		qsort(crate, (size_t)reps, sizeof rate[0], cmp_d);
		printf("ours-embed\t%d\t%.0f\t%.0f\t%.0f\t%.0f\n", threads, rate[reps / 2], rate[0],
		       rate[reps - 1], crate[reps / 2]);
		if (do_prof) {
			profiling = 1;
			double t0 = cpu(), w0 = now();
			for (int64_t i = 0; i + eb <= per; i += eb)
				model_infer(&m, &a, tgt.images + (size_t)i * size * size * 3, eb, 3, 1,
				            MODEL_LAYER_FEATURES, &D);
			double dt = (cpu() - t0) / (double)(per / eb), dw = (now() - w0) / (double)(per / eb);
			profiling = 0;
			prof_print("embedding batch of 256", threads, (int)(per / eb), dt, dw);
		}
		model_acts_free(&a);
		model_free(&m);
	}
	return 0;
}
