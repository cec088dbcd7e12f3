/* kern_avx2.c - the kernels of lib/net/kern_simd.h for AVX2 + FMA (8-float vectors, 16 registers).
 * mk/kern.mk compiles this file with -mavx2 -mfma; kern.c calls it only on a CPU that has both.
 * Compiled without them (fuzz and valgrind builds, other architectures) it is an empty table. */
#include "net/kern_impl.h"
#if defined(__AVX2__) && defined(__FMA__)
#define KVL 8
#define KOPS kern_ops_avx2
#define KNAME "avx2"
#include "net/kern_simd.h"
#else
const kern_ops kern_ops_avx2 = {.compiled = 0, .name = "avx2"};
#endif
