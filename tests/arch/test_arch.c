/* Every architecture of the decoder table against llama.cpp: for each
 * reference in tests/arch/data (<shape>.<type>.json + .logits.f32, made by
 * the commands in tests/arch/data/README.md), the model is rebuilt here
 * exactly as it was for llama.cpp (azc_synth_write of the tiny-<arch> shape
 * in F32, then azc_quantize_file to F16, Q8_0 or Q4_K_M) and checked with
 * the golden rules (tests/golden/golden.c): prompt ids, logits at the last
 * prompt position, greedy tokens. Built twice: eager (the interpreter) and,
 * with AZC_ARCH_COMPILED, the compiled path. The prompts are 63-66 tokens,
 * longer than the 16-position sliding windows of the Gemma shapes.
 *
 * AZC_ARCH_ONLY=substring limits the run to matching references. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/quantize.h"
#include "frontend/synth.h"
#include "ir/interp.h"
#include "tests/golden/golden.h"
#include "tests/test.h"
#ifdef AZC_ARCH_COMPILED
#include "tests/codegen/compiled.h"
#endif

#ifdef AZC_ARCH_COMPILED
static azc_status_t make_exec(const char *path, azc_model_t *m, const azc_executor_params_t *p,
                              azc_executor_t **out, void **state) {
  (void)path;
  azc_compile_options_t o = azc_compile_options_default();
  o.n_batch = 128; /* the whole prompt in one prefill, as llama.cpp ran it */
  o.n_ctx = p->n_ctx;
  compiled_model_t *c;
  AZC_RETURN_IF_ERROR(compiled_model_create(m, &o, &c));
  azc_status_t st = compiled_model_executor(c, p, out);
  if (st) {
    compiled_model_free(c);
    return st;
  }
  *state = c;
  return NULL;
}
static void free_state(void *s) { compiled_model_free(s); }
#else
static azc_status_t make_exec(const char *path, azc_model_t *m, const azc_executor_params_t *p,
                              azc_executor_t **out, void **state) {
  (void)path;
  azc_ir_graph_t *g;
  AZC_RETURN_IF_ERROR(azc_model_lower(m, &g));
  azc_status_t st = azc_ir_interp_create(g, p, out);
  if (st) {
    azc_ir_graph_destroy(g);
    return st;
  }
  *state = g;
  return NULL;
}
static void free_state(void *g) { azc_ir_graph_destroy(g); }
#endif

/* "<shape>.<TYPE>.json" -> the model file, made as the references' README says */
static azc_status_t make_model(const char *json_name, char *model, size_t cap) {
  char shape[64], type[16];
  const char *dot = strchr(json_name, '.'), *dot2 = dot ? strchr(dot + 1, '.') : NULL;
  if (!dot || !dot2 || dot - json_name >= (long)sizeof(shape) ||
      dot2 - dot - 1 >= (long)sizeof(type))
    return AZC_ERR(AZC_INVALID_ARGUMENT, "%s: not <shape>.<type>.json", json_name);
  snprintf(shape, sizeof(shape), "%.*s", (int)(dot - json_name), json_name);
  snprintf(type, sizeof(type), "%.*s", (int)(dot2 - dot - 1), dot + 1);
  char f32[1024];
  snprintf(f32, sizeof(f32), "%s/%s.F32.gguf", test_tmp_dir(), shape);
  snprintf(model, cap, "%s/%s.%s.gguf", test_tmp_dir(), shape, type);
  static char last_shape[64]; /* the references come sorted: one F32 model per shape */
  if (strcmp(last_shape, shape)) {
    azc_synth_params_t p;
    AZC_RETURN_IF_ERROR(azc_synth_preset(shape, &p));
    AZC_RETURN_IF_ERROR(azc_synth_write(&p, f32, NULL, NULL));
    snprintf(last_shape, sizeof(last_shape), "%s", shape);
  }
  int ft = azc_ftype_from_name(type);
  if (ft < 0) return AZC_ERR(AZC_INVALID_ARGUMENT, "%s: unknown type %s", json_name, type);
  azc_quantize_stats_t qs;
  return azc_quantize_file(f32, model, (azc_ftype_t)ft, 2, NULL, NULL, &qs);
}

int main(void) {
  const char *only = getenv("AZC_ARCH_ONLY");
  DIR *d = opendir(AZC_ARCH_DATA);
  if (!d) {
    fprintf(stderr, "FAIL: cannot open %s\n", AZC_ARCH_DATA);
    return 1;
  }
  char *names[64];
  int n = 0, failed = 0, passed = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64) {
    size_t len = strlen(e->d_name);
    if (len > 5 && !strcmp(e->d_name + len - 5, ".json") && (!only || strstr(e->d_name, only)))
      names[n++] = strdup(e->d_name);
  }
  closedir(d);
  for (int i = 0; i < n; i++) /* a stable order */
    for (int j = i + 1; j < n; j++)
      if (strcmp(names[j], names[i]) < 0) {
        char *t = names[i];
        names[i] = names[j];
        names[j] = t;
      }
  for (int i = 0; i < n; i++) {
    char json[1024], logits[1024], model[1024];
    snprintf(json, sizeof(json), "%s/%s", AZC_ARCH_DATA, names[i]);
    snprintf(logits, sizeof(logits), "%s/%.*s.logits.f32", AZC_ARCH_DATA,
             (int)(strlen(names[i]) - 5), names[i]);
    azc_status_t st = make_model(names[i], model, sizeof(model));
    int rc = 1;
    if (st) {
      fprintf(stderr, "%s: %s\n", names[i], azc_status_message(st));
      azc_status_free(st);
    } else {
      rc = golden_check_paths(names[i], json, model, logits, make_exec, free_state);
    }
    if (rc)
      failed++, fprintf(stderr, "FAIL %s\n", names[i]);
    else
      passed++, fprintf(stderr, "ok   %s\n", names[i]);
    free(names[i]);
  }
  fprintf(stderr, "%d passed, %d failed\n", passed, failed);
  return failed || !passed ? 1 : 0;
}
