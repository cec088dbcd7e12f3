/* layout.h - the streams of points around t-SNE (see man/dann-tensor.5):
 *
 *   points    (N,D) float32, finite, then any number of per-point arrays (first dimension N,
 *             any dtype; dann-embed writes labels (N,) uint8 and domains (N,) uint8): what
 *             tsne reads;
 *   layout    the same with D = 2, the per-point arrays passed through unchanged: what tsne
 *             writes, and reads back as a start (--init) or a reference (--place-into);
 *   frames    layout (N,2) float32, labels (N,) uint8, domains (N,) uint8, any number of them
 *             back to back: what plot-frames and dann-report read.
 *
 * Readers check every header before they allocate and every value they rely on; a short or
 * corrupt stream is an error, never a short result.  Every function returns 0 or a negative
 * DN_E* code with err_msg() set. */
#ifndef DN_LAYOUT_H
#define DN_LAYOUT_H

#include <stdint.h>
#include <stdio.h>

#include "stream/npy.h"

/* Points and their per-point arrays, as read. */
typedef struct {
	int64_t n;
	int d;
	float *x;          /* (n,d) */
	int nextra;
	npy_array *extra;  /* per-point arrays in stream order */
} layout_points;

/* Reads the whole stream; rejects D=0, N=0, NaN/Inf points and an extra array whose first
 * dimension is not N. */
int layout_points_read(layout_points *in, FILE *f, const char *name);
void layout_points_free(layout_points *in);

/* The layout y (in->n,2), then in's per-point arrays. */
int layout_write(FILE *f, const float *y, const layout_points *in);
/* Whether the per-point arrays of b can follow a's in one stream: as many, and each of the same
 * dtype and trailing shape; else DN_EFORMAT naming the first difference. */
int layout_joinable(const layout_points *a, const layout_points *b, const char *aname,
                    const char *bname);
/* The rows of a then of b: layout (a->n + b->n, 2) from ya and yb, then each per-point array
 * of a followed by b's (layout_joinable first). */
int layout_write_joined(FILE *f, const float *ya, const layout_points *a, const float *yb,
                        const layout_points *b);

/* The next array of a stream as a layout: (N,2) float32, every value finite ("NAME: point I
 * is not finite (X, Y)"); `what` names it in the messages about its type ("NAME: WHAT:
 * expected shape (N,2), got ...").  *y is malloc'd (N,2), *n gets N.  DN_EEOF at a clean end
 * of the stream. */
int layout_read(FILE *f, const char *name, const char *what, float **y, int64_t *n);

/* One frame. */
typedef struct {
	int64_t n;
	float *pts;        /* (n,2) */
	uint8_t *labels;   /* (n,) digit classes 0..9 */
	uint8_t *domains;  /* (n,) 0 source, 1 target */
} layout_frame;

/* Read the next frame of a stream and check it: the layout as layout_read, labels and
 * domains (N,) uint8 with the layout's N, labels <= 9, domains 0 or 1.  DN_EEOF at a clean end
 * of the stream before the layout.  Free with layout_frame_free. */
int layout_frame_read(FILE *f, const char *name, layout_frame *fr);
void layout_frame_free(layout_frame *fr);

#endif
