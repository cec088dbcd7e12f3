/* test_kern.c - the convolutional blocks of lib/net/kern.h on every instruction-set path this
 * machine runs (generic, avx2, avx512), fused and unfused, against the layers of lib/net/nn.c
 * composed by hand (themselves checked by finite differences in test_nn.c): training forward
 * (output, argmax, running statistics), backward (din, dw, db, dgamma, dbeta), evaluation of
 * one block and of the two-block feature extractor, at the network's shapes for 28x28 and
 * 32x32 inputs and at shapes no kernel has tiles for; the same bytes for 1 and 2 threads on
 * each path; DANN_ISA parsing. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base/err.h"
#include "net/kern.h"
#include "net/nn.h"
#include "base/rng.h"

static rng_t R;

static float *vec(size_t n, float a)
{
	float *v = malloc((n ? n : 1) * sizeof(float));
	for (size_t i = 0; i < n; i++)
		v[i] = (float)((2 * rng_uniform(&R) - 1) * a);
	return v;
}

static float *dup(const float *v, size_t n)
{
	float *d = malloc((n ? n : 1) * sizeof(float));
	memcpy(d, v, n * sizeof(float));
	return d;
}

static double maxdiff(const float *a, const float *b, size_t n, double *scale)
{
	double d = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - b[i]);
		if (!(e <= d))
			d = e;  /* NaN too */
		if (fabs(b[i]) > s)
			s = fabs(b[i]);
	}
	*scale = s;
	return d;
}

static char tag[160];

static void compare(const char *what, const float *got, const float *want, size_t n)
{
	double s, d = maxdiff(got, want, n, &s);
	CHECK_MSG(d <= 1e-5 * (1 + s), "%s %s: max difference %g (scale %g)", tag, what, d, s);
}

/* one block's buffers: state saved by the forward and the backward's scratch */
typedef struct {
	kern_saved s, g;
	float *ws;
} blockbuf;

static void bb_alloc(blockbuf *b, const kern_block *L, int B)
{
	int OH = L->H - L->KS + 1, OW = L->W - L->KS + 1;
	size_t nc = (size_t)B * OH * OW * L->OC, np = nc / 4, ncol = (size_t)B * OH * OW * L->KS * L->KS * L->C;
	kern_saved *k[2] = {&b->s, &b->g};
	for (int i = 0; i < 2; i++) {
		k[i]->conv = calloc(nc, 4);
		k[i]->norm = calloc(nc, 4);
		k[i]->pool = calloc(np, 4);
		k[i]->cols = calloc(ncol, 4);
		k[i]->arg = calloc(np, 1);
		k[i]->mean = calloc(2 * (size_t)L->OC, 4);
		k[i]->rstd = calloc(2 * (size_t)L->OC, 4);
	}
	b->ws = aligned_alloc(64, (kern_ws_floats(L) * 4 + 63) & ~(size_t)63);
}

static void bb_free(blockbuf *b)
{
	kern_saved *k[2] = {&b->s, &b->g};
	for (int i = 0; i < 2; i++) {
		free(k[i]->conv), free(k[i]->norm), free(k[i]->pool), free(k[i]->cols);
		free(k[i]->arg), free(k[i]->mean), free(k[i]->rstd);
	}
	free(b->ws);
}

/* results of one training forward + backward */
typedef struct {
	float *r, *rm, *rv, *din, *dw, *db, *dg, *dbe;
	uint8_t *arg;
} result;

static void res_free(result *x)
{
	free(x->r), free(x->rm), free(x->rv), free(x->din), free(x->dw), free(x->db), free(x->dg);
	free(x->dbe), free(x->arg);
}

typedef struct {
	kern_block L;
	int B, groups;
	float *in, *w, *b, *g, *be, *dr, *din0, *dw0, *db0;
	size_t nin, nw, np;
} problem;

static void prob_init(problem *p, int B, int H, int C, int OC, int bn, int din, int groups)
{
	p->L = (kern_block){H, H, C, OC, 5, bn, din};
	p->B = B;
	p->groups = groups;
	int OH = H - 4;
	p->nin = (size_t)B * H * H * C;
	p->nw = (size_t)OC * 25 * C;
	p->np = (size_t)B * (OH / 2) * (OH / 2) * OC;
	p->in = vec(p->nin, 1), p->w = vec(p->nw, 0.2f), p->b = vec(OC, 0.5f);
	p->g = vec(OC, 1), p->be = vec(OC, 0.5f), p->dr = vec(p->np, 1);
	/* backward adds: every gradient starts from the same non-zero values */
	p->din0 = vec(p->nin, 0.1f), p->dw0 = vec(p->nw, 0.1f), p->db0 = vec(OC, 0.1f);
}

static void prob_free(problem *p)
{
	free(p->in), free(p->w), free(p->b), free(p->g), free(p->be), free(p->dr);
	free(p->din0), free(p->dw0), free(p->db0);
}

/* the reference: nn.c's layers one by one */
/* The pool argmax: the window position (the low 2 bits) as nn.c's; with fused BatchNorm, bit 2
 * the ReLU's mask (kern.h), which must then be the output's sign. */
static int arg_same(const uint8_t *got, const uint8_t *want, const float *r, size_t n)
{
	int masked = 0;
	for (size_t i = 0; i < n; i++)
		masked |= got[i] & 4;
	for (size_t i = 0; i < n; i++)
		if ((got[i] & 3) != want[i] || got[i] >> 3 || (masked && !(got[i] & 4) != !(r[i] > 0)))
			return 0;
	return 1;
}

static void reference(const problem *p, result *x)
{
	const kern_block *L = &p->L;
	int B = p->B, OH = L->H - L->KS + 1, OC = L->OC;
	size_t nc = (size_t)B * OH * OH * OC;
	blockbuf b;
	bb_alloc(&b, L, B);
	x->r = calloc(p->np, 4), x->arg = calloc(p->np, 1);
	x->rm = calloc(OC, 4), x->rv = calloc(OC, 4);
	x->din = dup(p->din0, p->nin), x->dw = dup(p->dw0, p->nw), x->db = dup(p->db0, OC);
	x->dg = calloc(OC, 4), x->dbe = calloc(OC, 4);
	nn_conv2d_forward(b.s.conv, b.s.cols, p->in, p->w, p->b, B, L->H, L->W, L->C, OC, L->KS);
	const float *pre = b.s.conv;
	if (L->bn) {
		nn_batchnorm_forward(b.s.norm, b.s.mean, b.s.rstd, b.s.conv, p->g, p->be,
		                     (float *[]){x->rm, x->rm}, (float *[]){x->rv, x->rv}, B * OH * OH, OC,
		                     p->groups, 1, 0.1f);
		pre = b.s.norm;
	}
	nn_maxpool2_forward(b.s.pool, x->arg, pre, B, OH, OH, OC);
	nn_relu_forward(x->r, b.s.pool, p->np);
	nn_relu_backward(b.g.pool, p->dr, x->r, p->np);
	nn_maxpool2_backward(L->bn ? b.g.norm : b.g.conv, b.g.pool, x->arg, B, OH, OH, OC);
	if (L->bn)
		nn_batchnorm_backward(b.g.conv, x->dg, x->dbe, b.g.norm, b.s.conv, b.s.mean, b.s.rstd,
		                      p->g, B * OH * OH, OC, p->groups);
	nn_conv2d_backward(L->din ? x->din : NULL, x->dw, x->db, b.g.cols, b.g.conv, b.s.cols, p->w,
	                   B, L->H, L->W, L->C, OC, L->KS);
	(void)nc;
	bb_free(&b);
}

/* the block API on the current path */
static void run(const problem *p, result *x)
{
	const kern_block *L = &p->L;
	int OC = L->OC;
	blockbuf b;
	bb_alloc(&b, L, p->B);
	x->r = calloc(p->np, 4), x->arg = calloc(p->np, 1);
	x->rm = calloc(OC, 4), x->rv = calloc(OC, 4);
	x->din = dup(p->din0, p->nin), x->dw = dup(p->dw0, p->nw), x->db = dup(p->db0, OC);
	x->dg = calloc(OC, 4), x->dbe = calloc(OC, 4);
	kern_block_forward(L, x->r, &b.s, p->in, p->w, p->b, p->g, p->be, (float *[]){x->rm, x->rm},
	                   (float *[]){x->rv, x->rv}, p->B, p->groups, 1, 0.1f, b.ws);
	memcpy(x->arg, b.s.arg, p->np);
	kern_block_backward(L, x->din, x->dw, x->db, x->dg, x->dbe, &b.g, p->dr, x->r, &b.s, p->in,
	                    p->w, p->g, p->B, p->groups, b.ws);
	bb_free(&b);
}

static int same(const result *a, const result *b, const problem *p)
{
	int OC = p->L.OC;
	return !memcmp(a->r, b->r, p->np * 4) && !memcmp(a->arg, b->arg, p->np) &&
	       !memcmp(a->rm, b->rm, OC * 4) && !memcmp(a->rv, b->rv, OC * 4) &&
	       !memcmp(a->din, b->din, p->nin * 4) && !memcmp(a->dw, b->dw, p->nw * 4) &&
	       !memcmp(a->db, b->db, OC * 4) && !memcmp(a->dg, b->dg, OC * 4) &&
	       !memcmp(a->dbe, b->dbe, OC * 4);
}

static void train_case(int B, int H, int C, int OC, int bn, int din, int groups)
{
	problem p;
	prob_init(&p, B, H, C, OC, bn, din, groups);
	result want, got, one, fused = {0};
	reference(&p, &want);
	/* fusion (kern_set_fusion) only changes blocks with BatchNorm: without, one run */
	for (int fuse = 1; fuse >= (bn ? 0 : 1); fuse--) {
		kern_set_fusion(fuse);
		snprintf(tag, sizeof tag, "[%s%s] train B%d %dx%dx%d -> OC%d bn %d din %d groups %d",
		         kern_isa_name(kern_isa()), fuse ? "" : " unfused", B, H, H, C, OC, bn, din,
		         groups);
		run(&p, &got);
		compare("relu output", got.r, want.r, p.np);
		CHECK_MSG(arg_same(got.arg, want.arg, got.r, p.np), "%s: pool argmax differs", tag);
		compare("running mean", got.rm, want.rm, OC);
		compare("running var", got.rv, want.rv, OC);
		compare("din", got.din, want.din, p.nin);
		compare("dw", got.dw, want.dw, p.nw);
		compare("dgamma", got.dg, want.dg, OC);
		compare("dbeta", got.dbe, want.dbe, OC);
		if (bn) {
			/* under BatchNorm the conv bias gradient is zero up to rounding (sums of ~1e4
			 * terms of size ~1): both sides are noise, compared absolutely */
			double sc, dd = maxdiff(got.db, want.db, OC, &sc);
			CHECK_MSG(dd <= 2e-4, "%s db: difference %g (size %g)", tag, dd, sc);
		} else {
			compare("db", got.db, want.db, OC);
		}
		/* the same bytes with 1 thread as with the 2 of `got` (main sets 2) */
		omp_set_num_threads(1);
		run(&p, &one);
		omp_set_num_threads(2);
		CHECK_MSG(same(&one, &got, &p), "%s: results depend on the thread count", tag);
		/* the forward is the same sums in the same order fused (one parallel region per
		 * block where the statistics chunks fall on images) or not: the same bytes */
		if (!fuse)
			CHECK_MSG(!memcmp(got.r, fused.r, p.np * 4) && !memcmp(got.arg, fused.arg, p.np) &&
			          !memcmp(got.rm, fused.rm, OC * 4) && !memcmp(got.rv, fused.rv, OC * 4),
			          "%s: the forward differs from the fused one", tag);
		res_free(&one);
		if (fuse && bn)
			fused = got;
		else
			res_free(&got);
	}
	if (bn)
		res_free(&fused);
	kern_set_fusion(1);
	res_free(&want);
	prob_free(&p);
}

/* A dense layer through kern_linear_* against nn_linear_*, and with 1 thread against 2: the
 * register tiles where the shapes fit them (768 inputs), nn.c where not (100). */
static void linear_case(int B, int In, int Out, int din)
{
	size_t nx = (size_t)B * In, nw = (size_t)Out * In, ny = (size_t)B * Out;
	float *in = vec(nx, 1), *w = vec(nw, 0.1f), *b = vec(Out, 0.5f), *dy = vec(ny, 1);
	float *dx0 = vec(nx, 0.1f), *dw0 = vec(nw, 0.1f), *db0 = vec(Out, 0.1f);
	float *y[3], *dx[3], *dw[3], *db[3];  /* nn.c, the path with 2 threads, with 1 */
	for (int i = 0; i < 3; i++) {
		y[i] = calloc(ny, 4);
		dx[i] = dup(dx0, nx), dw[i] = dup(dw0, nw), db[i] = dup(db0, Out);
		omp_set_num_threads(i == 2 ? 1 : 2);
		(i ? kern_linear_forward : nn_linear_forward)(y[i], in, w, b, B, In, Out);
		(i ? kern_linear_backward : nn_linear_backward)(din ? dx[i] : NULL, dw[i], db[i], dy, in,
		                                                 w, B, In, Out);
	}
	omp_set_num_threads(2);
	snprintf(tag, sizeof tag, "[%s] linear B%d %d -> %d din %d", kern_isa_name(kern_isa()), B, In,
	         Out, din);
	compare("out", y[1], y[0], ny);
	compare("din", dx[1], dx[0], nx);
	compare("dw", dw[1], dw[0], nw);
	compare("db", db[1], db[0], Out);
	CHECK_MSG(!memcmp(y[1], y[2], ny * 4) && !memcmp(dx[1], dx[2], nx * 4) &&
	          !memcmp(dw[1], dw[2], nw * 4) && !memcmp(db[1], db[2], Out * 4),
	          "%s: results depend on the thread count", tag);
	/* the input gradient alone (dw = db = NULL), nn.c's and the path's: the same bytes */
	for (int i = 0; din && i < 2; i++) {
		float *d = dup(dx0, nx);
		(i ? kern_linear_backward : nn_linear_backward)(d, NULL, NULL, dy, NULL, w, B, In, Out);
		CHECK_MSG(!memcmp(d, dx[i], nx * 4), "%s: din alone differs (%s)", tag,
		          i ? "kern" : "nn.c");
		free(d);
	}
	/* where kern_linear_rows_free, din of rows done a few at a time: the same bytes (the
	 * training step shares the heads' input gradients out by rows on that promise) */
	if (din && kern_linear_rows_free(In)) {
		float *d = dup(dx0, nx);
		for (int b0 = 0, b1; b0 < B; b0 = b1) {
			b1 = b0 + 3 < B ? b0 + 3 : B;
			kern_linear_backward(d + (size_t)b0 * In, NULL, NULL, dy + (size_t)b0 * Out, NULL, w,
			                     b1 - b0, In, Out);
		}
		CHECK_MSG(!memcmp(d, dx[1], nx * 4), "%s: din of rows 3 at a time differs", tag);
		free(d);
	}
	for (int i = 0; i < 3; i++)
		free(y[i]), free(dx[i]), free(dw[i]), free(db[i]);
	free(in), free(w), free(b), free(dy), free(dx0), free(dw0), free(db0);
}

/* evaluation: one block, and the two-block feature extractor, against nn.c */
static void eval_ref(float *out, const problem *p, const float *in, const float *rm,
                     const float *rv)
{
	const kern_block *L = &p->L;
	int B = p->B, OH = L->H - L->KS + 1, OC = L->OC;
	blockbuf b;
	bb_alloc(&b, L, B);
	nn_conv2d_forward(b.s.conv, b.s.cols, in, p->w, p->b, B, L->H, L->W, L->C, OC, L->KS);
	if (L->bn)
		nn_batchnorm_forward(b.s.norm, b.s.mean, b.s.rstd, b.s.conv, p->g, p->be,
		                     (float *[]){(float *)rm}, (float *[]){(float *)rv}, B * OH * OH, OC, 1,
		                     0, 0.1f);
	nn_maxpool2_forward(b.s.pool, b.s.arg, L->bn ? b.s.norm : b.s.conv, B, OH, OH, OC);
	nn_relu_forward(out, b.s.pool, p->np);
	bb_free(&b);
}

static void eval_case(int B, int H, int bn)
{
	/* the network's two blocks for an H x H x 3 input */
	problem p1, p2;
	prob_init(&p1, B, H, 3, 32, bn, 0, 1);
	prob_init(&p2, B, (H - 4) / 2, 32, 48, bn, 1, 1);
	float *rm1 = vec(32, 0.5f), *rv1 = vec(32, 1), *rm2 = vec(48, 0.5f), *rv2 = vec(48, 1);
	for (int o = 0; o < 32; o++)
		rv1[o] = 0.1f + rv1[o] * rv1[o];
	for (int o = 0; o < 48; o++)
		rv2[o] = 0.1f + rv2[o] * rv2[o];
	float *w1 = vec(p1.np, 0), *w2 = vec(p2.np, 0), *g1 = vec(p1.np, 0), *g2 = vec(p2.np, 0);
	eval_ref(w1, &p1, p1.in, rm1, rv1);
	eval_ref(w2, &p2, w1, rm2, rv2);
	blockbuf b1, b2;
	bb_alloc(&b1, &p1.L, B);
	bb_alloc(&b2, &p2.L, B);
	kern_block L[2] = {p1.L, p2.L};
	kern_saved s[2] = {b1.s, b2.s};
	const float *l1[6] = {p1.w, p1.b, bn ? p1.g : NULL, p1.be, rm1, rv1};
	const float *l2[6] = {p2.w, p2.b, bn ? p2.g : NULL, p2.be, rm2, rv2};
	for (int fuse = 1; fuse >= 0; fuse--) {
		kern_set_fusion(fuse);
		snprintf(tag, sizeof tag, "[%s%s] eval B%d %dx%dx3 bn %d", kern_isa_name(kern_isa()),
		         fuse ? "" : " unfused", B, H, H, bn);
		kern_features_eval(L, g2, g1, s, p1.in, l1, l2, B, b1.ws, b2.ws);
		compare("block 1", g1, w1, p1.np);
		compare("features", g2, w2, p2.np);
		/* one block on its own */
		memset(g2, 0, p2.np * 4);
		kern_block_forward(&L[1], g2, &s[1], w1, p2.w, p2.b, p2.g, p2.be, (float *[]){rm2},
		                   (float *[]){rv2}, B, 1, 0, 0.1f, b2.ws);
		compare("block 2 alone", g2, w2, p2.np);
	}
	kern_set_fusion(1);
	float *bufs[] = {rm1, rv1, rm2, rv2, w1, w2, g1, g2};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		free(bufs[i]);
	bb_free(&b1), bb_free(&b2);
	prob_free(&p1), prob_free(&p2);
}

static void isa_env(void)
{
	const char *names[] = {"generic", "avx2", "avx512"};
	for (int i = 0; i < KERN_ISA_N; i++) {
		CHECK(!strcmp(kern_isa_name(i), names[i]));
		setenv("DANN_ISA", names[i], 1);
		if (kern_isa_runs(i)) {
			CHECK(kern_isa_init() == 0 && kern_isa() == i);
		} else {
			CHECK_ERR(kern_isa_init(), "cannot run here");
			CHECK(kern_isa_set(i) < 0);
		}
	}
	CHECK(kern_isa_runs(KERN_ISA_GENERIC));
	setenv("DANN_ISA", "sse9", 1);
	CHECK_ERR(kern_isa_init(), "DANN_ISA=sse9: expected generic, avx2, avx512 or auto");
	setenv("DANN_ISA", "auto", 1);
	CHECK(kern_isa_init() == 0);
	int auto_isa = kern_isa();
	unsetenv("DANN_ISA");
	CHECK(kern_isa_init() == 0 && kern_isa() == auto_isa);
	/* auto is the best path that runs */
	for (int i = auto_isa + 1; i < KERN_ISA_N; i++)
		CHECK(!kern_isa_runs(i));
}

int main(void)
{
	rng_seed(&R, 42, 0);
	nn_set_threads(2);
	isa_env();
	for (int isa = 0; isa < KERN_ISA_N; isa++) {
		if (!kern_isa_runs(isa)) {
			printf("test_kern: %s path not run (not compiled in or not supported by this CPU)\n",
			       kern_isa_name(isa));
			continue;
		}
		CHECK(kern_isa_set(isa) == 0);
		printf("test_kern: %s path\n", kern_isa_name(isa));
		/* conv1 and conv2 of the network at 28x28 and 32x32, with and without BN */
		for (int bn = 1; bn >= 0; bn--) {
			train_case(5, 28, 3, 32, bn, 0, 1);
			train_case(6, 32, 3, 32, bn, 0, 2);
			train_case(9, 12, 32, 48, bn, 1, 1);
			train_case(10, 14, 32, 48, bn, 1, 2);
		}
		train_case(3, 28, 3, 32, 1, 1, 1);  /* conv1 with an input gradient */
		train_case(20, 12, 32, 48, 1, 1, 2);
		train_case(1, 14, 32, 48, 1, 1, 1);
		/* 8 or 16 images a group: the statistics chunks fall on images (one region) */
		train_case(16, 28, 3, 32, 1, 0, 2);
		train_case(16, 12, 32, 48, 1, 1, 1);
		/* shapes without tiles: the layers of nn.c (and the portable fused BatchNorm) */
		train_case(4, 16, 8, 24, 1, 1, 2);
		train_case(4, 10, 16, 16, 1, 1, 1);
		/* odd maps (9x9): the pool drops the last row and column, as nn.c's; only the layers
		 * one by one take them (and the direct convolutions) */
		train_case(4, 13, 16, 16, 1, 1, 2);
		train_case(3, 13, 16, 16, 0, 1, 1);
		/* the network's dense layers: fc1 of both heads (28x28, 32x32: a narrower last column
		 * tile), the label head's fc2; odd sizes */
		linear_case(128, 768, 100, 1);
		linear_case(8, 1200, 100, 1);
		linear_case(64, 768, 100, 0);
		linear_case(64, 100, 100, 1);
		linear_case(7, 96, 13, 1);
		for (int bn = 0; bn < 2; bn++) {
			eval_case(5, 28, bn);
			eval_case(3, 32, bn);
		}
	}
	return check_summary("test_kern");
}
