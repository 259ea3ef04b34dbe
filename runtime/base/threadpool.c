/* Thread pool (see threadpool.h). The caller publishes (fn, ctx) and bumps
 * `generation`; workers that see a new generation run their share and
 * increment `done`. A worker spins for a while, then waits on a condition
 * variable; the caller broadcasts only when someone is asleep. The caller
 * waits for `done` the same way: spinning, then asleep on `done_cv` once it
 * has spun as long as a worker would (the last worker to finish signals it
 * only when it is asleep). */
#include "runtime/base/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield")
#else
#define cpu_relax() ((void)0)
#endif

enum { SPIN_ITERS = 1 << 17 };

typedef struct worker {
  azc_threadpool_t *pool;
  int index;
  pthread_t thread;
} worker_t;

struct azc_threadpool {
  int n;
  worker_t *workers;
  azc_parallel_fn_t fn;
  void *ctx;
  atomic_uint generation;
  atomic_int done;
  atomic_int sleepers;
  atomic_int stop;
  atomic_int caller_waiting;
  bool yield; /* more threads than CPUs: give the CPU away while waiting */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_cond_t done_cv;
};

int azc_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void azc_split_range(long n, int ith, int nth, long *begin, long *end) {
  long q = n / nth, r = n % nth;
  *begin = ith * q + (ith < r ? ith : r);
  *end = *begin + q + (ith < r ? 1 : 0);
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  azc_threadpool_t *p = w->pool;
  unsigned seen = 0;
  for (;;) {
    unsigned g;
    int spins = 0;
    while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
           !atomic_load(&p->stop)) {
      if (++spins < SPIN_ITERS) {
        if (p->yield && !(spins & 1023)) sched_yield();
        else cpu_relax();
        continue;
      }
      pthread_mutex_lock(&p->mu);
      atomic_fetch_add(&p->sleepers, 1);
      while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->cv, &p->mu);
      atomic_fetch_sub(&p->sleepers, 1);
      pthread_mutex_unlock(&p->mu);
      spins = 0;
    }
    if (atomic_load(&p->stop)) return NULL;
    seen = g;
    p->fn(p->ctx, w->index, p->n);
    if (atomic_fetch_add(&p->done, 1) + 1 == p->n - 1 && atomic_load(&p->caller_waiting)) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done_cv);
      pthread_mutex_unlock(&p->mu);
    }
  }
}

azc_status_t azc_threadpool_create(int n_threads, azc_threadpool_t **out) {
  *out = NULL;
  if (n_threads <= 0) n_threads = azc_cpu_count();
  if (n_threads > 1024) return AZC_ERR(AZC_INVALID_ARGUMENT, "too many threads: %d", n_threads);
  azc_threadpool_t *p = calloc(1, sizeof(*p));
  if (!p) return AZC_ERR(AZC_OUT_OF_MEMORY, "thread pool");
  p->n = n_threads;
  p->yield = n_threads > azc_cpu_count();
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  pthread_cond_init(&p->done_cv, NULL);
  p->workers = calloc((size_t)n_threads, sizeof(worker_t));
  if (!p->workers) {
    free(p);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "thread pool");
  }
  for (int i = 1; i < n_threads; i++) {
    p->workers[i].pool = p;
    p->workers[i].index = i;
    if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
      p->n = i;
      azc_threadpool_destroy(p);
      return AZC_ERR(AZC_INTERNAL, "cannot start thread %d", i);
    }
  }
  *out = p;
  return NULL;
}

int azc_threadpool_size(const azc_threadpool_t *pool) { return pool ? pool->n : 1; }

void azc_threadpool_run(azc_threadpool_t *p, azc_parallel_fn_t fn, void *ctx) {
  if (!p || p->n == 1) {
    fn(ctx, 0, 1);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  atomic_store_explicit(&p->done, 0, memory_order_relaxed);
  atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
  if (atomic_load(&p->sleepers) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
  fn(ctx, 0, p->n);
  /* spin, but give the core away if a worker is not running (more threads than cores) */
  for (int spins = 0; atomic_load_explicit(&p->done, memory_order_acquire) != p->n - 1; spins++) {
    if (spins < SPIN_ITERS) {
      if (p->yield && spins >= 4096) sched_yield();
      else cpu_relax();
      continue;
    }
    /* a long region: sleep until the last worker is done */
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_waiting, 1);
    while (atomic_load(&p->done) != p->n - 1) pthread_cond_wait(&p->done_cv, &p->mu);
    atomic_store(&p->caller_waiting, 0);
    pthread_mutex_unlock(&p->mu);
    break;
  }
}

typedef struct for_ctx {
  azc_task_fn_t task;
  void *ctx;
  int n;
  atomic_int next;
} for_ctx_t;

static void for_worker(void *arg, int ith, int nth) {
  for_ctx_t *f = arg;
  for (int i; (i = atomic_fetch_add(&f->next, 1)) < f->n;) f->task(f->ctx, i);
}

void azc_threadpool_for(azc_threadpool_t *pool, int n_tasks, azc_task_fn_t task, void *ctx) {
  for_ctx_t f = {task, ctx, n_tasks, 0};
  if (n_tasks > 0) azc_threadpool_run(pool, for_worker, &f);
}

void azc_threadpool_destroy(azc_threadpool_t *p) {
  if (!p) return;
  atomic_store(&p->stop, 1);
  pthread_mutex_lock(&p->mu);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->n; i++) pthread_join(p->workers[i].thread, NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  pthread_cond_destroy(&p->done_cv);
  free(p->workers);
  free(p);
}

void azc_barrier_init(azc_barrier_t *b, int n) {
  b->n = n;
  b->yield = n > azc_cpu_count();
  atomic_store(&b->count, 0);
  atomic_store(&b->phase, 0);
}

void azc_barrier_wait(void *barrier) {
  azc_barrier_t *b = barrier;
  if (b->n <= 1) return;
  unsigned phase = atomic_load_explicit(&b->phase, memory_order_acquire);
  if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == b->n - 1) {
    atomic_store_explicit(&b->count, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->phase, 1, memory_order_release);
    return;
  }
  for (int spins = 0; atomic_load_explicit(&b->phase, memory_order_acquire) == phase; spins++) {
    if (b->yield && spins >= 4096) sched_yield();
    else cpu_relax();
  }
}
