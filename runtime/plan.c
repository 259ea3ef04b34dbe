/* Plan storage and its serialized form (see plan.h). The blob is a header
 * (magic "AZCPLAN2", counts, sizes) followed by the per-layer KV geometry,
 * the steps, the kernels and the weights as fixed-size little-endian records
 * (the structs' own layout: every field is a fixed-size integer or float and
 * the structs have no padding holes, which _Static_asserts below pin down). */
#include "runtime/plan.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct header {
  char magic[8];
  int32_t n_vocab, n_layer, n_ctx_train, learned_positions;
  int64_t arena_bytes, plan_T, plan_O, shared_bytes, thread_bytes;
  azc_plan_value_t logits;
  int32_t n_steps, n_kernels, n_weights, reserved;
} header_t;

_Static_assert(sizeof(azc_plan_value_t) == 16, "plan value layout");
_Static_assert(sizeof(header_t) == 96, "plan header layout");
_Static_assert(sizeof(azc_plan_step_t) == 56 + 16 * (1 + AZK_MAX_IN), "plan step layout");
_Static_assert(sizeof(azc_plan_kernel_t) == 208, "plan kernel layout");
_Static_assert(sizeof(azc_plan_weight_t) == 96 + 16 + 32 + 16, "plan weight layout");

const char *azc_device_name(int32_t device) {
  switch (device) {
  case AZC_DEVICE_CPU: return "cpu";
  case AZC_DEVICE_CUDA: return "cuda";
  default: return "?";
  }
}

azc_status_t azc_plan_alloc(int32_t n_layer, int32_t n_steps, int32_t n_kernels, int32_t n_weights,
                            azc_plan_t **out) {
  *out = NULL;
  azc_plan_t *p = calloc(1, sizeof(*p));
  if (!p) return AZC_ERR(AZC_OUT_OF_MEMORY, "plan");
  p->n_layer = n_layer;
  p->n_steps = n_steps;
  p->n_kernels = n_kernels;
  p->n_weights = n_weights;
  p->kv_heads = calloc((size_t)n_layer + 1, sizeof(int32_t));
  p->kv_head_dim = calloc((size_t)n_layer + 1, sizeof(int32_t));
  p->steps = calloc((size_t)n_steps + 1, sizeof(azc_plan_step_t));
  p->kernels = calloc((size_t)n_kernels + 1, sizeof(azc_plan_kernel_t));
  p->weights = calloc((size_t)n_weights + 1, sizeof(azc_plan_weight_t));
  if (!p->kv_heads || !p->kv_head_dim || !p->steps || !p->kernels || !p->weights) {
    azc_plan_free(p);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "plan");
  }
  *out = p;
  return NULL;
}

void azc_plan_free(azc_plan_t *p) {
  if (!p) return;
  free(p->kv_heads);
  free(p->kv_head_dim);
  free(p->steps);
  free(p->kernels);
  free(p->weights);
  free(p);
}

azc_status_t azc_plan_serialize(const azc_plan_t *p, uint8_t **out, size_t *out_size) {
  size_t n = sizeof(header_t) + 2 * sizeof(int32_t) * (size_t)p->n_layer +
             sizeof(azc_plan_step_t) * (size_t)p->n_steps +
             sizeof(azc_plan_kernel_t) * (size_t)p->n_kernels +
             sizeof(azc_plan_weight_t) * (size_t)p->n_weights;
  uint8_t *b = calloc(1, n);
  if (!b) return AZC_ERR(AZC_OUT_OF_MEMORY, "plan blob");
  header_t h;
  memset(&h, 0, sizeof(h));
  memcpy(h.magic, "AZCPLAN2", 8);
  h.n_vocab = p->n_vocab;
  h.n_layer = p->n_layer;
  h.n_ctx_train = p->n_ctx_train;
  h.learned_positions = p->learned_positions;
  h.arena_bytes = p->arena_bytes;
  h.plan_T = p->plan_T;
  h.plan_O = p->plan_O;
  h.shared_bytes = p->shared_bytes;
  h.thread_bytes = p->thread_bytes;
  h.logits = p->logits;
  h.n_steps = p->n_steps;
  h.n_kernels = p->n_kernels;
  h.n_weights = p->n_weights;
  size_t o = 0;
  memcpy(b + o, &h, sizeof(h));
  o += sizeof(h);
  memcpy(b + o, p->kv_heads, sizeof(int32_t) * (size_t)p->n_layer);
  o += sizeof(int32_t) * (size_t)p->n_layer;
  memcpy(b + o, p->kv_head_dim, sizeof(int32_t) * (size_t)p->n_layer);
  o += sizeof(int32_t) * (size_t)p->n_layer;
  memcpy(b + o, p->steps, sizeof(azc_plan_step_t) * (size_t)p->n_steps);
  o += sizeof(azc_plan_step_t) * (size_t)p->n_steps;
  memcpy(b + o, p->kernels, sizeof(azc_plan_kernel_t) * (size_t)p->n_kernels);
  o += sizeof(azc_plan_kernel_t) * (size_t)p->n_kernels;
  memcpy(b + o, p->weights, sizeof(azc_plan_weight_t) * (size_t)p->n_weights);
  *out = b;
  *out_size = n;
  return NULL;
}

azc_status_t azc_plan_check_batch(const azc_plan_t *p, int32_t n_tokens, int32_t n_out) {
  if (n_tokens > p->plan_T || n_out > p->plan_O)
    return AZC_ERR(AZC_OUT_OF_RANGE, "batch of %d tokens / %d outputs; compiled for %lld / %lld",
                   n_tokens, n_out, (long long)p->plan_T, (long long)p->plan_O);
  return NULL;
}

uint32_t azc_plan_devices(const azc_plan_t *p) {
  uint32_t mask = 0;
  for (int32_t i = 0; i < p->n_steps; i++) mask |= 1u << p->steps[i].device;
  return mask;
}

/* Where the current bytes of each arena value are (by offset). */
typedef struct where {
  int64_t offset, row_bytes;
  uint32_t devices;
  int32_t m_sym;
} where_t;

static where_t *find_where(where_t *w, int32_t *n, int64_t offset, bool add) {
  for (int32_t i = 0; i < *n; i++)
    if (w[i].offset == offset) return &w[i];
  if (!add) return NULL;
  w[*n] = (where_t){offset, 0, 0, 0};
  return &w[(*n)++];
}

static azc_status_t add_copy(azc_plan_step_t *steps, int32_t *n, where_t *v, int32_t to,
                             int32_t before_step) {
  if (v->row_bytes <= 0)
    return AZC_ERR(AZC_UNSUPPORTED,
                   "plan step %d: the value at arena offset %lld has no fixed row size, so it "
                   "cannot cross from one device to another there",
                   before_step, (long long)v->offset);
  int32_t from = 0;
  while (!(v->devices & (1u << from))) from++;
  azc_plan_step_t *c = &steps[(*n)++];
  memset(c, 0, sizeof(*c));
  c->op = AZC_STEP_COPY;
  c->device = to;
  c->from_device = from;
  c->kernel = -1;
  c->node = -1;
  c->m_sym = v->m_sym;
  c->layer = -1;
  c->n_in = 1;
  c->out_row_bytes = v->row_bytes;
  c->in[0] = (azc_plan_value_t){AZC_VAL_ARENA, 0, v->offset};
  c->out = c->in[0];
  v->devices |= 1u << to;
  return NULL;
}

azc_status_t azc_plan_insert_copies(azc_plan_t *p) {
  if (p->n_steps == 0 || azc_plan_devices(p) == 1u << AZC_DEVICE_CPU) return NULL; /* one device */
  size_t cap = (size_t)p->n_steps * (1 + AZK_MAX_IN) + 2;
  azc_plan_step_t *steps = calloc(cap, sizeof(*steps));
  where_t *w = calloc((size_t)p->n_steps + 2, sizeof(*w));
  if (!steps || !w) {
    free(steps);
    free(w);
    return AZC_ERR(AZC_OUT_OF_MEMORY, "plan copies");
  }
  int32_t n = 0, n_where = 0;
  azc_status_t st = NULL;
  for (int32_t i = 0; !st && i < p->n_steps; i++) {
    const azc_plan_step_t *s = &p->steps[i];
    for (int k = 0; !st && k < s->n_in; k++) {
      if (s->in[k].kind != AZC_VAL_ARENA) continue;
      where_t *v = find_where(w, &n_where, s->in[k].offset, false);
      if (v && !(v->devices & (1u << s->device))) st = add_copy(steps, &n, v, s->device, i);
    }
    steps[n++] = *s;
    if (s->out.kind == AZC_VAL_ARENA) {
      where_t *v = find_where(w, &n_where, s->out.offset, true);
      v->devices = 1u << s->device;
      v->row_bytes = s->out_row_bytes;
      v->m_sym = s->m_sym;
    }
  }
  /* the caller reads the logits from the CPU's arena */
  where_t *lg = st ? NULL : find_where(w, &n_where, p->logits.offset, false);
  if (lg && !(lg->devices & (1u << AZC_DEVICE_CPU)))
    st = add_copy(steps, &n, lg, AZC_DEVICE_CPU, p->n_steps);
  free(w);
  if (st) {
    free(steps);
    return st;
  }
  azc_plan_step_t *fit = realloc(steps, sizeof(*steps) * (size_t)n);
  free(p->steps);
  p->steps = fit ? fit : steps;
  p->n_steps = n;
  return NULL;
}

static azc_status_t check_value(const azc_plan_t *p, const azc_plan_value_t *v, const char *what,
                                int32_t step) {
  switch (v->kind) {
  case AZC_VAL_NONE: return NULL;
  case AZC_VAL_ARENA:
    if (v->offset < 0 || v->offset >= p->arena_bytes)
      return AZC_ERR(AZC_CORRUPT, "plan step %d: %s at arena offset %lld outside the arena of %lld",
                     step, what, (long long)v->offset, (long long)p->arena_bytes);
    return NULL;
  case AZC_VAL_WEIGHT:
    if (v->index < 0 || v->index >= p->n_weights)
      return AZC_ERR(AZC_CORRUPT, "plan step %d: %s names weight %d of %d", step, what, v->index,
                     p->n_weights);
    return NULL;
  case AZC_VAL_INPUT:
    if (v->index < 0 || v->index > 3)
      return AZC_ERR(AZC_CORRUPT, "plan step %d: %s names input %d", step, what, v->index);
    return NULL;
  default: return AZC_ERR(AZC_CORRUPT, "plan step %d: %s has kind %d", step, what, v->kind);
  }
}

azc_status_t azc_plan_deserialize(const uint8_t *data, size_t size, azc_plan_t **out) {
  *out = NULL;
  header_t h;
  if (size < sizeof(h)) return AZC_ERR(AZC_CORRUPT, "plan: %zu bytes is too small", size);
  memcpy(&h, data, sizeof(h));
  if (!memcmp(h.magic, "AZCPLAN1", 8))
    return AZC_ERR(AZC_UNSUPPORTED, "plan: format 1 (before device-aware plans): recompile the "
                                    "model with this azc");
  if (memcmp(h.magic, "AZCPLAN2", 8)) return AZC_ERR(AZC_CORRUPT, "plan: bad magic");
  if (h.n_layer < 0 || h.n_layer > 65536 || h.n_steps < 0 || h.n_steps > (1 << 22) ||
      h.n_kernels < 0 || h.n_kernels > (1 << 20) || h.n_weights < 0 || h.n_weights > (1 << 22) ||
      h.n_vocab <= 0 || h.arena_bytes < 0 || h.plan_T <= 0 || h.plan_O <= 0 || h.shared_bytes < 0 ||
      h.thread_bytes < 0)
    return AZC_ERR(AZC_CORRUPT, "plan: counts out of range");
  size_t need = sizeof(h) + 2 * sizeof(int32_t) * (size_t)h.n_layer +
                sizeof(azc_plan_step_t) * (size_t)h.n_steps +
                sizeof(azc_plan_kernel_t) * (size_t)h.n_kernels +
                sizeof(azc_plan_weight_t) * (size_t)h.n_weights;
  if (need != size) return AZC_ERR(AZC_CORRUPT, "plan: %zu bytes, the counts need %zu", size, need);
  azc_plan_t *p;
  AZC_RETURN_IF_ERROR(azc_plan_alloc(h.n_layer, h.n_steps, h.n_kernels, h.n_weights, &p));
  p->n_vocab = h.n_vocab;
  p->n_ctx_train = h.n_ctx_train;
  p->learned_positions = h.learned_positions;
  p->arena_bytes = h.arena_bytes;
  p->plan_T = h.plan_T;
  p->plan_O = h.plan_O;
  p->shared_bytes = h.shared_bytes;
  p->thread_bytes = h.thread_bytes;
  p->logits = h.logits;
  size_t o = sizeof(h);
  memcpy(p->kv_heads, data + o, sizeof(int32_t) * (size_t)h.n_layer);
  o += sizeof(int32_t) * (size_t)h.n_layer;
  memcpy(p->kv_head_dim, data + o, sizeof(int32_t) * (size_t)h.n_layer);
  o += sizeof(int32_t) * (size_t)h.n_layer;
  memcpy(p->steps, data + o, sizeof(azc_plan_step_t) * (size_t)h.n_steps);
  o += sizeof(azc_plan_step_t) * (size_t)h.n_steps;
  memcpy(p->kernels, data + o, sizeof(azc_plan_kernel_t) * (size_t)h.n_kernels);
  o += sizeof(azc_plan_kernel_t) * (size_t)h.n_kernels;
  memcpy(p->weights, data + o, sizeof(azc_plan_weight_t) * (size_t)h.n_weights);
  azc_status_t st = NULL;
  for (int32_t l = 0; !st && l < p->n_layer; l++)
    if (p->kv_heads[l] <= 0 || p->kv_heads[l] > 4096 || p->kv_head_dim[l] <= 0 ||
        p->kv_head_dim[l] > 4096)
      st = AZC_ERR(AZC_CORRUPT, "plan: layer %d kv geometry %d x %d", l, p->kv_heads[l],
                   p->kv_head_dim[l]);
  for (int32_t i = 0; !st && i < p->n_kernels; i++)
    if (p->kernels[i].device < 0 || p->kernels[i].device >= AZC_DEVICE_COUNT)
      st = AZC_ERR(AZC_CORRUPT, "plan: kernel %d is for device %d", i, p->kernels[i].device);
  for (int32_t i = 0; !st && i < p->n_steps; i++) {
    const azc_plan_step_t *s = &p->steps[i];
    bool copy = s->op == AZC_STEP_COPY;
    if ((s->op != AZC_STEP_KERNEL && !copy) || s->device < 0 || s->device >= AZC_DEVICE_COUNT ||
        s->from_device < 0 || s->from_device >= AZC_DEVICE_COUNT)
      st = AZC_ERR(AZC_CORRUPT, "plan step %d: kind %d on device %d (from %d)", i, s->op, s->device,
                   s->from_device);
    else if (copy ? s->kernel != -1 || s->n_in != 1 || s->out_row_bytes <= 0 ||
                        s->from_device == s->device
                  : s->kernel < 0 || s->kernel >= p->n_kernels ||
                        p->kernels[s->kernel].device != s->device || s->from_device != s->device)
      st = AZC_ERR(AZC_CORRUPT, "plan step %d: %s with kernel %d, %d inputs, device %d from %d", i,
                   copy ? "copy" : "kernel step", s->kernel, s->n_in, s->device, s->from_device);
    else if (s->n_in < 0 || s->n_in > AZK_MAX_IN || (s->m_sym != 0 && s->m_sym != 2) ||
             s->layer < -1 || s->layer >= p->n_layer || s->out_row_bytes < 0)
      st = AZC_ERR(AZC_CORRUPT, "plan step %d: kernel %d, %d inputs, rows %d, layer %d", i,
                   s->kernel, s->n_in, s->m_sym, s->layer);
    if (!st && copy &&
        (s->in[0].kind != AZC_VAL_ARENA || s->out.kind != AZC_VAL_ARENA ||
         s->in[0].offset != s->out.offset))
      st = AZC_ERR(AZC_CORRUPT, "plan step %d: a copy must move one arena value", i);
    if (!st) st = check_value(p, &s->out, "output", i);
    for (int k = 0; !st && k < s->n_in; k++) st = check_value(p, &s->in[k], "input", i);
  }
  if (!st && p->logits.kind != AZC_VAL_ARENA)
    st = AZC_ERR(AZC_CORRUPT, "plan: logits are not in the arena");
  if (!st) st = check_value(p, &p->logits, "logits", -1);
  for (int32_t i = 0; !st && i < p->n_kernels; i++)
    if (!memchr(p->kernels[i].symbol, 0, sizeof(p->kernels[i].symbol)) ||
        !memchr(p->kernels[i].desc, 0, sizeof(p->kernels[i].desc)))
      st = AZC_ERR(AZC_CORRUPT, "plan: kernel %d name is not terminated", i);
  for (int32_t i = 0; !st && i < p->n_weights; i++) {
    const azc_plan_weight_t *w = &p->weights[i];
    if (!memchr(w->name, 0, sizeof(w->name)) || w->rank < 1 || w->rank > 4)
      st = AZC_ERR(AZC_CORRUPT, "plan: weight %d is malformed", i);
  }
  if (st) {
    azc_plan_free(p);
    return st;
  }
  *out = p;
  return NULL;
}
