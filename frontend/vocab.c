/* Reading a GGUF file's tokenizer (see vocab.h), key by key as llama.cpp's
 * llama_vocab::impl::load reads them: the model kind, pre-tokenizer and token
 * arrays, then the special ids over the kind's defaults (an id outside the
 * vocabulary keeps the default, as llama.cpp warns and keeps it), then the
 * add-BOS/EOS/space-prefix flags. Checks of the values themselves (types,
 * ranges, the pre-tokenizer's name) are azc_tokenizer_create's. */
#include "frontend/vocab.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static azc_status_t read_id(const azc_gguf_t *g, const char *key, int32_t n_vocab, int32_t *id) {
  if (!azc_gguf_find(g, key)) return NULL;
  int64_t v;
  AZC_RETURN_IF_ERROR(azc_gguf_get_i64(g, key, &v));
  if (v >= 0 && v < n_vocab) *id = (int32_t)v; /* else: llama.cpp keeps the default */
  return NULL;
}

azc_status_t azc_vocab_read(const azc_gguf_t *g, azc_tokenizer_desc_t *t, float **scores,
                            int32_t **types) {
  azc_tokenizer_desc_init(t);
  *scores = NULL;
  *types = NULL;
  if (!azc_gguf_find(g, "tokenizer.ggml.model"))
    return NULL; /* no tokenizer: inspect still works */
  azc_strview_t model;
  AZC_RETURN_IF_ERROR(azc_gguf_get_str(g, "tokenizer.ggml.model", &model));
  if (azc_strview_eq(model, "llama"))
    t->kind = AZC_TOKENIZER_SPM;
  else if (azc_strview_eq(model, "gpt2"))
    t->kind = AZC_TOKENIZER_BPE;
  else
    return AZC_ERR(AZC_UNSUPPORTED,
                   "%s: tokenizer.ggml.model '%.*s' is not supported (llama = SentencePiece, "
                   "gpt2 = byte-level BPE)",
                   g->name, (int)AZC_MIN(model.size, 64), model.data);
  if (azc_gguf_find(g, "tokenizer.ggml.pre"))
    AZC_RETURN_IF_ERROR(azc_gguf_get_str(g, "tokenizer.ggml.pre", &t->pre));
  if (azc_gguf_find(g, "general.name"))
    AZC_RETURN_IF_ERROR(azc_gguf_get_str(g, "general.name", &t->model_name));
  const azc_gguf_value_t *v;
  AZC_RETURN_IF_ERROR(azc_gguf_get_arr(g, "tokenizer.ggml.tokens", AZC_GGUF_STRING, &v));
  if (v->v.arr.count == 0 || v->v.arr.count > INT32_MAX)
    return AZC_ERR(AZC_CORRUPT, "%s: tokenizer.ggml.tokens has %" PRIu64 " entries", g->name,
                   v->v.arr.count);
  t->n_vocab = (int32_t)v->v.arr.count;
  t->tokens = v->v.arr.strs;
  uint64_t n;
  if (azc_gguf_find(g, "tokenizer.ggml.scores")) {
    AZC_RETURN_IF_ERROR(azc_gguf_copy_arr_f32(g, "tokenizer.ggml.scores", scores, &n));
    if (n != (uint64_t)t->n_vocab)
      return AZC_ERR(AZC_CORRUPT, "%s: %" PRIu64 " token scores for %d tokens", g->name, n,
                     t->n_vocab);
    t->scores = *scores;
  }
  if (azc_gguf_find(g, "tokenizer.ggml.token_type")) {
    AZC_RETURN_IF_ERROR(azc_gguf_copy_arr_i32(g, "tokenizer.ggml.token_type", types, &n));
    if (n != (uint64_t)t->n_vocab)
      return AZC_ERR(AZC_CORRUPT, "%s: %" PRIu64 " token types for %d tokens", g->name, n,
                     t->n_vocab);
    t->token_types = *types;
  }
  if (azc_gguf_find(g, "tokenizer.ggml.merges")) {
    AZC_RETURN_IF_ERROR(azc_gguf_get_arr(g, "tokenizer.ggml.merges", AZC_GGUF_STRING, &v));
    if (v->v.arr.count > INT32_MAX) return AZC_ERR(AZC_CORRUPT, "%s: too many merges", g->name);
    t->n_merges = (int32_t)v->v.arr.count;
    t->merges = v->v.arr.strs;
  } else if (t->kind == AZC_TOKENIZER_BPE) {
    return AZC_ERR(AZC_CORRUPT, "%s: a gpt2 tokenizer without tokenizer.ggml.merges", g->name);
  }
  azc_tokenizer_default_ids(t->kind, t->pre, t->n_vocab, &t->bos_id, &t->eos_id, &t->unk_id);
  static const struct {
    const char *key;
    size_t off;
  } ids[] = {
      {"tokenizer.ggml.bos_token_id", offsetof(azc_tokenizer_desc_t, bos_id)},
      {"tokenizer.ggml.eos_token_id", offsetof(azc_tokenizer_desc_t, eos_id)},
      {"tokenizer.ggml.eot_token_id", offsetof(azc_tokenizer_desc_t, eot_id)},
      {"tokenizer.ggml.eom_token_id", offsetof(azc_tokenizer_desc_t, eom_id)},
      {"tokenizer.ggml.unknown_token_id", offsetof(azc_tokenizer_desc_t, unk_id)},
      {"tokenizer.ggml.padding_token_id", offsetof(azc_tokenizer_desc_t, pad_id)},
      {"tokenizer.ggml.fim_pre_token_id", offsetof(azc_tokenizer_desc_t, fim_pre_id)},
      {"tokenizer.ggml.fim_suf_token_id", offsetof(azc_tokenizer_desc_t, fim_suf_id)},
      {"tokenizer.ggml.fim_mid_token_id", offsetof(azc_tokenizer_desc_t, fim_mid_id)},
      {"tokenizer.ggml.fim_pad_token_id", offsetof(azc_tokenizer_desc_t, fim_pad_id)},
      {"tokenizer.ggml.fim_rep_token_id", offsetof(azc_tokenizer_desc_t, fim_rep_id)},
      {"tokenizer.ggml.fim_sep_token_id", offsetof(azc_tokenizer_desc_t, fim_sep_id)},
      /* deprecated names of the first three FIM ids */
      {"tokenizer.ggml.prefix_token_id", offsetof(azc_tokenizer_desc_t, fim_pre_id)},
      {"tokenizer.ggml.suffix_token_id", offsetof(azc_tokenizer_desc_t, fim_suf_id)},
      {"tokenizer.ggml.middle_token_id", offsetof(azc_tokenizer_desc_t, fim_mid_id)},
  };
  for (size_t i = 0; i < AZC_ARRAY_SIZE(ids); i++)
    AZC_RETURN_IF_ERROR(read_id(g, ids[i].key, t->n_vocab, (int32_t *)((char *)t + ids[i].off)));
  AZC_RETURN_IF_ERROR(azc_gguf_opt_bool(g, "tokenizer.ggml.add_bos_token", -1, &t->add_bos));
  AZC_RETURN_IF_ERROR(azc_gguf_opt_bool(g, "tokenizer.ggml.add_eos_token", -1, &t->add_eos));
  AZC_RETURN_IF_ERROR(
      azc_gguf_opt_bool(g, "tokenizer.ggml.add_space_prefix", -1, &t->add_space_prefix));
  return NULL;
}

azc_status_t azc_vocab_open(const char *path, azc_vocab_file_t **out) {
  *out = NULL;
  azc_vocab_file_t *v = calloc(1, sizeof(*v));
  if (!v) return AZC_ERR(AZC_OUT_OF_MEMORY, "%s: out of memory", path);
  azc_status_t st = azc_gguf_open(path, &v->gguf);
  if (!st && azc_gguf_find(v->gguf, "general.architecture"))
    st = azc_gguf_get_str(v->gguf, "general.architecture", &v->arch);
  if (!st) st = azc_vocab_read(v->gguf, &v->desc, &v->scores, &v->types);
  if (!st && !v->desc.n_vocab)
    st = AZC_ERR(AZC_NOT_FOUND, "%s: the file has no tokenizer (tokenizer.ggml.* keys)", path);
  if (st) {
    azc_vocab_close(v);
    return st;
  }
  *out = v;
  return NULL;
}

void azc_vocab_close(azc_vocab_file_t *v) {
  if (!v) return;
  azc_gguf_close(v->gguf);
  free(v->scores);
  free(v->types);
  free(v);
}
