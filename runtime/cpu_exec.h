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

/* For the executor of another device that runs a plan's CPU steps (partial
 * offload): an executor over the whole plan that skips the steps of other
 * devices. azc_cpu_exec_run_steps runs the CPU kernel steps among [first,
 * last) for a batch the caller has checked (runtime/executor.c); the arena
 * is the host arena the copy steps move values into and out of. */
azc_status_t azc_cpu_exec_create_part(const azc_plan_t *plan, const azk_fn_t *kernels,
                                      const void *const *weights,
                                      const azc_executor_params_t *params, azc_executor_t **out);
void azc_cpu_exec_run_steps(azc_executor_t *ex, const azc_batch_t *b, int32_t first, int32_t last);
uint8_t *azc_cpu_exec_arena(azc_executor_t *ex);

#endif
