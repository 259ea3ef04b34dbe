/* Bundle writing (see bundle_emit.h and runtime/bundle_sections.h). The
 * weights section is copied file to file (copy_file_range): weights in GGUF's
 * layout from the model file, repacked weights from their cache entries, and
 * only repacked weights that are not cached from memory. Without the model
 * file's descriptor it is produced by a fill callback that walks the plan's
 * weights in order, so a multi-GB model is streamed, not copied in memory. */
#include "driver/bundle_emit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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

static bool device_has_kernels(const azc_plan_t *p, int32_t device) {
  for (int32_t k = 0; k < p->n_kernels; k++)
    if (p->kernels[k].device == device) return true;
  return false;
}

/* A code section: header (magic, n objects, kernel ABI), a table of {u64
 * offset, u64 size}, then the code of each kernel of `device` in plan order,
 * 16-byte aligned. */
static azc_status_t code_section(const azc_plan_t *p, const azc_compiled_t *c, int32_t device,
                                 uint8_t **out, size_t *out_size) {
  size_t n_obj = 0, size = sizeof(azc_bundle_code_header_t);
  for (int32_t k = 0; k < p->n_kernels; k++) n_obj += p->kernels[k].device == device;
  size += 16 * n_obj;
  for (int32_t k = 0; k < p->n_kernels; k++)
    if (p->kernels[k].device == device) size = azc_align_up(size, 16) + c->object_sizes[k];
  uint8_t *code = calloc(1, size);
  if (!code) return AZC_ERR(AZC_OUT_OF_MEMORY, "code section of %zu bytes", size);
  azc_bundle_code_header_t h = {{0}, (uint32_t)n_obj, AZK_ABI_VERSION};
  memcpy(h.magic, "AZCCODE1", 8);
  memcpy(code, &h, sizeof(h));
  size_t at = sizeof(h) + 16 * n_obj, i = 0;
  for (int32_t k = 0; k < p->n_kernels; k++) {
    if (p->kernels[k].device != device) continue;
    at = azc_align_up(at, 16);
    uint64_t o = at, n = c->object_sizes[k];
    memcpy(code + sizeof(h) + 16 * i, &o, 8);
    memcpy(code + sizeof(h) + 16 * i + 8, &n, 8);
    memcpy(code + at, c->objects[k], c->object_sizes[k]);
    at += c->object_sizes[k];
    i++;
  }
  *out = code;
  *out_size = size;
  return NULL;
}

/* A bundle is a pure function of its inputs (reproducible builds): no clock.
 * The time stored is SOURCE_DATE_EPOCH when that is set to a number of
 * seconds, else 0 (https://reproducible-builds.org/specs/source-date-epoch/). */
static int64_t source_date_epoch(void) {
  const char *e = getenv("SOURCE_DATE_EPOCH");
  if (!e || !*e) return 0;
  char *end;
  errno = 0;
  long long v = strtoll(e, &end, 10);
  return errno || *end || v < 0 ? 0 : (int64_t)v;
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
  meta.compiled_unix_time = source_date_epoch();

  uint8_t *plan_blob = NULL, *tok_blob = NULL, *chat_blob = NULL;
  size_t plan_size = 0, tok_size = 0, chat_size = 0;
  azc_tokenizer_t *tok = NULL;
  azc_bundle_writer_t *w = NULL;
  /* per back end: its target record ("cpu.target") and code ("cpu.code") */
  uint8_t *code[AZC_DEVICE_COUNT] = {0}, *tgt[AZC_DEVICE_COUNT] = {0};
  size_t code_size[AZC_DEVICE_COUNT] = {0}, tgt_size[AZC_DEVICE_COUNT] = {0};
  char code_name[AZC_DEVICE_COUNT][AZC_BUNDLE_NAME_SIZE],
      tgt_name[AZC_DEVICE_COUNT][AZC_BUNDLE_NAME_SIZE];
  azc_status_t st = NULL;
  for (int d = 0; !st && d < AZC_DEVICE_COUNT; d++) {
    const azc_codegen_backend_t *be = c->backends[d];
    if (!be || !device_has_kernels(p, d)) continue;
    snprintf(tgt_name[d], sizeof(tgt_name[d]), "%s.target", be->name);
    snprintf(code_name[d], sizeof(code_name[d]), "%s.code", be->name);
    if (c->sections[d]) { /* a back end that links made its section */
      code[d] = malloc(c->section_sizes[d]);
      if (!code[d])
        st = AZC_ERR(AZC_OUT_OF_MEMORY, "%s", code_name[d]);
      else
        memcpy(code[d], c->sections[d], code_size[d] = c->section_sizes[d]);
    } else {
      st = code_section(p, c, d, &code[d], &code_size[d]);
    }
    size_t n = st ? 0 : be->target_record(c->targets[d], NULL, 0);
    if (n) {
      tgt[d] = calloc(1, n);
      if (!tgt[d])
        st = AZC_ERR(AZC_OUT_OF_MEMORY, "%s", tgt_name[d]);
      else
        tgt_size[d] = be->target_record(c->targets[d], tgt[d], n);
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
    /* weights in GGUF's layout are copied from the model file, repacked ones
       from their cache entry, and the rest (not cached) written from memory */
    const azc_cache_mapped_t *cached = c->cached && !in_file ? &c->cached[i] : NULL;
    int fd = in_file ? gguf_fd : cached && cached->fd >= 0 ? cached->fd : -1;
    uint64_t src = in_file ? (uint64_t)(ptr - map) : fd >= 0 ? cached->offset : 0;
    pieces[i] = (azc_bundle_piece_t){fd, src, ptr, p->weights[i].offset, p->weights[i].nbytes};
  }
  if (!st) st = azc_bundle_writer_add(w, AZC_SECTION_META, &meta, sizeof(meta), 0);
  for (int d = 0; !st && d < AZC_DEVICE_COUNT; d++)
    if (tgt[d]) st = azc_bundle_writer_add(w, tgt_name[d], tgt[d], tgt_size[d], 0);
  if (!st) st = azc_bundle_writer_add(w, AZC_SECTION_DEFAULTS, defaults, sizeof(*defaults), 0);
  if (!st) st = azc_bundle_writer_add(w, AZC_SECTION_PLAN, plan_blob, plan_size, 0);
  if (!st) st = azc_bundle_writer_add(w, AZC_SECTION_TOKENIZER, tok_blob, tok_size, 0);
  if (!st && chat) st = azc_bundle_writer_add(w, AZC_SECTION_CHAT, chat_blob, chat_size, 0);
  for (int d = 0; !st && d < AZC_DEVICE_COUNT; d++)
    if (code[d]) st = azc_bundle_writer_add(w, code_name[d], code[d], code_size[d], 4096);
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
  for (int d = 0; d < AZC_DEVICE_COUNT; d++) {
    free(code[d]);
    free(tgt[d]);
  }
  return st;
}
