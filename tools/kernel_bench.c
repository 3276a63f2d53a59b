/* kernel_bench.c — micro-benchmark of the matrix-product kernels at Voxtral's
 * real shapes, next to the machine's measured read bandwidth.
 *
 *   build/tools/kernel_bench [--quick] [--level L] [--dtype T] [--rows N]
 *                            [--threads N] [--mb MB] [--shape OUTxIN]
 *                            [--no-bandwidth]
 *
 * For each weight dtype (f32, bf16, f16, q8_0, q4_k), shape (3072x3072,
 * 9216x3072, 3072x9216 as out x in), activation row count (1 and 6) and thread
 * count (1 and 2) it times vox_matmul_level and prints milliseconds per
 * product, the weight bytes streamed per second (GB/s) and multiply-adds per
 * second (GMAC/s) — for the mean over all repetitions and for the best
 * single one (on a machine shared with other work the best is the better
 * estimate of what the kernel can do) — and the process CPU time per product
 * (all threads).  Several copies of each matrix (--mb, default 512 MB in
 * all) are used in turn, as the layers of a model are, so the weights come
 * from memory and not from the cache.  The read bandwidth is that of 1 and 2
 * threads summing a 1 GiB buffer (best of 3).  --level forces a kernel level
 * (default: the one the library picks; VOXTTS_KERNELS works too).  --quick:
 * shorter runs.  --shape times one shape instead; with --mb 0 a single copy is
 * used, so a small matrix stays in cache and the kernel's compute speed shows. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/threadpool.h"
#include "tensor/kernels.h"
#include "tensor/quant.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process (all threads). */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- read bandwidth ------------------------------------------------------- */

typedef struct sum_ctx {
    const uint64_t *p;
    int64_t n; /* words */
    uint64_t part[64];
    int parts;
} sum_ctx;

static void sum_part(void *ctx, int64_t b, int64_t e, int tid) {
    (void)tid;
    sum_ctx *c = ctx;
    for (int64_t k = b; k < e; k++) {
        const int64_t lo = c->n * k / c->parts, hi = c->n * (k + 1) / c->parts;
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int64_t i = lo; i + 4 <= hi; i += 4) {
            s0 += c->p[i];
            s1 += c->p[i + 1];
            s2 += c->p[i + 2];
            s3 += c->p[i + 3];
        }
        c->part[k] = s0 + s1 + s2 + s3;
    }
}

static double read_bandwidth(int threads) {
    const size_t bytes = (size_t)1 << 30;
    uint64_t *buf = malloc(bytes);
    if (!buf) return 0;
    for (size_t i = 0; i < bytes / 8; i++) buf[i] = i;
    vox_pool *pool = NULL;
    vox_error err;
    if (vox_pool_create(threads, &pool, &err) != 0) {
        free(buf);
        return 0;
    }
    sum_ctx c = {buf, (int64_t)(bytes / 8), {0}, threads};
    double best = 0;
    uint64_t sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
        vox_pool_for(pool, threads, 1, sum_part, &c);
        double t = now_s() - t0;
        for (int k = 0; k < threads; k++) sink += c.part[k];
        if (bytes / t / 1e9 > best) best = (double)bytes / t / 1e9;
    }
    if (sink == 42) printf(" ");
    vox_pool_free(pool);
    free(buf);
    return best;
}

/* ---- matmul timing --------------------------------------------------------- */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float grand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    double u = (double)(rng >> 11) * 0x1p-53 + 1e-12;
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    double v = (double)(rng >> 11) * 0x1p-53;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static int g_packed; /* --packed: time the level's packed layout where it has one */

static void bench_one(vox_kernel_level level, vox_dtype dt, int out, int in, const int *rows_list,
                      int n_rows_list, const int *threads_list, int n_threads_list, double mb,
                      int quick) {
    const size_t rb = vox_dtype_row_bytes(dt, in), mat = rb * (size_t)out;
    int copies = (int)ceil(mb * 1e6 / (double)mat);
    if (copies < 1) copies = 1;
    unsigned char *w = malloc(mat * (size_t)copies);
    float *row = malloc(sizeof(float) * (size_t)in);
    int max_rows = 8; /* x and y hold the most rows any product of the list has */
    for (int i = 0; i < n_rows_list; i++) max_rows = rows_list[i] > max_rows ? rows_list[i] : max_rows;
    float *x = malloc(sizeof(float) * (size_t)max_rows * (size_t)in),
          *y = malloc(sizeof(float) * (size_t)max_rows * (size_t)out);
    vox_tensor *t = calloc((size_t)copies, sizeof *t);
    if (!w || !row || !x || !y || !t) {
        fprintf(stderr, "kernel_bench: out of memory for %s %dx%d\n", vox_dtype_name(dt), out, in);
        free(w), free(row), free(x), free(y), free(t);
        return;
    }
    /* Quantizing Q4_K is slow: make 64 distinct rows and repeat them. */
    for (int o = 0; o < out; o++) {
        if (o < 64) {
            for (int i = 0; i < in; i++) row[i] = grand() * 0.02f;
            vox_quantize_row(dt, row, w + (size_t)o * rb, in);
        } else {
            memcpy(w + (size_t)o * rb, w + (size_t)(o % 64) * rb, rb);
        }
    }
    for (int c = 1; c < copies; c++) memcpy(w + (size_t)c * mat, w, mat);
    for (int c = 0; c < copies; c++) {
        t[c].dtype = dt;
        t[c].ndim = 2;
        t[c].shape[0] = out;
        t[c].shape[1] = in;
        t[c].data = w + (size_t)c * mat;
        t[c].nbytes = mat;
    }
    void **packs = calloc((size_t)copies, sizeof *packs);
    int packed = 0;
    for (int c = 0; g_packed && packs && c < copies; c++) {
        vox_tensor p;
        if (vox_matmul_pack_level(level, &t[c], rows_list[0], &p, &packs[c]) == 1) {
            t[c] = p;
            packed = 1;
        }
    }
    for (int i = 0; i < max_rows * in; i++) x[i] = grand();
    for (int ti = 0; ti < n_threads_list; ti++) {
        vox_pool *pool = NULL;
        vox_error err;
        if (vox_pool_create(threads_list[ti], &pool, &err) != 0) continue;
        for (int ri = 0; ri < n_rows_list; ri++) {
            const int rows = rows_list[ri];
            /* warm-up (scratch growth, page faults) */
            for (int c = 0; c < copies; c++) vox_matmul_level(level, pool, &t[c], x, rows, y);
            const double min_time = quick ? 0.3 : 1.0;
            double t0 = now_s(), c0 = cpu_s(), el, best = 1e30;
            long reps = 0;
            do {
                const double r0 = now_s();
                vox_matmul_level(level, pool, &t[reps % copies], x, rows, y);
                const double r1 = now_s();
                if (r1 - r0 < best) best = r1 - r0;
                reps++;
                el = r1 - t0;
            } while (el < min_time || reps < copies);
            const double per = el / (double)reps, cpu = (cpu_s() - c0) / (double)reps;
            const double macs = (double)out * in * rows;
            printf("%-5s%s %5dx%-5d rows %d threads %d: mean %7.3f ms %5.1f GB/s %6.1f GMAC/s | best %7.3f ms "
                   "%5.1f GB/s %6.1f GMAC/s | cpu %.3f ms\n",
                   vox_dtype_name(dt), packed ? "+p" : "  ", out, in, rows, threads_list[ti], per * 1e3, (double)mat / per / 1e9,
                   macs / per / 1e9, best * 1e3, (double)mat / best / 1e9, macs / best / 1e9, cpu * 1e3);
            fflush(stdout);
        }
        vox_pool_free(pool);
    }
    for (int c = 0; packs && c < copies; c++) free(packs[c]);
    free(packs);
    free(w), free(row), free(x), free(y), free(t);
}

static int parse_dtype(const char *s, vox_dtype *dt) {
    static const struct { const char *n; vox_dtype t; } names[] = {
        {"f32", VOX_F32}, {"bf16", VOX_BF16}, {"f16", VOX_F16}, {"q8_0", VOX_Q8_0}, {"q4_k", VOX_Q4_K}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(s, names[i].n) == 0) {
            *dt = names[i].t;
            return 1;
        }
    return 0;
}

int main(int argc, char **argv) {
    int quick = 0, only_dtype = 0, only_rows = 0, only_threads = 0, skip_bw = 0, shape_out = 0, shape_in = 0;
    vox_dtype dtype = VOX_F32;
    double mb = 512;
    vox_kernel_level level = vox_kernel_level_default();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--packed") == 0) {
            g_packed = 1;
        } else if (strcmp(argv[i], "--no-bandwidth") == 0) {
            skip_bw = 1;
        } else if (strcmp(argv[i], "--level") == 0 && i + 1 < argc) {
            const char *want = argv[++i];
            int found = 0;
            for (int l = 0; l < VOX_LEVEL_COUNT; l++)
                if (strcmp(want, vox_kernel_level_name((vox_kernel_level)l)) == 0) {
                    level = (vox_kernel_level)l;
                    found = 1;
                }
            if (!found || !vox_kernel_level_supported(level)) {
                fprintf(stderr, "kernel_bench: level %s is unknown or not supported here\n", want);
                return 2;
            }
        } else if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) {
            if (!parse_dtype(argv[++i], &dtype)) {
                fprintf(stderr, "kernel_bench: unknown dtype %s (f32, bf16, f16, q8_0, q4_k)\n", argv[i]);
                return 2;
            }
            only_dtype = 1;
        } else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
            only_rows = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            only_threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%dx%d", &shape_out, &shape_in) != 2 || shape_out < 1 || shape_in < 1) {
                fprintf(stderr, "kernel_bench: --shape wants OUTxIN, e.g. 3072x3072\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc) {
            mb = atof(argv[++i]);
        } else {
            fprintf(stderr,
                    "usage: kernel_bench [--quick] [--level L] [--dtype T] [--rows N] [--threads N] [--mb MB] "
                    "[--shape OUTxIN] [--no-bandwidth]\n");
            return 2;
        }
    }
    printf("kernels: %s\n", vox_kernel_level_describe(level));
    if (!skip_bw) {
        printf("read bandwidth (1 GiB, best of 3): 1 thread %.1f GB/s, 2 threads %.1f GB/s\n", read_bandwidth(1),
               read_bandwidth(2));
    }
    struct { int out, in; } shapes[] = {{3072, 3072}, {9216, 3072}, {3072, 9216}};
    size_t n_shapes = sizeof shapes / sizeof *shapes;
    if (shape_out > 0) {
        shapes[0].out = shape_out;
        shapes[0].in = shape_in;
        n_shapes = 1;
    }
    const vox_dtype dts[] = {VOX_F32, VOX_BF16, VOX_F16, VOX_Q8_0, VOX_Q4_K};
    int rows_list[2] = {1, 6}, n_rows = 2, threads_list[2] = {1, 2}, n_threads = 2;
    if (only_rows > 0) rows_list[0] = only_rows, n_rows = 1;
    if (only_threads > 0) threads_list[0] = only_threads, n_threads = 1;
    for (int d = 0; d < 5; d++) {
        if (only_dtype && dts[d] != dtype) continue;
        for (size_t s = 0; s < n_shapes; s++)
            bench_one(level, dts[d], shapes[s].out, shapes[s].in, rows_list, n_rows, threads_list, n_threads, mb,
                      quick);
    }
    return 0;
}
