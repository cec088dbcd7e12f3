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
	return check_summary("test_kern");
}
