/* kern_generic.c - the kernels of lib/net/kern_simd.h in portable C (any CPU, any compiler flags):
 * fused BatchNorm + pool + ReLU; the convolutions are nn.c's im2col + sgemm (see kern.c). */
#define KVL 0
#define KOPS kern_ops_generic
#define KNAME "generic"
#include "net/kern_simd.h"
