/* The CUDA executor (see cuda_exec.h). A forward call walks the plan once:
 * a copy step is one device <-> host copy, a run of CPU steps goes to the
 * CPU executor, a run of GPU steps is launched on the stream (or replayed
 * as a graph for a decode step). Nothing is allocated per call. */
#include "runtime/cuda_exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/base/log.h"
#include "runtime/base/util.h"
#include "runtime/cpu_exec.h"
#include "runtime/cuda_code.h"
#include "runtime/kv_cache.h"

#define MIB(x) ((double)(x) / (1024.0 * 1024.0))
/* device memory kept free for the driver, the module and the graphs: 256 MiB,
 * or an eighth of a smaller device */
static int64_t reserve_bytes(size_t total) { return AZC_MIN(256ll << 20, (int64_t)total / 8); }

typedef struct device {
  azc_cuda_driver_t *drv;
  azc_cu_device_t dev;
  azc_cu_ctx_t ctx;
  bool ctx_retained;
  int32_t sm, smem_optin;
  char name[128];
  size_t total, free_bytes;
} device_t;

static void device_close(device_t *d) {
  if (d->ctx_retained) d->drv->DevicePrimaryCtxRelease(d->dev);
  azc_cuda_driver_close(d->drv);
  memset(d, 0, sizeof(*d));
}

static azc_status_t device_open(device_t *d) {
  memset(d, 0, sizeof(*d));
  AZC_RETURN_IF_ERROR(azc_cuda_driver_open(&d->drv));
  azc_cuda_driver_t *drv = d->drv;
  azc_status_t st = azc_cuda_check(drv, drv->Init(0), "cuInit");
  int n = 0, major = 0, minor = 0;
  if (!st) st = azc_cuda_check(drv, drv->DeviceGetCount(&n), "cuDeviceGetCount");
  if (!st && n <= 0) st = AZC_ERR(AZC_UNSUPPORTED, "no CUDA device (the driver sees none)");
  if (!st) st = azc_cuda_check(drv, drv->DeviceGet(&d->dev, 0), "cuDeviceGet");
  if (!st)
    st = azc_cuda_check(drv, drv->DeviceGetAttribute(&major, AZC_CU_ATTR_CC_MAJOR, d->dev),
                        "cuDeviceGetAttribute");
  if (!st)
    st = azc_cuda_check(drv, drv->DeviceGetAttribute(&minor, AZC_CU_ATTR_CC_MINOR, d->dev),
                        "cuDeviceGetAttribute");
  if (!st && drv->DeviceGetAttribute(&d->smem_optin, AZC_CU_ATTR_SMEM_OPTIN, d->dev) != 0)
    d->smem_optin = 48 * 1024;
  if (!st)
    st = azc_cuda_check(drv, drv->DeviceGetName(d->name, sizeof(d->name), d->dev),
                        "cuDeviceGetName");
  if (!st) st = azc_cuda_check(drv, drv->DeviceTotalMem(&d->total, d->dev), "cuDeviceTotalMem");
  if (!st)
    st = azc_cuda_check(drv, drv->DevicePrimaryCtxRetain(&d->ctx, d->dev),
                        "cuDevicePrimaryCtxRetain");
  if (!st) d->ctx_retained = true;
  if (!st) st = azc_cuda_check(drv, drv->CtxSetCurrent(d->ctx), "cuCtxSetCurrent");
  size_t total = 0;
  if (!st) st = azc_cuda_check(drv, drv->MemGetInfo(&d->free_bytes, &total), "cuMemGetInfo");
  d->name[sizeof(d->name) - 1] = 0;
  d->sm = major * 10 + minor;
  if (st) device_close(d);
  return st;
}

const azc_cuda_image_ref_t *azc_cuda_program_pick(const azc_cuda_program_t *p, int32_t sm) {
  const azc_cuda_image_ref_t *best = NULL, *ptx = NULL;
  for (int i = 0; i < p->n_images; i++) {
    const azc_cuda_image_ref_t *im = &p->images[i];
    if (im->is_ptx) {
      if (im->sm <= sm) ptx = im;
    } else if (im->sm / 10 == sm / 10 && im->sm <= sm && (!best || im->sm > best->sm)) {
      best = im;
    }
  }
  return best ? best : ptx;
}

/* ---- what the GPU steps touch ---- */
typedef struct usage {
  bool *weight; /* per plan weight: read by a GPU step */
  bool *layer;  /* per layer: its KV cache is on the GPU */
  int64_t scratch, weight_bytes, kv_bytes, cpu_weight_bytes, cpu_kv_bytes;
  int32_t n_cuda_steps;
} usage_t;

static int64_t kv_layer_bytes(const azc_plan_t *p, int32_t l, const azc_executor_params_t *prm) {
  return 2 * (int64_t)sizeof(float) * (prm->n_seq > 0 ? prm->n_seq : 1) * prm->n_ctx *
         p->kv_heads[l] * p->kv_head_dim[l];
}

static azc_status_t usage_of(const azc_plan_t *p, const azc_cuda_program_t *prog,
                             const azc_executor_params_t *prm, usage_t *u) {
  memset(u, 0, sizeof(*u));
  u->weight = calloc((size_t)p->n_weights + 1, sizeof(bool));
  u->layer = calloc((size_t)p->n_layer + 1, sizeof(bool));
  bool *cpu_weight = calloc((size_t)p->n_weights + 1, sizeof(bool));
  bool *cpu_layer = calloc((size_t)p->n_layer + 1, sizeof(bool));
  if (!u->weight || !u->layer || !cpu_weight || !cpu_layer) {
    free(u->weight);
    free(u->layer);
    free(cpu_weight);
    free(cpu_layer);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "device placement");
  }
  for (int32_t i = 0; i < p->n_steps; i++) {
    const azc_plan_step_t *s = &p->steps[i];
    if (s->op != AZC_STEP_KERNEL) continue;
    bool gpu = s->device == AZC_DEVICE_CUDA;
    bool *w = gpu ? u->weight : cpu_weight, *l = gpu ? u->layer : cpu_layer;
    for (int k = 0; k < s->n_in; k++)
      if (s->in[k].kind == AZC_VAL_WEIGHT) w[s->in[k].index] = true;
    if (s->layer >= 0) l[s->layer] = true;
    if (!gpu) continue;
    u->n_cuda_steps++;
    int64_t rows = s->m_sym == 2 ? p->plan_O : p->plan_T;
    u->scratch = AZC_MAX(u->scratch, prog->info[s->kernel].scratch_per_row * rows);
  }
  for (int32_t i = 0; i < p->n_weights; i++) {
    if (u->weight[i]) u->weight_bytes += (int64_t)p->weights[i].nbytes;
    if (cpu_weight[i]) u->cpu_weight_bytes += (int64_t)p->weights[i].nbytes;
  }
  for (int32_t l = 0; l < p->n_layer; l++) {
    if (u->layer[l]) u->kv_bytes += kv_layer_bytes(p, l, prm);
    if (cpu_layer[l]) u->cpu_kv_bytes += kv_layer_bytes(p, l, prm);
  }
  free(cpu_weight);
  free(cpu_layer);
  return NULL;
}

static void usage_free(usage_t *u) {
  free(u->weight);
  free(u->layer);
}

static int64_t step_value_bytes(const azc_plan_t *p) {
  return (int64_t)sizeof(azk_gpu_dyn_t) +
         4 * (int64_t)sizeof(int32_t) * AZC_MAX(p->plan_T, p->plan_O);
}

static int64_t usage_device_bytes(const azc_plan_t *p, const usage_t *u) {
  if (!u->n_cuda_steps) return 0;
  return u->weight_bytes + u->kv_bytes + AZC_MAX(p->arena_bytes, 64) + u->scratch +
         step_value_bytes(p);
}

int64_t azc_cuda_plan_device_bytes(const azc_plan_t *plan, const azc_cuda_program_t *prog,
                                   const azc_executor_params_t *params) {
  usage_t u;
  if (usage_of(plan, prog, params, &u)) return INT64_MAX;
  int64_t n = usage_device_bytes(plan, &u);
  usage_free(&u);
  return n;
}

/* ---- the executor ---- */
typedef struct segment {
  int32_t first, last; /* steps [first, last): GPU kernel steps only */
  azc_cu_graph_exec_t graph;
  bool captured;
} segment_t;

typedef struct cuda_exec {
  azc_executor_t base;
  const azc_plan_t *plan;
  azc_plan_t *own_plan;
  const azc_cuda_program_t *prog;
  azc_cuda_program_t prog_copy;
  void (*release)(void *ctx);
  void *release_ctx;
  azc_executor_t *cpu; /* the CPU steps and the host arena */
  uint8_t *host_arena;
  device_t d;
  azc_cu_module_t module;
  azc_cu_stream_t stream;
  azc_cu_function_t *fns; /* per plan kernel x AZC_CUDA_MAX_LAUNCH */
  azc_cu_ptr_t arena, scratch, dyn, tokens, pos, seq, out_rows;
  azc_cu_ptr_t *weights; /* per plan weight, 0 when not on the GPU */
  azc_cu_ptr_t *k, *v;   /* per layer, 0 when not on the GPU */
  azk_gpu_args_t *args;  /* per plan step (GPU kernel steps), filled at creation */
  int32_t *segment_of;   /* per plan step: its segment, or -1 */
  segment_t *segments;
  int32_t n_segments;
  bool graphs, has_cuda;
  int64_t graph_replays;
  int32_t gpu_layers;   /* layers placed on the GPU */
  char placement[256];  /* the first offload line, without "offload: " */
  int64_t device_bytes; /* every device allocation */
  int64_t host_bytes;   /* the CPU steps' weights and KV cache */
} cuda_exec_t;

static azc_status_t check(cuda_exec_t *e, azc_cu_result_t r, const char *call) {
  return azc_cuda_check(e->d.drv, r, call);
}

static azc_status_t alloc_device(cuda_exec_t *e, azc_cu_ptr_t *p, int64_t bytes, const char *what) {
  azc_status_t st = check(e, e->d.drv->MemAlloc(p, (size_t)AZC_MAX(bytes, 16)), "cuMemAlloc");
  if (st) return azc_status_wrap(st, "allocating %.1f MiB of GPU memory for %s", MIB(bytes), what);
  e->device_bytes += AZC_MAX(bytes, 16);
  return NULL;
}

static azc_status_t launch_step(cuda_exec_t *e, int32_t i, int64_t M) {
  const azc_plan_step_t *s = &e->plan->steps[i];
  const azc_cuda_kernel_info_t *info = &e->prog->info[s->kernel];
  void *params[1] = {&e->args[i]};
  for (int l = 0; l < info->n_launch; l++) {
    const azc_cuda_launch_t *ln = &info->launch[l];
    if (!azc_cuda_launch_runs(ln, M)) continue;
    azc_cu_result_t r =
        e->d.drv->LaunchKernel(e->fns[s->kernel * AZC_CUDA_MAX_LAUNCH + l], (unsigned)ln->grid_x,
                               (unsigned)azc_cuda_grid_y(ln, M), 1, (unsigned)ln->block, 1, 1,
                               (unsigned)ln->smem, e->stream, params, NULL);
    if (r)
      return azc_status_wrap(check(e, r, "cuLaunchKernel"), "plan step %d (%s%s)", i,
                             e->prog->prefix[s->kernel], ln->suffix);
  }
  return NULL;
}

static azc_status_t run_segment(cuda_exec_t *e, segment_t *g, const azc_batch_t *b, bool decode) {
  const azc_plan_t *p = e->plan;
  azc_cuda_driver_t *drv = e->d.drv;
  if (decode && g->captured) {
    e->graph_replays++;
    return check(e, drv->GraphLaunch(g->graph, e->stream), "cuGraphLaunch");
  }
  if (decode)
    AZC_RETURN_IF_ERROR(check(e,
                              drv->StreamBeginCapture(e->stream, AZC_CU_CAPTURE_MODE_THREAD_LOCAL),
                              "cuStreamBeginCapture"));
  azc_status_t st = NULL;
  for (int32_t i = g->first; !st && i < g->last; i++) {
    const azc_plan_step_t *s = &p->steps[i];
    st = launch_step(e, i, s->m_sym == 2 ? b->n_out : b->n_tokens);
  }
  if (!decode) return st;
  azc_cu_graph_t graph = NULL;
  azc_status_t end = check(e, drv->StreamEndCapture(e->stream, &graph), "cuStreamEndCapture");
  if (!st)
    st = end;
  else
    azc_status_free(end);
  if (!st) st = check(e, drv->GraphInstantiateWithFlags(&g->graph, graph, 0), "cuGraphInstantiate");
  if (graph) drv->GraphDestroy(graph);
  if (st)
    return azc_status_wrap(st, "capturing plan steps %d..%d as a CUDA graph", g->first,
                           g->last - 1);
  g->captured = true;
  return check(e, drv->GraphLaunch(g->graph, e->stream), "cuGraphLaunch");
}

static azc_status_t exec_forward(azc_executor_t *ex, const azc_batch_t *b, float *logits) {
  cuda_exec_t *e = (cuda_exec_t *)ex;
  const azc_plan_t *p = e->plan;
  AZC_RETURN_IF_ERROR(azc_plan_check_batch(p, b->n_tokens, b->n_out));
  azc_cuda_driver_t *drv = e->d.drv;
  if (e->has_cuda) {
    azk_gpu_dyn_t dyn = {b->n_tokens, b->n_out, 0, 0};
    for (int32_t i = 0; i < b->n_tokens; i++) dyn.L = AZC_MAX(dyn.L, b->pos[i] + 1);
    size_t nt = sizeof(int32_t) * (size_t)b->n_tokens;
    AZC_RETURN_IF_ERROR(
        check(e, drv->MemcpyHtoDAsync(e->dyn, &dyn, sizeof(dyn), e->stream), "cuMemcpyHtoDAsync"));
    AZC_RETURN_IF_ERROR(
        check(e, drv->MemcpyHtoDAsync(e->tokens, b->tokens, nt, e->stream), "cuMemcpyHtoDAsync"));
    AZC_RETURN_IF_ERROR(
        check(e, drv->MemcpyHtoDAsync(e->pos, b->pos, nt, e->stream), "cuMemcpyHtoDAsync"));
    AZC_RETURN_IF_ERROR(
        check(e, drv->MemcpyHtoDAsync(e->seq, b->seq, nt, e->stream), "cuMemcpyHtoDAsync"));
    if (b->n_out > 0)
      AZC_RETURN_IF_ERROR(check(e,
                                drv->MemcpyHtoDAsync(e->out_rows, b->out_rows,
                                                     sizeof(int32_t) * (size_t)b->n_out, e->stream),
                                "cuMemcpyHtoDAsync"));
  }
  const bool decode = e->graphs && b->n_tokens == 1 && b->n_out == 1;
  for (int32_t i = 0; i < p->n_steps;) {
    const azc_plan_step_t *s = &p->steps[i];
    if (s->op == AZC_STEP_COPY) {
      int64_t rows = s->m_sym == 2 ? b->n_out : b->n_tokens;
      size_t n = (size_t)(rows * s->out_row_bytes);
      int64_t off = s->in[0].offset;
      if (n && s->device == AZC_DEVICE_CUDA) {
        AZC_RETURN_IF_ERROR(check(
            e,
            drv->MemcpyHtoDAsync(e->arena + (azc_cu_ptr_t)off, e->host_arena + off, n, e->stream),
            "cuMemcpyHtoDAsync (copy step)"));
      } else if (n) {
        AZC_RETURN_IF_ERROR(check(
            e,
            drv->MemcpyDtoHAsync(e->host_arena + off, e->arena + (azc_cu_ptr_t)off, n, e->stream),
            "cuMemcpyDtoHAsync (copy step)"));
        AZC_RETURN_IF_ERROR(check(e, drv->StreamSynchronize(e->stream), "cuStreamSynchronize"));
      }
      i++;
    } else if (s->device == AZC_DEVICE_CPU) {
      int32_t j = i;
      while (j < p->n_steps && p->steps[j].op == AZC_STEP_KERNEL &&
             p->steps[j].device == AZC_DEVICE_CPU)
        j++;
      azc_cpu_exec_run_steps(e->cpu, b, i, j);
      i = j;
    } else {
      segment_t *g = &e->segments[e->segment_of[i]];
      azc_status_t st = run_segment(e, g, b, decode);
      if (st) return azc_status_wrap(st, "running on the GPU");
      i = g->last;
    }
  }
  if (e->has_cuda)
    AZC_RETURN_IF_ERROR(check(e, drv->StreamSynchronize(e->stream), "cuStreamSynchronize"));
  memcpy(logits, e->host_arena + p->logits.offset,
         sizeof(float) * (size_t)b->n_out * (size_t)p->n_vocab);
  return NULL;
}

static void exec_destroy(azc_executor_t *ex) {
  cuda_exec_t *e = (cuda_exec_t *)ex;
  azc_cuda_driver_t *drv = e->d.drv;
  if (drv) {
    if (e->stream) drv->StreamSynchronize(e->stream);
    for (int32_t i = 0; i < e->n_segments; i++)
      if (e->segments[i].captured) drv->GraphExecDestroy(e->segments[i].graph);
    const azc_plan_t *p = e->plan;
    azc_cu_ptr_t bufs[] = {e->arena, e->scratch, e->dyn, e->tokens, e->pos, e->seq, e->out_rows};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
      if (bufs[i]) drv->MemFree(bufs[i]);
    for (int32_t i = 0; e->weights && i < p->n_weights; i++)
      if (e->weights[i]) drv->MemFree(e->weights[i]);
    for (int32_t l = 0; e->k && l < p->n_layer; l++) {
      if (e->k[l]) drv->MemFree(e->k[l]);
      if (e->v[l]) drv->MemFree(e->v[l]);
    }
    if (e->stream) drv->StreamDestroy(e->stream);
    if (e->module) drv->ModuleUnload(e->module);
  }
  device_close(&e->d);
  azc_executor_destroy(e->cpu);
  free(e->fns);
  free(e->weights);
  free(e->k);
  free(e->v);
  free(e->args);
  free(e->segment_of);
  free(e->segments);
  azc_plan_free(e->own_plan);
  if (e->release) e->release(e->release_ctx);
  free(e);
}

static const azc_executor_ops_t exec_ops = {"cuda", exec_forward, exec_destroy};

static void *resolve_device(cuda_exec_t *e, const azc_plan_value_t *v) {
  switch (v->kind) {
  case AZC_VAL_ARENA: return (void *)(uintptr_t)(e->arena + (azc_cu_ptr_t)v->offset);
  case AZC_VAL_WEIGHT: return (void *)(uintptr_t)e->weights[v->index];
  case AZC_VAL_INPUT: {
    azc_cu_ptr_t src[4] = {e->tokens, e->pos, e->seq, e->out_rows};
    return (void *)(uintptr_t)src[v->index];
  }
  default: return NULL;
  }
}

static azc_status_t load_module(cuda_exec_t *e, const azc_cuda_image_ref_t *im) {
  azc_cuda_driver_t *drv = e->d.drv;
  char log[4096] = "";
  int opts[2] = {AZC_CU_JIT_ERROR_LOG_BUFFER, AZC_CU_JIT_ERROR_LOG_BUFFER_SIZE};
  void *vals[2] = {log, (void *)(uintptr_t)sizeof(log)};
  azc_cu_result_t r = drv->ModuleLoadDataEx(&e->module, im->data, 2, opts, vals);
  if (r) {
    log[sizeof(log) - 1] = 0;
    return azc_status_wrap(check(e, r, "cuModuleLoadDataEx"), "loading the %s for sm_%d%s%s",
                           im->is_ptx ? "PTX" : "cubin", im->sm, *log ? ": " : "", log);
  }
  return NULL;
}

/* everything but the CPU part, for a plan with GPU steps */
static azc_status_t setup_device(cuda_exec_t *e, const usage_t *u, const void *const *weights,
                                 const azc_executor_params_t *prm, const azc_cuda_image_ref_t *im) {
  const azc_plan_t *p = e->plan;
  azc_cuda_driver_t *drv = e->d.drv;
  AZC_RETURN_IF_ERROR(load_module(e, im));
  e->fns = calloc((size_t)p->n_kernels * AZC_CUDA_MAX_LAUNCH + 1, sizeof(*e->fns));
  e->weights = calloc((size_t)p->n_weights + 1, sizeof(*e->weights));
  e->k = calloc((size_t)p->n_layer + 1, sizeof(*e->k));
  e->v = calloc((size_t)p->n_layer + 1, sizeof(*e->v));
  e->args = calloc((size_t)p->n_steps + 1, sizeof(*e->args));
  if (!e->fns || !e->weights || !e->k || !e->v || !e->args)
    return AZC_ERR(AZC_OUT_OF_MEMORY, "CUDA executor tables");
  for (int32_t k = 0; k < p->n_kernels; k++) {
    if (p->kernels[k].device != AZC_DEVICE_CUDA) continue;
    const azc_cuda_kernel_info_t *info = &e->prog->info[k];
    for (int l = 0; l < info->n_launch; l++) {
      char name[96];
      snprintf(name, sizeof(name), "%s%s", e->prog->prefix[k], info->launch[l].suffix);
      azc_cu_function_t *f = &e->fns[k * AZC_CUDA_MAX_LAUNCH + l];
      azc_status_t st = check(e, drv->ModuleGetFunction(f, e->module, name), "cuModuleGetFunction");
      if (st) return azc_status_wrap(st, "kernel function %s", name);
      if (info->launch[l].smem > 48 * 1024) {
        if (info->launch[l].smem > e->d.smem_optin)
          return AZC_ERR(AZC_UNSUPPORTED,
                         "kernel %s needs %d bytes of shared memory; the GPU has %d", name,
                         info->launch[l].smem, e->d.smem_optin);
        AZC_RETURN_IF_ERROR(
            check(e, drv->FuncSetAttribute(*f, AZC_CU_FUNC_MAX_DYNAMIC_SMEM, info->launch[l].smem),
                  "cuFuncSetAttribute"));
      }
    }
  }
  AZC_RETURN_IF_ERROR(
      check(e, drv->StreamCreate(&e->stream, AZC_CU_STREAM_NON_BLOCKING), "cuStreamCreate"));
  AZC_RETURN_IF_ERROR(alloc_device(e, &e->arena, p->arena_bytes, "activations"));
  if (u->scratch) AZC_RETURN_IF_ERROR(alloc_device(e, &e->scratch, u->scratch, "kernel scratch"));
  int64_t rows = AZC_MAX(p->plan_T, p->plan_O) * (int64_t)sizeof(int32_t);
  AZC_RETURN_IF_ERROR(alloc_device(e, &e->dyn, sizeof(azk_gpu_dyn_t), "step sizes"));
  AZC_RETURN_IF_ERROR(alloc_device(e, &e->tokens, rows, "token ids"));
  AZC_RETURN_IF_ERROR(alloc_device(e, &e->pos, rows, "positions"));
  AZC_RETURN_IF_ERROR(alloc_device(e, &e->seq, rows, "sequence ids"));
  AZC_RETURN_IF_ERROR(alloc_device(e, &e->out_rows, rows, "output rows"));
  /* the weights, once */
  for (int32_t i = 0; i < p->n_weights; i++) {
    if (!u->weight[i]) continue;
    const azc_plan_weight_t *w = &p->weights[i];
    AZC_RETURN_IF_ERROR(alloc_device(e, &e->weights[i], (int64_t)w->nbytes, w->name));
    azc_status_t st =
        check(e, drv->MemcpyHtoDAsync(e->weights[i], weights[i], (size_t)w->nbytes, e->stream),
              "cuMemcpyHtoDAsync");
    if (st) return azc_status_wrap(st, "uploading weight %s", w->name);
  }
  int32_t n_seq = prm->n_seq > 0 ? prm->n_seq : 1;
  for (int32_t l = 0; l < p->n_layer; l++) {
    if (!u->layer[l]) continue;
    int64_t half = kv_layer_bytes(p, l, prm) / 2;
    AZC_RETURN_IF_ERROR(alloc_device(e, &e->k[l], half, "the KV cache"));
    AZC_RETURN_IF_ERROR(alloc_device(e, &e->v[l], half, "the KV cache"));
    /* the eager interpreter's cache starts at zero; so does this one */
    AZC_RETURN_IF_ERROR(
        check(e, drv->MemsetD8Async(e->k[l], 0, (size_t)half, e->stream), "cuMemsetD8Async"));
    AZC_RETURN_IF_ERROR(
        check(e, drv->MemsetD8Async(e->v[l], 0, (size_t)half, e->stream), "cuMemsetD8Async"));
  }
  (void)n_seq;
  AZC_RETURN_IF_ERROR(check(e, drv->StreamSynchronize(e->stream), "cuStreamSynchronize"));
  /* every GPU step's arguments: all pointers are fixed from here on */
  for (int32_t i = 0; i < p->n_steps; i++) {
    const azc_plan_step_t *s = &p->steps[i];
    if (s->op != AZC_STEP_KERNEL || s->device != AZC_DEVICE_CUDA) continue;
    azk_gpu_args_t *a = &e->args[i];
    a->out = resolve_device(e, &s->out);
    for (int k = 0; k < s->n_in; k++) a->in[k] = resolve_device(e, &s->in[k]);
    a->dyn = (const azk_gpu_dyn_t *)(uintptr_t)e->dyn;
    a->pos = (const int32_t *)(uintptr_t)e->pos;
    a->seq = (const int32_t *)(uintptr_t)e->seq;
    a->m_sym = s->m_sym;
    if (s->layer >= 0) {
      a->k_cache = (float *)(uintptr_t)e->k[s->layer];
      a->v_cache = (float *)(uintptr_t)e->v[s->layer];
      a->kv_seq_stride = (int64_t)prm->n_ctx * p->kv_heads[s->layer] * p->kv_head_dim[s->layer];
    }
    if (e->prog->info[s->kernel].scratch_per_row) a->scratch = (uint8_t *)(uintptr_t)e->scratch;
  }
  return NULL;
}

static azc_status_t make_segments(cuda_exec_t *e) {
  const azc_plan_t *p = e->plan;
  e->segment_of = malloc(sizeof(int32_t) * ((size_t)p->n_steps + 1));
  e->segments = calloc((size_t)p->n_steps + 1, sizeof(segment_t));
  if (!e->segment_of || !e->segments) return AZC_ERR(AZC_OUT_OF_MEMORY, "CUDA segments");
  for (int32_t i = 0; i < p->n_steps; i++) {
    const azc_plan_step_t *s = &p->steps[i];
    bool gpu = s->op == AZC_STEP_KERNEL && s->device == AZC_DEVICE_CUDA;
    e->segment_of[i] = -1;
    if (!gpu) continue;
    bool prev = i > 0 && e->segment_of[i - 1] >= 0;
    if (!prev) e->segments[e->n_segments++] = (segment_t){i, i, NULL, false};
    e->segments[e->n_segments - 1].last = i + 1;
    e->segment_of[i] = e->n_segments - 1;
  }
  return NULL;
}

static void print_placement(cuda_exec_t *e, const usage_t *u, const azc_cuda_image_ref_t *im,
                            int32_t gpu_layers) {
  const azc_plan_t *p = e->plan;
  e->gpu_layers = u->n_cuda_steps ? gpu_layers : 0;
  e->host_bytes = u->cpu_weight_bytes + u->cpu_kv_bytes;
  if (!u->n_cuda_steps) {
    snprintf(e->placement, sizeof(e->placement),
             "0/%d layers on the GPU: everything runs on the CPU", p->n_layer);
    azc_log_info("offload: %s", e->placement);
  } else {
    snprintf(e->placement, sizeof(e->placement),
             "%d/%d layers on cuda0 (%s, sm_%d, %.1f MiB, driver %d.%d; %s sm_%d)", gpu_layers,
             p->n_layer, e->d.name, e->d.sm, MIB(e->d.total), e->d.drv->version / 1000,
             e->d.drv->version % 1000 / 10, im->is_ptx ? "PTX JIT from" : "cubin", im->sm);
    azc_log_info("offload: %s", e->placement);
    azc_log_info("offload: cuda0: weights %.2f MiB, KV cache %.2f MiB, activations %.2f MiB, "
                 "scratch %.2f MiB",
                 MIB(u->weight_bytes), MIB(u->kv_bytes), MIB(p->arena_bytes), MIB(u->scratch));
  }
  azc_log_info("offload: cpu: weights %.2f MiB, KV cache %.2f MiB", MIB(u->cpu_weight_bytes),
               MIB(u->cpu_kv_bytes));
}

/* layers of the plan on the GPU: the distinct KV layers of GPU steps, or all
 * when every kernel step is on the GPU */
static int32_t gpu_layer_count(const azc_plan_t *p, const usage_t *u) {
  int32_t n = 0;
  for (int32_t l = 0; l < p->n_layer; l++) n += u->layer[l];
  return n;
}

typedef struct release {
  void (*fn)(void *ctx);
  void *ctx;
} release_t;

static azc_status_t create(const azc_plan_t *plan, bool own_plan, device_t *dev,
                           const void *const *weights, const azk_fn_t *cpu_kernels,
                           const azc_cuda_program_t *prog, release_t rel,
                           const azc_executor_params_t *params, azc_executor_t **out) {
  *out = NULL;
  azc_executor_params_t prm = *params;
  if (prm.n_seq <= 0) prm.n_seq = 1;
  if (prm.kv_type == AZC_KV_TYPE_AUTO) prm.kv_type = AZC_KV_F32;
  /* before the executor owns them: the plan, the device and the release */
  azc_status_t early = NULL;
  cuda_exec_t *e = NULL;
  if (prm.kv_type != AZC_KV_F32)
    early = AZC_ERR(AZC_UNSUPPORTED,
                    "--kv-type %s: the CUDA executor keeps its KV cache in f32 only (use "
                    "--kv-type f32, or -ngl 0 for the CPU)",
                    azc_kv_type_name(prm.kv_type));
  else if (!(e = calloc(1, sizeof(*e))))
    early = AZC_ERR(AZC_OUT_OF_MEMORY, "CUDA executor");
  if (early) {
    if (own_plan) azc_plan_free((azc_plan_t *)plan);
    if (dev) device_close(dev);
    if (rel.fn) rel.fn(rel.ctx);
    return early;
  }
  e->plan = plan;
  e->own_plan = own_plan ? (azc_plan_t *)plan : NULL;
  e->prog_copy = *prog;
  e->prog = &e->prog_copy;
  e->release = rel.fn;
  e->release_ctx = rel.ctx;
  if (dev) {
    e->d = *dev;
    memset(dev, 0, sizeof(*dev));
  }
  const char *graphs = getenv("AZC_CUDA_GRAPHS");
  e->graphs = !(graphs && !strcmp(graphs, "0"));
  usage_t u;
  azc_status_t st = usage_of(plan, prog, &prm, &u);
  if (st) {
    exec_destroy(&e->base);
    return st;
  }
  e->has_cuda = u.n_cuda_steps > 0;
  const azc_cuda_image_ref_t *im = NULL;
  if (e->has_cuda && !e->d.drv) st = device_open(&e->d);
  if (!st && e->has_cuda) {
    im = azc_cuda_program_pick(prog, e->d.sm);
    if (!im) st = AZC_ERR(AZC_UNSUPPORTED, "the bundle has no GPU code for sm_%d", e->d.sm);
  }
  if (!st) st = azc_cpu_exec_create_part(plan, cpu_kernels, weights, &prm, &e->cpu);
  if (!st) e->host_arena = azc_cpu_exec_arena(e->cpu);
  if (!st && e->has_cuda) st = setup_device(e, &u, weights, &prm, im);
  if (!st) st = make_segments(e);
  if (!st) print_placement(e, &u, im, gpu_layer_count(plan, &u));
  usage_free(&u);
  if (st) {
    exec_destroy(&e->base);
    return st;
  }
  e->base.ops = &exec_ops;
  e->base.n_vocab = plan->n_vocab;
  e->base.n_ctx = e->cpu->n_ctx;
  e->base.n_seq = e->cpu->n_seq;
  e->base.n_batch = e->cpu->n_batch;
  e->base.n_threads = e->cpu->n_threads;
  *out = &e->base;
  return NULL;
}

int32_t azc_cuda_executor_placement(const azc_executor_t *ex, char *buf, size_t cap) {
  if (cap) buf[0] = 0;
  if (!ex || ex->ops != &exec_ops) return 0;
  const cuda_exec_t *e = (const cuda_exec_t *)ex;
  if (cap) snprintf(buf, cap, "%s", e->placement);
  return e->gpu_layers;
}

bool azc_cuda_executor_bytes(const azc_executor_t *ex, int64_t *device, int64_t *host) {
  *device = *host = 0;
  if (!ex || ex->ops != &exec_ops) return false;
  const cuda_exec_t *e = (const cuda_exec_t *)ex;
  *device = e->device_bytes;
  *host = e->host_bytes;
  return true;
}

azc_status_t azc_cuda_exec_create(const azc_plan_t *plan, bool own_plan, const void *const *weights,
                                  const azk_fn_t *cpu_kernels, const azc_cuda_program_t *prog,
                                  const azc_executor_params_t *params, azc_executor_t **out) {
  return create(plan, own_plan, NULL, weights, cpu_kernels, prog, (release_t){NULL, NULL}, params,
                out);
}

/* ---- offload: how many layers, and the fallback ---- */
static void say_fallback_once(const char *why) {
  static int said;
  if (__atomic_exchange_n(&said, 1, __ATOMIC_SEQ_CST)) return;
  azc_log_warn("GPU offload off: %s; running on the CPU", why);
}

static azc_status_t check_driver_version(const device_t *d, const azc_cuda_program_t *prog,
                                         const azc_cuda_image_ref_t *im) {
  int have = d->drv->version, need = prog->built_version;
  /* a cubin needs a driver of its CUDA major version; PTX one at least as new as its compiler */
  bool old = im->is_ptx ? have < need : have / 1000 < need / 1000;
  if (!old) return NULL;
  return AZC_ERR(AZC_UNSUPPORTED,
                 "the CUDA driver (%d.%d) is older than the CUDA %d.%d the bundle's GPU code "
                 "was built with",
                 have / 1000, have % 1000 / 10, need / 1000, need % 1000 / 10);
}

static azc_status_t offload(const azc_cuda_offload_t *o, const azc_executor_params_t *params,
                            azc_executor_t **out) {
  release_t rel = {o->release, o->release_ctx};
  int32_t want = params->gpu_layers_set ? params->n_gpu_layers : o->default_layers;
  if (want < 0 && want != AZC_GPU_LAYERS_AUTO) want = 0;
  if (want > o->n_layer) want = o->n_layer;
  device_t d;
  azc_status_t st = NULL;
  if (o->gpu_only && want != AZC_GPU_LAYERS_AUTO && want < o->n_layer) {
    if (rel.fn) rel.fn(rel.ctx);
    return AZC_ERR(AZC_UNSUPPORTED,
                   "-ngl %d leaves layers on the CPU, and this bundle has GPU code only (compiled "
                   "by an azc without a CPU back end): it runs with all %d layers on the GPU",
                   want, o->n_layer);
  }
  bool on_gpu = want != 0;
  if (on_gpu) {
    st = device_open(&d);
    const azc_cuda_image_ref_t *im = st ? NULL : azc_cuda_program_pick(&o->prog, d.sm);
    if (!st && !im) {
      st = AZC_ERR(AZC_UNSUPPORTED, "the bundle has GPU code for none of this GPU's arch (sm_%d)",
                   d.sm);
      device_close(&d);
    } else if (!st && (st = check_driver_version(&d, &o->prog, im))) {
      device_close(&d);
    }
    if (st && o->gpu_only) {
      if (rel.fn) rel.fn(rel.ctx);
      return azc_status_wrap(st, "this bundle has GPU code only (compiled by an azc without a "
                                 "CPU back end) and cannot fall back to the CPU");
    }
    if (st) {
      say_fallback_once(azc_status_message(st));
      azc_status_free(st);
      st = NULL;
      on_gpu = false;
    }
  }
  azc_plan_t *placed = NULL;
  if (!on_gpu) {
    st = o->place(o->place_ctx, 0, &placed);
    if (st) {
      if (rel.fn) rel.fn(rel.ctx);
      return st;
    }
    return create(placed, true, NULL, o->weights, o->cpu_kernels, &o->prog, rel, params, out);
  }
  /* as many of the wanted layers as fit in the GPU's free memory */
  int64_t avail = (int64_t)d.free_bytes - reserve_bytes(d.total);
  int32_t n = want == AZC_GPU_LAYERS_AUTO ? o->n_layer : want;
  int64_t need_all = -1;
  bool short_of_memory = false;
  for (; n >= 0; n--) {
    st = o->place(o->place_ctx, n, &placed);
    if (st) break;
    int64_t need = azc_cuda_plan_device_bytes(placed, &o->prog, params);
    if (need_all < 0) need_all = need;
    short_of_memory = need > avail;
    if (need <= avail || n == 0 || o->gpu_only) break; /* GPU-only: all layers or none */
    azc_plan_free(placed);
    placed = NULL;
  }
  if (st) {
    device_close(&d);
    if (rel.fn) rel.fn(rel.ctx);
    return st;
  }
  int32_t asked = want == AZC_GPU_LAYERS_AUTO ? o->n_layer : want;
  if (o->gpu_only && short_of_memory) {
    azc_plan_free(placed);
    device_close(&d);
    if (rel.fn) rel.fn(rel.ctx);
    return AZC_ERR(AZC_OUT_OF_MEMORY,
                   "GPU memory is short: %d layers need %.1f MiB, %.1f MiB is free on %s, and "
                   "this bundle has GPU code only (no CPU code for the other layers)",
                   o->n_layer, MIB(need_all), MIB(avail > 0 ? avail : 0), d.name);
  }
  if (n < asked && want != AZC_GPU_LAYERS_AUTO)
    azc_log_warn("GPU memory is short: %d layers need %.1f MiB, %.1f MiB is free on %s: placing "
                 "%d of %d layers on the GPU",
                 asked, MIB(need_all), MIB(avail > 0 ? avail : 0), d.name, n, o->n_layer);
  else if (want == AZC_GPU_LAYERS_AUTO)
    azc_log_info("offload: -ngl auto: %d of %d layers fit in %.1f MiB free on %s", n, o->n_layer,
                 MIB(avail > 0 ? avail : 0), d.name);
  if (n == 0) {
    device_close(&d);
    return create(placed, true, NULL, o->weights, o->cpu_kernels, &o->prog, rel, params, out);
  }
  return create(placed, true, &d, o->weights, o->cpu_kernels, &o->prog, rel, params, out);
}

azc_status_t azc_cuda_executor_create_offload(const azc_cuda_offload_t *o,
                                              const azc_executor_params_t *params,
                                              azc_executor_t **out) {
  *out = NULL;
  return offload(o, params, out);
}

/* ---- a bundle's cuda.code section ---- */
typedef struct section_ctx {
  const azc_plan_t *plan;
  azc_cuda_code_t *cc;
  azc_cuda_image_ref_t images[9];
  const char **prefix;
  azc_cuda_kernel_info_t *info;
} section_ctx_t;

static void section_release(void *ctx) {
  section_ctx_t *c = ctx;
  azc_cuda_code_free(c->cc);
  free(c->prefix);
  free(c->info);
  free(c);
}

static azc_status_t section_place(void *ctx, int32_t n, azc_plan_t **out) {
  section_ctx_t *c = ctx;
  return azc_cuda_code_place(c->plan, c->cc, n, out);
}

azc_status_t azc_cuda_executor_create_for_section(const azc_plan_t *plan,
                                                  const void *const *weights,
                                                  const azk_fn_t *cpu_kernels, const void *section,
                                                  size_t section_size,
                                                  const azc_executor_params_t *params,
                                                  azc_executor_t **out) {
  *out = NULL;
  section_ctx_t *c = calloc(1, sizeof(*c));
  if (!c) return AZC_ERR(AZC_OUT_OF_MEMORY, "CUDA code");
  c->plan = plan;
  azc_status_t st = azc_cuda_code_read(section, section_size, &c->cc);
  if (!st) st = azc_cuda_code_check_plan(c->cc, plan);
  if (!st) {
    c->prefix = calloc((size_t)plan->n_kernels + 1, sizeof(char *));
    c->info = calloc((size_t)plan->n_kernels + 1, sizeof(*c->info));
    if (!c->prefix || !c->info) st = AZC_ERR(AZC_OUT_OF_MEMORY, "CUDA code");
  }
  for (int32_t k = 0; !st && k < c->cc->n_kernels; k++) {
    const azc_cuda_code_kernel_t *r = &c->cc->kernels[k];
    c->prefix[r->plan_kernel] = r->symbol;
    c->info[r->plan_kernel] = r->info;
  }
  for (int32_t k = 0; !st && k < plan->n_kernels; k++)
    if (plan->kernels[k].device == AZC_DEVICE_CPU && !cpu_kernels[k])
      st = AZC_ERR(AZC_CORRUPT, "CPU kernel %s is not loaded", plan->kernels[k].symbol);
  if (st) {
    section_release(c);
    return azc_status_wrap(st, "section 'cuda.code'");
  }
  azc_cuda_offload_t o = {0};
  o.plan = plan;
  o.n_layer = (int32_t)c->cc->n_layer;
  o.default_layers = azc_cuda_code_gpu_layers(plan, c->cc);
  o.gpu_only = true;
  for (int32_t k = 0; k < c->cc->n_kernels; k++)
    if (c->cc->kernels[k].cpu_kernel >= 0) o.gpu_only = false;
  o.place = section_place;
  o.place_ctx = c;
  o.weights = weights;
  o.cpu_kernels = cpu_kernels;
  o.prog.n_images = c->cc->n_images;
  for (int i = 0; i < c->cc->n_images && i < 9; i++)
    c->images[i] = (azc_cuda_image_ref_t){c->cc->images[i].sm, c->cc->images[i].is_ptx,
                                          c->cc->images[i].data, c->cc->images[i].size};
  o.prog.images = c->images;
  int major = 0, minor = 0;
  if (sscanf(c->cc->header.nvrtc_version, "%d.%d", &major, &minor) < 1) major = 12;
  o.prog.built_version = major * 1000 + minor * 10;
  o.prog.prefix = (const char *const *)c->prefix;
  o.prog.info = c->info;
  o.release = section_release;
  o.release_ctx = c;
  return offload(&o, params, out);
}
