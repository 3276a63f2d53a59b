/* kernels_avx512bf16.c — the avx512 level's BF16-weight kernel on a CPU with
 * AVX512_BF16: products with vdpbf16ps on a two-part (hi + lo) split of the
 * f32 activations, so neither the weights nor the accuracy need converting.
 *
 * Compiled for AVX-512 F/BW/VL + BF16 whatever the build flags (a target pragma
 * covers the whole file); kernels.c calls into it only after checking the CPU.
 *
 * The idea.  vdpbf16ps multiplies 32 pairs of bf16 values and adds them, two
 * per lane, into 16 f32 accumulators.  The weights are bf16 already; each f32
 * activation x is split once per call (prep, before the parallel split) into
 * hi = bf16(x) (round to nearest even) and lo = bf16(x - hi), and
 * y = W·hi + W·lo.  x - hi is exact in f32; |x - hi - lo| <= 2^-17 |x| (hi
 * keeps 8 significant bits, lo the next 8 and one more from the sign of the
 * residual), and bf16 x bf16 products are exact in f32, so against the exact
 * product the error is the f32 summation error plus at most
 * 2^-17 * sum |w x| (test_kernels.c checks that bound).  Compared with
 * widening the weights and using FMA, this removes the two widening
 * instructions per 16 weights per weight row, which compete with the FMAs for
 * the vector pipes in the compute-bound multi-row (flow head) products; the
 * multiply work itself (two instructions per 32 weights per row) is unchanged.
 *
 * Special values.  vdpbf16ps ignores MXCSR: it always rounds to nearest even,
 * treats denormal inputs as zero and flushes denormal results to zero.  The
 * absolute error this adds is below 2^-126 per accumulation step (about
 * 1e-38 * n), far under anything an activation of the model can notice.
 * A non-finite x gives hi = x (NaN stays NaN) and lo = 0, so infinities
 * propagate as in the f32 product; a finite x whose rounding would overflow
 * bf16 (|x| within half a bf16 step of FLT_MAX) is truncated instead, so hi
 * stays finite (that one element is then split to 2^-16 relative).
 *
 * Prepared activation row: blocks of 32 elements, 128 bytes each: bf16 hi[32]
 * then bf16 lo[32]; a partial last block is padded with zeros (the weight tail
 * is loaded masked, so padded products are exactly 0).
 *
 * Arithmetic per (weight row, input row) pair: two accumulator chains, one
 * for the hi and one for the lo products, each updated once per 32-element
 * block in block order, reduced once at the end as reduce(hi + lo): the same
 * sequence for every micro-kernel shape, tiling, batch size and thread. */
#include <stdint.h>
#include <string.h>

#include "tensor/kernels_impl.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__clang__) || __GNUC__ >= 10)

#if defined(__clang__)
#pragma clang attribute push(                                                                  \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma,f16c")
#endif

#include <immintrin.h>

#if defined(__clang__)
#define VOX_UNROLL _Pragma("unroll")
#else
#define VOX_UNROLL _Pragma("GCC unroll 8")
#endif


enum { BLOCK = 32, BLOCK_BYTES = 128 };

static size_t prep_bytes_bf16(int64_t n) {
    return vox_round64((size_t)((n + BLOCK - 1) / BLOCK) * BLOCK_BYTES);
}

/* hi/lo bits of 16 floats (as 16-bit values in 32-bit lanes).  Integer
 * arithmetic only, so the split does not depend on MXCSR or on what
 * vcvtneps2bf16 does with denormals. */
VOX_INLINE void split16(__m512 x, __m512i *hi16, __m512i *lo16) {
    const __m512i u = _mm512_castps_si512(x);
    const __m512i mag = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
    /* round to nearest even at bit 16 */
    const __m512i bias = _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                          _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1)));
    __m512i h = _mm512_and_si512(_mm512_add_epi32(u, bias), _mm512_set1_epi32((int)0xffff0000u));
    /* non-finite x: keep it (NaN stays NaN, inf stays inf); a finite x that
     * would round to infinity: truncate instead */
    const __mmask16 nonfinite = _mm512_cmpge_epu32_mask(mag, _mm512_set1_epi32(0x7f800000));
    const __m512i trunc = _mm512_and_si512(u, _mm512_set1_epi32((int)0xffff0000u));
    const __m512i hmag = _mm512_and_si512(h, _mm512_set1_epi32(0x7fffffff));
    const __mmask16 ovf = _mm512_cmpge_epu32_mask(hmag, _mm512_set1_epi32(0x7f800000));
    h = _mm512_mask_mov_epi32(h, ovf, trunc);
    /* inf keeps its bits; NaN is truncated with the quiet bit set, so it stays
     * a NaN whatever mantissa bits truncation drops */
    const __mmask16 isnan = _mm512_cmpgt_epu32_mask(mag, _mm512_set1_epi32(0x7f800000));
    h = _mm512_mask_mov_epi32(h, nonfinite, trunc);
    h = _mm512_mask_or_epi32(h, isnan, h, _mm512_set1_epi32(0x00400000));
    const __m512 r = _mm512_sub_ps(x, _mm512_castsi512_ps(h)); /* exact */
    const __m512i ru = _mm512_castps_si512(r);
    const __m512i rbias = _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                           _mm512_and_si512(_mm512_srli_epi32(ru, 16), _mm512_set1_epi32(1)));
    __m512i l = _mm512_srli_epi32(_mm512_add_epi32(ru, rbias), 16);
    l = _mm512_maskz_mov_epi32((__mmask16)~nonfinite, l);
    *hi16 = _mm512_srli_epi32(h, 16);
    *lo16 = l;
}

static void prep_bf16(const float *x, int64_t n, void *out) {
    uint16_t *o = out;
    for (int64_t b = 0; b * BLOCK < n; b++, o += 2 * BLOCK) {
        const int64_t i = b * BLOCK, rem = n - i;
        const __mmask16 m0 = rem >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rem) - 1u);
        const __mmask16 m1 = rem >= 32 ? (__mmask16)0xffff
                             : rem > 16 ? (__mmask16)((1u << (rem - 16)) - 1u)
                                        : (__mmask16)0;
        __m512i h0, l0, h1, l1;
        split16(_mm512_maskz_loadu_ps(m0, x + i), &h0, &l0);
        split16(_mm512_maskz_loadu_ps(m1, x + i + 16), &h1, &l1);
        _mm256_storeu_si256((__m256i *)o, _mm512_cvtepi32_epi16(h0));
        _mm256_storeu_si256((__m256i *)(o + 16), _mm512_cvtepi32_epi16(h1));
        _mm256_storeu_si256((__m256i *)(o + 32), _mm512_cvtepi32_epi16(l0));
        _mm256_storeu_si256((__m256i *)(o + 48), _mm512_cvtepi32_epi16(l1));
    }
    /* zero the rounding-up padding of the row */
    unsigned char *end = (unsigned char *)out + prep_bytes_bf16(n);
    for (unsigned char *p = (unsigned char *)o; p < end; p++) *p = 0;
}

#define DP(acc, a, b) _mm512_dpbf16_ps((acc), (__m512bh)(a), (__m512bh)(b))

/* Block b (32 elements) of OB weight rows, loaded in wv, against R prepared
 * input rows: per (row, input row) the hi then the lo products, one chain. */
VOX_INLINE void block_products(__m512 acc[][6], const __m512i *wv, const int OB, const void *x,
                               size_t xs, const int R, int64_t b) {
    VOX_UNROLL for (int r = 0; r < R; r++) {
        const char *xp = (const char *)ROW(x, r, xs) + (size_t)b * BLOCK_BYTES;
        const __m512i xh = _mm512_load_si512(xp), xl = _mm512_load_si512(xp + 64);
        VOX_UNROLL for (int o = 0; o < OB; o++) {
            acc[o][r] = DP(acc[o][r], wv[o], xh);
            acc[o][r] = DP(acc[o][r], wv[o], xl);
        }
    }
}

/* Blocks [b0, b1) of OB weight rows x R input rows.  `first`: start from zero,
 * else from the accumulators parked at park[o][r][chain]; `last`: b1 is the
 * last block (n_blocks), the weight tail is masked and the reduced sums go to
 * y, else the accumulators are parked. */
VOX_INLINE void micro_part(const void *w, size_t ws, const int OB, const void *x, size_t xs,
                           const int R, int64_t b0, int64_t b1, int64_t n, const int first,
                           const int last, float (*park)[6][16], size_t pf, float *y, int64_t ldy) {
    __m512 acc[4][6];
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++)
        acc[o][r] = first ? _mm512_setzero_ps() : _mm512_load_ps(park[o][r]);
    const int64_t full = n / BLOCK; /* blocks without a tail */
    const int64_t bf = b1 < full ? b1 : full;
    int64_t b = b0;
    for (; b < bf; b++) {
        __m512i wv[4];
        VOX_UNROLL for (int o = 0; o < OB; o++) {
            const char *wp = (const char *)ROW(w, o, ws) + (size_t)b * 64;
            _mm_prefetch(wp + pf, _MM_HINT_T1);
            wv[o] = _mm512_loadu_si512(wp);
        }
        block_products(acc, wv, OB, x, xs, R, b);
    }
    if (!last) {
        VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++)
            _mm512_store_ps(park[o][r], acc[o][r]);
        return;
    }
    if (b < b1) { /* the partial last block */
        const int64_t rem = n - b * BLOCK;
        const __mmask32 m = (__mmask32)((1u << rem) - 1u);
        __m512i wv[4];
        VOX_UNROLL for (int o = 0; o < OB; o++)
            wv[o] = _mm512_maskz_loadu_epi16(m, (const char *)ROW(w, o, ws) + (size_t)b * 64);
        block_products(acc, wv, OB, x, xs, R, b);
    }
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++)
        y[(int64_t)r * ldy + o] = _mm512_reduce_add_ps(acc[o][r]);
}

/* Weight rows per micro-kernel for R input rows: one for a single row (one
 * sequential weight stream), else as many as the registers allow (two
 * accumulators per pair: 4x2 = 16, 2x4 = 16, 2x6 = 24 of the 32). */
#ifndef OB_1
#define OB_1 1
#endif
#ifndef OB_6
#define OB_6 4
#endif
#define MAX_OB(R) ((R) == 1 ? OB_1 : (R) <= 4 ? 4 : OB_6)
/* As in kernels_avx512.c: one input row walks long rows in chunks (here of 128
 * blocks = 4096 elements, 16 KB of prepared activation) so the activation stays
 * in L1 next to the streaming weights, OBLK weight rows in turn; with several
 * rows the software prefetch runs PF_BYTES ahead along the rows. */
#define OBLK 8
#define PF_BYTES 8192
static int64_t chunk_blocks(int R) { return R == 1 ? 128 : INT64_MAX; }

static void tile_bf16(const void *w, size_t ws, int n_out, const void *x, size_t xs, int n_rows,
                      int64_t n, float *y, int64_t ldy) {
    const int RMAX = n_rows == 6 ? 6 : 4;
    const int64_t nb = (n + BLOCK - 1) / BLOCK;
    _Alignas(64) float park[OBLK][6][16];
    for (int r0 = 0; r0 < n_rows; r0 += RMAX) {
        const int R = n_rows - r0 < RMAX ? n_rows - r0 : RMAX;
        const void *xr = ROW(x, r0, xs);
        float *yr = y + (int64_t)r0 * ldy;
        const int obmax = MAX_OB(R);
        const int64_t K = chunk_blocks(R) > nb ? nb : chunk_blocks(R);
        const size_t pf = K == nb ? PF_BYTES : (size_t)obmax * ws;
        for (int ob = 0; ob < n_out; ob += OBLK) {
            const int oe = ob + OBLK < n_out ? ob + OBLK : n_out;
            for (int64_t b0 = 0; b0 < nb || b0 == 0; b0 += K) {
                const int64_t b1 = nb - b0 <= K ? nb : b0 + K;
                const int first = b0 == 0, last = b1 == nb;
                for (int o0 = ob; o0 < oe; o0 += obmax) {
                    const int OB = oe - o0 < obmax ? oe - o0 : obmax;
                    const void *wo = ROW(w, o0, ws);
                    float *yo = yr + o0;
                    float(*pk)[6][16] = park + (o0 - ob);
#define CASE(ob, r)                                                                             \
    case (ob) * 8 + (r):                                                                        \
        micro_part(wo, ws, ob, xr, xs, r, b0, b1, n, first, last, pk, pf, yo, ldy);             \
        break;
                    switch (OB * 8 + R) {
                        CASE(1, 1) CASE(2, 1) CASE(3, 1) CASE(4, 1)
                        CASE(1, 2) CASE(2, 2) CASE(3, 2) CASE(4, 2)
                        CASE(1, 3) CASE(2, 3) CASE(3, 3) CASE(4, 3)
                        CASE(1, 4) CASE(2, 4) CASE(3, 4) CASE(4, 4)
                        CASE(1, 6) CASE(2, 6) CASE(3, 6) CASE(4, 6)
                    default: /* not reached with MAX_OB above; correct, if slow, anyway */
                        for (int o = 0; o < OB; o++)
                            for (int r = 0; r < R; r++)
                                micro_part(ROW(wo, o, ws), ws, 1, ROW(xr, r, xs), xs, 1, b0, b1, n,
                                           first, last, pk + o, pf, yo + (int64_t)r * ldy + o, ldy);
                        break;
                    }
#undef CASE
                }
                if (nb == 0) break;
            }
        }
    }
}

/* ---- packed weights ----------------------------------------------------------
 * Groups of PACK rows; group layout, block-major: for each 32-element block b,
 * the block of row 0, 1, 2, 3 (64 bytes each), so a group is one sequential
 * run of nb * 256 bytes.  Missing elements of a last partial block, and the
 * missing rows of a last partial group, are zero.
 *
 * Why: with six input rows the kernel above reads four weight rows at once
 * (so each activation load feeds four products), that is four streams per
 * thread, several KB apart; one interleaved stream per thread, prefetched
 * into L2 8 KB ahead, is faster: on the 2-core Zen 4 development machine
 * (tools/kernel_bench --shape 9216x3072 --rows 6 --threads 2, weights from
 * memory, median of 5 runs alternating plain and --packed) 2.78 -> 2.21 ms. */
enum { PACK = 4, PACK_BLOCK_BYTES = PACK * 64 };
#ifndef PACK_HINT
#define PACK_HINT _MM_HINT_T1
#endif

static size_t pack_group_bytes_bf16(int64_t n) { return (size_t)((n + BLOCK - 1) / BLOCK) * PACK_BLOCK_BYTES; }

static void pack_bf16(const void *w, size_t ws, int n_out, int64_t n, void *out) {
    const int64_t nb = (n + BLOCK - 1) / BLOCK;
    const size_t gb = pack_group_bytes_bf16(n);
    for (int g = 0; g * PACK < n_out; g++) {
        unsigned char *dst = (unsigned char *)out + (size_t)g * gb;
        for (int64_t b = 0; b < nb; b++)
            for (int o = 0; o < PACK; o++) {
                uint16_t *d = (uint16_t *)(dst + (size_t)b * PACK_BLOCK_BYTES + 64 * o);
                const int row = g * PACK + o;
                const int64_t cnt = n - b * BLOCK < BLOCK ? n - b * BLOCK : BLOCK;
                if (row < n_out)
                    memcpy(d, (const uint16_t *)ROW(w, row, ws) + b * BLOCK, (size_t)cnt * 2);
                else
                    memset(d, 0, (size_t)cnt * 2);
                if (cnt < BLOCK) memset(d + cnt, 0, (size_t)(BLOCK - cnt) * 2);
            }
    }
}

/* One group (PACK rows, of which the first nv are written) x R input rows,
 * with exactly micro_part's arithmetic per (row, input row) pair. */
VOX_INLINE void packed_micro(const unsigned char *g, const void *x, size_t xs, const int R,
                             int64_t nb, int nv, float *y, int64_t ldy) {
    __m512 acc[PACK][6];
    VOX_UNROLL for (int o = 0; o < PACK; o++) VOX_UNROLL for (int r = 0; r < R; r++)
        acc[o][r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const unsigned char *wp = g + (size_t)b * PACK_BLOCK_BYTES;
#ifndef PACK_PF
#define PACK_PF 8192
#endif
        VOX_UNROLL for (int l = 0; l < PACK_BLOCK_BYTES; l += 64) _mm_prefetch((const char *)wp + PACK_PF + l, PACK_HINT);
        __m512i wv[PACK];
        VOX_UNROLL for (int o = 0; o < PACK; o++) wv[o] = _mm512_loadu_si512(wp + 64 * o);
        block_products(acc, wv, PACK, x, xs, R, b);
    }
    for (int o = 0; o < nv; o++)
        VOX_UNROLL for (int r = 0; r < R; r++) y[(int64_t)r * ldy + o] = _mm512_reduce_add_ps(acc[o][r]);
}

static void tile_packed_bf16(const void *w, size_t gs, int n_out, const void *x, size_t xs, int n_rows,
                             int64_t n, float *y, int64_t ldy) {
    const int64_t nb = (n + BLOCK - 1) / BLOCK;
    for (int r0 = 0; r0 < n_rows; r0 += 6) {
        const int R = n_rows - r0 < 6 ? n_rows - r0 : 6;
        const void *xr = ROW(x, r0, xs);
        for (int o0 = 0; o0 < n_out; o0 += PACK) {
            const unsigned char *g = (const unsigned char *)w + (size_t)(o0 / PACK) * gs;
            const int nv = n_out - o0 < PACK ? n_out - o0 : PACK;
            float *yo = y + (int64_t)r0 * ldy + o0;
            switch (R) {
            case 1: packed_micro(g, xr, xs, 1, nb, nv, yo, ldy); break;
            case 2: packed_micro(g, xr, xs, 2, nb, nv, yo, ldy); break;
            case 3: packed_micro(g, xr, xs, 3, nb, nv, yo, ldy); break;
            case 4: packed_micro(g, xr, xs, 4, nb, nv, yo, ldy); break;
            case 5: packed_micro(g, xr, xs, 5, nb, nv, yo, ldy); break;
            default: packed_micro(g, xr, xs, 6, nb, nv, yo, ldy); break;
            }
        }
    }
}

static const vox_kernel_set avx512bf16_set = {
    "avx512+bf16",
    {
        /* packed: only for products of several rows (single rows stream as one
         * run anyway, and measured no faster packed) */
        [VOX_BF16] = {.tile = tile_bf16, .prep = prep_bf16, .prep_bytes = prep_bytes_bf16,
                      .pack_rows = PACK, .pack_min_rows = 2, .pack_group_bytes = pack_group_bytes_bf16,
                      .pack = pack_bf16, .tile_packed = tile_packed_bf16},
    },
};

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const vox_kernel_set *vox_kernels_avx512bf16(void) { return &avx512bf16_set; }

#else

const vox_kernel_set *vox_kernels_avx512bf16(void) { return NULL; }

#endif
