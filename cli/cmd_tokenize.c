/* azc tokenize MODEL TEXT [--bos] [--special]: prints the token ids of TEXT on
 * one line. MODEL is any GGUF file with a tokenizer, of any architecture
 * (vocab-only files included): only its tokenizer.* keys are read.
 * Without --bos no special tokens are added; with it, BOS is added first (and
 * EOS last if the model's metadata asks for it). With --special, text that
 * spells a control token becomes that token (llama.cpp's parse_special);
 * user-defined tokens are always split out. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "frontend/vocab.h"

int azc_cmd_tokenize(int argc, char **argv) {
  const char *path = NULL, *text = NULL;
  bool bos = false, special = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--bos"))
      bos = true;
    else if (!strcmp(argv[i], "--special"))
      special = true;
    else if (!strcmp(argv[i], "--help")) {
      printf("usage: azc tokenize MODEL.gguf TEXT [--bos] [--special]\n");
      return 0;
    } else if (!path)
      path = argv[i];
    else if (!text)
      text = argv[i];
    else
      return cli_usage_error("tokenize: unexpected argument '%s'", argv[i]);
  }
  if (!path || !text)
    return cli_usage_error("tokenize: usage: azc tokenize MODEL TEXT [--bos] [--special]");
  azc_vocab_file_t *v;
  azc_status_t st = azc_vocab_open(path, &v);
  if (st) return cli_fail(st);
  azc_tokenizer_t *tok;
  st = azc_tokenizer_create(&v->desc, &tok);
  if (st) {
    azc_vocab_close(v);
    return cli_fail(azc_status_wrap(st, "%s: tokenizer", path));
  }
  int32_t *ids = NULL;
  size_t n = 0;
  st = azc_tokenizer_encode(tok, text, strlen(text), bos, special, &ids, &n);
  if (!st) {
    int32_t b = azc_tokenizer_bos(tok);
    bool lead = bos && b >= 0 && (n == 0 || ids[0] != b);
    if (lead) printf("%d", b);
    for (size_t i = 0; i < n; i++) printf("%s%d", (i || lead) ? " " : "", ids[i]);
    printf("\n");
  }
  free(ids);
  azc_tokenizer_destroy(tok);
  azc_vocab_close(v);
  return st ? cli_fail(st) : 0;
}
