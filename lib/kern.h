/* kern.h - fast convolution kernels for the digits network (issue 10).
 *
 * Same contracts as nn_conv2d_forward / nn_conv2d_backward (nn.h): NHWC activations, weights
 * (OC,KS,KS,C), valid convolution with stride 1, backward ADDS into din, dw and db.  They
 * compute the same function, but as direct convolutions with AVX-512 register tiles instead of
 * im2col + sgemm: no patch matrix is written, each image's working set stays in L1/L2, and
 * threads take whole images.  The `cols` / `dcols` arguments are unused on that path.
 *
 * The direct path is taken when the build has AVX-512 (-march=native on such a CPU) and the
 * shapes fit the tiles (OC a multiple of 16 up to 48; for backward C = 3 or a multiple of 16 up
 * to 48; output width within the tile sizes); otherwise the calls fall through to nn.c.
 *
 * Determinism: each output of the forward and of din is computed by one thread in a fixed
 * order; dw and db are summed per fixed chunk of images (NN_CHUNKS) and the chunks added in
 * order, so results do not depend on the thread count. */
#ifndef DN_KERN_H
#define DN_KERN_H

#include <stdint.h>

/* 1 if the direct kernels handle this convolution (else the nn.c path is used). */
int kern_conv2d_supported(int H, int W, int C, int OC, int KS, int backward);

void kern_conv2d_forward(float *out, float *cols, const float *in, const float *w,
                         const float *b, int B, int H, int W, int C, int OC, int KS);
void kern_conv2d_backward(float *din, float *dw, float *db, float *dcols, const float *dout,
                          const float *cols, const float *in, const float *w, int B, int H,
                          int W, int C, int OC, int KS);

/* Evaluation-mode conv -> BatchNorm (running statistics; gamma NULL: none) -> 2x2 max-pool ->
 * ReLU in one pass: BN folded into the weights, the pool and ReLU applied to the register tile,
 * so only the pooled map (B,OH/2,OW/2,OC) is written.  Returns 0, or -1 when the shapes are
 * not handled (then nothing is written and the caller takes the layer-by-layer path). */
int kern_conv2d_bn_pool_relu_eval(float *out, const float *in, const float *w, const float *b,
                                  const float *gamma, const float *beta, const float *rmean,
                                  const float *rvar, int B, int H, int W, int C, int OC, int KS);

/* The whole feature extractor in evaluation mode (dann-embed, accuracy): conv1 -> BN -> pool ->
 * ReLU -> conv2 -> BN -> pool -> ReLU, fused as above, one image at a time through both layers
 * in one parallel region.  l1 and l2 are {weight, bias, gamma, beta, running mean, running var}
 * of each layer (gamma NULL: no BatchNorm).  x (B,H,W,3); p1 (B,H1,W1,32) receives the first
 * pooled map; feat (B,H2,W2,48).  Returns 0, or -1 when not handled (nothing written). */
int kern_features_eval(float *feat, float *p1, const float *x, const float *const l1[6],
                       const float *const l2[6], int B, int H, int W);

/* Training-mode BatchNorm -> 2x2 max-pool -> ReLU of a conv map x (B,H,W,C), H and W even, in
 * two passes (statistics, then normalise+pool+ReLU) without writing the normalised map:
 * r (B,H/2,W/2,C) the ReLU output, arg its window argmax (0..3, first of equal maxima), mean and
 * rstd (groups,C) per consecutive group of B/groups images, running statistics rm[g], rv[g]
 * updated per group as nn_batchnorm_forward.  Returns 0, or -1 when not handled (nothing
 * written). */
int kern_bn_pool_relu_forward(float *r, uint8_t *arg, float *mean, float *rstd, const float *x,
                              const float *gamma, const float *beta, float *const *rm,
                              float *const *rv, int B, int H, int W, int C, int groups, float mom);
/* Its backward from dr (the gradient at r): ADDS d(x) into dx (B,H,W,C), d(gamma), d(beta).
 * The same as nn_relu_backward + nn_maxpool2_backward + nn_batchnorm_backward, without the
 * scattered intermediate: the sums of BN's backward run over the pooled cells only. */
int kern_relu_pool_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dr,
                               const float *r, const uint8_t *arg, const float *x,
                               const float *mean, const float *rstd, const float *gamma, int B,
                               int H, int W, int C, int groups);

/* ReLU + pool + BN backward (as kern_relu_pool_bn_backward) and then the convolution's
 * backward (as kern_conv2d_backward) in one: the gradient at the conv output is computed one
 * image at a time into a per-thread buffer and consumed at once by the dw / db / din tiles, so
 * it is never stored.  cx is the conv output (the BN input); in, w the conv's input and
 * weights.  Adds into din (may be NULL), dw, db, dgamma, dbeta.  Returns 0, or -1 when not
 * handled (nothing written). */
int kern_conv2d_bn_backward(float *din, float *dw, float *db, float *dgamma, float *dbeta,
                            const float *dr, const float *r, const uint8_t *arg, const float *cx,
                            const float *mean, const float *rstd, const float *gamma,
                            const float *in, const float *w, int B, int H, int W, int C, int OC,
                            int KS, int groups);

#endif
