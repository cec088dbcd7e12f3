/* test_tsne.c - numerics of lib/tsne against references computed here by brute force. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "check.h"
#include "base/err.h"
#include "base/rng.h"
#include "tsne/tsne.h"

/* Gaussian blobs: n points in d dims, `nc` centres `sep` apart on average; labels out. */
static float *blobs(int64_t n, int d, int nc, double sep, uint64_t seed, int *lab)
{
	float *x = malloc((size_t)n * d * sizeof *x);
	double *cen = malloc((size_t)nc * d * sizeof *cen);
	rng_t r;
	rng_seed(&r, seed, 0);
	for (int t = 0; t < nc * d; t++)
		cen[t] = sep * rng_normal(&r);
	for (int64_t i = 0; i < n; i++) {
		int c = (int)(i % nc);
		if (lab)
			lab[i] = c;
		for (int t = 0; t < d; t++)
			x[i * d + t] = (float)(cen[c * d + t] + rng_normal(&r));
	}
	free(cen);
	return x;
}

static void test_knn(void)
{
	int64_t n = 2500; /* more than one 2048-row block: exercises the off-diagonal blocks */
	int d = 7, k = 15;
	float *x = blobs(n, d, 3, 2.0, 1, NULL);
	int32_t *nbr = malloc((size_t)n * k * sizeof *nbr);
	double *d2 = malloc((size_t)n * k * sizeof *d2);
	CHECK(tsne_knn(nbr, d2, x, n, d, k) == 0);
	int bad = 0, unsorted = 0;
	double *all = malloc((size_t)n * sizeof *all);
	for (int64_t i = 0; i < n; i += 7) {
		for (int64_t j = 0; j < n; j++) {
			double s = 0;
			for (int t = 0; t < d; t++)
				s += ((double)x[i * d + t] - x[j * d + t]) * ((double)x[i * d + t] - x[j * d + t]);
			all[j] = j == i ? INFINITY : s;
		}
		/* the k-th smallest true distance */
		double kth = 0;
		for (int t = 0; t < k; t++) {
			int64_t m = -1;
			for (int64_t j = 0; j < n; j++)
				if (m < 0 || all[j] < all[m])
					m = j;
			kth = all[m];
			all[m] = INFINITY;
		}
		for (int t = 0; t < k; t++) {
			int32_t j = nbr[i * k + t];
			double s = 0;
			for (int u = 0; u < d; u++)
				s += ((double)x[i * d + u] - x[j * d + u]) * ((double)x[i * d + u] - x[j * d + u]);
			if (j == i || s > kth * (1 + 1e-5) + 1e-9 || fabs(s - d2[i * k + t]) > 1e-4 * (1 + s))
				bad++;
			if (t > 0 && d2[i * k + t] < d2[i * k + t - 1])
				unsorted++;
		}
	}
	CHECK_MSG(bad == 0, "kNN: %d neighbours wrong", bad);
	CHECK(unsorted == 0);
	free(all), free(x), free(nbr), free(d2);
}

/* Points with many columns zero everywhere (as MNIST's border pixels), the search skipping
 * them: the same neighbours and distances as on the full points for 1 and 3 threads, and the
 * distances exact. */
static void test_knn_zero_columns(void)
{
	int64_t n = 2500;
	int d = 48, k = 20;
	float *x = blobs(n, d, 4, 2.0, 5, NULL);
	for (int64_t i = 0; i < n; i++)
		for (int t = 0; t < d; t++)
			if (t < 12 || t % 3 == 0)
				x[i * d + t] = 0;
	int32_t *nbr[2];
	double *d2[2];
	int nth = omp_get_max_threads();
	for (int r = 0; r < 2; r++) {
		nbr[r] = malloc((size_t)n * k * sizeof *nbr[r]);
		d2[r] = malloc((size_t)n * k * sizeof *d2[r]);
		omp_set_num_threads(r ? 3 : 1);
		CHECK(tsne_knn(nbr[r], d2[r], x, n, d, k) == 0);
	}
	omp_set_num_threads(nth);
	CHECK(memcmp(nbr[0], nbr[1], (size_t)n * k * sizeof *nbr[0]) == 0);
	CHECK(memcmp(d2[0], d2[1], (size_t)n * k * sizeof *d2[0]) == 0);
	int bad = 0;
	for (int64_t i = 0; i < n; i += 11)
		for (int t = 0; t < k; t++) {
			int32_t j = nbr[0][i * k + t];
			double s = 0;
			for (int u = 0; u < d; u++)
				s += ((double)x[i * d + u] - x[j * d + u]) * ((double)x[i * d + u] - x[j * d + u]);
			bad += j == i || fabs(s - d2[0][i * k + t]) > 1e-4 * (1 + s) ||
			       (t > 0 && d2[0][i * k + t] < d2[0][i * k + t - 1]);
		}
	CHECK_MSG(bad == 0, "kNN with zero columns: %d neighbours wrong", bad);
	for (int r = 0; r < 2; r++)
		free(nbr[r]), free(d2[r]);
	free(x);
}

static void test_calibration_and_P(void)
{
	int64_t n = 500;
	int d = 10;
	double perp = 20;
	int k = (int)(3 * perp);
	float *x = blobs(n, d, 4, 3.0, 2, NULL);
	int32_t *nbr = malloc((size_t)n * k * sizeof *nbr);
	double *d2 = malloc((size_t)n * k * sizeof *d2);
	double *p = malloc((size_t)n * k * sizeof *p);
	CHECK(tsne_knn(nbr, d2, x, n, d, k) == 0);
	CHECK(tsne_calibrate(p, NULL, d2, n, k, perp) == 0);
	/* Each row's entropy in nats equals log(perplexity) (natural log) within 1e-3. */
	double worst = 0, sumerr = 0;
	for (int64_t i = 0; i < n; i++) {
		double h = 0, s = 0;
		for (int t = 0; t < k; t++) {
			s += p[i * k + t];
			if (p[i * k + t] > 0)
				h -= p[i * k + t] * log(p[i * k + t]);
		}
		worst = fmax(worst, fabs(h - log(perp)));
		sumerr = fmax(sumerr, fabs(s - 1));
	}
	CHECK_MSG(worst < 1e-3, "worst row entropy error %g nats", worst);
	CHECK(sumerr < 1e-12);
	/* Symmetric, normalised P. */
	tsne_sparse P;
	CHECK(tsne_symmetrize(&P, nbr, p, n, k) == 0);
	double total = 0, asym = 0;
	int64_t self = 0;
	for (int64_t i = 0; i < n; i++)
		for (int64_t t = P.row[i]; t < P.row[i + 1]; t++) {
			int32_t j = P.col[t];
			total += P.val[t];
			self += j == i;
			double back = 0;
			for (int64_t u = P.row[j]; u < P.row[j + 1]; u++)
				if (P.col[u] == i)
					back = P.val[u];
			asym = fmax(asym, fabs(back - P.val[t]));
		}
	CHECK_CLOSE(total, 1.0, 1e-12);
	CHECK(self == 0);
	CHECK(asym < 1e-15);
	/* (p_{j|i} + p_{i|j}) / 2N for one pair */
	int32_t j0 = nbr[0];
	double pji = p[0], pij = 0;
	for (int t = 0; t < k; t++)
		if (nbr[(int64_t)j0 * k + t] == 0)
			pij = p[(int64_t)j0 * k + t];
	double got = 0;
	for (int64_t t = P.row[0]; t < P.row[1]; t++)
		if (P.col[t] == j0)
			got = P.val[t];
	CHECK_CLOSE(got, (pji + pij) / (2.0 * n), 1e-9);
	/* the transpose is filled by ranges of rows, one per thread: the same P for 1 and 3 */
	int nth = omp_get_max_threads();
	tsne_sparse P1, P3;
	omp_set_num_threads(1);
	CHECK(tsne_symmetrize(&P1, nbr, p, n, k) == 0);
	omp_set_num_threads(3);
	CHECK(tsne_symmetrize(&P3, nbr, p, n, k) == 0);
	omp_set_num_threads(nth);
	CHECK(memcmp(P1.row, P.row, ((size_t)n + 1) * sizeof *P.row) == 0);
	CHECK(memcmp(P3.row, P.row, ((size_t)n + 1) * sizeof *P.row) == 0);
	CHECK(memcmp(P1.col, P3.col, (size_t)P.row[n] * sizeof *P.col) == 0);
	CHECK(memcmp(P1.val, P3.val, (size_t)P.row[n] * sizeof *P.val) == 0);
	CHECK(memcmp(P.val, P3.val, (size_t)P.row[n] * sizeof *P.val) == 0);
	tsne_sparse_free(&P1), tsne_sparse_free(&P3);
	tsne_sparse_free(&P);
	free(x), free(nbr), free(d2), free(p);
}

static double kl_exact(const double *y, const tsne_sparse *P)
{
	return tsne_kl(y, P, tsne_exact_z(y, P->n));
}

static void test_gradients(void)
{
	int64_t n = 400;
	int d = 5;
	float *x = blobs(n, d, 3, 3.0, 3, NULL);
	tsne_sparse P;
	CHECK(tsne_affinities(&P, x, n, d, 10) == 0);
	double *y = malloc((size_t)n * 2 * sizeof *y);
	rng_t r;
	rng_seed(&r, 4, 0);
	for (int64_t t = 0; t < 2 * n; t++)
		y[t] = 3.0 * rng_normal(&r);
	double *ge = malloc((size_t)n * 2 * sizeof *ge), *gb = malloc((size_t)n * 2 * sizeof *gb);
	tsne_work *w = tsne_work_new(n);
	double ze, zb;
	CHECK(tsne_gradient(ge, y, &P, 1.0, TSNE_EXACT, 0, w, &ze) == 0);
	CHECK_CLOSE(ze, tsne_exact_z(y, n), 1e-12);

	/* The exact gradient is the derivative of KL: central finite differences. */
	double h = 1e-5, worst = 0;
	for (int64_t t = 0; t < 2 * n; t += 37) {
		double keep = y[t];
		y[t] = keep + h;
		double kp = kl_exact(y, &P);
		y[t] = keep - h;
		double km = kl_exact(y, &P);
		y[t] = keep;
		double fd = (kp - km) / (2 * h);
		worst = fmax(worst, fabs(fd - ge[t]) / (1e-6 + fabs(ge[t])));
	}
	CHECK_MSG(worst < 1e-4, "exact gradient vs finite differences: rel err %g", worst);

	/* Barnes-Hut tends to the exact gradient as theta -> 0. */
	double prev = INFINITY;
	const double thetas[] = {0.8, 0.5, 0.2, 0.05, 1e-9};
	for (int a = 0; a < 5; a++) {
		CHECK(tsne_gradient(gb, y, &P, 1.0, TSNE_BH, thetas[a], w, &zb) == 0);
		double num = 0, den = 0;
		for (int64_t t = 0; t < 2 * n; t++) {
			num += (gb[t] - ge[t]) * (gb[t] - ge[t]);
			den += ge[t] * ge[t];
		}
		double rel = sqrt(num / den);
		printf("  Barnes-Hut theta %g: relative gradient error %.3g\n", thetas[a], rel);
		/* smaller while above the single-precision floor of the walk's sums (~5e-7 here),
		 * where two angles may round either way */
		CHECK_MSG(rel <= prev || rel < 1e-5, "theta %g: rel err %g not below %g", thetas[a], rel,
		          prev);
		prev = rel;
		if (thetas[a] == 0.5)
			CHECK_MSG(rel < 0.02, "theta 0.5: rel err %g", rel);
		if (thetas[a] < 1e-6) { /* exact up to the single-precision sums of the walk */
			CHECK_MSG(rel < 1e-5, "theta ~0: rel err %g", rel);
			CHECK_CLOSE(zb, ze, 1e-6);
		}
	}
	/* FFT interpolation (FIt-SNE): close to exact, at this spread (~20 units) and at a
	 * small one (all boxes far narrower than the kernel); a sparse wide one (~200 units)
	 * within 10%.  Z within 1e-3 in all three (the self term is taken off as interpolated). */
	{
		const double spreads[] = {1.0, 0.01, 10.0};
		double *ys = malloc((size_t)n * 2 * sizeof *ys);
		for (int a = 0; a < 3; a++) {
			for (int64_t t = 0; t < 2 * n; t++)
				ys[t] = y[t] * spreads[a];
			CHECK(tsne_gradient(ge, ys, &P, 1.0, TSNE_EXACT, 0, w, &ze) == 0);
			CHECK(tsne_gradient(gb, ys, &P, 1.0, TSNE_FFT, 0.5, w, &zb) == 0);
			double num = 0, den = 0;
			for (int64_t t = 0; t < 2 * n; t++) {
				num += (gb[t] - ge[t]) * (gb[t] - ge[t]);
				den += ge[t] * ge[t];
			}
			printf("  FFT, layout x%g: relative gradient error %.3g, Z %.6g (exact %.6g)\n",
			       spreads[a], sqrt(num / den), zb, ze);
			/* sparse (400 points over 200 x 200 units): the small forces lose digits */
			double tol = spreads[a] > 1 ? 0.1 : 5e-3;
			CHECK_MSG(sqrt(num / den) < tol, "FFT x%g: rel err %g", spreads[a], sqrt(num / den));
			CHECK_CLOSE(zb, ze, 1e-3);
		}
		free(ys);
	}
	/* Coincident points must not break the tree: more than a group (QT_GROUP = 64), so they
	 * end in one leaf at full depth, which must still get its forces. */
	for (int64_t i = 0; i < 150; i++)
		y[2 * i] = y[2 * i + 1] = 1.0;
	/* Barnes-Hut first: w still holds the forces of the layout before, so a point the walk
	 * skips keeps a stale force and shows. */
	CHECK(tsne_gradient(gb, y, &P, 1.0, TSNE_BH, 1e-9, w, &zb) == 0);
	CHECK(tsne_gradient(ge, y, &P, 1.0, TSNE_EXACT, 0, w, &ze) == 0);
	{
		double num = 0, den = 0;
		for (int64_t t = 0; t < 2 * n; t++) {
			num += (gb[t] - ge[t]) * (gb[t] - ge[t]);
			den += ge[t] * ge[t];
		}
		CHECK_MSG(sqrt(num / den) < 1e-5, "duplicates: rel err %g", sqrt(num / den));
		CHECK_CLOSE(zb, ze, 1e-6);
	}
	tsne_work_free(w);
	tsne_sparse_free(&P);
	free(x), free(y), free(ge), free(gb);
}

typedef struct {
	int n;
	int iter[64];
	double kl[64];
} kl_log;

static int log_kl(void *c, int iter, int max_iter, double kl)
{
	kl_log *l = c;
	if (l->n < 64) {
		l->iter[l->n] = iter;
		l->kl[l->n++] = kl;
	}
	return 0;
}

static void test_optimize(void)
{
	int64_t n = 600;
	int d = 10;
	int *lab = malloc((size_t)n * sizeof *lab);
	float *x = blobs(n, d, 4, 4.0, 5, lab);
	tsne_params p;
	tsne_params_default(&p);
	p.max_iter = 600;
	p.report_every = 50;
	p.report = log_kl;
	kl_log l = {0};
	p.ctx = &l;
	float *y = malloc((size_t)n * 2 * sizeof *y), *y2 = malloc((size_t)n * 2 * sizeof *y2);
	double kl;
	CHECK(tsne_run(y, x, n, d, &p, &kl) == 0);
	/* KL decreases once exaggeration is off (iteration >= 300), and ends well below where
	 * the unexaggerated descent started. */
	int inc = 0, first = -1;
	for (int t = 0; t < l.n; t++) {
		if (l.iter[t] < 300)
			continue;
		if (first < 0)
			first = t;
		else if (l.kl[t] > l.kl[t - 1] + 1e-3)
			inc++;
	}
	for (int t = 0; t < l.n; t++)
		printf("  iter %d KL %.5f\n", l.iter[t], l.kl[t]);
	CHECK_MSG(inc == 0, "KL went up %d times after exaggeration", inc);
	CHECK(first >= 0 && kl < l.kl[first]);
	CHECK(l.kl[0] > kl); /* iteration 50, exaggerated phase, vs the end */
	/* Separated clusters stay separated: 10-NN label agreement in 2-D. */
	int agree = 0;
	for (int64_t i = 0; i < n; i++) {
		double best[10];
		int bl[10];
		for (int t = 0; t < 10; t++)
			best[t] = INFINITY, bl[t] = -1;
		for (int64_t j = 0; j < n; j++) {
			if (j == i)
				continue;
			double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1], s = dx * dx + dy * dy;
			if (s < best[9]) {
				int t = 9;
				while (t > 0 && best[t - 1] > s) {
					best[t] = best[t - 1], bl[t] = bl[t - 1];
					t--;
				}
				best[t] = s, bl[t] = lab[j];
			}
		}
		for (int t = 0; t < 10; t++)
			agree += bl[t] == lab[i];
	}
	CHECK_MSG(agree >= 0.95 * 10 * n, "10-NN label agreement %g", agree / (10.0 * n));
	/* Same input, same seed: same bytes (random init too). */
	p.report = NULL;
	p.init = TSNE_INIT_RANDOM;
	p.seed = 9;
	p.max_iter = 100;
	CHECK(tsne_run(y, x, n, d, &p, NULL) == 0);
	CHECK(tsne_run(y2, x, n, d, &p, NULL) == 0);
	CHECK(memcmp(y, y2, (size_t)n * 2 * sizeof *y) == 0);
	p.seed = 10;
	CHECK(tsne_run(y2, x, n, d, &p, NULL) == 0);
	CHECK(memcmp(y, y2, (size_t)n * 2 * sizeof *y) != 0);
	free(x), free(y), free(y2), free(lab);
}

static void test_pca(void)
{
	/* Points along known orthogonal directions with variances 25, 4, 1, 0.01. */
	int64_t n = 4000;
	int d = 6;
	double u[3][6] = {{1, 1, 0, 0, 0, 0}, {0, 0, 1, 1, 1, 1}, {1, -1, 0, 0, 0, 0}};
	double sd[3] = {5, 2, 1};
	float *x = malloc((size_t)n * d * sizeof *x), *pc = malloc((size_t)n * 3 * sizeof *pc);
	rng_t r;
	rng_seed(&r, 6, 0);
	for (int c = 0; c < 3; c++) {
		double s = 0;
		for (int t = 0; t < d; t++)
			s += u[c][t] * u[c][t];
		for (int t = 0; t < d; t++)
			u[c][t] /= sqrt(s);
	}
	for (int64_t i = 0; i < n; i++) {
		double a[3];
		for (int c = 0; c < 3; c++)
			a[c] = sd[c] * rng_normal(&r);
		for (int t = 0; t < d; t++)
			x[i * d + t] = (float)(7.0 + a[0] * u[0][t] + a[1] * u[1][t] + a[2] * u[2][t] +
			                       0.1 * rng_normal(&r));
	}
	CHECK(tsne_pca(pc, x, n, d, 3) == 0);
	double var[3] = {0}, mean[3] = {0};
	for (int64_t i = 0; i < n; i++)
		for (int c = 0; c < 3; c++)
			mean[c] += pc[i * 3 + c];
	for (int c = 0; c < 3; c++) {
		mean[c] /= n;
		CHECK(fabs(mean[c]) < 1e-3);
	}
	for (int64_t i = 0; i < n; i++)
		for (int c = 0; c < 3; c++)
			var[c] += (pc[i * 3 + c] - mean[c]) * (pc[i * 3 + c] - mean[c]);
	for (int c = 0; c < 3; c++)
		var[c] /= n;
	CHECK(var[0] > var[1] && var[1] > var[2]);
	CHECK_CLOSE(var[0], 25.0, 0.1);
	CHECK_CLOSE(var[1], 4.0, 0.1);
	CHECK_CLOSE(var[2], 1.0, 0.1);
	/* the float version (tsne --pca): the same components to float precision (the data sit
	 * at an offset of 7, which the centring in float must remove) */
	float *pf = malloc((size_t)n * 3 * sizeof *pf);
	CHECK(tsne_pca_float(pf, x, n, d, 3) == 0);
	double dmax = 0;
	for (int64_t t = 0; t < n * 3; t++)
		dmax = fmax(dmax, fabs((double)pf[t] - pc[t]));
	CHECK_MSG(dmax < 1e-4, "float PCA differs by %g", dmax);
	CHECK_ERR(tsne_pca_float(pf, x, n, d, d + 1), "cannot take");
	free(x), free(pc), free(pf);
}

static void test_errors(void)
{
	tsne_sparse P;
	float x[40 * 3] = {0};
	for (int t = 0; t < 120; t++)
		x[t] = (float)(t % 7);
	CHECK_ERR(tsne_affinities(&P, x, 40, 3, 30), "too few");
	CHECK_ERR(tsne_affinities(&P, x, 40, 0, 5), "D=0");
	CHECK(tsne_affinities(&P, x, 40, 3, 13) == 0); /* 39 >= 39 */
	tsne_sparse_free(&P);

	/* Start layouts: finite, within +-TSNE_LAYOUT_MAX, not all in one place. */
	float y[8] = {1, 2, 1, 2, 1, 2, 1, 2};
	CHECK_ERR(tsne_layout_check(y, 4, "init"), "init: all 4 points at the same position");
	y[5] = 2.5f;
	CHECK(tsne_layout_check(y, 4, "init") == 0);
	y[6] = NAN;
	CHECK_ERR(tsne_layout_check(y, 4, "init"), "init: NaN or Inf at row 3");
	y[6] = -3e8f;
	CHECK_ERR(tsne_layout_check(y, 4, "init"), "at row 3 is beyond 1e+08");
}

/* Points far from 1 in scale are scaled by a power of two (exactly): the same P. */
static void test_rescale(void)
{
	int64_t n = 120;
	int d = 4;
	float *x = blobs(n, d, 3, 3.0, 9, NULL);
	float *xs;
	CHECK(tsne_rescale(&xs, x, n, d) == 0 && xs == NULL); /* a usual scale: no copy */
	tsne_sparse P0, P1;
	CHECK(tsne_affinities(&P0, x, n, d, 10) == 0);
	const double scales[] = {0x1p80, 0x1p-110, 1e19, 3e-36};
	for (int a = 0; a < 4; a++) {
		float *xb = malloc((size_t)n * d * sizeof *xb);
		for (int64_t t = 0; t < n * d; t++)
			xb[t] = (float)(x[t] * scales[a]);
		CHECK(tsne_rescale(&xs, xb, n, d) == 0 && xs != NULL);
		float m = 0;
		for (int64_t t = 0; xs && t < n * d; t++)
			m = fmaxf(m, fabsf(xs[t]));
		CHECK_MSG(m >= 0.5f && m < 1.0f, "scale %g: max |x| %g after rescaling", scales[a], m);
		free(xs);
		CHECK(tsne_affinities(&P1, xb, n, d, 10) == 0);
		int same = P1.row[n] == P0.row[n];
		double worst = 0;
		for (int64_t t = 0; same && t < P0.row[n]; t++) {
			same &= P1.col[t] == P0.col[t];
			worst = fmax(worst, fabs(P1.val[t] - P0.val[t]) / P0.val[t]);
		}
		CHECK_MSG(same, "scale %g: other neighbours", scales[a]);
		/* powers of two: exact; others: float rounding of the scaled inputs */
		CHECK_MSG(worst <= (a < 2 ? 0 : 1e-4), "scale %g: P differs by %g", scales[a], worst);
		tsne_sparse_free(&P1);
		free(xb);
	}
	tsne_sparse_free(&P0);
	free(x);
}

/* --method auto chooses at every evaluation: fft for a compact layout of many points (its
 * grid, B = 50 boxes, is small for N: B^2 <= TSNE_FFT_BOXES2_PER_POINT N), Barnes-Hut once
 * the layout spans so many units that the grid outgrows N. */
static void test_auto_method(void)
{
	int64_t n = 36000;
	CHECK(50.0 * 50.0 <= TSNE_FFT_BOXES2_PER_POINT * n);
	double *y = malloc((size_t)n * 2 * sizeof *y);
	double *ga = malloc((size_t)n * 2 * sizeof *ga), *gm = malloc((size_t)n * 2 * sizeof *gm);
	tsne_sparse P = {n, calloc((size_t)n + 1, sizeof(int64_t)), NULL, NULL}; /* repulsion only */
	rng_t r;
	rng_seed(&r, 9, 0);
	for (double span = 10; span <= 1000; span *= 100) {
		for (int64_t t = 0; t < 2 * n; t++)
			y[t] = span * rng_uniform(&r);
		double za = 0, zm = 0;
		/* fresh work areas: a quadtree is built in the last one's order */
		tsne_work *wa = tsne_work_new(n), *wm = tsne_work_new(n);
		CHECK(tsne_gradient(ga, y, &P, 1.0, TSNE_AUTO, 0.5, wa, &za) == 0);
		tsne_method want = span < 100 ? TSNE_FFT : TSNE_BH;
		CHECK(tsne_gradient(gm, y, &P, 1.0, want, 0.5, wm, &zm) == 0);
		tsne_work_free(wa), tsne_work_free(wm);
		CHECK_MSG(za == zm && memcmp(ga, gm, (size_t)n * 2 * sizeof *ga) == 0,
		          "span %g: auto is not %s", span, want == TSNE_FFT ? "fft" : "bh");
	}
	free(y), free(ga), free(gm), free(P.row);
}

/* The optimiser's parallel paths (more than 4096 points: renumbering along the quadtree or
 * the FFT grid, the attraction and the repulsion in parallel): the same input gives the same
 * bytes run after run, by Barnes-Hut and by FFT, and both reach about the same KL. */
static void test_optimize_parallel(void)
{
	int64_t n = 5000;
	int d = 10;
	float *x = blobs(n, d, 6, 5.0, 21, NULL);
	float *y = malloc((size_t)n * 2 * sizeof *y), *y2 = malloc((size_t)n * 2 * sizeof *y2);
	tsne_params p;
	tsne_params_default(&p);
	p.max_iter = 160; /* renumbered at iterations 50 and 150 */
	p.exag_iter = 60;
	p.mom_switch_iter = 60;
	double kl[2];
	tsne_method m[2] = {TSNE_BH, TSNE_FFT};
	for (int a = 0; a < 2; a++) {
		p.method = m[a];
		double k2;
		CHECK(tsne_run(y, x, n, d, &p, &kl[a]) == 0);
		CHECK(tsne_run(y2, x, n, d, &p, &k2) == 0);
		CHECK_MSG(memcmp(y, y2, (size_t)n * 2 * sizeof *y) == 0 && kl[a] == k2,
		          "%s: two runs differ", a ? "fft" : "bh");
		CHECK(isfinite(kl[a]) && kl[a] > 0);
	}
	printf("  KL bh %.5f, fft %.5f\n", kl[0], kl[1]);
	CHECK_MSG(fabs(kl[0] - kl[1]) < 0.05 * kl[0], "KL bh %g, fft %g", kl[0], kl[1]);
	free(x), free(y), free(y2);
}

/* The optimiser's first two steps against ones computed here from tsne_gradient (P in double,
 * the same Barnes-Hut repulsion).  Above 4096 points the first step's attraction is taken
 * from P itself (in the caller's numbering) and the second from the optimiser's own padded
 * stream, packed at iteration 1 in the quadtree's order, with columns near and far from their
 * rows (half of P's weight on pairs 33,000 apart: beyond the compact form's 16-bit offsets).
 * Both stream forms: the explicit AVX-512 one where the CPU has it (the compact form, values in
 * binary16: relative error up to 2^-11 each; 2.3e-4 of the largest move measured, 5e-4
 * allowed), and DANN_ISA=generic (floats: 1e-5). */
static void test_optimize_first_steps(void)
{
	int64_t n = 34000, far = 33000;
	tsne_sparse P = {n, malloc(((size_t)n + 1) * sizeof *P.row), malloc((size_t)n * 3 * sizeof *P.col),
	                 malloc((size_t)n * 3 * sizeof *P.val)};
	int64_t o = 0;
	for (int64_t i = 0; i < n; i++) { /* a ring i +- 1, and i <-> i + far */
		P.row[i] = o;
		int64_t js[3] = {i - 1, i + 1, i < n - far ? i + far : i >= far ? i - far : -1};
		for (int t = 0; t < 3; t++)
			if (js[t] >= 0 && js[t] < n)
				P.col[o] = (int32_t)js[t], P.val[o++] = t == 2 ? 20.0 : 1.0 + 0.001 * (double)(i % 7);
	}
	P.row[n] = o;
	double sum = 0;
	for (int64_t t = 0; t < o; t++)
		sum += P.val[t];
	for (int64_t t = 0; t < o; t++)
		P.val[t] /= sum;
	size_t sz = (size_t)n * 2 * sizeof(double);
	double *y0 = malloc(sz), *y1 = malloc(sz), *g = malloc(sz), *upd = malloc(sz);
	double *gain = malloc(sz), *ref[2] = {malloc(sz), malloc(sz)};
	rng_t r;
	rng_seed(&r, 5, 0);
	for (int64_t t = 0; t < 2 * n; t++)
		y0[t] = rng_normal(&r);
	tsne_params p;
	tsne_params_default(&p);
	p.method = TSNE_BH;
	tsne_work *w = tsne_work_new(n);
	double eta = tsne_learning_rate(&p, n), step[2] = {0, 0}, z;
	/* gains from 1, the update from 0: +0.2 where the gradient pushes against the update,
	 * else *0.8; each step's layout centred (no force depends on the mean) */
	for (int64_t t = 0; t < 2 * n; t++)
		gain[t] = 1, upd[t] = 0;
	memcpy(ref[1], y0, sz);
	for (int k = 0; k < 2; k++) {
		CHECK(tsne_gradient(g, ref[1], &P, p.exaggeration, TSNE_BH, p.theta, w, &z) == 0);
		double mx = 0, my = 0;
		for (int64_t t = 0; t < 2 * n; t++) {
			gain[t] = (g[t] > 0) != (upd[t] > 0) ? gain[t] + 0.2 : gain[t] * 0.8;
			upd[t] = p.momentum * upd[t] - eta * gain[t] * g[t];
			ref[k][t] = ref[1][t] + upd[t];
			step[k] = fmax(step[k], fabs(upd[t]));
		}
		for (int64_t i = 0; i < n; i++)
			mx += ref[k][2 * i], my += ref[k][2 * i + 1];
		for (int64_t i = 0; i < n; i++)
			ref[k][2 * i] -= mx / n, ref[k][2 * i + 1] -= my / n;
		if (k == 0)
			memcpy(ref[1], ref[0], sz);
	}
	tsne_work_free(w);
	const char *isa[2] = {NULL, "generic"};
	char *old = getenv("DANN_ISA") ? strdup(getenv("DANN_ISA")) : NULL;
	for (int a = 0; a < 2; a++) {
		if (isa[a])
			setenv("DANN_ISA", isa[a], 1);
		for (int k = 0; k < 2; k++) {
			p.max_iter = k + 1;
			memcpy(y1, y0, sz);
			CHECK(tsne_optimize(y1, &P, &p, NULL) == 0);
			double e = 0;
			for (int64_t t = 0; t < 2 * n; t++)
				e = fmax(e, fabs(y1[t] - ref[k][t]));
			const char *name = isa[a] ? isa[a] : "default";
			printf("  step %d (%s, attraction from %s): largest error %.3g of the largest move %.3g\n",
			       k + 1, name, k ? "the stream" : "P", e, step[k]);
			CHECK_MSG(e < (isa[a] || k == 0 ? 1e-5 : 5e-4) * step[k],
			          "%s: step %d off by %g (move %g)", name, k + 1, e, step[k]);
		}
	}
	if (old)
		setenv("DANN_ISA", old, 1), free(old);
	else
		unsetenv("DANN_ISA");
	free(P.row), free(P.col), free(P.val), free(y0), free(y1), free(g), free(upd), free(gain);
	free(ref[0]), free(ref[1]);
}

int main(void)
{
	test_knn();
	test_knn_zero_columns();
	test_calibration_and_P();
	test_gradients();
	test_optimize();
	test_pca();
	test_errors();
	test_rescale();
	test_auto_method();
	test_optimize_parallel();
	test_optimize_first_steps();
	return check_summary("test_tsne");
}
