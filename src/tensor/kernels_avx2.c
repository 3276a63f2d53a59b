/* kernels_avx2.c — the AVX2 kernel set (AVX2 + FMA + F16C): matrix-product
 * tiles for F32, BF16, F16, Q8_0 and Q4_K weights.
 *
 * Compiled for those instructions whatever the build flags (a target pragma
 * covers the whole file); kernels.c calls into it only after checking the CPU.
 *
 * F32/BF16/F16: weights widened to f32 in registers (bf16: shift into the high
 * half; f16: vcvtph2ps), FMA with the f32 activations.  A micro-kernel
 * computes OB <= 2 weight rows x R <= 2 input rows; each (weight row, input row)
 * pair owns two 8-lane accumulator chains (even / odd 8-element blocks), added
 * and reduced at the end; the tail (< 16 elements) is added in scalar order
 * after the reduction.  The sequence is the same for every (OB, R).
 *
 * Q8_0 x Q8_0 (activation: plain layout of kernels_impl.h): one weight block
 * (32 int8) is one ymm.  maddubs multiplies unsigned by signed bytes, so the
 * weight's sign moves onto the activation (|w| * sign(x, w), exact: |w| <= 128,
 * |x| <= 127 keeps each pair sum within int16), pairs are summed to int32 with
 * madd, converted to float and accumulated with FMA against dw*dx per block.
 *
 * Q4_K x Q8_K: per 256-value super-block the 128 quant bytes are 4 ymm; low
 * nibbles hold sub-block 2k, high nibbles sub-block 2k+1 (quant.h).  maddubs
 * (nibble x int8 activation, no saturation: 2*15*127 < 2^15) then madd with the
 * sub-block's 6-bit scale accumulates sum_s sc_s * dot_s in int32; per
 * super-block that is scaled by d*dx in float.  The mins term
 * dmin*dx * sum_s m_s * bsum_s uses the activation's per-32 sums (madd of 8
 * int16 pairs) in a separate 4-lane float accumulator subtracted at the end. */
#include <stdint.h>
#include <string.h>

#include "tensor/kernels_impl.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>

#if defined(__clang__)
#define VOX_UNROLL _Pragma("unroll")
#else
#define VOX_UNROLL _Pragma("GCC unroll 8")
#endif

#define PF_BYTES 8192 /* software prefetch distance along the weight rows (see kernels_avx512.c) */

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

static inline float hsum4(__m128 s) {
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* ---- F32 / BF16 / F16 -------------------------------------------------------- */

VOX_INLINE __m256 load_w8(vox_dtype dt, const void *w, int64_t i) {
    switch (dt) {
    case VOX_BF16: {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    case VOX_F16: {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
        return _mm256_cvtph_ps(h);
    }
    default: return _mm256_loadu_ps((const float *)w + i);
    }
}

VOX_INLINE float w_scalar(vox_dtype dt, const void *w, int64_t i) {
    const unsigned char *p = w;
    if (dt == VOX_BF16) return vox_bf16_to_f32(vox_load_u16(p + 2 * i));
    if (dt == VOX_F16) return _cvtsh_ss(vox_load_u16(p + 2 * i));
    float f;
    memcpy(&f, p + 4 * i, sizeof f);
    return f;
}

#define HALF_STEP(acc, i)                                                                  \
    do {                                                                                   \
        __m256 wv[2];                                                                      \
        VOX_UNROLL for (int o = 0; o < OB; o++) wv[o] = load_w8(dt, ROW(w, o, ws), (i));   \
        VOX_UNROLL for (int r = 0; r < R; r++) {                                           \
            __m256 xv = _mm256_loadu_ps((const float *)ROW(x, r, xs) + (i));               \
            VOX_UNROLL for (int o = 0; o < OB; o++) acc[o][r] =                            \
                _mm256_fmadd_ps(wv[o], xv, acc[o][r]);                                     \
        }                                                                                  \
    } while (0)

VOX_INLINE void float_micro(vox_dtype dt, const void *w, size_t ws, const int OB, const void *x,
                            size_t xs, const int R, int64_t n, float *y, int64_t ldy) {
    __m256 acc0[2][2], acc1[2][2];
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++) {
        acc0[o][r] = _mm256_setzero_ps();
        acc1[o][r] = _mm256_setzero_ps();
    }
    int64_t i = 0;
    const size_t es = dt == VOX_F32 ? 4 : 2;
    for (; i + 16 <= n; i += 16) {
        /* one prefetch per 64 bytes of each row, PF_BYTES ahead, into L2 */
        VOX_UNROLL for (int o = 0; o < OB; o++) if (es == 4 || (i & 16) == 0)
            _mm_prefetch((const char *)ROW(w, o, ws) + (size_t)i * es + PF_BYTES, _MM_HINT_T1);
        HALF_STEP(acc0, i);
        HALF_STEP(acc1, i + 8);
    }
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++) {
        float s = hsum8(_mm256_add_ps(acc0[o][r], acc1[o][r]));
        const float *xr = (const float *)ROW(x, r, xs);
        for (int64_t j = i; j < n; j++) s += w_scalar(dt, ROW(w, o, ws), j) * xr[j];
        y[(int64_t)r * ldy + o] = s;
    }
}
#undef HALF_STEP

VOX_DEFINE_FLOAT_TILE_2X2(float_tile, float_micro)

VOX_DEFINE_FLOAT_TILES(float_tile)

/* ---- Q8_0 x Q8_0 ---------------------------------------------------------------- */

VOX_INLINE void q8_0_micro(const unsigned char *w, const void *x, size_t xs, const int R,
                           int64_t n, float *y, int64_t ldy) {
    const int64_t nb = n / VOX_QK8_0;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    VOX_UNROLL for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const unsigned char *blk = w + (size_t)b * VOX_Q8_0_BYTES;
        if ((b & 1) == 0) _mm_prefetch((const char *)blk + PF_BYTES, _MM_HINT_T1);
        const __m256i qw = _mm256_loadu_si256((const __m256i *)(blk + 2));
        const __m256i aw = _mm256_abs_epi8(qw);
        const __m256 dw = _mm256_set1_ps(_cvtsh_ss(vox_load_u16(blk)));
        VOX_UNROLL for (int r = 0; r < R; r++) {
            const void *xr = ROW(x, r, xs);
            const __m256i qx = _mm256_loadu_si256((const __m256i *)(vox_plain_q(xr) + b * VOX_QK8_0));
            const __m256i p16 = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(qx, qw));
            const __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones));
            const __m256 s = _mm256_mul_ps(dw, _mm256_broadcast_ss(vox_plain_q8_0_d(xr, n) + b));
            acc[r] = _mm256_fmadd_ps(p, s, acc[r]);
        }
    }
    VOX_UNROLL for (int r = 0; r < R; r++) y[(int64_t)r * ldy] = hsum8(acc[r]);
}

static void tile_q8_0(const void *w, size_t ws, int n_out, const void *x, size_t xs, int n_rows,
                      int64_t n, float *y, int64_t ldy) {
    for (int r0 = 0; r0 < n_rows; r0 += 4) {
        const int R = n_rows - r0 < 4 ? n_rows - r0 : 4;
        const void *xr = ROW(x, r0, xs);
        float *yr = y + (int64_t)r0 * ldy;
        for (int o = 0; o < n_out; o++) {
            const unsigned char *wo = ROW(w, o, ws);
            switch (R) {
            case 1: q8_0_micro(wo, xr, xs, 1, n, yr + o, ldy); break;
            case 2: q8_0_micro(wo, xr, xs, 2, n, yr + o, ldy); break;
            case 3: q8_0_micro(wo, xr, xs, 3, n, yr + o, ldy); break;
            default: q8_0_micro(wo, xr, xs, 4, n, yr + o, ldy); break;
            }
        }
    }
}

/* ---- Q4_K x Q8_K ---------------------------------------------------------------- */

VOX_INLINE void q4_k_micro(const unsigned char *w, const void *x, size_t xs, const int R,
                           int64_t n, float *y, int64_t ldy) {
    const int64_t nsb = n / VOX_QK_K;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256 acc[4];
    __m128 accm[4];
    VOX_UNROLL for (int r = 0; r < R; r++) {
        acc[r] = _mm256_setzero_ps();
        accm[r] = _mm_setzero_ps();
    }
    for (int64_t b = 0; b < nsb; b++) {
        const unsigned char *blk = w + (size_t)b * VOX_Q4_K_BYTES;
        _mm_prefetch((const char *)blk + PF_BYTES, _MM_HINT_T1);
        _mm_prefetch((const char *)blk + PF_BYTES + 64, _MM_HINT_T1);
        _mm_prefetch((const char *)blk + PF_BYTES + 128, _MM_HINT_T1);
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(vox_load_u16(blk)));
        const __m128 dmin = _mm_set1_ps(_cvtsh_ss(vox_load_u16(blk + 2)));
        uint64_t scw, mnw;
        vox_q4_k_scales(blk + 4, &scw, &mnw);
        const __m128i mins = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mnw));
        __m256i q[8], sc[8];
        VOX_UNROLL for (int k = 0; k < 4; k++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * k));
            q[2 * k] = _mm256_and_si256(v, low4);
            q[2 * k + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
        }
        VOX_UNROLL for (int s = 0; s < 8; s++) sc[s] = _mm256_set1_epi16((short)((scw >> (8 * s)) & 0xff));
        VOX_UNROLL for (int r = 0; r < R; r++) {
            const void *xr = ROW(x, r, xs);
            const int8_t *qx = vox_plain_q(xr) + b * VOX_QK_K;
            __m256i sumi = _mm256_setzero_si256();
            VOX_UNROLL for (int s = 0; s < 8; s++) {
                const __m256i p16 =
                    _mm256_maddubs_epi16(q[s], _mm256_loadu_si256((const __m256i *)(qx + 32 * s)));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16, sc[s]));
            }
            const float dx = vox_plain_q8_k_d(xr, n)[b];
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_mul_ps(d, _mm256_set1_ps(dx)), acc[r]);
            const __m128i bs = _mm_loadu_si128((const __m128i *)(vox_plain_q8_k_bsum(xr, n) + b * 8));
            const __m128 m = _mm_cvtepi32_ps(_mm_madd_epi16(mins, bs));
            accm[r] = _mm_fmadd_ps(m, _mm_mul_ps(dmin, _mm_set1_ps(dx)), accm[r]);
        }
    }
    VOX_UNROLL for (int r = 0; r < R; r++) y[(int64_t)r * ldy] = hsum8(acc[r]) - hsum4(accm[r]);
}

static void tile_q4_k(const void *w, size_t ws, int n_out, const void *x, size_t xs, int n_rows,
                      int64_t n, float *y, int64_t ldy) {
    for (int r0 = 0; r0 < n_rows; r0 += 4) {
        const int R = n_rows - r0 < 4 ? n_rows - r0 : 4;
        const void *xr = ROW(x, r0, xs);
        float *yr = y + (int64_t)r0 * ldy;
        for (int o = 0; o < n_out; o++) {
            const unsigned char *wo = ROW(w, o, ws);
            switch (R) {
            case 1: q4_k_micro(wo, xr, xs, 1, n, yr + o, ldy); break;
            case 2: q4_k_micro(wo, xr, xs, 2, n, yr + o, ldy); break;
            case 3: q4_k_micro(wo, xr, xs, 3, n, yr + o, ldy); break;
            default: q4_k_micro(wo, xr, xs, 4, n, yr + o, ldy); break;
            }
        }
    }
}

/* ---- activation preparation (plain layout of kernels_impl.h) ------------------
 * The quantizers of kernels_impl.h with 8-lane vectors, bit for bit the same
 * integers and scales (test_kernels.c probes them through the product). */

/* |x| bits with NaN as 0; NaN -> 0 and clamp to [-127, 127]. */
static inline __m256i abs_bits8(__m256 v) {
    const __m256i a = _mm256_and_si256(_mm256_castps_si256(v), _mm256_set1_epi32(0x7fffffff));
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7f800000)), a);
}
static inline __m256 clamp_q8(__m256 v) {
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    return _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
}
static inline uint32_t hmax_epu32(__m256i v) {
    __m128i m = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0x4e));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0xb1));
    return (uint32_t)_mm_cvtsi128_si32(m);
}
/* 32 int32 lanes (4 vectors) to 32 int8, in order. */
static inline void store_q32(int8_t *q, const __m256i v[4]) {
    const __m256i a = _mm256_packs_epi32(v[0], v[1]), b = _mm256_packs_epi32(v[2], v[3]);
    const __m256i c = _mm256_packs_epi16(a, b); /* lanes interleaved by the 128-bit packs */
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

static void prep_q8_0(const float *x, int64_t n, void *out) {
    int8_t *q = out;
    float *dq = (float *)((char *)out + vox_round64((size_t)n));
    for (int64_t b = 0; b < n / VOX_QK8_0; b++) {
        const float *xb = x + b * VOX_QK8_0;
        __m256 xv[4];
        __m256i mb = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            xv[k] = _mm256_loadu_ps(xb + 8 * k);
            mb = _mm256_max_epu32(mb, abs_bits8(xv[k]));
        }
        const float d = vox_q8_0_step(hmax_epu32(mb));
        const __m256 id = _mm256_set1_ps(vox_inverse_step(d));
        __m256i qi[4];
        for (int k = 0; k < 4; k++) {
            const __m256 v = clamp_q8(_mm256_mul_ps(xv[k], id));
            qi[k] = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
        store_q32(q + b * VOX_QK8_0, qi);
        dq[b] = d;
    }
}

static void prep_q8_k(const float *x, int64_t n, void *out) {
    int8_t *q = out;
    float *dq = (float *)((char *)out + vox_round64((size_t)n));
    int16_t *bs = (int16_t *)((char *)dq + vox_round64((size_t)(n / VOX_QK_K) * sizeof(float)));
    for (int64_t b = 0; b < n / VOX_QK_K; b++) {
        const float *xb = x + b * VOX_QK_K;
        int8_t *qb = q + b * VOX_QK_K;
        __m256i mbv = _mm256_setzero_si256();
        for (int k = 0; k < 32; k++) mbv = _mm256_max_epu32(mbv, abs_bits8(_mm256_loadu_ps(xb + 8 * k)));
        const uint32_t mb = hmax_epu32(mbv);
        if (mb == 0) {
            memset(qb, 0, VOX_QK_K);
            memset(bs + b * 8, 0, 8 * sizeof *bs);
            dq[b] = 0.0f;
            continue;
        }
        const float amax = vox_bits_f32(mb);
        const float iscale = amax <= 3.40282347e38f ? 127.0f / amax : 0.0f;
        const __m256 is = _mm256_set1_ps(iscale);
        for (int s = 0; s < 8; s++) {
            __m256i qi[4], acc = _mm256_setzero_si256();
            for (int k = 0; k < 4; k++) {
                const __m256 v = clamp_q8(_mm256_mul_ps(is, _mm256_loadu_ps(xb + 32 * s + 8 * k)));
                qi[k] = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
                acc = _mm256_add_epi32(acc, qi[k]);
            }
            store_q32(qb + 32 * s, qi);
            __m128i t = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
            t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
            t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
            bs[b * 8 + s] = (int16_t)_mm_cvtsi128_si32(t);
        }
        dq[b] = amax / 127.0f;
    }
}

static const vox_kernel_set avx2_set = {
    "avx2",
    {
        [VOX_F32] = {.tile = tile_f32},
        [VOX_BF16] = {.tile = tile_bf16},
        [VOX_F16] = {.tile = tile_f16},
        [VOX_Q8_0] = {.tile = tile_q8_0, .prep = prep_q8_0, .prep_bytes = vox_prep_plain_q8_0_bytes},
        [VOX_Q4_K] = {.tile = tile_q4_k, .prep = prep_q8_k, .prep_bytes = vox_prep_plain_q8_k_bytes},
    },
};

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const vox_kernel_set *vox_kernels_avx2(void) { return &avx2_set; }

#else

const vox_kernel_set *vox_kernels_avx2(void) { return NULL; }

#endif
