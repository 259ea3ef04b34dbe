/* Golden checks against llama.cpp's outputs in ../shared/golden (see
 * DESIGN.md, "Correctness references"), shared by the eager and compiled
 * test executables: each provides a way to make an executor for a model. */
#ifndef AZC_TESTS_GOLDEN_H
#define AZC_TESTS_GOLDEN_H

#include "frontend/model.h"
#include "runtime/executor.h"

typedef azc_status_t (*golden_make_executor_fn)(const char *model_path, azc_model_t *model,
                                                const azc_executor_params_t *params,
                                                azc_executor_t **out, void **state);
typedef void (*golden_free_state_fn)(void *state);

/* Checks one golden JSON file; returns 0 on success, 1 on failure, 77 when
 * ../shared is absent. Prints what it compared. */
int golden_check(const char *json_name, golden_make_executor_fn make,
                 golden_free_state_fn free_state);

/* The same check with explicit files: the reference JSON, the model (NULL:
 * ../shared/models/<its "model">) and the logits (NULL: ../shared/golden). */
int golden_check_paths(const char *json_name, const char *json_path, const char *model_path,
                       const char *logits_path, golden_make_executor_fn make,
                       golden_free_state_fn free_state);

/* Runs golden_check on every .json file in ../shared/golden, printing a line per
 * file; returns the test's exit code (77: skipped, ../shared absent). */
int golden_run_all(golden_make_executor_fn make, golden_free_state_fn free_state);

#endif
