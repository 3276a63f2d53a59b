/* test_kernels.c — every fast kernel against the scalar reference.
 *
 * Matrix products: for F32, BF16 and F16 weights of awkward widths (1, 3, 17,
 * 33, 255, 1000 columns) and 1..7 input rows (plus 40 to cross the 16-row tile),
 * each tier (reference, portable 16-accumulator, SIMD) must agree with an exact
 * double-precision product within the standard floating-point summation bound
 * gamma_n * sum|w x|.  Batched rows must equal single rows bit for bit, threaded
 * products must equal unthreaded ones bit for bit, and vox_matmul_multi must
 * equal separate products; quantized weights (Q8_0, Q4_K, slow path) must match
 * their dequantized matrix.  Plus rmsnorm, softmax, silu and f16 conversion.
 * The SIMD tier is whatever the compiler flags select (make: AVX-512 here; the
 * SAN build: portable C); build with -march=haswell to test the AVX2 loops. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/threadpool.h"
#include "tensor/kernels.h"
#include "tensor/quant.h"
#include "test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) * 0x1p-53 * 2.0 - 1.0);
}

static uint16_t f32_to_f16(float f) { /* round to nearest; test data is in range */
    union { float f; uint32_t u; } v = {f};
    uint32_t sign = (v.u >> 16) & 0x8000u;
    float a = fabsf(f);
    if (a < 0x1p-14f) { /* subnormal */
        return (uint16_t)(sign | (uint32_t)lrintf(a * 0x1p24f));
    }
    int e;
    float m = frexpf(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    uint32_t mant = (uint32_t)lrintf((m * 2.0f - 1.0f) * 1024.0f);
    int exp = e - 1 + 15;
    if (mant == 1024) { mant = 0; exp++; }
    return (uint16_t)(sign | ((uint32_t)exp << 10) | mant);
}

typedef struct wmat {
    vox_tensor t;
    void *buf;
    double *w; /* the exact values the tensor holds, as doubles */
} wmat;

static void wmat_make(wmat *m, vox_dtype dt, int out, int in) {
    size_t n = (size_t)out * (size_t)in;
    m->w = malloc(n * sizeof(double) + 1);
    size_t es = dt == VOX_F32 ? 4 : 2;
    m->buf = malloc(n * es + 1);
    for (size_t i = 0; i < n; i++) {
        float f = frand();
        if (dt == VOX_F32) {
            ((float *)m->buf)[i] = f;
            m->w[i] = f;
        } else if (dt == VOX_BF16) {
            uint16_t h = vox_f32_to_bf16(f);
            ((uint16_t *)m->buf)[i] = h;
            m->w[i] = vox_bf16_to_f32(h);
        } else {
            uint16_t h = f32_to_f16(f);
            ((uint16_t *)m->buf)[i] = h;
            m->w[i] = vox_f16_to_f32(h);
        }
    }
    memset(&m->t, 0, sizeof m->t);
    m->t.dtype = dt;
    m->t.ndim = 2;
    m->t.shape[0] = out;
    m->t.shape[1] = in;
    m->t.data = m->buf;
    m->t.nbytes = n * es;
}

static void wmat_free(wmat *m) {
    free(m->buf);
    free(m->w);
}

static const char *dt_name(vox_dtype dt) {
    return dt == VOX_F32 ? "f32" : dt == VOX_BF16 ? "bf16" : "f16";
}

static void test_matmul_case(vox_dtype dt, int out, int in, int rows, vox_pool *pool) {
    wmat m;
    wmat_make(&m, dt, out, in);
    float *x = malloc(sizeof(float) * (size_t)rows * (size_t)in);
    for (int i = 0; i < rows * in; i++) x[i] = frand();
    size_t ny = (size_t)rows * (size_t)out;
    float *y[3], *y1 = malloc(sizeof(float) * (size_t)out), *yp = malloc(sizeof(float) * ny);
    for (int k = 0; k < 3; k++) y[k] = malloc(sizeof(float) * ny);
    for (int k = 0; k < 3; k++) vox_matmul_impl((vox_kernel_impl)k, &m.t, x, rows, y[k]);

    double gamma = (double)in * 0x1p-24 / (1.0 - (double)in * 0x1p-24);
    int bad[3] = {0, 0, 0}, bad_single = 0, bad_pool = 0;
    for (int r = 0; r < rows; r++) {
        for (int o = 0; o < out; o++) {
            double exact = 0.0, absum = 0.0;
            for (int i = 0; i < in; i++) {
                double p = m.w[(size_t)o * in + i] * (double)x[(size_t)r * in + i];
                exact += p;
                absum += fabs(p);
            }
            double tol = gamma * absum * 1.01 + 1e-30;
            for (int k = 0; k < 3; k++)
                if (fabs((double)y[k][(size_t)r * out + o] - exact) > tol) bad[k]++;
        }
        /* one row alone must give the same bits as inside the batch */
        for (int k = 0; k < 3; k++) {
            vox_matmul_impl((vox_kernel_impl)k, &m.t, x + (size_t)r * in, 1, y1);
            if (memcmp(y1, y[k] + (size_t)r * out, sizeof(float) * (size_t)out) != 0) bad_single++;
        }
    }
    vox_matmul_pool(pool, &m.t, x, rows, yp);
    if (memcmp(yp, y[VOX_KERNEL_SIMD], sizeof(float) * ny) != 0) bad_pool++;
    for (int k = 0; k < 3; k++)
        CHECK(bad[k] == 0, "%s %dx%d rows %d impl %d: %d values outside the bound", dt_name(dt),
              out, in, rows, k, bad[k]);
    CHECK(bad_single == 0, "%s %dx%d rows %d: batched != single-row", dt_name(dt), out, in, rows);
    CHECK(bad_pool == 0, "%s %dx%d rows %d: threaded != unthreaded", dt_name(dt), out, in, rows);
    for (int k = 0; k < 3; k++) free(y[k]);
    free(y1);
    free(yp);
    free(x);
    wmat_free(&m);
}

static void test_matmul(void) {
    static const int widths[] = {1, 3, 17, 33, 255, 1000};
    static const vox_dtype dts[] = {VOX_F32, VOX_BF16, VOX_F16};
    vox_pool *pool = NULL;
    vox_error err;
    CHECK(vox_pool_create(3, &pool, &err) == 0, "pool: %s", err.msg);
    for (int d = 0; d < 3; d++)
        for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
            for (int rows = 1; rows <= 7; rows++) test_matmul_case(dts[d], 37, widths[w], rows, pool);
    /* cross the 16-row and 16-output tiles, and many chunks for the pool */
    test_matmul_case(VOX_BF16, 300, 64, 40, pool);
    test_matmul_case(VOX_F32, 129, 1000, 17, pool);
    vox_pool_free(pool);
}

static void test_matmul_multi(void) {
    vox_pool *pool = NULL;
    vox_error err;
    CHECK(vox_pool_create(2, &pool, &err) == 0, "pool: %s", err.msg);
    wmat a, b, c;
    wmat_make(&a, VOX_BF16, 70, 33);
    wmat_make(&b, VOX_F32, 5, 33);
    wmat_make(&c, VOX_F16, 129, 33);
    float x[3 * 33];
    for (int i = 0; i < 3 * 33; i++) x[i] = frand();
    float ya[3 * 70], yb[3 * 5], yc[3 * 129], ra[3 * 70], rb[3 * 5], rc[3 * 129];
    const vox_tensor *W[3] = {&a.t, &b.t, &c.t};
    float *Y[3] = {ya, yb, yc};
    vox_matmul_multi(pool, 3, W, x, 3, Y);
    vox_matmul(&a.t, x, 3, ra);
    vox_matmul(&b.t, x, 3, rb);
    vox_matmul(&c.t, x, 3, rc);
    CHECK(memcmp(ya, ra, sizeof ya) == 0, "multi[0] differs");
    CHECK(memcmp(yb, rb, sizeof yb) == 0, "multi[1] differs");
    CHECK(memcmp(yc, rc, sizeof yc) == 0, "multi[2] differs");
    wmat_free(&a);
    wmat_free(&b);
    wmat_free(&c);
    vox_pool_free(pool);
}

/* Quantized weights take the slow path through vox_tensor_get_row: it must
 * agree with the dequantized matrix. */
static void test_matmul_quant(void) {
    static const struct { vox_dtype dt; int out, in; } cases[] = {
        {VOX_Q8_0, 19, 64}, {VOX_Q8_0, 3, 96}, {VOX_Q4_K, 5, 256}, {VOX_Q4_K, 2, 512}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const int out = cases[c].out, in = cases[c].in, rows = 3;
        size_t rb = vox_dtype_row_bytes(cases[c].dt, in);
        unsigned char *q = malloc(rb * (size_t)out);
        float *wf = malloc(sizeof(float) * (size_t)in), *deq = malloc(sizeof(float) * (size_t)out * in);
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) wf[i] = frand();
            vox_quantize_row(cases[c].dt, wf, q + (size_t)o * rb, in);
            vox_dequantize_row(cases[c].dt, q + (size_t)o * rb, deq + (size_t)o * in, in);
        }
        vox_tensor t;
        memset(&t, 0, sizeof t);
        t.dtype = cases[c].dt;
        t.ndim = 2;
        t.shape[0] = out;
        t.shape[1] = in;
        t.data = q;
        t.nbytes = rb * (size_t)out;
        float x[3 * 512], y[3 * 19];
        for (int i = 0; i < rows * in; i++) x[i] = frand();
        vox_matmul(&t, x, rows, y);
        int bad = 0;
        double gamma = (double)in * 0x1p-24 / (1.0 - (double)in * 0x1p-24);
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < out; o++) {
                double e = 0, a = 0;
                for (int i = 0; i < in; i++) {
                    double p = (double)deq[(size_t)o * in + i] * x[r * in + i];
                    e += p;
                    a += fabs(p);
                }
                if (fabs(y[r * out + o] - e) > gamma * a * 1.01 + 1e-30) bad++;
            }
        CHECK(bad == 0, "%s %dx%d: %d values off", vox_dtype_name(cases[c].dt), out, in, bad);
        free(q);
        free(wf);
        free(deq);
    }
}

typedef struct pool_ctx {
    int *hits;
} pool_ctx;

static void mark(void *ctx, int64_t b, int64_t e, int tid) {
    pool_ctx *c = ctx;
    (void)tid;
    for (int64_t i = b; i < e; i++) c->hits[i]++;
}

static void test_pool(void) {
    for (int nt = 1; nt <= 4; nt++) {
        vox_pool *pool = NULL;
        vox_error err;
        CHECK(vox_pool_create(nt, &pool, &err) == 0, "pool %d: %s", nt, err.msg);
        CHECK(vox_pool_threads(pool) == nt, "threads %d", vox_pool_threads(pool));
        int hits[1001];
        for (int rep = 0; rep < 50; rep++) {
            memset(hits, 0, sizeof hits);
            pool_ctx c = {hits};
            int64_t n = 1 + rep * 20, chunk = 1 + rep % 7;
            vox_pool_for(pool, n, chunk, mark, &c);
            int ok = 1;
            for (int64_t i = 0; i < n; i++) ok &= hits[i] == 1;
            CHECK(ok, "pool %d: item visited != once (n %lld)", nt, (long long)n);
        }
        vox_pool_free(pool);
    }
    vox_pool *pool = NULL;
    vox_error err;
    CHECK(vox_pool_create(0, &pool, &err) == 0 && vox_pool_threads(pool) >= 1, "pool 0");
    vox_pool_free(pool);
}

static void test_elementwise(void) {
    for (int n = 1; n <= 1000; n = n * 3 + 1) {
        float x[1000], w[1000], y[1000];
        for (int i = 0; i < n; i++) {
            x[i] = frand() * 3.0f;
            w[i] = frand();
        }
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
        double inv = 1.0 / sqrt(ss / n + 1e-5);
        vox_rmsnorm(x, w, n, 1e-5f, y);
        int bad = 0;
        for (int i = 0; i < n; i++)
            if (fabs(y[i] - x[i] * inv * w[i]) > 1e-6 * (fabs(x[i] * inv * w[i]) + 1e-3)) bad++;
        CHECK(bad == 0, "rmsnorm n=%d: %d bad", n, bad);
        vox_rmsnorm(x, NULL, n, 1e-5f, y);
        bad = 0;
        for (int i = 0; i < n; i++)
            if (fabs(y[i] - x[i] * inv) > 1e-6 * (fabs(x[i] * inv) + 1e-3)) bad++;
        CHECK(bad == 0, "rmsnorm (no gain) n=%d", n);

        /* softmax against double */
        double mx = -1e300, s = 0;
        for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
        for (int i = 0; i < n; i++) s += exp(x[i] - mx);
        memcpy(y, x, sizeof(float) * (size_t)n);
        vox_softmax(y, n);
        bad = 0;
        double tot = 0;
        for (int i = 0; i < n; i++) {
            double e = exp(x[i] - mx) / s;
            if (fabs(y[i] - e) > 1e-6 * e + 1e-9) bad++;
            tot += y[i];
        }
        CHECK(bad == 0 && fabs(tot - 1.0) < 1e-5, "softmax n=%d: %d bad, sum %g", n, bad, tot);

        /* silu(gate) * up */
        memcpy(y, x, sizeof(float) * (size_t)n);
        vox_silu_mul(y, w, n);
        bad = 0;
        for (int i = 0; i < n; i++) {
            double e = x[i] / (1.0 + exp(-(double)x[i])) * w[i];
            if (fabs(y[i] - e) > 1e-6 * (fabs(e) + 1e-3)) bad++;
        }
        CHECK(bad == 0, "silu n=%d", n);

        double d = 0;
        for (int i = 0; i < n; i++) d += (double)x[i] * w[i];
        CHECK(fabs(vox_dot_f32(x, w, n) - d) < 1e-5 * n, "dot n=%d", n);
    }
    /* masked entries */
    float m[4] = {-INFINITY, 0.0f, -INFINITY, 0.0f};
    vox_softmax(m, 4);
    CHECK(m[0] == 0.0f && m[2] == 0.0f && m[1] == 0.5f && m[3] == 0.5f, "masked softmax");
    float allm[2] = {-INFINITY, -INFINITY};
    vox_softmax(allm, 2);
    CHECK(allm[0] == 0.0f && allm[1] == 0.0f, "fully masked softmax is zero, not NaN");

    float a[3] = {1, 2, 3}, b[3] = {10, 20, 30}, sc[3] = {0.5f, 0.25f, 2.0f};
    vox_add(a, b, 3);
    CHECK(a[0] == 11 && a[1] == 22 && a[2] == 33, "add");
    vox_add_scaled(a, b, sc, 3);
    CHECK(a[0] == 16 && a[1] == 27 && a[2] == 93, "add_scaled");
}

static void test_f16(void) {
    CHECK(vox_f16_to_f32(0x3c00) == 1.0f, "1.0");
    CHECK(vox_f16_to_f32(0xc000) == -2.0f, "-2.0");
    CHECK(vox_f16_to_f32(0x7bff) == 65504.0f, "max");
    CHECK(vox_f16_to_f32(0x0001) == 0x1p-24f, "min subnormal");
    CHECK(vox_f16_to_f32(0x03ff) == 1023 * 0x1p-24f, "max subnormal");
    CHECK(vox_f16_to_f32(0x0400) == 0x1p-14f, "min normal");
    CHECK(isinf(vox_f16_to_f32(0x7c00)) && isnan(vox_f16_to_f32(0x7e00)), "inf/nan");
    CHECK(signbit(vox_f16_to_f32(0x8000)) && vox_f16_to_f32(0x8000) == 0.0f, "-0");
}

int main(void) {
    printf("simd: %s\n", vox_kernel_simd_name());
    test_pool();
    test_f16();
    test_elementwise();
    test_matmul();
    test_matmul_multi();
    test_matmul_quant();
    TEST_MAIN_END();
}
