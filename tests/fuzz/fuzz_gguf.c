/* The GGUF reader (frontend/gguf.c) and what reads a parsed file's
 * tokenizer (frontend/vocab.c into runtime/tokenizer.c). Any input must
 * either be refused with a CORRUPT or UNSUPPORTED status whose message names
 * the file and a byte offset, or parse into tables whose every pointer stays
 * inside the input; a parsed file is walked completely (keys, values, nested
 * arrays, tensor data), formatted, read through the typed getters and copied
 * into a writer, so the sanitizers check every access. Its tokenizer keys, if
 * any, are read and a tokenizer is built from them, which must either be
 * refused with a status or encode and decode a text. Anything else traps.
 *
 * Seeds (tests/fuzz/seeds.c): small files from azc's GGUF writer, one per
 * value type and tensor type, and vocab-only files of the synthetic SPM and
 * BPE tokenizers. Run: tests/fuzz/run.sh fuzz_gguf SECONDS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/gguf.h"
#include "frontend/vocab.h"
#include "tests/fuzz/fuzz.h"

#define CHECK FUZZ_CHECK

static const uint8_t *in_base;
static size_t in_size;

static void touch(const void *p, size_t n) {
  if (!n) return;
  const uint8_t *b = p;
  CHECK(b >= in_base && n <= in_size && b + n <= in_base + in_size);
  fuzz_touch(p, n);
}

static void walk(const azc_gguf_value_t *v, int depth) {
  CHECK((unsigned)v->type < AZC_GGUF_TYPE_COUNT && depth < 16);
  if (v->type == AZC_GGUF_STRING) touch(v->v.str.data, v->v.str.size);
  if (v->type != AZC_GGUF_ARRAY) return;
  azc_gguf_type_t et = v->v.arr.elem_type;
  CHECK((unsigned)et < AZC_GGUF_TYPE_COUNT);
  for (uint64_t i = 0; i < v->v.arr.count && et == AZC_GGUF_STRING; i++)
    touch(v->v.arr.strs[i].data, v->v.arr.strs[i].size);
  for (uint64_t i = 0; i < v->v.arr.count && et == AZC_GGUF_ARRAY; i++)
    walk(&v->v.arr.items[i], depth + 1);
  size_t es = azc_gguf_type_size(et);
  if (es) touch(v->v.arr.data, (size_t)v->v.arr.count * es);
}

static void use_getters(const azc_gguf_t *g, const char *key) {
  int64_t i64;
  uint32_t u32;
  float f;
  bool b;
  int ib;
  azc_strview_t s;
  const azc_gguf_value_t *v;
  int32_t *ia;
  float *fa;
  uint64_t n;
  azc_status_free(azc_gguf_get_i64(g, key, &i64));
  azc_status_free(azc_gguf_get_u32(g, key, &u32));
  azc_status_free(azc_gguf_get_f32(g, key, &f));
  azc_status_free(azc_gguf_get_bool(g, key, &b));
  azc_status_free(azc_gguf_opt_bool(g, key, 0, &ib));
  azc_status_free(azc_gguf_get_str(g, key, &s));
  azc_status_free(azc_gguf_get_arr(g, key, AZC_GGUF_STRING, &v));
  azc_status_t st = azc_gguf_copy_arr_i32(g, key, &ia, &n);
  if (!st) free(ia);
  azc_status_free(st);
  st = azc_gguf_copy_arr_f32(g, key, &fa, &n);
  if (!st) free(fa);
  azc_status_free(st);
}

/* The tokenizer keys, read as azc_model_open and azc_vocab_open read them. */
static void use_tokenizer(const azc_gguf_t *g) {
  azc_tokenizer_desc_t d;
  azc_tokenizer_desc_init(&d);
  float *scores = NULL;
  int32_t *types = NULL;
  const unsigned refused = FUZZ_CODE(AZC_CORRUPT) | FUZZ_CODE(AZC_UNSUPPORTED) |
                           FUZZ_CODE(AZC_NOT_FOUND) | FUZZ_CODE(AZC_OUT_OF_RANGE) |
                           FUZZ_CODE(AZC_INVALID_ARGUMENT);
  if (!fuzz_failed(azc_vocab_read(g, &d, &scores, &types), refused) && d.n_vocab > 0) {
    azc_tokenizer_t *tok = NULL;
    if (!fuzz_failed(azc_tokenizer_create(&d, &tok), refused)) {
      static const char text[] = "Salam, dünya! <s> 123 \xf0\x9f\x98\x80\n\t x";
      int32_t *ids = NULL;
      size_t n = 0;
      if (!fuzz_failed(azc_tokenizer_encode(tok, text, sizeof(text) - 1, true, true, &ids, &n),
                       FUZZ_CODE(AZC_OUT_OF_RANGE))) {
        for (size_t i = 0; i < n; i++) CHECK(ids[i] >= 0 && ids[i] < azc_tokenizer_n_vocab(tok));
        char *out = NULL;
        size_t len = 0;
        if (!fuzz_failed(azc_tokenizer_decode(tok, ids, n, &out, &len), 0)) {
          CHECK(strlen(out) <= len);
          free(out);
        }
        free(ids);
      }
      azc_tokenizer_destroy(tok);
    }
  }
  free(scores);
  free(types);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  in_base = data;
  in_size = size;
  azc_gguf_t *g;
  azc_status_t st = azc_gguf_parse(data, size, "fuzz.gguf", &g);
  if (st) {
    azc_code_t code = azc_status_code(st);
    CHECK(code == AZC_CORRUPT || code == AZC_UNSUPPORTED);
    CHECK(!strncmp(azc_status_message(st), "fuzz.gguf: byte ", 16));
    CHECK(g == NULL);
    azc_status_free(st);
    return 0;
  }
  azc_gguf_writer_t *w = NULL;
  CHECK(!azc_gguf_writer_create(&w));
  char text[512], key[300];
  for (uint64_t i = 0; i < g->n_kv; i++) {
    const azc_gguf_kv_t *kv = &g->kv[i];
    touch(kv->key.data, kv->key.size);
    CHECK(kv->key.size > 0 && kv->offset < size);
    walk(&kv->value, 0);
    azc_gguf_value_format(&kv->value, text, sizeof(text), 6);
    CHECK(strlen(text) < sizeof(text));
    if (kv->key.size < sizeof(key) && !memchr(kv->key.data, 0, kv->key.size)) {
      memcpy(key, kv->key.data, kv->key.size);
      key[kv->key.size] = 0;
      CHECK(azc_gguf_find(g, key) == kv);
      use_getters(g, key);
      azc_status_free(azc_gguf_writer_set_value(w, key, &kv->value));
    }
  }
  CHECK(g->alignment && !(g->alignment & (g->alignment - 1)));
  for (uint64_t i = 0; i < g->n_tensors; i++) {
    const azc_gguf_tensor_t *t = &g->tensors[i];
    const azc_dtype_info_t *ti = azc_dtype_info(t->type);
    CHECK(ti && t->n_dims <= AZC_GGUF_MAX_DIMS && t->offset % g->alignment == 0);
    CHECK(azc_gguf_find_tensor(g, t->name) == t);
    unsigned __int128 want =
        (unsigned __int128)(uint64_t)t->ne[0] / (uint64_t)ti->block_size * (uint64_t)ti->type_size;
    for (int d = 0; d < AZC_GGUF_MAX_DIMS; d++) CHECK(t->ne[d] >= 0);
    for (int d = 1; d < AZC_GGUF_MAX_DIMS; d++) want *= (uint64_t)t->ne[d];
    CHECK(t->ne[0] % ti->block_size == 0 && want == t->size);
    CHECK(t->data == g->base + g->data_offset + t->offset);
    touch(t->data, (size_t)t->size);
    if (t->size) CHECK(t->data + t->size <= data + size);
    azc_status_free(azc_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims > 0 ? t->n_dims : 1,
                                               t->ne, t->data, t->size));
  }
  azc_gguf_writer_destroy(w);
  use_tokenizer(g);
  azc_gguf_close(g);
  return 0;
}
