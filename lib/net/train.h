/* train.h - DANN training (Ganin et al. 2016, Algorithm 1 with the schedules of section 5.2.2).
 *
 * One step takes `batch` source images (and, in DANN mode, `batch` target images):
 *   loss = CE(label predictor(source), source labels)
 *        + BCE(domain(source), 0) + BCE(domain(target), 1)       (each a mean over its half)
 * The feature extractor and domain classifier see the source and target halves as one batch
 * of 2*batch rows, with BatchNorm statistics over all of it (bn_split = 0), or per half
 * (bn_split = 1: as when the halves are run through the network one after the other; each half
 * then updates its own domain's running statistics, which evaluation of that domain uses).
 * Schedules, with p = step / total_steps in [0,1):
 *   lr_p = lr / (1 + alpha p)^beta          (eq. in section 5.2.2; 0.01, 10, 0.75)
 *   lambda_p = 2 / (1 + exp(-gamma p)) - 1  (gamma = 10), or lambda_const at every step when
 *                                           that is set (>= 0)
 * SGD with momentum as PyTorch: v = mu v + g; w -= lr_p v.
 * Epoch: one pass over the source, in a seeded random order, floor(N_source / batch) steps (the
 * last partial batch is dropped).  Target batches come from their own seeded permutations,
 * floor(N_target / batch) per pass, independent of the source epochs.
 * All randomness is a function of (seed, step): the shuffles of epoch e use rng stream
 * (seed, 0x5000000 + e), the target's pass q (seed, 0x6000000 + q), dropout masks
 * rng_hash(rng_hash(seed, 7, 0), step, b*C + c), initialisation (seed, 1000 + tensor).  So the
 * step count is the whole random state of a checkpoint.  Target labels are never read. */
#ifndef DN_TRAIN_H
#define DN_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "net/model.h"
#include "stream/dataset.h"
#include "stream/metrics.h"

enum { TRAIN_DANN = 0, TRAIN_SOURCE_ONLY = 1 };

typedef struct {
	int mode, arch, epochs, batch;
	int bn_split;       /* 1 (default): BatchNorm statistics per domain half; 0: joint */
	int64_t steps;      /* total steps; 0: epochs * steps per epoch */
	uint64_t seed;
	double lr, alpha, beta, gamma, momentum;
	double lambda_const; /* < 0 (default): the gamma schedule; >= 0: lambda at every step */
} train_opts;

/* The paper's values: DANN, ARCH_SEED, 15 epochs, batch 64, seed 1, lr 0.01, alpha 10,
 * beta 0.75, gamma 10 (lambda_const -1: the schedule), momentum 0.9. */
void train_opts_default(train_opts *o);

typedef struct {
	train_opts o;
	model m;
	const dataset *src, *tgt;
	int B, groups;                       /* rows through the feature extractor per step */
	int64_t steps_per_epoch, total, step, tgt_steps;
	float *grads, *mom;                  /* parameter-shaped blocks */
	model_params g;
	model_acts a, ga, ea;                /* training, their gradients, evaluation */
	int eval_B;
	uint8_t *ylab;
	int64_t *sperm, *tperm, sperm_epoch, tperm_pass;
	uint64_t drop_seed;
	/* accumulators since the last metrics row (part of a checkpoint) */
	double sum_label, sum_domain;
	int64_t n_steps, src_ok, src_n, dom_ok, dom_n;
	double lr, lambda;                   /* of the last step */
} trainer;

/* Validate the data (sizes equal, enough images), build and initialise the model, allocate
 * every buffer.  tgt may be NULL in source-only mode. */
int train_init(trainer *t, const train_opts *o, const dataset *src, const dataset *tgt);
void train_free(trainer *t);

double train_lr_at(const trainer *t, int64_t step);
/* The gradient reversal weight of a step: lambda_const when it is >= 0, else the schedule. */
double train_lambda_at(const trainer *t, int64_t step);

/* One SGD step (no allocation).  Returns DN_ERANGE, with the step and the loss named in the
 * message, when a loss of this step is not finite (the training diverged: the update is then
 * not applied); 0 otherwise. */
int train_step(trainer *t);

/* 0 if every parameter and BatchNorm statistic is finite; else DN_ERANGE naming the step, the
 * tensor and the index of the first NaN or Inf.  The loss check of train_step sees divergence
 * at once; this catches what a loss can hide (a ReLU turns NaN into 0), at the cost of one
 * pass over the parameters: call it before writing a model and every few steps. */
int train_check_finite(const trainer *t);

/* Fill a metrics row (dann-metrics(5), indexed by MET_*) from the accumulators, averaged over
 * the steps since the previous row, and reset them: step = steps done, epoch = step /
 * steps_per_epoch, lr and lambda of the last step; NAN where nothing was measured (target_acc
 * always: the caller measures it). */
void train_take_row(trainer *t, double row[MET_NCOL]);

/* Accuracy of the current model (evaluation mode, the running statistics of `domain`: 0
 * source, 1 target) on the first `limit` images of d (all if limit <= 0).  Returns the number
 * correct; *n gets the number evaluated. */
int64_t train_eval(trainer *t, const dataset *d, int domain, int64_t limit, int64_t *n);

/* Checkpoint: the model (kind CHECKPOINT), the momentum buffers, then the training state, an
 * int64 array (see man/dann-model.5).  train_load_checkpoint is called after train_init with
 * the same options and data; a checkpoint made with other options or data, or by an older
 * version (format 1), is an error.  Both leave the stream after the state: a tool may keep a
 * section of its own there. */
int train_save_checkpoint(FILE *f, const trainer *t);
int train_load_checkpoint(FILE *f, const char *name, trainer *t);

#endif
