/* heap.h - a row's k nearest neighbours as a max-heap on (distance, index), shared by the
 * exact (lib/tsne/knn.c) and approximate (lib/tsne/ann.c) searches.  Internal to lib/tsne. */
#ifndef DN_TSNE_HEAP_H
#define DN_TSNE_HEAP_H

#include <stdint.h>

typedef struct {
	float d;
	int32_t j;
} knn_ent;

static inline int knn_worse(knn_ent a, knn_ent b) /* a ranks after b */
{
	return a.d > b.d || (a.d == b.d && a.j > b.j);
}

/* Place e at position i of heap h (k) and sift it down: h[i]'s subtrees must be heaps. */
static inline void heap_sift_down(knn_ent *h, int k, int i, knn_ent e)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		knn_ent big = e;
		if (l < k && knn_worse(h[l], big)) {
			m = l;
			big = h[l];
		}
		if (r < k && knn_worse(h[r], big))
			m = r;
		if (m == i)
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = e;
}

static inline void heap_replace_top(knn_ent *h, int k, knn_ent e)
{
	heap_sift_down(h, k, 0, e);
}

/* Make h (k), in any order, a heap (Floyd's bottom-up construction: O(k)). */
static inline void heap_build(knn_ent *h, int k)
{
	for (int i = k / 2 - 1; i >= 0; i--)
		heap_sift_down(h, k, i, h[i]);
}

/* Offer candidate (d, j) to heap h of size k (max at h[0]); j must not be in h already. */
static inline void heap_offer(knn_ent *h, int k, float d, int32_t j)
{
	knn_ent e = {d, j};
	if (knn_worse(h[0], e))
		heap_replace_top(h, k, e);
}

/* Sort the max-heap h (k) in place by increasing (distance, index): heapsort's pops. */
static inline void heap_sort(knn_ent *h, int k)
{
	for (int e = k - 1; e > 0; e--) {
		knn_ent top = h[0];
		heap_replace_top(h, e, h[e]);
		h[e] = top;
	}
}

typedef struct {
	double d;
	int32_t j;
} knn_entd;

static inline int cmp_entd(const void *a, const void *b)
{
	const knn_entd *x = a, *y = b;
	if (x->d != y->d)
		return x->d < y->d ? -1 : 1;
	return (x->j > y->j) - (x->j < y->j);
}

/* Put v into e[0..t) kept sorted by cmp_entd (insertion sort: the rows of the searches come
 * sorted by float distances, so their double distances are nearly in order). */
static inline void entd_insert(knn_entd *e, int t, knn_entd v)
{
	for (; t > 0 && cmp_entd(&e[t - 1], &v) > 0; t--)
		e[t] = e[t - 1];
	e[t] = v;
}

#endif
