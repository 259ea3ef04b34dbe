/* Test helper: compile a GGUF model in-process (passes, kernels through the
 * cache, code loaded with the runtime's ELF loader) and make a compiled
 * executor for it, as `azc run model.gguf` does. */
#ifndef AZC_TESTS_CODEGEN_COMPILED_H
#define AZC_TESTS_CODEGEN_COMPILED_H

#include "driver/compile.h"
#include "frontend/model.h"
#include "runtime/elf_loader.h"
#include "runtime/executor.h"

typedef struct compiled_model {
  azc_ir_graph_t *graph;
  azc_compiled_t *compiled;
  azc_code_image_t *code;
  azk_fn_t *kernels;
} compiled_model_t;

azc_status_t compiled_model_create(azc_model_t *m, const azc_compile_options_t *opt,
                                   compiled_model_t **out);
azc_status_t compiled_model_executor(compiled_model_t *c, const azc_executor_params_t *p,
                                     azc_executor_t **out);
void compiled_model_free(compiled_model_t *c);

#endif
