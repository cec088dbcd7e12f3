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
#endif
