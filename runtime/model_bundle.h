/* A compiled model opened from a bundle, ready to run: the thin runtime's
 * whole job before the first token. Opening maps the file, checks the
 * container (format version, checksums), reads the plan, checks that this
 * CPU has every feature the CPU code was compiled for, loads the CPU
 * kernels' object code (own ELF loader, no LLVM) and finds every other
 * device's code section, reads the plan and the tokenizer, and points the plan's
 * weights into the mapped weights section (zero-copy). */
#ifndef AZC_RUNTIME_MODEL_BUNDLE_H
#define AZC_RUNTIME_MODEL_BUNDLE_H

#include <pthread.h>
#include <stdbool.h>

#include "runtime/bundle.h"
#include "runtime/bundle_sections.h"
#include "runtime/chat_info.h"
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
  azc_code_image_t *code; /* the CPU kernels (NULL when the plan has none) */
  azk_fn_t *kernels;      /* per plan kernel: its function if it runs on the CPU, else NULL */
  /* per device other than the CPU: its code section ("cuda.code"), borrowed */
  const void *device_code[AZC_DEVICE_COUNT];
  uint64_t device_code_size[AZC_DEVICE_COUNT];
  const void **weights; /* per plan weight, into the mapping */
  azc_tokenizer_t *tokenizer;
  azc_chat_info_t *chat; /* the optional "chat" section (Modelfile, template); NULL if none */
  double open_ms, load_code_ms;
  /* the weights section is verified on a thread of its own (see below) */
  pthread_t verifier;
  bool verifier_running;
  azc_status_t verify_status;
} azc_bundle_model_t;

enum {
  /* verify the weights at open, before returning (default: on a background
   * thread, checked by azc_bundle_model_wait_verified) */
  AZC_BUNDLE_MODEL_VERIFY_NOW = 1u << 0,
};

azc_status_t azc_bundle_model_open(const char *path, uint32_t flags, azc_bundle_model_t **out);
void azc_bundle_model_close(azc_bundle_model_t *m);
/* Every section but the weights is verified before open returns. The weights
 * (most of the file) are hashed on a background thread meanwhile, so the
 * first token does not wait for them: nothing the kernels do depends on the
 * weights' values except the numbers they produce, so damaged weights can
 * give wrong output but cannot crash. Call this before trusting results: it
 * waits for the check and returns its status (naming the section). */
azc_status_t azc_bundle_model_wait_verified(azc_bundle_model_t *m);
/* Creates the executor for the model's plan (runtime/exec_factory.h picks it
 * by the devices the plan uses; borrows m). */
azc_status_t azc_bundle_model_executor(const azc_bundle_model_t *m,
                                       const azc_executor_params_t *params, azc_executor_t **out);

#endif
