/* kernels.h — the numeric primitives model code is built from.
 *
 * Every routine has a plain scalar reference; faster variants (portable C,
 * SIMD, threads) are tested against it.  Kernels know nothing about layers or
 * models.  All activations are f32 at this interface.
 *
 * Matrix products y = W x for every weight dtype (F32, BF16, F16, Q8_0, Q4_K):
 *  - F32, BF16, F16 weights are widened to f32 in registers and multiplied with
 *    the f32 activations (no activation is ever rounded to a narrower type),
 *    except BF16 weights on the avx512 level of a CPU with AVX512_BF16: there
 *    each activation row is split once per call into two bf16 rows, hi =
 *    bf16(x) and lo = bf16(x - hi), and y = W·hi + W·lo with vdpbf16ps (exact
 *    bf16 products, f32 sums).  hi + lo is within 2^-17 |x| of x, so the result
 *    is within (gamma_2n + 2^-17) sum|w x| of the exact product instead of
 *    gamma_n sum|w x| (test_kernels.c; the stage goldens' worst relative
 *    error grows from 4.1e-7 to 8.3e-6, against their 1e-4 bound).
 *    vdpbf16ps always rounds to nearest and flushes subnormal inputs and
 *    results, an absolute error of about 2^-126 per step; infinities and NaN
 *    propagate as in the f32 product (kernels_avx512bf16.c);
 *  - Q8_0 and Q4_K weights use integer dot products, as ggml does: each input
 *    row is quantized once per call (to Q8_0 blocks for Q8_0 weights, to Q8_K
 *    super-blocks for Q4_K weights, exactly as quant.h's reference quantizers
 *    do) and the inner loop multiplies 8-bit integers.  The result differs from
 *    the f32 product by the activation's quantization error (about 0.4% of
 *    each block's largest value per element, see test_kernels.c).
 * The result for one (output, input-row) pair does not depend on how many rows
 * are batched, on the thread count, or on which thread computes it: a prompt
 * run as one batch gives bit-identical values to the same rows run one at a
 * time.  It does depend on the kernel level (summation order differs).
 *
 * Kernel levels.  ref (the scalar definition), generic (portable C), avx2,
 * avxvnni (the avx2 level with vpdpbusd on ymm for Q8_0/Q4_K: CPUs with
 * AVX-VNNI; on a CPU with AVX-512 VNNI but no AVX-VNNI it runs the same kernel
 * source built with the EVEX encoding, "avxvnni(evex)", so it can be tested
 * there), avx512 (F/BW/VL; VNNI integer kernels when the CPU has them, else
 * the AVX-VNNI or AVX2 ones; the BF16 split kernel when it has AVX512_BF16)
 * neon (with the dot-product kernels when the CPU has them) and neon+i8mm
 * (neon with SMMLA Q8_0/Q4_K kernels for pairs of input rows: CPUs with dot
 * product and i8mm).  One is chosen once per process, on first use, from the
 * CPU's features: the best the CPU and the build support (avx512, then avxvnni
 * with real AVX-VNNI, then avx2; neon+i8mm, then neon).  The environment
 * variable VOXTTS_KERNELS=ref|generic|avx2|avxvnni|avx512|neon|neon+i8mm forces
 * one (an unsupported or unknown value falls back to the best supported level
 * below it, with a warning on stderr).
 *
 * Scratch.  Quantizing the input rows needs n_rows * (a little more than `in`)
 * bytes; the BF16 split above needs n_rows * 4 * `in` (rounded up to 32).
 * With a pool, that memory is the pool's scratch (threadpool.h): it
 * grows on first need; reserve vox_matmul_scratch_bytes at load time and no
 * call allocates.  Without a pool, rows are quantized in groups into a buffer
 * on the stack. */
#ifndef VOX_TENSOR_KERNELS_H
#define VOX_TENSOR_KERNELS_H

#include <stddef.h>

#include "base/threadpool.h"
#include "tensor/tensor.h"

/* y[r, o] = sum_i W[o, i] * x[r, i] for r < n_rows: W is [out, in] (any dtype),
 * x is [n_rows, in] row-major f32, y is [n_rows, out].  A quantized W whose
 * `in` is not a multiple of its block size gives NaN. */
void vox_matmul(const vox_tensor *W, const float *x, int n_rows, float *y);
/* Same, split over output rows across the pool (NULL: single-threaded). */
void vox_matmul_pool(vox_pool *pool, const vox_tensor *W, const float *x, int n_rows, float *y);
/* Several products sharing one input in a single parallel pass (e.g. wq/wk/wv):
 * y[j] = W[j] · x for j < n_mats, each y[j] [n_rows, W[j] out].  All W[j] have
 * the same `in`. */
void vox_matmul_multi(vox_pool *pool, int n_mats, const vox_tensor *const *W, const float *x,
                      int n_rows, float *const *y);
/* Scratch bytes a product with W and n_rows input rows uses from the pool at the
 * default level (0 for F32/F16 weights, and for BF16 weights unless the level
 * splits their activations, see above), for vox_pool_reserve_scratch.  For
 * vox_matmul_multi the need is the sum over the distinct prepared dtypes among
 * W[j]. */
size_t vox_matmul_scratch_bytes(const vox_tensor *W, int n_rows);

/* Packing.  For a weight that is always multiplied with several input rows at
 * once (the flow head's), the kernel level may have a packed layout that
 * streams or computes faster (kernels_impl.h; on avx512: BF16 rows
 * interleaved four at a time with AVX512_BF16, Q8_0 and Q4_K rows stored in
 * the VNNI kernels' transposed register layout; on avx2 and avxvnni: Q8_0 and
 * Q4_K rows in the 8-lane transposed layout of kernels_x86q.h, BF16 rows in
 * interleaved pairs, kernels_avx2.c).  vox_matmul_pack makes *out a copy of the view
 * W whose `packed` points to a new buffer (*buf, the caller frees it) holding
 * the weights in the default level's packed layout; products at that level
 * then read it instead of W->data, with bit-identical results.  Returns 1 when
 * packed, 0 when the level has no packed layout for W's dtype, shape and row
 * count (*out is then a plain copy of W and *buf NULL), -1 when out of
 * memory.  pool (may be NULL) shares the copying among its threads. */
int vox_matmul_pack(vox_pool *pool, const vox_tensor *W, int rows, vox_tensor *out, void **buf);

typedef enum vox_kernel_level {
    VOX_LEVEL_REF = 0,     /* scalar reference: one accumulator, left to right */
    VOX_LEVEL_GENERIC = 1, /* portable C, written for the compiler to vectorise */
    VOX_LEVEL_AVX2 = 2,    /* x86-64 AVX2 + FMA + F16C */
    VOX_LEVEL_AVXVNNI = 3, /* AVX2 + AVX-VNNI (integer products; the rest as avx2) */
    VOX_LEVEL_AVX512 = 4,  /* x86-64 AVX-512 F/BW/VL (+ VNNI) */
    VOX_LEVEL_NEON = 5,    /* AArch64 Advanced SIMD (+ dot product) */
    VOX_LEVEL_NEON_I8MM = 6, /* neon with dot product and i8mm (SMMLA integer products) */
    VOX_LEVEL_COUNT
} vox_kernel_level;

/* The VOXTTS_KERNELS spelling of a level ("ref", ..., "neon"); NULL if invalid. */
const char *vox_kernel_level_name(vox_kernel_level l);
/* What a level runs on this CPU, e.g. "avx512+vnni" or "neon+dotprod". */
const char *vox_kernel_level_describe(vox_kernel_level l);
/* 1 when this build has the level's code and this CPU can run it. */
int vox_kernel_level_supported(vox_kernel_level l);
/* The level the default path uses (decided once; thread-safe). */
vox_kernel_level vox_kernel_level_default(void);
/* The decision itself, as a pure function of a request (the VOXTTS_KERNELS
 * value; NULL, "" or "auto": the best supported level).  An unknown or
 * unsupported request gives the best supported level below it and a one-line
 * explanation in note (note[0] = 0 otherwise; note may be NULL). */
vox_kernel_level vox_kernel_level_choose(const char *request, char *note, size_t note_size);
/* Decide the default level now (reads VOXTTS_KERNELS, prints the warning if any).
 * Optional: the first product does it otherwise. */
void vox_kernels_init(void);
/* vox_matmul_pool at an explicit level (tests, benchmarks).  An unsupported
 * level runs the default one. */
void vox_matmul_level(vox_kernel_level level, vox_pool *pool, const vox_tensor *W, const float *x,
                      int n_rows, float *y);
/* vox_matmul_pack for an explicit (supported) level. */
int vox_matmul_pack_level(vox_kernel_level level, const vox_tensor *W, int rows, vox_tensor *out,
                          void **buf);

/* What the default path runs: vox_kernel_level_describe of the default level. */
const char *vox_kernel_simd_name(void);

/* y = x * (mean(x^2) + eps)^-1/2 * w, over n elements (w may be NULL: no gain).
 * y may alias x. */
void vox_rmsnorm(const float *x, const float *w, int n, float eps, float *y);
/* vox_rmsnorm of `rows` consecutive rows of n values (x and y rows n apart),
 * the rows split over the pool's threads (same values). */
void vox_rmsnorm_rows_pool(vox_pool *pool, const float *x, const float *w, int rows, int n, float eps, float *y);
void vox_silu_mul(float *gate, const float *up, int n); /* gate = silu(gate) * up */
/* The same, split over the pool's threads (same values: element-wise). */
void vox_silu_mul_pool(vox_pool *pool, float *gate, const float *up, int n);
void vox_softmax(float *x, int n);
void vox_add(float *y, const float *x, int n);         /* y += x */
void vox_add_scaled(float *y, const float *x, const float *scale, int n); /* y += scale ⊙ x */
/* sum_i a[i]*b[i]: element i into partial sum i % 16 (multiply, then add),
 * the 16 sums reduced pairwise; the same bits on every level. */
float vox_dot_f32(const float *a, const float *b, int n);
/* y[i] += a * x[i] (multiply, then add: the same bits on every level). */
void vox_axpy_f32(float *y, float a, const float *x, int n);
/* Attention's two loops, with the bits of the single calls:
 * out[j] = vox_dot_f32(a, rows + j*stride, n) * scale for j < n_rows, and
 * vox_axpy_f32(y, coef[j], rows + j*stride, n) for j = 0, 1, ... n_rows-1. */
void vox_dot_rows_f32(const float *a, const float *rows, size_t stride, int n_rows, int n, float scale,
                      float *out);
void vox_axpy_rows_f32(float *y, const float *coef, const float *rows, size_t stride, int n_rows, int n);

#endif
