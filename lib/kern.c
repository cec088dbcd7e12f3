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

void kern_conv2d_backward(float *din, float *dw, float *db, float *dcols, const float *dout,
                          const float *cols, const float *in, const float *w, int B, int H,
                          int W, int C, int OC, int KS)
{
	if (!kern_conv2d_supported(H, W, C, OC, KS, 1)) {
		nn_conv2d_backward(din, dw, db, dcols, dout, cols, w, B, H, W, C, OC, KS);
		return;
	}
#if KERN_DIRECT
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C, L = KS * C, NV = OC / 16;
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
				const float *img = in + (int64_t)bi * H * W * C;
				const float *dimg = dout + (int64_t)bi * OH * OW * OC;
				int init = bi == b0;
				/* dw */
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
				/* db */
				for (int64_t r = 0; r < (int64_t)OH * OW; r++)
					for (int v = 0; v < NV; v++)
						bs[v] = _mm512_add_ps(bs[v], _mm512_loadu_ps(dimg + r * OC + 16 * v));
				/* din */
				if (din_direct) {
					float *dim = din + (int64_t)bi * H * W * C;
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
			}
			for (int v = 0; v < NV; v++)
				_mm512_storeu_ps(bpart[ch] + 16 * v, bs[v]);
		}
		/* dw[o][k] += sum over chunks, in chunk order */
#pragma omp for schedule(static)
		for (int k = 0; k < K; k++)
			for (int o = 0; o < OC; o++) {
				float s = 0;
				for (int ch = 0; ch < nch; ch++)
					s += wpart[ch][(int64_t)k * OC + o];
				dw[(int64_t)o * K + k] += s;
			}
	}
	for (int o = 0; o < OC; o++) {
		float s = 0;
		for (int ch = 0; ch < nch; ch++)
			s += bpart[ch][o];
		db[o] += s;
	}
#endif
}
