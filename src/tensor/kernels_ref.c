/* kernels_ref.c — the two portable kernel sets: the scalar reference ("ref")
 * and portable C written for the compiler to vectorise ("generic"), plus the
 * activation preparation shared by the generic, AVX2 and NEON sets.
 *
 * ref is the definition every other set is tested against:
 *   F32/BF16/F16: sum_i w_i*x_i with the weight widened to f32, accumulated
 *     left to right in one float;
 *   Q8_0: the activation row quantized to Q8_0 blocks (vox_quantize_row) and
 *     vox_vec_dot_q8_0_q8_0 (exact integer block sums, one float accumulator);
 *   Q4_K: the activation row quantized to Q8_K (vox_quantize_row_q8_k) and
 *     vox_vec_dot_q4_k_q8_k.
 * generic computes the quantized dtypes with the same float expressions in the
 * same order as ref (so it gives the very same bits), only faster: a weight
 * block is decoded once for all activation rows of the tile.  For F32/BF16/F16
 * it keeps 16 partial sums per (output, row) pair, reduced pairwise. */
#include <string.h>

#include "tensor/kernels_impl.h"
#include "tensor/quant.h"

/* ---- activation preparation ------------------------------------------------ */

void vox_prep_q8_0_block(const float *x, int8_t q[32], float *d) { vox_quant_q8_0_block_inline(x, q, d); }

void vox_prep_q8_k_block(const float *x, int8_t q[256], float *d, int16_t bsum[8]) {
    vox_quant_q8_k_block_inline(x, q, d, bsum);
}

size_t vox_prep_plain_q8_0_bytes(int64_t n) {
    return vox_round64((size_t)n) + vox_round64((size_t)(n / VOX_QK8_0) * sizeof(float));
}

void vox_prep_plain_q8_0(const float *x, int64_t n, void *out) {
    int8_t *q = out;
    float *d = (float *)((char *)out + vox_round64((size_t)n));
    for (int64_t b = 0; b < n / VOX_QK8_0; b++)
        vox_prep_q8_0_block(x + b * VOX_QK8_0, q + b * VOX_QK8_0, d + b);
}

size_t vox_prep_plain_q8_k_bytes(int64_t n) {
    return vox_round64((size_t)n) + vox_round64((size_t)(n / VOX_QK_K) * sizeof(float)) +
           vox_round64((size_t)(n / 32) * sizeof(int16_t));
}

void vox_prep_plain_q8_k(const float *x, int64_t n, void *out) {
    int8_t *q = out;
    float *d = (float *)((char *)out + vox_round64((size_t)n));
    int16_t *bs = (int16_t *)((char *)d + vox_round64((size_t)(n / VOX_QK_K) * sizeof(float)));
    for (int64_t b = 0; b < n / VOX_QK_K; b++)
        vox_prep_q8_k_block(x + b * VOX_QK_K, q + b * VOX_QK_K, d + b, bs + b * 8);
}

/* ---- reference -------------------------------------------------------------- */

static inline float weight_at(vox_dtype dt, const void *w, int64_t i) {
    const unsigned char *p = w;
    switch (dt) {
    case VOX_BF16: return vox_bf16_to_f32(vox_load_u16(p + 2 * i));
    case VOX_F16: return vox_fp16_to_fp32(vox_load_u16(p + 2 * i));
    default: {
        float f;
        memcpy(&f, p + 4 * i, sizeof f);
        return f;
    }
    }
}

static void ref_tile_float(vox_dtype dt, const void *w, size_t w_stride, int n_out, const void *x,
                           size_t x_stride, int n_rows, int64_t n, float *y, int64_t ldy) {
    for (int r = 0; r < n_rows; r++) {
        const float *xr = (const float *)((const char *)x + (size_t)r * x_stride);
        for (int o = 0; o < n_out; o++) {
            const void *wo = (const char *)w + (size_t)o * w_stride;
            float s = 0.0f;
            for (int64_t i = 0; i < n; i++) s += weight_at(dt, wo, i) * xr[i];
            y[(int64_t)r * ldy + o] = s;
        }
    }
}

#define FLOAT_TILE(name, dt)                                                                      \
    static void name(const void *w, size_t w_stride, int n_out, const void *x, size_t x_stride, \
                     int n_rows, int64_t n, float *y, int64_t ldy) {                              \
        ref_tile_float(dt, w, w_stride, n_out, x, x_stride, n_rows, n, y, ldy);                   \
    }
FLOAT_TILE(ref_tile_f32, VOX_F32)
FLOAT_TILE(ref_tile_bf16, VOX_BF16)
FLOAT_TILE(ref_tile_f16, VOX_F16)

static size_t ref_prep_q8_0_bytes(int64_t n) {
    return vox_round64((size_t)(n / VOX_QK8_0) * VOX_Q8_0_BYTES);
}
static void ref_prep_q8_0(const float *x, int64_t n, void *out) { vox_quantize_row(VOX_Q8_0, x, out, n); }
static size_t ref_prep_q8_k_bytes(int64_t n) { return vox_round64((size_t)(n / VOX_QK_K) * VOX_Q8_K_BYTES); }
static void ref_prep_q8_k(const float *x, int64_t n, void *out) { vox_quantize_row_q8_k(x, out, n); }

static void ref_tile_q8_0(const void *w, size_t w_stride, int n_out, const void *x, size_t x_stride,
                          int n_rows, int64_t n, float *y, int64_t ldy) {
    for (int r = 0; r < n_rows; r++)
        for (int o = 0; o < n_out; o++)
            y[(int64_t)r * ldy + o] = vox_vec_dot_q8_0_q8_0(n, (const char *)w + (size_t)o * w_stride,
                                                            (const char *)x + (size_t)r * x_stride);
}

static void ref_tile_q4_k(const void *w, size_t w_stride, int n_out, const void *x, size_t x_stride,
                          int n_rows, int64_t n, float *y, int64_t ldy) {
    for (int r = 0; r < n_rows; r++)
        for (int o = 0; o < n_out; o++)
            y[(int64_t)r * ldy + o] = vox_vec_dot_q4_k_q8_k(n, (const char *)w + (size_t)o * w_stride,
                                                            (const char *)x + (size_t)r * x_stride);
}

const vox_kernel_set vox_kernels_ref = {
    "ref",
    {
        [VOX_F32] = {.tile = ref_tile_f32},
        [VOX_BF16] = {.tile = ref_tile_bf16},
        [VOX_F16] = {.tile = ref_tile_f16},
        [VOX_Q8_0] = {.tile = ref_tile_q8_0, .prep = ref_prep_q8_0, .prep_bytes = ref_prep_q8_0_bytes},
        [VOX_Q4_K] = {.tile = ref_tile_q4_k, .prep = ref_prep_q8_k, .prep_bytes = ref_prep_q8_k_bytes},
    },
};

/* ---- generic: float weights ---------------------------------------------------
 * Per (output, row) pair 16 partial sums, element i going to sum i % 16 (the
 * tail too), reduced as ((s0+s8)+(s4+s12)) ... pairwise.  Up to 4 activation
 * rows share each converted block of 16 weights. */

static inline void widen16(vox_dtype dt, const unsigned char *p, float *wf) {
    for (int j = 0; j < 16; j++) wf[j] = weight_at(dt, p, j);
}

static inline float sum16(const float *a) {
    float s8[8], s4[4];
    for (int j = 0; j < 8; j++) s8[j] = a[j] + a[j + 8];
    for (int j = 0; j < 4; j++) s4[j] = s8[j] + s8[j + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

static void generic_tile_float(vox_dtype dt, const void *w, size_t w_stride, int n_out,
                               const void *x, size_t x_stride, int n_rows, int64_t n, float *y,
                               int64_t ldy) {
    const size_t es = dt == VOX_F32 ? 4 : 2;
    for (int o = 0; o < n_out; o++) {
        const unsigned char *wo = (const unsigned char *)w + (size_t)o * w_stride;
        for (int r0 = 0; r0 < n_rows; r0 += 4) {
            const int R = n_rows - r0 < 4 ? n_rows - r0 : 4;
            const float *xr[4];
            for (int r = 0; r < R; r++)
                xr[r] = (const float *)((const char *)x + (size_t)(r0 + r) * x_stride);
            float acc[4][16] = {{0}};
            float wf[16];
            int64_t i = 0;
            for (; i + 16 <= n; i += 16) {
                widen16(dt, wo + (size_t)i * es, wf);
                for (int r = 0; r < R; r++)
                    for (int j = 0; j < 16; j++) acc[r][j] += wf[j] * xr[r][i + j];
            }
            for (int64_t j = 0; i + j < n; j++) {
                float wv = weight_at(dt, wo, i + j);
                for (int r = 0; r < R; r++) acc[r][j] += wv * xr[r][i + j];
            }
            for (int r = 0; r < R; r++) y[(int64_t)(r0 + r) * ldy + o] = sum16(acc[r]);
        }
    }
}

#define GENERIC_FLOAT_TILE(name, dt)                                                              \
    static void name(const void *w, size_t w_stride, int n_out, const void *x, size_t x_stride, \
                     int n_rows, int64_t n, float *y, int64_t ldy) {                              \
        generic_tile_float(dt, w, w_stride, n_out, x, x_stride, n_rows, n, y, ldy);               \
    }
GENERIC_FLOAT_TILE(generic_tile_f32, VOX_F32)
GENERIC_FLOAT_TILE(generic_tile_bf16, VOX_BF16)
GENERIC_FLOAT_TILE(generic_tile_f16, VOX_F16)

/* ---- generic: Q8_0 x Q8_0 -------------------------------------------------------
 * Weight block: fp16 d | int8 q[32]; activation (plain layout): int8 q[n] and
 * one float scale per 32.  Per pair: sum += (float)(sum_j qw*qx) * (dw*dx) over
 * the blocks in order, as vox_vec_dot_q8_0_q8_0. */

static void generic_tile_q8_0(const void *w, size_t w_stride, int n_out, const void *x,
                              size_t x_stride, int n_rows, int64_t n, float *y, int64_t ldy) {
    const int64_t nb = n / VOX_QK8_0;
    for (int o = 0; o < n_out; o++) {
        const unsigned char *wo = (const unsigned char *)w + (size_t)o * w_stride;
        float sum[VOX_TILE_ROWS] = {0};
        for (int64_t b = 0; b < nb; b++) {
            const unsigned char *blk = wo + (size_t)b * VOX_Q8_0_BYTES;
            const float dw = vox_fp16_to_fp32(vox_load_u16(blk));
            int8_t qw[VOX_QK8_0];
            memcpy(qw, blk + 2, VOX_QK8_0);
            for (int r = 0; r < n_rows; r++) {
                const char *xr = (const char *)x + (size_t)r * x_stride;
                const int8_t *qx = vox_plain_q(xr) + b * VOX_QK8_0;
                int32_t sumi = 0;
                for (int j = 0; j < VOX_QK8_0; j++) sumi += (int32_t)qw[j] * (int32_t)qx[j];
                sum[r] += (float)sumi * (dw * vox_plain_q8_0_d(xr, n)[b]);
            }
        }
        for (int r = 0; r < n_rows; r++) y[(int64_t)r * ldy + o] = sum[r];
    }
}

/* ---- generic: Q4_K x Q8_K -------------------------------------------------------
 * Per super-block the 256 nibbles are unpacked once (value 64k+l is the low
 * nibble of qs[32k+l], 64k+32+l the high one); per row the eight sub-block dot
 * products are combined with the 6-bit scales and the mins with the activation's
 * sub-block sums, in integers, then
 *   sum += (d*dx)*sumi - (dmin*dx)*summ            as vox_vec_dot_q4_k_q8_k. */

static void generic_tile_q4_k(const void *w, size_t w_stride, int n_out, const void *x,
                              size_t x_stride, int n_rows, int64_t n, float *y, int64_t ldy) {
    const int64_t nsb = n / VOX_QK_K;
    for (int o = 0; o < n_out; o++) {
        const unsigned char *wo = (const unsigned char *)w + (size_t)o * w_stride;
        float sum[VOX_TILE_ROWS] = {0};
        for (int64_t b = 0; b < nsb; b++) {
            const unsigned char *blk = wo + (size_t)b * VOX_Q4_K_BYTES;
            const float d = vox_fp16_to_fp32(vox_load_u16(blk));
            const float dmin = vox_fp16_to_fp32(vox_load_u16(blk + 2));
            uint64_t scw, mnw;
            vox_q4_k_scales(blk + 4, &scw, &mnw);
            uint8_t qv[VOX_QK_K];
            const unsigned char *qs = blk + 16;
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++) {
                    qv[64 * k + l] = qs[32 * k + l] & 15;
                    qv[64 * k + 32 + l] = qs[32 * k + l] >> 4;
                }
            for (int r = 0; r < n_rows; r++) {
                const char *xr = (const char *)x + (size_t)r * x_stride;
                const int8_t *qx = vox_plain_q(xr) + b * VOX_QK_K;
                const int16_t *bs = vox_plain_q8_k_bsum(xr, n) + b * 8;
                int32_t sumi = 0, summ = 0;
                for (int s = 0; s < 8; s++) {
                    int32_t dot = 0;
                    for (int l = 0; l < 32; l++) dot += (int32_t)qv[32 * s + l] * (int32_t)qx[32 * s + l];
                    sumi += (int32_t)((scw >> (8 * s)) & 0xff) * dot;
                    summ += (int32_t)((mnw >> (8 * s)) & 0xff) * (int32_t)bs[s];
                }
                const float dx = vox_plain_q8_k_d(xr, n)[b];
                sum[r] += (d * dx) * (float)sumi - (dmin * dx) * (float)summ;
            }
        }
        for (int r = 0; r < n_rows; r++) y[(int64_t)r * ldy + o] = sum[r];
    }
}

const vox_kernel_set vox_kernels_generic = {
    "generic",
    {
        [VOX_F32] = {.tile = generic_tile_f32},
        [VOX_BF16] = {.tile = generic_tile_bf16},
        [VOX_F16] = {.tile = generic_tile_f16},
        [VOX_Q8_0] = {.tile = generic_tile_q8_0, .prep = vox_prep_plain_q8_0, .prep_bytes = vox_prep_plain_q8_0_bytes},
        [VOX_Q4_K] = {.tile = generic_tile_q4_k, .prep = vox_prep_plain_q8_k, .prep_bytes = vox_prep_plain_q8_k_bytes},
    },
};
