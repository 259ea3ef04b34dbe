/* The compile driver (see compile.h). */
#include "driver/compile.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cache.h"
#include "codegen/repack.h"
#include "codegen/spec.h"
#include "passes/passes.h"
#include "runtime/base/hash.h"
#include "runtime/base/threadpool.h"
#include "runtime/base/util.h"

azc_compile_options_t azc_compile_options_default(void) {
  azc_compile_options_t o;
  memset(&o, 0, sizeof(o));
  o.n_batch = 512;
  o.n_ctx = 4096;
  o.use_cache = true;
  o.fuse = true;
  return o;
}

void azc_compiled_free(azc_compiled_t *c) {
  if (!c) return;
  for (int i = 0; c->plan && i < c->plan->n_kernels; i++) free(c->objects ? c->objects[i] : NULL);
  free(c->objects);
  free(c->object_sizes);
  for (int d = 0; d < AZC_DEVICE_COUNT; d++) free(c->sections[d]);
  for (int i = 0; c->plan && c->repacked && i < c->plan->n_weights; i++) free(c->repacked[i]);
  free(c->repacked);
  for (int i = 0; c->plan && c->cached && i < c->plan->n_weights; i++)
    azc_cache_unmap(&c->cached[i]);
  free(c->cached);
  free(c->weight_data);
  azc_plan_free(c->plan);
  for (int d = 0; d < AZC_DEVICE_COUNT; d++)
    if (c->backends[d] && c->targets[d]) c->backends[d]->target_free(c->targets[d]);
  free(c);
}

void azc_compiled_describe_target(const azc_compiled_t *c, char *buf, size_t cap) {
  size_t k = 0;
  buf[0] = 0;
  for (int d = 0; d < AZC_DEVICE_COUNT && k + 1 < cap; d++) {
    if (!c->backends[d]) continue;
    if (k) k += (size_t)snprintf(buf + k, cap - k, "; ");
    if (k + 1 < cap) c->backends[d]->target_describe(c->targets[d], buf + k, cap - k);
    k += strlen(buf + k);
  }
}

/* Placement. Without GPU code every kernel step runs on the device of the
 * back end the options name. With it, each kernel node follows a layer (its
 * block, else the latest block among its inputs: the embedding goes with
 * layer 0, the final norm and the output head with the last layer), and the
 * steps of layers [0, n_gpu_layers) run on CUDA; the plan gets copy steps
 * where activations cross (azc_plan_insert_copies). */
static int32_t step_device(const azc_ir_node_t *x, const azc_compiled_t *c) {
  (void)x;
  return c->primary;
}

static int32_t input_group(const azc_ir_graph_t *g, const int32_t *group, int32_t i,
                           const azc_ir_node_t *in) {
  return in->id >= 0 && in->id < i && g->nodes[in->id] == in ? group[in->id] : -1;
}

static int32_t *node_groups(const azc_ir_graph_t *g, int32_t n_layer) {
  int32_t *group = malloc(sizeof(int32_t) * (size_t)(g->n_nodes ? g->n_nodes : 1));
  if (!group) return NULL;
  for (int32_t i = 0; i < g->n_nodes; i++) {
    const azc_ir_node_t *x = g->nodes[i];
    int32_t l = x->op == AZC_OP_WEIGHT ? -1 : x->layer;
    if (l < 0) /* outside blocks: the latest block among its inputs */
      for (int k = 0; k < x->n_inputs; k++) l = AZC_MAX(l, input_group(g, group, i, x->inputs[k]));
    group[i] = l;
  }
  for (int32_t i = 0; i < g->n_nodes; i++)
    group[i] = n_layer ? AZC_MIN(AZC_MAX(group[i], 0), n_layer - 1) : 0;
  return group;
}

static bool wants_gpu(const azc_compile_options_t *opt) {
  return opt->gpu_arch || opt->n_gpu_layers != 0 || (opt->backend && !strcmp(opt->backend, "cuda"));
}

/* layers on the GPU by default: -1 ('auto') and anything past the last: all */
static int32_t gpu_layers(const azc_compile_options_t *opt, int32_t n_layer) {
  int32_t n = opt->n_gpu_layers;
  if (n == 0 && opt->backend && !strcmp(opt->backend, "cuda")) n = -1;
  return n < 0 || n > n_layer ? n_layer : n;
}

/* Bytes per row of a node's f32 value (0 when a dim after the first is not
 * constant, as in unfused attention scores). */
static int64_t row_bytes(const azc_ir_node_t *n) {
  int64_t w = (int64_t)sizeof(float);
  for (int i = 1; i < n->rank; i++) {
    if (!azc_dim_is_const(n->shape[i])) return 0;
    w *= n->shape[i].c;
  }
  return w;
}

/* ---- keys ---- */
/* XXH3-128 over the spec's canonical bytes and the back end's salt (which
 * names the back end's target, compiler and library versions, ABI). */
static azc_hash128_t kernel_key(const azc_kernel_spec_t *s, const azc_codegen_backend_t *be,
                                const azc_codegen_target_t *t) {
  uint8_t buf[AZC_KERNEL_SPEC_MAX_BYTES + 4096];
  size_t n = azc_kernel_spec_bytes(s, buf);
  n += be->key_salt(t, (char *)buf + n, sizeof(buf) - n);
  return azc_hash128(buf, n);
}

/* ---- parallel kernel compiles (base/threadpool: one task per kernel) ---- */
typedef struct job {
  int32_t device; /* whose back end compiles it */
  int32_t twin;   /* a CUDA kernel: the same spec's CPU kernel (-1: none) */
  azc_kernel_spec_t spec;
  azc_hash128_t key;
  char symbol[48];
  char desc[128];
  uint8_t *obj;
  size_t size;
  bool hit;
  azc_status_t st;
  double ms;
} job_t;

typedef struct jobs {
  job_t *jobs;
  int n;
  atomic_int done;
  const azc_compiled_t *c; /* the back end and target of each device */
  azc_cache_t *cache;
  const azc_compile_options_t *opt;
  pthread_mutex_t mu; /* serializes progress reports */
} jobs_t;

static void compile_task(void *arg, int i) {
  jobs_t *js = arg;
  job_t *j = &js->jobs[i];
  double t0 = azc_time_ms();
  if (js->cache) {
    void *data;
    size_t size;
    azc_status_t st = azc_cache_get(js->cache, j->key, &data, &size);
    if (!st) {
      j->obj = data;
      j->size = size;
      j->hit = true;
    } else {
      azc_status_free(st);
    }
  }
  if (!j->hit) {
    const azc_codegen_backend_t *be = js->c->backends[j->device];
    j->st = be->compile_kernel(js->c->targets[j->device], &j->spec, j->symbol, &j->obj, &j->size);
    if (!j->st && js->cache) {
      azc_status_t st = azc_cache_put(js->cache, j->key, j->obj, j->size, j->desc);
      if (st) azc_status_free(st); /* a cache that cannot be written is not fatal */
    }
  }
  j->ms = azc_time_ms() - t0;
  int done = atomic_fetch_add(&js->done, 1) + 1;
  if (js->opt->progress) {
    pthread_mutex_lock(&js->mu);
    js->opt->progress(js->opt->user, done, js->n, j->hit, j->ms, j->desc);
    pthread_mutex_unlock(&js->mu);
  }
}

/* A pool of up to `jobs` threads (<= 0: one per core), at most `cap` and at
 * most one per task; NULL (run on the caller) if threads cannot start. */
static azc_threadpool_t *task_pool(int jobs, int n_tasks, int cap) {
  int nw = jobs > 0 ? jobs : azc_cpu_count();
  nw = AZC_MAX(1, AZC_MIN(AZC_MIN(nw, n_tasks), cap));
  azc_threadpool_t *pool = NULL;
  if (nw > 1) {
    azc_status_t st = azc_threadpool_create(nw, &pool);
    if (st) azc_status_free(st); /* fewer threads only costs time */
  }
  return pool;
}

static azc_status_t compile_kernels(job_t *jobs, int n, const azc_compiled_t *c,
                                    const azc_compile_options_t *opt, azc_compile_stats_t *stats) {
  azc_cache_t *cache = NULL;
  if (opt->use_cache) {
    azc_status_t st = azc_cache_open(opt->cache_dir, &cache);
    if (st) return azc_status_wrap(st, "kernel cache");
  }
  jobs_t js = {.jobs = jobs, .n = n, .c = c, .cache = cache, .opt = opt};
  pthread_mutex_init(&js.mu, NULL);
  double t0 = azc_time_ms();
  azc_threadpool_t *pool = task_pool(opt->jobs, n, 64);
  azc_threadpool_for(pool, n, compile_task, &js);
  azc_threadpool_destroy(pool);
  stats->ms_kernels_wall = azc_time_ms() - t0;
  pthread_mutex_destroy(&js.mu);
  azc_status_t st = NULL;
  for (int i = 0; i < n; i++) {
    if (jobs[i].st && !st) {
      st = jobs[i].st;
      jobs[i].st = NULL;
    }
    azc_status_free(jobs[i].st);
    if (jobs[i].hit) {
      stats->cache_hits++;
      stats->ms_cache += jobs[i].ms;
    } else {
      stats->cache_misses++;
      stats->ms_codegen += jobs[i].ms;
    }
  }
  if (cache) {
    stats->cache_rebuilt = (int)azc_cache_stats(cache).corrupt;
    azc_cache_close(cache);
  }
  return st;
}

/* ---- plan ---- */
/* The node whose storage a value lives in (through reshapes). */
static const azc_ir_node_t *storage(const azc_ir_node_t *n) {
  while (n->op == AZC_OP_RESHAPE) n = n->inputs[0];
  return n;
}

static int32_t node_layer(const azc_ir_node_t *n) {
  switch (n->op) {
  case AZC_OP_KV_WRITE: return (int32_t)n->inputs[0]->iattr[0];
  case AZC_OP_ATTN_SCORES:
  case AZC_OP_ATTN_VALUES: return (int32_t)n->inputs[1]->inputs[0]->iattr[0];
  case AZC_OP_FLASH_ATTN: {
    const azc_ir_node_t *k = n->inputs[1];
    return (int32_t)(k->op == AZC_OP_KV_WRITE ? k->inputs[0] : k)->iattr[0];
  }
  case AZC_OP_MATMUL_FUSED:
    if (n->iattr[AZC_MF_EPILOGUE] == AZC_EPI_ROPE_KV)
      return (int32_t)n->inputs[azc_mf_layout_of(n).k_cache]->iattr[0];
    return -1;
  default: return -1;
  }
}

static azc_status_t value_of(const azc_ir_node_t *in, const int32_t *weight_index,
                             azc_plan_value_t *v) {
  const azc_ir_node_t *s = storage(in);
  memset(v, 0, sizeof(*v));
  switch (s->op) {
  case AZC_OP_WEIGHT:
    v->kind = AZC_VAL_WEIGHT;
    v->index = weight_index[s->id];
    return NULL;
  case AZC_OP_INPUT:
    v->kind = AZC_VAL_INPUT;
    v->index = (int32_t)s->iattr[0];
    return NULL;
  case AZC_OP_KV_CACHE:
  case AZC_OP_KV_WRITE: v->kind = AZC_VAL_NONE; return NULL;
  default:
    if (s->mem_offset < 0)
      return AZC_ERR(AZC_INTERNAL, "node %%%d (%s) has no place in the memory plan", s->id,
                     azc_op_info(s->op)->name);
    v->kind = AZC_VAL_ARENA;
    v->offset = s->mem_offset;
    return NULL;
  }
}

static int m_symbol(const azc_ir_node_t *n) {
  if (n->op == AZC_OP_KV_WRITE) return AZC_SYM_T;
  return n->shape[0].k[AZC_SYM_O] ? AZC_SYM_O : AZC_SYM_T;
}

/* Back ends that link (CUDA: one module, one NVRTC program per model) build
 * their code section from the code of all their kernels. */
static azc_status_t link_modules(azc_compiled_t *c, const job_t *jobs, int n_jobs,
                                 const int32_t *step_group, int32_t n_steps,
                                 const azc_compile_options_t *opt) {
  int32_t *twin = malloc(sizeof(int32_t) * (size_t)(n_jobs + 1));
  if (!twin) return AZC_ERR(AZC_OUT_OF_MEMORY, "link");
  for (int k = 0; k < n_jobs; k++) twin[k] = jobs[k].twin;
  azc_status_t st = NULL;
  double t0 = azc_time_ms();
  for (int d = 0; !st && d < AZC_DEVICE_COUNT; d++) {
    const azc_codegen_backend_t *be = c->backends[d];
    if (!be || !be->link) continue;
    azc_codegen_link_input_t in = {.plan = c->plan,
                                   .code = (const uint8_t *const *)c->objects,
                                   .code_sizes = c->object_sizes,
                                   .twin = twin,
                                   .groups = step_group,
                                   .n_groups = step_group ? n_steps : 0,
                                   .n_layer = c->plan->n_layer,
                                   .use_cache = opt->use_cache,
                                   .cache_dir = opt->cache_dir};
    azc_codegen_link_output_t out;
    st = be->link(c->targets[d], &in, &out);
    if (!st) {
      c->sections[d] = out.section;
      c->section_sizes[d] = out.section_size;
      c->stats.link_cache_hit = out.cache_hit;
      snprintf(c->stats.link_summary, sizeof(c->stats.link_summary), "%s", out.summary);
    }
  }
  c->stats.ms_link = azc_time_ms() - t0;
  free(twin);
  return st;
}

static azc_status_t build_plan(azc_ir_graph_t *g, int32_t n_vocab, int32_t n_ctx_train,
                               const azc_compile_options_t *opt, azc_compiled_t *c) {
  double t0 = azc_time_ms();
  int32_t n = g->n_nodes, n_steps = 0, n_weights = 0, n_layer = 0;
  int32_t *weight_index = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  int32_t *kernel_of = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  job_t *jobs = calloc((size_t)(n ? 2 * n : 1), sizeof(job_t)); /* a CPU + a CUDA one each */
  azc_status_t st = NULL;
  if (!weight_index || !kernel_of || !jobs) st = AZC_ERR(AZC_OUT_OF_MEMORY, "plan");
  int n_jobs = 0;
  const azc_ir_node_t *output = NULL;
  for (int32_t i = 0; i < n; i++)
    if (g->nodes[i]->op == AZC_OP_KV_CACHE)
      n_layer = AZC_MAX(n_layer, (int32_t)g->nodes[i]->iattr[0] + 1);
  const bool gpu = c->backends[AZC_DEVICE_CUDA] != NULL;
  /* GPU-only (an azc without a CPU back end): every layer on the GPU */
  const bool gpu_only = gpu && !c->backends[AZC_DEVICE_CPU];
  const int32_t n_gpu = gpu_only && opt->n_gpu_layers == 0 ? n_layer
                        : gpu                              ? gpu_layers(opt, n_layer)
                                                           : 0;
  if (gpu_only && n_gpu < n_layer)
    st = AZC_ERR(AZC_UNSUPPORTED,
                 "-ngl %d places layers on the CPU, and this azc has no CPU code generator "
                 "(configured with -DAZC_WITH_LLVM=OFF): its bundles run with all %d layers on "
                 "the GPU (-ngl 99)",
                 opt->n_gpu_layers, n_layer);
  int32_t *group = gpu ? node_groups(g, n_layer) : NULL;
  int32_t *step_group = gpu ? malloc(sizeof(int32_t) * (size_t)(n ? n : 1)) : NULL;
  if (!st && gpu && (!group || !step_group)) st = AZC_ERR(AZC_OUT_OF_MEMORY, "plan");
  /* with GPU code, every kernel node gets a CPU kernel (its twin, unless
   * there is no CPU back end) and a CUDA kernel */
  for (int32_t i = 0; !st && i < n; i++) {
    const azc_ir_node_t *x = g->nodes[i];
    weight_index[i] = kernel_of[i] = -1;
    if (x->op == AZC_OP_WEIGHT) weight_index[i] = n_weights++;
    if (x->op == AZC_OP_OUTPUT) output = x;
    if (!azc_kernel_node_needs_kernel(x)) continue;
    azc_kernel_spec_t spec;
    st = azc_kernel_spec_from_node(x, &spec);
    if (st) break;
    int32_t of_device[AZC_DEVICE_COUNT] = {-1, -1};
    for (int32_t dev = 0; dev < AZC_DEVICE_COUNT; dev++) {
      if (gpu ? !c->backends[dev] : dev != step_device(x, c)) continue;
      azc_hash128_t key = kernel_key(&spec, c->backends[dev], c->targets[dev]);
      int k = 0;
      while (k < n_jobs && (jobs[k].key.lo != key.lo || jobs[k].key.hi != key.hi)) k++;
      if (k == n_jobs) {
        jobs[k].device = dev;
        jobs[k].twin = -1;
        jobs[k].spec = spec;
        jobs[k].key = key;
        char hex[33];
        azc_hash128_hex(key, hex);
        snprintf(jobs[k].symbol, sizeof(jobs[k].symbol), "azk_%s", hex);
        azc_kernel_spec_describe(&spec, jobs[k].desc, sizeof(jobs[k].desc));
        n_jobs++;
      }
      of_device[dev] = k;
    }
    if (gpu) {
      jobs[of_device[AZC_DEVICE_CUDA]].twin = of_device[AZC_DEVICE_CPU];
      kernel_of[i] = of_device[group[i] < n_gpu ? AZC_DEVICE_CUDA : AZC_DEVICE_CPU];
    } else {
      kernel_of[i] = of_device[step_device(x, c)];
    }
    n_steps++;
  }
  if (!st && !output) st = AZC_ERR(AZC_INTERNAL, "graph has no output");
  azc_plan_t *p = NULL;
  if (!st) st = azc_plan_alloc(n_layer, n_steps, n_jobs, n_weights, &p);
  c->plan = p;
  if (!st) {
    c->weight_data = calloc((size_t)n_weights + 1, sizeof(void *));
    if (!c->weight_data) st = AZC_ERR(AZC_OUT_OF_MEMORY, "plan");
  }
  int32_t step = 0;
  for (int32_t i = 0; !st && i < n; i++) {
    const azc_ir_node_t *x = g->nodes[i];
    if (x->op == AZC_OP_WEIGHT) {
      azc_plan_weight_t *w = &p->weights[weight_index[i]];
      snprintf(w->name, sizeof(w->name), "%s", x->name);
      w->dtype = (int32_t)x->dtype;
      w->layout = x->layout;
      w->rank = x->rank;
      for (int d = 0; d < x->rank; d++) w->shape[d] = x->shape[d].c;
      w->nbytes = x->nbytes;
      c->weight_data[weight_index[i]] = x->data;
    }
    if (x->op == AZC_OP_KV_CACHE) {
      p->kv_heads[x->iattr[0]] = (int32_t)x->shape[0].c;
      p->kv_head_dim[x->iattr[0]] = (int32_t)x->shape[1].c;
    }
    if (kernel_of[i] < 0) continue;
    if (step_group) step_group[step] = group[i];
    azc_plan_step_t *s = &p->steps[step++];
    s->op = AZC_STEP_KERNEL;
    s->device = s->from_device = jobs[kernel_of[i]].device;
    s->kernel = kernel_of[i];
    s->node = x->id;
    s->m_sym = m_symbol(x);
    s->layer = node_layer(x);
    s->n_in = x->n_inputs;
    s->work_per_row = azc_kernel_spec_work_per_row(&jobs[kernel_of[i]].spec);
    if (x->op == AZC_OP_KV_WRITE) {
      s->out.kind = AZC_VAL_NONE;
    } else {
      st = value_of(x, weight_index, &s->out);
      s->out_row_bytes = row_bytes(x);
    }
    for (int k = 0; !st && k < x->n_inputs; k++)
      st = value_of(x->inputs[k], weight_index, &s->in[k]);
    int64_t rows = s->m_sym == AZC_SYM_O ? g->plan_O : g->plan_T, shared, thread;
    const job_t *job = &jobs[kernel_of[i]];
    /* every back end's: a step placed on the GPU may run on the CPU after all */
    for (int d = 0; d < AZC_DEVICE_COUNT; d++) {
      if (!c->backends[d] || (!gpu && d != job->device)) continue;
      c->backends[d]->scratch(c->targets[d], &job->spec, rows, &shared, &thread);
      p->shared_bytes = AZC_MAX(p->shared_bytes, shared);
      p->thread_bytes = AZC_MAX(p->thread_bytes, thread);
    }
  }
  if (!st) {
    p->n_vocab = n_vocab;
    p->n_ctx_train = g->max_ctx ? (int32_t)AZC_MIN(g->max_ctx, n_ctx_train) : n_ctx_train;
    p->learned_positions = g->max_ctx > 0; /* the lowering's context limit */
    p->arena_bytes = g->arena_bytes;
    p->plan_T = g->plan_T;
    p->plan_O = g->plan_O;
    st = value_of(output->inputs[0], weight_index, &p->logits);
    if (!st && p->logits.kind != AZC_VAL_ARENA)
      st = AZC_ERR(AZC_INTERNAL, "the logits are not computed by a kernel");
    for (int k = 0; !st && k < n_jobs; k++) {
      snprintf(p->kernels[k].symbol, sizeof(p->kernels[k].symbol), "%s", jobs[k].symbol);
      snprintf(p->kernels[k].desc, sizeof(p->kernels[k].desc), "%s", jobs[k].desc);
      memcpy(p->kernels[k].key, &jobs[k].key.lo, 8);
      memcpy(p->kernels[k].key + 8, &jobs[k].key.hi, 8);
      p->kernels[k].device = jobs[k].device;
    }
    if (!st) st = azc_plan_insert_copies(p);
  }
  c->stats.steps = n_steps;
  c->stats.kernels = n_jobs;
  c->stats.ms_specs = azc_time_ms() - t0;
  if (!st) st = compile_kernels(jobs, n_jobs, c, opt, &c->stats);
  if (!st) {
    c->objects = calloc((size_t)n_jobs + 1, sizeof(uint8_t *));
    c->object_sizes = calloc((size_t)n_jobs + 1, sizeof(size_t));
    if (!c->objects || !c->object_sizes) st = AZC_ERR(AZC_OUT_OF_MEMORY, "kernel objects");
  }
  for (int k = 0; k < n_jobs; k++) {
    if (!st) {
      c->objects[k] = jobs[k].obj;
      c->object_sizes[k] = jobs[k].size;
    } else {
      free(jobs[k].obj);
    }
  }
  c->stats.gpu_layers = n_gpu;
  if (!st) st = link_modules(c, jobs, n_jobs, step_group, n_steps, opt);
  free(group);
  free(step_group);
  free(weight_index);
  free(kernel_of);
  free(jobs);
  return st;
}

/* Weights the layout pass moved out of AZC_LAYOUT_GGUF get a repacked copy,
 * made on the thread pool (a weight per task, at most 16 threads). With the
 * cache on, the copy is looked up first under a key of what decides its
 * bytes: the source bytes (XXH3-128 of them), type, layout, shape, and the
 * repack of a fixed probe (so a change to the repack code changes every
 * key). A hit is mapped, not read: the bundle writer copies it file to file
 * and hashes it from the map. A miss is repacked and put. */
typedef struct repack_jobs {
  azc_compiled_t *c;
  azc_cache_t *cache; /* NULL: --no-cache */
  pthread_mutex_t mu;
  azc_status_t st;
  atomic_int hits, misses;
} repack_jobs_t;

#define REPACK_KEY_TAG "azc-repack-v1"

/* XXH3-64 of the repack of 8 rows x 256 pseudo-random values' worth of bytes. */
static uint64_t repack_probe(azc_dtype_t type, int layout) {
  enum { ROWS = 8, K = 256 };
  uint8_t src[ROWS * 8 * 256], dst[ROWS * 8 * 256]; /* ample for any block type */
  size_t in = azc_dtype_row_size(type, K) * ROWS, out = azc_layout_row_size(type, layout, K) * ROWS;
  if (!in || !out || in > sizeof(src) || out > sizeof(dst)) return 0;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < in; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    src[i] = (uint8_t)(x >> 24);
  }
  memset(dst, 0, out);
  azc_status_t st = azc_repack(type, layout, src, dst, ROWS, K);
  if (st) {
    azc_status_free(st);
    return 0;
  }
  return azc_hash64(dst, out);
}

static azc_hash128_t repack_key(const azc_plan_weight_t *w, const void *src, size_t src_size,
                                int64_t rows, int64_t K) {
  uint8_t buf[96] = {0};
  memcpy(buf, REPACK_KEY_TAG, sizeof(REPACK_KEY_TAG) - 1);
  azc_hash128_t h = azc_hash128(src, src_size);
  int64_t v[7] = {w->dtype, w->layout, rows, K, (int64_t)src_size, (int64_t)h.lo, (int64_t)h.hi};
  memcpy(buf + 16, v, sizeof(v));
  uint64_t probe = repack_probe((azc_dtype_t)w->dtype, w->layout);
  memcpy(buf + 16 + sizeof(v), &probe, 8);
  return azc_hash128(buf, sizeof(buf));
}

static azc_status_t repack_one(repack_jobs_t *rj, int32_t i) {
  azc_compiled_t *c = rj->c;
  azc_plan_weight_t *w = &c->plan->weights[i];
  int64_t K = w->shape[w->rank - 1], rows = 1;
  for (int d = 0; d + 1 < w->rank; d++) rows *= w->shape[d];
  size_t size = azc_layout_row_size((azc_dtype_t)w->dtype, w->layout, K) * (size_t)rows;
  if (!size)
    return AZC_ERR(AZC_INTERNAL, "weight %s: layout %s unsupported", w->name,
                   azc_layout_name(w->layout));
  azc_hash128_t key = {0, 0};
  bool cacheable = rj->cache && size <= AZC_CACHE_MAX_PAYLOAD;
  if (cacheable) {
    key = repack_key(w, c->weight_data[i], (size_t)w->nbytes, rows, K);
    azc_cache_mapped_t m;
    azc_status_t st = azc_cache_map(rj->cache, key, &m);
    if (!st && m.size == size) {
      c->cached[i] = m;
      c->weight_data[i] = m.data;
      w->nbytes = size;
      atomic_fetch_add(&rj->hits, 1);
      return NULL;
    }
    if (!st) azc_cache_unmap(&m); /* another size: not this weight's, rebuilt below */
    azc_status_free(st);
  }
  c->repacked[i] = malloc(size);
  if (!c->repacked[i]) return AZC_ERR(AZC_OUT_OF_MEMORY, "weight %s: %zu bytes", w->name, size);
  AZC_RETURN_IF_ERROR_CTX(
      azc_repack((azc_dtype_t)w->dtype, w->layout, c->weight_data[i], c->repacked[i], rows, K),
      "weight %s", w->name);
  c->weight_data[i] = c->repacked[i];
  w->nbytes = size;
  if (cacheable) {
    char desc[192];
    snprintf(desc, sizeof(desc), "weight %s %s -> %s, %lld x %lld", w->name,
             azc_dtype_name((azc_dtype_t)w->dtype), azc_layout_name(w->layout), (long long)rows,
             (long long)K);
    azc_status_t st = azc_cache_put(rj->cache, key, c->repacked[i], size, desc);
    if (st) azc_status_free(st); /* a cache that cannot be written is not fatal */
  }
  atomic_fetch_add(&rj->misses, 1);
  return NULL;
}

static void repack_task(void *arg, int i) {
  repack_jobs_t *rj = arg;
  if (rj->c->plan->weights[i].layout == AZC_LAYOUT_GGUF) return;
  azc_status_t st = repack_one(rj, i);
  if (!st) return;
  pthread_mutex_lock(&rj->mu);
  if (!rj->st)
    rj->st = st;
  else
    azc_status_free(st);
  pthread_mutex_unlock(&rj->mu);
}

static azc_status_t repack_weights(azc_compiled_t *c, const azc_compile_options_t *opt) {
  double t0 = azc_time_ms();
  azc_plan_t *p = c->plan;
  c->repacked = calloc((size_t)p->n_weights + 1, sizeof(void *));
  c->cached = calloc((size_t)p->n_weights + 1, sizeof(*c->cached));
  if (!c->repacked || !c->cached) return AZC_ERR(AZC_OUT_OF_MEMORY, "repacked weights");
  for (int32_t i = 0; i < p->n_weights; i++) c->cached[i].fd = -1;
  int n_repacked = 0;
  for (int32_t i = 0; i < p->n_weights; i++) n_repacked += p->weights[i].layout != AZC_LAYOUT_GGUF;
  repack_jobs_t rj = {.c = c};
  if (n_repacked && opt->use_cache) {
    azc_status_t st = azc_cache_open(opt->cache_dir, &rj.cache);
    if (st) azc_status_free(st); /* no cache: repack every weight */
  }
  pthread_mutex_init(&rj.mu, NULL);
  azc_threadpool_t *pool = n_repacked ? task_pool(opt->jobs, n_repacked, 16) : NULL;
  azc_threadpool_for(pool, p->n_weights, repack_task, &rj);
  azc_threadpool_destroy(pool);
  pthread_mutex_destroy(&rj.mu);
  if (rj.cache) c->stats.cache_rebuilt += (int)azc_cache_stats(rj.cache).corrupt;
  azc_cache_close(rj.cache);
  for (int32_t i = 0; i < p->n_weights; i++)
    if (p->weights[i].layout != AZC_LAYOUT_GGUF)
      c->stats.repacked_bytes += (int64_t)p->weights[i].nbytes;
  c->stats.repack_cache_hits = atomic_load(&rj.hits);
  c->stats.repack_cache_misses = atomic_load(&rj.misses);
  c->stats.ms_repack = azc_time_ms() - t0;
  return rj.st;
}

azc_status_t azc_compile_graph(azc_ir_graph_t *g, int32_t n_vocab, int32_t n_ctx_train,
                               const azc_compile_options_t *opt, azc_compiled_t **out) {
  *out = NULL;
  azc_compiled_t *c = calloc(1, sizeof(*c));
  if (!c) return AZC_ERR(AZC_OUT_OF_MEMORY, "compile");
  /* the back end that generates the kernels */
  const azc_codegen_backend_t *be = azc_codegen_backend_find(opt->backend ? opt->backend : "cpu");
  if (!be && !azc_codegen_backend_cpu() && !wants_gpu(opt)) {
    free(c);
    return AZC_ERR(AZC_UNSUPPORTED,
                   "CPU code generation is not built in: this azc was configured with "
                   "-DAZC_WITH_LLVM=OFF; compile GPU code (-ngl 99, --gpu-arch) or run the GGUF "
                   "on the eager interpreter (azc run --eager)");
  }
  if (!be && !wants_gpu(opt)) {
    free(c);
    return AZC_ERR(AZC_UNSUPPORTED, "no code generator '%s' is built into this azc (built in: %s)",
                   opt->backend, azc_codegen_backend_names());
  }
  azc_status_t st = NULL;
  if (wants_gpu(opt)) { /* CPU code for every kernel, and CUDA code */
    const azc_codegen_backend_t *cuda = azc_codegen_backend_find("cuda");
    if (!cuda) {
      free(c);
      return AZC_ERR(AZC_UNSUPPORTED,
                     "GPU code generation is not built in: this azc was configured without "
                     "NVRTC (the CUDA toolkit was not found; see docs/gpu.md)");
    }
    be = azc_codegen_backend_cpu();
    if (!be) be = cuda; /* no CPU back end: GPU code only, no CPU twins */
    c->backends[AZC_DEVICE_CUDA] = cuda;
    azc_target_request_t greq = {.gpu_arch = opt->gpu_arch};
    st = cuda->target_resolve(&greq, &c->targets[AZC_DEVICE_CUDA]);
  }
  c->primary = be->device;
  c->backends[be->device] = be;
  azc_target_request_t req = {.triple = opt->target_triple, .cpu = opt->target_cpu};
  if (!st && !c->targets[be->device]) st = be->target_resolve(&req, &c->targets[be->device]);
  if (!st) {
    azc_ir_op_counts(g, c->stats.ops_before);
    c->stats.nodes_before = g->n_nodes;
    azc_pass_options_t po = azc_pass_options_default();
    po.n_batch = opt->n_batch;
    po.n_out = opt->n_batch;
    po.n_ctx = opt->n_ctx;
    po.fuse = opt->fuse;
    po.dump_after = opt->dump_after;
    po.dump_out = opt->dump_out;
    po.layouts = be->layouts(c->targets[be->device]);
    if (c->backends[AZC_DEVICE_CUDA]) /* layouts every back end reads */
      po.layouts &= c->backends[AZC_DEVICE_CUDA]->layouts(c->targets[AZC_DEVICE_CUDA]);
    double t0 = azc_time_ms();
    st = azc_passes_run(g, &po, NULL, NULL);
    c->stats.ms_passes = azc_time_ms() - t0;
    azc_ir_op_counts(g, c->stats.ops_after);
    c->stats.nodes_after = g->n_nodes;
    c->stats.arena_bytes = g->arena_bytes;
  }
  if (!st) st = build_plan(g, n_vocab, n_ctx_train, opt, c);
  if (!st) st = repack_weights(c, opt);
  if (st) {
    azc_compiled_free(c);
    return st;
  }
  *out = c;
  return NULL;
}
