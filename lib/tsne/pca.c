/* pca.c - principal components by the eigen-decomposition of the covariance: t-SNE's default
 * start (tsne_pca: accumulated in double, block by block) and tsne --pca (tsne_pca_float:
 * blocks in float, added in double). */
#include "tsne/tsne.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/mem.h"

/* LAPACK from OpenBLAS (Fortran calling convention, hidden string lengths last). */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                    const int *lda, const double *vl, const double *vu, const int *il,
                    const int *iu, const double *abstol, int *m, double *w, double *z,
                    const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t, size_t, size_t);

/* blk (rn,d) = x (rn,d) - mean (d), in double. */
static void centre_rows(double *blk, const float *x, int64_t rn, int d, const double *mean)
{
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < rn; i++)
		for (int t = 0; t < d; t++)
			blk[i * d + t] = x[i * d + t] - mean[t];
}

/* The same in float (the mean's float rounding shifts the origin, which neither the
 * covariance nor the projection sees beyond float precision). */
static void centre_rows_f(float *blk, const float *x, int64_t rn, int d, const float *mean)
{
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < rn; i++)
		for (int t = 0; t < d; t++)
			blk[i * d + t] = x[i * d + t] - mean[t];
}

static void column_means(double *mean, const float *x, int64_t n, int d)
{
	for (int t = 0; t < d; t++)
		mean[t] = 0;
	for (int64_t i = 0; i < n; i++)
		for (int t = 0; t < d; t++)
			mean[t] += x[i * d + t];
	for (int t = 0; t < d; t++)
		mean[t] /= n;
}

/* V (d,m) row-major: the top-m eigenvectors of cov (d,d; its upper triangle in row-major
 * order, destroyed), by decreasing eigenvalue, each with its largest-magnitude coefficient
 * positive. */
static int top_eigenvectors(double *V, double *cov, int d, int m)
{
	double *ev = malloc((size_t)d * sizeof *ev);
	double *vec = malloc((size_t)d * m * sizeof *vec);
	int *isuppz = malloc((size_t)2 * m * sizeof *isuppz);
	double *work = NULL;
	int *iwork = NULL;
	int rc = 0;
	if (!ev || !vec || !isuppz) {
		rc = err_set(DN_ENOMEM, "pca: out of memory");
		goto out;
	}
	/* Row-major upper == column-major lower. */
	int N = d, il = d - m + 1, iu = d, mfound = 0, info = 0, lwork = -1, liwork = -1, iw;
	double vl = 0, vu = 0, abstol = 0, wq;
	dsyevr_("V", "I", "L", &N, cov, &N, &vl, &vu, &il, &iu, &abstol, &mfound, ev, vec, &N,
	        isuppz, &wq, &lwork, &iw, &liwork, &info, 1, 1, 1);
	if (info != 0) {
		rc = err_set(DN_EARG, "pca: dsyevr workspace query failed (info %d)", info);
		goto out;
	}
	lwork = (int)wq;
	liwork = iw;
	work = malloc((size_t)lwork * sizeof *work);
	iwork = malloc((size_t)liwork * sizeof *iwork);
	if (!work || !iwork) {
		rc = err_set(DN_ENOMEM, "pca: out of memory");
		goto out;
	}
	dsyevr_("V", "I", "L", &N, cov, &N, &vl, &vu, &il, &iu, &abstol, &mfound, ev, vec, &N,
	        isuppz, work, &lwork, iwork, &liwork, &info, 1, 1, 1);
	if (info != 0 || mfound != m) {
		rc = err_set(DN_EARG, "pca: eigen-decomposition failed (info %d)", info);
		goto out;
	}
	/* vec is column-major (d, m), ascending eigenvalues: reverse to descending, fix signs. */
	for (int c = 0; c < m; c++) {
		const double *v = vec + (size_t)(m - 1 - c) * d;
		int am = 0;
		for (int t = 1; t < d; t++)
			if (fabs(v[t]) > fabs(v[am]))
				am = t;
		double s = v[am] < 0 ? -1.0 : 1.0;
		for (int t = 0; t < d; t++)
			V[t * m + c] = s * v[t];
	}
out:
	free(ev), free(vec), free(isuppz), free(work), free(iwork);
	return rc;
}

static int pca_args(int64_t n, int d, int m)
{
	if (m < 1 || m > d || n < 2)
		return err_set(DN_EARG, "pca: cannot take %d components of (%lld,%d)", m,
		               (long long)n, d);
	return 0;
}

int tsne_pca(float *out, const float *x, int64_t n, int d, int m)
{
	int rc = pca_args(n, d, m);
	if (rc < 0)
		return rc;
	const int64_t RB = 2048;
	double *mean = malloc((size_t)d * sizeof *mean);
	double *cov = calloc((size_t)d * d, sizeof *cov);
	double *blk = mem_alloc_big((size_t)RB * d * sizeof *blk);
	double *V = malloc((size_t)d * m * sizeof *V);
	double *proj = malloc((size_t)RB * m * sizeof *proj);
	if (!mean || !cov || !blk || !V || !proj) {
		rc = err_set(DN_ENOMEM, "pca: out of memory");
		goto out;
	}
	column_means(mean, x, n, d);
	for (int64_t r0 = 0; r0 < n; r0 += RB) {
		int64_t rn = n - r0 < RB ? n - r0 : RB;
		centre_rows(blk, x + r0 * d, rn, d, mean);
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)rn, 1.0, blk, d, 1.0, cov, d);
	}
	if ((rc = top_eigenvectors(V, cov, d, m)) < 0)
		goto out;
	for (int64_t r0 = 0; r0 < n; r0 += RB) {
		int64_t rn = n - r0 < RB ? n - r0 : RB;
		centre_rows(blk, x + r0 * d, rn, d, mean);
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rn, m, d, 1.0, blk, d, V, m,
		            0.0, proj, m);
		for (int64_t t = 0; t < rn * m; t++)
			out[r0 * m + t] = (float)proj[t];
	}
out:
	free(mean), free(cov), free(blk), free(V), free(proj);
	return rc;
}

int tsne_pca_float(float *out, const float *x, int64_t n, int d, int m)
{
	int rc = pca_args(n, d, m);
	if (rc < 0)
		return rc;
	/* The covariance block by block: each block's by ssyrk in float (a sum of at most RB
	 * products per entry), the blocks added in double; the projection by sgemm. */
	const int64_t RB = 4096;
	double *mean = malloc((size_t)d * sizeof *mean);
	float *meanf = malloc((size_t)d * sizeof *meanf);
	double *cov = calloc((size_t)d * d, sizeof *cov);
	float *covf = mem_alloc_big((size_t)d * d * sizeof *covf);
	float *blk = mem_alloc_big((size_t)RB * d * sizeof *blk);
	double *V = malloc((size_t)d * m * sizeof *V);
	float *Vf = malloc((size_t)d * m * sizeof *Vf);
	if (!mean || !meanf || !cov || !covf || !blk || !V || !Vf) {
		rc = err_set(DN_ENOMEM, "pca: out of memory");
		goto out;
	}
	column_means(mean, x, n, d);
	for (int t = 0; t < d; t++)
		meanf[t] = (float)mean[t];
	for (int64_t r0 = 0; r0 < n; r0 += RB) {
		int64_t rn = n - r0 < RB ? n - r0 : RB;
		centre_rows_f(blk, x + r0 * d, rn, d, meanf);
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)rn, 1.0f, blk, d, 0.0f, covf,
		            d);
#pragma omp parallel for schedule(static)
		for (int a = 0; a < d; a++)
			for (int b = a; b < d; b++)
				cov[(size_t)a * d + b] += covf[(size_t)a * d + b];
	}
	if ((rc = top_eigenvectors(V, cov, d, m)) < 0)
		goto out;
	for (int64_t t = 0; t < (int64_t)d * m; t++)
		Vf[t] = (float)V[t];
	for (int64_t r0 = 0; r0 < n; r0 += RB) {
		int64_t rn = n - r0 < RB ? n - r0 : RB;
		centre_rows_f(blk, x + r0 * d, rn, d, meanf);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rn, m, d, 1.0f, blk, d, Vf,
		            m, 0.0f, out + r0 * m, m);
	}
out:
	free(mean), free(meanf), free(cov), free(covf), free(blk), free(V), free(Vf);
	return rc;
}
