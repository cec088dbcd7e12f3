/* nn.h - neural-network layers as forward/backward pairs of free functions (llm.c style).
 *
 * Layout: activations are NHWC, i.e. (B,H,W,C) with the channel fastest, and dense layers are
 * (B,features).  A convolution is im2col + one sgemm, with the patch rows (B*OH*OW, KH*KW*C)
 * in (ky,kx,c) order, so the output rows are NHWC without a transpose.
 *
 * Conventions:
 *  - outputs first, then saved state, then inputs, then parameters, then sizes;
 *  - forward saves what backward needs (im2col rows, BatchNorm mean/rstd, pool argmax);
 *  - backward ADDS into every gradient it produces (parameter gradients and d-inputs), so one
 *    zero of the gradient block per step is all the bookkeeping (llm.c);
 *  - all reductions are split into a fixed number of chunks (NN_CHUNKS) combined in a fixed
 *    order, so results do not depend on the OpenMP thread count (the only thread-dependent
 *    piece would be a multi-threaded BLAS, which nn_set_threads() pins to one thread).
 * Nothing here allocates; callers own every buffer. */
#ifndef DN_NN_H
#define DN_NN_H

#include <stddef.h>
#include <stdint.h>

#define NN_CHUNKS 8      /* fixed partition of reductions (determinism) */
#define NN_BN_EPS 1e-5f  /* PyTorch's default */

/* Use `n` OpenMP threads for the layers; OpenBLAS is pinned to 1 thread (we split GEMMs into
 * fixed chunks ourselves, which measures faster for these small shapes and keeps results
 * fixed). */
void nn_set_threads(int n);

/* Convert uint8 images (B,H,W,C) with C = 1 or 3 to float (B,H,W,3) in [-1,1]: x/127.5 - 1.
 * Grayscale is replicated to 3 channels. */
void nn_input_from_u8(float *out /* (B,H,W,3) */, const uint8_t *in /* (B,H,W,C) */,
                      int B, int H, int W, int C);
/* The same for npix pixels on the calling thread (for a caller's own parallel loop). */
void nn_input_pixels_u8(float *out /* (npix,3) */, const uint8_t *in /* (npix,C) */,
                        int64_t npix, int C);

/* --- conv2d: valid, stride 1, square kernel KS --------------------------------------------
 * out (B,OH,OW,OC) = im2col(in) (P,K) x w^T (K,OC) + b, P = B*OH*OW, K = KS*KS*C,
 * OH = H-KS+1, OW = W-KS+1.  `cols` (P,K) is filled here and kept for backward. */
void nn_conv2d_forward(float *out /* (B,OH,OW,OC) */, float *cols /* (P,K) */,
                       const float *in /* (B,H,W,C) */, const float *w /* (OC,KS,KS,C) */,
                       const float *b /* (OC) */, int B, int H, int W, int C, int OC, int KS);
/* din may be NULL (first layer); then dcols is unused and may be NULL. */
void nn_conv2d_backward(float *din /* (B,H,W,C) or NULL */, float *dw /* (OC,KS,KS,C) */,
                        float *db /* (OC) */, float *dcols /* scratch (P,K) */,
                        const float *dout /* (B,OH,OW,OC) */, const float *cols /* (P,K) */,
                        const float *w /* (OC,KS,KS,C) */, int B, int H, int W, int C, int OC,
                        int KS);

/* --- batch normalisation over rows (N,C): N = B*H*W for conv maps, N = B for dense ------------
 * Training: the N rows are split into `groups` equal consecutive parts, each normalised with
 * its own batch statistics (the source and target halves of a DANN batch, as when PyTorch runs
 * the two halves through the network separately); group g updates the running statistics
 * run_mean[g], run_var[g] (groups entries; the same pointers in every entry: one set updated
 * once per group, in order): r = (1-m) r + m * stat, with the unbiased variance (as PyTorch).
 * mean/rstd (groups,C) are saved for backward.  Evaluation (train = 0): the running statistics
 * run_mean[0], run_var[0]. */
/* The end of a BatchNorm statistics pass: sums s1 (of x) and s2 (of x^2) in NN_CHUNKS fixed
 * chunks over R rows, combined in a fixed order into mean and 1/sqrt(var + eps) (biased
 * variance), and the running statistics updated with the unbiased variance (as PyTorch; not
 * when run_mean and run_var are NULL: the threads of a parallel region each take the mean and
 * rstd for themselves, one of them updating the running statistics, with no barrier). */
void nn_bn_stats_finish(int C, const double (*s1)[C], const double (*s2)[C], int64_t R,
                        float *mean, float *rstd, float *run_mean, float *run_var, float momentum);
/* The end of a BatchNorm backward's sums pass: s1 (of dy) and s2 (of dy xhat) in NN_CHUNKS
 * fixed chunks over R rows, combined in a fixed order: added into dbeta and dgamma, and
 * k1 = mean(dy), k2 = mean(dy xhat) for dx = gamma rstd (dy - k1 - xhat k2); dgamma and dbeta
 * may be NULL (k1 and k2 alone). */
void nn_bn_bwd_finish(int C, const double (*s1)[C], const double (*s2)[C], int64_t R,
                      float *dgamma, float *dbeta, float *k1, float *k2);
void nn_batchnorm_forward(float *out /* (N,C) */, float *mean /* (G,C) */, float *rstd /* (G,C) */,
                          const float *in /* (N,C) */, const float *gamma /* (C) */,
                          const float *beta /* (C) */, float *const *run_mean /* [groups] (C) */,
                          float *const *run_var /* [groups] (C) */, int N, int C, int groups,
                          int train, float momentum);
void nn_batchnorm_backward(float *din /* (N,C) */, float *dgamma /* (C) */, float *dbeta /* (C) */,
                           const float *dout /* (N,C) */, const float *in /* (N,C) */,
                           const float *mean /* (G,C) */, const float *rstd /* (G,C) */,
                           const float *gamma /* (C) */, int N, int C, int groups);

/* --- ReLU ---------------------------------------------------------------------------------- */
void nn_relu_forward(float *out, const float *in, size_t n);
/* Uses the output (out > 0), so it works in place too. */
void nn_relu_backward(float *din, const float *dout, const float *out, size_t n);

/* --- max-pool 2x2, stride 2 (H, W even or the last row/column dropped: OH = H/2) ----------- */
void nn_maxpool2_forward(float *out /* (B,OH,OW,C) */, uint8_t *arg /* (B,OH,OW,C) 0..3 */,
                         const float *in /* (B,H,W,C) */, int B, int H, int W, int C);
void nn_maxpool2_backward(float *din /* (B,H,W,C) */, const float *dout /* (B,OH,OW,C) */,
                          const uint8_t *arg /* (B,OH,OW,C) */, int B, int H, int W, int C);

/* --- Dropout2d: whole channels dropped with probability p, survivors scaled by 1/(1-p) -------
 * The mask (B,C) is a pure function of (seed, step, b*C + c), so it does not depend on threads
 * and a resumed run draws the same masks. */
void nn_dropout2d_mask(float *mask /* (B,C) */, int B, int C, float p, uint64_t seed,
                       uint64_t step);
/* its rows [b0,b1) alone (mask points at row 0), the same values */
void nn_dropout2d_mask_rows(float *mask, int b0, int b1, int C, float p, uint64_t seed,
                            uint64_t step);
void nn_dropout2d_forward(float *out /* (B,S,C) */, const float *in /* (B,S,C) */,
                          const float *mask /* (B,C) */, int B, int S, int C);
void nn_dropout2d_backward(float *din /* (B,S,C) */, const float *dout /* (B,S,C) */,
                           const float *mask /* (B,C) */, int B, int S, int C);

/* --- linear: out (B,O) = in (B,I) x w^T + b, w (O,I) ---------------------------------------
 * The products run in fixed column chunks (by the threads when large enough): the bytes do not
 * depend on the thread count. */
void nn_linear_forward(float *out /* (B,O) */, const float *in /* (B,I) */,
                       const float *w /* (O,I) */, const float *b /* (O) */, int B, int In, int Out);
/* dw and db may be NULL together: din alone (the same bytes as with them; in unused). */
void nn_linear_backward(float *din /* (B,I) or NULL */, float *dw /* (O,I) or NULL */,
                        float *db /* (O) or NULL */,
                        const float *dout /* (B,O) */, const float *in /* (B,I) */,
                        const float *w /* (O,I) */, int B, int In, int Out);

/* --- gradient reversal layer (Ganin et al. 2016, eq. 13): forward is the identity (callers
 * simply reuse the input buffer); backward adds -lambda * dout. */
void nn_grl_backward(float *din, const float *dout, float lambda, size_t n);

/* --- losses ---------------------------------------------------------------------------------
 * Softmax cross-entropy, mean over B.  probs (B,K) saved; *correct counts argmax == label
 * (may be NULL).  Returns the mean loss. */
double nn_softmax_ce_forward(float *probs /* (B,K) */, const float *logits /* (B,K) */,
                             const uint8_t *labels /* (B) */, int B, int K, int *correct);
/* dlogits += dloss * (probs - onehot) / B */
void nn_softmax_ce_backward(float *dlogits /* (B,K) */, const float *probs /* (B,K) */,
                            const uint8_t *labels /* (B) */, int B, int K, float dloss);
/* Binary cross-entropy with logits, one logit per row, all rows with target y (0 or 1);
 * mean over B, computed stably: max(z,0) - z y + log(1 + exp(-|z|)).  *correct counts
 * (z > 0) == y (may be NULL). */
double nn_bce_forward(const float *z /* (B) */, int y, int B, int *correct);
/* dz += dloss * (sigmoid(z) - y) / B */
void nn_bce_backward(float *dz /* (B) */, const float *z /* (B) */, int y, int B, float dloss);

/* Index of the largest of v[0..n) (first one on ties). */
int nn_argmax(const float *v, int n);

#endif
