/* threadpool.c — persistent pthread pool with a chunked parallel-for (see threadpool.h).
 *
 * One job at a time: the caller publishes (fn, ctx, n, chunk) under the mutex,
 * bumps a generation counter and wakes the workers; every thread, the caller
 * included, then claims chunks with an atomic fetch-add until none are left.
 * The caller waits until all workers have checked out of the job before it
 * returns, so the job's context (usually on the caller's stack) stays valid.
 *
 * Hand-offs spin briefly before they sleep.  A frame of speech is a few hundred
 * parallel products separated by microseconds of serial work; waking a worker
 * through a condition variable costs tens of microseconds on a VM (46-50 us per
 * dispatch measured here), so a worker that just finished a job watches the
 * generation counter for VOX_POOL_SPIN_NS before it goes to sleep, and the
 * caller watches the active count the same way before it waits for the last
 * worker.  Both fall back to the condition variables, so an idle pool sleeps.
 *
 * Spinning only pays while every thread has a CPU of its own.  With more
 * threads than the CPUs this process may run on (sched_getaffinity), a
 * spinning thread would take the CPU from the very thread it waits for, so
 * such a pool never spins: hand-offs go straight to the condition variables. */
#include "base/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* How long a hand-off spins before sleeping. */
#define VOX_POOL_SPIN_NS 200000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spin until *v != unchanged (or spin_ns is up): 1 if it changed. */
static int spin_until_changed(const atomic_uint_fast64_t *v, uint64_t unchanged, int64_t spin_ns) {
    if (spin_ns <= 0) return atomic_load_explicit(v, memory_order_acquire) != unchanged;
    int64_t end = 0;
    for (int i = 0;; i++) {
        if (atomic_load_explicit(v, memory_order_acquire) != unchanged) return 1;
        cpu_relax();
        if ((i & 63) == 63) { /* read the clock rarely */
            int64_t t = now_ns();
            if (!end) end = t + spin_ns;
            else if (t >= end) return 0;
        }
    }
}

int vox_cpus_available(void) {
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
#endif
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    return nc > 0 ? (int)nc : 1;
}

typedef struct vox_worker {
    vox_pool *pool;
    int tid;
} vox_worker;

struct vox_pool {
    int n_threads; /* including the caller */
    int64_t spin_ns; /* VOX_POOL_SPIN_NS, or 0 when oversubscribed */
    pthread_t *threads;
    vox_worker *workers;
    int n_started;

    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* a new job (or stop) was published */
    pthread_cond_t cv_done; /* the last worker left the job */
    uint64_t generation;             /* jobs published (under mu) */
    atomic_uint_fast64_t gen_seen;   /* generation, readable without mu (spinning) */
    int stop;
    atomic_uint_fast64_t active;     /* workers still inside the current job */

    /* current job; written only while no worker is inside a job */
    vox_pool_fn fn;
    void *ctx;
    int64_t n, chunk;
    atomic_int_fast64_t next;

    void *scratch; /* vox_pool_scratch: 64-byte aligned, scratch_size bytes */
    size_t scratch_size;
};

/* Claim and run chunks of the current job until none are left. */
static void run_chunks(vox_pool *p, vox_pool_fn fn, void *ctx, int64_t n, int64_t chunk, int tid) {
    for (;;) {
        int64_t b = (int64_t)atomic_fetch_add_explicit(&p->next, chunk, memory_order_relaxed);
        if (b >= n) break;
        int64_t e = b + chunk < n ? b + chunk : n;
        fn(ctx, b, e, tid);
    }
}

static void *worker_main(void *arg) {
    vox_worker *w = arg;
    vox_pool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        spin_until_changed(&p->gen_seen, seen, p->spin_ns);
        pthread_mutex_lock(&p->mu);
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        seen = p->generation;
        vox_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        int64_t n = p->n, chunk = p->chunk;
        pthread_mutex_unlock(&p->mu);

        run_chunks(p, fn, ctx, n, chunk, w->tid);

        /* the last one out wakes a caller that stopped spinning */
        if (atomic_fetch_sub_explicit(&p->active, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

int vox_pool_create(int n_threads, vox_pool **out, vox_error *err) {
    *out = NULL;
    if (n_threads <= 0) n_threads = vox_cpus_available();
    if (n_threads > 1024) n_threads = 1024;
    vox_pool *p = calloc(1, sizeof *p);
    if (!p) return vox_fail(err, VOX_E_NOMEM, "thread pool: out of memory");
    p->n_threads = n_threads;
    p->spin_ns = n_threads <= vox_cpus_available() ? VOX_POOL_SPIN_NS : 0;
    atomic_init(&p->next, 0);
    atomic_init(&p->gen_seen, 0);
    atomic_init(&p->active, 0);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return vox_fail(err, VOX_E_INTERNAL, "thread pool: pthread_mutex_init failed");
    }
    if (pthread_cond_init(&p->cv_work, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return vox_fail(err, VOX_E_INTERNAL, "thread pool: pthread_cond_init failed");
    }
    if (pthread_cond_init(&p->cv_done, NULL) != 0) {
        pthread_cond_destroy(&p->cv_work);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return vox_fail(err, VOX_E_INTERNAL, "thread pool: pthread_cond_init failed");
    }
    int n_workers = n_threads - 1;
    if (n_workers > 0) {
        p->threads = calloc((size_t)n_workers, sizeof *p->threads);
        p->workers = calloc((size_t)n_workers, sizeof *p->workers);
        if (!p->threads || !p->workers) {
            vox_pool_free(p);
            return vox_fail(err, VOX_E_NOMEM, "thread pool: out of memory");
        }
        for (int i = 0; i < n_workers; i++) {
            p->workers[i].pool = p;
            p->workers[i].tid = i + 1;
            if (pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]) != 0) {
                vox_pool_free(p);
                return vox_fail(err, VOX_E_INTERNAL,
                                "thread pool: cannot start thread %d of %d", i + 2, n_threads);
            }
            p->n_started++;
        }
    }
    *out = p;
    return VOX_OK;
}

void vox_pool_free(vox_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv_done);
    pthread_cond_destroy(&p->cv_work);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->workers);
    free(p->scratch);
    free(p);
}

int vox_pool_threads(const vox_pool *p) { return p ? p->n_threads : 1; }

void vox_pool_for(vox_pool *p, int64_t n, int64_t chunk, vox_pool_fn fn, void *ctx) {
    if (n <= 0) return;
    if (chunk < 1) chunk = 1;
    /* Not worth waking anyone for a single chunk. */
    if (!p || p->n_started == 0 || n <= chunk) {
        for (int64_t b = 0; b < n; b += chunk) fn(ctx, b, b + chunk < n ? b + chunk : n, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->active, (uint64_t)p->n_started, memory_order_relaxed);
    p->generation++;
    atomic_store_explicit(&p->gen_seen, p->generation, memory_order_release);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);

    run_chunks(p, fn, ctx, n, chunk, 0);

    /* Wait for every worker to check out: spin on the count, then sleep. */
    if (atomic_load_explicit(&p->active, memory_order_acquire) != 0) {
        int64_t end = 0;
        for (int i = 0; p->spin_ns > 0 && atomic_load_explicit(&p->active, memory_order_acquire) != 0; i++) {
            cpu_relax();
            if ((i & 63) == 63) {
                int64_t t = now_ns();
                if (!end) end = t + p->spin_ns;
                else if (t >= end) break;
            }
        }
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->active, memory_order_acquire) != 0)
            pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void *vox_pool_scratch(vox_pool *p, size_t bytes) {
    if (!p) return NULL;
    if (bytes <= p->scratch_size && p->scratch) return p->scratch;
    /* Grow to the next multiple of 64 KiB so slowly rising requests (a prompt
     * growing by a row) do not reallocate every time. */
    size_t want = (bytes + 65535) & ~(size_t)65535;
    if (want < bytes) return NULL; /* overflow */
    void *mem = NULL;
    if (posix_memalign(&mem, 64, want) != 0) return NULL;
    free(p->scratch);
    p->scratch = mem;
    p->scratch_size = want;
    return mem;
}

int vox_pool_reserve_scratch(vox_pool *p, size_t bytes, vox_error *err) {
    if (!p) return vox_fail(err, VOX_E_ARG, "thread pool: cannot reserve scratch on a NULL pool");
    if (!vox_pool_scratch(p, bytes))
        return vox_fail(err, VOX_E_NOMEM, "thread pool: out of memory reserving %zu bytes of scratch", bytes);
    return VOX_OK;
}
