/* kern.h - the convolutional layers of the network as one API: conv -> [BatchNorm] -> 2x2
 * max-pool -> ReLU blocks, forward and backward (and the wide dense layers, at the end).
 * Which implementation runs is decided here, in one place (lib/net/kern.c), not by the caller:
 *   - the instruction set: the kernels of lib/net/kern_simd.h are compiled for portable C
 *     ("generic"), AVX2 + FMA ("avx2") and AVX-512 ("avx512") into the same binary; the best
 *     the CPU runs is taken, or the one the environment variable DANN_ISA names;
 *   - fused or not: direct convolutions with register tiles and BatchNorm + pool + ReLU fused
 *     into their neighbours where the instruction set has kernels for the shapes (e.g. OC a
 *     multiple of 16 up to 48, C up to 64, even conv maps for anything fused with the pool);
 *     otherwise the layers of nn.h one by one (im2col + sgemm for the convolution).  Every
 *     shape runs: the choice changes only the speed and the rounding.
 * Same contracts as nn.h: NHWC activations, weights (OC,KS,KS,C), valid convolution with
 * stride 1, a 2x2 stride-2 pool that drops the last row and column of an odd map, backward
 * ADDS into every weight and input gradient (one exception: kern_blocks_backward's din_store
 * stores an input gradient, so that it need not be cleared first).  The caller owns every
 * buffer, including the kernels' workspace (kern_ws_floats), so two models can run in one process.
 *
 * Determinism: within one path, results do not depend on the thread count (fixed chunks, as
 * nn.h).  Across paths the functions agree to floating-point rounding (different summation
 * orders and fused multiply-adds): tests/unit/test_kern.c checks each path against nn.c per
 * layer to 1e-5 of the layer's largest magnitude (plus 1e-5), and test_nn_isa.c whole training
 * runs against the generic path to 1e-4 on the same scale. */
#ifndef DN_KERN_H
#define DN_KERN_H

#include <stddef.h>
#include <stdint.h>

/* --- instruction-set paths ------------------------------------------------------------------ */
enum { KERN_ISA_GENERIC = 0, KERN_ISA_AVX2 = 1, KERN_ISA_AVX512 = 2, KERN_ISA_N = 3 };

/* Choose the path: DANN_ISA when set (generic, avx2, avx512 or auto), else the best this CPU
 * runs.  Returns 0, or DN_ERANGE (err_msg says why) when DANN_ISA names no path or one this
 * binary or CPU cannot run; then the automatic choice stays in effect.  Tools call it before
 * any work; the layer calls run it themselves (ignoring the error) when nobody did. */
int kern_isa_init(void);
/* The path in use, and a path's name ("generic", "avx2", "avx512"). */
int kern_isa(void);
const char *kern_isa_name(int isa);
/* 1 if this binary has the path's kernels and the CPU (and OS) can run them. */
int kern_isa_runs(int isa);
/* One line for -v: the path in use and the paths this binary and CPU run, into buf. */
const char *kern_isa_describe(char *buf, size_t n);
/* Force a path (tests, benchmarks).  Returns 0 or DN_ERANGE when it cannot run here. */
int kern_isa_set(int isa);
/* 0: never fuse BatchNorm backward into the conv backward, the training forward's BatchNorm
 * statistics into the conv, nor the evaluation layers into the conv (tests: the unfused
 * kernels run too); 1 (default): fuse where possible. */
void kern_set_fusion(int on);

/* --- conv -> [BN] -> pool -> ReLU ------------------------------------------------------------ */
typedef struct {
	int H, W, C;   /* input (B,H,W,C) */
	int OC, KS;    /* filters; the conv map is OH = H-KS+1 by OW = W-KS+1, the pooled map
	                * OH/2 by OW/2 (rounded down) */
	int bn;        /* BatchNorm between the conv and the pool */
	int din;       /* the backward computes the input gradient */
} kern_block;

/* What the training forward saves for the backward (and, in a gradient set, the backward's
 * scratch); OH/2, OW/2 rounded down.  conv (B,OH,OW,OC) always; pool (B,OH/2,OW/2,OC): the
 * pooled map, or with fused BatchNorm the BN input at each window's argmax; norm (B,OH,OW,OC)
 * and cols (B*OH*OW, KS*KS*C) for the layer-by-layer path; arg (B,OH/2,OW/2,OC) pool argmax
 * (with fused BatchNorm, + 4 where the output is positive: the ReLU's mask);
 * mean and rstd (groups,OC). */
typedef struct {
	float *conv, *norm, *pool, *cols;
	uint8_t *arg;
	float *mean, *rstd;
} kern_saved;

/* Workspace of one block (packed weights, per-chunk partial sums), in floats. */
size_t kern_ws_floats(const kern_block *L);

/* r (B,OH/2,OW/2,OC) = ReLU(pool(BN(conv(in)))).  train: BN with batch statistics over
 * `groups` equal consecutive groups of images, running statistics rm[g], rv[g] updated with
 * momentum mom (as nn_batchnorm_forward), s filled for the backward; otherwise BN with rm[0],
 * rv[0] (s->conv, norm, pool, cols may be used as scratch).  gamma, beta, rm, rv unused
 * without BN. */
void kern_block_forward(const kern_block *L, float *r, kern_saved *s, const float *in,
                        const float *w, const float *b, const float *gamma, const float *beta,
                        float *const *rm, float *const *rv, int B, int groups, int train,
                        float mom, float *ws);
/* From dr (the gradient at r) and the forward's s: adds into din (when L->din), dw, db,
 * dgamma, dbeta (BN only).  gs: scratch of the same shapes as s (any contents: the
 * layer-by-layer path clears what it adds into). */
void kern_block_backward(const kern_block *L, float *din, float *dw, float *db, float *dgamma,
                         float *dbeta, const kern_saved *gs, const float *dr, const float *r,
                         const kern_saved *s, const float *in, const float *w,
                         const float *gamma, int B, int groups, float *ws);

/* One block's backward arguments, as kern_block_backward's; din_store 1: din is stored, not
 * added into (the one exception to "backward adds": the caller need not clear it). */
typedef struct {
	float *din, *dw, *db, *dgamma, *dbeta;
	const kern_saved *gs;
	const float *dr, *r;
	const kern_saved *s;
	const float *in, *w, *gamma;
	float *ws;
	int din_store;
} kern_bwd_args;
/* n blocks' kern_block_backward, L[0] with a[0] first (the feature extractor's backward: block 2
 * then block 1, a[0].din being a[1].dr), the same bytes; in one parallel region where the path
 * fuses them all (one wake-up of the threads per block fewer).  With din_store the fused path
 * clears each image's input gradient in cache just before its sums, the others all of din
 * first.  then (may be NULL), once every gradient is complete: then(arg) called by every thread
 * of a parallel region (the same region where the blocks ran fused, after a barrier: its
 * worksharing loops share out among the threads). */
void kern_blocks_backward(const kern_block *L, const kern_bwd_args *a, int n, int B, int groups,
                          void (*then)(void *), void *arg);

/* Two blocks in evaluation mode (the feature extractor of dann-embed): feat = block 2 of
 * block 1 of x, r1 receives block 1's output.  l1, l2: {weight, bias, gamma, beta, running
 * mean, running var}; the last four are read only when the block has BN (L[i].bn).  One image at a time through both layers where the
 * path has fused kernels; s[2] scratch for the layer-by-layer path; ws, ws2 each block's
 * workspace. */
void kern_features_eval(const kern_block L[2], float *feat, float *r1, kern_saved s[2],
                        const float *x, const float *const l1[6], const float *const l2[6],
                        int B, float *ws, float *ws2);

/* --- dense layers ------------------------------------------------------------------------------
 * out (B,Out) = in (B,In) x w^T + b, w (Out,In), and its backward, which adds into din (may be
 * NULL), dw and db (NULL together: din alone, the same bytes as with them; in unused): as nn_linear_forward / nn_linear_backward (nn.h), by register-tile kernels
 * on the avx2 and avx512 paths where the shapes fit them (In a multiple of the vector width;
 * the forward also B and Out multiples of its tile), else by nn.c.  Within a path the bytes do
 * not depend on the thread count. */
void kern_linear_forward(float *out, const float *in, const float *w, const float *b, int B,
                         int In, int Out);
void kern_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                          const float *w, int B, int In, int Out);
/* 1 when kern_linear_backward's din of In inputs is its own sums per row on this path (any
 * split of the rows gives the same bytes); 0 where nn.c's OpenBLAS products run (their
 * rounding depends on the rows done together) */
int kern_linear_rows_free(int In);

#endif
