/* nn.c - layers as forward/backward pairs; see nn.h for the conventions. */
#include "net/nn.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "base/rng.h"

static int nn_threads = 1;

void nn_set_threads(int n)
{
	nn_threads = n < 1 ? 1 : n;
	openblas_set_num_threads(1);
	omp_set_num_threads(nn_threads);
}

/* [lo,hi) of part i of n split into k nearly equal parts */
static inline void part(int64_t n, int k, int i, int64_t *lo, int64_t *hi)
{
	*lo = n * i / k;
	*hi = n * (i + 1) / k;
}

void nn_input_pixels_u8(float *out, const uint8_t *in, int64_t npix, int C)
{
	const float s = 1.0f / 127.5f;
	if (C == 3) {
#pragma omp simd
		for (int64_t i = 0; i < npix * 3; i++)
			out[i] = (float)in[i] * s - 1.0f;
	} else {
		for (int64_t i = 0; i < npix; i++) {
			float v = (float)in[i] * s - 1.0f;
			out[3 * i] = v;
			out[3 * i + 1] = v;
			out[3 * i + 2] = v;
		}
	}
}

void nn_input_from_u8(float *out, const uint8_t *in, int B, int H, int W, int C)
{
	int64_t npix = (int64_t)B * H * W;
#pragma omp parallel for schedule(static) if (npix > 4096)
	for (int k = 0; k < 64; k++) {
		int64_t lo, hi;
		part(npix, 64, k, &lo, &hi);
		nn_input_pixels_u8(out + lo * 3, in + lo * C, hi - lo, C);
	}
}

/* --- conv2d ----------------------------------------------------------------------------------- */

/* Patch rows of images [b0,b1): row (b,oy,ox) = in[b, oy..oy+KS, ox..ox+KS, :] in (ky,kx,c)
 * order; in NHWC each ky slice is KS*C contiguous floats. */
static void im2col(float *cols, const float *in, int b0, int b1, int H, int W, int C, int KS)
{
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C, span = KS * C;
	for (int b = b0; b < b1; b++)
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++) {
				float *row = cols + (((int64_t)b * OH + oy) * OW + ox) * K;
				for (int ky = 0; ky < KS; ky++) {
					/* a plain loop: for conv1 a span is 15 floats, too short for memcpy */
					const float *src = in + (((int64_t)b * H + oy + ky) * W + ox) * C;
					float *dst = row + ky * span;
#pragma omp simd
					for (int j = 0; j < span; j++)
						dst[j] = src[j];
				}
			}
}

static void col2im_add(float *din, const float *dcols, int b0, int b1, int H, int W, int C, int KS)
{
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C, span = KS * C;
	for (int b = b0; b < b1; b++)
		for (int oy = 0; oy < OH; oy++)
			for (int ox = 0; ox < OW; ox++) {
				const float *row = dcols + (((int64_t)b * OH + oy) * OW + ox) * K;
				for (int ky = 0; ky < KS; ky++) {
					float *d = din + (((int64_t)b * H + oy + ky) * W + ox) * C;
					const float *s = row + ky * span;
#pragma omp simd
					for (int j = 0; j < span; j++)
						d[j] += s[j];
				}
			}
}

void nn_conv2d_forward(float *out, float *cols, const float *in, const float *w, const float *b,
                       int B, int H, int W, int C, int OC, int KS)
{
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C;
	int64_t rows_per_img = (int64_t)OH * OW;
	/* fixed chunks of images, not one per thread: OpenBLAS rounds a row differently by its
	 * place in the matrix, so the split must not depend on the thread count */
	int nch = NN_CHUNKS < B ? NN_CHUNKS : B;
#pragma omp parallel for schedule(static) num_threads(nn_threads)
	for (int t = 0; t < nch; t++) {
		int64_t b0, b1;
		part(B, nch, t, &b0, &b1);
		if (b1 <= b0)
			continue;
		im2col(cols, in, (int)b0, (int)b1, H, W, C, KS);
		int64_t r0 = b0 * rows_per_img, nr = (b1 - b0) * rows_per_img;
		float *o = out + r0 * OC;
		for (int64_t r = 0; r < nr; r++)
			memcpy(o + r * OC, b, sizeof(float) * OC);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, OC, K, 1.0f,
		            cols + r0 * K, K, w, K, 1.0f, o, OC);
	}
}

/* colsum[c] += sum over rows of a (N,C), in NN_CHUNKS fixed chunks (double partials). */
static void colsum_add(float *colsum, const float *a, int64_t N, int C)
{
	double part_s[NN_CHUNKS][C];
#pragma omp parallel for schedule(static) if (N * C > 65536)
	for (int ch = 0; ch < NN_CHUNKS; ch++) {
		int64_t lo, hi;
		part(N, NN_CHUNKS, ch, &lo, &hi);
		double *s = part_s[ch];
		for (int c = 0; c < C; c++)
			s[c] = 0;
		for (int64_t r = lo; r < hi; r++)
#pragma omp simd
			for (int c = 0; c < C; c++)
				s[c] += a[r * C + c];
	}
	for (int c = 0; c < C; c++) {
		double s = 0;
		for (int ch = 0; ch < NN_CHUNKS; ch++)
			s += part_s[ch][c];
		colsum[c] += (float)s;
	}
}

void nn_conv2d_backward(float *din, float *dw, float *db, float *dcols, const float *dout,
                        const float *cols, const float *w, int B, int H, int W, int C, int OC,
                        int KS)
{
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C;
	int64_t P = (int64_t)B * OH * OW, rows_per_img = (int64_t)OH * OW;
	colsum_add(db, dout, P, OC);
	/* dw (OC,K) += dout^T (OC,P) x cols (P,K); the K columns in fixed chunks of at least 32
	 * (at most NN_CHUNKS), so each element is one full-length dot product computed the same way
	 * whatever the thread count. */
	int nkc = K / 32 < 1 ? 1 : K / 32 > NN_CHUNKS ? NN_CHUNKS : K / 32;
#pragma omp parallel for schedule(static) num_threads(nn_threads)
	for (int t = 0; t < nkc; t++) {
		int64_t k0, k1;
		part(K, nkc, t, &k0, &k1);
		if (k1 > k0)
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, (int)(k1 - k0), (int)P,
			            1.0f, dout, OC, cols + k0, K, 1.0f, dw + k0, K);
	}
	if (!din)
		return;
	/* dcols (P,K) = dout (P,OC) x w (OC,K), then scatter-add, per image range. */
	int nch = NN_CHUNKS < B ? NN_CHUNKS : B;
#pragma omp parallel for schedule(static) num_threads(nn_threads)
	for (int t = 0; t < nch; t++) {
		int64_t b0, b1;
		part(B, nch, t, &b0, &b1);
		if (b1 <= b0)
			continue;
		int64_t r0 = b0 * rows_per_img, nr = (b1 - b0) * rows_per_img;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, K, OC, 1.0f,
		            dout + r0 * OC, OC, w, K, 0.0f, dcols + r0 * K, K);
		col2im_add(din, dcols, (int)b0, (int)b1, H, W, C, KS);
	}
}

/* --- batchnorm -------------------------------------------------------------------------------- */

void nn_bn_stats_finish(int C, const double (*s1)[C], const double (*s2)[C], int64_t R,
                        float *mean, float *rstd, float *run_mean, float *run_var, float momentum)
{
	for (int c = 0; c < C; c++) {
		double a = 0, q = 0;
		for (int ch = 0; ch < NN_CHUNKS; ch++) {
			a += s1[ch][c];
			q += s2[ch][c];
		}
		double mu = a / R, var = q / R - mu * mu;
		if (var < 0)
			var = 0;
		mean[c] = (float)mu;
		rstd[c] = (float)(1.0 / sqrt(var + NN_BN_EPS));
		double unbiased = R > 1 ? var * R / (R - 1) : var;
		if (!run_mean)
			continue;
		run_mean[c] = (1 - momentum) * run_mean[c] + momentum * (float)mu;
		run_var[c] = (1 - momentum) * run_var[c] + momentum * (float)unbiased;
	}
}

void nn_bn_bwd_finish(int C, const double (*s1)[C], const double (*s2)[C], int64_t R,
                      float *dgamma, float *dbeta, float *k1, float *k2)
{
	for (int c = 0; c < C; c++) {
		double a = 0, q = 0;
		for (int ch = 0; ch < NN_CHUNKS; ch++) {
			a += s1[ch][c];
			q += s2[ch][c];
		}
		if (dgamma) {
			dbeta[c] += (float)a;
			dgamma[c] += (float)q;
		}
		k1[c] = (float)(a / (double)R);
		k2[c] = (float)(q / (double)R);
	}
}

void nn_batchnorm_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                          const float *beta, float *const *run_mean, float *const *run_var, int N,
                          int C, int groups, int train, float momentum)
{
	if (!train) {
		float sc[C], sh[C];
		for (int c = 0; c < C; c++) {
			sc[c] = gamma[c] / sqrtf(run_var[0][c] + NN_BN_EPS);
			sh[c] = beta[c] - run_mean[0][c] * sc[c];
		}
#pragma omp parallel for schedule(static) if ((int64_t)N * C > 65536)
		for (int64_t r = 0; r < N; r++)
#pragma omp simd
			for (int c = 0; c < C; c++)
				out[r * C + c] = in[r * C + c] * sc[c] + sh[c];
		return;
	}
	int64_t R = N / groups;
	for (int g = 0; g < groups; g++) {
		const float *x = in + g * R * C;
		float *y = out + g * R * C;
		double s1[NN_CHUNKS][C], s2[NN_CHUNKS][C];
#pragma omp parallel for schedule(static) if (R * C > 65536)
		for (int ch = 0; ch < NN_CHUNKS; ch++) {
			int64_t lo, hi;
			part(R, NN_CHUNKS, ch, &lo, &hi);
			for (int c = 0; c < C; c++)
				s1[ch][c] = s2[ch][c] = 0;
			for (int64_t r = lo; r < hi; r++)
#pragma omp simd
				for (int c = 0; c < C; c++) {
					double v = x[r * C + c];
					s1[ch][c] += v;
					s2[ch][c] += v * v;
				}
		}
		float *m = mean + g * C, *rs = rstd + g * C;
		float sc[C], sh[C];
		nn_bn_stats_finish(C, s1, s2, R, m, rs, run_mean[g], run_var[g], momentum);
		for (int c = 0; c < C; c++) {
			sc[c] = gamma[c] * rs[c];
			sh[c] = beta[c] - m[c] * sc[c];
		}
#pragma omp parallel for schedule(static) if (R * C > 65536)
		for (int64_t r = 0; r < R; r++)
#pragma omp simd
			for (int c = 0; c < C; c++)
				y[r * C + c] = x[r * C + c] * sc[c] + sh[c];
	}
}

void nn_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *mean, const float *rstd,
                           const float *gamma, int N, int C, int groups)
{
	int64_t R = N / groups;
	for (int g = 0; g < groups; g++) {
		const float *x = in + g * R * C, *dy = dout + g * R * C;
		float *dx = din + g * R * C;
		const float *m = mean + g * C, *rs = rstd + g * C;
		double s1[NN_CHUNKS][C], s2[NN_CHUNKS][C];
#pragma omp parallel for schedule(static) if (R * C > 65536)
		for (int ch = 0; ch < NN_CHUNKS; ch++) {
			int64_t lo, hi;
			part(R, NN_CHUNKS, ch, &lo, &hi);
			for (int c = 0; c < C; c++)
				s1[ch][c] = s2[ch][c] = 0;
			for (int64_t r = lo; r < hi; r++)
#pragma omp simd
				for (int c = 0; c < C; c++) {
					float xh = (x[r * C + c] - m[c]) * rs[c];
					s1[ch][c] += dy[r * C + c];
					s2[ch][c] += dy[r * C + c] * xh;
				}
		}
		float k1[C], k2[C], gr[C], mc[C];
		nn_bn_bwd_finish(C, s1, s2, R, dgamma, dbeta, k1, k2);
		for (int c = 0; c < C; c++) {
			/* dx = gamma*rstd * (dy - mean(dy) - xhat * mean(dy*xhat)) */
			gr[c] = gamma[c] * rs[c];
			mc[c] = m[c];
		}
#pragma omp parallel for schedule(static) if (R * C > 65536)
		for (int64_t r = 0; r < R; r++)
#pragma omp simd
			for (int c = 0; c < C; c++) {
				float xh = (x[r * C + c] - mc[c]) * rs[c];
				dx[r * C + c] += gr[c] * (dy[r * C + c] - k1[c] - xh * k2[c]);
			}
	}
}

/* --- relu ----------------------------------------------------------------------------------- */

/* selects between loaded values (a conditional load is not if-converted, and the branch it
 * leaves mispredicts on every other random sign); the if applies to the parallel region
 * only: a plain if on a combined simd construct turns the vectorisation off with it */
void nn_relu_forward(float *out, const float *in, size_t n)
{
#pragma omp parallel for simd schedule(static) if (parallel: n > 65536)
	for (size_t i = 0; i < n; i++) {
		float v = in[i];
		out[i] = v > 0 ? v : 0.0f;
	}
}

void nn_relu_backward(float *din, const float *dout, const float *out, size_t n)
{
#pragma omp parallel for simd schedule(static) if (parallel: n > 65536)
	for (size_t i = 0; i < n; i++) {
		float d = dout[i];
		din[i] += out[i] > 0 ? d : 0.0f;
	}
}

/* --- maxpool 2x2 -------------------------------------------------------------------------------- */

void nn_maxpool2_forward(float *out, uint8_t *arg, const float *in, int B, int H, int W, int C)
{
	int OH = H / 2, OW = W / 2;
#pragma omp parallel for schedule(static) if ((int64_t)B * H * W * C > 65536)
	for (int64_t bo = 0; bo < (int64_t)B * OH; bo++) {
		int64_t b = bo / OH;
		int oy = (int)(bo % OH);
		for (int ox = 0; ox < OW; ox++) {
			const float *p00 = in + ((b * H + 2 * oy) * W + 2 * ox) * C;
			const float *p01 = p00 + C, *p10 = p00 + (int64_t)W * C, *p11 = p10 + C;
			float *o = out + ((b * OH + oy) * OW + ox) * C;
			uint8_t *a = arg + ((b * OH + oy) * OW + ox) * C;
#pragma omp simd
			for (int c = 0; c < C; c++) {
				/* the first of equal maxima wins, as a scan p00, p01, p10, p11 with '>';
				 * written without branches so that it vectorises */
				float v0 = p00[c], v1 = p01[c], v2 = p10[c], v3 = p11[c];
				float m01 = v1 > v0 ? v1 : v0, m23 = v3 > v2 ? v3 : v2;
				o[c] = m23 > m01 ? m23 : m01;
				int k01 = (v1 > v0) & 1, k23 = 2 + ((v3 > v2) & 1), s = (m23 > m01) & 1;
				a[c] = (uint8_t)(k01 + s * (k23 - k01));
			}
		}
	}
}

void nn_maxpool2_backward(float *din, const float *dout, const uint8_t *arg, int B, int H, int W,
                          int C)
{
	int OH = H / 2, OW = W / 2;
#pragma omp parallel for schedule(static) if ((int64_t)B * H * W * C > 65536)
	for (int64_t bo = 0; bo < (int64_t)B * OH; bo++) {
		int64_t b = bo / OH;
		int oy = (int)(bo % OH);
		for (int ox = 0; ox < OW; ox++) {
			float *p00 = din + ((b * H + 2 * oy) * W + 2 * ox) * C;
			float *p01 = p00 + C, *p10 = p00 + (int64_t)W * C, *p11 = p10 + C;
			const float *d = dout + ((b * OH + oy) * OW + ox) * C;
			const uint8_t *a = arg + ((b * OH + oy) * OW + ox) * C;
#pragma omp simd
			for (int c = 0; c < C; c++) {
				int k = a[c];
				p00[c] += k == 0 ? d[c] : 0.0f;
				p01[c] += k == 1 ? d[c] : 0.0f;
				p10[c] += k == 2 ? d[c] : 0.0f;
				p11[c] += k == 3 ? d[c] : 0.0f;
			}
		}
	}
}

/* --- dropout2d ----------------------------------------------------------------------------------- */

void nn_dropout2d_mask(float *mask, int B, int C, float p, uint64_t seed, uint64_t step)
{
	nn_dropout2d_mask_rows(mask, 0, B, C, p, seed, step);
}

void nn_dropout2d_mask_rows(float *mask, int b0, int b1, int C, float p, uint64_t seed,
                            uint64_t step)
{
	float keep = 1.0f / (1.0f - p);
	for (int64_t i = (int64_t)b0 * C; i < (int64_t)b1 * C; i++) {
		float u = (float)(rng_hash(seed, step, (uint64_t)i) >> 40) * 0x1.0p-24f;
		mask[i] = u < p ? 0.0f : keep;
	}
}

void nn_dropout2d_forward(float *out, const float *in, const float *mask, int B, int S, int C)
{
	for (int64_t b = 0; b < B; b++)
		for (int64_t s = 0; s < S; s++)
			for (int c = 0; c < C; c++)
				out[(b * S + s) * C + c] = in[(b * S + s) * C + c] * mask[b * C + c];
}

void nn_dropout2d_backward(float *din, const float *dout, const float *mask, int B, int S, int C)
{
	for (int64_t b = 0; b < B; b++)
		for (int64_t s = 0; s < S; s++)
			for (int c = 0; c < C; c++)
				din[(b * S + s) * C + c] += dout[(b * S + s) * C + c] * mask[b * C + c];
}

/* --- linear --------------------------------------------------------------------------------- */

/* The dense layers' products in fixed column chunks (of the output in the forward, of the
 * input features in the backward) when a dimension is wide enough: the split depends on the
 * shapes only, so the bytes do not depend on the thread count; the threads run the chunks
 * when the product is large enough to pay for waking them.  OpenBLAS's forward (A x B^T) loses
 * speed per chunk beyond 2 (768-100 layer, 1 thread: 87 GFLOP/s whole, 83 in 2 chunks, 71 in
 * 4); the backward products keep it in 4. */
#define NN_FC_FWD_CHUNKS 2
#define NN_FC_BWD_CHUNKS 4
static int fc_chunks(int n, int k)
{
	return n >= 16 * k ? k : 1;
}

static int fc_parallel(int B, int In, int Out)
{
	return (int64_t)B * In * Out > (1 << 20);
}

void nn_linear_forward(float *out, const float *in, const float *w, const float *b, int B, int In,
                       int Out)
{
	for (int r = 0; r < B; r++)
		memcpy(out + (int64_t)r * Out, b, sizeof(float) * Out);
	int nch = fc_chunks(Out, NN_FC_FWD_CHUNKS);
#pragma omp parallel for schedule(static) num_threads(nn_threads) if (fc_parallel(B, In, Out))
	for (int t = 0; t < nch; t++) {
		int64_t o0, o1;
		part(Out, nch, t, &o0, &o1);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, (int)(o1 - o0), In, 1.0f, in, In,
		            w + o0 * In, In, 1.0f, out + o0, Out);
	}
}

void nn_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int B, int In, int Out)
{
	if (dw)
		colsum_add(db, dout, B, Out);
	/* tasks [t0,nch): dw's column chunks (none without dw), [nch,2 nch): din's; each element is
	 * one product over the whole of B (dw) or Out (din), whichever thread runs it */
	int nch = fc_chunks(In, NN_FC_BWD_CHUNKS), t0 = dw ? 0 : nch, tasks = din ? 2 * nch : nch;
#pragma omp parallel for schedule(static) num_threads(nn_threads) if (fc_parallel(B, In, Out))
	for (int t = t0; t < tasks; t++) {
		int64_t k0, k1;
		part(In, nch, t % nch, &k0, &k1);
		if (t < nch)
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Out, (int)(k1 - k0), B, 1.0f,
			            dout, Out, in + k0, In, 1.0f, dw + k0, In);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, (int)(k1 - k0), Out, 1.0f,
			            dout, Out, w + k0, In, 1.0f, din + k0, In);
	}
}

/* --- GRL ------------------------------------------------------------------------------------- */

void nn_grl_backward(float *din, const float *dout, float lambda, size_t n)
{
	for (size_t i = 0; i < n; i++)
		din[i] += -lambda * dout[i];
}

/* --- losses ---------------------------------------------------------------------------------- */

int nn_argmax(const float *v, int n)
{
	int k = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[k])
			k = i;
	return k;
}

double nn_softmax_ce_forward(float *probs, const float *logits, const uint8_t *labels, int B, int K,
                             int *correct)
{
	double loss = 0;
	int ok = 0;
	for (int r = 0; r < B; r++) {
		const float *z = logits + (int64_t)r * K;
		float *p = probs + (int64_t)r * K;
		int am = nn_argmax(z, K);
		double mx = z[am], s = 0;
		for (int k = 0; k < K; k++)
			s += exp((double)z[k] - mx);
		for (int k = 0; k < K; k++)
			p[k] = (float)(exp((double)z[k] - mx) / s);
		loss += -((double)z[labels[r]] - mx - log(s));
		ok += am == labels[r];
	}
	if (correct)
		*correct = ok;
	return loss / B;
}

void nn_softmax_ce_backward(float *dlogits, const float *probs, const uint8_t *labels, int B, int K,
                            float dloss)
{
	float s = dloss / B;
	for (int r = 0; r < B; r++)
		for (int k = 0; k < K; k++)
			dlogits[(int64_t)r * K + k] += s * (probs[(int64_t)r * K + k] - (k == labels[r]));
}

double nn_bce_forward(const float *z, int y, int B, int *correct)
{
	double loss = 0;
	int ok = 0;
	for (int r = 0; r < B; r++) {
		double v = z[r];
		loss += (v > 0 ? v : 0) - v * y + log1p(exp(-fabs(v)));
		ok += (v > 0) == (y != 0);
	}
	if (correct)
		*correct = ok;
	return loss / B;
}

void nn_bce_backward(float *dz, const float *z, int y, int B, float dloss)
{
	float s = dloss / B;
	for (int r = 0; r < B; r++) {
		double sig = 1.0 / (1.0 + exp(-(double)z[r]));
		dz[r] += s * (float)(sig - y);
	}
}
