/* kern_avx512.c - the kernels of lib/net/kern_simd.h for AVX-512 (16-float vectors, 32 registers;
 * F, BW, VL, DQ).  mk/kern.mk compiles this file with those -m flags; kern.c calls it only on a
 * CPU (and OS) that supports them.  Compiled without them it is an empty table. */
#include "net/kern_impl.h"
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__) && defined(__FMA__)
#define KVL 16
#define KOPS kern_ops_avx512
#define KNAME "avx512"
#include "net/kern_simd.h"
#else
const kern_ops kern_ops_avx512 = {.compiled = 0, .name = "avx512"};
#endif
