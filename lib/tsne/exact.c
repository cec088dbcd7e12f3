/* exact.c - the repulsive forces of t-SNE and their normalisation Z over all pairs, O(n^2):
 * the reference the approximations (bh.c, fft.c) are measured against. */
#include <math.h>
#include <stdlib.h>

#include "tsne/internal.h"

void tsne_exact_repulsion(tsne_work *w, const double *y, int64_t n)
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
