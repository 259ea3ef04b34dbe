/* A fixed pool of worker threads for data-parallel kernels.
 *
 * azc_threadpool_run(pool, fn, ctx) calls fn(ctx, i, n) once for every i in
 * [0, n) where n is the pool size, the calling thread taking i = 0, and returns
 * when all calls are done. Workers spin briefly on a generation counter before
 * sleeping, because decode steps issue hundreds of short parallel regions and a
 * condition-variable wake-up per region would cost more than the work; the
 * caller, once its own share is done, spins as long and then sleeps until the
 * last worker finishes, so a long region (compiling kernels) does not keep a
 * core busy waiting.
 *
 * azc_threadpool_for(pool, n, task, ctx) is the other shape of parallel work:
 * n independent tasks of uneven length (kernel compiles, weight repacks),
 * each thread taking the next one not yet started. */
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
typedef void (*azc_task_fn_t)(void *ctx, int task);
/* Calls task(ctx, i) once for every i in [0, n_tasks), on every thread of the
 * pool (NULL: on the caller), each thread taking the next task not yet taken;
 * returns when all are done. */
void azc_threadpool_for(azc_threadpool_t *pool, int n_tasks, azc_task_fn_t task, void *ctx);
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
