/* tsne_repulsion.c - one repulsion evaluation, Barnes-Hut (theta 0.5) against FFT
 * interpolation, on a given layout: the measurement behind tsne's automatic choice of
 * --method (TSNE_FFT_BOXES2_PER_POINT).  Alternates bh, fft REPS times (default 5) and prints
 * medians of the wall and the CPU time (Barnes-Hut's also split into the quadtree build and
 * the walks), and the FFT's relative error against Barnes-Hut's repulsion and Z.  With
 * `bh` or `fft`, only that one is timed (the figures of the other are then meaningless); with
 * `exact`, both are also measured against the exact repulsion (O(N^2): seconds at 70,000
 * points): the relative error of the repulsive gradient -4 rep / Z over all points, and of Z.
 * With `grow`, the layout is scaled by 1 + 1e-9 before each repetition: below 50 units the FFT's
 * boxes then change width and its kernel is transformed again, as in the early iterations of
 * a run (without it the timing leaves that out).
 *
 *   tsne_repulsion LAYOUT.npy [REPS] [bh|fft] [exact] [grow]   (LAYOUT: (N,2) float32 first array, e.g. a
 *                                         tsne output; bench/tsne-bench.sh makes larger ones by
 *                                         jittered copies of the 70,000-point layout) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "stream/npy.h"
#include "tsne/fft.h"
#include "tsne/internal.h"
#include "tsne/tsne.h"

static double clock_s(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* CPU seconds of the whole process (all threads): on a shared machine wall time also counts
 * the waits for a core, CPU time only the work (and the threads' spinning at barriers). */
static double cpu(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof *v, cmp_d);
	return v[n / 2];
}

/* Relative error of the repulsive gradient rep / z against the reference (re, ze). */
static double rel_err(const double *rep, double z, const double *re, double ze, int64_t n)
{
	double num = 0, den = 0;
	for (int64_t t = 0; t < 2 * n; t++) {
		double e = rep[t] / z - re[t] / ze;
		num += e * e, den += re[t] / ze * (re[t] / ze);
	}
	return sqrt(num / den);
}

static double sum(const double *v, int64_t n)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tsne_repulsion LAYOUT.npy [REPS] [bh|fft] [exact] [grow]\n");
		return 2;
	}
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	if (reps < 1 || reps > 100)
		reps = 5;
	int exact = 0, only = 0, grow = 0; /* only: 1 Barnes-Hut, 2 FFT */
	for (int k = 3; k < argc; k++) {
		if (!strcmp(argv[k], "exact"))
			exact = 1;
		else if (!strcmp(argv[k], "grow"))
			grow = 1;
		else if (!strcmp(argv[k], "bh") || !strcmp(argv[k], "fft"))
			only = argv[k][0] == 'b' ? 1 : 2;
		else
			return fprintf(stderr, "tsne_repulsion: unknown word %s\n", argv[k]), 2;
	}
	FILE *f = fopen(argv[1], "rb");
	npy_array a;
	if (!f || npy_read_array(f, argv[1], &a) < 0 || a.h.dtype != NPY_F32 || a.h.ndim != 2 ||
	    a.h.shape[1] != 2) {
		fprintf(stderr, "tsne_repulsion: %s: not an (N,2) float32 layout\n", argv[1]);
		return 1;
	}
	int64_t n = a.h.shape[0];
	double *y = malloc((size_t)n * 2 * sizeof *y), *rf = malloc((size_t)n * 2 * sizeof *rf);
	double *zf = malloc((size_t)n * sizeof *zf), *rb = malloc((size_t)n * 2 * sizeof *rb);
	double *zbi = malloc((size_t)n * sizeof *zbi);
	tsne_fft *fft = tsne_fft_new(n);
	tsne_work *w = tsne_work_new(n);
	if (!y || !rf || !zf || !rb || !zbi || !fft || !w) {
		fprintf(stderr, "tsne_repulsion: out of memory\n");
		return 1;
	}
	double x0 = INFINITY, x1 = -INFINITY;
	for (int64_t t = 0; t < 2 * n; t++) {
		y[t] = ((float *)a.data)[t];
		x0 = fmin(x0, y[t]), x1 = fmax(x1, y[t]);
	}
	/* The points in their quadtree's depth-first order, as the optimiser renumbers them every
	 * 100 iterations (neighbours in the layout are neighbours in memory). */
	if (tsne_qt_build(w, y, n) < 0)
		return fprintf(stderr, "tsne_repulsion: %s\n", err_msg()), 1;
	for (int64_t t = 0; t < n; t++)
		rb[2 * t] = y[2 * w->order[t]], rb[2 * t + 1] = y[2 * w->order[t] + 1];
	memcpy(y, rb, (size_t)n * 2 * sizeof *y);
	tsne_work_free(w);
	if (!(w = tsne_work_new(n)))
		return fprintf(stderr, "tsne_repulsion: out of memory\n"), 1;
	double tq[100], tw[100], tf[100], cq[100], cw[100], cf[100];
	for (int r = 0; r < reps; r++) {
		if (grow)
			for (int64_t t = 0; t < 2 * n; t++)
				y[t] *= 1 + 1e-9;
		double t0 = now(), c0 = cpu();
		if (only != 2 && tsne_qt_build(w, y, n) < 0)
			return fprintf(stderr, "tsne_repulsion: %s\n", err_msg()), 1;
		double t1 = now(), c1 = cpu();
		if (only != 2 && tsne_bh_walk(w, y, n, 0.5) < 0)
			return fprintf(stderr, "tsne_repulsion: %s\n", err_msg()), 1;
		double t2 = now(), c2 = cpu();
		if (only != 1 && tsne_fft_repulsion(fft, y, n, rf, zf, NULL) < 0)
			return fprintf(stderr, "tsne_repulsion: %s\n", err_msg()), 1;
		tq[r] = t1 - t0, tw[r] = t2 - t1, tf[r] = now() - t2;
		cq[r] = c1 - c0, cw[r] = c2 - c1, cf[r] = cpu() - c2;
	}
	memcpy(rb, w->rep, (size_t)n * 2 * sizeof *rb);
	memcpy(zbi, w->zi, (size_t)n * sizeof *zbi);
	double zb = sum(zbi, n), zs = sum(zf, n);
	double mq = median(tq, reps), mw = median(tw, reps), mf = median(tf, reps);
	double mcq = median(cq, reps), mcw = median(cw, reps), mcf = median(cf, reps);
	printf("N %lld, span %.0f, boxes %d: bh %.1f ms (tree %.1f + walk %.1f), fft %.1f ms "
	       "(medians of %d), bh/fft %.2f; CPU bh %.1f ms (tree %.1f + walk %.1f), fft %.1f ms, "
	       "bh/fft %.2f; fft vs bh: repulsion rel. diff %.2e, Z rel. diff %.2e\n",
	       (long long)n, x1 - x0, tsne_fft_boxes(x1 - x0), 1e3 * (mq + mw), 1e3 * mq, 1e3 * mw,
	       1e3 * mf, reps, (mq + mw) / mf, 1e3 * (mcq + mcw), 1e3 * mcq, 1e3 * mcw, 1e3 * mcf,
	       (mcq + mcw) / mcf, rel_err(rf, zs, rb, zb, n), zs / zb - 1);
	if (exact) {
		tsne_exact_repulsion(w, y, n);
		double ze = sum(w->zi, n);
		printf("against exact: bh gradient rel. error %.3e, Z %.2e; fft gradient %.3e, Z "
		       "%.2e\n",
		       rel_err(rb, zb, w->rep, ze, n), zb / ze - 1, rel_err(rf, zs, w->rep, ze, n),
		       zs / ze - 1);
	}
	return 0;
}
