/* azc tokenize MODEL TEXT [--bos]: prints the token ids of TEXT on one line.
 * Without --bos no special tokens are added; with it, BOS is added first (and
 * EOS last if the model's metadata asks for it). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "frontend/model.h"

int azc_cmd_tokenize(int argc, char **argv) {
  const char *path = NULL, *text = NULL;
  bool bos = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--bos")) bos = true;
    else if (!strcmp(argv[i], "--help")) {
      printf("usage: azc tokenize MODEL.gguf TEXT [--bos]\n");
      return 0;
    } else if (!path) path = argv[i];
    else if (!text) text = argv[i];
    else return cli_usage_error("tokenize: unexpected argument '%s'", argv[i]);
  }
  if (!path || !text) return cli_usage_error("tokenize: usage: azc tokenize MODEL TEXT [--bos]");
  azc_model_t *m;
  azc_status_t st = azc_model_open(path, &m);
  if (st) return cli_fail(st);
  if (!m->tok.n_vocab) {
    azc_model_close(m);
    return cli_usage_error("%s: the file has no tokenizer (tokenizer.ggml.* keys)", path);
  }
  azc_tokenizer_t *tok;
  st = azc_tokenizer_create(&m->tok, &tok);
  if (st) {
    azc_model_close(m);
    return cli_fail(azc_status_wrap(st, "%s: tokenizer", path));
  }
  int32_t *ids = NULL;
  size_t n = 0;
  st = azc_tokenizer_encode(tok, text, strlen(text), bos, false, &ids, &n);
  if (!st) {
    int32_t b = azc_tokenizer_bos(tok);
    bool lead = bos && b >= 0 && (n == 0 || ids[0] != b);
    if (lead) printf("%d", b);
    for (size_t i = 0; i < n; i++) printf("%s%d", (i || lead) ? " " : "", ids[i]);
    printf("\n");
  }
  free(ids);
  azc_tokenizer_destroy(tok);
  azc_model_close(m);
  return st ? cli_fail(st) : 0;
}
