/* kernels_neon.c — the AArch64 Advanced SIMD (NEON) kernel set: matrix-product
 * tiles for F32, BF16, F16, Q8_0 and Q4_K weights, the dot-product (ARMv8.2
 * SDOT) variants of the two integer kernels, and their i8mm (SMMLA) variants.
 *
 * NEON is part of every AArch64 CPU, so the plain set needs no check; the
 * SDOT functions are compiled for armv8.2-a+dotprod by a target pragma and
 * kernels.c uses them (level neon) only when the kernel reports HWCAP_ASIMDDP;
 * the SMMLA functions are compiled for armv8.2-a+dotprod+i8mm and used (level
 * neon+i8mm) only with HWCAP_ASIMDDP and HWCAP2_I8MM.  On other architectures
 * this file defines only the three getters, returning NULL.
 * tests/cross/neon.sh builds and runs the kernel tests under qemu-aarch64 on
 * CPU models with i8mm, with dot product only, and with neither.  That checks
 * correctness only: the speed of these kernels on real ARM hardware has not
 * been measured (no ARM machine so far), nor has any choice made here for
 * speed (register blocking, zips) been tuned on one.
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
 * sums, in a second float accumulator subtracted at the end.
 *
 * i8mm (neon+i8mm level, Q8_0 and Q4_K): SMMLA multiplies a 2x8 int8 tile by an
 * 8x2 one into a 2x2 int32 tile, so a pair of weight rows meets a pair of
 * activation rows: the 64-bit halves of the two weight rows' 16-byte loads are
 * interleaved (ZIP1/ZIP2), likewise the two activation rows', and four SMMLA
 * give the exact 32-value block (sub-block) sums of all four (weight row,
 * activation row) pairs, one per lane.  Activation rows go in fours (two
 * pairs sharing each unpacked weight pair), then a pair; an odd last weight
 * row is paired with itself (its duplicate lanes dropped).  An odd last
 * activation row (and a single row, the backbone's case) goes through SDOT,
 * four weight rows at a time, the lanes of each block's sum added into one
 * (ADDP).  Both paths then run the same float steps per (o, r) pair, so a row
 * gives the same bits whichever path it takes, as the driver's contract
 * requires:
 *   Q8_0: acc = fma(acc, float(block sum), dw*dx) per block, y = acc;
 *   Q4_K: acc = fma(acc, float(sum_s sc_s*sum_s), d*dx) and accm = fma(accm,
 *         float(sum_s m_s*bsum_s), dmin*dx) per super-block, y = acc - accm;
 * with the fp16 block scales widened by FCVTL.  For Q4_K the nibble bytes of
 * the weight pair are interleaved before the nibbles are split (one ZIP serves
 * two sub-blocks) and the 6-bit scales become per-lane int32 factors through a
 * TBL.  The integer sums are exact, so these differ from the neon level's
 * results only in the order of float roundings. */
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

/* ---- i8mm (SMMLA) variants ----------------------------------------------------- */

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod,i8mm"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod+i8mm")
#endif

/* The 2x8 SMMLA operands of two rows a, b from 16 bytes of each: bytes 0..7 of
 * both (zip1 of the 64-bit halves) and bytes 8..15 of both (zip2). */
VOX_INLINE int8x16_t pair_lo(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
VOX_INLINE int8x16_t pair_hi(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
VOX_INLINE uint8x16_t pair_lo_u8(uint8x16_t a, uint8x16_t b) {
    return vreinterpretq_u8_u64(vzip1q_u64(vreinterpretq_u64_u8(a), vreinterpretq_u64_u8(b)));
}
VOX_INLINE uint8x16_t pair_hi_u8(uint8x16_t a, uint8x16_t b) {
    return vreinterpretq_u8_u64(vzip2q_u64(vreinterpretq_u64_u8(a), vreinterpretq_u64_u8(b)));
}

/* {s0, s1, s2, s3} summed over their lanes: the four totals in one register. */
VOX_INLINE int32x4_t sum4_lanes(int32x4_t s0, int32x4_t s1, int32x4_t s2, int32x4_t s3) {
    return vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3));
}

/* Four stored fp16 values (the weight blocks' scales) widened to f32 by FCVTL:
 * exact, the values vox_fp16_to_fp32 gives (a signalling NaN comes out quiet),
 * without a function call per block. */
VOX_INLINE float32x4_t f16x4(uint16_t a, uint16_t b, uint16_t c, uint16_t d) {
    const uint64_t v = (uint64_t)a | (uint64_t)b << 16 | (uint64_t)c << 32 | (uint64_t)d << 48;
    return vcvt_f32_f16(vreinterpret_f16_u16(vcreate_u16(v)));
}

/* {a, b, a, b}: the per-lane activation factors of a 2x2 SMMLA tile (lanes
 * o0r0, o0r1, o1r0, o1r1; the weight factors are f16x4(a, a, b, b)). */
VOX_INLINE float32x4_t lanes_abab(float a, float b) {
    const float32x2_t v = vset_lane_f32(b, vdup_n_f32(a), 1);
    return vcombine_f32(v, v);
}

/* Store the lanes o0r0, o0r1, o1r0, o1r1 of a 2x2 tile (o1 only when two_o). */
VOX_INLINE void store_2x2(float32x4_t v, float *y, int64_t ldy, int two_o) {
    y[0] = vgetq_lane_f32(v, 0);
    y[ldy] = vgetq_lane_f32(v, 1);
    if (two_o) {
        y[1] = vgetq_lane_f32(v, 2);
        y[ldy + 1] = vgetq_lane_f32(v, 3);
    }
}

/* Lanes [0, nv) of v to y[0 .. nv-1]. */
VOX_INLINE void store_n(float32x4_t v, float *y, int nv) {
    y[0] = vgetq_lane_f32(v, 0);
    if (nv > 1) y[1] = vgetq_lane_f32(v, 1);
    if (nv > 2) y[2] = vgetq_lane_f32(v, 2);
    if (nv > 3) y[3] = vgetq_lane_f32(v, 3);
}

/* Q8_0, 2 weight rows (wa, wb; wb == wa when the tile has one row left) x RP
 * pairs of activation rows.  Per block: four SMMLA give the exact block sums
 * of the four (o, r) pairs, one per lane; acc = fma(acc, float(sum), dw*dx). */
VOX_INLINE void q8_0_mm(const unsigned char *wa, const unsigned char *wb, const void *x, size_t xs,
                        const int RP, int64_t n, float *y, int64_t ldy, int two_o) {
    const int64_t nb = n / VOX_QK8_0;
    float32x4_t acc[2];
    VOX_UNROLL for (int p = 0; p < RP; p++) acc[p] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *pa = (const int8_t *)wa + (size_t)b * VOX_Q8_0_BYTES + 2;
        const int8_t *pb = (const int8_t *)wb + (size_t)b * VOX_Q8_0_BYTES + 2;
        const int8x16_t a0 = vld1q_s8(pa), a1 = vld1q_s8(pa + 16), b0 = vld1q_s8(pb), b1 = vld1q_s8(pb + 16);
        const int8x16_t w[4] = {pair_lo(a0, b0), pair_hi(a0, b0), pair_lo(a1, b1), pair_hi(a1, b1)};
        const uint16_t ha = vox_load_u16(pa - 2), hb = vox_load_u16(pb - 2);
        const float32x4_t dw = f16x4(ha, ha, hb, hb);
        VOX_UNROLL for (int p = 0; p < RP; p++) {
            const void *x0 = ROW(x, 2 * p, xs), *x1 = ROW(x, 2 * p + 1, xs);
            const int8_t *q0 = vox_plain_q(x0) + b * VOX_QK8_0, *q1 = vox_plain_q(x1) + b * VOX_QK8_0;
            const int8x16_t c0 = vld1q_s8(q0), c1 = vld1q_s8(q0 + 16), d0 = vld1q_s8(q1), d1 = vld1q_s8(q1 + 16);
            int32x4_t s = vmmlaq_s32(vdupq_n_s32(0), w[0], pair_lo(c0, d0));
            s = vmmlaq_s32(s, w[1], pair_hi(c0, d0));
            s = vmmlaq_s32(s, w[2], pair_lo(c1, d1));
            s = vmmlaq_s32(s, w[3], pair_hi(c1, d1));
            const float32x4_t dx = lanes_abab(vox_plain_q8_0_d(x0, n)[b], vox_plain_q8_0_d(x1, n)[b]);
            acc[p] = vfmaq_f32(acc[p], vcvtq_f32_s32(s), vmulq_f32(dw, dx));
        }
    }
    VOX_UNROLL for (int p = 0; p < RP; p++) store_2x2(acc[p], y + (int64_t)2 * p * ldy, ldy, two_o);
}

/* Q8_0, 4 weight rows (repeated where fewer are left) x 1 activation row, for
 * the odd row: SDOT, the lanes of each block's sum added into one lane per
 * weight row, then the same float steps as q8_0_mm (same bits). */
VOX_INLINE void q8_0_row1(const unsigned char *const wr[4], const void *x, int64_t n, float *y, int nv) {
    const int64_t nb = n / VOX_QK8_0;
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *qx = vox_plain_q(x) + b * VOX_QK8_0;
        const int8x16_t x0 = vld1q_s8(qx), x1 = vld1q_s8(qx + 16);
        int32x4_t s[4];
        uint16_t h[4];
        VOX_UNROLL for (int o = 0; o < 4; o++) {
            const int8_t *pw = (const int8_t *)wr[o] + (size_t)b * VOX_Q8_0_BYTES + 2;
            s[o] = dot32_sdot(vld1q_s8(pw), vld1q_s8(pw + 16), x0, x1);
            h[o] = vox_load_u16(pw - 2);
        }
        const float32x4_t sc = vmulq_n_f32(f16x4(h[0], h[1], h[2], h[3]), vox_plain_q8_0_d(x, n)[b]);
        acc = vfmaq_f32(acc, vcvtq_f32_s32(sum4_lanes(s[0], s[1], s[2], s[3])), sc);
    }
    store_n(acc, y, nv);
}

/* Byte s of sc (8 bytes of sub-block scales of weight row a, then 8 of row b)
 * as the int32 lanes {a_s, a_s, b_s, b_s}: TBL with index 0x80 (out of range)
 * giving the zero bytes. */
VOX_INLINE int32x4_t q4_k_scale_lanes(uint8x16_t sc, int s) {
    static const uint8_t idx[16] = {0, 0x80, 0x80, 0x80, 0, 0x80, 0x80, 0x80,
                                    8, 0x80, 0x80, 0x80, 8, 0x80, 0x80, 0x80};
    return vreinterpretq_s32_u8(vqtbl1q_u8(sc, vaddq_u8(vld1q_u8(idx), vdupq_n_u8((uint8_t)s))));
}

/* Sum over 8 lanes of m * bs, in the 4 int32 lanes of the result. */
VOX_INLINE int32x4_t mul8_s16(int16x8_t m, int16x8_t bs) {
    return vmlal_high_s16(vmull_s16(vget_low_s16(m), vget_low_s16(bs)), m, bs);
}

/* Q4_K, 2 weight rows x RP pairs of activation rows.  The raw nibble bytes of
 * the two rows are paired first (one zip serves a low and a high nibble), then
 * split; per sub-block four SMMLA give the exact sums of the four (o, r) pairs,
 * multiplied by each row's 6-bit scale and summed over the super-block in int32.
 * The mins term sum_s m_s*bsum_s is an int16 product per pair.  Per super-block
 * and lane: acc = fma(acc, float(isum), d*dx), accm = fma(accm, float(imin),
 * dmin*dx); y = acc - accm. */
VOX_INLINE void q4_k_mm(const unsigned char *wa, const unsigned char *wb, const void *x, size_t xs,
                        const int RP, int64_t n, float *y, int64_t ldy, int two_o) {
    const int64_t nsb = n / VOX_QK_K;
    const uint8x16_t low4 = vdupq_n_u8(0x0f);
    float32x4_t acc[2], accm[2];
    VOX_UNROLL for (int p = 0; p < RP; p++) acc[p] = accm[p] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nsb; b++) {
        const unsigned char *ba = wa + (size_t)b * VOX_Q4_K_BYTES, *bb = wb + (size_t)b * VOX_Q4_K_BYTES;
        uint64_t sca, mna, scb, mnb;
        vox_q4_k_scales(ba + 4, &sca, &mna);
        vox_q4_k_scales(bb + 4, &scb, &mnb);
        const uint8x16_t sc = vcombine_u8(vcreate_u8(sca), vcreate_u8(scb));
        int32x4_t isum[2];
        VOX_UNROLL for (int p = 0; p < RP; p++) isum[p] = vdupq_n_s32(0);
        VOX_UNROLL for (int k = 0; k < 4; k++) { /* sub-blocks 2k (low nibbles), 2k+1 (high) */
            const uint8x16_t a0 = vld1q_u8(ba + 16 + 32 * k), a1 = vld1q_u8(ba + 32 + 32 * k);
            const uint8x16_t b0 = vld1q_u8(bb + 16 + 32 * k), b1 = vld1q_u8(bb + 32 + 32 * k);
            const uint8x16_t z[4] = {pair_lo_u8(a0, b0), pair_hi_u8(a0, b0), pair_lo_u8(a1, b1), pair_hi_u8(a1, b1)};
            VOX_UNROLL for (int h = 0; h < 2; h++) {
                const int s = 2 * k + h;
                int8x16_t wq[4];
                VOX_UNROLL for (int i = 0; i < 4; i++)
                    wq[i] = vreinterpretq_s8_u8(h ? vshrq_n_u8(z[i], 4) : vandq_u8(z[i], low4));
                const int32x4_t scl = q4_k_scale_lanes(sc, s);
                VOX_UNROLL for (int p = 0; p < RP; p++) {
                    const int8_t *q0 = vox_plain_q(ROW(x, 2 * p, xs)) + b * VOX_QK_K + 32 * s;
                    const int8_t *q1 = vox_plain_q(ROW(x, 2 * p + 1, xs)) + b * VOX_QK_K + 32 * s;
                    const int8x16_t c0 = vld1q_s8(q0), c1 = vld1q_s8(q0 + 16), d0 = vld1q_s8(q1), d1 = vld1q_s8(q1 + 16);
                    int32x4_t t = vmmlaq_s32(vdupq_n_s32(0), wq[0], pair_lo(c0, d0));
                    t = vmmlaq_s32(t, wq[1], pair_hi(c0, d0));
                    t = vmmlaq_s32(t, wq[2], pair_lo(c1, d1));
                    t = vmmlaq_s32(t, wq[3], pair_hi(c1, d1));
                    isum[p] = vmlaq_s32(isum[p], t, scl);
                }
            }
        }
        const int16x8_t ma = vreinterpretq_s16_u16(vmovl_u8(vcreate_u8(mna)));
        const int16x8_t mb = vreinterpretq_s16_u16(vmovl_u8(vcreate_u8(mnb)));
        const uint16_t da = vox_load_u16(ba), db = vox_load_u16(bb);
        const uint16_t ma16 = vox_load_u16(ba + 2), mb16 = vox_load_u16(bb + 2);
        const float32x4_t dv = f16x4(da, da, db, db), dmv = f16x4(ma16, ma16, mb16, mb16);
        VOX_UNROLL for (int p = 0; p < RP; p++) {
            const void *x0 = ROW(x, 2 * p, xs), *x1 = ROW(x, 2 * p + 1, xs);
            const float32x4_t dx = lanes_abab(vox_plain_q8_k_d(x0, n)[b], vox_plain_q8_k_d(x1, n)[b]);
            const int16x8_t bs0 = vld1q_s16(vox_plain_q8_k_bsum(x0, n) + b * 8);
            const int16x8_t bs1 = vld1q_s16(vox_plain_q8_k_bsum(x1, n) + b * 8);
            const int32x4_t imin = sum4_lanes(mul8_s16(ma, bs0), mul8_s16(ma, bs1), mul8_s16(mb, bs0), mul8_s16(mb, bs1));
            acc[p] = vfmaq_f32(acc[p], vcvtq_f32_s32(isum[p]), vmulq_f32(dv, dx));
            accm[p] = vfmaq_f32(accm[p], vcvtq_f32_s32(imin), vmulq_f32(dmv, dx));
        }
    }
    VOX_UNROLL for (int p = 0; p < RP; p++)
        store_2x2(vsubq_f32(acc[p], accm[p]), y + (int64_t)2 * p * ldy, ldy, two_o);
}

/* Q4_K, 4 weight rows (repeated where fewer are left) x 1 activation row: SDOT
 * per sub-block, scaled in int32 per weight row, lanes added into one per row;
 * then the float steps of q4_k_mm (same bits). */
VOX_INLINE void q4_k_row1(const unsigned char *const wr[4], const void *x, int64_t n, float *y, int nv) {
    const int64_t nsb = n / VOX_QK_K;
    const uint8x16_t low4 = vdupq_n_u8(0x0f);
    float32x4_t acc = vdupq_n_f32(0.0f), accm = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nsb; b++) {
        const int8_t *qx = vox_plain_q(x) + b * VOX_QK_K;
        const int16x8_t bs = vld1q_s16(vox_plain_q8_k_bsum(x, n) + b * 8);
        int32x4_t si[4], sm[4];
        uint16_t dv[4], dmv[4];
        VOX_UNROLL for (int o = 0; o < 4; o++) {
            const unsigned char *blk = wr[o] + (size_t)b * VOX_Q4_K_BYTES;
            uint64_t scw, mnw;
            vox_q4_k_scales(blk + 4, &scw, &mnw);
            int32x4_t sumi = vdupq_n_s32(0);
            VOX_UNROLL for (int k = 0; k < 4; k++) {
                const uint8x16_t v0 = vld1q_u8(blk + 16 + 32 * k), v1 = vld1q_u8(blk + 32 + 32 * k);
                const int32x4_t plo = dot32_sdot(vreinterpretq_s8_u8(vandq_u8(v0, low4)),
                                                 vreinterpretq_s8_u8(vandq_u8(v1, low4)),
                                                 vld1q_s8(qx + 64 * k), vld1q_s8(qx + 64 * k + 16));
                const int32x4_t phi = dot32_sdot(vreinterpretq_s8_u8(vshrq_n_u8(v0, 4)),
                                                 vreinterpretq_s8_u8(vshrq_n_u8(v1, 4)),
                                                 vld1q_s8(qx + 64 * k + 32), vld1q_s8(qx + 64 * k + 48));
                sumi = vmlaq_n_s32(sumi, plo, (int32_t)((scw >> (16 * k)) & 0xff));
                sumi = vmlaq_n_s32(sumi, phi, (int32_t)((scw >> (16 * k + 8)) & 0xff));
            }
            si[o] = sumi;
            sm[o] = mul8_s16(vreinterpretq_s16_u16(vmovl_u8(vcreate_u8(mnw))), bs);
            dv[o] = vox_load_u16(blk);
            dmv[o] = vox_load_u16(blk + 2);
        }
        const float dx = vox_plain_q8_k_d(x, n)[b];
        acc = vfmaq_f32(acc, vcvtq_f32_s32(sum4_lanes(si[0], si[1], si[2], si[3])),
                        vmulq_n_f32(f16x4(dv[0], dv[1], dv[2], dv[3]), dx));
        accm = vfmaq_f32(accm, vcvtq_f32_s32(sum4_lanes(sm[0], sm[1], sm[2], sm[3])),
                         vmulq_n_f32(f16x4(dmv[0], dmv[1], dmv[2], dmv[3]), dx));
    }
    store_n(vsubq_f32(acc, accm), y, nv);
}

/* The i8mm tile: activation rows in groups of 4 (two SMMLA pairs sharing each
 * pair of weight rows), then a pair, then an odd last row through SDOT; weight
 * rows in pairs (an odd last one paired with itself) or, for the odd row, in
 * fours. */
#define MM_TILE(name, mm, row1)                                                                   \
    static void name(const void *w, size_t ws, int n_out, const void *x, size_t xs, int n_rows, \
                     int64_t n, float *y, int64_t ldy) {                                        \
        int r0 = 0;                                                                             \
        for (; r0 + 2 <= n_rows; r0 += n_rows - r0 >= 4 ? 4 : 2) {                              \
            const int RP = n_rows - r0 >= 4 ? 2 : 1;                                            \
            const void *xr = ROW(x, r0, xs);                                                    \
            float *yr = y + (int64_t)r0 * ldy;                                                  \
            for (int o = 0; o < n_out; o += 2) {                                                \
                const int two = o + 1 < n_out;                                                  \
                const unsigned char *wa = ROW(w, o, ws), *wb = ROW(w, o + two, ws);             \
                if (RP == 2) mm(wa, wb, xr, xs, 2, n, yr + o, ldy, two);                        \
                else mm(wa, wb, xr, xs, 1, n, yr + o, ldy, two);                                \
            }                                                                                   \
        }                                                                                       \
        if (r0 < n_rows) {                                                                      \
            const void *xr = ROW(x, r0, xs);                                                    \
            float *yr = y + (int64_t)r0 * ldy;                                                  \
            for (int o = 0; o < n_out; o += 4) {                                                \
                const int nv = n_out - o < 4 ? n_out - o : 4;                                   \
                const unsigned char *wr[4];                                                     \
                for (int i = 0; i < 4; i++) wr[i] = ROW(w, o + (i < nv ? i : nv - 1), ws);      \
                row1(wr, xr, n, yr + o, nv);                                                    \
            }                                                                                   \
        }                                                                                       \
    }

MM_TILE(tile_q8_0_mm, q8_0_mm, q8_0_row1)
MM_TILE(tile_q4_k_mm, q4_k_mm, q4_k_row1)

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

static const vox_kernel_set neon_i8mm_set = {
    "neon+i8mm",
    {
        [VOX_Q8_0] = {.tile = tile_q8_0_mm, .prep = vox_prep_plain_q8_0, .prep_bytes = vox_prep_plain_q8_0_bytes},
        [VOX_Q4_K] = {.tile = tile_q4_k_mm, .prep = vox_prep_plain_q8_k, .prep_bytes = vox_prep_plain_q8_k_bytes},
    },
};

const vox_kernel_set *vox_kernels_neon_i8mm(void) { return &neon_i8mm_set; }

#else

const vox_kernel_set *vox_kernels_neon(void) { return NULL; }
const vox_kernel_set *vox_kernels_neon_dot(void) { return NULL; }
const vox_kernel_set *vox_kernels_neon_i8mm(void) { return NULL; }

#endif
