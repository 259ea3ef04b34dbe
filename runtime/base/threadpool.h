/* A fixed pool of worker threads for data-parallel kernels.
 *
 * azc_threadpool_run(pool, fn, ctx) calls fn(ctx, i, n) once for every i in
 * [0, n) where n is the pool size, the calling thread taking i = 0, and returns
 * when all calls are done. Workers spin briefly on a generation counter before
 * sleeping, because decode steps issue hundreds of short parallel regions and a
 * condition-variable wake-up per region would cost more than the work. */
#ifndef AZC_BASE_THREADPOOL_H
#define AZC_BASE_THREADPOOL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "runtime/base/status.h"

typedef struct azc_threadpool azc_threadpool_t;
typedef void (*azc_parallel_fn_t)(void *ctx, int ith, int nth);

/* n_threads <= 0 means one per online CPU. */
azc_status_t azc_threadpool_create(int n_threads, azc_threadpool_t **out);
void azc_threadpool_destroy(azc_threadpool_t *pool);
int azc_threadpool_size(const azc_threadpool_t *pool);
/* pool may be NULL: then fn(ctx, 0, 1) runs on the caller. */
void azc_threadpool_run(azc_threadpool_t *pool, azc_parallel_fn_t fn, void *ctx);
/* Splits [0, n) into nth nearly equal parts; sets [*begin, *end) for part ith. */
void azc_split_range(long n, int ith, int nth, long *begin, long *end);
int azc_cpu_count(void);

/* A spinning barrier for the threads of one parallel region: every thread
 * calls azc_barrier_wait(b) and all return once n have arrived. Reusable. */
typedef struct azc_barrier {
  int n;
  bool yield;
  atomic_int count;
  atomic_uint phase;
} azc_barrier_t;

void azc_barrier_init(azc_barrier_t *b, int n);
void azc_barrier_wait(void *barrier);

#endif
