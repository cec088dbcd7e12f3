/* internal.h - what the files of lib/tsne share and no caller outside them needs: the
 * gradient's workspace (the quadtree of Barnes-Hut, the FFT grid, the per-point repulsive
 * sums), the repulsion of each method, and the power-of-two rescaling of the points.  The
 * public API is tsne.h. */
#ifndef DN_TSNE_INTERNAL_H
#define DN_TSNE_INTERNAL_H

#include <stdint.h>

#include "tsne/fft.h"
#include "tsne/tsne.h"

/* ---- the quadtree (bh.c), also walked point by point when placing (place.c) ---- */

/* The build's scratch (bh.c): per point its Morton key (the cell path, two bits a level) and
 * index, sorted by key; then the positions in tree order as pairs of doubles. */
typedef union {
	struct {
		uint64_t key;
		int32_t i;
	} k;
	double xy[2];
} qscratch;

/* What the walk reads, 32 bytes a cell so that two share a cache line. */
typedef struct {
	double mx, my;  /* centre of mass */
	float width;    /* full width */
	int32_t count, child, start;
} qwalk;

/* Levels below the root at most (the 64-bit Morton keys): a cell of more than QT_LEAF points at
 * this depth (points closer than 2^-32 of the layout's span) stays a leaf. */
#define QT_MAXDEPTH 32
/* Points a group shares its walk among (at most; a leaf of coincident points may hold more).
 * 256 rather than 64: a quarter of the walks, for lists only a little longer, and the group's
 * box criterion opens more cells (more accurate).  One Barnes-Hut evaluation, one thread
 * (bench/tsne_repulsion.c, CPU time): 10,000 digits 2.2 -> 1.7 ms, 70,000 18 -> 15 ms (512:
 * 1.7 and 19 ms); gradient error against the exact one at 10,000: 5.6e-3 -> 3.7e-3. */
#define QT_GROUP 256
/* Points a leaf holds before it splits.  16 rather than 8: fewer cells to build and walk (the
 * build -20%), the near points summed exactly (gradient error at 10,000 digits 3.6e-3 ->
 * 3.2e-3), for about the same walk. */
#define QT_LEAF 16

/* The gradient's workspace (tsne_work_new, optimize.c): the quadtree, the FFT grid, and the
 * per-point sums that every repulsion method fills. */
struct tsne_work {
	int64_t n;
	qscratch *node;      /* (3n) the build's scratch: keys (2n, the radix sort's two buffers),
	                      * then the positions in tree order (n) */
	int64_t nnode, cap;  /* cells in walk[], and its capacity */
	qwalk *walk;         /* (cap) the quadtree's cells, each node's 4 children consecutive */
	int32_t *order;      /* (n) points in depth-first tree order */
	int have_order;      /* order[] holds the last tree's order */
	int32_t *group;      /* group cells */
	int64_t ngroup;
	double *rep;         /* (n,2) repulsive sums */
	double *zi;          /* (n) per-point sum of w */
	tsne_fft *fft;       /* FFT grid, made on first use */
};

/* The bounding box of the layout y (n,2): box = {xmin, xmax, ymin, ymax} (in parallel; min
 * and max are exact, so the same for any thread count). */
void tsne_bbox(double box[4], const double *y, int64_t n);

/* Build the quadtree of the layout y (n,2) in w: cells walk[], depth-first order[], groups,
 * and the positions in that order (tsne_qt_pos). */
int tsne_qt_build(tsne_work *w, const double *y, int64_t n);
/* The last tree's positions in its depth-first order: (n,2), point order[u] at row u. */
static inline const double *tsne_qt_pos(const tsne_work *w)
{
	return w->node[2 * w->n].xy;
}
/* Barnes-Hut repulsion with opening angle theta: w->rep (n,2) = sum_j w_ij^2 (y_i - y_j) and
 * w->zi (n) = sum_{j != i} w_ij, cells standing for their points where theta allows. */
int tsne_bh_repulsion(tsne_work *w, const double *y, int64_t n, double theta);
/* Its second half, the walks over the tree tsne_qt_build made: in a parallel region of its
 * own, or shared among the threads of the caller's (_team: sets *fail on running out of
 * memory; the optimiser builds the tree on one thread while the others compute the
 * attraction, then all walk, in one region). */
int tsne_bh_walk(tsne_work *w, const double *y, int64_t n, double theta);
void tsne_bh_walk_team(tsne_work *w, const double *y, double theta, int *fail);

/* ---- exact repulsion (exact.c): the same sums over all pairs, O(n^2) ---- */
void tsne_exact_repulsion(tsne_work *w, const double *y, int64_t n);

/* ---- rescaling (affinity.c), also for the two point sets of placing (place.c) ---- */

/* Largest |value| of x (n,d). */
float tsne_max_abs(const float *x, int64_t n, int d);
/* The power of two e such that x * 2^-e has its largest |value| m in [0.5, 1), or 0 when m is
 * 0 or already in [2^-24, 2^24] (no scaling needed). */
int tsne_scale_exponent(float m);
/* *xs = x * 2^-e (malloc'd), or NULL when e == 0. */
int tsne_scaled_copy(float **xs, const float *x, int64_t n, int d, int e);

#endif
