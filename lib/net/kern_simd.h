/* kern_simd.h - the kernels of lib/net/kern.c, written once and compiled per instruction set by
 * lib/net/kern_generic.c (KVL 0), lib/net/kern_avx2.c (KVL 8) and lib/net/kern_avx512.c (KVL 16); each
 * defines KVL and KOPS (the name of its kern_ops table) and includes this file.
 *
 * Direct convolutions (KVL 8, 16): every kernel is an outer product of broadcast scalars and
 * KVL-float vectors kept in registers, over a block of OCB output channels (AVX-512: the whole
 * OC, NV = OC/16 vectors; AVX2: blocks of 16, NV = 2, since it has 16 registers, not 32):
 *   forward   out[px][oc]    += in[oy+ky][ox+px+kx][c] * w[ky][kx][c][oc]   tile PX pixels x OCB
 *   din       din[y][x+kx][c] += dout[oy][x][oc] * w[oc][ky][kx][c]         tile PX pixels x C block
 *   dw        dw[ky][j][oc]  += in[oy+ky][ox][j] * dout[oy][ox][oc]         tile MT strip values x OCB
 * where in NHWC the (kx,c) pairs of one kernel row are one contiguous strip of KS*C floats, so
 * j = kx*C + c indexes it.  The pixel count PX of a tile is chosen per layer from the output
 * width (one that divides it, so 28x28 and 32x32 inputs both run whole tiles); the shapes are
 * parameters.  BatchNorm + pool + ReLU (every KVL): portable C vectorised over channels, with
 * AVX-512 mask code for C a multiple of 16 when KVL is 16.
 *
 * Determinism: each output of the forward and of din is computed by one thread in a fixed
 * order; dw and db are summed per fixed chunk of images (NN_CHUNKS) and the chunks added in
 * order; BatchNorm sums per fixed chunk of rows.  Nothing depends on the thread count. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "net/kern.h"
#include "net/kern_impl.h"
#include "net/nn.h"

#if KVL
#include <immintrin.h>
#endif

#if KVL == 16
typedef __m512 vf;
#define VLD _mm512_loadu_ps
#define VST _mm512_storeu_ps
#define VB _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VMAX _mm512_max_ps
#define VADD _mm512_add_ps
#define VZ _mm512_setzero_ps
#define KOCB(OC) (OC)      /* output channels per register block */
#define KCB 32             /* input channels per din block */
#define DW_MT 15           /* strip values per dw tile, at most (DW_MAX per NV) */
#elif KVL == 8
typedef __m256 vf;
#define VLD _mm256_loadu_ps
#define VST _mm256_storeu_ps
#define VB _mm256_set1_ps
#define VFMA _mm256_fmadd_ps
#define VMAX _mm256_max_ps
#define VADD _mm256_add_ps
#define VZ _mm256_setzero_ps
#define KOCB(OC) 16
#define KCB 16
#define DW_MT 6
#endif

#if KVL
/* workspace (floats): packed weights, folded bias, NN_CHUNKS dw partials, NN_CHUNKS db partials */
#define WS_W(OC, K) (((size_t)(OC) * (K) + 15) & ~(size_t)15)
#define WS_FB(ws, OC, K) ((ws) + WS_W(OC, K))
#define WS_PART(ws, OC, K, ch) ((ws) + WS_W(OC, K) + 64 + (size_t)(ch) * WS_W(OC, K))
#define WS_BPART(ws, OC, K, ch) ((ws) + WS_W(OC, K) * (1 + NN_CHUNKS) + 64 + (size_t)(ch) * 64)

/* --- forward tile: PX pixels of one output row, NV vectors of output channels ----------------
 * in: the input at (oy, ox0); wp (KS,KS*C,OCB) of this block; rs = W*C; os = OC (pixel stride
 * of out). */
#define DEF_FWD(NV, PX)                                                                        \
	static void fwd_##NV##_##PX(float *out, const float *in, const float *wp, const float *bias, \
	                            int rs, int C, int KS, int os)                                 \
	{                                                                                          \
		vf acc[PX][NV];                                                                        \
		_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                   \
		{                                                                                      \
			vf bv = VLD(bias + KVL * v);                                                       \
			_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++) acc[p][v] = bv;              \
		}                                                                                      \
		const int L = KS * C;                                                                  \
		for (int ky = 0; ky < KS; ky++) {                                                      \
			const float *ir = in + (int64_t)ky * rs;                                           \
			const float *wr = wp + (int64_t)ky * L * (KVL * NV);                               \
			for (int j = 0; j < L; j++) {                                                      \
				vf w[NV];                                                                      \
				_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) w[v] =                    \
				    VLD(wr + j * (KVL * NV) + KVL * v);                                        \
				_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                          \
				{                                                                              \
					vf a = VB(ir[p * C + j]);                                                  \
					_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[p][v] =           \
					    VFMA(a, w[v], acc[p][v]);                                              \
				}                                                                              \
			}                                                                                  \
		}                                                                                      \
		_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                                  \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                               \
		        VST(out + p * os + KVL * v, acc[p][v]);                                        \
	}

/* --- forward tile with 2x2 max-pool and ReLU: two output rows of PX pixels (PX even), then
 * the PX/2 pooled pixels max(0, max of each 2x2 window) are stored to out (pooled row). */
#define DEF_FWDP(NV, PX)                                                                       \
	static void fwdp_##NV##_##PX(float *out, const float *in, const float *wp, const float *bias,\
	                             int rs, int C, int KS, int os)                                \
	{                                                                                          \
		vf acc[2][PX][NV];                                                                     \
		_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                   \
		{                                                                                      \
			vf bv = VLD(bias + KVL * v);                                                       \
			_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++) acc[0][p][v] = acc[1][p][v] = bv; \
		}                                                                                      \
		const int L = KS * C;                                                                  \
		for (int ky = 0; ky < KS; ky++) {                                                      \
			const float *wr = wp + (int64_t)ky * L * (KVL * NV);                               \
			const float *i0 = in + (int64_t)ky * rs, *i1 = i0 + rs;                            \
			for (int j = 0; j < L; j++) {                                                      \
				vf w[NV];                                                                      \
				_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) w[v] =                    \
				    VLD(wr + j * (KVL * NV) + KVL * v);                                        \
				_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                          \
				{                                                                              \
					vf a0 = VB(i0[p * C + j]), a1 = VB(i1[p * C + j]);                         \
					_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                       \
					{                                                                          \
						acc[0][p][v] = VFMA(a0, w[v], acc[0][p][v]);                           \
						acc[1][p][v] = VFMA(a1, w[v], acc[1][p][v]);                           \
					}                                                                          \
				}                                                                              \
			}                                                                                  \
		}                                                                                      \
		_Pragma("GCC unroll 16") for (int q = 0; q < PX / 2; q++)                              \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                               \
		{                                                                                      \
			vf m = VMAX(VMAX(acc[0][2 * q][v], acc[0][2 * q + 1][v]),                          \
			            VMAX(acc[1][2 * q][v], acc[1][2 * q + 1][v]));                         \
			VST(out + q * os + KVL * v, VMAX(m, VZ()));                                        \
		}                                                                                      \
	}

/* --- din tile: din[y][x+kx][c] += sum_oc dout[oy][x][oc] w[oc][ky][kx][c], x < PX, NV vectors
 * of channels c.  drow: din at (oy+ky, x0+kx, c0); orow: dout at (oy, x0); wk: the (OC,C)
 * slice for (ky,kx) at c0; cs = C (pixel stride of din and row stride of wk). */
#define DEF_DX(NV, PX)                                                                         \
	static void dx_##NV##_##PX(float *drow, const float *orow, const float *wk, int OC, int cs) \
	{                                                                                          \
		vf acc[PX][NV];                                                                        \
		_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                                  \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[p][v] =                   \
		        VLD(drow + p * cs + KVL * v);                                                  \
		for (int o = 0; o < OC; o++) {                                                         \
			vf w[NV];                                                                          \
			_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) w[v] =                        \
			    VLD(wk + o * cs + KVL * v);                                                    \
			_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                              \
			{                                                                                  \
				vf a = VB(orow[p * OC + o]);                                                   \
				_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[p][v] =               \
				    VFMA(a, w[v], acc[p][v]);                                                  \
			}                                                                                  \
		}                                                                                      \
		_Pragma("GCC unroll 16") for (int p = 0; p < PX; p++)                                  \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                               \
		        VST(drow + p * cs + KVL * v, acc[p][v]);                                       \
	}

/* --- dw tile: part[m][oc] (+)= sum over one image's pixels of in[oy+ky][ox*C + off + m] *
 * dout[oy][ox][oc], m < MT, NV vectors of oc.  in: the image at (ky, 0) offset by off; part:
 * row (ky, off) at the block's first channel; dout at the block's first channel; os = OC (row
 * stride of part, pixel stride of dout). */
#define DEF_DW(MT, NV)                                                                         \
	static void dw_##MT##_##NV(float *part, const float *in, const float *dout, int rs, int C,  \
	                           int OH, int OW, int init, int os)                               \
	{                                                                                          \
		vf acc[MT][NV];                                                                        \
		_Pragma("GCC unroll 16") for (int m = 0; m < MT; m++)                                   \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[m][v] =                   \
		        init ? VZ() : VLD(part + m * os + KVL * v);                                    \
		for (int oy = 0; oy < OH; oy++) {                                                      \
			const float *ir = in + (int64_t)oy * rs;                                           \
			const float *dr = dout + (int64_t)oy * OW * os;                                    \
			for (int ox = 0; ox < OW; ox++) {                                                  \
				vf d[NV];                                                                      \
				_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) d[v] =                    \
				    VLD(dr + ox * os + KVL * v);                                               \
				_Pragma("GCC unroll 16") for (int m = 0; m < MT; m++)                           \
				{                                                                              \
					vf a = VB(ir[ox * C + m]);                                                 \
					_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[m][v] =           \
					    VFMA(a, d[v], acc[m][v]);                                              \
				}                                                                              \
			}                                                                                  \
		}                                                                                      \
		_Pragma("GCC unroll 16") for (int m = 0; m < MT; m++)                                   \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                               \
		        VST(part + m * os + KVL * v, acc[m][v]);                                       \
	}

/* --- bias gradient: bs[v] += the rows of d (rows, NV vectors), one row after another, in
 * registers (through the pointer they went to memory and back every row: a store-to-load
 * chain per add) */
#define DEF_BSUM(NV)                                                                           \
	static void bsum_##NV(vf *bs, const float *d, int64_t rows)                                \
	{                                                                                          \
		vf acc[NV];                                                                            \
		_Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) acc[v] = bs[v];                   \
		for (int64_t r = 0; r < rows; r++)                                                     \
			_Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) acc[v] =                      \
			    VADD(acc[v], VLD(d + r * (NV * KVL) + KVL * v));                               \
		_Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) bs[v] = acc[v];                   \
	}
DEF_BSUM(1) DEF_BSUM(2) DEF_BSUM(3) DEF_BSUM(4) DEF_BSUM(5) DEF_BSUM(6)
static void (*const BSUM[7])(vf *, const float *, int64_t) = {NULL, bsum_1, bsum_2, bsum_3,
                                                               bsum_4, bsum_5, bsum_6};

typedef void (*fwd_fn)(float *, const float *, const float *, const float *, int, int, int, int);
typedef void (*dx_fn)(float *, const float *, const float *, int, int);
typedef void (*dw_fn)(float *, const float *, const float *, int, int, int, int, int, int);
typedef struct { int nv, px; fwd_fn f; } fwd_tile;
typedef struct { int nv, px; dx_fn f; } dx_tile;

#define DW_ROW(NV) DEF_DW(1, NV) DEF_DW(2, NV) DEF_DW(3, NV) DEF_DW(4, NV) DEF_DW(5, NV) DEF_DW(6, NV)
#if KVL == 16
/* 32 zmm registers: up to 30 accumulators + weights (broadcasts are memory operands) */
DEF_FWD(2, 14) DEF_FWD(2, 12) DEF_FWD(2, 7) DEF_FWD(3, 8) DEF_FWD(3, 5)
DEF_FWDP(2, 6) DEF_FWDP(2, 4) DEF_FWDP(3, 4) DEF_FWDP(3, 2)
DEF_DX(2, 10) DEF_DX(2, 8) DEF_DX(2, 5) DEF_DX(2, 4)
DW_ROW(2) DEF_DW(7, 2) DEF_DW(8, 2) DEF_DW(9, 2) DEF_DW(10, 2) DEF_DW(11, 2) DEF_DW(12, 2)
DEF_DW(13, 2) DEF_DW(14, 2) DEF_DW(15, 2)
DW_ROW(3) DEF_DW(7, 3) DEF_DW(8, 3)
/* in order of preference; a tile whose width divides the output width is taken first */
static const fwd_tile FWD[] = {{2, 14, fwd_2_14}, {2, 12, fwd_2_12}, {2, 7, fwd_2_7},
                               {3, 8, fwd_3_8}, {3, 5, fwd_3_5}};
static const fwd_tile FWDP[] = {{2, 6, fwdp_2_6}, {2, 4, fwdp_2_4}, {3, 4, fwdp_3_4},
                                {3, 2, fwdp_3_2}};
static const dx_tile DX[] = {{2, 10, dx_2_10}, {2, 8, dx_2_8}, {2, 5, dx_2_5}, {2, 4, dx_2_4}};
/* NV = 2: up to a whole conv1 strip (KS*C = 15) in one tile, 30 accumulators (with the 2
 * gradient vectors and a broadcast, GCC keeps one accumulator in L1); NV = 3: 8 x 3 */
static const int DW_MAX[4] = {0, 0, 15, 8};
static const dw_fn DW[4][DW_MT + 1] = {
    [2] = {NULL, dw_1_2, dw_2_2, dw_3_2, dw_4_2, dw_5_2, dw_6_2, dw_7_2, dw_8_2, dw_9_2, dw_10_2,
           dw_11_2, dw_12_2, dw_13_2, dw_14_2, dw_15_2},
    [3] = {NULL, dw_1_3, dw_2_3, dw_3_3, dw_4_3, dw_5_3, dw_6_3, dw_7_3, dw_8_3}};
#else
/* 16 ymm registers: 12 accumulators + 2 weights + 1 broadcast (the classic 6x16 tile) */
DEF_FWD(2, 6) DEF_FWD(2, 5) DEF_FWD(2, 4)
DEF_FWDP(2, 2)
DEF_DX(2, 6) DEF_DX(2, 5) DEF_DX(2, 4)
DW_ROW(2)
static const fwd_tile FWD[] = {{2, 6, fwd_2_6}, {2, 5, fwd_2_5}, {2, 4, fwd_2_4}};
static const fwd_tile FWDP[] = {{2, 2, fwdp_2_2}};
static const dx_tile DX[] = {{2, 6, dx_2_6}, {2, 5, dx_2_5}, {2, 4, dx_2_4}};
static const int DW_MAX[4] = {0, 0, 6, 0};
static const dw_fn DW[4][DW_MT + 1] = {
    [2] = {NULL, dw_1_2, dw_2_2, dw_3_2, dw_4_2, dw_5_2, dw_6_2}};
#endif
#define NTILES(t) ((int)(sizeof(t) / sizeof(t)[0]))

/* the tile of nv vectors for output width OW: the first whose width divides OW, else (exact
 * 0) the first no wider than OW (the last tile of a row then overlaps the one before: the
 * overlapped outputs are computed twice and stored with the same values) */
static const fwd_tile *pick_fwd(const fwd_tile *t, int n, int nv, int OW, int even)
{
	for (int i = 0; i < n; i++)
		if (t[i].nv == nv && OW % t[i].px == 0)
			return &t[i];
	for (int i = 0; i < n; i++)
		if (t[i].nv == nv && t[i].px <= OW && (!even || OW % 2 == 0))
			return &t[i];
	return NULL;
}

static const dx_tile *pick_dx(int nv, int OW)
{
	for (int i = 0; i < NTILES(DX); i++)
		if (DX[i].nv == nv && OW % DX[i].px == 0)
			return &DX[i];
	return NULL;
}

static int conv_supported(int H, int W, int C, int OC, int KS, int din)
{
	int OH = H - KS + 1, OW = W - KS + 1;
	if (OH < 1 || OW < 1 || OC % 16 || OC < 16 || OC > 48 || C < 1 || C > 64 ||
	    (int64_t)OH * OW * OC > 64 * 64 * 48)
		return 0;
	int nv = KOCB(OC) / KVL;
	if (nv > 3 || !DW[nv][1] || !pick_fwd(FWD, NTILES(FWD), nv, OW, 0))
		return 0;
	if (din && (C % KCB || !pick_dx(KCB / KVL, OW)))
		return 0;
	return 1;
}

/* [lo,hi) of part i of n split into k nearly equal parts (as nn.c) */
static inline void kpart(int64_t n, int k, int i, int64_t *lo, int64_t *hi)
{
	*lo = n * i / k;
	*hi = n * (i + 1) / k;
}

/* w (OC,K) -> wp (OC/OCB blocks, K, OCB) */
static void pack_w(float *wp, const float *w, int OC, int K)
{
	int OCB = KOCB(OC);
	for (int o = 0; o < OC; o++)
		for (int k = 0; k < K; k++)
			wp[((int64_t)(o / OCB) * K + k) * OCB + o % OCB] = w[(int64_t)o * K + k];
}

/* image bi of the forward (wp: the weights packed by pack_w) */
static void conv_fwd_img(float *out, const float *in, const float *wp, const float *b,
                         const fwd_tile *t, int bi, int H, int W, int C, int OC, int KS)
{
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C, OCB = KOCB(OC), NB = OC / OCB;
	int PX = t->px;
	for (int oy = 0; oy < OH; oy++)
		for (int x0 = 0; x0 < OW; x0 += PX) {
			int ox = x0 + PX <= OW ? x0 : OW - PX;
			float *o = out + (((int64_t)bi * OH + oy) * OW + ox) * OC;
			const float *i = in + (((int64_t)bi * H + oy) * W + ox) * C;
			for (int ob = 0; ob < NB; ob++)
				t->f(o + ob * OCB, i, wp + (int64_t)ob * K * OCB, b + ob * OCB, W * C, C, KS, OC);
		}
}

static void conv_fwd(float *out, const float *in, const float *w, const float *b, int B, int H,
                     int W, int C, int OC, int KS, float *ws)
{
	int OW = W - KS + 1, K = KS * KS * C;
	pack_w(ws, w, OC, K);
	const fwd_tile *t = pick_fwd(FWD, NTILES(FWD), KOCB(OC) / KVL, OW, 0);
#pragma omp parallel for schedule(static)
	for (int bi = 0; bi < B; bi++)
		conv_fwd_img(out, in, ws, b, t, bi, H, W, C, OC, KS);
}

/* One image of the direct conv backward: its dw into the chunk's partial `part` (set when
 * init, else added), its db into the bias accumulators bs, and, when dim is given, its input
 * gradient added into dim, or stored when dstore (the image's block cleared first, in cache;
 * the same bytes as adding into zeros) (wk: the weights packed (KS,KS,OC,C)). dimg is the
 * image's output gradient. */
static void conv_bwd_img(float *part, vf *bs, const float *img, const float *dimg, float *dim,
                         const float *wk, int H, int W, int C, int OC, int KS, int init,
                         int dstore)
{
	int OH = H - KS + 1, OW = W - KS + 1, L = KS * C, OCB = KOCB(OC), NV = OCB / KVL;
	for (int ob = 0; ob < OC; ob += OCB)
		for (int ky = 0; ky < KS; ky++)
			/* the strip in nt tiles of nearly equal width (15 = 5+5+5, not 6+6+3) */
			for (int t = 0, nt = (L + DW_MAX[NV] - 1) / DW_MAX[NV]; t < nt; t++) {
				int j = L * t / nt, mt = L * (t + 1) / nt - j;
				DW[NV][mt](part + ((int64_t)ky * L + j) * OC + ob, img + (int64_t)ky * W * C + j,
				           dimg + ob, W * C, C, OH, OW, init, OC);
			}
	BSUM[OC / KVL](bs, dimg, (int64_t)OH * OW);
	if (!dim)
		return;
	if (dstore)
		memset(dim, 0, sizeof(float) * H * W * C);
	const dx_tile *t = pick_dx(KCB / KVL, OW);
	for (int oy = 0; oy < OH; oy++)
		for (int ky = 0; ky < KS; ky++)
			for (int kx = 0; kx < KS; kx++)
				for (int c0 = 0; c0 < C; c0 += KCB)
					for (int x0 = 0; x0 < OW; x0 += t->px)
						t->f(dim + ((int64_t)(oy + ky) * W + x0 + kx) * C + c0,
						     dimg + ((int64_t)oy * OW + x0) * OC, wk + (int64_t)(ky * KS + kx) * OC * C + c0,
						     OC, C);
}

/* dw[o][k] and db[o] += the chunks' partials, in chunk order.  Called by every thread of the
 * parallel region after the partials are complete (the dw loop is shared out among them; db,
 * small, by one); no barrier of its own: the next one waits for both (the region's end, or in
 * conv_bn_bwd the next block's first loop or the barrier before `then`). */
static void conv_bwd_sum(float *dw, float *db, const float *ws, int K, int OC, int nch)
{
	/* a vector of channels at a time (OC is a multiple of KVL), each value 0 + the chunks' in
	 * order as one float at a time would be */
#pragma omp for schedule(static) nowait
	for (int k = 0; k < K; k++)
		for (int o0 = 0; o0 < OC; o0 += KVL) {
			vf s = VZ();
			for (int ch = 0; ch < nch; ch++)
				s = VADD(s, VLD(WS_PART(ws, OC, K, ch) + (int64_t)k * OC + o0));
			float t[KVL];
			VST(t, s);
			for (int i = 0; i < KVL; i++)
				dw[(int64_t)(o0 + i) * K + k] += t[i];
		}
#pragma omp single nowait
	for (int o = 0; o < OC; o++) {
		float s = 0;
		for (int ch = 0; ch < nch; ch++)
			s += WS_BPART(ws, OC, K, ch)[o];
		db[o] += s;
	}
}

/* w (OC,KS,KS,C) -> (KS,KS,OC,C), the din tiles' order */
static void pack_wk(float *wk, const float *w, int C, int OC, int KS)
{
	for (int o = 0; o < OC; o++)
		for (int kk = 0; kk < KS * KS; kk++)
			memcpy(wk + ((int64_t)kk * OC + o) * C, w + ((int64_t)o * KS * KS + kk) * C,
			       sizeof(float) * C);
}

static void conv_bwd(float *din, float *dw, float *db, const float *dout, const float *in,
                     const float *w, int B, int H, int W, int C, int OC, int KS, float *ws)
{
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C;
	if (din)
		pack_wk(ws, w, C, OC, KS);
	int nch = NN_CHUNKS < B ? NN_CHUNKS : B;
#pragma omp parallel
	{
#pragma omp for schedule(static)
		for (int ch = 0; ch < nch; ch++) {
			int64_t b0, b1;
			kpart(B, nch, ch, &b0, &b1);
			vf bs[48 / KVL];
			for (int v = 0; v < OC / KVL; v++)
				bs[v] = VZ();
			for (int64_t bi = b0; bi < b1; bi++)
				conv_bwd_img(WS_PART(ws, OC, K, ch), bs, in + (int64_t)bi * H * W * C,
				             dout + (int64_t)bi * OH * OW * OC,
				             din ? din + (int64_t)bi * H * W * C : NULL, ws, H, W, C, OC, KS,
				             bi == b0, 0);
			for (int v = 0; v < OC / KVL; v++)
				VST(WS_BPART(ws, OC, K, ch) + KVL * v, bs[v]);
		}
		conv_bwd_sum(dw, db, ws, K, OC, nch);
	}
}

/* BatchNorm in evaluation is y = x sc + sh per channel: folded into weights packed as pack_w
 * and a bias */
static void fold_pack(float *wp, float *fb, const float *w, const float *b, const float *gamma,
                      const float *beta, const float *rmean, const float *rvar, int OC, int K)
{
	int OCB = KOCB(OC);
	for (int o = 0; o < OC; o++) {
		float sc = 1, sh = 0;
		if (gamma) {
			sc = gamma[o] / sqrtf(rvar[o] + NN_BN_EPS);
			sh = beta[o] - rmean[o] * sc;
		}
		fb[o] = b[o] * sc + sh;
		for (int k = 0; k < K; k++)
			wp[((int64_t)(o / OCB) * K + k) * OCB + o % OCB] = w[(int64_t)o * K + k] * sc;
	}
}

static int pool_supported(int H, int W, int C, int OC, int KS)
{
	int OH = H - KS + 1, OW = W - KS + 1;
	return conv_supported(H, W, C, OC, KS, 0) && OH % 2 == 0 && OW % 2 == 0 &&
	       pick_fwd(FWDP, NTILES(FWDP), KOCB(OC) / KVL, OW, 1);
}

/* one image: conv (packed wp, bias fb) -> pool -> ReLU, out (OH/2,OW/2,OC) */
static void conv_pool_img(float *out, const float *in, const float *wp, const float *fb, int H,
                          int W, int C, int OC, int KS, const fwd_tile *t)
{
	int OH = H - KS + 1, OW = W - KS + 1, PW = OW / 2, K = KS * KS * C, OCB = KOCB(OC);
	int PX = t->px;
	for (int oy = 0; oy < OH; oy += 2)
		for (int x0 = 0; x0 < OW; x0 += PX) {
			int ox = x0 + PX <= OW ? x0 : OW - PX;  /* even: OW and PX are */
			float *o = out + ((int64_t)(oy / 2) * PW + ox / 2) * OC;
			const float *i = in + ((int64_t)oy * W + ox) * C;
			for (int ob = 0; ob < OC; ob += OCB)
				t->f(o + ob, i, wp + (int64_t)ob * K, fb + ob, W * C, C, KS, OC);
		}
}

static int conv_pool_eval(float *out, const float *in, const float *w, const float *b,
                          const float *gamma, const float *beta, const float *rmean,
                          const float *rvar, int B, int H, int W, int C, int OC, int KS, float *ws)
{
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C;
	if (!pool_supported(H, W, C, OC, KS))
		return -1;
	float *fb = WS_FB(ws, OC, K);
	fold_pack(ws, fb, w, b, gamma, beta, rmean, rvar, OC, K);
	const fwd_tile *t = pick_fwd(FWDP, NTILES(FWDP), KOCB(OC) / KVL, OW, 1);
	int PH = OH / 2, PW = OW / 2;
#pragma omp parallel for schedule(static)
	for (int bi = 0; bi < B; bi++)
		conv_pool_img(out + (int64_t)bi * PH * PW * OC, in + (int64_t)bi * H * W * C, ws, fb, H,
		              W, C, OC, KS, t);
	return 0;
}

static int features_eval(float *feat, float *p1, const float *x, const float *const l1[6],
                         const float *const l2[6], int B, int H, int W, int C, int C1, int C2,
                         int KS, float *ws, float *ws2)
{
	int H1 = (H - KS + 1) / 2, W1 = (W - KS + 1) / 2, H2 = (H1 - KS + 1) / 2, W2 = (W1 - KS + 1) / 2;
	int K1 = KS * KS * C, K2 = KS * KS * C1;
	if (!pool_supported(H, W, C, C1, KS) || !pool_supported(H1, W1, C1, C2, KS))
		return -1;
	float *fb1 = WS_FB(ws, C1, K1), *fb2 = WS_FB(ws2, C2, K2);
	fold_pack(ws, fb1, l1[0], l1[1], l1[2], l1[3], l1[4], l1[5], C1, K1);
	fold_pack(ws2, fb2, l2[0], l2[1], l2[2], l2[3], l2[4], l2[5], C2, K2);
	const fwd_tile *t1 = pick_fwd(FWDP, NTILES(FWDP), KOCB(C1) / KVL, W - KS + 1, 1);
	const fwd_tile *t2 = pick_fwd(FWDP, NTILES(FWDP), KOCB(C2) / KVL, W1 - KS + 1, 1);
	/* one parallel region, one image at a time through both layers (cache-resident) */
#pragma omp parallel for schedule(static)
	for (int bi = 0; bi < B; bi++) {
		float *q = p1 + (int64_t)bi * H1 * W1 * C1;
		conv_pool_img(q, x + (int64_t)bi * H * W * C, ws, fb1, H, W, C, C1, KS, t1);
		conv_pool_img(feat + (int64_t)bi * H2 * W2 * C2, q, ws2, fb2, H1, W1, C1, C2, KS, t2);
	}
	return 0;
}
#endif /* KVL */

/* --- training: BatchNorm + max-pool + ReLU fused (portable C, vectorised over channels; AVX-512
 * mask code when KVL is 16) -------------------------------------------------------------------- */

/* sums of rows [lo,hi) of x (R,C) and of their squares into a, q (double); blocks of up to 64
 * rows from lo summed in float, then into double */
static void bn_chunk_sums(double *a, double *q, const float *x, int64_t lo, int64_t hi, int C)
{
	for (int c = 0; c < C; c++)
		a[c] = q[c] = 0;
#if KVL == 16
	if (C % 16 == 0 && C <= 64) {
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
		return;
	}
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
}

/* statistics of each group's R rows of x (groups,R,C), in NN_CHUNKS fixed chunks per group with
 * double partials (as nn.c), into mean/rstd (groups,C), and the running statistics rm[g],
 * rv[g] updated with the unbiased variance, group after group; every group's chunks in one
 * parallel loop */
static void bn_stats(float *mean, float *rstd, const float *x, int64_t R, int C, int groups,
                     float *const *rm, float *const *rv, float mom)
{
	double s1[groups][NN_CHUNKS][C], s2[groups][NN_CHUNKS][C];
#pragma omp parallel for schedule(static)
	for (int gc = 0; gc < groups * NN_CHUNKS; gc++) {
		int g = gc / NN_CHUNKS, ch = gc % NN_CHUNKS;
		bn_chunk_sums(s1[g][ch], s2[g][ch], x + (int64_t)g * R * C, R * ch / NN_CHUNKS,
		              R * (ch + 1) / NN_CHUNKS, C);
	}
	for (int g = 0; g < groups; g++)
		nn_bn_stats_finish(C, (const double (*)[C])s1[g], (const double (*)[C])s2[g], R,
		                   mean + g * C, rstd + g * C, rm[g], rv[g], mom);
}

/* prefetch n floats from p (the next pair of conv-map rows: the passes below read the map in
 * pairs of rows, a pattern the hardware prefetcher follows too late) */
static inline void prefetch_floats(const float *p, int64_t n)
{
	for (int64_t i = 0; i < n; i += 16)
		__builtin_prefetch(p + i, 0, 3);
}

/* The fused forward's pool argmax (0-3, the window position) has ARG_POS added where the pooled
 * value is positive: the ReLU's mask, which the backward then reads from there rather than from
 * the output r (a quarter of the bytes, and one stream fewer in both backward passes). */
#define ARG_POS 4

/* the shapes the fused BatchNorm + pool + ReLU kernels take (forward and backward alike) */
static int bn_fused_ok(int B, int H, int W, int C, int groups)
{
	return H % 2 == 0 && W % 2 == 0 && groups >= 1 && B % groups == 0 && C <= 64;
}

/* image b of the normalise + pool + ReLU pass (Bg images per group) */
static void bn_pool_relu_img(float *r, uint8_t *arg, float *xa, const float *mean,
                             const float *rstd, const float *x, const float *gamma,
                             const float *beta, int b, int Bg, int H, int W, int C)
{
	int PH = H / 2, PW = W / 2, g = b / Bg;
	float sc[C], sh[C];
	for (int c = 0; c < C; c++) {
		sc[c] = gamma[c] * rstd[g * C + c];
		sh[c] = beta[c] - mean[g * C + c] * sc[c];
	}
#if KVL == 16
	if (C % 16 == 0) {
		for (int py = 0; py < PH; py++) {
			if (py + 1 < PH)
				prefetch_floats(x + ((int64_t)b * H + 2 * py + 2) * W * C, 2 * (int64_t)W * C);
			for (int px = 0; px < PW; px++) {
				const float *p00 = x + (((int64_t)b * H + 2 * py) * W + 2 * px) * C;
				const float *p01 = p00 + C, *p10 = p00 + (int64_t)W * C, *p11 = p10 + C;
				int64_t cell = ((int64_t)b * PH + py) * PW + px;
				float *o = r + cell * C, *xo = xa + cell * C;
				uint8_t *a = arg + cell * C;
				for (int c = 0; c < C; c += 16) {
					__m512 x0 = _mm512_loadu_ps(p00 + c), x1 = _mm512_loadu_ps(p01 + c);
					__m512 x2 = _mm512_loadu_ps(p10 + c), x3 = _mm512_loadu_ps(p11 + c);
					__m512 S = _mm512_loadu_ps(sc + c), T = _mm512_loadu_ps(sh + c);
					__m512 v0 = _mm512_fmadd_ps(x0, S, T), v1 = _mm512_fmadd_ps(x1, S, T);
					__m512 v2 = _mm512_fmadd_ps(x2, S, T), v3 = _mm512_fmadd_ps(x3, S, T);
					__mmask16 g1 = _mm512_cmp_ps_mask(v1, v0, _CMP_GT_OQ);
					__mmask16 g3 = _mm512_cmp_ps_mask(v3, v2, _CMP_GT_OQ);
					__m512 m01 = _mm512_mask_blend_ps(g1, v0, v1);
					__m512 m23 = _mm512_mask_blend_ps(g3, v2, v3);
					__mmask16 sel = _mm512_cmp_ps_mask(m23, m01, _CMP_GT_OQ);
					__m512 m = _mm512_mask_blend_ps(sel, m01, m23);
					__mmask16 low = (__mmask16)((sel & g3) | (~sel & g1));
					__mmask16 pos = _mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_GT_OQ);
					__m128i k = _mm_add_epi8(_mm_maskz_set1_epi8(sel, 2), _mm_maskz_set1_epi8(low, 1));
					k = _mm_add_epi8(k, _mm_maskz_set1_epi8(pos, ARG_POS));
					_mm_storeu_si128((__m128i *)(a + c), k);
					__m512 xm = _mm512_mask_blend_ps(sel, _mm512_mask_blend_ps(g1, x0, x1),
					                                 _mm512_mask_blend_ps(g3, x2, x3));
					_mm512_storeu_ps(xo + c, xm);
					_mm512_storeu_ps(o + c, _mm512_max_ps(m, _mm512_setzero_ps()));
				}
			}
		}
		return;
	}
#endif
	for (int py = 0; py < PH; py++) {
		if (py + 1 < PH)
			prefetch_floats(x + ((int64_t)b * H + 2 * py + 2) * W * C, 2 * (int64_t)W * C);
		for (int px = 0; px < PW; px++) {
			const float *p00 = x + (((int64_t)b * H + 2 * py) * W + 2 * px) * C;
			const float *p01 = p00 + C, *p10 = p00 + (int64_t)W * C, *p11 = p10 + C;
			int64_t cell = ((int64_t)b * PH + py) * PW + px;
			float *o = r + cell * C, *xo = xa + cell * C;
			uint8_t *a = arg + cell * C;
#pragma omp simd
			for (int c = 0; c < C; c++) {
				/* the first of equal maxima wins, as nn_maxpool2_forward */
				/* branch-free (selects of computed values) so that it vectorises */
				float x0 = p00[c], x1 = p01[c], x2 = p10[c], x3 = p11[c];
				float v0 = x0 * sc[c] + sh[c], v1 = x1 * sc[c] + sh[c];
				float v2 = x2 * sc[c] + sh[c], v3 = x3 * sc[c] + sh[c];
				float m01 = v1 > v0 ? v1 : v0, m23 = v3 > v2 ? v3 : v2;
				float y01 = v1 > v0 ? x1 : x0, y23 = v3 > v2 ? x3 : x2;
				int k01 = (v1 > v0) & 1, k23 = 2 + ((v3 > v2) & 1), sel = (m23 > m01) & 1;
				float m = m23 > m01 ? m23 : m01;
				float mz = m > 0 ? m : 0;
				int pos = (mz > 0) & 1;  /* (m > 0 itself stopped the vectorising) */
				a[c] = (uint8_t)(k01 + sel * (k23 - k01) + ARG_POS * pos);
				xo[c] = m23 > m01 ? y23 : y01;
				o[c] = mz;
			}
		}
	}
}

static int bn_pool_relu_fwd(float *r, uint8_t *arg, float *xa, float *mean, float *rstd,
                            const float *x, const float *gamma, const float *beta,
                            float *const *rm, float *const *rv, int B, int H, int W, int C,
                            int groups, float mom)
{
	if (!bn_fused_ok(B, H, W, C, groups))
		return -1;
	int Bg = B / groups;
	bn_stats(mean, rstd, x, (int64_t)Bg * H * W, C, groups, rm, rv, mom);
#pragma omp parallel for schedule(static)
	for (int b = 0; b < B; b++)
		bn_pool_relu_img(r, arg, xa, mean, rstd, x, gamma, beta, b, Bg, H, W, C);
	return 0;
}

#if KVL
/* The training forward of a block, conv -> BatchNorm (batch statistics) -> pool -> ReLU, in one
 * parallel region: each statistics chunk (NN_CHUNKS per group) convolves its own images and
 * sums their rows while they are in cache (one pass over the conv map fewer; the same sums in
 * the same order as conv_fwd then bn_pool_relu_fwd, so the same bytes).  -1 when the chunks do
 * not fall on image boundaries (then the caller runs the two). */
static int conv_bn_pool_fwd(float *r, uint8_t *arg, float *xa, float *mean, float *rstd,
                            float *cx, const float *in, const float *w, const float *b,
                            const float *gamma, const float *beta, float *const *rm,
                            float *const *rv, int B, int H, int W, int C, int OC, int KS,
                            int groups, float mom, float *ws)
{
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C;
	if (!conv_supported(H, W, C, OC, KS, 0) || !bn_fused_ok(B, OH, OW, OC, groups) ||
	    (B / groups) % NN_CHUNKS)
		return -1;
	int Bg = B / groups, per = Bg / NN_CHUNKS;  /* images per chunk */
	int64_t P = (int64_t)OH * OW, R = (int64_t)Bg * P;
	pack_w(ws, w, OC, K);
	const fwd_tile *t = pick_fwd(FWD, NTILES(FWD), KOCB(OC) / KVL, OW, 0);
	double s1[groups][NN_CHUNKS][OC], s2[groups][NN_CHUNKS][OC];
#pragma omp parallel
	{
#pragma omp for schedule(static)
		for (int gc = 0; gc < groups * NN_CHUNKS; gc++) {
			int g = gc / NN_CHUNKS, ch = gc % NN_CHUNKS, b0 = gc * per;
			for (int bi = b0; bi < b0 + per; bi++)
				conv_fwd_img(cx, in, ws, b, t, bi, H, W, C, OC, KS);
			/* chunk ch of group g: rows [R ch / NN_CHUNKS, ...) = its images */
			bn_chunk_sums(s1[g][ch], s2[g][ch], cx + (int64_t)b0 * P * OC, 0, per * P, OC);
		}
		/* the statistics, saved and the running ones updated, by one thread; the others take
		 * the same mean and rstd for themselves, so that no barrier waits for that one */
		float pm[groups * OC], pr[groups * OC];
		const float *um = pm, *ur = pr;
		int mine = 0;
#pragma omp single nowait
		{
			for (int g = 0; g < groups; g++)
				nn_bn_stats_finish(OC, (const double (*)[OC])s1[g], (const double (*)[OC])s2[g],
				                   R, mean + g * OC, rstd + g * OC, rm[g], rv[g], mom);
			um = mean;
			ur = rstd;
			mine = 1;
		}
		for (int g = 0; g < groups && !mine; g++)
			nn_bn_stats_finish(OC, (const double (*)[OC])s1[g], (const double (*)[OC])s2[g], R,
			                   pm + g * OC, pr + g * OC, NULL, NULL, mom);
#pragma omp for schedule(static) nowait
		for (int bi = 0; bi < B; bi++)
			bn_pool_relu_img(r, arg, xa, um, ur, cx, gamma, beta, bi, Bg, OH, OW, OC);
	}
	return 0;
}
#endif

/* One chunk of the BatchNorm backward sums over the pooled cells [lo,hi) (dy is non-zero only at
 * each window's argmax, where the BN input is xa): a = sum of dy, q = sum of dy xhat (double),
 * m and rs the group's mean and rstd */
static void bn_bwd_chunk_sums(double *a, double *q, const float *dr, const uint8_t *arg,
                              const float *xa, const float *m, const float *rs, int64_t lo,
                              int64_t hi, int C)
{
	for (int c = 0; c < C; c++)
		a[c] = q[c] = 0;
#if KVL == 16
	if (C % 16 == 0) {
		/* float partials per block of up to 64 cells, then into double */
		for (int c0 = 0; c0 < C; c0 += 16) {
			__m512 M = _mm512_loadu_ps(m + c0), RS = _mm512_loadu_ps(rs + c0);
			__m512d A0 = _mm512_setzero_pd(), A1 = A0, Q0 = A0, Q1 = A0;
			for (int64_t e0 = lo; e0 < hi; e0 += 64) {
				int64_t e1 = e0 + 64 < hi ? e0 + 64 : hi;
				__m512 fa = _mm512_setzero_ps(), fq = fa;
				for (int64_t e = e0; e < e1; e++) {
					int64_t o = e * C + c0;
					__mmask16 pos = _mm_test_epi8_mask(_mm_loadu_si128((const __m128i *)(arg + o)),
					                                   _mm_set1_epi8(ARG_POS));
					__m512 dy = _mm512_maskz_loadu_ps(pos, dr + o);
					__m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xa + o), M), RS);
					fa = _mm512_add_ps(fa, dy);
					fq = _mm512_fmadd_ps(dy, xh, fq);
				}
				A0 = _mm512_add_pd(A0, _mm512_cvtps_pd(_mm512_castps512_ps256(fa)));
				A1 = _mm512_add_pd(A1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(fa, 1)));
				Q0 = _mm512_add_pd(Q0, _mm512_cvtps_pd(_mm512_castps512_ps256(fq)));
				Q1 = _mm512_add_pd(Q1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(fq, 1)));
			}
			_mm512_storeu_pd(a + c0, A0);
			_mm512_storeu_pd(a + c0 + 8, A1);
			_mm512_storeu_pd(q + c0, Q0);
			_mm512_storeu_pd(q + c0 + 8, Q1);
		}
		return;
	}
#endif
	/* float partials per block of up to 64 cells (vectorises), then into double */
	for (int64_t e0 = lo; e0 < hi; e0 += 64) {
		int64_t e1 = e0 + 64 < hi ? e0 + 64 : hi;
		float fa[C], fq[C];
		for (int c = 0; c < C; c++)
			fa[c] = fq[c] = 0;
		for (int64_t e = e0; e < e1; e++) {
			const float *d = dr + e * C, *xv = xa + e * C;
			const uint8_t *k = arg + e * C;
#pragma omp simd
			for (int c = 0; c < C; c++) {
				float dd = d[c];
				float dy = k[c] & ARG_POS ? dd : 0.0f;
				fa[c] += dy;
				fq[c] += dy * ((xv[c] - m[c]) * rs[c]);
			}
		}
		for (int c = 0; c < C; c++) {
			a[c] += fa[c];
			q[c] += fq[c];
		}
	}
}

/* chunk ch of group g's Bg P pooled cells: [*lo, *hi) */
static inline void bn_chunk(int g, int ch, int Bg, int64_t P, int64_t *lo, int64_t *hi)
{
	int64_t base = (int64_t)g * Bg * P;
	*lo = base + (int64_t)Bg * P * ch / NN_CHUNKS;
	*hi = base + (int64_t)Bg * P * (ch + 1) / NN_CHUNKS;
}

/* BN backward sums per group (every group's chunks in one parallel loop): adds d(gamma),
 * d(beta); k1 = mean(dy), k2 = mean(dy xhat), (groups,C) each */
static void bn_bwd_sums(float *k1, float *k2, float *dgamma, float *dbeta, const float *dr,
                        const uint8_t *arg, const float *xa, const float *mean,
                        const float *rstd, int B, int H, int W, int C, int groups)
{
	int Bg = B / groups;
	int64_t P = (int64_t)(H / 2) * (W / 2);  /* pooled cells per image */
	double s1[groups][NN_CHUNKS][C], s2[groups][NN_CHUNKS][C];
#pragma omp parallel for schedule(static)
	for (int gc = 0; gc < groups * NN_CHUNKS; gc++) {
		int g = gc / NN_CHUNKS, ch = gc % NN_CHUNKS;
		int64_t lo, hi;
		bn_chunk(g, ch, Bg, P, &lo, &hi);
		bn_bwd_chunk_sums(s1[g][ch], s2[g][ch], dr, arg, xa, mean + g * C, rstd + g * C, lo, hi,
		                  C);
	}
	for (int g = 0; g < groups; g++)
		nn_bn_bwd_finish(C, (const double (*)[C])s1[g], (const double (*)[C])s2[g],
		                 (int64_t)Bg * H * W, dgamma, dbeta, k1 + g * C, k2 + g * C);
}

/* the portable inner loops of bn_bwd_dx_img, as functions of restrict pointers and 32-bit
 * lanes so that the compiler vectorises them (baseline SSE2 too) */
static void dx_cell_dy(float *restrict gdy, int32_t *restrict kk, const float *restrict gr,
                       const float *restrict d, const uint8_t *restrict k, int C)
{
#pragma omp simd
	for (int c = 0; c < C; c++) {
		float dd = d[c];
		int32_t v = k[c];
		gdy[c] = gr[c] * (v & ARG_POS ? dd : 0.0f);
		kk[c] = v & 3;
	}
}

static void dx_cell_q(float *restrict dv, const float *restrict xv, const float *restrict m,
                      const float *restrict bc, const float *restrict ac,
                      const float *restrict gdy, const int32_t *restrict kk, int q, int C)
{
#pragma omp simd
	for (int c = 0; c < C; c++) {
		/* a select between loaded values (a conditional load or add is not if-converted) */
		float t = (xv[c] - m[c]) * bc[c] + ac[c], g = gdy[c];
		dv[c] = t + (kk[c] == q ? g : 0.0f);
	}
}

/* dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat)) at every position of image b, stored
 * into dx (that image's (H,W,C) block), as (x - mean) bc + ac + [argmax] gamma rstd dy */
static void bn_bwd_dx_img(float *dx, int b, const float *k1_, const float *k2_, const float *dr,
                          const uint8_t *arg, const float *x, const float *mean,
                          const float *rstd, const float *gamma, int B, int H, int W, int C,
                          int groups)
{
	int Bg = B / groups, PH = H / 2, PW = W / 2, g = b / Bg;
	const float *m = mean + g * C, *rs = rstd + g * C, *K1 = k1_ + g * C, *K2 = k2_ + g * C;
	const float *xi = x + (int64_t)b * H * W * C;
	float gr[C], ac[C], bc[C], gdy[C];  /* (VLAs out of the loops: they would stop vectorising) */
	int32_t kk[C];
	for (int c = 0; c < C; c++) {
		gr[c] = gamma[c] * rs[c];
		ac[c] = -gr[c] * K1[c];
		bc[c] = -gr[c] * rs[c] * K2[c];
	}
	for (int py = 0; py < PH; py++) {
		if (py + 1 < PH)
			prefetch_floats(xi + (int64_t)(2 * py + 2) * W * C, 2 * (int64_t)W * C);
		for (int px = 0; px < PW; px++) {
			int64_t cell = ((int64_t)b * PH + py) * PW + px;
			const float *d = dr + cell * C;
			const uint8_t *k = arg + cell * C;
			int64_t loc[4];
			for (int q = 0; q < 4; q++)
				loc[q] = ((int64_t)(2 * py + (q >> 1)) * W + 2 * px + (q & 1)) * C;
#if KVL == 16
			if (C % 16 == 0) {
				for (int c = 0; c < C; c += 16) {
					__m128i kv = _mm_loadu_si128((const __m128i *)(k + c));
					__mmask16 pos = _mm_test_epi8_mask(kv, _mm_set1_epi8(ARG_POS));
					__m128i kk = _mm_and_si128(kv, _mm_set1_epi8(3));
					__m512 gdy = _mm512_mul_ps(_mm512_loadu_ps(gr + c), _mm512_maskz_loadu_ps(pos, d + c));
					__m512 M = _mm512_loadu_ps(m + c), A = _mm512_loadu_ps(ac + c);
					__m512 Bv = _mm512_loadu_ps(bc + c);
					for (int q = 0; q < 4; q++) {
						__m512 res = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(xi + loc[q] + c), M),
						                             Bv, A);
						__mmask16 at = _mm_cmpeq_epi8_mask(kk, _mm_set1_epi8((char)q));
						_mm512_storeu_ps(dx + loc[q] + c, _mm512_mask_add_ps(res, at, res, gdy));
					}
				}
				continue;
			}
#endif
			dx_cell_dy(gdy, kk, gr, d, k, C);
			for (int q = 0; q < 4; q++)
				dx_cell_q(dx + loc[q], xi + loc[q], m, bc, ac, gdy, kk, q, C);
		}
	}
}

static int relu_pool_bn_bwd(float *dx, float *dgamma, float *dbeta, const float *dr,
                            const uint8_t *arg, const float *x, const float *xa,
                            const float *mean, const float *rstd, const float *gamma, int B,
                            int H, int W, int C, int groups)
{
	if (!bn_fused_ok(B, H, W, C, groups))
		return -1;
	float k1[groups * C], k2[groups * C];
	bn_bwd_sums(k1, k2, dgamma, dbeta, dr, arg, xa, mean, rstd, B, H, W, C, groups);
#pragma omp parallel for schedule(static)
	for (int b = 0; b < B; b++)
		bn_bwd_dx_img(dx + (int64_t)b * H * W * C, b, k1, k2, dr, arg, x, mean, rstd, gamma, B, H,
		              W, C, groups);
	return 0;
}

#if KVL
/* One block of conv_bn_bwd, run by every thread of the enclosing parallel region (orphaned
 * worksharing: the threads must all call it, in the same order for every block): the BatchNorm
 * sums (as bn_bwd_sums, into the caller's shared s1, s2), then the images.  No barrier at its
 * end (conv_bwd_sum's loops are nowait): a following block reads only what the image loop's
 * barrier has completed (its dr, this block's din). */
static void conv_bn_bwd_team(const kern_block *L, const kern_bwd_args *a, int B, int groups,
                             double *s1_, double *s2_)
{
	int H = L->H, W = L->W, C = L->C, OC = L->OC, KS = L->KS;
	int OH = H - KS + 1, OW = W - KS + 1, K = KS * KS * C, Bg = B / groups;
	int64_t P = (int64_t)(OH / 2) * (OW / 2);  /* pooled cells per image */
	double (*s1)[NN_CHUNKS][OC] = (double (*)[NN_CHUNKS][OC])s1_;
	double (*s2)[NN_CHUNKS][OC] = (double (*)[NN_CHUNKS][OC])s2_;
	const kern_saved *s = a->s;
	const float *dr = a->dr, *mean = s->mean, *rstd = s->rstd, *xa = s->pool;
	const uint8_t *arg = s->arg;
	float *din = L->din ? a->din : NULL, *ws = a->ws;
	int nch = NN_CHUNKS < B ? NN_CHUNKS : B;
#pragma omp for schedule(static)
	for (int gc = 0; gc < groups * NN_CHUNKS; gc++) {
		int g = gc / NN_CHUNKS, ch = gc % NN_CHUNKS;
		int64_t lo, hi;
		bn_chunk(g, ch, Bg, P, &lo, &hi);
		bn_bwd_chunk_sums(s1[g][ch], s2[g][ch], dr, arg, xa, mean + g * OC, rstd + g * OC, lo,
		                  hi, OC);
	}
	/* every thread takes k1, k2 for itself (the same values), one adding d(gamma) and
	 * d(beta) too, so that no barrier waits for that one */
	float k1[groups * OC], k2[groups * OC];
	int mine = 0;
#pragma omp single nowait
	mine = 1;
	for (int g = 0; g < groups; g++)
		nn_bn_bwd_finish(OC, (const double (*)[OC])s1[g], (const double (*)[OC])s2[g],
		                 (int64_t)Bg * OH * OW, mine ? a->dgamma : NULL, mine ? a->dbeta : NULL,
		                 k1 + g * OC, k2 + g * OC);
	/* one image's conv-output gradient, computed here and used at once (cache-resident) */
	float dimg[(size_t)OH * OW * OC] __attribute__((aligned(64)));
#pragma omp for schedule(static)
	for (int ch = 0; ch < nch; ch++) {
		int64_t b0, b1;
		kpart(B, nch, ch, &b0, &b1);
		vf bs[48 / KVL];
		for (int v = 0; v < OC / KVL; v++)
			bs[v] = VZ();
		for (int64_t bi = b0; bi < b1; bi++) {
			bn_bwd_dx_img(dimg, (int)bi, k1, k2, dr, arg, s->conv, mean, rstd, a->gamma, B, OH,
			              OW, OC, groups);
			conv_bwd_img(WS_PART(ws, OC, K, ch), bs, a->in + (int64_t)bi * H * W * C, dimg,
			             din ? din + (int64_t)bi * H * W * C : NULL, ws, H, W, C, OC, KS,
			             bi == b0, a->din_store);
		}
		for (int v = 0; v < OC / KVL; v++)
			VST(WS_BPART(ws, OC, K, ch) + KVL * v, bs[v]);
	}
	conv_bwd_sum(a->dw, a->db, ws, K, OC, nch);
}

/* n blocks' ReLU + pool + BN + conv backward, in this order, in one parallel region (a wake-up
 * of the threads per block fewer); -1 (nothing done) unless every block fits */
static int conv_bn_bwd(const kern_block *L, const kern_bwd_args *a, int n, int B, int groups,
                       void (*then)(void *), void *arg)
{
	for (int i = 0; i < n; i++) {
		int OH = L[i].H - L[i].KS + 1, OW = L[i].W - L[i].KS + 1;
		if (!L[i].bn || L[i].OC > 48 ||
		    !conv_supported(L[i].H, L[i].W, L[i].C, L[i].OC, L[i].KS, L[i].din) ||
		    !bn_fused_ok(B, OH, OW, L[i].OC, groups))
			return -1;
	}
	for (int i = 0; i < n; i++)
		if (L[i].din && a[i].din)
			pack_wk(a[i].ws, a[i].w, L[i].C, L[i].OC, L[i].KS);
	/* each block's BatchNorm chunk sums, shared by the threads */
	size_t per = (size_t)groups * NN_CHUNKS * 48;
	double sums[n][2][per];
#pragma omp parallel
	{
		for (int i = 0; i < n; i++)
			conv_bn_bwd_team(&L[i], &a[i], B, groups, sums[i][0], sums[i][1]);
		if (then) {
#pragma omp barrier
			then(arg);
		}
	}
	return 0;
}
#endif

#if KVL
/* --- dense layers -------------------------------------------------------------------------------
 * forward   out[b][o] = bias[o] + sum_k in[b][k] w[o][k]: a tile of FC_MR rows of in by FC_NR rows
 *           of w keeps one vector of partial sums per pair over k, reduced at the end;
 * backward  C[m][k] += sum_j a(m,j) Bm[j][k], for dw (m = o, j = b, a = dout[b][o], Bm = in) and
 *           din (m = b, j = o, a = dout[b][o], Bm = w): a tile of MR rows by GER_NV vectors of
 *           C, broadcast a times vectors of Bm, the sum over j in order.
 * Every output is one sum in a fixed order, whichever thread computes it: the bytes do not
 * depend on the thread count.  OpenBLAS's kernels for these shapes (its Haswell code on this
 * CPU, in chunks) ran at about half the speed. */
#if KVL == 16
#define FC_MR 4
#define FC_NR 5
#define GER_MR 4
#define GER_NV 6
static inline float vsum(vf v)
{
	return _mm512_reduce_add_ps(v);
}
#else
#define FC_MR 2
#define FC_NR 5
#define GER_MR 3
#define GER_NV 4
static inline float vsum(vf v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
#endif

/* rows b0.. of in (FC_MR) by rows o0.. of w (FC_NR) */
static void fc_fwd_tile(float *out, const float *in, const float *w, const float *bias, int In,
                        int Out, int b0, int o0)
{
	vf acc[FC_MR][FC_NR];
	_Pragma("GCC unroll 4") for (int r = 0; r < FC_MR; r++)
		_Pragma("GCC unroll 8") for (int n = 0; n < FC_NR; n++) acc[r][n] = VZ();
	const float *x0 = in + (int64_t)b0 * In, *w0 = w + (int64_t)o0 * In;
	for (int k = 0; k < In; k += KVL) {
		vf x[FC_MR];
		_Pragma("GCC unroll 4") for (int r = 0; r < FC_MR; r++) x[r] = VLD(x0 + (int64_t)r * In + k);
		_Pragma("GCC unroll 8") for (int n = 0; n < FC_NR; n++) {
			vf wv = VLD(w0 + (int64_t)n * In + k);
			_Pragma("GCC unroll 4") for (int r = 0; r < FC_MR; r++)
				acc[r][n] = VFMA(x[r], wv, acc[r][n]);
		}
	}
	for (int r = 0; r < FC_MR; r++)
		for (int n = 0; n < FC_NR; n++)
			out[(int64_t)(b0 + r) * Out + o0 + n] = bias[o0 + n] + vsum(acc[r][n]);
}

static int fc_fwd(float *out, const float *in, const float *w, const float *b, int B, int In,
                  int Out)
{
	if (In % KVL || B % FC_MR || Out % FC_NR)
		return -1;
	int nb = B / FC_MR, no = Out / FC_NR;
#pragma omp parallel for schedule(static) if ((int64_t)B * In * Out > (1 << 20))
	for (int t = 0; t < nb * no; t++)
		fc_fwd_tile(out, in, w, b, In, Out, t / no * FC_MR, t % no * FC_NR);
	return 0;
}

/* rows [0,MR) of C (ldc) by NV vectors, from a (row stride sam, j stride saj) and Bm (ldb) */
#define DEF_GER(MR, NV)                                                                        \
	static void ger_##MR##_##NV(float *c, int64_t ldc, const float *a, int64_t sam,            \
	                            int64_t saj, const float *bm, int64_t ldb, int J)              \
	{                                                                                          \
		vf acc[MR][NV];                                                                        \
		_Pragma("GCC unroll 4") for (int r = 0; r < MR; r++)                                   \
		    _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) acc[r][v] =                   \
		        VLD(c + r * ldc + KVL * v);                                                    \
		for (int j = 0; j < J; j++) {                                                          \
			vf s[MR];                                                                          \
			_Pragma("GCC unroll 4") for (int r = 0; r < MR; r++) s[r] = VB(a[r * sam + j * saj]); \
			_Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)                               \
			{                                                                                  \
				vf bv = VLD(bm + j * ldb + KVL * v);                                           \
				_Pragma("GCC unroll 4") for (int r = 0; r < MR; r++) acc[r][v] =               \
				    VFMA(s[r], bv, acc[r][v]);                                                 \
			}                                                                                  \
		}                                                                                      \
		_Pragma("GCC unroll 4") for (int r = 0; r < MR; r++)                                   \
		    _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)                               \
		        VST(c + r * ldc + KVL * v, acc[r][v]);                                         \
	}
typedef void (*ger_fn)(float *, int64_t, const float *, int64_t, int64_t, const float *, int64_t,
                       int);
/* GER[mr][nv]: mr rows (the last row block may be short) by nv vectors (the last column tile
 * may be narrow) */
#define DEF_GER_NV(NV) DEF_GER(1, NV) DEF_GER(2, NV) DEF_GER(3, NV)
DEF_GER_NV(1)
DEF_GER_NV(2)
DEF_GER_NV(3)
DEF_GER_NV(4)
#if GER_MR == 4
DEF_GER_NV(5)
DEF_GER_NV(6)
DEF_GER(4, 1)
DEF_GER(4, 2)
DEF_GER(4, 3)
DEF_GER(4, 4)
DEF_GER(4, 5)
DEF_GER(4, 6)
static const ger_fn GER[GER_MR + 1][GER_NV + 1] = {
	{NULL},
	{NULL, ger_1_1, ger_1_2, ger_1_3, ger_1_4, ger_1_5, ger_1_6},
	{NULL, ger_2_1, ger_2_2, ger_2_3, ger_2_4, ger_2_5, ger_2_6},
	{NULL, ger_3_1, ger_3_2, ger_3_3, ger_3_4, ger_3_5, ger_3_6},
	{NULL, ger_4_1, ger_4_2, ger_4_3, ger_4_4, ger_4_5, ger_4_6},
};
#else
static const ger_fn GER[GER_MR + 1][GER_NV + 1] = {
	{NULL},
	{NULL, ger_1_1, ger_1_2, ger_1_3, ger_1_4},
	{NULL, ger_2_1, ger_2_2, ger_2_3, ger_2_4},
	{NULL, ger_3_1, ger_3_2, ger_3_3, ger_3_4},
};
#endif

/* adds into din (may be NULL), dw, db (NULL together: din alone); -1 (nothing done) when In
 * is not a multiple of the vector width */
static int fc_bwd_fits(int In)
{
	return In % KVL == 0;
}

static int fc_bwd(float *din, float *dw, float *db, const float *dout, const float *in,
                  const float *w, int B, int In, int Out)
{
	const int KT = GER_NV * KVL;  /* columns of C per tile (the last one may be narrower) */
	if (!fc_bwd_fits(In))
		return -1;
	int nk = (In + KT - 1) / KT, mw = (Out + GER_MR - 1) / GER_MR, md = (B + GER_MR - 1) / GER_MR;
	int tw = dw ? mw * nk : 0, tasks = tw + (din ? md * nk : 0);
#pragma omp parallel if ((int64_t)B * In * Out > (1 << 20))
	{
#pragma omp single nowait
		for (int o = 0; o < (dw ? Out : 0); o++) {
			double sum = 0;
			for (int b = 0; b < B; b++)
				sum += dout[(int64_t)b * Out + o];
			db[o] += (float)sum;
		}
#pragma omp for schedule(static) nowait
		for (int t = 0; t < tasks; t++) {
			int u = t < tw ? t : t - tw, M = t < tw ? Out : B;
			int m0 = u / nk * GER_MR, k0 = u % nk * KT;
			int mr = M - m0 < GER_MR ? M - m0 : GER_MR, nv = (In - k0 < KT ? In - k0 : KT) / KVL;
			if (t < tw)  /* dw rows m0.. (outputs), columns k0.. (inputs) */
				GER[mr][nv](dw + (int64_t)m0 * In + k0, In, dout + m0, 1, Out, in + k0, In, B);
			else         /* din rows m0.. (images), columns k0.. */
				GER[mr][nv](din + (int64_t)m0 * In + k0, In, dout + (int64_t)m0 * Out, Out, 1,
				            w + k0, In, Out);
		}
	}
	return 0;
}
#endif

#if KVL
const kern_ops KOPS = {1, KNAME, conv_supported, conv_fwd, conv_bwd, bn_pool_relu_fwd,
                       conv_bn_pool_fwd, relu_pool_bn_bwd, conv_bn_bwd, conv_pool_eval,
                       features_eval, fc_fwd, fc_bwd, fc_bwd_fits};
#else
const kern_ops KOPS = {1, KNAME, NULL, NULL, NULL, bn_pool_relu_fwd, NULL, relu_pool_bn_bwd, NULL,
                       NULL, NULL, NULL, NULL, NULL};
#endif
