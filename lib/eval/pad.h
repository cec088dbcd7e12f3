/* pad.h - the proxy A-distance (PAD) between two domains (Ben-David et al. 2010; Ganin et al.,
 * JMLR 2016, section 5.1.5): how well a fresh linear SVM tells source rows from target rows.
 *
 * The paper's protocol (PAD_PAPER): the first half of each domain's rows (in stream order)
 * trains a linear SVM for each C in 10^-5 .. 10^4, the second half tests it; eps is the lowest
 * test error over C, an error e > 0.5 counting as 1 - e; PAD = 2 (1 - 2 eps).  The test set
 * chooses C, so the figure is optimistic (a little too high).
 * The held-out protocol (PAD_HELD_OUT): the first half trains, the next quarter (validation)
 * chooses C and whether to flip the classifier, the last quarter tests that one classifier;
 * eps is its plain test error, so PAD may come out below 0 when the domains are the same.
 *
 * The SVMs are liblinear's (train(), predict()), with liblinear's bias feature (train -B 1);
 * features are standardised with the training rows' mean and standard deviation unless
 * opts.scale is 0. */
#ifndef DN_PAD_H
#define DN_PAD_H

#include <stdint.h>
#include <stdio.h>

#include "stream/dataset.h"
#include "stream/npy.h"

#define PAD_MAX_C 16
#define PAD_MIN_ROWS 4 /* rows per domain for PAD_PAPER; PAD_HELD_OUT needs twice as many */

enum { PAD_PAPER = 0, PAD_HELD_OUT = 1 };

typedef struct {
	int protocol;       /* PAD_PAPER or PAD_HELD_OUT */
	int scale;          /* 1: standardise every feature with the training rows' statistics */
	int solver;         /* liblinear solver_type (L2R_L1LOSS_SVC_DUAL, ...) */
	double tol;         /* liblinear stopping tolerance (eps of struct parameter) */
	int nc;             /* number of C values */
	double C[PAD_MAX_C];
	unsigned seed;      /* srand() seed before every train(): the dual solvers shuffle with rand() */
} pad_opts;

typedef struct {
	double pad, eps, C;   /* the PAD, the error eps behind it, the C that gave it */
	int flipped;          /* the chosen classifier's answers were inverted (error > 0.5) */
	int64_t n_train[2], n_val[2], n_test[2];  /* rows per domain (0 source, 1 target) */
	double test_err[PAD_MAX_C], val_err[PAD_MAX_C]; /* raw error of each C (val: held-out only) */
} pad_result;

/* The defaults: the paper's ten C = 10^-5 .. 10^4 and split; an L2-regularised squared-hinge
 * linear SVM (liblinear L2R_L2LOSS_SVC, tolerance 0.01, bias); standardised features; seed 1. */
void pad_opts_default(pad_opts *o);

/* x (n,d) row-major, dom (n,) with values 0 (source) or 1 (target).  Rows of each domain are
 * split in stream order.  Errors: DN_ERANGE (a domain value other than 0/1, a non-finite
 * feature, a domain with too few rows), DN_EARG (bad options), DN_ENOMEM. */
int pad_compute(const float *x, const uint8_t *dom, int64_t n, int64_t d, const pad_opts *o,
                pad_result *r);

/* An embedding stream as dann-embed writes it: features (N,D) float32, labels (N,) uint8,
 * domains (N,) uint8 (arrays after these are ignored).  Free with pad_input_free(). */
typedef struct {
	int64_t n, d;
	float *x;
	uint8_t *dom;
} pad_input;

int pad_read_embedding(FILE *f, const char *name, pad_input *in);
/* Raw inputs: the pixels of two dataset streams, `per` images of each (per <= 0: all), chosen
 * as dann-embed --per-domain chooses them (subset_pick: same seed, same images).  Grey images
 * are repeated over 3 channels when the other set is RGB and pixels scaled to [-1,1], as the
 * network sees them.  Domain 0 = source.  DN_EFORMAT if the image sizes differ, DN_ERANGE if
 * `per` exceeds a set. */
int pad_from_datasets(const dataset *source, const dataset *target, int64_t per,
                      uint64_t seed, pad_input *in);
void pad_input_free(pad_input *in);

#endif
