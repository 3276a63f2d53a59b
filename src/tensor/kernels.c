/* kernels.c — matrix products and the small element-wise ops (see kernels.h).
 *
 * Three tiers for the weight-row dot products: a one-accumulator scalar
 * reference, a portable loop with 16 independent accumulators (which compilers
 * vectorise), and the register-blocked intrinsics of kernels_x86.c.  The
 * matmul driver cuts the work into cache tiles of 16 output rows x up to 16
 * input rows so that a tile of weights is read from memory once and reused from
 * cache for every input row (prefill, CFG batch), and splits output rows across
 * the thread pool.  Row results never depend on
 * the tiling or the thread, only on the tier. */
#include "tensor/kernels.h"

#include <math.h>
#include <stdlib.h>

#include "tensor/kernels_x86.h"

#define TILE_OUT 16 /* output rows per cache tile */
#define TILE_IN 16  /* input rows per cache tile (<= 16: see vox_x86_dot_rows) */

float vox_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    union { uint32_t u; float f; } v;
    if (exp == 0x1f) {
        v.u = sign | 0x7f800000u | (man << 13); /* inf / nan */
    } else if (exp != 0) {
        v.u = sign | ((exp + 112u) << 23) | (man << 13); /* normal: rebias 15 -> 127 */
    } else if (man == 0) {
        v.u = sign; /* signed zero */
    } else {
        /* subnormal half: man * 2^-24, exactly representable as a float */
        v.f = (float)man * 0x1p-24f;
        v.u |= sign;
    }
    return v.f;
}

static inline float weight_at(vox_dtype dt, const void *w, int64_t i) {
    switch (dt) {
    case VOX_BF16: return vox_bf16_to_f32(((const uint16_t *)w)[i]);
    case VOX_F16: return vox_f16_to_f32(((const uint16_t *)w)[i]);
    default: return ((const float *)w)[i];
    }
}

static int is_direct_dtype(vox_dtype dt) { return dt == VOX_F32 || dt == VOX_BF16 || dt == VOX_F16; }

static size_t direct_elem_size(vox_dtype dt) { return dt == VOX_F32 ? 4 : 2; }

/* --- tier 0: reference ------------------------------------------------------ */

static void ref_dot_rows(vox_dtype dt, const void *w, const float *x, int64_t ldx, int nr,
                         int64_t n, float *out) {
    for (int r = 0; r < nr; r++) {
        const float *xr = x + (int64_t)r * ldx;
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++) s += weight_at(dt, w, i) * xr[i];
        out[r] = s;
    }
}

/* --- tier 1: portable, 16 accumulators per row -------------------------------- */

static inline void convert16(vox_dtype dt, const void *w, int64_t i, float *wf) {
    switch (dt) {
    case VOX_BF16: {
        const uint16_t *p = (const uint16_t *)w + i;
        for (int j = 0; j < 16; j++) wf[j] = vox_bf16_to_f32(p[j]);
        break;
    }
    case VOX_F16: {
        const uint16_t *p = (const uint16_t *)w + i;
        for (int j = 0; j < 16; j++) wf[j] = vox_f16_to_f32(p[j]);
        break;
    }
    default: {
        const float *p = (const float *)w + i;
        for (int j = 0; j < 16; j++) wf[j] = p[j];
        break;
    }
    }
}

static inline float sum16(const float *a) {
    float s8[8], s4[4];
    for (int j = 0; j < 8; j++) s8[j] = a[j] + a[j + 8];
    for (int j = 0; j < 4; j++) s4[j] = s8[j] + s8[j + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

static void generic_dot_rows(vox_dtype dt, const void *w, const float *x, int64_t ldx, int nr,
                             int64_t n, float *out) {
    for (int r0 = 0; r0 < nr; r0 += 4) {
        int R = nr - r0 < 4 ? nr - r0 : 4;
        const float *xb = x + (int64_t)r0 * ldx;
        float acc[4][16] = {{0}};
        float wf[16];
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) {
            convert16(dt, w, i, wf);
            for (int r = 0; r < R; r++) {
                const float *xr = xb + (int64_t)r * ldx + i;
                for (int j = 0; j < 16; j++) acc[r][j] += wf[j] * xr[j];
            }
        }
        for (int64_t j = 0; i + j < n; j++) {
            float wv = weight_at(dt, w, i + j);
            for (int r = 0; r < R; r++) acc[r][j] += wv * xb[(int64_t)r * ldx + i + j];
        }
        for (int r = 0; r < R; r++) out[r0 + r] = sum16(acc[r]);
    }
}

/* Portable tiers: one weight row at a time against nr <= 16 input rows. */
static void dot_rows(vox_kernel_impl impl, vox_dtype dt, const void *w, const float *x,
                     int64_t ldx, int nr, int64_t n, float *out) {
    if (impl == VOX_KERNEL_REF)
        ref_dot_rows(dt, w, x, ldx, nr, n, out);
    else
        generic_dot_rows(dt, w, x, ldx, nr, n, out);
}

/* Input rows per cache tile: the tile of x (and a tile of weights) should stay
 * in L2 while every weight row of the tile is dotted with it. */
static int tile_rows(int64_t in) {
    int64_t r = (256 * 1024 / 4) / (in > 0 ? in : 1);
    r = r / 4 * 4;
    return (int)(r < 4 ? 4 : r > TILE_IN ? TILE_IN : r);
}

/* Output rows [o0, o1) of y = W·x for all n_rows input rows. */
static void matmul_range(vox_kernel_impl impl, const vox_tensor *W, const float *x, int n_rows,
                         float *y, int64_t o0, int64_t o1) {
    const int64_t out = W->shape[0], in = W->shape[1];
    if (!is_direct_dtype(W->dtype)) {
        /* Quantized or unknown dtypes: widen one row at a time through the
         * tensor helpers (slow path; no model weight uses it yet). */
        float *row = malloc((size_t)in * sizeof *row);
        for (int64_t o = o0; o < o1; o++) {
            if (row) vox_tensor_get_row(W, o, row);
            for (int r = 0; r < n_rows; r++) {
                float s;
                if (row)
                    ref_dot_rows(VOX_F32, row, x + (int64_t)r * in, in, 1, in, &s);
                else
                    s = NAN;
                y[(int64_t)r * out + o] = s;
            }
        }
        free(row);
        return;
    }
    const size_t row_bytes = (size_t)in * direct_elem_size(W->dtype);
    const char *base = W->data;
    const int rows_per_tile = tile_rows(in);
    float tmp[TILE_IN];
    for (int64_t ob = o0; ob < o1; ob += TILE_OUT) {
        const int64_t oe = ob + TILE_OUT < o1 ? ob + TILE_OUT : o1;
        for (int rb = 0; rb < n_rows; rb += rows_per_tile) {
            const int nr = n_rows - rb < rows_per_tile ? n_rows - rb : rows_per_tile;
            const float *xb = x + (int64_t)rb * in;
            if (impl == VOX_KERNEL_SIMD &&
                vox_x86_gemm_tile(W->dtype, base + (size_t)ob * row_bytes, row_bytes,
                                  (int)(oe - ob), xb, in, nr, in, y + (int64_t)rb * out + ob, out))
                continue;
            for (int64_t o = ob; o < oe; o++) {
                dot_rows(impl, W->dtype, base + (size_t)o * row_bytes, xb, in, nr, in, tmp);
                for (int r = 0; r < nr; r++) y[(int64_t)(rb + r) * out + o] = tmp[r];
            }
        }
    }
}

void vox_matmul_impl(vox_kernel_impl impl, const vox_tensor *W, const float *x, int n_rows,
                     float *y) {
    matmul_range(impl, W, x, n_rows, y, 0, W->shape[0]);
}

void vox_matmul(const vox_tensor *W, const float *x, int n_rows, float *y) {
    matmul_range(VOX_KERNEL_SIMD, W, x, n_rows, y, 0, W->shape[0]);
}

const char *vox_kernel_simd_name(void) { return vox_x86_name(); }

/* Chunk of output rows per task: about 8 tasks per thread so that a thread
 * slowed down by another process does not hold everyone up, in whole tiles. */
static int64_t pick_chunk(vox_pool *pool, int64_t total) {
    int64_t nt = vox_pool_threads(pool);
    int64_t c = total / (nt * 8);
    c = (c + TILE_OUT - 1) / TILE_OUT * TILE_OUT;
    if (c < 2 * TILE_OUT) c = 2 * TILE_OUT;
    return c;
}

typedef struct matmul_task {
    int n_mats;
    const vox_tensor *const *W;
    const float *x;
    int n_rows;
    float *const *y;
} matmul_task;

/* Items are the output rows of all matrices, concatenated. */
static void matmul_task_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const matmul_task *t = ctx;
    int64_t first = 0;
    for (int j = 0; j < t->n_mats && begin < end; j++) {
        int64_t rows = t->W[j]->shape[0];
        int64_t lo = begin - first, hi = end - first;
        if (lo < rows) {
            if (hi > rows) hi = rows;
            matmul_range(VOX_KERNEL_SIMD, t->W[j], t->x, t->n_rows, t->y[j], lo, hi);
            begin = first + hi;
        }
        first += rows;
    }
}

void vox_matmul_multi(vox_pool *pool, int n_mats, const vox_tensor *const *W, const float *x,
                      int n_rows, float *const *y) {
    int64_t total = 0;
    for (int j = 0; j < n_mats; j++) total += W[j]->shape[0];
    matmul_task t = {n_mats, W, x, n_rows, y};
    vox_pool_for(pool, total, pick_chunk(pool, total), matmul_task_run, &t);
}

void vox_matmul_pool(vox_pool *pool, const vox_tensor *W, const float *x, int n_rows, float *y) {
    vox_matmul_multi(pool, 1, &W, x, n_rows, &y);
}

/* --- element-wise ----------------------------------------------------------- */

void vox_rmsnorm(const float *x, const float *w, int n, float eps, float *y) {
    /* Sum of squares in double: n is at most a few thousand and this keeps the
     * norm as close as possible to the exact value the reference approximates. */
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * (double)x[i];
    float inv = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    if (w) {
        for (int i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
    } else {
        for (int i = 0; i < n; i++) y[i] = x[i] * inv;
    }
}

void vox_silu_mul(float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void vox_softmax(float *x, int n) {
    if (n <= 0) return;
    float m = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > m) m = x[i];
    if (m == -INFINITY) { /* every entry masked: define the result as all zeros */
        for (int i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    float inv = (float)(1.0 / s);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void vox_add(float *y, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += x[i];
}

void vox_add_scaled(float *y, const float *x, const float *scale, int n) {
    for (int i = 0; i < n; i++) y[i] += scale[i] * x[i];
}

float vox_dot_f32(const float *a, const float *b, int n) {
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += a[i + j] * b[i + j];
    for (int j = 0; i + j < n; j++) acc[j] += a[i + j] * b[i + j];
    return sum16(acc);
}
