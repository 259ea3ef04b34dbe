/* azc run MODEL (-p TEXT | -f FILE) [options]: generate text.
 *
 * MODEL is a bundle (made by azc compile: the thin runtime opens it, checks
 * it and runs its compiled code; the bundle's stored defaults apply unless a
 * flag overrides them) or a GGUF file: then azc compiles it in-process
 * through the kernel cache and runs the compiled code, as torch.compile does
 * on its first call; --eager (or an azc built without LLVM, which has no
 * CPU code generator) runs the IR interpreter instead. For a bundle,
 * azc hands over to azc-run (the runtime-only command) when it sits next to
 * azc, so the run carries no compiler in memory. Options, streaming, JSON and
 * timings are in run_common.c. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_common.h"
#include "codegen/backend.h"
#include "driver/compile.h"
#include "frontend/model.h"
#include "ir/interp.h"
#include "runtime/base/util.h"
#include "runtime/elf_loader.h"
#include "runtime/exec_factory.h"

static void on_kernel(void *user, int done, int total, bool hit, double ms, const char *desc) {
  (void)user;
  if (!hit) fprintf(stderr, "azc: compiled kernel %d/%d in %.0f ms: %s\n", done, total, ms, desc);
}

typedef struct gguf_state {
  azc_model_t *model;
  azc_ir_graph_t *graph;
  azc_compiled_t *compiled;
  azc_code_image_t *code;
  azk_fn_t *kernels;
  azc_tokenizer_t *tok;
  azc_chat_info_t *chat;
} gguf_state_t;

static void free_gguf(void *owner) {
  gguf_state_t *s = owner;
  free(s->kernels);
  azc_code_image_free(s->code);
  azc_compiled_free(s->compiled);
  azc_ir_graph_destroy(s->graph);
  azc_tokenizer_destroy(s->tok);
  azc_chat_info_destroy(s->chat);
  azc_model_close(s->model);
  free(s);
}

azc_status_t run_load_gguf(run_opts_t *o, run_model_t *rm) {
  gguf_state_t *s = calloc(1, sizeof(*s));
  if (!s) return AZC_ERR(AZC_OUT_OF_MEMORY, "run");
  rm->owner = s;
  rm->free_owner = free_gguf;
  const char **mode = &rm->mode;
  AZC_RETURN_IF_ERROR(azc_model_open(o->model, &s->model));
  const azc_hparams_t *hp = &s->model->hp;
  if (!s->model->tok.n_vocab)
    return AZC_ERR(AZC_UNSUPPORTED, "%s: the file has no tokenizer (tokenizer.ggml.* keys)",
                   o->model);
  AZC_RETURN_IF_ERROR_CTX(azc_tokenizer_create(&s->model->tok, &s->tok), "%s: tokenizer", o->model);
  rm->tok = s->tok;
  if (!(s->chat = azc_chat_info_create())) return AZC_ERR(AZC_OUT_OF_MEMORY, "chat info");
  AZC_RETURN_IF_ERROR(azc_chat_info_set_gguf_template(s->chat, s->model->chat_template.data,
                                                      s->model->chat_template.size, s->tok));
  rm->chat = s->chat;
  AZC_RETURN_IF_ERROR(azc_model_lower(s->model, &s->graph));
  const azc_ir_graph_t *lg = s->graph;
  if (o->exec.n_ctx <= 0)
    o->exec.n_ctx = (int32_t)AZC_MIN(lg->max_ctx ? lg->max_ctx : hp->n_ctx_train, 4096);
  if (lg->max_ctx && o->exec.n_ctx > lg->max_ctx)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "%s: context %d exceeds %lld positions (%s)", o->model,
                   o->exec.n_ctx, (long long)lg->max_ctx, lg->max_ctx_reason);
  o->exec.n_batch = AZC_MIN(o->exec.n_batch, o->exec.n_ctx);
  if (!o->eager && !azc_codegen_backend_cpu()) {
    fprintf(stderr, "azc: this azc has no CPU code generator (configured with "
                    "-DAZC_WITH_LLVM=OFF): running %s on the eager interpreter\n",
            o->model);
    o->eager = true;
  }
  if (o->eager) {
    *mode = "eager";
    return azc_ir_interp_create(s->graph, &o->exec, &rm->exec);
  }
  azc_compile_options_t co = azc_compile_options_default();
  co.n_batch = o->exec.n_batch;
  co.n_ctx = o->exec.n_ctx;
  co.use_cache = !o->no_cache;
  co.progress = on_kernel;
  AZC_RETURN_IF_ERROR(azc_compile_graph(s->graph, hp->n_vocab, hp->n_ctx_train, &co, &s->compiled));
  const azc_plan_t *p = s->compiled->plan;
  AZC_RETURN_IF_ERROR(azc_cpu_kernels_load(p, (const void *const *)s->compiled->objects,
                                           s->compiled->object_sizes, &s->code, &s->kernels));
  const azc_compile_stats_t *cs = &s->compiled->stats;
  fprintf(stderr, "azc: compiled %d kernels (%d from the cache) in %.0f ms\n", cs->kernels,
          cs->cache_hits, cs->ms_passes + cs->ms_specs + cs->ms_kernels_wall);
  *mode = "compiled (in-process)";
  if (o->exec.gpu_layers_set && o->exec.n_gpu_layers != 0)
    fprintf(stderr,
            "azc: -ngl: %s is compiled here for the CPU only, so nothing is offloaded; "
            "compile a bundle with GPU code (azc compile MODEL -ngl N) to offload\n",
            o->model);
  azc_plan_code_t code = {
      .plan = p, .weights = s->compiled->weight_data, .cpu_kernels = s->kernels};
  return azc_executor_create_for_plan(&code, &o->exec, &rm->exec);
}

/* argv[0] of azc-run next to this executable, or false */
static bool find_azc_run(char *buf, size_t cap) {
  ssize_t n = readlink("/proc/self/exe", buf, cap - 16);
  if (n <= 0) return false;
  buf[n] = 0;
  char *slash = strrchr(buf, '/');
  if (!slash) return false;
  strcpy(slash + 1, "azc-run");
  return access(buf, X_OK) == 0;
}

int azc_cmd_run(int argc, char **argv) {
  const char *model = NULL;
  for (int i = 1; i < argc && !model; i++) {
    if (argv[i][0] != '-') model = argv[i];
    else if (strcmp(argv[i], "--eager") && strcmp(argv[i], "--json") &&
             strcmp(argv[i], "--batch") && strcmp(argv[i], "--ignore-eos") &&
             strcmp(argv[i], "--no-cache") && strcmp(argv[i], "--chat") &&
             strcmp(argv[i], "--no-draft"))
      i++; /* skip the option's value */
  }
  /* a GGUF draft model needs the compiler: no hand-over then */
  bool gguf_draft = false;
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], "--draft") && strcmp(argv[i + 1], "lookup") && !run_is_bundle(argv[i + 1]))
      gguf_draft = true;
  char exe[4096];
  if (model && run_is_bundle(model) && !gguf_draft && !getenv("AZC_NO_HANDOFF") && find_azc_run(exe, sizeof(exe))) {
    argv[0] = exe;
    execv(exe, argv);
    /* could not exec: run here */
  }
  return run_main(argc, argv, "azc run", run_load_gguf);
}
