/* fft.c - FFT-accelerated t-SNE repulsion (FIt-SNE); see fft.h. */
#include "tsne/fft.h"

#include <fftw3.h> /* single precision: fftwf_* */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "tsne/internal.h"
#include "tsne/simd.h"

#define NP 3          /* interpolation nodes per box and dimension (FIt-SNE's default; the
                       * code below is written for 3) */
#define NCH 4         /* charges: 1, x, y, x^2 + y^2 */
#define MIN_BOXES 50  /* as FIt-SNE's min_num_intervals */
_Static_assert(NP == 3, "lagrange() and interp_box()'s self term are written for 3 nodes");

struct tsne_fft {
	int64_t n;
	int32_t *box;    /* (n) box of each point */
	int32_t *sorted; /* (n) points by box, index order within a box */
	int64_t *start;  /* (B*B + 1) first sorted position of each box */
	float *wt;       /* (n, 2*NP) Lagrange weights of each point, x then y */
	int nb;          /* boxes per dimension of the buffers below (0: none yet) */
	double kh;       /* box width the kernel transform kt was made for (0: none) */
	float *kr;       /* (m+1, m+1) kernel at node offsets 0..m, m = NP * nb, then its
	                  * transform (in place) */
	float *kt;       /* (2m, m+1) the kernel's transform on the whole padded grid, over (2m)^2:
	                  * real (the kernel is even) */
	float *cr;       /* (NCH, rs) charges: rows 0..m of a (2m, 2m) grid, zero beyond column m */
	float *pr;       /* (NCH, rs) potentials, the same shape (a buffer of their own, so the
	                  * zero padding of cr is written once, not at every evaluation) */
	fftwf_complex *cc; /* the charges' transforms, (NCH, cs), (2m, m+1) each */
	int64_t rs, cs;  /* channel strides of cr and cc (64-byte multiples) */
	fftwf_plan kfwd; /* the kernel's 2-D transform: a real even sequence of length 2m is one
	                  * DCT-I of its first m+1 values (a quarter of the grid, real) */
	/* The charges' transforms in two passes, so that the zero half of the padded grid is
	 * never transformed: rows (only the m that hold charges), then columns; back the same
	 * way, rows only where the potentials are read. */
	fftwf_plan rowf, colf, colb, rowb;
};

tsne_fft *tsne_fft_new(int64_t n)
{
	tsne_fft *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->n = n;
	f->box = malloc((size_t)n * sizeof *f->box);
	f->sorted = malloc((size_t)n * sizeof *f->sorted);
	f->wt = malloc((size_t)n * 2 * NP * sizeof *f->wt);
	if (!f->box || !f->sorted || !f->wt) {
		tsne_fft_free(f);
		return NULL;
	}
	return f;
}

static void grid_free(tsne_fft *f)
{
	fftwf_plan *pl[] = {&f->kfwd, &f->rowf, &f->colf, &f->colb, &f->rowb};
	for (int t = 0; t < 5; t++) {
		if (*pl[t])
			fftwf_destroy_plan(*pl[t]);
		*pl[t] = NULL;
	}
	fftwf_free(f->kr), fftwf_free(f->cr), fftwf_free(f->pr), fftwf_free(f->kt), fftwf_free(f->cc);
	f->kh = 0;
	free(f->start);
	f->kr = f->kt = f->cr = f->pr = NULL;
	f->cc = NULL;
	f->start = NULL;
	f->nb = 0;
}

void tsne_fft_free(tsne_fft *f)
{
	if (!f)
		return;
	grid_free(f);
	free(f->box), free(f->sorted), free(f->wt);
	free(f);
}

/* Smallest integer >= x whose prime factors are 2, 3 and 5 (fast FFT sizes). */
static int smooth_at_least(int x)
{
	for (int v = x;; v++) {
		int r = v;
		while (r % 2 == 0)
			r /= 2;
		while (r % 3 == 0)
			r /= 3;
		while (r % 5 == 0)
			r /= 5;
		if (r == 1)
			return v;
	}
}

int tsne_fft_boxes(double span)
{
	/* boxes at most one unit wide: the kernel varies on the scale of 1 */
	double need = ceil(span);
	int nb = need < MIN_BOXES ? MIN_BOXES : need > 1e5 ? 100000 : (int)need;
	return smooth_at_least(nb);
}

/* Buffers and plans for nb boxes per dimension (kept while the size stays). */
static int grid_alloc(tsne_fft *f, int nb)
{
	if (f->nb == nb)
		return 0;
	grid_free(f);
	int64_t m = (int64_t)NP * nb, L = 2 * m, Lc = m + 1;
	f->rs = (m * L + 15) / 16 * 16, f->cs = (L * Lc + 7) / 8 * 8;
	f->start = malloc(((size_t)nb * nb + 1) * sizeof *f->start);
	f->kr = fftwf_malloc((size_t)Lc * Lc * sizeof *f->kr);
	f->cr = fftwf_malloc((size_t)NCH * f->rs * sizeof *f->cr);
	f->pr = fftwf_malloc((size_t)NCH * f->rs * sizeof *f->pr);
	f->kt = fftwf_malloc((size_t)L * Lc * sizeof *f->kt);
	f->cc = fftwf_malloc((size_t)NCH * f->cs * sizeof *f->cc);
	if (!f->start || !f->kr || !f->cr || !f->pr || !f->kt || !f->cc) {
		grid_free(f);
		return err_set(DN_ENOMEM, "out of memory for a %lld x %lld FFT grid", (long long)L,
		               (long long)L);
	}
	/* FFTW_ESTIMATE: the plan does not depend on timings, so neither do the results. */
	int len = (int)L;
	f->kfwd = fftwf_plan_r2r_2d((int)Lc, (int)Lc, f->kr, f->kr, FFTW_REDFT00, FFTW_REDFT00,
	                            FFTW_ESTIMATE);
	f->rowf = fftwf_plan_many_dft_r2c(1, &len, (int)m, f->cr, NULL, 1, len, f->cc, NULL, 1,
	                                  (int)Lc, FFTW_ESTIMATE);
	f->colf = fftwf_plan_many_dft(1, &len, (int)Lc, f->cc, NULL, (int)Lc, 1, f->cc, NULL,
	                              (int)Lc, 1, FFTW_FORWARD, FFTW_ESTIMATE);
	f->colb = fftwf_plan_many_dft(1, &len, (int)Lc, f->cc, NULL, (int)Lc, 1, f->cc, NULL,
	                              (int)Lc, 1, FFTW_BACKWARD, FFTW_ESTIMATE);
	f->rowb = fftwf_plan_many_dft_c2r(1, &len, (int)m, f->cc, NULL, 1, (int)Lc, f->pr, NULL, 1,
	                                  len, FFTW_ESTIMATE);
	if (!f->kfwd || !f->rowf || !f->colf || !f->colb || !f->rowb) {
		grid_free(f);
		return err_set(DN_ENOMEM, "FFTW could not plan a %lld x %lld transform", (long long)L,
		               (long long)L);
	}
	/* the padding, never written again: spreading writes every node of every box, and the
	 * row transforms (out of place, r2c) leave their input as it is */
	memset(f->cr, 0, (size_t)NCH * f->rs * sizeof *f->cr);
	f->nb = nb;
	return 0;
}

/* Lagrange basis on the nodes 1/6, 1/2, 5/6 of the unit box (NP = 3), at u in [0, 1]: the
 * denominators (2/9, -1/9, 2/9) folded into the constants 4.5, -9, 4.5 (no division). */
static inline void lagrange(float *w, double u)
{
	double a = u - 1.0 / 6, b = u - 0.5, c = u - 5.0 / 6;
	w[0] = (float)(4.5 * b * c);
	w[1] = (float)(-9.0 * a * c);
	w[2] = (float)(4.5 * a * b);
}

/* The charges of box b's points onto its nodes (in index order).  The four channels of a
 * node side by side (one vector of doubles). */
TSNE_CLONES
static void spread_box(tsne_fft *f, const double *y, int64_t b, double cx, double cy)
{
	int nb = f->nb;
	int64_t L = 2 * (int64_t)NP * nb;
	double acc[NP][NP][NCH];
	memset(acc, 0, sizeof acc);
	for (int64_t s = f->start[b]; s < f->start[b + 1]; s++) {
		int32_t i = f->sorted[s];
		const float *wx = f->wt + (int64_t)i * 2 * NP, *wy = wx + NP;
		double px = y[2 * i] - cx, py = y[2 * i + 1] - cy;
		double ch[NCH] = {1.0, px, py, px * px + py * py};
		/* unrolled, so that the sums stay in registers */
#pragma GCC unroll 3
		for (int k = 0; k < NP; k++)
#pragma GCC unroll 3
			for (int l = 0; l < NP; l++) {
				double w = (double)wx[k] * wy[l];
				for (int c = 0; c < NCH; c++)
					acc[k][l][c] += w * ch[c];
			}
	}
	int64_t gx = (b / nb) * NP, gy = (b % nb) * NP;
	for (int c = 0; c < NCH; c++)
		for (int k = 0; k < NP; k++)
			for (int l = 0; l < NP; l++)
				f->cr[c * f->rs + (gx + k) * L + gy + l] = (float)acc[k][l][c];
}

/* Channel c: charges -> potentials, the kernel's transform applied in between. */
TSNE_CLONES
static void convolve(tsne_fft *f, int c, int64_t m, int64_t L, int64_t Lc)
{
	float *r = f->cr + c * f->rs;
	fftwf_complex *z = f->cc + c * f->cs;
	fftwf_execute_dft_r2c(f->rowf, r, z);
	memset(z + m * Lc, 0, (size_t)(L - m) * Lc * sizeof *z);
	fftwf_execute_dft(f->colf, z, z);
	float *zf = (float *)z;
	const float *kt = f->kt;
#pragma omp simd
	for (int64_t t = 0; t < L * Lc; t++)
		zf[2 * t] *= kt[t], zf[2 * t + 1] *= kt[t];
	fftwf_execute_dft(f->colb, z, z);
	fftwf_execute_dft_c2r(f->rowb, z, f->pr + c * f->rs);
}

/* The potentials at box b's points: their repulsion rep[i] and kernel sum zi[i].  The box's
 * NP x NP nodes' four channels are read once, into a block of its own (channels side by
 * side: one vector of doubles a node). */
TSNE_CLONES
static void interp_box(const tsne_fft *f, const double *y, int64_t b, double cx, double cy,
                       const double kself[NP][NP], double *rep, double *zi)
{
	if (f->start[b] == f->start[b + 1])
		return;
	int nb = f->nb;
	int64_t L = 2 * (int64_t)NP * nb, rs = f->rs;
	int64_t gx = (b / nb) * NP, gy = (b % nb) * NP;
	double pot[NP][NP][NCH];
	for (int k = 0; k < NP; k++)
		for (int l = 0; l < NP; l++)
			for (int c = 0; c < NCH; c++)
				pot[k][l][c] = f->pr[c * rs + (gx + k) * L + gy + l];
	for (int64_t s = f->start[b]; s < f->start[b + 1]; s++) {
		int32_t i = f->sorted[s];
		const float *wx = f->wt + (int64_t)i * 2 * NP, *wy = wx + NP;
		double phi[NCH] = {0, 0, 0, 0};
#pragma GCC unroll 3
		for (int k = 0; k < NP; k++)
#pragma GCC unroll 3
			for (int l = 0; l < NP; l++) {
				double w = (double)wx[k] * wy[l];
				for (int c = 0; c < NCH; c++)
					phi[c] += w * pot[k][l][c];
			}
		/* The point's own term, as the interpolation sees it: spread to the nodes of its
		 * box, the kernel between them, interpolated back.  The kernel depends only on the
		 * nodes' offsets, and on their absolute values (it is even), so the sum over node
		 * pairs is one over offsets 0, 1, 2 of the weights' autocorrelations: 9 terms
		 * instead of 81. */
		double x0 = wx[0], x1 = wx[1], x2 = wx[2], y0 = wy[0], y1 = wy[1], y2 = wy[2];
		double sa[NP] = {x0 * x0 + x1 * x1 + x2 * x2, 2 * (x0 * x1 + x1 * x2), 2 * x0 * x2};
		double sb[NP] = {y0 * y0 + y1 * y1 + y2 * y2, 2 * (y0 * y1 + y1 * y2), 2 * y0 * y2};
		double self = 0;
		for (int a = 0; a < NP; a++)
			self += sa[a] * (sb[0] * kself[a][0] + sb[1] * kself[a][1] + sb[2] * kself[a][2]);
		double px = y[2 * i] - cx, py = y[2 * i + 1] - cy;
		/* sum_j w^2 (y_i - y_j) and sum_j w^2 (1 + |y_i - y_j|^2) = sum_j w, j = i included:
		 * its term cancels exactly in the force and adds `self` to the sum, taken off. */
		rep[2 * i] = px * phi[0] - phi[1];
		rep[2 * i + 1] = py * phi[0] - phi[2];
		zi[i] = (1.0 + px * px + py * py) * phi[0] - 2.0 * (px * phi[1] + py * phi[2]) +
		        phi[3] - self;
	}
}

int tsne_fft_repulsion(tsne_fft *f, const double *y, int64_t n, double *rep, double *zi,
                       int32_t *order)
{
	double bb[4];
	tsne_bbox(bb, y, n);
	double x0 = bb[0], x1 = bb[1], y0 = bb[2], y1 = bb[3];
	/* A square a little larger than the layout, centred on it (charges relative to the
	 * centre keep x^2 + y^2 small, so little cancels in the sums below).  Boxes one unit wide
	 * once the layout spans more than MIN_BOXES units: then the kernel, and its transform,
	 * change only when the number of boxes does. */
	double span = fmax(fmax(x1 - x0, y1 - y0), 1e-3) * (1 + 1e-6);
	int nb = tsne_fft_boxes(span), rc;
	double h = span <= MIN_BOXES ? span / nb : 1.0;
	if ((rc = grid_alloc(f, nb)) < 0)
		return rc;
	double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, side = nb * h;
	double lo_x = cx - side / 2, lo_y = cy - side / 2;
	int64_t m = (int64_t)NP * nb, L = 2 * m, Lc = m + 1, nbox = (int64_t)nb * nb;

	/* Boxes and weights, then a stable counting sort of the points by box. */
#pragma omp parallel for schedule(static) if (n > 4096)
	for (int64_t i = 0; i < n; i++) {
		double ux = (y[2 * i] - lo_x) / h, uy = (y[2 * i + 1] - lo_y) / h;
		int bx = (int)ux, by = (int)uy;
		bx = bx < 0 ? 0 : bx >= nb ? nb - 1 : bx;
		by = by < 0 ? 0 : by >= nb ? nb - 1 : by;
		f->box[i] = bx * nb + by;
		lagrange(f->wt + i * 2 * NP, ux - bx);
		lagrange(f->wt + i * 2 * NP + NP, uy - by);
	}
	int64_t *st = f->start;
	memset(st, 0, ((size_t)nbox + 1) * sizeof *st);
	for (int64_t i = 0; i < n; i++)
		st[f->box[i] + 1]++;
	for (int64_t b = 0; b < nbox; b++)
		st[b + 1] += st[b];
	for (int64_t i = 0; i < n; i++) /* st[b] walks to st[b+1]; shifted back below */
		f->sorted[st[f->box[i]]++] = (int32_t)i;
	for (int64_t b = nbox; b > 0; b--)
		st[b] = st[b - 1];
	st[0] = 0;

	/* Kernel on the circulant grid: offset a node steps for index a < m, a - L above m
	 * (zero at m), an even function of both; its transform (the DCT-I of offsets 0..m,
	 * then mirrored to the rows above m) scaled by the inverse transform's 1/L^2, kept while
	 * the box width stays. */
	double hn = h / NP;
	if (f->kh != h) {
#pragma omp parallel for schedule(static)
		for (int64_t a = 0; a <= m; a++) {
			double da = a * hn;
			for (int64_t b = 0; b <= m; b++) {
				double db = b * hn;
				double q = 1.0 / (1.0 + da * da + db * db);
				f->kr[a * Lc + b] = a == m || b == m ? 0.0f : (float)(q * q);
			}
		}
		fftwf_execute(f->kfwd);
		float scale = (float)(1.0 / ((double)L * L));
#pragma omp parallel for schedule(static)
		for (int64_t a = 0; a < L; a++) {
			const float *src = f->kr + (a <= m ? a : L - a) * Lc;
			for (int64_t b = 0; b < Lc; b++)
				f->kt[a * Lc + b] = src[b] * scale;
		}
		f->kh = h;
	}
	/* Spread: each box writes its own NP x NP nodes (zeros for an empty box), its points in
	 * index order. */
#pragma omp parallel for schedule(dynamic, 64)
	for (int64_t b = 0; b < nbox; b++)
		spread_box(f, y, b, cx, cy);
	/* Convolve: each channel by its own thread (FFTW's execute is thread-safe; planning is
	 * not), zero rows m..L of the row transforms' output first (the padding). */
#pragma omp parallel for schedule(static, 1)
	for (int c = 0; c < NCH; c++)
		convolve(f, c, m, L, Lc);
	/* The kernel between nodes of one box, offsets 0 .. NP-1 in each dimension (it is even). */
	double kself[NP][NP];
	for (int a = 0; a < NP; a++)
		for (int b = 0; b < NP; b++) {
			double da = a * hn, db = b * hn;
			double q = 1.0 / (1.0 + da * da + db * db);
			kself[a][b] = q * q;
		}
	/* Interpolate the potentials back to the points, box by box. */
#pragma omp parallel for schedule(dynamic, 64)
	for (int64_t b = 0; b < nbox; b++)
		interp_box(f, y, b, cx, cy, kself, rep, zi);
	if (order)
		memcpy(order, f->sorted, (size_t)n * sizeof *order);
	return 0;
}
