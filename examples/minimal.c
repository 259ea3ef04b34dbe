/* A complete program on the runtime's public API alone (azrt.h): open a
 * bundle, tokenize a prompt, evaluate it, then sample and print tokens.
 *
 *   cc minimal.c -lazrt -o minimal && ./minimal model.bundle "Once upon a time" 32 */
#include <stdio.h>
#include <stdlib.h>

#include "azrt.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL.bundle PROMPT [N]\n", argv[0]);
    return 1;
  }
  int n_predict = argc > 3 ? atoi(argv[3]) : 32;
  azrt_model_t *model;
  if (azrt_model_open(argv[1], &model) != AZRT_OK) {
    fprintf(stderr, "error: %s\n", azrt_last_error());
    return 1;
  }
  azrt_session_params_t params = azrt_session_params_default();
  params.temperature = 0.0f; /* greedy: the same text every run */
  azrt_session_t *session;
  if (azrt_session_create(model, &params, &session) != AZRT_OK) {
    fprintf(stderr, "error: %s\n", azrt_last_error());
    azrt_model_close(model);
    return 1;
  }
  int32_t tokens[1024];
  int n = azrt_tokenize(model, argv[2], -1, 1, tokens, 1024);
  int rc = 0;
  if (n <= 0 || n > 1024 || azrt_eval(session, tokens, n) != AZRT_OK) {
    fprintf(stderr, "error: %s\n", n <= 0 ? azrt_last_error() : "prompt too long or eval failed");
    rc = 1;
  }
  for (int i = 0; rc == 0 && i < n_predict; i++) {
    int32_t t = azrt_sample(session);
    if (azrt_model_is_eog(model, t)) break;
    char piece[256];
    int len = azrt_token_to_piece(model, t, piece, sizeof(piece));
    if (len > 0) fwrite(piece, 1, (size_t)(len < 256 ? len : 256), stdout);
    if (azrt_eval(session, &t, 1) != AZRT_OK) {
      fprintf(stderr, "\nerror: %s\n", azrt_last_error());
      rc = 1;
    }
  }
  printf("\n");
  azrt_session_free(session);
  azrt_model_close(model);
  return rc;
}
