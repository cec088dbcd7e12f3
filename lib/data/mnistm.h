/* mnistm.h - MNIST-M from MNIST: grayscale digits onto colour backgrounds (Ganin et al. 2016).
 *
 * Recipes (see man/mnistm-gen.1):
 *   MNISTM_NOISE  a digit pixel v > threshold becomes 255 - v on all three channels; every
 *                 other pixel a uniform random RGB colour (each channel uniform in 0..255).
 *   MNISTM_BSDS   Ganin et al. 2016 (MNIST-M): a patch of the output size, cut at a uniform
 *                 top-left corner from a uniformly chosen photo, blended with the digit by
 *                 difference, out = |patch - d| per channel, where d is the digit value
 *                 (MNISTM_MASK_GRAY) or 255 if v > threshold else 0 (MNISTM_MASK_BINARY, the
 *                 hard mask of the paper's "binary mask ... inverting the colours").
 *
 * Determinism: every random number of image i comes from rng_seed(&r, seed, i), with i the
 * image's index in the whole dataset (offset + position in this stream).  The output for image
 * i therefore depends only on (seed, i, recipe, options, digit, photos): not on threads, chunk
 * size or how the dataset was split.
 *
 * Fitting the digit into an output of another size (--size S different from the input's H x W):
 *   MNISTM_FIT_PAD     the digit is placed unscaled in the centre of a zero S x S canvas, its
 *                      top-left corner at ((S - H) / 2, (S - W) / 2) (rounded down): the
 *                      published MNIST-M's geometry, a 28 x 28 digit in a 32 x 32 image with a
 *                      2-pixel border (man/mnistm-gen.1 says how this was measured);
 *   MNISTM_FIT_RESIZE  the digit is resampled bilinearly to S x S, with pixel centres aligned
 *                      ((x + 0.5) * W / S - 0.5, clamped at the border), rounded to nearest.
 *
 * Functions return 0 or a negative DN_E* code with err_msg() set; nothing prints. */
#ifndef DN_MNISTM_H
#define DN_MNISTM_H

#include <stdint.h>
#include <stdio.h>

#include "data/imgload.h"
#include "stream/npy.h"
#include "base/rng.h"

typedef enum { MNISTM_NOISE = 0, MNISTM_BSDS } mnistm_recipe;
typedef enum { MNISTM_MASK_GRAY = 0, MNISTM_MASK_BINARY } mnistm_mask;
typedef enum { MNISTM_FIT_RESIZE = 0, MNISTM_FIT_PAD } mnistm_fit;

#define MNISTM_THRESHOLD_DEFAULT 30 /* noise recipe */
#define MNISTM_BSDS_THRESHOLD 0      /* bsds binary mask: every non-zero digit pixel */
#define MNISTM_BSDS_SIZE 32          /* bsds default output side: the published MNIST-M's */
#define MNISTM_MAX_SIDE 1024

/* Background photos, decoded once, sorted by file name (readdir order is not portable, and
 * the photo index is part of each image's random draw). */
typedef struct {
	int n;
	img_rgb *photo; /* n photos */
	char **name;    /* n file names (without the folder) */
} mnistm_bg;

/* Decode every *.jpg, *.jpeg, *.png in `dir` (in parallel).  Errors: unreadable folder,
 * no photo in it, a corrupt photo, a photo smaller than min_w x min_h (the patch). */
int mnistm_bg_load(mnistm_bg *bg, const char *dir, int min_w, int min_h);
void mnistm_bg_free(mnistm_bg *bg);

typedef struct {
	mnistm_recipe recipe;
	mnistm_mask mask;    /* bsds only */
	int threshold;       /* 0..255; noise: digit pixels are v > threshold; bsds binary mask */
	uint64_t seed;
	int64_t offset;      /* dataset index of the first image of the stream */
	int in_h, in_w;      /* input digit size */
	int out_h, out_w;    /* output size (the digit fitted into it if different) */
	mnistm_fit fit;      /* how, when the sizes differ; PAD needs out >= in */
	const mnistm_bg *bg; /* bsds only */
} mnistm_cfg;

/* Check an images header: uint8 (N,H,W) or (N,H,W,1), H and W in 1..MNISTM_MAX_SIDE.
 * Sets *n, *h, *w. */
int mnistm_check_images(const npy_header *hd, const char *name, int64_t *n, int *h, int *w);

/* Generate `count` images: in (count, in_h, in_w) uint8 -> out (count, out_h, out_w, 3) uint8.
 * in[k] is dataset image cfg->offset + first + k.  Parallel over images (OpenMP).
 * `scratch` (NULL when in and out sizes are equal) holds count*out_h*out_w bytes. */
void mnistm_generate(const mnistm_cfg *cfg, const uint8_t *in, uint8_t *out, int64_t first,
                     int64_t count, uint8_t *scratch);


/* Resample one (ih,iw) gray digit to (oh,ow), bilinear with aligned pixel centres. */
void mnistm_resize(const uint8_t *in, int ih, int iw, uint8_t *out, int oh, int ow);

/* Place one (ih,iw) digit unscaled in the centre of a zero (oh,ow) canvas (oh >= ih,
 * ow >= iw), top-left corner at ((oh - ih) / 2, (ow - iw) / 2). */
void mnistm_pad(const uint8_t *in, int ih, int iw, uint8_t *out, int oh, int ow);

/* Check that cfg's sizes can be fitted: DN_ERANGE with a message when fit is PAD and the output
 * is smaller than the input. */
int mnistm_check_fit(const mnistm_cfg *cfg);

/* The whole stream filter.  The images header has been read (hd) and checked; reads the
 * images in chunks, writes the output header and images (a background writer, stream/writer.h,
 * writes one chunk while the next is made), then copies the labels array through with the
 * dataset stream's checks (stream/dataset.h), and the input must end there.  Memory is
 * O(chunk), not O(N).
 * If sheet != NULL, the first sheet_count output images are copied to it
 * (sheet_count * out_h * out_w * 3 bytes).  progress(ctx, done) is called after each chunk.
 * A failed write returns DN_EIO with *write_failed = 1 (errno is preserved for the caller). */
typedef struct {
	FILE *in;
	const char *in_name;
	FILE *out;
	uint8_t *sheet;
	int64_t sheet_count;
	void (*progress)(void *ctx, int64_t done);
	void *progress_ctx;
	int write_failed;
} mnistm_io;

int mnistm_stream(const mnistm_cfg *cfg, const npy_header *hd, mnistm_io *io);

#endif
