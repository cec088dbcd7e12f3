/* kern.c - the one place that decides which implementation of a convolutional block runs
 * (kern.h): the instruction-set path, and fused kernels or the layers of nn.c one by one. */
#include "net/kern.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/kern_impl.h"
#include "net/nn.h"

static const kern_ops *const paths[KERN_ISA_N] = {&kern_ops_generic, &kern_ops_avx2,
                                                  &kern_ops_avx512};
static int cur = -1, fusion = 1;

const char *kern_isa_name(int isa)
{
	return isa >= 0 && isa < KERN_ISA_N ? paths[isa]->name : "?";
}

int kern_isa_runs(int isa)
{
	if (isa < 0 || isa >= KERN_ISA_N || !paths[isa]->compiled)
		return 0;
	if (isa == KERN_ISA_GENERIC)
		return 1;
#if defined(__x86_64__) || defined(__i386__)
	/* __builtin_cpu_supports asks CPUID and, for AVX and AVX-512, whether the OS saves the
	 * registers (XGETBV) */
	__builtin_cpu_init();
	if (isa == KERN_ISA_AVX2)
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
	       __builtin_cpu_supports("fma");
#else
	return 0;
#endif
}

static int best(void)
{
	for (int i = KERN_ISA_N - 1; i > 0; i--)
		if (kern_isa_runs(i))
			return i;
	return KERN_ISA_GENERIC;
}

int kern_isa_set(int isa)
{
	if (!kern_isa_runs(isa))
		return err_set(DN_ERANGE, "the %s kernels cannot run here (%s)", kern_isa_name(isa),
		               isa >= 0 && isa < KERN_ISA_N && paths[isa]->compiled
		                   ? "this CPU does not support them"
		                   : "not compiled into this binary");
	cur = isa;
	return 0;
}

int kern_isa_init(void)
{
	cur = best();
	const char *e = getenv("DANN_ISA");
	if (!e || !*e || !strcmp(e, "auto"))
		return 0;
	for (int i = 0; i < KERN_ISA_N; i++)
		if (!strcmp(e, paths[i]->name)) {
			if (kern_isa_set(i) < 0)
				return err_set(DN_ERANGE, "DANN_ISA=%s: %s", e, err_msg());
			return 0;
		}
	return err_set(DN_ERANGE, "DANN_ISA=%s: expected generic, avx2, avx512 or auto", e);
}

int kern_isa(void)
{
	if (cur < 0)
		(void)kern_isa_init();
	return cur;
}

const char *kern_isa_describe(char *buf, size_t n)
{
	const char *e = getenv("DANN_ISA");
	int k = snprintf(buf, n, "kernels: %s (%s%s; this binary and CPU run:",
	                 kern_isa_name(kern_isa()), e && *e ? "DANN_ISA=" : "chosen automatically",
	                 e && *e ? e : "");
	for (int i = 0; i < KERN_ISA_N; i++)
		if (kern_isa_runs(i) && k >= 0 && (size_t)k < n)
			k += snprintf(buf + k, n - k, " %s", kern_isa_name(i));
	if (k >= 0 && (size_t)k < n)
		snprintf(buf + k, n - k, ")");
	return buf;
}

void kern_set_fusion(int on)
{
	fusion = on;
}

static const kern_ops *ops(void)
{
	return paths[kern_isa()];
}

size_t kern_ws_floats(const kern_block *L)
{
	size_t w = ((size_t)L->OC * L->KS * L->KS * L->C + 15) & ~(size_t)15;
	return w * (1 + NN_CHUNKS) + 64 + (size_t)NN_CHUNKS * 64;
}

/* the direct convolutions run this block (forward and backward must agree: the direct forward
 * writes no im2col rows for nn.c's backward) */
static int direct(const kern_ops *k, const kern_block *L)
{
	return k->conv_supported && k->conv_supported(L->H, L->W, L->C, L->OC, L->KS, L->din);
}

void kern_block_forward(const kern_block *L, float *r, kern_saved *s, const float *in,
                        const float *w, const float *b, const float *gamma, const float *beta,
                        float *const *rm, float *const *rv, int B, int groups, int train,
                        float mom, float *ws)
{
	const kern_ops *k = ops();
	int OH = L->H - L->KS + 1, OW = L->W - L->KS + 1, OC = L->OC;
	int dir = direct(k, L);
	if (!train && fusion && k->conv_pool_eval &&
	    k->conv_pool_eval(r, in, w, b, L->bn ? gamma : NULL, beta, L->bn ? rm[0] : NULL,
	                      L->bn ? rv[0] : NULL, B, L->H, L->W, L->C, OC, L->KS, ws) == 0)
		return;
	/* training: conv + BN + pool + ReLU in one parallel region */
	if (L->bn && train && dir && fusion && k->conv_bn_pool_fwd &&
	    k->conv_bn_pool_fwd(r, s->arg, s->pool, s->mean, s->rstd, s->conv, in, w, b, gamma, beta,
	                        rm, rv, B, L->H, L->W, L->C, OC, L->KS, groups, mom, ws) == 0)
		return;
	if (dir)
		k->conv_fwd(s->conv, in, w, b, B, L->H, L->W, L->C, OC, L->KS, ws);
	else
		nn_conv2d_forward(s->conv, s->cols, in, w, b, B, L->H, L->W, L->C, OC, L->KS);
	/* training: BN + pool + ReLU fused; the normalised map is never written */
	if (L->bn && train &&
	    k->bn_pool_relu_fwd(r, s->arg, s->pool, s->mean, s->rstd, s->conv, gamma, beta, rm, rv, B,
	                        OH, OW, OC, groups, mom) == 0)
		return;
	const float *pre = s->conv;
	if (L->bn) {
		nn_batchnorm_forward(s->norm, s->mean, s->rstd, s->conv, gamma, beta, rm, rv, B * OH * OW,
		                     OC, groups, train, mom);
		pre = s->norm;
	}
	nn_maxpool2_forward(s->pool, s->arg, pre, B, OH, OW, OC);
	nn_relu_forward(r, s->pool, (size_t)B * (OH / 2) * (OW / 2) * OC);
}

/* one block, the fused kernel where it fits, else the layers one by one */
static void block_backward(const kern_block *L, const kern_bwd_args *a, int B, int groups)
{
	const kern_ops *k = ops();
	int OH = L->H - L->KS + 1, OW = L->W - L->KS + 1, OC = L->OC;
	int dir = direct(k, L);
	float *din = L->din ? a->din : NULL, *dw = a->dw, *db = a->db;
	const kern_saved *gs = a->gs, *s = a->s;
	/* ReLU + pool + BN + conv backward in one: the conv-output gradient is never stored */
	if (L->bn && dir && fusion && k->conv_bn_bwd &&
	    k->conv_bn_bwd(L, a, 1, B, groups, NULL, NULL) == 0)
		return;
	if (din && a->din_store)
		memset(din, 0, (size_t)B * L->H * L->W * L->C * sizeof(float));
	/* the layers one by one add into their scratch gradients: cleared here (the fused
	 * relu_pool_bn_bwd stores into gs->conv) */
	size_t nc = (size_t)B * OH * OW * OC, np = (size_t)B * (OH / 2) * (OW / 2) * OC;
	if (!(L->bn && k->relu_pool_bn_bwd(gs->conv, a->dgamma, a->dbeta, a->dr, s->arg, s->conv,
	                                   s->pool, s->mean, s->rstd, a->gamma, B, OH, OW, OC,
	                                   groups) == 0)) {
		memset(gs->pool, 0, np * sizeof(float));
		memset(gs->conv, 0, nc * sizeof(float));
		if (L->bn)
			memset(gs->norm, 0, nc * sizeof(float));
		nn_relu_backward(gs->pool, a->dr, a->r, np);
		float *dpre = L->bn ? gs->norm : gs->conv;
		nn_maxpool2_backward(dpre, gs->pool, s->arg, B, OH, OW, OC);
		if (L->bn)
			nn_batchnorm_backward(gs->conv, a->dgamma, a->dbeta, gs->norm, s->conv, s->mean,
			                      s->rstd, a->gamma, B * OH * OW, OC, groups);
	}
	if (dir)
		k->conv_bwd(din, dw, db, gs->conv, a->in, a->w, B, L->H, L->W, L->C, OC, L->KS, a->ws);
	else
		nn_conv2d_backward(din, dw, db, gs->cols, gs->conv, s->cols, a->w, B, L->H, L->W, L->C,
		                   OC, L->KS);
}

void kern_block_backward(const kern_block *L, float *din, float *dw, float *db, float *dgamma,
                         float *dbeta, const kern_saved *gs, const float *dr, const float *r,
                         const kern_saved *s, const float *in, const float *w,
                         const float *gamma, int B, int groups, float *ws)
{
	kern_bwd_args a = {din, dw, db, dgamma, dbeta, gs, dr, r, s, in, w, gamma, ws, 0};
	block_backward(L, &a, B, groups);
}

void kern_blocks_backward(const kern_block *L, const kern_bwd_args *a, int n, int B, int groups,
                          void (*then)(void *), void *arg)
{
	const kern_ops *k = ops();
	int all = fusion && k->conv_bn_bwd != NULL;
	for (int i = 0; i < n && all; i++)
		all = L[i].bn && direct(k, &L[i]);
	if (all && k->conv_bn_bwd(L, a, n, B, groups, then, arg) == 0)
		return;
	for (int i = 0; i < n; i++)
		block_backward(&L[i], &a[i], B, groups);
	if (then) {
#pragma omp parallel
		then(arg);
	}
}

void kern_features_eval(const kern_block L[2], float *feat, float *r1, kern_saved s[2],
                        const float *x, const float *const l1[6], const float *const l2[6],
                        int B, float *ws, float *ws2)
{
	const kern_ops *k = ops();
	/* the fused kernels take "no BN" as a NULL gamma: a block without BN passes no statistics */
	const float *f1[6] = {l1[0], l1[1]}, *f2[6] = {l2[0], l2[1]};
	for (int i = 2; i < 6; i++) {
		f1[i] = L[0].bn ? l1[i] : NULL;
		f2[i] = L[1].bn ? l2[i] : NULL;
	}
	if (fusion && k->features_eval && L[0].OC == L[1].C &&
	    k->features_eval(feat, r1, x, f1, f2, B, L[0].H, L[0].W, L[0].C, L[0].OC, L[1].OC,
	                     L[0].KS, ws, ws2) == 0)
		return;
	const float *const *l[2] = {l1, l2};
	for (int i = 0; i < 2; i++) {
		const float *const *p = l[i];
		kern_block_forward(&L[i], i ? feat : r1, &s[i], i ? r1 : x, p[0], p[1], p[2], p[3],
		                   (float *const[]){(float *)p[4]}, (float *const[]){(float *)p[5]}, B, 1,
		                   0, 0.1f, i ? ws2 : ws);
	}
}

void kern_linear_forward(float *out, const float *in, const float *w, const float *b, int B,
                         int In, int Out)
{
	const kern_ops *k = ops();
	if (!(k->fc_fwd && k->fc_fwd(out, in, w, b, B, In, Out) == 0))
		nn_linear_forward(out, in, w, b, B, In, Out);
}

void kern_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                          const float *w, int B, int In, int Out)
{
	const kern_ops *k = ops();
	if (!(k->fc_bwd && k->fc_bwd(din, dw, db, dout, in, w, B, In, Out) == 0))
		nn_linear_backward(din, dw, db, dout, in, w, B, In, Out);
}

int kern_linear_rows_free(int In)
{
	const kern_ops *k = ops();
	return k->fc_bwd && k->fc_bwd_fits(In);
}
