/* quant.h — ggml-compatible storage formats: F16, BF16, Q8_0, Q4_K (and Q8_K for
 * activations), with their quantizers, dequantizers and scalar reference dot
 * products.
 *
 * The block layouts are byte-for-byte those of the ggml ecosystem (llama.cpp's
 * ggml-common.h), so a GGUF file written by voxtts can be read by ggml tools and
 * the other way round.  All multi-byte fields are little-endian.
 *
 *   Q8_0  32 values in 34 bytes:  fp16 d | int8 q[32]            x = d * q
 *   Q4_K 256 values in 144 bytes: fp16 d | fp16 dmin | 12 bytes of 6-bit
 *         sub-block scales and mins (8 sub-blocks of 32) | 128 bytes of 4-bit q
 *                                  x = (d * sc[s]) * q - dmin * m[s]
 *   Q8_K 256 values in 292 bytes: f32 d | int8 q[256] | int16 bsums[16]
 *         (an intermediate format for activations only: never stored in files)
 *
 * Q4_K detail.  Values 64k .. 64k+63 (sub-blocks 2k and 2k+1) share the 32 bytes
 * qs[32k .. 32k+31]: value 64k+l is the low nibble of qs[32k+l], value 64k+32+l
 * the high nibble.  The 6-bit scale sc[s] and min m[s] of sub-block s are packed
 * in scales[12] as:
 *   s < 4:  sc = scales[s] & 63,  m = scales[s+4] & 63
 *   s >= 4: sc = (scales[s+4] & 15) | (scales[s-4] >> 6) << 4
 *           m  = (scales[s+4] >> 4) | (scales[s]   >> 6) << 4
 *
 * The quantizers are ours (quant.c): Q8_0 rounds against the scale as stored in
 * fp16; Q4_K fits each sub-block's grid by alternating least squares and then
 * picks each 6-bit scale/min pair by the error it actually decodes to.  Their
 * error is tested against fixed figures (tests/unit/test_quant.c).
 *
 * Every function here is a plain scalar reference: SIMD variants live with the
 * kernels and are tested against these.  Buffers may have any alignment (all
 * loads and stores go through memcpy); no function allocates. */
#ifndef VOX_TENSOR_QUANT_H
#define VOX_TENSOR_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/tensor.h"

enum {
    VOX_QK8_0 = 32,         /* values per Q8_0 block */
    VOX_Q8_0_BYTES = 34,    /* bytes per Q8_0 block */
    VOX_QK_K = 256,         /* values per K-quant super-block (Q4_K, Q8_K) */
    VOX_Q4_K_BYTES = 144,   /* bytes per Q4_K block */
    VOX_Q8_K_BYTES = 292,   /* bytes per Q8_K block */
    VOX_K_SCALE_BYTES = 12, /* packed 6-bit scales/mins in a Q4_K block */
};

/* The blocks as C structs, for SIMD code that wants named fields.  The fp16
 * fields hold raw IEEE half bits.  Data read from a file must be accessed through
 * these only when suitably aligned (GGUF tensor data always is). */
typedef struct vox_block_q8_0 {
    uint16_t d;
    int8_t qs[VOX_QK8_0];
} vox_block_q8_0;

typedef struct vox_block_q4_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[VOX_K_SCALE_BYTES];
    uint8_t qs[VOX_QK_K / 2];
} vox_block_q4_k;

typedef struct vox_block_q8_k {
    float d;
    int8_t qs[VOX_QK_K];
    int16_t bsums[VOX_QK_K / 16]; /* sum of each group of 16 quants */
} vox_block_q8_k;

_Static_assert(sizeof(vox_block_q8_0) == VOX_Q8_0_BYTES, "Q8_0 block must be 34 bytes");
_Static_assert(sizeof(vox_block_q4_k) == VOX_Q4_K_BYTES, "Q4_K block must be 144 bytes");
_Static_assert(sizeof(vox_block_q8_k) == VOX_Q8_K_BYTES, "Q8_K block must be 292 bytes");

/* IEEE binary16 <-> binary32.  float->half rounds to nearest, ties to even;
 * overflow gives +-inf, tiny values become subnormals or signed zero, NaN stays a
 * (quiet) NaN of the same sign.  half->float is exact for every input. */
uint16_t vox_fp32_to_fp16(float f);
float vox_fp16_to_fp32(uint16_t h);

/* Values per block (1 for F32/BF16/F16, 32 for Q8_0, 256 for Q4_K) and bytes per
 * block (4, 2, 2, 34, 144).  0 for an invalid dtype. */
int64_t vox_quant_block_size(vox_dtype t);
size_t vox_quant_block_bytes(vox_dtype t);

/* Convert n floats to dtype t (F32 copies, BF16/F16 round to nearest even, Q8_0 and
 * Q4_K quantize).  n must be >= 0 and a multiple of the block size: otherwise
 * nothing is written and VOX_E_ARG is returned.  Returns VOX_OK on success. */
int vox_quantize_row(vox_dtype t, const float *x, void *out, int64_t n);
/* The inverse: n values of dtype t to floats.  Same contract on n. */
int vox_dequantize_row(vox_dtype t, const void *in, float *y, int64_t n);

/* Reference dot products of one stored weight row with an f32 vector:
 * sum_i w[i] * x[i], dequantizing on the fly in the same arithmetic as
 * vox_dequantize_row, accumulated left to right in one float.  n must be a
 * multiple of the block size (NaN is returned otherwise). */
float vox_vec_dot_f32_f32(int64_t n, const void *w, const float *x);
float vox_vec_dot_f16_f32(int64_t n, const void *w, const float *x);
float vox_vec_dot_bf16_f32(int64_t n, const void *w, const float *x);
float vox_vec_dot_q8_0_f32(int64_t n, const void *w, const float *x);
float vox_vec_dot_q4_k_f32(int64_t n, const void *w, const float *x);
/* The same, picking the routine for dtype t. */
float vox_vec_dot_f32(vox_dtype t, int64_t n, const void *w, const float *x);

/* ---- quantized activations ---------------------------------------------------
 * A matrix-vector product over quantized weights can first quantize the
 * activation vector (once per row of x) and then run an all-integer inner loop:
 * Q8_0 weights pair with a Q8_0 activation (vox_quantize_row(VOX_Q8_0, ...)),
 * Q4_K weights with a Q8_K activation.
 *
 * Q8_K quantization: per 256 values a symmetric grid of step d = amax/127 (f32),
 * every value rounded to the nearest step (ties to even) within -127..127, and
 * bsums[g] the sum of quants g*16 .. g*16+15.  n must be a multiple of 256
 * (VOX_E_ARG otherwise). */
int vox_quantize_row_q8_k(const float *x, void *out, int64_t n);
int vox_dequantize_row_q8_k(const void *in, float *y, int64_t n);

/* Integer dot products (the reference the ref kernel level runs and every other
 * level of kernels.h is tested against):
 * q8_0 x q8_0: sum over blocks of (float)(sum_j qw*qx) * (dw * dx);
 * q4_k x q8_k: per block dx * (dw * sum_s sc[s]*(sum qw*qx) - dmin * sum_s m[s]*bsum[s]).
 * n must be a multiple of the block size (NaN otherwise). */
float vox_vec_dot_q8_0_q8_0(int64_t n, const void *w, const void *xq);
float vox_vec_dot_q4_k_q8_k(int64_t n, const void *w, const void *xq);

#endif
