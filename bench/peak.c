/* peak.c - the machine's measured float32 peak, for "what fraction of peak do we reach".
 * Two measures, each with 1 thread and with all threads:
 *   fma:   a tight loop of independent vector FMAs (the arithmetic ceiling);
 *   sgemm: OpenBLAS sgemm on 2048x2048 matrices (the practical ceiling).
 * Prints TSV: measure  threads  GFLOP/s (best of 5). */
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

typedef float v16 __attribute__((vector_size(64)));

/* 12 independent accumulator chains hide the FMA latency. */
static float fma_loop(long iters, float seed)
{
	v16 a[12], b = {0}, c = {0};
	for (int i = 0; i < 16; i++) {
		b[i] = 1.0f + seed * 1e-7f;
		c[i] = 1e-7f;
	}
	for (int k = 0; k < 12; k++)
		a[k] = c * (float)k;
	for (long i = 0; i < iters; i++)
		for (int k = 0; k < 12; k++)
			a[k] = a[k] * b + c;
	float s = 0;
	for (int k = 0; k < 12; k++)
		for (int i = 0; i < 16; i++)
			s += a[k][i];
	return s;
}

int main(void)
{
	int maxt = omp_get_max_threads();
	volatile float sink = 0;
	for (int t = 1; t <= maxt; t = t == maxt ? maxt + 1 : maxt) {
		long iters = 20000000;
		double best = 0;
		for (int r = 0; r < 5; r++) {
			double t0 = now();
#pragma omp parallel num_threads(t) reduction(+ : sink)
			sink += fma_loop(iters, (float)omp_get_thread_num());
			double g = (double)t * iters * 12 * 16 * 2 / (now() - t0) / 1e9;
			if (g > best)
				best = g;
		}
		printf("fma\t%d\t%.1f\n", t, best);
	}
	int n = 2048;
	float *A = malloc(sizeof(float) * n * n), *B = malloc(sizeof(float) * n * n), *C = malloc(sizeof(float) * n * n);
	for (long i = 0; i < (long)n * n; i++) {
		A[i] = (float)(i % 7) * 0.1f;
		B[i] = (float)(i % 5) * 0.1f;
	}
	for (int t = 1; t <= maxt; t = t == maxt ? maxt + 1 : maxt) {
		openblas_set_num_threads(t);
		double best = 0;
		for (int r = 0; r < 5; r++) {
			double t0 = now();
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
			double g = 2.0 * n * n * n / (now() - t0) / 1e9;
			if (g > best)
				best = g;
		}
		printf("sgemm\t%d\t%.1f\n", t, best);
	}
	free(A);
	free(B);
	free(C);
	return sink == 12345.0f;
}
