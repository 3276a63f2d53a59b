/* kernels_x86q.h — the Q8_0 and Q4_K integer kernels of the 256-bit x86 sets:
 * the AVX2 set (kernels_avx2.c, vpmaddubsw + vpmaddwd) and the AVX-VNNI set
 * (kernels_avxvnni.c, vpdpbusd on ymm).  Not a header of declarations: a piece
 * of code that each of those files includes once, inside its own target
 * pragma, after defining X86Q_VNNI (0 or 1) and, with 1, X86Q_DPBUSD(acc, u8,
 * s8) (the VEX or, for the test build on AVX-512 CPUs, the EVEX intrinsic).
 * All functions are static: every including file gets its own copy.
 *
 * The arithmetic.  A *group* is 8 blocks of 32 values: 8 Q8_0 blocks, or the
 * 8 sub-blocks of one Q4_K super-block (256 values either way).  For each
 * (weight row, input row) pair and group, the kernels first form the exact
 * integer dot product of every block, isum[L] for block L in lane L of one
 * ymm, and then do a fixed float sequence per group:
 *   Q8_0: acc = fma(float(isum), dw * dx, acc)        (dw, dx: 8 block scales)
 *   Q4_K: acc = fma(float(sc*isum), d * dx, acc);  acc = fnmadd(m*dmin, bx, acc)
 * (sc, m: the sub-blocks' 6-bit scale and min, d, dmin the super-block's, dx
 * the activation super-block's scale, bx[L] = bsum[L] * dx; sc*isum is below
 * 2^22, exact as an int32 and as a float product), then y = hsum8(acc).
 * Integer sums are exact in any order, so however isum is computed, every
 * path below gives the same bits: the packed and plain weight layouts, 1 or 8
 * rows, C or the hand-scheduled 6-row step, maddubs or vpdpbusd (the AVX2 and
 * AVX-VNNI sets therefore agree bit for bit, which test_kernels.c does not
 * rely on).
 *
 * Three float operations per 256 products and row (Q4_K on AVX2 with three or
 * more rows too: the scale rides on the widening vpmaddwd and d*dx is one
 * multiply for all rows; otherwise four), where the
 * block-at-a-time loop needs three per 32; the integer work per 32 products
 * and row is maddubs + add (Q4_K: its nibble products, at most 2*15*127 per
 * int16 lane, are summed in int16 over the 8 registers of a group, then one
 * vpmaddwd per group widens them) or, for Q8_0, sign + maddubs + madd + add
 * (the weight's sign moved onto the activation, |w| * sign(x, w): at most
 * 2*128*127 per lane, no saturation); with VNNI one vpdpbusd (+ the sign for
 * Q8_0).
 *
 * Transposed registers.  isum lands in lane L when register T_j holds bytes
 * 4j..4j+3 of block L in its dword lane L (j = 0..7) and the activation's X_j
 * the same bytes of the activation's block L: eight maddubs/dpbusd steps then
 * leave each block's sum in its own lane.  The activation side is stored
 * transposed by prep (once per call); the weight side is transposed once at
 * load by pack (the packed layout), or, for plain weights, not at all: the
 * blocks are multiplied as they lie and their 8-lane partial sums folded into
 * isum with a tree of horizontal adds (same integers).
 *
 * Prepared activation rows (all parts 64-byte aligned):
 *   Q8_0: int8 q[n] natural | int8 qt[ng*256] transposed | float d[ng*8]
 *         (ng = ceil(n/256); a last partial group is padded with zero blocks
 *         of scale 0);
 *   Q8_K: int8 q[n] natural | int8 qt[n] transposed | float d[n/256] |
 *         float bx[n/32].
 * Packed weight rows (pack_rows 1; each row padded to a multiple of 64 bytes):
 *   Q8_0: per group the 8 registers T_0..T_7 (256 bytes, raw signed quants),
 *         then per group the 8 fp16 block scales (16 bytes), zero-padded;
 *   Q4_K: per super-block 4 registers P_j (128 bytes) with T_2j in the low and
 *         T_2j+1 in the high nibbles, then per super-block 20 bytes: the 8
 *         scales, the 8 mins (bytes), d and dmin (raw fp16). */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { X86Q_G = 8, X86Q_GROUP_VALUES = 256, Q8P_SCALES8 = 16, Q4P_QUANTS8 = 128, Q4P_META8 = 20 };

#define X86Q_PF 8192 /* prefetch distance along a weight row, bytes */
#define X86Q_DXT 32 /* super-blocks per piece of a row with three or more rows (x86q_group_tile) */

static inline float x86q_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* Transpose 8x8 dwords: afterwards dword L of v[j] is dword j of the old v[L]. */
VOX_INLINE void x86q_transpose8(__m256i v[8]) {
    __m256i t[8], u[8];
    VOX_UNROLL for (int p = 0; p < 4; p++) {
        t[2 * p] = _mm256_unpacklo_epi32(v[2 * p], v[2 * p + 1]);
        t[2 * p + 1] = _mm256_unpackhi_epi32(v[2 * p], v[2 * p + 1]);
    }
    VOX_UNROLL for (int p = 0; p < 2; p++) {
        u[4 * p + 0] = _mm256_unpacklo_epi64(t[4 * p + 0], t[4 * p + 2]);
        u[4 * p + 1] = _mm256_unpackhi_epi64(t[4 * p + 0], t[4 * p + 2]);
        u[4 * p + 2] = _mm256_unpacklo_epi64(t[4 * p + 1], t[4 * p + 3]);
        u[4 * p + 3] = _mm256_unpackhi_epi64(t[4 * p + 1], t[4 * p + 3]);
    }
    /* u[c] (rows 0..3) and u[4+c] (rows 4..7): columns c (low half) and c+4 (high half) */
    VOX_UNROLL for (int c = 0; c < 4; c++) {
        v[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
        v[c + 4] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
    }
}

/* Eight vectors of 8 int32 partial sums (p[L]: block L) to one: lane L = the sum of p[L]. */
VOX_INLINE __m256i x86q_fold8(const __m256i p[8]) {
    const __m256i h01 = _mm256_hadd_epi32(p[0], p[1]), h23 = _mm256_hadd_epi32(p[2], p[3]);
    const __m256i h45 = _mm256_hadd_epi32(p[4], p[5]), h67 = _mm256_hadd_epi32(p[6], p[7]);
    const __m256i a = _mm256_hadd_epi32(h01, h23), b = _mm256_hadd_epi32(h45, h67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/* ---- integer dot products of one group ------------------------------------------- */

/* Q8_0, transposed: A_j = |T_j|, T_j the raw signed weights, X_j the activation. */
VOX_INLINE __m256i x86q_q8_isum_t(const __m256i A[8], const __m256i T[8], const unsigned char *xt) {
#if X86Q_VNNI
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    VOX_UNROLL for (int j = 0; j < 8; j += 2) {
        s0 = X86Q_DPBUSD(s0, A[j], _mm256_sign_epi8(_mm256_load_si256((const __m256i *)(xt + 32 * j)), T[j]));
        s1 = X86Q_DPBUSD(s1, A[j + 1],
                         _mm256_sign_epi8(_mm256_load_si256((const __m256i *)(xt + 32 * j + 32)), T[j + 1]));
    }
    return _mm256_add_epi32(s0, s1);
#else
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    VOX_UNROLL for (int j = 0; j < 8; j += 2) {
        const __m256i p0 = _mm256_maddubs_epi16(
            A[j], _mm256_sign_epi8(_mm256_load_si256((const __m256i *)(xt + 32 * j)), T[j]));
        const __m256i p1 = _mm256_maddubs_epi16(
            A[j + 1], _mm256_sign_epi8(_mm256_load_si256((const __m256i *)(xt + 32 * j + 32)), T[j + 1]));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, ones));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, ones));
    }
    return _mm256_add_epi32(s0, s1);
#endif
}

/* Q4_K, transposed: T_j the nibbles (0..15), X_j the activation; lane L of the
 * result is float(sc_L * isum_L), exact (|isum| <= 32*15*127, sc <= 63: below
 * 2^22).  AVX2 folds the scale into the widening vpmaddwd (sc16: sc_L in both
 * int16 halves of dword L), so it costs nothing; vpdpbusd sums straight to
 * int32 and the scale is a float multiply (scf = float(sc)), the same value. */
VOX_INLINE __m256 x86q_q4_scaled_t(const __m256i T[8], const unsigned char *xt, __m256i sc16, __m256 scf) {
#if X86Q_VNNI
    (void)sc16;
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    VOX_UNROLL for (int j = 0; j < 8; j += 2) {
        s0 = X86Q_DPBUSD(s0, T[j], _mm256_load_si256((const __m256i *)(xt + 32 * j)));
        s1 = X86Q_DPBUSD(s1, T[j + 1], _mm256_load_si256((const __m256i *)(xt + 32 * j + 32)));
    }
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), scf);
#else
    (void)scf;
    /* each lane of a maddubs is at most 2*15*127 in magnitude: 8 of them fit in int16 */
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    VOX_UNROLL for (int j = 0; j < 8; j += 2) {
        s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(T[j], _mm256_load_si256((const __m256i *)(xt + 32 * j))));
        s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(T[j + 1], _mm256_load_si256((const __m256i *)(xt + 32 * j + 32))));
    }
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_add_epi16(s0, s1), sc16));
#endif
}

/* 8-lane partial sums of one Q8_0 block against an activation block (natural layout). */
VOX_INLINE __m256i x86q_q8_block(__m256i w, const int8_t *x) {
    const __m256i xs = _mm256_sign_epi8(_mm256_load_si256((const __m256i *)x), w);
#if X86Q_VNNI
    return X86Q_DPBUSD(_mm256_setzero_si256(), _mm256_abs_epi8(w), xs);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w), xs), _mm256_set1_epi16(1));
#endif
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
        VOX_UNROLL for (int k = 0; k < 4; k++) {
            xv[k] = _mm256_loadu_ps(xb + 8 * k);
            mb = _mm256_max_epu32(mb, abs_bits8(xv[k]));
        }
        const float d = vox_q8_0_step(hmax_epu32(mb));
        const __m256 id = _mm256_set1_ps(vox_inverse_step(d));
        __m256i qi[4];
        VOX_UNROLL for (int k = 0; k < 4; k++) {
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
        VOX_UNROLL for (int s = 0; s < 8; s++) {
            __m256i qi[4], acc = _mm256_setzero_si256();
            VOX_UNROLL for (int k = 0; k < 4; k++) {
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

/* ---- activation preparation -------------------------------------------------------- */

static size_t x86q_prep_q8_0_bytes(int64_t n) {
    const int64_t ng = (n / VOX_QK8_0 + X86Q_G - 1) / X86Q_G;
    return vox_round64((size_t)n) + (size_t)ng * 256 + vox_round64((size_t)ng * 8 * sizeof(float));
}

static inline unsigned char *x86q_prep_q8_0_qt(const void *p, int64_t n) {
    return (unsigned char *)p + vox_round64((size_t)n);
}
static inline float *x86q_prep_q8_0_d(const void *p, int64_t n) {
    const int64_t ng = (n / VOX_QK8_0 + X86Q_G - 1) / X86Q_G;
    return (float *)((char *)p + vox_round64((size_t)n) + (size_t)ng * 256);
}

/* 8 blocks of 32 int8 (block-major, from q) into the transposed layout at qt;
 * blocks at or past nblk are zero. */
VOX_INLINE void x86q_store_transposed(const int8_t *q, int nblk, unsigned char *qt) {
    __m256i v[8];
    VOX_UNROLL for (int L = 0; L < 8; L++)
        v[L] = L < nblk ? _mm256_loadu_si256((const __m256i *)(q + 32 * L)) : _mm256_setzero_si256();
    x86q_transpose8(v);
    VOX_UNROLL for (int j = 0; j < 8; j++) _mm256_store_si256((__m256i *)(qt + 32 * j), v[j]);
}

static void x86q_prep_q8_0(const float *x, int64_t n, void *out) {
    prep_q8_0(x, n, out); /* the natural q[n] | d[n/32] of kernels_avx2.c's plain layout */
    const int64_t nb = n / VOX_QK8_0, ng = (nb + X86Q_G - 1) / X86Q_G;
    /* the plain layout's scales sit where qt goes: copy them first */
    float dtmp[X86Q_G];
    float *d = x86q_prep_q8_0_d(out, n);
    const float *dplain = vox_plain_q8_0_d(out, n);
    for (int64_t g = ng - 1; g >= 0; g--) { /* backwards: d may overlap dplain's tail */
        VOX_UNROLL for (int L = 0; L < X86Q_G; L++) dtmp[L] = g * X86Q_G + L < nb ? dplain[g * X86Q_G + L] : 0.0f;
        memcpy(d + g * X86Q_G, dtmp, sizeof dtmp);
    }
    const int8_t *q = vox_plain_q(out);
    unsigned char *qt = x86q_prep_q8_0_qt(out, n);
    for (int64_t g = 0; g < ng; g++) {
        const int64_t left = nb - g * X86Q_G;
        x86q_store_transposed(q + g * X86Q_GROUP_VALUES, left < X86Q_G ? (int)left : X86Q_G, qt + g * 256);
    }
}

static size_t x86q_prep_q8_k_bytes(int64_t n) {
    const int64_t nsb = n / VOX_QK_K;
    return 2 * vox_round64((size_t)n) + vox_round64((size_t)nsb * sizeof(float)) +
           vox_round64((size_t)nsb * 8 * sizeof(float));
}
static inline const float *x86q_prep_q8_k_d(const void *p, int64_t n) {
    return (const float *)((const char *)p + 2 * vox_round64((size_t)n));
}
static inline const float *x86q_prep_q8_k_bx(const void *p, int64_t n) {
    return (const float *)((const char *)p + 2 * vox_round64((size_t)n) +
                           vox_round64((size_t)(n / VOX_QK_K) * sizeof(float)));
}

static void x86q_prep_q8_k(const float *x, int64_t n, void *out) {
    /* natural quants, scales and int16 sums into a scratch-free order: the plain
     * layout first (q | d | bsum), then rearranged from the back */
    const int64_t nsb = n / VOX_QK_K;
    prep_q8_k(x, n, out);
    const float *dplain = vox_plain_q8_k_d(out, n);
    const int16_t *bplain = vox_plain_q8_k_bsum(out, n);
    float *d = (float *)x86q_prep_q8_k_d(out, n), *bx = (float *)x86q_prep_q8_k_bx(out, n);
    /* the new d and bx lie past the plain d and bsum (qt takes n bytes first), so
     * walking backwards never overwrites a value still to be read */
    for (int64_t b = nsb - 1; b >= 0; b--) {
        const float db = dplain[b];
        float tmp[8];
        VOX_UNROLL for (int s = 0; s < 8; s++) tmp[s] = (float)bplain[8 * b + s] * db;
        memcpy(bx + 8 * b, tmp, sizeof tmp);
        d[b] = db;
    }
    const int8_t *q = vox_plain_q(out);
    unsigned char *qt = (unsigned char *)out + vox_round64((size_t)n);
    for (int64_t b = 0; b < nsb; b++) x86q_store_transposed(q + b * VOX_QK_K, 8, qt + b * VOX_QK_K);
}

/* ---- weight scales of a group ---------------------------------------------------- */

/* Q4_K, one super-block's weight side, shared by every input row: the scales
 * as sc16 (the AVX2 widening multiplier, see x86q_q4_scaled_t) or scf (float),
 * md = m*dmin per lane and d broadcast, from the 8 scale bytes, the 8 min
 * bytes and the raw fp16 pair d | dmin.  Per row the float steps are then
 *   acc = fma(float(sc*isum), d*dx, acc);  acc = fnmadd(md, bx, acc). */
typedef struct {
    __m256i sc16;
    __m256 scf, md, d;
} x86q_q4_side;

/* byte L of a broadcast qword of sub-block scales into both int16 halves of dword L */
static const _Alignas(32) int8_t x86q_sc16_idx[32] = {0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1,
                                                      4, -1, 4, -1, 5, -1, 5, -1, 6, -1, 6, -1, 7, -1, 7, -1};
VOX_INLINE x86q_q4_side x86q_q4_weight_side(uint64_t scw, uint64_t mnw, uint32_t ddm) {
    x86q_q4_side w;
    const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128((int)ddm));
    w.d = _mm256_broadcastss_ps(dd);
    const __m256 mnf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)mnw)));
    w.md = _mm256_mul_ps(mnf, _mm256_broadcastss_ps(_mm_movehdup_ps(dd)));
    w.scf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)scw)));
    w.sc16 = _mm256_shuffle_epi8(_mm256_set1_epi64x((long long)scw),
                                 _mm256_load_si256((const __m256i *)x86q_sc16_idx));
    return w; /* (each caller uses sc16 or scf; the compiler drops the other) */
}

/* The same from a packed row's 20 meta bytes of one super-block. */
VOX_INLINE x86q_q4_side x86q_q4_packed_side(const unsigned char *mb) {
    uint64_t scw, mnw;
    uint32_t ddm;
    memcpy(&scw, mb, 8);
    memcpy(&mnw, mb + 8, 8);
    memcpy(&ddm, mb + 16, 4);
    return x86q_q4_weight_side(scw, mnw, ddm);
}

/* d*dx for super-block b of prepared row xr, one multiply per row (with three
 * or more rows the tiles form the same products for all rows at once). */
VOX_INLINE __m256 x86q_q4_ddx(__m256 d, const unsigned char *xr, int64_t n, int64_t b) {
    return _mm256_mul_ps(d, _mm256_broadcast_ss(x86q_prep_q8_k_d(xr, n) + b));
}

/* The per-row float steps of one super-block; dd = d*dx. */
VOX_INLINE __m256 x86q_q4_accumulate(__m256 acc, __m256 v, __m256 dd, __m256 md, const float *bx) {
    acc = _mm256_fmadd_ps(v, dd, acc);
    return _mm256_fnmadd_ps(md, _mm256_load_ps(bx), acc);
}

/* ---- tiles ------------------------------------------------------------------------
 * One weight row at a time against all R rows: the group's weight registers
 * are formed once and used by every row.  The activation rows of a tile are
 * read once per weight row (from L1/L2); the weights stream from memory with
 * a software prefetch X86Q_PF bytes ahead into L2 (the hardware prefetcher
 * alone left ~30% on the table on Zen 4 for the AVX-512 kernels). */

/* Q8_0, plain weight row w (nb blocks), R rows of prepared activations. */
VOX_INLINE void x86q_q8_row(const unsigned char *w, const unsigned char *x, size_t xs, const int R,
                            int64_t n, float *y, int64_t ldy) {
    const int64_t nb = n / VOX_QK8_0, ng = (nb + X86Q_G - 1) / X86Q_G;
    __m256 acc[VOX_TILE_ROWS];
    VOX_UNROLL for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t g = 0; g < ng; g++) {
        const unsigned char *blk = w + (size_t)g * X86Q_G * VOX_Q8_0_BYTES;
        for (int l = 0; l < X86Q_G * VOX_Q8_0_BYTES; l += 64) _mm_prefetch((const char *)blk + X86Q_PF + l, _MM_HINT_T1);
        const int nl = nb - g * X86Q_G < X86Q_G ? (int)(nb - g * X86Q_G) : X86Q_G;
        __m256i wv[8];
        _Alignas(16) uint16_t h[8] = {0};
        VOX_UNROLL for (int L = 0; L < X86Q_G; L++) {
            if (L < nl) {
                wv[L] = _mm256_loadu_si256((const __m256i *)(blk + VOX_Q8_0_BYTES * L + 2));
                h[L] = vox_load_u16(blk + VOX_Q8_0_BYTES * L);
            } else {
                wv[L] = _mm256_setzero_si256();
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)h));
        VOX_UNROLL for (int r = 0; r < R; r++) {
            const unsigned char *xr = x + (size_t)r * xs;
            const int8_t *xq = vox_plain_q(xr) + g * X86Q_GROUP_VALUES;
            __m256i p[8];
            VOX_UNROLL for (int L = 0; L < X86Q_G; L++) p[L] = x86q_q8_block(wv[L], xq + 32 * (L < nl ? L : 0));
            const __m256i isum = x86q_fold8(p);
            const __m256 s = _mm256_mul_ps(dw, _mm256_load_ps(x86q_prep_q8_0_d(xr, n) + g * X86Q_G));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), s, acc[r]);
        }
    }
    VOX_UNROLL for (int r = 0; r < R; r++) y[(int64_t)r * ldy] = x86q_hsum8(acc[r]);
}

static size_t x86q_pack_bytes_q8_0(int64_t n) {
    const int64_t ng = (n / VOX_QK8_0 + X86Q_G - 1) / X86Q_G;
    return vox_round64((size_t)ng * (256 + Q8P_SCALES8));
}

static void x86q_pack_q8_0(const void *w, size_t ws, int n_out, int64_t n, void *out) {
    const int64_t nb = n / VOX_QK8_0, ng = (nb + X86Q_G - 1) / X86Q_G;
    const size_t rb = x86q_pack_bytes_q8_0(n);
    for (int o = 0; o < n_out; o++) {
        unsigned char *row = (unsigned char *)out + (size_t)o * rb;
        const unsigned char *src = (const unsigned char *)w + (size_t)o * ws;
        memset(row, 0, rb);
        for (int64_t b = 0; b < nb; b++) {
            const int64_t g = b / X86Q_G;
            const int L = (int)(b % X86Q_G);
            const unsigned char *blk = src + (size_t)b * VOX_Q8_0_BYTES;
            for (int i = 0; i < VOX_QK8_0; i++) row[g * 256 + 32 * (i / 4) + 4 * L + i % 4] = blk[2 + i];
            memcpy(row + (size_t)ng * 256 + (size_t)g * Q8P_SCALES8 + 2 * L, blk, 2);
        }
    }
}

/* Q8_0, groups [g0, g1) of a packed weight row against R rows: acc[r] += ...
 * Prefetch into L2: pf bytes on from the group's quants and scales (pf_row: a
 * row pf bytes ahead, the same group) or, with pf_row 0, X86Q_PF bytes ahead
 * along the row, its quants and scales read as one stream of 272 bytes per
 * group (prefetching only along the quants left 16 bytes per group, a few
 * lines per row, to demand misses: 9216x3072, 6 rows, 2 threads 1.38 -> 0.98
 * ms for Q4_K). */
VOX_INLINE void x86q_q8_groups_packed(const unsigned char *w, const unsigned char *x, size_t xs, const int R,
                                      int64_t n, int64_t g0, int64_t g1, size_t pf_row, __m256 *acc) {
    const int64_t ng = (n / VOX_QK8_0 + X86Q_G - 1) / X86Q_G;
    const unsigned char *sc = w + (size_t)ng * 256;
    for (int64_t g = g0; g < g1; g++) {
        const unsigned char *p = w + (size_t)g * 256;
        const unsigned char *sg = sc + (size_t)g * Q8P_SCALES8;
        if (pf_row) {
            VOX_UNROLL for (int l = 0; l < 256; l += 64) _mm_prefetch((const char *)p + pf_row + l, _MM_HINT_T1);
            if ((g & 3) == 0) _mm_prefetch((const char *)sg + pf_row, _MM_HINT_T1);
        } else { /* along the row, read as one stream of 272 bytes per group */
            const char *u = (const char *)w + (size_t)g * (256 + Q8P_SCALES8) + X86Q_PF;
            VOX_UNROLL for (int l = 0; l < 256 + Q8P_SCALES8; l += 64) _mm_prefetch(u + l, _MM_HINT_T1);
        }
        __m256i T[8], A[8];
        VOX_UNROLL for (int j = 0; j < 8; j++) {
            T[j] = _mm256_load_si256((const __m256i *)(p + 32 * j));
            A[j] = _mm256_abs_epi8(T[j]);
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)sg));
        VOX_UNROLL for (int r = 0; r < R; r++) {
            const unsigned char *xr = x + (size_t)r * xs;
            const __m256i isum = x86q_q8_isum_t(A, T, x86q_prep_q8_0_qt(xr, n) + (size_t)g * 256);
            const __m256 s = _mm256_mul_ps(dw, _mm256_load_ps(x86q_prep_q8_0_d(xr, n) + g * X86Q_G));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), s, acc[r]);
        }
    }
}

/* Q4_K, plain weight row. */
VOX_INLINE void x86q_q4_row(const unsigned char *w, const unsigned char *x, size_t xs, const int R,
                            int64_t n, float *y, int64_t ldy) {
    const int64_t nsb = n / VOX_QK_K;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256 acc[VOX_TILE_ROWS];
    VOX_UNROLL for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const unsigned char *blk = w + (size_t)b * VOX_Q4_K_BYTES;
        _mm_prefetch((const char *)blk + X86Q_PF, _MM_HINT_T1);
        _mm_prefetch((const char *)blk + X86Q_PF + 64, _MM_HINT_T1);
        _mm_prefetch((const char *)blk + X86Q_PF + 128, _MM_HINT_T1);
        __m256i q[8];
        VOX_UNROLL for (int k = 0; k < 4; k++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * k));
            q[2 * k] = _mm256_and_si256(v, low4);
            q[2 * k + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
        }
        uint64_t scw, mnw;
        vox_q4_k_scales(blk + 4, &scw, &mnw);
        uint32_t ddm;
        memcpy(&ddm, blk, 4);
        const x86q_q4_side ws = x86q_q4_weight_side(scw, mnw, ddm);
        VOX_UNROLL for (int r = 0; r < R; r++) {
            const unsigned char *xr = x + (size_t)r * xs;
            const int8_t *xq = vox_plain_q(xr) + b * VOX_QK_K;
            __m256i isum;
#if X86Q_VNNI
            __m256i p[8];
            VOX_UNROLL for (int s = 0; s < 8; s++)
                p[s] = X86Q_DPBUSD(_mm256_setzero_si256(), q[s], _mm256_load_si256((const __m256i *)(xq + 32 * s)));
            isum = x86q_fold8(p);
#else
            /* int16 horizontal adds: lane s of the low (high) half ends as the sum of
             * sub-block s's first (last) 16 products, at most 16*15*127 */
            __m256i p[8];
            VOX_UNROLL for (int s = 0; s < 8; s++) p[s] = _mm256_maddubs_epi16(q[s], _mm256_load_si256((const __m256i *)(xq + 32 * s)));
            const __m256i h01 = _mm256_hadd_epi16(p[0], p[1]), h23 = _mm256_hadd_epi16(p[2], p[3]);
            const __m256i h45 = _mm256_hadd_epi16(p[4], p[5]), h67 = _mm256_hadd_epi16(p[6], p[7]);
            const __m256i h = _mm256_hadd_epi16(_mm256_hadd_epi16(h01, h23), _mm256_hadd_epi16(h45, h67));
            isum = _mm256_add_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(h)),
                                    _mm256_cvtepi16_epi32(_mm256_extracti128_si256(h, 1)));
#endif
            const __m256 dd = x86q_q4_ddx(ws.d, xr, n, b);
            acc[r] = x86q_q4_accumulate(acc[r], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), ws.scf), dd, ws.md,
                                        x86q_prep_q8_k_bx(xr, n) + 8 * b);
        }
    }
    VOX_UNROLL for (int r = 0; r < R; r++) y[(int64_t)r * ldy] = x86q_hsum8(acc[r]);
}

static size_t x86q_pack_bytes_q4_k(int64_t n) {
    const int64_t nsb = n / VOX_QK_K;
    return vox_round64((size_t)nsb * (Q4P_QUANTS8 + Q4P_META8));
}

/* Q4_K: super-block b's nibbles in the transposed registers.  Chunk k (32 bytes)
 * holds sub-block 2k in its low and 2k+1 in its high nibbles; T_m lanes 2k and
 * 2k+1 both come from dword m of chunk k: a 4x8 dword transpose, each dword
 * widened to a qword, its high nibbles shifted into the upper dword. */
VOX_INLINE void x86q_q4_plain_group(const unsigned char *blk, __m256i T[8]) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i c[4];
    VOX_UNROLL for (int k = 0; k < 4; k++) c[k] = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * k));
    const __m256i t0 = _mm256_unpacklo_epi32(c[0], c[1]), t1 = _mm256_unpackhi_epi32(c[0], c[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(c[2], c[3]), t3 = _mm256_unpackhi_epi32(c[2], c[3]);
    /* u[m]: dword m (low half) and m + 4 (high half) of chunks 0..3 */
    const __m256i u[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
                          _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
    VOX_UNROLL for (int m = 0; m < 4; m++) {
        const __m256i e0 = _mm256_cvtepu32_epi64(_mm256_castsi256_si128(u[m]));
        const __m256i e1 = _mm256_cvtepu32_epi64(_mm256_extracti128_si256(u[m], 1));
        T[m] = _mm256_and_si256(_mm256_or_si256(e0, _mm256_slli_epi64(e0, 28)), low4);
        T[m + 4] = _mm256_and_si256(_mm256_or_si256(e1, _mm256_slli_epi64(e1, 28)), low4);
    }
}

/* Each packed byte is written once, from the transposed registers of the
 * plain path (chunk k: T_2k in the low, T_2k+1 in the high nibbles).  Packing
 * at load into fresh memory, this took 28-30 ns per super-block where a
 * byte-by-byte version that ORed the nibbles into a cleared row took 110-114
 * (a throwaway timer: 147456x3072, Zen 4): about 1 s less CPU time to pack
 * the backbone. */
static void x86q_pack_q4_k(const void *w, size_t ws, int n_out, int64_t n, void *out) {
    const int64_t nsb = n / VOX_QK_K;
    const size_t rb = x86q_pack_bytes_q4_k(n), used = (size_t)nsb * (Q4P_QUANTS8 + Q4P_META8);
    for (int o = 0; o < n_out; o++) {
        unsigned char *row = (unsigned char *)out + (size_t)o * rb;
        const unsigned char *src = (const unsigned char *)w + (size_t)o * ws;
        for (int64_t b = 0; b < nsb; b++) {
            const unsigned char *blk = src + (size_t)b * VOX_Q4_K_BYTES;
            unsigned char *dst = row + (size_t)b * Q4P_QUANTS8;
            __m256i T[8];
            x86q_q4_plain_group(blk, T);
            VOX_UNROLL for (int k = 0; k < 4; k++)
                _mm256_storeu_si256((__m256i *)(dst + 32 * k),
                                    _mm256_or_si256(T[2 * k], _mm256_slli_epi16(T[2 * k + 1], 4)));
            uint64_t scw, mnw;
            vox_q4_k_scales(blk + 4, &scw, &mnw);
            unsigned char *meta = row + (size_t)nsb * Q4P_QUANTS8 + (size_t)b * Q4P_META8;
            VOX_UNROLL for (int s = 0; s < 8; s++) {
                meta[s] = (unsigned char)(scw >> (8 * s));
                meta[8 + s] = (unsigned char)(mnw >> (8 * s));
            }
            memcpy(meta + 16, blk, 4);
        }
        memset(row + used, 0, rb - used);
    }
}

/* Q4_K: the R rows against super-block b, its weight registers T and side ws
 * formed.  With three or more rows the products d*dx come from one multiply
 * for all rows (dxt: the rows' dx for this super-block, gathered by the tile),
 * each row broadcasting its lane from memory; with one or two, one multiply
 * per row.  The same float product either way. */
VOX_INLINE void x86q_q4_rows(const __m256i T[8], const x86q_q4_side ws, const unsigned char *x, size_t xs,
                             const int R, int64_t n, int64_t b, const float *dxt, __m256 *acc) {
    _Alignas(32) float dd[8];
    if (R >= 3) _mm256_store_ps(dd, _mm256_mul_ps(ws.d, _mm256_load_ps(dxt)));
    VOX_UNROLL for (int r = 0; r < R; r++) {
        const unsigned char *xr = x + (size_t)r * xs;
        const __m256 v = x86q_q4_scaled_t(T, xr + vox_round64((size_t)n) + (size_t)b * VOX_QK_K, ws.sc16, ws.scf);
        const __m256 ddr = R >= 3 ? _mm256_broadcast_ss(dd + r) : x86q_q4_ddx(ws.d, xr, n, b);
        acc[r] = x86q_q4_accumulate(acc[r], v, ddr, ws.md, x86q_prep_q8_k_bx(xr, n) + 8 * b);
    }
}

#if !X86Q_VNNI
/* Q4_K, AVX2, six rows against one packed super-block: the same integers and
 * float steps as x86q_q4_rows, with the registers laid out by hand.  Compiled
 * from intrinsics, the six accumulators, eight nibble registers and the
 * partial sums do not fit in the 16 ymm registers; GCC spilled, and with the
 * activations as memory operands the loads (two 256-bit loads per cycle on
 * Zen 4) bounded the loop.  Here the nibble registers are formed one at a
 * time (rows innermost), the int16 sums s0..s5 live in ymm0-5, the
 * accumulators in six registers of the compiler's choice (outside ymm0-5 and
 * ymm12-15), and per super-block and row the loads are the 8 activation
 * chunks, d*dx and bx.  The weight side comes from the super-block's packed
 * metadata (mb) in the step itself: d*dx of the six rows (d times the
 * gathered dx, dxt) first, stored to the 32-byte scratch scr and read back by
 * the float part as broadcasts, the sub-block scales and dmin*min after the
 * integer part, in the registers it frees (so d and dmin are converted from
 * f16 twice: no register is free across the integer part).  The same operations as
 * x86q_q4_weight_side; a pass of their own before the steps (stores of all
 * three) cost ~2-3% more in kernel_bench 512x3072 --mb 0, one thread.
 *
 * How far from the hardware (Zen 4 at 3.67 GHz; tools/isa_probe and
 * throwaway loops).  vpmaddubsw, vpmaddwd, vpdpbusd and the FMAs share two
 * pipes; vpand, shifts and vcvtdq2ps run beside them at no cost.  The step
 * has 68 operations on those pipes (48 maddubs, 6 madd, 12 FMAs, 2
 * multiplies): at least 34 cycles per super-block.  It takes 47-48 (192x3072
 * in L2, one thread).  Of the difference, the tile around the step takes ~3
 * (44 without it), forming the weight side ~2 (46 without it), and the
 * integer adds most of the rest: an add that consumes a maddubs result takes
 * a multiply-pipe slot more often than not (48 maddubs with their 42 vpaddw:
 * 30 cycles, without them 24; independent adds, or vaddps in their place,
 * cost nothing), and vpsubw, vpaddd and vpor behave the same.  Issuing the
 * adds after all six maddubs of their nibble register (accumulators moved
 * to memory to free the registers) was slower, 49-50.5; a whole nibble
 * register later gained 4% in a register-only three-row copy.  The
 * AVX-VNNI step has no adds but as many multiply-pipe operations and runs at
 * the same speed.  The float part (per row and super-block one FMA for the
 * scales, one for the mins: 39.5 cycles without it, 44 without the mins) is
 * the least Q4_K's per-super-block scales allow with sub-blocks in lanes;
 * summing across rows or super-blocks first needs shuffles (vphaddd: 2
 * cycles each) that cost what they save. */

/* 15 in every byte: the nibble mask of the asm steps */
static const _Alignas(32) uint8_t x86q_low4[32] = {15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
                                                   15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15};
/* the 8 nibble registers of a packed super-block at %[p] (low, then high
 * nibbles of each 32 bytes, formed in ymm12/ymm13), each against the rows by
 * T(op, activation offset) */
#define X86Q_Q4_NIBBLES(T)                                                                         \
    "vmovdqa 0(%[p]), %%ymm12\n\t" T(X86Q_Q4_SET, 0)                                               \
    "vpsrlw $4, %%ymm12, %%ymm12\n\t" T(X86Q_Q4_ADD, 32)                                           \
    "vmovdqa 32(%[p]), %%ymm12\n\t" T(X86Q_Q4_ADD, 64)                                             \
    "vpsrlw $4, %%ymm12, %%ymm12\n\t" T(X86Q_Q4_ADD, 96)                                           \
    "vmovdqa 64(%[p]), %%ymm12\n\t" T(X86Q_Q4_ADD, 128)                                            \
    "vpsrlw $4, %%ymm12, %%ymm12\n\t" T(X86Q_Q4_ADD, 160)                                          \
    "vmovdqa 96(%[p]), %%ymm12\n\t" T(X86Q_Q4_ADD, 192)                                            \
    "vpsrlw $4, %%ymm12, %%ymm12\n\t" T(X86Q_Q4_ADD, 224)
/* one nibble register against the six rows: T = (P >> sh) & 15 in ymm13, then
 * s_r = maddubs(T, X_r + off) (SET) or s_r += it (ADD, through ymm14) */
#define X86Q_Q4_SET(off, addr, s) "vpmaddubsw " #off addr ", %%ymm13, %%ymm" #s "\n\t"
#define X86Q_Q4_ADD(off, addr, s)                                                                  \
    "vpmaddubsw " #off addr ", %%ymm13, %%ymm14\n\t"                                              \
    "vpaddw %%ymm14, %%ymm" #s ", %%ymm" #s "\n\t"
#define X86Q_Q4_T6(op, off)                                                                        \
    "vpand %%ymm15, %%ymm12, %%ymm13\n\t"                                                         \
    op(off, "(%[x0])", 0) op(off, "(%[x0],%[xs],1)", 1) op(off, "(%[x0],%[xs],2)", 2)              \
    op(off, "(%[x3])", 3) op(off, "(%[x3],%[xs],1)", 4) op(off, "(%[x3],%[xs],2)", 5)
/* row s: acc += float(sc * s) * dd[s]; acc -= md * bx (ymm15 = sc16, ymm12 = md) */
#define X86Q_Q4_F1(s, ddoff, bx, acc)                                                              \
    "vpmaddwd %%ymm15, %%ymm" #s ", %%ymm" #s "\n\t"                                              \
    "vcvtdq2ps %%ymm" #s ", %%ymm" #s "\n\t"                                                      \
    "vbroadcastss " #ddoff "(%[scr]), %%ymm13\n\t"                                                  \
    "vfmadd231ps %%ymm13, %%ymm" #s ", %[" #acc "]\n\t"                                          \
    "vfnmadd231ps " bx ", %%ymm12, %[" #acc "]\n\t"

VOX_INLINE void x86q_q4_rows6_asm(const unsigned char *p, const unsigned char *x0, const unsigned char *x3,
                                  size_t xs, const float *bx0, const float *bx3, const unsigned char *mb,
                                  const float *dxt, float *scr, __m256 acc[6]) {
    __asm__("vpbroadcastd 16(%[mb]), %%xmm12\n\t" /* f16 d, dmin */
            "vcvtph2ps %%xmm12, %%ymm12\n\t"
            "vmovsldup %%ymm12, %%ymm12\n\t"      /* d */
            "vmulps (%[dxt]), %%ymm12, %%ymm12\n\t"
            "vmovaps %%ymm12, (%[scr])\n\t"       /* d*dx of the rows */
            "vmovdqa %[low4], %%ymm15\n\t"
            X86Q_Q4_NIBBLES(X86Q_Q4_T6)
            "vpbroadcastq (%[mb]), %%ymm15\n\t"
            "vpshufb %[idx], %%ymm15, %%ymm15\n\t" /* sc16 */
            "vpbroadcastd 16(%[mb]), %%xmm13\n\t"
            "vcvtph2ps %%xmm13, %%ymm13\n\t"
            "vmovshdup %%ymm13, %%ymm13\n\t"      /* dmin */
            "vpmovzxbd 8(%[mb]), %%ymm12\n\t"
            "vcvtdq2ps %%ymm12, %%ymm12\n\t"
            "vmulps %%ymm13, %%ymm12, %%ymm12\n\t" /* md */
            X86Q_Q4_F1(0, 0, "(%[b0])", a0) X86Q_Q4_F1(1, 4, "(%[b0],%[xs],1)", a1)
            X86Q_Q4_F1(2, 8, "(%[b0],%[xs],2)", a2) X86Q_Q4_F1(3, 12, "(%[b3])", a3)
            X86Q_Q4_F1(4, 16, "(%[b3],%[xs],1)", a4) X86Q_Q4_F1(5, 20, "(%[b3],%[xs],2)", a5)
            : [a0] "+x"(acc[0]), [a1] "+x"(acc[1]), [a2] "+x"(acc[2]), [a3] "+x"(acc[3]), [a4] "+x"(acc[4]),
              [a5] "+x"(acc[5])
            : [p] "r"(p), [x0] "r"(x0), [x3] "r"(x3), [xs] "r"(xs), [b0] "r"(bx0), [b3] "r"(bx3), [mb] "r"(mb),
              [dxt] "r"(dxt), [scr] "r"(scr), [low4] "m"(x86q_low4), [idx] "m"(x86q_sc16_idx)
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
}

/* Q4_K, AVX2, two rows against one packed super-block, the weight side in
 * registers (sc16, md, and dd0 / dd1 = d*dx of each row): the same integers
 * and float steps as x86q_q4_rows with R = 2.  From intrinsics GCC spilled
 * six of the partial products per super-block (the flow head's 2-row
 * products ran at ~29 cycles per super-block); here the sums live in
 * ymm0-1, the nibble register in ymm13. */
#define X86Q_Q4_T2(op, off)                                                                        \
    "vpand %%ymm15, %%ymm12, %%ymm13\n\t" op(off, "(%[x0])", 0) op(off, "(%[x1])", 1)
VOX_INLINE void x86q_q4_rows2_asm(const unsigned char *p, const unsigned char *x0, const unsigned char *x1,
                                  const float *bx0, const float *bx1, __m256i sc16, __m256 md, __m256 dd0,
                                  __m256 dd1, __m256 acc[2]) {
    __asm__("vmovdqa %[low4], %%ymm15\n\t"
            X86Q_Q4_NIBBLES(X86Q_Q4_T2)
            "vpmaddwd %[sc], %%ymm0, %%ymm0\n\t"
            "vcvtdq2ps %%ymm0, %%ymm0\n\t"
            "vfmadd231ps %[dd0], %%ymm0, %[a0]\n\t"
            "vfnmadd231ps (%[b0]), %[md], %[a0]\n\t"
            "vpmaddwd %[sc], %%ymm1, %%ymm1\n\t"
            "vcvtdq2ps %%ymm1, %%ymm1\n\t"
            "vfmadd231ps %[dd1], %%ymm1, %[a1]\n\t"
            "vfnmadd231ps (%[b1]), %[md], %[a1]\n\t"
            : [a0] "+x"(acc[0]), [a1] "+x"(acc[1])
            : [p] "r"(p), [x0] "r"(x0), [x1] "r"(x1), [b0] "r"(bx0), [b1] "r"(bx1), [sc] "x"(sc16), [md] "x"(md),
              [dd0] "x"(dd0), [dd1] "x"(dd1), [low4] "m"(x86q_low4)
            : "xmm0", "xmm1", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
}
#undef X86Q_Q4_T2
#undef X86Q_Q4_SET
#undef X86Q_Q4_ADD
#undef X86Q_Q4_NIBBLES
#undef X86Q_Q4_T6
#undef X86Q_Q4_F1
#endif

/* Q4_K, super-blocks [g0, g1) of a packed weight row against R rows (prefetch
 * as x86q_q8_groups_packed). */
VOX_INLINE void x86q_q4_groups_packed(const unsigned char *w, const unsigned char *x, size_t xs, const int R,
                                      int64_t n, int64_t g0, int64_t g1, size_t pf_row, const float *dxt,
                                      __m256 *acc) {
    const int64_t nsb = n / VOX_QK_K;
    const unsigned char *meta = w + (size_t)nsb * Q4P_QUANTS8;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
#if !X86Q_VNNI
    _Alignas(32) float scr[8]; /* the six-row step's d*dx */
#endif
    for (int64_t b = g0; b < g1; b++) {
        const unsigned char *p = w + (size_t)b * Q4P_QUANTS8;
        const unsigned char *mb = meta + (size_t)b * Q4P_META8;
        if (pf_row) {
            _mm_prefetch((const char *)p + pf_row, _MM_HINT_T1);
            _mm_prefetch((const char *)p + pf_row + 64, _MM_HINT_T1);
            if ((b & 1) == 0) _mm_prefetch((const char *)mb + pf_row, _MM_HINT_T1);
        } else { /* along the row, read as one stream of 148 bytes per super-block */
            const char *u = (const char *)w + (size_t)b * (Q4P_QUANTS8 + Q4P_META8) + X86Q_PF;
            VOX_UNROLL for (int l = 0; l < Q4P_QUANTS8 + Q4P_META8; l += 64) _mm_prefetch(u + l, _MM_HINT_T1);
        }
#if !X86Q_VNNI
        if (R == 6) {
            const unsigned char *x0 = x + vox_round64((size_t)n) + (size_t)b * VOX_QK_K;
            const unsigned char *b0 = (const unsigned char *)(x86q_prep_q8_k_bx(x, n) + 8 * b);
            x86q_q4_rows6_asm(p, x0, x0 + 3 * xs, xs, (const float *)b0, (const float *)(b0 + 3 * xs), mb,
                              dxt + 8 * (b - g0), scr, acc);
            continue;
        }
        if (R == 2) {
            const x86q_q4_side ws = x86q_q4_packed_side(mb);
            const unsigned char *x1 = x + xs;
            const size_t xo = vox_round64((size_t)n) + (size_t)b * VOX_QK_K;
            x86q_q4_rows2_asm(p, x + xo, x1 + xo, x86q_prep_q8_k_bx(x, n) + 8 * b, x86q_prep_q8_k_bx(x1, n) + 8 * b,
                              ws.sc16, ws.md, x86q_q4_ddx(ws.d, x, n, b), x86q_q4_ddx(ws.d, x1, n, b), acc);
            continue;
        }
#endif
        const x86q_q4_side ws = x86q_q4_packed_side(mb);
        __m256i T[8];
        VOX_UNROLL for (int j = 0; j < 4; j++) {
            const __m256i v = _mm256_load_si256((const __m256i *)(p + 32 * j));
            T[2 * j] = _mm256_and_si256(v, low4);
            T[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
        }
        x86q_q4_rows(T, ws, x, xs, R, n, b, dxt + 8 * (b - g0), acc);
    }
}

/* Plain weight rows with three or more input rows: each group's weights are
 * put into the transposed registers in place (once per weight row and group,
 * shared by the rows), then the rows run the packed inner loop. */

/* Q8_0: the 8 blocks of group g (zero blocks past nb), transposed, and their scales. */
VOX_INLINE void x86q_q8_plain_group(const unsigned char *w, int64_t nb, int64_t g, __m256i T[8], __m256 *dw) {
    const unsigned char *blk = w + (size_t)g * X86Q_G * VOX_Q8_0_BYTES;
    const int nl = nb - g * X86Q_G < X86Q_G ? (int)(nb - g * X86Q_G) : X86Q_G;
    _Alignas(16) uint16_t h[8] = {0};
    VOX_UNROLL for (int L = 0; L < X86Q_G; L++) {
        if (L < nl) {
            T[L] = _mm256_loadu_si256((const __m256i *)(blk + VOX_Q8_0_BYTES * L + 2));
            h[L] = vox_load_u16(blk + VOX_Q8_0_BYTES * L);
        } else {
            T[L] = _mm256_setzero_si256();
        }
    }
    x86q_transpose8(T);
    *dw = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)h));
}

VOX_INLINE void x86q_q8_groups_plain(const unsigned char *w, const unsigned char *x, size_t xs, const int R,
                                     int64_t n, int64_t g0, int64_t g1, size_t pf_row, __m256 *acc) {
    const int64_t nb = n / VOX_QK8_0;
    for (int64_t g = g0; g < g1; g++) {
        const char *pb = (const char *)w + (size_t)g * X86Q_G * VOX_Q8_0_BYTES + (pf_row ? pf_row : X86Q_PF);
        VOX_UNROLL for (int l = 0; l < X86Q_G * VOX_Q8_0_BYTES; l += 64) _mm_prefetch(pb + l, _MM_HINT_T1);
        __m256i T[8], A[8];
        __m256 dw;
        x86q_q8_plain_group(w, nb, g, T, &dw);
        VOX_UNROLL for (int j = 0; j < 8; j++) A[j] = _mm256_abs_epi8(T[j]);
        VOX_UNROLL for (int r = 0; r < R; r++) {
            const unsigned char *xr = x + (size_t)r * xs;
            const __m256i isum = x86q_q8_isum_t(A, T, x86q_prep_q8_0_qt(xr, n) + (size_t)g * 256);
            const __m256 s = _mm256_mul_ps(dw, _mm256_load_ps(x86q_prep_q8_0_d(xr, n) + g * X86Q_G));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), s, acc[r]);
        }
    }
}

VOX_INLINE void x86q_q4_groups_plain(const unsigned char *w, const unsigned char *x, size_t xs, const int R,
                                     int64_t n, int64_t g0, int64_t g1, size_t pf_row, const float *dxt,
                                     __m256 *acc) {
    for (int64_t b = g0; b < g1; b++) {
        const unsigned char *blk = w + (size_t)b * VOX_Q4_K_BYTES;
        const char *pb = (const char *)blk + (pf_row ? pf_row : X86Q_PF);
        _mm_prefetch(pb, _MM_HINT_T1);
        _mm_prefetch(pb + 64, _MM_HINT_T1);
        _mm_prefetch(pb + 128, _MM_HINT_T1);
        __m256i T[8];
        x86q_q4_plain_group(blk, T);
        uint64_t scw, mnw;
        vox_q4_k_scales(blk + 4, &scw, &mnw);
        uint32_t ddm;
        memcpy(&ddm, blk, 4);
        x86q_q4_rows(T, x86q_q4_weight_side(scw, mnw, ddm), x, xs, R, n, b, dxt + 8 * (b - g0), acc);
    }
}

/* Packed tiles.  With several rows and a long row (in = 9216: 6 prepared
 * rows are ~64 KB) the activations would come from L2 for every weight row,
 * so the row is cut into chunks of groups whose activations (all R rows) fit
 * in X86Q_L1_ACT(R) bytes of L1 (20 or 24 KB), X86Q_OBLK weight rows walk each
 * chunk in turn with their accumulators parked in a small buffer, and the
 * prefetch fetches the same chunk of the row X86Q_PF_ROWS ahead (the hardware
 * prefetcher does not follow these short strided pieces).  Every accumulator
 * sees the same groups in the same order either way: the bits do not change. */
/* (the three sizes below can be set with -D for experiments with kernel_bench) */
#ifndef X86Q_PF_ROWS
#define X86Q_PF_ROWS 2 /* with pieces, prefetch the same piece this many weight rows ahead */
#endif
#ifndef X86Q_OBLK
#define X86Q_OBLK 16
#endif
#ifndef X86Q_L1_ACT
/* bytes of activations (all rows) per piece of a row.  Measured, kernel_bench
 * --packed --threads 2, 3072x9216 and 3072x4096, Zen 4: with 6 rows 20 KB
 * (11 super-blocks) beats 24 KB (14): AVX2 Q4_K 162-167 -> 200-204 and 178 ->
 * 201-204 GMAC/s, AVX2 Q8_0 100-112 -> 116-118, AVX-VNNI Q4_K 198-201 ->
 * 208-213, Q8_0 140-141 -> 148-150; with 3 or 8 rows 24 KB stays ahead
 * (Q4_K 134-141 vs 116-128, 159-176 vs 158-163).  Neither is a clean function
 * of the piece's size (10 or 12 super-blocks with 6 rows: 142-168). */
#define X86Q_L1_ACT(R) ((R) == 6 ? 20480 : 24576)
#endif
VOX_INLINE void x86q_groups(const int q4k, const int packed, const unsigned char *w, const unsigned char *x,
                            size_t xs, const int R, int64_t n, int64_t g0, int64_t g1, size_t pf_row,
                            const float *dxt, __m256 *acc) {
    if (q4k && packed) x86q_q4_groups_packed(w, x, xs, R, n, g0, g1, pf_row, dxt, acc);
    else if (q4k) x86q_q4_groups_plain(w, x, xs, R, n, g0, g1, pf_row, dxt, acc);
    else if (packed) x86q_q8_groups_packed(w, x, xs, R, n, g0, g1, pf_row, acc);
    else x86q_q8_groups_plain(w, x, xs, R, n, g0, g1, pf_row, acc);
}

/* Q4_K with three or more rows: the rows' dx of super-blocks [g0, g1), 8 per
 * super-block (rows past R zero), for x86q_q4_rows. */
VOX_INLINE void x86q_gather_dx(const unsigned char *x, size_t xs, const int R, int64_t n, int64_t g0, int64_t g1,
                               float *dxt) {
    for (int64_t b = g0; b < g1; b++)
        VOX_UNROLL for (int r = 0; r < 8; r++) dxt[8 * (b - g0) + r] = r < R ? x86q_prep_q8_k_d(x + (size_t)r * xs, n)[b] : 0.0f;
}

VOX_INLINE void x86q_group_tile(const int q4k, const int packed, const unsigned char *w, size_t ws, int n_out,
                                 const unsigned char *x, size_t xs, const int R, int64_t n, float *y,
                                 int64_t ldy) {
    const int64_t ng = q4k ? n / VOX_QK_K : (n / VOX_QK8_0 + X86Q_G - 1) / X86Q_G;
    const int64_t gx = q4k ? 256 + 4 + 32 : 256 + 32; /* activation bytes per group and row */
    int64_t kc = X86Q_L1_ACT(R) / (R * gx);
    if (kc < 2) kc = 2;
    if (kc > X86Q_DXT) kc = X86Q_DXT;
    _Alignas(32) float dxt[X86Q_DXT * 8];
    const int gather = q4k && R >= 3;
    if (R <= 2 || ng <= kc) {
        if (gather) x86q_gather_dx(x, xs, R, n, 0, ng, dxt);
        for (int o = 0; o < n_out; o++) {
            __m256 acc[VOX_TILE_ROWS];
            VOX_UNROLL for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
            x86q_groups(q4k, packed, w + (size_t)o * ws, x, xs, R, n, 0, ng, 0, dxt, acc);
            VOX_UNROLL for (int r = 0; r < R; r++) y[(int64_t)r * ldy + o] = x86q_hsum8(acc[r]);
        }
        return;
    }
    _Alignas(32) float park[X86Q_OBLK][VOX_TILE_ROWS][8];
    for (int ob = 0; ob < n_out; ob += X86Q_OBLK) {
        const int nob = n_out - ob < X86Q_OBLK ? n_out - ob : X86Q_OBLK;
        for (int64_t g0 = 0; g0 < ng; g0 += kc) {
            const int64_t g1 = g0 + kc < ng ? g0 + kc : ng;
            if (gather) x86q_gather_dx(x, xs, R, n, g0, g1, dxt);
            for (int o = 0; o < nob; o++) {
                __m256 acc[VOX_TILE_ROWS];
                VOX_UNROLL for (int r = 0; r < R; r++)
                    acc[r] = g0 == 0 ? _mm256_setzero_ps() : _mm256_load_ps(park[o][r]);
                x86q_groups(q4k, packed, w + (size_t)(ob + o) * ws, x, xs, R, n, g0, g1, X86Q_PF_ROWS * ws, dxt, acc);
                VOX_UNROLL for (int r = 0; r < R; r++) _mm256_store_ps(park[o][r], acc[r]);
            }
        }
        for (int o = 0; o < nob; o++)
            VOX_UNROLL for (int r = 0; r < R; r++)
                y[(int64_t)r * ldy + ob + o] = x86q_hsum8(_mm256_load_ps(park[o][r]));
    }
}

#define X86Q_GROUP_TILE(name, q4k, packed)                                                         \
    static void name(const void *w, size_t ws, int n_out, const void *x, size_t xs, int n_rows,    \
                     int64_t n, float *y, int64_t ldy) {                                           \
        switch (n_rows) {                                                                          \
        case 1: x86q_group_tile(q4k, packed, w, ws, n_out, x, xs, 1, n, y, ldy); break;            \
        case 2: x86q_group_tile(q4k, packed, w, ws, n_out, x, xs, 2, n, y, ldy); break;            \
        case 3: x86q_group_tile(q4k, packed, w, ws, n_out, x, xs, 3, n, y, ldy); break;            \
        case 4: x86q_group_tile(q4k, packed, w, ws, n_out, x, xs, 4, n, y, ldy); break;            \
        case 5: x86q_group_tile(q4k, packed, w, ws, n_out, x, xs, 5, n, y, ldy); break;            \
        case 6: x86q_group_tile(q4k, packed, w, ws, n_out, x, xs, 6, n, y, ldy); break;            \
        case 7: x86q_group_tile(q4k, packed, w, ws, n_out, x, xs, 7, n, y, ldy); break;            \
        default: x86q_group_tile(q4k, packed, w, ws, n_out, x, xs, 8, n, y, ldy); break;           \
        }                                                                                          \
    }
X86Q_GROUP_TILE(x86q_tile_packed_q8_0, 0, 1)
X86Q_GROUP_TILE(x86q_tile_packed_q4_k, 1, 1)
/* plain weights: the row functions above for 1 or 2 rows, the transposing groups for more */
X86Q_GROUP_TILE(x86q_tile_plain3_q8_0, 0, 0)
X86Q_GROUP_TILE(x86q_tile_plain3_q4_k, 1, 0)
#undef X86Q_GROUP_TILE

#define X86Q_TILE(name, rowfn, many)                                                               \
    static void name(const void *w, size_t ws, int n_out, const void *x, size_t xs, int n_rows,    \
                     int64_t n, float *y, int64_t ldy) {                                           \
        if (n_rows > 2) {                                                                          \
            many(w, ws, n_out, x, xs, n_rows, n, y, ldy);                                          \
            return;                                                                                \
        }                                                                                          \
        for (int o = 0; o < n_out; o++) {                                                          \
            const unsigned char *wo = (const unsigned char *)w + (size_t)o * ws;                    \
            if (n_rows == 1)                                                                       \
                rowfn(wo, x, xs, 1, n, y + o, ldy);                                                \
            else                                                                                   \
                rowfn(wo, x, xs, 2, n, y + o, ldy);                                                \
        }                                                                                          \
    }
X86Q_TILE(x86q_tile_q8_0, x86q_q8_row, x86q_tile_plain3_q8_0)
X86Q_TILE(x86q_tile_q4_k, x86q_q4_row, x86q_tile_plain3_q4_k)
#undef X86Q_TILE

/* Which weights have a packed copy (kernel_bench on Zen 4, 2 threads, AVX2,
 * best runs of alternating variants).  Q4_K: every one, the backbone's too.
 * Its single-row products run at the same speed either way (9216x3072:
 * 59.9-64.8 GMAC/s packed, 61.4-62.7 plain), but a prompt's many rows are
 * faster packed (22 rows, 9216x3072: 115-135 plain, 177-209 packed; 3072x9216:
 * 146-157, 202-208), read six at a time (X86Q_Q4_TILE_ROWS: the AVX2 step
 * for six rows; 8 at a time packed gave 141-181).  End to end (`voxtts bench
 * --synthetic --type best`, avx2): prefill of 22 rows 0.55-0.71 -> 0.41-0.55 s.
 * With AVX-VNNI the packed products of 22 rows read 8 or 6 at a time were
 * within the noise (196-228, 194-216 GMAC/s; plain 190-202).  Q8_0: only for
 * products of 2 or more rows (single rows: the same speed, and its large
 * users, the heads and the codec, are not packed). */
#ifndef X86Q_Q4_PACK_MIN_ROWS
#define X86Q_Q4_PACK_MIN_ROWS 1
#endif
#ifndef X86Q_PACK_MIN_ROWS
#define X86Q_PACK_MIN_ROWS 2 /* Q8_0 weights multiplied with at least this many rows are packed */
#endif
#ifndef X86Q_Q4_TILE_ROWS
#define X86Q_Q4_TILE_ROWS (X86Q_VNNI ? 0 : 6)
#endif
/* The two dtypes' entries of the including file's kernel set. */
#define X86Q_KERNELS                                                                               \
    [VOX_Q8_0] = {.tile = x86q_tile_q8_0, .prep = x86q_prep_q8_0, .prep_bytes = x86q_prep_q8_0_bytes, \
                  .pack_rows = 1, .pack_min_rows = X86Q_PACK_MIN_ROWS,                              \
                  .pack_group_bytes = x86q_pack_bytes_q8_0, .pack = x86q_pack_q8_0,                 \
                  .tile_packed = x86q_tile_packed_q8_0},                                           \
    [VOX_Q4_K] = {.tile = x86q_tile_q4_k, .prep = x86q_prep_q8_k, .prep_bytes = x86q_prep_q8_k_bytes, \
                  .pack_rows = 1, .pack_min_rows = X86Q_Q4_PACK_MIN_ROWS,                           \
                  .pack_group_bytes = x86q_pack_bytes_q4_k, .pack = x86q_pack_q4_k,                 \
                  .tile_packed = x86q_tile_packed_q4_k, .packed_tile_rows = X86Q_Q4_TILE_ROWS}
