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

/* 1 if the direct kernels handle this convolution (else the nn.c path is used). */
int kern_conv2d_supported(int H, int W, int C, int OC, int KS, int backward);

void kern_conv2d_forward(float *out, float *cols, const float *in, const float *w,
                         const float *b, int B, int H, int W, int C, int OC, int KS);
void kern_conv2d_backward(float *din, float *dw, float *db, float *dcols, const float *dout,
                          const float *cols, const float *in, const float *w, int B, int H,
                          int W, int C, int OC, int KS);

#endif
