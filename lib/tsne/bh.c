/* bh.c - the repulsive forces of t-SNE by Barnes-Hut (van der Maaten 2014, Sec. 4.2) on a
 * quadtree, with Barnes' (1990) grouping: the points of a small subtree (a "group", at most
 * QT_GROUP points) share one tree walk.  A cell is accepted as a single body for the whole
 * group when its width is less than theta times its distance to the group's bounding box,
 * which bounds the distance to every point of the group, so each point gets at least the
 * accuracy of the per-point criterion.  Near leaves and the group's own points interact point
 * by point (exactly).  The walk yields flat lists of bodies (cells with their counts, and
 * points), which the points of the group then sum over in vector loops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "tsne/internal.h"
#include "tsne/simd.h"

/* Explicit AVX-512 for the sums over a list (x86-64 GCC; chosen at run time from the CPU). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BH_AVX512 1
#include <immintrin.h>
#else
#define BH_AVX512 0
#endif

void tsne_bbox(double box[4], const double *y, int64_t n)
{
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
#pragma omp parallel for schedule(static) if (n > 32768) \
	reduction(min : x0, y0) reduction(max : x1, y1)
	for (int64_t i = 0; i < n; i++) {
		double px = y[2 * i], py = y[2 * i + 1];
		x0 = px < x0 ? px : x0, x1 = px > x1 ? px : x1;
		y0 = py < y0 ? py : y0, y1 = py > y1 ? py : y1;
	}
	box[0] = x0, box[1] = x1, box[2] = y0, box[3] = y1;
}

/* The bits of v spread to the even bit positions. */
static inline uint64_t spread_bits(uint32_t v)
{
	uint64_t x = v;
	x = (x | x << 16) & 0x0000FFFF0000FFFFull;
	x = (x | x << 8) & 0x00FF00FF00FF00FFull;
	x = (x | x << 4) & 0x0F0F0F0F0F0F0F0Full;
	x = (x | x << 2) & 0x3333333333333333ull;
	x = (x | x << 1) & 0x5555555555555555ull;
	return x;
}

/* Stable insertion sort of a[0..m) by the key bits from lo up, giving up (returning 0) once it
 * has moved more than `budget` entries; what it leaves is still in stable order for a sort
 * that follows.  Keys in the previous tree's order are nearly sorted: a few moves a point. */
static int insertion_sort(qscratch *a, int64_t m, int lo, int64_t budget)
{
	for (int64_t t = 1; t < m; t++) {
		uint64_t kv = a[t].k.key >> lo;
		if ((a[t - 1].k.key >> lo) <= kv)
			continue;
		qscratch v = a[t];
		int64_t u = t;
		for (; u > 0 && (a[u - 1].k.key >> lo) > kv; u--)
			a[u] = a[u - 1];
		a[u] = v;
		if ((budget -= t - u) < 0)
			return 0;
	}
	return 1;
}

/* Stable sort of a[0..m) by the key bits [lo, hi), the keys alike above hi: by insertion when
 * they are nearly sorted (or few), else LSD radix (11 bits a pass, one counting pass for all
 * digits; a pass where every key has the same digit is skipped); tmp is as long.  Both give
 * the one stable order.  The result ends in a. */
static void radix_sort(qscratch *a, qscratch *tmp, int64_t m, int lo, int hi)
{
	enum { R = 11, NB = 1 << R };
	int np = (hi - lo + R - 1) / R;
	int32_t cnt[(64 + R - 1) / R][NB]; /* on the stack: a heap block would be trimmed and
	                                    * faulted in again at every build */
	if (np > (int)(sizeof cnt / sizeof *cnt)) { /* not reached: keys have 64 bits */
		insertion_sort(a, m, lo, INT64_MAX);
		return;
	}
	memset(cnt, 0, (size_t)np * sizeof *cnt);
	uint64_t mask = hi - lo >= 64 ? ~0ull : (1ull << (hi - lo)) - 1;
	for (int64_t t = 0; t < m; t++) {
		uint64_t k = (a[t].k.key >> lo) & mask;
		for (int p = 0; p < np; p++)
			cnt[p][(k >> (R * p)) & (NB - 1)]++;
	}
	qscratch *src = a, *dst = tmp;
	for (int p = 0; p < np; p++) {
		int sh = lo + R * p;
		int32_t *c = cnt[p];
		if (c[((src[0].k.key & mask << lo) >> sh) & (NB - 1)] == m)
			continue;
		for (int32_t d = 0, s = 0; d < NB; d++) {
			int32_t v = c[d];
			c[d] = s, s += v;
		}
		for (int64_t t = 0; t < m; t++)
			dst[c[((src[t].k.key & mask << lo) >> sh) & (NB - 1)]++] = src[t];
		qscratch *x = src;
		src = dst, dst = x;
	}
	if (src != a)
		memcpy(a, src, (size_t)m * sizeof *a);
}

/* The build's recursion: its arguments that do not change. */
typedef struct {
	tsne_work *w;
	qscratch *key, *tmp;
	const double *y;   /* (n,2) the layout */
	double *pos;       /* (n,2) the same in the keys' order */
	float width[QT_MAXDEPTH + 1]; /* of the cells at each level */
} qt_ctx;

/* Cell id at `level` for the sorted keys [a, b): its count, children, centre of mass (and the
 * sums into s), groups.  The cells are those of inserting the points one by one into a
 * quadtree whose leaves split beyond QT_LEAF points: a cell is split iff it holds more. */
static int qt_cell(qt_ctx *c, int32_t id, int64_t a, int64_t b, int level, int in_group,
                   double s[2])
{
	tsne_work *w = c->w;
	int64_t cnt = b - a;
	qwalk *nd = &w->walk[id];
	nd->count = (int32_t)cnt, nd->start = (int32_t)a, nd->child = -1;
	nd->width = c->width[level];
	s[0] = s[1] = 0;
	if (cnt == 0) {
		nd->mx = nd->my = 0;
		return 0;
	}
	int leaf = cnt <= QT_LEAF || level >= QT_MAXDEPTH;
	/* a leaf is a group even when it holds more (coincident points at QT_MAXDEPTH) */
	if (!in_group && (cnt <= QT_GROUP || leaf)) {
		w->group[w->ngroup++] = id;
		in_group = 1;
	}
	if (leaf) {
		for (int64_t u = a; u < b; u++)
			s[0] += c->pos[2 * u], s[1] += c->pos[2 * u + 1];
	} else {
		/* the top 16 levels were sorted for all points; deeper ones per cell, when needed */
		if (level == 16) {
			radix_sort(c->key + a, c->tmp, cnt, 0, 32); /* low half: at most 4 passes */
			for (int64_t u = a; u < b; u++) {
				int32_t i = c->key[u].k.i;
				c->pos[2 * u] = c->y[2 * i], c->pos[2 * u + 1] = c->y[2 * i + 1];
			}
		}
		if (w->nnode + 4 > w->cap) {
			int64_t cap = 2 * w->cap;
			qwalk *nw = realloc(w->walk, (size_t)cap * sizeof *nw);
			if (!nw)
				return -1;
			w->walk = nw, w->cap = cap;
			nd = &w->walk[id];
		}
		int32_t first = (int32_t)w->nnode;
		w->nnode += 4;
		nd->child = first;
		int sh = 2 * (QT_MAXDEPTH - 1 - level);
		int64_t lo = a;
		for (int q = 0; q < 4; q++) {
			/* the end of quadrant q: the first key of a larger digit (binary search) */
			int64_t hi = lo, e = b;
			while (hi < e) {
				int64_t mid = hi + (e - hi) / 2;
				if ((int)((c->key[mid].k.key >> sh) & 3) <= q)
					hi = mid + 1;
				else
					e = mid;
			}
			double cs[2];
			if (qt_cell(c, first + q, lo, hi, level + 1, in_group, cs) < 0)
				return -1;
			s[0] += cs[0], s[1] += cs[1];
			lo = hi;
		}
		nd = &w->walk[id];
	}
	nd->mx = s[0] / (double)cnt, nd->my = s[1] / (double)cnt;
	return 0;
}

/* Build the quadtree: Morton keys of the points at 32 levels below the bounding square (in
 * parallel), a stable radix sort of them from the previous tree's order (index order the
 * first time; the same keys give the same order), then the cells top-down over the sorted
 * keys.  Everything is a function of the layout and the previous order: deterministic. */
int tsne_qt_build(tsne_work *w, const double *y, int64_t n)
{
	double bb[4];
	tsne_bbox(bb, y, n);
	double x0 = bb[0], x1 = bb[1], y0 = bb[2], y1 = bb[3];
	double hw = fmax(x1 - x0, y1 - y0) / 2 * (1 + 1e-6) + 1e-12;
	double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
	if (!w->node) {
		w->node = malloc((size_t)n * 3 * sizeof *w->node);
		if (!w->node)
			return err_set(DN_ENOMEM, "out of memory for the quadtree");
	}
	if (!w->walk) {
		w->cap = n / 2 + 64;
		w->walk = malloc((size_t)w->cap * sizeof *w->walk);
		if (!w->walk) {
			w->cap = 0;
			return err_set(DN_ENOMEM, "out of memory for the quadtree");
		}
	}
	qscratch *key = w->node, *tmp = w->node + n, *pos = w->node + 2 * n;
	/* Insert in the previous tree's order (index order the first time): neighbours follow
	 * one another, and points of one key keep that order. */
	if (!w->have_order)
		for (int64_t i = 0; i < n; i++)
			w->order[i] = (int32_t)i;
	double lx = cx - hw, ly = cy - hw, scale = ldexp(1.0, QT_MAXDEPTH) / (2 * hw);
	double top = ldexp(1.0, QT_MAXDEPTH) - 1;
#pragma omp parallel for schedule(static) if (n > 32768)
	for (int64_t t = 0; t < n; t++) {
		int32_t i = w->order[t];
		double ux = (y[2 * i] - lx) * scale, uy = (y[2 * i + 1] - ly) * scale;
		ux = ux < 0 ? 0 : ux > top ? top : ux;
		uy = uy < 0 ? 0 : uy > top ? top : uy;
		key[t].k.key = spread_bits((uint32_t)ux) | spread_bits((uint32_t)uy) << 1;
		key[t].k.i = i;
	}
	radix_sort(key, tmp, n, 32, 64);
#pragma omp parallel for schedule(static) if (n > 32768)
	for (int64_t t = 0; t < n; t++) {
		int32_t i = key[t].k.i;
		pos[t].xy[0] = y[2 * i], pos[t].xy[1] = y[2 * i + 1];
	}
	w->nnode = 1;
	w->ngroup = 0;
	qt_ctx c = {w, key, tmp, y, pos[0].xy, {0}};
	for (int v = 0; v <= QT_MAXDEPTH; v++)
		c.width[v] = (float)ldexp(2 * hw, -v);
	double s[2];
	if (qt_cell(&c, 0, 0, n, 0, 0, s) < 0)
		return err_set(DN_ENOMEM, "out of memory for the quadtree");
	for (int64_t t = 0; t < n; t++)
		w->order[t] = key[t].k.i;
	w->have_order = 1;
	return 0;
}

/* Bodies of one group's interaction list, as arrays for the vector loops.  Single precision,
 * relative to an origin at the group (so near bodies, where the kernel is steep, keep their
 * digits): 16 lanes per AVX-512 operation instead of 8.  Cells (charge = their count) and
 * points (charge 1: the near leaves' and the group's own) in two arrays, so that the sums over
 * points skip the charge's load and product. */
typedef struct {
	float *x, *y, *c; /* c: cells only */
	int64_t n, cap;
} qt_arr;

typedef struct {
	qt_arr cell, pt;
	double ox, oy;
} qt_list;

/* 64-byte aligned arrays (whole AVX-512 vectors), contents kept, room for m more. */
static int qt_arr_grow(qt_arr *l, int64_t m, int charges)
{
	int64_t cap = l->cap ? 2 * l->cap : 1024;
	while (cap < l->n + m)
		cap *= 2;
	float *a[3] = {l->x, l->y, l->c}, *b[3] = {NULL, NULL, NULL};
	for (int k = 0; k < 2 + charges; k++) {
		b[k] = aligned_alloc(64, (size_t)cap * sizeof *b[k]);
		if (!b[k]) {
			while (k--)
				free(b[k]);
			return -1;
		}
		if (l->n)
			memcpy(b[k], a[k], (size_t)l->n * sizeof *b[k]);
		free(a[k]);
	}
	l->x = b[0], l->y = b[1], l->c = b[2];
	l->cap = cap;
	return 0;
}

static void qt_list_free(qt_list *l)
{
	free(l->cell.x), free(l->cell.y), free(l->cell.c);
	free(l->pt.x), free(l->pt.y);
}

/* Inlined into the walk (a call per body cost 5% of a run's CPU); growing is rare. */
static inline int qt_list_push_cell(qt_list *l, double x, double y, double c)
{
	qt_arr *a = &l->cell;
	if (a->n == a->cap && qt_arr_grow(a, 1, 1) < 0)
		return -1;
	a->x[a->n] = (float)(x - l->ox), a->y[a->n] = (float)(y - l->oy), a->c[a->n] = (float)c;
	a->n++;
	return 0;
}

/* (pos[2u] - ox, pos[2u+1] - oy), u < m, to float pairs x[u], y[u]: a vector loop (the
 * scalar one cost a tenth of the walk). */
TSNE_CLONES
static void copy_points(float *restrict x, float *restrict y, const double *restrict pos,
                        int64_t m, double ox, double oy)
{
#pragma omp simd
	for (int64_t u = 0; u < m; u++) {
		x[u] = (float)(pos[2 * u] - ox);
		y[u] = (float)(pos[2 * u + 1] - oy);
	}
}

/* Points [0, m) of pos (n,2) onto the list: one capacity check, one vector loop. */
static inline int qt_list_push_points(qt_list *l, const double *pos, int64_t m)
{
	qt_arr *a = &l->pt;
	if (a->n + m > a->cap && qt_arr_grow(a, m, 0) < 0)
		return -1;
	copy_points(a->x + a->n, a->y + a->n, pos, m, l->ox, l->oy);
	a->n += m;
	return 0;
}

/* One point (px, py) against the list: z = sum_t c_t q_t, f = sum_t c_t q_t^2 (p - l_t),
 * q_t = 1/(1 + |p - l_t|^2), c_t the cells' counts and 1 for points; z and f summed over the
 * cells, then over the points, then added.  The compiler's vector loops, for every ISA. */
static inline __attribute__((always_inline)) void bh_sums_c(const qt_list *l, float px,
                                                            float py, float out[3])
{
	const float *lx = l->cell.x, *ly = l->cell.y, *lc = l->cell.c;
	float z = 0, fx = 0, fy = 0;
#pragma omp simd reduction(+ : z, fx, fy)
	for (int64_t t = 0; t < l->cell.n; t++) {
		float ddx = px - lx[t], ddy = py - ly[t];
		float q = 1.0f / (1.0f + ddx * ddx + ddy * ddy);
		float cq = lc[t] * q;
		z += cq;
		fx += cq * q * ddx;
		fy += cq * q * ddy;
	}
	lx = l->pt.x, ly = l->pt.y;
	float z2 = 0, fx2 = 0, fy2 = 0;
#pragma omp simd reduction(+ : z2, fx2, fy2)
	for (int64_t t = 0; t < l->pt.n; t++) {
		float ddx = px - lx[t], ddy = py - ly[t];
		float q = 1.0f / (1.0f + ddx * ddx + ddy * ddy);
		z2 += q;
		fx2 += q * q * ddx;
		fy2 += q * q * ddy;
	}
	out[0] = z + z2, out[1] = fx + fx2, out[2] = fy + fy2;
}

#if BH_AVX512
/* The same with AVX-512 intrinsics: the reciprocal from vrcp14ps (14 bits, exactly specified
 * by the ISA, so the same on every AVX-512 CPU) and one Newton step (about 23 bits, as
 * accurate as the division) instead of vdivps, fused multiply-adds, the last partial vector
 * masked.  (Without the Newton step the walk took 0.87x the CPU at 70,000 points, but
 * Barnes-Hut no longer tends to the exact sums as theta -> 0: relative errors 1-3e-5, Z off
 * by the estimate's bias, 9e-6.) */
static inline __attribute__((always_inline, target("avx512f,fma"))) void
bh_sums_avx512(const qt_list *l, float px, float py, float out[3])
{
	__m512 vx = _mm512_set1_ps(px), vy = _mm512_set1_ps(py), one = _mm512_set1_ps(1.0f);
	__m512 z = _mm512_setzero_ps(), fx = z, fy = z;
	const float *lx = l->cell.x, *ly = l->cell.y, *lc = l->cell.c;
	int64_t ln = l->cell.n, t = 0; /* a multiple of 16 (padded with charges 0) */
	for (; t < ln; t += 16) {
		__m512 dx = _mm512_sub_ps(vx, _mm512_load_ps(lx + t));
		__m512 dy = _mm512_sub_ps(vy, _mm512_load_ps(ly + t));
		__m512 d = _mm512_fmadd_ps(dx, dx, _mm512_fmadd_ps(dy, dy, one));
		__m512 r = _mm512_rcp14_ps(d);
		r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, one), r); /* r (2 - d r) */
		__m512 cq = _mm512_mul_ps(_mm512_load_ps(lc + t), r);
		z = _mm512_add_ps(z, cq);
		__m512 s = _mm512_mul_ps(cq, r);
		fx = _mm512_fmadd_ps(s, dx, fx);
		fy = _mm512_fmadd_ps(s, dy, fy);
	}
	/* the points in pairs of vectors with two sets of sums: one set alone waits on the
	 * latency of its multiply-adds */
	__m512 z2 = _mm512_setzero_ps(), fx2 = z2, fy2 = z2, z3 = z2, fx3 = z2, fy3 = z2;
	lx = l->pt.x, ly = l->pt.y, ln = l->pt.n;
	for (t = 0; t + 32 <= ln; t += 32) {
		__m512 dx = _mm512_sub_ps(vx, _mm512_load_ps(lx + t));
		__m512 dy = _mm512_sub_ps(vy, _mm512_load_ps(ly + t));
		__m512 ex = _mm512_sub_ps(vx, _mm512_load_ps(lx + t + 16));
		__m512 ey = _mm512_sub_ps(vy, _mm512_load_ps(ly + t + 16));
		__m512 dd = _mm512_fmadd_ps(dx, dx, _mm512_fmadd_ps(dy, dy, one));
		__m512 ee = _mm512_fmadd_ps(ex, ex, _mm512_fmadd_ps(ey, ey, one));
		__m512 r = _mm512_rcp14_ps(dd), u = _mm512_rcp14_ps(ee);
		r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(dd, r, one), r);
		u = _mm512_fmadd_ps(u, _mm512_fnmadd_ps(ee, u, one), u);
		z2 = _mm512_add_ps(z2, r);
		z3 = _mm512_add_ps(z3, u);
		__m512 s = _mm512_mul_ps(r, r), v = _mm512_mul_ps(u, u);
		fx2 = _mm512_fmadd_ps(s, dx, fx2);
		fy2 = _mm512_fmadd_ps(s, dy, fy2);
		fx3 = _mm512_fmadd_ps(v, ex, fx3);
		fy3 = _mm512_fmadd_ps(v, ey, fy3);
	}
	for (; t < ln; t += 16) {
		__mmask16 k = ln - t >= 16 ? 0xFFFF : (__mmask16)((1u << (ln - t)) - 1);
		__m512 dx = _mm512_sub_ps(vx, _mm512_maskz_load_ps(k, lx + t));
		__m512 dy = _mm512_sub_ps(vy, _mm512_maskz_load_ps(k, ly + t));
		__m512 d = _mm512_fmadd_ps(dx, dx, _mm512_fmadd_ps(dy, dy, one));
		__m512 r = _mm512_maskz_rcp14_ps(k, d);
		r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, one), r); /* 0 in masked lanes */
		z2 = _mm512_add_ps(z2, r);
		__m512 s = _mm512_mul_ps(r, r);
		fx2 = _mm512_fmadd_ps(s, dx, fx2);
		fy2 = _mm512_fmadd_ps(s, dy, fy2);
	}
	z = _mm512_add_ps(z, _mm512_add_ps(z2, z3));
	fx = _mm512_add_ps(fx, _mm512_add_ps(fx2, fx3));
	fy = _mm512_add_ps(fy, _mm512_add_ps(fy2, fy3));
	out[0] = _mm512_reduce_add_ps(z);
	out[1] = _mm512_reduce_add_ps(fx);
	out[2] = _mm512_reduce_add_ps(fy);
}
#endif

/* The sums of the group's gc points (positions gp (gc,2), tree order; indices pts) into
 * w->zi and w->rep: one call a group, so that one point's last additions overlap the next
 * point's loop. */
#define BH_GROUP_SUMS(sums)                                                                    \
	for (int32_t a = 0; a < gc; a++) {                                                     \
		int32_t i = pts[a];                                                            \
		float px = (float)(gp[2 * a] - l->ox), py = (float)(gp[2 * a + 1] - l->oy), s[3]; \
		sums(l, px, py, s);                                                            \
		zi[i] = (double)s[0] - 1.0; /* the point itself: w_ii = 1 */                   \
		rep[2 * i] = s[1];                                                             \
		rep[2 * i + 1] = s[2];                                                         \
	}

TSNE_CLONES
static void group_sums_c(const qt_list *l, const double *gp, const int32_t *pts, int32_t gc,
                         double *zi, double *rep)
{
	BH_GROUP_SUMS(bh_sums_c)
}

#if BH_AVX512
__attribute__((target("avx512f,fma"))) static void
group_sums_avx512(const qt_list *l, const double *gp, const int32_t *pts, int32_t gc,
                  double *zi, double *rep)
{
	BH_GROUP_SUMS(bh_sums_avx512)
}
#endif

/* Repulsion for the points of group cell g: w->zi[i] = sum_j w_ij and
 * w->rep[i] = sum_j w_ij^2 (y_i - y_j), j over all other points (approximated by cells). */
static int qt_group_repulse(tsne_work *w, const double *y, int32_t g, double theta2, qt_list *l,
                            int avx512)
{
	const qwalk *node = w->walk, *gn = &node[g];
	const int32_t *pts = w->order + gn->start;
	int32_t gc = gn->count, gs = gn->start;
	const double *pos = tsne_qt_pos(w), *gp = pos + 2 * (int64_t)gs; /* tree order */
	double bx0 = INFINITY, bx1 = -INFINITY, by0 = INFINITY, by1 = -INFINITY;
	for (int32_t a = 0; a < gc; a++) {
		double px = gp[2 * a], py = gp[2 * a + 1];
		bx0 = px < bx0 ? px : bx0, bx1 = px > bx1 ? px : bx1;
		by0 = py < by0 ? py : by0, by1 = py > by1 ? py : by1;
	}
	l->cell.n = l->pt.n = 0;
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
			if (qt_list_push_cell(l, nd->mx, nd->my, nd->count) < 0)
				return err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists");
		} else if (nd->child < 0) {
			/* a near leaf: its points one by one */
			if (qt_list_push_points(l, pos + 2 * (int64_t)nd->start, nd->count) < 0)
				return err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists");
		} else {
			for (int q = 0; q < 4; q++)
				if (node[nd->child + q].count)
					stack[sp++] = nd->child + q;
		}
	}
	/* The group's own points go into the list too: the self term adds exactly 1 to z
	 * (w_ii = 1) and nothing to the force, and is taken off afterwards. */
	if (qt_list_push_points(l, gp, gc) < 0)
		return err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists");
	/* the cells padded to whole vectors with bodies of no charge (at the origin: no
	 * division by 0) */
	while (l->cell.n % 16)
		if (qt_list_push_cell(l, l->ox, l->oy, 0.0) < 0)
			return err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists");
#if BH_AVX512
	if (avx512)
		group_sums_avx512(l, gp, pts, gc, w->zi, w->rep);
	else
#endif
		group_sums_c(l, gp, pts, gc, w->zi, w->rep);
	return 0;
}

int tsne_bh_repulsion(tsne_work *w, const double *y, int64_t n, double theta)
{
	int rc = tsne_qt_build(w, y, n);
	return rc < 0 ? rc : tsne_bh_walk(w, y, n, theta);
}

void tsne_bh_walk_team(tsne_work *w, const double *y, double theta, int *fail)
{
	qt_list l = {0};
	int avx512 = BH_AVX512 && tsne_use_avx512();
#pragma omp for schedule(dynamic, 1)
	for (int64_t t = 0; t < w->ngroup; t++)
		if (qt_group_repulse(w, y, w->group[t], theta * theta, &l, avx512) < 0) {
#pragma omp atomic write
			*fail = 1;
		}
	qt_list_free(&l);
}

int tsne_bh_walk(tsne_work *w, const double *y, int64_t n, double theta)
{
	int fail = 0;
#pragma omp parallel if (n > 1000)
	tsne_bh_walk_team(w, y, theta, &fail);
	return fail ? err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists") : 0;
}
