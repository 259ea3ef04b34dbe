/* The shared vocabularies (../shared/vocab, one per pre-tokenizer family)
 * against llama.cpp on texts beyond its own test vectors: Azerbaijani,
 * emoji, case-folded contractions, every kind of whitespace and digit, code,
 * special tokens in the text; with add_special/parse_special off, and on.
 * Also each vocabulary's end-of-generation set, BOS/EOS/EOT and add flags,
 * and the same answers from a tokenizer that went through the bundle blob.
 *
 * The expected ids are llama.cpp's (tests/tokenizer/data/README.md says how
 * they were made). The files are opened through the vocab-only path
 * (azc_vocab_open), which reads no architecture: most of these files are of
 * architectures azc cannot lower. Skips visibly without ../shared. */
#include <stdint.h>

#include "frontend/vocab.h"
#include "runtime/tokenizer.h"
#include "runtime/tokenizer_internal.h"
#include "tests/test.h"
#include "tests/tokenizer/inp.h"

#ifndef AZC_TOKENIZER_DATA
#error "AZC_TOKENIZER_DATA (tests/tokenizer/data) must be defined"
#endif

static const char *const vocabs[] = {"llama-spm", "gpt-2",        "phi-3",
                                     "starcoder", "refact",       "mpt",
                                     "falcon",    "deepseek-llm", "deepseek-coder"};

typedef struct {
  char *buf;
  size_t size;
} file_t;

static bool load(const char *path, file_t *f) {
  f->buf = NULL;
  f->size = 0;
  azc_status_t st = azc_file_read_all(path, &f->buf, &f->size);
  if (st) {
    fprintf(stderr, "  %s\n", azc_status_message(st));
    azc_status_free(st);
    return false;
  }
  return true;
}

static bool nth_text(const file_t *f, int idx, const char **s, size_t *n) {
  return inp_text(f->buf, f->size, idx, s, n);
}

static int nth_ids(const file_t *f, int idx, int32_t *out, int cap) {
  return inp_ids(f->buf, f->size, idx, out, cap);
}

static void print_ids(const char *what, const int32_t *ids, size_t n) {
  fprintf(stderr, "    %s:", what);
  for (size_t i = 0; i < n && i < 64; i++) fprintf(stderr, " %d", ids[i]);
  fprintf(stderr, n > 64 ? " ...\n" : "\n");
}

/* Encodes every text of inp and compares with the lines of out. */
static int compare(const azc_tokenizer_t *tok, const char *name, const file_t *inp,
                   const file_t *out, bool special, int *n_texts) {
  int fails = 0;
  *n_texts = 0;
  for (int i = 0;; i++) {
    const char *s;
    size_t n;
    if (!nth_text(inp, i, &s, &n)) break;
    static int32_t expect[16384];
    int n_expect = nth_ids(out, i, expect, 16384);
    if (n_expect < 0) {
      fprintf(stderr, "  %s: no expected line %d\n", name, i);
      return fails + 1;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    azc_status_t st = azc_tokenizer_encode(tok, s, n, special, special, &ids, &n_ids);
    bool ok = !st && n_ids == (size_t)n_expect &&
              (n_ids == 0 || memcmp(ids, expect, n_ids * sizeof(int32_t)) == 0);
    if (!ok) {
      fails++;
      fprintf(stderr, "  %s: text %d (%s) differs from llama.cpp %s\n", name, i,
              special ? "add_special, parse_special" : "plain", st ? azc_status_message(st) : "");
      print_ids("llama.cpp", expect, (size_t)n_expect);
      print_ids("azc      ", ids, n_ids);
    }
    azc_status_free(st);
    free(ids);
    (*n_texts)++;
  }
  return fails;
}

/* The .meta line "EOG: a b c" and "BOS b EOS e EOT t ADD_BOS x ADD_EOS y". */
static int compare_meta(const azc_tokenizer_t *tok, const char *name, const file_t *meta) {
  int fails = 0;
  const char *eog = strstr(meta->buf, "EOG:");
  const char *ids = strstr(meta->buf, "BOS ");
  if (!eog || !ids) return 1;
  int32_t want[64];
  int n_want = 0;
  for (const char *p = eog + 4; *p && *p != '\n';) {
    char *e;
    long v = strtol(p, &e, 10);
    if (e == p) break;
    if (n_want < 64) want[n_want++] = (int32_t)v;
    p = e;
  }
  int n_got = 0;
  for (int32_t i = 0; i < azc_tokenizer_n_vocab(tok); i++) {
    if (!azc_tokenizer_is_eog(tok, i)) continue;
    bool listed = false;
    for (int k = 0; k < n_want; k++) listed |= want[k] == i;
    if (!listed) {
      fprintf(stderr, "  %s: token %d ends generation in azc, not in llama.cpp\n", name, i);
      fails++;
    }
    n_got++;
  }
  if (n_got != n_want) {
    fprintf(stderr, "  %s: %d end-of-generation tokens, llama.cpp has %d\n", name, n_got, n_want);
    fails++;
  }
  int bos, eos, eot, add_bos, add_eos;
  if (sscanf(ids, "BOS %d EOS %d EOT %d ADD_BOS %d ADD_EOS %d", &bos, &eos, &eot, &add_bos,
             &add_eos) != 5)
    return fails + 1;
  if (bos != azc_tokenizer_bos(tok) || eos != azc_tokenizer_eos(tok) ||
      eot != azc_tokenizer_eot(tok) || add_bos != azc_tokenizer_adds_bos(tok) ||
      add_eos != azc_tokenizer_adds_eos(tok)) {
    fprintf(stderr, "  %s: BOS %d EOS %d EOT %d add BOS %d add EOS %d; llama.cpp: %d %d %d %d %d\n",
            name, azc_tokenizer_bos(tok), azc_tokenizer_eos(tok), azc_tokenizer_eot(tok),
            azc_tokenizer_adds_bos(tok), azc_tokenizer_adds_eos(tok), bos, eos, eot, add_bos,
            add_eos);
    fails++;
  }
  return fails;
}

static int check_tokenizer(const azc_tokenizer_t *tok, const char *name, const file_t *inp,
                           const file_t *out, const file_t *out_special, const file_t *meta,
                           int *n_pass, int *n_total) {
  int n_plain = 0, n_special = 0;
  int fails = compare(tok, name, inp, out, false, &n_plain);
  int fails_special = compare(tok, name, inp, out_special, true, &n_special);
  *n_total = n_plain + n_special;
  *n_pass = *n_total - fails - fails_special;
  return fails + fails_special + compare_meta(tok, name, meta);
}

static void test_llama_cpp_references(void) {
  char path[1024];
  if (!test_shared_path(path, sizeof(path), "vocab")) TEST_SKIP("../shared/vocab not found");
  file_t inp;
  ASSERT(load(AZC_TOKENIZER_DATA "/extra.inp", &inp));
  int total_fails = 0, checked = 0;
  for (size_t v = 0; v < AZC_ARRAY_SIZE(vocabs); v++) {
    const char *name = vocabs[v];
    char gguf[1024], ref[1024];
    snprintf(gguf, sizeof(gguf), "vocab/ggml-vocab-%s.gguf", name);
    if (!test_shared_path(path, sizeof(path), gguf)) {
      fprintf(stderr, "  %s: not in ../shared/vocab\n", name);
      total_fails++;
      continue;
    }
    file_t out, out_special, meta;
    snprintf(ref, sizeof(ref), "%s/extra-%s.out", AZC_TOKENIZER_DATA, name);
    bool ok = load(ref, &out);
    snprintf(ref, sizeof(ref), "%s/extra-%s.special.out", AZC_TOKENIZER_DATA, name);
    ok = load(ref, &out_special) && ok;
    snprintf(ref, sizeof(ref), "%s/extra-%s.meta", AZC_TOKENIZER_DATA, name);
    ok = load(ref, &meta) && ok;
    azc_vocab_file_t *vf = NULL;
    azc_tokenizer_t *tok = NULL, *back = NULL;
    azc_status_t st = ok ? azc_vocab_open(path, &vf) : NULL;
    if (ok && !st) st = azc_tokenizer_create(&vf->desc, &tok);
    uint8_t *blob = NULL;
    size_t blob_size = 0;
    if (ok && !st) st = azc_tokenizer_serialize(tok, &blob, &blob_size);
    if (ok && !st) st = azc_tokenizer_deserialize(blob, blob_size, &back);
    int fails = 1, pass = 0, total = 0, pass_b = 0, total_b = 0;
    if (ok && !st) {
      fails = check_tokenizer(tok, name, &inp, &out, &out_special, &meta, &pass, &total);
      fails += check_tokenizer(back, name, &inp, &out, &out_special, &meta, &pass_b, &total_b);
      fprintf(stderr, "  %-15s (%.*s): %d/%d texts as llama.cpp, %d/%d after the bundle blob\n",
              name, (int)vf->arch.size, vf->arch.data, pass, total, pass_b, total_b);
    } else if (st) {
      fprintf(stderr, "  %s: %s\n", name, azc_status_message(st));
    }
    azc_status_free(st);
    free(blob);
    azc_tokenizer_destroy(back);
    azc_tokenizer_destroy(tok);
    azc_vocab_close(vf);
    free(out.buf);
    free(out_special.buf);
    free(meta.buf);
    total_fails += fails;
    checked++;
  }
  free(inp.buf);
  ASSERT_EQ_INT(checked, (int)AZC_ARRAY_SIZE(vocabs));
  ASSERT_EQ_INT(total_fails, 0);
}

/* Every pre-tokenizer family on one vocabulary: the gpt-2 vocabulary with
 * tokenizer.ggml.pre set to each name (llama.cpp ran on copies of the file
 * with that one key changed), on extra.inp and pre.inp (the edges of every
 * character range the regexes name, each kind of whitespace and digit). */
static void test_pre_tokenizers_on_one_vocab(void) {
  static const char *const pres[] = {"default",        "gpt-2",     "llama-bpe", "dbrx",
                                     "qwen2",          "starcoder", "falcon",    "deepseek-llm",
                                     "deepseek-coder", "poro-chat", "viking",    "chatglm-bpe"};
  char path[1024];
  if (!test_shared_path(path, sizeof(path), "vocab/ggml-vocab-gpt-2.gguf"))
    TEST_SKIP("../shared/vocab/ggml-vocab-gpt-2.gguf not found");
  file_t a, b, inp;
  ASSERT(load(AZC_TOKENIZER_DATA "/extra.inp", &a));
  ASSERT(load(AZC_TOKENIZER_DATA "/pre.inp", &b));
  static const char sep[] = INP_SEP;
  inp.size = a.size + sizeof(sep) - 1 + b.size;
  inp.buf = malloc(inp.size);
  ASSERT(inp.buf != NULL);
  memcpy(inp.buf, a.buf, a.size);
  memcpy(inp.buf + a.size, sep, sizeof(sep) - 1);
  memcpy(inp.buf + a.size + sizeof(sep) - 1, b.buf, b.size);
  free(a.buf);
  free(b.buf);
  azc_vocab_file_t *vf = NULL;
  ASSERT_OK(azc_vocab_open(path, &vf));
  int total_fails = 0;
  for (size_t i = 0; i < AZC_ARRAY_SIZE(pres); i++) {
    char ref[1024];
    snprintf(ref, sizeof(ref), "%s/pre-%s.out", AZC_TOKENIZER_DATA, pres[i]);
    file_t out;
    if (!load(ref, &out)) {
      total_fails++;
      continue;
    }
    azc_tokenizer_desc_t d = vf->desc;
    d.pre = (azc_strview_t){pres[i], strlen(pres[i])};
    azc_tokenizer_t *tok = NULL;
    azc_status_t st = azc_tokenizer_create(&d, &tok);
    int n = 0, fails = 1;
    if (!st)
      fails = compare(tok, pres[i], &inp, &out, false, &n);
    else
      fprintf(stderr, "  %s: %s\n", pres[i], azc_status_message(st));
    fprintf(stderr, "  gpt-2 vocabulary, pre '%s': %d/%d texts as llama.cpp\n", pres[i], n - fails,
            n);
    azc_status_free(st);
    azc_tokenizer_destroy(tok);
    free(out.buf);
    total_fails += fails;
  }
  azc_vocab_close(vf);
  free(inp.buf);
  ASSERT_EQ_INT(total_fails, 0);
}

/* The words each pre-tokenizer cuts extra.inp and pre.inp into, against
 * llama.cpp's unicode_regex_split with the regex lists of its llama-vocab.cpp
 * (data/split-<family>.txt: per text, the byte length of each word). Needs no
 * vocabulary: this sees cut differences that no vocabulary's merges would. */
typedef struct {
  int32_t lens[16384];
  int n;
} word_lens_t;

static azc_status_t record_word(void *ctx, const char *s, size_t n) {
  (void)s;
  word_lens_t *w = ctx;
  if (w->n < 16384) w->lens[w->n] = (int32_t)n;
  w->n++;
  return NULL;
}

static void test_pre_tokenizer_splits(void) {
  static const struct {
    const char *name;
    azc_pre_kind_t kind;
  } fams[] = {
      {"gpt2", AZC_PRE_GPT2},
      {"llama3", AZC_PRE_LLAMA3},
      {"qwen2", AZC_PRE_QWEN2},
      {"starcoder", AZC_PRE_STARCODER},
      {"falcon", AZC_PRE_FALCON},
      {"deepseek-llm", AZC_PRE_DEEPSEEK_LLM},
      {"deepseek-coder", AZC_PRE_DEEPSEEK_CODER},
      {"poro", AZC_PRE_PORO},
      {"viking", AZC_PRE_VIKING},
      {"default", AZC_PRE_DEFAULT},
  };
  file_t a, b;
  ASSERT(load(AZC_TOKENIZER_DATA "/extra.inp", &a));
  ASSERT(load(AZC_TOKENIZER_DATA "/pre.inp", &b));
  static word_lens_t got;
  static int32_t want[16384];
  azc_tok_work_t w = {0};
  int total_fails = 0;
  for (size_t f = 0; f < AZC_ARRAY_SIZE(fams); f++) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/split-%s.txt", AZC_TOKENIZER_DATA, fams[f].name);
    file_t ref;
    if (!load(path, &ref)) {
      total_fails++;
      continue;
    }
    int fails = 0, n_texts = 0;
    for (int i = 0;; i++) {
      const char *s;
      size_t n;
      int na = 0;
      while (nth_text(&a, na, &s, &n)) na++;
      if (!(i < na ? nth_text(&a, i, &s, &n) : nth_text(&b, i - na, &s, &n))) break;
      int n_want = nth_ids(&ref, i, want, 16384);
      got.n = 0;
      azc_status_t st = azc_pre_split(fams[f].kind, &w, s, n, record_word, &got);
      bool ok = !st && n_want == got.n && !memcmp(want, got.lens, (size_t)got.n * sizeof(int32_t));
      if (!ok) {
        fails++;
        fprintf(stderr, "  %s: text %d is cut differently %s\n", fams[f].name, i,
                st ? azc_status_message(st) : "");
        print_ids("llama.cpp word lengths", want, n_want > 0 ? (size_t)n_want : 0);
        print_ids("azc word lengths      ", got.lens, (size_t)got.n);
      }
      azc_status_free(st);
      n_texts++;
    }
    fprintf(stderr, "  %-14s: %d/%d texts cut into llama.cpp's words\n", fams[f].name,
            n_texts - fails, n_texts);
    total_fails += fails + (n_texts != 41);
    free(ref.buf);
  }
  azc_tok_work_free(&w);
  free(a.buf);
  free(b.buf);
  ASSERT_EQ_INT(total_fails, 0);
}

int main(void) {
  RUN(test_pre_tokenizer_splits);
  RUN(test_llama_cpp_references);
  RUN(test_pre_tokenizers_on_one_vocab);
  return test_summary();
}
