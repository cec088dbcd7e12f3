/* test_train.c - the gradient reversal weight lambda of lib/net/train.c.
 *
 * The schedule lambda_p = 2 / (1 + exp(-gamma p)) - 1 at known points (0 at the start, tanh(1)
 * = 0.76159 at p = 0.2 with the paper's gamma = 10), and a constant lambda (lambda_const >= 0)
 * that overrides it at every step.  Then on a real trainer (8 images of 28x28, batch 4): the
 * constant is the lambda of the step and reaches the update (lambda_const 0 and gamma 0 train
 * the same weights, lambda_const 0.3 others), and a checkpoint remembers it (resuming with
 * another constant, or with the schedule, is refused).  Last, two train_steps equal, byte for
 * byte, the serial composition of the model's passes they stand for, on every path this machine
 * runs, with 1, 2 and 3 threads (the step runs the two heads on two threads and shares rows
 * out among them: that must change no byte). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base/err.h"
#include "net/kern.h"
#include "net/model.h"
#include "net/nn.h"
#include "base/rng.h"
#include "net/train.h"

enum { N = 8, S = 28, BATCH = 4 };

static double at(double gamma, double lambda_const, int64_t step, int64_t total)
{
	trainer t;
	memset(&t, 0, sizeof t);
	train_opts_default(&t.o);
	t.o.gamma = gamma;
	t.o.lambda_const = lambda_const;
	t.total = total;
	return train_lambda_at(&t, step);
}

static void schedule(void)
{
	train_opts o;
	train_opts_default(&o);
	CHECK(o.lambda_const < 0);  /* the default is the paper's schedule */
	CHECK_CLOSE(at(10, -1, 0, 1000), 0.0, 1e-12);
	CHECK_CLOSE(at(10, -1, 200, 1000), tanh(1.0), 1e-12);  /* 2/(1+e^-2x)-1 = tanh(x) */
	CHECK_CLOSE(at(10, -1, 500, 1000), tanh(2.5), 1e-12);
	CHECK_CLOSE(at(1, -1, 1000, 1000), tanh(0.5), 1e-12);
	CHECK(at(0, -1, 700, 1000) == 0.0);
	/* rising with p, and with gamma */
	int up = 1;
	for (int64_t s = 1; s <= 1000; s++)
		up &= at(10, -1, s, 1000) > at(10, -1, s - 1, 1000);
	CHECK(up);
	CHECK(at(100, -1, 50, 1000) > at(10, -1, 50, 1000) && at(10, -1, 50, 1000) > at(1, -1, 50, 1000));
	/* a constant: the same at every step, whatever gamma */
	for (int64_t s = 0; s <= 1000; s += 250) {
		CHECK(at(10, 0.3, s, 1000) == 0.3);
		CHECK(at(10, 0, s, 1000) == 0.0);
		CHECK(at(0, 1, s, 1000) == 1.0);
	}
}

static dataset data(uint64_t seed)
{
	dataset d = {N, S, S, 1, malloc(N * S * S), malloc(N)};
	rng_t r;
	rng_seed(&r, seed, 0);
	for (int i = 0; i < N * S * S; i++)
		d.images[i] = (uint8_t)(rng_next(&r) & 0xff);
	for (int i = 0; i < N; i++)
		d.labels[i] = (uint8_t)(i % 10);
	return d;
}

/* Train `steps` steps with the given lambda settings; the trainer is left initialised. */
static int run(trainer *t, const dataset *src, const dataset *tgt, double gamma,
               double lambda_const, int steps)
{
	train_opts o;
	train_opts_default(&o);
	o.batch = BATCH;
	o.steps = 10;
	o.gamma = gamma;
	o.lambda_const = lambda_const;
	int rc = train_init(t, &o, src, tgt);
	for (int i = 0; rc == 0 && i < steps; i++)
		rc = train_step(t);
	return rc;
}

static void trainer_lambda(void)
{
	dataset src = data(1), tgt = data(2);
	trainer a, b, c;
	CHECK(run(&a, &src, &tgt, 10, 0.3, 3) == 0);
	CHECK(a.lambda == 0.3);
	CHECK(run(&b, &src, &tgt, 0, -1, 3) == 0);
	CHECK(run(&c, &src, &tgt, 10, 0, 3) == 0);
	CHECK(b.lambda == 0.0 && c.lambda == 0.0);
	size_t bytes = a.m.nparams * sizeof(float);
	CHECK_MSG(memcmp(b.m.params, c.m.params, bytes) == 0, "lambda_const 0 and gamma 0 differ");
	CHECK_MSG(memcmp(a.m.params, c.m.params, bytes) != 0, "lambda_const 0.3 trained as 0");

	/* a checkpoint of the constant-lambda run resumes with it, and only with it */
	FILE *f = tmpfile();
	CHECK(f && train_save_checkpoint(f, &a) == 0);
	trainer r;
	double tries[3] = {0.3, 0.5, -1};
	for (int i = 0; i < 3; i++) {
		rewind(f);
		CHECK(run(&r, &src, &tgt, 10, tries[i], 0) == 0);
		int rc = train_load_checkpoint(f, "ckpt", &r);
		if (i == 0) {
			CHECK(rc == 0 && r.step == 3);
			CHECK(rc == 0 && train_step(&r) == 0 && r.lambda == 0.3);
		} else {
			CHECK_ERR(rc, "another --lambda-const");
		}
		train_free(&r);
	}
	fclose(f);
	/* a checkpoint resumed continues exactly: the same parameters and metrics row as the run
	 * never stopped */
	f = tmpfile();
	CHECK(f && train_save_checkpoint(f, &b) == 0);
	rewind(f);
	CHECK(run(&r, &src, &tgt, 0, -1, 0) == 0);
	CHECK(train_load_checkpoint(f, "ckpt", &r) == 0 && r.step == 3);
	CHECK(train_step(&r) == 0 && train_step(&b) == 0);
	double rowr[MET_NCOL], rowb[MET_NCOL];
	train_take_row(&r, rowr);
	train_take_row(&b, rowb);
	CHECK(memcmp(r.m.params, b.m.params, bytes) == 0 && memcmp(r.mom, b.mom, bytes) == 0);
	CHECK(memcmp(rowr, rowb, sizeof rowr) == 0 && rowb[MET_STEP] == 4);
	train_free(&r);
	fclose(f);
	/* format 1 (an int64 (40,) state) is refused by name */
	f = tmpfile();
	int64_t old[40] = {3}, shape[1] = {40};
	CHECK(f && model_write(f, &a.m, MODEL_KIND_CHECKPOINT, 3, 10) == 0 &&
	      model_write_block(f, &a.m, a.mom) == 0 && npy_write_array(f, NPY_I64, 1, shape, old) == 0);
	rewind(f);
	CHECK(run(&r, &src, &tgt, 10, 0.3, 0) == 0);
	CHECK_ERR(train_load_checkpoint(f, "ckpt", &r), "older dann-train (format 1)");
	train_free(&r);
	fclose(f);
	train_free(&a);
	train_free(&b);
	train_free(&c);
	free(src.images);
	free(src.labels);
	free(tgt.images);
	free(tgt.labels);
}

/* One step as the serial passes: the input and labels the step used (t->a.x, t->ylab), the
 * domain head's backward before the label head's (the gradient reversal's term reaches the
 * features first), then the features' backward and SGD with momentum (PyTorch's form). */
static void serial_step(const trainer *t, model *m, float *grads, float *mom, int64_t step)
{
	int bs = t->o.batch, B = t->B;
	model_acts a, ga;
	CHECK(model_acts_alloc(&a, m, B) == 0 && model_acts_alloc(&ga, m, B) == 0);
	memcpy(a.x, t->a.x, (size_t)B * S * S * 3 * sizeof(float));
	memset(ga.block, 0, ga.nzero * sizeof(float));
	model_params g;
	model_views(m, &g, grads);
	model_features_forward(m, &a, B, t->groups, MODEL_TRAIN, t->drop_seed, (uint64_t)step);
	model_label_forward(m, &a, bs, 1, MODEL_TRAIN);
	nn_softmax_ce_forward(a.probs, a.logits, t->ylab, bs, MODEL_CLASSES, NULL);
	model_domain_forward(m, &a, B, t->groups, MODEL_TRAIN);
	nn_bce_forward(a.dz, 0, bs, NULL);
	nn_bce_forward(a.dz + bs, 1, bs, NULL);
	nn_bce_backward(ga.dz, a.dz, 0, bs, 1.0f);
	nn_bce_backward(ga.dz + bs, a.dz + bs, 1, bs, 1.0f);
	model_domain_backward(m, &g, &ga, &a, B, t->groups, (float)train_lambda_at(t, step));
	nn_softmax_ce_backward(ga.logits, a.probs, t->ylab, bs, MODEL_CLASSES, 1.0f);
	model_label_backward(m, &g, &ga, &a, bs, 1);
	model_features_backward(m, &g, &ga, &a, B, t->groups);
	float mu = (float)t->o.momentum, lr = (float)train_lr_at(t, step);
	for (size_t i = 0; i < m->nparams; i++) {
		mom[i] = mu * mom[i] + grads[i];
		m->params[i] -= lr * mom[i];
		grads[i] = 0;
	}
	model_acts_free(&a);
	model_acts_free(&ga);
}

static void step_is_serial(int arch, int threads)
{
	dataset src = data(3), tgt = data(4);
	nn_set_threads(threads);
	train_opts o;
	train_opts_default(&o);
	o.arch = arch;
	o.batch = 5;  /* odd, and no multiple of the 8 statistics chunks */
	o.steps = 10;
	o.lambda_const = 0.7;  /* the gradient reversal's term non-zero from the first step */
	trainer t;
	CHECK(train_init(&t, &o, &src, &tgt) == 0);
	model m;
	CHECK(model_init(&m, arch, S, S, t.m.domains) == 0);
	memcpy(m.params, t.m.params, m.nparams * sizeof(float));
	memcpy(m.stats, t.m.stats, m.nstats * sizeof(float));
	float *grads = calloc(m.nparams, sizeof(float)), *mom = calloc(m.nparams, sizeof(float));
	for (int64_t step = 0; step < 2; step++) {
		CHECK(train_step(&t) == 0);
		serial_step(&t, &m, grads, mom, step);
	}
	CHECK_MSG(!memcmp(t.m.params, m.params, m.nparams * sizeof(float)) &&
	              !memcmp(t.mom, mom, m.nparams * sizeof(float)) &&
	              !memcmp(t.m.stats, m.stats, m.nstats * sizeof(float)),
	          "[%s] arch %d, %d threads: train_step differs from the serial passes",
	          kern_isa_name(kern_isa()), arch, threads);
	free(grads);
	free(mom);
	model_free(&m);
	train_free(&t);
	free(src.images), free(src.labels), free(tgt.images), free(tgt.labels);
}

int main(void)
{
	nn_set_threads(1);
	schedule();
	trainer_lambda();
	for (int isa = 0; isa < KERN_ISA_N; isa++) {
		if (!kern_isa_runs(isa))
			continue;
		CHECK(kern_isa_set(isa) == 0);
		for (int th = 1; th <= 3; th++) {
			step_is_serial(MODEL_ARCH_SEED, th);
			step_is_serial(MODEL_ARCH_PAPER, th);
		}
	}
	return check_summary("test_train");
}
