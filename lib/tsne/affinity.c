/* affinity.c - the input similarities P of t-SNE: each point's conditional distribution over
 * its k nearest neighbours calibrated to the perplexity, symmetrised and normalised (sparse),
 * after an exact power-of-two rescaling of the points that keeps float distances in range. */
#include "tsne/tsne.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "tsne/internal.h"

/* ---------------------------------------------------------------------------------------
 * Perplexity calibration (van der Maaten & Hinton 2008, Sec. 2): bisection on beta_i. */

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
	for (int it = 0; it < 200; it++) {
		double s = 0, sd = 0;
		for (int j = 0; j < k; j++) {
			double e = exp(-beta * (d[j] - d0)); /* shift by d0: same P, no underflow */
			p[j] = e;
			s += e;
			sd += (d[j] - d0) * e;
		}
		double h = log(s) + beta * sd / s;
		for (int j = 0; j < k; j++)
			p[j] /= s;
		double diff = h - target;
		if (fabs(diff) < 1e-5) {
			ok = 1;
			break;
		}
		if (diff > 0) { /* entropy too high: sharpen */
			lo = beta;
			beta = isinf(hi) ? beta * 2 : (beta + hi) / 2;
		} else {
			hi = beta;
			beta = (beta + lo) / 2;
		}
	}
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
 * Symmetrisation: both (i,j,p_{j|i}) and (j,i,p_{j|i}) go into row lists, each row is
 * sorted by column and duplicates summed.  Serial fill, so the order is fixed. */

typedef struct {
	int32_t c;
	double v;
} coo_ent;

static int cmp_coo(const void *a, const void *b)
{
	const coo_ent *x = a, *y = b;
	return (x->c > y->c) - (x->c < y->c);
}

void tsne_sparse_free(tsne_sparse *P)
{
	free(P->row);
	free(P->col);
	free(P->val);
	memset(P, 0, sizeof *P);
}

int tsne_symmetrize(tsne_sparse *P, const int32_t *nbr, const double *p, int64_t n, int k)
{
	memset(P, 0, sizeof *P);
	int64_t *cnt = calloc((size_t)n + 1, sizeof *cnt);
	int64_t *pos = malloc(((size_t)n + 1) * sizeof *pos);
	coo_ent *ent = malloc((size_t)n * k * 2 * sizeof *ent);
	if (!cnt || !pos || !ent) {
		free(cnt), free(pos), free(ent);
		return err_set(DN_ENOMEM, "out of memory for affinities");
	}
	for (int64_t i = 0; i < n; i++) {
		cnt[i + 1] += k;
		for (int t = 0; t < k; t++)
			cnt[nbr[i * k + t] + 1]++;
	}
	for (int64_t i = 0; i < n; i++)
		cnt[i + 1] += cnt[i];
	memcpy(pos, cnt, ((size_t)n + 1) * sizeof *pos);
	for (int64_t i = 0; i < n; i++)
		for (int t = 0; t < k; t++) {
			int32_t j = nbr[i * k + t];
			double v = p[i * k + t];
			ent[pos[i]++] = (coo_ent){j, v};
			ent[pos[j]++] = (coo_ent){(int32_t)i, v};
		}
	/* Sort and merge each row in place; pos[i] becomes the merged length. */
#pragma omp parallel for schedule(dynamic, 256)
	for (int64_t i = 0; i < n; i++) {
		coo_ent *r = ent + cnt[i];
		int64_t m = cnt[i + 1] - cnt[i], o = 0;
		qsort(r, m, sizeof *r, cmp_coo);
		for (int64_t t = 0; t < m; t++) {
			if (o > 0 && r[o - 1].c == r[t].c)
				r[o - 1].v += r[t].v;
			else
				r[o++] = r[t];
		}
		pos[i] = o;
	}
	int64_t nnz = 0;
	for (int64_t i = 0; i < n; i++)
		nnz += pos[i];
	P->n = n;
	P->row = malloc(((size_t)n + 1) * sizeof *P->row);
	P->col = malloc((size_t)nnz * sizeof *P->col);
	P->val = malloc((size_t)nnz * sizeof *P->val);
	if (!P->row || !P->col || !P->val) {
		free(cnt), free(pos), free(ent);
		tsne_sparse_free(P);
		return err_set(DN_ENOMEM, "out of memory for affinities");
	}
	double total = 0;
	int64_t o = 0;
	for (int64_t i = 0; i < n; i++) {
		P->row[i] = o;
		for (int64_t t = 0; t < pos[i]; t++) {
			P->col[o] = ent[cnt[i] + t].c;
			P->val[o] = ent[cnt[i] + t].v;
			total += P->val[o];
			o++;
		}
	}
	P->row[n] = o;
	for (int64_t t = 0; t < nnz; t++)
		P->val[t] /= total;
	free(cnt), free(pos), free(ent);
	return 0;
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
	float *s = malloc((size_t)n * d * sizeof *s);
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
	int32_t *nbr = malloc((size_t)n * k * sizeof *nbr);
	double *dist2 = malloc((size_t)n * k * sizeof *dist2);
	double *p = malloc((size_t)n * k * sizeof *p);
	float *xs = NULL;
	int rc = DN_ENOMEM;
	if (!nbr || !dist2 || !p) {
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
