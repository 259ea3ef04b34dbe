/* The tokenizers the tokenizer fuzz targets run, shared with the seed maker:
 * the vocabularies of azc's synthetic models (frontend/synth.c: tiny-llama's
 * SentencePiece vocabulary with the 256 byte tokens, tiny-gpt2's byte-level
 * BPE vocabulary with merges), written by azc's own GGUF writer into a
 * temporary file and read back through azc_vocab_open, as azc reads a model.
 * The BPE vocabulary is built once per pre-tokenizer family of
 * runtime/tokenizer_pre.c, so one vocabulary exercises every family's
 * splitting rules; an input's first byte picks the family.
 *
 * AZC_FUZZ_VOCAB_SPM / AZC_FUZZ_VOCAB_BPE (paths to GGUF files, e.g. from
 * ../shared/vocab) replace the synthetic vocabularies; the BPE one then keeps
 * its own pre-tokenizer. Header-only: built both by the system compiler (the
 * seed maker) and by clang-19 with the fuzzer instrumentation. */
#ifndef AZC_TESTS_FUZZ_TOKENIZERS_H
#define AZC_TESTS_FUZZ_TOKENIZERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/synth.h"
#include "frontend/vocab.h"
#include "runtime/tokenizer.h"

/* the pre-tokenizer families (one name each) */
static const char *const azc_fuzz_pre_names[] = {
    "default",   "llama-bpe", "deepseek-llm", "deepseek-coder", "falcon",    "gpt-2",
    "starcoder", "qwen2",     "poro-chat",    "viking",         "smaug-bpe", "chatglm-bpe",
};
#define AZC_FUZZ_N_PRE ((int)(sizeof(azc_fuzz_pre_names) / sizeof(azc_fuzz_pre_names[0])))

typedef struct azc_fuzz_tokenizers {
  azc_tokenizer_t *spm;
  azc_tokenizer_t *bpe[AZC_FUZZ_N_PRE]; /* all the same one when AZC_FUZZ_VOCAB_BPE is set */
} azc_fuzz_tokenizers_t;

static inline void azc_fuzz_tokenizers_free(azc_fuzz_tokenizers_t *t) {
  azc_tokenizer_destroy(t->spm);
  for (int i = 0; i < AZC_FUZZ_N_PRE; i++)
    if (i == 0 || t->bpe[i] != t->bpe[0]) azc_tokenizer_destroy(t->bpe[i]);
  memset(t, 0, sizeof(*t));
}

/* Builds tokenizers from the vocabulary of `path` (a GGUF), or of the
 * synthetic model `shape` when path is NULL; pre: the pre-tokenizer names to
 * build it with (NULL: the file's own), n of them, into out[0..n). */
static inline azc_status_t azc_fuzz_vocab_load(const char *path, const char *shape,
                                               const char *const *pre, int n,
                                               azc_tokenizer_t **out) {
  char tmp[256] = "";
  if (!path) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof(tmp), "%s/azc-fuzz-vocab-%d-%s.gguf", base ? base : "/tmp", (int)getpid(),
             shape);
    azc_synth_params_t p;
    AZC_RETURN_IF_ERROR(azc_synth_preset(shape, &p));
    p.n_layer = 1;
    p.n_embd = 32;
    p.n_ff = 32;
    p.n_head = p.n_head_kv = 1;
    AZC_RETURN_IF_ERROR(azc_synth_write(&p, tmp, NULL, NULL));
    path = tmp;
  }
  azc_vocab_file_t *v = NULL;
  azc_status_t st = azc_vocab_open(path, &v);
  for (int i = 0; !st && i < n; i++) {
    azc_tokenizer_desc_t d = v->desc;
    if (pre) d.pre = (azc_strview_t){pre[i], strlen(pre[i])};
    st = azc_tokenizer_create(&d, &out[i]);
    if (st) st = azc_status_wrap(st, "pre-tokenizer '%s'", pre ? pre[i] : "(the file's)");
  }
  azc_vocab_close(v);
  if (tmp[0]) remove(tmp);
  return st;
}

static inline azc_status_t azc_fuzz_tokenizers_make(azc_fuzz_tokenizers_t *t) {
  memset(t, 0, sizeof(*t));
  const char *spm = getenv("AZC_FUZZ_VOCAB_SPM"), *bpe = getenv("AZC_FUZZ_VOCAB_BPE");
  azc_status_t st = azc_fuzz_vocab_load(spm && *spm ? spm : NULL, "tiny-llama", NULL, 1, &t->spm);
  if (!st && bpe && *bpe) {
    st = azc_fuzz_vocab_load(bpe, NULL, NULL, 1, &t->bpe[0]);
    for (int i = 1; !st && i < AZC_FUZZ_N_PRE; i++) t->bpe[i] = t->bpe[0];
  } else if (!st) {
    st = azc_fuzz_vocab_load(NULL, "tiny-gpt2", azc_fuzz_pre_names, AZC_FUZZ_N_PRE, t->bpe);
  }
  if (st) azc_fuzz_tokenizers_free(t);
  return st;
}

/* fuzz_detokenize reads ids as u16 values v: id = v % (n_vocab + 16) - 8, so
 * that most ids are in the vocabulary and a few just outside it. */
static inline int32_t azc_fuzz_id_decode(const azc_tokenizer_t *tok, uint16_t v) {
  return (int32_t)(v % (uint32_t)(azc_tokenizer_n_vocab(tok) + 16)) - 8;
}
static inline uint16_t azc_fuzz_id_encode(const azc_tokenizer_t *tok, int32_t id) {
  return (uint16_t)(id + 8);
}

#endif
