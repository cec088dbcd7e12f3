/* tsne.h - t-SNE (van der Maaten & Hinton 2008; van der Maaten 2014, "Accelerating t-SNE using
 * tree-based algorithms"; Barnes 1990 for the grouped tree walk).
 *
 * Pipeline: k-nearest neighbours (k = floor(3*perplexity); exact, or approximate from
 * TSNE_ANN_MIN_N points on: lib/tsne/ann.c) -> per-point binary search of
 * the Gaussian precision so each conditional row has the requested perplexity (natural log:
 * entropy H = log(perplexity) in nats) -> symmetrised, normalised sparse P -> gradient descent
 * with early exaggeration, momentum and adaptive gains.  The repulsive forces are exact
 * (O(N^2), the reference), Barnes-Hut (quadtree, --theta) or FFT interpolation (lib/tsne/fft.c).
 *
 * Determinism: every parallel loop writes per-point results; all reductions over points are
 * done serially in index order, so the same input, seed and thread count give the same bytes.
 * Every function returns 0 or a negative DN_E* code with err_msg() set.
 *
 * Where each part lives: knn.c (exact neighbours), ann.c (approximate), affinity.c (P),
 * bh.c, exact.c and fft.c (the repulsion), optimize.c (gradient, KL, descent), pca.c,
 * place.c (new points into a finished layout), tsne.c (a whole run).  The streams tsne reads
 * and writes are lib/stream/layout.h. */
#ifndef DN_TSNE_H
#define DN_TSNE_H

#include <stdint.h>

/* Symmetric affinities in CSR form: row i holds cols col[row[i]..row[i+1]) with values val. */
typedef struct {
	int64_t n;
	int64_t *row; /* (n+1) */
	int32_t *col; /* (nnz) */
	double *val;  /* (nnz), sums to 1 over the whole matrix */
} tsne_sparse;

typedef enum { TSNE_AUTO = 0, TSNE_EXACT, TSNE_BH, TSNE_FFT } tsne_method;
/* AUTO: EXACT when theta is 0; else, at every evaluation, FFT while its grid is small for the
 * number of points (B boxes per side, B^2 <= TSNE_FFT_BOXES2_PER_POINT * N), Barnes-Hut
 * otherwise.  The FFT's cost grows with the grid (the layout's area), Barnes-Hut's with N:
 * one repulsion, one thread, CPU time (bench/tsne_repulsion.c), FFT against BH: 70,000
 * points, 50 boxes 1.4x faster, 64 boxes 1.25x, 80 boxes 1.1x slower, 108 boxes 1.8x slower
 * (even near 72 boxes, B^2 = 0.074 N); the converged 1,000,000-point layout scaled down, 216
 * boxes 1.17x faster, 270 boxes 1.07x slower (even near 255, B^2 = 0.065 N).  Near the switch
 * Barnes-Hut is also the more accurate (70,000 points, 64 and 80 boxes: gradient error 1.4%
 * against the FFT's 1.7 and 1.9%).  So early iterations (a compact layout) go by FFT, and
 * large N stays on it longer.  Re-measured after the FFT's interpolation went box by box (one
 * thread, CPU, 70,000 points): FFT against BH 1.5x faster at 72 boxes, even at 81, 1.0x at 96,
 * 0.8x at 108; the FFT's gradient error there 1.7-2.1% against BH's 1.44%, and the iterations
 * between 72 and 96 boxes few (about 0.1 s of a run): the threshold is kept. */
#define TSNE_FFT_BOXES2_PER_POINT 0.07
/* AUTO: approximate neighbours (tsne_knn_approx) from TSNE_ANN_MIN_N points on. */
typedef enum { TSNE_KNN_AUTO = 0, TSNE_KNN_EXACT, TSNE_KNN_APPROX } tsne_knn_method;
typedef enum { TSNE_INIT_PCA = 0, TSNE_INIT_RANDOM, TSNE_INIT_GIVEN } tsne_init;

/* Called every `report_every` iterations (and after the last) with the KL divergence of the
 * current layout (computed with the unexaggerated P); a nonzero return stops the run. */
typedef int (*tsne_report_fn)(void *ctx, int iter, int max_iter, double kl);
/* Called every iteration (cheap) for progress display; may be NULL. */
typedef void (*tsne_progress_fn)(void *ctx, int iter, int max_iter);

typedef struct {
	double perplexity;     /* 30 */
	int max_iter;          /* 1000 */
	int exag_iter;         /* 250: iterations with P multiplied by `exaggeration` */
	double exaggeration;   /* 12 */
	int mom_switch_iter;   /* 250: momentum -> final_momentum from this iteration on */
	double momentum;       /* 0.5 */
	double final_momentum; /* 0.8 */
	double learning_rate;  /* <= 0: automatic, max(N/12, 200) */
	tsne_method method;    /* AUTO: exact if theta == 0, else FFT or BH by the layout's size */
	double theta;          /* 0.5 (Barnes-Hut opening angle) */
	tsne_init init;        /* PCA (scaled to std 1e-4), RANDOM (N(0, 1e-4^2)), GIVEN (y in) */
	tsne_knn_method knn;   /* AUTO: approximate neighbours from TSNE_ANN_MIN_N points on */
	uint64_t seed;         /* random init, approximate neighbours */
	int report_every;      /* 0: only at the end */
	tsne_report_fn report;
	tsne_progress_fn progress;
	void *ctx;
} tsne_params;

void tsne_params_default(tsne_params *p);
/* EXACT for AUTO with theta 0; other methods unchanged (AUTO with theta > 0 is chosen at
 * each evaluation, see TSNE_FFT_BOXES2_PER_POINT). */
tsne_method tsne_resolve_method(tsne_method m, double theta, int64_t n);
/* The learning rate actually used for n points. */
double tsne_learning_rate(const tsne_params *p, int64_t n);

/* Exact k nearest neighbours of every row of x (n,d) by squared Euclidean distance, self
 * excluded, ties broken by index; nbr (n,k) and dist2 (n,k) (recomputed exactly in double)
 * sorted by increasing distance.  Blocked distance matrix by OpenBLAS sgemm: memory O(n*k). */
int tsne_knn(int32_t *nbr, double *dist2, const float *x, int64_t n, int d, int k);

/* Approximate k nearest neighbours: `trees` random-projection trees (each node cut at the
 * median of the points' projections on the difference of two of its points, drawn from seed),
 * every leaf of at most `leaf` points joined all pairs, then `rounds` of refinement in which
 * each point looks at the `expand` nearest neighbours of each of its `from` nearest neighbours,
 * skipping the old neighbours of its old neighbours and offering each distance to both ends
 * (NN-descent's local join; each round reads a table of the lists made when it began and
 * applies the offers to other points' lists after all points' own steps: deterministic for
 * any thread count).
 * Same output as tsne_knn (sorted; dist2 exact in double for the neighbours found). */
typedef struct {
	int trees;     /* 8 */
	int leaf;      /* 0: 2k + 2 */
	int rounds;    /* 3 */
	int expand;    /* 0: 12 below TSNE_ANN_WIDE_N points, 16 from there (tsne_ann_expand) */
	int from;      /* 0: 2k/3 below TSNE_ANN_WIDE_N points, k from there (whose lists) */
	uint64_t seed; /* 0 */
} tsne_ann_params;
void tsne_ann_params_default(tsne_ann_params *a);
/* The expand used for n points.  At fixed expand the recall falls as N grows (PCA 50 of MNIST
 * repeated with jitter, bench/tsne_knn.c, 2,000 queries): expand 12 gives 0.982 at 70,000,
 * 0.965 at 200,000 and 0.880 at 1,000,000; 24 gives 0.995, 0.989 and 0.986, for 11% more
 * CPU at 1,000,000 and about 20% at 70,000 (measured before each refinement distance served
 * both ends; since, 16 from all k lists gives 0.989 at 200,000). */
#define TSNE_ANN_WIDE_N 100000
int tsne_ann_expand(const tsne_ann_params *a, int64_t n);
int tsne_knn_approx(int32_t *nbr, double *dist2, const float *x, int64_t n, int d, int k,
                    const tsne_ann_params *ap);
/* The size from which TSNE_KNN_AUTO is approximate (see bench/tsne_knn.c). */
#define TSNE_ANN_MIN_N 50000

/* Binary search of each row's precision beta_i so the conditional distribution
 * p_{j|i} ~ exp(-beta_i * dist2_ij) over its k neighbours has entropy log(perplexity) (nats).
 * p (n,k) out; beta (n) out, may be NULL.  Returns the number of rows that did not reach the
 * tolerance (1e-5 nats) in 200 steps (>= 0), or a negative error. */
int64_t tsne_calibrate(double *p, double *beta, const double *dist2, int64_t n, int k,
                       double perplexity);

/* P_ij = (p_{j|i} + p_{i|j}) / 2N, normalised to sum 1 (Eq. 1 of van der Maaten 2014). */
int tsne_symmetrize(tsne_sparse *P, const int32_t *nbr, const double *p, int64_t n, int k);
void tsne_sparse_free(tsne_sparse *P);

/* Points whose largest |value| lies outside [2^-24, 2^24] scaled by a power of two into
 * [0.5, 1): squared distances in float neither overflow (|x| ~ 1e19 and up) nor underflow, and
 * the scaling is exact, so P (invariant to the scale: each beta_i adapts) is unchanged.  *xs
 * is the malloc'd scaled copy, or NULL when x needs none. */
int tsne_rescale(float **xs, const float *x, int64_t n, int d);

/* kNN + calibration + symmetrisation (on tsne_rescale'd points).  Errors when
 * n - 1 < 3 * perplexity.  tsne_affinities: exact neighbours below TSNE_ANN_MIN_N points,
 * approximate (seed 0) from there on; tsne_affinities_knn chooses (seed: tsne_knn_approx's). */
int tsne_affinities(tsne_sparse *P, const float *x, int64_t n, int d, double perplexity);
int tsne_affinities_knn(tsne_sparse *P, const float *x, int64_t n, int d, double perplexity,
                        tsne_knn_method knn, uint64_t seed);

/* Gradient of KL(P||Q) wrt y (n,2) (Eq. 5 of van der Maaten 2014):
 *   dC/dy_i = 4 * sum_j (exag * P_ij - q_ij) * w_ij * (y_i - y_j),  w_ij = 1/(1+|y_i-y_j|^2),
 * with the repulsive part computed by `method` (EXACT, or BH with theta).  *z_out (may be
 * NULL) gets the normalisation Z = sum_{i!=j} w_ij as estimated by the method. */
typedef struct tsne_work tsne_work;
tsne_work *tsne_work_new(int64_t n);
void tsne_work_free(tsne_work *w);
int tsne_gradient(double *grad, const double *y, const tsne_sparse *P, double exag,
                  tsne_method method, double theta, tsne_work *w, double *z_out);
/* KL(P||Q) = sum P_ij log(P_ij / (w_ij / Z)) for a given Z (e.g. from tsne_gradient). */
double tsne_kl(const double *y, const tsne_sparse *P, double z);
/* Exact Z = sum_{i!=j} 1/(1+|y_i-y_j|^2), O(n^2). */
double tsne_exact_z(const double *y, int64_t n);

/* Principal components: out (n,m) = (x - mean) V, V the top-m eigenvectors of the covariance
 * (LAPACK dsyevr from OpenBLAS), each with its largest-magnitude coefficient positive. */
int tsne_pca(float *out, const float *x, int64_t n, int d, int m);
/* The same with the covariance summed in float over blocks of 4,096 points (the blocks added
 * in double) and the projection in float: half the work, the components equal to float
 * precision (tsne --pca of wide inputs). */
int tsne_pca_float(float *out, const float *x, int64_t n, int d, int m);

/* A layout's coordinates stay within +-TSNE_LAYOUT_MAX (converged layouts span at most a few
 * thousand units): a start beyond it, or an optimisation that goes beyond it, is an error. */
#define TSNE_LAYOUT_MAX 1e8
/* 0 when y (n,2) is a usable start: finite, within +-TSNE_LAYOUT_MAX, and not every point at
 * the same position (which has no gradient); else DN_ERANGE with "what: reason". */
int tsne_layout_check(const float *y, int64_t n, const char *what);

/* Gradient descent from y (n,2) (already initialised, tsne_layout_check'ed) with the schedule
 * in p.  Stops with DN_ERANGE when a position leaves +-TSNE_LAYOUT_MAX (divergence: too large
 * a learning rate or exaggeration).  kl_out (may be NULL) gets the final KL divergence. */
int tsne_optimize(double *y, const tsne_sparse *P, const tsne_params *p, double *kl_out);

/* Whole run: x (n,d) -> y (n,2).  With p->init == TSNE_INIT_GIVEN, y holds the start layout. */
int tsne_run(float *y, const float *x, int64_t n, int d, const tsne_params *p, double *kl_out);

/* ---- placing new points into a finished layout ----
 * (openTSNE's prepare_partial / transform.)  Each new point gets conditional affinities
 * p_{j|i} to its k = 3*perplexity nearest reference points (calibrated to the perplexity as
 * above), starts at the p-weighted median of those neighbours' positions (per coordinate), and
 * moves alone against the fixed reference layout: attraction to its neighbours, repulsion from
 * every reference point (Barnes-Hut, theta) normalised over that point's own kernel sum, the
 * gradient's norm clipped to max_grad_norm, gains as in tsne_optimize.  The reference points
 * never move and the new points do not interact, so a point's place does not depend on the
 * others placed with it. */
typedef struct {
	double perplexity;    /* 5 (openTSNE's transform default) */
	int max_iter;         /* 250 */
	double learning_rate; /* 0.1 */
	double momentum;      /* 0 */
	double max_grad_norm; /* 0.25 */
	double theta;         /* 0.5 */
	tsne_progress_fn progress;
	void *ctx;
} tsne_place_params;

void tsne_place_params_default(tsne_place_params *p);
/* Exact k nearest reference points xr (nr,d) of each query point xq (nq,d), as tsne_knn
 * (nbr indexes xr; a query equal to a reference point has it at distance 0). */
int tsne_knn_cross(int32_t *nbr, double *dist2, const float *xq, int64_t nq, const float *xr,
                   int64_t nr, int d, int k);
/* ynew (nnew,2) out: the places of xnew (nnew,d) in the layout yref (nref,2) of xref
 * (nref,d).  yref must pass tsne_layout_check. */
int tsne_place(float *ynew, const float *xnew, int64_t nnew, const float *xref, const float *yref,
               int64_t nref, int d, const tsne_place_params *p);

#endif
