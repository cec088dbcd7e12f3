/* test_pad.c - the proxy A-distance against theory.
 *
 * Two Gaussians N(0, I) and N(delta u, I) (u a unit vector, equal priors) are told apart at best
 * with the Bayes error Phi(-delta/2), reached by a linear classifier; with 2,000 training rows
 * per domain in 10 dimensions the SVM comes within a fraction of a point of it.  Tolerance on
 * the error: 0.02 (the sampling standard deviation of an error near 0.16 over 4,000 test rows is
 * 0.006, over the held-out protocol's 2,000 0.008), so 0.08 on the PAD = 2 (1 - 2 eps).
 * Identical distributions: eps near 0.5, PAD near 0 (the paper's protocol picks the best of ten
 * test errors, so a little above 0: bound 0.1, i.e. eps >= 0.475, 3 standard deviations). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base/err.h"
#include "eval/pad.h"
#include "base/rng.h"

enum { D = 10, PER = 4000 };

/* PER source rows around 0, then PER target rows around delta u; from each domain's row
 * `swap_from` on, the two means trade places. */
static void gaussians(float *x, uint8_t *dom, double delta, int swap_from, uint64_t seed)
{
	rng_t r;
	rng_seed(&r, seed, 0);
	double u[D], nu = 0;
	for (int j = 0; j < D; j++) {
		u[j] = rng_normal(&r);
		nu += u[j] * u[j];
	}
	for (int j = 0; j < D; j++)
		u[j] /= sqrt(nu);
	for (int i = 0; i < 2 * PER; i++) {
		int t = i >= PER;
		int swap = (t ? i - PER : i) >= swap_from;
		double s = t != swap ? delta : 0.0;
		dom[i] = (uint8_t)t;
		for (int j = 0; j < D; j++)
			x[(size_t)i * D + j] = (float)(rng_normal(&r) + s * u[j]);
	}
}

static double phi(double z)
{
	return 0.5 * erfc(-z / sqrt(2.0));
}

int main(void)
{
	float *x = malloc(sizeof *x * 2 * PER * D);
	uint8_t *dom = malloc(2 * PER);
	pad_opts o;
	pad_result r, r2;
	pad_opts_default(&o);
	CHECK(o.nc == 10 && o.C[0] == 1e-5 && fabs(o.C[9] - 1e4) < 1e-9);

	/* against the Bayes error, both protocols, three separations */
	const double deltas[] = {1.0, 2.0, 3.0};
	for (int k = 0; k < 3; k++) {
		gaussians(x, dom, deltas[k], PER, 10 + (uint64_t)k);
		double bayes = phi(-deltas[k] / 2);
		for (int prot = 0; prot < 2; prot++) {
			o.protocol = prot;
			CHECK(pad_compute(x, dom, 2 * PER, D, &o, &r) == 0);
			CHECK_MSG(fabs(r.eps - bayes) <= 0.02, "delta %g protocol %d: eps %.4f, Bayes %.4f",
			          deltas[k], prot, r.eps, bayes);
			CHECK_MSG(fabs(r.pad - 2 * (1 - 2 * bayes)) <= 0.08, "delta %g: PAD %.4f, theory %.4f",
			          deltas[k], r.pad, 2 * (1 - 2 * bayes));
			CHECK(r.pad == 2 * (1 - 2 * r.eps));
			CHECK(r.n_train[0] == PER / 2 && r.n_train[1] == PER / 2);
			CHECK(r.n_val[0] == (prot ? PER / 4 : 0) && r.n_test[1] == (prot ? PER / 4 : PER / 2));
		}
	}
	o.protocol = PAD_PAPER;

	/* identical distributions */
	gaussians(x, dom, 0.0, PER, 20);
	CHECK(pad_compute(x, dom, 2 * PER, D, &o, &r) == 0);
	CHECK_MSG(r.pad >= 0 && r.pad <= 0.1, "identical, paper: PAD %.4f", r.pad);
	o.protocol = PAD_HELD_OUT;
	CHECK(pad_compute(x, dom, 2 * PER, D, &o, &r) == 0);
	CHECK_MSG(fabs(r.pad) <= 0.15, "identical, held-out: PAD %.4f", r.pad);
	o.protocol = PAD_PAPER;

	/* far apart: no error at all, PAD 2 */
	gaussians(x, dom, 20.0, PER, 30);
	CHECK(pad_compute(x, dom, 2 * PER, D, &o, &r) == 0);
	CHECK(r.eps == 0.0 && r.pad == 2.0 && !r.flipped);

	/* the second half of each domain trades places with the other domain: the trained
	 * classifier is wrong on most test rows, and the rule "an error above 0.5 counts as
	 * 1 - error" turns that into the Bayes error with flipped = 1 (both protocols: validation
	 * and test rows are both swapped) */
	gaussians(x, dom, 3.0, PER / 2, 40);
	for (int prot = 0; prot < 2; prot++) {
		o.protocol = prot;
		CHECK(pad_compute(x, dom, 2 * PER, D, &o, &r) == 0);
		CHECK_MSG(r.flipped && fabs(r.eps - phi(-1.5)) <= 0.02, "flipped: %d eps %.4f", r.flipped,
		          r.eps);
	}
	o.protocol = PAD_PAPER;

	/* deterministic, and the other solvers agree on this easy problem */
	gaussians(x, dom, 2.0, PER, 50);
	CHECK(pad_compute(x, dom, 2 * PER, D, &o, &r) == 0);
	CHECK(pad_compute(x, dom, 2 * PER, D, &o, &r2) == 0);
	CHECK(!memcmp(&r, &r2, sizeof r));
	pad_opts oh = o;
	oh.solver = 3; /* L2R_L1LOSS_SVC_DUAL, the hinge loss */
	oh.tol = 0.1;
	CHECK(pad_compute(x, dom, 2 * PER, D, &oh, &r2) == 0);
	CHECK_MSG(fabs(r.eps - r2.eps) <= 0.01, "hinge eps %.4f vs squared hinge %.4f", r2.eps, r.eps);
	/* scaling the features changes nothing once standardised */
	for (int i = 0; i < 2 * PER * D; i++)
		x[i] = x[i] * 1000.0f + 5.0f;
	CHECK(pad_compute(x, dom, 2 * PER, D, &o, &r2) == 0);
	CHECK_MSG(fabs(r.eps - r2.eps) <= 0.002, "scaled: eps %.4f vs %.4f", r2.eps, r.eps);

	/* bad input */
	gaussians(x, dom, 1.0, PER, 60);
	CHECK_ERR(pad_compute(x, dom, PER, D, &o, &r), "target domain has 0 rows");
	CHECK_ERR(pad_compute(x + (size_t)(PER - 3) * D, dom + PER - 3, 6, D, &o, &r),
	          "source domain has 3 rows; the paper's protocol needs at least 4");
	o.protocol = PAD_HELD_OUT;
	CHECK_ERR(pad_compute(x + (size_t)(PER - 5) * D, dom + PER - 5, 10, D, &o, &r),
	          "source domain has 5 rows; the held-out protocol needs at least 8");
	o.protocol = PAD_PAPER;
	CHECK(pad_compute(x + (size_t)(PER - 4) * D, dom + PER - 4, 8, D, &o, &r) == 0);
	x[17] = NAN;
	CHECK_ERR(pad_compute(x, dom, 2 * PER, D, &o, &r), "non-finite value nan at row 1, column 7");
	x[17] = INFINITY;
	CHECK_ERR(pad_compute(x, dom, 2 * PER, D, &o, &r), "non-finite value inf at row 1, column 7");
	x[17] = 0;
	dom[5] = 2;
	CHECK_ERR(pad_compute(x, dom, 2 * PER, D, &o, &r), "value 2 at index 5 is neither");

	/* raw images: a grey 2x2 set against an RGB one; grey pixels repeated over 3 channels */
	uint8_t g[3 * 4] = {0, 255, 0, 255, 10, 10, 10, 10, 20, 20, 20, 20};
	uint8_t c[2 * 12], lab[3] = {0};
	for (int i = 0; i < 24; i++)
		c[i] = (uint8_t)i;
	dataset s = {.n = 3, .h = 2, .w = 2, .c = 1, .images = g, .labels = lab};
	dataset t = {.n = 2, .h = 2, .w = 2, .c = 3, .images = c, .labels = lab};
	pad_input in;
	CHECK(pad_from_datasets(&s, &t, 0, 1, &in) == 0);
	CHECK(in.n == 5 && in.d == 12 && in.dom[2] == 0 && in.dom[3] == 1);
	CHECK(in.x[0] == -1.0f && in.x[1] == -1.0f && in.x[2] == -1.0f && in.x[3] == 1.0f);
	CHECK_CLOSE(in.x[4 * 12 + 11], 23 / 127.5 - 1, 1e-6);
	pad_input_free(&in);
	CHECK(pad_from_datasets(&s, &t, 2, 1, &in) == 0);
	CHECK(in.n == 4);
	pad_input_free(&in);
	CHECK_ERR(pad_from_datasets(&s, &t, 3, 1, &in), "target: 3 images asked for, it has 2");
	t.h = 1;
	CHECK_ERR(pad_from_datasets(&s, &t, 0, 1, &in), "not comparable");

	free(x);
	free(dom);
	return check_summary("test_pad");
}
