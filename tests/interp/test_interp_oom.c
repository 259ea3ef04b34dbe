/* Every allocation failure in the eager interpreter comes back as a status.
 *
 * The test is linked with -Wl,--wrap=malloc: __wrap_malloc fails exactly the
 * k-th allocation after it is armed. For k = 0, 1, 2, ... a prefill forward
 * on tiny-llama runs with the k-th allocation failing (on whichever thread
 * makes it: the matmul workers allocate too) and must return
 * AZC_OUT_OF_MEMORY; once k passes the number of allocations a forward
 * makes, the forward succeeds. After every failure a clean forward gives the
 * same logits as before (nothing half-done sticks), and every buffer is
 * freed (LeakSanitizer in the sanitized build). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/model.h"
#include "frontend/synth.h"
#include "ir/interp.h"
#include "tests/test.h"

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

static atomic_long countdown = -1; /* < 0: disarmed */
static atomic_int injected;

void *__wrap_malloc(size_t size) {
  if (atomic_load(&countdown) >= 0 && atomic_fetch_sub(&countdown, 1) == 0) {
    atomic_store(&injected, 1);
    return NULL;
  }
  return __real_malloc(size);
}

static void test_every_allocation_failure_is_a_status(void) {
  char path[512];
  snprintf(path, sizeof(path), "%s/tiny-llama.gguf", test_tmp_dir());
  azc_synth_params_t sp;
  ASSERT_OK(azc_synth_preset("tiny-llama", &sp));
  ASSERT_OK(azc_synth_write(&sp, path, NULL, NULL));
  azc_model_t *m;
  ASSERT_OK(azc_model_open(path, &m));
  azc_ir_graph_t *g;
  ASSERT_OK(azc_model_lower(m, &g));
  azc_executor_params_t ep = azc_executor_params_default();
  ep.n_ctx = 32;
  ep.n_threads = 2;
  azc_executor_t *ex;
  ASSERT_OK(azc_ir_interp_create(g, &ep, &ex));
  const int V = m->hp.n_vocab;
  int32_t toks[9] = {1, 17, 300, 45, 2, 99, 7, 250, 33}, pos[9], seq[9] = {0}, last = 8;
  for (int i = 0; i < 9; i++) pos[i] = i;
  azc_batch_t b = {9, toks, pos, seq, 1, &last};
  float *ref = malloc((size_t)V * 4), *got = malloc((size_t)V * 4);
  ASSERT_OK(azc_executor_forward(ex, &b, ref));
  int failures = 0;
  for (long k = 0; k < 100000; k++) {
    atomic_store(&injected, 0);
    atomic_store(&countdown, k);
    azc_status_t st = azc_executor_forward(ex, &b, got);
    atomic_store(&countdown, -1);
    if (!atomic_load(&injected)) {
      ASSERT_OK(st);
      break;
    }
    ASSERT_MSG(st != NULL, "allocation %ld failed, yet the forward returned OK", k);
    ASSERT_MSG(azc_status_code(st) == AZC_OUT_OF_MEMORY, "allocation %ld: %s: %s", k,
               azc_code_name(azc_status_code(st)), azc_status_message(st));
    azc_status_free(st);
    failures++;
    memset(got, 0, (size_t)V * 4);
    ASSERT_OK(azc_executor_forward(ex, &b, got));
    ASSERT_MSG(memcmp(got, ref, (size_t)V * 4) == 0, "after failing allocation %ld: logits differ",
               k);
  }
  fprintf(stderr, "     %d allocations failed one at a time, each an out-of-memory status\n",
          failures);
  ASSERT_MSG(failures >= 50, "only %d allocations in a forward: the wrap is not in effect?",
             failures);
  free(ref);
  free(got);
  azc_executor_destroy(ex);
  azc_ir_graph_destroy(g);
  azc_model_close(m);
}

int main(void) {
  RUN(test_every_allocation_failure_is_a_status);
  return test_summary();
}
