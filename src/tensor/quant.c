/* quant.c — the scalar reference implementation of the ggml-compatible formats
 * declared in quant.h: half-precision conversion, our Q8_0 / Q4_K / Q8_K
 * quantizers, the dequantizers, and the reference dot products.
 *
 * The block formats are facts shared with the ggml ecosystem (a GGUF written here
 * is readable there); the quantizers that choose the bytes are our own design,
 * described above each one.  Blocks are assembled in a local struct and copied
 * out with memcpy, so the caller's buffers may have any alignment. */
#include "tensor/quant.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "base/error.h"

/* ---- half precision ------------------------------------------------------- */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t vox_fp32_to_fp16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) {
        /* NaN: keep the top mantissa bits, force the quiet bit so the result can
         * never collapse to an infinity. */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    }
    /* 65520 is halfway between the largest half (65504, odd mantissa) and 2^16:
     * it and everything above round to infinity. */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) {
        /* Normal half (>= 2^-14): rebias the exponent, round 13 mantissa bits
         * away.  A carry out of the mantissa correctly bumps the exponent. */
        uint32_t h = ((a >> 23) - 112u) << 10 | ((a >> 13) & 0x3ffu);
        uint32_t rest = a & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    /* 2^-25 is exactly half the smallest subnormal (2^-24); the tie goes to the
     * even neighbour, zero. */
    if (a <= 0x33000000u) return sign;
    /* Subnormal half: the value in units of 2^-24 is the f32 significand (with
     * its implicit bit) shifted right by 126 - exponent, rounded to nearest even.
     * Rounding up from 0x3ff gives 0x400, the smallest normal: still correct. */
    uint32_t e = a >> 23; /* 103 .. 112 here */
    uint32_t man = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e; /* 14 .. 23 */
    uint32_t h = man >> shift;
    uint32_t rest = man & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

float vox_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1fu) return bits_f32(sign | 0x7f800000u | (man << 13)); /* inf, NaN */
    if (exp != 0) return bits_f32(sign | (exp + 112u) << 23 | (man << 13));
    if (man == 0) return bits_f32(sign);
    /* Subnormal: man * 2^-24 is exact in f32. */
    float v = (float)man * 0x1p-24f;
    return sign ? -v : v;
}

/* ---- small helpers -------------------------------------------------------- */

static uint16_t load_u16(const unsigned char *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static float load_f32(const unsigned char *p) {
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Round to nearest, ties to even.  Non-finite or huge inputs, which only
 * garbage data produce, saturate instead of invoking undefined conversions. */
static int nearest_int(float v) {
    if (!(v == v)) return 0;
    if (v > 4194303.0f) return 4194303;
    if (v < -4194303.0f) return -4194303;
    return (int)rintf(v);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Sub-block s's 6-bit scale and min from the packed 12 bytes (layout in quant.h). */
static void q4k_scale_min(int s, const uint8_t *p, int *sc, int *m) {
    if (s < 4) {
        *sc = p[s] & 63;
        *m = p[s + 4] & 63;
    } else {
        *sc = (p[s + 4] & 15) | ((p[s - 4] >> 6) << 4);
        *m = (p[s + 4] >> 4) | ((p[s] >> 6) << 4);
    }
}

/* ---- block geometry ------------------------------------------------------- */

int64_t vox_quant_block_size(vox_dtype t) {
    switch (t) {
    case VOX_F32:
    case VOX_BF16:
    case VOX_F16: return 1;
    case VOX_Q8_0: return VOX_QK8_0;
    case VOX_Q4_K: return VOX_QK_K;
    }
    return 0;
}

size_t vox_quant_block_bytes(vox_dtype t) {
    switch (t) {
    case VOX_F32: return 4;
    case VOX_BF16:
    case VOX_F16: return 2;
    case VOX_Q8_0: return VOX_Q8_0_BYTES;
    case VOX_Q4_K: return VOX_Q4_K_BYTES;
    }
    return 0;
}

static int valid_len(vox_dtype t, int64_t n) {
    int64_t bs = vox_quant_block_size(t);
    return bs > 0 && n >= 0 && n % bs == 0;
}

/* ---- Q8_0 -----------------------------------------------------------------
 * The scale is the block's largest magnitude over 127, rounded to fp16 first;
 * the values are then quantized against that stored scale (not the unrounded
 * one), ties to even, so every quant is the nearest level of the grid a reader
 * decodes.  The largest value may land a hair past 127 when fp16 rounded the
 * scale down: the clamp keeps the quants symmetric in -127..127. */

static void quantize_q8_0(const float *x, unsigned char *out, int64_t n) {
    for (int64_t i = 0; i < n / VOX_QK8_0; i++, x += VOX_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < VOX_QK8_0; j++) {
            float a = fabsf(x[j]);
            if (a > amax) amax = a;
        }
        vox_block_q8_0 b;
        b.d = vox_fp32_to_fp16(amax / 127.0f);
        const float d = vox_fp16_to_fp32(b.d);
        const float inv = d > 0.0f && d <= FLT_MAX ? 1.0f / d : 0.0f;
        for (int j = 0; j < VOX_QK8_0; j++) b.qs[j] = (int8_t)clampi(nearest_int(x[j] * inv), -127, 127);
        memcpy(out + (size_t)i * VOX_Q8_0_BYTES, &b, sizeof b);
    }
}

static void dequantize_q8_0(const unsigned char *in, float *y, int64_t n) {
    for (int64_t i = 0; i < n / VOX_QK8_0; i++, y += VOX_QK8_0) {
        vox_block_q8_0 b;
        memcpy(&b, in + (size_t)i * VOX_Q8_0_BYTES, sizeof b);
        float d = vox_fp16_to_fp32(b.d);
        for (int j = 0; j < VOX_QK8_0; j++) y[j] = (float)b.qs[j] * d;
    }
}

/* ---- Q4_K ----------------------------------------------------------------- */

/* Our Q4_K quantizer.  A sub-block of 32 values is stored on an affine grid
 * x ~ s*L - m with levels L = 0..15, step s >= 0 and offset m >= 0; the eight
 * (s, m) pairs of a super-block are themselves stored as 6-bit multiples of
 * two fp16 units d and dmin.  We minimise the plain squared error (the
 * quantity a matrix product's error grows with) in three steps:
 *
 *  1. Per sub-block, the continuous fit: alternate between the two halves of
 *     the problem that are easy on their own.  For a fixed grid the best level
 *     of each value is its rounded grid position; for fixed levels the best
 *     (s, m) is a least-squares line through the points (L_i, x_i), with m
 *     held at 0 when the line would want a positive offset.  Each round can only
 *     lower the error, so a few rounds reach a fixed point.  Rounding makes the
 *     fixed point depend on the start, so we start from the full range
 *     [min(x, 0), max(x)] and from the ranges that give up the single most
 *     extreme value at one or both ends (an outlier otherwise stretches all 16
 *     levels), and keep the best.
 *  2. The units d = max s / 63 and dmin = max m / 63 (as stored, fp16).
 *  3. Per sub-block, the 6-bit pair: the integers around s/d and m/dmin are
 *     each tried with the levels re-rounded on the grid they decode to, and the
 *     pair with the smallest actual error wins.  This corrects what the coarse
 *     6-bit rounding of step 2 would otherwise cost.
 *
 * All arithmetic on sums is in double; inputs with NaN or infinities (garbage)
 * produce some block without undefined behaviour. */

enum { Q4K_SUB = 32, Q4K_LEVELS = 15, Q4K_FIT_ROUNDS = 6 };

/* Levels of x on the grid (s, m) and the squared error they leave. */
static double grid_levels(const float *x, float s, float m, uint8_t *L) {
    const float inv = s > 0.0f && s <= FLT_MAX ? 1.0f / s : 0.0f;
    double err = 0.0;
    for (int i = 0; i < Q4K_SUB; i++) {
        /* Clamp to the level range first (NaN to 0), then round to nearest
         * even by adding and removing 1.5*2^23: exact for |v| <= 2^22. */
        float v = (x[i] + m) * inv;
        v = v > 0.0f ? v : 0.0f;
        v = v < (float)Q4K_LEVELS ? v : (float)Q4K_LEVELS;
        v = (v + 12582912.0f) - 12582912.0f;
        L[i] = (uint8_t)v;
        float e = s * v - m - x[i];
        err += (double)(e * e);
    }
    return err;
}

/* Least-squares (s, m) for fixed levels: minimise sum (s*L_i - m - x_i)^2 with
 * s >= 0 and m >= 0.  Unconstrained, the normal equations give the line; if
 * its offset is positive (m < 0) the best feasible line passes through the
 * origin, and if its slope is negative the best is flat at the (clamped) mean. */
static void line_fit(const float *x, const uint8_t *L, float *s_out, float *m_out) {
    double sl = 0, sll = 0, sx = 0, slx = 0;
    for (int i = 0; i < Q4K_SUB; i++) {
        sl += L[i];
        sll += (double)L[i] * L[i];
        sx += x[i];
        slx += (double)L[i] * x[i];
    }
    const double n = Q4K_SUB, det = n * sll - sl * sl;
    double s = 0, b = sx / n; /* x ~ s*L + b, m = -b */
    if (det > 0) {
        s = (n * slx - sl * sx) / det;
        b = (sx - s * sl) / n;
    }
    if (b > 0) { /* the offset must not be positive: fit through the origin */
        b = 0;
        s = sll > 0 ? slx / sll : 0;
    }
    if (!(s > 0)) { /* no usable slope: a flat line at the mean, clamped */
        s = 0;
        b = fmin(sx / n, 0.0);
    }
    *s_out = (float)s;
    *m_out = (float)-b;
}

/* Step 1 for one sub-block: the best (s, m) over the starting ranges. */
static void fit_sub_block(const float *x, float *s_best, float *m_best) {
    int i_lo = 0, i_hi = 0; /* the extremes, then the runners-up without them */
    for (int i = 1; i < Q4K_SUB; i++) {
        if (x[i] < x[i_lo]) i_lo = i;
        if (x[i] > x[i_hi]) i_hi = i;
    }
    float lo = x[i_lo], hi = x[i_hi], lo2 = hi, hi2 = lo;
    for (int i = 0; i < Q4K_SUB; i++) {
        if (i != i_lo && x[i] < lo2) lo2 = x[i];
        if (i != i_hi && x[i] > hi2) hi2 = x[i];
    }
    lo = fminf(lo, 0.0f);
    lo2 = fminf(lo2, 0.0f);
    *s_best = 0.0f;
    *m_best = -lo;
    uint8_t L[Q4K_SUB];
    double best = grid_levels(x, 0.0f, -lo, L);
    const float starts[4][2] = {{lo, hi}, {lo, hi2}, {lo2, hi}, {lo2, hi2}};
    for (int k = 0; k < 4; k++) {
        float a = starts[k][0], z = starts[k][1];
        if (!(z > a)) continue;
        float s = (z - a) / (float)Q4K_LEVELS, m = -a;
        double err = grid_levels(x, s, m, L);
        for (int round = 0; round < Q4K_FIT_ROUNDS; round++) {
            float s2, m2;
            line_fit(x, L, &s2, &m2);
            uint8_t L2[Q4K_SUB];
            double e2 = grid_levels(x, s2, m2, L2);
            if (!(e2 < err)) break;
            err = e2, s = s2, m = m2;
            memcpy(L, L2, sizeof L);
        }
        if (err < best) best = err, *s_best = s, *m_best = m;
    }
}

/* Pack sub-block j's 6-bit scale and min into the 12 scale bytes (layout in quant.h). */
static void q4k_put_scale_min(uint8_t *p, int j, int sc, int m) {
    if (j < 4) {
        p[j] = (uint8_t)((p[j] & 0xC0) | sc);
        p[j + 4] = (uint8_t)((p[j + 4] & 0xC0) | m);
    } else {
        p[j + 4] = (uint8_t)((sc & 15) | ((m & 15) << 4));
        p[j - 4] = (uint8_t)((p[j - 4] & 63) | ((sc >> 4) << 6));
        p[j] = (uint8_t)((p[j] & 63) | ((m >> 4) << 6));
    }
}

/* The integer nearest v (>= 0), clamped to 0..63; 0 for a unit of 0. */
static int six_bit(float v, float unit) {
    return unit > 0.0f && unit <= FLT_MAX ? clampi(nearest_int(v / unit), 0, 63) : 0;
}

static void quantize_q4_k_block(const float *x, vox_block_q4_k *b) {
    float s[8], m[8], s_max = 0.0f, m_max = 0.0f;
    for (int j = 0; j < 8; j++) {
        fit_sub_block(x + Q4K_SUB * j, &s[j], &m[j]);
        if (s[j] > s_max) s_max = s[j];
        if (m[j] > m_max) m_max = m[j];
    }
    b->d = vox_fp32_to_fp16(s_max / 63.0f);
    b->dmin = vox_fp32_to_fp16(m_max / 63.0f);
    const float d = vox_fp16_to_fp32(b->d), dmin = vox_fp16_to_fp32(b->dmin);
    memset(b->scales, 0, sizeof b->scales);
    uint8_t L[VOX_QK_K], cand[Q4K_SUB];
    for (int j = 0; j < 8; j++) {
        const float *xs = x + Q4K_SUB * j;
        const int sc0 = six_bit(s[j], d), m0 = six_bit(m[j], dmin);
        int best_sc = sc0, best_m = m0;
        double best = INFINITY;
        for (int dsc = -1; dsc <= 1; dsc++)
            for (int dm = -1; dm <= 1; dm++) {
                const int sc = sc0 + dsc, mi = m0 + dm;
                if (sc < 0 || sc > 63 || mi < 0 || mi > 63) continue;
                const double err = grid_levels(xs, d * (float)sc, dmin * (float)mi, cand);
                if (err < best) {
                    best = err, best_sc = sc, best_m = mi;
                    memcpy(L + Q4K_SUB * j, cand, sizeof cand);
                }
            }
        if (best == INFINITY) grid_levels(xs, d * (float)best_sc, dmin * (float)best_m, L + Q4K_SUB * j);
        q4k_put_scale_min(b->scales, j, best_sc, best_m);
    }
    /* Sub-blocks 2k and 2k+1 share bytes qs[32k..32k+31]: low and high nibbles. */
    for (int k = 0; k < 4; k++)
        for (int l = 0; l < Q4K_SUB; l++)
            b->qs[32 * k + l] = (uint8_t)(L[64 * k + l] | (L[64 * k + 32 + l] << 4));
}

static void quantize_q4_k(const float *x, unsigned char *out, int64_t n) {
    for (int64_t i = 0; i < n / VOX_QK_K; i++) {
        vox_block_q4_k b;
        quantize_q4_k_block(x + i * VOX_QK_K, &b);
        memcpy(out + (size_t)i * VOX_Q4_K_BYTES, &b, sizeof b);
    }
}

static void dequantize_q4_k(const unsigned char *in, float *y, int64_t n) {
    for (int64_t i = 0; i < n / VOX_QK_K; i++) {
        vox_block_q4_k b;
        memcpy(&b, in + (size_t)i * VOX_Q4_K_BYTES, sizeof b);
        float d = vox_fp16_to_fp32(b.d), dmin = vox_fp16_to_fp32(b.dmin);
        for (int s = 0; s < 8; s++) {
            int sc, m;
            q4k_scale_min(s, b.scales, &sc, &m);
            float ds = d * (float)sc, dm = dmin * (float)m;
            const uint8_t *q = b.qs + 32 * (s / 2);
            int shift = (s & 1) * 4;
            for (int l = 0; l < 32; l++) *y++ = ds * (float)((q[l] >> shift) & 15) - dm;
        }
    }
}

/* ---- dispatch ------------------------------------------------------------- */

int vox_quantize_row(vox_dtype t, const float *x, void *out, int64_t n) {
    if (!valid_len(t, n) || (n > 0 && (!x || !out))) return VOX_E_ARG;
    unsigned char *o = out;
    switch (t) {
    case VOX_F32:
        if (n) memcpy(o, x, (size_t)n * sizeof(float));
        return VOX_OK;
    case VOX_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = vox_f32_to_bf16(x[i]);
            memcpy(o + 2 * (size_t)i, &h, 2);
        }
        return VOX_OK;
    case VOX_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = vox_fp32_to_fp16(x[i]);
            memcpy(o + 2 * (size_t)i, &h, 2);
        }
        return VOX_OK;
    case VOX_Q8_0: quantize_q8_0(x, o, n); return VOX_OK;
    case VOX_Q4_K: quantize_q4_k(x, o, n); return VOX_OK;
    }
    return VOX_E_ARG;
}

int vox_dequantize_row(vox_dtype t, const void *in, float *y, int64_t n) {
    if (!valid_len(t, n) || (n > 0 && (!in || !y))) return VOX_E_ARG;
    const unsigned char *p = in;
    switch (t) {
    case VOX_F32:
        if (n) memcpy(y, p, (size_t)n * sizeof(float));
        return VOX_OK;
    case VOX_BF16:
        for (int64_t i = 0; i < n; i++) y[i] = vox_bf16_to_f32(load_u16(p + 2 * (size_t)i));
        return VOX_OK;
    case VOX_F16:
        for (int64_t i = 0; i < n; i++) y[i] = vox_fp16_to_fp32(load_u16(p + 2 * (size_t)i));
        return VOX_OK;
    case VOX_Q8_0: dequantize_q8_0(p, y, n); return VOX_OK;
    case VOX_Q4_K: dequantize_q4_k(p, y, n); return VOX_OK;
    }
    return VOX_E_ARG;
}

/* ---- reference dot products ----------------------------------------------- */

float vox_vec_dot_f32_f32(int64_t n, const void *w, const float *x) {
    if (n < 0) return NAN;
    const unsigned char *p = w;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += load_f32(p + 4 * (size_t)i) * x[i];
    return sum;
}

float vox_vec_dot_f16_f32(int64_t n, const void *w, const float *x) {
    if (n < 0) return NAN;
    const unsigned char *p = w;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += vox_fp16_to_fp32(load_u16(p + 2 * (size_t)i)) * x[i];
    return sum;
}

float vox_vec_dot_bf16_f32(int64_t n, const void *w, const float *x) {
    if (n < 0) return NAN;
    const unsigned char *p = w;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += vox_bf16_to_f32(load_u16(p + 2 * (size_t)i)) * x[i];
    return sum;
}

float vox_vec_dot_q8_0_f32(int64_t n, const void *w, const float *x) {
    if (!valid_len(VOX_Q8_0, n)) return NAN;
    const unsigned char *p = w;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / VOX_QK8_0; i++, x += VOX_QK8_0) {
        vox_block_q8_0 b;
        memcpy(&b, p + (size_t)i * VOX_Q8_0_BYTES, sizeof b);
        float d = vox_fp16_to_fp32(b.d);
        for (int j = 0; j < VOX_QK8_0; j++) sum += ((float)b.qs[j] * d) * x[j];
    }
    return sum;
}

float vox_vec_dot_q4_k_f32(int64_t n, const void *w, const float *x) {
    if (!valid_len(VOX_Q4_K, n)) return NAN;
    const unsigned char *p = w;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / VOX_QK_K; i++) {
        vox_block_q4_k b;
        memcpy(&b, p + (size_t)i * VOX_Q4_K_BYTES, sizeof b);
        float d = vox_fp16_to_fp32(b.d), dmin = vox_fp16_to_fp32(b.dmin);
        for (int s = 0; s < 8; s++) {
            int sc, m;
            q4k_scale_min(s, b.scales, &sc, &m);
            float ds = d * (float)sc, dm = dmin * (float)m;
            const uint8_t *q = b.qs + 32 * (s / 2);
            int shift = (s & 1) * 4;
            for (int l = 0; l < 32; l++) sum += (ds * (float)((q[l] >> shift) & 15) - dm) * *x++;
        }
    }
    return sum;
}

float vox_vec_dot_f32(vox_dtype t, int64_t n, const void *w, const float *x) {
    switch (t) {
    case VOX_F32: return vox_vec_dot_f32_f32(n, w, x);
    case VOX_BF16: return vox_vec_dot_bf16_f32(n, w, x);
    case VOX_F16: return vox_vec_dot_f16_f32(n, w, x);
    case VOX_Q8_0: return vox_vec_dot_q8_0_f32(n, w, x);
    case VOX_Q4_K: return vox_vec_dot_q4_k_f32(n, w, x);
    }
    return NAN;
}

/* ---- Q8_K activations and integer dot products ---------------------------- */

/* Q8_K (activations): a symmetric grid over the super-block, step d = amax/127,
 * values rounded to the nearest step (ties to even) and kept in -127..127;
 * bsums[g] is the sum of quants 16g .. 16g+15. */
int vox_quantize_row_q8_k(const float *x, void *out, int64_t n) {
    if (n < 0 || n % VOX_QK_K != 0 || (n > 0 && (!x || !out))) return VOX_E_ARG;
    unsigned char *o = out;
    for (int64_t i = 0; i < n / VOX_QK_K; i++, x += VOX_QK_K) {
        vox_block_q8_k b;
        memset(&b, 0, sizeof b);
        float amax = 0.0f;
        for (int j = 0; j < VOX_QK_K; j++) {
            float a = fabsf(x[j]);
            if (a > amax) amax = a;
        }
        if (amax > 0.0f) {
            const float inv = amax <= FLT_MAX ? 127.0f / amax : 0.0f;
            for (int j = 0; j < VOX_QK_K; j++) b.qs[j] = (int8_t)clampi(nearest_int(x[j] * inv), -127, 127);
            for (int j = 0; j < VOX_QK_K; j++) b.bsums[j / 16] = (int16_t)(b.bsums[j / 16] + b.qs[j]);
            b.d = amax / 127.0f;
        }
        memcpy(o + (size_t)i * VOX_Q8_K_BYTES, &b, sizeof b);
    }
    return VOX_OK;
}

int vox_dequantize_row_q8_k(const void *in, float *y, int64_t n) {
    if (n < 0 || n % VOX_QK_K != 0 || (n > 0 && (!in || !y))) return VOX_E_ARG;
    const unsigned char *p = in;
    for (int64_t i = 0; i < n / VOX_QK_K; i++, y += VOX_QK_K) {
        vox_block_q8_k b;
        memcpy(&b, p + (size_t)i * VOX_Q8_K_BYTES, sizeof b);
        for (int j = 0; j < VOX_QK_K; j++) y[j] = b.d * (float)b.qs[j];
    }
    return VOX_OK;
}

float vox_vec_dot_q8_0_q8_0(int64_t n, const void *w, const void *xq) {
    if (!valid_len(VOX_Q8_0, n)) return NAN;
    const unsigned char *pw = w, *px = xq;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / VOX_QK8_0; i++) {
        vox_block_q8_0 a, b;
        memcpy(&a, pw + (size_t)i * VOX_Q8_0_BYTES, sizeof a);
        memcpy(&b, px + (size_t)i * VOX_Q8_0_BYTES, sizeof b);
        int32_t sumi = 0;
        for (int j = 0; j < VOX_QK8_0; j++) sumi += (int32_t)a.qs[j] * (int32_t)b.qs[j];
        sum += (float)sumi * (vox_fp16_to_fp32(a.d) * vox_fp16_to_fp32(b.d));
    }
    return sum;
}

/* Per super-block: sum_i w_i x_i with w_i = d*sc*q_i - dmin*m and x_i = dx*q8_i
 *   = dx*d * sum_s sc_s * (sum_{i in s} q_i q8_i) - dx*dmin * sum_s m_s * (sum_{i in s} q8_i)
 * and the inner sums of q8 over each 32-value sub-block are two bsums. */
float vox_vec_dot_q4_k_q8_k(int64_t n, const void *w, const void *xq) {
    if (!valid_len(VOX_Q4_K, n)) return NAN;
    const unsigned char *pw = w, *px = xq;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / VOX_QK_K; i++) {
        vox_block_q4_k a;
        vox_block_q8_k b;
        memcpy(&a, pw + (size_t)i * VOX_Q4_K_BYTES, sizeof a);
        memcpy(&b, px + (size_t)i * VOX_Q8_K_BYTES, sizeof b);
        int32_t sumi = 0, summ = 0;
        for (int s = 0; s < 8; s++) {
            int sc, m;
            q4k_scale_min(s, a.scales, &sc, &m);
            const uint8_t *q = a.qs + 32 * (s / 2);
            const int8_t *q8 = b.qs + 32 * s;
            int shift = (s & 1) * 4;
            int32_t dot = 0;
            for (int l = 0; l < 32; l++) dot += (int32_t)((q[l] >> shift) & 15) * (int32_t)q8[l];
            sumi += sc * dot;
            summ += m * ((int32_t)b.bsums[2 * s] + (int32_t)b.bsums[2 * s + 1]);
        }
        sum += (vox_fp16_to_fp32(a.d) * b.d) * (float)sumi - (vox_fp16_to_fp32(a.dmin) * b.d) * (float)summ;
    }
    return sum;
}
