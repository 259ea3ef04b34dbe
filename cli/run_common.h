/* The run command's parts that need no compiler: options, bundle loading,
 * the generate call, streaming, JSON, timings (with the peak RSS). `azc run`
 * adds GGUF models (compiled in-process or eager); `azc-run`, the thin
 * runtime's own command, runs bundles with these parts alone and links no
 * compiler (so `azc run MODEL.bundle` hands over to it when it is installed
 * next to azc, and its memory holds no LLVM). */
#ifndef AZC_CLI_RUN_COMMON_H
#define AZC_CLI_RUN_COMMON_H

#include <stdbool.h>
#include <stdio.h>

#include "runtime/bundle_sections.h"
#include "runtime/chat_info.h"
#include "runtime/executor.h"
#include "runtime/generate.h"
#include "runtime/model_options.h"

/* options given on the command line (run_opts_t.set) */
enum {
  RUN_SET_N = 1 << 0,
  RUN_SET_TEMP = 1 << 1,
  RUN_SET_TOP_K = 1 << 2,
  RUN_SET_TOP_P = 1 << 3,
  RUN_SET_MIN_P = 1 << 4,
  RUN_SET_PENALTY = 1 << 5,
  RUN_SET_LAST_N = 1 << 6,
  RUN_SET_SEED = 1 << 7,
  RUN_SET_THREADS = 1 << 8,
  RUN_SET_CTX = 1 << 9,
};

typedef struct run_opts {
  const char *model, *prompt, *prompt_file, *logits_out;
  char *model_path; /* a store model's bundle (model points here), or NULL */
  const char *draft; /* --draft: "lookup" or a draft model (GGUF, bundle, store name); or NULL */
  azc_generate_params_t gen;
  azc_executor_params_t exec;
  bool eager, json, no_cache, batch, no_draft;
  bool chat;    /* --chat: the prompt is one user message, rendered with the template */
  unsigned set; /* options given on the command line (RUN_SET_*) */
} run_opts_t;

/* What loading a model yields: an executor and a tokenizer, and an owner
 * that frees whatever the loader made (after the executor is destroyed). */
typedef struct run_model {
  azc_executor_t *exec;
  const azc_tokenizer_t *tok;
  const azc_chat_info_t *chat;           /* the model's chat data (NULL: none) */
  const azc_bundle_defaults_t *defaults; /* a bundle's stored defaults (NULL for a GGUF) */
  const char *default_draft;             /* a bundle's draft model (a Modelfile's DRAFT) or NULL */
  const char *mode;
  void *owner;
  void (*free_owner)(void *owner);
  /* checks still running when loading returned (bundle weights); may be NULL */
  azc_status_t (*check)(void *owner);
} run_model_t;

typedef azc_status_t (*run_loader_fn_t)(run_opts_t *o, run_model_t *m);

/* A drafter for speculative decoding, and the draft model it runs (if any). */
typedef struct run_draft {
  azc_drafter_t *drafter;
  run_model_t model; /* a draft model's executor, or empty for lookup */
  char *path;        /* a store name's bundle for the draft model */
} run_draft_t;
/* o->draft: the lookup drafter ("lookup"), or a draft model loaded as the
 * model m was (bundles here, other files through load_other), with the same
 * context, sequences and threads, and checked to have m's vocabulary. */
azc_status_t run_load_drafter(run_opts_t *o, const run_model_t *m, run_loader_fn_t load_other,
                              run_draft_t *out);
void run_draft_free(run_draft_t *d);
/* The drafter to use: --draft, else the bundle's draft model (a Modelfile's
 * DRAFT) unless --no-draft; a GGUF draft needs can_compile (azc, not azc-run:
 * without it a note says it is skipped). */
const char *run_default_draft(const run_opts_t *o, const run_model_t *m, bool can_compile);

bool run_is_bundle(const char *path);
/* A MODEL that is not a file is a store name: o->model then points to its
 * bundle, whose path is *path (malloc'd; NULL when MODEL is a file). */
azc_status_t run_resolve_model(run_opts_t *o, char **path);
azc_status_t run_load_bundle(run_opts_t *o, run_model_t *m);
/* The whole command: parse, load (bundles here; other files through
 * load_other, NULL when only bundles are allowed), generate, print. */
int run_main(int argc, char **argv, const char *prog, run_loader_fn_t load_other);
/* A GGUF compiled in-process (cmd_run.c; azc only, not azc-run). */
azc_status_t run_load_gguf(run_opts_t *o, run_model_t *m);
/* The model's stored options for a chat (defaults record and chat section);
 * num_predict is -1 (the end of the turn) unless a PARAMETER set it. */
azc_status_t run_chat_options(const run_model_t *m, azc_options_t *out);
/* VmHWM of this process in MiB (0 if unknown) */
double run_peak_rss_mib(void);

#endif
