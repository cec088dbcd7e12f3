/* kern_impl.h - internal to the kern module: the table of one instruction set's kernels.
 *
 * lib/net/kern_simd.h is compiled three times (lib/net/kern_generic.c, lib/net/kern_avx2.c,
 * lib/net/kern_avx512.c, the last two with their -m flags from mk/kern.mk); each compile fills one
 * kern_ops.  lib/net/kern.c picks one at run time and is the only caller.  A file compiled without
 * its instruction set (the fuzz and valgrind builds, another architecture) has compiled = 0.
 *
 * Every function returns 0, or -1 when it does not handle the shapes (then it wrote nothing).
 * Shapes: input (B,H,W,C), OC filters of KS x KS, OH = H-KS+1, OW = W-KS+1; conv-map functions
 * take the conv output size (B,H,W,C) as H, W, C.  ws is the caller's workspace of
 * kern_ws_floats() floats (kern.h). */
#ifndef DN_KERN_IMPL_H
#define DN_KERN_IMPL_H

#include <stdint.h>

#include "net/kern.h"

typedef struct {
	int compiled;      /* built with the instruction set */
	const char *name;
	/* 1 if the direct convolutions handle this layer (forward, dw, db; din too when din) */
	int (*conv_supported)(int H, int W, int C, int OC, int KS, int din);
	void (*conv_fwd)(float *out, const float *in, const float *w, const float *b, int B, int H,
	                 int W, int C, int OC, int KS, float *ws);
	/* adds into din (may be NULL), dw, db */
	void (*conv_bwd)(float *din, float *dw, float *db, const float *dout, const float *in,
	                 const float *w, int B, int H, int W, int C, int OC, int KS, float *ws);
	/* training BatchNorm (batch statistics) + pool + ReLU: r, arg, mean, rstd and xa, the BN
	 * input at each window's argmax (B,H/2,W/2,C), which is all the backward's BN sums need */
	int (*bn_pool_relu_fwd)(float *r, uint8_t *arg, float *xa, float *mean, float *rstd,
	                        const float *x, const float *gamma, const float *beta,
	                        float *const *rm, float *const *rv, int B, int H, int W, int C,
	                        int groups, float mom);
	/* conv_fwd then bn_pool_relu_fwd in one (the conv output still stored into cx) */
	int (*conv_bn_pool_fwd)(float *r, uint8_t *arg, float *xa, float *mean, float *rstd,
	                        float *cx, const float *in, const float *w, const float *b,
	                        const float *gamma, const float *beta, float *const *rm,
	                        float *const *rv, int B, int H, int W, int C, int OC, int KS,
	                        int groups, float mom, float *ws);
	/* its backward: stores the BN input's gradient into dx, adds into dgamma, dbeta (the
	 * ReLU's mask from the forward's arg, kern_saved in kern.h: the output is not read) */
	int (*relu_pool_bn_bwd)(float *dx, float *dgamma, float *dbeta, const float *dr,
	                        const uint8_t *arg, const float *x, const float *xa, const float *mean,
	                        const float *rstd, const float *gamma, int B, int H, int W, int C,
	                        int groups);
	/* relu_pool_bn_bwd then conv_bwd, for n blocks with BN one after the other (a[i] block
	 * L[i]'s arguments, as kern_block_backward's), in one parallel region */
	int (*conv_bn_bwd)(const kern_block *L, const kern_bwd_args *a, int n, int B, int groups,
	                   void (*then)(void *), void *arg);
	/* evaluation conv -> BN (running statistics, gamma NULL: none) -> pool -> ReLU */
	int (*conv_pool_eval)(float *out, const float *in, const float *w, const float *b,
	                      const float *gamma, const float *beta, const float *rmean,
	                      const float *rvar, int B, int H, int W, int C, int OC, int KS, float *ws);
	/* two such layers, one image at a time through both; ws2 the second layer's workspace */
	int (*features_eval)(float *feat, float *p1, const float *x, const float *const l1[6],
	                     const float *const l2[6], int B, int H, int W, int C, int C1, int C2,
	                     int KS, float *ws, float *ws2);
	/* dense layers, as kern_linear_forward / kern_linear_backward (kern.h) */
	int (*fc_fwd)(float *out, const float *in, const float *w, const float *b, int B, int In,
	              int Out);
	int (*fc_bwd)(float *din, float *dw, float *db, const float *dout, const float *in,
	              const float *w, int B, int In, int Out);
	/* 1 if fc_bwd handles In inputs (then for any B, each row of din its own sums) */
	int (*fc_bwd_fits)(int In);
} kern_ops;

extern const kern_ops kern_ops_generic, kern_ops_avx2, kern_ops_avx512;

#endif
