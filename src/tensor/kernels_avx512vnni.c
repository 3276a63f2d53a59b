/* kernels_avx512vnni.c — AVX-512 VNNI integer kernels for Q8_0 and Q4_K weights
 * (the avx512 level's quantized dtypes on a CPU with avx512_vnni).
 *
 * Compiled for AVX-512 F/BW/VL + VNNI whatever the build flags (a target pragma
 * covers the whole file); kernels.c calls into it only after checking the CPU.
 *
 * The idea: vpdpbusd adds four byte products into each 32-bit lane.  With the
 * natural layout, the 16 lanes of a register would cover two 32-value blocks
 * (8 lanes each), and every block would need its own float conversion and
 * scaling per input row — three float ops per 64 products, which makes the
 * 6-row flow batch compute bound.  Instead the weights of 16 consecutive
 * blocks are *transposed* in registers so that lane L holds block L: register
 * T_j carries bytes 4j..4j+3 of each of the 16 blocks.  Eight vpdpbusd then
 * leave each block's complete 32-product integer sum in its own lane, and one
 * conversion plus one FMA scales all 16 blocks: 11 ops per 512 products per
 * input row.  The transpose (24 shuffles) is paid once per weight row and
 * group, shared by all input rows of the tile.  The activation side is stored
 * pre-transposed by prep (once per call), so it is plain loads.
 *
 * Q8_0 (groups of 16 blocks = 512 values).  vpdpbusd multiplies unsigned by
 * signed bytes: the weights are biased to unsigned (w ^ 0x80 = w + 128) and the
 * bias is removed exactly by starting each lane's integer sum at
 * -128 * (sum of the block's activation quants), precomputed by prep.  Per
 * input row and group: acc += float(sum_i) * (dw * dx) per lane.
 * Prepared activation row, per group (640 bytes): int8 xt[8][64] with
 * xt[j][4L+b] = q(block L)[4j+b]; int32 corr[16] = -128 * sum q(block L);
 * float dx[16].
 *
 * Q4_K (groups of 2 super-blocks = 16 sub-blocks of 32 = 512 values).  The
 * nibbles are unsigned already.  Lane L is sub-block L (super-block L/8,
 * sub-block L%8); per lane the integer sum is scaled by sc*d (weights) * dx
 * (activation), and the mins term m*dmin (weights) * bsum*dx (activation, a
 * float precomputed by prep) is subtracted with one FNMADD.
 * Prepared activation row, per group (640 bytes): int8 xt[8][64] with
 * xt[j][4L+b] = q8(sub-block L)[4j+b]; float dx[16] (the super-block's scale
 * per lane); float bx[16] = (sum of sub-block L's quants) * dx.
 *
 * Per (weight row, input row) pair the float work is one 16-lane accumulator
 * updated once per group in group order and reduced once at the end: the same
 * sequence for any number of rows in the tile.  A last, partial group reads
 * its weight blocks from a zero-padded copy (zero blocks add exactly 0). */
#include <stdint.h>
#include <string.h>

#include "tensor/kernels_impl.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#if defined(__clang__)
#pragma clang attribute push(                                                                       \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#endif

#include <immintrin.h>

#if defined(__clang__)
#define VOX_UNROLL _Pragma("unroll")
#else
#define VOX_UNROLL _Pragma("GCC unroll 8")
#endif


enum { GROUP_BYTES = 640, Q8_GROUP = 16 /* blocks */, Q4_GROUP = 2 /* super-blocks */ };

/* ---- Packed rows -----------------------------------------------------------------
 * Each row is stored once at load time in the form the inner loop wants, so
 * the per-group weight work above (transposes, nibble shuffles, scale
 * unpacking) is not redone for every product (and, in the flow head, every
 * Euler step).  A packed row is the groups' quants, 512 (Q8_0) or 256 (Q4_K)
 * bytes each, so every group starts on a cache line, followed by the groups'
 * scales, the whole row padded to a multiple of 64 bytes (rows stay aligned):
 *  - Q8_0: T_0..T_7 exactly as q8_0_group_weights leaves them (transposed,
 *    biased to unsigned), then per group the 16 raw fp16 block scales (32
 *    bytes): as many bytes as the raw row, plus the padding.
 *  - Q4_K: P_0..P_3 with the values of T_2j in the low and of T_2j+1 in the
 *    high nibbles of P_j, then per group (Q4P_META = 40 bytes) the 16 6-bit
 *    scales (one byte per lane), the 16 mins and the raw fp16 d, dmin of the
 *    two super-blocks: 296 bytes per group where the raw row has 288.
 * A packed row gives the same T and the same scale vectors, computed by the
 * same float operations, as the raw row: products are bit-identical. */
enum { Q8P_QUANTS = 512, Q8P_SCALES = 32, Q4P_QUANTS = 256, Q4P_META = 40 };

/* d and dmin of the group's two super-blocks (raw fp16 words d0|dmin0, d1|dmin1)
 * spread to 8 lanes each, and sc*d, m*dmin per lane. */
VOX_INLINE void q4_k_group_scales(__m512 scf, __m512 mnf, uint32_t h0, uint32_t h1, __m512 *scd, __m512 *md) {
    const __m512 dd = _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)((uint64_t)h1 << 32 | h0))));
    const __m512 d = _mm512_permutexvar_ps(_mm512_set_epi32(2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0), dd);
    const __m512 dmin = _mm512_permutexvar_ps(_mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), dd);
    *scd = _mm512_mul_ps(scf, d);
    *md = _mm512_mul_ps(mnf, dmin);
}

/* Transpose 32-bit elements of two independent 8x8 matrices: the 256-bit
 * halves of v[0..7] are the rows (v[i] = [row i of matrix A | row i of B]);
 * afterwards v[j] = [column j of A | column j of B], i.e. dword lane L of v[j]
 * is element j of row L (rows of B counted 8..15). */
VOX_INLINE void transpose_8x8x2(__m512i v[8]) {
    __m512i t[8], u[8];
    VOX_UNROLL for (int p = 0; p < 4; p++) {
        t[2 * p] = _mm512_unpacklo_epi32(v[2 * p], v[2 * p + 1]);
        t[2 * p + 1] = _mm512_unpackhi_epi32(v[2 * p], v[2 * p + 1]);
    }
    /* per 128-bit lane: u[c] holds column c (lane 0, 2) / c+4 (lane 1, 3) of rows 0..3, u[4+c] of rows 4..7 */
    u[0] = _mm512_unpacklo_epi64(t[0], t[2]);
    u[1] = _mm512_unpackhi_epi64(t[0], t[2]);
    u[2] = _mm512_unpacklo_epi64(t[1], t[3]);
    u[3] = _mm512_unpackhi_epi64(t[1], t[3]);
    u[4] = _mm512_unpacklo_epi64(t[4], t[6]);
    u[5] = _mm512_unpackhi_epi64(t[4], t[6]);
    u[6] = _mm512_unpacklo_epi64(t[5], t[7]);
    u[7] = _mm512_unpackhi_epi64(t[5], t[7]);
    const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    VOX_UNROLL for (int c = 0; c < 4; c++) {
        v[c] = _mm512_permutex2var_epi64(u[c], lo, u[4 + c]);
        v[c + 4] = _mm512_permutex2var_epi64(u[c], hi, u[4 + c]);
    }
}

VOX_INLINE __m512i load2x256(const void *a, const void *b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

/* ---- Q8_0 ------------------------------------------------------------------------- */

static size_t prep_q8_0_bytes(int64_t n) {
    int64_t nb = n / VOX_QK8_0;
    return (size_t)((nb + Q8_GROUP - 1) / Q8_GROUP) * GROUP_BYTES;
}

/* |x| bits with NaN as 0 (see vox_abs_bits), 16 lanes. */
VOX_INLINE __m512i abs_bits16(__m512 v) {
    const __m512i a = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff));
    return _mm512_maskz_mov_epi32(_mm512_cmple_epu32_mask(a, _mm512_set1_epi32(0x7f800000)), a);
}

/* NaN -> 0, then clamp to [-127, 127] (vox_clamp_q). */
VOX_INLINE __m512 clamp_q16(__m512 v) {
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
    return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
}

/* vox_quant_q8_0_block_inline, 16 lanes at a time: q as int32 lanes. */
VOX_INLINE void quant_q8_0_block(const float *x, __m512i q[2], float *d_out) {
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const uint32_t mb = _mm512_reduce_max_epu32(_mm512_max_epu32(abs_bits16(x0), abs_bits16(x1)));
    const float d = vox_q8_0_step(mb);
    const __m512 id = _mm512_set1_ps(vox_inverse_step(d));
    const __m512 xs[2] = {x0, x1};
    VOX_UNROLL for (int h = 0; h < 2; h++) {
        const __m512 v = clamp_q16(_mm512_mul_ps(xs[h], id));
        q[h] = _mm512_cvtps_epi32(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    *d_out = d;
}

/* 16 blocks of 32 int8 (block-major, 512 bytes) into the transposed layout. */
VOX_INLINE void store_transposed(const int8_t *blocks, unsigned char *xt) {
    __m512i v[8];
    VOX_UNROLL for (int i = 0; i < 8; i++) v[i] = load2x256(blocks + 32 * i, blocks + 32 * (8 + i));
    transpose_8x8x2(v);
    VOX_UNROLL for (int j = 0; j < 8; j++) _mm512_storeu_si512(xt + 64 * j, v[j]);
}

static void prep_q8_0(const float *x, int64_t n, void *out) {
    const int64_t nb = n / VOX_QK8_0;
    unsigned char *g = out;
    for (int64_t b0 = 0; b0 < nb; b0 += Q8_GROUP, g += GROUP_BYTES) {
        _Alignas(64) int8_t q[Q8_GROUP * VOX_QK8_0];
        _Alignas(64) int32_t corr[16];
        _Alignas(64) float dx[16];
        for (int L = 0; L < Q8_GROUP; L++) {
            __m512i qi[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
            float d = 0.0f;
            if (b0 + L < nb) quant_q8_0_block(x + (b0 + L) * VOX_QK8_0, qi, &d);
            _mm_storeu_si128((__m128i *)(q + 32 * L), _mm512_cvtepi32_epi8(qi[0]));
            _mm_storeu_si128((__m128i *)(q + 32 * L + 16), _mm512_cvtepi32_epi8(qi[1]));
            corr[L] = -128 * _mm512_reduce_add_epi32(_mm512_add_epi32(qi[0], qi[1]));
            dx[L] = d;
        }
        store_transposed(q, g);
        memcpy(g + 512, corr, sizeof corr);
        memcpy(g + 576, dx, sizeof dx);
    }
}

/* Blocks of one group: the 8 transposed, unsigned-biased quant registers and the 16 scales. */
VOX_INLINE void q8_0_group_weights(const unsigned char *blk, __m512i T[8], __m512 *dw) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    VOX_UNROLL for (int i = 0; i < 8; i++) {
        T[i] = _mm512_xor_si512(load2x256(blk + VOX_Q8_0_BYTES * i + 2, blk + VOX_Q8_0_BYTES * (8 + i) + 2),
                                bias);
    }
    transpose_8x8x2(T);
    /* the fp16 scale of block L is the low half of the dword at L*34 */
    /* the 16 fp16 scales, 34 bytes apart: scalar loads into a small array
     * measured clearly faster than vpgatherdd on Zen 4 */
    _Alignas(32) uint16_t h[16];
    VOX_UNROLL for (int L = 0; L < 16; L++) memcpy(&h[L], blk + VOX_Q8_0_BYTES * L, 2);
    *dw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)h));
}

/* The raw blocks of group g of a Q8_0 row of nb blocks, a zero-padded copy in
 * pad for a partial last group. */
VOX_INLINE const unsigned char *q8_0_group_blocks(const unsigned char *w, int64_t nb, int64_t g,
                                                  unsigned char *pad) {
    const int64_t b0 = g * Q8_GROUP;
    const unsigned char *blk = w + (size_t)b0 * VOX_Q8_0_BYTES;
    if (nb - b0 < Q8_GROUP) {
        memset(pad, 0, Q8_GROUP * VOX_Q8_0_BYTES + 4);
        memcpy(pad, blk, (size_t)(nb - b0) * VOX_Q8_0_BYTES);
        blk = pad;
    }
    return blk;
}

/* Groups [g0, g1) of one weight row against R activation rows: acc[r] +=
 * per-lane block products.  nb: blocks in the row.  packed: w is the row in
 * the packed layout ("Packed rows" above).  Prefetch into L2: pf bytes ahead
 * along the row; for a packed row with pfm != 0 instead the same group pfm
 * bytes on (rows ahead), its quants and its scales. */
VOX_INLINE void q8_0_groups(const unsigned char *w, const unsigned char *x, size_t xs, const int R,
                            int64_t nb, int64_t g0, int64_t g1, size_t pf, size_t pfm, const int packed,
                            __m512 *acc) {
    const int64_t ng = (nb + Q8_GROUP - 1) / Q8_GROUP;
    for (int64_t g = g0; g < g1; g++) {
        __m512i T[8];
        __m512 dw;
        if (packed) {
            const unsigned char *p = w + (size_t)g * Q8P_QUANTS;
            const unsigned char *sp = w + (size_t)ng * Q8P_QUANTS + (size_t)g * Q8P_SCALES;
            if (pfm) { /* rows ahead: this group's quants and scales pfm bytes on */
                for (int l = 0; l < Q8P_QUANTS; l += 64) _mm_prefetch((const char *)p + pfm + l, _MM_HINT_T1);
                _mm_prefetch((const char *)sp + pfm, _MM_HINT_T1);
            } else { /* along the row, which reads as one stream of 544 bytes per group */
                const char *u = (const char *)w + (size_t)g * (Q8P_QUANTS + Q8P_SCALES) + pf;
                for (int l = 0; l < Q8P_QUANTS + Q8P_SCALES; l += 64) _mm_prefetch(u + l, _MM_HINT_T1);
            }
            VOX_UNROLL for (int j = 0; j < 8; j++) T[j] = _mm512_load_si512(p + 64 * j);
            dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)sp));
        } else {
            unsigned char pad[Q8_GROUP * VOX_Q8_0_BYTES + 4];
            const unsigned char *blk = q8_0_group_blocks(w, nb, g, pad);
            for (int l = 0; l < Q8_GROUP * VOX_Q8_0_BYTES; l += 64)
                _mm_prefetch((const char *)w + (size_t)g * Q8_GROUP * VOX_Q8_0_BYTES + pf + l, _MM_HINT_T1);
            q8_0_group_weights(blk, T, &dw);
        }
        VOX_UNROLL for (int r = 0; r < R; r++) {
            const unsigned char *xg = x + (size_t)r * xs + (size_t)g * GROUP_BYTES;
            /* two dependency chains of four (integer: the order does not matter) */
            __m512i s = _mm512_loadu_si512(xg + 512), s1 = _mm512_setzero_si512();
            VOX_UNROLL for (int j = 0; j < 8; j += 2) {
                s = _mm512_dpbusd_epi32(s, T[j], _mm512_loadu_si512(xg + 64 * j));
                s1 = _mm512_dpbusd_epi32(s1, T[j + 1], _mm512_loadu_si512(xg + 64 * j + 64));
            }
            s = _mm512_add_epi32(s, s1);
            const __m512 scale = _mm512_mul_ps(dw, _mm512_loadu_ps((const float *)(xg + 576)));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc[r]);
        }
    }
}

/* ---- Q4_K ------------------------------------------------------------------------- */

static size_t prep_q8_k_bytes(int64_t n) {
    int64_t nsb = n / VOX_QK_K;
    return (size_t)((nsb + Q4_GROUP - 1) / Q4_GROUP) * GROUP_BYTES;
}

/* vox_quant_q8_k_block_inline with 16-lane vectors, into q[256] and the sums
 * of the eight 32-value sub-blocks. */
VOX_INLINE void quant_q8_k_block(const float *x, int8_t *q, float *d_out, int32_t bsum[8]) {
    __m512i mbv = _mm512_setzero_si512();
    for (int k = 0; k < 16; k++) mbv = _mm512_max_epu32(mbv, abs_bits16(_mm512_loadu_ps(x + 16 * k)));
    const uint32_t mb = _mm512_reduce_max_epu32(mbv);
    if (mb == 0) {
        memset(q, 0, VOX_QK_K);
        memset(bsum, 0, 8 * sizeof *bsum);
        *d_out = 0.0f;
        return;
    }
    const float amax = vox_bits_f32(mb);
    const float iscale = amax <= 3.40282347e38f ? 127.0f / amax : 0.0f;
    const __m512 is = _mm512_set1_ps(iscale);
    for (int s = 0; s < 8; s++) {
        __m512i acc = _mm512_setzero_si512();
        VOX_UNROLL for (int h = 0; h < 2; h++) {
            const __m512 v = clamp_q16(_mm512_mul_ps(is, _mm512_loadu_ps(x + 32 * s + 16 * h)));
            const __m512i qi = _mm512_cvtps_epi32(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            _mm_storeu_si128((__m128i *)(q + 32 * s + 16 * h), _mm512_cvtepi32_epi8(qi));
            acc = _mm512_add_epi32(acc, qi);
        }
        bsum[s] = _mm512_reduce_add_epi32(acc);
    }
    *d_out = amax / 127.0f;
}

static void prep_q8_k(const float *x, int64_t n, void *out) {
    const int64_t nsb = n / VOX_QK_K;
    unsigned char *g = out;
    for (int64_t s0 = 0; s0 < nsb; s0 += Q4_GROUP, g += GROUP_BYTES) {
        _Alignas(64) int8_t q[Q4_GROUP * VOX_QK_K];
        _Alignas(64) float dx[16], bx[16];
        for (int h = 0; h < Q4_GROUP; h++) {
            float d = 0.0f;
            int32_t bs[8] = {0};
            if (s0 + h < nsb)
                quant_q8_k_block(x + (s0 + h) * VOX_QK_K, q + VOX_QK_K * h, &d, bs);
            else
                memset(q + VOX_QK_K * h, 0, VOX_QK_K);
            for (int s = 0; s < 8; s++) {
                dx[8 * h + s] = d;
                bx[8 * h + s] = (float)bs[s] * d;
            }
        }
        store_transposed(q, g);
        memcpy(g + 512, dx, sizeof dx);
        memcpy(g + 576, bx, sizeof bx);
    }
}

/* The second super-block of group g (its first at b0) of a row of nsb: the
 * next one, or with an odd count for the last group a zeroed copy in zero. */
VOX_INLINE const unsigned char *q4_k_group_second(const unsigned char *b0, int64_t nsb, int64_t g,
                                                  unsigned char zero[VOX_Q4_K_BYTES]) {
    if (g * Q4_GROUP + 1 < nsb) return b0 + VOX_Q4_K_BYTES;
    memset(zero, 0, VOX_Q4_K_BYTES);
    return zero;
}

/* Two super-blocks: the 8 transposed nibble registers, sc*d and m*dmin per lane.
 *
 * The register layout is the one described at the top (T_m lane L = values
 * 4m..4m+3 of sub-block L), reached more cheaply than by splitting nibbles and
 * transposing 8 registers of dwords: each packed byte already carries one
 * value of two sub-blocks (chunk k of 32 bytes: low nibbles = sub-block 2k,
 * high = 2k+1), so a lane *pair* can serve a chunk.  First the 4 raw registers
 * (chunk k of both super-blocks) are transposed as 4x4 qwords per 256-bit half:
 * U_j qword 4h+k = bytes 8j..8j+7 of chunk k of super-block h.  Then in each
 * lane pair (2p, 2p+1) the even lane keeps the low nibbles (sub-block 2k) and
 * the odd lane takes the high nibbles (sub-block 2k+1) of the same 4 bytes:
 * T_2j from the pair's first dword (values 8j..8j+3), T_2j+1 from its second
 * (values 8j+4..8j+7).  So lane 8h+2k+t holds sub-block 2k+t of super-block h,
 * values 4m..4m+3 in T_m: the same layout, with 8 cross-lane permutes and 8
 * in-lane shuffles instead of 24 shuffles. */
VOX_INLINE void q4_k_group_weights(const unsigned char *b0, const unsigned char *b1, __m512i T[8],
                                   __m512 *scd, __m512 *md) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    __m512i R[4], U[4];
    VOX_UNROLL for (int k = 0; k < 4; k++) R[k] = load2x256(b0 + 16 + 32 * k, b1 + 16 + 32 * k);
    /* 128-bit lane c of l01 = [R0 qword 2c, R1 qword 2c], of h01 the odd qwords; then
     * U_j takes qword j of each 256-bit half's four chunks: U_j = [R0..R3 q_j | R0..R3 q_(4+j)] */
    const __m512i l01 = _mm512_unpacklo_epi64(R[0], R[1]), h01 = _mm512_unpackhi_epi64(R[0], R[1]);
    const __m512i l23 = _mm512_unpacklo_epi64(R[2], R[3]), h23 = _mm512_unpackhi_epi64(R[2], R[3]);
    const __m512i i0 = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i i1 = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    U[0] = _mm512_permutex2var_epi64(l01, i0, l23);
    U[1] = _mm512_permutex2var_epi64(h01, i0, h23);
    U[2] = _mm512_permutex2var_epi64(l01, i1, l23);
    U[3] = _mm512_permutex2var_epi64(h01, i1, h23);
    VOX_UNROLL for (int j = 0; j < 4; j++) {
        const __m512i hi = _mm512_srli_epi32(U[j], 4);
        /* even lanes: low nibbles of the pair's dword 0 / 1; odd: its high nibbles */
        T[2 * j] = _mm512_and_si512(_mm512_mask_shuffle_epi32(U[j], 0xAAAA, hi, _MM_PERM_CCAA), low4);
        T[2 * j + 1] = _mm512_and_si512(_mm512_mask_shuffle_epi32(hi, 0x5555, U[j], _MM_PERM_DDBB), low4);
    }
    uint64_t sc0, mn0, sc1, mn1;
    vox_q4_k_scales(b0 + 4, &sc0, &mn0);
    vox_q4_k_scales(b1 + 4, &sc1, &mn1);
    const __m512 scf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_set_epi64x((long long)sc1, (long long)sc0)));
    const __m512 mnf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_set_epi64x((long long)mn1, (long long)mn0)));
    uint32_t h0, h1;
    memcpy(&h0, b0, 4);
    memcpy(&h1, b1, 4);
    q4_k_group_scales(scf, mnf, h0, h1, scd, md);
}

/* Group g's quants at q, its scales at m (the row's meta part + g * Q4P_META). */
VOX_INLINE void q4_k_group_weights_packed(const unsigned char *q, const unsigned char *m, __m512i T[8],
                                          __m512 *scd, __m512 *md) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    VOX_UNROLL for (int j = 0; j < 4; j++) {
        const __m512i v = _mm512_load_si512(q + 64 * j);
        T[2 * j] = _mm512_and_si512(v, low4);
        T[2 * j + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    }
    const __m512 scf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)m)));
    const __m512 mnf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(m + 16))));
    uint32_t h0, h1;
    memcpy(&h0, m + 32, 4);
    memcpy(&h1, m + 36, 4);
    q4_k_group_scales(scf, mnf, h0, h1, scd, md);
}

static size_t pack_bytes_q8_0(int64_t n) {
    const int64_t ng = (n / VOX_QK8_0 + Q8_GROUP - 1) / Q8_GROUP;
    return vox_round64((size_t)ng * (Q8P_QUANTS + Q8P_SCALES));
}

static void pack_q8_0(const void *w, size_t ws, int n_out, int64_t n, void *out) {
    const int64_t nb = n / VOX_QK8_0, ng = (nb + Q8_GROUP - 1) / Q8_GROUP;
    const size_t rb = pack_bytes_q8_0(n);
    for (int o = 0; o < n_out; o++) {
        unsigned char *row = (unsigned char *)out + (size_t)o * rb;
        memset(row, 0, rb);
        for (int64_t g = 0; g < ng; g++) {
            unsigned char pad[Q8_GROUP * VOX_Q8_0_BYTES + 4];
            const unsigned char *blk = q8_0_group_blocks((const unsigned char *)w + (size_t)o * ws, nb, g, pad);
            __m512i T[8];
            __m512 dw;
            q8_0_group_weights(blk, T, &dw);
            VOX_UNROLL for (int j = 0; j < 8; j++) _mm512_store_si512(row + (size_t)g * Q8P_QUANTS + 64 * j, T[j]);
            unsigned char *sp = row + (size_t)ng * Q8P_QUANTS + (size_t)g * Q8P_SCALES;
            for (int L = 0; L < Q8_GROUP; L++) memcpy(sp + 2 * L, blk + VOX_Q8_0_BYTES * L, 2);
        }
    }
}

static size_t pack_bytes_q4_k(int64_t n) {
    const int64_t ng = (n / VOX_QK_K + Q4_GROUP - 1) / Q4_GROUP;
    return vox_round64((size_t)ng * (Q4P_QUANTS + Q4P_META));
}

static void pack_q4_k(const void *w, size_t ws, int n_out, int64_t n, void *out) {
    const int64_t nsb = n / VOX_QK_K, ng = (nsb + Q4_GROUP - 1) / Q4_GROUP;
    const size_t rb = pack_bytes_q4_k(n);
    for (int o = 0; o < n_out; o++) {
        unsigned char *row = (unsigned char *)out + (size_t)o * rb;
        memset(row, 0, rb);
        for (int64_t g = 0; g < ng; g++) {
            const unsigned char *b0 = (const unsigned char *)w + (size_t)o * ws + (size_t)g * Q4_GROUP * VOX_Q4_K_BYTES;
            unsigned char zero[VOX_Q4_K_BYTES];
            const unsigned char *b1 = q4_k_group_second(b0, nsb, g, zero);
            unsigned char *dst = row + (size_t)g * Q4P_QUANTS;
            unsigned char *meta = row + (size_t)ng * Q4P_QUANTS + (size_t)g * Q4P_META;
            __m512i T[8];
            __m512 scd, md;
            q4_k_group_weights(b0, b1, T, &scd, &md);
            const __m512i low4 = _mm512_set1_epi8(0x0f);
            VOX_UNROLL for (int j = 0; j < 4; j++)
                _mm512_store_si512(dst + 64 * j, _mm512_or_si512(_mm512_and_si512(T[2 * j], low4),
                                                                 _mm512_slli_epi16(_mm512_and_si512(T[2 * j + 1], low4), 4)));
            uint64_t sc0, mn0, sc1, mn1;
            vox_q4_k_scales(b0 + 4, &sc0, &mn0);
            vox_q4_k_scales(b1 + 4, &sc1, &mn1);
            memcpy(meta, &sc0, 8);
            memcpy(meta + 8, &sc1, 8);
            memcpy(meta + 16, &mn0, 8);
            memcpy(meta + 24, &mn1, 8);
            memcpy(meta + 32, b0, 4);
            memcpy(meta + 36, b1, 4);
        }
    }
}

/* Groups [g0, g1) of one weight row against R activation rows (nsb: super-blocks in the row).
 * Prefetch: into L2 pf bytes ahead and, when pf0 is not 0, into L1 pf0 bytes ahead, the
 * group's bytes (rows ahead: a packed row's quants and scales), except for a packed row
 * with pfm 0: pf bytes ahead along the row, read as one stream. */
VOX_INLINE void q4_k_groups(const unsigned char *w, const unsigned char *x, size_t xs, const int R,
                            int64_t nsb, int64_t g0, int64_t g1, size_t pf, size_t pf0, size_t pfm,
                            const int packed, __m512 *acc) {
    const size_t gbytes = packed ? Q4P_QUANTS : Q4_GROUP * VOX_Q4_K_BYTES;
    const unsigned char *meta = w + (size_t)((nsb + Q4_GROUP - 1) / Q4_GROUP) * Q4P_QUANTS; /* packed */
    for (int64_t g = g0; g < g1; g++) {
        const unsigned char *gp = w + (size_t)g * gbytes;
        const unsigned char *mg = meta + (size_t)g * Q4P_META;
        if (packed && !pfm) { /* along the row, which reads as one stream of 296 bytes per group */
            const char *u = (const char *)w + (size_t)g * (Q4P_QUANTS + Q4P_META) + pf;
            for (int l = 0; l < Q4P_QUANTS + Q4P_META; l += 64) _mm_prefetch(u + l, _MM_HINT_T1);
        } else { /* the group's bytes (a packed row's quants and scales) pf, pf0 bytes on */
            for (size_t l = 0; l < gbytes; l += 64) _mm_prefetch((const char *)gp + pf + l, _MM_HINT_T1);
            if (pf0)
                for (size_t l = 0; l < gbytes; l += 64) _mm_prefetch((const char *)gp + pf0 + l, _MM_HINT_T0);
            if (packed) {
                _mm_prefetch((const char *)mg + pf, _MM_HINT_T1);
                if (pf0) _mm_prefetch((const char *)mg + pf0, _MM_HINT_T0);
            }
        }
        __m512i T[8];
        __m512 scd, md;
        if (packed) {
            q4_k_group_weights_packed(gp, mg, T, &scd, &md);
        } else {
            unsigned char zero[VOX_Q4_K_BYTES];
            q4_k_group_weights(gp, q4_k_group_second(gp, nsb, g, zero), T, &scd, &md);
        }
        VOX_UNROLL for (int r = 0; r < R; r++) {
            const unsigned char *xg = x + (size_t)r * xs + (size_t)g * GROUP_BYTES;
            __m512i s = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
            VOX_UNROLL for (int j = 0; j < 8; j += 2) { /* two dependency chains */
                s = _mm512_dpbusd_epi32(s, T[j], _mm512_loadu_si512(xg + 64 * j));
                s1 = _mm512_dpbusd_epi32(s1, T[j + 1], _mm512_loadu_si512(xg + 64 * j + 64));
            }
            s = _mm512_add_epi32(s, s1);
            const __m512 scale = _mm512_mul_ps(scd, _mm512_loadu_ps((const float *)(xg + 512)));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc[r]);
            acc[r] = _mm512_fnmadd_ps(md, _mm512_loadu_ps((const float *)(xg + 576)), acc[r]);
        }
    }
}

/* ---- tiles -------------------------------------------------------------------------
 * One weight row at a time against all R rows of the tile: the transposed
 * weights of a group stay in registers while every activation row uses them,
 * and the weights stream as one sequential run.  Two measured refinements
 * (2-core Zen 4, weights from memory, 6 rows):
 *  - a software prefetch into L2 of the weights PF_BYTES ahead: about 1.5x;
 *  - with several rows and a long row (in = 9216: 6 prepared rows are 69 KB)
 *    the activations would come from L2 for every weight row; so the row is
 *    cut into chunks of kchunk(R) groups (<= 24 KB of activations, resident
 *    in L1), OBLK weight rows walk each chunk in turn with their accumulators
 *    parked in a small buffer, and the prefetch fetches the same piece of the
 *    row two ahead (Q8_0), or for Q4_K four rows ahead into L2 and the next
 *    row's piece into L1: the hardware prefetchers do not follow these short
 *    strided pieces, and the L1 prefetch alone took 3072x9216 with 6 rows on
 *    2 threads from 1.10 to 0.89 ms (AVX-512 VNNI EPYC, best of runs).
 *    Each accumulator sees the same groups in the same order
 *    either way, so the result is bit-identical. */

#define OBLK 16
#define PF_BYTES 8192
/* groups per chunk: R rows x chunk x 640 B of activations within 24 KB */
static int64_t kchunk(int R) { return 24576 / (R * GROUP_BYTES) < 2 ? 2 : 24576 / (R * GROUP_BYTES); }

VOX_INLINE void quant_tile(const int q4k, const int packed, const unsigned char *w, size_t ws, int n_out,
                           const unsigned char *x, size_t xs, const int R, int64_t n, float *y,
                           int64_t ldy) {
    const int64_t nblk = q4k ? n / VOX_QK_K : n / VOX_QK8_0;
    const int64_t ng = q4k ? (nblk + Q4_GROUP - 1) / Q4_GROUP : (nblk + Q8_GROUP - 1) / Q8_GROUP;
    const int64_t kc = kchunk(R);
    if (R <= 2 || ng <= kc) {
        for (int o = 0; o < n_out; o++) {
            __m512 acc[VOX_TILE_ROWS];
            VOX_UNROLL for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
            if (q4k)
                q4_k_groups(w + (size_t)o * ws, x, xs, R, nblk, 0, ng, PF_BYTES, 0, 0, packed, acc);
            else
                q8_0_groups(w + (size_t)o * ws, x, xs, R, nblk, 0, ng, PF_BYTES, 0, packed, acc);
            VOX_UNROLL for (int r = 0; r < R; r++) y[(int64_t)r * ldy + o] = _mm512_reduce_add_ps(acc[r]);
        }
        return;
    }
    _Alignas(64) float park[OBLK][VOX_TILE_ROWS][16];
    for (int ob = 0; ob < n_out; ob += OBLK) {
        const int nob = n_out - ob < OBLK ? n_out - ob : OBLK;
        for (int64_t g0 = 0; g0 < ng; g0 += kc) {
            const int64_t g1 = g0 + kc < ng ? g0 + kc : ng;
            for (int o = 0; o < nob; o++) {
                __m512 acc[VOX_TILE_ROWS];
                VOX_UNROLL for (int r = 0; r < R; r++)
                    acc[r] = g0 == 0 ? _mm512_setzero_ps() : _mm512_load_ps(park[o][r]);
                if (q4k)
                    q4_k_groups(w + (size_t)(ob + o) * ws, x, xs, R, nblk, g0, g1, 4 * ws, ws, 4 * ws,
                                packed, acc);
                else
                    q8_0_groups(w + (size_t)(ob + o) * ws, x, xs, R, nblk, g0, g1, 2 * ws, 2 * ws, packed,
                                acc);
                VOX_UNROLL for (int r = 0; r < R; r++) _mm512_store_ps(park[o][r], acc[r]);
            }
        }
        for (int o = 0; o < nob; o++)
            VOX_UNROLL for (int r = 0; r < R; r++)
                y[(int64_t)r * ldy + ob + o] = _mm512_reduce_add_ps(_mm512_load_ps(park[o][r]));
    }
}

#define TILE(name, q4k, pk)                                                                     \
    static void name(const void *w, size_t ws, int n_out, const void *x, size_t xs, int n_rows, \
                     int64_t n, float *y, int64_t ldy) {                                        \
        switch (n_rows) {                                                                       \
        case 1: quant_tile(q4k, pk, w, ws, n_out, x, xs, 1, n, y, ldy); break;                  \
        case 2: quant_tile(q4k, pk, w, ws, n_out, x, xs, 2, n, y, ldy); break;                  \
        case 3: quant_tile(q4k, pk, w, ws, n_out, x, xs, 3, n, y, ldy); break;                  \
        case 4: quant_tile(q4k, pk, w, ws, n_out, x, xs, 4, n, y, ldy); break;                  \
        case 5: quant_tile(q4k, pk, w, ws, n_out, x, xs, 5, n, y, ldy); break;                  \
        case 6: quant_tile(q4k, pk, w, ws, n_out, x, xs, 6, n, y, ldy); break;                  \
        case 7: quant_tile(q4k, pk, w, ws, n_out, x, xs, 7, n, y, ldy); break;                  \
        default: quant_tile(q4k, pk, w, ws, n_out, x, xs, 8, n, y, ldy); break;                 \
        }                                                                                       \
    }
TILE(tile_q8_0, 0, 0)
TILE(tile_q4_k, 1, 0)
TILE(tile_packed_q8_0, 0, 1)
TILE(tile_packed_q4_k, 1, 1)

static const vox_kernel_set avx512vnni_set = {
    "avx512vnni",
    {
        /* packed: kernel_bench, 9216x3072, 2 threads, weights from memory,
         * median of 5 runs alternating plain and packed: 6 rows Q8_0 1.23 ->
         * 1.19 ms, Q4_K 0.95 -> 0.85 ms.  Single rows, best of 3 alternating
         * runs each on a busy machine: Q8_0 0.63 -> 0.70-0.73 ms (slower, so
         * Q8_0 is packed for several rows only), Q4_K 0.37-0.43 -> 0.36-0.37
         * ms (CPU time 1.10-1.28 -> 0.91-1.04 ms), so Q4_K weights are packed
         * for single rows too: the backbone then reads the packed layout in
         * decoding, batched decoding (4 rows, 3072x9216: 0.72-0.75 -> 0.60-0.65
         * ms) and prefill. */
        [VOX_Q8_0] = {.tile = tile_q8_0, .prep = prep_q8_0, .prep_bytes = prep_q8_0_bytes,
                      .pack_rows = 1, .pack_min_rows = 2, .pack_group_bytes = pack_bytes_q8_0,
                      .pack = pack_q8_0, .tile_packed = tile_packed_q8_0},
        [VOX_Q4_K] = {.tile = tile_q4_k, .prep = prep_q8_k, .prep_bytes = prep_q8_k_bytes,
                      .pack_rows = 1, .pack_min_rows = 1, .pack_group_bytes = pack_bytes_q4_k,
                      .pack = pack_q4_k, .tile_packed = tile_packed_q4_k},
    },
};

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

const vox_kernel_set *vox_kernels_avx512vnni(void) { return &avx512vnni_set; }

#else

const vox_kernel_set *vox_kernels_avx512vnni(void) { return NULL; }

#endif
