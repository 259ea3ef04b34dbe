/* Bundle writing (see bundle_emit.h and runtime/bundle_sections.h). The
 * weights section is produced by a fill callback that walks the plan's
 * weights in order, so a multi-GB model is streamed, not copied in memory. */
#include "driver/bundle_emit.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codegen/bundle_writer.h"
#include "runtime/base/util.h"
#include "runtime/bundle.h"
#include "runtime/sampler.h"

azc_bundle_defaults_t azc_bundle_defaults_default(void) {
  azc_sampler_params_t sp = azc_sampler_params_default();
  azc_bundle_defaults_t d;
  memset(&d, 0, sizeof(d));
  memcpy(d.magic, "AZCDEF02", 8);
  d.temperature = sp.temperature;
  d.top_k = sp.top_k;
  d.top_p = sp.top_p;
  d.min_p = sp.min_p;
  d.repeat_penalty = sp.repeat_penalty;
  d.repeat_last_n = sp.repeat_last_n;
  d.typical_p = sp.typical_p;
  d.presence_penalty = sp.presence_penalty;
  d.frequency_penalty = sp.frequency_penalty;
  d.seed = sp.seed;
  d.n_predict = 128;
  return d;
}

typedef struct weights_fill {
  const azc_plan_t *plan;
  const void **data;
  int32_t next; /* first weight not fully written */
  void (*progress)(void *user, uint64_t done, uint64_t total);
  void *user;
  uint64_t total;
} weights_fill_t;

static azc_status_t fill_weights(void *user, uint64_t offset, void *buf, size_t size) {
  weights_fill_t *f = user;
  const azc_plan_t *p = f->plan;
  uint64_t end = offset + size;
  if (offset == 0) f->next = 0;
  /* weights are sorted by offset; copy the parts that overlap [offset, end) */
  for (int32_t i = f->next; i < p->n_weights; i++) {
    const azc_plan_weight_t *w = &p->weights[i];
    if (w->offset >= end) break;
    uint64_t a = AZC_MAX(w->offset, offset), b = AZC_MIN(w->offset + w->nbytes, end);
    if (a < b)
      memcpy((uint8_t *)buf + (a - offset), (const uint8_t *)f->data[i] + (a - w->offset), b - a);
    if (w->offset + w->nbytes <= end) f->next = i + 1;
  }
  if (f->progress) f->progress(f->user, end, f->total);
  return NULL;
}

azc_status_t azc_bundle_emit(const char *path, const azc_model_t *model, azc_compiled_t *c,
                             const azc_bundle_defaults_t *defaults, const azc_chat_info_t *chat,
                             void (*progress)(void *user, uint64_t done, uint64_t total),
                             void *user) {
  azc_plan_t *p = c->plan;
  /* weights: 64-byte aligned, in plan order */
  uint64_t off = 0;
  for (int32_t i = 0; i < p->n_weights; i++) {
    p->weights[i].offset = off;
    off = azc_align_up(off + p->weights[i].nbytes, 64);
  }
  uint64_t weights_size = off;

  azc_bundle_meta_t meta;
  memset(&meta, 0, sizeof(meta));
  memcpy(meta.magic, "AZCMETA1", 8);
  const azc_hparams_t *hp = &model->hp;
  snprintf(meta.arch, sizeof(meta.arch), "%s", hp->arch);
  snprintf(meta.name, sizeof(meta.name), "%s", hp->name);
  const char *base = strrchr(model->gguf->name, '/');
  snprintf(meta.source, sizeof(meta.source), "%s", base ? base + 1 : model->gguf->name);
  meta.n_vocab = hp->n_vocab;
  meta.n_ctx_train = hp->n_ctx_train;
  meta.n_embd = hp->n_embd;
  meta.n_layer = hp->n_layer;
  meta.n_head = hp->n_head;
  meta.n_head_kv = hp->n_head_kv;
  meta.n_ff = hp->n_ff;
  meta.file_type = hp->file_type;
  meta.weight_bytes = (int64_t)weights_size;
  meta.compiled_unix_time = (int64_t)time(NULL);

  /* the back end's target record ("cpu.target") */
  uint8_t tgt[4096];
  size_t tgt_size = c->backend->target_record(c->target, tgt, sizeof(tgt));
  char tgt_section[AZC_BUNDLE_NAME_SIZE], code_section[AZC_BUNDLE_NAME_SIZE];
  snprintf(tgt_section, sizeof(tgt_section), "%s.target", c->backend->name);
  snprintf(code_section, sizeof(code_section), "%s.code", c->backend->name);

  /* code: header, table, objects */
  size_t n_obj = (size_t)p->n_kernels, code_size = sizeof(azc_bundle_code_header_t) + 16 * n_obj;
  for (size_t i = 0; i < n_obj; i++) code_size = azc_align_up(code_size, 16) + c->object_sizes[i];
  uint8_t *code = calloc(1, code_size);
  uint8_t *plan_blob = NULL, *tok_blob = NULL, *chat_blob = NULL;
  size_t plan_size = 0, tok_size = 0, chat_size = 0;
  azc_tokenizer_t *tok = NULL;
  azc_bundle_writer_t *w = NULL;
  azc_status_t st = code ? NULL : AZC_ERR(AZC_OUT_OF_MEMORY, "code section");
  if (!st) {
    azc_bundle_code_header_t h = {{0}, (uint32_t)n_obj, AZK_ABI_VERSION};
    memcpy(h.magic, "AZCCODE1", 8);
    memcpy(code, &h, sizeof(h));
    size_t at = sizeof(h) + 16 * n_obj;
    for (size_t i = 0; i < n_obj; i++) {
      at = azc_align_up(at, 16);
      uint64_t o = at, n = c->object_sizes[i];
      memcpy(code + sizeof(h) + 16 * i, &o, 8);
      memcpy(code + sizeof(h) + 16 * i + 8, &n, 8);
      memcpy(code + at, c->objects[i], c->object_sizes[i]);
      at += c->object_sizes[i];
    }
  }
  if (!st) st = azc_plan_serialize(p, &plan_blob, &plan_size);
  if (!st && !model->tok.n_vocab) st = AZC_ERR(AZC_UNSUPPORTED, "the model file has no tokenizer");
  if (!st) st = azc_tokenizer_create(&model->tok, &tok);
  if (!st) st = azc_tokenizer_serialize(tok, &tok_blob, &tok_size);
  if (!st && chat) st = azc_chat_info_serialize(chat, &chat_blob, &chat_size);
  if (!st) st = azc_bundle_writer_create(&w);
  weights_fill_t wf = {p, c->weight_data, 0, progress, user, weights_size};
  /* weights kept in their GGUF layout are copied file to file */
  int gguf_fd = open(model->gguf->name, O_RDONLY | O_CLOEXEC);
  azc_bundle_piece_t *pieces = calloc((size_t)p->n_weights + 1, sizeof(*pieces));
  bool as_pieces = gguf_fd >= 0 && pieces && model->gguf->map.data;
  for (int32_t i = 0; as_pieces && i < p->n_weights; i++) {
    const uint8_t *ptr = c->weight_data[i];
    const uint8_t *map = model->gguf->base;
    bool in_file = p->weights[i].layout == AZC_LAYOUT_GGUF && ptr >= map &&
                   ptr + p->weights[i].nbytes <= map + model->gguf->size;
    /* repacked weights are written from memory, the others copied from the file */
    pieces[i] = (azc_bundle_piece_t){in_file ? gguf_fd : -1, in_file ? (uint64_t)(ptr - map) : 0,
                                     ptr, p->weights[i].offset, p->weights[i].nbytes};
  }
  if (!st) st = azc_bundle_writer_add(w, AZC_SECTION_META, &meta, sizeof(meta), 0);
  if (!st && tgt_size > sizeof(tgt))
    st = AZC_ERR(AZC_INTERNAL, "the %s target record needs %zu bytes", c->backend->name, tgt_size);
  if (!st && tgt_size) st = azc_bundle_writer_add(w, tgt_section, tgt, tgt_size, 0);
  if (!st) st = azc_bundle_writer_add(w, AZC_SECTION_DEFAULTS, defaults, sizeof(*defaults), 0);
  if (!st) st = azc_bundle_writer_add(w, AZC_SECTION_PLAN, plan_blob, plan_size, 0);
  if (!st) st = azc_bundle_writer_add(w, AZC_SECTION_TOKENIZER, tok_blob, tok_size, 0);
  if (!st && chat) st = azc_bundle_writer_add(w, AZC_SECTION_CHAT, chat_blob, chat_size, 0);
  if (!st) st = azc_bundle_writer_add(w, code_section, code, code_size, 4096);
  if (!st && as_pieces)
    st = azc_bundle_writer_add_pieces(w, AZC_SECTION_WEIGHTS, weights_size, AZC_BUNDLE_ALIGN_PAGE,
                                      pieces, (size_t)p->n_weights);
  else if (!st)
    st = azc_bundle_writer_add_fill(w, AZC_SECTION_WEIGHTS, weights_size, AZC_BUNDLE_ALIGN_PAGE,
                                    fill_weights, &wf);
  if (!st) st = azc_bundle_writer_write(w, path);
  if (!st && as_pieces && progress) progress(user, weights_size, weights_size);
  if (gguf_fd >= 0) close(gguf_fd);
  free(pieces);
  azc_bundle_writer_destroy(w);
  azc_tokenizer_destroy(tok);
  free(tok_blob);
  free(chat_blob);
  free(plan_blob);
  free(code);
  return st;
}
