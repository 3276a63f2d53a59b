/* kernels_avx2.c — the AVX2 kernel set (AVX2 + FMA + F16C): matrix-product
 * tiles for F32, BF16, F16, Q8_0 and Q4_K weights.
 *
 * Compiled for those instructions whatever the build flags (a target pragma
 * covers the whole file); kernels.c calls into it only after checking the CPU.
 *
 * F32/BF16/F16: weights widened to f32 in registers (bf16: shift into the high
 * half; f16: vcvtph2ps), FMA with the f32 activations.  A micro-kernel
 * computes OB <= 2 weight rows x R <= 2 input rows (or, with 3 or more input
 * rows, 2 weight rows x R <= 3 input rows at a time); each (weight row, input row)
 * pair owns two 8-lane accumulator chains (even / odd 8-element blocks), added
 * and reduced at the end; the tail (< 16 elements) is added in scalar order
 * after the reduction.  The sequence is the same for every (OB, R).
 *
 * Q8_0 and Q4_K: kernels_x86q.h (shared with the AVX-VNNI set), with
 * vpmaddubsw + vpmaddwd for the integer dot products. */
#include <math.h>
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

VOX_DEFINE_FLOAT_TILE_2X2(float_tile_2x2, float_micro)

/* With three or more input rows (the flow head's 6): weight rows in pairs
 * against the input rows in threes (float_range2), so each weight vector is
 * widened once per three rows and each activation vector loaded once per two
 * weight rows (compiled naively, one weight row against six rows was bound by
 * its loads, one per FMA); an odd last weight row runs against all rows at
 * once (float_range).  The row is cut into chunks of FCHUNK elements whose
 * activation rows (24 KB of f32 for six) stay in L1 while FOBLK weight rows
 * walk the chunk, their accumulators parked in between, the weights
 * prefetched FPF_ROWS rows ahead.  Per (weight row, input row) the same two
 * chains see the same elements in the same order as in float_micro: the same
 * bits.  kernel_bench --level avx2 --dtype bf16 --rows 6 --threads 2 (Zen 4),
 * two alternating runs: 9216x3072 53.2-54.1 -> 68.3-68.7 GMAC/s, 3072x9216
 * 43.4-44.6 -> 62.8. */
#define FCHUNK 1024
#define FOBLK 8
#define FPF_ROWS 8 /* 2 before: 9216x3072 59.6 -> 68.5 GMAC/s with the pairs */

/* The chains acc0/acc1 of R rows over elements [i0, i1) (multiples of 16) of weight row w. */
VOX_INLINE void float_range(vox_dtype dt, const void *w, const void *x, size_t xs, const int R, int64_t i0,
                            int64_t i1, size_t pf, __m256 *acc0, __m256 *acc1) {
    const size_t es = dt == VOX_F32 ? 4 : 2;
    for (int64_t i = i0; i < i1; i += 16) {
        if (es == 4 || (i & 16) == 0) _mm_prefetch((const char *)w + (size_t)i * es + pf, _MM_HINT_T1);
        const __m256 w0 = load_w8(dt, w, i), w1 = load_w8(dt, w, i + 8);
        VOX_UNROLL for (int r = 0; r < R; r++) {
            const float *xr = (const float *)ROW(x, r, xs);
            acc0[r] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr + i), acc0[r]);
            acc1[r] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr + i + 8), acc1[r]);
        }
    }
}

/* Two weight rows against R <= 3 input rows over [i0, i1): each activation
 * vector loaded once for both weight rows (12 accumulators), so the loop is
 * bound by the FMAs rather than by the loads; per (weight row, input row)
 * the same two chains as float_range.  pf 0: no prefetch (a second pass over
 * weights just read). */
VOX_INLINE void float_range2(vox_dtype dt, const void *wa, const void *wb, const void *x, size_t xs, const int R,
                             int64_t i0, int64_t i1, size_t pf, __m256 acc0[2][3], __m256 acc1[2][3]) {
    const size_t es = dt == VOX_F32 ? 4 : 2;
    for (int64_t i = i0; i < i1; i += 16) {
        if (pf && (es == 4 || (i & 16) == 0)) {
            _mm_prefetch((const char *)wa + (size_t)i * es + pf, _MM_HINT_T1);
            _mm_prefetch((const char *)wb + (size_t)i * es + pf, _MM_HINT_T1);
        }
        const __m256 a0 = load_w8(dt, wa, i), b0 = load_w8(dt, wb, i);
        VOX_UNROLL for (int r = 0; r < R; r++) {
            __m256 xv = _mm256_loadu_ps((const float *)ROW(x, r, xs) + i);
            __asm__("" : "+x"(xv)); /* one load for both products (GCC would fold it into each FMA) */
            acc0[0][r] = _mm256_fmadd_ps(a0, xv, acc0[0][r]);
            acc0[1][r] = _mm256_fmadd_ps(b0, xv, acc0[1][r]);
        }
        const __m256 a1 = load_w8(dt, wa, i + 8), b1 = load_w8(dt, wb, i + 8);
        VOX_UNROLL for (int r = 0; r < R; r++) {
            __m256 xv = _mm256_loadu_ps((const float *)ROW(x, r, xs) + i + 8);
            __asm__("" : "+x"(xv));
            acc1[0][r] = _mm256_fmadd_ps(a1, xv, acc1[0][r]);
            acc1[1][r] = _mm256_fmadd_ps(b1, xv, acc1[1][r]);
        }
    }
}

VOX_INLINE void float_rows(vox_dtype dt, const void *w, size_t ws, int n_out, const void *x, size_t xs,
                           const int R, int64_t n, float *y, int64_t ldy) {
    const int64_t n16 = n / 16 * 16;
    _Alignas(32) float park[FOBLK][2][6][8];
    for (int ob = 0; ob < n_out; ob += FOBLK) {
        const int nob = n_out - ob < FOBLK ? n_out - ob : FOBLK;
        for (int o = 0; o < nob; o++)
            VOX_UNROLL for (int r = 0; r < R; r++) {
                _mm256_store_ps(park[o][0][r], _mm256_setzero_ps());
                _mm256_store_ps(park[o][1][r], _mm256_setzero_ps());
            }
        for (int64_t k0 = 0; k0 < n16; k0 += FCHUNK) {
            const int64_t k1 = k0 + FCHUNK < n16 ? k0 + FCHUNK : n16;
            int o = 0;
            for (; o + 1 < nob; o += 2) { /* pairs of weight rows, rows in threes */
                const void *wa = ROW(w, ob + o, ws), *wb = ROW(w, ob + o + 1, ws);
                for (int r0 = 0; r0 < R; r0 += 3) {
                    const int R3 = R - r0 < 3 ? R - r0 : 3;
                    __m256 acc0[2][3], acc1[2][3];
                    VOX_UNROLL for (int q = 0; q < 2; q++) VOX_UNROLL for (int r = 0; r < 3; r++) {
                        if (r < R3) {
                            acc0[q][r] = _mm256_load_ps(park[o + q][0][r0 + r]);
                            acc1[q][r] = _mm256_load_ps(park[o + q][1][r0 + r]);
                        }
                    }
                    const void *xr = ROW(x, r0, xs);
                    if (R3 == 3) float_range2(dt, wa, wb, xr, xs, 3, k0, k1, r0 ? 0 : FPF_ROWS * ws, acc0, acc1);
                    else if (R3 == 2) float_range2(dt, wa, wb, xr, xs, 2, k0, k1, r0 ? 0 : FPF_ROWS * ws, acc0, acc1);
                    else float_range2(dt, wa, wb, xr, xs, 1, k0, k1, r0 ? 0 : FPF_ROWS * ws, acc0, acc1);
                    VOX_UNROLL for (int q = 0; q < 2; q++) VOX_UNROLL for (int r = 0; r < 3; r++) {
                        if (r < R3) {
                            _mm256_store_ps(park[o + q][0][r0 + r], acc0[q][r]);
                            _mm256_store_ps(park[o + q][1][r0 + r], acc1[q][r]);
                        }
                    }
                }
            }
            for (; o < nob; o++) { /* an odd last weight row */
                __m256 acc0[6], acc1[6];
                VOX_UNROLL for (int r = 0; r < R; r++) {
                    acc0[r] = _mm256_load_ps(park[o][0][r]);
                    acc1[r] = _mm256_load_ps(park[o][1][r]);
                }
                float_range(dt, ROW(w, ob + o, ws), x, xs, R, k0, k1, FPF_ROWS * ws, acc0, acc1);
                VOX_UNROLL for (int r = 0; r < R; r++) {
                    _mm256_store_ps(park[o][0][r], acc0[r]);
                    _mm256_store_ps(park[o][1][r], acc1[r]);
                }
            }
        }
        for (int o = 0; o < nob; o++)
            VOX_UNROLL for (int r = 0; r < R; r++) {
                float s = hsum8(_mm256_add_ps(_mm256_load_ps(park[o][0][r]), _mm256_load_ps(park[o][1][r])));
                const float *xr = (const float *)ROW(x, r, xs);
                for (int64_t j = n16; j < n; j++) s += w_scalar(dt, ROW(w, ob + o, ws), j) * xr[j];
                y[(int64_t)r * ldy + ob + o] = s;
            }
    }
}

VOX_INLINE void float_tile(vox_dtype dt, const void *w, size_t ws, int n_out, const void *x, size_t xs,
                           int n_rows, int64_t n, float *y, int64_t ldy) {
    if (n_rows <= 2) {
        float_tile_2x2(dt, w, ws, n_out, x, xs, n_rows, n, y, ldy);
        return;
    }
    for (int r0 = 0; r0 < n_rows; r0 += 6) {
        const void *xr = ROW(x, r0, xs);
        float *yr = y + (int64_t)r0 * ldy;
        switch (n_rows - r0 < 6 ? n_rows - r0 : 6) {
        case 1: float_rows(dt, w, ws, n_out, xr, xs, 1, n, yr, ldy); break;
        case 2: float_rows(dt, w, ws, n_out, xr, xs, 2, n, yr, ldy); break;
        case 3: float_rows(dt, w, ws, n_out, xr, xs, 3, n, yr, ldy); break;
        case 4: float_rows(dt, w, ws, n_out, xr, xs, 4, n, yr, ldy); break;
        case 5: float_rows(dt, w, ws, n_out, xr, xs, 5, n, yr, ldy); break;
        default: float_rows(dt, w, ws, n_out, xr, xs, 6, n, yr, ldy); break;
        }
    }
}

VOX_DEFINE_FLOAT_TILES(float_tile)

#define X86Q_VNNI 0
#include "tensor/kernels_x86q.h"

/* ---- attention helpers (vox_dot_f32, vox_axpy_f32 at the avx2 and avxvnni levels) ----
 * The portable dot keeps 16 partial sums (element i into sum i % 16); here they
 * are two 8-lane registers, lanes 0..7 and 8..15, reduced in the same pairwise
 * order, so the bits are the portable loop's (and the avx512 level's). */

/* Lanes [0, k) of 8 set (k <= 8). */
VOX_INLINE __m256i lane_mask8(int k) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), idx);
}

float vox_dot_f32_avx2(const float *a, const float *b, int n) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
        hi = _mm256_add_ps(hi, _mm256_mul_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8)));
    }
    if (i < n) { /* masked-off lanes add +0.0f * 0.0f = +0.0f: the sum keeps its bits */
        const int k = n - i;
        const __m256i m0 = lane_mask8(k), m1 = lane_mask8(k - 8);
        lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_maskload_ps(a + i, m0), _mm256_maskload_ps(b + i, m0)));
        if (k > 8)
            hi = _mm256_add_ps(hi, _mm256_mul_ps(_mm256_maskload_ps(a + i + 8, m1),
                                                 _mm256_maskload_ps(b + i + 8, m1)));
    }
    const __m256 s8 = _mm256_add_ps(lo, hi);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    float l[4];
    _mm_storeu_ps(l, s4);
    return (l[0] + l[2]) + (l[1] + l[3]);
}

void vox_axpy_f32_avx2(float *y, float a, const float *x, int n) {
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, _mm256_loadu_ps(x + i))));
    for (; i < n; i++) y[i] += a * x[i];
}

/* The rows loops (see kernels_avx512.c): head_dim 128 keeps the output in
 * registers, 64 values (8 registers) at a time; per element the single calls'
 * operations in the same order. */
void vox_dot_rows_f32_avx2(const float *a, const float *rows, size_t stride, int n_rows, int n, float scale,
                           float *out) {
    for (int j = 0; j < n_rows; j++) out[j] = vox_dot_f32_avx2(a, rows + (size_t)j * stride, n) * scale;
}

void vox_axpy_rows_f32_avx2(float *y, const float *coef, const float *rows, size_t stride, int n_rows, int n) {
    if (n != 128) {
        for (int j = 0; j < n_rows; j++) vox_axpy_f32_avx2(y, coef[j], rows + (size_t)j * stride, n);
        return;
    }
    for (int h = 0; h < 128; h += 64) {
        __m256 acc[8];
        VOX_UNROLL for (int k = 0; k < 8; k++) acc[k] = _mm256_loadu_ps(y + h + 8 * k);
        for (int j = 0; j < n_rows; j++) {
            const __m256 c = _mm256_set1_ps(coef[j]);
            const float *x = rows + (size_t)j * stride + h;
            VOX_UNROLL for (int k = 0; k < 8; k++) acc[k] = _mm256_add_ps(acc[k], _mm256_mul_ps(c, _mm256_loadu_ps(x + 8 * k)));
        }
        VOX_UNROLL for (int k = 0; k < 8; k++) _mm256_storeu_ps(y + h + 8 * k, acc[k]);
    }
}

/* exp(x) for 8 lanes: the computation of kernels_avx512.c's exp16, with 2^k
 * built in the exponent field (k is in [-126, 128] after the clamp). */
VOX_INLINE __m256 exp8(__m256 x) {
    const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.336544f)), _mm256_set1_ps(88.722832f));
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* 2^k as 2^k1 * 2^k2 with k1 = k >> 1, k2 = k - k1, both normal powers */
    const __m256i ki = _mm256_cvtps_epi32(k);
    const __m256i k1 = _mm256_srai_epi32(ki, 1), k2 = _mm256_sub_epi32(ki, k1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
    __m256 e = _mm256_mul_ps(_mm256_mul_ps(p, p1), p2);
    e = _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(88.722832f), _CMP_GT_OQ));
    return _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

void vox_silu_mul_avx2(float *gate, const float *up, int n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) { /* the tail through the same vector arithmetic, one lane */
        float gb[8] = {0}, ub[8] = {0};
        gb[0] = gate[i];
        ub[0] = up[i];
        const __m256 g = _mm256_loadu_ps(gb);
        const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
        _mm256_storeu_ps(gb, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(ub)));
        gate[i] = gb[0];
    }
}

static const vox_kernel_set avx2_set = {
    "avx2",
    {
        [VOX_F32] = {.tile = tile_f32},
        [VOX_BF16] = {.tile = tile_bf16},
        [VOX_F16] = {.tile = tile_f16},
        X86Q_KERNELS,
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
