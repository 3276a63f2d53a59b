/* kernels_neon.c — the AArch64 Advanced SIMD (NEON) kernel set: matrix-product
 * tiles for F32, BF16, F16, Q8_0 and Q4_K weights, and the dot-product
 * (ARMv8.2 SDOT) variants of the two integer kernels.
 *
 * NEON is part of every AArch64 CPU, so the plain set needs no check; the
 * SDOT functions are compiled for armv8.2-a+dotprod by a target pragma and
 * kernels.c uses them only when the kernel reports HWCAP_ASIMDDP.  On other
 * architectures this file defines only the two getters, returning NULL.
 * tests/cross/neon.sh builds and runs the kernel tests under qemu-aarch64.
 *
 * F32/BF16/F16: weights widened to f32 (bf16: shift into the high half, f16:
 * FCVTL), FMA with the f32 activations.  A micro-kernel computes OB <= 2 weight
 * rows x R <= 2 input rows; each pair owns four 4-lane accumulator chains (16
 * elements per step), added pairwise and reduced at the end; the tail (< 16)
 * is added in scalar order after the reduction.  Same sequence for every
 * (OB, R).
 *
 * Q8_0 x Q8_0 (activation: plain layout of kernels_impl.h): a weight block is
 * two 16-byte registers.  SDOT: four byte products per 32-bit lane, signed x
 * signed, no bias trick needed; without SDOT: SMULL to int16 and SADALP to
 * int32.  Per block the 4-lane integer sums are converted and accumulated with
 * FMA against dw*dx.
 *
 * Q4_K x Q8_K: per sub-block of 32 the nibbles (0..15, so signed bytes work)
 * are dotted with the activation into 4 int32 lanes, multiplied by the 6-bit
 * scale and accumulated in int32 over the super-block; then scaled by d*dx in
 * float.  The mins term dmin*dx * sum_s m_s*bsum_s uses the activation's per-32
 * sums, in a second float accumulator subtracted at the end. */
#include <stdint.h>
#include <string.h>

#include "tensor/kernels_impl.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && (defined(__GNUC__) || defined(__clang__))

#include <arm_neon.h>

#if defined(__clang__)
#define VOX_UNROLL _Pragma("unroll")
#else
#define VOX_UNROLL _Pragma("GCC unroll 8")
#endif


/* ---- F32 / BF16 / F16 -------------------------------------------------------- */

VOX_INLINE float32x4_t load_w4(vox_dtype dt, const void *w, int64_t i) {
    switch (dt) {
    case VOX_BF16: {
        uint16x4_t h = vld1_u16((const uint16_t *)w + i);
        return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
    }
    case VOX_F16: {
        uint16x4_t h = vld1_u16((const uint16_t *)w + i);
        return vcvt_f32_f16(vreinterpret_f16_u16(h));
    }
    default: return vld1q_f32((const float *)w + i);
    }
}

VOX_INLINE float w_scalar(vox_dtype dt, const void *w, int64_t i) {
    const unsigned char *p = w;
    if (dt == VOX_BF16) return vox_bf16_to_f32(vox_load_u16(p + 2 * i));
    if (dt == VOX_F16) return vox_fp16_to_fp32(vox_load_u16(p + 2 * i));
    float f;
    memcpy(&f, p + 4 * i, sizeof f);
    return f;
}

VOX_INLINE void float_micro(vox_dtype dt, const void *w, size_t ws, const int OB, const void *x,
                            size_t xs, const int R, int64_t n, float *y, int64_t ldy) {
    float32x4_t acc[2][2][4];
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++)
        VOX_UNROLL for (int c = 0; c < 4; c++) acc[o][r][c] = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        VOX_UNROLL for (int c = 0; c < 4; c++) {
            float32x4_t wv[2];
            VOX_UNROLL for (int o = 0; o < OB; o++) wv[o] = load_w4(dt, ROW(w, o, ws), i + 4 * c);
            VOX_UNROLL for (int r = 0; r < R; r++) {
                const float32x4_t xv = vld1q_f32((const float *)ROW(x, r, xs) + i + 4 * c);
                VOX_UNROLL for (int o = 0; o < OB; o++) acc[o][r][c] = vfmaq_f32(acc[o][r][c], wv[o], xv);
            }
        }
    }
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++) {
        float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[o][r][0], acc[o][r][1]), vaddq_f32(acc[o][r][2], acc[o][r][3])));
        const float *xr = (const float *)ROW(x, r, xs);
        for (int64_t j = i; j < n; j++) s += w_scalar(dt, ROW(w, o, ws), j) * xr[j];
        y[(int64_t)r * ldy + o] = s;
    }
}

VOX_DEFINE_FLOAT_TILE_2X2(float_tile, float_micro)

VOX_DEFINE_FLOAT_TILES(float_tile)

/* ---- integer dot products of 32 bytes: plain NEON and SDOT ---------------------- */

/* 4 int32 lanes whose sum is sum_j a[j]*b[j] over 32 signed bytes. */
VOX_INLINE int32x4_t dot32_neon(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
    int16x8_t p0 = vmull_s8(vget_low_s8(a0), vget_low_s8(b0));
    int16x8_t p1 = vmull_high_s8(a0, b0);
    int16x8_t p2 = vmull_s8(vget_low_s8(a1), vget_low_s8(b1));
    int16x8_t p3 = vmull_high_s8(a1, b1);
    int32x4_t s = vpaddlq_s16(p0);
    s = vpadalq_s16(s, p1);
    s = vpadalq_s16(s, p2);
    return vpadalq_s16(s, p3);
}

/* Q8_0 and Q4_K micro-kernels, written once over a 32-byte dot product. */
#define Q8_0_MICRO(name, DOT)                                                                             \
    VOX_INLINE void name(const unsigned char *w, const void *x, size_t xs, const int R, int64_t n,       \
                         float *y, int64_t ldy) {                                                         \
        const int64_t nb = n / VOX_QK8_0;                                                                 \
        float32x4_t acc[4];                                                                               \
        VOX_UNROLL for (int r = 0; r < R; r++) acc[r] = vdupq_n_f32(0.0f);                                \
        for (int64_t b = 0; b < nb; b++) {                                                                \
            const unsigned char *blk = w + (size_t)b * VOX_Q8_0_BYTES;                                    \
            const int8x16_t w0 = vld1q_s8((const int8_t *)blk + 2), w1 = vld1q_s8((const int8_t *)blk + 18); \
            const float dw = vox_fp16_to_fp32(vox_load_u16(blk));                                         \
            VOX_UNROLL for (int r = 0; r < R; r++) {                                                      \
                const void *xr = ROW(x, r, xs);                                                           \
                const int8_t *qx = vox_plain_q(xr) + b * VOX_QK8_0;                                       \
                const int32x4_t s = DOT(w0, w1, vld1q_s8(qx), vld1q_s8(qx + 16));                         \
                acc[r] = vfmaq_n_f32(acc[r], vcvtq_f32_s32(s), dw * vox_plain_q8_0_d(xr, n)[b]);          \
            }                                                                                             \
        }                                                                                                 \
        VOX_UNROLL for (int r = 0; r < R; r++) y[(int64_t)r * ldy] = vaddvq_f32(acc[r]);                  \
    }

#define Q4_K_MICRO(name, DOT)                                                                             \
    VOX_INLINE void name(const unsigned char *w, const void *x, size_t xs, const int R, int64_t n,       \
                         float *y, int64_t ldy) {                                                         \
        const int64_t nsb = n / VOX_QK_K;                                                                 \
        const uint8x16_t low4 = vdupq_n_u8(0x0f);                                                         \
        float32x4_t acc[4], accm[4];                                                                      \
        VOX_UNROLL for (int r = 0; r < R; r++) acc[r] = accm[r] = vdupq_n_f32(0.0f);                      \
        for (int64_t b = 0; b < nsb; b++) {                                                               \
            const unsigned char *blk = w + (size_t)b * VOX_Q4_K_BYTES;                                    \
            const float d = vox_fp16_to_fp32(vox_load_u16(blk));                                          \
            const float dmin = vox_fp16_to_fp32(vox_load_u16(blk + 2));                                   \
            uint64_t scw, mnw;                                                                            \
            vox_q4_k_scales(blk + 4, &scw, &mnw);                                                         \
            const int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vcreate_u8(mnw)));                      \
            int8x16_t q[16]; /* sub-block s: q[2s], q[2s+1] */                                            \
            VOX_UNROLL for (int k = 0; k < 4; k++) {                                                      \
                const uint8x16_t v0 = vld1q_u8(blk + 16 + 32 * k), v1 = vld1q_u8(blk + 32 + 32 * k);      \
                q[4 * k] = vreinterpretq_s8_u8(vandq_u8(v0, low4));                                       \
                q[4 * k + 1] = vreinterpretq_s8_u8(vandq_u8(v1, low4));                                   \
                q[4 * k + 2] = vreinterpretq_s8_u8(vshrq_n_u8(v0, 4));                                    \
                q[4 * k + 3] = vreinterpretq_s8_u8(vshrq_n_u8(v1, 4));                                    \
            }                                                                                             \
            VOX_UNROLL for (int r = 0; r < R; r++) {                                                      \
                const void *xr = ROW(x, r, xs);                                                           \
                const int8_t *qx = vox_plain_q(xr) + b * VOX_QK_K;                                        \
                int32x4_t sumi = vdupq_n_s32(0);                                                          \
                VOX_UNROLL for (int s = 0; s < 8; s++) {                                                  \
                    const int32x4_t p = DOT(q[2 * s], q[2 * s + 1], vld1q_s8(qx + 32 * s),                \
                                            vld1q_s8(qx + 32 * s + 16));                                  \
                    sumi = vmlaq_n_s32(sumi, p, (int32_t)((scw >> (8 * s)) & 0xff));                      \
                }                                                                                         \
                const float dx = vox_plain_q8_k_d(xr, n)[b];                                              \
                acc[r] = vfmaq_n_f32(acc[r], vcvtq_f32_s32(sumi), d * dx);                                \
                const int16x8_t bs = vld1q_s16(vox_plain_q8_k_bsum(xr, n) + b * 8);                       \
                const int32x4_t m = vmlal_high_s16(vmull_s16(vget_low_s16(mins), vget_low_s16(bs)), mins, bs); \
                accm[r] = vfmaq_n_f32(accm[r], vcvtq_f32_s32(m), dmin * dx);                              \
            }                                                                                             \
        }                                                                                                 \
        VOX_UNROLL for (int r = 0; r < R; r++) y[(int64_t)r * ldy] = vaddvq_f32(acc[r]) - vaddvq_f32(accm[r]); \
    }

#define QUANT_TILE(name, micro)                                                                   \
    static void name(const void *w, size_t ws, int n_out, const void *x, size_t xs, int n_rows, \
                     int64_t n, float *y, int64_t ldy) {                                        \
        for (int r0 = 0; r0 < n_rows; r0 += 4) {                                                \
            const int R = n_rows - r0 < 4 ? n_rows - r0 : 4;                                    \
            const void *xr = ROW(x, r0, xs);                                                    \
            float *yr = y + (int64_t)r0 * ldy;                                                  \
            for (int o = 0; o < n_out; o++) {                                                   \
                const unsigned char *wo = ROW(w, o, ws);                                        \
                switch (R) {                                                                    \
                case 1: micro(wo, xr, xs, 1, n, yr + o, ldy); break;                            \
                case 2: micro(wo, xr, xs, 2, n, yr + o, ldy); break;                            \
                case 3: micro(wo, xr, xs, 3, n, yr + o, ldy); break;                            \
                default: micro(wo, xr, xs, 4, n, yr + o, ldy); break;                           \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    }

Q8_0_MICRO(q8_0_micro, dot32_neon)
Q4_K_MICRO(q4_k_micro, dot32_neon)
QUANT_TILE(tile_q8_0, q8_0_micro)
QUANT_TILE(tile_q4_k, q4_k_micro)

static const vox_kernel_set neon_set = {
    "neon",
    {
        [VOX_F32] = {.tile = tile_f32},
        [VOX_BF16] = {.tile = tile_bf16},
        [VOX_F16] = {.tile = tile_f16},
        [VOX_Q8_0] = {.tile = tile_q8_0, .prep = vox_prep_plain_q8_0, .prep_bytes = vox_prep_plain_q8_0_bytes},
        [VOX_Q4_K] = {.tile = tile_q4_k, .prep = vox_prep_plain_q8_k, .prep_bytes = vox_prep_plain_q8_k_bytes},
    },
};

const vox_kernel_set *vox_kernels_neon(void) { return &neon_set; }

/* ---- SDOT variants ------------------------------------------------------------- */

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif

VOX_INLINE int32x4_t dot32_sdot(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), a0, b0), a1, b1);
}

Q8_0_MICRO(q8_0_micro_dot, dot32_sdot)
Q4_K_MICRO(q4_k_micro_dot, dot32_sdot)
QUANT_TILE(tile_q8_0_dot, q8_0_micro_dot)
QUANT_TILE(tile_q4_k_dot, q4_k_micro_dot)

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

static const vox_kernel_set neon_dot_set = {
    "neon+dotprod",
    {
        [VOX_Q8_0] = {.tile = tile_q8_0_dot, .prep = vox_prep_plain_q8_0, .prep_bytes = vox_prep_plain_q8_0_bytes},
        [VOX_Q4_K] = {.tile = tile_q4_k_dot, .prep = vox_prep_plain_q8_k, .prep_bytes = vox_prep_plain_q8_k_bytes},
    },
};

const vox_kernel_set *vox_kernels_neon_dot(void) { return &neon_dot_set; }

#else

const vox_kernel_set *vox_kernels_neon(void) { return NULL; }
const vox_kernel_set *vox_kernels_neon_dot(void) { return NULL; }

#endif
