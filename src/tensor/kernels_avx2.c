/* kernels_avx2.c — the AVX2 kernel set (AVX2 + FMA + F16C): matrix-product
 * tiles for F32, BF16, F16, Q8_0 and Q4_K weights.
 *
 * Compiled for those instructions whatever the build flags (a target pragma
 * covers the whole file); kernels.c calls into it only after checking the CPU.
 *
 * F32/BF16/F16: weights widened to f32 in registers (bf16: shift into the high
 * half; f16: vcvtph2ps), FMA with the f32 activations.  Each (weight row,
 * input row) value is one 8-lane accumulator chain taking the row's 8-element
 * blocks in order, reduced at the end, the tail (< 8 elements) added in
 * scalar order after the reduction.  The sequence is the same for every
 * kernel shape: up to 4 weight rows x 2 input rows (float_micro), 2 weight
 * rows x up to 6 input rows (float_rows), and BF16 weights packed in pairs of
 * rows for the flow head (pair_micro, float_rows packed).  One chain, not two, so
 * that six input rows against two weight rows take 12 accumulators and one
 * pass over the weights; kernel_bench --level avx2 --dtype bf16 --rows 6
 * --threads 2 (Zen 4, from memory, three alternating runs): 9216x3072
 * 61-68 -> 88 GMAC/s packed, 80-82 plain; 3072x9216 57-63 -> 73-82.
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

/* The end of one chain: m more elements of weight row w (from the first one not
 * yet taken) against x, blocks of 8 into acc, then the reduction and the last
 * m % 8 products one by one. */
VOX_INLINE float chain_end(vox_dtype dt, __m256 acc, const void *w, const float *x, int64_t m) {
    int64_t i = 0;
    for (; i + 8 <= m; i += 8) acc = _mm256_fmadd_ps(load_w8(dt, w, i), _mm256_loadu_ps(x + i), acc);
    float s = hsum8(acc);
    for (; i < m; i++) s += w_scalar(dt, w, i) * x[i];
    return s;
}

/* OB <= 4 weight rows x R <= 2 input rows, whole rows (the backbone's single
 * rows: four rows, so four chains in flight). */
VOX_INLINE void float_micro(vox_dtype dt, const void *w, size_t ws, const int OB, const void *x, size_t xs,
                            const int R, int64_t n, float *y, int64_t ldy) {
    __m256 acc[4][2];
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++) acc[o][r] = _mm256_setzero_ps();
    const size_t es = dt == VOX_F32 ? 4 : 2;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        /* one prefetch per 64 bytes of each row, PF_BYTES ahead, into L2 */
        VOX_UNROLL for (int o = 0; o < OB; o++) if (es == 4 || (i & 16) == 0)
            _mm_prefetch((const char *)ROW(w, o, ws) + (size_t)i * es + PF_BYTES, _MM_HINT_T1);
        VOX_UNROLL for (int h = 0; h < 16; h += 8) {
            __m256 wv[4];
            VOX_UNROLL for (int o = 0; o < OB; o++) wv[o] = load_w8(dt, ROW(w, o, ws), i + h);
            VOX_UNROLL for (int r = 0; r < R; r++) {
                const __m256 xv = _mm256_loadu_ps((const float *)ROW(x, r, xs) + i + h);
                VOX_UNROLL for (int o = 0; o < OB; o++) acc[o][r] = _mm256_fmadd_ps(wv[o], xv, acc[o][r]);
            }
        }
    }
    VOX_UNROLL for (int o = 0; o < OB; o++) VOX_UNROLL for (int r = 0; r < R; r++)
        y[(int64_t)r * ldy + o] = chain_end(dt, acc[o][r], (const char *)ROW(w, o, ws) + (size_t)i * es,
                                            (const float *)ROW(x, r, xs) + i, n - i);
}

/* n_rows <= 2: weight rows in fours. */
VOX_INLINE void float_tile_small(vox_dtype dt, const void *w, size_t ws, int n_out, const void *x, size_t xs,
                                 int n_rows, int64_t n, float *y, int64_t ldy) {
    for (int o0 = 0; o0 < n_out; o0 += 4) {
        const void *wo = ROW(w, o0, ws);
        float *yo = y + o0;
        /* constant sizes, so each call inlines a specialised micro-kernel */
        switch ((n_out - o0 < 4 ? n_out - o0 : 4) * 2 + n_rows - 1) {
        case 2: float_micro(dt, wo, ws, 1, x, xs, 1, n, yo, ldy); break;
        case 3: float_micro(dt, wo, ws, 1, x, xs, 2, n, yo, ldy); break;
        case 4: float_micro(dt, wo, ws, 2, x, xs, 1, n, yo, ldy); break;
        case 5: float_micro(dt, wo, ws, 2, x, xs, 2, n, yo, ldy); break;
        case 6: float_micro(dt, wo, ws, 3, x, xs, 1, n, yo, ldy); break;
        case 7: float_micro(dt, wo, ws, 3, x, xs, 2, n, yo, ldy); break;
        case 8: float_micro(dt, wo, ws, 4, x, xs, 1, n, yo, ldy); break;
        default: float_micro(dt, wo, ws, 4, x, xs, 2, n, yo, ldy); break;
        }
    }
}

/* With three or more input rows (the flow head's 6): weight rows in pairs
 * against up to six input rows at once (float_range2), so each weight vector
 * is widened once per six rows and each activation vector loaded once per two
 * weight rows (twelve accumulators); an odd last weight row runs alone
 * (float_range).  The row is cut into chunks of FCHUNK elements whose
 * activation rows (24 KB of f32 for six) stay in L1 while FOBLK weight rows
 * walk the chunk, their accumulators parked in between, the weights
 * prefetched FPF_ROWS rows ahead.  Each chain sees the same elements in the
 * same order as in float_micro: the same bits.  FCHUNK 256 and 512 (with
 * FOBLK 8 and 16) measured the same as 1024; overridable with -D to measure. */
#ifndef FCHUNK
#define FCHUNK 1024
#endif
#ifndef FOBLK
#define FOBLK 8
#endif
#define FPF_ROWS 8 /* 2 before: 9216x3072 59.6 -> 68.5 GMAC/s with the pairs */

/* The chains acc of R rows over elements [i0, i1) (multiples of 16) of weight row w. */
VOX_INLINE void float_range(vox_dtype dt, const void *w, const void *x, size_t xs, const int R, int64_t i0,
                            int64_t i1, size_t pf, __m256 *acc) {
    const size_t es = dt == VOX_F32 ? 4 : 2;
    for (int64_t i = i0; i < i1; i += 16) {
        if (es == 4 || (i & 16) == 0) _mm_prefetch((const char *)w + (size_t)i * es + pf, _MM_HINT_T1);
        VOX_UNROLL for (int h = 0; h < 16; h += 8) {
            const __m256 wv = load_w8(dt, w, i + h);
            VOX_UNROLL for (int r = 0; r < R; r++)
                acc[r] = _mm256_fmadd_ps(wv, _mm256_loadu_ps((const float *)ROW(x, r, xs) + i + h), acc[r]);
        }
    }
}

/* Two weight rows against R <= 6 input rows over [i0, i1): each activation
 * vector loaded once for both weight rows, so the loop is bound by the FMAs
 * rather than by the loads. */
VOX_INLINE void float_range2(vox_dtype dt, const void *wa, const void *wb, const void *x, size_t xs, const int R,
                             int64_t i0, int64_t i1, size_t pf, __m256 acc[2][6]) {
    const size_t es = dt == VOX_F32 ? 4 : 2;
    for (int64_t i = i0; i < i1; i += 16) {
        if (es == 4 || (i & 16) == 0) {
            _mm_prefetch((const char *)wa + (size_t)i * es + pf, _MM_HINT_T1);
            _mm_prefetch((const char *)wb + (size_t)i * es + pf, _MM_HINT_T1);
        }
        VOX_UNROLL for (int h = 0; h < 16; h += 8) {
            const __m256 a = load_w8(dt, wa, i + h), b = load_w8(dt, wb, i + h);
            VOX_UNROLL for (int r = 0; r < R; r++) {
                __m256 xv = _mm256_loadu_ps((const float *)ROW(x, r, xs) + i + h);
                __asm__("" : "+x"(xv)); /* one load for both products (GCC would fold it into each FMA) */
                acc[0][r] = _mm256_fmadd_ps(a, xv, acc[0][r]);
                acc[1][r] = _mm256_fmadd_ps(b, xv, acc[1][r]);
            }
        }
    }
}


/* ---- BF16 packed in pairs of rows ---------------------------------------------
 * For weights always multiplied with several input rows (the flow head's):
 * groups of two weight rows; for each block of 16 elements, 32 bytes of row 0
 * then 32 bytes of row 1, each holding element j in the low and element 8 + j
 * in the high half of 32-bit word j.  One 32-byte load then widens to both
 * 8-element halves with one instruction each (vpslld 16: elements 0-7; vpand
 * with 0xffff0000: elements 8-15), where the plain layout needs a widening
 * load and a shift per 8 values, and a pair streams from memory as one
 * sequential run.  After the blocks come the n % 16 last elements of row 0,
 * then of row 1, as stored; the group is padded to 64 bytes, a missing second
 * row is zero.  Each chain takes the blocks in the same order as on the plain
 * layout and ends with chain_end on the stored tail: the same bits. */
static size_t pack_group_bytes_bf16(int64_t n) { return vox_round64((size_t)n * 4); }

static void pack_bf16_pairs(const void *w, size_t ws, int n_out, int64_t n, void *out) {
    const int64_t nb = n / 16, t = n - nb * 16;
    const size_t gb = pack_group_bytes_bf16(n);
    for (int g = 0; 2 * g < n_out; g++) {
        uint16_t *dst = (uint16_t *)((unsigned char *)out + (size_t)g * gb);
        memset(dst, 0, gb);
        for (int q = 0; q < 2 && 2 * g + q < n_out; q++) {
            const unsigned char *src = ROW(w, 2 * g + q, ws);
            for (int64_t b = 0; b < nb; b++)
                for (int j = 0; j < 8; j++) {
                    dst[b * 32 + q * 16 + 2 * j] = vox_load_u16(src + 2 * (b * 16 + j));
                    dst[b * 32 + q * 16 + 2 * j + 1] = vox_load_u16(src + 2 * (b * 16 + 8 + j));
                }
            for (int64_t j = 0; j < t; j++) dst[nb * 32 + q * t + j] = vox_load_u16(src + 2 * (nb * 16 + j));
        }
    }
}

/* 0xffff0000 in every 32-bit lane: the mask of bf16_last8 (a memory operand in pair_step6) */
static const uint32_t bf16_hi_mask[8] __attribute__((aligned(32))) = {
    0xffff0000u, 0xffff0000u, 0xffff0000u, 0xffff0000u, 0xffff0000u, 0xffff0000u, 0xffff0000u, 0xffff0000u};

VOX_INLINE __m256 bf16_first8(__m256i v) { return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)); }
VOX_INLINE __m256 bf16_last8(__m256i v) {
    return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_load_si256((const __m256i *)bf16_hi_mask)));
}

/* The stored tail (elements n / 16 * 16 ..) of row q (0, 1) of group g. */
VOX_INLINE const void *pair_tail(const unsigned char *g, int q, int64_t n) {
    const int64_t n16 = n / 16 * 16;
    return g + (size_t)n16 * 4 + (size_t)(q * (n - n16)) * 2;
}

/* G <= 2 groups (rows 0 .. nv - 1 of them written) against R <= 2 input rows, whole rows. */
VOX_INLINE void pair_micro(const unsigned char *g, size_t gs, const int G, const void *x, size_t xs, const int R,
                           int64_t n, int nv, float *y, int64_t ldy) {
    __m256 acc[4][2];
    VOX_UNROLL for (int o = 0; o < 2 * G; o++) VOX_UNROLL for (int r = 0; r < R; r++) acc[o][r] = _mm256_setzero_ps();
    const int64_t n16 = n / 16 * 16;
    for (int64_t i = 0; i < n16; i += 16) {
        __m256i v[4];
        VOX_UNROLL for (int k = 0; k < G; k++) {
            const unsigned char *p = g + (size_t)k * gs + (size_t)i * 4;
            _mm_prefetch((const char *)p + 2 * PF_BYTES, _MM_HINT_T1); /* 64 bytes a step: one line */
            v[2 * k] = _mm256_load_si256((const __m256i *)p);
            v[2 * k + 1] = _mm256_load_si256((const __m256i *)(p + 32));
        }
        VOX_UNROLL for (int h = 0; h < 2; h++) {
            __m256 wv[4];
            VOX_UNROLL for (int o = 0; o < 2 * G; o++) wv[o] = h ? bf16_last8(v[o]) : bf16_first8(v[o]);
            VOX_UNROLL for (int r = 0; r < R; r++) {
                const __m256 xv = _mm256_loadu_ps((const float *)ROW(x, r, xs) + i + 8 * h);
                VOX_UNROLL for (int o = 0; o < 2 * G; o++) acc[o][r] = _mm256_fmadd_ps(wv[o], xv, acc[o][r]);
            }
        }
    }
    for (int o = 0; o < nv; o++)
        VOX_UNROLL for (int r = 0; r < R; r++)
            y[(int64_t)r * ldy + o] = chain_end(VOX_BF16, acc[o][r], pair_tail(g + (size_t)(o / 2) * gs, o % 2, n),
                                                (const float *)ROW(x, r, xs) + n16, n - n16);
}

/* One 16-element step of a packed pair (at p) against six input rows (at
 * x[r]): bf16_first8 / bf16_last8 of both rows and the 24 FMAs of
 * pair_range, in inline asm because GCC 12, out of registers with the twelve
 * accumulators, the mask and four weight vectors, kept an accumulator on the
 * stack, which put a store and a load into its chain (kernel_bench --level
 * avx2 --dtype bf16 --rows 6 --threads 1 --shape 512x3072 --packed: half the
 * samples on that FMA).  Here the mask is read from memory and the second
 * halves are loaded again: 15 vector registers.  Rows r and r + 3 at xa and
 * xb plus 0, 1, 2 strides xs (the scale factors of an address). */
VOX_INLINE void pair_step6(const unsigned char *p, const float *xa, const float *xb, size_t xs, __m256 acc[2][6]) {
    __asm__("vmovdqa (%[p]), %%ymm13\n\t"
            "vmovdqa 32(%[p]), %%ymm14\n\t"
            "vpslld $16, %%ymm13, %%ymm13\n\t"
            "vpslld $16, %%ymm14, %%ymm14\n\t"
            "vmovups (%[xa]), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c0]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d0]\n\t"
            "vmovups (%[xa],%[s],1), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c1]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d1]\n\t"
            "vmovups (%[xa],%[s],2), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c2]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d2]\n\t"
            "vmovups (%[xb]), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c3]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d3]\n\t"
            "vmovups (%[xb],%[s],1), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c4]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d4]\n\t"
            "vmovups (%[xb],%[s],2), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c5]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d5]\n\t"
            "vmovdqa (%[p]), %%ymm13\n\t"
            "vmovdqa 32(%[p]), %%ymm14\n\t"
            "vpand %[m], %%ymm13, %%ymm13\n\t"
            "vpand %[m], %%ymm14, %%ymm14\n\t"
            "vmovups 32(%[xa]), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c0]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d0]\n\t"
            "vmovups 32(%[xa],%[s],1), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c1]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d1]\n\t"
            "vmovups 32(%[xa],%[s],2), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c2]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d2]\n\t"
            "vmovups 32(%[xb]), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c3]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d3]\n\t"
            "vmovups 32(%[xb],%[s],1), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c4]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d4]\n\t"
            "vmovups 32(%[xb],%[s],2), %%ymm15\n\t"
            "vfmadd231ps %%ymm15, %%ymm13, %[c5]\n\t"
            "vfmadd231ps %%ymm15, %%ymm14, %[d5]\n\t"
            : [c0] "+x"(acc[0][0]), [c1] "+x"(acc[0][1]), [c2] "+x"(acc[0][2]), [c3] "+x"(acc[0][3]),
              [c4] "+x"(acc[0][4]), [c5] "+x"(acc[0][5]), [d0] "+x"(acc[1][0]), [d1] "+x"(acc[1][1]),
              [d2] "+x"(acc[1][2]), [d3] "+x"(acc[1][3]), [d4] "+x"(acc[1][4]), [d5] "+x"(acc[1][5])
            : [p] "r"(p), [xa] "r"(xa), [xb] "r"(xb), [s] "r"(xs), [m] "m"(*(const __m256i *)bf16_hi_mask)
            : "xmm13", "xmm14", "xmm15", "memory");
}

/* float_range2 on a packed pair: elements [i0, i1) (multiples of 16). */
VOX_INLINE void pair_range(const unsigned char *g, const void *x, size_t xs, const int R, int64_t i0, int64_t i1,
                           size_t pf, __m256 acc[2][6]) {
    for (int64_t i = i0; i < i1; i += 16) {
        const unsigned char *p = g + (size_t)i * 4;
        _mm_prefetch((const char *)p + pf, _MM_HINT_T1);
        if (R == 6) {
            pair_step6(p, (const float *)x + i, (const float *)ROW(x, 3, xs) + i, xs, acc);
            continue;
        }
        const __m256 a0 = bf16_first8(_mm256_load_si256((const __m256i *)p)),
                     b0 = bf16_first8(_mm256_load_si256((const __m256i *)(p + 32)));
        VOX_UNROLL for (int r = 0; r < R; r++) {
            __m256 xv = _mm256_loadu_ps((const float *)ROW(x, r, xs) + i);
            __asm__("" : "+x"(xv)); /* one load for both products */
            acc[0][r] = _mm256_fmadd_ps(a0, xv, acc[0][r]);
            acc[1][r] = _mm256_fmadd_ps(b0, xv, acc[1][r]);
        }
        /* the second halves from a second load of the same bytes (L1): with
         * twelve accumulators no register is left to keep the first */
        const __m256 a1 = bf16_last8(_mm256_load_si256((const __m256i *)p)),
                     b1 = bf16_last8(_mm256_load_si256((const __m256i *)(p + 32)));
        VOX_UNROLL for (int r = 0; r < R; r++) {
            __m256 xv = _mm256_loadu_ps((const float *)ROW(x, r, xs) + i + 8);
            __asm__("" : "+x"(xv));
            acc[0][r] = _mm256_fmadd_ps(a1, xv, acc[0][r]);
            acc[1][r] = _mm256_fmadd_ps(b1, xv, acc[1][r]);
        }
    }
}

/* ---- three or more input rows, plain or packed -------------------------------
 * R <= 6 input rows against the weight rows in pairs, chunks of FCHUNK
 * elements, FOBLK rows at a time (see float_range2).  packed: BF16 pairs
 * (w the first group, ws the group size; a missing second row of the last
 * group is zero and computed, not written), else plain rows of dtype dt,
 * an odd last row through float_range. */
VOX_INLINE void float_rows(const int packed, vox_dtype dt, const void *w, size_t ws, int n_out, const void *x,
                           size_t xs, const int R, int64_t n, float *y, int64_t ldy) {
    const int64_t n16 = n / 16 * 16;
    const size_t es = dt == VOX_F32 ? 4 : 2;
    _Alignas(32) float park[FOBLK][6][8];
    for (int ob = 0; ob < n_out; ob += FOBLK) {
        const int nob = n_out - ob < FOBLK ? n_out - ob : FOBLK, np = packed ? (nob + 1) / 2 * 2 : nob;
        for (int o = 0; o < np; o++)
            VOX_UNROLL for (int r = 0; r < R; r++) _mm256_store_ps(park[o][r], _mm256_setzero_ps());
        for (int64_t k0 = 0; k0 < n16; k0 += FCHUNK) {
            const int64_t k1 = k0 + FCHUNK < n16 ? k0 + FCHUNK : n16;
            int o = 0;
            for (; o + 1 < np; o += 2) { /* pairs of weight rows */
                __m256 acc[2][6];
                VOX_UNROLL for (int q = 0; q < 2; q++) VOX_UNROLL for (int r = 0; r < R; r++)
                    acc[q][r] = _mm256_load_ps(park[o + q][r]);
                if (packed)
                    pair_range(ROW(w, (ob + o) / 2, ws), x, xs, R, k0, k1, FPF_ROWS / 2 * ws, acc);
                else
                    float_range2(dt, ROW(w, ob + o, ws), ROW(w, ob + o + 1, ws), x, xs, R, k0, k1, FPF_ROWS * ws, acc);
                VOX_UNROLL for (int q = 0; q < 2; q++) VOX_UNROLL for (int r = 0; r < R; r++)
                    _mm256_store_ps(park[o + q][r], acc[q][r]);
            }
            for (; o < np; o++) { /* an odd last weight row (plain only) */
                __m256 acc[6];
                VOX_UNROLL for (int r = 0; r < R; r++) acc[r] = _mm256_load_ps(park[o][r]);
                float_range(dt, ROW(w, ob + o, ws), x, xs, R, k0, k1, FPF_ROWS * ws, acc);
                VOX_UNROLL for (int r = 0; r < R; r++) _mm256_store_ps(park[o][r], acc[r]);
            }
        }
        for (int o = 0; o < nob; o++) {
            const void *tail = packed ? pair_tail(ROW(w, (ob + o) / 2, ws), o % 2, n)
                                      : (const char *)ROW(w, ob + o, ws) + (size_t)n16 * es;
            VOX_UNROLL for (int r = 0; r < R; r++)
                y[(int64_t)r * ldy + ob + o] = chain_end(dt, _mm256_load_ps(park[o][r]), tail,
                                                         (const float *)ROW(x, r, xs) + n16, n - n16);
        }
    }
}

/* float_rows over all input rows, six at a time. */
VOX_INLINE void float_rows_all(const int packed, vox_dtype dt, const void *w, size_t ws, int n_out, const void *x,
                               size_t xs, int n_rows, int64_t n, float *y, int64_t ldy) {
    for (int r0 = 0; r0 < n_rows; r0 += 6) {
        const void *xr = ROW(x, r0, xs);
        float *yr = y + (int64_t)r0 * ldy;
        switch (n_rows - r0 < 6 ? n_rows - r0 : 6) {
        case 1: float_rows(packed, dt, w, ws, n_out, xr, xs, 1, n, yr, ldy); break;
        case 2: float_rows(packed, dt, w, ws, n_out, xr, xs, 2, n, yr, ldy); break;
        case 3: float_rows(packed, dt, w, ws, n_out, xr, xs, 3, n, yr, ldy); break;
        case 4: float_rows(packed, dt, w, ws, n_out, xr, xs, 4, n, yr, ldy); break;
        case 5: float_rows(packed, dt, w, ws, n_out, xr, xs, 5, n, yr, ldy); break;
        default: float_rows(packed, dt, w, ws, n_out, xr, xs, 6, n, yr, ldy); break;
        }
    }
}

VOX_INLINE void float_tile(vox_dtype dt, const void *w, size_t ws, int n_out, const void *x, size_t xs,
                           int n_rows, int64_t n, float *y, int64_t ldy) {
    if (n_rows <= 2) float_tile_small(dt, w, ws, n_out, x, xs, n_rows, n, y, ldy);
    else float_rows_all(0, dt, w, ws, n_out, x, xs, n_rows, n, y, ldy);
}

VOX_DEFINE_FLOAT_TILES(float_tile)

static void tile_packed_bf16(const void *w, size_t gs, int n_out, const void *x, size_t xs, int n_rows,
                             int64_t n, float *y, int64_t ldy) {
    if (n_rows > 2) {
        float_rows_all(1, VOX_BF16, w, gs, n_out, x, xs, n_rows, n, y, ldy);
        return;
    }
    for (int o0 = 0; o0 < n_out; o0 += 4) {
        const unsigned char *g = (const unsigned char *)w + (size_t)(o0 / 2) * gs;
        const int nv = n_out - o0 < 4 ? n_out - o0 : 4;
        if (nv > 2 && n_rows == 2) pair_micro(g, gs, 2, x, xs, 2, n, nv, y + o0, ldy);
        else if (nv > 2) pair_micro(g, gs, 2, x, xs, 1, n, nv, y + o0, ldy);
        else if (n_rows == 2) pair_micro(g, gs, 1, x, xs, 2, n, nv, y + o0, ldy);
        else pair_micro(g, gs, 1, x, xs, 1, n, nv, y + o0, ldy);
    }
}

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
        [VOX_BF16] = {.tile = tile_bf16, .pack_rows = 2, .pack_min_rows = 2,
                      .pack_group_bytes = pack_group_bytes_bf16, .pack = pack_bf16_pairs,
                      .tile_packed = tile_packed_bf16},
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
