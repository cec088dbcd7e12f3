/* optimize.c - t-SNE's gradient descent: the gradient of KL(P||Q) (attraction from the sparse
 * P, repulsion by the method chosen for the layout), the KL divergence itself, and the
 * optimiser (van der Maaten 2014, Sec. 5: momentum, gains of Jacobs 1988, early
 * exaggeration). */
#include "tsne/tsne.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "tsne/internal.h"
#include "tsne/simd.h"

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

/* AUTO's choice for the layout y: FFT while its grid is small for n
 * (TSNE_FFT_BOXES2_PER_POINT), else Barnes-Hut. */
static tsne_method auto_method(const double *y, int64_t n)
{
	double bb[4];
	tsne_bbox(bb, y, n);
	double nb = tsne_fft_boxes(fmax(bb[1] - bb[0], bb[3] - bb[2]));
	return nb * nb <= TSNE_FFT_BOXES2_PER_POINT * (double)n ? TSNE_FFT : TSNE_BH;
}

/* Repulsive sums into w->rep / w->zi by a resolved method (for Barnes-Hut, tree included). */
static int repulse(tsne_work *w, const double *y, int64_t n, tsne_method method, double theta)
{
	if (method == TSNE_EXACT) {
		tsne_exact_repulsion(w, y, n);
		return 0;
	}
	if (method == TSNE_FFT) {
		if (!w->fft && !(w->fft = tsne_fft_new(n)))
			return err_set(DN_ENOMEM, "out of memory for the FFT grid");
		return tsne_fft_repulsion(w->fft, y, n, w->rep, w->zi, w->order);
	}
	return tsne_bh_repulsion(w, y, n, theta);
}

/* Z = sum of w->zi, summed serially in a fixed order (four running sums over i mod 4, then
 * added pairwise: not one chain of n dependent additions), so the same for any thread count. */
static double sum_z(const tsne_work *w, int64_t n)
{
	double z[4] = {0, 0, 0, 0};
	int64_t i = 0;
	for (; i + 4 <= n; i += 4)
		for (int c = 0; c < 4; c++)
			z[c] += w->zi[i + c];
	for (; i < n; i++)
		z[0] += w->zi[i];
	return (z[0] + z[1]) + (z[2] + z[3]);
}

/* Repulsive sums into w->rep / w->zi; Z into *z_out, or a negative error. */
static int repulsion(tsne_work *w, const double *y, int64_t n, tsne_method method, double theta,
                     double *z_out)
{
	int rc = repulse(w, y, n, method == TSNE_AUTO ? auto_method(y, n) : method, theta);
	if (rc < 0)
		return rc;
	*z_out = sum_z(w, n);
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

/* ---------------------------------------------------------------------------------------
 * The optimiser's attraction, in single precision: positions as float pairs (one 8-byte load
 * per neighbour, yp) and the sums of ~100 terms keep ~6 significant digits, far below the
 * Barnes-Hut error.
 *
 * P is read as a compact stream, 4 bytes a nonzero instead of 8.  The points are renumbered
 * in the layout's spatial order (renumber), so most of a row's columns are near the row's
 * own index: a column within +-32767 of it is stored as a 16-bit offset, its value as a
 * half-precision float (IEEE binary16, relative error at most 2^-11) of the value times a
 * power of two that brings the row's largest value into [2^14, 2^15), values below 2^-14
 * there (2^-28 of the largest) as 0; the other, far columns (0.2-1.4% at 70,000 digits)
 * keep a 32-bit index and a float value in a list of their own.  The near
 * part of each row is padded with zero terms (offset 0, value 0: exactly 0) to a multiple of
 * ATT_PAD, so the vector loops have no scalar remainder. */
enum { ATT_PAD = 8, ATT_NEAR = 32767 }; /* ATT_PAD: the AVX2 loop's step */

typedef struct {
	int64_t *row;  /* (n+1) near part's offsets (padded) */
	int16_t *off;  /* (row[n]) column - row */
	uint16_t *val; /* (row[n]) value / scale[i] as binary16 */
	float *scale;  /* (n) a power of two */
	int64_t *frow; /* (n+1) far part's offsets */
	int32_t *fcol; /* (frow[n]) */
	float *fval;   /* (frow[n]) */
} att_stream;

static int64_t att_padded(int64_t len)
{
	return (len + ATT_PAD - 1) / ATT_PAD * ATT_PAD;
}

/* x >= 0 (below 2^15) as binary16, rounded to nearest (ties away from zero); below 2^-14
 * (binary16's subnormals) 0. */
static uint16_t att_half(double x)
{
	if (!(x >= 0x1p-14))
		return 0;
	float f = (float)x;
	uint32_t b;
	memcpy(&b, &f, sizeof b);
	return (uint16_t)((b + 0x1000 - 0x38000000u) >> 13);
}

/* binary16 h (no subnormals, not negative) as float: the bits moved into place and the
 * exponent rebased; 0 stays 0. */
static inline float att_float(uint16_t h)
{
	uint32_t b = h ? ((uint32_t)h << 13) + 0x38000000u : 0;
	float f;
	memcpy(&f, &b, sizeof f);
	return f;
}

static int att_is_near(int64_t j, int64_t t)
{
	return j - t >= -ATT_NEAR && j - t <= ATT_NEAR;
}

/* The stream of Q (in the current numbering).  fcnt: (n) scratch. */
static void att_pack(att_stream *s, const tsne_sparse *Q, int64_t *fcnt)
{
	int64_t n = Q->n;
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000)
	for (int64_t t = 0; t < n; t++) {
		int64_t f = 0;
		for (int64_t u = Q->row[t]; u < Q->row[t + 1]; u++)
			f += !att_is_near(Q->col[u], t);
		fcnt[t] = f;
	}
	s->row[0] = s->frow[0] = 0;
	for (int64_t t = 0; t < n; t++) {
		s->row[t + 1] = s->row[t] + att_padded(Q->row[t + 1] - Q->row[t] - fcnt[t]);
		s->frow[t + 1] = s->frow[t] + fcnt[t];
	}
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000)
	for (int64_t t = 0; t < n; t++) {
		double mx = 0;
		for (int64_t u = Q->row[t]; u < Q->row[t + 1]; u++)
			mx = Q->val[u] > mx ? Q->val[u] : mx;
		int e;
		frexp(mx, &e); /* mx = m 2^e, m in [0.5, 1) */
		double sc = mx > 0 ? ldexp(1, e - 15) : 0; /* mx / sc in [2^14, 2^15) */
		s->scale[t] = (float)sc;
		int64_t v = s->row[t], f = s->frow[t];
		for (int64_t u = Q->row[t]; u < Q->row[t + 1]; u++) {
			int32_t j = Q->col[u];
			if (att_is_near(j, t)) {
				s->off[v] = (int16_t)(j - t);
				s->val[v++] = sc > 0 ? att_half(Q->val[u] / sc) : 0;
			} else {
				s->fcol[f] = j;
				s->fval[f++] = (float)Q->val[u];
			}
		}
		for (; v < s->row[t + 1]; v++)
			s->off[v] = 0, s->val[v] = 0;
	}
}

/* Row i's far part, added to the near part's sums (ax, ay), times the scale. */
static inline void att_far(float *a, const uint64_t *yp, const att_stream *s, int64_t i,
                           float px, float py, float ax, float ay)
{
	float fx = 0, fy = 0;
	for (int64_t t = s->frow[i]; t < s->frow[i + 1]; t++) {
		float q[2];
		memcpy(q, yp + s->fcol[t], sizeof q);
		float dx = px - q[0], dy = py - q[1];
		float w = s->fval[t] / (1.0f + dx * dx + dy * dy);
		fx += w * dx;
		fy += w * dy;
	}
	a[0] = ax * s->scale[i] + fx;
	a[1] = ay * s->scale[i] + fy;
}

/* att (n,2) rows i0..i1 = sum_j P_ij w_ij (y_i - y_j).  The portable loop, ATT_PAD neighbours
 * at a time: their indices widened into a small array first (then the compiler's gathers
 * from scalar loads, as for 32-bit columns), each pair split by a shift in vector registers. */
TSNE_CLONES
static void attract_rows(float *att, const uint64_t *yp, const att_stream *s, int64_t i0,
                         int64_t i1)
{
	for (int64_t i = i0; i < i1; i++) {
		float pi[2];
		memcpy(pi, yp + i, sizeof pi);
		float ax = 0, ay = 0, px = pi[0], py = pi[1];
		const uint64_t *yi = yp + i;
		for (int64_t t0 = s->row[i]; t0 < s->row[i + 1]; t0 += ATT_PAD) {
			int32_t c[ATT_PAD];
			const uint16_t *val = s->val + t0;
			for (int u = 0; u < ATT_PAD; u++)
				c[u] = s->off[t0 + u];
#pragma omp simd reduction(+ : ax, ay)
			for (int u = 0; u < ATT_PAD; u++) {
				uint64_t v = yi[c[u]];
				uint32_t ux = (uint32_t)v, uy = (uint32_t)(v >> 32); /* little-endian: x first */
				float x, yv;
				memcpy(&x, &ux, sizeof x), memcpy(&yv, &uy, sizeof yv);
				float dx = px - x, dy = py - yv;
				float q = att_float(val[u]) / (1.0f + dx * dx + dy * dy);
				ax += q * dx;
				ay += q * dy;
			}
		}
		att_far(att + 2 * i, yp, s, i, px, py, ax, ay);
	}
}

#if defined(__x86_64__) && defined(__GNUC__)
#define ATT_AVX2 1
#include <immintrin.h>

/* The same with AVX2 written out (FMA; F16C converts the values): 8 neighbours a step, each
 * pair one scalar 8-byte load (the gather instruction was slower here), split into x and y by
 * two shuffles.  The loads are grouped (0, 1, 4, 5) and (2, 3, 6, 7) so that the shuffles,
 * which work within 128-bit halves, give x and y in the order of the values.  On an AVX-512
 * CPU (a 2-core AMD EPYC VM): 8% faster than the same in 16-lane AVX-512; against the
 * compiler's loop over 32-bit columns and float values, 1.6x faster on one iteration's data
 * (70,000 digits, one thread) and 1.3x less CPU over a whole run.  (The portable loop below
 * is slower than that old loop: about 2x with SSE2 only, the 16-bit loads widened by hand.) */
__attribute__((target("avx2,fma,f16c"))) static void attract_rows_avx2(float *att, const uint64_t *yp,
                                                                       const att_stream *s,
                                                                       int64_t i0, int64_t i1)
{
	const __m256 one = _mm256_set1_ps(1.0f);
	for (int64_t i = i0; i < i1; i++) {
		float pi[2];
		memcpy(pi, yp + i, sizeof pi);
		__m256 px = _mm256_set1_ps(pi[0]), py = _mm256_set1_ps(pi[1]);
		__m256 ax = _mm256_setzero_ps(), ay = _mm256_setzero_ps();
		const long long *yi = (const long long *)(yp + i);
		for (int64_t t = s->row[i]; t < s->row[i + 1]; t += ATT_PAD) {
			const int16_t *c = s->off + t;
			__m256 g0 = _mm256_castsi256_ps(_mm256_set_epi64x(yi[c[5]], yi[c[4]], yi[c[1]], yi[c[0]]));
			__m256 g1 = _mm256_castsi256_ps(_mm256_set_epi64x(yi[c[7]], yi[c[6]], yi[c[3]], yi[c[2]]));
			__m256 dx = _mm256_sub_ps(px, _mm256_shuffle_ps(g0, g1, _MM_SHUFFLE(2, 0, 2, 0)));
			__m256 dy = _mm256_sub_ps(py, _mm256_shuffle_ps(g0, g1, _MM_SHUFFLE(3, 1, 3, 1)));
			__m256 d = _mm256_fmadd_ps(dy, dy, _mm256_fmadd_ps(dx, dx, one));
			__m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s->val + t)));
			__m256 q = _mm256_div_ps(v, d);
			ax = _mm256_fmadd_ps(q, dx, ax);
			ay = _mm256_fmadd_ps(q, dy, ay);
		}
		/* the 8 lanes of each sum added in a fixed order */
		__m128 sx = _mm_add_ps(_mm256_castps256_ps128(ax), _mm256_extractf128_ps(ax, 1));
		__m128 sy = _mm_add_ps(_mm256_castps256_ps128(ay), _mm256_extractf128_ps(ay, 1));
		sx = _mm_hadd_ps(sx, sy); /* x0+x1, x2+x3, y0+y1, y2+y3 */
		sx = _mm_hadd_ps(sx, sx);
		float r[4];
		_mm_storeu_ps(r, sx);
		att_far(att + 2 * i, yp, s, i, pi[0], pi[1], r[0], r[1]);
	}
}
#endif

/* 1 when the explicit AVX2 attraction runs: the CPU has AVX2, FMA and F16C, and DANN_ISA (as
 * for the network's kernels) does not ask for generic. */
static int att_use_avx2(void)
{
#ifdef ATT_AVX2
	const char *e = getenv("DANN_ISA");
	if (e && !strcmp(e, "generic"))
		return 0;
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	       __builtin_cpu_supports("f16c");
#else
	return 0;
#endif
}

static void attract(float *att, const uint64_t *yp, const att_stream *s, int64_t i0, int64_t i1,
                    int avx2)
{
#ifdef ATT_AVX2
	if (avx2) {
		attract_rows_avx2(att, yp, s, i0, i1);
		return;
	}
#endif
	(void)avx2;
	attract_rows(att, yp, s, i0, i1);
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

/* Renumber the points in the last quadtree's (or FFT grid's) order, so that points close in
 * the layout (and so their P-neighbours) are close in memory: the attraction's column offsets
 * stay short and its loads hit the cache.  perm maps the current numbering to the caller's.
 * Deterministic: the order is a function of the layout.  The renumbered P goes into S (arrays
 * of Q's sizes, kept from one call to the next: fresh ones would cost a page fault every
 * 4 KB), which then swaps with Q; Q's rows are read nearly in order (the new order is close
 * to the last), which keeps this cheap.  inv, tmp: (n) and (n,2) scratch. */
static void renumber(tsne_work *w, tsne_sparse *Q, tsne_sparse *S, double *y, double *upd,
                     double *gain, int32_t *perm, int32_t *inv, double *tmp, int64_t n)
{
	const int32_t *order = w->order;
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
		S->row[t] = o;
		o += Q->row[order[t] + 1] - Q->row[order[t]];
	}
	S->row[n] = o;
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000)
	for (int64_t t = 0; t < n; t++) {
		int32_t i = order[t];
		for (int64_t u = Q->row[i], v = S->row[t]; u < Q->row[i + 1]; u++, v++) {
			S->col[v] = inv[Q->col[u]];
			S->val[v] = Q->val[u];
		}
	}
	tsne_sparse x = *Q;
	*Q = *S, *S = x;
	w->have_order = 0; /* index order is now the tree order */
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, z = *(const uint64_t *)b;
	return (x > z) - (x < z);
}

/* order (n): the points of y (n,2) along the Z-order (Morton) curve of a 65536 x 65536 grid
 * over their bounding box, ties by index: a spatial order for the start layout, before any
 * quadtree or grid has given one.  key: (n) scratch. */
static void morton_order(int32_t *order, uint64_t *key, const double *y, int64_t n)
{
	double bb[4];
	tsne_bbox(bb, y, n);
	double sx = 65535 / fmax(bb[1] - bb[0], 1e-300), sy = 65535 / fmax(bb[3] - bb[2], 1e-300);
	for (int64_t i = 0; i < n; i++) {
		uint64_t qx = (uint64_t)((y[2 * i] - bb[0]) * sx), qy = (uint64_t)((y[2 * i + 1] - bb[2]) * sy);
		uint64_t m = 0;
		for (int b = 0; b < 16; b++)
			m |= ((qx >> b) & 1) << (2 * b) | ((qy >> b) & 1) << (2 * b + 1);
		key[i] = m << 32 | (uint64_t)i;
	}
	qsort(key, (size_t)n, sizeof *key, cmp_u64);
	for (int64_t t = 0; t < n; t++)
		order[t] = (int32_t)(key[t] & 0xffffffffu);
}

/* One step for coordinates t0..t1 of the flattened (n,2) arrays: gradient (Eq. 5 of vdM
 * 2014), gains (Jacobs 1988: grow where the gradient pushes against the current motion),
 * momentum step, y moved in place (att and rep hold all that other points needed of y).
 * Nonzero when a position left +-TSNE_LAYOUT_MAX (or is NaN). */
TSNE_CLONES
static int update(double *y, double *upd, double *gain, const float *att, const double *rep,
                  double exag, double rz, double mom, double eta, int64_t t0, int64_t t1)
{
	int far = 0;
#pragma omp simd reduction(| : far)
	for (int64_t t = t0; t < t1; t++) {
		double g = 4.0 * (exag * (double)att[t] - rep[t] * rz);
		double gn = (g > 0) != (upd[t] > 0) ? gain[t] + 0.2 : gain[t] * 0.8;
		gn = gn < 0.01 ? 0.01 : gn;
		gain[t] = gn;
		double u = mom * upd[t] - eta * gn * g;
		upd[t] = u;
		y[t] += u;
		far |= !(fabs(y[t]) <= TSNE_LAYOUT_MAX);
	}
	return far;
}

/* Points of one block of the update: the block's sums of the new positions are added in
 * block order, so the mean is the same for any thread count. */
enum { UPD_BLOCK = 256 };

int tsne_optimize(double *yio, const tsne_sparse *P0, const tsne_params *p, double *kl_out)
{
	int64_t n = P0->n;
	double eta = tsne_learning_rate(p, n);
	tsne_method method = tsne_resolve_method(p->method, p->theta, n);
	int64_t nblk = (n + UPD_BLOCK - 1) / UPD_BLOCK;
	int64_t ns = 0; /* the padded stream's length: the same in any numbering */
	for (int64_t i = 0; i < n; i++)
		ns += att_padded(P0->row[i + 1] - P0->row[i]);
	tsne_work *w = tsne_work_new(n);
	double *y = malloc((size_t)n * 2 * sizeof *y);
	double *upd = calloc((size_t)n * 2, sizeof *upd);
	double *gain = malloc((size_t)n * 2 * sizeof *gain);
	double *tmp = malloc((size_t)n * 2 * sizeof *tmp);
	double *bsum = malloc((size_t)nblk * 2 * sizeof *bsum); /* (nblk,2) block sums of y */
	int32_t *perm = malloc((size_t)n * sizeof *perm);
	int32_t *inv = malloc((size_t)n * sizeof *inv);
	/* a private copy of P, renumbered along with the points, and its spare (renumber) */
	int64_t nnz = P0->row[n];
	tsne_sparse Q = {n, malloc(((size_t)n + 1) * sizeof *Q.row), malloc((size_t)nnz * sizeof *Q.col),
	                 malloc((size_t)nnz * sizeof *Q.val)};
	tsne_sparse S = {n, malloc(((size_t)n + 1) * sizeof *S.row), malloc((size_t)nnz * sizeof *S.col),
	                 malloc((size_t)nnz * sizeof *S.val)};
	/* P as the attraction reads it (the far part's size depends on the numbering: room for
	 * all of P) */
	att_stream st = {malloc(((size_t)n + 1) * sizeof *st.row), malloc((size_t)ns * sizeof *st.off),
	                 malloc((size_t)ns * sizeof *st.val),          malloc((size_t)n * sizeof *st.scale),
	                 malloc(((size_t)n + 1) * sizeof *st.frow),    malloc((size_t)nnz * sizeof *st.fcol),
	                 malloc((size_t)nnz * sizeof *st.fval)};
	int64_t *fcnt = malloc((size_t)n * sizeof *fcnt);
	float *yf = malloc((size_t)n * 2 * sizeof *yf);
	uint64_t *yp = malloc((size_t)n * sizeof *yp); /* (n) y's (x, y) as floats, one 8-byte load */
	float *att = malloc((size_t)n * 2 * sizeof *att); /* (n,2) sum_j P_ij w_ij (y_i - y_j) */
	int avx2 = att_use_avx2();
	int rc = 0;
	if (!w || !y || !upd || !gain || !tmp || !bsum || !perm || !inv || !st.row || !st.off ||
	    !st.val || !st.scale || !st.frow || !st.fcol || !st.fval || !fcnt || !yf || !yp || !att ||
	    !Q.row || !Q.col || !Q.val || !S.row || !S.col || !S.val) {
		rc = err_set(DN_ENOMEM, "out of memory for the optimiser");
		goto out;
	}
	for (int64_t t = 0; t < 2 * n; t++)
		yf[t] = (float)yio[t];
	if ((rc = tsne_layout_check(yf, n, "start layout")) < 0)
		goto out;
	memcpy(y, yio, (size_t)n * 2 * sizeof *y);
	memcpy(Q.row, P0->row, ((size_t)n + 1) * sizeof *Q.row);
	memcpy(Q.col, P0->col, (size_t)nnz * sizeof *Q.col);
	memcpy(Q.val, P0->val, (size_t)nnz * sizeof *Q.val);
	for (int64_t i = 0; i < n; i++)
		perm[i] = (int32_t)i;
	att_pack(&st, &Q, fcnt);
	for (int64_t t = 0; t < 2 * n; t++)
		gain[t] = 1.0;
	double z = 0, mx = 0, my = 0; /* (mx, my): the mean the last update left, to subtract */
	int last = p->max_iter;
	for (int it = 0; it < p->max_iter; it++) {
		double exag = it < p->exag_iter ? p->exaggeration : 1.0;
		double mom = it < p->mom_switch_iter ? p->momentum : p->final_momentum;
		/* the start layout in Z-order, then every 100 iterations the tree's or grid's */
		if (method != TSNE_EXACT && n >= 4096 && (it == 0 || it % 100 == 50)) {
			if (it == 0)
				morton_order(w->order, (uint64_t *)att, y, n); /* att: n uint64 of room */
			renumber(w, &Q, &S, y, upd, gain, perm, inv, tmp, n);
			att_pack(&st, &Q, fcnt);
		}
		/* The layout centred (the last update's mean subtracted) and its float pairs. */
#pragma omp parallel for schedule(static) if (n > 32768)
		for (int64_t i = 0; i < n; i++) {
			y[2 * i] -= mx, y[2 * i + 1] -= my;
			float xy[2] = {(float)y[2 * i], (float)y[2 * i + 1]};
			memcpy(yp + i, xy, sizeof xy);
		}
		mx = my = 0;
		/* Attraction (sparse P) into att.  For Barnes-Hut in the same parallel region: one
		 * thread builds the quadtree (serial) while the others start on the attraction, then
		 * all walk the tree. */
		tsne_method m = method == TSNE_AUTO ? auto_method(y, n) : method;
		int brc = 0, fail = 0;
#pragma omp parallel if (n > 1000)
		{
			if (m == TSNE_BH) {
#pragma omp single nowait
				brc = tsne_qt_build(w, y, n);
			}
#pragma omp for schedule(dynamic, 1)
			for (int64_t b = 0; b < nblk; b++)
				attract(att, yp, &st, b * UPD_BLOCK,
				        b + 1 < nblk ? (b + 1) * UPD_BLOCK : n, avx2);
			if (m == TSNE_BH && brc == 0) /* brc is final after the loop's barrier */
				tsne_bh_walk_team(w, y, p->theta, &fail);
		}
		if (fail)
			brc = err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists");
		if ((rc = brc) < 0 || (m != TSNE_BH && (rc = repulse(w, y, n, m, p->theta)) < 0))
			goto out;
		z = sum_z(w, n);
		/* KL of the layout the gradient is taken at (before this step). */
		if (p->report && p->report_every > 0 && it > 0 && it % p->report_every == 0) {
			/* exact Z where affordable, so reports and the final figure agree */
			double zr = n <= 2000 && method != TSNE_EXACT ? tsne_exact_z(y, n) : z;
			if (p->report(p->ctx, it, p->max_iter, tsne_kl(y, &Q, zr))) {
				last = it;
				break;
			}
		}
		double rz = 1.0 / z;
		/* One pass over the points: the step (update), the block sums for the mean. */
		int far = 0;
#pragma omp parallel for schedule(dynamic, 1) if (n > 1000) reduction(| : far)
		for (int64_t b = 0; b < nblk; b++) {
			int64_t i0 = b * UPD_BLOCK, i1 = b + 1 < nblk ? i0 + UPD_BLOCK : n;
			far |= update(y, upd, gain, att, w->rep, exag, rz, mom, eta, 2 * i0, 2 * i1);
			double sx = 0, sy = 0;
			for (int64_t i = i0; i < i1; i++)
				sx += y[2 * i], sy += y[2 * i + 1];
			bsum[2 * b] = sx, bsum[2 * b + 1] = sy;
		}
		if (far) {
			rc = err_set(DN_ERANGE,
			             "the optimisation diverged at iteration %d (a position beyond %g): "
			             "lower the learning rate (%g) or the exaggeration (%g)",
			             it + 1, TSNE_LAYOUT_MAX, eta, exag);
			goto out;
		}
		for (int64_t b = 0; b < nblk; b++)
			mx += bsum[2 * b], my += bsum[2 * b + 1];
		mx /= n, my /= n;
		if (p->progress)
			p->progress(p->ctx, it + 1, p->max_iter);
	}
	for (int64_t i = 0; i < n; i++)
		y[2 * i] -= mx, y[2 * i + 1] -= my;
	/* Final KL at the final layout (exact Z when affordable). */
	{
		double kl;
		if (method == TSNE_EXACT || n <= 2000) {
			kl = tsne_kl(y, &Q, tsne_exact_z(y, n));
		} else {
			if ((rc = repulsion(w, y, n, method, p->theta, &z)) < 0)
				goto out;
			kl = tsne_kl(y, &Q, z);
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
	free(y), free(upd), free(gain), free(tmp), free(bsum), free(perm), free(inv), free(yf);
	free(yp), free(att), free(st.row), free(st.off), free(st.val), free(st.scale), free(st.frow);
	free(st.fcol), free(st.fval), free(fcnt);
	free(Q.row), free(Q.col), free(Q.val), free(S.row), free(S.col), free(S.val);
	return rc;
}
