/* llama.cpp's token ids for each line of a file (vocab-only load): one line of ids per input line.
 * usage: llama_tok VOCAB.gguf FILE [parse_special] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"
int main(int argc, char **argv) {
  llama_backend_init();
  struct llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  struct llama_model *m = llama_model_load_from_file(argv[1], mp);
  if (!m) return 1;
  const struct llama_vocab *v = llama_model_get_vocab(m);
  bool special = argc > 3 && atoi(argv[3]);
  FILE *f = fopen(argv[2], "rb");
  static char line[1 << 16];
  static llama_token toks[1 << 16];
  while (fgets(line, sizeof line, f)) {
    size_t n = strlen(line);
    if (n && line[n - 1] == '\n') line[--n] = 0;
    /* \n in the text is written as the two characters \ n */
    char buf[1 << 16]; size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if (line[i] == '\\' && i + 1 < n && line[i + 1] == 'n') { buf[k++] = '\n'; i++; }
      else if (line[i] == '\\' && i + 1 < n && line[i + 1] == 't') { buf[k++] = '\t'; i++; }
      else buf[k++] = line[i];
    }
    buf[k] = 0;
    int r = llama_tokenize(v, buf, (int)k, toks, 1 << 16, false, special);
    for (int i = 0; i < r; i++) printf("%s%d", i ? " " : "", toks[i]);
    printf("\n");
  }
  return 0;
}
