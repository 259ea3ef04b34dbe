/* runtime/tokenizer: SPM and GPT-2 BPE against llama.cpp's test vectors and
 * golden prompts, round trips, the blob format, and small vocabularies built
 * here (checked against naive reference implementations of the merge rules).
 *
 * The GGUF-based tests read ../shared (AZC_SHARED_DIR) and skip visibly when
 * it is absent; everything else always runs. */
#include <stdint.h>
#include <time.h>

#include "frontend/gguf.h"
#include "frontend/vocab.h"
#include "runtime/generate.h"
#include "runtime/tokenizer.h"
#include "runtime/tokenizer_internal.h"
#include "tests/test.h"
#include "tests/tokenizer/inp.h"

/* ---- helpers ---- */

typedef struct {
  const char *s;
  size_t n;
} text_t;
#define T(lit)                                                                                     \
  { lit, sizeof(lit) - 1 }

/* A tokenizer description read from a GGUF file by the frontend's reader. */
typedef struct {
  azc_gguf_t *g;
  azc_tokenizer_desc_t d;
  float *scores;
  int32_t *types;
} gguf_vocab_t;

static void vocab_free(gguf_vocab_t *v) {
  azc_gguf_close(v->g);
  free(v->scores);
  free(v->types);
  memset(v, 0, sizeof(*v));
}

static azc_status_t vocab_read(const char *path, gguf_vocab_t *v) {
  memset(v, 0, sizeof(*v));
  AZC_RETURN_IF_ERROR(azc_gguf_open(path, &v->g));
  AZC_RETURN_IF_ERROR(azc_vocab_read(v->g, &v->d, &v->scores, &v->types));
  if (!v->d.n_vocab) return AZC_ERR(AZC_NOT_FOUND, "%s has no tokenizer", path);
  return NULL;
}

/* Opens shared/<rel> as a tokenizer; false (and nothing to free) when absent. */
static bool shared_tokenizer(const char *rel, gguf_vocab_t *v, azc_tokenizer_t **tok,
                             azc_status_t *st) {
  char path[1024];
  *tok = NULL;
  *st = NULL;
  memset(v, 0, sizeof(*v));
  if (!test_shared_path(path, sizeof(path), rel)) return false;
  *st = vocab_read(path, v);
  if (!*st) *st = azc_tokenizer_create(&v->d, tok);
  return true;
}

#define OPEN_SHARED(rel, v, tok)                                                                   \
  do {                                                                                             \
    azc_status_t ost_;                                                                             \
    if (!shared_tokenizer(rel, v, tok, &ost_)) TEST_SKIP("%s not found (AZC_SHARED_DIR)", rel);    \
    if (ost_) vocab_free(v);                                                                       \
    ASSERT_OK(ost_);                                                                               \
  } while (0)

static char *read_file(const char *path, size_t *size) {
  return (char *)test_read_file(path, size);
}

/* Prints bytes with escapes, for failure messages. */
static void print_escaped(const char *s, size_t n) {
  if (n > 400) n = 400; /* enough to recognise the text */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 32 && c < 127 && c != '\\')
      fputc(c, stderr);
    else
      fprintf(stderr, "\\x%02x", c);
  }
}

static void print_ids(const char *what, const int32_t *ids, size_t n) {
  fprintf(stderr, "  %s:", what);
  for (size_t i = 0; i < n && i < 100; i++) fprintf(stderr, " %d", ids[i]);
  if (n > 100) fprintf(stderr, " ... (%zu ids)", n);
  fprintf(stderr, "\n");
}

static bool ids_eq(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
  return na == nb && (na == 0 || memcmp(a, b, na * sizeof(int32_t)) == 0);
}

/* encode(x) then decode: must give back x exactly. Returns false (and
 * prints) on a mismatch; a failing status is a failure too. */
static bool round_trip(const azc_tokenizer_t *tok, const char *s, size_t n, const char *name) {
  int32_t *ids = NULL;
  size_t n_ids = 0;
  char *back = NULL;
  size_t back_n = 0;
  azc_status_t st = azc_tokenizer_encode(tok, s, n, false, false, &ids, &n_ids);
  if (!st) st = azc_tokenizer_decode(tok, ids, n_ids, &back, &back_n);
  bool ok = !st && back_n == n && memcmp(back, s, n) == 0 && back[back_n] == 0;
  if (!ok) {
    fprintf(stderr, "%s: round trip failed%s%s\n  in:  \"", name, st ? ": " : "",
            st ? azc_status_message(st) : "");
    print_escaped(s, n);
    fprintf(stderr, "\"\n  out: \"");
    if (back) print_escaped(back, back_n);
    fprintf(stderr, "\"\n");
    print_ids("ids", ids, n_ids);
  }
  azc_status_free(st);
  free(ids);
  free(back);
  return ok;
}

static const text_t round_trip_texts[] = {
    T("Salam, dünya! Azərbaycan dili çox gözəldir. Şəki, Gəncə, Xırdalan, ağ, ğ, ı, ö, ü, ç, ş, ə"),
    T("ŞƏKİ GƏNCƏ XIRDALAN AĞ Ğ I Ö Ü Ç Ş Ə İstanbul ıİ"),
    T("👋🏽 hello 👨‍👩‍👧‍👦 family 🇦🇿🇺🇳 flags ❤️‍🔥 "
      "🏳️‍🌈 "
      "🦙.cpp"),
    T("你好，世界！日本語のテキスト。한국어 텍스트 𠜎𠜱"),
    T("مرحبا بالعالم! السلام عليكم ١٢٣ שלום עולם"),
    T("\ttab\t\tdouble\n\n\nthree newlines   trailing   "),
    T("  two leading\r\n windows line\r\n\v\f end"),
    T(" \u3000 ideographic space \u00a0nbsp \u2028 separator"),
    T("3.14159 2,718 1e-10 0x1F 1234567890 ½ ² Ⅻ 3333333"),
    T("int main(void) {\n  printf(\"%d\\n\", x[i] >> 2);\n  return 0; // done\n}\n"),
    T("I'm you're he'll she'd we've it's DON'T ' 's"),
    T("<s> not special </s> <|endoftext|> <unk>"),
    T(""),
    T(" "),
    T("   "),
    T("\n"),
    T("a"),
    T("\xff\xfe invalid \xc3 \xe2\x82 z \x80\x80 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf \xf8\x88 "
      "end"),
    T("nul\0inside and \x01\x02\x1f controls"),
    T("\xe2\x82"), /* a truncated character at the very end */
};

/* ---- llama.cpp's tokenizer test vectors ---- */

static void run_vectors(const char *rel) {
  gguf_vocab_t v;
  azc_tokenizer_t *tok;
  OPEN_SHARED(rel, &v, &tok);
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s.inp", test_shared_dir(), rel);
  size_t inp_n, out_n;
  char *inp = read_file(path, &inp_n);
  snprintf(path, sizeof(path), "%s/%s.out", test_shared_dir(), rel);
  char *out = read_file(path, &out_n);
  int n_tests = 0, n_fail = 0, n_rt_fail = 0;
  const char *p;
  size_t n;
  /* inputs: text between separators, without the newline before each
   * separator (llama.cpp's test-tokenizer-0 splits on "\n" SEP "\n") */
  for (int i = 0; inp && out && inp_text(inp, inp_n, i, &p, &n); i++) {
    if (p == inp + inp_n) break; /* the file ends with a separator: no text after it */
    static int32_t expect[4096];
    int n_expect = inp_ids(out, out_n, i, expect, 4096);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    azc_status_t st = azc_tokenizer_encode(tok, p, n, false, false, &ids, &n_ids);
    if (st || n_expect < 0 || !ids_eq(ids, n_ids, expect, (size_t)n_expect)) {
      n_fail++;
      fprintf(stderr, "%s: vector %d \"", rel, n_tests);
      print_escaped(p, n);
      fprintf(stderr, "\" %s\n", st ? azc_status_message(st) : "");
      print_ids("expected", expect, n_expect > 0 ? (size_t)n_expect : 0);
      print_ids("got     ", ids, n_ids);
    }
    azc_status_free(st);
    free(ids);
    if (!round_trip(tok, p, n, rel)) n_rt_fail++;
    n_tests++;
  }
  free(inp);
  free(out);
  azc_tokenizer_destroy(tok);
  vocab_free(&v);
  fprintf(stderr, "  %s: %d vectors, %d failed, %d round trips failed\n", rel, n_tests, n_fail,
          n_rt_fail);
  ASSERT(n_tests == 46);
  ASSERT_EQ_INT(n_fail, 0);
  ASSERT_EQ_INT(n_rt_fail, 0);
}

#define VECTORS(name, file)                                                                        \
  static void test_vectors_##name(void) { run_vectors("vocab/ggml-vocab-" file ".gguf"); }
VECTORS(llama_spm, "llama-spm")
VECTORS(gpt2, "gpt-2")
VECTORS(phi3, "phi-3")
VECTORS(starcoder, "starcoder")
VECTORS(refact, "refact")
VECTORS(mpt, "mpt")
VECTORS(falcon, "falcon")
VECTORS(deepseek_llm, "deepseek-llm")
VECTORS(deepseek_coder, "deepseek-coder")

/* ---- round trips on the shared vocabularies ---- */

static const char *const shared_vocabs[] = {
    "vocab/ggml-vocab-llama-spm.gguf",      "vocab/ggml-vocab-gpt-2.gguf",
    "vocab/ggml-vocab-phi-3.gguf",          "vocab/ggml-vocab-starcoder.gguf",
    "vocab/ggml-vocab-refact.gguf",         "vocab/ggml-vocab-mpt.gguf",
    "vocab/ggml-vocab-falcon.gguf",         "vocab/ggml-vocab-deepseek-llm.gguf",
    "vocab/ggml-vocab-deepseek-coder.gguf", "models/stories260K.gguf",
    "models/gpt2-small-tied-Q8_0.gguf",
};

/* Whether one byte alone comes back from decode(encode()). */
static bool byte_round_trips(const azc_tokenizer_t *tok, uint8_t b) {
  int32_t *ids = NULL;
  size_t n_ids = 0, back_n = 0;
  char *back = NULL, c = (char)b;
  azc_status_t st = azc_tokenizer_encode(tok, &c, 1, false, false, &ids, &n_ids);
  if (!st) st = azc_tokenizer_decode(tok, ids, n_ids, &back, &back_n);
  bool ok = !st && back_n == 1 && back[0] == c;
  azc_status_free(st);
  free(ids);
  free(back);
  return ok;
}

/* decode(encode(x)) == x for texts, every byte, a long text and random
 * bytes, where the vocabulary has a token for every byte of x: some have
 * none for bytes that valid UTF-8 rarely or never holds (starcoder: C0, C1,
 * F1, F5..FF; falcon also some ASCII controls); llama.cpp drops those bytes
 * too. */
static void round_trip_all(const char *rel) {
  gguf_vocab_t v;
  azc_tokenizer_t *tok;
  OPEN_SHARED(rel, &v, &tok);
  bool byte_ok[256];
  int n_missing = 0;
  for (int b = 0; b < 256; b++) n_missing += !(byte_ok[b] = byte_round_trips(tok, (uint8_t)b));
  int fails = 0, skipped = 0;
#define RT(str, len)                                                                               \
  do {                                                                                             \
    bool all_ok_ = true;                                                                           \
    for (size_t k_ = 0; k_ < (len); k_++) all_ok_ &= byte_ok[(uint8_t)(str)[k_]];                  \
    if (all_ok_)                                                                                   \
      fails += !round_trip(tok, (str), (len), rel);                                                \
    else                                                                                           \
      skipped++;                                                                                   \
  } while (0)
  for (size_t i = 0; i < AZC_ARRAY_SIZE(round_trip_texts); i++)
    RT(round_trip_texts[i].s, round_trip_texts[i].n);
  size_t cap = 1 << 16, n = 0;
  char *big = malloc(cap);
  for (size_t i = 0; big && n + 300 < cap; i++) {
    const text_t *t = &round_trip_texts[i % AZC_ARRAY_SIZE(round_trip_texts)];
    if (!t->n || !byte_ok[(uint8_t)t->s[0]]) continue;
    bool all_ok = true;
    for (size_t k = 0; k < t->n; k++) all_ok &= byte_ok[(uint8_t)t->s[k]];
    if (!all_ok) continue;
    memcpy(big + n, t->s, t->n);
    n += t->n;
  }
  if (big) RT(big, n);
  free(big);
  /* random byte strings: broken UTF-8, code points past U+10FFFF, NULs */
  test_rng_t rng = {0x70C};
  static const char alphabet[] =
      "a Z0'\n\t\r<|>/s_-.,!\xc3\xa9\xe2\x96\x81\xf0\x9f\x98\x80\xf5\x80\xff\xc0";
  for (int k = 0; k < 300; k++) {
    char s[48];
    size_t len = test_rng_next(&rng) % sizeof(s);
    for (size_t i = 0; i < len; i++)
      s[i] = k % 3 ? alphabet[test_rng_next(&rng) % (sizeof(alphabet) - 1)]
                   : (char)test_rng_next(&rng);
    RT(s, len);
  }
#undef RT
  if (n_missing)
    fprintf(stderr, "  %s: %d bytes have no token; %d texts with them not round-tripped\n", rel,
            n_missing, skipped);
  azc_tokenizer_destroy(tok);
  vocab_free(&v);
  ASSERT_EQ_INT(fails, 0);
  ASSERT(n_missing <= 32); /* falcon lacks 28: C0, C1, F2, F5..FF and 14 controls */
}

static void test_round_trip_shared(void) {
  int present = 0;
  for (size_t i = 0; i < AZC_ARRAY_SIZE(shared_vocabs); i++) {
    char path[1024];
    if (!test_shared_path(path, sizeof(path), shared_vocabs[i])) continue;
    present++;
    round_trip_all(shared_vocabs[i]);
    if (test_current_failed) return;
  }
  if (!present) TEST_SKIP("no shared vocabularies (AZC_SHARED_DIR)");
}

/* ---- known answers ---- */

static void expect_encoding(const char *rel, const char *text, bool add_special,
                            const int32_t *expect, size_t n_expect) {
  gguf_vocab_t v;
  azc_tokenizer_t *tok;
  OPEN_SHARED(rel, &v, &tok);
  int32_t *ids = NULL;
  size_t n = 0;
  azc_status_t st = azc_tokenizer_encode(tok, text, strlen(text), add_special, true, &ids, &n);
  bool ok = !st && ids_eq(ids, n, expect, n_expect);
  if (!ok) {
    fprintf(stderr, "%s: \"%s\" %s\n", rel, text, azc_status_message(st));
    print_ids("expected", expect, n_expect);
    print_ids("got     ", ids, n);
  }
  azc_status_free(st);
  free(ids);
  azc_tokenizer_destroy(tok);
  vocab_free(&v);
  ASSERT(ok);
}

static void test_known_answers(void) {
  if (!test_shared_dir()) TEST_SKIP("AZC_SHARED_DIR is absent");
  static const int32_t stories[] = {1, 403, 407, 261, 378};
  expect_encoding("models/stories260K.gguf", "Once upon a time", true, stories, 5);
  if (test_current_failed || test_current_skipped) return;
  static const int32_t gpt2[] = {15496, 11, 616, 1438, 318};
  expect_encoding("models/gpt2-small-tied-Q8_0.gguf", "Hello, my name is", true, gpt2, 5);
  if (test_current_failed || test_current_skipped) return;
  static const int32_t llama[] = {1, 403, 407, 261, 378, 383, 286};
  expect_encoding("models/llama-small-tied-Q4_K_M.gguf", "Once upon a time there was", true, llama,
                  7);
}

/* The golden files: prompt -> prompt_tokens, and the generated tokens'
 * pieces concatenated -> "text" (llama.cpp's detokenizer output). */
static bool json_string(const char *js, const char *key, char *out, size_t cap, size_t *n) {
  char pat[64];
  snprintf(pat, sizeof(pat), "\"%s\": \"", key);
  const char *p = strstr(js, pat);
  if (!p) return false;
  p += strlen(pat);
  size_t k = 0;
  while (*p && *p != '"' && k + 4 < cap) {
    if (*p != '\\') {
      out[k++] = *p++;
      continue;
    }
    p++;
    char c = *p++;
    if (c == 'n')
      out[k++] = '\n';
    else if (c == 't')
      out[k++] = '\t';
    else if (c == 'r')
      out[k++] = '\r';
    else if (c == 'u') {
      unsigned cp = (unsigned)strtoul((char[5]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
      p += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
        unsigned lo = (unsigned)strtoul((char[5]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
        p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      if (cp < 0x80)
        out[k++] = (char)cp;
      else if (cp < 0x800) {
        out[k++] = (char)(0xC0 | cp >> 6);
        out[k++] = (char)(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out[k++] = (char)(0xE0 | cp >> 12);
        out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[k++] = (char)(0x80 | (cp & 0x3F));
      } else {
        out[k++] = (char)(0xF0 | cp >> 18);
        out[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[k++] = (char)(0x80 | (cp & 0x3F));
      }
    } else
      out[k++] = c;
  }
  *n = k;
  return *p == '"';
}

static size_t json_ints(const char *js, const char *pat, int32_t *out, size_t cap) {
  size_t n = 0;
  for (const char *p = strstr(js, pat); p && n < cap; p = strstr(p, pat)) {
    p += strlen(pat);
    out[n++] = (int32_t)strtol(p, NULL, 10);
  }
  return n;
}

static void test_golden_prompts_and_text(void) {
  static const char *const goldens[][2] = {
      {"golden/stories260K.once.json", "models/stories260K.gguf"},
      {"golden/gpt2-small-tied-Q8_0.hello.json", "models/gpt2-small-tied-Q8_0.gguf"},
      {"golden/llama-small-tied-Q4_K_M.once.json", "models/llama-small-tied-Q4_K_M.gguf"},
      {"golden/llama-small-tied-f16.once.json", "models/llama-small-tied-f16.gguf"},
  };
  int checked = 0;
  for (size_t gi = 0; gi < AZC_ARRAY_SIZE(goldens); gi++) {
    char path[1024];
    if (!test_shared_path(path, sizeof(path), goldens[gi][0])) continue;
    size_t js_n;
    char *js = read_file(path, &js_n);
    ASSERT(js != NULL);
    gguf_vocab_t v;
    azc_tokenizer_t *tok;
    azc_status_t st;
    if (!shared_tokenizer(goldens[gi][1], &v, &tok, &st)) {
      free(js);
      continue;
    }
    char prompt[1024], text[8192], got[8192];
    size_t prompt_n = 0, text_n = 0, got_n = 0;
    int32_t prompt_ids[256], steps[256];
    bool ok = !st && json_string(js, "prompt", prompt, sizeof(prompt), &prompt_n) &&
              json_string(js, "text", text, sizeof(text), &text_n);
    const char *pt = strstr(js, "\"prompt_tokens\": [");
    size_t n_prompt = 0;
    if (ok && pt) {
      for (const char *p = pt + 18; *p && *p != ']';) {
        char *e;
        long id = strtol(p, &e, 10);
        if (e == p) break;
        prompt_ids[n_prompt++] = (int32_t)id;
        p = e;
        while (*p == ',' || *p == ' ') p++;
      }
    }
    size_t n_steps = json_ints(js, "{\"token\": ", steps, 256);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (ok) ok = !(st = azc_tokenizer_encode(tok, prompt, prompt_n, true, true, &ids, &n_ids));
    bool prompt_ok = ok && ids_eq(ids, n_ids, prompt_ids, n_prompt) && n_prompt > 0;
    for (size_t i = 0; ok && i < n_steps; i++) {
      size_t m = azc_tokenizer_token_to_piece(tok, steps[i], got + got_n, sizeof(got) - got_n);
      got_n += m;
      ok = got_n < sizeof(got);
    }
    bool text_ok = ok && n_steps == 64 && got_n == text_n && memcmp(got, text, text_n) == 0;
    if (!prompt_ok || !text_ok) {
      fprintf(stderr, "%s: %s%s\n", goldens[gi][0], prompt_ok ? "" : "prompt mismatch ",
              text_ok ? "" : "text mismatch");
      print_ids("prompt expected", prompt_ids, n_prompt);
      print_ids("prompt got     ", ids, n_ids);
      fprintf(stderr, "  text expected \"");
      print_escaped(text, text_n);
      fprintf(stderr, "\"\n  text got      \"");
      print_escaped(got, got_n);
      fprintf(stderr, "\"\n");
    }
    if (st) fprintf(stderr, "  %s\n", azc_status_message(st));
    azc_status_free(st);
    free(ids);
    free(js);
    azc_tokenizer_destroy(tok);
    vocab_free(&v);
    ASSERT(prompt_ok && text_ok);
    checked++;
  }
  if (!checked) TEST_SKIP("no golden files (AZC_SHARED_DIR)");
}

/* ---- decode details on the real vocabularies ---- */

/* Checks on an open tokenizer; the caller frees it whatever happens. */
static void spm_details(const azc_tokenizer_t *tok) {
  char buf[64];
  ASSERT(azc_tokenizer_kind(tok) == AZC_TOKENIZER_SPM);
  ASSERT_EQ_INT(azc_tokenizer_n_vocab(tok), 32000);
  ASSERT(azc_tokenizer_bos(tok) == 1 && azc_tokenizer_eos(tok) == 2);
  ASSERT(azc_tokenizer_adds_bos(tok));
  ASSERT(azc_tokenizer_is_eog(tok, 2) && !azc_tokenizer_is_eog(tok, 1));
  ASSERT_EQ_INT(azc_tokenizer_token_to_piece(tok, 1, buf, sizeof(buf)), 0); /* <s>: control */
  ASSERT_EQ_INT(azc_tokenizer_token_to_piece(tok, 0, buf, sizeof(buf)), 0); /* <unk> */
  ASSERT_EQ_INT(azc_tokenizer_token_to_piece(tok, 3 + 0x0A, buf, sizeof(buf)), 1);
  ASSERT(buf[0] == '\n');
  /* "▁Hello" (15043) prints " Hello"; a small buffer gets a prefix, the
   * return value is still the full length */
  ASSERT_EQ_INT(azc_tokenizer_token_to_piece(tok, 15043, buf, sizeof(buf)), 6);
  ASSERT(memcmp(buf, " Hello", 6) == 0);
  memset(buf, 'x', sizeof(buf));
  ASSERT_EQ_INT(azc_tokenizer_token_to_piece(tok, 15043, buf, 3), 6);
  ASSERT(memcmp(buf, " Hexx", 5) == 0);
  ASSERT_EQ_INT(azc_tokenizer_token_to_piece(tok, -1, buf, sizeof(buf)), 0);
  ASSERT_EQ_INT(azc_tokenizer_token_to_piece(tok, 32000, buf, sizeof(buf)), 0);
  azc_strview_t t = azc_tokenizer_token_text(tok, 15043);
  ASSERT(t.size == 8 && memcmp(t.data, "\xe2\x96\x81Hello", 8) == 0);
}

static void spm_encode_details(const azc_tokenizer_t *tok) {
  char buf[64], *s = NULL;
  size_t n = 0, sn = 0, k = 0;
  int32_t *enc = NULL;
  /* 🦙 is four byte tokens after "▁"; their pieces concatenate to it */
  ASSERT_OK(azc_tokenizer_encode(tok, "🦙", 4, false, false, &enc, &n));
  for (size_t i = 0; i < n; i++) k += azc_tokenizer_token_to_piece(tok, enc[i], buf + k, 8);
  bool llama_ok = n == 5 && k == 5 && memcmp(buf, " \xf0\x9f\xa6\x99", 5) == 0;
  free(enc);
  ASSERT(llama_ok);
  /* BOS at the front: the space after it is dropped; not after other tokens */
  ASSERT_OK(azc_tokenizer_decode(tok, (const int32_t[]){1, 15043, 15043}, 3, &s, &sn));
  bool hello_ok = sn == 11 && strcmp(s, "Hello Hello") == 0;
  free(s);
  ASSERT(hello_ok);
  /* parse_special: "<s>" in the text is BOS only when asked */
  ASSERT_OK(azc_tokenizer_encode(tok, "<s>Hi", 5, true, true, &enc, &n));
  bool special_ok = n == 3 && enc[0] == 1 && enc[1] == 1;
  free(enc);
  ASSERT(special_ok);
  ASSERT_OK(azc_tokenizer_encode(tok, "<s>Hi", 5, false, false, &enc, &n));
  bool plain_ok = n > 2 && enc[0] != 1 && enc[1] != 1;
  free(enc);
  ASSERT(plain_ok);
  s = buf;
  ASSERT_ERR(azc_tokenizer_decode(tok, (const int32_t[]){5, 32000}, 2, &s, &sn),
             AZC_INVALID_ARGUMENT, "32000");
  ASSERT(s == NULL);
}

static void test_decode_spm_details(void) {
  gguf_vocab_t v;
  azc_tokenizer_t *tok;
  OPEN_SHARED("vocab/ggml-vocab-llama-spm.gguf", &v, &tok);
  spm_details(tok);
  if (!test_current_failed) spm_encode_details(tok);
  azc_tokenizer_destroy(tok);
  vocab_free(&v);
}

static void gpt2_details(const azc_tokenizer_t *tok) {
  char buf[64];
  ASSERT(azc_tokenizer_kind(tok) == AZC_TOKENIZER_BPE);
  ASSERT(!azc_tokenizer_adds_bos(tok));
  ASSERT(azc_tokenizer_is_eog(tok, 50256));
  ASSERT_EQ_INT(azc_tokenizer_token_to_piece(tok, 220, buf, sizeof(buf)), 1);
  ASSERT(buf[0] == ' ');
  ASSERT_EQ_INT(azc_tokenizer_token_to_piece(tok, 198, buf, sizeof(buf)), 1);
  ASSERT(buf[0] == '\n');
  ASSERT_EQ_INT(azc_tokenizer_token_to_piece(tok, 18435, buf, sizeof(buf)), 6);
  ASSERT(memcmp(buf, " Hello", 6) == 0);
  /* <|endoftext|> is plain text unless parse_special */
  int32_t *enc = NULL;
  size_t n = 0;
  ASSERT_OK(azc_tokenizer_encode(tok, "a<|endoftext|>", 14, true, true, &enc, &n));
  bool special_ok = n == 2 && enc[1] == 50256;
  free(enc);
  ASSERT(special_ok);
  ASSERT_OK(azc_tokenizer_encode(tok, "a<|endoftext|>", 14, true, false, &enc, &n));
  bool plain_ok = n > 2;
  for (size_t i = 0; i < n; i++) plain_ok = plain_ok && enc[i] != 50256;
  free(enc);
  ASSERT(plain_ok);
  /* one character split across tokens comes out whole */
  ASSERT_OK(azc_tokenizer_encode(tok, "🦙", 4, false, false, &enc, &n));
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += azc_tokenizer_token_to_piece(tok, enc[i], buf + k, 8);
  bool split_ok = n >= 2 && k == 4 && memcmp(buf, "🦙", 4) == 0;
  free(enc);
  ASSERT(split_ok);
}

static void test_decode_gpt2_details(void) {
  gguf_vocab_t v;
  azc_tokenizer_t *tok;
  OPEN_SHARED("vocab/ggml-vocab-gpt-2.gguf", &v, &tok);
  gpt2_details(tok);
  azc_tokenizer_destroy(tok);
  vocab_free(&v);
}

/* ---- serialization ---- */

static bool same_encodings(const azc_tokenizer_t *a, const azc_tokenizer_t *b) {
  for (size_t i = 0; i < AZC_ARRAY_SIZE(round_trip_texts); i++) {
    for (int mode = 0; mode < 2; mode++) {
      int32_t *x = NULL, *y = NULL;
      size_t nx = 0, ny = 0;
      const text_t *t = &round_trip_texts[i];
      azc_status_t s1 = azc_tokenizer_encode(a, t->s, t->n, mode, mode, &x, &nx);
      azc_status_t s2 = azc_tokenizer_encode(b, t->s, t->n, mode, mode, &y, &ny);
      bool same = !s1 && !s2 && ids_eq(x, nx, y, ny);
      azc_status_free(s1);
      azc_status_free(s2);
      free(x);
      free(y);
      if (!same) return false;
    }
  }
  return true;
}

/* Encodes and decodes something with a tokenizer read from a damaged blob:
 * it may fail, it must not crash. */
static void exercise(const azc_tokenizer_t *tok) {
  for (size_t i = 0; i < AZC_ARRAY_SIZE(round_trip_texts); i += 3) {
    int32_t *ids = NULL;
    size_t n = 0;
    char *s = NULL;
    azc_status_free(azc_tokenizer_encode(tok, round_trip_texts[i].s, round_trip_texts[i].n, true,
                                         true, &ids, &n));
    azc_status_free(azc_tokenizer_decode(tok, ids, n, &s, NULL));
    free(ids);
    free(s);
  }
}

/* Truncations (all of them when `every`, else the first and last 256 and a
 * sample between) and byte flips (the header, then random bits). Returns how
 * many damaged blobs broke the contract. */
static int damage(const uint8_t *blob, size_t size, bool every) {
  int bad = 0;
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  for (size_t cut = 0; cut < size; cut++) {
    if (!every && cut > 256 && cut + 256 < size) {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      if ((rng >> 33) % 4096) continue;
    }
    uint8_t *copy = malloc(cut ? cut : 1); /* exactly cut bytes, so ASan sees overreads */
    if (!copy) return -1;
    memcpy(copy, blob, cut);
    azc_tokenizer_t *t = NULL;
    azc_status_t st = azc_tokenizer_deserialize(copy, cut, &t);
    if (!st || t) bad++; /* a truncated blob can never be accepted */
    azc_status_free(st);
    azc_tokenizer_destroy(t);
    free(copy);
  }
  uint8_t *copy = malloc(size);
  if (!copy) return -1;
  int flips = every ? 3000 : 96;
  for (int i = 0; i < flips; i++) {
    memcpy(copy, blob, size);
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    size_t at = i < 64 ? (size_t)i % size : (size_t)(rng >> 33) % size;
    copy[at] ^= (uint8_t)(i < 64 ? 0xFF : 1u << ((rng >> 20) & 7));
    azc_tokenizer_t *t = NULL;
    azc_status_t st = azc_tokenizer_deserialize(copy, size, &t);
    if (!st)
      exercise(t);
    else if (t)
      bad++;
    azc_status_free(st);
    azc_tokenizer_destroy(t);
  }
  free(copy);
  return bad;
}

static void check_serialization(const azc_tokenizer_t *tok, bool every) {
  uint8_t *blob = NULL, *blob2 = NULL;
  size_t size = 0, size2 = 0;
  ASSERT_OK(azc_tokenizer_serialize(tok, &blob, &size));
  azc_tokenizer_t *back = NULL;
  azc_status_t st = azc_tokenizer_deserialize(blob, size, &back);
  if (!st) st = azc_tokenizer_serialize(back, &blob2, &size2);
  bool same = !st && size2 == size && memcmp(blob, blob2, size) == 0 && same_encodings(tok, back) &&
              azc_tokenizer_n_vocab(back) == azc_tokenizer_n_vocab(tok) &&
              azc_tokenizer_bos(back) == azc_tokenizer_bos(tok) &&
              azc_tokenizer_adds_bos(back) == azc_tokenizer_adds_bos(tok) &&
              azc_tokenizer_kind(back) == azc_tokenizer_kind(tok);
  azc_tokenizer_destroy(back);
  free(blob2);
  if (st) {
    free(blob);
    ASSERT_OK(st);
  }
  /* one byte more is refused too */
  uint8_t *longer = malloc(size + 1);
  ASSERT(longer != NULL);
  memcpy(longer, blob, size);
  longer[size] = 0;
  st = azc_tokenizer_deserialize(longer, size + 1, &back);
  bool longer_refused = st && azc_status_code(st) == AZC_CORRUPT && back == NULL &&
                        strstr(azc_status_message(st), "after the last merge");
  azc_status_free(st);
  free(longer);
  int bad = same ? damage(blob, size, every) : 0;
  free(blob);
  ASSERT(same);
  ASSERT(longer_refused);
  ASSERT_EQ_INT(bad, 0);
}

static void test_serialize_shared(void) {
  int present = 0;
  for (size_t i = 0; i < AZC_ARRAY_SIZE(shared_vocabs); i++) {
    char path[1024];
    if (!test_shared_path(path, sizeof(path), shared_vocabs[i])) continue;
    gguf_vocab_t v;
    azc_tokenizer_t *tok;
    OPEN_SHARED(shared_vocabs[i], &v, &tok);
    present++;
    /* every truncation only for the small vocabulary (4.8k of them) */
    check_serialization(tok, strstr(shared_vocabs[i], "stories") != NULL);
    azc_tokenizer_destroy(tok);
    vocab_free(&v);
    if (test_current_failed) return;
  }
  if (!present) TEST_SKIP("no shared vocabularies (AZC_SHARED_DIR)");
}

static void test_deserialize_rejects(void) {
  azc_tokenizer_t *t = NULL;
  ASSERT_ERR(azc_tokenizer_deserialize(NULL, 0, &t), AZC_CORRUPT, "empty");
  ASSERT_ERR(azc_tokenizer_deserialize((const uint8_t *)"AZTK", 4, &t), AZC_CORRUPT, "header");
  uint8_t hdr[80] = {'A', 'Z', 'T', 'X'};
  ASSERT_ERR(azc_tokenizer_deserialize(hdr, sizeof(hdr), &t), AZC_CORRUPT, "magic");
  memcpy(hdr, "AZTK", 4);
  hdr[4] = 9;
  ASSERT_ERR(azc_tokenizer_deserialize(hdr, sizeof(hdr), &t), AZC_UNSUPPORTED, "version 9");
  hdr[4] = 1; /* the blob of an older azc */
  ASSERT_ERR(azc_tokenizer_deserialize(hdr, sizeof(hdr), &t), AZC_UNSUPPORTED,
             "compile the bundle again");
  hdr[4] = 2;
  ASSERT_ERR(azc_tokenizer_deserialize(hdr, 40, &t), AZC_CORRUPT, "72-byte header");
  hdr[12] = 0xff; /* 65535 tokens in a few bytes */
  hdr[13] = 0xff;
  ASSERT_ERR(azc_tokenizer_deserialize(hdr, sizeof(hdr), &t), AZC_CORRUPT, "cannot fit");
  ASSERT(t == NULL);
}

/* ---- small vocabularies built here ---- */

typedef struct {
  azc_strview_t tokens[600];
  float scores[600];
  int32_t types[600];
  char text[600][16];
  int n;
  azc_strview_t merges[600];
  char merge_text[600][24];
  int n_merges;
} small_vocab_t;

static int add_token(small_vocab_t *v, const char *s, size_t n, float score, int type) {
  int i = v->n++;
  memcpy(v->text[i], s, n);
  v->tokens[i] = (azc_strview_t){v->text[i], n};
  v->scores[i] = score;
  v->types[i] = type;
  return i;
}
static int add_str(small_vocab_t *v, const char *s, float score, int type) {
  return add_token(v, s, strlen(s), score, type);
}

static azc_tokenizer_desc_t small_desc(small_vocab_t *v, azc_tokenizer_kind_t kind) {
  azc_tokenizer_desc_t d;
  azc_tokenizer_desc_init(&d);
  d.kind = kind;
  if (kind == AZC_TOKENIZER_BPE) d.pre = (azc_strview_t){"gpt-2", 5};
  d.n_vocab = v->n;
  d.tokens = v->tokens;
  d.scores = v->scores;
  d.token_types = v->types;
  d.n_merges = v->n_merges;
  d.merges = v->merges;
  return d;
}

/* <unk> <s> </s>, then (with bytes) <0x00>..<0xFF> at 3..258 */
static void spm_base(small_vocab_t *v, bool bytes) {
  memset(v, 0, sizeof(*v));
  add_str(v, "<unk>", 0, AZC_TOKEN_UNKNOWN);
  add_str(v, "<s>", 0, AZC_TOKEN_CONTROL);
  add_str(v, "</s>", 0, AZC_TOKEN_CONTROL);
  for (int b = 0; bytes && b < 256; b++) {
    char name[8];
    snprintf(name, sizeof(name), "<0x%02X>", b);
    add_str(v, name, 0, AZC_TOKEN_BYTE);
  }
}

static bool encodes_to(const azc_tokenizer_t *tok, const char *text, bool add_special,
                       bool parse_special, const int32_t *expect, size_t n_expect) {
  int32_t *ids = NULL;
  size_t n = 0;
  azc_status_t st =
      azc_tokenizer_encode(tok, text, strlen(text), add_special, parse_special, &ids, &n);
  bool ok = !st && ids_eq(ids, n, expect, n_expect);
  if (!ok) {
    fprintf(stderr, "\"%s\": %s\n", text, azc_status_message(st));
    print_ids("expected", expect, n_expect);
    print_ids("got     ", ids, n);
  }
  azc_status_free(st);
  free(ids);
  return ok;
}
#define ENCODES_TO(tok, text, add, parse, ...)                                                     \
  ASSERT(encodes_to(tok, text, add, parse, (const int32_t[]){__VA_ARGS__},                         \
                    sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)))

static void test_spm_small(void) {
  static small_vocab_t v;
  spm_base(&v, true);
  int sp = add_str(&v, "\xe2\x96\x81", -5, AZC_TOKEN_NORMAL);
  int a = add_str(&v, "a", -2, AZC_TOKEN_NORMAL);
  int b = add_str(&v, "b", -2, AZC_TOKEN_NORMAL);
  int c = add_str(&v, "c", -2, AZC_TOKEN_NORMAL);
  int ab = add_str(&v, "ab", -1, AZC_TOKEN_NORMAL);
  int bc = add_str(&v, "bc", -0.5f, AZC_TOKEN_NORMAL);
  int x = add_str(&v, "x", -2, AZC_TOKEN_NORMAL);
  int y = add_str(&v, "y", -2, AZC_TOKEN_NORMAL);
  int xy = add_str(&v, "xy", -1, AZC_TOKEN_NORMAL);
  int yx = add_str(&v, "yx", -1, AZC_TOKEN_NORMAL);
  int spa = add_str(&v,
                    "\xe2\x96\x81"
                    "a",
                    -3, AZC_TOKEN_NORMAL);
  int tool = add_str(&v, "<tool>", 0, AZC_TOKEN_USER_DEFINED);
  azc_tokenizer_desc_t d = small_desc(&v, AZC_TOKENIZER_SPM);
  d.bos_id = 1;
  d.eos_id = 2;
  d.unk_id = 0;
  d.add_space_prefix = 0;
  azc_tokenizer_t *tok;
  ASSERT_OK(azc_tokenizer_create(&d, &tok));
  ENCODES_TO(tok, "abc", false, false, a, bc); /* "bc" scores higher than "ab" */
  ENCODES_TO(tok, "xyx", false, false, xy, x); /* equal scores: the leftmost pair */
  ENCODES_TO(tok, "yxy", false, false, yx, y);
  ENCODES_TO(tok, "abab", false, false, ab, ab);
  ENCODES_TO(tok, "cab", false, false, c, ab);
  ENCODES_TO(tok, "\xc3\xa9", false, false, 3 + 0xC3, 3 + 0xA9); /* byte fallback */
  ENCODES_TO(tok, "a b", false, false, a, sp, b);
  ENCODES_TO(tok, "ab", true, false, 1, ab); /* SPM adds BOS by default, no EOS */
  ENCODES_TO(tok, "", true, false, 1);
  ENCODES_TO(tok, "", false, false);
  ENCODES_TO(tok, "a</s>b", false, true, a, 2, b);
  ENCODES_TO(tok, "a<tool>b", false, false, a, tool, b); /* user-defined: always */
  azc_tokenizer_destroy(tok);

  /* space prefix (the default), EOS from the metadata */
  d.add_space_prefix = -1;
  d.add_eos = 1;
  ASSERT_OK(azc_tokenizer_create(&d, &tok));
  ENCODES_TO(tok, "a", true, false, 1, spa, 2);
  ENCODES_TO(tok, "a</s>a", false, true, spa, 2, spa); /* a prefix after a special token */
  ENCODES_TO(tok, "a<tool>a", false, false, spa, tool, spa);
  char *s;
  size_t n;
  ASSERT_OK(azc_tokenizer_decode(tok, (int32_t[]){1, spa, 2, spa, 3 + 0xC3, 3 + 0xA9}, 6, &s, &n));
  ASSERT_STREQ(s, "a a\xc3\xa9");
  free(s);
  ASSERT(round_trip(tok, " a  b\xc3\xa9 ", 8, "small spm"));
  ASSERT(azc_tokenizer_is_eog(tok, 2) && !azc_tokenizer_is_eog(tok, 1));
  check_serialization(tok, true);
  azc_tokenizer_destroy(tok);

  /* no byte tokens: unknown bytes become <unk> */
  static small_vocab_t nb;
  spm_base(&nb, false);
  int na = add_str(&nb, "a", -1, AZC_TOKEN_NORMAL);
  d = small_desc(&nb, AZC_TOKENIZER_SPM);
  d.unk_id = 0;
  d.add_space_prefix = 0;
  ASSERT_OK(azc_tokenizer_create(&d, &tok));
  ENCODES_TO(tok, "a\xc3\xa9", false, false, na, 0, 0);
  azc_tokenizer_destroy(tok);
  d.unk_id = -1;
  ASSERT_OK(azc_tokenizer_create(&d, &tok));
  int32_t *ids = NULL;
  ASSERT_ERR(azc_tokenizer_encode(tok, "\xc3", 1, false, false, &ids, &n), AZC_UNSUPPORTED, "0xC3");
  ASSERT(ids == NULL);
  azc_tokenizer_destroy(tok);
}

/* a + sep + b into out (cap bytes, NUL-terminated, cut if too long) */
static void join(char *out, size_t cap, const char *a, const char *sep, const char *b) {
  size_t na = strlen(a), ns = strlen(sep), nb = strlen(b);
  if (na >= cap) na = cap - 1;
  if (ns > cap - 1 - na) ns = cap - 1 - na;
  if (nb > cap - 1 - na - ns) nb = cap - 1 - na - ns;
  memmove(out, a, na);
  memcpy(out + na, sep, ns);
  memmove(out + na + ns, b, nb);
  out[na + ns + nb] = 0;
}

/* Naive SPM: repeatedly merge the best adjacent pair (highest score, leftmost). */
static void spm_reference(const small_vocab_t *v, const char *text, int32_t *out, size_t *n_out) {
  char sym[64][64];
  int n = 0;
  for (const char *p = text; *p; p++) {
    sym[n][0] = *p;
    sym[n++][1] = 0;
  }
  for (;;) {
    int best = -1;
    float best_score = 0;
    for (int i = 0; i + 1 < n; i++) {
      char cat[128];
      join(cat, sizeof(cat), sym[i], "", sym[i + 1]);
      for (int t = v->n - 1; t >= 0; t--) /* the last duplicate is the token */
        if (v->tokens[t].size == strlen(cat) && memcmp(v->tokens[t].data, cat, strlen(cat)) == 0) {
          if (best < 0 || v->scores[t] > best_score) {
            best = i;
            best_score = v->scores[t];
          }
          break;
        }
    }
    if (best < 0) break;
    join(sym[best], sizeof(sym[best]), sym[best], "", sym[best + 1]);
    memmove(sym[best + 1], sym[best + 2], (size_t)(n - best - 2) * sizeof(sym[0]));
    n--;
  }
  *n_out = 0;
  for (int i = 0; i < n; i++)
    for (int t = v->n - 1; t >= 0; t--) /* the last duplicate wins, as in the tokenizer */
      if (v->tokens[t].size == strlen(sym[i]) &&
          memcmp(v->tokens[t].data, sym[i], strlen(sym[i])) == 0) {
        out[(*n_out)++] = t;
        break;
      }
}

static uint32_t rng_next(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(*s >> 33);
}

static void test_spm_random_vs_reference(void) {
  static small_vocab_t v;
  uint64_t rng = 12345;
  int mismatches = 0;
  for (int round = 0; round < 40; round++) {
    memset(&v, 0, sizeof(v));
    add_str(&v, "<unk>", 0, AZC_TOKEN_UNKNOWN);
    for (char ch = 'a'; ch <= 'd'; ch++) add_token(&v, &ch, 1, -10, AZC_TOKEN_NORMAL);
    int n_tok = 20 + (int)(rng_next(&rng) % 60);
    for (int i = 0; i < n_tok; i++) {
      char s[6];
      int len = 2 + (int)(rng_next(&rng) % 4);
      for (int k = 0; k < len; k++) s[k] = (char)('a' + rng_next(&rng) % 4);
      add_token(&v, s, (size_t)len, -(float)(rng_next(&rng) % 8), AZC_TOKEN_NORMAL); /* ties */
    }
    azc_tokenizer_desc_t d = small_desc(&v, AZC_TOKENIZER_SPM);
    d.unk_id = 0;
    d.add_space_prefix = 0;
    azc_tokenizer_t *tok;
    ASSERT_OK(azc_tokenizer_create(&d, &tok));
    for (int t = 0; t < 50; t++) {
      char text[40];
      int len = (int)(rng_next(&rng) % 39);
      for (int k = 0; k < len; k++) text[k] = (char)('a' + rng_next(&rng) % 4);
      text[len] = 0;
      int32_t expect[64];
      size_t n_expect;
      spm_reference(&v, text, expect, &n_expect);
      if (!encodes_to(tok, text, false, false, expect, n_expect)) mismatches++;
    }
    azc_tokenizer_destroy(tok);
  }
  ASSERT_EQ_INT(mismatches, 0);
}

/* A byte-level BPE vocabulary: the 256 byte tokens in GPT-2's alphabet, then
 * one token per merge. */
static void bpe_base(small_vocab_t *v) {
  memset(v, 0, sizeof(*v));
  for (int b = 0; b < 256; b++) {
    uint32_t cp = azc_gpt2_byte_to_cpt((uint8_t)b);
    char s[2];
    size_t n = 1;
    if (cp < 0x80)
      s[0] = (char)cp;
    else {
      s[0] = (char)(0xC0 | cp >> 6);
      s[1] = (char)(0x80 | (cp & 0x3F));
      n = 2;
    }
    add_token(v, s, n, 0, AZC_TOKEN_NORMAL);
  }
}

/* Adds merge "l r" (texts in the GPT-2 alphabet) and a token for l+r (if new). */
static int add_merge(small_vocab_t *v, const char *l, const char *r, bool make_token) {
  int m = v->n_merges++;
  snprintf(v->merge_text[m], sizeof(v->merge_text[m]), "%s %s", l, r);
  v->merges[m] = (azc_strview_t){v->merge_text[m], strlen(v->merge_text[m])};
  if (!make_token) return -1;
  char cat[24];
  snprintf(cat, sizeof(cat), "%s%s", l, r);
  for (int t = 0; t < v->n; t++)
    if (v->tokens[t].size == strlen(cat) && memcmp(v->tokens[t].data, cat, strlen(cat)) == 0)
      return t;
  return add_str(v, cat, 0, AZC_TOKEN_NORMAL);
}

static void test_bpe_small(void) {
  static small_vocab_t v;
  bpe_base(&v);
  int he = add_merge(&v, "h", "e", true);
  int ll = add_merge(&v, "l", "l", true);
  int hell = add_merge(&v, "he", "ll", true);
  int sp_w = add_merge(&v, "\xc4\xa0", "w", true); /* "Ġw" = " w" */
  add_merge(&v, "x", "y", false);                  /* result "xy" is no token */
  int eot = add_str(&v, "<|endoftext|>", 0, AZC_TOKEN_CONTROL);
  azc_tokenizer_desc_t d = small_desc(&v, AZC_TOKENIZER_BPE);
  d.bos_id = d.eos_id = eot;
  azc_tokenizer_t *tok;
  ASSERT_OK(azc_tokenizer_create(&d, &tok));
  ENCODES_TO(tok, "hello", true, false, hell, 'o'); /* no BOS for gpt2 by default */
  ENCODES_TO(tok, " w", false, false, sp_w);
  ENCODES_TO(tok, "  w", false, false, ' ', sp_w); /* "\s+(?!\S)" leaves one space */
  ENCODES_TO(tok, "he's", false, false, he, '\'', 's');
  ENCODES_TO(tok, "xy", false, false, 'x', 'y'); /* a merge that is no token: bytes */
  ENCODES_TO(tok, "\n", false, false, '\n');     /* token b is byte b */
  ENCODES_TO(tok, "ll<|endoftext|>", false, true, ll, eot);
  ASSERT(round_trip(tok, "hello  world\n\xff", 14, "small bpe"));
  ASSERT(azc_tokenizer_is_eog(tok, eot));
  check_serialization(tok, true);
  azc_tokenizer_destroy(tok);

  d.add_bos = 1;
  ASSERT_OK(azc_tokenizer_create(&d, &tok));
  ENCODES_TO(tok, "he", true, false, eot, he);
  azc_tokenizer_destroy(tok);

  /* malformed metadata is refused with a message */
  d.add_bos = -1;
  d.pre = (azc_strview_t){"qwen9", 5}; /* refused by name, as llama.cpp refuses it */
  ASSERT_ERR(azc_tokenizer_create(&d, &tok), AZC_UNSUPPORTED,
             "unknown pre-tokenizer type: 'qwen9'");
  d.pre = (azc_strview_t){"tekken", 6}; /* llama.cpp knows it, azc does not implement it */
  ASSERT_ERR(azc_tokenizer_create(&d, &tok), AZC_UNSUPPORTED, "'tekken' is known to llama.cpp");
  d.pre = (azc_strview_t){"gpt-2", 5};
  v.merges[0] = (azc_strview_t){"he", 2};
  ASSERT_ERR(azc_tokenizer_create(&d, &tok), AZC_CORRUPT, "merge 0");
  ASSERT(tok == NULL);
}

/* Naive BPE on one word (bytes): merge the lowest-ranked pair, leftmost. */
static void bpe_reference(const small_vocab_t *v, const char *word, int32_t *out, size_t *n_out) {
  char sym[64][64];
  int n = 0;
  for (const char *p = word; *p; p++) {
    sym[n][0] = *p;
    sym[n++][1] = 0;
  }
  for (;;) {
    int best = -1, best_rank = 0;
    for (int i = 0; i + 1 < n; i++) {
      char m[130];
      join(m, sizeof(m), sym[i], " ", sym[i + 1]);
      for (int r = 0; r < v->n_merges; r++)
        if (strcmp(v->merge_text[r], m) == 0 && (best < 0 || r < best_rank)) {
          best = i;
          best_rank = r;
          break;
        }
    }
    if (best < 0) break;
    join(sym[best], sizeof(sym[best]), sym[best], "", sym[best + 1]);
    memmove(sym[best + 1], sym[best + 2], (size_t)(n - best - 2) * sizeof(sym[0]));
    n--;
  }
  *n_out = 0;
  for (int i = 0; i < n; i++) {
    int found = -1;
    for (int t = v->n - 1; t >= 0 && found < 0; t--)
      if (v->tokens[t].size == strlen(sym[i]) &&
          memcmp(v->tokens[t].data, sym[i], strlen(sym[i])) == 0)
        found = t;
    if (found >= 0)
      out[(*n_out)++] = found;
    else
      for (const char *p = sym[i]; *p; p++) out[(*n_out)++] = (unsigned char)*p; /* bytes */
  }
}

static void test_bpe_random_vs_reference(void) {
  static small_vocab_t v;
  uint64_t rng = 777;
  int mismatches = 0;
  for (int round = 0; round < 40; round++) {
    bpe_base(&v);
    /* merges over pieces made of a..d, in random order; some without a token */
    char pieces[200][24] = {"a", "b", "c", "d"};
    int n_pieces = 4;
    int n_merges = 10 + (int)(rng_next(&rng) % 60);
    for (int m = 0; m < n_merges; m++) {
      const char *l = pieces[rng_next(&rng) % (uint32_t)n_pieces];
      const char *r = pieces[rng_next(&rng) % (uint32_t)n_pieces];
      size_t nl = strlen(l), nr = strlen(r);
      if (nl + nr > 10) continue;
      add_merge(&v, l, r, rng_next(&rng) % 8 != 0);
      memmove(pieces[n_pieces], l, nl);
      memmove(pieces[n_pieces] + nl, r, nr);
      pieces[n_pieces++][nl + nr] = 0;
    }
    azc_tokenizer_desc_t d = small_desc(&v, AZC_TOKENIZER_BPE);
    azc_tokenizer_t *tok;
    ASSERT_OK(azc_tokenizer_create(&d, &tok));
    for (int t = 0; t < 50; t++) {
      char text[40];
      int len = (int)(rng_next(&rng) % 39);
      for (int k = 0; k < len; k++) text[k] = (char)('a' + rng_next(&rng) % 4);
      text[len] = 0;
      int32_t expect[64];
      size_t n_expect;
      bpe_reference(&v, text, expect, &n_expect);
      if (!encodes_to(tok, text, false, false, expect, n_expect)) mismatches++;
    }
    azc_tokenizer_destroy(tok);
  }
  ASSERT_EQ_INT(mismatches, 0);
}

/* ---- the GPT-2 pre-tokenizer and character classes ---- */

typedef struct {
  char words[16][32];
  int n;
} words_t;

static azc_status_t collect_word(void *ctx, const char *s, size_t n) {
  words_t *w = ctx;
  if (w->n < 16 && n < 32) {
    memcpy(w->words[w->n], s, n);
    w->words[w->n][n] = 0;
  }
  w->n++;
  return NULL;
}

static void test_gpt2_pretokenizer(void) {
  /* expected splits from Python's `regex` module with the GPT-2 pattern */
  static const struct {
    const char *text;
    const char *words[8];
  } cases[] = {
      {"Hello world", {"Hello", " world"}},
      {"  Hello", {" ", " Hello"}},
      {"a  b", {"a", " ", " b"}},
      {"I'm  here\x0a\x0a  x", {"I", "'m", " ", " here", "\x0a\x0a ", " x"}},
      {"12abc 3.5", {"12", "abc", " 3", ".", "5"}},
      {"x\x09\x09y", {"x", "\x09", "\x09", "y"}},
      {"end   ", {"end", "   "}},
      {"'s's 'S 'll've", {"'s", "'s", " '", "S", " '", "ll", "'ve"}},
      {"Az\xc9\x99rbaycan dili, \xc9\x99!", {"Az\xc9\x99rbaycan", " dili", ",", " \xc9\x99", "!"}},
      {"\xd9\xa1\xd9\xa2\xd9\xa3 \xd9\xa4", {"\xd9\xa1\xd9\xa2\xd9\xa3", " \xd9\xa4"}},
      {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
       {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", " \xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88"}},
      {"a\xc2\xa0"
       "b",
       {"a", "\xc2\xa0", "b"}},
      {"\xe3\x80\x80x", {"\xe3\x80\x80", "x"}},
      {"\xf0\x9f\x91\x8b hi!!", {"\xf0\x9f\x91\x8b", " hi", "!!"}},
      {"don't", {"don", "'t"}},
      {"foo  \x0a bar", {"foo", "  \x0a", " bar"}},
      {" \x0a", {" \x0a"}},
      {"\xe2\x85\xab\xc2\xb2\xc2\xbdx", {"\xe2\x85\xab\xc2\xb2\xc2\xbd", "x"}},
      {"$ 5", {"$", " 5"}},
      {"a\xe2\x80\xa8"
       "b",
       {"a", "\xe2\x80\xa8", "b"}},
      {"x  ", {"x", "  "}},
      {"\xc2\x85y", {"\xc2\x85", "y"}},
      /* invalid bytes split like U+FFFD (a symbol) */
      {"a\xff\xfe b", {"a", "\xff\xfe", " b"}},
      {" \xc3", {" \xc3"}},
  };
  azc_tok_work_t w = {0};
  int fails = 0;
  for (size_t i = 0; i < AZC_ARRAY_SIZE(cases); i++) {
    words_t got = {0};
    azc_status_t st =
        azc_pre_split(AZC_PRE_GPT2, &w, cases[i].text, strlen(cases[i].text), collect_word, &got);
    int n_expect = 0;
    while (n_expect < 8 && cases[i].words[n_expect]) n_expect++;
    bool ok = !st && got.n == n_expect;
    for (int k = 0; ok && k < n_expect; k++) ok = strcmp(got.words[k], cases[i].words[k]) == 0;
    if (!ok) {
      fails++;
      fprintf(stderr, "split \"");
      print_escaped(cases[i].text, strlen(cases[i].text));
      fprintf(stderr, "\":");
      for (int k = 0; k < got.n && k < 16; k++) {
        fprintf(stderr, " \"");
        print_escaped(got.words[k], strlen(got.words[k]));
        fprintf(stderr, "\"");
      }
      fprintf(stderr, "\n");
    }
    azc_status_free(st);
  }
  azc_tok_work_free(&w);
  ASSERT_EQ_INT(fails, 0);
}

static int ucat(uint32_t cp) { return azc_unicode_flags(cp) & AZC_UNICODE_CAT_MASK; }
static bool uspace(uint32_t cp) { return (azc_unicode_flags(cp) & AZC_UNICODE_WHITESPACE) != 0; }

static void test_unicode_classes(void) {
  ASSERT_STREQ(azc_unicode_version, "15.0.0");
  ASSERT_EQ_INT(ucat('a'), AZC_UCAT_LETTER);
  ASSERT_EQ_INT(ucat('7'), AZC_UCAT_NUMBER);
  ASSERT(uspace(' ') && uspace('\v') && uspace('\r') && !uspace('x') && !uspace(0x1C));
  ASSERT_EQ_INT(ucat(' '), AZC_UCAT_SEPARATOR);
  ASSERT_EQ_INT(ucat('\n'), AZC_UCAT_CONTROL);
  ASSERT_EQ_INT(ucat('_'), AZC_UCAT_PUNCTUATION);
  ASSERT_EQ_INT(ucat('$'), AZC_UCAT_SYMBOL);
  ASSERT_EQ_INT(ucat('~'), AZC_UCAT_SYMBOL);
  ASSERT_EQ_INT(ucat(0x259), AZC_UCAT_LETTER);   /* ə */
  ASSERT_EQ_INT(ucat(0x131), AZC_UCAT_LETTER);   /* ı */
  ASSERT_EQ_INT(ucat(0x1C5), AZC_UCAT_LETTER);   /* ǅ, titlecase */
  ASSERT_EQ_INT(ucat(0x4E2D), AZC_UCAT_LETTER);  /* 中 */
  ASSERT_EQ_INT(ucat(0x20B9F), AZC_UCAT_LETTER); /* 𠮟 */
  ASSERT_EQ_INT(ucat(0x663), AZC_UCAT_NUMBER);   /* ٣ */
  ASSERT_EQ_INT(ucat(0xB2), AZC_UCAT_NUMBER);    /* ², No */
  ASSERT_EQ_INT(ucat(0x216B), AZC_UCAT_NUMBER);  /* Ⅻ, Nl */
  ASSERT(uspace(0xA0) && uspace(0x85) && uspace(0x3000) && uspace(0x2028) && uspace(0x1680));
  ASSERT(!uspace(0x200B) && !uspace(0xFEFF) && !uspace(0x180E)); /* not White_Space */
  ASSERT_EQ_INT(ucat(0x200B), AZC_UCAT_CONTROL);                 /* zero width space is Cf */
  ASSERT_EQ_INT(ucat(0x301), AZC_UCAT_MARK);                     /* combining acute */
  ASSERT_EQ_INT(ucat(0x1F600), AZC_UCAT_SYMBOL);                 /* 😀 */
  ASSERT_EQ_INT(ucat(0x2026), AZC_UCAT_PUNCTUATION);
  ASSERT_EQ_INT(ucat(0xE000), AZC_UCAT_CONTROL); /* private use, Co */
  ASSERT_EQ_INT(ucat(0xD800), AZC_UCAT_CONTROL); /* surrogate, Cs */
  ASSERT_EQ_INT(ucat(0x10FFFF), AZC_UCAT_UNDEFINED);
  ASSERT_EQ_INT(ucat(0xE0000), AZC_UCAT_UNDEFINED); /* unassigned */
  ASSERT_EQ_INT(ucat(0x110000), AZC_UCAT_UNDEFINED);
  ASSERT_EQ_INT(ucat(0x2EBF0), AZC_UCAT_UNDEFINED); /* assigned in 15.1, not in 15.0 */
  ASSERT_EQ_INT(ucat(0x31350), AZC_UCAT_LETTER);    /* CJK extension H, new in 15.0 */
  /* the GPT-2 alphabet is a bijection between bytes and its 256 characters */
  for (int b = 0; b < 256; b++)
    ASSERT_EQ_INT(azc_gpt2_cpt_to_byte(azc_gpt2_byte_to_cpt((uint8_t)b)), b);
  ASSERT_EQ_INT(azc_gpt2_byte_to_cpt(' '), 0x120);
  ASSERT_EQ_INT(azc_gpt2_byte_to_cpt('\n'), 0x10A);
  ASSERT_EQ_INT(azc_gpt2_cpt_to_byte(0x144), -1);
}

/* ---- argument checks ---- */

static void test_bad_descriptions(void) {
  static small_vocab_t v;
  spm_base(&v, false);
  azc_tokenizer_desc_t d = small_desc(&v, AZC_TOKENIZER_SPM);
  azc_tokenizer_t *tok = (azc_tokenizer_t *)&v; /* must be reset to NULL */
  ASSERT_ERR(azc_tokenizer_create(NULL, &tok), AZC_INVALID_ARGUMENT, "");
  ASSERT(tok == NULL);
  d.bos_id = 3;
  ASSERT_ERR(azc_tokenizer_create(&d, &tok), AZC_INVALID_ARGUMENT, "BOS token id 3");
  d.bos_id = -1;
  d.add_bos = 1;
  ASSERT_ERR(azc_tokenizer_create(&d, &tok), AZC_INVALID_ARGUMENT, "BOS");
  d.add_bos = 2;
  ASSERT_ERR(azc_tokenizer_create(&d, &tok), AZC_INVALID_ARGUMENT, "add_bos");
  d.add_bos = -1;
  v.types[1] = 9;
  ASSERT_ERR(azc_tokenizer_create(&d, &tok), AZC_INVALID_ARGUMENT, "type 9");
  v.types[1] = AZC_TOKEN_CONTROL;
  d.n_vocab = 0;
  ASSERT_ERR(azc_tokenizer_create(&d, &tok), AZC_INVALID_ARGUMENT, "empty");
  d.n_vocab = v.n;
  d.kind = (azc_tokenizer_kind_t)7;
  ASSERT_ERR(azc_tokenizer_create(&d, &tok), AZC_UNSUPPORTED, "kind 7");
  d.kind = AZC_TOKENIZER_SPM;
  /* no BOS: add_bos by default just adds nothing */
  ASSERT_OK(azc_tokenizer_create(&d, &tok));
  ASSERT(!azc_tokenizer_adds_bos(tok));
  int32_t *ids = (int32_t *)&v;
  size_t n = 7;
  ASSERT_ERR(azc_tokenizer_encode(tok, NULL, 3, true, false, &ids, &n), AZC_INVALID_ARGUMENT, "");
  ASSERT(ids == NULL && n == 0);
  ASSERT_OK(azc_tokenizer_encode(tok, NULL, 0, true, false, &ids, &n));
  ASSERT(ids != NULL && n == 0);
  free(ids);
  char *s;
  ASSERT_OK(azc_tokenizer_decode(tok, NULL, 0, &s, NULL));
  ASSERT_STREQ(s, "");
  free(s);
  azc_tokenizer_destroy(tok);
  azc_tokenizer_destroy(NULL);
  ASSERT(!azc_tokenizer_is_eog(NULL, 0) && azc_tokenizer_n_vocab(NULL) == 0);
}

/* ---- end of generation in the generate loop ---- */

/* An executor whose logits pick the next token of a script (one sequence). */
typedef struct {
  azc_executor_t base;
  const int32_t *script;
  int n_script, next;
} script_exec_t;

static azc_status_t script_forward(azc_executor_t *ex, const azc_batch_t *b, float *logits) {
  script_exec_t *s = (script_exec_t *)ex;
  for (int32_t o = 0; o < b->n_out; o++) {
    float *row = logits + (size_t)o * (size_t)ex->n_vocab;
    for (int32_t i = 0; i < ex->n_vocab; i++) row[i] = 0;
    row[s->script[s->next < s->n_script ? s->next : s->n_script - 1]] = 10;
  }
  s->next++;
  return NULL;
}
static void script_destroy(azc_executor_t *ex) { (void)ex; }
static const azc_executor_ops_t script_ops = {"script", script_forward, script_destroy};

static void test_generate_stops_at_eog(void) {
  /* <|im_end|> is only NORMAL in the file: it ends generation all the same,
   * as in llama.cpp (which also makes it CONTROL), while EOS is something else
   * and EOT is <|eot_id|> (first in llama.cpp's list of EOT texts) */
  static small_vocab_t v;
  bpe_base(&v);
  int im_end = add_str(&v, "<|im_end|>", 0, AZC_TOKEN_NORMAL);
  int eos = add_str(&v, "<|endoftext|>", 0, AZC_TOKEN_CONTROL);
  int eot = add_str(&v, "<|eot_id|>", 0, AZC_TOKEN_CONTROL);
  azc_tokenizer_desc_t d = small_desc(&v, AZC_TOKENIZER_BPE);
  d.eos_id = eos;
  azc_tokenizer_t *tok;
  ASSERT_OK(azc_tokenizer_create(&d, &tok));
  ASSERT(azc_tokenizer_is_eog(tok, im_end) && azc_tokenizer_is_eog(tok, eos));
  ASSERT(!azc_tokenizer_is_eog(tok, 'a'));
  ASSERT_EQ_INT(azc_tokenizer_token_type(tok, im_end), AZC_TOKEN_CONTROL);
  ASSERT_EQ_INT(azc_tokenizer_eot(tok), eot);
  ASSERT(azc_tokenizer_is_eog(tok, eot));
  const int32_t script[] = {'S', 'a', 'l', 'a', 'm', im_end, 'x', 'y'};
  script_exec_t ex = {{&script_ops, v.n, 64, 1, 16, 1}, script, 8, 0};
  azc_generate_params_t p = azc_generate_params_default();
  p.sampling.temperature = 0;
  p.n_predict = 20;
  const char *prompt = "hi";
  size_t len = 2;
  azc_generate_result_t r;
  memset(&r, 0, sizeof(r));
  azc_generate_timings_t tm;
  azc_status_t st = azc_generate(&ex.base, tok, &prompt, &len, 1, &p, &r, &tm);
  bool ok = !st && r.stop == AZC_STOP_EOS && r.n_tokens == 5 && !strcmp(r.text, "Salam");
  if (!ok)
    fprintf(stderr, "  stop %d, %zu tokens, \"%s\" %s\n", r.stop, r.n_tokens, r.text ? r.text : "",
            st ? azc_status_message(st) : "");
  azc_status_free(st);
  azc_generate_result_free(&r);
  /* ignore_eos goes past it */
  ex.next = 0;
  p.ignore_eos = true;
  p.n_predict = 7;
  memset(&r, 0, sizeof(r));
  st = azc_generate(&ex.base, tok, &prompt, &len, 1, &p, &r, &tm);
  bool ok2 = !st && r.stop == AZC_STOP_LENGTH && r.n_tokens == 7 && !strcmp(r.text, "Salamx");
  azc_status_free(st);
  azc_generate_result_free(&r);
  azc_tokenizer_destroy(tok);
  ASSERT(ok);
  ASSERT(ok2);
}

/* ---- speed ---- */

/* CPU time of this process: the machine is shared, and wall time there
 * measures the other jobs as much as the tokenizer. */
static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_speed(void) {
  gguf_vocab_t v;
  azc_tokenizer_t *tok;
  char path[1024];
  if (!test_shared_path(path, sizeof(path), "vocab/ggml-vocab-gpt-2.gguf"))
    TEST_SKIP("vocab/ggml-vocab-gpt-2.gguf not found (AZC_SHARED_DIR)");
  ASSERT_OK(vocab_read(path, &v));
  double best = 1e9;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = cpu_ms();
    azc_status_t st = azc_tokenizer_create(&v.d, &tok);
    double dt = cpu_ms() - t0;
    if (st) vocab_free(&v);
    ASSERT_OK(st);
    if (dt < best) best = dt;
    if (rep < 4) azc_tokenizer_destroy(tok);
  }
  /* about 1 MB of mixed text */
  size_t cap = 1 << 20, n = 0;
  char *big = malloc(cap);
  for (size_t i = 0; big && n + 300 < cap; i++) {
    const text_t *t = &round_trip_texts[i % AZC_ARRAY_SIZE(round_trip_texts)];
    memcpy(big + n, t->s, t->n);
    n += t->n;
  }
  int32_t *ids = NULL;
  size_t n_ids = 0;
  double t0 = cpu_ms();
  azc_status_t st = big ? azc_tokenizer_encode(tok, big, n, false, false, &ids, &n_ids) : NULL;
  double enc_ms = cpu_ms() - t0;
  free(big);
  free(ids);
  azc_tokenizer_destroy(tok);
  vocab_free(&v);
  ASSERT_OK(st);
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
  const double create_limit = 250, mb_per_s = 0.5; /* sanitizer / debug builds */
#else
  const double create_limit = 50, mb_per_s = 5;
#endif
  fprintf(stderr,
          "  GPT-2 (50257 tokens, 50000 merges): create %.1f ms; encode %.2f MB/s (CPU time)\n",
          best, (double)n / 1e6 / (enc_ms / 1e3));
  ASSERT_MSG(best < create_limit, "create took %.1f ms", best);
  ASSERT_MSG((double)n / 1e6 / (enc_ms / 1e3) > mb_per_s, "encode at %.2f MB/s",
             (double)n / 1e6 / (enc_ms / 1e3));
}

int main(void) {
  RUN(test_unicode_classes);
  RUN(test_gpt2_pretokenizer);
  RUN(test_spm_small);
  RUN(test_spm_random_vs_reference);
  RUN(test_bpe_small);
  RUN(test_bpe_random_vs_reference);
  RUN(test_bad_descriptions);
  RUN(test_deserialize_rejects);
  RUN(test_vectors_llama_spm);
  RUN(test_vectors_gpt2);
  RUN(test_vectors_phi3);
  RUN(test_vectors_starcoder);
  RUN(test_vectors_refact);
  RUN(test_vectors_mpt);
  RUN(test_vectors_falcon);
  RUN(test_vectors_deepseek_llm);
  RUN(test_vectors_deepseek_coder);
  RUN(test_round_trip_shared);
  RUN(test_known_answers);
  RUN(test_golden_prompts_and_text);
  RUN(test_decode_spm_details);
  RUN(test_decode_gpt2_details);
  RUN(test_serialize_shared);
  RUN(test_generate_stops_at_eog);
  RUN(test_speed);
  return test_summary();
}
