/* kernels.h — the numeric primitives model code is built from.
 *
 * Every routine has a plain scalar reference; faster variants (SIMD, threads) must
 * give the same results within float rounding and are tested against it.  Kernels
 * know nothing about layers or models. All activations are f32. */
#ifndef VOX_TENSOR_KERNELS_H
#define VOX_TENSOR_KERNELS_H

#include "tensor/tensor.h"

/* y[r, o] = sum_i W[o, i] * x[r, i] for r < n_rows: W is [out, in] (any dtype),
 * x is [n_rows, in] row-major f32, y is [n_rows, out]. */
void vox_matmul(const vox_tensor *W, const float *x, int n_rows, float *y);

/* y = x * (mean(x^2) + eps)^-1/2 * w, over n elements (w may be NULL: no gain). */
void vox_rmsnorm(const float *x, const float *w, int n, float eps, float *y);
void vox_silu_mul(float *gate, const float *up, int n); /* gate = silu(gate) * up */
void vox_softmax(float *x, int n);
void vox_add(float *y, const float *x, int n);         /* y += x */
void vox_add_scaled(float *y, const float *x, const float *scale, int n); /* y += scale ⊙ x */

#endif
