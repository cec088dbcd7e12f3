/* test_tsne_rep.c - the repulsion's vector code (lib/tsne/bh.c, fft.c) at the sizes where its
 * loops end in partial vectors: Barnes-Hut's explicit AVX-512 sums against the portable ones
 * (DANN_ISA=generic) and against the exact sums, FFT interpolation against the exact sums. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base/rng.h"
#include "tsne/fft.h"
#include "tsne/internal.h"
#include "tsne/tsne.h"

/* n points in clusters of different sizes and spreads, `span` units across. */
static double *layout(int64_t n, double span, uint64_t seed)
{
	double *y = malloc((size_t)n * 2 * sizeof *y);
	rng_t r;
	rng_seed(&r, seed, 0);
	for (int64_t i = 0; i < n; i++) {
		int c = (int)(i % 7);
		double cx = span * (0.1 + 0.12 * c), cy = span * (0.5 + 0.3 * sin(c));
		double s = span * 0.01 * (1 + c);
		y[2 * i] = cx + s * rng_normal(&r);
		y[2 * i + 1] = cy + s * rng_normal(&r);
	}
	return y;
}

/* sqrt(sum |a - b|^2 / sum |b|^2) over the forces normalised by their Z. */
static double rel_err(const double *a, double za, const double *b, double zb, int64_t n)
{
	double num = 0, den = 0;
	for (int64_t t = 0; t < 2 * n; t++) {
		double e = a[t] / za - b[t] / zb;
		num += e * e, den += b[t] / zb * (b[t] / zb);
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

static double sum(const double *v, int64_t n)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

/* Barnes-Hut with the machine's sums and with the portable ones, against exact: sizes around
 * the vector widths (lists ending anywhere in a vector, groups of one point). */
static void test_bh_tails(void)
{
	const int64_t sizes[] = {2, 3, 15, 16, 17, 31, 33, 47, 100, 257, 1000, 3001};
	const char *isa = getenv("DANN_ISA");
	char *saved = isa ? strdup(isa) : NULL;
	for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++) {
		int64_t n = sizes[a];
		double *y = layout(n, 30.0, 7 + (uint64_t)a);
		double *re = malloc((size_t)n * 2 * sizeof *re), *rg = malloc((size_t)n * 2 * sizeof *rg);
		double *zg = malloc((size_t)n * sizeof *zg);
		tsne_work *w = tsne_work_new(n);
		tsne_exact_repulsion(w, y, n);
		memcpy(re, w->rep, (size_t)n * 2 * sizeof *re);
		double ze = sum(w->zi, n);
		setenv("DANN_ISA", "generic", 1);
		CHECK(tsne_bh_repulsion(w, y, n, 1e-9) == 0);
		memcpy(rg, w->rep, (size_t)n * 2 * sizeof *rg);
		memcpy(zg, w->zi, (size_t)n * sizeof *zg);
		if (saved)
			setenv("DANN_ISA", saved, 1);
		else
			unsetenv("DANN_ISA");
		CHECK(tsne_bh_repulsion(w, y, n, 1e-9) == 0);
		double zb = sum(w->zi, n), zgs = sum(zg, n);
		/* theta ~0: every point exactly, up to single-precision sums */
		double eb = rel_err(w->rep, zb, re, ze, n), eg = rel_err(rg, zgs, re, ze, n);
		CHECK_MSG(eb < 1e-5 && eg < 1e-5, "n %lld: bh against exact %g, portable %g",
		          (long long)n, eb, eg);
		CHECK_CLOSE(zb, ze, 1e-6);
		CHECK_CLOSE(zgs, ze, 1e-6);
		/* theta 0.5: both sums over the same lists */
		CHECK(tsne_bh_repulsion(w, y, n, 0.5) == 0);
		memcpy(rg, w->rep, (size_t)n * 2 * sizeof *rg);
		zb = sum(w->zi, n);
		setenv("DANN_ISA", "generic", 1);
		CHECK(tsne_bh_repulsion(w, y, n, 0.5) == 0);
		if (saved)
			setenv("DANN_ISA", saved, 1);
		else
			unsetenv("DANN_ISA");
		zgs = sum(w->zi, n);
		double ex = rel_err(rg, zb, w->rep, zgs, n);
		CHECK_MSG(ex < 1e-5, "n %lld theta 0.5: machine against portable sums %g", (long long)n,
		          ex);
		CHECK_CLOSE(zb, zgs, 1e-5);
		tsne_work_free(w);
		free(y), free(re), free(rg), free(zg);
	}
	free(saved);
}

/* FFT: narrow boxes (a compact layout, the kernel transformed for each new width) and one
 * unit wide (a wide one) against exact; the same layout twice gives the same bytes. */
static void test_fft(void)
{
	const double spans[] = {2.0, 8.0, 8.0 * (1 + 1e-9), 70.0};
	const int64_t n = 2000;
	double *re = malloc((size_t)n * 2 * sizeof *re), *rf = malloc((size_t)n * 2 * sizeof *rf);
	double *zf = malloc((size_t)n * sizeof *zf), *r2 = malloc((size_t)n * 2 * sizeof *r2);
	double *z2 = malloc((size_t)n * sizeof *z2);
	tsne_work *w = tsne_work_new(n);
	tsne_fft *f = tsne_fft_new(n);
	for (int a = 0; a < 4; a++) {
		double *y = layout(n, spans[a], 11);
		tsne_exact_repulsion(w, y, n);
		double ze = sum(w->zi, n);
		CHECK(tsne_fft_repulsion(f, y, n, rf, zf, NULL) == 0);
		double e = rel_err(rf, sum(zf, n), w->rep, ze, n);
		printf("  FFT, span %g (%d boxes): relative gradient error %.3g, Z %.3g\n", spans[a],
		       tsne_fft_boxes(spans[a]), e, sum(zf, n) / ze - 1);
		CHECK_MSG(e < (spans[a] < 50 ? 2e-3 : 5e-2), "FFT span %g: rel err %g", spans[a], e);
		CHECK_CLOSE(sum(zf, n), ze, 2e-3);
		CHECK(tsne_fft_repulsion(f, y, n, r2, z2, NULL) == 0);
		CHECK(!memcmp(r2, rf, (size_t)n * 2 * sizeof *rf) && !memcmp(z2, zf, (size_t)n * sizeof *zf));
		free(y);
	}
	tsne_fft_free(f);
	tsne_work_free(w);
	free(re), free(rf), free(zf), free(r2), free(z2);
}

int main(void)
{
	test_bh_tails();
	test_fft();
	return check_summary("test_tsne_rep");
}
