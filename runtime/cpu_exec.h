/* The compiled executor: runs a plan with loaded kernel code. It implements
 * the executor interface (runtime/executor.h) next to the eager interpreter.
 * The plan, the kernel functions and the weight pointers are borrowed (from a
 * bundle mapping, or from an in-process compile of a GGUF file) and must
 * outlive the executor; it owns its arena, scratch, KV cache and threads. */
#ifndef AZC_RUNTIME_CPU_EXEC_H
#define AZC_RUNTIME_CPU_EXEC_H

#include "runtime/executor.h"
#include "runtime/kernel_abi.h"
#include "runtime/plan.h"

/* kernels[i] is plan->kernels[i]'s function; weights[i] plan->weights[i]'s data.
 * Every step must be a CPU kernel step (runtime/exec_factory.h picks the
 * executor for plans that use other devices). */
azc_status_t azc_cpu_exec_create(const azc_plan_t *plan, const azk_fn_t *kernels,
                                 const void *const *weights, const azc_executor_params_t *params,
                                 azc_executor_t **out);

#endif
