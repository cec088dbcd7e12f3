/* peak.c - the machine's measured float32 peak, for "what fraction of peak do we reach".
 * Two measures, each with 1 thread and with all threads:
 *   fma:   a tight loop of independent vector FMAs (the arithmetic ceiling);
 *   sgemm: OpenBLAS sgemm on 2048x2048 matrices (the practical ceiling).
 * Prints TSV: measure  threads  GFLOP/s(wall, best of 5)  GFLOP/s per CPU-second of each
 * thread x threads (best of 5; what the cores deliver while we run, on a shared machine). */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void openblas_set_num_threads(int);

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 12 independent accumulator chains (more than FMA latency x FMA ports) hide the latency.
 * With AVX-512 each is one zmm register and every iteration is 12 vfmadd231ps on zmm (check:
 * objdump -d build/rel/bench/peak | grep vfmadd231ps.*zmm); otherwise 256-bit FMA, or plain
 * vectors.  `width` gets the floats per vector. */
#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 vreg;
#define VW 16
#define VSET(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VSUM(x) _mm512_reduce_add_ps(x)
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 vreg;
#define VW 8
#define VSET(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
static float VSUM(__m256 x)
{
	float t[8];
	_mm256_storeu_ps(t, x);
	return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#else
typedef float vreg;
#define VW 1
#define VSET(x) (x)
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VSUM(x) (x)
#endif

static float fma_loop(long iters, float seed)
{
	vreg a0 = VSET(0), a1 = VSET(1e-3f), a2 = VSET(2e-3f), a3 = VSET(3e-3f), a4 = VSET(4e-3f),
	     a5 = VSET(5e-3f), a6 = VSET(6e-3f), a7 = VSET(7e-3f), a8 = VSET(8e-3f),
	     a9 = VSET(9e-3f), a10 = VSET(1e-2f), a11 = VSET(1.1e-2f);
	vreg b = VSET(1.0f - seed * 1e-9f - 1e-7f), c = VSET(1e-7f);
	for (long i = 0; i < iters; i++) {
		/* keep the chains in registers: the asm barrier stops the loop being folded */
		a0 = VFMA(a0, b, c); a1 = VFMA(a1, b, c); a2 = VFMA(a2, b, c); a3 = VFMA(a3, b, c);
		a4 = VFMA(a4, b, c); a5 = VFMA(a5, b, c); a6 = VFMA(a6, b, c); a7 = VFMA(a7, b, c);
		a8 = VFMA(a8, b, c); a9 = VFMA(a9, b, c); a10 = VFMA(a10, b, c); a11 = VFMA(a11, b, c);
		__asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));
	}
	return VSUM(a0) + VSUM(a1) + VSUM(a2) + VSUM(a3) + VSUM(a4) + VSUM(a5) + VSUM(a6) +
	       VSUM(a7) + VSUM(a8) + VSUM(a9) + VSUM(a10) + VSUM(a11);
}

/* CPU seconds of this thread: on a shared machine the FLOPs per second we actually ran */
static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double proc_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void)
{
	int maxt = omp_get_max_threads();
	volatile float sink = 0;
	for (int t = 1; t <= maxt; t = t == maxt ? maxt + 1 : maxt) {
		long iters = 20000000;
		double best = 0, bestc = 0;
		for (int r = 0; r < 5; r++) {
			double t0 = now(), cs = 0;
#pragma omp parallel num_threads(t) reduction(+ : sink, cs)
			{
				double c0 = thread_cpu();
				sink += fma_loop(iters, (float)omp_get_thread_num());
				cs += thread_cpu() - c0;
			}
			double g = (double)t * iters * 12 * VW * 2 / (now() - t0) / 1e9;
			double gc = (double)t * iters * 12 * VW * 2 / (cs / t) / 1e9;
			if (g > best)
				best = g;
			if (gc > bestc)
				bestc = gc;
		}
		printf("fma\t%d\t%.1f\t%.1f\n", t, best, bestc);
	}
	int n = 2048;
	float *A = malloc(sizeof(float) * n * n), *B = malloc(sizeof(float) * n * n), *C = malloc(sizeof(float) * n * n);
	for (long i = 0; i < (long)n * n; i++) {
		A[i] = (float)(i % 7) * 0.1f;
		B[i] = (float)(i % 5) * 0.1f;
	}
	for (int t = 1; t <= maxt; t = t == maxt ? maxt + 1 : maxt) {
		openblas_set_num_threads(t);
		double best = 0, bestc = 0;
		for (int r = 0; r < 5; r++) {
			double t0 = now(), c0 = proc_cpu();
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
			double g = 2.0 * n * n * n / (now() - t0) / 1e9;
			double gc = 2.0 * n * n * n / ((proc_cpu() - c0) / t) / 1e9;
			if (g > best)
				best = g;
			if (gc > bestc)
				bestc = gc;
		}
		printf("sgemm\t%d\t%.1f\t%.1f\n", t, best, bestc);
	}
	free(A);
	free(B);
	free(C);
	return sink == 12345.0f;
}
