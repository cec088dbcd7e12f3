/* test_kern.c - the direct convolution kernels (lib/kern.c) against the im2col + sgemm layers
 * of lib/nn.c (themselves checked by finite differences in test_nn.c): forward, din, dw and
 * db for both convolutions of the network at 28x28 and 32x32, several batch sizes, and
 * independence of the thread count. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kern.h"
#include "nn.h"
#include "rng.h"

static rng_t R;

static float *vec(size_t n, float a)
{
	float *v = malloc((n ? n : 1) * sizeof(float));
	for (size_t i = 0; i < n; i++)
		v[i] = (float)((2 * rng_uniform(&R) - 1) * a);
	return v;
}

static double maxdiff(const float *a, const float *b, size_t n, double *scale)
{
	double d = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - b[i]);
		if (e > d)
			d = e;
		if (fabs(b[i]) > s)
			s = fabs(b[i]);
	}
	*scale = s;
	return d;
}

static void compare(const char *what, const float *got, const float *want, size_t n)
{
	double s, d = maxdiff(got, want, n, &s);
	CHECK_MSG(d <= 1e-5 * (1 + s), "%s: max difference %g (scale %g)", what, d, s);
}

static void one(int B, int H, int C, int OC, int with_din)
{
	int KS = 5, W = H, OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C;
	size_t nin = (size_t)B * H * W * C, nout = (size_t)B * OH * OW * OC, nw = (size_t)OC * K;
	size_t ncols = (size_t)B * OH * OW * K;
	char tag[96];
	snprintf(tag, sizeof tag, "B%d %dx%dx%d -> OC%d", B, H, W, C, OC);
	CHECK_MSG(kern_conv2d_supported(H, W, C, OC, KS, 1), "%s: direct path not taken", tag);
	float *in = vec(nin, 1), *w = vec(nw, 0.2f), *b = vec(OC, 0.5f), *dout = vec(nout, 1);
	float *cols = vec(ncols, 0), *dcols = vec(ncols, 0);
	float *o_ref = vec(nout, 0), *o_k = vec(nout, 0);
	nn_conv2d_forward(o_ref, cols, in, w, b, B, H, W, C, OC, KS);
	kern_conv2d_forward(o_k, NULL, in, w, b, B, H, W, C, OC, KS);
	char m[128];
	snprintf(m, sizeof m, "%s forward", tag);
	compare(m, o_k, o_ref, nout);
	/* backward adds: start every gradient from the same non-zero values */
	float *din_r = vec(nin, 0.1f), *dw_r = vec(nw, 0.1f), *db_r = vec(OC, 0.1f);
	float *din_k = malloc(nin * sizeof(float)), *dw_k = malloc(nw * sizeof(float));
	float *db_k = malloc(OC * sizeof(float));
	memcpy(din_k, din_r, nin * sizeof(float));
	memcpy(dw_k, dw_r, nw * sizeof(float));
	memcpy(db_k, db_r, OC * sizeof(float));
	nn_conv2d_backward(with_din ? din_r : NULL, dw_r, db_r, dcols, dout, cols, w, B, H, W, C, OC,
	                   KS);
	kern_conv2d_backward(with_din ? din_k : NULL, dw_k, db_k, NULL, dout, NULL, in, w, B, H, W, C,
	                     OC, KS);
	snprintf(m, sizeof m, "%s dw", tag);
	compare(m, dw_k, dw_r, nw);
	snprintf(m, sizeof m, "%s db", tag);
	compare(m, db_k, db_r, OC);
	snprintf(m, sizeof m, "%s din", tag);
	compare(m, din_k, din_r, nin);
	/* the same bytes with 1 and 2 threads */
	float *dw1 = calloc(nw, 4), *dw2 = calloc(nw, 4), *db1 = calloc(OC, 4), *db2 = calloc(OC, 4);
	float *di1 = calloc(nin, 4), *di2 = calloc(nin, 4), *o1 = calloc(nout, 4), *o2 = calloc(nout, 4);
	int save = omp_get_max_threads();
	omp_set_num_threads(1);
	kern_conv2d_forward(o1, NULL, in, w, b, B, H, W, C, OC, KS);
	kern_conv2d_backward(with_din ? di1 : NULL, dw1, db1, NULL, dout, NULL, in, w, B, H, W, C, OC,
	                     KS);
	omp_set_num_threads(2);
	kern_conv2d_forward(o2, NULL, in, w, b, B, H, W, C, OC, KS);
	kern_conv2d_backward(with_din ? di2 : NULL, dw2, db2, NULL, dout, NULL, in, w, B, H, W, C, OC,
	                     KS);
	omp_set_num_threads(save);
	CHECK_MSG(!memcmp(o1, o2, nout * 4), "%s: forward depends on the thread count", tag);
	CHECK_MSG(!memcmp(dw1, dw2, nw * 4), "%s: dw depends on the thread count", tag);
	CHECK_MSG(!memcmp(db1, db2, OC * 4), "%s: db depends on the thread count", tag);
	CHECK_MSG(!memcmp(di1, di2, nin * 4), "%s: din depends on the thread count", tag);
	float *bufs[] = {in, w, b, dout, cols, dcols, o_ref, o_k, din_r, dw_r, db_r, din_k, dw_k,
	                 db_k, dw1, dw2, db1, db2, di1, di2, o1, o2};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		free(bufs[i]);
}

/* evaluation-mode fused conv -> BN -> pool -> ReLU against the layer-by-layer nn.c path */
static void eval_fused(int B, int H, int C, int OC, int bn)
{
	int KS = 5, W = H, OH = H - KS + 1, OW = W - KS + 1, PH = OH / 2, PW = OW / 2;
	size_t nin = (size_t)B * H * W * C, nout = (size_t)B * OH * OW * OC, np = (size_t)B * PH * PW * OC;
	float *in = vec(nin, 1), *w = vec((size_t)OC * KS * KS * C, 0.2f), *b = vec(OC, 0.5f);
	float *g = vec(OC, 1), *be = vec(OC, 0.5f), *rm = vec(OC, 0.5f), *rv = vec(OC, 1);
	for (int o = 0; o < OC; o++)
		rv[o] = 0.1f + rv[o] * rv[o];
	float *cols = vec((size_t)B * OH * OW * KS * KS * C, 0), *c = vec(nout, 0), *n = vec(nout, 0);
	float *pl = vec(np, 0), *want = vec(np, 0), *got = vec(np, 0), *mean = vec(OC, 0), *rs = vec(OC, 0);
	uint8_t *arg = malloc(np);
	nn_conv2d_forward(c, cols, in, w, b, B, H, W, C, OC, KS);
	if (bn)
		nn_batchnorm_forward(n, mean, rs, c, g, be, (float *[]){rm}, (float *[]){rv}, B * OH * OW, OC,
		                     1, 0, 0.1f);
	nn_maxpool2_forward(pl, arg, bn ? n : c, B, OH, OW, OC);
	nn_relu_forward(want, pl, np);
	int rc = kern_conv2d_bn_pool_relu_eval(got, in, w, b, bn ? g : NULL, be, rm, rv, B, H, W, C,
	                                       OC, KS);
	char m[96];
	snprintf(m, sizeof m, "eval fused B%d %dx%dx%d -> OC%d bn %d", B, H, W, C, OC, bn);
	CHECK_MSG(rc == 0, "%s: not handled", m);
	compare(m, got, want, np);
	float *bufs[] = {in, w, b, g, be, rm, rv, cols, c, n, pl, want, got, mean, rs};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		free(bufs[i]);
	free(arg);
}

/* training BN+pool+ReLU forward, then the fused backward (BN backward + conv backward in one)
 * against the layer-by-layer nn.c backward of the same forward */
static void train_fused(int B, int H, int C, int OC, int groups, int with_din)
{
	int KS = 5, W = H, OH = H - KS + 1, OW = W - KS + 1, PH = OH / 2, PW = OW / 2;
	size_t nin = (size_t)B * H * W * C, nc = (size_t)B * OH * OW * OC, np = (size_t)B * PH * PW * OC;
	size_t nw = (size_t)OC * KS * KS * C;
	float *in = vec(nin, 1), *w = vec(nw, 0.2f), *b = vec(OC, 0.5f), *g = vec(OC, 1), *be = vec(OC, 0.5f);
	float *rm = calloc(OC, 4), *rv = calloc(OC, 4), *rm2 = calloc(OC, 4), *rv2 = calloc(OC, 4);
	float *c = vec(nc, 0), *n = vec(nc, 0), *pl = vec(np, 0), *r_ref = vec(np, 0), *r_k = vec(np, 0);
	float *mean = vec(2 * OC, 0), *rstd = vec(2 * OC, 0), *mean2 = vec(2 * OC, 0), *rstd2 = vec(2 * OC, 0);
	float *cols = vec((size_t)B * OH * OW * KS * KS * C, 0), *dcols = vec((size_t)B * OH * OW * KS * KS * C, 0);
	uint8_t *arg = malloc(np), *arg2 = malloc(np);
	char m[96];
	snprintf(m, sizeof m, "train fused B%d %dx%dx%d -> OC%d groups %d", B, H, W, C, OC, groups);
	nn_conv2d_forward(c, cols, in, w, b, B, H, W, C, OC, KS);
	nn_batchnorm_forward(n, mean, rstd, c, g, be, (float *[]){rm, rm}, (float *[]){rv, rv}, B * OH * OW,
	                     OC, groups, 1, 0.1f);
	nn_maxpool2_forward(pl, arg, n, B, OH, OW, OC);
	nn_relu_forward(r_ref, pl, np);
	CHECK(kern_bn_pool_relu_forward(r_k, arg2, mean2, rstd2, c, g, be, (float *[]){rm2, rm2},
	                                (float *[]){rv2, rv2}, B, OH, OW, OC,
	                                groups, 0.1f) == 0);
	compare(m, r_k, r_ref, np);
	compare(m, rm2, rm, OC);
	compare(m, rv2, rv, OC);
	CHECK_MSG(!memcmp(arg, arg2, np), "%s: pool argmax differs", m);
	/* backward from a random gradient at the ReLU output */
	float *dr = vec(np, 1), *dp = calloc(np, 4), *dn = calloc(nc, 4), *dc = calloc(nc, 4);
	float *din_r = calloc(nin, 4), *dw_r = calloc(nw, 4), *db_r = calloc(OC, 4), *dg_r = calloc(OC, 4), *dbe_r = calloc(OC, 4);
	float *din_k = calloc(nin, 4), *dw_k = calloc(nw, 4), *db_k = calloc(OC, 4), *dg_k = calloc(OC, 4), *dbe_k = calloc(OC, 4);
	nn_relu_backward(dp, dr, r_ref, np);
	nn_maxpool2_backward(dn, dp, arg, B, OH, OW, OC);
	nn_batchnorm_backward(dc, dg_r, dbe_r, dn, c, mean, rstd, g, B * OH * OW, OC, groups);
	nn_conv2d_backward(with_din ? din_r : NULL, dw_r, db_r, dcols, dc, cols, w, B, H, W, C, OC, KS);
	CHECK(kern_conv2d_bn_backward(with_din ? din_k : NULL, dw_k, db_k, dg_k, dbe_k, dr, r_k, arg2, c,
	                              mean2, rstd2, g, in, w, B, H, W, C, OC, KS, groups) == 0);
	char mm[128];
	snprintf(mm, sizeof mm, "%s dw", m);
	compare(mm, dw_k, dw_r, nw);
	/* under BatchNorm the conv bias gradient is zero up to rounding (sums of ~1e4 terms of
	 * size ~1): both sides are noise, compared absolutely */
	double sc, dd = maxdiff(db_k, db_r, OC, &sc);
	CHECK_MSG(dd <= 2e-4 && sc <= 2e-4, "%s db: difference %g, size %g", m, dd, sc);
	snprintf(mm, sizeof mm, "%s dgamma", m);
	compare(mm, dg_k, dg_r, OC);
	snprintf(mm, sizeof mm, "%s dbeta", m);
	compare(mm, dbe_k, dbe_r, OC);
	snprintf(mm, sizeof mm, "%s din", m);
	compare(mm, din_k, din_r, nin);
	float *bufs[] = {in, w, b, g, be, rm, rv, rm2, rv2, c, n, pl, r_ref, r_k, mean, rstd, mean2,
	                 rstd2, cols, dcols, dr, dp, dn, dc, din_r, dw_r, db_r, dg_r, dbe_r, din_k,
	                 dw_k, db_k, dg_k, dbe_k};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		free(bufs[i]);
	free(arg);
	free(arg2);
}

int main(void)
{
	rng_seed(&R, 42, 0);
	nn_set_threads(2);
	if (!kern_conv2d_supported(28, 28, 3, 32, 5, 0)) {
		/* a build without AVX-512: the calls fall through to nn.c; nothing more to compare */
		printf("test_kern: direct kernels not built (no AVX-512); falling back to nn.c\n");
		CHECK(!kern_conv2d_supported(12, 12, 32, 48, 5, 0));
		return check_summary("test_kern");
	}
	int Bs[] = {1, 3, 9, 20};
	for (int i = 0; i < 4; i++) {
		one(Bs[i], 28, 3, 32, 0);   /* conv1, 28x28 */
		one(Bs[i], 28, 3, 32, 1);
		one(Bs[i], 32, 3, 32, 1);   /* conv1, 32x32 (overlapping last tile) */
		one(Bs[i], 12, 32, 48, 1);  /* conv2 after 28x28 */
		one(Bs[i], 14, 32, 48, 1);  /* conv2 after 32x32 */
	}
	CHECK(!kern_conv2d_supported(12, 12, 32, 40, 5, 0));
	train_fused(8, 28, 3, 32, 1, 0);
	train_fused(8, 28, 3, 32, 2, 0);
	train_fused(6, 32, 3, 32, 2, 0);
	train_fused(8, 12, 32, 48, 1, 1);
	train_fused(10, 14, 32, 48, 2, 1);
	for (int bn = 0; bn < 2; bn++) {
		eval_fused(5, 28, 3, 32, bn);
		eval_fused(5, 32, 3, 32, bn);
		eval_fused(5, 12, 32, 48, bn);
		eval_fused(5, 14, 32, 48, bn);
	}
	return check_summary("test_kern");
}
