/* test_threadpool.c — the thread pool (src/base/threadpool.h): every item of a
 * parallel for runs exactly once on a valid thread id, for pools with fewer,
 * as many and far more threads than the CPUs this process may use (the last
 * never spin: threadpool.c), over thousands of back-to-back jobs of awkward
 * sizes, and a NULL pool runs everything on the caller. */
#include <stdatomic.h>
#include <stdlib.h>

#include "base/threadpool.h"
#include "test.h"

typedef struct job {
    int n_threads;
    atomic_int *hits;
    atomic_int bad_tid;
} job;

static void count_items(void *ctx, int64_t b, int64_t e, int tid) {
    job *j = ctx;
    if (tid < 0 || tid >= j->n_threads) atomic_fetch_add(&j->bad_tid, 1);
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&j->hits[i], 1);
}

static void run_pool(int n_threads, int reps) {
    vox_error err = {0};
    vox_pool *p = NULL;
    CHECK(vox_pool_create(n_threads, &p, &err) == VOX_OK, "create %d threads: %s", n_threads, err.msg);
    if (!p) return;
    CHECK(vox_pool_threads(p) == n_threads, "%d threads", vox_pool_threads(p));
    enum { N = 1031 };
    atomic_int *hits = calloc(N, sizeof *hits);
    if (!hits) {
        CHECK(0, "oom");
        vox_pool_free(p);
        return;
    }
    int wrong = 0, bad = 0;
    for (int rep = 0; rep < reps; rep++) {
        int64_t n = 1 + (rep * 37) % N, chunk = 1 + rep % 7;
        for (int64_t i = 0; i < n; i++) atomic_store(&hits[i], 0);
        job j = {n_threads, hits, 0};
        vox_pool_for(p, n, chunk, count_items, &j);
        for (int64_t i = 0; i < n; i++) wrong += atomic_load(&hits[i]) != 1;
        bad += atomic_load(&j.bad_tid);
    }
    CHECK(wrong == 0, "%d threads: %d items not run exactly once", n_threads, wrong);
    CHECK(bad == 0, "%d threads: %d chunks with an invalid thread id", n_threads, bad);
    free(hits);
    vox_pool_free(p);
}

int main(void) {
    int cpus = vox_cpus_available();
    CHECK(cpus >= 1, "cpus available %d", cpus);
    run_pool(1, 2000);
    run_pool(2, 2000);
    run_pool(cpus, 2000);
    run_pool(cpus * 8 + 3, 300); /* oversubscribed */
    /* NULL pool: the caller does everything as thread 0 */
    atomic_int hits[10] = {0};
    job j = {1, hits, 0};
    vox_pool_for(NULL, 10, 3, count_items, &j);
    int all = 1;
    for (int i = 0; i < 10; i++) all &= atomic_load(&hits[i]) == 1;
    CHECK(all && atomic_load(&j.bad_tid) == 0, "NULL pool");
    TEST_MAIN_END();
}
