/* threadpool.h — a persistent pthread pool with a parallel-for.
 *
 * The pool is created once (at model load) with a fixed number of threads; the
 * calling thread always takes part, so a pool of n threads starts n-1 workers.
 * vox_pool_for(pool, n, chunk, fn, ctx) splits [0, n) into chunks of `chunk`
 * items that the threads claim dynamically; it returns when every item is done.
 * No thread is created and nothing is allocated per call.
 *
 * Determinism: which thread runs a chunk varies from call to call, so callers
 * must make each item's result independent of who computes it — split work by
 * output rows and never split a reduction across items.  Then results are
 * bit-identical for every thread count.  A pool must not be used from two
 * threads at once, nor from inside one of its own tasks. */
#ifndef VOX_BASE_THREADPOOL_H
#define VOX_BASE_THREADPOOL_H

#include <stdint.h>

#include "base/error.h"

typedef struct vox_pool vox_pool;

/* Runs items [begin, end) on thread `tid` (0 = the caller, < vox_pool_threads). */
typedef void (*vox_pool_fn)(void *ctx, int64_t begin, int64_t end, int tid);

/* n_threads <= 0: one thread per CPU this process may run on.  More threads
 * than that are allowed (a pool never spins then, see threadpool.c). */
int vox_pool_create(int n_threads, vox_pool **out, vox_error *err);
/* CPUs this process may run on (its affinity mask; else the online count). */
int vox_cpus_available(void);
void vox_pool_free(vox_pool *pool);
/* Total threads including the caller; 1 for a NULL pool. */
int vox_pool_threads(const vox_pool *pool);
/* Parallel for over [0, n) in chunks of `chunk` (>= 1) items.  A NULL pool runs
 * everything on the caller as thread 0. */
void vox_pool_for(vox_pool *pool, int64_t n, int64_t chunk, vox_pool_fn fn, void *ctx);

/* Scratch memory owned by the pool, for the caller's use between two calls that
 * touch the pool (the matmul kernels quantize their input rows into it once per
 * call, before the parallel split).  Returns a 64-byte aligned buffer of at
 * least `bytes` bytes; it grows (contents lost) when a larger size is asked for,
 * so reserve the largest size at load time (vox_matmul_scratch_bytes in
 * tensor/kernels.h tells how much a product needs) and no call allocates.
 * NULL for a NULL pool or when memory runs out (the caller then copes with
 * less). */
void *vox_pool_scratch(vox_pool *pool, size_t bytes);
int vox_pool_reserve_scratch(vox_pool *pool, size_t bytes, vox_error *err);

#endif
