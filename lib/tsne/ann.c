/* ann.c - approximate k nearest neighbours for t-SNE: a forest of random-projection trees
 * (Dasgupta & Freund 2008; the trees of Annoy and PyNNDescent) whose leaves are joined all
 * pairs, then rounds of neighbour-of-neighbour refinement (the local join of NN-descent, Dong,
 * Charikar & Li 2011, done Jacobi-style so threads cannot change the result).  See tsne.h. */
#include "tsne/tsne.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/rng.h"
#include "tsne/heap.h"
#include "tsne/simd.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void tsne_ann_params_default(tsne_ann_params *a)
{
	a->trees = 8;
	a->leaf = 0;
	a->rounds = 3;
	a->expand = 0;
	a->from = 0;
	a->seed = 0;
}

int tsne_ann_expand(const tsne_ann_params *a, int64_t n)
{
	if (a->expand > 0)
		return a->expand;
	return n < TSNE_ANN_WIDE_N ? 12 : 16;
}

/* The neighbours whose lists a point looks at: the nearest two thirds of the k below
 * TSNE_ANN_WIDE_N points (where that finds as many as all k did before the reverse offers,
 * with fewer distances), all k from there (PCA 50 of MNIST, bench/tsne_knn.c, 2,000 queries, k 90: 0.987 at 70,000
 * with 60 of 12 entries, 0.980 with 45; 0.989 at 200,000 with all 90 of 16, 0.980 with 60). */
static int ann_from(const tsne_ann_params *a, int64_t n, int k)
{
	int f = a->from > 0 ? a->from : n < TSNE_ANN_WIDE_N ? (2 * k + 2) / 3 : k;
	return f < k ? f : k;
}

/* The lanes of acc summed in order after s (lane 0's sum and what follows it). */
typedef float ann_f16 __attribute__((vector_size(64)));
static inline float lanes_sum(float s, const ann_f16 *acc)
{
#pragma GCC unroll 16
	for (int l = 1; l < 16; l++)
		s += (*acc)[l];
	return s;
}

/* Dot product and squared distance in float: 16 lane sums over the whole blocks of 16
 * coordinates, the rest added to lane 0, then the lanes summed in order (the order GCC's
 * vectorised loop had on AVX-512, written out in registers: that loop went through memory
 * and cost more than the sums).  GCC's vector extension: the same sums for any instruction
 * set. */
static inline float ann_dot(const float *a, const float *b, int d)
{
	ann_f16 acc = {0};
	int t = 0;
	for (; t + 16 <= d; t += 16) {
		ann_f16 va, vb;
		memcpy(&va, a + t, sizeof va);
		memcpy(&vb, b + t, sizeof vb);
		acc += va * vb;
	}
	float s = acc[0];
	for (; t < d; t++)
		s += a[t] * b[t];
	return lanes_sum(s, &acc);
}

static inline float dist2f(const float *a, const float *b, int d)
{
	ann_f16 acc = {0};
	int t = 0;
	for (; t + 16 <= d; t += 16) {
		ann_f16 va, vb;
		memcpy(&va, a + t, sizeof va);
		memcpy(&vb, b + t, sizeof vb);
		ann_f16 df = va - vb;
		acc += df * df;
	}
	float s = acc[0];
	for (; t < d; t++) {
		float df = a[t] - b[t];
		s += df * df;
	}
	return lanes_sum(s, &acc);
}

/* The lists are sorted arrays of keys: a distance's bits above its index.  Distances are >= 0
 * (or the empty place's FLT_MAX), so the keys' integer order is the total order (distance,
 * index), and a list is kept sorted by vector compares and one move instead of a heap (whose
 * sifts branch unpredictably and which had to be sorted again every round). */
typedef uint64_t ann_key;
#define ANN_EMPTY (((ann_key)0x7f7fffffu << 32) | (uint32_t)INT32_MAX) /* FLT_MAX, INT32_MAX */

static inline ann_key ann_mkkey(float d, int32_t j)
{
	uint32_t b;
	memcpy(&b, &d, sizeof b);
	return (ann_key)b << 32 | (uint32_t)j;
}

static inline float key_d(ann_key e)
{
	uint32_t b = (uint32_t)(e >> 32);
	float d;
	memcpy(&d, &b, sizeof d);
	return d;
}

static inline int32_t key_j(ann_key e)
{
	return (int32_t)(uint32_t)e;
}

/* Eight keys at a time (GCC's vector extension: one AVX-512 compare, or four SSE2 ones). */
typedef uint64_t ann_v8 __attribute__((vector_size(64)));

/* *pos: the number of entries of the sorted list h (k) before e; returns whether e's index is
 * among them (all k compared, no early exit). */
static inline int list_scan(const ann_key *h, int k, ann_key e, int *pos)
{
	ann_v8 ev = (ann_v8){0} + e, cnt = {0}, hit = {0};
	int t = 0;
	for (; t + 8 <= k; t += 8) {
		ann_v8 v;
		memcpy(&v, h + t, sizeof v);
		cnt -= (ann_v8)(v < ev);
		hit |= (ann_v8)(((v ^ ev) & 0xffffffffu) == 0);
	}
	uint64_t p = 0, seen = 0;
	for (int u = 0; u < 8; u++)
		p += cnt[u], seen |= hit[u];
	for (; t < k; t++) {
		p += h[t] < e;
		seen |= (uint32_t)h[t] == (uint32_t)e;
	}
	*pos = (int)p;
	return seen != 0;
}

/* Put e into the sorted list h (k) at p (where it ranks), shifting the rest down by one; its
 * flags f (k, or NULL) along, e's set. */
static inline void list_put(ann_key *h, uint8_t *f, int k, int p, ann_key e)
{
	memmove(h + p + 1, h + p, (size_t)(k - 1 - p) * sizeof *h);
	h[p] = e;
	if (f) {
		memmove(f + p + 1, f + p, (size_t)(k - 1 - p));
		f[p] = 1;
	}
}

/* Put e into the sorted list h (k; flags f or NULL), e better than its last and its index not
 * in it. */
static inline void list_insert(ann_key *h, uint8_t *f, int k, ann_key e)
{
	int p;
	list_scan(h, k, e, &p);
	list_put(h, f, k, p, e);
}

/* Offer e: kept when better than the last and its index not already there.  The k best under
 * the total order do not depend on the order of the offers. */
static inline void list_offer_new(ann_key *h, uint8_t *f, int k, ann_key e)
{
	if (e >= h[k - 1])
		return;
	int p;
	if (list_scan(h, k, e, &p))
		return;
	list_put(h, f, k, p, e);
}

/* ---- random-projection trees ---- */

/* Move the m smallest of key[0..c) (with their ids) to the front (quickselect, pivots from the
 * middle: deterministic). */
static void select_front(float *key, int32_t *id, int64_t c, int64_t m)
{
	int64_t lo = 0, hi = c - 1;
	while (lo < hi) {
		float piv = key[lo + (hi - lo) / 2];
		int64_t a = lo, b = hi;
		while (a <= b) {
			while (key[a] < piv)
				a++;
			while (key[b] > piv)
				b--;
			if (a <= b) {
				float tk = key[a];
				key[a] = key[b], key[b] = tk;
				int32_t ti = id[a];
				id[a] = id[b], id[b] = ti;
				a++, b--;
			}
		}
		if (m <= b)
			hi = b;
		else if (m >= a)
			lo = a;
		else
			break;
	}
}

/* Split idx[0..cnt) into leaves of at most `leaf` points, appending each leaf's start to
 * starts (in increasing order: depth first, left first).  A node's direction is the difference
 * of two of its points drawn from r, and it is cut at the median of the projections, so the
 * tree is balanced whatever the data (duplicates included).  One stream r per tree: the tree
 * depends on the seed only. */
TSNE_CLONES
static void rp_tree(const float *x, int d, int32_t *idx, int64_t cnt, int leaf, rng_t *r,
                    int64_t *starts, int64_t *nleaf, float *proj, float *normal)
{
	int64_t stk_s[128], stk_c[128];
	int sp = 0;
	stk_s[sp] = 0, stk_c[sp++] = cnt;
	while (sp) {
		sp--;
		int64_t s = stk_s[sp], c = stk_c[sp];
		if (c <= leaf) {
			starts[(*nleaf)++] = s;
			continue;
		}
		int32_t *id = idx + s;
		int32_t a = id[rng_below(r, (uint32_t)c)], b = id[rng_below(r, (uint32_t)c)];
		const float *xa = x + (int64_t)a * d, *xb = x + (int64_t)b * d;
		for (int t = 0; t < d; t++)
			normal[t] = xa[t] - xb[t];
		for (int64_t t = 0; t < c; t++)
			proj[t] = ann_dot(normal, x + (int64_t)id[t] * d, d);
		int64_t half = c / 2;
		select_front(proj, id, c, half);
		stk_s[sp] = s + half, stk_c[sp++] = c - half;
		stk_s[sp] = s, stk_c[sp++] = half;
	}
}

/* All pairs of one leaf (ids id[0..c)) into their lists: the leaf's rows gathered into xl,
 * their dot products by one single-threaded sgemm into g (c x c), squared distances
 * |a|^2 + |b|^2 - 2 a.b (the ranking only: the kept neighbours' distances are computed again
 * at the end).  In the first tree the lists are empty and a point is in one leaf, so no index
 * can be offered twice. */
TSNE_CLONES
static void leaf_join(ann_key *list, int k, const float *x, int d, const int32_t *id, int64_t c,
                      float *xl, float *g, float *sq, int first)
{
	for (int64_t a = 0; a < c; a++) {
		memcpy(xl + a * d, x + (int64_t)id[a] * d, (size_t)d * sizeof *xl);
		sq[a] = ann_dot(xl + a * d, xl + a * d, d);
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c, (int)c, d, 1.0f, xl, d, xl, d,
	            0.0f, g, (int)c);
	for (int64_t a = 0; a < c; a++) {
		ann_key *ha = list + (int64_t)id[a] * k;
		const float *ga = g + a * c;
		for (int64_t b = a + 1; b < c; b++) {
			float dd = sq[a] + sq[b] - 2.0f * ga[b];
			dd = dd > 0 ? dd : 0;
			ann_key *hb = list + (int64_t)id[b] * k;
			ann_key ea = ann_mkkey(dd, id[b]), eb = ann_mkkey(dd, id[a]);
			if (first) {
				if (ea < ha[k - 1])
					list_insert(ha, NULL, k, ea);
				if (eb < hb[k - 1])
					list_insert(hb, NULL, k, eb);
			} else {
				list_offer_new(ha, NULL, k, ea);
				list_offer_new(hb, NULL, k, eb);
			}
		}
	}
}

/* The new-entry flag of a refinement table entry (the ids are below INT32_MAX, the empty
 * place's mark, which never carries it). */
#define ANN_NEW 0x80000000u

/* A distance computed by a point to candidate c that beats the worst of c's list (a
 * reverse offer: the point goes to c's new list after the round). */
typedef struct {
	int32_t c;
	float d;
} ann_rev;

/* One thread's reverse offers of a round, grouped by the point that made them: src[r] made
 * a[end[r - 1] .. end[r]) (from 0 for r = 0); grown as needed, fail when they could not be. */
typedef struct {
	ann_rev *a;
	int32_t *src;
	int64_t *end;
	int64_t n, cap, nr, rcap;
	int fail;
} ann_revbuf;

/* Make room for one more in *p (cap, each sz bytes); 0, or -1 when it could not. */
static int grow(void **p, int64_t n, int64_t *cap, size_t sz)
{
	if (n < *cap)
		return 0;
	int64_t c = *cap ? 2 * *cap : 4096;
	void *q = realloc(*p, (size_t)c * sz);
	if (!q)
		return -1;
	*p = q, *cap = c;
	return 0;
}

static inline void rev_push(ann_revbuf *rb, int32_t c, float d)
{
	if (grow((void **)&rb->a, rb->n, &rb->cap, sizeof *rb->a) < 0) {
		rb->fail = 1;
		return;
	}
	rb->a[rb->n++] = (ann_rev){c, d};
}

/* The offers pushed since `from` were point i's. */
static void rev_close(ann_revbuf *rb, int32_t i, int64_t from)
{
	if (rb->n == from)
		return;
	int64_t rc = rb->rcap;
	if (grow((void **)&rb->src, rb->nr, &rc, sizeof *rb->src) < 0 ||
	    grow((void **)&rb->end, rb->nr, &rb->rcap, sizeof *rb->end) < 0) {
		rb->fail = 1;
		return;
	}
	rb->src[rb->nr] = i, rb->end[rb->nr++] = rb->n;
}

/* One refinement step of point i, in place: its list h (k, sorted) gets the k best of itself
 * and of the first `ex` entries of each of its first `from` neighbours' lists, its flags f
 * (k) mark what came in this round (they marked what came in the last; the entries that
 * leave are always the last ones, so those that stay are exactly the ones that came before).
 * Only h, f and tables made before the round are read, so the threads cannot change the
 * result.  The neighbours' first entries are read from tab (n rows of ex: the id, ANN_NEW when new), one
 * short row each instead of the whole lists.  As in NN-descent, a pair of old entries (an old
 * neighbour j of i, an old neighbour c of j) was looked at in an earlier round and is skipped,
 * and each distance serves both ends: a candidate c for which i beats the worst of c's list
 * (thr, its key) gets i as a reverse offer in rb.  mk (n) marks what i has seen (entries equal to i);
 * cand has room for from * ex ids. */
TSNE_CLONES
static void refine_point(ann_key *h, uint8_t *f, const uint32_t *tab, const ann_key *thr, int k,
                         int from, int ex, const float *x, int d, int64_t i, int32_t *mk,
                         int32_t *cand, ann_revbuf *rb)
{
	const ann_key *hi = h;
	uint8_t fi[from];
	memcpy(fi, f, (size_t)from);
	memset(f, 0, (size_t)k);
	mk[i] = (int32_t)i;
	for (int t = 0; t < k; t++)
		if (key_j(hi[t]) != INT32_MAX)
			mk[key_j(hi[t])] = (int32_t)i;
	const float *xi = x + i * d;
	/* The work waits for memory (the neighbours' rows and the candidates' points, scattered
	 * over the set): all candidates are gathered first, the rows fetched ahead, then their
	 * points are fetched a few candidates ahead of their distances. */
	const int PF = 4;
	for (int t = 0; t < PF && t < from; t++)
		if (key_j(hi[t]) != INT32_MAX)
			__builtin_prefetch(tab + (int64_t)key_j(hi[t]) * ex);
	int nc = 0;
	for (int t = 0; t < from; t++) {
		int32_t j = key_j(hi[t]);
		if (j == INT32_MAX)
			continue;
		if (t + PF < from && key_j(hi[t + PF]) != INT32_MAX)
			__builtin_prefetch(tab + (int64_t)key_j(hi[t + PF]) * ex);
		const uint32_t *tj = tab + (int64_t)j * ex;
		uint32_t jnew = fi[t] ? ANN_NEW : 0;
		/* without branches (a third of the entries are taken, unpredictably): an entry not
		 * to look at becomes i itself, which is marked */
		for (int u = 0; u < ex; u++) {
			uint32_t v = tj[u];
			int32_t c = (int32_t)(v & ~ANN_NEW);
			c = c != INT32_MAX && ((v | jnew) & ANN_NEW) ? c : (int32_t)i;
			int take = mk[c] != (int32_t)i;
			mk[c] = (int32_t)i;
			cand[nc] = c;
			nc += take;
		}
	}
	const int PC = 6;
	int64_t r0 = rb->n;
	for (int u = 0; u < PC && u < nc; u++) {
		const char *xc = (const char *)(x + (int64_t)cand[u] * d);
		for (int o = 0; o < d * (int)sizeof *x; o += 64)
			__builtin_prefetch(xc + o);
	}
	for (int u = 0; u < nc; u++) {
		if (u + PC < nc) {
			const char *xc = (const char *)(x + (int64_t)cand[u + PC] * d);
			for (int o = 0; o < d * (int)sizeof *x; o += 64)
				__builtin_prefetch(xc + o);
			__builtin_prefetch(thr + cand[u + PC]);
		}
		int32_t c = cand[u];
		float dd = dist2f(xi, x + (int64_t)c * d, d);
		ann_key e = ann_mkkey(dd, c);
		if (e < h[k - 1])
			list_insert(h, f, k, e);
		if (ann_mkkey(dd, (int32_t)i) < thr[c])
			rev_push(rb, c, dd);
	}
	rev_close(rb, (int32_t)i, r0);
}

/* One thread's reverse offers rb to the lists (k each, flags fresh) of the points in [lo, hi),
 * the lists' ends fetched a few offers ahead. */
TSNE_CLONES
static void apply_reverse(ann_key *list, uint8_t *fresh, int k, const ann_revbuf *rb, int64_t lo,
                          int64_t hi)
{
	const int PF = 8;
	const ann_rev *a = rb->a;
	for (int64_t r = 0, t = 0; r < rb->nr; r++) {
		int32_t i = rb->src[r];
		for (; t < rb->end[r]; t++) {
			if (t + PF < rb->n && a[t + PF].c >= lo && a[t + PF].c < hi)
				__builtin_prefetch(list + (int64_t)a[t + PF].c * k + k - 1);
			ann_rev e = a[t];
			if (e.c >= lo && e.c < hi)
				list_offer_new(list + (int64_t)e.c * k, fresh + (int64_t)e.c * k, k,
				               ann_mkkey(e.d, i));
		}
	}
}

/* tab (n,ex): the first ex ids of each sorted list of lists (n,k), ANN_NEW on the new ones;
 * thr (n): each list's last. */
static void fill_table(uint32_t *tab, ann_key *thr, const ann_key *lists, const uint8_t *fresh,
                       int64_t n, int k, int ex)
{
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++) {
		thr[i] = lists[i * k + k - 1];
		for (int u = 0; u < ex; u++) {
			int32_t c = key_j(lists[i * k + u]);
			tab[i * ex + u] = (uint32_t)c | (c != INT32_MAX && fresh[i * k + u] ? ANN_NEW : 0);
		}
	}
}

/* Row i (of the permuted points x) of the output: the distances again in double, the
 * neighbours as the caller's indices perm[j], sorted by (distance, index) as tsne_knn's.  h is
 * sorted by the float distances, so the double ones are nearly in order: insertion sort.  The
 * neighbours' points are fetched a few ahead. */
static void finish_row(int32_t *nbr, double *dist2, const ann_key *h, int k, const float *x,
                       int d, int64_t i, const int32_t *perm)
{
	knn_entd e[k];
	const float *xi = x + i * d;
	const int PF = 4;
	for (int t = 0; t < PF && t < k; t++)
		for (int o = 0; o < d; o += 16)
			__builtin_prefetch(x + (int64_t)key_j(h[t]) * d + o);
	for (int t = 0; t < k; t++) {
		if (t + PF < k)
			for (int o = 0; o < d; o += 16)
				__builtin_prefetch(x + (int64_t)key_j(h[t + PF]) * d + o);
		const float *xj = x + (int64_t)key_j(h[t]) * d;
		double s = 0;
#pragma omp simd reduction(+ : s)
		for (int u = 0; u < d; u++) {
			double df = (double)xi[u] - xj[u];
			s += df * df;
		}
		entd_insert(e, t, (knn_entd){s, perm[key_j(h[t])]});
	}
	for (int t = 0; t < k; t++)
		nbr[t] = e[t].j, dist2[t] = e[t].d;
}

int tsne_knn_approx(int32_t *nbr, double *dist2, const float *x, int64_t n, int d, int k,
                    const tsne_ann_params *ap)
{
	if (k < 1 || k > n - 1)
		return err_set(DN_EARG, "knn: k=%d out of range for n=%lld", k, (long long)n);
	/* a leaf splits into halves of at least leaf/2 points: k + 1 of them give every point k
	 * candidates from its first tree */
	int leaf = ap->leaf > 2 * k + 2 ? ap->leaf : 2 * k + 2;
	int trees = ap->trees > 0 ? ap->trees : 1;
	int nth = 1;
#ifdef _OPENMP
	nth = omp_get_max_threads();
#endif
	ann_key *list = mem_alloc_big((size_t)n * k * sizeof *list);
	/* one tree's ids, leaf starts, projections and direction for each thread */
	int32_t *idx = mem_alloc_big((size_t)nth * n * sizeof *idx);
	int64_t *starts = mem_alloc_big((size_t)nth * (n + 1) * sizeof *starts);
	float *proj = mem_alloc_big((size_t)nth * n * sizeof *proj);
	float *normal = malloc((size_t)nth * d * sizeof *normal);
	int64_t *nleafs = malloc((size_t)nth * sizeof *nleafs);
	int32_t *mark = mem_alloc_big((size_t)nth * n * sizeof *mark);
	int32_t *perm = mem_alloc_big((size_t)n * sizeof *perm);
	float *xp = mem_alloc_big((size_t)n * d * sizeof *xp);
	uint8_t *fresh = mem_alloc_big((size_t)n * k);
	uint32_t *tab = NULL;
	ann_key *thr = NULL;
	ann_revbuf *rev = NULL;
	int rc = 0, fail = 0;
	if (!list || !idx || !starts || !proj || !normal || !nleafs || !mark || !perm ||
	    !xp || !fresh) {
		rc = err_set(DN_ENOMEM, "knn: out of memory for approximate neighbours");
		goto out;
	}
#pragma omp parallel for schedule(static)
	for (int64_t t = 0; t < n * k; t++)
		list[t] = ANN_EMPTY;
	/* Work on a copy of the points in the leaf order of one more tree, so that neighbours
	 * are mostly near in memory (the search is bound by the latency of fetching candidates);
	 * perm maps back. */
	{
		rng_t r;
		rng_seed(&r, ap->seed, (uint64_t)trees);
		for (int64_t i = 0; i < n; i++)
			perm[i] = (int32_t)i;
		int64_t nleaf = 0;
		rp_tree(x, d, perm, n, leaf, &r, starts, &nleaf, proj, normal);
#pragma omp parallel for schedule(static)
		for (int64_t t = 0; t < n; t++)
			memcpy(xp + t * d, x + (int64_t)perm[t] * d, (size_t)d * sizeof *xp);
		x = xp;
	}
	/* The forest, built nth trees at a time (one per thread: a tree's splits are serial), then
	 * joined tree by tree: each leaf's pairs go into both lists.  A point is in one leaf of a
	 * tree, so the leaves of one tree are joined in parallel without sharing a list. */
	/* each thread its own single-threaded sgemm (OpenBLAS's threads would spin against ours) */
	int blas_threads = openblas_get_num_threads();
	openblas_set_num_threads(1);
	for (int tr = 0; tr < trees; tr++) {
		int b = tr % nth, nb = trees - tr + b < nth ? trees - tr + b : nth;
		if (b == 0) {
#pragma omp parallel for schedule(static, 1)
			for (int u = 0; u < nb; u++) {
				rng_t r;
				rng_seed(&r, ap->seed, (uint64_t)(tr + u));
				int32_t *id = idx + (int64_t)u * n;
				for (int64_t i = 0; i < n; i++)
					id[i] = (int32_t)i;
				nleafs[u] = 0;
				rp_tree(x, d, id, n, leaf, &r, starts + (int64_t)u * (n + 1), &nleafs[u],
				        proj + (int64_t)u * n, normal + (int64_t)u * d);
				starts[(int64_t)u * (n + 1) + nleafs[u]] = n;
			}
		}
		const int32_t *id = idx + (int64_t)b * n;
		const int64_t *st = starts + (int64_t)b * (n + 1);
		int64_t nleaf = nleafs[b];
#pragma omp parallel
		{
			float *xl = malloc((size_t)leaf * d * sizeof *xl);
			float *g = malloc((size_t)leaf * leaf * sizeof *g);
			float *sq = malloc((size_t)leaf * sizeof *sq);
			if (!xl || !g || !sq) {
#pragma omp atomic write
				fail = 1;
			}
#pragma omp for schedule(dynamic, 4)
			for (int64_t l = 0; l < nleaf; l++)
				if (xl && g && sq)
					leaf_join(list, k, x, d, id + st[l], st[l + 1] - st[l], xl, g, sq, tr == 0);
			free(xl), free(g), free(sq);
		}
		if (fail) {
			openblas_set_num_threads(blas_threads);
			rc = err_set(DN_ENOMEM, "knn: out of memory for approximate neighbours");
			goto out;
		}
	}
	openblas_set_num_threads(blas_threads);
	/* Refinement: each round, every point looks at the `expand` nearest neighbours of each of
	 * its `from` nearest neighbours (read from the table of the lists as they were when the
	 * round began; each list is updated in place), but not at the old neighbours of its old
	 * neighbours. */
	int ex = tsne_ann_expand(ap, n) < k ? tsne_ann_expand(ap, n) : k;
	int from = ann_from(ap, n, k);
	tab = mem_alloc_big((size_t)n * ex * sizeof *tab);
	thr = mem_alloc_big((size_t)n * sizeof *thr);
	rev = calloc((size_t)nth, sizeof *rev);
	if (!tab || !thr || !rev) {
		rc = err_set(DN_ENOMEM, "knn: out of memory for approximate neighbours");
		goto out;
	}
	memset(fresh, 1, (size_t)n * k); /* all new */
	for (int round = 0; round < ap->rounds; round++) {
		int64_t changed = 0;
		fill_table(tab, thr, list, fresh, n, k, ex);
#pragma omp parallel reduction(+ : changed)
		{
			int tid = 0, nt = 1;
#ifdef _OPENMP
			tid = omp_get_thread_num(), nt = omp_get_num_threads();
#endif
			int32_t *mk = mark + (int64_t)tid * n;
			int32_t *cand = malloc((size_t)from * ex * sizeof *cand);
			ann_revbuf *rb = &rev[tid];
			rb->n = rb->nr = 0;
			for (int64_t i = 0; i < n; i++)
				mk[i] = -1;
#pragma omp for schedule(dynamic, 64)
			for (int64_t i = 0; i < n; i++)
				if (cand && !rb->fail)
					refine_point(list + i * k, fresh + i * k, tab, thr, k, from, ex, x, d, i,
					             mk, cand, rb);
			if (!cand || rb->fail) {
#pragma omp atomic write
				fail = 1;
			}
			free(cand);
			/* the reverse offers, each thread to its own range of points (the k best under
			 * the total order do not depend on the order of the offers) */
			int64_t lo = n * tid / nt, hi = n * (tid + 1) / nt;
			for (int u = 0; u < nt; u++)
				apply_reverse(list, fresh, k, &rev[u], lo, hi);
			for (int64_t t = lo * k; t < hi * k; t++)
				changed += fresh[t];
		}
		if (fail) {
			rc = err_set(DN_ENOMEM, "knn: out of memory for approximate neighbours");
			goto out;
		}
		if (changed == 0)
			break;
	}
	/* output: sorted, distances recomputed in double from the points */
	for (int64_t t = 0; t < n * k; t++)
		if (key_j(list[t]) == INT32_MAX) {
			rc = err_set(DN_ERANGE, "knn: point %lld has fewer than %d candidates (distances "
			             "not finite?)", (long long)(t / k), k);
			goto out;
		}
	/* in the order of the permuted points (a point's neighbours are mostly near it, so the
	 * rows of neighbouring points share their fetches), each row to its place in the
	 * caller's order */
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++)
		finish_row(nbr + (int64_t)perm[i] * k, dist2 + (int64_t)perm[i] * k, list + i * k, k, x,
		           d, i, perm);
out:
	free(list), free(idx), free(starts), free(proj), free(normal), free(nleafs);
	free(mark);
	free(perm), free(xp), free(fresh), free(tab), free(thr);
	for (int t = 0; rev && t < nth; t++)
		free(rev[t].a), free(rev[t].src), free(rev[t].end);
	free(rev);
	return rc;
}
