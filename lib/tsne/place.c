/* place.c - placing new points into a finished layout (openTSNE's prepare_partial /
 * transform, Policar, Strazar & Zupan, "openTSNE", JMLR 2024): a start at the weighted median
 * of each point's reference neighbours, then gradient descent of each new point alone against
 * the fixed reference layout. */
#include "tsne/tsne.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "tsne/internal.h"

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
	float mq = tsne_max_abs(xnew, nnew, d), mr = tsne_max_abs(xref, nref, d);
	int e = tsne_scale_exponent(mq > mr ? mq : mr);
	if ((rc = tsne_scaled_copy(&xq, xnew, nnew, d, e)) < 0 ||
	    (rc = tsne_scaled_copy(&xr, xref, nref, d, e)) < 0)
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
	if ((rc = tsne_qt_build(w, yr, nref)) < 0)
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
