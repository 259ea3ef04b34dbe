/* A compiled model opened from a bundle, ready to run: the thin runtime's
 * whole job before the first token. Opening maps the file, checks the
 * container (format version, checksums), checks that this CPU has every
 * feature the code was compiled for, loads the kernels' object code (own ELF
 * loader, no LLVM), reads the plan and the tokenizer, and points the plan's
 * weights into the mapped weights section (zero-copy). */
#ifndef AZC_RUNTIME_MODEL_BUNDLE_H
#define AZC_RUNTIME_MODEL_BUNDLE_H

#include "runtime/bundle.h"
#include "runtime/bundle_sections.h"
#include "runtime/elf_loader.h"
#include "runtime/executor.h"
#include "runtime/plan.h"
#include "runtime/tokenizer.h"

typedef struct azc_bundle_model {
  azc_bundle_t *bundle;
  azc_bundle_meta_t meta;
  azc_bundle_cpu_target_t target;
  azc_bundle_defaults_t defaults;
  azc_plan_t *plan;
  azc_code_image_t *code;
  azk_fn_t *kernels;    /* per plan kernel */
  const void **weights; /* per plan weight, into the mapping */
  azc_tokenizer_t *tokenizer;
  double open_ms, verify_ms, load_code_ms;
} azc_bundle_model_t;

enum {
  /* hash the weights section only when first used (it is used at open, so
   * this only moves the cost); without it the whole file is hashed at open */
  AZC_BUNDLE_MODEL_NO_VERIFY_WEIGHTS = 1u << 0,
};

azc_status_t azc_bundle_model_open(const char *path, uint32_t flags, azc_bundle_model_t **out);
void azc_bundle_model_close(azc_bundle_model_t *m);
/* Creates a compiled executor for the model (borrows m). */
azc_status_t azc_bundle_model_executor(const azc_bundle_model_t *m,
                                       const azc_executor_params_t *params, azc_executor_t **out);

#endif
