/* tensor.c — dtype facts and the plain (scalar) conversions of a vox_tensor to f32.
 *
 * These are the reference routines that loaders, tests and the slow paths of the
 * model use to read a weight whatever its storage type: F32, BF16, F16 element
 * by element, and the ggml block formats Q8_0 (32 values: f16 scale + 32 int8)
 * and Q4_K (256 values in 144 bytes: f16 d, f16 dmin, 12 bytes of packed 6-bit
 * sub-block scales/mins, 128 bytes of 4-bit quants).  Loads go through memcpy so
 * a view whose data is not aligned to its element size is still read correctly. */
#include "tensor/tensor.h"

#include <string.h>

/* Block geometry of the quantized formats (ggml layout). */
enum { Q8_0_BLOCK = 32, Q8_0_BYTES = 2 + 32, Q4_K_BLOCK = 256, Q4_K_BYTES = 2 + 2 + 12 + 128 };

const char *vox_dtype_name(vox_dtype t) {
    switch (t) {
    case VOX_F32: return "F32";
    case VOX_BF16: return "BF16";
    case VOX_F16: return "F16";
    case VOX_Q8_0: return "Q8_0";
    case VOX_Q4_K: return "Q4_K";
    }
    return "unknown";
}

size_t vox_dtype_row_bytes(vox_dtype t, int64_t n) {
    if (n <= 0) return 0;
    size_t un = (size_t)n;
    switch (t) {
    case VOX_F32: return un * 4;
    case VOX_BF16:
    case VOX_F16: return un * 2;
    /* A partial trailing block still occupies a whole block. */
    case VOX_Q8_0: return (un + Q8_0_BLOCK - 1) / Q8_0_BLOCK * Q8_0_BYTES;
    case VOX_Q4_K: return (un + Q4_K_BLOCK - 1) / Q4_K_BLOCK * Q4_K_BYTES;
    }
    return 0;
}

int64_t vox_tensor_numel(const vox_tensor *t) {
    if (!t || t->ndim < 0 || t->ndim > VOX_MAX_DIMS) return 0;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0) return 0;
        n *= t->shape[i];
    }
    return n;
}

/* IEEE half -> float, exact for every input (subnormals, inf, NaN included). */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13); /* inf / NaN keep their payload */
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13); /* rebias 15 -> 127 */
    } else if (man == 0) {
        bits = sign; /* signed zero */
    } else {
        /* subnormal: normalise the mantissa */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while ((man & 0x400u) == 0);
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    union { uint32_t u; float f; } v;
    v.u = bits;
    return v.f;
}

static uint16_t load_u16(const unsigned char *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Convert the n values stored at `base` (for the block formats, base is the
 * start of a block: rows of a quantized tensor always start on one). */
static void convert_span(vox_dtype t, const unsigned char *base, int64_t n, float *out) {
    switch (t) {
    case VOX_F32:
        memcpy(out, base, (size_t)n * 4);
        return;
    case VOX_BF16:
        for (int64_t i = 0; i < n; i++) out[i] = vox_bf16_to_f32(load_u16(base + (size_t)i * 2));
        return;
    case VOX_F16:
        for (int64_t i = 0; i < n; i++) out[i] = f16_to_f32(load_u16(base + (size_t)i * 2));
        return;
    case VOX_Q8_0: {
        const unsigned char *b = base;
        for (int64_t i = 0; i < n; i += Q8_0_BLOCK, b += Q8_0_BYTES) {
            float d = f16_to_f32(load_u16(b));
            int64_t m = n - i < Q8_0_BLOCK ? n - i : Q8_0_BLOCK;
            for (int64_t j = 0; j < m; j++) out[i + j] = d * (float)(int8_t)b[2 + j];
        }
        return;
    }
    case VOX_Q4_K: {
        const unsigned char *b = base;
        for (int64_t i = 0; i < n; i += Q4_K_BLOCK, b += Q4_K_BYTES) {
            float d = f16_to_f32(load_u16(b));
            float dmin = f16_to_f32(load_u16(b + 2));
            const unsigned char *sc = b + 4, *q = b + 16;
            float tmp[Q4_K_BLOCK];
            /* 8 sub-blocks of 32 values; sub-blocks 2k and 2k+1 share 32 quant
             * bytes (low nibbles, then high nibbles).  Sub-block scales/mins are
             * 6 bits: the first four sit in the low 6 bits of sc[0..7], the last
             * four combine a nibble of sc[8..11] with the top 2 bits of sc[0..7]. */
            for (int s = 0; s < 8; s++) {
                int scale, min;
                if (s < 4) {
                    scale = sc[s] & 63;
                    min = sc[s + 4] & 63;
                } else {
                    scale = (sc[s + 4] & 0x0f) | ((sc[s - 4] >> 6) << 4);
                    min = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
                }
                const unsigned char *qq = q + (s / 2) * 32;
                float ds = d * (float)scale, dm = dmin * (float)min;
                for (int l = 0; l < 32; l++) {
                    int v = (s & 1) ? (qq[l] >> 4) : (qq[l] & 0x0f);
                    tmp[s * 32 + l] = ds * (float)v - dm;
                }
            }
            int64_t m = n - i < Q4_K_BLOCK ? n - i : Q4_K_BLOCK;
            memcpy(out + i, tmp, (size_t)m * sizeof(float));
        }
        return;
    }
    }
    memset(out, 0, (size_t)n * sizeof(float));
}

/* A 2-D weight [rows, cols] (or higher: the trailing dims form the row). 1-D
 * tensors are a single row. */
static int64_t row_len(const vox_tensor *w) {
    if (w->ndim <= 1) return w->ndim == 1 ? w->shape[0] : 1;
    return vox_tensor_numel(w) / (w->shape[0] > 0 ? w->shape[0] : 1);
}

void vox_tensor_get_row(const vox_tensor *w, int64_t row, float *out) {
    int64_t cols = row_len(w);
    int64_t rows = w->ndim <= 1 ? 1 : w->shape[0];
    size_t rb = vox_dtype_row_bytes(w->dtype, cols);
    if (row < 0 || row >= rows || !w->data || (size_t)(row + 1) * rb > w->nbytes) {
        /* Out-of-range request: callers validate, but never read out of bounds. */
        if (cols > 0) memset(out, 0, (size_t)cols * sizeof(float));
        return;
    }
    convert_span(w->dtype, (const unsigned char *)w->data + (size_t)row * rb, cols, out);
}

void vox_tensor_to_f32(const vox_tensor *w, float *out) {
    int64_t cols = row_len(w);
    int64_t rows = w->ndim <= 1 ? 1 : w->shape[0];
    for (int64_t r = 0; r < rows; r++) vox_tensor_get_row(w, r, out + (size_t)r * (size_t)cols);
}
