/* optimize.c - t-SNE's gradient descent: the gradient of KL(P||Q) (attraction from the sparse
 * P, repulsion by the method chosen for the layout), the KL divergence itself, and the
 * optimiser (van der Maaten 2014, Sec. 5: momentum, gains of Jacobs 1988, early
 * exaggeration). */
#include "tsne/tsne.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
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
	w->group = malloc((size_t)n * sizeof *w->group);
	if (!w->rep || !w->zi || !w->order || !w->group) {
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
	free(w->group);
	tsne_fft_free(w->fft);
	free(w);
}

/* AUTO's choice for the layout y: FFT while its grid is small for n
 * (TSNE_FFT_BOXES2_PER_POINT), else Barnes-Hut. */
static tsne_method auto_method_box(const double bb[4], int64_t n)
{
	double nb = tsne_fft_boxes(fmax(bb[1] - bb[0], bb[3] - bb[2]));
	return nb * nb <= TSNE_FFT_BOXES2_PER_POINT * (double)n ? TSNE_FFT : TSNE_BH;
}

static tsne_method auto_method(const double *y, int64_t n)
{
	double bb[4];
	tsne_bbox(bb, y, n);
	return auto_method_box(bb, n);
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
 * per neighbour, yp); the sums of ~100 terms keep ~6 significant digits, far below the
 * Barnes-Hut error.
 *
 * P is kept as a stream whose rows are padded with zero terms (value 0: exactly 0) to a
 * multiple of ATT_PAD entries, so the vector loops have no scalar remainder.  Two forms:
 *
 * - compact, 4 bytes a nonzero, for the AVX-512 kernel (the attraction reads every nonzero at
 *   every iteration, and half the bytes make it 1.1-1.3x faster).  The points are renumbered
 *   in the layout's spatial order (renumber), so most of a row's columns lie near the row's
 *   own index: a column within +-ATT_NEAR of it is stored as a 16-bit offset, its value as a
 *   binary16 (relative error at most 2^-11) of the value over a power of two per row (the
 *   row's largest value then in [2^14, 2^15); below 2^-14 there, 2^-28 of the largest, a
 *   value counts as 0).  The other columns (far: 1-2% at 70,000 digits once renumbered) keep
 *   a 32-bit index and a float value in a list of their own.  The near part in chunks of
 *   ATT_PAD entries, one 64-byte line each: the offsets, then the values.
 * - wide, 8 bytes a nonzero (a 32-bit column and a float), for the portable loop: the
 *   compiler's gathers from 16-bit offsets made it 2-3x slower. */
enum { ATT_PAD = 16, ATT_NEAR = 32767 };

typedef struct {
	int compact;   /* the form */
	int64_t *row;  /* (n+1) a row's first entry (near part), a multiple of ATT_PAD */
	uint16_t *ch;  /* compact: (row[n] / ATT_PAD, 2 ATT_PAD) chunks */
	int32_t *col;  /* wide: (row[n]) columns */
	float *val;    /* wide: (row[n]) values */
	float *scale;  /* compact: (n) a power of two, a row's values are its chunks' times it */
	int64_t *frow; /* compact: (n+1) far part's offsets */
	int32_t *fcol; /* (frow[n]) */
	float *fval;   /* (frow[n]) */
	int64_t cap;   /* room in fcol / fval */
	int64_t *fcnt; /* (n) the pack's far entries per row */
	int32_t *oinv; /* compact: (n) scratch, the renumbering's inverse */
} att_stream;

static int64_t att_padded(int64_t len)
{
	return (len + ATT_PAD - 1) / ATT_PAD * ATT_PAD;
}

/* x in [0, 2^15) as binary16, rounded to nearest (ties away from zero); below 2^-14
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

/* Column j of row t fits a 16-bit offset. */
static inline int att_near(int64_t j, int64_t t)
{
	return (uint64_t)(j - t + ATT_NEAR) <= 2 * ATT_NEAR;
}

static int att_is_near(const att_stream *s, int64_t j, int64_t t)
{
	return !s->compact || att_near(j, t);
}

/* Buffers for P0's stream in either form, their size whatever the numbering (but the far
 * part's, which att_pack grows when it must); 0 or DN_ENOMEM. */
static int att_new(att_stream *s, const tsne_sparse *P0, int compact)
{
	int64_t n = P0->n, nnz = P0->row[n];
	size_t ne = (size_t)(nnz + (ATT_PAD - 1) * n + ATT_PAD); /* padded entries at most */
	memset(s, 0, sizeof *s);
	s->compact = compact;
	s->row = malloc(((size_t)n + 1) * sizeof *s->row);
	s->fcnt = malloc((size_t)n * sizeof *s->fcnt);
	int ok = s->row && s->fcnt;
	if (compact) {
		s->cap = nnz / 16 + 1024;
		size_t b = ne / ATT_PAD * 2 * ATT_PAD * sizeof *s->ch; /* whole 64-byte chunks */
		if ((s->ch = aligned_alloc(64, b)) && b >= ((size_t)4 << 20))
			mem_advise_huge(s->ch, b);
		s->scale = malloc((size_t)n * sizeof *s->scale);
		s->frow = malloc(((size_t)n + 1) * sizeof *s->frow);
		s->fcol = malloc((size_t)s->cap * sizeof *s->fcol);
		s->fval = malloc((size_t)s->cap * sizeof *s->fval);
		s->oinv = malloc((size_t)n * sizeof *s->oinv);
		ok = ok && s->ch && s->scale && s->frow && s->fcol && s->fval && s->oinv;
	} else {
		s->col = mem_alloc_big(ne * sizeof *s->col);
		s->val = mem_alloc_big(ne * sizeof *s->val);
		ok = ok && s->col && s->val;
	}
	return ok ? 0 : err_set(DN_ENOMEM, "out of memory for the optimiser");
}

static void att_free(att_stream *s)
{
	free(s->row), free(s->ch), free(s->col), free(s->val), free(s->scale), free(s->frow);
	free(s->fcol), free(s->fval), free(s->fcnt), free(s->oinv);
}

/* binary16 h (no subnormals, not negative) as float: the bits moved into place and the
 * exponent rebased; 0 stays 0. */
static float att_float(uint16_t h)
{
	uint32_t b = h ? ((uint32_t)h << 13) + 0x38000000u : 0;
	float f;
	memcpy(&f, &b, sizeof f);
	return f;
}

/* Room for nf far entries; 0 or DN_ENOMEM. */
static int att_far_room(att_stream *s, int64_t nf)
{
	if (nf <= s->cap)
		return 0;
	int64_t cap = nf + nf / 4;
	int32_t *c = realloc(s->fcol, (size_t)cap * sizeof *c);
	if (c)
		s->fcol = c;
	float *v = c ? realloc(s->fval, (size_t)cap * sizeof *v) : NULL;
	if (v)
		s->fval = v;
	if (!c || !v)
		return err_set(DN_ENOMEM, "out of memory for the optimiser");
	s->cap = cap;
	return 0;
}

/* Entry v of a row's near part: its offset at c[k], its value at c[k + ATT_PAD]. */
static inline int64_t att_at(int64_t v)
{
	return (int64_t)((uint64_t)v / ATT_PAD * 2 * ATT_PAD + (uint64_t)v % ATT_PAD);
}

/* The stream of P0 (the caller's numbering) in the current numbering: row t is P0's row
 * perm[t], its columns mapped by inv (inv[perm[t]] = t).  0 or DN_ENOMEM. */
static int att_pack(att_stream *s, const tsne_sparse *P0, const int32_t *perm, const int32_t *inv)
{
	int64_t n = P0->n;
	int64_t *fcnt = s->fcnt;
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000)
	for (int64_t t = 0; t < n; t++) {
		int64_t f = 0;
		if (s->compact)
			for (int64_t u = P0->row[perm[t]]; u < P0->row[perm[t] + 1]; u++)
				f += !att_is_near(s, inv[P0->col[u]], t);
		fcnt[t] = f;
	}
	int64_t nf = 0;
	s->row[0] = 0;
	for (int64_t t = 0; t < n; t++) {
		int64_t len = P0->row[perm[t] + 1] - P0->row[perm[t]];
		s->row[t + 1] = s->row[t] + att_padded(len - fcnt[t]);
		if (s->compact)
			s->frow[t] = nf;
		nf += fcnt[t];
	}
	int rc;
	if (s->compact && (s->frow[n] = nf, rc = att_far_room(s, nf)) < 0)
		return rc;
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000)
	for (int64_t t = 0; t < n; t++) {
		const int64_t u0 = P0->row[perm[t]], u1 = P0->row[perm[t] + 1];
		int64_t v = s->row[t], f = s->compact ? s->frow[t] : 0;
		if (!s->compact) {
			for (int64_t u = u0; u < u1; u++, v++) {
				s->col[v] = inv[P0->col[u]];
				s->val[v] = (float)P0->val[u];
			}
			for (; v < s->row[t + 1]; v++)
				s->col[v] = (int32_t)t, s->val[v] = 0;
			continue;
		}
		double mx = 0;
		for (int64_t u = u0; u < u1; u++)
			mx = fmax(mx, P0->val[u]);
		int e;
		frexp(mx, &e); /* mx = m 2^e, m in [0.5, 1) */
		double sc = mx > 0 ? ldexp(1, e - 15) : 1; /* mx / sc in [2^14, 2^15) */
		double rs = 1 / sc; /* exact: a power of two */
		s->scale[t] = (float)sc;
		uint16_t *c = s->ch + s->row[t] * 2; /* entry v at c[v / P * 2P + v % P] */
		for (int64_t u = u0; u < u1; u++) {
			int32_t j = inv[P0->col[u]];
			if (att_is_near(s, j, t)) {
				int64_t k = att_at(v - s->row[t]);
				c[k] = (uint16_t)(int16_t)(j - t);
				c[k + ATT_PAD] = att_half(P0->val[u] * rs);
				v++;
			} else {
				s->fcol[f] = j;
				s->fval[f++] = (float)P0->val[u];
			}
		}
		for (; v < s->row[t + 1]; v++) {
			int64_t k = att_at(v - s->row[t]);
			c[k] = c[k + ATT_PAD] = 0;
		}
	}
	return 0;
}

/* The compact stream d: the compact stream s renumbered, new point t being s's point
 * order[t] (oinv the inverse), built from s rather than from P (a renumbering keeps most
 * points near their old places, so s is read nearly in order and its columns map through
 * nearby entries of oinv; from P, rows and column lookups are all over memory, 3-4x the
 * time).  A row keeps its scale; an entry moving between the near and far parts keeps its
 * value to binary16 precision (far -> near rounds the float; near -> far is exact); the zero
 * terms (padding, and values that binary16 holds as 0) are dropped.  Deterministic: a
 * function of s and the order.  0 or DN_ENOMEM. */
static int att_repack(att_stream *d, const att_stream *s, const int32_t *order,
                      const int32_t *oinv, int64_t n)
{
	int64_t *ncnt = d->fcnt, *fcnt = s->fcnt; /* per new row: near, far entries */
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000)
	for (int64_t t = 0; t < n; t++) {
		int64_t r = order[t], nn = 0, nf = 0;
		for (int64_t k = s->row[r] / ATT_PAD; k < s->row[r + 1] / ATT_PAD; k++) {
			const uint16_t *c = s->ch + k * 2 * ATT_PAD;
			for (int u = 0; u < ATT_PAD; u++) {
				int live = c[ATT_PAD + u] != 0;
				int far = !att_near(oinv[r + (int16_t)c[u]], t);
				nf += live & far, nn += live & !far;
			}
		}
		for (int64_t u = s->frow[r]; u < s->frow[r + 1]; u++) {
			int far = !att_near(oinv[s->fcol[u]], t);
			nf += far, nn += !far;
		}
		ncnt[t] = nn, fcnt[t] = nf;
	}
	int64_t nf = 0;
	d->row[0] = 0;
	for (int64_t t = 0; t < n; t++) {
		d->row[t + 1] = d->row[t] + att_padded(ncnt[t]);
		d->frow[t] = nf;
		nf += fcnt[t];
	}
	d->frow[n] = nf;
	int rc = att_far_room(d, nf);
	if (rc < 0)
		return rc;
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000)
	for (int64_t t = 0; t < n; t++) {
		int64_t r = order[t], v = 0, f = d->frow[t];
		float sc = s->scale[r], rs = 1 / sc;
		uint16_t *dc = d->ch + d->row[t] * 2;
		d->scale[t] = sc;
		for (int64_t k = s->row[r] / ATT_PAD; k < s->row[r + 1] / ATT_PAD; k++) {
			const uint16_t *c = s->ch + k * 2 * ATT_PAD;
			for (int u = 0; u < ATT_PAD; u++) {
				uint16_t h = c[ATT_PAD + u];
				int32_t j = oinv[r + (int16_t)c[u]];
				if (!h)
					continue;
				if (att_near(j, t)) {
					int64_t at = att_at(v++);
					dc[at] = (uint16_t)(int16_t)(j - t), dc[at + ATT_PAD] = h;
				} else {
					d->fcol[f] = j, d->fval[f++] = att_float(h) * sc;
				}
			}
		}
		for (int64_t u = s->frow[r]; u < s->frow[r + 1]; u++) {
			int32_t j = oinv[s->fcol[u]];
			if (att_near(j, t)) {
				int64_t at = att_at(v++);
				dc[at] = (uint16_t)(int16_t)(j - t), dc[at + ATT_PAD] = att_half(s->fval[u] * rs);
			} else {
				d->fcol[f] = j, d->fval[f++] = s->fval[u];
			}
		}
		for (; v < d->row[t + 1] - d->row[t]; v++) {
			int64_t at = att_at(v);
			dc[at] = dc[at + ATT_PAD] = 0;
		}
	}
	return 0;
}

/* Row i's far part, added to the near part's sums (ax, ay) times the row's scale. */
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

/* att (n,2) rows i0..i1 = sum_j P_ij w_ij (y_i - y_j).  The portable loop (the wide form): the compiler's
 * gathers from scalar loads, the split of each pair by a shift kept in vector registers. */
TSNE_CLONES
static void attract_rows(float *att, const uint64_t *yp, const att_stream *s, int64_t i0,
                         int64_t i1)
{
	for (int64_t i = i0; i < i1; i++) {
		float pi[2];
		memcpy(pi, yp + i, sizeof pi);
		float ax = 0, ay = 0, px = pi[0], py = pi[1];
		const int32_t *col = s->col;
		const float *val = s->val;
#pragma omp simd reduction(+ : ax, ay)
		for (int64_t t = s->row[i]; t < s->row[i + 1]; t++) {
			uint64_t v = yp[col[t]];
			uint32_t ux = (uint32_t)v, uy = (uint32_t)(v >> 32); /* little-endian: x first */
			float x, yv;
			memcpy(&x, &ux, sizeof x), memcpy(&yv, &uy, sizeof yv);
			float dx = px - x, dy = py - yv;
			float q = val[t] / (1.0f + dx * dx + dy * dy);
			ax += q * dx;
			ay += q * dy;
		}
		att[2 * i] = ax;
		att[2 * i + 1] = ay;
	}
}

#if defined(__x86_64__) && defined(__GNUC__)
#define ATT_AVX512 1
#include <immintrin.h>

/* Eight (x, y) pairs at 16-bit offsets from yi, one 8-byte load each: broadcasts from memory
 * merged lane by lane under masks (in two chains of four, then one blend).  Inserting scalar
 * loads costs more shuffles; the gather instruction was 2.5x slower here. */
#define ATT_LD(k) _mm_loadl_epi64((const __m128i *)(yi + c[k]))
__attribute__((target("avx512f"))) static inline __m512i att_pairs8(const long long *yi,
                                                                    const int16_t *c)
{
	__m512i a = _mm512_broadcastq_epi64(ATT_LD(0)), b = _mm512_broadcastq_epi64(ATT_LD(4));
	a = _mm512_mask_broadcastq_epi64(a, 0x02, ATT_LD(1));
	b = _mm512_mask_broadcastq_epi64(b, 0x20, ATT_LD(5));
	a = _mm512_mask_broadcastq_epi64(a, 0x04, ATT_LD(2));
	b = _mm512_mask_broadcastq_epi64(b, 0x40, ATT_LD(6));
	a = _mm512_mask_broadcastq_epi64(a, 0x08, ATT_LD(3));
	b = _mm512_mask_broadcastq_epi64(b, 0x80, ATT_LD(7));
	return _mm512_mask_blend_epi64(0xf0, a, b);
}
#undef ATT_LD

/* The near part with AVX-512 written out: a chunk a step, split into x and y by two
 * permutes, FMAs; a row's lanes summed in a fixed order. */
__attribute__((target("avx512f"))) static void attract_rows_avx512(float *att, const uint64_t *yp,
                                                                   const att_stream *s,
                                                                   int64_t i0, int64_t i1)
{
	const __m512i ix = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
	const __m512i iy = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
	const __m512 one = _mm512_set1_ps(1.0f);
	for (int64_t i = i0; i < i1; i++) {
		float pi[2];
		memcpy(pi, yp + i, sizeof pi);
		__m512 px = _mm512_set1_ps(pi[0]), py = _mm512_set1_ps(pi[1]);
		__m512 ax = _mm512_setzero_ps(), ay = _mm512_setzero_ps();
		const long long *yi = (const long long *)(yp + i);
		for (int64_t k = s->row[i] / ATT_PAD; k < s->row[i + 1] / ATT_PAD; k++) {
			const uint16_t *ck = s->ch + k * 2 * ATT_PAD;
			const int16_t *c = (const int16_t *)ck;
			__m512i g0 = att_pairs8(yi, c), g1 = att_pairs8(yi, c + 8);
			__m512 dx = _mm512_sub_ps(px, _mm512_castsi512_ps(_mm512_permutex2var_epi32(g0, ix, g1)));
			__m512 dy = _mm512_sub_ps(py, _mm512_castsi512_ps(_mm512_permutex2var_epi32(g0, iy, g1)));
			__m512 d = _mm512_fmadd_ps(dy, dy, _mm512_fmadd_ps(dx, dx, one));
			__m512 v = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(ck + ATT_PAD)));
			__m512 q = _mm512_div_ps(v, d);
			ax = _mm512_fmadd_ps(q, dx, ax);
			ay = _mm512_fmadd_ps(q, dy, ay);
		}
		att_far(att + 2 * i, yp, s, i, pi[0], pi[1], _mm512_reduce_add_ps(ax),
		        _mm512_reduce_add_ps(ay));
	}
}
#endif

static void attract(float *att, const uint64_t *yp, const att_stream *s, int64_t i0, int64_t i1,
                    int avx512)
{
#ifdef ATT_AVX512
	if (avx512) {
		attract_rows_avx512(att, yp, s, i0, i1);
		return;
	}
#endif
	(void)avx512;
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
 * the layout (and so their P-neighbours) are close in memory.  perm maps the current
 * numbering to the caller's, inv the other way; the attraction's stream is rebuilt in the
 * new numbering: the compact one from itself into *spare, then the two swapped, the wide one
 * from the caller's P0.  Deterministic: the order is a function of the layout.  tmp: (n,2)
 * scratch. */
static int renumber(tsne_work *w, att_stream *s, att_stream *spare, const tsne_sparse *P0,
                    double *y, double *upd, double *gain, int32_t *perm, int32_t *inv,
                    double *tmp, int64_t n, int packed)
{
	const int32_t *order = w->order;
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
	for (int64_t t = 0; t < n; t++)
		inv[perm[t]] = (int32_t)t;
	w->have_order = 0; /* index order is now the tree order */
	if (!s->compact || !packed)
		return att_pack(s, P0, perm, inv);
	for (int64_t t = 0; t < n; t++)
		s->oinv[order[t]] = (int32_t)t;
	int rc = att_repack(spare, s, order, s->oinv, n);
	att_stream a = *s;
	*s = *spare, *spare = a;
	return rc;
}

/* KL of the layout y (current numbering) against P0 (the caller's): y put back in the
 * caller's order into tmp (n,2). */
static double kl_at(const double *y, const tsne_sparse *P0, const int32_t *perm, double *tmp,
                    double z)
{
	for (int64_t t = 0; t < P0->n; t++)
		tmp[2 * perm[t]] = y[2 * t], tmp[2 * perm[t] + 1] = y[2 * t + 1];
	return tsne_kl(tmp, P0, z);
}

/* One step for coordinates t0..t1 of the flattened (n,2) arrays: gradient (Eq. 5 of vdM
 * 2014), gains (Jacobs 1988: grow where the gradient pushes against the current motion),
 * momentum step, y moved in place (att and rep hold all that other points needed of y) and
 * the mean (cx, cy) the last step left subtracted, the new position's floats written to yp
 * for the next attraction.  Nonzero when a position left +-TSNE_LAYOUT_MAX (or is NaN). */
TSNE_CLONES
static int update(double *y, uint64_t *yp, double *upd, double *gain, const float *att,
                  const double *rep, double exag, double rz, double mom, double eta, double cx,
                  double cy, int64_t t0, int64_t t1)
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
		double yt = (y[t] - (t & 1 ? cy : cx)) + u;
		y[t] = yt;
		float f = (float)yt;
		memcpy((char *)yp + t * sizeof f, &f, sizeof f); /* x, y: the pair little-endian */
		far |= !(fabs(yt) <= TSNE_LAYOUT_MAX);
	}
	return far;
}

/* y (n,2) as floats into yf, and so into yp's pairs (one 8-byte word a point). */
static void float_pairs(uint64_t *yp, float *yf, const double *y, int64_t n)
{
	for (int64_t t = 0; t < 2 * n; t++)
		yf[t] = (float)y[t];
	memcpy(yp, yf, (size_t)n * sizeof *yp);
}

/* Points of one block of the update: the block's sums of the new positions are added in
 * block order, so the mean is the same for any thread count; so are its bounding boxes
 * (min and max are exact). */
enum { UPD_BLOCK = 256 };

int tsne_optimize(double *yio, const tsne_sparse *P0, const tsne_params *p, double *kl_out)
{
	int64_t n = P0->n;
	double eta = tsne_learning_rate(p, n);
	tsne_method method = tsne_resolve_method(p->method, p->theta, n);
	int64_t nblk = (n + UPD_BLOCK - 1) / UPD_BLOCK;
	tsne_work *w = tsne_work_new(n);
	double *y = malloc((size_t)n * 2 * sizeof *y);
	double *upd = calloc((size_t)n * 2, sizeof *upd);
	double *gain = malloc((size_t)n * 2 * sizeof *gain);
	double *tmp = malloc((size_t)n * 2 * sizeof *tmp);
	double *bsum = malloc((size_t)nblk * 6 * sizeof *bsum); /* (nblk,6) per block of y: sums,
	                                                          * xmin, xmax, ymin, ymax */
	int32_t *perm = malloc((size_t)n * sizeof *perm);
	int32_t *inv = malloc((size_t)n * sizeof *inv);
	att_stream st, sp; /* P as the attraction reads it, and the compact form's spare */
	memset(&sp, 0, sizeof sp);
	float *yf = malloc((size_t)n * 2 * sizeof *yf);
	uint64_t *yp = malloc((size_t)n * sizeof *yp); /* (n) y's (x, y) as floats, one 8-byte load */
	float *att = malloc((size_t)n * 2 * sizeof *att); /* (n,2) sum_j P_ij w_ij (y_i - y_j) */
	int avx512 = 0;
#ifdef ATT_AVX512
	avx512 = tsne_use_avx512();
#endif
	int rc = att_new(&st, P0, avx512);
	if (rc < 0 || (avx512 && (rc = att_new(&sp, P0, 1)) < 0))
		goto out;
	if (!w || !y || !upd || !gain || !tmp || !bsum || !perm || !inv || !yf || !yp || !att) {
		rc = err_set(DN_ENOMEM, "out of memory for the optimiser");
		goto out;
	}
	memcpy(y, yio, (size_t)n * 2 * sizeof *y);
	float_pairs(yp, yf, y, n);
	if ((rc = tsne_layout_check(yf, n, "start layout")) < 0)
		goto out;
	for (int64_t i = 0; i < n; i++)
		perm[i] = inv[i] = (int32_t)i;
	/* Renumbering (points in the repulsion's tree order, so that a row's columns lie near it)
	 * starts at iteration 1, from the order iteration 0's repulsion left.  Until then the
	 * caller's numbering, where most columns are far from their row (94% at 1,000,000 points):
	 * packed in that numbering the compact stream's far list would take 1.2 GB there.  So
	 * iteration 0's attraction is taken from P0 directly and P is packed at iteration 1. */
	int reorder = method != TSNE_EXACT && n >= 4096, packed = !reorder;
	if (packed && (rc = att_pack(&st, P0, perm, inv)) < 0)
		goto out;
	for (int64_t t = 0; t < 2 * n; t++)
		gain[t] = 1.0;
	/* (mx, my): the mean the last update left, subtracted by the next; bb: the layout's box */
	double z = 0, mx = 0, my = 0, bb[4];
	tsne_bbox(bb, y, n);
	int last = p->max_iter;
	for (int it = 0; it < p->max_iter; it++) {
		double exag = it < p->exag_iter ? p->exaggeration : 1.0;
		double mom = it < p->mom_switch_iter ? p->momentum : p->final_momentum;
		if (reorder && (it == 1 || it % 100 == 50)) {
			if ((rc = renumber(w, &st, &sp, P0, y, upd, gain, perm, inv, tmp, n, packed)) < 0)
				goto out;
			packed = 1;
			float_pairs(yp, yf, y, n);
		}
		/* Attraction (sparse P) into att.  For Barnes-Hut in the same parallel region: one
		 * thread builds the quadtree (serial) while the others start on the attraction, then
		 * all walk the tree. */
		tsne_method m = method == TSNE_AUTO ? auto_method_box(bb, n) : method;
		int brc = 0, fail = 0;
#pragma omp parallel if (n > 1000)
		{
			if (m == TSNE_BH) {
#pragma omp single nowait
				brc = tsne_qt_build(w, y, n);
			}
#pragma omp for schedule(dynamic, 1)
			for (int64_t b = 0; b < nblk; b++) {
				int64_t i0 = b * UPD_BLOCK, i1 = b + 1 < nblk ? i0 + UPD_BLOCK : n;
				if (packed) {
					attract(att, yp, &st, i0, i1, avx512);
					continue;
				}
				for (int64_t i = i0; i < i1; i++) { /* iteration 0, caller's numbering */
					double a[2];
					attraction(a, y, P0, i);
					att[2 * i] = (float)a[0], att[2 * i + 1] = (float)a[1];
				}
			}
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
			if (p->report(p->ctx, it, p->max_iter, kl_at(y, P0, perm, tmp, zr))) {
				last = it;
				break;
			}
		}
		double rz = 1.0 / z;
		/* One pass over the points: the step (update, the last one's mean subtracted: the
		 * layout stays centred within one step's drift, which no force depends on), the
		 * float pairs, and per block the sums for the mean and the bounding box. */
		int far = 0;
#pragma omp parallel for schedule(dynamic, 1) if (n > 1000) reduction(| : far)
		for (int64_t b = 0; b < nblk; b++) {
			int64_t i0 = b * UPD_BLOCK, i1 = b + 1 < nblk ? i0 + UPD_BLOCK : n;
			far |= update(y, yp, upd, gain, att, w->rep, exag, rz, mom, eta, mx, my, 2 * i0,
			              2 * i1);
			double sx = 0, sy = 0, x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
			for (int64_t i = i0; i < i1; i++) {
				double px = y[2 * i], py = y[2 * i + 1];
				sx += px, sy += py;
				x0 = px < x0 ? px : x0, x1 = px > x1 ? px : x1;
				y0 = py < y0 ? py : y0, y1 = py > y1 ? py : y1;
			}
			double *o = bsum + 6 * b;
			o[0] = sx, o[1] = sy, o[2] = x0, o[3] = x1, o[4] = y0, o[5] = y1;
		}
		if (far) {
			rc = err_set(DN_ERANGE,
			             "the optimisation diverged at iteration %d (a position beyond %g): "
			             "lower the learning rate (%g) or the exaggeration (%g)",
			             it + 1, TSNE_LAYOUT_MAX, eta, exag);
			goto out;
		}
		mx = my = 0;
		bb[0] = bb[2] = INFINITY, bb[1] = bb[3] = -INFINITY;
		for (int64_t b = 0; b < nblk; b++) {
			const double *o = bsum + 6 * b;
			mx += o[0], my += o[1];
			bb[0] = fmin(bb[0], o[2]), bb[1] = fmax(bb[1], o[3]);
			bb[2] = fmin(bb[2], o[4]), bb[3] = fmax(bb[3], o[5]);
		}
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
			kl = kl_at(y, P0, perm, tmp, tsne_exact_z(y, n));
		} else {
			if ((rc = repulsion(w, y, n, method, p->theta, &z)) < 0)
				goto out;
			kl = kl_at(y, P0, perm, tmp, z);
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
	free(yp), free(att), att_free(&st), att_free(&sp);
	return rc;
}
