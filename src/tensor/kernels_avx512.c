/* kernels_avx512.c — the AVX-512 (F, BW, VL) kernel set for F32, BF16 and F16
 * weights; its Q8_0 / Q4_K kernels are in kernels_avx512vnni.c (or, on a CPU
 * without VNNI, the AVX2 ones).
 *
 * Compiled for those instructions whatever the build flags (a target pragma
 * covers the whole file); kernels.c calls into it only after checking the CPU.
 *
 * Weights are widened to f32 in registers (bf16: zero-extend and shift into the
 * high half; f16: vcvtph2ps) and multiplied with FMA against the f32
 * activations, so the only difference from the scalar reference is the
 * summation order.  (On a CPU with AVX512_BF16, BF16 weights go to
 * kernels_avx512bf16.c instead, which keeps the activations' precision by
 * splitting each into two bf16 parts; vdpbf16ps on the activations as they are
 * would round them to bf16.)
 *
 * Register blocking: a micro-kernel computes OB weight rows x R input rows at
 * once (up to 4x2, 2x4 and 2x6 for the 6-row flow batch), so each activation
 * vector loaded feeds OB FMAs and each widened weight vector feeds R FMAs.
 * Every (weight row, input row) pair owns two accumulator chains — one for the
 * even and one for the odd 16-element blocks, the tail masked into the same
 * chains — reduced as reduce(acc0 + acc1).  That sequence is the same for every
 * (OB, R), which keeps results independent of the tiling, the batch size and
 * the thread. */
#include <math.h>
#include <stdint.h>

#include "tensor/kernels_impl.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
#endif

#include <immintrin.h>

#if defined(__clang__)
#define VOX_UNROLL _Pragma("unroll")
#else
#define VOX_UNROLL _Pragma("GCC unroll 8")
#endif


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
    default: return _mm512_maskz_loadu_ps(m, (const float *)w + i);
    }
}

/* One half-step: block of 16 at i into accumulators acc[o][r]. */
#define HALF_STEP(acc, i, mask)                                                                 \
    do {                                                                                        \
        __m512 wv[4];                                                                           \
        VOX_UNROLL for (int o = 0; o < OB; o++) wv[o] = load_w16(dt, ROW(w, o, ws), (i), (mask)); \
        VOX_UNROLL for (int r = 0; r < R; r++) {                                                \
            __m512 xv = _mm512_maskz_loadu_ps((mask), (const float *)ROW(x, r, xs) + (i));      \
            VOX_UNROLL for (int o = 0; o < OB; o++) acc[o][r] =                                 \
                _mm512_fmadd_ps(wv[o], xv, acc[o][r]);                                          \
        }                                                                                       \
    } while (0)

/* Elements [i0, i1) of OB weight rows x R input rows.  i0 is a multiple of 32
 * (so the even / odd chains stay the same); `first`: start from zero, else
 * from the accumulators parked at park[o][r][chain]; `last`: i1 = n, add the
 * masked tail and write the reduced sums to y, else park the accumulators. */
VOX_INLINE void micro_part(vox_dtype dt, const void *w, size_t ws, const int OB, const void *x,
                           size_t xs, const int R, int64_t i0, int64_t i1, const int first,
                           const int last, float (*park)[6][2][16], size_t pf, float *y, int64_t ldy) {
    __m512 acc0[4][6], acc1[4][6];
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++) {
        acc0[o][r] = first ? _mm512_setzero_ps() : _mm512_load_ps(park[o][r][0]);
        acc1[o][r] = first ? _mm512_setzero_ps() : _mm512_load_ps(park[o][r][1]);
    }
    int64_t i = i0;
    const size_t es = dt == VOX_F32 ? 4 : 2;
    for (; i + 32 <= i1; i += 32) {
        /* software prefetch into L2, pf bytes ahead of what the rows read now
         * (the hardware prefetchers alone left the 6-row loop waiting) */
        VOX_UNROLL for (int o = 0; o < OB; o++) {
            const char *pp = (const char *)ROW(w, o, ws) + (size_t)i * es + pf;
            _mm_prefetch(pp, _MM_HINT_T1);
            if (es == 4) _mm_prefetch(pp + 64, _MM_HINT_T1);
        }
        HALF_STEP(acc0, i, (__mmask16)0xffff);
        HALF_STEP(acc1, i + 16, (__mmask16)0xffff);
    }
    if (!last) {
        VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++) {
            _mm512_store_ps(park[o][r][0], acc0[o][r]);
            _mm512_store_ps(park[o][r][1], acc1[o][r]);
        }
        return;
    }
    const int64_t rem = i1 - i;
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

/* Weight rows per micro-kernel for R input rows.  One input row: one weight
 * row at a time, so the weights stream from memory as a single sequential run
 * (several interleaved rows measured clearly slower here); more rows: as many
 * as the 32 vector registers allow, so each activation load feeds several. */
#define MAX_OB(R) ((R) == 1 ? 1 : (R) <= 2 ? 4 : 2)

/* Memory behaviour, as measured on the 2-core Zen 4 development machine:
 *  - A software prefetch into L2, PF_BYTES ahead of the rows being read, lets
 *    the 6-row loop run near its in-cache speed (about 1.5x faster).
 *  - With one input row the f32 activation (4 bytes per weight) competes with
 *    the streaming weights for L1 once the row is long (in = 9216: 36 KB), so
 *    long rows are cut into chunks of 4096 (16 KB of activation), walked by
 *    OBLK weight rows in turn with their accumulators parked in between; each
 *    chain still sees the same elements in the same order.  With several input
 *    rows chunking measured slower (more interleaved weight streams), so it is
 *    not used there. */
#define OBLK 8
#define PF_BYTES 8192
static int64_t chunk_elems(int R) { return R == 1 ? 4096 : INT64_MAX; }

/* The tile as blocks of up to 4 input rows (6 when the tile has exactly 6, the
 * flow batch) x MAX_OB weight rows, each a micro-kernel for its shape. */
VOX_INLINE void float_tile(vox_dtype dt, const void *w, size_t ws, int n_out, const void *x,
                           size_t xs, int n_rows, int64_t n, float *y, int64_t ldy) {
    const int RMAX = n_rows == 6 ? 6 : 4;
    _Alignas(64) float park[OBLK][6][2][16];
    for (int r0 = 0; r0 < n_rows; r0 += RMAX) {
        const int R = n_rows - r0 < RMAX ? n_rows - r0 : RMAX;
        const void *xr = ROW(x, r0, xs);
        float *yr = y + (int64_t)r0 * ldy;
        const int obmax = MAX_OB(R);
        const int64_t K = chunk_elems(R) > n ? n : chunk_elems(R);
        /* unchunked: prefetch PF_BYTES ahead along the rows; chunked: the same
         * piece of the rows of the next micro-kernel call */
        const size_t pf = K == n ? PF_BYTES : (size_t)obmax * ws;
        for (int ob = 0; ob < n_out; ob += OBLK) {
            const int oe = ob + OBLK < n_out ? ob + OBLK : n_out;
            for (int64_t i0 = 0; i0 < n; i0 += K) {
                const int64_t i1 = n - i0 <= K ? n : i0 + K;
                const int first = i0 == 0, last = i1 == n;
                for (int o0 = ob; o0 < oe; o0 += obmax) {
                    const int OB = oe - o0 < obmax ? oe - o0 : obmax;
                    const void *wo = ROW(w, o0, ws);
                    float *yo = yr + o0;
                    float(*pk)[6][2][16] = park + (o0 - ob);
#define CASE(ob, r)                                                                             \
    case (ob) * 8 + (r):                                                                        \
        micro_part(dt, wo, ws, ob, xr, xs, r, i0, i1, first, last, pk, pf, yo, ldy);            \
        break;
                    switch (OB * 8 + R) {
                        CASE(1, 1) CASE(1, 2) CASE(2, 1) CASE(2, 2) CASE(3, 1) CASE(3, 2) CASE(4, 1)
                        CASE(4, 2) CASE(1, 3) CASE(1, 4) CASE(2, 3) CASE(2, 4) CASE(1, 6) CASE(2, 6)
                    default: /* not reached with MAX_OB above; correct, if slow, anyway */
                        for (int o = 0; o < OB; o++)
                            for (int r = 0; r < R; r++)
                                micro_part(dt, ROW(wo, o, ws), ws, 1, ROW(xr, r, xs), xs, 1, i0, i1, first, last,
                                           pk + o, pf, yo + (int64_t)r * ldy + o, ldy);
                        break;
                    }
#undef CASE
                }
            }
        }
    }
}

VOX_DEFINE_FLOAT_TILES(float_tile)

/* vox_dot_f32 with the portable version's arithmetic exactly (element i into
 * lane i % 16, multiply then add, the same pairwise reduction), 16 lanes at a
 * time: the same bits as kernels.c's loop, faster. */
float vox_dot_f32_avx512(const float *a, const float *b, int n) {
    __m512 acc = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16)
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        acc = _mm512_mask_add_ps(acc, m, acc, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
    const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    float l[4];
    _mm_storeu_ps(l, s4);
    return (l[0] + l[2]) + (l[1] + l[3]);
}

void vox_axpy_f32_avx512(float *y, float a, const float *x, int n) {
    const __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i), _mm512_mul_ps(va, _mm512_loadu_ps(x + i))));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i),
                                                      _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, x + i))));
    }
}

/* The rows loops: for head_dim 128 (the model's, both transformers) the query
 * or the output accumulator stays in 8 registers for all rows; otherwise the
 * single-row functions in turn.  Per element the operations are those of the
 * single calls, in the same order. */
void vox_dot_rows_f32_avx512(const float *a, const float *rows, size_t stride, int n_rows, int n, float scale,
                             float *out) {
    if (n != 128) {
        for (int j = 0; j < n_rows; j++) out[j] = vox_dot_f32_avx512(a, rows + (size_t)j * stride, n) * scale;
        return;
    }
    __m512 q[8];
    VOX_UNROLL for (int k = 0; k < 8; k++) q[k] = _mm512_loadu_ps(a + 16 * k);
    for (int j = 0; j < n_rows; j++) {
        const float *b = rows + (size_t)j * stride;
        __m512 acc = _mm512_setzero_ps();
        VOX_UNROLL for (int k = 0; k < 8; k++) acc = _mm512_add_ps(acc, _mm512_mul_ps(q[k], _mm512_loadu_ps(b + 16 * k)));
        const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
        const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
        float l[4];
        _mm_storeu_ps(l, s4);
        out[j] = ((l[0] + l[2]) + (l[1] + l[3])) * scale;
    }
}

void vox_axpy_rows_f32_avx512(float *y, const float *coef, const float *rows, size_t stride, int n_rows, int n) {
    if (n != 128) {
        for (int j = 0; j < n_rows; j++) vox_axpy_f32_avx512(y, coef[j], rows + (size_t)j * stride, n);
        return;
    }
    __m512 acc[8];
    VOX_UNROLL for (int k = 0; k < 8; k++) acc[k] = _mm512_loadu_ps(y + 16 * k);
    for (int j = 0; j < n_rows; j++) {
        const __m512 c = _mm512_set1_ps(coef[j]);
        const float *x = rows + (size_t)j * stride;
        VOX_UNROLL for (int k = 0; k < 8; k++) acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(c, _mm512_loadu_ps(x + 16 * k)));
    }
    VOX_UNROLL for (int k = 0; k < 8; k++) _mm512_storeu_ps(y + 16 * k, acc[k]);
}

/* exp(x) for 16 lanes: x = k*ln2 + r with |r| <= ln2/2 (ln2 in two parts, so
 * r is exact to float precision), e^r = 1 + r + r^2 * P(r) with the degree-5
 * polynomial of the Cephes library's expf (a fact: published coefficients),
 * then scaled by 2^k.  x is clamped to [-87.33, 88.72] (results stay normal);
 * above that range the result is +inf, as expf's, and a NaN x gives NaN. */
VOX_INLINE __m512 exp16(__m512 x) {
    const __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.336544f)), _mm512_set1_ps(88.722832f));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512 e = _mm512_scalef_ps(p, k);
    e = _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(x, _mm512_set1_ps(88.722832f), _CMP_GT_OQ), _mm512_set1_ps(INFINITY));
    return _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

void vox_silu_mul_avx512(float *gate, const float *up, int n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 g = _mm512_loadu_ps(gate + i);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
        _mm512_storeu_ps(gate + i, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_loadu_ps(up + i)));
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
        _mm512_mask_storeu_ps(gate + i, m,
                              _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, up + i)));
    }
}

static const vox_kernel_set avx512_set = {
    "avx512",
    {
        [VOX_F32] = {.tile = tile_f32},
        [VOX_BF16] = {.tile = tile_bf16},
        [VOX_F16] = {.tile = tile_f16},
    },
};

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const vox_kernel_set *vox_kernels_avx512(void) { return &avx512_set; }

#else

const vox_kernel_set *vox_kernels_avx512(void) { return NULL; }

#endif
