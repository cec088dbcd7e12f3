/* tsne.c - a whole t-SNE run (see tsne.h): the parameters' defaults, the start layout (PCA,
 * seeded random or given) and its checks, then affinities (affinity.c) and the optimiser
 * (optimize.c). */
#include "tsne/tsne.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/rng.h"

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
	double *y = mem_alloc_big((size_t)n * 2 * sizeof *y);
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
			float *pc = mem_alloc_big((size_t)n * 2 * sizeof *pc);
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
