/* Compiled executor (see cpu_exec.h). A forward call walks the plan's steps:
 * it resolves each value to a pointer (arena + offset, a weight, a batch
 * input), fills one azk_call_t and runs the step's kernel on the thread pool
 * (or on the calling thread alone when the step is too small to be worth
 * waking the others: decode steps of small models). Nothing is allocated per
 * call.
 *
 * With AZC_PROFILE set in the environment the executor also times every
 * step (wall clock and the calling thread's CPU time, separately for decode
 * calls, M = 1, and prefill calls) and prints one line per kernel to stderr
 * when it is destroyed: which kernels a step's time goes to, without a
 * profiler that can see into the loaded code. */
#include "runtime/cpu_exec.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/base/threadpool.h"
#include "runtime/base/util.h"
#include "runtime/kv_cache.h"

/* below this many flops a step runs on one thread */
#define AZC_PARALLEL_MIN_WORK 400000.0

typedef struct cpu_exec {
  azc_executor_t base;
  const azc_plan_t *plan;
  const azk_fn_t *kernels;
  const void *const *weights;
  azc_kv_cache_t *kv;
  azc_threadpool_t *pool;
  azc_barrier_t barrier;
  uint8_t *arena, *shared, *scratch;
  const azc_batch_t *batch;
  azk_call_t call;
  azk_fn_t fn;
  /* AZC_PROFILE: per kernel, [0] decode calls (M = 1), [1] the others */
  struct step_time {
    double wall_ns, cpu_ns;
    int64_t calls, rows;
  } (*profile)[2];
} cpu_exec_t;

static double clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *resolve(cpu_exec_t *e, const azc_plan_value_t *v) {
  switch (v->kind) {
  case AZC_VAL_ARENA: return e->arena + v->offset;
  case AZC_VAL_WEIGHT: return (void *)e->weights[v->index];
  case AZC_VAL_INPUT: {
    const azc_batch_t *b = e->batch;
    const int32_t *src[4] = {b->tokens, b->pos, b->seq, b->out_rows};
    return (void *)src[v->index];
  }
  default: return NULL;
  }
}

static void run_step(void *ctx, int ith, int nth) {
  cpu_exec_t *e = ctx;
  e->fn(&e->call, ith, nth);
}

/* runs the CPU kernel steps among [first, last) */
static void run_steps(cpu_exec_t *e, const azc_batch_t *b, int32_t first, int32_t last) {
  const azc_plan_t *p = e->plan;
  int32_t L = 0;
  for (int32_t i = 0; i < b->n_tokens; i++) L = AZC_MAX(L, b->pos[i] + 1);
  e->batch = b;
  azk_call_t *c = &e->call;
  int nthreads = azc_threadpool_size(e->pool);
  for (int32_t i = first; i < last; i++) {
    const azc_plan_step_t *s = &p->steps[i];
    if (s->op != AZC_STEP_KERNEL || s->device != AZC_DEVICE_CPU) continue;
    memset(c, 0, sizeof(*c));
    c->out = resolve(e, &s->out);
    for (int k = 0; k < s->n_in; k++) c->in[k] = resolve(e, &s->in[k]);
    c->M = s->m_sym == 2 ? b->n_out : b->n_tokens;
    c->T = b->n_tokens;
    c->L = L;
    c->pos = b->pos;
    c->seq = b->seq;
    if (s->layer >= 0) {
      c->k_cache = e->kv->layers[s->layer].k;
      c->v_cache = e->kv->layers[s->layer].v;
      c->kv_seq_stride = (int64_t)e->kv->n_ctx * (int64_t)e->kv->layers[s->layer].row_bytes;
      c->kv_type = e->kv->type;
    }
    c->shared = e->shared;
    c->scratch = e->scratch;
    c->scratch_stride = p->thread_bytes;
    e->fn = e->kernels[s->kernel];
    if (c->M == 0) continue;
    double wall0 = 0, cpu0 = 0;
    if (e->profile) wall0 = clock_ns(CLOCK_MONOTONIC), cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    if (nthreads > 1 && s->work_per_row * (double)c->M >= AZC_PARALLEL_MIN_WORK) {
      c->barrier = azc_barrier_wait;
      c->barrier_ctx = &e->barrier;
      azc_threadpool_run(e->pool, run_step, e);
    } else {
      e->fn(c, 0, 1);
    }
    if (e->profile) {
      struct step_time *t = &e->profile[s->kernel][c->M > 1];
      t->wall_ns += clock_ns(CLOCK_MONOTONIC) - wall0;
      t->cpu_ns += clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
      t->calls++;
      t->rows += c->M;
    }
  }
}

static void print_profile(const cpu_exec_t *e) {
  const azc_plan_t *p = e->plan;
  for (int phase = 0; phase < 2; phase++) {
    double total = 0;
    for (int32_t k = 0; k < p->n_kernels; k++) total += e->profile[k][phase].wall_ns;
    if (total <= 0) continue;
    fprintf(stderr,
            "azc: profile, %s calls (%d threads): ms wall, %% of wall, ms CPU of the calling "
            "thread, steps, rows\n",
            phase ? "prefill (M > 1)" : "decode (M = 1)", azc_threadpool_size(e->pool));
    for (int32_t k = 0; k < p->n_kernels; k++) {
      const struct step_time *t = &e->profile[k][phase];
      if (!t->calls) continue;
      fprintf(stderr, "azc:   %10.2f %5.1f%% %10.2f %8lld %9lld  %s\n", t->wall_ns / 1e6,
              100.0 * t->wall_ns / total, t->cpu_ns / 1e6, (long long)t->calls, (long long)t->rows,
              p->kernels[k].desc);
    }
    fprintf(stderr, "azc:   %10.2f total\n", total / 1e6);
  }
}

static azc_status_t exec_forward(azc_executor_t *ex, const azc_batch_t *b, float *logits) {
  cpu_exec_t *e = (cpu_exec_t *)ex;
  const azc_plan_t *p = e->plan;
  AZC_RETURN_IF_ERROR(azc_plan_check_batch(p, b->n_tokens, b->n_out));
  run_steps(e, b, 0, p->n_steps);
  memcpy(logits, e->arena + p->logits.offset,
         sizeof(float) * (size_t)b->n_out * (size_t)p->n_vocab);
  return NULL;
}

static void exec_destroy(azc_executor_t *ex) {
  cpu_exec_t *e = (cpu_exec_t *)ex;
  if (e->profile) print_profile(e);
  free(e->profile);
  azc_kv_cache_destroy(e->kv);
  azc_threadpool_destroy(e->pool);
  free(e->arena);
  free(e->shared);
  free(e->scratch);
  free(e);
}

static const azc_executor_ops_t exec_ops = {"compiled", exec_forward, exec_destroy};

static void *alloc64(int64_t n) {
  void *p = NULL;
  return posix_memalign(&p, 64, (size_t)(n > 0 ? n : 64)) ? NULL : p;
}

static azc_status_t create(const azc_plan_t *plan, const azk_fn_t *kernels,
                           const void *const *weights, const azc_executor_params_t *params,
                           bool cpu_steps_only, azc_executor_t **out) {
  *out = NULL;
  azc_executor_params_t prm = *params;
  if (prm.n_seq <= 0) prm.n_seq = 1;
  if (prm.kv_type == AZC_KV_TYPE_AUTO) prm.kv_type = AZC_KV_TYPE_CPU_DEFAULT;
  if (prm.n_ctx <= 0) return AZC_ERR(AZC_INVALID_ARGUMENT, "context size %d", prm.n_ctx);
  if (plan->learned_positions && prm.n_ctx > plan->n_ctx_train)
    return AZC_ERR(AZC_INVALID_ARGUMENT,
                   "context %d exceeds the %d positions this model supports (learned position "
                   "embeddings or RoPE factors)",
                   prm.n_ctx, plan->n_ctx_train);
  for (int32_t i = 0; i < plan->n_steps; i++) {
    const azc_plan_step_t *s = &plan->steps[i];
    if (!cpu_steps_only && (s->op != AZC_STEP_KERNEL || s->device != AZC_DEVICE_CPU)) continue;
    if (s->op != AZC_STEP_KERNEL || s->device != AZC_DEVICE_CPU || !kernels[s->kernel])
      return AZC_ERR(AZC_UNSUPPORTED,
                     "plan step %d is a %s on the %s: the CPU executor runs CPU kernels only", i,
                     s->op == AZC_STEP_KERNEL ? "kernel" : "copy", azc_device_name(s->device));
  }
  cpu_exec_t *e = calloc(1, sizeof(*e));
  if (!e) return AZC_ERR(AZC_OUT_OF_MEMORY, "compiled executor");
  e->plan = plan;
  e->kernels = kernels;
  e->weights = weights;
  azc_status_t st = azc_threadpool_create(prm.n_threads, &e->pool);
  int nth = azc_threadpool_size(e->pool);
  if (!st)
    st = azc_kv_cache_create(plan->n_layer, plan->kv_heads, plan->kv_head_dim, prm.n_seq, prm.n_ctx,
                             prm.kv_type, &e->kv);
  if (!st) {
    e->arena = alloc64(plan->arena_bytes);
    e->shared = alloc64(plan->shared_bytes);
    e->scratch = alloc64(plan->thread_bytes * nth);
    if (!e->arena || !e->shared || !e->scratch)
      st = AZC_ERR(AZC_OUT_OF_MEMORY, "arena of %lld bytes", (long long)plan->arena_bytes);
  }
  if (st) {
    exec_destroy(&e->base);
    return st;
  }
  azc_barrier_init(&e->barrier, nth);
  const char *profile = getenv("AZC_PROFILE");
  if (profile && *profile && strcmp(profile, "0") &&
      !(e->profile = calloc((size_t)plan->n_kernels + 1, sizeof(*e->profile)))) {
    exec_destroy(&e->base);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "AZC_PROFILE: step times of %d kernels", plan->n_kernels);
  }
  e->base.ops = &exec_ops;
  e->base.n_vocab = plan->n_vocab;
  e->base.n_ctx = prm.n_ctx;
  e->base.n_seq = prm.n_seq;
  e->base.n_batch = (int32_t)AZC_MIN(plan->plan_T, prm.n_batch > 0 ? prm.n_batch : plan->plan_T);
  e->base.n_threads = nth;
  *out = &e->base;
  return NULL;
}

azc_status_t azc_cpu_exec_create(const azc_plan_t *plan, const azk_fn_t *kernels,
                                 const void *const *weights, const azc_executor_params_t *params,
                                 azc_executor_t **out) {
  return create(plan, kernels, weights, params, true, out);
}

azc_status_t azc_cpu_exec_create_part(const azc_plan_t *plan, const azk_fn_t *kernels,
                                      const void *const *weights,
                                      const azc_executor_params_t *params, azc_executor_t **out) {
  return create(plan, kernels, weights, params, false, out);
}

void azc_cpu_exec_run_steps(azc_executor_t *ex, const azc_batch_t *b, int32_t first, int32_t last) {
  run_steps((cpu_exec_t *)ex, b, first, last);
}

uint8_t *azc_cpu_exec_arena(azc_executor_t *ex) { return ((cpu_exec_t *)ex)->arena; }
