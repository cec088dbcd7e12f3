/* model.c - the DANN digits network: geometry, parameter table, forward/backward, file I/O. */
#include "net/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/kern.h"
#include "net/nn.h"
#include "stream/npy.h"
#include "base/rng.h"

static void add_tensor(model_tensor *t, int *nt, size_t *total, const char *name, int ndim,
                       int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
	model_tensor *x = &t[(*nt)++];
	x->name = name;
	x->ndim = ndim;
	int64_t d[4] = {d0, d1, d2, d3};
	x->n = 1;
	for (int i = 0; i < 4; i++) {
		x->shape[i] = i < ndim ? d[i] : 0;
		if (i < ndim)
			x->n *= (size_t)d[i];
	}
	x->off = *total;
	*total += x->n;
}

/* The parameter order of the file; model_views() must follow it. */
static void build_table(model *m)
{
	int F = m->F, H = MODEL_HIDDEN, bn = m->bn;
	m->nt = 0;
	m->nparams = 0;
#define P(name, nd, a, b, c, d) add_tensor(m->t, &m->nt, &m->nparams, name, nd, a, b, c, d)
	P("conv1.weight", 4, MODEL_C1, MODEL_KS, MODEL_KS, 3);
	P("conv1.bias", 1, MODEL_C1, 0, 0, 0);
	if (bn) { P("bn1.weight", 1, MODEL_C1, 0, 0, 0); P("bn1.bias", 1, MODEL_C1, 0, 0, 0); }
	P("conv2.weight", 4, MODEL_C2, MODEL_KS, MODEL_KS, MODEL_C1);
	P("conv2.bias", 1, MODEL_C2, 0, 0, 0);
	if (bn) { P("bn2.weight", 1, MODEL_C2, 0, 0, 0); P("bn2.bias", 1, MODEL_C2, 0, 0, 0); }
	P("label.fc1.weight", 2, H, F, 0, 0);
	P("label.fc1.bias", 1, H, 0, 0, 0);
	if (bn) { P("label.bn1.weight", 1, H, 0, 0, 0); P("label.bn1.bias", 1, H, 0, 0, 0); }
	P("label.fc2.weight", 2, H, H, 0, 0);
	P("label.fc2.bias", 1, H, 0, 0, 0);
	if (bn) { P("label.bn2.weight", 1, H, 0, 0, 0); P("label.bn2.bias", 1, H, 0, 0, 0); }
	P("label.fc3.weight", 2, MODEL_CLASSES, H, 0, 0);
	P("label.fc3.bias", 1, MODEL_CLASSES, 0, 0, 0);
	P("domain.fc1.weight", 2, H, F, 0, 0);
	P("domain.fc1.bias", 1, H, 0, 0, 0);
	if (bn) { P("domain.bn1.weight", 1, H, 0, 0, 0); P("domain.bn1.bias", 1, H, 0, 0, 0); }
	P("domain.fc2.weight", 2, 1, H, 0, 0);
	P("domain.fc2.bias", 1, 1, 0, 0, 0);
#undef P
	m->ns = 0;
	m->nstats = 0;
	if (bn) {
#define S(name, c) add_tensor(m->st, &m->ns, &m->nstats, name, 1, c, 0, 0, 0)
		S("bn1.running_mean", MODEL_C1); S("bn1.running_var", MODEL_C1);
		S("bn2.running_mean", MODEL_C2); S("bn2.running_var", MODEL_C2);
		S("label.bn1.running_mean", H); S("label.bn1.running_var", H);
		S("label.bn2.running_mean", H); S("label.bn2.running_var", H);
		S("domain.bn1.running_mean", H); S("domain.bn1.running_var", H);
		if (m->domains == 2) {
			S("bn1.target_running_mean", MODEL_C1); S("bn1.target_running_var", MODEL_C1);
			S("bn2.target_running_mean", MODEL_C2); S("bn2.target_running_var", MODEL_C2);
			S("domain.bn1.target_running_mean", H); S("domain.bn1.target_running_var", H);
		}
#undef S
	}
}

void model_views(const model *m, model_params *v, float *block)
{
	float **order_bn[] = {&v->c1w, &v->c1b, &v->bn1g, &v->bn1b, &v->c2w, &v->c2b, &v->bn2g,
	                      &v->bn2b, &v->l1w, &v->l1b, &v->lbn1g, &v->lbn1b, &v->l2w, &v->l2b,
	                      &v->lbn2g, &v->lbn2b, &v->l3w, &v->l3b, &v->d1w, &v->d1b, &v->dbn1g,
	                      &v->dbn1b, &v->d2w, &v->d2b};
	float **order_plain[] = {&v->c1w, &v->c1b, &v->c2w, &v->c2b, &v->l1w, &v->l1b, &v->l2w,
	                         &v->l2b, &v->l3w, &v->l3b, &v->d1w, &v->d1b, &v->d2w, &v->d2b};
	memset(v, 0, sizeof *v);
	float ***order = m->bn ? order_bn : order_plain;
	for (int i = 0; i < m->nt; i++)
		*order[i] = block + m->t[i].off;
}

static void stats_views(model *m)
{
	model_stats *s = &m->s[0], *t = &m->s[1];
	memset(m->s, 0, sizeof m->s);
	if (!m->bn)
		return;
	float **order[] = {&s->bn1m, &s->bn1v, &s->bn2m, &s->bn2v, &s->lbn1m, &s->lbn1v,
	                   &s->lbn2m, &s->lbn2v, &s->dbn1m, &s->dbn1v,
	                   &t->bn1m, &t->bn1v, &t->bn2m, &t->bn2v, &t->dbn1m, &t->dbn1v};
	for (int i = 0; i < m->ns; i++)
		*order[i] = m->stats + m->st[i].off;
	if (m->domains == 1) {
		*t = *s;
		return;
	}
	t->lbn1m = s->lbn1m;   /* the label head only sees source rows: one set */
	t->lbn1v = s->lbn1v;
	t->lbn2m = s->lbn2m;
	t->lbn2v = s->lbn2v;
}

int model_init(model *m, int arch, int H, int W, int domains)
{
	memset(m, 0, sizeof *m);
	if (arch != MODEL_ARCH_SEED && arch != MODEL_ARCH_PAPER)
		return err_set(DN_EARG, "unknown architecture id %d", arch);
	m->arch = arch;
	m->bn = arch == MODEL_ARCH_SEED;
	if (domains != 1 && domains != 2)
		return err_set(DN_EARG, "%d sets of BatchNorm statistics (1 or 2)", domains);
	m->domains = m->bn ? domains : 1;
	m->H = H;
	m->W = W;
	m->c1h = H - MODEL_KS + 1;
	m->c1w = W - MODEL_KS + 1;
	m->p1h = m->c1h / 2;
	m->p1w = m->c1w / 2;
	m->c2h = m->p1h - MODEL_KS + 1;
	m->c2w = m->p1w - MODEL_KS + 1;
	m->p2h = m->c2h / 2;
	m->p2w = m->c2w / 2;
	if (H < 16 || W < 16 || H > 1024 || W > 1024 || m->c1h % 2 || m->c1w % 2 || m->c2h % 2 ||
	    m->c2w % 2)
		return err_set(DN_EARG, "image size %dx%d not supported (28x28 and 32x32 are)", H, W);
	m->F = MODEL_C2 * m->p2h * m->p2w;
	build_table(m);
	m->params = calloc(m->nparams, sizeof(float));
	m->stats = calloc(m->nstats ? m->nstats : 1, sizeof(float));
	if (!m->params || !m->stats) {
		model_free(m);
		return err_set(DN_ENOMEM, "out of memory for the model");
	}
	model_views(m, &m->p, m->params);
	stats_views(m);
	return 0;
}

void model_free(model *m)
{
	free(m->params);
	free(m->stats);
	m->params = m->stats = NULL;
}

void model_init_params(model *m, uint64_t seed)
{
	for (int i = 0; i < m->nt; i++) {
		model_tensor *t = &m->t[i];
		float *v = m->params + t->off;
		const char *dot = strrchr(t->name, '.');
		int is_bn = strstr(t->name, "bn") != NULL;
		if (is_bn) {
			float val = strcmp(dot, ".weight") == 0 ? 1.0f : 0.0f;
			for (size_t k = 0; k < t->n; k++)
				v[k] = val;
			continue;
		}
		/* fan_in: product of all but the first dim of the weight; a bias uses its weight's. */
		int64_t fan_in;
		if (strcmp(dot, ".weight") == 0) {
			fan_in = 1;
			for (int d = 1; d < t->ndim; d++)
				fan_in *= t->shape[d];
		} else {
			const model_tensor *w = &m->t[i - 1];
			fan_in = 1;
			for (int d = 1; d < w->ndim; d++)
				fan_in *= w->shape[d];
		}
		double bound = 1.0 / sqrt((double)fan_in);
		rng_t r;
		rng_seed(&r, seed, 1000 + (uint64_t)i);
		for (size_t k = 0; k < t->n; k++)
			v[k] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
	}
	for (int i = 0; i < m->ns; i++) {
		float val = strstr(m->st[i].name, "var") ? 1.0f : 0.0f;
		for (size_t k = 0; k < m->st[i].n; k++)
			m->stats[m->st[i].off + k] = val;
	}
	m->step = m->total_steps = 0;
}

/* --- activations --------------------------------------------------------------------------- */

/* the two conv -> [BN] -> pool -> ReLU blocks of the feature extractor (kern.h) */
static void blocks(const model *m, kern_block L[2])
{
	L[0] = (kern_block){m->H, m->W, 3, MODEL_C1, MODEL_KS, m->bn, 0};
	L[1] = (kern_block){m->p1h, m->p1w, MODEL_C1, MODEL_C2, MODEL_KS, m->bn, 1};
}

/* block i's saved state (or, in a gradient set, its scratch) in a */
static kern_saved saved(const model_acts *a, int i)
{
	if (i == 0)
		return (kern_saved){a->c1, a->n1, a->p1, a->cols1, a->arg1, a->bnm1, a->bnr1};
	return (kern_saved){a->c2, a->n2, a->p2, a->cols2, a->arg2, a->bnm2, a->bnr2};
}

int model_acts_alloc(model_acts *a, const model *m, int B)
{
	memset(a, 0, sizeof *a);
	a->B = B;
	size_t s1 = (size_t)B * m->c1h * m->c1w * MODEL_C1, q1 = (size_t)B * m->p1h * m->p1w * MODEL_C1;
	size_t s2 = (size_t)B * m->c2h * m->c2w * MODEL_C2, q2 = (size_t)B * m->p2h * m->p2w * MODEL_C2;
	size_t x = (size_t)B * m->H * m->W * 3, h = (size_t)B * MODEL_HIDDEN;
	size_t k1 = (size_t)B * m->c1h * m->c1w * MODEL_KS * MODEL_KS * 3;
	size_t k2 = (size_t)B * m->c2h * m->c2w * MODEL_KS * MODEL_KS * MODEL_C1;
	size_t F = (size_t)B * m->F;
	/* zeroed part first: everything a backward pass adds into.  Not the input and the blocks'
	 * conv/norm/pool maps (~26 MB at 64+64): in a gradient set they are kern_block_backward's
	 * scratch, which it clears itself where it adds into it (kern.h). */
	size_t nz = q1 + q2 + F + 6 * h + 2 * (size_t)B * MODEL_CLASSES + F + 3 * h + B;
	size_t small = 2 * (2 * MODEL_C1 + 2 * MODEL_C2) + 6 * 2 * MODEL_HIDDEN + (size_t)B * MODEL_C2;
	size_t total = nz + x + 2 * s1 + q1 + 2 * s2 + q2 + small + k1 + k2;
	a->block = malloc(total * sizeof(float) + 2 * (q1 + q2));
	if (!a->block)
		return err_set(DN_ENOMEM, "out of memory for activations (batch %d)", B);
	a->nzero = nz;
	float *p = a->block;
#define TAKE(ptr, n) do { (ptr) = p; p += (n); } while (0)
	TAKE(a->r1, q1); TAKE(a->r2, q2);
	TAKE(a->feat, F);
	TAKE(a->l1, h); TAKE(a->ln1, h); TAKE(a->lr1, h); TAKE(a->l2, h); TAKE(a->ln2, h);
	TAKE(a->lr2, h);
	TAKE(a->logits, (size_t)B * MODEL_CLASSES); TAKE(a->probs, (size_t)B * MODEL_CLASSES);
	TAKE(a->dfeat, F);
	TAKE(a->d1, h); TAKE(a->dn1, h); TAKE(a->dr1, h); TAKE(a->dz, B);
	/* end of the zeroed part */
	TAKE(a->x, x);
	TAKE(a->c1, s1); TAKE(a->n1, s1); TAKE(a->p1, q1);
	TAKE(a->c2, s2); TAKE(a->n2, s2); TAKE(a->p2, q2);
	TAKE(a->bnm1, 2 * MODEL_C1); TAKE(a->bnr1, 2 * MODEL_C1);
	TAKE(a->bnm2, 2 * MODEL_C2); TAKE(a->bnr2, 2 * MODEL_C2);
	TAKE(a->lbm1, 2 * MODEL_HIDDEN); TAKE(a->lbr1, 2 * MODEL_HIDDEN);
	TAKE(a->lbm2, 2 * MODEL_HIDDEN); TAKE(a->lbr2, 2 * MODEL_HIDDEN);
	TAKE(a->dbm1, 2 * MODEL_HIDDEN); TAKE(a->dbr1, 2 * MODEL_HIDDEN);
	TAKE(a->mask, (size_t)B * MODEL_C2);
	TAKE(a->cols1, k1); TAKE(a->cols2, k2);
#undef TAKE
	a->arg1 = (uint8_t *)p;
	a->arg2 = a->arg1 + q1;
	kern_block L[2];
	blocks(m, L);
	size_t w1 = kern_ws_floats(&L[0]), w2 = kern_ws_floats(&L[1]);
	a->ws1 = aligned_alloc(64, ((w1 + w2) * sizeof(float) + 63) & ~(size_t)63);
	if (!a->ws1) {
		model_acts_free(a);
		return err_set(DN_ENOMEM, "out of memory for activations (batch %d)", B);
	}
	a->ws2 = a->ws1 + w1;
	return 0;
}

void model_acts_free(model_acts *a)
{
	free(a->block);
	free(a->ws1);
	a->block = NULL;
	a->ws1 = a->ws2 = NULL;
}

/* --- forward ------------------------------------------------------------------------------------ */

/* The running statistics each row group uses (groups <= 2): in training, the two domain sets
 * for the two halves of a per-domain model, else the one set for every group; in evaluation,
 * the set of m->eval_domain. */
static void run_sets(const model *m, int groups, int train, const model_stats *set[2])
{
	int d = m->eval_domain == 1 ? 1 : 0;
	set[0] = set[1] = train ? &m->s[0] : &m->s[d];
	if (train && groups == 2 && m->domains == 2)
		set[1] = &m->s[1];
}

/* The per-group pointer arrays nn_batchnorm_forward and kern_bn_pool_relu_forward take. */
#define RUN(f) ((float *const[2]){set[0]->f, set[1]->f})

void model_features_forward(model *m, model_acts *a, int B, int groups, int train,
                            uint64_t drop_seed, uint64_t step)
{
	model_params *p = &m->p;
	const model_stats *set[2], *s;
	run_sets(m, groups, train, set);
	s = set[0];
	kern_block L[2];
	kern_saved sv[2] = {saved(a, 0), saved(a, 1)};
	blocks(m, L);
	if (!train) {
		const float *l1[6] = {p->c1w, p->c1b, p->bn1g, p->bn1b, s->bn1m, s->bn1v};
		const float *l2[6] = {p->c2w, p->c2b, p->bn2g, p->bn2b, s->bn2m, s->bn2v};
		kern_features_eval(L, a->feat, a->r1, sv, a->x, l1, l2, B, a->ws1, a->ws2);
		return;
	}
	const float mom = 0.1f;
	kern_block_forward(&L[0], a->r1, &sv[0], a->x, p->c1w, p->c1b, p->bn1g, p->bn1b, RUN(bn1m),
	                   RUN(bn1v), B, groups, 1, mom, a->ws1);
	/* Dropout2d after the second block (with BatchNorm only) */
	kern_block_forward(&L[1], m->bn ? a->r2 : a->feat, &sv[1], a->r1, p->c2w, p->c2b, p->bn2g,
	                   p->bn2b, RUN(bn2m), RUN(bn2v), B, groups, 1, mom, a->ws2);
	if (m->bn) {
		nn_dropout2d_mask(a->mask, B, MODEL_C2, 0.5f, drop_seed, step);
		nn_dropout2d_forward(a->feat, a->r2, a->mask, B, m->p2h * m->p2w, MODEL_C2);
	}
}

/* fc -> [BN] -> ReLU, into (lin, bnout, reluout) */
static void fc_bn_relu_forward(float *lin, float *bnout, float *out, float *bm, float *br,
                               const float *in, const float *w, const float *b, const float *g,
                               const float *beta, float *const *rm, float *const *rv, int B,
                               int I, int bn, int groups, int train)
{
	nn_linear_forward(lin, in, w, b, B, I, MODEL_HIDDEN);
	const float *pre = lin;
	if (bn) {
		nn_batchnorm_forward(bnout, bm, br, lin, g, beta, rm, rv, B, MODEL_HIDDEN, groups, train,
		                     0.1f);
		pre = bnout;
	}
	nn_relu_forward(out, pre, (size_t)B * MODEL_HIDDEN);
}

static void fc_bn_relu_backward(float *din, float *dw, float *db, float *dg, float *dbeta,
                                float *dlin, float *dbnout, const float *dout, const float *out,
                                const float *lin, const float *bm, const float *br,
                                const float *in, const float *w, const float *g, int B, int I,
                                int bn, int groups)
{
	size_t n = (size_t)B * MODEL_HIDDEN;
	if (bn) {
		nn_relu_backward(dbnout, dout, out, n);
		nn_batchnorm_backward(dlin, dg, dbeta, dbnout, lin, bm, br, g, B, MODEL_HIDDEN, groups);
	} else {
		nn_relu_backward(dlin, dout, out, n);
	}
	nn_linear_backward(din, dw, db, dlin, in, w, B, I, MODEL_HIDDEN);
}

void model_label_forward(model *m, model_acts *a, int B, int groups, int train)
{
	model_params *p = &m->p;
	const model_stats *set[2];
	run_sets(m, groups, train, set);
	fc_bn_relu_forward(a->l1, a->ln1, a->lr1, a->lbm1, a->lbr1, a->feat, p->l1w, p->l1b, p->lbn1g,
	                   p->lbn1b, RUN(lbn1m), RUN(lbn1v), B, m->F, m->bn, groups, train);
	fc_bn_relu_forward(a->l2, a->ln2, a->lr2, a->lbm2, a->lbr2, a->lr1, p->l2w, p->l2b, p->lbn2g,
	                   p->lbn2b, RUN(lbn2m), RUN(lbn2v), B, MODEL_HIDDEN, m->bn, groups, train);
	nn_linear_forward(a->logits, a->lr2, p->l3w, p->l3b, B, MODEL_HIDDEN, MODEL_CLASSES);
}

void model_domain_forward(model *m, model_acts *a, int B, int groups, int train)
{
	model_params *p = &m->p;
	const model_stats *set[2];
	run_sets(m, groups, train, set);
	/* the GRL is the identity forward: the domain head reads a->feat directly */
	fc_bn_relu_forward(a->d1, a->dn1, a->dr1, a->dbm1, a->dbr1, a->feat, p->d1w, p->d1b, p->dbn1g,
	                   p->dbn1b, RUN(dbn1m), RUN(dbn1v), B, m->F, m->bn, groups, train);
	nn_linear_forward(a->dz, a->dr1, p->d2w, p->d2b, B, MODEL_HIDDEN, 1);
}

/* --- backward ------------------------------------------------------------------------------------ */

void model_label_backward(const model *m, model_params *g, model_acts *ga, const model_acts *a,
                          int B, int groups)
{
	const model_params *p = &m->p;
	nn_linear_backward(ga->lr2, g->l3w, g->l3b, ga->logits, a->lr2, p->l3w, B, MODEL_HIDDEN,
	                   MODEL_CLASSES);
	fc_bn_relu_backward(ga->lr1, g->l2w, g->l2b, g->lbn2g, g->lbn2b, ga->l2, ga->ln2, ga->lr2,
	                    a->lr2, a->l2, a->lbm2, a->lbr2, a->lr1, p->l2w, p->lbn2g, B, MODEL_HIDDEN,
	                    m->bn, groups);
	fc_bn_relu_backward(ga->feat, g->l1w, g->l1b, g->lbn1g, g->lbn1b, ga->l1, ga->ln1, ga->lr1,
	                    a->lr1, a->l1, a->lbm1, a->lbr1, a->feat, p->l1w, p->lbn1g, B, m->F,
	                    m->bn, groups);
}

void model_domain_backward(const model *m, model_params *g, model_acts *ga, const model_acts *a,
                           int B, int groups, float lambda)
{
	const model_params *p = &m->p;
	nn_linear_backward(ga->dr1, g->d2w, g->d2b, ga->dz, a->dr1, p->d2w, B, MODEL_HIDDEN, 1);
	fc_bn_relu_backward(ga->dfeat, g->d1w, g->d1b, g->dbn1g, g->dbn1b, ga->d1, ga->dn1, ga->dr1,
	                    a->dr1, a->d1, a->dbm1, a->dbr1, a->feat, p->d1w, p->dbn1g, B, m->F,
	                    m->bn, groups);
	/* gradient reversal (Ganin et al. 2016, eq. 13) */
	nn_grl_backward(ga->feat, ga->dfeat, lambda, (size_t)B * m->F);
}

void model_features_backward(const model *m, model_params *g, model_acts *ga,
                             const model_acts *a, int B, int groups)
{
	const model_params *p = &m->p;
	kern_block L[2];
	blocks(m, L);
	kern_saved sv[2] = {saved(a, 0), saved(a, 1)}, gs[2] = {saved(ga, 0), saved(ga, 1)};
	/* Dropout2d (with BatchNorm only) -> block 2 -> block 1 */
	const float *dr2 = ga->feat, *r2 = a->feat;
	if (m->bn) {
		nn_dropout2d_backward(ga->r2, ga->feat, a->mask, B, m->p2h * m->p2w, MODEL_C2);
		dr2 = ga->r2;
		r2 = a->r2;
	}
	kern_block_backward(&L[1], ga->r1, g->c2w, g->c2b, g->bn2g, g->bn2b, &gs[1], dr2, r2, &sv[1],
	                    a->r1, p->c2w, p->bn2g, B, groups, ga->ws2);
	kern_block_backward(&L[0], NULL, g->c1w, g->c1b, g->bn1g, g->bn1b, &gs[0], ga->r1, a->r1,
	                    &sv[0], a->x, p->c1w, p->bn1g, B, groups, ga->ws1);
}

/* --- inference ------------------------------------------------------------------------------- */

int model_layer_dim(const model *m, int layer)
{
	switch (layer) {
	case MODEL_LAYER_FEATURES: return m->F;
	case MODEL_LAYER_LABEL_HIDDEN: return MODEL_HIDDEN;
	case MODEL_LAYER_LOGITS: return MODEL_CLASSES;
	case MODEL_LAYER_DOMAIN_HIDDEN: return MODEL_HIDDEN;
	}
	return -1;
}

int model_layer_parse(const char *s)
{
	static const char *names[] = {"features", "label-hidden", "logits", "domain-hidden"};
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

const float *model_infer(model *m, model_acts *a, const uint8_t *img, int B, int C, int domain,
                         int layer, int *D)
{
	m->eval_domain = domain;
	nn_input_from_u8(a->x, img, B, m->H, m->W, C);
	model_features_forward(m, a, B, 1, 0, 0, 0);
	*D = model_layer_dim(m, layer);
	switch (layer) {
	case MODEL_LAYER_FEATURES:
		return a->feat;
	case MODEL_LAYER_DOMAIN_HIDDEN:
		model_domain_forward(m, a, B, 1, 0);
		return a->dr1;
	default:
		model_label_forward(m, a, B, 1, 0);
		return layer == MODEL_LAYER_LOGITS ? a->logits : a->lr2;
	}
}

/* --- file ------------------------------------------------------------------------------------ */

static int write_tensors(FILE *f, const model_tensor *t, int n, const float *block)
{
	for (int i = 0; i < n; i++) {
		int rc = npy_write_array(f, NPY_F32, t[i].ndim, t[i].shape, block + t[i].off);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int model_write(FILE *f, const model *m, int kind, int64_t step, int64_t total)
{
	int64_t hdr[MODEL_HDR_LEN] = {MODEL_MAGIC, MODEL_VERSION, kind, m->arch, m->H, m->W, 3, m->F,
	                              MODEL_CLASSES, m->nt, m->ns, step, total,
	                              m->domains == 2 ? 2 : 0, 0, 0};
	int64_t shape[1] = {MODEL_HDR_LEN};
	int rc = npy_write_array(f, NPY_I64, 1, shape, hdr);
	if (rc < 0)
		return rc;
	rc = write_tensors(f, m->t, m->nt, m->params);
	if (rc < 0)
		return rc;
	return write_tensors(f, m->st, m->ns, m->stats);
}

int model_write_block(FILE *f, const model *m, const float *block)
{
	return write_tensors(f, m->t, m->nt, block);
}

static int read_tensors(FILE *f, const char *name, const model_tensor *t, int n, float *block)
{
	for (int i = 0; i < n; i++) {
		npy_header h;
		int rc = npy_read_header(f, name, &h);
		if (rc < 0)
			return err_set(DN_EFORMAT, "%s: truncated model: expected tensor %s", name, t[i].name);
		int ok = h.dtype == NPY_F32 && h.ndim == t[i].ndim;
		for (int d = 0; ok && d < t[i].ndim; d++)
			ok = h.shape[d] == t[i].shape[d];
		if (!ok) {
			char got[128];
			return err_set(DN_EFORMAT, "%s: tensor %s: expected float32 of %d values, got %s", name,
			               t[i].name, (int)t[i].n, npy_header_str(&h, got, sizeof got));
		}
		rc = npy_read_data(f, name, &h, block + t[i].off, t[i].n);
		if (rc < 0)
			return err_set(DN_EFORMAT, "%s: truncated model: tensor %s is cut short", name,
			               t[i].name);
		/* a model saved from a diverged training must not give NaN features silently */
		for (size_t k = 0; k < t[i].n; k++)
			if (!isfinite(block[t[i].off + k]))
				return err_set(DN_ERANGE, "%s: tensor %s holds %g at index %zu: a model with "
				               "non-finite numbers (from a diverged training?)", name, t[i].name,
				               block[t[i].off + k], k);
	}
	return 0;
}

int model_read_block(FILE *f, const char *name, const model *m, float *block)
{
	return read_tensors(f, name, m->t, m->nt, block);
}

int model_read(FILE *f, const char *name, model *m, int *kind)
{
	const char *want = "expected a dann-train model (an NPY int64 (16,) header with magic "
	                   "1684106862, see dann-model(5))";
	npy_header h;
	int rc = npy_read_header(f, name, &h);
	if (rc < 0)
		return err_set(DN_EFORMAT, "%s: not a model: %s", name, want);
	if (h.dtype != NPY_I64 || h.ndim != 1 || h.shape[0] != MODEL_HDR_LEN)
		return err_set(DN_EFORMAT, "%s: not a model: %s", name, want);
	int64_t hdr[MODEL_HDR_LEN];
	rc = npy_read_data(f, name, &h, hdr, MODEL_HDR_LEN);
	if (rc < 0)
		return err_set(DN_EFORMAT, "%s: truncated model header: %s", name, want);
	if (hdr[0] != MODEL_MAGIC)
		return err_set(DN_EFORMAT, "%s: not a model: %s", name, want);
	if (hdr[1] != MODEL_VERSION)
		return err_set(DN_EFORMAT, "%s: model format version %lld, expected %d", name,
		               (long long)hdr[1], MODEL_VERSION);
	if ((hdr[2] != MODEL_KIND_MODEL && hdr[2] != MODEL_KIND_CHECKPOINT) ||
	    (hdr[3] != MODEL_ARCH_SEED && hdr[3] != MODEL_ARCH_PAPER) || hdr[4] < 16 || hdr[4] > 1024 ||
	    hdr[5] < 16 || hdr[5] > 1024 || hdr[6] != 3 || (hdr[13] != 0 && hdr[13] != 2) ||
	    (hdr[13] == 2 && hdr[3] != MODEL_ARCH_SEED))
		return err_set(DN_EFORMAT, "%s: corrupt model header (kind %lld, arch %lld, %lldx%lldx%lld, "
		               "statistics sets %lld)", name, (long long)hdr[2], (long long)hdr[3],
		               (long long)hdr[4], (long long)hdr[5], (long long)hdr[6], (long long)hdr[13]);
	rc = model_init(m, (int)hdr[3], (int)hdr[4], (int)hdr[5], hdr[13] == 2 ? 2 : 1);
	if (rc < 0)
		return err_set(DN_EFORMAT, "%s: corrupt model header: %s", name, err_msg());
	if (hdr[7] != m->F || hdr[8] != MODEL_CLASSES || hdr[9] != m->nt || hdr[10] != m->ns) {
		model_free(m);
		return err_set(DN_EFORMAT, "%s: corrupt model header (feature size %lld, %lld parameter "
		               "and %lld statistics arrays; expected %d, %d and %d)", name,
		               (long long)hdr[7], (long long)hdr[9], (long long)hdr[10], m->F, m->nt,
		               m->ns);
	}
	m->step = hdr[11];
	m->total_steps = hdr[12];
	if ((rc = read_tensors(f, name, m->t, m->nt, m->params)) < 0 ||
	    (rc = read_tensors(f, name, m->st, m->ns, m->stats)) < 0) {
		model_free(m);
		return rc;
	}
	if (kind)
		*kind = (int)hdr[2];
	return 0;
}
