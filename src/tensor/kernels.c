/* kernels.c — the matrix-product driver, kernel-level selection, and the small
 * element-wise ops (see kernels.h).
 *
 * The driver: for quantized weights (and BF16 weights on the avx512 level with
 * AVX512_BF16, whose kernel wants each activation split into two bf16 parts)
 * it first prepares every input row in the chosen kernel set's layout (once
 * per call, into the pool's scratch, several rows in parallel), then splits
 * the output rows of all matrices into chunks that the pool's threads claim,
 * and each thread walks its chunk in tiles: all input rows at once when there
 * are at most VOX_TILE_ROWS of them (the common case: 1 row in the backbone, 6
 * in the flow head), otherwise tiles of TILE_OUT weight rows x VOX_TILE_ROWS
 * input rows (or the set's packed_tile_rows on a packed copy) so a tile of
 * weights is reused from cache for every group of input rows (prefill,
 * codec).  A weight packed for this level
 * (vox_matmul_pack) is read through the set's packed tile instead, its shares
 * of each chunk rounded to whole groups of rows.  The arithmetic per (output,
 * row) pair is fixed by the kernel set (kernels_impl.h), so neither the
 * tiling, the packing nor the thread changes a result.
 *
 * Level selection is the one piece of process-wide state: the CPU's features
 * and the level (from them and VOXTTS_KERNELS) are decided once, each under
 * pthread_once, and immutable after. */
#include "tensor/kernels.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/kernels_impl.h"
#include "tensor/quant.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif
#endif

#define TILE_OUT 16            /* weight rows per cache tile when n_rows > VOX_TILE_ROWS */
#define STACK_SCRATCH 16384    /* bytes of prepared rows on the stack without a pool */


/* ---- CPU features and levels -------------------------------------------------- */

enum {
    CPU_AVX2 = 1 << 0,   /* avx2 + fma + f16c */
    CPU_AVX512 = 1 << 1, /* avx512 f + bw + vl (and CPU_AVX2) */
    CPU_VNNI = 1 << 2,   /* avx512_vnni */
    CPU_NEON = 1 << 3,
    CPU_DOTPROD = 1 << 4,
    CPU_BF16 = 1 << 5,   /* avx512_bf16 (and CPU_AVX512) */
    CPU_AVXVNNI = 1 << 6, /* avx_vnni, CPUID.(EAX=7,ECX=1):EAX bit 4 (and CPU_AVX2) */
    CPU_I8MM = 1 << 7,    /* AArch64 HWCAP2_I8MM */
};

static pthread_once_t features_once = PTHREAD_ONCE_INIT;
static unsigned features_value; /* written once, under features_once */

/* CPUID is slow under a hypervisor (a VM exit), so the bits are read once. */
static void read_cpu_features(void) {
    unsigned f = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    /* F16C through cpuid: not every compiler's __builtin_cpu_supports knows it */
    unsigned a = 0, b = 0, c = 0, d = 0;
    const int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1u);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) f |= CPU_AVX2;
    if ((f & CPU_AVX2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        f |= CPU_AVX512;
    if ((f & CPU_AVX512) && __builtin_cpu_supports("avx512vnni")) f |= CPU_VNNI;
    if ((f & CPU_AVX512) && __builtin_cpu_supports("avx512bf16")) f |= CPU_BF16;
    if ((f & CPU_AVX2) && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1u)) f |= CPU_AVXVNNI;
#elif defined(__aarch64__)
    f |= CPU_NEON;
#if defined(__linux__)
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) f |= CPU_DOTPROD;
    if (getauxval(AT_HWCAP2) & HWCAP2_I8MM) f |= CPU_I8MM;
#endif
#endif
    features_value = f;
}

static unsigned cpu_features(void) {
    pthread_once(&features_once, read_cpu_features);
    return features_value;
}

static const char *const level_names[VOX_LEVEL_COUNT] = {"ref", "generic", "avx2", "avxvnni", "avx512", "neon",
                                                          "neon+i8mm"};

/* The avxvnni level's integer kernels: the VEX build with AVX-VNNI, else the
 * EVEX build of the same source with AVX-512 VNNI (kernels_avxvnni.c); NULL
 * when neither runs here. */
static const vox_kernel_set *avxvnni_set(unsigned f) {
    if ((f & CPU_AVXVNNI) && vox_kernels_avxvnni()) return vox_kernels_avxvnni();
    if ((f & CPU_VNNI) && vox_kernels_avxvnni_evex()) return vox_kernels_avxvnni_evex();
    return NULL;
}

const char *vox_kernel_level_name(vox_kernel_level l) {
    return (unsigned)l < VOX_LEVEL_COUNT ? level_names[l] : NULL;
}

int vox_kernel_level_supported(vox_kernel_level l) {
    unsigned f = cpu_features();
    switch (l) {
    case VOX_LEVEL_REF:
    case VOX_LEVEL_GENERIC: return 1;
    case VOX_LEVEL_AVX2: return (f & CPU_AVX2) && vox_kernels_avx2() != NULL;
    case VOX_LEVEL_AVXVNNI: return (f & CPU_AVX2) && vox_kernels_avx2() != NULL && avxvnni_set(f) != NULL;
    case VOX_LEVEL_AVX512:
        return (f & CPU_AVX512) && vox_kernels_avx512() != NULL && vox_kernels_avx2() != NULL;
    case VOX_LEVEL_NEON: return (f & CPU_NEON) && vox_kernels_neon() != NULL;
    case VOX_LEVEL_NEON_I8MM: /* its odd rows run the dot-product kernels */
        return (f & CPU_NEON) && (f & CPU_DOTPROD) && (f & CPU_I8MM) && vox_kernels_neon() != NULL &&
               vox_kernels_neon_i8mm() != NULL;
    default: return 0;
    }
}

const char *vox_kernel_level_describe(vox_kernel_level l) {
    if (!vox_kernel_level_supported(l)) return vox_kernel_level_name(l) ? "unsupported" : "invalid";
    unsigned f = cpu_features();
    switch (l) {
    case VOX_LEVEL_AVX512: {
        const int vnni = (f & CPU_VNNI) && vox_kernels_avx512vnni();
        const int bf16 = (f & CPU_BF16) && vox_kernels_avx512bf16();
        return vnni ? (bf16 ? "avx512+vnni+bf16" : "avx512+vnni") : (bf16 ? "avx512+bf16" : "avx512");
    }
    case VOX_LEVEL_AVXVNNI: return avxvnni_set(f) == vox_kernels_avxvnni() ? "avxvnni" : "avxvnni(evex)";
    case VOX_LEVEL_NEON: return (f & CPU_DOTPROD) && vox_kernels_neon_dot() ? "neon+dotprod" : "neon";
    default: return level_names[l];
    }
}

static vox_kernel_level best_level(void) {
    static const vox_kernel_level order[] = {VOX_LEVEL_AVX512, VOX_LEVEL_AVXVNNI, VOX_LEVEL_AVX2, VOX_LEVEL_NEON_I8MM,
                                                VOX_LEVEL_NEON};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        /* avxvnni by default only with the real instructions: where it runs its
         * EVEX build (AVX-512 VNNI), avx512 is supported and comes first anyway */
        if (order[i] == VOX_LEVEL_AVXVNNI && !(cpu_features() & CPU_AVXVNNI)) continue;
        if (vox_kernel_level_supported(order[i])) return order[i];
    }
    return VOX_LEVEL_GENERIC;
}

vox_kernel_level vox_kernel_level_choose(const char *request, char *note, size_t note_size) {
    if (note && note_size) note[0] = 0;
    vox_kernel_level best = best_level();
    if (!request || !request[0] || strcmp(request, "auto") == 0) return best;
    for (int l = 0; l < VOX_LEVEL_COUNT; l++) {
        if (strcmp(request, level_names[l]) != 0) continue;
        if (vox_kernel_level_supported((vox_kernel_level)l)) return (vox_kernel_level)l;
        /* The best supported level below the requested one (avx512 -> avx2 ...). */
        vox_kernel_level got = VOX_LEVEL_GENERIC;
        for (int k = l - 1; k > VOX_LEVEL_GENERIC; k--)
            if (vox_kernel_level_supported((vox_kernel_level)k)) {
                got = (vox_kernel_level)k;
                break;
            }
        if (l >= VOX_LEVEL_NEON) got = best; /* not an x86 level: nothing "below" */
        if (note && note_size)
            snprintf(note, note_size,
                     "VOXTTS_KERNELS=%s: not supported by this CPU or build; using %s", request,
                     level_names[got]);
        return got;
    }
    if (note && note_size)
        snprintf(note, note_size,
                 "VOXTTS_KERNELS=%s: unknown (expected ref, generic, avx2, avxvnni, avx512, neon or "
                 "neon+i8mm); using %s",
                 request, level_names[best]);
    return best;
}

static pthread_once_t level_once = PTHREAD_ONCE_INIT;
static vox_kernel_level default_level_value; /* written once, under level_once */

static void decide_level(void) {
    char note[200];
    default_level_value = vox_kernel_level_choose(getenv("VOXTTS_KERNELS"), note, sizeof note);
    if (note[0]) fprintf(stderr, "voxtts: warning: %s\n", note);
}

void vox_kernels_init(void) { pthread_once(&level_once, decide_level); }

vox_kernel_level vox_kernel_level_default(void) {
    vox_kernels_init();
    return default_level_value;
}

const char *vox_kernel_simd_name(void) { return vox_kernel_level_describe(vox_kernel_level_default()); }

/* The kernels of a (supported) level for one dtype. */
static const vox_dtype_kernel *kernel_for(vox_kernel_level l, vox_dtype dt) {
    if ((unsigned)dt >= VOX_N_DTYPES) return NULL;
    const vox_kernel_set *ks = &vox_kernels_generic;
    const int quant = dt == VOX_Q8_0 || dt == VOX_Q4_K;
    switch (l) {
    case VOX_LEVEL_REF: ks = &vox_kernels_ref; break;
    case VOX_LEVEL_GENERIC: break;
    case VOX_LEVEL_AVX2: ks = vox_kernels_avx2(); break;
    case VOX_LEVEL_AVXVNNI: ks = quant ? avxvnni_set(cpu_features()) : vox_kernels_avx2(); break;
    case VOX_LEVEL_AVX512:
        if (dt == VOX_BF16 && (cpu_features() & CPU_BF16) && vox_kernels_avx512bf16())
            ks = vox_kernels_avx512bf16();
        else if (!quant)
            ks = vox_kernels_avx512();
        else if ((cpu_features() & CPU_VNNI) && vox_kernels_avx512vnni())
            ks = vox_kernels_avx512vnni();
        else if ((cpu_features() & CPU_AVXVNNI) && vox_kernels_avxvnni())
            ks = vox_kernels_avxvnni();
        else
            ks = vox_kernels_avx2();
        break;
    case VOX_LEVEL_NEON:
        if (quant && (cpu_features() & CPU_DOTPROD) && vox_kernels_neon_dot())
            ks = vox_kernels_neon_dot();
        else
            ks = vox_kernels_neon();
        break;
    case VOX_LEVEL_NEON_I8MM: ks = quant ? vox_kernels_neon_i8mm() : vox_kernels_neon(); break;
    default: break;
    }
    if (!ks || !ks->dt[dt].tile) ks = &vox_kernels_generic;
    return &ks->dt[dt];
}

/* ---- the matmul driver ------------------------------------------------------------ */

/* Whether level l's kernel for dt reads prepared activation rows (the
 * quantized dtypes, and BF16 on the avx512 level with AVX512_BF16). */
static int needs_prep(vox_kernel_level l, vox_dtype dt) {
    return (unsigned)dt < VOX_N_DTYPES && kernel_for(l, dt)->prep != NULL;
}

static int shape_ok(const vox_tensor *W) {
    if ((unsigned)W->dtype >= VOX_N_DTYPES || W->shape[0] < 0 || W->shape[1] < 0) return 0;
    int64_t bs = vox_quant_block_size(W->dtype);
    return bs > 0 && W->shape[1] % bs == 0;
}

/* Whether products at level l read W's packed layout. */
static int uses_packed(vox_kernel_level l, const vox_tensor *W, const vox_dtype_kernel *k) {
    return W->packed && W->packed_level == (int)l && k->pack_rows > 0 && k->tile_packed;
}

/* One matrix of a product, with its activation rows as the kernel reads them. */
typedef struct mat_job {
    const vox_tensor *W;
    const vox_dtype_kernel *k;
    int packed;      /* read W->packed with k->tile_packed */
    const void *x;   /* f32 rows or prepared rows */
    size_t x_stride; /* bytes between rows of x */
    float *y;
    int ok; /* shape valid: otherwise y is NaN */
} mat_job;

typedef struct matmul_task {
    int n_mats;
    const mat_job *jobs;
    int n_rows;
} matmul_task;

/* Output rows [o0, o1) of one matrix for all n_rows input rows. */
static void matmul_range(const mat_job *j, int n_rows, int64_t o0, int64_t o1) {
    const int64_t out = j->W->shape[0], in = j->W->shape[1];
    if (!j->ok) {
        for (int r = 0; r < n_rows; r++)
            for (int64_t o = o0; o < o1; o++) j->y[(int64_t)r * out + o] = NAN;
        return;
    }
    /* unpacked: weight row o at w + o * stride; packed: row o in group o / P
     * at w + (o / P) * stride (o0 and every tile start are multiples of P) */
    const int P = j->packed ? j->k->pack_rows : 1;
    const size_t stride = j->packed ? j->k->pack_group_bytes(in) : vox_dtype_row_bytes(j->W->dtype, in);
    const char *w = j->packed ? j->W->packed : j->W->data;
    const vox_tile_fn tile = j->packed ? j->k->tile_packed : j->k->tile;
    const char *x = j->x;
    if (n_rows <= VOX_TILE_ROWS) {
        tile(w + (size_t)(o0 / P) * stride, stride, (int)(o1 - o0), x, j->x_stride, n_rows, in,
             j->y + o0, out);
        return;
    }
    const int tr = j->packed && j->k->packed_tile_rows > 0 && j->k->packed_tile_rows <= VOX_TILE_ROWS
                       ? j->k->packed_tile_rows
                       : VOX_TILE_ROWS;
    for (int64_t ob = o0; ob < o1; ob += TILE_OUT) { /* TILE_OUT: a multiple of every P */
        const int64_t oe = ob + TILE_OUT < o1 ? ob + TILE_OUT : o1;
        for (int rb = 0; rb < n_rows; rb += tr) {
            const int nr = n_rows - rb < tr ? n_rows - rb : tr;
            tile(w + (size_t)(ob / P) * stride, stride, (int)(oe - ob), x + (size_t)rb * j->x_stride,
                 j->x_stride, nr, in, j->y + (int64_t)rb * out + ob, out);
        }
    }
}

/* Start of the share of one matrix's rows that begins at row o: for a packed
 * matrix rounded up to a whole group (capped at the row count), so the shares
 * of consecutive chunks, each rounded the same way, still partition the rows. */
static int64_t share_start(const mat_job *j, int64_t o, int64_t rows) {
    if (!j->packed) return o;
    const int64_t P = j->k->pack_rows;
    o = (o + P - 1) / P * P;
    return o < rows ? o : rows;
}

/* Items are the output rows of all matrices, concatenated. */
static void matmul_task_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const matmul_task *t = ctx;
    int64_t first = 0;
    for (int j = 0; j < t->n_mats && begin < end; j++) {
        const int64_t rows = t->jobs[j].W->shape[0];
        int64_t lo = begin - first, hi = end - first;
        if (lo < rows) {
            if (hi > rows) hi = rows;
            begin = first + hi;
            lo = share_start(&t->jobs[j], lo, rows);
            hi = share_start(&t->jobs[j], hi, rows);
            if (lo < hi) matmul_range(&t->jobs[j], t->n_rows, lo, hi);
        }
        first += rows;
    }
}

/* Chunk of output rows per task: about 8 tasks per thread so that a thread
 * slowed down by another process does not hold everyone up, in whole tiles. */
static int64_t pick_chunk(vox_pool *pool, int64_t total) {
    int64_t nt = vox_pool_threads(pool);
    int64_t c = total / (nt * 8);
    c = (c + TILE_OUT - 1) / TILE_OUT * TILE_OUT;
    if (c < 2 * TILE_OUT) c = 2 * TILE_OUT;
    return c;
}

#define MAX_PREP 3 /* distinct prepared dtypes in one call: Q8_0, Q4_K, BF16 */

/* The prepared layouts one call needs: one per distinct (dtype) among W[j]. */
typedef struct prep_plan {
    int n;
    vox_dtype dt[MAX_PREP];
    const vox_dtype_kernel *k[MAX_PREP];
    size_t row_bytes[MAX_PREP];
    size_t total; /* bytes per input row, all layouts */
} prep_plan;

static void plan_prep(vox_kernel_level l, int n_mats, const vox_tensor *const *W, prep_plan *p) {
    memset(p, 0, sizeof *p);
    for (int j = 0; j < n_mats; j++) {
        if (!shape_ok(W[j]) || !needs_prep(l, W[j]->dtype)) continue;
        int seen = 0;
        for (int i = 0; i < p->n; i++) seen |= p->dt[i] == W[j]->dtype;
        if (seen || p->n == MAX_PREP) continue;
        p->dt[p->n] = W[j]->dtype;
        p->k[p->n] = kernel_for(l, W[j]->dtype);
        p->row_bytes[p->n] = p->k[p->n]->prep_bytes(W[j]->shape[1]);
        p->total += p->row_bytes[p->n];
        p->n++;
    }
}

size_t vox_matmul_scratch_bytes(const vox_tensor *W, int n_rows) {
    prep_plan p;
    plan_prep(vox_kernel_level_default(), 1, &W, &p);
    return p.total * (size_t)(n_rows > 0 ? n_rows : 0);
}

typedef struct prep_task {
    const prep_plan *p;
    const float *x; /* the first of the nr rows */
    int64_t in;
    int nr;
    unsigned char *buf;
    const size_t *off; /* per layout: its rows' offset in buf */
} prep_task;

/* Items: (layout i, row r) as i * nr + r. */
static void prep_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const prep_task *t = ctx;
    for (int64_t it = begin; it < end; it++) {
        const int i = (int)(it / t->nr), r = (int)(it % t->nr);
        t->p->k[i]->prep(t->x + (size_t)r * (size_t)t->in, t->in,
                         t->buf + t->off[i] + (size_t)r * t->p->row_bytes[i]);
    }
}

/* Rows [r0, r0+nr) of the product with the prepared rows in buf (nr * plan
 * total bytes, layout-major: all rows of layout 0, then of layout 1). */
static void run_rows(vox_kernel_level l, vox_pool *pool, int n_mats, const vox_tensor *const *W,
                     const float *x, int r0, int nr, float *const *y, const prep_plan *p,
                     unsigned char *buf, mat_job *jobs) {
    const int64_t in = W[0]->shape[1];
    size_t off[MAX_PREP];
    size_t o = 0;
    for (int i = 0; i < p->n; i++) {
        off[i] = o;
        o += (size_t)nr * p->row_bytes[i];
    }
    if (p->n) {
        /* every (layout, row) pair is one item: several rows are prepared in parallel */
        prep_task pt = {p, x + (size_t)r0 * (size_t)in, in, nr, buf, off};
        if (nr > 1)
            vox_pool_for(pool, (int64_t)p->n * nr, 1, prep_run, &pt);
        else
            prep_run(&pt, 0, p->n, 0);
    }
    int64_t total = 0;
    for (int j = 0; j < n_mats; j++) {
        mat_job *jb = &jobs[j];
        jb->W = W[j];
        jb->ok = shape_ok(W[j]) && W[j]->shape[1] == in;
        jb->k = jb->ok ? kernel_for(l, W[j]->dtype) : NULL;
        jb->packed = jb->ok && uses_packed(l, W[j], jb->k);
        jb->y = y[j] + (int64_t)r0 * W[j]->shape[0];
        jb->x = x + (size_t)r0 * (size_t)in;
        jb->x_stride = (size_t)in * sizeof(float);
        if (jb->ok && jb->k->prep) {
            for (int i = 0; i < p->n; i++)
                if (p->dt[i] == W[j]->dtype) {
                    jb->x = buf + off[i];
                    jb->x_stride = p->row_bytes[i];
                }
        }
        total += W[j]->shape[0];
    }
    matmul_task t = {n_mats, jobs, nr};
    vox_pool_for(pool, total, pick_chunk(pool, total), matmul_task_run, &t);
}

static void matmul_multi_level(vox_kernel_level l, vox_pool *pool, int n_mats,
                               const vox_tensor *const *W, const float *x, int n_rows,
                               float *const *y) {
    if (n_mats <= 0 || n_rows <= 0) return;
    mat_job jobs_small[8];
    mat_job *jobs = n_mats <= 8 ? jobs_small : malloc(sizeof *jobs * (size_t)n_mats);
    if (!jobs) { /* cannot even describe the work: run the matrices one at a time */
        for (int j = 0; j < n_mats; j++) matmul_multi_level(l, pool, 1, &W[j], x, n_rows, &y[j]);
        return;
    }
    prep_plan p;
    plan_prep(l, n_mats, W, &p);
    unsigned char *buf = NULL;
    if (p.total) buf = vox_pool_scratch(pool, p.total * (size_t)n_rows);
    if (!p.total || buf) {
        run_rows(l, pool, n_mats, W, x, 0, n_rows, y, &p, buf, jobs);
    } else {
        /* No pool (or no memory for its scratch): groups of rows that fit on the
         * stack; a row too wide even for that gets a buffer of its own. */
        _Alignas(64) unsigned char stack[STACK_SCRATCH];
        int group = (int)(STACK_SCRATCH / p.total);
        unsigned char *heap = NULL;
        if (group == 0) {
            group = 1;
            if (posix_memalign((void **)&heap, 64, p.total) != 0) heap = NULL;
        }
        if (group == 1 && p.total > STACK_SCRATCH && !heap) {
            for (int j = 0; j < n_mats; j++)
                for (int64_t i = 0; i < (int64_t)n_rows * W[j]->shape[0]; i++) y[j][i] = NAN;
        } else {
            for (int r0 = 0; r0 < n_rows; r0 += group) {
                int nr = n_rows - r0 < group ? n_rows - r0 : group;
                run_rows(l, pool, n_mats, W, x, r0, nr, y, &p, heap ? heap : stack, jobs);
            }
        }
        free(heap);
    }
    if (jobs != jobs_small) free(jobs);
}

void vox_matmul_multi(vox_pool *pool, int n_mats, const vox_tensor *const *W, const float *x,
                      int n_rows, float *const *y) {
    matmul_multi_level(vox_kernel_level_default(), pool, n_mats, W, x, n_rows, y);
}

void vox_matmul_pool(vox_pool *pool, const vox_tensor *W, const float *x, int n_rows, float *y) {
    matmul_multi_level(vox_kernel_level_default(), pool, 1, &W, x, n_rows, &y);
}

void vox_matmul(const vox_tensor *W, const float *x, int n_rows, float *y) {
    matmul_multi_level(vox_kernel_level_default(), NULL, 1, &W, x, n_rows, &y);
}

void vox_matmul_level(vox_kernel_level level, vox_pool *pool, const vox_tensor *W, const float *x,
                      int n_rows, float *y) {
    if (!vox_kernel_level_supported(level)) level = vox_kernel_level_default();
    matmul_multi_level(level, pool, 1, &W, x, n_rows, &y);
}

/* Packing in parallel: items are groups of pack_rows weight rows. */
typedef struct pack_task {
    const vox_dtype_kernel *k;
    const char *src;
    size_t src_row, group_bytes;
    int64_t rows, in;
    char *dst;
} pack_task;

static void pack_task_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const pack_task *t = ctx;
    const int64_t P = t->k->pack_rows, o0 = begin * P, o1 = end * P < t->rows ? end * P : t->rows;
    t->k->pack(t->src + (size_t)o0 * t->src_row, t->src_row, (int)(o1 - o0), t->in,
               t->dst + (size_t)begin * t->group_bytes);
}

/* A packed copy is the process's own memory (unlike the weights it copies,
 * which may be a file's page cache), streamed again for every product.  Where
 * Linux offers it, a copy of 2 MiB or more asks for transparent huge pages
 * (MADV_HUGEPAGE, so also where the system setting is "madvise"): the flow
 * head reads ~0.2 GB of packed weights per Euler step, one 4 KiB page every
 * ~1300 cycles of its 6-row products, each a TLB miss on small pages. */
static void *alloc_packed(size_t bytes) {
    void *p = NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)2 << 20;
    if (bytes >= huge && posix_memalign(&p, huge, bytes) == 0) {
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: the copy works either way */
        return p;
    }
#endif
    return posix_memalign(&p, 64, bytes > 0 ? bytes : 64) == 0 ? p : NULL;
}

static int pack_with(vox_kernel_level level, vox_pool *pool, const vox_tensor *W, int rows, vox_tensor *out,
                     void **buf) {
    *out = *W;
    out->packed = NULL;
    out->packed_level = 0;
    out->packed_bytes = 0;
    *buf = NULL;
    if (!vox_kernel_level_supported(level) || W->ndim != 2 || !shape_ok(W) || W->shape[0] < 1 ||
        W->shape[0] > INT32_MAX)
        return 0;
    const vox_dtype_kernel *k = kernel_for(level, W->dtype);
    if (k->pack_rows <= 0 || !k->pack || !k->tile_packed || rows < k->pack_min_rows) return 0;
    const int64_t in = W->shape[1], groups = (W->shape[0] + k->pack_rows - 1) / k->pack_rows;
    const size_t gb = k->pack_group_bytes(in);
    if (gb && (size_t)groups > SIZE_MAX / gb) return -1;
    const size_t bytes = gb * (size_t)groups;
    void *p = alloc_packed(bytes);
    if (!p) return -1;
    pack_task t = {k, W->data, vox_dtype_row_bytes(W->dtype, in), gb, W->shape[0], in, p};
    if (pool && vox_pool_threads(pool) > 1)
        vox_pool_for(pool, groups, 16, pack_task_run, &t);
    else
        pack_task_run(&t, 0, groups, 0);
    out->packed = p;
    out->packed_level = (int)level;
    out->packed_bytes = bytes;
    *buf = p;
    return 1;
}

int vox_matmul_pack_level(vox_kernel_level level, const vox_tensor *W, int rows, vox_tensor *out,
                          void **buf) {
    return pack_with(level, NULL, W, rows, out, buf);
}

int vox_matmul_pack(vox_pool *pool, const vox_tensor *W, int rows, vox_tensor *out, void **buf) {
    return pack_with(vox_kernel_level_default(), pool, W, rows, out, buf);
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

typedef struct rmsnorm_ctx {
    const float *x, *w;
    int n;
    float eps;
    float *y;
} rmsnorm_ctx;

static void rmsnorm_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const rmsnorm_ctx *c = ctx;
    for (int64_t r = begin; r < end; r++)
        vox_rmsnorm(c->x + (size_t)r * c->n, c->w, c->n, c->eps, c->y + (size_t)r * c->n);
}

void vox_rmsnorm_rows_pool(vox_pool *pool, const float *x, const float *w, int rows, int n, float eps, float *y) {
    rmsnorm_ctx c = {x, w, n, eps, y};
    if (rows < 2 || vox_pool_threads(pool) < 2)
        rmsnorm_run(&c, 0, rows, 0);
    else
        vox_pool_for(pool, rows, 1, rmsnorm_run, &c);
}

void vox_silu_mul(float *gate, const float *up, int n) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    const vox_kernel_level l = vox_kernel_level_default();
    if (l == VOX_LEVEL_AVX512) {
        vox_silu_mul_avx512(gate, up, n);
        return;
    }
    if (l == VOX_LEVEL_AVX2 || l == VOX_LEVEL_AVXVNNI) {
        vox_silu_mul_avx2(gate, up, n);
        return;
    }
#endif
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

typedef struct silu_ctx {
    float *gate;
    const float *up;
    int n;
} silu_ctx;

#define SILU_CHUNK 2048 /* elements per pool item */

static void silu_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const silu_ctx *c = ctx;
    const int64_t b = begin * SILU_CHUNK, e = end * SILU_CHUNK < c->n ? end * SILU_CHUNK : c->n;
    vox_silu_mul(c->gate + b, c->up + b, (int)(e - b));
}

void vox_silu_mul_pool(vox_pool *pool, float *gate, const float *up, int n) {
    if (n <= SILU_CHUNK || vox_pool_threads(pool) < 2) {
        vox_silu_mul(gate, up, n);
        return;
    }
    silu_ctx c = {gate, up, n};
    vox_pool_for(pool, (n + SILU_CHUNK - 1) / SILU_CHUNK, 1, silu_run, &c);
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

static inline float sum16(const float *a) {
    float s8[8], s4[4];
    for (int j = 0; j < 8; j++) s8[j] = a[j] + a[j + 8];
    for (int j = 0; j < 4; j++) s4[j] = s8[j] + s8[j + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

/* The portable dot product: element i into partial sum i % 16, multiply then
 * add, reduced pairwise.  The avx512 level runs the same arithmetic 16 lanes at
 * a time (same bits), so attention scores do not depend on the level. */
static float dot_f32_portable(const float *a, const float *b, int n) {
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += a[i + j] * b[i + j];
    for (int j = 0; i + j < n; j++) acc[j] += a[i + j] * b[i + j];
    return sum16(acc);
}

float vox_dot_f32(const float *a, const float *b, int n) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (n > 0) {
        const vox_kernel_level l = vox_kernel_level_default();
        if (l == VOX_LEVEL_AVX512) return vox_dot_f32_avx512(a, b, n);
        if (l == VOX_LEVEL_AVX2 || l == VOX_LEVEL_AVXVNNI) return vox_dot_f32_avx2(a, b, n);
    }
#endif
    return dot_f32_portable(a, b, n);
}

void vox_axpy_f32(float *y, float a, const float *x, int n) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    const vox_kernel_level l = vox_kernel_level_default();
    if (l == VOX_LEVEL_AVX512) {
        vox_axpy_f32_avx512(y, a, x, n);
        return;
    }
    if (l == VOX_LEVEL_AVX2 || l == VOX_LEVEL_AVXVNNI) {
        vox_axpy_f32_avx2(y, a, x, n);
        return;
    }
#endif
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

void vox_dot_rows_f32(const float *a, const float *rows, size_t stride, int n_rows, int n, float scale,
                      float *out) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (n > 0) {
        const vox_kernel_level l = vox_kernel_level_default();
        if (l == VOX_LEVEL_AVX512) {
            vox_dot_rows_f32_avx512(a, rows, stride, n_rows, n, scale, out);
            return;
        }
        if (l == VOX_LEVEL_AVX2 || l == VOX_LEVEL_AVXVNNI) {
            vox_dot_rows_f32_avx2(a, rows, stride, n_rows, n, scale, out);
            return;
        }
    }
#endif
    for (int j = 0; j < n_rows; j++) out[j] = dot_f32_portable(a, rows + (size_t)j * stride, n) * scale;
}

void vox_axpy_rows_f32(float *y, const float *coef, const float *rows, size_t stride, int n_rows, int n) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    const vox_kernel_level l = vox_kernel_level_default();
    if (l == VOX_LEVEL_AVX512) {
        vox_axpy_rows_f32_avx512(y, coef, rows, stride, n_rows, n);
        return;
    }
    if (l == VOX_LEVEL_AVX2 || l == VOX_LEVEL_AVXVNNI) {
        vox_axpy_rows_f32_avx2(y, coef, rows, stride, n_rows, n);
        return;
    }
#endif
    for (int j = 0; j < n_rows; j++) {
        const float c = coef[j], *x = rows + (size_t)j * stride;
        for (int i = 0; i < n; i++) y[i] += c * x[i];
    }
}
