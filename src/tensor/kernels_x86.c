/* kernels_x86.c — AVX-512 and AVX2 matrix-product tiles for weight rows in F32,
 * BF16 and F16 against f32 activations.
 *
 * Weights are widened to f32 in registers (bf16: shift into the high half; f16:
 * vcvtph2ps) and multiplied with FMA in f32, so the only difference from the
 * scalar reference is the summation order.
 *
 * Register blocking: a micro-kernel computes OB weight rows x R input rows at
 * once (AVX-512: up to 4x2, 2x4, and 2x6 for the 6-row flow batch), so each
 * activation vector loaded feeds OB FMAs and each widened weight vector feeds
 * R FMAs; without it the loop is starved by L2 bandwidth as soon
 * as the input rows stop fitting in L1 (prefill, the 6-row flow batch).
 * Every (weight row, input row) pair owns two accumulator chains — one for the
 * even and one for the odd vector blocks, tail masked into the same chains —
 * reduced as reduce(acc0 + acc1).  That sequence is the same for every (OB, R),
 * which keeps results independent of the tiling, the batch size and the
 * thread.  Which loops exist is decided by the compiler flags (-march=native):
 * __AVX512F__ (+BW/VL) first, then __AVX2__ + __FMA__; without either,
 * vox_x86_gemm_tile declines and the portable C path runs. */
#include "tensor/kernels_x86.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define VOX_X86_AVX512 1
#elif defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#define VOX_X86_AVX2 1
#endif

#if defined(VOX_X86_AVX512) || defined(VOX_X86_AVX2)
#include <immintrin.h>
#endif

/* The loops over OB and R must be fully unrolled so that the accumulator arrays
 * live in registers (OB and R are compile-time constants after inlining). */
#if defined(__clang__)
#define VOX_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define VOX_UNROLL _Pragma("GCC unroll 8")
#else
#define VOX_UNROLL
#endif
#define VOX_INLINE static inline __attribute__((always_inline))

#define ROW(w, o, row_bytes) ((const void *)((const char *)(w) + (size_t)(o) * (row_bytes)))

#if defined(VOX_X86_AVX512)

/* 16 weights at w + i as f32; `m` masks the lanes to load (others are 0). */
VOX_INLINE __m512 load_w16(vox_dtype dt, const void *w, int64_t i, __mmask16 m) {
    switch (dt) {
    case VOX_BF16: {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + i);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    case VOX_F16: {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + i);
        return _mm512_cvtph_ps(h);
    }
    default:
        return _mm512_maskz_loadu_ps(m, (const float *)w + i);
    }
}

/* One half-step: block of 16 at i into accumulators acc[o][r]. */
#define HALF_STEP(acc, i, mask)                                                    \
    do {                                                                           \
        __m512 wv[4];                                                              \
        VOX_UNROLL for (int o = 0; o < OB; o++) wv[o] =                            \
            load_w16(dt, ROW(w, o, row_bytes), (i), (mask));                       \
        VOX_UNROLL for (int r = 0; r < R; r++) {                                   \
            __m512 xv = _mm512_maskz_loadu_ps((mask), x + (int64_t)r * ldx + (i)); \
            VOX_UNROLL for (int o = 0; o < OB; o++) acc[o][r] =                    \
                _mm512_fmadd_ps(wv[o], xv, acc[o][r]);                             \
        }                                                                          \
    } while (0)

VOX_INLINE void micro(vox_dtype dt, const void *w, size_t row_bytes, const int OB,
                      const float *x, int64_t ldx, const int R, int64_t n, float *y,
                      int64_t ldy) {
    __m512 acc0[4][6], acc1[4][6];
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++) {
        acc0[o][r] = _mm512_setzero_ps();
        acc1[o][r] = _mm512_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        HALF_STEP(acc0, i, (__mmask16)0xffff);
        HALF_STEP(acc1, i + 16, (__mmask16)0xffff);
    }
    const int64_t rem = n - i;
    if (rem > 0) {
        const __mmask16 m0 = rem >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rem) - 1u);
        const __mmask16 m1 = rem > 16 ? (__mmask16)((1u << (rem - 16)) - 1u) : (__mmask16)0;
        HALF_STEP(acc0, i, m0);
        if (m1) HALF_STEP(acc1, i + 16, m1);
    }
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++)
        y[(int64_t)r * ldy + o] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[o][r], acc1[o][r]));
}
#undef HALF_STEP

/* Largest weight-row block for R input rows within the 32 vector registers. */
#define MAX_OB(R) ((R) <= 2 ? 4 : 2)

#elif defined(VOX_X86_AVX2)

VOX_INLINE __m256 load_w8(vox_dtype dt, const void *w, int64_t i) {
    switch (dt) {
    case VOX_BF16: {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
#if defined(__F16C__)
    case VOX_F16: {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
        return _mm256_cvtph_ps(h);
    }
#endif
    default:
        return _mm256_loadu_ps((const float *)w + i);
    }
}

VOX_INLINE float w_scalar(vox_dtype dt, const void *w, int64_t i) {
    if (dt == VOX_BF16) return vox_bf16_to_f32(((const uint16_t *)w)[i]);
#if defined(__F16C__)
    if (dt == VOX_F16) return _cvtsh_ss(((const uint16_t *)w)[i]);
#endif
    return ((const float *)w)[i];
}

VOX_INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

#define HALF_STEP(acc, i)                                                          \
    do {                                                                           \
        __m256 wv[2];                                                              \
        VOX_UNROLL for (int o = 0; o < OB; o++) wv[o] = load_w8(dt, ROW(w, o, row_bytes), (i)); \
        VOX_UNROLL for (int r = 0; r < R; r++) {                                   \
            __m256 xv = _mm256_loadu_ps(x + (int64_t)r * ldx + (i));               \
            VOX_UNROLL for (int o = 0; o < OB; o++) acc[o][r] =                    \
                _mm256_fmadd_ps(wv[o], xv, acc[o][r]);                             \
        }                                                                          \
    } while (0)

/* Two chains per pair over 16 elements per step; the tail (< 16) is added in
 * scalar order after the horizontal sum. */
VOX_INLINE void micro(vox_dtype dt, const void *w, size_t row_bytes, const int OB,
                      const float *x, int64_t ldx, const int R, int64_t n, float *y,
                      int64_t ldy) {
    __m256 acc0[2][2], acc1[2][2];
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++) {
        acc0[o][r] = _mm256_setzero_ps();
        acc1[o][r] = _mm256_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        HALF_STEP(acc0, i);
        HALF_STEP(acc1, i + 8);
    }
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++) {
        float s = hsum8(_mm256_add_ps(acc0[o][r], acc1[o][r]));
        const float *xr = x + (int64_t)r * ldx;
        for (int64_t j = i; j < n; j++) s += w_scalar(dt, ROW(w, o, row_bytes), j) * xr[j];
        y[(int64_t)r * ldy + o] = s;
    }
}
#undef HALF_STEP

#define MAX_OB(R) 2
#endif

#if defined(VOX_X86_AVX512) || defined(VOX_X86_AVX2)

/* The tile as blocks of up to 4 (AVX2: 2) input rows x MAX_OB weight rows, each
 * block a micro-kernel specialised for its shape. */
VOX_INLINE void tile_dt(vox_dtype dt, const void *w, size_t row_bytes, int n_out, const float *x,
                        int64_t ldx, int n_rows, int64_t n, float *y, int64_t ldy) {
#if defined(VOX_X86_AVX512)
    /* 6 rows (the flow batch) as one block when they are all there */
    const int RMAX = n_rows % 6 == 0 ? 6 : 4;
#else
    const int RMAX = 2;
#endif
    for (int r0 = 0; r0 < n_rows; r0 += RMAX) {
        const int R = n_rows - r0 < RMAX ? n_rows - r0 : RMAX;
        const float *xr = x + (int64_t)r0 * ldx;
        float *yr = y + (int64_t)r0 * ldy;
        const int obmax = MAX_OB(R);
        for (int o0 = 0; o0 < n_out; o0 += obmax) {
            const int OB = n_out - o0 < obmax ? n_out - o0 : obmax;
            const void *wo = ROW(w, o0, row_bytes);
            float *yo = yr + o0;
#define CASE(ob, r) \
    case (ob) * 8 + (r): micro(dt, wo, row_bytes, ob, xr, ldx, r, n, yo, ldy); break;
            switch (OB * 8 + R) {
                CASE(1, 1) CASE(1, 2) CASE(2, 1) CASE(2, 2)
#if defined(VOX_X86_AVX512)
                CASE(3, 1) CASE(3, 2) CASE(4, 1) CASE(4, 2)
                CASE(1, 3) CASE(1, 4) CASE(2, 3) CASE(2, 4) CASE(1, 6) CASE(2, 6)
#endif
            default: break;
            }
#undef CASE
        }
    }
}

int vox_x86_gemm_tile(vox_dtype dt, const void *w, size_t row_bytes, int n_out, const float *x,
                      int64_t ldx, int n_rows, int64_t n, float *y, int64_t ldy) {
    /* one instantiation per dtype so the dtype switch leaves the inner loop */
    switch (dt) {
    case VOX_F32: tile_dt(VOX_F32, w, row_bytes, n_out, x, ldx, n_rows, n, y, ldy); return 1;
    case VOX_BF16: tile_dt(VOX_BF16, w, row_bytes, n_out, x, ldx, n_rows, n, y, ldy); return 1;
#if defined(VOX_X86_AVX512) || defined(__F16C__)
    case VOX_F16: tile_dt(VOX_F16, w, row_bytes, n_out, x, ldx, n_rows, n, y, ldy); return 1;
#endif
    default: return 0;
    }
}

#if defined(VOX_X86_AVX512)
const char *vox_x86_name(void) { return "avx512"; }
#else
const char *vox_x86_name(void) { return "avx2"; }
#endif

#else

int vox_x86_gemm_tile(vox_dtype dt, const void *w, size_t row_bytes, int n_out, const float *x,
                      int64_t ldx, int n_rows, int64_t n, float *y, int64_t ldy) {
    (void)dt; (void)w; (void)row_bytes; (void)n_out; (void)x; (void)ldx; (void)n_rows; (void)n;
    (void)y; (void)ldy;
    return 0;
}

const char *vox_x86_name(void) { return "none"; }

#endif
