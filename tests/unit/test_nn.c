/* test_nn.c - finite-difference gradient checks for every layer and loss (ggml style: central
 * differences, skip points at kinks, a cap on the points checked), plus whole-network checks
 * of the wiring and of the gradient reversal's sign and scale. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base/err.h"
#include "net/model.h"
#include "net/nn.h"
#include "base/rng.h"

static rng_t R;

static void fill(float *v, size_t n, float a)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (float)((2 * rng_uniform(&R) - 1) * a);
}

static float *vec(size_t n, float a)
{
	float *v = calloc(n ? n : 1, sizeof(float));
	fill(v, n, a);
	return v;
}

/* The scalar L = sum(out * proj) for a layer, as a function of its inputs. */
typedef double (*loss_fn)(void *ctx);

/* skip(ctx, i): 1 if coordinate i sits within h of a kink */
typedef int (*skip_fn)(void *ctx, size_t i, float h);

/* Compare analytic grad[i] with central differences of f on up to `cap` coordinates of x. */
static void grad_check(const char *what, loss_fn f, void *ctx, float *x, const float *grad, size_t n,
                       float h, double rtol, double atol, skip_fn skip)
{
	size_t stride = n > 60 ? n / 60 : 1;
	int checked = 0, bad = 0;
	for (size_t i = (size_t)rng_below(&R, (uint32_t)stride); i < n; i += stride) {
		if (skip && skip(ctx, i, h))
			continue;
		float v = x[i];
		x[i] = v + h;
		double lp = f(ctx);
		x[i] = v - h;
		double lm = f(ctx);
		x[i] = v;
		double num = (lp - lm) / (2.0 * h), ana = grad[i];
		checked++;
		if (fabs(num - ana) > atol + rtol * fabs(num)) {
			if (bad++ < 3)
				fprintf(stderr, "%s[%zu]: analytic %.7g numeric %.7g\n", what, i, ana, num);
		}
	}
	CHECK_MSG(checked >= 1 && bad == 0, "%s: %d of %d points differ", what, bad, checked);
}

static double dot(const float *a, const float *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* --- conv2d ----------------------------------------------------------------------------------- */
struct conv_ctx { int B, H, W, C, OC, KS; float *in, *w, *b, *out, *cols, *proj; size_t nout; };

static double conv_loss(void *p)
{
	struct conv_ctx *c = p;
	nn_conv2d_forward(c->out, c->cols, c->in, c->w, c->b, c->B, c->H, c->W, c->C, c->OC, c->KS);
	return dot(c->out, c->proj, c->nout);
}

static void test_conv(void)
{
	struct conv_ctx c = {.B = 3, .H = 8, .W = 7, .C = 4, .OC = 5, .KS = 3};
	int OH = c.H - c.KS + 1, OW = c.W - c.KS + 1, K = c.KS * c.KS * c.C;
	size_t nin = (size_t)c.B * c.H * c.W * c.C, nw = (size_t)c.OC * K, P = (size_t)c.B * OH * OW;
	c.nout = P * c.OC;
	c.in = vec(nin, 1);
	c.w = vec(nw, 0.5f);
	c.b = vec(c.OC, 0.5f);
	c.out = vec(c.nout, 0);
	c.cols = vec(P * K, 0);
	c.proj = vec(c.nout, 1);
	float *din = vec(nin, 0), *dw = vec(nw, 0), *db = vec(c.OC, 0), *dcols = vec(P * K, 0);
	conv_loss(&c);
	nn_conv2d_backward(din, dw, db, dcols, c.proj, c.cols, c.w, c.B, c.H, c.W, c.C, c.OC, c.KS);
	grad_check("conv.din", conv_loss, &c, c.in, din, nin, 1e-2f, 1e-3, 1e-3, NULL);
	grad_check("conv.dw", conv_loss, &c, c.w, dw, nw, 1e-2f, 1e-3, 1e-3, NULL);
	grad_check("conv.db", conv_loss, &c, c.b, db, c.OC, 1e-2f, 1e-3, 1e-3, NULL);
	/* a hand case: 1 image 2x2x1, kernel 2 of ones, bias 0.5 -> sum + 0.5 */
	float in1[4] = {1, 2, 3, 4}, w1[4] = {1, 1, 1, 1}, b1[1] = {0.5f}, o1[1], cols1[4];
	nn_conv2d_forward(o1, cols1, in1, w1, b1, 1, 2, 2, 1, 1, 2);
	CHECK_CLOSE(o1[0], 10.5, 1e-6);
	/* backward adds: a second call doubles the gradient */
	float *dw2 = vec(nw, 0);
	memcpy(dw2, dw, nw * sizeof(float));
	nn_conv2d_backward(NULL, dw2, db, NULL, c.proj, c.cols, c.w, c.B, c.H, c.W, c.C, c.OC, c.KS);
	CHECK_CLOSE(dw2[7], 2 * dw[7], 1e-5);
	free(c.in); free(c.w); free(c.b); free(c.out); free(c.cols); free(c.proj);
	free(din); free(dw); free(db); free(dcols); free(dw2);
}

/* --- batchnorm (training mode, 2 groups) ------------------------------------------------------ */
struct bn_ctx { int N, C, G, train; float *in, *g, *b, *rm, *rv, *out, *mean, *rstd, *proj; };

static double bn_loss(void *p)
{
	struct bn_ctx *c = p;
	nn_batchnorm_forward(c->out, c->mean, c->rstd, c->in, c->g, c->b, (float *[]){c->rm, c->rm},
	                     (float *[]){c->rv, c->rv}, c->N, c->C, c->G,
	                     c->train, 0.1f);
	return dot(c->out, c->proj, (size_t)c->N * c->C);
}

static void test_batchnorm(void)
{
	struct bn_ctx c = {.N = 24, .C = 5, .G = 2, .train = 1};
	size_t n = (size_t)c.N * c.C;
	c.in = vec(n, 2);
	c.g = vec(c.C, 1);
	c.b = vec(c.C, 1);
	c.rm = vec(c.C, 0);
	c.rv = vec(c.C, 0);
	for (int i = 0; i < c.C; i++)
		c.rv[i] = 1;
	c.out = vec(n, 0);
	c.mean = vec(2 * c.C, 0);
	c.rstd = vec(2 * c.C, 0);
	c.proj = vec(n, 1);
	float *din = vec(n, 0), *dg = vec(c.C, 0), *db = vec(c.C, 0);
	bn_loss(&c);
	nn_batchnorm_backward(din, dg, db, c.proj, c.in, c.mean, c.rstd, c.g, c.N, c.C, c.G);
	grad_check("bn.din", bn_loss, &c, c.in, din, n, 1e-2f, 2e-2, 2e-3, NULL);
	grad_check("bn.dgamma", bn_loss, &c, c.g, dg, c.C, 1e-2f, 1e-3, 1e-3, NULL);
	grad_check("bn.dbeta", bn_loss, &c, c.b, db, c.C, 1e-2f, 1e-3, 1e-3, NULL);
	/* each group has mean beta and (biased) std |gamma| */
	bn_loss(&c);
	for (int g = 0; g < 2; g++) {
		double s = 0, q = 0;
		int R = c.N / 2;
		for (int r = 0; r < R; r++) {
			double v = c.out[(g * R + r) * c.C + 1];
			s += v;
			q += v * v;
		}
		CHECK_CLOSE(s / R, c.b[1], 1e-5);
		CHECK_CLOSE(sqrt(q / R - (s / R) * (s / R)), fabs(c.g[1]), 1e-3);
	}
	/* running statistics: PyTorch's update, once per group, with the unbiased variance */
	float rm = 0, rv = 1;
	float one = 1, zero = 0, x4[4] = {1, 3, 10, 30}, o4[4], m2[2], r2[2];
	nn_batchnorm_forward(o4, m2, r2, x4, &one, &zero, (float *[]){&rm, &rm}, (float *[]){&rv, &rv}, 4,
	                     1, 2, 1, 0.1f);
	double rm_want = 0.9 * (0.1 * 2) + 0.1 * 20, rv_want = 0.9 * (0.9 + 0.1 * 2) + 0.1 * 200;
	CHECK_CLOSE(rm, rm_want, 1e-6);
	CHECK_CLOSE(rv, rv_want, 1e-6);
	/* a set per group (per-domain statistics): group g updates only its own set */
	float rma = 0, rva = 1, rmb = 0, rvb = 1;
	nn_batchnorm_forward(o4, m2, r2, x4, &one, &zero, (float *[]){&rma, &rmb},
	                     (float *[]){&rva, &rvb}, 4, 1, 2, 1, 0.1f);
	CHECK_CLOSE(rma, 0.1 * 2, 1e-6);
	CHECK_CLOSE(rva, 0.9 + 0.1 * 2, 1e-6);
	CHECK_CLOSE(rmb, 0.1 * 20, 1e-6);
	CHECK_CLOSE(rvb, 0.9 + 0.1 * 200, 1e-6);
	/* evaluation mode uses the running statistics */
	float xe = 5, oe, ge = 2, be = 1, rme = 1, rve = 4;
	nn_batchnorm_forward(&oe, NULL, NULL, &xe, &ge, &be, (float *[]){&rme}, (float *[]){&rve}, 1, 1, 1,
	                     0, 0.1f);
	CHECK_CLOSE(oe, 2 * 4 / sqrt(4 + 1e-5) + 1, 1e-6);
	free(c.in); free(c.g); free(c.b); free(c.rm); free(c.rv); free(c.out); free(c.mean);
	free(c.rstd); free(c.proj); free(din); free(dg); free(db);
}

/* --- relu --------------------------------------------------------------------------------------- */
struct ew_ctx { size_t n; float *in, *out, *proj; };

static double relu_loss(void *p)
{
	struct ew_ctx *c = p;
	nn_relu_forward(c->out, c->in, c->n);
	return dot(c->out, c->proj, c->n);
}

static int relu_skip(void *p, size_t i, float h)
{
	struct ew_ctx *c = p;
	return fabsf(c->in[i]) < 2 * h;
}

static void test_relu(void)
{
	struct ew_ctx c = {.n = 200};
	c.in = vec(c.n, 1);
	c.out = vec(c.n, 0);
	c.proj = vec(c.n, 1);
	float *din = vec(c.n, 0);
	relu_loss(&c);
	nn_relu_backward(din, c.proj, c.out, c.n);
	grad_check("relu.din", relu_loss, &c, c.in, din, c.n, 1e-3f, 1e-3, 1e-4, relu_skip);
	free(c.in); free(c.out); free(c.proj); free(din);
}

/* --- maxpool ------------------------------------------------------------------------------- */
struct pool_ctx { int B, H, W, C; float *in, *out, *proj; uint8_t *arg; };

static double pool_loss(void *p)
{
	struct pool_ctx *c = p;
	nn_maxpool2_forward(c->out, c->arg, c->in, c->B, c->H, c->W, c->C);
	return dot(c->out, c->proj, (size_t)c->B * (c->H / 2) * (c->W / 2) * c->C);
}

/* skip an input whose 2x2 window has another value within 2h of the max */
static int pool_skip(void *p, size_t i, float h)
{
	struct pool_ctx *c = p;
	int C = c->C, W = c->W, H = c->H;
	int ch = (int)(i % C), x = (int)(i / C % W), y = (int)(i / C / W % H), b = (int)(i / C / W / H);
	int y0 = y & ~1, x0 = x & ~1;
	float v[4];
	for (int k = 0; k < 4; k++)
		v[k] = c->in[(((size_t)b * H + y0 + (k >> 1)) * W + x0 + (k & 1)) * C + ch];
	for (int a = 0; a < 4; a++)
		for (int d = a + 1; d < 4; d++)
			if (fabsf(v[a] - v[d]) < 2 * h)
				return 1;
	return 0;
}

static void test_maxpool(void)
{
	struct pool_ctx c = {.B = 2, .H = 6, .W = 4, .C = 3};
	size_t n = (size_t)c.B * c.H * c.W * c.C, no = n / 4;
	c.in = vec(n, 1);
	c.out = vec(no, 0);
	c.proj = vec(no, 1);
	c.arg = calloc(no, 1);
	float *din = vec(n, 0);
	pool_loss(&c);
	nn_maxpool2_backward(din, c.proj, c.arg, c.B, c.H, c.W, c.C);
	grad_check("maxpool.din", pool_loss, &c, c.in, din, n, 1e-3f, 1e-3, 1e-4, pool_skip);
	float in1[4] = {1, 5, 3, 2}, o1;
	uint8_t a1;
	nn_maxpool2_forward(&o1, &a1, in1, 1, 2, 2, 1);
	CHECK(o1 == 5 && a1 == 1);
	free(c.in); free(c.out); free(c.proj); free(c.arg); free(din);
}

/* --- dropout2d ----------------------------------------------------------------------------- */
struct drop_ctx { int B, S, C; float *in, *out, *mask, *proj; };

static double drop_loss(void *p)
{
	struct drop_ctx *c = p;
	nn_dropout2d_forward(c->out, c->in, c->mask, c->B, c->S, c->C);
	return dot(c->out, c->proj, (size_t)c->B * c->S * c->C);
}

static void test_dropout(void)
{
	struct drop_ctx c = {.B = 4, .S = 5, .C = 16};
	size_t n = (size_t)c.B * c.S * c.C;
	c.in = vec(n, 1);
	c.out = vec(n, 0);
	c.proj = vec(n, 1);
	c.mask = vec((size_t)c.B * c.C, 0);
	nn_dropout2d_mask(c.mask, c.B, c.C, 0.5f, 42, 7);
	int zeros = 0, twos = 0;
	for (int i = 0; i < c.B * c.C; i++) {
		zeros += c.mask[i] == 0;
		twos += c.mask[i] == 2;
	}
	CHECK(zeros + twos == c.B * c.C && zeros > 16 && twos > 16);
	float *m2 = vec((size_t)c.B * c.C, 0), *m3 = vec((size_t)c.B * c.C, 0);
	nn_dropout2d_mask(m2, c.B, c.C, 0.5f, 42, 7);
	nn_dropout2d_mask(m3, c.B, c.C, 0.5f, 42, 8);
	CHECK(memcmp(m2, c.mask, sizeof(float) * c.B * c.C) == 0);
	CHECK(memcmp(m3, c.mask, sizeof(float) * c.B * c.C) != 0);
	float *din = vec(n, 0);
	drop_loss(&c);
	nn_dropout2d_backward(din, c.proj, c.mask, c.B, c.S, c.C);
	grad_check("dropout2d.din", drop_loss, &c, c.in, din, n, 1e-2f, 1e-3, 1e-4, NULL);
	/* whole channels: all S positions of (b,c) share the mask */
	CHECK(c.out[(1 * c.S + 3) * c.C + 2] == c.in[(1 * c.S + 3) * c.C + 2] * c.mask[1 * c.C + 2]);
	free(c.in); free(c.out); free(c.proj); free(c.mask); free(m2); free(m3); free(din);
}

/* --- linear -------------------------------------------------------------------------------- */
struct lin_ctx { int B, I, O; float *in, *w, *b, *out, *proj; };

static double lin_loss(void *p)
{
	struct lin_ctx *c = p;
	nn_linear_forward(c->out, c->in, c->w, c->b, c->B, c->I, c->O);
	return dot(c->out, c->proj, (size_t)c->B * c->O);
}

static void test_linear(void)
{
	struct lin_ctx c = {.B = 5, .I = 13, .O = 7};
	c.in = vec((size_t)c.B * c.I, 1);
	c.w = vec((size_t)c.O * c.I, 0.5f);
	c.b = vec(c.O, 0.5f);
	c.out = vec((size_t)c.B * c.O, 0);
	c.proj = vec((size_t)c.B * c.O, 1);
	float *din = vec((size_t)c.B * c.I, 0), *dw = vec((size_t)c.O * c.I, 0), *db = vec(c.O, 0);
	lin_loss(&c);
	nn_linear_backward(din, dw, db, c.proj, c.in, c.w, c.B, c.I, c.O);
	grad_check("linear.din", lin_loss, &c, c.in, din, (size_t)c.B * c.I, 1e-2f, 1e-3, 1e-4, NULL);
	grad_check("linear.dw", lin_loss, &c, c.w, dw, (size_t)c.O * c.I, 1e-2f, 1e-3, 1e-4, NULL);
	grad_check("linear.db", lin_loss, &c, c.b, db, c.O, 1e-2f, 1e-3, 1e-4, NULL);
	free(c.in); free(c.w); free(c.b); free(c.out); free(c.proj); free(din); free(dw); free(db);
}

/* --- losses -------------------------------------------------------------------------------- */
struct ce_ctx { int B, K; float *z, *p; uint8_t *y; };

static double ce_loss(void *p)
{
	struct ce_ctx *c = p;
	return nn_softmax_ce_forward(c->p, c->z, c->y, c->B, c->K, NULL);
}

struct bce_ctx { int B, y; float *z; };

static double bce_loss(void *p)
{
	struct bce_ctx *c = p;
	return nn_bce_forward(c->z, c->y, c->B, NULL);
}

static void test_losses(void)
{
	struct ce_ctx c = {.B = 6, .K = 10};
	c.z = vec(60, 3);
	c.p = vec(60, 0);
	c.y = malloc(6);
	for (int i = 0; i < 6; i++)
		c.y[i] = (uint8_t)rng_below(&R, 10);
	float *dz = vec(60, 0);
	ce_loss(&c);
	nn_softmax_ce_backward(dz, c.p, c.y, c.B, c.K, 1.0f);
	grad_check("softmax_ce.dz", ce_loss, &c, c.z, dz, 60, 1e-2f, 1e-3, 1e-5, NULL);
	/* uniform logits: loss log(10) */
	float z0[10] = {0}, p0[10];
	uint8_t y0 = 3;
	int ok;
	CHECK_CLOSE(nn_softmax_ce_forward(p0, z0, &y0, 1, 10, &ok), log(10.0), 1e-6);
	for (int y = 0; y <= 1; y++) {
		struct bce_ctx b = {.B = 9, .y = y};
		b.z = vec(9, 4);
		float *g = vec(9, 0);
		nn_bce_backward(g, b.z, y, b.B, 1.0f);
		grad_check(y ? "bce(y=1).dz" : "bce(y=0).dz", bce_loss, &b, b.z, g, 9, 1e-2f, 1e-3, 1e-5,
		           NULL);
		free(b.z); free(g);
	}
	/* BCE of a huge logit stays finite; z = 0 gives log 2 */
	float big[2] = {80, -80}, zz = 0;
	CHECK_CLOSE(nn_bce_forward(big, 1, 1, &ok), 0.0, 1e-6);
	CHECK(ok == 1);
	CHECK_CLOSE(nn_bce_forward(big + 1, 1, 1, NULL), 80.0, 1e-6);
	CHECK_CLOSE(nn_bce_forward(&zz, 0, 1, NULL), log(2.0), 1e-6);
	free(c.z); free(c.p); free(c.y); free(dz);
}

static void test_grl(void)
{
	float d[3] = {1, 1, 1}, g[3] = {1, -2, 4};
	nn_grl_backward(d, g, 0.5f, 3);
	CHECK(d[0] == 0.5f && d[1] == 2.0f && d[2] == -1.0f);
}

/* --- whole network --------------------------------------------------------------------------
 * The DANN objective L = CE(source) + BCE(source, 0) + BCE(target, 1).  With lambda = -1 the GRL
 * passes +1 x the gradient, so the backward pass must be the true gradient of L; with other
 * lambdas the feature-extractor gradient must be g_label - lambda * g_domain. */
struct net_ctx { model m; model_acts a; int B; uint8_t *img, *y; };

static double net_loss(void *p)
{
	struct net_ctx *c = p;
	int B = c->B, h = B / 2;
	nn_input_from_u8(c->a.x, c->img, B, c->m.H, c->m.W, 1);
	model_features_forward(&c->m, &c->a, B, 2, MODEL_TRAIN, 9, 3);
	model_label_forward(&c->m, &c->a, h, 1, MODEL_TRAIN);
	double l = nn_softmax_ce_forward(c->a.probs, c->a.logits, c->y, h, 10, NULL);
	model_domain_forward(&c->m, &c->a, B, 2, MODEL_TRAIN);
	l += nn_bce_forward(c->a.dz, 0, h, NULL) + nn_bce_forward(c->a.dz + h, 1, h, NULL);
	return l;
}

static void net_grad(struct net_ctx *c, model_acts *ga, float *grads, float lambda)
{
	int B = c->B, h = B / 2;
	model_params g;
	model_views(&c->m, &g, grads);
	memset(grads, 0, c->m.nparams * sizeof(float));
	memset(ga->block, 0, ga->nzero * sizeof(float));
	net_loss(c);
	nn_softmax_ce_backward(ga->logits, c->a.probs, c->y, h, 10, 1.0f);
	nn_bce_backward(ga->dz, c->a.dz, 0, h, 1.0f);
	nn_bce_backward(ga->dz + h, c->a.dz + h, 1, h, 1.0f);
	model_domain_backward(&c->m, &g, ga, &c->a, B, 2, lambda);
	model_label_backward(&c->m, &g, ga, &c->a, h, 1);
	model_features_backward(&c->m, &g, ga, &c->a, B, 2);
}

static void test_network(int arch, int points)
{
	struct net_ctx c = {.B = 8};
	CHECK(model_init(&c.m, arch, 28, 28, 1) == 0);
	model_init_params(&c.m, 5);
	CHECK(model_acts_alloc(&c.a, &c.m, c.B) == 0);
	model_acts ga;
	CHECK(model_acts_alloc(&ga, &c.m, c.B) == 0);
	c.img = malloc((size_t)c.B * 28 * 28);
	c.y = malloc(c.B);
	for (int i = 0; i < c.B * 28 * 28; i++)
		c.img[i] = (uint8_t)rng_below(&R, 256);
	for (int i = 0; i < c.B; i++)
		c.y[i] = (uint8_t)(i % 10);
	float *g = vec(c.m.nparams, 0), *g0 = vec(c.m.nparams, 0), *gh = vec(c.m.nparams, 0);
	net_grad(&c, &ga, g, -1.0f);
	char name[80];
	/* Float through 8 layers: a loose tolerance, and h small enough to rarely cross a kink. */
	for (int i = 0; i < c.m.nt; i++) {
		const model_tensor *t = &c.m.t[i];
		snprintf(name, sizeof name, "%s %s", arch ? "paper" : "seed", t->name);
		size_t stride = t->n > (size_t)points ? t->n / points : 1;
		int checked = 0, bad = 0, kinks = 0;
		for (size_t k = 0; k < t->n; k += stride) {
			/* a point passes if central differences agree at one of three step sizes: a kink
			 * crossed by the larger steps is avoided by the smaller ones, while a wrong
			 * gradient disagrees at every step size */
			float *x = c.m.params + t->off + k, v = *x;
			double ana = g[t->off + k], num = 0;
			int ok = 0;
			double lo = INFINITY, hi = -INFINITY;
			for (float hh = 2e-3f; hh > 1e-4f && !ok; hh /= 4) {
				*x = v + hh;
				double lp = net_loss(&c);
				*x = v - hh;
				double lm = net_loss(&c);
				*x = v;
				num = (lp - lm) / (2.0 * hh);
				ok = fabs(num - ana) <= 1e-3 + 3e-2 * fabs(num);
				lo = fmin(lo, num);
				hi = fmax(hi, num);
			}
			/* where the three estimates disagree among themselves by more than the tolerance,
			 * the loss is not smooth at these scales (max-pool/ReLU kinks everywhere) and the
			 * point proves nothing either way: skip it (at most one per tensor).  A wrong
			 * gradient at a smooth point still fails. */
			if (!ok && hi - lo > 2 * (1e-3 + 3e-2 * fabs(num)) && kinks < 1) {
				kinks++;
				fprintf(stderr, "%s[%zu]: skipped, not smooth (estimates %.4g..%.4g)\n", name, k,
				        lo, hi);
				continue;
			}
			checked++;
			if (!ok) {
				bad++;
				fprintf(stderr, "%s[%zu]: analytic %.6g numeric %.6g\n", name, k, ana, num);
			}
		}
		CHECK_MSG(bad == 0, "%s: %d of %d points differ", name, bad, checked);
	}
	/* GRL: feature gradient linear in lambda with slope -g_domain */
	net_grad(&c, &ga, g0, 0.0f);
	net_grad(&c, &ga, gh, 0.5f);
	const model_tensor *t = &c.m.t[0];
	int bad = 0;
	for (size_t k = 0; k < t->n; k++) {
		double gdom = g[k] - g0[k];  /* lambda = -1: g_label + g_domain */
		double want = g0[k] - 0.5 * gdom;
		if (fabs(gh[k] - want) > 1e-4 + 1e-3 * fabs(want))
			bad++;
	}
	CHECK_MSG(bad == 0, "GRL: %d conv1 gradients are not g_label - lambda g_domain", bad);
	/* ... while the domain head's own gradient does not depend on lambda */
	size_t d1 = (size_t)(c.m.p.d1w - c.m.params);
	CHECK_CLOSE(gh[d1 + 3], g0[d1 + 3], 1e-6);
	free(g); free(g0); free(gh); free(c.img); free(c.y);
	model_acts_free(&c.a);
	model_acts_free(&ga);
	model_free(&c.m);
}

/* --- the model file ---------------------------------------------------------------------------- */
static void test_model_file(void)
{
	model m, r;
	CHECK(model_init(&m, MODEL_ARCH_SEED, 32, 32, 1) == 0);
	CHECK(m.F == 1200);
	model_init_params(&m, 11);
	m.stats[3] = 0.25f;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(model_write(f, &m, MODEL_KIND_MODEL, 7, 9) == 0);
	fclose(f);
	f = fmemopen(buf, len, "rb");
	int kind = -1;
	CHECK(model_read(f, "mem", &r, &kind) == 0);
	fclose(f);
	CHECK(kind == MODEL_KIND_MODEL && r.step == 7 && r.total_steps == 9 && r.F == 1200);
	CHECK(r.nparams == m.nparams && memcmp(r.params, m.params, m.nparams * 4) == 0);
	CHECK(memcmp(r.stats, m.stats, m.nstats * 4) == 0);
	model_free(&r);
	/* truncated */
	f = fmemopen(buf, len - 100, "rb");
	CHECK_ERR(model_read(f, "mem", &r, NULL), "truncated");
	fclose(f);
	/* foreign */
	char junk[200] = "hello, this is not a model";
	f = fmemopen(junk, sizeof junk, "rb");
	CHECK_ERR(model_read(f, "mem", &r, NULL), "expected a dann-train model");
	fclose(f);
	free(buf);
	/* 28x28 paper: 768 features, no BN tensors */
	model p;
	CHECK(model_init(&p, MODEL_ARCH_PAPER, 28, 28, 1) == 0);
	CHECK(p.F == 768 && p.ns == 0 && p.nt == 14);
	model_free(&p);
	/* per-domain statistics: 16 arrays, the target set of bn1, bn2, domain.bn1 after the 10;
	 * the label head's statistics shared; a round trip keeps both sets */
	model d;
	CHECK(model_init(&d, MODEL_ARCH_SEED, 28, 28, 2) == 0);
	model_init_params(&d, 3);
	CHECK(d.domains == 2 && d.ns == 16 && d.s[0].bn1m != d.s[1].bn1m &&
	      d.s[0].dbn1v != d.s[1].dbn1v && d.s[0].lbn2m == d.s[1].lbn2m);
	CHECK(d.s[1].bn1v[0] == 1.0f && d.s[1].bn2m[0] == 0.0f);
	d.s[1].bn2m[5] = 0.5f;
	f = open_memstream(&buf, &len);
	CHECK(model_write(f, &d, MODEL_KIND_MODEL, 1, 2) == 0);
	fclose(f);
	f = fmemopen(buf, len, "rb");
	CHECK(model_read(f, "mem", &r, NULL) == 0);
	fclose(f);
	CHECK(r.domains == 2 && r.nstats == d.nstats && memcmp(r.stats, d.stats, d.nstats * 4) == 0);
	CHECK(r.s[1].bn2m[5] == 0.5f && r.s[0].bn2m[5] == 0.0f);
	model_free(&r);
	/* a header that says one set over the arrays of two is corrupt */
	/* (the header array's data starts at byte 128) */
	buf[128 + offsetof(model_header, stat_sets)] = 0;
	f = fmemopen(buf, len, "rb");
	CHECK_ERR(model_read(f, "mem", &r, NULL), "corrupt model header");
	fclose(f);
	free(buf);
	model_free(&d);
	CHECK_ERR(model_init(&d, MODEL_ARCH_SEED, 28, 28, 3), "sets of BatchNorm");
	/* the paper network has no BatchNorm: one (empty) set whatever is asked */
	CHECK(model_init(&p, MODEL_ARCH_PAPER, 28, 28, 2) == 0 && p.domains == 1 && p.ns == 0);
	model_free(&p);
	model_free(&m);
}

/* --- the man page lists the parameter table -------------------------------------------------- */

/* A tensor as the page writes it: its shape, F where the feature size stands. */
static void shape_str(char *b, size_t n, const model *m, const model_tensor *t)
{
	size_t k = (size_t)snprintf(b, n, "(");
	for (int d = 0; d < t->ndim && k < n; d++) {
		if (t->shape[d] == m->F)
			k += (size_t)snprintf(b + k, n - k, "F,");
		else
			k += (size_t)snprintf(b + k, n - k, "%lld,", (long long)t->shape[d]);
	}
	if (t->ndim > 1 && k > 1)
		k--;   /* "(32,)" for one dimension, "(32,5,5,3)" otherwise */
	if (k < n)
		snprintf(b + k, n - k, ")");
}

/* man/dann-model.5's "Parameters" table, line by line ("a, b<TAB>(shape) each" for two
 * arrays of one shape), against the library's table, for both architectures. */
static void test_man_page(void)
{
	FILE *f = fopen("man/dann-model.5", "r");
	CHECK_MSG(f != NULL, "man/dann-model.5: run the test from the source folder");
	if (!f)
		return;
	char names[MODEL_MAX_TENSORS][64], shapes[MODEL_MAX_TENSORS][32], line[256];
	int n = 0, state = 0;  /* 0 before the section, 1 before its table, 2 in it */
	while (fgets(line, sizeof line, f) && state < 3) {
		line[strcspn(line, "\n")] = 0;
		if (state == 0 && !strcmp(line, ".SS Parameters"))
			state = 1;
		else if (state == 1 && !strcmp(line, ".TS"))
			state = 2;
		else if (state == 2 && !strcmp(line, ".TE"))
			state = 3;
		else if (state == 2 && strchr(line, '\t')) {
			char *tab = strchr(line, '\t'), *shape = tab + 1;
			*tab = 0;
			shape[strcspn(shape, " ")] = 0;   /* drop " each" */
			for (char *tok = strtok(line, ", "); tok && n < MODEL_MAX_TENSORS;
			     tok = strtok(NULL, ", ")) {
				snprintf(names[n], sizeof names[n], "%s", tok);
				snprintf(shapes[n], sizeof shapes[n], "%s", shape);
				n++;
			}
		}
	}
	fclose(f);
	for (int arch = MODEL_ARCH_SEED; arch <= MODEL_ARCH_PAPER; arch++) {
		model m;
		CHECK(model_init(&m, arch, 28, 28, 1) == 0);
		int k = 0;
		for (int i = 0; i < n; i++) {
			if (arch == MODEL_ARCH_PAPER && strstr(names[i], "bn"))
				continue;   /* "BatchNorm entries only for arch 0" */
			char want[32] = "(none)";
			if (k < m.nt)
				shape_str(want, sizeof want, &m, &m.t[k]);
			CHECK_MSG(k < m.nt && !strcmp(names[i], m.t[k].name) && !strcmp(shapes[i], want),
			          "dann-model(5) lists %s %s where the library has %s %s (arch %d, array %d)",
			          names[i], shapes[i], k < m.nt ? m.t[k].name : "nothing", want, arch, k);
			k++;
		}
		for (int i = 0; i < m.nt; i++)   /* a bias takes its bound from the weight before it */
			CHECK(m.t[i].init != MODEL_INIT_BIAS ||
			      (i > 0 && m.t[i - 1].init == MODEL_INIT_WEIGHT));
		CHECK_MSG(k == m.nt, "dann-model(5) lists %d arrays, the library %d (arch %d)", k, m.nt,
		          arch);
		model_free(&m);
	}
}

int main(void)
{
	rng_seed(&R, 1, 2);
	nn_set_threads(2);
	test_conv();
	test_batchnorm();
	test_relu();
	test_maxpool();
	test_dropout();
	test_linear();
	test_losses();
	test_grl();
	/* each point is 2 to 6 forwards of the whole network */
	int points = check_quick("test_nn", "the whole-network gradient checks take 2 points a tensor, "
	                                    "not 6") ? 2 : 6;
	test_network(MODEL_ARCH_PAPER, points);
	test_network(MODEL_ARCH_SEED, points);
	test_model_file();
	test_man_page();
	return check_summary("test_nn");
}
