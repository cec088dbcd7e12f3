/* tsne_knn.c - approximate against exact k nearest neighbours (k = 90, t-SNE's 3 x perplexity
 * 30): time and recall, the measurement behind tsne's automatic choice (TSNE_ANN_MIN_N).
 *
 *   tsne_knn POINTS.npy [N [QUERIES]]
 *
 * POINTS: an (M,D) float32 first array; the first N rows (default all) are used.  Recall is
 * the fraction of the exact k nearest neighbours the approximate search finds, averaged over
 * QUERIES points spread evenly over the set (default all N; the exact neighbours of a sample
 * are cheap where the whole exact search is not).  With QUERIES = N the whole exact search is
 * timed too.  ANN_TREES, ANN_LEAF, ANN_ROUNDS, ANN_EXPAND in the environment override
 * tsne_ann_params_default's settings.  Prints one line: N, D, times (wall and CPU seconds),
 * recall. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/mem.h"
#include "stream/npy.h"
#include "tsne/tsne.h"

static double now(int cpu)
{
	struct timespec t;
	clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
	return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* |a & b| of two sorted lists */
static int common(const int32_t *a, const int32_t *b, int k)
{
	int p = 0, q = 0, c = 0;
	while (p < k && q < k) {
		if (a[p] == b[q])
			c++, p++, q++;
		else if (a[p] < b[q])
			p++;
		else
			q++;
	}
	return c;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tsne_knn POINTS.npy [N [QUERIES]]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	npy_array a;
	if (!f || npy_read_array(f, argv[1], &a) < 0 || a.h.dtype != NPY_F32 || a.h.ndim != 2) {
		fprintf(stderr, "tsne_knn: %s: not an (N,D) float32 array\n", argv[1]);
		return 1;
	}
	int64_t n = argc > 2 ? atoll(argv[2]) : a.h.shape[0];
	if (n < 200 || n > a.h.shape[0])
		n = a.h.shape[0];
	int64_t nq = argc > 3 ? atoll(argv[3]) : n;
	if (nq < 1 || nq > n)
		nq = n;
	int d = (int)a.h.shape[1], k = 90;
	const float *x = a.data;
	/* the search's output as tsne's affinities allocate it (transparent huge pages) */
	int32_t *na = mem_alloc_big((size_t)n * k * sizeof *na), *ne = malloc((size_t)nq * (k + 1) * 4);
	double *da = mem_alloc_big((size_t)n * k * sizeof *da), *de = malloc((size_t)nq * (k + 1) * 8);
	float *xq = malloc((size_t)nq * d * sizeof *xq);
	int64_t *qi = malloc((size_t)nq * sizeof *qi);
	if (!na || !ne || !da || !de || !xq || !qi)
		return fprintf(stderr, "tsne_knn: out of memory\n"), 1;
	tsne_ann_params ap;
	tsne_ann_params_default(&ap);
	/* other settings to compare: ANN_TREES, ANN_LEAF, ANN_ROUNDS, ANN_EXPAND */
	const char *e;
	if ((e = getenv("ANN_TREES")))
		ap.trees = atoi(e);
	if ((e = getenv("ANN_LEAF")))
		ap.leaf = atoi(e);
	if ((e = getenv("ANN_ROUNDS")))
		ap.rounds = atoi(e);
	if ((e = getenv("ANN_EXPAND")))
		ap.expand = atoi(e);
	if ((e = getenv("ANN_FROM")))
		ap.from = atoi(e);
	double w0 = now(0), c0 = now(1);
	if (tsne_knn_approx(na, da, x, n, d, k, &ap) < 0)
		return fprintf(stderr, "tsne_knn: %s\n", err_msg()), 1;
	double wa = now(0) - w0, ca = now(1) - c0, we = -1, ce = -1;
	if (nq == n) {
		int32_t *nf = malloc((size_t)n * k * sizeof *nf);
		double *df = malloc((size_t)n * k * sizeof *df);
		if (!nf || !df)
			return fprintf(stderr, "tsne_knn: out of memory\n"), 1;
		w0 = now(0), c0 = now(1);
		if (tsne_knn(nf, df, x, n, d, k) < 0)
			return fprintf(stderr, "tsne_knn: %s\n", err_msg()), 1;
		we = now(0) - w0, ce = now(1) - c0;
		for (int64_t i = 0; i < n; i++)
			memcpy(ne + i * (k + 1), nf + i * k, (size_t)k * sizeof *nf);
		for (int64_t i = 0; i < n; i++)
			qi[i] = i;
		free(nf), free(df);
	} else {
		for (int64_t q = 0; q < nq; q++) {
			qi[q] = q * n / nq;
			memcpy(xq + q * d, x + qi[q] * d, (size_t)d * sizeof *xq);
		}
		/* k + 1: the query itself is among the points, at distance 0 */
		if (tsne_knn_cross(ne, de, xq, nq, x, n, d, k + 1) < 0)
			return fprintf(stderr, "tsne_knn: %s\n", err_msg()), 1;
		for (int64_t q = 0; q < nq; q++) {
			int32_t *r = ne + q * (k + 1);
			int o = 0;
			for (int t = 0; t <= k && o < k; t++)
				if (r[t] != qi[q])
					r[o++] = r[t];
		}
	}
	int64_t hit = 0;
	for (int64_t q = 0; q < nq; q++) {
		int32_t *e = ne + q * (k + 1), *g = na + qi[q] * k;
		qsort(e, k, sizeof *e, cmp_i32);
		qsort(g, k, sizeof *g, cmp_i32);
		hit += common(e, g, k);
	}
	printf("N %lld, D %d, k %d: approximate (%d trees, leaf %d, %d rounds, expand %d from %d) wall "
	       "%.2fs cpu %.2fs", (long long)n, d, k, ap.trees, ap.leaf, ap.rounds, tsne_ann_expand(&ap, n), ap.from,
	       wa, ca);
	if (we >= 0)
		printf(", exact wall %.2fs cpu %.2fs", we, ce);
	printf("; recall %.4f over %lld points\n", (double)hit / ((double)nq * k), (long long)nq);
	return 0;
}
