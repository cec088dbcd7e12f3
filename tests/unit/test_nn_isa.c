/* test_nn_isa.c - whole training runs on every instruction-set path this machine runs
 * (lib/net/kern.h): on each path the model after a few steps is the same, byte for byte, with 1 and
 * 2 threads; across paths it agrees with the generic path (portable C + OpenBLAS) to the
 * stated tolerance, for 28x28 grayscale -> RGB and 32x32 RGB -> RGB, both architectures, joint
 * and per-domain BatchNorm statistics; evaluation (dann-embed's forward) agrees too. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/kern.h"
#include "net/model.h"
#include "net/nn.h"
#include "base/rng.h"
#include "net/train.h"

/* Across paths: |p - p_generic| <= TOL_PARAM * (1 + max |p_generic|) for every parameter and
 * running statistic after `steps` SGD steps, and the same for the embedded features.  Rounding
 * differs (FMA, summation order) by ~1e-7 relative per layer and grows over steps; 3 steps of
 * batch 8 + 8 at lr 0.01 stay far below this (the kernels' shapes are the network's; the batch
 * size and step count only scale the work). */
#define TOL_PARAM 1e-4
static int steps = 3;

static void synth(dataset *d, int64_t n, int s, int c, uint64_t seed)
{
	rng_t r;
	rng_seed(&r, seed, 1);
	d->n = n;
	d->h = d->w = s;
	d->c = c;
	d->images = malloc((size_t)n * s * s * c);
	d->labels = malloc((size_t)n);
	for (size_t i = 0; i < (size_t)n * s * s * c; i++)
		d->images[i] = (uint8_t)rng_below(&r, 256);
	for (int64_t i = 0; i < n; i++)
		d->labels[i] = (uint8_t)rng_below(&r, 10);
}

typedef struct {
	float *params, *stats, *feat;
	size_t np, ns, nf;
} run_out;

static void run(run_out *o, const dataset *src, const dataset *tgt, int arch, int split,
                int threads)
{
	nn_set_threads(threads);
	train_opts opt;
	train_opts_default(&opt);
	opt.arch = arch;
	opt.bn_split = split;
	opt.batch = 8;
	opt.steps = steps;
	trainer t;
	CHECK(train_init(&t, &opt, src, tgt) == 0);
	for (int i = 0; i < steps; i++)
		train_step(&t);
	o->np = t.m.nparams;
	o->ns = t.m.nstats;
	o->params = malloc(o->np * 4);
	o->stats = malloc(o->ns * 4);
	memcpy(o->params, t.m.params, o->np * 4);
	memcpy(o->stats, t.m.stats, o->ns * 4);
	/* the evaluation forward of 24 target images */
	model_acts a;
	CHECK(model_acts_alloc(&a, &t.m, 24) == 0);
	int D;
	const float *f = model_infer(&t.m, &a, tgt->images, 24, tgt->c, 1, MODEL_LAYER_FEATURES, &D);
	o->nf = (size_t)24 * D;
	o->feat = malloc(o->nf * 4);
	memcpy(o->feat, f, o->nf * 4);
	model_acts_free(&a);
	train_free(&t);
}

static void out_free(run_out *o)
{
	free(o->params), free(o->stats), free(o->feat);
}

static double reldiff(const float *a, const float *b, size_t n)
{
	double d = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - b[i]);
		if (!(e <= d))
			d = e;
		if (fabs(b[i]) > s)
			s = fabs(b[i]);
	}
	return d / (1 + s);
}

static void one(int size, int src_c, int arch, int split)
{
	dataset src, tgt;
	synth(&src, 64, size, src_c, 1);
	synth(&tgt, 64, size, 3, 2);
	run_out ref;
	CHECK(kern_isa_set(KERN_ISA_GENERIC) == 0);
	run(&ref, &src, &tgt, arch, split, 2);
	for (int isa = 0; isa < KERN_ISA_N; isa++) {
		if (!kern_isa_runs(isa))
			continue;
		CHECK(kern_isa_set(isa) == 0);
		/* 1 and 2 threads; on the generic path the 2-thread run is the reference itself */
		run_out a, b;
		run(&a, &src, &tgt, arch, split, 1);
		if (isa == KERN_ISA_GENERIC)
			b = ref;
		else
			run(&b, &src, &tgt, arch, split, 2);
		char tag[96];
		snprintf(tag, sizeof tag, "[%s] %dx%dx%d arch %d bn_split %d", kern_isa_name(isa), size,
		         size, src_c, arch, split);
		CHECK_MSG(!memcmp(a.params, b.params, a.np * 4) && !memcmp(a.stats, b.stats, a.ns * 4) &&
		              !memcmp(a.feat, b.feat, a.nf * 4),
		          "%s: 1 and 2 threads give different bytes", tag);
		double dp = reldiff(b.params, ref.params, ref.np), ds = reldiff(b.stats, ref.stats, ref.ns);
		double df = reldiff(b.feat, ref.feat, ref.nf);
		CHECK_MSG(dp <= TOL_PARAM && ds <= TOL_PARAM && df <= TOL_PARAM,
		          "%s: differs from generic: parameters %g, statistics %g, features %g (tol %g)",
		          tag, dp, ds, df, TOL_PARAM);
		if (getenv("TEST_VERBOSE"))
			printf("%s: vs generic %.2g %.2g %.2g\n", tag, dp, ds, df);
		out_free(&a);
		if (isa != KERN_ISA_GENERIC)
			out_free(&b);
	}
	out_free(&ref);
	free(src.images), free(src.labels), free(tgt.images), free(tgt.labels);
}

int main(void)
{
	if (check_quick("test_nn_isa", "1 training step a run, not 3"))
		steps = 1;
	one(28, 1, MODEL_ARCH_SEED, 1);
	one(32, 3, MODEL_ARCH_SEED, 0);
	one(32, 3, MODEL_ARCH_PAPER, 0);
	return check_summary("test_nn_isa");
}
