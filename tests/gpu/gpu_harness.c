/* Generated CUDA kernels run on the CPU (see gpu_harness.h). */
#include "tests/gpu/gpu_harness.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "runtime/base/util.h"
#include "runtime/kv_cache.h"
#include "tests/test.h"

#ifndef AZC_EMU_CXX
#error "AZC_EMU_CXX (clang++-19) must be defined by the build"
#endif

void gpu_module_free(gpu_module_t *m) {
  if (!m) return;
  if (m->so) dlclose(m->so);
  free(m->source);
  free(m->info);
  free(m);
}

static const azc_ir_node_t *node_by_id(const azc_ir_graph_t *g, int32_t id) {
  for (int32_t i = 0; i < g->n_nodes; i++)
    if (g->nodes[i]->id == id) return g->nodes[i];
  return NULL;
}

azc_status_t gpu_module_generate(const compiled_model_t *c, gpu_module_t **out) {
  *out = NULL;
  const azc_plan_t *p = c->compiled->plan;
  gpu_module_t *m = calloc(1, sizeof(*m));
  if (!m) return AZC_ERR(AZC_OUT_OF_MEMORY, "gpu module");
  m->n_kernels = p->n_kernels;
  m->info = calloc((size_t)p->n_kernels + 1, sizeof(*m->info));
  azc_buf_t src = {0};
  azc_cuda_module_begin(&src);
  azc_status_t st = m->info ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "gpu module");
  for (int32_t k = 0; !st && k < p->n_kernels; k++) {
    const azc_ir_node_t *n = NULL;
    for (int32_t s = 0; s < p->n_steps && !n; s++)
      if (p->steps[s].kernel == k) n = node_by_id(c->graph, p->steps[s].node);
    if (!n) {
      st = AZC_ERR(AZC_INTERNAL, "kernel %s: no step", p->kernels[k].symbol);
      break;
    }
    azc_kernel_spec_t spec;
    st = azc_kernel_spec_from_node(n, &spec);
    if (!st) st = azc_cuda_gen_kernel(&spec, p->kernels[k].symbol, &src, &m->info[k]);
  }
  if (!st) st = azc_buf_take(&src, "gpu module", &m->source, &m->source_len);
  azc_buf_free(&src);
  if (st) {
    gpu_module_free(m);
    return st;
  }
  *out = m;
  return NULL;
}

azc_status_t gpu_module_build(gpu_module_t *m, const char *source, const char *tag) {
  char cu[1024], so[1024], cmd[4096];
  snprintf(cu, sizeof(cu), "%s/%s.cu", test_tmp_dir(), tag);
  snprintf(so, sizeof(so), "%s/%s.so", test_tmp_dir(), tag);
  const char *text = source ? source : m->source;
  FILE *f = fopen(cu, "wb");
  if (!f) return AZC_ERR(AZC_IO, "writing %s", cu);
  size_t len = strlen(text), wrote = fwrite(text, 1, len, f);
  if (fclose(f) != 0 || wrote != len) return AZC_ERR(AZC_IO, "writing %s", cu);
  snprintf(cmd, sizeof(cmd),
           "%s -std=c++17 -O1 -fPIC -shared -Wall -Wno-unused-function %s -I%s -include "
           "%s/tests/gpu/cuda_emu.h -x c++ %s -o %s",
           AZC_EMU_CXX, AZC_EMU_FLAGS, AZC_SOURCE_DIR, AZC_SOURCE_DIR, cu, so);
  int rc = system(cmd);
  if (rc != 0)
    return AZC_ERR(AZC_INTERNAL, "host build of %s failed (exit %d): %s", cu,
                   WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, cmd);
  if (m->so) dlclose(m->so);
  m->so = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (!m->so) return AZC_ERR(AZC_INTERNAL, "dlopen %s: %s", so, dlerror());
  return NULL;
}

/* ---- the executor ---- */
typedef int (*launch_fn)(void (*fn)(azk_gpu_args_t), int gx, int gy, int block, int smem,
                         const azk_gpu_args_t *args, uint64_t seed, char *err, int err_cap);

typedef struct emu_exec {
  azc_executor_t base;
  const compiled_model_t *c;
  const gpu_module_t *m;
  azc_kv_cache_t *kv;
  uint8_t *arena;
  launch_fn launch;
  void (**fns)(azk_gpu_args_t); /* per kernel, per launch */
  uint64_t seed;
} emu_exec_t;

static void *resolve(emu_exec_t *e, const azc_plan_value_t *v, const azc_batch_t *b) {
  switch (v->kind) {
  case AZC_VAL_ARENA: return e->arena + v->offset;
  case AZC_VAL_WEIGHT: return (void *)e->c->compiled->weight_data[v->index];
  case AZC_VAL_INPUT: {
    const int32_t *src[4] = {b->tokens, b->pos, b->seq, b->out_rows};
    return (void *)src[v->index];
  }
  default: return NULL;
  }
}

static azc_status_t emu_forward(azc_executor_t *ex, const azc_batch_t *b, float *logits) {
  emu_exec_t *e = (emu_exec_t *)ex;
  const azc_plan_t *p = e->c->compiled->plan;
  if (b->n_tokens > p->plan_T || b->n_out > p->plan_O)
    return AZC_ERR(AZC_OUT_OF_RANGE, "batch of %d tokens; compiled for %lld", b->n_tokens,
                   (long long)p->plan_T);
  azk_gpu_dyn_t dyn = {b->n_tokens, b->n_out, 0, 0};
  for (int32_t i = 0; i < b->n_tokens; i++) dyn.L = AZC_MAX(dyn.L, b->pos[i] + 1);
  for (int32_t i = 0; i < p->n_steps; i++) {
    const azc_plan_step_t *s = &p->steps[i];
    const azc_cuda_kernel_info_t *info = &e->m->info[s->kernel];
    azk_gpu_args_t a;
    memset(&a, 0, sizeof(a));
    a.out = resolve(e, &s->out, b);
    for (int k = 0; k < s->n_in; k++) a.in[k] = resolve(e, &s->in[k], b);
    a.dyn = &dyn;
    a.pos = b->pos;
    a.seq = b->seq;
    a.m_sym = s->m_sym;
    if (s->layer >= 0) {
      const azc_kv_layer_t *l = &e->kv->layers[s->layer];
      a.k_cache = (float *)(void *)l->k;
      a.v_cache = (float *)(void *)l->v;
      a.kv_seq_stride = (int64_t)e->kv->n_ctx * l->n_head_kv * l->head_dim;
    }
    const int64_t M = s->m_sym == 2 ? b->n_out : b->n_tokens;
    /* exactly the scratch the kernel asked for, poisoned, so that ASan and
     * NaN show a kernel overrunning or reading what it did not write */
    const size_t scratch = (size_t)(info->scratch_per_row * M);
    a.scratch = scratch ? malloc(scratch) : NULL;
    if (scratch && !a.scratch) return AZC_ERR(AZC_OUT_OF_MEMORY, "scratch");
    if (scratch) memset(a.scratch, 0xff, scratch);
    azc_status_t st = NULL;
    for (int l = 0; l < info->n_launch && !st; l++) {
      const azc_cuda_launch_t *ln = &info->launch[l];
      if (!azc_cuda_launch_runs(ln, M)) continue;
      char err[256];
      void (*fn)(azk_gpu_args_t) = e->fns[s->kernel * AZC_CUDA_MAX_LAUNCH + l];
      if (e->launch(fn, ln->grid_x, (int)azc_cuda_grid_y(ln, M), ln->block, ln->smem, &a,
                    e->seed + (uint64_t)i, err, sizeof(err)))
        st = AZC_ERR(AZC_INTERNAL, "step %d (%s%s): %s", i, p->kernels[s->kernel].symbol,
                     ln->suffix, err);
    }
    free(a.scratch);
    AZC_RETURN_IF_ERROR(st);
  }
  memcpy(logits, e->arena + p->logits.offset,
         sizeof(float) * (size_t)b->n_out * (size_t)p->n_vocab);
  return NULL;
}

static void emu_destroy(azc_executor_t *ex) {
  emu_exec_t *e = (emu_exec_t *)ex;
  azc_kv_cache_destroy(e->kv);
  free(e->arena);
  free(e->fns);
  free(e);
}

static const azc_executor_ops_t emu_ops = {"gpu-emulated", emu_forward, emu_destroy};

azc_status_t gpu_emu_executor(const compiled_model_t *c, const gpu_module_t *m,
                              const azc_executor_params_t *prm, uint64_t seed,
                              azc_executor_t **out) {
  *out = NULL;
  const azc_plan_t *p = c->compiled->plan;
  if (!m->so) return AZC_ERR(AZC_INVALID_ARGUMENT, "gpu module not built");
  emu_exec_t *e = calloc(1, sizeof(*e));
  if (!e) return AZC_ERR(AZC_OUT_OF_MEMORY, "emu executor");
  e->c = c;
  e->m = m;
  e->seed = seed;
  *(void **)&e->launch = dlsym(m->so, "azk_emu_launch");
  e->fns = calloc((size_t)p->n_kernels * AZC_CUDA_MAX_LAUNCH + 1, sizeof(*e->fns));
  e->arena = malloc((size_t)(p->arena_bytes > 0 ? p->arena_bytes : 64));
  azc_status_t st = !e->launch             ? AZC_ERR(AZC_INTERNAL, "azk_emu_launch missing")
                    : !e->fns || !e->arena ? AZC_ERR(AZC_OUT_OF_MEMORY, "emu executor")
                                           : NULL;
  for (int32_t k = 0; !st && k < p->n_kernels; k++)
    for (int l = 0; l < m->info[k].n_launch; l++) {
      char name[96];
      snprintf(name, sizeof(name), "%s%s", p->kernels[k].symbol, m->info[k].launch[l].suffix);
      void *f = dlsym(m->so, name);
      if (!f) {
        st = AZC_ERR(AZC_NOT_FOUND, "kernel function %s missing from the host build", name);
        break;
      }
      *(void **)&e->fns[k * AZC_CUDA_MAX_LAUNCH + l] = f;
    }
  if (!st)
    st = azc_kv_cache_create(p->n_layer, p->kv_heads, p->kv_head_dim, prm->n_seq, prm->n_ctx,
                             AZC_KV_F32, &e->kv);
  if (st) {
    emu_destroy(&e->base);
    return st;
  }
  memset(e->arena, 0xff, (size_t)p->arena_bytes); /* NaN: a value read before written shows */
  e->base.ops = &emu_ops;
  e->base.n_vocab = p->n_vocab;
  e->base.n_ctx = prm->n_ctx;
  e->base.n_seq = prm->n_seq;
  e->base.n_batch = (int32_t)p->plan_T;
  e->base.n_threads = 1;
  *out = &e->base;
  return NULL;
}
