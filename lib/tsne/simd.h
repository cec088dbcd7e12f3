/* simd.h - the t-SNE hot loops compiled for AVX-512 and AVX2 as well as baseline x86-64,
 * the version picked when the program loads (GCC function multi-versioning; the toolkit is
 * otherwise built without -march).  Each clone computes the same sums in the same order, but
 * wider vectors group the lanes differently, so results may differ in the last bits between
 * CPUs (not between runs or thread counts on one machine). */
#ifndef DN_TSNE_SIMD_H
#define DN_TSNE_SIMD_H
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define TSNE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TSNE_CLONES
#endif

#include <stdlib.h>
#include <string.h>

/* 1 when the explicit AVX-512 code (Barnes-Hut sums, attraction) is to run: the CPU has
 * AVX-512F and FMA, and DANN_ISA (as for the network's kernels) does not ask for generic or
 * avx2.  Callers compile that code only where __x86_64__ and GCC allow it. */
static inline int tsne_use_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
	const char *e = getenv("DANN_ISA");
	if (e && (!strcmp(e, "generic") || !strcmp(e, "avx2")))
		return 0;
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#else
	return 0;
#endif
}
#endif
