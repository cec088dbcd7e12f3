/* tsne_repulsion.c - one repulsion evaluation, Barnes-Hut (theta 0.5) against FFT
 * interpolation, on a given layout: the measurement behind tsne's automatic choice of
 * --method (TSNE_FFT_BOXES2_PER_POINT).  Alternates bh, fft REPS times (default 5) and prints
 * medians of the wall and the CPU time, and the FFT's relative error against Barnes-Hut's
 * repulsion and Z.
 *
 *   tsne_repulsion LAYOUT.npy [REPS]     (LAYOUT: (N,2) float32 first array, e.g. a tsne
 *                                         output; bench/tsne-bench.sh makes larger ones by
 *                                         jittered copies of the 70,000-point layout) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/err.h"
#include "stream/npy.h"
#include "tsne/tsne.h"
#include "tsne/fft.h"

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

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tsne_repulsion LAYOUT.npy [REPS]\n");
		return 2;
	}
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	if (reps < 1 || reps > 100)
		reps = 5;
	FILE *f = fopen(argv[1], "rb");
	npy_array a;
	if (!f || npy_read_array(f, argv[1], &a) < 0 || a.h.dtype != NPY_F32 || a.h.ndim != 2 ||
	    a.h.shape[1] != 2) {
		fprintf(stderr, "tsne_repulsion: %s: not an (N,2) float32 layout\n", argv[1]);
		return 1;
	}
	int64_t n = a.h.shape[0];
	double *y = malloc((size_t)n * 2 * sizeof *y), *rf = malloc((size_t)n * 2 * sizeof *rf);
	double *zf = malloc((size_t)n * sizeof *zf), *g = malloc((size_t)n * 2 * sizeof *g);
	tsne_sparse P = {n, calloc((size_t)n + 1, sizeof(int64_t)), NULL, NULL}; /* no attraction */
	tsne_fft *fft = tsne_fft_new(n);
	tsne_work *w = tsne_work_new(n);
	if (!y || !rf || !zf || !g || !P.row || !fft || !w) {
		fprintf(stderr, "tsne_repulsion: out of memory\n");
		return 1;
	}
	double x0 = INFINITY, x1 = -INFINITY;
	for (int64_t t = 0; t < 2 * n; t++) {
		y[t] = ((float *)a.data)[t];
		x0 = fmin(x0, y[t]), x1 = fmax(x1, y[t]);
	}
	double tb[100], tf[100], cb[100], cf[100], zb = 0;
	for (int r = 0; r < reps; r++) {
		double t0 = now(), c0 = cpu();
		if (tsne_gradient(g, y, &P, 1.0, TSNE_BH, 0.5, w, &zb) < 0)
			return fprintf(stderr, "tsne_repulsion: %s\n", err_msg()), 1;
		double t1 = now(), c1 = cpu();
		if (tsne_fft_repulsion(fft, y, n, rf, zf, NULL) < 0)
			return fprintf(stderr, "tsne_repulsion: %s\n", err_msg()), 1;
		tb[r] = t1 - t0, tf[r] = now() - t1;
		cb[r] = c1 - c0, cf[r] = cpu() - c1;
	}
	/* gradient of BH with P = 0 is -4 rep / Z: compare with the FFT's -4 rep / Z */
	double zs = 0, num = 0, den = 0;
	for (int64_t i = 0; i < n; i++)
		zs += zf[i];
	for (int64_t t = 0; t < 2 * n; t++) {
		double e = -4.0 * rf[t] / zs - g[t];
		num += e * e, den += g[t] * g[t];
	}
	qsort(tb, reps, sizeof *tb, cmp_d);
	qsort(tf, reps, sizeof *tf, cmp_d);
	qsort(cb, reps, sizeof *cb, cmp_d);
	qsort(cf, reps, sizeof *cf, cmp_d);
	int h = reps / 2;
	printf("N %lld, span %.0f, boxes %d: bh %.1f ms, fft %.1f ms (medians of %d), bh/fft %.2f; "
	       "CPU bh %.1f ms, fft %.1f ms, bh/fft %.2f; "
	       "fft vs bh: repulsion rel. diff %.2e, Z rel. diff %.2e\n",
	       (long long)n, x1 - x0, tsne_fft_boxes(x1 - x0), 1e3 * tb[h], 1e3 * tf[h], reps,
	       tb[h] / tf[h], 1e3 * cb[h], 1e3 * cf[h], cb[h] / cf[h], sqrt(num / den), zs / zb - 1);
	return 0;
}
