/* test_tsne_aff.c - the perplexity calibration on rows that are hard for a root finder: every
 * row's entropy must reach log(perplexity), checked here from the returned probabilities. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "base/rng.h"
#include "tsne/tsne.h"

/* Entropy (nats) of the row p (k) and |sum - 1|. */
static double row_entropy(const double *p, int k, double *sumerr)
{
	double h = 0, s = 0;
	for (int t = 0; t < k; t++) {
		s += p[t];
		if (p[t] > 0)
			h -= p[t] * log(p[t]);
	}
	*sumerr = fabs(s - 1);
	return h;
}

/* Rows of sorted squared distances: equal distances (the entropy is log k for every beta, so
 * it can only be met when k = perplexity: here it cannot, the row must be reported), one far
 * outlier, spreads from 1e-30 to 1e30, many ties at the nearest distance, random. */
static void test_hard_rows(void)
{
	enum { K = 90, ROWS = 8 };
	double perp = 30;
	double d[ROWS * K];
	rng_t r;
	rng_seed(&r, 7, 0);
	for (int t = 0; t < K; t++) {
		d[0 * K + t] = 4.0;                            /* all equal */
		d[1 * K + t] = t < K - 1 ? 1.0 + 1e-3 * t : 1e6; /* one outlier */
		d[2 * K + t] = 1e-30 * (1 + t);                /* tiny scale */
		d[3 * K + t] = 1e30 * (1 + t);                 /* huge scale */
		d[4 * K + t] = t < 20 ? 2.0 : 2.0 + (t - 19);  /* 20 ties at the nearest */
		d[5 * K + t] = (double)t * t * t;              /* fast growth, first at 0 */
		d[6 * K + t] = exp(0.3 * t);                   /* exponential spread */
		d[7 * K + t] = fabs(rng_normal(&r)) + t;       /* random, increasing */
	}
	double p[ROWS * K], beta[ROWS];
	int64_t bad = tsne_calibrate(p, beta, d, ROWS, K, perp);
	/* Row 0 cannot reach the perplexity (its entropy is log 90 whatever beta is): reported. */
	CHECK_MSG(bad == 1, "%lld rows reported as not calibrated, expected 1", (long long)bad);
	for (int i = 1; i < ROWS; i++) {
		double se, h = row_entropy(p + i * K, K, &se);
		CHECK_MSG(fabs(h - log(perp)) < 1e-4, "row %d: entropy %.8f, want %.8f (beta %g)", i, h,
		          log(perp), beta[i]);
		CHECK_MSG(se < 1e-12, "row %d: probabilities sum to 1 %+g", i, se);
		CHECK_MSG(beta[i] > 0 && isfinite(beta[i]), "row %d: beta %g", i, beta[i]);
	}
	double se, h0 = row_entropy(p, K, &se);
	CHECK_CLOSE(h0, log((double)K), 1e-9); /* uniform: all it can be */
	CHECK(se < 1e-12);
}

/* Perplexity close to k (the root near beta = 0, where the slope vanishes) and small. */
static void test_perplexity_extremes(void)
{
	enum { K = 45 };
	double d[K], p[K], beta;
	for (int t = 0; t < K; t++)
		d[t] = 1.0 + 0.5 * t + 0.01 * t * t;
	double perps[] = {1.5, 2.0, 14.9, 44.0, 44.9};
	for (int c = 0; c < (int)(sizeof perps / sizeof *perps); c++) {
		int64_t bad = tsne_calibrate(p, &beta, d, 1, K, perps[c]);
		double se, h = row_entropy(p, K, &se);
		CHECK_MSG(bad == 0, "perplexity %g: row not calibrated", perps[c]);
		CHECK_MSG(fabs(h - log(perps[c])) < 1e-4, "perplexity %g: entropy %.8f, want %.8f",
		          perps[c], h, log(perps[c]));
	}
}

int main(void)
{
	test_hard_rows();
	test_perplexity_extremes();
	return check_summary("test_tsne_aff");
}
