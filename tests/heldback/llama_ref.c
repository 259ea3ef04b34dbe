/* llama.cpp's outputs for one model, in the format of ../shared/golden and
 * tests/arch/data: prompt ids, NSTEPS greedy steps with their top-5 logits, and
 * the logits at the last prompt position (OUTPREFIX.logits.f32). The prompt is
 * decoded in one batch (n_ctx = n_batch = NCTX), 2 threads, default context
 * parameters (F16 KV cache), then one token per step. Built against an
 * existing llama.cpp build (its llama.h and libllama); see README.md.
 * usage: llama_ref MODEL PROMPT NSTEPS OUTPREFIX NCTX */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"
int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage\n"); return 2; }
  const char *path = argv[1], *prompt = argv[2], *out = argv[4];
  int nsteps = atoi(argv[3]), nctx = atoi(argv[5]);
  llama_backend_init();
  struct llama_model_params mp = llama_model_default_params();
  struct llama_model *model = llama_model_load_from_file(path, mp);
  if (!model) { fprintf(stderr, "load failed\n"); return 1; }
  const struct llama_vocab *vocab = llama_model_get_vocab(model);
  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = nctx; cp.n_batch = nctx; cp.n_ubatch = nctx; cp.n_threads = 2; cp.n_threads_batch = 2;
  struct llama_context *ctx = llama_init_from_model(model, cp);
  if (!ctx) { fprintf(stderr, "ctx failed\n"); return 1; }
  int nv = llama_vocab_n_tokens(vocab);
  bool add_bos = llama_vocab_get_add_bos(vocab);
  llama_token toks[4096];
  int n = llama_tokenize(vocab, prompt, (int)strlen(prompt), toks, 4096, add_bos, false);
  if (n < 0) { fprintf(stderr, "tokenize failed\n"); return 1; }
  char fn[1024];
  snprintf(fn, sizeof fn, "%s.json", out);
  FILE *f = fopen(fn, "w");
  fprintf(f, "{\n  \"model\": \"%s\",\n  \"add_bos\": %s,\n  \"prompt_tokens\": [", path, add_bos ? "true" : "false");
  for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", toks[i]);
  fprintf(f, "],\n  \"steps\": [\n");
  struct llama_batch b = llama_batch_get_one(toks, n);
  if (llama_decode(ctx, b)) { fprintf(stderr, "decode failed\n"); return 1; }
  float *lg = llama_get_logits_ith(ctx, -1);
  snprintf(fn, sizeof fn, "%s.logits.f32", out);
  FILE *lf = fopen(fn, "wb"); fwrite(lg, sizeof(float), nv, lf); fclose(lf);
  if (n + nsteps > nctx) { fprintf(stderr, "prompt %d + %d steps > context %d\n", n, nsteps, nctx); return 1; }
  for (int s = 0; s < nsteps; s++) {
    lg = llama_get_logits_ith(ctx, -1);
    int best[5]; for (int k = 0; k < 5; k++) best[k] = -1;
    for (int v = 0; v < nv; v++) {
      for (int k = 0; k < 5; k++) {
        if (best[k] < 0 || lg[v] > lg[best[k]]) { for (int m = 4; m > k; m--) best[m] = best[m-1]; best[k] = v; break; }
      }
    }
    fprintf(f, "    {\"token\": %d, \"top5\": [", best[0]);
    for (int k = 0; k < 5; k++) fprintf(f, "%s[%d, %.6f]", k ? ", " : "", best[k], lg[best[k]]);
    fprintf(f, "]}%s\n", s + 1 < nsteps ? "," : "");
    llama_token t = best[0];
      struct llama_batch b1 = llama_batch_get_one(&t, 1);
    if (llama_decode(ctx, b1)) { fprintf(stderr, "decode failed at step %d\n", s); return 1; }
  }
  fprintf(f, "  ],\n  \"n_vocab\": %d\n}\n", nv);
  fclose(f);
  llama_free(ctx); llama_model_free(model);
  return 0;
}
