/* model.c - the DANN digits network: geometry, parameter table, forward/backward, file I/O. */
#include "net/model.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/kern.h"
#include "net/nn.h"
#include "stream/npy.h"
#include "base/rng.h"

/* --- the parameter table ---------------------------------------------------------------------- */

/* Every tensor of the file, in file order, defined once: its name, its shape, how it starts
 * (PyTorch's defaults), and the view (a field of model_params or model_stats) that points at
 * it.  The layout, the initialisation, the views and the file order all come from these
 * tables; man/dann-model.5 lists the same order (test_nn checks the page against them). */
enum { ONLY_ALL, ONLY_BN, ONLY_TARGET };   /* present always / with BatchNorm / with 2 sets */
#define DIM_F (-1)                         /* the feature size F of the input size */
typedef struct {
	const char *name;
	size_t view;       /* offsetof the view in model_params (parameters) or model_stats */
	int ndim, dim[4];
	int init;          /* MODEL_INIT_* */
	int only;          /* ONLY_* */
} tensor_row;

#define PV(f) offsetof(model_params, f)
#define SV(f) offsetof(model_stats, f)
#define C1 MODEL_C1
#define C2 MODEL_C2
#define KS MODEL_KS
#define HID MODEL_HIDDEN
#define W_ MODEL_INIT_WEIGHT
#define B_ MODEL_INIT_BIAS   /* the bound of its weight, the row before */
#define ONE MODEL_INIT_ONE
#define ZERO MODEL_INIT_ZERO
static const tensor_row param_rows[] = {
	{"conv1.weight",      PV(c1w),   4, {C1, KS, KS, 3},  W_,   ONLY_ALL},
	{"conv1.bias",        PV(c1b),   1, {C1},             B_,   ONLY_ALL},
	{"bn1.weight",        PV(bn1g),  1, {C1},             ONE,  ONLY_BN},
	{"bn1.bias",          PV(bn1b),  1, {C1},             ZERO, ONLY_BN},
	{"conv2.weight",      PV(c2w),   4, {C2, KS, KS, C1}, W_,   ONLY_ALL},
	{"conv2.bias",        PV(c2b),   1, {C2},             B_,   ONLY_ALL},
	{"bn2.weight",        PV(bn2g),  1, {C2},             ONE,  ONLY_BN},
	{"bn2.bias",          PV(bn2b),  1, {C2},             ZERO, ONLY_BN},
	{"label.fc1.weight",  PV(l1w),   2, {HID, DIM_F},     W_,   ONLY_ALL},
	{"label.fc1.bias",    PV(l1b),   1, {HID},            B_,   ONLY_ALL},
	{"label.bn1.weight",  PV(lbn1g), 1, {HID},            ONE,  ONLY_BN},
	{"label.bn1.bias",    PV(lbn1b), 1, {HID},            ZERO, ONLY_BN},
	{"label.fc2.weight",  PV(l2w),   2, {HID, HID},       W_,   ONLY_ALL},
	{"label.fc2.bias",    PV(l2b),   1, {HID},            B_,   ONLY_ALL},
	{"label.bn2.weight",  PV(lbn2g), 1, {HID},            ONE,  ONLY_BN},
	{"label.bn2.bias",    PV(lbn2b), 1, {HID},            ZERO, ONLY_BN},
	{"label.fc3.weight",  PV(l3w),   2, {MODEL_CLASSES, HID}, W_, ONLY_ALL},
	{"label.fc3.bias",    PV(l3b),   1, {MODEL_CLASSES},  B_,   ONLY_ALL},
	{"domain.fc1.weight", PV(d1w),   2, {HID, DIM_F},     W_,   ONLY_ALL},
	{"domain.fc1.bias",   PV(d1b),   1, {HID},            B_,   ONLY_ALL},
	{"domain.bn1.weight", PV(dbn1g), 1, {HID},            ONE,  ONLY_BN},
	{"domain.bn1.bias",   PV(dbn1b), 1, {HID},            ZERO, ONLY_BN},
	{"domain.fc2.weight", PV(d2w),   2, {1, HID},         W_,   ONLY_ALL},
	{"domain.fc2.bias",   PV(d2b),   1, {1},              B_,   ONLY_ALL},
};

/* Running statistics: the source's set (the only one of a model with one set), then the
 * target's of the layers both halves pass through (label.bn1/bn2 only ever see source rows:
 * the target set shares them). */
static const tensor_row stat_rows[] = {
	{"bn1.running_mean",               SV(bn1m),  1, {C1},  ZERO, ONLY_BN},
	{"bn1.running_var",                SV(bn1v),  1, {C1},  ONE,  ONLY_BN},
	{"bn2.running_mean",               SV(bn2m),  1, {C2},  ZERO, ONLY_BN},
	{"bn2.running_var",                SV(bn2v),  1, {C2},  ONE,  ONLY_BN},
	{"label.bn1.running_mean",         SV(lbn1m), 1, {HID}, ZERO, ONLY_BN},
	{"label.bn1.running_var",          SV(lbn1v), 1, {HID}, ONE,  ONLY_BN},
	{"label.bn2.running_mean",         SV(lbn2m), 1, {HID}, ZERO, ONLY_BN},
	{"label.bn2.running_var",          SV(lbn2v), 1, {HID}, ONE,  ONLY_BN},
	{"domain.bn1.running_mean",        SV(dbn1m), 1, {HID}, ZERO, ONLY_BN},
	{"domain.bn1.running_var",         SV(dbn1v), 1, {HID}, ONE,  ONLY_BN},
	{"bn1.target_running_mean",        SV(bn1m),  1, {C1},  ZERO, ONLY_TARGET},
	{"bn1.target_running_var",         SV(bn1v),  1, {C1},  ONE,  ONLY_TARGET},
	{"bn2.target_running_mean",        SV(bn2m),  1, {C2},  ZERO, ONLY_TARGET},
	{"bn2.target_running_var",         SV(bn2v),  1, {C2},  ONE,  ONLY_TARGET},
	{"domain.bn1.target_running_mean", SV(dbn1m), 1, {HID}, ZERO, ONLY_TARGET},
	{"domain.bn1.target_running_var",  SV(dbn1v), 1, {HID}, ONE,  ONLY_TARGET},
};
#undef PV
#undef SV
#undef C1
#undef C2
#undef KS
#undef HID
#undef W_
#undef B_
#undef ONE
#undef ZERO

#define NROWS(a) ((int)(sizeof(a) / sizeof(a)[0]))
_Static_assert(NROWS(param_rows) <= MODEL_MAX_TENSORS && NROWS(stat_rows) <= MODEL_MAX_TENSORS,
               "MODEL_MAX_TENSORS");

/* The rows of `rows` this model has, as tensors laid out one after another in one block. */
static void build_table(const model *m, const tensor_row *rows, int nrows, model_tensor *t,
                        int *nt, size_t *total)
{
	*nt = 0;
	*total = 0;
	for (int i = 0; i < nrows; i++) {
		const tensor_row *r = &rows[i];
		if ((r->only == ONLY_BN && !m->bn) || (r->only == ONLY_TARGET && m->domains != 2))
			continue;
		model_tensor *x = &t[(*nt)++];
		x->name = r->name;
		x->ndim = r->ndim;
		x->view = r->view;
		x->init = r->init;
		x->set = r->only == ONLY_TARGET;
		x->n = 1;
		for (int d = 0; d < 4; d++) {
			x->shape[d] = d >= r->ndim ? 0 : r->dim[d] == DIM_F ? m->F : r->dim[d];
			if (d < r->ndim)
				x->n *= (size_t)x->shape[d];
		}
		x->off = *total;
		*total += x->n;
	}
}

static float **view_of(void *views, const model_tensor *t)
{
	return (float **)(void *)((char *)views + t->view);
}

void model_views(const model *m, model_params *v, float *block)
{
	memset(v, 0, sizeof *v);
	for (int i = 0; i < m->nt; i++)
		*view_of(v, &m->t[i]) = block + m->t[i].off;
}

/* The source's set (set 0), then the target's: a copy of the source's views with those of
 * its own tensors replaced (with one set, the two are the same). */
static void stats_views(model *m)
{
	memset(m->s, 0, sizeof m->s);
	for (int i = 0; i < m->ns; i++)
		if (m->st[i].set == 0)
			*view_of(&m->s[0], &m->st[i]) = m->stats + m->st[i].off;
	m->s[1] = m->s[0];
	for (int i = 0; i < m->ns; i++)
		if (m->st[i].set == 1)
			*view_of(&m->s[1], &m->st[i]) = m->stats + m->st[i].off;
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
	build_table(m, param_rows, NROWS(param_rows), m->t, &m->nt, &m->nparams);
	build_table(m, stat_rows, NROWS(stat_rows), m->st, &m->ns, &m->nstats);
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

/* fan_in of a weight: the product of all but its first dimension */
static int64_t fan_in(const model_tensor *w)
{
	int64_t n = 1;
	for (int d = 1; d < w->ndim; d++)
		n *= w->shape[d];
	return n;
}

static void init_tensor(const model *m, const model_tensor *t, int i, float *v, uint64_t seed)
{
	if (t->init == MODEL_INIT_ONE || t->init == MODEL_INIT_ZERO) {
		for (size_t k = 0; k < t->n; k++)
			v[k] = t->init == MODEL_INIT_ONE ? 1.0f : 0.0f;
		return;
	}
	/* a bias takes its bound from its weight, the tensor before it */
	double bound = 1.0 / sqrt((double)fan_in(t->init == MODEL_INIT_BIAS ? &m->t[i - 1] : t));
	rng_t r;
	rng_seed(&r, seed, 1000 + (uint64_t)i);
	for (size_t k = 0; k < t->n; k++)
		v[k] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
}

void model_init_params(model *m, uint64_t seed)
{
	for (int i = 0; i < m->nt; i++)
		init_tensor(m, &m->t[i], i, m->params + m->t[i].off, seed);
	for (int i = 0; i < m->ns; i++)
		init_tensor(m, &m->st[i], i, m->stats + m->st[i].off, seed);
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
	 * scratch, which it clears itself where it adds into it (kern.h); nor r1, whose gradient
	 * model_blocks_backward stores (kern_blocks_backward's din_store). */
	size_t nz = q2 + F + 6 * h + 2 * (size_t)B * MODEL_CLASSES + F + 3 * h + B;
	size_t small = 2 * (2 * MODEL_C1 + 2 * MODEL_C2) + 6 * 2 * MODEL_HIDDEN + (size_t)B * MODEL_C2;
	size_t total = nz + q1 + x + 2 * s1 + q1 + 2 * s2 + q2 + small + k1 + k2;
	a->block = malloc(total * sizeof(float) + 2 * (q1 + q2));
	if (!a->block)
		return err_set(DN_ENOMEM, "out of memory for activations (batch %d)", B);
	a->nzero = nz;
	float *p = a->block;
#define TAKE(ptr, n) do { (ptr) = p; p += (n); } while (0)
	TAKE(a->r2, q2);
	TAKE(a->feat, F);
	TAKE(a->l1, h); TAKE(a->ln1, h); TAKE(a->lr1, h); TAKE(a->l2, h); TAKE(a->ln2, h);
	TAKE(a->lr2, h);
	TAKE(a->logits, (size_t)B * MODEL_CLASSES); TAKE(a->probs, (size_t)B * MODEL_CLASSES);
	TAKE(a->dfeat, F);
	TAKE(a->d1, h); TAKE(a->dn1, h); TAKE(a->dr1, h); TAKE(a->dz, B);
	/* end of the zeroed part */
	TAKE(a->r1, q1);
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
 * the set of the domain evaluated. */
static void run_sets(const model *m, int groups, int pass, const model_stats *set[2])
{
	set[0] = set[1] = &m->s[pass == 1 ? 1 : 0];
	if (pass == MODEL_TRAIN && groups == 2 && m->domains == 2)
		set[1] = &m->s[1];
}

/* The per-group pointer arrays nn_batchnorm_forward and kern_bn_pool_relu_forward take. */
#define RUN(f) ((float *const[2]){set[0]->f, set[1]->f})

void model_features_forward(model *m, model_acts *a, int B, int groups, int pass,
                            uint64_t drop_seed, uint64_t step)
{
	model_params *p = &m->p;
	if (pass != MODEL_TRAIN) {
		const model_stats *set[2], *s;
		run_sets(m, groups, pass, set);
		s = set[0];
		kern_block L[2];
		kern_saved sv[2] = {saved(a, 0), saved(a, 1)};
		blocks(m, L);
		const float *l1[6] = {p->c1w, p->c1b, p->bn1g, p->bn1b, s->bn1m, s->bn1v};
		const float *l2[6] = {p->c2w, p->c2b, p->bn2g, p->bn2b, s->bn2m, s->bn2v};
		kern_features_eval(L, a->feat, a->r1, sv, a->x, l1, l2, B, a->ws1, a->ws2);
		return;
	}
	model_blocks_forward(m, a, B, groups);
	model_dropout_forward(m, a, 0, B, drop_seed, step);
}

void model_blocks_forward(model *m, model_acts *a, int B, int groups)
{
	model_params *p = &m->p;
	const model_stats *set[2];
	run_sets(m, groups, MODEL_TRAIN, set);
	kern_block L[2];
	kern_saved sv[2] = {saved(a, 0), saved(a, 1)};
	blocks(m, L);
	const float mom = 0.1f;
	kern_block_forward(&L[0], a->r1, &sv[0], a->x, p->c1w, p->c1b, p->bn1g, p->bn1b, RUN(bn1m),
	                   RUN(bn1v), B, groups, 1, mom, a->ws1);
	/* Dropout2d after the second block (with BatchNorm only) */
	kern_block_forward(&L[1], m->bn ? a->r2 : a->feat, &sv[1], a->r1, p->c2w, p->c2b, p->bn2g,
	                   p->bn2b, RUN(bn2m), RUN(bn2v), B, groups, 1, mom, a->ws2);
}

void model_dropout_forward(const model *m, model_acts *a, int b0, int b1, uint64_t drop_seed,
                           uint64_t step)
{
	if (!m->bn || b1 <= b0)
		return;
	size_t S = (size_t)m->p2h * m->p2w;
	nn_dropout2d_mask_rows(a->mask, b0, b1, MODEL_C2, 0.5f, drop_seed, step);
	nn_dropout2d_forward(a->feat + b0 * S * MODEL_C2, a->r2 + b0 * S * MODEL_C2,
	                     a->mask + (size_t)b0 * MODEL_C2, b1 - b0, (int)S, MODEL_C2);
}

/* fc -> [BN] -> ReLU, into (lin, bnout, reluout) */
static void fc_bn_relu_forward(float *lin, float *bnout, float *out, float *bm, float *br,
                               const float *in, const float *w, const float *b, const float *g,
                               const float *beta, float *const *rm, float *const *rv, int B,
                               int I, int bn, int groups, int train)
{
	kern_linear_forward(lin, in, w, b, B, I, MODEL_HIDDEN);
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
	kern_linear_backward(din, dw, db, dlin, in, w, B, I, MODEL_HIDDEN);
}

void model_label_forward(model *m, model_acts *a, int B, int groups, int pass)
{
	model_params *p = &m->p;
	const model_stats *set[2];
	run_sets(m, groups, pass, set);
	int train = pass == MODEL_TRAIN;
	fc_bn_relu_forward(a->l1, a->ln1, a->lr1, a->lbm1, a->lbr1, a->feat, p->l1w, p->l1b, p->lbn1g,
	                   p->lbn1b, RUN(lbn1m), RUN(lbn1v), B, m->F, m->bn, groups, train);
	fc_bn_relu_forward(a->l2, a->ln2, a->lr2, a->lbm2, a->lbr2, a->lr1, p->l2w, p->l2b, p->lbn2g,
	                   p->lbn2b, RUN(lbn2m), RUN(lbn2v), B, MODEL_HIDDEN, m->bn, groups, train);
	nn_linear_forward(a->logits, a->lr2, p->l3w, p->l3b, B, MODEL_HIDDEN, MODEL_CLASSES);
}

void model_domain_forward(model *m, model_acts *a, int B, int groups, int pass)
{
	model_params *p = &m->p;
	const model_stats *set[2];
	run_sets(m, groups, pass, set);
	int train = pass == MODEL_TRAIN;
	/* the GRL is the identity forward: the domain head reads a->feat directly */
	fc_bn_relu_forward(a->d1, a->dn1, a->dr1, a->dbm1, a->dbr1, a->feat, p->d1w, p->d1b, p->dbn1g,
	                   p->dbn1b, RUN(dbn1m), RUN(dbn1v), B, m->F, m->bn, groups, train);
	nn_linear_forward(a->dz, a->dr1, p->d2w, p->d2b, B, MODEL_HIDDEN, 1);
}

/* --- backward ------------------------------------------------------------------------------------ */

void model_label_backward_params(const model *m, model_params *g, model_acts *ga,
                                 const model_acts *a, int B, int groups)
{
	const model_params *p = &m->p;
	nn_linear_backward(ga->lr2, g->l3w, g->l3b, ga->logits, a->lr2, p->l3w, B, MODEL_HIDDEN,
	                   MODEL_CLASSES);
	fc_bn_relu_backward(ga->lr1, g->l2w, g->l2b, g->lbn2g, g->lbn2b, ga->l2, ga->ln2, ga->lr2,
	                    a->lr2, a->l2, a->lbm2, a->lbr2, a->lr1, p->l2w, p->lbn2g, B, MODEL_HIDDEN,
	                    m->bn, groups);
	fc_bn_relu_backward(NULL, g->l1w, g->l1b, g->lbn1g, g->lbn1b, ga->l1, ga->ln1, ga->lr1,
	                    a->lr1, a->l1, a->lbm1, a->lbr1, a->feat, p->l1w, p->lbn1g, B, m->F,
	                    m->bn, groups);
}

void model_label_backward_input(const model *m, model_acts *ga, int b0, int b1)
{
	/* fc1's input gradient from its output's (ga->l1, left by model_label_backward_params);
	 * each row its own sums, whichever rows are done together, where model_heads_rows_free
	 * (not nn.c's OpenBLAS product) */
	kern_linear_backward(ga->feat + (size_t)b0 * m->F, NULL, NULL,
	                     ga->l1 + (size_t)b0 * MODEL_HIDDEN, NULL, m->p.l1w, b1 - b0, m->F,
	                     MODEL_HIDDEN);
}

void model_label_backward(const model *m, model_params *g, model_acts *ga, const model_acts *a,
                          int B, int groups)
{
	model_label_backward_params(m, g, ga, a, B, groups);
	model_label_backward_input(m, ga, 0, B);
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

int model_heads_rows_free(const model *m)
{
	return kern_linear_rows_free(m->F);
}

void model_domain_backward_params(const model *m, model_params *g, model_acts *ga,
                                  const model_acts *a, int B, int groups)
{
	const model_params *p = &m->p;
	nn_linear_backward(ga->dr1, g->d2w, g->d2b, ga->dz, a->dr1, p->d2w, B, MODEL_HIDDEN, 1);
	fc_bn_relu_backward(NULL, g->d1w, g->d1b, g->dbn1g, g->dbn1b, ga->d1, ga->dn1, ga->dr1,
	                    a->dr1, a->d1, a->dbm1, a->dbr1, a->feat, p->d1w, p->dbn1g, B, m->F,
	                    m->bn, groups);
}

void model_domain_backward_input(const model *m, model_acts *ga, int b0, int b1, float lambda)
{
	size_t F = (size_t)m->F;
	kern_linear_backward(ga->dfeat + b0 * F, NULL, NULL, ga->d1 + (size_t)b0 * MODEL_HIDDEN, NULL,
	                     m->p.d1w, b1 - b0, m->F, MODEL_HIDDEN);
	nn_grl_backward(ga->feat + b0 * F, ga->dfeat + b0 * F, lambda, (size_t)(b1 - b0) * F);
}

void model_dropout_backward(const model *m, model_acts *ga, const model_acts *a, int b0, int b1)
{
	if (!m->bn)
		return;
	size_t S = (size_t)m->p2h * m->p2w;
	nn_dropout2d_backward(ga->r2 + b0 * S * MODEL_C2, ga->feat + b0 * S * MODEL_C2,
	                      a->mask + (size_t)b0 * MODEL_C2, b1 - b0, (int)S, MODEL_C2);
}

void model_features_backward(const model *m, model_params *g, model_acts *ga,
                             const model_acts *a, int B, int groups)
{
	model_dropout_backward(m, ga, a, 0, B);
	model_blocks_backward(m, g, ga, a, B, groups, NULL, NULL);
}

void model_blocks_backward(const model *m, model_params *g, model_acts *ga, const model_acts *a,
                           int B, int groups, void (*then)(void *), void *arg)
{
	const model_params *p = &m->p;
	kern_block L[2];
	blocks(m, L);
	kern_saved sv[2] = {saved(a, 0), saved(a, 1)}, gs[2] = {saved(ga, 0), saved(ga, 1)};
	/* block 2 (from the gradient before the dropout, with BatchNorm) -> block 1 */
	const float *dr2 = ga->feat, *r2 = a->feat;
	if (m->bn) {
		dr2 = ga->r2;
		r2 = a->r2;
	}
	kern_block R[2] = {L[1], L[0]};
	kern_bwd_args ba[2] = {
		{ga->r1, g->c2w, g->c2b, g->bn2g, g->bn2b, &gs[1], dr2, r2, &sv[1], a->r1, p->c2w,
		 p->bn2g, ga->ws2, 1},  /* ga->r1 stored: not in the part a step clears */
		{NULL, g->c1w, g->c1b, g->bn1g, g->bn1b, &gs[0], ga->r1, a->r1, &sv[0], a->x, p->c1w,
		 p->bn1g, ga->ws1, 0}};
	kern_blocks_backward(R, ba, 2, B, groups, then, arg);
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
	int pass = domain == 1 ? 1 : 0;   /* evaluation, of this domain's running statistics */
	nn_input_from_u8(a->x, img, B, m->H, m->W, C);
	model_features_forward(m, a, B, 1, pass, 0, 0);
	*D = model_layer_dim(m, layer);
	switch (layer) {
	case MODEL_LAYER_FEATURES:
		return a->feat;
	case MODEL_LAYER_DOMAIN_HIDDEN:
		model_domain_forward(m, a, B, 1, pass);
		return a->dr1;
	default:
		model_label_forward(m, a, B, 1, pass);
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
	model_header h = {.magic = MODEL_MAGIC, .version = MODEL_VERSION, .kind = kind,
	                  .arch = m->arch, .H = m->H, .W = m->W, .C = 3, .F = m->F,
	                  .classes = MODEL_CLASSES, .nparams = m->nt, .nstats = m->ns, .step = step,
	                  .total = total, .stat_sets = m->domains == 2 ? 2 : 0};
	int64_t shape[1] = {MODEL_HDR_LEN};
	int rc = npy_write_array(f, NPY_I64, 1, shape, &h);
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
	model_header hd;
	rc = npy_read_data(f, name, &h, &hd, MODEL_HDR_LEN);
	if (rc < 0)
		return err_set(DN_EFORMAT, "%s: truncated model header: %s", name, want);
	if (hd.magic != MODEL_MAGIC)
		return err_set(DN_EFORMAT, "%s: not a model: %s", name, want);
	if (hd.version != MODEL_VERSION)
		return err_set(DN_EFORMAT, "%s: model format version %lld, expected %d", name,
		               (long long)hd.version, MODEL_VERSION);
	if ((hd.kind != MODEL_KIND_MODEL && hd.kind != MODEL_KIND_CHECKPOINT) ||
	    (hd.arch != MODEL_ARCH_SEED && hd.arch != MODEL_ARCH_PAPER) || hd.H < 16 || hd.H > 1024 ||
	    hd.W < 16 || hd.W > 1024 || hd.C != 3 || (hd.stat_sets != 0 && hd.stat_sets != 2) ||
	    (hd.stat_sets == 2 && hd.arch != MODEL_ARCH_SEED))
		return err_set(DN_EFORMAT, "%s: corrupt model header (kind %lld, arch %lld, %lldx%lldx%lld, "
		               "statistics sets %lld)", name, (long long)hd.kind, (long long)hd.arch,
		               (long long)hd.H, (long long)hd.W, (long long)hd.C, (long long)hd.stat_sets);
	rc = model_init(m, (int)hd.arch, (int)hd.H, (int)hd.W, hd.stat_sets == 2 ? 2 : 1);
	if (rc < 0)
		return err_set(DN_EFORMAT, "%s: corrupt model header: %s", name, err_msg());
	if (hd.F != m->F || hd.classes != MODEL_CLASSES || hd.nparams != m->nt || hd.nstats != m->ns) {
		model_free(m);
		return err_set(DN_EFORMAT, "%s: corrupt model header (feature size %lld, %lld parameter "
		               "and %lld statistics arrays; expected %d, %d and %d)", name,
		               (long long)hd.F, (long long)hd.nparams, (long long)hd.nstats, m->F, m->nt,
		               m->ns);
	}
	m->step = hd.step;
	m->total_steps = hd.total;
	if ((rc = read_tensors(f, name, m->t, m->nt, m->params)) < 0 ||
	    (rc = read_tensors(f, name, m->st, m->ns, m->stats)) < 0) {
		model_free(m);
		return rc;
	}
	if (kind)
		*kind = (int)hd.kind;
	return 0;
}
