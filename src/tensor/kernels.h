/* kernels.h — the numeric primitives model code is built from.
 *
 * Every routine has a plain scalar reference; faster variants (SIMD, threads) must
 * give the same results within float rounding and are tested against it.  Kernels
 * know nothing about layers or models. All activations are f32.
 *
 * Matrix products: the fast path for F32, BF16 and F16 weights reads each weight
 * row once per block of input rows and converts it to f32 in registers (no
 * activation is ever rounded to a narrower type).  The result for one (output,
 * input-row) pair does not depend on how many rows are batched, on the thread
 * count, or on which thread computes it: a prompt run as one batch gives
 * bit-identical values to the same rows run one at a time. */
#ifndef VOX_TENSOR_KERNELS_H
#define VOX_TENSOR_KERNELS_H

#include "base/threadpool.h"
#include "tensor/tensor.h"

/* y[r, o] = sum_i W[o, i] * x[r, i] for r < n_rows: W is [out, in] (any dtype),
 * x is [n_rows, in] row-major f32, y is [n_rows, out]. */
void vox_matmul(const vox_tensor *W, const float *x, int n_rows, float *y);
/* Same, split over output rows across the pool (NULL: single-threaded). */
void vox_matmul_pool(vox_pool *pool, const vox_tensor *W, const float *x, int n_rows, float *y);
/* Several products sharing one input in a single parallel pass (e.g. wq/wk/wv):
 * y[j] = W[j] · x for j < n_mats, each y[j] [n_rows, W[j] out]. */
void vox_matmul_multi(vox_pool *pool, int n_mats, const vox_tensor *const *W, const float *x,
                      int n_rows, float *const *y);

/* Which implementation a matmul uses; for tests and benchmarks. */
typedef enum vox_kernel_impl {
    VOX_KERNEL_REF = 0,     /* plain scalar loop, one accumulator: the reference */
    VOX_KERNEL_GENERIC = 1, /* portable C, 16 independent accumulators */
    VOX_KERNEL_SIMD = 2,    /* intrinsics (AVX-512 or AVX2) when compiled in, else GENERIC */
} vox_kernel_impl;

void vox_matmul_impl(vox_kernel_impl impl, const vox_tensor *W, const float *x, int n_rows,
                     float *y);
/* "avx512", "avx2" or "none": what VOX_KERNEL_SIMD (the default path) runs. */
const char *vox_kernel_simd_name(void);

/* y = x * (mean(x^2) + eps)^-1/2 * w, over n elements (w may be NULL: no gain).
 * y may alias x. */
void vox_rmsnorm(const float *x, const float *w, int n, float eps, float *y);
void vox_silu_mul(float *gate, const float *up, int n); /* gate = silu(gate) * up */
void vox_softmax(float *x, int n);
void vox_add(float *y, const float *x, int n);         /* y += x */
void vox_add_scaled(float *y, const float *x, const float *scale, int n); /* y += scale ⊙ x */
float vox_dot_f32(const float *a, const float *b, int n);

/* IEEE half -> float (exact). */
float vox_f16_to_f32(uint16_t h);

#endif
