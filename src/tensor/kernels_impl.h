/* kernels_impl.h — the private interface between the matmul driver (kernels.c)
 * and the per-instruction-set kernel files (kernels_ref.c, kernels_avx2.c,
 * kernels_avx512.c, kernels_avx512vnni.c, kernels_avxvnni.c, kernels_neon.c;
 * kernels_x86q.h holds the integer kernels the AVX2 and AVX-VNNI sets share).  Nothing outside
 * src/tensor/ includes this.
 *
 * A kernel set provides, per weight dtype, a *tile* routine and, for the
 * quantized dtypes, a *prep* routine:
 *
 *  - prep turns one f32 activation row into the set's own layout (Q8_0 blocks
 *    for Q8_0 weights, Q8_K super-blocks for Q4_K weights, both with exactly
 *    the integers and scales of the reference quantizers in quant.c,
 *    rearranged however the set's inner loop wants them; for BF16 weights in
 *    kernels_avx512bf16.c, a hi + lo split into two bf16 values).  The driver
 *    runs it once per input row per call, before the parallel split, into
 *    scratch memory; rows are prep_bytes(n) apart (a multiple of 64, so every
 *    prepared row is 64-byte aligned).
 *  - tile computes y[r*ldy + o] = dot(weight row o, activation row r) for
 *    o < n_out and r < n_rows <= VOX_TILE_ROWS.  Weight row o starts at
 *    (const char *)w + o*w_stride; activation row r at (const char *)x +
 *    r*x_stride, f32 for F32/BF16/F16 weights, prepared for Q8_0/Q4_K.  n is the
 *    row length in elements (a multiple of the block size for quantized
 *    weights).
 *
 * Packed weights.  A set may also offer, per dtype, a packed layout for
 * weights that are always multiplied with several input rows at once (the
 * flow head's 6-row batch, or for a layout that is faster for single rows too,
 * the backbone's): pack rearranges rows [0, n_out) of a weight
 * (row o at (const char *)w + o*w_stride, n elements) into groups of
 * pack_rows rows, pack_group_bytes(n) bytes each, the last group padded with
 * zero rows, in whatever order the set's tile_packed reads fastest (e.g. the
 * rows of a group interleaved block by block, so that the group streams from
 * memory as one sequential run).  tile_packed has tile's signature and
 * contract, with w the first group of the tile, w_stride the group size and
 * n_out counted in rows (a multiple of pack_rows unless the tile ends the
 * matrix); it reads the same prepared activation rows as tile and gives the
 * same bits as tile on the unpacked weights.
 *
 * Contract shared by every tile: the arithmetic that produces one (o, r) value
 * is a fixed sequence that does not depend on n_out, n_rows, the position in
 * the tile or the alignment of y, so results are bit-identical however the
 * driver groups rows and outputs or splits them over threads. */
#ifndef VOX_TENSOR_KERNELS_IMPL_H
#define VOX_TENSOR_KERNELS_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensor/quant.h"
#include "tensor/tensor.h"

#define VOX_TILE_ROWS 8 /* activation rows per tile call */
#define VOX_N_DTYPES 5  /* VOX_F32 .. VOX_Q4_K */

typedef void (*vox_tile_fn)(const void *w, size_t w_stride, int n_out, const void *x,
                            size_t x_stride, int n_rows, int64_t n, float *y, int64_t ldy);
typedef void (*vox_prep_fn)(const float *x, int64_t n, void *out);
typedef size_t (*vox_prep_bytes_fn)(int64_t n);

typedef void (*vox_pack_fn)(const void *w, size_t w_stride, int n_out, int64_t n, void *out);

typedef struct vox_dtype_kernel {
    vox_tile_fn tile;             /* NULL: the set has no kernel for this dtype */
    vox_prep_fn prep;             /* NULL: the tile reads f32 activation rows */
    vox_prep_bytes_fn prep_bytes; /* with prep */
    /* Optional packed layout (pack_rows 0: none), see "Packed weights" above;
     * it is used for weights whose products have at least pack_min_rows input
     * rows (1: it is faster even for single rows). */
    int pack_rows;
    int pack_min_rows;
    vox_prep_bytes_fn pack_group_bytes;
    vox_pack_fn pack;
    vox_tile_fn tile_packed;
    /* products of more than VOX_TILE_ROWS rows (a prompt) on the packed copy:
     * input rows per tile_packed call, the count its inner loop is fastest at
     * (0: VOX_TILE_ROWS) */
    int packed_tile_rows;
} vox_dtype_kernel;

typedef struct vox_kernel_set {
    const char *name;
    vox_dtype_kernel dt[VOX_N_DTYPES]; /* indexed by vox_dtype */
} vox_kernel_set;

/* The portable sets (kernels_ref.c), always present. */
extern const vox_kernel_set vox_kernels_ref;
extern const vox_kernel_set vox_kernels_generic;
/* Instruction-set sets: NULL when this build has no such code (other
 * architecture or compiler).  Callers check the CPU before using one. */
const vox_kernel_set *vox_kernels_avx2(void);       /* AVX2 + FMA + F16C, all dtypes */
const vox_kernel_set *vox_kernels_avx512(void);     /* AVX-512 F/BW/VL: F32, BF16, F16 */
const vox_kernel_set *vox_kernels_avx512vnni(void); /* + VNNI: Q8_0, Q4_K */
const vox_kernel_set *vox_kernels_avxvnni(void);      /* AVX2 + AVX-VNNI: Q8_0, Q4_K */
/* The same code built for AVX-512 VL + VNNI (EVEX vpdpbusd on ymm): the avxvnni
 * level on a CPU with AVX-512 VNNI and no AVX-VNNI (kernels_avxvnni_evex.c). */
const vox_kernel_set *vox_kernels_avxvnni_evex(void);
const vox_kernel_set *vox_kernels_avx512bf16(void); /* + BF16: BF16 (vdpbf16ps, prepared rows) */
const vox_kernel_set *vox_kernels_neon(void);       /* Advanced SIMD, all dtypes */
const vox_kernel_set *vox_kernels_neon_dot(void);   /* + dot product: Q8_0, Q4_K */
const vox_kernel_set *vox_kernels_neon_i8mm(void);  /* + dot product + i8mm: Q8_0, Q4_K */

/* vox_dot_f32 for the avx512 level (kernels_avx512.c; bit-identical to the
 * portable loop).  Only called after the CPU check. */
float vox_dot_f32_avx512(const float *a, const float *b, int n);
/* The same for the avx2 and avxvnni levels (kernels_avx2.c), and vox_axpy_f32
 * for both (elementwise: the same bits as the portable loop). */
float vox_dot_f32_avx2(const float *a, const float *b, int n);
void vox_axpy_f32_avx2(float *y, float a, const float *x, int n);
void vox_axpy_f32_avx512(float *y, float a, const float *x, int n);
/* vox_silu_mul on the x86 levels: exp by range reduction and a polynomial
 * (within a few ulp of libm's expf), the division and product as the scalar
 * loop does them. */
void vox_silu_mul_avx2(float *gate, const float *up, int n);
void vox_silu_mul_avx512(float *gate, const float *up, int n);
void vox_dot_rows_f32_avx2(const float *a, const float *rows, size_t stride, int n_rows, int n, float scale,
                           float *out);
void vox_axpy_rows_f32_avx2(float *y, const float *coef, const float *rows, size_t stride, int n_rows, int n);
void vox_dot_rows_f32_avx512(const float *a, const float *rows, size_t stride, int n_rows, int n, float scale,
                             float *out);
void vox_axpy_rows_f32_avx512(float *y, const float *coef, const float *rows, size_t stride, int n_rows, int n);

/* ---- helpers shared by the kernel files -------------------------------------- */

/* Forced inlining for the kernel files' building blocks, and row i of a strided array. */
#define VOX_INLINE static inline __attribute__((always_inline))
#define ROW(base, i, stride) ((const void *)((const char *)(base) + (size_t)(i) * (stride)))

/* A float-weight tile made of 2 output rows x 2 activation rows micro-kernels:
 * `float_micro(dt, w, ws, n_out<=2, x, xs, n_rows<=2, n, y, ldy)` is the file's
 * own, compiled for its instruction set. */
#define VOX_DEFINE_FLOAT_TILE_2X2(float_tile, float_micro)                                  \
    VOX_INLINE void float_tile(vox_dtype dt, const void *w, size_t ws, int n_out,           \
                               const void *x, size_t xs, int n_rows, int64_t n, float *y,   \
                               int64_t ldy) {                                               \
        for (int r0 = 0; r0 < n_rows; r0 += 2) {                                            \
            const int R = n_rows - r0 < 2 ? n_rows - r0 : 2;                                \
            const void *xr = ROW(x, r0, xs);                                                \
            float *yr = y + (int64_t)r0 * ldy;                                              \
            for (int o0 = 0; o0 < n_out; o0 += 2) {                                         \
                const int OB = n_out - o0 < 2 ? n_out - o0 : 2;                             \
                const void *wo = ROW(w, o0, ws);                                            \
                /* constant sizes, so each call inlines a specialised micro-kernel */      \
                if (OB == 2 && R == 2) float_micro(dt, wo, ws, 2, xr, xs, 2, n, yr + o0, ldy); \
                else if (OB == 2) float_micro(dt, wo, ws, 2, xr, xs, 1, n, yr + o0, ldy);   \
                else if (R == 2) float_micro(dt, wo, ws, 1, xr, xs, 2, n, yr + o0, ldy);    \
                else float_micro(dt, wo, ws, 1, xr, xs, 1, n, yr + o0, ldy);                \
            }                                                                               \
        }                                                                                   \
    }

/* The three float-weight tiles of an instruction-set file: each forwards to that
 * file's own `float_tile(dtype, ...)`, compiled for its instruction set. */
#define VOX_DEFINE_FLOAT_TILES(float_tile)                                                  \
    static void tile_f32(const void *w, size_t ws, int n_out, const void *x, size_t xs,     \
                         int n_rows, int64_t n, float *y, int64_t ldy) {                   \
        float_tile(VOX_F32, w, ws, n_out, x, xs, n_rows, n, y, ldy);                        \
    }                                                                                       \
    static void tile_bf16(const void *w, size_t ws, int n_out, const void *x, size_t xs,    \
                          int n_rows, int64_t n, float *y, int64_t ldy) {                  \
        float_tile(VOX_BF16, w, ws, n_out, x, xs, n_rows, n, y, ldy);                       \
    }                                                                                       \
    static void tile_f16(const void *w, size_t ws, int n_out, const void *x, size_t xs,     \
                         int n_rows, int64_t n, float *y, int64_t ldy) {                   \
        float_tile(VOX_F16, w, ws, n_out, x, xs, n_rows, n, y, ldy);                        \
    }

static inline size_t vox_round64(size_t v) { return (v + 63) & ~(size_t)63; }

/* One Q8_0 activation block exactly as vox_quantize_row(VOX_Q8_0) makes it:
 * q[32] and the scale as a float (the fp16 value the block stores, widened). */
void vox_prep_q8_0_block(const float *x, int8_t q[32], float *d);
/* One Q8_K super-block exactly as vox_quantize_row_q8_k makes it: q[256], the
 * f32 scale, and the sums of the eight 32-value sub-blocks. */
void vox_prep_q8_k_block(const float *x, int8_t q[256], float *d, int16_t bsum[8]);

/* The bodies of the two, as inline functions so that each kernel file compiles
 * them for its own instruction set (the loops are written to vectorise).  They
 * give the reference quantizers' bytes bit for bit (test_kernels.c checks ties,
 * NaN, infinities and huge values):
 *  - Q8_0: d = fp16(amax/127) as decoded, inv = 1/d (0 if d is 0 or infinite),
 *    q = round-half-even(x*inv) clamped to [-127, 127], NaN -> 0.
 *  - Q8_K: inv = 127/amax (0 if amax is infinite), q = round-half-even(x*inv)
 *    clamped to [-127, 127], NaN -> 0, d = amax/127.
 * Rounding: clamping first keeps |v| <= 127, where v + 1.5*2^23 - 1.5*2^23
 * rounds half to even (default rounding mode), so no libm call is needed.
 * Every float operation is a separate statement so no compiler contracts two
 * of them into one FMA. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static inline float vox_clamp_q(float v) {
    v = v == v ? v : 0.0f; /* NaN */
    v = v < -127.0f ? -127.0f : v;
    v = v > 127.0f ? 127.0f : v;
    return v;
}

static inline float vox_round_even_small(float v) { /* |v| <= 2^22 */
    float r = v + 12582912.0f; /* 1.5 * 2^23 */
    return r - 12582912.0f;
}

/* |x| as the bits of a non-negative float (their integer order is the float
 * order), NaN as 0 so it never wins a maximum. */
static inline uint32_t vox_abs_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u &= 0x7fffffffu;
    return u > 0x7f800000u ? 0u : u;
}

static inline float vox_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The Q8_0 step for a block whose largest magnitude has bits mb: fp16-rounded. */
static inline float vox_q8_0_step(uint32_t mb) { return vox_fp16_to_fp32(vox_fp32_to_fp16(vox_bits_f32(mb) / 127.0f)); }
static inline float vox_inverse_step(float d) { return d > 0.0f && d <= 3.40282347e38f ? 1.0f / d : 0.0f; }

static inline void vox_quant_q8_0_block_inline(const float *x, int8_t q[32], float *d_out) {
    uint32_t mb = 0;
    for (int j = 0; j < 32; j++) {
        uint32_t a = vox_abs_bits(x[j]);
        mb = a > mb ? a : mb;
    }
    const float d = vox_q8_0_step(mb);
    const float inv = vox_inverse_step(d);
    for (int j = 0; j < 32; j++) {
        float v = x[j] * inv;
        v = vox_clamp_q(v);
        q[j] = (int8_t)(int32_t)vox_round_even_small(v);
    }
    *d_out = d;
}

static inline void vox_quant_q8_k_block_inline(const float *x, int8_t q[256], float *d_out,
                                               int16_t bsum[8]) {
    uint32_t mb = 0;
    for (int j = 0; j < 256; j++) {
        uint32_t a = vox_abs_bits(x[j]);
        mb = a > mb ? a : mb;
    }
    if (mb == 0) {
        for (int j = 0; j < 256; j++) q[j] = 0;
        for (int s = 0; s < 8; s++) bsum[s] = 0;
        *d_out = 0.0f;
        return;
    }
    const float amax = vox_bits_f32(mb);
    const float inv = amax <= 3.40282347e38f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < 256; j++) {
        float v = x[j] * inv;
        v = vox_clamp_q(v);
        q[j] = (int8_t)(int32_t)vox_round_even_small(v);
    }
    for (int s = 0; s < 8; s++) {
        int32_t sum = 0;
        for (int l = 0; l < 32; l++) sum += q[32 * s + l];
        bsum[s] = (int16_t)sum;
    }
    *d_out = amax / 127.0f;
}

/* The plain prepared layouts used by the generic, AVX2 and NEON sets:
 *   Q8_0: int8 q[n] | float d[n/32]                  (each part 64-aligned)
 *   Q8_K: int8 q[n] | float d[n/256] | int16 bsum[n/32]  (sums per 32 values) */
size_t vox_prep_plain_q8_0_bytes(int64_t n);
void vox_prep_plain_q8_0(const float *x, int64_t n, void *out);
size_t vox_prep_plain_q8_k_bytes(int64_t n);
void vox_prep_plain_q8_k(const float *x, int64_t n, void *out);

static inline const int8_t *vox_plain_q(const void *p) { return (const int8_t *)p; }
static inline const float *vox_plain_q8_0_d(const void *p, int64_t n) {
    return (const float *)((const char *)p + vox_round64((size_t)n));
}
static inline const float *vox_plain_q8_k_d(const void *p, int64_t n) {
    return (const float *)((const char *)p + vox_round64((size_t)n));
}
static inline const int16_t *vox_plain_q8_k_bsum(const void *p, int64_t n) {
    return (const int16_t *)((const char *)p + vox_round64((size_t)n) +
                             vox_round64((size_t)(n / VOX_QK_K) * sizeof(float)));
}

/* Q4_K: the 6-bit scales and mins of the 8 sub-blocks from the 12 packed bytes
 * (layout in quant.h), as two little-endian words of 8 bytes each: byte s of
 * *sc is sub-block s's scale, byte s of *mn its min. */
static inline void vox_q4_k_scales(const uint8_t *p, uint64_t *sc, uint64_t *mn) {
    uint32_t a = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    uint32_t b = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    uint32_t c = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
    /* s < 4: the low 6 bits of bytes 0..3 (scales) and 4..7 (mins).
     * s >= 4: the low / high nibble of bytes 8..11, plus the top 2 bits of bytes
     * 0..3 (scales) or 4..7 (mins) as bits 4..5. */
    uint32_t sc_lo = a & 0x3f3f3f3fu, mn_lo = b & 0x3f3f3f3fu;
    uint32_t sc_hi = (c & 0x0f0f0f0fu) | ((a >> 6) & 0x03030303u) << 4;
    uint32_t mn_hi = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 6) & 0x03030303u) << 4;
    *sc = (uint64_t)sc_lo | (uint64_t)sc_hi << 32;
    *mn = (uint64_t)mn_lo | (uint64_t)mn_hi << 32;
}

static inline uint16_t vox_load_u16(const void *p) {
    const unsigned char *b = p;
    return (uint16_t)(b[0] | b[1] << 8);
}

#endif
