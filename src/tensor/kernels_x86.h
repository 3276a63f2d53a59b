/* kernels_x86.h — private interface between kernels.c and the x86 SIMD loops in
 * kernels_x86.c.  Nothing outside src/tensor/ includes this. */
#ifndef VOX_TENSOR_KERNELS_X86_H
#define VOX_TENSOR_KERNELS_X86_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/tensor.h"

/* One tile of a matrix product: y[r*ldy + o] = dot(W row o, x + r*ldx) over n
 * elements, for o < n_out and r < n_rows (both <= 16).  Weight row o starts at
 * (const char *)w + o*row_bytes, in dtype dt.  Each (o, r) pair goes through
 * the same sequence of operations whatever the tile shape, so results do not
 * depend on how rows are grouped.  Returns 0 when this build has no SIMD loop
 * for dt (the caller falls back to portable C). */
int vox_x86_gemm_tile(vox_dtype dt, const void *w, size_t row_bytes, int n_out, const float *x,
                      int64_t ldx, int n_rows, int64_t n, float *y, int64_t ldy);
/* "avx512", "avx2" or "none". */
const char *vox_x86_name(void);

#endif
