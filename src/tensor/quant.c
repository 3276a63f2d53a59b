/* quant.c — the scalar reference implementation of the ggml-compatible formats
 * declared in quant.h: half-precision conversion, Q8_0 / Q4_K / Q8_K quantizers
 * and dequantizers, and the reference dot products.
 *
 * The quantizers reproduce the arithmetic of ggml's reference quantizers (same
 * formulas, same order of float operations, same round-to-nearest-even helper)
 * so a tensor quantized here has the bytes llama.cpp's reference path would give.
 * Blocks are assembled in a local struct and copied out with memcpy, so the
 * caller's buffers may have any alignment. */
#include "tensor/quant.h"

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

/* Round to nearest, ties to even (what ggml's nearest_int computes with its
 * 1.5*2^23 trick for |v| < 2^22).  Non-finite or huge inputs, which only garbage
 * data produce, saturate instead of invoking undefined conversions. */
static int nearest_int(float v) {
    if (!(v == v)) return 0;
    if (v > 4194303.0f) return 4194303;
    if (v < -4194303.0f) return -4194303;
    return (int)rintf(v);
}

/* Round half away from zero (C's roundf, which ggml's Q8_0 quantizer uses), with
 * the same saturation. */
static int round_away(float v) {
    if (!(v == v)) return 0;
    if (v > 4194303.0f) return 4194303;
    if (v < -4194303.0f) return -4194303;
    return (int)roundf(v);
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

/* ---- Q8_0 ----------------------------------------------------------------- */

static void quantize_q8_0(const float *x, unsigned char *out, int64_t n) {
    for (int64_t i = 0; i < n / VOX_QK8_0; i++, x += VOX_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < VOX_QK8_0; j++) {
            float a = fabsf(x[j]);
            if (a > amax) amax = a;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        vox_block_q8_0 b;
        b.d = vox_fp32_to_fp16(d);
        /* |x*id| <= 127 up to one rounding, so the clamp only guards garbage. */
        for (int j = 0; j < VOX_QK8_0; j++) b.qs[j] = (int8_t)clampi(round_away(x[j] * id), -128, 127);
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

/* Fit x[i] ~ scale * L[i] - mn with L[i] in 0..nmax, minimising the weighted
 * squared error (ggml's make_qkx2_quants with use_mad = false).  Starts from the
 * plain min/max grid, then tries nstep+1 slightly different grid densities and, for
 * each, solves the 2x2 weighted least-squares problem for (scale, min) in closed
 * form; keeps the best.  The minimum is clamped to <= 0 (the stored "min" m is
 * its negation, so m >= 0).  Returns the scale; *the_min receives m. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
                           float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep) {
    float mn = x[0], mx = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (mn > 0) mn = 0;
    if (mx == mn) {
        memset(L, 0, (size_t)n);
        *the_min = -mn;
        return 0.0f;
    }
    float iscale = (float)nmax / (mx - mn);
    float scale = 1.0f / iscale;
    float best = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest_int(iscale * (x[i] - mn)), 0, nmax);
        L[i] = (uint8_t)l;
        float diff = scale * (float)l + mn - x[i];
        best += w[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (mx - mn);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest_int(iscale * (x[i] - mn)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float wl = w[i] * (float)l;
            sum_l += wl;
            sum_l2 += wl * (float)l;
            sum_xl += wl * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float err = 0.0f;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                err += w[i] * (diff * diff);
            }
            if (err < best) {
                memcpy(L, Laux, (size_t)n);
                best = err;
                scale = this_scale;
                mn = this_min;
            }
        }
    }
    *the_min = -mn;
    return scale;
}

static void quantize_q4_k_block(const float *x, vox_block_q4_k *b) {
    uint8_t L[VOX_QK_K], Laux[32];
    float w[32], scales[8], mins[8];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        /* Weights favour large-magnitude values: rms of the sub-block + |x|. */
        float sum_x2 = 0.0f;
        for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
        float av_x = sqrtf(sum_x2 / 32.0f);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
        scales[j] = fit_scale_min(32, 15, xs, w, L + 32 * j, &mins[j], Laux, -1.0f, 0.1f, 20);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    /* 6-bit sub-block scales and mins relative to the super-block maxima. */
    float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    memset(b->scales, 0, sizeof b->scales);
    for (int j = 0; j < 8; j++) {
        int ls = clampi(nearest_int(inv_scale * scales[j]), 0, 63);
        int lm = clampi(nearest_int(inv_min * mins[j]), 0, 63);
        if (j < 4) {
            b->scales[j] = (uint8_t)ls;
            b->scales[j + 4] = (uint8_t)lm;
        } else {
            b->scales[j + 4] = (uint8_t)((ls & 15) | ((lm & 15) << 4));
            b->scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            b->scales[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    b->d = vox_fp32_to_fp16(max_scale / 63.0f);
    b->dmin = vox_fp32_to_fp16(max_min / 63.0f);
    /* Requantize against the scales as they will be decoded (fp16 d, 6-bit sc). */
    float d_all = vox_fp16_to_fp32(b->d), dmin_all = vox_fp16_to_fp32(b->dmin);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        q4k_scale_min(j, b->scales, &sc, &m);
        float d = d_all * (float)sc;
        if (d == 0.0f) continue; /* every value decodes to -dm: keep the fit's L */
        float dm = dmin_all * (float)m;
        for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)clampi(nearest_int((x[32 * j + l] + dm) / d), 0, 15);
    }
    for (int k = 0; k < 4; k++)
        for (int l = 0; l < 32; l++)
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

int vox_quantize_row_q8_k(const float *x, void *out, int64_t n) {
    if (n < 0 || n % VOX_QK_K != 0 || (n > 0 && (!x || !out))) return VOX_E_ARG;
    unsigned char *o = out;
    for (int64_t i = 0; i < n / VOX_QK_K; i++, x += VOX_QK_K) {
        vox_block_q8_k b;
        memset(&b, 0, sizeof b);
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < VOX_QK_K; j++) {
            float a = fabsf(x[j]);
            if (a > amax) {
                amax = a;
                max = x[j];
            }
        }
        if (amax != 0.0f) {
            /* The signed extreme maps to exactly -127, so every quant fits in
             * -127..127 (the upper clamp catches a rounding to 128). */
            float iscale = -127.0f / max;
            for (int j = 0; j < VOX_QK_K; j++) b.qs[j] = (int8_t)clampi(nearest_int(iscale * x[j]), -128, 127);
            for (int g = 0; g < VOX_QK_K / 16; g++) {
                int sum = 0;
                for (int l = 0; l < 16; l++) sum += b.qs[16 * g + l];
                b.bsums[g] = (int16_t)sum;
            }
            b.d = 1.0f / iscale;
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
