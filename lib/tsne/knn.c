/* knn.c - exact k nearest neighbours for t-SNE: blocks of the squared distance matrix
 * |x_i|^2 + |x_j|^2 - 2 x_i.x_j, the cross term by sgemm, each row keeping a max-heap of its k
 * best (distance, index).  Within one point set (tsne_knn) and from query points to a
 * reference set (tsne_knn_cross, for placing).  The approximate search is ann.c. */
#include "tsne/tsne.h"

#include <cblas.h>
#include <float.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/mem.h"
#include "tsne/heap.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Ask for the d floats at p (one row of points) to be brought into the cache. */
static inline void prefetch_row(const float *p, int d)
{
	for (int o = 0; o < d; o += 16)
		__builtin_prefetch(p + o);
}

/* (compiled for the baseline instruction set on purpose: wider vectors would sum in another
 * order, and the distances, hence P, would change in their last bits) */
static float dist2_f(const float *a, const float *b, int d)
{
	float s = 0;
#pragma omp simd reduction(+ : s)
	for (int u = 0; u < d; u++) {
		float df = a[u] - b[u];
		s += df * df;
	}
	return s;
}

/* dist2_f of a against four rows at once: four independent sums (the single one waits on
 * its own additions), each in exactly dist2_f's order, so the same bits. */
static void dist2_f4(float out[4], const float *a, const float *b0, const float *b1,
                     const float *b2, const float *b3, int d)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
	for (int u = 0; u < d; u++) {
		float e0 = a[u] - b0[u], e1 = a[u] - b1[u], e2 = a[u] - b2[u], e3 = a[u] - b3[u];
		s0 += e0 * e0;
		s1 += e1 * e1;
		s2 += e2 * e2;
		s3 += e3 * e3;
	}
	out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
}

/* The k best of each heap (nq,kh; kh >= k), distances recomputed directly from xq and xr (no
 * cancellation) and sorted (the heap is sorted first, then the distances go in nearly in
 * order).  A heap still holding an empty place means distances that were not numbers (finite
 * points of a sane scale never give them; see tsne_affinities). */
static int knn_finish(int32_t *nbr, double *dist2, knn_ent *heap, const float *xq,
                      int64_t nq, const float *xr, int d, int kh, int k)
{
	for (int64_t t = 0; t < nq * kh; t++)
		if (heap[t].j == INT32_MAX)
			return err_set(DN_ERANGE, "knn: distances of point %lld are not finite numbers",
			               (long long)(t / kh));
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < nq; i++) {
		knn_entd tmp[kh];
		const float *xi = xq + i * d;
		knn_ent *h = heap + i * kh;
		heap_sort(h, kh);
		/* the rows are scattered over x and each is read once: fetch the next four ahead */
		for (int u = 0; u < 4 && u < kh; u++)
			prefetch_row(xr + (int64_t)h[u].j * d, d);
		int t = 0;
		for (; t + 4 <= kh; t += 4) {
			for (int u = t + 4; u < t + 8 && u < kh; u++)
				prefetch_row(xr + (int64_t)h[u].j * d, d);
			float dd[4];
			dist2_f4(dd, xi, xr + (int64_t)h[t].j * d, xr + (int64_t)h[t + 1].j * d,
			         xr + (int64_t)h[t + 2].j * d, xr + (int64_t)h[t + 3].j * d, d);
			for (int u = 0; u < 4; u++)
				entd_insert(tmp, t + u, (knn_entd){dd[u], h[t + u].j});
		}
		for (; t < kh; t++) {
			int32_t j = h[t].j;
			if (t + 1 < kh)
				prefetch_row(xr + (int64_t)h[t + 1].j * d, d);
			entd_insert(tmp, t, (knn_entd){dist2_f(xi, xr + (int64_t)j * d, d), j});
		}
		for (int t = 0; t < k; t++) {
			nbr[i * k + t] = tmp[t].j;
			dist2[i * k + t] = tmp[t].d;
		}
	}
	return 0;
}

/* The columns of x (n,d) that are not zero in every point, copied into a new (n,*dc) array;
 * NULL (and *dc = d) when nearly all are used.  A column that is zero everywhere adds nothing
 * to any distance, so the sgemm (the search's main cost) can skip it: MNIST's pixels have 116
 * such columns out of 784.  Only the candidates' ranking sees the other rounding: their
 * distances are recomputed from x itself (knn_finish). */
static float *drop_zero_columns(const float *x, int64_t n, int d, int *dc)
{
	*dc = d;
	int *used = calloc((size_t)d, sizeof *used);
	if (!used)
		return NULL;
	for (int64_t i = 0; i < n; i++)
		for (int u = 0; u < d; u++)
			used[u] |= x[i * d + u] != 0;
	int m = 0;
	for (int u = 0; u < d; u++)
		if (used[u])
			used[m++] = u;
	float *xs = m <= d - d / 16 ? mem_alloc_big((size_t)n * (m ? m : 1) * sizeof *xs) : NULL;
	if (xs) {
#pragma omp parallel for schedule(static)
		for (int64_t i = 0; i < n; i++)
			for (int t = 0; t < m; t++)
				xs[i * m + t] = x[i * d + used[t]];
		*dc = m;
	}
	free(used);
	return xs;
}

int tsne_knn(int32_t *nbr, double *dist2, const float *x, int64_t n, int d, int k)
{
	if (k < 1 || k > n - 1)
		return err_set(DN_EARG, "knn: k=%d out of range for n=%lld", k, (long long)n);
	/* The heaps keep 8 more than k: the sgemm's distances (|a|^2 + |b|^2 - 2 a.b, rounded as
	 * the BLAS blocks the sums) can rank near-ties wrongly; knn_finish ranks the candidates by
	 * distances computed directly, so the k kept are the exact k best unless the sgemm's
	 * errors move a point by more than 8 places. */
	int kh = k + 8 < n - 1 ? k + 8 : (int)(n - 1);
	/* Only blocks on and above the diagonal are computed: each serves the heaps of its rows
	 * and of its columns.  The final k best under the total order (distance, index) do not
	 * depend on the order of the offers, so threads cannot change the result. */
	enum { G = 16, B = 1024 };
	float *sq = mem_alloc_big((size_t)n * sizeof *sq);
	float *blk = mem_alloc_big((size_t)B * B * sizeof *blk);
	knn_ent *heap = mem_alloc_big((size_t)n * kh * sizeof *heap);
	if (!sq || !blk || !heap) {
		free(sq), free(blk), free(heap);
		return err_set(DN_ENOMEM, "knn: out of memory");
	}
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++) {
		float s = 0;
		const float *xi = x + i * d;
#pragma omp simd reduction(+ : s)
		for (int t = 0; t < d; t++)
			s += xi[t] * xi[t];
		sq[i] = s;
	}
	for (int64_t t = 0; t < n * kh; t++)
		heap[t] = (knn_ent){FLT_MAX, INT32_MAX};
	int dc;
	float *xc = drop_zero_columns(x, n, d, &dc);
	const float *xg = xc ? xc : x;
	int blas_threads = openblas_get_num_threads();
	openblas_set_num_threads(1);
	for (int64_t r0 = 0; r0 < n; r0 += B) {
		int64_t rn = n - r0 < B ? n - r0 : B;
		for (int64_t c0 = r0; c0 < n; c0 += B) {
			int64_t cn = n - c0 < B ? n - c0 : B;
			/* Each thread multiplies its strip of rows with a single-threaded sgemm: OpenBLAS's
			 * own threads would otherwise spin between calls, against ours. */
#pragma omp parallel
			{
				int nth = 1, tid = 0;
#ifdef _OPENMP
				nth = omp_get_num_threads(), tid = omp_get_thread_num();
#endif
				int64_t s = rn * tid / nth, e = rn * (tid + 1) / nth;
				if (e > s)
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(e - s), (int)cn, dc,
					            -2.0f, xg + (r0 + s) * dc, dc, xg + c0 * dc, dc, 0.0f, blk + s * cn,
					            (int)cn);
			}
			/* rows: blk becomes the squared distances */
#pragma omp parallel for schedule(static)
			for (int64_t i = 0; i < rn; i++) {
				knn_ent *h = heap + (r0 + i) * kh;
				float *b = blk + i * cn;
				const float *sqc = sq + c0;
				float si = sq[r0 + i];
#pragma omp simd
				for (int64_t j = 0; j < cn; j++)
					b[j] += si + sqc[j];
				float thr = h[0].d;
				/* 16 at a time: a vector compare finds the rare chunks with a candidate */
				int64_t j = 0;
				for (; j + 16 <= cn; j += 16) {
					int any = 0;
#pragma omp simd reduction(| : any)
					for (int u = 0; u < 16; u++)
						any |= b[j + u] <= thr;
					if (!any)
						continue;
					for (int u = 0; u < 16; u++)
						if (b[j + u] <= thr && c0 + j + u != r0 + i) {
							heap_offer(h, kh, b[j + u], (int32_t)(c0 + j + u));
							thr = h[0].d;
						}
				}
				for (; j < cn; j++) {
					if (b[j] <= thr && c0 + j != r0 + i) {
						heap_offer(h, kh, b[j], (int32_t)(c0 + j));
						thr = h[0].d;
					}
				}
			}
			if (c0 == r0)
				continue;
			/* columns: each thread owns a range of columns and reads the block row by row
			 * (walking down a column would touch a new page at every element) */
#pragma omp parallel
			{
				int nth = 1, tid = 0;
#ifdef _OPENMP
				nth = omp_get_num_threads(), tid = omp_get_thread_num();
#endif
				int64_t ncg = (cn + G - 1) / G;
				int64_t cs = ncg * tid / nth * G, ce = ncg * (tid + 1) / nth * G;
				if (ce > cn)
					ce = cn;
				float thr[B];
				for (int64_t j = cs; j < ce; j++)
					thr[j - cs] = heap[(c0 + j) * kh].d;
				for (int64_t i = 0; i < rn; i++) {
					const float *b = blk + i * cn;
					int64_t j = cs;
					for (; j + G <= ce; j += G) {
						int any = 0;
#pragma omp simd reduction(| : any)
						for (int u = 0; u < G; u++)
							any |= b[j + u] <= thr[j - cs + u];
						if (!any)
							continue;
						for (int u = 0; u < G; u++)
							if (b[j + u] <= thr[j - cs + u]) {
								knn_ent *h = heap + (c0 + j + u) * kh;
								heap_offer(h, kh, b[j + u], (int32_t)(r0 + i));
								thr[j - cs + u] = h[0].d;
							}
					}
					for (; j < ce; j++)
						if (b[j] <= thr[j - cs]) {
							knn_ent *h = heap + (c0 + j) * kh;
							heap_offer(h, kh, b[j], (int32_t)(r0 + i));
							thr[j - cs] = h[0].d;
						}
				}
			}
		}
	}
	openblas_set_num_threads(blas_threads);
	free(xc);
	int rc = knn_finish(nbr, dist2, heap, x, n, x, d, kh, k);
	free(sq), free(blk), free(heap);
	return rc;
}

int tsne_knn_cross(int32_t *nbr, double *dist2, const float *xq, int64_t nq, const float *xr,
                   int64_t nr, int d, int k)
{
	if (k < 1 || k > nr)
		return err_set(DN_EARG, "knn: k=%d out of range for %lld reference points", k,
		               (long long)nr);
	/* Query strips of QB rows, one per thread at a time, against reference blocks of RB:
	 * each strip's heaps see every reference point once; the k best under the total order
	 * (distance, index) do not depend on the order of the offers. */
	enum { QB = 256, RB = 2048 };
	float *sq = mem_alloc_big((size_t)nr * sizeof *sq);
	knn_ent *heap = mem_alloc_big((size_t)nq * k * sizeof *heap);
	if (!sq || !heap) {
		free(sq), free(heap);
		return err_set(DN_ENOMEM, "knn: out of memory");
	}
	for (int64_t j = 0; j < nr; j++) {
		float s = 0;
		for (int t = 0; t < d; t++)
			s += xr[j * d + t] * xr[j * d + t];
		sq[j] = s;
	}
	for (int64_t t = 0; t < nq * k; t++)
		heap[t] = (knn_ent){FLT_MAX, INT32_MAX};
	int blas_threads = openblas_get_num_threads();
	openblas_set_num_threads(1);
	int fail = 0;
#pragma omp parallel
	{
		float *blk = malloc((size_t)QB * RB * sizeof *blk);
		if (!blk) {
#pragma omp atomic write
			fail = 1;
		}
#pragma omp for schedule(dynamic, 1)
		for (int64_t q0 = 0; q0 < nq; q0 += QB) {
			if (!blk)
				continue;
			int64_t qn = nq - q0 < QB ? nq - q0 : QB;
			for (int64_t r0 = 0; r0 < nr; r0 += RB) {
				int64_t rn = nr - r0 < RB ? nr - r0 : RB;
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qn, (int)rn, d, -2.0f,
				            xq + q0 * d, d, xr + r0 * d, d, 0.0f, blk, (int)rn);
				for (int64_t i = 0; i < qn; i++) {
					const float *xi = xq + (q0 + i) * d;
					float si = 0;
					for (int t = 0; t < d; t++)
						si += xi[t] * xi[t];
					knn_ent *h = heap + (q0 + i) * k;
					const float *b = blk + i * rn;
					for (int64_t j = 0; j < rn; j++) {
						float v = b[j] + si + sq[r0 + j];
						if (v <= h[0].d)
							heap_offer(h, k, v, (int32_t)(r0 + j));
					}
				}
			}
		}
		free(blk);
	}
	openblas_set_num_threads(blas_threads);
	int rc = fail ? err_set(DN_ENOMEM, "knn: out of memory")
	              : knn_finish(nbr, dist2, heap, xq, nq, xr, d, k, k);
	free(sq), free(heap);
	return rc;
}
