/* Detokenizing arbitrary ids with the synthetic SPM and BPE tokenizers
 * (tests/fuzz/fuzz_tokenizers.h). Input: byte 0 picks the tokenizer (bit 0:
 * BPE, then byte 0 >> 1 the BPE pre-tokenizer family); then u16 values, each
 * an id (v % (n_vocab + 16) - 8: mostly inside the vocabulary, some just
 * outside). decode must either refuse an id outside the vocabulary with an
 * INVALID_ARGUMENT status that names it, or give the concatenated pieces
 * (token_to_piece), less SPM's one leading space; token_to_piece must never
 * write past the buffer it is given, and the token accessors must stay in
 * range. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const azc_tokenizer_t *tok = data[0] & 1 ? toks.bpe[(data[0] >> 1) % AZC_FUZZ_N_PRE] : toks.spm;
  size_t n = (size - 1) / 2;
  int32_t *ids = malloc((n + 1) * sizeof(int32_t));
  FUZZ_CHECK(ids);
  const int32_t n_vocab = azc_tokenizer_n_vocab(tok);
  bool all_in = true;
  size_t total = 0;
  char piece[8];
  for (size_t i = 0; i < n; i++) {
    ids[i] = azc_fuzz_id_decode(tok, (uint16_t)(data[1 + 2 * i] | data[2 + 2 * i] << 8));
    bool in = ids[i] >= 0 && ids[i] < n_vocab;
    all_in &= in;
    /* a small buffer: the piece may be longer than cap, never written past it */
    size_t len = azc_tokenizer_token_to_piece(tok, ids[i], piece, (size_t)(i % sizeof(piece)));
    FUZZ_CHECK(in || len == 0);
    total += len;
    azc_strview_t t = azc_tokenizer_token_text(tok, ids[i]);
    fuzz_touch(t.data, t.size);
    int type = azc_tokenizer_token_type(tok, ids[i]);
    FUZZ_CHECK(in ? type >= AZC_TOKEN_NORMAL && type <= AZC_TOKEN_BYTE : type == 0);
    (void)azc_tokenizer_is_eog(tok, ids[i]);
  }
  char *out = NULL;
  size_t len = 0;
  azc_status_t st = azc_tokenizer_decode(tok, ids, n, &out, &len);
  if (!all_in) {
    FUZZ_CHECK(st && azc_status_code(st) == AZC_INVALID_ARGUMENT && !out);
    FUZZ_CHECK(strstr(azc_status_message(st), "outside the vocabulary"));
    FUZZ_CHECK(fuzz_failed(st, FUZZ_CODE(AZC_INVALID_ARGUMENT)));
  } else {
    FUZZ_CHECK(!st && out && out[len] == 0);
    FUZZ_CHECK(len == total || len + 1 == total);
    fuzz_touch(out, len + 1);
    free(out);
  }
  free(ids);
  return 0;
}
