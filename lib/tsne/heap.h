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

static inline void heap_replace_top(knn_ent *h, int k, knn_ent e)
{
	int i = 0;
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

static inline int cmp_ent(const void *a, const void *b)
{
	const knn_ent *x = a, *y = b;
	return knn_worse(*x, *y) ? 1 : knn_worse(*y, *x) ? -1 : 0;
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

#endif
