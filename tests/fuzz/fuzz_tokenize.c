/* Tokenizer encode on arbitrary bytes, SentencePiece (fuzz_tokenize_spm) or
 * byte-level BPE (fuzz_tokenize_bpe): one source, the mode is compiled in.
 *
 * Input: byte 0 holds the flags (bit 0 add_special, bit 1 parse_special) and,
 * for BPE, the pre-tokenizer family (byte 0 >> 2, modulo the families of
 * tests/fuzz/fuzz_tokenizers.h); the rest is the text, any bytes. Encode must
 * succeed (every text up to the tokenizer's limit is encodable: both
 * vocabularies have byte tokens) with ids inside the vocabulary, and without
 * parse_special decode(encode(text)) must give the text back (SPM: with each
 * U+2581 "▁" of the text read as a space), as runtime/tokenizer.c promises.
 * token_to_piece of each id must agree with decode. */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_tokenizers.h"

static azc_fuzz_tokenizers_t toks;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  azc_status_t st = azc_fuzz_tokenizers_make(&toks);
  if (st) {
    fprintf(stderr, "%s: cannot build the tokenizers: %s\n", AZC_FUZZ_NAME, azc_status_message(st));
    exit(1);
  }
  return 0;
}

#ifdef AZC_FUZZ_MODE_SPM
/* SPM's decode gives "▁" (E2 96 81) of the text back as a space */
static size_t spm_expected(const uint8_t *text, size_t n, char *out) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (i + 2 < n && text[i] == 0xe2 && text[i + 1] == 0x96 && text[i + 2] == 0x81) {
      out[k++] = ' ';
      i += 2;
    } else {
      out[k++] = (char)text[i];
    }
  }
  return k;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const bool add_special = data[0] & 1, parse_special = data[0] & 2;
#ifdef AZC_FUZZ_MODE_SPM
  const azc_tokenizer_t *tok = toks.spm;
#else
  const azc_tokenizer_t *tok = toks.bpe[(data[0] >> 2) % AZC_FUZZ_N_PRE];
#endif
  const char *text = (const char *)data + 1;
  const size_t n = size - 1;
  int32_t *ids = NULL;
  size_t n_ids = 0;
  azc_status_t st = azc_tokenizer_encode(tok, text, n, add_special, parse_special, &ids, &n_ids);
  if (st) {
    fprintf(stderr, "encode failed: %s\n", azc_status_message(st));
    FUZZ_CHECK(!"encode of any text must succeed");
  }
  const int32_t n_vocab = azc_tokenizer_n_vocab(tok);
  size_t pieces = 0;
  for (size_t i = 0; i < n_ids; i++) {
    FUZZ_CHECK(ids[i] >= 0 && ids[i] < n_vocab);
    pieces += azc_tokenizer_token_to_piece(tok, ids[i], NULL, 0);
  }
  char *out = NULL;
  size_t len = 0;
  st = azc_tokenizer_decode(tok, ids, n_ids, &out, &len);
  FUZZ_CHECK(!st && out && out[len] == 0);
  FUZZ_CHECK(len == pieces || len + 1 == pieces); /* decode may drop SPM's leading space */
  if (!parse_special) {
#ifdef AZC_FUZZ_MODE_SPM
    char *want = malloc(n + 1);
    FUZZ_CHECK(want);
    size_t want_n = spm_expected(data + 1, n, want);
#else
    const char *want = text;
    size_t want_n = n;
#endif
    if (len != want_n || memcmp(out, want, len)) {
      fprintf(stderr, "decode(encode(text)) differs: %zu bytes in, %zu out\n", want_n, len);
      FUZZ_CHECK(!"decode(encode(text)) == text");
    }
#ifdef AZC_FUZZ_MODE_SPM
    free(want);
#endif
  }
  free(out);
  free(ids);
  return 0;
}
