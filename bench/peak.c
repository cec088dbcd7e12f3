/* peak.c - the machine's measured float32 peak, for "what fraction of peak do we reach".
 * Two measures, each with 1 thread and with all threads:
 *   fma-avx512, fma-avx2, muladd-generic: a tight loop of independent vector FMAs (the
 *          arithmetic ceiling of each instruction-set path of lib/net/kern.h the CPU runs);
 *   sgemm: OpenBLAS sgemm on 2048x2048 matrices (the practical ceiling).
 * Prints TSV: measure  threads  GFLOP/s(wall, best of 5)  GFLOP/s per CPU-second of each
 * thread x threads (best of 5; what the cores deliver while we run, on a shared machine). */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int);

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 12 independent accumulator chains (more than FMA latency x FMA ports) hide the latency, one
 * loop per instruction set of the kernels (lib/net/kern.h), each compiled for its own target so the
 * one binary measures every path the CPU runs: avx512 (zmm vfmadd231ps), avx2 (ymm FMA) and
 * generic (baseline x86-64: 4-float SSE multiply + add, no FMA).  `flops` counts 2 per float
 * of each chain step. */
#define CHAINS(VT, SET, FMA)                                                                   \
	VT a0 = SET(0), a1 = SET(1e-3f), a2 = SET(2e-3f), a3 = SET(3e-3f), a4 = SET(4e-3f),        \
	   a5 = SET(5e-3f), a6 = SET(6e-3f), a7 = SET(7e-3f), a8 = SET(8e-3f), a9 = SET(9e-3f),    \
	   a10 = SET(1e-2f), a11 = SET(1.1e-2f);                                                   \
	VT b = SET(1.0f - seed * 1e-9f - 1e-7f), c = SET(1e-7f);                                   \
	for (long i = 0; i < iters; i++) {                                                         \
		a0 = FMA(a0, b, c); a1 = FMA(a1, b, c); a2 = FMA(a2, b, c); a3 = FMA(a3, b, c);        \
		a4 = FMA(a4, b, c); a5 = FMA(a5, b, c); a6 = FMA(a6, b, c); a7 = FMA(a7, b, c);        \
		a8 = FMA(a8, b, c); a9 = FMA(a9, b, c); a10 = FMA(a10, b, c); a11 = FMA(a11, b, c);    \
		/* keep the chains in registers: the asm barrier stops the loop being folded */       \
		__asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));     \
	}                                                                                          \
	VT t = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;                        \
	float r = 0;                                                                               \
	for (unsigned k = 0; k < sizeof t / sizeof(float); k++)                                    \
		r += t[k];                                                                             \
	return r;

typedef float v4 __attribute__((vector_size(16)));
#define SET4(x) ((v4){(x), (x), (x), (x)})
#define MULADD(a, b, c) ((a) * (b) + (c))
static float loop_generic(long iters, float seed)
{
	CHAINS(v4, SET4, MULADD)
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2,fma"))) static float loop_avx2(long iters, float seed)
{
	CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps)
}
__attribute__((target("avx512f"))) static float loop_avx512(long iters, float seed)
{
	CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps)
}
#endif

static const struct {
	const char *name;
	float (*loop)(long, float);
	int width;
} loops[] = {
#if defined(__x86_64__)
    {"fma-avx512", loop_avx512, 16},
    {"fma-avx2", loop_avx2, 8},
#endif
    {"muladd-generic", loop_generic, 4}};

static int cpu_runs(const char *name)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (!strcmp(name, "fma-avx512"))
		return __builtin_cpu_supports("avx512f");
	if (!strcmp(name, "fma-avx2"))
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
	return 1;
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
	for (size_t l = 0; l < sizeof loops / sizeof loops[0]; l++) {
		if (!cpu_runs(loops[l].name))
			continue;
		for (int t = 1; t <= maxt; t = t == maxt ? maxt + 1 : maxt) {
			long iters = 20000000;
			double best = 0, bestc = 0;
			for (int r = 0; r < 5; r++) {
				double t0 = now(), cs = 0;
#pragma omp parallel num_threads(t) reduction(+ : sink, cs)
				{
					double c0 = thread_cpu();
					sink += loops[l].loop(iters, (float)omp_get_thread_num());
					cs += thread_cpu() - c0;
				}
				double fl = (double)t * iters * 12 * loops[l].width * 2;
				double g = fl / (now() - t0) / 1e9, gc = fl / (cs / t) / 1e9;
				if (g > best)
					best = g;
				if (gc > bestc)
					bestc = gc;
			}
			printf("%s\t%d\t%.1f\t%.1f\n", loops[l].name, t, best, bestc);
		}
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
