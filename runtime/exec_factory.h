/* The executor factory: a compiled plan in, the executor that runs it out.
 *
 * The plan says which device each step runs on (runtime/plan.h). The
 * factory looks at the devices a plan uses and picks the executor for them:
 * a plan that runs only on the CPU gets the CPU executor (runtime/cpu_exec);
 * a plan with steps on another device gets that device's executor, which
 * also runs the plan's CPU steps (partial offload) and its copy steps. A
 * device no executor is built in for is refused by name. The callers
 * (runtime/model_bundle.c for bundles, in-process compiles in cli/ and
 * tests/) hand over what each device needs: the loaded CPU kernel
 * functions, and for other devices their bundle code section as it is. */
#ifndef AZC_RUNTIME_EXEC_FACTORY_H
#define AZC_RUNTIME_EXEC_FACTORY_H

#include <stddef.h>

#include "runtime/elf_loader.h"
#include "runtime/executor.h"
#include "runtime/kernel_abi.h"
#include "runtime/plan.h"

/* Borrowed; must outlive the executor. */
typedef struct azc_plan_code {
  const azc_plan_t *plan;
  const void *const *weights;  /* per plan weight: its bytes in host memory */
  const azk_fn_t *cpu_kernels; /* per plan kernel: the function of a CPU kernel, else NULL */
  /* per device other than the CPU: its code (the "<back end>.code" section) */
  const void *code[AZC_DEVICE_COUNT];
  size_t code_size[AZC_DEVICE_COUNT];
} azc_plan_code_t;

azc_status_t azc_executor_create_for_plan(const azc_plan_code_t *code,
                                          const azc_executor_params_t *params,
                                          azc_executor_t **out);

/* Loads the CPU kernels of a plan: objects[k] is the ELF object of plan
 * kernel k when that kernel runs on the CPU (NULL otherwise). Gives an image
 * to free with azc_code_image_free and a table (per plan kernel, NULL for
 * kernels of other devices) to free(). */
azc_status_t azc_cpu_kernels_load(const azc_plan_t *plan, const void *const *objects,
                                  const size_t *sizes, azc_code_image_t **image,
                                  azk_fn_t **kernels);

#endif
