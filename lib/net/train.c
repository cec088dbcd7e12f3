/* train.c - the DANN training loop; see train.h. */
#include "net/train.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/nn.h"
#include "base/rng.h"

void train_opts_default(train_opts *o)
{
	memset(o, 0, sizeof *o);
	o->mode = TRAIN_DANN;
	o->arch = MODEL_ARCH_SEED;
	o->epochs = 15;
	o->batch = 64;
	o->seed = 1;
	o->lr = 0.01;
	o->alpha = 10;
	o->beta = 0.75;
	o->gamma = 10;
	o->lambda_const = -1;
	o->momentum = 0.9;
	o->bn_split = 1;  /* measured better than joint on both recipes: docs/ACCURACY.md */
}

int train_init(trainer *t, const train_opts *o, const dataset *src, const dataset *tgt)
{
	memset(t, 0, sizeof *t);
	t->o = *o;
	t->src = src;
	t->tgt = o->mode == TRAIN_DANN ? tgt : NULL;
	int bs = o->batch;
	if (bs < 2 || bs > 4096)
		return err_set(DN_EARG, "batch %d out of range", bs);
	if (src->n < bs)
		return err_set(DN_EFORMAT, "source: %lld images, fewer than one batch of %d",
		               (long long)src->n, bs);
	if (o->mode == TRAIN_DANN) {
		if (!tgt)
			return err_set(DN_EARG, "DANN mode needs a target dataset");
		if (tgt->h != src->h || tgt->w != src->w)
			return err_set(DN_EFORMAT, "image sizes differ: source %dx%d, target %dx%d", src->h,
			               src->w, tgt->h, tgt->w);
		if (tgt->n < bs)
			return err_set(DN_EFORMAT, "target: %lld images, fewer than one batch of %d",
			               (long long)tgt->n, bs);
		t->tgt_steps = tgt->n / bs;
	}
	/* per-domain batch statistics keep per-domain running statistics for evaluation */
	int rc = model_init(&t->m, o->arch, src->h, src->w,
	                    o->mode == TRAIN_DANN && o->bn_split ? 2 : 1);
	if (rc < 0)
		return rc;
	model_init_params(&t->m, o->seed);
	t->steps_per_epoch = src->n / bs;
	t->total = o->steps > 0 ? o->steps : (int64_t)o->epochs * t->steps_per_epoch;
	t->B = o->mode == TRAIN_DANN ? 2 * bs : bs;
	t->groups = o->mode == TRAIN_DANN && o->bn_split ? 2 : 1;
	t->eval_B = 256;
	t->grads = calloc(t->m.nparams, sizeof(float));
	t->mom = calloc(t->m.nparams, sizeof(float));
	t->ylab = malloc((size_t)bs);
	t->sperm = malloc(sizeof(int64_t) * (size_t)src->n);
	t->tperm = t->tgt ? malloc(sizeof(int64_t) * (size_t)t->tgt->n) : NULL;
	if (!t->grads || !t->mom || !t->ylab || !t->sperm || (t->tgt && !t->tperm)) {
		train_free(t);
		return err_set(DN_ENOMEM, "out of memory for training buffers");
	}
	model_views(&t->m, &t->g, t->grads);
	if ((rc = model_acts_alloc(&t->a, &t->m, t->B)) < 0 ||
	    (rc = model_acts_alloc(&t->ga, &t->m, t->B)) < 0 ||
	    (rc = model_acts_alloc(&t->ea, &t->m, t->eval_B)) < 0) {
		train_free(t);
		return rc;
	}
	t->sperm_epoch = t->tperm_pass = -1;
	t->drop_seed = rng_hash(o->seed, 7, 0);
	return 0;
}

void train_free(trainer *t)
{
	model_free(&t->m);
	model_acts_free(&t->a);
	model_acts_free(&t->ga);
	model_acts_free(&t->ea);
	free(t->grads);
	free(t->mom);
	free(t->ylab);
	free(t->sperm);
	free(t->tperm);
	t->grads = t->mom = NULL;
	t->ylab = NULL;
	t->sperm = t->tperm = NULL;
}

double train_lr_at(const trainer *t, int64_t step)
{
	double p = (double)step / (double)t->total;
	return t->o.lr / pow(1.0 + t->o.alpha * p, t->o.beta);
}

double train_lambda_at(const trainer *t, int64_t step)
{
	if (t->o.lambda_const >= 0)
		return t->o.lambda_const;
	double p = (double)step / (double)t->total;
	return 2.0 / (1.0 + exp(-t->o.gamma * p)) - 1.0;
}

static void permutation(int64_t *idx, int64_t n, uint64_t seed, uint64_t stream)
{
	rng_t r;
	rng_seed(&r, seed, stream);
	for (int64_t i = 0; i < n; i++)
		idx[i] = i;
	rng_shuffle(&r, idx, n);
}

/* SGD with momentum (PyTorch's form); each gradient is cleared once used, for the next step's
 * backward to add into (a step that fails has added nothing yet).  Called by every thread of a
 * parallel region: the loop is shared out among them. */
typedef struct {
	float *w, *v, *g;
	size_t n;
	float mu, lr;
} sgd_step;

static void sgd_team(void *arg)
{
	const sgd_step *u = arg;
	float *w = u->w, *v = u->v, *g = u->g, mu = u->mu, flr = u->lr;
#pragma omp for schedule(static)
	for (size_t i = 0; i < u->n; i++) {
		v[i] = mu * v[i] + g[i];
		w[i] -= flr * v[i];
		g[i] = 0;
	}
}

int train_step(trainer *t)
{
	int bs = t->o.batch, dann = t->o.mode == TRAIN_DANN;
	int64_t step = t->step;
	double lr = train_lr_at(t, step), lambda = train_lambda_at(t, step);
	/* source batch */
	int64_t epoch = step / t->steps_per_epoch, b = step % t->steps_per_epoch;
	if (epoch != t->sperm_epoch) {
		permutation(t->sperm, t->src->n, t->o.seed, 0x5000000 + (uint64_t)epoch);
		t->sperm_epoch = epoch;
	}
	const int64_t *sidx = t->sperm + b * bs, *tidx = NULL;
	for (int i = 0; i < bs; i++)
		t->ylab[i] = t->src->labels[sidx[i]];
	if (dann) {
		int64_t pass = step / t->tgt_steps, tb = step % t->tgt_steps;
		if (pass != t->tperm_pass) {
			permutation(t->tperm, t->tgt->n, t->o.seed, 0x6000000 + (uint64_t)pass);
			t->tperm_pass = pass;
		}
		tidx = t->tperm + tb * bs;
	}
	/* One parallel region, not a serial part of the step: the batch's images (source rows, then
	 * target rows) converted to x straight from the data sets, and the activation gradients the
	 * backward adds into zeroed (~1.6 MB for a batch of 64+64: not the first block's output
	 * gradient, which the backward stores; the parameter gradients are zero already: calloc,
	 * then the update below). */
	int64_t npix = (int64_t)t->m.H * t->m.W;
#pragma omp parallel
	{
		/* interleaved: the source's grayscale images convert slower than the target's */
#pragma omp for schedule(static, 1) nowait
		for (int i = 0; i < t->B; i++) {
			const dataset *d = i < bs ? t->src : t->tgt;
			int64_t k = i < bs ? sidx[i] : tidx[i - bs];
			nn_input_pixels_u8(t->a.x + i * npix * 3, d->images + k * npix * d->c, npix, d->c);
		}
#pragma omp for schedule(static) nowait
		for (int c = 0; c < 64; c++) {
			size_t lo = t->ga.nzero * (size_t)c / 64, hi = t->ga.nzero * (size_t)(c + 1) / 64;
			memset(t->ga.block + lo, 0, (hi - lo) * sizeof(float));
		}
	}
	model_blocks_forward(&t->m, &t->a, t->B, t->groups);
	/* The two heads at once, one per thread (DANN, two threads or more): each is a chain of
	 * small layers (100 wide, 64 or 128 rows) that two threads would share badly, a wake-up
	 * and a barrier per layer.  Forwards and losses, then (a barrier: a step that fails adds
	 * nothing) backwards; the layers' bytes do not depend on which thread runs them.  The label
	 * head's input gradient waits for the domain head's, so that ga->feat receives the GRL's
	 * term first, as in a serial step; where the kernels allow it, both input gradients are
	 * shared out by rows after the barrier (the domain head's chain is the longer). */
	double label_loss = 0, d0 = 0, d1 = 0;
	int ok = 0, ok0 = 0, ok1 = 0;
	/* the domain head's input gradient shared out by rows with the label head's, where the
	 * kernels give each row its own sums (model_heads_rows_free; not nn.c's OpenBLAS) */
	int rows_free = dann && model_heads_rows_free(&t->m);
#pragma omp parallel if (dann)
	{
		int th = omp_get_thread_num(), nth = omp_get_num_threads(), split = rows_free && nth > 1;
		/* the dropout's forward first, the source rows and the target rows on two threads
		 * (each value is its own: the same bytes); the loop's end waits for both */
#pragma omp for schedule(static)
		for (int h = 0; h < 2; h++)
			model_dropout_forward(&t->m, &t->a, h ? bs : 0, h ? t->B : bs, t->drop_seed,
			                      (uint64_t)step);
#pragma omp sections
		{
#pragma omp section
			{
				model_label_forward(&t->m, &t->a, bs, 1, MODEL_TRAIN);
				label_loss = nn_softmax_ce_forward(t->a.probs, t->a.logits, t->ylab, bs,
				                                   MODEL_CLASSES, &ok);
			}
#pragma omp section
			if (dann) {
				model_domain_forward(&t->m, &t->a, t->B, t->groups, MODEL_TRAIN);
				d0 = nn_bce_forward(t->a.dz, 0, bs, &ok0);
				d1 = nn_bce_forward(t->a.dz + bs, 1, bs, &ok1);
			}
		}
		if (isfinite(label_loss) && isfinite(d0 + d1)) {
#pragma omp sections
			{
#pragma omp section
				{
					nn_softmax_ce_backward(t->ga.logits, t->a.probs, t->ylab, bs, MODEL_CLASSES,
					                       1.0f);
					model_label_backward_params(&t->m, &t->g, &t->ga, &t->a, bs, 1);
				}
#pragma omp section
				if (dann) {
					nn_bce_backward(t->ga.dz, t->a.dz, 0, bs, 1.0f);
					nn_bce_backward(t->ga.dz + bs, t->a.dz + bs, 1, bs, 1.0f);
					/* (with the gradient reversal into ga->feat, unless split) */
					if (split)
						model_domain_backward_params(&t->m, &t->g, &t->ga, &t->a, t->B,
						                             t->groups);
					else
						model_domain_backward(&t->m, &t->g, &t->ga, &t->a, t->B, t->groups,
						                      (float)lambda);
				}
			}
			if (split) {
				/* each of two threads half the source rows and half the target rows: the
				 * domain head's input gradient and reversal, then the label head's, then
				 * the dropout's backward (per row the same order as one thread's) */
				int h = bs / 2, s0 = th ? h : 0, s1 = th ? bs : h;
				if (th < 2) {
					model_domain_backward_input(&t->m, &t->ga, s0, s1, (float)lambda);
					model_domain_backward_input(&t->m, &t->ga, bs + s0, bs + s1, (float)lambda);
					model_label_backward_input(&t->m, &t->ga, s0, s1);
					model_dropout_backward(&t->m, &t->ga, &t->a, s0, s1);
					model_dropout_backward(&t->m, &t->ga, &t->a, bs + s0, bs + s1);
				}
			} else if (th == 0) {
				/* by the primary thread, then the dropout's backward of the source rows; the
				 * target rows' meanwhile by another (the others arrive at the region's end
				 * first, so nobody sleeps there to be woken, as another region would wake
				 * them again) */
				model_label_backward_input(&t->m, &t->ga, 0, bs);
				model_dropout_backward(&t->m, &t->ga, &t->a, 0, nth > 1 ? bs : t->B);
			} else if (th == 1) {
				model_dropout_backward(&t->m, &t->ga, &t->a, bs, t->B);
			}
		}
	}
	if (!isfinite(label_loss))
		return err_set(DN_ERANGE, "step %lld: the label loss is %g: the training diverged "
		               "(try a smaller --lr)", (long long)step + 1, label_loss);
	t->src_ok += ok;
	t->src_n += bs;
	t->sum_label += label_loss;
	if (!isfinite(d0 + d1))
		return err_set(DN_ERANGE, "step %lld: the domain loss is %g: the training diverged "
		               "(try a smaller --lr)", (long long)step + 1, 0.5 * (d0 + d1));
	if (dann) {
		t->sum_domain += 0.5 * (d0 + d1);
		t->dom_ok += ok0 + ok1;
		t->dom_n += 2 * bs;
	}
	/* the update in the conv backward's parallel region, once the gradients are complete */
	sgd_step u = {t->m.params, t->mom, t->grads, t->m.nparams, (float)t->o.momentum, (float)lr};
	model_blocks_backward(&t->m, &t->g, &t->ga, &t->a, t->B, t->groups, sgd_team, &u);
	t->lr = lr;
	t->lambda = dann ? lambda : 0;
	t->n_steps++;
	t->step++;
	return 0;
}

static int check_block(const trainer *t, const model_tensor *mt, int n, const float *block,
                       size_t len, const char *what)
{
	/* Fast path: a float is NaN or Inf when its exponent bits are all ones; an integer OR
	 * over the block vectorises (the search for the culprit runs only when one is there). */
	uint32_t bad = 0;
	for (size_t k = 0; k < len; k++) {
		uint32_t b;
		memcpy(&b, block + k, sizeof b);
		bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
	}
	if (!bad)
		return 0;
	for (int i = 0; i < n; i++)
		for (size_t k = 0; k < mt[i].n; k++)
			if (!isfinite(block[mt[i].off + k]))
				return err_set(DN_ERANGE, "step %lld: %s %s holds %g at index %zu: the training "
				               "diverged (try a smaller --lr)", (long long)t->step, what,
				               mt[i].name, block[mt[i].off + k], k);
	return 0;
}

int train_check_finite(const trainer *t)
{
	int rc = check_block(t, t->m.t, t->m.nt, t->m.params, t->m.nparams, "parameter");
	if (rc == 0)
		rc = check_block(t, t->m.st, t->m.ns, t->m.stats, t->m.nstats, "BatchNorm statistic");
	return rc;
}

void train_take_row(trainer *t, double row[MET_NCOL])
{
	int dann = t->o.mode == TRAIN_DANN;
	row[MET_STEP] = (double)t->step;
	row[MET_EPOCH] = (double)t->step / (double)t->steps_per_epoch;
	row[MET_LR] = t->lr;
	row[MET_LAMBDA] = dann ? t->lambda : NAN;
	row[MET_LABEL_LOSS] = t->n_steps ? t->sum_label / t->n_steps : NAN;
	row[MET_SOURCE_ACC] = t->src_n ? (double)t->src_ok / t->src_n : NAN;
	row[MET_DOMAIN_LOSS] = dann && t->n_steps ? t->sum_domain / t->n_steps : NAN;
	row[MET_DOMAIN_ACC] = dann && t->dom_n ? (double)t->dom_ok / t->dom_n : NAN;
	row[MET_TARGET_ACC] = NAN;
	t->sum_label = t->sum_domain = 0;
	t->n_steps = t->src_ok = t->src_n = t->dom_ok = t->dom_n = 0;
}

int64_t train_eval(trainer *t, const dataset *d, int domain, int64_t limit, int64_t *n)
{
	int64_t total = limit > 0 && limit < d->n ? limit : d->n, ok = 0;
	size_t sz = (size_t)d->h * d->w * d->c;
	for (int64_t i = 0; i < total; i += t->eval_B) {
		int nb = (int)(total - i < t->eval_B ? total - i : t->eval_B), D;
		const float *z = model_infer(&t->m, &t->ea, d->images + (size_t)i * sz, nb, d->c,
		                             domain, MODEL_LAYER_LOGITS, &D);
		for (int k = 0; k < nb; k++)
			ok += nn_argmax(z + (size_t)k * D, D) == d->labels[i + k];
	}
	*n = total;
	return ok;
}

/* --- checkpoints -------------------------------------------------------------------------- */

/* The training state a checkpoint ends with: int64 (TRAIN_STATE_LEN,), these fields in this
 * order (dann-model(5)); a float64 (.f) is stored as its bit pattern. */
typedef union { int64_t i; double f; } slot;
typedef struct {
	slot format;                     /* CHECKPOINT_FORMAT */
	/* what a resumed run must repeat: its options and data */
	slot bn_split, lambda_const_on;  /* lambda_const_on: 1 when lambda_const >= 0 */
	slot lambda_const;               /* .f, 0 when off */
	slot total, seed, epochs, batch, mode, n_source, n_target;
	slot lr, alpha, beta, gamma, momentum;   /* .f */
	/* where it stands */
	slot step;
	slot sum_label, sum_domain;      /* .f: the accumulators since the last metrics row */
	slot n_steps, src_ok, src_n, dom_ok, dom_n;
	slot last_lr, last_lambda;       /* .f: of the last step, for the next metrics row */
} train_state;
#define TRAIN_STATE_LEN ((int)(sizeof(train_state) / sizeof(slot)))
_Static_assert(sizeof(slot) == sizeof(int64_t), "a slot is one int64");
_Static_assert(TRAIN_STATE_LEN == 26, "the state dann-model(5) describes");
/* Format 1 (an int64 (40,) state and an int64 (2,) array after it, with slots for the tool)
 * is refused by its length. */
#define CHECKPOINT_FORMAT 2
#define OLD_STATE_LEN 40

/* The options and data of a run, as a checkpoint must hold them to be resumed by it, in the
 * order they are checked; the message names the option. */
static const struct {
	size_t off;
	const char *what;
} must_match[] = {
	{offsetof(train_state, bn_split), "--bn-stats"},
	{offsetof(train_state, lambda_const_on), "--lambda-const"},
	{offsetof(train_state, lambda_const), "--lambda-const"},
	{offsetof(train_state, total), "total steps"},
	{offsetof(train_state, seed), "seed"},
	{offsetof(train_state, epochs), "epochs"},
	{offsetof(train_state, batch), "batch"},
	{offsetof(train_state, mode), "mode"},
	{offsetof(train_state, n_source), "source size"},
	{offsetof(train_state, n_target), "target size"},
	{offsetof(train_state, lr), "lr"},
	{offsetof(train_state, alpha), "alpha"},
	{offsetof(train_state, beta), "beta"},
	{offsetof(train_state, gamma), "gamma"},
	{offsetof(train_state, momentum), "momentum"},
};

static const slot *slot_at(const train_state *s, size_t off)
{
	return (const slot *)(const void *)((const char *)s + off);
}

static train_state make_state(const trainer *t)
{
	train_state s;
	memset(&s, 0, sizeof s);
	s.format.i = CHECKPOINT_FORMAT;
	s.bn_split.i = t->o.bn_split;
	s.lambda_const_on.i = t->o.lambda_const >= 0;
	s.lambda_const.f = t->o.lambda_const >= 0 ? t->o.lambda_const : 0;
	s.total.i = t->total;
	s.seed.i = (int64_t)t->o.seed;
	s.epochs.i = t->o.epochs;
	s.batch.i = t->o.batch;
	s.mode.i = t->o.mode;
	s.n_source.i = t->src->n;
	s.n_target.i = t->tgt ? t->tgt->n : 0;
	s.lr.f = t->o.lr;
	s.alpha.f = t->o.alpha;
	s.beta.f = t->o.beta;
	s.gamma.f = t->o.gamma;
	s.momentum.f = t->o.momentum;
	s.step.i = t->step;
	s.sum_label.f = t->sum_label;
	s.sum_domain.f = t->sum_domain;
	s.n_steps.i = t->n_steps;
	s.src_ok.i = t->src_ok;
	s.src_n.i = t->src_n;
	s.dom_ok.i = t->dom_ok;
	s.dom_n.i = t->dom_n;
	s.last_lr.f = t->lr;
	s.last_lambda.f = t->lambda;
	return s;
}

int train_save_checkpoint(FILE *f, const trainer *t)
{
	int rc = model_write(f, &t->m, MODEL_KIND_CHECKPOINT, t->step, t->total);
	if (rc < 0)
		return rc;
	if ((rc = model_write_block(f, &t->m, t->mom)) < 0)
		return rc;
	train_state s = make_state(t);
	int64_t shape[1] = {TRAIN_STATE_LEN};
	return npy_write_array(f, NPY_I64, 1, shape, &s);
}

int train_load_checkpoint(FILE *f, const char *name, trainer *t)
{
	model m;
	int kind, rc = model_read(f, name, &m, &kind);
	if (rc < 0)
		return rc;
	if (kind != MODEL_KIND_CHECKPOINT) {
		model_free(&m);
		return err_set(DN_EFORMAT, "%s: a model, not a training checkpoint", name);
	}
	if (m.domains != t->m.domains) {
		model_free(&m);
		return err_set(DN_EARG, "%s: checkpoint has %d set(s) of BatchNorm statistics, this run "
		               "keeps %d: made with another --bn-stats or an older dann-train", name,
		               m.domains, t->m.domains);
	}
	if (m.arch != t->m.arch || m.H != t->m.H || m.W != t->m.W) {
		model_free(&m);
		return err_set(DN_EFORMAT, "%s: checkpoint is for arch %d %dx%d, not arch %d %dx%d", name,
		               m.arch, m.H, m.W, t->m.arch, t->m.H, t->m.W);
	}
	memcpy(t->m.params, m.params, m.nparams * sizeof(float));
	memcpy(t->m.stats, m.stats, m.nstats * sizeof(float));
	model_free(&m);
	if ((rc = model_read_block(f, name, &t->m, t->mom)) < 0)
		return rc;
	npy_header h;
	train_state s;
	if (npy_read_header(f, name, &h) < 0 || h.dtype != NPY_I64 || h.ndim != 1)
		return err_set(DN_EFORMAT, "%s: truncated checkpoint: expected the int64 (%d,) training "
		               "state after the momentum buffers", name, TRAIN_STATE_LEN);
	if (h.shape[0] == OLD_STATE_LEN)
		return err_set(DN_EFORMAT, "%s: a checkpoint of an older dann-train (format 1), which this "
		               "one cannot resume: train again", name);
	if (h.shape[0] != TRAIN_STATE_LEN || npy_read_data(f, name, &h, &s, TRAIN_STATE_LEN) < 0)
		return err_set(DN_EFORMAT, "%s: truncated checkpoint: expected the int64 (%d,) training "
		               "state after the momentum buffers", name, TRAIN_STATE_LEN);
	if (s.format.i != CHECKPOINT_FORMAT)
		return err_set(DN_EFORMAT, "%s: checkpoint format %lld, expected %d", name,
		               (long long)s.format.i, CHECKPOINT_FORMAT);
	train_state want = make_state(t);
	for (size_t i = 0; i < sizeof must_match / sizeof must_match[0]; i++)
		if (slot_at(&s, must_match[i].off)->i != slot_at(&want, must_match[i].off)->i)
			return err_set(DN_EARG, "%s: checkpoint was made with another %s; resume with the "
			               "options and data of the interrupted run", name, must_match[i].what);
	if (s.step.i < 0 || s.step.i > s.total.i)
		return err_set(DN_EFORMAT, "%s: corrupt checkpoint (step %lld of %lld)", name,
		               (long long)s.step.i, (long long)s.total.i);
	t->step = s.step.i;
	t->sum_label = s.sum_label.f;
	t->sum_domain = s.sum_domain.f;
	t->n_steps = s.n_steps.i;
	t->src_ok = s.src_ok.i;
	t->src_n = s.src_n.i;
	t->dom_ok = s.dom_ok.i;
	t->dom_n = s.dom_n.i;
	t->lr = s.last_lr.f;
	t->lambda = s.last_lambda.f;
	return 0;
}
