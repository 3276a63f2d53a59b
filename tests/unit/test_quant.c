/* test_quant.c — the ggml-compatible storage formats of src/tensor/quant.c.
 *
 * Checked here:
 *  - F16: every one of the 65536 halves survives half->float->half; float->half
 *    rounds to nearest even (against the compiler's _Float16 where available, and
 *    against hand-picked ties, overflow, subnormal and NaN cases everywhere).
 *  - Known vectors derived by hand: a Q8_0 block with exact ties, a Q8_0 ramp, a
 *    Q4_K block assembled byte by byte from chosen 6-bit scales/mins, Q4_K
 *    quantizer output bytes for two exactly representable blocks, a Q8_K block.
 *  - The format, read independently: blocks our quantizers write are decoded
 *    again by a reader written here from the format definition alone (quant.h),
 *    which must agree with vox_dequantize_row bit for bit; every field is in its
 *    documented range.
 *  - Error figures: on Gaussian and heavy-tailed (Student t, 3 degrees of
 *    freedom) rows the relative RMS error of each quantizer is no worse than the
 *    figures the previous quantizer (which followed another project's code)
 *    measured on the very same data.
 *  - Round trips on random data of awkward lengths (1..9 blocks and a long row)
 *    within per-format error bounds; lengths that are not a multiple of the block
 *    size are rejected and leave the output untouched; unaligned buffers work.
 *  - Reference dot products equal dequantize-then-dot (tight tolerance), and the
 *    integer dot products (q8_0 x q8_0, q4_k x q8_k) equal the float dot of the
 *    dequantized operands, and approximate the exact product within the
 *    activation's quantization error. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tensor/quant.h"
#include "test.h"

typedef struct rng {
    uint64_t s;
} rng;

static double urand(rng *r) { /* uniform in [0, 1) */
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (double)(r->s >> 11) * 0x1p-53;
}

static float grand(rng *r) { /* standard normal (Box-Muller) */
    double u = urand(r), v = urand(r);
    if (u < 1e-300) u = 1e-300;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- F16 ------------------------------------------------------------------ */

static void test_f16(void) {
    /* Every half round-trips exactly (NaNs stay NaN with the same sign). */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = vox_fp16_to_fp32((uint16_t)h);
        uint16_t back = vox_fp32_to_fp16(f);
        int is_nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu);
        if (is_nan) {
            if (!isnan(f) || (back & 0x7c00u) != 0x7c00u || !(back & 0x3ffu) || (back & 0x8000u) != (h & 0x8000u)) bad++;
        } else if (back != h) {
            bad++;
        }
    }
    CHECK(bad == 0, "%d halves do not round-trip", bad);

    /* Decoding known halves. */
    CHECK(vox_fp16_to_fp32(0x3c00) == 1.0f, "1.0");
    CHECK(vox_fp16_to_fp32(0xc000) == -2.0f, "-2.0");
    CHECK(vox_fp16_to_fp32(0x7bff) == 65504.0f, "max half");
    CHECK(vox_fp16_to_fp32(0x0001) == 0x1p-24f, "min subnormal");
    CHECK(vox_fp16_to_fp32(0x03ff) == 1023 * 0x1p-24f, "max subnormal");
    CHECK(vox_fp16_to_fp32(0x0400) == 0x1p-14f, "min normal");
    CHECK(vox_fp16_to_fp32(0x8001) == -0x1p-24f, "negative subnormal");
    CHECK(fbits(vox_fp16_to_fp32(0x8000)) == 0x80000000u, "-0");
    CHECK(isinf(vox_fp16_to_fp32(0x7c00)) && vox_fp16_to_fp32(0x7c00) > 0, "+inf");
    CHECK(isinf(vox_fp16_to_fp32(0xfc00)) && vox_fp16_to_fp32(0xfc00) < 0, "-inf");
    CHECK(isnan(vox_fp16_to_fp32(0x7e00)), "nan");

    /* Encoding: exact values, ties to even, overflow, underflow, specials. */
    struct { float f; uint16_t h; } cases[] = {
        {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000}, {0.5f, 0x3800},
        {65504.0f, 0x7bff}, {65519.0f, 0x7bff}, {65520.0f, 0x7c00}, {1e9f, 0x7c00}, {-1e9f, 0xfc00},
        {1.0f + 0x1p-11f, 0x3c00},        /* tie between 1 and 1+2^-10: even (1) */
        {1.0f + 3 * 0x1p-11f, 0x3c02},    /* tie between 1+2^-10 and 1+2^-9: even */
        {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01}, /* just above the tie */
        {2047.0f / 1024.0f + 0x1p-11f, 0x4000}, /* 1.9990234375 + half ulp: carries into exponent */
        {0x1p-14f, 0x0400}, {0x1p-24f, 0x0001}, {0x1p-25f, 0x0000}, /* tie with zero: even */
        {0x1p-25f * 1.0001f, 0x0001}, {3 * 0x1p-25f, 0x0002}, /* tie between 1 and 2 units */
        {5 * 0x1p-25f, 0x0002},                               /* tie between 2 and 3 units */
        {1023.5f * 0x1p-24f, 0x0400},  /* max subnormal + half unit rounds up to min normal */
        {1e-10f, 0x0000}, {-1e-10f, 0x8000}, {0.1f, 0x2e66}, {-3.140625f, 0xc248},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t h = vox_fp32_to_fp16(cases[i].f);
        CHECK(h == cases[i].h, "fp32_to_fp16(%a) = 0x%04x, want 0x%04x", (double)cases[i].f, h, cases[i].h);
    }
    CHECK(vox_fp32_to_fp16(INFINITY) == 0x7c00 && vox_fp32_to_fp16(-INFINITY) == 0xfc00, "inf");
    uint16_t hn = vox_fp32_to_fp16(NAN);
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff) != 0, "NaN stays NaN: 0x%04x", hn);
    /* A NaN whose payload lives only in the low bits must not turn into inf. */
    uint16_t hl = vox_fp32_to_fp16(bitsf(0x7f800001u));
    CHECK((hl & 0x7c00) == 0x7c00 && (hl & 0x3ff) != 0, "low-payload NaN: 0x%04x", hl);
    CHECK(vox_fp32_to_fp16(bitsf(0xff800001u)) & 0x8000, "negative NaN keeps sign");

#if defined(__FLT16_MAX__)
    /* The compiler's conversion (round to nearest even) on a sweep of f32 bit
     * patterns covering every exponent. */
    int mism = 0, tried = 0;
    for (uint64_t u = 0; u < 0x100000000ull; u += 997) {
        float f = bitsf((uint32_t)u);
        if (isnan(f)) continue;
        tried++;
        _Float16 g = (_Float16)f;
        uint16_t want;
        memcpy(&want, &g, 2);
        if (vox_fp32_to_fp16(f) != want) {
            if (mism < 5) fprintf(stderr, "  %a: got 0x%04x want 0x%04x\n", (double)f, vox_fp32_to_fp16(f), want);
            mism++;
        }
    }
    CHECK(mism == 0 && tried > 4000000, "%d of %d mismatches against _Float16", mism, tried);
#endif
}

/* ---- hand-derived known vectors --------------------------------------------- */

static void test_q8_0_known(void) {
    /* Block 0: x[0] = -127 sets d = 127/127 = 1 exactly (fp16 0x3c00); the others
     * are halves j-15.5, which round to the even neighbour. */
    float x[96];
    x[0] = -127.0f;
    for (int j = 1; j < 32; j++) x[j] = (float)j - 15.5f;
    /* Block 1: zeros -> d = 0, q = 0. */
    for (int j = 0; j < 32; j++) x[32 + j] = 0.0f;
    /* Block 2: ramp j/31 -> amax 1, d = 1/127 ~ 2^-7 * 1.00787 -> fp16 mantissa
     * round(0.00787*1024 = 8.06) = 8: 0x2008, i.e. d = 2^-7 * 1032/1024, a bit
     * under 1/127.  q_j = round(j/31 / d); the last one, 127.008, clamps to 127. */
    for (int j = 0; j < 32; j++) x[64 + j] = (float)j / 31.0f;
    unsigned char q[3 * 34];
    CHECK(vox_quantize_row(VOX_Q8_0, x, q, 96) == VOX_OK, "quantize");
    CHECK(q[0] == 0x00 && q[1] == 0x3c, "block 0 d = 1.0: %02x %02x", q[0], q[1]);
    CHECK((int8_t)q[2] == -127, "q[0] = %d", (int8_t)q[2]);
    int ok = 1;
    for (int j = 1; j < 32; j++) {
        /* (j - 15.5) rounds to the even one of j-16 and j-15 */
        int want = (j - 16) % 2 == 0 ? j - 16 : j - 15;
        if ((int8_t)q[2 + j] != want) ok = 0;
    }
    CHECK(ok, "block 0 ties round to even");
    ok = 1;
    for (int j = 0; j < 34; j++)
        if (q[34 + j] != 0) ok = 0;
    CHECK(ok, "zero block is all zero bytes");
    CHECK(q[68] == 0x08 && q[69] == 0x20, "ramp d = 0x2008: %02x%02x", q[69], q[68]);
    /* j/31 / (2^-7 * 1032/1024): j=1 -> 4.10 -> 4, j=15 -> 61.46 -> 61, j=16 -> 65.55 -> 66 */
    CHECK((int8_t)q[70] == 0 && (int8_t)q[71] == 4 && (int8_t)q[70 + 15] == 61 && (int8_t)q[70 + 16] == 66 &&
              (int8_t)q[70 + 31] == 127,
          "ramp quants %d %d %d %d %d", (int8_t)q[70], (int8_t)q[71], (int8_t)q[85], (int8_t)q[86], (int8_t)q[101]);
    float y[96];
    CHECK(vox_dequantize_row(VOX_Q8_0, q, y, 96) == VOX_OK, "dequantize");
    CHECK(y[0] == -127.0f && y[1] == -14.0f && y[2] == -14.0f && y[16] == 0.0f && y[17] == 2.0f && y[31] == 16.0f,
          "block 0 values");
    CHECK(y[40] == 0.0f, "zero block");
    float d = 1.0f / 128.0f * (1.0f + 8.0f / 1024.0f); /* fp16 0x2008 */
    CHECK(y[64 + 31] == 127.0f * d && y[64 + 16] == 66.0f * d, "ramp values");
}

/* The 12 scale bytes below were packed by hand from
 *   sc = {1, 2, 3, 4, 45, 50, 60, 63},  m = {0, 5, 10, 63, 17, 33, 48, 7}:
 * bytes 0-3: sc[0..3] | (sc[4..7] >> 4) << 6  = 1|2<<6, 2|3<<6, 3|3<<6, 4|3<<6
 * bytes 4-7: m[0..3]  | (m[4..7] >> 4) << 6   = 0|1<<6, 5|2<<6, 10|3<<6, 63|0<<6
 * bytes 8-11: (sc[4..7] & 15) | (m[4..7] & 15) << 4 = 13|1<<4, 2|1<<4, 12|0<<4, 15|7<<4 */
static const int k_sc[8] = {1, 2, 3, 4, 45, 50, 60, 63};
static const int k_m[8] = {0, 5, 10, 63, 17, 33, 48, 7};
static const uint8_t k_scales[12] = {0x81, 0xC2, 0xC3, 0xC4, 0x40, 0x85, 0xCA, 0x3F, 0x1D, 0x12, 0x0C, 0x7F};

static int k_quant(int s, int l) { return (l * 7 + s * 3) & 15; }

static void test_q4_k_known(void) {
    unsigned char blk[144];
    blk[0] = 0x00; blk[1] = 0x3c; /* d = 1.0 */
    blk[2] = 0x00; blk[3] = 0x38; /* dmin = 0.5 */
    memcpy(blk + 4, k_scales, 12);
    /* Values 64k+l (sub-block 2k) in the low nibble of qs[32k+l], values 64k+32+l
     * (sub-block 2k+1) in its high nibble. */
    for (int k = 0; k < 4; k++)
        for (int l = 0; l < 32; l++) blk[16 + 32 * k + l] = (unsigned char)(k_quant(2 * k, l) | k_quant(2 * k + 1, l) << 4);
    float y[256], ones[256];
    CHECK(vox_dequantize_row(VOX_Q4_K, blk, y, 256) == VOX_OK, "dequantize");
    int bad = 0;
    double sum = 0;
    for (int s = 0; s < 8; s++)
        for (int l = 0; l < 32; l++) {
            float want = 1.0f * (float)k_sc[s] * (float)k_quant(s, l) - 0.5f * (float)k_m[s];
            if (y[32 * s + l] != want) {
                if (bad < 4) fprintf(stderr, "  y[%d] = %g want %g\n", 32 * s + l, (double)y[32 * s + l], (double)want);
                bad++;
            }
            sum += want;
        }
    CHECK(bad == 0, "%d Q4_K values differ from the hand-built block", bad);
    for (int i = 0; i < 256; i++) ones[i] = 1.0f;
    CHECK(vox_vec_dot_q4_k_f32(256, blk, ones) == (float)sum, "dot with ones %g vs %g",
          (double)vox_vec_dot_q4_k_f32(256, blk, ones), sum);

    /* Quantizer on exactly representable data.  Block A: every sub-block is
     * 0,1,..,15,0,..,15: the fit is exact (scale 1, min 0), so all 6-bit scales are
     * 63, d = fp16(1/63) = 2^-6 * (1 + 16/1024) (0x2410), dmin = 0, mins 0, and the
     * quants are the values themselves.  Block B: the same minus 8: min 8 as well,
     * dmin = fp16(8/63) = 2^-3 * (1 + 16/1024) (0x3010), all scales and mins 63
     * (every scale byte 0xFF); decoding gives exactly (q - 8) * 4095/4096. */
    float x[512];
    for (int i = 0; i < 256; i++) {
        x[i] = (float)(i % 16);
        x[256 + i] = (float)(i % 16) - 8.0f;
    }
    unsigned char q[288];
    CHECK(vox_quantize_row(VOX_Q4_K, x, q, 512) == VOX_OK, "quantize");
    CHECK(q[0] == 0x10 && q[1] == 0x24 && q[2] == 0 && q[3] == 0, "A: d/dmin %02x%02x %02x%02x", q[1], q[0], q[3], q[2]);
    static const uint8_t a_scales[12] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x0F, 0x0F, 0x0F, 0x0F};
    CHECK(memcmp(q + 4, a_scales, 12) == 0, "A: scale bytes");
    int qbad = 0;
    for (int i = 0; i < 128; i++)
        if (q[16 + i] != (unsigned char)((i % 16) * 0x11)) qbad++;
    CHECK(qbad == 0, "A: %d quant bytes differ", qbad);
    unsigned char *b = q + 144;
    CHECK(b[0] == 0x10 && b[1] == 0x24 && b[2] == 0x10 && b[3] == 0x30, "B: d/dmin %02x%02x %02x%02x", b[1], b[0], b[3], b[2]);
    qbad = 0;
    for (int i = 0; i < 12; i++)
        if (b[4 + i] != 0xFF) qbad++;
    for (int i = 0; i < 128; i++)
        if (b[16 + i] != (unsigned char)((i % 16) * 0x11)) qbad++;
    CHECK(qbad == 0, "B: %d scale/quant bytes differ", qbad);
    float yy[512];
    CHECK(vox_dequantize_row(VOX_Q4_K, q, yy, 512) == VOX_OK, "dequantize");
    bad = 0;
    for (int i = 0; i < 256; i++) {
        if (yy[i] != (float)(i % 16) * (4095.0f / 4096.0f)) bad++;
        if (yy[256 + i] != ((float)(i % 16) - 8.0f) * (4095.0f / 4096.0f)) bad++;
    }
    CHECK(bad == 0, "%d decoded values differ", bad);
}

static void test_q8_k_known(void) {
    /* All ones except x[5] = -2: amax 2, so the step is 2/127, -2 becomes -127
     * and every 1 becomes 63.5 -> 64 (tie to even); d = 2/127. */
    float x[256];
    for (int i = 0; i < 256; i++) x[i] = 1.0f;
    x[5] = -2.0f;
    vox_block_q8_k b;
    CHECK(vox_quantize_row_q8_k(x, &b, 256) == VOX_OK, "quantize");
    CHECK(b.qs[5] == -127 && b.qs[0] == 64 && b.qs[255] == 64, "quants %d %d", b.qs[5], b.qs[0]);
    CHECK(b.d == 2.0f / 127.0f, "d = %g", (double)b.d);
    CHECK(b.bsums[0] == 15 * 64 - 127 && b.bsums[1] == 16 * 64 && b.bsums[15] == 16 * 64, "bsums %d %d", b.bsums[0], b.bsums[1]);
    /* Zero block: d = 0, everything zero. */
    float z[256] = {0};
    vox_block_q8_k bz;
    memset(&bz, 0x5a, sizeof bz);
    CHECK(vox_quantize_row_q8_k(z, &bz, 256) == VOX_OK, "quantize zeros");
    int nz = 0;
    for (int i = 0; i < 256; i++) nz += bz.qs[i] != 0;
    for (int i = 0; i < 16; i++) nz += bz.bsums[i] != 0;
    CHECK(bz.d == 0.0f && nz == 0, "zero block");
}

/* ---- the format, read independently ----------------------------------------
 * A reader written from the format definition in quant.h alone, with its own
 * bit arithmetic on the raw bytes: whatever our quantizers choose, another
 * program that knows only the format must decode the same values. */

static float half_from_bytes(const unsigned char *p) { /* IEEE binary16, little-endian */
    unsigned h = (unsigned)p[0] | (unsigned)p[1] << 8;
    int e = (int)(h >> 10 & 31), f = (int)(h & 1023);
    double v = e == 0 ? ldexp(f, -24) : e == 31 ? (f ? NAN : INFINITY) : ldexp(1024 + f, e - 25);
    return (float)((h & 0x8000) ? -v : v);
}

/* Q4_K block at p: 2+2 bytes of scales, 12 bytes of 6-bit pairs, 128 of nibbles. */
static void spec_decode_q4_k(const unsigned char *p, float *y) {
    const float d = half_from_bytes(p), dmin = half_from_bytes(p + 2);
    const unsigned char *sc = p + 4, *qs = p + 16;
    for (int s = 0; s < 8; s++) {
        int scale, min;
        if (s < 4) {
            scale = sc[s] % 64;
            min = sc[s + 4] % 64;
        } else {
            scale = sc[s + 4] % 16 + (sc[s - 4] / 64) * 16;
            min = sc[s + 4] / 16 + (sc[s] / 64) * 16;
        }
        for (int l = 0; l < 32; l++) {
            int byte = qs[32 * (s / 2) + l];
            int level = s % 2 ? byte / 16 : byte % 16;
            y[32 * s + l] = (d * (float)scale) * (float)level - dmin * (float)min;
        }
    }
}

static void spec_decode_q8_0(const unsigned char *p, float *y) {
    const float d = half_from_bytes(p);
    for (int j = 0; j < 32; j++) y[j] = (float)(signed char)p[2 + j] * d;
}

typedef struct rng_dist {
    rng r;
    int heavy; /* 0: standard normal, 1: Student t with 3 degrees of freedom */
} rng_dist;

static float draw(rng_dist *g) {
    float z = grand(&g->r);
    if (!g->heavy) return z;
    double c = 0;
    for (int i = 0; i < 3; i++) {
        double u = grand(&g->r);
        c += u * u;
    }
    return (float)(z / sqrt(c / 3.0));
}

static void test_format_independent(void) {
    enum { N = 2048 };
    static float x[N], y[N], z[N];
    static unsigned char q[N / 256 * 292];
    int bad4 = 0, bad8 = 0, badk = 0, range = 0;
    for (int kind = 0; kind < 3; kind++) {
        rng_dist g = {{0x5EEDull + (uint64_t)kind}, kind == 1};
        for (int i = 0; i < N; i++) x[i] = kind == 2 ? 2.0f + 0.5f * draw(&g) : draw(&g) * 0.03f;
        /* Q4_K */
        CHECK(vox_quantize_row(VOX_Q4_K, x, q, N) == VOX_OK, "q4_k quantize");
        vox_dequantize_row(VOX_Q4_K, q, y, N);
        for (int b = 0; b < N / 256; b++) spec_decode_q4_k(q + 144 * b, z + 256 * b);
        for (int i = 0; i < N; i++) bad4 += memcmp(&y[i], &z[i], 4) != 0;
        for (int b = 0; b < N / 256; b++) { /* d, dmin finite and >= 0 */
            float d = half_from_bytes(q + 144 * b), dm = half_from_bytes(q + 144 * b + 2);
            range += !(d >= 0 && isfinite(d) && dm >= 0 && isfinite(dm));
        }
        /* Q8_0: quants symmetric in -127..127 */
        CHECK(vox_quantize_row(VOX_Q8_0, x, q, N) == VOX_OK, "q8_0 quantize");
        vox_dequantize_row(VOX_Q8_0, q, y, N);
        for (int b = 0; b < N / 32; b++) {
            spec_decode_q8_0(q + 34 * b, z + 32 * b);
            if (memchr(q + 34 * b + 2, 0x80, 32)) range++; /* a quant of -128 */
        }
        for (int i = 0; i < N; i++) bad8 += memcmp(&y[i], &z[i], 4) != 0;
        /* Q8_K: d = amax/127, the extreme at +-127, bsums the sums of 16 */
        CHECK(vox_quantize_row_q8_k(x, q, N) == VOX_OK, "q8_k quantize");
        for (int b = 0; b < N / 256; b++) {
            vox_block_q8_k blk;
            memcpy(&blk, q + 292 * b, sizeof blk);
            float amax = 0;
            int extreme = 0; /* the largest magnitude must sit at +-127 */
            for (int j = 0; j < 256; j++) amax = fmaxf(amax, fabsf(x[256 * b + j]));
            for (int j = 0; j < 256; j++)
                if (fabsf(x[256 * b + j]) == amax) extreme = blk.qs[j] == 127 || blk.qs[j] == -127;
            badk += blk.d != amax / 127.0f || !extreme;
            for (int g16 = 0; g16 < 16; g16++) {
                int sum = 0;
                for (int l = 0; l < 16; l++) sum += blk.qs[16 * g16 + l];
                badk += blk.bsums[g16] != sum;
            }
        }
    }
    CHECK(bad4 == 0, "%d Q4_K values decode differently by the format definition", bad4);
    CHECK(bad8 == 0, "%d Q8_0 values decode differently by the format definition", bad8);
    CHECK(badk == 0, "%d Q8_K fields off (scale, extreme, sums)", badk);
    CHECK(range == 0, "%d fields out of their range", range);
}

/* ---- error figures -----------------------------------------------------------
 * Relative RMS error sqrt(sum (y-x)^2 / sum x^2) over 64 rows of 4096 values.
 * The limits are what the previous quantizer measured on exactly this data
 * (it followed another project's code; replaced by ours, which must be no
 * worse): what ours measured when it was written is in the comment. */
static double rel_rmse(int kind, int heavy) { /* kind 0: Q4_K, 1: Q8_0, 2: Q8_K */
    enum { N = 4096, ROWS = 64 };
    static float x[N], y[N];
    static unsigned char q[N / 256 * 292];
    rng_dist g = {{0x9E3779B97F4A7C15ull + (uint64_t)heavy}, heavy};
    double se = 0, sx = 0;
    for (int row = 0; row < ROWS; row++) {
        for (int i = 0; i < N; i++) x[i] = draw(&g);
        if (kind == 0) vox_quantize_row(VOX_Q4_K, x, q, N), vox_dequantize_row(VOX_Q4_K, q, y, N);
        else if (kind == 1) vox_quantize_row(VOX_Q8_0, x, q, N), vox_dequantize_row(VOX_Q8_0, q, y, N);
        else vox_quantize_row_q8_k(x, q, N), vox_dequantize_row_q8_k(q, y, N);
        for (int i = 0; i < N; i++) {
            double e = (double)y[i] - x[i];
            se += e * e;
            sx += (double)x[i] * x[i];
        }
    }
    return sqrt(se / sx);
}

static void test_error_figures(void) {
    static const char *names[3] = {"Q4_K", "Q8_0", "Q8_K"};
    /* previous quantizer; ours when written: 0.070783, 0.005350, 0.006963 (Gaussian),
     * 0.091264, 0.008258, 0.016298 (Student t3) */
    static const double previous[2][3] = {{0.071348545, 0.005353991, 0.006962941},
                                          {0.092828010, 0.008259545, 0.016297609}};
    for (int heavy = 0; heavy < 2; heavy++)
        for (int kind = 0; kind < 3; kind++) {
            double e = rel_rmse(kind, heavy);
            printf("  %s %s: relative RMS error %.6f (previous quantizer %.6f)\n", names[kind],
                   heavy ? "Student-t3" : "Gaussian", e, previous[heavy][kind]);
            CHECK(e <= previous[heavy][kind] * (1.0 + 1e-6), "%s %s error %.9f above the previous %.9f", names[kind],
                  heavy ? "Student-t3" : "Gaussian", e, previous[heavy][kind]);
        }
}

static void test_geometry(void) {
    CHECK(vox_quant_block_size(VOX_F32) == 1 && vox_quant_block_bytes(VOX_F32) == 4, "F32");
    CHECK(vox_quant_block_size(VOX_BF16) == 1 && vox_quant_block_bytes(VOX_BF16) == 2, "BF16");
    CHECK(vox_quant_block_size(VOX_F16) == 1 && vox_quant_block_bytes(VOX_F16) == 2, "F16");
    CHECK(vox_quant_block_size(VOX_Q8_0) == 32 && vox_quant_block_bytes(VOX_Q8_0) == 34, "Q8_0");
    CHECK(vox_quant_block_size(VOX_Q4_K) == 256 && vox_quant_block_bytes(VOX_Q4_K) == 144, "Q4_K");
    CHECK(vox_quant_block_size((vox_dtype)99) == 0 && vox_quant_block_bytes((vox_dtype)99) == 0, "invalid");
    /* Must agree with tensor.c's row sizes. */
    const vox_dtype all[] = {VOX_F32, VOX_BF16, VOX_F16, VOX_Q8_0, VOX_Q4_K};
    for (int i = 0; i < 5; i++) {
        int64_t n = vox_quant_block_size(all[i]) * 12;
        CHECK(vox_dtype_row_bytes(all[i], n) == 12 * vox_quant_block_bytes(all[i]), "row bytes %s", vox_dtype_name(all[i]));
    }
}

static void test_reject_lengths(void) {
    float x[600] = {0}, y[600];
    unsigned char out[2048];
    struct { vox_dtype t; int64_t n; } bad[] = {
        {VOX_Q8_0, 31}, {VOX_Q8_0, 33}, {VOX_Q8_0, 1}, {VOX_Q4_K, 255}, {VOX_Q4_K, 257},
        {VOX_Q4_K, 32}, {VOX_Q4_K, 300}, {VOX_F16, -1}, {VOX_Q8_0, -32}, {(vox_dtype)7, 32},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(out, 0xab, sizeof out);
        int rc = vox_quantize_row(bad[i].t, x, out, bad[i].n);
        int untouched = 1;
        for (size_t k = 0; k < sizeof out; k++)
            if (out[k] != 0xab) untouched = 0;
        CHECK(rc == VOX_E_ARG && untouched, "quantize dtype %d n %lld: rc %d", (int)bad[i].t, (long long)bad[i].n, rc);
        for (int k = 0; k < 600; k++) y[k] = 42.0f;
        rc = vox_dequantize_row(bad[i].t, out, y, bad[i].n);
        CHECK(rc == VOX_E_ARG && y[0] == 42.0f && y[599] == 42.0f, "dequantize dtype %d n %lld", (int)bad[i].t,
              (long long)bad[i].n);
    }
    CHECK(vox_quantize_row_q8_k(x, out, 128) == VOX_E_ARG, "q8_k 128");
    CHECK(vox_dequantize_row_q8_k(out, y, 300) == VOX_E_ARG, "q8_k 300");
    CHECK(isnan(vox_vec_dot_q8_0_f32(33, out, x)), "dot q8_0 33");
    CHECK(isnan(vox_vec_dot_q4_k_f32(300, out, x)), "dot q4_k 300");
    CHECK(isnan(vox_vec_dot_q8_0_q8_0(40, out, out)), "int dot q8_0 40");
    CHECK(isnan(vox_vec_dot_q4_k_q8_k(512 + 32, out, out)), "int dot q4_k 544");
    /* Zero length is fine. */
    CHECK(vox_quantize_row(VOX_Q4_K, x, out, 0) == VOX_OK && vox_dequantize_row(VOX_Q8_0, out, y, 0) == VOX_OK, "n = 0");
    CHECK(vox_vec_dot_q4_k_f32(0, out, x) == 0.0f, "empty dot");
}

/* Quantize, dequantize, compare per element against a bound that depends on the
 * format; also dot products against dequantize-then-dot. */
static void roundtrip(vox_dtype t, const float *x, int64_t n, const char *what) {
    size_t bytes = (size_t)(n / vox_quant_block_size(t)) * vox_quant_block_bytes(t);
    unsigned char *q = malloc(bytes + 1), *q_un = malloc(bytes + 1);
    float *y = malloc((size_t)n * sizeof *y), *y2 = malloc((size_t)n * sizeof *y2);
    float *v = malloc((size_t)n * sizeof *v);
    if (!q || !q_un || !y || !y2 || !v) {
        CHECK(0, "out of memory");
        free(q), free(q_un), free(y), free(y2), free(v);
        return;
    }
    CHECK(vox_quantize_row(t, x, q, n) == VOX_OK, "%s %s quantize", vox_dtype_name(t), what);
    CHECK(vox_dequantize_row(t, q, y, n) == VOX_OK, "%s %s dequantize", vox_dtype_name(t), what);
    /* Same bytes and values through deliberately misaligned buffers. */
    CHECK(vox_quantize_row(t, x, q_un + 1, n) == VOX_OK && memcmp(q, q_un + 1, bytes) == 0, "%s %s unaligned quantize",
          vox_dtype_name(t), what);
    CHECK(vox_dequantize_row(t, q_un + 1, y2, n) == VOX_OK && memcmp(y, y2, (size_t)n * sizeof *y) == 0,
          "%s %s unaligned dequantize", vox_dtype_name(t), what);

    /* Q4_K: bounds per 32-value sub-block, plus a term for the whole super-block
     * (the 6-bit sub-block scales and mins are relative to its largest ones). */
    int64_t bs = t == VOX_Q4_K ? 32 : vox_quant_block_size(t);
    int bad = 0;
    double err2 = 0, x2 = 0, sup_range = 0;
    for (int64_t b0 = 0; b0 < n; b0 += bs) {
        float amax = 0, mn = 0, mx = 0;
        if (t == VOX_Q4_K && b0 % 256 == 0) {
            sup_range = 0;
            for (int64_t i = b0; i < b0 + 256; i += 32) {
                float smn = 0, smx = -INFINITY;
                for (int64_t k = i; k < i + 32; k++) smn = fminf(smn, x[k]), smx = fmaxf(smx, x[k]);
                sup_range = fmax(sup_range, (double)smx - smn);
            }
        }
        for (int64_t i = b0; i < b0 + bs; i++) {
            amax = fmaxf(amax, fabsf(x[i]));
            mn = fminf(mn, x[i]);
            mx = fmaxf(mx, x[i]);
        }
        /* d = amax/127 stored as fp16: relative error 2^-11, or absolute 2^-25
         * once it falls into fp16's subnormal range. */
        double d = amax / 127.0, d_err = fmax(d * 0x1p-11, 0x1p-25);
        for (int64_t i = b0; i < b0 + bs; i++) {
            double e = fabs((double)x[i] - (double)y[i]), bound;
            switch (t) {
            case VOX_F32: bound = 0; break;
            case VOX_F16: bound = fabs(x[i]) * 0x1p-11 + 0x1p-25; break;
            case VOX_BF16: bound = fabs(x[i]) * 0x1p-8; break;
            /* Half a step, plus the step's own fp16 rounding times |q| <= 127. */
            case VOX_Q8_0: bound = 0.5 * (d + d_err) + 127 * d_err + 1e-30; break;
            /* Within the sub-block, 15 steps span [min(0,mn), mx]; the fit may clip
             * the extremes by up to about a step.  The 6-bit scale and min are
             * each off by up to half of 1/63 of the super-block's largest, which
             * moves a value by up to 15/126 resp. 1/126 of the largest range;
             * fp16 d and dmin add their own (absolute, when subnormal) rounding. */
            default: bound = 2.0 * (mx - fminf(mn, 0)) / 15.0 + 3.0 * sup_range / 126.0 + 1000 * 0x1p-25; break;
            }
            if (e > bound) {
                if (bad < 3)
                    fprintf(stderr, "  %s %s [%lld] x=%g y=%g err %g > %g\n", vox_dtype_name(t), what, (long long)i,
                            (double)x[i], (double)y[i], e, bound);
                bad++;
            }
            err2 += e * e;
            x2 += (double)x[i] * x[i];
        }
    }
    CHECK(bad == 0, "%s %s: %d values outside the error bound", vox_dtype_name(t), what, bad);
    int typical = strcmp(what, "scaled") != 0; /* scaled: sub-blocks 1e-3 .. 1e3 apart */
    if (t == VOX_Q4_K && typical && x2 > 0) {
        double rel = sqrt(err2 / x2);
        CHECK(rel < 0.12, "Q4_K %s relative rms error %g", what, rel);
    }
    if (t == VOX_Q8_0 && typical && x2 > 0) CHECK(sqrt(err2 / x2) < 0.01, "Q8_0 %s relative rms error %g", what, sqrt(err2 / x2));

    /* Reference dot vs dequantize-then-dot. */
    rng r = {0x1234567ull + (uint64_t)n};
    for (int64_t i = 0; i < n; i++) v[i] = grand(&r);
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < n; i++) {
        ref += (double)y[i] * v[i];
        mag += fabs((double)y[i] * v[i]);
    }
    float got = vox_vec_dot_f32(t, n, q, v);
    float got_un = vox_vec_dot_f32(t, n, q_un + 1, v);
    double tol = 1e-6 * (double)n * mag + 1e-30; /* float accumulation over n terms */
    CHECK(fabs(got - ref) <= tol, "%s %s vec_dot %g vs dequantized %g", vox_dtype_name(t), what, (double)got, ref);
    CHECK(got == got_un, "%s %s vec_dot unaligned", vox_dtype_name(t), what);
    /* Same accumulation order as a plain float loop over the dequantized row. */
    float seq = 0.0f;
    for (int64_t i = 0; i < n; i++) seq += y[i] * v[i];
    CHECK(fabsf(got - seq) <= 1e-5f * (float)mag + 1e-30f, "%s %s vec_dot %g vs sequential %g", vox_dtype_name(t), what,
          (double)got, (double)seq);
    free(q), free(q_un), free(y), free(y2), free(v);
}

static void test_roundtrips(void) {
    rng r = {0xC0FFEEull};
    const int64_t lens[] = {1, 2, 3, 5, 7, 9, 17};
    const vox_dtype types[] = {VOX_F32, VOX_F16, VOX_BF16, VOX_Q8_0, VOX_Q4_K};
    for (int ti = 0; ti < 5; ti++) {
        int64_t bs = vox_quant_block_size(types[ti]);
        for (int li = 0; li < 7; li++) {
            int64_t n = lens[li] * (bs == 1 ? 37 : bs);
            float *x = malloc((size_t)n * sizeof *x);
            if (!x) {
                CHECK(0, "oom");
                return;
            }
            /* Three kinds of data: gaussian, all-positive with an offset (exercises
             * the Q4_K min), and blocks of wildly different scales with zeros. */
            for (int64_t i = 0; i < n; i++) x[i] = grand(&r);
            roundtrip(types[ti], x, n, "gaussian");
            for (int64_t i = 0; i < n; i++) x[i] = 3.0f + (float)urand(&r);
            roundtrip(types[ti], x, n, "offset");
            for (int64_t i = 0; i < n; i++) {
                int64_t blk = i / 32;
                x[i] = blk % 3 == 0 ? 0.0f : grand(&r) * powf(10.0f, (float)(blk % 7) - 3.0f);
            }
            roundtrip(types[ti], x, n, "scaled");
            free(x);
        }
    }
    /* A long row: 4096 + 256 (the Voxtral hidden size plus one block). */
    int64_t n = 4096 + 256;
    float *x = malloc((size_t)n * sizeof *x);
    if (x) {
        for (int64_t i = 0; i < n; i++) x[i] = grand(&r) * 0.02f;
        roundtrip(VOX_Q4_K, x, n, "long");
        roundtrip(VOX_Q8_0, x, n, "long");
        free(x);
    }
}

/* ---- integer dot products --------------------------------------------------- */

static void test_int_dots(void) {
    rng r = {0xBADC0DEull};
    const int64_t lens[] = {256, 512, 1280, 4096};
    for (int li = 0; li < 4; li++) {
        int64_t n = lens[li];
        float *w = malloc((size_t)n * sizeof *w), *x = malloc((size_t)n * sizeof *x);
        float *wd = malloc((size_t)n * sizeof *wd), *xd = malloc((size_t)n * sizeof *xd);
        unsigned char *wq = malloc((size_t)n / 32 * 34 + (size_t)n / 256 * 144 + 1);
        unsigned char *xq = malloc((size_t)n / 256 * 292 + (size_t)n / 32 * 34 + 1);
        if (!w || !x || !wd || !xd || !wq || !xq) {
            CHECK(0, "oom");
            free(w), free(x), free(wd), free(xd), free(wq), free(xq);
            return;
        }
        for (int64_t i = 0; i < n; i++) {
            w[i] = grand(&r) * 0.05f + (li == 2 ? 0.02f : 0.0f);
            x[i] = grand(&r) * (i % 97 == 0 ? 20.0f : 1.0f); /* a few outliers */
        }
        for (int pass = 0; pass < 2; pass++) {
            vox_dtype wt = pass == 0 ? VOX_Q8_0 : VOX_Q4_K;
            CHECK(vox_quantize_row(wt, w, wq, n) == VOX_OK, "quantize w");
            vox_dequantize_row(wt, wq, wd, n);
            float got;
            if (wt == VOX_Q8_0) {
                CHECK(vox_quantize_row(VOX_Q8_0, x, xq, n) == VOX_OK, "quantize x q8_0");
                vox_dequantize_row(VOX_Q8_0, xq, xd, n);
                got = vox_vec_dot_q8_0_q8_0(n, wq, xq);
                /* misaligned copies give the same */
                unsigned char *wu = malloc((size_t)n / 32 * 34 + 3), *xu = malloc((size_t)n / 32 * 34 + 3);
                if (wu && xu) {
                    memcpy(wu + 1, wq, (size_t)n / 32 * 34);
                    memcpy(xu + 3, xq, (size_t)n / 32 * 34);
                    CHECK(vox_vec_dot_q8_0_q8_0(n, wu + 1, xu + 3) == got, "unaligned q8_0 dot");
                }
                free(wu), free(xu);
            } else {
                CHECK(vox_quantize_row_q8_k(x, xq, n) == VOX_OK, "quantize x q8_k");
                CHECK(vox_dequantize_row_q8_k(xq, xd, n) == VOX_OK, "dequantize q8_k");
                got = vox_vec_dot_q4_k_q8_k(n, wq, xq);
            }
            /* vs the float dot of the dequantized operands */
            double ref = 0, mag = 0, exact = 0, xerr = 0;
            for (int64_t i = 0; i < n; i++) {
                ref += (double)wd[i] * xd[i];
                mag += fabs((double)wd[i] * xd[i]);
                exact += (double)wd[i] * x[i];
                xerr += fabs((double)wd[i]) * fabs((double)x[i] - xd[i]);
            }
            CHECK(fabs(got - ref) <= 1e-5 * mag, "%s int dot n=%lld: %.9g vs %.9g", vox_dtype_name(wt), (long long)n,
                  (double)got, ref);
            /* vs the exact product with the unquantized activation: off by at most
             * the activation's quantization error (plus rounding). */
            CHECK(fabs(got - exact) <= xerr + 1e-5 * mag, "%s int dot n=%lld vs exact %.9g (err bound %g)",
                  vox_dtype_name(wt), (long long)n, exact, xerr);
            /* and the quantized-activation route stays close to the float one */
            CHECK(fabs(got - exact) <= 0.02 * mag, "%s relative error of int dot", vox_dtype_name(wt));
        }
        free(w), free(x), free(wd), free(xd), free(wq), free(xq);
    }
}

/* Garbage input (NaN, inf) must not crash or invoke undefined conversions. */
static void test_garbage(void) {
    float x[256];
    for (int i = 0; i < 256; i++) x[i] = (i % 3 == 0) ? NAN : (i % 3 == 1) ? INFINITY : -1e38f;
    unsigned char q[292];
    float y[256];
    CHECK(vox_quantize_row(VOX_Q8_0, x, q, 256) == VOX_OK, "q8_0 garbage");
    CHECK(vox_quantize_row(VOX_Q4_K, x, q, 256) == VOX_OK, "q4_k garbage");
    CHECK(vox_quantize_row_q8_k(x, q, 256) == VOX_OK, "q8_k garbage");
    CHECK(vox_dequantize_row(VOX_Q4_K, q, y, 256) == VOX_OK, "dequantize garbage");
}

int main(void) {
    test_f16();
    test_geometry();
    test_q8_0_known();
    test_q4_k_known();
    test_q8_k_known();
    test_format_independent();
    test_error_figures();
    test_reject_lengths();
    test_roundtrips();
    test_int_dots();
    test_garbage();
    TEST_MAIN_END();
}
