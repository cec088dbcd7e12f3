/* pca.c - principal components by the eigen-decomposition of the covariance (accumulated in
 * double, block by block): t-SNE's default start and tsne --pca. */
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

int tsne_pca(float *out, const float *x, int64_t n, int d, int m)
{
	if (m < 1 || m > d || n < 2)
		return err_set(DN_EARG, "pca: cannot take %d components of (%lld,%d)", m,
		               (long long)n, d);
	const int64_t RB = 2048;
	double *mean = calloc((size_t)d, sizeof *mean);
	double *cov = calloc((size_t)d * d, sizeof *cov);
	double *blk = mem_alloc_big((size_t)RB * d * sizeof *blk);
	double *ev = malloc((size_t)d * sizeof *ev);
	double *vec = malloc((size_t)d * m * sizeof *vec);
	double *proj = malloc((size_t)RB * m * sizeof *proj);
	int *isuppz = malloc((size_t)2 * m * sizeof *isuppz);
	double *work = NULL;
	int *iwork = NULL;
	int rc = 0;
	if (!mean || !cov || !blk || !ev || !vec || !proj || !isuppz) {
		rc = err_set(DN_ENOMEM, "pca: out of memory");
		goto out;
	}
	for (int64_t i = 0; i < n; i++)
		for (int t = 0; t < d; t++)
			mean[t] += x[i * d + t];
	for (int t = 0; t < d; t++)
		mean[t] /= n;
	for (int64_t r0 = 0; r0 < n; r0 += RB) {
		int64_t rn = n - r0 < RB ? n - r0 : RB;
		centre_rows(blk, x + r0 * d, rn, d, mean);
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)rn, 1.0, blk, d, 1.0, cov, d);
	}
	/* Row-major upper == column-major lower. */
	{
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
	}
	/* vec is column-major (d, m), ascending eigenvalues: reverse to descending, fix signs,
	 * store as row-major V (d, m) in cov's space. */
	double *V = cov;
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
	for (int64_t r0 = 0; r0 < n; r0 += RB) {
		int64_t rn = n - r0 < RB ? n - r0 : RB;
		centre_rows(blk, x + r0 * d, rn, d, mean);
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rn, m, d, 1.0, blk, d, V, m,
		            0.0, proj, m);
		for (int64_t t = 0; t < rn * m; t++)
			out[r0 * m + t] = (float)proj[t];
	}
out:
	free(mean), free(cov), free(blk), free(ev), free(vec), free(proj), free(isuppz);
	free(work), free(iwork);
	return rc;
}
