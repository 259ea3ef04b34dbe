/* GGUF quantization (see quantize.h). Which tensors are quantized and to
 * what follows llama.cpp's llama_tensor_get_type for the file types azc
 * writes (facts of its file conventions: same input, same tensor types).
 * Each new tensor is produced at write time by the writer's fill callback:
 * rows are dequantized to f32 and quantized again, split across threads. */
#include "frontend/quantize.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend/gguf.h"
#include "runtime/base/threadpool.h"

static const struct {
  const char *name;
  azc_ftype_t ftype;
  azc_dtype_t base;
} ftypes[] = {
    {"f32", AZC_FTYPE_F32, AZC_DTYPE_F32},        {"f16", AZC_FTYPE_F16, AZC_DTYPE_F16},
    {"bf16", AZC_FTYPE_BF16, AZC_DTYPE_BF16},     {"q8_0", AZC_FTYPE_Q8_0, AZC_DTYPE_Q8_0},
    {"q4_0", AZC_FTYPE_Q4_0, AZC_DTYPE_Q4_0},     {"q4_1", AZC_FTYPE_Q4_1, AZC_DTYPE_Q4_1},
    {"q5_0", AZC_FTYPE_Q5_0, AZC_DTYPE_Q5_0},     {"q5_1", AZC_FTYPE_Q5_1, AZC_DTYPE_Q5_1},
    {"q4_k_s", AZC_FTYPE_Q4_K_S, AZC_DTYPE_Q4_K}, {"q4_k_m", AZC_FTYPE_Q4_K_M, AZC_DTYPE_Q4_K},
    {"q5_k_s", AZC_FTYPE_Q5_K_S, AZC_DTYPE_Q5_K}, {"q5_k_m", AZC_FTYPE_Q5_K_M, AZC_DTYPE_Q5_K},
    {"q6_k", AZC_FTYPE_Q6_K, AZC_DTYPE_Q6_K},
};

int azc_ftype_from_name(const char *name) {
  for (size_t i = 0; i < sizeof(ftypes) / sizeof(ftypes[0]); i++)
    if (!strcasecmp(ftypes[i].name, name)) return (int)ftypes[i].ftype;
  return -1;
}

const char *azc_ftype_names(void) {
  return "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k";
}

static azc_dtype_t base_type(azc_ftype_t f) {
  for (size_t i = 0; i < sizeof(ftypes) / sizeof(ftypes[0]); i++)
    if (ftypes[i].ftype == f) return ftypes[i].base;
  return AZC_DTYPE_F32;
}

static bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

typedef struct state {
  azc_ftype_t ftype;
  bool has_output;
  int n_attn_v, i_attn_v, n_layer, i_ffn_down;
} state_t;

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

/* llama.cpp's llama_tensor_get_type, for the file types above */
static azc_dtype_t tensor_type(state_t *q, const azc_gguf_tensor_t *t, azc_dtype_t type, int *fallback) {
  const char *name = t->name;
  azc_ftype_t f = q->ftype;
  if (!strcmp(name, "output.weight") || (!q->has_output && !strcmp(name, "token_embd.weight"))) {
    if (t->ne[0] % azc_dtype_info(type)->block_size) type = AZC_DTYPE_Q8_0;
    else if (type != AZC_DTYPE_Q8_0) type = AZC_DTYPE_Q6_K;
  } else if (strstr(name, "attn_v.weight")) {
    if ((f == AZC_FTYPE_Q4_K_M || f == AZC_FTYPE_Q5_K_M) && use_more_bits(q->i_attn_v, q->n_attn_v))
      type = AZC_DTYPE_Q6_K;
    else if (f == AZC_FTYPE_Q4_K_S && q->i_attn_v < 4) type = AZC_DTYPE_Q5_K;
    q->i_attn_v++;
  } else if (strstr(name, "ffn_down")) {
    int i = q->i_ffn_down;
    if (f == AZC_FTYPE_Q4_K_M && use_more_bits(i, q->n_layer)) type = AZC_DTYPE_Q6_K;
    else if (f == AZC_FTYPE_Q5_K_M && use_more_bits(i, q->n_layer)) type = AZC_DTYPE_Q6_K;
    else if (f == AZC_FTYPE_Q4_K_S && i < q->n_layer / 8) type = AZC_DTYPE_Q5_K;
    q->i_ffn_down++;
  } else if (strstr(name, "attn_qkv.weight")) {
    if (f == AZC_FTYPE_Q4_K_M) type = AZC_DTYPE_Q5_K;
    else if (f == AZC_FTYPE_Q5_K_M) type = AZC_DTYPE_Q6_K;
  }
  if (t->ne[0] % azc_dtype_info(type)->block_size) {
    switch (type) {
    case AZC_DTYPE_Q4_K: type = AZC_DTYPE_Q5_0; break;
    case AZC_DTYPE_Q5_K: type = AZC_DTYPE_Q5_1; break;
    case AZC_DTYPE_Q6_K: type = AZC_DTYPE_Q8_0; break;
    default: break;
    }
    if (t->ne[0] % azc_dtype_info(type)->block_size) type = AZC_DTYPE_F16;
    (*fallback)++;
  }
  return type;
}

static bool wants_quantizing(const azc_gguf_tensor_t *t) {
  return ends_with(t->name, "weight") && t->n_dims >= 2 && !strstr(t->name, "_norm.weight") &&
         strcmp(t->name, "position_embd.weight") && strcmp(t->name, "token_types.weight") &&
         !strstr(t->name, "ffn_gate_inp.weight");
}

typedef struct job {
  const azc_gguf_tensor_t *src;
  azc_dtype_t to;
  azc_threadpool_t *pool;
  uint8_t *dst;
  int64_t rows, cols;
} job_t;

static void convert_rows(void *p, int ith, int nth) {
  job_t *j = p;
  long r0, r1;
  azc_split_range((long)j->rows, ith, nth, &r0, &r1);
  float *row = malloc(sizeof(float) * (size_t)j->cols);
  if (!row) return;
  size_t in_rb = azc_dtype_row_size(j->src->type, j->cols), out_rb = azc_dtype_row_size(j->to, j->cols);
  for (long r = r0; r < r1; r++) {
    azc_dequantize_row(j->src->type, j->src->data + (size_t)r * in_rb, row, j->cols);
    azc_quantize_row(j->to, row, j->dst + (size_t)r * out_rb, j->cols);
  }
  free(row);
}

typedef struct fill_ctx {
  job_t *jobs;
  int n;
  void (*progress)(void *user, int i, int n, const char *name, azc_dtype_t from, azc_dtype_t to);
  void *user;
} fill_ctx_t;

typedef struct fill_arg {
  fill_ctx_t *ctx;
  int index;
} fill_arg_t;

static azc_status_t fill(void *user, const char *name, void *buf, uint64_t size) {
  fill_arg_t *a = user;
  job_t *j = &a->ctx->jobs[a->index];
  j->dst = buf;
  azc_threadpool_run(j->pool, convert_rows, j);
  if (a->ctx->progress) a->ctx->progress(a->ctx->user, a->index, a->ctx->n, name, j->src->type, j->to);
  (void)size;
  return NULL;
}

azc_status_t azc_quantize_file(const char *in, const char *out, azc_ftype_t ftype, int n_threads,
                               void (*progress)(void *user, int i, int n, const char *name,
                                                azc_dtype_t from, azc_dtype_t to),
                               void *user, azc_quantize_stats_t *stats) {
  memset(stats, 0, sizeof(*stats));
  azc_gguf_t *g;
  AZC_RETURN_IF_ERROR(azc_gguf_open(in, &g));
  azc_gguf_writer_t *w = NULL;
  azc_threadpool_t *pool = NULL;
  job_t *jobs = calloc(g->n_tensors + 1, sizeof(job_t));
  fill_arg_t *args = calloc(g->n_tensors + 1, sizeof(fill_arg_t));
  fill_ctx_t ctx = {jobs, (int)g->n_tensors, progress, user};
  azc_status_t st = jobs && args ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "quantize");
  if (!st) st = azc_gguf_writer_create(&w);
  if (!st) st = azc_threadpool_create(n_threads, &pool);
  state_t q = {ftype, false, 0, 0, 0, 0};
  azc_strview_t arch = {"", 0};
  if (!st) st = azc_gguf_get_str(g, "general.architecture", &arch);
  if (!st) {
    char key[96];
    int64_t n_layer = 0;
    snprintf(key, sizeof(key), "%.*s.block_count", (int)AZC_MIN(arch.size, 64), arch.data);
    st = azc_gguf_get_i64(g, key, &n_layer);
    q.n_layer = (int)n_layer;
  }
  for (uint64_t i = 0; !st && i < g->n_tensors; i++) {
    const char *name = g->tensors[i].name;
    if (strstr(name, "attn_v.weight") || strstr(name, "attn_qkv.weight")) q.n_attn_v++;
    if (!strcmp(name, "output.weight")) q.has_output = true;
  }
  for (uint64_t i = 0; !st && i < g->n_kv; i++) {
    char key[256];
    snprintf(key, sizeof(key), "%.*s", (int)AZC_MIN(g->kv[i].key.size, 255), g->kv[i].key.data);
    if (!strcmp(key, "general.file_type") || !strcmp(key, "general.quantization_version") ||
        !strcmp(key, "general.alignment"))
      continue;
    st = azc_gguf_writer_set_value(w, key, &g->kv[i].value);
  }
  if (!st) st = azc_gguf_writer_set_u32(w, "general.quantization_version", 2);
  if (!st) st = azc_gguf_writer_set_u32(w, "general.file_type", (uint32_t)ftype);
  azc_dtype_t base = base_type(ftype);
  bool mixed = azc_dtype_info(base)->is_quantized;
  for (uint64_t i = 0; !st && i < g->n_tensors; i++) {
    const azc_gguf_tensor_t *t = &g->tensors[i];
    azc_dtype_t to = t->type;
    if (wants_quantizing(t)) {
      to = base;
      if (mixed) to = tensor_type(&q, t, to, &stats->n_fallback);
      else if (t->ne[0] % azc_dtype_info(to)->block_size) to = AZC_DTYPE_F16;
    }
    const azc_dtype_info_t *ti = azc_dtype_info(t->type), *to_info = azc_dtype_info(to);
    stats->bytes_in += t->size;
    stats->n_tensors++;
    if (to == t->type) {
      st = azc_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->size);
      stats->bytes_out += t->size;
      if (!st && progress) progress(user, (int)i, (int)g->n_tensors, t->name, t->type, to);
      continue;
    }
    if (!ti->can_dequantize || !to_info->can_quantize) {
      st = AZC_ERR(AZC_UNSUPPORTED, "%s: tensor %s: cannot convert %s to %s", in, t->name, ti->name,
                   to_info->name);
      break;
    }
    int64_t rows = 1;
    for (uint32_t d = 1; d < t->n_dims; d++) rows *= t->ne[d];
    jobs[i] = (job_t){t, to, pool, NULL, rows, t->ne[0]};
    args[i] = (fill_arg_t){&ctx, (int)i};
    uint64_t size = (uint64_t)azc_dtype_row_size(to, t->ne[0]) * (uint64_t)rows;
    stats->bytes_out += size;
    stats->n_quantized++;
    st = azc_gguf_writer_add_tensor_fill(w, t->name, to, t->n_dims, t->ne, size, fill, &args[i]);
  }
  if (!st) st = azc_gguf_writer_write(w, out);
  azc_threadpool_destroy(pool);
  azc_gguf_writer_destroy(w);
  free(jobs);
  free(args);
  azc_gguf_close(g);
  return st;
}
