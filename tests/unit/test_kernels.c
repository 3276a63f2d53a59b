/* test_kernels.c — every kernel level against the scalar reference.
 *
 * Matrix products, for every weight dtype (F32, BF16, F16, Q8_0, Q4_K) and every
 * kernel level this CPU and build support (ref and generic always; avx2,
 * avxvnni, avx512, neon or neon+i8mm when present; avxvnni on a CPU with
 * AVX-512 VNNI but no AVX-VNNI runs the EVEX build of the same kernel source,
 * and the output says so; neon+i8mm's SMMLA kernels take pairs of rows and its
 * SDOT kernels an odd last row, so the batch checks below also check that the
 * two give the same bits), on random inputs of awkward sizes (in = 1 ..
 * 5000, for quantized weights multiples of the block size from one block up,
 * with partial 16-block groups, and 16384 for rows wider than the stack
 * buffer; out = 1, 3, 17, 33, 255; 1..8 and 13 input rows):
 *
 *  - F32/BF16/F16: within the float summation bound gamma_n * sum|w x| of the
 *    exact (double) product of the stored weights and the f32 activations,
 *    gamma_n = n u / (1 - n u), u = 2^-24.  BF16 on the avx512 level with
 *    AVX512_BF16 (kernels_avx512bf16.c) splits each activation into
 *    hi + lo bf16 parts (|x - hi - lo| <= 2^-17 |x|) and sums 2n exact
 *    products, hi and lo of a block into one chain, vdpbf16ps rounding
 *    after each product: bound (gamma_{2n+8} * 1.01 + 2^-17) * sum|w x|
 *    (the +8 covers the lane reduction when n is tiny).  Special values of
 *    that split (NaN, infinities, values that would round past the largest
 *    bf16, subnormals) are checked separately.
 *  - Q8_0/Q4_K: every level quantizes the activation row exactly as the
 *    reference quantizers do (Q8_0 blocks / Q8_K super-blocks), then sums exact
 *    integer block (sub-block) products; only the float combination of the k
 *    per-block terms differs between levels (k = in/32 for Q8_0, 2*in/32 for
 *    Q4_K's scale and min terms).  Each term carries a few roundings and the sum
 *    k more, so against the exact double product of the stored weights and the
 *    *quantized* activations the error is at most (k + 16) * 2^-22 * T, where T
 *    is the sum of the absolute terms (for Q4_K, |d*sc*q| + |dmin*m| per
 *    weight, times |x|).  Against the exact product with the *f32* activations
 *    the activation's quantization error A = sum |w_i| |x_i - xq_i| is added
 *    (A is about 0.4% of sum|w x| for gaussian data); generic must equal ref
 *    bit for bit (same expressions, same order).
 *  - Bit-exactness within a level: a batch of rows equals the same rows run one
 *    at a time and any prefix batch; the threaded product equals the
 *    single-threaded one; vox_matmul_multi (mixed dtypes) equals separate
 *    products.
 *  - The activation quantizers of the kernels (kernels_impl.h) give the
 *    reference quantizers' integers and scales bit for bit, on random data and
 *    on ties, NaN, infinities, huge and tiny values.
 *  - Level selection: VOXTTS_KERNELS parsing and fallback (pure function), and
 *    the level a child process picks with VOXTTS_KERNELS set.
 * Plus rmsnorm, softmax, silu, dot (bit-identical on every level), f16
 * conversion, the thread pool and its scratch memory.
 * VOX_TEST_VERBOSE=1 prints the worst error/tolerance ratio of every case. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/threadpool.h"
#include "tensor/kernels.h"
#include "tensor/kernels_impl.h"
#include "tensor/quant.h"
#include "test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void) { /* uniform in [0, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1p-53;
}
static float frand(void) { return (float)(urand() * 2.0 - 1.0); } /* uniform in [-1, 1) */
static float grand(void) {                                         /* standard normal */
    double u = urand(), v = urand();
    if (u < 1e-300) u = 1e-300;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static int is_quant(vox_dtype dt) { return dt == VOX_Q8_0 || dt == VOX_Q4_K; }

/* A weight matrix with the exact values it holds (and for quantized types the
 * per-weight magnitude of its terms, see the header). */
typedef struct wmat {
    vox_tensor t;
    unsigned char *buf;
    double *w;    /* stored values, dequantized */
    double *absw; /* |w| (Q4_K: |d*sc*q| + |dmin*m|) */
} wmat;

static int wmat_make(wmat *m, vox_dtype dt, int out, int in) {
    memset(m, 0, sizeof *m);
    const size_t rb = vox_dtype_row_bytes(dt, in);
    const size_t n = (size_t)out * (size_t)in;
    m->buf = malloc(rb * (size_t)out + 1);
    m->w = malloc(n * sizeof(double) + 1);
    m->absw = malloc(n * sizeof(double) + 1);
    float *row = malloc(sizeof(float) * (size_t)in + 1), *deq = malloc(sizeof(float) * (size_t)in + 1);
    unsigned char *tmp = malloc(rb + 1);
    if (!m->buf || !m->w || !m->absw || !row || !deq || !tmp) {
        free(row), free(deq), free(tmp);
        return -1;
    }
    for (int o = 0; o < out; o++) {
        /* rows of different scales; some Q4_K rows offset so the mins matter */
        float scale = (float)(0.02 * (1 + o % 5)), off = (o % 3 == 1) ? 0.03f : 0.0f;
        for (int i = 0; i < in; i++) row[i] = is_quant(dt) ? grand() * scale + off : frand();
        unsigned char *dst = m->buf + (size_t)o * rb;
        vox_quantize_row(dt, row, dst, in);
        vox_dequantize_row(dt, dst, deq, in);
        for (int i = 0; i < in; i++) {
            m->w[(size_t)o * in + i] = deq[i];
            m->absw[(size_t)o * in + i] = fabs((double)deq[i]);
        }
        if (dt == VOX_Q4_K) {
            /* with the quants zeroed a block decodes to -dmin*m: w + dm = d*sc*q >= 0 */
            memcpy(tmp, dst, rb);
            for (int b = 0; b < in / 256; b++) memset(tmp + (size_t)b * 144 + 16, 0, 128);
            vox_dequantize_row(dt, tmp, deq, in);
            for (int i = 0; i < in; i++) {
                double dm = -(double)deq[i];
                m->absw[(size_t)o * in + i] = fabs(m->w[(size_t)o * in + i] + dm) + fabs(dm);
            }
        }
    }
    m->t.dtype = dt;
    m->t.ndim = 2;
    m->t.shape[0] = out;
    m->t.shape[1] = in;
    m->t.data = m->buf;
    m->t.nbytes = rb * (size_t)out;
    free(row), free(deq), free(tmp);
    return 0;
}

static void wmat_free(wmat *m) {
    free(m->buf);
    free(m->w);
    free(m->absw);
}

/* The activation rows as the integer kernels see them (dequantized quants). */
static void quantized_x(vox_dtype dt, const float *x, int64_t in, double *xq) {
    if (dt == VOX_Q8_0) {
        unsigned char *q = malloc((size_t)(in / 32) * 34 + 1);
        float *f = malloc(sizeof(float) * (size_t)in + 1);
        vox_quantize_row(VOX_Q8_0, x, q, in);
        vox_dequantize_row(VOX_Q8_0, q, f, in); /* q * d: exact in float */
        for (int64_t i = 0; i < in; i++) xq[i] = f[i];
        free(q), free(f);
    } else if (dt == VOX_Q4_K) {
        unsigned char *q = malloc((size_t)(in / 256) * 292 + 1);
        vox_quantize_row_q8_k(x, q, in);
        for (int64_t b = 0; b < in / 256; b++) {
            vox_block_q8_k blk;
            memcpy(&blk, q + (size_t)b * 292, sizeof blk);
            for (int i = 0; i < 256; i++) xq[b * 256 + i] = (double)blk.qs[i] * (double)blk.d;
        }
        free(q);
    } else {
        for (int64_t i = 0; i < in; i++) xq[i] = x[i];
    }
}

static vox_pool *g_pool;
static int g_levels[VOX_LEVEL_COUNT], g_n_levels;
static int g_packed_cases; /* matmul cases that also ran a packed layout */
static int g_vnni_cases;   /* Q8_0/Q4_K cases compared between avxvnni and avx2 */
static int g_i8mm_cases;   /* Q8_0/Q4_K cases run on neon+i8mm */

static int bits_equal(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* Whether level lv runs BF16 weights with the AVX512_BF16 hi + lo split. */
static int bf16_split(vox_kernel_level lv) {
    return lv == VOX_LEVEL_AVX512 && strstr(vox_kernel_level_describe(lv), "bf16") != NULL;
}

/* One (dtype, out, in) case: every level, every row count, every check. */
static void matmul_case(vox_dtype dt, int out, int in) {
    enum { MAXR = 13 };
    static const int row_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 13};
    wmat m;
    if (wmat_make(&m, dt, out, in) != 0) {
        CHECK(0, "out of memory");
        wmat_free(&m);
        return;
    }
    const size_t ny = (size_t)MAXR * (size_t)out;
    float *x = malloc(sizeof(float) * (size_t)MAXR * (size_t)in);
    double *xq = malloc(sizeof(double) * (size_t)in), *eq = malloc(sizeof(double) * ny),
           *ef = malloc(sizeof(double) * ny), *tol = malloc(sizeof(double) * ny),
           *actq = malloc(sizeof(double) * ny);
    float *y = malloc(sizeof(float) * ny), *yb = malloc(sizeof(float) * ny),
          *y1 = malloc(sizeof(float) * (size_t)out), *yref = malloc(sizeof(float) * ny),
          *yb2 = malloc(sizeof(float) * ny), *yavx2 = malloc(sizeof(float) * ny);
    if (!x || !xq || !eq || !ef || !tol || !actq || !y || !yb || !y1 || !yref || !yb2 || !yavx2) {
        CHECK(0, "out of memory");
        goto done;
    }
    for (int i = 0; i < MAXR * in; i++) x[i] = grand() * ((i % 97) == 5 ? 8.0f : 1.0f);
    /* exact products and bounds */
    const double u = 0x1p-24;
    const double k = dt == VOX_Q8_0 ? in / 32.0 : dt == VOX_Q4_K ? in / 16.0 : 0.0;
    for (int r = 0; r < MAXR; r++) {
        const float *xr = x + (size_t)r * in;
        quantized_x(dt, xr, in, xq);
        for (int o = 0; o < out; o++) {
            const double *wo = m.w + (size_t)o * in, *ao = m.absw + (size_t)o * in;
            double e_q = 0, e_f = 0, t = 0, a = 0, wx = 0;
            for (int i = 0; i < in; i++) {
                e_q += wo[i] * xq[i];
                e_f += wo[i] * xr[i];
                t += ao[i] * fabs(xq[i]);
                a += fabs(wo[i]) * fabs((double)xr[i] - xq[i]);
                wx += fabs(wo[i] * xr[i]);
            }
            const size_t idx = (size_t)r * out + o;
            eq[idx] = e_q;
            ef[idx] = e_f;
            actq[idx] = a;
            if (is_quant(dt))
                tol[idx] = (k + 16) * 0x1p-22 * t + 1e-30;
            else
                tol[idx] = (double)in * u / (1.0 - (double)in * u) * wx * 1.01 + 1e-30;
        }
    }
    for (int li = 0; li < g_n_levels; li++) {
        const vox_kernel_level lv = (vox_kernel_level)g_levels[li];
        const char *ln = vox_kernel_level_name(lv);
        if (dt == VOX_BF16 && bf16_split(lv)) {
            /* the hi + lo split bound (see the top of the file) */
            const double n2 = 2.0 * in + 8.0;
            for (int r = 0; r < MAXR; r++)
                for (int o = 0; o < out; o++) {
                    const size_t idx = (size_t)r * out + o;
                    double wx = 0;
                    for (int i = 0; i < in; i++)
                        wx += fabs(m.w[(size_t)o * in + i] * x[(size_t)r * in + i]);
                    tol[idx] = (n2 * u / (1.0 - n2 * u) * 1.01 + 0x1p-17) * wx + 1e-30;
                }
        }
        int bad = 0, bad_f = 0, bad_prefix = 0, bad_single = 0, bad_pool = 0, bad_ref = 0;
        double worst = 0;
        vox_matmul_level(lv, NULL, &m.t, x, MAXR, yb);
        for (size_t ri = 0; ri < sizeof row_counts / sizeof *row_counts; ri++) {
            const int rows = row_counts[ri];
            vox_matmul_level(lv, NULL, &m.t, x, rows, y);
            if (!bits_equal(y, yb, (size_t)rows * out)) bad_prefix++;
        }
        for (size_t idx = 0; idx < ny; idx++) {
            const double e = fabs((double)yb[idx] - eq[idx]);
            if (!(e <= tol[idx])) {
                if (bad < 2)
                    fprintf(stderr, "  %s %s %dx%d [%zu]: %.9g vs exact %.9g (err %.3g, tol %.3g)\n", ln,
                            vox_dtype_name(dt), out, in, idx, (double)yb[idx], eq[idx], e, tol[idx]);
                bad++;
            }
            if (e / (tol[idx] + 1e-300) > worst) worst = e / (tol[idx] + 1e-300);
            if (!(fabs((double)yb[idx] - ef[idx]) <= actq[idx] + tol[idx])) bad_f++;
        }
        for (int r = 0; r < MAXR; r++) {
            vox_matmul_level(lv, NULL, &m.t, x + (size_t)r * in, 1, y1);
            if (!bits_equal(y1, yb + (size_t)r * out, (size_t)out)) bad_single++;
        }
        vox_matmul_level(lv, g_pool, &m.t, x, MAXR, y);
        if (!bits_equal(y, yb, ny)) bad_pool++;
        vox_matmul_level(lv, g_pool, &m.t, x, 6, y);
        if (!bits_equal(y, yb, (size_t)6 * out)) bad_pool++;
        /* the level's packed layout, where it has one: the same bits for every
         * batch size, threaded or not */
        vox_tensor pt;
        void *pbuf = NULL;
        const int pk = vox_matmul_pack_level(lv, &m.t, 1 + (out % 6), &pt, &pbuf);
        int bad_packed = pk < 0;
        if (pk > 0) {
            g_packed_cases++;
            for (size_t ri = 0; ri < sizeof row_counts / sizeof *row_counts; ri++) {
                const int rows = row_counts[ri];
                /* NaN first: a row the product skips cannot pass on a stale value */
                for (size_t i = 0; i < ny; i++) y[i] = NAN;
                vox_matmul_level(lv, NULL, &pt, x, rows, y);
                if (!bits_equal(y, yb, (size_t)rows * out)) bad_packed++;
                for (size_t i = 0; i < ny; i++) y[i] = NAN;
                vox_matmul_level(lv, g_pool, &pt, x, rows, y);
                if (!bits_equal(y, yb, (size_t)rows * out)) bad_packed++;
            }
            /* another level ignores the packed copy */
            const vox_kernel_level other = lv == VOX_LEVEL_REF ? VOX_LEVEL_GENERIC : VOX_LEVEL_REF;
            vox_matmul_level(other, NULL, &pt, x, MAXR, y);
            vox_matmul_level(other, NULL, &m.t, x, MAXR, yb2);
            if (!bits_equal(y, yb2, ny)) bad_packed++;
        }
        free(pbuf);
        CHECK(bad_packed == 0, "%s %s %dx%d: %d packed products differ from the unpacked ones", ln,
              vox_dtype_name(dt), out, in, bad_packed);
        if (lv == VOX_LEVEL_REF) memcpy(yref, yb, sizeof(float) * ny);
        if (lv == VOX_LEVEL_GENERIC && is_quant(dt) && !bits_equal(yb, yref, ny)) bad_ref++;
        /* avxvnni runs the integer kernels of avx2 with vpdpbusd for the integer
         * sums (exact either way) and the same float sequence: the same bits */
        if (lv == VOX_LEVEL_AVX2) memcpy(yavx2, yb, sizeof(float) * ny);
        int bad_vnni = 0;
        if (lv == VOX_LEVEL_AVXVNNI && is_quant(dt) && vox_kernel_level_supported(VOX_LEVEL_AVX2)) {
            bad_vnni = !bits_equal(yb, yavx2, ny);
            g_vnni_cases++;
        }
        CHECK(bad_vnni == 0, "avxvnni %s %dx%d: not bit-identical to avx2", vox_dtype_name(dt), out, in);
        if (lv == VOX_LEVEL_NEON_I8MM && is_quant(dt)) g_i8mm_cases++;
        if (getenv("VOX_TEST_VERBOSE")) printf("  %-8s %-4s %3dx%-5d worst err/tol %.3g\n", ln, vox_dtype_name(dt), out, in, worst);
        CHECK(bad == 0, "%s %s %dx%d: %d values outside the bound (worst %.2f x tol)", ln,
              vox_dtype_name(dt), out, in, bad, worst);
        CHECK(bad_f == 0, "%s %s %dx%d: %d values off the f32 product by more than the activation "
              "quantization error", ln, vox_dtype_name(dt), out, in, bad_f);
        CHECK(bad_prefix == 0, "%s %s %dx%d: %d batch sizes differ from the 13-row batch", ln,
              vox_dtype_name(dt), out, in, bad_prefix);
        CHECK(bad_single == 0, "%s %s %dx%d: %d single rows differ from the batch", ln, vox_dtype_name(dt),
              out, in, bad_single);
        CHECK(bad_pool == 0, "%s %s %dx%d: threaded != single-threaded", ln, vox_dtype_name(dt), out, in);
        CHECK(bad_ref == 0, "generic %s %dx%d: not bit-identical to ref", vox_dtype_name(dt), out, in);
    }
done:
    free(x), free(xq), free(eq), free(ef), free(tol), free(actq), free(y), free(yb), free(y1), free(yref);
    free(yb2), free(yavx2);
    wmat_free(&m);
}

static void test_matmul(void) {
    static const int outs[] = {1, 3, 17, 33, 255};
    static const int ins_float[] = {1, 3, 17, 32, 33, 255, 1000, 4096, 5000};
    static const int ins_q8_0[] = {32, 64, 96, 160, 512, 544, 1056, 4096};
    static const int ins_q4_k[] = {256, 512, 768, 1280, 4096};
    static const vox_dtype dts[] = {VOX_F32, VOX_BF16, VOX_F16, VOX_Q8_0, VOX_Q4_K};
    for (size_t d = 0; d < 5; d++) {
        const int *ins = dts[d] == VOX_Q8_0 ? ins_q8_0 : dts[d] == VOX_Q4_K ? ins_q4_k : ins_float;
        const size_t nins = dts[d] == VOX_Q8_0   ? sizeof ins_q8_0 / sizeof *ins_q8_0
                            : dts[d] == VOX_Q4_K ? sizeof ins_q4_k / sizeof *ins_q4_k
                                                 : sizeof ins_float / sizeof *ins_float;
        for (size_t i = 0; i < nins; i++)
            for (size_t o = 0; o < sizeof outs / sizeof *outs; o++) {
                /* keep the run short: the widest rows only with few outputs */
                if (ins[i] >= 4096 && outs[o] > 17) continue;
                if (ins[i] >= 1000 && outs[o] > 33) continue;
                matmul_case(dts[d], outs[o], ins[i]);
            }
    }
    /* rows wider than the stack buffer of a pool-less call */
    matmul_case(VOX_Q8_0, 3, 16384);
    matmul_case(VOX_Q4_K, 2, 16384);
    /* avx2 and avxvnni pack Q8_0 weights, and BF16 weights in pairs of rows,
     * for products of several rows only (single rows: no faster), Q4_K
     * weights for single rows too (the backbone's, for its prompts; see
     * kernels_x86q.h); a partial last group of Q8_0 blocks (in = 288) and an
     * odd row count with a tail of BF16 elements (5 x 40) included */
    for (int l = VOX_LEVEL_AVX2; l <= VOX_LEVEL_AVXVNNI; l++) {
        if (!vox_kernel_level_supported((vox_kernel_level)l)) continue;
        for (int q = 0; q < 3; q++) {
            static const vox_dtype qdt[3] = {VOX_Q8_0, VOX_Q4_K, VOX_BF16};
            static const int qin[3] = {288, 512, 40};
            wmat m;
            if (wmat_make(&m, qdt[q], 5, qin[q]) != 0) {
                CHECK(0, "out of memory");
                wmat_free(&m);
                continue;
            }
            vox_tensor pt;
            void *pbuf = NULL;
            const int single = vox_matmul_pack_level((vox_kernel_level)l, &m.t, 1, &pt, &pbuf);
            if (qdt[q] == VOX_Q4_K)
                CHECK(single == 1 && pbuf && pt.packed == pbuf, "%s Q4_K: single-row weights are packed",
                      vox_kernel_level_name((vox_kernel_level)l));
            else
                CHECK(single == 0 && !pbuf && !pt.packed, "%s %s: single-row weights stay unpacked",
                      vox_kernel_level_name((vox_kernel_level)l), vox_dtype_name(m.t.dtype));
            free(pbuf);
            pbuf = NULL;
            CHECK(vox_matmul_pack_level((vox_kernel_level)l, &m.t, 6, &pt, &pbuf) == 1 && pbuf && pt.packed == pbuf,
                  "%s %s: 6-row weights are packed", vox_kernel_level_name((vox_kernel_level)l),
                  vox_dtype_name(m.t.dtype));
            free(pbuf);
            wmat_free(&m);
        }
    }
    /* the avx512 level packs BF16 when it splits BF16 activations, but only
     * for products of several rows */
    if (bf16_split(VOX_LEVEL_AVX512)) {
        CHECK(g_packed_cases > 0, "no BF16 case ran the avx512 packed layout");
        wmat m;
        if (wmat_make(&m, VOX_BF16, 8, 64) == 0) {
            vox_tensor pt;
            void *pbuf = NULL;
            CHECK(vox_matmul_pack_level(VOX_LEVEL_AVX512, &m.t, 1, &pt, &pbuf) == 0 && !pbuf && !pt.packed,
                  "BF16 weights for single rows stay unpacked");
            CHECK(vox_matmul_pack_level(VOX_LEVEL_AVX512, &m.t, 6, &pt, &pbuf) == 1 && pbuf && pt.packed == pbuf,
                  "BF16 weights for 6 rows are packed");
            free(pbuf);
        }
        wmat_free(&m);
    }
    printf("packed layouts checked in %d cases\n", g_packed_cases);
    /* Say what the avxvnni level executed: on a CPU without AVX-VNNI it runs the
     * EVEX build of kernels_avxvnni.c, and the VEX build is only compiled. */
    if (vox_kernel_level_supported(VOX_LEVEL_AVXVNNI)) {
        const int evex = strcmp(vox_kernel_level_describe(VOX_LEVEL_AVXVNNI), "avxvnni(evex)") == 0;
        printf("avxvnni: ran the %s build of kernels_avxvnni.c%s; %d Q8_0/Q4_K cases bit-identical to avx2\n",
               evex ? "EVEX (avx512vl+vnni)" : "VEX (avxvnni)",
               evex ? " (no AVX-VNNI on this CPU: the VEX build was compiled, not executed)" : "", g_vnni_cases);
        CHECK(g_vnni_cases > 0 || !vox_kernel_level_supported(VOX_LEVEL_AVX2), "no avxvnni case compared");
    } else {
        printf("avxvnni: not run (this CPU has neither AVX-VNNI nor AVX-512 VNNI, or the build lacks it)\n");
    }
}

/* vox_matmul_multi over mixed dtypes equals separate products, threaded or not. */
static void test_matmul_multi(void) {
    wmat a, b, c, d, e;
    const int in = 512, rows = 6;
    int ok = wmat_make(&a, VOX_BF16, 70, in) == 0 && wmat_make(&b, VOX_Q8_0, 5, in) == 0 &&
             wmat_make(&c, VOX_Q4_K, 129, in) == 0 && wmat_make(&d, VOX_F32, 16, in) == 0 &&
             wmat_make(&e, VOX_Q8_0, 33, in) == 0;
    CHECK(ok, "out of memory");
    if (ok) {
        float x[6 * 512];
        for (int i = 0; i < rows * in; i++) x[i] = grand();
        const vox_tensor *W[5] = {&a.t, &b.t, &c.t, &d.t, &e.t};
        float *Y[5], *R[5];
        for (int j = 0; j < 5; j++) {
            Y[j] = malloc(sizeof(float) * rows * (size_t)W[j]->shape[0]);
            R[j] = malloc(sizeof(float) * rows * (size_t)W[j]->shape[0]);
        }
        /* passes 2, 3: the BF16 matrix (70 rows, not a whole number of groups)
         * packed where the default level has a packed layout, so a packed
         * matrix shares the chunks of a threaded call with unpacked ones */
        vox_tensor ap;
        void *abuf = NULL;
        CHECK(vox_matmul_pack(g_pool, &a.t, rows, &ap, &abuf) >= 0, "pack: out of memory");
        for (int pass = 0; pass < 4; pass++) {
            if (pass == 2) W[0] = &ap;
            vox_matmul_multi(pass % 2 ? g_pool : NULL, 5, W, x, rows, Y);
            for (int j = 0; j < 5; j++) {
                vox_matmul(j == 0 ? &a.t : W[j], x, rows, R[j]);
                CHECK(bits_equal(Y[j], R[j], (size_t)rows * W[j]->shape[0]), "multi[%d] (pass %d) differs", j,
                      pass);
            }
        }
        free(abuf);
        for (int j = 0; j < 5; j++) free(Y[j]), free(R[j]);
    }
    wmat_free(&a), wmat_free(&b), wmat_free(&c), wmat_free(&d), wmat_free(&e);
}

/* Packing shared among a pool's threads writes the same bytes as packing on
 * one thread, for every dtype the default level packs (row counts that leave a
 * partial last item and a partial last group). */
static void test_pack_parallel(void) {
    const vox_dtype dts[3] = {VOX_Q8_0, VOX_Q4_K, VOX_BF16};
    int packed = 0;
    for (int d = 0; d < 3; d++) {
        for (int out = 1; out <= 301; out += 100) {
            wmat m;
            if (wmat_make(&m, dts[d], out, 512) != 0) {
                CHECK(0, "out of memory");
                wmat_free(&m);
                continue;
            }
            vox_tensor p1, p2;
            void *b1 = NULL, *b2 = NULL;
            const int r1 = vox_matmul_pack_level(vox_kernel_level_default(), &m.t, 6, &p1, &b1);
            const int r2 = vox_matmul_pack(g_pool, &m.t, 6, &p2, &b2);
            CHECK(r1 == r2, "%s %d rows: packed serially %d, in parallel %d", vox_dtype_name(dts[d]), out, r1, r2);
            if (r1 == 1 && r2 == 1) {
                CHECK(p1.packed_bytes == p2.packed_bytes && p1.packed_bytes > 0 &&
                          memcmp(b1, b2, p1.packed_bytes) == 0,
                      "%s %d rows: parallel packing differs", vox_dtype_name(dts[d]), out);
                packed++;
            }
            free(b1);
            free(b2);
            wmat_free(&m);
        }
    }
    printf("parallel packing checked in %d cases\n", packed);
}

/* A packed copy of 2 MiB or more (most of the flow head's are 7-16 MiB) starts on a
 * 2 MiB boundary on Linux, where it asks for huge pages, and its 6-row
 * products keep the unpacked bits. */
static void test_pack_large(void) {
    const int out = 1300, in = 3072, rows = 6;
    wmat m;
    if (wmat_make(&m, VOX_Q4_K, out, in) != 0) {
        CHECK(0, "out of memory");
        wmat_free(&m);
        return;
    }
    vox_tensor pt;
    void *buf = NULL;
    const int pk = vox_matmul_pack(g_pool, &m.t, rows, &pt, &buf);
    CHECK(pk >= 0, "large pack: out of memory");
    if (pk == 1) {
        CHECK(pt.packed_bytes >= ((size_t)2 << 20), "large pack: %zu bytes, expected at least 2 MiB",
              pt.packed_bytes);
#if defined(__linux__)
        CHECK(((uintptr_t)buf & (((uintptr_t)2 << 20) - 1)) == 0, "large pack: copy not 2 MiB aligned (%p)", buf);
#endif
        float *x = malloc(sizeof(float) * rows * in), *y = malloc(sizeof(float) * rows * out),
              *yr = malloc(sizeof(float) * rows * out);
        CHECK(x && y && yr, "out of memory");
        if (x && y && yr) {
            for (int i = 0; i < rows * in; i++) x[i] = grand();
            vox_matmul(&m.t, x, rows, yr);
            vox_matmul_pool(g_pool, &pt, x, rows, y);
            CHECK(bits_equal(y, yr, (size_t)rows * out), "large pack: packed 6-row product differs");
        }
        free(x), free(y), free(yr);
    }
    printf("large packed copy: %s\n", pk == 1 ? "checked" : "the default level does not pack Q4_K");
    free(buf);
    wmat_free(&m);
}

/* Invalid shapes give NaN, never a crash. */
static void test_matmul_invalid(void) {
    unsigned char buf[34 * 4] = {0};
    vox_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = VOX_Q8_0;
    t.ndim = 2;
    t.shape[0] = 2;
    t.shape[1] = 40; /* not a multiple of 32 */
    t.data = buf;
    t.nbytes = sizeof buf;
    float x[80] = {0}, y[4] = {0};
    vox_matmul(&t, x, 2, y);
    CHECK(isnan(y[0]) && isnan(y[3]), "Q8_0 with in=40 gives NaN");
    CHECK(vox_matmul_scratch_bytes(&t, 4) == 0, "no scratch for an invalid shape");
    t.shape[1] = 64;
    CHECK(vox_matmul_scratch_bytes(&t, 4) >= 4 * 64, "scratch for Q8_0 rows");
    t.dtype = VOX_BF16;
    if (bf16_split(vox_kernel_level_default()))
        CHECK(vox_matmul_scratch_bytes(&t, 4) >= 4 * 64 * 4, "scratch for split BF16 rows");
    else
        CHECK(vox_matmul_scratch_bytes(&t, 4) == 0, "no scratch for BF16");
}

/* Fill 256 values with one of several adversarial patterns. */
static void adversarial(float *x, int kind) {
    for (int i = 0; i < 256; i++) {
        float g = grand();
        switch (kind % 8) {
        case 0: x[i] = g; break;
        case 1: x[i] = (float)((int)(g * 20)) * 0.5f; break; /* many exact ties at x*id = k + 0.5 */
        case 2: x[i] = i % 7 == 0 ? NAN : g; break;
        case 3: x[i] = i == 37 ? INFINITY : g; break;
        case 4: x[i] = g * 1e30f; break;
        case 5: x[i] = g * 1e-40f; break; /* subnormal */
        case 6: x[i] = (i % 2 ? -1.0f : 1.0f) * (float)(i % 5); break; /* +-max ties, zeros */
        default: x[i] = i < 128 ? 0.0f : g * 3.0f; break;
        }
    }
}

static void test_prep_exact(void) {
    int bad8 = 0, badk = 0;
    float x[256];
    for (int trial = 0; trial < 400; trial++) {
        adversarial(x, trial);
        for (int b = 0; b < 8; b++) {
            vox_block_q8_0 ref;
            vox_quantize_row(VOX_Q8_0, x + 32 * b, &ref, 32);
            int8_t q[32];
            float d;
            vox_prep_q8_0_block(x + 32 * b, q, &d);
            float dref = vox_fp16_to_fp32(ref.d);
            if (memcmp(q, ref.qs, 32) != 0 || memcmp(&d, &dref, 4) != 0) bad8++;
        }
        vox_block_q8_k rk;
        vox_quantize_row_q8_k(x, &rk, 256);
        int8_t q[256];
        float d;
        int16_t bs[8];
        vox_prep_q8_k_block(x, q, &d, bs);
        int ok = memcmp(q, rk.qs, 256) == 0 && memcmp(&d, &rk.d, 4) == 0;
        for (int s = 0; s < 8; s++) ok &= bs[s] == rk.bsums[2 * s] + rk.bsums[2 * s + 1];
        if (!ok) badk++;
    }
    CHECK(bad8 == 0, "%d Q8_0 activation blocks differ from vox_quantize_row", bad8);
    CHECK(badk == 0, "%d Q8_K activation blocks differ from vox_quantize_row_q8_k", badk);
}

/* Each level's own activation quantizer, seen through the product: a weight
 * matrix whose row i is "1 at position i" (Q8_0: d = 1, q = 1; Q4_K: d = 1,
 * sc = 1, q = 1, no min) returns the dequantized activation quants, exactly
 * (one non-zero term: q * dx rounded once).  They must equal the reference
 * quantizer's, bit for bit, on the finite adversarial patterns (an infinite
 * block scale would turn the zero terms into NaN). */
static void test_prep_probe(void) {
    for (int pass = 0; pass < 2; pass++) {
        const vox_dtype dt = pass == 0 ? VOX_Q8_0 : VOX_Q4_K;
        const int in = 512;
        const size_t rb = vox_dtype_row_bytes(dt, in);
        unsigned char *w = calloc((size_t)in, rb);
        float *x = malloc(sizeof(float) * 2 * in), *y = malloc(sizeof(float) * 2 * in);
        float *want = malloc(sizeof(float) * 2 * in);
        if (!w || !x || !y || !want) {
            CHECK(0, "oom");
            free(w), free(x), free(y), free(want);
            return;
        }
        for (int i = 0; i < in; i++) {
            unsigned char *row = w + (size_t)i * rb;
            if (dt == VOX_Q8_0) {
                unsigned char *blk = row + (size_t)(i / 32) * 34;
                blk[0] = 0x00, blk[1] = 0x3c; /* fp16 1.0 */
                blk[2 + i % 32] = 1;
            } else {
                unsigned char *blk = row + (size_t)(i / 256) * 144;
                const int s = (i % 256) / 32, l = i % 32;
                blk[0] = 0x00, blk[1] = 0x3c; /* d = 1, dmin = 0 */
                /* scale of sub-block s = 1 (layout in quant.h), min 0 */
                if (s < 4) blk[4 + s] = 1; else blk[4 + s + 4] = 1;
                blk[16 + 32 * (s / 2) + l] = (unsigned char)(s % 2 ? 0x10 : 0x01);
            }
        }
        vox_tensor t;
        memset(&t, 0, sizeof t);
        t.dtype = dt, t.ndim = 2, t.shape[0] = in, t.shape[1] = in, t.data = w, t.nbytes = rb * (size_t)in;
        for (int kind = 0; kind < 8; kind++) {
            if (kind == 3 || kind == 4) continue; /* infinite or fp16-overflowing scales */
            for (int r = 0; r < 2; r++)
                for (int b = 0; b < in / 256; b++) adversarial(x + r * in + 256 * b, kind);
            for (int r = 0; r < 2; r++) {
                if (dt == VOX_Q8_0) {
                    vox_block_q8_0 blk;
                    for (int b = 0; b < in / 32; b++) {
                        vox_quantize_row(VOX_Q8_0, x + r * in + 32 * b, &blk, 32);
                        for (int j = 0; j < 32; j++) want[r * in + 32 * b + j] = (float)blk.qs[j] * vox_fp16_to_fp32(blk.d);
                    }
                } else {
                    vox_block_q8_k blk;
                    for (int b = 0; b < in / 256; b++) {
                        vox_quantize_row_q8_k(x + r * in + 256 * b, &blk, 256);
                        for (int j = 0; j < 256; j++) want[r * in + 256 * b + j] = (float)blk.qs[j] * blk.d;
                    }
                }
            }
            for (int li = 0; li < g_n_levels; li++) {
                const vox_kernel_level lv = (vox_kernel_level)g_levels[li];
                vox_matmul_level(lv, NULL, &t, x, 2, y);
                int bad = 0;
                for (int i = 0; i < 2 * in; i++)
                    if (!(y[i] == want[i] || (isnan(y[i]) && isnan(want[i])))) {
                        if (bad < 2)
                            fprintf(stderr, "  %s %s pattern %d [%d]: %a, want %a (x %a)\n", vox_kernel_level_name(lv),
                                    vox_dtype_name(dt), kind, i, (double)y[i], (double)want[i], (double)x[i]);
                        bad++;
                    }
                CHECK(bad == 0, "%s %s: activation quants of pattern %d differ from the reference quantizer",
                      vox_kernel_level_name(lv), vox_dtype_name(dt), kind);
            }
        }
        free(w), free(x), free(y), free(want);
    }
}

static void test_scratch(void) {
    vox_error err;
    vox_pool *p = NULL;
    CHECK(vox_pool_create(2, &p, &err) == 0, "pool");
    unsigned char *a = vox_pool_scratch(p, 100);
    CHECK(a && ((uintptr_t)a & 63) == 0, "scratch aligned");
    memset(a, 1, 100);
    CHECK(vox_pool_scratch(p, 50) == a, "smaller request reuses the buffer");
    CHECK(vox_pool_reserve_scratch(p, 1 << 20, &err) == 0, "reserve");
    unsigned char *b = vox_pool_scratch(p, 1 << 20);
    CHECK(b && ((uintptr_t)b & 63) == 0, "grown scratch aligned");
    memset(b, 2, 1 << 20);
    CHECK(vox_pool_scratch(NULL, 10) == NULL, "no scratch without a pool");
    CHECK(vox_pool_reserve_scratch(NULL, 10, &err) != 0, "reserve on NULL pool fails");
    vox_pool_free(p);
}

static void test_levels(const char *self) {
    char note[256];
    const vox_kernel_level best = vox_kernel_level_choose(NULL, note, sizeof note);
    CHECK(note[0] == 0 && vox_kernel_level_supported(best), "default level %s", vox_kernel_level_name(best));
    CHECK(vox_kernel_level_choose("", note, sizeof note) == best && !note[0], "empty request");
    CHECK(vox_kernel_level_choose("auto", note, sizeof note) == best && !note[0], "auto");
    CHECK(vox_kernel_level_choose("ref", note, sizeof note) == VOX_LEVEL_REF && !note[0], "ref");
    CHECK(vox_kernel_level_choose("generic", note, sizeof note) == VOX_LEVEL_GENERIC && !note[0], "generic");
    CHECK(vox_kernel_level_choose("bogus", note, sizeof note) == best && strstr(note, "unknown"), "bogus: %s", note);
    for (int l = VOX_LEVEL_AVX2; l < VOX_LEVEL_COUNT; l++) {
        const char *name = vox_kernel_level_name((vox_kernel_level)l);
        vox_kernel_level got = vox_kernel_level_choose(name, note, sizeof note);
        if (vox_kernel_level_supported((vox_kernel_level)l))
            CHECK((int)got == l && !note[0], "%s supported", name);
        else
            CHECK((int)got != l && vox_kernel_level_supported(got) && strstr(note, "not supported"), "%s fallback: %s",
                  name, note);
    }
    /* neon+i8mm runs odd rows through the dot-product kernels: it implies neon+dotprod */
    if (vox_kernel_level_supported(VOX_LEVEL_NEON_I8MM))
        CHECK(strcmp(vox_kernel_level_describe(VOX_LEVEL_NEON), "neon+dotprod") == 0 &&
                  strcmp(vox_kernel_level_describe(VOX_LEVEL_NEON_I8MM), "neon+i8mm") == 0,
              "neon+i8mm without neon+dotprod");
    CHECK(vox_kernel_level_name(VOX_LEVEL_COUNT) == NULL, "invalid level name");
    CHECK(!vox_kernel_level_supported(VOX_LEVEL_COUNT), "invalid level unsupported");
    printf("levels:");
    for (int l = 0; l < VOX_LEVEL_COUNT; l++)
        printf(" %s=%s", vox_kernel_level_name((vox_kernel_level)l), vox_kernel_level_describe((vox_kernel_level)l));
    printf("\n");
    /* The default level of a child process started with VOXTTS_KERNELS set.
     * (VOX_TEST_NO_SPAWN=1 skips this, e.g. under an emulator.) */
    const char *nospawn = getenv("VOX_TEST_NO_SPAWN");
    if (nospawn && nospawn[0] == '1') return;
    for (int l = 0; l <= VOX_LEVEL_COUNT; l++) {
        const char *name = l < VOX_LEVEL_COUNT ? vox_kernel_level_name((vox_kernel_level)l) : "bogus";
        char cmd[1024], out[128] = {0};
        snprintf(cmd, sizeof cmd, "VOXTTS_KERNELS=%s '%s' --print-level 2>/dev/null", name, self);
        FILE *f = popen(cmd, "r");
        if (!f) {
            CHECK(0, "popen failed");
            continue;
        }
        if (!fgets(out, sizeof out, f)) out[0] = 0;
        pclose(f);
        out[strcspn(out, "\n")] = 0;
        const char *want = vox_kernel_level_describe(vox_kernel_level_choose(name, NULL, 0));
        CHECK(strcmp(out, want) == 0, "VOXTTS_KERNELS=%s: child runs '%s', expected '%s'", name, out, want);
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

/* vox_dot_f32 is documented to give the portable 16-partial-sum loop's bits on
 * every level (attention scores must not depend on the CPU). */
static float dot16_model(const float *a, const float *b, int n) {
    float acc[16] = {0};
    for (int i = 0; i < n; i++) acc[i % 16] += a[i] * b[i];
    float s8[8], s4[4];
    for (int j = 0; j < 8; j++) s8[j] = acc[j] + acc[j + 8];
    for (int j = 0; j < 4; j++) s4[j] = s8[j] + s8[j + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

static void test_dot_exact(void) {
    float a[300], b[300];
    int bad = 0;
    for (int n = 0; n <= 300; n++) {
        for (int i = 0; i < n; i++) a[i] = grand(), b[i] = grand();
        float got = vox_dot_f32(a, b, n), want = dot16_model(a, b, n);
        if (memcmp(&got, &want, sizeof got) != 0) bad++;
    }
    CHECK(bad == 0, "vox_dot_f32 differs from the portable arithmetic for %d lengths", bad);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    /* the x86 variants directly, whatever the default level (each where the CPU has it) */
    int bad2 = 0, bad512 = 0, bada = 0;
    const int has2 = vox_kernel_level_supported(VOX_LEVEL_AVX2), has512 = vox_kernel_level_supported(VOX_LEVEL_AVX512);
    for (int n = 0; n <= 300; n++) {
        for (int i = 0; i < n; i++) a[i] = grand(), b[i] = grand();
        const float want = dot16_model(a, b, n);
        if (has2) {
            const float got = vox_dot_f32_avx2(a, b, n);
            bad2 += memcmp(&got, &want, sizeof got) != 0;
        }
        if (has512 && n > 0) {
            const float got = vox_dot_f32_avx512(a, b, n);
            bad512 += memcmp(&got, &want, sizeof got) != 0;
        }
        /* axpy: y += s*x elementwise, multiply then add; the guard words after n stay */
        float y0[304], y1[304], y2[304];
        for (int i = 0; i < n + 4; i++) y0[i] = grand();
        memcpy(y1, y0, sizeof y0);
        memcpy(y2, y0, sizeof y0);
        const float sc = grand();
        for (int i = 0; i < n; i++) y0[i] += sc * a[i];
        if (has2) vox_axpy_f32_avx2(y1, sc, a, n);
        if (has512) vox_axpy_f32_avx512(y2, sc, a, n);
        if (has2) bada += memcmp(y0, y1, sizeof(float) * (size_t)(n + 4)) != 0;
        if (has512) bada += memcmp(y0, y2, sizeof(float) * (size_t)(n + 4)) != 0;
    }
    CHECK(bad2 == 0, "vox_dot_f32_avx2 differs from the portable arithmetic for %d lengths", bad2);
    CHECK(bad512 == 0, "vox_dot_f32_avx512 differs from the portable arithmetic for %d lengths", bad512);
    CHECK(bada == 0, "vox_axpy_f32 x86 variants differ from the portable loop for %d lengths", bada);
    CHECK(has2, "this test machine lacks AVX2: the x86 variants were not exercised");
#endif
    /* the rows loops: the bits of the single calls, for head_dim 128 (the
     * register paths) and other lengths, with a stride wider than a row */
    {
        enum { NR = 7, STRIDE = 300 };
        static float rows[NR * STRIDE];
        float q[300], want_s[NR], got_s[NR], y0[300], y1[300], coef[NR];
        int badr = 0;
        const int lens[4] = {128, 64, 37, 1};
        for (int li = 0; li < 4; li++) {
            const int n = lens[li];
            for (int i = 0; i < NR * STRIDE; i++) rows[i] = grand();
            for (int i = 0; i < n; i++) q[i] = grand();
            for (int j = 0; j < NR; j++) coef[j] = grand();
            for (int nr = 0; nr <= NR; nr++) {
                for (int j = 0; j < nr; j++) want_s[j] = vox_dot_f32(q, rows + (size_t)j * STRIDE, n) * 0.125f;
                vox_dot_rows_f32(q, rows, STRIDE, nr, n, 0.125f, got_s);
                badr += nr > 0 && memcmp(want_s, got_s, sizeof(float) * (size_t)nr) != 0;
                for (int i = 0; i < n + 4 && i < 300; i++) y0[i] = y1[i] = grand();
                for (int j = 0; j < nr; j++) vox_axpy_f32(y0, coef[j], rows + (size_t)j * STRIDE, n);
                vox_axpy_rows_f32(y1, coef, rows, STRIDE, nr, n);
                badr += memcmp(y0, y1, sizeof(float) * (size_t)(n + 4)) != 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
                if (vox_kernel_level_supported(VOX_LEVEL_AVX2)) {
                    for (int i = 0; i < n + 4; i++) y1[i] = y0[i];
                    for (int j = 0; j < nr; j++) vox_axpy_f32(y0, coef[j], rows + (size_t)j * STRIDE, n);
                    vox_axpy_rows_f32_avx2(y1, coef, rows, STRIDE, nr, n);
                    badr += memcmp(y0, y1, sizeof(float) * (size_t)(n + 4)) != 0;
                    vox_dot_rows_f32_avx2(q, rows, STRIDE, nr, n, 0.125f, got_s);
                    badr += nr > 0 && memcmp(want_s, got_s, sizeof(float) * (size_t)nr) != 0;
                }
                if (vox_kernel_level_supported(VOX_LEVEL_AVX512)) {
                    for (int i = 0; i < n + 4; i++) y1[i] = y0[i];
                    for (int j = 0; j < nr; j++) vox_axpy_f32(y0, coef[j], rows + (size_t)j * STRIDE, n);
                    vox_axpy_rows_f32_avx512(y1, coef, rows, STRIDE, nr, n);
                    badr += memcmp(y0, y1, sizeof(float) * (size_t)(n + 4)) != 0;
                    vox_dot_rows_f32_avx512(q, rows, STRIDE, nr, n, 0.125f, got_s);
                    badr += nr > 0 && memcmp(want_s, got_s, sizeof(float) * (size_t)nr) != 0;
                }
#endif
            }
        }
        CHECK(badr == 0, "the rows loops differ from the single calls in %d cases", badr);
    }
    {
        float y0[40], y1[40];
        for (int i = 0; i < 40; i++) y0[i] = y1[i] = grand();
        const float sc = grand();
        for (int i = 0; i < 37; i++) y0[i] += sc * a[i];
        vox_axpy_f32(y1, sc, a, 37);
        CHECK(memcmp(y0, y1, sizeof y0) == 0, "vox_axpy_f32 (default level) differs from the portable loop");
    }
}

/* vox_silu_mul's vector exp on the x86 levels: within a few ulp of the libm
 * loop over random and extreme inputs, the same infinities and NaNs. */
static int silu_close(float got, float want) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    const float tol = 4e-7f * fabsf(want) + 1e-37f;
    return fabsf(got - want) <= tol;
}

static void silu_check(void (*fn)(float *, const float *, int), const char *name) {
    enum { N = 4099 };
    static float g[N], u[N], want[N];
    const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1.0f, -1.0f, 87.0f, -87.0f, 88.5f, -88.5f, 88.8f,
                             -88.8f, 89.0f, -89.0f, 100.0f, -100.0f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN};
    const int ns = (int)(sizeof special / sizeof *special);
    for (int i = 0; i < N; i++) {
        g[i] = i < ns ? special[i] : (i % 3 == 0 ? 40.0f : 6.0f) * grand();
        u[i] = i % 7 == 0 ? 1.0f : grand();
        want[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
    int bad = 0, first = -1;
    for (int len = N; len >= N - 17; len -= 17) { /* tails of every length */
        float got[N];
        memcpy(got, g, sizeof(float) * (size_t)len);
        fn(got, u, len);
        for (int i = 0; i < len; i++)
            if (!silu_close(got[i], want[i])) {
                if (first < 0) first = i;
                bad++;
            }
    }
    CHECK(bad == 0, "%s: %d values off (first: silu(%g) * %g = %g, got differently)", name, bad,
          first >= 0 ? g[first] : 0.0, first >= 0 ? u[first] : 0.0, first >= 0 ? want[first] : 0.0);
}

/* vox_rmsnorm_rows_pool: every row as vox_rmsnorm gives it, with and without a pool. */
static void test_rmsnorm_rows(void) {
    enum { ROWS = 9, N = 100 };
    float x[ROWS * N], w[N], want[ROWS * N], got[ROWS * N];
    for (int i = 0; i < ROWS * N; i++) x[i] = grand();
    for (int i = 0; i < N; i++) w[i] = grand();
    for (int r = 0; r < ROWS; r++) vox_rmsnorm(x + r * N, w, N, 1e-5f, want + r * N);
    for (int p = 0; p < 2; p++) {
        for (int rows = 0; rows <= ROWS; rows++) {
            memset(got, 0, sizeof got);
            vox_rmsnorm_rows_pool(p ? g_pool : NULL, x, w, rows, N, 1e-5f, got);
            CHECK(bits_equal(got, want, (size_t)rows * N), "rmsnorm rows (%d rows, pool %d)", rows, p);
        }
    }
}

static void test_silu(void) {
    silu_check(vox_silu_mul, "vox_silu_mul (default level)");
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (vox_kernel_level_supported(VOX_LEVEL_AVX2)) silu_check(vox_silu_mul_avx2, "vox_silu_mul_avx2");
    if (vox_kernel_level_supported(VOX_LEVEL_AVX512)) silu_check(vox_silu_mul_avx512, "vox_silu_mul_avx512");
#endif
}

static void test_f16(void) {
    CHECK(vox_fp16_to_fp32(0x3c00) == 1.0f, "1.0");
    CHECK(vox_fp16_to_fp32(0xc000) == -2.0f, "-2.0");
    CHECK(vox_fp16_to_fp32(0x7bff) == 65504.0f, "max");
    CHECK(vox_fp16_to_fp32(0x0001) == 0x1p-24f, "min subnormal");
    CHECK(vox_fp16_to_fp32(0x03ff) == 1023 * 0x1p-24f, "max subnormal");
    CHECK(vox_fp16_to_fp32(0x0400) == 0x1p-14f, "min normal");
    CHECK(isinf(vox_fp16_to_fp32(0x7c00)) && isnan(vox_fp16_to_fp32(0x7e00)), "inf/nan");
    CHECK(signbit(vox_fp16_to_fp32(0x8000)) && vox_fp16_to_fp32(0x8000) == 0.0f, "-0");
}

/* The hi + lo activation split of kernels_avx512bf16.c on special values (only
 * where that kernel runs): infinities and NaN propagate as in the f32 product,
 * a finite value that bf16 rounding would overflow stays finite, and
 * vdpbf16ps's flushing of subnormals costs at most about 2^-126 absolute. */
static void test_bf16_split_special(void) {
    if (!bf16_split(VOX_LEVEL_AVX512)) return;
    enum { N = 40 }; /* one full block and a tail */
    uint16_t w[N];
    float x[N], y;
    vox_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = VOX_BF16;
    t.ndim = 2;
    t.shape[0] = 1;
    t.shape[1] = N;
    t.data = w;
    t.nbytes = sizeof w;
    for (int i = 0; i < N; i++) w[i] = 0x3f80, x[i] = 1.0f; /* 1.0 */
    x[35] = INFINITY;
    vox_matmul_level(VOX_LEVEL_AVX512, NULL, &t, x, 1, &y);
    CHECK(isinf(y) && y > 0, "inf activation gives +inf (got %g)", (double)y);
    x[35] = 1.0f, x[3] = -INFINITY;
    vox_matmul_level(VOX_LEVEL_AVX512, NULL, &t, x, 1, &y);
    CHECK(isinf(y) && y < 0, "-inf activation gives -inf (got %g)", (double)y);
    x[3] = NAN;
    vox_matmul_level(VOX_LEVEL_AVX512, NULL, &t, x, 1, &y);
    CHECK(isnan(y), "NaN activation gives NaN (got %g)", (double)y);
    /* FLT_MAX rounds to the bf16 infinity: it must be truncated instead */
    for (int i = 0; i < N; i++) w[i] = 0, x[i] = 0.0f;
    w[0] = 0x3f80, w[1] = 0xbf80, x[0] = x[1] = 0x1.fffffep127f;
    vox_matmul_level(VOX_LEVEL_AVX512, NULL, &t, x, 1, &y);
    CHECK(y == 0.0f, "FLT_MAX - FLT_MAX gives 0 (got %g)", (double)y);
    w[0] = 0x3f00, w[1] = 0; /* 0.5 */
    vox_matmul_level(VOX_LEVEL_AVX512, NULL, &t, x, 1, &y);
    CHECK(fabs((double)y - 0x1.fffffep126) <= 0x1p-16 * 0x1.fffffep126, "0.5 * FLT_MAX (got %g)",
          (double)y);
    /* subnormal activations: flushed by vdpbf16ps, an absolute error below 2^-126 */
    w[0] = 0x3f80, x[0] = 1e-40f, x[1] = 0.0f;
    vox_matmul_level(VOX_LEVEL_AVX512, NULL, &t, x, 1, &y);
    CHECK(fabs((double)y - 1e-40) <= 0x1p-126, "subnormal activation (got %g)", (double)y);
    /* a value whose lo part is subnormal: 1 + 2^-130 -> hi = 1, lo flushed */
    x[0] = 0x1p-100f * (1.0f + 0x1p-20f);
    vox_matmul_level(VOX_LEVEL_AVX512, NULL, &t, x, 1, &y);
    CHECK(fabs((double)y - (double)x[0]) <= 0x1p-17 * (double)x[0], "tiny activation (got %g)",
          (double)y);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--print-level") == 0) {
        printf("%s\n", vox_kernel_simd_name());
        return 0;
    }
    printf("simd: %s\n", vox_kernel_simd_name());
    for (int l = 0; l < VOX_LEVEL_COUNT; l++)
        if (vox_kernel_level_supported((vox_kernel_level)l)) g_levels[g_n_levels++] = l;
    vox_error err;
    CHECK(vox_pool_create(3, &g_pool, &err) == 0, "pool: %s", err.msg);
    test_pool();
    test_scratch();
    test_f16();
    test_elementwise();
    test_dot_exact();
    test_silu();
    test_rmsnorm_rows();
    test_pack_parallel();
    test_pack_large();
    test_levels(argv[0]);
    test_prep_exact();
    test_prep_probe();
    test_matmul_invalid();
    test_bf16_split_special();
    test_matmul_multi();
    test_matmul();
    CHECK(g_i8mm_cases > 0 || !vox_kernel_level_supported(VOX_LEVEL_NEON_I8MM), "no neon+i8mm case run");
    vox_pool_free(g_pool);
    TEST_MAIN_END();
}
