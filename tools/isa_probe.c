/* isa_probe.c — how many of the integer kernels' instructions this x86 core
 * retires per cycle, and what that makes the ceiling of the 256-bit (AVX2)
 * Q4_K product that the flow head runs with 6 activation rows.
 *
 *   build/tools/isa_probe [--iters N]
 *
 * The clock is estimated from a chain of dependent 64-bit adds (one per
 * cycle on every x86 core of the last decade, whatever the turbo state).
 * Each instruction is then issued into 12 independent register chains (so
 * its latency hides nothing unless it exceeds 12 / throughput cycles) and
 * printed as instructions per cycle at that clock.
 *
 * The AVX2 Q4_K bound: per 256 products and activation row the kernel
 * (src/tensor/kernels_x86q.h) issues 8 vpmaddubsw, 7 vpaddw and 1 vpmaddwd,
 * and per 256 weights, shared by the rows, 12 more integer operations to
 * split the nibbles (4 vpsrlw, 8 vpand): 16 + 12 / 6 = 18 with 6 rows; its
 * float work adds a conversion and two FMAs.  The 9 multiplies issue at most
 * at the measured vpmaddubsw rate, the 18 integer operations at most at the
 * vpaddw rate, the 2 FMAs at the vfmadd231ps rate, and the 11 multiplies and
 * FMAs at most at the rate of the two interleaved (lower than either alone
 * where they share ports); the slowest gives the cycles per 256 products and
 * row, and so the GMAC/s printed.
 * The conversion, the loads and any imperfect sharing of the ports are left
 * out, so this is an upper bound: the kernel's
 * speed with its weights in cache (tools/kernel_bench --level avx2 --packed
 * --mb 0) is what to hold against it.  A second figure times the kernel's
 * integer instructions alone as it issues them (activations as memory
 * operands, two temporaries, no float work, so it can exceed the bound),
 * and a third the same without the adds.
 *
 * x86-64 only; elsewhere the probe says so and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* GHz from a dependent chain of 8 adds per iteration (best of 3). */
static double clock_ghz(long iters) {
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        long x = 0;
        const double t = now_s();
        for (long i = 0; i < iters; i++)
            __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                             "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                             : "+r"(x));
        const double ghz = 8.0 * (double)iters / (now_s() - t) / 1e9;
        if (ghz > best) best = ghz;
        if (x != 8 * iters) return 0;
    }
    return best;
}

/* 12 chains of one instruction "OP src, acc, acc" on ymm registers. */
#define CHAINS12(OP)                                                                               \
    OP " %12, %0, %0\n\t" OP " %12, %1, %1\n\t" OP " %12, %2, %2\n\t" OP " %12, %3, %3\n\t"      \
    OP " %12, %4, %4\n\t" OP " %12, %5, %5\n\t" OP " %12, %6, %6\n\t" OP " %12, %7, %7\n\t"      \
    OP " %12, %8, %8\n\t" OP " %12, %9, %9\n\t" OP " %12, %10, %10\n\t" OP " %12, %11, %11\n\t"
#define PROBE_BODY(TEXT, VT)                                                                       \
    VT a0 = src, a1 = src, a2 = src, a3 = src, a4 = src, a5 = src, a6 = src, a7 = src, a8 = src,     \
       a9 = src, a10 = src, a11 = src;                                                             \
    double best = 0;                                                                               \
    for (int rep = 0; rep < 3; rep++) {                                                            \
        const double t = now_s();                                                                  \
        for (long i = 0; i < iters; i++)                                                           \
            __asm__ volatile(TEXT                                                                  \
                             : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5),         \
                               "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11)         \
                             : "v"(src));                                                          \
        const double r = 12.0 * (double)iters / (now_s() - t) / 1e9 / ghz;                         \
        if (r > best) best = r;                                                                    \
    }                                                                                              \
    sink = _mm_cvtsi128_si32(_mm_xor_si128(_mm_xor_si128(cast128(a0), cast128(a5)), cast128(a11))); \
    return best;

static volatile int sink;

#define cast128(v) _mm256_castsi256_si128(v)
__attribute__((target("avx2"))) static double ipc_ymm(int which, long iters, double ghz) {
    const __m256i src = _mm256_set1_epi8(3);
    switch (which) {
    case 0: { PROBE_BODY(CHAINS12("vpaddw"), __m256i) }
    case 1: { PROBE_BODY(CHAINS12("vpmaddubsw"), __m256i) }
    default: { PROBE_BODY(CHAINS12("vpmaddwd"), __m256i) }
    }
}
#undef cast128

#define cast128(v) _mm_castps_si128(_mm256_castps256_ps128(v))
__attribute__((target("avx2,fma"))) static double ipc_fma(long iters, double ghz) {
    const __m256 src = _mm256_set1_ps(1.0f);
    PROBE_BODY(CHAINS12("vfmadd231ps"), __m256)
}
#undef cast128

#define cast128(v) _mm256_castsi256_si128(v)
__attribute__((target("avx2,avx512f,avx512vl,avx512vnni"))) static double ipc_dpbusd_ymm(long iters, double ghz) {
    const __m256i src = _mm256_set1_epi8(3);
    PROBE_BODY(CHAINS12("vpdpbusd"), __m256i)
}
#undef cast128

#define cast128(v) _mm512_castsi512_si128(v)
__attribute__((target("avx512f,avx512vnni"))) static double ipc_dpbusd_zmm(long iters, double ghz) {
    const __m512i src = _mm512_set1_epi8(3);
    PROBE_BODY(CHAINS12("vpdpbusd"), __m512i)
}
#undef cast128

/* vpmaddubsw and vfmadd231ps interleaved, 6 chains of each: instructions
 * per cycle of the pair.  Where the two share their execution ports (Zen 4:
 * both go to the two multiply pipes) this is the vpmaddubsw rate, not the sum
 * of the two, and the kernel's FMAs count against the multiplies' budget. */
__attribute__((target("avx2,fma"))) static double ipc_mul_fma(long iters, double ghz) {
    const __m256i si = _mm256_set1_epi8(3);
    const __m256 sf = _mm256_set1_ps(1.0f);
    __m256i i0 = si, i1 = si, i2 = si, i3 = si, i4 = si, i5 = si;
    __m256 f0 = sf, f1 = sf, f2 = sf, f3 = sf, f4 = sf, f5 = sf;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        const double t = now_s();
        for (long i = 0; i < iters; i++)
            __asm__ volatile("vpmaddubsw %12, %0, %0\n\tvfmadd231ps %13, %6, %6\n\t"
                             "vpmaddubsw %12, %1, %1\n\tvfmadd231ps %13, %7, %7\n\t"
                             "vpmaddubsw %12, %2, %2\n\tvfmadd231ps %13, %8, %8\n\t"
                             "vpmaddubsw %12, %3, %3\n\tvfmadd231ps %13, %9, %9\n\t"
                             "vpmaddubsw %12, %4, %4\n\tvfmadd231ps %13, %10, %10\n\t"
                             "vpmaddubsw %12, %5, %5\n\tvfmadd231ps %13, %11, %11\n\t"
                             : "+v"(i0), "+v"(i1), "+v"(i2), "+v"(i3), "+v"(i4), "+v"(i5), "+v"(f0), "+v"(f1),
                               "+v"(f2), "+v"(f3), "+v"(f4), "+v"(f5)
                             : "v"(si), "v"(sf));
        const double r = 12.0 * (double)iters / (now_s() - t) / 1e9 / ghz;
        if (r > best) best = r;
    }
    sink = _mm256_extract_epi32(_mm256_xor_si256(i0, i5), 0) + (int)_mm256_cvtss_f32(_mm256_add_ps(f0, f5));
    return best;
}

/* The integer part of the AVX2 Q4_K 6-row kernel as it issues: per
 * activation row 8 vpmaddubsw with the activation as a memory operand into
 * one of two temporaries, each added into the row's int16 sum; 6 rows; the 8
 * nibble registers stay in ymm0-7.  Cycles per 256 products and row.  With
 * adds = 0 the vpaddw are left out: the difference is what the adds cost.
 * On Zen 4 that is about a cycle, although vpaddw issues at 4 per cycle and
 * beside the multiplies when its inputs are ready from the start: an add
 * that waits for a multiply's result takes one of the two multiply pipes'
 * slots more often than not. */
#define KQ_MUL(roff, j, tmp, s) "vpmaddubsw " #roff "+32*" #j "(%[x]), %%ymm" #j ", %%ymm" #tmp "\n\t"
#define KQ_STEP(roff, j, tmp, s) KQ_MUL(roff, j, tmp, s) "vpaddw %%ymm" #tmp ", %%ymm" #s ", %%ymm" #s "\n\t"
#define KQ_ROW(OP, roff, s)                                                                        \
    OP(roff, 0, 14, s) OP(roff, 1, 15, s) OP(roff, 2, 14, s) OP(roff, 3, 15, s)                    \
    OP(roff, 4, 14, s) OP(roff, 5, 15, s) OP(roff, 6, 14, s) OP(roff, 7, 15, s)
#define KQ_ROWS(OP)                                                                                \
    KQ_ROW(OP, 0, 8) KQ_ROW(OP, 256, 9) KQ_ROW(OP, 512, 10) KQ_ROW(OP, 768, 11) KQ_ROW(OP, 1024, 12) \
    KQ_ROW(OP, 1280, 13)
#define KQ_CLOBBERS                                                                                \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
        "xmm12", "xmm13", "xmm14", "xmm15", "memory"
__attribute__((target("avx2"))) static double kernel_int_cycles(int adds, long iters, double ghz) {
    static _Alignas(64) unsigned char xbuf[6 * 256];
    memset(xbuf, 1, sizeof xbuf);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        const double t = now_s();
        for (long i = 0; i < iters; i++) {
            if (adds)
                __asm__ volatile(KQ_ROWS(KQ_STEP) : : [x] "r"(xbuf) : KQ_CLOBBERS);
            else
                __asm__ volatile(KQ_ROWS(KQ_MUL) : : [x] "r"(xbuf) : KQ_CLOBBERS);
        }
        const double c = (now_s() - t) * ghz * 1e9 / (6.0 * (double)iters);
        if (best == 0 || c < best) best = c;
    }
    return best;
}

int main(int argc, char **argv) {
    long iters = 20000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
            iters = atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: isa_probe [--iters N]\n");
            return 2;
        }
    }
    if (iters < 1000) {
        fprintf(stderr, "isa_probe: --iters must be at least 1000\n");
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2")) {
        printf("isa_probe: this CPU has no AVX2; nothing to measure\n");
        return 0;
    }
    const double ghz = clock_ghz(iters * 2);
    if (ghz <= 0) {
        fprintf(stderr, "isa_probe: the clock estimate failed\n");
        return 1;
    }
    printf("clock (dependent adds)      %.2f GHz\n", ghz);
    const char *names[3] = {"vpaddw ymm", "vpmaddubsw ymm", "vpmaddwd ymm"};
    double r[3];
    for (int k = 0; k < 3; k++) {
        r[k] = ipc_ymm(k, iters, ghz);
        printf("%-27s %.2f per cycle\n", names[k], r[k]);
    }
    const double r_fma = ipc_fma(iters, ghz), r_mix = ipc_mul_fma(iters, ghz);
    printf("%-27s %.2f per cycle\n", "vfmadd231ps ymm", r_fma);
    printf("%-27s %.2f per cycle\n", "vpmaddubsw + vfmadd231ps", r_mix);
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl")) {
        printf("%-27s %.2f per cycle\n", "vpdpbusd ymm (EVEX)", ipc_dpbusd_ymm(iters, ghz));
        printf("%-27s %.2f per cycle\n", "vpdpbusd zmm", ipc_dpbusd_zmm(iters, ghz));
    }
    /* the AVX2 Q4_K product with 6 rows (see the top of the file) */
    const double mul_cycles = 9.0 / r[1], all_cycles = (16.0 + 12.0 / 6.0) / r[0];
    const double fma_cycles = 2.0 / r_fma, mix_cycles = 11.0 / r_mix; /* 9 multiplies + 2 FMAs */
    double cycles = mul_cycles > all_cycles ? mul_cycles : all_cycles;
    if (fma_cycles > cycles) cycles = fma_cycles;
    if (mix_cycles > cycles) cycles = mix_cycles;
    printf("AVX2 Q4_K 6-row bound       %.0f GMAC/s per core (%.2f cycles per 256 products and row)\n",
           256.0 / cycles * ghz, cycles);
    const double kc = kernel_int_cycles(1, iters / 8, ghz), km = kernel_int_cycles(0, iters / 8, ghz);
    printf("its integers alone, as issued %.0f GMAC/s per core (%.2f cycles per 256 products and row)\n",
           256.0 / kc * ghz, kc);
    printf("the same without its adds   %.0f GMAC/s per core (%.2f cycles per 256 products and row)\n",
           256.0 / km * ghz, km);
    return 0;
}

#else

int main(void) {
    printf("isa_probe: x86-64 only\n");
    return 0;
}

#endif
