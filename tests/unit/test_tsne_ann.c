/* test_tsne_ann.c - approximate k nearest neighbours (lib/tsne/ann.c) against the exact ones:
 * recall, determinism across thread counts, duplicates, the single-leaf case, and what every
 * row must be whatever the settings. */
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "check.h"
#include "base/err.h"
#include "base/rng.h"
#include "tsne/tsne.h"

/* n points near a 3-D manifold in d dims (a twisted sheet plus a blob, with noise): a low
 * intrinsic dimension, as embeddings have. */
static float *sheet(int64_t n, int d, uint64_t seed)
{
	float *x = malloc((size_t)n * d * sizeof *x);
	rng_t r;
	rng_seed(&r, seed, 0);
	for (int64_t i = 0; i < n; i++) {
		double u = 6 * rng_uniform(&r), v = 4 * rng_uniform(&r), w = rng_uniform(&r);
		for (int t = 0; t < d; t++)
			x[i * d + t] = (float)(sin(u * (1 + t % 3) + t) * v + cos(v + t) * w * (t % 2) +
			                       (i % 5 == 0 ? 5.0 : 0.0) + 0.4 * rng_normal(&r));
	}
	return x;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* Fraction of the exact neighbours found. */
static double recall(const int32_t *exact, const int32_t *approx, int64_t n, int k)
{
	int32_t *a = malloc((size_t)k * sizeof *a), *b = malloc((size_t)k * sizeof *b);
	int64_t hit = 0;
	for (int64_t i = 0; i < n; i++) {
		memcpy(a, exact + i * k, (size_t)k * sizeof *a);
		memcpy(b, approx + i * k, (size_t)k * sizeof *b);
		qsort(a, k, sizeof *a, cmp_i32);
		qsort(b, k, sizeof *b, cmp_i32);
		for (int p = 0, q = 0; p < k && q < k;)
			if (a[p] == b[q])
				hit++, p++, q++;
			else if (a[p] < b[q])
				p++;
			else
				q++;
	}
	free(a), free(b);
	return (double)hit / ((double)n * k);
}

static void test_recall_and_determinism(void)
{
	int64_t n = 4000;
	int d = 16, k = 30;
	float *x = sheet(n, d, 3);
	int32_t *ne = malloc((size_t)n * k * sizeof *ne), *na = malloc((size_t)n * k * sizeof *na);
	int32_t *n1 = malloc((size_t)n * k * sizeof *n1);
	double *de = malloc((size_t)n * k * sizeof *de), *da = malloc((size_t)n * k * sizeof *da);
	double *d1 = malloc((size_t)n * k * sizeof *d1);
	CHECK(tsne_knn(ne, de, x, n, d, k) == 0);
	tsne_ann_params ap;
	tsne_ann_params_default(&ap);
	int nth = omp_get_max_threads();
	omp_set_num_threads(2);
	CHECK(tsne_knn_approx(na, da, x, n, d, k, &ap) == 0);
	double rec = recall(ne, na, n, k);
	printf("  approximate k-NN: recall %.4f (n %lld, d %d, k %d)\n", rec, (long long)n, d, k);
	CHECK_MSG(rec >= 0.95, "recall %.4f < 0.95", rec);
	/* sorted, no self, no repeats, distances those of the points */
	int bad = 0;
	for (int64_t i = 0; i < n; i++)
		for (int t = 0; t < k; t++) {
			int32_t j = na[i * k + t];
			double s = 0;
			for (int u = 0; u < d; u++)
				s += ((double)x[i * d + u] - x[j * d + u]) * ((double)x[i * d + u] - x[j * d + u]);
			bad += j == i || fabs(s - da[i * k + t]) > 1e-9 * (1 + s) ||
			       (t > 0 && da[i * k + t] < da[i * k + t - 1]);
			for (int u = 0; u < t; u++)
				bad += na[i * k + u] == j;
		}
	CHECK_MSG(bad == 0, "%d bad entries", bad);
	/* refinement helps: without it the forest alone finds fewer */
	tsne_ann_params a0 = ap;
	a0.rounds = 0;
	CHECK(tsne_knn_approx(n1, d1, x, n, d, k, &a0) == 0);
	double rec0 = recall(ne, n1, n, k);
	printf("  the forest alone: recall %.4f\n", rec0);
	CHECK_MSG(rec0 < rec, "forest alone %.4f, refined %.4f", rec0, rec);
	/* the same bytes with one thread */
	omp_set_num_threads(1);
	CHECK(tsne_knn_approx(n1, d1, x, n, d, k, &ap) == 0);
	CHECK(memcmp(n1, na, (size_t)n * k * sizeof *n1) == 0);
	CHECK(memcmp(d1, da, (size_t)n * k * sizeof *d1) == 0);
	/* another seed, other trees: still a good answer, not the same one */
	ap.seed = 7;
	CHECK(tsne_knn_approx(n1, d1, x, n, d, k, &ap) == 0);
	CHECK(recall(ne, n1, n, k) >= 0.95);
	omp_set_num_threads(nth);
	free(x), free(ne), free(na), free(n1), free(de), free(da), free(d1);
}

static void test_small_and_duplicates(void)
{
	/* n within one leaf (2k + 2): all pairs, the exact answer */
	int64_t n = 60;
	int d = 5, k = 20;
	float *x = sheet(n, d, 5);
	int32_t *ne = malloc((size_t)400 * k * sizeof *ne), *na = malloc((size_t)400 * k * sizeof *na);
	double *de = malloc((size_t)400 * k * sizeof *de), *da = malloc((size_t)400 * k * sizeof *da);
	tsne_ann_params ap;
	tsne_ann_params_default(&ap);
	CHECK(tsne_knn(ne, de, x, n, d, k) == 0);
	CHECK(tsne_knn_approx(na, da, x, n, d, k, &ap) == 0);
	CHECK(memcmp(ne, na, (size_t)n * k * sizeof *ne) == 0);
	free(x);
	/* 400 points, 300 of them in one place: trees still split (at the median), every list
	 * has k distinct neighbours, the duplicates' at distance 0 */
	n = 400;
	x = sheet(n, d, 6);
	for (int64_t i = 100; i < n; i++)
		memcpy(x + i * d, x + 100 * d, (size_t)d * sizeof *x);
	CHECK(tsne_knn_approx(na, da, x, n, d, k, &ap) == 0);
	int bad = 0;
	for (int64_t i = 100; i < n; i++)
		for (int t = 0; t < k; t++) {
			bad += da[i * k + t] != 0 || na[i * k + t] < 100 || na[i * k + t] == i;
			for (int u = 0; u < t; u++)
				bad += na[i * k + u] == na[i * k + t];
		}
	CHECK_MSG(bad == 0, "%d bad entries among the duplicates", bad);
	CHECK_ERR(tsne_knn_approx(na, da, x, n, d, 400, &ap), "out of range");
	free(x), free(ne), free(na), free(de), free(da);
}

/* Every row, at settings that leave many lists unfinished (one tree, one round) and at the
 * defaults, in a dimension with a partial block of 16 coordinates: k distinct neighbours,
 * never the point itself, in increasing order of (distance, index), each distance the
 * point's own squared distance to that neighbour in double. */
static void test_rows_valid(void)
{
	int64_t n = 3000;
	int d = 37, k = 25;
	float *x = sheet(n, d, 9);
	int32_t *na = malloc((size_t)n * k * sizeof *na);
	double *da = malloc((size_t)n * k * sizeof *da);
	for (int s = 0; s < 2; s++) {
		tsne_ann_params ap;
		tsne_ann_params_default(&ap);
		if (s == 0)
			ap.trees = 1, ap.rounds = 1;
		CHECK(tsne_knn_approx(na, da, x, n, d, k, &ap) == 0);
		int bad = 0;
		for (int64_t i = 0; i < n; i++)
			for (int t = 0; t < k; t++) {
				int32_t j = na[i * k + t];
				if (j < 0 || j >= n || j == i) {
					bad++;
					continue;
				}
				double s2 = 0;
				for (int u = 0; u < d; u++) {
					double df = (double)x[i * d + u] - x[(int64_t)j * d + u];
					s2 += df * df;
				}
				bad += fabs(da[i * k + t] - s2) > 1e-9 * (1 + s2);
				if (t > 0)
					bad += da[i * k + t - 1] > da[i * k + t] ||
					       (da[i * k + t - 1] == da[i * k + t] && na[i * k + t - 1] >= j);
				for (int u = 0; u < t; u++)
					bad += na[i * k + u] == j;
			}
		CHECK_MSG(bad == 0, "settings %d: %d bad entries", s, bad);
	}
	free(x), free(na), free(da);
}

int main(void)
{
	test_recall_and_determinism();
	test_small_and_duplicates();
	test_rows_valid();
	return check_summary("test_tsne_ann");
}
