/* train.c - the DANN training loop; see train.h. */
#include "net/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/nn.h"
#include "base/rng.h"

#define STATE_LEN 40

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
	t->ubuf = malloc((size_t)t->eval_B * src->h * src->w * 3 + (size_t)t->B * src->h * src->w * 3);
	t->ylab = malloc((size_t)bs);
	t->sperm = malloc(sizeof(int64_t) * (size_t)src->n);
	t->tperm = t->tgt ? malloc(sizeof(int64_t) * (size_t)t->tgt->n) : NULL;
	if (!t->grads || !t->mom || !t->ubuf || !t->ylab || !t->sperm || (t->tgt && !t->tperm)) {
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
	free(t->ubuf);
	free(t->ylab);
	free(t->sperm);
	free(t->tperm);
	t->grads = t->mom = NULL;
	t->ubuf = t->ylab = NULL;
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

/* Gather images idx[0..n) of d into ubuf and convert them to rows of x. */
static void load_batch(float *x, uint8_t *ubuf, const dataset *d, const int64_t *idx, int n)
{
	size_t sz = (size_t)d->h * d->w * d->c;
	for (int i = 0; i < n; i++)
		memcpy(ubuf + i * sz, d->images + (size_t)idx[i] * sz, sz);
	nn_input_from_u8(x, ubuf, n, d->h, d->w, d->c);
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
	const int64_t *sidx = t->sperm + b * bs;
	for (int i = 0; i < bs; i++)
		t->ylab[i] = t->src->labels[sidx[i]];
	load_batch(t->a.x, t->ubuf, t->src, sidx, bs);
	if (dann) {
		int64_t pass = step / t->tgt_steps, tb = step % t->tgt_steps;
		if (pass != t->tperm_pass) {
			permutation(t->tperm, t->tgt->n, t->o.seed, 0x6000000 + (uint64_t)pass);
			t->tperm_pass = pass;
		}
		load_batch(t->a.x + (size_t)bs * t->m.H * t->m.W * 3, t->ubuf, t->tgt, t->tperm + tb * bs,
		           bs);
	}
	memset(t->grads, 0, t->m.nparams * sizeof(float));
	/* ~29 MB for a batch of 64+64: zeroed by all threads (perf) */
#pragma omp parallel for schedule(static)
	for (int c = 0; c < 64; c++) {
		size_t lo = t->ga.nzero * (size_t)c / 64, hi = t->ga.nzero * (size_t)(c + 1) / 64;
		memset(t->ga.block + lo, 0, (hi - lo) * sizeof(float));
	}
	/* forward */
	model_features_forward(&t->m, &t->a, t->B, t->groups, 1, t->drop_seed, (uint64_t)step);
	model_label_forward(&t->m, &t->a, bs, 1, 1);
	int ok = 0;
	double label_loss = nn_softmax_ce_forward(t->a.probs, t->a.logits, t->ylab, bs, MODEL_CLASSES,
	                                          &ok);
	if (!isfinite(label_loss))
		return err_set(DN_ERANGE, "step %lld: the label loss is %g: the training diverged "
		               "(try a smaller --lr)", (long long)step + 1, label_loss);
	t->src_ok += ok;
	t->src_n += bs;
	t->sum_label += label_loss;
	/* backward, domain head first (its gradient reaches the features through the GRL) */
	if (dann) {
		model_domain_forward(&t->m, &t->a, t->B, t->groups, 1);
		int ok0 = 0, ok1 = 0;
		double d0 = nn_bce_forward(t->a.dz, 0, bs, &ok0);
		double d1 = nn_bce_forward(t->a.dz + bs, 1, bs, &ok1);
		if (!isfinite(d0 + d1))
			return err_set(DN_ERANGE, "step %lld: the domain loss is %g: the training diverged "
			               "(try a smaller --lr)", (long long)step + 1, 0.5 * (d0 + d1));
		t->sum_domain += 0.5 * (d0 + d1);
		t->dom_ok += ok0 + ok1;
		t->dom_n += 2 * bs;
		nn_bce_backward(t->ga.dz, t->a.dz, 0, bs, 1.0f);
		nn_bce_backward(t->ga.dz + bs, t->a.dz + bs, 1, bs, 1.0f);
		model_domain_backward(&t->m, &t->g, &t->ga, &t->a, t->B, t->groups, (float)lambda);
	}
	nn_softmax_ce_backward(t->ga.logits, t->a.probs, t->ylab, bs, MODEL_CLASSES, 1.0f);
	model_label_backward(&t->m, &t->g, &t->ga, &t->a, bs, 1);
	model_features_backward(&t->m, &t->g, &t->ga, &t->a, t->B, t->groups);
	/* SGD with momentum (PyTorch's form) */
	float mu = (float)t->o.momentum, flr = (float)lr;
	float *w = t->m.params, *v = t->mom, *g = t->grads;
	size_t n = t->m.nparams;
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		v[i] = mu * v[i] + g[i];
		w[i] -= flr * v[i];
	}
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

void train_take_row(trainer *t, train_row *r)
{
	int dann = t->o.mode == TRAIN_DANN;
	r->step = t->step;
	r->epoch = (double)t->step / (double)t->steps_per_epoch;
	r->lr = t->lr;
	r->lambda = dann ? t->lambda : NAN;
	r->label_loss = t->n_steps ? t->sum_label / t->n_steps : NAN;
	r->source_acc = t->src_n ? (double)t->src_ok / t->src_n : NAN;
	r->domain_loss = dann && t->n_steps ? t->sum_domain / t->n_steps : NAN;
	r->domain_acc = dann && t->dom_n ? (double)t->dom_ok / t->dom_n : NAN;
	r->target_acc = NAN;
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

static int64_t dbits(double x)
{
	int64_t v;
	memcpy(&v, &x, sizeof v);
	return v;
}

static double bitsd(int64_t v)
{
	double x;
	memcpy(&x, &v, sizeof x);
	return x;
}

/* The state array: what must match on resume, then the running state.
 *  0 step  1 total  2 seed  3 epochs  4 batch  5 mode  6 arch  7 n_source  8 n_target
 *  9..13 lr alpha beta gamma momentum (float64 bit patterns)  14 sum_label  15 sum_domain
 *  (float64 bits)  16 n_steps  17 src_ok  18 src_n  19 dom_ok  20 dom_n  21 H  22 W
 *  23..30 user[0..7]  31 bn_split  32 1 if lambda_const is used  33 lambda_const (float64 bits,
 *  0 when unused: a checkpoint from before the option reads as the schedule)  34..39 zero */
static void make_state(const trainer *t, int64_t *s)
{
	memset(s, 0, sizeof(int64_t) * STATE_LEN);
	s[0] = t->step;
	s[1] = t->total;
	s[2] = (int64_t)t->o.seed;
	s[3] = t->o.epochs;
	s[4] = t->o.batch;
	s[5] = t->o.mode;
	s[6] = t->o.arch;
	s[7] = t->src->n;
	s[8] = t->tgt ? t->tgt->n : 0;
	s[9] = dbits(t->o.lr);
	s[10] = dbits(t->o.alpha);
	s[11] = dbits(t->o.beta);
	s[12] = dbits(t->o.gamma);
	s[13] = dbits(t->o.momentum);
	s[14] = dbits(t->sum_label);
	s[15] = dbits(t->sum_domain);
	s[16] = t->n_steps;
	s[17] = t->src_ok;
	s[18] = t->src_n;
	s[19] = t->dom_ok;
	s[20] = t->dom_n;
	s[21] = t->m.H;
	s[22] = t->m.W;
	s[31] = t->o.bn_split;
	s[32] = t->o.lambda_const >= 0;
	s[33] = t->o.lambda_const >= 0 ? dbits(t->o.lambda_const) : 0;
	for (int i = 0; i < TRAIN_USER; i++)
		s[23 + i] = t->user[i];
}

int train_save_checkpoint(FILE *f, const trainer *t)
{
	int rc = model_write(f, &t->m, MODEL_KIND_CHECKPOINT, t->step, t->total);
	if (rc < 0)
		return rc;
	if ((rc = model_write_block(f, &t->m, t->mom)) < 0)
		return rc;
	int64_t s[STATE_LEN], shape[1] = {STATE_LEN};
	make_state(t, s);
	rc = npy_write_array(f, NPY_I64, 1, shape, s);
	if (rc < 0)
		return rc;
	/* lambda/lr of the last step for the next metrics row */
	double last[2] = {t->lr, t->lambda};
	int64_t lb[2] = {dbits(last[0]), dbits(last[1])}, sh2[1] = {2};
	return npy_write_array(f, NPY_I64, 1, sh2, lb);
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
	int64_t s[STATE_LEN], want[STATE_LEN], lb[2];
	if (npy_read_header(f, name, &h) < 0 || h.dtype != NPY_I64 || h.ndim != 1 ||
	    h.shape[0] != STATE_LEN || npy_read_data(f, name, &h, s, STATE_LEN) < 0 ||
	    npy_read_header(f, name, &h) < 0 || h.dtype != NPY_I64 || h.ndim != 1 ||
	    h.shape[0] != 2 || npy_read_data(f, name, &h, lb, 2) < 0)
		return err_set(DN_EFORMAT, "%s: truncated checkpoint: expected the int64 (%d,) training "
		               "state after the momentum buffers", name, STATE_LEN);
	make_state(t, want);
	static const char *what[] = {"", "total steps", "seed", "epochs", "batch", "mode", "arch",
	                             "source size", "target size", "lr", "alpha", "beta", "gamma",
	                             "momentum"};
	if (s[31] != want[31])
		return err_set(DN_EARG, "%s: checkpoint was made with another --bn-stats", name);
	if (s[32] != want[32] || s[33] != want[33])
		return err_set(DN_EARG, "%s: checkpoint was made with another --lambda-const", name);
	for (int i = 1; i <= 13; i++)
		if (s[i] != want[i])
			return err_set(DN_EARG, "%s: checkpoint was made with another %s; resume with the "
			               "options and data of the interrupted run", name, what[i]);
	if (s[0] < 0 || s[0] > s[1])
		return err_set(DN_EFORMAT, "%s: corrupt checkpoint (step %lld of %lld)", name,
		               (long long)s[0], (long long)s[1]);
	for (int i = 0; i < TRAIN_USER; i++)
		if (s[23 + i] != t->user[i])
			return err_set(DN_EARG, "%s: checkpoint was made with other logging/snapshot options",
			               name);
	t->step = s[0];
	t->sum_label = bitsd(s[14]);
	t->sum_domain = bitsd(s[15]);
	t->n_steps = s[16];
	t->src_ok = s[17];
	t->src_n = s[18];
	t->dom_ok = s[19];
	t->dom_n = s[20];
	t->lr = bitsd(lb[0]);
	t->lambda = bitsd(lb[1]);
	return 0;
}
