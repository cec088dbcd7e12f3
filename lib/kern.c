/* kern.c - direct convolution kernels with AVX-512 register tiles; see kern.h.
 *
 * Every kernel is an outer product of broadcast scalars and 16-float vectors kept in zmm
 * accumulators (at most 24 of the 32 registers):
 *   forward   out[px][oc]    += in[oy+ky][ox+px+kx][c] * w[ky][kx][c][oc]   tile PX pixels x OC
 *   din       din[y][x+kx][c] += dout[oy][x][oc] * w[oc][ky][kx][c]         tile OW pixels x C
 *   dw        dw[ky][j][oc]  += in[oy+ky][ox][j] * dout[oy][ox][oc]         tile MT strip values x OC
 * where in NHWC the (kx,c) pairs of one kernel row are one contiguous strip of KS*C floats, so
 * j = kx*C + c indexes it. */
#include "kern.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "nn.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#define KERN_DIRECT 1
#else
#define KERN_DIRECT 0
#endif

/* largest weight tensor handled (OC*KS*KS*C); the scratch below is static, no allocation */
#define KERN_MAXW (48 * 5 * 5 * 48)

int kern_conv2d_supported(int H, int W, int C, int OC, int KS, int backward)
{
	(void)backward;  /* one predicate for both directions: backward relies on forward's path */
	if (!KERN_DIRECT)
		return 0;
	int OH = H - KS + 1, OW = W - KS + 1;
	if (OH < 1 || OW < 1 || (int64_t)OC * KS * KS * C > KERN_MAXW)
		return 0;
	/* the two layers of the network: conv1 (C 3, OC 32) and conv2 (C 32, OC 48) */
	if (!((C == 3 && OC == 32) || (C == 32 && OC == 48)))
		return 0;
	/* forward tiles: 12 pixels (OC 32) or 8 (OC 48), the last tile overlapping */
	if (OW < (OC == 32 ? 12 : 8))
		return 0;
	/* din tiles (only C = 32 has a din in the network): the whole output row */
	if (C == 32 && OW != 8 && OW != 10)
		return 0;
	return 1;
}

#if KERN_DIRECT
typedef __m512 vf;

static float wpack[KERN_MAXW] __attribute__((aligned(64)));
static float wpart[NN_CHUNKS][KERN_MAXW] __attribute__((aligned(64)));
static float bpart[NN_CHUNKS][64] __attribute__((aligned(64)));

/* --- forward tile: PX pixels of one output row, OC = 16*NV channels ---------------------------
 * in: the input at (oy, ox0); wp (KS,KS*C,OC); rs = W*C. */
#define DEF_FWD(NV, PX)                                                                        \
	static void fwd_##NV##_##PX(float *out, const float *in, const float *wp, const float *bias, \
	                            int rs, int C, int KS)                                         \
	{                                                                                          \
		vf acc[PX][NV];                                                                        \
		_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                   \
		{                                                                                      \
			vf bv = _mm512_loadu_ps(bias + 16 * v);                                            \
			_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++) acc[p][v] = bv;              \
		}                                                                                      \
		const int L = KS * C;                                                                  \
		for (int ky = 0; ky < KS; ky++) {                                                      \
			const float *ir = in + (int64_t)ky * rs;                                           \
			const float *wr = wp + (int64_t)ky * L * (16 * NV);                                \
			for (int j = 0; j < L; j++) {                                                      \
				vf w[NV];                                                                      \
				_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) w[v] =                    \
				    _mm512_loadu_ps(wr + j * (16 * NV) + 16 * v);                              \
				_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                          \
				{                                                                              \
					vf a = _mm512_set1_ps(ir[p * C + j]);                                      \
					_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[p][v] =           \
					    _mm512_fmadd_ps(a, w[v], acc[p][v]);                                   \
				}                                                                              \
			}                                                                                  \
		}                                                                                      \
		_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                                  \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                               \
		        _mm512_storeu_ps(out + p * (16 * NV) + 16 * v, acc[p][v]);                     \
	}
DEF_FWD(2, 12)
DEF_FWD(3, 8)

/* --- forward tile with 2x2 max-pool and ReLU: two output rows of PX pixels (PX even), then
 * the PX/2 pooled pixels max(0, max of each 2x2 window) are stored to out (pooled row). */
#define DEF_FWDP(NV, PX)                                                                       \
	static void fwdp_##NV##_##PX(float *out, const float *in, const float *wp, const float *bias,\
	                             int rs, int C, int KS)                                        \
	{                                                                                          \
		vf acc[2][PX][NV];                                                                     \
		_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                   \
		{                                                                                      \
			vf bv = _mm512_loadu_ps(bias + 16 * v);                                            \
			_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++) acc[0][p][v] = acc[1][p][v] = bv; \
		}                                                                                      \
		const int L = KS * C;                                                                  \
		for (int ky = 0; ky < KS; ky++) {                                                      \
			const float *wr = wp + (int64_t)ky * L * (16 * NV);                                \
			const float *i0 = in + (int64_t)ky * rs, *i1 = i0 + rs;                            \
			for (int j = 0; j < L; j++) {                                                      \
				vf w[NV];                                                                      \
				_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) w[v] =                    \
				    _mm512_loadu_ps(wr + j * (16 * NV) + 16 * v);                              \
				_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                          \
				{                                                                              \
					vf a0 = _mm512_set1_ps(i0[p * C + j]), a1 = _mm512_set1_ps(i1[p * C + j]);   \
					_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                       \
					{                                                                          \
						acc[0][p][v] = _mm512_fmadd_ps(a0, w[v], acc[0][p][v]);                \
						acc[1][p][v] = _mm512_fmadd_ps(a1, w[v], acc[1][p][v]);                \
					}                                                                          \
				}                                                                              \
			}                                                                                  \
		}                                                                                      \
		_Pragma("GCC unroll 16") for (int q = 0; q < PX / 2; q++)                              \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                               \
		{                                                                                      \
			vf m = _mm512_max_ps(_mm512_max_ps(acc[0][2 * q][v], acc[0][2 * q + 1][v]),        \
			                     _mm512_max_ps(acc[1][2 * q][v], acc[1][2 * q + 1][v]));       \
			_mm512_storeu_ps(out + q * (16 * NV) + 16 * v, _mm512_max_ps(m, _mm512_setzero_ps())); \
		}                                                                                      \
	}
DEF_FWDP(2, 6)
DEF_FWDP(3, 4)

/* --- din tile: din[y][x+kx][0:C] += sum_oc dout[oy][x][oc] w[oc][ky][kx][0:C], x < PX = OW ----
 * drow: din at (oy+ky, kx); orow: dout at (oy, 0); wk: (OC,C) slice for (ky,kx). */
#define DEF_DX(NV, PX)                                                                         \
	static void dx_##NV##_##PX(float *drow, const float *orow, const float *wk, int OC)        \
	{                                                                                          \
		vf acc[PX][NV];                                                                        \
		_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                                  \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[p][v] =                   \
		        _mm512_loadu_ps(drow + p * (16 * NV) + 16 * v);                                \
		for (int o = 0; o < OC; o++) {                                                         \
			vf w[NV];                                                                          \
			_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) w[v] =                        \
			    _mm512_loadu_ps(wk + o * (16 * NV) + 16 * v);                                  \
			_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                              \
			{                                                                                  \
				vf a = _mm512_set1_ps(orow[p * OC + o]);                                       \
				_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[p][v] =               \
				    _mm512_fmadd_ps(a, w[v], acc[p][v]);                                       \
			}                                                                                  \
		}                                                                                      \
		_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                                  \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                               \
		        _mm512_storeu_ps(drow + p * (16 * NV) + 16 * v, acc[p][v]);                    \
	}
DEF_DX(2, 8)
DEF_DX(2, 10)

/* --- dw tile: part[m][oc] (+)= sum over one image's pixels of in[oy+ky][ox*C + off + m] *
 * dout[oy][ox][oc], m < MT.  in: the image at (ky, 0) offset by off; part: row (ky, off). */
#define DEF_DW(MT, NV)                                                                         \
	static void dw_##MT##_##NV(float *part, const float *in, const float *dout, int rs, int C,  \
	                           int OH, int OW, int init)                                       \
	{                                                                                          \
		vf acc[MT][NV];                                                                        \
		_Pragma("GCC unroll 8") for (int m = 0; m < MT; m++)                                   \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[m][v] =                   \
		        init ? _mm512_setzero_ps() : _mm512_loadu_ps(part + m * (16 * NV) + 16 * v);   \
		for (int oy = 0; oy < OH; oy++) {                                                      \
			const float *ir = in + (int64_t)oy * rs;                                           \
			const float *dr = dout + (int64_t)oy * OW * (16 * NV);                             \
			for (int ox = 0; ox < OW; ox++) {                                                  \
				vf d[NV];                                                                      \
				_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) d[v] =                    \
				    _mm512_loadu_ps(dr + ox * (16 * NV) + 16 * v);                             \
				_Pragma("GCC unroll 8") for (int m = 0; m < MT; m++)                           \
				{                                                                              \
					vf a = _mm512_set1_ps(ir[ox * C + m]);                                     \
					_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[m][v] =           \
					    _mm512_fmadd_ps(a, d[v], acc[m][v]);                                   \
				}                                                                              \
			}                                                                                  \
		}                                                                                      \
		_Pragma("GCC unroll 8") for (int m = 0; m < MT; m++)                                   \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                               \
		        _mm512_storeu_ps(part + m * (16 * NV) + 16 * v, acc[m][v]);                    \
	}
DEF_DW(8, 2)
DEF_DW(7, 2)
DEF_DW(8, 3)

/* [lo,hi) of part i of n split into k nearly equal parts (as nn.c) */
static inline void kpart(int64_t n, int k, int i, int64_t *lo, int64_t *hi)
{
	*lo = n * i / k;
	*hi = n * (i + 1) / k;
}
#endif

void kern_conv2d_forward(float *out, float *cols, const float *in, const float *w,
                         const float *b, int B, int H, int W, int C, int OC, int KS)
{
	if (!kern_conv2d_supported(H, W, C, OC, KS, 0)) {
		nn_conv2d_forward(out, cols, in, w, b, B, H, W, C, OC, KS);
		return;
	}
#if KERN_DIRECT
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C;
	/* wpack (K,OC) = w^T */
	for (int o = 0; o < OC; o++)
		for (int k = 0; k < K; k++)
			wpack[k * OC + o] = w[o * K + k];
	int PX = OC == 32 ? 12 : 8;
#pragma omp parallel for schedule(static)
	for (int bi = 0; bi < B; bi++)
		for (int oy = 0; oy < OH; oy++)
			for (int x0 = 0; x0 < OW; x0 += PX) {
				int ox = x0 + PX <= OW ? x0 : OW - PX;  /* the last tile overlaps: same values */
				float *o = out + (((int64_t)bi * OH + oy) * OW + ox) * OC;
				const float *i = in + (((int64_t)bi * H + oy) * W + ox) * C;
				if (OC == 32)
					fwd_2_12(o, i, wpack, b, W * C, C, KS);
				else
					fwd_3_8(o, i, wpack, b, W * C, C, KS);
			}
#endif
}

#if KERN_DIRECT
/* One image of the direct conv backward: its dw into the chunk's partial `part` (set when
 * init, else added), its db into the bias accumulators bs, and, when dim is given, its input
 * gradient added into dim (the packed weights in wpack). dimg is the image's output gradient. */
static void conv_bwd_img(float *part, vf *bs, const float *img, const float *dimg, float *dim,
                         int H, int W, int C, int OC, int KS, int init)
{
	int OH = H - KS + 1, OW = W - KS + 1, L = KS * C, NV = OC / 16;
	for (int ky = 0; ky < KS; ky++)
		for (int j = 0; j < L; j += 8) {
			float *pt = part + ((int64_t)ky * L + j) * OC;
			const float *ip = img + (int64_t)ky * W * C + j;
			if (NV == 3)
				dw_8_3(pt, ip, dimg, W * C, C, OH, OW, init);
			else if (j + 8 <= L)
				dw_8_2(pt, ip, dimg, W * C, C, OH, OW, init);
			else
				dw_7_2(pt, ip, dimg, W * C, C, OH, OW, init);
		}
	for (int64_t r = 0; r < (int64_t)OH * OW; r++)
		for (int v = 0; v < NV; v++)
			bs[v] = _mm512_add_ps(bs[v], _mm512_loadu_ps(dimg + r * OC + 16 * v));
	if (!dim)
		return;
	for (int oy = 0; oy < OH; oy++)
		for (int ky = 0; ky < KS; ky++)
			for (int kx = 0; kx < KS; kx++) {
				float *dr = dim + ((int64_t)(oy + ky) * W + kx) * C;
				const float *orow = dimg + (int64_t)oy * OW * OC;
				const float *wk = wpack + (int64_t)(ky * KS + kx) * OC * C;
				if (OW == 8)
					dx_2_8(dr, orow, wk, OC);
				else
					dx_2_10(dr, orow, wk, OC);
			}
}
/* dw[o][k] and db[o] += the chunks' partials, in chunk order.  Called by every thread of the
 * parallel region (the dw loop is shared out among them; db, small, by one). */
static void conv_bwd_sum(float *dw, float *db, int K, int OC, int nch)
{
#pragma omp for schedule(static)
	for (int k = 0; k < K; k++)
		for (int o = 0; o < OC; o++) {
			float s = 0;
			for (int ch = 0; ch < nch; ch++)
				s += wpart[ch][(int64_t)k * OC + o];
			dw[(int64_t)o * K + k] += s;
		}
#pragma omp single
	for (int o = 0; o < OC; o++) {
		float s = 0;
		for (int ch = 0; ch < nch; ch++)
			s += bpart[ch][o];
		db[o] += s;
	}
}
#endif

void kern_conv2d_backward(float *din, float *dw, float *db, float *dcols, const float *dout,
                          const float *cols, const float *in, const float *w, int B, int H,
                          int W, int C, int OC, int KS)
{
	if (!kern_conv2d_supported(H, W, C, OC, KS, 1)) {
		nn_conv2d_backward(din, dw, db, dcols, dout, cols, w, B, H, W, C, OC, KS);
		return;
	}
#if KERN_DIRECT
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C, NV = OC / 16;
	/* din by the direct tiles needs C = 32; other C (conv1 has no din in the network) take a
	 * plain loop here, since the forward wrote no im2col rows for nn.c to use */
	int din_direct = din && C == 32;
	if (din && !din_direct) {
#pragma omp parallel for schedule(static)
		for (int bi = 0; bi < B; bi++)
			for (int oy = 0; oy < OH; oy++)
				for (int ox = 0; ox < OW; ox++) {
					const float *d = dout + (((int64_t)bi * OH + oy) * OW + ox) * OC;
					for (int ky = 0; ky < KS; ky++)
						for (int kx = 0; kx < KS; kx++) {
							float *r = din + (((int64_t)bi * H + oy + ky) * W + ox + kx) * C;
							for (int o = 0; o < OC; o++)
								for (int c = 0; c < C; c++)
									r[c] += d[o] * w[(((int64_t)o * KS + ky) * KS + kx) * C + c];
						}
				}
	}
	/* wpack (KS,KS,OC,C) for din */
	if (din_direct)
		for (int o = 0; o < OC; o++)
			for (int kk = 0; kk < KS * KS; kk++)
				memcpy(wpack + ((int64_t)kk * OC + o) * C, w + ((int64_t)o * KS * KS + kk) * C,
				       sizeof(float) * C);
	int nch = NN_CHUNKS < B ? NN_CHUNKS : B;
#pragma omp parallel
	{
#pragma omp for schedule(static)
		for (int ch = 0; ch < nch; ch++) {
			int64_t b0, b1;
			kpart(B, nch, ch, &b0, &b1);
			float *part = wpart[ch];
			vf bs[3] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
			for (int64_t bi = b0; bi < b1; bi++) {
				conv_bwd_img(part, bs, in + (int64_t)bi * H * W * C,
				             dout + (int64_t)bi * OH * OW * OC,
				             din_direct ? din + (int64_t)bi * H * W * C : NULL, H, W, C, OC, KS,
				             bi == b0);
			}
			for (int v = 0; v < NV; v++)
				_mm512_storeu_ps(bpart[ch] + 16 * v, bs[v]);
		}
		conv_bwd_sum(dw, db, K, OC, nch);
	}
#endif
}

#if KERN_DIRECT
/* BatchNorm in evaluation is y = x sc + sh per channel: folded into packed weights (K,OC)
 * and a bias */
static void fold_pack(float *wp, float *fb, const float *w, const float *b, const float *gamma,
                      const float *beta, const float *rmean, const float *rvar, int OC, int K)
{
	for (int o = 0; o < OC; o++) {
		float sc = 1, sh = 0;
		if (gamma) {
			sc = gamma[o] / sqrtf(rvar[o] + NN_BN_EPS);
			sh = beta[o] - rmean[o] * sc;
		}
		fb[o] = b[o] * sc + sh;
		for (int k = 0; k < K; k++)
			wp[k * OC + o] = w[o * K + k] * sc;
	}
}

/* one image: conv (packed wp, bias fb) -> pool -> ReLU, out (OH/2,OW/2,OC) */
static void conv_pool_img(float *out, const float *in, const float *wp, const float *fb, int H,
                          int W, int C, int OC, int KS)
{
	int OH = H - KS + 1, OW = W - KS + 1, PW = OW / 2;
	int PX = OC == 32 ? 6 : 4;
	for (int oy = 0; oy < OH; oy += 2)
		for (int x0 = 0; x0 < OW; x0 += PX) {
			int ox = x0 + PX <= OW ? x0 : OW - PX;  /* even: OW and PX are */
			float *o = out + ((int64_t)(oy / 2) * PW + ox / 2) * OC;
			const float *i = in + ((int64_t)oy * W + ox) * C;
			if (OC == 32)
				fwdp_2_6(o, i, wp, fb, W * C, C, KS);
			else
				fwdp_3_4(o, i, wp, fb, W * C, C, KS);
		}
}

static float wpack2[KERN_MAXW] __attribute__((aligned(64)));
#endif

int kern_conv2d_bn_pool_relu_eval(float *out, const float *in, const float *w, const float *b,
                                  const float *gamma, const float *beta, const float *rmean,
                                  const float *rvar, int B, int H, int W, int C, int OC, int KS)
{
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C;
	if (!kern_conv2d_supported(H, W, C, OC, KS, 0) || OH % 2 || OW % 2)
		return -1;
#if KERN_DIRECT
	static float fb[64] __attribute__((aligned(64)));
	fold_pack(wpack, fb, w, b, gamma, beta, rmean, rvar, OC, K);
	int PH = OH / 2, PW = OW / 2;
#pragma omp parallel for schedule(static)
	for (int bi = 0; bi < B; bi++)
		conv_pool_img(out + (int64_t)bi * PH * PW * OC, in + (int64_t)bi * H * W * C, wpack, fb,
		              H, W, C, OC, KS);
	return 0;
#else
	(void)K;
	return -1;
#endif
}

int kern_features_eval(float *feat, float *p1, const float *x, const float *const l1[6],
                       const float *const l2[6], int B, int H, int W)
{
	int KS = 5, C1 = 32, C2 = 48;
	int H1 = (H - KS + 1) / 2, W1 = (W - KS + 1) / 2, H2 = (H1 - KS + 1) / 2, W2 = (W1 - KS + 1) / 2;
	if (!kern_conv2d_supported(H, W, 3, C1, KS, 0) || (H - KS + 1) % 2 || (W - KS + 1) % 2 ||
	    !kern_conv2d_supported(H1, W1, C1, C2, KS, 0) || (H1 - KS + 1) % 2 || (W1 - KS + 1) % 2)
		return -1;
#if KERN_DIRECT
	static float fb1[64] __attribute__((aligned(64))), fb2[64] __attribute__((aligned(64)));
	fold_pack(wpack, fb1, l1[0], l1[1], l1[2], l1[3], l1[4], l1[5], C1, KS * KS * 3);
	fold_pack(wpack2, fb2, l2[0], l2[1], l2[2], l2[3], l2[4], l2[5], C2, KS * KS * C1);
	/* one parallel region, one image at a time through both layers (cache-resident) */
#pragma omp parallel for schedule(static)
	for (int bi = 0; bi < B; bi++) {
		float *q = p1 + (int64_t)bi * H1 * W1 * C1;
		conv_pool_img(q, x + (int64_t)bi * H * W * 3, wpack, fb1, H, W, 3, C1, KS);
		conv_pool_img(feat + (int64_t)bi * H2 * W2 * C2, q, wpack2, fb2, H1, W1, C1, C2, KS);
	}
	return 0;
#else
	(void)H2;
	(void)W2;
	return -1;
#endif
}

/* --- training: BatchNorm + max-pool + ReLU fused (portable C, vectorised over channels) ------- */

/* statistics of the R rows of x (R,C), in NN_CHUNKS fixed chunks with double partials (as nn.c),
 * into mean/rstd, and the running statistics updated with the unbiased variance */
static void bn_stats(float *mean, float *rstd, const float *x, int64_t R, int C, float *rm,
                     float *rv, float mom)
{
	double s1[NN_CHUNKS][C], s2[NN_CHUNKS][C];
#pragma omp parallel for schedule(static)
	for (int ch = 0; ch < NN_CHUNKS; ch++) {
		int64_t lo = R * ch / NN_CHUNKS, hi = R * (ch + 1) / NN_CHUNKS;
		double a[C], q[C];
		for (int c = 0; c < C; c++)
			a[c] = q[c] = 0;
#if KERN_DIRECT
		if (C % 16 == 0 && C <= 64) {
			/* per row block of up to 64 rows: float partials, then into double */
			__m512d A[8], Q[8];
			for (int v = 0; v < C / 8; v++)
				A[v] = Q[v] = _mm512_setzero_pd();
			for (int64_t r0 = lo; r0 < hi; r0 += 64) {
				int64_t r1 = r0 + 64 < hi ? r0 + 64 : hi;
				__m512 fa[4], fq[4];
				for (int v = 0; v < C / 16; v++)
					fa[v] = fq[v] = _mm512_setzero_ps();
				for (int64_t r = r0; r < r1; r++)
					for (int v = 0; v < C / 16; v++) {
						__m512 xv = _mm512_loadu_ps(x + r * C + 16 * v);
						fa[v] = _mm512_add_ps(fa[v], xv);
						fq[v] = _mm512_fmadd_ps(xv, xv, fq[v]);
					}
				for (int v = 0; v < C / 16; v++) {
					A[2 * v] = _mm512_add_pd(A[2 * v], _mm512_cvtps_pd(_mm512_castps512_ps256(fa[v])));
					A[2 * v + 1] = _mm512_add_pd(A[2 * v + 1], _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(fa[v]), 1))));
					Q[2 * v] = _mm512_add_pd(Q[2 * v], _mm512_cvtps_pd(_mm512_castps512_ps256(fq[v])));
					Q[2 * v + 1] = _mm512_add_pd(Q[2 * v + 1], _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(fq[v]), 1))));
				}
			}
			for (int v = 0; v < C / 8; v++) {
				_mm512_storeu_pd(a + 8 * v, A[v]);
				_mm512_storeu_pd(q + 8 * v, Q[v]);
			}
		} else
#endif
		for (int64_t r = lo; r < hi; r++) {
			const float *row = x + r * C;
#pragma omp simd
			for (int c = 0; c < C; c++) {
				double v = row[c];
				a[c] += v;
				q[c] += v * v;
			}
		}
		for (int c = 0; c < C; c++) {
			s1[ch][c] = a[c];
			s2[ch][c] = q[c];
		}
	}
	nn_bn_stats_finish(C, (const double (*)[C])s1, (const double (*)[C])s2, R, mean, rstd, rm, rv,
	                   mom);
}

int kern_bn_pool_relu_forward(float *r, uint8_t *arg, float *mean, float *rstd, const float *x,
                              const float *gamma, const float *beta, float *const *rm,
                              float *const *rv, int B, int H, int W, int C, int groups, float mom)
{
	if (H % 2 || W % 2 || groups < 1 || B % groups || C > 64)
		return -1;
	int Bg = B / groups, PH = H / 2, PW = W / 2;
	for (int g = 0; g < groups; g++)
		bn_stats(mean + g * C, rstd + g * C, x + (int64_t)g * Bg * H * W * C,
		         (int64_t)Bg * H * W, C, rm[g], rv[g], mom);
#pragma omp parallel for schedule(static)
	for (int b = 0; b < B; b++) {
		int g = b / Bg;
		float sc[C], sh[C];
		for (int c = 0; c < C; c++) {
			sc[c] = gamma[c] * rstd[g * C + c];
			sh[c] = beta[c] - mean[g * C + c] * sc[c];
		}
#if KERN_DIRECT
		if (C % 16 == 0) {
			for (int py = 0; py < PH; py++)
				for (int px = 0; px < PW; px++) {
					const float *p00 = x + (((int64_t)b * H + 2 * py) * W + 2 * px) * C;
					const float *p01 = p00 + C, *p10 = p00 + (int64_t)W * C, *p11 = p10 + C;
					float *o = r + (((int64_t)b * PH + py) * PW + px) * C;
					uint8_t *a = arg + (((int64_t)b * PH + py) * PW + px) * C;
					for (int c = 0; c < C; c += 16) {
						__m512 S = _mm512_loadu_ps(sc + c), T = _mm512_loadu_ps(sh + c);
						__m512 v0 = _mm512_fmadd_ps(_mm512_loadu_ps(p00 + c), S, T);
						__m512 v1 = _mm512_fmadd_ps(_mm512_loadu_ps(p01 + c), S, T);
						__m512 v2 = _mm512_fmadd_ps(_mm512_loadu_ps(p10 + c), S, T);
						__m512 v3 = _mm512_fmadd_ps(_mm512_loadu_ps(p11 + c), S, T);
						__mmask16 g1 = _mm512_cmp_ps_mask(v1, v0, _CMP_GT_OQ);
						__mmask16 g3 = _mm512_cmp_ps_mask(v3, v2, _CMP_GT_OQ);
						__m512 m01 = _mm512_mask_blend_ps(g1, v0, v1);
						__m512 m23 = _mm512_mask_blend_ps(g3, v2, v3);
						__mmask16 sel = _mm512_cmp_ps_mask(m23, m01, _CMP_GT_OQ);
						__m512 m = _mm512_mask_blend_ps(sel, m01, m23);
						__mmask16 low = (__mmask16)((sel & g3) | (~sel & g1));
						__m128i k = _mm_add_epi8(_mm_maskz_set1_epi8(sel, 2), _mm_maskz_set1_epi8(low, 1));
						_mm_storeu_si128((__m128i *)(a + c), k);
						_mm512_storeu_ps(o + c, _mm512_max_ps(m, _mm512_setzero_ps()));
					}
				}
			continue;
		}
#endif
		for (int py = 0; py < PH; py++)
			for (int px = 0; px < PW; px++) {
				const float *p00 = x + (((int64_t)b * H + 2 * py) * W + 2 * px) * C;
				const float *p01 = p00 + C, *p10 = p00 + (int64_t)W * C, *p11 = p10 + C;
				float *o = r + (((int64_t)b * PH + py) * PW + px) * C;
				uint8_t *a = arg + (((int64_t)b * PH + py) * PW + px) * C;
#pragma omp simd
				for (int c = 0; c < C; c++) {
					/* the first of equal maxima wins, as nn_maxpool2_forward */
					float v0 = p00[c] * sc[c] + sh[c], v1 = p01[c] * sc[c] + sh[c];
					float v2 = p10[c] * sc[c] + sh[c], v3 = p11[c] * sc[c] + sh[c];
					float m01 = v1 > v0 ? v1 : v0, m23 = v3 > v2 ? v3 : v2;
					uint8_t k01 = v1 > v0 ? 1 : 0, k23 = v3 > v2 ? 3 : 2;
					float m = m23 > m01 ? m23 : m01;
					a[c] = m23 > m01 ? k23 : k01;
					o[c] = m > 0 ? m : 0;
				}
			}
	}
	return 0;
}

/* BN backward sums per group (over the pooled cells: dy is non-zero only at each window's
 * argmax): adds d(gamma), d(beta); k1 = mean(dy), k2 = mean(dy xhat), (groups,C) each */
static void bn_bwd_sums(float *k1_, float *k2_, float *dgamma, float *dbeta, const float *dr,
                        const float *r, const uint8_t *arg, const float *x, const float *mean,
                        const float *rstd, int B, int H, int W, int C, int groups)
{
	int Bg = B / groups, PW = W / 2;
	int64_t P = (int64_t)(H / 2) * PW;  /* pooled cells per image */
	float (*k1)[C] = (float (*)[C])k1_, (*k2)[C] = (float (*)[C])k2_;
	for (int g = 0; g < groups; g++) {
		/* sums of dy and dy * xhat: dy is non-zero only at each window's argmax */
		double s1[NN_CHUNKS][C], s2[NN_CHUNKS][C];
		const float *m = mean + g * C, *rs = rstd + g * C;
#pragma omp parallel for schedule(static)
		for (int ch = 0; ch < NN_CHUNKS; ch++) {
			int64_t lo = (int64_t)Bg * P * ch / NN_CHUNKS, hi = (int64_t)Bg * P * (ch + 1) / NN_CHUNKS;
			double a[C], q[C];
			for (int c = 0; c < C; c++)
				a[c] = q[c] = 0;
#if KERN_DIRECT
			if (C % 16 == 0 && C <= 64) {
				__m512d A[8], Q[8];
				for (int v = 0; v < C / 8; v++)
					A[v] = Q[v] = _mm512_setzero_pd();
				int64_t e = (int64_t)g * Bg * P + hi;
				for (int64_t c0 = (int64_t)g * Bg * P + lo; c0 < e; c0 += 64) {
					int64_t c1 = c0 + 64 < e ? c0 + 64 : e;
					__m512 fa[4], fq[4];
					for (int v = 0; v < C / 16; v++)
						fa[v] = fq[v] = _mm512_setzero_ps();
					for (int64_t cell = c0; cell < c1; cell++) {
						int64_t b = cell / P, rem = cell % P, py = rem / PW, px = rem % PW;
						const float *p00 = x + ((b * H + 2 * py) * W + 2 * px) * C;
						const float *p10 = p00 + (int64_t)W * C;
						for (int v = 0; v < C / 16; v++) {
							int c = 16 * v;
							__m128i k = _mm_loadu_si128((const __m128i *)(arg + cell * C + c));
							__mmask16 pos = _mm512_cmp_ps_mask(_mm512_loadu_ps(r + cell * C + c),
							                                   _mm512_setzero_ps(), _CMP_GT_OQ);
							__m512 dy = _mm512_maskz_loadu_ps(pos, dr + cell * C + c);
							__m512 xv = _mm512_loadu_ps(p00 + c);
							xv = _mm512_mask_loadu_ps(xv, _mm_cmpeq_epi8_mask(k, _mm_set1_epi8(1)), p00 + C + c);
							xv = _mm512_mask_loadu_ps(xv, _mm_cmpeq_epi8_mask(k, _mm_set1_epi8(2)), p10 + c);
							xv = _mm512_mask_loadu_ps(xv, _mm_cmpeq_epi8_mask(k, _mm_set1_epi8(3)), p10 + C + c);
							__m512 xh = _mm512_mul_ps(_mm512_sub_ps(xv, _mm512_loadu_ps(m + c)),
							                          _mm512_loadu_ps(rs + c));
							fa[v] = _mm512_add_ps(fa[v], dy);
							fq[v] = _mm512_fmadd_ps(dy, xh, fq[v]);
						}
					}
					for (int v = 0; v < C / 16; v++) {
						A[2 * v] = _mm512_add_pd(A[2 * v], _mm512_cvtps_pd(_mm512_castps512_ps256(fa[v])));
						A[2 * v + 1] = _mm512_add_pd(A[2 * v + 1], _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(fa[v]), 1))));
						Q[2 * v] = _mm512_add_pd(Q[2 * v], _mm512_cvtps_pd(_mm512_castps512_ps256(fq[v])));
						Q[2 * v + 1] = _mm512_add_pd(Q[2 * v + 1], _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(fq[v]), 1))));
					}
				}
				for (int v = 0; v < C / 8; v++) {
					_mm512_storeu_pd(a + 8 * v, A[v]);
					_mm512_storeu_pd(q + 8 * v, Q[v]);
				}
				for (int c = 0; c < C; c++) {
					s1[ch][c] = a[c];
					s2[ch][c] = q[c];
				}
				continue;
			}
#endif
			for (int64_t cell = (int64_t)g * Bg * P + lo; cell < (int64_t)g * Bg * P + hi; cell++) {
				int64_t b = cell / P, rem = cell % P, py = rem / PW, px = rem % PW;
				const float *p00 = x + ((b * H + 2 * py) * W + 2 * px) * C;
				const float *d = dr + cell * C, *o = r + cell * C;
				const uint8_t *k = arg + cell * C;
#pragma omp simd
				for (int c = 0; c < C; c++) {
					float dy = o[c] > 0 ? d[c] : 0;
					float v = p00[((k[c] >> 1) * (int64_t)W + (k[c] & 1)) * C + c];
					float xh = (v - m[c]) * rs[c];
					a[c] += dy;
					q[c] += dy * xh;
				}
			}
			for (int c = 0; c < C; c++) {
				s1[ch][c] = a[c];
				s2[ch][c] = q[c];
			}
		}
		double R = (double)Bg * H * W;
		for (int c = 0; c < C; c++) {
			double a = 0, q = 0;
			for (int ch = 0; ch < NN_CHUNKS; ch++) {
				a += s1[ch][c];
				q += s2[ch][c];
			}
			dbeta[c] += (float)a;
			dgamma[c] += (float)q;
			k1[g][c] = (float)(a / R);
			k2[g][c] = (float)(q / R);
		}
	}
}

/* dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat)) at every position of image b, into
 * dx (that image's (H,W,C) block): added (add = 1) or stored */
static void bn_bwd_dx_img(float *dx, int add, int b, const float *k1_, const float *k2_,
                          const float *dr, const float *r, const uint8_t *arg, const float *x,
                          const float *mean, const float *rstd, const float *gamma, int B, int H,
                          int W, int C, int groups)
{
	int Bg = B / groups, PH = H / 2, PW = W / 2;
	{
		int g = b / Bg;
		const float *m = mean + g * C, *rs = rstd + g * C, *K1 = k1_ + g * C, *K2 = k2_ + g * C;
		float gr[C];
		for (int c = 0; c < C; c++)
			gr[c] = gamma[c] * rs[c];
		for (int py = 0; py < PH; py++)
			for (int px = 0; px < PW; px++) {
				int64_t cell = ((int64_t)b * PH + py) * PW + px;
				const float *d = dr + cell * C, *o = r + cell * C;
				const uint8_t *k = arg + cell * C;
#if KERN_DIRECT
				if (C % 16 == 0) {
					for (int c = 0; c < C; c += 16) {
						__m128i kk = _mm_loadu_si128((const __m128i *)(k + c));
						__mmask16 pos = _mm512_cmp_ps_mask(_mm512_loadu_ps(o + c), _mm512_setzero_ps(),
						                                   _CMP_GT_OQ);
						__m512 dv = _mm512_maskz_loadu_ps(pos, d + c);
						__m512 M = _mm512_loadu_ps(m + c), RS = _mm512_loadu_ps(rs + c);
						__m512 G = _mm512_loadu_ps(gr + c), A1 = _mm512_loadu_ps(K1 + c);
						__m512 A2 = _mm512_loadu_ps(K2 + c);
						for (int q = 0; q < 4; q++) {
							int64_t loc = ((int64_t)(2 * py + (q >> 1)) * W + 2 * px + (q & 1)) * C + c;
							int64_t off = (int64_t)b * H * W * C + loc;
							__m512 dy = _mm512_maskz_mov_ps(_mm_cmpeq_epi8_mask(kk, _mm_set1_epi8((char)q)), dv);
							__m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + off), M), RS);
							__m512 t = _mm512_sub_ps(_mm512_sub_ps(dy, A1), _mm512_mul_ps(xh, A2));
							__m512 res = _mm512_mul_ps(G, t);
							if (add)
								res = _mm512_add_ps(res, _mm512_loadu_ps(dx + loc));
							_mm512_storeu_ps(dx + loc, res);
						}
					}
					continue;
				}
#endif
				for (int q = 0; q < 4; q++) {
					int64_t loc = ((int64_t)(2 * py + (q >> 1)) * W + 2 * px + (q & 1)) * C;
					const float *xv = x + (int64_t)b * H * W * C + loc;
					float *dv = dx + loc;
#pragma omp simd
					for (int c = 0; c < C; c++) {
						float dy = (k[c] == q && o[c] > 0) ? d[c] : 0;
						float xh = (xv[c] - m[c]) * rs[c];
						dv[c] = (add ? dv[c] : 0) + gr[c] * (dy - K1[c] - xh * K2[c]);
					}
				}
			}
	}
}

int kern_relu_pool_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dr,
                               const float *r, const uint8_t *arg, const float *x,
                               const float *mean, const float *rstd, const float *gamma, int B,
                               int H, int W, int C, int groups)
{
	if (H % 2 || W % 2 || groups < 1 || B % groups || C > 64)
		return -1;
	float k1[groups * C], k2[groups * C];
	bn_bwd_sums(k1, k2, dgamma, dbeta, dr, r, arg, x, mean, rstd, B, H, W, C, groups);
#pragma omp parallel for schedule(static)
	for (int b = 0; b < B; b++)
		bn_bwd_dx_img(dx + (int64_t)b * H * W * C, 1, b, k1, k2, dr, r, arg, x, mean, rstd, gamma,
		              B, H, W, C, groups);
	return 0;
}

int kern_conv2d_bn_backward(float *din, float *dw, float *db, float *dgamma, float *dbeta,
                            const float *dr, const float *r, const uint8_t *arg, const float *cx,
                            const float *mean, const float *rstd, const float *gamma,
                            const float *in, const float *w, int B, int H, int W, int C, int OC,
                            int KS, int groups)
{
	int OH = H - KS + 1, OW = W - KS + 1;
	if (!kern_conv2d_supported(H, W, C, OC, KS, 1) || OH % 2 || OW % 2 || groups < 1 ||
	    B % groups || (din && C != 32))
		return -1;
#if KERN_DIRECT
	int K = KS * KS * C, NV = OC / 16;
	float k1[groups * OC], k2[groups * OC];
	bn_bwd_sums(k1, k2, dgamma, dbeta, dr, r, arg, cx, mean, rstd, B, OH, OW, OC, groups);
	if (din)
		for (int o = 0; o < OC; o++)
			for (int kk = 0; kk < KS * KS; kk++)
				memcpy(wpack + ((int64_t)kk * OC + o) * C, w + ((int64_t)o * KS * KS + kk) * C,
				       sizeof(float) * C);
	int nch = NN_CHUNKS < B ? NN_CHUNKS : B;
#pragma omp parallel
	{
		/* one image's conv-output gradient, computed here and used at once (cache-resident) */
		float dimg[(size_t)OH * OW * OC] __attribute__((aligned(64)));
#pragma omp for schedule(static)
		for (int ch = 0; ch < nch; ch++) {
			int64_t b0, b1;
			kpart(B, nch, ch, &b0, &b1);
			float *part = wpart[ch];
			vf bs[3] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
			for (int64_t bi = b0; bi < b1; bi++) {
				bn_bwd_dx_img(dimg, 0, (int)bi, k1, k2, dr, r, arg, cx, mean, rstd, gamma, B, OH,
				              OW, OC, groups);
				conv_bwd_img(part, bs, in + (int64_t)bi * H * W * C, dimg,
				             din ? din + (int64_t)bi * H * W * C : NULL, H, W, C, OC, KS, bi == b0);
			}
			for (int v = 0; v < NV; v++)
				_mm512_storeu_ps(bpart[ch] + 16 * v, bs[v]);
		}
		conv_bwd_sum(dw, db, K, OC, nch);
	}
	return 0;
#else
	return -1;
#endif
}
