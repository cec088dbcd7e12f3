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

/* Z = sum of w->zi, summed serially in index order, so the same for any thread count. */
static double sum_z(const tsne_work *w, int64_t n)
{
	double z = 0;
	for (int64_t i = 0; i < n; i++)
		z += w->zi[i];
	return z;
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

/* The same in single precision, for the optimiser's inner loop: positions and P values vf as
 * float halve the memory traffic and double the vector width; the sums of ~100 terms keep ~6
 * significant digits, far below the Barnes-Hut error.  One vector loop with the positions
 * gathered in it (the compiler's gathers from scalar loads): 15% less CPU than gathering into
 * a buffer first.  A point's two floats are one 8-byte word of yp, split by a shift: one load
 * per neighbour instead of two, and the compiler keeps the split in vector registers (read as
 * float[2] it went through the stack): the attraction's CPU time -40% (10,000 digits, one
 * thread), the same bytes. */
TSNE_CLONES
static void attraction_f(float *a, const uint64_t *yp, const int64_t *row, const int32_t *col,
                         const float *vf, int64_t i)
{
	float pi[2];
	memcpy(pi, yp + i, sizeof pi);
	float ax = 0, ay = 0, px = pi[0], py = pi[1];
#pragma omp simd reduction(+ : ax, ay)
	for (int64_t t = row[i]; t < row[i + 1]; t++) {
		uint64_t v = yp[col[t]];
		uint32_t ux = (uint32_t)v, uy = (uint32_t)(v >> 32); /* little-endian: x first */
		float x, yv;
		memcpy(&x, &ux, sizeof x), memcpy(&yv, &uy, sizeof yv);
		float dx = px - x, dy = py - yv;
		float q = vf[t] / (1.0f + dx * dx + dy * dy);
		ax += q * dx;
		ay += q * dy;
	}
	a[0] = ax;
	a[1] = ay;
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

/* Renumber the points in the last quadtree's depth-first order, so that points close in the
 * layout (and so their P-neighbours) are close in memory.  perm maps the current numbering
 * to the caller's.  Deterministic: the order is a function of the layout.  The renumbered P
 * goes into S (arrays of Q's sizes, kept from one call to the next: fresh ones would cost a
 * page fault every 4 KB), which then swaps with Q. */
static int renumber(tsne_work *w, tsne_sparse *Q, tsne_sparse *S, double *y, double *upd,
                    double *gain, int32_t *perm, int64_t n)
{
	const int32_t *order = w->order;
	int32_t *inv = malloc((size_t)n * sizeof *inv);
	double *tmp = malloc((size_t)n * 2 * sizeof *tmp);
	int64_t *row = S->row;
	int32_t *col = S->col;
	double *val = S->val;
	if (!inv || !tmp) {
		free(inv), free(tmp);
		return 0; /* not needed for correctness: skip it */
	}
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
		row[t] = o;
		o += Q->row[order[t] + 1] - Q->row[order[t]];
	}
	row[n] = o;
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000)
	for (int64_t t = 0; t < n; t++) {
		int32_t i = order[t];
		for (int64_t u = Q->row[i], v = row[t]; u < Q->row[i + 1]; u++, v++) {
			col[v] = inv[Q->col[u]];
			val[v] = Q->val[u];
		}
	}
	S->row = Q->row, S->col = Q->col, S->val = Q->val;
	Q->row = row, Q->col = col, Q->val = val;
	w->have_order = 0; /* index order is now the tree order */
	free(inv), free(tmp);
	return 0;
}

int tsne_optimize(double *yio, const tsne_sparse *P0, const tsne_params *p, double *kl_out)
{
	int64_t n = P0->n;
	double eta = tsne_learning_rate(p, n);
	tsne_method method = tsne_resolve_method(p->method, p->theta, n);
	tsne_work *w = tsne_work_new(n);
	double *y = malloc((size_t)n * 2 * sizeof *y);
	double *ynew = malloc((size_t)n * 2 * sizeof *ynew);
	double *upd = calloc((size_t)n * 2, sizeof *upd);
	double *gain = malloc((size_t)n * 2 * sizeof *gain);
	int32_t *perm = malloc((size_t)n * sizeof *perm);
	/* a private copy of P, renumbered along with the points */
	tsne_sparse Q = {n, malloc(((size_t)n + 1) * sizeof *Q.row),
	                 malloc((size_t)P0->row[n] * sizeof *Q.col),
	                 malloc((size_t)P0->row[n] * sizeof *Q.val)};
	tsne_sparse S = {n, malloc(((size_t)n + 1) * sizeof *S.row),
	                 malloc((size_t)P0->row[n] * sizeof *S.col),
	                 malloc((size_t)P0->row[n] * sizeof *S.val)}; /* renumber's spare */
	const tsne_sparse *P = &Q;
	float *yf = malloc((size_t)n * 2 * sizeof *yf);
	uint64_t *yp = malloc((size_t)n * sizeof *yp); /* (n) yf's pairs, one 8-byte load each */
	float *att = malloc((size_t)n * 2 * sizeof *att); /* (n,2) sum_j P_ij w_ij (y_i - y_j) */
	float *vf = malloc((size_t)P0->row[n] * sizeof *vf);
	int64_t vf_n = -1; /* vf is valid for Q's current numbering when == Q.row[n] */
	int rc = 0;
	if (!w || !y || !ynew || !upd || !gain || !perm || !Q.row || !Q.col || !Q.val || !S.row || !S.col || !S.val || !yf || !yp || !vf ||
	    !att) {
		rc = err_set(DN_ENOMEM, "out of memory for the optimiser");
		goto out;
	}
	memcpy(Q.row, P0->row, ((size_t)n + 1) * sizeof *Q.row);
	memcpy(Q.col, P0->col, (size_t)P0->row[n] * sizeof *Q.col);
	memcpy(Q.val, P0->val, (size_t)P0->row[n] * sizeof *Q.val);
	for (int64_t t = 0; t < 2 * n; t++)
		yf[t] = (float)yio[t];
	if ((rc = tsne_layout_check(yf, n, "start layout")) < 0)
		goto out;
	memcpy(y, yio, (size_t)n * 2 * sizeof *y);
	for (int64_t i = 0; i < n; i++)
		perm[i] = (int32_t)i;
	for (int64_t t = 0; t < 2 * n; t++)
		gain[t] = 1.0;
	double z = 0;
	int last = p->max_iter;
	for (int it = 0; it < p->max_iter; it++) {
		double exag = it < p->exag_iter ? p->exaggeration : 1.0;
		double mom = it < p->mom_switch_iter ? p->momentum : p->final_momentum;
		if (method != TSNE_EXACT && n >= 4096 && it % 100 == 50) {
			renumber(w, &Q, &S, y, upd, gain, perm, n);
			vf_n = -1;
		}
		if (vf_n < 0) {
			for (int64_t t = 0; t < Q.row[n]; t++)
				vf[t] = (float)Q.val[t];
			vf_n = Q.row[n];
		}
#pragma omp parallel for schedule(static) if (n > 32768)
		for (int64_t i = 0; i < n; i++) {
			float xy[2] = {(float)y[2 * i], (float)y[2 * i + 1]};
			memcpy(yp + i, xy, sizeof xy);
		}
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
#pragma omp for schedule(dynamic, 256)
			for (int64_t i = 0; i < n; i++)
				attraction_f(att + 2 * i, yp, Q.row, Q.col, vf, i);
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
			if (p->report(p->ctx, it, p->max_iter, tsne_kl(y, P, zr))) {
				last = it;
				break;
			}
		}
		double rz = 1.0 / z;
		/* One pass per point: gradient (Eq. 5 of vdM 2014), gains (Jacobs 1988: grow where
		 * the gradient pushes against the current motion), momentum step.  New positions go
		 * to ynew since other points still read y. */
		int far = 0;
#pragma omp parallel for schedule(dynamic, 256) if (n > 1000) reduction(| : far)
		for (int64_t i = 0; i < n; i++) {
			for (int c = 0; c < 2; c++) {
				int64_t t = 2 * i + c;
				double g = 4.0 * (exag * (double)att[t] - w->rep[t] * rz);
				gain[t] = (g > 0) != (upd[t] > 0) ? gain[t] + 0.2 : gain[t] * 0.8;
				if (gain[t] < 0.01)
					gain[t] = 0.01;
				upd[t] = mom * upd[t] - eta * gain[t] * g;
				ynew[t] = y[t] + upd[t];
				far |= !(fabs(ynew[t]) <= TSNE_LAYOUT_MAX); /* NaN too */
			}
		}
		if (far) {
			rc = err_set(DN_ERANGE,
			             "the optimisation diverged at iteration %d (a position beyond %g): "
			             "lower the learning rate (%g) or the exaggeration (%g)",
			             it + 1, TSNE_LAYOUT_MAX, eta, exag);
			goto out;
		}
		double mx = 0, my = 0;
		for (int64_t i = 0; i < n; i++)
			mx += ynew[2 * i], my += ynew[2 * i + 1];
		mx /= n, my /= n;
#pragma omp parallel for schedule(static) if (n > 32768)
		for (int64_t i = 0; i < n; i++)
			y[2 * i] = ynew[2 * i] - mx, y[2 * i + 1] = ynew[2 * i + 1] - my;
		if (p->progress)
			p->progress(p->ctx, it + 1, p->max_iter);
	}
	/* Final KL at the final layout (exact Z when affordable). */
	{
		double kl;
		if (method == TSNE_EXACT || n <= 2000) {
			kl = tsne_kl(y, P, tsne_exact_z(y, n));
		} else {
			if ((rc = repulsion(w, y, n, method, p->theta, &z)) < 0)
				goto out;
			kl = tsne_kl(y, P, z);
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
	free(y), free(ynew), free(upd), free(gain), free(perm), free(yf), free(yp), free(vf), free(att);
	free(Q.row), free(Q.col), free(Q.val);
	free(S.row), free(S.col), free(S.val);
	return rc;
}
