/* azc's ids against a JavaScript tokenizer's (transformers.js, via
 * test_tokenizer_js.sh) on the same texts, with a vocab-only GGUF that
 * `azc mkmodel --vocab-from-json` wrote from the same tokenizer.json.
 *
 * usage: compare_js VOCAB.gguf TEXTS.inp JS.ids JS.nfc LABEL
 *
 * transformers.js splits every added token out of the text, so azc encodes
 * with parse_special (and no BOS/EOS: add_special_tokens false). A text
 * whose ids differ but equal azc's ids for the text in NFC is counted apart:
 * the Qwen tokenizer normalizes to NFC and llama.cpp (so azc) does not. Every
 * other difference fails the test and is printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/vocab.h"
#include "runtime/base/file.h"
#include "runtime/base/util.h"
#include "runtime/tokenizer.h"
#include "tests/tokenizer/inp.h"

static bool same(const int32_t *ids, size_t n, const char *line) {
  const char *p = line;
  for (size_t i = 0; i < n; i++) {
    char *e;
    long v = strtol(p, &e, 10);
    if (e == p || v != ids[i]) return false;
    p = e;
  }
  while (*p == ' ') p++;
  return *p == '\n' || *p == 0;
}

static void print_line(const char *what, const char *line) {
  const char *nl = strchr(line, '\n');
  int n = nl ? (int)(nl - line) : (int)strlen(line);
  fprintf(stderr, "    %s: %.*s%s\n", what, n > 400 ? 400 : n, line, n > 400 ? " ..." : "");
}

static void print_ids(const char *what, const int32_t *ids, size_t n) {
  fprintf(stderr, "    %s:", what);
  for (size_t i = 0; i < n && i < 80; i++) fprintf(stderr, " %d", ids[i]);
  fprintf(stderr, n > 80 ? " ...\n" : "\n");
}

static azc_status_t encode(const azc_tokenizer_t *tok, const char *s, size_t n, int32_t **ids,
                           size_t *n_ids) {
  return azc_tokenizer_encode(tok, s, n, false, true, ids, n_ids);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: compare_js VOCAB.gguf TEXTS.inp JS.ids JS.nfc LABEL\n");
    return 2;
  }
  const char *label = argv[5];
  char *texts = NULL, *js = NULL, *nfc = NULL;
  size_t n_texts_b = 0, n_js = 0, n_nfc = 0;
  azc_vocab_file_t *v = NULL;
  azc_tokenizer_t *tok = NULL;
  azc_status_t st = azc_file_read_all(argv[2], &texts, &n_texts_b);
  if (!st) st = azc_file_read_all(argv[3], &js, &n_js);
  if (!st) st = azc_file_read_all(argv[4], &nfc, &n_nfc);
  if (!st) st = azc_vocab_open(argv[1], &v);
  double t0 = azc_time_ms();
  if (!st) st = azc_tokenizer_create(&v->desc, &tok);
  double create_ms = azc_time_ms() - t0;
  if (st) {
    fprintf(stderr, "%s: %s\n", label, azc_status_message(st));
    return 1;
  }
  int n = 0, equal = 0, equal_nfc = 0, differ = 0;
  for (int i = 0;; i++) {
    const char *s, *line = inp_line(js, n_js, i);
    size_t len;
    if (!inp_text(texts, n_texts_b, i, &s, &len)) break;
    if (!line) {
      fprintf(stderr, "%s: no JS ids for text %d\n", label, i);
      differ++;
      break;
    }
    n++;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    st = encode(tok, s, len, &ids, &n_ids);
    if (!st && same(ids, n_ids, line)) {
      equal++;
    } else {
      const char *ns;
      size_t nlen;
      int32_t *nids = NULL;
      size_t n_nids = 0;
      bool by_nfc = !st && inp_text(nfc, n_nfc, i, &ns, &nlen) &&
                    (nlen != len || memcmp(ns, s, len) != 0) &&
                    !encode(tok, ns, nlen, &nids, &n_nids) && same(nids, n_nids, line);
      if (by_nfc) {
        equal_nfc++;
        fprintf(stderr,
                "  %s: text %d differs only by NFC normalization (llama.cpp applies none)\n", label,
                i);
      } else {
        differ++;
        fprintf(stderr, "  %s: text %d differs from the JS tokenizer %s\n    text: \"%.*s\"\n",
                label, i, st ? azc_status_message(st) : "", (int)(len > 200 ? 200 : len), s);
        print_line("JS ", line);
        print_ids("azc", ids, n_ids);
      }
      free(nids);
    }
    azc_status_free(st);
    st = NULL;
    free(ids);
  }
  printf("%s: %d texts: %d equal to the JS tokenizer, %d equal after NFC, %d differ\n", label, n,
         equal, equal_nfc, differ);
  /* speed, for the record (not a pass condition: timings here are noisy) */
  size_t big_n = 0, cap = 1 << 20;
  char *big = malloc(cap);
  while (big && big_n + n_texts_b <= cap) {
    memcpy(big + big_n, texts, n_texts_b);
    big_n += n_texts_b;
  }
  int32_t *ids = NULL;
  size_t n_ids = 0;
  t0 = azc_time_ms();
  st = big ? azc_tokenizer_encode(tok, big, big_n, false, false, &ids, &n_ids) : NULL;
  double enc_ms = azc_time_ms() - t0;
  printf("%s: %d tokens; tokenizer created in %.0f ms; %.2f MB encoded at %.1f MB/s (%zu ids)\n",
         label, azc_tokenizer_n_vocab(tok), create_ms, (double)big_n / 1e6,
         (double)big_n / 1e3 / (enc_ms > 0 ? enc_ms : 1), n_ids);
  azc_status_free(st);
  free(ids);
  free(big);
  azc_tokenizer_destroy(tok);
  azc_vocab_close(v);
  free(texts);
  free(js);
  free(nfc);
  return differ || n == 0 ? 1 : 0;
}
