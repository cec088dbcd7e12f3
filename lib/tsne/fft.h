/* fft.h - t-SNE repulsive forces by interpolation on a grid and FFT convolution
 * (Linderman, Rachh, Hoskins, Steinerberger & Kluger, "Fast interpolation-based t-SNE for
 * improved visualization of single-cell RNA-seq data", Nature Methods 16, 2019: FIt-SNE).
 *
 * The layout's bounding square is cut into B x B boxes (B >= 50, boxes at most 1 unit wide),
 * each with P x P = 3 x 3 equispaced interpolation nodes.  The charges 1, y_x, y_y, |y|^2 of
 * every point are spread onto the nodes of its box by Lagrange interpolation, convolved with
 * the kernel 1/(1 + d^2)^2 over the whole (3B x 3B) node grid by FFT (FFTW), and interpolated
 * back to the points, which gives sum_j w_ij^2 (y_i - y_j) and sum_j w_ij in O(N + G log G).
 *
 * Determinism: points are sorted by box (stable), each box spreads its own points in index
 * order onto nodes no other box touches, FFTW plans are made with FFTW_ESTIMATE (no timing):
 * the same layout gives the same bytes for any thread count. */
#ifndef DN_TSNE_FFT_H
#define DN_TSNE_FFT_H

#include <stdint.h>

typedef struct tsne_fft tsne_fft;

tsne_fft *tsne_fft_new(int64_t n);
void tsne_fft_free(tsne_fft *f);

/* rep (n,2) = sum_{j != i} w_ij^2 (y_i - y_j), zi (n) = sum_{j != i} w_ij, w_ij =
 * 1/(1 + |y_i - y_j|^2), for the layout y (n,2).  order (n, may be NULL) gets the points
 * sorted by grid box (a locality order for renumbering). */
int tsne_fft_repulsion(tsne_fft *f, const double *y, int64_t n, double *rep, double *zi,
                       int32_t *order);

/* The grid side (boxes per dimension) used for a layout spanning `span` units. */
int tsne_fft_boxes(double span);

#endif
