/* tsne.c - t-SNE with exact and Barnes-Hut repulsion; see tsne.h. */
#include "tsne/tsne.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/rng.h"
#include "tsne/fft.h"
#include "tsne/heap.h"
#include "tsne/simd.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* LAPACK from OpenBLAS (Fortran calling convention, hidden string lengths last). */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                    const int *lda, const double *vl, const double *vu, const int *il,
                    const int *iu, const double *abstol, int *m, double *w, double *z,
                    const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t, size_t, size_t);

void tsne_params_default(tsne_params *p)
{
	memset(p, 0, sizeof *p);
	p->perplexity = 30.0;
	p->max_iter = 1000;
	p->exag_iter = 250;
	p->exaggeration = 12.0;
	p->mom_switch_iter = 250;
	p->momentum = 0.5;
	p->final_momentum = 0.8;
	p->learning_rate = 0.0;
	p->method = TSNE_AUTO;
	p->theta = 0.5;
	p->init = TSNE_INIT_PCA;
	p->seed = 0;
}

tsne_method tsne_resolve_method(tsne_method m, double theta, int64_t n)
{
	if (m != TSNE_AUTO)
		return m;
	return theta <= 0 ? TSNE_EXACT : TSNE_AUTO;
}

double tsne_learning_rate(const tsne_params *p, int64_t n)
{
	if (p->learning_rate > 0)
		return p->learning_rate;
	double lr = (double)n / 12.0;
	return lr < 200.0 ? 200.0 : lr;
}

/* ---------------------------------------------------------------------------------------
 * k nearest neighbours: blocks of the squared distance matrix |x_i|^2 + |x_j|^2 - 2 x_i.x_j,
 * the cross term by sgemm, each row keeping a max-heap of its k best (distance, index). */

/* Offer candidate (d, j) to heap h of size k (max at h[0]). */
static inline void heap_offer(knn_ent *h, int k, float d, int32_t j)
{
	knn_ent e = {d, j};
	if (knn_worse(h[0], e))
		heap_replace_top(h, k, e);
}

/* The k best of each heap (nq,k), distances recomputed directly from xq and xr (no
 * cancellation) and sorted.  A heap still holding an empty place means distances that were
 * not numbers (finite points of a sane scale never give them; see tsne_affinities). */
static int knn_finish(int32_t *nbr, double *dist2, const knn_ent *heap, const float *xq,
                      int64_t nq, const float *xr, int d, int k)
{
	for (int64_t t = 0; t < nq * k; t++)
		if (heap[t].j == INT32_MAX)
			return err_set(DN_ERANGE, "knn: distances of point %lld are not finite numbers",
			               (long long)(t / k));
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < nq; i++) {
		knn_entd tmp[k];
		const float *xi = xq + i * d;
		for (int t = 0; t < k; t++) {
			int32_t j = heap[i * k + t].j;
			const float *xj = xr + (int64_t)j * d;
			float s = 0;
#pragma omp simd reduction(+ : s)
			for (int u = 0; u < d; u++) {
				float df = xi[u] - xj[u];
				s += df * df;
			}
			tmp[t] = (knn_entd){s, j};
		}
		qsort(tmp, k, sizeof *tmp, cmp_entd);
		for (int t = 0; t < k; t++) {
			nbr[i * k + t] = tmp[t].j;
			dist2[i * k + t] = tmp[t].d;
		}
	}
	return 0;
}

int tsne_knn(int32_t *nbr, double *dist2, const float *x, int64_t n, int d, int k)
{
	if (k < 1 || k > n - 1)
		return err_set(DN_EARG, "knn: k=%d out of range for n=%lld", k, (long long)n);
	/* Only blocks on and above the diagonal are computed: each serves the heaps of its rows
	 * and of its columns.  The final k best under the total order (distance, index) do not
	 * depend on the order of the offers, so threads cannot change the result. */
	enum { G = 16, B = 2048 };
	float *sq = malloc((size_t)n * sizeof *sq);
	float *blk = malloc((size_t)B * B * sizeof *blk);
	knn_ent *heap = malloc((size_t)n * k * sizeof *heap);
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
	for (int64_t t = 0; t < n * k; t++)
		heap[t] = (knn_ent){FLT_MAX, INT32_MAX};
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
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(e - s), (int)cn, d,
					            -2.0f, x + (r0 + s) * d, d, x + c0 * d, d, 0.0f, blk + s * cn,
					            (int)cn);
			}
			/* rows: blk becomes the squared distances */
#pragma omp parallel for schedule(static)
			for (int64_t i = 0; i < rn; i++) {
				knn_ent *h = heap + (r0 + i) * k;
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
							heap_offer(h, k, b[j + u], (int32_t)(c0 + j + u));
							thr = h[0].d;
						}
				}
				for (; j < cn; j++) {
					if (b[j] <= thr && c0 + j != r0 + i) {
						heap_offer(h, k, b[j], (int32_t)(c0 + j));
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
					thr[j - cs] = heap[(c0 + j) * k].d;
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
								knn_ent *h = heap + (c0 + j + u) * k;
								heap_offer(h, k, b[j + u], (int32_t)(r0 + i));
								thr[j - cs + u] = h[0].d;
							}
					}
					for (; j < ce; j++)
						if (b[j] <= thr[j - cs]) {
							knn_ent *h = heap + (c0 + j) * k;
							heap_offer(h, k, b[j], (int32_t)(r0 + i));
							thr[j - cs] = h[0].d;
						}
				}
			}
		}
	}
	openblas_set_num_threads(blas_threads);
	int rc = knn_finish(nbr, dist2, heap, x, n, x, d, k);
	free(sq), free(blk), free(heap);
	return rc;
}

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
static float max_abs(const float *x, int64_t n, int d)
{
	float m = 0;
	for (int64_t t = 0; t < n * d; t++)
		m = fabsf(x[t]) > m ? fabsf(x[t]) : m;
	return m;
}

/* The power of two e such that x * 2^-e has its largest |value| m in [0.5, 1), or 0 when m is
 * 0 or already in [2^-24, 2^24] (no scaling needed). */
static int scale_exponent(float m)
{
	int e = 0;
	if (m == 0 || (m >= 0x1p-24f && m <= 0x1p24f))
		return 0;
	frexpf(m, &e); /* m = f * 2^e, 0.5 <= f < 1 */
	return e;
}

/* *xs = x * 2^-e (malloc'd), or NULL when e == 0. */
static int scaled_copy(float **xs, const float *x, int64_t n, int d, int e)
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
	return scaled_copy(xs, x, n, d, scale_exponent(max_abs(x, n, d)));
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

/* ---------------------------------------------------------------------------------------
 * Barnes-Hut (van der Maaten 2014, Sec. 4.2) on a quadtree, with Barnes' (1990) grouping:
 * the points of a small subtree (a "group", at most QT_GROUP points) share one tree walk.
 * A cell is accepted as a single body for the whole group when its width is less than theta
 * times its distance to the group's bounding box, which bounds the distance to every point
 * of the group, so each point gets at least the accuracy of the per-point criterion.  Near
 * leaves and the group's own points interact point by point (exactly).  The walk yields a flat list of bodies, which the
 * points of the group then sum over in a vector loop. */

typedef struct {
	double cx, cy, hw;  /* cell centre and half width */
	double mx, my;      /* sum of positions; centre of mass after the build */
	int32_t count;      /* points below */
	int32_t child;      /* first of 4 consecutive children, -1 for a leaf */
	int32_t point;      /* a leaf's first point (others chained by next[]), -1 if none */
	int32_t start;      /* offset of the subtree's points in order[] */
} qnode;

/* What the walk reads, 32 bytes a cell so that two share a cache line. */
typedef struct {
	double mx, my;  /* centre of mass */
	float width;    /* full width */
	int32_t count, child, start;
} qwalk;

#define QT_MAXDEPTH 50
#define QT_GROUP 64
#define QT_LEAF 8  /* points a leaf holds before it splits */

struct tsne_work {
	int64_t n;
	qnode *node;
	int64_t nnode, cap;
	qwalk *walk;         /* (cap) compact copy of node[] for the walks */
	int64_t walk_cap;
	int32_t *next;       /* (n) chain of coincident points in a leaf */
	int32_t *order;      /* (n) points in depth-first tree order */
	int have_order;      /* order[] holds the last tree's order */
	int32_t *group;      /* group cells */
	int64_t ngroup;
	double *rep;         /* (n,2) repulsive sums */
	double *zi;          /* (n) per-point sum of w */
	tsne_fft *fft;       /* FFT grid, made on first use */
};

tsne_work *tsne_work_new(int64_t n)
{
	tsne_work *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->n = n;
	w->rep = malloc((size_t)n * 2 * sizeof *w->rep);
	w->zi = malloc((size_t)n * sizeof *w->zi);
	w->order = malloc((size_t)n * sizeof *w->order);
	w->next = malloc((size_t)n * sizeof *w->next);
	w->group = malloc((size_t)n * sizeof *w->group);
	if (!w->rep || !w->zi || !w->order || !w->next || !w->group) {
		tsne_work_free(w);
		return NULL;
	}
	return w;
}

void tsne_work_free(tsne_work *w)
{
	if (!w)
		return;
	free(w->node);
	free(w->walk);
	free(w->rep);
	free(w->zi);
	free(w->order);
	free(w->next);
	free(w->group);
	tsne_fft_free(w->fft);
	free(w);
}

static int32_t qt_alloc4(tsne_work *w, double cx, double cy, double hw)
{
	if (w->nnode + 4 > w->cap) {
		int64_t cap = w->cap ? w->cap * 2 : 1024;
		qnode *nn = realloc(w->node, (size_t)cap * sizeof *nn);
		if (!nn)
			return -1;
		w->node = nn;
		w->cap = cap;
	}
	int32_t first = (int32_t)w->nnode;
	double h = hw / 2;
	for (int q = 0; q < 4; q++) {
		qnode *c = &w->node[first + q];
		c->cx = cx + ((q & 1) ? h : -h);
		c->cy = cy + ((q & 2) ? h : -h);
		c->hw = h;
		c->mx = c->my = 0;
		c->count = 0;
		c->child = -1;
		c->point = -1;
	}
	w->nnode += 4;
	return first;
}

static inline int qt_quad(const qnode *nd, double x, double y)
{
	return (x > nd->cx) | ((y > nd->cy) << 1);
}

/* Build the quadtree by inserting points in index order (fixed order: deterministic), then
 * number the points depth-first and cut the tree into groups. */
static int qt_build(tsne_work *w, const double *y, int64_t n)
{
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	for (int64_t i = 0; i < n; i++) {
		x0 = fmin(x0, y[2 * i]);
		x1 = fmax(x1, y[2 * i]);
		y0 = fmin(y0, y[2 * i + 1]);
		y1 = fmax(y1, y[2 * i + 1]);
	}
	double hw = fmax(x1 - x0, y1 - y0) / 2 * (1 + 1e-6) + 1e-12;
	if (!w->cap) {
		w->cap = 2 * n + 64;
		w->node = malloc((size_t)w->cap * sizeof *w->node);
		if (!w->node) {
			w->cap = 0;
			return err_set(DN_ENOMEM, "out of memory for the quadtree");
		}
	}
	w->nnode = 1;
	qnode *r = &w->node[0];
	r->cx = (x0 + x1) / 2;
	r->cy = (y0 + y1) / 2;
	r->hw = hw;
	r->mx = r->my = 0;
	r->count = 0;
	r->child = -1;
	r->point = -1;
	/* Insert in the previous tree's order (index order the first time): neighbours follow one
	 * another, so the walks down the tree hit the cache.  The cells do not depend on the
	 * order; the rounding of the centre-of-mass sums does, but that order is itself a
	 * deterministic function of the run. */
	if (!w->have_order)
		for (int64_t i = 0; i < n; i++)
			w->order[i] = (int32_t)i;
	for (int64_t t = 0; t < n; t++) {
		int32_t i = w->order[t];
		double px = y[2 * i], py = y[2 * i + 1];
		int32_t cur = 0;
		w->next[i] = -1;
		for (int depth = 0;; depth++) {
			qnode *nd = &w->node[cur];
			if (nd->child < 0) {
				if (nd->count < QT_LEAF || depth >= QT_MAXDEPTH) {
					/* room in this leaf (or too deep to split): chain the point in */
					w->next[i] = nd->point;
					nd->point = i;
					nd->mx += px, nd->my += py, nd->count++;
					break;
				}
				/* a full leaf: split it, handing its points to the children */
				int32_t first = qt_alloc4(w, nd->cx, nd->cy, nd->hw);
				if (first < 0)
					return err_set(DN_ENOMEM, "out of memory for the quadtree");
				nd = &w->node[cur]; /* realloc may have moved it */
				for (int32_t q = nd->point, nq; q >= 0; q = nq) {
					nq = w->next[q];
					qnode *c = &w->node[first + qt_quad(nd, y[2 * q], y[2 * q + 1])];
					w->next[q] = c->point;
					c->point = q;
					c->mx += y[2 * q], c->my += y[2 * q + 1], c->count++;
				}
				nd->child = first;
				nd->point = -1;
			}
			nd->mx += px, nd->my += py, nd->count++;
			cur = nd->child + qt_quad(nd, px, py);
		}
	}
	for (int64_t t = 0; t < w->nnode; t++) {
		qnode *nd = &w->node[t];
		if (nd->count > 0)
			nd->mx /= nd->count, nd->my /= nd->count;
	}
	/* Depth-first numbering: every subtree's points are order[start .. start+count). */
	int64_t no = 0;
	w->ngroup = 0;
	int32_t stack[4 * QT_MAXDEPTH + 8];
	char in_group[4 * QT_MAXDEPTH + 8];
	int sp = 0;
	stack[sp] = 0, in_group[sp++] = 0;
	while (sp) {
		sp--;
		int32_t id = stack[sp];
		int ing = in_group[sp];
		qnode *nd = &w->node[id];
		if (nd->count == 0)
			continue;
		nd->start = (int32_t)no;
		/* a leaf is a group even when it holds more (coincident points at QT_MAXDEPTH) */
		if (!ing && (nd->count <= QT_GROUP || nd->child < 0)) {
			w->group[w->ngroup++] = id;
			ing = 1;
		}
		if (nd->child < 0) {
			for (int32_t p = nd->point; p >= 0; p = w->next[p])
				w->order[no++] = p;
		} else {
			for (int q = 3; q >= 0; q--)
				stack[sp] = nd->child + q, in_group[sp++] = (char)ing;
		}
	}
	w->have_order = 1;
	if (w->walk_cap < w->nnode) {
		free(w->walk);
		w->walk_cap = w->cap;
		w->walk = malloc((size_t)w->walk_cap * sizeof *w->walk);
		if (!w->walk) {
			w->walk_cap = 0;
			return err_set(DN_ENOMEM, "out of memory for the quadtree");
		}
	}
	for (int64_t t = 0; t < w->nnode; t++) {
		const qnode *nd = &w->node[t];
		w->walk[t] = (qwalk){nd->mx, nd->my, (float)(2 * nd->hw), nd->count, nd->child,
		                     nd->start};
	}
	return 0;
}

/* Bodies of one group's interaction list, as arrays for the vector loop.  Single precision,
 * relative to an origin at the group (so near bodies, where the kernel is steep, keep their
 * digits): 16 lanes per AVX-512 operation instead of 8. */
typedef struct {
	float *x, *y, *c;
	double ox, oy;
	int64_t n, cap;
} qt_list;

static int qt_list_push(qt_list *l, double x, double y, double c)
{
	if (l->n == l->cap) {
		int64_t cap = l->cap ? 2 * l->cap : 1024;
		float *nx = realloc(l->x, (size_t)cap * sizeof *nx);
		if (nx)
			l->x = nx;
		float *ny = realloc(l->y, (size_t)cap * sizeof *ny);
		if (ny)
			l->y = ny;
		float *nc = realloc(l->c, (size_t)cap * sizeof *nc);
		if (nc)
			l->c = nc;
		if (!nx || !ny || !nc)
			return -1;
		l->cap = cap;
	}
	l->x[l->n] = (float)(x - l->ox), l->y[l->n] = (float)(y - l->oy), l->c[l->n] = (float)c;
	l->n++;
	return 0;
}

/* Repulsion for the points of group cell g: w->zi[i] = sum_j w_ij and
 * w->rep[i] = sum_j w_ij^2 (y_i - y_j), j over all other points (approximated by cells). */
TSNE_CLONES
static int qt_group_repulse(tsne_work *w, const double *y, int32_t g, double theta2, qt_list *l)
{
	const qwalk *node = w->walk, *gn = &node[g];
	const int32_t *pts = w->order + gn->start;
	int32_t gc = gn->count, gs = gn->start;
	double bx0 = INFINITY, bx1 = -INFINITY, by0 = INFINITY, by1 = -INFINITY;
	for (int32_t a = 0; a < gc; a++) {
		double px = y[2 * pts[a]], py = y[2 * pts[a] + 1];
		bx0 = px < bx0 ? px : bx0, bx1 = px > bx1 ? px : bx1;
		by0 = py < by0 ? py : by0, by1 = py > by1 ? py : by1;
	}
	l->n = 0;
	l->ox = (bx0 + bx1) / 2, l->oy = (by0 + by1) / 2;
	int32_t stack[4 * QT_MAXDEPTH + 8];
	int sp = 0;
	stack[sp++] = 0;
	while (sp) {
		int32_t id = stack[--sp];
		const qwalk *nd = &node[id];
		if (id == g)
			continue;
		if (nd->start <= gs && gs < nd->start + nd->count) {
			/* an ancestor of the group: always opened */
			for (int q = 0; q < 4; q++)
				if (node[nd->child + q].count)
					stack[sp++] = nd->child + q;
			continue;
		}
		/* distance from the body to the group's box (0 inside) */
		double dx = nd->mx < bx0 ? bx0 - nd->mx : nd->mx > bx1 ? nd->mx - bx1 : 0.0;
		double dy = nd->my < by0 ? by0 - nd->my : nd->my > by1 ? nd->my - by1 : 0.0;
		double width = nd->width;
		if (width * width < theta2 * (dx * dx + dy * dy)) {
			if (qt_list_push(l, nd->mx, nd->my, nd->count) < 0)
				return err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists");
		} else if (nd->child < 0) {
			/* a near leaf: its points one by one */
			for (int32_t u = nd->start; u < nd->start + nd->count; u++) {
				int32_t j = w->order[u];
				if (qt_list_push(l, y[2 * j], y[2 * j + 1], 1.0) < 0)
					return err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists");
			}
		} else {
			for (int q = 0; q < 4; q++)
				if (node[nd->child + q].count)
					stack[sp++] = nd->child + q;
		}
	}
	/* The group's own points go into the list too: the self term adds exactly 1 to z
	 * (w_ii = 1) and nothing to the force, and is taken off afterwards. */
	for (int32_t a = 0; a < gc; a++)
		if (qt_list_push(l, y[2 * pts[a]], y[2 * pts[a] + 1], 1.0) < 0)
			return err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists");
	const float *lx = l->x, *ly = l->y, *lc = l->c;
	int64_t ln = l->n;
	for (int32_t a = 0; a < gc; a++) {
		int32_t i = pts[a];
		float px = (float)(y[2 * i] - l->ox), py = (float)(y[2 * i + 1] - l->oy);
		float z = 0, fx = 0, fy = 0;
#pragma omp simd reduction(+ : z, fx, fy)
		for (int64_t t = 0; t < ln; t++) {
			float ddx = px - lx[t], ddy = py - ly[t];
			float q = 1.0f / (1.0f + ddx * ddx + ddy * ddy);
			float cq = lc[t] * q;
			z += cq;
			fx += cq * q * ddx;
			fy += cq * q * ddy;
		}
		w->zi[i] = (double)z - 1.0;
		w->rep[2 * i] = fx;
		w->rep[2 * i + 1] = fy;
	}
	return 0;
}

static int bh_repulsion(tsne_work *w, const double *y, int64_t n, double theta)
{
	int rc = qt_build(w, y, n);
	if (rc < 0)
		return rc;
	double theta2 = theta * theta;
	int fail = 0;
#pragma omp parallel if (n > 1000)
	{
		qt_list l = {0};
#pragma omp for schedule(dynamic, 16)
		for (int64_t t = 0; t < w->ngroup; t++)
			if (qt_group_repulse(w, y, w->group[t], theta2, &l) < 0) {
#pragma omp atomic write
				fail = 1;
			}
		free(l.x), free(l.y), free(l.c);
	}
	return fail ? err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists") : 0;
}

/* ---------------------------------------------------------------------------------------
 * Gradient */

static void exact_repulsion(tsne_work *w, const double *y, int64_t n)
{
#pragma omp parallel for schedule(dynamic, 64) if (n > 200)
	for (int64_t i = 0; i < n; i++) {
		double z = 0, fx = 0, fy = 0, px = y[2 * i], py = y[2 * i + 1];
		for (int64_t j = 0; j < n; j++) {
			if (j == i)
				continue;
			double dx = px - y[2 * j], dy = py - y[2 * j + 1];
			double q = 1.0 / (1.0 + dx * dx + dy * dy);
			z += q;
			fx += q * q * dx;
			fy += q * q * dy;
		}
		w->zi[i] = z;
		w->rep[2 * i] = fx;
		w->rep[2 * i + 1] = fy;
	}
}

double tsne_exact_z(const double *y, int64_t n)
{
	double *zi = malloc((size_t)n * sizeof *zi);
	if (!zi)
		return NAN;
#pragma omp parallel for schedule(dynamic, 64)
	for (int64_t i = 0; i < n; i++) {
		double z = 0;
		for (int64_t j = 0; j < n; j++) {
			if (j == i)
				continue;
			double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
			z += 1.0 / (1.0 + dx * dx + dy * dy);
		}
		zi[i] = z;
	}
	double z = 0;
	for (int64_t i = 0; i < n; i++)
		z += zi[i];
	free(zi);
	return z;
}

/* AUTO's choice for the layout y: FFT while its grid is small for n
 * (TSNE_FFT_BOXES2_PER_POINT), else Barnes-Hut. */
static tsne_method auto_method(const double *y, int64_t n)
{
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	for (int64_t i = 0; i < n; i++) {
		x0 = fmin(x0, y[2 * i]), x1 = fmax(x1, y[2 * i]);
		y0 = fmin(y0, y[2 * i + 1]), y1 = fmax(y1, y[2 * i + 1]);
	}
	double nb = tsne_fft_boxes(fmax(x1 - x0, y1 - y0));
	return nb * nb <= TSNE_FFT_BOXES2_PER_POINT * (double)n ? TSNE_FFT : TSNE_BH;
}

/* Repulsive sums into w->rep / w->zi; returns Z (summed serially in index order, so the
 * same for any thread count) or a negative error. */
static int repulsion(tsne_work *w, const double *y, int64_t n, tsne_method method, double theta,
                     double *z_out)
{
	if (method == TSNE_AUTO)
		method = auto_method(y, n);
	if (method == TSNE_EXACT) {
		exact_repulsion(w, y, n);
	} else if (method == TSNE_FFT) {
		if (!w->fft && !(w->fft = tsne_fft_new(n)))
			return err_set(DN_ENOMEM, "out of memory for the FFT grid");
		int rc = tsne_fft_repulsion(w->fft, y, n, w->rep, w->zi, w->order);
		if (rc < 0)
			return rc;
	} else {
		int rc = bh_repulsion(w, y, n, theta);
		if (rc < 0)
			return rc;
	}
	double z = 0;
	for (int64_t i = 0; i < n; i++)
		z += w->zi[i];
	*z_out = z;
	return 0;
}

/* Attractive force on point i from the sparse P: sum_j P_ij w_ij (y_i - y_j). */
static inline void attraction(double *a, const double *y, const tsne_sparse *P, int64_t i)
{
	/* Gather the differences in chunks, then a vector loop for the divisions (the cost).
	 * The reduction order is fixed by the code, so results do not vary between runs. */
	enum { CH = 64 };
	double dxs[CH], dys[CH];
	double ax = 0, ay = 0, px = y[2 * i], py = y[2 * i + 1];
	for (int64_t t0 = P->row[i]; t0 < P->row[i + 1]; t0 += CH) {
		int m = (int)(P->row[i + 1] - t0 < CH ? P->row[i + 1] - t0 : CH);
		const int32_t *col = P->col + t0;
		const double *val = P->val + t0;
		for (int u = 0; u < m; u++) {
			dxs[u] = px - y[2 * col[u]];
			dys[u] = py - y[2 * col[u] + 1];
		}
#pragma omp simd reduction(+ : ax, ay)
		for (int u = 0; u < m; u++) {
			double q = val[u] / (1.0 + dxs[u] * dxs[u] + dys[u] * dys[u]);
			ax += q * dxs[u];
			ay += q * dys[u];
		}
	}
	a[0] = ax;
	a[1] = ay;
}

/* The same in single precision, for the optimiser's inner loop: positions yf (n,2) and P
 * values vf as float halve the memory traffic and double the vector width; the sums of
 * ~100 terms keep ~6 significant digits, far below the Barnes-Hut error. */
TSNE_CLONES
static void attraction_f(double *a, const float *yf, const int64_t *row, const int32_t *colp,
                         const float *vf, int64_t i)
{
	enum { CH = 64 };
	float dxs[CH], dys[CH];
	float ax = 0, ay = 0, px = yf[2 * i], py = yf[2 * i + 1];
	for (int64_t t0 = row[i]; t0 < row[i + 1]; t0 += CH) {
		int m = (int)(row[i + 1] - t0 < CH ? row[i + 1] - t0 : CH);
		const int32_t *col = colp + t0;
		const float *val = vf + t0;
		for (int u = 0; u < m; u++) {
			dxs[u] = px - yf[2 * col[u]];
			dys[u] = py - yf[2 * col[u] + 1];
		}
#pragma omp simd reduction(+ : ax, ay)
		for (int u = 0; u < m; u++) {
			float q = val[u] / (1.0f + dxs[u] * dxs[u] + dys[u] * dys[u]);
			ax += q * dxs[u];
			ay += q * dys[u];
		}
	}
	a[0] = ax;
	a[1] = ay;
}

int tsne_gradient(double *grad, const double *y, const tsne_sparse *P, double exag,
                  tsne_method method, double theta, tsne_work *w, double *z_out)
{
	int64_t n = P->n;
	method = tsne_resolve_method(method, theta, n);
	double z;
	int rc = repulsion(w, y, n, method, theta, &z);
	if (rc < 0)
		return rc;
	double rz = 1.0 / z;
	/* Eq. 5 of van der Maaten 2014, split into attraction (sparse P) and repulsion / Z. */
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000)
	for (int64_t i = 0; i < n; i++) {
		double a[2];
		attraction(a, y, P, i);
		grad[2 * i] = 4.0 * (exag * a[0] - w->rep[2 * i] * rz);
		grad[2 * i + 1] = 4.0 * (exag * a[1] - w->rep[2 * i + 1] * rz);
	}
	if (z_out)
		*z_out = z;
	return 0;
}

double tsne_kl(const double *y, const tsne_sparse *P, double z)
{
	int64_t n = P->n;
	double *ri = malloc((size_t)n * sizeof *ri);
	if (!ri)
		return NAN;
	double lz = log(z);
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000)
	for (int64_t i = 0; i < n; i++) {
		double s = 0;
		for (int64_t t = P->row[i]; t < P->row[i + 1]; t++) {
			int32_t j = P->col[t];
			double p = P->val[t];
			if (p <= 0)
				continue;
			double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
			/* p log(p / q), q = w/Z = 1/((1+d2) Z) */
			s += p * (log(p) + log1p(dx * dx + dy * dy) + lz);
		}
		ri[i] = s;
	}
	double kl = 0;
	for (int64_t i = 0; i < n; i++)
		kl += ri[i];
	free(ri);
	return kl;
}

/* ---------------------------------------------------------------------------------------
 * Optimisation (van der Maaten 2014, Sec. 5: momentum, gains of Jacobs 1988, exaggeration). */

/* Renumber the points in the last quadtree's depth-first order, so that points close in the
 * layout (and so their P-neighbours) are close in memory.  perm maps the current numbering
 * to the caller's.  Deterministic: the order is a function of the layout. */
static int renumber(tsne_work *w, tsne_sparse *Q, double *y, double *upd, double *gain,
                    int32_t *perm, int64_t n)
{
	const int32_t *order = w->order;
	int32_t *inv = malloc((size_t)n * sizeof *inv);
	double *tmp = malloc((size_t)n * 2 * sizeof *tmp);
	int64_t *row = malloc(((size_t)n + 1) * sizeof *row);
	int32_t *col = malloc((size_t)Q->row[n] * sizeof *col);
	double *val = malloc((size_t)Q->row[n] * sizeof *val);
	if (!inv || !tmp || !row || !col || !val) {
		free(inv), free(tmp), free(row), free(col), free(val);
		return 0; /* not needed for correctness: skip it */
	}
	for (int64_t t = 0; t < n; t++)
		inv[order[t]] = (int32_t)t;
	double *arr[3] = {y, upd, gain};
	for (int a = 0; a < 3; a++) {
		for (int64_t t = 0; t < n; t++)
			tmp[2 * t] = arr[a][2 * order[t]], tmp[2 * t + 1] = arr[a][2 * order[t] + 1];
		memcpy(arr[a], tmp, (size_t)n * 2 * sizeof *tmp);
	}
	int32_t *pt = (int32_t *)tmp; /* n int32 fit in 2n doubles */
	for (int64_t t = 0; t < n; t++)
		pt[t] = perm[order[t]];
	memcpy(perm, pt, (size_t)n * sizeof *perm);
	int64_t o = 0;
	for (int64_t t = 0; t < n; t++) {
		int32_t i = order[t];
		row[t] = o;
		for (int64_t u = Q->row[i]; u < Q->row[i + 1]; u++) {
			col[o] = inv[Q->col[u]];
			val[o++] = Q->val[u];
		}
	}
	row[n] = o;
	free(Q->row), free(Q->col), free(Q->val);
	Q->row = row, Q->col = col, Q->val = val;
	w->have_order = 0; /* index order is now the tree order */
	free(inv), free(tmp);
	return 0;
}

int tsne_optimize(double *yio, const tsne_sparse *P0, const tsne_params *p, double *kl_out)
{
	int64_t n = P0->n;
	double eta = tsne_learning_rate(p, n);
	tsne_method method = tsne_resolve_method(p->method, p->theta, n);
	tsne_work *w = tsne_work_new(n);
	double *y = malloc((size_t)n * 2 * sizeof *y);
	double *ynew = malloc((size_t)n * 2 * sizeof *ynew);
	double *upd = calloc((size_t)n * 2, sizeof *upd);
	double *gain = malloc((size_t)n * 2 * sizeof *gain);
	int32_t *perm = malloc((size_t)n * sizeof *perm);
	/* a private copy of P, renumbered along with the points */
	tsne_sparse Q = {n, malloc(((size_t)n + 1) * sizeof *Q.row),
	                 malloc((size_t)P0->row[n] * sizeof *Q.col),
	                 malloc((size_t)P0->row[n] * sizeof *Q.val)};
	const tsne_sparse *P = &Q;
	float *yf = malloc((size_t)n * 2 * sizeof *yf);
	float *vf = malloc((size_t)P0->row[n] * sizeof *vf);
	int64_t vf_n = -1; /* vf is valid for Q's current numbering when == Q.row[n] */
	int rc = 0;
	if (!w || !y || !ynew || !upd || !gain || !perm || !Q.row || !Q.col || !Q.val || !yf || !vf) {
		rc = err_set(DN_ENOMEM, "out of memory for the optimiser");
		goto out;
	}
	memcpy(Q.row, P0->row, ((size_t)n + 1) * sizeof *Q.row);
	memcpy(Q.col, P0->col, (size_t)P0->row[n] * sizeof *Q.col);
	memcpy(Q.val, P0->val, (size_t)P0->row[n] * sizeof *Q.val);
	for (int64_t t = 0; t < 2 * n; t++)
		yf[t] = (float)yio[t];
	if ((rc = tsne_layout_check(yf, n, "start layout")) < 0)
		goto out;
	memcpy(y, yio, (size_t)n * 2 * sizeof *y);
	for (int64_t i = 0; i < n; i++)
		perm[i] = (int32_t)i;
	for (int64_t t = 0; t < 2 * n; t++)
		gain[t] = 1.0;
	double z = 0;
	int last = p->max_iter;
	for (int it = 0; it < p->max_iter; it++) {
		double exag = it < p->exag_iter ? p->exaggeration : 1.0;
		double mom = it < p->mom_switch_iter ? p->momentum : p->final_momentum;
		if (method != TSNE_EXACT && n >= 4096 && it % 100 == 50) {
			renumber(w, &Q, y, upd, gain, perm, n);
			vf_n = -1;
		}
		if (vf_n < 0) {
			for (int64_t t = 0; t < Q.row[n]; t++)
				vf[t] = (float)Q.val[t];
			vf_n = Q.row[n];
		}
		for (int64_t t = 0; t < 2 * n; t++)
			yf[t] = (float)y[t];
		if ((rc = repulsion(w, y, n, method, p->theta, &z)) < 0)
			goto out;
		/* KL of the layout the gradient is taken at (before this step). */
		if (p->report && p->report_every > 0 && it > 0 && it % p->report_every == 0) {
			/* exact Z where affordable, so reports and the final figure agree */
			double zr = n <= 2000 && method != TSNE_EXACT ? tsne_exact_z(y, n) : z;
			if (p->report(p->ctx, it, p->max_iter, tsne_kl(y, P, zr))) {
				last = it;
				break;
			}
		}
		double rz = 1.0 / z;
		/* One pass per point: gradient (Eq. 5 of vdM 2014), gains (Jacobs 1988: grow where
		 * the gradient pushes against the current motion), momentum step.  New positions go
		 * to ynew since other points still read y. */
		int far = 0;
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000) reduction(| : far)
		for (int64_t i = 0; i < n; i++) {
			double a[2];
			attraction_f(a, yf, Q.row, Q.col, vf, i);
			for (int c = 0; c < 2; c++) {
				int64_t t = 2 * i + c;
				double g = 4.0 * (exag * a[c] - w->rep[t] * rz);
				gain[t] = (g > 0) != (upd[t] > 0) ? gain[t] + 0.2 : gain[t] * 0.8;
				if (gain[t] < 0.01)
					gain[t] = 0.01;
				upd[t] = mom * upd[t] - eta * gain[t] * g;
				ynew[t] = y[t] + upd[t];
				far |= !(fabs(ynew[t]) <= TSNE_LAYOUT_MAX); /* NaN too */
			}
		}
		if (far) {
			rc = err_set(DN_ERANGE,
			             "the optimisation diverged at iteration %d (a position beyond %g): "
			             "lower the learning rate (%g) or the exaggeration (%g)",
			             it + 1, TSNE_LAYOUT_MAX, eta, exag);
			goto out;
		}
		double mx = 0, my = 0;
		for (int64_t i = 0; i < n; i++)
			mx += ynew[2 * i], my += ynew[2 * i + 1];
		mx /= n, my /= n;
		for (int64_t i = 0; i < n; i++)
			y[2 * i] = ynew[2 * i] - mx, y[2 * i + 1] = ynew[2 * i + 1] - my;
		if (p->progress)
			p->progress(p->ctx, it + 1, p->max_iter);
	}
	/* Final KL at the final layout (exact Z when affordable). */
	{
		double kl;
		if (method == TSNE_EXACT || n <= 2000) {
			kl = tsne_kl(y, P, tsne_exact_z(y, n));
		} else {
			if ((rc = repulsion(w, y, n, method, p->theta, &z)) < 0)
				goto out;
			kl = tsne_kl(y, P, z);
		}
		if (p->report)
			p->report(p->ctx, last, p->max_iter, kl);
		if (kl_out)
			*kl_out = kl;
	}
	for (int64_t t = 0; t < n; t++)
		yio[2 * perm[t]] = y[2 * t], yio[2 * perm[t] + 1] = y[2 * t + 1];
out:
	tsne_work_free(w);
	free(y), free(ynew), free(upd), free(gain), free(perm), free(yf), free(vf);
	free(Q.row), free(Q.col), free(Q.val);
	return rc;
}

/* ---------------------------------------------------------------------------------------
 * PCA by the eigen-decomposition of the covariance (accumulated in double, block by block). */

int tsne_pca(float *out, const float *x, int64_t n, int d, int m)
{
	if (m < 1 || m > d || n < 2)
		return err_set(DN_EARG, "pca: cannot take %d components of (%lld,%d)", m,
		               (long long)n, d);
	const int64_t RB = 2048;
	double *mean = calloc((size_t)d, sizeof *mean);
	double *cov = calloc((size_t)d * d, sizeof *cov);
	double *blk = malloc((size_t)RB * d * sizeof *blk);
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
#pragma omp parallel for schedule(static)
		for (int64_t i = 0; i < rn; i++)
			for (int t = 0; t < d; t++)
				blk[i * d + t] = x[(r0 + i) * d + t] - mean[t];
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
#pragma omp parallel for schedule(static)
		for (int64_t i = 0; i < rn; i++)
			for (int t = 0; t < d; t++)
				blk[i * d + t] = x[(r0 + i) * d + t] - mean[t];
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

/* N(0, 1e-4^2) per coordinate, point i from stream i of the seed. */
static void random_init(double *y, int64_t n, uint64_t seed)
{
	for (int64_t i = 0; i < n; i++) {
		rng_t r;
		rng_seed(&r, seed, (uint64_t)i);
		y[2 * i] = 1e-4 * rng_normal(&r);
		y[2 * i + 1] = 1e-4 * rng_normal(&r);
	}
}

int tsne_layout_check(const float *y, int64_t n, const char *what)
{
	int same = 1;
	for (int64_t t = 0; t < 2 * n; t++) {
		if (!isfinite(y[t]))
			return err_set(DN_ERANGE, "%s: NaN or Inf at row %lld", what, (long long)(t / 2));
		if (!(fabsf(y[t]) <= TSNE_LAYOUT_MAX))
			return err_set(DN_ERANGE, "%s: %g at row %lld is beyond %g, not a t-SNE layout",
			               what, y[t], (long long)(t / 2), TSNE_LAYOUT_MAX);
		same &= y[t] == y[t & 1];
	}
	if (same && n > 1)
		return err_set(DN_ERANGE, "%s: all %lld points at the same position", what,
		               (long long)n);
	return 0;
}

int tsne_run(float *yout, const float *x, int64_t n, int d, const tsne_params *p, double *kl_out)
{
	tsne_sparse P;
	int rc;
	double *y = malloc((size_t)n * 2 * sizeof *y);
	if (!y)
		return err_set(DN_ENOMEM, "out of memory");
	if ((rc = tsne_affinities_knn(&P, x, n, d, p->perplexity, p->knn, p->seed)) < 0) {
		free(y);
		return rc;
	}
	if (p->init == TSNE_INIT_GIVEN) {
		for (int64_t t = 0; t < 2 * n; t++)
			y[t] = yout[t];
	} else if (p->init == TSNE_INIT_RANDOM) {
		random_init(y, n, p->seed);
	} else {
		if (d < 2) {
			for (int64_t i = 0; i < n; i++) {
				y[2 * i] = x[i];
				y[2 * i + 1] = 0;
			}
		} else {
			float *pc = malloc((size_t)n * 2 * sizeof *pc);
			if (!pc) {
				rc = err_set(DN_ENOMEM, "out of memory");
				goto out;
			}
			if ((rc = tsne_pca(pc, x, n, d, 2)) < 0) {
				free(pc);
				goto out;
			}
			for (int64_t t = 0; t < 2 * n; t++)
				y[t] = pc[t];
			free(pc);
		}
		/* Scale so the first coordinate has standard deviation 1e-4 (as scikit-learn). */
		double m0 = 0, s0 = 0;
		for (int64_t i = 0; i < n; i++)
			m0 += y[2 * i];
		m0 /= n;
		for (int64_t i = 0; i < n; i++)
			s0 += (y[2 * i] - m0) * (y[2 * i] - m0);
		s0 = sqrt(s0 / n);
		double sc = s0 > 0 ? 1e-4 / s0 : 1.0;
		for (int64_t t = 0; t < 2 * n; t++)
			y[t] *= sc;
		/* All points alike (no principal direction): nothing to unfold, and a layout with
		 * every point in one place has no gradient.  Start from the seeded random layout. */
		if (!(s0 > 0))
			random_init(y, n, p->seed);
	}
	rc = tsne_optimize(y, &P, p, kl_out);
	if (rc >= 0)
		for (int64_t t = 0; t < 2 * n; t++)
			yout[t] = (float)y[t];
out:
	tsne_sparse_free(&P);
	free(y);
	return rc;
}

/* ---------------------------------------------------------------------------------------
 * Placing new points into a finished layout (openTSNE's prepare_partial / transform,
 * Policar, Strazar & Zupan, "openTSNE", JMLR 2024). */

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
	float *sq = malloc((size_t)nr * sizeof *sq);
	knn_ent *heap = malloc((size_t)nq * k * sizeof *heap);
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
	              : knn_finish(nbr, dist2, heap, xq, nq, xr, d, k);
	free(sq), free(heap);
	return rc;
}

typedef struct {
	double v, w;
} wv_ent;

static int cmp_wv(const void *a, const void *b)
{
	const wv_ent *x = a, *y = b;
	return (x->v > y->v) - (x->v < y->v);
}

/* Median of v[0..k) weighted by w (summing to 1): the smallest value whose cumulative weight
 * reaches one half. */
static double weighted_median(wv_ent *e, int k)
{
	qsort(e, k, sizeof *e, cmp_wv);
	double c = 0;
	for (int t = 0; t < k; t++) {
		c += e[t].w;
		if (c >= 0.5)
			return e[t].v;
	}
	return e[k - 1].v;
}

/* Repulsion on a point at (px, py) from the fixed reference points in the quadtree of w
 * (per-point Barnes-Hut criterion): rep = sum_j w_j^2 (p - y_j), returns sum_j w_j. */
static double place_repulse(const tsne_work *w, const double *yr, double px, double py,
                            double theta2, double rep[2])
{
	const qwalk *node = w->walk;
	int32_t stack[4 * QT_MAXDEPTH + 8];
	int sp = 0;
	double z = 0, fx = 0, fy = 0;
	stack[sp++] = 0;
	while (sp) {
		const qwalk *nd = &node[stack[--sp]];
		if (nd->count == 0)
			continue;
		double dx = px - nd->mx, dy = py - nd->my, d2 = dx * dx + dy * dy;
		if (nd->child < 0) {
			for (int32_t u = nd->start; u < nd->start + nd->count; u++) {
				int32_t j = w->order[u];
				double ex = px - yr[2 * j], ey = py - yr[2 * j + 1];
				double q = 1.0 / (1.0 + ex * ex + ey * ey);
				z += q, fx += q * q * ex, fy += q * q * ey;
			}
		} else if ((double)nd->width * nd->width < theta2 * d2) {
			double q = 1.0 / (1.0 + d2);
			z += nd->count * q, fx += nd->count * q * q * dx, fy += nd->count * q * q * dy;
		} else {
			for (int q = 0; q < 4; q++)
				stack[sp++] = nd->child + q;
		}
	}
	rep[0] = fx, rep[1] = fy;
	return z;
}

int tsne_place(float *ynew, const float *xnew, int64_t nnew, const float *xref, const float *yref,
               int64_t nref, int d, const tsne_place_params *pp)
{
	int k = (int)(3.0 * pp->perplexity);
	if (!(pp->perplexity > 1.0))
		return err_set(DN_EARG, "perplexity must be > 1");
	if (nref < k)
		return err_set(DN_ERANGE,
		               "%lld reference points too few for perplexity %g (need N >= 3*perplexity)",
		               (long long)nref, pp->perplexity);
	int rc = tsne_layout_check(yref, nref, "reference layout");
	if (rc < 0)
		return rc;
	int32_t *nbr = malloc((size_t)nnew * k * sizeof *nbr);
	double *dist2 = malloc((size_t)nnew * k * sizeof *dist2);
	double *p = malloc((size_t)nnew * k * sizeof *p);
	double *yr = malloc((size_t)nref * 2 * sizeof *yr);
	double *y = malloc((size_t)nnew * 2 * sizeof *y);
	double *upd = calloc((size_t)nnew * 2, sizeof *upd);
	double *gain = malloc((size_t)nnew * 2 * sizeof *gain);
	float *xq = NULL, *xr = NULL;
	tsne_work *w = tsne_work_new(nref);
	if (!nbr || !dist2 || !p || !yr || !y || !upd || !gain || !w) {
		rc = err_set(DN_ENOMEM, "out of memory for placing %lld points", (long long)nnew);
		goto out;
	}
	/* one power-of-two scale for both sets (see tsne_rescale) */
	float mq = max_abs(xnew, nnew, d), mr = max_abs(xref, nref, d);
	int e = scale_exponent(mq > mr ? mq : mr);
	if ((rc = scaled_copy(&xq, xnew, nnew, d, e)) < 0 ||
	    (rc = scaled_copy(&xr, xref, nref, d, e)) < 0)
		goto out;
	if ((rc = tsne_knn_cross(nbr, dist2, xq ? xq : xnew, nnew, xr ? xr : xref, nref, d, k)) < 0)
		goto out;
	int64_t bad = tsne_calibrate(p, NULL, dist2, nnew, k, pp->perplexity);
	if (bad < 0) {
		rc = (int)bad;
		goto out;
	}
	for (int64_t t = 0; t < 2 * nref; t++)
		yr[t] = yref[t];
	/* Start: each coordinate at the median of the neighbours', weighted by p_{j|i}. */
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < nnew; i++) {
		wv_ent e2[k];
		for (int c = 0; c < 2; c++) {
			for (int t = 0; t < k; t++)
				e2[t] = (wv_ent){yr[2 * (int64_t)nbr[i * k + t] + c], p[i * k + t]};
			y[2 * i + c] = weighted_median(e2, k);
		}
	}
	for (int64_t t = 0; t < 2 * nnew; t++)
		gain[t] = 1.0;
	if ((rc = qt_build(w, yr, nref)) < 0)
		goto out;
	double theta2 = pp->theta * pp->theta;
	for (int it = 0; it < pp->max_iter; it++) {
		int far = 0;
		/* Each new point alone against the fixed reference (q normalised point by point, as
		 * openTSNE does): the new points neither move the old ones nor one another. */
#pragma omp parallel for schedule(dynamic, 64) reduction(| : far)
		for (int64_t i = 0; i < nnew; i++) {
			double px = y[2 * i], py = y[2 * i + 1], rep[2], a[2] = {0, 0};
			double z = place_repulse(w, yr, px, py, theta2, rep);
			for (int t = 0; t < k; t++) {
				int64_t j = nbr[i * k + t];
				double dx = px - yr[2 * j], dy = py - yr[2 * j + 1];
				double q = p[i * k + t] / (1.0 + dx * dx + dy * dy);
				a[0] += q * dx, a[1] += q * dy;
			}
			double g[2], gn = 0;
			for (int c = 0; c < 2; c++) {
				g[c] = 4.0 * (a[c] - rep[c] / z);
				gn += g[c] * g[c];
			}
			gn = sqrt(gn);
			if (gn > pp->max_grad_norm) /* openTSNE's max_grad_norm */
				g[0] *= pp->max_grad_norm / gn, g[1] *= pp->max_grad_norm / gn;
			for (int c = 0; c < 2; c++) {
				int64_t t = 2 * i + c;
				gain[t] = (g[c] > 0) != (upd[t] > 0) ? gain[t] + 0.2 : gain[t] * 0.8;
				if (gain[t] < 0.01)
					gain[t] = 0.01;
				upd[t] = pp->momentum * upd[t] - pp->learning_rate * gain[t] * g[c];
				y[t] += upd[t];
				far |= !(fabs(y[t]) <= TSNE_LAYOUT_MAX);
			}
		}
		if (far) {
			rc = err_set(DN_ERANGE,
			             "placing diverged at iteration %d (a position beyond %g): lower the "
			             "learning rate (%g)", it + 1, TSNE_LAYOUT_MAX, pp->learning_rate);
			goto out;
		}
		if (pp->progress)
			pp->progress(pp->ctx, it + 1, pp->max_iter);
	}
	for (int64_t t = 0; t < 2 * nnew; t++)
		ynew[t] = (float)y[t];
out:
	tsne_work_free(w);
	free(nbr), free(dist2), free(p), free(yr), free(y), free(upd), free(gain), free(xq), free(xr);
	return rc;
}

void tsne_place_params_default(tsne_place_params *p)
{
	memset(p, 0, sizeof *p);
	p->perplexity = 5.0;
	p->max_iter = 250;
	p->learning_rate = 0.1;
	p->momentum = 0.0;
	p->max_grad_norm = 0.25;
	p->theta = 0.5;
}

/* ---------------------------------------------------------------------------------------
 * Streams */

void tsne_input_free(tsne_input *in)
{
	free(in->x);
	for (int i = 0; i < in->nextra; i++)
		npy_free(&in->extra[i]);
	free(in->extra);
	memset(in, 0, sizeof *in);
}

int tsne_input_read(tsne_input *in, FILE *f, const char *name)
{
	memset(in, 0, sizeof *in);
	npy_header h;
	int rc = npy_read_header(f, name, &h);
	if (rc < 0)
		return rc;
	if ((rc = npy_expect(&h, name, "points", NPY_F32, 2)) < 0)
		return rc;
	if (h.shape[1] == 0)
		return err_set(DN_EFORMAT, "%s: points have D=0 dimensions", name);
	if (h.shape[0] == 0)
		return err_set(DN_EFORMAT, "%s: no points (N=0)", name);
	if (h.shape[0] > INT32_MAX || h.shape[1] > INT32_MAX)
		return err_set(DN_EFORMAT, "%s: points too large", name);
	in->n = h.shape[0];
	in->d = (int)h.shape[1];
	in->x = malloc(h.nbytes);
	if (!in->x)
		return err_set(DN_ENOMEM, "%s: out of memory for (%lld,%d) points", name,
		               (long long)in->n, in->d);
	if ((rc = npy_read_data(f, name, &h, in->x, (size_t)h.count)) < 0)
		goto fail;
	for (int64_t t = 0; t < h.count; t++)
		if (!isfinite(in->x[t])) {
			rc = err_set(DN_ERANGE, "%s: points: NaN or Inf at row %lld", name,
			             (long long)(t / in->d));
			goto fail;
		}
	for (;;) {
		npy_array a;
		rc = npy_read_array(f, name, &a);
		if (rc == DN_EEOF)
			break;
		if (rc < 0)
			goto fail;
		if (a.h.ndim < 1 || a.h.shape[0] != in->n) {
			char s[160];
			rc = err_set(DN_EFORMAT, "%s: array %d %s is not per-point (first dimension %lld)",
			             name, in->nextra + 1, npy_header_str(&a.h, s, sizeof s),
			             (long long)in->n);
			npy_free(&a);
			goto fail;
		}
		npy_array *e = realloc(in->extra, (size_t)(in->nextra + 1) * sizeof *e);
		if (!e) {
			npy_free(&a);
			rc = err_set(DN_ENOMEM, "%s: out of memory", name);
			goto fail;
		}
		in->extra = e;
		in->extra[in->nextra++] = a;
	}
	return 0;
fail:
	tsne_input_free(in);
	return rc;
}

int tsne_output_write(FILE *f, const float *y, const tsne_input *in)
{
	int64_t shape[2] = {in->n, 2};
	int rc = npy_write_array(f, NPY_F32, 2, shape, y);
	for (int i = 0; rc >= 0 && i < in->nextra; i++)
		rc = npy_write_array(f, in->extra[i].h.dtype, in->extra[i].h.ndim, in->extra[i].h.shape,
		                     in->extra[i].data);
	return rc;
}

int tsne_layout_read(float **y, int64_t *n, FILE *f, const char *name)
{
	npy_header h;
	*y = NULL;
	int rc = npy_read_header(f, name, &h);
	if (rc < 0)
		return rc;
	if (h.dtype != NPY_F32 || h.ndim != 2 || h.shape[1] != 2 || h.shape[0] < 1) {
		char s[160];
		return err_set(DN_EFORMAT, "%s: init layout must be (N,2) float32, got %s", name,
		               npy_header_str(&h, s, sizeof s));
	}
	float *v = malloc(h.nbytes);
	if (!v)
		return err_set(DN_ENOMEM, "%s: out of memory", name);
	if ((rc = npy_read_data(f, name, &h, v, (size_t)h.count)) < 0) {
		free(v);
		return rc;
	}
	char what[300];
	snprintf(what, sizeof what, "%s: init layout", name);
	if ((rc = tsne_layout_check(v, h.shape[0], what)) < 0) {
		free(v);
		return rc;
	}
	*y = v;
	*n = h.shape[0];
	return 0;
}

int tsne_joinable(const tsne_input *a, const tsne_input *b, const char *aname, const char *bname)
{
	if (a->nextra != b->nextra)
		return err_set(DN_EFORMAT, "%s has %d per-point arrays after the layout, %s %d: cannot join",
		               aname, a->nextra, bname, b->nextra);
	for (int i = 0; i < a->nextra; i++) {
		const npy_header *x = &a->extra[i].h, *y = &b->extra[i].h;
		int same = x->dtype == y->dtype && x->ndim == y->ndim;
		for (int t = 1; same && t < x->ndim; t++)
			same = x->shape[t] == y->shape[t];
		if (!same) {
			char s1[160], s2[160];
			return err_set(DN_EFORMAT, "per-point array %d is %s in %s but %s in %s: cannot join",
			               i + 1, npy_header_str(x, s1, sizeof s1), aname,
			               npy_header_str(y, s2, sizeof s2), bname);
		}
	}
	return 0;
}

int tsne_output_write_joined(FILE *f, const float *ya, const tsne_input *a, const float *yb,
                             const tsne_input *b)
{
	npy_header h;
	int64_t shape[NPY_MAXDIM] = {a->n + b->n, 2};
	int rc = npy_header_init(&h, NPY_F32, 2, shape);
	if (rc >= 0)
		rc = npy_write_header(f, &h);
	if (rc >= 0)
		rc = npy_write_data(f, ya, (size_t)a->n * 2, NPY_F32);
	if (rc >= 0)
		rc = npy_write_data(f, yb, (size_t)b->n * 2, NPY_F32);
	for (int i = 0; rc >= 0 && i < a->nextra; i++) {
		const npy_array *x = &a->extra[i], *y = &b->extra[i];
		memcpy(shape, x->h.shape, sizeof shape);
		shape[0] = a->n + b->n;
		if ((rc = npy_header_init(&h, x->h.dtype, x->h.ndim, shape)) < 0 ||
		    (rc = npy_write_header(f, &h)) < 0 ||
		    (rc = npy_write_data(f, x->data, (size_t)x->h.count, x->h.dtype)) < 0)
			break;
		rc = npy_write_data(f, y->data, (size_t)y->h.count, y->h.dtype);
	}
	return rc;
}
