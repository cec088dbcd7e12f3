/* bh.c - the repulsive forces of t-SNE by Barnes-Hut (van der Maaten 2014, Sec. 4.2) on a
 * quadtree, with Barnes' (1990) grouping: the points of a small subtree (a "group", at most
 * QT_GROUP points) share one tree walk.  A cell is accepted as a single body for the whole
 * group when its width is less than theta times its distance to the group's bounding box,
 * which bounds the distance to every point of the group, so each point gets at least the
 * accuracy of the per-point criterion.  Near leaves and the group's own points interact point
 * by point (exactly).  The walk yields a flat list of bodies, which the points of the group
 * then sum over in a vector loop. */
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
#define BH_PAD 16 /* lists are padded to a multiple of this (one AVX-512 vector of floats) */

static int bh_avx512(void)
{
#if BH_AVX512
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#else
	return 0;
#endif
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

/* Build the quadtree by inserting points in index order (fixed order: deterministic), then
 * number the points depth-first and cut the tree into groups. */
int tsne_qt_build(tsne_work *w, const double *y, int64_t n)
{
	double bb[4];
	tsne_bbox(bb, y, n);
	double x0 = bb[0], x1 = bb[1], y0 = bb[2], y1 = bb[3];
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

/* 64-byte aligned arrays (whole AVX-512 vectors), contents kept. */
static int qt_list_grow(qt_list *l)
{
	int64_t cap = l->cap ? 2 * l->cap : 1024;
	float *a[3] = {l->x, l->y, l->c}, *b[3];
	for (int k = 0; k < 3; k++) {
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

/* Inlined into the walk (a call per body cost 5% of a run's CPU); growing is rare. */
static inline int qt_list_push(qt_list *l, double x, double y, double c)
{
	if (l->n == l->cap && qt_list_grow(l) < 0)
		return -1;
	l->x[l->n] = (float)(x - l->ox), l->y[l->n] = (float)(y - l->oy), l->c[l->n] = (float)c;
	l->n++;
	return 0;
}

/* One point (px, py) against the list: z = sum_t c_t q_t, f = sum_t c_t q_t^2 (p - l_t),
 * q_t = 1/(1 + |p - l_t|^2).  ln is a multiple of BH_PAD (the list is padded with zero
 * charges).  The compiler's vector loop, for every ISA. */
TSNE_CLONES
static void bh_sums_c(const float *lx, const float *ly, const float *lc, int64_t ln, float px,
                      float py, float out[3])
{
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
	out[0] = z, out[1] = fx, out[2] = fy;
}

#if BH_AVX512
/* The same with AVX-512 intrinsics: the reciprocal from vrcp14ps (14 bits, exactly specified
 * by the ISA, so the same on every AVX-512 CPU) and one Newton step (about 23 bits, as
 * accurate as the division for these sums) instead of vdivps, and fused multiply-adds: the
 * division was the loop's bottleneck. */
__attribute__((target("avx512f,fma"))) static void bh_sums_avx512(const float *lx,
                                                                 const float *ly,
                                                                 const float *lc, int64_t ln,
                                                                 float px, float py,
                                                                 float out[3])
{
	__m512 vx = _mm512_set1_ps(px), vy = _mm512_set1_ps(py), one = _mm512_set1_ps(1.0f);
	__m512 z = _mm512_setzero_ps(), fx = z, fy = z;
	for (int64_t t = 0; t < ln; t += 16) {
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
	out[0] = _mm512_reduce_add_ps(z);
	out[1] = _mm512_reduce_add_ps(fx);
	out[2] = _mm512_reduce_add_ps(fy);
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
	/* pad to whole vectors with bodies of no charge (at the origin: no division by 0) */
	while (l->n % BH_PAD)
		if (qt_list_push(l, l->ox, l->oy, 0.0) < 0)
			return err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists");
	const float *lx = l->x, *ly = l->y, *lc = l->c;
	int64_t ln = l->n;
	for (int32_t a = 0; a < gc; a++) {
		int32_t i = pts[a];
		float px = (float)(y[2 * i] - l->ox), py = (float)(y[2 * i + 1] - l->oy), s[3];
#if BH_AVX512
		if (avx512)
			bh_sums_avx512(lx, ly, lc, ln, px, py, s);
		else
#endif
			bh_sums_c(lx, ly, lc, ln, px, py, s);
		w->zi[i] = (double)s[0] - 1.0;
		w->rep[2 * i] = s[1];
		w->rep[2 * i + 1] = s[2];
	}
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
	int avx512 = bh_avx512();
#pragma omp for schedule(dynamic, 1)
	for (int64_t t = 0; t < w->ngroup; t++)
		if (qt_group_repulse(w, y, w->group[t], theta * theta, &l, avx512) < 0) {
#pragma omp atomic write
			*fail = 1;
		}
	free(l.x), free(l.y), free(l.c);
}

int tsne_bh_walk(tsne_work *w, const double *y, int64_t n, double theta)
{
	int fail = 0;
#pragma omp parallel if (n > 1000)
	tsne_bh_walk_team(w, y, theta, &fail);
	return fail ? err_set(DN_ENOMEM, "out of memory for Barnes-Hut lists") : 0;
}
