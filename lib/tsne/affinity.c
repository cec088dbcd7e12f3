/* affinity.c - the input similarities P of t-SNE: each point's conditional distribution over
 * its k nearest neighbours calibrated to the perplexity, symmetrised and normalised (sparse),
 * after an exact power-of-two rescaling of the points that keeps float distances in range. */
#include "tsne/tsne.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "tsne/internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---------------------------------------------------------------------------------------
 * Perplexity calibration (van der Maaten & Hinton 2008, Sec. 2): a root of H(beta_i) = target.
 *
 * With e_j = exp(-beta d_j), S = sum e_j and moments E = sum d_j e_j / S, E2 = sum d_j^2 e_j / S,
 * the entropy is H = log S + beta E and falls with beta: dH/dbeta = -beta (E2 - E^2).  Newton
 * steps on that derivative, kept inside the bracket [lo, hi] the signs of H - target have
 * shown so far (a step that leaves it bisects, or doubles beta while no upper end is known),
 * reach the tolerance in a few evaluations where bisection alone took about twenty
 * (the same root to the tolerance: the bracket only narrows). */

static int calibrate_row(double *p, double *beta_out, const double *d, int k, double target)
{
	double beta = 1.0, lo = 0.0, hi = INFINITY;
	double d0 = d[0];
	/* A first guess on the data's scale keeps the search short. */
	double mean = 0;
	for (int j = 0; j < k; j++)
		mean += d[j] - d0;
	mean /= k;
	if (mean > 0)
		beta = 1.0 / mean;
	int ok = 0;
	double s = 1;
	for (int it = 0; it < 200; it++) {
		double sd = 0, sd2 = 0;
		s = 0;
		for (int j = 0; j < k; j++) {
			double dj = d[j] - d0; /* shift by d0: same P, no underflow */
			double e = exp(-beta * dj);
			p[j] = e;
			s += e;
			sd += dj * e;
			sd2 += dj * dj * e;
		}
		double m1 = sd / s, h = log(s) + beta * m1;
		double diff = h - target;
		if (fabs(diff) < 1e-5) {
			ok = 1;
			break;
		}
		if (diff > 0) /* entropy too high: sharpen */
			lo = beta;
		else
			hi = beta;
		double slope = beta * (sd2 / s - m1 * m1); /* -dH/dbeta */
		double next = slope > 0 ? beta + diff / slope : NAN;
		if (!(next > lo && next < hi)) /* outside the bracket (or NaN): halve it */
			next = isinf(hi) ? beta * 2 : (lo + hi) / 2;
		beta = next;
	}
	for (int j = 0; j < k; j++) /* the last step's values, normalised */
		p[j] /= s;
	if (beta_out)
		*beta_out = beta;
	return ok;
}

int64_t tsne_calibrate(double *p, double *beta, const double *dist2, int64_t n, int k,
                       double perplexity)
{
	if (!(perplexity > 1.0) || k < 1)
		return err_set(DN_EARG, "perplexity must be > 1");
	double target = log(perplexity);
	int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad)
	for (int64_t i = 0; i < n; i++)
		bad += !calibrate_row(p + i * k, beta ? beta + i : NULL, dist2 + i * k, k, target);
	return bad;
}

/* ---------------------------------------------------------------------------------------
 * Symmetrisation: row i of P holds i's own neighbours (j, p_{j|i}) and the transposed entries
 * (j, p_{i|j}) of the points j that have i among theirs, by column, with the values of a
 * column present in both summed.  The transpose is a counting sort by target, filled in
 * source order, so each of its rows comes out sorted; each row is then one merge of two
 * sorted lists (rows in parallel), the same values in the same order for any thread count. */

void tsne_sparse_free(tsne_sparse *P)
{
	free(P->row);
	free(P->col);
	free(P->val);
	memset(P, 0, sizeof *P);
}

/* Own neighbours of row i ordered by column, as positions t in the row (insertion sort:
 * stable, and k is ~100). */
static void sort_row(int32_t *ord, const int32_t *nb, int k)
{
	for (int t = 0; t < k; t++) {
		int u = t;
		for (; u > 0 && nb[ord[u - 1]] > nb[t]; u--)
			ord[u] = ord[u - 1];
		ord[u] = t;
	}
}

/* Merge row i: own (sorted by ord) with the transposed entries tb..te (sources ascending);
 * writes at most k + te - tb entries to col/val when col != NULL, returns the count.  Equal
 * columns are summed in the order the entries were made in (transposed first when the source
 * comes before i): the order of the stable sort this replaces, so the same bytes. */
static int64_t merge_row(int32_t *col, double *val, int64_t i, const int32_t *nbr,
                         const double *p, const int32_t *ord, int k, const int32_t *isrc,
                         const double *ival, int64_t tb, int64_t te)
{
	const int32_t *nb = nbr + i * k;
	const double *pv = p + i * k;
	int64_t o = 0, t = tb;
	int u = 0;
	while (u < k || t < te) {
		int32_t cu = u < k ? nb[ord[u]] : INT32_MAX;
		int32_t ct = t < te ? isrc[t] : INT32_MAX;
		int32_t c = cu < ct ? cu : ct;
		double v = 0;
		int first = 1;
		if (c < i) /* transposed entries of column c were made first */
			for (; t < te && isrc[t] == c; t++, first = 0)
				v = first ? ival[t] : v + ival[t];
		for (; u < k && nb[ord[u]] == c; u++, first = 0)
			v = first ? pv[ord[u]] : v + pv[ord[u]];
		for (; t < te && isrc[t] == c; t++, first = 0)
			v = first ? ival[t] : v + ival[t];
		if (col)
			col[o] = c, val[o] = v;
		o++;
	}
	return o;
}

int tsne_symmetrize(tsne_sparse *P, const int32_t *nbr, const double *p, int64_t n, int k)
{
	memset(P, 0, sizeof *P);
	int64_t nk = n * k;
	int64_t *cnt = mem_alloc_big(((size_t)n + 1) * sizeof *cnt);
	int32_t *isrc = mem_alloc_big((size_t)nk * sizeof *isrc); /* transposed: source by target */
	double *ival = mem_alloc_big((size_t)nk * sizeof *ival);  /* and its p_{target|source} */
	int32_t *ord = mem_alloc_big((size_t)nk * sizeof *ord);   /* own neighbours by column */
	if (!cnt || !isrc || !ival || !ord) {
		free(cnt), free(isrc), free(ival), free(ord);
		return err_set(DN_ENOMEM, "out of memory for affinities");
	}
	memset(cnt, 0, ((size_t)n + 1) * sizeof *cnt);
	P->n = n;
	P->row = mem_alloc_big(((size_t)n + 1) * sizeof *P->row);
	if (!P->row)
		goto oom;
	/* The counting sort in parallel: each thread counts its range of sources, then fills from
	 * its own offsets (the ranges' counts before it); the ranges are in source order, so every
	 * row comes out the same for any number of threads. */
	int nth = 1;
#ifdef _OPENMP
	nth = omp_get_max_threads();
#endif
	int64_t *tcnt = mem_alloc_big((size_t)nth * n * sizeof *tcnt);
	if (!tcnt)
		goto oom;
#pragma omp parallel num_threads(nth)
	{
		int tid = 0, nt = 1;
#ifdef _OPENMP
		tid = omp_get_thread_num(), nt = omp_get_num_threads();
#endif
		int64_t *c = tcnt + (size_t)tid * n;
		int64_t s0 = n * tid / nt, s1 = n * (tid + 1) / nt;
		memset(c, 0, (size_t)n * sizeof *c);
		for (int64_t s = s0 * k; s < s1 * k; s++)
			c[nbr[s]]++;
#pragma omp barrier
		/* target j: cnt[j + 1] its total; thread tid's offset the counts of those before */
#pragma omp for schedule(static)
		for (int64_t j = 0; j < n; j++) {
			int64_t tot = 0;
			for (int u = 0; u < nt; u++) {
				int64_t v = tcnt[(size_t)u * n + j];
				tcnt[(size_t)u * n + j] = tot;
				tot += v;
			}
			cnt[j + 1] = tot;
		}
#pragma omp single
		{
			cnt[0] = 0;
			for (int64_t i = 0; i < n; i++)
				cnt[i + 1] += cnt[i];
		}
		for (int64_t i = s0; i < s1; i++)
			for (int t = 0; t < k; t++) {
				int32_t j = nbr[i * k + t];
				int64_t o = cnt[j] + c[j]++;
				isrc[o] = (int32_t)i, ival[o] = p[i * k + t];
			}
	}
	free(tcnt);
	/* merged lengths, then the rows */
#pragma omp parallel for schedule(dynamic, 256)
	for (int64_t i = 0; i < n; i++) {
		sort_row(ord + i * k, nbr + i * k, k);
		P->row[i + 1] = merge_row(NULL, NULL, i, nbr, p, ord + i * k, k, isrc, ival,
		                          cnt[i], cnt[i + 1]);
	}
	P->row[0] = 0;
	for (int64_t i = 0; i < n; i++)
		P->row[i + 1] += P->row[i];
	int64_t nnz = P->row[n];
	P->col = mem_alloc_big((size_t)nnz * sizeof *P->col);
	P->val = mem_alloc_big((size_t)nnz * sizeof *P->val);
	if (!P->col || !P->val)
		goto oom;
#pragma omp parallel for schedule(dynamic, 256)
	for (int64_t i = 0; i < n; i++)
		merge_row(P->col + P->row[i], P->val + P->row[i], i, nbr, p, ord + i * k, k, isrc,
		          ival, cnt[i], cnt[i + 1]);
	free(cnt), free(isrc), free(ival), free(ord);
	double total = 0;
	for (int64_t t = 0; t < nnz; t++)
		total += P->val[t];
#pragma omp parallel for schedule(static)
	for (int64_t t = 0; t < nnz; t++)
		P->val[t] /= total;
	return 0;
oom:
	free(cnt), free(isrc), free(ival), free(ord);
	tsne_sparse_free(P);
	return err_set(DN_ENOMEM, "out of memory for affinities");
}

/* Largest |value| of x (n,d). */
float tsne_max_abs(const float *x, int64_t n, int d)
{
	float m = 0;
	for (int64_t t = 0; t < n * d; t++)
		m = fabsf(x[t]) > m ? fabsf(x[t]) : m;
	return m;
}

/* The power of two e such that x * 2^-e has its largest |value| m in [0.5, 1), or 0 when m is
 * 0 or already in [2^-24, 2^24] (no scaling needed). */
int tsne_scale_exponent(float m)
{
	int e = 0;
	if (m == 0 || (m >= 0x1p-24f && m <= 0x1p24f))
		return 0;
	frexpf(m, &e); /* m = f * 2^e, 0.5 <= f < 1 */
	return e;
}

/* *xs = x * 2^-e (malloc'd), or NULL when e == 0. */
int tsne_scaled_copy(float **xs, const float *x, int64_t n, int d, int e)
{
	*xs = NULL;
	if (e == 0)
		return 0;
	float *s = mem_alloc_big((size_t)n * d * sizeof *s);
	if (!s)
		return err_set(DN_ENOMEM, "out of memory for (%lld,%d) points", (long long)n, d);
	for (int64_t t = 0; t < n * d; t++)
		s[t] = ldexpf(x[t], -e);
	*xs = s;
	return 0;
}

int tsne_rescale(float **xs, const float *x, int64_t n, int d)
{
	return tsne_scaled_copy(xs, x, n, d, tsne_scale_exponent(tsne_max_abs(x, n, d)));
}

int tsne_affinities(tsne_sparse *P, const float *x, int64_t n, int d, double perplexity)
{
	return tsne_affinities_knn(P, x, n, d, perplexity, TSNE_KNN_AUTO, 0);
}

int tsne_affinities_knn(tsne_sparse *P, const float *x, int64_t n, int d, double perplexity,
                        tsne_knn_method knn, uint64_t seed)
{
	memset(P, 0, sizeof *P);
	if (d < 1)
		return err_set(DN_EFORMAT, "points have D=0 dimensions");
	if (!(perplexity > 1.0))
		return err_set(DN_EARG, "perplexity must be > 1");
	if ((double)(n - 1) < 3.0 * perplexity)
		return err_set(DN_ERANGE,
		               "N=%lld points too few for perplexity %g (need N-1 >= 3*perplexity)",
		               (long long)n, perplexity);
	int k = (int)(3.0 * perplexity);
	int32_t *nbr = mem_alloc_big((size_t)n * k * sizeof *nbr);
	double *dist2 = mem_alloc_big((size_t)n * k * sizeof *dist2);
	double *p = NULL; /* allocated once the search's own buffers are freed: less at its peak */
	float *xs = NULL;
	int rc = DN_ENOMEM;
	if (!nbr || !dist2) {
		err_set(DN_ENOMEM, "out of memory for %lld neighbours", (long long)n * k);
		goto out;
	}
	if ((rc = tsne_rescale(&xs, x, n, d)) < 0)
		goto out;
	if (knn == TSNE_KNN_AUTO)
		knn = n >= TSNE_ANN_MIN_N ? TSNE_KNN_APPROX : TSNE_KNN_EXACT;
	if (knn == TSNE_KNN_APPROX) {
		tsne_ann_params ap;
		tsne_ann_params_default(&ap);
		ap.seed = seed;
		rc = tsne_knn_approx(nbr, dist2, xs ? xs : x, n, d, k, &ap);
	} else {
		rc = tsne_knn(nbr, dist2, xs ? xs : x, n, d, k);
	}
	if (rc < 0)
		goto out;
	p = mem_alloc_big((size_t)n * k * sizeof *p);
	if (!p) {
		rc = err_set(DN_ENOMEM, "out of memory for %lld neighbours", (long long)n * k);
		goto out;
	}
	int64_t bad = tsne_calibrate(p, NULL, dist2, n, k, perplexity);
	if (bad < 0) {
		rc = (int)bad;
		goto out;
	}
	free(dist2); /* not needed any more: less at the peak, which symmetrising reaches */
	dist2 = NULL;
	rc = tsne_symmetrize(P, nbr, p, n, k);
out:
	free(nbr), free(dist2), free(p), free(xs);
	return rc;
}
