/* Reading a GGUF model (see model.h): the common hyperparameters under
 * "<arch>.", the tokenizer under "tokenizer.ggml." (frontend/vocab.c), and
 * dispatch to the architecture's own reader and lowering. */
#include "frontend/model.h"

#include "frontend/vocab.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const azc_arch_t *const archs[] = {
    &azc_arch_llama,  &azc_arch_qwen2, &azc_arch_qwen3,      &azc_arch_gemma2,
    &azc_arch_gemma3, &azc_arch_phi3,  &azc_arch_starcoder2, &azc_arch_gpt2,
};

/* Architectures azc knows and refuses, with what they need that azc lacks. */
static const struct {
  const char *name, *missing;
} refused[] = {
    {"deepseek2", "multi-head latent attention (MLA) and mixture-of-experts layers"},
    {"qwen2moe", "mixture-of-experts layers"},
    {"qwen3moe", "mixture-of-experts layers"},
    {"phimoe", "mixture-of-experts layers"},
    {"llama4", "mixture-of-experts layers and chunked attention"},
    {"qwen2vl", "multimodal RoPE sections and the vision tower"},
    {"gemma3n", "per-layer embeddings, AltUp and the audio/vision towers"},
    {"clip", "vision towers (mmproj files)"},
};

int azc_model_arch_count(void) { return (int)AZC_ARRAY_SIZE(archs); }

const azc_arch_t *azc_model_arch_at(int i) {
  return i >= 0 && i < (int)AZC_ARRAY_SIZE(archs) ? archs[i] : NULL;
}

const char *azc_model_supported_archs(void) {
  static char list[256];
  if (!list[0]) {
    size_t n = 0;
    for (size_t i = 0; i < AZC_ARRAY_SIZE(archs) && n < sizeof(list); i++)
      n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", archs[i]->name);
  }
  return list;
}

const azc_arch_t *azc_model_find_arch(const char *name) {
  for (size_t i = 0; i < AZC_ARRAY_SIZE(archs); i++)
    if (!strcmp(archs[i]->name, name)) return archs[i];
  return NULL;
}

/* "<arch>.<suffix>" */
static const char *akey(const azc_hparams_t *hp, const char *suffix, char *buf, size_t cap) {
  snprintf(buf, cap, "%s.%s", hp->arch, suffix);
  return buf;
}

static azc_status_t get_i32(const azc_gguf_t *g, const char *key, int32_t *out, int64_t min,
                            int64_t max) {
  int64_t v;
  AZC_RETURN_IF_ERROR(azc_gguf_get_i64(g, key, &v));
  if (v < min || v > max)
    return AZC_ERR(AZC_CORRUPT, "%s: %s = %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]",
                   g->name, key, v, min, max);
  *out = (int32_t)v;
  return NULL;
}

static azc_status_t opt_i32(const azc_gguf_t *g, const char *key, int32_t def, int32_t *out,
                            int64_t min, int64_t max) {
  if (!azc_gguf_find(g, key)) {
    *out = def;
    return NULL;
  }
  return get_i32(g, key, out, min, max);
}

static azc_status_t read_common(const azc_gguf_t *g, azc_hparams_t *hp) {
  char k[128];
  azc_strview_t s;
  if (azc_gguf_find(g, "general.name") && !azc_gguf_get_str(g, "general.name", &s))
    snprintf(hp->name, sizeof(hp->name), "%.*s", (int)AZC_MIN(s.size, 127), s.data);
  AZC_RETURN_IF_ERROR(get_i32(g, akey(hp, "embedding_length", k, sizeof(k)), &hp->n_embd, 1, 1 << 20));
  AZC_RETURN_IF_ERROR(get_i32(g, akey(hp, "block_count", k, sizeof(k)), &hp->n_layer, 1, 4096));
  AZC_RETURN_IF_ERROR(get_i32(g, akey(hp, "attention.head_count", k, sizeof(k)), &hp->n_head, 1, 4096));
  AZC_RETURN_IF_ERROR(opt_i32(g, akey(hp, "attention.head_count_kv", k, sizeof(k)), hp->n_head,
                              &hp->n_head_kv, 1, hp->n_head));
  AZC_RETURN_IF_ERROR(get_i32(g, akey(hp, "feed_forward_length", k, sizeof(k)), &hp->n_ff, 1, 1 << 24));
  AZC_RETURN_IF_ERROR(opt_i32(g, akey(hp, "context_length", k, sizeof(k)), 2048, &hp->n_ctx_train,
                              1, 1 << 24));
  if (hp->n_head % hp->n_head_kv)
    return AZC_ERR(AZC_CORRUPT, "%s: %d attention heads is not a multiple of %d kv heads", g->name,
                   hp->n_head, hp->n_head_kv);
  AZC_RETURN_IF_ERROR(opt_i32(g, akey(hp, "attention.key_length", k, sizeof(k)),
                              hp->n_embd / hp->n_head, &hp->head_dim, 1, 1 << 16));
  if (hp->n_embd % hp->n_head && !azc_gguf_find(g, k))
    return AZC_ERR(AZC_CORRUPT, "%s: embedding length %d is not a multiple of %d heads", g->name,
                   hp->n_embd, hp->n_head);
  AZC_RETURN_IF_ERROR(opt_i32(g, "general.file_type", -1, &hp->file_type, -1, 1 << 20));
  return NULL;
}

static azc_status_t read_tokenizer(azc_model_t *m) {
  AZC_RETURN_IF_ERROR(azc_vocab_read(m->gguf, &m->tok, &m->tok_scores, &m->tok_types));
  if (m->tok.n_vocab && azc_gguf_find(m->gguf, "tokenizer.chat_template"))
    AZC_RETURN_IF_ERROR(azc_gguf_get_str(m->gguf, "tokenizer.chat_template", &m->chat_template));
  return NULL;
}

static azc_status_t open_model(azc_model_t *m, const char *path) {
  AZC_RETURN_IF_ERROR(azc_gguf_open(path, &m->gguf));
  const azc_gguf_t *g = m->gguf;
  azc_strview_t arch;
  AZC_RETURN_IF_ERROR(azc_gguf_get_str(g, "general.architecture", &arch));
  if (arch.size == 0 || arch.size >= sizeof(m->hp.arch))
    return AZC_ERR(AZC_CORRUPT, "%s: bad general.architecture", path);
  memcpy(m->hp.arch, arch.data, arch.size);
  const azc_arch_t *a = azc_model_find_arch(m->hp.arch);
  for (size_t i = 0; !a && i < AZC_ARRAY_SIZE(refused); i++)
    if (!strcmp(refused[i].name, m->hp.arch))
      return AZC_ERR(AZC_UNSUPPORTED,
                     "%s: architecture '%s' is not supported: azc lacks %s (azc supports: %s)",
                     path, m->hp.arch, refused[i].missing, azc_model_supported_archs());
  if (!a)
    return AZC_ERR(AZC_UNSUPPORTED, "%s: architecture '%s' is not supported (azc supports: %s)",
                   path, m->hp.arch, azc_model_supported_archs());
  AZC_RETURN_IF_ERROR(read_common(g, &m->hp));
  if (a->decoder) AZC_RETURN_IF_ERROR(azc_decoder_read_hparams(g, a->decoder, &m->hp));
  if (a->read_hparams) AZC_RETURN_IF_ERROR(a->read_hparams(g, &m->hp));
  AZC_RETURN_IF_ERROR(read_tokenizer(m));
  /* vocabulary size: from the metadata, else the token list, else the embedding */
  char k[128];
  int32_t n_vocab = m->tok.n_vocab;
  AZC_RETURN_IF_ERROR(opt_i32(g, akey(&m->hp, "vocab_size", k, sizeof(k)), n_vocab, &n_vocab, 0,
                              INT32_MAX));
  const azc_gguf_tensor_t *emb = azc_gguf_find_tensor(g, "token_embd.weight");
  if (!n_vocab && emb) n_vocab = (int32_t)emb->ne[1];
  if (n_vocab <= 0) return AZC_ERR(AZC_CORRUPT, "%s: cannot tell the vocabulary size", path);
  if (m->tok.n_vocab && m->tok.n_vocab != n_vocab)
    return AZC_ERR(AZC_CORRUPT, "%s: %d tokens in the tokenizer but vocab_size %d", path,
                   m->tok.n_vocab, n_vocab);
  m->hp.n_vocab = n_vocab;
  return NULL;
}

azc_status_t azc_model_open(const char *path, azc_model_t **out) {
  *out = NULL;
  azc_model_t *m = calloc(1, sizeof(*m));
  if (!m) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: out of memory", path);
  m->hp.rope_freq_base = 10000.0f;
  m->hp.rope_freq_scale = 1.0f;
  m->hp.rope_attn_factor = 1.0f;
  azc_status_t st = open_model(m, path);
  if (st) {
    azc_model_close(m);
    return st;
  }
  *out = m;
  return NULL;
}

void azc_model_close(azc_model_t *m) {
  if (!m) return;
  azc_gguf_close(m->gguf);
  free(m->tok_scores);
  free(m->tok_types);
  free(m);
}

azc_ir_node_t *azc_model_weight(const azc_model_t *m, azc_ir_graph_t *g, azc_tensor_list_t *missing,
                                bool optional, int rank, const int64_t *shape, const char *fmt,
                                ...) {
  char name[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof(name), fmt, ap);
  va_end(ap);
  const azc_gguf_tensor_t *t = azc_gguf_find_tensor(m->gguf, name);
  if (!t) {
    if (!optional) {
      size_t len = strlen(missing->buf);
      if (len + strlen(name) + 8 < sizeof(missing->buf))
        snprintf(missing->buf + len, sizeof(missing->buf) - len, "%s%s", missing->count ? ", " : "",
                 name);
      missing->count++;
    }
    return NULL;
  }
  /* GGUF stores ne innermost first; the IR writes shapes outermost first */
  bool ok = t->n_dims <= (uint32_t)rank;
  for (int i = 0; ok && i < rank; i++) ok = t->ne[rank - 1 - i] == shape[i];
  for (uint32_t i = (uint32_t)rank; ok && i < t->n_dims; i++) ok = t->ne[i] == 1;
  if (!ok) {
    char want[96] = "", got[96] = "";
    size_t a = 0, b = 0;
    for (int i = 0; i < rank; i++)
      a += (size_t)snprintf(want + a, sizeof(want) - a, "%s%lld", i ? ", " : "", (long long)shape[i]);
    for (int i = (int)t->n_dims - 1; i >= 0; i--)
      b += (size_t)snprintf(got + b, sizeof(got) - b, "%s%lld", b ? ", " : "", (long long)t->ne[i]);
    if (!g->error)
      g->error = AZC_ERR(AZC_CORRUPT, "tensor %s has shape [%s], expected [%s]",
                         name, got, want);
    return NULL;
  }
  const azc_dtype_info_t *ti = azc_dtype_info(t->type);
  if (!ti || !ti->can_dequantize) {
    if (!g->error)
      g->error = AZC_ERR(AZC_UNSUPPORTED, "tensor %s has type %s, which azc cannot read",
                         name, azc_dtype_name(t->type));
    return NULL;
  }
  return azc_ir_weight(g, name, t->type, rank, shape, t->data, t->size);
}

azc_status_t azc_model_lower(const azc_model_t *m, azc_ir_graph_t **out) {
  *out = NULL;
  const azc_arch_t *a = azc_model_find_arch(m->hp.arch);
  if (!a) return AZC_ERR(AZC_UNSUPPORTED, "architecture '%s' is not supported", m->hp.arch);
  azc_ir_graph_t *g;
  AZC_RETURN_IF_ERROR(azc_ir_graph_create(&g));
  snprintf(g->arch, sizeof(g->arch), "%s", m->hp.arch);
  azc_status_t st = a->decoder ? azc_decoder_lower(m, a->decoder, g) : a->lower(m, g);
  if (!st) st = azc_ir_graph_status(g);
  if (!st) st = azc_ir_verify(g);
  if (st) {
    azc_ir_graph_destroy(g);
    return azc_status_wrap(st, "%s: lowering %s", m->gguf->name, m->hp.arch);
  }
  *out = g;
  return NULL;
}
